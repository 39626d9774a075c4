// bench/bench_process.cc: subprocess spawn + wait, per process
// (bench/bench_process.py measures asyncio's create_subprocess_exec the same
// way: the ratio row in bench/report.py compares them).
//
//   BM_process_spawn_wait      spawn `true` (no pipes), wait for it; one at a time
//   BM_process_spawn_wait_16   the same with 16 children in flight, per child
//
// Both wait through IORING_OP_WAITID where the kernel has it; set
// RINGO_NO_WAITID=1 to measure the POLL_ADD + waitid fallback.
#include <benchmark/benchmark.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <ringo.h>

#include "bench_util.h"

namespace {

const char *const true_argv[] = { "true", nullptr };

int spawn_wait_one()
{
    ringo_process *p;
    int ret = ringo_process_spawn(&p, true_argv, nullptr);
    if (ret < 0)
        return ret;
    int rc = -1;
    ret = ringo_process_wait(p, &rc);
    ringo_process_free(p);
    return ret < 0 ? ret : rc == 0 ? 0 : -ECHILD;
}

int spawn_wait_task(void *) { return spawn_wait_one(); }

template <int N> int spawn_wait_main(void *arg)
{
    auto &state = *static_cast<benchmark::State *>(arg);
    for (auto _ : state) {
        int ret;
        if (N == 1) {
            ret = spawn_wait_one();
        } else {
            ringo_task *t[N];
            int n = 0;
            for (; n < N; n++) {
                if (ringo_spawn(&t[n], spawn_wait_task, nullptr) < 0)
                    break;
            }
            ret = ringo_gather(t, static_cast<size_t>(n), nullptr);
            if (n < N && ret == 0)
                ret = -ENOMEM;
        }
        if (ret < 0) {
            state.SkipWithError(std::strerror(-ret));
            break;
        }
    }
    report_ops(state, static_cast<double>(state.iterations()) * N);
    return 0;
}

template <int N> void BM_spawn_wait(benchmark::State &state)
{
    run_in_loop(state, spawn_wait_main<N>);
}

}  // namespace

BENCHMARK(BM_spawn_wait<1>)->Name("BM_process_spawn_wait")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_spawn_wait<16>)->Name("BM_process_spawn_wait_16")->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
