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
import asyncio
import sys
import time

from asyncio_cases import parse_args, run_cases

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
    args = parse_args(argv, __doc__.strip().splitlines()[0])
    scale = 10 if args.quick else 1
    return run_cases(args, [
        ("asyncio/queue_handoff", lambda: queue_handoff(QUEUE_ITEMS // scale)),
        ("asyncio/gather_sleeps_10000", lambda: gather_sleeps(max(1, GATHERS // scale), SLEEPERS)),
    ])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
