"""Bucket lifecycle: Put/Get/DeleteBucketLifecycleConfiguration through
boto3 (and the older PutBucketLifecycle form), every validation error with
S3's code and message, and the background worker on a server whose
lifecycle "day" lasts one second (--lifecycle-day-seconds 1, a pass every
200 ms): expiration by days and by date with prefix and size filters
(objects outside the filter survive), tag filters, disabled rules, on
versioning buckets expiration as a delete marker, noncurrent versions
(NewerNoncurrentVersions kept) and lone delete markers, abort of incomplete
multipart uploads (their parts' chunks become unreferenced), the
cairn_lifecycle_* counters and the per-bucket log line, and a prompt stop
on SIGTERM.  Every wait is bounded.
"""
import base64
import hashlib
import json
import os
import re
import signal
import datetime
import time
import urllib.request

from cairn_test import Server, bucket_maker, expect_error, raw, run_tests

WAIT_S = 20          # longest wait for the worker to act
SETTLE_S = 3         # passes to let run before checking that something survived
new_bucket = bucket_maker("lc")


def keys(c, b):
    return sorted(o["Key"] for o in c.list_objects_v2(Bucket=b).get("Contents", []))


def wait_for(what, fn):
    """Poll fn until it returns a true value, for at most WAIT_S seconds."""
    deadline = time.time() + WAIT_S
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("waited %d s for %s" % (WAIT_S, what))
        time.sleep(0.2)


def settles_at(what, fn, want):
    """Wait (bounded) until fn() == want, let a few passes run, and check
    that it stays so: the worker took what it should and nothing more."""
    wait_for(what, lambda: fn() == want)
    time.sleep(SETTLE_S)
    got = fn()
    assert got == want, (what, got, want)


def grew(before, after, counter, by):
    name = "cairn_lifecycle_%s_total" % counter
    assert after[name] >= before[name] + by, (name, before[name], after[name])


def metrics(srv):
    text = urllib.request.urlopen(srv.endpoint + "/_cairn/metrics", timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(cairn_[a-z_]+) (\d+)$", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def lifecycle_xml(rules):
    return ('<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">%s'
            '</LifecycleConfiguration>' % rules).encode()


def put_raw(srv, bucket, body, headers=None):
    h = {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}
    h.update(headers or {})
    return raw(srv, "PUT", "/%s?lifecycle" % bucket, headers=h, body=body)


# ---- configuration API ------------------------------------------------------

def test_config_round_trip(srv):
    c = srv.client()
    b = new_bucket(c, "api")
    expect_error("NoSuchLifecycleConfiguration", c.get_bucket_lifecycle_configuration, Bucket=b)
    rules = [
        {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
         "Expiration": {"Days": 30}},
        {"ID": "sized", "Status": "Disabled",
         "Filter": {"And": {"Prefix": "data/", "ObjectSizeGreaterThan": 1024,
                            "ObjectSizeLessThan": 1048576,
                            "Tags": [{"Key": "class", "Value": "scratch"}]}},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 3}},
        {"ID": "uploads", "Status": "Enabled", "Filter": {},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
        {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": ""},
         "Expiration": {"ExpiredObjectDeleteMarker": True}},
        {"ID": "tagged", "Status": "Enabled", "Filter": {"Tag": {"Key": "t", "Value": "1"}},
         "Expiration": {"Date": "2031-06-01T00:00:00Z"}},
        {"Status": "Enabled", "Filter": {"ObjectSizeLessThan": 10}, "Expiration": {"Days": 1}},
    ]
    c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": rules})
    got = c.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]
    assert len(got) == 6, got
    by_id = {r["ID"]: r for r in got}
    assert by_id["logs"]["Filter"] == {"Prefix": "logs/"}, by_id["logs"]
    assert by_id["logs"]["Expiration"] == {"Days": 30}
    assert by_id["sized"]["Status"] == "Disabled"
    assert by_id["sized"]["Filter"]["And"] == rules[1]["Filter"]["And"], by_id["sized"]
    assert by_id["sized"]["NoncurrentVersionExpiration"] == rules[1]["NoncurrentVersionExpiration"]
    assert by_id["uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    assert by_id["uploads"]["Filter"] == {}, by_id["uploads"]
    assert by_id["markers"]["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    assert by_id["tagged"]["Filter"] == {"Tag": {"Key": "t", "Value": "1"}}
    d = by_id["tagged"]["Expiration"]["Date"]
    assert (d.year, d.month, d.day, d.hour) == (2031, 6, 1, 0), d
    generated = [r for r in got if r["ID"] not in ("logs", "sized", "uploads", "markers", "tagged")]
    assert len(generated) == 1 and len(generated[0]["ID"]) > 0, got   # S3 names a rule without ID
    assert generated[0]["Filter"] == {"ObjectSizeLessThan": 10}

    # a second put replaces the whole configuration
    c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [rules[0]]})
    got = c.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]
    assert [r["ID"] for r in got] == ["logs"], got

    c.delete_bucket_lifecycle(Bucket=b)
    expect_error("NoSuchLifecycleConfiguration", c.get_bucket_lifecycle_configuration, Bucket=b)
    r = raw(srv, "DELETE", "/%s?lifecycle" % b)
    assert r.status == 204, r          # deleting nothing is fine, as in S3


def test_legacy_prefix_form(srv):
    """PutBucketLifecycle's rules name a top-level Prefix; GET answers them so."""
    c = srv.client()
    b = new_bucket(c, "v1")
    body = lifecycle_xml("<Rule><ID>tmp</ID><Prefix>tmp/</Prefix><Status>Enabled</Status>"
                         "<Expiration><Days>3</Days></Expiration></Rule>")
    r = put_raw(srv, b, body)
    assert r.status == 200, r
    got = c.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]
    assert got[0].get("Prefix") == "tmp/" and "Filter" not in got[0], got
    old = c.get_bucket_lifecycle(Bucket=b)["Rules"]
    assert old[0]["Prefix"] == "tmp/" and old[0]["Expiration"]["Days"] == 3, old


def test_access(srv):
    c = srv.client()
    b = new_bucket(c, "acc")
    expect_error("NoSuchBucket", c.get_bucket_lifecycle_configuration, Bucket="lc-none-here")
    expect_error("NoSuchBucket", c.delete_bucket_lifecycle, Bucket="lc-none-here")
    r = put_raw(srv, "lc-none-here", lifecycle_xml(
        "<Rule><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>"))
    assert r.status == 404 and r.error()["Code"] == "NoSuchBucket", r
    ak, sk = srv.add_user("lcother")
    other = srv.client(key=ak, secret=sk)
    expect_error("AccessDenied", other.get_bucket_lifecycle_configuration, Bucket=b)
    expect_error("AccessDenied", other.put_bucket_lifecycle_configuration, Bucket=b,
                 LifecycleConfiguration={"Rules": [{"Status": "Enabled", "Filter": {},
                                                    "Expiration": {"Days": 1}}]})
    expect_error("AccessDenied", other.delete_bucket_lifecycle, Bucket=b)


RULE = "<Rule><ID>%s</ID><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>"

BAD = [
    # (rules, status, code, message or None)
    ("", 400, "MalformedXML", None),
    ("<Rule><Status>Maybe</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>",
     400, "MalformedXML", None),
    ("<Rule><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>",
     400, "MalformedXML", None),
    ("<Rule><Status>Enabled</Status><Filter/><Prefix>a</Prefix>"
     "<Expiration><Days>1</Days></Expiration></Rule>", 400, "InvalidRequest",
     "Base level prefix cannot be used in Lifecycle V2, prefixes are only supported in the Filter."),
    ("<Rule><Status>Enabled</Status><Filter/></Rule>", 400, "InvalidRequest",
     "At least one action needs to be specified in a rule"),
    ("<Rule><Status>Enabled</Status><Filter/><Expiration><Days>0</Days></Expiration></Rule>",
     400, "InvalidArgument", "'Days' for Expiration action must be a positive integer"),
    ("<Rule><Status>Enabled</Status><Filter/><Expiration><Days>-5</Days></Expiration></Rule>",
     400, "InvalidArgument", "'Days' for Expiration action must be a positive integer"),
    ("<Rule><Status>Enabled</Status><Filter/><Expiration><Days>1</Days>"
     "<Date>2030-01-01T00:00:00Z</Date></Expiration></Rule>", 400, "MalformedXML", None),
    ("<Rule><Status>Enabled</Status><Filter/><Expiration><Date>2030-01-01T12:00:00Z</Date>"
     "</Expiration></Rule>", 400, "InvalidArgument", "'Date' must be at midnight GMT"),
    ("<Rule><Status>Enabled</Status><Filter/><Expiration><Date>yesterday</Date>"
     "</Expiration></Rule>", 400, "MalformedXML", None),
    ("<Rule><Status>Enabled</Status><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"
     "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>",
     400, "InvalidRequest", "ExpiredObjectDeleteMarker cannot be specified with Tags."),
    ("<Rule><Status>Enabled</Status><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"
     "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
     "</AbortIncompleteMultipartUpload></Rule>",
     400, "InvalidRequest", "AbortIncompleteMultipartUpload cannot be specified with Tags."),
    ("<Rule><Status>Enabled</Status><Filter><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan>"
     "</Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
     "</AbortIncompleteMultipartUpload></Rule>",
     400, "InvalidRequest", "AbortIncompleteMultipartUpload cannot be specified with Object Size."),
    ("<Rule><Status>Enabled</Status><Filter/><AbortIncompleteMultipartUpload>"
     "<DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>",
     400, "InvalidArgument",
     "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer"),
    ("<Rule><Status>Enabled</Status><Filter/><NoncurrentVersionExpiration>"
     "<NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration></Rule>",
     400, "InvalidArgument",
     "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"),
    ("<Rule><Status>Enabled</Status><Filter/><NoncurrentVersionExpiration>"
     "<NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>0</NewerNoncurrentVersions>"
     "</NoncurrentVersionExpiration></Rule>",
     400, "InvalidArgument", "'NewerNoncurrentVersions' must be a positive integer"),
    ("<Rule><Status>Enabled</Status><Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan>"
     "<ObjectSizeLessThan>5</ObjectSizeLessThan></And></Filter>"
     "<Expiration><Days>1</Days></Expiration></Rule>", 400, "InvalidRequest",
     "'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'."),
    ("<Rule><Status>Enabled</Status><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value>"
     "</Tag></Filter><Expiration><Days>1</Days></Expiration></Rule>", 400, "MalformedXML", None),
    ("<Rule><Status>Enabled</Status><Filter><And><Tag><Key>k</Key><Value>1</Value></Tag>"
     "<Tag><Key>k</Key><Value>2</Value></Tag></And></Filter>"
     "<Expiration><Days>1</Days></Expiration></Rule>", 400, "InvalidRequest",
     "Duplicate Tag Keys are not allowed."),
    (RULE % "same" + RULE % "same", 400, "InvalidArgument",
     "Rule ID must be unique. Found same ID for more than one rule"),
    (RULE % ("x" * 256), 400, "InvalidArgument", "ID length should not exceed allowed limit of 255"),
    ("".join(RULE % ("r%d" % i) for i in range(1001)), 400, "InvalidRequest",
     "The number of lifecycle rules must not exceed the allowed limit of 1000 rules."),
    ("<Rule><ID>a</ID><Prefix>logs/</Prefix><Status>Enabled</Status><Expiration><Days>1</Days>"
     "</Expiration></Rule><Rule><ID>b</ID><Prefix>logs/2024/</Prefix><Status>Enabled</Status>"
     "<Expiration><Days>9</Days></Expiration></Rule>", 400, "InvalidRequest",
     "Found overlapping prefixes 'logs/' and 'logs/2024/' for same action type 'Expiration'"),
    # one storage class: a transition is refused, clearly
    ("<Rule><Status>Enabled</Status><Filter/><Transition><Days>30</Days>"
     "<StorageClass>GLACIER</StorageClass></Transition></Rule>", 501, "NotImplemented", None),
]


def test_validation_errors(srv):
    c = srv.client()
    b = new_bucket(c, "bad")
    for rules, status, code, message in BAD:
        r = put_raw(srv, b, lifecycle_xml(rules))
        assert r.status == status, (rules[:200], r)
        e = r.error()
        assert e["Code"] == code, (rules[:200], e)
        if message:
            assert e["Message"] == message, (rules[:200], e)
        if code == "NotImplemented":
            assert "Transition" in e["Message"], e
    for body in (b"not xml", b"<Other/>", b""):
        r = put_raw(srv, b, body)
        assert r.status == 400 and r.error()["Code"] == "MalformedXML", (body, r)
    good = lifecycle_xml(RULE % "ok")
    r = put_raw(srv, b, good, {"Content-MD5": base64.b64encode(hashlib.md5(b"x").digest()).decode()})
    assert r.status == 400 and r.error()["Code"] == "BadDigest", r
    # nothing above was stored
    expect_error("NoSuchLifecycleConfiguration", c.get_bucket_lifecycle_configuration, Bucket=b)
    # the same through boto3: its error names S3's code and message
    e = expect_error("InvalidArgument", c.put_bucket_lifecycle_configuration, Bucket=b,
                     LifecycleConfiguration={"Rules": [{"Status": "Enabled", "Filter": {},
                                                        "Expiration": {"Days": 0}}]})
    assert e.response["Error"]["Message"] == \
        "'Days' for Expiration action must be a positive integer", e.response


# ---- the worker -------------------------------------------------------------

def test_expiration_days_with_prefix(srv):
    c = srv.client()
    b = new_bucket(c, "days")
    before = metrics(srv)
    for k in ("logs/a", "logs/b/c", "keep/x", "logsx"):
        c.put_object(Bucket=b, Key=k, Body=b"data " + k.encode())
    c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
         "Expiration": {"Days": 1}}]})
    settles_at("logs/ to expire", lambda: keys(c, b), ["keep/x", "logsx"])
    after = metrics(srv)
    grew(before, after, "expired", 2)
    grew(before, after, "passes", 1)
    assert after["cairn_lifecycle_errors_total"] == 0, after
    # one JSON line per pass per bucket, with the counts as fields
    with open(srv.log_path, errors="replace") as f:
        lines = [json.loads(l) for l in f if '"lifecycle pass"' in l]
    mine = [l for l in lines if l.get("bucket") == b]
    assert mine and sum(l["expired"] for l in mine) == 2, mine[-3:]
    for field in ("noncurrent_removed", "delete_markers_removed", "uploads_aborted", "errors"):
        assert field in mine[-1], mine[-1]


def test_expiration_date(srv):
    c = srv.client()
    b = new_bucket(c, "date")
    for k in ("old/1", "old/2", "new/1"):
        c.put_object(Bucket=b, Key=k, Body=b"x")
    c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "past", "Status": "Enabled", "Filter": {"Prefix": "old/"},
         "Expiration": {"Date": "2020-01-01T00:00:00Z"}},
        {"ID": "future", "Status": "Enabled", "Filter": {"Prefix": "new/"},
         "Expiration": {"Date": "2999-01-01T00:00:00Z"}}]})
    settles_at("old/ to expire", lambda: keys(c, b), ["new/1"])


def test_size_filters_and_disabled_rules(srv):
    c = srv.client()
    b = new_bucket(c, "size")
    sizes = {"s/tiny": 10, "s/mid": 500, "s/big": 5000, "t/mid": 500, "d/any": 500}
    for k, n in sizes.items():
        c.put_object(Bucket=b, Key=k, Body=b"z" * n)
    c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "mid", "Status": "Enabled",
         "Filter": {"And": {"Prefix": "s/", "ObjectSizeGreaterThan": 100,
                            "ObjectSizeLessThan": 1000}},
         "Expiration": {"Days": 1}},
        {"ID": "small", "Status": "Enabled", "Filter": {"ObjectSizeLessThan": 11},
         "Expiration": {"Days": 1}},
        {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "d/"},
         "Expiration": {"Days": 1}}]})
    want = ["d/any", "s/big", "t/mid"]
    settles_at("the sized objects to expire", lambda: keys(c, b), want)


def test_tag_filter(srv):
    c = srv.client()
    b = new_bucket(c, "tags")
    c.put_object(Bucket=b, Key="t/tmp", Body=b"x", Tagging="env=tmp&team=a")
    c.put_object(Bucket=b, Key="t/prod", Body=b"x", Tagging="env=prod&team=a")
    c.put_object(Bucket=b, Key="t/untagged", Body=b"x")
    c.put_object(Bucket=b, Key="t/later", Body=b"x")
    c.put_object(Bucket=b, Key="u/tmp", Body=b"x", Tagging="env=tmp&team=a")
    c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "tmp", "Status": "Enabled",
         "Filter": {"And": {"Prefix": "t/", "Tags": [{"Key": "env", "Value": "tmp"},
                                                     {"Key": "team", "Value": "a"}]}},
         "Expiration": {"Days": 1}}]})
    # tags set after the upload count too
    c.put_object_tagging(Bucket=b, Key="t/later", Tagging={"TagSet": [
        {"Key": "team", "Value": "a"}, {"Key": "env", "Value": "tmp"}]})
    want = ["t/prod", "t/untagged", "u/tmp"]
    settles_at("the tagged objects to expire", lambda: keys(c, b), want)


def test_overwrite_restarts_the_clock(srv):
    """An object written again is judged by its new creation time."""
    c = srv.client()
    b = new_bucket(c, "over")
    c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "d3", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 4}}]})
    c.put_object(Bucket=b, Key="k", Body=b"one")
    deadline = time.time() + 6
    while time.time() < deadline:   # rewrite it every second: it never gets 4 days old
        c.put_object(Bucket=b, Key="k", Body=b"again")
        time.sleep(1)
        assert keys(c, b) == ["k"]
    wait_for("k to expire once left alone", lambda: keys(c, b) == [])


def test_abort_incomplete_multipart_upload(srv):
    c = srv.client()
    b = new_bucket(c, "mpu")
    part = os.urandom(300 << 10)      # above the inline size: stored as chunks
    up = c.create_multipart_upload(Bucket=b, Key="up/big")["UploadId"]
    c.upload_part(Bucket=b, Key="up/big", UploadId=up, PartNumber=1, Body=part)
    other = c.create_multipart_upload(Bucket=b, Key="elsewhere")["UploadId"]
    before = metrics(srv)
    c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "abort", "Status": "Enabled", "Filter": {"Prefix": "up/"},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]})

    def remaining():
        return sorted(u["Key"] for u in c.list_multipart_uploads(Bucket=b).get("Uploads", []))
    wait_for("the upload to be aborted", lambda: remaining() == ["elsewhere"])
    after = metrics(srv)
    grew(before, after, "uploads_aborted", 1)
    # the part's chunks lost their last reference (the collector takes them later)
    assert after["cairn_unused_chunks"] >= before["cairn_unused_chunks"] + 1, (before, after)
    expect_error("NoSuchUpload", c.list_parts, Bucket=b, Key="up/big", UploadId=up)
    time.sleep(SETTLE_S)
    assert remaining() == ["elsewhere"]
    c.abort_multipart_upload(Bucket=b, Key="elsewhere", UploadId=other)


def test_noncurrent_versions(srv):
    c = srv.client()
    b = new_bucket(c, "nc")
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    ids = []
    for i in range(5):
        ids.append(c.put_object(Bucket=b, Key="k", Body=b"v%d" % i)["VersionId"])
    for i in range(3):
        c.put_object(Bucket=b, Key="other/x", Body=b"o%d" % i)
    before = metrics(srv)
    c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "nc", "Status": "Enabled", "Filter": {"Prefix": "k"},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 2}}]})

    def left():
        r = c.list_object_versions(Bucket=b, Prefix="k")
        return sorted(v["VersionId"] for v in r.get("Versions", []))
    want = sorted(ids[2:])   # the current one and the two newest noncurrent ones
    settles_at("noncurrent versions to go", lambda: left(), want)
    assert c.get_object(Bucket=b, Key="k")["Body"].read() == b"v4"
    r = c.list_object_versions(Bucket=b, Prefix="other/")
    assert len(r.get("Versions", [])) == 3, r      # outside the filter
    after = metrics(srv)
    grew(before, after, "noncurrent_removed", 2)


def test_object_lock_outranks_noncurrent_expiration(srv):
    """A noncurrent version under retention or a legal hold stays, the
    others of the same key go (the retention date is real time: the
    test's one-second days do not shorten it)."""
    c = srv.client()
    b = new_bucket(c, "lock", ObjectLockEnabledForBucket=True)
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    kept = c.put_object(Bucket=b, Key="k", Body=b"v0", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=until)["VersionId"]
    held = c.put_object(Bucket=b, Key="k", Body=b"v1", ObjectLockLegalHoldStatus="ON")["VersionId"]
    c.put_object(Bucket=b, Key="k", Body=b"v2")
    current = c.put_object(Bucket=b, Key="k", Body=b"v3")["VersionId"]
    c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "nc", "Status": "Enabled", "Filter": {},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})

    def left():
        r = c.list_object_versions(Bucket=b, Prefix="k")
        return sorted(v["VersionId"] for v in r.get("Versions", []))
    settles_at("unlocked noncurrent versions to go", left, sorted([kept, held, current]))


def test_expired_delete_markers(srv):
    c = srv.client()
    b = new_bucket(c, "dm")
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    # lone: the only version left is a delete marker
    v = c.put_object(Bucket=b, Key="lone", Body=b"x")["VersionId"]
    c.delete_object(Bucket=b, Key="lone")
    c.delete_object(Bucket=b, Key="lone", VersionId=v)
    # covered: a delete marker over a version stays
    c.put_object(Bucket=b, Key="covered", Body=b"x")
    c.delete_object(Bucket=b, Key="covered")
    before = metrics(srv)
    c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "markers", "Status": "Enabled", "Filter": {},
         "Expiration": {"ExpiredObjectDeleteMarker": True}}]})

    def markers():
        r = c.list_object_versions(Bucket=b)
        return sorted(m["Key"] for m in r.get("DeleteMarkers", []))
    settles_at("the lone marker to go", lambda: markers(), ["covered"])
    r = c.list_object_versions(Bucket=b)
    assert [v["Key"] for v in r.get("Versions", [])] == ["covered"], r
    after = metrics(srv)
    grew(before, after, "delete_markers_removed", 1)


def test_expiration_on_versioned_bucket_adds_marker(srv):
    c = srv.client()
    b = new_bucket(c, "vx")
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    vid = c.put_object(Bucket=b, Key="e/1", Body=b"data")["VersionId"]
    c.put_object(Bucket=b, Key="f/1", Body=b"data")
    c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "e", "Status": "Enabled", "Filter": {"Prefix": "e/"}, "Expiration": {"Days": 1}}]})
    wait_for("e/1 to expire", lambda: keys(c, b) == ["f/1"])
    r = c.list_object_versions(Bucket=b, Prefix="e/")
    assert [v["VersionId"] for v in r.get("Versions", [])] == [vid], r   # kept, noncurrent
    assert len(r.get("DeleteMarkers", [])) == 1 and r["DeleteMarkers"][0]["IsLatest"], r
    # the old version still reads by id; the marker is not alone, so it stays
    assert c.get_object(Bucket=b, Key="e/1", VersionId=vid)["Body"].read() == b"data"
    time.sleep(SETTLE_S)
    r = c.list_object_versions(Bucket=b, Prefix="e/")
    assert len(r.get("DeleteMarkers", [])) == 1 and len(r.get("Versions", [])) == 1, r


def test_delete_configuration_stops_expiration(srv):
    c = srv.client()
    b = new_bucket(c, "stop")
    c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "x", "Status": "Enabled", "Filter": {"Prefix": "a/"}, "Expiration": {"Days": 1}}]})
    c.delete_bucket_lifecycle(Bucket=b)
    c.put_object(Bucket=b, Key="a/kept", Body=b"x")
    time.sleep(SETTLE_S + 1)
    assert keys(c, b) == ["a/kept"]


def test_sigterm_stops_promptly(srv):
    """A server with a busy worker still stops at once on SIGTERM."""
    other = Server("--lifecycle-day-seconds", "1", "--lifecycle-interval-ms", "50")
    try:
        c = other.client()
        b = new_bucket(c, "term")
        c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
            {"ID": "x", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 100}}]})
        for i in range(50):
            c.put_object(Bucket=b, Key="k%03d" % i, Body=b"x")
        time.sleep(0.5)
        t = time.time()
        other.stop()                 # asserts exit status 0
        assert time.time() - t < 5, time.time() - t
    finally:
        other.close()


def setup():
    return Server("--lifecycle-day-seconds", "1", "--lifecycle-interval-ms", "200")


run_tests(globals(), setup)
