// bench/bench_util.h: what every google-benchmark binary here shares.
//
// Every benchmark sets the counter ops_per_iter (operations per state
// iteration): ns/op = real_time or cpu_time / ops_per_iter, which is what
// bench/report.py prints; time_per_op is the same figure on the console.
#ifndef RINGO_BENCH_UTIL_H
#define RINGO_BENCH_UTIL_H

#include <benchmark/benchmark.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <ringo.h>

// ops: operations done by the whole timed region (all iterations).
inline void report_ops(benchmark::State &state, double ops)
{
    state.SetItemsProcessed(static_cast<int64_t>(ops));
    state.counters["ops_per_iter"] = benchmark::Counter(ops, benchmark::Counter::kAvgIterations);
    // Seconds per op (CPU time based), shown on the console as e.g. "6.1ns".
    state.counters["time_per_op"] =
        benchmark::Counter(ops, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Runs fn(&state) as a task under ringo_run; a loop that cannot start skips.
inline void run_in_loop(benchmark::State &state, ringo_fn fn)
{
    int ret = ringo_run(fn, &state);
    if (ret < 0 && !state.error_occurred())
        state.SkipWithError(ret == -ENOSYS || ret == -EPERM ? "io_uring unavailable"
                                                            : std::strerror(-ret));
}

#endif
