#!/bin/sh
# Smoke test of examples/file_server: a 64 MiB random file fetched whole and
# in ranges by curl, byte for byte; 404, 403, 405, 416, HEAD; two URLs on one
# keep-alive connection; then wrk for 2 s (no errors, no non-2xx). The server
# starts on port 0 (read back from its "listening on" line) and must exit 0
# on SIGTERM. wrk not installed is skipped with a message; curl is required.
# usage: smoke_file_server.sh FILE_SERVER
set -u
server=$1
command -v curl >/dev/null || { echo "curl not found: skipping"; exit 77; }
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; sed 's/^/  server: /' "$dir/out" 2>/dev/null; exit 1; }
. "$(dirname "$0")/smoke_lib.sh"

mkdir "$dir/www" "$dir/www/sub"
head -c 67108864 /dev/urandom > "$dir/www/big.bin"
printf 'hello\n' > "$dir/www/sub/a.txt"
printf '<p>hi</p>\n' > "$dir/www/index.html"
: > "$dir/www/empty"
echo secret > "$dir/secret"

"$server" --port 0 "$dir/www" >"$dir/out" 2>&1 &
pid=$!
wait_listening "$dir/out" "$pid" file_server '^listening on ' 's/^listening on .*:\([0-9]*\)$/\1/p'
base=http://127.0.0.1:$port
echo "file_server listening on port $port"

# code URL [CURL ARGS...]: the status curl got
code() { u=$1; shift; curl -s -o /dev/null -w '%{http_code}' "$@" "$base$u"; }

curl -sf -o "$dir/got" "$base/big.bin" || fail "GET big.bin"
cmp "$dir/got" "$dir/www/big.bin" || fail "GET big.bin: bytes differ"
# range FROM-TO: curl --range against the same bytes cut with dd
range() {
    curl -sf -o "$dir/part" -r "$1" "$base/big.bin" || fail "range $1"
    case $1 in
        -*) n=${1#-}; tail -c "$n" "$dir/www/big.bin" > "$dir/want" ;;
        *-) a=${1%-}; tail -c +$((a + 1)) "$dir/www/big.bin" > "$dir/want" ;;
        *) a=${1%-*} b=${1#*-}; tail -c +$((a + 1)) "$dir/www/big.bin" | head -c $((b - a + 1)) > "$dir/want" ;;
    esac
    cmp "$dir/part" "$dir/want" || fail "range $1: bytes differ"
}
range 0-0; range 100-4195; range 33554431-33554432; range 67108000-; range -1000
range 67108000-99999999
[ "$(code /big.bin -r 0-9)" = 206 ] || fail "range status"
curl -s -D "$dir/h" -o /dev/null -r 10-19 "$base/big.bin"
grep -qi '^Content-Range: bytes 10-19/67108864' "$dir/h" || fail "Content-Range: $(cat "$dir/h")"
[ "$(code /big.bin -r 67108864-)" = 416 ] || fail "unsatisfiable range"
[ "$(code /missing)" = 404 ] || fail "404"
[ "$(code /sub)" = 404 ] || fail "a directory"
[ "$(code /sub/../../secret --path-as-is)" = 403 ] || fail ".. escape"
[ "$(code /%2e%2e/secret --path-as-is)" = 403 ] || fail "encoded .. escape"
[ "$(code /sub/a.txt -X POST)" = 405 ] || fail "POST"
[ "$(code /empty)" = 200 ] || fail "empty file"
curl -s -I "$base/big.bin" > "$dir/h" || fail "HEAD"
grep -q '^HTTP/1.1 200' "$dir/h" && grep -qi '^Content-Length: 67108864' "$dir/h" ||
    fail "HEAD: $(cat "$dir/h")"
grep -qi '^Content-Type: text/html' "$(curl -s -D - -o /dev/null "$base/index.html" > "$dir/h2"; echo "$dir/h2")" ||
    fail "Content-Type"
printf 'GARBAGE\r\n\r\n' | curl -s --max-time 5 telnet://127.0.0.1:$port 2>/dev/null | grep -q '^HTTP/1.1 400' ||
    fail "garbage request"
# Two URLs, one connection: curl says so when it reuses it.
curl -sv -o "$dir/k1" "$base/sub/a.txt" -o "$dir/k2" "$base/index.html" 2> "$dir/v" ||
    fail "keep-alive"
grep -qi 'Re-using existing connection\|Reusing existing' "$dir/v" || fail "no reuse: $(cat "$dir/v")"
cmp "$dir/k1" "$dir/www/sub/a.txt" && cmp "$dir/k2" "$dir/www/index.html" || fail "keep-alive bytes"
[ "$(curl -s -H 'Connection: close' -D - -o /dev/null "$base/sub/a.txt" | grep -ci '^Connection: close')" = 1 ] ||
    fail "Connection: close not honoured"

if command -v wrk >/dev/null; then
    head -c 1048576 /dev/urandom > "$dir/www/1m.bin"
    wrk -t 2 -c 16 -d 2 "$base/1m.bin" > "$dir/wrk" 2>&1 || fail "wrk: $(cat "$dir/wrk")"
    cat "$dir/wrk"
    grep -q 'Socket errors\|Non-2xx' "$dir/wrk" && fail "wrk saw errors"
    grep -q 'Requests/sec' "$dir/wrk" || fail "wrk: no result"
else
    echo "wrk not found: skipping the load run"
fi

stop TERM
echo "file_server: ok"
