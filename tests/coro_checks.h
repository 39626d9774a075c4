/* tests/coro_checks.h: the context-switch checks shared by tests/test_coro.c
 * (Criterion) and tests/coro_selfcheck.c (plain C, also run on aarch64
 * under qemu). No Criterion here: helpers return a bool or a count and each
 * file asserts on it in its own way. Included once per test program; it
 * owns the coroutines the checks switch between. */
#ifndef RINGO_TESTS_CORO_CHECKS_H
#define RINGO_TESTS_CORO_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "coro/coro.h"

static coro_t main_ctx, co_a, co_b;

/* ---- callee-saved registers ------------------------------------------- */

/* Offsets are spelled out in the asm below; keep them in step. */
struct regs_test {
    uint64_t in[12];   /* 0:   x86-64 rbx rbp r12-r15; aarch64 x19-x29 */
    uint64_t out[12];  /* 96 */
    coro_t *from;      /* 192 */
    coro_t *to;        /* 200 */
    uint64_t fin[8];   /* 208: aarch64 d8-d15 */
    uint64_t fout[8];  /* 272 */
    uint64_t saved;    /* 336: the compiler's frame pointer */
};
_Static_assert(offsetof(struct regs_test, out) == 96, "out");
_Static_assert(offsetof(struct regs_test, from) == 192, "from");
_Static_assert(offsetof(struct regs_test, fin) == 208, "fin");
_Static_assert(offsetof(struct regs_test, fout) == 272, "fout");
_Static_assert(offsetof(struct regs_test, saved) == 336, "saved");

#if defined(__x86_64__)
#define NREGS 6
#define NFREGS 0
/* Load known values into every callee-saved register, coro_switch, read
 * them back. rbp is the frame pointer at -O0, so it is saved by hand. */
static void switch_with_regs(struct regs_test *t)
{
    __asm__ volatile(
        "movq %%rbp, 336(%0)\n\t"
        "movq %%rsp, %%rcx\n\t"
        "leaq -128(%%rsp), %%rsp\n\t" /* step over the red zone */
        "andq $-16, %%rsp\n\t"
        "pushq %%rcx\n\t"
        "pushq %0\n\t"
        "movq 0(%0), %%rbx\n\t"
        "movq 8(%0), %%rbp\n\t"
        "movq 16(%0), %%r12\n\t"
        "movq 24(%0), %%r13\n\t"
        "movq 32(%0), %%r14\n\t"
        "movq 40(%0), %%r15\n\t"
        "movq 192(%0), %%rdi\n\t"
        "movq 200(%0), %%rsi\n\t"
        "call coro_switch\n\t"
        "movq (%%rsp), %0\n\t"
        "movq %%rbx, 96(%0)\n\t"
        "movq %%rbp, 104(%0)\n\t"
        "movq %%r12, 112(%0)\n\t"
        "movq %%r13, 120(%0)\n\t"
        "movq %%r14, 128(%0)\n\t"
        "movq %%r15, 136(%0)\n\t"
        "addq $8, %%rsp\n\t"
        "popq %%rsp\n\t"
        "movq 336(%0), %%rbp\n\t"
        : "+a"(t)
        :
        : "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
          "r13", "r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
          "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
          "xmm14", "xmm15", "memory", "cc");
}
#elif defined(__aarch64__)
#define NREGS 11
#define NFREGS 8
static void switch_with_regs(struct regs_test *t)
{
    register struct regs_test *x0 __asm__("x0") = t;
    __asm__ volatile(
        "stp x29, x0, [sp, #-16]!\n\t"
        "ldp x19, x20, [x0, #0]\n\t"
        "ldp x21, x22, [x0, #16]\n\t"
        "ldp x23, x24, [x0, #32]\n\t"
        "ldp x25, x26, [x0, #48]\n\t"
        "ldp x27, x28, [x0, #64]\n\t"
        "ldr x29, [x0, #80]\n\t"
        "ldp d8, d9, [x0, #208]\n\t"
        "ldp d10, d11, [x0, #224]\n\t"
        "ldp d12, d13, [x0, #240]\n\t"
        "ldp d14, d15, [x0, #256]\n\t"
        "ldr x1, [x0, #200]\n\t"
        "ldr x0, [x0, #192]\n\t"
        "bl coro_switch\n\t"
        "ldr x0, [sp, #8]\n\t"
        "stp x19, x20, [x0, #96]\n\t"
        "stp x21, x22, [x0, #112]\n\t"
        "stp x23, x24, [x0, #128]\n\t"
        "stp x25, x26, [x0, #144]\n\t"
        "stp x27, x28, [x0, #160]\n\t"
        "str x29, [x0, #176]\n\t"
        "stp d8, d9, [x0, #272]\n\t"
        "stp d10, d11, [x0, #288]\n\t"
        "stp d12, d13, [x0, #304]\n\t"
        "stp d14, d15, [x0, #320]\n\t"
        "ldp x29, x0, [sp], #16\n\t"
        : "+r"(x0)
        :
        : "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11",
          "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21",
          "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x30", "v0", "v1",
          "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12",
          "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22",
          "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31",
          "memory", "cc");
}
#endif

/* Switch from -> to with a pattern derived from seed in the registers;
 * true if every register came back intact. */
static bool regs_survive(coro_t *from, coro_t *to, uint64_t seed)
{
    struct regs_test t;
    memset(&t, 0, sizeof(t));
    t.from = from;
    t.to = to;
    for (int i = 0; i < NREGS; i++)
        t.in[i] = seed * 0x9e3779b97f4a7c15ULL + (uint64_t)i * 0x0101010101010101ULL;
    for (int i = 0; i < NFREGS; i++)
        t.fin[i] = ~seed * 0xc2b2ae3d27d4eb4fULL + (uint64_t)i;
    switch_with_regs(&t);
    return memcmp(t.in, t.out, sizeof(t.in)) == 0 &&
           memcmp(t.fin, t.fout, sizeof(t.fin)) == 0;
}

/* main -> a -> b -> main, every hop with different register contents.
 * Create co_a with regs_a and co_b with regs_b, then regs_round_trips();
 * main's, a's and b's counts of intact hops should each be ROUNDS. */
#define ROUNDS 1000
static int a_ok, b_ok;

static coro_t *regs_a(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++)
        a_ok += regs_survive(&co_a, &co_b, 0xa000 + (uint64_t)i);
    coro_exit(&co_a, &main_ctx);
}

static coro_t *regs_b(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++)
        b_ok += regs_survive(&co_b, &main_ctx, 0xb000 + (uint64_t)i);
    coro_exit(&co_b, &main_ctx);
}

/* Runs the rounds, lets a and b exit; returns main's count of intact hops. */
static int regs_round_trips(void)
{
    int main_ok = 0;
    for (int i = 0; i < ROUNDS; i++)
        main_ok += regs_survive(&main_ctx, &co_a, 0x1000 + (uint64_t)i);
    coro_switch(&main_ctx, &co_a); /* a exits to main */
    coro_switch(&main_ctx, &co_b); /* b exits to main */
    return main_ok;
}

/* ---- FP control state (x86-64) ----------------------------------------- */

#if defined(__x86_64__)
static void set_rounding(unsigned mx_rc, unsigned x87_rc)
{
    uint32_t mx;
    uint16_t cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mx));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    mx = (mx & ~0x6000u) | (mx_rc << 13);
    cw = (uint16_t)((cw & ~0x0c00u) | (x87_rc << 10));
    __asm__ volatile("ldmxcsr %0" : : "m"(mx));
    __asm__ volatile("fldcw %0" : : "m"(cw));
}

/* true if SSE (MXCSR) and x87 rounding control are mx_rc and x87_rc. */
static bool rounding_is(unsigned mx_rc, unsigned x87_rc)
{
    uint32_t mx;
    uint16_t cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mx));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return ((mx >> 13) & 3) == mx_rc && ((cw >> 10) & 3) == x87_rc;
}

/* Create co_a with fp_a and co_b with fp_b, then fp_round_trips(): main's,
 * a's and b's counts of hops that kept their own rounding should be
 * FP_ROUNDS. Unused where the build drops the FP control state. */
#define FP_ROUNDS 10
static int fp_a_ok, fp_b_ok;

__attribute__((unused)) static coro_t *fp_a(void *arg)
{
    (void)arg;
    set_rounding(1, 2); /* sse down, x87 up */
    for (int i = 0; i < FP_ROUNDS; i++) {
        coro_switch(&co_a, &co_b);
        fp_a_ok += rounding_is(1, 2);
    }
    coro_exit(&co_a, &main_ctx);
}

__attribute__((unused)) static coro_t *fp_b(void *arg)
{
    (void)arg;
    set_rounding(3, 1); /* sse toward zero, x87 down */
    for (int i = 0; i < FP_ROUNDS; i++) {
        coro_switch(&co_b, &main_ctx);
        fp_b_ok += rounding_is(3, 1);
    }
    coro_exit(&co_b, &main_ctx);
}

/* Runs the rounds, lets a and b exit; returns main's count of hops back
 * with the default rounding (0, 0). */
__attribute__((unused)) static int fp_round_trips(void)
{
    int main_ok = 0;
    for (int i = 0; i < FP_ROUNDS; i++) {
        coro_switch(&main_ctx, &co_a); /* a -> b -> main */
        main_ok += rounding_is(0, 0);
    }
    coro_switch(&main_ctx, &co_a); /* a exits */
    coro_switch(&main_ctx, &co_b); /* b exits */
    return main_ok;
}
#endif

/* ---- deep recursion ---------------------------------------------------- */

static unsigned recurse(unsigned depth)
{
    volatile unsigned char buf[1024];
    for (size_t i = 0; i < sizeof(buf); i += 64)
        buf[i] = (unsigned char)depth;
    unsigned below = depth ? recurse(depth - 1) : 0;
    return below + buf[0] + buf[sizeof(buf) - 64];
}

/* Entry function: recurses (uintptr_t)arg + 1 frames of > 1 KiB, leaves
 * the sum in recurse_result (n * (n + 1) for n = arg), exits to main. */
static unsigned recurse_result;

static coro_t *deep(void *arg)
{
    recurse_result = recurse((unsigned)(uintptr_t)arg);
    coro_exit(coro_current(), &main_ctx);
}

#endif
