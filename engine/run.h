/* engine/run.c, loops.c: the loops of one ringo_run / ringo_run_loops call.
 * Private to the library. */
#ifndef RINGO_ENGINE_RUN_H
#define RINGO_ENGINE_RUN_H

#include <pthread.h>
#include <signal.h>

#include "engine/inbox.h"

struct ringo__run {
    unsigned n;
    unsigned ncpus;                /* CPUs in the affinity mask */
    ringo_loop **loops;            /* complete before any main starts */
    const ringo_config *cfg;
    ringo_fn main;
    void *arg;
    _Atomic int failure;           /* the first main that failed, 0 if none */
    /* ringo_run_loops only: every loop opens before any main runs */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned arrived, expected;
    _Atomic int open_error;
    sigset_t sigmask;              /* the caller's, for the loops' threads */
    ringo__msg *cancel_main;       /* one per loop: the group cancels its main */
    /* io/signal.c: how many loops wait for each signal; every loop's thread
     * blocks those, so that the signal stays pending for their signalfds. */
    _Atomic int sig_loops[65];
};

/* Open loop l of run (its ring on the calling thread). 0 or -errno. */
int  ringo__loop_open(ringo_loop *l, struct ringo__run *run, unsigned index);
/* Run main on l to the end, then close l as ringo_run does: leftovers
 * cancelled and awaited, messages it is owed received. Returns main's
 * status. ringo__loop is l meanwhile. */
int  ringo__loop_run(ringo_loop *l);
void ringo__loop_close(ringo_loop *l);
int  ringo__config_check(const ringo_config *cfg);

#endif
