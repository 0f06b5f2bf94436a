#!/usr/bin/env python3
"""Bucket policies and canned ACLs: Put/Get/DeleteBucketPolicy and every
MalformedPolicy case, GetBucketPolicyStatus, a matrix of principals (the
owner, another cairn user, anonymous requests) by actions under allow and
deny statements, s3:prefix and aws:SourceIp conditions, an explicit deny
beating the owner, DeleteObjects, CopyObject and anonymous form uploads
judged per object, canned ACLs on buckets and objects fetched with plain
curl (no signature)."""
import json
import subprocess
import urllib.parse
import xml.etree.ElementTree as ET

import boto3
import botocore
from botocore import UNSIGNED
from botocore.config import Config

from cairn_test import Server, expect_error, raw, run_tests

S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_users = {}


def user(srv, name):
    """A cairn user made once with `cairn admin user add`, and a client."""
    if name not in _users:
        _users[name] = srv.add_user(name)
    ak, sk = _users[name]
    return srv.client(key=ak, secret=sk), ak


def anon_client(srv):
    return boto3.client("s3", endpoint_url=srv.endpoint, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))


def curl(srv, path, method="GET", data=None):
    """A plain curl request, no signature: (status, body)."""
    cmd = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, srv.endpoint + path]
    if data is not None:
        cmd += ["--data-binary", data]
    out = subprocess.run(cmd, capture_output=True, timeout=60, check=True).stdout
    body, _, code = out.rpartition(b"\n")
    return int(code), body


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def stmt(effect, principal, action, resource, condition=None, sid=None):
    s = {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource}
    if condition:
        s["Condition"] = condition
    if sid:
        s["Sid"] = sid
    return s


def arn(bucket, key=None):
    return "arn:aws:s3:::" + bucket + ("/" + key if key is not None else "")


def status(e):
    return e.response["ResponseMetadata"]["HTTPStatusCode"]


def code_of(fn, *a, **kw):
    """'ok', or the error code of a boto3 call (HTTP status for a HEAD)."""
    try:
        fn(*a, **kw)
        return "ok"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]


# ---------------------------------------------------------------------------

def test_policy_put_get_delete(srv):
    c = srv.client()
    b = "pol-crud"
    c.create_bucket(Bucket=b)
    expect_error("NoSuchBucketPolicy", c.get_bucket_policy, Bucket=b)
    expect_error("NoSuchBucketPolicy", c.get_bucket_policy_status, Bucket=b)
    # stored and given back byte for byte, white space included
    text = '{\n  "Version": "2012-10-17",\n  "Statement": [{"Sid": "pub", "Effect": "Allow",' \
           ' "Principal": "*", "Action": "s3:GetObject", "Resource": "%s"}]\n}' % arn(b, "*")
    r = c.put_bucket_policy(Bucket=b, Policy=text)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204, r
    assert c.get_bucket_policy(Bucket=b)["Policy"] == text
    st = c.get_bucket_policy_status(Bucket=b)["PolicyStatus"]
    assert st["IsPublic"] is True, st
    # replaced by the next put
    text2 = policy(stmt("Allow", "*", "s3:GetObject", arn(b, "*"),
                        {"IpAddress": {"aws:SourceIp": "10.1.0.0/16"}}))
    c.put_bucket_policy(Bucket=b, Policy=text2)
    assert c.get_bucket_policy(Bucket=b)["Policy"] == text2
    assert c.get_bucket_policy_status(Bucket=b)["PolicyStatus"]["IsPublic"] is False
    # raw: GetBucketPolicy is JSON
    r = raw(srv, "GET", "/%s?policy" % b)
    assert r.status == 200 and json.loads(r.body) == json.loads(text2), r
    r = c.delete_bucket_policy(Bucket=b)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204, r
    expect_error("NoSuchBucketPolicy", c.get_bucket_policy, Bucket=b)
    c.delete_bucket_policy(Bucket=b)  # again: still 204
    expect_error("NoSuchBucket", c.put_bucket_policy, Bucket="pol-nonexistent", Policy=text)


def test_malformed_policies(srv):
    c = srv.client()
    b = "pol-bad"
    c.create_bucket(Bucket=b)
    user(srv, "polbad-user")
    ok_stmt = stmt("Allow", "*", "s3:GetObject", arn(b, "*"))
    cases = [
        ("not json", "Policies must be valid JSON and the first byte must be '{'"),
        ('{"Statement": [', "This policy contains invalid Json"),
        ('{"Version": "2012-10-17"}', "Missing required field Statement"),
        ('{"Statement": []}', "Could not parse the policy: Statement is empty!"),
        ('{"Version": "1999-01-01", "Statement": [%s]}' % json.dumps(ok_stmt),
         "The policy must contain a valid version string"),
        (policy(dict(ok_stmt, Effect="Maybe")), "Invalid effect: Maybe"),
        (policy({k: v for k, v in ok_stmt.items() if k != "Effect"}), "Missing required field Effect"),
        (policy({k: v for k, v in ok_stmt.items() if k != "Principal"}),
         "Missing required field Principal"),
        (policy(dict(ok_stmt, Action="s3:GetObjekt")), "Policy has invalid action"),
        (policy(dict(ok_stmt, Action="ec2:RunInstances")), "Policy has invalid action"),
        (policy(dict(ok_stmt, Resource=arn("other-bucket", "*"))), "Policy has invalid resource"),
        (policy(dict(ok_stmt, Resource="*")), "Policy has invalid resource"),
        (policy(dict(ok_stmt, Resource=arn(b))),
         "Action does not apply to any resource(s) in statement"),
        (policy(dict(ok_stmt, Action=["s3:GetObject", "s3:ListBucket"])),
         "Action does not apply to any resource(s) in statement"),
        (policy(dict(ok_stmt, Principal={"AWS": "nobody-such"})), "Invalid principal in policy"),
        (policy(dict(ok_stmt, Principal={"AWS": "arn:aws:iam::123456789012:root"})),
         "Invalid principal in policy"),
        (policy(dict(ok_stmt, Principal="polbad-user")), "Invalid principal in policy"),
        (policy(dict(ok_stmt, Condition={"StringEqualsX": {"s3:prefix": "a"}})),
         "Invalid Condition type : StringEqualsX"),
        (policy(dict(ok_stmt, Condition={"StringEquals": {"s3:nosuchkey": "a"}})),
         "Policy has an invalid condition key"),
        (policy(dict(ok_stmt, Sid="a"), dict(ok_stmt, Sid="a")),
         "Statement IDs (SID) in a single policy must be unique"),
        (policy(dict(ok_stmt, Resource=[arn(b, "k%05d" % i) for i in range(800)])),
         "Policy exceeds the maximum allowed document size."),
    ]
    for text, msg in cases:
        e = expect_error("MalformedPolicy", c.put_bucket_policy, Bucket=b, Policy=text)
        assert status(e) == 400, e.response
        assert e.response["Error"]["Message"] == msg, (text[:200], e.response["Error"])
    # an empty body, sent raw
    r = raw(srv, "PUT", "/%s?policy" % b)
    assert r.status == 400 and r.error()["Code"] == "MalformedPolicy", r
    expect_error("NoSuchBucketPolicy", c.get_bucket_policy, Bucket=b)
    # the accepted principal spellings
    ak = _users["polbad-user"][0]
    c.put_bucket_policy(Bucket=b, Policy=policy(dict(ok_stmt, Principal={"AWS": [
        "polbad-user", ak, "arn:aws:iam::cairn:user/polbad-user", "arn:aws:iam::cairn:root"]})))


def test_policy_matrix(srv):
    owner, _ = user(srv, "mx-owner")
    other, other_ak = user(srv, "mx-other")
    anon = anon_client(srv)
    b = "pol-matrix"
    owner.create_bucket(Bucket=b)
    owner.put_object(Bucket=b, Key="doc.txt", Body=b"matrix")

    def probe(client, i):
        key = "new-%d" % i
        return {
            "GetObject": code_of(client.get_object, Bucket=b, Key="doc.txt"),
            "PutObject": code_of(client.put_object, Bucket=b, Key=key, Body=b"x"),
            "ListBucket": code_of(client.list_objects_v2, Bucket=b),
            "DeleteObject": code_of(client.delete_object, Bucket=b, Key=key),
            "GetBucketPolicy": code_of(client.get_bucket_policy, Bucket=b),
        }

    counter = [0]

    def check(client, want, label):
        counter[0] += 1
        got = probe(client, counter[0])
        assert got == want, (label, got, want)

    ALL_OK = {"GetObject": "ok", "PutObject": "ok", "ListBucket": "ok", "DeleteObject": "ok",
              "GetBucketPolicy": "NoSuchBucketPolicy"}
    DENIED = {a: "AccessDenied" for a in ALL_OK}
    # no policy: the owner only
    check(owner, ALL_OK, "owner, no policy")
    check(other, DENIED, "other, no policy")
    check(anon, DENIED, "anonymous, no policy")

    # allow the other user reads and listing, everyone reads
    owner.put_bucket_policy(Bucket=b, Policy=policy(
        stmt("Allow", {"AWS": "arn:aws:iam::cairn:user/mx-other"},
             ["s3:GetObject", "s3:ListBucket", "s3:GetBucketPolicy"], [arn(b), arn(b, "*")]),
        stmt("Allow", "*", "s3:GetObject", arn(b, "*"))))
    check(owner, dict(ALL_OK, GetBucketPolicy="ok"), "owner, allow policy")
    # S3 answers 405 to the policy calls of anyone outside the owner's account
    check(other, {"GetObject": "ok", "PutObject": "AccessDenied", "ListBucket": "ok",
                  "DeleteObject": "AccessDenied", "GetBucketPolicy": "MethodNotAllowed"},
          "other, allow policy")
    check(anon, dict(DENIED, GetObject="ok"), "anonymous, allow policy")
    expect_error("AccessDenied", other.put_bucket_policy, Bucket=b, Policy=policy(
        stmt("Allow", "*", "s3:*", arn(b, "*"))))

    # writes for the other user by access key; a deny for everyone on deletes
    owner.put_bucket_policy(Bucket=b, Policy=policy(
        stmt("Allow", {"AWS": [other_ak]}, ["s3:PutObject", "s3:DeleteObject", "s3:GetObject",
                                            "s3:ListBucket"], [arn(b), arn(b, "*")]),
        stmt("Allow", "*", ["s3:PutObject", "s3:ListBucket"], [arn(b), arn(b, "*")]),
        stmt("Deny", "*", "s3:DeleteObject", arn(b, "*"))))
    nopol = {"GetBucketPolicy": "AccessDenied"}
    check(owner, dict(ALL_OK, DeleteObject="AccessDenied", GetBucketPolicy="ok"),
          "owner, deny delete")
    check(other, dict(ALL_OK, DeleteObject="AccessDenied", **nopol), "other, deny delete")
    check(anon, dict(DENIED, PutObject="ok", ListBucket="ok"), "anonymous, public writes")
    assert owner.get_object(Bucket=b, Key="new-%d" % counter[0])["Body"].read() == b"x"

    # an explicit deny beats the owner, except for managing the policy
    owner.put_bucket_policy(Bucket=b, Policy=policy(
        stmt("Deny", {"AWS": "mx-owner"}, "s3:*", [arn(b), arn(b, "*")])))
    check(owner, dict(DENIED, GetBucketPolicy="ok"), "owner denied everything")
    assert code_of(owner.head_bucket, Bucket=b) == "403"
    # cairn's root user is not named by that deny...
    root = srv.client()
    assert code_of(root.get_object, Bucket=b, Key="doc.txt") == "ok"
    # ...and the owner can always lift the policy; a deny for everyone stops root too
    owner.delete_bucket_policy(Bucket=b)
    check(owner, ALL_OK, "owner after the policy is gone")
    owner.put_bucket_policy(Bucket=b, Policy=policy(stmt("Deny", "*", "s3:GetObject", arn(b, "*"))))
    assert code_of(root.get_object, Bucket=b, Key="doc.txt") == "AccessDenied"
    root.delete_bucket_policy(Bucket=b)
    assert code_of(root.get_object, Bucket=b, Key="doc.txt") == "ok"


def test_prefix_condition(srv):
    owner = srv.client()
    other, _ = user(srv, "pfx-user")
    b = "pol-prefix"
    owner.create_bucket(Bucket=b)
    for k in ("pub/a", "pub/b", "secret/c"):
        owner.put_object(Bucket=b, Key=k, Body=b"p")
    owner.put_bucket_policy(Bucket=b, Policy=policy(
        stmt("Allow", {"AWS": "pfx-user"}, "s3:ListBucket", arn(b),
             {"StringEquals": {"s3:prefix": ["pub/"], "s3:delimiter": "/"}}),
        stmt("Allow", {"AWS": "pfx-user"}, "s3:ListBucket", arn(b),
             {"StringLike": {"s3:prefix": "home/*"}})))
    keys = [o["Key"] for o in other.list_objects_v2(Bucket=b, Prefix="pub/", Delimiter="/")["Contents"]]
    assert keys == ["pub/a", "pub/b"], keys
    assert other.list_objects(Bucket=b, Prefix="home/x/").get("Contents") is None
    expect_error("AccessDenied", other.list_objects_v2, Bucket=b)
    expect_error("AccessDenied", other.list_objects_v2, Bucket=b, Prefix="secret/", Delimiter="/")
    expect_error("AccessDenied", other.list_objects_v2, Bucket=b, Prefix="pub/")  # no delimiter
    expect_error("AccessDenied", other.get_object, Bucket=b, Key="pub/a")
    # s3:max-keys
    owner.put_bucket_policy(Bucket=b, Policy=policy(
        stmt("Allow", "*", "s3:ListBucket", arn(b),
             {"NumericLessThanEquals": {"s3:max-keys": "2"}})))
    anon = anon_client(srv)
    assert len(anon.list_objects_v2(Bucket=b, MaxKeys=2)["Contents"]) == 2
    expect_error("AccessDenied", anon.list_objects_v2, Bucket=b, MaxKeys=3)
    expect_error("AccessDenied", anon.list_objects_v2, Bucket=b)
    # a folder of one's own: ${aws:username}
    owner.put_bucket_policy(Bucket=b, Policy=policy(
        stmt("Allow", "*", ["s3:PutObject", "s3:GetObject"], arn(b, "home/${aws:username}/*"))))
    other.put_object(Bucket=b, Key="home/pfx-user/notes", Body=b"mine")
    assert other.get_object(Bucket=b, Key="home/pfx-user/notes")["Body"].read() == b"mine"
    expect_error("AccessDenied", other.put_object, Bucket=b, Key="home/someone/notes", Body=b"x")
    expect_error("AccessDenied", anon.put_object, Bucket=b, Key="home//notes", Body=b"x")


def test_source_ip(srv):
    owner = srv.client()
    b = "pol-ip"
    owner.create_bucket(Bucket=b)
    owner.put_object(Bucket=b, Key="k", Body=b"from loopback")
    owner.put_bucket_policy(Bucket=b, Policy=policy(
        stmt("Allow", "*", "s3:GetObject", arn(b, "*"),
             {"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}})))
    assert curl(srv, "/%s/k" % b) == (200, b"from loopback")
    owner.put_bucket_policy(Bucket=b, Policy=policy(
        stmt("Allow", "*", "s3:GetObject", arn(b, "*"),
             {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}})))
    code, body = curl(srv, "/%s/k" % b)
    assert code == 403 and b"<Code>AccessDenied</Code>" in body, (code, body)
    # a deny from outside a range: loopback is inside, so the owner goes on
    owner.put_bucket_policy(Bucket=b, Policy=policy(
        stmt("Deny", "*", "s3:*", [arn(b), arn(b, "*")],
             {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}})))
    assert owner.get_object(Bucket=b, Key="k")["Body"].read() == b"from loopback"
    # a deny for loopback stops the owner
    owner.put_bucket_policy(Bucket=b, Policy=policy(
        stmt("Deny", "*", "s3:GetObject", arn(b, "*"),
             {"IpAddress": {"aws:SourceIp": "127.0.0.1"}})))
    expect_error("AccessDenied", owner.get_object, Bucket=b, Key="k")
    owner.put_object(Bucket=b, Key="k2", Body=b"still writable")
    owner.delete_bucket_policy(Bucket=b)
    assert owner.get_object(Bucket=b, Key="k")["Body"].read() == b"from loopback"


def test_anonymous_public_read_bucket(srv):
    owner, _ = user(srv, "pub-owner")
    other, _ = user(srv, "pub-reader")
    b = "pol-public"
    owner.create_bucket(Bucket=b, ACL="public-read")
    owner.put_object(Bucket=b, Key="dir/hello.txt", Body=b"hello world")
    assert curl(srv, "/%s/dir/hello.txt" % b) == (200, b"hello world")
    code, body = curl(srv, "/%s?list-type=2" % b)
    assert code == 200, (code, body)
    keys = [e.text for e in ET.fromstring(body).iter(S3NS + "Key")]
    assert keys == ["dir/hello.txt"], body
    code, _ = curl(srv, "/%s" % b, method="HEAD")
    # reads only: no anonymous writes or deletes, no policy reads
    code, body = curl(srv, "/%s/planted" % b, method="PUT", data="x")
    assert code == 403 and b"AccessDenied" in body, (code, body)
    code, _ = curl(srv, "/%s/dir/hello.txt" % b, method="DELETE")
    assert code == 403
    assert curl(srv, "/%s?policy" % b)[0] == 403
    assert curl(srv, "/%s?acl" % b)[0] == 403
    # any signed user reads too, but does not write
    assert other.get_object(Bucket=b, Key="dir/hello.txt")["Body"].read() == b"hello world"
    expect_error("AccessDenied", other.put_object, Bucket=b, Key="x", Body=b"x")
    # anonymous service calls stay refused
    assert curl(srv, "/")[0] == 403
    assert curl(srv, "/pol-anon-made", method="PUT")[0] == 403
    assert curl(srv, "/%s?cairn-changes" % b)[0] == 403
    assert curl(srv, "/_cairn/admin/users")[0] == 403
    # a nonexistent bucket is NoSuchBucket, as on S3
    code, body = curl(srv, "/pol-no-such-bucket/k")
    assert code == 404 and b"NoSuchBucket" in body, (code, body)
    # the ACL reads back, then goes private
    acl = owner.get_bucket_acl(Bucket=b)
    grants = {(g["Grantee"].get("URI") or g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"]}
    assert grants == {("pub-owner", "FULL_CONTROL"),
                      ("http://acs.amazonaws.com/groups/global/AllUsers", "READ")}, grants
    assert acl["Owner"]["ID"] == "pub-owner", acl
    owner.put_bucket_acl(Bucket=b, ACL="private")
    assert curl(srv, "/%s/dir/hello.txt" % b)[0] == 403
    acl = owner.get_bucket_acl(Bucket=b)
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"], acl
    # public-read-write lets anyone write and delete; authenticated-read only users read
    owner.put_bucket_acl(Bucket=b, ACL="public-read-write")
    assert curl(srv, "/%s/anon.txt" % b, method="PUT", data="by anyone")[0] == 200
    assert owner.get_object(Bucket=b, Key="anon.txt")["Body"].read() == b"by anyone"
    assert curl(srv, "/%s/anon.txt" % b, method="DELETE")[0] == 204
    owner.put_bucket_acl(Bucket=b, ACL="authenticated-read")
    assert curl(srv, "/%s/dir/hello.txt" % b)[0] == 403
    assert other.get_object(Bucket=b, Key="dir/hello.txt")["Body"].read() == b"hello world"
    # the same through an AccessControlPolicy body
    owner.put_bucket_acl(Bucket=b, AccessControlPolicy={
        "Owner": {"ID": "pub-owner"},
        "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": "pub-owner"}, "Permission": "FULL_CONTROL"},
                   {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
                    "Permission": "READ"}]})
    assert curl(srv, "/%s/dir/hello.txt" % b)[0] == 200
    # grants to anyone else: the bucket does not allow ACLs
    e = expect_error("AccessControlListNotSupported", owner.put_bucket_acl, Bucket=b,
                     AccessControlPolicy={"Owner": {"ID": "pub-owner"}, "Grants": [
                         {"Grantee": {"Type": "CanonicalUser", "ID": "pub-reader"}, "Permission": "READ"}]})
    assert e.response["Error"]["Message"] == "The bucket does not allow ACLs", e.response
    expect_error("AccessControlListNotSupported", owner.put_bucket_acl, Bucket=b,
                 GrantRead='id="pub-reader"')
    expect_error("AccessControlListNotSupported", owner.put_bucket_acl, Bucket=b, ACL="log-delivery-write")
    # a policy deny wins over the ACL
    owner.put_bucket_policy(Bucket=b, Policy=policy(stmt("Deny", "*", "s3:GetObject", arn(b, "dir/*"))))
    assert curl(srv, "/%s/dir/hello.txt" % b)[0] == 403
    owner.delete_bucket_policy(Bucket=b)
    ctl = owner.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"]
    assert ctl["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}], ctl


def test_object_acl(srv):
    c = srv.client()
    b = "pol-objacl"
    c.create_bucket(Bucket=b)
    c.put_object(Bucket=b, Key="open", Body=b"open data", ACL="public-read")
    c.put_object(Bucket=b, Key="closed", Body=b"closed data")
    assert curl(srv, "/%s/open" % b) == (200, b"open data")
    assert curl(srv, "/%s/closed" % b)[0] == 403
    # listing stays private
    assert curl(srv, "/%s" % b)[0] == 403
    acl = c.get_object_acl(Bucket=b, Key="open")
    assert {g["Permission"] for g in acl["Grants"]} == {"FULL_CONTROL", "READ"}, acl
    c.put_object_acl(Bucket=b, Key="open", ACL="private")
    assert curl(srv, "/%s/open" % b)[0] == 403
    assert [g["Permission"] for g in c.get_object_acl(Bucket=b, Key="open")["Grants"]] == ["FULL_CONTROL"]
    c.put_object_acl(Bucket=b, Key="closed", ACL="public-read")
    assert curl(srv, "/%s/closed" % b) == (200, b"closed data")
    # the ACL is the object's, not its headers: nothing leaks as a header
    h = c.head_object(Bucket=b, Key="closed")["ResponseMetadata"]["HTTPHeaders"]
    assert not any(k.startswith("x-cairn") for k in h), h
    # a copy gets the ACL of its request, not the source's
    c.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "closed"})
    assert curl(srv, "/%s/copy" % b)[0] == 403
    c.copy_object(Bucket=b, Key="copy2", CopySource={"Bucket": b, "Key": "closed"}, ACL="public-read")
    assert curl(srv, "/%s/copy2" % b) == (200, b"closed data")
    # multipart: the ACL of CreateMultipartUpload
    u = c.create_multipart_upload(Bucket=b, Key="mpu", ACL="public-read")
    p = c.upload_part(Bucket=b, Key="mpu", UploadId=u["UploadId"], PartNumber=1, Body=b"parted")
    c.complete_multipart_upload(Bucket=b, Key="mpu", UploadId=u["UploadId"],
                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
    assert curl(srv, "/%s/mpu" % b) == (200, b"parted")
    # bad values
    expect_error("AccessControlListNotSupported", c.put_object, Bucket=b, Key="g", Body=b"g",
                 GrantRead='uri="http://acs.amazonaws.com/groups/global/AllUsers"')
    expect_error("InvalidArgument", c.put_object, Bucket=b, Key="g", Body=b"g", ACL="everyone")
    expect_error("NoSuchKey", c.put_object_acl, Bucket=b, Key="absent", ACL="public-read")
    r = raw(srv, "HEAD", "/%s/g" % b)
    assert r.status == 404, r
    # anonymous GET may not override response headers
    code, body = curl(srv, "/%s/closed?response-content-type=text/plain" % b)
    assert code == 400 and b"InvalidRequest" in body, (code, body)


def test_delete_objects_and_copy_per_object(srv):
    owner, _ = user(srv, "dp-owner")
    other, _ = user(srv, "dp-other")
    b, mine = "pol-delmany", "pol-delmany-other"
    owner.create_bucket(Bucket=b)
    other.create_bucket(Bucket=mine)
    for k in ("tmp/a", "tmp/b", "keep/c"):
        owner.put_object(Bucket=b, Key=k, Body=k.encode())
    # no policy: the whole request is refused
    expect_error("AccessDenied", other.delete_objects, Bucket=b,
                 Delete={"Objects": [{"Key": "tmp/a"}]})
    owner.put_bucket_policy(Bucket=b, Policy=policy(
        stmt("Allow", {"AWS": "dp-other"}, ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
             arn(b, "tmp/*"))))
    # writing is not making public: that takes s3:PutObjectAcl too
    other.put_object(Bucket=b, Key="tmp/w", Body=b"w")
    expect_error("AccessDenied", other.put_object, Bucket=b, Key="tmp/pub", Body=b"p", ACL="public-read")
    assert curl(srv, "/%s/tmp/w" % b)[0] == 403
    owner.delete_object(Bucket=b, Key="tmp/w")
    r = other.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "tmp/a"}, {"Key": "keep/c"}]})
    assert [d["Key"] for d in r.get("Deleted", [])] == ["tmp/a"], r
    assert [(e["Key"], e["Code"]) for e in r.get("Errors", [])] == [("keep/c", "AccessDenied")], r
    keys = sorted(o["Key"] for o in owner.list_objects_v2(Bucket=b)["Contents"])
    assert keys == ["keep/c", "tmp/b"], keys
    # a copy needs s3:GetObject on the source and s3:PutObject on the target
    other.copy_object(Bucket=mine, Key="got", CopySource={"Bucket": b, "Key": "tmp/b"})
    assert other.get_object(Bucket=mine, Key="got")["Body"].read() == b"tmp/b"
    expect_error("AccessDenied", other.copy_object, Bucket=mine, Key="got2",
                 CopySource={"Bucket": b, "Key": "keep/c"})
    expect_error("AccessDenied", other.copy_object, Bucket=b, Key="keep/pushed",
                 CopySource={"Bucket": mine, "Key": "got"})
    # owner's explicit deny per key in DeleteObjects
    owner.put_bucket_policy(Bucket=b, Policy=policy(
        stmt("Deny", "*", "s3:DeleteObject", arn(b, "keep/*"))))
    r = owner.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "tmp/b"}, {"Key": "keep/c"}]})
    assert [d["Key"] for d in r.get("Deleted", [])] == ["tmp/b"], r
    assert [(e["Key"], e["Code"]) for e in r.get("Errors", [])] == [("keep/c", "AccessDenied")], r


def test_anonymous_form_upload(srv):
    """A browser form without a POST policy is anonymous: s3:PutObject on
    the form's key decides, as for a PUT."""
    c = srv.client()
    b = "pol-form"
    c.create_bucket(Bucket=b)

    def form(key):
        out = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-F", "key=" + key,
                              "-F", "file=@-;filename=f.txt", srv.endpoint + "/" + b],
                             input=b"form body", capture_output=True, timeout=60, check=True).stdout
        return int(out.rpartition(b"\n")[2])
    assert form("drop/a.txt") == 403
    c.put_bucket_policy(Bucket=b, Policy=policy(stmt("Allow", "*", "s3:PutObject", arn(b, "drop/*"))))
    assert form("drop/a.txt") == 204
    assert c.get_object(Bucket=b, Key="drop/a.txt")["Body"].read() == b"form body"
    assert form("elsewhere/a.txt") == 403
    r = c.list_objects_v2(Bucket=b)
    assert [o["Key"] for o in r["Contents"]] == ["drop/a.txt"], r


def test_policy_status_and_list_buckets(srv):
    c = srv.client()
    b = "pol-status"
    c.create_bucket(Bucket=b)
    for pol, public in [
        (policy(stmt("Allow", {"AWS": "*"}, "s3:GetObject", arn(b, "*"))), True),
        (policy(stmt("Allow", "*", "s3:ListBucket", arn(b),
                     {"StringEquals": {"aws:username": "someone"}})), False),
        (policy(stmt("Allow", "*", "s3:ListBucket", arn(b),
                     {"StringLike": {"s3:prefix": "pub/*"}})), True),
        (policy(stmt("Deny", "*", "s3:GetObject", arn(b, "*"))), False),
        (policy(stmt("Allow", "*", "s3:GetObject", arn(b, "*"),
                     {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})), True),
    ]:
        c.put_bucket_policy(Bucket=b, Policy=pol)
        st = c.get_bucket_policy_status(Bucket=b)["PolicyStatus"]
        assert st["IsPublic"] is public, (pol, st)
    # ListBuckets shows a user its own buckets only, whatever a policy grants
    other, _ = user(srv, "st-user")
    c.put_bucket_policy(Bucket=b, Policy=policy(stmt("Allow", "*", "s3:*", [arn(b), arn(b, "*")])))
    other.create_bucket(Bucket="pol-status-own")
    names = [x["Name"] for x in other.list_buckets()["Buckets"]]
    assert names == ["pol-status-own"], names
    # s3:* to everyone still leaves the policy calls to the owner
    expect_error("MethodNotAllowed", other.delete_bucket_policy, Bucket=b)
    assert c.get_bucket_policy(Bucket=b)["Policy"]


if __name__ == "__main__":
    run_tests(globals(), setup=Server)
