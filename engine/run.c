/* ringo_run: one loop per call on the calling thread, asyncio.run's shape:
 * run main, then cancel and await what is left, then close. */
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "engine/pool.h"

#define RINGO_MIN_STACK ((size_t)16 * 1024)

static bool debug_from_env(void)
{
    const char *v = getenv("RINGO_DEBUG");
    return v && *v && strcmp(v, "0") != 0;
}

static int loop_open(ringo_loop *l, const ringo_config *cfg)
{
    memset(l, 0, sizeof *l);
    rlist_init(&l->live);
    rlist_init(&l->closers);
    l->debug = debug_from_env() || (cfg && (cfg->flags & RINGO_CFG_DEBUG));
    size_t stack = cfg ? cfg->stack_size : 0;
    if (stack && stack < RINGO_MIN_STACK)
        stack = RINGO_MIN_STACK;
    int ret = ringo__ring_init(l, cfg);
    if (ret < 0)
        return ret;
    ringo__offload_init(l);
    ret = coro_pool_init(&l->pool, stack);
    if (ret < 0) {
        ringo__offload_exit(l);
        ringo__ring_exit(l);
        return ret;
    }
    coro_init_thread(&l->sched);
    (void)coro_overflow_handler_install();
    return 0;
}

void ringo__at_close(ringo_loop *l, ringo__closer *c)
{
    rlist_push(&l->closers, &c->link);
}

static void loop_close(ringo_loop *l)
{
    /* Newest first: a later layer may depend on an earlier one. */
    while (!rlist_empty(&l->closers)) {
        ringo__closer *c = rlist_entry(l->closers.prev, ringo__closer, link);
        rlist_del(&c->link);
        c->close(c, l);
    }
    ringo__workers_close(l);
    ringo__tasks_free_all(l);
    ringo__timers_free(l);
    ringo__offload_exit(l);
    coro_pool_destroy(&l->pool);
    ringo__ring_exit(l);
}

int ringo_run_config(const ringo_config *cfg, ringo_fn main, void *arg)
{
    if (!main)
        return -EINVAL;
    if (cfg && (cfg->flags & ~(RINGO_CFG_SQPOLL | RINGO_CFG_DEBUG)))
        return -EINVAL;
    if (ringo__loop)
        return -EBUSY;
    ringo_loop *l = malloc(sizeof *l);
    if (!l)
        return -ENOMEM;
    int ret = loop_open(l, cfg);
    if (ret < 0) {
        free(l);
        return ret;
    }
    ringo__loop = l;
    ringo_task *m;
    ret = ringo__task_new(l, &m, "main", main, arg);
    if (ret == 0) {
        m->awaited = true;   /* ringo_run holds main's handle */
        ringo__schedule(l, m);
        ret = m->status;
        m->retrieved = true;
        if (l->nlive) {
            if (l->debug)
                ringo__debug_alive_at_close(l);
            for (rlist *p = l->live.next; p != &l->live; p = p->next)
                (void)ringo__cancel(rlist_entry(p, ringo_task, live_link));
            ringo__schedule(l, NULL);
        }
    }
    loop_close(l);
    ringo__loop = NULL;
    free(l);
    return ret;
}

int ringo_run(ringo_fn main, void *arg)
{
    return ringo_run_config(NULL, main, arg);
}
