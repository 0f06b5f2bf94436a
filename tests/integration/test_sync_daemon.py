#!/usr/bin/env python3
"""cairn-sync end to end: a real server and two cairn-sync processes on two
folders of this machine, driven only through the files of the folders and
the CLI.

Checks that both folders converge (content, kinds, permission bits, empty
folders, symlinks) after creates, edits, deletes and renames on either
side, also while the other client is offline; that an edit on both sides
keeps both (a conflict copy on both machines); what a one-byte edit of a
large file sends; that kill -9 of a client or of the server mid-sync loses
nothing; and a seeded random test of many operations on both sides
(CAIRN_SYNC_SEED=<n> replays one).
"""
import hashlib
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time

from cairn_test import Server, run_tests

MiB = 1 << 20
SYNC_BIN = os.environ.get("CAIRN_SYNC_BIN")
CONVERGE_S = 60


class Client:
    """One cairn-sync daemon on one folder, with its own config dir."""

    def __init__(self, srv, name, bucket, prefix="team/"):
        self.srv = srv
        self.name = name
        self.base = os.path.join(srv.tmp, "client-" + name)
        self.folder = os.path.join(self.base, "folder")
        self.env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(self.base, "config"),
                        AWS_ACCESS_KEY_ID=srv.key, AWS_SECRET_ACCESS_KEY=srv.secret,
                        HOME=self.base)
        self.env.pop("AWS_PROFILE", None)
        os.makedirs(self.folder, exist_ok=True)
        r = self.cli("init", self.folder, "s3://%s/%s" % (bucket, prefix), "--endpoint",
                     srv.endpoint)
        assert r.returncode == 0, (r.stdout, r.stderr)
        self.proc = None
        self.log_path = os.path.join(self.base, "daemon.log")

    def cli(self, *args):
        return subprocess.run([SYNC_BIN] + list(args), env=self.env, capture_output=True,
                              text=True, timeout=120)

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([SYNC_BIN, "run", self.folder, "--host", self.name],
                                     env=self.env, stdout=log, stderr=log)
        # up once its status names it (a signal before its handlers are set
        # would kill it like any process)
        deadline = time.time() + 30
        while self.status().get("pid") != self.proc.pid or \
                self.status().get("state") == "stopped":
            assert self.proc.poll() is None, "cairn-sync exited at start:\n" + self.log()
            assert time.time() < deadline, "cairn-sync did not start:\n" + self.log()
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            rc = self.proc.wait(timeout=30)
            if sig == signal.SIGTERM:
                assert rc == 0, "cairn-sync exited with %d after SIGTERM" % rc
        self.proc = None

    def status(self):
        try:
            with open(os.path.join(self.folder, ".cairn-sync", "status.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def p(self, rel):
        return os.path.join(self.folder, rel)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""


def tree(folder):
    """Everything synced in folder: rel path -> (kind, content hash or link, mode)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        rel_dir = os.path.relpath(dirpath, folder)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d != ".cairn-sync"]
            rel_dir = ""
        for d in list(dirnames):
            full = os.path.join(dirpath, d)
            rel = os.path.join(rel_dir, d)
            if os.path.islink(full):
                out[rel] = ("link", os.readlink(full), 0)
                dirnames.remove(d)
            else:
                out[rel] = ("dir", "", 0)
        for f in filenames:
            full = os.path.join(dirpath, f)
            rel = os.path.join(rel_dir, f)
            if f.startswith(".cairn-sync-tmp-"):
                continue  # a download on its way in
            try:
                st = os.lstat(full)
            except FileNotFoundError:
                continue  # gone since the listing: the next look sees the end state
            try:
                if stat.S_ISLNK(st.st_mode):
                    out[rel] = ("link", os.readlink(full), 0)
                else:
                    with open(full, "rb") as fh:
                        out[rel] = ("file", hashlib.sha256(fh.read()).hexdigest(),
                                    stat.S_IMODE(st.st_mode))
            except (FileNotFoundError, OSError):
                continue
    return out


def converge(*clients, timeout=CONVERGE_S, want=None):
    """Wait until every client is up to date and all folders are identical."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        trees = [tree(c.folder) for c in clients]
        states = [c.status().get("state") for c in clients]
        if all(t == trees[0] for t in trees) and all(s == "up to date" for s in states):
            if want is None or want(trees[0]):
                time.sleep(0.5)  # still the same a moment later?
                again = [tree(c.folder) for c in clients]
                if all(t == trees[0] for t in again):
                    return trees[0]
        last = (trees, states)
        time.sleep(0.25)
    diff = {}
    for i, t in enumerate(last[0]):
        for k in set(t) ^ set(last[0][0]) | {k for k in t if t.get(k) != last[0][0].get(k)}:
            diff.setdefault(k, {})[clients[i].name] = t.get(k)
    msg = "no convergence within %d s: states %s, differences %s" % (timeout, last[1], diff)
    for c in clients:
        msg += "\n--- %s log ---\n%s" % (c.name, c.log())
    raise AssertionError(msg)


def write(path, data, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    if mode is not None:
        os.chmod(path, mode)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def uploaded(c):
    return c.status().get("uploaded_bytes", 0)


class Ctx(Server):
    """The server, and pairs of clients on fresh buckets."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def pair(self):
        """A fresh bucket and two running clients on it."""
        self.n += 1
        bucket = "sync%d" % self.n
        self.client().create_bucket(Bucket=bucket)
        a = Client(self, "laptop%d" % self.n, bucket)
        b = Client(self, "desktop%d" % self.n, bucket)
        a.start()
        b.start()
        return a, b


def stop_all(*clients):
    for c in clients:
        c.stop()


def test_basic_both_ways(ctx):
    a, b = ctx.pair()
    try:
        write(a.p("hello.txt"), b"hello\n", 0o640)
        write(a.p("docs/report.bin"), os.urandom(3 * MiB + 17))
        write(a.p("bin/run.sh"), b"#!/bin/sh\necho hi\n", 0o755)
        os.makedirs(a.p("empty/inner"))
        os.symlink("hello.txt", a.p("link"))
        t = converge(a, b, want=lambda t: "link" in t and "empty/inner" in t)
        assert t["bin/run.sh"][2] == 0o755 and t["hello.txt"][2] == 0o640, t
        assert t["link"] == ("link", "hello.txt", 0)
        # edit, delete and rename on the other side
        write(b.p("hello.txt"), b"hello again\n")
        os.remove(b.p("docs/report.bin"))
        os.rename(b.p("bin"), b.p("tools"))
        os.rmdir(b.p("empty/inner"))
        t = converge(a, b, want=lambda t: "tools/run.sh" in t and "empty/inner" not in t)
        assert read(a.p("hello.txt")) == b"hello again\n"
        assert "docs/report.bin" not in t and "bin/run.sh" not in t and "bin" not in t, t
        assert t["tools/run.sh"][2] == 0o755
        # permission bits alone, both ways (no content change)
        os.chmod(b.p("tools/run.sh"), 0o700)
        converge(a, b, want=lambda t: t["tools/run.sh"][2] == 0o700)
        os.chmod(a.p("hello.txt"), 0o604)
        converge(a, b, want=lambda t: t["hello.txt"][2] == 0o604)
        # the objects are ordinary S3 objects
        s3 = ctx.client()
        got = s3.get_object(Bucket="sync%d" % ctx.n, Key="team/hello.txt")["Body"].read()
        assert got == b"hello again\n"
        # a rename of a small file is a copy on the server: nothing sent
        sent = uploaded(b)
        os.rename(b.p("hello.txt"), b.p("greeting.txt"))
        converge(a, b, want=lambda t: "greeting.txt" in t and "hello.txt" not in t)
        assert read(a.p("greeting.txt")) == b"hello again\n"
        assert uploaded(b) == sent, (sent, b.status())
        assert "copied on the server" in b.cli("log", b.folder, "-n", "50").stdout
        # paused: nothing goes out until resume
        assert a.cli("pause", a.folder).returncode == 0
        wait_for("paused", lambda: a.status().get("state") == "paused", clients=(a, b))
        write(a.p("held.txt"), b"held back\n")
        time.sleep(1.5)
        assert not os.path.exists(b.p("held.txt"))
        assert a.cli("resume", a.folder).returncode == 0
        converge(a, b, want=lambda t: "held.txt" in t)
    finally:
        stop_all(a, b)


def wait_for(what, fn, timeout=CONVERGE_S, clients=()):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return
        time.sleep(0.25)
    raise AssertionError("timed out waiting for %s\n%s" % (
        what, "\n".join("--- %s log ---\n%s" % (c.name, c.log()) for c in clients)))


def test_ignored_and_unsyncable(ctx):
    a, b = ctx.pair()
    try:
        write(a.p(".cairnignore"), b"*.log\nbuild/\n")
        write(a.p("app.log"), b"noise")
        write(a.p("build/out.o"), b"object code")
        write(a.p("src/main.c"), b"int main(void) { return 0; }\n")
        os.mkfifo(a.p("pipe"))
        wait_for("src/main.c on the other side", lambda: os.path.exists(b.p("src/main.c")) and
                 os.path.exists(b.p(".cairnignore")), clients=(a, b))
        wait_for("the fifo reported, the rest synced", lambda: a.status().get("state") ==
                 "errors" and any(e.get("path") == "pipe" for e in a.status().get("errors", [])),
                 clients=(a, b))
        keys = [o["Key"] for o in ctx.client().list_objects_v2(
            Bucket="sync%d" % ctx.n).get("Contents", [])]
        assert "team/src/main.c" in keys and "team/.cairnignore" in keys, keys
        assert not [k for k in keys if k.endswith(".log") or "build" in k or "pipe" in k], keys
        # the rules hold on the other side too, and a folder deleted there
        # that still holds an ignored file here is kept, with that file
        write(b.p("src/debug.log"), b"local noise")
        time.sleep(1.0)
        shutil.rmtree(a.p("src"))
        wait_for("src/main.c deleted", lambda: not os.path.exists(b.p("src/main.c")),
                 clients=(a, b))
        time.sleep(1.0)
        assert read(b.p("src/debug.log")) == b"local noise"
        assert "team/src/debug.log" not in [o["Key"] for o in ctx.client().list_objects_v2(
            Bucket="sync%d" % ctx.n).get("Contents", [])]
    finally:
        stop_all(a, b)


def test_one_byte_edit_sends_little(ctx):
    a, b = ctx.pair()
    try:
        size = 200 * MiB
        path = a.p("big.bin")
        with open(path, "wb") as f:
            for _ in range(size // MiB):
                f.write(os.urandom(MiB))
        converge(a, b, timeout=180, want=lambda t: "big.bin" in t)
        before = uploaded(a)
        with open(path, "r+b") as f:
            f.seek(size // 2)
            old = f.read(1)
            f.seek(size // 2)
            f.write(bytes([old[0] ^ 0xFF]))
        converge(a, b, timeout=120, want=lambda t: t["big.bin"] != ("", "", 0) and
                 read(b.p("big.bin"))[size // 2] == old[0] ^ 0xFF)
        sent = uploaded(a) - before
        assert 0 < sent < 5 * MiB, "a one-byte edit sent %d bytes" % sent
        print("one-byte edit of 200 MiB sent %.2f MiB" % (sent / MiB))
    finally:
        stop_all(a, b)


def test_offline_edits_and_conflict(ctx):
    a, b = ctx.pair()
    try:
        write(a.p("notes.txt"), b"v1\n")
        converge(a, b, want=lambda t: "notes.txt" in t)
        b.stop()
        write(a.p("notes.txt"), b"edited on laptop\n")
        write(b.p("notes.txt"), b"edited on desktop\n")
        write(b.p("offline-new.txt"), b"made while offline\n")
        time.sleep(1.5)  # a's edit reaches the server first
        b.start()
        t = converge(a, b, want=lambda t: any("conflicted copy" in k for k in t))
        copies = [k for k in t if "conflicted copy" in k]
        assert len(copies) == 1 and b.name in copies[0], copies
        contents = {read(a.p("notes.txt")), read(a.p(copies[0]))}
        assert contents == {b"edited on laptop\n", b"edited on desktop\n"}, contents
        assert read(a.p("offline-new.txt")) == b"made while offline\n"
        r = b.cli("conflicts", b.folder)
        assert r.returncode == 0 and copies[0] in r.stdout, (r.stdout, r.stderr)
    finally:
        stop_all(a, b)


def test_kill9_client_and_server(ctx):
    a, b = ctx.pair()
    try:
        data = os.urandom(40 * MiB)
        write(a.p("large.bin"), data)
        time.sleep(1.0)
        a.stop(signal.SIGKILL)  # mid-upload
        a.start()
        converge(a, b, timeout=120, want=lambda t: "large.bin" in t)
        assert read(b.p("large.bin")) == data
        # the server dies while b downloads
        data2 = os.urandom(40 * MiB)
        write(a.p("large2.bin"), data2)
        time.sleep(1.5)
        ctx.kill()
        time.sleep(1.0)
        ctx.start()
        converge(a, b, timeout=120, want=lambda t: "large2.bin" in t)
        assert read(b.p("large2.bin")) == data2 and read(a.p("large2.bin")) == data2
    finally:
        stop_all(a, b)


def random_ops(rng, c, names):
    """One random operation on client c's folder."""
    op = rng.choice(["create", "create", "edit", "edit", "delete", "rename", "mkdir"])
    files = [k for k, v in tree(c.folder).items() if v[0] == "file"]
    if op in ("edit", "delete", "rename") and not files:
        op = "create"
    if op == "create":
        path = c.p(rng.choice(["", "d1/", "d2/", "d1/sub/"]) + rng.choice(names))
        if not os.path.isdir(path):
            write(path, rng.randbytes(rng.choice([0, 10, 5000, 300000])))
    elif op == "edit":
        with open(c.p(rng.choice(files)), "ab") as f:
            f.write(rng.randbytes(rng.randint(1, 2000)))
    elif op == "delete":
        os.remove(c.p(rng.choice(files)))
    elif op == "rename":
        src = c.p(rng.choice(files))
        dst = c.p(rng.choice(["", "d2/"]) + rng.choice(names))
        if not os.path.exists(dst):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.rename(src, dst)
    else:
        os.makedirs(c.p(rng.choice(["d3", "d1/sub2", "d4/deeper"])), exist_ok=True)


def test_random_convergence(ctx):
    seeds = ([int(os.environ["CAIRN_SYNC_SEED"])] if "CAIRN_SYNC_SEED" in os.environ
             else [random.randrange(1 << 30) for _ in range(3)])
    for seed in seeds:
        a, b = ctx.pair()
        try:
            rng = random.Random(seed)
            names = ["f%d.txt" % i for i in range(12)]
            print("seed %d" % seed)
            for _ in range(3):  # rounds: both sides act at once, then settle
                for _ in range(rng.randint(3, 10)):
                    random_ops(rng, rng.choice([a, b]), names)
                    time.sleep(rng.choice([0, 0, 0.05, 0.3]))
                if rng.random() < 0.3:  # one side goes offline for a while
                    b.stop()
                    for _ in range(rng.randint(1, 5)):
                        random_ops(rng, rng.choice([a, b]), names)
                    b.start()
                converge(a, b)
        except AssertionError as e:
            raise AssertionError("seed %d (CAIRN_SYNC_SEED=%d replays it): %s" % (seed, seed, e))
        finally:
            stop_all(a, b)


if __name__ == "__main__":
    if not SYNC_BIN:
        print("CAIRN_SYNC_BIN is not set")
        sys.exit(1)
    run_tests(globals(), setup=Ctx)
