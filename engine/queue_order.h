/* Where a Queue keeps its buffered items, and the order they come out in:
 * FIFO (asyncio.Queue), LIFO (LifoQueue) or priority (PriorityQueue).
 *
 * FIFO and LIFO share a ring buffer (cap a power of 2) and differ only in
 * the end they take from; priority is a binary min-heap keyed on (cmp, put
 * sequence), so equal items come out in the order they were put.
 *
 * unpop puts back an item that came out before everything stored now (a
 * getter was handed it while the store was empty, then cancelled): it
 * becomes the next one out in FIFO order, the last in LIFO order (it is
 * older than the rest), and in priority order the first among its equals,
 * by a sequence that counts down from below every put's.
 *
 * The queue sizes the store (ringo__qstore_grow) before a push; unpop
 * never needs memory, as the queue keeps room for every item handed out. */
#ifndef RINGO_ENGINE_QUEUE_ORDER_H
#define RINGO_ENGINE_QUEUE_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "include/ringo.h"

enum ringo__qorder { RINGO_QORDER_FIFO, RINGO_QORDER_LIFO, RINGO_QORDER_PRIO };

typedef struct ringo__qslot {
    void *item;
    uint64_t seq;
} ringo__qslot;

typedef struct ringo__qstore {
    uint8_t order;           /* enum ringo__qorder */
    size_t cap, len;         /* room for cap items (0 until the first push) */
    size_t head;             /* ring: buffered items ring[(head + i) & (cap - 1)] */
    void **ring;             /* FIFO, LIFO */
    ringo__qslot *heap;      /* PRIO: heap[0] comes out next */
    ringo_cmp_fn cmp;
    uint64_t seq_put, seq_back;
} ringo__qstore;

void  ringo__qstore_init(ringo__qstore *s, enum ringo__qorder order, ringo_cmp_fn cmp);
int   ringo__qstore_grow(ringo__qstore *s);   /* double cap: 0 or -ENOMEM */
void  ringo__qstore_clear(ringo__qstore *s);  /* drop every item */
void  ringo__qstore_free(ringo__qstore *s);
void  ringo__qheap_push(ringo__qstore *s, void *item, uint64_t seq);
void *ringo__qheap_pop(ringo__qstore *s);

/* A new item; len < cap. */
static inline void ringo__qstore_push(ringo__qstore *s, void *item)
{
    if (s->order == RINGO_QORDER_PRIO) {
        ringo__qheap_push(s, item, s->seq_put++);
        return;
    }
    s->ring[(s->head + s->len) & (s->cap - 1)] = item;
    s->len++;
}

/* The next item out; len > 0. */
static inline void *ringo__qstore_pop(ringo__qstore *s)
{
    void *item;
    switch (s->order) {
    case RINGO_QORDER_FIFO:
        item = s->ring[s->head];
        s->head = (s->head + 1) & (s->cap - 1);
        s->len--;
        return item;
    case RINGO_QORDER_LIFO:
        s->len--;
        return s->ring[(s->head + s->len) & (s->cap - 1)];
    default:
        return ringo__qheap_pop(s);
    }
}

/* An item older than everything stored goes back; len < cap. */
static inline void ringo__qstore_unpop(ringo__qstore *s, void *item)
{
    if (s->order == RINGO_QORDER_PRIO) {
        ringo__qheap_push(s, item, s->seq_back--);
        return;
    }
    s->head = (s->head - 1) & (s->cap - 1);
    s->ring[s->head] = item;
    s->len++;
}

#endif
