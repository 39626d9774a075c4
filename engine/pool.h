/* engine/pool.c: the loop's worker threads, for work that can only block
 * (user functions through ringo_to_thread, getaddrinfo). Private to the
 * library.
 *
 * Workers never touch the ring (it may be SINGLE_ISSUER): they push finished
 * jobs onto a lock-free list and write the loop's eventfd, on which the loop
 * keeps one read op in flight while jobs are outstanding. */
#ifndef RINGO_ENGINE_POOL_H
#define RINGO_ENGINE_POOL_H

#include "engine/internal.h"

/* A unit of blocking work, usually on the waiting task's stack. The caller
 * fills `work`; the rest belongs to the pool. work(job) runs on a worker
 * thread with every signal blocked; whatever it writes into the job (or
 * where the job points) is visible to the task once ringo__workers_run
 * returns. */
struct ringo__job {
    void (*work)(struct ringo__job *job);
    const char *what;              /* for ringo_dump_tasks; NULL: "blocking call" */
    /* private to pool.c */
    struct ringo__job *next;       /* pending queue, then finished list */
    ringo__wait wait;
    ringo_task *task;
    bool finished;                 /* the loop has seen the job come back */
};

/* Run job->work on a worker and suspend the current task (after
 * ringo__enter) until it has finished. Returns:
 *   0            work ran;
 *   -ECANCELED / -ETIMEDOUT   the task was cancelled / passed its deadline
 *                meanwhile: work still ran to its end (the task waited for
 *                it uninterruptibly), so its results must still be released;
 *   -EAGAIN      no worker thread could be started; -ENOMEM, -EMFILE,
 *                -ENFILE: no pool could be set up. work did not run.
 * Creates the loop's pool on first use. */
int ringo__workers_run(ringo_loop *l, struct ringo__job *job);

/* The loop has nothing to run and would sleep: with jobs out, spin up to
 * pool_spin_ns for one to finish. true when some did (their tasks are
 * ready now: don't sleep). */
bool ringo__workers_spin(ringo_loop *l);

/* At loop close (no job outstanding: every task has finished): stop and
 * join the workers, close the eventfd, free the pool. No-op without one. */
void ringo__workers_close(ringo_loop *l);

#endif
