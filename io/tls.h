/* io/: TLS contexts, private interface between the contexts (tls_ctx.c) and
 * what uses them: TLS streams and servers. Built with OpenSSL 3 when the
 * `tls` option finds it (RINGO_HAVE_TLS); without it tls_off.c gives the same
 * public calls, returning -ENOTSUP, and the calls below taking a NULL
 * context (none can exist then).
 *
 * A context is immutable once made, so any loop's thread may use it at once:
 * SSL_new on a shared SSL_CTX is thread-safe. Its life is a reference count:
 * ringo_tls_new_* returns the owner's reference, ringo_tls_free drops it, and
 * whatever uses the context (a server, a stream, an SSL made here) holds one
 * more until it is closed, so freeing early is safe. */
#ifndef RINGO_IO_TLS_H
#define RINGO_IO_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <ringo.h>

/* Take one more reference; returns t (NULL stays NULL). Any thread. */
ringo_tls *ringo__tls_ref(ringo_tls *t);
/* Drop one; the last frees the context. NULL is ignored. Any thread. */
void ringo__tls_unref(ringo_tls *t);

bool ringo__tls_is_server(const ringo_tls *t);   /* false for NULL */

/* Words for the last failure of a TLS call on this thread (ringo_tls_new_*,
 * ringo__tls_ssl_new), e.g. "key_file /k.pem: X509 routines: key values
 * mismatch"; NULL if none failed yet. Per thread, not per context: a failed
 * ringo_tls_new_* has no context to hold it, and a context is shared by
 * loops on many threads. Valid until the next TLS call on this thread. Under
 * RINGO_DEBUG every such failure is also printed on stderr. */
const char *ringo__tls_last_error(void);

#ifdef RINGO_HAVE_TLS
#include <openssl/ssl.h>

/* A server context's wire-format ALPN list, as given in ringo_tls_opts. */
typedef struct ringo__alpn {
    unsigned char *wire;   /* length-prefixed names, NULL when none */
    size_t len;
} ringo__alpn;

struct ringo_tls {
    SSL_CTX *ctx;          /* its app data points back here */
    _Atomic unsigned refs;
    bool server;
    ringo__alpn alpn;      /* server: what the select callback picks from */
};

/* The OpenSSL context, borrowed (valid while a reference is held). */
static inline SSL_CTX *ringo__tls_ctx(ringo_tls *t) { return t->ctx; }

/* tls_ssl.c: one connection's SSL, ready for SSL_set_fd / SSL_set_bio and
 * SSL_do_handshake (connect or accept state already set by t's side).
 * server_hostname, on a client: a DNS name is sent as SNI and checked
 * against the certificate's names (SSL_set1_host, no partial wildcards); an
 * IPv4 or IPv6 literal is checked against its IP names and not sent (SNI
 * carries no addresses); "" or NULL: neither. On a server it must be NULL.
 * The SSL holds a reference to t: release both with ringo__tls_ssl_free.
 * Whether a failed name check fails the handshake follows verify_peer.
 * 0; -EINVAL (NULL t or out, a server given a name, a name OpenSSL
 * refuses), -ENOMEM. *out written only on success. */
int ringo__tls_ssl_new(ringo_tls *t, const char *server_hostname, SSL **out);
/* SSL_free, then drop the context reference it held. NULL is ignored. */
void ringo__tls_ssl_free(SSL *ssl);

/* After a TLS call on ssl failed for good (SSL_get_error said SSL_ERROR_SSL
 * or SSL_ERROR_SYSCALL): the errno the contract gives it, with the reason in
 * words in buf (cap bytes, NUL-terminated, cut if longer), and the thread's
 * OpenSSL error queue drained. -EKEYREJECTED when a certificate failed: ours
 * rejected the peer's (verification, name check, none sent where required),
 * or the peer's alert says it rejected ours; else -EPROTO. Call it on the
 * thread that made the failing call, before any other OpenSSL call there. */
int ringo__tls_failure(const SSL *ssl, char *buf, size_t cap);

/* tls_ctx.c, shared with tls_ssl.c: record a failure's words for
 * ringo__tls_last_error (printf-style what, then OpenSSL's queued reasons,
 * which are drained) and return err. */
int ringo__tls_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append the thread's queued OpenSSL reasons to buf ("lib: reason; ...")
 * and clear the queue. */
void ringo__tls_drain(char *buf, size_t cap);
#endif

#endif
