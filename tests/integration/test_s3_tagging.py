"""Object and bucket tags through boto3 and raw requests: Put/Get/Delete
ObjectTagging and BucketTagging round trips (order, unicode, empty values),
x-amz-tagging on PutObject, CopyObject (x-amz-tagging-directive COPY and
REPLACE) and CreateMultipartUpload, PostObject's tagging field,
x-amz-tagging-count on GET and HEAD, a new PUT replacing the tags, a tag
update leaving ETag, Last-Modified and content alone, concurrent updates,
and every limit and error with S3's code and message (tag count, key and
value length in characters, allowed characters, duplicate keys, "aws:"
keys, bad XML, bad x-amz-tagging, Content-MD5).
"""
import base64
import hashlib
import json
import os
import threading
import time

import urllib3

from cairn_test import Server, bucket_maker, expect_error, raw, run_tests

new_bucket = bucket_maker("tag")


def tagset(pairs):
    return {"TagSet": [{"Key": k, "Value": v} for k, v in pairs]}


def pairs_of(resp):
    return [(t["Key"], t["Value"]) for t in resp["TagSet"]]


def get_tags(c, b, k, **kw):
    return pairs_of(c.get_object_tagging(Bucket=b, Key=k, **kw))


def headers_of(resp):
    return resp["ResponseMetadata"]["HTTPHeaders"]


def tagging_xml(pairs):
    def esc(s):
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    tags = "".join("<Tag><Key>%s</Key><Value>%s</Value></Tag>" % (esc(k), esc(v)) for k, v in pairs)
    return ('<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>%s</TagSet></Tagging>'
            % tags).encode()


def check_error(r, status, code, message=None):
    assert r.status == status, r
    e = r.error()
    assert e["Code"] == code, e
    if message is not None:
        assert e["Message"] == message, e
    return e


MSG_HEADER = ("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
              "parameters without tag name duplicates.")


# ---------------------------------------------------------------------------

def test_object_tagging_round_trip(srv):
    c = srv.client()
    b = new_bucket(c, "rt")
    c.put_object(Bucket=b, Key="obj", Body=b"hello", ContentType="text/x-tagged",
                 Metadata={"color": "blue"})
    r = c.get_object_tagging(Bucket=b, Key="obj")
    assert r["TagSet"] == [] and "VersionId" not in r, r
    assert "x-amz-tagging-count" not in headers_of(c.head_object(Bucket=b, Key="obj"))
    # order kept, unicode keys and values, an empty value
    tags = [("zeta", "last letter"), ("alpha", "1"), ("ünïcödé", "値 ключ"), ("empty", "")]
    r = c.put_object_tagging(Bucket=b, Key="obj", Tagging=tagset(tags))
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200 and "VersionId" not in r, r
    assert get_tags(c, b, "obj") == tags
    g = c.get_object(Bucket=b, Key="obj")
    assert g["Body"].read() == b"hello"
    assert g.get("TagCount") == 4, g.get("TagCount")
    h = c.head_object(Bucket=b, Key="obj")
    assert headers_of(h).get("x-amz-tagging-count") == "4", headers_of(h)
    # the stored tags are cairn's own: never sent as headers; other headers kept
    assert not [n for n in headers_of(h) if n.startswith("x-cairn")], headers_of(h)
    assert h["ContentType"] == "text/x-tagged" and h["Metadata"] == {"color": "blue"}, h
    # a new set replaces the old one whole
    c.put_object_tagging(Bucket=b, Key="obj", Tagging=tagset([("only", "one")]))
    assert get_tags(c, b, "obj") == [("only", "one")]
    assert headers_of(c.head_object(Bucket=b, Key="obj")).get("x-amz-tagging-count") == "1"
    # versionId=null names the one version of an unversioned object
    assert get_tags(c, b, "obj", VersionId="null") == [("only", "one")]
    c.put_object_tagging(Bucket=b, Key="obj", VersionId="null", Tagging=tagset([("v", "null")]))
    assert get_tags(c, b, "obj") == [("v", "null")]
    # delete: 204, then an empty set and no count
    r = c.delete_object_tagging(Bucket=b, Key="obj")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204, r
    assert get_tags(c, b, "obj") == []
    g = c.get_object(Bucket=b, Key="obj")
    assert "x-amz-tagging-count" not in headers_of(g) and g["Body"].read() == b"hello"
    # deleting again, and putting an empty set, are fine
    c.delete_object_tagging(Bucket=b, Key="obj")
    c.put_object_tagging(Bucket=b, Key="obj", Tagging=tagset([]))
    assert get_tags(c, b, "obj") == []
    h = c.head_object(Bucket=b, Key="obj")
    assert h["ContentType"] == "text/x-tagged" and h["Metadata"] == {"color": "blue"}, h


def test_versions(srv):
    """?versionId on a versioned bucket (one made with object lock, which
    turns versioning on): each version has its own tags."""
    c = srv.client()
    b = new_bucket(c, "ver", ObjectLockEnabledForBucket=True)
    # (the version ids from HEAD: PutObject answers them once versioning is in)
    c.put_object(Bucket=b, Key="k", Body=b"one", Tagging="gen=1")
    v1 = c.head_object(Bucket=b, Key="k")["VersionId"]
    c.put_object(Bucket=b, Key="k", Body=b"two", Tagging="gen=2&extra=x")
    v2 = c.head_object(Bucket=b, Key="k")["VersionId"]
    assert v1 != v2 and "null" not in (v1, v2)
    r = c.get_object_tagging(Bucket=b, Key="k")
    assert pairs_of(r) == [("gen", "2"), ("extra", "x")] and r["VersionId"] == v2, r
    r = c.get_object_tagging(Bucket=b, Key="k", VersionId=v1)
    assert pairs_of(r) == [("gen", "1")] and r["VersionId"] == v1, r
    # tagging an older version leaves the latest alone
    r = c.put_object_tagging(Bucket=b, Key="k", VersionId=v1, Tagging=tagset([("old", "yes")]))
    assert r["VersionId"] == v1, r
    assert get_tags(c, b, "k", VersionId=v1) == [("old", "yes")]
    assert get_tags(c, b, "k") == [("gen", "2"), ("extra", "x")]
    h = c.head_object(Bucket=b, Key="k", VersionId=v1)
    assert headers_of(h).get("x-amz-tagging-count") == "1"
    assert c.get_object(Bucket=b, Key="k", VersionId=v1)["Body"].read() == b"one"
    r = c.delete_object_tagging(Bucket=b, Key="k", VersionId=v2)
    assert r["VersionId"] == v2, r
    assert get_tags(c, b, "k") == [] and get_tags(c, b, "k", VersionId=v1) == [("old", "yes")]
    # the latest version is a delete marker: no current object to tag
    c.delete_object(Bucket=b, Key="k")
    expect_error("NoSuchKey", c.get_object_tagging, Bucket=b, Key="k")
    expect_error("NoSuchKey", c.put_object_tagging, Bucket=b, Key="k", Tagging=tagset([("a", "1")]))
    assert get_tags(c, b, "k", VersionId=v1) == [("old", "yes")]


def test_limits_that_pass(srv):
    c = srv.client()
    b = new_bucket(c, "ok")
    c.put_object(Bucket=b, Key="k", Body=b"x")
    # 10 tags; lengths count characters: 128 four-byte letters, 256 three-byte ones
    tags = [("key-%d" % i, "value-%d" % i) for i in range(7)]
    tags += [("b c+d-e=f.g_h:i/j@k", "2 + 2 = 4"), ("\U0001d49c" * 128, "\u6587" * 256),
             ("k" * 128, "v" * 256)]
    c.put_object_tagging(Bucket=b, Key="k", Tagging=tagset(tags))
    assert get_tags(c, b, "k") == tags
    assert c.get_object(Bucket=b, Key="k")["TagCount"] == 10
    # letters, numbers and spaces of any script
    tags = [("Ελληνικά", "١٢٣ ٤٥٦"), ("日本語", "ひらがな カタカナ"), ("ß\u00a0x", "Ⅻ ½"), ("x", " ")]
    c.put_object_tagging(Bucket=b, Key="k", Tagging=tagset(tags))
    assert get_tags(c, b, "k") == tags


def test_tag_update_keeps_etag_mtime_content(srv):
    c = srv.client()
    b = new_bucket(c, "keep")
    for key, body in [("inline", b"small body"), ("chunked", os.urandom(400 * 1024))]:
        put = c.put_object(Bucket=b, Key=key, Body=body, CacheControl="max-age=5")
        before = c.head_object(Bucket=b, Key=key)
        listed = c.list_objects_v2(Bucket=b, Prefix=key)["Contents"][0]
        time.sleep(1.1)  # a rewritten Last-Modified would show
        c.put_object_tagging(Bucket=b, Key=key, Tagging=tagset([("a", "1"), ("b", "2")]))
        after = c.head_object(Bucket=b, Key=key)
        assert after["ETag"] == before["ETag"] == put["ETag"], (before["ETag"], after["ETag"])
        assert after["LastModified"] == before["LastModified"], (before["LastModified"], after["LastModified"])
        assert after["ContentLength"] == len(body) and after["CacheControl"] == "max-age=5"
        assert c.get_object(Bucket=b, Key=key)["Body"].read() == body, key
        l2 = c.list_objects_v2(Bucket=b, Prefix=key)["Contents"][0]
        assert (l2["ETag"], l2["LastModified"], l2["Size"]) == (listed["ETag"], listed["LastModified"], listed["Size"])
        c.delete_object_tagging(Bucket=b, Key=key)
        again = c.head_object(Bucket=b, Key=key)
        assert (again["ETag"], again["LastModified"]) == (before["ETag"], before["LastModified"])


def test_put_object_with_tagging_header(srv):
    c = srv.client()
    b = new_bucket(c, "hdr")
    cases = [
        ("a=1&b=2", [("a", "1"), ("b", "2")]),
        ("a&b=", [("a", ""), ("b", "")]),
        ("a%20b=c%2Bd&e+f=g=h", [("a b", "c+d"), ("e f", "g=h")]),
        ("%C3%BC=%E6%96%87", [("ü", "文")]),
        ("", []),
    ]
    for i, (header, expect) in enumerate(cases):
        key = "obj-%d" % i
        c.put_object(Bucket=b, Key=key, Body=b"data", Tagging=header)
        assert get_tags(c, b, key) == expect, (header, get_tags(c, b, key))
        count = headers_of(c.head_object(Bucket=b, Key=key)).get("x-amz-tagging-count")
        assert count == (str(len(expect)) if expect else None), (header, count)
    # a new PUT of the key replaces the tags: the new object has only its own
    c.put_object(Bucket=b, Key="obj-0", Body=b"new data")
    assert get_tags(c, b, "obj-0") == []
    c.put_object(Bucket=b, Key="obj-1", Body=b"new data", Tagging="new=tag")
    assert get_tags(c, b, "obj-1") == [("new", "tag")]
    # tags set by PutObjectTagging go too
    c.put_object_tagging(Bucket=b, Key="obj-2", Tagging=tagset([("set", "later")]))
    c.put_object(Bucket=b, Key="obj-2", Body=b"again")
    assert get_tags(c, b, "obj-2") == []


def test_copy_tagging_directive(srv):
    c = srv.client()
    b = new_bucket(c, "copy")
    src_tags = [("src", "yes"), ("team", "storage")]
    c.put_object(Bucket=b, Key="src", Body=b"source bytes", Tagging="src=yes&team=storage",
                 ContentType="text/x-src")
    cs = {"Bucket": b, "Key": "src"}
    # default: COPY (the source's tags), also when a Tagging header is sent
    c.copy_object(Bucket=b, Key="d-default", CopySource=cs)
    assert get_tags(c, b, "d-default") == src_tags
    c.copy_object(Bucket=b, Key="d-copy", CopySource=cs, TaggingDirective="COPY", Tagging="x=1")
    assert get_tags(c, b, "d-copy") == src_tags
    # REPLACE: the request's tags, or none
    c.copy_object(Bucket=b, Key="d-replace", CopySource=cs, TaggingDirective="REPLACE",
                  Tagging="new=1&other=%C3%A9")
    assert get_tags(c, b, "d-replace") == [("new", "1"), ("other", "é")]
    c.copy_object(Bucket=b, Key="d-none", CopySource=cs, TaggingDirective="REPLACE")
    assert get_tags(c, b, "d-none") == []
    # the metadata directive does not change which tags are copied
    c.copy_object(Bucket=b, Key="d-meta", CopySource=cs, MetadataDirective="REPLACE",
                  ContentType="text/x-new")
    assert get_tags(c, b, "d-meta") == src_tags
    assert c.head_object(Bucket=b, Key="d-meta")["ContentType"] == "text/x-new"
    c.copy_object(Bucket=b, Key="d-meta2", CopySource=cs, MetadataDirective="REPLACE",
                  TaggingDirective="REPLACE", Tagging="m=2")
    assert get_tags(c, b, "d-meta2") == [("m", "2")]
    # copying onto itself with new metadata: the tags follow the directive
    c.copy_object(Bucket=b, Key="d-replace", CopySource={"Bucket": b, "Key": "d-replace"},
                  MetadataDirective="REPLACE", ContentType="text/x-self")
    assert get_tags(c, b, "d-replace") == [("new", "1"), ("other", "é")]
    c.copy_object(Bucket=b, Key="d-replace", CopySource={"Bucket": b, "Key": "d-replace"},
                  MetadataDirective="REPLACE", TaggingDirective="REPLACE", Tagging="self=1")
    assert get_tags(c, b, "d-replace") == [("self", "1")]
    # the source is unchanged; bad directive or tags: nothing written
    assert get_tags(c, b, "src") == src_tags
    e = expect_error("InvalidArgument", c.copy_object, Bucket=b, Key="d-bad", CopySource=cs,
                     TaggingDirective="MERGE")
    assert e.response["Error"]["Message"] == "Unknown tagging directive.", e.response["Error"]
    e = expect_error("InvalidArgument", c.copy_object, Bucket=b, Key="d-bad", CopySource=cs,
                     TaggingDirective="REPLACE", Tagging="a=1&a=2")
    assert e.response["Error"]["Message"] == MSG_HEADER
    expect_error("InvalidTag", c.copy_object, Bucket=b, Key="d-bad", CopySource=cs,
                 TaggingDirective="REPLACE", Tagging="aws:x=1")
    expect_error("404", c.head_object, Bucket=b, Key="d-bad")


def test_multipart_tags(srv):
    c = srv.client()
    b = new_bucket(c, "mpu")
    up = c.create_multipart_upload(Bucket=b, Key="big", Tagging="project=cairn&stage=%E6%B8%AC%E8%A9%A6",
                                   ContentType="application/x-big")["UploadId"]
    p1 = os.urandom(5 << 20)
    p2 = b"tail"
    e1 = c.upload_part(Bucket=b, Key="big", UploadId=up, PartNumber=1, Body=p1)["ETag"]
    e2 = c.upload_part(Bucket=b, Key="big", UploadId=up, PartNumber=2, Body=p2)["ETag"]
    c.complete_multipart_upload(Bucket=b, Key="big", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert get_tags(c, b, "big") == [("project", "cairn"), ("stage", "測試")]
    g = c.get_object(Bucket=b, Key="big")
    assert g["TagCount"] == 2 and g["ContentType"] == "application/x-big"
    assert g["Body"].read() == p1 + p2
    # the part reads still work with tags in the attrs
    assert c.get_object(Bucket=b, Key="big", PartNumber=2)["Body"].read() == p2
    # a bad header refuses the upload at its start
    e = expect_error("InvalidArgument", c.create_multipart_upload, Bucket=b, Key="bad", Tagging="=1")
    assert e.response["Error"]["Message"] == MSG_HEADER
    expect_error("BadRequest", c.create_multipart_upload, Bucket=b, Key="bad",
                 Tagging="&".join("k%d=v" % i for i in range(11)))
    assert c.list_multipart_uploads(Bucket=b).get("Uploads", []) == []


def test_object_tag_errors(srv):
    c = srv.client()
    b = new_bucket(c, "err")
    c.put_object(Bucket=b, Key="k", Body=b"x")
    c.put_object_tagging(Bucket=b, Key="k", Tagging=tagset([("keep", "me")]))

    def refused(pairs, code, message, tag_key=None, tag_value=None, status=400):
        r = raw(srv, "PUT", "/%s/k?tagging" % b, body=tagging_xml(pairs))
        e = check_error(r, status, code, message)
        if tag_key is not None:
            assert e.get("TagKey") == tag_key, e
        if tag_value is not None:
            assert e.get("TagValue") == tag_value, e

    refused([("k%d" % i, "") for i in range(11)], "BadRequest", "Object tags cannot be greater than 10")
    refused([("a", "1"), ("a", "2")], "InvalidTag", "Cannot provide multiple Tags with the same key", "a")
    refused([("k" * 129, "")], "InvalidTag", "The TagKey you have provided is invalid", "k" * 129)
    refused([("\u6587" * 129, "")], "InvalidTag", "The TagKey you have provided is invalid")
    refused([("", "v")], "InvalidTag", "The TagKey you have provided is invalid", "")
    refused([("k", "v" * 257)], "InvalidTag", "The TagValue you have provided is invalid", "k", "v" * 257)
    refused([("k", "\u6587" * 257)], "InvalidTag", "The TagValue you have provided is invalid", "k")
    for bad in ["a,b", "a;b", "a?b", "a!b", "a*b", "a#b", "a%b", "a(b)", "a\tb", "a&b", "a<b", "\U0001f600"]:
        refused([(bad, "v")], "InvalidTag", "The TagKey you have provided is invalid", bad)
        refused([("k", bad)], "InvalidTag", "The TagValue you have provided is invalid", "k", bad)
    for key in ["aws:cost", "AWS:cost", "Aws:x"]:
        refused([(key, "v")], "InvalidTag", "Your TagKey cannot be prefixed with aws:", key)
    # the same through boto3
    e = expect_error("InvalidTag", c.put_object_tagging, Bucket=b, Key="k",
                     Tagging=tagset([("dup", "1"), ("dup", "2")]))
    assert e.response["Error"]["Message"] == "Cannot provide multiple Tags with the same key"
    expect_error("BadRequest", c.put_object_tagging, Bucket=b, Key="k",
                 Tagging=tagset([("k%d" % i, "v") for i in range(11)]))
    # documents that do not validate
    target = "/%s/k?tagging" % b
    for body in [b"not xml", b"<Tagging><TagSet>", b"<Tagging></Tagging>",
                 b"<Tags><TagSet></TagSet></Tags>",
                 b"<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>",
                 b"<Tagging><TagSet><Tag><Value>a</Value></Tag></TagSet></Tagging>"]:
        check_error(raw(srv, "PUT", target, body=body), 400, "MalformedXML")
    check_error(raw(srv, "PUT", target), 400, "MissingRequestBodyError", "Request Body is empty")
    # a Content-MD5 that does not match the body
    body = tagging_xml([("a", "1")])
    wrong = base64.b64encode(hashlib.md5(body + b" ").digest()).decode()
    check_error(raw(srv, "PUT", target, body=body, headers={"Content-MD5": wrong}), 400, "BadDigest")
    check_error(raw(srv, "PUT", "/%s?tagging" % b, body=body, headers={"Content-MD5": wrong}), 400,
                "BadDigest")
    right = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = raw(srv, "PUT", target, body=body, headers={"Content-MD5": right})
    assert r.status == 200, r
    c.put_object_tagging(Bucket=b, Key="k", Tagging=tagset([("keep", "me")]))
    # nothing of that changed the tags
    assert get_tags(c, b, "k") == [("keep", "me")]
    # a key or bucket that does not exist
    expect_error("NoSuchKey", c.get_object_tagging, Bucket=b, Key="missing")
    expect_error("NoSuchKey", c.put_object_tagging, Bucket=b, Key="missing", Tagging=tagset([("a", "1")]))
    expect_error("NoSuchKey", c.delete_object_tagging, Bucket=b, Key="missing")
    expect_error("NoSuchBucket", c.get_object_tagging, Bucket="no-such-bucket-tag", Key="k")
    # a method ?tagging does not have
    check_error(raw(srv, "POST", target), 405, "MethodNotAllowed")


def test_tagging_header_errors(srv):
    c = srv.client()
    b = new_bucket(c, "hdrerr")

    def put(header):
        return raw(srv, "PUT", "/%s/new" % b, headers={"x-amz-tagging": header}, body=b"data")

    for header in ["a=1&a=2", "=1", "a=%FF", "%FF=1", "a=%zz", "a=%00", "a=1&&a=1"]:
        e = check_error(put(header), 400, "InvalidArgument", MSG_HEADER)
        assert e.get("ArgumentName") == "x-amz-tagging", e
        assert e.get("ArgumentValue") == header, e
    check_error(put("&".join("k%d=" % i for i in range(11))), 400, "BadRequest",
                "Object tags cannot be greater than 10")
    e = check_error(put("a%2Cb=1"), 400, "InvalidTag", "The TagKey you have provided is invalid")
    assert e.get("TagKey") == "a,b", e
    check_error(put("k=" + "v" * 257), 400, "InvalidTag", "The TagValue you have provided is invalid")
    e = check_error(put("aws%3Acost=1"), 400, "InvalidTag", "Your TagKey cannot be prefixed with aws:")
    assert e.get("TagKey") == "aws:cost", e
    # none of those stored anything
    expect_error("404", c.head_object, Bucket=b, Key="new")
    # boto3 sends the header as given
    expect_error("InvalidArgument", c.put_object, Bucket=b, Key="new", Body=b"x", Tagging="a=1&a=2")
    r = put("ok=1")
    assert r.status == 200, r
    assert get_tags(c, b, "new") == [("ok", "1")]


def test_bucket_tagging(srv):
    c = srv.client()
    b = new_bucket(c, "bkt")
    r = raw(srv, "GET", "/%s?tagging" % b)
    check_error(r, 404, "NoSuchTagSet", "The TagSet does not exist")
    expect_error("NoSuchTagSet", c.get_bucket_tagging, Bucket=b)
    tags = [("cost-center", "42"), ("Ünïcode", "värde 値"), ("empty", "")]
    r = c.put_bucket_tagging(Bucket=b, Tagging=tagset(tags))
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204, r
    assert pairs_of(c.get_bucket_tagging(Bucket=b)) == tags
    # 50 tags fit, 51 do not
    fifty = [("key-%02d" % i, "v" * 256) for i in range(50)]
    c.put_bucket_tagging(Bucket=b, Tagging=tagset(fifty))
    assert pairs_of(c.get_bucket_tagging(Bucket=b)) == fifty
    target = "/%s?tagging" % b
    fifty_one = [("k%d" % i, "") for i in range(51)]
    check_error(raw(srv, "PUT", target, body=tagging_xml(fifty_one)), 400, "BadRequest",
                "Bucket tag count cannot be greater than 50")
    e = check_error(raw(srv, "PUT", target, body=tagging_xml([("aws:cloudformation", "x")])), 400,
                    "InvalidTag", "System tags cannot be added/updated by requester")
    assert e.get("TagKey") == "aws:cloudformation", e
    check_error(raw(srv, "PUT", target, body=tagging_xml([("a", "1"), ("a", "1")])), 400,
                "InvalidTag", "Cannot provide multiple Tags with the same key")
    check_error(raw(srv, "PUT", target, body=tagging_xml([("a!", "1")])), 400, "InvalidTag",
                "The TagKey you have provided is invalid")
    check_error(raw(srv, "PUT", target, body=b"<Tagging>"), 400, "MalformedXML")
    assert pairs_of(c.get_bucket_tagging(Bucket=b)) == fifty
    # bucket tags are not object tags
    c.put_object(Bucket=b, Key="obj", Body=b"x")
    assert get_tags(c, b, "obj") == []
    # delete: 204, then NoSuchTagSet; an empty set stores none either
    r = c.delete_bucket_tagging(Bucket=b)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204, r
    expect_error("NoSuchTagSet", c.get_bucket_tagging, Bucket=b)
    c.delete_bucket_tagging(Bucket=b)
    c.put_bucket_tagging(Bucket=b, Tagging=tagset([("a", "1")]))
    c.put_bucket_tagging(Bucket=b, Tagging=tagset([]))
    expect_error("NoSuchTagSet", c.get_bucket_tagging, Bucket=b)
    # the tags go with the bucket
    c.put_bucket_tagging(Bucket=b, Tagging=tagset([("a", "1")]))
    c.delete_object(Bucket=b, Key="obj")
    c.delete_bucket(Bucket=b)
    expect_error("NoSuchBucket", c.get_bucket_tagging, Bucket=b)
    c.create_bucket(Bucket=b)
    expect_error("NoSuchTagSet", c.get_bucket_tagging, Bucket=b)


def test_post_object_tagging_field(srv):
    """A browser form upload's `tagging` field (a <Tagging> document)."""
    c = srv.client(signature_version="s3v4")
    b = new_bucket(c, "post")

    def form_post(key, tagging_doc):
        p = c.generate_presigned_post(b, key, Fields={"tagging": tagging_doc},
                                      Conditions=[{"tagging": tagging_doc}], ExpiresIn=300)
        fields = list(p["fields"].items()) + [("file", ("f.txt", b"form body"))]
        body, ct = urllib3.encode_multipart_formdata(fields)
        return raw(srv, "POST", "/" + b, headers={"Content-Type": ct}, body=body, sign=False)

    r = form_post("with-tags", tagging_xml([("origin", "form"), ("ünï", "")]).decode())
    assert r.status == 204, r
    assert get_tags(c, b, "with-tags") == [("origin", "form"), ("ünï", "")]
    assert c.get_object(Bucket=b, Key="with-tags")["Body"].read() == b"form body"
    check_error(form_post("bad", tagging_xml([("k%d" % i, "") for i in range(11)]).decode()), 400,
                "BadRequest", "Object tags cannot be greater than 10")
    check_error(form_post("bad", "<Tagging><TagSet>"), 400, "MalformedXML")
    check_error(form_post("bad", tagging_xml([("aws:x", "1")]).decode()), 400, "InvalidTag")
    expect_error("404", c.head_object, Bucket=b, Key="bad")


def test_bucket_policy_tagging_actions(srv):
    """Another user gets exactly the tagging actions a bucket policy grants
    (s3:GetObjectTagging, s3:PutObjectTagging, s3:GetBucketTagging...)."""
    if srv.external:
        return
    owner = srv.client()
    b = new_bucket(owner, "pol")
    owner.put_object(Bucket=b, Key="k", Body=b"x", Tagging="a=1")
    owner.put_bucket_tagging(Bucket=b, Tagging=tagset([("team", "t")]))
    ak, sk = srv.add_user("tag-reader")
    other = srv.client(key=ak, secret=sk)
    expect_error("AccessDenied", other.get_object_tagging, Bucket=b, Key="k")
    owner.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": [ak]},
         "Action": ["s3:GetObjectTagging", "s3:PutObjectTagging", "s3:GetBucketTagging"],
         "Resource": ["arn:aws:s3:::%s" % b, "arn:aws:s3:::%s/*" % b]}]}))
    assert get_tags(other, b, "k") == [("a", "1")]
    other.put_object_tagging(Bucket=b, Key="k", Tagging=tagset([("by", "other")]))
    assert get_tags(owner, b, "k") == [("by", "other")]
    assert pairs_of(other.get_bucket_tagging(Bucket=b)) == [("team", "t")]
    expect_error("AccessDenied", other.delete_object_tagging, Bucket=b, Key="k")
    expect_error("AccessDenied", other.put_bucket_tagging, Bucket=b, Tagging=tagset([("x", "y")]))
    expect_error("AccessDenied", other.delete_bucket_tagging, Bucket=b)
    # a version names the Version action, which the policy does not grant
    expect_error("AccessDenied", other.put_object_tagging, Bucket=b, Key="k", VersionId="null",
                 Tagging=tagset([("v", "1")]))
    assert get_tags(owner, b, "k") == [("by", "other")]


def test_tags_survive_restart(srv):
    if srv.external:
        return
    c = srv.client()
    b = new_bucket(c, "restart")
    c.put_object(Bucket=b, Key="k", Body=b"x", Tagging="a=1")
    c.put_bucket_tagging(Bucket=b, Tagging=tagset([("b", "2")]))
    srv.restart()
    c = srv.client()
    assert get_tags(c, b, "k") == [("a", "1")]
    assert pairs_of(c.get_bucket_tagging(Bucket=b)) == [("b", "2")]


def test_concurrent_tag_updates(srv):
    c0 = srv.client()
    b = new_bucket(c0, "conc")
    c0.put_object(Bucket=b, Key="k", Body=b"payload", ContentType="text/x-conc",
                  Metadata={"m": "1"})
    written, answers = set(), []
    lock = threading.Lock()

    def worker(n):
        c = srv.client()
        for i in range(6):
            pairs = [("writer", str(n)), ("round", str(i))]
            try:
                c.put_object_tagging(Bucket=b, Key="k", Tagging=tagset(pairs))
                res = "ok"
            except c.exceptions.ClientError as e:
                res = e.response["Error"]["Code"]
            with lock:
                answers.append(res)
                if res == "ok":
                    written.add(tuple(pairs))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # a lost race is retried; one that keeps losing is a 409 to retry, never another error
    assert set(answers) <= {"ok", "ConditionalRequestConflict"}, answers
    assert answers.count("ok") >= len(answers) // 2, answers
    final = tuple(get_tags(c0, b, "k"))
    assert final in written, (final, written)
    h = c0.head_object(Bucket=b, Key="k")
    assert h["ContentType"] == "text/x-conc" and h["Metadata"] == {"m": "1"}, h
    assert headers_of(h).get("x-amz-tagging-count") == "2"
    assert c0.get_object(Bucket=b, Key="k")["Body"].read() == b"payload"


if __name__ == "__main__":
    run_tests(globals(), setup=lambda: Server())
