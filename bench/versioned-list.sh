#!/usr/bin/env bash
# bench/versioned-list.sh - ListObjectsV2 of the current keys of a
# versioned bucket against an unversioned bucket of the same keys, run by
# hand (numbers go to docs/benchmarks.md, never into tests):
#
#   flat:      KEYS empty objects, one version each;
#   versioned: the same KEYS, VERSIONS versions each (versioning Enabled);
#
# then ROUNDS interleaved rounds of `cairn-bench --op list` (max-keys 1000,
# PAGES pages each) on both buckets, and the median list/s of each with
# their ratio (versioned / flat; 1.0 means no cost for the old versions).
#
#   bench/versioned-list.sh [--build DIR] [--dir DIR] [--port P] [--keys N]
#                           [--versions V] [--pages N] [--rounds R]
#
# It starts its own `cairn server` (127.0.0.1:P, data in DIR, default
# /tmp/cairn-vlist-bench, removed at the start) and stops it at the end.
set -euo pipefail

build=$(cd "$(dirname "$0")/.." && pwd)/build
dir=/tmp/cairn-vlist-bench
port=9410
keys=2000
versions=100
pages=400
rounds=5
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --versions) versions=$2; shift 2 ;;
    --pages) pages=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done

cairn=$build/cmd/cairn
bench=$build/bench/cairn-bench
endpoint=http://127.0.0.1:$port
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret-key AWS_DEFAULT_REGION=us-east-1
export CAIRN_ROOT_USER=$AWS_ACCESS_KEY_ID CAIRN_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY
unset AWS_CA_BUNDLE AWS_PROFILE
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

rm -rf "$dir"
mkdir -p "$dir"
"$cairn" server --data "$dir/data" --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "$endpoint/_cairn/metrics" >/dev/null && break; sleep 0.1; done

common=(--endpoint "$endpoint" --size 0 --concurrency 32)
"$bench" "${common[@]}" --bucket flat --create-bucket --setup-keys "$keys" >/dev/null
"$bench" "${common[@]}" --bucket versioned --create-bucket --setup-keys 1 >/dev/null
aws --endpoint-url "$endpoint" s3api put-bucket-versioning --bucket versioned \
    --versioning-configuration Status=Enabled
for v in $(seq "$versions"); do
    "$bench" "${common[@]}" --bucket versioned --setup-keys "$keys" >/dev/null
    printf '\rversions written: %d/%d' "$v" "$versions" >&2
done
echo >&2
last=key-$((keys - 1))
n=$(aws --endpoint-url "$endpoint" s3api list-object-versions --bucket versioned \
        --prefix "$last" --query 'length(Versions)' --output text)
echo "flat: $keys keys; versioned: $keys keys, $last has $n versions"

# list/s of one run: the "list" row's ops/s column of cairn-bench's --json
rate() {
    "$bench" --endpoint "$endpoint" --bucket "$1" --op list --max-keys 1000 --count "$pages" --json |
        python3 -c 'import json,sys
for line in sys.stdin:
    line=line.strip()
    if line.startswith("{"):
        d=json.loads(line)
        if d.get("op")=="list": print(d["ops_per_s"])'
}
flat=() ver=()
for r in $(seq "$rounds"); do
    flat+=("$(rate flat)")
    ver+=("$(rate versioned)")
    echo "round $r: flat ${flat[-1]} list/s, versioned ${ver[-1]} list/s"
done
python3 - "${flat[*]}" "${ver[*]}" <<'EOF'
import statistics, sys
f = statistics.median(map(float, sys.argv[1].split()))
v = statistics.median(map(float, sys.argv[2].split()))
print("median list/s: flat %.1f, versioned %.1f; versioned/flat = %.2f (time ratio %.2fx)"
      % (f, v, v / f, f / v))
EOF
