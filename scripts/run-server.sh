#!/usr/bin/env bash
# scripts/run-server.sh [cairn server flags...] - set up, build, and run
# `cairn server` in the foreground (data in ./cairn-data, 127.0.0.1:9000).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh build
exec ./build/cmd/cairn server "$@"
