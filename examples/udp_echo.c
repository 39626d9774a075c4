/* A UDP echo server and a client that checks every echo.
 *
 * udp_echo server [--host H] [--port P] [--loops N] [--batch N] [--gro]
 *   binds H:P (127.0.0.1, port 0: one the kernel picks), prints
 *   "udp_echo: listening on H port P" and echoes every datagram to its
 *   sender until SIGINT or SIGTERM. --loops N: N loops, each an endpoint of
 *   its own on the one port (RINGO_DGRAM_REUSEPORT). --batch N: N datagrams
 *   per call (recv_many/send_many); --gro: the kernel coalesces arrivals.
 * udp_echo client --host H --port P [--count N] [--size S] [--inflight K]
 *   sends N datagrams of S bytes (sequence number in the first 8), at most K
 *   unanswered; missing ones are sent again each second; gives up after 5 s
 *   without progress. Prints "udp_echo: echoed X/N"; exit 0 iff all came. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stop_signals.h"

struct opts {
    const char *host, *port;
    unsigned loops, batch, inflight;
    bool gro;
    long count, size;
    char bound[8];                  /* loop 0's port, for the other loops */
    ringo_event *bound_set, *stop;  /* loop 0's */
};

struct echo_arg {
    ringo_dgram *d;
    unsigned batch;
};

/* Until the endpoint is closed under it (-EBADF). With a batch, datagrams
 * back to one sender go out as one GSO send. */
static int echo(void *arg)
{
    struct echo_arg *e = arg;
    ringo_dgram_msg *m = calloc(e->batch, sizeof *m);
    char *bufs = malloc((size_t)e->batch * 65536);
    ssize_t n = m && bufs ? 0 : -1;
    while (n >= 0) {
        for (unsigned i = 0; i < e->batch; i++)
            m[i] = (ringo_dgram_msg){ .buf = bufs + (size_t)i * 65536, .len = 65536 };
        if ((n = ringo_dgram_recv_many(e->d, m, e->batch)) > 0)
            (void)ringo_dgram_send_many(e->d, m, (size_t)n);
        else if (n == -ECONNREFUSED || n == -EHOSTUNREACH)
            n = 0;   /* a client gone: the others go on */
    }
    free(m);
    free(bufs);
    return 0;
}

/* Every loop runs this; loop 0 binds first and watches the signals. */
static int serve(void *arg)
{
    struct opts *o = arg;
    unsigned me = ringo_loop_index();
    if (me > 0 && wait_on_loop0(o->bound_set) < 0)
        return 0;   /* loop 0 failed, and its error is the run's */
    unsigned flags = ringo_loop_count() > 1 ? RINGO_DGRAM_REUSEPORT : 0;
    struct echo_arg e = { .batch = o->batch };
    int ret = ringo_dgram_open_flags(&e.d, o->host, me ? o->bound : o->port, NULL, NULL, flags);
    if (ret == 0 && o->gro && (ret = ringo_dgram_set_gro(e.d, true)) < 0)
        ringo_dgram_close(e.d);
    if (ret < 0) {   /* the other loops are cancelled */
        fprintf(stderr, "udp_echo: cannot bind %s port %s: %s\n", o->host, o->port, strerror(-ret));
        return ret;
    }
    ringo_task *t, *watchers[2];
    if ((ret = ringo_spawn(&t, echo, &e)) < 0)
        t = NULL;
    else if (me > 0) {
        (void)wait_on_loop0(o->stop);
    } else {
        snprintf(o->bound, sizeof o->bound, "%d", ringo_dgram_port(e.d));
        ringo_event_set(o->bound_set);
        if ((ret = watch_signals(watchers)) == 0) {
            printf("udp_echo: listening on %s port %s\n", o->host, o->bound);
            fflush(stdout);
            ret = first_signal(watchers);
        }
        ringo_event_set(o->stop);
    }
    ringo_dgram_close(e.d);   /* the echo task's receive returns -EBADF */
    if (t)
        (void)ringo_await(t);
    return ret < 0 ? ret : 0;
}

/* Datagram seq's content; under 8 bytes there is no room for seq. */
static void fill(char *p, long size, uint64_t seq)
{
    for (long i = 0; i < size; i++)
        p[i] = (char)((size >= 8 ? seq * 7 : 0) + (uint64_t)i);
    if (size >= 8)
        memcpy(p, &seq, 8);
}

static int client(void *arg)
{
    struct opts *o = arg;
    ringo_dgram *d;
    int ret = ringo_dgram_open(&d, NULL, NULL, o->host, o->port);
    if (ret < 0) {
        fprintf(stderr, "udp_echo: %s port %s: %s\n", o->host, o->port, strerror(-ret));
        return ret;
    }
    bool ids = o->size >= 8;   /* else echoes are only counted */
    char *seen = calloc((size_t)o->count + 1, 1);
    char *out = malloc((size_t)o->size + 1), *in = malloc((size_t)o->size + 1);
    long sent = 0, echoed = 0, bad = 0;
    int64_t progress = ringo_now(), tick = progress + RINGO_SEC(1);
    while (seen && out && in && echoed < o->count && ringo_now() - progress < RINGO_SEC(5)) {
        for (; sent < o->count && sent - echoed < (long)o->inflight; sent++) {
            fill(out, o->size, (uint64_t)sent);
            (void)ringo_dgram_send(d, out, (size_t)o->size, NULL, 0);
        }
        ringo_deadline(tick);
        ssize_t n = ringo_dgram_recv(d, in, (size_t)o->size + 1, NULL, NULL);
        ringo_deadline(INT64_MAX);
        if (n == -ETIMEDOUT) {   /* a second without a word: send the missing again */
            for (long s = 0; s < sent; s++) {
                if (ids ? seen[s] : s >= sent - echoed)
                    continue;
                fill(out, o->size, (uint64_t)s);
                (void)ringo_dgram_send(d, out, (size_t)o->size, NULL, 0);
            }
            tick = ringo_now() + RINGO_SEC(1);
            continue;
        }
        if (n < 0)
            continue;   /* refused: no server yet, or it went away */
        uint64_t seq = 0;
        if (ids)
            memcpy(&seq, in, 8);
        if (seq >= (uint64_t)sent || (ids && seen[seq]))
            continue;   /* a late echo of one sent again */
        fill(out, o->size, seq);
        if (n != o->size || memcmp(in, out, (size_t)o->size) != 0) {
            bad++;
            continue;
        }
        if (ids)
            seen[seq] = 1;
        echoed++;
        progress = ringo_now();
        tick = progress + RINGO_SEC(1);
    }
    printf("udp_echo: echoed %ld/%ld\n", echoed, o->count);
    if (bad)   /* not counted as echoed */
        fprintf(stderr, "udp_echo: %ld echoes differed from what was sent\n", bad);
    free(seen);
    free(out);
    free(in);
    ringo_dgram_close(d);
    return echoed == o->count && !bad ? 0 : -EIO;
}

static bool num(const char *s, long min, long *v)
{
    char *end;
    *v = s ? strtol(s, &end, 10) : 0;
    return s && *s && !*end && *v >= min;
}

int main(int argc, char **argv)
{
    struct opts o = { .host = "127.0.0.1", .port = "0", .loops = 1, .batch = 1,
                      .inflight = 32, .count = 1000, .size = 64 };
    bool srv = argc > 1 && !strcmp(argv[1], "server");
    bool ok = srv || (argc > 1 && !strcmp(argv[1], "client"));
    long v;
    for (int i = 2; ok && i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--gro") && srv) {
            o.gro = true;
            continue;
        }
        i++;   /* every other option takes a value */
        if (!val)
            ok = false;
        else if (!strcmp(a, "--host"))
            o.host = val;
        else if (!strcmp(a, "--port"))
            o.port = val;
        else if (!strcmp(a, "--loops") && srv && (ok = num(val, 1, &v)))
            o.loops = (unsigned)v;
        else if (!strcmp(a, "--batch") && srv && (ok = num(val, 1, &v)))
            o.batch = (unsigned)v;
        else if (!strcmp(a, "--count") && !srv && (ok = num(val, 0, &v)))
            o.count = v;
        else if (!strcmp(a, "--size") && !srv && (ok = num(val, 0, &v) && v <= 65507))
            o.size = v;
        else if (!strcmp(a, "--inflight") && !srv && (ok = num(val, 1, &v)))
            o.inflight = (unsigned)v;
        else
            ok = false;
    }
    if (!ok || (!srv && !strcmp(o.port, "0"))) {
        fprintf(stderr, "usage: udp_echo server [--host H] [--port P] [--loops N] [--batch N] "
                        "[--gro]\n       udp_echo client --host H --port P [--count N] "
                        "[--size S] [--inflight K]\n");
        return 2;
    }
    if (!srv)
        return ringo_run(client, &o) == 0 ? 0 : 1;
    if (ringo_event_new(&o.bound_set) < 0 || ringo_event_new(&o.stop) < 0)
        return 1;
    int ret = o.loops == 1 ? ringo_run(serve, &o) : ringo_run_loops(NULL, o.loops, serve, &o);
    ringo_event_free(o.bound_set);
    ringo_event_free(o.stop);
    return ret == 0 ? 0 : 1;
}
