/* Servers at scale and under abuse: 10 000 connections on one loop, clients
 * that vanish, reset or trickle, and running out of descriptors. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

struct counters { int active, lines; };

/* Line echo, counting live handlers and echoed lines. */
static int echo(ringo_stream *s, void *arg)
{
    struct counters *k = arg;
    k->active++;
    char line[128];
    ssize_t n;
    while ((n = ringo_stream_readline(s, line, sizeof line)) > 0) {
        ringo_stream_write(s, line, (size_t)n);
        k->lines++;
        if (ringo_stream_drain(s) < 0)
            break;
    }
    k->active--;
    return 0;
}

static void port_str(ringo_server *srv, char ps[8])
{
    snprintf(ps, 8, "%d", ringo_server_port(srv));
}

static long rss_bytes(void)
{
    long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * sysconf(_SC_PAGESIZE);
}

/* ---- 10 000 connections ------------------------------------------------
 * The clients run in a child process with a loop of their own, so each side
 * gets the whole descriptor limit (20 000 here: 2 x 10 000 plus the rest
 * would not fit in one process). Pipes pace the two: the child reports when
 * every client has echoed once and idles; the parent measures, then lets
 * them echo again and hang up. */

struct scale {
    int n;
    int to_child, from_child;   /* parent's pipe ends */
    int to_parent, from_parent; /* child's pipe ends */
    char port[8];
    int first_done, failed;
    ringo_event *go;
};

static int scale_client(void *arg)
{
    struct scale *sc = arg;
    ringo_stream *c = NULL;
    char line[32], buf[32];
    int len = snprintf(line, sizeof line, "line %p\n", (void *)&c);
    int ok = ringo_open_connection(&c, "127.0.0.1", sc->port) == 0;
    if (!ok)
        c = NULL;
    if (ok) {
        ringo_stream_write(c, line, (size_t)len);
        ok = ringo_stream_readline(c, buf, sizeof buf) == len;
    }
    sc->first_done++;
    if (ok && ringo_event_wait(sc->go) == 0) {
        ringo_stream_write(c, line, (size_t)len);
        ok = ringo_stream_readline(c, buf, sizeof buf) == len;
    }
    if (!ok)
        sc->failed++;
    if (c)
        ringo_stream_close(c);
    return 0;
}

static int scale_child_main(void *arg)
{
    struct scale *sc = arg;
    ringo_group *g;
    if (ringo_event_new(&sc->go) < 0 || ringo_group_new(&g) < 0)
        return -ENOMEM;
    for (int i = 0; i < sc->n; i++)
        if (ringo_group_spawn(g, scale_client, sc) < 0)
            sc->failed++;
    while (sc->first_done + sc->failed < sc->n)
        ringo_sleep(RINGO_MS(5));
    char b = 'A';
    ringo_write(sc->to_parent, &b, 1, -1);
    ringo_read(sc->from_parent, &b, 1, -1);
    ringo_event_set(sc->go);
    ringo_group_wait(g);
    ringo_event_free(sc->go);
    return sc->failed;
}

static int scale_server_main(void *arg)
{
    struct scale *sc = arg;
    struct counters k = { 0, 0 };
    ringo_server *srv;
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", "0", echo, &k), 0);
    port_str(srv, sc->port);
    long rss0 = rss_bytes();
    int fds0 = open_fd_count();
    int64_t t0 = ringo_now();
    cr_assert_eq(ringo_write(sc->to_child, sc->port, sizeof sc->port, -1), (ssize_t)sizeof sc->port);
    char b;
    cr_assert_eq(ringo_read(sc->from_child, &b, 1, -1), 1);
    int64_t t1 = ringo_now();
    cr_assert_eq(k.active, sc->n, "every client has its handler");
    cr_assert_eq(k.lines, sc->n);
    long rss1 = rss_bytes();
    int fds1 = open_fd_count();
    cr_assert_geq(fds1 - fds0, sc->n);
    fprintf(stderr, "net_abuse: %d connections up and echoing in %.2f s; RSS %+.1f MiB, "
            "%.1f KiB per idle connection (server side, %s)\n",
            sc->n, (double)(t1 - t0) / 1e9, (double)(rss1 - rss0) / (1 << 20),
            (double)(rss1 - rss0) / sc->n / 1024,
#if defined(__SANITIZE_ADDRESS__)
            "under ASan"
#else
            "no sanitizer"
#endif
    );
    cr_assert_eq(ringo_write(sc->to_child, "B", 1, -1), 1);
    while (ringo_read(sc->from_child, &b, 1, -1) > 0) {
    }
    cr_assert_eq(k.lines, 2 * sc->n);
    cr_assert_eq(ringo_server_close(srv), 0);
    return 0;
}

Test(net_abuse, ten_thousand_connections_on_one_loop)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    struct scale sc = { .n = 10000 };
    if (rl.rlim_max < (rlim_t)sc.n + 200) {
        sc.n = (int)rl.rlim_max - 200;
        fprintf(stderr, "net_abuse: descriptor limit %llu: scaled down to %d connections\n",
                (unsigned long long)rl.rlim_max, sc.n);
    }
    int a[2], b[2];
    cr_assert_eq(pipe2(a, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(b, O_CLOEXEC), 0);
    sc.to_child = a[1];
    sc.from_parent = a[0];
    sc.to_parent = b[1];
    sc.from_child = b[0];
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* Keep only our pipes: Criterion's own descriptors stay its worker's. */
        for (int fd = 3; fd < 1024; fd++)
            if (fd != sc.from_parent && fd != sc.to_parent)
                close(fd);
        if (read(sc.from_parent, sc.port, sizeof sc.port) != (ssize_t)sizeof sc.port)
            _exit(100);
        int ret = ringo_run(scale_child_main, &sc);
        _exit(ret == 0 ? 0 : 101);
    }
    close(sc.from_parent);
    close(sc.to_parent);
    cr_assert_eq(run_clean(scale_server_main, &sc), 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "client process: status %#x", status);
    close(sc.to_child);
    close(sc.from_child);
}

/* ---- misbehaving clients ------------------------------------------------ */

struct abuse { char port[8]; int good_rounds; int64_t worst; };

static int vanisher(void *arg)
{
    struct abuse *ab = arg;
    ringo_stream *c;
    if (ringo_open_connection(&c, "127.0.0.1", ab->port) == 0)
        ringo_stream_close(c);
    return 0;
}

static int resetter(void *arg)
{
    struct abuse *ab = arg;
    ringo_stream *c;
    if (ringo_open_connection(&c, "127.0.0.1", ab->port) < 0)
        return -EIO;
    ringo_stream_write(c, "half a li", 9);
    ringo_stream_drain(c);
    ringo_sleep(RINGO_MS(5));
    /* Linger 0: close sends RST instead of FIN. */
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    setsockopt(ringo_stream_fd(c), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    ringo_stream_close(c);
    return 0;
}

static int trickler(void *arg)
{
    struct abuse *ab = arg;
    ringo_stream *c;
    if (ringo_open_connection(&c, "127.0.0.1", ab->port) < 0)
        return -EIO;
    static const char line[] = "one byte at a time\n";
    for (size_t i = 0; i < sizeof line - 1; i++) {
        ringo_stream_write(c, &line[i], 1);
        ringo_stream_drain(c);
        ringo_sleep(RINGO_MS(2));
    }
    char buf[64];
    ssize_t n = ringo_stream_readline(c, buf, sizeof buf);
    ringo_stream_close(c);
    return n == (ssize_t)sizeof line - 1 && memcmp(buf, line, (size_t)n) == 0 ? 0 : -EPROTO;
}

static int good_client(void *arg)
{
    struct abuse *ab = arg;
    ringo_stream *c;
    if (ringo_open_connection(&c, "127.0.0.1", ab->port) < 0)
        return -EIO;
    char buf[32];
    for (int i = 0; i < 50; i++) {
        int64_t t0 = ringo_now();
        ringo_stream_write(c, "good\n", 5);
        if (ringo_stream_readline(c, buf, sizeof buf) != 5) {
            ringo_stream_close(c);
            return -EPROTO;
        }
        int64_t dt = ringo_now() - t0;
        if (dt > ab->worst)
            ab->worst = dt;
        ab->good_rounds++;
        ringo_sleep(RINGO_MS(1));
    }
    return ringo_stream_close(c);
}

static int abuse_main(void *arg)
{
    (void)arg;
    struct counters k = { 0, 0 };
    struct abuse ab = { .good_rounds = 0 };
    ringo_server *srv;
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", "0", echo, &k), 0);
    port_str(srv, ab.port);
    ringo_group *g;
    cr_assert_eq(ringo_group_new(&g), 0);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(ringo_group_spawn(g, good_client, &ab), 0);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(ringo_group_spawn(g, vanisher, &ab), 0);
        cr_assert_eq(ringo_group_spawn(g, resetter, &ab), 0);
        if (i % 5 == 0)
            cr_assert_eq(ringo_group_spawn(g, trickler, &ab), 0);
    }
    cr_assert_eq(ringo_group_wait(g), 0);
    cr_assert_eq(ab.good_rounds, 10 * 50);
    fprintf(stderr, "net_abuse: worst good round trip among abusers: %.2f ms\n",
            (double)ab.worst / 1e6);
    for (int i = 0; i < 200 && k.active; i++)
        ringo_sleep(RINGO_MS(10));
    cr_assert_eq(k.active, 0, "every abuser's handler finished");
    cr_assert_eq(ringo_server_close(srv), 0);
    return 0;
}

Test(net_abuse, vanishing_resetting_and_trickling_clients)
{
    cr_assert_eq(run_clean(abuse_main, NULL), 0);
}

/* ---- running out of descriptors ----------------------------------------- */

#define NEXH 12

struct exhaust {
    struct sockaddr_in sa;
    int fds[NEXH];
    int replies;
    ringo_event *release;
};

struct exh_client { struct exhaust *x; int i; };

static int exh_client(void *arg)
{
    struct exh_client *c = arg;
    struct exhaust *x = c->x;
    int fd = x->fds[c->i];
    char buf[8];
    int ok = ringo_connect(fd, (struct sockaddr *)&x->sa, sizeof x->sa) == 0 &&
             ringo_send(fd, "ping\n", 5, 0) == 5 && ringo_recv(fd, buf, 5, MSG_WAITALL) == 5;
    if (ok)
        x->replies++;
    ringo_event_wait(x->release);
    close(fd);
    return ok ? 0 : -EIO;
}

static int max_fd(void)
{
    DIR *d = opendir("/proc/self/fd");
    int hi = -1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (atoi(e->d_name) > hi)
            hi = atoi(e->d_name);
    closedir(d);
    return hi;
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int exhaust_main(void *arg)
{
    (void)arg;
    struct counters k = { 0, 0 };
    struct exhaust x = { .replies = 0 };
    ringo_server *srv;
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", "0", echo, &k), 0);
    x.sa = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                 .sin_port = htons((uint16_t)ringo_server_port(srv)) };
    cr_assert_eq(ringo_event_new(&x.release), 0);
    for (int i = 0; i < NEXH; i++)
        x.fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* Room for 3 more descriptors: the server can take 3 clients. The
     * acceptor has not armed yet (it runs once we suspend), so the kernel
     * reads this limit when it does. */
    struct rlimit saved, low;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    low = saved;
    low.rlim_cur = (rlim_t)max_fd() + 1 + 3;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct exh_client cl[NEXH];
    ringo_task *t[NEXH];
    for (int i = 0; i < NEXH; i++) {
        cl[i] = (struct exh_client){ &x, i };
        cr_assert_eq(ringo_spawn(&t[i], exh_client, &cl[i]), 0);
    }
    cr_assert_eq(ringo_sleep(RINGO_MS(100)), 0);
    double cpu0 = cpu_seconds();
    cr_assert_eq(ringo_sleep(RINGO_MS(500)), 0);
    double cpu = cpu_seconds() - cpu0;
    int first = x.replies;
    fprintf(stderr, "net_abuse: out of fds: %d of %d clients served, CPU %.1f ms over a 500 ms "
            "pause\n", first, NEXH, cpu * 1e3);
    cr_assert_geq(first, 1);
    cr_assert_lt(first, NEXH, "the limit should have stopped the server");
    cr_assert_lt(cpu, 0.1, "a server out of descriptors must not spin");
    /* The served clients hang up: their handlers free descriptors and the
     * server accepts the rest, a few at a time. */
    ringo_event_set(x.release);
    for (int i = 0; i < 500 && x.replies < NEXH; i++)
        ringo_sleep(RINGO_MS(10));
    cr_assert_eq(x.replies, NEXH, "served after descriptors freed: %d", x.replies);
    int st[NEXH];
    cr_assert_eq(ringo_gather(t, NEXH, st), 0);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
    cr_assert_eq(ringo_server_close(srv), 0);
    ringo_event_free(x.release);
    return 0;
}

Test(net_abuse, server_survives_fd_exhaustion)
{
    cr_assert_eq(run_clean(exhaust_main, NULL), 0);
}
