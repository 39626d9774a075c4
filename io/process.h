/* io/: subprocesses, private interface between spawning (process.c), waiting
 * (process_wait.c) and communicate / run_command (command.c). */
#ifndef RINGO_IO_PROCESS_H
#define RINGO_IO_PROCESS_H

#include <signal.h>
#include <sys/types.h>

#include "engine/backend.h"
#include "engine/waitq.h"

struct ringo_process {
    pid_t pid;
    int pidfd;             /* ours alone: signals and waits never hit a reused pid */
    bool exited;           /* reaped: returncode (or reap_err) is final */
    bool reaping;          /* a task has the wait op in flight; others queue on waiters */
    bool use_waitid;       /* IORING_OP_WAITID, else POLL_ADD on the pidfd + waitid(WNOHANG) */
    int returncode;        /* asyncio's: exit code, or -N for signal N */
    int reap_err;          /* -ECHILD when somebody else reaped the child */
    /* The parent ends, NULL unless piped; a stream closed by the user clears
     * its slot itself (ringo_stream.owner). */
    ringo_stream *in, *out, *err;
    ringo__waitq waiters;  /* tasks waiting while another one reaps */
    ringo__closer closer;  /* loop close: kill and reap a child nobody freed */
    ringo_loop *loop;      /* NULL once the loop has closed */
};

/* process_wait.c */
/* Reap now with waitid(2) on the pidfd: blocking (after SIGKILL, in free and
 * at loop close) or WNOHANG. 0 once reaped (p->exited), -EAGAIN if still
 * running, or -errno. */
int ringo__process_reap(ringo_process *p, bool block);
/* Kill (SIGKILL) and reap a child still running; no zombie is left. */
void ringo__process_kill_reap(ringo_process *p);

#endif
