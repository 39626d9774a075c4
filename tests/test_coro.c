/* tests/test_coro.c: coro/ (switch, stacks, overflow handling).
 * tests/coro_selfcheck.c repeats the switch checks without Criterion for
 * the aarch64 build under qemu; the helpers both use are in
 * tests/coro_checks.h, which also owns main_ctx, co_a and co_b. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coro/coro.h"
#include "coro/frame.h"
#include "coro_checks.h"

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

/* ---- callee-saved registers (helpers in coro_checks.h) ----------------- */

Test(coro, callee_saved_registers_survive_switch)
{
    cr_assert_eq(coro_create(&co_a, &pool, regs_a, NULL, "a"), 0);
    cr_assert_eq(coro_create(&co_b, &pool, regs_b, NULL, "b"), 0);
    int main_ok = regs_round_trips(); /* main -> a -> b -> main */
    cr_expect_eq(main_ok, ROUNDS);
    cr_expect_eq(a_ok, ROUNDS);
    cr_expect_eq(b_ok, ROUNDS);
    coro_destroy(&co_a, &pool);
    coro_destroy(&co_b, &pool);
}

/* ---- FP control state -------------------------------------------------- */

Test(coro, fp_control_state_is_per_coroutine)
{
#if defined(__x86_64__)
    if (!ringo__coro_fpu_context)
        cr_skip_test("built with fpu_context=false");
    cr_assert_eq(coro_create(&co_a, &pool, fp_a, NULL, "fp_a"), 0);
    cr_assert_eq(coro_create(&co_b, &pool, fp_b, NULL, "fp_b"), 0);
    int main_ok = fp_round_trips(); /* a -> b -> main, FP_ROUNDS times */
    cr_expect_eq(main_ok, FP_ROUNDS);
    cr_expect_eq(fp_a_ok, FP_ROUNDS);
    cr_expect_eq(fp_b_ok, FP_ROUNDS);
    coro_destroy(&co_a, &pool);
    coro_destroy(&co_b, &pool);
#else
    cr_skip_test("FP control state is switched on x86-64 only");
#endif
}

/* ---- stacks ------------------------------------------------------------ */

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

static coro_t *finish_at_once(void *arg)
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

static coro_t *touch_and_finish(void *arg)
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

enum { TRIM_N = 256 };
static coro_t trim_co[TRIM_N];

static void run_trim_batch(int n)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(coro_create(&trim_co[i], &pool, touch_and_finish, NULL, "t"), 0);
    for (int i = 0; i < n; i++)
        coro_switch(&main_ctx, &trim_co[i]);
    for (int i = 0; i < n; i++)
        coro_destroy(&trim_co[i], &pool);
}

static long trim_frees(int64_t now_s)
{
    long before = resident_pages();
    coro_pool_trim(&pool, now_s * 1000000000LL);
    return before - resident_pages();
}

static void trim_releases_cold_keeps_warm(void)
{
    pool.max_free = 16;
    run_trim_batch(TRIM_N);
    cr_expect_lt(trim_frees(0), 64, "released within a second of the last tick");
    cr_expect_lt(trim_frees(10), 64, "released stacks freed during the last period");
    /* 240 stacks of >= 32 KiB touched each, free for a whole period: most
     * of that comes back; the 16 warmest stay. */
    long freed = trim_frees(20);
    cr_expect_geq(freed * 4096L, (TRIM_N - 16) * 24 * 1024L, "only %ld pages released", freed);
    cr_expect_eq(pool.nfree >= TRIM_N, 1);
    /* Released stacks, used again and freed again, go back again. */
    run_trim_batch(TRIM_N / 2);
    cr_expect_lt(trim_frees(30), 64, "second round released too early");
    freed = trim_frees(40);
    cr_expect_geq(freed * 4096L, (TRIM_N / 2 - 16) * 24 * 1024L, "second trim: %ld pages", freed);
    /* A stack freed and reused within a period is not released under its
     * next owner: the 16 kept ones are reused first. */
    run_trim_batch(16);
    cr_expect_lt(trim_frees(50) + trim_frees(60), 64, "warm stacks released");
}

Test(coro, trim_releases_cold_stacks_and_keeps_warm_ones)
{
    trim_releases_cold_keeps_warm();
}

Test(coro, trim_releases_range_by_range_without_process_madvise)
{
    ringo__madvise_many_mode(0);
    trim_releases_cold_keeps_warm();
}

/* Pages of [p, p + n pages) that are resident. */
static int resident_in(char *p, int n)
{
    unsigned char vec[64];
    cr_assert_leq(n, 64);
    cr_assert_eq(mincore(p, (size_t)n * 4096, vec), 0);
    int r = 0;
    for (int i = 0; i < n; i++)
        r += vec[i] & 1;
    return r;
}

/* Every range advised, in order, up to the first that fails, which is
 * reported by index and errno: so a caller knows which guards took. */
static void madvise_many_stops_at_hole(void)
{
    enum { N = 48, HOLE = 40 };
    char *m = mmap(NULL, N * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    cr_assert_eq(munmap(m + HOLE * 4096, 4096), 0);
    struct iovec iov[N];
    for (int i = 0; i < N; i++)
        iov[i] = (struct iovec){ m + i * 4096, 4096 };
    errno = 0;
    cr_expect_eq(ringo__madvise_many(iov, N, MADV_POPULATE_WRITE), HOLE);
    cr_expect_eq(errno, ENOMEM);
    cr_expect_eq(resident_in(m, HOLE), HOLE, "populate missed pages");
    cr_expect_eq(ringo__madvise_many(iov, HOLE, MADV_DONTNEED), HOLE);
    cr_expect_eq(resident_in(m, HOLE), 0, "dontneed missed pages");
    munmap(m, HOLE * 4096);
    munmap(m + (HOLE + 1) * 4096, (N - HOLE - 1) * 4096);
}

Test(coro, madvise_many_advises_in_order_and_stops_at_a_hole)
{
    madvise_many_stops_at_hole();
}

Test(coro, madvise_many_range_by_range_gives_the_same_answer)
{
    ringo__madvise_many_mode(0);
    madvise_many_stops_at_hole();
}

static coro_t *check_current(void *arg)
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

static coro_t *returns(void *arg)
{
    (void)arg;
    return NULL;
}

Test(coro, returning_entry_function_aborts, .signal = SIGABRT)
{
    cr_assert_eq(coro_create(&co_a, &pool, returns, NULL, "careless"), 0);
    coro_switch(&main_ctx, &co_a);
}

/* ---- ending by returning the coroutine to resume ----------------------- */

static int hops;

static coro_t *return_to_main(void *arg)
{
    hops += (int)(intptr_t)arg;
    return coro_return_to(coro_current(), &main_ctx);
}

Test(coro, returning_entry_resumes_the_coroutine_it_names)
{
    /* Twice on one pool: the second start reuses the warm stack. */
    for (int round = 1; round <= 2; round++) {
        cr_assert_eq(coro_create(&co_a, &pool, return_to_main, (void *)(intptr_t)10, "a"), 0);
        coro_switch(&main_ctx, &co_a);
        cr_expect_eq(hops, 10 * round);
        cr_expect_eq(coro_current(), &main_ctx);
        coro_destroy(&co_a, &pool);
    }
}

/* a, started by main, ends by handing over to b, which it created and
 * never ran: b is entered by its first frame, then returns to main. */
static coro_t *hand_to_fresh(void *arg)
{
    (void)arg;
    hops += 1;
    cr_assert_eq(coro_create(&co_b, &pool, return_to_main, (void *)(intptr_t)100, "b"), 0);
    return coro_return_to(&co_a, &co_b);
}

Test(coro, returning_entry_may_resume_a_fresh_coroutine)
{
    hops = 0;
    cr_assert_eq(coro_create(&co_a, &pool, hand_to_fresh, NULL, "a"), 0);
    coro_switch(&main_ctx, &co_a);
    cr_expect_eq(hops, 101);
    cr_expect_eq(coro_current(), &main_ctx);
    coro_destroy(&co_a, &pool);
    coro_destroy(&co_b, &pool);
}

/* The callee-saved registers of the starter survive a start and a return. */
static coro_t *return_at_once(void *arg)
{
    (void)arg;
    return coro_return_to(&co_a, &main_ctx);
}

Test(coro, callee_saved_registers_survive_start_and_return)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        cr_assert_eq(coro_create(&co_a, &pool, return_at_once, NULL, "a"), 0);
        cr_expect(regs_survive(&main_ctx, &co_a, seed * 0x1111));
        coro_destroy(&co_a, &pool);
    }
}

/* ---- 100 000 live coroutines ------------------------------------------- */

#define MANY 100000
static long entered, finished;

static coro_t *many_body(void *arg)
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

static coro_t *overflows(void *arg)
{
    (void)arg;
    recurse_forever(0);
    coro_exit(coro_current(), &main_ctx);
}

/* Simulates an overflow that a guard did not see: clobbers the canary. */
static coro_t *clobbers_canary(void *arg)
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

Test(coro, stack_overflow_reports_task_guard_installed_range_by_range)
{
#ifdef CORO_ASAN
    cr_skip_test("ASan reports stack overflows itself");
#endif
    ringo__madvise_many_mode(0);
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
