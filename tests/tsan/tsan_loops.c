/* Many loops under ThreadSanitizer: cross-loop spawn, await and cancel, the
 * inbox under foreign threads through shutdown, run_threadsafe, events set
 * from another loop and from a foreign thread. Each task's results are
 * plain memory written on one loop and read on another: TSan checks that
 * every hand-over is a real synchronization. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "tsan_check.h"

struct job { int in, out; };

static int square(void *arg)
{
    struct job *j = arg;
    j->out = j->in * j->in + (int)ringo_loop_index();
    return 0;
}

static int sleeper(void *arg)
{
    int *res = arg;
    *res = ringo_sleep(RINGO_SEC(30));
    return 0;
}

static ringo_event *stop[4];

static int serve_until_stopped(void)
{
    return ringo_event_wait(stop[ringo_loop_index()]);
}

static int loops_main(void *arg)
{
    (void)arg;
    unsigned n = ringo_loop_count();
    if (ringo_loop_index() != 0)
        return serve_until_stopped();
    static struct job jobs[2000];
    for (int i = 0; i < 2000; i++) {
        jobs[i].in = i;
        ringo_task *t;
        CHECK(ringo_spawn_on(ringo_loop_at(1 + (unsigned)i % (n - 1)), &t, square, &jobs[i]) == 0);
        CHECK(ringo_await(t) == 0);
        CHECK(jobs[i].out == i * i + 1 + i % (int)(n - 1));
    }
    /* Cancel a task of another loop in the middle of its sleep. */
    int res[64];
    ringo_task *t[64];
    for (int i = 0; i < 64; i++) {
        res[i] = 1;
        CHECK(ringo_spawn_on(ringo_loop_at(1), &t[i], sleeper, &res[i]) == 0);
    }
    CHECK(ringo_sleep(RINGO_MS(5)) == 0);
    for (int i = 0; i < 64; i++)
        CHECK(ringo_cancel(t[i]) == 0);
    CHECK(ringo_gather(t, 64, NULL) == -ECANCELED);
    for (int i = 0; i < 64; i++)
        CHECK(res[i] == -ECANCELED || res[i] == 1);   /* 1: cancelled before it ran */
    for (unsigned k = 1; k < n; k++)
        ringo_event_set(stop[k]);   /* from another loop */
    return 0;
}

/* ---- a foreign thread ----------------------------------------------------- */

struct foreign {
    ringo_loop *loop;
    _Atomic bool go;
    long accepted, ran;            /* accepted: the thread's; ran: the loop's */
    int counter;                   /* written by tasks, read after the run */
    ringo_event *done;
};

static int bump(void *arg)
{
    struct foreign *f = arg;
    f->counter++;
    f->ran++;
    return 0;
}

static int last(void *arg)
{
    struct foreign *f = arg;
    ringo_event_set(f->done);
    return 0;
}

static void *foreign_thread(void *arg)
{
    struct foreign *f = arg;
    while (!atomic_load(&f->go))
        sched_yield();
    for (int i = 0; i < 20000; i++)
        if (ringo_call_soon_threadsafe(f->loop, bump, f) == 0)
            f->accepted++;
    struct job j = { .in = 12 };
    CHECK(ringo_run_threadsafe(f->loop, square, &j) == 0);
    CHECK(j.out == 144);   /* written on the loop, read here */
    ringo_call_soon_threadsafe(f->loop, last, f);
    return NULL;
}

static int foreign_main(void *arg)
{
    struct foreign *f = arg;
    f->loop = ringo_loop_current();
    atomic_store(&f->go, true);
    return ringo_event_wait(f->done);
}

static void *setter(void *arg)
{
    usleep(2000);
    ringo_event_set(arg);
    return NULL;
}

static int set_main(void *arg)
{
    ringo_event *e = arg;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, setter, e) == 0);
    CHECK(ringo_event_wait(e) == 0);
    pthread_join(th, NULL);
    return 0;
}

int main(void)
{
    int before = open_fd_count();
    for (unsigned n = 2; n <= 4; n += 2) {   /* 4: more loops than CPUs */
        /* New events per run: an event belongs to a loop, for good. */
        for (int i = 0; i < 4; i++)
            CHECK(ringo_event_new(&stop[i]) == 0);
        CHECK(ringo_run_loops(NULL, n, loops_main, NULL) == 0);
        for (int i = 0; i < 4; i++)
            ringo_event_free(stop[i]);
    }
    CHECK(open_fd_count() == before);

    struct foreign f = { .go = false };
    CHECK(ringo_event_new(&f.done) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, foreign_thread, &f) == 0);
    run_clean(foreign_main, &f);
    pthread_join(th, NULL);
    CHECK(f.ran == f.accepted);
    CHECK(f.counter == f.accepted);
    ringo_event_free(f.done);

    ringo_event *e;
    CHECK(ringo_event_new(&e) == 0);
    run_clean(set_main, e);
    ringo_event_free(e);
    return report("tsan_loops");
}
