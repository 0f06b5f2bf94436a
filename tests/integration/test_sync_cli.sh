#!/usr/bin/env bash
# test_sync_cli.sh - the cairn-sync commands around the daemon, against the
# real server: init (config file, folder list, nesting, missing bucket, bad
# URLs, wrong keys), pause/resume, status (read from status.json files
# written here, as the engine writes them; "not running" from a dead pid,
# a free lock or no file), conflicts on an empty index, log (tail, --json,
# -f), share (a presigned URL that curl fetches after aws-cli put the
# object), and --help of every command.  Syncing itself (`run`) is the
# engine's and tested with it.
source "$CAIRN_SRC/tests/lib/cairn_test.sh"
: "${CAIRN_SYNC_BIN:?CAIRN_SYNC_BIN must point to the cairn-sync binary}"
command -v jq >/dev/null || fail "jq is required"
command -v flock >/dev/null || fail "flock (util-linux) is required"
if [ -z "${AWS_CLI:-}" ]; then
    if [ -x /usr/bin/aws ]; then AWS_CLI=/usr/bin/aws; else AWS_CLI=aws; fi
fi
command -v "$AWS_CLI" >/dev/null || fail "aws-cli not found: $AWS_CLI"
unset AWS_CA_BUNDLE

start_server
# each test process has a folder list of its own
export XDG_CONFIG_HOME="$TEST_TMP/xdg"
LIST="$XDG_CONFIG_HOME/cairn-sync/folders"
T=$(cd "$TEST_TMP" && pwd -P)

AWS() { "$AWS_CLI" --endpoint-url "$CAIRN_ENDPOINT" "$@"; }
CS() { "$CAIRN_SYNC_BIN" "$@"; }

# run CMD...: $RC exit status, $OUT stdout, $ERR stderr
RC=0 OUT="" ERR=""
run() {
    OUT=$("$@" 2>"$TEST_TMP/stderr") && RC=0 || RC=$?
    ERR=$(cat "$TEST_TMP/stderr")
}
# listed: the folder list without its comment lines
listed() { grep -v '^#' "$LIST"; }

B=synccli-$$
AWS s3 mb "s3://$B" >/dev/null || fail "aws s3 mb"

# ---- init ---------------------------------------------------------------------
DOCS=$T/docs
run CS init "$DOCS" "s3://$B/laptop" --endpoint "$CAIRN_ENDPOINT"
check '[ $RC -eq 0 ]' "init: exit $RC, stderr: $ERR"
check '[ -d "$DOCS" ]' "init creates the missing folder"
CFG=$DOCS/.cairn-sync/config
check '[ -f "$CFG" ]' "init writes $CFG"
check 'grep -qx "endpoint = $CAIRN_ENDPOINT" "$CFG"' "config endpoint: $(cat "$CFG")"
check 'grep -qx "bucket = $B" "$CFG"' "config bucket"
check 'grep -qx "prefix = laptop/" "$CFG"' "config prefix is normalized to end in /"
check 'grep -qx "region = us-east-1" "$CFG"' "config region"
check 'grep -qx "profile =" "$CFG"' "config profile (none named)"
check '! grep -qF "$AWS_SECRET_ACCESS_KEY" "$CFG" && ! grep -qF "$AWS_ACCESS_KEY_ID" "$CFG"' \
    "no credentials in the folder's config"
check '[ "$(stat -c %a "$DOCS/.cairn-sync")" = 700 ]' ".cairn-sync is 0700"
check '[ "$(listed)" = "$DOCS" ]' "folder list holds the folder: $(cat "$LIST")"

run CS init "$DOCS" "s3://$B/laptop/" --endpoint "$CAIRN_ENDPOINT"
check '[ $RC -eq 0 ]' "init again with the same remote is fine: $ERR"
check '[ "$(listed)" = "$DOCS" ]' "no duplicate in the folder list"
run CS init "$DOCS" "s3://$B/other" --endpoint "$CAIRN_ENDPOINT"
check '[ $RC -eq 1 ] && grep -q "already synced" <<<"$ERR"' "init with another remote refused: $RC $ERR"

# a relative FOLDER, the whole bucket, stored absolute
mkdir -p "$T/cwd"
OUT=$(cd "$T/cwd" && CS init ../photos "s3://$B" --endpoint "$CAIRN_ENDPOINT/" 2>&1) && RC=0 || RC=$?
PHOTOS=$T/photos
check '[ $RC -eq 0 ]' "init with a relative folder: $OUT"
check 'grep -qx "prefix =" "$PHOTOS/.cairn-sync/config"' "s3://BUCKET syncs the whole bucket"
check 'grep -qx "endpoint = $CAIRN_ENDPOINT" "$PHOTOS/.cairn-sync/config"' "endpoint's trailing / dropped"
check '[ "$(listed)" = "$(printf "%s\n%s" "$DOCS" "$PHOTOS")" ]' "list: $(cat "$LIST")"

# nesting, both ways
run CS init "$DOCS/sub" "s3://$B/sub" --endpoint "$CAIRN_ENDPOINT"
check '[ $RC -eq 1 ] && grep -q "inside the synced folder $DOCS" <<<"$ERR"' "nested init refused: $RC $ERR"
check '[ ! -e "$DOCS/sub" ]' "refused init creates nothing"
run CS init "$T" "s3://$B/all" --endpoint "$CAIRN_ENDPOINT"
check '[ $RC -eq 1 ] && grep -q "holds the synced folder" <<<"$ERR"' "init around a synced folder refused: $RC $ERR"

# a missing bucket, bad URLs and arguments, wrong keys
run CS init "$T/nobucket" "s3://no-such-bucket-$$/x" --endpoint "$CAIRN_ENDPOINT"
check '[ $RC -eq 1 ] && grep -q "no such bucket" <<<"$ERR"' "missing bucket: $RC $ERR"
check '[ ! -e "$T/nobucket" ]' "a failed init creates no folder"
for url in "http://$B/x" "$B/x" "s3://" "s3://$B//" "s3://$B/a//b" "s3://$B/../x" "s3://a"; do
    run CS init "$T/bad" "$url" --endpoint "$CAIRN_ENDPOINT"
    check '[ $RC -eq 2 ] && grep -q "s3://BUCKET" <<<"$ERR"' "bad URL $url: $RC $ERR"
done
run CS init "$T/bad" "s3://$B/x"
check '[ $RC -eq 2 ] && grep -q -- "--endpoint" <<<"$ERR"' "init without --endpoint: $RC $ERR"
run CS init "$T/bad" "s3://$B/x" --endpoint "ftp://x"
check '[ $RC -eq 2 ]' "init with a bad endpoint: $RC $ERR"
run CS init "$T/bad" --endpoint "$CAIRN_ENDPOINT"
check '[ $RC -eq 2 ]' "init without a URL: $RC"
run CS init "$T/bad" "s3://$B/x" --endpoint "$CAIRN_ENDPOINT" --bogus
check '[ $RC -eq 2 ]' "init with an unknown option: $RC"
OUT=$(AWS_SECRET_ACCESS_KEY=wrong-secret CS init "$T/bad" "s3://$B/x" --endpoint "$CAIRN_ENDPOINT" 2>&1) && RC=0 || RC=$?
check '[ $RC -eq 1 ]' "init with a wrong secret fails: $RC $OUT"
PORT_FREE=$(free_port)
run CS init "$T/bad" "s3://$B/x" --endpoint "http://127.0.0.1:$PORT_FREE"
check '[ $RC -eq 1 ] && grep -q "cannot reach" <<<"$ERR"' "init with no server: $RC $ERR"
check '[ ! -e "$T/bad" ]' "failed inits create no folder"

# keys from a profile of the shared credentials file
cat > "$AWS_SHARED_CREDENTIALS_FILE" <<EOF
[other]
aws_access_key_id = nobody
aws_secret_access_key = nothing
[sync]
aws_access_key_id = $AWS_ACCESS_KEY_ID
aws_secret_access_key = $AWS_SECRET_ACCESS_KEY
EOF
OUT=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$CAIRN_SYNC_BIN" init "$T/prof" \
    "s3://$B/prof" --endpoint "$CAIRN_ENDPOINT" --profile sync 2>&1) && RC=0 || RC=$?
check '[ $RC -eq 0 ] && grep -qx "profile = sync" "$T/prof/.cairn-sync/config"' "init --profile: $RC $OUT"
OUT=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$CAIRN_SYNC_BIN" init "$T/prof2" \
    "s3://$B/prof2" --endpoint "$CAIRN_ENDPOINT" --profile missing 2>&1) && RC=0 || RC=$?
check '[ $RC -eq 1 ] && grep -q "no credentials" <<<"$OUT"' "init with an unknown profile: $RC $OUT"

# ---- pause, resume ----------------------------------------------------------------
run CS pause "$DOCS"
check '[ $RC -eq 0 ] && [ -f "$DOCS/.cairn-sync/paused" ]' "pause creates paused: $RC $ERR"
check '[ ! -e "$PHOTOS/.cairn-sync/paused" ]' "pause FOLDER touches only that folder"
run CS resume "$DOCS"
check '[ $RC -eq 0 ] && [ ! -e "$DOCS/.cairn-sync/paused" ]' "resume removes paused: $RC $ERR"
run CS resume "$DOCS"
check '[ $RC -eq 0 ]' "resume of a folder that is not paused: $RC $ERR"
run CS pause
check '[ $RC -eq 0 ] && [ -f "$DOCS/.cairn-sync/paused" ] && [ -f "$PHOTOS/.cairn-sync/paused" ] && [ -f "$T/prof/.cairn-sync/paused" ]' \
    "pause without FOLDER pauses every listed folder: $RC $ERR"
mkdir -p "$DOCS/deep/er"
OUT=$(cd "$DOCS/deep/er" && CS resume . 2>&1) && RC=0 || RC=$?
check '[ $RC -eq 0 ] && [ ! -e "$DOCS/.cairn-sync/paused" ]' "resume . from a subfolder: $RC $OUT"
run CS resume
check '[ $RC -eq 0 ] && [ ! -e "$PHOTOS/.cairn-sync/paused" ]' "resume all"
run CS pause "$T/cwd"
check '[ $RC -eq 1 ] && grep -q "not in a synced folder" <<<"$ERR"' "pause outside synced folders: $RC $ERR"

# ---- status -----------------------------------------------------------------------
run CS status "$DOCS"
check '[ $RC -eq 0 ] && [ "$OUT" = "$DOCS: not running" ]' "status without a daemon: $RC '$OUT' $ERR"
run CS status
check '[ $RC -eq 0 ] && [ "$(wc -l <<<"$OUT")" -eq 3 ] && grep -qx "$PHOTOS: not running" <<<"$OUT"' \
    "status of every folder: $OUT"

# status.json as the engine writes it, with a process holding the lock
ST=$DOCS/.cairn-sync/status.json
# (the holder is the process that has the lock: bash takes it and becomes sleep)
bash -c 'exec 9>>"$1" && flock 9 && exec sleep 60' holder "$DOCS/.cairn-sync/lock" &
HOLDER=$!
for i in $(seq 1 50); do flock -n -s "$DOCS/.cairn-sync/lock" true || break; sleep 0.1; done
write_status() { # STATE [LAST_ERROR]
    printf '{"state": "%s", "pid": %s, "updated_ms": 1, "pending_files": 3, "pending_bytes": 2097152, "uploaded_bytes": 0, "downloaded_bytes": 0, "errors": [], "last_error": "%s"}\n' \
        "$1" "${PID_IN_STATUS:-$HOLDER}" "${2:-}" > "$ST"
}
write_status "up to date"
run CS status "$DOCS"
check '[ "$OUT" = "$DOCS: up to date" ]' "status up to date: '$OUT' $ERR"
write_status "syncing"
run CS status "$DOCS"   # not a terminal: one drawing, no bar
check '[ $RC -eq 0 ] && [ "$OUT" = "$DOCS: syncing 3 files, 2.0 MiB left" ]' "status syncing: '$OUT' $ERR"
write_status "paused"
run CS status "$DOCS"
check '[ "$OUT" = "$DOCS: paused" ]' "status paused: '$OUT'"
write_status "offline" "connection refused"
run CS status "$DOCS"
check '[ "$(head -n 1 <<<"$OUT")" = "$DOCS: offline" ] && grep -q "connection refused" <<<"$OUT"' "status offline: '$OUT'"
printf '{"state": "errors", "pid": %s, "errors": [{"path": "a/locked.doc", "error": "Permission denied"}, {"path": "b:c", "error": "name cannot be stored"}]}\n' "$HOLDER" > "$ST"
run CS status "$DOCS"
check '[ "$(head -n 1 <<<"$OUT")" = "$DOCS: errors (2)" ] && grep -qx "  a/locked.doc: Permission denied" <<<"$OUT" && grep -qx "  b:c: name cannot be stored" <<<"$OUT"' \
    "status errors lists the paths: '$OUT'"
run CS status --json "$DOCS" "$PHOTOS"
check '[ $RC -eq 0 ] && [ "$(jq length <<<"$OUT")" = 2 ]' "status --json is an array: $OUT"
check '[ "$(jq -r ".[0].folder, .[0].running, .[0].state, .[0].errors[0].path" <<<"$OUT" | tr "\n" " ")" = "$DOCS true errors a/locked.doc " ]' \
    "status --json: the raw object with folder and running: $OUT"
check '[ "$(jq -r ".[1].state, .[1].running" <<<"$OUT" | tr "\n" " ")" = "not running false " ]' "status --json without status.json"
write_status "stopped"
run CS status "$DOCS"
check '[ "$OUT" = "$DOCS: not running" ]' "state stopped is not running: '$OUT'"
# the lock free: a live pid (pid reused) is not enough, a dead one is not running
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null
PID_IN_STATUS=$$ write_status "up to date"
run CS status "$DOCS"
check '[ "$OUT" = "$DOCS: not running" ]' "a live pid without the lock is not running: '$OUT'"
write_status "up to date"
run CS status "$DOCS"
check '[ "$OUT" = "$DOCS: not running" ]' "a dead pid is not running: '$OUT'"
echo "not json" > "$ST"
run CS status "$DOCS"
check '[ $RC -eq 1 ] && grep -q "status unknown" <<<"$OUT"' "a corrupt status.json is reported: $RC '$OUT'"
rm -f "$ST"
run CS status "$T/cwd"
check '[ $RC -eq 1 ]' "status of a folder that is not synced: $RC"

# ---- conflicts ----------------------------------------------------------------------
touch "$DOCS/report (conflicted copy 2026-11-28 laptop).txt"
run CS conflicts "$DOCS"
check '[ $RC -eq 0 ] && [ -z "$OUT" ]' "conflicts on an empty index: nothing (a copy not in the index does not count): $RC '$OUT' $ERR"
run CS conflicts
check '[ $RC -eq 0 ] && [ -z "$OUT" ]' "conflicts of every folder: $RC '$OUT' $ERR"

# ---- log ------------------------------------------------------------------------------
LOG=$DOCS/.cairn-sync/log
run CS log "$DOCS"
check '[ $RC -eq 0 ] && [ -z "$OUT" ]' "log without a log file: $RC '$OUT' $ERR"
for i in 1 2 3; do
    printf '{"ts_ms": %s000, "level": "info", "event": "upload", "path": "docs/a%s.txt", "msg": "sent 1 chunk"}\n' \
        "$(date -d "2026-11-28 15:04:0$i" +%s)" "$i" >> "$LOG"
done
printf '{"ts_ms": %s000, "level": "error", "event": "error", "path": "b.txt", "msg": "Permission denied"}\n' \
    "$(date -d "2026-11-28 15:04:09" +%s)" >> "$LOG"
run CS log "$DOCS" -n 2
check '[ $RC -eq 0 ] && [ "$OUT" = "$(printf "2026-11-28 15:04:03 upload docs/a3.txt: sent 1 chunk\n2026-11-28 15:04:09 [error] error b.txt: Permission denied")" ]' \
    "log -n 2 in human form: '$OUT' $ERR"
run CS log "$DOCS"
check '[ "$(wc -l <<<"$OUT")" -eq 4 ]' "log prints up to 20 lines: '$OUT'"
run CS log "$DOCS" --json -n 1
check '[ "$(jq -r .path <<<"$OUT")" = b.txt ]' "log --json prints the raw line: '$OUT'"
# the rotated log.1 fills in when log is short
mv "$LOG" "$LOG.1"
printf '{"ts_ms": %s000, "event": "download", "path": "new.txt"}\n' "$(date -d "2026-11-28 16:00:00" +%s)" > "$LOG"
OUT=$(cd "$DOCS/deep" && CS log -n 3 2>&1) && RC=0 || RC=$?
check '[ $RC -eq 0 ] && [ "$(wc -l <<<"$OUT")" -eq 3 ] && [ "$(tail -n 1 <<<"$OUT")" = "2026-11-28 16:00:00 download new.txt" ] && grep -q a3.txt <<<"$OUT"' \
    "log reads log.1 too, FOLDER from the current directory: '$OUT'"
# -f: new lines appear until SIGINT, which ends it with status 0
timeout --preserve-status -s INT 3 "$CAIRN_SYNC_BIN" log "$DOCS" -n 0 -f > "$TEST_TMP/follow.out" 2>&1 &
FOLLOW=$!
sleep 1
printf '{"ts_ms": %s000, "event": "delete_remote", "path": "gone.txt"}\n' "$(date -d "2026-11-28 17:00:00" +%s)" >> "$LOG"
wait "$FOLLOW" && RC=0 || RC=$?
check '[ $RC -eq 0 ] && [ "$(cat "$TEST_TMP/follow.out")" = "2026-11-28 17:00:00 delete_remote gone.txt" ]' \
    "log -f prints the new line and exits 0 on SIGINT: $RC '$(cat "$TEST_TMP/follow.out")'"
run CS log
check '[ $RC -eq 2 ] && grep -q "name one" <<<"$ERR"' "log outside a folder with several listed: $RC $ERR"

# ---- share ----------------------------------------------------------------------------
mkdir -p "$DOCS/sub dir"
printf 'shared content %s\n' "$$" > "$DOCS/sub dir/a b+c.txt"
AWS s3 cp --only-show-errors "$DOCS/sub dir/a b+c.txt" "s3://$B/laptop/sub dir/a b+c.txt" || fail "aws s3 cp"
run CS share "$DOCS/sub dir/a b+c.txt"
check '[ $RC -eq 0 ] && [[ "$OUT" == "$CAIRN_ENDPOINT/$B/laptop/sub%20dir/a%20b%2Bc.txt?"*X-Amz-Expires=3600* ]]' \
    "share prints a presigned URL of prefix + path: $RC '$OUT' $ERR"
check '[ "$(curl -sf "$OUT")" = "$(cat "$DOCS/sub dir/a b+c.txt")" ]' "curl fetches the shared file"
OUT=$(cd "$DOCS/sub dir" && CS share "a b+c.txt" --expires 12h 2>&1) && RC=0 || RC=$?
check '[ $RC -eq 0 ] && [[ "$OUT" == *X-Amz-Expires=43200* ]] && [ "$(curl -sf "$OUT")" = "$(cat "$DOCS/sub dir/a b+c.txt")" ]' \
    "share with a relative path and --expires 12h: $OUT"
run CS share "$DOCS/sub dir/a b+c.txt" --expires 7d
check '[ $RC -eq 0 ] && [[ "$OUT" == *X-Amz-Expires=604800* ]]' "share --expires 7d"
run CS share "$DOCS/sub dir/a b+c.txt" --expires 8d
check '[ $RC -eq 2 ] && grep -q "7 days" <<<"$ERR"' "share --expires 8d is refused: $RC $ERR"
run CS share "$DOCS/sub dir/a b+c.txt" --expires soon
check '[ $RC -eq 2 ]' "share --expires soon is a usage error"
run CS share "$DOCS/sub dir"
check '[ $RC -eq 1 ] && grep -q "is a folder" <<<"$ERR"' "share of a folder: $RC $ERR"
echo x > "$T/cwd/outside.txt"
run CS share "$T/cwd/outside.txt"
check '[ $RC -eq 1 ] && grep -q "not in a synced folder" <<<"$ERR"' "share outside synced folders: $RC $ERR"
run CS share "$CFG"
check '[ $RC -eq 1 ] && grep -q "ignored" <<<"$ERR"' "share of the daemon's own files: $RC $ERR"
run CS share "$DOCS/nosuch.txt"
check '[ $RC -eq 1 ]' "share of a missing file"
echo whole > "$PHOTOS/top.txt"
AWS s3 cp --only-show-errors "$PHOTOS/top.txt" "s3://$B/top.txt" || fail "aws s3 cp"
run CS share "$PHOTOS/top.txt"
check '[ $RC -eq 0 ] && [ "$(curl -sf "$OUT")" = whole ]' "share from a folder synced with the whole bucket: $OUT"

# ---- help, version, usage errors ----------------------------------------------------------
for c in init run status conflicts pause resume log share; do
    run CS "$c" --help
    check '[ $RC -eq 0 ] && grep -q "^usage: cairn-sync $c" <<<"$OUT"' "$c --help: $RC $ERR"
done
run CS --help
check '[ $RC -eq 0 ] && grep -q "^usage: cairn-sync" <<<"$OUT"' "--help"
run CS --version
check '[ $RC -eq 0 ] && grep -q "^cairn-sync [0-9]" <<<"$OUT"' "--version: $OUT"
run CS
check '[ $RC -eq 2 ]' "no command: usage error"
run CS frobnicate
check '[ $RC -eq 2 ]' "unknown command: usage error"
run CS status --bogus
check '[ $RC -eq 2 ]' "unknown option: usage error"
run CS run --workers 0
check '[ $RC -eq 2 ]' "run --workers 0: usage error"
run CS log -n many
check '[ $RC -eq 2 ]' "log -n many: usage error"

# an empty folder list
rm -f "$LIST"
run CS status
check '[ $RC -eq 1 ] && grep -q "no synced folders" <<<"$ERR"' "status with no folders: $RC $ERR"

AWS s3 rb --force "s3://$B" >/dev/null || fail "aws s3 rb"
stop_server
finish
