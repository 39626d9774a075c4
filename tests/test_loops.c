/* Many loops: ringo_run_loops, the loops of a run, the mains as a group,
 * tasks on other loops (spawn_on, await, cancel, deadlines, gather, wait,
 * wait_for, shield), calls from any thread, primitives bound to one loop.
 * Every cross-loop test runs twice: with MSG_RING wake-ups and with the
 * eventfd path (RINGO_NO_MSG_RING=1). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "helpers.h"
#include "loops_helpers.h"

static void both_wakeups(void (*body)(void))
{
    unsetenv("RINGO_NO_MSG_RING");
    body();
    setenv("RINGO_NO_MSG_RING", "1", 1);
    body();
    unsetenv("RINGO_NO_MSG_RING");
}

/* ---- the loops of a run --------------------------------------------------- */

struct census {
    _Atomic unsigned seen;
    ringo_loop *at[MAX_TEST_LOOPS][MAX_TEST_LOOPS];
    ringo_loop *self[MAX_TEST_LOOPS];
    int cpu[MAX_TEST_LOOPS];
    unsigned count[MAX_TEST_LOOPS];
};

static int census_main(void *arg)
{
    struct census *c = arg;
    unsigned i = ringo_loop_index(), n = ringo_loop_count();
    c->count[i] = n;
    c->self[i] = ringo_loop_current();
    for (unsigned k = 0; k < n; k++)
        c->at[i][k] = ringo_loop_at(k);
    cr_assert_null(ringo_loop_at(n));
    cpu_set_t set;
    cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
    c->cpu[i] = CPU_COUNT(&set) == 1 ? sched_getcpu() : -1;
    atomic_fetch_add(&c->seen, 1);
    return 0;
}

static void census(unsigned n)
{
    struct census c = { .seen = 0 };
    cr_assert_eq(ringo_run_loops(NULL, n, census_main, &c), 0);
    cr_assert_eq(c.seen, n);
    cpu_set_t mine;
    cr_assert_eq(sched_getaffinity(0, sizeof mine, &mine), 0);
    int cpus[CPU_SETSIZE], k = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &mine))
            cpus[k++] = cpu;
    for (unsigned i = 0; i < n; i++) {
        cr_assert_eq(c.count[i], n);
        cr_assert_eq(c.self[i], c.at[0][i], "loop %u's handle differs between loops", i);
        for (unsigned j = 0; j < n; j++)
            cr_assert_eq(c.at[i][j], c.at[0][j]);
        cr_assert_eq(c.cpu[i], cpus[i % (unsigned)k], "loop %u pinned to cpu %d", i, c.cpu[i]);
    }
}

Test(loops, every_loop_runs_main_pinned_to_the_next_cpu_of_the_mask)
{
    census(1);
    census(2);
    census(4);   /* more loops than CPUs */
}

static int count_main(void *arg)
{
    *(unsigned *)arg = ringo_loop_count();
    return 0;
}

Test(loops, zero_means_one_per_cpu_of_the_affinity_mask)
{
    cpu_set_t mine;
    cr_assert_eq(sched_getaffinity(0, sizeof mine, &mine), 0);
    unsigned n = 0;
    cr_assert_eq(ringo_run_loops(NULL, 0, count_main, &n), 0);
    cr_assert_eq(n, (unsigned)CPU_COUNT(&mine));
}

static int single_main(void *arg)
{
    (void)arg;
    cr_assert_eq(ringo_loop_count(), 1);
    cr_assert_eq(ringo_loop_index(), 0);
    cr_assert_not_null(ringo_loop_current());
    cr_assert_eq(ringo_loop_at(0), ringo_loop_current());
    cr_assert_eq(ringo_run_loops(NULL, 2, single_main, NULL), -EBUSY);
    return 0;
}

Test(loops, ringo_run_is_a_run_of_one_loop)
{
    cr_assert_eq(ringo_loop_count(), 0);
    cr_assert_null(ringo_loop_current());
    cr_assert_null(ringo_loop_at(0));
    cr_assert_eq(run_clean(single_main, NULL), 0);
    cr_assert_eq(ringo_run_loops(NULL, 2, NULL, NULL), -EINVAL);
    ringo_config bad = { .flags = 0x80000000u };
    cr_assert_eq(ringo_run_loops(&bad, 2, single_main, NULL), -EINVAL);
}

/* The mains are a group: loop 1's failure cancels loop 0's main, which was
 * serving (sleeping), and the run returns the failure. */
struct group_run { int main0; _Atomic bool leftover_cancelled; };

static int leftover(void *arg)
{
    struct group_run *g = arg;
    int r = ringo_sleep(RINGO_SEC(30));
    atomic_store(&g->leftover_cancelled, r == -ECANCELED);
    return r;
}

static int group_main(void *arg)
{
    struct group_run *g = arg;
    if (ringo_loop_index() == 1) {
        cr_assert_eq(ringo_sleep(RINGO_MS(5)), 0);
        return -EIO;
    }
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, leftover, g), 0);
    ringo_detach(t);
    g->main0 = ringo_sleep(RINGO_SEC(30));
    return g->main0;
}

Test(loops, first_failing_main_cancels_the_others_and_is_returned)
{
    struct group_run g = { .main0 = 1 };
    int before = open_fd_count();
    cr_assert_eq(ringo_run_loops(NULL, 2, group_main, &g), -EIO);
    cr_assert_eq(open_fd_count(), before);
    cr_assert_eq(g.main0, -ECANCELED);
    cr_assert(atomic_load(&g.leftover_cancelled), "loop 0's leftover was not cancelled");
}

/* ---- tasks on other loops ------------------------------------------------- */

static int whereami(void *arg)
{
    (void)arg;
    return 100 + (int)ringo_loop_index();
}

#define ROUNDS 100000

static int round_trips(void *arg)
{
    (void)arg;
    ringo_loop *other = ringo_loop_at(1);
    for (int i = 0; i < ROUNDS; i++) {
        ringo_task *t;
        cr_assert_eq(ringo_spawn_on(other, &t, whereami, NULL), 0);
        int st = ringo_await(t);
        cr_assert_eq(st, 101, "round %d: %d", i, st);
    }
    ringo_task *t;
    cr_assert_eq(ringo_spawn_on(ringo_loop_current(), &t, whereami, NULL), 0);
    cr_assert_eq(ringo_await(t), 100, "spawn_on the caller's own loop");
    return 0;
}

static void hundred_thousand(void)
{
    cr_assert_eq(run_loops_clean(NULL, 2, round_trips, NULL), 0);
}

Test(loops, hundred_thousand_cross_loop_spawn_await, .timeout = 120)
{
    both_wakeups(hundred_thousand);
}

/* Cancel storm: 2 000 tasks on loop 1 blocked in a read, cancelled from
 * loop 0; each read's buffer stays untouched. */
#define STORM 2000

struct storm { int fds[2]; char buf[STORM]; ssize_t res[STORM]; _Atomic int started; };
struct storm_task { struct storm *s; int i; };

static int storm_reader(void *arg)
{
    struct storm_task *k = arg;
    atomic_fetch_add(&k->s->started, 1);
    k->s->res[k->i] = ringo_read(k->s->fds[0], &k->s->buf[k->i], 1, -1);
    return 0;
}

static int storm_main(void *arg)
{
    struct storm *s = arg;
    static struct storm_task k[STORM];
    ringo_task *t[STORM];
    for (int i = 0; i < STORM; i++) {
        k[i] = (struct storm_task){ s, i };
        cr_assert_eq(ringo_spawn_on(ringo_loop_at(1), &t[i], storm_reader, &k[i]), 0);
    }
    while (atomic_load(&s->started) < STORM)
        cr_assert_eq(ringo_sleep(RINGO_MS(1)), 0);
    for (int i = 0; i < STORM; i++)
        cr_assert_eq(ringo_cancel(t[i]), 0);
    cr_assert_eq(ringo_gather(t, STORM, NULL), -ECANCELED);
    for (int i = 0; i < STORM; i++)
        cr_assert_eq(s->res[i], -ECANCELED, "reader %d's read returned %zd", i, s->res[i]);
    cr_assert_eq(write(s->fds[1], "x", 1), 1);   /* nobody reads it now */
    return 0;
}

static void storm(void)
{
    struct storm s = { .started = 0 };
    cr_assert_eq(pipe(s.fds), 0);
    memset(s.buf, '.', sizeof s.buf);
    cr_assert_eq(run_loops_clean(NULL, 2, storm_main, &s), 0);
    for (int i = 0; i < STORM; i++)
        cr_assert_eq(s.buf[i], '.', "a cancelled read wrote into its buffer");
    close(s.fds[0]);
    close(s.fds[1]);
}

Test(loops, cancel_storm_across_loops_while_in_io, .timeout = 60)
{
    both_wakeups(storm);
}

/* Deadlines cross loops: the awaiter's deadline cancels the remote task,
 * and the awaiter waits until it really finished. */
struct remote_sleep { int slept; _Atomic bool finished; };

static int long_sleep(void *arg)
{
    struct remote_sleep *r = arg;
    r->slept = ringo_sleep(RINGO_SEC(30));
    atomic_store(&r->finished, true);
    return r->slept;
}

static int deadline_main(void *arg)
{
    struct remote_sleep *r = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn_on(ringo_loop_at(1), &t, long_sleep, r), 0);
    int64_t old = ringo_deadline(ringo_now() + RINGO_MS(20));
    int ret = ringo_await(t);
    ringo_deadline(old);
    cr_assert_eq(ret, -ETIMEDOUT);
    cr_assert(atomic_load(&r->finished), "await returned before the remote task finished");
    cr_assert_eq(r->slept, -ECANCELED);

    cr_assert_eq(ringo_spawn_on(ringo_loop_at(1), &t, long_sleep, r), 0);
    cr_assert_eq(ringo_wait_for(t, RINGO_MS(10)), -ETIMEDOUT);
    return 0;
}

Test(loops, a_deadline_cancels_a_task_of_another_loop)
{
    struct remote_sleep r = { 0 };
    cr_assert_eq(run_loops_clean(NULL, 2, deadline_main, &r), 0);
}

static int sleep_ms(void *arg)
{
    ringo_sleep(RINGO_MS((intptr_t)arg));
    return (int)(intptr_t)arg;
}

static int combinators_main(void *arg)
{
    (void)arg;
    ringo_task *t[4];
    /* One clear first (a busy machine may run 1 ms and 2 ms sleeps late enough
     * to finish together). */
    static const intptr_t ms[4] = { 1, 300, 301, 302 };
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ringo_spawn_on(ringo_loop_at(i % 2), &t[i], sleep_ms, (void *)ms[i]), 0);
    cr_assert_eq(ringo_wait(t, 4, RINGO_FIRST_COMPLETED, -1), 1);
    cr_assert(ringo_task_done(t[0]));
    cr_assert_str_eq(ringo_task_name(t[1]), ringo_task_name(t[1]));
    int st[4];
    cr_assert_eq(ringo_gather(t, 4, st), 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(st[i], ms[i]);
    /* shield: the caller's cancellation leaves the remote task running. */
    ringo_task *s;
    cr_assert_eq(ringo_spawn_on(ringo_loop_at(1), &s, sleep_ms, (void *)(intptr_t)5), 0);
    cr_assert_eq(ringo_shield(s), 5);
    /* detach: runs on, its result dropped. */
    cr_assert_eq(ringo_spawn_on(ringo_loop_at(1), &s, sleep_ms, (void *)(intptr_t)1), 0);
    ringo_detach(s);
    cr_assert_eq(ringo_cancel(s), -EINVAL, "a released remote handle");
    return 0;
}

Test(loops, every_call_that_takes_a_task_accepts_one_of_another_loop)
{
    cr_assert_eq(run_loops_clean(NULL, 2, combinators_main, NULL), 0);
}

static int closing_main(void *arg)
{
    (void)arg;
    if (ringo_loop_index() == 1)
        return 0;   /* loop 1 starts closing */
    ringo_task *t;
    int ret;
    for (int i = 0; i < 1000; i++) {
        ret = ringo_spawn_on(ringo_loop_at(1), &t, whereami, NULL);
        if (ret == -ESHUTDOWN)
            break;
        cr_assert_eq(ret, 0);
        ret = ringo_await(t);
        cr_assert(ret == 101 || ret == -ECANCELED, "%d", ret);
        cr_assert_eq(ringo_sleep(RINGO_MS(1)), 0);
    }
    cr_assert_eq(ringo_spawn_on(ringo_loop_at(1), &t, whereami, NULL), -ESHUTDOWN);
    cr_assert_eq(ringo_call_soon_threadsafe(ringo_loop_at(1), whereami, NULL), -ESHUTDOWN);
    return 0;
}

Test(loops, a_closing_loop_refuses_new_work)
{
    cr_assert_eq(ringo_run_loops(NULL, 2, closing_main, NULL), 0);
}

/* ---- calls from any thread ------------------------------------------------ */

struct hammer {
    ringo_loop *loop;
    _Atomic bool go, over;
    _Atomic long accepted, refused, ran, ran_late;
    ringo_event *ready;
};

static int counted(void *arg)
{
    struct hammer *h = arg;
    atomic_fetch_add(&h->ran, 1);
    if (atomic_load(&h->over))
        atomic_fetch_add(&h->ran_late, 1);
    return 0;
}

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    while (!atomic_load(&h->go))
        sched_yield();
    for (;;) {
        int r = ringo_call_soon_threadsafe(h->loop, counted, h);
        if (r == 0) {
            atomic_fetch_add(&h->accepted, 1);
        } else {
            cr_assert_eq(r, -ESHUTDOWN);
            atomic_fetch_add(&h->refused, 1);
            return NULL;
        }
    }
}

static int hammer_main(void *arg)
{
    struct hammer *h = arg;
    h->loop = ringo_loop_current();
    atomic_store(&h->go, true);
    /* Serve for a while, then return with calls still arriving. */
    while (atomic_load(&h->ran) < 200000)
        cr_assert_eq(ringo_sleep(RINGO_MS(1)), 0);
    return 0;
}

Test(loops, call_soon_threadsafe_while_the_loop_shuts_down_loses_nothing, .timeout = 60)
{
    struct hammer h = { .go = false };
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, hammer_thread, &h), 0);
    cr_assert_eq(run_clean(hammer_main, &h), 0);
    atomic_store(&h.over, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(atomic_load(&h.refused), 2, "each thread stops at its first refusal");
    cr_assert_eq(atomic_load(&h.ran), atomic_load(&h.accepted),
                 "%ld calls accepted, %ld ran", atomic_load(&h.accepted), atomic_load(&h.ran));
    cr_assert_eq(atomic_load(&h.ran_late), 0);
}

struct order { ringo_loop *loop; int next, bad; _Atomic bool done; ringo_event *finished; };

static int in_order(void *arg)
{
    struct order *o = arg;
    o->next++;
    return 0;
}

static int check_order(void *arg)
{
    struct order *o = arg;
    ringo_event_set(o->finished);
    return 0;
}

static int join_thread(void *arg)
{
    return pthread_join(*(pthread_t *)arg, NULL);
}

static void *order_thread(void *arg)
{
    struct order *o = arg;
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(ringo_call_soon_threadsafe(o->loop, in_order, o), 0);
    cr_assert_eq(ringo_call_soon_threadsafe(o->loop, check_order, o), 0);
    /* run_threadsafe: blocks until the task ran, returns its status. */
    cr_assert_eq(ringo_run_threadsafe(o->loop, whereami, NULL), 100);
    return NULL;
}

static int order_main(void *arg)
{
    struct order *o = arg;
    o->loop = ringo_loop_current();
    cr_assert_eq(ringo_event_new(&o->finished), 0);
    cr_assert_eq(ringo_run_threadsafe(o->loop, whereami, NULL), -EDEADLK);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, order_thread, o), 0);
    cr_assert_eq(ringo_event_wait(o->finished), 0);
    cr_assert_eq(o->next, 10000, "every call ran before the last one");
    cr_assert_eq(ringo_to_thread(join_thread, &th), 0);
    ringo_event_free(o->finished);
    return 0;
}

Test(loops, calls_from_a_thread_start_in_order_and_run_threadsafe_returns_the_status)
{
    struct order o = { .next = 0 };
    cr_assert_eq(run_clean(order_main, &o), 0);
}

/* ---- primitives belong to one loop ---------------------------------------- */

struct prims {
    ringo_lock *lock;
    ringo_sem *sem;
    ringo_cond *cond;
    ringo_queue *queue;
    ringo_event *event;
};

static int foreign_use(void *arg)
{
    struct prims *p = arg;
    void *item;
    cr_assert_eq(ringo_lock_acquire(p->lock), -EXDEV);
    cr_assert_eq(ringo_lock_release(p->lock), -EXDEV);
    cr_assert_eq(ringo_sem_acquire(p->sem), -EXDEV);
    cr_assert_eq(ringo_sem_release(p->sem), -EXDEV);
    cr_assert_eq(ringo_cond_wait(p->cond), -EXDEV);
    cr_assert_eq(ringo_queue_put(p->queue, p), -EXDEV);
    cr_assert_eq(ringo_queue_put_nowait(p->queue, p), -EXDEV);
    cr_assert_eq(ringo_queue_get(p->queue, &item), -EXDEV);
    cr_assert_eq(ringo_queue_get_nowait(p->queue, &item), -EXDEV);
    cr_assert_eq(ringo_queue_join(p->queue), -EXDEV);
    cr_assert_eq(ringo_event_wait(p->event), -EXDEV);
    ringo_event_set(p->event);   /* allowed from anywhere */
    return 0;
}

static void *foreign_set(void *arg)
{
    ringo_event_set(arg);
    return NULL;
}

static int exdev_main(void *arg)
{
    struct prims *p = arg;
    cr_assert_eq(ringo_lock_new(&p->lock), 0);
    cr_assert_eq(ringo_sem_new(&p->sem, 1), 0);
    cr_assert_eq(ringo_cond_new(&p->cond, p->lock), 0);
    cr_assert_eq(ringo_queue_new(&p->queue, 4), 0);
    cr_assert_eq(ringo_event_new(&p->event), 0);
    /* Bind each to loop 0. */
    cr_assert_eq(ringo_lock_acquire(p->lock), 0);
    cr_assert_eq(ringo_lock_release(p->lock), 0);
    cr_assert_eq(ringo_sem_release(p->sem), 0);
    cr_assert_eq(ringo_cond_wait(p->cond), -EPERM);
    cr_assert_eq(ringo_queue_put_nowait(p->queue, p), 0);
    int64_t old = ringo_deadline(ringo_now() + RINGO_MS(1));
    cr_assert_eq(ringo_event_wait(p->event), -ETIMEDOUT);
    ringo_deadline(old);

    ringo_task *t;
    cr_assert_eq(ringo_spawn_on(ringo_loop_at(1), &t, foreign_use, p), 0);
    cr_assert_eq(ringo_await(t), 0);
    /* loop 1's set reached this loop. */
    cr_assert_eq(ringo_event_wait(p->event), 0);
    ringo_event_clear(p->event);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, foreign_set, p->event), 0);
    cr_assert_eq(ringo_event_wait(p->event), 0, "a foreign thread's set wakes the waiter");
    pthread_join(th, NULL);

    ringo_cond_free(p->cond);
    ringo_lock_free(p->lock);
    ringo_sem_free(p->sem);
    ringo_queue_free(p->queue);
    ringo_event_free(p->event);
    return 0;
}

static void exdev(void)
{
    struct prims p;
    cr_assert_eq(run_loops_clean(NULL, 2, exdev_main, &p), 0);
}

Test(loops, primitives_refuse_tasks_of_another_loop_except_event_set)
{
    both_wakeups(exdev);
}

/* ---- the worker pool, signals and subprocesses on many loops -------------- */

struct pooled { unsigned before, after; bool worker_in_loop; };

static int on_worker(void *arg)
{
    struct pooled *p = arg;
    p->worker_in_loop = ringo_loop_current() != NULL;
    return 0;
}

static int pool_task(void *arg)
{
    struct pooled *p = arg;
    p->before = ringo_loop_index();
    int ret = ringo_to_thread(on_worker, p);
    p->after = ringo_loop_index();
    return ret;
}

static int child_task(void *arg)
{
    (void)arg;
    ringo_process *p;
    const char *argv[] = { "sh", "-c", "exit 7", NULL };
    int ret = ringo_process_spawn(&p, argv, NULL);
    if (ret < 0)
        return ret;
    int code = -1;
    ret = ringo_process_wait(p, &code);
    ringo_process_free(p);
    return ret < 0 ? ret : 100 + code;
}

static int pool_and_child_main(void *arg)
{
    struct pooled *p = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn_on(ringo_loop_at(1), &t, pool_task, p), 0);
    cr_assert_eq(ringo_await(t), 0);
    cr_assert_eq(ringo_spawn_on(ringo_loop_at(1), &t, child_task, NULL), 0);
    cr_assert_eq(ringo_await(t), 107, "the child spawned on loop 1 is reaped there");
    return 0;
}

Test(loops, to_thread_returns_to_the_calling_loop_and_children_are_reaped_where_spawned)
{
    struct pooled p = { 9, 9, true };
    cr_assert_eq(run_loops_clean(NULL, 2, pool_and_child_main, &p), 0);
    cr_assert_eq(p.before, 1);
    cr_assert_eq(p.after, 1);
    cr_assert_not(p.worker_in_loop);
}

/* Whether thread tid blocks signo, from /proc (the only outside view). */
static bool blocks(pid_t tid, int signo)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    unsigned long long mask = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "SigBlk: %llx", &mask) == 1)
            break;
    fclose(f);
    return (mask >> (signo - 1)) & 1;
}

struct sigrun { _Atomic pid_t waiter_tid; int got; unsigned got_on; };

static int wait_usr1_task(void *arg)
{
    struct sigrun *s = arg;
    atomic_store(&s->waiter_tid, gettid());
    s->got = ringo_wait_signal(SIGUSR1);
    s->got_on = ringo_loop_index();
    return 0;
}

static int signal_main(void *arg)
{
    struct sigrun *s = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn_on(ringo_loop_at(1), &t, wait_usr1_task, s), 0);
    /* The wait is in place once loop 1's thread blocks the signal (its
     * signalfd then has it); every other loop's thread blocks it first. */
    for (int i = 0; i < 5000 && !(atomic_load(&s->waiter_tid) && blocks(atomic_load(&s->waiter_tid), SIGUSR1)); i++)
        cr_assert_eq(ringo_sleep(RINGO_MS(1)), 0);
    cr_assert(blocks(gettid(), SIGUSR1), "loop 0 does not block a signal loop 1 waits for");
    cr_assert_eq(kill(getpid(), SIGUSR1), 0);   /* process-directed */
    cr_assert_eq(ringo_await(t), 0);
    for (int i = 0; i < 5000 && blocks(gettid(), SIGUSR1); i++)
        cr_assert_eq(ringo_sleep(RINGO_MS(1)), 0);
    cr_assert_not(blocks(gettid(), SIGUSR1), "loop 0 still blocks the signal nobody waits for");
    return 0;
}

Test(loops, a_signal_awaited_on_loop_1_is_delivered_there)
{
    struct sigrun s = { .waiter_tid = 0 };
    cr_assert_eq(run_loops_clean(NULL, 2, signal_main, &s), 0);
    cr_assert_eq(s.got, SIGUSR1);
    cr_assert_eq(s.got_on, 1);
}
