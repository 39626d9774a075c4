/* Client connections: address forms, errors, socket options, cancellation. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "helpers.h"

/* A plain listener (not a ringo server) on a loopback address. */
static int raw_listener(int family, int backlog, char port[8])
{
    struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
    socklen_t len;
    if (family == AF_INET) {
        ((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(struct sockaddr_in);
    } else {
        ((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
        len = sizeof(struct sockaddr_in6);
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
    cr_assert_eq(listen(fd, backlog), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    int p = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    snprintf(port, 8, "%d", p);
    return fd;
}

/* A port nobody listens on (bound, then closed). */
static void dead_port(char port[8])
{
    close(raw_listener(AF_INET, 1, port));
}

struct target { const char *host; int family; };

static int connect_main(void *arg)
{
    const struct target *t = arg;
    char port[8];
    int lfd = raw_listener(t->family, 16, port);
    ringo_stream *s;
    int ret = ringo_open_connection(&s, t->host, port);
    cr_assert_eq(ret, 0, "%s: %s", t->host, strerror(-ret));
    int fd = ringo_stream_fd(s);
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "close-on-exec from the start");
    int one = 0;
    socklen_t len = sizeof one;
    cr_assert_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, &len), 0);
    cr_assert(one, "TCP_NODELAY is on");
    int afd = ringo_accept(lfd, NULL, NULL, 0);
    cr_assert_geq(afd, 0);
    cr_assert_eq(ringo_stream_write(s, "hi", 2), 2);
    cr_assert_eq(ringo_stream_drain(s), 0);
    char buf[2];
    cr_assert_eq(ringo_recv(afd, buf, 2, MSG_WAITALL), 2);
    cr_assert_eq(memcmp(buf, "hi", 2), 0);
    cr_assert_eq(ringo_stream_close(s), 0);
    close(afd);
    close(lfd);
    return 0;
}

Test(conn, ipv4_literal)
{
    struct target t = { "127.0.0.1", AF_INET };
    cr_assert_eq(run_clean(connect_main, &t), 0);
}

Test(conn, ipv6_literal)
{
    struct target t = { "::1", AF_INET6 };
    cr_assert_eq(run_clean(connect_main, &t), 0);
}

/* "localhost" goes through getaddrinfo on the worker pool; if it yields ::1
 * first, that address is refused and the next one is tried. */
Test(conn, name_resolved_on_the_pool)
{
    struct target t = { "localhost", AF_INET };
    cr_assert_eq(run_clean(connect_main, &t), 0);
}

static int errors_main(void *arg)
{
    (void)arg;
    ringo_stream *s = (ringo_stream *)0x1;
    char port[8];
    dead_port(port);
    cr_assert_eq(ringo_open_connection(NULL, "127.0.0.1", port), -EINVAL);
    cr_assert_eq(ringo_open_connection(&s, NULL, port), -EINVAL);
    cr_assert_eq(ringo_open_connection(&s, "127.0.0.1", NULL), -EINVAL);
    cr_assert_eq(ringo_open_connection(&s, "", port), -EINVAL);
    cr_assert_eq(ringo_open_connection(&s, "127.0.0.1", ""), -EINVAL);
    cr_assert_eq(ringo_open_connection(&s, "127.0.0.1", "65536"), -EINVAL);
    cr_assert_eq(ringo_open_connection(&s, "127.0.0.1", "-1"), -EINVAL);
    cr_assert_eq(ringo_open_connection(&s, "127.0.0.1", "no-such-service-xyz"), -EINVAL);
    cr_assert_eq(ringo_open_connection(&s, "127.0.0.1", port), -ECONNREFUSED);
    cr_assert_eq(ringo_open_connection(&s, "::1", port), -ECONNREFUSED);
    int ret = ringo_open_connection(&s, "no-such-host.invalid", port);
    cr_assert(ret == -ENOENT || ret == -EAGAIN, "bad host: %s", strerror(-ret));
    cr_assert_eq(ringo_open_unix_connection(&s, "/nonexistent/ringo.sock"), -ENOENT);
    cr_assert_eq(ringo_open_unix_connection(&s, NULL), -EINVAL);
    cr_assert_eq(ringo_open_unix_connection(NULL, "/tmp/x"), -EINVAL);
    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = 0;
    cr_assert_eq(ringo_open_unix_connection(&s, longpath), -ENAMETOOLONG);
    cr_assert_eq(s, (ringo_stream *)0x1, "out written only on success");
    return 0;
}

Test(conn, errors_are_clear)
{
    cr_assert_eq(run_clean(errors_main, NULL), 0);
}

Test(conn, outside_a_loop_is_eperm)
{
    ringo_stream *s;
    cr_assert_eq(ringo_open_connection(&s, "127.0.0.1", "1"), -EPERM);
    cr_assert_eq(ringo_open_unix_connection(&s, "/tmp/x"), -EPERM);
}

struct hang { const char *host, *port; int ret; };

static int hanging_connect(void *arg)
{
    struct hang *h = arg;
    ringo_stream *s;
    h->ret = ringo_open_connection(&s, h->host, h->port);
    if (h->ret == 0)
        ringo_stream_close(s);
    return 0;
}

/* A listener with a full accept queue drops SYNs: connects to it hang. */
static int full_listener(char port[8], int fill[4])
{
    int lfd = raw_listener(AF_INET, 0, port);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        (void)connect(fill[i], (struct sockaddr *)&sa, sizeof sa);
    }
    return lfd;
}

static int cancel_connect_main(void *arg)
{
    (void)arg;
    char port[8];
    int fill[4];
    int lfd = full_listener(port, fill);
    int before = open_fd_count();
    struct hang h = { "127.0.0.1", port, 1 };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, hanging_connect, &h), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(100)), 0);
    cr_assert_eq(h.ret, 1, "the connect should still hang");
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    cr_assert_eq(h.ret, -ECANCELED);
    cr_assert_eq(open_fd_count(), before, "a cancelled connect closes its socket");

    /* The same through a deadline. */
    int64_t old = ringo_deadline(ringo_now() + RINGO_MS(50));
    ringo_stream *s;
    cr_assert_eq(ringo_open_connection(&s, "127.0.0.1", port), -ETIMEDOUT);
    ringo_deadline(old);
    cr_assert_eq(open_fd_count(), before);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
    return 0;
}

Test(conn, cancelled_connect_leaks_no_fd)
{
    cr_assert_eq(run_clean(cancel_connect_main, NULL), 0);
}

static int cancel_resolve_main(void *arg)
{
    (void)arg;
    struct hang h = { "localhost", "80", 1 };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, hanging_connect, &h), 0);
    cr_assert_eq(ringo_yield(), 0);   /* let it reach the pool */
    cr_assert_eq(ringo_cancel(t), 0);
    ringo_await(t);
    cr_assert(h.ret == -ECANCELED || h.ret == -ECONNREFUSED, "%s", strerror(-h.ret));
    return 0;
}

/* The lookup runs to its end on its thread; its result is freed (ASan). */
Test(conn, cancelled_resolution_frees_its_result)
{
    cr_assert_eq(run_clean(cancel_resolve_main, NULL), 0);
}

static int unix_main(void *arg)
{
    (void)arg;
    char path[] = "/tmp/ringo-conn-XXXXXX";
    cr_assert_not_null(mkdtemp(path));
    char sock[64];
    snprintf(sock, sizeof sock, "%s/s", path);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, sock);
    cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(lfd, 4), 0);
    ringo_stream *s;
    cr_assert_eq(ringo_open_unix_connection(&s, sock), 0);
    cr_assert(fcntl(ringo_stream_fd(s), F_GETFD) & FD_CLOEXEC);
    int afd = ringo_accept(lfd, NULL, NULL, 0);
    cr_assert_geq(afd, 0);
    cr_assert_eq(ringo_send(afd, "yo\n", 3, 0), 3);
    char buf[8];
    cr_assert_eq(ringo_stream_readline(s, buf, sizeof buf), 3);
    cr_assert_eq(memcmp(buf, "yo\n", 3), 0);
    cr_assert_eq(ringo_stream_close(s), 0);
    close(afd);
    close(lfd);
    unlink(sock);
    rmdir(path);
    return 0;
}

Test(conn, unix_connection)
{
    cr_assert_eq(run_clean(unix_main, NULL), 0);
}
