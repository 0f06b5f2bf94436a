#!/usr/bin/env python3
"""The sync extension calls (docs/sync-protocol.md) against the real server.

Parameters; which chunks are missing; chunk upload by id (hash checked,
size limits, idempotent); commit of an object from a chunk list (the
object is then an ordinary S3 object for boto3, with the documented ETag,
kept headers and preconditions); the chunk list of an object (also of one
made by a plain PutObject: dedup across both paths); the change feed with
cursors, prefixes, truncation and long polls; permissions and errors; and
that uncommitted chunks are collected by gc.
"""
import hashlib
import json
import os
import socket
import threading
import time
import urllib.parse

from cairn_test import (RawResponse, Server, header_dict, host_port, raw, run_tests,
                        sign_headers)

KiB = 1024
MiB = 1024 * KiB


def call(srv, method, target, doc=None, body=b"", headers=None, key=None, secret=None,
         sign=True, timeout=60):
    if doc is not None:
        body = json.dumps(doc).encode()
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "application/json")
    return raw(srv, method, target, headers=headers, body=body, key=key, secret=secret,
               sign=sign, timeout=timeout)


def ok_json(resp):
    assert resp.status == 200, resp
    assert resp.headers.get("content-type") == "application/json", resp.headers
    return json.loads(resp.body)


def err(resp, status, code):
    assert resp.status == status, resp
    e = resp.error()
    assert e["Code"] == code, e
    return e


def cid(data):
    return hashlib.sha256(data).hexdigest()


def pieces(data, size=1 * MiB):
    return [data[i:i + size] for i in range(0, len(data), size)]


def early_reply(srv, method, target, body):
    """A request whose answer may come (and the connection close) before
    the body is sent: send what the server takes, then read its answer."""
    headers = sign_headers(srv, method, target, {"Content-Length": str(len(body))}, body,
                           payload="UNSIGNED-PAYLOAD")
    s = socket.create_connection(host_port(srv), timeout=30)
    try:
        if not any(k.lower() == "host" for k in headers):
            headers["Host"] = "%s:%d" % host_port(srv)
        head = "%s %s HTTP/1.1\r\n" % (method, target)
        head += "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
        s.sendall(head.encode())
        try:
            s.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        while True:
            try:
                got = s.recv(65536)
            except ConnectionResetError:
                break
            if not got:
                break
            data += got
    finally:
        s.close()
    status_line, _, rest = data.partition(b"\r\n")
    hdrs, _, payload = rest.partition(b"\r\n\r\n")
    pairs = [l.decode().split(":", 1) for l in hdrs.split(b"\r\n") if b":" in l]
    return RawResponse(int(status_line.split()[1]), header_dict((k, v.strip()) for k, v in pairs),
                       payload)


def make_bucket(c, name):
    c.create_bucket(Bucket=name)
    return name


def upload_chunk(srv, bucket, piece, **kw):
    return call(srv, "PUT", "/%s?cairn-chunk=%s" % (bucket, cid(piece)), body=piece, **kw)


def commit(srv, bucket, key, chunks, size, headers=None):
    doc = {"size": size, "chunks": [{"id": cid(p), "len": len(p)} for p in chunks]}
    return call(srv, "PUT", "/%s/%s?cairn-commit" % (bucket, urllib.parse.quote(key)), doc=doc,
                headers=headers)


def commit_etag(chunks):
    md5 = hashlib.md5(b"".join(hashlib.sha256(p).digest() for p in chunks)).hexdigest()
    return '"%s-%d"' % (md5, len(chunks))


# ---------------------------------------------------------------------------

def test_info(srv):
    info = ok_json(call(srv, "GET", "/?cairn-sync"))
    assert info["protocol"] == 1
    assert (info["chunk_min"], info["chunk_avg"], info["chunk_max"]) == (256 * KiB, MiB, 4 * MiB)
    assert info["inline_max"] == 128 * KiB
    assert info["max_missing_ids"] >= 1000 and info["max_commit_chunks"] >= 1000
    assert info["max_wait"] == 60


def test_upload_and_commit(srv):
    c = srv.client()
    b = make_bucket(c, "sync-commit")
    data = os.urandom(3 * MiB + 12345)
    chunks = pieces(data)
    ids = [cid(p) for p in chunks]

    got = ok_json(call(srv, "POST", "/%s?cairn-missing" % b, doc={"chunks": ids + ids[:1]}))
    assert got["missing"] == ids  # request order, duplicates once
    for p in chunks:
        r = ok_json(upload_chunk(srv, b, p))
        assert r == {"id": cid(p), "len": len(p), "stored": True}, r
    # uploading again is harmless and says so
    assert ok_json(upload_chunk(srv, b, chunks[0]))["stored"] is False
    assert ok_json(call(srv, "POST", "/%s?cairn-missing" % b, doc={"chunks": ids}))["missing"] == []

    resp = commit(srv, b, "dir/file one.bin", chunks, len(data),
                  headers={"Content-Type": "application/x-test", "x-amz-meta-origin": "laptop"})
    doc = ok_json(resp)
    etag = commit_etag(chunks)
    assert doc == {"etag": etag, "version_id": "null", "size": len(data)}, doc
    assert resp.headers["etag"] == etag

    # an ordinary object for any S3 client
    o = c.get_object(Bucket=b, Key="dir/file one.bin")
    assert o["Body"].read() == data
    assert o["ETag"] == etag
    assert o["ContentType"] == "application/x-test"
    assert o["Metadata"] == {"origin": "laptop"}
    keys = [x["Key"] for x in c.list_objects_v2(Bucket=b)["Contents"]]
    assert keys == ["dir/file one.bin"]

    # its chunk list, and a ranged read of one chunk pinned to the ETag
    lst = ok_json(call(srv, "GET", "/%s/dir/file%%20one.bin?cairn-chunks" % b))
    assert lst["size"] == len(data) and lst["etag"] == etag and lst["inline"] is False
    assert [(x["id"], x["len"]) for x in lst["chunks"]] == [(cid(p), len(p)) for p in chunks]
    assert lst["version_id"] == "null" and lst["mtime_ms"] > 0
    assert lst["meta"] == {"origin": "laptop"}, lst["meta"]
    r = c.get_object(Bucket=b, Key="dir/file one.bin", Range="bytes=%d-%d" % (MiB, 2 * MiB - 1),
                     IfMatch=etag)
    assert r["Body"].read() == chunks[1]

    # the same content committed again: same ETag (stable), nothing uploaded
    doc2 = ok_json(commit(srv, b, "copy.bin", chunks, len(data)))
    assert doc2["etag"] == etag
    assert c.get_object(Bucket=b, Key="copy.bin")["Body"].read() == data


def test_empty_and_small(srv):
    c = srv.client()
    b = make_bucket(c, "sync-small")
    assert ok_json(commit(srv, b, "empty", [], 0))["size"] == 0
    assert c.get_object(Bucket=b, Key="empty")["Body"].read() == b""
    # a small file by plain PUT is inline: its chunk list says so
    c.put_object(Bucket=b, Key="tiny", Body=b"hello")
    lst = ok_json(call(srv, "GET", "/%s/tiny?cairn-chunks" % b))
    assert lst["inline"] is True and lst["chunks"] == [] and lst["size"] == 5
    assert ok_json(call(srv, "GET", "/%s/empty?cairn-chunks" % b))["inline"] is False


def test_dedup_with_plain_put(srv):
    """A file stored by PutObject is cut by the server; committing its chunk
    list under another key sends no bytes and gives the same content."""
    c = srv.client()
    b = make_bucket(c, "sync-dedup")
    data = os.urandom(5 * MiB)
    c.put_object(Bucket=b, Key="orig", Body=data)
    lst = ok_json(call(srv, "GET", "/%s/orig?cairn-chunks" % b))
    ids = [x["id"] for x in lst["chunks"]]
    assert len(ids) >= 2
    assert ok_json(call(srv, "POST", "/%s?cairn-missing" % b, doc={"chunks": ids}))["missing"] == []
    doc = {"size": lst["size"], "chunks": lst["chunks"]}
    ok_json(call(srv, "PUT", "/%s/renamed?cairn-commit" % b, doc=doc))
    assert c.get_object(Bucket=b, Key="renamed")["Body"].read() == data
    # deleting the original keeps the renamed copy whole (reference counts)
    c.delete_object(Bucket=b, Key="orig")
    r = srv.admin("gc", "--grace", "0")
    assert r.returncode == 0, r.stderr
    assert c.get_object(Bucket=b, Key="renamed")["Body"].read() == data


def test_preconditions(srv):
    c = srv.client()
    b = make_bucket(c, "sync-precond")
    v1 = [os.urandom(300 * KiB)]
    v2 = [os.urandom(400 * KiB)]
    for p in v1 + v2:
        ok_json(upload_chunk(srv, b, p))
    e1 = ok_json(commit(srv, b, "f", v1, len(v1[0]), headers={"If-None-Match": "*"}))["etag"]
    # create-only again: the key exists now
    err(commit(srv, b, "f", v2, len(v2[0]), headers={"If-None-Match": "*"}), 412,
        "PreconditionFailed")
    # the version the client last saw
    e2 = ok_json(commit(srv, b, "f", v2, len(v2[0]), headers={"If-Match": e1}))["etag"]
    # a second client still holding e1 loses: a conflict, nothing overwritten
    r = commit(srv, b, "f", v1, len(v1[0]), headers={"If-Match": e1})
    assert r.status in (412, 404), r
    assert c.head_object(Bucket=b, Key="f")["ETag"] == e2
    assert c.get_object(Bucket=b, Key="f")["Body"].read() == v2[0]


def test_errors(srv):
    c = srv.client()
    b = make_bucket(c, "sync-errors")
    good = os.urandom(100 * KiB)
    # malformed ids
    err(call(srv, "POST", "/%s?cairn-missing" % b, doc={"chunks": ["xyz"]}), 400, "InvalidArgument")
    err(call(srv, "POST", "/%s?cairn-missing" % b, doc={"chunks": [cid(good).upper()]}), 400,
        "InvalidArgument")
    err(call(srv, "POST", "/%s?cairn-missing" % b, body=b"{not json"), 400, "InvalidArgument")
    err(call(srv, "POST", "/%s?cairn-missing" % b, doc={"chunks": [cid(good)] * 10001}), 400,
        "InvalidArgument")
    err(call(srv, "PUT", "/%s?cairn-chunk=abc" % b, body=good), 400, "InvalidArgument")
    # bytes that do not hash to the id are refused and not stored
    bad = bytearray(good)
    bad[5] ^= 1
    err(call(srv, "PUT", "/%s?cairn-chunk=%s" % (b, cid(good)), body=bytes(bad)), 400, "BadDigest")
    got = ok_json(call(srv, "POST", "/%s?cairn-missing" % b, doc={"chunks": [cid(good)]}))
    assert got["missing"] == [cid(good)]
    # sizes
    err(call(srv, "PUT", "/%s?cairn-chunk=%s" % (b, cid(b""))), 400, "InvalidArgument")
    big = os.urandom(4 * MiB + 1)
    err(early_reply(srv, "PUT", "/%s?cairn-chunk=%s" % (b, cid(big)), big), 400, "EntityTooLarge")
    # commits: a chunk the store lacks is named in the answer
    e = err(commit(srv, b, "k", [good], len(good)), 400, "XCairnMissingChunks")
    assert cid(good) in e["Message"], e
    ok_json(upload_chunk(srv, b, good))
    err(commit(srv, b, "k", [good], len(good) + 1), 400, "InvalidArgument")
    err(call(srv, "PUT", "/%s/k?cairn-commit" % b, doc={"chunks": []}), 400, "InvalidArgument")
    err(call(srv, "PUT", "/%s/k?cairn-commit" % b,
             doc={"size": 1, "chunks": [{"id": cid(good), "len": 0}]}), 400, "InvalidArgument")
    assert "Contents" not in c.list_objects_v2(Bucket=b)
    # chunk lists of what is not there
    err(call(srv, "GET", "/%s/nope?cairn-chunks" % b), 404, "NoSuchKey")
    err(call(srv, "POST", "/nosuchbucket?cairn-missing", doc={"chunks": []}), 404, "NoSuchBucket")
    # wrong method or level for a sync parameter
    err(call(srv, "GET", "/%s?cairn-missing" % b), 405, "MethodNotAllowed")
    err(call(srv, "PUT", "/%s/k?cairn-chunk=%s" % (b, cid(good)), body=good), 405,
        "MethodNotAllowed")


def test_permissions(srv):
    c = srv.client()
    b = make_bucket(c, "sync-perm")
    ak, sk = srv.add_user("sync-mallory")
    piece = os.urandom(50 * KiB)
    err(upload_chunk(srv, b, piece, key=ak, secret=sk), 403, "AccessDenied")
    err(call(srv, "POST", "/%s?cairn-missing" % b, doc={"chunks": [cid(piece)]}, key=ak,
             secret=sk), 403, "AccessDenied")
    err(call(srv, "GET", "/%s?cairn-changes" % b, key=ak, secret=sk), 403, "AccessDenied")
    err(call(srv, "GET", "/%s?cairn-changes" % b, sign=False), 403, "AccessDenied")
    ok_json(upload_chunk(srv, b, piece))
    err(commit_as(srv, b, "x", [piece], ak, sk), 403, "AccessDenied")
    c.put_object(Bucket=b, Key="secret", Body=os.urandom(200 * KiB))
    err(call(srv, "GET", "/%s/secret?cairn-chunks" % b, key=ak, secret=sk), 403, "AccessDenied")


def commit_as(srv, bucket, key, chunks, ak, sk):
    doc = {"size": sum(len(p) for p in chunks),
           "chunks": [{"id": cid(p), "len": len(p)} for p in chunks]}
    return call(srv, "PUT", "/%s/%s?cairn-commit" % (bucket, key), doc=doc, key=ak, secret=sk)


def test_change_feed(srv):
    c = srv.client()
    b = make_bucket(c, "sync-feed")
    start = ok_json(call(srv, "GET", "/%s?cairn-changes&after=latest" % b))
    assert start["changes"] == [] and start["next"] == 0
    c.put_object(Bucket=b, Key="docs/a.txt", Body=b"a")
    c.put_object(Bucket=b, Key="pics/p.jpg", Body=b"p" * 1000, Metadata={"cairn-mode": "0640"})
    c.delete_object(Bucket=b, Key="docs/a.txt")
    feed = ok_json(call(srv, "GET", "/%s?cairn-changes&after=0" % b))
    got = [(x["seq"], x["op"], x["key"]) for x in feed["changes"]]
    assert got == [(1, "put", "docs/a.txt"), (2, "put", "pics/p.jpg"), (3, "delete", "docs/a.txt")]
    assert feed["next"] == 3 and feed["truncated"] is False
    p = feed["changes"][1]
    assert p["size"] == 1000 and p["etag"] == '"%s"' % hashlib.md5(b"p" * 1000).hexdigest()
    assert p["version_id"] == "null" and p["mtime_ms"] > 0
    assert p["meta"] == {"cairn-mode": "0640"}, p  # a put carries its user metadata
    assert "meta" not in feed["changes"][0]  # that version is gone (deleted)
    assert "meta" not in feed["changes"][2]  # a delete has none
    # prefix: others are skipped, the cursor still moves past them
    f = ok_json(call(srv, "GET", "/%s?cairn-changes&after=0&prefix=pics%%2F" % b))
    assert [x["key"] for x in f["changes"]] == ["pics/p.jpg"] and f["next"] == 3
    # pages
    f = ok_json(call(srv, "GET", "/%s?cairn-changes&after=0&max-changes=2" % b))
    assert len(f["changes"]) == 2 and f["truncated"] is True and f["next"] == 2
    f = ok_json(call(srv, "GET", "/%s?cairn-changes&after=2&max-changes=2" % b))
    assert [x["seq"] for x in f["changes"]] == [3] and f["truncated"] is False
    # latest is now 3
    assert ok_json(call(srv, "GET", "/%s?cairn-changes&after=latest" % b))["next"] == 3
    # bad parameters
    for q in ["after=-1", "after=x", "max-changes=0", "max-changes=1001", "wait=61", "wait=x"]:
        err(call(srv, "GET", "/%s?cairn-changes&%s" % (b, q)), 400, "InvalidArgument")


def test_long_poll(srv):
    c = srv.client()
    b = make_bucket(c, "sync-poll")
    # nothing happens: the poll ends after the wait, empty
    t0 = time.time()
    f = ok_json(call(srv, "GET", "/%s?cairn-changes&after=latest&wait=1" % b))
    assert f["changes"] == [] and 0.9 <= time.time() - t0 < 5
    # a change during the poll ends it at once
    writer = threading.Timer(1.0, lambda: c.put_object(Bucket=b, Key="late", Body=b"x"))
    writer.start()
    t0 = time.time()
    f = ok_json(call(srv, "GET", "/%s?cairn-changes&after=0&wait=20" % b, timeout=30))
    took = time.time() - t0
    writer.join()
    assert [x["key"] for x in f["changes"]] == ["late"], f
    assert 0.8 <= took < 5, took
    # a change under another prefix does not end a prefixed poll early
    writer = threading.Timer(0.5, lambda: c.put_object(Bucket=b, Key="other/x", Body=b"x"))
    writer.start()
    t0 = time.time()
    f = ok_json(call(srv, "GET", "/%s?cairn-changes&after=1&prefix=mine%%2F&wait=2" % b, timeout=30))
    writer.join()
    assert f["changes"] == [] and f["next"] == 2 and time.time() - t0 >= 1.9


def test_uncommitted_chunks_collected(srv):
    c = srv.client()
    b = make_bucket(c, "sync-gc")
    piece = os.urandom(700 * KiB)
    ok_json(upload_chunk(srv, b, piece))
    q = {"chunks": [cid(piece)]}
    assert ok_json(call(srv, "POST", "/%s?cairn-missing" % b, doc=q))["missing"] == []
    r = srv.admin("gc", "--grace", "0")
    assert r.returncode == 0, r.stderr
    assert ok_json(call(srv, "POST", "/%s?cairn-missing" % b, doc=q))["missing"] == [cid(piece)]
    err(commit(srv, b, "late", [piece], len(piece)), 400, "XCairnMissingChunks")
    ok_json(upload_chunk(srv, b, piece))
    ok_json(commit(srv, b, "late", [piece], len(piece)))
    assert c.get_object(Bucket=b, Key="late")["Body"].read() == piece


run_tests(globals(), setup=Server)
