/* ringo_chan: a bounded FIFO of void * items between loops and threads.
 *
 * One pthread mutex guards the ring buffer and two FIFOs of waiters (nodes
 * on the waiting tasks' stacks). Service is by direct handoff, so nobody
 * barges: a sender that finds a receiver waiting gives it the item; a
 * receiver that frees a slot while senders wait moves the first sender's
 * item into the buffer and completes that sender. Hence the invariants:
 * receivers wait only while len == 0, senders only while len == cap, and
 * never both.
 *
 * A waiter is `served` (by a sender, a receiver or close) or `gone` (its
 * cancel hook took it off: cancellation, deadline): decided under the
 * mutex, so exactly one of them wakes the task. A server wakes it after
 * unlocking, with ringo__wake_from_any (at once on the same loop, else a
 * message to the task's loop); the node stays valid until then because
 * nothing else can make the task run. A waiter served before its
 * interruption keeps what it was served: the receive returns the item, the
 * send counts; the task stays cancelled for its next call.
 *
 * The fast path (neither full nor empty, nobody waiting) is one lock and
 * unlock, no wake-up. A waiting task counts in its loop's `external`: only
 * another thread may end the wait, which is no deadlock of that loop. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/inbox.h"
#include "engine/waitq.h"

enum { W_QUEUED, W_SERVED, W_GONE };

typedef struct chan_waiter {
    rlist link;                    /* in c->senders / c->receivers while queued */
    ringo__wait wait;
    ringo__wake_msg wake;          /* for a server on another thread */
    ringo_task *task;
    ringo_chan *c;
    struct chan_waiter *next_wake; /* close's list of nodes to wake */
    void *item;                    /* a sender's item, or the one handed to a receiver */
    int result;                    /* once served: 0, or -EPIPE (closed) */
    int state;                     /* W_*: written under c->mu */
} chan_waiter;

struct ringo_chan {
    pthread_mutex_t mu;
    void **buf;
    size_t cap, head, len;         /* items buf[(head + i) % cap], i < len */
    bool closed;
    rlist senders, receivers;      /* chan_waiter, in the order they started waiting */
    size_t nwait;                  /* nodes on both */
};

int ringo_chan_new(ringo_chan **out, size_t capacity)
{
    if (!out || capacity == 0)
        return -EINVAL;
    if (capacity > SIZE_MAX / sizeof(void *))
        return -ENOMEM;
    ringo_chan *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->buf = malloc(capacity * sizeof *c->buf);
    /* A plain mutex: an adaptive one's trylock spinning steals the cache
     * line from the holder and halves the throughput between two loops. */
    if (!c->buf || pthread_mutex_init(&c->mu, NULL)) {
        free(c->buf);
        free(c);
        return -ENOMEM;
    }
    c->cap = capacity;
    rlist_init(&c->senders);
    rlist_init(&c->receivers);
    *out = c;
    return 0;
}

static inline void push_back(ringo_chan *c, void *item)
{
    size_t i = c->head + c->len;
    c->buf[i >= c->cap ? i - c->cap : i] = item;
    c->len++;
}

static inline void *pop_front(ringo_chan *c)
{
    void *item = c->buf[c->head];
    if (++c->head == c->cap)
        c->head = 0;
    c->len--;
    return item;
}

/* Take the first waiter of q off, served with result. Under c->mu. */
static inline chan_waiter *serve_first(ringo_chan *c, rlist *q, int result)
{
    chan_waiter *w = rlist_entry(q->next, chan_waiter, link);
    rlist_del(&w->link);
    c->nwait--;
    w->result = result;
    w->state = W_SERVED;
    return w;
}

/* After unlocking: the node is valid until its task runs, and only this
 * makes it run. */
static inline void wake(chan_waiter *w)
{
    ringo__wake_from_any(&w->wake, w->task);
}

/* Unlock, then wake the waiter the call served, if any. */
static inline void unlock_and_wake(ringo_chan *c, chan_waiter *woken)
{
    pthread_mutex_unlock(&c->mu);
    if (woken)
        wake(woken);
}

/* Put item or say why not (-EPIPE, -EAGAIN when full). Under c->mu; *woken
 * gets a receiver to wake after unlocking. */
static inline int put_locked(ringo_chan *c, void *item, chan_waiter **woken)
{
    if (RINGO_UNLIKELY(c->closed))
        return -EPIPE;
    if (RINGO_UNLIKELY(!rlist_empty(&c->receivers))) {
        chan_waiter *r = serve_first(c, &c->receivers, 0);
        r->item = item;
        *woken = r;
        return 0;
    }
    if (RINGO_UNLIKELY(c->len == c->cap))
        return -EAGAIN;
    push_back(c, item);
    return 0;
}

/* Take an item or say why not (-EPIPE closed and drained, -EAGAIN empty).
 * Under c->mu; *woken gets a sender to wake after unlocking. */
static inline int take_locked(ringo_chan *c, void **item, chan_waiter **woken)
{
    if (RINGO_UNLIKELY(c->len == 0))
        return c->closed ? -EPIPE : -EAGAIN;
    *item = pop_front(c);
    if (RINGO_UNLIKELY(!rlist_empty(&c->senders))) {
        /* Senders wait only while full: the freed slot is the first one's. */
        chan_waiter *s = serve_first(c, &c->senders, 0);
        push_back(c, s->item);
        *woken = s;
    }
    return 0;
}

/* The waiter's own loop interrupts it (cancel, deadline). Served already:
 * the server wakes it, and the wait keeps what it was served. */
static void waiter_cancel(ringo__wait *wt)
{
    chan_waiter *w = (chan_waiter *)((char *)wt - offsetof(chan_waiter, wait));
    ringo_chan *c = w->c;
    pthread_mutex_lock(&c->mu);
    bool queued = w->state == W_QUEUED;
    if (queued) {
        rlist_del(&w->link);
        c->nwait--;
        w->state = W_GONE;
    }
    pthread_mutex_unlock(&c->mu);
    if (queued)
        ringo__wake(w->task);
}

static void send_describe(const ringo__wait *wt, char *buf, size_t n)
{
    const chan_waiter *w = (const chan_waiter *)((const char *)wt - offsetof(chan_waiter, wait));
    snprintf(buf, n, "channel send %p", (const void *)w->c);
}

static void recv_describe(const ringo__wait *wt, char *buf, size_t n)
{
    const chan_waiter *w = (const chan_waiter *)((const char *)wt - offsetof(chan_waiter, wait));
    snprintf(buf, n, "channel recv %p", (const void *)w->c);
}

/* Queue the current task on q (c->mu held, released here) and suspend it.
 * Returns the result it was served, or the interruption. Out of line so the
 * fast paths need no frame for the node. */
static __attribute__((noinline)) int wait_locked(ringo_loop *l, ringo_chan *c, rlist *q,
                                                 chan_waiter *w)
{
    w->wait.cancel = waiter_cancel;
    w->wait.describe = q == &c->senders ? send_describe : recv_describe;
    w->task = l->current;
    w->c = c;
    w->state = W_QUEUED;
    rlist_push(q, &w->link);
    c->nwait++;
    l->external++;
    pthread_mutex_unlock(&c->mu);
    int why = ringo__wait_on(l, &w->wait);
    l->external--;
    /* Woken by a server (state written before its wake-up) or by our own
     * hook (on this thread): no lock needed to read the outcome. */
    if (RINGO_LIKELY(w->state == W_SERVED))
        return w->result;
    if (RINGO_UNLIKELY(why == 0)) {
        /* l->external keeps the deadlock breaker away from this wait. */
        fprintf(stderr, "ringo: channel waiter woken without being served\n");
        abort();
    }
    return why;
}

int ringo_chan_try_send(ringo_chan *c, void *item)
{
    if (!c)
        return -EINVAL;
    chan_waiter *woken = NULL;
    pthread_mutex_lock(&c->mu);
    int ret = put_locked(c, item, &woken);
    unlock_and_wake(c, woken);
    return ret;
}

int ringo_chan_send(ringo_chan *c, void *item)
{
    if (!c)
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    chan_waiter *woken = NULL;
    pthread_mutex_lock(&c->mu);
    ret = put_locked(c, item, &woken);
    if (RINGO_UNLIKELY(ret == -EAGAIN)) {
        chan_waiter w;
        w.item = item;
        return wait_locked(l, c, &c->senders, &w);
    }
    unlock_and_wake(c, woken);
    return ret;
}

int ringo_chan_try_recv(ringo_chan *c, void **item)
{
    if (!c || !item)
        return -EINVAL;
    chan_waiter *woken = NULL;
    pthread_mutex_lock(&c->mu);
    int ret = take_locked(c, item, &woken);
    unlock_and_wake(c, woken);
    return ret;
}

int ringo_chan_recv(ringo_chan *c, void **item)
{
    if (!c || !item)
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    chan_waiter *woken = NULL;
    pthread_mutex_lock(&c->mu);
    ret = take_locked(c, item, &woken);
    if (RINGO_UNLIKELY(ret == -EAGAIN)) {
        chan_waiter w;
        ret = wait_locked(l, c, &c->receivers, &w);
        if (ret == 0)
            *item = w.item;
        return ret;
    }
    unlock_and_wake(c, woken);
    return ret;
}

void ringo_chan_close(ringo_chan *c)
{
    if (!c)
        return;
    chan_waiter *first = NULL, **tail = &first;
    pthread_mutex_lock(&c->mu);
    c->closed = true;
    /* Receivers wait only while empty: closed and drained, -EPIPE too. */
    rlist *qs[] = { &c->senders, &c->receivers };
    for (size_t i = 0; i < 2; i++)
        while (!rlist_empty(qs[i])) {
            chan_waiter *w = serve_first(c, qs[i], -EPIPE);
            w->next_wake = NULL;
            *tail = w;
            tail = &w->next_wake;
        }
    pthread_mutex_unlock(&c->mu);
    /* A woken task on another loop may return at once: read the link first. */
    for (chan_waiter *w = first, *next; w; w = next) {
        next = w->next_wake;
        wake(w);
    }
}

/* "Once nobody can touch it" means every call on c has returned: a waiter
 * that close served but that has not run yet may still take c->mu in its
 * cancel hook. Queued waiters are what can be checked. */
void ringo_chan_free(ringo_chan *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    size_t n = c->nwait;
    pthread_mutex_unlock(&c->mu);
    if (ringo__waitq_refuse_free(n, "ringo_chan_free", "channel"))
        return;
    pthread_mutex_destroy(&c->mu);
    free(c->buf);
    free(c);
}
