/* engine/timer.h: between the timer heap (timer.c) and the far timers'
 * buckets (timer_far.c). The rest of the engine uses internal.h's
 * ringo__timer_* calls, which pick between the two. */
#ifndef RINGO_ENGINE_TIMER_H
#define RINGO_ENGINE_TIMER_H

#include "engine/internal.h"

/* timer_far.c */
bool    ringo__far_insert(ringo_loop *l, ringo__timer *tm); /* false: the heap's */
void    ringo__far_del(ringo_loop *l, ringo__timer *tm);    /* tm->idx & RINGO_TIMER_FAR */
int64_t ringo__far_first(const ringo_loop *l);  /* start of the first bucket, INT64_MAX if none */
void    ringo__far_settle(ringo_loop *l, int64_t upto);     /* buckets starting <= upto to the heap */
void    ringo__far_free(ringo_loop *l);

/* timer.c */
int  ringo__timer_heap_reserve(ringo_loop *l, size_t more);  /* 0 or -ENOMEM */
void ringo__timer_heap_push(ringo_loop *l, ringo__timer *tm); /* room reserved */

#endif
