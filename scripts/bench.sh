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
echo
results=()
for f in "$out" "$out_nofpu" "$out_sync" "$out_asyncio"; do
    if [ -s "$f" ]; then results+=("$f"); fi
done
python3 bench/report.py "${results[@]}"
