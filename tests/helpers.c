#include "helpers.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tls_dir[64];

void tls_certs_make(void)
{
    const char *script = getenv("RINGO_TLS_CERTS");
    cr_assert_not_null(script, "RINGO_TLS_CERTS names tests/tls_certs.sh (meson test sets it)");
    strcpy(tls_dir, "/tmp/ringo-tls-XXXXXX");
    cr_assert_not_null(mkdtemp(tls_dir));
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "sh '%s' '%s'", script, tls_dir);
    cr_assert_eq(system(cmd), 0, "tls_certs.sh failed");
    signal(SIGPIPE, SIG_IGN);
}

void tls_certs_remove(void)
{
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tls_dir);
    cr_expect_eq(system(cmd), 0);
}

const char *tls_certs_dir(void) { return tls_dir; }

const char *tls_file(const char *name)
{
    static char paths[8][4200];
    static unsigned next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", tls_dir, name);
    return p;
}

static int ask_backend(void *arg)
{
    *(const char **)arg = ringo_backend();
    return 0;
}

bool backend_is_epoll(void)
{
    const char *b = NULL;
    cr_assert_eq(ringo_run(ask_backend, &b), 0);
    cr_assert_not_null(b);
    return strcmp(b, "epoll") == 0;
}

int open_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

int thread_count(const char *prefix)
{
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    size_t plen = strlen(prefix);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], comm[32] = { 0 };
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;   /* exited meanwhile */
        if (fgets(comm, sizeof comm, f) && strncmp(comm, prefix, plen) == 0)
            n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

int run_clean_config(const ringo_config *cfg, ringo_fn fn, void *arg)
{
    int before = open_fd_count();
    int ret = ringo_run_config(cfg, fn, arg);
    cr_assert_null(ringo_self(), "a task is still current after ringo_run returned");
    cr_assert_eq(open_fd_count(), before, "ringo_run leaked descriptors");
    return ret;
}

int run_clean(ringo_fn fn, void *arg)
{
    return run_clean_config(NULL, fn, arg);
}

static FILE *capture;
static int saved_fd = -1;

void stderr_capture_begin(void)
{
    fflush(stderr);
    capture = tmpfile();
    cr_assert_not_null(capture);
    saved_fd = dup(2);
    dup2(fileno(capture), 2);
}

char *stderr_capture_end(void)
{
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    long n = ftell(capture);
    if (n < 0)
        n = 0;
    char *buf = calloc(1, (size_t)n + 1);
    rewind(capture);
    size_t got = fread(buf, 1, (size_t)n, capture);
    buf[got] = 0;
    fclose(capture);
    return buf;
}

/* ---- many loops ----------------------------------------------------------- */

#include "loops_helpers.h"

struct loops_run {
    ringo_fn fn;
    void *arg;
    ringo_event *stop[MAX_TEST_LOOPS];
};

static int loops_main(void *arg)
{
    struct loops_run *r = arg;
    unsigned i = ringo_loop_index();
    if (i != 0)
        return ringo_event_wait(r->stop[i]);
    int ret = r->fn(r->arg);
    for (unsigned k = 1; k < ringo_loop_count(); k++)
        ringo_event_set(r->stop[k]);
    return ret;
}

int run_loops_clean(const ringo_config *cfg, unsigned n, ringo_fn fn, void *arg)
{
    cr_assert_leq(n, MAX_TEST_LOOPS);
    struct loops_run r = { .fn = fn, .arg = arg };
    for (unsigned i = 0; i < MAX_TEST_LOOPS; i++)
        cr_assert_eq(ringo_event_new(&r.stop[i]), 0);
    int before = open_fd_count();
    int ret = ringo_run_loops(cfg, n, loops_main, &r);
    cr_assert_null(ringo_loop_current(), "a loop is still current after ringo_run_loops returned");
    cr_assert_eq(open_fd_count(), before, "ringo_run_loops leaked descriptors");
    for (unsigned i = 0; i < MAX_TEST_LOOPS; i++)
        ringo_event_free(r.stop[i]);
    return ret;
}

void tcp_pair(int fds[2])
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(l, 0);
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(l, 1), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
    fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(connect(fds[0], (struct sockaddr *)&a, sizeof a), 0);
    fds[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    cr_assert_geq(fds[1], 0);
    close(l);
}

void unix_pair(int fds[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
}
