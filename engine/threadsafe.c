/* Calls from any thread: loop.call_soon_threadsafe and
 * run_coroutine_threadsafe(...).result(). A request is a message posted
 * through the target loop's gate; on arrival it becomes a task there. A
 * request that got through the gate always runs, also when the loop begins
 * closing right after: its task must run then, started cancelled. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/inbox.h"

typedef struct soon_msg {
    ringo__msg m;
    ringo_fn fn;
    void *arg;
} soon_msg;

static void soon_run(ringo__msg *m, ringo_loop *l)
{
    soon_msg *s = (soon_msg *)m;
    ringo_task *t;
    if (ringo__task_new(l, &t, NULL, s->fn, s->arg) == 0) {
        t->must_run = true;
        if (atomic_load_explicit(&l->inbox.closing, memory_order_relaxed))
            (void)ringo__cancel(t);
        ringo__task_release(t);
    } else {
        fprintf(stderr, "ringo: out of memory starting a call_soon_threadsafe task\n");
        abort();   /* the caller was promised it runs */
    }
    free(s);
}

int ringo_call_soon_threadsafe(ringo_loop *l, ringo_fn fn, void *arg)
{
    if (!l || !fn)
        return -EINVAL;
    soon_msg *s = malloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    *s = (soon_msg){ .m.run = soon_run, .fn = fn, .arg = arg };
    int ret = ringo__post_gated(l, &s->m);
    if (ret < 0)
        free(s);
    return ret;
}

/* run_threadsafe: the request lives on the blocked caller's stack. */
typedef struct run_req {
    ringo__msg m;
    ringo_fn fn;
    void *arg;
    int status;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} run_req;

static int run_body(void *arg)
{
    run_req *r = arg;
    /* Started cancelled (the loop began closing first): fn does not run,
     * but the caller must still be let go. */
    int status = ringo__loop->current->cancelled ? -ECANCELED : r->fn(r->arg);
    pthread_mutex_lock(&r->mu);
    r->status = status;
    r->done = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static void req_run(ringo__msg *m, ringo_loop *l)
{
    run_req *r = (run_req *)m;
    ringo_task *t;
    int ret = ringo__task_new(l, &t, NULL, run_body, r);
    if (ret < 0) {
        pthread_mutex_lock(&r->mu);
        r->status = ret;
        r->done = true;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        return;
    }
    t->must_run = true;   /* the caller waits for it: it must signal */
    if (atomic_load_explicit(&l->inbox.closing, memory_order_relaxed))
        (void)ringo__cancel(t);
    ringo__task_release(t);
}

int ringo_run_threadsafe(ringo_loop *l, ringo_fn fn, void *arg)
{
    if (!l || !fn)
        return -EINVAL;
    if (ringo__loop)
        return -EDEADLK;
    run_req r = { .m.run = req_run, .fn = fn, .arg = arg };
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    int ret = ringo__post_gated(l, &r.m);
    if (ret == 0) {
        pthread_mutex_lock(&r.mu);
        while (!r.done)
            pthread_cond_wait(&r.cv, &r.mu);
        pthread_mutex_unlock(&r.mu);
        ret = r.status;
    }
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    return ret;
}
