/* Channel: arguments, FIFO order and capacity, waiters served in the order
 * they waited whatever loop they are on, direct handoff (nobody barges),
 * close, cancellation and deadlines (an item is never lost or duplicated,
 * also when a waiter is served and then interrupted), cross-loop streams on
 * 2 and 4 loops, and a thread that runs no loop.
 *
 * Code running on the loops' threads cannot use cr_assert (it longjmps to
 * the test's thread): it CHECKs, which records the first failure and makes
 * the function return -EPROTO; the test asserts on that afterwards. Which
 * task waits where is settled by handshakes, never by sleeping: a starter
 * task on the target loop spawns the actor, yields once (the actor runs to
 * its wait, as a loop runs its tasks in order), then acknowledges on a
 * channel of its own. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define ITEM(i) ((void *)(uintptr_t)(i))
#define NUM(p)  ((long)(uintptr_t)(p))

/* ---- checks that work on any thread ------------------------------------- */

static _Atomic int failed_line;
static const char *failed_what;
static long long failed_a, failed_b;

static void fail_at(int line, const char *what, long long a, long long b)
{
    int none = 0;
    if (atomic_compare_exchange_strong(&failed_line, &none, line)) {
        failed_what = what;
        failed_a = a;
        failed_b = b;
    }
}

#define CHECK(cond)                                                     \
    do {                                                                \
        if (!(cond)) {                                                  \
            fail_at(__LINE__, #cond, 0, 0);                             \
            return -EPROTO;                                             \
        }                                                               \
    } while (0)
#define CHECK_EQ(a, b)                                                  \
    do {                                                                \
        long long a_ = (long long)(a), b_ = (long long)(b);             \
        if (a_ != b_) {                                                 \
            fail_at(__LINE__, #a " == " #b, a_, b_);                    \
            return -EPROTO;                                             \
        }                                                               \
    } while (0)

static void assert_no_failed_check(void)
{
    int line = atomic_load(&failed_line);
    cr_assert_eq(line, 0, "line %d: CHECK(%s) failed (%lld vs %lld)", line, failed_what,
                 failed_a, failed_b);
}

/* ringo_run_loops(n) with run_clean's checks; returns the run's status. */
static int run_loops_clean(unsigned n, ringo_fn fn, void *arg)
{
    int before = open_fd_count();
    int ret = ringo_run_loops(NULL, n, fn, arg);
    cr_assert_null(ringo_self(), "a task is still current after ringo_run_loops returned");
    cr_assert_eq(open_fd_count(), before, "ringo_run_loops leaked descriptors");
    return ret;
}

/* ---- a scenario on loop 0 of one or more loops --------------------------- */

/* The other loops' mains wait on `done`, so their loops stay open (a loop
 * whose main returned refuses new tasks) until loop 0's body has finished. */
struct scenario {
    int (*body)(struct scenario *s);
    ringo_chan *done;
    ringo_chan *ack;     /* starters acknowledge here */
    void *data;
};

static int scenario_main(void *arg)
{
    struct scenario *s = arg;
    if (ringo_loop_index() != 0) {
        void *x;
        int ret = ringo_chan_recv(s->done, &x);
        return ret == -EPIPE ? 0 : ret;
    }
    int ret = s->body(s);
    ringo_chan_close(s->done);
    return ret;
}

static void run_scenario(unsigned loops, int (*body)(struct scenario *), void *data)
{
    struct scenario s = { .body = body, .data = data };
    cr_assert_eq(ringo_chan_new(&s.done, 1), 0);
    cr_assert_eq(ringo_chan_new(&s.ack, 64), 0);
    int ret = loops ? run_loops_clean(loops, scenario_main, &s) : run_clean(scenario_main, &s);
    assert_no_failed_check();
    cr_assert_eq(ret, 0, "the run failed: %d", ret);
    ringo_chan_free(s.ack);
    ringo_chan_free(s.done);
}

/* ---- actors: one send or receive, started on a chosen loop -------------- */

enum { SEND, RECV };

struct actor {
    ringo_chan *c;
    int kind;
    void *item;          /* SEND: what it sends; RECV: what it received */
    int ret;
    bool again;          /* then make the same call again: ret2 */
    int ret2;
    _Atomic int *go;     /* starter: spin until set, then cancel the actor */
    ringo_chan *ack;
};

static int actor_fn(void *arg)
{
    struct actor *a = arg;
    void *x;
    a->ret = a->kind == SEND ? ringo_chan_send(a->c, a->item) : ringo_chan_recv(a->c, &a->item);
    if (a->again)
        a->ret2 = a->kind == SEND ? ringo_chan_send(a->c, a->item) : ringo_chan_recv(a->c, &x);
    return 0;
}

static int starter_fn(void *arg)
{
    struct actor *a = arg;
    ringo_task *t;
    int ret = ringo_spawn(&t, actor_fn, a);
    if (ret < 0)
        return ret;
    (void)ringo_yield();   /* the actor runs up to its wait */
    CHECK_EQ(ringo_chan_send(a->ack, a), 0);
    if (a->go) {
        /* Not suspending: this loop drains no message meanwhile, so a
         * wake-up another loop posts for the actor waits in its inbox. */
        while (!atomic_load(a->go))
            ;
        CHECK_EQ(ringo_cancel(t), 0);
    }
    return ringo_await(t);
}

/* Start a on loop `loop` (modulo the loops of the run) and return once it
 * waits (or has finished, if it had no need to wait). */
static int start_on(struct scenario *s, unsigned loop, struct actor *a, ringo_task **h)
{
    a->ack = s->ack;
    a->ret = a->ret2 = 1;
    CHECK_EQ(ringo_spawn_on(ringo_loop_at(loop % ringo_loop_count()), h, starter_fn, a), 0);
    void *x;
    CHECK_EQ(ringo_chan_recv(s->ack, &x), 0);
    CHECK(x == a);
    return 0;
}

/* ---- no loop needed ----------------------------------------------------- */

Test(chan, bad_arguments)
{
    ringo_chan *c;
    void *it;
    cr_assert_eq(ringo_chan_new(NULL, 1), -EINVAL);
    cr_assert_eq(ringo_chan_new(&c, 0), -EINVAL, "capacity must be at least 1");
    cr_assert_eq(ringo_chan_new(&c, SIZE_MAX), -ENOMEM);
    cr_assert_eq(ringo_chan_new(&c, 1), 0);
    cr_assert_eq(ringo_chan_send(NULL, ITEM(1)), -EINVAL);
    cr_assert_eq(ringo_chan_recv(NULL, &it), -EINVAL);
    cr_assert_eq(ringo_chan_recv(c, NULL), -EINVAL);
    cr_assert_eq(ringo_chan_try_send(NULL, ITEM(1)), -EINVAL);
    cr_assert_eq(ringo_chan_try_recv(NULL, &it), -EINVAL);
    cr_assert_eq(ringo_chan_try_recv(c, NULL), -EINVAL);
    cr_assert_eq(ringo_chan_send(c, ITEM(1)), -EPERM, "send needs a task");
    cr_assert_eq(ringo_chan_recv(c, &it), -EPERM, "recv needs a task");
    cr_assert_eq(ringo_chan_try_recv(c, &it), -EAGAIN, "a failed send put nothing");
    ringo_chan_close(NULL);
    ringo_chan_free(NULL);
    ringo_chan_free(c);
}

Test(chan, fifo_order_and_capacity_without_a_loop)
{
    ringo_chan *c;
    void *it;
    cr_assert_eq(ringo_chan_new(&c, 3), 0);
    cr_assert_eq(ringo_chan_try_recv(c, &it), -EAGAIN, "empty");
    /* Every fill level, with head and tail wrapping around the ring. */
    long next_in = 1, next_out = 1;
    for (int round = 0; round < 20; round++) {
        int fill = 1 + round % 3;
        for (int i = 0; i < fill; i++)
            cr_assert_eq(ringo_chan_try_send(c, ITEM(next_in++)), 0);
        if (fill == 3)
            cr_assert_eq(ringo_chan_try_send(c, ITEM(99)), -EAGAIN, "full at capacity");
        for (int i = 0; i < fill; i++) {
            cr_assert_eq(ringo_chan_try_recv(c, &it), 0);
            cr_assert_eq(NUM(it), next_out, "got %ld, want %ld", NUM(it), next_out);
            next_out++;
        }
        cr_assert_eq(ringo_chan_try_recv(c, &it), -EAGAIN, "empty again");
    }
    cr_assert_eq(ringo_chan_try_send(c, NULL), 0, "NULL is an item like any other");
    cr_assert_eq(ringo_chan_try_recv(c, &it), 0);
    cr_assert_null(it);
    ringo_chan_free(c);
}

/* ---- one loop ----------------------------------------------------------- */

static int cancelled_and_fast_paths_main(void *arg)
{
    ringo_chan *c = arg;
    void *it;
    /* Neither full nor empty: no wait, in order. */
    cr_assert_eq(ringo_chan_send(c, ITEM(1)), 0);
    cr_assert_eq(ringo_chan_send(c, ITEM(2)), 0);
    cr_assert_eq(ringo_chan_recv(c, &it), 0);
    cr_assert_eq(NUM(it), 1);
    cr_assert_eq(ringo_cancel(ringo_self()), 0);
    cr_assert_eq(ringo_chan_send(c, ITEM(3)), -ECANCELED, "a cancelled task does not send");
    cr_assert_eq(ringo_chan_recv(c, &it), -ECANCELED, "nor receive");
    cr_assert_eq(ringo_chan_try_recv(c, &it), 0, "the try_ forms never wait: they work");
    cr_assert_eq(NUM(it), 2);
    return 0;
}

Test(chan, fast_paths_and_a_cancelled_task)
{
    ringo_chan *c;
    cr_assert_eq(ringo_chan_new(&c, 4), 0);
    cr_assert_eq(run_clean(cancelled_and_fast_paths_main, c), -ECANCELED);
    ringo_chan_free(c);
}

/* ---- FIFO service of waiters, on one loop and across two ---------------- */

#define NWAITERS 6

static int senders_in_order_body(struct scenario *s)
{
    ringo_chan *c;
    CHECK_EQ(ringo_chan_new(&c, 1), 0);
    CHECK_EQ(ringo_chan_try_send(c, ITEM(100)), 0);
    struct actor a[NWAITERS];
    ringo_task *h[NWAITERS];
    for (int i = 0; i < NWAITERS; i++) {
        a[i] = (struct actor){ .c = c, .kind = SEND, .item = ITEM(i + 1) };
        CHECK_EQ(start_on(s, (unsigned)i, &a[i], &h[i]), 0);
        CHECK_EQ(a[i].ret, 1);   /* waiting */
    }
    CHECK_EQ(ringo_chan_try_send(c, ITEM(999)), -EAGAIN);
    void *it;
    for (int i = 0; i <= NWAITERS; i++) {
        CHECK_EQ(ringo_chan_recv(c, &it), 0);
        CHECK_EQ(NUM(it), i == 0 ? 100 : i);   /* the first buffered, then in wait order */
        /* The freed slot went to the first waiting sender: nobody barges. */
        if (i < NWAITERS)
            CHECK_EQ(ringo_chan_try_send(c, ITEM(999)), -EAGAIN);
    }
    CHECK_EQ(ringo_chan_try_recv(c, &it), -EAGAIN);
    for (int i = 0; i < NWAITERS; i++) {
        CHECK_EQ(ringo_await(h[i]), 0);
        CHECK_EQ(a[i].ret, 0);
    }
    ringo_chan_free(c);
    return 0;
}

Test(chan, waiting_senders_are_served_in_wait_order_on_one_loop)
{
    run_scenario(0, senders_in_order_body, NULL);
}

Test(chan, waiting_senders_are_served_in_wait_order_across_loops)
{
    run_scenario(2, senders_in_order_body, NULL);
}

static int receivers_in_order_body(struct scenario *s)
{
    ringo_chan *c;
    CHECK_EQ(ringo_chan_new(&c, 4), 0);
    struct actor a[NWAITERS];
    ringo_task *h[NWAITERS];
    for (int i = 0; i < NWAITERS; i++) {
        a[i] = (struct actor){ .c = c, .kind = RECV };
        CHECK_EQ(start_on(s, (unsigned)i, &a[i], &h[i]), 0);
        CHECK_EQ(a[i].ret, 1);
    }
    void *it;
    for (int i = 0; i < NWAITERS; i++) {
        CHECK_EQ(i % 2 ? ringo_chan_try_send(c, ITEM(i + 1)) : ringo_chan_send(c, ITEM(i + 1)), 0);
        /* Handed to the first waiting receiver, not buffered. */
        CHECK_EQ(ringo_chan_try_recv(c, &it), -EAGAIN);
    }
    for (int i = 0; i < NWAITERS; i++) {
        CHECK_EQ(ringo_await(h[i]), 0);
        CHECK_EQ(a[i].ret, 0);
        CHECK_EQ(NUM(a[i].item), i + 1);
    }
    ringo_chan_free(c);
    return 0;
}

Test(chan, waiting_receivers_are_served_in_wait_order_on_one_loop)
{
    run_scenario(0, receivers_in_order_body, NULL);
}

Test(chan, waiting_receivers_are_served_in_wait_order_across_loops)
{
    run_scenario(2, receivers_in_order_body, NULL);
}

/* ---- close -------------------------------------------------------------- */

static int drain_fn(void *arg)
{
    struct actor *a = arg;   /* receives until -EPIPE; ret2 counts, item is the last */
    void *it;
    int n = 0, ret;
    while ((ret = ringo_chan_recv(a->c, &it)) == 0) {
        CHECK_EQ(NUM(it), n + 1);
        n++;
    }
    a->ret = ret;
    a->ret2 = n;
    return 0;
}

static int close_body(struct scenario *s)
{
    ringo_chan *c;
    void *it;
    /* Senders waiting on loops 0 and 1 get -EPIPE; what was sent stays. */
    CHECK_EQ(ringo_chan_new(&c, 1), 0);
    CHECK_EQ(ringo_chan_try_send(c, ITEM(7)), 0);
    struct actor a[4];
    ringo_task *h[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct actor){ .c = c, .kind = SEND, .item = ITEM(10 + i) };
        CHECK_EQ(start_on(s, (unsigned)i, &a[i], &h[i]), 0);
    }
    ringo_chan_close(c);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(ringo_await(h[i]), 0);
        CHECK_EQ(a[i].ret, -EPIPE);
    }
    CHECK_EQ(ringo_chan_send(c, ITEM(1)), -EPIPE);
    CHECK_EQ(ringo_chan_try_send(c, ITEM(1)), -EPIPE);
    CHECK_EQ(ringo_chan_recv(c, &it), 0);
    CHECK_EQ(NUM(it), 7);
    CHECK_EQ(ringo_chan_recv(c, &it), -EPIPE);
    CHECK_EQ(ringo_chan_try_recv(c, &it), -EPIPE);
    ringo_chan_close(c);   /* twice: no effect */
    ringo_chan_free(c);

    /* Receivers waiting on loops 0 and 1: closed and drained, -EPIPE. */
    CHECK_EQ(ringo_chan_new(&c, 2), 0);
    for (int i = 0; i < 4; i++) {
        a[i] = (struct actor){ .c = c, .kind = RECV };
        CHECK_EQ(start_on(s, (unsigned)i, &a[i], &h[i]), 0);
    }
    ringo_chan_close(c);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(ringo_await(h[i]), 0);
        CHECK_EQ(a[i].ret, -EPIPE);
    }
    ringo_chan_free(c);

    /* A receiver on the other loop drains what was sent before -EPIPE. */
    CHECK_EQ(ringo_chan_new(&c, 8), 0);
    for (int i = 1; i <= 5; i++)
        CHECK_EQ(ringo_chan_send(c, ITEM(i)), 0);
    ringo_chan_close(c);
    struct actor d = { .c = c };
    ringo_task *dh;
    CHECK_EQ(ringo_spawn_on(ringo_loop_at(1 % ringo_loop_count()), &dh, drain_fn, &d), 0);
    CHECK_EQ(ringo_await(dh), 0);
    CHECK_EQ(d.ret, -EPIPE);
    CHECK_EQ(d.ret2, 5);
    ringo_chan_free(c);
    return 0;
}

Test(chan, close_wakes_waiters_on_both_loops_and_keeps_sent_items)
{
    run_scenario(2, close_body, NULL);
}

Test(chan, close_on_one_loop)
{
    run_scenario(0, close_body, NULL);
}

/* ---- cancellation ------------------------------------------------------- */

static int cancel_body(struct scenario *s)
{
    ringo_chan *c;
    void *it;
    struct actor a;
    ringo_task *h;
    /* A waiting sender, cancelled: its item is not put. */
    CHECK_EQ(ringo_chan_new(&c, 1), 0);
    CHECK_EQ(ringo_chan_try_send(c, ITEM(1)), 0);
    a = (struct actor){ .c = c, .kind = SEND, .item = ITEM(2) };
    CHECK_EQ(start_on(s, 1, &a, &h), 0);
    CHECK_EQ(ringo_cancel(h), 0);   /* the starter, awaiting the actor, cancels it */
    CHECK_EQ(ringo_await(h), -ECANCELED);
    CHECK_EQ(a.ret, -ECANCELED);
    CHECK_EQ(ringo_chan_try_recv(c, &it), 0);
    CHECK_EQ(NUM(it), 1);
    CHECK_EQ(ringo_chan_try_recv(c, &it), -EAGAIN);   /* 1 item in, 1 out */

    /* A waiting receiver, cancelled: it takes nothing, and leaves no node
     * that the next item would go to. */
    a = (struct actor){ .c = c, .kind = RECV };
    CHECK_EQ(start_on(s, 1, &a, &h), 0);
    CHECK_EQ(ringo_cancel(h), 0);   /* the starter, awaiting the actor, cancels it */
    CHECK_EQ(ringo_await(h), -ECANCELED);
    CHECK_EQ(a.ret, -ECANCELED);
    CHECK_EQ(ringo_chan_try_send(c, ITEM(3)), 0);
    CHECK_EQ(ringo_chan_try_recv(c, &it), 0);
    CHECK_EQ(NUM(it), 3);
    ringo_chan_free(c);   /* no waiter left: freed without a word */
    return 0;
}

Test(chan, cancelled_waiters_lose_nothing_across_loops)
{
    stderr_capture_begin();
    run_scenario(2, cancel_body, NULL);
    char *err = stderr_capture_end();
    cr_assert_str_empty(err, "unexpected output: %s", err);
    free(err);
}

Test(chan, cancelled_waiters_lose_nothing_on_one_loop)
{
    run_scenario(0, cancel_body, NULL);
}

/* Served, then interrupted before it ran: what it was served is kept. The
 * starter on loop 1 spins (so loop 1 drains no message) while loop 0 serves
 * the actor, then cancels it: the cancel hook finds it served. */
static int served_then_cancelled_steps(struct scenario *s, _Atomic int *go)
{
    ringo_chan *c;
    void *it;
    struct actor a;
    ringo_task *h;
    CHECK_EQ(ringo_chan_new(&c, 1), 0);

    a = (struct actor){ .c = c, .kind = RECV, .again = true, .go = go };
    CHECK_EQ(start_on(s, 1, &a, &h), 0);
    CHECK_EQ(ringo_chan_send(c, ITEM(5)), 0);   /* handed to the actor */
    atomic_store(go, 1);
    CHECK_EQ(ringo_await(h), -ECANCELED);   /* the actor's status: it was cancelled */
    CHECK_EQ(a.ret, 0);
    CHECK_EQ(NUM(a.item), 5);
    CHECK_EQ(a.ret2, -ECANCELED);   /* the task stays cancelled */
    CHECK_EQ(ringo_chan_try_recv(c, &it), -EAGAIN);   /* not duplicated */

    atomic_store(go, 0);
    CHECK_EQ(ringo_chan_try_send(c, ITEM(1)), 0);
    a = (struct actor){ .c = c, .kind = SEND, .item = ITEM(2), .again = true, .go = go };
    CHECK_EQ(start_on(s, 1, &a, &h), 0);
    CHECK_EQ(ringo_chan_recv(c, &it), 0);   /* moves the actor's item in */
    CHECK_EQ(NUM(it), 1);
    atomic_store(go, 1);
    CHECK_EQ(ringo_await(h), -ECANCELED);   /* the actor's status: it was cancelled */
    CHECK_EQ(a.ret, 0);
    CHECK_EQ(a.ret2, -ECANCELED);
    CHECK_EQ(ringo_chan_try_recv(c, &it), 0);
    CHECK_EQ(NUM(it), 2);
    CHECK_EQ(ringo_chan_try_recv(c, &it), -EAGAIN);
    ringo_chan_free(c);
    return 0;
}

static int served_then_cancelled_body(struct scenario *s)
{
    _Atomic int go = 0;
    int ret = served_then_cancelled_steps(s, &go);
    atomic_store(&go, 1);   /* a failed check must not leave loop 1 spinning */
    return ret;
}

Test(chan, waiter_served_then_cancelled_keeps_its_item)
{
    run_scenario(2, served_then_cancelled_body, NULL);
}

/* The same race on one loop: served (made ready), then cancelled. */
static int served_then_cancelled_one_loop(void *arg)
{
    ringo_chan *c = arg;
    void *it;
    struct actor a = { .c = c, .kind = RECV, .again = true };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, actor_fn, &a), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_chan_try_send(c, ITEM(8)), 0);
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    cr_assert_eq(a.ret, 0);
    cr_assert_eq(NUM(a.item), 8);
    cr_assert_eq(a.ret2, -ECANCELED);
    cr_assert_eq(ringo_chan_try_recv(c, &it), -EAGAIN);
    return 0;
}

Test(chan, waiter_served_then_cancelled_on_one_loop)
{
    ringo_chan *c;
    cr_assert_eq(ringo_chan_new(&c, 2), 0);
    cr_assert_eq(run_clean(served_then_cancelled_one_loop, c), 0);
    ringo_chan_free(c);
}

/* ---- deadlines ---------------------------------------------------------- */

static int deadline_main(void *arg)
{
    ringo_chan *c = arg;
    void *it;
    int64_t t0 = ringo_now();
    ringo_deadline(t0 + RINGO_MS(5));
    cr_assert_eq(ringo_chan_recv(c, &it), -ETIMEDOUT);
    cr_assert_geq(ringo_now() - t0, RINGO_MS(5), "returned before the deadline");
    cr_assert_eq(ringo_chan_recv(c, &it), -ETIMEDOUT, "past the deadline: at once");
    ringo_deadline(INT64_MAX);
    /* The timed-out receiver left no node: the item is buffered, not lost. */
    cr_assert_eq(ringo_chan_try_send(c, ITEM(1)), 0);
    t0 = ringo_now();
    ringo_deadline(t0 + RINGO_MS(5));
    cr_assert_eq(ringo_chan_send(c, ITEM(2)), -ETIMEDOUT, "full: the send times out");
    cr_assert_geq(ringo_now() - t0, RINGO_MS(5));
    ringo_deadline(INT64_MAX);
    cr_assert_eq(ringo_chan_try_recv(c, &it), 0);
    cr_assert_eq(NUM(it), 1);
    cr_assert_eq(ringo_chan_try_recv(c, &it), -EAGAIN, "the timed-out send put nothing");
    return 0;
}

Test(chan, deadline_interrupts_recv_and_send)
{
    ringo_chan *c;
    cr_assert_eq(ringo_chan_new(&c, 1), 0);
    stderr_capture_begin();
    cr_assert_eq(run_clean(deadline_main, c), 0);
    ringo_chan_free(c);
    char *err = stderr_capture_end();
    cr_assert_str_empty(err, "no waiter should be left: %s", err);
    free(err);
}

/* ---- free with waiters -------------------------------------------------- */

static int free_refused_main(void *arg)
{
    ringo_chan *c = arg;
    struct actor a = { .c = c, .kind = RECV };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, actor_fn, &a), 0);
    cr_assert_eq(ringo_yield(), 0);
    stderr_capture_begin();
    ringo_chan_free(c);
    char *err = stderr_capture_end();
    cr_assert_not_null(strstr(err, "ringo_chan_free: 1 task still waits on this channel"),
                       "got: %s", err);
    free(err);
    ringo_chan_close(c);   /* still usable: it was not freed */
    cr_assert_eq(ringo_await(t), 0);
    cr_assert_eq(a.ret, -EPIPE);
    return 0;
}

Test(chan, free_is_refused_while_a_task_waits)
{
    ringo_chan *c;
    cr_assert_eq(ringo_chan_new(&c, 1), 0);
    cr_assert_eq(run_clean(free_refused_main, c), 0);
    ringo_chan_free(c);
}

/* ---- streams between loops ---------------------------------------------- */

#define PP_N 100000

struct pingpong {
    ringo_chan *there, *back;
    uint64_t sum;
};

static int echo_fn(void *arg)
{
    struct pingpong *p = arg;
    void *it;
    int ret;
    while ((ret = ringo_chan_recv(p->there, &it)) == 0)
        CHECK_EQ(ringo_chan_send(p->back, it), 0);
    CHECK_EQ(ret, -EPIPE);
    ringo_chan_close(p->back);
    return 0;
}

static int pingpong_body(struct scenario *s)
{
    struct pingpong *p = s->data;
    ringo_task *echo;
    CHECK_EQ(ringo_spawn_on(ringo_loop_at(1), &echo, echo_fn, p), 0);
    void *it;
    for (long i = 1; i <= PP_N; i++) {
        CHECK_EQ(ringo_chan_send(p->there, ITEM(i)), 0);
        CHECK_EQ(ringo_chan_recv(p->back, &it), 0);
        CHECK_EQ(NUM(it), i);   /* no loss, no duplicate, in order */
        p->sum += (uint64_t)NUM(it);
    }
    ringo_chan_close(p->there);
    CHECK_EQ(ringo_chan_recv(p->back, &it), -EPIPE);
    CHECK_EQ(ringo_await(echo), 0);
    return 0;
}

Test(chan, ping_pong_of_100000_items_between_two_loops)
{
    struct pingpong p = { 0 };
    cr_assert_eq(ringo_chan_new(&p.there, 1), 0);
    cr_assert_eq(ringo_chan_new(&p.back, 1), 0);
    run_scenario(2, pingpong_body, &p);
    cr_assert_eq(p.sum, (uint64_t)PP_N * (PP_N + 1) / 2, "checksum");
    ringo_chan_free(p.there);
    ringo_chan_free(p.back);
}

/* 4 loops (on 2 CPUs, or however many there are): two producers on each of
 * loops 0 and 1, two consumers on each of loops 2 and 3, one small channel.
 * Every item arrives exactly once, each producer's in its order. */
#define FL_PRODUCERS 4
#define FL_PER       25000
#define FL_TOTAL     (FL_PRODUCERS * FL_PER)

struct four {
    ringo_chan *c;
    _Atomic int producers_left;
    _Atomic long received;
    _Atomic unsigned char seen[FL_TOTAL];
};

static struct four four;

static int producer_fn(void *arg)
{
    long id = NUM(arg);
    for (long k = 0; k < FL_PER; k++)
        CHECK_EQ(ringo_chan_send(four.c, ITEM(id * FL_PER + k + 1)), 0);
    if (atomic_fetch_sub(&four.producers_left, 1) == 1)
        ringo_chan_close(four.c);
    return 0;
}

static int consumer_fn(void *arg)
{
    (void)arg;
    long last[FL_PRODUCERS] = { -1, -1, -1, -1 };
    void *it;
    int ret;
    while ((ret = ringo_chan_recv(four.c, &it)) == 0) {
        long v = NUM(it) - 1;
        CHECK(v >= 0 && v < FL_TOTAL);
        long p = v / FL_PER, k = v % FL_PER;
        CHECK(k > last[p]);   /* a producer's items in its order */
        last[p] = k;
        CHECK_EQ(atomic_fetch_add(&four.seen[v], 1), 0);   /* never twice */
        atomic_fetch_add(&four.received, 1);
    }
    CHECK_EQ(ret, -EPIPE);
    return 0;
}

static int four_main(void *arg)
{
    (void)arg;
    unsigned i = ringo_loop_index();
    CHECK_EQ(ringo_loop_count(), 4);
    ringo_task *t[2];
    for (int k = 0; k < 2; k++)
        CHECK_EQ(ringo_spawn(&t[k], i < 2 ? producer_fn : consumer_fn, ITEM(i * 2 + (unsigned)k)), 0);
    for (int k = 0; k < 2; k++)
        CHECK_EQ(ringo_await(t[k]), 0);
    return 0;
}

Test(chan, four_loops_producers_and_consumers_on_different_loops)
{
    memset(&four, 0, sizeof four);
    atomic_store(&four.producers_left, FL_PRODUCERS);
    cr_assert_eq(ringo_chan_new(&four.c, 8), 0);
    int ret = run_loops_clean(4, four_main, NULL);
    assert_no_failed_check();
    cr_assert_eq(ret, 0);
    cr_assert_eq(atomic_load(&four.received), FL_TOTAL);
    for (long v = 0; v < FL_TOTAL; v++)
        cr_assert_eq(atomic_load(&four.seen[v]), 1, "item %ld", v);
    ringo_chan_free(four.c);
}

/* ---- a thread that runs no loop ----------------------------------------- */

#define FT_STREAM 20000

struct foreign {
    ringo_chan *c;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int step;            /* the loop lets the thread on to this step */
    int send_ret, recv_ret, stream_ret;
    void *got;
};

static void foreign_await_step(struct foreign *f, int step)
{
    pthread_mutex_lock(&f->mu);
    while (f->step < step)
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

static void foreign_allow(struct foreign *f, int step)
{
    pthread_mutex_lock(&f->mu);
    f->step = step;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void *foreign_thread(void *arg)
{
    struct foreign *f = arg;
    foreign_await_step(f, 1);   /* a task waits to receive */
    f->send_ret = ringo_chan_try_send(f->c, ITEM(41));
    foreign_await_step(f, 2);   /* a task waits to send (full) */
    f->recv_ret = ringo_chan_try_recv(f->c, &f->got);
    foreign_await_step(f, 3);   /* a stream, the task receiving */
    for (long i = 1; i <= FT_STREAM; i++) {
        int ret;
        while ((ret = ringo_chan_try_send(f->c, ITEM(i))) == -EAGAIN)
            sched_yield();
        if (ret) {
            f->stream_ret = ret;
            break;
        }
    }
    ringo_chan_close(f->c);
    return NULL;
}

static int foreign_main(void *arg)
{
    struct foreign *f = arg;
    void *it;
    struct actor a = { .c = f->c, .kind = RECV, .ret = 1 };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, actor_fn, &a), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(a.ret, 1, "the receiver waits");
    foreign_allow(f, 1);
    cr_assert_eq(ringo_await(t), 0);   /* woken by the thread's try_send */
    cr_assert_eq(a.ret, 0);
    cr_assert_eq(NUM(a.item), 41);

    cr_assert_eq(ringo_chan_try_send(f->c, ITEM(42)), 0);
    a = (struct actor){ .c = f->c, .kind = SEND, .item = ITEM(43), .ret = 1 };
    cr_assert_eq(ringo_spawn(&t, actor_fn, &a), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(a.ret, 1, "the sender waits");
    foreign_allow(f, 2);
    cr_assert_eq(ringo_await(t), 0);   /* woken by the thread's try_recv */
    cr_assert_eq(a.ret, 0);
    cr_assert_eq(ringo_chan_try_recv(f->c, &it), 0);
    cr_assert_eq(NUM(it), 43, "the waiting sender's item was moved in");

    foreign_allow(f, 3);
    int ret;
    long n = 0;
    while ((ret = ringo_chan_recv(f->c, &it)) == 0) {
        n++;
        cr_assert_eq(NUM(it), n);
    }
    cr_assert_eq(ret, -EPIPE);
    cr_assert_eq(n, FT_STREAM);
    return 0;
}

Test(chan, foreign_thread_try_calls_wake_waiting_tasks)
{
    struct foreign f = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
    cr_assert_eq(ringo_chan_new(&f.c, 1), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, foreign_thread, &f), 0);
    int ret = run_clean(foreign_main, &f);
    pthread_join(th, NULL);
    cr_assert_eq(ret, 0);
    cr_assert_eq(f.send_ret, 0);
    cr_assert_eq(f.recv_ret, 0);
    cr_assert_eq(NUM(f.got), 42);
    cr_assert_eq(f.stream_ret, 0);
    ringo_chan_free(f.c);
}
