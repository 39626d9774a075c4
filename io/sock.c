/* Socket operations: each one operation of the loop's backend on the calling
 * task. */
#include <sys/socket.h>

#include "engine/backend.h"

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
    op.rq.io = (ringo__io){ .kind = RINGO_IO_RECV, .fd = fd, .p = buf, .flags = flags,
                            .len = n > RINGO_MAX_IO ? RINGO_MAX_IO : (unsigned)n };
    return ringo__io_wait(l, &op);
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
    /* A peer that went away must be an error return, never a SIGPIPE that
     * kills the whole process. */
    op.rq.io = (ringo__io){ .kind = RINGO_IO_SEND, .fd = fd, .p = (void *)buf,
                            .flags = flags | MSG_NOSIGNAL,
                            .len = n > RINGO_MAX_IO ? RINGO_MAX_IO : (unsigned)n };
    return ringo__io_wait(l, &op);
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
    /* Close-on-exec from the start: no window for a fork+exec to inherit it. */
    op.rq.io = (ringo__io){ .kind = RINGO_IO_ACCEPT, .fd = fd, .p = addr, .q = len,
                            .flags = flags | SOCK_CLOEXEC };
    ret = ringo__io_wait(l, &op);
    if (ret >= 0)
        ringo__fd_forget(l, ret);
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
    op.rq.io = (ringo__io){ .kind = RINGO_IO_CONNECT, .fd = fd, .p = (void *)addr, .u = len };
    return ringo__io_wait(l, &op);
}
