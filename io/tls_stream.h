/* io/: TLS on a stream (tls_stream.c), the hooks the stream core calls. A
 * stream with s->tls set exists only in a build with TLS (RINGO_HAVE_TLS);
 * without it the hooks are never reached, and freeing is a no-op. */
#ifndef RINGO_IO_TLS_STREAM_H
#define RINGO_IO_TLS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <sys/types.h>

#include <ringo.h>

struct ringo_loop;

/* A plain recv's ciphertext buffer: one TLS record and its overhead. */
#define RINGO__TLS_CIN (16384 + 512)

#ifdef RINGO_HAVE_TLS
char   *ringo__tls_cin(ringo_stream *s);
/* Ciphertext arrived (from a completion handler): handshake or decrypt into
 * the read buffer, queueing whatever OpenSSL has to send. */
void    ringo__tls_feed(ringo_stream *s, const char *p, size_t n);
void    ringo__tls_eof(ringo_stream *s);        /* the TCP stream ended */
ssize_t ringo__tls_write(ringo_stream *s, const void *buf, size_t n);
/* Handshake s as client (server_hostname: SNI and name check) or server. */
int     ringo__tls_start(ringo_stream *s, ringo_tls *t, const char *server_hostname, bool server);
/* close_notify; with a loop, wait for the peer's (30 s at most). */
int     ringo__tls_close(ringo_stream *s, struct ringo_loop *l);
void    ringo__tls_free(ringo_stream *s);
#else
static inline char *ringo__tls_cin(ringo_stream *s) { (void)s; return NULL; }
static inline void ringo__tls_feed(ringo_stream *s, const char *p, size_t n)
{
    (void)s; (void)p; (void)n;
}
static inline void ringo__tls_eof(ringo_stream *s) { (void)s; }
static inline ssize_t ringo__tls_write(ringo_stream *s, const void *buf, size_t n)
{
    (void)s; (void)buf; (void)n;
    return -ENOTSUP;
}
static inline int ringo__tls_start(ringo_stream *s, ringo_tls *t, const char *h, bool server)
{
    (void)s; (void)t; (void)h; (void)server;
    return -ENOTSUP;
}
static inline int ringo__tls_close(ringo_stream *s, struct ringo_loop *l)
{
    (void)s; (void)l;
    return 0;
}
static inline void ringo__tls_free(ringo_stream *s) { (void)s; }
#endif

#endif
