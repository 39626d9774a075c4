/* One io_uring operation awaited by the current task. The task is resumed
 * only by the op's own CQE, also when cancelled: the cancel request is a
 * second SQE, and the kernel is done with the op's buffers once its CQE has
 * arrived. A task deadline rides along as an IORING_OP_LINK_TIMEOUT.
 *
 * An op cut by its linked timeout is a timer-driven wake-up like any other:
 * the task is not woken from the CQE but through the timer heap, where it
 * takes its place by deadline among the sleeps and deadlines that expired
 * in the same batch (the kernel posts those CQEs in submission order). */
#include "engine/internal.h"

static void timed_out_fire(ringo__timer *tm)
{
    ringo__wake(((ringo__op *)((char *)tm - offsetof(ringo__op, tm)))->task);
}

void ringo__op_complete(ringo__cqe_handler *h, const struct io_uring_cqe *cqe)
{
    ringo__op *op = (ringo__op *)h;
    ringo_loop *l = op->task->loop;
    op->res = cqe->res;
    op->cqe_flags = cqe->flags;
    l->inflight--;
    if (RINGO_UNLIKELY(op->tm.fire) && (cqe->res == -ECANCELED || cqe->res == -EINTR) &&
        !op->task->cancelled && ringo__timer_insert(l, &op->tm) == 0)
        return;
    ringo__wake(op->task);
}

static void op_cancel(ringo__wait *w)
{
    ringo__op *op = (ringo__op *)((char *)w - offsetof(ringo__op, wait));
    struct io_uring_sqe *sqe = ringo__sqe(op->task->loop);
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&op->h, 0);
    io_uring_sqe_set_data64(sqe, 0);
}

int ringo__op_wait(ringo_loop *l, ringo__op *op, struct io_uring_sqe *sqe)
{
    return ringo__op_wait_as(l, op, sqe, ringo__op_complete);
}

int ringo__op_wait_as(ringo_loop *l, ringo__op *op, struct io_uring_sqe *sqe,
                      void (*complete)(ringo__cqe_handler *h, const struct io_uring_cqe *cqe))
{
    ringo_task *cur = l->current;
    op->h.complete = complete;
    op->wait.cancel = op_cancel;
    op->wait.why = 0;
    op->task = cur;
    io_uring_sqe_set_data(sqe, &op->h);
    op->tm.fire = NULL;
    op->tm.idx = RINGO_TIMER_IDLE;
    /* Lives on this frame until the op's CQE: the kernel reads it at submit. */
    struct __kernel_timespec ts;
    if (cur->deadline != INT64_MAX) {
        op->tm = (ringo__timer){ .at = cur->deadline, .seq = ringo__timer_ticket(l),
                                 .idx = RINGO_TIMER_IDLE, .fire = timed_out_fire };
        ts.tv_sec = cur->deadline / RINGO_SEC(1);
        ts.tv_nsec = cur->deadline % RINGO_SEC(1);
        sqe->flags |= IOSQE_IO_LINK;
        /* ringo__sqe left this slot free: taking it with ringo__sqe could
         * flush the SQ first and submit the op without its link. */
        struct io_uring_sqe *lt = io_uring_get_sqe(&l->ring);
        io_uring_prep_link_timeout(lt, &ts, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(lt, 0);
    }
    l->inflight++;
    ringo__suspend(l, &op->wait);
    ringo__timer_del(l, &op->tm);   /* woken otherwise while parked: a no-op */
    if (op->res == -ECANCELED || op->res == -EINTR) {
        if (cur->cancelled)
            return -ECANCELED;
        if (ringo__past_deadline(cur))
            return -ETIMEDOUT;
    }
    return op->res;
}
