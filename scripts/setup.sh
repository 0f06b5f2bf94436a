#!/usr/bin/env bash
# scripts/setup.sh - install what cairn needs to build, run and test on
# Debian 12 (run as root).  Idempotent: packages already present are kept.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config
    libmicrohttpd-dev libisal-dev liblmdb-dev libssl-dev libcurl4-openssl-dev
    libraft-dev libexpat1-dev libcjson-dev libinih-dev libcmocka-dev)
# AES-GCM for server-side encryption: Intel's library on x86-64 (only
# packaged there); elsewhere OpenSSL does it.
if [ "$(dpkg --print-architecture)" = amd64 ]; then build_pkgs+=(libipsec-mb-dev); fi
test_pkgs=(clang libclang-rt-14-dev curl jq python3 python3-boto3 awscli s3cmd rclone lmdb-utils nginx-light e2fsprogs util-linux
    chromium)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--with-tests" ]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: need root to install: ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
