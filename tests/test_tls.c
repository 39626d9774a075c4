/* TLS contexts (io/tls_ctx.c) and the connections made from them
 * (io/tls_ssl.c): what each set of options makes or refuses, with the
 * contract's errno and the reason in words; the reference count; and that a
 * context really works: handshakes over a socketpair with plain blocking
 * OpenSSL calls on two threads. Keys and certificates are made afresh for
 * each test by tls_certs.sh (RINGO_TLS_CERTS names it) in a temporary
 * directory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "helpers.h"
#include "io/tls.h"

TestSuite(tls, .init = tls_certs_make, .fini = tls_certs_remove);

static ringo_tls *client(const ringo_tls_opts *o)
{
    ringo_tls *t = NULL;
    int ret = ringo_tls_new_client(&t, o);
    cr_assert_eq(ret, 0, "client context: %d (%s)", ret, ringo__tls_last_error());
    return t;
}

static ringo_tls *server(const ringo_tls_opts *o)
{
    ringo_tls *t = NULL;
    int ret = ringo_tls_new_server(&t, o);
    cr_assert_eq(ret, 0, "server context: %d (%s)", ret, ringo__tls_last_error());
    return t;
}

static ringo_tls_opts server_opts(void)
{
    return (ringo_tls_opts){ .cert_file = tls_file("server.pem"), .key_file = tls_file("server.key") };
}

static ringo_tls_opts verifying_client(void)
{
    return (ringo_tls_opts){ .ca_file = tls_file("ca.pem"), .verify_peer = true };
}

/* A refused context: err, *out untouched, the reason in words containing
 * `words`, and OpenSSL's queue left empty. */
static void refused(bool srv, const ringo_tls_opts *o, int err, const char *words)
{
    ringo_tls *t = (ringo_tls *)&t;
    int ret = srv ? ringo_tls_new_server(&t, o) : ringo_tls_new_client(&t, o);
    cr_assert_eq(ret, err, "%s: %d, wanted %d (%s)", srv ? "server" : "client", ret, err,
                 ringo__tls_last_error());
    cr_assert_eq(t, (ringo_tls *)&t, "out written on failure");
    const char *why = ringo__tls_last_error();
    cr_assert_not_null(why);
    cr_assert(strstr(why, words), "'%s' does not say '%s'", why, words);
    cr_assert_eq(ERR_peek_error(), 0ul, "OpenSSL's error queue left full");
}

/* Options by file name in the test's directory, and what they must get. */
struct refusal {
    bool server;
    const char *cert, *key, *ca;
    bool verify_peer;
    int err;
    const char *words;
};

static void refusals(const struct refusal *r, size_t n)
{
    for (size_t i = 0; i < n; i++, r++) {
        ringo_tls_opts o = { .cert_file = r->cert ? tls_file(r->cert) : NULL,
                             .key_file = r->key ? tls_file(r->key) : NULL,
                             .ca_file = r->ca ? tls_file(r->ca) : NULL,
                             .verify_peer = r->verify_peer };
        refused(r->server, &o, r->err, r->words);
    }
}
#define REFUSALS(...) \
    do { \
        const struct refusal r_[] = { __VA_ARGS__ }; \
        refusals(r_, sizeof r_ / sizeof *r_); \
    } while (0)

Test(tls, client_with_defaults_verifies_with_the_system_store)
{
    ringo_tls *t = client(NULL);
    SSL_CTX *ctx = ringo__tls_ctx(t);
    cr_assert(!ringo__tls_is_server(t));
    cr_assert_eq(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
    cr_assert_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    long want = SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE |
                SSL_MODE_RELEASE_BUFFERS;
    cr_assert_eq(SSL_CTX_get_mode(ctx) & want, want);
    ringo_tls_free(t);

    ringo_tls_opts none = { 0 };   /* verify_peer false: for tests only */
    t = client(&none);
    cr_assert_eq(SSL_CTX_get_verify_mode(ringo__tls_ctx(t)), SSL_VERIFY_NONE);
    ringo_tls_free(t);
}

Test(tls, client_with_ca_file)
{
    ringo_tls_opts o = verifying_client();
    ringo_tls *t = client(&o);
    cr_assert_eq(SSL_CTX_get_verify_mode(ringo__tls_ctx(t)), SSL_VERIFY_PEER);
    ringo_tls_free(t);
    o.cert_file = tls_file("client.pem");   /* mutual TLS */
    o.key_file = tls_file("client.key");
    ringo_tls_free(client(&o));
}

Test(tls, server_with_cert_and_key)
{
    ringo_tls_opts o = server_opts();
    ringo_tls *t = server(&o);
    cr_assert(ringo__tls_is_server(t));
    cr_assert_eq(SSL_CTX_get_verify_mode(ringo__tls_ctx(t)), SSL_VERIFY_NONE);
    cr_assert_eq(SSL_CTX_get_min_proto_version(ringo__tls_ctx(t)), TLS1_2_VERSION);
    ringo_tls_free(t);

    o.ca_file = tls_file("ca.pem");   /* verify a client certificate if one comes */
    t = server(&o);
    cr_assert_eq(SSL_CTX_get_verify_mode(ringo__tls_ctx(t)), SSL_VERIFY_PEER);
    ringo_tls_free(t);
    o.verify_peer = true;      /* ... and require one */
    t = server(&o);
    cr_assert_eq(SSL_CTX_get_verify_mode(ringo__tls_ctx(t)),
                 SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
    ringo_tls_free(t);
}

Test(tls, missing_files_are_enoent)
{
    REFUSALS({ true, "nothere.pem", "server.key", NULL, false, -ENOENT, "No such file" },
             { true, "server.pem", "nothere.key", NULL, false, -ENOENT, "nothere.key" },
             { false, NULL, NULL, "nothere.pem", true, -ENOENT, "ca_file" },
             { false, NULL, NULL, ".", true, -ENOENT, "Is a directory" },
             /* Unreadable comes before rejected. */
             { true, "garbage.pem", "nothere.key", NULL, false, -ENOENT, "key_file" });
}

Test(tls, garbage_pem_is_keyrejected)
{
    REFUSALS({ true, "garbage.pem", "server.key", NULL, false, -EKEYREJECTED, "no start line" },
             { true, "truncated.pem", "server.key", NULL, false, -EKEYREJECTED, "cert_file" },
             { true, "server.pem", "garbage.pem", NULL, false, -EKEYREJECTED, "key_file" },
             { false, NULL, NULL, "garbage.pem", true, -EKEYREJECTED, "ca_file" },
             { true, "server.pem", "server.key", "garbage.pem", false, -EKEYREJECTED, "ca_file" });
}

Test(tls, mismatched_key_is_keyrejected)
{
    REFUSALS({ true, "server.pem", "other.key", NULL, false, -EKEYREJECTED, "mismatch" },
             { false, "client.pem", "server.key", NULL, false, -EKEYREJECTED, "mismatch" });
}

Test(tls, encrypted_key_is_keyrejected_without_asking_for_a_password)
{
    REFUSALS({ true, "server.pem", "encrypted.key", NULL, false, -EKEYREJECTED, "encrypted" });
}

Test(tls, server_without_cert_is_einval)
{
    refused(true, NULL, -EINVAL, "opts");
    REFUSALS({ true, NULL, NULL, NULL, false, -EINVAL, "a server needs them" },
             { true, "server.pem", NULL, NULL, false, -EINVAL, "go together" },
             { true, NULL, "server.key", NULL, false, -EINVAL, "go together" },
             /* Client certificates required, and nothing to check them with. */
             { true, "server.pem", "server.key", NULL, true, -EINVAL, "ca_file" },
             { false, "client.pem", NULL, NULL, true, -EINVAL, "go together" });
}

Test(tls, null_out_is_einval)
{
    cr_assert_eq(ringo_tls_new_client(NULL, NULL), -EINVAL);
    ringo_tls_opts o = server_opts();
    cr_assert_eq(ringo_tls_new_server(NULL, &o), -EINVAL);
    ringo_tls_free(NULL);
}

Test(tls, alpn_strings)
{
    char longest[256], over[257];
    memset(longest, 'a', 255);
    longest[255] = '\0';
    memset(over, 'a', 256);
    over[256] = '\0';
    const char *good[] = { "h2,http/1.1", "h2", "http/1.1", longest, "x,y,z" };
    const char *bad[] = { "", ",h2", "h2,", "h2,,http/1.1", ",", over };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        ringo_tls_opts o = verifying_client();
        o.alpn = good[i];
        ringo_tls_free(client(&o));
        o = server_opts();
        o.alpn = good[i];
        ringo_tls *t = server(&o);
        cr_assert_eq(t->alpn.len, strlen(good[i]) + 1);
        cr_assert_eq(t->alpn.wire[0], strcspn(good[i], ","));
        ringo_tls_free(t);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ringo_tls_opts o = verifying_client();
        o.alpn = bad[i];
        refused(false, &o, -EINVAL, "alpn");
        o = server_opts();
        o.alpn = bad[i];
        refused(true, &o, -EINVAL, "alpn");
    }
}

Test(tls, errors_leave_errno_untouched)
{
    ringo_tls_opts o = server_opts();
    o.key_file = tls_file("other.key");
    errno = 1234;
    ringo_tls *t;
    cr_assert_eq(ringo_tls_new_server(&t, &o), -EKEYREJECTED);
    o.key_file = tls_file("nothere.key");
    cr_assert_eq(ringo_tls_new_server(&t, &o), -ENOENT);
    cr_assert_eq(errno, 1234);
}

Test(tls, debug_mode_prints_the_reason)
{
    setenv("RINGO_DEBUG", "1", 1);
    ringo_tls_opts o = server_opts();
    o.key_file = tls_file("other.key");
    stderr_capture_begin();
    ringo_tls *t;
    int ret = ringo_tls_new_server(&t, &o);
    char *err = stderr_capture_end();
    unsetenv("RINGO_DEBUG");
    cr_assert_eq(ret, -EKEYREJECTED);
    cr_assert(strstr(err, "ringo: TLS: key_file") && strstr(err, "mismatch"), "stderr: %s", err);
    free(err);

    stderr_capture_begin();   /* quiet without RINGO_DEBUG */
    ret = ringo_tls_new_server(&t, &o);
    err = stderr_capture_end();
    cr_assert_eq(ret, -EKEYREJECTED);
    cr_assert_str_empty(err);
    free(err);
}

static int make_contexts(void *arg)
{
    (void)arg;
    ringo_tls_opts o = server_opts();
    ringo_tls *t;
    cr_assert_eq(ringo_tls_new_server(&t, &o), 0);
    ringo_tls_free(t);
    o.key_file = tls_file("other.key");
    cr_assert_eq(ringo_tls_new_server(&t, &o), -EKEYREJECTED);
    o = verifying_client();
    cr_assert_eq(ringo_tls_new_client(&t, &o), 0);
    ringo_tls_free(t);
    return 0;
}

Test(tls, contexts_in_a_task_leave_the_loop_clean)
{
    cr_assert_eq(run_clean(make_contexts, NULL), 0);
}

/* Count the frees of watched contexts' SSL_CTX, through OpenSSL's ex_data
 * free callback. */
static int ctx_frees;

static void count_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    if (ptr == &ctx_frees)
        ctx_frees++;
}

static ringo_tls *watched(ringo_tls *t)
{
    static int idx = -1;
    if (idx < 0)
        idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, count_free);
    cr_assert_geq(idx, 0);
    cr_assert_eq(SSL_CTX_set_ex_data(ringo__tls_ctx(t), idx, &ctx_frees), 1);
    return t;
}

Test(tls, free_with_no_users_frees)
{
    ringo_tls_opts o = server_opts();
    o.alpn = "h2";
    ringo_tls_free(watched(server(&o)));
    cr_assert_eq(ctx_frees, 1);
    ringo_tls *t = watched(server(&o));
    cr_assert_eq(ringo__tls_ref(t), t);   /* a user (a server, a stream) */
    ringo_tls_free(t);                    /* the owner lets go first */
    cr_assert_eq(ctx_frees, 1, "freed while a user holds it");
    cr_assert_eq(SSL_CTX_get_app_data(ringo__tls_ctx(t)), t);
    ringo__tls_unref(t);                  /* the last user frees it */
    cr_assert_eq(ctx_frees, 2);
    cr_assert_null(ringo__tls_ref(NULL));
    ringo__tls_unref(NULL);
}

Test(tls, an_ssl_holds_its_context)
{
    ringo_tls_opts o = verifying_client();
    ringo_tls *t = watched(client(&o));
    SSL *ssl;
    cr_assert_eq(ringo__tls_ssl_new(t, "localhost", &ssl), 0);
    ringo_tls_free(t);
    cr_assert_eq(ctx_frees, 0);
    cr_assert_eq(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)), t);
    ringo__tls_ssl_free(ssl);   /* frees the context too */
    cr_assert_eq(ctx_frees, 1);
    ringo__tls_ssl_free(NULL);
}

Test(tls, ssl_new_refuses_bad_arguments)
{
    ringo_tls_opts o = server_opts();
    ringo_tls *t = server(&o);
    SSL *ssl = (SSL *)&ssl;
    cr_assert_eq(ringo__tls_ssl_new(t, "localhost", &ssl), -EINVAL);
    cr_assert_eq(ringo__tls_ssl_new(t, "", &ssl), -EINVAL);
    cr_assert_eq(ringo__tls_ssl_new(NULL, NULL, &ssl), -EINVAL);
    cr_assert_eq(ringo__tls_ssl_new(t, NULL, NULL), -EINVAL);
    cr_assert_eq(ssl, (SSL *)&ssl);
    cr_assert_eq(ringo__tls_ssl_new(t, NULL, &ssl), 0);
    cr_assert(SSL_is_server(ssl));
    ringo__tls_ssl_free(ssl);
    ringo_tls_free(t);

    o = verifying_client();
    t = client(&o);
    char name[300];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    cr_assert_eq(ringo__tls_ssl_new(t, name, &ssl), -EINVAL, "an SNI name over 255 bytes");
    cr_assert_eq(ringo__tls_ssl_new(t, "127.0.0.1", &ssl), 0);
    cr_assert_null(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name), "an address sent as SNI");
    cr_assert(!SSL_is_server(ssl));
    ringo__tls_ssl_free(ssl);
    ringo_tls_free(t);
}

/* ---- handshakes over a socketpair, one thread a side ---------------------- */

struct side {
    ringo_tls *tls;
    const char *name;          /* client: server_hostname */
    int fd;
    bool is_client;
    SSL *ssl;
    int ret;                   /* 0, or what ringo__tls_failure said */
    bool queue_left;           /* OpenSSL's error queue not empty afterwards */
    char why[256];
    char alpn[32];
    char sni[64];              /* server: the name the client sent */
    bool peer_cert;
};

/* Handshake, then one byte each way: with TLS 1.3 a client learns that the
 * server refused its certificate only when it reads. No Criterion asserts
 * here: they work only on the test's own thread. */
static void *run_side(void *arg)
{
    struct side *s = arg;
    SSL *ssl = s->ssl;
    char c = 'x';
    bool ok = SSL_set_fd(ssl, s->fd) == 1 && SSL_do_handshake(ssl) == 1;
    if (ok && s->is_client)
        ok = SSL_write(ssl, "p", 1) == 1 && SSL_read(ssl, &c, 1) == 1 && c == 'q';
    else if (ok)
        ok = SSL_read(ssl, &c, 1) == 1 && c == 'p' && SSL_write(ssl, "q", 1) == 1;
    if (ok) {
        const unsigned char *p;
        unsigned n;
        SSL_get0_alpn_selected(ssl, &p, &n);
        snprintf(s->alpn, sizeof s->alpn, "%.*s", (int)n, (const char *)p);
        const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        snprintf(s->sni, sizeof s->sni, "%s", sni ? sni : "");
        X509 *peer = SSL_get1_peer_certificate(ssl);
        s->peer_cert = peer != NULL;
        X509_free(peer);
        SSL_shutdown(ssl);
    } else {
        s->ret = ringo__tls_failure(ssl, s->why, sizeof s->why);
    }
    s->queue_left = ERR_peek_error() != 0;
    ringo__tls_ssl_free(ssl);
    /* A lingering close: the peer gets EOF, and what it still sends (the
     * client's byte, racing the server's alert) finds a socket to land in. */
    shutdown(s->fd, SHUT_WR);
    while (read(s->fd, &c, 1) > 0)
        ;
    return NULL;
}

static void start_side(struct side *s, pthread_t *th)
{
    int ret = ringo__tls_ssl_new(s->tls, s->name, &s->ssl);
    cr_assert_eq(ret, 0, "ssl_new: %d (%s)", ret, ringo__tls_last_error());
    /* The owner lets go at once: the SSL keeps its context alive. */
    ringo_tls_free(s->tls);
    cr_assert_eq(pthread_create(th, NULL, run_side, s), 0);
}

static void handshake(const ringo_tls_opts *so, const ringo_tls_opts *co, const char *name,
                      struct side *srv, struct side *cli)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct timeval tv = { .tv_sec = 10 };   /* a bug must not hang the suite */
    for (int i = 0; i < 2; i++)
        cr_assert_eq(setsockopt(sv[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    *srv = (struct side){ .tls = watched(server(so)), .fd = sv[0] };
    *cli = (struct side){ .tls = watched(co ? client(co) : client(NULL)), .name = name,
                          .fd = sv[1], .is_client = true };
    int frees = ctx_frees;
    pthread_t ts, tc;
    start_side(srv, &ts);
    start_side(cli, &tc);
    pthread_join(ts, NULL);
    pthread_join(tc, NULL);
    close(sv[0]);
    close(sv[1]);
    cr_assert(!srv->queue_left && !cli->queue_left, "OpenSSL's error queue left full");
    cr_assert_eq(ctx_frees, frees + 2, "the contexts outlived their last SSL");
}

static void expect_ok(const struct side *s)
{
    cr_assert_eq(s->ret, 0, "%s: %d (%s)", s->is_client ? "client" : "server", s->ret, s->why);
}

static void expect_rejected(const struct side *s, const char *words)
{
    cr_assert_eq(s->ret, -EKEYREJECTED, "%s: %d (%s)", s->is_client ? "client" : "server",
                 s->ret, s->why);
    cr_assert(strstr(s->why, words), "'%s' does not say '%s'", s->why, words);
}

Test(tls, handshake_verifies_localhost_and_agrees_on_alpn)
{
    ringo_tls_opts so = server_opts(), co = verifying_client();
    so.alpn = "h2,http/1.1";
    co.alpn = "http/1.1,h2";   /* the server's order wins */
    struct side s, c;
    handshake(&so, &co, "localhost", &s, &c);
    expect_ok(&s);
    expect_ok(&c);
    cr_assert_str_eq(c.alpn, "h2");
    cr_assert_str_eq(s.alpn, "h2");
    cr_assert_str_eq(s.sni, "localhost");
    cr_assert(c.peer_cert);
}

Test(tls, handshake_without_common_alpn_agrees_on_none)
{
    ringo_tls_opts so = server_opts(), co = verifying_client();
    so.alpn = "h2";
    co.alpn = "http/1.1";
    struct side s, c;
    handshake(&so, &co, "localhost", &s, &c);
    expect_ok(&c);
    cr_assert_str_empty(c.alpn);
}

Test(tls, ip_literals_are_checked_against_ip_names)
{
    ringo_tls_opts so = server_opts(), co = verifying_client();
    struct side s, c;
    handshake(&so, &co, "127.0.0.1", &s, &c);
    expect_ok(&c);
    cr_assert_str_empty(s.sni, "an address went out as SNI");
    handshake(&so, &co, "::1", &s, &c);   /* not among the certificate's names */
    expect_rejected(&c, "IP address mismatch");
}

Test(tls, wrong_hostname_fails_verification)
{
    ringo_tls_opts so = server_opts(), co = verifying_client();
    struct side s, c;
    handshake(&so, &co, "wrong.example", &s, &c);
    expect_rejected(&c, "hostname mismatch");
    cr_assert_lt(s.ret, 0, "the server finished a handshake the client refused");
    handshake(&so, &co, "", &s, &c);   /* no name check: the CA's word is enough */
    expect_ok(&c);
    expect_ok(&s);
}

Test(tls, expired_certificate_fails_verification)
{
    ringo_tls_opts so = server_opts(), co = verifying_client();
    so.cert_file = tls_file("expired.pem");
    struct side s, c;
    handshake(&so, &co, "localhost", &s, &c);
    expect_rejected(&c, "expired");
}

Test(tls, self_signed_certificate_fails_unless_verification_is_off)
{
    ringo_tls_opts so = { .cert_file = tls_file("selfsigned.pem"), .key_file = tls_file("selfsigned.key") };
    ringo_tls_opts co = verifying_client();
    struct side s, c;
    handshake(&so, &co, "localhost", &s, &c);
    expect_rejected(&c, "self-signed");
    co.verify_peer = false;
    handshake(&so, &co, "localhost", &s, &c);
    expect_ok(&c);
    expect_ok(&s);
}

Test(tls, system_store_does_not_know_the_test_ca)
{
    ringo_tls_opts so = server_opts();
    struct side s, c;
    handshake(&so, NULL, "localhost", &s, &c);
    expect_rejected(&c, "local issuer");
}

Test(tls, mutual_tls)
{
    ringo_tls_opts so = server_opts(), co = verifying_client();
    so.ca_file = tls_file("ca.pem");
    so.verify_peer = true;
    co.cert_file = tls_file("client.pem");
    co.key_file = tls_file("client.key");
    struct side s, c;
    handshake(&so, &co, "localhost", &s, &c);
    expect_ok(&s);
    expect_ok(&c);
    cr_assert(s.peer_cert, "the server saw no client certificate");
}

Test(tls, server_requires_a_client_certificate)
{
    ringo_tls_opts so = server_opts(), co = verifying_client();
    so.ca_file = tls_file("ca.pem");
    so.verify_peer = true;
    struct side s, c;
    handshake(&so, &co, "localhost", &s, &c);
    expect_rejected(&s, "did not return a certificate");
    expect_rejected(&c, "certificate required");   /* the server's alert */

    so.verify_peer = false;   /* with a ca_file only: checked if sent */
    handshake(&so, &co, "localhost", &s, &c);
    expect_ok(&s);
    cr_assert(!s.peer_cert);
}

Test(tls, server_rejects_a_client_certificate_it_cannot_verify)
{
    ringo_tls_opts so = server_opts(), co = verifying_client();
    so.ca_file = tls_file("ca.pem");
    co.cert_file = tls_file("selfsigned.pem");
    co.key_file = tls_file("selfsigned.key");
    struct side s, c;
    handshake(&so, &co, "localhost", &s, &c);
    expect_rejected(&s, "self-signed");
    cr_assert_lt(c.ret, 0);
}
