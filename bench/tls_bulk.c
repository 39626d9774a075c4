/* bench/tls_bulk.c: bulk bytes through one ringo stream over loopback, TLS or
 * plain, both ends in one ringo_run (one thread): CPU per byte of the whole
 * process (writer, reader, the kernel's copies; with TLS, both ends' record
 * encryption and decryption).
 *
 * usage: tls_bulk tls --cert FILE --key FILE [--bytes N] [--write N] [--zc]
 *        tls_bulk plain [--bytes N] [--write N] [--zc]
 *        tls_bulk probe PORT     (TLS client only: connect to 127.0.0.1:PORT
 *                                 with ringo's client context, write 1 KiB,
 *                                 close; for `openssl s_server` to say which
 *                                 cipher ringo's client gets)
 * N: bytes to send (default 1 GiB) and per ringo_stream_write (64 KiB).
 * --zc: the loop runs with RINGO_CFG_SEND_ZC (zero-copy sends of
 * RINGO_SEND_ZC_MIN bytes and more; bench/stream_write.py compares).
 * FILE: PEM (bench/tls_bulk.py makes an ECDSA P-256 pair with the openssl
 * command). The server task reads 64 KiB at a time and discards; the client
 * writes N bytes, draining after each write, then closes (close_notify).
 *
 * Prints one line:
 *   tls_bulk MODE bytes=B wall_s=W cpu_s=C user_s=U sys_s=S cpu_ns_per_byte=X send_zc=0|1
 * timed from the connection being up (handshake done) to the server's EOF;
 * CPU is getrusage(RUSAGE_SELF) over that span (every thread of the process,
 * io_uring's workers included). Exit status 0 when every byte arrived. */
#include <errno.h>
#include <ringo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct bench {
    bool tls;
    long long bytes, chunk;
    ringo_tls *server_tls, *client_tls;
    ringo_event *done;           /* set by the server task at EOF */
    long long received;
    int server_err;
    struct timespec t0, t1;
    struct rusage r0, r1;
    const char *probe_port;
};

static double secs(struct timeval tv)
{
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static int sink(ringo_stream *s, void *arg)
{
    struct bench *b = arg;
    static char buf[65536];
    for (;;) {
        ssize_t n = ringo_stream_read(s, buf, sizeof buf);
        if (n <= 0) {
            b->server_err = (int)n;
            break;
        }
        b->received += n;
    }
    clock_gettime(CLOCK_MONOTONIC, &b->t1);
    getrusage(RUSAGE_SELF, &b->r1);
    ringo_event_set(b->done);
    return 0;
}

static int send_all(ringo_stream *s, struct bench *b, long long total)
{
    char *buf = malloc((size_t)b->chunk);
    if (!buf)
        return -ENOMEM;
    for (long long i = 0; i < b->chunk; i++)
        buf[i] = (char)(i * 131 + (i >> 8));   /* not all zero; AES does not care */
    int ret = 0;
    for (long long sent = 0; sent < total && ret >= 0;) {
        long long n = total - sent < b->chunk ? total - sent : b->chunk;
        ssize_t w = ringo_stream_write(s, buf, (size_t)n);
        if (w < 0) {
            ret = (int)w;
            break;
        }
        ret = ringo_stream_drain(s);
        sent += n;
    }
    free(buf);
    int c = ringo_stream_close(s);
    return ret < 0 ? ret : c;
}

static int run(void *arg)
{
    struct bench *b = arg;
    ringo_stream *c;
    int ret;
    if (b->probe_port) {
        ret = ringo_open_tls_connection(&c, "127.0.0.1", b->probe_port, b->client_tls, "");
        if (ret < 0) {
            fprintf(stderr, "tls_bulk: probe connect: %s\n", strerror(-ret));
            return ret;
        }
        return send_all(c, b, 1024);   /* s_server echoes it: keep its pipe unfilled */
    }
    if ((ret = ringo_event_new(&b->done)) < 0)
        return ret;
    const ringo_server_opts o = { .tls = b->server_tls };
    ringo_server *srv;
    ret = ringo_start_server_opts(&srv, "127.0.0.1", "0", &o, sink, b);
    if (ret < 0) {
        fprintf(stderr, "tls_bulk: listen: %s\n", strerror(-ret));
        return ret;
    }
    char port[8];
    snprintf(port, sizeof port, "%d", ringo_server_port(srv));
    ret = b->tls ? ringo_open_tls_connection(&c, "127.0.0.1", port, b->client_tls, "")
                 : ringo_open_connection(&c, "127.0.0.1", port);
    if (ret < 0) {
        fprintf(stderr, "tls_bulk: connect: %s\n", strerror(-ret));
        ringo_server_close(srv);
        return ret;
    }
    clock_gettime(CLOCK_MONOTONIC, &b->t0);
    getrusage(RUSAGE_SELF, &b->r0);
    ret = send_all(c, b, b->bytes);
    if (ret < 0)
        fprintf(stderr, "tls_bulk: send: %s\n", strerror(-ret));
    int w = ringo_event_wait(b->done);
    ringo_server_close(srv);
    ringo_event_free(b->done);
    return ret < 0 ? ret : w;
}

static int usage(const char *argv0)
{
    fprintf(stderr, "usage: %s tls --cert FILE --key FILE [--bytes N] [--write N] [--zc]\n"
                    "       %s plain [--bytes N] [--write N] [--zc]\n"
                    "       %s probe PORT\n", argv0, argv0, argv0);
    return 2;
}

int main(int argc, char **argv)
{
    struct bench b = { .bytes = 1LL << 30, .chunk = 65536 };
    ringo_tls_opts so = { 0 };
    if (argc < 2)
        return usage(argv[0]);
    const char *mode = argv[1];
    int i = 2;
    if (strcmp(mode, "probe") == 0) {
        if (argc != 3)
            return usage(argv[0]);
        b.probe_port = argv[2], b.chunk = 65536, b.tls = true;
        i = argc;
    } else if (strcmp(mode, "tls") == 0) {
        b.tls = true;
    } else if (strcmp(mode, "plain") != 0) {
        return usage(argv[0]);
    }
    ringo_config cfg = { 0 };
    for (; i < argc; i += 2) {
        if (strcmp(argv[i], "--zc") == 0) {
            cfg.flags |= RINGO_CFG_SEND_ZC;
            i--;   /* takes no value */
        } else if (i + 1 == argc) {
            return usage(argv[0]);
        } else if (strcmp(argv[i], "--cert") == 0) {
            so.cert_file = argv[i + 1];
        } else if (strcmp(argv[i], "--key") == 0) {
            so.key_file = argv[i + 1];
        } else if (strcmp(argv[i], "--bytes") == 0) {
            b.bytes = strtoll(argv[i + 1], NULL, 0);
        } else if (strcmp(argv[i], "--write") == 0) {
            b.chunk = strtoll(argv[i + 1], NULL, 0);
        } else {
            return usage(argv[0]);
        }
    }
    if (i != argc || b.bytes <= 0 || b.chunk <= 0 ||
        (b.tls && !b.probe_port && (!so.cert_file || !so.key_file)))
        return usage(argv[0]);
    int ret;
    if (b.tls) {
        const ringo_tls_opts co = { .verify_peer = false };   /* our own throwaway cert */
        if ((ret = ringo_tls_new_client(&b.client_tls, &co)) < 0 ||
            (!b.probe_port && (ret = ringo_tls_new_server(&b.server_tls, &so)) < 0)) {
            fprintf(stderr, "tls_bulk: TLS context: %s\n", strerror(-ret));
            return 1;
        }
    }
    ret = ringo_run_config(&cfg, run, &b);
    ringo_tls_free(b.client_tls);
    ringo_tls_free(b.server_tls);
    if (ret < 0) {
        fprintf(stderr, "tls_bulk: %s\n", strerror(-ret));
        return 1;
    }
    if (b.probe_port)
        return 0;
    if (b.received != b.bytes) {
        fprintf(stderr, "tls_bulk: %lld of %lld bytes arrived (server: %s)\n", b.received,
                b.bytes, b.server_err ? strerror(-b.server_err) : "EOF");
        return 1;
    }
    double wall = (double)(b.t1.tv_sec - b.t0.tv_sec) + (b.t1.tv_nsec - b.t0.tv_nsec) / 1e9;
    double user = secs(b.r1.ru_utime) - secs(b.r0.ru_utime);
    double sys = secs(b.r1.ru_stime) - secs(b.r0.ru_stime);
    printf("tls_bulk %s bytes=%lld wall_s=%.6f cpu_s=%.6f user_s=%.6f sys_s=%.6f "
           "cpu_ns_per_byte=%.4f send_zc=%d\n", mode, b.bytes, wall, user + sys, user, sys,
           (user + sys) * 1e9 / (double)b.bytes, cfg.flags & RINGO_CFG_SEND_ZC ? 1 : 0);
    return 0;
}
