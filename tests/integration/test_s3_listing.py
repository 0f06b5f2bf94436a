"""ListObjects (V1 and V2), ListBuckets, HeadBucket, GetBucketLocation
through boto3, checked against a Python model of S3's listing semantics.

The model: keys sorted by their UTF-8 bytes; with a delimiter, every key
whose remainder after the prefix holds the delimiter rolls up into one
common prefix, and a common prefix counts as one entry toward max-keys;
a marker / start-after / continuation point skips everything that sorts at
or before it (a rolled-up prefix equal to the marker is not returned
again); IsTruncated says whether entries remain.

boto3 sets encoding-type=url on every listing it sends and decodes the
answer itself, so the plain checks go through that path; the encoded form
is checked by passing EncodingType='url' explicitly (boto3 then leaves the
values alone), and the un-encoded XML (escaping of & < > " ') with raw
SigV4-signed requests (helper raw_request below: the harness has none).
"""
import concurrent.futures
import hashlib
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cairn_test import Server, bucket_maker, expect_error, run_tests

S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"

LONG = "p" * 600
# A designed key set: neighbours that differ only after a delimiter, keys
# that end in the delimiter, characters that need escaping in URLs and XML,
# multi-byte UTF-8 whose byte order differs from UTF-16 order (U+FF21 sorts
# before U+1F600 in UTF-8, after it in UTF-16), keys of exactly 1024 bytes,
# keys over 511 bytes sharing a 600-byte prefix, and control characters
# (listed only with encoding-type=url: XML 1.0 cannot carry all of them).
KEYS = [
    "a", "a/", "a/b", "a/b/c", "a/b/c/d", "a/bc", "a//double", "a-b", "a-b-c", "a-b/c",
    "a.b", "ab", "b", "b/x/y", "c d/e f", "plus+sign", "plus/1+1=2", "pct%41lit", "pct/%2F",
    "amp&key", "lt<gt>", "quote\"apos'", "semi;colon,comma=eq?q#h", "unicode/\u00e9",
    "unicode/\u65e5\u672c\u8a9e/\u30d5\u30a1\u30a4\u30eb", "unicode/\uff21full",
    "unicode/\U0001F600emoji", "unicode/\u03a9-omega", "Upper/Z", "~tilde", "!bang", "0digit",
    "long/" + LONG + "/one", "long/" + LONG + "/two", "long/" + LONG + "x", "long/" + "p" * 599 + "q",
    "max/" + "m" * 1020, "max/" + "\u00e9" * 510,
    "ctl/tab\there", "ctl/soh\x01here", "ctl/nl\nhere", "ctl/us\x1fhere",
]
assert len(("max/" + "m" * 1020).encode()) == 1024 and len(("max/" + "\u00e9" * 510).encode()) == 1024

new_bucket = bucket_maker("lst")


def short(x):
    """repr with long runs of one character abbreviated, for messages."""
    return re.sub(r"(.)\1{15,}", lambda m: "%s{%d}" % (m.group(1), len(m.group(0))), repr(x))


def put_many(c, bucket, keys, workers=8, body=lambda k: b"x"):
    keys = list(keys)
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        list(ex.map(lambda k: c.put_object(Bucket=bucket, Key=k, Body=body(k)), keys))


def designed_bucket(c, tag):
    b = new_bucket(c, tag)
    put_many(c, b, KEYS, body=lambda k: k.encode())
    return b


def b8(s):
    return s.encode("utf-8")


def model(keys, prefix="", delim=None, after=None, max_keys=1000):
    """S3 listing semantics: ([(name, is_prefix)], truncated)."""
    out = []
    for k in sorted(set(keys), key=b8):
        if not k.startswith(prefix):
            continue
        if after is not None and b8(k) <= b8(after):
            continue
        if delim:
            i = k.find(delim, len(prefix))
            if i >= 0:
                cp = k[:i + len(delim)]
                if after is not None and b8(cp) <= b8(after):
                    continue
                if out and out[-1] == (cp, True):
                    continue
                out.append((cp, True))
                continue
        out.append((k, False))
    return out[:max_keys], len(out) > max_keys


def split(entries):
    return [n for n, p in entries if not p], [n for n, p in entries if p]


def got(resp):
    return ([o["Key"] for o in resp.get("Contents", [])],
            [p["Prefix"] for p in resp.get("CommonPrefixes", [])])


def lv1(c, bucket, **kw):
    return c.list_objects(Bucket=bucket, **kw)


def lv2(c, bucket, **kw):
    return c.list_objects_v2(Bucket=bucket, **kw)


def kwargs_for(prefix, delim):
    kw = {}
    if prefix:
        kw["Prefix"] = prefix
    if delim:
        kw["Delimiter"] = delim
    return kw


def raw_request(srv, method, path, query=(), headers=None, body=b""):
    """A SigV4-signed request with exactly the given query (list of pairs,
    encoded here): returns (status, headers, body bytes)."""
    qs = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
                  for k, v in query)
    url = srv.endpoint + urllib.parse.quote(path, safe="/-_.~") + ("?" + qs if qs else "")
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    S3SigV4Auth(Credentials(srv.key, srv.secret), "s3", "us-east-1").add_auth(req)
    hdrs = {k: v for k, v in req.headers.items()}
    ureq = urllib.request.Request(url, data=body if body else None, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(ureq, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def xml_list(body):
    root = ET.fromstring(body)
    assert root.tag == S3NS + "ListBucketResult", root.tag
    keys = [e.findtext(S3NS + "Key") for e in root.findall(S3NS + "Contents")]
    cps = [e.findtext(S3NS + "Prefix") for e in root.findall(S3NS + "CommonPrefixes")]
    return root, keys, cps


# ---------------------------------------------------------------------------

def test_full_listing_v1_v2(srv):
    c = srv.client()
    b = designed_bucket(c, "full")
    want, trunc = model(KEYS)
    assert not trunc
    for fn in (lv1, lv2):
        r = fn(c, b)
        keys, cps = got(r)
        assert keys == split(want)[0], "%s: order/contents differ:\n%s\n%s" % (
            fn.__name__, short(keys), short(split(want)[0]))
        assert cps == [], cps
        assert r["IsTruncated"] is False
        assert r["MaxKeys"] == 1000, r["MaxKeys"]
        assert r["Name"] == b
        for o in r["Contents"]:
            assert o["Size"] == len(o["Key"].encode()), (o["Key"], o["Size"])
            assert o["ETag"].strip('"') == hashlib.md5(o["Key"].encode()).hexdigest(), o
            assert o["StorageClass"] == "STANDARD"
            assert "LastModified" in o
        if fn is lv1:
            assert all("Owner" in o for o in r["Contents"]), "V1 lists Owner by default"
            assert "NextMarker" not in r
        else:
            assert r["KeyCount"] == len(KEYS), r["KeyCount"]
            assert all("Owner" not in o for o in r["Contents"]), "V2 lists Owner only with fetch-owner"
            assert "NextContinuationToken" not in r
    r = lv2(c, b, FetchOwner=True)
    assert all(o.get("Owner", {}).get("ID") for o in r["Contents"]), "FetchOwner=True must list Owner/ID"
    r = lv2(c, b, FetchOwner=False)
    assert all("Owner" not in o for o in r["Contents"])


PREFIXES = ["", "a", "a/", "a/b", "a/b/", "a-", "unicode/", "long/", "long/" + LONG, "max/",
            "c d/", "plus+", "pct%", "ctl/", "nonexistent", "\u00e9"]
DELIMS = [None, "/", "-", "b/", "+"]


def test_prefix_and_delimiter(srv):
    c = srv.client()
    b = designed_bucket(c, "pfx")
    for prefix in PREFIXES:
        for delim in DELIMS:
            want, trunc = model(KEYS, prefix, delim)
            wk, wp = split(want)
            for fn in (lv1, lv2):
                r = fn(c, b, **kwargs_for(prefix, delim))
                keys, cps = got(r)
                ctx = "%s prefix=%r delimiter=%r" % (fn.__name__, prefix, delim)
                assert keys == wk, "%s keys:\n got %s\nwant %s" % (short(ctx), short(keys), short(wk))
                assert cps == wp, "%s prefixes:\n got %s\nwant %s" % (short(ctx), short(cps), short(wp))
                assert r["IsTruncated"] is False, ctx
                if delim:
                    assert r.get("Delimiter") == delim, (ctx, r.get("Delimiter"))
                else:
                    assert "Delimiter" not in r, ctx
                if fn is lv2:
                    assert r["KeyCount"] == len(want), (ctx, r["KeyCount"], len(want))
                    assert r.get("Prefix", "") == prefix, (ctx, r.get("Prefix"))


def page_v1(c, b, prefix, delim, mk, limit=200):
    """Page with max-keys=mk; check every page against the model."""
    marker = None
    entries = []
    for _ in range(limit):
        kw = kwargs_for(prefix, delim)
        kw["MaxKeys"] = mk
        if marker is not None:
            kw["Marker"] = marker
        r = lv1(c, b, **kw)
        want, trunc = model(KEYS, prefix, delim, marker, mk)
        ctx = "V1 prefix=%r delim=%r max-keys=%d marker=%r" % (prefix, delim, mk, marker)
        keys, cps = got(r)
        assert (keys, cps) == split(want), "%s:\n got %s\nwant %s" % (
            short(ctx), short((keys, cps)), short(split(want)))
        assert r["IsTruncated"] == trunc, ctx
        assert r["MaxKeys"] == mk, ctx
        assert r.get("Marker", "") == (marker or ""), (ctx, r.get("Marker"))
        if delim and trunc:
            assert r.get("NextMarker") == want[-1][0], (ctx, r.get("NextMarker"), want[-1][0])
        else:
            assert "NextMarker" not in r, "%s: NextMarker only with a delimiter and truncation: %r" % (
                ctx, r.get("NextMarker"))
        entries += want
        if not trunc:
            return entries
        marker = r.get("NextMarker") or keys[-1]
    raise AssertionError("V1 paging did not end")


def page_v2(c, b, prefix, delim, mk, limit=200):
    token = None
    after = None
    entries = []
    for _ in range(limit):
        kw = kwargs_for(prefix, delim)
        kw["MaxKeys"] = mk
        if token is not None:
            kw["ContinuationToken"] = token
        r = lv2(c, b, **kw)
        want, trunc = model(KEYS, prefix, delim, after, mk)
        ctx = "V2 prefix=%r delim=%r max-keys=%d after=%r" % (prefix, delim, mk, after)
        keys, cps = got(r)
        assert (keys, cps) == split(want), "%s:\n got %s\nwant %s" % (
            short(ctx), short((keys, cps)), short(split(want)))
        assert r["IsTruncated"] == trunc, ctx
        assert r["KeyCount"] == len(want), (ctx, r["KeyCount"])
        assert r["MaxKeys"] == mk, ctx
        if token is not None:
            assert r.get("ContinuationToken") == token, ctx
        entries += want
        if not trunc:
            assert "NextContinuationToken" not in r, ctx
            return entries
        token = r.get("NextContinuationToken")
        assert token, "%s: truncated without NextContinuationToken" % ctx
        after = want[-1][0]
    raise AssertionError("V2 paging did not end")


def test_paging_matches_full_listing(srv):
    c = srv.client()
    b = designed_bucket(c, "page")
    for prefix, delim in [("", None), ("", "/"), ("a", "/"), ("a", "-"), ("", "b/"), ("long/", "/"),
                          ("unicode/", None)]:
        full, _ = model(KEYS, prefix, delim)
        for mk in range(1, 8):
            e1 = page_v1(c, b, prefix, delim, mk)
            e2 = page_v2(c, b, prefix, delim, mk)
            assert e1 == full and e2 == full, (prefix, delim, mk)


def test_max_keys(srv):
    c = srv.client()
    b = designed_bucket(c, "mk")
    full, _ = model(KEYS)
    for mk in (1, 2, 1000):
        want, trunc = model(KEYS, max_keys=mk)
        for fn in (lv1, lv2):
            r = fn(c, b, MaxKeys=mk)
            assert got(r) == split(want), (fn.__name__, mk)
            assert r["IsTruncated"] == trunc == (mk < len(full)), (fn.__name__, mk)
            assert r["MaxKeys"] == mk
    for fn in (lv1, lv2):
        r = fn(c, b, MaxKeys=0)
        assert got(r) == ([], []), (fn.__name__, got(r))
        assert r["MaxKeys"] == 0
        assert r["IsTruncated"] is False, "max-keys=0 answers IsTruncated=false (as S3)"
        if fn is lv2:
            assert r["KeyCount"] == 0
            assert "NextContinuationToken" not in r
    # exactly max-keys entries left: not truncated
    n = len(full)
    r = lv2(c, b, MaxKeys=n)
    assert r["KeyCount"] == n and r["IsTruncated"] is False
    r = lv2(c, b, MaxKeys=n - 1)
    assert r["KeyCount"] == n - 1 and r["IsTruncated"] is True
    r = lv1(c, b, MaxKeys=n)
    assert r["IsTruncated"] is False


def test_marker_and_start_after(srv):
    c = srv.client()
    b = designed_bucket(c, "mark")
    cases = ["a/b", "a/b/", "a/bb", "", "ab", "unicode/\uff21", "zzz", "\U0001F600", "Upper", "ctl/tab\there",
             "max/" + "m" * 1020]
    for after in cases:
        want, trunc = model(KEYS, after=after)
        r = lv1(c, b, Marker=after)
        assert got(r) == split(want), short(("marker", after, got(r), split(want)))
        assert r.get("Marker", "") == after
        r = lv2(c, b, StartAfter=after)
        assert got(r) == split(want), ("start-after", after)
        if after:
            assert r.get("StartAfter") == after, (after, r.get("StartAfter"))
        assert r["KeyCount"] == len(want)
    # With a delimiter: a marker equal to a common prefix skips that prefix.
    want, _ = model(KEYS, delim="/", after="a/")
    r = lv1(c, b, Delimiter="/", Marker="a/")
    assert got(r) == split(want) and "a/" not in got(r)[1], got(r)
    r = lv2(c, b, Delimiter="/", StartAfter="a/")
    assert got(r) == split(want), got(r)
    # start-after beyond every key
    r = lv2(c, b, StartAfter="\U0010FFFF")
    assert got(r) == ([], []) and r["KeyCount"] == 0 and r["IsTruncated"] is False
    # A continuation token wins over start-after.
    r1 = lv2(c, b, MaxKeys=3)
    r2 = lv2(c, b, MaxKeys=3, StartAfter="unicode/", ContinuationToken=r1["NextContinuationToken"])
    want, _ = model(KEYS, after=r1["Contents"][-1]["Key"], max_keys=3)
    assert got(r2) == split(want), ("token must win over start-after", got(r2), split(want))


def test_nextmarker_v1(srv):
    c = srv.client()
    b = designed_bucket(c, "nm")
    r = lv1(c, b, MaxKeys=2)
    assert r["IsTruncated"] is True and "NextMarker" not in r, r.get("NextMarker")
    r = lv1(c, b, MaxKeys=2, Delimiter="/")
    want, _ = model(KEYS, delim="/", max_keys=2)
    assert r["IsTruncated"] is True and r.get("NextMarker") == want[-1][0], (r.get("NextMarker"), want)
    # the last entry of a page is a common prefix: NextMarker is that prefix
    want, trunc = model(KEYS, delim="/", max_keys=7)
    assert want[-1] == ("a-b/", True) and trunc, want  # the key set is designed so
    r = lv1(c, b, MaxKeys=7, Delimiter="/")
    assert r.get("NextMarker") == want[-1][0], (r.get("NextMarker"), want[-1][0])
    r = lv1(c, b, Delimiter="/")
    assert r["IsTruncated"] is False and "NextMarker" not in r


def check_encoded(enc, plain, what):
    assert urllib.parse.unquote_plus(enc) == plain, "%s: %r does not url-decode to %r" % (what, enc, plain)
    assert all(0x20 < ord(ch) < 0x7f for ch in enc), "%s: %r is not url-encoded" % (what, enc)
    for ch in "<>&\"'":
        assert ch not in enc, "%s: %r keeps %r unencoded" % (what, enc, ch)


def test_encoding_type_url(srv):
    c = srv.client()
    b = designed_bucket(c, "enc")
    # EncodingType given explicitly: boto3 does not decode, we see the wire form.
    want, _ = model(KEYS)
    r = lv2(c, b, EncodingType="url")
    assert r.get("EncodingType") == "url"
    keys = [o["Key"] for o in r["Contents"]]
    assert len(keys) == len(want)
    for enc, (plain, _) in zip(keys, want):
        check_encoded(enc, plain, "V2 Key")
    # prefix, delimiter, start-after and common prefixes come back encoded too
    r = lv2(c, b, EncodingType="url", Prefix="unicode/", Delimiter="\u65e5", StartAfter="unicode/\u00e9")
    want, _ = model(KEYS, "unicode/", "\u65e5", "unicode/\u00e9")
    wk, wp = split(want)
    assert wp == ["unicode/\u65e5"], wp
    check_encoded(r["Prefix"], "unicode/", "V2 Prefix")
    check_encoded(r["Delimiter"], "\u65e5", "V2 Delimiter")
    check_encoded(r["StartAfter"], "unicode/\u00e9", "V2 StartAfter")
    assert [urllib.parse.unquote_plus(p["Prefix"]) for p in r.get("CommonPrefixes", [])] == wp
    for p in r.get("CommonPrefixes", []):
        check_encoded(p["Prefix"], "unicode/\u65e5", "V2 CommonPrefixes/Prefix")
    assert [urllib.parse.unquote_plus(o["Key"]) for o in r.get("Contents", [])] == wk
    # V1: Marker and NextMarker encoded
    r = lv1(c, b, EncodingType="url", Delimiter="+", Marker="ctl/nl\nhere", MaxKeys=2)
    want, trunc = model(KEYS, "", "+", "ctl/nl\nhere", 2)
    assert trunc
    check_encoded(r["Marker"], "ctl/nl\nhere", "V1 Marker")
    check_encoded(r["NextMarker"], want[-1][0], "V1 NextMarker")
    check_encoded(r["Delimiter"], "+", "V1 Delimiter")
    assert [urllib.parse.unquote_plus(k) for k in got(r)[0]] == split(want)[0]
    assert [urllib.parse.unquote_plus(k) for k in got(r)[1]] == split(want)[1]
    # The same through a raw request, parsed by hand.
    st, _, body = raw_request(srv, "GET", "/" + b, [("list-type", "2"), ("encoding-type", "url"),
                                                    ("prefix", "ctl/")])
    assert st == 200, body
    root, keys, _ = xml_list(body)
    assert root.findtext(S3NS + "EncodingType") == "url"
    want = [k for k in sorted(KEYS, key=b8) if k.startswith("ctl/")]
    assert [urllib.parse.unquote_plus(k) for k in keys] == want, keys
    for k, w in zip(keys, want):
        check_encoded(k, w, "raw V2 Key")
    # And boto3's default path (auto encoding-type, decoded by boto3) gives the keys back.
    r = lv2(c, b, Prefix="ctl/")
    assert got(r)[0] == want


def test_raw_xml_without_encoding(srv):
    """Without encoding-type, keys travel as XML text: & < > " ' escaped."""
    c = srv.client()
    b = new_bucket(c, "rawxml")
    keys = [k for k in KEYS if not k.startswith("ctl/")]
    put_many(c, b, keys)
    want = sorted(keys, key=b8)
    for query in ([("list-type", "2")], []):
        st, hdrs, body = raw_request(srv, "GET", "/" + b, query)
        assert st == 200, (st, body[:300])
        ctype = {k.lower(): v for k, v in hdrs.items()}.get("content-type", "")
        assert "xml" in ctype, ctype
        root, got_keys, _ = xml_list(body)
        assert got_keys == want, (query, got_keys)
        assert root.find(S3NS + "EncodingType") is None
        assert b"amp&amp;key" in body and b"lt&lt;gt&gt;" in body, "XML escaping"
    st, _, body = raw_request(srv, "GET", "/" + b, [("list-type", "2"), ("delimiter", "&"),
                                                    ("prefix", "amp")])
    root, got_keys, cps = xml_list(body)
    assert cps == ["amp&"] and got_keys == [], (got_keys, cps)
    assert root.findtext(S3NS + "Delimiter") == "&"
    assert root.findtext(S3NS + "KeyCount") == "1"
    # invalid encoding-type
    st, _, body = raw_request(srv, "GET", "/" + b, [("list-type", "2"), ("encoding-type", "base64")])
    assert st == 400 and b"<Code>InvalidArgument</Code>" in body, (st, body)


def test_long_keys(srv):
    c = srv.client()
    b = new_bucket(c, "long")
    longs = [k for k in KEYS if k.startswith(("long/", "max/"))]
    put_many(c, b, longs, body=lambda k: k.encode())
    for k in longs:
        assert c.get_object(Bucket=b, Key=k)["Body"].read() == k.encode(), k[:20]
        c.head_object(Bucket=b, Key=k)
    for fn in (lv1, lv2):
        assert got(fn(c, b))[0] == sorted(longs, key=b8)
        r = fn(c, b, Prefix="long/" + LONG, Delimiter="/")
        assert got(r) == (["long/" + LONG + "x"], ["long/" + LONG + "/"]), got(r)
        r = fn(c, b, Prefix="long/" + LONG + "/", MaxKeys=1)
        assert got(r)[0] == ["long/" + LONG + "/one"] and r["IsTruncated"] is True
    too_long = "max/" + "m" * 1021
    expect_error("KeyTooLongError", c.put_object, Bucket=b, Key=too_long, Body=b"x")
    expect_error("KeyTooLongError", c.put_object, Bucket=b, Key="max/" + "\u00e9" * 510 + "m", Body=b"x")
    assert got(lv2(c, b))[0] == sorted(longs, key=b8)


def test_delete_and_overwrite(srv):
    c = srv.client()
    b = designed_bucket(c, "del")
    keys = list(KEYS)
    for k in ("a/b", "unicode/\U0001F600emoji", "ctl/tab\there", "max/" + "m" * 1020):
        c.delete_object(Bucket=b, Key=k)
        keys.remove(k)
        for fn in (lv1, lv2):
            assert got(fn(c, b))[0] == split(model(keys)[0])[0], ("after delete", k)
    # a common prefix disappears with its last key
    c.delete_object(Bucket=b, Key="b/x/y")
    keys.remove("b/x/y")
    r = lv2(c, b, Delimiter="/")
    assert "b/" not in got(r)[1] and got(r) == split(model(keys, delim="/")[0]), got(r)
    # overwrite: one entry, the new size
    for _ in range(3):
        c.put_object(Bucket=b, Key="a/bc", Body=b"0123456789")
    r = lv2(c, b, Prefix="a/bc")
    assert [(o["Key"], o["Size"]) for o in r["Contents"]] == [("a/bc", 10)], r["Contents"]
    assert r["KeyCount"] == 1
    r = lv1(c, b)
    assert got(r)[0] == split(model(keys)[0])[0]
    # delete of a missing key: 204 and the listing is unchanged
    c.delete_object(Bucket=b, Key="never-there")
    assert got(lv2(c, b))[0] == split(model(keys)[0])[0]


def test_list_buckets_head_location(srv):
    c = srv.client()
    names = [new_bucket(c, "lb%d" % i) for i in range(3)]
    r = c.list_buckets()
    listed = [x["Name"] for x in r["Buckets"]]
    for n in names:
        assert n in listed, (n, listed)
    assert listed == sorted(listed), "ListBuckets is sorted by name"
    assert all("CreationDate" in x for x in r["Buckets"])
    assert r.get("Owner", {}).get("ID"), r.get("Owner")
    for n in names:
        h = c.head_bucket(Bucket=n)
        assert h["ResponseMetadata"]["HTTPStatusCode"] == 200
        loc = c.get_bucket_location(Bucket=n)
        assert loc.get("LocationConstraint") is None, "us-east-1 answers an empty LocationConstraint: %r" % (
            loc.get("LocationConstraint"))
    e = expect_error("404", c.head_bucket, Bucket="lst-no-such-bucket")
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    expect_error("NoSuchBucket", c.get_bucket_location, Bucket="lst-no-such-bucket")
    c.delete_bucket(Bucket=names[0])
    assert names[0] not in [x["Name"] for x in c.list_buckets()["Buckets"]]
    expect_error("404", c.head_bucket, Bucket=names[0])


def test_errors(srv):
    c = srv.client()
    b = new_bucket(c, "err")
    c.put_object(Bucket=b, Key="k", Body=b"x")
    expect_error("NoSuchBucket", c.list_objects, Bucket="lst-missing-bucket")
    expect_error("NoSuchBucket", c.list_objects_v2, Bucket="lst-missing-bucket")
    nv = srv.client(parameter_validation=False)
    expect_error("InvalidArgument", nv.list_objects, Bucket=b, MaxKeys=-1)
    expect_error("InvalidArgument", nv.list_objects_v2, Bucket=b, MaxKeys=-1)
    st, _, body = raw_request(srv, "GET", "/" + b, [("max-keys", "abc")])
    assert st == 400 and b"<Code>InvalidArgument</Code>" in body, (st, body)
    expect_error("InvalidArgument", c.list_objects_v2, Bucket=b, ContinuationToken="!!not-a-token!!")


def test_paginator_2500(srv):
    c = srv.client(max_pool_connections=16)
    b = new_bucket(c, "many")
    keys = ["obj/%05d" % i for i in range(2300)] + ["dir%03d/f" % i for i in range(200)]
    t0 = time.time()
    put_many(c, b, keys, workers=12)
    print("  put %d keys in %.1f s" % (len(keys), time.time() - t0))
    want = sorted(keys, key=b8)
    pages = list(c.get_paginator("list_objects_v2").paginate(Bucket=b))
    assert [p["KeyCount"] for p in pages] == [1000, 1000, 500], [p["KeyCount"] for p in pages]
    assert [p["IsTruncated"] for p in pages] == [True, True, False]
    assert [o["Key"] for p in pages for o in p["Contents"]] == want
    pages = list(c.get_paginator("list_objects").paginate(Bucket=b, PaginationConfig={"PageSize": 600}))
    assert [len(p["Contents"]) for p in pages] == [600, 600, 600, 600, 100]
    assert [o["Key"] for p in pages for o in p["Contents"]] == want
    # with a delimiter: 200 dirNNN/ prefixes + obj/ = 201 entries
    for name in ("list_objects", "list_objects_v2"):
        pages = list(c.get_paginator(name).paginate(Bucket=b, Delimiter="/",
                                                     PaginationConfig={"PageSize": 150}))
        cps = [p["Prefix"] for pg in pages for p in pg.get("CommonPrefixes", [])]
        assert cps == ["dir%03d/" % i for i in range(200)] + ["obj/"], (name, len(cps))
        assert not any(pg.get("Contents") for pg in pages)
        assert len(pages) == 2, (name, len(pages))
    r = lv2(c, b, Prefix="obj/", StartAfter="obj/02290")
    assert got(r)[0] == ["obj/%05d" % i for i in range(2291, 2300)]


if __name__ == "__main__":
    run_tests(globals(), setup=lambda: Server())
