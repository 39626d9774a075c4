/* The read side of a stream: the receive op and asyncio's StreamReader.
 *
 * Two receive paths. Where the kernel has them (6.0+), one multishot recv per
 * stream picks buffers from the loop's shared ring: it stays armed across
 * requests (a keep-alive request costs one CQE and no SQE), and an idle
 * stream holds no buffer of its own. A buffer that arrives while nothing is
 * buffered is kept as it is and read from in place; only when bytes pile up
 * are they gathered into the stream's own rbuf. Elsewhere (or with
 * RINGO_NO_MULTISHOT=1, or for pipes) a plain recv into rbuf is armed while a
 * reader waits.
 *
 * Backpressure: the multishot recv is cancelled once `limit` bytes are
 * buffered and no reader asks for more, and re-armed when reads drain it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/find.h"
#include "io/stream.h"
#include "io/tls_stream.h"

#define RBUF_MIN  ((size_t)4096)
#define RBUF_KEEP ((size_t)16 * 1024)      /* an empty rbuf above this is freed */
#define RECV_MAX  ((size_t)256 * 1024)

static void recv_complete(ringo__cqe_handler *h, int32_t res, uint32_t flags);

void ringo__stream_read_init(ringo_stream *s)
{
    s->pbid = -1;
    s->limit = RINGO_STREAM_LIMIT;
    s->rhint = RBUF_MIN;
    s->recv_rq.h.complete = recv_complete;
}

static inline void pbuf_put(ringo_stream *s)
{
    ringo__recv_ring_put(&s->sl->rr, (unsigned)s->pbid);
    s->pbid = -1;
    s->plen = 0;
}

void ringo__stream_read_release(ringo_stream *s)
{
    if (s->pbid >= 0)
        pbuf_put(s);
    free(s->rbuf);
    s->rbuf = NULL;
    s->rcap = s->rpos = s->rlen = 0;
}

/* Make room for `need` more bytes after the buffered ones (rbuf not in use
 * by a plain recv). 0 or -ENOMEM. */
static int rbuf_room(ringo_stream *s, size_t need)
{
    if (s->rlen == 0)
        s->rpos = 0;
    if (s->rcap - s->rpos - s->rlen >= need)
        return 0;
    if (s->rpos) {
        memmove(s->rbuf, s->rbuf + s->rpos, s->rlen);
        s->rpos = 0;
        if (s->rcap - s->rlen >= need)
            return 0;
    }
    size_t cap = s->rcap ? s->rcap : RBUF_MIN;
    while (cap < s->rlen + need)
        cap *= 2;
    char *p = realloc(s->rbuf, cap);
    if (!p)
        return -ENOMEM;
    s->rbuf = p;
    s->rcap = cap;
    return 0;
}

static int rbuf_append(ringo_stream *s, const char *p, size_t n)
{
    int ret = rbuf_room(s, n);
    if (ret == 0) {
        memcpy(s->rbuf + s->rpos + s->rlen, p, n);
        s->rlen += n;
    }
    return ret;
}

/* Move a held provided buffer's bytes into rbuf and give it back. */
static int unpin(ringo_stream *s)
{
    if (s->pbid < 0)
        return 0;
    int ret = rbuf_append(s, s->pdata, s->plen);
    if (ret == 0)
        pbuf_put(s);
    return ret;
}

/* A provided buffer `bid` came with n bytes. */
static void take_pbuf(ringo_stream *s, unsigned bid, size_t n)
{
    const char *data = ringo__recv_ring_buf(&s->sl->rr, bid);
    if (s->tls) {   /* ciphertext: OpenSSL copies it, the buffer goes back */
        ringo__tls_feed(s, data, n);
        ringo__recv_ring_put(&s->sl->rr, bid);
        return;
    }
    if (s->pbid < 0 && s->rlen == 0) {
        s->pbid = (int)bid;   /* zero-copy: read from it in place */
        s->pdata = data;
        s->plen = n;
        return;
    }
    int ret = unpin(s);
    if (ret == 0)
        ret = rbuf_append(s, data, n);
    ringo__recv_ring_put(&s->sl->rr, bid);
    if (ret < 0 && !s->rerr)
        s->rerr = ret;
}

static bool want_recv(const ringo_stream *s)
{
    if (s->eof || s->rerr || s->closing || s->fd_closed)
        return false;
    size_t b = ringo__stream_rbuffered(s);
    if (s->reader)
        return b < s->want;
    return s->ms_on && s->sl->multishot && !s->nobufs && b < s->limit;
}

/* The multishot recv should stop: closing, or over the limit with no reader
 * asking for more. */
static bool should_stop(const ringo_stream *s)
{
    if (s->closing)
        return true;
    size_t b = ringo__stream_rbuffered(s);
    return b >= s->limit && !(s->reader && b < s->want);
}

bool ringo__stream_recv_work(const ringo_stream *s)
{
    if (s->rstate == RECV_IDLE)
        return want_recv(s);
    return !s->rcancel && (s->rstate == RECV_MULTI ? should_stop(s) : s->closing);
}

void ringo__stream_recv_cancel(ringo_stream *s)
{
    if (s->rstate == RECV_IDLE || s->rcancel)
        return;
    ringo__io_cancel(s->sl->loop, &s->recv_rq);
    s->rcancel = true;
}

static void arm_multi(ringo_stream *s, ringo_loop *l)
{
    s->recv_rq.io = (ringo__io){ .kind = RINGO_IO_RECV_MULTI, .fd = s->fd, .u = RINGO_RECV_BGID };
    ringo__io_start(l, &s->recv_rq);
    s->rstate = RECV_MULTI;
    s->ms_on = true;
    l->inflight++;
}

static void arm_single(ringo_stream *s, ringo_loop *l)
{
    size_t need = s->hint < RECV_MAX ? s->hint : RECV_MAX;
    if (need < s->rhint)
        need = s->rhint;
    int ret = unpin(s);
    if (ret == 0)
        ret = rbuf_room(s, need);
    if (ret < 0) {
        s->rerr = ret;
        return;
    }
    size_t space = s->rcap - s->rpos - s->rlen;
    if (space > RINGO_STREAM_MAX_IO)
        space = RINGO_STREAM_MAX_IO;
    char *p = s->rbuf + s->rpos + s->rlen;
    if (s->tls) {   /* ciphertext goes to OpenSSL first, not to the readers */
        p = ringo__tls_cin(s);
        space = RINGO__TLS_CIN;
    }
    s->recv_rq.io = (ringo__io){ .kind = s->is_sock ? RINGO_IO_RECV : RINGO_IO_READ, .fd = s->fd,
                                 .p = p, .len = (unsigned)space, .off = -1 };
    ringo__io_start(l, &s->recv_rq);
    s->rstate = RECV_SINGLE;
    s->rsingle = space;
    l->inflight++;
}

void ringo__stream_recv_sync(ringo_stream *s)
{
    if (s->rstate != RECV_IDLE) {
        if (ringo__stream_recv_work(s))
            ringo__stream_recv_cancel(s);
        return;
    }
    if (!want_recv(s))
        return;
    ringo_loop *l = s->sl->loop;
    if (s->is_sock && !s->nobufs && ringo__streams_multishot(s->sl)) {
        arm_multi(s, l);
    } else if (s->reader) {
        s->nobufs = false;   /* one plain round, then back to the ring */
        arm_single(s, l);
    }
}

static void recv_complete(ringo__cqe_handler *h, int32_t res, uint32_t flags)
{
    ringo_stream *s = (ringo_stream *)((char *)h - offsetof(ringo_stream, recv_rq));
    bool multi = s->rstate == RECV_MULTI;
    bool more = multi && (flags & RINGO_CQE_MORE);
    if (multi && (flags & RINGO_CQE_BUFFER)) {
        unsigned bid = flags >> RINGO_CQE_BUFFER_SHIFT;
        if (res > 0 && !s->closing)
            take_pbuf(s, bid, (size_t)res);
        else
            ringo__recv_ring_put(&s->sl->rr, bid);
    } else if (!multi && res > 0 && s->tls) {
        ringo__tls_feed(s, ringo__tls_cin(s), (size_t)res);
    } else if (!multi && res > 0) {
        s->rlen += (size_t)res;
        if ((size_t)res == s->rsingle && s->rhint < RECV_MAX)
            s->rhint *= 2;   /* the socket had more: read bigger next time */
    }
    if (res == 0) {
        s->eof = true;
        if (s->tls)
            ringo__tls_eof(s);
    } else if (res < 0) {
        if (res == -ENOBUFS)
            s->nobufs = true;
        else if (res == -EINVAL && multi)
            s->sl->multishot = s->ms_on = false;   /* no IORING_RECV_MULTISHOT (< 6.0) */
        else if (res != -ECANCELED && res != -EINTR && res != -EAGAIN && !s->rerr)
            s->rerr = res;
    }
    if (!more) {
        s->rstate = RECV_IDLE;
        s->rcancel = false;
        s->sl->loop->inflight--;
    }
    if (s->reader && (ringo__stream_rbuffered(s) >= s->want || s->eof || s->rerr))
        ringo__wake(s->reader);
    ringo__stream_after_cqe(s);   /* may free s */
}

/* ---- the reader ------------------------------------------------------- */

static void reader_cancel(ringo__wait *w)
{
    ringo_stream *s = (ringo_stream *)((char *)w - offsetof(ringo_stream, rwait));
    ringo__wake(s->reader);   /* the recv runs on: what it brings stays buffered */
}

static void reader_describe(const ringo__wait *w, char *buf, size_t n)
{
    const ringo_stream *s = (const ringo_stream *)((const char *)w - offsetof(ringo_stream, rwait));
    snprintf(buf, n, "stream read fd %d", s->fd);
}

/* Suspend until `want` bytes are buffered, EOF or an error. 0, -ECANCELED,
 * -ETIMEDOUT. */
static int wait_data(ringo_stream *s, ringo_loop *l, size_t want, size_t hint)
{
    s->reader = l->current;
    s->want = want;
    s->hint = hint;
    s->rwait.cancel = reader_cancel;
    s->rwait.describe = reader_describe;
    ringo__stream_recv_sync(s);
    int ret = 0;
    if (s->rstate != RECV_IDLE)
        ret = ringo__wait_on(l, &s->rwait);
    else if (!s->rerr && !s->eof)
        ret = -EIO;   /* nothing could be armed: never wait forever */
    s->reader = NULL;
    return ret;
}

int ringo__stream_wait_data(ringo_stream *s, ringo_loop *l, size_t want)
{
    return wait_data(s, l, want, RBUF_MIN);
}

int ringo__stream_rbuf_tail(ringo_stream *s, size_t need, char **p, size_t *room)
{
    int ret = rbuf_room(s, need);
    if (ret < 0)
        return ret;
    *p = s->rbuf + s->rpos + s->rlen;
    *room = s->rcap - s->rpos - s->rlen;
    return 0;
}

static inline const char *rview(const ringo_stream *s)
{
    if (s->pbid >= 0)
        return s->pdata;
    return s->rlen ? s->rbuf + s->rpos : s->rbuf;   /* no arithmetic on NULL */
}

static void consume(ringo_stream *s, size_t k)
{
    if (s->pbid >= 0) {
        s->pdata += k;
        s->plen -= k;
        if (!s->plen)
            pbuf_put(s);
    } else {
        s->rpos += k;
        s->rlen -= k;
        if (!s->rlen && s->rstate != RECV_SINGLE) {
            s->rpos = 0;
            if (s->rcap > RBUF_KEEP) {   /* idle streams keep little memory */
                free(s->rbuf);
                s->rbuf = NULL;
                s->rcap = 0;
            }
        }
    }
    if (RINGO_UNLIKELY(s->rstate == RECV_IDLE) && want_recv(s))
        ringo__stream_recv_sync(s);   /* back under the limit: read ahead again */
}

void ringo__stream_drop_read(ringo_stream *s)
{
    size_t b = ringo__stream_rbuffered(s);
    if (b)
        consume(s, b);
}

static int enter_reader(ringo_stream *s, ringo_loop **lp)
{
    int ret = ringo__enter(lp);
    if (ret < 0)
        return ret;
    if (s->reader)
        return -EBUSY;   /* one reader at a time, as asyncio */
    if (s->closing)
        return -EBADF;
    return 0;
}

ssize_t ringo_stream_read(ringo_stream *s, void *buf, size_t n)
{
    if (!s || (!buf && n))
        return -EINVAL;
    ringo_loop *l;
    int ret = enter_reader(s, &l);
    if (ret < 0)
        return ret;
    if (n == 0)
        return 0;
    for (;;) {
        size_t b = ringo__stream_rbuffered(s);
        if (b) {
            size_t k = b < n ? b : n;
            memcpy(buf, rview(s), k);
            consume(s, k);
            return (ssize_t)k;
        }
        if (s->rerr)
            return s->rerr;
        if (s->eof)
            return 0;
        if ((ret = wait_data(s, l, 1, n)) < 0)
            return ret;
    }
}

ssize_t ringo_stream_readexactly(ringo_stream *s, void *buf, size_t n)
{
    if (!s || (!buf && n) || n > SSIZE_MAX)
        return -EINVAL;
    ringo_loop *l;
    int ret = enter_reader(s, &l);
    if (ret < 0 || n == 0)
        return ret;
    for (;;) {
        size_t b = ringo__stream_rbuffered(s);
        if (b >= n) {
            memcpy(buf, rview(s), n);
            consume(s, n);
            return (ssize_t)n;
        }
        if (s->rerr)
            return s->rerr;
        if (s->eof)
            return -ENODATA;
        if ((ret = wait_data(s, l, n, n - b)) < 0)
            return ret;
    }
}

ssize_t ringo_stream_readuntil(ringo_stream *s, const void *sep, size_t seplen, void *buf,
                               size_t cap)
{
    if (!s || !sep || !seplen || (!buf && cap))
        return -EINVAL;
    ringo_loop *l;
    int ret = enter_reader(s, &l);
    if (ret < 0)
        return ret;
    size_t bound = cap < s->limit ? cap : s->limit;
    if (bound > SSIZE_MAX)
        bound = SSIZE_MAX;
    size_t scanned = 0;   /* no match ends within the first `scanned` bytes */
    for (;;) {
        size_t b = ringo__stream_rbuffered(s);
        size_t end = b < bound ? b : bound;
        size_t from = scanned >= seplen ? scanned - seplen + 1 : 0;
        const char *v = rview(s);
        const char *m = end > from ? ringo__find(v + from, end - from, sep, seplen) : NULL;
        if (m) {
            size_t k = (size_t)(m - v) + seplen;
            memcpy(buf, v, k);
            consume(s, k);
            return (ssize_t)k;
        }
        scanned = end;
        if (b >= bound)
            return -EMSGSIZE;   /* LimitOverrunError: the bytes stay buffered */
        if (s->rerr)
            return s->rerr;
        if (s->eof)
            return -ENODATA;    /* IncompleteReadError: likewise */
        /* Wait without pinning a shared buffer: a slow sender must not be
         * able to starve the ring. */
        if ((ret = unpin(s)) < 0 || (ret = wait_data(s, l, b + 1, 0)) < 0)
            return ret;
    }
}

ssize_t ringo_stream_readline(ringo_stream *s, void *buf, size_t cap)
{
    return ringo_stream_readuntil(s, "\n", 1, buf, cap);
}
