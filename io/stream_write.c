/* The write side of a stream: asyncio's StreamWriter over a stream-owned
 * send op.
 *
 * ringo_stream_write copies into wbuf and never suspends. One send carries
 * everything queued: bytes written while a send is prepared but not yet
 * submitted are added to that same SQE (it is patched in place; the kernel
 * reads an SQE only when it is submitted), and bytes written while a send is
 * in flight go out with the next one, started by the completion. Short sends
 * resume where they stopped. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/stream.h"
#include "io/tls_stream.h"

#define WBUF_MIN  ((size_t)1024)
#define WBUF_KEEP ((size_t)16 * 1024)   /* an empty wbuf above this is freed */

typedef struct drain_waiter {
    rlist link;
    ringo_task *task;
    ringo__wait wait;
    int fd;
} drain_waiter;

static void drain_describe(const ringo__wait *w, char *buf, size_t n)
{
    snprintf(buf, n, "stream drain fd %d",
             ((const drain_waiter *)((const char *)w - offsetof(drain_waiter, wait)))->fd);
}

static void send_complete(ringo__cqe_handler *h, int32_t res, uint32_t flags);

void ringo__stream_write_init(ringo_stream *s)
{
    rlist_init(&s->drainers);
    s->send_rq.h.complete = send_complete;
}

void ringo__stream_write_release(ringo_stream *s)
{
    if (s->sending && s->sending != s->wbuf)
        free(s->sending);
    free(s->wbuf);
    s->sending = s->wbuf = NULL;
    s->wcap = s->whead = s->wlen = 0;
}

static inline unsigned send_len(const ringo_stream *s)
{
    size_t n = ringo__stream_wbuffered(s);
    return n > RINGO_STREAM_MAX_IO ? RINGO_STREAM_MAX_IO : (unsigned)n;
}

/* The send in flight has not reached the kernel yet (or, on epoll, found
 * the socket full and waits): it takes all that is buffered now, from where
 * the buffer is now. */
static void patch_send(ringo_stream *s)
{
    if (s->sstate != SEND_DATA)
        return;
    s->send_rq.io.p = s->wbuf + s->whead;
    s->send_rq.io.len = send_len(s);
    if (ringo__io_patch(s->sl->loop, &s->send_rq))
        s->sending = s->wbuf;
}

static void start_send(ringo_stream *s)
{
    ringo_loop *l = s->sl->loop;
    /* A peer that went away must be an error, never a process-killing SIGPIPE. */
    s->send_rq.io = (ringo__io){ .kind = s->is_sock ? RINGO_IO_SEND : RINGO_IO_WRITE, .fd = s->fd,
                                 .p = s->wbuf + s->whead, .len = send_len(s),
                                 .flags = s->is_sock ? MSG_NOSIGNAL : 0, .off = -1 };
    ringo__io_start(l, &s->send_rq);
    s->sending = s->wbuf;
    s->sstate = SEND_DATA;
    s->nsends++;
    l->inflight++;
}

static void start_shutdown(ringo_stream *s)
{
    s->eof_pending = false;
    if (!s->is_sock) {
        /* A pipe has no half-close: its end is closed (the reader sees
         * EOF), unless a read still uses the descriptor. */
        if (s->rstate == RECV_IDLE) {
            ringo__fd_forget(s->sl->loop, s->fd);
            close(s->fd);
            s->fd_closed = s->eof = true;
        }
        return;
    }
    ringo_loop *l = s->sl->loop;
    if (!ringo__can(l, RINGO_CAP_SHUTDOWN)) {
        (void)shutdown(s->fd, SHUT_WR);
        return;
    }
    s->send_rq.io = (ringo__io){ .kind = RINGO_IO_SHUTDOWN, .fd = s->fd, .flags = SHUT_WR };
    ringo__io_start(l, &s->send_rq);
    s->sstate = SEND_SHUTDOWN;
    l->inflight++;
}

bool ringo__stream_send_work(const ringo_stream *s)
{
    if (s->sstate != SEND_IDLE || s->werr || s->fd_closed)
        return false;
    return ringo__stream_wbuffered(s) || (s->eof_pending && !s->closing);
}

void ringo__stream_send_sync(ringo_stream *s)
{
    if (!ringo__stream_send_work(s))
        return;
    if (ringo__stream_wbuffered(s))
        start_send(s);
    else
        start_shutdown(s);
}

void ringo__stream_send_cancel(ringo_stream *s)
{
    if (!s->werr)
        s->werr = -ECANCELED;   /* nothing more is sent */
    if (s->sstate == SEND_IDLE)
        return;
    ringo__io_cancel(s->sl->loop, &s->send_rq);
}

static void wake_drainers(ringo_stream *s)
{
    for (rlist *p = s->drainers.next; p != &s->drainers; p = p->next)
        ringo__wake(rlist_entry(p, drain_waiter, link)->task);
}

static void send_complete(ringo__cqe_handler *h, int32_t res, uint32_t flags)
{
    (void)flags;
    ringo_stream *s = (ringo_stream *)((char *)h - offsetof(ringo_stream, send_rq));
    s->sl->loop->inflight--;
    if (s->sstate == SEND_SHUTDOWN) {
        s->sstate = SEND_IDLE;   /* -ENOTCONN and the like: nothing to report */
        ringo__stream_after_cqe(s);
        return;
    }
    s->sstate = SEND_IDLE;
    if (s->sending != s->wbuf)
        free(s->sending);   /* retired when wbuf grew under this send */
    s->sending = NULL;
    if (res >= 0) {
        s->whead += (size_t)res;
    } else if (res != -EINTR && res != -EAGAIN) {
        if (!s->werr)
            s->werr = res;
        s->whead = s->wlen;   /* the peer is gone: drop the queue, as asyncio */
    }
    if (s->whead == s->wlen) {
        s->whead = s->wlen = 0;
        if (s->wcap > WBUF_KEEP) {
            free(s->wbuf);
            s->wbuf = NULL;
            s->wcap = 0;
        }
    }
    if (s->wpaused && (s->werr || ringo__stream_wbuffered(s) <= RINGO_STREAM_LOW)) {
        s->wpaused = false;
        wake_drainers(s);
    }
    ringo__stream_after_cqe(s);   /* next send, shutdown, or finish a close */
}

/* Room for n more bytes at the tail of wbuf. 0 or -ENOMEM. */
static int wbuf_room(ringo_stream *s, size_t n)
{
    if (s->wcap - s->wlen >= n)
        return 0;
    size_t used = ringo__stream_wbuffered(s);
    /* The kernel may be reading wbuf: then it must stay where it is. (A
     * patch with what the send has already only asks whether it is late.) */
    bool pinned = s->sstate == SEND_DATA && s->sending == s->wbuf &&
                  !ringo__io_patch(s->sl->loop, &s->send_rq);
    if (!pinned && s->whead && s->wcap - used >= n) {
        memmove(s->wbuf, s->wbuf + s->whead, used);
    } else {
        size_t cap = s->wcap > WBUF_MIN ? s->wcap : WBUF_MIN;
        while (cap < used + n)
            cap *= 2;
        char *p = malloc(cap);
        if (!p)
            return -ENOMEM;
        if (used)
            memcpy(p, s->wbuf + s->whead, used);
        if (!pinned)
            free(s->wbuf);   /* else freed when the send completes */
        s->wbuf = p;
        s->wcap = cap;
    }
    s->whead = 0;
    s->wlen = used;
    patch_send(s);
    return 0;
}

int ringo__stream_queue(ringo_stream *s, const void *buf, size_t n)
{
    int ret = wbuf_room(s, n);
    if (ret < 0)
        return ret;
    memcpy(s->wbuf + s->wlen, buf, n);
    s->wlen += n;
    if (s->sstate == SEND_IDLE)
        start_send(s);
    else
        patch_send(s);
    if (ringo__stream_wbuffered(s) > RINGO_STREAM_HIGH)
        s->wpaused = true;
    return 0;
}

ssize_t ringo_stream_write(ringo_stream *s, const void *buf, size_t n)
{
    if (!s || (!buf && n) || n > SSIZE_MAX)
        return -EINVAL;
    if (s->werr)
        return s->werr == -ECANCELED ? -EPIPE : s->werr;
    if (s->wshut || s->fd_closed)
        return -EBADF;
    if (n == 0)
        return 0;
    if (s->tls)
        return ringo__tls_write(s, buf, n);
    int ret = ringo__stream_queue(s, buf, n);
    return ret < 0 ? ret : (ssize_t)n;
}

static void drain_cancel(ringo__wait *w)
{
    ringo__wake(((drain_waiter *)((char *)w - offsetof(drain_waiter, wait)))->task);
}

int ringo_stream_drain(ringo_stream *s)
{
    if (!s)
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    while (s->wpaused && !s->werr) {
        drain_waiter w = { .task = l->current,
                           .wait = { .cancel = drain_cancel, .describe = drain_describe },
                           .fd = s->fd };
        rlist_push(&s->drainers, &w.link);
        ret = ringo__wait_on(l, &w.wait);
        rlist_del(&w.link);
        if (ret < 0)
            return ret;
    }
    return s->werr;
}

int ringo_stream_write_eof(ringo_stream *s)
{
    if (!s)
        return -EINVAL;
    if (s->werr)
        return s->werr;
    if (s->tls)
        return -ENOTSUP;   /* as asyncio: TLS has close_notify, not half-close */
    if (s->wshut)
        return 0;
    s->wshut = s->eof_pending = true;
    ringo__stream_send_sync(s);
    return 0;
}
