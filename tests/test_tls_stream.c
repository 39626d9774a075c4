/* TLS streams: ringo against ringo, and against clients nobody here wrote
 * (openssl s_client, curl, Python's asyncio with ssl=), on both backends.
 * Keys come from tls_certs.sh at test time. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <netinet/in.h>
#include <ringo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(tls_stream, .init = tls_certs_make, .fini = tls_certs_remove);

static ringo_tls *server_ctx(const char *cert)
{
    ringo_tls *t = NULL;
    /* Each certificate's key: server.key serves the CA-signed and expired ones. */
    const char *key = strcmp(cert, "selfsigned.pem") == 0 ? "selfsigned.key" : "server.key";
    const ringo_tls_opts o = { .cert_file = tls_file(cert), .key_file = tls_file(key),
                               .alpn = "h2,http/1.1" };
    cr_assert_eq(ringo_tls_new_server(&t, &o), 0);
    return t;
}

static ringo_tls *client_ctx(void)
{
    ringo_tls *t = NULL;
    const ringo_tls_opts o = { .ca_file = tls_file("ca.pem"), .verify_peer = true, .alpn = "http/1.1" };
    cr_assert_eq(ringo_tls_new_client(&t, &o), 0);
    return t;
}

/* Both backends, each a clean run. */
static void run_both(ringo_fn fn, void *arg)
{
    cr_assert_eq(run_clean(fn, arg), 0);
    const ringo_config cfg = { .flags = RINGO_CFG_EPOLL };
    cr_assert_eq(run_clean_config(&cfg, fn, arg), 0);
}

/* ---- an echo server over TLS ------------------------------------------- */

struct srv {
    ringo_tls *tls;
    ringo_server *s;
    char port[16];
    int served;            /* handlers called (after a good handshake) */
};

static int echo_lines(ringo_stream *s, void *arg)
{
    struct srv *sv = arg;
    sv->served++;
    char line[4096];
    ssize_t n;
    while ((n = ringo_stream_readline(s, line, sizeof line)) > 0) {
        if (ringo_stream_write(s, line, (size_t)n) < 0 || ringo_stream_drain(s) < 0)
            break;
    }
    return 0;
}

static int echo_once(ringo_stream *s, void *arg)
{
    (void)arg;
    char line[256];
    ssize_t n = ringo_stream_readline(s, line, sizeof line);
    if (n > 0)
        (void)ringo_stream_write(s, line, (size_t)n);
    return 0;   /* then close: close_notify */
}

static void serve(struct srv *sv, const char *cert, ringo_conn_fn fn)
{
    sv->tls = server_ctx(cert);
    const ringo_server_opts o = { .tls = sv->tls };
    cr_assert_eq(ringo_start_server_opts(&sv->s, "127.0.0.1", "0", &o, fn, sv), 0);
    snprintf(sv->port, sizeof sv->port, "%d", ringo_server_port(sv->s));
}

static void unserve(struct srv *sv)
{
    cr_assert_eq(ringo_server_close(sv->s), 0);
    ringo_tls_free(sv->tls);
}

static int echo_main(void *arg)
{
    (void)arg;
    struct srv sv = { 0 };
    serve(&sv, "server.pem", echo_lines);
    ringo_tls *c = client_ctx();
    ringo_stream *s;
    cr_assert_eq(ringo_open_tls_connection(&s, "localhost", sv.port, c, NULL), 0);
    cr_assert_str_eq(ringo_stream_alpn(s), "http/1.1");
    cr_assert_null(ringo_stream_tls_error(s));
    char buf[64];
    for (int i = 0; i < 50; i++) {
        char msg[32];
        int k = snprintf(msg, sizeof msg, "line %d\n", i);
        cr_assert_eq(ringo_stream_write(s, msg, (size_t)k), k);
        cr_assert_eq(ringo_stream_readline(s, buf, sizeof buf), k);
        cr_assert_eq(memcmp(buf, msg, (size_t)k), 0);
    }
    cr_assert_eq(ringo_stream_write_eof(s), -ENOTSUP, "TLS has close_notify, not half-close");
    cr_assert_eq(ringo_stream_close(s), 0);
    /* By IP literal: checked against the certificate's IP names. */
    cr_assert_eq(ringo_open_tls_connection(&s, "127.0.0.1", sv.port, c, NULL), 0);
    cr_assert_eq(ringo_stream_close(s), 0);
    unserve(&sv);
    ringo_tls_free(c);
    cr_assert_eq(sv.served, 2);
    return 0;
}

Test(tls_stream, echo_between_ringo_client_and_server, .timeout = 60)
{
    run_both(echo_main, NULL);
}

/* ---- bulk, both ways at once --------------------------------------------- */

#define BULK ((size_t)8 << 20)

static int bulk_echo(ringo_stream *s, void *arg)
{
    (void)arg;
    char *buf = malloc(65536);
    size_t got = 0;
    while (got < BULK) {
        ssize_t n = ringo_stream_read(s, buf, 65536);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (ringo_stream_write(s, buf, (size_t)n) < 0 || ringo_stream_drain(s) < 0)
            break;
    }
    free(buf);
    return 0;
}

struct bulk { ringo_stream *s; unsigned char *out; };

static int bulk_writer(void *arg)
{
    struct bulk *b = arg;
    for (size_t off = 0; off < BULK; off += 100000) {
        size_t k = BULK - off < 100000 ? BULK - off : 100000;
        cr_assert_eq(ringo_stream_write(b->s, b->out + off, k), (ssize_t)k);
        cr_assert_eq(ringo_stream_drain(b->s), 0);
    }
    return 0;
}

static int bulk_main(void *arg)
{
    (void)arg;
    struct srv sv = { 0 };
    serve(&sv, "server.pem", bulk_echo);
    ringo_tls *c = client_ctx();
    struct bulk b = { .out = malloc(BULK) };
    for (size_t i = 0; i < BULK; i++)
        b.out[i] = (unsigned char)(i * 7 + (i >> 12));
    cr_assert_eq(ringo_open_tls_connection(&b.s, "localhost", sv.port, c, NULL), 0);
    ringo_task *w;
    cr_assert_eq(ringo_spawn(&w, bulk_writer, &b), 0);   /* a writer task and a reader */
    unsigned char *in = malloc(BULK);
    cr_assert_eq(ringo_stream_readexactly(b.s, in, BULK), (ssize_t)BULK);
    cr_assert_eq(ringo_await(w), 0);
    cr_assert_eq(memcmp(in, b.out, BULK), 0, "bytes came back changed");
    cr_assert_eq(ringo_stream_close(b.s), 0);
    free(in);
    free(b.out);
    unserve(&sv);
    ringo_tls_free(c);
    return 0;
}

Test(tls_stream, eight_mib_each_way_with_a_reader_and_a_writer_task, .timeout = 120)
{
    run_both(bulk_main, NULL);
}

/* ---- failures -------------------------------------------------------------- */

static int refused_main(void *arg)
{
    (void)arg;
    struct srv sv = { 0 };
    ringo_tls *c = client_ctx();
    ringo_server *srv = (ringo_server *)0x1;
    const ringo_server_opts client_side = { .tls = c };
    cr_assert_eq(ringo_start_server_opts(&srv, "127.0.0.1", "0", &client_side, echo_lines, &sv),
                 -EINVAL, "a server needs a server context");
    cr_assert_eq(srv, (ringo_server *)0x1);
    serve(&sv, "server.pem", echo_lines);
    ringo_stream *s = NULL;
    /* The certificate says localhost and 127.0.0.1, not this name. */
    cr_assert_eq(ringo_open_tls_connection(&s, "127.0.0.1", sv.port, c, "example.com"),
                 -EKEYREJECTED);
    unserve(&sv);
    /* A self-signed certificate: nothing vouches for it. */
    serve(&sv, "selfsigned.pem", echo_lines);
    sv.served = 0;
    cr_assert_eq(ringo_open_tls_connection(&s, "localhost", sv.port, c, NULL), -EKEYREJECTED);
    /* A plaintext client on the TLS port: no handler, the server serves on. */
    ringo_stream *p;
    cr_assert_eq(ringo_open_connection(&p, "127.0.0.1", sv.port), 0);
    cr_assert_eq(ringo_stream_write(p, "GET / HTTP/1.0\r\n\r\n", 18), 18);
    char buf[256];
    while (ringo_stream_read(p, buf, sizeof buf) > 0)
        ;   /* an alert, then EOF */
    cr_assert_eq(ringo_stream_close(p), 0);
    cr_assert_eq(sv.served, 0, "no handler for a failed handshake");
    unserve(&sv);
    ringo_tls_free(c);
    return 0;
}

Test(tls_stream, bad_certificates_and_plaintext_clients_are_refused, .timeout = 60)
{
    run_both(refused_main, NULL);
}

/* A loopback TCP socket on a free port, its number in port: listening (a
 * peer that never answers) or not (a port for another program to take). */
static int free_port(char port[16], bool listening)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    if (listening)
        cr_assert_eq(listen(fd, 4), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    snprintf(port, 16, "%d", ntohs(a.sin_port));
    return fd;
}

/* A peer that accepts the TCP connection and never answers the ClientHello:
 * the caller's deadline ends the handshake (the 60 s bound is the default). */
static int stall_main(void *arg)
{
    (void)arg;
    char port[16];
    int lfd = free_port(port, true);
    ringo_tls *c = client_ctx();
    ringo_stream *s;
    int64_t old = ringo_deadline(ringo_now() + RINGO_MS(200));
    cr_assert_eq(ringo_open_tls_connection(&s, "localhost", port, c, NULL), -ETIMEDOUT);
    ringo_deadline(old);
    close(lfd);
    ringo_tls_free(c);
    return 0;
}

Test(tls_stream, a_stalled_handshake_ends_at_the_deadline, .timeout = 30)
{
    run_both(stall_main, NULL);
}

/* ---- how streams end -------------------------------------------------------- */

/* "bye", then the client's "ok" (it has the bytes: drain only waits for
 * the low-water mark), then the end. */
static void say_bye(ringo_stream *s)
{
    cr_assert_eq(ringo_stream_write(s, "bye\n", 4), 4);
    char buf[8];
    cr_assert_eq(ringo_stream_readline(s, buf, sizeof buf), 3);
}

static int say_and_cut(ringo_stream *s, void *arg)
{
    (void)arg;
    say_bye(s);
    shutdown(ringo_stream_fd(s), SHUT_RDWR);   /* TCP ends, no close_notify */
    return 0;
}

static int say_and_close(ringo_stream *s, void *arg)
{
    (void)arg;
    say_bye(s);
    return 0;   /* the server closes: close_notify */
}

static void read_to_end(ringo_tls *c, const char *port, bool truncated)
{
    ringo_stream *s;
    cr_assert_eq(ringo_open_tls_connection(&s, "localhost", port, c, NULL), 0);
    char buf[16];
    ssize_t n = ringo_stream_readline(s, buf, sizeof buf);
    cr_assert_eq(n, 4, "readline: %zd (%s)", n, ringo_stream_tls_error(s));
    cr_assert_eq(ringo_stream_write(s, "ok\n", 3), 3);
    cr_assert_eq(ringo_stream_read(s, buf, sizeof buf), 0, "EOF either way");
    const char *why = ringo_stream_tls_error(s);
    if (truncated)
        cr_assert(why && strstr(why, "truncated"), "said: %s", why ? why : "(nothing)");
    else
        cr_assert_null(why, "said: %s", why);
    cr_assert_eq(ringo_stream_close(s), 0);
}

static int endings_main(void *arg)
{
    (void)arg;
    ringo_tls *c = client_ctx();
    struct srv sv = { 0 };
    serve(&sv, "server.pem", say_and_close);
    read_to_end(c, sv.port, false);
    unserve(&sv);
    serve(&sv, "server.pem", say_and_cut);
    read_to_end(c, sv.port, true);
    unserve(&sv);
    ringo_tls_free(c);
    return 0;
}

Test(tls_stream, close_notify_is_eof_and_a_cut_is_eof_said_truncated, .timeout = 60)
{
    run_both(endings_main, NULL);
}

/* ---- STARTTLS ------------------------------------------------------------------ */

struct starttls { ringo_tls *srv; };

static int plain_then_tls(ringo_stream *s, void *arg)
{
    struct starttls *st = arg;
    char buf[64];
    cr_assert_eq(ringo_stream_readline(s, buf, sizeof buf), 9);
    cr_assert_eq(memcmp(buf, "STARTTLS\n", 9), 0);
    cr_assert_eq(ringo_stream_write(s, "GO\n", 3), 3);
    cr_assert_eq(ringo_stream_drain(s), 0);
    cr_assert_eq(ringo_stream_start_tls(s, st->srv, NULL), 0);
    cr_assert_eq(ringo_stream_readline(s, buf, sizeof buf), 7);
    cr_assert_eq(ringo_stream_write(s, buf, 7), 7);
    return 0;
}

static int starttls_main(void *arg)
{
    (void)arg;
    struct starttls st = { .srv = server_ctx("server.pem") };
    ringo_server *srv;
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", "0", plain_then_tls, &st), 0);
    char port[16];
    snprintf(port, sizeof port, "%d", ringo_server_port(srv));
    ringo_tls *c = client_ctx();
    ringo_stream *s;
    cr_assert_eq(ringo_open_connection(&s, "127.0.0.1", port), 0);
    cr_assert_eq(ringo_stream_write(s, "STARTTLS\n", 9), 9);
    char buf[64];
    cr_assert_eq(ringo_stream_readline(s, buf, sizeof buf), 3);
    cr_assert_eq(ringo_stream_start_tls(s, c, "localhost"), 0);
    cr_assert_eq(ringo_stream_start_tls(s, c, "localhost"), -EINVAL, "already TLS");
    cr_assert_eq(ringo_stream_write(s, "secret\n", 7), 7);
    cr_assert_eq(ringo_stream_readline(s, buf, sizeof buf), 7);
    cr_assert_eq(memcmp(buf, "secret\n", 7), 0);
    cr_assert_eq(ringo_stream_close(s), 0);
    cr_assert_eq(ringo_server_close(srv), 0);
    ringo_tls_free(st.srv);
    ringo_tls_free(c);
    return 0;
}

Test(tls_stream, starttls_upgrades_both_sides_in_place, .timeout = 60)
{
    run_both(starttls_main, NULL);
}

/* ---- clients nobody here wrote -------------------------------------------------- */

static int http_hello(ringo_stream *s, void *arg)
{
    (void)arg;
    char head[4096];
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, world!";
    while (ringo_stream_readuntil(s, "\r\n\r\n", 4, head, sizeof head) > 0) {
        if (ringo_stream_write(s, resp, sizeof resp - 1) < 0 || ringo_stream_drain(s) < 0)
            break;
    }
    return 0;
}

struct ext { const char *cmd_fmt; const char *expect; ringo_conn_fn fn; };

static int external_main(void *arg)
{
    struct ext *e = arg;
    struct srv sv = { 0 };
    serve(&sv, "server.pem", e->fn ? e->fn : echo_lines);
    char cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof cmd, e->cmd_fmt, tls_file("ca.pem"), sv.port, sv.port);
    ringo_command_result r;
    cr_assert_eq(ringo_run_command(cmd, &r), 0);
    cr_assert_eq(r.returncode, 0, "%s\nstdout: %s\nstderr: %s", cmd, r.out.data, r.err.data);
    cr_assert(strstr(r.out.data, e->expect), "%s\nstdout: %s\nstderr: %s", cmd, r.out.data,
              r.err.data);
    ringo_command_result_free(&r);
    unserve(&sv);
    return 0;
}

static bool have(const char *prog)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
    return system(cmd) == 0;
}

Test(tls_stream, openssl_s_client_talks_to_a_ringo_server, .timeout = 60)
{
    if (!have("openssl"))
        cr_skip_test("no openssl command");
    /* -quiet ignores EOF on its input: it ends when the server closes. */
    struct ext e = { "printf 'hello tls\\n' | openssl s_client -quiet -verify_return_error "
                     "-CAfile '%s' -servername localhost -connect 127.0.0.1:%s 2>&1",
                     "hello tls", echo_once };
    run_both(external_main, &e);
}

Test(tls_stream, curl_fetches_from_a_ringo_https_server, .timeout = 60)
{
    if (!have("curl"))
        cr_skip_test("no curl");
    /* HTTP/1.1: the test server offers h2 by ALPN but speaks only 1.1. */
    struct ext e = { "curl -sS --http1.1 --max-time 20 --cacert '%s' https://localhost:%s/ "
                     "https://localhost:%s/again 2>&1",
                     "Hello, world!Hello, world!", http_hello };
    run_both(external_main, &e);
}

/* Python's asyncio with ssl=: 100 clients at once, each echoing 1 MiB. */
#define PY_CLIENTS \
    "import asyncio, ssl, sys\n" \
    "ctx = ssl.create_default_context(cafile=sys.argv[1])\n" \
    "async def one(i):\n" \
    "    r, w = await asyncio.open_connection('localhost', int(sys.argv[2]), ssl=ctx)\n" \
    "    line = (b'%d:' % i) + b'x' * 1000 + b'\\n'\n" \
    "    for _ in range(1024):\n" \
    "        w.write(line)\n" \
    "        await w.drain()\n" \
    "        assert await r.readline() == line\n" \
    "    w.close()\n" \
    "    await w.wait_closed()\n" \
    "async def main():\n" \
    "    await asyncio.gather(*(one(i) for i in range(100)))\n" \
    "    print('100 clients ok')\n" \
    "asyncio.run(main())\n"

Test(tls_stream, python_asyncio_ssl_clients_echo_a_mebibyte_each, .timeout = 300)
{
    if (!have("python3"))
        cr_skip_test("no python3");
    char py[PATH_MAX];
    snprintf(py, sizeof py, "%s/clients.py", tls_certs_dir());
    FILE *fp = fopen(py, "w");
    cr_assert_not_null(fp);
    fputs(PY_CLIENTS, fp);
    fclose(fp);
    static char fmt[PATH_MAX + 64];
    snprintf(fmt, sizeof fmt, "python3 '%s' '%%s' %%s", py);
    struct ext e = { fmt, "100 clients ok", NULL };
    run_both(external_main, &e);
}

/* ---- abuse -------------------------------------------------------------------- */


static int hang_up(ringo_stream *s, void *arg)
{
    (void)s;
    (void)arg;
    return 0;   /* handshake done: close */
}

/* Handshake after handshake: memory in use stays flat (what one leaked
 * byte per connection would not). */
static int many_main(void *arg)
{
    int rounds = *(int *)arg;
    struct srv sv = { 0 };
    serve(&sv, "server.pem", hang_up);
    ringo_tls *c = client_ctx();
    size_t before = 0;
    for (int i = 0; i < rounds; i++) {
        if (i == rounds / 4)
            before = mallinfo2().uordblks;   /* after OpenSSL's one-time caches */
        ringo_stream *s;
        cr_assert_eq(ringo_open_tls_connection(&s, "localhost", sv.port, c, NULL), 0, "#%d", i);
        char b;
        cr_assert_eq(ringo_stream_read(s, &b, 1), 0);
        cr_assert_eq(ringo_stream_close(s), 0);
    }
    size_t after = mallinfo2().uordblks;
    /* A sanitizer's allocator is not malloc's: it reports nothing here. */
    if (before)
        cr_assert_lt(after, before + (1u << 20), "in use grew from %zu to %zu bytes over %d "
                     "handshakes", before, after, rounds * 3 / 4);
    unserve(&sv);
    ringo_tls_free(c);
    return 0;
}

#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1   /* 10 000 in a row where a leak is reported, else fewer */
#else
#define ASAN 0
#endif

Test(tls_stream, thousands_of_handshakes_in_a_row_keep_memory_flat, .timeout = 600)
{
    int rounds = ASAN ? 10000 : 1000;
    cr_assert_eq(run_clean(many_main, &rounds), 0);
    rounds = 1000;
    const ringo_config cfg = { .flags = RINGO_CFG_EPOLL };
    cr_assert_eq(run_clean_config(&cfg, many_main, &rounds), 0);
}

struct cancel_arg { const char *port; ringo_tls *c; int ret; };

static int connector(void *arg)
{
    struct cancel_arg *a = arg;
    ringo_stream *s;
    a->ret = ringo_open_tls_connection(&s, "localhost", a->port, a->c, NULL);
    if (a->ret == 0)
        (void)ringo_stream_close(s);
    return 0;
}

static int sink(ringo_stream *s, void *arg)
{
    (void)arg;
    char b;
    (void)ringo_stream_read(s, &b, 1);   /* reads nothing more: the writer fills up */
    return 0;
}

static int writer(void *arg)
{
    ringo_stream *s = arg;
    static char chunk[65536];
    for (;;) {
        if (ringo_stream_write(s, chunk, sizeof chunk) < 0 || ringo_stream_drain(s) < 0)
            return -ECANCELED;
    }
}

static int cancel_main(void *arg)
{
    (void)arg;
    ringo_tls *c = client_ctx();
    /* Mid-handshake: a listener that never answers. */
    char port[16];
    int lfd = free_port(port, true);
    struct cancel_arg ca = { port, c, 1 };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, connector, &ca), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(50)), 0);
    cr_assert_eq(ringo_cancel(t), 0);
    int st = ringo_await(t);
    cr_assert(st == 0 || st == -ECANCELED, "await: %d", st);
    cr_assert_eq(ca.ret, -ECANCELED);
    close(lfd);
    /* Mid-write: a peer that stops reading, a writer cancelled in drain. */
    struct srv sv = { 0 };
    serve(&sv, "server.pem", sink);
    ringo_stream *s;
    cr_assert_eq(ringo_open_tls_connection(&s, "localhost", sv.port, c, NULL), 0);
    cr_assert_eq(ringo_spawn(&t, writer, s), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(100)), 0);
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    cr_assert_eq(ringo_stream_close(s), 0);
    unserve(&sv);
    ringo_tls_free(c);
    return 0;
}

Test(tls_stream, cancelled_handshakes_and_writes_leave_nothing_behind, .timeout = 120)
{
    run_both(cancel_main, NULL);
}

/* ---- servers nobody here wrote -------------------------------------------------- */

/* openssl s_server -www on a free port: GET / answers a status page. */
static int s_server_main(void *arg)
{
    (void)arg;
    char port[16];
    int probe = free_port(port, false);
    close(probe);   /* s_server takes it (a race only with a port-hungry neighbour) */
    const char *argv[] = { "openssl", "s_server", "-www", "-accept", port, "-cert",
                           tls_file("server.pem"), "-key", tls_file("server.key"), NULL };
    const ringo_process_opts po = { .in = RINGO_DEVNULL, .out = RINGO_PIPE, .err = RINGO_STDOUT };
    ringo_process *p;
    cr_assert_eq(ringo_process_spawn(&p, argv, &po), 0);
    char line[256];
    while (ringo_stream_readline(ringo_process_stdout(p), line, sizeof line) > 0 &&
           strncmp(line, "ACCEPT", 6) != 0)
        ;   /* ready once it says so */
    ringo_tls *c = client_ctx();
    ringo_stream *s;
    cr_assert_eq(ringo_open_tls_connection(&s, "127.0.0.1", port, c, "localhost"), 0);
    static const char req[] = "GET / HTTP/1.0\r\n\r\n";
    cr_assert_eq(ringo_stream_write(s, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    ssize_t n = ringo_stream_readline(s, line, sizeof line);
    cr_assert_gt(n, 0);
    cr_assert(strncmp(line, "HTTP/1.0 200", 12) == 0, "got: %.*s", (int)n, line);
    char buf[4096];
    while ((n = ringo_stream_read(s, buf, sizeof buf)) > 0)
        ;   /* the page, then its end */
    cr_assert_eq(n, 0);
    cr_assert_eq(ringo_stream_close(s), 0);
    ringo_tls_free(c);
    ringo_process_free(p);   /* kills and reaps it */
    return 0;
}

Test(tls_stream, a_ringo_client_talks_to_openssl_s_server, .timeout = 60)
{
    if (!have("openssl"))
        cr_skip_test("no openssl command");
    run_both(s_server_main, NULL);
}

/* nginx with ssl on a free port, the ringo client fetching from it. */
#define NGINX_CONF \
    "daemon off; master_process off; worker_processes 1;\n" \
    "pid %s/nginx.pid; error_log %s/nginx.err warn;\n" \
    "events { worker_connections 64; }\n" \
    "http { access_log off; client_body_temp_path %s; proxy_temp_path %s;\n" \
    "  fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;\n" \
    "  server { listen 127.0.0.1:%s ssl; ssl_certificate %s; ssl_certificate_key %s;\n" \
    "    location / { return 200 \"hi from nginx\"; } } }\n"

static const char *nginx_path(void)
{
    static const char *const where[] = { "/usr/sbin/nginx", "/usr/bin/nginx" };
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++)
        if (access(where[i], X_OK) == 0)
            return where[i];
    return NULL;
}

static int nginx_main(void *arg)
{
    (void)arg;
    char port[16];
    int probe = free_port(port, false);
    close(probe);
    char conf[PATH_MAX];
    snprintf(conf, sizeof conf, "%s/nginx.conf", tls_certs_dir());
    FILE *fp = fopen(conf, "w");
    cr_assert_not_null(fp);
    const char *d = tls_certs_dir();
    fprintf(fp, NGINX_CONF, d, d, d, d, d, d, d, port, tls_file("server.pem"),
            tls_file("server.key"));
    fclose(fp);
    const char *argv[] = { nginx_path(), "-p", tls_certs_dir(), "-c", conf, NULL };
    const ringo_process_opts po = { .in = RINGO_DEVNULL, .out = RINGO_DEVNULL, .err = RINGO_DEVNULL };
    ringo_process *p;
    cr_assert_eq(ringo_process_spawn(&p, argv, &po), 0);
    ringo_tls *c = client_ctx();
    ringo_stream *s = NULL;
    int ret = -ECONNREFUSED;
    for (int i = 0; i < 200 && ret == -ECONNREFUSED; i++) {   /* until it listens */
        ret = ringo_open_tls_connection(&s, "127.0.0.1", port, c, "localhost");
        if (ret == -ECONNREFUSED)
            cr_assert_eq(ringo_sleep(RINGO_MS(20)), 0);
    }
    cr_assert_eq(ret, 0, "connecting to nginx: %d", ret);
    static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    cr_assert_eq(ringo_stream_write(s, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    char buf[4096];
    size_t got = 0;
    ssize_t n;
    while ((n = ringo_stream_read(s, buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)n;
    cr_assert_eq(n, 0, "read: %zd (%s)", n, ringo_stream_tls_error(s));
    buf[got] = 0;
    cr_assert(strncmp(buf, "HTTP/1.1 200", 12) == 0 && strstr(buf, "hi from nginx"), "got: %s", buf);
    cr_assert_eq(ringo_stream_close(s), 0);
    ringo_tls_free(c);
    ringo_process_free(p);
    return 0;
}

Test(tls_stream, a_ringo_client_talks_to_nginx_over_tls, .timeout = 60)
{
    if (!nginx_path())
        cr_skip_test("no nginx");
    run_both(nginx_main, NULL);
}
