/* Operations on descriptors: each one operation of the loop's backend on the
 * calling task. */
#include <limits.h>
#include <unistd.h>

#include "engine/backend.h"

/* Lengths in the backend are 32-bit; like read(2), cap a single transfer. */
#define RINGO_MAX_IO 0x7ffff000u

static unsigned cap(size_t n) { return n > RINGO_MAX_IO ? RINGO_MAX_IO : (unsigned)n; }

static int check_rw(int fd, const void *buf, size_t n, int64_t off)
{
    if (fd < 0)
        return -EBADF;
    if ((!buf && n) || off < -1)
        return -EINVAL;
    return 0;
}

/* One op of kind on fd with buffer p of n bytes (or n iovecs) at off. */
static ssize_t rw(ringo_loop *l, uint8_t kind, int fd, const void *p, unsigned n, int64_t off,
                  uint8_t how)
{
    ringo__op op;
    op.rq.io = (ringo__io){ .kind = kind, .how = how, .fd = fd, .p = (void *)p, .len = n,
                            .off = off };
    return ringo__io_wait(l, &op);
}

static ssize_t plain_read(ringo_loop *l, int fd, void *buf, size_t n, int64_t off)
{
    return rw(l, RINGO_IO_READ, fd, buf, cap(n), off, RINGO_READ_PLAIN);
}

/* A read that must not wait for the disk (engine/offload.c): on a kernel
 * worker (async) or inline as a probe. What the cache could not give is read
 * the ordinary way, so the caller sees what a plain read would have returned. */
static ssize_t nowait_read(ringo_loop *l, int fd, char *buf, size_t n, int64_t off, bool async)
{
    unsigned len = cap(n);
    ssize_t got = rw(l, RINGO_IO_READ, fd, buf, len, off,
                     async ? RINGO_READ_OFFLOAD : RINGO_READ_PROBE);
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
    return rw(l, RINGO_IO_WRITE, fd, buf, cap(n), off, 0);
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
    return rw(l, RINGO_IO_READV, fd, iov, (unsigned)cnt, off, 0);
}

ssize_t ringo_writev(int fd, const struct iovec *iov, int cnt, int64_t off)
{
    ringo_loop *l;
    int ret = check_iov(fd, iov, cnt, off);
    if (ret < 0 || (ret = ringo__enter(&l)) < 0)
        return ret;
    return rw(l, RINGO_IO_WRITEV, fd, iov, (unsigned)cnt, off, 0);
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
    op.rq.io = (ringo__io){ .kind = RINGO_IO_POLL, .fd = fd, .flags = (unsigned short)events };
    return ringo__io_wait(l, &op);
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
    ringo__fd_forget(l, fd);
    ringo__op op;
    op.rq.io = (ringo__io){ .kind = RINGO_IO_CLOSE, .fd = fd };
    /* The descriptor is gone whatever the result (as close(2) on Linux). */
    int ret = ringo__io_wait(l, &op);
    return ret == -EINTR ? 0 : ret;
}

int ringo_nop(void)
{
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    ringo__op op;
    op.rq.io = (ringo__io){ .kind = RINGO_IO_NOP };
    return ringo__io_wait(l, &op);
}
