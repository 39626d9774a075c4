/* What the servers among the examples share for stopping and for running on
 * N loops: tasks that wait for SIGINT and SIGTERM, and a wait from any loop
 * on an event of loop 0 (serve_loops.h, udp_echo.c). */
#ifndef RINGO_EXAMPLES_STOP_SIGNALS_H
#define RINGO_EXAMPLES_STOP_SIGNALS_H

#include <ringo.h>
#include <signal.h>

static inline int watch(void *arg)
{
    return ringo_wait_signal(*(const int *)arg);
}

/* One task per stop signal; they are waiting (the signals no longer kill
 * us) when this returns. */
static inline int watch_signals(ringo_task *t[2])
{
    static const int sigs[2] = { SIGINT, SIGTERM };
    for (int i = 0; i < 2; i++) {
        int ret = ringo_spawn(&t[i], watch, (void *)&sigs[i]);
        if (ret < 0) {
            if (i) {
                (void)ringo_cancel(t[0]);
                (void)ringo_await(t[0]);
            }
            return ret;
        }
    }
    (void)ringo_yield();
    return 0;
}

/* The first stop signal to arrive (or -errno); both watchers are gone. */
static inline int first_signal(ringo_task *t[2])
{
    int got = ringo_wait(t, 2, RINGO_FIRST_COMPLETED, -1);
    for (int i = 0; i < 2; i++) {
        (void)ringo_cancel(t[i]);
        int ret = ringo_await(t[i]);
        if (ret > 0)
            got = ret;
    }
    return got;
}

static inline int event_wait_task(void *arg)
{
    return ringo_event_wait(arg);
}

/* Wait from any loop for an event of loop 0 (an event belongs to the loop
 * that waits on it): the wait runs there as a task, awaited from here. */
static inline int wait_on_loop0(ringo_event *e)
{
    ringo_task *t;
    int ret = ringo_spawn_on(ringo_loop_at(0), &t, event_wait_task, e);
    return ret < 0 ? ret : ringo_await(t);
}

#endif
