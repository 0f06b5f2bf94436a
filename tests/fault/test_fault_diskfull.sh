#!/bin/bash
# tests/fault/test_fault_diskfull.sh - one of the six drives fills up.
#
# The server runs with --drives pointing at five ordinary folders and one
# small file system (an 8 MiB tmpfs; a 16 MiB loop-mounted ext4 image when
# tmpfs cannot be mounted).  Every chunk puts one shard on every drive
# (EC 4+2 over 6 drives), so uploading 2 MB objects fills the small one.
# Checks:
#   - the PUT that cannot be stored gets a clean S3 error (507
#     XCairnStorageFull, or another 5xx with an XML <Error> body) - not a
#     dropped connection, not a crash - and leaves no object behind;
#   - everything acknowledged before still reads back byte-exact and is
#     listed; small (inline) objects can still be written;
#   - after kill -9 and restart on the full drive, the same holds;
#   - after deleting objects and `cairn admin gc --grace 0` the server still
#     answers, every remaining acknowledged object is intact, compaction
#     gave the space back (the small drive has more free space), and new
#     uploads fit and read back, also after kill -9 and restart.
# Requests are signed by curl --aws-sigv4.
. "$(dirname "$0")/../lib/cairn_test.sh"

SMALL="$TEST_TMP/small"
MOUNTED=""
LOOP_IMG=""

diskfull_cleanup() {
    # Server first: it holds files open on the small drive.
    if [ -n "$CAIRN_PID" ] && kill -0 "$CAIRN_PID" 2>/dev/null; then
        kill -9 "$CAIRN_PID" 2>/dev/null
        wait "$CAIRN_PID" 2>/dev/null
    fi
    if [ -n "$MOUNTED" ]; then
        umount "$SMALL" 2>/dev/null || umount -l "$SMALL" 2>/dev/null ||
            echo "warning: could not unmount $SMALL" >&2
    fi
    cleanup
}
trap diskfull_cleanup EXIT

mkdir -p "$SMALL"
if mount -t tmpfs -o size=8m tmpfs "$SMALL" 2>"$TEST_TMP/mount.err"; then
    MOUNTED=tmpfs
else
    echo "note: cannot mount a tmpfs ($(cat "$TEST_TMP/mount.err")); trying a loop-mounted ext4 image"
    LOOP_IMG="$TEST_TMP/small.img"
    truncate -s 16M "$LOOP_IMG" || fail "cannot create $LOOP_IMG"
    mkfs.ext4 -q -F "$LOOP_IMG" >"$TEST_TMP/mkfs.log" 2>&1 || fail "mkfs.ext4 failed: $(cat "$TEST_TMP/mkfs.log")"
    mount -o loop "$LOOP_IMG" "$SMALL" 2>"$TEST_TMP/mount.err" ||
        fail "this test needs to mount a small file system (tmpfs or a loop image) and cannot:" \
             "$(cat "$TEST_TMP/mount.err"); run it as root in an environment that allows mounts"
    MOUNTED=loop
fi
echo "small drive: $MOUNTED at $SMALL ($(df -k --output=size "$SMALL" | tail -1 | tr -d ' ') KiB)"

DRIVES=""
for i in 1 2 3 4 5; do mkdir -p "$TEST_TMP/drive$i"; done
DRIVES="$TEST_TMP/drive1,$TEST_TMP/drive2,$SMALL,$TEST_TMP/drive3,$TEST_TMP/drive4,$TEST_TMP/drive5"
start_server --drives "$DRIVES"

SIGN=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
      -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
B=diskfull
FILES="$TEST_TMP/files"
mkdir -p "$FILES"

# s3 METHOD PATH [curl args...]: prints "HTTP_CODE CURL_EXIT"; the body goes
# to $OUT if set, else $TEST_TMP/resp.
s3() {
    local method=$1 path=$2; shift 2
    local code rc
    code=$(curl -s -S --max-time 60 "${SIGN[@]}" -X "$method" -o "${OUT:-$TEST_TMP/resp}" \
           -w '%{http_code}' "$@" "$CAIRN_ENDPOINT$path" 2>"$TEST_TMP/curl.err")
    rc=$?
    echo "$code $rc"
}

# A refused write: curl completed (exit 0, so the answer was whole), the
# status is 5xx and the body is an S3 XML error.
clean_error() {
    local got=$1
    local code=${got% *} rc=${got#* }
    [ "$rc" = 0 ] || { echo "curl exit $rc: $(cat "$TEST_TMP/curl.err")"; return 1; }
    case "$code" in 5??) ;; *) echo "HTTP $code"; return 1;; esac
    grep -q '<Error>' "$TEST_TMP/resp" && grep -q '<Code>[A-Za-z]*</Code>' "$TEST_TMP/resp" ||
        { echo "HTTP $code without an S3 error body: $(head -c 300 "$TEST_TMP/resp")"; return 1; }
    return 0
}

# Every acknowledged object must read back byte-exact and be listed.
ACKED=()
verify_acked() {
    local what=$1 k got
    for k in "${ACKED[@]}"; do
        rm -f "$TEST_TMP/back"
        got=$(OUT="$TEST_TMP/back" s3 GET "/$B/$k")
        check '[ "$got" = "200 0" ]' "$what: GET $k answered '$got'"
        check 'cmp -s "$FILES/$k" "$TEST_TMP/back"' "$what: $k does not read back byte-exact"
    done
    got=$(s3 GET "/$B?list-type=2&max-keys=1000")
    check '[ "$got" = "200 0" ]' "$what: list answered '$got'"
    for k in "${ACKED[@]}"; do
        check 'grep -q "<Key>$k</Key>" "$TEST_TMP/resp"' "$what: acknowledged $k is not listed"
    done
    local listed
    listed=$(grep -o '<Key>[^<]*</Key>' "$TEST_TMP/resp" | wc -l)
    check '[ "$listed" -eq "${#ACKED[@]}" ]' "$what: $listed keys listed, ${#ACKED[@]} acknowledged"
}

got=$(s3 PUT "/$B")
check '[ "$got" = "200 0" ]' "create bucket: $got"

# Fill the small drive: 2 MB objects, about 0.5 MB of shard each on it.
# First a 4 MiB object of zeros: one chunk (FastCDC cuts zeros only at
# its 4 MiB maximum), so the small drive's segment starts with a 1 MiB live
# shard, more than the room a full drive has left.  Compaction must get
# past it to give back the space of the deleted shards behind it.
head -c 4194304 /dev/zero > "$FILES/zeros"
got=$(s3 PUT "/$B/zeros" -T "$FILES/zeros")
check '[ "$got" = "200 0" ]' "PUT of 4 MiB of zeros answered $got"
ACKED+=("zeros")

FAILED_KEY=""
for i in $(seq 1 60); do
    k="obj$i"
    head -c 2000000 /dev/urandom > "$FILES/$k"
    got=$(s3 PUT "/$B/$k" -T "$FILES/$k")
    if [ "$got" = "200 0" ]; then
        ACKED+=("$k")
        continue
    fi
    FAILED_KEY=$k
    break
done
avail=$(df -k --output=avail "$SMALL" | tail -1 | tr -d ' ')
echo "${#ACKED[@]} objects stored, then PUT $FAILED_KEY -> $got (small drive: $avail KiB free)"
check '[ -n "$FAILED_KEY" ]' "60 PUTs of 2 MB onto an 8 MiB drive all succeeded"
check '[ "${#ACKED[@]}" -ge 3 ]' "only ${#ACKED[@]} PUTs succeeded before the drive was full"
check 'kill -0 "$CAIRN_PID"' "the server died when the drive filled up"
why=$(clean_error "$got") || true
check 'clean_error "$got" >/dev/null' "PUT onto the full drive did not get a clean S3 error: $why"
if [ "${got% *}" = 507 ]; then
    check 'grep -q "<Code>XCairnStorageFull</Code>" "$TEST_TMP/resp"' \
        "507 without XCairnStorageFull: $(head -c 300 "$TEST_TMP/resp")"
else
    echo "note: the full drive was reported as HTTP ${got% *}, not 507: $(head -c 300 "$TEST_TMP/resp")"
fi
check '[ "$avail" -lt 1024 ]' "a PUT failed while the small drive still had $avail KiB free: $(cat "$TEST_TMP/resp")"

# The refused PUT left nothing behind.
got=$(s3 GET "/$B/$FAILED_KEY")
check '[ "$got" = "404 0" ] && grep -q "<Code>NoSuchKey</Code>" "$TEST_TMP/resp"' \
    "the refused $FAILED_KEY is readable: $got"

# A second big PUT is refused the same way.
head -c 3000000 /dev/urandom > "$FILES/again"
got=$(s3 PUT "/$B/again" -T "$FILES/again")
why=$(clean_error "$got") || true
check 'clean_error "$got" >/dev/null' "second PUT onto the full drive: $why"

# Small objects live in the metadata (DATA/meta is not on the full drive).
head -c 10000 /dev/urandom > "$FILES/inline1"
got=$(s3 PUT "/$B/inline1" -T "$FILES/inline1")
check '[ "$got" = "200 0" ]' "a 10 KB (inline) PUT with a full drive answered $got: $(head -c 300 "$TEST_TMP/resp")"
ACKED+=("inline1")

verify_acked "with the drive full"
check 'kill -0 "$CAIRN_PID"' "the server died"

# kill -9 with the drive full, restart: nothing acknowledged is lost.
kill_server
restart_server
verify_acked "after kill -9 and restart with the drive full"

# Delete half of the objects, collect garbage now.
KEEP=()
n=0
for k in "${ACKED[@]}"; do
    n=$((n + 1))
    if [ $((n % 2)) -eq 0 ] && [ "$k" != inline1 ]; then
        got=$(s3 DELETE "/$B/$k")
        check '[ "$got" = "204 0" ]' "DELETE $k answered $got"
    else
        KEEP+=("$k")
    fi
done
ACKED=("${KEEP[@]}")
avail_before=$(df -k --output=avail "$SMALL" | tail -1 | tr -d ' ')
"$CAIRN_BIN" admin gc --grace 0 --endpoint "$CAIRN_ENDPOINT" > "$TEST_TMP/gc.out" 2>&1
rc=$?
avail_after=$(df -k --output=avail "$SMALL" | tail -1 | tr -d ' ')
echo "gc: $(cat "$TEST_TMP/gc.out") (small drive: $avail_before -> $avail_after KiB free)"
check '[ "$rc" -eq 0 ]' "cairn admin gc --grace 0 failed: $(cat "$TEST_TMP/gc.out")"
check 'grep -q "gc done: [1-9][0-9]* chunks removed" "$TEST_TMP/gc.out"' \
    "gc removed no chunk after deleting objects: $(cat "$TEST_TMP/gc.out")"
# Compaction gives the deleted shards' space back to the file system.
check 'grep -q "[1-9][0-9]* disk bytes freed" "$TEST_TMP/gc.out"' \
    "gc freed no disk space: $(cat "$TEST_TMP/gc.out")"
check '[ "$avail_after" -ge $((avail_before + 1024)) ]' \
    "the small drive has $avail_before -> $avail_after KiB free after deleting half the objects and gc"
check 'kill -0 "$CAIRN_PID"' "the server died during gc"
"$CAIRN_BIN" admin status --endpoint "$CAIRN_ENDPOINT" > "$TEST_TMP/status.out" 2>&1
rc=$?
check '[ "$rc" -eq 0 ] && grep -q "$SMALL" "$TEST_TMP/status.out"' \
    "status does not answer or does not list the small drive: $(cat "$TEST_TMP/status.out")"
verify_acked "after deletes and gc"
echo "--- cairn admin status after deletes and gc ---"
cat "$TEST_TMP/status.out"

# The space came back: new uploads fit again, and survive a restart.
for k in late1 late2; do
    head -c 1500000 /dev/urandom > "$FILES/$k"
    got=$(s3 PUT "/$B/$k" -T "$FILES/$k")
    check '[ "$got" = "200 0" ]' "PUT $k after deletes and gc answered $got: $(head -c 300 "$TEST_TMP/resp")"
    ACKED+=("$k")
done
verify_acked "after new uploads into the reclaimed space"
kill_server
restart_server
verify_acked "at the end, after kill -9 and restart"

stop_server
finish
