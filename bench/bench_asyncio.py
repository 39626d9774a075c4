#!/usr/bin/env python3
"""bench/bench_asyncio.py: asyncio's figures for what bench_sync.cc measures.

usage: bench_asyncio.py [--out FILE.json] [--runs N] [--quick]

  asyncio/queue_handoff        a producer and a consumer task passing items
                               through asyncio.Queue(maxsize=1), per item
                               (BM_queue_handoff does exactly this)
  asyncio/gather_sleeps_10000  asyncio.gather of 10 000 asyncio.sleep(0.001)
                               coroutines, per task (BM_gather_sleeps_10000)

Each run is timed inside asyncio.run (the loop's set-up is not counted) with
time.perf_counter (real) and time.process_time (CPU, whole process); every
run is written as one repetition in the JSON shape bench/report.py reads,
which takes the median (5 runs by default). Standard library only.
"""
import argparse
import asyncio
import json
import statistics
import sys
import time

QUEUE_ITEMS = 50_000
SLEEPERS = 10_000
GATHERS = 2          # gathers per run


async def queue_handoff(n):
    q = asyncio.Queue(maxsize=1)

    async def consumer():
        while True:
            item = await q.get()
            if item is None:   # the sentinel
                return

    c = asyncio.create_task(consumer())
    item = 1
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        await q.put(item)
    t1, c1 = time.perf_counter(), time.process_time()
    await q.put(None)
    await c
    return t1 - t0, c1 - c0, n


async def gather_sleeps(gathers, n):
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(gathers):
        await asyncio.gather(*(asyncio.sleep(0.001) for _ in range(n)))
    t1, c1 = time.perf_counter(), time.process_time()
    return t1 - t0, c1 - c0, gathers * n


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--out", help="JSON file to write (default: stdout)")
    ap.add_argument("--runs", type=int, default=5, help="runs per benchmark (median)")
    ap.add_argument("--quick", action="store_true", help="a tenth of the work per run")
    args = ap.parse_args(argv)
    scale = 10 if args.quick else 1

    cases = [
        ("asyncio/queue_handoff", lambda: queue_handoff(QUEUE_ITEMS // scale)),
        ("asyncio/gather_sleeps_10000", lambda: gather_sleeps(max(1, GATHERS // scale), SLEEPERS)),
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
        print("%-30s %10.1f ns/op (median real of %d runs, python %s)"
              % (name, statistics.median(per_op), args.runs, sys.version.split()[0]),
              file=sys.stderr)
    text = json.dumps(out, indent=2) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
