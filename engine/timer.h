/* engine/timer.h: between the timer heap (timer.c) and the far timers'
 * buckets (timer_far.c). The rest of the engine uses internal.h's
 * ringo__timer_* calls, which pick between the two. */
#ifndef RINGO_ENGINE_TIMER_H
#define RINGO_ENGINE_TIMER_H

#include "engine/internal.h"

/* A heap slot, and a slot of the far timers' sorted run: the key beside
 * the timer, so ordering never touches the timers. */
struct ringo__heap_ent {
    int64_t at;
    uint64_t seq;
    ringo__timer *tm;   /* NULL: disarmed while in the run */
};

/* Earlier deadline first; equal deadlines in the order they were armed. */
static inline bool ringo__timer_before(const struct ringo__heap_ent *a,
                                       const struct ringo__heap_ent *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

/* timer_far.c */
bool    ringo__far_insert(ringo_loop *l, ringo__timer *tm); /* false: the heap's */
void    ringo__far_del(ringo_loop *l, ringo__timer *tm);    /* tm->idx & RINGO_TIMER_FAR */
/* Move into the run every bucket starting at or before upto; with upto
 * INT64_MIN, the first bucket if the run is empty. */
void    ringo__far_settle(ringo_loop *l, int64_t upto);
/* The earliest armed timer of the run, NULL if none; _take disarms it. */
const struct ringo__heap_ent *ringo__far_due(ringo_loop *l);
void    ringo__far_take(ringo_loop *l);
void    ringo__far_free(ringo_loop *l);

#endif
