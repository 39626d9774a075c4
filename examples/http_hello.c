/* A keep-alive HTTP/1.1 server answering every request with "Hello, world!".
 * Written for speed, and still plain: one task per connection, the request
 * head read into a stack buffer, the response queued on the stream.
 *
 * usage: http_hello [PORT] [HOST]     (defaults 8080 127.0.0.1)
 * Prints "listening on HOST:PORT" once ready. Try: curl http://127.0.0.1:8080/
 * or wrk -c 100 -d 10 http://127.0.0.1:8080/
 *
 * Pipelining needs no special code: readuntil returns one request head at a
 * time from what the stream has buffered, and writes only queue bytes, so a
 * batch of pipelined requests is answered with one send. The stream sends
 * queued bytes whenever the task waits for more input; drain only waits when
 * the client lets replies pile up (above 64 KiB).
 *
 * Like epoll_http (its benchmark baseline), it handles GET-style requests
 * without bodies. Ctrl-C (SIGINT) or SIGTERM stops it cleanly: a task waits
 * on each signal, then the server is closed and main returns 0. */
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

static int serve(void *arg)
{
    char **argv = arg;
    const char *port = argv[0] ? argv[0] : "8080";
    const char *host = argv[0] && argv[1] ? argv[1] : "127.0.0.1";
    ringo_server *srv;
    int ret = ringo_start_server(&srv, host, port, handle, NULL);
    if (ret < 0) {
        fprintf(stderr, "http_hello: cannot listen on %s:%s: %s\n", host, port, strerror(-ret));
        return ret;
    }
    ringo_task *watchers[2];
    if ((ret = watch_signals(watchers)) < 0) {
        ringo_server_close(srv);
        return ret;
    }
    const char *l = strchr(host, ':') ? "[" : "", *r = *l ? "]" : "";   /* IPv6: [::1] */
    printf("listening on %s%s%s:%d\n", l, host, r, ringo_server_port(srv));
    fflush(stdout);
    int signo = first_signal(watchers);
    ringo_server_close(srv);   /* cancels and awaits the connection handlers */
    return signo > 0 ? 0 : signo;
}

int main(int argc, char **argv)
{
    (void)argc;
    return ringo_run(serve, argv + 1) < 0 ? 1 : 0;
}
