/* ringo_to_thread (asyncio.to_thread): a user function as a worker pool job. */
#include "engine/pool.h"

typedef struct thread_job {
    struct ringo__job job;         /* first: the pool hands back &job */
    ringo_fn fn;
    void *arg;
    int status;
} thread_job;

static void run_fn(struct ringo__job *j)
{
    thread_job *tj = (thread_job *)j;
    tj->status = tj->fn(tj->arg);
}

int ringo_to_thread(ringo_fn fn, void *arg)
{
    if (!fn)
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    thread_job tj = { .job.work = run_fn, .job.what = "to_thread", .fn = fn, .arg = arg };
    ret = ringo__workers_run(l, &tj.job);
    return ret < 0 ? ret : tj.status;
}
