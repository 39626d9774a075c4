/* coro/: stackful coroutines. Knows nothing of io_uring or of the scheduler.
 *
 * A coro_t is a context: a saved stack pointer and, for coroutines made by
 * coro_create, a stack from a coro_pool. A thread's own context (the one that
 * runs the scheduler) is a coro_t prepared with coro_init_thread; it owns no
 * stack. coro_switch() saves the running context into `from` and resumes
 * `to`; the call returns when some later coro_switch() resumes `from`.
 *
 * Everything here is single-threaded per pool: a pool and the coroutines made
 * from it belong to one thread.
 */
#ifndef RINGO_CORO_H
#define RINGO_CORO_H

#include <stddef.h>
#include <stdint.h>

typedef struct coro coro_t;

/* A coroutine's entry function. It ends by returning the coroutine to
 * resume, handed through coro_return_to (the cheap way: that return is
 * predicted when it resumes whoever started it), or by coro_exit. NULL is
 * a bug, reported. */
typedef coro_t *(*coro_fn)(void *arg);

/* A stack: [base, base + size) is the whole mapping region it owns, the low
 * guard page included; `top` is where the coroutine's stack starts (below the
 * top, staggered). */
typedef struct coro_stack {
    void *base;
    size_t size;
    void *top;
    struct coro_stack *next_free;   /* pool free-list link */
    unsigned valgrind_id;
    unsigned char guard;            /* 1 if a guard region protects the low end */
} coro_stack;

/* Free stacks sit on one of three lists, taken from in this order: fresh
 * (freed since the last trim tick, warmest first), aged (free for a whole
 * tick or more, memory still committed), clean (memory given back). */
typedef struct coro_pool {
    size_t stack_size;      /* usable bytes per stack, page multiple */
    coro_stack *fresh, *fresh_tail, *aged, *clean;
    size_t nfresh, naged;
    size_t nfree, nlive;    /* nfree counts all three lists */
    size_t max_free;        /* free stacks beyond this give their memory back
                               (MADV_DONTNEED, in coro_pool_trim) but stay
                               mapped in their slab */
    int64_t last_trim;      /* when coro_pool_trim last ran its tick */
    unsigned char trim_due; /* more than max_free free stacks hold memory */
    unsigned stagger;       /* rotates start offsets against cache-set aliasing */
    void *slabs;            /* internal: slab list for release at destroy */
    unsigned nslabs;        /* internal: grows the next slab */
} coro_pool;

struct coro {
    void *sp;               /* saved stack pointer while not running (first) */
    unsigned char fresh;    /* created, never run: coro_switch starts it.
                               Beside sp: every switch reads both */
    unsigned char canary;   /* the stack's low word is a canary, checked when
                               the stack goes back: a copy of !stack->guard,
                               so that the check needs no load from the stack
                               record, cold by the time a task ends */
    coro_stack *stack;      /* NULL for a thread context */
    coro_fn fn;
    void *arg;
    const char *name;       /* shown in the stack-overflow message; borrowed */
    unsigned long long name_id; /* an empty name is shown as "Task-<name_id>" */
    /* sanitizer bookkeeping */
    void *asan_fake_stack;
    const void *asan_bottom;
    size_t asan_size;
    void *tsan_fiber;       /* ThreadSanitizer's context for this stack */
};

/* Pool of stacks of `stack_size` usable bytes (0: CORO_DEFAULT_STACK, 4x
 * that under AddressSanitizer, whose frames carry redzones). */
#define CORO_DEFAULT_STACK ((size_t)64 * 1024)
int  coro_pool_init(coro_pool *p, size_t stack_size);   /* 0 or -errno */
void coro_pool_destroy(coro_pool *p);   /* all coros must be destroyed (else abort) */
/* The trim tick, at most once per second (now_ns: a monotonic clock): gives
 * back the memory of the stacks that were free through the whole last
 * period, beyond the max_free warmest free ones. A burst of tasks that ends
 * and comes back soon keeps its stacks; a pool that stays large shrinks
 * within two periods. Cheap when there is nothing to do; call it when the
 * thread is about to idle. */
void coro_pool_trim(coro_pool *p, int64_t now_ns);

/* The calling thread's own context; call once before the first switch. */
void coro_init_thread(coro_t *self);

/* A new coroutine that will run fn(arg) on a pool stack the first time it is
 * switched to. 0, or -ENOMEM. */
int  coro_create(coro_t *c, coro_pool *p, coro_fn fn, void *arg, const char *name);

/* Give c's stack back to the pool. c must not be running. */
void coro_destroy(coro_t *c, coro_pool *p);

/* Save the running context in `from`, resume `to`.
 *
 * Without sanitizers this is an inline call straight into the assembly
 * switch (coro.c holds the external definition for non-inlined calls); under
 * AddressSanitizer or ThreadSanitizer it is out of line and tells the
 * sanitizer about each stack change. */
#if defined(__SANITIZE_ADDRESS__)
# define CORO_ASAN 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define CORO_ASAN 1
# endif
#endif
#if defined(__SANITIZE_THREAD__)
# define CORO_TSAN 1
#elif defined(__has_feature)
# if __has_feature(thread_sanitizer)
#  define CORO_TSAN 1
# endif
#endif
#if defined(CORO_ASAN) || defined(CORO_TSAN)
# define CORO_SWITCH_OUT_OF_LINE 1
#endif

/* internal: the assembly switch (switch_*.S) and the running coroutine */
void ringo__coro_switch(void **save_sp, void *to_sp);
void ringo__coro_start(void **save_sp, void *to_sp);   /* to a fresh one */
extern __thread coro_t *ringo__coro_cur
    __attribute__((visibility("hidden"), tls_model("initial-exec")));

#ifdef CORO_SWITCH_OUT_OF_LINE
void coro_switch(coro_t *from, coro_t *to);
#else
inline void coro_switch(coro_t *from, coro_t *to)
{
    /* Set before the switch: whoever resumes `from` later sets it back. */
    ringo__coro_cur = to;
    if (__builtin_expect(to->fresh, 0)) {
        to->fresh = 0;
        ringo__coro_start(&from->sp, to->sp);
    } else {
        ringo__coro_switch(&from->sp, to->sp);
    }
}
#endif

/* Like coro_switch, for a coroutine that will never be resumed again (lets
 * the sanitizers drop its stack state). */
__attribute__((noreturn)) void coro_exit(coro_t *from, coro_t *to);

/* For an entry function's return: `return coro_return_to(self, to);`
 * resumes `to` once the entry has returned, off from's stack for good
 * (as coro_exit, which the sanitizer builds use here: they must be told of
 * the switch, and told it from the dying stack). */
#ifdef CORO_SWITCH_OUT_OF_LINE
static inline coro_t *coro_return_to(coro_t *from, coro_t *to)
{
    coro_exit(from, to);
}
#else
static inline coro_t *coro_return_to(coro_t *from, coro_t *to)
{
    (void)from;
    ringo__coro_cur = to;
    to->fresh = 0;   /* a fresh `to` is entered by its first frame's ret */
    return to;
}
#endif

/* The coroutine running on this thread (the thread context when none;
 * NULL before coro_init_thread). */
inline coro_t *coro_current(void)
{
    return ringo__coro_cur;
}

/* Install the SIGSEGV handler (alternate signal stack) that turns a guard-page
 * hit into "ringo: stack overflow in task '<name>'" then abort. Idempotent;
 * needs calling once per thread that runs coroutines (for its sigaltstack).
 * 0 or -errno. Under AddressSanitizer it installs nothing and returns 0:
 * ASan's own handler reports the overflow. */
int coro_overflow_handler_install(void);

/* For tests only: how new stacks get their guard. 0: automatic (madvise
 * guard, else mprotect within the VMA budget, else canary), 1: mprotect
 * while the budget lasts, 2: canary only. Applies to slabs mapped later;
 * returns the previous mode. */
int ringo__coro_stack_guard_mode(int mode);

/* Apply one madvise advice to n ranges, in as few syscalls as the kernel
 * allows (coro/madvise_many.c). Returns how many ranges, from the first,
 * were advised: n, or the index of the first that failed, errno set. */
struct iovec;
size_t ringo__madvise_many(const struct iovec *iov, size_t n, int advice);

/* For tests only: 0 makes ringo__madvise_many advise range by range, as on
 * a kernel without process_madvise; returns the previous setting. */
int ringo__madvise_many_mode(int batched);

#endif
