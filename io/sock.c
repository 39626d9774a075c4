/* Socket operations: each one io_uring operation on the calling task. */
#include <sys/socket.h>

#include "engine/internal.h"

#define RINGO_MAX_IO 0x7ffff000u

ssize_t ringo_recv(int fd, void *buf, size_t n, int flags)
{
    if (fd < 0)
        return -EBADF;
    if (!buf && n)
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    ringo__op op;
    struct io_uring_sqe *sqe = ringo__sqe(l);
    io_uring_prep_recv(sqe, fd, buf, n > RINGO_MAX_IO ? RINGO_MAX_IO : n, flags);
    return ringo__op_wait(l, &op, sqe);
}

ssize_t ringo_send(int fd, const void *buf, size_t n, int flags)
{
    if (fd < 0)
        return -EBADF;
    if (!buf && n)
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    ringo__op op;
    struct io_uring_sqe *sqe = ringo__sqe(l);
    /* A peer that went away must be an error return, never a SIGPIPE that
     * kills the whole process. */
    io_uring_prep_send(sqe, fd, buf, n > RINGO_MAX_IO ? RINGO_MAX_IO : n, flags | MSG_NOSIGNAL);
    return ringo__op_wait(l, &op, sqe);
}

int ringo_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    if (fd < 0)
        return -EBADF;
    if ((addr && !len) || (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)))
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    ringo__op op;
    struct io_uring_sqe *sqe = ringo__sqe(l);
    /* Close-on-exec from the start: no window for a fork+exec to inherit it. */
    io_uring_prep_accept(sqe, fd, addr, len, flags | SOCK_CLOEXEC);
    ret = ringo__op_wait(l, &op, sqe);
    if (ret >= 0)
        ringo__offload_forget(l, ret);
    return ret;
}

int ringo_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    if (fd < 0)
        return -EBADF;
    if (!addr || len == 0)
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    ringo__op op;
    struct io_uring_sqe *sqe = ringo__sqe(l);
    io_uring_prep_connect(sqe, fd, addr, len);
    return ringo__op_wait(l, &op, sqe);
}
