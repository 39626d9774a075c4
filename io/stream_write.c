/* The write side of a stream: asyncio's StreamWriter over a stream-owned
 * send op.
 *
 * ringo_stream_write copies into wbuf and never suspends. One send carries
 * everything queued: bytes written while a send is prepared but not yet
 * submitted are added to that same SQE (it is patched in place; the kernel
 * reads an SQE only when it is submitted), and bytes written while a send is
 * in flight go out with the next one, started by the completion. Short sends
 * resume where they stopped.
 *
 * With RINGO_CFG_SEND_ZC, a send of RINGO_SEND_ZC_MIN bytes or more is a
 * zero-copy one (where the kernel has it): the kernel holds the pages past
 * the result, which says so with RINGO_CQE_MORE, until a second completion,
 * the notification. Until then the buffer is held as a submitted send's is
 * (not moved, not freed) and is not reused from its start either; the next
 * sends go out meanwhile (waiting would cost a round trip each). The
 * notification names only the op, so each zero-copy send has a slot of its
 * own (zc[]) that says which buffer it lets go; with none free, a send is a
 * plain one. The stream is freed only after the last notification. */
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
static void zc_complete(ringo__cqe_handler *h, int32_t res, uint32_t flags);

void ringo__stream_write_init(ringo_stream *s)
{
    rlist_init(&s->drainers);
    s->send_rq.h.complete = send_complete;
    s->srq = &s->send_rq;
}

void ringo__stream_write_release(ringo_stream *s)
{
    if (s->sending && s->sending != s->wbuf)
        free(s->sending);
    free(s->wbuf);
    free(s->zc);   /* no notification is to come: the stream is not busy */
    s->zc = NULL;
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
    s->srq->io.p = s->wbuf + s->whead;
    s->srq->io.len = send_len(s);
    if (ringo__io_patch(s->sl->loop, s->srq))
        s->sending = s->wbuf;
}

/* Whether a zero-copy send's notification is still to release b. */
static bool zc_holds(const ringo_stream *s, const char *b)
{
    for (unsigned i = 0; b && s->znotif && i < RINGO_ZC_SLOTS; i++)
        if (s->zc[i].held == b)
            return true;
    return false;
}

/* The kernel reads wbuf now (a submitted send) or may yet (a zero-copy
 * send's pages): it stays where it is, and what was sent from it is not
 * overwritten. (A patch with what the send has already only asks whether
 * it is late.) */
static bool wbuf_held(ringo_stream *s)
{
    return zc_holds(s, s->wbuf) ||
           (s->sstate == SEND_DATA && s->sending == s->wbuf && !ringo__io_patch(s->sl->loop, s->srq));
}

/* A buffer wbuf no longer is goes once no send reads it. */
static void retire(ringo_stream *s, char *b)
{
    if (b != s->wbuf && b != s->sending && !zc_holds(s, b))
        free(b);
}

/* A free zero-copy slot for a send of len bytes, or NULL: a plain send. */
static ringo__zc_send *zc_slot(ringo_stream *s, unsigned len)
{
    if (len < RINGO_SEND_ZC_MIN || !s->is_sock || !s->sl->send_zc || s->zc_off)
        return NULL;
    if (!s->zc) {
        if (!(s->zc = calloc(RINGO_ZC_SLOTS, sizeof *s->zc)))
            return NULL;
        for (unsigned i = 0; i < RINGO_ZC_SLOTS; i++) {
            s->zc[i].rq.h.complete = zc_complete;
            s->zc[i].s = s;
        }
    }
    for (unsigned i = 0; i < RINGO_ZC_SLOTS; i++)
        if (!s->zc[i].held)
            return &s->zc[i];
    return NULL;
}

static void start_send(ringo_stream *s)
{
    ringo_loop *l = s->sl->loop;
    unsigned len = send_len(s);
    ringo__zc_send *z = zc_slot(s, len);
    s->szc = z != NULL;
    s->srq = z ? &z->rq : &s->send_rq;
    /* A peer that went away must be an error, never a process-killing SIGPIPE. */
    s->srq->io = (ringo__io){ .kind = z ? RINGO_IO_SEND_ZC : s->is_sock ? RINGO_IO_SEND : RINGO_IO_WRITE,
                              .fd = s->fd, .p = s->wbuf + s->whead, .len = len,
                              .flags = s->is_sock ? MSG_NOSIGNAL : 0, .off = -1 };
    ringo__io_start(l, s->srq);
    s->sending = s->wbuf;
    s->sstate = SEND_DATA;
    s->nsends++;
    s->nzc += s->szc;
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
    s->szc = false;
    s->srq = &s->send_rq;
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
    /* The kernel lets a zero-copy send's pages go once they are acknowledged
     * or dropped; a peer that does not read would hold them (and the loop's
     * close) forever. Connecting a TCP socket to AF_UNSPEC resets it and
     * frees its queues, and the notifications come. */
    if (s->znotif || (s->sstate == SEND_DATA && s->szc)) {
        struct sockaddr sa = { .sa_family = AF_UNSPEC };
        (void)connect(s->fd, &sa, sizeof sa);
    }
    if (s->sstate == SEND_IDLE)
        return;
    ringo__io_cancel(s->sl->loop, s->srq);
}

static void wake_drainers(ringo_stream *s)
{
    for (rlist *p = s->drainers.next; p != &s->drainers; p = p->next)
        ringo__wake(rlist_entry(p, drain_waiter, link)->task);
}

static void sent(ringo_stream *s, int32_t res)
{
    s->sstate = SEND_IDLE;
    char *b = s->sending;
    s->sending = NULL;
    retire(s, b);   /* when wbuf grew under this send */
    if (res >= 0) {
        s->whead += (size_t)res;
    } else if (res != -EINTR && res != -EAGAIN) {
        if (!s->werr)
            s->werr = res;
        s->whead = s->wlen;   /* the peer is gone: drop the queue, as asyncio */
    }
    if (s->whead == s->wlen) {
        bool held = zc_holds(s, s->wbuf);
        s->whead = s->wlen = 0;
        if (held || s->wcap > WBUF_KEEP) {
            b = s->wbuf;
            s->wbuf = NULL;
            s->wcap = 0;
            retire(s, b);   /* a held one at its notification */
        }
    }
    if (s->wpaused && (s->werr || ringo__stream_wbuffered(s) <= RINGO_STREAM_LOW)) {
        s->wpaused = false;
        wake_drainers(s);
    } else if (!ringo__stream_wbuffered(s)) {
        wake_drainers(s);   /* ringo__stream_flush waits for this */
    }
    ringo__stream_after_cqe(s);   /* next send, shutdown, or finish a close */
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
    sent(s, res);
}

/* The kernel posts a zero-copy send's notification after its result. The
 * op stays counted in inflight until the notification: a task that closes
 * the stream waits for it, and is not deadlocked. */
static void zc_complete(ringo__cqe_handler *h, int32_t res, uint32_t flags)
{
    ringo__zc_send *z = (ringo__zc_send *)((char *)h - offsetof(ringo__zc_send, rq));
    ringo_stream *s = z->s;
    if (flags & RINGO_CQE_NOTIF) {
        char *b = z->held;
        z->held = NULL;
        s->znotif--;
        s->sl->loop->inflight--;
        retire(s, b);
        ringo__stream_after_cqe(s);   /* may finish a close */
        return;
    }
    if (flags & RINGO_CQE_MORE) {
        z->held = s->sending;
        s->znotif++;
    } else {
        s->sl->loop->inflight--;
    }
    if (res == -EOPNOTSUPP) {
        s->zc_off = true;   /* a socket without zero-copy (AF_UNIX): nothing was sent */
        res = -EAGAIN;
    }
    sent(s, res);
}

/* Room for n more bytes at the tail of wbuf. 0 or -ENOMEM. */
static int wbuf_room(ringo_stream *s, size_t n)
{
    if (s->wcap - s->wlen >= n)
        return 0;
    size_t used = ringo__stream_wbuffered(s);
    bool pinned = wbuf_held(s);
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
            free(s->wbuf);   /* else when the send or its notification completes */
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

void ringo__stream_send_inline(ringo_stream *s)
{
    /* A zero-copy send keeps its bytes: it was chosen for their size. */
    if (!s->is_sock || s->sstate != SEND_DATA || s->werr || s->szc)
        return;
    unsigned len = s->srq->io.len;
    s->srq->io.len = 0;
    if (!ringo__io_patch(s->sl->loop, s->srq)) {
        s->srq->io.len = len;   /* gone to the kernel: it sends them */
        return;
    }
    ssize_t n = send(s->fd, s->wbuf + s->whead, ringo__stream_wbuffered(s),
                     MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0)
        s->whead += (size_t)n;
    if (ringo__stream_wbuffered(s))
        patch_send(s);   /* the op takes the rest; an error is its to report */
}

int ringo__stream_flush(ringo_stream *s, ringo_loop *l)
{
    /* Drainers are woken whenever the queue empties; drain's own loop
     * waits again if it was not its mark. A send op left with nothing to
     * carry (ringo__stream_send_inline) need not be waited for. */
    while (ringo__stream_wbuffered(s) && !s->werr) {
        drain_waiter w = { .task = l->current, .wait = { .cancel = drain_cancel } };
        rlist_push(&s->drainers, &w.link);
        int ret = ringo__wait_on(l, &w.wait);
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
