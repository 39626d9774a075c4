/* Servers: echo round trips over TCP and Unix sockets, many clients, closing
 * (handlers cancelled and awaited), serve_forever, errors; options, and
 * servers on two loops (REUSEPORT, SPREAD). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

/* ---- options ------------------------------------------------------------- */

static int opts_main(void *arg)
{
    (void)arg;
    ringo_server *srv = (ringo_server *)0x1;
    const ringo_server_opts bad[] = {
        { .flags = RINGO_SERVER_REUSEPORT | RINGO_SERVER_SPREAD },
        { .flags = 0x4 },
        { .flags = RINGO_SERVER_SPREAD | 0x80000000u },
        { .backlog = -1 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(ringo_start_server_opts(&srv, "127.0.0.1", "0", &bad[i], echo, NULL),
                     -EINVAL, "bad opts #%zu", i);
    cr_assert_eq(srv, (ringo_server *)0x1, "written only on success");

    /* NULL opts, a backlog, SPREAD under ringo_run: plain servers. */
    const ringo_server_opts good[] = {
        { .backlog = 0 }, { .backlog = 16 }, { .flags = RINGO_SERVER_SPREAD },
    };
    for (size_t i = 0; i <= sizeof good / sizeof good[0]; i++) {
        const ringo_server_opts *o = i ? &good[i - 1] : NULL;
        int served = 0;
        cr_assert_eq(ringo_start_server_opts(&srv, "127.0.0.1", "0", o, echo, &served), 0);
        char ps[8];
        snprintf(ps, sizeof ps, "%d", ringo_server_port(srv));
        ringo_stream *c;
        cr_assert_eq(ringo_open_connection(&c, "127.0.0.1", ps), 0);
        roundtrip(c, "opts\n");
        cr_assert_eq(ringo_stream_close(c), 0);
        cr_assert_eq(ringo_server_close(srv), 0);
        cr_assert_eq(served, 1);
    }

    /* REUSEPORT: a second listener on the same port, only if both ask. */
    const ringo_server_opts rp = { .flags = RINGO_SERVER_REUSEPORT };
    ringo_server *a, *b;
    cr_assert_eq(ringo_start_server_opts(&a, "127.0.0.1", "0", &rp, echo, NULL), 0);
    char ps[8];
    snprintf(ps, sizeof ps, "%d", ringo_server_port(a));
    cr_assert_eq(ringo_start_server(&b, "127.0.0.1", ps, echo, NULL), -EADDRINUSE);
    cr_assert_eq(ringo_start_server_opts(&b, "127.0.0.1", ps, &rp, echo, NULL), 0);
    cr_assert_eq(ringo_server_port(b), ringo_server_port(a));
    cr_assert_eq(ringo_server_close(b), 0);
    cr_assert_eq(ringo_server_close(a), 0);
    return 0;
}

Test(server, opts_are_checked_and_spread_on_one_loop_is_plain)
{
    cr_assert_eq(run_clean(opts_main, NULL), 0);
    ringo_server *srv;
    cr_assert_eq(ringo_start_server_opts(&srv, "127.0.0.1", "0", NULL, echo, NULL), -EPERM);
}

/* ---- servers on two loops ---------------------------------------------------
 * Loop threads must not call cr_assert: CHECK records the first failed line
 * and fails the task, which (in a main) cancels the other loop's main. */

static _Atomic int check_line;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            int zero_ = 0;                                                              \
            atomic_compare_exchange_strong(&check_line, &zero_, __LINE__);              \
            return -EPROTO;                                                             \
        }                                                                               \
    } while (0)

static void raise_fd_limit(rlim_t want)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur >= want)
        return;
    if (rl.rlim_max < want)
        cr_skip_test("needs %lu descriptors, the hard limit is %lu", (unsigned long)want,
                     (unsigned long)rl.rlim_max);
    rl.rlim_cur = want;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

/* ringo_run_loops(2), then: no failed CHECK, no descriptor left but `kept`
 * (sockets the test itself still holds). */
static int run_two_loops(ringo_fn fn, void *arg, int kept)
{
    atomic_store(&check_line, 0);
    int before = open_fd_count();
    int ret = ringo_run_loops(NULL, 2, fn, arg);
    cr_assert_eq(atomic_load(&check_line), 0, "CHECK failed on line %d", atomic_load(&check_line));
    cr_assert_eq(open_fd_count(), before + kept, "ringo_run_loops leaked descriptors");
    return ret;
}

/* Poll the process's descriptor count until it is `want` (a socket closed
 * in a cancelled task goes once its ops are reaped), for at most 5 s. */
static bool fd_count_becomes(int want)
{
    int64_t until = ringo_now() + RINGO_SEC(5);
    while (open_fd_count() != want && ringo_now() < until)
        (void)ringo_sleep(RINGO_MS(1));
    return open_fd_count() == want;
}

#define NCONN 1000

/* One request per connection: the reply names the loop that served it. */
static int whoami(ringo_stream *s, void *arg)
{
    _Atomic unsigned *served = arg;
    char line[16];
    if (ringo_stream_readline(s, line, sizeof line) <= 0)
        return 0;
    unsigned me = ringo_loop_index();
    atomic_fetch_add(&served[me], 1);
    char reply[4] = { (char)('0' + me), '\n' };
    ringo_stream_write(s, reply, 2);
    return 0;
}

struct rp {
    ringo_event *port_known;    /* loop 0 -> 1 */
    ringo_event *listening;     /* loop 1 -> 0 */
    ringo_event *stop;          /* loop 0 -> 1 */
    char port[8];
    _Atomic unsigned served[2];
    _Atomic unsigned replies[2];
};

static int rp_client(void *arg)
{
    struct rp *r = arg;
    for (int i = 0; i < NCONN / 50; i++) {
        ringo_stream *c;
        int ret = ringo_open_connection(&c, "127.0.0.1", r->port);
        if (ret < 0)
            return ret;
        char buf[8];
        ringo_stream_write(c, "who\n", 4);
        ssize_t n = ringo_stream_readline(c, buf, sizeof buf);
        ringo_stream_close(c);
        CHECK(n == 2 && (buf[0] == '0' || buf[0] == '1'));
        atomic_fetch_add(&r->replies[buf[0] - '0'], 1);
    }
    return 0;
}

static int reuseport_main(void *arg)
{
    struct rp *r = arg;
    const ringo_server_opts o = { .flags = RINGO_SERVER_REUSEPORT };
    ringo_server *srv;
    if (ringo_loop_index() == 1) {
        CHECK(ringo_event_wait(r->port_known) == 0);
        CHECK(ringo_start_server_opts(&srv, "127.0.0.1", r->port, &o, whoami, r->served) == 0);
        ringo_event_set(r->listening);
        CHECK(ringo_event_wait(r->stop) == 0);
        CHECK(ringo_server_close(srv) == 0);
        return 0;
    }
    CHECK(ringo_start_server_opts(&srv, "127.0.0.1", "0", &o, whoami, r->served) == 0);
    snprintf(r->port, sizeof r->port, "%d", ringo_server_port(srv));
    ringo_event_set(r->port_known);
    CHECK(ringo_event_wait(r->listening) == 0);
    ringo_task *t[50];
    for (int i = 0; i < 50; i++)
        CHECK(ringo_spawn(&t[i], rp_client, r) == 0);
    int st[50];
    int ret = ringo_gather(t, 50, st);
    ringo_event_set(r->stop);
    CHECK(ret == 0);
    CHECK(ringo_server_close(srv) == 0);
    return 0;
}

Test(server, reuseport_on_two_loops_shares_the_connections, .timeout = 60)
{
    struct rp r = { .port = "" };
    cr_assert_eq(ringo_event_new(&r.port_known), 0);
    cr_assert_eq(ringo_event_new(&r.listening), 0);
    cr_assert_eq(ringo_event_new(&r.stop), 0);
    cr_assert_eq(run_two_loops(reuseport_main, &r, 0), 0);
    unsigned s0 = atomic_load(&r.served[0]), s1 = atomic_load(&r.served[1]);
    cr_assert_eq(s0 + s1, NCONN, "served %u + %u", s0, s1);
    cr_assert_eq(atomic_load(&r.replies[0]), s0);
    cr_assert_eq(atomic_load(&r.replies[1]), s1);
    cr_assert(s0 > 0 && s1 > 0, "the kernel gave every connection to one loop: %u / %u", s0, s1);
    ringo_event_free(r.port_known);
    ringo_event_free(r.listening);
    ringo_event_free(r.stop);
}

/* SPREAD: handlers that hold their connection until the client closes it,
 * so every connection is live when the next one is handed out. */
struct sp {
    ringo_server *srv;
    ringo_event *ready;         /* loop 0 -> 1: srv is set */
    ringo_event *all_in;        /* the handler that makes `started` reach `want` */
    ringo_event *all_out;       /* the handler that makes `ended` reach `want` */
    ringo_event *stop;          /* loop 0 -> 1 */
    char port[8];
    unsigned want;
    _Atomic unsigned started, ended, cancelled;
    _Atomic unsigned on[2];     /* handlers started per loop */
};

static int hold(ringo_stream *s, void *arg)
{
    struct sp *p = arg;
    atomic_fetch_add(&p->on[ringo_loop_index()], 1);
    if (atomic_fetch_add(&p->started, 1) + 1 == p->want)
        ringo_event_set(p->all_in);
    char buf[16];
    ssize_t n;
    while ((n = ringo_stream_read(s, buf, sizeof buf)) > 0)
        ;
    if (n == -ECANCELED)
        atomic_fetch_add(&p->cancelled, 1);
    if (atomic_fetch_add(&p->ended, 1) + 1 == p->want)
        ringo_event_set(p->all_out);
    return 0;
}

static struct sp *sp_new(unsigned want)
{
    struct sp *p = calloc(1, sizeof *p);
    cr_assert_not_null(p);
    p->want = want;
    cr_assert_eq(ringo_event_new(&p->ready), 0);
    cr_assert_eq(ringo_event_new(&p->all_in), 0);
    cr_assert_eq(ringo_event_new(&p->all_out), 0);
    cr_assert_eq(ringo_event_new(&p->stop), 0);
    return p;
}

static void sp_free(struct sp *p)
{
    ringo_event_free(p->ready);
    ringo_event_free(p->all_in);
    ringo_event_free(p->all_out);
    ringo_event_free(p->stop);
    free(p);
}

static int sp_start(struct sp *p)
{
    const ringo_server_opts o = { .flags = RINGO_SERVER_SPREAD };
    CHECK(ringo_start_server_opts(&p->srv, "127.0.0.1", "0", &o, hold, p) == 0);
    snprintf(p->port, sizeof p->port, "%d", ringo_server_port(p->srv));
    ringo_event_set(p->ready);
    return 0;
}

/* Loop 1's main in the SPREAD tests: a server of loop 0 cannot be closed or
 * served from here; then wait to be told to stop. */
static int sp_loop1(struct sp *p)
{
    CHECK(ringo_event_wait(p->ready) == 0);
    CHECK(ringo_server_close(p->srv) == -EXDEV);
    CHECK(ringo_server_serve_forever(p->srv) == -EXDEV);
    CHECK(ringo_event_wait(p->stop) == 0);
    return 0;
}

static int wait_bounded(ringo_event *e)
{
    int64_t old = ringo_deadline(ringo_now() + RINGO_SEC(10));
    int ret = ringo_event_wait(e);
    ringo_deadline(old);
    return ret;
}

static int spread_balance_main(void *arg)
{
    struct sp *p = arg;
    if (ringo_loop_index() == 1)
        return sp_loop1(p);
    int ret = sp_start(p);
    if (ret < 0)
        return ret;
    ringo_stream **c = calloc(NCONN, sizeof *c);
    CHECK(c);
    int opened = 0;
    while (opened < NCONN && ringo_open_connection(&c[opened], "127.0.0.1", p->port) == 0)
        opened++;
    ret = opened == NCONN ? wait_bounded(p->all_in) : -EIO;
    for (int i = 0; i < opened; i++)
        ringo_stream_close(c[i]);
    free(c);
    CHECK(ret == 0);
    CHECK(wait_bounded(p->all_out) == 0);   /* every handler saw its EOF */
    CHECK(ringo_server_close(p->srv) == 0);
    CHECK(atomic_load(&p->cancelled) == 0);
    ringo_event_set(p->stop);
    return 0;
}

Test(server, spread_balances_live_connections_over_the_loops, .timeout = 60)
{
    raise_fd_limit(2 * NCONN + 200);
    struct sp *p = sp_new(NCONN);
    cr_assert_eq(run_two_loops(spread_balance_main, p, 0), 0);
    unsigned a = atomic_load(&p->on[0]), b = atomic_load(&p->on[1]);
    cr_assert_eq(a + b, NCONN);
    /* Within 10% of an even split (with every connection live, the counts
     * alternate: exactly 500 each). */
    cr_assert(a >= NCONN * 45 / 100 && b >= NCONN * 45 / 100, "loop 0: %u, loop 1: %u", a, b);
    sp_free(p);
}

#define NHELD 20

static int spread_close_main(void *arg)
{
    struct sp *p = arg;
    if (ringo_loop_index() == 1)
        return sp_loop1(p);
    int ret = sp_start(p);
    if (ret < 0)
        return ret;
    ringo_stream *c[NHELD];
    for (int i = 0; i < NHELD; i++)
        CHECK(ringo_open_connection(&c[i], "127.0.0.1", p->port) == 0);
    CHECK(wait_bounded(p->all_in) == 0);
    CHECK(atomic_load(&p->on[0]) > 0 && atomic_load(&p->on[1]) > 0);
    /* Ours, the handlers' and the listener. */
    int fds = open_fd_count();
    CHECK(ringo_server_close(p->srv) == 0);
    CHECK(atomic_load(&p->ended) == NHELD);
    CHECK(atomic_load(&p->cancelled) == NHELD);
    for (int i = 0; i < NHELD; i++) {
        char x;
        CHECK(ringo_stream_read(c[i], &x, 1) == 0);
    }
    CHECK(fd_count_becomes(fds - NHELD - 1));
    for (int i = 0; i < NHELD; i++)
        CHECK(ringo_stream_close(c[i]) == 0);
    ringo_event_set(p->stop);
    return 0;
}

Test(server, spread_close_cancels_and_awaits_handlers_on_every_loop, .timeout = 60)
{
    struct sp *p = sp_new(NHELD);
    cr_assert_eq(run_two_loops(spread_close_main, p, 0), 0);
    cr_assert_eq(atomic_load(&p->on[0]) + atomic_load(&p->on[1]), NHELD);
    sp_free(p);
}

/* A SPREAD server main forgot to close: loop 0's close cancels the handlers
 * on loop 1 too, and every socket goes. Loop 1 stays up until its handlers
 * are gone, so it is loop 0 that stopped them. */
static _Atomic bool main0_returned;
static int clients[NHELD];

static int spread_left_open_main(void *arg)
{
    struct sp *p = arg;
    if (ringo_loop_index() == 1) {
        CHECK(ringo_event_wait(p->ready) == 0);
        int64_t until = ringo_now() + RINGO_SEC(10);
        while (!atomic_load(&main0_returned) || atomic_load(&p->ended) < atomic_load(&p->started))
            CHECK(ringo_now() < until && ringo_sleep(RINGO_MS(1)) == 0);
        return 0;
    }
    int ret = sp_start(p);
    if (ret < 0)
        return ret;
    for (int i = 0; i < NHELD; i++)
        CHECK((clients[i] = raw_connect(ringo_server_port(p->srv))) >= 0);
    CHECK(wait_bounded(p->all_in) == 0);
    atomic_store(&main0_returned, true);
    return 0;   /* no ringo_server_close */
}

Test(server, spread_left_open_when_main_returns_stops_handlers_on_every_loop, .timeout = 60)
{
    struct sp *p = sp_new(NHELD);
    atomic_store(&main0_returned, false);
    cr_assert_eq(run_two_loops(spread_left_open_main, p, NHELD), 0);
    cr_assert_eq(atomic_load(&p->on[0]) + atomic_load(&p->on[1]), NHELD);
    cr_assert_gt(atomic_load(&p->on[1]), 0);
    cr_assert_eq(atomic_load(&p->cancelled), NHELD);
    for (int i = 0; i < NHELD; i++) {
        struct pollfd pf = { .fd = clients[i], .events = POLLIN };
        cr_assert_eq(poll(&pf, 1, 10000), 1, "client %d was never let go", i);
        char c;
        ssize_t n = read(clients[i], &c, 1);
        cr_assert(n == 0 || (n < 0 && errno == ECONNRESET), "client %d: read %zd", i, n);
        close(clients[i]);
    }
    sp_free(p);
}

/* A handler handed to loop 1 that is cancelled before it could start (loop
 * 1 is stuck meanwhile, so the spawn waits in its inbox) never runs: its
 * socket is closed by the server's loop all the same. Loop 0 releases loop
 * 1 from a leftover task, which runs only once loop 0's close has cancelled
 * everything. */
static _Atomic bool loop1_stuck, loop1_release;

static int releaser(void *arg)
{
    (void)arg;
    (void)ringo_sleep(RINGO_SEC(30));   /* until loop 0 closes */
    atomic_store(&loop1_release, true);
    return 0;
}

static int spread_unstarted_main(void *arg)
{
    struct sp *p = arg;
    if (ringo_loop_index() == 1) {
        CHECK(ringo_event_wait(p->ready) == 0);
        atomic_store(&loop1_stuck, true);
        int64_t until = ringo_now() + RINGO_SEC(10);
        while (!atomic_load(&loop1_release))   /* the whole loop, not only this task */
            CHECK(ringo_now() < until);
        return 0;
    }
    int ret = sp_start(p);
    if (ret < 0)
        return ret;
    ringo_task *t;
    CHECK(ringo_spawn(&t, releaser, NULL) == 0);
    ringo_detach(t);
    int64_t until = ringo_now() + RINGO_SEC(10);
    while (!atomic_load(&loop1_stuck))
        CHECK(ringo_now() < until && ringo_sleep(RINGO_MS(1)) == 0);
    /* Handed out in turn: loop 0, loop 1, loop 0. Once both of loop 0's have
     * started, loop 1's is on its way. */
    for (int i = 0; i < 3; i++)
        CHECK((clients[i] = raw_connect(ringo_server_port(p->srv))) >= 0);
    while (atomic_load(&p->on[0]) < 2)
        CHECK(ringo_now() < until && ringo_sleep(RINGO_MS(1)) == 0);
    return 0;   /* left open */
}

Test(server, spread_handler_cancelled_before_it_starts_on_another_loop_closes_its_socket,
     .timeout = 60)
{
    struct sp *p = sp_new(3);
    atomic_store(&loop1_stuck, false);
    atomic_store(&loop1_release, false);
    cr_assert_eq(run_two_loops(spread_unstarted_main, p, 3), 0);
    cr_assert_eq(atomic_load(&p->on[0]), 2);
    cr_assert_eq(atomic_load(&p->on[1]), 0, "the handler on loop 1 ran after all");
    for (int i = 0; i < 3; i++) {
        struct pollfd pf = { .fd = clients[i], .events = POLLIN };
        cr_assert_eq(poll(&pf, 1, 10000), 1, "client %d was never let go", i);
        char c;
        ssize_t n = read(clients[i], &c, 1);
        cr_assert(n == 0 || (n < 0 && errno == ECONNRESET), "client %d: read %zd", i, n);
        close(clients[i]);
    }
    sp_free(p);
}

/* A loop that has started closing refuses handlers: SPREAD serves every
 * connection on its own loop then. */
static int nop(void *arg)
{
    (void)arg;
    return 0;
}

static int spread_peer_gone_main(void *arg)
{
    _Atomic unsigned *served = arg;
    if (ringo_loop_index() == 1)
        return 0;   /* loop 1 closes at once */
    int64_t until = ringo_now() + RINGO_SEC(10);
    for (;;) {   /* until loop 1 refuses tasks */
        ringo_task *t;
        int ret = ringo_spawn_on(ringo_loop_at(1), &t, nop, NULL);
        if (ret == -ESHUTDOWN)
            break;
        CHECK(ret == 0 && ringo_await(t) <= 0 && ringo_now() < until);
    }
    const ringo_server_opts o = { .flags = RINGO_SERVER_SPREAD };
    ringo_server *srv;
    CHECK(ringo_start_server_opts(&srv, "127.0.0.1", "0", &o, whoami, served) == 0);
    char ps[8];
    snprintf(ps, sizeof ps, "%d", ringo_server_port(srv));
    for (int i = 0; i < 10; i++) {
        ringo_stream *c;
        CHECK(ringo_open_connection(&c, "127.0.0.1", ps) == 0);
        char buf[8];
        ringo_stream_write(c, "who\n", 4);
        ssize_t n = ringo_stream_readline(c, buf, sizeof buf);
        ringo_stream_close(c);
        CHECK(n == 2 && buf[0] == '0');
    }
    CHECK(ringo_server_close(srv) == 0);
    return 0;
}

Test(server, spread_serves_on_its_own_loop_once_the_others_close)
{
    _Atomic unsigned served[2] = { 0, 0 };
    cr_assert_eq(run_two_loops(spread_peer_gone_main, served, 0), 0);
    cr_assert_eq(atomic_load(&served[0]), 10);
    cr_assert_eq(atomic_load(&served[1]), 0);
}
