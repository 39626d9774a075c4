/* Far timers: those due in a later millisecond than the current one wait in
 * buckets, one per millisecond for the next 4.3 s. When a bucket's
 * millisecond comes its timers are sorted into the run, an array in firing
 * order that the loop consumes from the front; the heap (engine/timer.c)
 * keeps only timers armed for the current millisecond and those beyond the
 * buckets' window.
 *
 * Most timers are timeouts that never fire: in a bucket, arming one is an
 * append and disarming it a swap with the bucket's last, one store each,
 * where the heap moved log4(n) entries and wrote the back-index of each, a
 * cache miss apiece at a million timers (each timer on its own task's
 * stack page). A timer that fires is written once more, when sorted into
 * the run; the sort itself touches only the run's keys.
 *
 * Buckets move in increasing order and hold disjoint spans of time, so
 * appending each, sorted, keeps the whole run sorted. Invariant: every
 * armed timer due before bucket `base` is in the heap or the run, and every
 * bucket starting at or before the earliest of those has been moved;
 * ringo__far_settle restores it before the timers are read. Order is
 * asyncio's: (deadline, arming order) over the heap and the run. */
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "engine/timer.h"

#define before ringo__timer_before

#define SHIFT 20                       /* 2^20 ns ~ 1 ms per bucket */
#define SLOTS 4096                     /* 4.3 s of buckets */
#define WORDS (SLOTS / 64)
#define KEEP_CAP 256                       /* larger bucket arrays are freed once moved */
#define IN_RUN ((size_t)1 << 61)           /* with RINGO_TIMER_FAR: idx is a run position */

typedef struct slot {
    ringo__timer **v;
    uint32_t n, cap;
} slot;

typedef struct ringo__heap_ent ent;

struct ringo__far {
    int64_t base;                      /* first bucket not yet moved into the run */
    size_t nb;                         /* timers in buckets (l->nfar adds the run's) */
    uint64_t bits[WORDS];              /* non-empty slots */
    slot s[SLOTS];
    /* The run: positions are absolute, run[p - off] holds position p, and
     * [head, tail) are still to fire (or disarmed, tm NULL). */
    ent *run;
    size_t off, head, tail, cap;
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
    if (!f && !(f = l->far = calloc(1, sizeof *f)))
        return false;
    if (f->nb == 0 && f->base <= nowb)
        f->base = nowb + 1;   /* no bucket in use: the window starts now */
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
    f->nb++;
    l->nfar++;
    return true;
}

void ringo__far_del(ringo_loop *l, ringo__timer *tm)
{
    struct ringo__far *f = l->far;
    l->nfar--;
    if (tm->idx & IN_RUN) {
        f->run[(tm->idx & ~(RINGO_TIMER_FAR | IN_RUN)) - f->off].tm = NULL;
        tm->idx = RINGO_TIMER_IDLE;
        return;
    }
    size_t si = (tm->idx >> 32) & (SLOTS - 1), pos = tm->idx & 0xffffffffu;
    slot *s = &f->s[si];
    f->nb--;
    ringo__timer *last = s->v[--s->n];
    if (last != tm) {
        s->v[pos] = last;
        last->idx = encode(si, pos);
    }
    if (!s->n)
        f->bits[si / 64] &= ~(1ull << (si % 64));
    tm->idx = RINGO_TIMER_IDLE;
}

/* The first non-empty bucket at or after base (there is one: nb > 0). */
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
    return INT64_MAX;   /* not reached while nb > 0 */
}

/* Room for n more entries at the run's tail: the consumed front goes
 * first (positions stay, off moves), then the array grows. */
static int run_reserve(struct ringo__far *f, size_t n)
{
    size_t live = f->tail - f->head;
    if (f->head > f->off) {
        memmove(f->run, f->run + (f->head - f->off), live * sizeof *f->run);
        f->off = f->head;
    }
    if (live + n <= f->cap)
        return 0;
    size_t cap = f->cap ? f->cap : 256;
    while (cap < live + n)
        cap *= 2;
    ent *run = realloc(f->run, cap * sizeof *run);
    if (!run)
        return -ENOMEM;
    f->run = run;
    f->cap = cap;
    return 0;
}

/* Insertion sort below this; quicksort on the median of three above. */
#define SMALL 16

static void sort(ent *a, size_t n)
{
    while (n > SMALL) {
        ent *m = &a[n / 2], *z = &a[n - 1], t;
        if (before(m, a)) t = *m, *m = *a, *a = t;
        if (before(z, a)) t = *z, *z = *a, *a = t;
        if (before(z, m)) t = *z, *z = *m, *m = t;
        ent p = *m;
        size_t i = 0, j = n - 1;
        for (;;) {
            while (before(&a[i], &p))
                i++;
            while (before(&p, &a[j]))
                j--;
            if (i >= j)
                break;
            t = a[i], a[i] = a[j], a[j] = t;
            i++, j--;
        }
        /* Recurse into the smaller side, loop on the larger: depth log n. */
        if (j + 1 < n - j - 1) {
            sort(a, j + 1);
            a += j + 1, n -= j + 1;
        } else {
            sort(a + j + 1, n - j - 1);
            n = j + 1;
        }
    }
    for (size_t i = 1; i < n; i++) {
        ent e = a[i];
        size_t k = i;
        for (; k > 0 && before(&e, &a[k - 1]); k--)
            a[k] = a[k - 1];
        a[k] = e;
    }
}

void ringo__far_settle(ringo_loop *l, int64_t upto)
{
    struct ringo__far *f = l->far;
    if (!f || !f->nb)
        return;
    if (upto == INT64_MIN)
        upto = first_bucket(f) << SHIFT;   /* nothing known: the first bucket */
    while (f->nb) {
        int64_t b = first_bucket(f);
        if (b > upto >> SHIFT)
            return;
        size_t si = (size_t)b & (SLOTS - 1);
        slot *s = &f->s[si];
        /* Out of memory, the bucket waits for the next settle: its timers
         * fire late, and none is lost. */
        if (run_reserve(f, s->n) < 0)
            return;
        ent *seg = &f->run[f->tail - f->off];
        for (uint32_t i = 0; i < s->n; i++)
            seg[i] = (ent){ .at = s->v[i]->at, .seq = s->v[i]->seq, .tm = s->v[i] };
        sort(seg, s->n);
        for (uint32_t i = 0; i < s->n; i++)
            seg[i].tm->idx = RINGO_TIMER_FAR | IN_RUN | (f->tail + i);
        f->tail += s->n;
        f->nb -= s->n;
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

const ent *ringo__far_due(ringo_loop *l)
{
    struct ringo__far *f = l->far;
    while (f->head < f->tail && !f->run[f->head - f->off].tm)
        f->head++;   /* disarmed in the run */
    if (f->head == f->tail) {
        f->head = f->tail = f->off = 0;   /* empty: start over at the front */
        return NULL;
    }
    return &f->run[f->head - f->off];
}

void ringo__far_take(ringo_loop *l)
{
    struct ringo__far *f = l->far;
    f->run[f->head - f->off].tm->idx = RINGO_TIMER_IDLE;
    f->head++;
    l->nfar--;
}

void ringo__far_free(ringo_loop *l)
{
    struct ringo__far *f = l->far;
    if (!f)
        return;
    for (size_t i = 0; i < SLOTS; i++)
        free(f->s[i].v);
    free(f->run);
    free(f);
    l->far = NULL;
    l->nfar = 0;
}
