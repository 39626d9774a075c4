/* Streams (asyncio's StreamReader/StreamWriter over one descriptor): life
 * cycle, the per-loop state, and the loop-close sweep. Reading is in
 * stream_read.c, writing in stream_write.c.
 *
 * A stream owns its io_uring ops (a recv, a send) through CQE handlers in the
 * stream itself, not through a task: a read that is cancelled leaves the recv
 * running and its bytes buffered, and a close in a cancelled task leaves the
 * send running. The memory is freed only once no op of the stream is in
 * flight, so no CQE ever points at a freed stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/stream.h"
#include "io/tls_stream.h"

/* How long loop close waits for streams still flushing (a peer that reads). */
#define LINGER_NS RINGO_SEC(10)

/* One loop per thread at a time: the state of the running one. */
static __thread ringo__streams *tls_streams;

static void stream_finish(ringo_stream *s);

static void kick_fire(ringo__timer *tm)
{
    ringo__streams *sl = (ringo__streams *)((char *)tm - offsetof(ringo__streams, kick_tm));
    while (!rlist_empty(&sl->kicks)) {
        ringo_stream *s = rlist_entry(sl->kicks.next, ringo_stream, kick_link);
        rlist_del(&s->kick_link);
        ringo__stream_sync(s);   /* may free s */
    }
}

static void linger_fire(ringo__timer *tm)
{
    (void)tm;   /* only bounds the loop's wait in the kernel */
}

static void step_until_empty(ringo__streams *sl, ringo_loop *l, int64_t until)
{
    ringo__timer tm = { .at = until, .idx = RINGO_TIMER_IDLE, .fire = linger_fire };
    bool timed = until != INT64_MAX && ringo__timer_add(l, &tm) == 0;
    while (!rlist_empty(&sl->streams) && (!timed || ringo_now() < until))
        ringo__step(l, true);
    ringo__timer_del(l, &tm);
}

/* Loop close: every task is done. Streams nobody closed are closed now;
 * streams still flushing get LINGER_NS to finish (the bytes written before a
 * close reach a peer that reads), then their ops are cancelled and reaped. */
static void streams_close(ringo__closer *c, ringo_loop *l)
{
    ringo__streams *sl = (ringo__streams *)c;
    for (rlist *p = sl->streams.next, *n; p != &sl->streams; p = n) {
        n = p->next;
        ringo_stream *s = rlist_entry(p, ringo_stream, link);
        s->closer = NULL;
        if (!s->closing) {
            if (l->debug)
                fprintf(stderr, "ringo: stream fd %d was not closed; closing it\n", s->fd);
            ringo__stream_mark_closing(s);
        }
        ringo__stream_sync(s);   /* may free s; n stays valid */
    }
    step_until_empty(sl, l, ringo_now() + LINGER_NS);
    for (rlist *p = sl->streams.next; p != &sl->streams; p = p->next) {
        ringo_stream *s = rlist_entry(p, ringo_stream, link);
        ringo__stream_send_cancel(s);
        ringo__stream_recv_cancel(s);
    }
    step_until_empty(sl, l, INT64_MAX);
    ringo__timer_del(l, &sl->kick_tm);
    if (sl->ring_ready)
        ringo__recv_ring_exit(l, &sl->rr);
    if (tls_streams == sl)
        tls_streams = NULL;
    free(sl);
}

bool ringo__env_no_multishot(void)
{
    const char *v = getenv("RINGO_NO_MULTISHOT");
    return v && *v && strcmp(v, "0") != 0;
}

static ringo__streams *streams_get(ringo_loop *l)
{
    ringo__streams *sl = tls_streams;
    if (RINGO_LIKELY(sl && sl->loop == l))
        return sl;
    sl = calloc(1, sizeof *sl);
    if (!sl)
        return NULL;
    sl->loop = l;
    rlist_init(&sl->streams);
    rlist_init(&sl->kicks);
    sl->kick_tm.idx = RINGO_TIMER_IDLE;
    sl->kick_tm.fire = kick_fire;
    /* Multishot recv needs 6.0; the ring (5.19) is tried at the first read. */
    sl->multishot = ringo__can(l, RINGO_CAP_RECV_MULTI) && !ringo__env_no_multishot();
    sl->send_zc = l->send_zc && ringo__can(l, RINGO_CAP_SEND_ZC);
    sl->closer.close = streams_close;
    ringo__at_close(l, &sl->closer);
    tls_streams = sl;
    return sl;
}

bool ringo__streams_multishot(ringo__streams *sl)
{
    if (RINGO_LIKELY(sl->ring_ready) || !sl->multishot)
        return sl->multishot;
    if (ringo__recv_ring_init(sl->loop, &sl->rr, RINGO_RECV_BGID, RINGO_RECV_BUFS,
                              RINGO_RECV_BUF_SIZE) < 0)
        sl->multishot = false;
    else
        sl->ring_ready = true;
    return sl->multishot;
}

int ringo__stream_new(ringo_stream **out, int fd)
{
    if (fd < 0)
        return -EBADF;
    ringo_loop *l = ringo__loop;
    int ret = -EINVAL;
    ringo__streams *sl = NULL;
    ringo_stream *s = NULL;
    if (!out)
        goto fail;
    ret = -EPERM;
    if (!l)
        goto fail;
    ret = -ENOMEM;
    if (!(sl = streams_get(l)) || !(s = calloc(1, sizeof *s)))
        goto fail;
    struct stat st;
    s->sl = sl;
    s->fd = fd;
    s->is_sock = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
    ringo__stream_read_init(s);
    ringo__stream_write_init(s);
    rlist_init(&s->kick_link);
    rlist_push(&sl->streams, &s->link);
    *out = s;
    return 0;
fail:
    close(fd);
    return ret;
}

bool ringo__stream_busy(const ringo_stream *s)
{
    return s->rstate != RECV_IDLE || s->sstate != SEND_IDLE || s->znotif ||
           (!s->werr && !s->fd_closed && ringo__stream_wbuffered(s));
}

static void stream_finish(ringo_stream *s)
{
    ringo__tls_free(s);
    ringo__stream_read_release(s);
    ringo__stream_write_release(s);
    if (!s->fd_closed) {
        ringo__fd_forget(s->sl->loop, s->fd);
        close(s->fd);   /* a socket's close does not block (no SO_LINGER) */
    }
    rlist_del(&s->link);
    rlist_del(&s->kick_link);
    free(s);
}

/* Start or cancel the ops the state asks for; finish a closed stream that
 * has nothing left. Not from a CQE handler (takes SQEs). */
void ringo__stream_sync(ringo_stream *s)
{
    ringo__stream_send_sync(s);
    ringo__stream_recv_sync(s);
    if (s->closing && !ringo__stream_busy(s)) {
        if (s->closer)
            ringo__wake(s->closer);   /* it finishes and reports */
        else
            stream_finish(s);
    }
}

void ringo__stream_after_cqe(ringo_stream *s)
{
    if (s->closing && !ringo__stream_busy(s)) {
        if (s->closer)
            ringo__wake(s->closer);
        else
            stream_finish(s);
        return;
    }
    if (!ringo__stream_send_work(s) && !ringo__stream_recv_work(s))
        return;
    if (!rlist_empty(&s->kick_link))
        return;   /* already queued */
    ringo__streams *sl = s->sl;
    rlist_push(&sl->kicks, &s->kick_link);
    if (sl->kick_tm.idx == RINGO_TIMER_IDLE && ringo__timer_add(sl->loop, &sl->kick_tm) < 0) {
        /* No memory for the timer heap: the next sync of s (a read, a
         * write, close, loop close) picks the work up. */
        rlist_del(&s->kick_link);
    }
}

static void close_cancel(ringo__wait *w)
{
    ringo_stream *s = (ringo_stream *)((char *)w - offsetof(ringo_stream, cwait));
    ringo__wake(s->closer);
}

static void close_describe(const ringo__wait *w, char *buf, size_t n)
{
    const ringo_stream *s = (const ringo_stream *)((const char *)w - offsetof(ringo_stream, cwait));
    snprintf(buf, n, "stream close fd %d", s->fd);
}

int ringo_stream_close(ringo_stream *s)
{
    if (!s)
        return -EINVAL;
    if (s->closing)
        return -EBADF;
    /* Freeing s under a task that waits on it would be a use after free. */
    if (s->reader || !rlist_empty(&s->drainers))
        return -EBUSY;
    if (s->tls) {   /* close_notify, then the peer's (bounded) */
        ringo_loop *tl;
        (void)ringo__tls_close(s, ringo__enter(&tl) == 0 ? tl : NULL);
    }
    ringo__stream_mark_closing(s);   /* close sends the FIN */
    ringo__stream_send_sync(s);
    ringo__stream_recv_sync(s);   /* cancels the recv */
    ringo_loop *l;
    if (ringo__stream_busy(s) && ringo__enter(&l) == 0) {
        s->closer = l->current;
        s->cwait.cancel = close_cancel;
        s->cwait.describe = close_describe;
        while (ringo__stream_busy(s)) {
            if (ringo__wait_on(l, &s->cwait) < 0)
                break;
        }
        s->closer = NULL;
    }
    if (ringo__stream_busy(s))
        return 0;   /* cancelled or past a deadline: finishes in the background */
    int err = s->werr == -ECANCELED ? 0 : s->werr;
    stream_finish(s);
    return err;
}

int ringo_stream_fd(const ringo_stream *s)
{
    if (!s)
        return -EINVAL;
    return s->fd_closed ? -EBADF : s->fd;
}

void ringo_stream_set_limit(ringo_stream *s, size_t limit)
{
    if (!s || !limit)
        return;
    s->limit = limit;
    ringo__stream_recv_sync(s);   /* a higher limit may resume reading ahead */
}

size_t ringo__stream_read_buffered(const ringo_stream *s) { return ringo__stream_rbuffered(s); }
size_t ringo__stream_write_buffered(const ringo_stream *s) { return ringo__stream_wbuffered(s); }
int ringo__stream_multishot(const ringo_stream *s) { return s->ms_on; }
unsigned ringo__stream_sends(const ringo_stream *s) { return s->nsends; }
unsigned ringo__stream_zc_sends(const ringo_stream *s) { return s->nzc; }
