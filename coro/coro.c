/* coro/coro.c: coroutine creation, the switch wrapper (sanitizer
 * bookkeeping), the running-coroutine pointer. Stacks are in stack.c, the
 * register switch in switch_*.S, the overflow handler in overflow.c. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coro/coro.h"
#include "coro/frame.h"

#ifdef CORO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef CORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* The C view of the frame must match the offsets the .S files use. */
#if defined(__x86_64__)
_Static_assert(offsetof(struct coro_frame, r12) == CORO_FRAME_R12, "r12");
_Static_assert(offsetof(struct coro_frame, r13) == CORO_FRAME_R13, "r13");
_Static_assert(offsetof(struct coro_frame, r14) == CORO_FRAME_R14, "r14");
_Static_assert(offsetof(struct coro_frame, r15) == CORO_FRAME_R15, "r15");
_Static_assert(offsetof(struct coro_frame, rbx) == CORO_FRAME_RBX, "rbx");
_Static_assert(offsetof(struct coro_frame, rbp) == CORO_FRAME_RBP, "rbp");
_Static_assert(offsetof(struct coro_frame, ret) == CORO_FRAME_RET, "ret");
#else
_Static_assert(offsetof(struct coro_frame, d) == CORO_FRAME_D8, "d8");
_Static_assert(offsetof(struct coro_frame, x19_28) == CORO_FRAME_X19, "x19");
_Static_assert(offsetof(struct coro_frame, x29) == CORO_FRAME_X29, "x29");
_Static_assert(offsetof(struct coro_frame, x30) == CORO_FRAME_X30, "x30");
#endif
_Static_assert(sizeof(struct coro_frame) == CORO_FRAME_SIZE, "frame size");
_Static_assert(offsetof(coro_t, sp) == 0, "the trampoline loads to->sp from to");

#if defined(__x86_64__) && !defined(RINGO_NO_FPU_CONTEXT)
const int ringo__coro_fpu_context = 1;
#else
const int ringo__coro_fpu_context = 0;
#endif

__thread coro_t *ringo__coro_cur
    __attribute__((visibility("hidden"), tls_model("initial-exec")));

/* External definitions of the inline functions in coro.h. */
extern inline coro_t *coro_current(void);
#ifndef CORO_SWITCH_OUT_OF_LINE
extern inline void coro_switch(coro_t *from, coro_t *to);
#endif

void coro_init_thread(coro_t *self)
{
    memset(self, 0, sizeof(*self));
    self->name = "main";
#ifdef CORO_TSAN
    self->tsan_fiber = __tsan_get_current_fiber();
#endif
    ringo__coro_cur = self;
}

/* write(2) all of buf; used where stdio may not be safe (signal handler). */
static void write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

static void report(const char *what, const coro_t *c, const char *tail)
{
    const char *name = c && c->name ? c->name : "?";
    write_all(what, strlen(what));
    if (*name || !c) {
        write_all(name, strlen(name));
    } else {
        /* A default name not formatted yet (the engine does it lazily):
         * format it here, without stdio (we may be in a signal handler). */
        char digits[24];
        int n = 0;
        unsigned long long id = c->name_id;
        do {
            digits[sizeof digits - 1 - n++] = (char)('0' + id % 10);
            id /= 10;
        } while (id);
        write_all("Task-", 5);
        write_all(digits + sizeof digits - n, (size_t)n);
    }
    write_all(tail, strlen(tail));
}

void ringo__coro_returned(coro_t *c)
{
    report("ringo: coroutine '", c, "' returned from its entry function with nothing to resume\n");
    abort();
}

static __attribute__((noreturn)) void dead_resumed(const coro_t *c)
{
    report("ringo: coroutine '", c, "' resumed after coro_exit\n");
    abort();
}

void ringo__coro_overflow_abort(const coro_t *c)
{
    report("ringo: stack overflow in task '", c, "'\n");
    abort();
}

#ifdef CORO_ASAN
/* The thread context's stack bounds are unknown until ASan reports them on
 * the first switch away from it; fill them in when we learn them. */
static __thread coro_t *asan_from;

static void asan_finish(coro_t *self)
{
    const void *bottom = NULL;
    size_t size = 0;
    __sanitizer_finish_switch_fiber(self->asan_fake_stack, &bottom, &size);
    coro_t *prev = asan_from;
    if (prev && !prev->asan_bottom) {
        prev->asan_bottom = bottom;
        prev->asan_size = size;
    }
}

/* Under ASan the first entry must finish the fiber switch that started in
 * the creator before user code runs; fn/arg come from the coro_t. */
static coro_t *asan_entry(void *arg)
{
    coro_t *self = arg;
    asan_finish(self);
    return self->fn(self->arg);
}
#endif

/* The FP control state a new coroutine starts with: its creator's, as
 * Boost.Context does, so a program-wide rounding mode carries over. */
static void init_fpu(struct coro_frame *f)
{
#if defined(__x86_64__) && !defined(RINGO_NO_FPU_CONTEXT)
    __asm__ volatile("stmxcsr %0" : "=m"(f->mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(f->x87cw));
    f->pad = 0;
#else
    (void)f;
#endif
}

int coro_create(coro_t *c, coro_pool *p, coro_fn fn, void *arg, const char *name)
{
    coro_stack *s = ringo__stack_get(p);
    if (!s)
        return -ENOMEM;

    /* Field by field, not memset: for a struct this small the compiler's
     * rep stos was half of coro_create. */
    c->stack = s;
    c->canary = !s->guard;
    c->fn = fn;
    c->arg = arg;
    c->name = name;
    c->name_id = 0;
    c->asan_fake_stack = NULL;
    c->asan_bottom = ringo__stack_low(s);
    c->asan_size = (size_t)((char *)s->base + s->size - ringo__stack_low(s));
    c->tsan_fiber = NULL;
#ifdef CORO_TSAN
    c->tsan_fiber = __tsan_create_fiber(0);
#endif

    coro_fn entry = fn;
    void *entry_arg = arg;
#ifdef CORO_ASAN
    entry = asan_entry;
    entry_arg = c;
#endif
    /* s->top is 16-aligned; after the switch pops this frame, sp == top,
     * which is what a function call site needs. */
    struct coro_frame *f = (struct coro_frame *)((char *)s->top - sizeof(*f));
    memset(f, 0, sizeof(*f));
    init_fpu(f);
#if defined(__x86_64__)
    f->r12 = (uintptr_t)entry;
    f->r13 = (uintptr_t)entry_arg;
    f->r14 = (uintptr_t)c;
    f->ret = (void *)ringo__coro_trampoline;
#else
    f->x19_28[0] = (uintptr_t)entry;
    f->x19_28[1] = (uintptr_t)entry_arg;
    f->x19_28[2] = (uintptr_t)c;
    f->x30 = (uintptr_t)ringo__coro_trampoline;
#endif
    c->sp = f;
    c->fresh = 1;
    return 0;
}

void coro_destroy(coro_t *c, coro_pool *p)
{
    if (!c->stack)
        return;
#ifdef CORO_TSAN
    /* Never the running fiber: c is not running (an exited coroutine is
     * destroyed by whoever runs after it). */
    __tsan_destroy_fiber(c->tsan_fiber);
    c->tsan_fiber = NULL;
#endif
    ringo__stack_put(p, c);
    c->stack = NULL;
    c->sp = NULL;
}

#ifdef CORO_ASAN
void coro_switch(coro_t *from, coro_t *to)
{
    __sanitizer_start_switch_fiber(&from->asan_fake_stack, to->asan_bottom,
                                   to->asan_size);
    asan_from = from;
    ringo__coro_cur = to;
    ringo__coro_switch(&from->sp, to->sp);
    asan_finish(from);
}

void coro_exit(coro_t *from, coro_t *to)
{
    /* NULL fake-stack save: ASan frees this stack's fake frames now. */
    __sanitizer_start_switch_fiber(NULL, to->asan_bottom, to->asan_size);
    asan_from = from;
    ringo__coro_cur = to;
    ringo__coro_switch(&from->sp, to->sp);
    dead_resumed(from);
}
#else
#ifdef CORO_TSAN
/* TSan sees each stack as a thread of its own; a switch with sync makes
 * what `from` did happen before what `to` does next, as it does on the one
 * real thread. */
void coro_switch(coro_t *from, coro_t *to)
{
    void *sp = to->sp;
    ringo__coro_cur = to;
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
    ringo__coro_switch(&from->sp, sp);
}
#endif

void coro_exit(coro_t *from, coro_t *to)
{
    coro_switch(from, to);
    dead_resumed(from);
}
#endif
