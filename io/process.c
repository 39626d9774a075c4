/* Subprocesses (asyncio's create_subprocess_exec/_shell and Process): spawn,
 * the pipes as streams, kill, free. Waiting is in process_wait.c,
 * communicate and run_command in command.c.
 *
 * posix_spawnp (glibc's is vfork-like: clone(CLONE_VM|CLONE_VFORK)) reports
 * an exec failure synchronously, so a missing program fails here with
 * -ENOENT. The pid is turned into a pidfd at once: no race with reaping,
 * since only we reap our own children, always through the pidfd, never with
 * waitpid(-1).
 *
 * stdin is a socketpair, not a pipe: the stream core writes pipes with
 * io_uring writes, and a write to a pipe whose reader has gone raises
 * SIGPIPE in the submitting thread (tested: the process dies), whatever the
 * ring's flags. On a socket the stream uses send(MSG_NOSIGNAL), so writing to
 * a child that exited is -EPIPE, and write_eof is shutdown(SHUT_WR). stdout
 * and stderr are pipes, as in asyncio. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/process.h"
#include "io/stream.h"

extern char **environ;

static bool env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* Child ends must not sit on 0-2: a dup2 onto one of those, done before
 * ours is read, would clobber it. */
static int above_stdio(int fd)
{
    if (fd < 0)
        return -errno;   /* from the call that made fd */
    if (fd > 2)
        return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int err = errno;
    close(fd);
    return nfd < 0 ? -err : nfd;
}

typedef struct stdio_fds {
    int parent[3];         /* our ends, -1 when not piped */
    int child[3];          /* what becomes the child's 0-2; -1: inherit */
    int devnull;
} stdio_fds;

static void fds_close(stdio_fds *f, bool parent_too)
{
    for (int i = 0; i < 3; i++) {
        if (parent_too && f->parent[i] >= 0) {
            close(f->parent[i]);
            f->parent[i] = -1;
        }
        if (f->child[i] >= 0 && f->child[i] != f->devnull)
            close(f->child[i]);
        f->child[i] = -1;
    }
    if (f->devnull >= 0)
        close(f->devnull);
    f->devnull = -1;
}

/* Make the descriptors for one of the child's 0-2. */
static int stdio_make(stdio_fds *f, int i, enum ringo_stdio how)
{
    int sv[2];
    switch (how) {
    case RINGO_INHERIT:
    case RINGO_STDOUT:      /* a dup2(1, 2) action, no descriptor */
        return 0;
    case RINGO_DEVNULL:
        if (f->devnull < 0) {
            f->devnull = above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC));
            if (f->devnull < 0)
                return f->devnull;
        }
        f->child[i] = f->devnull;
        return 0;
    case RINGO_PIPE:
        if (i == 0 ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0
                   : pipe2(sv, O_CLOEXEC) < 0)
            return -errno;
        /* pipe2: sv[0] reads (ours for stdout/stderr); the socketpair is
         * symmetric: sv[0] is ours for stdin. */
        f->parent[i] = sv[0];
        f->child[i] = above_stdio(sv[1]);
        return f->child[i] < 0 ? f->child[i] : 0;
    }
    return -EINVAL;
}

static int spawn_child(pid_t *pid, const char *const argv[], const ringo_process_opts *o,
                       const stdio_fds *f)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc)
        return -rc;
    if ((rc = posix_spawnattr_init(&attr))) {
        posix_spawn_file_actions_destroy(&fa);
        return -rc;
    }
    for (int i = 0; i < 3 && !rc; i++) {
        if (f->child[i] >= 0)
            rc = posix_spawn_file_actions_adddup2(&fa, f->child[i], i);
    }
    if (!rc && o->err == RINGO_STDOUT)
        rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);   /* after stdout's own dup2 */
    /* Our descriptors are close-on-exec, the user's may not be: the child
     * gets 0-2 and nothing else. */
    if (!rc)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (!rc && o->cwd)
        rc = posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
    /* The loop's thread may block signals (ringo_wait_signal) and the
     * program may ignore SIGPIPE; neither should leak into the child (as
     * Python's restore_signals). */
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGXFSZ);
    if (!rc)
        rc = posix_spawnattr_setsigmask(&attr, &none);
    if (!rc)
        rc = posix_spawnattr_setsigdefault(&attr, &def);
    if (!rc)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (!rc)
        rc = posix_spawnp(pid, argv[0], &fa, &attr, (char *const *)argv,
                          o->env ? (char *const *)o->env : environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return -rc;
}

static void process_at_close(ringo__closer *c, ringo_loop *l)
{
    ringo_process *p = (ringo_process *)((char *)c - offsetof(ringo_process, closer));
    if (l->debug)
        fprintf(stderr, "ringo: process %d was not freed; killing it\n", (int)p->pid);
    ringo__process_kill_reap(p);
    ringo_stream **slots[3] = { &p->in, &p->out, &p->err };
    for (int i = 0; i < 3; i++) {
        if (*slots[i])
            (void)ringo_stream_close(*slots[i]);   /* outside a task: never waits */
    }
    p->loop = NULL;
}

/* Streams for our ends; on failure the ones made are closed again. */
static int process_streams(ringo_process *p, stdio_fds *f)
{
    ringo_stream **slots[3] = { &p->in, &p->out, &p->err };
    int ret = 0;
    for (int i = 0; i < 3; i++) {
        int fd = f->parent[i];
        if (fd < 0)
            continue;
        f->parent[i] = -1;
        if (ret < 0)
            close(fd);
        else if ((ret = ringo__stream_new(slots[i], fd)) == 0)   /* owns fd, even failing */
            (*slots[i])->owner = slots[i];
    }
    if (ret < 0) {
        for (int i = 0; i < 3; i++) {
            if (*slots[i])
                (void)ringo_stream_close(*slots[i]);   /* nothing queued: no wait */
        }
    }
    return ret;
}

static bool opts_valid(const ringo_process_opts *o)
{
    return (unsigned)o->in <= RINGO_DEVNULL && (unsigned)o->out <= RINGO_DEVNULL &&
           (unsigned)o->err <= RINGO_STDOUT;
}

int ringo_process_spawn(ringo_process **out, const char *const argv[],
                        const ringo_process_opts *opts)
{
    static const ringo_process_opts inherit = { RINGO_INHERIT, RINGO_INHERIT, RINGO_INHERIT,
                                                NULL, NULL };
    const ringo_process_opts *o = opts ? opts : &inherit;
    if (!out || !argv || !argv[0] || !opts_valid(o))
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    ringo_process *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    stdio_fds f = { { -1, -1, -1 }, { -1, -1, -1 }, -1 };
    const enum ringo_stdio how[3] = { o->in, o->out, o->err };
    for (int i = 0; i < 3 && ret == 0; i++)
        ret = stdio_make(&f, i, how[i]);
    if (ret == 0)
        ret = spawn_child(&p->pid, argv, o, &f);
    fds_close(&f, ret < 0);   /* the child has its copies */
    if (ret < 0) {
        free(p);
        return ret;
    }
    p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);   /* close-on-exec by default */
    if (p->pidfd < 0) {
        ret = -errno;
        /* No pidfd (no memory, too many files): the pid is still ours. */
        kill(p->pid, SIGKILL);
        siginfo_t si;
        while (waitid(P_PID, (id_t)p->pid, &si, WEXITED) < 0 && errno == EINTR) {}
    } else {
        p->use_waitid = ringo__can(l, RINGO_CAP_WAITID) && !env_flag("RINGO_NO_WAITID");
        ret = process_streams(p, &f);
    }
    if (ret < 0) {
        fds_close(&f, true);
        if (p->pidfd >= 0) {
            ringo__process_kill_reap(p);
            close(p->pidfd);
        }
        free(p);
        return ret;
    }
    ringo__waitq_init(&p->waiters, "process wait", p);
    p->loop = l;
    p->closer.close = process_at_close;
    ringo__at_close(l, &p->closer);
    *out = p;
    return 0;
}

int ringo_process_shell(ringo_process **out, const char *cmd, const ringo_process_opts *opts)
{
    if (!cmd)
        return -EINVAL;
    const char *const argv[] = { "/bin/sh", "-c", cmd, NULL };
    return ringo_process_spawn(out, argv, opts);
}

ringo_stream *ringo_process_stdin(ringo_process *p) { return p ? p->in : NULL; }
ringo_stream *ringo_process_stdout(ringo_process *p) { return p ? p->out : NULL; }
ringo_stream *ringo_process_stderr(ringo_process *p) { return p ? p->err : NULL; }
pid_t ringo_process_pid(const ringo_process *p) { return p ? p->pid : -EINVAL; }

int ringo_process_kill(ringo_process *p, int sig)
{
    if (!p)
        return -EINVAL;
    if (p->exited)
        return -ESRCH;   /* ProcessLookupError */
    /* Through the pidfd: once reaped, the pid may be someone else's. */
    if (syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) < 0)
        return -errno;
    return 0;
}

void ringo_process_free(ringo_process *p)
{
    if (!p)
        return;
    if (p->reaping || !ringo__waitq_empty(&p->waiters)) {
        /* The wait op points into p: freeing now would be a use after free. */
        fprintf(stderr, "ringo: ringo_process_free: a task still waits on process %d; "
                        "not freed\n", (int)p->pid);
        return;
    }
    /* Kill first: then closing stdin cannot wait on a child that never reads. */
    ringo__process_kill_reap(p);
    ringo_stream **slots[3] = { &p->in, &p->out, &p->err };
    for (int i = 0; i < 3; i++) {
        ringo_stream *s = *slots[i];
        if (!s)
            continue;
        ringo__stream_send_cancel(s);   /* the reader is dead: drop what is queued */
        /* -EBUSY: a task still reads it, so it was not closed (other errors
         * are reports from a stream already freed); loop close sweeps it. */
        if (ringo_stream_close(s) == -EBUSY)
            s->owner = NULL;
    }
    close(p->pidfd);
    if (p->loop)
        rlist_del(&p->closer.link);
    free(p);
}
