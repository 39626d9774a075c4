/* ringo_as_completed: asyncio.as_completed. Each distinct unfinished task
 * gets a done-waiter that appends it to `ready` when it finishes, so ready
 * holds the tasks in finishing order (those done at _new first, in the
 * order given) and _next takes them from the front. A timeout is a
 * wait-local deadline, as in ringo_wait: lowered for the wait, restored
 * after; unlike ringo_wait, our expiry and the caller's are both
 * -ETIMEDOUT. */
#include <stdio.h>
#include <stdlib.h>

#include "engine/waitq.h"

typedef struct ac_slot {
    ringo__done_waiter dw;
    ringo_completions *c;
    ringo_task *task;
    bool watching;           /* dw is queued on task */
} ac_slot;

struct ringo_completions {
    ringo_loop *loop;
    ringo__wait wait;
    ringo_task *waiter;      /* suspended in _next, to be woken */
    bool inside;             /* a task is in _next */
    size_t n;                /* distinct tasks */
    size_t nready, nout;     /* ready[nout..nready): finished, not returned yet */
    ringo_task **ready;
    ac_slot slots[];
};

static void slot_done(ringo__done_waiter *w, ringo_task *finished)
{
    ac_slot *s = rlist_entry(w, ac_slot, dw);
    ringo_completions *c = s->c;
    s->watching = false;
    c->ready[c->nready++] = finished;
    ringo_task *t = c->waiter;
    c->waiter = NULL;
    if (t)
        ringo__wake(t);
}

/* Interrupted (cancel, deadline, our timeout). */
static void next_cancel(ringo__wait *w)
{
    ringo_completions *c = (ringo_completions *)((char *)w - offsetof(ringo_completions, wait));
    ringo_task *t = c->waiter;
    c->waiter = NULL;
    if (t)
        ringo__wake(t);
}

typedef struct ac_key { ringo_task *t; size_t i; } ac_key;

static int key_cmp(const void *a, const void *b)
{
    const ac_key *x = a, *y = b;
    if (x->t != y->t)
        return (uintptr_t)x->t < (uintptr_t)y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* first[i]: tasks[i] is not a repeat of an earlier entry. */
static int mark_firsts(ringo_task **tasks, size_t n, bool *first)
{
    ac_key *k = malloc(n * sizeof *k);
    if (!k)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        k[i] = (ac_key){ tasks[i], i };
    qsort(k, n, sizeof *k, key_cmp);
    for (size_t i = 0; i < n; i++)
        first[k[i].i] = i == 0 || k[i - 1].t != k[i].t;
    free(k);
    return 0;
}

static void next_describe(const ringo__wait *w, char *buf, size_t n)
{
    const ringo_completions *c =
        (const ringo_completions *)((const char *)w - offsetof(ringo_completions, wait));
    snprintf(buf, n, "as_completed %p (%zu of %zu tasks returned)", (const void *)c, c->nout,
             c->n);
}

int ringo_as_completed_new(ringo_completions **out, ringo_task **tasks, size_t n)
{
    if (!out || !tasks || n == 0)
        return -EINVAL;
    ringo_loop *l = ringo__loop;
    if (!l || !l->current)
        return -EPERM;
    for (size_t i = 0; i < n; i++) {
        ringo_task *t = tasks[i];
        /* Held by the caller, as ringo_wait requires: else freed under us. */
        if (!ringo__task_valid(t) || !t->caller_ref || t->loop != l || t == l->current)
            return -EINVAL;
    }
    if (n > (SIZE_MAX - sizeof(ringo_completions)) / (sizeof(ac_slot) + sizeof(ringo_task *)))
        return -ENOMEM;
    ringo_completions *c = malloc(sizeof *c + n * sizeof(ac_slot));
    bool *first = malloc(n * sizeof *first);
    ringo_task **ready = malloc(n * sizeof *ready);
    if (!c || !first || !ready || mark_firsts(tasks, n, first) < 0) {
        free(c);
        free(first);
        free(ready);
        return -ENOMEM;
    }
    *c = (ringo_completions){ .loop = l, .wait.cancel = next_cancel,
                            .wait.describe = next_describe, .ready = ready };
    for (size_t i = 0; i < n; i++) {
        if (!first[i])
            continue;
        ac_slot *s = &c->slots[c->n++];
        *s = (ac_slot){ .dw.done = slot_done, .c = c, .task = tasks[i] };
        if (tasks[i]->state == RINGO_T_DONE) {
            c->ready[c->nready++] = tasks[i];
        } else {
            s->watching = true;
            ringo__done_wait(tasks[i], &s->dw);
        }
    }
    free(first);
    *out = c;
    return 0;
}

static int64_t add_sat(int64_t a, int64_t b)
{
    return b > INT64_MAX - a ? INT64_MAX : a + b;
}

/* Suspend until a task is ready or the wait is interrupted. */
static int wait_ready(ringo_loop *l, ringo_completions *c, int64_t timeout_ns)
{
    ringo_task *cur = l->current;
    int64_t outer = cur->deadline;
    if (timeout_ns > 0) {
        int64_t at = add_sat(ringo_now(), timeout_ns);
        if (at < outer)
            cur->deadline = at;
    }
    c->inside = true;
    int ret = 0;
    while (c->nout == c->nready && ret == 0) {
        c->waiter = cur;
        ret = ringo__wait_on(l, &c->wait);
        c->waiter = NULL;
        if (ret == 0 && c->nout == c->nready && l->broken)
            ret = -EDEADLK;
    }
    c->inside = false;
    cur->deadline = outer;
    return ret;
}

int ringo_as_completed_next(ringo_completions *c, int64_t timeout_ns, ringo_task **done)
{
    if (!c || !done)
        return -EINVAL;
    ringo_loop *l = ringo__loop;
    if (!l || !l->current)
        return -EPERM;
    if (l != c->loop)
        return -EXDEV;
    if (c->inside)
        return -EBUSY;
    if (c->nout == c->nready) {
        if (c->nout == c->n)
            return -ENOENT;
        if (timeout_ns == 0)
            return -ETIMEDOUT;
        int ret = ringo__enter(&l);
        if (ret == 0)
            ret = wait_ready(l, c, timeout_ns);
        if (ret < 0)
            return ret;
    }
    *done = c->ready[c->nout++];
    return 0;
}

void ringo_as_completed_free(ringo_completions *c)
{
    if (!c || ringo__waitq_refuse_free(c->inside, "ringo_as_completed_free", "completions"))
        return;
    for (size_t i = 0; i < c->n; i++)
        if (c->slots[i].watching)
            rlist_del(&c->slots[i].dw.link);
    free(c->ready);
    free(c);
}
