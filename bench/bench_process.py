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
import asyncio
import sys
import time

from asyncio_cases import parse_args, run_cases

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
    args = parse_args(argv, __doc__.strip().splitlines()[0])
    n = PROCESSES // (10 if args.quick else 1)
    return run_cases(args, [
        ("asyncio/process_spawn_wait", lambda: sequential(n)),
        ("asyncio/process_spawn_wait_16", lambda: in_flight(n, 16)),
    ])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
