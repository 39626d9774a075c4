/* ringo_run: one loop on the calling thread, asyncio.run's shape: run main,
 * then cancel and await what is left, then close. The same steps serve each
 * loop of ringo_run_loops (loops.c). */
#include <stdlib.h>
#include <string.h>

#include "engine/backend.h"
#include "engine/pool.h"
#include "engine/run.h"

#define RINGO_MIN_STACK ((size_t)16 * 1024)
/* A loop about to sleep spins this long first for a message from another
 * loop or thread, where a sleeping vCPU takes tens of microseconds to wake.
 * By default only loops of a ringo_run_loops with more than one loop and no
 * more loops than CPUs spin: a spinning loop must not hold the CPU that the
 * loop it waits for needs. */
#define RINGO_SPIN_DEFAULT RINGO_US(50)
/* The most a loop spins for its next timer (engine/backend.c): about what
 * sleeping for it costs in CPU here, so the spin is never the dearer. */
#define RINGO_TIMER_SPIN_MAX RINGO_US(10)

static bool env_on(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

int ringo__config_check(const ringo_config *cfg)
{
    if (cfg && (cfg->flags & ~(RINGO_CFG_SQPOLL | RINGO_CFG_DEBUG | RINGO_CFG_EPOLL |
                                 RINGO_CFG_SEND_ZC)))
        return -EINVAL;
    if (cfg && cfg->entries > 32768)
        return -EINVAL;   /* the largest SQ the kernel takes, on either backend */
    return 0;
}

int ringo__loop_open(ringo_loop *l, struct ringo__run *run, unsigned index)
{
    const ringo_config *cfg = run->cfg;
    memset(l, 0, sizeof *l);
    rlist_init(&l->live);
    rlist_init(&l->closers);
    rlist_init(&l->proxy_list);
    l->run = run;
    l->index = index;
    l->now = ringo_now();
    l->debug = env_on("RINGO_DEBUG") || (cfg && (cfg->flags & RINGO_CFG_DEBUG));
    l->send_zc = env_on("RINGO_SEND_ZC") || (cfg && (cfg->flags & RINGO_CFG_SEND_ZC));
    size_t stack = cfg ? cfg->stack_size : 0;
    if (stack && stack < RINGO_MIN_STACK)
        stack = RINGO_MIN_STACK;
    int ret = ringo__backend_open(l, cfg);
    if (ret < 0)
        return ret;
    ret = coro_pool_init(&l->pool, stack);
    if (ret == 0 && (ret = ringo__inbox_open(l)) < 0)
        coro_pool_destroy(&l->pool);
    if (ret < 0) {
        ringo__backend_close(l);
        return ret;
    }
    int64_t spin = cfg && cfg->idle_spin_ns ? cfg->idle_spin_ns
                 : run->n > 1 && run->n <= run->ncpus ? RINGO_SPIN_DEFAULT : 0;
    l->inbox.spin_ns = spin > 0 ? spin : 0;
    /* Waiting on a worker, a loop spins in any run (it has nothing else to
     * do, and a sleeping vCPU is slow to wake) unless spinning is off. */
    l->pool_spin_ns = cfg && cfg->idle_spin_ns ? (spin > 0 ? spin : 0) : RINGO_SPIN_DEFAULT;
    l->timer_spin_ns = l->pool_spin_ns < RINGO_TIMER_SPIN_MAX ? l->pool_spin_ns : RINGO_TIMER_SPIN_MAX;
    coro_init_thread(&l->sched);
    (void)coro_overflow_handler_install();
    if (l->debug)
        ringo__debug_usr1_open(l);
    return 0;
}

void ringo__at_close(ringo_loop *l, ringo__closer *c)
{
    rlist_push(&l->closers, &c->link);
}

void ringo__loop_close(ringo_loop *l)
{
    /* Newest first: a later layer may depend on an earlier one. */
    while (!rlist_empty(&l->closers)) {
        ringo__closer *c = rlist_entry(l->closers.prev, ringo__closer, link);
        rlist_del(&c->link);
        c->close(c, l);
    }
    ringo__workers_close(l);
    if (l->debug)
        ringo__debug_usr1_close(l);   /* before the eventfd it kicks goes */
    ringo__inbox_close(l);
    ringo__tasks_free_all(l);
    ringo__timers_free(l);
    coro_pool_destroy(&l->pool);
    ringo__backend_close(l);
}

/* The mains of a run are one group: the first to fail cancels the others. */
static void main_finished(ringo_loop *l, int status)
{
    struct ringo__run *run = l->run;
    if (status >= 0 || status == -ECANCELED)
        return;
    int none = 0;
    if (!atomic_compare_exchange_strong(&run->failure, &none, status))
        return;
    for (unsigned i = 0; i < run->n; i++)
        if (i != l->index)
            (void)ringo__post_gated(run->loops[i], &run->cancel_main[i]);
}

/* Leftovers cancelled and awaited; then what other loops owe this one
 * (their tasks' results for our handles) and what passed the inbox's gate
 * before it shut. */
static void drain_and_close(ringo_loop *l)
{
    ringo__inbox_shut(l);
    if (l->nlive) {
        if (l->debug)
            ringo__debug_alive_at_close(l);
        for (rlist *p = l->live.next; p != &l->live; p = p->next)
            (void)ringo__cancel(rlist_entry(p, ringo_task, live_link));
    }
    /* Tasks this loop started on other loops are its leftovers too. */
    for (rlist *p = l->proxy_list.next; p != &l->proxy_list; p = p->next)
        (void)ringo__cancel(rlist_entry(p, ringo_task, live_link));
    for (;;) {
        if (l->nlive)
            ringo__schedule(l, NULL);
        else if (l->proxies || !ringo__inbox_idle(l))
            ringo__step(l, true);
        else
            break;
    }
}

int ringo__loop_run(ringo_loop *l)
{
    ringo__loop = l;
    ringo_task *m;
    int ret = ringo__task_new(l, &m, "main", l->run->main, l->run->arg);
    if (ret == 0) {
        m->awaited = true;   /* the run holds main's handle */
        l->main = m;
        ringo__schedule(l, m);
        l->main = NULL;
        ret = m->status;
        m->retrieved = true;
        main_finished(l, ret);
    }
    drain_and_close(l);
    ringo__loop_close(l);
    ringo__loop = NULL;
    return ret;
}

int ringo_run_config(const ringo_config *cfg, ringo_fn main, void *arg)
{
    if (!main)
        return -EINVAL;
    int ret = ringo__config_check(cfg);
    if (ret < 0)
        return ret;
    if (ringo__loop)
        return -EBUSY;
    ringo_loop *l = malloc(sizeof *l);
    if (!l)
        return -ENOMEM;
    struct ringo__run run = { .n = 1, .loops = &l, .cfg = cfg, .main = main, .arg = arg };
    ret = ringo__loop_open(l, &run, 0);
    if (ret == 0)
        ret = ringo__loop_run(l);
    free(l);
    return ret;
}

int ringo_run(ringo_fn main, void *arg)
{
    return ringo_run_config(NULL, main, arg);
}
