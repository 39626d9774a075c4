/* Debug mode (RINGO_DEBUG=1), after asyncio's: its warnings, and the task
 * dump on SIGUSR1. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/inbox.h"

void ringo__debug_slice_end(ringo_loop *l, const ringo_task *t)
{
    int64_t now = ringo_now(), ran = now - l->slice_start;
    if (ran > RINGO_MS(100))
        fprintf(stderr, "ringo: task '%s' ran %.1f ms without suspending (blocks the loop)\n",
                ringo__task_name((ringo_task *)t), (double)ran / 1e6);
    l->slice_start = now;
}

void ringo__debug_unretrieved(const ringo_task *t)
{
    fprintf(stderr, "ringo: task '%s' failed with %d (%s) and was never awaited "
                    "(task exception was never retrieved)\n",
            ringo__task_name((ringo_task *)t), t->status, strerror(-t->status));
}

void ringo__debug_alive_at_close(ringo_loop *l)
{
    fprintf(stderr, "ringo: %zu task(s) still alive when main returned; cancelling:\n", l->nlive);
    for (rlist *p = l->live.next; p != &l->live; p = p->next) {
        const ringo_task *t = rlist_entry(p, ringo_task, live_link);
        fprintf(stderr, "ringo:   task '%s'%s\n", ringo__task_name((ringo_task *)t), t->cancelled ? " (cancelled)" : "");
    }
}

/* ---- SIGUSR1: a task dump on demand ---------------------------------------
 * The handler is ours only if SIGUSR1 had no handler when the first debug
 * loop opened (the program's own use wins, also one that comes later: we
 * take ours away at close only if it is still there). It only raises a flag
 * and kicks the interrupted loop's eventfd (so that a loop about to sleep
 * does not sleep through it); the loop's scheduler sees the flag after its
 * next pass and starts a task that writes the dump: formatting, dladdr and
 * asking the other loops cannot be done in a signal handler. */

static pthread_mutex_t usr1_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned usr1_users;       /* debug loops open while the handler is ours */
static _Atomic bool usr1_asked;

static void on_usr1(int signo)
{
    (void)signo;
    int saved = errno;
    atomic_store(&usr1_asked, true);
    ringo_loop *l = ringo__loop;
    if (l && atomic_load_explicit(&l->usr1_ok, memory_order_relaxed))
        ringo__inbox_kick(l);
    errno = saved;
}

void ringo__debug_usr1_open(ringo_loop *l)
{
    pthread_mutex_lock(&usr1_mu);
    if (usr1_users == 0) {
        struct sigaction old;
        if (sigaction(SIGUSR1, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
            old.sa_handler == SIG_DFL) {
            struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
            sigemptyset(&sa.sa_mask);
            if (sigaction(SIGUSR1, &sa, NULL) == 0)
                usr1_users = 1;
        }
    } else {
        usr1_users++;
    }
    if (usr1_users)
        atomic_store_explicit(&l->usr1_ok, true, memory_order_relaxed);
    pthread_mutex_unlock(&usr1_mu);
}

void ringo__debug_usr1_close(ringo_loop *l)
{
    if (!atomic_load_explicit(&l->usr1_ok, memory_order_relaxed))
        return;
    atomic_store_explicit(&l->usr1_ok, false, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);   /* before the eventfd closes */
    pthread_mutex_lock(&usr1_mu);
    if (--usr1_users == 0) {
        struct sigaction cur;
        if (sigaction(SIGUSR1, NULL, &cur) == 0 && cur.sa_handler == on_usr1) {
            struct sigaction dfl = { .sa_handler = SIG_DFL };
            sigemptyset(&dfl.sa_mask);
            (void)sigaction(SIGUSR1, &dfl, NULL);
        }
        atomic_store(&usr1_asked, false);
    }
    pthread_mutex_unlock(&usr1_mu);
}

static int dump_main(void *arg)
{
    (void)arg;
    (void)ringo_dump_tasks(STDERR_FILENO, true);
    return 0;
}

void ringo__debug_usr1_poll(ringo_loop *l)
{
    if (RINGO_LIKELY(!atomic_load_explicit(&usr1_asked, memory_order_relaxed)) ||
        !atomic_exchange(&usr1_asked, false))
        return;
    ringo_task *t;
    if (ringo__task_new(l, &t, "ringo-dump", dump_main, NULL) == 0)
        ringo__task_release(t);
    else
        fprintf(stderr, "ringo: SIGUSR1: no memory for the task dump\n");
}
