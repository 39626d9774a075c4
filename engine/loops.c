/* ringo_run_loops: thread-per-core. n loops, each on a thread of its own
 * pinned to the next CPU of the process's affinity mask (never 0..n-1: in a
 * container's cpuset those may not be ours), each ring created on its own
 * thread so it can be single-issuer with deferred task running. Every loop
 * runs main; the call returns when all have closed.
 *
 * Nothing here is on a loop's hot path: a loop reaches the others only
 * through their inboxes (inbox.c). */
#include <sched.h>
#include <signal.h>
#include <stdlib.h>

#include "engine/run.h"

typedef struct loop_thread {
    struct ringo__run *run;
    unsigned index;
    int cpu;                        /* -1: leave the affinity alone */
    pthread_t tid;
} loop_thread;

static void cancel_main_run(ringo__msg *m, ringo_loop *l)
{
    (void)m;
    if (l->main)
        (void)ringo__cancel(l->main);
}

static void *loop_thread_main(void *arg)
{
    loop_thread *lt = arg;
    struct ringo__run *run = lt->run;
    /* The caller's mask, not the all-blocked one we were created with. */
    pthread_sigmask(SIG_SETMASK, &run->sigmask, NULL);
    if (lt->cpu >= 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(lt->cpu, &one);
        (void)pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    }
    ringo_loop *l = malloc(sizeof *l);
    int ret = l ? ringo__loop_open(l, run, lt->index) : -ENOMEM;
    if (ret < 0) {
        int none = 0;
        (void)atomic_compare_exchange_strong(&run->open_error, &none, ret);
        free(l);
        l = NULL;
    }
    run->loops[lt->index] = l;
    /* Every loop exists before any main runs: ringo_loop_at works from a
     * main's first instruction. */
    pthread_mutex_lock(&run->mu);
    if (++run->arrived >= run->expected)
        pthread_cond_broadcast(&run->cv);
    while (run->arrived < run->expected)
        pthread_cond_wait(&run->cv, &run->mu);
    pthread_mutex_unlock(&run->mu);
    if (atomic_load(&run->open_error)) {
        if (l) {
            ringo__loop = l;
            ringo__loop_close(l);
            ringo__loop = NULL;
        }
        return NULL;
    }
    (void)ringo__loop_run(l);   /* a failure is recorded in run->failure */
    return NULL;
}

/* The CPUs we may run on, in order. */
static unsigned our_cpus(int *cpus, unsigned max)
{
    cpu_set_t set;
    unsigned k = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int c = 0; c < CPU_SETSIZE && k < max; c++)
            if (CPU_ISSET(c, &set))
                cpus[k++] = c;
    return k;
}

#define MAX_LOOPS 4096

int ringo_run_loops(const ringo_config *cfg, unsigned n, ringo_fn main, void *arg)
{
    if (!main || n > MAX_LOOPS)
        return -EINVAL;
    int ret = ringo__config_check(cfg);
    if (ret < 0)
        return ret;
    if (ringo__loop)
        return -EBUSY;
    int *mine = malloc(CPU_SETSIZE * sizeof *mine);
    if (!mine)
        return -ENOMEM;
    unsigned k = our_cpus(mine, CPU_SETSIZE);
    if (n == 0)
        n = k ? k : 1;
    struct ringo__run run = { .n = n, .ncpus = k, .cfg = cfg, .main = main, .arg = arg, .expected = n,
                              .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
    run.loops = calloc(n, sizeof *run.loops);
    run.cancel_main = calloc(n, sizeof *run.cancel_main);
    loop_thread *lt = calloc(n, sizeof *lt);
    if (!run.loops || !run.cancel_main || !lt) {
        free(run.loops);
        free(run.cancel_main);
        free(lt);
        free(mine);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < n; i++)
        run.cancel_main[i].run = cancel_main_run;
    /* Process-directed signals go to the loops' threads, not to ours: a
     * signal a loop waits for must find every other thread blocking it. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &run.sigmask);
    unsigned started = 0;
    for (; started < n; started++) {
        lt[started] = (loop_thread){ .run = &run, .index = started,
                                     .cpu = k ? mine[started % k] : -1 };
        if (pthread_create(&lt[started].tid, NULL, loop_thread_main, &lt[started]))
            break;
    }
    if (started < n) {
        /* Let the started ones through, with an error. */
        int none = 0;
        (void)atomic_compare_exchange_strong(&run.open_error, &none, -EAGAIN);
        pthread_mutex_lock(&run.mu);
        run.expected = started;
        pthread_cond_broadcast(&run.cv);
        pthread_mutex_unlock(&run.mu);
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(lt[i].tid, NULL);
    pthread_sigmask(SIG_SETMASK, &run.sigmask, NULL);
    ret = atomic_load(&run.open_error);
    if (!ret)
        ret = atomic_load(&run.failure);
    for (unsigned i = 0; i < n; i++)
        free(run.loops[i]);
    pthread_mutex_destroy(&run.mu);
    pthread_cond_destroy(&run.cv);
    free(run.loops);
    free(run.cancel_main);
    free(lt);
    free(mine);
    return ret;
}

unsigned ringo_loop_index(void)
{
    return ringo__loop ? ringo__loop->index : 0;
}

unsigned ringo_loop_count(void)
{
    return ringo__loop ? ringo__loop->run->n : 0;
}

ringo_loop *ringo_loop_current(void)
{
    return ringo__loop;
}

ringo_loop *ringo_loop_at(unsigned index)
{
    ringo_loop *l = ringo__loop;
    return l && index < l->run->n ? l->run->loops[index] : NULL;
}
