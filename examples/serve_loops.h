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

#include "stop_signals.h"

struct app {
    const char *name;               /* for messages */
    const char *host, *port;
    ringo_conn_fn handle;
    ringo_tls *tls;                 /* a server context: every connection is TLS */
    char bound[8];                  /* the port loop 0 got, for the other loops */
    ringo_event *bound_set, *stop;  /* loop 0's: set once bound, set to stop */
};

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
