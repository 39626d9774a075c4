/* ringo_to_thread and the worker pool: status, threads and signal masks,
 * concurrency, the loop running on meanwhile, cancellation and deadlines
 * (fn always runs to its end first), bad input, one pool per loop, idle
 * shrinking, thread creation failure. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "helpers.h"

/* Worker threads alive now (they name themselves "ringo-worker"). */
static int worker_count(void)
{
    return thread_count("ringo-worker");
}

/* Spin (off the loop: in fn) until *flag is set; false after 2 s. */
static bool wait_flag(atomic_int *flag)
{
    for (int i = 0; i < 20000 && !atomic_load(flag); i++)
        usleep(100);
    return atomic_load(flag) != 0;
}

/* In a task: yield to the loop until *flag is set; false after 2 s. */
static bool await_flag(atomic_int *flag)
{
    int64_t end = ringo_now() + RINGO_SEC(2);
    while (!atomic_load(flag) && ringo_now() < end)
        ringo_sleep(RINGO_MS(1));
    return atomic_load(flag) != 0;
}

/* ---- status, thread, signal mask --------------------------------------- */

struct where { pid_t tid; bool all_blocked; int missing; };

static int report_where(void *arg)
{
    struct where *w = arg;
    w->tid = gettid();
    sigset_t set;
    pthread_sigmask(SIG_BLOCK, NULL, &set);
    w->all_blocked = true;
    for (int s = 1; s < SIGRTMIN; s++) {
        if (s == SIGKILL || s == SIGSTOP || s == 32 || s == 33)
            continue;   /* unblockable, or reserved by glibc */
        if (!sigismember(&set, s)) {
            w->all_blocked = false;
            w->missing = s;
        }
    }
    if (!sigismember(&set, SIGRTMIN) || !sigismember(&set, SIGRTMAX))
        w->all_blocked = false;
    return -ENOTSUP;
}

static int ok_fn(void *arg)
{
    (void)arg;
    return 0;
}

static int where_main(void *arg)
{
    struct where *w = arg;
    cr_assert_eq(ringo_to_thread(report_where, w), -ENOTSUP, "fn's status comes back");
    cr_assert_eq(ringo_to_thread(ok_fn, NULL), 0);
    cr_assert_neq(w->tid, 0);
    cr_assert_neq(w->tid, gettid(), "fn ran on the loop's thread");
    cr_assert(w->all_blocked, "signal %d is not blocked on the worker", w->missing);
    sigset_t mine;
    pthread_sigmask(SIG_BLOCK, NULL, &mine);
    cr_assert_not(sigismember(&mine, SIGUSR1), "the loop thread's mask was not restored");
    return 0;
}

Test(thread, returns_status_from_another_thread_with_every_signal_blocked)
{
    struct where w = { 0 };
    cr_assert_eq(run_clean(where_main, &w), 0);
}

/* A process-directed signal must land on the loop's thread, the only one
 * not blocking it, also while a worker runs. */
static atomic_int sig_tid;
static void on_usr1(int s)
{
    (void)s;
    atomic_store(&sig_tid, (int)gettid());
}

struct gate { atomic_int started, release, finished; };

static int gated(void *arg)
{
    struct gate *g = arg;
    atomic_store(&g->started, 1);
    wait_flag(&g->release);
    atomic_store(&g->finished, 1);
    return 0;
}

struct call { ringo_fn fn; void *arg; int ret; atomic_int *done_at_return; bool done_seen; int64_t deadline; };

static int caller(void *arg)
{
    struct call *c = arg;
    if (c->deadline)
        ringo_deadline(c->deadline);
    c->ret = ringo_to_thread(c->fn, c->arg);
    c->done_seen = c->done_at_return && atomic_load(c->done_at_return);
    return 0;
}

static int sig_main(void *arg)
{
    (void)arg;
    struct gate g = { 0 };
    struct call c = { .fn = gated, .arg = &g };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, caller, &c), 0);
    cr_assert(await_flag(&g.started));
    cr_assert_eq(kill(getpid(), SIGUSR1), 0);
    cr_assert(await_flag(&sig_tid), "the signal never arrived");
    atomic_store(&g.release, 1);
    cr_assert_eq(ringo_await(t), 0);
    cr_assert_eq(c.ret, 0);
    cr_assert_eq(atomic_load(&sig_tid), gettid(), "the signal went to a worker");
    return 0;
}

Test(thread, process_signal_reaches_the_loop_thread_not_a_worker)
{
    struct sigaction sa = { .sa_handler = on_usr1 };
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    cr_assert_eq(run_clean(sig_main, NULL), 0);
}

/* ---- concurrency -------------------------------------------------------- */

#define NCALLS 200

struct many { pid_t tids[NCALLS]; int rets[NCALLS]; atomic_int peak, running; };
struct one { struct many *m; int i; };

static int nap(void *arg)
{
    struct one *o = arg;
    int now = atomic_fetch_add(&o->m->running, 1) + 1;
    int peak = atomic_load(&o->m->peak);
    while (now > peak && !atomic_compare_exchange_weak(&o->m->peak, &peak, now))
        ;
    usleep(1000);
    o->m->tids[o->i] = gettid();
    atomic_fetch_sub(&o->m->running, 1);
    return o->i % 2 ? -EIO : 0;
}

static int nap_caller(void *arg)
{
    struct one *o = arg;
    o->m->rets[o->i] = ringo_to_thread(nap, o);
    return 0;
}

static int many_main(void *arg)
{
    struct many *m = arg;
    static struct one ones[NCALLS];
    ringo_task *ts[NCALLS];
    for (int i = 0; i < NCALLS; i++) {
        ones[i] = (struct one){ m, i };
        cr_assert_eq(ringo_spawn(&ts[i], nap_caller, &ones[i]), 0);
    }
    cr_assert_eq(ringo_gather(ts, NCALLS, NULL), 0);
    for (int i = 0; i < NCALLS; i++)
        cr_assert_eq(m->rets[i], i % 2 ? -EIO : 0, "call %d returned %d", i, m->rets[i]);
    int distinct = 0;
    for (int i = 0; i < NCALLS; i++) {
        int j = 0;
        while (j < i && m->tids[j] != m->tids[i])
            j++;
        distinct += j == i;
    }
    cr_assert_gt(distinct, 1, "every call ran on one thread");
    cr_assert_leq(distinct, 64, "the pool grew past its cap");
    /* Calls overlapped (a wall-clock bound would only measure how busy the
     * machine is: 209 ms for the 200 x 1 ms once, under a parallel build). */
    cr_assert_gt(atomic_load(&m->peak), 1);
    return 0;
}

Test(thread, many_calls_run_in_parallel_and_all_return)
{
    static struct many m;
    cr_assert_eq(run_clean(many_main, &m), 0);
}

/* Four calls that can only finish together (a barrier) need four threads at
 * once (up to 2 s each waits for the others). */
#define NBARRIER 4
static atomic_int arrived;

static int barrier(void *arg)
{
    (void)arg;
    atomic_fetch_add(&arrived, 1);
    for (int i = 0; i < 20000 && atomic_load(&arrived) < NBARRIER; i++)
        usleep(100);
    return atomic_load(&arrived) >= NBARRIER ? 0 : -ETIMEDOUT;
}

static int call_barrier(void *arg)
{
    (void)arg;
    return ringo_to_thread(barrier, NULL);
}

/* Calls that block fan out: the barrier's calls each wait until all of them
 * run at once, which only separate workers can do. Workers wake one another
 * as they take jobs (engine/pool.c), so a burst must still reach them all. */
static int meet_main(void *arg)
{
    (void)arg;
    ringo_task *t[NBARRIER];
    /* Warm the pool with short jobs first: its wake-ups then start from
     * idle workers, not from threads being started. */
    for (int round = 0; round < 3; round++) {
        atomic_store(&arrived, 0);
        cr_assert_eq(ringo_sleep(RINGO_MS(5)), 0);   /* past the workers' spin: all asleep */
        for (int i = 0; i < NBARRIER; i++)
            cr_assert_eq(ringo_spawn(&t[i], call_barrier, NULL), 0);
        int st[NBARRIER];
        cr_assert_eq(ringo_gather(t, NBARRIER, st), 0);
        for (int i = 0; i < NBARRIER; i++)
            cr_assert_eq(st[i], 0, "round %d: call %d never met the others", round, i);
        for (int i = 0; i < 64; i++)
            cr_assert_eq(ringo_to_thread(ok_fn, NULL), 0);
    }
    return 0;
}

Test(thread, blocking_calls_in_a_burst_each_get_a_worker)
{
    cr_assert_eq(run_clean(meet_main, NULL), 0);
}

/* fn blocks on a pipe that only a ticking task of the loop writes to: the
 * call can only return if the loop kept running other tasks. */
struct ticker { int fds[2]; int ticks; bool caller_pending_all_along; ringo_task *caller; char got; };

static int read_pipe(void *arg)
{
    struct ticker *k = arg;
    return read(k->fds[0], &k->got, 1) == 1 ? 0 : -EIO;
}

static int tick(void *arg)
{
    struct ticker *k = arg;
    k->caller_pending_all_along = true;
    for (k->ticks = 0; k->ticks < 20; k->ticks++) {
        k->caller_pending_all_along &= !ringo_task_done(k->caller);
        if (k->ticks % 2)
            ringo_yield();
        else
            ringo_sleep(RINGO_MS(1));
    }
    cr_assert_eq(write(k->fds[1], "x", 1), 1);
    return 0;
}

static int blocked_main(void *arg)
{
    struct ticker *k = arg;
    struct call c = { .fn = read_pipe, .arg = k };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&k->caller, caller, &c), 0);
    cr_assert_eq(ringo_spawn(&t, tick, k), 0);
    cr_assert_eq(ringo_await(t), 0);
    cr_assert_eq(ringo_await(k->caller), 0);
    cr_assert_eq(c.ret, 0);
    cr_assert_eq(k->got, 'x');
    cr_assert_eq(k->ticks, 20);
    cr_assert(k->caller_pending_all_along);
    return 0;
}

Test(thread, loop_runs_other_tasks_while_a_worker_blocks)
{
    struct ticker k = { 0 };
    cr_assert_eq(pipe(k.fds), 0);
    cr_assert_eq(run_clean(blocked_main, &k), 0);
    close(k.fds[0]);
    close(k.fds[1]);
}

/* ---- cancellation and deadlines ----------------------------------------- */

static int cancel_main(void *arg)
{
    (void)arg;
    struct gate g = { 0 };
    struct call c = { .fn = gated, .arg = &g, .done_at_return = &g.finished };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, caller, &c), 0);
    cr_assert(await_flag(&g.started));
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(20)), 0);
    cr_assert_not(ringo_task_done(t), "the caller returned while fn still ran");
    atomic_store(&g.release, 1);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    cr_assert_eq(c.ret, -ECANCELED);
    cr_assert(c.done_seen, "to_thread returned before fn finished");
    /* The pool is still good after an interrupted call. */
    cr_assert_eq(ringo_to_thread(ok_fn, NULL), 0);
    return 0;
}

Test(thread, cancelled_caller_waits_for_fn_then_gets_ecanceled)
{
    cr_assert_eq(run_clean(cancel_main, NULL), 0);
}

static int deadline_main(void *arg)
{
    (void)arg;
    struct gate g = { 0 };
    struct call c = { .fn = gated, .arg = &g, .done_at_return = &g.finished,
                      .deadline = ringo_now() + RINGO_MS(10) };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, caller, &c), 0);
    cr_assert(await_flag(&g.started));
    cr_assert_eq(ringo_sleep(RINGO_MS(40)), 0);   /* well past the deadline */
    cr_assert_not(ringo_task_done(t), "the caller returned while fn still ran");
    atomic_store(&g.release, 1);
    cr_assert_eq(ringo_await(t), 0);
    cr_assert_eq(c.ret, -ETIMEDOUT);
    cr_assert(c.done_seen, "to_thread returned before fn finished");
    return 0;
}

Test(thread, deadline_waits_for_fn_then_gets_etimedout)
{
    cr_assert_eq(run_clean(deadline_main, NULL), 0);
}

/* ---- bad input ---------------------------------------------------------- */

static int count_calls(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

static int precancelled(void *arg)
{
    ringo_cancel(ringo_self());
    return ringo_to_thread(count_calls, arg);
}

static int bad_main(void *arg)
{
    atomic_int *calls = arg;
    cr_assert_eq(ringo_to_thread(NULL, NULL), -EINVAL);
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, precancelled, calls), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    return 0;
}

Test(thread, bad_input_and_no_loop_are_refused_without_running_fn)
{
    atomic_int calls = 0;
    cr_assert_eq(ringo_to_thread(count_calls, &calls), -EPERM);
    cr_assert_eq(run_clean(bad_main, &calls), 0);
    cr_assert_eq(atomic_load(&calls), 0);
}

/* ---- pool lifetime ------------------------------------------------------ */

static int one_call_main(void *arg)
{
    atomic_int *calls = arg;
    cr_assert_eq(ringo_to_thread(count_calls, calls), 0);
    cr_assert_geq(worker_count(), 1);
    return 0;
}

Test(thread, each_loop_gets_a_pool_joined_at_close)
{
    atomic_int calls = 0;
    cr_assert_eq(worker_count(), 0);
    cr_assert_eq(run_clean(one_call_main, &calls), 0);
    cr_assert_eq(worker_count(), 0, "workers outlived their loop");
    cr_assert_eq(run_clean(one_call_main, &calls), 0);
    cr_assert_eq(worker_count(), 0);
    cr_assert_eq(atomic_load(&calls), 2);
}

/* The barrier's four threads, idle for 50 ms, leave; the next call starts
 * one again. */
static int shrink_main(void *arg)
{
    (void)arg;
    ringo_task *ts[NBARRIER];
    atomic_store(&arrived, 0);
    for (int i = 0; i < NBARRIER; i++)
        cr_assert_eq(ringo_spawn(&ts[i], call_barrier, NULL), 0);
    int st[NBARRIER];
    cr_assert_eq(ringo_gather(ts, NBARRIER, st), 0, "the pool did not run %d calls at once",
                 NBARRIER);
    cr_assert_geq(worker_count(), NBARRIER);
    int64_t end = ringo_now() + RINGO_SEC(2);
    while (worker_count() > 0 && ringo_now() < end)
        ringo_sleep(RINGO_MS(10));
    cr_assert_eq(worker_count(), 0, "idle workers did not exit");
    atomic_int calls = 0;
    cr_assert_eq(ringo_to_thread(count_calls, &calls), 0);
    cr_assert_eq(atomic_load(&calls), 1);
    return 0;
}

Test(thread, idle_workers_exit_and_the_pool_starts_again)
{
    setenv("RINGO_WORKER_IDLE_MS", "50", 1);
    cr_assert_eq(run_clean(shrink_main, NULL), 0);
}

/* A thread stack cannot be mapped under a tight address-space limit, which
 * makes pthread_create fail with EAGAIN even for root. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

#ifndef SANITIZED
static long vm_size(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

static int nothread_main(void *arg)
{
    atomic_int *calls = arg;
    struct rlimit old;
    cr_assert_eq(getrlimit(RLIMIT_AS, &old), 0);
    struct rlimit tight = { .rlim_cur = (rlim_t)vm_size() + 1024 * 1024, .rlim_max = old.rlim_max };
    cr_assert_eq(setrlimit(RLIMIT_AS, &tight), 0);
    int ret = ringo_to_thread(count_calls, calls);
    cr_assert_eq(setrlimit(RLIMIT_AS, &old), 0);
    cr_assert_eq(ret, -EAGAIN);
    cr_assert_eq(atomic_load(calls), 0);
    cr_assert_eq(ringo_to_thread(count_calls, calls), 0, "no recovery once threads can start");
    cr_assert_eq(atomic_load(calls), 1);
    return 0;
}
#endif

Test(thread, thread_creation_failure_is_eagain)
{
#ifdef SANITIZED
    cr_skip_test("sanitizers reserve address space up front");
#else
    atomic_int calls = 0;
    cr_assert_eq(run_clean(nothread_main, &calls), 0);
#endif
}
