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

ssize_t ringo_read(int fd, void *buf, size_t n, int64_t off)
{
    ringo_loop *l;
    int ret = check_rw(fd, buf, n, off);
    if (ret < 0 || (ret = ringo__enter(&l)) < 0)
        return ret;
    ringo__op op;
    struct io_uring_sqe *sqe = ringo__sqe(l);
    io_uring_prep_read(sqe, fd, buf, n > RINGO_MAX_IO ? RINGO_MAX_IO : (unsigned)n, (uint64_t)off);
    return ringo__op_wait(l, &op, sqe);
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
