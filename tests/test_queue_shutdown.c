/* Queue.shutdown (Python 3.13): puts refused, the items left still got,
 * then -EPIPE; every waiter (getters, putters, also a putter granted a slot
 * and a getter handed an item) woken with the right outcome; immediate
 * shutdown drops the items, counting them done for join. Ported from
 * CPython's test_asyncio/test_queues.py (_QueueShutdownTestMixin). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "helpers.h"

#define ITEM(i) ((void *)(uintptr_t)(i))
#define NUM(p)  ((int)(uintptr_t)(p))

struct actor { ringo_queue *q; int ret; void *item; bool back; };

static int getter(void *arg)
{
    struct actor *a = arg;
    a->ret = ringo_queue_get(a->q, &a->item);
    a->back = true;
    return 0;
}

static int putter(void *arg)
{
    struct actor *a = arg;
    a->ret = ringo_queue_put(a->q, a->item);
    a->back = true;
    return 0;
}

static int joiner(void *arg)
{
    struct actor *a = arg;
    a->ret = ringo_queue_join(a->q);
    a->back = true;
    return 0;
}

static ringo_task *start(ringo_fn fn, struct actor *a)
{
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, fn, a), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_not(a->back, "it should wait");
    return t;
}

static int drain_main(void *arg)
{
    ringo_queue *q = arg;
    void *it;
    cr_assert_eq(ringo_queue_put(q, ITEM(3)), -EPIPE);
    cr_assert_eq(ringo_queue_get(q, &it), 0);
    cr_assert_eq(NUM(it), 2);
    cr_assert_eq(ringo_queue_get(q, &it), -EPIPE, "empty and shut down: no waiting");
    return 0;
}

Test(queue_shutdown, puts_are_refused_and_the_items_left_are_still_got)
{
    ringo_queue *q;
    void *it;
    cr_assert_eq(ringo_queue_new(&q, 0), 0);
    cr_assert_eq(ringo_queue_put_nowait(q, ITEM(1)), 0);
    cr_assert_eq(ringo_queue_put_nowait(q, ITEM(2)), 0);
    ringo_queue_shutdown(q, false);
    ringo_queue_shutdown(NULL, false);
    cr_assert_eq(ringo_queue_put_nowait(q, ITEM(3)), -EPIPE);
    cr_assert_eq(ringo_queue_size(q), 2);
    cr_assert_eq(ringo_queue_get_nowait(q, &it), 0);
    cr_assert_eq(NUM(it), 1);
    cr_assert_eq(run_clean(drain_main, q), 0);
    cr_assert_eq(ringo_queue_get_nowait(q, &it), -EPIPE, "not -EAGAIN: nothing will come");
    ringo_queue_free(q);
}

/* maxsize 1: getter 0 is handed item 7 (the queue is full with it), so a
 * putter waits for room and getter 1 waits for an item: waiters on both
 * ends at once, and a joiner. The shutdown comes from a task that runs
 * after they all queued and before getter 0 runs. */
struct both {
    ringo_queue *q;
    bool immediate, both_ends;
    struct actor g[2], p, j;
    ringo_task *tg[2], *tp, *tj, *ts;
};

static int shutter(void *arg)
{
    struct both *b = arg;
    b->both_ends = !b->p.back && !b->g[1].back && !b->j.back && !b->g[0].back &&
                   ringo_queue_size(b->q) == 1;
    ringo_queue_shutdown(b->q, b->immediate);
    return 0;
}

static void both_ends(ringo_queue *q, struct both *b, bool immediate)
{
    *b = (struct both){ .q = q, .immediate = immediate,
                        .g = { { .q = q, .ret = 1 }, { .q = q, .ret = 1 } },
                        .p = { .q = q, .ret = 1, .item = ITEM(8) },
                        .j = { .q = q, .ret = 1 } };
    b->tg[0] = start(getter, &b->g[0]);
    cr_assert_eq(ringo_spawn(&b->tp, putter, &b->p), 0);
    cr_assert_eq(ringo_spawn(&b->tg[1], getter, &b->g[1]), 0);
    cr_assert_eq(ringo_spawn(&b->tj, joiner, &b->j), 0);
    cr_assert_eq(ringo_spawn(&b->ts, shutter, b), 0);
    cr_assert_eq(ringo_queue_put(q, ITEM(7)), 0);    /* to getter 0, woken last */
    cr_assert_eq(ringo_await(b->ts), 0);
    cr_assert(b->both_ends, "the scene was not set");
}

static int both_plain_main(void *arg)
{
    ringo_queue *q = arg;
    struct both b;
    both_ends(q, &b, false);
    cr_assert_eq(ringo_await(b.tp), 0);
    cr_assert_eq(b.p.ret, -EPIPE, "the waiting putter is refused");
    cr_assert_eq(ringo_await(b.tg[1]), 0);
    cr_assert_eq(b.g[1].ret, -EPIPE, "the getter waiting on the empty queue");
    cr_assert_eq(ringo_await(b.tg[0]), 0);
    cr_assert_eq(b.g[0].ret, 0, "an item handed over before a plain shutdown is kept");
    cr_assert_eq(NUM(b.g[0].item), 7);
    cr_assert_not(b.j.back, "join waits for task_done, shutdown or not");
    ringo_queue_task_done(q);
    cr_assert_eq(ringo_await(b.tj), 0);
    cr_assert_eq(b.j.ret, 0);
    return 0;
}

Test(queue_shutdown, plain_shutdown_with_waiters_on_both_ends)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new(&q, 1), 0);
    cr_assert_eq(run_clean(both_plain_main, q), 0);
    cr_assert_eq(ringo_queue_size(q), 0);
    ringo_queue_free(q);
}

static int both_immediate_main(void *arg)
{
    ringo_queue *q = arg;
    struct both b;
    both_ends(q, &b, true);
    cr_assert_eq(ringo_queue_size(q), 0, "the promised item was dropped too");
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(ringo_await(b.tg[i]), 0);
        cr_assert_eq(b.g[i].ret, -EPIPE, "getter %d", i);
    }
    cr_assert_eq(ringo_await(b.tp), 0);
    cr_assert_eq(b.p.ret, -EPIPE);
    cr_assert_eq(ringo_await(b.tj), 0);
    cr_assert_eq(b.j.ret, 0, "the dropped item counts as done");
    return 0;
}

Test(queue_shutdown, immediate_shutdown_with_waiters_on_both_ends)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new(&q, 1), 0);
    cr_assert_eq(run_clean(both_immediate_main, q), 0);
    ringo_queue_free(q);
}

static int reserved_main(void *arg)
{
    ringo_queue *q = arg;
    cr_assert_eq(ringo_queue_put(q, ITEM(1)), 0);
    struct actor p[2] = { { .q = q, .ret = 1, .item = ITEM(2) },
                          { .q = q, .ret = 1, .item = ITEM(3) } };
    ringo_task *tp[2] = { start(putter, &p[0]), start(putter, &p[1]) };
    void *it;
    cr_assert_eq(ringo_queue_get(q, &it), 0);   /* the slot is putter 0's now */
    ringo_queue_shutdown(q, false);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(ringo_await(tp[i]), 0);
        cr_assert_eq(p[i].ret, -EPIPE, "putter %d: a slot granted before shutdown is no put", i);
    }
    cr_assert_eq(ringo_queue_get(q, &it), -EPIPE);
    return 0;
}

Test(queue_shutdown, putter_granted_a_slot_before_shutdown_puts_nothing)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new(&q, 1), 0);
    cr_assert_eq(run_clean(reserved_main, q), 0);
    cr_assert_eq(ringo_queue_size(q), 0);
    ringo_queue_free(q);
}

static int immediate_join_main(void *arg)
{
    ringo_queue *q = arg;
    for (int i = 1; i <= 4; i++)
        cr_assert_eq(ringo_queue_put(q, ITEM(i)), 0);
    void *it;
    cr_assert_eq(ringo_queue_get(q, &it), 0);   /* got, not done yet */
    struct actor j = { .q = q, .ret = 1 };
    ringo_task *tj = start(joiner, &j);
    ringo_queue_shutdown(q, false);
    cr_assert_eq(ringo_queue_size(q), 3, "a plain shutdown drops nothing");
    ringo_queue_shutdown(q, true);             /* a second call may drop them */
    cr_assert_eq(ringo_queue_size(q), 0);
    cr_assert_eq(ringo_queue_get(q, &it), -EPIPE);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_not(j.back, "the item got still needs its task_done");
    ringo_queue_task_done(q);
    cr_assert_eq(ringo_await(tj), 0);
    cr_assert_eq(j.ret, 0);
    ringo_queue_task_done(q);   /* one too many: ignored */
    cr_assert_eq(ringo_queue_join(q), 0);
    return 0;
}

Test(queue_shutdown, immediate_shutdown_counts_the_dropped_items_done_but_not_those_got)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new(&q, 0), 0);
    cr_assert_eq(run_clean(immediate_join_main, q), 0);
    ringo_queue_free(q);
}

static int by_value(const void *a, const void *b)
{
    return (NUM(a) > NUM(b)) - (NUM(a) < NUM(b));
}

Test(queue_shutdown, priority_and_lifo_queues_drain_in_their_order_after_shutdown)
{
    ringo_queue *q[2];
    cr_assert_eq(ringo_queue_new_priority(&q[0], 0, by_value), 0);
    cr_assert_eq(ringo_queue_new_lifo(&q[1], 0), 0);
    int want[2][3] = { { 1, 2, 3 }, { 1, 3, 2 } };
    for (int k = 0; k < 2; k++) {
        int in[] = { 2, 3, 1 };
        for (int i = 0; i < 3; i++)
            cr_assert_eq(ringo_queue_put_nowait(q[k], ITEM(in[i])), 0);
        ringo_queue_shutdown(q[k], false);
        for (int i = 0; i < 3; i++) {
            void *it;
            cr_assert_eq(ringo_queue_get_nowait(q[k], &it), 0);
            cr_assert_eq(NUM(it), want[k][i]);
        }
        void *it;
        cr_assert_eq(ringo_queue_get_nowait(q[k], &it), -EPIPE);
        ringo_queue_free(q[k]);
    }
}
