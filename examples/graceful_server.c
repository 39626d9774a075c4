/* An HTTP hello server that shuts down gracefully on SIGINT or SIGTERM: it
 * stops taking new requests, lets the ones in progress finish (for up to
 * GRACE), then closes the server, which cancels the handlers still idle on a
 * keep-alive connection and waits for them. It prints one line and exits 0.
 *
 * usage: graceful_server [PORT] [HOST]     (defaults 8080 127.0.0.1)
 * Prints "listening on HOST:PORT" once ready, signal watchers included.
 * GET /slow answers in two halves 300 ms apart: start one with
 *   curl http://127.0.0.1:8080/slow & sleep 0.1; kill -INT %%
 * and it still completes.
 *
 * Each signal is watched by a task of its own (ringo_wait_signal); while it
 * waits, the signal is blocked and only that task sees it. Once the watchers
 * are gone the normal disposition is back, so a second Ctrl-C during the
 * grace period kills the process at once, as users expect. */
#include <errno.h>
#include <ringo.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "stop_signals.h"

#define GRACE RINGO_SEC(5)

static const char HEAD[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n"
                           "Content-Type: text/plain\r\n\r\n";

struct app {
    bool stopping;
    unsigned busy;            /* requests being answered */
    unsigned long served;
    ringo_event *idle;        /* set once stopping and busy == 0 */
};

static int answer(ringo_stream *s, const char *head, size_t n)
{
    bool slow = n > 10 && memcmp(head, "GET /slow ", 10) == 0;
    ringo_stream_write(s, HEAD, sizeof HEAD - 1);
    if (slow) {
        ringo_stream_write(s, "Hello, ", 7);
        int ret = ringo_stream_drain(s);   /* the client sees the first half now */
        if (ret < 0 || (ret = ringo_sleep(RINGO_MS(300))) < 0)
            return ret;
        ringo_stream_write(s, "world!", 6);
    } else {
        ringo_stream_write(s, "Hello, world!", 13);
    }
    return ringo_stream_drain(s) < 0 ? -EPIPE : 0;
}

/* One per connection. Idle between requests it can be cancelled at no
 * cost; a request once read is answered before we look at `stopping`. */
static int handle(ringo_stream *s, void *arg)
{
    struct app *a = arg;
    char head[8192];
    while (!a->stopping) {
        ssize_t n = ringo_stream_readuntil(s, "\r\n\r\n", 4, head, sizeof head);
        if (n < 0)
            return 0;   /* EOF, a bad request, or the server closing */
        a->busy++;
        int ret = answer(s, head, (size_t)n);
        a->served += ret == 0;
        if (--a->busy == 0 && a->stopping)
            ringo_event_set(a->idle);
        if (ret < 0)
            return 0;
    }
    return 0;   /* the server closes the stream: the client sees EOF */
}

static int serve(void *arg)
{
    char **argv = arg;
    const char *port = argv[0] ? argv[0] : "8080";
    const char *host = argv[0] && argv[1] ? argv[1] : "127.0.0.1";
    struct app a = { 0 };
    int ret = ringo_event_new(&a.idle);
    if (ret < 0)
        return ret;
    ringo_server *srv;
    ringo_task *watchers[2];
    if ((ret = ringo_start_server(&srv, host, port, handle, &a)) < 0) {
        fprintf(stderr, "graceful_server: cannot listen on %s:%s: %s\n", host, port,
                strerror(-ret));
        ringo_event_free(a.idle);
        return ret;
    }
    if ((ret = watch_signals(watchers)) < 0) {
        ringo_server_close(srv);
        ringo_event_free(a.idle);
        return ret;
    }
    const char *l = strchr(host, ':') ? "[" : "", *r = *l ? "]" : "";   /* IPv6: [::1] */
    printf("listening on %s%s%s:%d\n", l, host, r, ringo_server_port(srv));
    fflush(stdout);

    int signo = first_signal(watchers);
    a.stopping = true;
    if (a.busy) {
        int64_t old = ringo_deadline(ringo_now() + GRACE);
        (void)ringo_event_wait(a.idle);   /* -ETIMEDOUT: the rest are cut short */
        ringo_deadline(old);
    }
    unsigned cut = a.busy;
    ringo_server_close(srv);
    ringo_event_free(a.idle);
    printf("stopped by SIG%s: %lu request(s) served, %u cut short\n",
           signo > 0 ? sigabbrev_np(signo) : "?", a.served, cut);
    return signo > 0 ? 0 : signo;
}

int main(int argc, char **argv)
{
    (void)argc;
    return ringo_run(serve, argv + 1) < 0 ? 1 : 0;
}
