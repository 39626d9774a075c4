/* tests/test_coro.c: coro/ (switch, stacks, overflow handling).
 * tests/coro_selfcheck.c repeats the switch checks without Criterion for
 * the aarch64 build under qemu. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coro/coro.h"
#include "coro/frame.h"

static coro_t main_ctx, co_a, co_b;
static coro_pool pool;

static void setup(void)
{
    coro_init_thread(&main_ctx);
    cr_assert_eq(coro_pool_init(&pool, 64 * 1024), 0);
}

/* Every test ends with the pool empty and released. */
static void teardown(void)
{
    cr_expect_eq(pool.nlive, 0);
    coro_pool_destroy(&pool);
}

TestSuite(coro, .init = setup, .fini = teardown);

/* ---- callee-saved registers (same helper as coro_selfcheck.c) ---------- */

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

static int regs_survive(coro_t *from, coro_t *to, uint64_t seed)
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

#define ROUNDS 1000
static int a_ok, b_ok;

static void regs_a(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++)
        a_ok += regs_survive(&co_a, &co_b, 0xa000 + (uint64_t)i);
    coro_exit(&co_a, &main_ctx);
}

static void regs_b(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++)
        b_ok += regs_survive(&co_b, &main_ctx, 0xb000 + (uint64_t)i);
    coro_exit(&co_b, &main_ctx);
}

Test(coro, callee_saved_registers_survive_switch)
{
    int main_ok = 0;
    cr_assert_eq(coro_create(&co_a, &pool, regs_a, NULL, "a"), 0);
    cr_assert_eq(coro_create(&co_b, &pool, regs_b, NULL, "b"), 0);
    for (int i = 0; i < ROUNDS; i++) /* main -> a -> b -> main */
        main_ok += regs_survive(&main_ctx, &co_a, 0x1000 + (uint64_t)i);
    coro_switch(&main_ctx, &co_a);
    coro_switch(&main_ctx, &co_b);
    cr_expect_eq(main_ok, ROUNDS);
    cr_expect_eq(a_ok, ROUNDS);
    cr_expect_eq(b_ok, ROUNDS);
    coro_destroy(&co_a, &pool);
    coro_destroy(&co_b, &pool);
}

/* ---- FP control state -------------------------------------------------- */

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

static int rounding_is(unsigned mx_rc, unsigned x87_rc)
{
    uint32_t mx;
    uint16_t cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mx));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return ((mx >> 13) & 3) == mx_rc && ((cw >> 10) & 3) == x87_rc;
}

static int fp_a_ok, fp_b_ok;

static void fp_a(void *arg)
{
    (void)arg;
    set_rounding(1, 2); /* sse down, x87 up */
    for (int i = 0; i < 10; i++) {
        coro_switch(&co_a, &co_b);
        fp_a_ok += rounding_is(1, 2);
    }
    coro_exit(&co_a, &main_ctx);
}

static void fp_b(void *arg)
{
    (void)arg;
    set_rounding(3, 1); /* sse toward zero, x87 down */
    for (int i = 0; i < 10; i++) {
        coro_switch(&co_b, &main_ctx);
        fp_b_ok += rounding_is(3, 1);
    }
    coro_exit(&co_b, &main_ctx);
}
#endif

Test(coro, fp_control_state_is_per_coroutine)
{
#if defined(__x86_64__)
    if (!ringo__coro_fpu_context)
        cr_skip_test("built with fpu_context=false");
    int main_ok = 0;
    cr_assert_eq(coro_create(&co_a, &pool, fp_a, NULL, "fp_a"), 0);
    cr_assert_eq(coro_create(&co_b, &pool, fp_b, NULL, "fp_b"), 0);
    for (int i = 0; i < 10; i++) {
        coro_switch(&main_ctx, &co_a); /* a -> b -> main */
        main_ok += rounding_is(0, 0);
    }
    coro_switch(&main_ctx, &co_a);
    coro_switch(&main_ctx, &co_b);
    cr_expect_eq(main_ok, 10);
    cr_expect_eq(fp_a_ok, 10);
    cr_expect_eq(fp_b_ok, 10);
    coro_destroy(&co_a, &pool);
    coro_destroy(&co_b, &pool);
#else
    cr_skip_test("FP control state is switched on x86-64 only");
#endif
}

/* ---- stacks ------------------------------------------------------------ */

static unsigned recurse(unsigned depth)
{
    volatile unsigned char buf[1024];
    for (size_t i = 0; i < sizeof(buf); i += 64)
        buf[i] = (unsigned char)depth;
    unsigned below = depth ? recurse(depth - 1) : 0;
    return below + buf[0] + buf[sizeof(buf) - 64];
}

static unsigned recurse_result;

static void deep(void *arg)
{
    recurse_result = recurse((unsigned)(uintptr_t)arg);
    coro_exit(coro_current(), &main_ctx);
}

Test(coro, deep_recursion_fits_on_stack)
{
    coro_pool_destroy(&pool); /* ASan frames are bigger: its default size */
    cr_assert_eq(coro_pool_init(&pool, 0), 0);
    unsigned n = 47; /* 48 frames of > 1 KiB: about 48 KiB of 64 KiB */
    cr_assert_eq(coro_create(&co_a, &pool, deep, (void *)(uintptr_t)n, "deep"), 0);
    coro_switch(&main_ctx, &co_a);
    cr_expect_eq(recurse_result, n * (n + 1));
    coro_destroy(&co_a, &pool);
}

static void finish_at_once(void *arg)
{
    (void)arg;
    coro_exit(coro_current(), &main_ctx);
}

Test(coro, stack_reused_from_pool)
{
    cr_assert_eq(coro_create(&co_a, &pool, finish_at_once, NULL, "a"), 0);
    coro_stack *first = co_a.stack;
    void *first_top = first->top;
    coro_switch(&main_ctx, &co_a);
    coro_destroy(&co_a, &pool);
    size_t nfree = pool.nfree;
    cr_assert_eq(coro_create(&co_b, &pool, finish_at_once, NULL, "b"), 0);
    cr_expect_eq(co_b.stack, first, "LIFO: the warm stack comes back first");
    cr_expect_neq(co_b.stack->top, first_top, "start offset rotated");
    cr_expect_eq(((uintptr_t)co_b.stack->top) % 16, 0);
    cr_expect_eq(pool.nfree, nfree - 1);
    cr_expect_eq(pool.nlive, 1);
    coro_switch(&main_ctx, &co_b);
    coro_destroy(&co_b, &pool);
}

static void touch_and_finish(void *arg)
{
    volatile char buf[32 * 1024];
    for (size_t i = 0; i < sizeof buf; i += 512)
        buf[i] = 1;
    (void)arg;
    coro_exit(coro_current(), &main_ctx);
}

static long resident_pages(void)
{
    long size = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "%ld %ld", &size, &rss), 2);
    fclose(f);
    return rss;
}

Test(coro, trim_releases_cold_stacks_and_keeps_warm_ones)
{
    enum { N = 256 };
    static coro_t co[N];
    pool.max_free = 16;
    for (int i = 0; i < N; i++)
        cr_assert_eq(coro_create(&co[i], &pool, touch_and_finish, NULL, "t"), 0);
    for (int i = 0; i < N; i++)
        coro_switch(&main_ctx, &co[i]);
    for (int i = 0; i < N; i++)
        coro_destroy(&co[i], &pool);
    long before = resident_pages();
    coro_pool_trim(&pool, 0);                    /* within a second of the last: nothing */
    cr_expect_lt(before - resident_pages(), 64, "released too early");
    before = resident_pages();
    coro_pool_trim(&pool, 10 * 1000000000LL);
    long freed = before - resident_pages();
    /* 240 cold stacks of >= 32 KiB touched each: most of that comes back. */
    cr_expect_geq(freed * 4096L, (N - 16) * 24 * 1024L, "only %ld pages released", freed);
    cr_expect_eq(pool.nfree >= N, 1);
}

static void check_current(void *arg)
{
    *(coro_t **)arg = coro_current();
    coro_exit(&co_a, &main_ctx);
}

Test(coro, current_tracks_running_coroutine)
{
    coro_t *seen = NULL;
    cr_expect_eq(coro_current(), &main_ctx);
    cr_assert_eq(coro_create(&co_a, &pool, check_current, &seen, "a"), 0);
    coro_switch(&main_ctx, &co_a);
    cr_expect_eq(seen, &co_a);
    cr_expect_eq(coro_current(), &main_ctx);
    coro_destroy(&co_a, &pool);
}

static void returns(void *arg)
{
    (void)arg;
}

Test(coro, returning_entry_function_aborts, .signal = SIGABRT)
{
    cr_assert_eq(coro_create(&co_a, &pool, returns, NULL, "careless"), 0);
    coro_switch(&main_ctx, &co_a);
}

/* ---- 100 000 live coroutines ------------------------------------------- */

#define MANY 100000
static long entered, finished;

static void many_body(void *arg)
{
    coro_t *self = arg;
    entered++;
    coro_switch(self, &main_ctx);
    finished++;
    coro_exit(self, &main_ctx);
}

static long count_vmas(void)
{
    FILE *f = fopen("/proc/self/maps", "re");
    cr_assert_not_null(f);
    long n = 0;
    int ch;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

static long max_map_count(void)
{
    long max = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 65530;
        fclose(f);
    }
    return max;
}

static void many_live(void)
{
    coro_t *cs = calloc(MANY, sizeof(*cs));
    cr_assert_not_null(cs);
    for (long i = 0; i < MANY; i++)
        cr_assert_eq(coro_create(&cs[i], &pool, many_body, &cs[i], "many"), 0, "coroutine %ld", i);
    for (long i = 0; i < MANY; i++)
        coro_switch(&main_ctx, &cs[i]);
    cr_expect_eq(entered, MANY);
    long vmas = count_vmas();
    cr_expect_lt(vmas, max_map_count(), "%ld VMAs with %d live coroutines", vmas, MANY);
    for (long i = 0; i < MANY; i++)
        coro_switch(&main_ctx, &cs[i]);
    cr_expect_eq(finished, MANY);
    for (long i = 0; i < MANY; i++)
        coro_destroy(&cs[i], &pool);
    free(cs);
}

Test(coro, hundred_thousand_live_coroutines, .timeout = 120)
{
    many_live();
}

Test(coro, hundred_thousand_live_coroutines_mprotect_fallback, .timeout = 120)
{
    ringo__coro_stack_guard_mode(1); /* as on a kernel without guard madvise */
    many_live();
}

/* ---- overflow ---------------------------------------------------------- */

static volatile unsigned recurse_limit = 0xffffffffu;

static unsigned recurse_forever(unsigned n)
{
    volatile char buf[512];
    buf[0] = (char)n;
    if (n == recurse_limit)
        return 0;
    return recurse_forever(n + 1) + (unsigned)buf[0];
}

static void overflows(void *arg)
{
    (void)arg;
    recurse_forever(0);
    coro_exit(coro_current(), &main_ctx);
}

/* Simulates an overflow that a guard did not see: clobbers the canary. */
static void clobbers_canary(void *arg)
{
    (void)arg;
    coro_t *self = coro_current();
    *(volatile uint64_t *)ringo__stack_low(self->stack) = 0;
    coro_exit(self, &main_ctx);
}

/* Run fn on a coroutine named "deep" in a child with the given guard mode;
 * returns what the child wrote to stderr, *status its wait status. */
static char *run_child(int guard_mode, coro_fn fn, int *status)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        coro_pool p;
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        ringo__coro_stack_guard_mode(guard_mode);
        if (coro_overflow_handler_install() < 0 || coro_pool_init(&p, 64 * 1024) < 0 ||
            coro_create(&co_a, &p, fn, NULL, "deep") < 0)
            _exit(3);
        coro_switch(&main_ctx, &co_a);
        coro_destroy(&co_a, &p);
        _exit(0);
    }
    close(fds[1]);
    static char buf[4096];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(buf) - 1 && (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fds[0]);
    cr_assert_eq(waitpid(pid, status, 0), pid);
    return buf;
}

static void expect_overflow_report(int guard_mode, coro_fn fn)
{
    int status;
    char *err = run_child(guard_mode, fn, &status);
    cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
              "child status %#x, stderr: %s", status, err);
    cr_expect_not_null(strstr(err, "ringo: stack overflow in task 'deep'\n"), "stderr: %s", err);
}

Test(coro, stack_overflow_reports_task)
{
#ifdef CORO_ASAN
    cr_skip_test("ASan reports stack overflows itself");
#endif
    expect_overflow_report(0, overflows);
}

Test(coro, stack_overflow_reports_task_mprotect_guard)
{
#ifdef CORO_ASAN
    cr_skip_test("ASan reports stack overflows itself");
#endif
    expect_overflow_report(1, overflows);
}

Test(coro, unguarded_stack_overflow_caught_by_canary)
{
    expect_overflow_report(2, clobbers_canary);
}
