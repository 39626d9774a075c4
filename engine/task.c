/* Tasks: creation, the entry wrapper, references, await and cancel.
 *
 * Task structs live in slabs owned by the loop and are never unmapped while
 * it runs, and free slots are reused oldest first: a stale handle (awaited
 * twice, or used after detach) finds a FREE slot and gets -EINVAL instead of
 * touching freed memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"

#define SLAB_TASKS 64

static void task_free(ringo_loop *l, ringo_task *t);
static int set_name(ringo_task *t, const char *name);

/* What a new task and a new proxy both start with: the caller's reference
 * held, nothing else. */
static void task_init(ringo_task *t, ringo_loop *l, uint64_t id, ringo_fn fn, void *arg)
{
    t->id = id;
    t->loop = l;
    t->fn = fn;
    t->arg = arg;
    t->status = 0;
    t->waiting = NULL;
    t->site = NULL;
    t->cancelled = false;
    t->caller_ref = true;
    t->retrieved = false;
    t->awaited = false;
    t->must_run = false;
    t->deadline = INT64_MAX;
    t->for_proxy = NULL;
    rlist_init(&t->done_waiters);
}

static int grow_slabs(ringo_loop *l)
{
    void **slabs = realloc(l->slabs, (l->nslabs + 1) * sizeof *slabs);
    if (!slabs)
        return -ENOMEM;
    l->slabs = slabs;
    ringo_task *chunk = calloc(SLAB_TASKS, sizeof *chunk);
    if (!chunk)
        return -ENOMEM;
    slabs[l->nslabs++] = chunk;
    for (size_t i = 0; i < SLAB_TASKS; i++) {
        chunk[i].free_next = NULL;
        if (l->free_tail)
            l->free_tail->free_next = &chunk[i];
        else
            l->free_head = &chunk[i];
        l->free_tail = &chunk[i];
    }
    return 0;
}

static ringo_task *slot_get(ringo_loop *l)
{
    if (!l->free_head && grow_slabs(l) < 0)
        return NULL;
    ringo_task *t = l->free_head;
    l->free_head = t->free_next;
    if (!l->free_head)
        l->free_tail = NULL;
    return t;
}

static void slot_put(ringo_loop *l, ringo_task *t)
{
    if (t->proxy) {
        ringo__proxy_free(t->proxy);
        t->proxy = NULL;
    }
    if (t->name != t->name_inline)
        free(t->name);
    t->name = NULL;
    t->state = RINGO_T_FREE;
    t->free_next = NULL;
    if (l->free_tail)
        l->free_tail->free_next = t;
    else
        l->free_head = t;
    l->free_tail = t;
}

void ringo__tasks_free_all(ringo_loop *l)
{
    for (size_t i = 0; i < l->nslabs; i++) {
        ringo_task *chunk = l->slabs[i];
        for (size_t j = 0; j < SLAB_TASKS; j++)
        {
            if (chunk[j].name && chunk[j].name != chunk[j].name_inline)
                free(chunk[j].name);
            if (chunk[j].proxy)
                ringo__proxy_free(chunk[j].proxy);
        }
        free(chunk);
    }
    free(l->slabs);
    l->slabs = NULL;
    l->nslabs = 0;
    l->free_head = l->free_tail = NULL;
}

bool ringo__task_valid(const ringo_task *t)
{
    return t && t->state != RINGO_T_FREE;
}

static void notify_done(ringo_task *t)
{
    while (!rlist_empty(&t->done_waiters)) {
        rlist *p = t->done_waiters.next;
        rlist_del(p);
        ringo__done_waiter *w = rlist_entry(p, ringo__done_waiter, link);
        w->done(w, t);
    }
}

static void task_finish(ringo_task *t, int status)
{
    ringo_loop *l = t->loop;
    /* A cancelled task that "succeeded" was cut short: say so. */
    if (t->cancelled && status >= 0)
        status = -ECANCELED;
    t->status = status;
    t->state = RINGO_T_DONE;
    rlist_del(&t->live_link);
    l->nlive--;
    if (t->for_proxy)
        ringo__remote_report(t);
    notify_done(t);
}

void ringo__proxy_finish(ringo_task *p, int status)
{
    p->status = p->cancelled && status >= 0 ? -ECANCELED : status;
    p->state = RINGO_T_DONE;
    rlist_del(&p->live_link);
    p->loop->proxies--;
    notify_done(p);
    if (!p->caller_ref)
        task_free(p->loop, p);
}

int ringo__proxy_new(ringo_loop *l, ringo_task **out, const char *name)
{
    ringo_task *t = slot_get(l);
    if (!t)
        return -ENOMEM;
    int ret = set_name(t, name);
    if (ret < 0) {
        slot_put(l, t);
        return ret;
    }
    task_init(t, l, ++l->next_id, NULL, NULL);
    rlist_push(&l->proxy_list, &t->live_link);
    l->proxies++;
    t->state = RINGO_T_SUSPENDED;
    *out = t;
    return 0;
}

static coro_t *task_entry(void *arg)
{
    ringo_task *t = arg;
    ringo_loop *l = t->loop;
    ringo__reap_dead(l);   /* we may have been switched to by an exiting task */
    /* As in asyncio, a task cancelled before its first step never runs,
     * unless it has cleanup to do; it then starts cancelled. */
    int status = t->cancelled && !t->must_run ? -ECANCELED : t->fn(t->arg);
    task_finish(t, status);
    return ringo__exit_to(l, t);
}

static void default_name(char *buf, uint64_t id)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + id % 10);
        id /= 10;
    } while (id);
    memcpy(buf, "Task-", 5);
    for (int i = 0; i < n; i++)
        buf[5 + i] = digits[n - 1 - i];
    buf[5 + n] = 0;
}

static int set_name(ringo_task *t, const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len >= RINGO_TASK_NAME_INLINE) {
        t->name = strdup(name);
        if (!t->name)
            return -ENOMEM;
    } else {
        /* An empty name stands for "Task-<id>", formatted when first asked
         * for: formatting costs more than the rest of a spawn. */
        t->name = t->name_inline;
        if (len)
            memcpy(t->name_inline, name, len);
        t->name_inline[len] = 0;
    }
    return 0;
}

int ringo__task_new(ringo_loop *l, ringo_task **out, const char *name, ringo_fn fn, void *arg)
{
    ringo_task *t = slot_get(l);
    if (!t)
        return -ENOMEM;
    uint64_t id = ++l->next_id;
    int ret = set_name(t, name);
    if (ret < 0) {
        slot_put(l, t);
        return ret;
    }
    ret = coro_create(&t->coro, &l->pool, task_entry, t, t->name);
    if (ret < 0) {
        slot_put(l, t);
        return ret;
    }
    t->coro.name_id = id;
    task_init(t, l, id, fn, arg);
    rlist_push(&l->live, &t->live_link);
    l->nlive++;
    t->state = RINGO_T_SUSPENDED;   /* ringo__wake queues only non-READY tasks */
    ringo__wake(t);
    *out = t;
    return 0;
}

static void task_free(ringo_loop *l, ringo_task *t)
{
    if (RINGO_UNLIKELY(l->debug) && !t->retrieved && t->status < 0 && t->status != -ECANCELED)
        ringo__debug_unretrieved(t);
    slot_put(l, t);
}

void ringo__task_reap(ringo_loop *l, ringo_task *t)
{
    coro_destroy(&t->coro, &l->pool);
    if (!t->caller_ref)
        task_free(l, t);
}

void ringo__task_release(ringo_task *t)
{
    t->caller_ref = false;
    /* A DONE task whose stack is still in use is freed by ringo__task_reap. */
    if (t->state == RINGO_T_DONE && t->loop->dead != t)
        task_free(t->loop, t);
}

void ringo__done_wait(ringo_task *t, ringo__done_waiter *w)
{
    rlist_push(&t->done_waiters, &w->link);
}

/* site: the public call's return address, which debug mode keeps for
 * ringo_dump_tasks (symbolized then, with dladdr). */
static int spawn(ringo_task **out, const char *name, ringo_fn fn, void *arg, void *site)
{
    if (!out || !fn)
        return -EINVAL;
    ringo_loop *l = ringo__loop;
    if (!l)
        return -EPERM;
    int ret = ringo__task_new(l, out, name, fn, arg);
    if (ret == 0 && RINGO_UNLIKELY(l->debug))
        (*out)->site = site;
    return ret;
}

int ringo_spawn_named(ringo_task **out, const char *name, ringo_fn fn, void *arg)
{
    return spawn(out, name, fn, arg, __builtin_return_address(0));
}

int ringo_spawn(ringo_task **out, ringo_fn fn, void *arg)
{
    return spawn(out, NULL, fn, arg, __builtin_return_address(0));
}

int ringo__cancel(ringo_task *t)
{
    if (t->state == RINGO_T_DONE)
        return -EALREADY;
    if (t->cancelled)
        return 0;
    t->cancelled = true;
    if (RINGO_UNLIKELY(t->proxy))
        return ringo__proxy_cancel(t);
    if (t->state == RINGO_T_SUSPENDED && ringo__interruptible(t->waiting))
        ringo__interrupt(t, -ECANCELED);
    return 0;
}

/* A handle its holder may use: not NULL, not released (awaited to the end or
 * detached). The running task may always name itself (ringo_self). */
static bool held(const ringo_task *t)
{
    return ringo__task_valid(t) && (t->caller_ref || (ringo__loop && t == ringo__loop->current));
}

int ringo_cancel(ringo_task *t)
{
    return held(t) ? ringo__cancel(t) : -EINVAL;
}

bool ringo_task_done(const ringo_task *t)
{
    return held(t) && t->state == RINGO_T_DONE;
}

const char *ringo__task_name(ringo_task *t)
{
    if (!t->name[0])
        default_name(t->name_inline, t->id);
    return t->name;
}

const char *ringo_task_name(const ringo_task *t)
{
    /* Formatting the default name on first use is not a visible change. */
    return held(t) ? ringo__task_name((ringo_task *)t) : NULL;
}

ringo_task *ringo_self(void)
{
    return ringo__loop ? ringo__loop->current : NULL;
}

void ringo_detach(ringo_task *t)
{
    if (ringo__task_valid(t) && t->caller_ref && !t->awaited)
        ringo__task_release(t);
}
