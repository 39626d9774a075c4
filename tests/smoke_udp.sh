#!/bin/sh
# Smoke test of examples/udp_echo: the server on a free port (port 0, read
# back from its "listening on" line) on two loops, then with batches and
# GRO, each echoing 10 000 datagrams to udp_echo's client (and, with
# batches, 2000 of 1200 bytes and 1000 too small to carry a number), then a
# Python asyncio datagram client whose echoes are checked byte for byte.
# Each server must exit 0 on SIGTERM or SIGINT. Bad usage exits 2.
# usage: smoke_udp.sh UDP_ECHO
set -u
bin=$1
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
out=/dev/null
fail() { echo "FAIL: $*"; [ -f "$out" ] && sed 's/^/  server: /' "$out"; exit 1; }
. "$(dirname "$0")/smoke_lib.sh"

n=0
start() {
    n=$((n + 1))
    out=$dir/server.$n
    "$bin" server "$@" >"$out" 2>&1 &
    pid=$!
    wait_listening "$out" "$pid" "server $*" '^udp_echo: listening on ' \
        's/^udp_echo: listening on 127\.0\.0\.1 port \([0-9]*\)$/\1/p'
    echo "udp_echo server $* listening on port $port"
}


# client COUNT [ARG...]: all COUNT echoed, said so, exit 0.
client() {
    count=$1
    shift
    got=$("$bin" client --host 127.0.0.1 --port "$port" --count "$count" "$@") ||
        fail "client $* exited $?: $got"
    [ "$got" = "udp_echo: echoed $count/$count" ] || fail "client $*: $got"
    echo "  client --count $count $*: $got"
}

start --loops 2
client 10000
client 10000 --inflight 128 --size 8
stop TERM

start --batch 32 --gro
client 10000
client 2000 --size 1200 --inflight 64
client 1000 --size 3
python3 - "$port" <<'PY' || fail "asyncio client"
import asyncio, sys

class Client(asyncio.DatagramProtocol):
    def __init__(self):
        self.want, self.done = set(), None
    def datagram_received(self, data, addr):
        self.want.discard(data)
        if not self.want and self.done and not self.done.done():
            self.done.set_result(True)

async def main(port):
    loop = asyncio.get_running_loop()
    sent = [bytes([i % 256]) * (i * 37 % 1500 + 1) + str(i).encode() for i in range(300)]
    c = Client()
    tr, _ = await loop.create_datagram_endpoint(lambda: c, remote_addr=("127.0.0.1", port))
    # Ten at a time, so the client's small receive buffer keeps up; what UDP
    # drops is sent again, twice at most.
    for at in range(0, len(sent), 10):
        c.want, c.done = set(sent[at:at + 10]), loop.create_future()
        for _ in range(3):
            for d in list(c.want):
                tr.sendto(d)
            try:
                await asyncio.wait_for(asyncio.shield(c.done), 2)
                break
            except asyncio.TimeoutError:
                pass
        if c.want:
            sys.exit(f"asyncio: {len(c.want)} of datagrams {at}..{at + 9} never came back")
    tr.close()
    print("  asyncio client: 300 datagrams echoed")

asyncio.run(main(int(sys.argv[1])))
PY
stop INT

"$bin" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no arguments: want exit 2"
"$bin" client --host 127.0.0.1 >/dev/null 2>&1; [ $? -eq 2 ] || fail "client without port: want 2"
"$bin" server --loops x >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad --loops: want 2"
echo "udp_echo smoke test passed"
