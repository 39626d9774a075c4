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
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

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
#define RINGO_CFG_EPOLL  0x4u  /* use the epoll backend even where io_uring works */
/* A TCP stream's sends of RINGO_SEND_ZC_MIN bytes or more (what is queued
 * when a send starts, one write or several) go out as zero-copy sends
 * (IORING_OP_SEND_ZC, where the kernel has it; a plain send elsewhere and on
 * epoll); the stream keeps those bytes until the kernel lets them go, so
 * nothing changes for the caller. Off by default: it pays only where the
 * NIC does the copy, never on loopback (bench/: the stream_write rows).
 * RINGO_SEND_ZC=1 in the environment sets it too. */
#define RINGO_CFG_SEND_ZC 0x8u
#define RINGO_SEND_ZC_MIN ((size_t)16 * 1024)

typedef struct ringo_config {
    unsigned entries;    /* SQ ring size, 0 = default (256); rounded up to a power of 2 */
    size_t stack_size;   /* task stack size in bytes, 0 = default (64 KiB) */
    unsigned flags;      /* RINGO_CFG_* */
    /* How long a loop with nothing to do spins, waiting for a message from
     * another loop or thread, before it sleeps in the kernel (a sleeping
     * CPU can take tens of microseconds to wake); only a loop that received
     * messages since it last slept spins. 0 = default: 50 us in a
     * ringo_run_loops of 2 or more loops and no more loops than CPUs, else
     * none; < 0 = never. The same setting bounds the spin of a loop whose
     * only wait is one ringo_to_thread job, and of a worker that just
     * finished one, for the next (default there: 50 us in any run), and,
     * capped at 10 us, of a loop whose next timer is due that soon (a
     * sleep in the kernel costs more CPU than that, and wakes late). */
    int64_t idle_spin_ns;
} ringo_config;

/* ringo_run with settings; cfg may be NULL (defaults). -EINVAL for unknown
 * flags or an entries count the kernel cannot take. */
RINGO_API int ringo_run_config(const ringo_config *cfg, ringo_fn main, void *arg);

/* The backend of the calling thread's loop: "io_uring" or "epoll"; NULL
 * outside a loop. RINGO_BACKEND=auto (the default), io_uring or epoll in the
 * environment chooses it: auto takes io_uring and falls back on epoll where
 * io_uring_setup is refused (EPERM, ENOSYS, EACCES: a container's seccomp
 * profile, kernel.io_uring_disabled, an old kernel), with a note under
 * RINGO_DEBUG; io_uring where it is refused makes ringo_run fail as before.
 * Every call behaves the same on both. */
RINGO_API const char *ringo_backend(void);

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

/* A handle is released once ringo_await (or gather, wait_for, shield) has
 * returned for it or ringo_detach was called on it. Every call that takes a
 * handle treats a released one as it treats NULL: ringo_await, ringo_cancel
 * and the other int-returning calls return -EINVAL (detected while its slot
 * has not been reused), ringo_task_done returns false, ringo_task_name NULL,
 * ringo_detach ignores it. The running task may always pass itself
 * (ringo_self()) to ringo_cancel and ringo_task_name, detached or not. */

/* Request cancellation, delivered at t's next suspension point. 0, or
 * -EALREADY if t has finished, -EINVAL for NULL or a released handle. */
RINGO_API int ringo_cancel(ringo_task *t);

RINGO_API bool ringo_task_done(const ringo_task *t);   /* false for NULL or released */
RINGO_API const char *ringo_task_name(const ringo_task *t); /* NULL for NULL or released; borrowed */

/* The running task, NULL outside one. The pointer is not a reference. */
RINGO_API ringo_task *ringo_self(void);

/* sleep(0): let every other ready task run once. 0 or -ECANCELED. */
RINGO_API int ringo_yield(void);

/* Sleep ns nanoseconds (<= 0: same as ringo_yield). 0, or -ECANCELED;
 * -ETIMEDOUT if the task's deadline comes first (the sleep ends then).
 * Every timer-driven wake-up (sleeps, deadlines, wait/wait_for timeouts,
 * ops cut by their deadline) happens in deadline order, ties in the order
 * they were started, however late the loop runs (asyncio's rule). */
RINGO_API int ringo_sleep(int64_t ns);

/* asyncio.all_tasks(), as text (and what Go's SIGQUIT dump gives): write one
 * line per live task of the calling loop, or of every loop of the run when
 * every_loop, to fd; returns how many tasks were listed. Must be called
 * from a task; works in a cancelled one too (it does not count as a
 * suspension point). A line reads
 *
 *   loop 1 task 7 "db-3" suspended for 120.4 ms, cancelled: recv fd 7
 *
 * that is: "loop <index> task <id> "<name>" <state>", state being
 * running, ready or suspended; then for a suspended task " for <ms> ms"
 * (since it suspended, as of the loop's clock at its latest step: it may
 * read high by the time tasks ran since, microseconds on a healthy loop);
 * ", cancelled" once cancellation was requested; under debug mode
 * ", spawned at <symbol>+0x<off> (<object>)" or "<object>+0x<off>" (the
 * return address of the ringo_spawn, ringo_spawn_named or
 * ringo_group_spawn call, found with dladdr: give the object's offset to
 * addr2line); and for a suspended task ": <what it waits on>", in words:
 * "recv fd 7", "sleep 80.0 ms left", "await task \"db-3\"", "lock 0x...",
 * "queue get 0x...", "event 0x...", "channel recv 0x...", "signal 10",
 * "worker thread: to_thread", "stream read fd 9", ... Names are quoted with
 * '"' and '\\' escaped and control bytes as \xNN, so a line is one line.
 * The calling loop's lines come first, then each other loop's as it
 * answers: each loop lists its own tasks on its own thread, asked through
 * its inbox, so the call waits (uninterruptibly) for every other loop to
 * take a step; a loop that has begun closing is left out. Written with
 * write(2) from the calling thread, blocking while fd does (a dump is a
 * diagnostic); a reader gone away gives -EPIPE, not SIGPIPE.
 * -EPERM outside a task, -EBADF if fd is not open for writing, -ENOMEM, or
 * write's error (the lines before it were written).
 *
 * In debug mode SIGUSR1 writes this dump of every loop to stderr, unless
 * the program handles SIGUSR1 itself. The rule: the first debug loop to
 * open installs the handler only if SIGUSR1's disposition is then SIG_DFL;
 * the last debug loop to close puts SIG_DFL back only if the handler is
 * still ringo's. A program that installs its own handler (before or after),
 * that ignores the signal, or that waits for it with ringo_wait_signal
 * (which blocks it) keeps it to itself. The signal must reach a loop's
 * thread (the engine's own threads block every signal): other threads of
 * the program that leave it unblocked may take it without waking a loop.
 * The handler only raises a flag; the dump is written by a task named
 * "ringo-dump" that the loop starts after its current pass. */
RINGO_API int ringo_dump_tasks(int fd, bool every_loop);

/* ---- Waiting on many [gather, wait, wait_for, shield, TaskGroup, timeout] */

/* Await all n tasks (n == 0 is fine). statuses (optional, n entries) gets
 * each task's status, like return_exceptions=True. Returns 0 if all
 * succeeded, else the first failure in index order. If the caller is
 * cancelled (or reaches its deadline), every task is cancelled and awaited,
 * then -ECANCELED (-ETIMEDOUT). Releases every reference, also on error.
 * -EINVAL: NULL tasks with n > 0, or a NULL/released handle among them (the
 * valid ones are still awaited). */
RINGO_API int ringo_gather(ringo_task **tasks, size_t n, int *statuses);

enum ringo_when { RINGO_ALL_COMPLETED, RINGO_FIRST_COMPLETED, RINGO_FIRST_EXCEPTION };

/* Wait until `when` holds for the n tasks, or timeout_ns passes (< 0: no
 * timeout); returns how many are done then. Cancels nothing and releases
 * nothing: check ringo_task_done, then await or cancel. FIRST_EXCEPTION
 * returns when any task fails (status < 0), else when all are done.
 * -ECANCELED / -ETIMEDOUT (task deadline) when the caller is interrupted;
 * -EINVAL for bad arguments. */
RINGO_API int ringo_wait(ringo_task **tasks, size_t n, enum ringo_when when, int64_t timeout_ns);

/* Await t with a timeout (< 0: none): on expiry t is cancelled and awaited
 * until it has really finished, then -ETIMEDOUT, unless t finished with a
 * result by then (a task finishing at the same instant keeps its result).
 * Releases the reference. Cancelling the caller cancels t as ringo_await. */
RINGO_API int ringo_wait_for(ringo_task *t, int64_t timeout_ns);

/* Await t, but cancelling the caller does not cancel t: a cancellation (or
 * the caller's deadline) arriving while the caller waits here returns
 * -ECANCELED (-ETIMEDOUT) at once and t runs on, detached. A caller whose
 * cancellation was already delivered (or that is already past its deadline)
 * is unwinding: it waits for t, uninterruptibly, and gets t's status, so
 * cleanup I/O done in a shielded child completes before the caller returns
 * (asyncio's `except CancelledError: await shield(cleanup())`). The caller
 * stays cancelled afterwards. Releases the reference. */
RINGO_API int ringo_shield(ringo_task *t);

/* asyncio.TaskGroup: tasks spawned into the group are awaited together; the
 * first failure cancels the others. */
typedef struct ringo_group ringo_group;
RINGO_API int ringo_group_new(ringo_group **out);   /* -EINVAL, -ENOMEM */
/* Spawn fn(arg) in g. -EINVAL (NULL), -ENOMEM, -EPERM (no loop),
 * -ECANCELED when the group is already failing (fn does not run). */
RINGO_API int ringo_group_spawn(ringo_group *g, ringo_fn fn, void *arg);
/* Await every task of g (also those spawned while waiting); the first
 * failure (status < 0) cancels the rest and is returned; 0 if all succeeded.
 * If the caller is cancelled, all are cancelled and awaited, then
 * -ECANCELED. Frees g in every case. */
RINGO_API int ringo_group_wait(ringo_group *g);

/* asyncio.timeout: set the running task's deadline to abs_ns (ringo_now() +
 * x; INT64_MAX = none) and return the previous one, to be restored with
 * another call. Past the deadline every suspending call returns -ETIMEDOUT:
 * an op in flight is cancelled through an IORING_OP_LINK_TIMEOUT, a wait on a
 * primitive or a task is interrupted (an awaited task is cancelled and
 * waited for). The value is taken as given: to nest, pass the smaller of
 * yours and the enclosing one. -EPERM outside a task, -EINVAL if negative. */
RINGO_API int64_t ringo_deadline(int64_t abs_ns);

/* ---- Many loops [thread-per-core: Seastar's smp, monoio's executors] ---- */

typedef struct ringo_loop ringo_loop;

/* n loops (0: one per CPU of the process's affinity mask), loop i on a thread
 * of its own pinned to CPU (i mod k) of the k CPUs in that mask, its ring
 * created on that thread. Every loop runs main(arg) as its first task
 * (ringo_loop_index() tells them apart); every loop exists before any main
 * starts. The mains are one group: the first to fail (a negative status
 * other than -ECANCELED) cancels the mains of the other loops. Returns when
 * every loop has finished as ringo_run does (main returned, leftovers
 * cancelled and awaited, loop closed): 0 or that first failure, or -errno if
 * a loop could not start (then no main runs). More loops than CPUs work.
 * The calling thread blocks every signal while the loops run, so that
 * process-directed signals reach the loops' threads. -EINVAL (NULL main,
 * bad cfg), -EBUSY inside a loop, -ENOMEM, -EAGAIN (no thread). */
RINGO_API int ringo_run_loops(const ringo_config *cfg, unsigned n, ringo_fn main, void *arg);
RINGO_API unsigned    ringo_loop_index(void);        /* 0..n-1; 0 under ringo_run or outside */
RINGO_API unsigned    ringo_loop_count(void);        /* n; 1 under ringo_run; 0 outside a loop */
RINGO_API ringo_loop *ringo_loop_current(void);      /* NULL outside a loop */
RINGO_API ringo_loop *ringo_loop_at(unsigned index); /* a loop of the current run, else NULL */
/* A ringo_loop * stays valid until the ringo_run / ringo_run_loops call that
 * made it returns. From the moment a loop starts closing (its main has
 * returned), the calls below that target it return -ESHUTDOWN. */

/* create_task on loop l (the caller's own, or another of the run). The
 * handle is used from the caller's loop as a local one: ringo_await,
 * ringo_cancel, ringo_gather, ringo_wait, ringo_wait_for, ringo_shield,
 * ringo_detach, ringo_task_done and ringo_task_name accept it. Cancelling it
 * cancels the task on its own loop (an io_uring op in flight is cancelled on
 * that loop's ring). -EINVAL (NULL), -EPERM (no running loop), -ESHUTDOWN,
 * -ENOMEM. */
RINGO_API int ringo_spawn_on(ringo_loop *l, ringo_task **out, ringo_fn fn, void *arg);

/* loop.call_soon_threadsafe, from ANY thread (also one that runs no loop):
 * fn(arg) runs soon as a detached task on l. Never blocks. 0, -EINVAL,
 * -ESHUTDOWN, -ENOMEM. A call that returned 0 always runs, even if l starts
 * closing right after (then in a task already cancelled); calls made by one
 * thread start in the order they were made. */
RINGO_API int ringo_call_soon_threadsafe(ringo_loop *l, ringo_fn fn, void *arg);
/* run_coroutine_threadsafe(...).result(), from a thread that runs no loop:
 * blocks it until fn(arg) has run as a task on l; returns fn's status
 * (-ECANCELED if l closed before fn could start). -EDEADLK on a loop's
 * thread, -EINVAL, -ESHUTDOWN, -ENOMEM. */
RINGO_API int ringo_run_threadsafe(ringo_loop *l, ringo_fn fn, void *arg);

/* A bounded FIFO of void * items (borrowed) between loops and threads.
 * Waiting senders and receivers are served in the order they started
 * waiting, whatever loop they are on; a wait returns -ECANCELED /
 * -ETIMEDOUT when interrupted (an item handed over before that is kept: the
 * send counts, the receive returns it). */
typedef struct ringo_chan ringo_chan;
RINGO_API int  ringo_chan_new(ringo_chan **out, size_t capacity);  /* capacity >= 1 */
RINGO_API int  ringo_chan_send(ringo_chan *c, void *item);  /* waits while full; -EPIPE closed */
RINGO_API int  ringo_chan_recv(ringo_chan *c, void **item); /* waits while empty; -EPIPE once
                                                               closed and drained */
/* From any thread: -EAGAIN when full / empty, -EPIPE as above. */
RINGO_API int  ringo_chan_try_send(ringo_chan *c, void *item);
RINGO_API int  ringo_chan_try_recv(ringo_chan *c, void **item);
/* Wakes every waiter (senders get -EPIPE); sent items stay receivable. */
RINGO_API void ringo_chan_close(ringo_chan *c);
RINGO_API void ringo_chan_free(ringo_chan *c);   /* once no task or thread can touch it */

/* ---- Synchronization [Lock, Event, Semaphore, Condition, Queue] ----------
 * Waits are FIFO-fair, return -ECANCELED when cancelled (holding nothing
 * then) and -ETIMEDOUT past the task's deadline. Constructors work anywhere;
 * waiting needs a task (-EPERM). Freeing a primitive that has waiters is
 * refused with a message on stderr (the waiters would never wake): the
 * _free call then does nothing.
 *
 * Each primitive belongs to one loop: the loop of the first task that makes
 * an int-returning call on it (constructors excepted). From then on such a
 * call from a task of another loop returns -EXDEV, before any other check,
 * and the primitive lives and dies with that loop's run: use a new one in
 * the next run. ringo_event_set and ringo_event_clear are the exception:
 * any loop or thread may call them; they do not bind the event and take
 * effect on its loop soon (a waiter there wakes), not necessarily before
 * they return. Waiting on an event is never taken for a deadlock, since
 * another thread may set it. */

typedef struct ringo_lock ringo_lock;
RINGO_API int  ringo_lock_new(ringo_lock **out);
/* -EDEADLK if the caller already holds it (it would wait forever). */
RINGO_API int  ringo_lock_acquire(ringo_lock *l);
/* -EPERM if not held; as in asyncio, another task than the holder may
 * release it. A release with waiters hands the lock to the first one. */
RINGO_API int  ringo_lock_release(ringo_lock *l);
RINGO_API void ringo_lock_free(ringo_lock *l);

typedef struct ringo_event ringo_event;
RINGO_API int  ringo_event_new(ringo_event **out);
RINGO_API void ringo_event_set(ringo_event *e);     /* wakes every waiter */
RINGO_API void ringo_event_clear(ringo_event *e);
RINGO_API bool ringo_event_is_set(const ringo_event *e);
RINGO_API int  ringo_event_wait(ringo_event *e);    /* 0 at once if set */
RINGO_API void ringo_event_free(ringo_event *e);

typedef struct ringo_sem ringo_sem;
RINGO_API int  ringo_sem_new(ringo_sem **out, unsigned value);
RINGO_API int  ringo_sem_acquire(ringo_sem *s);
RINGO_API int  ringo_sem_release(ringo_sem *s);     /* -EOVERFLOW past UINT_MAX */
RINGO_API void ringo_sem_free(ringo_sem *s);
/* asyncio.BoundedSemaphore: a release that would raise the free permits
 * (counting those handed to woken waiters that have not run yet) past value
 * returns -EOVERFLOW and changes nothing (asyncio raises ValueError). */
RINGO_API int  ringo_sem_new_bounded(ringo_sem **out, unsigned value);

typedef struct ringo_cond ringo_cond;
RINGO_API int  ringo_cond_new(ringo_cond **out, ringo_lock *l);   /* l borrowed, outlives c */
/* Release l, wait for a notify, re-acquire l (also when cancelled or timed
 * out, before returning -ECANCELED / -ETIMEDOUT). -EPERM if l is not held. */
RINGO_API int  ringo_cond_wait(ringo_cond *c);
RINGO_API void ringo_cond_notify(ringo_cond *c, unsigned n);
RINGO_API void ringo_cond_notify_all(ringo_cond *c);
RINGO_API void ringo_cond_free(ringo_cond *c);

typedef struct ringo_queue ringo_queue;   /* FIFO of void * items (borrowed pointers) */
RINGO_API int  ringo_queue_new(ringo_queue **out, size_t maxsize);   /* 0 = unbounded */
RINGO_API int  ringo_queue_put(ringo_queue *q, void *item);          /* waits while full */
RINGO_API int  ringo_queue_get(ringo_queue *q, void **item);         /* waits while empty */
RINGO_API int  ringo_queue_put_nowait(ringo_queue *q, void *item);   /* -EAGAIN when full */
RINGO_API int  ringo_queue_get_nowait(ringo_queue *q, void **item);  /* -EAGAIN when empty */
/* Items in the queue, counting those already promised to a woken getter
 * that has not run yet (as asyncio's qsize). */
RINGO_API size_t ringo_queue_size(const ringo_queue *q);
RINGO_API void ringo_queue_task_done(ringo_queue *q);  /* one per item got */
RINGO_API int  ringo_queue_join(ringo_queue *q);       /* until every item is done */
RINGO_API void ringo_queue_free(ringo_queue *q);

/* asyncio.LifoQueue and asyncio.PriorityQueue: the same calls, waiting,
 * cancellation, size, task_done and join as the FIFO queue; only the order
 * items come out in differs. LIFO: the newest item first. Priority: the item
 * that cmp puts first (cmp(a, b) < 0: a comes first; cmp gets the items
 * themselves), equal ones in the order they were put. cmp must be consistent
 * and must not call back into the queue. */
typedef int (*ringo_cmp_fn)(const void *a, const void *b);   /* < 0: a comes first */
RINGO_API int  ringo_queue_new_lifo(ringo_queue **out, size_t maxsize);
RINGO_API int  ringo_queue_new_priority(ringo_queue **out, size_t maxsize, ringo_cmp_fn cmp);
/* Queue.shutdown (Python 3.13), on any kind of queue. From then on put and
 * put_nowait return -EPIPE, and putters waiting for room wake with -EPIPE;
 * get and get_nowait return the items left, then -EPIPE once none is left
 * to take (an item promised to a woken getter is that getter's), and
 * getters waiting on the empty queue wake with -EPIPE. immediate: the items
 * still queued (those promised to woken getters too) are dropped and counted
 * as done for join (items already got still need task_done), so getters get
 * -EPIPE at once. A second call may turn a plain shutdown into an immediate
 * one. Like task_done, it does not bind the queue: call it on the queue's
 * loop. */
RINGO_API void ringo_queue_shutdown(ringo_queue *q, bool immediate);

/* asyncio.Barrier: parties tasks meet. A wait returns when the last of them
 * arrives: the arrival index 0..parties-1 (the last arrival gets
 * parties-1 and does not suspend), then the barrier is ready for the next
 * round. -EPIPE when broken (BrokenBarrierError): by ringo_barrier_abort,
 * or by ringo_barrier_reset for those waiting then. As in CPython, a waiter
 * cancelled (or past its deadline) before the barrier fills leaves it
 * (-ECANCELED / -ETIMEDOUT) and the others wait on for one more arrival; one
 * cancelled after the last arrival released it gets -ECANCELED and the
 * round stands for the others. Indices are positions among the tasks that
 * made the round, so they never repeat. -EINVAL: parties == 0. */
typedef struct ringo_barrier ringo_barrier;
RINGO_API int  ringo_barrier_new(ringo_barrier **out, unsigned parties);
RINGO_API int  ringo_barrier_wait(ringo_barrier *b);
RINGO_API void ringo_barrier_abort(ringo_barrier *b);  /* every waiter, and every wait
                                                          until a reset, gets -EPIPE */
RINGO_API void ringo_barrier_reset(ringo_barrier *b);  /* waiters get -EPIPE; b is
                                                          usable again (not broken) */
RINGO_API void ringo_barrier_free(ringo_barrier *b);

/* ---- Completion order and futures [as_completed, Future] ----------------- */

/* asyncio.as_completed over n tasks the caller holds (a task of another loop
 * too, as for ringo_wait). A task given twice is watched once, as asyncio
 * makes a set of them. The completions watch; they hold no reference: do
 * not await or release a task before _next returned it. -EPERM outside a
 * task, -EINVAL (NULL, n == 0 or a handle not held), -ENOMEM. */
typedef struct ringo_completions ringo_completions;
RINGO_API int  ringo_as_completed_new(ringo_completions **out, ringo_task **tasks, size_t n);
/* The next task to finish, in finishing order (those done already first, in
 * the order given): *done gets it, and the caller awaits or detaches it.
 * timeout_ns < 0: no timeout, 0: do not wait. -ENOENT once every task was
 * returned; -ETIMEDOUT when the timeout (or the task's deadline) passes
 * first: nothing is cancelled, a later call may still return the task;
 * -ECANCELED; -EXDEV from another loop than _new's; -EBUSY while another
 * task waits in _next on c. */
RINGO_API int  ringo_as_completed_next(ringo_completions *c, int64_t timeout_ns,
                                       ringo_task **done);
RINGO_API void ringo_as_completed_free(ringo_completions *c);  /* refused while a
                                                                  task waits in _next */

/* A result set once, from any thread (a foreign library's callback thread,
 * another loop, a task), awaited by any number of tasks on any loops. */
typedef struct ringo_future ringo_future;
RINGO_API int  ringo_future_new(ringo_future **out);
/* Any thread: store status and value (borrowed pointer, passed on as is) and
 * wake every waiter. Never blocks on a loop. -EALREADY if already set (the
 * first result stays), -EINVAL. */
RINGO_API int  ringo_future_set(ringo_future *f, int status, void *value);
/* A task: suspend until f is set (at once if it is), then return the status
 * set and store the value in *value (value may be NULL). A wait cancelled or
 * past the task's deadline returns -ECANCELED / -ETIMEDOUT and leaves f as
 * it is (unset, unlike asyncio's Future, whose cancelled await cancels it).
 * -EPERM outside a task, -EINVAL. Not a deadlock: another thread may set f. */
RINGO_API int  ringo_future_wait(ringo_future *f, void **value);
RINGO_API bool ringo_future_done(const ringo_future *f);
/* Once no thread can call _set or _wait on f; refused with a message while
 * tasks wait on it. */
RINGO_API void ringo_future_free(ringo_future *f);

/* ---- Threads [to_thread] ------------------------------------------------ */

/* Run fn(arg) on the engine's worker pool (threads that block every signal;
 * the pool grows to a bound and idles down), suspend the caller, return fn's
 * status. The caller is resumed through the ring, never by polling. If the
 * caller is cancelled, fn still runs to its end (arg must stay valid); then
 * -ECANCELED. -EINVAL (NULL fn), -EPERM (no loop), -EAGAIN (no thread could
 * be started). */
RINGO_API int ringo_to_thread(ringo_fn fn, void *arg);

/* ---- Operations on descriptors (each one io_uring operation) ----------- */

/* Read up to n bytes at offset off (-1: the file position, as read(2)).
 * Returns bytes read (0 at EOF) or -errno. Cancellable: if cancelled while
 * in flight, the read is cancelled in the kernel and the call returns
 * -ECANCELED after the kernel is done with buf; if the read had already
 * completed, its result is returned (nothing read is lost) and the next
 * suspending call returns -ECANCELED. When several tasks read regular files
 * at offsets at once, some of those reads are copied from the page cache by
 * an io_uring kernel worker on another CPU while the loop's thread copies
 * the rest (RINGO_NO_READ_OFFLOAD=1 in the environment keeps them all on the
 * loop's thread); the result is the same either way. */
RINGO_API ssize_t ringo_read(int fd, void *buf, size_t n, int64_t off);

/* Write up to n bytes at offset off (-1: the file position). Bytes written
 * (short writes are returned as they are) or -errno; cancellable as ringo_read. */
RINGO_API ssize_t ringo_write(int fd, const void *buf, size_t n, int64_t off);

/* Scatter/gather forms of ringo_read / ringo_write. iov and the buffers it
 * points to are borrowed until the call returns. cnt in [0, IOV_MAX]. */
RINGO_API ssize_t ringo_readv(int fd, const struct iovec *iov, int cnt, int64_t off);
RINGO_API ssize_t ringo_writev(int fd, const struct iovec *iov, int cnt, int64_t off);

/* recv(2) / send(2) as io_uring ops. ringo_send always adds MSG_NOSIGNAL: a
 * peer that went away gives -EPIPE or -ECONNRESET, never SIGPIPE. Short
 * transfers are returned as they are. */
RINGO_API ssize_t ringo_recv(int fd, void *buf, size_t n, int flags);
RINGO_API ssize_t ringo_send(int fd, const void *buf, size_t n, int flags);

/* accept4(2): the new descriptor (always SOCK_CLOEXEC; flags may add
 * SOCK_NONBLOCK) or -errno. addr/len optional (both or neither). */
RINGO_API int ringo_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags);

/* connect(2) on a socket ringo or the caller made: 0 or -errno
 * (-ECONNREFUSED, -ETIMEDOUT, ...). */
RINGO_API int ringo_connect(int fd, const struct sockaddr *addr, socklen_t len);

/* Close fd through the ring. The descriptor is released whatever the result.
 * Closing is cleanup: outside a loop, in a cancelled task or past the
 * deadline it still happens (synchronously) instead of failing. */
RINGO_API int ringo_close(int fd);

/* Wait until fd is ready for `events` (POLLIN, POLLOUT, ...); returns the
 * revents (POLLHUP and POLLERR included) or -errno. */
RINGO_API int ringo_poll(int fd, short events);

/* ---- Datagrams and message operations [sock_recvfrom, sock_sendto] ------ */

/* recvmsg(2) / sendmsg(2) / recvfrom(2) / sendto(2), each one operation of
 * the loop's backend, cancellable and deadline-aware as ringo_recv. The sends
 * always add MSG_NOSIGNAL. msg, its iovecs, names and control buffers are
 * borrowed until the call returns. from/fromlen optional (both or neither):
 * *fromlen is the room in, the address's length out. */
RINGO_API ssize_t ringo_recvmsg(int fd, struct msghdr *msg, int flags);
RINGO_API ssize_t ringo_sendmsg(int fd, const struct msghdr *msg, int flags);
RINGO_API ssize_t ringo_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
                                 socklen_t *fromlen);
RINGO_API ssize_t ringo_sendto(int fd, const void *buf, size_t n, int flags,
                               const struct sockaddr *to, socklen_t tolen);

/* A UDP endpoint [create_datagram_endpoint]. Opened on local_host:local_port
 * (NULL: any address, port "0" or NULL: one the kernel picks) and, with a
 * remote, connected to it (then sends may omit the address and only the
 * peer's datagrams arrive); IPv4 or IPv6 as the names resolve. Receives run
 * as a multishot recvmsg into a ring of buffers where the kernel has it
 * (6.0+), plain recvmsg elsewhere; the results are the same. */
typedef struct ringo_dgram ringo_dgram;
RINGO_API int ringo_dgram_open(ringo_dgram **out, const char *local_host, const char *local_port,
                               const char *remote_host, const char *remote_port);
/* ringo_dgram_open with RINGO_DGRAM_* flags (asyncio's reuse_port=True):
 * several endpoints, one per loop, may then share a local port, the kernel
 * spreading the senders among them. -EINVAL for unknown flags. */
#define RINGO_DGRAM_REUSEPORT 0x1u
RINGO_API int ringo_dgram_open_flags(ringo_dgram **out, const char *local_host,
                                     const char *local_port, const char *remote_host,
                                     const char *remote_port, unsigned flags);
/* One datagram into buf (from/fromlen optional; *fromlen is set to the
 * address's length). One longer than cap is cut to cap bytes and its full
 * length is returned (as MSG_TRUNC does), so the caller can tell. An ICMP
 * error for an earlier send on a connected endpoint comes back once, as
 * -ECONNREFUSED (asyncio's error_received); the endpoint stays open.
 * -EBADF after close. */
RINGO_API ssize_t ringo_dgram_recv(ringo_dgram *d, void *buf, size_t cap,
                                   struct sockaddr_storage *from, socklen_t *fromlen);
/* One datagram of n bytes (0 allowed; over 65 507 for IPv4: -EMSGSIZE) to
 * `to`, or to the peer when to is NULL (-EDESTADDRREQ on an unconnected
 * endpoint). A full socket buffer suspends only the sender. n, or -errno. */
RINGO_API ssize_t ringo_dgram_send(ringo_dgram *d, const void *buf, size_t n,
                                   const struct sockaddr *to, socklen_t tolen);

/* Many datagrams per call: where UDP's speed is. */
typedef struct ringo_dgram_msg {
    void *buf;
    size_t len;      /* send: the datagram's length; recv: in, the room in buf;
                        out, the datagram's length (more than the room: cut) */
    struct sockaddr_storage addr;   /* recv: the sender; send: where to */
    socklen_t addrlen;              /* send: 0 for the peer */
} ringo_dgram_msg;
/* Waits for one datagram, then takes up to n - 1 more that have already
 * arrived, without waiting: the count (>= 1), or -errno as ringo_dgram_recv.
 * With UDP GRO (ringo_dgram_set_gro) the kernel hands over runs of
 * datagrams from one sender at once, split here into msgs. */
RINGO_API ssize_t ringo_dgram_recv_many(ringo_dgram *d, ringo_dgram_msg *msgs, size_t n);
/* Sends msgs in order: runs of datagrams of one length (the last may be
 * shorter) to one address go as one UDP GSO send where the kernel has it
 * (UDP_SEGMENT, 4.18+), else as one sendmsg each. The count sent (fewer than
 * n only when an error stopped it after some), or -errno. */
RINGO_API ssize_t ringo_dgram_send_many(ringo_dgram *d, const ringo_dgram_msg *msgs, size_t n);
/* Ask the kernel to coalesce arriving datagrams (UDP_GRO, 5.0+): 0, or
 * -ENOPROTOOPT where it cannot. */
RINGO_API int ringo_dgram_set_gro(ringo_dgram *d, bool on);
RINGO_API int ringo_dgram_port(const ringo_dgram *d);   /* the bound local port */
RINGO_API int ringo_dgram_fd(const ringo_dgram *d);
/* Closes the socket; receives and sends waiting in other tasks return
 * -EBADF. An endpoint belongs to the loop that opened it (the calls return
 * -EINVAL on another); one still open when its loop closes is closed then. */
RINGO_API int ringo_dgram_close(ringo_dgram *d);

/* ---- sendfile [loop.sendfile] -------------------------------------------- */

/* count bytes of in_fd from *offset (advanced by what was sent) to out_fd, a
 * socket or a pipe, without copying through user space where the kernel
 * allows (to a socket by sendfile(2), or with RINGO_SENDFILE=splice by
 * splice through a pipe from a small per-loop pool; to a pipe by splice;
 * read+write where the kernel refuses the file). Short sends are retried;
 * fewer than count bytes only at the file's end or when interrupted after
 * some were sent (the next call reports the interruption). in_fd a pipe or
 * socket: -ESPIPE. Bytes sent, or -errno. */
RINGO_API ssize_t ringo_sendfile(int out_fd, int in_fd, int64_t *offset, size_t count);

/* ---- Files (each one io_uring operation; ringo_read/ringo_write above take
 * an offset, -1 for the file position) ----------------------------------- */

/* openat(2) through the ring; O_CLOEXEC always added. The descriptor or
 * -errno. path borrowed. */
RINGO_API int ringo_open(const char *path, int flags, mode_t mode);
/* fsync(2), or fdatasync(2) when datasync. */
RINGO_API int ringo_fsync(int fd, bool datasync);
/* statx(2): dirfd AT_FDCWD or a directory fd, flags AT_*, mask STATX_*. */
struct statx;
RINGO_API int ringo_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *st);
RINGO_API int ringo_unlink(const char *path);
RINGO_API int ringo_rename(const char *from, const char *to);
RINGO_API int ringo_mkdir(const char *path, mode_t mode);
/* The whole file, in *data (malloc'd, NUL-terminated for convenience; the
 * caller frees it) and *len. Sized by statx, short reads looped, files that
 * grow or lie about their size (/proc) read to EOF. */
RINGO_API int ringo_read_file(const char *path, void **data, size_t *len);
/* Replace path atomically: write a temporary file in the same directory,
 * fsync it, rename it over path (and fsync the directory). A crash never
 * leaves a half-written file under the name. */
RINGO_API int ringo_write_file(const char *path, const void *data, size_t len);

/* One IORING_OP_NOP through the ring: submit, complete, resume. A ring round
 * trip with no I/O, for measuring the engine. 0 or -ECANCELED. */
RINGO_API int ringo_nop(void);

/* ---- Streams [open_connection, start_server, StreamReader, StreamWriter] */

typedef struct ringo_stream ringo_stream;
typedef struct ringo_server ringo_server;

/* A server's per-connection handler, run as its own task; the server closes
 * s after the handler returns (the handler must not). */
typedef int (*ringo_conn_fn)(ringo_stream *s, void *arg);

/* TCP connection to host:port. host is a name (resolved off the loop, on the
 * worker pool), an IPv4 or an IPv6 literal; every address is tried in order.
 * *out is owned by the caller (ringo_stream_close). -EINVAL (NULL, or a bad
 * port: empty, out of range, unknown service), -ENOENT (a name that does not
 * resolve), -EHOSTUNREACH (resolver failure), -EAGAIN (resolver busy), -ENOENT
 * / -EHOSTUNREACH for a name that does not resolve, -ECONNREFUSED, ... */
RINGO_API int ringo_open_connection(ringo_stream **out, const char *host, const char *port);
RINGO_API int ringo_open_unix_connection(ringo_stream **out, const char *path);

/* Listen on host:port (SO_REUSEADDR; port "0" = any free port) and run
 * fn(stream, arg) as a task per connection. Accepting starts at once.
 * *out is owned by the caller (ringo_server_close). */
/* host NULL or "": every interface (one dual-stack IPv6 socket, or 0.0.0.0
 * without IPv6); a name binds its first address that works. Accepted
 * sockets have TCP_NODELAY. Handler statuses are dropped (as asyncio). */
RINGO_API int ringo_start_server(ringo_server **out, const char *host, const char *port,
                                 ringo_conn_fn fn, void *arg);
RINGO_API int ringo_start_unix_server(ringo_server **out, const char *path, ringo_conn_fn fn,
                                      void *arg);
/* Servers on many loops. */
struct ringo_tls;
typedef struct ringo_server_opts {
    int backlog;             /* listen(2) backlog, 0 = SOMAXCONN */
    unsigned flags;          /* RINGO_SERVER_* */
    struct ringo_tls *tls;   /* a server context: every connection is TLS, its handler
                                called once the handshake succeeded (a failed one
                                closes the connection, the server serves on) */
} ringo_server_opts;
/* SO_REUSEPORT: each loop may start its own server on the same port (the
 * first one with port "0" picks it; pass ringo_server_port's to the others);
 * the kernel spreads connections over the listeners. */
#define RINGO_SERVER_REUSEPORT 0x1u
/* One listener; each connection's handler runs on the loop of the run that
 * has the fewest live connections of this server (ties round-robin; the
 * socket is handed over as a plain descriptor). Handlers then run on other
 * threads: `arg` is shared between loops. Under ringo_run, a plain server. */
#define RINGO_SERVER_SPREAD    0x2u
/* opts NULL: as ringo_start_server. ringo_server_close cancels and awaits
 * the handlers on every loop they run on; it and serve_forever return
 * -EXDEV from another loop than the server's. -EINVAL for unknown flags,
 * both flags at once, a negative backlog or a tls that is not a server's. With
 * REUSEPORT, connections still queued on a listener that closes are dropped
 * (unless net.ipv4.tcp_migrate_req=1). */
RINGO_API int ringo_start_server_opts(ringo_server **out, const char *host, const char *port,
                                      const ringo_server_opts *opts, ringo_conn_fn fn, void *arg);
RINGO_API int ringo_server_port(const ringo_server *s);     /* bound TCP port, -EINVAL */
/* Until the server is closed (0) or the caller is cancelled / past its
 * deadline (-ECANCELED / -ETIMEDOUT; the server keeps serving then: its
 * owner closes it). */
RINGO_API int ringo_server_serve_forever(ringo_server *s);
/* Stop accepting, cancel and await the handlers, close, free the server.
 * A server left open when main returns is stopped with the loop: its
 * handlers are cancelled and every socket it holds is closed (only the
 * small ringo_server record is not freed: close it before main returns). */
RINGO_API int ringo_server_close(ringo_server *s);

/* Up to n bytes; 0 at EOF; waits while nothing is buffered. */
/* One reader at a time per stream: a second concurrent read gets -EBUSY. A
 * read cancelled or timed out loses nothing (what arrived stays buffered). */
RINGO_API ssize_t ringo_stream_read(ringo_stream *s, void *buf, size_t n);
/* Exactly n bytes, or -ENODATA if EOF came first (IncompleteReadError); the
 * partial bytes stay readable. */
RINGO_API ssize_t ringo_stream_readexactly(ringo_stream *s, void *buf, size_t n);
/* The bytes up to and including sep, copied to buf. -EMSGSIZE if no sep
 * within min(cap, limit) bytes (LimitOverrunError: the data stays buffered);
 * -ENODATA at EOF without sep (the partial bytes stay readable). */
RINGO_API ssize_t ringo_stream_readuntil(ringo_stream *s, const void *sep, size_t seplen,
                                         void *buf, size_t cap);
RINGO_API ssize_t ringo_stream_readline(ringo_stream *s, void *buf, size_t cap); /* until "\n" */
RINGO_API void    ringo_stream_set_limit(ringo_stream *s, size_t limit);   /* default 64 KiB */
/* Queue n bytes (copied); never suspends. -EPIPE / -ECONNRESET once the peer
 * is gone, -EBADF after write_eof or close. */
RINGO_API ssize_t ringo_stream_write(ringo_stream *s, const void *buf, size_t n);
/* Wait until the write buffer is under its low-water mark (16 KiB; the high
 * mark is 64 KiB); reports send errors. */
RINGO_API int ringo_stream_drain(ringo_stream *s);
/* Half-close: queued bytes are sent, then shutdown(SHUT_WR). */
RINGO_API int ringo_stream_write_eof(ringo_stream *s);
/* Send what is queued, close the fd, free s (also in a cancelled task: the
 * queued bytes are then delivered in the background). */
/* Returns a send error if queued bytes could not be delivered, -EBUSY (and
 * does nothing) while another task is blocked reading or draining s. In a
 * live task it waits until the bytes are sent (bounded by the task's
 * deadline); at loop close streams still flushing get 10 s. */
RINGO_API int ringo_stream_close(ringo_stream *s);
RINGO_API int ringo_stream_fd(const ringo_stream *s);

/* ---- TLS contexts [ssl.SSLContext, create_default_context] -------------- */

/* An OpenSSL context: certificates, verification, ALPN. Made once, then
 * shared by any number of streams and servers, on any loop. In a build
 * without OpenSSL 3 (meson -Dtls=disabled, or auto not finding it) the calls
 * exist and return -ENOTSUP. Making one reads files, blocking: make contexts
 * before serving. Every context speaks TLS 1.2 or later. */
typedef struct ringo_tls ringo_tls;
typedef struct ringo_tls_opts {
    const char *cert_file, *key_file; /* PEM chain (leaf first) and its key; a server
                                         needs them; a client may give them (mutual
                                         TLS); one without the other is -EINVAL */
    const char *ca_file;              /* PEM bundle to verify the peer with; NULL: the
                                         system's store (client), no client check
                                         (server; with one, a client certificate sent
                                         is verified against it) */
    bool verify_peer;                 /* client: verify the server (set it: false is
                                         for tests); server: require a client
                                         certificate (needs ca_file) */
    const char *alpn;                 /* "h2,http/1.1" style (names of 1-255 bytes,
                                         in order of preference), or NULL; a server
                                         picks the first of its names the client
                                         offers, none in common is no ALPN */
} ringo_tls_opts;
/* opts and the strings in it are borrowed (read during the call). A client's
 * opts may be NULL: verify the server against the system's store, no ALPN.
 * *out is the caller's, released with ringo_tls_free. -ENOENT a file that
 * cannot be read (absent, refused, a directory); -EKEYREJECTED a key or
 * certificate OpenSSL rejects (not PEM, encrypted, a key that does not match
 * the certificate, a CA bundle with no certificate); -EINVAL NULL out, a
 * server's NULL opts, the pairings above, a malformed alpn ("", an empty
 * name, a name over 255 bytes); -ENOMEM. */
RINGO_API int  ringo_tls_new_client(ringo_tls **out, const ringo_tls_opts *opts);
RINGO_API int  ringo_tls_new_server(ringo_tls **out, const ringo_tls_opts *opts);
/* Release the caller's reference; NULL is ignored. Streams and servers
 * still using t keep it alive until they are closed, then it is freed. */
RINGO_API void ringo_tls_free(ringo_tls *t);

/* ---- TLS streams [ssl= on open_connection / start_server, start_tls] ---- */

/* A TLS stream is a ringo_stream: read, readexactly, readuntil, readline,
 * write, drain and close work as on a plain one (write_eof is -ENOTSUP: TLS
 * ends with close_notify). Handshakes time out after 60 s, sooner if the
 * task's deadline says so: -ETIMEDOUT. A certificate that fails
 * verification (or the name check) is -EKEYREJECTED, any other TLS failure
 * -EPROTO; ringo_stream_tls_error says why in words. close sends
 * close_notify and waits for the peer's for at most 30 s. The peer's
 * close_notify is EOF; a TCP close without it is EOF too, with
 * ringo_stream_tls_error saying the stream was truncated. -ENOTSUP in a
 * build without TLS. */

/* TCP connect, then the client handshake with tls (a client context).
 * server_hostname NULL: host, for SNI and the certificate's name check (an
 * IP literal is checked against the certificate's IP names); "": no name
 * check. On failure nothing is left open. -EINVAL a NULL argument or a
 * server context. */
RINGO_API int ringo_open_tls_connection(ringo_stream **out, const char *host, const char *port,
                                        ringo_tls *tls, const char *server_hostname);
/* STARTTLS: upgrade a connected plaintext stream in place, as a client (a
 * client context, server_hostname as above) or a server (a server context,
 * NULL). -EINVAL with plaintext bytes still buffered either way, or on a
 * stream that is TLS already or closing. */
RINGO_API int ringo_stream_start_tls(ringo_stream *s, ringo_tls *tls, const char *server_hostname);
RINGO_API const char *ringo_stream_alpn(const ringo_stream *s);      /* NULL: none agreed */
RINGO_API const char *ringo_stream_tls_error(const ringo_stream *s); /* last failure, or NULL */

/* count bytes of in_fd from offset to the stream after what is buffered
 * (flushed first), by ringo_sendfile; through the stream's writes on a TLS
 * stream. Bytes sent (fewer than count only at the file's end), or -errno. */
RINGO_API ssize_t ringo_stream_sendfile(ringo_stream *s, int in_fd, int64_t offset, size_t count);

/* ---- Subprocesses [create_subprocess_exec/_shell, Process] -------------- */

typedef struct ringo_process ringo_process;
enum ringo_stdio { RINGO_INHERIT, RINGO_PIPE, RINGO_DEVNULL, RINGO_STDOUT /* stderr only */ };
typedef struct ringo_process_opts {
    enum ringo_stdio in, out, err;
    const char *const *env;   /* NULL: inherit */
    const char *cwd;          /* NULL: inherit */
} ringo_process_opts;

/* Start argv[0] (searched in PATH) with argv; NULL opts: inherit all. The
 * child gets only descriptors 0-2. A program that cannot be executed fails
 * here (-ENOENT, -EACCES), not as a child exiting 127. *out owned by the
 * caller (ringo_process_free). */
RINGO_API int ringo_process_spawn(ringo_process **out, const char *const argv[],
                                  const ringo_process_opts *opts);
/* "/bin/sh -c cmd". */
RINGO_API int ringo_process_shell(ringo_process **out, const char *cmd,
                                  const ringo_process_opts *opts);
/* The pipes as streams (NULL unless RINGO_PIPE); owned by the process (closed
 * by ringo_process_free), but may be closed earlier with ringo_stream_close
 * (e.g. stdin, to send EOF): the accessor returns NULL afterwards. */
RINGO_API ringo_stream *ringo_process_stdin(ringo_process *p);
RINGO_API ringo_stream *ringo_process_stdout(ringo_process *p);
RINGO_API ringo_stream *ringo_process_stderr(ringo_process *p);
RINGO_API pid_t ringo_process_pid(const ringo_process *p);
/* Wait for the child to exit; *returncode (optional) as asyncio: the exit
 * code, or -N if killed by signal N. Later calls return the same code. */
RINGO_API int ringo_process_wait(ringo_process *p, int *returncode);

typedef struct ringo_buf { char *data; size_t len; } ringo_buf;   /* data malloc'd, NUL-ended */
/* Write in (then close stdin), read stdout and stderr to EOF at the same
 * time (no pipe deadlock at any size), wait. out/err optional; their data is
 * the caller's to free. */
RINGO_API int ringo_process_communicate(ringo_process *p, const void *in, size_t inlen,
                                        ringo_buf *out, ringo_buf *err, int *returncode);
RINGO_API int ringo_process_kill(ringo_process *p, int sig);
/* Closes the pipes; a child still running is killed (SIGKILL) and reaped. */
RINGO_API void ringo_process_free(ringo_process *p);

typedef struct ringo_command_result { ringo_buf out, err; int returncode; } ringo_command_result;
/* Run cmd with the shell, capture stdout and stderr, wait. */
RINGO_API int ringo_run_command(const char *cmd, ringo_command_result *r);
RINGO_API void ringo_command_result_free(ringo_command_result *r);

/* ---- Signals [add_signal_handler] --------------------------------------- */

/* Suspend until signo is delivered to the process, through a signalfd read
 * on the ring; returns signo. While some task waits, signo is blocked on
 * the loop's thread (and restored when the last waiter leaves). Every task
 * waiting on signo wakes. -EINVAL for SIGKILL, SIGSTOP or a bad number. */
RINGO_API int ringo_wait_signal(int signo);

#ifdef __cplusplus
}
#endif

#endif
