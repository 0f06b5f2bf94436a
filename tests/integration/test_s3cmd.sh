#!/usr/bin/env bash
# test_s3cmd.sh - client compatibility: the real s3cmd against the real
# server, path style, SigV4.
#
# Covers: mb, put (small, and 30 MiB in 5 MiB parts with the multipart ETag
# checked), get (byte-exact), ls, la, du, info on an object and a bucket
# (HEAD, ?acl, ?location, ?policy, ?cors, ?requestPayment, ?lifecycle),
# server-side cp and mv, sync
# up (idempotent, one changed file, --delete-removed) and down, keys with
# spaces/unicode/'+'/'&', del, del --recursive, rb of a non-empty bucket
# (refused), rb, rb --recursive --force.
source "$CAIRN_SRC/tests/lib/cairn_test.sh"

command -v s3cmd >/dev/null || fail "s3cmd not found"
start_server

HOSTPORT=${CAIRN_ENDPOINT#*://}
HOSTPORT=${HOSTPORT%/}
CFG=$TEST_TMP/s3cfg
# host_bucket without %(bucket)s: s3cmd uses path-style requests.
cat > "$CFG" <<EOF
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = $HOSTPORT
host_bucket = $HOSTPORT
use_https = False
signature_v2 = False
bucket_location = us-east-1
progress_meter = False
socket_timeout = 60
max_retries = 1
EOF

S3() { s3cmd -c "$CFG" "$@"; }


# head_etag KEY-PATH: the ETag header of /BUCKET/KEY, read with curl's own
# SigV4 signer (independent of s3cmd).
head_etag() {
    curl -s --max-time 30 -I --aws-sigv4 "aws:amz:us-east-1:s3" -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
        "$CAIRN_ENDPOINT/$1" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p'
}

# mpu_etag FILE PARTSIZE: "md5(concatenated binary part md5s)-N".
mpu_etag() {
    python3 - "$1" "$2" <<'EOF'
import hashlib, sys
path, size = sys.argv[1], int(sys.argv[2])
digests = []
with open(path, "rb") as f:
    while True:
        b = f.read(size)
        if not b:
            break
        digests.append(hashlib.md5(b).digest())
print('"%s-%d"' % (hashlib.md5(b"".join(digests)).hexdigest(), len(digests)))
EOF
}

MiB=$((1024 * 1024))
B=s3cmd-main-$$
B2=s3cmd-other-$$
T=$TEST_TMP

# ---- mb, ls ---------------------------------------------------------------
ok "mb" S3 mb "s3://$B"
check '[ "$OUT" = "Bucket '"'"'s3://$B/'"'"' created" ]' "mb output (got $OUT)"
ok "mb second bucket" S3 mb "s3://$B2"
ok "ls buckets" S3 ls
check 'grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} +s3://$B\$" <<<"$OUT"' "ls lists the bucket (got $OUT)"
check 'grep -q " s3://$B2\$" <<<"$OUT"' "ls lists the second bucket"

# ---- put, get -------------------------------------------------------------
head -c 1000 /dev/urandom > "$T/small.bin"
# A fixed first block so that s3cmd's content sniffing (libmagic) always
# sees "data": random bytes look like some file format about 1% of the time.
{ printf 'CAIRNTST\0\377\0\377'; head -c $((30 * MiB - 12)) /dev/urandom; } > "$T/big.bin"
ok "put small" S3 put "$T/small.bin" "s3://$B/files/small.bin"
check 'grep -q "^upload: .*small.bin'"'"' -> '"'"'s3://$B/files/small.bin'"'"'" <<<"$OUT"' "put output (got $OUT)"
ok "put 30 MiB multipart" S3 put --multipart-chunk-size-mb=5 "$T/big.bin" "s3://$B/files/big.bin"
ETAG=$(head_etag "$B/files/big.bin")
check '[[ "$ETAG" =~ ^\"[0-9a-f]{32}-6\"$ ]]' "30 MiB in 5 MiB parts: multipart ETag with 6 parts (got $ETAG)"
check '[ "$ETAG" = "$(mpu_etag "$T/big.bin" $((5 * MiB)))" ]' "multipart ETag is md5 of the part md5s (got $ETAG)"
check '[ "$(head_etag "$B/files/small.bin")" = "\"$(md5sum < "$T/small.bin" | cut -c1-32)\"" ]' "small object ETag is its MD5"
ok "put with content type" S3 put --mime-type=text/x-cairn "$T/small.bin" "s3://$B/files/typed"
ok "put with content type, kept" S3 put --mime-type=text/x-cairn "$T/small.bin" "s3://$B/files/typed2"
ok "get small" S3 get "s3://$B/files/small.bin" "$T/small.down"
check 'cmp -s "$T/small.bin" "$T/small.down"' "get small is byte-exact"
ok "get big" S3 get "s3://$B/files/big.bin" "$T/big.down"
check 'cmp -s "$T/big.bin" "$T/big.down"' "get 30 MiB multipart object is byte-exact"
not_ok "get onto an existing file without --force" S3 get "s3://$B/files/small.bin" "$T/small.down"
ok "get --force" S3 get --force "s3://$B/files/big.bin" "$T/small.down"
check 'cmp -s "$T/big.bin" "$T/small.down"' "get --force overwrites"
rm -f "$T/big.down" "$T/small.down"
not_ok "get of a missing key" S3 get "s3://$B/files/missing" "$T/missing"
check 'grep -q "does not exist" <<<"$ERR"' "missing key reported missing (got $ERR)"

# ---- server-side cp and mv (CopyObject), odd target keys ----------------------------
# s3cmd copies the source's ACL onto the copy (GET ?acl, then PUT ?acl).
# Asserted at the end, so that a failure here hides no other check.
COPY_RESULT="cp failed"
if S3 cp "s3://$B/files/big.bin" "s3://$B/copies/big copy +&ü.bin" >/dev/null 2>"$T/cp.err"; then
    ok "get the copy" S3 get "s3://$B/copies/big copy +&ü.bin" "$T/copy.down"
    if cmp -s "$T/big.bin" "$T/copy.down"; then COPY_RESULT=ok; else COPY_RESULT="copy differs"; fi
fi
MOVE_RESULT="mv failed"
if S3 mv "s3://$B/files/typed" "s3://$B/copies/moved 100%.txt" >/dev/null 2>"$T/mv.err"; then
    ok "info the moved object" S3 info "s3://$B/copies/moved 100%.txt"
    if ! grep -Eq "^ +MIME type: +text/x-cairn\$" <<<"$OUT" || ! grep -Eq "^ +File size: +1000\$" <<<"$OUT"; then
        MOVE_RESULT="moved object lost size or MIME type: $OUT"
    elif S3 info "s3://$B/files/typed" >/dev/null 2>&1; then
        MOVE_RESULT="source still there after mv"
    else
        MOVE_RESULT=ok
    fi
fi
S3 del --recursive --force "s3://$B/copies/" >/dev/null 2>&1
S3 del --force "s3://$B/files/typed" >/dev/null 2>&1
rm -f "$T/copy.down"

# ---- ls, la, du, info -------------------------------------------------------
ok "ls bucket" S3 ls "s3://$B"
check 'grep -Eq "^ +DIR +s3://$B/files/\$" <<<"$OUT"' "ls shows the common prefix as DIR (got $OUT)"
ok "ls prefix" S3 ls "s3://$B/files/"
check 'grep -Eq "^[0-9-]+ [0-9:]+ +$((30 * MiB)) +s3://$B/files/big.bin\$" <<<"$OUT"' "ls shows big.bin and its size (got $OUT)"
check 'grep -Eq "^[0-9-]+ [0-9:]+ +1000 +s3://$B/files/small.bin\$" <<<"$OUT"' "ls shows small.bin and its size"
check '[ "$(grep -c "s3://" <<<"$OUT")" = 3 ]' "ls shows exactly 3 objects"
ok "ls --recursive" S3 ls --recursive "s3://$B"
check '[ "$(grep -c "s3://$B/files/" <<<"$OUT")" = 3 ]' "ls --recursive lists 3 objects"
ok "la" S3 la
check 'grep -Eq " $((30 * MiB)) +s3://$B/files/big.bin\$|DIR +s3://$B/files/\$" <<<"$OUT"' "la lists the objects of the bucket (got $OUT)"
ok "du" S3 du "s3://$B"
check 'grep -Eq "^ *$((30 * MiB + 2000)) +3 objects s3://$B/\$" <<<"$OUT"' "du gives total size and count (got $OUT)"
ok "info object" S3 info "s3://$B/files/big.bin"
check 'grep -Eq "^ +File size: $((30 * MiB))\$" <<<"$OUT"' "info: file size (got $OUT)"
check 'grep -Eq "^ +MD5 sum: +$(md5sum < "$T/big.bin" | cut -c1-32)\$" <<<"$OUT"' "info: MD5 sum"
check 'grep -Eq "^ +MIME type: +application/octet-stream\$" <<<"$OUT"' "info: MIME type"
check 'grep -Eq "^ +ACL: +.*: FULL_CONTROL\$" <<<"$OUT"' "info: ACL from ?acl"
check 'grep -Eq "^ +Last mod: +[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT\$" <<<"$OUT"' "info: Last mod"
ok "info typed object" S3 info "s3://$B/files/typed2"
check 'grep -Eq "^ +MIME type: +text/x-cairn\$" <<<"$OUT"' "info: MIME type set with --mime-type (got $OUT)"
ok "info bucket" S3 info "s3://$B"
check 'grep -Eq "^ +Location: +us-east-1\$" <<<"$OUT"' "info bucket: Location from ?location (got $OUT)"
check 'grep -Eq "^ +ACL: +.*: FULL_CONTROL\$" <<<"$OUT"' "info bucket: ACL"
INFO_BUCKET=$OUT   # Payer is checked at the end (see there)

# ---- sync -------------------------------------------------------------------
mkdir -p "$T/tree/sub/deep" "$T/tree/odd dir ü"
echo alpha > "$T/tree/a.txt"
echo bravo > "$T/tree/sub/b.txt"
head -c 200000 /dev/urandom > "$T/tree/sub/deep/c.bin"
head -c $((6 * MiB)) /dev/urandom > "$T/tree/sub/deep/six-mib.bin"
echo delta > "$T/tree/odd dir ü/x +&y.txt"
echo echo > "$T/tree/remove-me.txt"
ok "sync up" S3 sync --multipart-chunk-size-mb=5 "$T/tree/" "s3://$B/tree/"
check '[ "$(grep -c "^upload: " <<<"$OUT")" = 6 ]' "first sync uploads 6 files (got $OUT)"
ok "sync up again" S3 sync --multipart-chunk-size-mb=5 "$T/tree/" "s3://$B/tree/"
check '! grep -q "^upload: " <<<"$OUT"' "second sync uploads nothing (got $OUT)"
echo "bravo changed" >> "$T/tree/sub/b.txt"
rm "$T/tree/remove-me.txt"
ok "sync after changes" S3 sync --delete-removed --multipart-chunk-size-mb=5 "$T/tree/" "s3://$B/tree/"
check '[ "$(grep -c "^upload: " <<<"$OUT")" = 1 ] && grep -q "^upload: .*sub/b.txt'"'"' -> '"'"'s3://$B/tree/sub/b.txt'"'"'" <<<"$OUT"' "sync uploads exactly the changed file (got $OUT)"
check 'grep -q "^delete: '"'"'s3://$B/tree/remove-me.txt'"'"'" <<<"$OUT"' "sync --delete-removed deletes the removed file"
ok "ls tree" S3 ls --recursive "s3://$B/tree/"
( cd "$T/tree" && find . -type f -printf "%s s3://$B/tree/%P\n" | LC_ALL=C sort ) > "$T/expect-ls"
sed -E 's/^[0-9-]+ [0-9:]+ +//; s/ +/ /' <<<"$OUT" | LC_ALL=C sort > "$T/got-ls"
check 'diff "$T/expect-ls" "$T/got-ls"' "ls --recursive lists the synced tree with sizes"
ok "sync down" S3 sync "s3://$B/tree/" "$T/tree-down/"
check 'diff -r "$T/tree" "$T/tree-down"' "sync down gives the same tree"
ok "sync down again" S3 sync "s3://$B/tree/" "$T/tree-down/"
check '! grep -q "^download: " <<<"$OUT"' "second sync down downloads nothing (got $OUT)"

# ---- del ------------------------------------------------------------------------
ok "del" S3 del "s3://$B/tree/a.txt"
check '[ "$OUT" = "delete: '"'"'s3://$B/tree/a.txt'"'"'" ]' "del output (got $OUT)"
ok "del --recursive" S3 del --recursive --force "s3://$B/tree/sub/"
check '[ "$(grep -c "^delete: " <<<"$OUT")" = 3 ]' "del --recursive deletes the 3 keys under sub/ (got $OUT)"
ok "ls after del" S3 ls --recursive "s3://$B/tree/"
check '[ "$(grep -c "s3://" <<<"$OUT")" = 1 ] && grep -q "s3://$B/tree/odd dir ü/x +&y.txt\$" <<<"$OUT"' "only the odd key is left (got $OUT)"

# ---- rb ---------------------------------------------------------------------------
not_ok "rb of a non-empty bucket" S3 rb "s3://$B"
check 'grep -q "BucketNotEmpty" <<<"$ERR"' "rb of a non-empty bucket: BucketNotEmpty (got $ERR)"
ok "del everything" S3 del --recursive --force "s3://$B"
ok "rb" S3 rb "s3://$B"
check '[ "$OUT" = "Bucket '"'"'s3://$B/'"'"' removed" ]' "rb output (got $OUT)"
ok "put into the second bucket" S3 put "$T/small.bin" "s3://$B2/x/y"
ok "rb --recursive --force" S3 rb --recursive --force "s3://$B2"
ok "ls after rb" S3 ls
check '! grep -q "s3://$B\$" <<<"$OUT" && ! grep -q "s3://$B2\$" <<<"$OUT"' "removed buckets are no longer listed (got $OUT)"
not_ok "ls of a removed bucket" S3 ls "s3://$B"
check 'grep -q "NoSuchBucket" <<<"$ERR"' "removed bucket: NoSuchBucket (got $ERR)"

# Checked last, so that a failure here hides no other check:
# - s3cmd cp/mv above;
# - s3cmd info prints the GetBucketRequestPayment answer; S3 answers
#   <Payer>BucketOwner</Payer> for every bucket.
check '[ "$COPY_RESULT" = ok ]' "s3cmd cp within the bucket: $COPY_RESULT: $(cat "$T/cp.err")"
check '[ "$MOVE_RESULT" = ok ]' "s3cmd mv within the bucket: $MOVE_RESULT: $(cat "$T/mv.err")"
check 'grep -Eq "^ +Payer: +BucketOwner\$" <<<"$INFO_BUCKET"' "info bucket: Payer from ?requestPayment (got $INFO_BUCKET)"

stop_server
finish
