/* coro/frame.h: private to coro/.
 *
 * The saved-context frame is the contract between coro.c, which builds the
 * first frame of a new coroutine, and switch_*.S, which pushes and pops it.
 * The .S files see only the macros; C sees the struct too, and the
 * _Static_asserts in coro.c tie the two together (after libaco).
 *
 * A suspended context's coro_t.sp points at its frame, lowest address first.
 */
#ifndef RINGO_CORO_FRAME_H
#define RINGO_CORO_FRAME_H

#if defined(__x86_64__)
/* Pushed in the order rbp, rbx, r15, r14, r13, r12 below the return
 * address, then the FP control slot (mxcsr, x87 control word). */
# ifdef RINGO_NO_FPU_CONTEXT
#  define CORO_FRAME_FPU   0
# else
#  define CORO_FRAME_FPU   8       /* mxcsr (4 bytes), x87 cw (2), pad (2) */
# endif
# define CORO_FRAME_R12    (CORO_FRAME_FPU + 0)
# define CORO_FRAME_R13    (CORO_FRAME_FPU + 8)
# define CORO_FRAME_R14    (CORO_FRAME_FPU + 16)
# define CORO_FRAME_R15    (CORO_FRAME_FPU + 24)
# define CORO_FRAME_RBX    (CORO_FRAME_FPU + 32)
# define CORO_FRAME_RBP    (CORO_FRAME_FPU + 40)
# define CORO_FRAME_RET    (CORO_FRAME_FPU + 48)
# define CORO_FRAME_SIZE   (CORO_FRAME_FPU + 56)
#elif defined(__aarch64__)
/* AAPCS64 callee-saved: d8-d15 (low 64 bits of v8-v15), x19-x28, x29 (fp),
 * x30 (lr: where the switch returns to). 160 bytes keeps sp 16-aligned. */
# define CORO_FRAME_D8     0
# define CORO_FRAME_X19    64
# define CORO_FRAME_X29    144
# define CORO_FRAME_X30    152
# define CORO_FRAME_SIZE   160
#else
# error "ringo: coro/ supports x86_64 and aarch64 only"
#endif

#ifndef __ASSEMBLER__
#include <stdint.h>
#include "coro/coro.h"

struct coro_frame {
#if defined(__x86_64__)
# ifndef RINGO_NO_FPU_CONTEXT
    uint32_t mxcsr;
    uint16_t x87cw;
    uint16_t pad;
# endif
    uint64_t r12, r13, r14, r15, rbx, rbp;
    void *ret;
#else
    uint64_t d[8];
    uint64_t x19_28[10];
    uint64_t x29, x30;
#endif
};

/* The first frame of a new coroutine resumes in the trampoline with the
 * entry function, its argument and the coro_t in callee-saved registers
 * (x86-64: r12, r13, r14; aarch64: x19, x20, x21). */
void ringo__coro_trampoline(void);
/* Called by the trampoline when an entry function returns: reports, aborts. */
__attribute__((noreturn)) void ringo__coro_returned(coro_t *c);

/* 1 if switches carry the FP control state (built without
 * RINGO_NO_FPU_CONTEXT, on x86-64); lets tests skip rather than fail. */
extern const int ringo__coro_fpu_context;

/* stack.c */
extern size_t ringo__coro_guard_size;       /* bytes at the low end of a stack */
coro_stack *ringo__stack_get(coro_pool *p); /* NULL: out of memory */
/* Takes c's stack back; aborts with the overflow message if c overran it. */
void ringo__stack_put(coro_pool *p, const coro_t *c);
/* Lowest usable byte of s (just above its guard region). */
static inline char *ringo__stack_low(const coro_stack *s)
{
    return (char *)s->base + ringo__coro_guard_size;
}

/* The message both overflow checks print (async-signal-safe). */
__attribute__((noreturn)) void ringo__coro_overflow_abort(const coro_t *c);
#endif

#endif
