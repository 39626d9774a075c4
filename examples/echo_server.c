/* A line echo server: asyncio's start_server example, in C. Every client gets
 * a task of its own that reads lines and sends them back until EOF.
 *
 * usage: echo_server [--loops N] [PORT] [HOST]     (defaults 1, 8080,
 * 127.0.0.1; port 0 picks a free port). Prints "listening on HOST:PORT" once
 * ready. Try it with echo_client, or: printf 'hi\n' | nc 127.0.0.1 8080
 *
 * --loops N (0: one per CPU) runs N loops, one thread each, every one with a
 * listener of its own on the same port (RINGO_SERVER_REUSEPORT): the kernel
 * spreads the clients. Loop 0 binds first and hands the port to the others.
 *
 * Ctrl-C (SIGINT) or SIGTERM stops it cleanly: on loop 0 a task waits on each
 * signal; then every loop is told to stop and closes its server (its
 * handlers cancelled and awaited), and the program exits 0. */
#include <errno.h>
#include <ringo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One per connection; the server closes the stream after we return. */
static int handle(ringo_stream *s, void *arg)
{
    (void)arg;
    char line[4096];
    ssize_t n;
    /* 0 at EOF; -ENODATA for a last line without "\n"; -EMSGSIZE for a line
     * longer than the buffer: either way this client is done. */
    while ((n = ringo_stream_readline(s, line, sizeof line)) > 0) {
        if (ringo_stream_write(s, line, (size_t)n) < 0)
            break;
        /* Backpressure: wait while the client is not reading its replies. */
        if (ringo_stream_drain(s) < 0)
            break;
    }
    return 0;
}

static int watch(void *arg)
{
    return ringo_wait_signal(*(const int *)arg);
}

/* One task per stop signal; they are waiting (the signals no longer kill
 * us) when this returns. */
static int watch_signals(ringo_task *t[2])
{
    static const int sigs[2] = { SIGINT, SIGTERM };
    for (int i = 0; i < 2; i++) {
        int ret = ringo_spawn(&t[i], watch, (void *)&sigs[i]);
        if (ret < 0) {
            if (i) {
                (void)ringo_cancel(t[0]);
                (void)ringo_await(t[0]);
            }
            return ret;
        }
    }
    (void)ringo_yield();
    return 0;
}

/* The first stop signal to arrive (or -errno); both watchers are gone. */
static int first_signal(ringo_task *t[2])
{
    int got = ringo_wait(t, 2, RINGO_FIRST_COMPLETED, -1);
    for (int i = 0; i < 2; i++) {
        (void)ringo_cancel(t[i]);
        int ret = ringo_await(t[i]);
        if (ret > 0)
            got = ret;
    }
    return got;
}

struct app {
    const char *host, *port;
    char bound[8];                  /* the port loop 0 got, for the other loops */
    ringo_event *bound_set, *stop;  /* loop 0's: set once bound, set to stop */
};

static int event_wait_task(void *arg)
{
    return ringo_event_wait(arg);
}

/* Wait from any loop for an event of loop 0 (an event belongs to the loop
 * that waits on it): the wait runs there as a task, awaited from here. */
static int wait_on_loop0(ringo_event *e)
{
    ringo_task *t;
    int ret = ringo_spawn_on(ringo_loop_at(0), &t, event_wait_task, e);
    return ret < 0 ? ret : ringo_await(t);
}

/* Every loop runs this. Loop 0 binds first, watches the signals and tells
 * the others when to stop. */
static int serve(void *arg)
{
    struct app *a = arg;
    unsigned me = ringo_loop_index();
    if (me > 0 && wait_on_loop0(a->bound_set) < 0)
        return 0;   /* loop 0 failed, and its error is the run's */
    const ringo_server_opts o = { .flags = ringo_loop_count() > 1 ? RINGO_SERVER_REUSEPORT : 0 };
    const char *port = me ? a->bound : a->port;
    ringo_server *srv;
    int ret = ringo_start_server_opts(&srv, a->host, port, &o, handle, NULL);
    if (ret < 0) {
        fprintf(stderr, "echo_server: cannot listen on %s:%s: %s\n", a->host, port,
                strerror(-ret));
        return ret;
    }
    if (me > 0) {
        (void)wait_on_loop0(a->stop);   /* or cancelled: another loop failed */
        ringo_server_close(srv);
        return 0;
    }
    snprintf(a->bound, sizeof a->bound, "%d", ringo_server_port(srv));
    ringo_event_set(a->bound_set);
    ringo_task *watchers[2];
    int signo = watch_signals(watchers);
    if (signo == 0) {
        /* An IPv6 host is bracketed, as in a URL. */
        const char *l = strchr(a->host, ':') ? "[" : "", *r = *l ? "]" : "";
        printf("listening on %s%s%s:%d\n", l, a->host, r, ringo_server_port(srv));
        fflush(stdout);
        signo = first_signal(watchers);
    }
    ringo_event_set(a->stop);   /* the other loops close their servers meanwhile */
    ringo_server_close(srv);    /* cancels and awaits the connection handlers */
    return signo > 0 ? 0 : signo;
}

int main(int argc, char **argv)
{
    unsigned loops = 1;
    int i = 1;
    if (argc > 2 && strcmp(argv[1], "--loops") == 0) {
        loops = (unsigned)strtoul(argv[2], NULL, 10);
        i = 3;
    }
    struct app a = {
        .port = i < argc ? argv[i] : "8080",
        .host = i + 1 < argc ? argv[i + 1] : "127.0.0.1",
    };
    if (ringo_event_new(&a.bound_set) < 0 || ringo_event_new(&a.stop) < 0)
        return 1;
    int ret = loops == 1 ? ringo_run(serve, &a) : ringo_run_loops(NULL, loops, serve, &a);
    ringo_event_free(a.bound_set);
    ringo_event_free(a.stop);
    return ret < 0 ? 1 : 0;
}
