#!/usr/bin/env python3
"""bench/bench_process.py: asyncio's figures for what bench_process.cc measures.

usage: bench_process.py [--out FILE.json] [--runs N] [--quick]

  asyncio/process_spawn_wait     create_subprocess_exec("true") then
                                 proc.wait(), one at a time, per process
                                 (BM_process_spawn_wait does exactly this)
  asyncio/process_spawn_wait_16  the same with 16 in flight (asyncio.gather),
                                 per process (BM_process_spawn_wait_16)

Each run is timed inside asyncio.run (the loop's set-up is not counted) with
time.perf_counter (real) and time.process_time (CPU of this process; the
children's own time is in neither side's CPU figure); every run is one
repetition in the JSON shape bench/report.py reads, which takes the median
(5 runs by default). Standard library only.
"""
import argparse
import asyncio
import json
import statistics
import sys
import time

PROCESSES = 1000


async def spawn_wait():
    proc = await asyncio.create_subprocess_exec("true")
    if await proc.wait() != 0:
        raise RuntimeError("true failed")


async def sequential(n):
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        await spawn_wait()
    return time.perf_counter() - t0, time.process_time() - c0, n


async def in_flight(n, width):
    rounds = max(1, n // width)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        await asyncio.gather(*(spawn_wait() for _ in range(width)))
    return time.perf_counter() - t0, time.process_time() - c0, rounds * width


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--out", help="JSON file to write (default: stdout)")
    ap.add_argument("--runs", type=int, default=5, help="runs per benchmark (median)")
    ap.add_argument("--quick", action="store_true", help="a tenth of the work per run")
    args = ap.parse_args(argv)
    n = PROCESSES // (10 if args.quick else 1)

    cases = [
        ("asyncio/process_spawn_wait", lambda: sequential(n)),
        ("asyncio/process_spawn_wait_16", lambda: in_flight(n, 16)),
    ]
    out = {"context": {"asyncio_python": sys.version.split()[0]}, "benchmarks": []}
    for name, case in cases:
        per_op = []
        for rep in range(args.runs):
            real, cpu, ops = asyncio.run(case())
            per_op.append(real / ops * 1e9)
            out["benchmarks"].append({
                "name": name, "run_name": name, "run_type": "iteration",
                "repetitions": args.runs, "repetition_index": rep, "iterations": 1,
                "real_time": real * 1e9, "cpu_time": cpu * 1e9, "time_unit": "ns",
                "ops_per_iter": ops,
            })
        print("%-32s %10.1f ns/op (%.0f/s; median real of %d runs, python %s)"
              % (name, statistics.median(per_op), 1e9 / statistics.median(per_op),
                 args.runs, sys.version.split()[0]), file=sys.stderr)
    text = json.dumps(out, indent=2) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
