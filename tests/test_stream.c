/* Streams (io/stream*.c) over real socket pairs. open_connection and the
 * server are tested elsewhere; here one end of a pair is wrapped with the
 * private constructor and the other is a raw descriptor or a second stream.
 * Every test runs twice: on the multishot recv with the loop's buffer ring,
 * and with RINGO_NO_MULTISHOT=1 on the plain recv into the stream's buffer. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "io/stream.h"

/* ---- fixtures ---------------------------------------------------------- */

static int mode;   /* 0: multishot wanted, 1: RINGO_NO_MULTISHOT=1 */

static ringo_stream *wrap(int fd)
{
    ringo_stream *s;
    cr_assert_eq(ringo__stream_new(&s, fd), 0);
    return s;
}

static void run_both(ringo_fn fn, void *arg)
{
    for (mode = 0; mode < 2; mode++) {
        setenv("RINGO_NO_MULTISHOT", mode ? "1" : "0", 1);
        cr_assert_eq(run_clean(fn, arg), 0, "mode %d", mode);
    }
    unsetenv("RINGO_NO_MULTISHOT");
}

static void put(int fd, const char *s)
{
    cr_assert_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* A pattern with a prime period, so chunk boundaries never line up. */
#define PAT_LEN 65521u
static unsigned char pat[PAT_LEN + (1 << 20) + 65536];   /* any pat_at(off) + 1 MiB */

static void pat_init(void)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < PAT_LEN; i++) {
        x = x * 1103515245u + 12345u;
        pat[i] = (unsigned char)(x >> 16);
    }
    for (size_t i = PAT_LEN; i < sizeof pat; i++)
        pat[i] = pat[i - PAT_LEN];
}

static const unsigned char *pat_at(size_t off) { return pat + off % PAT_LEN; }

/* ---- reading ----------------------------------------------------------- */

static int read_main(void *arg)
{
    (void)arg;
    int fds[2];
    unix_pair(fds);
    ringo_stream *a = wrap(fds[0]);
    char buf[64];
    put(fds[1], "hello");
    cr_assert_eq(ringo_stream_read(a, buf, sizeof buf), 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
    put(fds[1], "abc");
    cr_assert_eq(ringo_stream_read(a, buf, 2), 2);
    cr_assert_eq(ringo_stream_read(a, buf + 2, 8), 1);
    cr_assert_eq(memcmp(buf, "abc", 3), 0);
    cr_assert_eq(ringo_stream_read(a, buf, 0), 0);
    /* Bad input never crashes. */
    cr_assert_eq(ringo_stream_read(NULL, buf, 1), -EINVAL);
    cr_assert_eq(ringo_stream_read(a, NULL, 1), -EINVAL);
    cr_assert_eq(ringo_stream_readexactly(a, NULL, 1), -EINVAL);
    cr_assert_eq(ringo_stream_readuntil(a, NULL, 1, buf, 8), -EINVAL);
    cr_assert_eq(ringo_stream_readuntil(a, "x", 0, buf, 8), -EINVAL);
    cr_assert_eq(ringo_stream_write(NULL, "x", 1), -EINVAL);
    cr_assert_eq(ringo_stream_write(a, NULL, 1), -EINVAL);
    cr_assert_eq(ringo_stream_drain(NULL), -EINVAL);
    cr_assert_eq(ringo_stream_write_eof(NULL), -EINVAL);
    cr_assert_eq(ringo_stream_close(NULL), -EINVAL);
    cr_assert_eq(ringo_stream_fd(NULL), -EINVAL);
    ringo_stream_set_limit(NULL, 10);
    cr_assert_eq(ringo_stream_fd(a), fds[0]);
    /* After the peer closed: 0 and -ENODATA, as asyncio. */
    close(fds[1]);
    cr_assert_eq(ringo_stream_read(a, buf, sizeof buf), 0);
    cr_assert_eq(ringo_stream_readexactly(a, buf, 1), -ENODATA);
    cr_assert_eq(ringo_stream_readline(a, buf, sizeof buf), -ENODATA);
    cr_assert_eq(ringo_stream_close(a), 0);
    return 0;
}

Test(stream, read_returns_what_is_there_and_zero_at_eof)
{
    run_both(read_main, NULL);
}

static int new_outside_loop_main(void *arg)
{
    (void)arg;
    ringo_stream *s;
    cr_assert_eq(ringo__stream_new(&s, -1), -EBADF);
    return 0;
}

Test(stream, new_needs_a_loop_and_owns_the_fd)
{
    int fds[2];
    unix_pair(fds);
    ringo_stream *s;
    cr_assert_eq(ringo__stream_new(&s, fds[0]), -EPERM);
    cr_assert_eq(close(fds[0]), -1, "the fd is closed on failure");
    close(fds[1]);
    run_both(new_outside_loop_main, NULL);
}

struct sender { int fd; const char *const *parts; int64_t gap; };

static int send_parts(void *arg)
{
    struct sender *sd = arg;
    for (const char *const *p = sd->parts; *p; p++) {
        cr_assert_eq(ringo_send(sd->fd, *p, strlen(*p), 0), (ssize_t)strlen(*p));
        cr_assert_eq(ringo_sleep(sd->gap), 0);
    }
    return 0;
}

static int readexactly_main(void *arg)
{
    (void)arg;
    int fds[2];
    tcp_pair(fds);
    ringo_stream *a = wrap(fds[0]);
    static const char *const parts[] = { "abc", "def", "gh", NULL };
    struct sender sd = { fds[1], parts, RINGO_MS(5) };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, send_parts, &sd), 0);
    char buf[16] = { 0 };
    cr_assert_eq(ringo_stream_readexactly(a, buf, 7), 7);
    cr_assert_eq(memcmp(buf, "abcdefg", 7), 0);
    cr_assert_eq(ringo_await(t), 0);
    put(fds[1], "ij");
    shutdown(fds[1], SHUT_WR);
    /* EOF first: -ENODATA, and the partial bytes stay readable. */
    cr_assert_eq(ringo_stream_readexactly(a, buf, 5), -ENODATA);
    cr_assert_eq(ringo__stream_read_buffered(a), 3);
    cr_assert_eq(ringo_stream_readexactly(a, buf, 3), 3);
    cr_assert_eq(memcmp(buf, "hij", 3), 0);
    cr_assert_eq(ringo_stream_read(a, buf, sizeof buf), 0);
    cr_assert_eq(ringo_stream_close(a), 0);
    close(fds[1]);
    return 0;
}

Test(stream, readexactly_waits_for_all_and_keeps_a_partial_read_at_eof)
{
    run_both(readexactly_main, NULL);
}

static int readuntil_main(void *arg)
{
    (void)arg;
    int fds[2];
    tcp_pair(fds);
    ringo_stream *a = wrap(fds[0]);
    /* A 4-byte separator split over packets, and a line split mid-way. */
    static const char *const parts[] = { "GET / HTTP/1.1\r\nHost: x\r", "\n\r", "\nbo",
                                         "dy\nta", "il", "\n", NULL };
    struct sender sd = { fds[1], parts, RINGO_MS(2) };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, send_parts, &sd), 0);
    char buf[128];
    ssize_t n = ringo_stream_readuntil(a, "\r\n\r\n", 4, buf, sizeof buf);
    cr_assert_eq(n, 27, "got %zd", n);
    cr_assert_eq(memcmp(buf, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27), 0);
    cr_assert_eq(ringo_stream_readline(a, buf, sizeof buf), 5);
    cr_assert_eq(memcmp(buf, "body\n", 5), 0);
    cr_assert_eq(ringo_stream_readline(a, buf, sizeof buf), 5);
    cr_assert_eq(memcmp(buf, "tail\n", 5), 0);
    cr_assert_eq(ringo_await(t), 0);
    cr_assert_eq(ringo_stream_close(a), 0);
    close(fds[1]);
    return 0;
}

Test(stream, readuntil_finds_separators_split_across_packets)
{
    run_both(readuntil_main, NULL);
}

static int overrun_main(void *arg)
{
    (void)arg;
    int fds[2];
    unix_pair(fds);
    ringo_stream *a = wrap(fds[0]);
    ringo_stream_set_limit(a, 16);
    put(fds[1], "0123456789012345678901234567890123456789");
    char buf[128];
    /* No "\n" within the limit: LimitOverrunError, and nothing is lost. */
    cr_assert_eq(ringo_stream_readline(a, buf, sizeof buf), -EMSGSIZE);
    cr_assert_geq(ringo__stream_read_buffered(a), 16);
    cr_assert_eq(ringo_stream_readexactly(a, buf, 40), 40, "a read may go past the limit");
    cr_assert_eq(memcmp(buf, "0123456789012345678901234567890123456789", 40), 0);
    /* The caller's capacity bounds it too. */
    ringo_stream_set_limit(a, 1024);
    put(fds[1], "abcdefghij\n");
    cr_assert_eq(ringo_stream_readline(a, buf, 5), -EMSGSIZE);
    cr_assert_eq(ringo_stream_readline(a, buf, 11), 11);
    cr_assert_eq(memcmp(buf, "abcdefghij\n", 11), 0);
    /* The separator ending exactly at the limit fits. */
    ringo_stream_set_limit(a, 4);
    put(fds[1], "abc\n");
    cr_assert_eq(ringo_stream_readline(a, buf, sizeof buf), 4);
    cr_assert_eq(ringo_stream_close(a), 0);
    close(fds[1]);
    return 0;
}

Test(stream, readuntil_reports_limit_overrun_and_keeps_the_data)
{
    run_both(overrun_main, NULL);
}

static int eof_midline_main(void *arg)
{
    (void)arg;
    int fds[2];
    unix_pair(fds);
    ringo_stream *a = wrap(fds[0]);
    put(fds[1], "abc");
    shutdown(fds[1], SHUT_WR);
    char buf[16];
    cr_assert_eq(ringo_stream_readline(a, buf, sizeof buf), -ENODATA);
    cr_assert_eq(ringo_stream_read(a, buf, sizeof buf), 3);
    cr_assert_eq(memcmp(buf, "abc", 3), 0);
    cr_assert_eq(ringo_stream_read(a, buf, sizeof buf), 0);
    cr_assert_eq(ringo_stream_close(a), 0);
    close(fds[1]);
    return 0;
}

Test(stream, readline_at_eof_mid_line_keeps_the_partial_line)
{
    run_both(eof_midline_main, NULL);
}

static int trickle(void *arg)
{
    int fd = *(int *)arg;
    const char *msg = "line one\nline two\n";
    for (const char *p = msg; *p; p++) {
        cr_assert_eq(ringo_send(fd, p, 1, 0), 1);
        cr_assert_eq(ringo_sleep(RINGO_US(300)), 0);
    }
    return 0;
}

static int trickle_main(void *arg)
{
    (void)arg;
    int fds[2];
    tcp_pair(fds);
    int one = 1;
    setsockopt(fds[1], IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
    ringo_stream *a = wrap(fds[0]);
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, trickle, &fds[1]), 0);
    char buf[32];
    cr_assert_eq(ringo_stream_readline(a, buf, sizeof buf), 9);
    cr_assert_eq(memcmp(buf, "line one\n", 9), 0);
    cr_assert_eq(ringo_stream_readline(a, buf, sizeof buf), 9);
    cr_assert_eq(memcmp(buf, "line two\n", 9), 0);
    cr_assert_eq(ringo_await(t), 0);
    cr_assert_eq(ringo_stream_close(a), 0);
    close(fds[1]);
    return 0;
}

Test(stream, readline_from_a_sender_that_trickles_bytes)
{
    run_both(trickle_main, NULL);
}

/* ---- cancellation and deadlines ---------------------------------------- */

static int blocked_reader(void *arg)
{
    char buf[10];
    return (int)ringo_stream_readexactly(arg, buf, sizeof buf);
}

static int cancel_read_main(void *arg)
{
    (void)arg;
    int fds[2];
    unix_pair(fds);
    ringo_stream *a = wrap(fds[0]);
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, blocked_reader, a), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(5)), 0);
    put(fds[1], "0123");
    cr_assert_eq(ringo_sleep(RINGO_MS(5)), 0);
    char buf[16];
    cr_assert_eq(ringo_stream_read(a, buf, 1), -EBUSY, "one reader at a time");
    cr_assert_eq(ringo_stream_close(a), -EBUSY, "not under a waiting reader");
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    /* What the cancelled read had received is still there, in order. */
    put(fds[1], "456789");
    cr_assert_eq(ringo_stream_readexactly(a, buf, 10), 10);
    cr_assert_eq(memcmp(buf, "0123456789", 10), 0);
    cr_assert_eq(ringo_stream_close(a), 0);
    close(fds[1]);
    return 0;
}

Test(stream, cancelled_read_loses_nothing)
{
    run_both(cancel_read_main, NULL);
}

static int deadline_main(void *arg)
{
    (void)arg;
    int fds[2];
    unix_pair(fds);
    ringo_stream *a = wrap(fds[0]);
    char buf[16];
    put(fds[1], "la");
    int64_t old = ringo_deadline(ringo_now() + RINGO_MS(30));
    cr_assert_eq(ringo_stream_readline(a, buf, sizeof buf), -ETIMEDOUT);
    ringo_deadline(old);
    put(fds[1], "te\n");
    cr_assert_eq(ringo_stream_readline(a, buf, sizeof buf), 5);
    cr_assert_eq(memcmp(buf, "late\n", 5), 0);
    cr_assert_eq(ringo_stream_close(a), 0);
    close(fds[1]);
    return 0;
}

Test(stream, readline_past_the_deadline_times_out)
{
    run_both(deadline_main, NULL);
}

/* ---- receive paths and read backpressure ------------------------------- */

struct bulk { int fd; size_t len; };

static int bulk_send(void *arg)
{
    struct bulk *b = arg;
    for (size_t off = 0; off < b->len;) {
        size_t n = b->len - off < 100000 ? b->len - off : 100000;
        ssize_t r = ringo_send(b->fd, pat_at(off), n, 0);
        if (r < 0)
            return (int)r;
        off += (size_t)r;
    }
    return 0;
}

static int paths_main(void *arg)
{
    int *multishot = arg;
    int fds[2];
    tcp_pair(fds);
    ringo_stream *a = wrap(fds[0]);
    char c;
    put(fds[1], "x");
    cr_assert_eq(ringo_stream_read(a, &c, 1), 1);
    multishot[mode] = ringo__stream_multishot(a);
    /* Nobody reads: the stream must not buffer much past its limit. */
    struct bulk b = { fds[1], 4u << 20 };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, bulk_send, &b), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(50)), 0);
    size_t held = ringo__stream_read_buffered(a);
    /* Past the limit the recv is cancelled; what the kernel delivers in the
     * meantime (it retries a multishot recv up to 32 times per run) is kept. */
    cr_assert_leq(held, RINGO_STREAM_LIMIT + 32 * RINGO_RECV_BUF_SIZE, "read ahead %zu", held);
    static unsigned char buf[300000];
    for (size_t off = 0; off < b.len;) {
        size_t n = (off / 7) % sizeof buf + 1;
        if (n > b.len - off)
            n = b.len - off;
        ssize_t r = (off & 1) ? ringo_stream_readexactly(a, buf, n)
                              : ringo_stream_read(a, buf, n);
        cr_assert_gt(r, 0);
        cr_assert_eq(memcmp(buf, pat_at(off), (size_t)r), 0, "at %zu", off);
        off += (size_t)r;
    }
    cr_assert_eq(ringo_await(t), 0);
    cr_assert_eq(ringo_stream_close(a), 0);
    close(fds[1]);
    return 0;
}

Test(stream, both_receive_paths_are_used_and_bound_read_ahead)
{
    pat_init();
    int multishot[2] = { -1, -1 };
    run_both(paths_main, multishot);
    cr_assert_eq(multishot[1], 0, "RINGO_NO_MULTISHOT=1 forces the plain recv");
    if (!multishot[0])
        cr_skip_test("the kernel has no multishot recv with a buffer ring");
}

#define DRY ((int)RINGO_RECV_BUFS + 8)

static int dry_ring_main(void *arg)
{
    (void)arg;
    static int fds[DRY][2];
    static ringo_stream *s[DRY];
    char c[4];
    /* Each stream keeps one byte unread: in multishot mode each then holds
     * a buffer of the ring, until the ring runs dry. */
    for (int i = 0; i < DRY; i++) {
        unix_pair(fds[i]);
        s[i] = wrap(fds[i][0]);
        put(fds[i][1], "ab");
        cr_assert_eq(ringo_stream_readexactly(s[i], c, 1), 1);
        cr_assert_eq(c[0], 'a');
    }
    /* The last ones got -ENOBUFS and took a plain recv instead. */
    for (int i = 0; i < DRY; i++) {
        put(fds[i][1], "cd\n");
        cr_assert_eq(ringo_stream_readline(s[i], c, sizeof c), 4);
        cr_assert_eq(memcmp(c, "bcd\n", 4), 0);
    }
    /* Buffers are back: multishot works again everywhere. */
    for (int i = 0; i < DRY; i++) {
        put(fds[i][1], "e");
        cr_assert_eq(ringo_stream_read(s[i], c, sizeof c), 1);
        cr_assert_eq(c[0], 'e');
        cr_assert_eq(ringo_stream_close(s[i]), 0);
        close(fds[i][1]);
    }
    return 0;
}

Test(stream, a_dry_buffer_ring_falls_back_to_a_plain_recv)
{
    run_both(dry_ring_main, NULL);
}

/* ---- writing ----------------------------------------------------------- */

struct xfer { ringo_stream *s; size_t len; unsigned seed; };

static int xfer_write(void *arg)
{
    struct xfer *x = arg;
    size_t off = 0;
    unsigned r = x->seed;
    while (off < x->len) {
        r = r * 1103515245u + 12345u;
        size_t n = (r >> 8) % (200 * 1024) + 1;
        if (n > x->len - off)
            n = x->len - off;
        cr_assert_eq(ringo_stream_write(x->s, pat_at(off), n), (ssize_t)n);
        off += n;
        cr_assert_eq(ringo_stream_drain(x->s), 0);
        cr_assert_leq(ringo__stream_write_buffered(x->s), RINGO_STREAM_HIGH + n);
    }
    return ringo_stream_write_eof(x->s);
}

static int xfer_read(void *arg)
{
    struct xfer *x = arg;
    static __thread unsigned char buf[256 * 1024];
    size_t off = 0;
    unsigned r = x->seed;
    for (;;) {
        r = r * 1103515245u + 12345u;
        size_t n = (r >> 8) % sizeof buf + 1;
        ssize_t got = (r & 1) && n <= x->len - off ? ringo_stream_readexactly(x->s, buf, n)
                                                     : ringo_stream_read(x->s, buf, n);
        cr_assert_geq(got, 0, "read: %s", strerror((int)-got));
        if (got == 0)
            break;
        cr_assert_eq(memcmp(buf, pat_at(off), (size_t)got), 0, "mismatch at %zu", off);
        off += (size_t)got;
    }
    cr_assert_eq(off, x->len);
    return 0;
}

static int transfer_main(void *arg)
{
    (void)arg;
    int fds[2];
    tcp_pair(fds);
    ringo_stream *a = wrap(fds[0]), *b = wrap(fds[1]);
    struct xfer wa = { a, 64u << 20, 1 }, rb = { b, 64u << 20, 2 };
    struct xfer wb = { b, 64u << 20, 3 }, ra = { a, 64u << 20, 4 };
    ringo_task *t[4];
    cr_assert_eq(ringo_spawn(&t[0], xfer_write, &wa), 0);
    cr_assert_eq(ringo_spawn(&t[1], xfer_read, &rb), 0);
    cr_assert_eq(ringo_spawn(&t[2], xfer_write, &wb), 0);
    cr_assert_eq(ringo_spawn(&t[3], xfer_read, &ra), 0);
    int st[4];
    cr_assert_eq(ringo_gather(t, 4, st), 0, "%d %d %d %d", st[0], st[1], st[2], st[3]);
    cr_assert_eq(ringo_stream_close(a), 0);
    cr_assert_eq(ringo_stream_close(b), 0);
    return 0;
}

Test(stream, transfer_64mib_both_ways_at_once, .timeout = 60)
{
    pat_init();
    run_both(transfer_main, NULL);
}

static int backpressure_main(void *arg)
{
    (void)arg;
    int fds[2];
    tcp_pair(fds);
    ringo_stream *a = wrap(fds[0]);
    static char chunk[16 * 1024];
    size_t total = 0, most = 0;
    int ret;
    int64_t old = ringo_deadline(ringo_now() + RINGO_MS(200));
    for (;;) {
        if ((ret = (int)ringo_stream_write(a, chunk, sizeof chunk)) < 0)
            break;
        total += sizeof chunk;
        size_t q = ringo__stream_write_buffered(a);
        most = q > most ? q : most;
        if ((ret = ringo_stream_drain(a)) < 0)
            break;
    }
    ringo_deadline(old);
    cr_assert_eq(ret, -ETIMEDOUT);
    cr_assert_gt(total, RINGO_STREAM_HIGH, "the kernel took some");
    cr_assert_leq(most, RINGO_STREAM_HIGH + sizeof chunk, "queued %zu", most);
    /* The peer goes away with unread data (a reset): close does not hang. */
    close(fds[1]);
    ret = ringo_stream_close(a);
    cr_assert(ret == 0 || ret == -EPIPE || ret == -ECONNRESET, "close: %d", ret);
    return 0;
}

Test(stream, drain_bounds_the_queue_against_a_peer_that_never_reads)
{
    run_both(backpressure_main, NULL);
}

static int epipe_main(void *arg)
{
    (void)arg;
    int fds[2];
    tcp_pair(fds);
    ringo_stream *a = wrap(fds[0]);
    close(fds[1]);
    char data[1000] = { 0 };
    int ret = 0;
    for (int i = 0; i < 1000 && ret >= 0; i++) {
        ret = (int)ringo_stream_write(a, data, sizeof data);
        if (ret >= 0)
            ret = ringo_stream_drain(a);
        if (ret >= 0)
            ret = ringo_sleep(RINGO_MS(1));
    }
    cr_assert(ret == -EPIPE || ret == -ECONNRESET, "got %d", ret);
    ret = (int)ringo_stream_write(a, data, 1);
    cr_assert(ret == -EPIPE || ret == -ECONNRESET, "got %d", ret);
    ret = ringo_stream_close(a);
    cr_assert(ret == -EPIPE || ret == -ECONNRESET, "got %d", ret);
    return 0;
}

Test(stream, write_to_a_closed_peer_fails_without_sigpipe)
{
    signal(SIGPIPE, SIG_DFL);   /* a SIGPIPE would kill the test */
    run_both(epipe_main, NULL);
}

static int write_eof_main(void *arg)
{
    (void)arg;
    int fds[2];
    tcp_pair(fds);
    ringo_stream *a = wrap(fds[0]), *b = wrap(fds[1]);
    char buf[16];
    cr_assert_eq(ringo_stream_write(a, "ping", 4), 4);
    cr_assert_eq(ringo_stream_write_eof(a), 0);
    cr_assert_eq(ringo_stream_write_eof(a), 0);
    cr_assert_eq(ringo_stream_write(a, "x", 1), -EBADF);
    cr_assert_eq(ringo_stream_readexactly(b, buf, 4), 4);
    cr_assert_eq(memcmp(buf, "ping", 4), 0);
    cr_assert_eq(ringo_stream_read(b, buf, sizeof buf), 0, "EOF after write_eof");
    cr_assert_eq(ringo_stream_write(b, "pong", 4), 4);
    cr_assert_eq(ringo_stream_drain(b), 0);
    cr_assert_eq(ringo_stream_readexactly(a, buf, 4), 4, "the other way still works");
    cr_assert_eq(memcmp(buf, "pong", 4), 0);
    cr_assert_eq(ringo_stream_close(b), 0);
    cr_assert_eq(ringo_stream_read(a, buf, sizeof buf), 0);
    cr_assert_eq(ringo_stream_close(a), 0);
    return 0;
}

Test(stream, write_eof_half_closes)
{
    run_both(write_eof_main, NULL);
}

static int batch_main(void *arg)
{
    (void)arg;
    int fds[2];
    unix_pair(fds);
    ringo_stream *a = wrap(fds[0]), *b = wrap(fds[1]);
    char buf[64];
    /* A response written in pieces leaves in one send. */
    cr_assert_eq(ringo_stream_write(a, "HTTP/1.1 200 OK\r\n", 17), 17);
    cr_assert_eq(ringo_stream_write(a, "Content-Length: 2\r\n\r\n", 21), 21);
    cr_assert_eq(ringo_stream_write(a, "hi", 2), 2);
    cr_assert_eq(ringo_stream_readexactly(b, buf, 40), 40);
    cr_assert_eq(memcmp(buf, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 40), 0);
    cr_assert_eq(ringo__stream_sends(a), 1);
    /* Bytes written while a send is in flight follow in the next one, and
     * growing the queue under a submitted send keeps the bytes in order. */
    static unsigned char big[200000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7);
    cr_assert_eq(ringo_stream_write(a, big, 1000), 1000);
    cr_assert_eq(ringo_nop(), 0);   /* the send is submitted now */
    cr_assert_eq(ringo_stream_write(a, big + 1000, sizeof big - 1000), (ssize_t)(sizeof big - 1000));
    static unsigned char got[sizeof big];
    cr_assert_eq(ringo_stream_readexactly(b, got, sizeof got), (ssize_t)sizeof got);
    cr_assert_eq(memcmp(got, big, sizeof big), 0);
    cr_assert_eq(ringo_stream_close(a), 0);
    cr_assert_eq(ringo_stream_close(b), 0);
    return 0;
}

Test(stream, writes_between_ring_trips_go_out_in_one_send)
{
    run_both(batch_main, NULL);
}

/* ---- close ------------------------------------------------------------- */

#define CLOSE_LEN ((size_t)1 << 20)

static size_t drain_fd(int fd, bool in_loop)
{
    static __thread unsigned char buf[64 * 1024];
    size_t off = 0;
    for (;;) {
        ssize_t n = in_loop ? ringo_recv(fd, buf, sizeof buf, 0) : read(fd, buf, sizeof buf);
        cr_assert_geq(n, 0);
        if (n == 0)
            return off;
        cr_assert_eq(memcmp(buf, pat_at(off), (size_t)n), 0);
        off += (size_t)n;
    }
}

static int peer_reader(void *arg)
{
    return drain_fd(*(int *)arg, true) == CLOSE_LEN ? 0 : -EIO;
}

static int close_main(void *arg)
{
    (void)arg;
    int fds[2];
    tcp_pair(fds);
    ringo_stream *a = wrap(fds[0]);
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, peer_reader, &fds[1]), 0);
    cr_assert_eq(ringo_stream_write(a, pat, CLOSE_LEN / 2), (ssize_t)(CLOSE_LEN / 2));
    cr_assert_eq(ringo_stream_write(a, pat_at(CLOSE_LEN / 2), CLOSE_LEN / 2),
                 (ssize_t)(CLOSE_LEN / 2));
    cr_assert_eq(ringo_stream_close(a), 0);
    cr_assert_eq(ringo_await(t), 0, "the peer got every byte");
    close(fds[1]);
    return 0;
}

Test(stream, close_delivers_queued_bytes)
{
    pat_init();
    run_both(close_main, NULL);
}

static int cancelled_writer(void *arg)
{
    ringo_stream *a = arg;
    cr_assert_eq(ringo_stream_write(a, pat, CLOSE_LEN), (ssize_t)CLOSE_LEN);
    cr_assert_eq(ringo_sleep(RINGO_SEC(10)), -ECANCELED);
    cr_assert_eq(ringo_stream_close(a), 0, "hands the flush to the background");
    return 0;
}

static int cancelled_close_main(void *arg)
{
    (void)arg;
    int fds[2];
    tcp_pair(fds);
    ringo_stream *a = wrap(fds[0]);
    ringo_task *r, *w;
    cr_assert_eq(ringo_spawn(&w, cancelled_writer, a), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(5)), 0);
    cr_assert_eq(ringo_cancel(w), 0);
    cr_assert_eq(ringo_await(w), -ECANCELED);
    cr_assert_eq(ringo_spawn(&r, peer_reader, &fds[1]), 0);
    cr_assert_eq(ringo_await(r), 0, "the peer got every byte");
    close(fds[1]);
    return 0;
}

Test(stream, close_in_a_cancelled_task_still_delivers)
{
    pat_init();
    run_both(cancelled_close_main, NULL);
}

static void *thread_reader(void *arg)
{
    int *fd = arg;
    return (void *)(uintptr_t)drain_fd(*fd, false);
}

static int loop_close_main(void *arg)
{
    int *fds = arg;
    ringo_stream *a = wrap(fds[0]);
    ringo_task *w;
    cr_assert_eq(ringo_spawn(&w, cancelled_writer, a), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_cancel(w), 0);
    cr_assert_eq(ringo_await(w), -ECANCELED);
    /* An unclosed stream is closed by the loop too. */
    int spare[2];
    unix_pair(spare);
    close(spare[1]);
    (void)wrap(spare[0]);
    return 0;   /* the loop must not end before a's bytes are out */
}

Test(stream, loop_close_waits_for_a_background_close)
{
    pat_init();
    for (mode = 0; mode < 2; mode++) {
        setenv("RINGO_NO_MULTISHOT", mode ? "1" : "0", 1);
        int fds[2];
        tcp_pair(fds);
        pthread_t th;
        cr_assert_eq(pthread_create(&th, NULL, thread_reader, &fds[1]), 0);
        int before = open_fd_count();
        cr_assert_eq(ringo_run(loop_close_main, fds), 0);
        cr_assert_eq(open_fd_count(), before - 1, "the stream's fd is closed");
        void *got;
        pthread_join(th, &got);
        cr_assert_eq((size_t)(uintptr_t)got, CLOSE_LEN);
        close(fds[1]);
    }
    unsetenv("RINGO_NO_MULTISHOT");
}

/* ---- pipes ------------------------------------------------------------- */

static int pipe_main(void *arg)
{
    (void)arg;
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    ringo_stream *r = wrap(p[0]), *w = wrap(p[1]);
    char buf[16];
    cr_assert_eq(ringo_stream_write(w, "one\ntwo", 7), 7);
    cr_assert_eq(ringo_stream_readline(r, buf, sizeof buf), 4);
    cr_assert_eq(ringo__stream_multishot(r), 0, "pipes take the plain path");
    cr_assert_eq(ringo_stream_write_eof(w), 0);
    cr_assert_eq(ringo_stream_readline(r, buf, sizeof buf), -ENODATA);
    cr_assert_eq(ringo_stream_read(r, buf, sizeof buf), 3);
    cr_assert_eq(ringo_stream_read(r, buf, sizeof buf), 0);
    cr_assert_eq(ringo_stream_close(w), 0);
    cr_assert_eq(ringo_stream_close(r), 0);
    return 0;
}

Test(stream, pipes_read_write_and_write_eof)
{
    run_both(pipe_main, NULL);
}
