/* asyncio.Queue, LifoQueue and PriorityQueue of void * items: a store that
 * keeps the buffered items in their order (queue_order.h) plus FIFO-fair
 * direct handoff both ways, and Queue.shutdown (Python 3.13).
 *
 * A put while getters wait hands the item to the first getter (its node
 * carries it); a get that frees a slot while putters wait reserves the slot
 * for the first putter. Until the woken task runs, the handed item ("lent")
 * and the reserved slot still count against maxsize, so a task cancelled in
 * between can give back exactly what it was granted: a getter's item goes to
 * the next getter or back into the store as the next one out (never lost,
 * never duplicated), a putter's slot goes to the next putter, and its item
 * is not put. size() counts lent items too, as asyncio counts items that a
 * woken getter has not taken yet; get_nowait cannot take them (they are
 * promised).
 *
 * Shutdown wakes every waiter with -EPIPE in its node's result. An
 * immediate one also drops the lent items: their getters find `dropped` set
 * when they run, and no item is lent after it (puts are refused, and a
 * dropped getter gives nothing back), so `dropped` tells them exactly.
 *
 * Invariants: getters wait only while the store is empty and the queue not
 * shut down; putters wait only while full and not shut down; cap >= len +
 * lent + reserved, so a give-back never needs memory. */
#include <stdlib.h>

#include "engine/queue_order.h"
#include "engine/waitq.h"

struct ringo_queue {
    ringo__qstore st;        /* the buffered items */
    size_t maxsize;          /* 0 = unbounded */
    size_t lent;             /* items handed to getters that have not run yet */
    size_t reserved;         /* slots granted to putters that have not run yet */
    size_t unfinished;       /* put and not yet task_done */
    bool shut;               /* shutdown: no more puts */
    bool dropped;            /* shutdown(immediate): the items were dropped */
    ringo__waitq getters, putters, joiners;
    ringo_loop *_Atomic loop;
};

static int queue_new(ringo_queue **out, size_t maxsize, enum ringo__qorder order,
                     ringo_cmp_fn cmp)
{
    if (!out)
        return -EINVAL;
    ringo_queue *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    ringo__qstore_init(&q->st, order, cmp);
    q->maxsize = maxsize;
    ringo__waitq_init(&q->getters, "queue get", q);
    ringo__waitq_init(&q->putters, "queue put", q);
    ringo__waitq_init(&q->joiners, "queue join", q);
    atomic_init(&q->loop, NULL);
    *out = q;
    return 0;
}

int ringo_queue_new(ringo_queue **out, size_t maxsize)
{
    return queue_new(out, maxsize, RINGO_QORDER_FIFO, NULL);
}

int ringo_queue_new_lifo(ringo_queue **out, size_t maxsize)
{
    return queue_new(out, maxsize, RINGO_QORDER_LIFO, NULL);
}

int ringo_queue_new_priority(ringo_queue **out, size_t maxsize, ringo_cmp_fn cmp)
{
    if (!cmp)
        return -EINVAL;
    return queue_new(out, maxsize, RINGO_QORDER_PRIO, cmp);
}

static inline bool full(const ringo_queue *q)
{
    return q->maxsize && q->st.len + q->lent + q->reserved >= q->maxsize;
}

/* Space was freed: reserve it for waiting putters, first come first served. */
static inline void admit(ringo_queue *q)
{
    while (!ringo__waitq_empty(&q->putters) && !full(q)) {
        ringo__waitq_grant(&q->putters);
        q->reserved++;
    }
}

/* Hand item to the first waiting getter, or store it. The caller made sure
 * it fits (not full) and, for a new item, that cap has room. */
static inline void deliver(ringo_queue *q, void *item)
{
    ringo__waiter *g = ringo__waitq_grant(&q->getters);
    if (g) {
        g->item = item;
        q->lent++;
    } else {
        ringo__qstore_push(&q->st, item);
    }
}

/* Precondition: !full(q), not shut down. */
static int put_now(ringo_queue *q, void *item)
{
    if (RINGO_UNLIKELY(q->st.len + q->lent + q->reserved >= q->st.cap) &&
        ringo__qstore_grow(&q->st) < 0)
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
    if (RINGO_UNLIKELY(q->shut))
        return -EPIPE;
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
    bool cancelled = l->current->cancelled;
    if (RINGO_UNLIKELY(w.result < 0))   /* woken by shutdown: no slot */
        return cancelled ? -ECANCELED : w.result;
    q->reserved--;
    if (RINGO_UNLIKELY(cancelled || q->shut)) {
        admit(q);   /* the slot goes to the next putter; the item is not put */
        return cancelled ? -ECANCELED : -EPIPE;
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
    if (RINGO_UNLIKELY(q->shut))
        return -EPIPE;
    if (RINGO_LIKELY(!full(q)))
        return put_now(q, item);
    return put_wait(l, q, item);
}

static inline void *take(ringo_queue *q)
{
    void *item = ringo__qstore_pop(&q->st);
    admit(q);
    return item;
}

int ringo_queue_get_nowait(ringo_queue *q, void **item)
{
    if (!q || !item)
        return -EINVAL;
    int bound = ringo__bind(&q->loop);
    if (bound < 0)
        return bound;
    if (!q->st.len)
        return q->shut ? -EPIPE : -EAGAIN;
    *item = take(q);
    return 0;
}

static __attribute__((noinline)) int get_wait(ringo_loop *l, ringo_queue *q, void **item)
{
    ringo__waiter w;
    int ret = ringo__waitq_wait(l, &q->getters, &w);
    if (ret < 0)
        return ret;
    bool cancelled = l->current->cancelled;
    if (RINGO_UNLIKELY(w.result < 0 || q->dropped))   /* no item, or it was dropped */
        return cancelled ? -ECANCELED : -EPIPE;
    q->lent--;
    if (RINGO_UNLIKELY(cancelled)) {
        /* Give the item back where it would have been: to the next getter,
         * or (none waiting, so it is older than anything stored) back as
         * the next one out. Its lent slot becomes that one: no capacity
         * change. */
        ringo__waiter *g = ringo__waitq_grant(&q->getters);
        if (g) {
            g->item = w.item;
            q->lent++;
        } else {
            ringo__qstore_unpop(&q->st, w.item);
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
    if (RINGO_LIKELY(q->st.len)) {
        *item = take(q);
        return 0;
    }
    if (RINGO_UNLIKELY(q->shut))
        return -EPIPE;
    return get_wait(l, q, item);
}

size_t ringo_queue_size(const ringo_queue *q)
{
    return q ? q->st.len + q->lent : 0;
}

static void finish(ringo_queue *q, size_t n)
{
    if (q->unfinished == 0)
        return;
    q->unfinished = n < q->unfinished ? q->unfinished - n : 0;
    if (q->unfinished == 0)
        while (ringo__waitq_grant(&q->joiners))
            ;
}

void ringo_queue_task_done(ringo_queue *q)
{
    /* More calls than items put: ignored (asyncio raises ValueError). */
    if (q)
        finish(q, 1);
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

static void wake_all(ringo__waitq *wq, int result)
{
    ringo__waiter *w;
    while ((w = ringo__waitq_grant(wq)))
        w->result = result;
}

void ringo_queue_shutdown(ringo_queue *q, bool immediate)
{
    if (!q)
        return;
    q->shut = true;
    if (immediate) {
        size_t n = q->st.len + q->lent;
        ringo__qstore_clear(&q->st);
        q->lent = 0;
        q->dropped = true;
        finish(q, n);
    }
    /* Getters wait only while the store is empty: nothing will come. */
    wake_all(&q->getters, -EPIPE);
    wake_all(&q->putters, -EPIPE);
}

void ringo_queue_free(ringo_queue *q)
{
    if (!q)
        return;
    size_t n = q->getters.n + q->putters.n + q->joiners.n;
    if (ringo__waitq_refuse_free(n, "ringo_queue_free", "queue"))
        return;
    ringo__qstore_free(&q->st);
    free(q);
}
