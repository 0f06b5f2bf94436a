#!/usr/bin/env python3
"""CORS in a real browser: Debian's headless Chromium loads a page from a
second loopback origin (its own port of 127.0.0.1) whose JavaScript
uploads to cairn with fetch() on presigned PUT URLs (one signing the
Content-Type the page sends, one without a Content-Type) and downloads
with a presigned GET, reading the exposed ETag.  The page POSTs what it
saw back to its own server.

Checked: the uploads landed byte for byte (read back with boto3) with the
ETags the page was shown; the download's bytes and ETag match the object.
Then, with the bucket's CORS rules deleted, the same fetches fail in the
browser (blocked by CORS) and nothing is written.

Chromium is a test dependency (scripts/setup.sh --with-tests installs
it): if it is missing this test fails, it does not skip.
"""
import base64
import hashlib
import http.server
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from botocore.config import Config

from cairn_test import Server, error_code, free_port, run_tests

BROWSER_SECONDS = 60  # one page run, start-up included

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>cairn CORS</title></head><body>
<script id="cfg" type="application/json">%s</script>
<script>
function fromB64(s) {
  const bin = atob(s), out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function toB64(bytes) {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 8192)
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
  return btoa(bin);
}
async function put(url, body, headers) {
  try {
    const r = await fetch(url, {method: "PUT", body: body, headers: headers});
    return {status: r.status, etag: r.headers.get("ETag")};
  } catch (e) {
    return {error: e.name + ": " + e.message};
  }
}
async function run() {
  const cfg = JSON.parse(document.getElementById("cfg").textContent);
  const out = {};
  out.put_typed = await put(cfg.put_typed_url, fromB64(cfg.put_typed_b64),
                            {"Content-Type": cfg.content_type});
  out.put_plain = await put(cfg.put_plain_url, fromB64(cfg.put_plain_b64), {});
  try {
    const r = await fetch(cfg.get_url);
    const bytes = new Uint8Array(await r.arrayBuffer());
    out.get = {status: r.status, etag: r.headers.get("ETag"), b64: toB64(bytes),
               request_id: r.headers.get("x-amz-request-id")};
  } catch (e) {
    out.get = {error: e.name + ": " + e.message};
  }
  await fetch("/result", {method: "POST", body: JSON.stringify(out)});
}
run();
</script></body></html>
"""


class PageServer:
    """The page's origin: serves one page, takes one result."""

    def __init__(self):
        self.page = b""
        self.result = None
        self.got = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/page.html":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(outer.page)))
                self.end_headers()
                self.wfile.write(outer.page)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                if self.path == "/result":
                    outer.result = json.loads(body)
                    outer.got.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def chromium_binary():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("Chromium is not installed: run scripts/setup.sh --with-tests "
                         "(it installs Debian's chromium package)")


def run_page(page_server, cfg):
    """Load the page in a fresh headless Chromium; the result it posted."""
    page_server.page = (PAGE % json.dumps(cfg).replace("</", "<\\/")).encode()
    page_server.result = None
    page_server.got.clear()
    profile = tempfile.mkdtemp(prefix="cairn-chromium.")
    log = open(os.path.join(profile, "chromium.log"), "w+")
    cmd = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-proxy-server", "--user-data-dir=" + profile,
           "http://127.0.0.1:%d/page.html" % page_server.port]
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
    try:
        if not page_server.got.wait(BROWSER_SECONDS):
            log.seek(0)
            raise AssertionError("no result from the page within %d s; chromium said:\n%s"
                                 % (BROWSER_SECONDS, log.read()[-3000:]))
        return page_server.result
    finally:
        # chromium and its helpers are the process group it leads
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(10)
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                break
            time.sleep(0.5)  # helpers still going after the main process get the KILL
        log.close()
        shutil.rmtree(profile, ignore_errors=True)


def b64(data):
    return base64.b64encode(data).decode()


def page_config(c, v4, tag, get_key):
    typed = os.urandom(300 * 1024)          # above the inline threshold: chunked
    plain = bytes(range(256)) * 7           # every byte value
    cfg = {
        "content_type": "application/octet-stream",
        "put_typed_b64": b64(typed),
        "put_plain_b64": b64(plain),
        # SigV4, Content-Type signed: the page must send exactly it
        "put_typed_url": v4.generate_presigned_url(
            "put_object", Params={"Bucket": "web", "Key": "up/typed-" + tag,
                                  "ContentType": "application/octet-stream"}, ExpiresIn=600),
        # boto3's default presigned form, no Content-Type (a Uint8Array body sends none)
        "put_plain_url": c.generate_presigned_url(
            "put_object", Params={"Bucket": "web", "Key": "up/plain-" + tag}, ExpiresIn=600),
        "get_url": v4.generate_presigned_url(
            "get_object", Params={"Bucket": "web", "Key": get_key}, ExpiresIn=600),
    }
    return cfg, typed, plain


def test_browser_upload_and_download_then_blocked():
    srv = Server()
    pages = PageServer()
    try:
        c = srv.client()
        v4 = srv.client(signature_version="s3v4")
        c.create_bucket(Bucket="web")
        download = os.urandom(200 * 1024 + 17)
        c.put_object(Bucket="web", Key="shared/photo.bin", Body=download)
        etag = c.head_object(Bucket="web", Key="shared/photo.bin")["ETag"]
        page_origin = "http://127.0.0.1:%d" % pages.port
        assert page_origin != srv.endpoint
        c.put_bucket_cors(Bucket="web", CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": [page_origin],
            "AllowedMethods": ["GET", "PUT"],
            "AllowedHeaders": ["content-type"],
            "ExposeHeaders": ["ETag", "x-amz-request-id"],
            "MaxAgeSeconds": 60,
        }]})

        cfg, typed, plain = page_config(c, v4, "1", "shared/photo.bin")
        res = run_page(pages, cfg)
        for name, data in (("typed", typed), ("plain", plain)):
            put = res["put_" + name]
            assert put.get("status") == 200, (name, put)
            stored = c.get_object(Bucket="web", Key="up/%s-1" % name)
            assert stored["Body"].read() == data, name + ": upload not byte-exact"
            assert put["etag"] == stored["ETag"], (name, put, stored["ETag"])
        assert c.head_object(Bucket="web", Key="up/typed-1")["ContentType"] == \
            "application/octet-stream"
        got = res["get"]
        assert got.get("status") == 200, got
        assert base64.b64decode(got["b64"]) == download, "download differs"
        assert got["etag"] == etag, (got["etag"], etag)
        assert got["request_id"], got  # exposed too

        # without rules the browser refuses both directions
        c.delete_bucket_cors(Bucket="web")
        cfg, _, _ = page_config(c, v4, "2", "shared/photo.bin")
        res = run_page(pages, cfg)
        for name in ("put_typed", "put_plain", "get"):
            assert "error" in res[name] and res[name]["error"].startswith("TypeError"), \
                (name, res[name])
        for key in ("up/typed-2", "up/plain-2"):
            try:
                c.head_object(Bucket="web", Key=key)
                raise AssertionError(key + " was written although its preflight was refused")
            except Exception as e:
                if isinstance(e, AssertionError):
                    raise
                assert error_code(e) == "404", e
    finally:
        pages.close()
        srv.close()


if __name__ == "__main__":
    run_tests(globals())
