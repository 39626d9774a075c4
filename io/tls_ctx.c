/* TLS contexts (ssl.SSLContext): one OpenSSL SSL_CTX per ringo_tls, set up
 * once from ringo_tls_opts and read-only afterwards, so streams on every
 * loop share it. TLS 1.2 at least; sessions and tickets as OpenSSL's
 * defaults. Why a call failed is kept in words per thread
 * (ringo__tls_last_error) and printed under RINGO_DEBUG: errno alone cannot
 * tell "no start line" from "key values mismatch". */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>

#include "engine/internal.h"
#include "io/tls.h"

/* Partial writes and a buffer that may move between retries are what a
 * stream's write buffer needs; idle connections give their buffers back. */
#define TLS_MODES (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE | \
                   SSL_MODE_RELEASE_BUFFERS)
#define TLS_ALPN_MAX 65535   /* the extension's list length is 16 bits */

static __thread char last_error[512];
static __thread bool have_error;

const char *ringo__tls_last_error(void) { return have_error ? last_error : NULL; }

static bool debug_on(void)
{
    if (ringo__loop)
        return ringo__loop->debug;
    const char *v = getenv("RINGO_DEBUG");   /* a context made before ringo_run */
    return v && *v && strcmp(v, "0") != 0;
}

void ringo__tls_drain(char *buf, size_t cap)
{
    size_t n = strlen(buf);
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        const char *lib = ERR_lib_error_string(e), *why = ERR_reason_error_string(e);
        char one[200];
        if (why)
            snprintf(one, sizeof one, "%s%s%s", lib ? lib : "", lib ? ": " : "", why);
        else
            snprintf(one, sizeof one, "error %lx", e);
        /* Keep draining when full: the queue must end empty. A reason
         * OpenSSL repeats (one per provider it tried) is said once. */
        if (n + 1 >= cap || strstr(buf, one))
            continue;
        int w = snprintf(buf + n, cap - n, "%s%s", n ? "; " : "", one);
        n = w < 0 ? n : n + (size_t)w >= cap ? cap - 1 : n + (size_t)w;
    }
}

int ringo__tls_fail(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    size_t n = strlen(last_error);
    if (ERR_peek_error() && n + 3 < sizeof last_error) {
        memcpy(last_error + n, ": ", 3);
        ringo__tls_drain(last_error + n + 2, sizeof last_error - n - 2);
    }
    ERR_clear_error();
    have_error = true;
    if (debug_on())
        fprintf(stderr, "ringo: TLS: %s\n", last_error);
    return err;
}

/* OpenSSL reports a missing file as one library error among others: look
 * first, so that a file that cannot be read (absent, refused, a directory)
 * is -ENOENT, as the contract says, with the system's reason in words. */
static int check_readable(const char *what, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ringo__tls_fail(-ENOENT, "%s %s: %s", what, path, strerror(errno));
    struct stat st;
    int bad = fstat(fd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    close(fd);
    return bad ? ringo__tls_fail(-ENOENT, "%s %s: %s", what, path, strerror(bad)) : 0;
}

/* An encrypted key would make OpenSSL ask on the terminal; refuse it, and
 * note that it was asked (arg), to say so. */
static int no_password(char *buf, int size, int rwflag, void *arg)
{
    (void)buf, (void)size, (void)rwflag;
    if (arg)
        *(bool *)arg = true;
    return 0;
}

/* "h2,http/1.1" -> "\2h2\10http/1.1": names of 1 to 255 bytes, taken as
 * written (spaces included). The wire form is one byte longer than s. */
static int alpn_parse(const char *s, ringo__alpn *a)
{
    size_t n = strlen(s);
    if (n == 0 || n + 1 > TLS_ALPN_MAX)
        return ringo__tls_fail(-EINVAL, "alpn: empty or over %d bytes", TLS_ALPN_MAX);
    unsigned char *w = malloc(n + 1);
    if (!w)
        return ringo__tls_fail(-ENOMEM, "alpn: out of memory");
    size_t at = 0;
    for (const char *p = s;; p++) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len > 255) {
            free(w);
            return ringo__tls_fail(-EINVAL, "alpn '%.40s': a name empty or over 255 bytes", s);
        }
        w[at++] = (unsigned char)len;
        memcpy(w + at, p, len);
        at += len;
        p += len;
        if (!*p)
            break;
    }
    a->wire = w;
    a->len = at;
    return 0;
}

/* Server: the first of our names that the client offers (our order wins);
 * none in common is no ALPN at all rather than a failed handshake. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    const ringo__alpn *a = arg;
    (void)ssl;
    for (size_t i = 0; i < a->len; i += 1u + a->wire[i])
        for (unsigned j = 0; j < inlen && in[j] <= inlen - j - 1; j += 1u + in[j])
            if (in[j] == a->wire[i] && memcmp(in + j + 1, a->wire + i + 1, in[j]) == 0) {
                *out = in + j + 1;
                *outlen = in[j];
                return SSL_TLSEXT_ERR_OK;
            }
    return SSL_TLSEXT_ERR_NOACK;
}

static void tls_destroy(ringo_tls *t)
{
    SSL_CTX_free(t->ctx);
    free(t->alpn.wire);
    free(t);
}

/* The chain, then its key: loading the key after the certificate also
 * checks that they match. */
static int load_pair(SSL_CTX *ctx, const ringo_tls_opts *o)
{
    bool asked = false;   /* the key is encrypted */
    SSL_CTX_set_default_passwd_cb(ctx, no_password);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, &asked);
    int ret = 0;
    if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1)
        ret = ringo__tls_fail(-EKEYREJECTED, "cert_file %s", o->cert_file);
    else if (SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1 ||
             SSL_CTX_check_private_key(ctx) != 1)
        ret = ringo__tls_fail(-EKEYREJECTED, "key_file %s%s", o->key_file,
                              asked ? " (encrypted: ringo asks for no password)" : "");
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);   /* `asked` goes out of scope */
    return ret;
}

/* Every file readable first (-ENOENT before any -EKEYREJECTED), then load.
 * cert_file and key_file come together (checked by the caller). */
static int load_files(ringo_tls *t, const ringo_tls_opts *o)
{
    int ret = 0;
    if (o->cert_file && (ret = check_readable("cert_file", o->cert_file)) < 0)
        return ret;
    if (o->key_file && (ret = check_readable("key_file", o->key_file)) < 0)
        return ret;
    if (o->ca_file && (ret = check_readable("ca_file", o->ca_file)) < 0)
        return ret;
    if (o->cert_file && (ret = load_pair(t->ctx, o)) < 0)
        return ret;
    if (o->ca_file && SSL_CTX_load_verify_locations(t->ctx, o->ca_file, NULL) != 1)
        return ringo__tls_fail(-EKEYREJECTED, "ca_file %s", o->ca_file);
    return 0;
}

/* Client: verify the server against ca_file or the system's store. Server:
 * with ca_file, ask for a client certificate and verify one that comes;
 * verify_peer makes it required. The session id context lets sessions of
 * a verifying server resume at all. */
static int set_verify(ringo_tls *t, const ringo_tls_opts *o)
{
    if (!t->server) {
        if (o->verify_peer && !o->ca_file && SSL_CTX_set_default_verify_paths(t->ctx) != 1)
            return ringo__tls_fail(-ENOMEM, "the system's certificate store");
        SSL_CTX_set_verify(t->ctx, o->verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
        return 0;
    }
    if (!o->ca_file)
        return 0;
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);
    if (!names)
        return ringo__tls_fail(-EKEYREJECTED, "ca_file %s: no certificate names", o->ca_file);
    SSL_CTX_set_client_CA_list(t->ctx, names);
    int mode = SSL_VERIFY_PEER | (o->verify_peer ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_CTX_set_verify(t->ctx, mode, NULL);
    static const unsigned char sid[] = "ringo";
    if (SSL_CTX_set_session_id_context(t->ctx, sid, sizeof sid - 1) != 1)
        return ringo__tls_fail(-ENOMEM, "session id context");
    return 0;
}

static int set_alpn(ringo_tls *t, const ringo_tls_opts *o)
{
    if (!o->alpn)
        return 0;
    int ret = alpn_parse(o->alpn, &t->alpn);
    if (ret < 0)
        return ret;
    if (t->server) {
        SSL_CTX_set_alpn_select_cb(t->ctx, alpn_select, &t->alpn);
        return 0;
    }
    /* The client's list is copied into the context; 0 means success here. */
    if (SSL_CTX_set_alpn_protos(t->ctx, t->alpn.wire, (unsigned)t->alpn.len) != 0)
        return ringo__tls_fail(-ENOMEM, "alpn");
    return 0;
}

static int tls_new(ringo_tls **out, const ringo_tls_opts *o, bool server)
{
    if (!out || !o)
        return ringo__tls_fail(-EINVAL, "NULL %s", out ? "opts" : "out");
    if (!o->cert_file != !o->key_file || (server && !o->cert_file))
        return ringo__tls_fail(-EINVAL, "cert_file and key_file go together%s",
                               server ? ", and a server needs them" : "");
    if (server && o->verify_peer && !o->ca_file)
        return ringo__tls_fail(-EINVAL, "verify_peer on a server needs a ca_file");
    ringo_tls *t = calloc(1, sizeof *t);
    if (!t)
        return ringo__tls_fail(-ENOMEM, "out of memory");
    atomic_init(&t->refs, 1u);
    t->server = server;
    t->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!t->ctx) {
        free(t);
        return ringo__tls_fail(-ENOMEM, "SSL_CTX_new");
    }
    SSL_CTX_set_app_data(t->ctx, t);
    SSL_CTX_set_mode(t->ctx, TLS_MODES);
    int ret = SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) == 1 ? 0
            : ringo__tls_fail(-ENOMEM, "TLS 1.2 minimum");
    if (ret == 0)
        ret = load_files(t, o);
    if (ret == 0)
        ret = set_verify(t, o);
    if (ret == 0)
        ret = set_alpn(t, o);
    if (ret < 0) {
        tls_destroy(t);
        return ret;
    }
    *out = t;
    return 0;
}

/* The calls below leave errno and OpenSSL's per-thread error queue as they
 * found them (the queue empty: a failure's reasons are in words). */
static int tls_new_clean(ringo_tls **out, const ringo_tls_opts *o, bool server)
{
    int saved = errno;
    ERR_clear_error();
    int ret = tls_new(out, o, server);
    ERR_clear_error();
    errno = saved;
    return ret;
}

int ringo_tls_new_client(ringo_tls **out, const ringo_tls_opts *opts)
{
    static const ringo_tls_opts defaults = { .verify_peer = true };
    return tls_new_clean(out, opts ? opts : &defaults, false);
}

int ringo_tls_new_server(ringo_tls **out, const ringo_tls_opts *opts)
{
    return tls_new_clean(out, opts, true);
}

ringo_tls *ringo__tls_ref(ringo_tls *t)
{
    if (t)
        atomic_fetch_add_explicit(&t->refs, 1u, memory_order_relaxed);
    return t;
}

void ringo__tls_unref(ringo_tls *t)
{
    if (t && atomic_fetch_sub_explicit(&t->refs, 1u, memory_order_acq_rel) == 1u)
        tls_destroy(t);
}

void ringo_tls_free(ringo_tls *t) { ringo__tls_unref(t); }

bool ringo__tls_is_server(const ringo_tls *t) { return t && t->server; }
