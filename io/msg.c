/* Message operations (recvmsg, sendmsg, recvfrom, sendto): each one
 * operation of the loop's backend on the calling task, as io/fd.c's. */
#include <limits.h>
#include <sys/socket.h>

#include "engine/backend.h"

/* A msghdr the kernel would reject, or that points at nothing. */
static int check_msg(int fd, const struct msghdr *msg)
{
    if (fd < 0)
        return -EBADF;
    if (!msg || msg->msg_iovlen > IOV_MAX || (!msg->msg_iov && msg->msg_iovlen) ||
        (!msg->msg_control && msg->msg_controllen) || (!msg->msg_name && msg->msg_namelen))
        return -EINVAL;
    return 0;
}

static ssize_t msg_op(uint8_t kind, int fd, const struct msghdr *msg, int flags)
{
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    ringo__op op;
    op.rq.io = (ringo__io){ .kind = kind, .fd = fd, .p = (void *)msg, .flags = flags };
    return ringo__io_wait(l, &op);
}

ssize_t ringo_recvmsg(int fd, struct msghdr *msg, int flags)
{
    int ret = check_msg(fd, msg);
    return ret < 0 ? ret : msg_op(RINGO_IO_RECVMSG, fd, msg, flags);
}

ssize_t ringo_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    int ret = check_msg(fd, msg);
    return ret < 0 ? ret : msg_op(RINGO_IO_SENDMSG, fd, msg, flags | MSG_NOSIGNAL);
}

/* Lengths in the backend are 32-bit; like recv(2), cap a single transfer. */
static size_t cap(size_t n) { return n > 0x7ffff000u ? 0x7ffff000u : n; }

ssize_t ringo_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
                       socklen_t *fromlen)
{
    if (fd < 0)
        return -EBADF;
    if ((!buf && n) || !from != !fromlen)
        return -EINVAL;
    struct iovec iov = { .iov_base = buf, .iov_len = cap(n) };
    struct msghdr msg = { .msg_name = from, .msg_namelen = fromlen ? *fromlen : 0,
                          .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t ret = msg_op(RINGO_IO_RECVMSG, fd, &msg, flags);
    if (ret >= 0 && fromlen)
        *fromlen = msg.msg_namelen;
    return ret;
}

ssize_t ringo_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
                     socklen_t tolen)
{
    if (fd < 0)
        return -EBADF;
    if ((!buf && n) || !to != !tolen)
        return -EINVAL;
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = cap(n) };
    struct msghdr msg = { .msg_name = (void *)to, .msg_namelen = tolen, .msg_iov = &iov,
                          .msg_iovlen = 1 };
    return msg_op(RINGO_IO_SENDMSG, fd, &msg, flags | MSG_NOSIGNAL);
}
