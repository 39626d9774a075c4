/* ringo_sendfile: a file to a socket or a pipe without copying through user
 * space where the kernel allows.
 *
 * To a pipe: one splice, file -> out_fd. To a socket, two ways:
 *  - splice through a pipe of the loop's pool (pipe_pool.c): file -> pipe,
 *    pipe -> socket, each a RINGO_IO_SPLICE op;
 *  - sendfile(2) inline on the socket made nonblocking for the call, with a
 *    POLLOUT op to wait when it is full.
 * Sockets take sendfile(2) on both backends (pipe_pool.c says why). A
 * page-cache miss blocks the inline sendfile(2) on the disk, as it blocks
 * nginx's. Where the kernel refuses the file (EINVAL: some /proc files and
 * filesystems), or out_fd is neither, the rest goes by read + write through
 * a buffer, as it does while the pool's pipes are all in use.
 *
 * *offset moves by what reached out_fd, never by what was read ahead into a
 * pipe. The calls that run on the loop's thread (sendfile(2), and on epoll
 * splice) raise SIGPIPE when the peer has gone, so it is blocked for the
 * call and one it raised is taken back. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <poll.h>
#include <unistd.h>

#include "io/sendfile.h"

/* Lengths in the backend are 32-bit; like sendfile(2), cap one transfer. */
#define MAX_IO   0x7ffff000u
#define COPY_BUF ((size_t)64 * 1024)
/* Inline sendfile(2) to a fast reader never waits: let others run this often. */
#define INLINE_YIELD ((size_t)16 << 20)

static unsigned cap(size_t n) { return n > MAX_IO ? MAX_IO : (unsigned)n; }

/* out_fd's file status flags, with O_NONBLOCK added while `on`. */
typedef struct out_nb {
    int fd;
    int fl;        /* as found; -1 not read yet */
    bool on;
} out_nb;

static void nb_set(out_nb *o, bool on)
{
    if (o->fl < 0 && (o->fl = fcntl(o->fd, F_GETFL)) < 0)
        return;   /* a bad descriptor: the call itself will say so */
    if (o->fl & O_NONBLOCK || o->on == on)
        return;
    if (fcntl(o->fd, F_SETFL, on ? o->fl | O_NONBLOCK : o->fl) == 0)
        o->on = on;
}

typedef struct sender {
    ringo_loop *l;
    ringo__sendfile_loop *sl;
    int out, in;
    enum ringo__sendfile_out kind;
    int64_t *off;
    out_nb nb;
    size_t inline_run;      /* bytes sendfile(2) moved since the last wait */
    int64_t end;            /* in_fd's size at the start */
    char *buf;              /* the copy path's, made when first needed */
} sender;

/* Each op checks for an interruption first: one delivered while an earlier
 * op moved some bytes (and so returned them) must stop the rest. */
static int wait_writable(ringo_loop *l, int fd)
{
    int why = ringo__interrupted(l->current);
    if (why)
        return why;
    ringo__op op;
    op.rq.io = (ringo__io){ .kind = RINGO_IO_POLL, .fd = fd, .flags = POLLOUT };
    int r = ringo__io_wait(l, &op);
    return r < 0 ? r : 0;   /* POLLERR/POLLHUP: the next call reports it */
}

static ssize_t splice_op(ringo_loop *l, int in, int64_t off, int out, size_t n, unsigned flags)
{
    for (;;) {
        int why = ringo__interrupted(l->current);
        if (why)
            return why;
        ringo__op op;
        op.rq.io = (ringo__io){ .kind = RINGO_IO_SPLICE, .fd = in, .off = off,
                                .u = (unsigned)out, .len = cap(n), .flags = (int)flags };
        ssize_t r = ringo__io_wait(l, &op);
        /* io_uring's worker honours an O_NONBLOCK out_fd (epoll waits itself). */
        if (r != -EAGAIN)
            return r;
        if ((why = wait_writable(l, out)) < 0)
            return why;
    }
}

/* file -> out_fd, a pipe: one op. */
static ssize_t to_pipe(sender *s, size_t want)
{
    ssize_t n = splice_op(s->l, s->in, *s->off, s->out, want, SPLICE_F_MOVE);
    if (n > 0)
        *s->off += n;
    return n;
}

/* file -> pooled pipe -> socket: what reached the socket, 0 at EOF, -EAGAIN
 * with no pipe to use, or -errno. */
static ssize_t via_pipe(sender *s, size_t want)
{
    ringo__pipe p;
    if (ringo__pipe_take(s->sl, &p) < 0)
        return -EAGAIN;   /* none free, or none to be made (EMFILE): the caller copies */
    ssize_t n = splice_op(s->l, s->in, *s->off, p.wr, want < p.size ? want : p.size,
                          SPLICE_F_MOVE);
    if (n <= 0) {
        ringo__pipe_give(s->sl, &p, false);
        return n;
    }
    size_t held = (size_t)n, sent = 0;
    /* MSG_MORE while more of the file follows: full segments, as sendfile(2)
     * sends. Never on the file's last bytes: TCP would hold them back. */
    unsigned more = want > held && *s->off + n < s->end ? SPLICE_F_MORE : 0;
    ssize_t err = 0;
    while (held) {
        ssize_t m = splice_op(s->l, p.rd, -1, s->out, held, SPLICE_F_MOVE | more);
        if (m <= 0) {
            /* ENODATA: the file shrank under pages still in the pipe. */
            err = m == 0 || m == -ENODATA ? 0 : m;
            break;
        }
        held -= (size_t)m;
        sent += (size_t)m;
        *s->off += m;
    }
    ringo__pipe_give(s->sl, &p, held == 0);
    return sent ? (ssize_t)sent : err;
}

/* sendfile(2) on the socket, nonblocking only for the call on io_uring:
 * the ring's own ops on it (a stream's recv) must not see EAGAIN. */
static ssize_t direct(sender *s, size_t want)
{
    for (;;) {
        if (s->inline_run >= INLINE_YIELD) {
            s->inline_run = 0;
            ringo__yield_now(s->l);
            int why = ringo__interrupted(s->l->current);
            if (why)
                return why;
        }
        nb_set(&s->nb, true);
        off_t o = *s->off;
        ssize_t n = sendfile(s->out, s->in, &o, cap(want));
        int err = n < 0 ? errno : 0;
        if (!ringo__is_epoll(s->l))
            nb_set(&s->nb, false);
        if (n >= 0) {
            *s->off = o;
            s->inline_run += (size_t)n;
            return n;
        }
        if (err != EAGAIN)
            return -err;
        s->inline_run = 0;
        int r = wait_writable(s->l, s->out);
        if (r < 0)
            return r;
    }
}

/* read + write through a buffer: what was written (the rest read is
 * dropped, *offset stays with what was sent), 0 at EOF, or -errno. */
static ssize_t copy(sender *s, size_t want)
{
    if (!s->buf && !(s->buf = malloc(COPY_BUF)))
        return -ENOMEM;
    ssize_t n = ringo_read(s->in, s->buf, want < COPY_BUF ? want : COPY_BUF, *s->off);
    if (n <= 0)
        return n;
    size_t done = 0;
    while (done < (size_t)n) {
        ssize_t w = s->kind == RINGO_SF_SOCK
                        ? ringo_send(s->out, s->buf + done, (size_t)n - done, 0)
                        : ringo_write(s->out, s->buf + done, (size_t)n - done, -1);
        if (w <= 0) {
            if (!done)
                return w ? w : -EIO;
            break;
        }
        done += (size_t)w;
        *s->off += w;
    }
    return (ssize_t)done;
}

/* One step: bytes sent (> 0), 0 at EOF, or -errno. */
static ssize_t step(sender *s, size_t want, bool *copying)
{
    if (!*copying) {
        ssize_t n = s->kind == RINGO_SF_PIPE       ? to_pipe(s, want)
                    : ringo__sendfile_splices(s->sl) ? via_pipe(s, want)
                                                     : direct(s, want);
        if (n == -EAGAIN && s->kind == RINGO_SF_SOCK && ringo__sendfile_splices(s->sl))
            return copy(s, want);   /* every pooled pipe busy: this step copies */
        if (n != -EINVAL)
            return n;
        *copying = true;   /* the file (or out_fd) refuses splicing: copy the rest */
    }
    return copy(s, want);
}

/* SIGPIPE blocked on this thread for the call: 0 if it was blocked before. */
static bool sigpipe_block(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    return pthread_sigmask(SIG_BLOCK, &set, old) == 0 && !sigismember(old, SIGPIPE);
}

static void sigpipe_restore(const sigset_t *old, bool blocked, bool epipe)
{
    if (!blocked)
        return;
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    /* Ours, or one raised by another task while we waited (it would have
     * been EPIPE to a writer that ignored it): taken back either way. */
    if (epipe && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
        struct timespec zero = { 0, 0 };
        (void)sigtimedwait(&set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

ssize_t ringo__sendfile(ringo_loop *l, int out_fd, enum ringo__sendfile_out kind, int in_fd,
                        int64_t *offset, size_t count)
{
    /* An offset means a file: a pipe's copy path would read from the pipe. */
    struct stat st;
    if (fstat(in_fd, &st) < 0)
        return -errno;
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
        return -ESPIPE;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    sender s = { .l = l, .out = out_fd, .in = in_fd, .kind = kind, .off = offset,
                 .nb = { .fd = out_fd, .fl = -1 }, .end = st.st_size };
    if (!(s.sl = ringo__sendfile_loop_get(l)))
        return -ENOMEM;
    sigset_t old;
    bool blocked = sigpipe_block(&old);
    /* On epoll a splice to a socket is a nonblocking call only on a
     * nonblocking socket (SPLICE_F_NONBLOCK covers the pipe's side). */
    if (kind == RINGO_SF_SOCK && ringo__is_epoll(l))
        nb_set(&s.nb, true);
    bool copying = kind == RINGO_SF_OTHER;
    size_t total = 0;
    ssize_t n = 0;
    while (total < count) {
        n = step(&s, count - total, &copying);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    nb_set(&s.nb, false);
    sigpipe_restore(&old, blocked, n == -EPIPE || n == -ECONNRESET);
    free(s.buf);
    return total ? (ssize_t)total : n;
}

ssize_t ringo_sendfile(int out_fd, int in_fd, int64_t *offset, size_t count)
{
    if (out_fd < 0 || in_fd < 0)
        return -EBADF;
    if (!offset || *offset < 0)
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    if (count == 0)
        return 0;
    if (count > (uint64_t)(INT64_MAX - *offset))
        count = (size_t)(INT64_MAX - *offset);
    struct stat st;
    if (fstat(out_fd, &st) < 0)
        return -errno;
    enum ringo__sendfile_out kind = S_ISSOCK(st.st_mode)   ? RINGO_SF_SOCK
                                    : S_ISFIFO(st.st_mode) ? RINGO_SF_PIPE
                                                           : RINGO_SF_OTHER;
    return ringo__sendfile(l, out_fd, kind, in_fd, offset, count);
}
