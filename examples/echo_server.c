/* A line echo server: asyncio's start_server example, in C. Every client gets
 * a task of its own that reads lines and sends them back until EOF.
 *
 * usage: echo_server [PORT] [HOST]     (defaults 8080 127.0.0.1; port 0 picks
 * a free port). Prints "listening on HOST:PORT" once ready. Try it with
 * echo_client, or: printf 'hi\n' | nc 127.0.0.1 8080
 *
 * Ctrl-C (SIGINT) or SIGTERM stops it cleanly: a task waits on each signal,
 * then the server is closed (its handlers cancelled and awaited) and main
 * returns 0. */
#include <errno.h>
#include <ringo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct opts { const char *host, *port; };

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

static int serve(void *arg)
{
    const struct opts *o = arg;
    ringo_server *srv;
    int ret = ringo_start_server(&srv, o->host, o->port, handle, NULL);
    if (ret < 0) {
        fprintf(stderr, "echo_server: cannot listen on %s:%s: %s\n", o->host, o->port,
                strerror(-ret));
        return ret;
    }
    ringo_task *watchers[2];
    if ((ret = watch_signals(watchers)) < 0) {
        ringo_server_close(srv);
        return ret;
    }
    /* An IPv6 host is bracketed, as in a URL. */
    const char *l = strchr(o->host, ':') ? "[" : "", *r = *l ? "]" : "";
    printf("listening on %s%s%s:%d\n", l, o->host, r, ringo_server_port(srv));
    fflush(stdout);
    int signo = first_signal(watchers);
    ringo_server_close(srv);   /* cancels and awaits the connection handlers */
    return signo > 0 ? 0 : signo;
}

int main(int argc, char **argv)
{
    struct opts o = {
        .port = argc > 1 ? argv[1] : "8080",
        .host = argc > 2 ? argv[2] : "127.0.0.1",
    };
    return ringo_run(serve, &o) < 0 ? 1 : 0;
}
