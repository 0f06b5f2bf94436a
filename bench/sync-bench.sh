#!/usr/bin/env bash
# bench/sync-bench.sh - the sync client's benchmarks, run by hand (numbers
# go to docs/benchmarks.md, never into tests):
#
#   1. initial sync of 10,000 files of 4 KiB: one client uploads a folder,
#      a second one (empty folder) downloads it; seconds for each;
#   2. one 1 GiB file: cairn-sync's upload against `aws s3 cp` of the same
#      file to the same server in the same run (the reference), as a ratio;
#   3. change latency: a file closed in one folder, until it is in the
#      other (both daemons running); median and worst of N.
#
#   bench/sync-bench.sh [--build DIR] [--dir DIR] [--port P] [--files N]
#                       [--big-mib M] [--changes N] [--workers W]
#
# It starts its own `cairn server` (127.0.0.1:P, data in DIR, default
# /tmp/cairn-sync-bench, removed at the start) and stops it at the end.
set -euo pipefail

build=$(cd "$(dirname "$0")/.." && pwd)/build
dir=/tmp/cairn-sync-bench
port=9400
files=10000
big_mib=1024
changes=20
workers=8
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --files) files=$2; shift 2 ;;
    --big-mib) big_mib=$2; shift 2 ;;
    --changes) changes=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done

cairn=$build/cmd/cairn
sync=$build/cmd/cairn-sync
endpoint=http://127.0.0.1:$port
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret-key AWS_DEFAULT_REGION=us-east-1
export CAIRN_ROOT_USER=$AWS_ACCESS_KEY_ID CAIRN_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY
unset AWS_CA_BUNDLE AWS_PROFILE
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

rm -rf "$dir"
mkdir -p "$dir"
"$cairn" server --data "$dir/data" --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "$endpoint/_cairn/metrics" >/dev/null && break; sleep 0.1; done

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }

# client NAME BUCKET: init FOLDER $dir/NAME with its own config dir
client_init() {
    XDG_CONFIG_HOME=$dir/$1.cfg "$sync" init "$dir/$1" "s3://$2" --endpoint "$endpoint" >/dev/null
}
client_run() {
    XDG_CONFIG_HOME=$dir/$1.cfg "$sync" run "$dir/$1" --workers "$workers" --quiet \
        >"$dir/$1.log" 2>&1 &
    pids+=($!)
}
# wait until FOLDER's daemon says "up to date" (status.json is rewritten
# at most once a second, so this overstates by up to a second)
wait_synced() {
    for _ in $(seq 36000); do
        grep -q '"state":[[:space:]]*"up to date"' "$dir/$1/.cairn-sync/status.json" 2>/dev/null &&
            return 0
        sleep 0.05
    done
    echo "timeout waiting for $1" >&2
    exit 1
}

aws() { command aws --endpoint-url "$endpoint" "$@" >/dev/null; }

# ---- 1. 10,000 small files ------------------------------------------------
aws s3 mb s3://small
mkdir -p "$dir/up"
python3 - "$dir/up" "$files" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(os.urandom(4096))
EOF
client_init up small
client_init down small
t0=$(now)
client_run up
wait_synced up
t1=$(now)
client_run down
sleep 1
wait_synced down
t2=$(now)
n_down=$(find "$dir/down" -type f -not -path '*/.cairn-sync/*' | wc -l)
echo "small files: $files x 4 KiB: upload $(secs "$t0" "$t1") s, download by a second client $(secs "$t1" "$t2") s ($n_down files)"

# ---- 3. change latency (both daemons of part 1 still run) -----------------
lat=()
for i in $(seq "$changes"); do
    f=change-$i.txt
    t0=$(now)
    echo "change $i" >"$dir/up/$f.tmp"
    mv "$dir/up/$f.tmp" "$dir/up/$f"
    for _ in $(seq 2000); do [ -f "$dir/down/$f" ] && break; sleep 0.01; done
    t1=$(now)
    lat+=("$(secs "$t0" "$t1")")
    sleep 0.2
done
sorted=$(printf '%s\n' "${lat[@]}" | sort -n)
median=$(echo "$sorted" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
echo "change latency over $changes changes: median $median s, worst $(echo "$sorted" | tail -1) s"
cleanup
pids=()
"$cairn" server --data "$dir/data" --listen "127.0.0.1:$port" >>"$dir/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "$endpoint/_cairn/metrics" >/dev/null && break; sleep 0.1; done

# ---- 2. one big file: aws s3 cp, then cairn-sync --------------------------
aws s3 mb s3://big
mkdir -p "$dir/bigsrc"
head -c "$((big_mib * 1024 * 1024))" /dev/urandom >"$dir/bigsrc/big.bin"
t0=$(now)
aws s3 cp "$dir/bigsrc/big.bin" s3://big/reference/big.bin
t1=$(now)
ref=$(secs "$t0" "$t1")
aws s3 mb s3://bigsync
mkdir -p "$dir/bigup"
cp "$dir/bigsrc/big.bin" "$dir/bigup/big.bin"
client_init bigup bigsync
t0=$(now)
client_run bigup
wait_synced bigup
t1=$(now)
mine=$(secs "$t0" "$t1")
echo "one ${big_mib} MiB file: aws s3 cp $ref s ($(echo "$big_mib / $ref" | bc) MiB/s), cairn-sync $mine s ($(echo "$big_mib / $mine" | bc) MiB/s): $(echo "scale=0; 100 * $ref / $mine" | bc)% of aws s3 cp"
