/* as_completed: finishing order (those done already first), a task given
 * twice returned once, timeouts (0, a wait-local one, the caller's
 * deadline) that cancel nothing, cancellation of the caller, one waiter at
 * a time, tasks of another loop, errors. Ported in spirit from CPython's
 * test_asyncio/test_tasks.py (test_as_completed*). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "loops_helpers.h"

#define N 4

struct gate { ringo_event *ev; int id; };

/* Finishes when its event is set, with its id as status. */
static int gated(void *arg)
{
    struct gate *g = arg;
    int ret = ringo_event_wait(g->ev);
    return ret < 0 ? ret : g->id;
}

static int quick(void *arg)
{
    return ((struct gate *)arg)->id;
}

struct fixture { struct gate g[N]; ringo_task *t[N]; };

static void spawn_gated(struct fixture *f)
{
    for (int i = 0; i < N; i++) {
        cr_assert_eq(ringo_event_new(&f->g[i].ev), 0);
        f->g[i].id = 10 + i;
        cr_assert_eq(ringo_spawn(&f->t[i], gated, &f->g[i]), 0);
    }
}

static void free_events(struct fixture *f)
{
    for (int i = 0; i < N; i++)
        ringo_event_free(f->g[i].ev);
}

static int order_main(void *arg)
{
    (void)arg;
    struct fixture f;
    spawn_gated(&f);
    ringo_completions *c;
    cr_assert_eq(ringo_as_completed_new(&c, f.t, N), 0);
    int order[N] = { 2, 0, 3, 1 };
    for (int k = 0; k < N; k++) {
        ringo_event_set(f.g[order[k]].ev);
        ringo_task *done;
        cr_assert_eq(ringo_as_completed_next(c, -1, &done), 0);
        cr_assert_eq(done, f.t[order[k]], "finish %d: the wrong task", k);
        cr_assert_eq(ringo_await(done), 10 + order[k]);
    }
    ringo_task *done = NULL;
    cr_assert_eq(ringo_as_completed_next(c, -1, &done), -ENOENT);
    cr_assert_eq(ringo_as_completed_next(c, 0, &done), -ENOENT);
    cr_assert_null(done, "not written on failure");
    ringo_as_completed_free(c);
    free_events(&f);
    return 0;
}

Test(as_completed, returns_tasks_in_the_order_they_finish)
{
    cr_assert_eq(run_clean(order_main, NULL), 0);
}

static int done_first_main(void *arg)
{
    (void)arg;
    struct fixture f;
    spawn_gated(&f);
    /* Tasks 1 and 3 finish before as_completed starts; 3 finishes first. */
    ringo_task *q1, *q3;
    struct gate g1 = { .id = 21 }, g3 = { .id = 23 };
    cr_assert_eq(ringo_spawn(&q3, quick, &g3), 0);
    cr_assert_eq(ringo_spawn(&q1, quick, &g1), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert(ringo_task_done(q1) && ringo_task_done(q3));
    ringo_task *all[] = { f.t[0], q1, f.t[1], q3 };
    ringo_completions *c;
    cr_assert_eq(ringo_as_completed_new(&c, all, 4), 0);
    ringo_event_set(f.g[1].ev);
    cr_assert_eq(ringo_yield(), 0);   /* f.t[1] finishes now */
    ringo_task *done;
    cr_assert_eq(ringo_as_completed_next(c, 0, &done), 0);
    cr_assert_eq(done, q1, "those done at the start come first, in the order given");
    cr_assert_eq(ringo_as_completed_next(c, 0, &done), 0);
    cr_assert_eq(done, q3);
    cr_assert_eq(ringo_as_completed_next(c, 0, &done), 0);
    cr_assert_eq(done, f.t[1]);
    cr_assert_eq(ringo_as_completed_next(c, 0, &done), -ETIMEDOUT, "0: do not wait");
    ringo_event_set(f.g[0].ev);
    cr_assert_eq(ringo_as_completed_next(c, -1, &done), 0);
    cr_assert_eq(done, f.t[0]);
    cr_assert_eq(ringo_as_completed_next(c, -1, &done), -ENOENT);
    ringo_as_completed_free(c);
    cr_assert_eq(ringo_await(q1), 21);
    cr_assert_eq(ringo_await(q3), 23);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(ringo_await(f.t[i]), 10 + i);
    for (int i = 2; i < N; i++) {
        ringo_event_set(f.g[i].ev);
        cr_assert_eq(ringo_await(f.t[i]), 10 + i);
    }
    free_events(&f);
    return 0;
}

Test(as_completed, tasks_done_at_the_start_come_first)
{
    cr_assert_eq(run_clean(done_first_main, NULL), 0);
}

static int dup_main(void *arg)
{
    (void)arg;
    struct fixture f;
    spawn_gated(&f);
    ringo_task *given[] = { f.t[1], f.t[0], f.t[1], f.t[1], f.t[0] };
    ringo_completions *c;
    cr_assert_eq(ringo_as_completed_new(&c, given, 5), 0);
    ringo_event_set(f.g[0].ev);
    ringo_event_set(f.g[1].ev);
    ringo_task *seen[2];
    for (int k = 0; k < 2; k++)
        cr_assert_eq(ringo_as_completed_next(c, -1, &seen[k]), 0);
    cr_assert_neq(seen[0], seen[1], "a task given twice is returned once");
    ringo_task *done;
    cr_assert_eq(ringo_as_completed_next(c, -1, &done), -ENOENT);
    ringo_as_completed_free(c);
    /* A task done before the start, given twice: once too. */
    ringo_task *again[] = { f.t[0], f.t[0] };
    cr_assert_eq(ringo_as_completed_new(&c, again, 2), 0);
    cr_assert_eq(ringo_as_completed_next(c, 0, &done), 0);
    cr_assert_eq(done, f.t[0]);
    cr_assert_eq(ringo_as_completed_next(c, 0, &done), -ENOENT);
    ringo_as_completed_free(c);
    for (int i = 0; i < N; i++) {
        ringo_event_set(f.g[i].ev);
        cr_assert_eq(ringo_await(f.t[i]), 10 + i);
    }
    free_events(&f);
    return 0;
}

Test(as_completed, a_task_given_twice_is_returned_once)
{
    cr_assert_eq(run_clean(dup_main, NULL), 0);
}

static int timeout_main(void *arg)
{
    (void)arg;
    struct fixture f;
    spawn_gated(&f);
    ringo_completions *c;
    cr_assert_eq(ringo_as_completed_new(&c, f.t, N), 0);
    ringo_task *done;
    int64_t t0 = ringo_now();
    cr_assert_eq(ringo_as_completed_next(c, RINGO_MS(20), &done), -ETIMEDOUT);
    cr_assert_geq(ringo_now() - t0, RINGO_MS(15));
    for (int i = 0; i < N; i++)
        cr_assert_not(ringo_task_done(f.t[i]), "a timeout cancels nothing");
    /* The caller's own deadline: -ETIMEDOUT as well, and restored after. */
    int64_t old = ringo_deadline(ringo_now() + RINGO_MS(10));
    cr_assert_eq(ringo_as_completed_next(c, RINGO_SEC(10), &done), -ETIMEDOUT);
    ringo_deadline(old);
    /* A task finishing within the timeout is returned. */
    ringo_event_set(f.g[3].ev);
    cr_assert_eq(ringo_as_completed_next(c, RINGO_SEC(10), &done), 0);
    cr_assert_eq(done, f.t[3]);
    cr_assert_eq(ringo_await(done), 13);
    /* After a timeout the wait-local deadline is gone: a later sleep runs
     * its full length. */
    cr_assert_eq(ringo_as_completed_next(c, RINGO_MS(1), &done), -ETIMEDOUT);
    cr_assert_eq(ringo_sleep(RINGO_MS(5)), 0);
    for (int i = 0; i < 3; i++) {
        ringo_event_set(f.g[i].ev);
        cr_assert_eq(ringo_as_completed_next(c, RINGO_SEC(10), &done), 0);
        cr_assert_eq(done, f.t[i]);
        cr_assert_eq(ringo_await(done), 10 + i);
    }
    cr_assert_eq(ringo_as_completed_next(c, RINGO_MS(1), &done), -ENOENT);
    ringo_as_completed_free(c);
    free_events(&f);
    return 0;
}

Test(as_completed, timeouts_return_etimedout_and_the_tasks_run_on)
{
    cr_assert_eq(run_clean(timeout_main, NULL), 0);
}

struct nexter { ringo_completions *c; int ret; ringo_task *done; };

static int nexter(void *arg)
{
    struct nexter *n = arg;
    n->ret = ringo_as_completed_next(n->c, -1, &n->done);
    return 0;
}

static int cancel_main(void *arg)
{
    (void)arg;
    struct fixture f;
    spawn_gated(&f);
    ringo_completions *c;
    cr_assert_eq(ringo_as_completed_new(&c, f.t, N), 0);
    struct nexter n = { .c = c, .ret = 1 };
    ringo_task *tn;
    cr_assert_eq(ringo_spawn(&tn, nexter, &n), 0);
    cr_assert_eq(ringo_yield(), 0);
    ringo_task *done;
    cr_assert_eq(ringo_as_completed_next(c, -1, &done), -EBUSY, "one waiter at a time");
    stderr_capture_begin();
    ringo_as_completed_free(c);
    char *err = stderr_capture_end();
    cr_assert_not_null(strstr(err, "ringo_as_completed_free: 1 task still waits"),
                       "stderr: %s", err);
    free(err);
    cr_assert_eq(ringo_cancel(tn), 0);
    cr_assert_eq(ringo_await(tn), -ECANCELED);
    cr_assert_eq(n.ret, -ECANCELED);
    for (int i = 0; i < N; i++)
        cr_assert_not(ringo_task_done(f.t[i]), "cancelling the caller cancels no task");
    /* Finished while nobody waited in _next: still returned. */
    ringo_event_set(f.g[2].ev);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_as_completed_next(c, 0, &done), 0);
    cr_assert_eq(done, f.t[2]);
    cr_assert_eq(ringo_await(done), 12);
    /* Freed with tasks still watched: they run on, unharmed. */
    ringo_as_completed_free(c);
    for (int i = 0; i < N; i++) {
        if (i == 2)
            continue;
        ringo_event_set(f.g[i].ev);
        cr_assert_eq(ringo_await(f.t[i]), 10 + i);
    }
    free_events(&f);
    return 0;
}

Test(as_completed, cancelled_caller_and_a_second_waiter)
{
    cr_assert_eq(run_clean(cancel_main, NULL), 0);
}

static int errors_main(void *arg)
{
    (void)arg;
    struct gate g = { .id = 5 };
    ringo_task *t, *gone;
    cr_assert_eq(ringo_spawn(&t, quick, &g), 0);
    cr_assert_eq(ringo_spawn(&gone, quick, &g), 0);
    cr_assert_eq(ringo_await(gone), 5);   /* released: not the caller's now */
    ringo_completions *c;
    ringo_task *none[] = { NULL };
    ringo_task *self[] = { ringo_self() };
    ringo_task *list[] = { t };
    cr_assert_eq(ringo_as_completed_new(NULL, list, 1), -EINVAL);
    cr_assert_eq(ringo_as_completed_new(&c, NULL, 1), -EINVAL);
    cr_assert_eq(ringo_as_completed_new(&c, list, 0), -EINVAL);
    cr_assert_eq(ringo_as_completed_new(&c, none, 1), -EINVAL);
    cr_assert_eq(ringo_as_completed_new(&c, self, 1), -EINVAL);
    cr_assert_eq(ringo_as_completed_next(NULL, 0, &t), -EINVAL);
    cr_assert_eq(ringo_as_completed_new(&c, list, 1), 0);
    cr_assert_eq(ringo_as_completed_next(c, 0, NULL), -EINVAL);
    ringo_task *done;
    cr_assert_eq(ringo_as_completed_next(c, -1, &done), 0);
    cr_assert_eq(ringo_await(done), 5);
    ringo_as_completed_free(c);
    ringo_as_completed_free(NULL);
    return 0;
}

Test(as_completed, bad_arguments)
{
    ringo_completions *c;
    ringo_task *t[1] = { NULL };
    cr_assert_eq(ringo_as_completed_new(&c, t, 1), -EPERM, "tasks live in a loop");
    cr_assert_eq(run_clean(errors_main, NULL), 0);
}

/* ---- tasks of another loop ---------------------------------------------- */

struct remote { ringo_chan *ch; };

static int remote_worker(void *arg)
{
    struct remote *r = arg;
    void *it;
    int ret = ringo_chan_recv(r->ch, &it);
    return ret < 0 ? ret : (int)(intptr_t)it;
}

static int remote_main(void *arg)
{
    (void)arg;
    struct remote r;
    cr_assert_eq(ringo_chan_new(&r.ch, 1), 0);
    ringo_task *t[N];
    for (int i = 0; i < N; i++)
        cr_assert_eq(ringo_spawn_on(ringo_loop_at(1), &t[i], remote_worker, &r), 0);
    ringo_completions *c;
    cr_assert_eq(ringo_as_completed_new(&c, t, N), 0);
    int sum = 0;
    for (int k = 0; k < N; k++) {
        cr_assert_eq(ringo_chan_send(r.ch, (void *)(intptr_t)(k + 1)), 0);
        ringo_task *done;
        cr_assert_eq(ringo_as_completed_next(c, RINGO_SEC(10), &done), 0);
        sum += ringo_await(done);
    }
    ringo_task *done;
    cr_assert_eq(ringo_as_completed_next(c, -1, &done), -ENOENT);
    cr_assert_eq(sum, 1 + 2 + 3 + 4, "each task returned once, with its result");
    ringo_as_completed_free(c);
    ringo_chan_free(r.ch);
    return 0;
}

Test(as_completed, tasks_of_another_loop)
{
    cr_assert_eq(run_loops_clean(NULL, 2, remote_main, NULL), 0);
}
