/* LifoQueue and PriorityQueue: the order items come out in (priority ties
 * in the order they were put), and the FIFO queue's waiting, handoff,
 * cancellation give-back, join and growth rules kept under both orders.
 * Ported from CPython's test_asyncio/test_queues.py (LifoQueueTests,
 * PriorityQueueTests). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "helpers.h"

#define ITEM(i) ((void *)(uintptr_t)(i))
#define NUM(p)  ((int)(uintptr_t)(p))

/* Priority = the value divided by 100: 101, 102, 103 are equals. */
static int by_hundreds(const void *a, const void *b)
{
    int x = NUM(a) / 100, y = NUM(b) / 100;
    return (x > y) - (x < y);
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

Test(queue_order, lifo_gives_the_newest_item_first)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new_lifo(NULL, 0), -EINVAL);
    cr_assert_eq(ringo_queue_new_lifo(&q, 3), 0);
    int in[] = { 1, 2, 3 };
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ringo_queue_put_nowait(q, ITEM(in[i])), 0);
    cr_assert_eq(ringo_queue_put_nowait(q, ITEM(4)), -EAGAIN, "full at maxsize");
    int want[] = { 3, 2, 1 };
    expect_contents(q, want, 3);
    ringo_queue_free(q);
}

Test(queue_order, priority_gives_the_first_by_cmp_and_equals_in_put_order)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new_priority(&q, 0, NULL), -EINVAL, "a priority queue needs cmp");
    cr_assert_eq(ringo_queue_new_priority(NULL, 0, by_hundreds), -EINVAL);
    cr_assert_eq(ringo_queue_new_priority(&q, 0, by_hundreds), 0);
    int in[] = { 301, 101, 201, 102, 302, 103, 202, 104, 105, 303 };
    for (int i = 0; i < 10; i++)
        cr_assert_eq(ringo_queue_put_nowait(q, ITEM(in[i])), 0);
    int want[] = { 101, 102, 103, 104, 105, 201, 202, 301, 302, 303 };
    expect_contents(q, want, 10);
    ringo_queue_free(q);
}

/* Items key * 1000000 + put sequence; cmp looks at the key only. */
static int by_key(const void *a, const void *b)
{
    long x = (long)(uintptr_t)a / 1000000, y = (long)(uintptr_t)b / 1000000;
    return (x > y) - (x < y);
}

#define KEYS 100
#define PUTS 20000

/* A model: per key, the sequences put and not got yet, in put order. */
struct model { int seq[KEYS][PUTS]; int head[KEYS], tail[KEYS]; };

static long model_next(struct model *m)
{
    for (int k = 0; k < KEYS; k++)
        if (m->head[k] < m->tail[k])
            return (long)k * 1000000 + m->seq[k][m->head[k]++];
    return -1;
}

Test(queue_order, priority_heap_matches_a_model_over_20000_puts_and_gets)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new_priority(&q, 0, by_key), 0);
    struct model *m = calloc(1, sizeof *m);
    cr_assert_not_null(m);
    unsigned r = 12345;
    for (int i = 0; i < PUTS; i++) {
        r = r * 1103515245u + 12345u;
        int key = (int)((r >> 8) % KEYS);
        m->seq[key][m->tail[key]++] = i;
        cr_assert_eq(ringo_queue_put_nowait(q, (void *)(uintptr_t)((long)key * 1000000 + i)), 0);
        if (i % 3 == 2) {   /* gets in between: the heap shrinks and grows */
            void *it;
            cr_assert_eq(ringo_queue_get_nowait(q, &it), 0);
            long want = model_next(m);
            if ((long)(uintptr_t)it != want)
                cr_assert_fail("get after put %d: %ld, want %ld", i, (long)(uintptr_t)it, want);
        }
    }
    for (long want; (want = model_next(m)) >= 0;) {
        void *it;
        cr_assert_eq(ringo_queue_get_nowait(q, &it), 0);
        if ((long)(uintptr_t)it != want)
            cr_assert_fail("drain: %ld, want %ld", (long)(uintptr_t)it, want);
    }
    cr_assert_eq(ringo_queue_size(q), 0);
    free(m);
    ringo_queue_free(q);
}

/* ---- waiting, handoff and give-back under both orders ------------------ */

struct actor { ringo_queue *q; int ret; void *item; };

static int getter(void *arg)
{
    struct actor *a = arg;
    a->ret = ringo_queue_get(a->q, &a->item);
    return a->ret;
}

static int putter(void *arg)
{
    struct actor *a = arg;
    a->ret = ringo_queue_put(a->q, a->item);
    return a->ret;
}

static ringo_task *start(ringo_fn fn, struct actor *a)
{
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, fn, a), 0);
    cr_assert_eq(ringo_yield(), 0);
    return t;
}

struct scenario { ringo_queue *q; const int *want; size_t nwant; };

/* A getter is handed 101, then cancelled before it runs, with 102 and 203
 * stored meanwhile: 101 returns as older than both. */
static int give_back_main(void *arg)
{
    struct scenario *s = arg;
    struct actor g = { .q = s->q, .ret = 1 };
    ringo_task *t = start(getter, &g);
    cr_assert_eq(ringo_queue_put_nowait(s->q, ITEM(101)), 0);   /* to the getter */
    cr_assert_eq(ringo_queue_size(s->q), 1, "promised, still counted");
    cr_assert_eq(ringo_queue_put_nowait(s->q, ITEM(203)), 0);
    cr_assert_eq(ringo_queue_put_nowait(s->q, ITEM(102)), 0);
    cr_assert_eq(ringo_queue_put_nowait(s->q, ITEM(104)), -EAGAIN, "the promised one counts");
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    cr_assert_null(g.item);
    expect_contents(s->q, s->want, s->nwant);
    return 0;
}

Test(queue_order, lifo_item_of_a_cancelled_getter_goes_back_as_the_oldest)
{
    int want[] = { 102, 203, 101 };
    struct scenario s = { .want = want, .nwant = 3 };
    cr_assert_eq(ringo_queue_new_lifo(&s.q, 3), 0);
    cr_assert_eq(run_clean(give_back_main, &s), 0);
    ringo_queue_free(s.q);
}

Test(queue_order, priority_item_of_a_cancelled_getter_goes_back_first_among_equals)
{
    int want[] = { 101, 102, 203 };
    struct scenario s = { .want = want, .nwant = 3 };
    cr_assert_eq(ringo_queue_new_priority(&s.q, 3, by_hundreds), 0);
    cr_assert_eq(run_clean(give_back_main, &s), 0);
    ringo_queue_free(s.q);
}

/* The handoff rules: a put goes to the first waiting getter; one handed an
 * item and cancelled passes it to the next; a putter granted a slot and
 * cancelled puts nothing and passes the slot on; join waits for task_done. */
static int handoff_main(void *arg)
{
    ringo_queue *q = arg;
    struct actor g[3] = { { .q = q, .ret = 1 }, { .q = q, .ret = 1 }, { .q = q, .ret = 1 } };
    ringo_task *tg[3];
    for (int i = 0; i < 3; i++)
        tg[i] = start(getter, &g[i]);
    cr_assert_eq(ringo_queue_put(q, ITEM(301)), 0);   /* to getter 0 */
    cr_assert_eq(ringo_queue_put(q, ITEM(102)), 0);   /* to getter 1 */
    cr_assert_eq(ringo_cancel(tg[0]), 0);             /* 301 passes to getter 2 */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ringo_await(tg[i]), i ? 0 : -ECANCELED);
    cr_assert_eq(NUM(g[1].item), 102);
    cr_assert_eq(NUM(g[2].item), 301, "the cancelled getter's item went to the next");
    ringo_queue_task_done(q);
    ringo_queue_task_done(q);

    /* Full (maxsize 2): putters wait; a cancelled one with a slot passes it on. */
    cr_assert_eq(ringo_queue_put(q, ITEM(201)), 0);
    cr_assert_eq(ringo_queue_put(q, ITEM(202)), 0);
    struct actor p[2] = { { .q = q, .ret = 1, .item = ITEM(103) },
                          { .q = q, .ret = 1, .item = ITEM(104) } };
    ringo_task *tp[2] = { start(putter, &p[0]), start(putter, &p[1]) };
    cr_assert_eq(p[0].ret, 1, "put waits while full");
    void *it;
    cr_assert_eq(ringo_queue_get(q, &it), 0);        /* frees a slot for putter 0 */
    cr_assert_eq(ringo_queue_put_nowait(q, ITEM(999)), -EAGAIN, "the slot is reserved");
    cr_assert_eq(ringo_cancel(tp[0]), 0);
    cr_assert_eq(ringo_await(tp[0]), -ECANCELED);
    cr_assert_eq(ringo_await(tp[1]), 0);
    ringo_queue_task_done(q);
    cr_assert_eq(ringo_queue_size(q), 2);
    cr_assert_eq(ringo_queue_get(q, &it), 0);
    int first = NUM(it);
    cr_assert_eq(ringo_queue_get(q, &it), 0);
    int second = NUM(it);
    cr_assert_neq(first, 103, "the cancelled put put nothing");
    cr_assert_neq(second, 103);
    ringo_queue_task_done(q);   /* one of the two; the other is still out */
    return first * 1000 + second;
}

static int join_after(void *arg)
{
    ringo_queue *q = arg;
    return ringo_queue_join(q);
}

static int handoff_and_join_main(void *arg)
{
    ringo_queue *q = arg;
    int order = handoff_main(q);
    /* One item got and not done yet: join waits for it. */
    ringo_task *j;
    cr_assert_eq(ringo_spawn(&j, join_after, q), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_not(ringo_task_done(j), "join returned with an item unfinished");
    ringo_queue_task_done(q);
    cr_assert_eq(ringo_await(j), 0);
    return order;
}

Test(queue_order, lifo_keeps_the_handoff_cancel_and_join_rules)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new_lifo(&q, 2), 0);
    /* Left after the get: 201; then 104 put on top. */
    cr_assert_eq(run_clean(handoff_and_join_main, q), 104 * 1000 + 201);
    ringo_queue_free(q);
}

Test(queue_order, priority_keeps_the_handoff_cancel_and_join_rules)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new_priority(&q, 2, by_hundreds), 0);
    /* 201 and 202 stored, 201 got; then 104 comes before 202. */
    cr_assert_eq(run_clean(handoff_and_join_main, q), 104 * 1000 + 202);
    ringo_queue_free(q);
}

/* A give-back wraps the ring (it goes in below the oldest); growing must
 * unwrap it with the order intact. */
static int wrap_main(void *arg)
{
    ringo_queue *q = arg;
    struct actor g = { .q = q, .ret = 1 };
    ringo_task *t = start(getter, &g);
    cr_assert_eq(ringo_queue_put(q, ITEM(1000)), 0);   /* to the getter */
    for (int i = 1; i <= 7; i++)                       /* the ring's 8 slots in use */
        cr_assert_eq(ringo_queue_put(q, ITEM(i)), 0);
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);          /* 1000 goes in below 1 */
    for (int i = 8; i <= 40; i++)
        cr_assert_eq(ringo_queue_put(q, ITEM(i)), 0);
    cr_assert_eq(ringo_queue_size(q), 41);
    for (int want = 40; want >= 1; want--) {
        void *it;
        cr_assert_eq(ringo_queue_get(q, &it), 0);
        cr_assert_eq(NUM(it), want);
    }
    void *it;
    cr_assert_eq(ringo_queue_get(q, &it), 0);
    cr_assert_eq(NUM(it), 1000, "the item given back is the oldest");
    return 0;
}

Test(queue_order, lifo_grows_with_the_ring_wrapped_by_a_give_back)
{
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new_lifo(&q, 0), 0);
    cr_assert_eq(run_clean(wrap_main, q), 0);
    ringo_queue_free(q);
}

/* ---- stress: a priority queue of maxsize 16 between 4 producers and 4
 * consumers, with getters cancelled and timed out among them: every item
 * got exactly once. */

#define SPROD 4
#define SPER 25000
#define STOTAL (SPROD * SPER)

struct stress { ringo_queue *q; unsigned char *seen; long got; bool dup; };
struct sprod { struct stress *s; int id; };

static int stress_produce(void *arg)
{
    struct sprod *p = arg;
    for (int i = 0; i < SPER; i++) {
        int ret = ringo_queue_put(p->s->q, ITEM(1 + p->id * SPER + i));
        if (ret < 0)
            return ret;
        if (i % 64 == 0 && (ret = ringo_yield()) < 0)
            return ret;
    }
    return 0;
}

static void take_one(struct stress *s, void *it)
{
    if (s->seen[NUM(it) - 1]++)
        s->dup = true;
    s->got++;
}

static int stress_consume(void *arg)
{
    struct stress *s = arg;
    for (;;) {
        void *it;
        int ret = ringo_queue_get(s->q, &it);
        if (ret < 0)
            return ret;
        if (NUM(it) == 0)
            return 0;
        take_one(s, it);
    }
}

static int stress_victim(void *arg)
{
    struct stress *s = arg;
    ringo_deadline(ringo_now() + RINGO_US(50));
    void *it;
    if (ringo_queue_get(s->q, &it) == 0 && NUM(it) != 0)
        take_one(s, it);
    return 0;
}

/* Priority: the value's low 3 bits, so the order is far from put order. */
static int by_low_bits(const void *a, const void *b)
{
    int x = NUM(a) & 7, y = NUM(b) & 7;
    return (x > y) - (x < y);
}

static int stress_main(void *arg)
{
    struct stress *s = arg;
    ringo_task *tp[SPROD], *tc[4];
    struct sprod p[SPROD];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ringo_spawn(&tc[i], stress_consume, s), 0);
    for (int i = 0; i < SPROD; i++) {
        p[i] = (struct sprod){ s, i };
        cr_assert_eq(ringo_spawn(&tp[i], stress_produce, &p[i]), 0);
    }
    for (int k = 0; k < 200; k++) {
        ringo_task *v[2];
        cr_assert_eq(ringo_spawn(&v[0], stress_victim, s), 0);
        cr_assert_eq(ringo_spawn(&v[1], stress_victim, s), 0);
        cr_assert_eq(ringo_yield(), 0);
        (void)ringo_cancel(v[1]);
        ringo_detach(v[0]);
        ringo_detach(v[1]);
    }
    for (int i = 0; i < SPROD; i++)
        cr_assert_eq(ringo_await(tp[i]), 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ringo_queue_put(s->q, NULL), 0);   /* NUM 0 sorts first: the end */
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ringo_await(tc[i]), 0);
    /* Victims still waiting got nothing; the rest is in the queue. */
    void *it;
    while (ringo_queue_get_nowait(s->q, &it) == 0)
        if (NUM(it))
            take_one(s, it);
    return 0;
}

Test(queue_order, priority_stress_with_cancelled_getters_loses_and_duplicates_nothing)
{
    struct stress s = { .seen = calloc(STOTAL, 1) };
    cr_assert_not_null(s.seen);
    cr_assert_eq(ringo_queue_new_priority(&s.q, 16, by_low_bits), 0);
    cr_assert_eq(run_clean(stress_main, &s), 0);
    cr_assert_not(s.dup, "an item was got twice");
    cr_assert_eq(s.got, STOTAL, "got %ld of %d", s.got, STOTAL);
    free(s.seen);
    ringo_queue_free(s.q);
}
