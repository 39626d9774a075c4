/* A line echo client: sends lines and prints what comes back.
 *
 * usage: echo_client [-p PORT] [-h HOST] [LINE...]
 *   (defaults 8080 127.0.0.1). Sends each LINE, or stdin when none is given.
 *
 * Two tasks share the connection: one sends, then half-closes (write_eof),
 * the other prints replies until the server closes. That is how a client
 * streams without knowing how many replies to wait for. */
#include <errno.h>
#include <ringo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct client {
    ringo_stream *s;
    char **lines;     /* argv lines, or NULL: stdin */
    int nlines;
};

static int send_lines(void *arg)
{
    struct client *c = arg;
    int ret = 0;
    for (int i = 0; i < c->nlines && ret >= 0; i++) {
        ringo_stream_write(c->s, c->lines[i], strlen(c->lines[i]));
        ret = (int)ringo_stream_write(c->s, "\n", 1);
    }
    if (!c->lines) {
        /* stdin through the ring: the loop never blocks on the terminal. */
        char buf[4096];
        ssize_t n;
        while (ret >= 0 && (n = ringo_read(STDIN_FILENO, buf, sizeof buf, -1)) > 0)
            if ((ret = (int)ringo_stream_write(c->s, buf, (size_t)n)) >= 0)
                ret = ringo_stream_drain(c->s);
    }
    int eof = ringo_stream_write_eof(c->s);   /* sends what is queued, then FIN */
    return ret < 0 ? ret : eof;
}

static int print_replies(void *arg)
{
    struct client *c = arg;
    char line[4096];
    ssize_t n;
    while ((n = ringo_stream_readline(c->s, line, sizeof line)) > 0)
        fwrite(line, 1, (size_t)n, stdout);
    fflush(stdout);
    return n == 0 || n == -ENODATA ? 0 : (int)n;
}

struct opts { const char *host, *port; char **lines; int nlines; };

static int run(void *arg)
{
    const struct opts *o = arg;
    struct client c = { .lines = o->nlines ? o->lines : NULL, .nlines = o->nlines };
    int ret = ringo_open_connection(&c.s, o->host, o->port);
    if (ret < 0) {
        fprintf(stderr, "echo_client: %s:%s: %s\n", o->host, o->port, strerror(-ret));
        return ret;
    }
    ringo_task *t[2];
    int st[2];
    ringo_spawn(&t[0], send_lines, &c);
    ringo_spawn(&t[1], print_replies, &c);
    ret = ringo_gather(t, 2, st);
    ringo_stream_close(c.s);
    if (ret < 0)
        fprintf(stderr, "echo_client: %s\n", strerror(-ret));
    return ret;
}

int main(int argc, char **argv)
{
    struct opts o = { .host = "127.0.0.1", .port = "8080" };
    int opt;
    while ((opt = getopt(argc, argv, "p:h:")) != -1) {
        if (opt == 'p')
            o.port = optarg;
        else if (opt == 'h')
            o.host = optarg;
        else {
            fprintf(stderr, "usage: %s [-p PORT] [-h HOST] [LINE...]\n", argv[0]);
            return 2;
        }
    }
    o.lines = argv + optind;
    o.nlines = argc - optind;
    return ringo_run(run, &o) < 0 ? 1 : 0;
}
