/* tests/tsan/tsan_to_thread.c: ringo_to_thread under ThreadSanitizer. Each
 * task hands a job to the worker pool and reads what the worker wrote, with
 * no lock of its own: the pool must order the task's writes before the job
 * and the worker's writes before the task resumes. A shared counter under a
 * mutex shows every job ran exactly once. Between rounds the workers idle
 * out, so the next round also starts threads and joins the exited ones. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "tsan_check.h"

#define NTASKS 64
#define ROUNDS 4

typedef struct slot {
    int in;             /* written by the task before the job */
    int out;            /* written by the worker */
    unsigned ticket;    /* the counter's value when the job ran */
} slot;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned counter;
static slot slots[NTASKS];

static int work(void *arg)
{
    slot *s = arg;
    pthread_mutex_lock(&mu);
    s->ticket = ++counter;
    pthread_mutex_unlock(&mu);
    s->out = 2 * s->in + 1;
    return s->in;
}

static int task(void *arg)
{
    slot *s = arg;
    s->in = (int)(s - slots);
    s->out = -1;
    int ret = ringo_to_thread(work, s);
    if (ret != s->in || s->out != 2 * s->in + 1)
        return -EPROTO;
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    for (int r = 0; r < ROUNDS; r++) {
        ringo_task *t[NTASKS];
        for (int i = 0; i < NTASKS; i++)
            CHECK(ringo_spawn(&t[i], task, &slots[i]) == 0);
        for (int i = 0; i < NTASKS; i++)
            CHECK(ringo_await(t[i]) == 0);
        /* Read without the mutex: every job has come back to the loop. */
        CHECK(counter == (unsigned)(r + 1) * NTASKS);
        bool seen[NTASKS] = { false };
        bool unique = true;
        for (int i = 0; i < NTASKS; i++) {
            unsigned k = slots[i].ticket - 1 - (unsigned)r * NTASKS;
            unique = unique && k < NTASKS && !seen[k];
            if (k < NTASKS)
                seen[k] = true;
        }
        CHECK(unique);
        CHECK(ringo_sleep(RINGO_MS(20)) == 0);
    }
    return 0;
}

int main(void)
{
    setenv("RINGO_WORKER_IDLE_MS", "1", 1);
    run_clean(main_task, NULL);
    return report("tsan_to_thread");
}
