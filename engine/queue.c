/* asyncio.Queue of void * items: a ring buffer (grown by doubling) plus
 * FIFO-fair direct handoff both ways.
 *
 * A put while getters wait hands the item to the first getter (its node
 * carries it); a get that frees a slot while putters wait reserves the slot
 * for the first putter. Until the woken task runs, the handed item ("lent")
 * and the reserved slot still count against maxsize, so a task cancelled in
 * between can give back exactly what it was granted: a getter's item goes to
 * the next getter or back to the front of the buffer (never lost, never
 * duplicated), a putter's slot goes to the next putter, and its item is not
 * put. size() counts lent items too, as asyncio counts items that a woken
 * getter has not taken yet; get_nowait cannot take them (they are promised).
 *
 * Invariants: getters wait only while len == 0; putters wait only while
 * full; cap >= len + lent + reserved, so a give-back never needs memory. */
#include <stdlib.h>

#include "engine/waitq.h"

#define QUEUE_MIN_CAP 8

struct ringo_queue {
    void **buf;
    size_t cap, head, len;   /* items buf[(head + i) & (cap - 1)], cap a power of 2 */
    size_t maxsize;          /* 0 = unbounded */
    size_t lent;             /* items handed to getters that have not run yet */
    size_t reserved;         /* slots granted to putters that have not run yet */
    size_t unfinished;       /* put and not yet task_done */
    ringo__waitq getters, putters, joiners;
    ringo_loop *_Atomic loop;
};

int ringo_queue_new(ringo_queue **out, size_t maxsize)
{
    if (!out)
        return -EINVAL;
    ringo_queue *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    q->maxsize = maxsize;
    ringo__waitq_init(&q->getters, "queue get", q);
    ringo__waitq_init(&q->putters, "queue put", q);
    ringo__waitq_init(&q->joiners, "queue join", q);
    *out = q;
    return 0;
}

static inline bool full(const ringo_queue *q)
{
    return q->maxsize && q->len + q->lent + q->reserved >= q->maxsize;
}

static int grow(ringo_queue *q)
{
    size_t cap = q->cap ? q->cap * 2 : QUEUE_MIN_CAP;
    if (cap < q->cap || cap > SIZE_MAX / sizeof(void *))
        return -ENOMEM;
    void **buf = malloc(cap * sizeof *buf);
    if (!buf)
        return -ENOMEM;
    for (size_t i = 0; i < q->len; i++)
        buf[i] = q->buf[(q->head + i) & (q->cap - 1)];
    free(q->buf);
    q->buf = buf;
    q->cap = cap;
    q->head = 0;
    return 0;
}

static inline void *pop_front(ringo_queue *q)
{
    void *item = q->buf[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    q->len--;
    return item;
}

/* Space was freed: reserve it for waiting putters, first come first served. */
static inline void admit(ringo_queue *q)
{
    while (!ringo__waitq_empty(&q->putters) && !full(q)) {
        ringo__waitq_grant(&q->putters);
        q->reserved++;
    }
}

/* Hand item to the first waiting getter, or append it. The caller made sure
 * it fits (not full) and, for a new item, that cap has room. */
static inline void deliver(ringo_queue *q, void *item)
{
    ringo__waiter *g = ringo__waitq_grant(&q->getters);
    if (g) {
        g->item = item;
        q->lent++;
    } else {
        q->buf[(q->head + q->len) & (q->cap - 1)] = item;
        q->len++;
    }
}

/* Precondition: !full(q). */
static int put_now(ringo_queue *q, void *item)
{
    if (RINGO_UNLIKELY(q->len + q->lent + q->reserved >= q->cap) && grow(q) < 0)
        return -ENOMEM;
    deliver(q, item);
    q->unfinished++;
    return 0;
}

int ringo_queue_put_nowait(ringo_queue *q, void *item)
{
    if (!q)
        return -EINVAL;
    int bound = ringo__bind(&q->loop);
    if (bound < 0)
        return bound;
    if (full(q))
        return -EAGAIN;
    return put_now(q, item);
}

/* The slow paths are out of line so the fast ones need no frame for the node. */
static __attribute__((noinline)) int put_wait(ringo_loop *l, ringo_queue *q, void *item)
{
    ringo__waiter w;
    int ret = ringo__waitq_wait(l, &q->putters, &w);
    if (ret < 0)
        return ret;
    q->reserved--;
    if (RINGO_UNLIKELY(l->current->cancelled)) {
        admit(q);   /* the slot goes to the next putter; the item is not put */
        return -ECANCELED;
    }
    /* The reserved slot is already within cap: this cannot fail. */
    return put_now(q, item);
}

int ringo_queue_put(ringo_queue *q, void *item)
{
    if (!q)
        return -EINVAL;
    int bound = ringo__bind(&q->loop);
    if (bound < 0)
        return bound;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    if (RINGO_LIKELY(!full(q)))
        return put_now(q, item);
    return put_wait(l, q, item);
}

int ringo_queue_get_nowait(ringo_queue *q, void **item)
{
    if (!q || !item)
        return -EINVAL;
    int bound = ringo__bind(&q->loop);
    if (bound < 0)
        return bound;
    if (!q->len)
        return -EAGAIN;
    *item = pop_front(q);
    admit(q);
    return 0;
}

static __attribute__((noinline)) int get_wait(ringo_loop *l, ringo_queue *q, void **item)
{
    ringo__waiter w;
    int ret = ringo__waitq_wait(l, &q->getters, &w);
    if (ret < 0)
        return ret;
    q->lent--;
    if (RINGO_UNLIKELY(l->current->cancelled)) {
        /* Give the item back where it would have been: to the next getter,
         * or (none waiting, so it is older than anything buffered) to the
         * front. Its lent slot becomes that one: no capacity change. */
        ringo__waiter *g = ringo__waitq_grant(&q->getters);
        if (g) {
            g->item = w.item;
            q->lent++;
        } else {
            q->head = (q->head - 1) & (q->cap - 1);
            q->buf[q->head] = w.item;
            q->len++;
        }
        return -ECANCELED;
    }
    *item = w.item;
    admit(q);
    return 0;
}

int ringo_queue_get(ringo_queue *q, void **item)
{
    if (!q || !item)
        return -EINVAL;
    int bound = ringo__bind(&q->loop);
    if (bound < 0)
        return bound;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    if (RINGO_LIKELY(q->len)) {
        *item = pop_front(q);
        admit(q);
        return 0;
    }
    return get_wait(l, q, item);
}

size_t ringo_queue_size(const ringo_queue *q)
{
    return q ? q->len + q->lent : 0;
}

void ringo_queue_task_done(ringo_queue *q)
{
    /* More calls than items put: ignored (asyncio raises ValueError). */
    if (!q || q->unfinished == 0)
        return;
    if (--q->unfinished == 0)
        while (ringo__waitq_grant(&q->joiners))
            ;
}

int ringo_queue_join(ringo_queue *q)
{
    if (!q)
        return -EINVAL;
    int bound = ringo__bind(&q->loop);
    if (bound < 0)
        return bound;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    if (q->unfinished == 0)
        return 0;
    ringo__waiter w;
    ret = ringo__waitq_wait(l, &q->joiners, &w);
    if (ret < 0)
        return ret;
    return l->current->cancelled ? -ECANCELED : 0;
}

void ringo_queue_free(ringo_queue *q)
{
    if (!q)
        return;
    size_t n = q->getters.n + q->putters.n + q->joiners.n;
    if (ringo__waitq_refuse_free(n, "ringo_queue_free", "queue"))
        return;
    free(q->buf);
    free(q);
}
