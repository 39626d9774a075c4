#!/usr/bin/env python3
"""bench/report.py: the benchmark table: median ns/op, targets, PASS/MISS.

usage: report.py [--strict] RESULTS.json [MORE.json ...]

Reads google-benchmark JSON (--benchmark_out_format=json), with every
repetition (preferred: the median is taken over the per-repetition ns/op) or
only the aggregates (the "median" rows are used). Other producers (an epoll
loop, an asyncio script) may write the same shape: {"benchmarks": [{"name",
"run_name", "run_type": "iteration", "real_time", "cpu_time", "time_unit",
"ops_per_iter"}]}; several files are merged.

ns/op = time per iteration / ops_per_iter (a counter every benchmark sets;
1 when absent). Targets are judged on the real-time median unless the row
says otherwise. A MISS is reported, not an error: the exit status is 0
whenever results were read (with --strict, 3 when a target is missed).

To add a row, append a Row to ROWS. Benchmarks with no row are printed after
the listed ones, without a target.
"""
import json
import statistics
import sys
from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass
class Row:
    name: str                          # google-benchmark run_name
    label: str                         # what it measures, for the table
    max_ns: Optional[float] = None     # target: ns/op at most this
    baseline: Optional[str] = None     # run_name of the baseline, for a ratio
    max_ratio: Optional[float] = None  # target: ns/op / baseline's at most this
    metric: str = "real"               # "real" or "cpu": what the target judges
    # target computed from another run: ns/op at most k * median(name) + c,
    # as (name, k, c), e.g. ("BM_switch_oneway/ringo", 2, 20)
    max_ns_of: Optional[Tuple[str, float, float]] = None
    # the ratio read as a speedup ("63.2x faster than asyncio"): baseline /
    # ns/op; min_speedup (target) implies it
    speedup: bool = False
    min_speedup: Optional[float] = None
    vs: Optional[str] = None           # the baseline's name in the text (default:
                                       # its last '/' part)


FR, PT = "BM_file_read_4k_random/", "/process_time/real_time"   # bench_file.cc's names
UV = FR + "libuv_threadpool/64" + PT                               # bench/uv_file.c's
SO, PP = "BM_loops_spawn_on/", "BM_loops_pingpong/condvar" + PT  # bench_loops.cc's
SC = "BM_loops_scaling/"

ROWS = [
    Row("BM_switch_oneway/ringo", "one-way switch, same call path (as tasks switch), ringo",
        baseline="BM_switch_oneway/fcontext", max_ratio=0.6),
    Row("BM_switch_oneway/ringo_nofpu", "  the same, ringo built -Dfpu_context=false",
        baseline="BM_switch_oneway/fcontext", max_ratio=0.6),
    Row("BM_switch_oneway/fcontext", "  the same, boost jump_fcontext"),
    Row("BM_switch_two_paths/ringo", "one-way switch, two call paths (harness shape), ringo",
        baseline="BM_switch_two_paths/fcontext", max_ratio=0.6),
    Row("BM_switch_two_paths/ringo_nofpu", "  the same, ringo built -Dfpu_context=false",
        baseline="BM_switch_two_paths/fcontext", max_ratio=0.6),
    Row("BM_switch_two_paths/fcontext", "  the same, boost jump_fcontext"),
    Row("BM_spawn_await", "spawn + await an empty task", max_ns=50),
    Row("BM_yield_roundtrip", "yield round trip A->B->A"),
    Row("BM_nop/1", "NOP ring round trip, 1 in flight"),
    Row("BM_nop/32", "NOP ring round trip, 32 in flight", max_ns=150),
    # bench_sync.cc, with bench_asyncio.py for the asyncio baselines
    Row("BM_lock_uncontended", "Lock acquire + release, no other task"),
    Row("BM_lock_handoff", "Lock handed between two tasks, per handoff",
        max_ns_of=("BM_switch_oneway/ringo", 2, 20)),
    Row("BM_queue_handoff", "Queue(maxsize=1) producer -> consumer, per item",
        baseline="asyncio/queue_handoff", vs="asyncio", min_speedup=50),
    Row("asyncio/queue_handoff", "the same in asyncio (bench_asyncio.py)"),
    Row("BM_event_wake_1000", "Event set waking 1000 waiting tasks, per full wake"),
    Row("BM_to_thread/1/process_time/real_time", "to_thread round trip, 1 caller (loop and worker spin)",
        baseline=PP, vs="condvar ping-pong", max_ratio=0.3),
    Row("BM_to_thread/1/process_time/real_time", "  the same, CPU per round trip (process: the spins included)",
        baseline=PP, vs="condvar ping-pong", metric="cpu"),
    Row("BM_to_thread/32/process_time/real_time",
        "to_thread round trip, 32 in flight, per call (cpu: process)", max_ns=1000),
    Row("BM_gather_sleeps_10000/process_time/real_time",
        "gather 10000 tasks sleeping 1 ms, per task (cpu: process)",
        baseline="asyncio/gather_sleeps_10000", vs="asyncio", min_speedup=25, metric="cpu"),
    Row("asyncio/gather_sleeps_10000", "the same in asyncio (bench_asyncio.py)"),
    # bench_loops.cc: two loops (or threads) on the first two CPUs, each
    # baseline in the same binary and run; cpu = the process's (both threads,
    # spinning included)
    Row(SO + "msg_ring" + PT, "spawn_on + await on another loop, round trip (MSG_RING, idle spin)",
        baseline=PP, vs="condvar ping-pong", max_ratio=0.5),
    Row(SO + "msg_ring" + PT, "  the same, CPU per round trip (both threads)",
        baseline=PP, vs="condvar ping-pong", metric="cpu"),
    Row(SO + "eventfd" + PT, "  the same, eventfd wake-ups (RINGO_NO_MSG_RING=1)",
        baseline=PP, vs="condvar ping-pong", max_ratio=0.5),
    Row(SO + "msg_ring_nospin" + PT, "  the same, MSG_RING, idle_spin_ns < 0: every wait sleeps",
        baseline=PP, vs="condvar ping-pong"),
    Row(SO + "msg_ring_nospin" + PT, "  the same, CPU per round trip",
        baseline=PP, vs="condvar ping-pong", metric="cpu"),
    Row(SO + "eventfd_nospin" + PT, "  the same, eventfd, idle_spin_ns < 0",
        baseline=PP, vs="condvar ping-pong"),
    Row(PP, "  pthread mutex+condvar ping-pong, 2 pinned threads, round trip"),
    Row("BM_loops_chan/ringo" + PT, "ringo_chan loop 0 -> loop 1, capacity 1024, per item",
        max_ns=200, baseline="BM_loops_chan/condvar" + PT, vs="mutex+condvar queue",
        min_speedup=2),
    Row("BM_loops_chan/ringo" + PT, "  the same, CPU per item (both threads)",
        baseline="BM_loops_chan/condvar" + PT, vs="mutex+condvar queue", metric="cpu"),
    Row("BM_loops_chan/condvar" + PT, "  bounded (1024) mutex+condvar queue, 2 pinned threads"),
    Row("BM_loops_call_soon_threadsafe" + PT,
        "call_soon_threadsafe from a foreign thread, per call run (sustained)", max_ns=500),
    Row(SC + "ringo/2" + PT, "2 loops, spawn+await and yields, no cross-loop traffic, per op",
        baseline=SC + "ringo/1" + PT, vs="1 loop", min_speedup=1.9),
    # 1.9x the throughput on two CPUs of its own = at most 2/1.9 the CPU per
    # op: the same target, immune to a host that lends us less than 2 CPUs
    Row(SC + "ringo/2" + PT, "  the same, CPU per op (1.9x on 2 free CPUs = <= 1.05x CPU/op)",
        baseline=SC + "ringo/1" + PT, vs="1 loop", max_ratio=round(2 / 1.9, 3), metric="cpu"),
    Row(SC + "ringo/1" + PT, "  the same, 1 loop"),
    Row(SC + "threads/2" + PT, "  plain CPU-bound steps, 2 pinned threads: what this machine allows",
        baseline=SC + "threads/1" + PT, vs="1 thread", speedup=True),
    Row(SC + "threads/1" + PT, "  the same, 1 thread"),
    # bench_process.cc, with bench_process.py for the asyncio baselines
    Row("BM_process_spawn_wait", "spawn `true` + wait, one at a time, per process",
        baseline="asyncio/process_spawn_wait", vs="asyncio", speedup=True),
    Row("BM_process_spawn_wait", "  the same, CPU of the parent process (not the child's)",
        baseline="asyncio/process_spawn_wait", vs="asyncio", speedup=True, metric="cpu"),
    Row("asyncio/process_spawn_wait", "  the same, asyncio create_subprocess_exec"),
    Row("BM_process_spawn_wait_16", "spawn `true` + wait, 16 in flight, per process",
        baseline="asyncio/process_spawn_wait_16", vs="asyncio", speedup=True),
    Row("asyncio/process_spawn_wait_16", "  the same, asyncio create_subprocess_exec"),
    Row("net/c100/ringo", "HTTP, 100 conns, server CPU per request: ringo (http_hello)",
        baseline="net/c100/epoll", max_ratio=0.85, metric="cpu"),
    Row("net/c100/ringo_epoll", "  the same, ringo on the epoll backend (RINGO_BACKEND=epoll)",
        baseline="net/c100/epoll", max_ratio=1.1, metric="cpu"),
    Row("net/c100/epoll", "  the same, epoll baseline (bench/net/epoll_http.c)", metric="cpu"),
    Row("net/c100/uv", "  the same, libuv", baseline="net/c100/epoll", metric="cpu"),
    # nginx, one worker (return 200), in the same run and rounds as the above
    Row("net/c100/ringo", "  http_hello against nginx, 1 worker, side by side",
        baseline="net/c100/nginx_w1", vs="nginx", max_ratio=0.8, metric="cpu"),
    Row("net/c100/nginx_w1", "  the same, nginx, 1 worker (return 200)",
        baseline="net/c100/epoll", metric="cpu"),
    Row("net/c100_pipe16/ringo", "HTTP, 100 conns x16 pipelined, server CPU/request: ringo",
        baseline="net/c100_pipe16/epoll", max_ratio=0.9, metric="cpu"),
    Row("net/c100_pipe16/ringo_epoll", "  the same, ringo on the epoll backend",
        baseline="net/c100_pipe16/epoll", max_ratio=1.1, metric="cpu"),
    Row("net/c100_pipe16/epoll", "  the same, epoll", metric="cpu"),
    Row("net/c100_pipe16/uv", "  the same, libuv", baseline="net/c100_pipe16/epoll", metric="cpu"),
    Row("net/c100_pipe16/ringo", "  http_hello against nginx, 1 worker",
        baseline="net/c100_pipe16/nginx_w1", vs="nginx", metric="cpu"),
    Row("net/c100_pipe16/nginx_w1", "  the same, nginx, 1 worker",
        baseline="net/c100_pipe16/epoll", metric="cpu"),
    Row("net/c1_pingpong_p50/ringo", "HTTP, 1 conn ping-pong, median latency: ringo",
        baseline="net/c1_pingpong_p50/epoll", max_ratio=1.1),
    Row("net/c1_pingpong_p50/ringo_epoll", "  the same, ringo on the epoll backend",
        baseline="net/c1_pingpong_p50/epoll"),
    Row("net/c1_pingpong_p50/epoll", "  the same, epoll"),
    Row("net/c1_pingpong_p50/uv", "  the same, libuv", baseline="net/c1_pingpong_p50/epoll"),
    Row("net/c1_pingpong_p50/nginx_w1", "  the same, nginx, 1 worker",
        baseline="net/c1_pingpong_p50/epoll"),
    # scripts/bench.sh's https run (http_bench.py --tls): TLS 1.3, ECDSA P-256
    # certificate, nginx with session tickets and cache off; server on CPU 1,
    # wrk (or the handshake clients) on CPU 0
    Row("tls/c100/https_hello", "HTTPS keep-alive, 100 conns, server CPU per request: https_hello",
        baseline="tls/c100/nginx_w1", vs="nginx", max_ratio=0.8, metric="cpu"),
    Row("tls/c100/https_hello_epoll", "  the same, https_hello on the epoll backend",
        baseline="tls/c100/nginx_w1", vs="nginx", metric="cpu"),
    Row("tls/c100/https_hello_notickets", "  the same, session tickets off as nginx's (OPENSSL_CONF)",
        baseline="tls/c100/nginx_w1", vs="nginx", metric="cpu"),
    Row("tls/c100/nginx_w1", "  the same, nginx, 1 worker (ssl, return 200)", metric="cpu"),
    # cpu = server CPU per full handshake: 1e9 / it = handshakes/s per core,
    # so "faster" below is handshakes per core-second
    Row("tls/handshake/https_hello",
        "full TLS 1.3 handshakes (openssl s_time -new), per core: https_hello",
        baseline="tls/handshake/nginx_w1", vs="nginx", min_speedup=1.0, metric="cpu"),
    Row("tls/handshake/https_hello_epoll", "  the same, https_hello on the epoll backend",
        baseline="tls/handshake/nginx_w1", vs="nginx", speedup=True, metric="cpu"),
    Row("tls/handshake/https_hello_notickets",
        "  the same, session tickets off as nginx's (OPENSSL_CONF: NumTickets = 0)",
        baseline="tls/handshake/nginx_w1", vs="nginx", speedup=True, metric="cpu"),
    Row("tls/handshake/nginx_w1", "  the same, nginx, 1 worker: server CPU ns per handshake",
        metric="cpu"),
    # bench/tls_bulk.py: per KiB; both ends in one process, so the base is
    # openssl speed's encrypt + decrypt of the agreed cipher (the report's
    # tls_bulk_cipher line says which) + the plain stream's own cost
    Row("BM_tls_bulk_1GiB/tls", "1 GiB through one TLS stream, one loop: CPU ns per KiB",
        baseline="BM_tls_bulk_1GiB/speed+plain", vs="openssl speed + plain", max_ratio=1.1,
        metric="cpu"),
    Row("BM_tls_bulk_1GiB/plain", "  the same over a plain stream (real: wall)", metric="cpu"),
    Row("BM_tls_bulk_1GiB/speed+plain",
        "  openssl speed -evp aes-256-gcm enc + dec, 16 KiB blocks, + plain's", metric="cpu"),
    Row("BM_tls_bulk_1GiB/speed_enc", "  openssl speed -evp, encrypt", metric="cpu"),
    Row("BM_tls_bulk_1GiB/speed_dec", "  openssl speed -evp -decrypt", metric="cpu"),
    # bench/net/udp_bench.py: server CPU ns per datagram echoed (real: wall
    # ns per datagram); ringo_best is ringo's non-GRO row with the lowest
    # median (which one: the row's best_of field)
    Row("udp/64B/ringo_best", "UDP echo 64 B, server CPU per datagram: ringo's best non-GRO row",
        baseline="udp/64B/udp_epoll", vs="udp_epoll", max_ratio=0.9, metric="cpu"),
    Row("udp/64B/ringo", "  the same, examples/udp_echo server", baseline="udp/64B/udp_epoll",
        vs="udp_epoll", metric="cpu"),
    Row("udp/64B/ringo_batch", "  the same, udp_echo server --batch 32",
        baseline="udp/64B/udp_epoll", vs="udp_epoll", metric="cpu"),
    Row("udp/64B/ringo_epoll", "  the same, --batch 32 on the epoll backend",
        baseline="udp/64B/udp_epoll", vs="udp_epoll", metric="cpu"),
    Row("udp/64B/udp_epoll", "  the same, epoll recvmmsg/sendmmsg 32 (bench/net/udp_epoll.c)",
        metric="cpu"),
    Row("udp/64B/udp_epoll_gro", "  GSO/GRO: udp_epoll --gro, client sends UDP_SEGMENT trains",
        baseline="udp/64B/udp_epoll", vs="udp_epoll", speedup=True, metric="cpu"),
    Row("udp/64B/ringo_batch_gro", "  GSO/GRO: udp_echo server --batch 32 --gro",
        baseline="udp/64B/ringo_batch", vs="ringo_batch", speedup=True, metric="cpu"),
    Row("udp/1200B/ringo_best", "UDP echo 1200 B, server CPU per datagram: ringo's best non-GRO row",
        baseline="udp/1200B/udp_epoll", vs="udp_epoll", max_ratio=0.9, metric="cpu"),
    Row("udp/1200B/ringo", "  the same, examples/udp_echo server", baseline="udp/1200B/udp_epoll",
        vs="udp_epoll", metric="cpu"),
    Row("udp/1200B/ringo_batch", "  the same, udp_echo server --batch 32",
        baseline="udp/1200B/udp_epoll", vs="udp_epoll", metric="cpu"),
    Row("udp/1200B/ringo_epoll", "  the same, --batch 32 on the epoll backend",
        baseline="udp/1200B/udp_epoll", vs="udp_epoll", metric="cpu"),
    Row("udp/1200B/udp_epoll", "  the same, epoll recvmmsg/sendmmsg 32 (bench/net/udp_epoll.c)",
        metric="cpu"),
    Row("udp/1200B/udp_epoll_gro", "  GSO/GRO: udp_epoll --gro, client sends UDP_SEGMENT trains",
        baseline="udp/1200B/udp_epoll", vs="udp_epoll", speedup=True, metric="cpu"),
    Row("udp/1200B/ringo_batch_gro", "  GSO/GRO: udp_echo server --batch 32 --gro",
        baseline="udp/1200B/ringo_batch", vs="ringo_batch", speedup=True, metric="cpu"),
    # bench/stream_write.py: tls_bulk's plain mode with and without --zc, per
    # KiB, both ends in one process pinned to one CPU. No target: loopback
    # copies a zero-copy send's pages anyway; the ratio is why it is off by default
    Row("BM_stream_write_64KiB/send_zc",
        "64 KiB stream writes, loopback TCP, RINGO_CFG_SEND_ZC: CPU ns per KiB",
        baseline="BM_stream_write_64KiB/copy", vs="copy", metric="cpu"),
    Row("BM_stream_write_64KiB/copy", "  the same, plain sends (the default)", metric="cpu"),
    # scripts/bench.sh's second http_bench.py run: every server on the first
    # two CPUs, wrk on either; real = wall ns per request (1e9 / req/s)
    Row("net2cpu/c100/ringo_loops2", "HTTP on 2 CPUs shared with wrk, 100 conns: --loops 2, req/s",
        baseline="net2cpu/c100/ringo_loops1", vs="--loops 1", speedup=True),
    Row("net2cpu/c100/ringo_loops2", "  the same, server CPU per request",
        baseline="net2cpu/c100/nginx_w2", vs="nginx", metric="cpu"),
    Row("net2cpu/c100/ringo_loops1", "  http_hello --loops 1, server CPU per request",
        baseline="net2cpu/c100/nginx_w2", vs="nginx", metric="cpu"),
    Row("net2cpu/c100/ringo_epoll_loops2", "  --loops 2 on the epoll backend, req/s",
        baseline="net2cpu/c100/ringo_loops2", vs="io_uring --loops 2", speedup=True),
    Row("net2cpu/c100/ringo_epoll_loops2", "  the same, server CPU per request",
        baseline="net2cpu/c100/nginx_w2", vs="nginx", metric="cpu"),
    Row("net2cpu/c100/nginx_w2", "  nginx, 2 workers (return 200), req/s",
        baseline="net2cpu/c100/ringo_loops1", vs="ringo --loops 1", speedup=True),
    Row("net2cpu/c100/nginx_w2", "  nginx, 2 workers, server CPU per request", metric="cpu"),
    Row("net2cpu/c100_pipe16/ringo_loops2", "HTTP on 2 CPUs, 100 conns x16 pipelined: --loops 2",
        baseline="net2cpu/c100_pipe16/ringo_loops1", vs="--loops 1", speedup=True),
    Row("net2cpu/c100_pipe16/ringo_loops2", "  the same, server CPU per request",
        baseline="net2cpu/c100_pipe16/nginx_w2", vs="nginx", metric="cpu"),
    Row("net2cpu/c100_pipe16/ringo_loops1", "  http_hello --loops 1, server CPU per request",
        baseline="net2cpu/c100_pipe16/nginx_w2", vs="nginx", metric="cpu"),
    Row("net2cpu/c100_pipe16/ringo_epoll_loops2", "  --loops 2 on the epoll backend, req/s",
        baseline="net2cpu/c100_pipe16/ringo_loops2", vs="io_uring --loops 2", speedup=True),
    Row("net2cpu/c100_pipe16/ringo_epoll_loops2", "  the same, server CPU per request",
        baseline="net2cpu/c100_pipe16/nginx_w2", vs="nginx", metric="cpu"),
    Row("net2cpu/c100_pipe16/nginx_w2", "  nginx, 2 workers, req/s",
        baseline="net2cpu/c100_pipe16/ringo_loops1", vs="ringo --loops 1", speedup=True),
    Row("net2cpu/c100_pipe16/nginx_w2", "  nginx, 2 workers, server CPU per request",
        metric="cpu"),
    Row("net/idle_rss/ringo", "RSS per idle connection (10 000 open), bytes", max_ns=16384),
    # bench/net/file_bench.py: a page-cached 1 MiB file to wrk -c16
    Row("file/c16/ringo", "Static 1 MiB file, server CPU per request: file_server",
        baseline="file/c16/nginx_w1", vs="nginx", max_ratio=0.9, metric="cpu"),
    Row("file/c16/ringo_epoll", "  the same, file_server on the epoll backend",
        baseline="file/c16/nginx_w1", vs="nginx", metric="cpu"),
    Row("file/c16/nginx_w1", "  the same, nginx, 1 worker, sendfile on", metric="cpu"),
    # bench_file.cc, and the 1 GiB copy timed by scripts/bench.sh
    Row(FR + "ringo/64" + PT,
        "4 KiB random read, page-cached 256 MiB file, 64 tasks in flight",
        baseline=FR + "pread" + PT, vs="pread", min_speedup=1.5),
    Row(FR + "ringo/64" + PT, "  the same, CPU time (process + its io-wq worker)",
        baseline=FR + "pread" + PT, vs="pread", metric="cpu"),
    Row(FR + "ringo/64" + PT, "  the same against libuv (64 uv_fs_read in flight, thread pool)",
        baseline=UV, vs="libuv", speedup=True),
    Row(FR + "ringo/1" + PT, "  the same, 1 task",
        baseline=FR + "pread" + PT, vs="pread", speedup=True),
    Row(FR + "ringo_epoll/64" + PT, "  64 tasks on the epoll backend (RWF_NOWAIT, pool on a miss)",
        baseline=FR + "pread" + PT, vs="pread", speedup=True),
    Row(FR + "ringo_epoll/64" + PT, "  the same against libuv's thread pool",
        baseline=UV, vs="libuv", speedup=True),
    Row(FR + "ringo_epoll/64" + PT, "  the same, CPU time (process)",
        baseline=UV, vs="libuv", metric="cpu"),
    Row(FR + "ringo_epoll/1" + PT, "  the same, epoll backend, 1 task",
        baseline=FR + "pread" + PT, vs="pread", speedup=True),
    Row(UV, "  libuv uv_fs_read, 64 in flight on its thread pool (bench/uv_file.c)",
        baseline=FR + "pread" + PT, vs="pread", speedup=True),
    Row(UV, "  the same, CPU time (process: loop + pool threads)",
        baseline=FR + "pread" + PT, vs="pread", metric="cpu"),
    Row(FR + "libuv_threadpool/1" + PT, "  the same, libuv, 1 in flight",
        baseline=FR + "pread" + PT, vs="pread", speedup=True),
    Row(FR + "pread" + PT, "  the same, pread(2) loop in one thread"),
    Row("BM_copy_1GiB/ringo_cp", "copy 1 GiB page-cached file, examples/cp (wall)",
        baseline="BM_copy_1GiB/cp_reflink_never", vs="cp --reflink=never", max_ratio=1.0),
    Row("BM_copy_1GiB/ringo_cp", "  the same against cp (copy_file_range, in-kernel)",
        baseline="BM_copy_1GiB/cp", vs="cp", max_ratio=1.0),
    Row("BM_copy_1GiB/ringo_cp", "  the same, CPU time (process + its io-wq threads)",
        baseline="BM_copy_1GiB/cp_reflink_never", vs="cp --reflink=never", metric="cpu"),
    Row("BM_copy_1GiB/ringo_cp", "  the same against libuv's thread pool (wall)",
        baseline="BM_copy_1GiB/libuv_cp", vs="libuv"),
    Row("BM_copy_1GiB/ringo_cp_epoll", "  examples/cp on the epoll backend (wall)",
        baseline="BM_copy_1GiB/cp_reflink_never", vs="cp --reflink=never"),
    Row("BM_copy_1GiB/ringo_cp_epoll", "  the same against libuv's thread pool (wall)",
        baseline="BM_copy_1GiB/libuv_cp", vs="libuv"),
    Row("BM_copy_1GiB/ringo_cp_epoll", "  the same, CPU time (process + its pool threads)",
        baseline="BM_copy_1GiB/libuv_cp", vs="libuv", metric="cpu"),
    Row("BM_copy_1GiB/libuv_cp", "  libuv uv_fs_read/uv_fs_write, 8 x 64 KiB on its thread pool"),
    Row("BM_copy_1GiB/cp", "  coreutils cp (copy_file_range)"),
    Row("BM_copy_1GiB/cp_reflink_never", "  cp --reflink=never (read/write 128 KiB)"),
    Row("BM_copy_1GiB/dd_bs1M", "  dd bs=1M"),
    # bench/tasks_1m.c: 1 M tasks sleeping a random 0-1 s at once; >= 1 M tasks/s each way
    Row("BM_tasks_1M/spawn", "1 M tasks alive at once: spawn, per task", max_ns=1000,
        baseline="BM_tasks_1M/page_commit", vs="a page commit", metric="cpu"),
    Row("BM_tasks_1M/page_commit", "  floor: the kernel commits a fresh 4 KiB page, one per task",
        metric="cpu"),
    Row("BM_tasks_1M/finish", "  the same: first run, sleep, wake and exit, CPU per task",
        max_ns=1000, metric="cpu"),
    Row("BM_tasks_1M/late_p99", "  the same: how late the 99th percentile woke, ns"),
    Row("BM_tasks_1M/late_max", "  the same: how late the last one woke, ns"),
    Row("BM_tasks_1M/rss_per_task", "  the same: RSS per sleeping task, bytes", max_ns=6144),
    Row("BM_tasks_1M/respawn", "1 M tasks again, their stacks still committed: spawn, per task",
        metric="cpu"),
    Row("BM_tasks_1M/burst_finish", "  the same, all due at once: run, sleep, wake, exit, CPU per task",
        max_ns=1000, metric="cpu", baseline="BM_tasks_1M/page_visit", vs="a page visit"),
    Row("BM_tasks_1M/first_run", "  the same: from spawn to sleep, CPU per task", metric="cpu",
        baseline="BM_tasks_1M/page_visit", vs="a page visit"),
    Row("BM_tasks_1M/page_visit", "  floor: one load from each of 1 M pages, random order, each after the last"),
    # bench/timers.c: 1 M timers, random deadlines within a second
    Row("BM_timers_1M/insert_cancel/ringo", "1 M timers armed then cancelled, per timer (ms buckets + heap)",
        baseline="BM_timers_1M/insert_cancel/heap2", vs="binary heap", metric="cpu"),
    Row("BM_timers_1M/half_cancelled/ringo", "1 M timers, half cancelled, half fired, per timer",
        baseline="BM_timers_1M/half_cancelled/heap2", vs="binary heap", metric="cpu"),
    Row("BM_timers_1M/insert_fire/ringo", "1 M timers armed then fired in order, per timer",
        baseline="BM_timers_1M/insert_fire/heap2", vs="binary heap", metric="cpu"),
]

UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


@dataclass
class Result:
    real: float        # median ns/op, real time
    cpu: float         # median ns/op, CPU time
    reps: int          # repetitions behind the median
    error: Optional[str] = None


def per_op(b, key):
    ops = b.get("ops_per_iter") or 1.0
    return b[key] * UNIT_NS.get(b.get("time_unit", "ns"), 1.0) / ops


def load(paths, context):
    """run_name -> Result, in first-seen order; fills context (ringo_* keys)."""
    reps, medians, errors, order = {}, {}, {}, []
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        for k, v in data.get("context", {}).items():
            if k.startswith("ringo_"):
                context[k[len("ringo_"):]] = v
        for b in data.get("benchmarks", []):
            name = b.get("run_name", b["name"])
            if name not in order:
                order.append(name)
            if b.get("error_occurred"):
                errors[name] = b.get("error_message", "error")
                continue
            if b.get("run_type") == "aggregate":
                if b.get("aggregate_name") == "median":
                    medians[name] = (per_op(b, "real_time"), per_op(b, "cpu_time"),
                                     int(b.get("repetitions", 0)))
                continue
            reps.setdefault(name, []).append((per_op(b, "real_time"), per_op(b, "cpu_time")))
    results = {}
    for name in order:
        if name in reps:
            r = reps[name]
            results[name] = Result(statistics.median(x[0] for x in r),
                                   statistics.median(x[1] for x in r), len(r))
        elif name in medians:
            results[name] = Result(*medians[name])
        elif name in errors:
            results[name] = Result(float("nan"), float("nan"), 0, errors[name])
    return results


def judge(row, results):
    """(target text, ratio text, verdict) for one row."""
    res = results[row.name]
    if res.error:
        return "", "", "SKIP (" + res.error + ")"
    value = res.real if row.metric == "real" else res.cpu
    target, ratio, verdict = [], "", ""
    ok = True
    if row.max_ns is not None:
        target.append("<= %g ns" % row.max_ns)
        ok = ok and value <= row.max_ns
    if row.max_ns_of is not None:
        name, k, c = row.max_ns_of
        ref = results.get(name)
        expr = "%g*%s+%g" % (k, name.replace("BM_", "", 1), c)
        if ref is None or ref.error:
            return "<= " + expr, "", "n/a (no %s)" % name
        limit = k * (ref.real if row.metric == "real" else ref.cpu) + c
        target.append("<= %s = %.1f ns" % (expr, limit))
        ok = ok and value <= limit
    if row.baseline:
        base = results.get(row.baseline)
        short = row.vs or row.baseline.split("/")[-1]
        speedup = row.speedup or row.min_speedup is not None
        if row.max_ratio is not None:
            target.append("<= %.2fx %s" % (row.max_ratio, short))
        if row.min_speedup is not None:
            target.append(">= %gx faster than %s" % (row.min_speedup, short))
        if base is None or base.error:
            ratio = "no baseline"
            if row.max_ratio is not None or row.min_speedup is not None:
                return ", ".join(target), ratio, "n/a"   # neither PASS nor MISS
        else:
            bval = base.real if row.metric == "real" else base.cpu
            r = value / bval
            if not speedup:
                ratio = "%.2fx %s" % (r, short)
            elif r <= 1:
                # two decimals where a target sits close: 1.87x is not 1.9x
                digits = 2 if row.min_speedup is not None and 1 / r < 10 else 1
                ratio = "%.*fx faster than %s" % (digits, 1 / r, short)
            else:   # as above: 1.01x slower is not 1.0x
                digits = 2 if row.min_speedup is not None and r < 10 else 1
                ratio = "%.*fx slower than %s" % (digits, r, short)
            if row.max_ratio is not None:
                ok = ok and r <= row.max_ratio
            if row.min_speedup is not None:
                ok = ok and r * row.min_speedup <= 1
    text = ", ".join(target)
    if ratio and ratio != "no baseline" and row.metric != "real":
        ratio += " (" + row.metric + ")"
    if target:
        verdict = "PASS" if ok else "MISS"
        if row.metric != "real":
            text += " (" + row.metric + ")"
    return text, ratio, verdict


def main(argv):
    strict = "--strict" in argv
    paths = [a for a in argv if a != "--strict"]
    if not paths:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        context = {}
        results = load(paths, context)
    except (OSError, ValueError, KeyError) as e:
        print("report.py: cannot read results: %s" % e, file=sys.stderr)
        return 1
    if not results:
        print("report.py: no benchmark results in " + " ".join(paths), file=sys.stderr)
        return 1

    listed = {r.name for r in ROWS}
    rows = [r for r in ROWS if r.name in results]
    rows += [Row(n, "") for n in results if n not in listed]
    missing = list(dict.fromkeys(r.name for r in ROWS if r.name not in results))

    lines = [("benchmark", "real ns/op", "cpu ns/op", "reps", "target", "ratio", "result", "")]
    missed = 0
    for row in rows:
        res = results[row.name]
        target, ratio, verdict = judge(row, results)
        missed += verdict == "MISS"
        lines.append((row.name, "%.1f" % res.real, "%.1f" % res.cpu, str(res.reps),
                      target, ratio, verdict, row.label))
    widths = [max(len(l[i]) for l in lines) for i in range(len(lines[0]))]
    right = {1, 2, 3}
    for i, l in enumerate(lines):
        cells = [c.rjust(w) if j in right else c.ljust(w) for j, (c, w) in enumerate(zip(l, widths))]
        print("  ".join(cells).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths).rstrip())
    if missing:
        print("not run: " + ", ".join(missing))
    if context:
        print("build: " + " ".join("%s=%s" % kv for kv in sorted(context.items())))
    print("medians over repetitions; targets judged on real time unless marked (cpu). "
          "%d target(s) missed." % missed)
    return 3 if strict and missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
