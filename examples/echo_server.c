/* A line echo server: asyncio's start_server example, in C. Every client gets
 * a task of its own that reads lines and sends them back until EOF.
 *
 * usage: echo_server [--loops N] [PORT] [HOST]     (defaults 1, 8080,
 * 127.0.0.1; port 0 picks a free port). Prints "listening on HOST:PORT" once
 * ready. Try it with echo_client, or: printf 'hi\n' | nc 127.0.0.1 8080
 *
 * --loops N (0: one per CPU) runs N loops, one thread each, every one with a
 * listener of its own on the same port (RINGO_SERVER_REUSEPORT): the kernel
 * spreads the clients. Loop 0 binds first and hands the port to the others.
 *
 * Ctrl-C (SIGINT) or SIGTERM stops it cleanly: on loop 0 a task waits on each
 * signal; then every loop is told to stop and closes its server (its
 * handlers cancelled and awaited), and the program exits 0. */
#include <errno.h>
#include <ringo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_loops.h"

/* One per connection; the server closes the stream after we return. */
static int handle(ringo_stream *s, void *arg)
{
    (void)arg;
    char line[4096];
    ssize_t n;
    /* 0 at EOF; -ENODATA for a last line without "\n"; -EMSGSIZE for a line
     * longer than the buffer: either way this client is done. */
    while ((n = ringo_stream_readline(s, line, sizeof line)) > 0) {
        if (ringo_stream_write(s, line, (size_t)n) < 0)
            break;
        /* Backpressure: wait while the client is not reading its replies. */
        if (ringo_stream_drain(s) < 0)
            break;
    }
    return 0;
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
        .name = "echo_server",
        .port = i < argc ? argv[i] : "8080",
        .host = i + 1 < argc ? argv[i + 1] : "127.0.0.1",
        .handle = handle,
    };
    return serve_loops(&a, loops) < 0 ? 1 : 0;
}
