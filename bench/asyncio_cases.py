"""bench/asyncio_cases.py: the runner shared by the asyncio baselines.

Each case is a coroutine factory returning (real seconds, CPU seconds, ops);
run_cases times every case --runs times in a fresh asyncio.run and writes the
JSON shape bench/report.py reads (one "iteration" entry per run)."""
import argparse
import asyncio
import json
import statistics
import sys


def parse_args(argv, description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--out", help="JSON file to write (default: stdout)")
    ap.add_argument("--runs", type=int, default=5, help="runs per benchmark (median)")
    ap.add_argument("--quick", action="store_true", help="a tenth of the work per run")
    return ap.parse_args(argv)


def run_cases(args, cases):
    """cases: [(run_name, factory)]; returns the process exit status."""
    py = sys.version.split()[0]
    out = {"context": {"asyncio_python": py}, "benchmarks": []}
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
        med = statistics.median(per_op)
        print("%-32s %10.1f ns/op (%.0f/s; median real of %d runs, python %s)"
              % (name, med, 1e9 / med, args.runs, py), file=sys.stderr)
    text = json.dumps(out, indent=2) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0
