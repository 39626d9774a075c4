/* UDP endpoints on loopback. Most behaviours run twice: the plain recvmsg
 * path (RINGO_NO_MULTISHOT=1) and then the default one (the multishot
 * recvmsg into the endpoint's buffer ring where io_uring has it). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

#define SKIPPED 77

/* fn on the plain path, then on the default one; each must return 0. */
static void run_paths(ringo_fn fn, void *arg)
{
    setenv("RINGO_NO_MULTISHOT", "1", 1);
    cr_assert_eq(run_clean(fn, arg), 0, "plain recvmsg path");
    unsetenv("RINGO_NO_MULTISHOT");
    cr_assert_eq(run_clean(fn, arg), 0, "default path");
}

static const char *port_str(int port)
{
    static char s[4][8];
    static unsigned n;
    char *p = s[n++ % 4];
    snprintf(p, sizeof s[0], "%d", port);
    return p;
}

static struct sockaddr_in loopback(int port)
{
    return (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
}

/* A port nothing listens on now (bound, then let go). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = loopback(0);
    socklen_t len = sizeof sa;
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* A server on 127.0.0.1 and a client connected to it. */
static void open_pair(ringo_dgram **srv, ringo_dgram **cli)
{
    cr_assert_eq(ringo_dgram_open(srv, "127.0.0.1", "0", NULL, NULL), 0);
    cr_assert_gt(ringo_dgram_port(*srv), 0);
    cr_assert_eq(ringo_dgram_open(cli, NULL, NULL, "127.0.0.1", port_str(ringo_dgram_port(*srv))),
                 0);
}

static void close_pair(ringo_dgram *a, ringo_dgram *b)
{
    cr_assert_eq(ringo_dgram_close(a), 0);
    cr_assert_eq(ringo_dgram_close(b), 0);
}

/* ---- opening --------------------------------------------------------------- */

static int bad_open_main(void *arg)
{
    (void)arg;
    ringo_dgram *d;
    cr_assert_eq(ringo_dgram_open(NULL, NULL, NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(ringo_dgram_open_flags(&d, NULL, NULL, NULL, NULL, 0x80), -EINVAL);
    cr_assert_eq(ringo_dgram_open(&d, NULL, NULL, "127.0.0.1", NULL), -EINVAL);
    cr_assert_eq(ringo_dgram_open(&d, NULL, NULL, NULL, "53"), -EINVAL);
    cr_assert_eq(ringo_dgram_open(&d, NULL, NULL, "", "53"), -EINVAL);
    cr_assert_eq(ringo_dgram_open(&d, "127.0.0.1", "99999", NULL, NULL), -EINVAL);
    cr_assert_eq(ringo_dgram_open(&d, "127.0.0.1", "-1", NULL, NULL), -EINVAL);
    cr_assert_eq(ringo_dgram_open(&d, "192.0.2.1", "0", NULL, NULL), -EADDRNOTAVAIL);
    /* A bound port is taken, unless both ask to share it. */
    ringo_dgram *a, *b, *c;
    cr_assert_eq(ringo_dgram_open(&a, "127.0.0.1", "0", NULL, NULL), 0);
    const char *p = port_str(ringo_dgram_port(a));
    cr_assert_eq(ringo_dgram_open(&b, "127.0.0.1", p, NULL, NULL), -EADDRINUSE);
    cr_assert_eq(ringo_dgram_close(a), 0);
    cr_assert_eq(ringo_dgram_open_flags(&a, "127.0.0.1", p, NULL, NULL, RINGO_DGRAM_REUSEPORT), 0);
    cr_assert_eq(ringo_dgram_open_flags(&b, "127.0.0.1", p, NULL, NULL, RINGO_DGRAM_REUSEPORT), 0);
    cr_assert_eq(ringo_dgram_port(b), ringo_dgram_port(a));
    cr_assert_geq(ringo_dgram_fd(b), 0);
    /* A connected endpoint bound where it was asked. */
    int lp = free_port();
    cr_assert_eq(ringo_dgram_open(&c, "127.0.0.1", port_str(lp), "127.0.0.1", p), 0);
    cr_assert_eq(ringo_dgram_port(c), lp);
    cr_assert_eq(ringo_dgram_close(c), 0);
    close_pair(a, b);
    cr_assert_eq(ringo_dgram_port(NULL), -EINVAL);
    cr_assert_eq(ringo_dgram_fd(NULL), -EINVAL);
    cr_assert_eq(ringo_dgram_close(NULL), -EINVAL);
    return 0;
}

Test(dgram, open_checks_its_arguments_and_ports)
{
    cr_assert_eq(run_clean(bad_open_main, NULL), 0);
    ringo_dgram *d;
    cr_assert_eq(ringo_dgram_open(&d, NULL, NULL, NULL, NULL), -EPERM, "outside a task");
}

/* ---- one datagram at a time --------------------------------------------- */

static int sizes_main(void *arg)
{
    (void)arg;
    ringo_dgram *s, *c;
    open_pair(&s, &c);
    static char big[65508], in[65508];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7 + 1);
    struct sockaddr_storage from;
    socklen_t fromlen = 0;
    cr_assert_eq(ringo_dgram_send(c, "hello", 5, NULL, 0), 5);
    char buf[16] = { 0 };
    cr_assert_eq(ringo_dgram_recv(s, buf, sizeof buf, &from, &fromlen), 5);
    cr_assert_str_eq(buf, "hello");
    cr_assert_eq(fromlen, sizeof(struct sockaddr_in));
    cr_assert_eq(ntohs(((struct sockaddr_in *)&from)->sin_port), ringo_dgram_port(c));
    /* Back to the sender's address; then cut at the room, full length back. */
    cr_assert_eq(ringo_dgram_send(s, "0123456789", 10, (struct sockaddr *)&from, fromlen), 10);
    memset(buf, 0, sizeof buf);
    cr_assert_eq(ringo_dgram_recv(c, buf, 4, NULL, NULL), 10);
    cr_assert_str_eq(buf, "0123");
    cr_assert_eq(ringo_dgram_send(c, "", 0, NULL, 0), 0);
    cr_assert_eq(ringo_dgram_recv(s, buf, sizeof buf, NULL, NULL), 0, "an empty datagram");
    cr_assert_eq(ringo_dgram_send(c, "x", 1, NULL, 0), 1);
    cr_assert_eq(ringo_dgram_recv(s, NULL, 0, NULL, NULL), 1, "no room: its length still");
    cr_assert_eq(ringo_dgram_send(c, big, 65507, NULL, 0), 65507);
    cr_assert_eq(ringo_dgram_recv(s, in, sizeof in, NULL, NULL), 65507);
    cr_assert_eq(memcmp(in, big, 65507), 0);
    cr_assert_eq(ringo_dgram_send(c, big, 65508, NULL, 0), -EMSGSIZE);
    cr_assert_eq(ringo_dgram_send(c, big, 1 << 20, NULL, 0), -EMSGSIZE);
    /* Bad input, and what only the kernel can tell. */
    cr_assert_eq(ringo_dgram_send(s, "x", 1, NULL, 0), -EDESTADDRREQ, "unconnected, no address");
    cr_assert_eq(ringo_dgram_send(NULL, "x", 1, NULL, 0), -EINVAL);
    cr_assert_eq(ringo_dgram_send(c, NULL, 1, NULL, 0), -EINVAL);
    cr_assert_eq(ringo_dgram_send(s, "x", 1, (struct sockaddr *)&from, 0), -EINVAL);
    cr_assert_eq(ringo_dgram_recv(NULL, buf, 1, NULL, NULL), -EINVAL);
    cr_assert_eq(ringo_dgram_recv(s, NULL, 1, NULL, NULL), -EINVAL);
    close_pair(s, c);
    return 0;
}

Test(dgram, datagrams_of_every_size_and_bad_input)
{
    run_paths(sizes_main, NULL);
}

/* More than the ring holds, sent before anyone reads: all of it, in order. */
static int burst_main(void *arg)
{
    (void)arg;
    ringo_dgram *s, *c;
    open_pair(&s, &c);
    /* As many as the socket can queue (4 MiB, or what the host allows),
     * each taking at most 4 KiB of it. */
    int rcvbuf = 0;
    socklen_t len = sizeof rcvbuf;
    cr_assert_eq(getsockopt(ringo_dgram_fd(s), SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len), 0);
    const uint32_t N = rcvbuf / 4096 < 1000 ? (uint32_t)rcvbuf / 4096 : 1000;
    for (uint32_t i = 0; i < N; i++)
        cr_assert_eq(ringo_dgram_send(c, &i, sizeof i, NULL, 0), 4);
    for (uint32_t i = 0; i < N; i++) {
        uint32_t v = ~0u;
        cr_assert_eq(ringo_dgram_recv(s, &v, sizeof v, NULL, NULL), 4);
        cr_assert_eq(v, i, "datagram %u came as %u", i, v);
        if (i == 0)   /* the receive is armed: let it fill every buffer */
            cr_assert_eq(ringo_sleep(RINGO_MS(20)), 0);
    }
    close_pair(s, c);
    return 0;
}

Test(dgram, a_burst_bigger_than_the_ring_arrives_whole_and_in_order)
{
    run_paths(burst_main, NULL);
}

/* ---- many datagrams echoed ----------------------------------------------- */

enum { ECHO_N = 100000, WINDOW = 64, ECHO_SIZE = 48 };

struct echo {
    ringo_dgram *srv;
    bool batch;
};

static int echo_server(void *arg)
{
    struct echo *e = arg;
    char bufs[32][ECHO_SIZE + 8];
    ringo_dgram_msg m[32];
    for (;;) {
        size_t n = e->batch ? 32 : 1;
        for (size_t i = 0; i < n; i++)
            m[i] = (ringo_dgram_msg){ .buf = bufs[i], .len = sizeof bufs[i] };
        ssize_t got = e->batch ? ringo_dgram_recv_many(e->srv, m, n)
                               : ringo_dgram_recv(e->srv, bufs[0], sizeof bufs[0], &m[0].addr,
                                                  &m[0].addrlen);
        if (got < 0)
            return (int)got;
        if (!e->batch) {
            m[0].len = (size_t)got;
            got = 1;
        }
        for (ssize_t i = 0; i < got; i++)
            if (m[i].len == 0)
                return 0;   /* the client is done */
        ssize_t sent = e->batch ? ringo_dgram_send_many(e->srv, m, (size_t)got)
                                : ringo_dgram_send(e->srv, bufs[0], m[0].len,
                                                   (struct sockaddr *)&m[0].addr, m[0].addrlen);
        if (sent < 0)
            return (int)sent;
    }
}

static void fill(char *p, uint32_t seq)
{
    memcpy(p, &seq, sizeof seq);
    for (int i = 4; i < ECHO_SIZE; i++)
        p[i] = (char)(seq + (uint32_t)i);
}

static int echo_main(void *arg)
{
    struct echo e = { .batch = arg != NULL };
    ringo_dgram *c;
    open_pair(&e.srv, &c);
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, echo_server, &e), 0);
    static bool seen[ECHO_N];
    memset(seen, 0, sizeof seen);
    char out[ECHO_SIZE], in[ECHO_SIZE + 8], want[ECHO_SIZE];
    uint32_t next = 0, got = 0;
    for (; next < WINDOW; next++) {
        fill(out, next);
        cr_assert_eq(ringo_dgram_send(c, out, sizeof out, NULL, 0), ECHO_SIZE);
    }
    ringo_deadline(ringo_now() + RINGO_SEC(60));   /* a lost one fails, not hangs */
    while (got < ECHO_N) {
        ssize_t n = ringo_dgram_recv(c, in, sizeof in, NULL, NULL);
        cr_assert_eq(n, ECHO_SIZE, "echo %u: %zd", got, n);
        uint32_t seq;
        memcpy(&seq, in, sizeof seq);
        cr_assert_lt(seq, ECHO_N);
        cr_assert(!seen[seq], "echo %u came twice", seq);
        fill(want, seq);
        cr_assert_eq(memcmp(in, want, ECHO_SIZE), 0, "echo %u's content", seq);
        seen[seq] = true;
        got++;
        if (next < ECHO_N) {
            fill(out, next++);
            cr_assert_eq(ringo_dgram_send(c, out, sizeof out, NULL, 0), ECHO_SIZE);
        }
    }
    ringo_deadline(INT64_MAX);
    cr_assert_eq(ringo_dgram_send(c, "", 0, NULL, 0), 0);
    cr_assert_eq(ringo_await(t), 0);
    close_pair(e.srv, c);
    return 0;
}

Test(dgram, a_hundred_thousand_datagrams_echoed_none_lost, .timeout = 240)
{
    run_paths(echo_main, NULL);
}

Test(dgram, a_hundred_thousand_datagrams_echoed_in_batches, .timeout = 240)
{
    run_paths(echo_main, (void *)1);
}

/* ---- errors from the network -------------------------------------------- */

/* Send to a port nobody has until the refusal comes back: the kernel may
 * skip an ICMP error when the machine's global rate limit is spent. */
static void refused(ringo_dgram *c, bool many)
{
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(ringo_dgram_send(c, "ping", 4, NULL, 0), 4);
        char buf[8];
        ringo_dgram_msg m = { .buf = buf, .len = sizeof buf };
        ringo_deadline(ringo_now() + RINGO_MS(250));
        ssize_t r = many ? ringo_dgram_recv_many(c, &m, 1)
                         : ringo_dgram_recv(c, buf, sizeof buf, NULL, NULL);
        ringo_deadline(INT64_MAX);
        if (r == -ECONNREFUSED)
            return;
        cr_assert_eq(r, -ETIMEDOUT);
    }
    cr_assert_fail("no refusal came back");
}

static int refused_main(void *arg)
{
    (void)arg;
    int port = free_port();
    ringo_dgram *c, *s;
    cr_assert_eq(ringo_dgram_open(&c, NULL, NULL, "127.0.0.1", port_str(port)), 0);
    refused(c, false);
    refused(c, true);
    char buf[8] = { 0 };
    /* Once: the endpoint is open and receives from a peer that appears. */
    cr_assert_eq(ringo_dgram_open(&s, "127.0.0.1", port_str(port), NULL, NULL), 0);
    struct sockaddr_in to = loopback(ringo_dgram_port(c));
    cr_assert_eq(ringo_dgram_send(s, "pong", 4, (struct sockaddr *)&to, sizeof to), 4);
    cr_assert_eq(ringo_dgram_recv(c, buf, sizeof buf, NULL, NULL), 4);
    cr_assert_str_eq(buf, "pong");
    cr_assert_eq(ringo_dgram_send(c, "ping", 4, NULL, 0), 4);
    cr_assert_eq(ringo_dgram_recv(s, buf, sizeof buf, NULL, NULL), 4);
    close_pair(c, s);
    return 0;
}

Test(dgram, an_icmp_refusal_comes_back_once_and_the_endpoint_stays_open)
{
    run_paths(refused_main, NULL);
}

static int ipv6_main(void *arg)
{
    (void)arg;
    ringo_dgram *s, *c;
    int ret = ringo_dgram_open(&s, "::1", "0", NULL, NULL);
    if (ret == -EADDRNOTAVAIL || ret == -EAFNOSUPPORT || ret == -ENOENT)
        return SKIPPED;
    cr_assert_eq(ret, 0);
    cr_assert_eq(ringo_dgram_open(&c, NULL, NULL, "::1", port_str(ringo_dgram_port(s))), 0);
    cr_assert_eq(ringo_dgram_send(c, "six", 3, NULL, 0), 3);
    struct sockaddr_storage from;
    socklen_t len;
    char buf[8] = { 0 };
    cr_assert_eq(ringo_dgram_recv(s, buf, sizeof buf, &from, &len), 3);
    cr_assert_eq(from.ss_family, AF_INET6);
    cr_assert_eq(len, sizeof(struct sockaddr_in6));
    cr_assert_eq(ringo_dgram_send(s, "back", 4, (struct sockaddr *)&from, len), 4);
    cr_assert_eq(ringo_dgram_recv(c, buf, sizeof buf, NULL, NULL), 4);
    cr_assert_str_eq(buf, "back");
    close_pair(s, c);
    /* No host: every interface, IPv4 included (dual-stack). */
    cr_assert_eq(ringo_dgram_open(&s, NULL, NULL, NULL, NULL), 0);
    cr_assert_eq(ringo_dgram_open(&c, NULL, NULL, "127.0.0.1", port_str(ringo_dgram_port(s))), 0);
    cr_assert_eq(ringo_dgram_send(c, "four", 4, NULL, 0), 4);
    cr_assert_eq(ringo_dgram_recv(s, buf, sizeof buf, &from, &len), 4);
    cr_assert_eq(ringo_dgram_send(s, "ok", 2, (struct sockaddr *)&from, len), 2);
    cr_assert_eq(ringo_dgram_recv(c, buf, sizeof buf, NULL, NULL), 2);
    close_pair(s, c);
    return 0;
}

Test(dgram, ipv6_on_loopback)
{
    setenv("RINGO_NO_MULTISHOT", "1", 1);
    int ret = run_clean(ipv6_main, NULL);
    unsetenv("RINGO_NO_MULTISHOT");
    if (ret == SKIPPED)
        cr_skip_test("no IPv6 on ::1 here");
    cr_assert_eq(ret, 0);
    cr_assert_eq(run_clean(ipv6_main, NULL), 0);
}

/* ---- waiting: close, cancel, deadlines ------------------------------------ */

static int recv_task(void *arg)
{
    char buf[8];
    return (int)ringo_dgram_recv(arg, buf, sizeof buf, NULL, NULL);
}

static int recv_many_task(void *arg)
{
    char buf[8];
    ringo_dgram_msg m = { .buf = buf, .len = sizeof buf };
    return (int)ringo_dgram_recv_many(arg, &m, 1);
}

/* With a deadline far off: the close, not the deadline, ends its wait. */
static int recv_deadline_task(void *arg)
{
    ringo_deadline(ringo_now() + RINGO_SEC(30));
    return recv_task(arg);
}

static int waits_main(void *arg)
{
    (void)arg;
    ringo_dgram *s, *c;
    open_pair(&s, &c);
    int sport = ringo_dgram_port(s);
    /* Closed under three waiting readers: each gets -EBADF, at once. */
    ringo_task *t[3];
    cr_assert_eq(ringo_spawn(&t[0], recv_task, s), 0);
    cr_assert_eq(ringo_spawn(&t[1], recv_many_task, s), 0);
    cr_assert_eq(ringo_spawn(&t[2], recv_deadline_task, s), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(5)), 0);
    int64_t t0 = ringo_now();
    cr_assert_eq(ringo_dgram_close(s), 0);
    cr_assert_eq(ringo_await(t[0]), -EBADF);
    cr_assert_eq(ringo_await(t[1]), -EBADF);
    cr_assert_eq(ringo_await(t[2]), -EBADF);
    cr_assert_lt(ringo_now() - t0, RINGO_SEC(5));
    /* A waiting receive cancelled; what comes next is still received. */
    cr_assert_eq(ringo_spawn(&t[0], recv_task, c), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(5)), 0);
    cr_assert_eq(ringo_cancel(t[0]), 0);
    cr_assert_eq(ringo_await(t[0]), -ECANCELED);
    /* A timeout on a receive that gets nothing, and a task deadline. */
    cr_assert_eq(ringo_spawn(&t[0], recv_task, c), 0);
    cr_assert_eq(ringo_wait_for(t[0], RINGO_MS(20)), -ETIMEDOUT);
    ringo_deadline(ringo_now() + RINGO_MS(10));
    char buf[8];
    cr_assert_eq(ringo_dgram_recv(c, buf, sizeof buf, NULL, NULL), -ETIMEDOUT);
    ringo_deadline(INT64_MAX);
    /* Nothing was lost or left stuck: c receives from a peer bound where
     * its first one was. */
    cr_assert_eq(ringo_dgram_open(&s, "127.0.0.1", port_str(sport), NULL, NULL), 0);
    struct sockaddr_in to = loopback(ringo_dgram_port(c));
    cr_assert_eq(ringo_dgram_send(s, "late", 4, (struct sockaddr *)&to, sizeof to), 4);
    cr_assert_eq(ringo_dgram_recv(c, buf, sizeof buf, NULL, NULL), 4);
    cr_assert_eq(memcmp(buf, "late", 4), 0);
    close_pair(s, c);
    return 0;
}

Test(dgram, close_cancel_and_deadlines_end_waiting_receives)
{
    run_paths(waits_main, NULL);
}

/* An endpoint left open (its multishot armed) is closed at loop close. */
static int left_open_main(void *arg)
{
    (void)arg;
    ringo_dgram *s, *c;
    open_pair(&s, &c);
    cr_assert_eq(ringo_dgram_send(c, "x", 1, NULL, 0), 1);
    char b;
    cr_assert_eq(ringo_dgram_recv(s, &b, 1, NULL, NULL), 1);
    cr_assert_eq(ringo_dgram_send(c, "y", 1, NULL, 0), 1);   /* left queued */
    return 0;
}

Test(dgram, endpoints_left_open_are_closed_with_the_loop)
{
    run_paths(left_open_main, NULL);
}

/* ---- batches, GSO and GRO ------------------------------------------------- */

/* 11 of 1000 (one run, the last 300), 5 of 200, one of 50, one empty. */
static const size_t lens[] = { 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 300,
                               200,  200,  200,  200,  200,  50,   0 };
#define NLENS (sizeof lens / sizeof lens[0])

static void pattern(char *p, size_t i, size_t n)
{
    for (size_t k = 0; k < n; k++)
        p[k] = (char)(i * 31 + k);
}

static int batch_main(void *arg)
{
    bool gro = arg != NULL;
    ringo_dgram *s, *c;
    open_pair(&s, &c);
    if (gro) {
        int ret = ringo_dgram_set_gro(s, true);
        if (ret == -ENOPROTOOPT) {
            close_pair(s, c);
            return SKIPPED;
        }
        cr_assert_eq(ret, 0);
    }
    static char out[NLENS][1000], in[64][2000];
    ringo_dgram_msg m[64];
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < NLENS; i++) {
            pattern(out[i], i, lens[i]);
            m[i] = (ringo_dgram_msg){ .buf = out[i], .len = lens[i] };
        }
        cr_assert_eq(ringo_dgram_send_many(c, m, NLENS), (ssize_t)NLENS);
        size_t got = 0;
        while (got < NLENS) {
            size_t room = 64 - got;
            for (size_t i = 0; i < room; i++)
                m[got + i] = (ringo_dgram_msg){ .buf = in[got + i], .len = sizeof in[0] };
            ssize_t n = ringo_dgram_recv_many(s, m + got, round ? 1 : room);
            cr_assert_geq(n, 1);
            got += (size_t)n;
        }
        cr_assert_eq(got, NLENS, "exactly the datagrams sent");
        for (size_t i = 0; i < NLENS; i++) {
            cr_assert_eq(m[i].len, lens[i], "datagram %zu: %zu bytes, not %zu", i, m[i].len,
                         lens[i]);
            pattern(out[i], i, lens[i]);
            cr_assert_eq(memcmp(in[i], out[i], lens[i]), 0, "datagram %zu's content", i);
            cr_assert_eq(ntohs(((struct sockaddr_in *)&m[i].addr)->sin_port),
                         ringo_dgram_port(c));
        }
    }
    /* A GRO run read one datagram at a time, one cut short. */
    for (size_t i = 0; i < 5; i++)
        m[i] = (ringo_dgram_msg){ .buf = out[i], .len = 1000 };
    cr_assert_eq(ringo_dgram_send_many(c, m, 5), 5);
    for (size_t i = 0; i < 5; i++) {
        char b[1000];
        cr_assert_eq(ringo_dgram_recv(s, b, i == 2 ? 10 : sizeof b, NULL, NULL), 1000);
        cr_assert_eq(memcmp(b, out[i], i == 2 ? 10 : 1000), 0);
    }
    /* Back to the senders, by address, in one call. */
    struct sockaddr_in to = loopback(ringo_dgram_port(c));
    for (size_t i = 0; i < 3; i++) {
        m[i] = (ringo_dgram_msg){ .buf = out[i], .len = 100, .addrlen = sizeof to };
        memcpy(&m[i].addr, &to, sizeof to);
    }
    cr_assert_eq(ringo_dgram_send_many(s, m, 3), 3);
    for (size_t i = 0; i < 3; i++) {
        char b[200];
        cr_assert_eq(ringo_dgram_recv(c, b, sizeof b, NULL, NULL), 100);
        cr_assert_eq(memcmp(b, out[i], 100), 0);
    }
    /* Bad input; an error stops a batch (none sent: the error). */
    cr_assert_eq(ringo_dgram_send_many(NULL, m, 1), -EINVAL);
    cr_assert_eq(ringo_dgram_send_many(c, NULL, 1), -EINVAL);
    cr_assert_eq(ringo_dgram_recv_many(s, m, 0), -EINVAL);
    m[0] = (ringo_dgram_msg){ .buf = NULL, .len = 1 };
    cr_assert_eq(ringo_dgram_send_many(c, m, 1), -EINVAL);
    m[0] = (ringo_dgram_msg){ .buf = out[0], .len = 1 };
    cr_assert_eq(ringo_dgram_send_many(s, m, 1), -EDESTADDRREQ);
    close_pair(s, c);
    return 0;
}

Test(dgram, send_many_and_recv_many_keep_boundaries)
{
    run_paths(batch_main, NULL);
}

Test(dgram, send_many_and_recv_many_with_gro_keep_boundaries)
{
    setenv("RINGO_NO_MULTISHOT", "1", 1);
    int ret = run_clean(batch_main, (void *)1);
    unsetenv("RINGO_NO_MULTISHOT");
    if (ret == SKIPPED)
        cr_skip_test("no UDP GRO here");
    cr_assert_eq(ret, 0);
    cr_assert_eq(run_clean(batch_main, (void *)1), 0);
}

/* ---- memory ----------------------------------------------------------------- */

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "%ld %ld", &pages, &resident), 2);
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Each buffer of the ring has room for 64 KiB; small datagrams touch one
 * page of each, so 1000 of them cost about a MiB, not the ring's 17. */
static int rss_main(void *arg)
{
    (void)arg;
    ringo_dgram *s, *c;
    open_pair(&s, &c);
    char b[64] = { 0 };
    long before = rss_kib();   /* the ring is set up at the first receive */
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(ringo_dgram_send(c, b, sizeof b, NULL, 0), 64);
        cr_assert_eq(ringo_dgram_recv(s, b, sizeof b, NULL, NULL), 64);
    }
    long grew = rss_kib() - before;
    cr_assert_lt(grew, 6 * 1024, "RSS grew by %ld KiB for small datagrams", grew);
    close_pair(s, c);
    return 0;
}

Test(dgram, small_datagrams_touch_little_of_the_ring)
{
    run_paths(rss_main, NULL);
}
