/* Socket operations on real loopback TCP sockets. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

static int listener(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)addr, sizeof *addr), 0);
    cr_assert_eq(listen(fd, 16), 0);
    socklen_t len = sizeof *addr;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
    return fd;
}

struct pair { int lfd, cfd, afd; struct sockaddr_in addr; };

static int do_connect(void *arg)
{
    struct pair *p = arg;
    p->cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    return ringo_connect(p->cfd, (struct sockaddr *)&p->addr, sizeof p->addr);
}

/* A connected pair through ringo_accept and ringo_connect. */
static void connect_pair(struct pair *p)
{
    p->lfd = listener(&p->addr);
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, do_connect, p), 0);
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    p->afd = ringo_accept(p->lfd, (struct sockaddr *)&peer, &len, 0);
    cr_assert_geq(p->afd, 0, "accept: %s", strerror(-p->afd));
    cr_assert_eq(peer.sin_family, AF_INET);
    cr_assert_eq(ringo_await(t), 0);
}

static void close_pair(struct pair *p)
{
    cr_assert_eq(ringo_close(p->afd), 0);
    cr_assert_eq(ringo_close(p->cfd), 0);
    cr_assert_eq(ringo_close(p->lfd), 0);
}

static int roundtrip_main(void *arg)
{
    (void)arg;
    struct pair p;
    connect_pair(&p);
    cr_assert(fcntl(p.afd, F_GETFD) & FD_CLOEXEC, "accepted fds must be close-on-exec");
    cr_assert_eq(ringo_send(p.cfd, "ping", 4, 0), 4);
    char buf[8] = { 0 };
    cr_assert_eq(ringo_recv(p.afd, buf, sizeof buf, 0), 4);
    cr_assert_str_eq(buf, "ping");
    struct iovec out[2] = { { "ab", 2 }, { "cd", 2 } };
    cr_assert_eq(ringo_writev(p.afd, out, 2, -1), 4);
    char x[2], y[2];
    struct iovec in[2] = { { x, 2 }, { y, 2 } };
    cr_assert_eq(ringo_readv(p.cfd, in, 2, -1), 4);
    cr_assert_eq(memcmp(x, "ab", 2), 0);
    cr_assert_eq(memcmp(y, "cd", 2), 0);
    cr_assert_eq(ringo_poll(p.afd, POLLOUT) & POLLOUT, POLLOUT);
    cr_assert_eq(ringo_close(p.cfd), 0);
    cr_assert_eq(ringo_recv(p.afd, buf, sizeof buf, 0), 0, "EOF after the peer closed");
    cr_assert_eq(ringo_close(p.afd), 0);
    cr_assert_eq(ringo_close(p.lfd), 0);
    return 0;
}

Test(sock, accept_connect_send_recv_readv_writev_poll_close)
{
    cr_assert_eq(run_clean(roundtrip_main, NULL), 0);
}

static int epipe_main(void *arg)
{
    (void)arg;
    struct pair p;
    connect_pair(&p);
    cr_assert_eq(ringo_close(p.cfd), 0);
    static char big[1 << 16];
    ssize_t ret = 0;
    for (int i = 0; i < 64 && ret >= 0; i++)
        ret = ringo_send(p.afd, big, sizeof big, 0);
    cr_assert(ret == -EPIPE || ret == -ECONNRESET, "send to a closed peer: %zd", ret);
    p.cfd = socket(AF_INET, SOCK_STREAM, 0);   /* for close_pair */
    close_pair(&p);
    return 0;
}

Test(sock, send_to_a_closed_peer_is_an_error_not_sigpipe)
{
    cr_assert_eq(signal(SIGPIPE, SIG_DFL), SIG_DFL, "SIGPIPE must be at its default");
    cr_assert_eq(run_clean(epipe_main, NULL), 0);
}

static int refused_main(void *arg)
{
    (void)arg;
    struct sockaddr_in addr;
    int lfd = listener(&addr);
    close(lfd);   /* nobody listens on that port now */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(ringo_connect(fd, (struct sockaddr *)&addr, sizeof addr), -ECONNREFUSED);
    cr_assert_eq(ringo_close(fd), 0);
    return 0;
}

Test(sock, connect_refused)
{
    cr_assert_eq(run_clean(refused_main, NULL), 0);
}

struct blocked { int fd; char buf[16]; int ret; };

static int blocked_recv(void *arg)
{
    struct blocked *b = arg;
    char local[16];
    memset(local, 'Q', sizeof local);
    b->ret = (int)ringo_recv(b->fd, local, sizeof local, 0);
    memcpy(b->buf, local, sizeof local);
    return 0;
}

static int blocked_accept(void *arg)
{
    struct blocked *b = arg;
    b->ret = ringo_accept(b->fd, NULL, NULL, 0);
    return 0;
}

static int cancel_main(void *arg)
{
    (void)arg;
    struct pair p;
    connect_pair(&p);
    struct blocked r = { .fd = p.afd }, a = { .fd = p.lfd };
    ringo_task *tr, *ta;
    cr_assert_eq(ringo_spawn(&tr, blocked_recv, &r), 0);
    cr_assert_eq(ringo_spawn(&ta, blocked_accept, &a), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_cancel(tr), 0);
    cr_assert_eq(ringo_cancel(ta), 0);
    cr_assert_eq(ringo_await(tr), -ECANCELED);
    cr_assert_eq(ringo_await(ta), -ECANCELED);
    cr_assert_eq(r.ret, -ECANCELED);
    cr_assert_eq(a.ret, -ECANCELED);
    for (size_t i = 0; i < sizeof r.buf; i++)
        cr_assert_eq(r.buf[i], 'Q');
    /* Nothing was consumed by the cancelled recv. */
    cr_assert_eq(ringo_send(p.cfd, "late", 4, 0), 4);
    char buf[8] = { 0 };
    cr_assert_eq(ringo_recv(p.afd, buf, sizeof buf, 0), 4);
    close_pair(&p);
    return 0;
}

Test(sock, recv_and_accept_are_cancellable)
{
    cr_assert_eq(run_clean(cancel_main, NULL), 0);
}

static int close_cancelled(void *arg)
{
    int fd = *(int *)arg;
    ringo_cancel(ringo_self());
    cr_assert_eq(ringo_sleep(1), -ECANCELED);
    cr_assert_eq(ringo_close(fd), 0, "close still works while unwinding");
    return 0;
}

Test(sock, close_works_in_a_cancelled_task_and_outside_a_loop)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    int before = open_fd_count();
    cr_assert_eq(ringo_run(close_cancelled, &fds[0]), -ECANCELED);
    cr_assert_eq(open_fd_count(), before - 1);
    cr_assert_eq(fcntl(fds[0], F_GETFD), -1, "the descriptor must be closed");
    cr_assert_eq(ringo_close(fds[1]), 0);
    cr_assert_eq(fcntl(fds[1], F_GETFD), -1);
}

static int bad_main(void *arg)
{
    (void)arg;
    char buf[4];
    cr_assert_eq(ringo_recv(-1, buf, 4, 0), -EBADF);
    cr_assert_eq(ringo_send(-1, buf, 4, 0), -EBADF);
    cr_assert_eq(ringo_send(0, NULL, 4, 0), -EINVAL);
    cr_assert_eq(ringo_accept(-1, NULL, NULL, 0), -EBADF);
    cr_assert_eq(ringo_accept(0, NULL, NULL, 0x40000000), -EINVAL);
    cr_assert_eq(ringo_connect(0, NULL, 0), -EINVAL);
    cr_assert_eq(ringo_poll(-1, POLLIN), -EBADF);
    cr_assert_eq(ringo_close(-1), -EBADF);
    cr_assert_eq(ringo_readv(0, NULL, 1, -1), -EINVAL);
    cr_assert_eq(ringo_writev(1, NULL, -1, -1), -EINVAL);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(ringo_recv(fds[0], buf, 4, 0), -ENOTSOCK);
    cr_assert_eq(ringo_close(fds[0]), 0);
    cr_assert_eq(ringo_close(fds[1]), 0);
    return 0;
}

Test(sock, bad_arguments_are_errors)
{
    cr_assert_eq(run_clean(bad_main, NULL), 0);
}
