#!/usr/bin/env bash
# test_s3_sse_awscli.sh - server-side encryption through the real aws-cli
# ($AWS_CLI; ctest runs it once per installed aws-cli).
#
# Covers: s3 cp --sse AES256 (1 KiB and a 20 MiB multipart upload) and the
# download; s3 cp --sse-c with a key file (multipart up and ranged-part
# download), the download without the key refused; s3api head-object
# answers; a copy from an SSE-C source to SSE-S3 (--sse-c-copy-source);
# s3api put/get/delete-bucket-encryption and the default applied to a plain
# s3 cp.
source "$CAIRN_SRC/tests/lib/cairn_test.sh"

awscli_setup

mkdir -p "$TEST_TMP/keys"
start_server --sse-key-file "$TEST_TMP/keys/master.key"

head -c 1024 /dev/urandom > "$TEST_TMP/small"
head -c $((20 << 20)) /dev/urandom > "$TEST_TMP/big"
head -c 32 /dev/urandom > "$TEST_TMP/ckey"
B=s3://sse-cli

ok "mb" AWS s3 mb $B
# SSE-S3
for f in small big; do
    ok "cp $f --sse" AWS s3 cp "$TEST_TMP/$f" "$B/s3/$f" --sse AES256
    ok "head $f" AWS s3api head-object --bucket sse-cli --key "s3/$f"
    check '[ "$(js .ServerSideEncryption)" = AES256 ]' "head-object of s3/$f: $OUT"
    ok "cp $f down" AWS s3 cp "$B/s3/$f" "$TEST_TMP/$f.back"
    check 'cmp -s "$TEST_TMP/$f" "$TEST_TMP/$f.back"' "s3/$f came back different"
done

# SSE-C, multipart up and down
SSEC=(--sse-c AES256 --sse-c-key "fileb://$TEST_TMP/ckey")
ok "cp big --sse-c" AWS s3 cp "$TEST_TMP/big" "$B/c/big" "${SSEC[@]}"
ok "cp big --sse-c down" AWS s3 cp "$B/c/big" "$TEST_TMP/big.c" "${SSEC[@]}"
check 'cmp -s "$TEST_TMP/big" "$TEST_TMP/big.c"' "SSE-C object came back different"
if AWS s3 cp "$B/c/big" "$TEST_TMP/big.nokey" 2>"$TEST_TMP/stderr"; then
    fail "an SSE-C object downloaded without its key"
fi
check 'grep -q "400\|Bad Request\|InvalidRequest" "$TEST_TMP/stderr"' "no key: $(cat "$TEST_TMP/stderr")"
ok "head --sse-c" AWS s3api head-object --bucket sse-cli --key c/big \
    --sse-customer-algorithm AES256 --sse-customer-key "fileb://$TEST_TMP/ckey"
check '[ "$(js .SSECustomerAlgorithm)" = AES256 ]' "head-object SSE-C: $OUT"
check '[ "$(js .ContentLength)" = $((20 << 20)) ]' "head-object SSE-C size: $OUT"

# SSE-C source -> SSE-S3 copy
ok "cp SSE-C -> SSE-S3" AWS s3 cp "$B/c/big" "$B/s3/from-c" --sse AES256 \
    --sse-c-copy-source AES256 --sse-c-copy-source-key "fileb://$TEST_TMP/ckey"
ok "head from-c" AWS s3api head-object --bucket sse-cli --key s3/from-c
check '[ "$(js .ServerSideEncryption)" = AES256 ]' "copy is SSE-S3: $OUT"
ok "cp from-c down" AWS s3 cp "$B/s3/from-c" "$TEST_TMP/from-c"
check 'cmp -s "$TEST_TMP/big" "$TEST_TMP/from-c"' "copy came back different"

# bucket default
ok "mb default" AWS s3 mb s3://sse-cli-default
if AWS s3api get-bucket-encryption --bucket sse-cli-default 2>"$TEST_TMP/stderr"; then
    fail "a bucket without default encryption answered one"
fi
check 'grep -q ServerSideEncryptionConfigurationNotFoundError "$TEST_TMP/stderr"' "$(cat "$TEST_TMP/stderr")"
ok "put-bucket-encryption" AWS s3api put-bucket-encryption --bucket sse-cli-default \
    --server-side-encryption-configuration \
    '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
ok "get-bucket-encryption" AWS s3api get-bucket-encryption --bucket sse-cli-default
check '[ "$(js ".ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm")" = AES256 ]' "$OUT"
ok "cp plain into default" AWS s3 cp "$TEST_TMP/big" s3://sse-cli-default/big
ok "head default" AWS s3api head-object --bucket sse-cli-default --key big
check '[ "$(js .ServerSideEncryption)" = AES256 ]' "default applied: $OUT"
ok "delete-bucket-encryption" AWS s3api delete-bucket-encryption --bucket sse-cli-default
ok "cp plain after" AWS s3 cp "$TEST_TMP/small" s3://sse-cli-default/small
ok "head plain after" AWS s3api head-object --bucket sse-cli-default --key small
check '[ "$(js .ServerSideEncryption)" = null ]' "no default any more: $OUT"

stop_server
finish
