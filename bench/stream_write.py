#!/usr/bin/env python3
"""bench/stream_write.py: 64 KiB stream writes over loopback TCP, with and
without zero-copy sends (RINGO_CFG_SEND_ZC): CPU per byte.

usage: stream_write.py --bin BUILD/bench/tls_bulk [--reps N] [--bytes N]
                       [--cpu N] [--json FILE]

Runs bench/tls_bulk.c's plain mode (one ringo_run: a server task reading
and discarding, a client writing 64 KiB at a time and draining) without and
with --zc, N times each, the two interleaved in shuffled order within each
round, pinned to one CPU (--cpu, default the last one this process may
use; -1: not pinned), and prints both medians and minimums and their
ratios (copy's runs here are bimodal, 0.2 or 0.4 ns/byte: the minimum says
which is the faster path). CPU is the whole process's
(both ends: the reader's copy is in both rows). On loopback the kernel
copies a zero-copy send's pages anyway when it delivers them to the local
socket, so this says what zero-copy costs where it cannot win; it pays only
where a NIC reads the pages itself, hence RINGO_CFG_SEND_ZC off by default.
--json writes google-benchmark shaped rows for bench/report.py, per KiB:
BM_stream_write_64KiB/copy and BM_stream_write_64KiB/send_zc (real = wall,
cpu = process CPU). Exit status 0 when every run worked, 1 otherwise.
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tls_bulk  # noqa: E402  (run_once, row)

KIB = 1024
MODES = {"copy": (), "send_zc": ("--zc",)}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the tls_bulk binary")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--bytes", type=int, default=1 << 30)
    ap.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)))
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    pin = ("taskset", "-c", str(args.cpu)) if args.cpu >= 0 and shutil.which("taskset") else ()
    runs, failed, benchmarks = {m: [] for m in MODES}, False, []
    for _ in range(args.reps):
        order = list(MODES)
        random.shuffle(order)
        for mode in order:
            try:
                runs[mode].append(tls_bulk.run_once(args.bin, "plain", None, None, args.bytes,
                                                    MODES[mode] + ("--write", str(64 * KIB)),
                                                    pin))
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print("stream_write: %s" % e, file=sys.stderr)
                failed = True
    print("stream_write: %d bytes per run in 64 KiB writes, %d run(s) each%s"
          % (args.bytes, args.reps, ", on CPU %d" % args.cpu if pin else ""))
    med, low = {}, {}
    for mode, rs in runs.items():
        name = "BM_stream_write_64KiB/" + mode
        for r in rs:
            print("  %-7s wall %.3fs  cpu %.3fs (user %.3f sys %.3f)  %.3f ns/byte"
                  % (mode, r["wall_s"], r["cpu_s"], r["user_s"], r["sys_s"],
                     r["cpu_s"] * 1e9 / r["bytes"]))
            benchmarks.append(tls_bulk.row(name, r["wall_s"] * 1e9, r["cpu_s"] * 1e9,
                                           r["bytes"] / KIB, bytes=r["bytes"],
                                           user_s=r["user_s"], sys_s=r["sys_s"]))
        if rs:
            med[mode] = statistics.median(r["cpu_s"] * 1e9 / r["bytes"] for r in rs)
            low[mode] = min(r["cpu_s"] * 1e9 / r["bytes"] for r in rs)
        else:
            benchmarks.append({"name": name, "run_name": name, "run_type": "iteration",
                               "error_occurred": True, "error_message": "tls_bulk failed"})
    for what, v in (("median", med), ("minimum", low)):
        if len(v) == 2:
            print("  %s CPU: copy %.3f ns/byte, send_zc %.3f ns/byte: send_zc = %.2fx copy"
                  % (what, v["copy"], v["send_zc"], v["send_zc"] / v["copy"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"benchmarks": benchmarks}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
