/* File operations: each one io_uring operation on the calling task. Paths
 * and the statx buffer may live on the task's stack: the call returns only
 * after the op's CQE, when the kernel is done with them.
 *
 * unlinkat, renameat and mkdirat came late to io_uring (5.11, 5.11, 5.15).
 * Where the probe says the kernel lacks one, the plain syscall runs on the
 * worker pool instead, so a slow filesystem never stalls the loop. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/internal.h"
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
    struct io_uring_sqe *sqe = ringo__sqe(l);
    /* A descriptor must never leak into a child that ringo or anyone spawns. */
    io_uring_prep_openat(sqe, AT_FDCWD, path, flags | O_CLOEXEC, mode);
    ret = ringo__op_wait(l, &op, sqe);
    if (ret >= 0)
        ringo__offload_forget(l, ret);
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
    struct io_uring_sqe *sqe = ringo__sqe(l);
    io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
    return ringo__op_wait(l, &op, sqe);
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
    struct io_uring_sqe *sqe = ringo__sqe(l);
    io_uring_prep_statx(sqe, dirfd, path, flags, mask, st);
    return ringo__op_wait(l, &op, sqe);
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
    static const unsigned ops[] = {
        [P_UNLINK] = IORING_OP_UNLINKAT,
        [P_RENAME] = IORING_OP_RENAMEAT,
        [P_MKDIR] = IORING_OP_MKDIRAT,
    };
    ringo_loop *l;
    if (!a || (kind == P_RENAME && !b))
        return -EINVAL;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    if (RINGO_LIKELY(ringo__has_op(l, ops[kind]))) {
        ringo__op op;
        struct io_uring_sqe *sqe = ringo__sqe(l);
        if (kind == P_UNLINK)
            io_uring_prep_unlinkat(sqe, AT_FDCWD, a, 0);
        else if (kind == P_RENAME)
            io_uring_prep_renameat(sqe, AT_FDCWD, a, AT_FDCWD, b, 0);
        else
            io_uring_prep_mkdirat(sqe, AT_FDCWD, a, mode);
        return ringo__op_wait(l, &op, sqe);
    }
    struct path_job p = { .job.work = path_work, .kind = kind, .a = a, .b = b, .mode = mode };
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
