#!/bin/sh
# Smoke test of the TLS examples with clients nobody here wrote: https_hello
# (one loop and two) under curl and wrk over https, then fetch, getting
# https_hello, http_hello and a chunked Python server at once. Keys from
# tls_certs.sh, made now.
# usage: smoke_tls.sh HTTPS_HELLO FETCH HTTP_HELLO TLS_CERTS_SH
set -u
https_hello=$1 fetch=$2 http_hello=$3 certs=$4
dir=$(mktemp -d)
pids=
cleanup() { for p in $pids; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$dir"/*.out; do [ -f "$f" ] && sed "s|^|  $f: |" "$f"; done; exit 1; }
sh "$certs" "$dir/k" >/dev/null || fail "tls_certs.sh"

# start NAME CMD...: run it in the background, wait for "listening on", set $port.
start() {
    name=$1; shift
    "$@" >"$dir/$name.out" 2>&1 &
    pids="$pids $!"
    i=0
    while ! grep -qs '^listening on ' "$dir/$name.out"; do
        i=$((i + 1)); [ $i -gt 100 ] && fail "$name did not start"
        sleep 0.1
    done
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$dir/$name.out")
}

start https1 "$https_hello" --cert "$dir/k/server.pem" --key "$dir/k/server.key" 0 127.0.0.1
tls1=$port
start https2 "$https_hello" --cert "$dir/k/server.pem" --key "$dir/k/server.key" --loops 2 0 127.0.0.1
tls2=$port
start http "$http_hello" 0 127.0.0.1
plain=$port

if command -v curl >/dev/null; then
    got=$(curl -sS --max-time 10 --cacert "$dir/k/ca.pem" "https://localhost:$tls1/" "https://localhost:$tls2/x")
    [ "$got" = "Hello, world!Hello, world!" ] || fail "curl over https: got '$got'"
fi
if command -v wrk >/dev/null; then
    # wrk does not verify certificates; what counts is every answer good.
    for p in $tls1 $tls2; do
        out=$(wrk -t1 -c16 -d1s --timeout 5s "https://127.0.0.1:$p/" 2>&1) || fail "wrk: $out"
        echo "$out" | grep -q "requests in" || fail "wrk: no count: $out"
        if echo "$out" | grep -Eq "Non-2xx|Socket errors: connect [1-9]|read [1-9]|write [1-9]"; then
            fail "wrk over https: $out"
        fi
    done
fi
if command -v python3 >/dev/null; then
    cat > "$dir/chunked.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for n in (1, 10, 1000, 4096):
            self.wfile.write(b"%x\r\n%s\r\n" % (n, b"z" * n))
        self.wfile.write(b"0\r\n\r\n")
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print("listening on 127.0.0.1:%d" % s.server_port, flush=True)
s.serve_forever()
PY
    start chunked python3 "$dir/chunked.py"
    out=$("$fetch" --cafile "$dir/k/ca.pem" "https://localhost:$tls1/" "http://127.0.0.1:$plain/" \
          "http://127.0.0.1:$port/c" "https://localhost:$tls2/") || fail "fetch: $out"
    want="https://localhost:$tls1/ 200 13
http://127.0.0.1:$plain/ 200 13
http://127.0.0.1:$port/c 200 5107
https://localhost:$tls2/ 200 13"
    [ "$out" = "$want" ] || fail "fetch printed:
$out
want:
$want"
fi
# fetch against servers nobody here wrote: nginx with ssl, openssl s_server.
nginx=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null)
if [ -n "$nginx" ] && command -v python3 >/dev/null; then
    nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$dir/ng"
    cat > "$dir/ng/nginx.conf" <<NG
daemon off; master_process off; worker_processes 1;
pid $dir/ng/nginx.pid; error_log $dir/ng/err warn;
events { worker_connections 64; }
http { access_log off; client_body_temp_path $dir/ng; proxy_temp_path $dir/ng;
  fastcgi_temp_path $dir/ng; uwsgi_temp_path $dir/ng; scgi_temp_path $dir/ng;
  server { listen 127.0.0.1:$nport ssl; ssl_certificate $dir/k/server.pem;
    ssl_certificate_key $dir/k/server.key; location / { return 200 "nginx says hi"; } } }
NG
    "$nginx" -p "$dir/ng" -c "$dir/ng/nginx.conf" &
    pids="$pids $!"
    i=0
    until out=$("$fetch" --cafile "$dir/k/ca.pem" "https://localhost:$nport/") ; do
        i=$((i + 1)); [ $i -gt 50 ] && fail "fetch from nginx: $out"
        sleep 0.1
    done
    [ "$out" = "https://localhost:$nport/ 200 13" ] || fail "fetch from nginx printed: $out"
fi
echo "TLS examples: ok"
