/* File operations: each one operation of the loop's backend on the calling
 * task. Paths and the statx buffer may live on the task's stack: the call
 * returns only once the kernel (or the worker) is done with them.
 *
 * unlinkat, renameat and mkdirat came late to io_uring (5.11, 5.11, 5.15).
 * Where the kernel lacks them, or on the epoll backend, the plain syscall
 * runs on the worker pool instead, so a slow filesystem never stalls the
 * loop. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/backend.h"
#include "engine/pool.h"

int ringo_open(const char *path, int flags, mode_t mode)
{
    ringo_loop *l;
    if (!path)
        return -EINVAL;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    ringo__op op;
    /* A descriptor must never leak into a child that ringo or anyone spawns. */
    op.rq.io = (ringo__io){ .kind = RINGO_IO_OPEN, .p = (void *)path, .flags = flags | O_CLOEXEC,
                            .u = mode };
    ret = ringo__io_wait(l, &op);
    if (ret >= 0)
        ringo__fd_forget(l, ret);
    return ret;
}

int ringo_fsync(int fd, bool datasync)
{
    ringo_loop *l;
    if (fd < 0)
        return -EBADF;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    ringo__op op;
    op.rq.io = (ringo__io){ .kind = RINGO_IO_FSYNC, .fd = fd, .flags = datasync };
    return ringo__io_wait(l, &op);
}

int ringo_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *st)
{
    ringo_loop *l;
    if (!path || !st)
        return -EINVAL;
    if (dirfd < 0 && dirfd != AT_FDCWD)
        return -EBADF;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    ringo__op op;
    op.rq.io = (ringo__io){ .kind = RINGO_IO_STATX, .fd = dirfd, .p = (void *)path,
                            .flags = flags, .len = mask, .q = st };
    return ringo__io_wait(l, &op);
}

/* ---- path operations, with a syscall fallback ---------------------------- */

enum path_kind { P_UNLINK, P_RENAME, P_MKDIR };

struct path_job {
    struct ringo__job job;
    enum path_kind kind;
    const char *a, *b;
    mode_t mode;
    int res;
};

static void path_work(struct ringo__job *job)
{
    struct path_job *p = (struct path_job *)job;
    int rc = p->kind == P_UNLINK ? unlink(p->a)
           : p->kind == P_RENAME ? rename(p->a, p->b)
           : mkdir(p->a, p->mode);
    p->res = rc < 0 ? -errno : 0;
}

static int path_op(enum path_kind kind, const char *a, const char *b, mode_t mode)
{
    static const uint8_t kinds[] = {
        [P_UNLINK] = RINGO_IO_UNLINK,
        [P_RENAME] = RINGO_IO_RENAME,
        [P_MKDIR] = RINGO_IO_MKDIR,
    };
    ringo_loop *l;
    if (!a || (kind == P_RENAME && !b))
        return -EINVAL;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    if (RINGO_LIKELY(ringo__can(l, RINGO_CAP_PATHS))) {
        ringo__op op;
        op.rq.io = (ringo__io){ .kind = kinds[kind], .p = (void *)a, .q = (void *)b, .u = mode };
        return ringo__io_wait(l, &op);
    }
    struct path_job p = { .job.work = path_work, .job.what = ringo__io_kind_name(kinds[kind]),
                          .kind = kind, .a = a, .b = b, .mode = mode };
    ret = ringo__workers_run(l, &p.job);
    /* Interrupted, the syscall still ran to its end: report what it did (as
     * an op that completed before its cancel does); the task's next
     * suspending call returns -ECANCELED / -ETIMEDOUT. */
    if (ret == -ECANCELED || ret == -ETIMEDOUT)
        return p.res;
    return ret < 0 ? ret : p.res;
}

int ringo_unlink(const char *path) { return path_op(P_UNLINK, path, NULL, 0); }
int ringo_rename(const char *from, const char *to) { return path_op(P_RENAME, from, to, 0); }
int ringo_mkdir(const char *path, mode_t mode) { return path_op(P_MKDIR, path, NULL, mode); }
