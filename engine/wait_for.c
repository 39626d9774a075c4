/* ringo_wait_for: asyncio.wait_for (3.12: `async with timeout(): await t`).
 *
 * The timeout is a deadline of the caller's, lowered for the duration of the
 * await and restored afterwards: ringo__await_done then does all the work
 * (arm the timer, cancel t on expiry, wait until t has really finished, also
 * when the caller is cancelled meanwhile). What is left here is telling our
 * expiry from the caller's own deadline, and asyncio's rules for the outcome:
 *  - t finished before the expiry took effect (even at the same instant: the
 *    caller was already woken, so the timer found nothing to interrupt):
 *    its status is returned;
 *  - t was cancelled by the expiry and ended with -ECANCELED: -ETIMEDOUT;
 *  - t failed otherwise while unwinding (another negative errno): that
 *    status, as asyncio re-raises an exception raised during cancellation. */
#include "engine/internal.h"

int ringo_wait_for(ringo_task *t, int64_t timeout_ns)
{
    if (timeout_ns < 0)
        return ringo_await(t);
    ringo_loop *l = ringo__loop;
    int ret = ringo__awaitable(l, t);
    if (ret < 0)
        return ret;
    ringo_task *cur = l->current;
    t->awaited = true;

    int64_t outer = cur->deadline;
    int64_t now = ringo_now();
    int64_t at = timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
    bool ours = at < outer;
    /* Already finished: its status, even with timeout 0 (asyncio's fast path),
     * unless the caller itself is interrupted (then as ringo_await). */
    if (t->state != RINGO_T_DONE || cur->cancelled || (outer != INT64_MAX && now >= outer)) {
        if (ours)
            cur->deadline = at;
        ret = ringo__await_done(l, t);
        cur->deadline = outer;
    }
    int status;
    if (!ringo__await_release(t, &status))
        return ret;
    if (ret == -ETIMEDOUT && ours && (outer == INT64_MAX || ringo_now() < outer))
        return status == -ECANCELED ? -ETIMEDOUT : status;
    return ret ? ret : status;
}
