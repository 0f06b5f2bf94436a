"""S3 object versioning through boto3: Put/GetBucketVersioning and their
errors, version ids on PutObject, CopyObject, UploadPartCopy and
CompleteMultipartUpload, GET/HEAD/DELETE by versionId, delete markers (404
with x-amz-delete-marker, 405 for a marker named by id), bad and unknown
version ids, DeleteObjects with versions, the Suspended "null" version,
conditional CompleteMultipartUpload, ListObjectVersions (order, IsLatest,
delete markers, prefixes, url encoding, paging over 2,500 versions of one
key with the key and version-id markers), current-only ListObjectsV2 on a
versioned bucket, and that deleting a version frees its chunks.
"""
import hashlib
import os
import re
import urllib.parse
import xml.etree.ElementTree as ET

import botocore

from cairn_test import (Server, bucket_maker, chunk_stats, expect_error, extra_headers, gc_now, raw,
                        run_tests)

MiB = 1 << 20
VID = re.compile(r"^[0-9a-f]{32}$")

new_bucket = bucket_maker("ver", versioning="Enabled")


def body(c, b, key, **kw):
    return c.get_object(Bucket=b, Key=key, **kw)["Body"].read()


def headers_of(exc):
    return exc.response["ResponseMetadata"]["HTTPHeaders"]


def status_of(exc):
    return exc.response["ResponseMetadata"]["HTTPStatusCode"]


NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def list_page(srv, b, **params):
    """One ListObjectVersions page as sent (boto3 splits versions from
    delete markers, losing their order): (entries, root), each entry
    (key, version id, is latest, is delete marker) in document order."""
    q = "&".join("%s=%s" % (k, urllib.parse.quote(v, safe="")) for k, v in sorted(params.items()))
    r = raw(srv, "GET", "/%s?versions%s" % (b, "&" + q if q else ""))
    assert r.status == 200, r
    root = ET.fromstring(r.body)
    out = []
    for e in root:
        if e.tag in (NS + "Version", NS + "DeleteMarker"):
            out.append((e.find(NS + "Key").text, e.find(NS + "VersionId").text,
                        e.find(NS + "IsLatest").text == "true", e.tag == NS + "DeleteMarker"))
    return out, root


def all_versions(srv, b, max_keys=1000, **params):
    """Every entry of ListObjectVersions, paged by hand with the markers as
    the server names them; (entries, pages)."""
    out, pages = [], 0
    params["max-keys"] = str(max_keys)
    while True:
        entries, root = list_page(srv, b, **params)
        pages += 1
        assert len(entries) <= max_keys
        out += entries
        if root.find(NS + "IsTruncated").text != "true":
            return out, pages
        params["key-marker"] = root.find(NS + "NextKeyMarker").text
        nv = root.find(NS + "NextVersionIdMarker")
        assert (nv is None) == (not entries or params["key-marker"] != entries[-1][0]), params
        if nv is not None:
            assert (params["key-marker"], nv.text) == entries[-1][:2]
            params["version-id-marker"] = nv.text
        else:
            params.pop("version-id-marker", None)


def versioning_xml(inner):
    return ('<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">%s'
            '</VersioningConfiguration>' % inner).encode()


# ---------------------------------------------------------------------------

def test_bucket_versioning_config(srv):
    c = srv.client()
    b = new_bucket(c, "cfg", status=None)
    assert "Status" not in c.get_bucket_versioning(Bucket=b)
    for status in ("Enabled", "Suspended", "Enabled", "Suspended"):
        c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": status})
        assert c.get_bucket_versioning(Bucket=b)["Status"] == status
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled",
                                                               "MFADelete": "Disabled"})
    assert c.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    # a never-versioned bucket may go straight to Suspended
    b2 = new_bucket(c, "cfg2", status="Suspended")
    assert c.get_bucket_versioning(Bucket=b2)["Status"] == "Suspended"

    cases = [
        (versioning_xml("<Status>Disabled</Status>"), 400, "MalformedXML"),  # never back to off
        (versioning_xml("<Status>enabled</Status>"), 400, "MalformedXML"),
        (versioning_xml("<Status>Enabled</Status><MfaDelete>disabled</MfaDelete>"), 400,
         "MalformedXML"),
        (versioning_xml("<Status>Enabled</Status><MfaDelete>Enabled</MfaDelete>"), 501,
         "NotImplemented"),
        (versioning_xml(""), 400, "IllegalVersioningConfigurationException"),
        (b"<VersioningConfiguration><Status>Enabled</Status>", 400, "MalformedXML"),
        (b"<Other><Status>Enabled</Status></Other>", 400, "MalformedXML"),
    ]
    for xml, status, code in cases:
        r = raw(srv, "PUT", "/%s?versioning" % b, body=xml)
        assert r.status == status and r.error()["Code"] == code, (xml, r)
    assert c.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    # an empty MfaDelete is no MfaDelete
    r = raw(srv, "PUT", "/%s?versioning" % b,
            body=versioning_xml("<Status>Suspended</Status><MfaDelete></MfaDelete>"))
    assert r.status == 200, r
    assert c.get_bucket_versioning(Bucket=b)["Status"] == "Suspended"
    r = raw(srv, "PUT", "/%s?versioning" % b, body=versioning_xml("<Status>Enabled</Status>"),
            headers={"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="})
    assert r.status == 400 and r.error()["Code"] == "BadDigest", r
    expect_error("NoSuchBucket", c.put_bucket_versioning, Bucket="ver-none",
                 VersioningConfiguration={"Status": "Enabled"})


def test_put_get_head_versions(srv):
    c = srv.client()
    b = new_bucket(c, "rw")
    v1 = c.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
    v2 = c.put_object(Bucket=b, Key="k", Body=b"two")["VersionId"]
    assert VID.match(v1) and VID.match(v2) and v1 != v2, (v1, v2)
    g = c.get_object(Bucket=b, Key="k")
    assert g["VersionId"] == v2 and g["Body"].read() == b"two"
    g = c.get_object(Bucket=b, Key="k", VersionId=v1)
    assert g["VersionId"] == v1 and g["Body"].read() == b"one"
    h = c.head_object(Bucket=b, Key="k", VersionId=v1)
    assert h["VersionId"] == v1 and h["ContentLength"] == 3
    assert c.head_object(Bucket=b, Key="k")["VersionId"] == v2
    # a range of an old version
    assert body(c, b, "k", VersionId=v1, Range="bytes=1-2") == b"ne"
    # a bucket that never had versioning names no versions
    u = new_bucket(c, "plain", status=None)
    r = c.put_object(Bucket=u, Key="k", Body=b"x")
    assert "VersionId" not in r, r
    assert "VersionId" not in c.get_object(Bucket=u, Key="k")
    assert body(c, u, "k", VersionId="null") == b"x"
    d = c.delete_object(Bucket=u, Key="k")
    assert "VersionId" not in d and "DeleteMarker" not in d, d


def test_delete_markers(srv):
    c = srv.client()
    b = new_bucket(c, "dm")
    v1 = c.put_object(Bucket=b, Key="k", Body=b"data")["VersionId"]
    d = c.delete_object(Bucket=b, Key="k")
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert d["DeleteMarker"] is True and VID.match(d["VersionId"]), d
    marker = d["VersionId"]
    assert marker != v1
    # the latest is a marker: 404 NoSuchKey naming the marker
    e = expect_error("NoSuchKey", c.get_object, Bucket=b, Key="k")
    h = headers_of(e)
    assert h.get("x-amz-delete-marker") == "true" and h.get("x-amz-version-id") == marker, h
    e = expect_error("404", c.head_object, Bucket=b, Key="k")
    h = headers_of(e)
    assert h.get("x-amz-delete-marker") == "true" and h.get("x-amz-version-id") == marker, h
    # the marker named by id: 405 with Allow: DELETE
    r = raw(srv, "GET", "/%s/k?versionId=%s" % (b, marker))
    assert r.status == 405 and r.error()["Code"] == "MethodNotAllowed", r
    assert r.headers.get("x-amz-delete-marker") == "true", r.headers
    assert r.headers.get("allow") == "DELETE" and r.headers.get("last-modified"), r.headers
    assert r.headers.get("x-amz-version-id") == marker
    assert r.error().get("ResourceType") == "DeleteMarker", r.error()
    e = expect_error("405", c.head_object, Bucket=b, Key="k", VersionId=marker)
    assert headers_of(e).get("x-amz-delete-marker") == "true"
    # ?acl of a delete marker by id is refused the same way
    r = raw(srv, "GET", "/%s/k?acl&versionId=%s" % (b, marker))
    assert r.status == 405, r
    # the old version is still there
    assert body(c, b, "k", VersionId=v1) == b"data"
    assert "Contents" not in c.list_objects_v2(Bucket=b)
    # another DELETE adds another marker
    d2 = c.delete_object(Bucket=b, Key="k")
    assert d2["DeleteMarker"] is True and d2["VersionId"] != marker
    # deleting a marker by id says so, and names it
    d = c.delete_object(Bucket=b, Key="k", VersionId=d2["VersionId"])
    assert d.get("DeleteMarker") is True and d["VersionId"] == d2["VersionId"], d
    d = c.delete_object(Bucket=b, Key="k", VersionId=marker)
    assert d.get("DeleteMarker") is True and d["VersionId"] == marker, d
    assert body(c, b, "k") == b"data"
    # deleting a real version by id: no marker header, the id echoed
    d = c.delete_object(Bucket=b, Key="k", VersionId=v1)
    assert "DeleteMarker" not in d and d["VersionId"] == v1, d
    expect_error("NoSuchKey", c.get_object, Bucket=b, Key="k")
    expect_error("NoSuchVersion", c.get_object, Bucket=b, Key="k", VersionId=v1)
    # a DELETE of a key that never existed still leaves a marker
    d = c.delete_object(Bucket=b, Key="never")
    assert d["DeleteMarker"] is True and VID.match(d["VersionId"])
    vs, _ = all_versions(srv, b)
    assert vs == [("never", d["VersionId"], True, True)], vs


def test_version_id_errors(srv):
    c = srv.client()
    b = new_bucket(c, "badid")
    c.put_object(Bucket=b, Key="k", Body=b"x")
    for q in ("versionId=nonexistent-version-id-12345", "versionId=", "versionId",
              "versionId=9999999999999999", "versionId=" + "A" * 32):
        for method in ("GET", "DELETE"):
            r = raw(srv, method, "/%s/k?%s" % (b, q))
            assert r.status == 400, (method, q, r)
            e = r.error()
            assert e["Code"] == "InvalidArgument" and e["Message"] == "Invalid version id specified", e
        r = raw(srv, "HEAD", "/%s/k?%s" % (b, q))
        assert r.status == 400, (q, r)
    unknown = "0" * 32
    e = expect_error("NoSuchVersion", c.get_object, Bucket=b, Key="k", VersionId=unknown)
    assert status_of(e) == 404
    expect_error("NoSuchVersion", c.get_object, Bucket=b, Key="absent", VersionId=unknown)
    # no null version exists in a bucket versioned from the start
    expect_error("NoSuchVersion", c.get_object, Bucket=b, Key="k", VersionId="null")
    e = expect_error("404", c.head_object, Bucket=b, Key="k", VersionId=unknown)
    # deleting an unknown version is done (nothing to do), and names it
    d = c.delete_object(Bucket=b, Key="k", VersionId=unknown)
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204 and d["VersionId"] == unknown
    assert body(c, b, "k") == b"x"


def test_suspended_null_version(srv):
    c = srv.client()
    b = new_bucket(c, "susp")
    v1 = c.put_object(Bucket=b, Key="k", Body=b"v1")["VersionId"]
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    r = c.put_object(Bucket=b, Key="k", Body=b"null-1")
    assert r["VersionId"] == "null", r
    r = c.put_object(Bucket=b, Key="k", Body=b"null-2")  # replaces the null version
    assert r["VersionId"] == "null", r
    g = c.get_object(Bucket=b, Key="k")
    assert g["VersionId"] == "null" and g["Body"].read() == b"null-2"
    assert body(c, b, "k", VersionId="null") == b"null-2"
    assert body(c, b, "k", VersionId=v1) == b"v1"
    vs, _ = all_versions(srv, b)
    assert vs == [("k", "null", True, False), ("k", v1, False, False)], vs
    # DELETE while suspended: the null version becomes a null delete marker
    d = c.delete_object(Bucket=b, Key="k")
    assert d["DeleteMarker"] is True and d["VersionId"] == "null", d
    e = expect_error("NoSuchKey", c.get_object, Bucket=b, Key="k")
    assert headers_of(e).get("x-amz-version-id") == "null"
    r = raw(srv, "GET", "/%s/k?versionId=null" % b)
    assert r.status == 405 and r.headers.get("x-amz-delete-marker") == "true", r
    vs, _ = all_versions(srv, b)
    assert vs == [("k", "null", True, True), ("k", v1, False, False)], vs
    # the version made while Enabled keeps its id; removing the marker uncovers it
    d = c.delete_object(Bucket=b, Key="k", VersionId="null")
    assert d.get("DeleteMarker") is True and d["VersionId"] == "null", d
    g = c.get_object(Bucket=b, Key="k")
    assert g["VersionId"] == v1 and g["Body"].read() == b"v1"
    # enabled again: new ids, the null version (none now) is not recreated
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v3 = c.put_object(Bucket=b, Key="k", Body=b"v3")["VersionId"]
    assert VID.match(v3)
    vs, _ = all_versions(srv, b)
    assert [v[1] for v in vs] == [v3, v1], vs


def test_copy_versions(srv):
    c = srv.client()
    b = new_bucket(c, "cpv")
    plain = new_bucket(c, "cpplain", status=None)
    v1 = c.put_object(Bucket=b, Key="src", Body=b"first")["VersionId"]
    v2 = c.put_object(Bucket=b, Key="src", Body=b"second")["VersionId"]
    r = c.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src", "VersionId": v1})
    assert r["CopySourceVersionId"] == v1 and VID.match(r["VersionId"]), r
    assert body(c, b, "dst") == b"first"
    r = c.copy_object(Bucket=plain, Key="dst", CopySource={"Bucket": b, "Key": "src"})
    assert r["CopySourceVersionId"] == v2 and "VersionId" not in r, r
    assert body(c, plain, "dst") == b"second"
    # restoring an old version onto its own key is a copy onto itself by id
    r = c.copy_object(Bucket=b, Key="src", CopySource={"Bucket": b, "Key": "src", "VersionId": v1})
    assert r["VersionId"] not in (v1, v2)
    assert body(c, b, "src") == b"first"
    # a copy from an unversioned bucket names no source version
    r = c.copy_object(Bucket=b, Key="dst2", CopySource={"Bucket": plain, "Key": "dst"})
    assert "CopySourceVersionId" not in r, r
    # sources that are delete markers or do not exist
    marker = c.delete_object(Bucket=b, Key="src")["VersionId"]
    expect_error("NoSuchKey", c.copy_object, Bucket=b, Key="x", CopySource={"Bucket": b, "Key": "src"})
    e = expect_error("InvalidRequest", c.copy_object, Bucket=b, Key="x",
                     CopySource={"Bucket": b, "Key": "src", "VersionId": marker})
    assert status_of(e) == 400
    expect_error("NoSuchVersion", c.copy_object, Bucket=b, Key="x",
                 CopySource={"Bucket": b, "Key": "src", "VersionId": "f" * 32})
    expect_error("InvalidArgument", c.copy_object, Bucket=b, Key="x",
                 CopySource={"Bucket": b, "Key": "src", "VersionId": "bogus"})
    # the old versions are still copyable
    r = c.copy_object(Bucket=b, Key="x", CopySource={"Bucket": b, "Key": "src", "VersionId": v2})
    assert body(c, b, "x") == b"second"


def test_multipart_versions(srv):
    c = srv.client()
    b = new_bucket(c, "mpv")
    old = os.urandom(6 * MiB)
    v1 = c.put_object(Bucket=b, Key="src", Body=old)["VersionId"]
    c.put_object(Bucket=b, Key="src", Body=b"newer")
    up = c.create_multipart_upload(Bucket=b, Key="big")["UploadId"]
    p1 = c.upload_part_copy(Bucket=b, Key="big", UploadId=up, PartNumber=1,
                            CopySource={"Bucket": b, "Key": "src", "VersionId": v1})
    assert p1["CopySourceVersionId"] == v1, p1
    p2 = c.upload_part(Bucket=b, Key="big", UploadId=up, PartNumber=2, Body=b"tail")
    parts = {"Parts": [{"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
                       {"PartNumber": 2, "ETag": p2["ETag"]}]}
    r = c.complete_multipart_upload(Bucket=b, Key="big", UploadId=up, MultipartUpload=parts)
    assert VID.match(r["VersionId"]), r
    assert c.head_object(Bucket=b, Key="big")["VersionId"] == r["VersionId"]
    got = body(c, b, "big", VersionId=r["VersionId"])
    assert hashlib.md5(got).digest() == hashlib.md5(old + b"tail").digest()
    marker = c.delete_object(Bucket=b, Key="src")["VersionId"]
    up2 = c.create_multipart_upload(Bucket=b, Key="big2")["UploadId"]
    expect_error("InvalidRequest", c.upload_part_copy, Bucket=b, Key="big2", UploadId=up2,
                 PartNumber=1, CopySource={"Bucket": b, "Key": "src", "VersionId": marker})
    c.abort_multipart_upload(Bucket=b, Key="big2", UploadId=up2)
    # suspended: the completed upload is the null version
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    up = c.create_multipart_upload(Bucket=b, Key="big")["UploadId"]
    p = c.upload_part(Bucket=b, Key="big", UploadId=up, PartNumber=1, Body=b"small")
    r = c.complete_multipart_upload(Bucket=b, Key="big", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
    assert r["VersionId"] == "null", r


def _complete(c, b, key, headers):
    up = c.create_multipart_upload(Bucket=b, Key=key)["UploadId"]
    p = c.upload_part(Bucket=b, Key=key, UploadId=up, PartNumber=1, Body=b"part")
    parts = {"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]}
    with extra_headers(c, "CompleteMultipartUpload", headers):
        try:
            return c.complete_multipart_upload(Bucket=b, Key=key, UploadId=up, MultipartUpload=parts)
        finally:
            try:
                c.abort_multipart_upload(Bucket=b, Key=key, UploadId=up)
            except botocore.exceptions.ClientError:
                pass  # completed


def test_complete_multipart_conditions(srv):
    c = srv.client()
    b = new_bucket(c, "mpc")
    etag = c.put_object(Bucket=b, Key="k", Body=b"there")["ETag"]
    e = expect_error("PreconditionFailed", _complete, c, b, "k", {"If-None-Match": "*"})
    assert status_of(e) == 412
    expect_error("PreconditionFailed", _complete, c, b, "k", {"If-Match": '"%s"' % ("0" * 32)})
    expect_error("NoSuchKey", _complete, c, b, "absent", {"If-Match": etag})
    assert body(c, b, "k") == b"there"
    r = _complete(c, b, "k", {"If-Match": etag})
    assert VID.match(r["VersionId"]) and body(c, b, "k") == b"part"
    r = _complete(c, b, "new", {"If-None-Match": "*"})
    assert body(c, b, "new") == b"part"
    # a key whose latest version is a delete marker has no current version
    c.delete_object(Bucket=b, Key="new")
    _complete(c, b, "new", {"If-None-Match": "*"})
    expect_error("NotImplemented", _complete, c, b, "k", {"If-None-Match": '"abc"'})


def test_delete_objects_versions(srv):
    c = srv.client()
    b = new_bucket(c, "dob")
    v1 = c.put_object(Bucket=b, Key="a", Body=b"1")["VersionId"]
    v2 = c.put_object(Bucket=b, Key="a", Body=b"2")["VersionId"]
    c.put_object(Bucket=b, Key="b", Body=b"b")
    marker_c = c.delete_object(Bucket=b, Key="c")["VersionId"]
    r = c.delete_objects(Bucket=b, Delete={"Objects": [
        {"Key": "a", "VersionId": v1},
        {"Key": "a", "VersionId": v1},          # named twice: once
        {"Key": "b"},                           # adds a marker
        {"Key": "b"},                           # once
        {"Key": "c", "VersionId": marker_c},    # removes a marker
        {"Key": "a", "VersionId": "0" * 32},    # unknown: deleted all the same
        {"Key": "a", "VersionId": "bad-id"},
    ]})
    dels = {(d["Key"], d.get("VersionId")): d for d in r["Deleted"]}
    assert len(r["Deleted"]) == 4, r["Deleted"]
    assert "DeleteMarker" not in dels[("a", v1)]
    assert dels[("b", None)]["DeleteMarker"] is True
    assert VID.match(dels[("b", None)]["DeleteMarkerVersionId"])
    assert dels[("c", marker_c)]["DeleteMarker"] is True
    assert dels[("c", marker_c)]["DeleteMarkerVersionId"] == marker_c
    assert ("a", "0" * 32) in dels
    errs = r["Errors"]
    assert len(errs) == 1 and errs[0]["Key"] == "a" and errs[0]["VersionId"] == "bad-id", errs
    assert errs[0]["Code"] == "InvalidArgument", errs
    vs, _ = all_versions(srv, b)
    assert ("a", v2, True, False) in vs and ("a", v1, False, False) not in vs, vs
    assert [v for v in vs if v[0] == "c"] == [], vs
    expect_error("NoSuchKey", c.get_object, Bucket=b, Key="b")
    # suspended: the markers are null
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    r = c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a"}]})
    assert r["Deleted"][0]["DeleteMarker"] is True
    assert r["Deleted"][0]["DeleteMarkerVersionId"] == "null", r["Deleted"]
    # quiet: nothing reported
    r = c.delete_objects(Bucket=b, Delete={"Quiet": True, "Objects": [{"Key": "a", "VersionId": v2}]})
    assert not r.get("Deleted") and not r.get("Errors"), r
    expect_error("NoSuchVersion", c.get_object, Bucket=b, Key="a", VersionId=v2)


def test_list_versions_shape(srv):
    c = srv.client()
    b = new_bucket(c, "lvs")
    va1 = c.put_object(Bucket=b, Key="dir/a", Body=b"a1")["VersionId"]
    va2 = c.put_object(Bucket=b, Key="dir/a", Body=b"a22")["VersionId"]
    mb = c.delete_object(Bucket=b, Key="dir/b")["VersionId"]
    vt = c.put_object(Bucket=b, Key="top", Body=b"t")["VersionId"]
    vs_ = c.put_object(Bucket=b, Key="sp ace+é", Body=b"s")["VersionId"]
    r = c.list_object_versions(Bucket=b)
    assert r["Name"] == b and r["IsTruncated"] is False
    vers = [(v["Key"], v["VersionId"], v["IsLatest"], v["Size"]) for v in r["Versions"]]
    assert vers == [("dir/a", va2, True, 3), ("dir/a", va1, False, 2), ("sp ace+é", vs_, True, 1),
                    ("top", vt, True, 1)], vers
    assert all(v["Owner"]["ID"] and v["StorageClass"] == "STANDARD" and v["ETag"].startswith('"')
               for v in r["Versions"])
    dms = r["DeleteMarkers"]
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in dms] == [("dir/b", mb, True)], dms
    assert dms[0]["Owner"]["ID"]
    # prefix and delimiter
    r = c.list_object_versions(Bucket=b, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/"], r
    assert [v["Key"] for v in r["Versions"]] == ["sp ace+é", "top"]
    assert "DeleteMarkers" not in r
    r = c.list_object_versions(Bucket=b, Prefix="dir/", Delimiter="/")
    assert [v["VersionId"] for v in r["Versions"]] == [va2, va1]
    assert [m["VersionId"] for m in r["DeleteMarkers"]] == [mb]
    # a page that ends on a common prefix names no version marker
    r = c.list_object_versions(Bucket=b, Delimiter="/", MaxKeys=1)
    assert r["IsTruncated"] and r["NextKeyMarker"] == "dir/" and "NextVersionIdMarker" not in r, r
    r = c.list_object_versions(Bucket=b, Delimiter="/", KeyMarker="dir/")
    assert [v["Key"] for v in r["Versions"]] == ["sp ace+é", "top"] and "CommonPrefixes" not in r
    # a page that ends inside a key's versions
    r = c.list_object_versions(Bucket=b, MaxKeys=1)
    assert r["NextKeyMarker"] == "dir/a" and r["NextVersionIdMarker"] == va2, r
    r = c.list_object_versions(Bucket=b, KeyMarker="dir/a", VersionIdMarker=va2, MaxKeys=1)
    assert [v["VersionId"] for v in r["Versions"]] == [va1] and r["KeyMarker"] == "dir/a"
    assert r["VersionIdMarker"] == va2
    # encoding-type=url: keys come encoded (boto3 decodes them back)
    rr = raw(srv, "GET", "/%s?versions&encoding-type=url&prefix=sp" % b)
    assert rr.status == 200 and b"<Key>sp%20ace%2B%C3%A9</Key>" in rr.body, rr
    assert b"<EncodingType>url</EncodingType>" in rr.body
    rr = raw(srv, "GET", "/%s?versions&encoding-type=url&key-marker=%s" % (b, "sp%20ace%2B%C3%A9"))
    assert b"<KeyMarker>sp%20ace%2B%C3%A9</KeyMarker>" in rr.body and b"<Key>top</Key>" in rr.body
    # errors
    expect_error("InvalidArgument", c.list_object_versions, Bucket=b, VersionIdMarker=va1)
    expect_error("InvalidArgument", c.list_object_versions, Bucket=b, KeyMarker="dir/a",
                 VersionIdMarker="nope")
    expect_error("InvalidArgument", c.list_object_versions, Bucket=b, EncodingType="gzip")
    expect_error("NoSuchBucket", c.list_object_versions, Bucket="ver-none")
    # an unversioned bucket lists its objects as null versions
    u = new_bucket(c, "lvplain", status=None)
    c.put_object(Bucket=u, Key="x", Body=b"x")
    r = c.list_object_versions(Bucket=u)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in r["Versions"]] == [("x", "null", True)]


def test_list_versions_paging_thousands(srv):
    c = srv.client()
    b = new_bucket(c, "page")
    expected = {}  # key -> [(version id, is marker)], newest first
    def put(key, data):
        vid = c.put_object(Bucket=b, Key=key, Body=data)["VersionId"]
        expected.setdefault(key, []).insert(0, (vid, False))
    def delete(key):
        vid = c.delete_object(Bucket=b, Key=key)["VersionId"]
        expected.setdefault(key, []).insert(0, (vid, True))
    for k in ("a", "b/1", "m", "z"):
        put(k, k.encode())
    for i in range(2500):
        if i % 250 == 125:
            delete("many")
        else:
            put("many", b"%d" % i)
        if i % 500 == 0:
            put("m", b"m%d" % i)
            delete("z")
    want = [(k, vid, n == 0, m) for k in sorted(expected) for n, (vid, m) in
            enumerate(expected[k])]
    assert len(want) == 4 + 2500 + 10, len(want)
    for max_keys in (7, 1000):
        got, pages = all_versions(srv, b, max_keys=max_keys)
        assert got == want, (max_keys, [g for g, w in zip(got, want) if g != w][:3])
        assert pages == -(-len(want) // max_keys), pages
    # from the middle of the many versions of one key, with boto3
    i = [n for n, w in enumerate(want) if w[0] == "many"][1234]
    r = c.list_object_versions(Bucket=b, KeyMarker="many", VersionIdMarker=want[i][1], MaxKeys=5)
    page = sorted([(v["Key"], v["VersionId"]) for v in r.get("Versions", [])] +
                  [(m["Key"], m["VersionId"]) for m in r.get("DeleteMarkers", [])])
    assert page == sorted(w[:2] for w in want[i + 1:i + 6]), page
    assert r["NextVersionIdMarker"] == want[i + 5][1]
    # boto3's own paginator follows the markers too
    seen = 0
    for page in c.get_paginator("list_object_versions").paginate(Bucket=b, PaginationConfig={"PageSize": 300}):
        seen += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
    assert seen == len(want)
    # the current-only listing shows each live key once
    r = c.list_objects_v2(Bucket=b)
    assert [o["Key"] for o in r["Contents"]] == ["a", "b/1", "m", "many"], r["Contents"]
    assert body(c, b, "many") == b"2499"


def test_delete_version_frees_chunks(srv):
    c = srv.client()
    b = new_bucket(c, "free")
    data = os.urandom(3 * MiB)
    gc_now(srv)
    chunks0, _ = chunk_stats(srv)
    v1 = c.put_object(Bucket=b, Key="big", Body=data)["VersionId"]
    chunks1, unref1 = chunk_stats(srv)
    assert chunks1 > chunks0 and unref1 == 0, (chunks0, chunks1, unref1)
    # an overwrite and a delete marker keep the old version's chunks
    c.put_object(Bucket=b, Key="big", Body=b"small")
    marker = c.delete_object(Bucket=b, Key="big")["VersionId"]
    gc_now(srv)
    assert chunk_stats(srv) == (chunks1, 0)
    assert hashlib.sha256(body(c, b, "big", VersionId=v1)).digest() == hashlib.sha256(data).digest()
    # deleting the version drops its references; the collector removes them
    c.delete_object(Bucket=b, Key="big", VersionId=v1)
    chunks2, unref2 = chunk_stats(srv)
    assert chunks2 == chunks1 and unref2 == chunks1 - chunks0, (chunks1, chunks2, unref2)
    gc_now(srv)
    assert chunk_stats(srv) == (chunks0, 0)
    c.delete_object(Bucket=b, Key="big", VersionId=marker)
    assert body(c, b, "big") == b"small"


def test_versioned_bucket_delete(srv):
    c = srv.client()
    b = new_bucket(c, "bdel")
    c.put_object(Bucket=b, Key="k", Body=b"x")
    c.delete_object(Bucket=b, Key="k")
    # versions and markers keep the bucket from being deleted
    expect_error("BucketNotEmpty", c.delete_bucket, Bucket=b)
    vs, _ = all_versions(srv, b)
    for k, vid, _, _ in vs:
        c.delete_object(Bucket=b, Key=k, VersionId=vid)
    c.delete_bucket(Bucket=b)


if __name__ == "__main__":
    run_tests(globals(), setup=Server)
