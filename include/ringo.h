/* ringo: asyncio for C, on io_uring with stackful coroutines.
 *
 * A task is a C function running on its own stack; any function it calls may
 * suspend it. The contract of every call is in the comment beside it; the
 * conventions hold throughout:
 *
 *  - Calls that can fail return >= 0 on success or a negative errno (never
 *    errno). Objects come back through an out-parameter, written only on
 *    success.
 *  - Times are int64_t nanoseconds on CLOCK_MONOTONIC.
 *  - Spawning and every suspending call need a running loop: outside one they
 *    return -EPERM.
 *  - A suspending call in a cancelled task returns -ECANCELED (sticky: every
 *    later one does too, so the task unwinds).
 *  - Bad arguments (NULL handles, NULL functions, negative sizes) return
 *    -EINVAL or -EBADF; they never crash.
 *  - Ownership: pointer arguments are borrowed (valid until the call returns)
 *    unless the comment says otherwise. Buffers passed to a suspending call
 *    may live on the task's stack: the call returns only after the kernel is
 *    done with them, also when it is cancelled.
 */
#ifndef RINGO_H
#define RINGO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RINGO_API __attribute__((visibility("default")))
#else
#define RINGO_API
#endif

#define RINGO_US(x)  ((int64_t)(x) * 1000)
#define RINGO_MS(x)  ((int64_t)(x) * 1000000)
#define RINGO_SEC(x) ((int64_t)(x) * 1000000000)

/* ---- Running [asyncio.run] --------------------------------------------- */

/* A task body: returns 0 or a negative errno. */
typedef int (*ringo_fn)(void *arg);

/* New loop on the calling thread; runs main(arg) as a task to completion,
 * then cancels and awaits every task still alive, and closes the loop.
 * Returns main's status, or a negative errno if the loop could not start:
 * -ENOSYS / -EPERM when io_uring is unavailable (one line on stderr says why
 * and what to check), -EBUSY when called from inside a running loop,
 * -EINVAL for a NULL main, -ENOMEM. */
RINGO_API int ringo_run(ringo_fn main, void *arg);

#define RINGO_CFG_SQPOLL 0x1u  /* kernel thread polls the SQ (falls back if refused) */
#define RINGO_CFG_DEBUG  0x2u  /* like RINGO_DEBUG=1 in the environment */

typedef struct ringo_config {
    unsigned entries;    /* SQ ring size, 0 = default (256); rounded up to a power of 2 */
    size_t stack_size;   /* task stack size in bytes, 0 = default (64 KiB) */
    unsigned flags;      /* RINGO_CFG_* */
} ringo_config;

/* ringo_run with settings; cfg may be NULL (defaults). -EINVAL for unknown
 * flags or an entries count the kernel cannot take. */
RINGO_API int ringo_run_config(const ringo_config *cfg, ringo_fn main, void *arg);

/* CLOCK_MONOTONIC in nanoseconds; works anywhere. */
RINGO_API int64_t ringo_now(void);

/* Debug mode (RINGO_DEBUG=1 or RINGO_CFG_DEBUG) warns on stderr about: a task
 * running over 100 ms without suspending; a task that failed and that nobody
 * awaited ("never retrieved"); tasks still alive when main returns. */

/* ---- Tasks [create_task, Task, sleep, cancel] -------------------------- */

typedef struct ringo_task ringo_task;

/* create_task: fn(arg) becomes runnable soon (after the caller suspends).
 * *out receives the caller's reference, to be released by exactly one of
 * ringo_await or ringo_detach. The task is named "Task-<n>". arg is passed
 * through untouched (ownership is between caller and fn). A task cancelled
 * before it first runs never runs (status -ECANCELED), as in asyncio.
 * -EINVAL (NULL out or fn), -EPERM (no running loop), -ENOMEM. */
RINGO_API int ringo_spawn(ringo_task **out, ringo_fn fn, void *arg);

/* ringo_spawn with a name (copied); NULL name = default name. */
RINGO_API int ringo_spawn_named(ringo_task **out, const char *name, ringo_fn fn, void *arg);

/* Wait for t to finish and release the caller's reference; returns t's
 * status (0, a negative errno, or -ECANCELED). If the caller is cancelled
 * while waiting, t is cancelled too (as awaiting a task does in asyncio); the
 * call still waits until t has finished, then returns -ECANCELED.
 * -EINVAL: NULL, or a handle already awaited or detached (detected while its
 * slot has not been reused). -EDEADLK: t is the caller. -EPERM: no loop. */
RINGO_API int ringo_await(ringo_task *t);

/* Release the caller's reference without waiting; t runs on. NULL or an
 * already released handle is ignored. */
RINGO_API void ringo_detach(ringo_task *t);

/* Request cancellation, delivered at t's next suspension point. 0, or
 * -EALREADY if t has finished, -EINVAL for NULL or a released handle. */
RINGO_API int ringo_cancel(ringo_task *t);

RINGO_API bool ringo_task_done(const ringo_task *t);   /* false for NULL */
RINGO_API const char *ringo_task_name(const ringo_task *t); /* NULL for NULL; borrowed */

/* The running task, NULL outside one. The pointer is not a reference. */
RINGO_API ringo_task *ringo_self(void);

/* sleep(0): let every other ready task run once. 0 or -ECANCELED. */
RINGO_API int ringo_yield(void);

/* Sleep ns nanoseconds (<= 0: same as ringo_yield). 0, or -ECANCELED. */
RINGO_API int ringo_sleep(int64_t ns);

/* ---- Operations on descriptors (each one io_uring operation) ----------- */

/* Read up to n bytes at offset off (-1: the file position, as read(2)).
 * Returns bytes read (0 at EOF) or -errno. Cancellable: if cancelled while
 * in flight, the read is cancelled in the kernel and the call returns
 * -ECANCELED after the kernel is done with buf; if the read had already
 * completed, its result is returned (nothing read is lost) and the next
 * suspending call returns -ECANCELED. */
RINGO_API ssize_t ringo_read(int fd, void *buf, size_t n, int64_t off);

/* Write up to n bytes at offset off (-1: the file position). Bytes written
 * (short writes are returned as they are) or -errno; cancellable as ringo_read. */
RINGO_API ssize_t ringo_write(int fd, const void *buf, size_t n, int64_t off);

/* One IORING_OP_NOP through the ring: submit, complete, resume. A ring round
 * trip with no I/O, for measuring the engine. 0 or -ECANCELED. */
RINGO_API int ringo_nop(void);

#ifdef __cplusplus
}
#endif

#endif
