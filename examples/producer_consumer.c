/* A work queue: a producer puts jobs into a bounded Queue, N worker tasks
 * take them, each worker marks its job done, the producer waits (join) until
 * every job is done, then cancels the idle workers. asyncio's Queue example,
 * in C.
 *
 * The queue is bounded, so a fast producer waits instead of piling up work
 * (backpressure). Workers block in ringo_queue_get; cancelling them there is
 * the normal way to stop them: the get returns -ECANCELED and they return. */
#include <errno.h>
#include <ringo.h>
#include <stdio.h>
#include <stdlib.h>

#define NWORKERS 3
#define NJOBS    20
#define QUEUE_MAX 4

struct job {
    int id;
    int ms;          /* pretend work: sleep this long */
};

struct worker {
    ringo_queue *q;
    int id;
    int done;        /* jobs this worker finished */
    int total_ms;
};

static int worker_main(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        void *item;
        int ret = ringo_queue_get(w->q, &item);
        if (ret < 0)
            return ret == -ECANCELED ? 0 : ret;   /* cancelled while idle: done */
        struct job *j = item;
        ret = ringo_sleep(RINGO_MS(j->ms));       /* the "work" */
        if (ret == 0) {
            w->done++;
            w->total_ms += j->ms;
        }
        free(j);
        ringo_queue_task_done(w->q);              /* one per item got, always */
        if (ret < 0)
            return ret == -ECANCELED ? 0 : ret;
    }
}

/* Cancel the workers (idle in ringo_queue_get by now, or mid-job if we are
 * bailing out) and wait until each has returned. */
static void stop_workers(ringo_task **tasks, int n)
{
    for (int i = 0; i < n; i++)
        ringo_cancel(tasks[i]);
    for (int i = 0; i < n; i++)
        ringo_await(tasks[i]);
}

/* Put NJOBS jobs; returns the planned work in ms, or a negative errno. */
static int produce(ringo_queue *q)
{
    int planned_ms = 0;
    for (int i = 0; i < NJOBS; i++) {
        struct job *j = malloc(sizeof *j);
        if (!j)
            return -ENOMEM;
        j->id = i;
        j->ms = 5 + (i * 7) % 20;
        int ret = ringo_queue_put(q, j);   /* waits while QUEUE_MAX jobs are pending */
        if (ret < 0) {
            free(j);
            return ret;
        }
        planned_ms += j->ms;
    }
    return planned_ms;
}

static int main_task(void *arg)
{
    (void)arg;
    ringo_queue *q;
    int ret = ringo_queue_new(&q, QUEUE_MAX);
    if (ret < 0)
        return ret;

    struct worker workers[NWORKERS];
    ringo_task *tasks[NWORKERS];
    int started = 0;
    for (; started < NWORKERS; started++) {
        workers[started] = (struct worker){ .q = q, .id = started };
        char name[16];
        snprintf(name, sizeof name, "worker-%d", started);
        ret = ringo_spawn_named(&tasks[started], name, worker_main, &workers[started]);
        if (ret < 0)
            goto out;
    }

    int64_t t0 = ringo_now();
    int planned_ms = produce(q);
    if (planned_ms < 0) {
        ret = planned_ms;
        goto out;
    }
    printf("producer: queued %d jobs (%d ms of work)\n", NJOBS, planned_ms);
    ret = ringo_queue_join(q);             /* until every job got its task_done */
    if (ret < 0)
        goto out;
    double took_ms = (double)(ringo_now() - t0) / RINGO_MS(1);

    /* The workers now wait on an empty queue forever: cancel them. */
    stop_workers(tasks, started);
    int done = 0;
    for (int i = 0; i < NWORKERS; i++) {
        printf("worker-%d: %d jobs, %d ms of work\n", i, workers[i].done, workers[i].total_ms);
        done += workers[i].done;
    }
    printf("done: %d/%d jobs in %.0f ms with %d workers (%.1fx one worker)\n", done, NJOBS,
           took_ms, NWORKERS, planned_ms / took_ms);
    ringo_queue_free(q);
    return done == NJOBS ? 0 : -EIO;

out:
    stop_workers(tasks, started);
    /* Jobs still queued are lost with the queue here: drain and free them. */
    void *item;
    while (ringo_queue_get_nowait(q, &item) == 0)
        free(item);
    ringo_queue_free(q);
    return ret;
}

int main(void)
{
    int ret = ringo_run(main_task, NULL);
    if (ret < 0)
        fprintf(stderr, "producer_consumer: %d\n", ret);
    return ret < 0 ? 1 : 0;
}
