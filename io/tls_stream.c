/* TLS on a stream (asyncio's ssl=): OpenSSL over two memory BIOs, so the
 * stream keeps its own receive (the multishot buffer ring included) and send
 * paths, limits, backpressure and cancellation; only what crosses the wire
 * changes.
 *
 * Ciphertext that arrives is fed to the read BIO right in the receive's
 * completion handler, and OpenSSL turns it into plaintext in the stream's
 * read buffer there and then: readers see a plain stream. Whatever OpenSSL
 * writes (handshake flights, alerts, a KeyUpdate's answer, session tickets)
 * is moved from the write BIO to the send queue after every call, so a read
 * that must write does. A write encrypts at once into the send queue, so it
 * never has to read. Every OpenSSL call runs to its end on the loop's
 * thread without suspending: two tasks using one stream can never have two
 * calls in progress on its SSL. */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/stream.h"
#include "io/tls.h"
#include "io/tls_stream.h"

#define HANDSHAKE_NS RINGO_SEC(60)
#define CLOSE_NS     RINGO_SEC(30)

struct ringo__tls_conn {
    SSL *ssl;
    BIO *rbio, *wbio;      /* the network's side: we write into rbio, read wbio */
    bool done;             /* handshake over */
    bool peer_closed;      /* close_notify came */
    int hs_err;            /* the handshake failed: -EKEYREJECTED or -EPROTO */
    char alpn[256];
    char err[256];
    char cin[RINGO__TLS_CIN];   /* a plain recv's ciphertext (not the buffer ring's) */
};

char *ringo__tls_cin(ringo_stream *s) { return s->tls->cin; }

/* OpenSSL's output to the send queue. */
static int flush_out(ringo_stream *s)
{
    char *p;
    long n = BIO_get_mem_data(s->tls->wbio, &p);
    if (n <= 0)
        return 0;
    int ret = ringo__stream_queue(s, p, (size_t)n);
    (void)BIO_reset(s->tls->wbio);
    return ret;
}

/* A call failed for good: the contract's errno, OpenSSL's reason kept. */
static int fail(ringo_stream *s, const char *what)
{
    struct ringo__tls_conn *c = s->tls;
    size_t k = (size_t)snprintf(c->err, sizeof c->err, "%s: ", what);
    int err = ringo__tls_failure(c->ssl, c->err + k, sizeof c->err - k);
    if (!s->rerr)
        s->rerr = err;
    return err;
}

static void handshake_step(ringo_stream *s)
{
    struct ringo__tls_conn *c = s->tls;
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
    (void)flush_out(s);   /* the next flight, or the alert that says why not */
    if (r == 1) {
        c->done = true;
        const unsigned char *a;
        unsigned alen;
        SSL_get0_alpn_selected(c->ssl, &a, &alen);
        if (alen)
            memcpy(c->alpn, a, alen);
        c->alpn[alen] = 0;
    } else if (e != SSL_ERROR_WANT_READ) {
        c->hs_err = fail(s, "TLS handshake");
    }
}

static void decrypt(ringo_stream *s)
{
    struct ringo__tls_conn *c = s->tls;
    for (;;) {
        /* Room for what can come out, no more: plaintext is never longer
         * than the ciphertext waiting. Asking 16 KiB for every small request
         * grew the buffer past what consume() keeps, so each request paid a
         * malloc, a free and the page faults of memory glibc gave back. */
        size_t in = BIO_ctrl_pending(c->rbio), ready = (size_t)SSL_pending(c->ssl);
        if (!in && !ready)
            return;   /* nothing OpenSSL could turn into plaintext or act on */
        size_t need = in < 16384 ? in : 16384;
        if (need < ready)
            need = ready;
        char *p;
        size_t room;
        if (ringo__stream_rbuf_tail(s, need, &p, &room) < 0) {
            s->rerr = -ENOMEM;
            return;
        }
        ERR_clear_error();
        int r = SSL_read(c->ssl, p, room > INT32_MAX ? INT32_MAX : (int)room);
        int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
        (void)flush_out(s);   /* a KeyUpdate's answer, tickets */
        if (r > 0) {
            s->rlen += (size_t)r;
            continue;
        }
        if (e == SSL_ERROR_ZERO_RETURN) {
            c->peer_closed = s->eof = true;
        } else if (e != SSL_ERROR_WANT_READ) {
            (void)fail(s, "TLS read");
        }
        return;
    }
}

void ringo__tls_feed(ringo_stream *s, const char *p, size_t n)
{
    struct ringo__tls_conn *c = s->tls;
    if (BIO_write(c->rbio, p, (int)n) != (int)n) {
        s->rerr = -ENOMEM;
        return;
    }
    if (!c->done && !c->hs_err) {
        handshake_step(s);
        if (s->reader && (c->done || c->hs_err))
            ringo__wake(s->reader);
    }
    if (c->done && !c->peer_closed)
        decrypt(s);   /* what came with the last flight, or after */
}

void ringo__tls_eof(ringo_stream *s)
{
    struct ringo__tls_conn *c = s->tls;
    if (!c->peer_closed && !c->err[0])
        snprintf(c->err, sizeof c->err, "the stream was truncated: the peer closed the "
                                        "connection without a TLS close_notify");
}

ssize_t ringo__tls_write(ringo_stream *s, const void *buf, size_t n)
{
    struct ringo__tls_conn *c = s->tls;
    size_t done = 0;
    while (done < n) {
        size_t k = n - done > INT32_MAX ? INT32_MAX : n - done;
        ERR_clear_error();
        int r = SSL_write(c->ssl, (const char *)buf + done, (int)k);
        if (r <= 0) {
            int err = fail(s, "TLS write");
            s->werr = err;
            return done ? (ssize_t)done : err;
        }
        done += (size_t)r;
        int ret = flush_out(s);
        if (ret < 0)
            return ret;
    }
    return (ssize_t)n;
}

/* Suspend while the handshake goes on: until done, failed, EOF, the 60 s
 * bound or the caller's own deadline. */
static int wait_handshake(ringo_stream *s, ringo_loop *l)
{
    struct ringo__tls_conn *c = s->tls;
    ringo_task *cur = l->current;
    int64_t old = cur->deadline, bound = ringo_now() + HANDSHAKE_NS;
    if (bound < old)
        cur->deadline = bound;
    int ret = 0;
    while (!c->done && !c->hs_err && !s->rerr && !s->eof && ret == 0)
        ret = ringo__stream_wait_data(s, l, SIZE_MAX);
    cur->deadline = old;
    if (ret == -ETIMEDOUT && !c->err[0])
        snprintf(c->err, sizeof c->err, "TLS handshake: timed out");
    if (ret < 0)
        return ret;
    if (c->done)
        return 0;
    if (c->hs_err)
        return c->hs_err;
    if (s->rerr)
        return s->rerr;
    if (!c->err[0])
        snprintf(c->err, sizeof c->err, "TLS handshake: the peer closed the connection");
    return -EPROTO;
}

int ringo__tls_start(ringo_stream *s, ringo_tls *t, const char *server_hostname, bool server)
{
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    if (s->tls || s->closing || s->wshut)
        return -EINVAL;
    /* Plaintext already read past the upgrade point: whose is it? (What is
     * queued to send goes out first, in plaintext, as it should.) */
    if (ringo__stream_rbuffered(s))
        return -EINVAL;
    struct ringo__tls_conn *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    ret = ringo__tls_ssl_new(t, server ? NULL : server_hostname, &c->ssl);
    if (ret < 0) {
        free(c);
        return ret;
    }
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (!c->rbio || !c->wbio) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        ringo__tls_ssl_free(c->ssl);
        free(c);
        return -ENOMEM;
    }
    BIO_set_mem_eof_return(c->rbio, -1);   /* empty means "more to come" */
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    s->tls = c;
    if (!server)
        handshake_step(s);   /* the ClientHello */
    ringo__stream_send_sync(s);
    ret = wait_handshake(s, l);
    if (RINGO_UNLIKELY(l->debug) && ret == 0)
        fprintf(stderr, "ringo: TLS stream on fd %d: %s, user-space crypto (no kTLS)\n", s->fd,
                SSL_get_version(c->ssl));
    return ret;
}

int ringo__tls_close(ringo_stream *s, ringo_loop *l)
{
    struct ringo__tls_conn *c = s->tls;
    if (!c->done || s->werr)
        return 0;
    ERR_clear_error();
    if (SSL_shutdown(c->ssl) < 0)
        ERR_clear_error();
    (void)flush_out(s);
    ringo__stream_send_sync(s);
    if (!l || c->peer_closed || s->eof || s->rerr)
        return 0;
    /* The peer's close_notify, for at most 30 s (and the caller's deadline). */
    ringo_task *cur = l->current;
    int64_t old = cur->deadline, bound = ringo_now() + CLOSE_NS;
    if (bound < old)
        cur->deadline = bound;
    int ret = 0;
    while (!c->peer_closed && !s->eof && !s->rerr && ret == 0) {
        ringo__stream_drop_read(s);   /* plaintext nobody will read */
        ret = ringo__stream_wait_data(s, l, SIZE_MAX);
    }
    cur->deadline = old;
    return ret == -ETIMEDOUT ? 0 : ret;
}

void ringo__tls_free(ringo_stream *s)
{
    struct ringo__tls_conn *c = s->tls;
    if (!c)
        return;
    ringo__tls_ssl_free(c->ssl);   /* its BIOs, and its hold on the context */
    free(c);
    s->tls = NULL;
}

const char *ringo_stream_alpn(const ringo_stream *s)
{
    return s && s->tls && s->tls->alpn[0] ? s->tls->alpn : NULL;
}

const char *ringo_stream_tls_error(const ringo_stream *s)
{
    return s && s->tls && s->tls->err[0] ? s->tls->err : NULL;
}

int ringo_stream_start_tls(ringo_stream *s, ringo_tls *tls, const char *server_hostname)
{
    if (!s || !tls)
        return -EINVAL;
    return ringo__tls_start(s, tls, server_hostname, ringo__tls_is_server(tls));
}

int ringo_open_tls_connection(ringo_stream **out, const char *host, const char *port,
                              ringo_tls *tls, const char *server_hostname)
{
    if (!out || !tls || ringo__tls_is_server(tls))
        return -EINVAL;
    ringo_stream *s;
    int ret = ringo_open_connection(&s, host, port);
    if (ret < 0)
        return ret;
    ret = ringo__tls_start(s, tls, server_hostname ? server_hostname : host, false);
    if (ret < 0) {
        (void)ringo_stream_close(s);
        return ret;
    }
    *out = s;
    return 0;
}
