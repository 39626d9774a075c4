/* Futures under ThreadSanitizer: two loops wait on each of N futures while
 * two foreign threads race to set it, some rounds before the waits start
 * (the loops hold back until it is set), some after (the setters hold back
 * until both loops arrived), the rest whenever. The value is plain memory
 * written by the winning setter and read by every waiter. Waiters that are
 * cancelled or time out come and go meanwhile, and a second future per
 * round is freed by its only waiter as soon as the wait returns, while its
 * setter may still be on its way out of the set. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "tsan_check.h"

#define N 20000

static ringo_future *fut[N], *solo[N];
static long pay[2][N];                 /* each setter's value for round k */
static _Atomic int arrived[N];         /* loops about to wait in round k */
static _Atomic bool is_set[N];
static _Atomic long bad, seen, victims, found_set, found_unset;

static int victim(void *arg)
{
    ringo_future *f = arg;
    ringo_deadline(ringo_now() + RINGO_US(20));
    void *v;
    int r = ringo_future_wait(f, &v);
    if (r != -ETIMEDOUT && r != -ECANCELED && r != 0 && r != 1)
        atomic_fetch_add(&bad, 1);
    atomic_fetch_add(&victims, 1);
    return 0;
}

static void check(long k, int status, void *v)
{
    if ((status != 0 && status != 1) || v != &pay[status][k] || *(long *)v != k * 7 + status)
        atomic_fetch_add(&bad, 1);
    atomic_fetch_add(&seen, 1);
}

static int loop_main(void *arg)
{
    (void)arg;
    unsigned me = ringo_loop_index();
    for (long k = 0; k < N; k++) {
        if (k % 4 == 0)
            while (!atomic_load(&is_set[k]))
                sched_yield();   /* set before the wait starts */
        if (me == 0 && k % 16 == 3 && k + 1 < N) {
            ringo_task *t, *u;
            ringo_spawn(&t, victim, fut[k + 1]);
            ringo_spawn(&u, victim, fut[k + 1]);
            ringo_yield();
            ringo_cancel(u);
            ringo_detach(t);
            ringo_detach(u);
        }
        atomic_fetch_add(&arrived[k], 1);
        atomic_fetch_add(ringo_future_done(fut[k]) ? &found_set : &found_unset, 1);
        void *v = NULL;
        int st = ringo_future_wait(fut[k], &v);
        check(k, st, v);
        if (me == 1) {
            st = ringo_future_wait(solo[k], &v);
            if (st != 2 || v != &pay[0][k])
                atomic_fetch_add(&bad, 1);
            ringo_future_free(solo[k]);   /* the set may not have returned yet */
        }
    }
    return 0;
}

static void *setter(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (long k = 0; k < N; k++) {
        if (k % 4 == 1 || k % 4 == 3)
            while (atomic_load(&arrived[k]) < 2)
                sched_yield();   /* set after the waits start (or just before) */
        pay[id][k] = k * 7 + id;
        int r = ringo_future_set(fut[k], id, &pay[id][k]);
        if (r != 0 && r != -EALREADY)
            atomic_fetch_add(&bad, 1);
        if (id == 0) {
            if (ringo_future_set(solo[k], 2, &pay[0][k]) != 0)
                atomic_fetch_add(&bad, 1);
        }
        atomic_store(&is_set[k], true);   /* one setter's result is in */
    }
    return NULL;
}

int main(void)
{
    for (long k = 0; k < N; k++) {
        CHECK(ringo_future_new(&fut[k]) == 0);
        CHECK(ringo_future_new(&solo[k]) == 0);
    }
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&th[i], NULL, setter, (void *)(intptr_t)i) == 0);
    int before = open_fd_count();
    CHECK(ringo_run_loops(NULL, 2, loop_main, NULL) == 0);
    CHECK(open_fd_count() == before);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK(atomic_load(&bad) == 0);
    CHECK(atomic_load(&seen) == 2L * N);
    CHECK(atomic_load(&victims) > 0);
    /* Both orders happened: waits that found it set, and waits that began
     * before the set (most of which suspended). */
    CHECK(atomic_load(&found_set) > 0);
    CHECK(atomic_load(&found_unset) > 0);
    printf("tsan_future: %ld waits found the future set, %ld began before the set\n",
           atomic_load(&found_set), atomic_load(&found_unset));
    for (long k = 0; k < N; k++) {
        CHECK(ringo_future_done(fut[k]));
        CHECK(ringo_future_set(fut[k], 5, NULL) == -EALREADY);
        ringo_future_free(fut[k]);
    }
    return report("tsan_future");
}
