"""Multipart uploads through boto3: Create / UploadPart / UploadPartCopy /
Complete / Abort / ListParts / ListMultipartUploads, the S3 error codes of
each, the multipart ETag, checksums, and that an aborted or completed
upload leaves no stored garbage once the collector has run
(`cairn admin gc --grace 0`, counted with `cairn admin status`).
"""
import base64
import hashlib
import io
import os
import zlib

import botocore

from cairn_test import (Server, bucket_maker, checksum_b64, chunk_stats, crc32c_int, expect_error,
                        extra_headers, gc_now, raw, run_tests)

MiB = 1 << 20
PART = 5 * MiB

new_bucket = bucket_maker("mpu")


def md5hex(b):
    return hashlib.md5(b).hexdigest()


def mpu_etag(parts):
    """S3's multipart ETag: md5 of the concatenated binary part md5s, -N."""
    return '"%s-%d"' % (hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest(),
                        len(parts))


def upload_parts(c, b, key, uid, parts, first=1):
    out = []
    for i, data in enumerate(parts, first):
        r = c.upload_part(Bucket=b, Key=key, UploadId=uid, PartNumber=i, Body=data)
        assert r["ETag"] == '"%s"' % md5hex(data), (i, r["ETag"])
        out.append({"PartNumber": i, "ETag": r["ETag"]})
    return out


def get_bytes(c, b, key, **kw):
    return c.get_object(Bucket=b, Key=key, **kw)["Body"].read()


# ---------------------------------------------------------------------------

def test_complete_and_etag(srv):
    c = srv.client()
    b = new_bucket(c, "basic")
    key = "dir/big object \u00e9.bin"
    parts = [os.urandom(PART), os.urandom(PART), os.urandom(100 * 1024 + 7)]
    r = c.create_multipart_upload(Bucket=b, Key=key, ContentType="application/x-test",
                                  Metadata={"color": "blue"})
    uid = r["UploadId"]
    assert r["Bucket"] == b and r["Key"] == key and uid
    done = upload_parts(c, b, key, uid, parts)
    r = c.complete_multipart_upload(Bucket=b, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    want_etag = mpu_etag(parts)
    assert r["ETag"] == want_etag, (r["ETag"], want_etag)
    assert r["Key"] == key and r["Bucket"] == b
    body = b"".join(parts)
    g = c.get_object(Bucket=b, Key=key)
    data = g["Body"].read()
    assert len(data) == len(body) and data == body, "multipart object read back differs"
    assert g["ETag"] == want_etag and g["ContentLength"] == len(body)
    assert g["ContentType"] == "application/x-test", g["ContentType"]
    assert g["Metadata"] == {"color": "blue"}, g["Metadata"]
    h = c.head_object(Bucket=b, Key=key)
    assert h["ETag"] == want_etag and h["ContentLength"] == len(body)
    # ranges across part boundaries
    lo, hi = PART - 10, PART + 9
    assert get_bytes(c, b, key, Range="bytes=%d-%d" % (lo, hi)) == body[lo:hi + 1]
    assert get_bytes(c, b, key, Range="bytes=-50") == body[-50:]
    lst = c.list_objects_v2(Bucket=b)["Contents"]
    assert [(o["Key"], o["Size"], o["ETag"]) for o in lst] == [(key, len(body), want_etag)], lst
    # the upload is gone
    assert not c.list_multipart_uploads(Bucket=b).get("Uploads")
    expect_error("NoSuchUpload", c.list_parts, Bucket=b, Key=key, UploadId=uid)
    expect_error("NoSuchUpload", c.upload_part, Bucket=b, Key=key, UploadId=uid, PartNumber=1, Body=b"x")


def test_single_part_upload(srv):
    c = srv.client()
    b = new_bucket(c, "one")
    data = os.urandom(3000)
    c.put_object(Bucket=b, Key="k", Body=b"the old object")
    uid = c.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    assert get_bytes(c, b, "k") == b"the old object", "an open upload does not touch the object"
    done = upload_parts(c, b, "k", uid, [data])
    r = c.complete_multipart_upload(Bucket=b, Key="k", UploadId=uid, MultipartUpload={"Parts": done})
    assert r["ETag"] == mpu_etag([data]), r["ETag"]
    assert get_bytes(c, b, "k") == data, "complete replaces the existing object"
    assert [o["Key"] for o in c.list_objects_v2(Bucket=b)["Contents"]] == ["k"]


def test_part_order_and_part_errors(srv):
    c = srv.client()
    b = new_bucket(c, "order")
    key = "k"
    parts = [os.urandom(PART), os.urandom(PART), os.urandom(1000)]
    uid = c.create_multipart_upload(Bucket=b, Key=key)["UploadId"]
    done = upload_parts(c, b, key, uid, parts)

    def complete(plist):
        return c.complete_multipart_upload(Bucket=b, Key=key, UploadId=uid, MultipartUpload={"Parts": plist})

    expect_error("InvalidPartOrder", complete, [done[1], done[0], done[2]])
    expect_error("InvalidPartOrder", complete, [done[0], done[0], done[2]])
    bad = dict(done[1], ETag='"%s"' % ("0" * 32))
    expect_error("InvalidPart", complete, [done[0], bad, done[2]])
    expect_error("InvalidPart", complete, [done[0], done[1], {"PartNumber": 4, "ETag": done[2]["ETag"]}])
    expect_error("InvalidPart", complete, [done[0], dict(done[1], ETag=done[2]["ETag"]), done[2]])
    # after all those failures the upload still completes (ETags may come unquoted)
    r = complete([dict(p, ETag=p["ETag"].strip('"')) for p in done])
    assert r["ETag"] == mpu_etag(parts)
    assert get_bytes(c, b, key) == b"".join(parts)


def test_entity_too_small(srv):
    c = srv.client()
    b = new_bucket(c, "small")
    key = "k"
    uid = c.create_multipart_upload(Bucket=b, Key=key)["UploadId"]
    parts = [os.urandom(MiB), os.urandom(1000), os.urandom(PART), os.urandom(PART - 1), os.urandom(10)]
    done = upload_parts(c, b, key, uid, parts)

    def complete(plist):
        return c.complete_multipart_upload(Bucket=b, Key=key, UploadId=uid, MultipartUpload={"Parts": plist})

    # part 1 (1 MiB) is not the last: too small
    e = expect_error("EntityTooSmall", complete, done[:2])
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # 5 MiB - 1 byte is too small as well; exactly 5 MiB is enough
    expect_error("EntityTooSmall", complete, [done[3], done[4]])
    r = complete([done[2], done[3]])
    assert r["ETag"] == mpu_etag([parts[2], parts[3]])
    assert get_bytes(c, b, key) == parts[2] + parts[3]


def test_part_numbers_may_skip(srv):
    c = srv.client()
    b = new_bucket(c, "gaps")
    p1, p7 = os.urandom(PART), os.urandom(20)
    uid = c.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    d1 = upload_parts(c, b, "k", uid, [p1], first=1)
    d7 = upload_parts(c, b, "k", uid, [p7], first=7)
    r = c.complete_multipart_upload(Bucket=b, Key="k", UploadId=uid, MultipartUpload={"Parts": d1 + d7})
    assert r["ETag"] == mpu_etag([p1, p7])
    assert get_bytes(c, b, "k") == p1 + p7


def test_complete_with_empty_part_list(srv):
    c = srv.client()
    b = new_bucket(c, "empty")
    uid = c.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    upload_parts(c, b, "k", uid, [b"abc"])
    expect_error("MalformedXML", c.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                 MultipartUpload={"Parts": []})
    expect_error("NoSuchKey", c.get_object, Bucket=b, Key="k")
    # the upload survives the failed complete
    assert [p["PartNumber"] for p in c.list_parts(Bucket=b, Key="k", UploadId=uid)["Parts"]] == [1]


def test_same_part_number_twice_keeps_last(srv):
    c = srv.client()
    b = new_bucket(c, "twice")
    first, second, tail = os.urandom(PART), os.urandom(PART), os.urandom(500)
    uid = c.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    old = upload_parts(c, b, "k", uid, [first])
    new = upload_parts(c, b, "k", uid, [second])
    d2 = upload_parts(c, b, "k", uid, [tail], first=2)
    parts = c.list_parts(Bucket=b, Key="k", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [
        (1, new[0]["ETag"], PART), (2, d2[0]["ETag"], 500)], parts
    expect_error("InvalidPart", c.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                 MultipartUpload={"Parts": old + d2})
    r = c.complete_multipart_upload(Bucket=b, Key="k", UploadId=uid, MultipartUpload={"Parts": new + d2})
    assert r["ETag"] == mpu_etag([second, tail])
    assert get_bytes(c, b, "k") == second + tail


def test_list_parts_paging(srv):
    c = srv.client()
    b = new_bucket(c, "lparts")
    uid = c.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    numbers = [5, 1, 9, 3, 2, 10000, 7]          # uploaded out of order, with gaps
    datas = {n: os.urandom(100 + n % 1000) for n in numbers}
    for n in numbers:
        c.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=n, Body=datas[n])
    want = sorted(numbers)
    r = c.list_parts(Bucket=b, Key="k", UploadId=uid)
    assert [p["PartNumber"] for p in r["Parts"]] == want
    assert all(p["ETag"] == '"%s"' % md5hex(datas[p["PartNumber"]]) and p["Size"] == len(datas[p["PartNumber"]])
               and "LastModified" in p for p in r["Parts"]), r["Parts"]
    assert r["IsTruncated"] is False and r["UploadId"] == uid and r["Key"] == "k" and r["Bucket"] == b
    for mp in (1, 2, 3):
        seen, marker = [], 0
        for _ in range(20):
            r = c.list_parts(Bucket=b, Key="k", UploadId=uid, MaxParts=mp, PartNumberMarker=marker)
            page = [p["PartNumber"] for p in r["Parts"]] if "Parts" in r else []
            assert page == [n for n in want if n > marker][:mp], (mp, marker, page)
            assert r["MaxParts"] == mp
            assert r.get("PartNumberMarker", 0) == marker, (r.get("PartNumberMarker"), marker)
            seen += page
            more = len([n for n in want if n > marker]) > mp
            assert r["IsTruncated"] is more, (mp, marker, r["IsTruncated"])
            if not more:
                break
            assert r["NextPartNumberMarker"] == page[-1], (r["NextPartNumberMarker"], page)
            marker = r["NextPartNumberMarker"]
        assert seen == want, (mp, seen)
    pages = list(c.get_paginator("list_parts").paginate(Bucket=b, Key="k", UploadId=uid,
                                                        PaginationConfig={"PageSize": 2}))
    assert [p["PartNumber"] for pg in pages for p in pg.get("Parts", [])] == want
    assert len(pages) == 4, len(pages)
    r = c.list_parts(Bucket=b, Key="k", UploadId=uid, PartNumberMarker=10000)
    assert not r.get("Parts") and r["IsTruncated"] is False
    expect_error("NoSuchUpload", c.list_parts, Bucket=b, Key="k", UploadId="no-such-upload-id")
    expect_error("NoSuchUpload", c.list_parts, Bucket=b, Key="other", UploadId=uid)
    c.abort_multipart_upload(Bucket=b, Key="k", UploadId=uid)


def test_list_multipart_uploads(srv):
    c = srv.client()
    b = new_bucket(c, "lmpu")
    created = []
    for key in ["mpu/b", "mpu/a", "other/c", "mpu/a", "mpu/a/x", "mpu/a", "mpu/\u00e9"]:
        created.append((key, c.create_multipart_upload(Bucket=b, Key=key)["UploadId"]))
    # S3 order: by key (UTF-8 bytes), uploads of one key in initiation order
    order = {}
    for i, (k, u) in enumerate(created):
        order[u] = i
    want = sorted(created, key=lambda ku: (ku[0].encode(), order[ku[1]]))

    def listed(r):
        return [(u["Key"], u["UploadId"]) for u in r.get("Uploads", [])]

    r = c.list_multipart_uploads(Bucket=b)
    assert listed(r) == want, (listed(r), want)
    assert r["IsTruncated"] is False
    assert all("Initiated" in u and u.get("Initiator") and u.get("Owner") for u in r["Uploads"])
    r = c.list_multipart_uploads(Bucket=b, Prefix="mpu/a")
    assert listed(r) == [ku for ku in want if ku[0].startswith("mpu/a")]
    assert r.get("Prefix") == "mpu/a"
    r = c.list_multipart_uploads(Bucket=b, Prefix="none/")
    assert listed(r) == []
    # key-marker alone: keys after it
    r = c.list_multipart_uploads(Bucket=b, KeyMarker="mpu/a")
    assert listed(r) == [ku for ku in want if ku[0].encode() > b"mpu/a"], listed(r)
    assert r.get("KeyMarker") == "mpu/a"
    # key-marker + upload-id-marker: that key's later uploads, then later keys
    a_ids = [u for k, u in want if k == "mpu/a"]
    assert len(a_ids) == 3
    r = c.list_multipart_uploads(Bucket=b, KeyMarker="mpu/a", UploadIdMarker=a_ids[0])
    idx = want.index(("mpu/a", a_ids[0]))
    assert listed(r) == want[idx + 1:], (listed(r), want[idx + 1:])
    assert r.get("UploadIdMarker") == a_ids[0]
    # upload-id-marker without key-marker is ignored (S3)
    r = c.list_multipart_uploads(Bucket=b, UploadIdMarker=a_ids[1])
    assert listed(r) == want, ("upload-id-marker alone must be ignored", listed(r))
    # paging one by one with the Next markers yields the full listing
    seen, km, um = [], None, None
    for _ in range(len(want) + 2):
        kw = {"MaxUploads": 1}
        if km is not None:
            kw.update(KeyMarker=km, UploadIdMarker=um)
        r = c.list_multipart_uploads(Bucket=b, **kw)
        seen += listed(r)
        assert r["MaxUploads"] == 1
        if not r["IsTruncated"]:
            break
        km, um = r["NextKeyMarker"], r["NextUploadIdMarker"]
        assert (km, um) == seen[-1], ((km, um), seen[-1])
    assert seen == want, (seen, want)
    pages = list(c.get_paginator("list_multipart_uploads").paginate(Bucket=b, PaginationConfig={"PageSize": 3}))
    assert [ku for pg in pages for ku in listed(pg)] == want
    # completed and aborted uploads leave the listing
    c.abort_multipart_upload(Bucket=b, Key=want[0][0], UploadId=want[0][1])
    k1, u1 = want[1]
    d = upload_parts(c, b, k1, u1, [b"tiny"])
    c.complete_multipart_upload(Bucket=b, Key=k1, UploadId=u1, MultipartUpload={"Parts": d})
    assert listed(c.list_multipart_uploads(Bucket=b)) == want[2:]
    expect_error("NoSuchBucket", c.list_multipart_uploads, Bucket="mpu-no-such-bucket")
    for k, u in want[2:]:
        c.abort_multipart_upload(Bucket=b, Key=k, UploadId=u)
    assert listed(c.list_multipart_uploads(Bucket=b)) == []


def test_list_multipart_uploads_delimiter(srv):
    c = srv.client()
    b = new_bucket(c, "lmpud")
    keys = ["mpu/a", "mpu/b/c", "mpu/b/d", "other/x", "top"]
    ids = {k: c.create_multipart_upload(Bucket=b, Key=k)["UploadId"] for k in keys}
    try:
        r = c.list_multipart_uploads(Bucket=b, Delimiter="/")
        assert [u["Key"] for u in r.get("Uploads", [])] == ["top"], [u["Key"] for u in r.get("Uploads", [])]
        assert [p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["mpu/", "other/"], r.get("CommonPrefixes")
        assert r.get("Delimiter") == "/"
        r = c.list_multipart_uploads(Bucket=b, Delimiter="/", Prefix="mpu/")
        assert [u["Key"] for u in r.get("Uploads", [])] == ["mpu/a"], [u["Key"] for u in r.get("Uploads", [])]
        assert [p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["mpu/b/"], r.get("CommonPrefixes")
    finally:
        for k, u in ids.items():
            c.abort_multipart_upload(Bucket=b, Key=k, UploadId=u)


def test_abort(srv):
    c = srv.client()
    b = new_bucket(c, "abort")
    uid = c.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    done = upload_parts(c, b, "k", uid, [os.urandom(2000), os.urandom(3000)])
    r = c.abort_multipart_upload(Bucket=b, Key="k", UploadId=uid)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    expect_error("NoSuchUpload", c.upload_part, Bucket=b, Key="k", UploadId=uid, PartNumber=3, Body=b"x")
    expect_error("NoSuchUpload", c.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                 MultipartUpload={"Parts": done})
    expect_error("NoSuchUpload", c.list_parts, Bucket=b, Key="k", UploadId=uid)
    expect_error("NoSuchUpload", c.abort_multipart_upload, Bucket=b, Key="k", UploadId=uid)
    expect_error("NoSuchUpload", c.abort_multipart_upload, Bucket=b, Key="k", UploadId="0123456789abcdef")
    expect_error("NoSuchUpload", c.upload_part, Bucket=b, Key="k", UploadId="0123456789abcdef",
                 PartNumber=1, Body=b"x")
    expect_error("NoSuchKey", c.get_object, Bucket=b, Key="k")
    assert not c.list_multipart_uploads(Bucket=b).get("Uploads")
    expect_error("NoSuchBucket", c.create_multipart_upload, Bucket="mpu-no-such-bucket", Key="k")


def test_part_number_bounds(srv):
    c = srv.client(parameter_validation=False)
    b = new_bucket(c, "bounds")
    uid = c.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    for n in (0, 10001, -1):
        expect_error("InvalidArgument", c.upload_part, Bucket=b, Key="k", UploadId=uid, PartNumber=n, Body=b"x")
    c.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=10000, Body=b"x")
    c.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=1, Body=b"y")
    c.put_object(Bucket=b, Key="src", Body=b"source")
    for n in (0, 10001):
        expect_error("InvalidArgument", c.upload_part_copy, Bucket=b, Key="k", UploadId=uid, PartNumber=n,
                     CopySource={"Bucket": b, "Key": "src"})
    r = c.list_parts(Bucket=b, Key="k", UploadId=uid)
    assert [p["PartNumber"] for p in r["Parts"]] == [1, 10000]
    c.abort_multipart_upload(Bucket=b, Key="k", UploadId=uid)


def test_upload_part_copy(srv):
    c = srv.client()
    b = new_bucket(c, "pcopy")
    src_b = new_bucket(c, "pcopysrc")
    big = os.urandom(12 * MiB + 5)
    small = os.urandom(1000)
    c.put_object(Bucket=src_b, Key="big", Body=big)
    c.put_object(Bucket=b, Key="small src", Body=small)
    uid = c.create_multipart_upload(Bucket=b, Key="dst")["UploadId"]
    ranges = [(0, PART - 1), (6000000, 6000000 + PART - 1)]
    done = []
    for i, (lo, hi) in enumerate(ranges, 1):
        r = c.upload_part_copy(Bucket=b, Key="dst", UploadId=uid, PartNumber=i,
                               CopySource={"Bucket": src_b, "Key": "big"},
                               CopySourceRange="bytes=%d-%d" % (lo, hi))
        etag = r["CopyPartResult"]["ETag"]
        assert etag == '"%s"' % md5hex(big[lo:hi + 1]), (i, etag)
        assert "LastModified" in r["CopyPartResult"]
        done.append({"PartNumber": i, "ETag": etag})
    # the whole small object, then replaced by a range of it
    r = c.upload_part_copy(Bucket=b, Key="dst", UploadId=uid, PartNumber=3,
                           CopySource={"Bucket": b, "Key": "small src"})
    assert r["CopyPartResult"]["ETag"] == '"%s"' % md5hex(small)
    r = c.upload_part_copy(Bucket=b, Key="dst", UploadId=uid, PartNumber=3,
                           CopySource={"Bucket": b, "Key": "small src"}, CopySourceRange="bytes=10-99")
    assert r["CopyPartResult"]["ETag"] == '"%s"' % md5hex(small[10:100])
    done.append({"PartNumber": 3, "ETag": r["CopyPartResult"]["ETag"]})
    parts = c.list_parts(Bucket=b, Key="dst", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, PART), (2, PART), (3, 90)], parts
    # a range past the end of the source
    expect_error("InvalidArgument", c.upload_part_copy, Bucket=b, Key="dst", UploadId=uid, PartNumber=4,
                 CopySource={"Bucket": b, "Key": "small src"}, CopySourceRange="bytes=500-1000")
    expect_error("NoSuchKey", c.upload_part_copy, Bucket=b, Key="dst", UploadId=uid, PartNumber=4,
                 CopySource={"Bucket": b, "Key": "missing"})
    expect_error("NoSuchBucket", c.upload_part_copy, Bucket=b, Key="dst", UploadId=uid, PartNumber=4,
                 CopySource={"Bucket": "mpu-no-such-bucket", "Key": "big"})
    expect_error("NoSuchUpload", c.upload_part_copy, Bucket=b, Key="dst", UploadId="0123456789abcdef",
                 PartNumber=4, CopySource={"Bucket": b, "Key": "small src"})
    r = c.complete_multipart_upload(Bucket=b, Key="dst", UploadId=uid, MultipartUpload={"Parts": done})
    want = big[0:PART] + big[6000000:6000000 + PART] + small[10:100]
    assert r["ETag"] == mpu_etag([big[0:PART], big[6000000:6000000 + PART], small[10:100]])
    got = get_bytes(c, b, "dst")
    assert len(got) == len(want) and got == want, "UploadPartCopy result differs"
    # the sources are untouched
    assert get_bytes(c, src_b, "big") == big
    assert get_bytes(c, b, "small src") == small


def test_abort_leaves_no_garbage(srv):
    if srv.external:
        print("  skipped: needs cairn admin (not an external endpoint)")
        return
    c = srv.client()
    b = new_bucket(c, "gcab")
    gc_now(srv)
    before, unref = chunk_stats(srv)
    assert unref == 0, unref
    uid = c.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    upload_parts(c, b, "k", uid, [os.urandom(PART), os.urandom(PART), os.urandom(3 * MiB)])
    during, _ = chunk_stats(srv)
    assert during > before, "parts were stored: chunk count %d -> %d" % (before, during)
    c.abort_multipart_upload(Bucket=b, Key="k", UploadId=uid)
    gc_now(srv)
    after, unref = chunk_stats(srv)
    assert (after, unref) == (before, 0), "after abort + gc: %d chunks (%d unreferenced), %d before" % (
        after, unref, before)


def test_complete_leaves_no_garbage(srv):
    if srv.external:
        print("  skipped: needs cairn admin (not an external endpoint)")
        return
    c = srv.client()
    b = new_bucket(c, "gccomp")
    parts = [os.urandom(PART), os.urandom(PART), os.urandom(2 * MiB)]
    gc_now(srv)
    base, _ = chunk_stats(srv)
    # control: the object alone
    uid = c.create_multipart_upload(Bucket=b, Key="control")["UploadId"]
    d = upload_parts(c, b, "control", uid, parts)
    c.complete_multipart_upload(Bucket=b, Key="control", UploadId=uid, MultipartUpload={"Parts": d})
    gc_now(srv)
    with_obj, unref = chunk_stats(srv)
    assert unref == 0 and with_obj > base, (base, with_obj, unref)
    c.delete_object(Bucket=b, Key="control")
    gc_now(srv)
    assert chunk_stats(srv) == (base, 0), "delete + gc did not return to the base count"
    # the same object, with a replaced part 2 and an extra part 4 left out
    uid = c.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    upload_parts(c, b, "k", uid, [os.urandom(PART)], first=2)
    upload_parts(c, b, "k", uid, [os.urandom(PART)], first=4)
    d = upload_parts(c, b, "k", uid, parts)
    during, _ = chunk_stats(srv)
    assert during > with_obj, (during, with_obj)
    c.complete_multipart_upload(Bucket=b, Key="k", UploadId=uid, MultipartUpload={"Parts": d})
    gc_now(srv)
    after, unref = chunk_stats(srv)
    assert (after, unref) == (with_obj, 0), (
        "after complete + gc: %d chunks (%d unreferenced); the object alone needs %d" % (after, unref, with_obj))
    assert get_bytes(c, b, "k") == b"".join(parts), "gc must not touch the completed object's chunks"
    c.delete_object(Bucket=b, Key="k")
    gc_now(srv)
    assert chunk_stats(srv) == (base, 0)


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def sha256_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def composite(fn_raw, parts):
    return base64.b64encode(fn_raw(b"".join(base64.b64decode(p) for p in parts))).decode() + "-%d" % len(parts)


def check_checksum_upload(c, b, alg, b64fn, rawfn):
    key = "ck-" + alg
    field = "Checksum" + alg
    parts = [os.urandom(PART), os.urandom(4321)]
    r = c.create_multipart_upload(Bucket=b, Key=key, ChecksumAlgorithm=alg)
    uid = r["UploadId"]
    assert r.get("ChecksumAlgorithm") == alg, r.get("ChecksumAlgorithm")
    done = []
    for i, data in enumerate(parts, 1):
        r = c.upload_part(Bucket=b, Key=key, UploadId=uid, PartNumber=i, Body=data, ChecksumAlgorithm=alg)
        assert r.get(field) == b64fn(data), (alg, i, r.get(field), b64fn(data))
        done.append({"PartNumber": i, "ETag": r["ETag"], field: r[field]})
    # a part whose declared checksum is wrong is refused
    wrong = b64fn(b"something else")
    expect_error("BadDigest", c.upload_part, Bucket=b, Key=key, UploadId=uid, PartNumber=3,
                 Body=b"data", **{field: wrong})
    r = c.complete_multipart_upload(Bucket=b, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    want = composite(rawfn, [p[field] for p in done])
    assert r.get(field) == want, (alg, r.get(field), want)
    assert r["ETag"] == mpu_etag(parts)
    g = c.get_object(Bucket=b, Key=key, ChecksumMode="ENABLED")
    assert g["Body"].read() == b"".join(parts)
    assert g.get(field) == want, (alg, g.get(field), want)
    h = c.head_object(Bucket=b, Key=key, ChecksumMode="ENABLED")
    assert h.get(field) == want, (alg, h.get(field), want)
    for r in (g, h):
        assert r["ResponseMetadata"]["HTTPHeaders"].get("x-amz-checksum-type") == "COMPOSITE", r["ResponseMetadata"]


def test_checksum_crc32(srv):
    c = srv.client()
    b = new_bucket(c, "ckcrc")
    check_checksum_upload(c, b, "CRC32", crc32_b64, lambda d: zlib.crc32(d).to_bytes(4, "big"))


def test_checksum_sha256(srv):
    c = srv.client()
    b = new_bucket(c, "cksha")
    check_checksum_upload(c, b, "SHA256", sha256_b64, lambda d: hashlib.sha256(d).digest())


def test_complete_checks_part_checksums(srv):
    """A part checksum named in CompleteMultipartUpload must match the
    stored part's (S3 answers InvalidPart, as for a wrong ETag)."""
    c = srv.client()
    b = new_bucket(c, "ckbad")
    parts = [os.urandom(PART), os.urandom(100)]
    uid = c.create_multipart_upload(Bucket=b, Key="k", ChecksumAlgorithm="CRC32")["UploadId"]
    done = []
    for i, data in enumerate(parts, 1):
        r = c.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=i, Body=data, ChecksumAlgorithm="CRC32")
        done.append({"PartNumber": i, "ETag": r["ETag"], "ChecksumCRC32": crc32_b64(data)})
    wrong = crc32_b64(b"something else")
    expect_error("InvalidPart", c.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                 MultipartUpload={"Parts": [done[0], dict(done[1], ChecksumCRC32=wrong)]})
    try:
        c.head_object(Bucket=b, Key="k")
        raise AssertionError("the object exists after a refused complete")
    except c.exceptions.ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_list_parts_shows_checksums(srv):
    """ListParts of an upload created with a checksum algorithm names the
    algorithm and each part's checksum (as S3 does)."""
    c = srv.client()
    b = new_bucket(c, "cklist")
    parts = [os.urandom(1000), os.urandom(2000)]
    uid = c.create_multipart_upload(Bucket=b, Key="k", ChecksumAlgorithm="SHA256")["UploadId"]
    for i, data in enumerate(parts, 1):
        c.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=i, Body=data, ChecksumAlgorithm="SHA256")
    r = c.list_parts(Bucket=b, Key="k", UploadId=uid)
    c.abort_multipart_upload(Bucket=b, Key="k", UploadId=uid)
    assert [p["PartNumber"] for p in r["Parts"]] == [1, 2]
    assert r.get("ChecksumAlgorithm") == "SHA256", "ListParts lacks ChecksumAlgorithm: %r" % r.get(
        "ChecksumAlgorithm")
    got = [p.get("ChecksumSHA256") for p in r["Parts"]]
    assert got == [sha256_b64(d) for d in parts], "ListParts part checksums: %r" % got


# ---------------------------------------------------------------------------
# Full-object checksums (x-amz-checksum-type: FULL_OBJECT)

def no_default_checksum_client(srv):
    """A client that sends no checksum of its own (a current boto3 sends
    CRC32 with every part unless told not to; boto3 1.26 never does)."""
    try:
        return srv.client(request_checksum_calculation="when_required")
    except TypeError:
        return srv.client()


def header(r, name):
    return r["ResponseMetadata"]["HTTPHeaders"].get(name)


def create_full_object(c, b, key, alg):
    # the type as a header: boto3 1.26 has no ChecksumType parameter
    with extra_headers(c, "CreateMultipartUpload", {"x-amz-checksum-type": "FULL_OBJECT"}):
        r = c.create_multipart_upload(Bucket=b, Key=key, ChecksumAlgorithm=alg)
    assert r.get("ChecksumAlgorithm") == alg, r.get("ChecksumAlgorithm")
    assert header(r, "x-amz-checksum-type") == "FULL_OBJECT", r["ResponseMetadata"]
    return r["UploadId"]


def complete_with(c, b, key, uid, done, headers):
    with extra_headers(c, "CompleteMultipartUpload", headers):
        return c.complete_multipart_upload(Bucket=b, Key=key, UploadId=uid, MultipartUpload={"Parts": done})


def test_full_object_checksums(srv):
    """FULL_OBJECT uploads with each CRC: the parts carry the upload's CRC
    (computed by the server when the client sends none, or sent by the
    client), the object's checksum is the CRC of all its bytes, checked
    against the one sent with CompleteMultipartUpload and returned with
    ChecksumMode=ENABLED and x-amz-checksum-type FULL_OBJECT."""
    c = no_default_checksum_client(srv)
    b = new_bucket(c, "fullobj")
    src = os.urandom(PART + 99)
    c.put_object(Bucket=b, Key="src", Body=src)
    for alg in ("CRC32", "CRC32C", "CRC64NVME"):
        key, field = "full-" + alg, "Checksum" + alg
        parts = [os.urandom(PART), src[7:7 + PART], os.urandom(3333)]
        whole = b"".join(parts)
        full = checksum_b64(alg, whole)
        uid = create_full_object(c, b, key, alg)
        done = []
        for n in (1, 3):
            kw = {"ChecksumAlgorithm": alg} if alg == "CRC32" else {}  # both boto3s compute CRC32
            r = c.upload_part(Bucket=b, Key=key, UploadId=uid, PartNumber=n, Body=parts[n - 1], **kw)
            want = checksum_b64(alg, parts[n - 1])
            assert header(r, "x-amz-checksum-" + alg.lower()) == want, (alg, n, r["ResponseMetadata"])
            done.append({"PartNumber": n, "ETag": r["ETag"]})
            if field in c.meta.service_model.shape_for("CompletedPart").members:  # not CRC64NVME in 1.26
                done[-1][field] = want
        r = c.upload_part_copy(Bucket=b, Key=key, UploadId=uid, PartNumber=2, CopySource={"Bucket": b, "Key": "src"},
                               CopySourceRange="bytes=7-%d" % (7 + PART - 1))
        done.insert(1, {"PartNumber": 2, "ETag": r["CopyPartResult"]["ETag"]})
        # ListParts (raw: boto3 1.26 knows neither CRC64NVME nor ChecksumType)
        listed = raw(srv, "GET", "/%s/%s?uploadId=%s" % (b, key, uid)).body.decode()
        assert "<ChecksumType>FULL_OBJECT</ChecksumType>" in listed, listed
        for p in parts:
            assert "<%s>%s</%s>" % (field, checksum_b64(alg, p), field) in listed, (alg, listed)
        # a wrong full-object checksum, another type, a wrong size: refused, nothing stored
        wrong = checksum_b64(alg, b"not the object")
        e = expect_error("BadDigest", complete_with, c, b, key, uid, done, {"x-amz-checksum-" + alg.lower(): wrong})
        assert status(e) == 400
        expect_error("InvalidRequest", complete_with, c, b, key, uid, done, {"x-amz-checksum-type": "COMPOSITE"})
        expect_error("InvalidRequest", complete_with, c, b, key, uid, done, {"x-amz-mp-object-size": str(len(whole) + 1)})
        assert raw(srv, "HEAD", "/%s/%s" % (b, key)).status == 404
        r = complete_with(c, b, key, uid, done, {"x-amz-checksum-" + alg.lower(): full,
                                                 "x-amz-checksum-type": "FULL_OBJECT",
                                                 "x-amz-mp-object-size": str(len(whole))})
        if field in c.meta.service_model.operation_model("CompleteMultipartUpload").output_shape.members:
            assert r.get(field) == full, (alg, r.get(field), full)
        assert r["ETag"] == mpu_etag(parts)
        g = c.get_object(Bucket=b, Key=key, ChecksumMode="ENABLED")
        assert g["Body"].read() == whole
        h = c.head_object(Bucket=b, Key=key, ChecksumMode="ENABLED")
        for r in (g, h):
            assert header(r, "x-amz-checksum-" + alg.lower()) == full, (alg, r["ResponseMetadata"])
            assert header(r, "x-amz-checksum-type") == "FULL_OBJECT", (alg, r["ResponseMetadata"])
            assert header(r, "x-amz-checksum-algorithm") is None, r["ResponseMetadata"]
        # the upload's settings are not the object's headers
        h = c.head_object(Bucket=b, Key=key)
        assert not [k for k in h["ResponseMetadata"]["HTTPHeaders"] if k.startswith("x-amz-checksum")], h


def test_full_object_complete_response(srv):
    """CompleteMultipartUpload's XML names the checksum type (boto3 1.26
    predates ChecksumType: read the raw answer)."""
    c = no_default_checksum_client(srv)
    b = new_bucket(c, "fullxml")
    data = os.urandom(1000)
    uid = create_full_object(c, b, "k", "CRC32C")
    r = c.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=1, Body=data)
    body = ('<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>'
            '</CompleteMultipartUpload>' % r["ETag"]).encode()
    resp = raw(srv, "POST", "/%s/k?uploadId=%s" % (b, uid), body=body)
    assert resp.status == 200, resp
    assert b"<ChecksumCRC32C>%s</ChecksumCRC32C>" % checksum_b64("CRC32C", data).encode() in resp.body, resp.body
    assert b"<ChecksumType>FULL_OBJECT</ChecksumType>" in resp.body, resp.body


def test_checksum_type_rules(srv):
    """CreateMultipartUpload takes FULL_OBJECT only with a CRC, COMPOSITE
    not with CRC64NVME (whose default is FULL_OBJECT), a type only with an
    algorithm; a part must use the upload's algorithm."""
    c = no_default_checksum_client(srv)
    b = new_bucket(c, "cktype")
    bad = [("SHA256", "FULL_OBJECT"), ("SHA1", "FULL_OBJECT"), ("CRC64NVME", "COMPOSITE"), (None, "FULL_OBJECT"),
           ("CRC32", "SOMETHING")]
    for alg, typ in bad:
        kw = {"ChecksumAlgorithm": alg} if alg else {}
        with extra_headers(c, "CreateMultipartUpload", {"x-amz-checksum-type": typ}):
            e = expect_error("InvalidRequest", c.create_multipart_upload, Bucket=b, Key="k", **kw)
        assert status(e) == 400
    assert not c.list_multipart_uploads(Bucket=b).get("Uploads")
    r = c.create_multipart_upload(Bucket=b, Key="k", ChecksumAlgorithm="CRC64NVME")
    assert header(r, "x-amz-checksum-type") == "FULL_OBJECT", r["ResponseMetadata"]
    c.abort_multipart_upload(Bucket=b, Key="k", UploadId=r["UploadId"])
    r = c.create_multipart_upload(Bucket=b, Key="k", ChecksumAlgorithm="CRC32C")
    assert header(r, "x-amz-checksum-type") == "COMPOSITE", r["ResponseMetadata"]
    uid = r["UploadId"]
    e = expect_error("InvalidRequest", c.upload_part, Bucket=b, Key="k", UploadId=uid, PartNumber=1, Body=b"x",
                     ChecksumAlgorithm="CRC32")
    assert "mismatch" in e.response["Error"]["Message"], e.response["Error"]
    # a part without a checksum gets the upload's
    r = c.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=1, Body=b"abc")
    assert header(r, "x-amz-checksum-crc32c") == checksum_b64("CRC32C", b"abc"), r["ResponseMetadata"]
    done = [{"PartNumber": 1, "ETag": r["ETag"]}]
    # a composite checksum sent with the complete is checked too
    wrong = composite(lambda d: crc32c_int(d).to_bytes(4, "big"), [checksum_b64("CRC32C", b"abd")])
    expect_error("BadDigest", complete_with, c, b, "k", uid, done, {"x-amz-checksum-crc32c": wrong})
    want = composite(lambda d: crc32c_int(d).to_bytes(4, "big"), [checksum_b64("CRC32C", b"abc")])
    r = complete_with(c, b, "k", uid, done, {"x-amz-checksum-crc32c": want})
    assert r.get("ChecksumCRC32C") == want, (r.get("ChecksumCRC32C"), want)


def test_sdk_multipart_defaults(srv):
    """What boto3's managed upload sends by default: a current boto3 asks
    for CRC32 (composite) and sends part CRCs; boto3 1.26 sends none.
    Given a full-object checksum, a current boto3 makes a FULL_OBJECT
    upload.  All of these complete and read back."""
    from boto3.s3.transfer import TransferConfig
    c = srv.client()
    b = new_bucket(c, "sdkdef")
    cfg = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=2)
    data = os.urandom(2 * PART + 4321)
    c.upload_fileobj(io.BytesIO(data), b, "default", Config=cfg)
    h = c.head_object(Bucket=b, Key="default", ChecksumMode="ENABLED")
    assert h["ETag"].endswith('-3"') and get_bytes(c, b, "default") == data, h["ETag"]
    if h.get("ChecksumCRC32"):  # the current boto3
        want = composite(lambda d: zlib.crc32(d).to_bytes(4, "big"),
                         [crc32_b64(data[i:i + PART]) for i in range(0, len(data), PART)])
        assert h["ChecksumCRC32"] == want and header(h, "x-amz-checksum-type") == "COMPOSITE", h
    from s3transfer.manager import TransferManager
    if "ChecksumCRC32" not in TransferManager.ALLOWED_UPLOAD_ARGS:
        print("  (this boto3 cannot send a full-object checksum with a managed upload)")
        return
    full = crc32_b64(data)
    c.upload_fileobj(io.BytesIO(data), b, "full", Config=cfg, ExtraArgs={"ChecksumCRC32": full})
    h = c.head_object(Bucket=b, Key="full", ChecksumMode="ENABLED")
    assert h["ChecksumCRC32"] == full and h.get("ChecksumType") == "FULL_OBJECT", h
    # a wrong one is refused
    wrong = crc32_b64(b"x")
    try:
        c.upload_fileobj(io.BytesIO(data), b, "bad", Config=cfg, ExtraArgs={"ChecksumCRC32": wrong})
        raise AssertionError("a wrong full-object checksum was accepted")
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "BadDigest", e.response["Error"]
    assert raw(srv, "HEAD", "/%s/bad" % b).status == 404


# ---------------------------------------------------------------------------
# GetObject / HeadObject ?partNumber

def status(resp_or_exc):
    meta = (resp_or_exc.response if isinstance(resp_or_exc, Exception) else resp_or_exc)["ResponseMetadata"]
    return meta["HTTPStatusCode"]


def check_part_reads(c, b, key, parts, etag):
    """GET and HEAD ?partNumber=n of every part, as S3 answers them: 206,
    exactly the part's bytes, its Content-Range, the parts count and the
    whole object's ETag; HEAD with the same headers."""
    total = sum(len(p) for p in parts)
    off = 0
    for n, data in enumerate(parts, 1):
        want_range = "bytes %d-%d/%d" % (off, off + len(data) - 1, total)
        g = c.get_object(Bucket=b, Key=key, PartNumber=n)
        body = g["Body"].read()
        assert body == data, "part %d: %d bytes back, %d expected" % (n, len(body), len(data))
        h = c.head_object(Bucket=b, Key=key, PartNumber=n)
        for r, what in ((g, "GET"), (h, "HEAD")):
            assert status(r) == 206, (what, n, status(r))
            assert r["ContentLength"] == len(data), (what, n, r["ContentLength"])
            # (boto3 1.26's HeadObject has no ContentRange field: read the header)
            got_range = r["ResponseMetadata"]["HTTPHeaders"].get("content-range")
            assert got_range == want_range, (what, n, got_range, want_range)
            assert r["PartsCount"] == len(parts), (what, n, r.get("PartsCount"))
            assert r["ETag"] == etag, (what, n, r["ETag"])
        off += len(data)


def complete_upload(c, b, key, parts, first=1, **create):
    uid = c.create_multipart_upload(Bucket=b, Key=key, **create)["UploadId"]
    done = upload_parts(c, b, key, uid, parts, first)
    return c.complete_multipart_upload(Bucket=b, Key=key, UploadId=uid, MultipartUpload={"Parts": done})


def test_get_part_number(srv):
    c = srv.client()
    b = new_bucket(c, "pnum")
    parts = [os.urandom(PART), os.urandom(PART + 12345), os.urandom(777)]
    r = complete_upload(c, b, "k", parts)
    check_part_reads(c, b, "k", parts, r["ETag"])
    # the whole object still reads as one, without a parts count
    g = c.get_object(Bucket=b, Key="k")
    assert g["Body"].read() == b"".join(parts) and status(g) == 200
    assert "PartsCount" not in g and "ContentRange" not in g, g.keys()
    # conditions apply to a part read as to the object
    e = expect_error("304", c.get_object, Bucket=b, Key="k", PartNumber=2, IfNoneMatch=r["ETag"])
    assert status(e) == 304
    expect_error("PreconditionFailed", c.get_object, Bucket=b, Key="k", PartNumber=2, IfMatch='"nope"')
    # a part is not the object: its checksum is not sent with a part
    h = c.head_object(Bucket=b, Key="k", PartNumber=1, ChecksumMode="ENABLED")
    assert not [k for k in h if k.startswith("Checksum") and k != "ChecksumType"], h.keys()


def test_get_part_number_errors(srv):
    c = srv.client(parameter_validation=False)
    b = new_bucket(c, "pnumerr")
    parts = [os.urandom(PART), os.urandom(100)]
    complete_upload(c, b, "k", parts)
    # past the last part: 416 InvalidPartNumber (HEAD: the status alone)
    e = expect_error("InvalidPartNumber", c.get_object, Bucket=b, Key="k", PartNumber=3)
    assert status(e) == 416
    try:
        c.head_object(Bucket=b, Key="k", PartNumber=3)
        raise AssertionError("HEAD ?partNumber=3 of a 2-part object succeeded")
    except botocore.exceptions.ClientError as e:
        assert status(e) == 416, status(e)
    r = raw(srv, "GET", "/%s/k?partNumber=3" % b)
    err = r.error()
    assert r.status == 416 and err["Code"] == "InvalidPartNumber", r
    assert err.get("PartNumberRequested") == "3" and err.get("ActualPartCount") == "2", err
    # outside 1..10000 or not a number: InvalidArgument
    for n in (0, 10001, -1):
        e = expect_error("InvalidArgument", c.get_object, Bucket=b, Key="k", PartNumber=n)
        assert status(e) == 400
    for q in ("abc", "", "1.5", "2x", "99999999999999999999"):
        r = raw(srv, "GET", "/%s/k?partNumber=%s" % (b, q))
        assert r.status == 400 and r.error()["Code"] == "InvalidArgument", (q, r)
        r = raw(srv, "HEAD", "/%s/k?partNumber=%s" % (b, q))
        assert r.status == 400, (q, r)
    # with a Range: InvalidRequest
    e = expect_error("InvalidRequest", c.get_object, Bucket=b, Key="k", PartNumber=1, Range="bytes=0-9")
    assert status(e) == 400
    # of a missing key: NoSuchKey, as without partNumber
    expect_error("NoSuchKey", c.get_object, Bucket=b, Key="missing", PartNumber=1)


def test_get_part_number_plain_object(srv):
    """An object not made by multipart is its own part 1: S3 answers 206
    with the whole object as the range and no parts count; other part
    numbers are InvalidPartNumber."""
    c = srv.client()
    b = new_bucket(c, "pnumplain")
    for size in (10, 300 * 1024):  # inline and chunked
        data = os.urandom(size)
        c.put_object(Bucket=b, Key="p", Body=data)
        g = c.get_object(Bucket=b, Key="p", PartNumber=1)
        assert g["Body"].read() == data and status(g) == 206, status(g)
        assert g["ContentRange"] == "bytes 0-%d/%d" % (size - 1, size), g["ContentRange"]
        assert g["ContentLength"] == size and "PartsCount" not in g
        h = c.head_object(Bucket=b, Key="p", PartNumber=1)
        assert status(h) == 206 and h["ContentLength"] == size and "PartsCount" not in h
        assert h["ResponseMetadata"]["HTTPHeaders"].get("content-range") == g["ContentRange"]
        e = expect_error("InvalidPartNumber", c.get_object, Bucket=b, Key="p", PartNumber=2)
        assert status(e) == 416


def test_get_part_number_sparse_and_copied(srv):
    """Parts uploaded as 2, 5, 9 are read as parts 1, 2, 3 (the parts of
    the object, in order); a copy of the object keeps its parts."""
    c = srv.client()
    b = new_bucket(c, "pnumsparse")
    parts = [os.urandom(PART), os.urandom(PART), os.urandom(3000)]
    uid = c.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    done = []
    for n, data in zip((2, 5, 9), parts):
        done += upload_parts(c, b, "k", uid, [data], first=n)
    r = c.complete_multipart_upload(Bucket=b, Key="k", UploadId=uid, MultipartUpload={"Parts": done})
    check_part_reads(c, b, "k", parts, r["ETag"])
    c.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "k"})
    check_part_reads(c, b, "copy", parts, r["ETag"])
    c.copy_object(Bucket=b, Key="copy2", CopySource={"Bucket": b, "Key": "k"}, MetadataDirective="REPLACE",
                  Metadata={"m": "1"})
    check_part_reads(c, b, "copy2", parts, r["ETag"])
    # many equal parts and a short last one (what clients upload)
    parts = [os.urandom(PART)] * 4 + [os.urandom(10)]
    r = complete_upload(c, b, "many", parts)
    check_part_reads(c, b, "many", parts, r["ETag"])


if __name__ == "__main__":
    run_tests(globals(), setup=lambda: Server())
