#!/usr/bin/env bash
# bench/sse-bench.sh [ROUNDS] - SSE-S3 against plain PUT/GET throughput.
#
# Starts its own `cairn server` (build/cmd/cairn, --sse-key-file) on
# 127.0.0.1:${PORT:-9410} with data in ${DIR:-/tmp/cairn-sse-bench}, then
# runs ROUNDS (default 3) rounds of four cairn-bench runs, interleaved so
# that a noisy neighbour hurts both sides alike:
#   PUT 32 MiB plain, PUT 32 MiB SSE-S3 (--sse), GET plain, GET SSE-S3
# each at concurrency ${CONC:-16} over 16 keys for ${SECS:-10} s.  Prints
# every run and the medians, and the SSE/plain ratios of the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
port=${PORT:-9410}
dir=${DIR:-/tmp/cairn-sse-bench}
conc=${CONC:-16}
secs=${SECS:-10}
B=build/bench/cairn-bench

rm -rf "$dir"
mkdir -p "$dir/keys"
CAIRN_ROOT_USER=bench CAIRN_ROOT_PASSWORD=benchsecret build/cmd/cairn server \
    --data "$dir/data" --listen "127.0.0.1:$port" --log-level warn \
    --sse-key-file "$dir/keys/master.key" > "$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$port/_cairn/metrics" > /dev/null && break
    sleep 0.2
done

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=benchsecret
C="--endpoint http://127.0.0.1:$port --bucket bench --size 32MiB --concurrency $conc --keys 16 --duration $secs --json"
# every key exists before the first GET, whatever the PUT runs reach
$B $C --create-bucket --setup-keys 16 --prefix plain/ > /dev/null
$B $C --setup-keys 16 --prefix sse/ --sse > /dev/null

run() { # label, then cairn-bench arguments; prints MB/s (the run's JSON to stderr)
    local label=$1 out
    shift
    out=$($B $C --label "$label" "$@" | grep '^{' | tail -1)
    echo "$out" >&2
    case $out in *'"errors":0,'*) ;; *) echo "requests failed" >&2; exit 1 ;; esac
    echo "$out" | sed -n 's/.*"mb_per_s":\([0-9.]*\).*/\1/p'
}
declare -A res
for r in $(seq "$rounds"); do
    res[put-plain]+="$(run plain --op put --prefix plain/) "
    res[put-sse]+="$(run sse --op put --prefix sse/ --sse) "
    res[get-plain]+="$(run plain --op get --prefix plain/) "
    res[get-sse]+="$(run sse --op get --prefix sse/) "
    echo "round $r done" >&2
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
for k in put-plain put-sse get-plain get-sse; do
    printf '%-10s MB/s: %s -> median %s\n' "$k" "${res[$k]}" "$(echo "${res[$k]}" | median)"
done
for op in put get; do
    p=$(echo "${res[$op-plain]}" | median)
    s=$(echo "${res[$op-sse]}" | median)
    awk -v p="$p" -v s="$s" -v op="$op" 'BEGIN {printf "%s: SSE-S3 / plain = %.1f%%\n", op, 100 * s / p}'
done
