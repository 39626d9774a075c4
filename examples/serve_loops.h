/* What echo_server, http_hello and https_hello share: serve a handler on
 * one loop or many until SIGINT or SIGTERM, then stop cleanly.
 *
 * --loops N (0: one per CPU) runs N loops, one thread each, every one with a
 * listener of its own on the same port (RINGO_SERVER_REUSEPORT): the kernel
 * spreads the clients. Loop 0 binds first (port 0 picks one) and hands the
 * port to the others. On loop 0 a task waits on each stop signal; then every
 * loop is told to stop and closes its server (its handlers cancelled and
 * awaited), and serve_loops returns 0. */
#ifndef RINGO_EXAMPLES_SERVE_LOOPS_H
#define RINGO_EXAMPLES_SERVE_LOOPS_H

#include <ringo.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

struct app {
    const char *name;               /* for messages */
    const char *host, *port;
    ringo_conn_fn handle;
    ringo_tls *tls;                 /* a server context: every connection is TLS */
    char bound[8];                  /* the port loop 0 got, for the other loops */
    ringo_event *bound_set, *stop;  /* loop 0's: set once bound, set to stop */
};

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
    const ringo_server_opts o = { .flags = ringo_loop_count() > 1 ? RINGO_SERVER_REUSEPORT : 0,
                                  .tls = a->tls };
    const char *port = me ? a->bound : a->port;
    ringo_server *srv;
    int ret = ringo_start_server_opts(&srv, a->host, port, &o, a->handle, NULL);
    if (ret < 0) {
        fprintf(stderr, "%s: cannot listen on %s:%s: %s\n", a->name, a->host, port, strerror(-ret));
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

/* Serve a (name, host, port, handle, tls filled in) on `loops` loops until a
 * stop signal: 0, or < 0 if serving failed. */
static int serve_loops(struct app *a, unsigned loops)
{
    if (ringo_event_new(&a->bound_set) < 0 || ringo_event_new(&a->stop) < 0)
        return -1;
    int ret = loops == 1 ? ringo_run(serve, a) : ringo_run_loops(NULL, loops, serve, a);
    ringo_event_free(a->bound_set);
    ringo_event_free(a->stop);
    return ret;
}

#endif
