/* The worker pool: a few threads per loop for work that can only block.
 *
 * Threads start on demand (a job queued with no idle worker to take it) up
 * to max(4, 2 * ncpu) capped at 64, and leave after RINGO_WORKER_IDLE_MS
 * (default 5000; the environment variable is read when the pool is created,
 * which lets tests watch the pool shrink) without work. They are joinable so
 * that loop close can wait until none touches the pool any more; one that
 * idles out parks its record on `exited` to be joined by the next submit.
 *
 * Back to the loop: a worker pushes the finished job onto the lock-free
 * `done` list and, if the list was empty, writes the eventfd. The loop keeps
 * one read of the eventfd in flight exactly while jobs are
 * outstanding (counted in l->inflight, so the scheduler sleeps in the kernel
 * and its deadlock check stays right); the read's completion takes the whole
 * list, so many finished jobs cost one read. A write that finds the list
 * non-empty is covered by the earlier write that made it non-empty; a write
 * whose jobs were already taken only causes one empty read. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "engine/backend.h"
#include "engine/pool.h"

#define WORKERS_MIN 4
#define WORKERS_CAP 64
#define IDLE_MS_DEFAULT 5000
/* A spin that caught nothing (jobs come further apart than the spin: a
 * server opening a file per request) makes the next ones sleep at once: the
 * spin pays only for back-to-back jobs, and must not tax the others. */
#define SPIN_BACKOFF 16

typedef struct worker {
    pthread_t tid;
    struct worker *next;           /* on pool->exited */
    struct ringo__workers *pool;
} worker;

struct ringo__workers {
    /* Shared with the workers, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t work_cv;        /* idle workers wait for a job or stop */
    pthread_cond_t exit_cv;        /* close waits for the last worker */
    struct ringo__job *head, *tail; /* pending jobs, FIFO */
    size_t npending;
    unsigned nthreads;             /* started (or being started), not yet exited */
    unsigned nidle;                /* waiting on work_cv */
    unsigned nspinning;            /* idle, spinning before they wait: no signal needed */
    unsigned nwaking;              /* signalled, not yet back from the wait */
    unsigned wskip;                /* spins the workers pass up after one that caught nothing */
    bool stopping;
    worker *exited;                /* left worker_main, not joined yet */

    _Atomic(struct ringo__job *) done; /* finished jobs, LIFO; the loop takes all */
    _Atomic size_t queued;         /* npending, for workers spinning without mu */
    int efd;
    int64_t idle_ns;
    int64_t spin_ns;               /* the loop's idle spin (ringo_config.idle_spin_ns) */
    unsigned max;

    /* The loop's thread only. */
    ringo_loop *loop;
    ringo__req rq;                 /* the eventfd read */
    bool reading;                  /* the eventfd read is in flight */
    unsigned lskip;                /* the same for the loop's spins */
    uint64_t efd_val;              /* its buffer */
    size_t outstanding;            /* submitted, not yet back on the loop */
};

/* ---- worker side -------------------------------------------------------- */

static struct timespec idle_until(const struct ringo__workers *p)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = ts.tv_nsec + p->idle_ns;
    ts.tv_sec += ns / RINGO_SEC(1);
    ts.tv_nsec = ns % RINGO_SEC(1);
    return ts;
}

static void finish(struct ringo__workers *p, struct ringo__job *j)
{
    struct ringo__job *old = atomic_load_explicit(&p->done, memory_order_relaxed);
    do
        j->next = old;
    while (!atomic_compare_exchange_weak_explicit(&p->done, &old, j, memory_order_release,
                                                  memory_order_relaxed));
    /* j belongs to the loop now (its task may already be gone): don't touch it. */
    if (!old) {
        uint64_t one = 1;
        while (write(p->efd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
}

/* Wake one idle worker for the queue, unless one is already on its way or
 * spinning: a worker that takes a job and sees more behind it wakes the
 * next. So a burst of short jobs wakes one or two workers, which drain it,
 * instead of every idle one (each wake-up costs a vCPU tens of
 * microseconds), while blocking jobs still fan out, one wake-up per job
 * taken. Called with mu held. */
static void wake_one(struct ringo__workers *p)
{
    if (p->nidle && !p->nwaking && !p->nspinning) {
        p->nwaking++;
        pthread_cond_signal(&p->work_cv);
    }
}

/* A worker that just finished, or a loop waiting for one, spins a little
 * before it sleeps: a sleeping vCPU takes tens of microseconds to wake, many
 * times the job. Called with mu held; returns with it held. */
static void worker_spin(struct ringo__workers *p)
{
    /* One spinner is enough to catch the next job; more would take CPUs
     * from the workers that have one. */
    if (p->spin_ns <= 0 || p->head || p->stopping || p->nspinning)
        return;
    if (p->wskip) {
        p->wskip--;
        return;
    }
    p->nspinning++;
    pthread_mutex_unlock(&p->mu);
    int64_t until = ringo_now() + p->spin_ns;
    bool caught;
    while (!(caught = atomic_load_explicit(&p->queued, memory_order_relaxed)) &&
           ringo_now() < until)
        ringo__cpu_relax();
    pthread_mutex_lock(&p->mu);
    /* A submit that saw us spinning did not signal: the loop below sees
     * its job under mu, before it would wait. */
    p->nspinning--;
    p->wskip = caught ? 0 : SPIN_BACKOFF;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    struct ringo__workers *p = w->pool;
    (void)pthread_setname_np(pthread_self(), "ringo-worker");
    pthread_mutex_lock(&p->mu);
    for (;;) {
        worker_spin(p);
        struct timespec until = idle_until(p);
        bool idled_out = false;
        while (!p->head && !p->stopping && !idled_out) {
            p->nidle++;
            idled_out = pthread_cond_timedwait(&p->work_cv, &p->mu, &until) == ETIMEDOUT;
            p->nidle--;
            if (p->nwaking)
                p->nwaking--;
        }
        struct ringo__job *j = p->head;
        if (!j)
            break;   /* stopping, or idle long enough */
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->npending--;
        atomic_store_explicit(&p->queued, p->npending, memory_order_relaxed);
        /* More waiting: pass the wake-up on (see wake_one). */
        if (p->head)
            wake_one(p);
        pthread_mutex_unlock(&p->mu);
        j->work(j);
        finish(p, j);
        pthread_mutex_lock(&p->mu);
    }
    p->nthreads--;
    w->next = p->exited;
    p->exited = w;
    if (p->nthreads == 0)
        pthread_cond_signal(&p->exit_cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- loop side ---------------------------------------------------------- */

/* Wake the tasks of the finished jobs, in the order the jobs finished (the
 * list is LIFO). Whether there were any. */
static bool deliver(struct ringo__workers *p)
{
    struct ringo__job *j = atomic_exchange_explicit(&p->done, NULL, memory_order_acquire), *fifo = NULL;
    if (!j)
        return false;
    while (j) {
        struct ringo__job *next = j->next;
        j->next = fifo;
        fifo = j;
        j = next;
    }
    for (j = fifo; j; j = j->next) {
        j->finished = true;
        p->outstanding--;
        ringo__wake(j->task);
    }
    return true;
}

/* From a task or a completion handler. */
static void arm(struct ringo__workers *p)
{
    if (p->reading || !p->outstanding)
        return;
    p->rq.io = (ringo__io){ .kind = RINGO_IO_READ, .fd = p->efd, .p = &p->efd_val,
                            .len = sizeof p->efd_val, .off = -1 };
    ringo__io_start(p->loop, &p->rq);
    p->reading = true;
    p->loop->inflight++;
}

static void efd_complete(ringo__cqe_handler *h, int32_t res, uint32_t flags)
{
    (void)flags;
    struct ringo__workers *p = (struct ringo__workers *)((char *)h - offsetof(struct ringo__workers, rq));
    ringo_loop *l = p->loop;
    if (res < 0 && res != -EINTR && res != -EAGAIN && res != -ECANCELED) {
        fprintf(stderr, "ringo: worker pool: reading the eventfd failed (%d)\n", res);
        abort();   /* finished jobs could never be delivered */
    }
    p->reading = false;
    l->inflight--;
    (void)deliver(p);
    arm(p);
}

bool ringo__workers_spin(ringo_loop *l)
{
    struct ringo__workers *p = l->workers;
    /* With several jobs out the workers want the CPUs, and the eventfd
     * brings their results in batches: only a lone job is worth a spin. */
    if (!p || p->outstanding != 1 || p->spin_ns <= 0)
        return false;
    if (p->lskip) {
        p->lskip--;
        return false;
    }
    int64_t until = ringo_now() + p->spin_ns;
    do {
        /* The eventfd read still completes later, finding nothing: one
         * wasted completion instead of a sleep and a wake-up. */
        if (atomic_load_explicit(&p->done, memory_order_relaxed)) {
            p->lskip = 0;
            return deliver(p);
        }
        ringo__cpu_relax();
    } while (ringo_now() < until);
    p->lskip = SPIN_BACKOFF;
    return false;
}

static unsigned max_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    long m = n > 0 ? 2 * n : WORKERS_MIN;
    return (unsigned)(m < WORKERS_MIN ? WORKERS_MIN : m > WORKERS_CAP ? WORKERS_CAP : m);
}

static int64_t idle_ns_from_env(void)
{
    const char *v = getenv("RINGO_WORKER_IDLE_MS");
    char *end;
    long ms = v && *v ? strtol(v, &end, 10) : -1;
    if (ms < 1 || *end)
        ms = IDLE_MS_DEFAULT;
    return RINGO_MS(ms);
}

static int pool_open(ringo_loop *l)
{
    struct ringo__workers *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    /* Blocking on purpose: io_uring polls an eventfd it can read without
     * blocking, while an O_NONBLOCK one may bounce -EAGAIN back to us. */
    p->efd = eventfd(0, EFD_CLOEXEC);
    if (p->efd < 0) {
        int err = -errno;
        free(p);
        return err;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);   /* idle timeouts ignore clock jumps */
    pthread_cond_init(&p->work_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&p->exit_cv, NULL);
    /* Adaptive: held for a few stores at a time by the loop and by every
     * worker, so it is often found taken, and glibc's default mutex then
     * sleeps in the kernel at once, for tens of microseconds on a VM, where
     * a short spin finds it free (to_thread with 32 in flight: twice the
     * calls per second, the loop's futex sleeps gone). */
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
    (void)pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    pthread_mutex_init(&p->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    atomic_init(&p->done, NULL);
    p->idle_ns = idle_ns_from_env();
    p->spin_ns = l->pool_spin_ns;
    atomic_init(&p->queued, 0);
    p->max = max_threads();
    p->loop = l;
    p->rq.h.complete = efd_complete;
    l->workers = p;
    return 0;
}

/* Workers block every signal, so process-directed ones reach the loop's
 * thread; they inherit the mask in force at pthread_create. */
static int spawn(struct ringo__workers *p)
{
    worker *w = malloc(sizeof *w);
    if (!w)
        return -EAGAIN;
    w->pool = p;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&w->tid, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        free(w);
        return -EAGAIN;
    }
    return 0;
}

/* Join the workers on `gone`; with `wait` false, those still on their way
 * out go back on the list for the next time. */
static void join_exited(struct ringo__workers *p, worker *gone, bool wait)
{
    worker *keep = NULL, *last = NULL;
    while (gone) {
        worker *next = gone->next;
        if (!wait && pthread_tryjoin_np(gone->tid, NULL) == EBUSY) {
            gone->next = keep;
            keep = gone;
            if (!last)
                last = gone;
        } else {
            if (wait)
                pthread_join(gone->tid, NULL);
            free(gone);
        }
        gone = next;
    }
    if (keep) {
        pthread_mutex_lock(&p->mu);
        last->next = p->exited;
        p->exited = keep;
        pthread_mutex_unlock(&p->mu);
    }
}

static void unqueue(struct ringo__workers *p, struct ringo__job *job)
{
    struct ringo__job **pp = &p->head, *prev = NULL;
    while (*pp != job) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    *pp = job->next;
    if (p->tail == job)
        p->tail = prev;
    p->npending--;
}

static int submit(struct ringo__workers *p, struct ringo__job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    p->npending++;
    atomic_store_explicit(&p->queued, p->npending, memory_order_relaxed);
    /* Idle workers already signalled still count as idle until they wake:
     * grow only when the queue outnumbers them. */
    bool grow = p->nidle + p->nspinning < p->npending && p->nthreads < p->max;
    if (grow)
        p->nthreads++;
    wake_one(p);
    worker *gone = p->exited;
    p->exited = NULL;
    pthread_mutex_unlock(&p->mu);
    if (gone)
        join_exited(p, gone, false);
    if (grow && spawn(p) < 0) {
        pthread_mutex_lock(&p->mu);
        bool none = --p->nthreads == 0;
        /* With no worker at all nobody took the job; with some, one will. */
        if (none) {
            unqueue(p, job);
            atomic_store_explicit(&p->queued, p->npending, memory_order_relaxed);
        }
        pthread_mutex_unlock(&p->mu);
        if (none)
            return -EAGAIN;
    }
    return 0;
}

/* Nothing to stop: a worker cannot be interrupted mid-job. The task stays
 * queued for the job's return (efd_complete wakes it), and ringo__wait_on
 * reports the interruption then. */
static void job_cancel(ringo__wait *w)
{
    (void)w;
}

static void job_describe(const ringo__wait *w, char *buf, size_t n)
{
    const struct ringo__job *j =
        (const struct ringo__job *)((const char *)w - offsetof(struct ringo__job, wait));
    snprintf(buf, n, "worker thread: %s", j->what ? j->what : "blocking call");
}

int ringo__workers_run(ringo_loop *l, struct ringo__job *job)
{
    if (!l->workers) {
        int ret = pool_open(l);
        if (ret < 0)
            return ret;
    }
    struct ringo__workers *p = l->workers;
    job->task = l->current;
    job->finished = false;
    job->wait.cancel = job_cancel;
    job->wait.describe = job_describe;
    int ret = submit(p, job);
    if (ret < 0)
        return ret;
    p->outstanding++;
    arm(p);
    ret = ringo__wait_on(l, &job->wait);
    /* The job (often on this stack) is the worker's until it comes back. */
    job->wait.cancel = NULL;
    while (!job->finished)
        ringo__suspend(l, &job->wait);
    return ret;
}

void ringo__workers_close(ringo_loop *l)
{
    struct ringo__workers *p = l->workers;
    if (!p)
        return;
    /* A read left in flight by jobs delivered while the loop spun. */
    if (!p->outstanding && p->reading) {
        ringo__io_cancel(l, &p->rq);
        while (p->reading)
            ringo__step(l, true);
    }
    if (p->outstanding || p->reading) {
        fprintf(stderr, "ringo: worker pool closed with %zu job(s) outstanding\n", p->outstanding);
        abort();
    }
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->work_cv);
    while (p->nthreads)
        pthread_cond_wait(&p->exit_cv, &p->mu);
    worker *gone = p->exited;
    p->exited = NULL;
    pthread_mutex_unlock(&p->mu);
    join_exited(p, gone, true);
    ringo__fd_forget(l, p->efd);
    close(p->efd);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->exit_cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
    l->workers = NULL;
}
