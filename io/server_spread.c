/* RINGO_SERVER_SPREAD: one listener, each connection's handler on the loop
 * of the run with the fewest live connections of this server.
 *
 * Every loop has a counter per server: the server's loop counts a handler
 * up when it hands the fd out, and whichever loop ends the handler counts
 * it down, so the counters are atomics, each on a cache line of its own.
 * Ties go round-robin: the search starts after the loop picked last, so a
 * server whose connections end as fast as they come still uses every loop.
 *
 * A handler for another loop is started with ringo_spawn_on; the fd goes
 * over as a plain descriptor and the stream is made there (a stream belongs
 * to the loop that created it). The record stays with the server's loop,
 * which holds the task's proxy on its conns list: close cancels it like a
 * local handler and waits until its result came back (a done waiter on the
 * proxy, run here, unlinks the record).
 *
 * A task started with ringo_spawn_on does not run at all if it is cancelled
 * before its first step (its loop was closing, or ours cancelled it), so it
 * cannot close its fd then as a local handler does (must_run). Instead it
 * marks the fd its own when it starts (claimed); when the proxy reports
 * back without that mark, the server's loop closes the fd. A loop that
 * refuses the spawn (-ESHUTDOWN: closing) is left out from then on and the
 * handler runs here. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/server_int.h"
#include "io/stream.h"

static void kick_fire(ringo__timer *tm);

int ringo__spread_init(ringo_server *s, unsigned nloops)
{
    size_t size = nloops * sizeof *s->spread;
    s->spread = aligned_alloc(_Alignof(ringo__spread_slot), size);
    if (!s->spread)
        return -ENOMEM;
    memset(s->spread, 0, size);
    for (unsigned i = 0; i < nloops; i++)
        atomic_init(&s->spread[i].live, 0);
    s->nloops = nloops;
    s->kick.idx = RINGO_TIMER_IDLE;
    s->kick.fire = kick_fire;
    return 0;
}

void ringo__spread_free(ringo_server *s)
{
    free(s->spread);
    free(s->pending);
    s->spread = NULL;
    s->pending = NULL;
}

/* The least loaded loop that still takes handlers (ours always does). */
static unsigned pick_loop(ringo_server *s)
{
    unsigned best = s->loop->index, min = UINT_MAX;
    for (unsigned k = 0; k < s->nloops; k++) {
        unsigned i = (s->next + k) % s->nloops;
        if (s->spread[i].gone)
            continue;
        unsigned v = atomic_load_explicit(&s->spread[i].live, memory_order_relaxed);
        if (v < min) {
            min = v;
            best = i;
        }
    }
    s->next = best + 1;
    return best;
}

/* On the handler's loop. */
static int remote_main(void *arg)
{
    ringo__conn *c = arg;
    atomic_store_explicit(&c->claimed, true, memory_order_relaxed);
    ringo__conn_serve(c);
    /* The last touch of the server: it is freed only after our result
     * reached its loop. */
    atomic_fetch_sub_explicit(c->live, 1, memory_order_relaxed);
    return 0;
}

/* On the server's loop, as the proxy becomes DONE; the proxy is freed right
 * after (its reference was released when it was spawned). */
static void remote_done(ringo__done_waiter *w, ringo_task *proxy)
{
    ringo__conn *c = rlist_entry(w, ringo__conn, dw);
    proxy->retrieved = true;   /* handler statuses are dropped, as for local ones */
    /* The message that made the proxy DONE orders the handler's writes
     * before this read. */
    if (!atomic_load_explicit(&c->claimed, memory_order_relaxed)) {
        close(c->fd);   /* never started */
        atomic_fetch_sub_explicit(c->live, 1, memory_order_relaxed);
    }
    ringo__conn_end(c);
}

/* 0: c's handler will run on loop i; else c is untouched. */
static int start_on(ringo_server *s, ringo__conn *c, unsigned i)
{
    c->live = &s->spread[i].live;
    /* Counted before it can run, and so end, over there. */
    atomic_fetch_add_explicit(c->live, 1, memory_order_relaxed);
    ringo_task *p;
    int ret = ringo_spawn_on(ringo_loop_at(i), &p, remote_main, c);
    if (ret < 0) {
        atomic_fetch_sub_explicit(c->live, 1, memory_order_relaxed);
        c->live = NULL;
        if (ret == -ESHUTDOWN)
            s->spread[i].gone = true;
        return ret;
    }
    c->task = p;
    c->dw.done = remote_done;
    ringo__done_wait(p, &c->dw);   /* before our next suspension: it cannot be DONE yet */
    ringo__task_release(p);        /* the list tracks it; freed once DONE */
    rlist_push(&s->conns, &c->link);
    s->nconns++;
    return 0;
}

static void hand_out(ringo_server *s, int fd)
{
    ringo__conn *c = ringo__conn_new(s, fd);
    if (!c)
        return;
    unsigned i = pick_loop(s);
    if (i != s->loop->index && start_on(s, c, i) == 0)
        return;
    ringo__conn_start_here(s, c);
}

/* On the scheduler's context, right after a reap. Handing out may reap
 * again (an SQE to wake the other loop, with the SQ full), which may queue
 * more fds: they are taken in this same pass. */
static void kick_fire(ringo__timer *tm)
{
    ringo_server *s = (ringo_server *)((char *)tm - offsetof(ringo_server, kick));
    while (s->phead < s->npending)
        hand_out(s, s->pending[s->phead++]);
    s->phead = s->npending = 0;
}

void ringo__spread_queue(ringo_server *s, int fd)
{
    if (ringo__conn_refused(s)) {
        close(fd);
        return;
    }
    if (s->npending == s->cpending) {
        size_t cap = s->cpending ? 2 * s->cpending : 64;
        int *p = realloc(s->pending, cap * sizeof *p);
        if (!p) {
            close(fd);   /* no memory: drop this client */
            return;
        }
        s->pending = p;
        s->cpending = cap;
    }
    s->pending[s->npending++] = fd;
    if (s->kick.idx == RINGO_TIMER_IDLE && ringo__timer_add(s->loop, &s->kick) < 0) {
        /* No room in the timer heap: serve it here, as a plain server does. */
        s->npending--;
        ringo__conn *c = ringo__conn_new(s, fd);
        if (c)
            ringo__conn_start_here(s, c);
    }
}

void ringo__spread_stop(ringo_server *s)
{
    ringo__timer_del(s->loop, &s->kick);
    while (s->phead < s->npending)
        close(s->pending[s->phead++]);
    s->phead = s->npending = s->cpending = 0;
    free(s->pending);
    s->pending = NULL;
}
