#!/usr/bin/env bash
# Builds ringo in release mode and runs the benchmarks, then prints the table
# of median ns/op against the targets (bench/report.py). A missed target is
# reported, not a failure: the exit status is non-zero only when building or
# running failed. Extra arguments go to the benchmark binary
# (e.g. --benchmark_filter=nop). Does its own set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
PACKAGES=(
    build-essential meson ninja-build pkg-config liburing-dev libssl-dev openssl
    libbenchmark-dev g++ libboost-context-dev
    python3 wrk libuv1-dev nginx
)
need_packages "${PACKAGES[@]}"

B=${RINGO_BENCH_DIR:-build/bench}
# The ringo rows are the default backend (io_uring); the *_epoll rows set
# RINGO_BACKEND=epoll themselves. One exported by the caller would relabel.
unset RINGO_BACKEND
REPS=${RINGO_BENCH_REPS:-5}
build() {   # build DIR [meson options...]
    local dir=$1 how=; shift
    [ -d "$dir" ] && how=--reconfigure
    mkdir -p "$(dirname "$dir")"
    if ! meson setup $how "$dir" --buildtype=release -Dtests=disabled -Dbenchmarks=enabled "$@" \
            > "$dir.setup.log" 2>&1; then
        echo "ringo: configure failed"; tail -20 "$dir.setup.log"; exit 1
    fi
    if ! meson compile -C "$dir" > "$dir.build.log" 2>&1; then
        echo "ringo: build failed"; tail -40 "$dir.build.log"; exit 1
    fi
}
build "$B"
# The same switch without the FP control state (the build option the issue
# allows), so the table shows what saving mxcsr/x87 cw costs.
build "$B-nofpu" -Dfpu_context=false

# The machine may be shared and noisy: several repetitions, interleaved at
# random so drift hits ringo and its baselines alike, and medians. The JSON
# keeps every repetition; the console shows the aggregates.
out=$B/bench_core.json
"$B/bench/bench_core" \
    --benchmark_repetitions="$REPS" \
    --benchmark_enable_random_interleaving=true \
    --benchmark_display_aggregates_only=true \
    --benchmark_out="$out" --benchmark_out_format=json \
    "$@"
out_nofpu=$B/bench_core_nofpu.json
"$B-nofpu/bench/bench_core" \
    --benchmark_filter='BM_switch' \
    --benchmark_repetitions="$REPS" \
    --benchmark_enable_random_interleaving=true \
    --benchmark_display_aggregates_only=true \
    --benchmark_out="$out_nofpu" --benchmark_out_format=json >/dev/null
# Lock, Queue, Event, to_thread, gather (a binary of its own), then asyncio
# doing the same Queue handoff and gather, the baselines of those rows. A
# filter matching nothing there writes no JSON: stale files are removed first
# and only the files written go to the report.
out_sync=$B/bench_sync.json
out_asyncio=$B/bench_asyncio.json
rm -f "$out_sync" "$out_asyncio"
"$B/bench/bench_sync" \
    --benchmark_repetitions="$REPS" \
    --benchmark_enable_random_interleaving=true \
    --benchmark_display_aggregates_only=true \
    --benchmark_out="$out_sync" --benchmark_out_format=json \
    "$@"
if [ -s "$out_sync" ] && command -v python3 >/dev/null; then
    python3 bench/bench_asyncio.py --out "$out_asyncio"
fi
# Many loops (a binary of its own): spawn_on round trips beside a condvar
# ping-pong, a channel between two loops beside a mutex+condvar queue,
# call_soon_threadsafe from a foreign thread, 1 loop against 2 (and plain
# threads, what the machine allows); each baseline in the same run.
out_loops=$B/bench_loops.json
rm -f "$out_loops"
"$B/bench/bench_loops" \
    --benchmark_repetitions="$REPS" \
    --benchmark_enable_random_interleaving=true \
    --benchmark_display_aggregates_only=true \
    --benchmark_out="$out_loops" --benchmark_out_format=json \
    "$@"
# Subprocesses: spawn + wait of `true`, ringo, then asyncio's
# create_subprocess_exec doing the same (bench/bench_process.py).
out_proc=$B/bench_process.json
out_proc_asyncio=$B/bench_process_asyncio.json
rm -f "$out_proc" "$out_proc_asyncio"
"$B/bench/bench_process" \
    --benchmark_repetitions="$REPS" \
    --benchmark_enable_random_interleaving=true \
    --benchmark_display_aggregates_only=true \
    --benchmark_out="$out_proc" --benchmark_out_format=json \
    "$@"
if [ -s "$out_proc" ] && command -v python3 >/dev/null; then
    python3 bench/bench_process.py --runs "$REPS" --out "$out_proc_asyncio"
fi
# Files: 4 KiB random reads (64 tasks on ringo_read against a pread loop)
# from a page-cached 256 MiB file, made once in the build dir and kept.
out_file=$B/bench_file.json
out_file_epoll=$B/bench_file_epoll.json
out_file_uv=$B/bench_file_uv.json
out_cp=$B/bench_cp.json
rm -f "$out_file" "$out_file_epoll" "$out_file_uv" "$out_cp"
RINGO_BENCH_FILE="$B/bench_file.dat" "$B/bench/bench_file" \
    --benchmark_repetitions="$REPS" \
    --benchmark_enable_random_interleaving=true \
    --benchmark_display_aggregates_only=true \
    --benchmark_out="$out_file" --benchmark_out_format=json \
    "$@"
# The same reads on the epoll backend (preadv2 RWF_NOWAIT, the worker pool
# on a miss): ringo's rows only, renamed .../ringo_epoll/N (a filter given to
# this script replaces ours; whatever else it runs is dropped).
RINGO_BACKEND=epoll RINGO_BENCH_FILE="$B/bench_file.dat" "$B/bench/bench_file" \
    --benchmark_filter='^BM_file_read_4k_random/ringo/' \
    --benchmark_repetitions="$REPS" \
    --benchmark_enable_random_interleaving=true \
    --benchmark_display_aggregates_only=true \
    --benchmark_out="$out_file_epoll" --benchmark_out_format=json \
    "$@" || { echo "ringo: bench_file on the epoll backend failed"; rm -f "$out_file_epoll"; }
if [ -s "$out_file_epoll" ]; then
    python3 - "$out_file_epoll" <<'EOF'
import json, sys
path, ringo = sys.argv[1], "BM_file_read_4k_random/ringo/"
with open(path) as f:
    doc = json.load(f)
rows = []
for b in doc.get("benchmarks", []):
    if not b.get("run_name", b["name"]).startswith(ringo):
        continue
    for k in ("name", "run_name"):
        if isinstance(b.get(k), str):
            b[k] = b[k].replace(ringo, "BM_file_read_4k_random/ringo_epoll/", 1)
    rows.append(b)
doc["benchmarks"] = rows
with open(path, "w") as f:
    json.dump(doc, f, indent=1)
EOF
fi
# And libuv's way (bench/uv_file.c, built when libuv is found): 64 (and 1)
# uv_fs_read in flight on its thread pool, from the same file and offsets.
if [ -s "$out_file" ] && [ -x "$B/bench/uv_file" ]; then
    RINGO_BENCH_FILE="$B/bench_file.dat" "$B/bench/uv_file" read "$out_file_uv" "$REPS" ||
        { echo "ringo: uv_file read failed"; rm -f "$out_file_uv"; }
fi
# A 1 GiB copy: examples/cp (on io_uring, and on the epoll backend) against
# coreutils cp (copy_file_range: an in-kernel copy), cp --reflink=never
# (read/write, 128 KiB), dd bs=1M and, when built, libuv's thread pool
# (bench/uv_file.c cp: 8 x 64 KiB uv_fs_read/uv_fs_write in flight, as
# examples/cp), from a page-cached source, each 3 times in shuffled order
# with the last copy's writeback flushed first; wall and CPU (children's
# rusage) to report.py's JSON. Skipped when a benchmark filter was given.
if [ $# -eq 0 ]; then
    python3 - "$B/examples/cp" "$out_cp" "$B" <<'EOF' || echo "ringo: the copy benchmark failed"
import json, os, random, subprocess, sys, time
ringo_cp, out, d = sys.argv[1:4]
uv_file = os.path.join(d, "bench", "uv_file")
size, reps = 1 << 30, 3
src, dst = os.path.join(d, "copy-bench.src"), os.path.join(d, "copy-bench.dst")
tools = {"ringo_cp": [ringo_cp, src, dst], "ringo_cp_epoll": [ringo_cp, src, dst],
         "cp": ["cp", src, dst], "cp_reflink_never": ["cp", "--reflink=never", src, dst],
         "dd_bs1M": ["dd", "if=" + src, "of=" + dst, "bs=1M", "status=none"]}
if os.access(uv_file, os.X_OK):
    tools["libuv_cp"] = [uv_file, "cp", src, dst]
env = {name: dict(os.environ) for name in tools}
env["ringo_cp_epoll"]["RINGO_BACKEND"] = "epoll"
ours = ("ringo_cp", "ringo_cp_epoll", "libuv_cp")   # their first copy is compared
rows = []
def rm(p):
    try: os.unlink(p)
    except FileNotFoundError: pass
try:
    block = os.urandom(1 << 24)
    with open(src, "wb") as f:
        for _ in range(size // len(block)): f.write(block)
    os.sync()
    with open(src, "rb") as f:
        while f.read(1 << 24): pass
    for rep in range(reps):
        order = list(tools); random.shuffle(order)
        for name in order:
            rm(dst); os.sync()
            t0 = time.perf_counter()
            p = subprocess.Popen(tools[name], env=env[name])
            _, status, ru = os.wait4(p.pid, 0)
            real = time.perf_counter() - t0
            ok = status == 0 and os.path.getsize(dst) == size
            if ok and rep == 0 and name in ours:
                ok = subprocess.run(["cmp", "-s", src, dst]).returncode == 0
            r = {"name": "BM_copy_1GiB/" + name, "run_name": "BM_copy_1GiB/" + name,
                 "run_type": "iteration", "real_time": real * 1e9,
                 "cpu_time": (ru.ru_utime + ru.ru_stime) * 1e9, "time_unit": "ns",
                 "ops_per_iter": 1}
            if not ok:
                r.update(error_occurred=True, error_message="copy failed or differs")
            rows.append(r)
finally:
    rm(src); rm(dst)
with open(out, "w") as f:
    json.dump({"benchmarks": rows}, f)
EOF
fi
# Timers at scale (bench/timers.c): 1 M timers armed, cancelled and fired
# through the loop's heap beside a plain binary heap of pointers.
out_timers=$B/bench_timers.json
rm -f "$out_timers"
if [ $# -eq 0 ]; then
    "$B/bench/timers" "$out_timers" "$REPS" || { echo "ringo: the timer benchmark failed"; rm -f "$out_timers"; }
fi
# A million tasks alive at once, each sleeping a random 0-1 s (bench/tasks_1m.c).
out_tasks=$B/bench_tasks_1m.json
rm -f "$out_tasks"
if [ $# -eq 0 ]; then
    "$B/bench/tasks_1m" "$out_tasks" || { echo "ringo: the 1 M task benchmark failed"; rm -f "$out_tasks"; }
fi
# Network: ringo's http_hello (on io_uring, and on the epoll backend) beside
# the epoll (and libuv) server and nginx with one worker (return 200) under
# wrk, each server pinned to its own CPU, 5 interleaved rounds (3 left the
# medians of this noisy host 5-10% apart from run to run); then RSS per idle
# connection. Skipped when a benchmark filter was given (a focused run).
net_out=$B/net.json
rss_out=$B/idle_rss.json
net_loops_out=$B/net_loops.json
tls_out=$B/net_tls.json
tls_bulk_out=$B/tls_bulk.json
rm -f "$net_out" "$rss_out" "$net_loops_out" "$tls_out" "$tls_bulk_out"
have_nginx=
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || [ -x /usr/local/sbin/nginx ]; then
    have_nginx=1
fi
if [ $# -eq 0 ]; then
    servers=(epoll="$B/bench/net/epoll_http")
    [ -x "$B/bench/net/uv_http" ] && servers+=(uv="$B/bench/net/uv_http")
    servers+=(ringo="$B/examples/http_hello")
    servers+=(ringo_epoll="env RINGO_BACKEND=epoll $B/examples/http_hello")
    [ -n "$have_nginx" ] && servers+=(nginx_w1=nginx:1)
    python3 bench/net/http_bench.py --build-dir "$B" --duration "${RINGO_NET_DURATION:-5s}" \
        --repeat "${RINGO_NET_REPEAT:-5}" --json "$net_out" --servers "${servers[@]}" ||
        echo "ringo: the network benchmark had failures (see its table)"
    "$B/bench/net/idle_rss" 10000 "$rss_out" || echo "ringo: idle_rss failed"
    # Many loops over HTTP: http_hello --loops 2 beside --loops 1 and nginx
    # with 2 workers, every server on the first two CPUs and wrk free to run
    # on either (a 2-CPU machine has no third one for it): server CPU per
    # request is the figure; req/s is what the CPUs left over by wrk allow.
    cpus2=$(python3 -c 'import os; print(",".join(map(str, sorted(os.sched_getaffinity(0))[:2])))')
    python3 bench/net/http_bench.py --build-dir "$B" --prefix net2cpu \
        --scenarios c100,c100_pipe16 --server-cpu "$cpus2" --client-cpu none \
        --duration "${RINGO_NET_LOOPS_DURATION:-2s}" --repeat "${RINGO_NET_LOOPS_REPEAT:-3}" \
        --json "$net_loops_out" --servers \
        ringo_loops1="$B/examples/http_hello --loops 1" \
        ringo_loops2="$B/examples/http_hello --loops 2" \
        ringo_epoll_loops2="env RINGO_BACKEND=epoll $B/examples/http_hello --loops 2" \
        nginx_w2=nginx:2 ||
        echo "ringo: the many-loops network benchmark had failures (see its table)"
    # HTTPS (a TLS build, with the openssl command): https_hello (io_uring and
    # epoll) beside nginx, 1 worker, TLS 1.3, no session tickets or cache, a
    # throwaway ECDSA P-256 certificate made at run time: wrk -c100 over
    # https (server CPU per request) and full handshakes with 2 `openssl
    # s_time -new` clients (server CPU per handshake); then 1 GiB through one
    # TLS stream (bench/tls_bulk.c) against openssl speed + a plain stream.
    if [ -x "$B/examples/https_hello" ] && command -v openssl >/dev/null; then
        tls_servers=()
        [ -n "$have_nginx" ] && tls_servers+=(nginx_w1=nginx:1)
        tls_servers+=(https_hello="$B/examples/https_hello --cert {cert} --key {key}")
        tls_servers+=(https_hello_epoll="env RINGO_BACKEND=epoll $B/examples/https_hello --cert {cert} --key {key}")
        # nginx runs with session tickets off; https_hello's context keeps
        # OpenSSL's default (2 tickets per handshake), so this one turns them
        # off through OPENSSL_CONF, the same configuration as nginx's
        tls_servers+=(https_hello_notickets="env OPENSSL_CONF={notickets_conf} $B/examples/https_hello --cert {cert} --key {key}")
        python3 bench/net/http_bench.py --build-dir "$B" --tls --prefix tls \
            --scenarios c100,handshake --duration "${RINGO_NET_DURATION:-5s}" \
            --repeat "${RINGO_NET_REPEAT:-5}" --json "$tls_out" --servers "${tls_servers[@]}" ||
            echo "ringo: the HTTPS benchmark had failures (see its table)"
        if [ -x "$B/bench/tls_bulk" ]; then
            python3 bench/tls_bulk.py --bin "$B/bench/tls_bulk" --reps "$REPS" \
                --json "$tls_bulk_out" || echo "ringo: the TLS bulk benchmark had failures"
        else
            echo "ringo: no $B/bench/tls_bulk: TLS bulk rows skipped"
        fi
    else
        echo "ringo: no TLS build or no openssl command: HTTPS and TLS bulk rows skipped"
    fi
fi
# UDP echo: examples/udp_echo (plain, --batch 32, on epoll, --gro) beside
# bench/net/udp_epoll (recvmmsg/sendmmsg 32, --gro) under bench/net/udp_load,
# server and client pinned to a CPU each, interleaved rounds, 64 and 1200 B:
# server CPU per datagram. Rows of servers not built are skipped.
udp_out=$B/udp.json
rm -f "$udp_out"
if [ $# -eq 0 ]; then
    python3 bench/net/udp_bench.py --build-dir "$B" --rounds "$REPS" \
        --duration "${RINGO_UDP_DURATION:-3}" --json "$udp_out" ||
        echo "ringo: the UDP benchmark had failures (see its table)"
fi
# Zero-copy stream sends: 64 KiB writes over loopback TCP with and without
# RINGO_CFG_SEND_ZC (bench/stream_write.py over tls_bulk's plain mode),
# interleaved, CPU per byte and the ratio.
sw_out=$B/stream_write.json
rm -f "$sw_out"
if [ $# -eq 0 ] && [ -x "$B/bench/tls_bulk" ]; then
    python3 bench/stream_write.py --bin "$B/bench/tls_bulk" --reps "$REPS" --json "$sw_out" ||
        echo "ringo: the stream write benchmark had failures"
fi
# Static files: file_server (examples/file_server.c, ringo_stream_sendfile)
# serving a page-cached 1 MiB file to wrk beside nginx with one worker and
# `sendfile on`, on both backends; server CPU per request.
file_out=$B/file_server.json
rm -f "$file_out"
if [ $# -eq 0 ] && [ -x "$B/examples/file_server" ]; then
    fs="$B/examples/file_server --port {port} --host {host} {dir}"
    file_servers=()
    if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then file_servers+=(nginx_w1=nginx:1); fi
    file_servers+=(ringo="$fs" ringo_epoll="env RINGO_BACKEND=epoll $fs")
    python3 bench/net/file_bench.py --duration "${RINGO_FILE_DURATION:-3s}" \
        --repeat "${RINGO_FILE_REPEAT:-7}" --json "$file_out" --servers "${file_servers[@]}" ||
        echo "ringo: the file_server benchmark had failures (see its table)"
fi
echo
results=()
for f in "$out" "$out_nofpu" "$out_sync" "$out_asyncio" "$out_loops" "$net_out" "$net_loops_out" \
         "$tls_out" "$tls_bulk_out" "$rss_out" "$out_file" "$out_file_epoll" "$out_file_uv" \
         "$out_cp" "$out_proc" "$out_proc_asyncio" "$out_timers" "$out_tasks" "$sw_out" "$udp_out" "$file_out"; do
    if [ -s "$f" ]; then results+=("$f"); fi
done
python3 bench/report.py "${results[@]}"
