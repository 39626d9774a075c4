/* UDP endpoints (asyncio's create_datagram_endpoint): opening, sending,
 * closing, and the per-loop list that loop close sweeps. Receiving is in
 * dgram_ring.c, the many-datagram calls in dgram_batch.c.
 *
 * Sockets are blocking and close-on-exec, as the streams' (io/conn.c): the
 * backends try each op without blocking first. */
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/dgram.h"
#include "io/server.h"
#include "io/stream.h"

/* What a burst may queue in the kernel before datagrams are dropped. */
#define SOCK_BUF (4 << 20)

static __thread dgram_loop *tls_dl;

static void endpoint_free(ringo_dgram *d, ringo_loop *l, bool in_task);

/* Loop close: every task is done; endpoints nobody closed are closed now. */
static void dgrams_close(ringo__closer *c, ringo_loop *l)
{
    dgram_loop *dl = (dgram_loop *)c;
    while (!rlist_empty(&dl->all))
        endpoint_free(rlist_entry(dl->all.next, ringo_dgram, link), l, false);
    if (tls_dl == dl)
        tls_dl = NULL;
    free(dl->free_bgid);
    free(dl);
}

static dgram_loop *dgrams_get(ringo_loop *l)
{
    dgram_loop *dl = tls_dl;
    if (RINGO_LIKELY(dl && dl->loop == l))
        return dl;
    if (!(dl = calloc(1, sizeof *dl)))
        return NULL;
    dl->loop = l;
    rlist_init(&dl->all);
    dl->multishot = ringo__can(l, RINGO_CAP_RECVMSG_MULTI) && !ringo__env_no_multishot();
    dl->next_bgid = DGRAM_BGID_BASE;
    dl->closer.close = dgrams_close;
    ringo__at_close(l, &dl->closer);
    tls_dl = dl;
    return dl;
}

int ringo__dgram_bgid_get(dgram_loop *dl)
{
    if (dl->nfree)
        return (int)dl->free_bgid[--dl->nfree];
    if (dl->next_bgid > UINT16_MAX)
        return -ENOBUFS;
    return (int)dl->next_bgid++;
}

void ringo__dgram_bgid_put(dgram_loop *dl, unsigned bgid)
{
    if (dl->nfree == dl->capfree) {
        size_t cap = dl->capfree ? dl->capfree * 2 : 16;
        unsigned *p = realloc(dl->free_bgid, cap * sizeof *p);
        if (!p)
            return;   /* the id is not reused; there are 65 000 */
        dl->free_bgid = p;
        dl->capfree = cap;
    }
    dl->free_bgid[dl->nfree++] = bgid;
}

void ringo__dgram_enter(ringo_dgram *d, dgram_user *u, ringo_task *t)
{
    u->task = t;
    u->w = NULL;
    u->closed = false;
    rlist_init(&u->rlink);
    rlist_push(&d->users, &u->link);
}

void ringo__dgram_leave(ringo_dgram *d, dgram_user *u)
{
    (void)d;
    if (!u->closed)
        rlist_del(&u->link);
}

/* ---- opening ------------------------------------------------------------ */

static void grow_buffers(int fd)
{
    /* FORCE passes rmem_max/wmem_max where we may (root); else the cap. */
    int sz = SOCK_BUF;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
}

static int new_socket(int family, bool reuse, int v6only)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    if (family == AF_INET6 && v6only >= 0)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    return fd;
}

static int bind_fd(int fd, const struct sockaddr *sa, socklen_t len)
{
    if (bind(fd, sa, len) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* Unconnected: bound to host:port, or every interface (dual-stack where the
 * kernel has IPv6) without a host. The descriptor or -errno. */
static int open_bound(const char *host, const char *port, bool reuse)
{
    bool any = !host || !*host;
    struct addrinfo *res;
    int ret = ringo__resolve_type(any ? "::" : host, port, SOCK_DGRAM, AI_PASSIVE, &res);
    if (ret < 0)
        return ret;
    int fd = -ENOENT;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = new_socket(ai->ai_family, reuse, any ? 0 : 1);
        if (fd >= 0)
            fd = bind_fd(fd, ai->ai_addr, ai->ai_addrlen);
    }
    freeaddrinfo(res);
    if (fd == -EAFNOSUPPORT && any)
        return open_bound("0.0.0.0", port, reuse);
    return fd;
}

/* Bind fd (of family) to the local host/port asked for: 0, 1 when no local
 * address of that family exists (try the next remote), or -errno. */
static int bind_local(int fd, int family, const char *host, const char *port)
{
    if (!host && !strcmp(port, "0"))
        return 0;   /* connect picks the address and the port */
    const char *h = host ? host : family == AF_INET6 ? "::" : "0.0.0.0";
    struct addrinfo *res;
    int ret = ringo__resolve_type(h, port, SOCK_DGRAM, AI_PASSIVE, &res);
    if (ret < 0)
        return ret;
    ret = 1;
    for (struct addrinfo *ai = res; ai && ret == 1; ai = ai->ai_next)
        if (ai->ai_family == family)
            ret = bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? -errno : 0;
    freeaddrinfo(res);
    return ret;
}

/* Connected to rhost:rport, each address tried in order; the last error is
 * the one reported. */
static int open_connected(const char *lhost, const char *lport, const char *rhost,
                          const char *rport, bool reuse)
{
    struct addrinfo *res;
    int ret = ringo__resolve_type(rhost, rport, SOCK_DGRAM, 0, &res);
    if (ret < 0)
        return ret;
    int fd = -ENOENT;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = new_socket(ai->ai_family, reuse, -1);
        if (fd < 0)
            continue;
        ret = bind_local(fd, ai->ai_family, lhost, lport);
        /* A UDP connect only records the peer: it does not block. */
        if (ret == 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
            ret = -errno;
        if (ret != 0) {
            close(fd);
            fd = ret == 1 ? -EAFNOSUPPORT : ret;
        }
    }
    freeaddrinfo(res);
    return fd;
}

static int local_port(int fd, int *family)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    *family = ss.ss_family;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int ringo_dgram_open_flags(ringo_dgram **out, const char *local_host, const char *local_port_s,
                           const char *remote_host, const char *remote_port, unsigned flags)
{
    if (!out || (flags & ~RINGO_DGRAM_REUSEPORT) || !remote_host != !remote_port ||
        (remote_host && !*remote_host))
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    dgram_loop *dl = dgrams_get(l);
    ringo_dgram *d = dl ? calloc(1, sizeof *d) : NULL;
    if (!d)
        return -ENOMEM;
    const char *lport = local_port_s && *local_port_s ? local_port_s : "0";
    bool reuse = flags & RINGO_DGRAM_REUSEPORT;
    int fd = remote_host ? open_connected(local_host, lport, remote_host, remote_port, reuse)
                         : open_bound(local_host, lport, reuse);
    if (fd >= 0 && (ret = local_port(fd, &d->family)) < 0) {
        close(fd);
        fd = ret;
    }
    if (fd < 0) {
        free(d);
        return fd;
    }
    ringo__fd_forget(l, fd);   /* a new number: whatever was known of it is stale */
    grow_buffers(fd);
    d->loop = l;
    d->dl = dl;
    d->fd = fd;
    d->port = ret;
    d->ms = dl->multishot;
    rlist_init(&d->users);
    rlist_init(&d->readers);
    rlist_push(&dl->all, &d->link);
    *out = d;
    return 0;
}

int ringo_dgram_open(ringo_dgram **out, const char *local_host, const char *local_port_s,
                     const char *remote_host, const char *remote_port)
{
    return ringo_dgram_open_flags(out, local_host, local_port_s, remote_host, remote_port, 0);
}

int ringo_dgram_port(const ringo_dgram *d) { return d ? d->port : -EINVAL; }
int ringo_dgram_fd(const ringo_dgram *d) { return d ? d->fd : -EINVAL; }

int ringo_dgram_set_gro(ringo_dgram *d, bool on)
{
    if (!d)
        return -EINVAL;
    if (d->closed)
        return -EBADF;
    int v = on;
    if (setsockopt(d->fd, SOL_UDP, UDP_GRO, &v, sizeof v) < 0)
        return -errno;
    d->gro = on;
    return 0;
}

/* ---- sending ------------------------------------------------------------ */

ssize_t ringo_dgram_send(ringo_dgram *d, const void *buf, size_t n, const struct sockaddr *to,
                         socklen_t tolen)
{
    if (!d || (!buf && n) || (to && (!tolen || tolen > sizeof(struct sockaddr_storage))))
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    if (d->closed || d->loop != l)
        return d->closed ? -EBADF : -EINVAL;
    /* Past 64 KiB no datagram fits; the kernel says so for a bit less. */
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = n > 65536 ? 65536 : n };
    struct msghdr msg = { .msg_name = (void *)to, .msg_namelen = to ? tolen : 0,
                          .msg_iov = &iov, .msg_iovlen = 1 };
    dgram_user u;
    ringo__dgram_enter(d, &u, l->current);
    ringo__op op;
    op.rq.io = (ringo__io){ .kind = RINGO_IO_SENDMSG, .fd = d->fd, .p = &msg,
                            .flags = MSG_NOSIGNAL };
    u.w = &op.wait;
    ssize_t r = ringo__io_wait(l, &op);
    if (u.closed)
        return r >= 0 ? r : -EBADF;
    ringo__dgram_leave(d, &u);
    return r;
}

/* ---- closing ------------------------------------------------------------ */

/* Every task inside a call on d leaves it with -EBADF, touching d no more. */
static void users_out(ringo_dgram *d)
{
    while (!rlist_empty(&d->users)) {
        dgram_user *u = rlist_entry(d->users.next, dgram_user, link);
        rlist_del(&u->link);
        rlist_del(&u->rlink);
        u->closed = true;
        ringo_task *t = u->task;
        if (t->state == RINGO_T_SUSPENDED && u->w && t->waiting == u->w &&
            ringo__interruptible(u->w))
            ringo__interrupt(t, -EBADF);
    }
}

static void endpoint_free(ringo_dgram *d, ringo_loop *l, bool in_task)
{
    d->closed = true;
    bool users = !rlist_empty(&d->users);
    users_out(d);
    /* Let those already woken (epoll: ready to retry their call) leave
     * before the number is closed and maybe reused under them. */
    if (users && in_task)
        ringo__yield_now(l);
    ringo__dgram_recv_stop(d, l, in_task);
    ringo__fd_forget(l, d->fd);
    close(d->fd);   /* a UDP socket's close does not block */
    rlist_del(&d->link);
    free(d->q);
    free(d);
}

int ringo_dgram_close(ringo_dgram *d)
{
    if (!d)
        return -EINVAL;
    ringo_loop *l = ringo__loop;
    if (l != d->loop)
        return -EINVAL;
    /* Closing is cleanup: in a cancelled task or past a deadline too. */
    endpoint_free(d, l, l->current != NULL);
    return 0;
}
