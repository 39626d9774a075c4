/* Receiving on a UDP endpoint (see dgram.h): the multishot recvmsg into the
 * endpoint's buffer ring, the queue of what arrived, the plain path, and
 * ringo_dgram_recv. */
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/dgram.h"

_Static_assert(DGRAM_BUFS * sizeof(struct io_uring_buf) % 4096 == 0, "the buffers start on a page");

/* A multishot stopped for want of buffers resumes once half are free
 * again: resuming at the first one back would cost an SQE and a failed
 * completion per datagram while a backlog drains. */
#define RESUME_AT (DGRAM_BUFS / 2)

static void ms_complete(ringo__cqe_handler *h, int32_t res, uint32_t flags);

static char *buf_at(const ringo_dgram *d, unsigned bid)
{
    return ringo__recv_ring_buf(&d->rr, bid);
}

/* Map and register the endpoint's ring: 0 or -errno, having done nothing. */
static int ring_setup(ringo_dgram *d, ringo_loop *l)
{
    int bgid = ringo__dgram_bgid_get(d->dl);
    if (bgid < 0)
        return bgid;
    int ret = ringo__recv_ring_init(l, &d->rr, (unsigned)bgid, DGRAM_BUFS, DGRAM_BUF_SIZE);
    if (ret < 0) {
        ringo__dgram_bgid_put(d->dl, (unsigned)bgid);
        return ret;
    }
    d->bgid = (unsigned)bgid;
    d->tmpl = (struct msghdr){ .msg_namelen = DGRAM_NAME, .msg_controllen = DGRAM_CTL };
    return 0;
}

static void arm(ringo_dgram *d, ringo_loop *l)
{
    d->rq.h.complete = ms_complete;
    /* MSG_TRUNC: the header's payloadlen is the datagram's full length. */
    d->rq.io = (ringo__io){ .kind = RINGO_IO_RECVMSG_MULTI, .fd = d->fd, .p = &d->tmpl,
                            .u = d->bgid, .flags = MSG_TRUNC };
    ringo__io_start(l, &d->rq);
    d->armed = true;
    d->stalled = false;
    l->inflight++;
}

static void buf_put(ringo_dgram *d, unsigned bid)
{
    ringo__recv_ring_put(&d->rr, bid);
    d->held--;
    if (d->stalled && d->held <= RESUME_AT && !d->armed && !d->closed)
        arm(d, d->loop);   /* it stopped for want of buffers */
}

/* ---- the queue ----------------------------------------------------------- */

static int q_push(ringo_dgram *d, const dgram_chunk *c)
{
    if (d->qlen == d->qcap) {
        size_t cap = d->qcap ? d->qcap * 2 : DGRAM_BUFS;
        dgram_chunk *q = malloc(cap * sizeof *q);
        if (!q)
            return -ENOMEM;
        for (size_t i = 0; i < d->qlen; i++)
            q[i] = d->q[(d->qhead + i) % d->qcap];
        free(d->q);
        d->q = q;
        d->qcap = cap;
        d->qhead = 0;
    }
    d->q[(d->qhead + d->qlen) % d->qcap] = *c;
    d->qlen++;
    return 0;
}

static void q_pop(ringo_dgram *d)
{
    dgram_chunk c = d->q[d->qhead];
    d->qhead = (d->qhead + 1) % d->qcap;
    d->qlen--;
    if (c.bid >= 0)
        buf_put(d, (unsigned)c.bid);
    free(c.heap);
}

static void wake_reader(ringo_dgram *d)
{
    if (rlist_empty(&d->readers))
        return;
    dgram_user *u = rlist_entry(d->readers.next, dgram_user, rlink);
    rlist_del(&u->rlink);
    ringo__wake(u->task);
}

static void wake_all(ringo_dgram *d)
{
    while (!rlist_empty(&d->readers))
        wake_reader(d);
}

static int push_err(ringo_dgram *d, int err)
{
    dgram_chunk c = { .bid = -1, .err = err };
    return q_push(d, &c);
}

/* The segment size of a GRO run (a UDP_GRO cmsg), or 0. */
static uint32_t gro_seg(struct cmsghdr *cm)
{
    int seg = 0;
    if (cm && cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO)
        memcpy(&seg, CMSG_DATA(cm), sizeof seg);
    return seg > 0 ? (uint32_t)seg : 0;
}

/* ---- the multishot recvmsg ---------------------------------------------- */

static int queue_buf(ringo_dgram *d, unsigned bid, int32_t res)
{
    struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf_at(d, bid), res, &d->tmpl);
    if (!o)
        return -EINVAL;
    dgram_chunk c = { .bid = (int)bid, .name = io_uring_recvmsg_name(o),
                      .namelen = o->namelen < DGRAM_NAME ? o->namelen : DGRAM_NAME,
                      .data = io_uring_recvmsg_payload(o, &d->tmpl),
                      .left = io_uring_recvmsg_payload_length(o, res, &d->tmpl) };
    c.full = o->payloadlen > c.left ? o->payloadlen : c.left;
    for (struct cmsghdr *cm = io_uring_recvmsg_cmsg_firsthdr(o, &d->tmpl); cm && !c.seg;
         cm = io_uring_recvmsg_cmsg_nexthdr(o, &d->tmpl, cm))
        c.seg = gro_seg(cm);
    return q_push(d, &c);
}

/* What the kernel reports for an earlier send (asyncio's error_received):
 * once each, and the socket receives on. */
static bool icmp_error(int32_t res)
{
    return res == -ECONNREFUSED || res == -EHOSTUNREACH || res == -ENETUNREACH ||
           res == -EHOSTDOWN || res == -EMSGSIZE || res == -EPROTO;
}

static void ms_complete(ringo__cqe_handler *h, int32_t res, uint32_t flags)
{
    ringo_dgram *d = (ringo_dgram *)((char *)h - offsetof(ringo_dgram, rq));
    ringo_loop *l = d->loop;
    /* Stopped by the kernel, not by us (we cancel only at close): go on. */
    bool rearm = res >= 0 || icmp_error(res) || res == -ECANCELED || res == -EINTR;
    if (flags & RINGO_CQE_BUFFER) {
        unsigned bid = flags >> RINGO_CQE_BUFFER_SHIFT;
        d->held++;
        if (d->closed || res < 0 || queue_buf(d, bid, res) < 0)
            buf_put(d, bid);   /* UDP may drop; a queue without memory does */
    } else if (res == -ENOBUFS) {
        /* Enough buffers given back since the kernel looked: go on. */
        rearm = d->held <= RESUME_AT;
        d->stalled = !rearm;
    } else if (res == -EINVAL && !d->held && !d->qlen) {
        d->ms = d->dl->multishot = false;   /* the kernel has no multishot recvmsg */
    } else if (res < 0 && res != -ECANCELED && res != -EINTR && !d->closed) {
        (void)push_err(d, res);   /* ICMP errors re-arm; others at the next receive */
    }
    if (!(flags & RINGO_CQE_MORE)) {
        d->armed = false;
        l->inflight--;
        if (d->closed) {
            if (d->closer)
                ringo__wake(d->closer);
            return;
        }
        if (rearm && d->ms)
            arm(d, l);
    }
    if (d->closed)
        return;
    if (d->ms)
        wake_reader(d);
    else
        wake_all(d);   /* they go the plain way */
}

/* ---- readers ------------------------------------------------------------- */

static void reader_describe(const ringo__wait *w, char *buf, size_t n)
{
    (void)w;
    snprintf(buf, n, "datagram recv (multishot)");
}

static void reader_cancel(ringo__wait *w)
{
    dgram_user *u = (dgram_user *)((char *)w - offsetof(dgram_user, own));
    rlist_del(&u->rlink);
    ringo__wake(u->task);   /* what arrives meanwhile stays queued */
}

/* The plain path with GRO: one recvmsg into a chunk of our own (a GRO run
 * does not fit the caller's buffer), queued for splitting. */
static int plain_chunk(ringo_dgram *d, ringo_loop *l, dgram_user *u)
{
    char *h = malloc(DGRAM_NAME + DGRAM_CTL + DGRAM_ROOM);
    if (!h)
        return -ENOMEM;
    struct iovec iov = { .iov_base = h + DGRAM_NAME + DGRAM_CTL, .iov_len = DGRAM_ROOM };
    struct msghdr msg = { .msg_name = h, .msg_namelen = DGRAM_NAME, .msg_iov = &iov,
                          .msg_iovlen = 1, .msg_control = h + DGRAM_NAME,
                          .msg_controllen = DGRAM_CTL };
    ringo__op op;
    op.rq.io = (ringo__io){ .kind = RINGO_IO_RECVMSG, .fd = d->fd, .p = &msg, .flags = MSG_TRUNC };
    u->w = &op.wait;
    ssize_t r = ringo__io_wait(l, &op);
    u->w = NULL;
    if (u->closed || r < 0) {
        free(h);
        return u->closed ? -EBADF : (int)r;
    }
    dgram_chunk c = { .heap = h, .bid = -1, .name = h, .namelen = msg.msg_namelen,
                      .data = iov.iov_base, .full = (uint32_t)r,
                      .left = r < DGRAM_ROOM ? (uint32_t)r : DGRAM_ROOM,
                      .seg = gro_seg(CMSG_FIRSTHDR(&msg)) };
    if (q_push(d, &c) < 0) {
        free(h);
        return -ENOMEM;
    }
    return 0;
}

int ringo__dgram_wait(ringo_dgram *d, ringo_loop *l, dgram_user *u)
{
    for (;;) {
        if (d->qlen)
            return 1;
        if (!d->ms) {
            if (!d->gro)
                return 0;
            int ret = plain_chunk(d, l, u);
            if (ret < 0)
                return ret;
            continue;
        }
        if (!d->bgid && ring_setup(d, l) < 0) {
            d->ms = false;   /* no ring here (before 5.19, or no memory) */
            continue;
        }
        if (!d->armed)
            arm(d, l);
        u->own.cancel = reader_cancel;
        u->own.describe = reader_describe;
        u->w = &u->own;
        rlist_push(&d->readers, &u->rlink);
        int ret = ringo__wait_on(l, &u->own);
        rlist_del(&u->rlink);   /* unlinked already, or still linked (a timer woke it) */
        u->w = NULL;
        if (u->closed)
            return -EBADF;
        if (ret < 0)
            return ret;
    }
}

ssize_t ringo__dgram_take(ringo_dgram *d, void *buf, size_t cap, struct sockaddr_storage *from,
                          socklen_t *fromlen)
{
    dgram_chunk *c = &d->q[d->qhead];
    if (c->err) {
        int err = c->err;
        q_pop(d);
        return err;
    }
    size_t n = c->seg && c->seg < c->left ? c->seg : c->left;
    size_t full = c->seg ? n : c->full;
    size_t k = n < cap ? n : cap;
    if (k)
        memcpy(buf, c->data, k);
    if (from) {
        memset(from, 0, sizeof *from);
        memcpy(from, c->name, c->namelen);
    }
    if (fromlen)
        *fromlen = c->namelen;
    c->data += n;
    c->left -= (uint32_t)n;
    if (!c->seg || !c->left)
        q_pop(d);
    return (ssize_t)full;
}

ssize_t ringo__dgram_plain(ringo_dgram *d, ringo_loop *l, dgram_user *u, void *buf, size_t cap,
                           struct sockaddr_storage *from, socklen_t *fromlen)
{
    struct iovec iov = { .iov_base = buf, .iov_len = cap < DGRAM_ROOM ? cap : DGRAM_ROOM };
    struct sockaddr_storage ss;
    struct msghdr msg = { .msg_name = from ? from : &ss, .msg_namelen = sizeof ss,
                          .msg_iov = &iov, .msg_iovlen = 1 };
    ringo__op op;
    op.rq.io = (ringo__io){ .kind = RINGO_IO_RECVMSG, .fd = d->fd, .p = &msg, .flags = MSG_TRUNC };
    u->w = &op.wait;
    ssize_t r = ringo__io_wait(l, &op);
    u->w = NULL;
    if (u->closed)
        return r >= 0 ? r : -EBADF;
    if (r >= 0 && fromlen)
        *fromlen = msg.msg_namelen;
    return r;
}

ssize_t ringo_dgram_recv(ringo_dgram *d, void *buf, size_t cap, struct sockaddr_storage *from,
                         socklen_t *fromlen)
{
    if (!d || (!buf && cap))
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    if (d->closed || d->loop != l)
        return d->closed ? -EBADF : -EINVAL;
    dgram_user u;
    ringo__dgram_enter(d, &u, l->current);
    ssize_t r = ringo__dgram_wait(d, l, &u);
    if (r == 0)
        r = ringo__dgram_plain(d, l, &u, buf, cap, from, fromlen);
    else if (r > 0)
        r = ringo__dgram_take(d, buf, cap, from, fromlen);
    ringo__dgram_leave(d, &u);
    return r;
}

static void closing_describe(const ringo__wait *w, char *buf, size_t n)
{
    (void)w;
    snprintf(buf, n, "datagram close: the multishot's last completion");
}

static void noop_cancel(ringo__wait *w)
{
    (void)w;   /* the multishot's last completion wakes the closer */
}

void ringo__dgram_recv_stop(ringo_dgram *d, ringo_loop *l, bool in_task)
{
    if (d->armed) {
        ringo__io_cancel(l, &d->rq);
        d->closer = in_task ? l->current : NULL;
        ringo__wait w = { .cancel = noop_cancel, .describe = closing_describe };
        /* The kernel writes into the buffers until that completion. */
        while (d->armed) {
            if (in_task)
                ringo__suspend(l, &w);
            else
                ringo__step(l, true);
        }
    }
    while (d->qlen)
        q_pop(d);
    if (d->bgid) {
        ringo__recv_ring_exit(l, &d->rr);
        ringo__dgram_bgid_put(d->dl, d->bgid);
        d->bgid = 0;
    }
}
