/* A few pipes per loop for splicing files to sockets.
 *
 * splice(2) moves pages between a file and a socket only through a pipe.
 * A pipe per connection would hit the per-user pipe limits
 * (fs/pipe-user-pages-soft: some thousand default-sized pipes) and double
 * the descriptors, so a loop keeps at most POOL_MAX, made as first needed
 * and each held only while a splice pair runs. When all are in use the
 * caller copies instead of waiting: a peer that stops reading holds its
 * pipe, and must not stall every other send on the loop.
 *
 * A pipe that may hold bytes (an error or cancellation between the two
 * splices) is checked with FIONREAD and closed unless empty. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "io/sendfile.h"

#define POOL_MAX  4
#define PIPE_SIZE (1u << 20)   /* one splice moves a megabyte */

struct ringo__sendfile_loop {
    ringo__closer closer;
    ringo_loop *loop;
    bool splices;
    unsigned live;             /* pipes open, in use or free */
    unsigned nfree;
    ringo__pipe free[POOL_MAX];
};

static __thread ringo__sendfile_loop *tls_sl;

static void pipe_close(ringo_loop *l, ringo__pipe *p)
{
    ringo__fd_forget(l, p->rd);
    ringo__fd_forget(l, p->wr);
    close(p->rd);
    close(p->wr);
}

static void pool_close(ringo__closer *c, ringo_loop *l)
{
    ringo__sendfile_loop *sl = (ringo__sendfile_loop *)c;
    while (sl->nfree)
        pipe_close(l, &sl->free[--sl->nfree]);
    if (tls_sl == sl)
        tls_sl = NULL;
    free(sl);
}

/* The socket path: sendfile(2) on both backends. Measured with
 * bench/net/file_bench.py (a page-cached 1 MiB file, wrk -t1 -c16 as the
 * bottleneck, server CPU per request, median of 7 interleaved 3 s rounds,
 * kernel 6.18, 2 CPUs): io_uring, sendfile(2) 49 us, splice 261 us
 * (io_uring punts every splice to an io-wq worker: two thread hops per
 * chunk, and a worker blocked on the full socket); epoll, sendfile(2)
 * 54 us, splice 62 us (two system calls per chunk instead of one); nginx
 * 56 us. The splice path stays for RINGO_SENDFILE=splice, which the tests
 * run too (RINGO_SENDFILE=sendfile is the default, said outright). */
static bool pick_splice(void)
{
    const char *v = getenv("RINGO_SENDFILE");
    return v && strcmp(v, "splice") == 0;
}

ringo__sendfile_loop *ringo__sendfile_loop_get(ringo_loop *l)
{
    ringo__sendfile_loop *sl = tls_sl;
    if (RINGO_LIKELY(sl && sl->loop == l))
        return sl;
    sl = calloc(1, sizeof *sl);
    if (!sl)
        return NULL;
    sl->loop = l;
    sl->splices = pick_splice();
    sl->closer.close = pool_close;
    ringo__at_close(l, &sl->closer);
    tls_sl = sl;
    return sl;
}

bool ringo__sendfile_splices(const ringo__sendfile_loop *sl) { return sl->splices; }

int ringo__pipe_take(ringo__sendfile_loop *sl, ringo__pipe *p)
{
    if (sl->nfree) {
        *p = sl->free[--sl->nfree];
        return 0;
    }
    if (sl->live == POOL_MAX)
        return -EAGAIN;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    ringo__fd_forget(sl->loop, fds[0]);
    ringo__fd_forget(sl->loop, fds[1]);
    /* Refused past the user's pipe budget: the default size still works. */
    int size = fcntl(fds[1], F_SETPIPE_SZ, PIPE_SIZE);
    if (size < 0)
        size = fcntl(fds[1], F_GETPIPE_SZ);
    *p = (ringo__pipe){ .rd = fds[0], .wr = fds[1], .size = size > 0 ? (unsigned)size : 4096 };
    sl->live++;
    return 0;
}

void ringo__pipe_give(ringo__sendfile_loop *sl, ringo__pipe *p, bool known_empty)
{
    int held = 0;
    if (known_empty || (ioctl(p->rd, FIONREAD, &held) == 0 && held == 0)) {
        sl->free[sl->nfree++] = *p;
        return;
    }
    pipe_close(sl->loop, p);
    sl->live--;
}
