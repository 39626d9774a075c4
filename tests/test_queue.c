/* Queue: FIFO order, _nowait forms, waiting gets and bounded puts, every
 * cancellation race (an item is never lost or duplicated, a cancelled put
 * puts nothing), deadlines, task_done/join, growth, and a 1 000 000-item
 * stress. Ported from CPython's test_asyncio/test_queues.py. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define ITEM(i) ((void *)(uintptr_t)(i))
#define NUM(p)  ((int)(uintptr_t)(p))

struct actor {
    ringo_queue *q;
    int id;
    int ret;
    void *item;
    int64_t deadline;   /* relative, 0 = none */
};

static int getter(void *arg)
{
    struct actor *a = arg;
    if (a->deadline)
        ringo_deadline(ringo_now() + a->deadline);
    a->ret = ringo_queue_get(a->q, &a->item);
    return a->ret;
}

static int putter(void *arg)
{
    struct actor *a = arg;
    if (a->deadline)
        ringo_deadline(ringo_now() + a->deadline);
    a->ret = ringo_queue_put(a->q, a->item);
    return a->ret;
}

/* Spawn one actor and let it reach its first suspension. */
static ringo_task *start(ringo_fn fn, struct actor *a)
{
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, fn, a), 0);
    cr_assert_eq(ringo_yield(), 0);
    return t;
}

static void expect_contents(ringo_queue *q, const int *want, size_t n)
{
    cr_assert_eq(ringo_queue_size(q), n);
    for (size_t i = 0; i < n; i++) {
        void *it;
        cr_assert_eq(ringo_queue_get_nowait(q, &it), 0);
        cr_assert_eq(NUM(it), want[i], "item %zu: got %d, want %d", i, NUM(it), want[i]);
    }
    void *it;
    cr_assert_eq(ringo_queue_get_nowait(q, &it), -EAGAIN);
}

Test(queue, nowait_forms_fifo_order_and_bad_arguments)
{
    /* No loop needed for what never waits. */
    ringo_queue *q;
    void *it;
    cr_assert_eq(ringo_queue_new(NULL, 0), -EINVAL);
    cr_assert_eq(ringo_queue_new(&q, 2), 0);
    cr_assert_eq(ringo_queue_get_nowait(q, &it), -EAGAIN);
    cr_assert_eq(ringo_queue_put_nowait(q, ITEM(1)), 0);
    cr_assert_eq(ringo_queue_put_nowait(q, ITEM(2)), 0);
    cr_assert_eq(ringo_queue_put_nowait(q, ITEM(3)), -EAGAIN, "full at maxsize");
    cr_assert_eq(ringo_queue_size(q), 2);
    cr_assert_eq(ringo_queue_put(q, ITEM(3)), -EPERM, "put needs a task");
    cr_assert_eq(ringo_queue_get(q, &it), -EPERM, "get needs a task");
    cr_assert_eq(ringo_queue_get_nowait(q, NULL), -EINVAL);
    cr_assert_eq(ringo_queue_put_nowait(NULL, ITEM(1)), -EINVAL);
    cr_assert_eq(ringo_queue_get_nowait(NULL, &it), -EINVAL);
    cr_assert_eq(ringo_queue_put(NULL, ITEM(1)), -EINVAL);
    cr_assert_eq(ringo_queue_get(NULL, &it), -EINVAL);
    cr_assert_eq(ringo_queue_join(NULL), -EINVAL);
    cr_assert_eq(ringo_queue_size(NULL), 0);
    ringo_queue_task_done(NULL);
    int want[] = { 1, 2 };
    expect_contents(q, want, 2);
    cr_assert_eq(ringo_queue_put_nowait(q, NULL), 0, "NULL is an item like any other");
    cr_assert_eq(ringo_queue_get_nowait(q, &it), 0);
    cr_assert_null(it);
    ringo_queue_free(q);
    ringo_queue_free(NULL);
}

static int wait_get_main(void *arg)
{
    ringo_queue *q = arg;
    struct actor g = { .q = q, .ret = 1 };
    ringo_task *t = start(getter, &g);
    cr_assert_eq(g.ret, 1, "get waits while empty");
    cr_assert_eq(ringo_queue_put(q, ITEM(42)), 0);
    /* The item is promised to the waiting getter: counted, not takeable. */
    cr_assert_eq(ringo_queue_size(q), 1);
    void *it;
    cr_assert_eq(ringo_queue_get_nowait(q, &it), -EAGAIN);
    cr_assert_eq(ringo_await(t), 0);
    cr_assert_eq(NUM(g.item), 42);
    cr_assert_eq(ringo_queue_size(q), 0);
    return 0;
}

Test(queue, get_waits_until_an_item_is_put)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new(&q, 0), 0);
    cr_assert_eq(run_clean(wait_get_main, q), 0);
    ringo_queue_free(q);
}

static int put_five(void *arg)
{
    ringo_queue *q = arg;
    for (int i = 1; i <= 5; i++)
        cr_assert_eq(ringo_queue_put(q, ITEM(i)), 0);
    return 0;
}

static int bounded_main(void *arg)
{
    ringo_queue *q = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, put_five, q), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_queue_size(q), 2, "put waits while full");
    cr_assert_not(ringo_task_done(t));
    for (int i = 1; i <= 5; i++) {
        void *it;
        cr_assert_eq(ringo_queue_get(q, &it), 0);
        cr_assert_eq(NUM(it), i);
        cr_assert_leq(ringo_queue_size(q), 2, "never over maxsize");
        cr_assert_eq(ringo_yield(), 0);
    }
    cr_assert_eq(ringo_await(t), 0);
    return 0;
}

Test(queue, bounded_put_waits_while_full_and_order_is_kept)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new(&q, 2), 0);
    cr_assert_eq(run_clean(bounded_main, q), 0);
    ringo_queue_free(q);
}

static int get_cancel_main(void *arg)
{
    ringo_queue *q = arg;
    struct actor g[3] = { { .q = q, .id = 0, .ret = 1 }, { .q = q, .id = 1, .ret = 1 },
                          { .q = q, .id = 2, .ret = 1 } };
    ringo_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = start(getter, &g[i]);
    /* Cancelled while waiting: gone from the queue of getters. */
    cr_assert_eq(ringo_cancel(t[0]), 0);
    cr_assert_eq(ringo_await(t[0]), -ECANCELED);
    /* Handed an item, then cancelled before running: the item must go to
     * the next getter, not vanish with the cancelled one. */
    cr_assert_eq(ringo_queue_put_nowait(q, ITEM(7)), 0);
    cr_assert_eq(ringo_cancel(t[1]), 0);
    cr_assert_eq(ringo_await(t[1]), -ECANCELED);
    cr_assert_eq(ringo_await(t[2]), 0);
    cr_assert_eq(NUM(g[2].item), 7);
    cr_assert_null(g[0].item);
    cr_assert_null(g[1].item, "a cancelled get returns no item");
    cr_assert_eq(ringo_queue_size(q), 0, "and no copy stayed behind");
    return 0;
}

Test(queue, item_put_to_a_cancelled_getter_goes_to_the_next_getter)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new(&q, 0), 0);
    cr_assert_eq(run_clean(get_cancel_main, q), 0);
    ringo_queue_free(q);
}

static int get_cancel_back_main(void *arg)
{
    ringo_queue *q = arg;
    struct actor g = { .q = q, .ret = 1 };
    ringo_task *t = start(getter, &g);
    cr_assert_eq(ringo_queue_put_nowait(q, ITEM(1)), 0);   /* handed to g */
    cr_assert_eq(ringo_queue_put_nowait(q, ITEM(2)), 0);   /* buffered */
    cr_assert_eq(ringo_queue_put_nowait(q, ITEM(3)), -EAGAIN, "the handed item still counts");
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    /* Nobody else waits: item 1 goes back in front, where it belongs. */
    int want[] = { 1, 2 };
    expect_contents(q, want, 2);
    return 0;
}

Test(queue, item_of_a_cancelled_getter_returns_to_the_front)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new(&q, 2), 0);
    cr_assert_eq(run_clean(get_cancel_back_main, q), 0);
    ringo_queue_free(q);
}

static int put_cancel_main(void *arg)
{
    ringo_queue *q = arg;
    struct actor p[3] = { { .q = q, .id = 0, .ret = 1, .item = ITEM(10) },
                          { .q = q, .id = 1, .ret = 1, .item = ITEM(11) },
                          { .q = q, .id = 2, .ret = 1, .item = ITEM(12) } };
    ringo_task *t[3];
    cr_assert_eq(ringo_queue_put_nowait(q, ITEM(1)), 0);
    for (int i = 0; i < 3; i++)
        t[i] = start(putter, &p[i]);
    /* Cancelled while waiting for room. */
    cr_assert_eq(ringo_cancel(t[0]), 0);
    cr_assert_eq(ringo_await(t[0]), -ECANCELED);
    /* Granted the freed slot, then cancelled before running: puts nothing,
     * and the slot goes to the next putter. */
    void *it;
    cr_assert_eq(ringo_queue_get_nowait(q, &it), 0);
    cr_assert_eq(NUM(it), 1);
    cr_assert_eq(ringo_queue_put_nowait(q, ITEM(99)), -EAGAIN, "the slot is reserved");
    cr_assert_eq(ringo_cancel(t[1]), 0);
    cr_assert_eq(ringo_await(t[1]), -ECANCELED);
    cr_assert_eq(ringo_await(t[2]), 0);
    int want[] = { 12 };
    expect_contents(q, want, 1);
    return 0;
}

Test(queue, cancelled_put_puts_nothing_and_its_slot_passes_on)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new(&q, 1), 0);
    cr_assert_eq(run_clean(put_cancel_main, q), 0);
    ringo_queue_free(q);
}

static int deadline_main(void *arg)
{
    ringo_queue *q = arg;
    /* A getter times out; the next put goes to the getter behind it. */
    struct actor slow = { .q = q, .ret = 1, .deadline = RINGO_MS(20) };
    struct actor g = { .q = q, .ret = 1 };
    ringo_task *ts = start(getter, &slow);
    ringo_task *tg = start(getter, &g);
    int64_t t0 = ringo_now();
    cr_assert_eq(ringo_await(ts), -ETIMEDOUT);
    cr_assert_geq(ringo_now() - t0, RINGO_MS(15));
    cr_assert_eq(ringo_queue_put(q, ITEM(5)), 0);
    cr_assert_eq(ringo_await(tg), 0);
    cr_assert_eq(NUM(g.item), 5);
    /* A putter on a full queue times out and puts nothing. */
    struct actor p = { .q = q, .ret = 1, .item = ITEM(6), .deadline = RINGO_MS(20) };
    cr_assert_eq(ringo_queue_put_nowait(q, ITEM(1)), 0);
    ringo_task *tp = start(putter, &p);
    cr_assert_eq(ringo_await(tp), -ETIMEDOUT);
    int want[] = { 1 };
    expect_contents(q, want, 1);
    return 0;
}

Test(queue, deadline_interrupts_get_and_put_and_leaves_no_trace)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new(&q, 1), 0);
    cr_assert_eq(run_clean(deadline_main, q), 0);
    ringo_queue_free(q);
}

struct joined { ringo_queue *q; int ret; bool back; };

static int joiner(void *arg)
{
    struct joined *j = arg;
    j->ret = ringo_queue_join(j->q);
    j->back = true;
    return j->ret;
}

static int join_main(void *arg)
{
    ringo_queue *q = arg;
    cr_assert_eq(ringo_queue_join(q), 0, "nothing unfinished: at once");
    ringo_queue_task_done(q);   /* extra: ignored */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ringo_queue_put(q, ITEM(i)), 0);
    struct joined j[2] = { { .q = q, .ret = 1 }, { .q = q, .ret = 1 } };
    ringo_task *t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(ringo_spawn(&t[i], joiner, &j[i]), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_cancel(t[1]), 0);
    cr_assert_eq(ringo_await(t[1]), -ECANCELED);
    for (int i = 0; i < 3; i++) {
        void *it;
        cr_assert_eq(ringo_queue_get(q, &it), 0);
        cr_assert_eq(ringo_yield(), 0);
        cr_assert_not(j[0].back, "join returned with %d item(s) unfinished", 3 - i);
        ringo_queue_task_done(q);
    }
    cr_assert_eq(ringo_await(t[0]), 0);
    cr_assert_eq(ringo_queue_join(q), 0);
    return 0;
}

Test(queue, join_waits_until_every_item_is_done)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new(&q, 0), 0);
    cr_assert_eq(run_clean(join_main, q), 0);
    ringo_queue_free(q);
}

Test(queue, unbounded_queue_grows_to_100000_items_in_order)
{
    ringo_queue *q;
    void *it;
    cr_assert_eq(ringo_queue_new(&q, 0), 0);
    /* Start with the ring wrapped, so growing must unwrap it. */
    for (int i = 0; i < 6; i++)
        cr_assert_eq(ringo_queue_put_nowait(q, ITEM(i)), 0);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(ringo_queue_get_nowait(q, &it), 0);
    for (int i = 0; i < 100000; i++)
        cr_assert_eq(ringo_queue_put_nowait(q, ITEM(i + 1)), 0);
    cr_assert_eq(ringo_queue_size(q), 100000);
    for (int i = 0; i < 100000; i++) {
        cr_assert_eq(ringo_queue_get_nowait(q, &it), 0);
        if (NUM(it) != i + 1)
            cr_assert_fail("item %d: got %d", i, NUM(it));
    }
    cr_assert_eq(ringo_queue_get_nowait(q, &it), -EAGAIN);
    ringo_queue_free(q);
}

static int refuse_main(void *arg)
{
    ringo_queue *q = arg;
    struct actor g[2] = { { .q = q, .ret = 1 }, { .q = q, .ret = 1 } };
    ringo_task *t[2] = { start(getter, &g[0]), start(getter, &g[1]) };
    stderr_capture_begin();
    ringo_queue_free(q);
    char *err = stderr_capture_end();
    cr_assert_not_null(strstr(err, "ringo_queue_free: 2 tasks still wait on this queue"),
                       "stderr: %s", err);
    free(err);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(ringo_queue_put(q, ITEM(i)), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    return 0;
}

Test(queue, free_with_waiters_is_refused_with_a_message)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new(&q, 0), 0);
    cr_assert_eq(run_clean(refuse_main, q), 0);
    ringo_queue_free(q);
}

/* ---- stress: 4 producers, 4 consumers, 1 000 000 items, maxsize 64 ------ */

#define NPROD 4
#define NCONS 4
#define PER_PRODUCER 250000
#define TOTAL (NPROD * PER_PRODUCER)

struct stress {
    ringo_queue *q;
    unsigned char *seen;     /* TOTAL flags: each item got exactly once */
    long long sum;
    long got;
    bool disorder;           /* a consumer saw one producer's items out of order */
};

struct producer { struct stress *s; int id; };

static int produce(void *arg)
{
    struct producer *p = arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        int ret = ringo_queue_put(p->s->q, ITEM(p->id * PER_PRODUCER + i + 1));
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int consume(void *arg)
{
    struct stress *s = arg;
    int last[NPROD];
    for (int i = 0; i < NPROD; i++)
        last[i] = 0;
    for (;;) {
        void *it;
        int ret = ringo_queue_get(s->q, &it);
        if (ret < 0)
            return ret;
        int v = NUM(it);
        if (v == 0)
            return 0;   /* the end marker */
        int from = (v - 1) / PER_PRODUCER;
        if (v <= last[from])
            s->disorder = true;
        last[from] = v;
        if (s->seen[v - 1]++)
            return -EEXIST;
        s->sum += v;
        s->got++;
    }
}

static int stress_main(void *arg)
{
    struct stress *s = arg;
    struct producer p[NPROD];
    ringo_task *tp[NPROD], *tc[NCONS];
    for (int i = 0; i < NCONS; i++)
        cr_assert_eq(ringo_spawn(&tc[i], consume, s), 0);
    for (int i = 0; i < NPROD; i++) {
        p[i] = (struct producer){ s, i };
        cr_assert_eq(ringo_spawn(&tp[i], produce, &p[i]), 0);
    }
    for (int i = 0; i < NPROD; i++)
        cr_assert_eq(ringo_await(tp[i]), 0);
    for (int i = 0; i < NCONS; i++)
        cr_assert_eq(ringo_queue_put(s->q, NULL), 0);
    for (int i = 0; i < NCONS; i++)
        cr_assert_eq(ringo_await(tc[i]), 0);
    return 0;
}

Test(queue, a_million_items_between_four_producers_and_four_consumers)
{
    struct stress s = { 0 };
    cr_assert_eq(ringo_queue_new(&s.q, 64), 0);
    s.seen = calloc(TOTAL, 1);
    cr_assert_not_null(s.seen);
    cr_assert_eq(run_clean(stress_main, &s), 0);
    cr_assert_eq(s.got, TOTAL);
    cr_assert_eq(s.sum, (long long)TOTAL * (TOTAL + 1) / 2);
    for (long i = 0; i < TOTAL; i++)
        if (s.seen[i] != 1)
            cr_assert_fail("item %ld got %d times", i + 1, s.seen[i]);
    cr_assert_not(s.disorder, "FIFO broken: one producer's items out of order");
    cr_assert_eq(ringo_queue_size(s.q), 0);
    free(s.seen);
    ringo_queue_free(s.q);
}
