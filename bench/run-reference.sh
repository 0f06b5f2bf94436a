#!/bin/sh
# bench/run-reference.sh - start, stop or clean up the nginx reference
# server that cairn-bench compares cairn with (static GET, WebDAV PUT).
#
#   bench/run-reference.sh start [--port P] [--dir DIR] [--workers N]
#   bench/run-reference.sh stop  [--dir DIR]
#   bench/run-reference.sh status [--dir DIR]
#   bench/run-reference.sh clean [--dir DIR]   (stop, then remove DIR)
#
# DIR (default /tmp/cairn-bench-nginx) holds the config, logs, pid file,
# the served folder DIR/files and nginx's body spool DIR/tmp.  Put it on the
# same disk as cairn's --data so both read and write the same device.
# nginx listens on 127.0.0.1:P only (default 8089); workers default to
# "auto" (one per core).  Then, for example:
#
#   cairn-bench --no-sign --url-template "http://127.0.0.1:8089/files/%s" \
#       --label nginx --op put --size 4KiB --concurrency 16 --duration 15
#
# The WebDAV PUT/DELETE handler is nginx's http_dav_module; the script checks
# `nginx -V` for it and, as root, installs nginx (or nginx-extras, which has
# it) with apt-get when it is missing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
template="$here/nginx/nginx.conf.in"
cmd=${1:-}
[ $# -gt 0 ] && shift
port=8089
dir=/tmp/cairn-bench-nginx
workers=auto

usage() {
    sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case "$1" in
    --port) port=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run-reference.sh: unknown argument $1" >&2; usage >&2; exit 1 ;;
    esac
done
case "$port" in ''|*[!0-9]*) echo "run-reference.sh: bad --port $port" >&2; exit 1 ;; esac
case "$workers" in auto) ;; ''|*[!0-9]*) echo "run-reference.sh: bad --workers $workers" >&2; exit 1 ;; esac
case "$dir" in /*) ;; *) dir="$(pwd)/$dir" ;; esac

pidfile="$dir/nginx.pid"

running_pid() {
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

find_nginx() {
    for n in nginx /usr/sbin/nginx /usr/local/sbin/nginx; do
        if command -v "$n" >/dev/null 2>&1; then command -v "$n"; return 0; fi
    done
    return 1
}

has_dav() {
    "$1" -V 2>&1 | grep -q -- '--with-http_dav_module'
}

ensure_nginx() {
    nginx_bin=$(find_nginx || true)
    if [ -n "$nginx_bin" ] && has_dav "$nginx_bin"; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "run-reference.sh: need nginx with http_dav_module (Debian: apt-get install nginx-extras)" >&2
        exit 1
    fi
    # Debian's nginx (nginx-core in older releases) is built with the
    # module; nginx-extras certainly is.
    if [ -z "$nginx_bin" ]; then
        echo "run-reference.sh: installing nginx" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx >&2 || true
        nginx_bin=$(find_nginx || true)
    fi
    if [ -z "$nginx_bin" ] || ! has_dav "$nginx_bin"; then
        echo "run-reference.sh: installing nginx-extras (for the WebDAV module)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-extras >&2
        nginx_bin=$(find_nginx)
        has_dav "$nginx_bin" || { echo "run-reference.sh: $nginx_bin has no http_dav_module" >&2; exit 1; }
    fi
}

do_start() {
    if pid=$(running_pid); then
        echo "run-reference.sh: already running (pid $pid, $dir)" >&2
        exit 1
    fi
    ensure_nginx
    mkdir -p "$dir/files" "$dir/tmp" "$dir/logs"
    chmod 755 "$dir" "$dir/files" "$dir/tmp"
    user_line=""
    if [ "$(id -u)" -eq 0 ]; then
        # As root the master starts its workers as another user; nginx's
        # default group "nobody" does not exist on Debian, so name both.
        group=$(id -gn nobody 2>/dev/null || echo nogroup)
        user_line="user nobody $group;"
        chown -R "nobody:$group" "$dir/files" "$dir/tmp"
        if command -v runuser >/dev/null 2>&1 && ! runuser -u nobody -- test -w "$dir/files"; then
            echo "run-reference.sh: user nobody cannot write $dir/files (a parent folder is closed); use --dir" >&2
            exit 1
        fi
    fi
    sed -e "s|@USER@|$user_line|" -e "s|@WORKERS@|$workers|" -e "s|@DIR@|$dir|g" \
        -e "s|@PORT@|$port|g" "$template" >"$dir/nginx.conf"
    "$nginx_bin" -t -q -p "$dir/" -e "$dir/logs/error.log" -c "$dir/nginx.conf"
    "$nginx_bin" -p "$dir/" -e "$dir/logs/error.log" -c "$dir/nginx.conf"
    i=0
    while ! curl -s -o /dev/null "http://127.0.0.1:$port/files/"; do
        i=$((i + 1))
        if [ $i -ge 50 ]; then
            echo "run-reference.sh: nginx did not answer on 127.0.0.1:$port; see $dir/logs/error.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "nginx $("$nginx_bin" -v 2>&1 | sed 's|.*/||') serving $dir/files at http://127.0.0.1:$port/files/ (pid $(cat "$pidfile"))"
    echo "url template: http://127.0.0.1:$port/files/%s"
}

do_stop() {
    if ! pid=$(running_pid); then
        echo "run-reference.sh: not running ($dir)" >&2
        return 0
    fi
    kill -QUIT "$pid"
    i=0
    while kill -0 "$pid" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -ge 100 ]; then kill -TERM "$pid" 2>/dev/null || true; fi
        sleep 0.1
    done
    echo "stopped nginx (pid $pid)"
}

case "$cmd" in
start) do_start ;;
stop) do_stop ;;
status)
    if pid=$(running_pid); then echo "running (pid $pid, $dir)"; else echo "not running ($dir)"; exit 1; fi ;;
clean)
    do_stop
    case "$dir" in /|/tmp|/tmp/) echo "run-reference.sh: refusing to remove $dir" >&2; exit 1 ;; esac
    rm -rf "$dir"
    echo "removed $dir" ;;
-h|--help|help) usage ;;
*) usage >&2; exit 1 ;;
esac
