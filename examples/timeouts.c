/* Timeouts, shielding and deadlines:
 *  1. ringo_wait_for gives up on a slow task (cancelling it and waiting until
 *     it has cleaned up);
 *  2. ringo_shield keeps a "save" going when the request that started it is
 *     cancelled;
 *  3. ringo_deadline bounds a few operations together (asyncio.timeout). */
#include <errno.h>
#include <ringo.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static long long ms_since(int64_t t0) { return (long long)((ringo_now() - t0) / RINGO_MS(1)); }

/* ---- 1. wait_for ---- */

static int slow_fetch(void *arg)
{
    (void)arg;
    int ret = ringo_sleep(RINGO_SEC(5));   /* pretend to be a slow server */
    if (ret == -ECANCELED)
        printf("  fetch: cancelled, cleaning up\n");
    return ret;
}

static void demo_wait_for(void)
{
    int64_t t0 = ringo_now();
    ringo_task *t;
    if (ringo_spawn(&t, slow_fetch, NULL) < 0)
        return;
    int ret = ringo_wait_for(t, RINGO_MS(100));   /* releases t in every case */
    printf("wait_for: %s after %lld ms\n", ret == -ETIMEDOUT ? "timed out" : strerror(-ret),
           ms_since(t0));
}

/* ---- 2. shield ---- */

struct save { ringo_event *done; int64_t t0; };

static int save_to_disk(void *arg)
{
    struct save *s = arg;
    int ret = ringo_sleep(RINGO_MS(50));   /* the write and fsync */
    printf("  save: finished after %lld ms (%s)\n", ms_since(s->t0), ret ? "failed" : "ok");
    ringo_event_set(s->done);
    return ret;
}

static int handle_request(void *arg)
{
    ringo_task *t;
    int ret = ringo_spawn(&t, save_to_disk, arg);
    if (ret < 0)
        return ret;
    /* If this request is cancelled, the save must still happen. */
    ret = ringo_shield(t);
    printf("  request: shield returned %s\n", ret == -ECANCELED ? "-ECANCELED" : "the result");
    return ret;
}

static void demo_shield(void)
{
    struct save s = { .t0 = ringo_now() };
    if (ringo_event_new(&s.done) < 0)
        return;
    ringo_task *req;
    if (ringo_spawn(&req, handle_request, &s) == 0) {
        ringo_sleep(RINGO_MS(10));
        ringo_cancel(req);        /* the client went away */
        int ret = ringo_await(req);
        printf("shield: request ended (%s) after %lld ms; waiting for the save\n",
               strerror(-ret), ms_since(s.t0));
        ringo_event_wait(s.done);
    }
    ringo_event_free(s.done);
}

/* ---- 3. deadline ---- */

static void demo_deadline(void)
{
    int fds[2];
    if (pipe(fds) < 0)
        return;
    int64_t t0 = ringo_now();
    int64_t old = ringo_deadline(t0 + RINGO_MS(80));   /* save to restore */
    char buf[16];
    ssize_t n = ringo_write(fds[1], "ping", 4, -1);
    printf("deadline: write -> %zd\n", n);
    n = ringo_read(fds[0], buf, sizeof buf, -1);
    printf("deadline: read -> %zd\n", n);
    n = ringo_read(fds[0], buf, sizeof buf, -1);   /* nothing more will come */
    printf("deadline: second read -> %s after %lld ms\n",
           n == -ETIMEDOUT ? "-ETIMEDOUT" : "data?", ms_since(t0));
    printf("deadline: sleep past it -> %s (every call times out now)\n",
           strerror(-ringo_sleep(1)));
    ringo_deadline(old);
    printf("deadline: restored, sleep -> %d\n", ringo_sleep(RINGO_MS(1)));
    close(fds[0]);
    close(fds[1]);
}

static int main_task(void *arg)
{
    (void)arg;
    demo_wait_for();
    demo_shield();
    demo_deadline();
    return 0;
}

int main(void)
{
    return ringo_run(main_task, NULL) ? 1 : 0;
}
