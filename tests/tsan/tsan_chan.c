/* Channels under ThreadSanitizer: 4 loops on 2 CPUs, producers on two loops
 * and a foreign thread (try_send), consumers on the other two, receivers
 * cancelled or timed out among them. Every item is plain memory written by
 * its producer and read by its consumer. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "tsan_check.h"

#define N 20000

struct item { long seq; int from; };

static ringo_chan *ch;
static _Atomic int producers = 3;
static _Atomic long got, sum;
static struct item items[3][N];

static void produced_all(void)
{
    if (atomic_fetch_sub(&producers, 1) == 1)
        ringo_chan_close(ch);
}

static int victim(void *arg)
{
    (void)arg;
    void *it;
    ringo_deadline(ringo_now() + RINGO_US(50));
    if (ringo_chan_recv(ch, &it) == 0) {   /* served before the interruption */
        atomic_fetch_add(&got, 1);
        atomic_fetch_add(&sum, ((struct item *)it)->seq);
    }
    return 0;
}

static int loop_main(void *arg)
{
    (void)arg;
    unsigned i = ringo_loop_index();
    if (i < 2) {
        for (long k = 0; k < N; k++) {
            items[i][k] = (struct item){ k, (int)i };
            if (ringo_chan_send(ch, &items[i][k]) != 0)
                return -EIO;
        }
        produced_all();
        return 0;
    }
    long k = 0;
    for (;;) {
        if (i == 3 && ++k % 500 == 0) {
            ringo_task *t, *u;
            ringo_spawn(&t, victim, NULL);
            ringo_spawn(&u, victim, NULL);
            ringo_yield();
            ringo_cancel(u);
            ringo_detach(t);
            ringo_detach(u);
        }
        void *it;
        int r = ringo_chan_recv(ch, &it);
        if (r == -EPIPE)
            return 0;
        if (r != 0)
            return r;
        atomic_fetch_add(&got, 1);
        atomic_fetch_add(&sum, ((struct item *)it)->seq);
    }
}

static void *thread_producer(void *arg)
{
    (void)arg;
    for (long k = 0; k < N; k++) {
        items[2][k] = (struct item){ k, 2 };
        while (ringo_chan_try_send(ch, &items[2][k]) == -EAGAIN)
            sched_yield();
    }
    produced_all();
    return NULL;
}

int main(void)
{
    CHECK(ringo_chan_new(&ch, 64) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, thread_producer, NULL) == 0);
    int before = open_fd_count();
    CHECK(ringo_run_loops(NULL, 4, loop_main, NULL) == 0);
    CHECK(open_fd_count() == before);
    pthread_join(th, NULL);
    CHECK(atomic_load(&got) == 3L * N);
    CHECK(atomic_load(&sum) == 3L * N * (N - 1) / 2);
    ringo_chan_free(ch);
    return report("tsan_chan");
}
