/* ringo_future: a result set once, from any thread, awaited by tasks of any
 * loop.
 *
 * A pthread mutex guards the result and the FIFO of waiters (nodes on the
 * waiting tasks' stacks), as in chan.c. A node is `served` by the set or
 * `gone` (its cancel hook took it off: cancellation, deadline), decided
 * under the mutex, so exactly one of them wakes the task. The set copies the
 * result into each node, unlocks, then wakes them with ringo__wake_from_any
 * (at once on its own loop, else a message to the waiter's loop): after its
 * unlock it touches only nodes, each valid until its task runs, which only
 * that wake-up makes it do. So whoever saw the result under the mutex may
 * free the future at once.
 *
 * A served waiter cancelled before it runs returns -ECANCELED, as an Event's
 * does: the result stays in f for anyone. A waiting task counts in its
 * loop's `external`: another thread may end the wait, no deadlock. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/inbox.h"
#include "engine/waitq.h"

enum { FW_QUEUED, FW_SERVED, FW_GONE };

typedef struct fut_waiter {
    rlist link;                    /* in f->waiters while queued */
    ringo__wait wait;
    ringo__wake_msg wake;
    ringo_task *task;
    ringo_future *f;
    struct fut_waiter *next_wake;  /* the set's list of nodes to wake */
    void *value;
    int status;
    int state;                     /* FW_*: written under f->mu */
} fut_waiter;

struct ringo_future {
    pthread_mutex_t mu;
    bool set;
    int status;
    void *value;
    rlist waiters;
    size_t nwait;
};

int ringo_future_new(ringo_future **out)
{
    if (!out)
        return -EINVAL;
    ringo_future *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    if (pthread_mutex_init(&f->mu, NULL)) {
        free(f);
        return -ENOMEM;
    }
    rlist_init(&f->waiters);
    *out = f;
    return 0;
}

int ringo_future_set(ringo_future *f, int status, void *value)
{
    if (!f)
        return -EINVAL;
    pthread_mutex_lock(&f->mu);
    if (f->set) {
        pthread_mutex_unlock(&f->mu);
        return -EALREADY;
    }
    f->set = true;
    f->status = status;
    f->value = value;
    fut_waiter *first = NULL, **tail = &first;
    while (!rlist_empty(&f->waiters)) {
        fut_waiter *w = rlist_entry(f->waiters.next, fut_waiter, link);
        rlist_del(&w->link);
        w->status = status;
        w->value = value;
        w->state = FW_SERVED;
        w->next_wake = NULL;
        *tail = w;
        tail = &w->next_wake;
    }
    f->nwait = 0;
    pthread_mutex_unlock(&f->mu);
    /* A woken task on another loop may return at once: read the link first. */
    for (fut_waiter *w = first, *next; w; w = next) {
        next = w->next_wake;
        ringo__wake_from_any(&w->wake, w->task);
    }
    return 0;
}

/* The waiter's own loop interrupts it. Served already: the set wakes it. */
static void waiter_cancel(ringo__wait *wt)
{
    fut_waiter *w = (fut_waiter *)((char *)wt - offsetof(fut_waiter, wait));
    ringo_future *f = w->f;
    pthread_mutex_lock(&f->mu);
    bool queued = w->state == FW_QUEUED;
    if (queued) {
        rlist_del(&w->link);
        f->nwait--;
        w->state = FW_GONE;
    }
    pthread_mutex_unlock(&f->mu);
    if (queued)
        ringo__wake(w->task);
}

static void waiter_describe(const ringo__wait *wt, char *buf, size_t n)
{
    const fut_waiter *w = (const fut_waiter *)((const char *)wt - offsetof(fut_waiter, wait));
    snprintf(buf, n, "future %p", (const void *)w->f);
}

/* f->mu held, released here. Out of line: the set case needs no node. */
static __attribute__((noinline)) int wait_locked(ringo_loop *l, ringo_future *f, void **value)
{
    fut_waiter w = { .wait.cancel = waiter_cancel, .wait.describe = waiter_describe,
                     .task = l->current, .f = f,
                     .state = FW_QUEUED };
    rlist_push(&f->waiters, &w.link);
    f->nwait++;
    l->external++;
    pthread_mutex_unlock(&f->mu);
    int why = ringo__wait_on(l, &w.wait);
    l->external--;
    /* Woken by the set (state written before its wake-up) or by our own
     * hook (on this thread): no lock needed to read the outcome. */
    if (RINGO_LIKELY(w.state == FW_SERVED)) {
        if (l->current->cancelled)
            return -ECANCELED;
        if (value)
            *value = w.value;
        return w.status;
    }
    if (RINGO_UNLIKELY(why == 0)) {
        /* l->external keeps the deadlock breaker away from this wait. */
        fprintf(stderr, "ringo: future waiter woken without being set\n");
        abort();
    }
    return why;
}

int ringo_future_wait(ringo_future *f, void **value)
{
    if (!f)
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    pthread_mutex_lock(&f->mu);
    if (!f->set)
        return wait_locked(l, f, value);
    if (value)
        *value = f->value;
    ret = f->status;
    pthread_mutex_unlock(&f->mu);
    return ret;
}

/* Under the mutex, like every look at the result: a caller that saw it set
 * may free f, which must not race with the set's unlock. */
bool ringo_future_done(const ringo_future *f)
{
    if (!f)
        return false;
    ringo_future *m = (ringo_future *)f;
    pthread_mutex_lock(&m->mu);
    bool set = m->set;
    pthread_mutex_unlock(&m->mu);
    return set;
}

void ringo_future_free(ringo_future *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    size_t n = f->nwait;
    pthread_mutex_unlock(&f->mu);
    if (ringo__waitq_refuse_free(n, "ringo_future_free", "future"))
        return;
    pthread_mutex_destroy(&f->mu);
    free(f);
}
