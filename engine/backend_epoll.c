/* The epoll backend, for where io_uring is refused (a container's seccomp
 * profile, kernel.io_uring_disabled): each op is tried as a nonblocking
 * system call first, and waits for readiness only on EAGAIN; what would
 * block the loop whatever it is told (regular files, opens, fsync, statx)
 * runs on the worker pool, as libuv does, after a preadv2(RWF_NOWAIT) has
 * had its chance at the page cache.
 *
 * Descriptors are registered edge-triggered for both directions, so a
 * connection costs one epoll_ctl, not one per wait. Descriptors of owned
 * ops (streams, servers, the pool's eventfd, the signalfd) are the loop's:
 * they are made nonblocking, stay registered until ringo__fd_forget, and
 * their readiness is remembered, so a recv that came back short (the socket
 * drained) waits for the next edge without an EAGAIN round trip. A user's
 * descriptor is re-registered at each wait (MOD, or ADD when the number now
 * names another file): it may have been closed and reused behind our back.
 *
 * An awaited op never leaves the task: the task itself retries the call
 * when woken, so nothing writes into its buffers once it has returned. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "engine/backend.h"
#include "engine/pool.h"

#define PAGE_SHIFT 8u
#define PAGE_FDS (1u << PAGE_SHIFT)
#define MAX_EVENTS 256
/* Inline completions in a row before the task yields, so that one task on
 * an always-ready descriptor cannot keep the others from running. */
#define STREAK_MAX 64

enum { REG_NONE, REG_USER, REG_OWNED };
enum { ST_IDLE, ST_RUN, ST_WAIT, ST_DONE };

typedef struct ep_fd {
    rlist rd, wr;          /* waiting ringo__req (link) */
    uint8_t reg;
    bool rd_ready, wr_ready;   /* REG_OWNED: no EAGAIN seen since the last edge */
    bool rd_hup;           /* the peer's end came: no edge will follow it */
} ep_fd;

typedef struct ringo__epoll {
    int epfd;
    ep_fd **pages;         /* fd >> PAGE_SHIFT; pages never move (lists point in) */
    size_t npages;
    rlist run;             /* owned ops to try at the next step */
    rlist done;            /* owned ops whose completion (a cancel) waits */
    size_t nwait;          /* ops parked on descriptors */
    unsigned streak;
    unsigned finished;     /* completions delivered (a step that ran some does not wait) */
    bool no_pwait2;
    struct epoll_event evs[MAX_EVENTS];
} ringo__epoll;

/* ---- the descriptor table ---------------------------------------------- */

static ep_fd *slot(ringo__epoll *ep, int fd, bool make)
{
    size_t pg = (size_t)fd >> PAGE_SHIFT;
    if (pg >= ep->npages) {
        if (!make)
            return NULL;
        size_t n = ep->npages ? ep->npages : 4;
        while (n <= pg)
            n *= 2;
        ep_fd **p = realloc(ep->pages, n * sizeof *p);
        if (!p)
            return NULL;
        memset(p + ep->npages, 0, (n - ep->npages) * sizeof *p);
        ep->pages = p;
        ep->npages = n;
    }
    if (!ep->pages[pg]) {
        if (!make)
            return NULL;
        ep_fd *page = calloc(PAGE_FDS, sizeof *page);
        if (!page)
            return NULL;
        for (unsigned i = 0; i < PAGE_FDS; i++) {
            rlist_init(&page[i].rd);
            rlist_init(&page[i].wr);
        }
        ep->pages[pg] = page;
    }
    return &ep->pages[pg][(unsigned)fd & (PAGE_FDS - 1)];
}

/* Register fd for both directions (again, for a user's descriptor). 0, or
 * -errno: -EPERM for what epoll cannot watch (regular files). */
static int watch(ringo__epoll *ep, ep_fd *e, int fd, bool owned)
{
    if (e->reg == REG_OWNED)
        return 0;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                              .data.u64 = (uint64_t)fd };
    int ret = e->reg ? epoll_ctl(ep->epfd, EPOLL_CTL_MOD, fd, &ev) : -1;
    if (ret < 0 && (!e->reg || errno == ENOENT))
        ret = epoll_ctl(ep->epfd, EPOLL_CTL_ADD, fd, &ev);
    if (ret < 0 && errno == EEXIST)
        ret = epoll_ctl(ep->epfd, EPOLL_CTL_MOD, fd, &ev);
    if (ret < 0)
        return -errno;
    e->reg = owned ? REG_OWNED : REG_USER;
    e->rd_ready = e->wr_ready = true;   /* until an EAGAIN says otherwise */
    e->rd_hup = false;
    return 0;
}

void ringo__epoll_forget(ringo_loop *l, int fd)
{
    ringo__epoll *ep = l->ep;
    ep_fd *e = fd >= 0 ? slot(ep, fd, false) : NULL;
    if (!e || e->reg == REG_NONE)
        return;
    /* A copy of the file elsewhere (a child's) would keep the registration,
     * and its events, alive under this number. */
    (void)epoll_ctl(ep->epfd, EPOLL_CTL_DEL, fd, NULL);
    e->reg = REG_NONE;
}

/* Which direction op waits for. */
static bool wants_write(const ringo__io *io)
{
    switch ((enum ringo__io_kind)io->kind) {
    case RINGO_IO_WRITE: case RINGO_IO_WRITEV: case RINGO_IO_SEND: case RINGO_IO_CONNECT:
    case RINGO_IO_SENDMSG: case RINGO_IO_SPLICE:
        return true;
    case RINGO_IO_POLL:
        return (io->flags & POLLOUT) && !(io->flags & (POLLIN | POLLPRI));
    default:
        return false;
    }
}

/* The descriptor op waits on: a splice's is where it writes (its reads come
 * from a file, or from a pipe the caller filled). */
static int wait_fd(const ringo__io *io)
{
    return io->kind == RINGO_IO_SPLICE ? (int)io->u : io->fd;
}

/* ---- the system calls ---------------------------------------------------- */

static long neg(long r) { return r < 0 ? -errno : r; }

static bool regular(int fd, struct stat *st)
{
    return fstat(fd, st) == 0 && (S_ISREG(st->st_mode) || S_ISBLK(st->st_mode));
}

/* The read and write kinds as vectors: one call for all four. */
static int as_iov(const ringo__io *io, struct iovec *one, const struct iovec **iov)
{
    if (io->kind == RINGO_IO_READV || io->kind == RINGO_IO_WRITEV) {
        *iov = io->p;
        return (int)io->len;
    }
    one->iov_base = io->p;
    one->iov_len = io->len;
    *iov = one;
    return 1;
}

static bool is_write(const ringo__io *io)
{
    return io->kind == RINGO_IO_WRITE || io->kind == RINGO_IO_WRITEV;
}

static long rw_call(const ringo__io *io, int64_t off, int flags)
{
    struct iovec one;
    const struct iovec *iov;
    int cnt = as_iov(io, &one, &iov);
    long r = is_write(io) ? pwritev2(io->fd, iov, cnt, off, flags)
                          : preadv2(io->fd, iov, cnt, off, flags);
    r = neg(r);
    /* io_uring takes offset 0 on a pipe as "no offset"; preadv2 does not. */
    if (r == -ESPIPE && off == 0)
        return rw_call(io, -1, flags);
    return r;
}

/* One try that must not block: 0+ done, -EAGAIN to wait, else the error. */
static long attempt(const ringo__io *io, bool owned)
{
    switch ((enum ringo__io_kind)io->kind) {
    case RINGO_IO_READ: case RINGO_IO_WRITE: case RINGO_IO_READV: case RINGO_IO_WRITEV:
        /* The loop's own descriptors are nonblocking already. */
        return rw_call(io, io->off, owned ? 0 : RWF_NOWAIT);
    case RINGO_IO_RECV:
        return neg(recv(io->fd, io->p, io->len, io->flags | MSG_DONTWAIT));
    case RINGO_IO_SEND:
        return neg(send(io->fd, io->p, io->len, io->flags | MSG_DONTWAIT));
    case RINGO_IO_ACCEPT: case RINGO_IO_ACCEPT_MULTI:
        return neg(accept4(io->fd, io->p, io->q, io->flags));
    case RINGO_IO_POLL: {
        struct pollfd p = { .fd = io->fd, .events = (short)io->flags };
        long r = neg(poll(&p, 1, 0));
        return r == 0 ? -EAGAIN : r < 0 ? r : (p.revents & POLLNVAL ? -EBADF : p.revents);
    }
    case RINGO_IO_SHUTDOWN:
        return neg(shutdown(io->fd, io->flags));
    case RINGO_IO_RECVMSG:
        return neg(recvmsg(io->fd, io->p, io->flags | MSG_DONTWAIT));
    case RINGO_IO_SENDMSG:
        return neg(sendmsg(io->fd, io->p, io->flags | MSG_DONTWAIT));
    case RINGO_IO_SPLICE: {
        loff_t off = io->off;
        return neg(splice(io->fd, io->off < 0 ? NULL : &off, (int)io->u, NULL, io->len,
                          (unsigned)io->flags | SPLICE_F_NONBLOCK));
    }
    default:
        return -EINVAL;
    }
}

/* ---- the worker pool, for what would block ------------------------------- */

typedef struct file_job {
    struct ringo__job job;
    const ringo__io *io;
    int64_t off;
    long res;
} file_job;

static void file_work(struct ringo__job *job)
{
    file_job *j = (file_job *)job;
    const ringo__io *io = j->io;
    switch ((enum ringo__io_kind)io->kind) {
    case RINGO_IO_OPEN:
        j->res = neg(openat(AT_FDCWD, io->p, io->flags, (mode_t)io->u));
        break;
    case RINGO_IO_FSYNC:
        j->res = neg(io->flags ? fdatasync(io->fd) : fsync(io->fd));
        break;
    case RINGO_IO_STATX:
        j->res = neg(statx(io->fd, io->p, io->flags, io->len, io->q));
        break;
    default:
        j->res = rw_call(io, j->off, 0);
        break;
    }
}

/* Interrupted, the call still ran to its end: its result stands, as for an
 * op that completed before its cancel; the task's next wait reports the
 * interruption. */
static long on_pool(ringo_loop *l, const ringo__io *io, int64_t off)
{
    file_job j = { .job.work = file_work, .job.what = ringo__io_kind_name(io->kind), .io = io,
                   .off = off };
    int ret = ringo__workers_run(l, &j.job);
    return ret < 0 && ret != -ECANCELED && ret != -ETIMEDOUT ? ret : j.res;
}

/* ---- awaited ops --------------------------------------------------------- */

static void op_cancel(ringo__wait *w)
{
    ringo__op *op = (ringo__op *)((char *)w - offsetof(ringo__op, wait));
    if (op->rq.state == ST_WAIT) {
        rlist_del(&op->rq.link);
        op->rq.state = ST_IDLE;
        op->task->loop->ep->nwait--;
    }
    ringo__wake(op->task);
}

/* Park the current task on fd until it is ready for op: 0 (try again),
 * -ECANCELED / -ETIMEDOUT, or what epoll_ctl said. */
static int park(ringo_loop *l, ringo__op *op)
{
    ringo__epoll *ep = l->ep;
    int why = ringo__interrupted(l->current);
    if (why)
        return why;
    int fd = wait_fd(&op->rq.io);
    ep_fd *e = slot(ep, fd, true);
    if (!e)
        return -ENOMEM;
    int ret = watch(ep, e, fd, false);
    if (ret < 0)
        return ret;
    op->task = l->current;
    op->wait.cancel = op_cancel;
    op->wait.describe = ringo__op_describe;
    op->rq.state = ST_WAIT;
    rlist_push(wants_write(&op->rq.io) ? &e->wr : &e->rd, &op->rq.link);
    ep->nwait++;
    ep->streak = 0;
    l->inflight++;
    why = ringo__wait_on(l, &op->wait);
    l->inflight--;
    return why;
}

static long done_inline(ringo_loop *l, long r)
{
    if (++l->ep->streak >= STREAK_MAX) {
        l->ep->streak = 0;
        ringo__yield_now(l);
    }
    return r;
}

/* Try, park on EAGAIN, try again: the nonblocking call as a blocking one. */
static long until_ready(ringo_loop *l, ringo__op *op, long (*call)(const ringo__io *io))
{
    long r = call(&op->rq.io);
    if (r != -EAGAIN)
        return done_inline(l, r);
    for (;;) {
        int why = park(l, op);
        if (why < 0)
            return why;
        r = call(&op->rq.io);
        if (r != -EAGAIN)
            return r;
    }
}

static long try_user(const ringo__io *io) { return attempt(io, false); }
static long plain_rw(const ringo__io *io) { return rw_call(io, io->off, 0); }
static long ready_then_plain(const ringo__io *io)
{
    ringo__io p = { .kind = RINGO_IO_POLL, .fd = io->fd,
                    .flags = is_write(io) ? POLLOUT : POLLIN };
    long r = attempt(&p, false);
    return r < 0 ? r : plain_rw(io);
}

static size_t io_bytes(const ringo__io *io)
{
    struct iovec one;
    const struct iovec *iov;
    int cnt = as_iov(io, &one, &iov);
    size_t n = 0;
    for (int i = 0; i < cnt; i++)
        n += iov[i].iov_len;
    return n;
}

/* A read or write: the page cache without waiting, then a regular file's
 * rest on the pool (a short count there means not cached, unless at EOF),
 * or readiness for anything pollable. */
static long file_rw(ringo_loop *l, ringo__op *op)
{
    ringo__io *io = &op->rq.io;
    long r = rw_call(io, io->off, RWF_NOWAIT);
    struct stat st;
    if (r >= 0 && ((size_t)r == io_bytes(io) || r == 0))
        return done_inline(l, r);
    if (r >= 0 || r == -EAGAIN || r == -EOPNOTSUPP) {
        if (regular(io->fd, &st)) {
            long got = r > 0 ? r : 0;
            int64_t at = io->off < 0 ? -1 : io->off + got;
            int64_t pos = io->off < 0 ? lseek(io->fd, 0, SEEK_CUR) : at;
            if (got && !is_write(io) && pos >= st.st_size)
                return done_inline(l, got);   /* a short count at EOF */
            if (got && (io->kind == RINGO_IO_READV || io->kind == RINGO_IO_WRITEV))
                return got;   /* the vector's rest would need splitting: short is allowed */
            ringo__io rest = *io;
            rest.p = (char *)io->p + got;
            rest.len = io->len - (unsigned)got;
            long more = on_pool(l, &rest, at);
            return more >= 0 ? got + more : got ? got : more;
        }
        if (r >= 0)
            return done_inline(l, r);   /* a pipe's or socket's short count */
        if (r == -EOPNOTSUPP)   /* no RWF_NOWAIT here: readiness, then a plain call */
            return until_ready(l, op, ready_then_plain);
        return until_ready(l, op, try_user);
    }
    return done_inline(l, r);
}

static long try_connect(ringo_loop *l, ringo__op *op)
{
    ringo__io *io = &op->rq.io;
    /* A blocking socket would block the loop: nonblocking for the call. */
    int fl = fcntl(io->fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (!(fl & O_NONBLOCK))
        (void)fcntl(io->fd, F_SETFL, fl | O_NONBLOCK);
    long r = neg(connect(io->fd, io->p, (socklen_t)io->u));
    while (r == -EINPROGRESS || r == -EAGAIN || r == -EALREADY) {
        bool again = r == -EAGAIN;   /* a Unix listener's full backlog: retry */
        int why = park(l, op);
        if (why < 0) {
            r = why;
            break;
        }
        if (again) {
            r = neg(connect(io->fd, io->p, (socklen_t)io->u));
            continue;
        }
        int err = 0;
        socklen_t len = sizeof err;
        r = getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ? -errno : -err;
        if (r == 0 || r != -EINPROGRESS)
            break;
    }
    if (!(fl & O_NONBLOCK))
        (void)fcntl(io->fd, F_SETFL, fl);
    return r;
}

static long try_accept(ringo_loop *l, ringo__op *op)
{
    /* accept4 blocks on a blocking listener: only once it is readable. */
    int fl = fcntl(op->rq.io.fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (fl & O_NONBLOCK)
        return until_ready(l, op, try_user);
    ringo__io p = { .kind = RINGO_IO_POLL, .fd = op->rq.io.fd, .flags = POLLIN };
    ringo__op pop = { .rq.io = p };
    long r = until_ready(l, &pop, try_user);
    return r < 0 ? r : attempt(&op->rq.io, false);
}

int ringo__epoll_wait(ringo_loop *l, ringo__op *op)
{
    ringo__io *io = &op->rq.io;
    op->rq.state = ST_IDLE;
    op->rq.h.complete = NULL;   /* marks it awaited on the wait lists */
    switch ((enum ringo__io_kind)io->kind) {
    case RINGO_IO_NOP:
        ringo__yield_now(l);
        return 0;
    case RINGO_IO_READ: case RINGO_IO_WRITE: case RINGO_IO_READV: case RINGO_IO_WRITEV:
        return (int)file_rw(l, op);
    case RINGO_IO_RECV: case RINGO_IO_SEND: case RINGO_IO_POLL:
    case RINGO_IO_RECVMSG: case RINGO_IO_SENDMSG: case RINGO_IO_SPLICE:
        return (int)until_ready(l, op, try_user);
    case RINGO_IO_ACCEPT:
        return (int)try_accept(l, op);
    case RINGO_IO_CONNECT:
        return (int)try_connect(l, op);
    case RINGO_IO_CLOSE:
        ringo__epoll_forget(l, io->fd);
        return close(io->fd) < 0 && errno != EINTR ? -errno : 0;
    case RINGO_IO_SHUTDOWN:
        return (int)attempt(io, false);
    case RINGO_IO_OPEN: case RINGO_IO_FSYNC: case RINGO_IO_STATX:
        return (int)on_pool(l, io, io->off);
    default:   /* the kinds behind a RINGO_CAP_* that epoll does not have */
        return -EOPNOTSUPP;
    }
}

/* ---- owned ops ------------------------------------------------------------ */

static ep_fd *own(ringo__epoll *ep, int fd)
{
    ep_fd *e = slot(ep, fd, true);
    if (!e || e->reg == REG_OWNED)
        return e;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    return watch(ep, e, fd, true) == 0 ? e : NULL;
}

static void wait_owned(ringo__epoll *ep, ep_fd *e, ringo__req *rq)
{
    rq->state = ST_WAIT;
    rlist_push(wants_write(&rq->io) ? &e->wr : &e->rd, &rq->link);
    ep->nwait++;
}

void ringo__epoll_start(ringo_loop *l, ringo__req *rq)
{
    ringo__epoll *ep = l->ep;
    int fd = wait_fd(&rq->io);
    ep_fd *e = fd >= 0 ? slot(ep, fd, false) : NULL;
    /* Known not ready: wait for the edge without trying. */
    if (e && e->reg == REG_OWNED && !(wants_write(&rq->io) ? e->wr_ready : e->rd_ready) &&
        rq->io.kind != RINGO_IO_SHUTDOWN) {
        wait_owned(ep, e, rq);
        return;
    }
    rq->state = ST_RUN;
    rlist_push(&ep->run, &rq->link);
}

static void finish(ringo__epoll *ep, ringo__req *rq, long res, uint32_t flags)
{
    ep->finished++;
    rq->state = ST_IDLE;
    rq->h.complete(&rq->h, (int32_t)res, flags);
}

/* Try one owned op; it completes, or waits for its descriptor's edge. */
static void run_one(ringo__epoll *ep, ringo__req *rq)
{
    ep_fd *e = own(ep, wait_fd(&rq->io));
    bool wr = wants_write(&rq->io);
    long r = attempt(&rq->io, true);
    if (rq->io.kind == RINGO_IO_ACCEPT_MULTI) {
        /* Edge-triggered: take every queued connection before waiting. */
        while (r >= 0 || r == -ECONNABORTED || r == -EINTR) {
            if (r >= 0) {
                ep->finished++;
                rq->state = ST_RUN;   /* a cancel from the handler moves it */
                rq->h.complete(&rq->h, (int32_t)r, RINGO_CQE_MORE);
                if (rq->state != ST_RUN)
                    return;
            }
            r = attempt(&rq->io, true);
        }
        if (r != -EAGAIN) {
            finish(ep, rq, r, 0);
            return;
        }
    }
    if (r == -EAGAIN && e) {
        if (wr)
            e->wr_ready = false;
        else
            e->rd_ready = false;
        wait_owned(ep, e, rq);
        return;
    }
    /* A short read drained the socket or pipe: the next edge says more,
     * unless the peer's end is what is left (it is no new edge). */
    if (e && r > 0 && (rq->io.kind == RINGO_IO_RECV || rq->io.kind == RINGO_IO_READ) &&
        (size_t)r < rq->io.len && !e->rd_hup)
        e->rd_ready = false;
    finish(ep, rq, r == -EAGAIN ? -ENOMEM : r, 0);
}

void ringo__epoll_cancel(ringo_loop *l, ringo__req *rq)
{
    ringo__epoll *ep = l->ep;
    if (rq->state != ST_RUN && rq->state != ST_WAIT)
        return;
    if (rq->state == ST_WAIT)
        ep->nwait--;
    rlist_del(&rq->link);
    rq->state = ST_DONE;
    rq->res = -ECANCELED;
    rlist_push(&ep->done, &rq->link);
}

bool ringo__epoll_patch(ringo_loop *l, ringo__req *rq)
{
    (void)l;   /* nothing was sent yet: the next try reads rq->io */
    return rq->state == ST_RUN || rq->state == ST_WAIT;
}

bool ringo__epoll_queued(ringo_loop *l)
{
    return !rlist_empty(&l->ep->run) || !rlist_empty(&l->ep->done);
}

/* ---- the step ------------------------------------------------------------- */

/* Bounded like the io_uring CQ: ops started by handlers wait for the next
 * round rather than keep this one going. */
static void run_owned(ringo__epoll *ep)
{
    rlist batch;
    rlist_init(&batch);
    if (!rlist_empty(&ep->run)) {   /* move the list whole */
        batch.next = ep->run.next;
        batch.prev = ep->run.prev;
        batch.next->prev = batch.prev->next = &batch;
        rlist_init(&ep->run);
    }
    while (!rlist_empty(&batch)) {
        ringo__req *rq = rlist_entry(batch.next, ringo__req, link);
        rlist_del(&rq->link);
        rq->state = ST_IDLE;
        run_one(ep, rq);
    }
    while (!rlist_empty(&ep->done)) {
        ringo__req *rq = rlist_entry(ep->done.next, ringo__req, link);
        rlist_del(&rq->link);
        finish(ep, rq, rq->res, 0);
    }
}

/* Everything parked on list is woken: tasks retry, owned ops run again. */
static void ready(ringo__epoll *ep, rlist *list)
{
    while (!rlist_empty(list)) {
        ringo__req *rq = rlist_entry(list->next, ringo__req, link);
        rlist_del(&rq->link);
        ep->nwait--;
        if (rq->h.complete) {   /* owned */
            rq->state = ST_RUN;
            rlist_push(&ep->run, &rq->link);
        } else {
            rq->state = ST_IDLE;
            ringo__wake(((ringo__op *)rq)->task);
        }
    }
}

static int wait_events(ringo__epoll *ep, int64_t timeout)
{
    if (!ep->no_pwait2) {
        struct timespec ts = { .tv_sec = timeout / RINGO_SEC(1), .tv_nsec = timeout % RINGO_SEC(1) };
        int n = epoll_pwait2(ep->epfd, ep->evs, MAX_EVENTS, timeout < 0 ? NULL : &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        ep->no_pwait2 = true;   /* before 5.11: milliseconds, rounded up */
    }
    int ms = timeout < 0 ? -1 : (int)((timeout + RINGO_MS(1) - 1) / RINGO_MS(1));
    return epoll_wait(ep->epfd, ep->evs, MAX_EVENTS, ms);
}

void ringo__epoll_step(ringo_loop *l, bool wait)
{
    ringo__epoll *ep = l->ep;
    unsigned before = ep->finished;
    run_owned(ep);
    /* What ran may be what the caller steps for, as a CQE would be. */
    if (ep->finished != before || !rlist_empty(&ep->run) || !rlist_empty(&ep->done) ||
        l->rq_len)
        wait = false;
    if (!wait && ep->nwait == 0)
        return;   /* nobody to tell of readiness */
    int64_t timeout = 0;
    if (wait) {
        int64_t next = ringo__timer_next(l);
        timeout = next == INT64_MAX ? -1 : next - ringo_now();
        if (timeout < 0 && next != INT64_MAX)
            timeout = 0;
        coro_pool_trim(&l->pool, l->now);   /* fresh enough for a 1 s period */
    }
    int n = wait_events(ep, timeout);
    if (n < 0 && errno != EINTR) {
        fprintf(stderr, "ringo: epoll_wait failed: %s\n", strerror(errno));
        abort();
    }
    for (int i = 0; i < n; i++) {
        uint32_t ev = ep->evs[i].events;
        ep_fd *e = slot(ep, (int)ep->evs[i].data.u64, false);
        if (!e)
            continue;
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI)) {
            e->rd_ready = true;
            if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                e->rd_hup = true;
            ready(ep, &e->rd);
        }
        if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
            e->wr_ready = true;
            ready(ep, &e->wr);
        }
    }
    run_owned(ep);
}

/* ---- open and close ------------------------------------------------------- */

int ringo__epoll_open(ringo_loop *l)
{
    ringo__epoll *ep = calloc(1, sizeof *ep);
    if (!ep)
        return -ENOMEM;
    ep->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ep->epfd < 0) {
        int err = -errno;
        free(ep);
        return err;
    }
    rlist_init(&ep->run);
    rlist_init(&ep->done);
    l->ep = ep;
    return 0;
}

void ringo__epoll_close(ringo_loop *l)
{
    ringo__epoll *ep = l->ep;
    if (!ep)
        return;
    close(ep->epfd);
    for (size_t i = 0; i < ep->npages; i++)
        free(ep->pages[i]);
    free(ep->pages);
    free(ep);
    l->ep = NULL;
}
