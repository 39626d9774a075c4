/* A keep-alive HTTP/1.1 server answering every request with "Hello, world!".
 * Written for speed, and still plain: one task per connection, the request
 * head read into a stack buffer, the response queued on the stream.
 *
 * usage: http_hello [--loops N] [PORT] [HOST]     (defaults 1, 8080, 127.0.0.1)
 * Prints "listening on HOST:PORT" once ready. Try: curl http://127.0.0.1:8080/
 * or wrk -c 100 -d 10 http://127.0.0.1:8080/
 *
 * Pipelining needs no special code: readuntil returns one request head at a
 * time from what the stream has buffered, and writes only queue bytes, so a
 * batch of pipelined requests is answered with one send. The stream sends
 * queued bytes whenever the task waits for more input; drain only waits when
 * the client lets replies pile up (above 64 KiB).
 *
 * --loops N (0: one per CPU) runs N loops, one thread each, every one with a
 * listener of its own on the same port (RINGO_SERVER_REUSEPORT): the kernel
 * spreads the connections. Loop 0 binds first (port 0 picks one) and hands
 * the port to the others.
 *
 * Like epoll_http (its benchmark baseline), it handles GET-style requests
 * without bodies. Ctrl-C (SIGINT) or SIGTERM stops it cleanly: on loop 0 a
 * task waits on each signal; then every loop is told to stop, closes its
 * server and returns, and the program exits 0. */
#include <errno.h>
#include <ringo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n"
                               "Content-Type: text/plain\r\n\r\nHello, world!";
static const char TOO_LARGE[] = "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                "Content-Length: 0\r\nConnection: close\r\n\r\n";

static int handle(ringo_stream *s, void *arg)
{
    (void)arg;
    char head[8192];
    for (;;) {
        ssize_t n = ringo_stream_readuntil(s, "\r\n\r\n", 4, head, sizeof head);
        if (n == -EMSGSIZE) {
            ringo_stream_write(s, TOO_LARGE, sizeof TOO_LARGE - 1);
            return 0;   /* the server closes the stream, sending the reply first */
        }
        if (n < 0)
            return 0;   /* EOF (-ENODATA), reset, or the server is closing */
        if (ringo_stream_write(s, RESPONSE, sizeof RESPONSE - 1) < 0 ||
            ringo_stream_drain(s) < 0)
            return 0;
    }
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
        fprintf(stderr, "http_hello: cannot listen on %s:%s: %s\n", a->host, port, strerror(-ret));
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
        const char *l = strchr(a->host, ':') ? "[" : "", *r = *l ? "]" : "";   /* IPv6: [::1] */
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
