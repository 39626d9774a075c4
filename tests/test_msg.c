/* Message operations (recvmsg, sendmsg, recvfrom, sendto) on real UDP and
 * stream sockets, on whichever backend the run picks. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

/* Two UDP sockets on 127.0.0.1; a[i] is bound at addr[i]. */
struct pair {
    int fd[2];
    struct sockaddr_in addr[2];
};

static void pair_open(struct pair *p)
{
    for (int i = 0; i < 2; i++) {
        p->fd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(p->fd[i], 0);
        p->addr[i] = (struct sockaddr_in){ .sin_family = AF_INET,
                                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        cr_assert_eq(bind(p->fd[i], (struct sockaddr *)&p->addr[i], sizeof p->addr[i]), 0);
        socklen_t len = sizeof p->addr[i];
        cr_assert_eq(getsockname(p->fd[i], (struct sockaddr *)&p->addr[i], &len), 0);
    }
}

static void pair_close(struct pair *p)
{
    close(p->fd[0]);
    close(p->fd[1]);
}

static int sendto_recvfrom_main(void *arg)
{
    struct pair *p = arg;
    const struct sockaddr *to = (const struct sockaddr *)&p->addr[1];
    cr_assert_eq(ringo_sendto(p->fd[0], "hello", 5, 0, to, sizeof p->addr[1]), 5);
    cr_assert_eq(ringo_sendto(p->fd[0], "", 0, 0, to, sizeof p->addr[1]), 0);
    char buf[16] = { 0 };
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof from;
    cr_assert_eq(ringo_recvfrom(p->fd[1], buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen),
                 5);
    cr_assert_str_eq(buf, "hello");
    cr_assert_eq(fromlen, sizeof(struct sockaddr_in));
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&from;
    cr_assert_eq(sin->sin_port, p->addr[0].sin_port, "the sender's address comes back");
    /* An empty datagram is a datagram; no address wanted is fine too. */
    cr_assert_eq(ringo_recvfrom(p->fd[1], buf, sizeof buf, 0, NULL, NULL), 0);
    /* MSG_TRUNC: cut at the room, the full length returned. */
    cr_assert_eq(ringo_sendto(p->fd[0], "0123456789", 10, 0, to, sizeof p->addr[1]), 10);
    memset(buf, 0, sizeof buf);
    cr_assert_eq(ringo_recvfrom(p->fd[1], buf, 4, MSG_TRUNC, NULL, NULL), 10);
    cr_assert_str_eq(buf, "0123");
    return 0;
}

Test(msg, sendto_and_recvfrom_carry_datagrams_and_addresses)
{
    struct pair p;
    pair_open(&p);
    cr_assert_eq(run_clean(sendto_recvfrom_main, &p), 0);
    pair_close(&p);
}

static int iov_pktinfo_main(void *arg)
{
    struct pair *p = arg;
    int one = 1;
    cr_assert_eq(setsockopt(p->fd[1], IPPROTO_IP, IP_PKTINFO, &one, sizeof one), 0);
    struct iovec out[3] = { { "ab", 2 }, { "", 0 }, { "cde", 3 } };
    struct msghdr m = { .msg_name = &p->addr[1], .msg_namelen = sizeof p->addr[1],
                        .msg_iov = out, .msg_iovlen = 3 };
    cr_assert_eq(ringo_sendmsg(p->fd[0], &m, 0), 5);
    char a[2] = { 0 }, b[8] = { 0 };
    struct iovec in[2] = { { a, sizeof a }, { b, sizeof b } };
    union {
        char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
        struct cmsghdr align;
    } ctl;
    struct sockaddr_in from;
    struct msghdr r = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = in,
                        .msg_iovlen = 2, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
    cr_assert_eq(ringo_recvmsg(p->fd[1], &r, 0), 5);
    cr_assert_eq(memcmp(a, "ab", 2), 0);
    cr_assert_str_eq(b, "cde", "the iovecs are filled in order");
    cr_assert_eq(from.sin_port, p->addr[0].sin_port);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&r);
    cr_assert_not_null(cm, "the control message arrived");
    cr_assert_eq(cm->cmsg_level, IPPROTO_IP);
    cr_assert_eq(cm->cmsg_type, IP_PKTINFO);
    struct in_pktinfo pi;
    memcpy(&pi, CMSG_DATA(cm), sizeof pi);
    cr_assert_eq(pi.ipi_addr.s_addr, htonl(INADDR_LOOPBACK));
    return 0;
}

Test(msg, sendmsg_gathers_iovecs_and_recvmsg_gets_pktinfo)
{
    struct pair p;
    pair_open(&p);
    cr_assert_eq(run_clean(iov_pktinfo_main, &p), 0);
    pair_close(&p);
}

static int bad_main(void *arg)
{
    struct pair *p = arg;
    char buf[8];
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    struct iovec iov = { buf, sizeof buf };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    cr_assert_eq(ringo_recvmsg(-1, &m, 0), -EBADF);
    cr_assert_eq(ringo_sendmsg(-1, &m, 0), -EBADF);
    cr_assert_eq(ringo_recvfrom(-1, buf, 1, 0, NULL, NULL), -EBADF);
    cr_assert_eq(ringo_sendto(-1, buf, 1, 0, NULL, 0), -EBADF);
    cr_assert_eq(ringo_recvmsg(p->fd[0], NULL, 0), -EINVAL);
    cr_assert_eq(ringo_sendmsg(p->fd[0], NULL, 0), -EINVAL);
    struct msghdr no_iov = { .msg_iovlen = 2 };
    cr_assert_eq(ringo_recvmsg(p->fd[0], &no_iov, 0), -EINVAL);
    struct msghdr no_ctl = { .msg_iov = &iov, .msg_iovlen = 1, .msg_controllen = 16 };
    cr_assert_eq(ringo_sendmsg(p->fd[0], &no_ctl, 0), -EINVAL);
    struct msghdr no_name = { .msg_iov = &iov, .msg_iovlen = 1, .msg_namelen = 16 };
    cr_assert_eq(ringo_recvmsg(p->fd[0], &no_name, 0), -EINVAL);
    cr_assert_eq(ringo_recvfrom(p->fd[0], buf, 1, 0, (struct sockaddr *)&ss, NULL), -EINVAL);
    cr_assert_eq(ringo_recvfrom(p->fd[0], buf, 1, 0, NULL, &len), -EINVAL);
    cr_assert_eq(ringo_recvfrom(p->fd[0], NULL, 1, 0, NULL, NULL), -EINVAL);
    cr_assert_eq(ringo_sendto(p->fd[0], NULL, 1, 0, NULL, 0), -EINVAL);
    cr_assert_eq(ringo_sendto(p->fd[0], buf, 1, 0, (struct sockaddr *)&ss, 0), -EINVAL);
    cr_assert_eq(ringo_sendto(p->fd[0], buf, 1, 0, NULL, 16), -EINVAL);
    /* What only the kernel can tell: no address on an unconnected socket, a
     * descriptor that is no socket, one that is closed. */
    cr_assert_eq(ringo_sendto(p->fd[0], buf, 1, 0, NULL, 0), -EDESTADDRREQ);
    cr_assert_eq(ringo_sendmsg(0, &m, 0), -ENOTSOCK);
    cr_assert_eq(ringo_recvfrom(1000000, buf, 1, 0, NULL, NULL), -EBADF);
    return 0;
}

Test(msg, bad_input_is_an_error)
{
    struct pair p;
    pair_open(&p);
    cr_assert_eq(run_clean(bad_main, &p), 0);
    char buf[4];
    struct iovec iov = { buf, sizeof buf };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    cr_assert_eq(ringo_recvmsg(p.fd[0], &m, 0), -EPERM, "outside a task");
    cr_assert_eq(ringo_sendto(p.fd[0], buf, 1, 0, NULL, 0), -EPERM);
    pair_close(&p);
}

static int recv_task(void *arg)
{
    char buf[8];
    return (int)ringo_recvfrom(*(int *)arg, buf, sizeof buf, 0, NULL, NULL);
}

static int cancel_deadline_main(void *arg)
{
    struct pair *p = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, recv_task, &p->fd[1]), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(10)), 0);
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED, "a waiting recvfrom is cancelled");
    cr_assert_eq(ringo_spawn(&t, recv_task, &p->fd[1]), 0);
    int64_t t0 = ringo_now();
    cr_assert_eq(ringo_wait_for(t, RINGO_MS(20)), -ETIMEDOUT);
    cr_assert_geq(ringo_now() - t0, RINGO_MS(20));
    /* A task deadline cuts a recvmsg too. */
    char buf[4];
    struct iovec iov = { buf, sizeof buf };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    ringo_deadline(ringo_now() + RINGO_MS(10));
    cr_assert_eq(ringo_recvmsg(p->fd[1], &m, 0), -ETIMEDOUT);
    ringo_deadline(INT64_MAX);
    /* The socket still works afterwards: nothing was lost or left armed. */
    cr_assert_eq(ringo_sendto(p->fd[0], "x", 1, 0, (struct sockaddr *)&p->addr[1],
                              sizeof p->addr[1]), 1);
    cr_assert_eq(ringo_recvmsg(p->fd[1], &m, 0), 1);
    return 0;
}

Test(msg, a_waiting_receive_is_cancelled_or_times_out)
{
    struct pair p;
    pair_open(&p);
    cr_assert_eq(run_clean(cancel_deadline_main, &p), 0);
    pair_close(&p);
}

static int nosignal_main(void *arg)
{
    int *sv = arg;
    struct iovec iov = { "x", 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    /* No SIGPIPE (the default would kill the test): EPIPE. */
    cr_assert_eq(ringo_sendmsg(sv[0], &m, 0), -EPIPE);
    cr_assert_eq(ringo_sendto(sv[0], "x", 1, 0, NULL, 0), -EPIPE);
    return 0;
}

Test(msg, sends_never_raise_sigpipe)
{
    signal(SIGPIPE, SIG_DFL);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    close(sv[1]);
    cr_assert_eq(run_clean(nosignal_main, sv), 0);
    close(sv[0]);
}

struct flood {
    int fd;
    int sent;
};

static int flood_task(void *arg)
{
    struct flood *f = arg;
    for (; f->sent < 200; f->sent++) {
        struct iovec iov = { &f->sent, sizeof f->sent };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t r = ringo_sendmsg(f->fd, &m, 0);
        if (r < 0)
            return (int)r;
    }
    return 0;
}

/* A datagram socket whose send buffer is full (the smallest there is)
 * suspends the sender alone: the loop's other tasks run, and the reader
 * that drains it gets every datagram, in order. */
static int full_main(void *arg)
{
    int *sv = arg;
    struct flood f = { .fd = sv[0] };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, flood_task, &f), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(20)), 0);
    cr_assert_lt(f.sent, 200, "the sender waits for room (%d sent)", f.sent);
    cr_assert(!ringo_task_done(t));
    for (int i = 0; i < 200; i++) {
        int v = -1;
        cr_assert_eq(ringo_recvfrom(sv[1], &v, sizeof v, 0, NULL, NULL), (ssize_t)sizeof v);
        cr_assert_eq(v, i);
    }
    cr_assert_eq(ringo_await(t), 0);
    return 0;
}

Test(msg, a_full_socket_suspends_only_the_sender)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
    int one = 1;
    cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof one), 0);
    cr_assert_eq(run_clean(full_main, sv), 0);
    close(sv[0]);
    close(sv[1]);
}
