#!/usr/bin/env bash
# scripts/test.sh - set up, build and run every test:
#   1. a normal build (-Werror): unit, integration and fault tests;
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build: unit and
#      integration tests;
#   3. the libFuzzer targets, 10 s each from their corpora.
# Every server a test needs is started by the test itself on a loopback
# port.  Set CAIRN_TEST_ENDPOINT (+ AWS keys) to point the integration
# tests at another S3 server instead.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --with-tests
unset AWS_CA_BUNDLE
start=$(date +%s)

./scripts/build.sh build
(cd build && ctest --output-on-failure -j2 --timeout 900)

./scripts/build.sh build-asan -DCAIRN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j2 --timeout 1200 -L 'unit|integration')

# 3. every parser that reads network input, under libFuzzer (clang), a
#    short run from the committed corpora (tests/fuzz/README.md)
tests/fuzz/run.sh 10

echo "all tests passed in $(( $(date +%s) - start )) s"
