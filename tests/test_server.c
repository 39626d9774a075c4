/* Servers: echo round trips over TCP and Unix sockets, many clients, closing
 * (handlers cancelled and awaited), serve_forever, errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "helpers.h"

/* Line echo until EOF. */
static int echo(ringo_stream *s, void *arg)
{
    int *served = arg;
    char line[256];
    for (;;) {
        ssize_t n = ringo_stream_readline(s, line, sizeof line);
        if (n <= 0)
            return (int)n;
        if (ringo_stream_write(s, line, (size_t)n) < 0 || ringo_stream_drain(s) < 0)
            return -EPIPE;
        if (served)
            (*served)++;
    }
}

static void roundtrip(ringo_stream *c, const char *line)
{
    size_t n = strlen(line);
    cr_assert_eq(ringo_stream_write(c, line, n), (ssize_t)n);
    char buf[256];
    ssize_t got = ringo_stream_readline(c, buf, sizeof buf);
    cr_assert_eq(got, (ssize_t)n, "readline: %zd", got);
    cr_assert_eq(memcmp(buf, line, n), 0);
}

struct where { const char *bind, *connect; };

static int tcp_echo_main(void *arg)
{
    const struct where *w = arg;
    ringo_server *srv;
    int served = 0;
    int ret = ringo_start_server(&srv, w->bind, "0", echo, &served);
    cr_assert_eq(ret, 0, "start_server(%s): %s", w->bind, strerror(-ret));
    int port = ringo_server_port(srv);
    cr_assert_gt(port, 0, "port 0 means any free port");
    char ps[8];
    snprintf(ps, sizeof ps, "%d", port);
    ringo_stream *c;
    ret = ringo_open_connection(&c, w->connect, ps);
    cr_assert_eq(ret, 0, "connect(%s): %s", w->connect, strerror(-ret));
    roundtrip(c, "hello\n");
    roundtrip(c, "world\n");
    cr_assert_eq(ringo_stream_close(c), 0);
    cr_assert_eq(ringo_server_close(srv), 0);
    cr_assert_eq(served, 2);
    return 0;
}

Test(server, tcp_echo_ipv4)
{
    struct where w = { "127.0.0.1", "127.0.0.1" };
    cr_assert_eq(run_clean(tcp_echo_main, &w), 0);
}

Test(server, tcp_echo_ipv6_literal)
{
    struct where w = { "::1", "::1" };
    cr_assert_eq(run_clean(tcp_echo_main, &w), 0);
}

Test(server, tcp_echo_by_name)
{
    struct where w = { "localhost", "localhost" };
    cr_assert_eq(run_clean(tcp_echo_main, &w), 0);
}

/* No host: all interfaces, IPv4 and IPv6 alike. */
Test(server, no_host_listens_everywhere)
{
    struct where w4 = { NULL, "127.0.0.1" }, w6 = { "", "::1" };
    cr_assert_eq(run_clean(tcp_echo_main, &w4), 0);
    cr_assert_eq(run_clean(tcp_echo_main, &w6), 0);
}

static int check_fd(ringo_stream *s, void *arg)
{
    int fd = ringo_stream_fd(s);
    int on = 0;
    socklen_t len = sizeof on;
    getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len);
    *(int *)arg = ((fcntl(fd, F_GETFD) & FD_CLOEXEC) ? 1 : 0) | (on ? 2 : 0);
    return 0;
}

static int handler_fd_main(void *arg)
{
    ringo_server *srv;
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", "0", check_fd, arg), 0);
    char ps[8];
    snprintf(ps, sizeof ps, "%d", ringo_server_port(srv));
    ringo_stream *c;
    cr_assert_eq(ringo_open_connection(&c, "127.0.0.1", ps), 0);
    char b;
    cr_assert_eq(ringo_stream_read(c, &b, 1), 0, "the server closes the stream after fn");
    cr_assert_eq(ringo_stream_close(c), 0);
    cr_assert_eq(ringo_server_close(srv), 0);
    return 0;
}

Test(server, accepted_sockets_are_cloexec_and_nodelay)
{
    int flags = 0;
    cr_assert_eq(run_clean(handler_fd_main, &flags), 0);
    cr_assert_eq(flags, 3);
}

/* The server's close of the handler's stream delivers what it queued. */
static int big_writer(ringo_stream *s, void *arg)
{
    (void)arg;
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 16; i++)
        ringo_stream_write(s, chunk, sizeof chunk);
    return 0;
}

static int flush_main(void *arg)
{
    (void)arg;
    ringo_server *srv;
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", "0", big_writer, NULL), 0);
    char ps[8];
    snprintf(ps, sizeof ps, "%d", ringo_server_port(srv));
    ringo_stream *c;
    cr_assert_eq(ringo_open_connection(&c, "127.0.0.1", ps), 0);
    size_t total = 0;
    char buf[65536];
    ssize_t n;
    while ((n = ringo_stream_read(c, buf, sizeof buf)) > 0)
        total += (size_t)n;
    cr_assert_eq(n, 0);
    cr_assert_eq(total, 16u * 65536);
    cr_assert_eq(ringo_stream_close(c), 0);
    cr_assert_eq(ringo_server_close(srv), 0);
    return 0;
}

Test(server, handler_stream_closed_with_queued_bytes_sent)
{
    cr_assert_eq(run_clean(flush_main, NULL), 0);
}

struct many { char port[8]; int ok; };

static int one_client(void *arg)
{
    struct many *m = arg;
    ringo_stream *c;
    int ret = ringo_open_connection(&c, "127.0.0.1", m->port);
    if (ret < 0)
        return ret;
    char line[32], buf[32];
    int n = snprintf(line, sizeof line, "client %p\n", (void *)&c);
    for (int i = 0; i < 3; i++) {
        ringo_stream_write(c, line, (size_t)n);
        if (ringo_stream_readline(c, buf, sizeof buf) != n || memcmp(buf, line, (size_t)n)) {
            ringo_stream_close(c);
            return -EPROTO;
        }
    }
    ringo_stream_close(c);
    m->ok++;
    return 0;
}

#define NCLIENTS 200

static int many_main(void *arg)
{
    (void)arg;
    ringo_server *srv;
    int served = 0;
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", "0", echo, &served), 0);
    struct many m = { .ok = 0 };
    snprintf(m.port, sizeof m.port, "%d", ringo_server_port(srv));
    ringo_task *t[NCLIENTS];
    for (int i = 0; i < NCLIENTS; i++)
        cr_assert_eq(ringo_spawn(&t[i], one_client, &m), 0);
    int st[NCLIENTS];
    cr_assert_eq(ringo_gather(t, NCLIENTS, st), 0, "first failure: %d", st[0]);
    cr_assert_eq(m.ok, NCLIENTS);
    cr_assert_eq(served, 3 * NCLIENTS);
    cr_assert_eq(ringo_server_close(srv), 0);
    return 0;
}

Test(server, many_concurrent_clients)
{
    cr_assert_eq(run_clean(many_main, NULL), 0);
}

struct blocked { int started; ssize_t read_ret; int cleaned; };

static int blocked_handler(ringo_stream *s, void *arg)
{
    struct blocked *b = arg;
    b->started++;
    char buf[16];
    b->read_ret = ringo_stream_read(s, buf, sizeof buf);
    b->cleaned++;   /* cleanup after the cancelled read */
    return 0;
}

static int close_cancels_main(void *arg)
{
    struct blocked *b = arg;
    ringo_server *srv;
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", "0", blocked_handler, b), 0);
    char ps[8];
    snprintf(ps, sizeof ps, "%d", ringo_server_port(srv));
    ringo_stream *c[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ringo_open_connection(&c[i], "127.0.0.1", ps), 0);
    while (b->started < 3)
        cr_assert_eq(ringo_sleep(RINGO_MS(1)), 0);
    cr_assert_eq(ringo_server_close(srv), 0);
    cr_assert_eq(b->cleaned, 3, "close returns after every handler finished");
    cr_assert_eq(b->read_ret, -ECANCELED);
    for (int i = 0; i < 3; i++) {
        char x;
        cr_assert_eq(ringo_stream_read(c[i], &x, 1), 0, "the handler's stream was closed");
        cr_assert_eq(ringo_stream_close(c[i]), 0);
    }
    return 0;
}

Test(server, close_cancels_and_awaits_handlers)
{
    struct blocked b = { 0 };
    cr_assert_eq(run_clean(close_cancels_main, &b), 0);
}

static int closer(void *arg)
{
    ringo_sleep(RINGO_MS(30));
    return ringo_server_close(arg);
}

static int forever(void *arg)
{
    return ringo_server_serve_forever(arg);
}

static int serve_forever_main(void *arg)
{
    (void)arg;
    ringo_server *srv;
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", "0", echo, NULL), 0);
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, closer, srv), 0);
    cr_assert_eq(ringo_server_serve_forever(srv), 0, "returns once another task closed it");
    cr_assert_eq(ringo_await(t), 0);

    /* Cancelled: returns -ECANCELED; the server stays open for its owner. */
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", "0", echo, NULL), 0);
    cr_assert_eq(ringo_spawn(&t, forever, srv), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(10)), 0);
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    char ps[8];
    snprintf(ps, sizeof ps, "%d", ringo_server_port(srv));
    ringo_stream *c;
    cr_assert_eq(ringo_open_connection(&c, "127.0.0.1", ps), 0);
    roundtrip(c, "still serving\n");
    cr_assert_eq(ringo_stream_close(c), 0);

    /* A deadline interrupts it too. */
    int64_t old = ringo_deadline(ringo_now() + RINGO_MS(20));
    cr_assert_eq(ringo_server_serve_forever(srv), -ETIMEDOUT);
    ringo_deadline(old);
    cr_assert_eq(ringo_server_close(srv), 0);
    return 0;
}

Test(server, serve_forever_until_closed_or_cancelled)
{
    cr_assert_eq(run_clean(serve_forever_main, NULL), 0);
}

static ringo_server *self_srv;

static int closes_own_server(ringo_stream *s, void *arg)
{
    (void)arg;
    int ret = ringo_server_close(self_srv);
    ringo_stream_write(s, "bye\n", 4);
    return ret;
}

static int close_from_handler_main(void *arg)
{
    (void)arg;
    cr_assert_eq(ringo_start_server(&self_srv, "127.0.0.1", "0", closes_own_server, NULL), 0);
    char ps[8];
    snprintf(ps, sizeof ps, "%d", ringo_server_port(self_srv));
    ringo_stream *c;
    cr_assert_eq(ringo_open_connection(&c, "127.0.0.1", ps), 0);
    char buf[8];
    cr_assert_eq(ringo_stream_readline(c, buf, sizeof buf), 4, "the handler outlives its server");
    cr_assert_eq(ringo_stream_close(c), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(5)), 0);
    return 0;
}

Test(server, close_from_a_handler)
{
    cr_assert_eq(run_clean(close_from_handler_main, NULL), 0);
}

/* ---- a server main forgot to close ------------------------------------- */

struct left_open {
    ringo_sem *served;
    int port;
    int clients[5];
};

static int count_lines(ringo_stream *s, void *arg)
{
    struct left_open *lo = arg;
    char line[64];
    while (ringo_stream_readline(s, line, sizeof line) > 0)
        (void)ringo_sem_release(lo->served);
    return 0;
}

static int raw_connect(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

static int leave_server_open_main(void *arg)
{
    struct left_open *lo = arg;
    ringo_server *srv;
    cr_assert_eq(ringo_sem_new(&lo->served, 0), 0);
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", "0", count_lines, lo), 0);
    lo->port = ringo_server_port(srv);
    for (int i = 0; i < 3; i++) {   /* three clients being served... */
        lo->clients[i] = raw_connect(lo->port);
        cr_assert_geq(lo->clients[i], 0);
        cr_assert_eq(write(lo->clients[i], "hi\n", 3), 3);
    }
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ringo_sem_acquire(lo->served), 0);
    /* ...and two that connect as main returns: accepted while the loop
     * shuts down (their handlers must not start and wait forever), or not
     * accepted at all. */
    for (int i = 3; i < 5; i++) {
        lo->clients[i] = raw_connect(lo->port);
        cr_assert_geq(lo->clients[i], 0);
    }
    ringo_sem_free(lo->served);
    return 0;   /* no ringo_server_close */
}

Test(server, left_open_when_main_returns_closes_every_socket, .timeout = 60)
{
    struct left_open lo;
    int before = open_fd_count();
    cr_assert_eq(ringo_run(leave_server_open_main, &lo), 0);
    cr_assert_eq(open_fd_count(), before + 5, "the server's sockets outlived the loop");
    for (int i = 0; i < 5; i++) {
        struct pollfd p = { .fd = lo.clients[i], .events = POLLIN };
        cr_assert_eq(poll(&p, 1, 10000), 1, "client %d was never let go", i);
        char c;
        ssize_t n = read(lo.clients[i], &c, 1);
        cr_assert(n == 0 || (n < 0 && errno == ECONNRESET), "client %d: read %zd", i, n);
        close(lo.clients[i]);
    }
    cr_assert_eq(raw_connect(lo.port), -ECONNREFUSED, "still listening");
}

static int unix_main(void *arg)
{
    (void)arg;
    char dir[] = "/tmp/ringo-srv-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/echo.sock", dir);
    /* A stale socket file from a previous run is replaced. */
    int stale = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, path);
    cr_assert_eq(bind(stale, (struct sockaddr *)&sa, sizeof sa), 0);
    close(stale);
    ringo_server *srv;
    int served = 0;
    int ret = ringo_start_unix_server(&srv, path, echo, &served);
    cr_assert_eq(ret, 0, "%s", strerror(-ret));
    cr_assert_eq(ringo_server_port(srv), -EINVAL);
    ringo_stream *c;
    cr_assert_eq(ringo_open_unix_connection(&c, path), 0);
    roundtrip(c, "over unix\n");
    cr_assert_eq(ringo_stream_close(c), 0);
    cr_assert_eq(ringo_server_close(srv), 0);
    cr_assert_eq(served, 1);
    struct stat st;
    cr_assert_eq(stat(path, &st), -1, "the socket file is removed at close");

    /* A regular file at path is not ours to remove. */
    int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    close(f);
    cr_assert_eq(ringo_start_unix_server(&srv, path, echo, NULL), -EADDRINUSE);
    cr_assert_eq(stat(path, &st), 0);
    unlink(path);
    rmdir(dir);
    return 0;
}

Test(server, unix_echo_and_socket_file_lifecycle)
{
    cr_assert_eq(run_clean(unix_main, NULL), 0);
}

static int errors_main(void *arg)
{
    (void)arg;
    ringo_server *srv = (ringo_server *)0x1;
    cr_assert_eq(ringo_start_server(NULL, "127.0.0.1", "0", echo, NULL), -EINVAL);
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", "0", NULL, NULL), -EINVAL);
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", NULL, echo, NULL), -EINVAL);
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", "70000", echo, NULL), -EINVAL);
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", "nope-xyz", echo, NULL), -EINVAL);
    int ret = ringo_start_server(&srv, "no-such-host.invalid", "0", echo, NULL);
    cr_assert(ret == -ENOENT || ret == -EAGAIN, "%s", strerror(-ret));
    cr_assert_eq(ringo_start_server(&srv, "192.0.2.1", "0", echo, NULL), -EADDRNOTAVAIL);
    cr_assert_eq(ringo_start_unix_server(&srv, NULL, echo, NULL), -EINVAL);
    cr_assert_eq(ringo_start_unix_server(&srv, "/nonexistent/dir/s", echo, NULL), -ENOENT);
    cr_assert_eq(srv, (ringo_server *)0x1);
    cr_assert_eq(ringo_server_port(NULL), -EINVAL);
    cr_assert_eq(ringo_server_close(NULL), -EINVAL);
    cr_assert_eq(ringo_server_serve_forever(NULL), -EINVAL);

    /* A port in use. */
    ringo_server *a;
    cr_assert_eq(ringo_start_server(&a, "127.0.0.1", "0", echo, NULL), 0);
    char ps[8];
    snprintf(ps, sizeof ps, "%d", ringo_server_port(a));
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", ps, echo, NULL), -EADDRINUSE);
    cr_assert_eq(ringo_server_close(a), 0);
    return 0;
}

Test(server, errors_are_clear)
{
    cr_assert_eq(run_clean(errors_main, NULL), 0);
    ringo_server *srv;
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", "0", echo, NULL), -EPERM);
}
