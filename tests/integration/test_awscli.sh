#!/usr/bin/env bash
# test_awscli.sh - client compatibility: the real aws-cli ($AWS_CLI) against
# the real server.  ctest runs it once per installed aws-cli (Debian's 2.9 and
# the current v1 on PATH, whose botocore sends CRC32 checksums in aws-chunked
# trailers by default).
#
# Covers: s3 mb/ls/cp/mv (1 KiB, 20 MiB and 200 MiB, the last two multipart,
# with the multipart ETag checked exactly), sync up (idempotent, one changed
# file) and down, ls --recursive, rm and rm --recursive, presign (valid and
# expired), s3api put-object/head-object metadata and content type,
# put-object-tagging / get-object-tagging, put/get/delete bucket lifecycle,
# list-objects-v2 prefix/delimiter/paging, delete-objects, a hand-driven
# multipart upload, rb --force, keys with spaces, unicode, '+', '%' and '&',
# and the presigned URL each cli makes by default (SigV2 for aws-cli 1).
source "$CAIRN_SRC/tests/lib/cairn_test.sh"

awscli_setup

# Presigned URLs are checked with SigV4 (the cli's default differs between
# versions: aws-cli v1 presigns with SigV2 in us-east-1), and once more at the
# end with the cli's own default.
sed 's/^max_attempts = 2$/&\ns3 =\n    signature_version = s3v4/' "$AWS_CONFIG_FILE" > "$TEST_TMP/aws-config-sigv4"

start_server


# mpu_etag FILE PARTSIZE: the ETag S3 gives a multipart object uploaded in
# PARTSIZE parts: "md5(concatenated binary part md5s)-N", quotes included.
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

# damage_sig URL: the URL with the first character of its signature changed
# (still a valid hex / base64 character).
damage_sig() {
    local pre=${1%%Signature=*}Signature= rest=${1#*Signature=} r=0
    [ "${rest:0:1}" = 0 ] && r=1
    printf '%s%s%s' "$pre" "$r" "${rest:1}"
}

MiB=$((1024 * 1024))
SFX=$$
B=awscli-main-$SFX
T=$TEST_TMP

# ---- mb, ls ---------------------------------------------------------------
ok "s3 mb" AWS s3 mb "s3://$B"
check '[ "$OUT" = "make_bucket: $B" ]' "s3 mb output"
ok "s3 ls" AWS s3 ls
check 'grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} $B\$" <<<"$OUT"' "s3 ls lists the bucket with its creation date"

# ---- cp up and down: 1 KiB, 20 MiB, 200 MiB -------------------------------
head -c 1024 /dev/urandom > "$T/small.bin"
head -c $((20 * MiB)) /dev/urandom > "$T/mid.bin"
head -c $((200 * MiB)) /dev/urandom > "$T/big.bin"
for f in small mid big; do
    ok "cp up $f" AWS s3 cp --only-show-errors "$T/$f.bin" "s3://$B/sizes/$f.bin"
    ok "cp down $f" AWS s3 cp --only-show-errors "s3://$B/sizes/$f.bin" "$T/$f.down"
    check 'cmp -s "$T/$f.bin" "$T/$f.down"' "$f.bin is byte-exact after cp up and down"
    rm -f "$T/$f.down"
done
ok "head-object mid" AWS s3api head-object --bucket "$B" --key sizes/mid.bin
MID_ETAG=$(js .ETag)
check '[[ "$MID_ETAG" =~ ^\"[0-9a-f]{32}-3\"$ ]]' "20 MiB ETag has the multipart form \"hex-3\" (got $MID_ETAG)"
check '[ "$MID_ETAG" = "$(mpu_etag "$T/mid.bin" $((8 * MiB)))" ]' "20 MiB ETag is md5 of the part md5s (got $MID_ETAG)"
check '[ "$(js .ContentLength)" = $((20 * MiB)) ]' "mid ContentLength"
rm -f "$T/big.bin"
# A server-side move above the multipart threshold: CreateMultipartUpload,
# UploadPartCopy with the source key, DeleteObject.
# aws-cli 2 first reads the source's tags (GetObjectTagging).  Asserted at
# the end, so that a failure here hides no other check.
MV_RESULT="mv failed"
if AWS s3 mv --only-show-errors "s3://$B/sizes/mid.bin" "s3://$B/moved/m +&ü.bin" 2>"$T/mv.err"; then
    ok "cp down the moved object" AWS s3 cp --only-show-errors "s3://$B/moved/m +&ü.bin" "$T/mid.down"
    if cmp -s "$T/mid.bin" "$T/mid.down"; then MV_RESULT=ok; else MV_RESULT="moved object differs"; fi
    rm -f "$T/mid.down"
fi

# ---- sync -------------------------------------------------------------------
mkdir -p "$T/tree/sub/deep/deeper" "$T/tree/other"
echo "alpha" > "$T/tree/a.txt"
echo "bravo" > "$T/tree/sub/b.txt"
head -c 300000 /dev/urandom > "$T/tree/sub/deep/c.bin"
echo "delta" > "$T/tree/sub/deep/deeper/d.txt"
echo "echo" > "$T/tree/other/e.txt"
: > "$T/tree/other/empty.txt"
# Old mtimes: sync compares sizes and mtimes against LastModified.
find "$T/tree" -type f -exec touch -d "2020-01-02 03:04:05" {} +
ok "sync up" AWS s3 sync --no-progress "$T/tree" "s3://$B/tree/"
check '[ "$(grep -c "^upload: " <<<"$OUT")" = 6 ]' "first sync uploads the 6 files (got: $OUT)"
ok "sync up again" AWS s3 sync --no-progress "$T/tree" "s3://$B/tree/"
check '[ -z "$OUT" ]' "second sync uploads nothing (got: $OUT)"
echo "bravo changed" >> "$T/tree/sub/b.txt"
ok "sync after one change" AWS s3 sync --no-progress "$T/tree" "s3://$B/tree/"
check '[ "$(grep -c . <<<"$OUT")" = 1 ]' "sync after one change prints one line (got: $OUT)"
check 'grep -q "^upload: .*sub/b.txt to s3://$B/tree/sub/b.txt\$" <<<"$OUT"' "the one upload is sub/b.txt"
ok "sync down" AWS s3 sync --no-progress "s3://$B/tree/" "$T/tree-down"
check 'diff -r "$T/tree" "$T/tree-down"' "sync down gives the same tree"

ok "ls --recursive" AWS s3 ls --recursive "s3://$B/tree/"
( cd "$T/tree" && find . -type f -printf '%s tree/%P\n' | sort ) > "$T/expect-ls"
awk '{print $3, $4}' <<<"$OUT" | sort > "$T/got-ls"
check 'diff "$T/expect-ls" "$T/got-ls"' "ls --recursive lists every key with its size"
check '[ "$(grep -Ec "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} +[0-9]+ tree/" <<<"$OUT")" = 6 ]' "ls --recursive line format"

# ---- rm ---------------------------------------------------------------------
ok "rm one key" AWS s3 rm "s3://$B/tree/a.txt"
check '[ "$OUT" = "delete: s3://$B/tree/a.txt" ]' "rm output"
ok "rm --recursive" AWS s3 rm --recursive "s3://$B/tree/sub/"
check '[ "$(grep -c "^delete: s3://$B/tree/sub/" <<<"$OUT")" = 3 ]' "rm --recursive deletes the 3 keys under sub/"
ok "ls after rm" AWS s3 ls --recursive "s3://$B/"
check '[ "$(grep " tree/" <<<"$OUT" | awk "{print \$4}" | sort | tr "\n" " ")" = "tree/other/e.txt tree/other/empty.txt " ]' "only other/ is left of tree/ (got: $OUT)"
LS_AFTER_MV=$OUT

# ---- presign ----------------------------------------------------------------
ok "presign" env AWS_CONFIG_FILE="$T/aws-config-sigv4" "$AWS_CLI" --endpoint-url "$CAIRN_ENDPOINT" s3 presign "s3://$B/sizes/small.bin" --expires-in 300
URL=$OUT
check 'grep -q "X-Amz-Algorithm=AWS4-HMAC-SHA256" <<<"$URL"' "presigned URL uses SigV4 ($URL)"
CODE=$(curl -s --max-time 30 -o "$T/presigned.out" -w '%{http_code}' "$URL")
check '[ "$CODE" = 200 ]' "presigned GET answers 200 (got $CODE)"
check 'cmp -s "$T/small.bin" "$T/presigned.out"' "presigned GET returns the object"
CODE=$(curl -s --max-time 30 -o /dev/null -w '%{http_code}' "${URL/sizes\/small.bin/sizes\/big.bin}")
check '[ "$CODE" = 403 ]' "a presigned URL does not work for another key (got $CODE)"
ok "presign expiring" env AWS_CONFIG_FILE="$T/aws-config-sigv4" "$AWS_CLI" --endpoint-url "$CAIRN_ENDPOINT" s3 presign "s3://$B/sizes/small.bin" --expires-in 1
URL=$OUT
sleep 2
CODE=$(curl -s --max-time 30 -o "$T/expired.out" -w '%{http_code}' "$URL")
check '[ "$CODE" = 403 ]' "expired presigned URL answers 403 (got $CODE)"
check 'grep -q "<Code>AccessDenied</Code>" "$T/expired.out"' "expired presigned URL: AccessDenied ($(head -c 300 "$T/expired.out"))"

# aws-cli 2 presigns with SigV4 by default; aws-cli 1 with SigV2 query
# parameters (AWSAccessKeyId, Expires, Signature), which S3 also accepts.
# Asserted at the very end, so that a failure here hides no other check.
ok "presign, default signature" AWS s3 presign "s3://$B/sizes/small.bin" --expires-in 300
DEFAULT_URL=$OUT
DEFAULT_CODE=$(curl -s --max-time 30 -o "$T/presigned-default.out" -w '%{http_code}' "$DEFAULT_URL")
BAD_SIG_CODE=$(curl -s --max-time 30 -o /dev/null -w '%{http_code}' "$(damage_sig "$DEFAULT_URL")")

# ---- s3api put-object / head-object ----------------------------------------
printf 'metadata body\n' > "$T/meta.txt"
ok "put-object with metadata" AWS s3api put-object --bucket "$B" --key meta/obj.txt --body "$T/meta.txt" \
    --content-type "text/x-cairn; charset=utf-8" --metadata "color=blue,owner=test-user"
check '[ "$(js .ETag)" = "\"$(md5sum < "$T/meta.txt" | cut -c1-32)\"" ]' "put-object returns the MD5 ETag"
ok "head-object with metadata" AWS s3api head-object --bucket "$B" --key meta/obj.txt
check '[ "$(js .ContentType)" = "text/x-cairn; charset=utf-8" ]' "head-object ContentType"
check '[ "$(js .Metadata.color)" = blue ]' "head-object Metadata.color"
check '[ "$(js .Metadata.owner)" = test-user ]' "head-object Metadata.owner"
check '[ "$(js ".Metadata | length")" = 2 ]' "head-object has exactly the two metadata keys"
check '[ "$(js .ContentLength)" = 14 ]' "head-object ContentLength"
check '[ "$(js .LastModified)" != null ]' "head-object LastModified"
ok "put-object-tagging" AWS s3api put-object-tagging --bucket "$B" --key meta/obj.txt \
    --tagging '{"TagSet": [{"Key": "project", "Value": "cairn"}, {"Key": "stage", "Value": ""}]}'
ok "get-object-tagging" AWS s3api get-object-tagging --bucket "$B" --key meta/obj.txt
check '[ "$(jq -c .TagSet <<<"$OUT")" = '"'"'[{"Key":"project","Value":"cairn"},{"Key":"stage","Value":""}]'"'"' ]' "get-object-tagging answers the two tags in order (got $OUT)"
ok "head-object after tagging" AWS s3api head-object --bucket "$B" --key meta/obj.txt
check '[ "$(js .ContentType)" = "text/x-cairn; charset=utf-8" ] && [ "$(js ".Metadata | length")" = 2 ]' "tagging keeps the object's headers"

# ---- bucket lifecycle ----------------------------------------------------------
ok "put-bucket-lifecycle-configuration" AWS s3api put-bucket-lifecycle-configuration --bucket "$B" \
    --lifecycle-configuration '{"Rules": [{"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 7}}, {"ID": "mpu", "Status": "Enabled", "Filter": {}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}]}'
ok "get-bucket-lifecycle-configuration" AWS s3api get-bucket-lifecycle-configuration --bucket "$B"
check '[ "$(jq -c "[.Rules[] | [.ID, .Filter, .Expiration.Days, .AbortIncompleteMultipartUpload.DaysAfterInitiation]]" <<<"$OUT")" = '"'"'[["tmp",{"Prefix":"tmp/"},7,null],["mpu",{},null,2]]'"'"' ]' "lifecycle rules read back (got $OUT)"
not_ok "lifecycle Days 0" AWS s3api put-bucket-lifecycle-configuration --bucket "$B" \
    --lifecycle-configuration '{"Rules": [{"ID": "z", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 0}}]}'
check 'grep -q "InvalidArgument.*'"'"'Days'"'"' for Expiration action must be a positive integer" <<<"$ERR"' "Days 0 refused as S3 does (got $ERR)"
ok "delete-bucket-lifecycle" AWS s3api delete-bucket-lifecycle --bucket "$B"
not_ok "get-bucket-lifecycle-configuration after delete" AWS s3api get-bucket-lifecycle-configuration --bucket "$B"
check 'grep -q NoSuchLifecycleConfiguration <<<"$ERR"' "no lifecycle after delete (got $ERR)"

# ---- list-objects-v2 -----------------------------------------------------------
mkdir -p "$T/lst/b" "$T/lst/c/x"
for k in lst/a1 lst/a2 lst/b/1 lst/b/2 lst/c/x/1 lst/d; do cp "$T/meta.txt" "$T/$k"; done
ok "cp --recursive lst/" AWS s3 cp --recursive --only-show-errors "$T/lst" "s3://$B/lst/"
ok "list-objects-v2 prefix+delimiter" AWS s3api list-objects-v2 --bucket "$B" --prefix lst/ --delimiter / --page-size 1
check '[ "$(js "[.Contents[].Key] | join(\" \")")" = "lst/a1 lst/a2 lst/d" ]' "delimiter listing, paged 1 by 1: Contents (got $OUT)"
check '[ "$(js "[.CommonPrefixes[].Prefix] | join(\" \")")" = "lst/b/ lst/c/" ]' "delimiter listing, paged 1 by 1: CommonPrefixes"
check '[ "$(js ".Contents[0].Size")" = 14 ]' "listing Size"
# Pages of 2 make the cli follow the server's continuation token; --max-items
# cuts the result at 3 and hands out a NextToken.
ok "list-objects-v2 --max-items 3" AWS s3api list-objects-v2 --bucket "$B" --prefix lst/ --page-size 2 --max-items 3
check '[ "$(js "[.Contents[].Key] | join(\" \")")" = "lst/a1 lst/a2 lst/b/1" ]' "max-items 3: first three keys (got $OUT)"
TOKEN=$(js .NextToken)
check '[ -n "$TOKEN" ] && [ "$TOKEN" != null ]' "max-items 3: NextToken given"

# ---- delete-objects -----------------------------------------------------------
ok "delete-objects" AWS s3api delete-objects --bucket "$B" \
    --delete '{"Objects":[{"Key":"lst/a1"},{"Key":"lst/b/1"},{"Key":"lst/no-such-key"}]}'
check '[ "$(js "[.Deleted[].Key] | sort | join(\" \")")" = "lst/a1 lst/b/1 lst/no-such-key" ]' "delete-objects reports the three keys deleted (got $OUT)"
check '[ "$(js ".Errors // [] | length")" = 0 ]' "delete-objects: no errors"
ok "list after delete-objects" AWS s3api list-objects-v2 --bucket "$B" --prefix lst/
check '[ "$(js "[.Contents[].Key] | join(\" \")")" = "lst/a2 lst/b/2 lst/c/x/1 lst/d" ]' "deleted keys are gone (got $OUT)"

# ---- multipart by hand ----------------------------------------------------------
head -c $((5 * MiB)) /dev/urandom > "$T/p1"
head -c 123457 /dev/urandom > "$T/p2"
cat "$T/p1" "$T/p2" > "$T/manual.bin"
ok "create-multipart-upload" AWS s3api create-multipart-upload --bucket "$B" --key "mpu/manual.bin" \
    --content-type application/x-cairn-test --metadata origin=manual
UPLOAD_ID=$(js .UploadId)
check '[ -n "$UPLOAD_ID" ] && [ "$UPLOAD_ID" != null ]' "UploadId returned"
check '[ "$(js .Key)" = mpu/manual.bin ] && [ "$(js .Bucket)" = "$B" ]' "create-multipart-upload echoes bucket and key"
PARTS=""
for n in 1 2; do
    ok "upload-part $n" AWS s3api upload-part --bucket "$B" --key mpu/manual.bin --upload-id "$UPLOAD_ID" \
        --part-number $n --body "$T/p$n"
    etag=$(js .ETag)
    check '[ "$etag" = "\"$(md5sum < "$T/p$n" | cut -c1-32)\"" ]' "part $n ETag is its MD5 (got $etag)"
    PARTS="$PARTS${PARTS:+,}{\"PartNumber\":$n,\"ETag\":$(jq .ETag <<<"$OUT")}"
done
ok "complete-multipart-upload" AWS s3api complete-multipart-upload --bucket "$B" --key mpu/manual.bin \
    --upload-id "$UPLOAD_ID" --multipart-upload "{\"Parts\":[$PARTS]}"
EXPECT_ETAG=$(mpu_etag "$T/manual.bin" $((5 * MiB)))
check '[ "$(js .ETag)" = "$EXPECT_ETAG" ]' "complete returns the multipart ETag $EXPECT_ETAG (got $OUT)"
check '[ "$(js .Key)" = mpu/manual.bin ] && [ "$(js .Bucket)" = "$B" ]' "complete returns bucket and key"
ok "get-object manual" AWS s3api get-object --bucket "$B" --key mpu/manual.bin "$T/manual.down"
check 'cmp -s "$T/manual.bin" "$T/manual.down"' "hand-made multipart object is byte-exact"
check '[ "$(js .ContentLength)" = $((5 * MiB + 123457)) ]' "manual multipart ContentLength"
check '[ "$(js .ContentType)" = application/x-cairn-test ]' "manual multipart keeps the ContentType"
check '[ "$(js .Metadata.origin)" = manual ]' "manual multipart keeps the metadata"
check '[ "$(js .ETag)" = "$EXPECT_ETAG" ]' "get-object gives the multipart ETag"
rm -f "$T/p1" "$T/p2" "$T/manual.bin" "$T/manual.down"

# ---- keys with spaces, unicode, '+', '%', '&' -------------------------------------
ODD=$T/odd
mkdir -p "$ODD/dir with space" "$ODD/ünïcødé 文件"
echo one > "$ODD/dir with space/file name.txt"
echo two > "$ODD/ünïcødé 文件/naïve – ☃.txt"
echo three > "$ODD/a+b=c.txt"
echo four > "$ODD/100% sure.txt"
echo five > "$ODD/this&that.txt"
echo six > "$ODD/mixed +%& ü.txt"
echo seven > "$ODD/%2F-not-a-slash.txt"
ok "cp --recursive up odd keys" AWS s3 cp --recursive --only-show-errors "$ODD" "s3://$B/odd/"
ok "ls odd keys" AWS s3 ls --recursive "s3://$B/odd/"
( cd "$ODD" && find . -type f -printf 'odd/%P\n' | LC_ALL=C sort ) > "$T/expect-odd"
sed -E 's/^[0-9-]+ [0-9:]+ +[0-9]+ //' <<<"$OUT" | LC_ALL=C sort > "$T/got-odd"
check 'diff "$T/expect-odd" "$T/got-odd"' "ls lists every odd key exactly"
ok "cp --recursive down odd keys" AWS s3 cp --recursive --only-show-errors "s3://$B/odd/" "$T/odd-down"
check 'diff -r "$ODD" "$T/odd-down"' "odd keys survive cp up and down"

# ---- s3api versioning --------------------------------------------------------------
VB="$B-ver"
ok "mb for versioning" AWS s3 mb "s3://$VB"
ok "put-bucket-versioning" AWS s3api put-bucket-versioning --bucket "$VB" \
    --versioning-configuration Status=Enabled,MFADelete=Disabled
ok "get-bucket-versioning" AWS s3api get-bucket-versioning --bucket "$VB"
check '[ "$(js .Status)" = Enabled ]' "get-bucket-versioning: Enabled (got $OUT)"
printf 'version one\n' > "$T/v1.txt"
ok "put-object v1" AWS s3api put-object --bucket "$VB" --key v.txt --body "$T/v1.txt"
V1=$(js .VersionId)
ok "put-object v2" AWS s3api put-object --bucket "$VB" --key v.txt --body "$T/meta.txt"
V2=$(js .VersionId)
check '[[ "$V1" =~ ^[0-9a-f]{32}$ && "$V2" =~ ^[0-9a-f]{32}$ && "$V1" != "$V2" ]]' "put-object returns two version ids ($V1 $V2)"
ok "delete-object adds a marker" AWS s3api delete-object --bucket "$VB" --key v.txt
DM=$(js .VersionId)
check '[ "$(js .DeleteMarker)" = true ]' "delete-object: DeleteMarker (got $OUT)"
ok "list-object-versions paged 1 by 1" AWS s3api list-object-versions --bucket "$VB" --page-size 1
check '[ "$(js "[.Versions[].VersionId] | join(\" \")")" = "$V2 $V1" ]' "list-object-versions: versions newest first (got $OUT)"
check '[ "$(js "[.DeleteMarkers[] | .VersionId + \" \" + (.IsLatest | tostring)] | join(\",\")")" = "$DM true" ]' "list-object-versions: the marker is the latest"
ok "get-object --version-id" AWS s3api get-object --bucket "$VB" --key v.txt --version-id "$V1" "$T/v1.out"
check 'cmp -s "$T/v1.txt" "$T/v1.out"' "get-object of the old version returns its bytes"
not_ok "get-object of a deleted key" AWS s3api get-object --bucket "$VB" --key v.txt "$T/none.out"
check 'grep -q "NoSuchKey" <<<"$ERR"' "get-object behind a delete marker: NoSuchKey"

# ---- rb --force -------------------------------------------------------------------
not_ok "rb of a non-empty bucket" AWS s3 rb "s3://$B"
check 'grep -q "BucketNotEmpty" <<<"$ERR"' "rb of a non-empty bucket: BucketNotEmpty"
ok "rb --force" AWS s3 rb --force "s3://$B"
check 'grep -q "^remove_bucket: $B\$" <<<"$OUT"' "rb --force removes the bucket (got $OUT)"
ok "s3 ls after rb" AWS s3 ls
check '! grep -q " $B\$" <<<"$OUT"' "removed bucket is no longer listed"

check '[ "$MV_RESULT" = ok ]' "aws s3 mv of a 20 MiB object within the bucket: $MV_RESULT: $(cat "$T/mv.err")"
check '! grep -q " sizes/mid.bin\$" <<<"$LS_AFTER_MV" && grep -q " moved/m +&ü.bin\$" <<<"$LS_AFTER_MV"' "mv removed the source key and created the target"
check '[ "$BAD_SIG_CODE" = 403 ]' "a default-signature presigned URL with a damaged signature is refused (got $BAD_SIG_CODE)"
check '[ "$DEFAULT_CODE" = 200 ] && cmp -s "$T/small.bin" "$T/presigned-default.out"' "presigned URL from the cli's default signer works (got $DEFAULT_CODE for $DEFAULT_URL: $(head -c 300 "$T/presigned-default.out"))"

stop_server
finish
