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
    build-essential meson ninja-build pkg-config liburing-dev
    libbenchmark-dev g++ libboost-context-dev
    python3
)
need_packages "${PACKAGES[@]}"

B=${RINGO_BENCH_DIR:-build/bench}
REPS=${RINGO_BENCH_REPS:-5}
how=; [ -d "$B" ] && how=--reconfigure
mkdir -p "$(dirname "$B")"
if ! meson setup $how "$B" --buildtype=release -Dtests=disabled -Dbenchmarks=enabled \
        > "$B.setup.log" 2>&1; then
    echo "ringo: configure failed"; tail -20 "$B.setup.log"; exit 1
fi
if ! meson compile -C "$B" > "$B.build.log" 2>&1; then
    echo "ringo: build failed"; tail -40 "$B.build.log"; exit 1
fi

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
echo
python3 bench/report.py "$out"
