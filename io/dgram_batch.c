/* Many datagrams per call on a UDP endpoint: recv_many takes what has
 * arrived (splitting GRO runs), send_many sends runs of equal-sized
 * datagrams to one address as one UDP GSO sendmsg. */
#include <netinet/udp.h>
#include <string.h>

#include "io/dgram.h"

#define GSO_SEGS 64u    /* UDP_MAX_SEGMENTS before 6.x kernels raised it */
#define MMSG_BATCH 64u

static int check_msgs(const ringo_dgram *d, const ringo_dgram_msg *msgs, size_t n, bool send)
{
    if (!d || !msgs || !n)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((!msgs[i].buf && msgs[i].len) ||
            (send && msgs[i].addrlen > sizeof(struct sockaddr_storage)))
            return -EINVAL;
    return 0;
}

static int enter(ringo_dgram *d, ringo_loop **l)
{
    int ret = ringo__enter(l);
    if (ret < 0)
        return ret;
    if (d->closed)
        return -EBADF;
    return d->loop == *l ? 0 : -EINVAL;
}

/* The plain path: after the first datagram, what else is there, without
 * waiting (recvmmsg as the epoll backend would do it). */
static size_t plain_more(ringo_dgram *d, ringo_dgram_msg *msgs, size_t n)
{
    size_t done = 0;
    while (done < n) {
        struct mmsghdr mm[MMSG_BATCH];
        struct iovec iov[MMSG_BATCH];
        unsigned k = n - done < MMSG_BATCH ? (unsigned)(n - done) : MMSG_BATCH;
        for (unsigned i = 0; i < k; i++) {
            ringo_dgram_msg *m = &msgs[done + i];
            iov[i] = (struct iovec){ .iov_base = m->buf,
                                     .iov_len = m->len < DGRAM_ROOM ? m->len : DGRAM_ROOM };
            mm[i].msg_hdr = (struct msghdr){ .msg_name = &m->addr, .msg_namelen = sizeof m->addr,
                                             .msg_iov = &iov[i], .msg_iovlen = 1 };
        }
        int got = recvmmsg(d->fd, mm, k, MSG_DONTWAIT | MSG_TRUNC, NULL);
        if (got <= 0)
            break;   /* nothing more now; an error shows at the next call */
        for (int i = 0; i < got; i++) {
            msgs[done + i].len = mm[i].msg_len;
            msgs[done + i].addrlen = mm[i].msg_hdr.msg_namelen;
        }
        done += (size_t)got;
        if ((unsigned)got < k)
            break;
    }
    return done;
}

ssize_t ringo_dgram_recv_many(ringo_dgram *d, ringo_dgram_msg *msgs, size_t n)
{
    int ret = check_msgs(d, msgs, n, false);
    ringo_loop *l;
    if (ret < 0 || (ret = enter(d, &l)) < 0)
        return ret;
    dgram_user u;
    ringo__dgram_enter(d, &u, l->current);
    ssize_t r = ringo__dgram_wait(d, l, &u);
    if (r == 0) {
        r = ringo__dgram_plain(d, l, &u, msgs[0].buf, msgs[0].len, &msgs[0].addr,
                               &msgs[0].addrlen);
        if (r >= 0) {
            msgs[0].len = (size_t)r;
            r = 1 + (u.closed ? 0 : (ssize_t)plain_more(d, msgs + 1, n - 1));
        }
    } else if (r > 0) {
        /* An error waits for the next call unless it is all there is. */
        if (ringo__dgram_head_err(d)) {
            r = ringo__dgram_take(d, NULL, 0, NULL, NULL);
        } else {
            size_t k = 0;
            for (; k < n && d->qlen && !ringo__dgram_head_err(d); k++) {
                ringo_dgram_msg *m = &msgs[k];
                m->len = (size_t)ringo__dgram_take(d, m->buf, m->len, &m->addr, &m->addrlen);
            }
            r = (ssize_t)k;
        }
    }
    ringo__dgram_leave(d, &u);
    return r;
}

static bool same_dest(const ringo_dgram_msg *a, const ringo_dgram_msg *b)
{
    return a->addrlen == b->addrlen && !memcmp(&a->addr, &b->addr, a->addrlen);
}

/* How many of m[0, n) go as one GSO send: equal lengths to one address,
 * the last maybe shorter, within the segment and size limits. */
static size_t run_len(const ringo_dgram *d, const ringo_dgram_msg *m, size_t n)
{
    size_t seg = m[0].len, total = seg, k = 1;
    if (d->no_gso || seg == 0 || seg > DGRAM_MAX)
        return 1;
    while (k < n && k < GSO_SEGS && same_dest(&m[0], &m[k]) && m[k].len && m[k].len <= seg &&
           total + m[k].len <= DGRAM_MAX) {
        total += m[k].len;
        if (m[k++].len < seg)
            break;
    }
    return k;
}

/* One sendmsg of m[0, k): with seg, a UDP_SEGMENT cmsg cutting it there. */
static ssize_t send_run(ringo_dgram *d, ringo_loop *l, dgram_user *u, const ringo_dgram_msg *m,
                        size_t k, size_t seg)
{
    struct iovec iov[GSO_SEGS];
    for (size_t i = 0; i < k; i++)
        iov[i] = (struct iovec){ .iov_base = m[i].buf, .iov_len = m[i].len };
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = { .msg_name = m[0].addrlen ? (void *)&m[0].addr : NULL,
                          .msg_namelen = m[0].addrlen, .msg_iov = iov, .msg_iovlen = k };
    if (seg) {
        memset(&ctl, 0, sizeof ctl);
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof ctl.buf;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t s = (uint16_t)seg;
        memcpy(CMSG_DATA(cm), &s, sizeof s);
    }
    ringo__op op;
    op.rq.io = (ringo__io){ .kind = RINGO_IO_SENDMSG, .fd = d->fd, .p = &msg,
                            .flags = MSG_NOSIGNAL };
    u->w = &op.wait;
    ssize_t r = ringo__io_wait(l, &op);
    u->w = NULL;
    return r;
}

/* What a kernel or device without UDP GSO answers (no checksum offload:
 * EIO; no UDP_SEGMENT: ENOPROTOOPT or EINVAL). */
static bool gso_refused(ssize_t r)
{
    return r == -EIO || r == -EINVAL || r == -ENOPROTOOPT;
}

ssize_t ringo_dgram_send_many(ringo_dgram *d, const ringo_dgram_msg *msgs, size_t n)
{
    int ret = check_msgs(d, msgs, n, true);
    ringo_loop *l;
    if (ret < 0 || (ret = enter(d, &l)) < 0)
        return ret;
    dgram_user u;
    ringo__dgram_enter(d, &u, l->current);
    size_t i = 0;
    ssize_t r = 0;
    while (i < n) {
        size_t k = run_len(d, msgs + i, n - i);
        r = send_run(d, l, &u, msgs + i, k, k > 1 ? msgs[i].len : 0);
        if (u.closed)
            return i ? (ssize_t)i : -EBADF;
        if (k > 1 && gso_refused(r)) {
            /* GSO's fault if the first goes alone; then never again here. */
            k = 1;
            r = send_run(d, l, &u, msgs + i, 1, 0);
            if (u.closed)
                return i ? (ssize_t)i : -EBADF;
            if (r >= 0)
                d->no_gso = true;
        }
        if (r < 0)
            break;
        i += k;
    }
    ringo__dgram_leave(d, &u);
    return i ? (ssize_t)i : r;
}
