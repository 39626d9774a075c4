/* A keep-alive HTTP/1.1 server answering every request with "Hello, world!".
 * Written for speed, and still plain: one task per connection, the request
 * head read into a stack buffer, the response queued on the stream.
 *
 * usage: http_hello [--loops N] [PORT] [HOST]     (defaults 1, 8080, 127.0.0.1)
 * Prints "listening on HOST:PORT" once ready. Try: curl http://127.0.0.1:8080/
 * or wrk -c 100 -d 10 http://127.0.0.1:8080/
 *
 * Pipelining needs no special code: readuntil returns one request head at a
 * time from what the stream has buffered, and writes only queue bytes, so a
 * batch of pipelined requests is answered with one send. The stream sends
 * queued bytes whenever the task waits for more input; drain only waits when
 * the client lets replies pile up (above 64 KiB).
 *
 * --loops N (0: one per CPU) runs N loops, one thread each, every one with a
 * listener of its own on the same port (RINGO_SERVER_REUSEPORT): the kernel
 * spreads the connections. Loop 0 binds first (port 0 picks one) and hands
 * the port to the others.
 *
 * Like epoll_http (its benchmark baseline), it handles GET-style requests
 * without bodies. Ctrl-C (SIGINT) or SIGTERM stops it cleanly: on loop 0 a
 * task waits on each signal; then every loop is told to stop, closes its
 * server and returns, and the program exits 0. */
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
    int i = 1;
    if (argc > 2 && strcmp(argv[1], "--loops") == 0) {
        loops = (unsigned)strtoul(argv[2], NULL, 10);
        i = 3;
    }
    struct app a = {
        .name = "http_hello",
        .port = i < argc ? argv[i] : "8080",
        .host = i + 1 < argc ? argv[i + 1] : "127.0.0.1",
        .handle = handle,
    };
    return serve_loops(&a, loops) < 0 ? 1 : 0;
}
