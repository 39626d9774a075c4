/* Timers, in user space: a 4-ary min-heap of deadlines for those due this
 * millisecond (and those too far ahead for engine/timer_far.c's buckets,
 * which hold the rest, see below). The loop's one wait
 * in the kernel is bounded by the earliest of them, so arming or disarming a
 * timer costs no system call and no SQE. Used for sleeps and for task
 * deadlines on waits that are not io_uring operations.
 *
 * Each heap slot holds its timer's key (deadline, arming order) beside the
 * pointer, so sifting compares without touching the timers themselves, and
 * a node's four children share one or two cache lines: with a million
 * timers (a loop full of timeouts) that, not the comparisons, is the cost.
 * Timers due in a later millisecond wait outside the heap, and move to a
 * sorted run when theirs comes (engine/timer_far.c); what fires next
 * is the earlier of the heap's top and the run's first. bench/timers.c
 * measures it all against the binary heap of pointers this was. */
#include <stdlib.h>

#include "engine/internal.h"
#include "engine/timer.h"

#define ARITY 4
#define TIMERS_PER_STEP 1024

typedef struct ringo__heap_ent ent;
#define before ringo__timer_before

static inline void place(ringo_loop *l, size_t i, ent e)
{
    l->timers[i] = e;
    e.tm->idx = i;
}

static void sift_up(ringo_loop *l, size_t i, ent e)
{
    while (i > 0) {
        size_t parent = (i - 1) / ARITY;
        if (!before(&e, &l->timers[parent]))
            break;
        place(l, i, l->timers[parent]);
        i = parent;
    }
    place(l, i, e);
}

static void sift_down(ringo_loop *l, size_t i, ent e)
{
    size_t n = l->ntimers;
    for (;;) {
        size_t c = ARITY * i + 1;
        if (c >= n)
            break;
        size_t end = c + ARITY < n ? c + ARITY : n, best = c;
        for (size_t k = c + 1; k < end; k++)
            if (before(&l->timers[k], &l->timers[best]))
                best = k;
        if (!before(&l->timers[best], &e))
            break;
        place(l, i, l->timers[best]);
        i = best;
    }
    place(l, i, e);
}

int ringo__timer_add(ringo_loop *l, ringo__timer *tm)
{
    tm->seq = ringo__timer_ticket(l);
    return ringo__timer_insert(l, tm);
}

int ringo__timer_insert(ringo_loop *l, ringo__timer *tm)
{
    if (ringo__far_insert(l, tm))
        return 0;
    if (l->ntimers == l->captimers) {
        size_t cap = l->captimers ? l->captimers * 2 : 64;
        ent *heap = realloc(l->timers, cap * sizeof *heap);
        if (!heap)
            return -ENOMEM;
        l->timers = heap;
        l->captimers = cap;
    }
    sift_up(l, l->ntimers++, (ent){ .at = tm->at, .seq = tm->seq, .tm = tm });
    return 0;
}

void ringo__timer_del(ringo_loop *l, ringo__timer *tm)
{
    size_t i = tm->idx;
    if (i == RINGO_TIMER_IDLE)
        return;
    if (i & RINGO_TIMER_FAR) {
        ringo__far_del(l, tm);
        return;
    }
    tm->idx = RINGO_TIMER_IDLE;
    ent last = l->timers[--l->ntimers];
    if (last.tm == tm)
        return;
    if (i > 0 && before(&last, &l->timers[(i - 1) / ARITY]))
        sift_up(l, i, last);
    else
        sift_down(l, i, last);
}

/* The earliest armed timer: the heap's top or the run's first. */
static const ent *earliest(ringo_loop *l)
{
    const ent *h = l->ntimers ? &l->timers[0] : NULL;
    const ent *r = l->nfar ? ringo__far_due(l) : NULL;
    return r && (!h || before(r, h)) ? r : h;
}

int64_t ringo__timer_next(ringo_loop *l)
{
    if (l->nfar) {
        /* Buckets that start before the earliest known deadline may hold an
         * earlier one; with none known, the first bucket holds it. */
        const ent *e = earliest(l);
        ringo__far_settle(l, e ? e->at : INT64_MIN);
    }
    const ent *e = earliest(l);
    return e ? e->at : INT64_MAX;
}

void ringo__timers_run(ringo_loop *l)
{
    int64_t now = l->now;   /* read by ringo__step just before */
    if (l->nfar)
        ringo__far_settle(l, now);
    /* A bounded batch: the tasks it wakes then run while their records are
     * still in cache (a million due at once, all woken before any ran, made
     * each run a cache miss); the rest are due still, and the next step
     * fires them without waiting. */
    const ent *e;
    for (unsigned n = 0; n < TIMERS_PER_STEP && (e = earliest(l)) && e->at <= now; n++) {
        ringo__timer *tm = e->tm;
        if (l->ntimers && e == l->timers)
            ringo__timer_del(l, tm);
        else
            ringo__far_take(l);
        tm->fire(tm);
    }
}

void ringo__timers_free(ringo_loop *l)
{
    ringo__far_free(l);
    free(l->timers);
    l->timers = NULL;
    l->ntimers = l->captimers = 0;
}
