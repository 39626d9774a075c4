/* Time: the clock and sleeping on an absolute IORING_OP_TIMEOUT (absolute, so
 * time spent before the batched submit does not stretch the sleep). */
#include <time.h>

#include "engine/internal.h"

int64_t ringo_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * RINGO_SEC(1) + ts.tv_nsec;
}

int ringo_sleep(int64_t ns)
{
    if (ns <= 0)
        return ringo_yield();
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    ringo_task *cur = l->current;
    int64_t at = ringo_now();
    at = ns > INT64_MAX - at ? INT64_MAX : at + ns;
    /* Past the deadline the sleep is cut short, as asyncio.timeout would. */
    bool cut = cur->deadline < at;
    if (cut)
        at = cur->deadline;
    struct __kernel_timespec ts = { .tv_sec = at / RINGO_SEC(1), .tv_nsec = at % RINGO_SEC(1) };
    int64_t saved = cur->deadline;
    cur->deadline = INT64_MAX;   /* the timeout itself is the deadline: no link */
    ringo__op op;
    struct io_uring_sqe *sqe = ringo__sqe(l);
    io_uring_prep_timeout(sqe, &ts, 0, IORING_TIMEOUT_ABS);
    ret = ringo__op_wait(l, &op, sqe);
    cur->deadline = saved;
    if (cur->cancelled)
        return -ECANCELED;
    if (ret == -ETIME)
        return cut ? -ETIMEDOUT : 0;
    return ret;
}
