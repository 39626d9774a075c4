// bench/bench_core.cc: the engine's fixed costs, each reported per operation.
//
//   BM_switch_oneway/ringo     coro_switch ping-pong, per one-way switch
//   BM_switch_oneway/fcontext  the same with boost.context's jump_fcontext
//                              (same binary, same run: the baseline)
//   BM_spawn_await             ringo_spawn of an empty task + ringo_await
//   BM_yield_roundtrip         two tasks ringo_yield to each other: A->B->A
//   BM_nop/<n>                 ringo_nop (one IORING_OP_NOP: submit, complete,
//                              resume) with n tasks in flight, per op
//
// Per-op reporting is bench_util.h's. Loop benchmarks run their state loop
// inside ringo_run, in a task.
#include <benchmark/benchmark.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "coro/coro.h"
extern const int ringo__coro_fpu_context;   // coro.c: 1 when the switch saves FP control
}
#include <ringo.h>

#include "bench_util.h"

#ifdef RINGO_BENCH_HAVE_FCONTEXT
#include <boost/context/detail/fcontext.hpp>
#endif

namespace {

constexpr size_t kStackSize = 64 * 1024;   // ringo's default task stack

// ---- the context switch ---------------------------------------------------
//
// Two shapes, each measured for ringo and for boost's jump_fcontext alike:
//  - "same path": two coroutines ping-pong, both switching from one function,
//    as ringo tasks do (every task leaves through the scheduler's
//    switch_away). A batch of kBatch switches per benchmark iteration.
//  - "two paths": the benchmark loop and a partner switch from different
//    functions (a call site shape ringo's engine does not have).

constexpr int64_t kBatch = 1000;

struct Duo {
    coro_t main, a, b;
    int64_t left;    // switches still to do in this batch
    bool stop;
};

// Both coroutines run this: switch to the other until the batch is done.
__attribute__((noinline)) void duo_step(coro_t *self, coro_t *other) { coro_switch(self, other); }

[[noreturn]] void duo_body(Duo *d, coro_t *self, coro_t *other)
{
    for (;;) {
        while (d->left > 0) {
            d->left--;
            duo_step(self, other);
        }
        if (d->stop)
            coro_exit(self, &d->main);
        coro_switch(self, &d->main);
    }
}

coro_t *duo_a(void *arg) { auto *d = static_cast<Duo *>(arg); duo_body(d, &d->a, &d->b); }
coro_t *duo_b(void *arg) { auto *d = static_cast<Duo *>(arg); duo_body(d, &d->b, &d->a); }

void BM_switch_same_path_ringo(benchmark::State &state)
{
    coro_pool pool;
    if (coro_pool_init(&pool, kStackSize) < 0) {
        state.SkipWithError("coro_pool_init failed");
        return;
    }
    Duo d{};
    coro_init_thread(&d.main);
    if (coro_create(&d.a, &pool, duo_a, &d, "a") < 0 || coro_create(&d.b, &pool, duo_b, &d, "b") < 0) {
        state.SkipWithError("coro_create failed");
        return;
    }
    d.left = 2;   // start both: a -> b -> a, then back to main
    coro_switch(&d.main, &d.a);
    for (auto _ : state) {
        d.left = kBatch;
        coro_switch(&d.main, &d.a);
    }
    d.stop = true;
    d.left = 0;
    coro_switch(&d.main, &d.a);   // a exits
    coro_destroy(&d.a, &pool);
    coro_destroy(&d.b, &pool);    // b stays suspended; its stack is simply returned
    coro_pool_destroy(&pool);
    report_ops(state, static_cast<double>(kBatch) * static_cast<double>(state.iterations()));
}

struct PingPong {
    coro_t self;     // the benchmark thread's context
    coro_t partner;
    bool stop;
};

coro_t *ringo_partner(void *arg)
{
    auto *p = static_cast<PingPong *>(arg);
    while (!p->stop)
        coro_switch(&p->partner, &p->self);
    coro_exit(&p->partner, &p->self);
}

void BM_switch_two_paths_ringo(benchmark::State &state)
{
    coro_pool pool;
    if (coro_pool_init(&pool, kStackSize) < 0) {
        state.SkipWithError("coro_pool_init failed");
        return;
    }
    PingPong p{};
    coro_init_thread(&p.self);
    if (coro_create(&p.partner, &pool, ringo_partner, &p, "partner") < 0) {
        coro_pool_destroy(&pool);
        state.SkipWithError("coro_create failed");
        return;
    }
    for (auto _ : state)
        coro_switch(&p.self, &p.partner);   // there and back: two one-way switches
    p.stop = true;
    coro_switch(&p.self, &p.partner);       // the partner exits back to us
    coro_destroy(&p.partner, &pool);
    coro_pool_destroy(&pool);
    report_ops(state, 2.0 * static_cast<double>(state.iterations()));
}

#ifdef RINGO_BENCH_HAVE_FCONTEXT
namespace bctx = boost::context::detail;

struct FDuo {
    bctx::fcontext_t main;
    int64_t left;
};

__attribute__((noinline)) bctx::transfer_t fduo_step(bctx::fcontext_t to, void *data)
{
    return bctx::jump_fcontext(to, data);
}

// Entered from main with the other coroutine's context in t.data (a) or
// from a with a's context (b); both then ping-pong through fduo_step.
void fduo_body(bctx::transfer_t t)
{
    auto *d = static_cast<FDuo *>(*static_cast<void **>(t.data));
    bctx::fcontext_t other = static_cast<bctx::fcontext_t *>(t.data)[1];
    bctx::fcontext_t from = t.fctx;
    if (other) {   // a: first start b, which comes back with its own context
        void *msg[2] = { d, nullptr };
        t = bctx::jump_fcontext(other, msg);
        other = t.fctx;
        t = bctx::jump_fcontext(from, nullptr);   // back to main, set up
        d->main = t.fctx;
    } else {       // b: hand our context to a
        other = from;
        t = bctx::jump_fcontext(other, nullptr);
        other = t.fctx;
    }
    for (;;) {
        while (d->left > 0) {
            d->left--;
            t = fduo_step(other, nullptr);
            other = t.fctx;
        }
        t = bctx::jump_fcontext(d->main, nullptr);
        d->main = t.fctx;
    }
}

void BM_switch_same_path_fcontext(benchmark::State &state)
{
    void *sa = std::malloc(kStackSize), *sb = std::malloc(kStackSize);
    if (!sa || !sb) {
        state.SkipWithError("no memory for the stacks");
        return;
    }
    FDuo d{};
    bctx::fcontext_t a = bctx::make_fcontext(static_cast<char *>(sa) + kStackSize, kStackSize, fduo_body);
    bctx::fcontext_t b = bctx::make_fcontext(static_cast<char *>(sb) + kStackSize, kStackSize, fduo_body);
    void *msg[2] = { &d, b };
    a = bctx::jump_fcontext(a, msg).fctx;   // a starts b, pairs up, returns
    for (auto _ : state) {
        d.left = kBatch;
        a = bctx::jump_fcontext(a, nullptr).fctx;
    }
    std::free(sa);
    std::free(sb);
    report_ops(state, static_cast<double>(kBatch) * static_cast<double>(state.iterations()));
}

void fcontext_partner(bctx::transfer_t t)
{
    for (;;)
        t = bctx::jump_fcontext(t.fctx, nullptr);
}

void BM_switch_two_paths_fcontext(benchmark::State &state)
{
    void *stack = std::malloc(kStackSize);   // make_fcontext aligns the top itself
    if (!stack) {
        state.SkipWithError("no memory for the stack");
        return;
    }
    bctx::fcontext_t ctx =
        bctx::make_fcontext(static_cast<char *>(stack) + kStackSize, kStackSize, fcontext_partner);
    for (auto _ : state)
        ctx = bctx::jump_fcontext(ctx, nullptr).fctx;   // there and back
    std::free(stack);
    report_ops(state, 2.0 * static_cast<double>(state.iterations()));
}
#endif

// ---- tasks ----------------------------------------------------------------

int empty_task(void *) { return 0; }

int spawn_await_main(void *arg)
{
    auto &state = *static_cast<benchmark::State *>(arg);
    for (auto _ : state) {
        ringo_task *t;
        if (ringo_spawn(&t, empty_task, nullptr) < 0 || ringo_await(t) < 0) {
            state.SkipWithError("spawn/await failed");
            break;
        }
    }
    report_ops(state, static_cast<double>(state.iterations()));
    return 0;
}

void BM_spawn_await(benchmark::State &state) { run_in_loop(state, spawn_await_main); }

struct Flag {
    bool stop;
    uint64_t ops;
};

int yielder(void *arg)
{
    auto *f = static_cast<Flag *>(arg);
    while (!f->stop && ringo_yield() == 0) {
    }
    return 0;
}

int yield_main(void *arg)
{
    auto &state = *static_cast<benchmark::State *>(arg);
    Flag f{};
    ringo_task *b;
    if (ringo_spawn(&b, yielder, &f) < 0) {
        state.SkipWithError("spawn failed");
        return 0;
    }
    for (auto _ : state)
        ringo_yield();   // A -> B -> A
    f.stop = true;
    ringo_await(b);
    report_ops(state, static_cast<double>(state.iterations()));
    return 0;
}

void BM_yield_roundtrip(benchmark::State &state) { run_in_loop(state, yield_main); }

// ---- NOP round trips --------------------------------------------------------

int nop_helper(void *arg)
{
    auto *f = static_cast<Flag *>(arg);
    while (!f->stop && ringo_nop() == 0)
        f->ops++;
    return 0;
}

// The helpers first run when this task first suspends, inside the timed
// region, and the count is read as soon as the loop ends, before this task
// suspends again: `ops` covers exactly the timed region (the helpers' ops
// still in flight at the end are left out, at most n-1).
int nop_main(void *arg)
{
    auto &state = *static_cast<benchmark::State *>(arg);
    Flag f{};
    std::vector<ringo_task *> helpers;
    for (int64_t i = 1; i < state.range(0); i++) {
        ringo_task *t;
        if (ringo_spawn(&t, nop_helper, &f) < 0)
            break;
        helpers.push_back(t);
    }
    if (static_cast<int64_t>(helpers.size()) + 1 != state.range(0))
        state.SkipWithError("spawn failed");
    for (auto _ : state) {
        if (ringo_nop() < 0) {
            state.SkipWithError("ringo_nop failed");
            break;
        }
        f.ops++;
    }
    double ops = static_cast<double>(f.ops);
    f.stop = true;
    for (ringo_task *t : helpers)
        ringo_await(t);
    report_ops(state, ops);
    return 0;
}

void BM_nop(benchmark::State &state) { run_in_loop(state, nop_main); }

}  // namespace

int main(int argc, char **argv)
{
    // Built with -Dfpu_context=false (scripts/bench.sh builds both), the switch
    // row gets its own name so both land in one table.
    const char *suffix = ringo__coro_fpu_context ? "ringo" : "ringo_nofpu";
    benchmark::RegisterBenchmark((std::string("BM_switch_oneway/") + suffix).c_str(),
                                 BM_switch_same_path_ringo);
    benchmark::RegisterBenchmark((std::string("BM_switch_two_paths/") + suffix).c_str(),
                                 BM_switch_two_paths_ringo);
#ifdef RINGO_BENCH_HAVE_FCONTEXT
    benchmark::RegisterBenchmark("BM_switch_oneway/fcontext", BM_switch_same_path_fcontext);
    benchmark::RegisterBenchmark("BM_switch_two_paths/fcontext", BM_switch_two_paths_fcontext);
#endif
    benchmark::RegisterBenchmark("BM_spawn_await", BM_spawn_await);
    benchmark::RegisterBenchmark("BM_yield_roundtrip", BM_yield_roundtrip);
    benchmark::RegisterBenchmark("BM_nop", BM_nop)->Arg(1)->Arg(32);

    // Recorded in the JSON context: the switch costs differ a lot with it.
    benchmark::AddCustomContext("ringo_fpu_context", ringo__coro_fpu_context ? "1" : "0");
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
