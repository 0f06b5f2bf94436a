#!/usr/bin/env python3
"""S3 Object Lock with boto3: buckets created with object lock, default
retention, per-object retention (GOVERNANCE, COMPLIANCE) and legal holds,
and what they protect: a locked version cannot be deleted by version id
(alone or in DeleteObjects) until its date, governance yields to
x-amz-bypass-governance-retention, compliance to nothing; a delete
without a version id still adds a delete marker.  Also every error S3
answers for lock headers and bodies, and that a copy takes its lock from
the request and the bucket, never from its source.
"""
import datetime
import time
import uuid

import botocore

from cairn_test import Server, expect_error, raw, run_tests

UTC = datetime.timezone.utc


def later(seconds):
    return datetime.datetime.now(UTC) + datetime.timedelta(seconds=seconds)


def lock_bucket(c, default=None):
    name = "lock-" + uuid.uuid4().hex[:12]
    c.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    if default:
        c.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": default}})
    return name


def put_version(c, bucket, key, body=b"data", **kw):
    c.put_object(Bucket=bucket, Key=key, Body=body, **kw)
    return c.head_object(Bucket=bucket, Key=key)["VersionId"]


def test_bucket_with_lock(srv):
    c = srv.client()
    b = lock_bucket(c)
    assert c.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    cfg = c.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]
    assert cfg == {"ObjectLockEnabled": "Enabled"}, cfg
    c.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 2}}})
    cfg = c.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]
    assert cfg["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Years": 2}, cfg
    # a version-less delete of anything is a delete marker, locked or not
    vid = put_version(c, b, "k")
    r = c.delete_object(Bucket=b, Key="k")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    expect_error("404", c.head_object, Bucket=b, Key="k")
    assert c.head_object(Bucket=b, Key="k", VersionId=vid)["ObjectLockMode"] == "COMPLIANCE"


def test_lock_configuration_errors(srv):
    c = srv.client()
    plain = "plain-" + uuid.uuid4().hex[:12]
    c.create_bucket(Bucket=plain)
    expect_error("ObjectLockConfigurationNotFoundError", c.get_object_lock_configuration,
                 Bucket=plain)
    e = expect_error("InvalidBucketState", c.put_object_lock_configuration, Bucket=plain,
                     ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    e = expect_error("InvalidRequest", c.put_object, Bucket=plain, Key="k", Body=b"x",
                     ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=later(60))
    assert "missing Object Lock Configuration" in e.response["Error"]["Message"]
    expect_error("InvalidRequest", c.put_object_legal_hold, Bucket=plain, Key="k",
                 LegalHold={"Status": "ON"})
    b = lock_bucket(c)
    for bad in ({"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE"}}},
                {"ObjectLockEnabled": "Enabled",
                 "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}}},
                {"ObjectLockEnabled": "Enabled",
                 "Rule": {"DefaultRetention": {"Mode": "FOREVER", "Days": 1}}}):
        expect_error("MalformedXML", c.put_object_lock_configuration, Bucket=b,
                     ObjectLockConfiguration=bad)
    expect_error("InvalidArgument", c.put_object_lock_configuration, Bucket=b,
                 ObjectLockConfiguration={"ObjectLockEnabled": "Enabled",
                                          "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE",
                                                                        "Days": 0}}})
    # lock headers: both or none, a known mode, a future date, ON/OFF
    e = expect_error("InvalidArgument", c.put_object, Bucket=b, Key="k", Body=b"x",
                     ObjectLockMode="GOVERNANCE")
    assert "must both be supplied" in e.response["Error"]["Message"]
    e = expect_error("InvalidArgument", c.put_object, Bucket=b, Key="k", Body=b"x",
                     ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=later(-60))
    assert "in the future" in e.response["Error"]["Message"]
    r = raw(srv, "PUT", "/%s/k" % b, {"x-amz-object-lock-mode": "SOMETIMES",
                                      "x-amz-object-lock-retain-until-date": "2099-01-01T00:00:00Z"},
            b"x")
    assert r.status == 400 and r.error()["Code"] == "InvalidArgument", r
    r = raw(srv, "PUT", "/%s/k" % b, {"x-amz-object-lock-legal-hold": "MAYBE"}, b"x")
    assert r.status == 400 and r.error()["Code"] == "InvalidArgument", r
    # nothing was stored by the refused writes
    expect_error("404", c.head_object, Bucket=b, Key="k")
    vid = put_version(c, b, "k")
    expect_error("NoSuchObjectLockConfiguration", c.get_object_retention, Bucket=b, Key="k")
    expect_error("NoSuchObjectLockConfiguration", c.get_object_legal_hold, Bucket=b, Key="k")
    h = c.head_object(Bucket=b, Key="k", VersionId=vid)
    assert "ObjectLockMode" not in h and "ObjectLockLegalHoldStatus" not in h, h
    expect_error("InvalidArgument", c.put_object_retention, Bucket=b, Key="k",
                 Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(-5)})


def test_governance(srv):
    c = srv.client()
    b = lock_bucket(c, {"Mode": "GOVERNANCE", "Days": 1})
    before = datetime.datetime.now(UTC)
    vid = put_version(c, b, "doc", b"v1")
    h = c.head_object(Bucket=b, Key="doc", VersionId=vid)
    assert h["ObjectLockMode"] == "GOVERNANCE", h
    until = h["ObjectLockRetainUntilDate"]
    assert before + datetime.timedelta(hours=23) < until < before + datetime.timedelta(hours=25), until
    ret = c.get_object_retention(Bucket=b, Key="doc", VersionId=vid)["Retention"]
    assert ret["Mode"] == "GOVERNANCE" and ret["RetainUntilDate"] == until, ret
    g = c.get_object(Bucket=b, Key="doc")
    assert g["ObjectLockMode"] == "GOVERNANCE" and g["Body"].read() == b"v1"

    e = expect_error("AccessDenied", c.delete_object, Bucket=b, Key="doc", VersionId=vid)
    assert "object lock" in e.response["Error"]["Message"]
    # shortening governance needs the bypass; extending does not
    expect_error("AccessDenied", c.put_object_retention, Bucket=b, Key="doc", VersionId=vid,
                 Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(3600)})
    c.put_object_retention(Bucket=b, Key="doc", VersionId=vid,
                           Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(3 * 86400)})
    c.put_object_retention(Bucket=b, Key="doc", VersionId=vid, BypassGovernanceRetention=True,
                           Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(3)})
    # DeleteObjects refuses the locked version per key
    r = c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "doc", "VersionId": vid}]})
    assert [x["Code"] for x in r.get("Errors", [])] == ["AccessDenied"], r
    # the bypass header lets the owner delete a governance version
    vid2 = put_version(c, b, "doc2")
    c.delete_object(Bucket=b, Key="doc2", VersionId=vid2, BypassGovernanceRetention=True)
    expect_error("404", c.head_object, Bucket=b, Key="doc2", VersionId=vid2)
    # once the date passes, the version is free
    deadline = time.time() + 15
    while True:
        try:
            c.delete_object(Bucket=b, Key="doc", VersionId=vid)
            break
        except botocore.exceptions.ClientError:
            assert time.time() < deadline, "retention never ended"
            time.sleep(0.5)
    expect_error("404", c.head_object, Bucket=b, Key="doc", VersionId=vid)


def test_compliance(srv):
    c = srv.client()
    b = lock_bucket(c)
    vid = put_version(c, b, "k", b"kept", ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=later(3600))
    for bypass in (False, True):
        expect_error("AccessDenied", c.delete_object, Bucket=b, Key="k", VersionId=vid,
                     BypassGovernanceRetention=bypass)
    for ret in ({"Mode": "COMPLIANCE", "RetainUntilDate": later(600)},
                {"Mode": "GOVERNANCE", "RetainUntilDate": later(7200)}):
        expect_error("AccessDenied", c.put_object_retention, Bucket=b, Key="k", VersionId=vid,
                     BypassGovernanceRetention=True, Retention=ret)
    c.put_object_retention(Bucket=b, Key="k", VersionId=vid,
                           Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later(7200)})
    assert c.get_object(Bucket=b, Key="k", VersionId=vid)["Body"].read() == b"kept"
    # governance can be raised to compliance without the bypass
    g = put_version(c, b, "g", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=later(600))
    c.put_object_retention(Bucket=b, Key="g", VersionId=g,
                           Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later(600)})
    expect_error("AccessDenied", c.delete_object, Bucket=b, Key="g", VersionId=g,
                 BypassGovernanceRetention=True)


def test_legal_hold(srv):
    c = srv.client()
    b = lock_bucket(c)
    vid = put_version(c, b, "held", ObjectLockLegalHoldStatus="ON")
    assert c.head_object(Bucket=b, Key="held")["ObjectLockLegalHoldStatus"] == "ON"
    assert c.get_object_legal_hold(Bucket=b, Key="held")["LegalHold"]["Status"] == "ON"
    expect_error("AccessDenied", c.delete_object, Bucket=b, Key="held", VersionId=vid,
                 BypassGovernanceRetention=True)
    c.put_object_legal_hold(Bucket=b, Key="held", VersionId=vid, LegalHold={"Status": "OFF"})
    assert c.head_object(Bucket=b, Key="held")["ObjectLockLegalHoldStatus"] == "OFF"
    c.delete_object(Bucket=b, Key="held", VersionId=vid)
    # a hold on a version that has none yet, and a bad status
    v2 = put_version(c, b, "h2")
    c.put_object_legal_hold(Bucket=b, Key="h2", LegalHold={"Status": "ON"})
    expect_error("AccessDenied", c.delete_object, Bucket=b, Key="h2", VersionId=v2)
    r = raw(srv, "PUT", "/%s/h2?legal-hold" % b, {},
            b"<LegalHold><Status>MAYBE</Status></LegalHold>")
    assert r.status == 400 and r.error()["Code"] == "MalformedXML", r
    # tags of the version stay as they were: only the lock entries change
    assert c.get_object(Bucket=b, Key="h2")["Body"].read() == b"data"


def test_copy_and_multipart_take_their_own_lock(srv):
    c = srv.client()
    b = lock_bucket(c, {"Mode": "GOVERNANCE", "Days": 2})
    src = put_version(c, b, "src", b"source", ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=later(9 * 86400), ObjectLockLegalHoldStatus="ON")
    c.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src", "VersionId": src})
    h = c.head_object(Bucket=b, Key="dst")
    assert h["ObjectLockMode"] == "GOVERNANCE", h  # the bucket default, not the source's
    assert h["ObjectLockRetainUntilDate"] < later(3 * 86400), h
    assert "ObjectLockLegalHoldStatus" not in h, h
    c.copy_object(Bucket=b, Key="dst2", CopySource={"Bucket": b, "Key": "src"},
                  ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=later(5 * 86400))
    assert c.head_object(Bucket=b, Key="dst2")["ObjectLockMode"] == "COMPLIANCE"
    up = c.create_multipart_upload(Bucket=b, Key="mp", ObjectLockLegalHoldStatus="ON")
    part = c.upload_part(Bucket=b, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p" * 100)
    c.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    h = c.head_object(Bucket=b, Key="mp")
    assert h["ObjectLockLegalHoldStatus"] == "ON" and h["ObjectLockMode"] == "GOVERNANCE", h
    expect_error("AccessDenied", c.delete_object, Bucket=b, Key="mp", VersionId=h["VersionId"],
                 BypassGovernanceRetention=True)


def test_browser_post_gets_default_retention(srv):
    """A form upload (PostObject) is a new version like any other."""
    import http.client
    from cairn_test import host_port
    c = srv.client()
    b = lock_bucket(c, {"Mode": "GOVERNANCE", "Days": 1})
    p = c.generate_presigned_post(b, "form.txt", ExpiresIn=300)
    boundary = "----lockTestBoundary"
    parts = [("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
              % (boundary, k, v)).encode() for k, v in sorted(p["fields"].items())]
    parts.append(("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n"
                  % boundary).encode() + b"form body\r\n--" + boundary.encode() + b"--\r\n")
    conn = http.client.HTTPConnection(*host_port(srv), timeout=60)
    conn.request("POST", "/" + b, body=b"".join(parts),
                 headers={"Content-Type": "multipart/form-data; boundary=" + boundary})
    status = conn.getresponse().status
    conn.close()
    assert status == 204, status
    h = c.head_object(Bucket=b, Key="form.txt")
    assert h["ObjectLockMode"] == "GOVERNANCE", h
    expect_error("AccessDenied", c.delete_object, Bucket=b, Key="form.txt", VersionId=h["VersionId"])


if __name__ == "__main__":
    run_tests(globals(), setup=lambda: Server())
