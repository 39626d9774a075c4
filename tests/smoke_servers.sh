#!/bin/sh
# Smoke test of the network examples: each server starts on a free port
# (port 0; the port is read back from its "listening on" line), is talked to
# (echo_client, curl, wrk, a pipelining client, asyncio clients), then
# stopped with SIGINT or SIGTERM, which each must answer by closing its
# server and exiting 0. Clients not installed are skipped with a message.
# graceful_server must also finish a request in progress when signalled.
# echo_server and http_hello run once more on two loops (--loops 2), and
# sharded_kv serves keys set and read on connections of both loops.
# usage: smoke_servers.sh ECHO_SERVER ECHO_CLIENT HTTP_HELLO GRACEFUL_SERVER SHARDED_KV
set -u
echo_server=$1 echo_client=$2 http_hello=$3 graceful_server=$4 sharded_kv=$5
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
out=/dev/null
fail() { echo "FAIL: $*"; [ -f "$out" ] && sed 's/^/  server: /' "$out"; exit 1; }
. "$(dirname "$0")/smoke_lib.sh"

# start NAME PROG HOST [ARG...]: run PROG ARG... 0 HOST in the background
# (HOST "-": PROG ARG... alone), set $port.
start() {
    name=$1 prog=$2 host=$3
    shift 3
    out=$dir/$name.$host.$#    # a fresh file: no stale "listening on" line
    if [ "$host" = - ]; then
        "$prog" "$@" >"$out" 2>&1 &
        host=127.0.0.1
    else
        "$prog" "$@" 0 "$host" >"$out" 2>&1 &
    fi
    pid=$!
    wait_listening "$out" "$pid" "$name" '^listening on ' 's/^listening on .*:\([0-9]*\)$/\1/p'
    echo "$name $* listening on $host port $port"
}


# async_echo HOST: 20 asyncio connections to the echo server on $port, all
# open at once (a server that serves one at a time, or mixes up their
# buffers, fails), each sending a line and awaiting it, then four more in one
# write, one of them 3000 bytes (more than one read's worth for some), and
# wanting each back byte for byte. Then EOF, which must be answered by EOF:
# no stray bytes, and the handler saw the end.
async_echo() {
    command -v python3 >/dev/null || { echo "python3 not found: skipping the asyncio echo client"; return; }
    python3 - "$1" "$port" <<'PY' || fail "asyncio echo client on $1"
import asyncio, sys
class Bad(Exception):    # a wrong answer: said, and exit 1
    pass
host, port, n = sys.argv[1], int(sys.argv[2]), 20
def show(b):    # its length, and both ends of a long one
    return "%d bytes %r" % (len(b), b if len(b) <= 40 else b[:20] + b"..." + b[-20:])
async def client(i, opened, all_open):
    r, w = await asyncio.open_connection(host, port)
    opened[0] += 1
    if opened[0] == n:
        all_open.set()
    await all_open.wait()
    lines = [b"conn %d line %d\n" % (i, j) for j in range(4)]
    lines.append(b"conn %d long " % i + b"x" * 3000 + b"\n")
    w.write(lines[0])
    got = [await r.readline()]
    w.write(b"".join(lines[1:]))
    for _ in lines[1:]:
        got.append(await r.readline())
    for want, line in zip(lines, got):
        if line != want:
            raise Bad("connection %d: sent %s, got back %s" % (i, show(want), show(line)))
    w.write_eof()
    rest = await r.read()
    if rest:
        raise Bad("connection %d: %s after the echoes, want EOF" % (i, show(rest)))
    w.close()
    await w.wait_closed()
async def main():
    opened, all_open = [0], asyncio.Event()
    await asyncio.gather(*(client(i, opened, all_open) for i in range(n)))
try:
    asyncio.run(asyncio.wait_for(main(), 10))
except Bad as e:
    sys.exit(str(e))
except asyncio.TimeoutError:
    sys.exit("no answer within 10 s")
except (OSError, asyncio.IncompleteReadError) as e:
    sys.exit("%s: %s" % (type(e).__name__, e))
print("asyncio echo: %d connections at once, 5 lines each echoed" % n)
PY
}

# echo server: lines from argv, then from stdin, then the asyncio client,
# over IPv4 and IPv6.
for host in 127.0.0.1 ::1; do
    start echo_server "$echo_server" $host
    got=$("$echo_client" -p "$port" -h $host hello "two words")
    [ "$got" = "$(printf 'hello\ntwo words')" ] || fail "echo argv: got '$got'"
    got=$(printf 'a\nb\nc\n' | "$echo_client" -p "$port" -h $host)
    [ "$got" = "$(printf 'a\nb\nc')" ] || fail "echo stdin: got '$got'"
    async_echo $host
    if [ $host = ::1 ]; then stop TERM; else stop INT; fi
done
# Two loops, a listener each on one port: every client is answered, the
# asyncio ones spread over both loops, then SIGINT stops both loops.
start echo_server "$echo_server" 127.0.0.1 --loops 2
for i in 1 2 3 4 5 6 7 8; do
    got=$("$echo_client" -p "$port" -h 127.0.0.1 "line $i")
    [ "$got" = "line $i" ] || fail "echo on two loops: got '$got'"
done
async_echo 127.0.0.1
stop INT
# The client reports a refused connection and fails.
if "$echo_client" -p "$port" x >/dev/null 2>&1; then fail "echo_client to a dead port succeeded"; fi

# async_http: one asyncio connection to http_hello on $port, two GETs on it
# in turn (keep-alive), each answer read by its Content-Length; then EOF,
# answered by EOF (the bodies were exactly Content-Length long).
async_http() {
    command -v python3 >/dev/null || { echo "python3 not found: skipping the asyncio HTTP client"; return; }
    python3 - "$port" <<'PY' || fail "asyncio HTTP client"
import asyncio, sys
class Bad(Exception):    # a wrong answer: said, and exit 1
    pass
port = int(sys.argv[1])
async def response(r):
    status = await r.readline()
    if status != b"HTTP/1.1 200 OK\r\n":
        raise Bad("status line %r" % status)
    length = None
    while True:
        line = await r.readline()
        if line == b"\r\n":
            break
        if not line.endswith(b"\r\n"):
            raise Bad("header line %r" % line)
        name, _, value = line.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length is None:
        raise Bad("no Content-Length")
    return await r.readexactly(length)
async def main():
    r, w = await asyncio.open_connection("127.0.0.1", port)
    for path in (b"/", b"/again"):
        w.write(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path)
        body = await response(r)
        if body != b"Hello, world!":
            raise Bad("GET %s: body %r" % (path.decode(), body))
    w.write_eof()
    rest = await r.read()
    if rest:
        raise Bad("%r after the two responses, want EOF" % rest[:60])
    w.close()
    await w.wait_closed()
try:
    asyncio.run(asyncio.wait_for(main(), 10))
except Bad as e:
    sys.exit(str(e))
except asyncio.TimeoutError:
    sys.exit("no answer within 10 s")
except (OSError, asyncio.IncompleteReadError) as e:
    sys.exit("%s: %s" % (type(e).__name__, e))
print("asyncio HTTP: two keep-alive GETs answered")
PY
}

# wrk_load: a second of wrk (16 connections, keep-alive, as fast as it can)
# against http_hello on $port. wrk counts but does not fail on socket errors
# (a reset, a late answer) or non-2xx answers, so its report is read: some
# requests done, no "Non-2xx" line, and a "Socket errors" line, if any, all
# zeros. wrk counts an answer later than --timeout (2 s by default) as a
# timeout; a busy CI machine's CPU can stall that long (seen once on a
# 2-CPU VM: 12 timeouts while wrk's own 1 s run took 3.1 s), so a
# connection must wait 5 s to count.
wrk_load() {
    command -v wrk >/dev/null || { echo "wrk not found: skipping the wrk check"; return; }
    got=$(wrk -t1 -c16 -d1s --timeout 5s "http://127.0.0.1:$port/" 2>&1) || fail "wrk failed: $got"
    reqs=$(echo "$got" | sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p')
    [ -n "$reqs" ] && [ "$reqs" -gt 0 ] || fail "wrk: no requests done: $got"
    ! echo "$got" | grep 'Socket errors:' | grep -q '[1-9]' || fail "wrk: socket errors: $got"
    ! echo "$got" | grep -q 'Non-2xx' || fail "wrk: non-2xx responses: $got"
    echo "wrk: $reqs requests, no errors"
}

# HTTP hello: curl (keep-alive across two requests), asyncio, then
# pipelining, then wrk's load.
start http_hello "$http_hello" 127.0.0.1
if command -v curl >/dev/null; then
    got=$(curl -sS --max-time 10 "http://127.0.0.1:$port/" "http://127.0.0.1:$port/x")
    [ "$got" = "Hello, world!Hello, world!" ] || fail "curl: got '$got'"
    hdr=$(curl -sS -i --max-time 10 "http://127.0.0.1:$port/" | tr -d '\r')
    echo "$hdr" | grep -q '^Content-Type: text/plain$' || fail "headers: $hdr"
else
    echo "curl not found: skipping the curl checks"
fi
async_http
if command -v python3 >/dev/null; then
    python3 - "$port" <<'PY' || fail "pipelining"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
s.sendall(req * 10 + req[:7])          # ten whole requests and a partial one
want = b"Hello, world!"
data = b""
while data.count(want) < 10:
    chunk = s.recv(65536)
    assert chunk, "server closed early"
    data += chunk
s.sendall(req[7:])                     # complete the eleventh
while data.count(want) < 11:
    chunk = s.recv(65536)
    assert chunk, "server closed early"
    data += chunk
assert data.count(b"HTTP/1.1 200 OK\r\n") == 11, data
s.close()
print("pipelining: 11 responses")
PY
fi
wrk_load
stop TERM
# Two loops: curl's connections, and wrk's 16, spread over both.
start http_hello "$http_hello" 127.0.0.1 --loops 2
if command -v curl >/dev/null; then
    for i in 1 2 3 4; do
        got=$(curl -sS --max-time 10 "http://127.0.0.1:$port/" "http://127.0.0.1:$port/")
        [ "$got" = "Hello, world!Hello, world!" ] || fail "curl on two loops: got '$got'"
    done
fi
wrk_load
stop INT

# Graceful shutdown: SIGINT while /slow is half answered and another
# keep-alive connection idles. The slow request completes, both connections
# see EOF, and the server says so and exits 0.
start graceful_server "$graceful_server" 127.0.0.1
if command -v python3 >/dev/null; then
    python3 - "$port" "$pid" <<'PY' || fail "graceful shutdown"
import os, signal, socket, sys
port, pid = int(sys.argv[1]), int(sys.argv[2])
def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=10)
def read_until(s, want, data=b""):
    while want not in data:
        chunk = s.recv(65536)
        assert chunk, "closed early: %r" % data
        data += chunk
    return data
idle, slow = conn(), conn()
idle.sendall(b"GET / HTTP/1.1\r\n\r\n")
read_until(idle, b"Hello, world!")
slow.sendall(b"GET /slow HTTP/1.1\r\n\r\n")
data = read_until(slow, b"Hello, ")      # the request is surely in progress
os.kill(pid, signal.SIGINT)
data = read_until(slow, b"Hello, world!", data)
assert slow.recv(1) == b"", "slow: no EOF after the answer"
assert idle.recv(1) == b"", "idle: no EOF"
print("graceful: slow request finished, connections closed")
PY
else
    got=$(curl -sS --max-time 10 "http://127.0.0.1:$port/")
    [ "$got" = "Hello, world!" ] || fail "curl: got '$got'"
    kill -INT "$pid"
fi
wait "$pid"
st=$?
pid=
[ $st -eq 0 ] || fail "graceful_server: exit status $st after SIGINT, want 0"
grep -q '^stopped by SIGINT: [12] request(s) served, 0 cut short$' "$out" ||
    fail "graceful_server: no 'stopped' line"

# Sharded key-value store on two loops: keys set on some connections are
# read back on others. The keys hash to both loops' shards and SPREAD puts
# the connections on both loops, so requests cross loops both ways.
if command -v python3 >/dev/null; then
    start sharded_kv "$sharded_kv" - --loops 2 --port 0
    python3 - "$port" <<'PY' || fail "sharded_kv"
import socket, sys
def fnv(key):
    h = 2166136261
    for b in key.encode():
        h = ((h ^ b) * 16777619) & 0xffffffff
    return h
keys = ["key%d" % i for i in range(60)]
assert {fnv(k) % 2 for k in keys} == {0, 1}, "all keys on one shard"
conns = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) for _ in range(6)]
files = [c.makefile("rb") for c in conns]
def ask(j, lines):
    conns[j].sendall("".join(l + "\n" for l in lines).encode())
    return [files[j].readline().decode().rstrip("\n") for _ in lines]
for i, k in enumerate(keys):
    assert ask(i % 3, ["SET %s value of %s" % (k, k)]) == ["OK"], k
for j in range(3, 6):
    got = ask(j, ["GET " + k for k in keys])
    assert got == ["VALUE value of " + k for k in keys], got[:3]
got = ask(0, ["GET nope", "BOGUS", "SET x", "GET", "GET a b", "SET e ", "GET e", "SET key1 new\r"])
assert got == ["NOTFOUND", "ERROR", "ERROR", "ERROR", "ERROR", "OK", "VALUE ", "OK"], got
assert ask(5, ["GET key1"]) == ["VALUE new"]
for c in conns:
    c.close()
print("sharded_kv: 60 keys set on three connections, read back on three others")
PY
    stop INT
fi
echo "ok"
