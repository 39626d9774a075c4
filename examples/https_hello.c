/* http_hello over TLS: the same keep-alive server answering every request
 * with "Hello, world!", each connection encrypted. See http_hello.c for how
 * it serves (pipelining, --loops N, stopping on SIGINT/SIGTERM); only the
 * context below is new.
 *
 * usage: https_hello --cert FILE --key FILE [--loops N] [PORT] [HOST]
 *   (defaults 1, 8443, 127.0.0.1). FILE: PEM; it makes no certificate. Try:
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
 *     -keyout k.pem -out c.pem -subj /CN=localhost -addext subjectAltName=DNS:localhost
 *   https_hello --cert c.pem --key k.pem &  curl --cacert c.pem https://localhost:8443/
 * Prints "listening on HOST:PORT" once ready.
 *
 * One context serves every loop: it is read-only once made. The server does
 * the handshake before it calls the handler, so the handler is http_hello's,
 * byte for byte; a client that fails the handshake is dropped and never
 * reaches it. */
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
    ringo_tls *tls;                 /* the server context, shared by every loop */
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
    const ringo_server_opts o = { .flags = ringo_loop_count() > 1 ? RINGO_SERVER_REUSEPORT : 0,
                                  .tls = a->tls };
    const char *port = me ? a->bound : a->port;
    ringo_server *srv;
    int ret = ringo_start_server_opts(&srv, a->host, port, &o, handle, NULL);
    if (ret < 0) {
        fprintf(stderr, "https_hello: cannot listen on %s:%s: %s\n", a->host, port,
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
    /* ALPN: say "http/1.1" so a client offering h2 too knows what it gets. */
    ringo_tls_opts to = { .alpn = "http/1.1" };
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--loops") == 0)
            loops = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--cert") == 0)
            to.cert_file = argv[i + 1];
        else if (strcmp(argv[i], "--key") == 0)
            to.key_file = argv[i + 1];
        else
            break;
    }
    if (!to.cert_file || !to.key_file || (i < argc && strncmp(argv[i], "--", 2) == 0)) {
        fprintf(stderr, "usage: %s --cert FILE --key FILE [--loops N] [PORT] [HOST]\n", argv[0]);
        return 2;
    }
    struct app a = {
        .port = i < argc ? argv[i] : "8443",
        .host = i + 1 < argc ? argv[i + 1] : "127.0.0.1",
    };
    /* Made before any loop runs: a bad file is reported before we listen. */
    int ret = ringo_tls_new_server(&a.tls, &to);
    if (ret < 0) {
        fprintf(stderr, "https_hello: %s, %s: %s (RINGO_DEBUG=1 says why)\n", to.cert_file,
                to.key_file, strerror(-ret));
        return 1;
    }
    if (ringo_event_new(&a.bound_set) < 0 || ringo_event_new(&a.stop) < 0)
        return 1;
    ret = loops == 1 ? ringo_run(serve, &a) : ringo_run_loops(NULL, loops, serve, &a);
    ringo_event_free(a.bound_set);
    ringo_event_free(a.stop);
    ringo_tls_free(a.tls);   /* every server using it is closed by now */
    return ret < 0 ? 1 : 0;
}
