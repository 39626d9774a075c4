// bench/bench_sync.cc: the synchronization primitives, to_thread and gather,
// each reported per operation (the counter ops_per_iter, as bench_core.cc).
//
//   BM_lock_uncontended        ringo_lock_acquire + ringo_lock_release, alone
//   BM_lock_handoff            two tasks take turns on one Lock, per handoff
//   BM_queue_handoff           producer -> consumer through a Queue of maxsize
//                              1, per item (bench_asyncio.py: the same)
//   BM_event_wake_1000         1000 tasks wait on one Event: set, all of them
//                              run and wait again; per full wake (the counter
//                              time_per_waiter divides by 1000)
//   BM_to_thread/<n>           ringo_to_thread of an empty function, n callers
//                              in flight, per call
//   BM_gather_sleeps_10000     spawn 10 000 tasks each sleeping 1 ms, gather
//                              them; per task (process CPU time: compare cpu)
//
// Each runs its state loop inside ringo_run, in a task.
#include <benchmark/benchmark.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include <ringo.h>

#include "bench_util.h"

namespace {

benchmark::State &state_of(void *arg) { return *static_cast<benchmark::State *>(arg); }

// ---- Lock -------------------------------------------------------------------

int lock_uncontended_main(void *arg)
{
    auto &state = state_of(arg);
    ringo_lock *lk;
    if (ringo_lock_new(&lk) < 0) {
        state.SkipWithError("ringo_lock_new failed");
        return 0;
    }
    for (auto _ : state) {
        if (ringo_lock_acquire(lk) < 0 || ringo_lock_release(lk) < 0) {
            state.SkipWithError("acquire/release failed");
            break;
        }
    }
    ringo_lock_free(lk);
    report_ops(state, static_cast<double>(state.iterations()));
    return 0;
}

struct LockPair {
    ringo_lock *lk;
    bool stop;
};

// B: take the lock (handed over by A), give it back, wait for it again.
int lock_partner(void *arg)
{
    auto *p = static_cast<LockPair *>(arg);
    for (;;) {
        if (ringo_lock_acquire(p->lk) < 0)
            return -1;
        bool stop = p->stop;
        ringo_lock_release(p->lk);
        if (stop)
            return 0;
    }
}

// A holds the lock, B waits on it. Each iteration: A releases (B becomes the
// owner), A's acquire waits, B runs, releases (A becomes the owner), B's
// acquire waits, A runs: two handoffs, two one-way switches.
int lock_handoff_main(void *arg)
{
    auto &state = state_of(arg);
    LockPair p{};
    ringo_task *b;
    if (ringo_lock_new(&p.lk) < 0 || ringo_lock_acquire(p.lk) < 0 ||
        ringo_spawn(&b, lock_partner, &p) < 0) {
        state.SkipWithError("set-up failed");
        return 0;
    }
    ringo_yield();   // B runs and queues on the lock
    for (auto _ : state) {
        ringo_lock_release(p.lk);
        if (ringo_lock_acquire(p.lk) < 0) {
            state.SkipWithError("acquire failed");
            break;
        }
    }
    p.stop = true;
    ringo_lock_release(p.lk);
    ringo_await(b);
    ringo_lock_free(p.lk);
    report_ops(state, 2.0 * static_cast<double>(state.iterations()));
    return 0;
}

// ---- Queue ------------------------------------------------------------------

struct QueuePair {
    ringo_queue *q;
    uint64_t got;
};

int queue_consumer(void *arg)
{
    auto *p = static_cast<QueuePair *>(arg);
    for (;;) {
        void *item;
        if (ringo_queue_get(p->q, &item) < 0)
            return -1;
        if (!item)   // the sentinel
            return 0;
        p->got++;
    }
}

// maxsize 1, as asyncio.Queue(maxsize=1) in bench_asyncio.py: every put
// after the first waits until the consumer has taken the previous item.
int queue_handoff_main(void *arg)
{
    auto &state = state_of(arg);
    QueuePair p{};
    ringo_task *c;
    if (ringo_queue_new(&p.q, 1) < 0 || ringo_spawn(&c, queue_consumer, &p) < 0) {
        state.SkipWithError("set-up failed");
        return 0;
    }
    int item = 0;
    for (auto _ : state) {
        if (ringo_queue_put(p.q, &item) < 0) {
            state.SkipWithError("put failed");
            break;
        }
    }
    ringo_queue_put(p.q, nullptr);
    ringo_await(c);
    if (!state.error_occurred() && p.got != static_cast<uint64_t>(state.iterations()))
        state.SkipWithError("items lost");
    ringo_queue_free(p.q);
    report_ops(state, static_cast<double>(state.iterations()));
    return 0;
}

// ---- Event ------------------------------------------------------------------

constexpr int kWaiters = 1000;

struct Wake {
    ringo_event *ev;     // the one the waiters wait on
    ringo_event *done;   // set by the last waiter to run
    int woken;
    bool stop;
};

int event_waiter(void *arg)
{
    auto *w = static_cast<Wake *>(arg);
    for (;;) {
        if (ringo_event_wait(w->ev) < 0 || w->stop)
            return 0;
        if (++w->woken == kWaiters)
            ringo_event_set(w->done);
    }
}

// set wakes all 1000 (then clear: they return 0 all the same, as in asyncio,
// and their next wait blocks); the last one to run wakes main.
int event_wake_main(void *arg)
{
    auto &state = state_of(arg);
    Wake w{};
    std::vector<ringo_task *> tasks(kWaiters);
    if (ringo_event_new(&w.ev) < 0 || ringo_event_new(&w.done) < 0) {
        state.SkipWithError("set-up failed");
        return 0;
    }
    for (auto &t : tasks)
        if (ringo_spawn(&t, event_waiter, &w) < 0) {
            state.SkipWithError("spawn failed");
            return 0;   // ringo_run cancels the ones spawned
        }
    ringo_yield();   // every waiter runs and waits
    for (auto _ : state) {
        w.woken = 0;
        ringo_event_set(w.ev);
        ringo_event_clear(w.ev);
        ringo_event_wait(w.done);
        ringo_event_clear(w.done);
    }
    w.stop = true;
    ringo_event_set(w.ev);
    ringo_gather(tasks.data(), tasks.size(), nullptr);
    ringo_event_free(w.ev);
    ringo_event_free(w.done);
    double iters = static_cast<double>(state.iterations());
    report_ops(state, iters);
    state.counters["time_per_waiter"] = benchmark::Counter(
        iters * kWaiters, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    return 0;
}

// ---- to_thread --------------------------------------------------------------

int empty_fn(void *) { return 0; }

struct Flag {
    bool stop;
    uint64_t ops;
};

int to_thread_helper(void *arg)
{
    auto *f = static_cast<Flag *>(arg);
    while (!f->stop && ringo_to_thread(empty_fn, nullptr) == 0)
        f->ops++;
    return 0;
}

// As BM_nop in bench_core.cc: n-1 helpers loop beside the timed task and the
// ops counted cover the timed region.
int to_thread_main(void *arg)
{
    auto &state = state_of(arg);
    Flag f{};
    std::vector<ringo_task *> helpers;
    for (int64_t i = 1; i < state.range(0); i++) {
        ringo_task *t;
        if (ringo_spawn(&t, to_thread_helper, &f) < 0)
            break;
        helpers.push_back(t);
    }
    if (static_cast<int64_t>(helpers.size()) + 1 != state.range(0))
        state.SkipWithError("spawn failed");
    for (auto _ : state) {
        if (ringo_to_thread(empty_fn, nullptr) < 0) {
            state.SkipWithError("ringo_to_thread failed");
            break;
        }
        f.ops++;
    }
    double ops = static_cast<double>(f.ops);
    f.stop = true;
    ringo_gather(helpers.data(), helpers.size(), nullptr);
    report_ops(state, ops);
    return 0;
}

// ---- gather -----------------------------------------------------------------

constexpr int kSleepers = 10000;

int sleeper(void *) { return ringo_sleep(RINGO_MS(1)); }

// asyncio.gather(*(asyncio.sleep(0.001) for _ in range(10000))).
int gather_sleeps_main(void *arg)
{
    auto &state = state_of(arg);
    std::vector<ringo_task *> tasks(kSleepers);
    for (auto _ : state) {
        size_t n = 0;
        while (n < tasks.size() && ringo_spawn(&tasks[n], sleeper, nullptr) == 0)
            n++;
        if (ringo_gather(tasks.data(), n, nullptr) < 0 || n != tasks.size()) {
            state.SkipWithError("spawn or gather failed");
            break;
        }
    }
    report_ops(state, static_cast<double>(state.iterations()) * kSleepers);
    return 0;
}

#define LOOP_BENCH(name, fn) \
    void name(benchmark::State &state) { run_in_loop(state, fn); }
LOOP_BENCH(BM_lock_uncontended, lock_uncontended_main)
LOOP_BENCH(BM_lock_handoff, lock_handoff_main)
LOOP_BENCH(BM_queue_handoff, queue_handoff_main)
LOOP_BENCH(BM_event_wake_1000, event_wake_main)
LOOP_BENCH(BM_to_thread, to_thread_main)
LOOP_BENCH(BM_gather_sleeps_10000, gather_sleeps_main)

}  // namespace

BENCHMARK(BM_lock_uncontended);
BENCHMARK(BM_lock_handoff);
BENCHMARK(BM_queue_handoff);
BENCHMARK(BM_event_wake_1000);
// Workers run on other threads: process CPU time, and iterations sized on
// real time (the caller's thread mostly sleeps in the kernel).
BENCHMARK(BM_to_thread)->Arg(1)->Arg(32)->MeasureProcessCPUTime()->UseRealTime();
// The sleeps dominate real time; CPU time (process-wide, as Python's
// time.process_time) is the figure to compare.
BENCHMARK(BM_gather_sleeps_10000)->MeasureProcessCPUTime()->UseRealTime();

BENCHMARK_MAIN();
