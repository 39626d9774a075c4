/* Zero-copy stream sends (io/stream_write.c with RINGO_CFG_SEND_ZC): the
 * bytes arrive exact and in order whatever mix of writes makes them, close
 * delivers what was written, a vanished peer is an error, and nothing is
 * freed while the kernel holds it (ASan sees every buffer). On epoll, and on
 * a kernel without SEND_ZC, the same tests run over plain sends. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/backend.h"
#include "helpers.h"
#include "io/stream.h"

static const ringo_config zc_cfg = { .flags = RINGO_CFG_SEND_ZC };

static ringo_stream *wrap(int fd)
{
    ringo_stream *s;
    cr_assert_eq(ringo__stream_new(&s, fd), 0);
    return s;
}

/* Zero-copy sends are expected here: io_uring with SEND_ZC. */
static bool zc_expected(void)
{
    return ringo__can(ringo__loop, RINGO_CAP_SEND_ZC);
}

/* A pattern with a prime period, so chunk boundaries never line up. */
#define PAT_LEN 65521u
static unsigned char pat[PAT_LEN + (4 << 20)];

static void pat_init(void)
{
    uint32_t x = 777;
    for (size_t i = 0; i < PAT_LEN; i++) {
        x = x * 1103515245u + 12345u;
        pat[i] = (unsigned char)(x >> 16);
    }
    for (size_t i = PAT_LEN; i < sizeof pat; i++)
        pat[i] = pat[i - PAT_LEN];
}

static const unsigned char *pat_at(size_t off) { return pat + off % PAT_LEN; }

/* Reads the peer's end to EOF, checking every byte: the count. */
static int reader(void *arg)
{
    int fd = *(int *)arg;
    static __thread unsigned char buf[96 * 1024];
    size_t off = 0;
    for (;;) {
        ssize_t n = ringo_recv(fd, buf, sizeof buf, 0);
        cr_assert_geq(n, 0, "recv: %s", strerror((int)-n));
        if (n == 0)
            break;
        cr_assert_eq(memcmp(buf, pat_at(off), (size_t)n), 0, "mismatch near %zu", off);
        off += (size_t)n;
    }
    return (int)(off >> 10);   /* KiB; the tests send whole KiBs */
}

/* ---- delivery ---------------------------------------------------------- */

static size_t put(ringo_stream *s, size_t off, size_t n)
{
    cr_assert_eq(ringo_stream_write(s, pat_at(off), n), (ssize_t)n);
    return off + n;
}

static int mixed_main(void *arg)
{
    (void)arg;
    int fds[2];
    tcp_pair(fds);
    ringo_stream *a = wrap(fds[0]);
    ringo_task *r;
    cr_assert_eq(ringo_spawn(&r, reader, &fds[1]), 0);
    size_t off = 0;
    /* One 64 KiB write, one 1 MiB write. */
    off = put(a, off, 64 * 1024);
    cr_assert_eq(ringo_stream_drain(a), 0);
    off = put(a, off, 1 << 20);
    cr_assert_eq(ringo_stream_drain(a), 0);
    /* Writes while a zero-copy send is submitted or waits for its
     * notification: they go past the held bytes or to another buffer. */
    for (int i = 0; i < 64; i++) {
        off = put(a, off, 128 * 1024);
        cr_assert_eq(ringo_nop(), 0);   /* the send is submitted */
        off = put(a, off, 1000);
        off = put(a, off, 24);
        off = put(a, off, 40 * 1024);
        cr_assert_eq(ringo_nop(), 0);
        off = put(a, off, 200 * 1024 + (size_t)i * 1024);
        if (i % 4 == 0)
            cr_assert_eq(ringo_stream_drain(a), 0);
    }
    /* Small ones between big ones, never drained: the queue grows under
     * sends in flight. */
    for (int i = 0; i < 200; i++)
        off = put(a, off, i % 3 ? 1024 : 33 * 1024);
    cr_assert_eq(ringo_stream_drain(a), 0);
    unsigned zc = ringo__stream_zc_sends(a);
    if (zc_expected())
        cr_assert_gt(zc, 0, "zero-copy sends were made");
    else
        cr_assert_eq(zc, 0, "plain sends where the kernel has no SEND_ZC");
    cr_assert_eq(ringo_stream_close(a), 0);
    cr_assert_eq(ringo_await(r), (int)(off >> 10), "the reader got every byte");
    close(fds[1]);
    return 0;
}

Test(send_zc, large_and_mixed_writes_arrive_exact, .timeout = 60)
{
    pat_init();
    cr_assert_eq(run_clean_config(&zc_cfg, mixed_main, NULL), 0);
}

static int close_main(void *arg)
{
    (void)arg;
    int fds[2];
    tcp_pair(fds);
    ringo_stream *a = wrap(fds[0]);
    ringo_task *r;
    cr_assert_eq(ringo_spawn(&r, reader, &fds[1]), 0);
    size_t off = put(a, 0, 1 << 20);
    cr_assert_eq(ringo_nop(), 0);
    off = put(a, off, 3 << 20);
    cr_assert_eq(ringo_stream_close(a), 0);
    cr_assert_eq(ringo_await(r), (int)(off >> 10), "bytes written before close reach the peer");
    close(fds[1]);
    return 0;
}

Test(send_zc, close_right_after_a_big_write_delivers_it)
{
    pat_init();
    cr_assert_eq(run_clean_config(&zc_cfg, close_main, NULL), 0);
}

/* The stream is left for loop close to flush: it still waits for every
 * notification before it frees the buffers. */
static int unclosed_main(void *arg)
{
    int *fds = arg;
    ringo_stream *a = wrap(fds[0]);
    ringo_task *r;
    cr_assert_eq(ringo_spawn(&r, reader, &fds[1]), 0);
    (void)put(a, 0, 2 << 20);
    cr_assert_eq(ringo_nop(), 0);
    cr_assert_eq(ringo_stream_drain(a), 0);
    cr_assert_eq(ringo_stream_write_eof(a), 0);   /* the reader's EOF once all is sent */
    cr_assert_eq(ringo_await(r), 2 << 10);
    return 0;
}

Test(send_zc, loop_close_waits_for_the_notifications)
{
    pat_init();
    int fds[2];
    tcp_pair(fds);
    cr_assert_eq(ringo_run_config(&zc_cfg, unclosed_main, fds), 0);
    char c;
    cr_assert_eq(read(fds[1], &c, 1), 0, "the stream's fd is closed");
    cr_assert_eq(fcntl(fds[0], F_GETFD), -1, "the loop closed the stream");
    close(fds[1]);
}

/* A peer that never reads holds the pages of the sends still in the
 * socket's queue: loop close lingers (10 s), then resets the connection so
 * their notifications come, rather than waiting forever. */
static int stuck_main(void *arg)
{
    int *fds = arg;
    ringo_stream *a = wrap(fds[0]);
    for (int i = 0; i < 16; i++)
        cr_assert_eq(ringo_stream_write(a, pat, 1 << 20), 1 << 20);
    cr_assert_eq(ringo_sleep(RINGO_MS(50)), 0);   /* the sends go out and the window shuts */
    return 0;
}

Test(send_zc, loop_close_gives_up_on_a_peer_that_never_reads, .timeout = 40)
{
    pat_init();
    int fds[2];
    tcp_pair(fds);
    int64_t t0 = ringo_now();
    cr_assert_eq(ringo_run_config(&zc_cfg, stuck_main, fds), 0);
    cr_assert_lt(ringo_now() - t0, RINGO_SEC(30), "loop close did not hang");
    cr_assert_eq(fcntl(fds[0], F_GETFD), -1, "the loop closed the stream");
    close(fds[1]);
}

/* ---- errors ------------------------------------------------------------ */

static int vanish_main(void *arg)
{
    (void)arg;
    int fds[2];
    tcp_pair(fds);
    ringo_stream *a = wrap(fds[0]);
    int ret = 0;
    for (int i = 0; i < 4000 && ret >= 0; i++) {
        ret = (int)ringo_stream_write(a, pat_at((size_t)i), 256 * 1024);
        if (ret >= 0 && i == 2) {
            /* Unread data at close: the peer resets the connection. */
            char buf[4096];
            cr_assert_gt(recv(fds[1], buf, sizeof buf, 0), 0);
            close(fds[1]);
        }
        if (ret >= 0)
            ret = ringo_stream_drain(a);
    }
    cr_assert(ret == -EPIPE || ret == -ECONNRESET, "got %d", ret);
    ret = ringo_stream_close(a);
    cr_assert(ret == -EPIPE || ret == -ECONNRESET, "close: %d", ret);
    return 0;
}

Test(send_zc, a_peer_vanishing_mid_send_is_an_error)
{
    signal(SIGPIPE, SIG_DFL);   /* a SIGPIPE would kill the test */
    pat_init();
    cr_assert_eq(run_clean_config(&zc_cfg, vanish_main, NULL), 0);
}

/* ---- switches ---------------------------------------------------------- */

struct count { int fam; unsigned zc; bool expected; };

static int count_main(void *arg)
{
    struct count *c = arg;
    int fds[2];
    if (c->fam == AF_UNIX)
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    else
        tcp_pair(fds);
    ringo_stream *a = wrap(fds[0]);
    ringo_task *r;
    cr_assert_eq(ringo_spawn(&r, reader, &fds[1]), 0);
    size_t off = 0;
    for (int i = 0; i < 8; i++) {
        off = put(a, off, 64 * 1024);
        cr_assert_eq(ringo_stream_drain(a), 0);
    }
    c->zc = ringo__stream_zc_sends(a);
    c->expected = zc_expected();
    cr_assert_eq(ringo_stream_close(a), 0);
    cr_assert_eq(ringo_await(r), (int)(off >> 10));
    close(fds[1]);
    return 0;
}

Test(send_zc, off_by_default_on_with_the_flag_or_the_environment)
{
    pat_init();
    struct count c = { .fam = AF_INET };
    cr_assert_eq(run_clean(count_main, &c), 0);
    cr_assert_eq(c.zc, 0, "no zero-copy send by default");
    setenv("RINGO_SEND_ZC", "1", 1);
    c.zc = 0;
    cr_assert_eq(run_clean(count_main, &c), 0);
    unsetenv("RINGO_SEND_ZC");
    cr_assert(c.expected ? c.zc > 0 : c.zc == 0, "RINGO_SEND_ZC=1 turns them on where the kernel "
              "has them: %u", c.zc);
}

Test(send_zc, a_unix_socket_falls_back_to_plain_sends)
{
    pat_init();
    struct count c = { .fam = AF_UNIX };
    cr_assert_eq(run_clean_config(&zc_cfg, count_main, &c), 0);
    cr_assert_leq(c.zc, 1, "one refused try at most, then plain sends");
}
