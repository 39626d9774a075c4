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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_loops.h"

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
        .name = "https_hello",
        .port = i < argc ? argv[i] : "8443",
        .host = i + 1 < argc ? argv[i + 1] : "127.0.0.1",
        .handle = handle,
    };
    /* Made before any loop runs: a bad file is reported before we listen. */
    int ret = ringo_tls_new_server(&a.tls, &to);
    if (ret < 0) {
        fprintf(stderr, "https_hello: %s, %s: %s (RINGO_DEBUG=1 says why)\n", to.cert_file,
                to.key_file, strerror(-ret));
        return 1;
    }
    ret = serve_loops(&a, loops);
    ringo_tls_free(a.tls);   /* every server using it is closed by now */
    return ret < 0 ? 1 : 0;
}
