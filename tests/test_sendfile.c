/* ringo_sendfile and ringo_stream_sendfile (io/sendfile.c, io/pipe_pool.c,
 * io/stream_sendfile.c) over real sockets, pipes and files. Most tests run
 * twice: sockets fed through the pooled pipes (RINGO_SENDFILE=splice) and
 * by sendfile(2) (RINGO_SENDFILE=sendfile); the backend's default is one of
 * them. The suite's epoll rerun covers the other backend. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

/* ---- fixtures ---------------------------------------------------------- */

static void run_paths(ringo_fn fn, void *arg)
{
    static const char *const paths[] = { "splice", "sendfile" };
    for (int i = 0; i < 2; i++) {
        setenv("RINGO_SENDFILE", paths[i], 1);
        cr_assert_eq(run_clean(fn, arg), 0, "RINGO_SENDFILE=%s", paths[i]);
    }
    unsetenv("RINGO_SENDFILE");
}

/* The byte at file position p: different in every page, so a byte sent
 * from the wrong place is seen. */
static unsigned char pat(int64_t p) { return (unsigned char)((p >> 12) * 7 + p * 131 + (p >> 20)); }

static bool pat_matches(const unsigned char *b, size_t n, int64_t at)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != pat(at + (int64_t)i))
            return false;
    return true;
}

/* A temporary file (already unlinked) of size bytes of pat. */
static int pat_file(size_t size)
{
    char path[] = "/tmp/ringo-sendfile-XXXXXX";
    int fd = mkostemp(path, O_CLOEXEC);
    cr_assert_geq(fd, 0);
    unlink(path);
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);   /* not on a task's 64 KiB stack */
    for (size_t at = 0; at < size; at += CHUNK) {
        size_t n = size - at < CHUNK ? size - at : CHUNK;
        for (size_t i = 0; i < n; i++)
            buf[i] = pat((int64_t)(at + i));
        cr_assert_eq(pwrite(fd, buf, n, (off_t)at), (ssize_t)n);
    }
    free(buf);
    return fd;
}

/* As the socket pairs: fds[0] is written, fds[1] read. */
static void pipe_pair(int fds[2])
{
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    fds[0] = p[1];
    fds[1] = p[0];
}

/* A reader task: everything from fd until EOF (or `stop` bytes, then it
 * sets `at_stop` and waits for `resume`), checked against pat from `from`. */
typedef struct reader {
    int fd;
    bool sock;
    int64_t from;
    size_t got;
    bool ok;
    size_t stop;
    ringo_event *at_stop, *resume;
    bool close_at_stop;
    unsigned char *copy;       /* all bytes read, when not NULL (cap: copy_cap) */
    size_t copy_cap;
    int64_t delay_ns;          /* before the first read: let the writer fill the pipe */
} reader;

static int read_all(void *arg)
{
    reader *r = arg;
    unsigned char buf[8192];
    r->ok = true;
    if (r->delay_ns)
        cr_assert_eq(ringo_sleep(r->delay_ns), 0);
    for (;;) {
        size_t want = sizeof buf;
        if (r->stop && r->got < r->stop && r->stop - r->got < want)
            want = r->stop - r->got;
        ssize_t n = r->sock ? ringo_recv(r->fd, buf, want, 0) : ringo_read(r->fd, buf, want, -1);
        if (n <= 0)
            return n == 0 || r->close_at_stop ? 0 : (int)n;
        if (r->copy) {
            cr_assert_leq(r->got + (size_t)n, r->copy_cap);
            memcpy(r->copy + r->got, buf, (size_t)n);
        } else if (!pat_matches(buf, (size_t)n, r->from + (int64_t)r->got)) {
            r->ok = false;
        }
        r->got += (size_t)n;
        if (r->stop && r->got == r->stop) {
            if (r->at_stop)
                ringo_event_set(r->at_stop);
            if (r->close_at_stop) {
                close(r->fd);
                return 0;
            }
            if (r->resume)
                cr_assert_eq(ringo_event_wait(r->resume), 0);
        }
    }
}

static ringo_task *spawn_reader(reader *r)
{
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, read_all, r), 0);
    return t;
}

/* ---- the plain cases ----------------------------------------------------- */

#define FILE_SIZE ((size_t)3 << 20 | 4321)

/* count bytes from `from` to a socket or pipe pair (ends[0] written), all
 * checked by a reader on ends[1]; returns what sendfile did. */
static ssize_t send_checked_slow(int ends[2], bool sock, int in, int64_t from, size_t count,
                                 size_t want_got, int64_t delay_ns)
{
    reader r = { .fd = ends[1], .sock = sock, .from = from, .delay_ns = delay_ns };
    ringo_task *t = spawn_reader(&r);
    int64_t off = from;
    ssize_t n = ringo_sendfile(ends[0], in, &off, count);
    cr_assert_eq(off, from + (n > 0 ? n : 0), "*offset moves by what was sent");
    close(ends[0]);
    int st = ringo_await(t);
    cr_assert_eq(st, 0, "reader: %d (sent %zd)", st, n);
    cr_assert(r.ok, "bytes differ");
    cr_assert_eq(r.got, want_got);
    close(ends[1]);
    return n;
}

static ssize_t send_checked(int ends[2], bool sock, int in, int64_t from, size_t count,
                            size_t want_got)
{
    return send_checked_slow(ends, sock, in, from, count, want_got, 0);
}

static int plain_main(void *arg)
{
    (void)arg;
    int in = pat_file(FILE_SIZE), fds[2];
    tcp_pair(fds);
    cr_assert_eq(send_checked(fds, true, in, 1000, FILE_SIZE - 1000, FILE_SIZE - 1000),
                 (ssize_t)(FILE_SIZE - 1000));
    unix_pair(fds);
    cr_assert_eq(send_checked(fds, true, in, 0, FILE_SIZE, FILE_SIZE), (ssize_t)FILE_SIZE);
    pipe_pair(fds);
    cr_assert_eq(send_checked(fds, false, in, 77777, 1 << 20, 1 << 20), 1 << 20);
    /* Nonblocking ends (the caller's, left so): the waits are ours, not a
     * short count. The reader starts late so that the writer finds them full
     * (any timing passes; this one makes the wait likely). */
    unix_pair(fds);
    cr_assert_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    cr_assert_eq(send_checked_slow(fds, true, in, 5, FILE_SIZE - 5, FILE_SIZE - 5, 20000000),
                 (ssize_t)(FILE_SIZE - 5));
    pipe_pair(fds);
    cr_assert_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    cr_assert_eq(send_checked_slow(fds, false, in, 5, FILE_SIZE - 5, FILE_SIZE - 5, 20000000),
                 (ssize_t)(FILE_SIZE - 5));
    /* Past the end: short at EOF, then 0. */
    tcp_pair(fds);
    cr_assert_eq(send_checked(fds, true, in, FILE_SIZE - 10, 100, 10), 10);
    pipe_pair(fds);
    cr_assert_eq(send_checked(fds, false, in, FILE_SIZE, 100, 0), 0);
    close(in);
    return 0;
}

Test(sendfile, to_a_socket_and_to_a_pipe, .timeout = 60)
{
    run_paths(plain_main, NULL);
}

/* /proc/self/cmdline refuses splice (EINVAL): the bytes come by read+write. */
static int refused_main(void *arg)
{
    (void)arg;
    int in = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    cr_assert_geq(in, 0);
    unsigned char want[4096], got[4096];
    ssize_t len = pread(in, want, sizeof want, 0);
    cr_assert_gt(len, 2);
    for (int kind = 0; kind < 2; kind++) {
        int fds[2];
        if (kind)
            pipe_pair(fds);
        else
            unix_pair(fds);
        reader r = { .fd = fds[1], .sock = !kind, .copy = got, .copy_cap = sizeof got };
        ringo_task *t = spawn_reader(&r);
        int64_t off = 1;
        cr_assert_eq(ringo_sendfile(fds[0], in, &off, 4096), len - 1);
        cr_assert_eq(off, len);
        close(fds[0]);
        cr_assert_eq(ringo_await(t), 0);
        cr_assert_eq(r.got, (size_t)len - 1);
        cr_assert_eq(memcmp(got, want + 1, (size_t)len - 1), 0);
        close(fds[1]);
    }
    close(in);
    return 0;
}

Test(sendfile, a_file_splice_refuses_is_copied)
{
    run_paths(refused_main, NULL);
}

/* ---- 64-bit offsets ------------------------------------------------------ */

#define FOUR_G ((int64_t)4 << 30)

static int big_offset_main(void *arg)
{
    (void)arg;
    char path[] = "/tmp/ringo-sendfile-XXXXXX";
    int in = mkostemp(path, O_CLOEXEC);
    cr_assert_geq(in, 0);
    unlink(path);
    cr_assert_eq(ftruncate(in, FOUR_G + (1 << 20)), 0, "a sparse 4 GiB file");
    static const char marker[] = "past 2^32";
    cr_assert_eq(pwrite(in, marker, sizeof marker - 1, FOUR_G + 123), (ssize_t)sizeof marker - 1);
    for (int kind = 0; kind < 2; kind++) {
        int fds[2];
        if (kind)
            pipe_pair(fds);
        else
            tcp_pair(fds);
        unsigned char got[4096];
        reader r = { .fd = fds[1], .sock = !kind, .copy = got, .copy_cap = sizeof got };
        ringo_task *t = spawn_reader(&r);
        int64_t off = FOUR_G - 1000;
        cr_assert_eq(ringo_sendfile(fds[0], in, &off, 4096), 4096);
        cr_assert_eq(off, FOUR_G + 3096);
        close(fds[0]);
        cr_assert_eq(ringo_await(t), 0);
        cr_assert_eq(r.got, 4096u);
        for (size_t i = 0; i < 4096; i++) {
            size_t m = i - 1123;   /* the marker's index, wrapping below it */
            char want = m < sizeof marker - 1 ? marker[m] : 0;
            cr_assert_eq(got[i], (unsigned char)want, "byte %zu", i);
        }
        close(fds[1]);
    }
    close(in);
    return 0;
}

Test(sendfile, offsets_past_4_gib)
{
    run_paths(big_offset_main, NULL);
}

/* ---- a file that shrinks mid-send ---------------------------------------- */

#define SHRINK_FROM ((size_t)16 << 20)
#define SHRINK_TO   ((size_t)8 << 20)

typedef struct sender {
    int out, in;
    int64_t off;
    size_t count;
    ssize_t res;
    bool close_after;
} sender;

static int send_task(void *arg)
{
    sender *s = arg;
    s->res = ringo_sendfile(s->out, s->in, &s->off, s->count);
    if (s->close_after)
        close(s->out);
    return 0;
}

static int truncate_main(void *arg)
{
    (void)arg;
    int in = pat_file(SHRINK_FROM), fds[2];
    unix_pair(fds);
    ringo_event *at_stop, *resume;
    cr_assert_eq(ringo_event_new(&at_stop), 0);
    cr_assert_eq(ringo_event_new(&resume), 0);
    /* The reader stops after 2 MiB: the sender is then at most its socket
     * buffers and one pipe ahead, far below 8 MiB, when the file shrinks. */
    reader r = { .fd = fds[1], .sock = true, .stop = 2 << 20, .at_stop = at_stop,
                 .resume = resume };
    sender s = { .out = fds[0], .in = in, .count = SHRINK_FROM, .close_after = true };
    ringo_task *rt = spawn_reader(&r), *st;
    cr_assert_eq(ringo_spawn(&st, send_task, &s), 0);
    cr_assert_eq(ringo_event_wait(at_stop), 0);
    cr_assert_eq(ftruncate(in, (off_t)SHRINK_TO), 0);
    ringo_event_set(resume);
    cr_assert_eq(ringo_await(st), 0);
    cr_assert_eq(ringo_await(rt), 0);
    cr_assert_eq(s.res, (ssize_t)SHRINK_TO, "short: the file's new end");
    cr_assert_eq(s.off, (int64_t)SHRINK_TO);
    cr_assert_eq(r.got, SHRINK_TO);
    cr_assert(r.ok);
    ringo_event_free(at_stop);
    ringo_event_free(resume);
    close(fds[1]);
    close(in);
    return 0;
}

Test(sendfile, a_file_truncated_while_sent_ends_short, .timeout = 60)
{
    run_paths(truncate_main, NULL);
}

/* ---- errors -------------------------------------------------------------- */

/* Send until an error: the peer (closed after 64 KiB) must come back as one. */
static int peer_gone_main(void *arg)
{
    (void)arg;
    char path[] = "/tmp/ringo-sendfile-XXXXXX";
    int in = mkostemp(path, O_CLOEXEC);
    cr_assert_geq(in, 0);
    unlink(path);
    cr_assert_eq(ftruncate(in, 64 << 20), 0);
    for (int kind = 0; kind < 3; kind++) {
        int fds[2];
        if (kind == 0)
            tcp_pair(fds);
        else if (kind == 1)
            unix_pair(fds);
        else
            pipe_pair(fds);
        reader r = { .fd = fds[1], .sock = kind < 2, .stop = 65536, .close_at_stop = true,
                     .copy = malloc(65536), .copy_cap = 65536 };
        ringo_task *t = spawn_reader(&r);
        int64_t off = 0;
        ssize_t n;
        int calls = 0;
        while ((n = ringo_sendfile(fds[0], in, &off, 64 << 20)) > 0)
            cr_assert_lt(++calls, 100, "short sends forever");
        cr_assert(n == -EPIPE || n == -ECONNRESET, "kind %d: got %zd", kind, n);
        cr_assert_eq(ringo_await(t), 0);
        cr_assert_eq(r.got, 65536u);
        free(r.copy);
        close(fds[0]);
    }
    close(in);
    return 0;
}

Test(sendfile, a_peer_that_closes_is_an_error_not_sigpipe, .timeout = 60)
{
    signal(SIGPIPE, SIG_DFL);   /* a SIGPIPE would kill the test */
    run_paths(peer_gone_main, NULL);
}

static int bad_input_main(void *arg)
{
    (void)arg;
    int in = pat_file(4096), fds[2];
    unix_pair(fds);
    int64_t off = 0, neg = -1;
    cr_assert_eq(ringo_sendfile(-1, in, &off, 10), -EBADF);
    cr_assert_eq(ringo_sendfile(fds[0], -1, &off, 10), -EBADF);
    cr_assert_eq(ringo_sendfile(fds[0], in, NULL, 10), -EINVAL);
    cr_assert_eq(ringo_sendfile(fds[0], in, &neg, 10), -EINVAL);
    cr_assert_eq(neg, -1);
    cr_assert_eq(ringo_sendfile(fds[0], in, &off, 0), 0);
    cr_assert_eq(off, 0);
    int p[2];
    pipe_pair(p);
    cr_assert_eq(ringo_sendfile(fds[0], p[1], &off, 10), -ESPIPE, "a pipe has no offsets");
    cr_assert_eq(off, 0);
    int closed = dup(in);
    close(closed);
    cr_assert_eq(ringo_sendfile(fds[0], closed, &off, 10), -EBADF);
    cr_assert_eq(ringo_stream_sendfile(NULL, in, 0, 10), -EINVAL);
    close(p[0]);
    close(p[1]);
    close(fds[0]);
    close(fds[1]);
    close(in);
    return 0;
}

Test(sendfile, bad_input)
{
    int64_t off = 0;
    cr_assert_eq(ringo_sendfile(1, 0, &off, 1), -EPERM, "outside a task");
    run_paths(bad_input_main, NULL);
}

/* ---- cancellation and the pool ------------------------------------------- */

static int cancel_main(void *arg)
{
    (void)arg;
    int in = pat_file(SHRINK_FROM), fds[2];
    unix_pair(fds);
    sender s = { .out = fds[0], .in = in, .count = SHRINK_FROM };
    ringo_task *st;
    cr_assert_eq(ringo_spawn(&st, send_task, &s), 0);
    /* Bytes arrived, nobody reads: the sender is stuck on a full socket. */
    cr_assert_eq(ringo_poll(fds[1], POLLIN) & POLLIN, POLLIN);
    cr_assert_eq(ringo_cancel(st), 0);
    cr_assert_eq(ringo_await(st), -ECANCELED);
    cr_assert_gt(s.res, 0, "what was sent, not -ECANCELED");
    cr_assert_lt(s.res, (ssize_t)SHRINK_FROM);
    cr_assert_eq(s.off, s.res);
    close(fds[0]);
    reader r = { .fd = fds[1], .sock = true };
    cr_assert_eq(read_all(&r), 0);
    cr_assert(r.ok);
    cr_assert_eq(r.got, (size_t)s.res, "the socket holds exactly what was reported sent");
    close(fds[1]);
    /* The same loop's next sends (through the pool's pipes, on the splice
     * path) carry exactly their own bytes. */
    for (int i = 0; i < 3; i++) {
        unix_pair(fds);
        cr_assert_eq(send_checked(fds, true, in, 4096 * i + 5, 1 << 20, 1 << 20), 1 << 20);
    }
    close(in);
    return 0;
}

Test(sendfile, cancelled_mid_send_returns_what_was_sent_and_leaves_no_stale_bytes,
     .timeout = 60)
{
    run_paths(cancel_main, NULL);
}

static int count_pipes(void)
{
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], link[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(path, link, sizeof link - 1);
        if (k > 0 && (link[k] = '\0', strncmp(link, "pipe:", 5) == 0))
            n++;
    }
    closedir(d);
    return n;
}

#define MANY      1000
#define MANY_SIZE ((size_t)256 << 10)

static int many_main(void *arg)
{
    (void)arg;
    int in = pat_file(MANY_SIZE + MANY);
    int before = count_pipes();
    ringo_event *go;
    cr_assert_eq(ringo_event_new(&go), 0);
    static sender s[MANY];
    static reader r[MANY];
    static ringo_task *st[MANY], *rt[MANY];
    for (int i = 0; i < MANY; i++) {
        int fds[2];
        unix_pair(fds);
        /* Readers start once every sender is in: all are mid-send at once. */
        r[i] = (reader){ .fd = fds[1], .sock = true, .from = i, .stop = 1, .resume = go };
        s[i] = (sender){ .out = fds[0], .in = in, .off = i, .count = MANY_SIZE,
                         .close_after = true };
        cr_assert_eq(ringo_spawn(&st[i], send_task, &s[i]), 0);
        cr_assert_eq(ringo_spawn(&rt[i], read_all, &r[i]), 0);
    }
    for (int i = 0; i < 10; i++)
        cr_assert_eq(ringo_yield(), 0);
    int during = count_pipes() - before;
    cr_assert_leq(during, 8, "%d pipe ends for %d sends: the pool must bound them", during, MANY);
    ringo_event_set(go);
    for (int i = 0; i < MANY; i++) {
        cr_assert_eq(ringo_await(st[i]), 0);
        cr_assert_eq(ringo_await(rt[i]), 0);
        cr_assert_eq(s[i].res, (ssize_t)MANY_SIZE, "send %d: %zd", i, s[i].res);
        cr_assert_eq(r[i].got, MANY_SIZE);
        cr_assert(r[i].ok, "send %d: bytes differ", i);
        close(r[i].fd);
    }
    ringo_event_free(go);
    close(in);
    return 0;
}

Test(sendfile, a_thousand_at_once_do_not_run_out_of_pipes, .timeout = 120)
{
    run_paths(many_main, NULL);
}

/* ---- streams ------------------------------------------------------------- */

typedef struct sink {
    unsigned char *buf;
    size_t cap, got;
    ringo_event *done;
} sink;

static int sink_handler(ringo_stream *s, void *arg)
{
    sink *k = arg;
    ssize_t n;
    while ((n = ringo_stream_read(s, k->buf + k->got, k->cap - k->got)) > 0)
        k->got += (size_t)n;
    ringo_event_set(k->done);
    return 0;
}

#define HEAD_BIG ((size_t)100 << 10)   /* above the stream's high mark: still queued */

/* header, file, trailer, in that order, on a plain or TLS stream. */
static void stream_order(ringo_stream *c, sink *k, int in)
{
    static unsigned char head[HEAD_BIG];
    memset(head, 'H', sizeof head);
    cr_assert_eq(ringo_stream_write(c, head, sizeof head), (ssize_t)sizeof head);
    cr_assert_eq(ringo_stream_sendfile(c, in, 12345, FILE_SIZE), (ssize_t)(FILE_SIZE - 12345));
    cr_assert_eq(ringo_stream_write(c, "tail", 4), 4);
    cr_assert_eq(ringo_stream_write(c, "x", 1), 1);
    cr_assert_eq(ringo_stream_sendfile(c, in, 0, 3), 3);
    cr_assert_eq(ringo_stream_close(c), 0);
    cr_assert_eq(ringo_event_wait(k->done), 0);
    size_t body = FILE_SIZE - 12345;
    cr_assert_eq(k->got, sizeof head + body + 5 + 3);
    cr_assert_eq(memcmp(k->buf, head, sizeof head), 0);
    cr_assert(pat_matches(k->buf + sizeof head, body, 12345));
    cr_assert_eq(memcmp(k->buf + sizeof head + body, "tailx", 5), 0);
    cr_assert(pat_matches(k->buf + sizeof head + body + 5, 3, 0));
}

static int stream_main(void *arg)
{
    (void)arg;
    int in = pat_file(FILE_SIZE);
    sink k = { .cap = FILE_SIZE + HEAD_BIG + 64 };
    k.buf = malloc(k.cap);
    cr_assert_eq(ringo_event_new(&k.done), 0);
    ringo_server *srv;
    cr_assert_eq(ringo_start_server(&srv, "127.0.0.1", "0", sink_handler, &k), 0);
    char port[16];
    snprintf(port, sizeof port, "%d", ringo_server_port(srv));
    ringo_stream *c;
    cr_assert_eq(ringo_open_connection(&c, "127.0.0.1", port), 0);
    stream_order(c, &k, in);
    /* A stream whose writing side is shut: an error, not a crash. */
    cr_assert_eq(ringo_open_connection(&c, "127.0.0.1", port), 0);
    cr_assert_eq(ringo_stream_write_eof(c), 0);
    cr_assert_eq(ringo_stream_sendfile(c, in, 0, 10), -EBADF);
    cr_assert_eq(ringo_stream_sendfile(c, -1, 0, 10), -EBADF);
    cr_assert_eq(ringo_stream_close(c), 0);
    cr_assert_eq(ringo_server_close(srv), 0);
    ringo_event_free(k.done);
    free(k.buf);
    close(in);
    return 0;
}

Test(sendfile, stream_sendfile_after_buffered_writes_keeps_order, .timeout = 60)
{
    run_paths(stream_main, NULL);
}

static int tls_main(void *arg)
{
    (void)arg;
    ringo_tls *st = NULL, *ct = NULL;
    const ringo_tls_opts so = { .cert_file = tls_file("server.pem"),
                                .key_file = tls_file("server.key") };
    const ringo_tls_opts co = { .ca_file = tls_file("ca.pem"), .verify_peer = true };
    cr_assert_eq(ringo_tls_new_server(&st, &so), 0);
    cr_assert_eq(ringo_tls_new_client(&ct, &co), 0);
    int in = pat_file(FILE_SIZE);
    sink k = { .cap = FILE_SIZE + HEAD_BIG + 64 };
    k.buf = malloc(k.cap);
    cr_assert_eq(ringo_event_new(&k.done), 0);
    ringo_server *srv;
    const ringo_server_opts o = { .tls = st };
    cr_assert_eq(ringo_start_server_opts(&srv, "127.0.0.1", "0", &o, sink_handler, &k), 0);
    char port[16];
    snprintf(port, sizeof port, "%d", ringo_server_port(srv));
    ringo_stream *c;
    cr_assert_eq(ringo_open_tls_connection(&c, "localhost", port, ct, NULL), 0);
    stream_order(c, &k, in);
    cr_assert_eq(ringo_server_close(srv), 0);
    ringo_event_free(k.done);
    free(k.buf);
    close(in);
    ringo_tls_free(st);
    ringo_tls_free(ct);
    return 0;
}

Test(sendfile, tls_stream_sendfile_goes_through_the_stream, .timeout = 60)
{
    ringo_tls *t = NULL;
    const ringo_tls_opts o = { .verify_peer = false };
    if (ringo_tls_new_client(&t, &o) == -ENOTSUP)
        cr_skip_test("built without TLS");
    ringo_tls_free(t);
    tls_certs_make();
    run_paths(tls_main, NULL);
    tls_certs_remove();
}
