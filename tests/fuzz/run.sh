#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] [TARGET...] - build the libFuzzer targets with
# clang and run each for SECONDS (default 20) from its committed corpus.
#
# New corpus entries go to a temporary folder (the repo is not touched);
# a crash, leak, sanitizer report, timeout or failed property stops that
# target, its input is kept under the printed folder, and the script exits
# 1 after running the other targets.  TARGETs default to all of them
# (fuzz_sigv4_auth fuzz_uri fuzz_aws_chunked fuzz_xml fuzz_fastcdc
# fuzz_meta_record fuzz_sync_proto fuzz_sync_ignore fuzz_form_data fuzz_s3_cors
# fuzz_tagging).
#
# Environment: CAIRN_FUZZ_BUILD (build folder, default <repo>/build-fuzz),
# CC (default clang), JOBS (build parallelism, default 2).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${CAIRN_FUZZ_BUILD:-$src/build-fuzz}
seconds=${1:-20}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(fuzz_sigv4_auth fuzz_uri fuzz_aws_chunked fuzz_xml fuzz_fastcdc fuzz_meta_record
           fuzz_sync_proto fuzz_sync_ignore fuzz_form_data fuzz_s3_cors
           fuzz_tagging)
fi
case $seconds in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac

cc=${CC:-clang}
if ! "$cc" --version >/dev/null 2>&1; then
  echo "run.sh: $cc not found; on Debian: apt-get install -y clang libclang-rt-14-dev" >&2
  exit 2
fi

cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCAIRN_FUZZ=ON >/dev/null
cmake --build "$build" --target "${targets[@]}" -j "${JOBS:-2}" >/dev/null

# Largest input per target: room for what each parser caps (a 16 KiB query,
# several chunker chunks), small enough to stay fast.
max_len() {
  case $1 in
    fuzz_uri) echo 20000 ;;
    fuzz_fastcdc) echo 65536 ;;
    fuzz_xml | fuzz_s3_cors) echo 16384 ;;
    *) echo 8192 ;;
  esac
}

work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-fuzz.XXXXXX")
failed=()
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/$t
  seeds=$here/corpus/$t
  new=$work/$t/corpus
  artifacts=$work/$t/artifacts
  mkdir -p "$new" "$artifacts"
  echo "== $t: ${seconds}s"
  # new entries go to the first folder; the seeds are only read
  if "$bin" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
      "$new" "$seeds" >"$work/$t/log" 2>&1; then
    grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$work/$t/log" || true
  else
    failed+=("$t")
    echo "!! $t FAILED; log: $work/$t/log, input(s): $artifacts/" >&2
    grep -E 'ERROR|property failed|SUMMARY|#[0-9]+ 0x' "$work/$t/log" | head -20 >&2 || true
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "run.sh: ${#failed[@]} target(s) failed: ${failed[*]} (kept in $work)" >&2
  exit 1
fi
rm -rf "$work"
echo "run.sh: all ${#targets[@]} targets ran ${seconds}s without a failure"
