/* The Queue's storage orders (see queue_order.h): growing the ring or the
 * heap, and the heap's sifts. */
#include <errno.h>
#include <stdlib.h>

#include "engine/queue_order.h"

#define QSTORE_MIN_CAP 8

/* Every put's sequence is above every give-back's: ties between an item
 * given back and one put go to the older, the one given back. */
#define SEQ_MID ((uint64_t)1 << 63)

void ringo__qstore_init(ringo__qstore *s, enum ringo__qorder order, ringo_cmp_fn cmp)
{
    *s = (ringo__qstore){ .order = (uint8_t)order, .cmp = cmp,
                          .seq_put = SEQ_MID, .seq_back = SEQ_MID - 1 };
}

static int grow_ring(ringo__qstore *s, size_t cap)
{
    void **ring = malloc(cap * sizeof *ring);
    if (!ring)
        return -ENOMEM;
    for (size_t i = 0; i < s->len; i++)
        ring[i] = s->ring[(s->head + i) & (s->cap - 1)];
    free(s->ring);
    s->ring = ring;
    s->head = 0;
    return 0;
}

int ringo__qstore_grow(ringo__qstore *s)
{
    size_t cap = s->cap ? s->cap * 2 : QSTORE_MIN_CAP;
    if (cap < s->cap || cap > SIZE_MAX / sizeof(ringo__qslot))
        return -ENOMEM;
    if (s->order != RINGO_QORDER_PRIO) {
        if (grow_ring(s, cap) < 0)
            return -ENOMEM;
    } else {
        ringo__qslot *heap = realloc(s->heap, cap * sizeof *heap);
        if (!heap)
            return -ENOMEM;
        s->heap = heap;
    }
    s->cap = cap;
    return 0;
}

void ringo__qstore_clear(ringo__qstore *s)
{
    s->len = 0;
    s->head = 0;
}

void ringo__qstore_free(ringo__qstore *s)
{
    free(s->ring);
    free(s->heap);
    s->ring = NULL;
    s->heap = NULL;
    s->cap = s->len = 0;
}

static inline bool before(const ringo__qstore *s, const ringo__qslot *a, const ringo__qslot *b)
{
    int c = s->cmp(a->item, b->item);
    return c ? c < 0 : a->seq < b->seq;
}

void ringo__qheap_push(ringo__qstore *s, void *item, uint64_t seq)
{
    ringo__qslot x = { item, seq };
    size_t i = s->len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(s, &x, &s->heap[parent]))
            break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = x;
}

void *ringo__qheap_pop(ringo__qstore *s)
{
    void *top = s->heap[0].item;
    ringo__qslot x = s->heap[--s->len];
    size_t n = s->len, i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && before(s, &s->heap[child + 1], &s->heap[child]))
            child++;
        if (!before(s, &s->heap[child], &x))
            break;
        s->heap[i] = s->heap[child];
        i = child;
    }
    if (n)
        s->heap[i] = x;
    return top;
}
