# tests/lib/cairn_test.sh - sourced by shell integration and fault tests.
#
# start_server [extra cairn server flags...]
#     Starts the real binary ($CAIRN_BIN) on a free loopback port with a
#     fresh data folder under $TEST_TMP, waits until it answers, and sets
#     CAIRN_ENDPOINT, CAIRN_DATA, CAIRN_PID and the AWS_* credentials.
#     With CAIRN_TEST_ENDPOINT set (plus AWS_ACCESS_KEY_ID/SECRET), the
#     tests run against that endpoint instead and no server is started.
# stop_server        SIGTERM, wait for a clean exit (fails the test if not)
# kill_server        SIGKILL (fault tests)
# restart_server     start again on the same data folder and port
# fail MSG / check COND MSG   assertions; the test exits 1 on the first failure
# ok DESC CMD... / not_ok DESC CMD...   CMD must succeed (stdout in $OUT,
#                    stderr in $ERR) / fail (stderr in $ERR); js FILTER: jq -r FILTER over $OUT
# awscli_setup       resolve $AWS_CLI, write a quick-retry config; AWS ARGS...
#                    runs it against $CAIRN_ENDPOINT
#
# Every test gets its own TEST_TMP, removed on exit; servers are killed on
# exit whatever happens.

set -u
: "${CAIRN_BIN:?CAIRN_BIN must point to the cairn binary}"
TEST_NAME=$(basename "$0")
TEST_TMP=$(mktemp -d "/tmp/cairn-test.XXXXXX")
CAIRN_PID=""
unset AWS_CA_BUNDLE AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
export AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE="$TEST_TMP/aws-config" AWS_SHARED_CREDENTIALS_FILE="$TEST_TMP/aws-credentials"
: > "$AWS_CONFIG_FILE"
: > "$AWS_SHARED_CREDENTIALS_FILE"
export AWS_EC2_METADATA_DISABLED=true
PASSED=0

cleanup() {
    if [ -n "$CAIRN_PID" ] && kill -0 "$CAIRN_PID" 2>/dev/null; then
        kill -9 "$CAIRN_PID" 2>/dev/null
    fi
    if [ "${KEEP_TMP:-}" = "" ]; then rm -rf "$TEST_TMP"; fi
}
trap cleanup EXIT

fail() {
    echo "FAIL [$TEST_NAME]: $*" >&2
    if [ -f "$TEST_TMP/server.log" ]; then
        echo "--- last server log lines ---" >&2
        tail -n 30 "$TEST_TMP/server.log" >&2
    fi
    exit 1
}

check() {
    local what=$1; shift
    if eval "$what"; then PASSED=$((PASSED + 1)); else fail "$*  (check: $what)"; fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_ready() {
    local i
    for i in $(seq 1 100); do
        if curl -s -o /dev/null "$CAIRN_ENDPOINT/_cairn/metrics"; then return 0; fi
        if [ -n "$CAIRN_PID" ] && ! kill -0 "$CAIRN_PID" 2>/dev/null; then
            fail "server exited during start-up"
        fi
        sleep 0.1
    done
    fail "server did not answer within 10 s"
}

start_server() {
    if [ -n "${CAIRN_TEST_ENDPOINT:-}" ]; then
        CAIRN_ENDPOINT=$CAIRN_TEST_ENDPOINT
        export CAIRN_ENDPOINT
        return 0
    fi
    CAIRN_DATA=${CAIRN_DATA:-$TEST_TMP/data}
    CAIRN_PORT=${CAIRN_PORT:-$(free_port)}
    CAIRN_ENDPOINT="http://127.0.0.1:$CAIRN_PORT"
    export CAIRN_ROOT_USER=${CAIRN_ROOT_USER:-cairntestroot}
    export CAIRN_ROOT_PASSWORD=${CAIRN_ROOT_PASSWORD:-cairn-test-root-secret}
    export AWS_ACCESS_KEY_ID=$CAIRN_ROOT_USER AWS_SECRET_ACCESS_KEY=$CAIRN_ROOT_PASSWORD
    export CAIRN_ENDPOINT CAIRN_DATA CAIRN_PORT
    SERVER_ARGS=("$@")
    "$CAIRN_BIN" server --data "$CAIRN_DATA" --listen "127.0.0.1:$CAIRN_PORT" "$@" \
        >> "$TEST_TMP/server.log" 2>&1 &
    CAIRN_PID=$!
    wait_ready
}

restart_server() {
    "$CAIRN_BIN" server --data "$CAIRN_DATA" --listen "127.0.0.1:$CAIRN_PORT" "${SERVER_ARGS[@]}" \
        >> "$TEST_TMP/server.log" 2>&1 &
    CAIRN_PID=$!
    wait_ready
}

stop_server() {
    [ -n "$CAIRN_PID" ] || return 0
    kill -TERM "$CAIRN_PID"
    local i
    for i in $(seq 1 200); do
        if ! kill -0 "$CAIRN_PID" 2>/dev/null; then
            wait "$CAIRN_PID"; local rc=$?
            CAIRN_PID=""
            [ "$rc" -eq 0 ] || fail "server exited with status $rc after SIGTERM"
            return 0
        fi
        sleep 0.1
    done
    fail "server did not exit within 20 s of SIGTERM"
}

kill_server() {
    [ -n "$CAIRN_PID" ] || return 0
    kill -9 "$CAIRN_PID" 2>/dev/null
    wait "$CAIRN_PID" 2>/dev/null
    CAIRN_PID=""
}

finish() {
    echo "$TEST_NAME: $PASSED passed, 0 failed"
}

OUT=""
ERR=""
ok() {
    local desc=$1; shift
    if OUT=$("$@" 2>"$TEST_TMP/stderr"); then
        ERR=$(cat "$TEST_TMP/stderr")
        PASSED=$((PASSED + 1))
    else
        fail "$desc: exit status $?; stderr: $(tail -c 3000 "$TEST_TMP/stderr"); stdout: $OUT"
    fi
}

not_ok() {
    local desc=$1; shift
    if OUT=$("$@" 2>"$TEST_TMP/stderr"); then
        fail "$desc: succeeded but should have failed; stdout: $OUT"
    fi
    ERR=$(cat "$TEST_TMP/stderr")
    PASSED=$((PASSED + 1))
}

js() { jq -r "$1" <<<"${OUT:-null}"; }

awscli_setup() {
    : "${AWS_CLI:=aws}"
    command -v "$AWS_CLI" >/dev/null || fail "aws-cli not found: $AWS_CLI"
    # A pyenv shim re-resolves the version on every call (about a second
    # each); run the same aws-cli directly.
    case $AWS_CLI in
    */.pyenv/shims/*)
        if real=$(pyenv which "$(basename "$AWS_CLI")" 2>/dev/null) && [ -x "$real" ]; then AWS_CLI=$real; fi ;;
    esac
    echo "aws-cli: $AWS_CLI ($("$AWS_CLI" --version 2>&1))"
    command -v jq >/dev/null || fail "jq is required"
    unset AWS_CA_BUNDLE
    # The harness gives an empty config file; keep aws-cli on its defaults
    # (8 MiB multipart threshold and chunk size) but make retries quick.
    printf '[default]\nregion = us-east-1\nretry_mode = standard\nmax_attempts = 2\n' \
        > "$AWS_CONFIG_FILE"
}

AWS() { "$AWS_CLI" --endpoint-url "$CAIRN_ENDPOINT" "$@"; }
