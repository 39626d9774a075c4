#!/usr/bin/env python3
"""bench/net/udp_bench.py: UDP echo servers under udp_load, server CPU per datagram.

usage: udp_bench.py [--build-dir DIR] [--rounds N] [--duration S]
                    [--sizes 64,1200] [--servers NAME,...] [--server-cpu N]
                    [--client-cpu N] [--sockets K] [--window W] [--gso-window W]
                    [--json FILE]

Servers (each skipped, with a note, when its binary is not built):
  udp_epoll        bench/net/udp_epoll: epoll, recvmmsg/sendmmsg of 32 (the baseline)
  ringo            examples/udp_echo server
  ringo_batch      examples/udp_echo server --batch 32
  ringo_epoll      the same on the epoll backend (RINGO_BACKEND=epoll)
  udp_epoll_gro    udp_epoll --gro                       (client --gso)
  ringo_batch_gro  udp_echo server --batch 32 --gro      (client --gso)
Each server is started once, pinned to --server-cpu (default: the last CPU
this process may use) in a process group of its own, on a free port given
with --port; it must print a line with "listening" and echo a probe
datagram. Then N rounds: each round runs every (server, size) pair once, in
shuffled order, with bench/net/udp_load pinned to --client-cpu (default:
the first CPU) for S seconds: K sockets of W datagrams in flight each (the
GRO rows: --gso, UDP_SEGMENT trains received with UDP_GRO, --gso-window).
By default W keeps what is in flight within a server socket's default
receive buffer (net.core.rmem_default, 212992 bytes: about 24 KiB of kernel
memory per socket: 32 datagrams of 64 B, 12 of 1200 B; trains: 64 and 16),
so that nothing is dropped for want of room; the "drops" column is the
host's Udp RcvbufErrors over the run (it should stay 0).
The plain rows' client sends its trains with UDP_SEGMENT too (--send-gso):
a server without UDP_GRO still gets single datagrams (the kernel splits the
train before it queues it), and on loopback the sender's CPU pays for the
delivery of what it sends, so the client stays ahead of the server.
Server CPU is utime+stime of its group (/proc/PID/stat, every thread) over
the client's run; CPU ns per datagram is that over the datagrams echoed.
A server below 90% of its CPU was not the bottleneck (the table says so).

--json writes google-benchmark shaped rows for bench/report.py: run_name
"udp/<size>B/<server>", real_time = wall ns per datagram (1e9 / echoes per
second), cpu_time = server CPU ns per datagram, one entry per round; and
"udp/<size>B/ringo_best": the rounds of ringo's non-GRO row with the lowest
median CPU per datagram (the target's row). Missing servers become error
rows (the table's SKIP). Exit status: 0 unless a server that was built
failed; 2 when udp_load or udp_epoll are not built.
"""
import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_bench  # noqa: E402  (group_cpu_seconds, taskset)

HOST = "127.0.0.1"
BASE = "udp_epoll"
RINGO_PLAIN = ("ringo", "ringo_batch", "ringo_epoll")
GRO_PAIRS = (("udp_epoll_gro", "udp_epoll"), ("ringo_batch_gro", "ringo_batch"))


def server_table(build):
    """name -> (argv, extra env, gro row, binary)."""
    epoll = os.path.join(build, "bench", "net", "udp_epoll")
    echo = os.path.join(build, "examples", "udp_echo")
    return {
        "udp_epoll": ([epoll], {}, False, epoll),
        "ringo": ([echo, "server"], {}, False, echo),
        "ringo_batch": ([echo, "server", "--batch", "32"], {}, False, echo),
        "ringo_epoll": ([echo, "server", "--batch", "32"], {"RINGO_BACKEND": "epoll"}, False, echo),
        "udp_epoll_gro": ([epoll, "--gro"], {}, True, epoll),
        "ringo_batch_gro": ([echo, "server", "--batch", "32", "--gro"], {}, True, echo),
    }


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def echoes(port, timeout=1.0):
    """Whether a datagram sent to the server comes back as it went."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect((HOST, port))
        for _ in range(3):
            s.send(b"udp_bench probe")
            try:
                if s.recv(2048) == b"udp_bench probe":
                    return True
            except (socket.timeout, ConnectionRefusedError):
                continue
    return False


class Server:
    """A UDP server in its own process group, its output drained by a thread."""

    def __init__(self, name, argv, env, cpu, ready_timeout=10.0):
        self.name, self.port = name, free_udp_port()
        self.argv = http_bench.taskset(cpu) + argv + ["--host", HOST, "--port", str(self.port)]
        self.lines, self.ready = [], threading.Event()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     env=dict(os.environ, **env))
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()
        if not self.ready.wait(ready_timeout) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("%s: no 'listening' line (status %s); output: %s"
                               % (name, self.proc.returncode, self.output()))
        if not echoes(self.port):
            self.stop()
            raise RuntimeError("%s: no echo of a probe datagram; output: %s"
                               % (name, self.output()))

    def _drain(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.lines = (self.lines + [line])[-20:]
            if "listening" in line.lower():
                self.ready.set()

    def output(self):
        return " | ".join(self.lines) or "(none)"

    def cpu(self):
        return http_bench.group_cpu_seconds(self.proc.pid)

    def stop(self, timeout=5.0):
        """SIGTERM (its status is what it exits with), SIGKILL after timeout."""
        status = None
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                status = self.proc.wait(timeout)
                break
            except subprocess.TimeoutExpired:
                status = None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)   # stragglers of the group
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.reader.join(1)
        return status if status is not None else self.proc.returncode


def window(args, size, gro_row):
    """Datagrams in flight per socket: about 24 KiB of a receive buffer each
    (a datagram costs its size and some 700 bytes of skb; a train little more
    than its payload)."""
    if gro_row:
        return args.gso_window or max(8, min(64, 20000 // size))
    return args.window or max(4, min(64, 24576 // (size + 700)))


def rcvbuf_errors():
    """The host's Udp RcvbufErrors (datagrams dropped: a receive buffer full)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return int(rows[1][rows[0].index("RcvbufErrors")]) if len(rows) >= 2 else 0


def run_load(args, load, port, size, gro_row, cpu):
    """One udp_load run: its figures and CPU seconds."""
    argv = http_bench.taskset(cpu) + [
        load, "--host", HOST, "--port", str(port), "--size", str(size),
        "--sockets", str(args.sockets), "--duration", str(args.duration),
        "--window", str(window(args, size, gro_row)),
        "--gso" if gro_row else "--send-gso"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.read().decode(errors="replace")
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    fields = dict(re.findall(r"(\w+)=([\d.]+)", out))
    if p.returncode != 0 or "received" not in fields:
        raise RuntimeError("udp_load failed (%d): %s" % (p.returncode, out.strip()[-300:]))
    return ({k: float(v) for k, v in fields.items()}, ru.ru_utime + ru.ru_stime)


def bench_row(name, r, **extra):
    row = {"name": name, "run_name": name, "run_type": "iteration",
           "real_time": 1e9 / r["rate"], "cpu_time": r["cpu_ns"], "time_unit": "ns",
           "ops_per_iter": 1, "iterations": 1, "dgrams_per_s": r["rate"],
           "server_util": r["util"], "client_util": r["client_util"], "lost": r["lost"],
           "drops": r["drops"]}
    row.update(extra)
    return row


def error_row(name, why):
    return {"name": name, "run_name": name, "run_type": "iteration",
            "error_occurred": True, "error_message": why}


def med(rs, key):
    return statistics.median(r[key] for r in rs) if rs else float("nan")


def main(argv):
    cpus = sorted(os.sched_getaffinity(0))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--sizes", default="64,1200")
    ap.add_argument("--servers", help="comma-separated subset (default: all)")
    ap.add_argument("--server-cpu", default=str(cpus[-1]))
    ap.add_argument("--client-cpu", default=str(cpus[0]))
    ap.add_argument("--sockets", type=int, default=4)
    ap.add_argument("--window", type=int,
                    help="datagrams in flight per socket (default: by size, see above)")
    ap.add_argument("--gso-window", type=int)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    table = server_table(args.build_dir)
    names = args.servers.split(",") if args.servers else list(table)
    unknown = [n for n in names if n not in table]
    load = os.path.join(args.build_dir, "bench", "net", "udp_load")
    if unknown or not os.access(load, os.X_OK) or not os.access(table[BASE][3], os.X_OK):
        print("udp_bench: %s" % ("unknown servers: " + ", ".join(unknown) if unknown else
                                 "build bench/net first (no %s or udp_epoll)" % load),
              file=sys.stderr)
        return 2

    servers, skipped, failed = {}, {}, False
    try:
        for name in names:
            argv_, env, _, binary = table[name]
            if not os.access(binary, os.X_OK):
                skipped[name] = "not built: %s" % os.path.relpath(binary, args.build_dir)
                print("udp_bench: %s skipped (%s)" % (name, skipped[name]))
                continue
            try:
                servers[name] = Server(name, argv_, env, args.server_cpu)
            except RuntimeError as e:
                print("udp_bench: %s" % e, file=sys.stderr)
                skipped[name], failed = "failed to start", True
        runs = {(n, s): [] for n in servers for s in sizes}
        for rnd in range(args.rounds):
            order = list(runs)
            random.shuffle(order)
            for name, size in order:
                srv = servers[name]
                gro_row = table[name][2]
                c0, d0 = srv.cpu(), rcvbuf_errors()
                try:
                    fig, client_cpu = run_load(args, load, srv.port, size, gro_row,
                                               args.client_cpu)
                except RuntimeError as e:
                    print("udp_bench: %s, %d B: %s" % (name, size, e), file=sys.stderr)
                    failed = True
                    continue
                used = srv.cpu() - c0
                got = fig["received"]
                if got <= 0:
                    continue
                runs[(name, size)].append({
                    "rate": fig["dgrams_per_s"], "cpu_ns": used * 1e9 / got,
                    "util": used / fig["duration_s"], "lost": fig["lost"],
                    "drops": rcvbuf_errors() - d0,
                    "client_util": client_cpu / fig["duration_s"]})
    finally:
        for name, srv in servers.items():
            status = srv.stop()
            if status != 0:
                print("udp_bench: %s exited with status %s on SIGTERM (want 0); output: %s"
                      % (name, status, srv.output()), file=sys.stderr)
                failed = True

    rows = []
    print("udp_bench: %d round(s) x %gs, %d sockets; server on CPU %s, client on CPU %s"
          % (args.rounds, args.duration, args.sockets, args.server_cpu, args.client_cpu))
    print("  %-16s %5s %6s %12s %14s %9s %8s %8s %7s" % (
        "server", "size", "window", "dgrams/s", "CPU ns/dgram", "vs epoll", "server%",
        "client%", "drops"))
    for size in sizes:
        base = med(runs.get((BASE, size), []), "cpu_ns")
        for name in names:
            rname = "udp/%dB/%s" % (size, name)
            rs = runs.get((name, size), [])
            if name in skipped or not rs:
                rows.append(error_row(rname, skipped.get(name, "no run worked")))
                print("  %-16s %5d  skipped (%s)" % (name, size, skipped.get(name, "no run")))
                continue
            rows += [bench_row(rname, r) for r in rs]
            util = med(rs, "util")
            print("  %-16s %5d %6d %12.0f %14.1f %8.2fx %7.0f%% %7.0f%% %7d%s"
                  % (name, size, window(args, size, table[name][2]), med(rs, "rate"),
                     med(rs, "cpu_ns"), med(rs, "cpu_ns") / base, util * 100,
                     med(rs, "client_util") * 100, sum(r["drops"] for r in rs),
                     "  (server below 90%: not the bottleneck)" if util < 0.9 else ""))
        best = min((n for n in RINGO_PLAIN if runs.get((n, size))),
                   key=lambda n: med(runs[(n, size)], "cpu_ns"), default=None)
        bname = "udp/%dB/ringo_best" % size
        if best:
            rows += [bench_row(bname, r, best_of=best) for r in runs[(best, size)]]
            ratio = med(runs[(best, size)], "cpu_ns") / base
            print("  %d B: ringo's best non-GRO row (%s) = %.2fx udp_epoll's CPU per datagram"
                  " (target <= 0.9x): %s" % (size, best, ratio, "PASS" if ratio <= 0.9 else "MISS"))
        else:
            rows.append(error_row(bname, "no ringo server ran (examples/udp_echo built?)"))
        for gro, plain in GRO_PAIRS:
            if runs.get((gro, size)) and runs.get((plain, size)):
                g, p = med(runs[(gro, size)], "cpu_ns"), med(runs[(plain, size)], "cpu_ns")
                print("  %d B: GSO/GRO gain %s over %s: %.2fx less CPU per datagram"
                      % (size, gro, plain, p / g))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"benchmarks": rows}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
