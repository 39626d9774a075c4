/* uv_http: epoll_http.c's server on libuv, the second baseline.
 *
 * Same behaviour: keep-alive, every complete request in a read answered with
 * the fixed response, the responses to one read sent together. They go out
 * with uv_try_write (no request object, no copy) and only what the socket
 * won't take is copied into a uv_write; the connection stops reading until
 * that write completes (backpressure).
 *
 * usage: uv_http [PORT] [HOST]     (defaults 8080 127.0.0.1)
 * Prints "listening on HOST:PORT" once ready; SIGINT/SIGTERM exit cleanly.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define RESPONSE "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!"
#define IN_CAP 8192                       /* largest request head accepted */
#define MIN_REQUEST 4                     /* a bare "\r\n\r\n" counts as one */

struct conn {
    uv_tcp_t tcp;                         /* first: the handle is the conn */
    char in[IN_CAP];
    size_t in_len;                        /* bytes buffered in in[] */
    size_t scanned;                       /* in[0, scanned) holds no "\r\n\r\n" */
};

struct pending_write {
    uv_write_t req;
    char data[];
};

static uv_loop_t *loop;
static char batch[(IN_CAP / MIN_REQUEST + 1) * (sizeof RESPONSE - 1)];

static void on_close(uv_handle_t *h)
{
    if (h->type == UV_TCP && h->data)
        free(h);                          /* a conn (the listener has no data) */
}

static void conn_close(struct conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct conn *c = (struct conn *)h;
    (void)hint;
    *buf = uv_buf_init(c->in + c->in_len, (unsigned)(IN_CAP - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void on_written(uv_write_t *req, int status)
{
    struct conn *c = (struct conn *)req->handle;
    free(req);
    if (status < 0)
        conn_close(c);
    else if (!uv_is_closing((uv_handle_t *)&c->tcp) &&
             uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        conn_close(c);
}

static int send_batch(struct conn *c, size_t len)
{
    uv_buf_t buf = uv_buf_init(batch, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    if (n < 0 && n != UV_EAGAIN)
        return n;
    size_t sent = n < 0 ? 0 : (size_t)n;
    if (sent == len)
        return 0;
    struct pending_write *w = malloc(sizeof *w + len - sent);
    if (!w)
        return UV_ENOMEM;
    memcpy(w->data, batch + sent, len - sent);
    buf = uv_buf_init(w->data, (unsigned)(len - sent));
    int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
    if (r < 0) {
        free(w);
        return r;
    }
    return uv_read_stop((uv_stream_t *)&c->tcp);   /* until on_written */
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = (struct conn *)s;
    (void)buf;
    if (n == 0)
        return;                           /* EAGAIN */
    if (n < 0) {                          /* EOF, error, or UV_ENOBUFS: head too large */
        conn_close(c);
        return;
    }
    c->in_len += (size_t)n;

    /* Answer every complete request; keep a trailing partial one. */
    size_t start = 0, len = 0;
    for (;;) {
        size_t from = c->scanned > start + 3 ? c->scanned - 3 : start;
        char *end = memmem(c->in + from, c->in_len - from, "\r\n\r\n", 4);
        if (!end) {
            c->scanned = c->in_len;
            break;
        }
        memcpy(batch + len, RESPONSE, sizeof RESPONSE - 1);
        len += sizeof RESPONSE - 1;
        start = (size_t)(end - c->in) + 4;
        c->scanned = start;
    }
    if (start > 0) {
        memmove(c->in, c->in + start, c->in_len - start);
        c->in_len -= start;
        c->scanned -= start;
    }
    if (len && send_batch(c, len) < 0)
        conn_close(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct conn *c = malloc(sizeof *c);
    if (!c || uv_tcp_init(loop, &c->tcp) < 0) {
        free(c);
        return;
    }
    c->tcp.data = c;
    c->in_len = c->scanned = 0;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 ||
        uv_tcp_nodelay(&c->tcp, 1) < 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        conn_close(c);
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, on_close);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    (void)signum;
    uv_walk(sig->loop, close_any, NULL);  /* uv_run returns once all are closed */
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    const char *host = argc > 2 ? argv[2] : "127.0.0.1";
    static uv_tcp_t server;
    static uv_signal_t sigint, sigterm;
    struct sockaddr_in sa;
    loop = uv_default_loop();
    signal(SIGPIPE, SIG_IGN);

    int r = uv_ip4_addr(host, port, &sa);
    if (!r)
        r = uv_tcp_init(loop, &server);
    if (!r)                               /* libuv sets SO_REUSEADDR itself */
        r = uv_tcp_bind(&server, (const struct sockaddr *)&sa, 0);
    if (!r)
        r = uv_listen((uv_stream_t *)&server, 4096, on_connection);
    if (!r)
        r = uv_signal_init(loop, &sigint);
    if (!r)
        r = uv_signal_start(&sigint, on_signal, SIGINT);
    if (!r)
        r = uv_signal_init(loop, &sigterm);
    if (!r)
        r = uv_signal_start(&sigterm, on_signal, SIGTERM);
    if (r) {
        fprintf(stderr, "uv_http: %s:%d: %s\n", host, port, uv_strerror(r));
        return 1;
    }
    printf("listening on %s:%d\n", host, port);
    fflush(stdout);

    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop) ? 1 : 0;
}
