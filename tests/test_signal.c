/* ringo_wait_signal: delivery (kill, raise, a realtime signal, from a worker
 * thread, from another process), every waiter wakes, signals kept apart, cancellation and
 * deadlines restoring the mask, the normal disposition outside waits, a
 * signal the user blocks reaching the next waiter, no read left in flight,
 * bad input. Tasks are ordered with ringo_yield: a spawned waiter has
 * blocked its signal and queued its read once the spawner's yield returns. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static bool blocked(int signo)
{
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, signo);
}

static void set_blocked(int signo, bool on)
{
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    pthread_sigmask(on ? SIG_BLOCK : SIG_UNBLOCK, &one, NULL);
}

static int wait_usr1(void *arg) { (void)arg; return ringo_wait_signal(SIGUSR1); }
static int wait_usr2(void *arg) { (void)arg; return ringo_wait_signal(SIGUSR2); }

/* Spawn fn and let it reach its wait. */
static ringo_task *waiting(ringo_fn fn)
{
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, fn, NULL), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_not(ringo_task_done(t));
    return t;
}

/* ---- delivery ------------------------------------------------------------ */

static int kill_main(void *arg)
{
    (void)arg;
    cr_assert_not(blocked(SIGUSR1));
    ringo_task *t = waiting(wait_usr1);
    cr_assert(blocked(SIGUSR1), "blocked on the loop's thread while a task waits");
    cr_assert_eq(kill(getpid(), SIGUSR1), 0);
    cr_assert_eq(ringo_await(t), SIGUSR1);
    cr_assert_not(blocked(SIGUSR1), "unblocked once nobody waits");
    return 0;
}

Test(signal, kill_wakes_the_waiter_with_the_signo)
{
    cr_assert_eq(run_clean(kill_main, NULL), 0);
}

static int two_waiters_main(void *arg)
{
    (void)arg;
    ringo_task *a = waiting(wait_usr1), *b = waiting(wait_usr1);
    cr_assert_eq(kill(getpid(), SIGUSR1), 0);
    cr_assert_eq(ringo_await(a), SIGUSR1);
    cr_assert_eq(ringo_await(b), SIGUSR1);
    cr_assert_not(blocked(SIGUSR1));
    return 0;
}

Test(signal, one_delivery_wakes_every_waiter)
{
    cr_assert_eq(run_clean(two_waiters_main, NULL), 0);
}

/* raise() aims at the loop's thread alone: the signalfd read must run in
 * that thread's context, which it does once signalfd reads can be polled
 * (Linux 6.8) and without SQPOLL; process-directed signals (kill) need
 * neither. */
static int raise_main(void *arg)
{
    (void)arg;
    ringo_task *t = waiting(wait_usr1);
    cr_assert_eq(raise(SIGUSR1), 0);
    cr_assert_eq(ringo_await(t), SIGUSR1);
    return 0;
}

Test(signal, raise_wakes_the_waiter)
{
    struct utsname u;
    int major = 0, minor = 0;
    cr_assert_eq(uname(&u), 0);
    if (sscanf(u.release, "%d.%d", &major, &minor) != 2 || major * 100 + minor < 608)
        cr_skip_test("signalfd reads run on io-wq before Linux 6.8: raise() is not seen");
    cr_assert_eq(run_clean(raise_main, NULL), 0);
}

static int wait_rt(void *arg) { (void)arg; return ringo_wait_signal(SIGRTMIN + 1); }

static int realtime_main(void *arg)
{
    (void)arg;
    ringo_task *t = waiting(wait_rt);
    cr_assert_eq(kill(getpid(), SIGRTMIN + 1), 0);
    cr_assert_eq(ringo_await(t), SIGRTMIN + 1);
    return 0;
}

Test(signal, realtime_signal_wakes_the_waiter)
{
    cr_assert_eq(run_clean(realtime_main, NULL), 0);
}

static int two_signals_main(void *arg)
{
    (void)arg;
    ringo_task *a = waiting(wait_usr1), *b = waiting(wait_usr2);
    cr_assert_eq(kill(getpid(), SIGUSR2), 0);
    cr_assert_eq(ringo_await(b), SIGUSR2);
    cr_assert_not(ringo_task_done(a), "SIGUSR2 must not wake a SIGUSR1 waiter");
    cr_assert(blocked(SIGUSR1));
    cr_assert_not(blocked(SIGUSR2));
    cr_assert_eq(kill(getpid(), SIGUSR1), 0);
    cr_assert_eq(ringo_await(a), SIGUSR1);
    return 0;
}

Test(signal, different_signals_wake_their_own_waiters)
{
    cr_assert_eq(run_clean(two_signals_main, NULL), 0);
}

static int again_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) {
        ringo_task *t = waiting(wait_usr1);
        cr_assert_eq(kill(getpid(), SIGUSR1), 0);
        cr_assert_eq(ringo_await(t), SIGUSR1);
    }
    return 0;
}

Test(signal, waits_again_after_a_delivery)
{
    cr_assert_eq(run_clean(again_main, NULL), 0);
}

static int kill_self(void *arg)
{
    (void)arg;
    return kill(getpid(), SIGUSR1) == 0 ? 0 : -errno;
}

static int worker_main(void *arg)
{
    (void)arg;
    ringo_task *t = waiting(wait_usr1);
    cr_assert_eq(ringo_to_thread(kill_self, NULL), 0);
    cr_assert_eq(ringo_await(t), SIGUSR1);
    return 0;
}

Test(signal, signal_sent_from_a_worker_thread_reaches_the_waiter)
{
    cr_assert_eq(run_clean(worker_main, NULL), 0);
}

static int child_main(void *arg)
{
    (void)arg;
    ringo_task *t = waiting(wait_usr1);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(kill(getppid(), SIGUSR1) == 0 ? 0 : 1);
    cr_assert_eq(ringo_await(t), SIGUSR1);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return 0;
}

Test(signal, signal_from_another_process_reaches_the_waiter)
{
    cr_assert_eq(run_clean(child_main, NULL), 0);
}

/* ---- leaving the wait ---------------------------------------------------- */

static int cancel_main(void *arg)
{
    (void)arg;
    ringo_task *a = waiting(wait_usr1), *b = waiting(wait_usr1);
    cr_assert_eq(ringo_cancel(a), 0);
    cr_assert_eq(ringo_await(a), -ECANCELED);
    cr_assert(blocked(SIGUSR1), "b still waits");
    cr_assert_eq(ringo_cancel(b), 0);
    cr_assert_eq(ringo_await(b), -ECANCELED);
    cr_assert_not(blocked(SIGUSR1), "the last waiter left: mask restored");
    return 0;
}

Test(signal, cancelled_waiter_returns_ecanceled_and_restores_the_mask)
{
    cr_assert_eq(run_clean(cancel_main, NULL), 0);
}

static int deadline_main(void *arg)
{
    (void)arg;
    int64_t old = ringo_deadline(ringo_now() + RINGO_MS(20));
    cr_assert_eq(ringo_wait_signal(SIGUSR1), -ETIMEDOUT);
    ringo_deadline(old);
    cr_assert_not(blocked(SIGUSR1));
    return 0;
}

Test(signal, deadline_returns_etimedout)
{
    cr_assert_eq(run_clean(deadline_main, NULL), 0);
}

/* A signal the user already blocks stays blocked after the wait. */
static int user_blocked_main(void *arg)
{
    (void)arg;
    set_blocked(SIGUSR2, true);
    ringo_task *t = waiting(wait_usr2);
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    cr_assert(blocked(SIGUSR2), "the previous mask is restored, not cleared");
    set_blocked(SIGUSR2, false);
    return 0;
}

Test(signal, previously_blocked_signal_stays_blocked)
{
    cr_assert_eq(run_clean(user_blocked_main, NULL), 0);
}

/* Main returns with a task still waiting: ringo_run cancels it, and the
 * signalfd and the blocked signal go with the loop. */
static int abandon_main(void *arg)
{
    (void)arg;
    (void)waiting(wait_usr1);   /* reference dropped by ringo_run's cleanup */
    return 0;
}

Test(signal, loop_close_with_a_waiter_left_cleans_up)
{
    cr_assert_eq(run_clean(abandon_main, NULL), 0);
    cr_assert_not(blocked(SIGUSR1));
}

/* ---- outside waits: the normal disposition -------------------------------- */

static atomic_int handled;
static void on_usr1(int signo) { (void)signo; atomic_fetch_add(&handled, 1); }

static int disposition_main(void *arg)
{
    (void)arg;
    cr_assert_eq(kill(getpid(), SIGUSR1), 0);
    cr_assert_eq(atomic_load(&handled), 1, "before any wait, the handler runs");
    ringo_task *t = waiting(wait_usr1);
    cr_assert_eq(kill(getpid(), SIGUSR1), 0);
    cr_assert_eq(ringo_await(t), SIGUSR1);
    cr_assert_eq(atomic_load(&handled), 1, "a waited-for signal is the waiter's only");
    cr_assert_eq(kill(getpid(), SIGUSR1), 0);
    cr_assert_eq(atomic_load(&handled), 2, "after the wait, the handler runs again");
    return 0;
}

Test(signal, normal_disposition_applies_outside_waits)
{
    struct sigaction sa = { .sa_handler = on_usr1 };
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    cr_assert_eq(run_clean(disposition_main, NULL), 0);
}

/* A signal the user blocks stays pending between waits; the next waiter
 * takes it, also while a read for another signal is already in flight. */
static int pending_main(void *arg)
{
    (void)arg;
    set_blocked(SIGUSR2, true);
    cr_assert_eq(kill(getpid(), SIGUSR2), 0);
    cr_assert_eq(ringo_wait_signal(SIGUSR2), SIGUSR2);
    cr_assert_eq(kill(getpid(), SIGUSR2), 0);
    ringo_task *t = waiting(wait_usr1);
    /* A trip through the kernel: the read has found nothing and polls. */
    cr_assert_eq(ringo_sleep(RINGO_MS(1)), 0);
    cr_assert_eq(ringo_wait_signal(SIGUSR2), SIGUSR2);
    cr_assert(blocked(SIGUSR2));
    sigset_t pend;
    sigpending(&pend);
    cr_assert_not(sigismember(&pend, SIGUSR2), "consumed");
    set_blocked(SIGUSR2, false);
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    return 0;
}

Test(signal, pending_signal_the_user_blocks_goes_to_the_next_waiter)
{
    cr_assert_eq(run_clean(pending_main, NULL), 0);
}

/* With its last waiter gone the read is gone too: a task left waiting on
 * something nobody can set is found by the deadlock check, not left hanging
 * on the signalfd. */
static int no_read_main(void *arg)
{
    (void)arg;
    ringo_task *t = waiting(wait_usr1);
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    /* A queue, not an event: an event may be set from another thread, so
     * waiting on one is never a deadlock. */
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new(&q, 1), 0);
    void *item;
    int ret = ringo_queue_get(q, &item);
    ringo_queue_free(q);
    return ret;
}

Test(signal, no_read_in_flight_without_waiters)
{
    stderr_capture_begin();
    int ret = run_clean(no_read_main, NULL);
    free(stderr_capture_end());
    cr_assert_eq(ret, -ECANCELED, "the deadlock breaker cancelled main");
}

/* ---- bad input ----------------------------------------------------------- */

static int bad_main(void *arg)
{
    (void)arg;
    const int bad[] = { 0, -1, SIGKILL, SIGSTOP, 32, SIGRTMAX + 1, 1000 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(ringo_wait_signal(bad[i]), -EINVAL, "signo %d", bad[i]);
    return 0;
}

Test(signal, bad_signo_is_einval)
{
    cr_assert_eq(run_clean(bad_main, NULL), 0);
}

Test(signal, outside_a_task_is_eperm)
{
    cr_assert_eq(ringo_wait_signal(SIGUSR1), -EPERM);
    cr_assert_not(blocked(SIGUSR1));
}
