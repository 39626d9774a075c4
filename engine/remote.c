/* Tasks of another loop: ringo_spawn_on.
 *
 * The caller gets a handle of its own loop (a proxy: a task slot with no
 * coroutine) and the task itself is created on the target loop when the
 * spawn message arrives there. Everything that waits for a task (await,
 * gather, wait, wait_for, shield) waits on the proxy exactly as on a local
 * task; the proxy becomes DONE when the task's result comes back in a
 * message, so no loop ever touches another loop's scheduler state. A cancel
 * of the proxy is forwarded to the target loop, where it cancels the task
 * (and the op it is in, on that loop's ring).
 *
 * The spawn and done messages live in the remote record, which the proxy's
 * loop frees only after the done message arrived. A forwarded cancel is a
 * message of its own, checked against the task's id on arrival: by then the
 * task may have finished and its slot been reused. */
#include <stdlib.h>

#include "engine/inbox.h"

struct ringo__remote {
    ringo__msg spawn;              /* to the target loop */
    ringo__msg done;               /* back to the proxy's loop */
    ringo_task *proxy;
    ringo_loop *target;
    ringo_fn fn;
    void *arg;
    int status;                    /* written by the target before `done` */
    ringo_task *_Atomic real;      /* the task, once created on the target */
    uint64_t real_id;
    _Atomic bool cancel_asked;
};

typedef struct cancel_msg {
    ringo__msg m;
    ringo_task *t;
    uint64_t id;
    struct ringo__remote *r;
} cancel_msg;

void ringo__proxy_free(struct ringo__remote *r)
{
    free(r);
}

static void done_run(ringo__msg *m, ringo_loop *l)
{
    (void)l;
    struct ringo__remote *r = (struct ringo__remote *)((char *)m - offsetof(struct ringo__remote, done));
    ringo__proxy_finish(r->proxy, r->status);   /* may free r */
}

/* On the target loop, in the finishing task's context. */
void ringo__remote_report(ringo_task *t)
{
    struct ringo__remote *r = t->for_proxy;
    t->for_proxy = NULL;
    r->status = t->status;
    t->retrieved = true;
    /* Let go of the task as the group does: the scheduler frees it when it
     * reaps its stack. The proxy's loop waits for this message before it
     * closes, so the post is never refused. */
    t->caller_ref = false;
    t->awaited = false;
    ringo__post(r->proxy->loop, &r->done);
}

static void spawn_run(ringo__msg *m, ringo_loop *l)
{
    struct ringo__remote *r = (struct ringo__remote *)m;
    ringo_task *t;
    int ret = ringo__task_new(l, &t, r->proxy->name, r->fn, r->arg);
    if (ret < 0) {
        r->status = ret;
        ringo__post(r->proxy->loop, &r->done);
        return;
    }
    t->for_proxy = r;
    t->awaited = true;   /* the proxy's waiters are its awaiters */
    r->real_id = t->id;
    /* Came in through the gate just before the loop began closing: a
     * leftover like any other. */
    if (atomic_load_explicit(&l->inbox.closing, memory_order_relaxed))
        (void)ringo__cancel(t);
    /* Against ringo__proxy_cancel: one of us sees the other's store. */
    atomic_store_explicit(&r->real, t, memory_order_seq_cst);
    if (atomic_load_explicit(&r->cancel_asked, memory_order_seq_cst))
        (void)ringo__cancel(t);
}

static void cancel_run(ringo__msg *m, ringo_loop *l)
{
    (void)l;
    cancel_msg *c = (cancel_msg *)m;
    ringo_task *t = c->t;
    if (ringo__task_valid(t) && t->id == c->id && t->for_proxy == c->r)
        (void)ringo__cancel(t);
    free(c);
}

int ringo__proxy_cancel(ringo_task *p)
{
    struct ringo__remote *r = p->proxy;
    atomic_store_explicit(&r->cancel_asked, true, memory_order_seq_cst);
    ringo_task *t = atomic_load_explicit(&r->real, memory_order_seq_cst);
    if (!t)
        return 0;   /* the spawn will see cancel_asked */
    cancel_msg *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    *c = (cancel_msg){ .m.run = cancel_run, .t = t, .id = r->real_id, .r = r };
    /* A target that is closing cancels its tasks itself. */
    if (ringo__post_gated(r->target, &c->m) < 0)
        free(c);
    return 0;
}

int ringo_spawn_on(ringo_loop *target, ringo_task **out, ringo_fn fn, void *arg)
{
    if (!target || !out || !fn)
        return -EINVAL;
    ringo_loop *l = ringo__loop;
    if (!l)
        return -EPERM;
    if (target == l)
        return ringo__task_new(l, out, NULL, fn, arg);
    if (target->run != l->run)
        return -EINVAL;
    struct ringo__remote *r = malloc(sizeof *r);
    if (!r)
        return -ENOMEM;
    ringo_task *p;
    int ret = ringo__proxy_new(l, &p, NULL);
    if (ret < 0) {
        free(r);
        return ret;
    }
    *r = (struct ringo__remote){ .spawn.run = spawn_run, .done.run = done_run, .proxy = p,
                                 .target = target, .fn = fn, .arg = arg };
    atomic_init(&r->real, NULL);
    atomic_init(&r->cancel_asked, false);
    (void)ringo__task_name(p);   /* the target names the task after it */
    p->proxy = r;
    ret = ringo__post_gated(target, &r->spawn);
    if (ret < 0) {
        ringo__proxy_finish(p, ret);   /* frees p (and r) once released */
        ringo__task_release(p);
        return ret;
    }
    *out = p;
    return 0;
}
