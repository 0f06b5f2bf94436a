#!/usr/bin/env bash
# test_rclone.sh - client compatibility: the real rclone (s3 backend,
# provider Other, path style) against the real server, configured only
# through RCLONE_CONFIG_CAIRN_* environment variables.
#
# Covers: mkdir, lsd, copy of a tree up (one file above the upload cutoff, so
# multipart), check (0 differences, and a difference is seen), sync after
# local changes (modified, deleted, new), lsf of odd key names (spaces,
# unicode, '#', '?', '%', leading/trailing spaces, a ~900-byte key built from
# path segments), "a/b" and "a/b/c" side by side, copy back down and diff -r,
# purge.
source "$CAIRN_SRC/tests/lib/cairn_test.sh"

command -v rclone >/dev/null || fail "rclone not found"
unset AWS_CA_BUNDLE
start_server

export RCLONE_CONFIG=$TEST_TMP/rclone.conf   # no file: only the env remote
export RCLONE_CONFIG_CAIRN_TYPE=s3
export RCLONE_CONFIG_CAIRN_PROVIDER=Other
export RCLONE_CONFIG_CAIRN_ENDPOINT=$CAIRN_ENDPOINT
export RCLONE_CONFIG_CAIRN_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
export RCLONE_CONFIG_CAIRN_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export RCLONE_CONFIG_CAIRN_REGION=us-east-1
export RCLONE_CONFIG_CAIRN_FORCE_PATH_STYLE=true

# No whole-operation retries: a server error must fail the step, not be
# papered over by a second attempt.
RC() { rclone --retries 1 --low-level-retries 1 --timeout 60s --contimeout 10s "$@"; }
MP=(--s3-upload-cutoff 5M --s3-chunk-size 5M)

# head_etag BUCKET/KEY: ETag header, read with curl's own SigV4 signer.
head_etag() {
    curl -s --max-time 30 -I --aws-sigv4 "aws:amz:us-east-1:s3" -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
        "$CAIRN_ENDPOINT/$1" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p'
}

# local_list DIR: "size;path" of every file under DIR, sorted (lsf --format sp).
local_list() { ( cd "$1" && find . -type f -printf '%s;%P\n' | LC_ALL=C sort ); }

MiB=$((1024 * 1024))
B=rclone-main-$$
T=$TEST_TMP
L=$T/tree

# ---- a local tree with odd names ------------------------------------------------
mkdir -p "$L/sub/deep" "$L/spaces in dir" "$L/ünïcødé 文件"
echo alpha > "$L/a.txt"
echo bravo > "$L/sub/b.txt"
head -c $((12 * MiB)) /dev/urandom > "$L/sub/deep/big.bin"     # > upload cutoff
head -c 300000 /dev/urandom > "$L/sub/deep/mid.bin"
: > "$L/sub/empty"
echo spaces > "$L/spaces in dir/file with spaces.txt"
echo unicode > "$L/ünïcødé 文件/naïve ☃ – ½.txt"
echo hash > "$L/has#hash.txt"
echo question > "$L/what?.txt"
echo percent > "$L/100% & 50%25.txt"
echo lead > "$L/ leading space.txt"
echo trail > "$L/trailing space "
echo both > "$L/ both "
echo plus > "$L/a+b=c;d,e@f.txt"
# A key of ~900 bytes: path segments of 200 bytes (local names stop at 255).
seg() { printf "%s%0$(( $2 - ${#1} ))d" "$1" 0; }
LONG_DIR="$(seg long-a- 200)/$(seg long-b- 200)/$(seg long-c- 200)/$(seg long-d- 200)"
LONG_NAME="$LONG_DIR/$(seg end- 90).txt"
mkdir -p "$L/$LONG_DIR"
echo long > "$L/$LONG_NAME"
KEYLEN=$(printf '%s' "tree/$LONG_NAME" | wc -c)
check '[ "$KEYLEN" -ge 890 ] && [ "$KEYLEN" -le 1024 ]' "the long key is ~900 bytes (it is $KEYLEN)"
NFILES=$(find "$L" -type f | wc -l)

# ---- mkdir, copy up ---------------------------------------------------------
ok "mkdir" RC mkdir "cairn:$B"
ok "lsd" RC lsd cairn:
check 'grep -Eq " $B\$" <<<"$OUT"' "lsd lists the new bucket (got $OUT)"
ok "copy up" RC copy "${MP[@]}" "$L" "cairn:$B/tree"
ETAG=$(head_etag "$B/tree/sub/deep/big.bin")
check '[[ "$ETAG" =~ ^\"[0-9a-f]{32}-3\"$ ]]' "12 MiB file went up multipart in 3 parts (ETag $ETAG)"
ok "lsf" RC lsf -R --files-only --format sp "cairn:$B/tree"
check 'diff <(local_list "$L") <(LC_ALL=C sort <<<"$OUT")' "lsf lists every key, odd names included, with sizes"
check '[ "$(grep -c . <<<"$OUT")" = "$NFILES" ]' "lsf lists $NFILES files"
ok "lsf one level" RC lsf "cairn:$B/tree"
check 'grep -qx "sub/" <<<"$OUT" && grep -qx " leading space.txt" <<<"$OUT" && grep -qx "trailing space " <<<"$OUT" && grep -qx "what?.txt" <<<"$OUT"' "lsf one level: dirs and odd names (got $OUT)"
ok "check after copy" RC check "$L" "cairn:$B/tree"
check 'grep -q ": 0 differences found" <<<"$ERR" && grep -q ": $NFILES matching files" <<<"$ERR"' "check: 0 differences, $NFILES matching (got $ERR)"
ok "cat long key" RC cat "cairn:$B/tree/$LONG_NAME"
check '[ "$OUT" = long ]' "the ~900-byte key reads back"
ok "cat odd key" RC cat "cairn:$B/tree/100% & 50%25.txt"
check '[ "$OUT" = percent ]' "the %-key reads back"

# check must notice a difference, or "0 differences" above means nothing.
echo "bravo, changed locally" > "$L/sub/b.txt"
not_ok "check with a local change" RC check "$L" "cairn:$B/tree"
check 'grep -q ": 1 differences found" <<<"$ERR"' "check reports the one difference (got $ERR)"

# ---- sync after local changes ---------------------------------------------------
rm "$L/a.txt" "$L/what?.txt"
echo "new file" > "$L/sub/new #1.txt"
head -c $((7 * MiB)) /dev/urandom > "$L/new-big.bin"
head -c 300000 /dev/urandom > "$L/sub/deep/mid.bin"     # same size, new content
ok "sync" RC sync "${MP[@]}" "$L" "cairn:$B/tree"
ok "check after sync" RC check "$L" "cairn:$B/tree"
NFILES=$(find "$L" -type f | wc -l)
check 'grep -q ": 0 differences found" <<<"$ERR" && grep -q ": $NFILES matching files" <<<"$ERR"' "check after sync: 0 differences (got $ERR)"
ok "lsf after sync" RC lsf -R --files-only --format sp "cairn:$B/tree"
check 'diff <(local_list "$L") <(LC_ALL=C sort <<<"$OUT")' "after sync the bucket holds exactly the local tree"
ok "check --download after sync" RC check --download "$L" "cairn:$B/tree"
check 'grep -q ": 0 differences found" <<<"$ERR"' "byte-by-byte check after sync: 0 differences (got $ERR)"
ok "sync again" RC sync -v "${MP[@]}" "$L" "cairn:$B/tree"
check '! grep -Eq "INFO +: .*: (Copied|Deleted)" <<<"$ERR"' "a second sync transfers nothing (got $ERR)"

# ---- "a/b" and "a/b/c" side by side -----------------------------------------------
ok "rcat a/b" RC rcat "cairn:$B/side/a/b" <<<"file b"
ok "rcat a/b/c" RC rcat "cairn:$B/side/a/b/c" <<<"file c"
ok "lsf side" RC lsf -R --files-only "cairn:$B/side"
check '[ "$(LC_ALL=C sort <<<"$OUT" | tr "\n" " ")" = "a/b a/b/c " ]' "lsf shows a/b and a/b/c (got $OUT)"
ok "lsf side/a" RC lsf "cairn:$B/side/a"
check '[ "$(LC_ALL=C sort <<<"$OUT" | tr "\n" " ")" = "b b/ " ]' "lsf of side/a shows file b and dir b/ (got $OUT)"
ok "cat a/b" RC cat "cairn:$B/side/a/b"
check '[ "$OUT" = "file b" ]' "a/b content"
ok "cat a/b/c" RC cat "cairn:$B/side/a/b/c"
check '[ "$OUT" = "file c" ]' "a/b/c content"

# ---- server-side copy and move (CopyObject with odd source and target keys) ----
ok "copyto server-side" RC copyto "cairn:$B/tree/sub/deep/big.bin" "cairn:$B/copies/big copy #1?ü.bin"
ok "moveto server-side" RC moveto "cairn:$B/side/a/b" "cairn:$B/copies/moved 100%+&.txt"
ok "download the copy" RC copyto "cairn:$B/copies/big copy #1?ü.bin" "$T/copied.bin"
check 'cmp -s "$L/sub/deep/big.bin" "$T/copied.bin"' "server-side copy of a multipart object is byte-exact"
ok "lsf copies" RC lsf -R --files-only --format sp "cairn:$B/copies"
check '[ "$(LC_ALL=C sort <<<"$OUT" | tr "\n" "|")" = "$((12 * MiB));big copy #1?ü.bin|7;moved 100%+&.txt|" ]' "copied and moved keys listed with sizes (got $OUT)"
ok "lsf side after move" RC lsf -R --files-only "cairn:$B/side"
check '[ "$OUT" = "a/b/c" ]' "moveto removed its source (got $OUT)"
ok "check copies hashes" RC md5sum "cairn:$B/copies"
check 'grep -q "^$(md5sum < "$L/sub/deep/big.bin" | cut -c1-32)  big copy #1?ü.bin\$" <<<"$OUT"' "the copy keeps rclone's MD5 of the multipart source (got $OUT)"

# ---- copy back down --------------------------------------------------------------------
ok "copy down" RC copy "cairn:$B/tree" "$T/down"
check 'diff -r "$L" "$T/down"' "copy down gives back the same tree"

# ---- purge ----------------------------------------------------------------------
ok "purge" RC purge "cairn:$B"
ok "lsd after purge" RC lsd cairn:
check '! grep -Eq " $B\$" <<<"$OUT"' "purged bucket is gone (got $OUT)"
not_ok "lsf of a purged bucket" RC lsf "cairn:$B"

stop_server
finish
