/* Operations on descriptors: each one io_uring operation on the calling task. */
#include <limits.h>
#include <unistd.h>

#include "engine/internal.h"

/* io_uring lengths are 32-bit; like read(2), cap a single transfer. */
#define RINGO_MAX_IO 0x7ffff000u

static int check_rw(int fd, const void *buf, size_t n, int64_t off)
{
    if (fd < 0)
        return -EBADF;
    if ((!buf && n) || off < -1)
        return -EINVAL;
    return 0;
}

static ssize_t plain_read(ringo_loop *l, int fd, void *buf, size_t n, int64_t off)
{
    ringo__op op;
    struct io_uring_sqe *sqe = ringo__sqe(l);
    io_uring_prep_read(sqe, fd, buf, n > RINGO_MAX_IO ? RINGO_MAX_IO : (unsigned)n, (uint64_t)off);
    return ringo__op_wait(l, &op, sqe);
}

static void offloaded_complete(ringo__cqe_handler *h, const struct io_uring_cqe *cqe)
{
    ringo__offload_done(((ringo__op *)h)->task->loop);
    ringo__op_complete(h, cqe);
}

/* A read that must not wait for the disk (engine/offload.c): on a kernel
 * worker (async) or inline as a probe. What the cache could not give is read
 * the ordinary way, so the caller sees what a plain read would have returned. */
static ssize_t nowait_read(ringo_loop *l, int fd, char *buf, size_t n, int64_t off, bool async)
{
    ringo__op op;
    struct io_uring_sqe *sqe = ringo__sqe(l);
    unsigned len = n > RINGO_MAX_IO ? RINGO_MAX_IO : (unsigned)n;
    io_uring_prep_read(sqe, fd, buf, len, (uint64_t)off);
    sqe->rw_flags = RWF_NOWAIT;
    if (async)
        sqe->flags |= IOSQE_ASYNC;
    ssize_t got = async ? ringo__op_wait_as(l, &op, sqe, offloaded_complete)
                        : ringo__op_wait(l, &op, sqe);
    bool file = true;
    if (got == -EOPNOTSUPP) {
        ringo__offload_never(l, fd);   /* no RWF_NOWAIT there */
        got = 0;
    } else if (got == -EAGAIN || (got > 0 && (size_t)got < len)) {
        /* Not cached, or no longer a file (closed and reused behind our
         * back): a pipe's short count is all there is to have. */
        file = ringo__offload_recheck(l, fd);
        if (got > 0 && !file)
            return got;
        if (got == -EAGAIN) {
            if (file)
                ringo__offload_probed(l, true);
            got = 0;
        }
    } else {
        ringo__offload_probed(l, false);
        return got;   /* all of it, EOF, or an error */
    }
    /* Interrupted now, what was read stands. */
    int why = ringo__interrupted(l->current);
    if (why)
        return got > 0 ? got : why;
    ssize_t more = plain_read(l, fd, buf + got, len - (size_t)got, off + got);
    if (got > 0 && file)   /* a short count: more to read means not cached, none EOF */
        ringo__offload_probed(l, more > 0);
    if (more >= 0)
        return got + more;
    return got > 0 ? got : more;
}

ssize_t ringo_read(int fd, void *buf, size_t n, int64_t off)
{
    ringo_loop *l;
    int ret = check_rw(fd, buf, n, off);
    if (ret < 0 || (ret = ringo__enter(&l)) < 0)
        return ret;
    enum ringo__read_how how = n ? ringo__offload_pick(l, fd, off) : RINGO_READ_PLAIN;
    if (how == RINGO_READ_PLAIN)
        return plain_read(l, fd, buf, n, off);
    return nowait_read(l, fd, buf, n, off, how == RINGO_READ_OFFLOAD);
}

ssize_t ringo_write(int fd, const void *buf, size_t n, int64_t off)
{
    ringo_loop *l;
    int ret = check_rw(fd, buf, n, off);
    if (ret < 0 || (ret = ringo__enter(&l)) < 0)
        return ret;
    ringo__op op;
    struct io_uring_sqe *sqe = ringo__sqe(l);
    io_uring_prep_write(sqe, fd, buf, n > RINGO_MAX_IO ? RINGO_MAX_IO : (unsigned)n, (uint64_t)off);
    return ringo__op_wait(l, &op, sqe);
}

static int check_iov(int fd, const struct iovec *iov, int cnt, int64_t off)
{
    if (fd < 0)
        return -EBADF;
    if (cnt < 0 || cnt > IOV_MAX || (!iov && cnt) || off < -1)
        return -EINVAL;
    return 0;
}

ssize_t ringo_readv(int fd, const struct iovec *iov, int cnt, int64_t off)
{
    ringo_loop *l;
    int ret = check_iov(fd, iov, cnt, off);
    if (ret < 0 || (ret = ringo__enter(&l)) < 0)
        return ret;
    ringo__op op;
    struct io_uring_sqe *sqe = ringo__sqe(l);
    io_uring_prep_readv(sqe, fd, iov, (unsigned)cnt, (uint64_t)off);
    return ringo__op_wait(l, &op, sqe);
}

ssize_t ringo_writev(int fd, const struct iovec *iov, int cnt, int64_t off)
{
    ringo_loop *l;
    int ret = check_iov(fd, iov, cnt, off);
    if (ret < 0 || (ret = ringo__enter(&l)) < 0)
        return ret;
    ringo__op op;
    struct io_uring_sqe *sqe = ringo__sqe(l);
    io_uring_prep_writev(sqe, fd, iov, (unsigned)cnt, (uint64_t)off);
    return ringo__op_wait(l, &op, sqe);
}

int ringo_poll(int fd, short events)
{
    ringo_loop *l;
    if (fd < 0)
        return -EBADF;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    ringo__op op;
    struct io_uring_sqe *sqe = ringo__sqe(l);
    io_uring_prep_poll_add(sqe, fd, (unsigned)(unsigned short)events);
    return ringo__op_wait(l, &op, sqe);
}

int ringo_close(int fd)
{
    if (fd < 0)
        return -EBADF;
    ringo_loop *l;
    if (ringo__enter(&l) < 0) {
        /* Closing is cleanup: outside a loop, in a cancelled task or past a
         * deadline it still happens, synchronously, so nothing leaks. */
        return close(fd) < 0 && errno != EINTR ? -errno : 0;
    }
    ringo__offload_forget(l, fd);
    ringo__op op;
    struct io_uring_sqe *sqe = ringo__sqe(l);
    io_uring_prep_close(sqe, fd);
    /* The descriptor is gone whatever the result (as close(2) on Linux). */
    int ret = ringo__op_wait(l, &op, sqe);
    return ret == -EINTR ? 0 : ret;
}

int ringo_nop(void)
{
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    ringo__op op;
    struct io_uring_sqe *sqe = ringo__sqe(l);
    io_uring_prep_nop(sqe);
    return ringo__op_wait(l, &op, sqe);
}
