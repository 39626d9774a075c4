/* engine/: the loop. Private to the library; io/ includes this, users never do. */
#ifndef RINGO_ENGINE_INTERNAL_H
#define RINGO_ENGINE_INTERNAL_H

#include <errno.h>
#include <liburing.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "coro/coro.h"
#include "include/ringo.h"

#define RINGO_LIKELY(x)   __builtin_expect(!!(x), 1)
#define RINGO_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* In a spin: let the sibling hyperthread (or the host) have the core. */
static inline void ringo__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#endif
}

/* ---- intrusive doubly-linked list -------------------------------------- */
typedef struct rlist { struct rlist *next, *prev; } rlist;
static inline void rlist_init(rlist *l) { l->next = l->prev = l; }
static inline bool rlist_empty(const rlist *l) { return l->next == l; }
static inline void rlist_push(rlist *l, rlist *n)
{
    n->prev = l->prev; n->next = l; l->prev->next = n; l->prev = n;
}
static inline void rlist_del(rlist *n)
{
    n->prev->next = n->next; n->next->prev = n->prev; n->next = n->prev = n;
}
#define rlist_entry(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* ---- completions ---------------------------------------------------------
 * A CQE's user_data is a pointer to a ringo__cqe_handler, or 0 for
 * completions nobody waits for (cancel requests). */
typedef struct ringo__cqe_handler ringo__cqe_handler;
struct ringo__cqe_handler {
    void (*complete)(ringo__cqe_handler *h, int32_t res, uint32_t flags);
};

/* ---- operations (engine/backend.h has the calls) ---------------------- */
enum ringo__io_kind {
    RINGO_IO_NOP,
    RINGO_IO_READ,        /* fd, p: buf, len, off; how: engine/offload.c's pick */
    RINGO_IO_WRITE,       /* fd, p: buf, len, off */
    RINGO_IO_READV,       /* fd, p: iov, len: count, off */
    RINGO_IO_WRITEV,
    RINGO_IO_RECV,        /* fd, p: buf, len, flags: MSG_* */
    RINGO_IO_SEND,
    RINGO_IO_ACCEPT,      /* fd, p: sockaddr out, q: socklen_t *, flags: SOCK_* */
    RINGO_IO_CONNECT,     /* fd, p: sockaddr, u: its length */
    RINGO_IO_POLL,        /* fd, flags: poll events; result: revents */
    RINGO_IO_CLOSE,       /* fd */
    RINGO_IO_OPEN,        /* p: path, flags: O_*, u: mode */
    RINGO_IO_FSYNC,       /* fd, flags: 1 for datasync */
    RINGO_IO_STATX,       /* fd: dirfd, p: path, flags: AT_*, len: mask, q: struct statx * */
    RINGO_IO_UNLINK,      /* p: path */
    RINGO_IO_RENAME,      /* p: from, q: to */
    RINGO_IO_MKDIR,       /* p: path, u: mode */
    RINGO_IO_SHUTDOWN,    /* fd, flags: SHUT_* */
    RINGO_IO_WAITID,      /* fd: pidfd, q: siginfo_t *, flags: W* (only where RINGO_CAP_WAITID) */
    RINGO_IO_ACCEPT_MULTI,/* fd, flags: SOCK_*: a completion per connection, RINGO_CQE_MORE
                             on all but the last */
    RINGO_IO_RECV_MULTI,  /* fd: from the loop's provided buffers (only where
                             RINGO_CAP_RECV_MULTI; io/recv_ring.c) */
    RINGO_IO_RECVMSG,     /* fd, p: struct msghdr *, flags: MSG_* */
    RINGO_IO_SENDMSG,     /* fd, p: const struct msghdr *, flags: MSG_* */
    RINGO_IO_RECVMSG_MULTI, /* fd, p: struct msghdr * whose msg_namelen and
                             msg_controllen each buffer's header reserves, u:
                             the buffer group: a completion per datagram, an
                             io_uring_recvmsg_out at its buffer's start (only
                             where RINGO_CAP_RECVMSG_MULTI) */
    RINGO_IO_SPLICE,      /* fd: in, off: its offset (-1: none), u: out fd,
                             len, flags: SPLICE_F_*; awaited only */
    RINGO_IO_SEND_ZC,     /* fd, p, len, flags: MSG_* (only where
                             RINGO_CAP_SEND_ZC): the result, with
                             RINGO_CQE_MORE when a RINGO_CQE_NOTIF completion
                             follows to say the buffer is free again; awaited,
                             the wait returns after both */
};

typedef struct ringo__io {
    uint8_t kind;         /* enum ringo__io_kind */
    uint8_t how;          /* READ: enum ringo__read_how */
    int fd;
    int flags;
    unsigned len;
    unsigned u;
    int64_t off;          /* -1: the file position */
    void *p, *q;
} ringo__io;

/* Completion flags, as a handler sees them (the kernel's values). */
#define RINGO_CQE_BUFFER (1U << 0)
#define RINGO_CQE_MORE   (1U << 1)
#define RINGO_CQE_NOTIF  (1U << 3)
#define RINGO_CQE_BUFFER_SHIFT 16

/* An op owned by an object: embed it, set h.complete, fill io, start it. */
typedef struct ringo__req {
    ringo__cqe_handler h;     /* first: the CQE's user_data points here */
    ringo__io io;
    int32_t res;              /* epoll: a completion waiting to be delivered */
    uint32_t flags;
    uint8_t state;            /* epoll: where it is (backend_epoll.c) */
    unsigned seq;
    struct io_uring_sqe *sqe;
    rlist link;               /* epoll: its fd's waiters, or the run list */
} ringo__req;

/* What a suspended task waits on, so cancellation and deadlines can reach
 * it. cancel() is called at most once per suspension, with `why` already set
 * to -ECANCELED or -ETIMEDOUT, and must end the wait: take the task off
 * whatever queue holds it and wake it now, or make sure something (a CQE, a
 * finishing task) will. */
typedef struct ringo__wait ringo__wait;
struct ringo__wait {
    void (*cancel)(ringo__wait *w);   /* NULL: the wait cannot be interrupted */
    /* For ringo_dump_tasks: what the task waits on, in words ("recv fd 7"),
     * NUL-terminated into buf. Runs on the task's loop while it waits; NULL
     * says nothing. */
    void (*describe)(const ringo__wait *w, char *buf, size_t n);
    int why;   /* 0 while not interrupted */
};

/* A user-space timer (timer.c): fire(tm) runs on the scheduler's context
 * once ringo_now() >= at. Expired timers fire in deadline order, ties in
 * the order they were armed (seq), however late the loop runs: asyncio's
 * rule, which a batch of kernel timeouts completing together would break. */
typedef struct ringo__timer ringo__timer;
struct ringo__timer {
    int64_t at;
    uint64_t seq;                  /* arming order, for ties */
    size_t idx;                    /* RINGO_TIMER_IDLE while not armed */
    void (*fire)(ringo__timer *tm);
};
#define RINGO_TIMER_IDLE ((size_t)-1)
#define RINGO_TIMER_FAR  ((size_t)1 << 62)   /* idx names a far bucket (timer_far.c) */

/* Run at loop close (run.c), newest first, after the last task finished and
 * before the ring goes, with ringo__loop still set: a closer may still step
 * the ring to finish background work (io/: streams flushing after close). */
struct ringo_loop;
typedef struct ringo__closer ringo__closer;
struct ringo__closer {
    rlist link;
    void (*close)(ringo__closer *c, struct ringo_loop *l);
};

/* Called when the task it is queued on finishes (await, gather, wait). */
typedef struct ringo__done_waiter ringo__done_waiter;
struct ringo__done_waiter {
    rlist link;
    void (*done)(ringo__done_waiter *w, ringo_task *finished);
};

enum ringo__task_state {
    RINGO_T_FREE,       /* slot unused (a stale handle points here) */
    RINGO_T_READY,      /* in the run queue */
    RINGO_T_RUNNING,
    RINGO_T_SUSPENDED,
    RINGO_T_DONE,
};

#define RINGO_TASK_NAME_INLINE 32

struct ringo_task {
    coro_t coro;
    struct ringo_loop *loop;
    ringo_task *rq_next;           /* run queue link */
    ringo__wait *waiting;          /* set while suspended on something (cancel
                                      NULL: not interruptible) */
    int64_t since;                 /* l->now when it last suspended */
    ringo_fn fn;
    void *arg;
    int status;
    uint8_t state;                 /* enum ringo__task_state */
    bool cancelled;                /* sticky */
    bool caller_ref;               /* the spawner's reference is held */
    bool retrieved;                /* someone saw the status */
    bool awaited;                  /* ringo_await is waiting on it (one awaiter) */
    bool must_run;                 /* fn runs even if cancelled before its first
                                      step: it owns something only it can release */
    rlist done_waiters;            /* ringo__done_waiter */
    rlist live_link;               /* loop->live, while not DONE */
    ringo_task *free_next;         /* slab free list */
    int64_t deadline;              /* absolute ns; INT64_MAX = none */
    uint64_t id;
    struct ringo__remote *proxy;   /* this handle stands for a task of another
                                      loop (remote.c): it has no coroutine */
    struct ringo__remote *for_proxy; /* a task whose handle is on another loop */
    void *site;                    /* debug: the return address of its spawn call */
    char *name;                    /* name_inline or malloc'd */
    char name_inline[RINGO_TASK_NAME_INLINE];
};

/* offload.c: which page-cache reads a kernel worker copies instead of the
 * loop's thread. */
typedef struct ringo__offload {
    bool enabled;          /* several CPUs, not SQPOLL, not switched off */
    bool capped;           /* io-wq's workers for forced reads are limited */
    unsigned workers;      /* the cap: the loop thread's CPUs minus one */
    unsigned pool;         /* the io-wq pool they come from: 0 bounded, 1 unbounded */
    unsigned saved;        /* that pool's limit before the cap */
    unsigned inflight;     /* offloaded reads not completed yet */
    unsigned batch_inline; /* inline reads of cached files since the last submit */
    unsigned picks, picks_seen; /* reads offloaded; as of the last idle */
    int64_t last;          /* an idle moment after which nothing was offloaded */
    int64_t cool_until;    /* reads missed the cache: none offloaded till then */
    unsigned misses;       /* RWF_NOWAIT reads that found pages not cached */
    unsigned window, window_misses; /* probes and misses in the current window */
    uint8_t *kind;         /* per fd: unknown, regular file, other */
    size_t nkind;
} ringo__offload;

/* The loop's mailbox (inbox.c); its fields written by other threads sit on
 * cache lines of their own. */
struct ringo__msg;
typedef struct ringo__inbox {
    _Alignas(64) struct ringo__msg *_Atomic tail;   /* producers */
    _Atomic int sleeping;          /* 1 while the loop may block in the kernel */
    _Atomic unsigned senders;      /* threads inside a gated post */
    _Atomic bool closing;          /* gated posts refused */
    _Alignas(64) struct ringo__msg *head;           /* the loop's own */
    struct ringo__msg *stub;
    int efd;                       /* woken by threads that have no ring */
    bool polling;                  /* the POLL on efd is in flight */
    bool msg_ring;                 /* other loops may wake this one by MSG_RING */
    int64_t spin_ns;               /* spin this long before sleeping */
    bool recent;                   /* messages came since the last sleep */
    uint64_t efd_val;
    ringo__req poll_rq;            /* the POLL on efd */
    ringo__cqe_handler ring_h, ring_fail_h;
} ringo__inbox;

struct ringo__run;

struct ringo__epoll;

typedef struct ringo_loop {
    uint8_t backend;               /* enum ringo__backend (backend.h) */
    struct ringo__epoll *ep;       /* the epoll backend's state */
    struct io_uring ring;
    unsigned setup_flags;          /* IORING_SETUP_* that the kernel took */
    bool defer_taskrun;
    bool reaping;                  /* inside the CQ's reap: no SQ flushes */
    rlist deferred;                /* ringo__req to submit once the reap is over */
    bool debug;
    bool send_zc;                  /* RINGO_CFG_SEND_ZC or RINGO_SEND_ZC=1: big stream
                                      writes go as zero-copy sends (io/stream_write.c) */
    uint8_t ops[64];               /* ops[IORING_OP_x] != 0: the kernel has it */

    coro_t sched;                  /* the thread's context: runs the scheduler */
    coro_pool pool;
    ringo_task *current;
    /* The clock as of the last step that slept, ran timers, or was the 16th
     * since a reading: what a suspending task records (t->since) without
     * reading the clock itself. */
    int64_t now;
    unsigned clock_steps;

    ringo_task *rq_head, *rq_tail; /* FIFO of READY tasks */
    size_t rq_len;
    size_t budget;                 /* tasks the current pass may still start */
    ringo_task *dead;              /* finished task whose stack sched must release */

    rlist live;                    /* tasks not DONE */
    size_t nlive;
    unsigned inflight;             /* ops whose CQE will wake someone */
    unsigned tick;
    bool broken;                   /* deadlock: uninterruptible waits give up */

    struct ringo__workers *workers; /* worker pool (to_thread), NULL until first use */
    int64_t pool_spin_ns;          /* how long the loop and an idle worker spin for each other */
    int64_t timer_spin_ns;         /* a timer due within this is spun for, not slept for */

    struct ringo__heap_ent *timers; /* 4-ary min-heap on (at, seq), keys inline */
    size_t ntimers, captimers;
    struct ringo__far *far;        /* timers due in later milliseconds, NULL until one */
    size_t nfar;
    uint64_t timer_seq;

    ringo_task *free_head, *free_tail; /* FIFO: slots reused oldest first */
    void **slabs;
    size_t nslabs;
    uint64_t next_id;

    ringo__offload offload;

    int64_t slice_start;           /* debug: when the running task was resumed */
    _Atomic bool usr1_ok;          /* debug.c: SIGUSR1 may kick inbox.efd */
    rlist closers;                 /* ringo__closer, run at loop close */

    /* Many loops (loops.c, inbox.c, remote.c) */
    struct ringo__run *run;        /* the ringo_run/ringo_run_loops call */
    unsigned index;
    ringo_task *main;              /* while it runs */
    size_t proxies;                /* handles of other loops' tasks not done yet */
    rlist proxy_list;              /* those handles (live_link) */
    size_t external;               /* waits that another thread may end */
    ringo__inbox inbox;
} ringo_loop;

/* The calling thread's running loop, NULL when none. */
/* initial-exec: the loop is read on every call; the general-dynamic model
 * would cost a __tls_get_addr call each time from the shared library. */
extern __thread ringo_loop *ringo__loop __attribute__((tls_model("initial-exec")));

/* run.c: have c->close(c, l) called at loop close (once; c stays owned by
 * the caller, who must not free it before then). */
void ringo__at_close(ringo_loop *l, ringo__closer *c);

/* sched.c */
void ringo__wake(ringo_task *t);                   /* make t READY (queue it) */
void ringo__suspend(ringo_loop *l, ringo__wait *w); /* current task: sleep until woken */
void ringo__yield_now(ringo_loop *l);              /* current task: to the run queue's end */
void ringo__schedule(ringo_loop *l, const ringo_task *until);
/* The finished current task's last word: the context its entry function
 * returns to the trampoline, to run next. */
coro_t *ringo__exit_to(ringo_loop *l, ringo_task *cur);
void ringo__reap_dead(ringo_loop *l);                /* release an exited task's stack */ /* run until `until` is DONE
                                                     (NULL: until no task is live) */

/* task.c */
int  ringo__task_new(ringo_loop *l, ringo_task **out, const char *name, ringo_fn fn, void *arg);
void ringo__task_reap(ringo_loop *l, ringo_task *t); /* after DONE: stack back, maybe free */
void ringo__task_release(ringo_task *t);            /* drop the caller's reference */
bool ringo__task_valid(const ringo_task *t);
/* ringo_cancel without the handle check, for the engine's own cancels of
 * tasks whose handle it holds or that nobody holds (teardown, deadlock). */
int  ringo__cancel(ringo_task *t);
/* remote.c: a handle on l for a task that will run on another loop: a task
 * slot without coroutine, never READY, DONE once the task's result arrived
 * (ringo__proxy_finish). Not counted in l->nlive. */
int  ringo__proxy_new(ringo_loop *l, ringo_task **out, const char *name);
void ringo__proxy_finish(ringo_task *p, int status);
int  ringo__proxy_cancel(ringo_task *p);        /* p->cancelled is set already */
void ringo__proxy_free(struct ringo__remote *r);
/* task.c: a finished task whose result goes to another loop lets go of it */
void ringo__remote_report(ringo_task *t);
const char *ringo__task_name(ringo_task *t);        /* formats a default name on demand */
void ringo__tasks_free_all(ringo_loop *l);
void ringo__done_wait(ringo_task *t, ringo__done_waiter *w); /* queue w on t (not DONE) */
/* await.c: wait for t to finish, cancelling it if the caller is cancelled
 * or reaches its deadline (and still waiting for it then). Returns 0, or the
 * first interruption (-ECANCELED, -ETIMEDOUT), or -EDEADLK if the loop gave
 * up on a deadlock (t not DONE then). */
int ringo__await_done(ringo_loop *l, ringo_task *t);
/* 0 if the running task may await t (its handle held, nobody awaiting it),
 * else -EPERM (no task), -EDEADLK (t is the caller), -EINVAL. */
int ringo__awaitable(const ringo_loop *l, const ringo_task *t);
/* After waiting on t: drop the caller's reference; if t is DONE, *status
 * gets its status (now retrieved) and true is returned. */
bool ringo__await_release(ringo_task *t, int *status);

static inline bool ringo__past_deadline(const ringo_task *t)
{
    return RINGO_UNLIKELY(t->deadline != INT64_MAX) && ringo_now() >= t->deadline;
}

/* Why t may not suspend now: -ECANCELED (cancelled), -ETIMEDOUT (past its
 * deadline), or 0. */
static inline int ringo__interrupted(const ringo_task *t)
{
    if (RINGO_UNLIKELY(t->cancelled))
        return -ECANCELED;
    return ringo__past_deadline(t) ? -ETIMEDOUT : 0;
}

/* Entry check for suspending calls: the running loop and task, or an error
 * (-EPERM outside a task, else ringo__interrupted). */
static inline int ringo__enter(ringo_loop **lp)
{
    ringo_loop *l = ringo__loop;
    if (RINGO_UNLIKELY(!l || !l->current))
        return -EPERM;
    int why = ringo__interrupted(l->current);
    if (RINGO_UNLIKELY(why))
        return why;
    *lp = l;
    return 0;
}

/* deadline.c: suspend the current task on w (after ringo__enter, with the
 * task queued wherever w's owner wakes it from). Returns 0 when woken by the
 * owner, or w->why (-ECANCELED, -ETIMEDOUT) when interrupted, in which case
 * w->cancel has run. The owner's wake-up and an interruption can both
 * happen; the owner then decides (a Lock handed to a cancelled waiter is
 * passed on). */
int  ringo__wait_on(ringo_loop *l, ringo__wait *w);
/* Interrupt t's current wait (t suspended with t->waiting set). w->why is
 * set first, which ends its interruptibility: t->waiting stays, so that a
 * task still waiting after its cancel hook ran can say on what. */
void ringo__interrupt(ringo_task *t, int why);
static inline bool ringo__interruptible(const ringo__wait *w)
{
    return w && w->cancel && !w->why;
}

/* timer.c */
int     ringo__timer_add(ringo_loop *l, ringo__timer *tm);   /* 0 or -ENOMEM */
/* Arm tm keeping the seq it was given (ringo__timer_ticket): a wake-up that
 * was decided elsewhere (a linked timeout in the kernel) and must take its
 * place among the timers as of when it was armed. */
int     ringo__timer_insert(ringo_loop *l, ringo__timer *tm);
static inline uint64_t ringo__timer_ticket(ringo_loop *l) { return ++l->timer_seq; }
void    ringo__timer_del(ringo_loop *l, ringo__timer *tm);   /* no-op if not armed */
int64_t ringo__timer_next(ringo_loop *l);                    /* INT64_MAX if none */
static inline bool ringo__timers_armed(const ringo_loop *l) { return l->ntimers || l->nfar; }
void    ringo__timers_run(ringo_loop *l);                    /* fire the expired */
void    ringo__timers_free(ringo_loop *l);

typedef struct ringo__op ringo__op;   /* backend.h */

/* offload.c */
void ringo__offload_init(ringo_loop *l);       /* after the ring is set up */
void ringo__offload_exit(ringo_loop *l);
/* How a read (after ringo__enter) should go: PLAIN as always; PROBE inline
 * with RWF_NOWAIT; OFFLOAD with RWF_NOWAIT and IOSQE_ASYNC, its CQE handler
 * calling ringo__offload_done. After a probe or offload, -EAGAIN or a short
 * count from a file whose rest then reads means pages not in the cache: the
 * caller reads the rest plainly. Either way it reports ringo__offload_probed
 * for a regular file. */
enum ringo__read_how { RINGO_READ_PLAIN, RINGO_READ_PROBE, RINGO_READ_OFFLOAD };
enum ringo__read_how ringo__offload_pick(ringo_loop *l, int fd, int64_t off);
static inline void ringo__offload_done(ringo_loop *l) { l->offload.inflight--; }
void ringo__offload_probed(ringo_loop *l, bool missed);
/* fd is new or closed: look at what it is when next read. */
void ringo__offload_forget(ringo_loop *l, int fd);
/* Look at fd afresh: is it (still) a regular file? */
bool ringo__offload_recheck(ringo_loop *l, int fd);
/* Offloaded reads of fd cannot work (no RWF_NOWAIT there): stop trying. */
void ringo__offload_never(ringo_loop *l, int fd);
/* A submission went to the kernel: the next batch starts counting. */
static inline void ringo__offload_submitted(ringo_loop *l) { l->offload.batch_inline = 0; }
/* The loop is about to sleep: lift the worker cap if offloading has stopped. */
void ringo__offload_idle(ringo_loop *l);

/* debug.c */
/* The running task t is leaving the CPU: warn if it held it over 100 ms. */
void ringo__debug_slice_end(ringo_loop *l, const ringo_task *t);
void ringo__debug_unretrieved(const ringo_task *t);
void ringo__debug_alive_at_close(ringo_loop *l);
/* SIGUSR1 dumps every loop's tasks to stderr under debug (see ringo.h):
 * install the handler at loop open if the program has none, take it away at
 * close; poll, from the scheduler, whether one arrived. */
void ringo__debug_usr1_open(ringo_loop *l);
void ringo__debug_usr1_close(ringo_loop *l);
void ringo__debug_usr1_poll(ringo_loop *l);

/* dump.c: "<kind> fd N" for a wait on an op (both backends' ringo__op);
 * an op kind's name in words ("recv"). */
void ringo__op_describe(const ringo__wait *w, char *buf, size_t n);
const char *ringo__io_kind_name(unsigned kind);

#endif
