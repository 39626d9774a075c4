/* Far timers: those due in a later millisecond than the current one wait in
 * buckets, one per millisecond for the next 4 s, and enter the heap
 * (engine/timer.c) only when their millisecond comes.
 *
 * Most timers are timeouts that never fire: in a bucket, arming one is an
 * append and disarming it a swap with the bucket's last, one store each,
 * where the heap moved log4(n) entries and wrote the back-index of each, a
 * cache miss apiece at a million timers. Those that do fire meet in the heap
 * only the timers of their own millisecond, a heap that stays in cache.
 *
 * Invariant: every armed timer due before bucket `base` is in the heap, and
 * every bucket starting at or before the heap's top has been moved into the
 * heap, so the heap's top is the earliest deadline of all; ringo__far_settle
 * restores it before the heap is read. Order is unchanged: the heap still
 * sorts on (deadline, arming order) all that can fire. Timers beyond the
 * 4 s window stay in the heap as before. */
#include <stdlib.h>

#include "engine/internal.h"
#include "engine/timer.h"

#define SHIFT 20                       /* 2^20 ns ~ 1 ms per bucket */
#define SLOTS 4096                     /* 4.3 s of buckets */
#define WORDS (SLOTS / 64)
#define KEEP_CAP 256                       /* larger bucket arrays are freed once moved */

typedef struct slot {
    ringo__timer **v;
    uint32_t n, cap;
} slot;

struct ringo__far {
    int64_t base;                      /* first bucket not yet moved into the heap */
    uint64_t bits[WORDS];              /* non-empty slots */
    slot s[SLOTS];
};

static inline size_t encode(size_t si, size_t pos)
{
    return RINGO_TIMER_FAR | (si << 32) | pos;
}

bool ringo__far_insert(ringo_loop *l, ringo__timer *tm)
{
    int64_t b = tm->at >> SHIFT, nowb = l->now >> SHIFT;
    if (b <= nowb)
        return false;   /* due within the current bucket: straight to the heap */
    struct ringo__far *f = l->far;
    if (!f) {
        if (!(f = l->far = calloc(1, sizeof *f)))
            return false;
        f->base = nowb + 1;
    }
    if (l->nfar == 0 && f->base <= nowb)
        f->base = nowb + 1;   /* empty: the window starts now */
    if (b < f->base || b - f->base >= SLOTS)
        return false;
    size_t si = (size_t)b & (SLOTS - 1);
    slot *s = &f->s[si];
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 16;
        ringo__timer **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return false;
        s->v = v;
        s->cap = cap;
    }
    tm->idx = encode(si, s->n);
    s->v[s->n++] = tm;
    f->bits[si / 64] |= 1ull << (si % 64);
    l->nfar++;
    return true;
}

void ringo__far_del(ringo_loop *l, ringo__timer *tm)
{
    size_t si = (tm->idx >> 32) & (SLOTS - 1), pos = tm->idx & 0xffffffffu;
    slot *s = &l->far->s[si];
    ringo__timer *last = s->v[--s->n];
    if (last != tm) {
        s->v[pos] = last;
        last->idx = encode(si, pos);
    }
    if (!s->n)
        l->far->bits[si / 64] &= ~(1ull << (si % 64));
    tm->idx = RINGO_TIMER_IDLE;
    l->nfar--;
}

/* The first non-empty bucket at or after base (there is one: nfar > 0). */
static int64_t first_bucket(const struct ringo__far *f)
{
    size_t start = (size_t)f->base & (SLOTS - 1);
    for (size_t k = 0; k <= WORDS; k++) {
        size_t w = (start / 64 + k) % WORDS;
        uint64_t bits = f->bits[w];
        if (k == 0)
            bits &= ~0ull << (start % 64);   /* slots before start are the window's end */
        if (bits) {
            size_t si = w * 64 + (size_t)__builtin_ctzll(bits);
            return f->base + (int64_t)((si - start) & (SLOTS - 1));
        }
    }
    return INT64_MAX;   /* not reached while nfar > 0 */
}

int64_t ringo__far_first(const ringo_loop *l)
{
    return l->nfar ? first_bucket(l->far) << SHIFT : INT64_MAX;
}

void ringo__far_settle(ringo_loop *l, int64_t upto)
{
    struct ringo__far *f = l->far;
    while (l->nfar) {
        int64_t b = first_bucket(f);
        if (b > upto >> SHIFT)
            return;
        size_t si = (size_t)b & (SLOTS - 1);
        slot *s = &f->s[si];
        /* Reserve first, so that a move is never half done. Out of memory,
         * the bucket waits for the next settle: its timers fire late, and
         * none is lost. */
        if (ringo__timer_heap_reserve(l, s->n) < 0)
            return;
        for (uint32_t i = 0; i < s->n; i++)
            ringo__timer_heap_push(l, s->v[i]);
        l->nfar -= s->n;
        s->n = 0;
        f->bits[si / 64] &= ~(1ull << (si % 64));
        if (s->cap > KEEP_CAP) {
            free(s->v);
            s->v = NULL;
            s->cap = 0;
        }
        f->base = b + 1;
    }
}

void ringo__far_free(ringo_loop *l)
{
    struct ringo__far *f = l->far;
    if (!f)
        return;
    for (size_t i = 0; i < SLOTS; i++)
        free(f->s[i].v);
    free(f);
    l->far = NULL;
    l->nfar = 0;
}
