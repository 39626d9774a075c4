// bench/bench_loops.cc: many loops, each figure beside its baseline in the
// same binary and run, per operation (bench_util.h's ops_per_iter).
//
//   BM_loops_spawn_on/<wake>[_nospin]  loop 0 ringo_spawn_on's an empty task
//                              on loop 1 and awaits it, per round trip; two
//                              loops on the first two CPUs. <wake>: msg_ring
//                              (the default) or eventfd (RINGO_NO_MSG_RING=1);
//                              _nospin: idle_spin_ns < 0, every wait sleeps
//   BM_loops_pingpong/condvar  the baseline: two threads on the same CPUs
//                              hand a turn back and forth with a mutex and a
//                              condition variable each way, per round trip
//   BM_loops_chan/ringo        loop 0 ringo_chan_send's, loop 1 ringo_chan_
//                              recv's, capacity 1024, per item
//   BM_loops_chan/condvar      the baseline: a bounded (1024) mutex+condvar
//                              queue between two pinned threads, per item
//   BM_loops_call_soon_threadsafe  a thread that runs no loop posts calls to
//                              a loop on the other CPU, per call run (timed
//                              until every posted call has run)
//   BM_loops_scaling/ringo/<n> n loops each spawn+await an empty task and
//                              do yield round trips a fixed number of times,
//                              nothing between loops; per op of all loops
//   BM_loops_scaling/threads/<n>  the machine's own scaling: n pinned plain
//                              threads doing a fixed count of CPU-bound steps
//
// Everything involving two threads measures process CPU time (both CPUs,
// spinning included) and sizes iterations on real time.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <pthread.h>
#include <sched.h>

#include <ringo.h>

#include "bench_util.h"

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

namespace {

// The first two CPUs of our affinity mask: where ringo_run_loops puts loops
// 0 and 1, and so where the baselines' threads go. false: fewer than two.
bool two_cpus(int cpu[2])
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return false;
    int k = 0;
    for (int c = 0; c < CPU_SETSIZE && k < 2; c++)
        if (CPU_ISSET(c, &set))
            cpu[k++] = c;
    return k == 2;
}

void pin_self(int cpu)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    (void)pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

// A thread pinned to cpu running fn(arg).
struct Pinned {
    int cpu;
    void *(*fn)(void *);
    void *arg;
};

void *pinned_start(void *p)
{
    Pinned pin = *static_cast<Pinned *>(p);
    delete static_cast<Pinned *>(p);
    pin_self(pin.cpu);
    return pin.fn(pin.arg);
}

bool start_pinned(pthread_t *tid, int cpu, void *(*fn)(void *), void *arg)
{
    auto *p = new Pinned{ cpu, fn, arg };
    if (pthread_create(tid, nullptr, pinned_start, p) == 0)
        return true;
    delete p;
    return false;
}

void skip_on(benchmark::State &state, int ret)
{
    if (ret < 0 && !state.error_occurred())
        state.SkipWithError(ret == -ENOSYS || ret == -EPERM ? "io_uring unavailable"
                                                            : std::strerror(-ret));
}

// ---- spawn_on round trip ------------------------------------------------------

int empty_task(void *) { return 0; }

struct TwoLoops {
    benchmark::State *state;
    ringo_event *done;   // loop 1's: set by loop 0 once it is finished
};

// Loop 0 runs the timed loop; loop 1 serves, and its main stays alive until
// loop 0 is done (a loop whose main returned refuses new work).
int spawn_on_main(void *arg)
{
    auto *tl = static_cast<TwoLoops *>(arg);
    if (ringo_loop_index() != 0)
        return ringo_event_wait(tl->done);
    auto &state = *tl->state;
    ringo_loop *peer = ringo_loop_at(1);
    for (auto _ : state) {
        ringo_task *t;
        if (ringo_spawn_on(peer, &t, empty_task, nullptr) < 0 || ringo_await(t) < 0) {
            state.SkipWithError("spawn_on/await failed");
            break;
        }
    }
    report_ops(state, static_cast<double>(state.iterations()));
    ringo_event_set(tl->done);
    return 0;
}

// eventfd: wake-ups through the eventfd (RINGO_NO_MSG_RING=1); nospin:
// idle_spin_ns < 0.
void BM_loops_spawn_on(benchmark::State &state, bool eventfd, bool nospin)
{
    int cpu[2];
    if (!two_cpus(cpu)) {
        state.SkipWithError("needs 2 CPUs");
        return;
    }
    TwoLoops tl{ &state, nullptr };
    if (ringo_event_new(&tl.done) < 0) {
        state.SkipWithError("ringo_event_new failed");
        return;
    }
    ringo_config cfg{};
    cfg.idle_spin_ns = nospin ? -1 : 0;
    // Read as each loop opens, inside ringo_run_loops.
    if (eventfd)
        setenv("RINGO_NO_MSG_RING", "1", 1);
    int ret = ringo_run_loops(&cfg, 2, spawn_on_main, &tl);
    if (eventfd)
        unsetenv("RINGO_NO_MSG_RING");
    ringo_event_free(tl.done);
    skip_on(state, ret);
}

// The baseline: the turn passes A -> B -> A, each hand-over a signal on the
// other side's condition variable; a waiting side sleeps in the kernel.
struct PingPong {
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t to_a = PTHREAD_COND_INITIALIZER, to_b = PTHREAD_COND_INITIALIZER;
    int turn = 0;   // 0: A's, 1: B's, -1: B stops
    benchmark::State *state;
};

void *pingpong_b(void *arg)
{
    auto *p = static_cast<PingPong *>(arg);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->turn == 0)
            pthread_cond_wait(&p->to_b, &p->mu);
        if (p->turn < 0)
            break;
        p->turn = 0;
        pthread_cond_signal(&p->to_a);
    }
    pthread_mutex_unlock(&p->mu);
    return nullptr;
}

void *pingpong_a(void *arg)
{
    auto *p = static_cast<PingPong *>(arg);
    auto &state = *p->state;
    for (auto _ : state) {
        pthread_mutex_lock(&p->mu);
        p->turn = 1;
        pthread_cond_signal(&p->to_b);
        while (p->turn != 0)
            pthread_cond_wait(&p->to_a, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_lock(&p->mu);
    p->turn = -1;
    pthread_cond_signal(&p->to_b);
    pthread_mutex_unlock(&p->mu);
    report_ops(state, static_cast<double>(state.iterations()));
    return nullptr;
}

// Two pinned threads, the timed loop on the first (as on loop 0 above).
void run_pair(benchmark::State &state, void *(*a)(void *), void *(*b)(void *), void *arg)
{
    int cpu[2];
    pthread_t ta, tb;
    if (!two_cpus(cpu)) {
        state.SkipWithError("needs 2 CPUs");
        return;
    }
    if (!start_pinned(&tb, cpu[1], b, arg)) {
        state.SkipWithError("pthread_create failed");
        return;
    }
    if (!start_pinned(&ta, cpu[0], a, arg)) {
        state.SkipWithError("pthread_create failed");
        abort();   // b waits forever
    }
    pthread_join(ta, nullptr);
    pthread_join(tb, nullptr);
}

void BM_loops_pingpong_condvar(benchmark::State &state)
{
    PingPong p;
    p.state = &state;
    run_pair(state, pingpong_a, pingpong_b, &p);
}

// ---- channel throughput ---------------------------------------------------------

constexpr size_t kChanCap = 1024;
char g_stop_item;   // the sentinel: loop 1 stops when it receives it

struct ChanRun {
    benchmark::State *state;
    ringo_chan *c;
    uint64_t received;   // loop 1's count, read after the run
};

int chan_main(void *arg)
{
    auto *cr = static_cast<ChanRun *>(arg);
    if (ringo_loop_index() != 0) {
        for (;;) {
            void *item;
            int ret = ringo_chan_recv(cr->c, &item);
            if (ret < 0)
                return ret;
            if (item == &g_stop_item)
                return 0;
            cr->received++;
        }
    }
    auto &state = *cr->state;
    uint64_t sent = 0;
    for (auto _ : state) {
        if (ringo_chan_send(cr->c, &sent) < 0) {
            state.SkipWithError("ringo_chan_send failed");
            break;
        }
        sent++;
    }
    report_ops(state, static_cast<double>(state.iterations()));
    return ringo_chan_send(cr->c, &g_stop_item);
}

void BM_loops_chan_ringo(benchmark::State &state)
{
    int cpu[2];
    if (!two_cpus(cpu)) {
        state.SkipWithError("needs 2 CPUs");
        return;
    }
    ChanRun cr{ &state, nullptr, 0 };
    if (ringo_chan_new(&cr.c, kChanCap) < 0) {
        state.SkipWithError("ringo_chan_new failed");
        return;
    }
    int ret = ringo_run_loops(nullptr, 2, chan_main, &cr);
    ringo_chan_free(cr.c);
    skip_on(state, ret);
    if (!state.error_occurred() && cr.received != static_cast<uint64_t>(state.iterations()))
        state.SkipWithError("items lost");
}

// The baseline: a ring of 1024 under one mutex, a condition variable for
// each side, signalled only when that side waits.
struct CvQueue {
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
    void *buf[kChanCap];
    size_t head = 0, len = 0;
    int waiting_get = 0, waiting_put = 0;
    benchmark::State *state;
    uint64_t received = 0;

    void put(void *item)
    {
        pthread_mutex_lock(&mu);
        while (len == kChanCap) {
            waiting_put++;
            pthread_cond_wait(&not_full, &mu);
            waiting_put--;
        }
        buf[(head + len) % kChanCap] = item;
        len++;
        if (waiting_get)
            pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&mu);
    }

    void *get()
    {
        pthread_mutex_lock(&mu);
        while (len == 0) {
            waiting_get++;
            pthread_cond_wait(&not_empty, &mu);
            waiting_get--;
        }
        void *item = buf[head];
        head = (head + 1) % kChanCap;
        len--;
        if (waiting_put)
            pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&mu);
        return item;
    }
};

void *cvq_producer(void *arg)
{
    auto *q = static_cast<CvQueue *>(arg);
    auto &state = *q->state;
    uint64_t sent = 0;
    for (auto _ : state) {
        q->put(&sent);
        sent++;
    }
    report_ops(state, static_cast<double>(state.iterations()));
    q->put(&g_stop_item);
    return nullptr;
}

void *cvq_consumer(void *arg)
{
    auto *q = static_cast<CvQueue *>(arg);
    while (q->get() != &g_stop_item)
        q->received++;
    return nullptr;
}

void BM_loops_chan_condvar(benchmark::State &state)
{
    auto *q = new CvQueue;
    q->state = &state;
    run_pair(state, cvq_producer, cvq_consumer, q);
    if (!state.error_occurred() && q->received != static_cast<uint64_t>(state.iterations()))
        state.SkipWithError("items lost");
    delete q;
}

// ---- call_soon_threadsafe -------------------------------------------------------

// Calls per iteration: the wait for the last one to run ends each iteration,
// so the pipeline drains once per kSoonBatch calls (one wake-up among tens
// of thousands of calls), and the figure is the sustained rate.
constexpr uint64_t kSoonBatch = 32768;

struct Soon {
    std::atomic<ringo_loop *> loop{ nullptr };
    std::atomic<uint64_t> ran{ 0 };   // written by the loop only
    ringo_event *stop;
    int ret = 0;
};

int soon_count(void *arg)
{
    auto *s = static_cast<Soon *>(arg);
    s->ran.store(s->ran.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    return 0;
}

int soon_loop_main(void *arg)
{
    auto *s = static_cast<Soon *>(arg);
    s->loop.store(ringo_loop_current(), std::memory_order_release);
    return ringo_event_wait(s->stop);
}

void *soon_loop_thread(void *arg)
{
    auto *s = static_cast<Soon *>(arg);
    s->ret = ringo_run(soon_loop_main, s);
    if (s->ret < 0)
        s->loop.store(reinterpret_cast<ringo_loop *>(-1), std::memory_order_release);
    return nullptr;
}

void BM_loops_call_soon_threadsafe(benchmark::State &state)
{
    int cpu[2];
    if (!two_cpus(cpu)) {
        state.SkipWithError("needs 2 CPUs");
        return;
    }
    Soon s;
    if (ringo_event_new(&s.stop) < 0) {
        state.SkipWithError("ringo_event_new failed");
        return;
    }
    pthread_t loop_tid;
    if (!start_pinned(&loop_tid, cpu[1], soon_loop_thread, &s)) {
        ringo_event_free(s.stop);
        state.SkipWithError("pthread_create failed");
        return;
    }
    // This thread is the foreign one, on the other CPU for the run.
    cpu_set_t old;
    bool restore = pthread_getaffinity_np(pthread_self(), sizeof old, &old) == 0;
    pin_self(cpu[0]);
    ringo_loop *l;
    while (!(l = s.loop.load(std::memory_order_acquire)))
        sched_yield();
    if (l != reinterpret_cast<ringo_loop *>(-1)) {
        uint64_t target = 0;
        for (auto _ : state) {
            for (uint64_t i = 0; i < kSoonBatch; i++)
                if (ringo_call_soon_threadsafe(l, soon_count, &s) < 0) {
                    state.SkipWithError("ringo_call_soon_threadsafe failed");
                    abort();   // the wait below would never end
                }
            target += kSoonBatch;
            while (s.ran.load(std::memory_order_acquire) < target)
                CPU_RELAX();
        }
        report_ops(state, static_cast<double>(state.iterations() * kSoonBatch));
        ringo_event_set(s.stop);
    }
    pthread_join(loop_tid, nullptr);
    if (restore)
        (void)pthread_setaffinity_np(pthread_self(), sizeof old, &old);
    ringo_event_free(s.stop);
    skip_on(state, s.ret);
}

// ---- scaling of engine work ------------------------------------------------------

// Per loop and run: kScaleN spawn+await of an empty task, then kScaleN yield
// round trips with a partner task: 2 * kScaleN ops, CPU-bound, nothing sent
// between loops. About 25 ms per loop, against a start-up (threads, rings,
// stack pools) of ~0.15 ms for one loop and ~0.35 ms for two: under 1.5%.
constexpr uint64_t kScaleN = 400000;

struct Stop {
    bool stop;
};

int scale_yielder(void *arg)
{
    auto *f = static_cast<Stop *>(arg);
    while (!f->stop && ringo_yield() == 0) {
    }
    return 0;
}

int scale_main(void *arg)
{
    auto *failed = static_cast<std::atomic<int> *>(arg);
    for (uint64_t i = 0; i < kScaleN; i++) {
        ringo_task *t;
        if (ringo_spawn(&t, empty_task, nullptr) < 0 || ringo_await(t) < 0) {
            failed->store(1);
            return 0;
        }
    }
    Stop f{ false };
    ringo_task *b;
    if (ringo_spawn(&b, scale_yielder, &f) < 0) {
        failed->store(1);
        return 0;
    }
    for (uint64_t i = 0; i < kScaleN; i++)
        ringo_yield();   // A -> B -> A
    f.stop = true;
    ringo_await(b);
    return 0;
}

void BM_loops_scaling_ringo(benchmark::State &state)
{
    auto n = static_cast<unsigned>(state.range(0));
    int cpu[2];
    if (n > 1 && !two_cpus(cpu)) {
        state.SkipWithError("needs 2 CPUs");
        return;
    }
    std::atomic<int> failed{ 0 };
    for (auto _ : state) {
        int ret = ringo_run_loops(nullptr, n, scale_main, &failed);
        if (ret < 0 || failed.load()) {
            skip_on(state, ret < 0 ? ret : -EIO);
            break;
        }
    }
    report_ops(state, static_cast<double>(state.iterations() * n * 2 * kScaleN));
}

// What the machine allows: the same shape without ringo, n pinned threads
// each doing a fixed count of plain CPU-bound steps (an LCG step and a store
// into a 4 KiB buffer of its own, through a call the compiler cannot
// remove), started and joined per iteration as the loops are. Two vCPUs
// that share a physical core, or a host that is busy, show here as a
// speedup well under 2 before ringo is involved.
constexpr uint64_t kThreadSteps = 16000000;

__attribute__((noinline)) uint64_t plain_step(uint64_t x, uint64_t *buf)
{
    x = x * 6364136223846793005u + 1442695040888963407u;
    buf[(x >> 55) & 511] += x;
    return x;
}

void *plain_worker(void *)
{
    uint64_t buf[512] = {};
    uint64_t x = 1;
    for (uint64_t i = 0; i < kThreadSteps; i++)
        x = plain_step(x, buf);
    benchmark::DoNotOptimize(buf);
    return nullptr;
}

void BM_loops_scaling_threads(benchmark::State &state)
{
    auto n = static_cast<unsigned>(state.range(0));
    int cpu[2];
    if (!two_cpus(cpu))
        cpu[0] = cpu[1] = 0;
    else if (n > 2) {
        state.SkipWithError("at most 2 threads");
        return;
    }
    for (auto _ : state) {
        pthread_t t[2];
        for (unsigned i = 0; i < n; i++)
            if (!start_pinned(&t[i], cpu[i], plain_worker, nullptr))
                abort();
        for (unsigned i = 0; i < n; i++)
            pthread_join(t[i], nullptr);
    }
    report_ops(state, static_cast<double>(state.iterations() * n * kThreadSteps));
}

}  // namespace

// Two threads, each on a CPU of its own: the process's CPU time (spinning
// counts; the names get "/process_time/real_time"), iterations sized on real
// time. A minimum time of 0.2 s per run (unless given on the command line)
// keeps the binary within a few tens of seconds at 5 repetitions.
int main(int argc, char **argv)
{
    auto two = [](benchmark::internal::Benchmark *b) { b->MeasureProcessCPUTime()->UseRealTime(); };
    struct {
        const char *name;
        bool eventfd, nospin;
    } spawn_on[] = {
        { "BM_loops_spawn_on/msg_ring", false, false },
        { "BM_loops_spawn_on/msg_ring_nospin", false, true },
        { "BM_loops_spawn_on/eventfd", true, false },
        { "BM_loops_spawn_on/eventfd_nospin", true, true },
    };
    for (auto &v : spawn_on)
        two(benchmark::RegisterBenchmark(v.name, [v](benchmark::State &st) {
            BM_loops_spawn_on(st, v.eventfd, v.nospin);
        }));
    two(benchmark::RegisterBenchmark("BM_loops_pingpong/condvar", BM_loops_pingpong_condvar));
    two(benchmark::RegisterBenchmark("BM_loops_chan/ringo", BM_loops_chan_ringo));
    two(benchmark::RegisterBenchmark("BM_loops_chan/condvar", BM_loops_chan_condvar));
    two(benchmark::RegisterBenchmark("BM_loops_call_soon_threadsafe",
                                     BM_loops_call_soon_threadsafe));
    two(benchmark::RegisterBenchmark("BM_loops_scaling/ringo", BM_loops_scaling_ringo)
            ->Arg(1)->Arg(2));
    two(benchmark::RegisterBenchmark("BM_loops_scaling/threads", BM_loops_scaling_threads)
            ->Arg(1)->Arg(2));
    // The default first: a --benchmark_min_time given by the caller comes
    // later and wins.
    std::vector<char *> args(argv, argv + argc);
    static char min_time[] = "--benchmark_min_time=0.2";
    args.insert(args.begin() + 1, min_time);
    int n = static_cast<int>(args.size());
    args.push_back(nullptr);
    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data()))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
