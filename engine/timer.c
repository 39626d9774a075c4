/* Timers: a binary min-heap of deadlines in user space. The loop's one wait
 * in the kernel is bounded by the earliest of them, so arming or disarming a
 * timer costs no system call and no SQE. Used for task deadlines on waits
 * that are not io_uring operations (locks, queues, events, awaits). */
#include <stdlib.h>

#include "engine/internal.h"

/* Earlier deadline first; equal deadlines in the order they were armed. */
static inline bool before(const ringo__timer *a, const ringo__timer *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static inline void place(ringo_loop *l, size_t i, ringo__timer *tm)
{
    l->timers[i] = tm;
    tm->idx = i;
}

static void sift_up(ringo_loop *l, size_t i)
{
    ringo__timer *tm = l->timers[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(tm, l->timers[parent]))
            break;
        place(l, i, l->timers[parent]);
        i = parent;
    }
    place(l, i, tm);
}

static void sift_down(ringo_loop *l, size_t i)
{
    ringo__timer *tm = l->timers[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->ntimers)
            break;
        if (c + 1 < l->ntimers && before(l->timers[c + 1], l->timers[c]))
            c++;
        if (!before(l->timers[c], tm))
            break;
        place(l, i, l->timers[c]);
        i = c;
    }
    place(l, i, tm);
}

int ringo__timer_add(ringo_loop *l, ringo__timer *tm)
{
    tm->seq = ringo__timer_ticket(l);
    return ringo__timer_insert(l, tm);
}

int ringo__timer_insert(ringo_loop *l, ringo__timer *tm)
{
    if (l->ntimers == l->captimers) {
        size_t cap = l->captimers ? l->captimers * 2 : 64;
        ringo__timer **heap = realloc(l->timers, cap * sizeof *heap);
        if (!heap)
            return -ENOMEM;
        l->timers = heap;
        l->captimers = cap;
    }
    place(l, l->ntimers++, tm);
    sift_up(l, tm->idx);
    return 0;
}

void ringo__timer_del(ringo_loop *l, ringo__timer *tm)
{
    size_t i = tm->idx;
    if (i == RINGO_TIMER_IDLE)
        return;
    tm->idx = RINGO_TIMER_IDLE;
    ringo__timer *last = l->timers[--l->ntimers];
    if (last == tm)
        return;
    place(l, i, last);
    if (i > 0 && before(last, l->timers[(i - 1) / 2]))
        sift_up(l, i);
    else
        sift_down(l, i);
}

int64_t ringo__timer_next(const ringo_loop *l)
{
    return l->ntimers ? l->timers[0]->at : INT64_MAX;
}

void ringo__timers_run(ringo_loop *l)
{
    if (!l->ntimers)
        return;
    int64_t now = l->now;   /* read by ringo__step just before */
    while (l->ntimers && l->timers[0]->at <= now) {
        ringo__timer *tm = l->timers[0];
        ringo__timer_del(l, tm);
        tm->fire(tm);
    }
}

void ringo__timers_free(ringo_loop *l)
{
    free(l->timers);
    l->timers = NULL;
    l->ntimers = l->captimers = 0;
}
