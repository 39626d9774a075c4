/* tests/coro_selfcheck.c: the context switch checked without Criterion or
 * liburing, so it runs in the aarch64 cross build under qemu-user (and
 * natively). Checks: callee-saved registers survive switches, FP control
 * state is per coroutine (x86-64), deep recursion on a coroutine stack, a
 * ping-pong of a million switches. Exits 0 when everything passed. The
 * helpers are shared with tests/test_coro.c through tests/coro_checks.h. */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "coro/coro.h"
#include "coro_checks.h"

static int passed, failed;

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (cond) {                                                           \
            passed++;                                                         \
        } else {                                                              \
            failed++;                                                         \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
        }                                                                     \
    } while (0)

/* ---- callee-saved registers ------------------------------------------- */

static void check_registers(coro_pool *p)
{
    CHECK(coro_create(&co_a, p, regs_a, NULL, "a") == 0);
    CHECK(coro_create(&co_b, p, regs_b, NULL, "b") == 0);
    CHECK(regs_round_trips() == ROUNDS);
    CHECK(a_ok == ROUNDS);
    CHECK(b_ok == ROUNDS);
    coro_destroy(&co_a, p);
    coro_destroy(&co_b, p);
}

/* ---- FP control state (x86-64) ----------------------------------------- */

#if defined(__x86_64__) && !defined(RINGO_NO_FPU_CONTEXT)
static void check_fp_control(coro_pool *p)
{
    CHECK(coro_create(&co_a, p, fp_a, NULL, "fp_a") == 0);
    CHECK(coro_create(&co_b, p, fp_b, NULL, "fp_b") == 0);
    CHECK(fp_round_trips() == FP_ROUNDS);
    CHECK(fp_a_ok == FP_ROUNDS);
    CHECK(fp_b_ok == FP_ROUNDS);
    CHECK(rounding_is(0, 0));
    coro_destroy(&co_a, p);
    coro_destroy(&co_b, p);
}
#else
static void check_fp_control(coro_pool *p)
{
    (void)p;
}
#endif

/* ---- deep recursion ---------------------------------------------------- */

static void check_deep_recursion(coro_pool *p)
{
    unsigned n = 47; /* 48 frames of > 1 KiB: about 48 KiB of a 64 KiB stack */
    CHECK(coro_create(&co_a, p, deep, (void *)(uintptr_t)n, "deep") == 0);
    coro_switch(&main_ctx, &co_a);
    CHECK(recurse_result == n * (n + 1));
    coro_destroy(&co_a, p);
}

/* ---- ping-pong --------------------------------------------------------- */

#define PINGS 1000000
static long pongs;

static coro_t *ponger(void *arg)
{
    (void)arg;
    for (;;) {
        pongs++;
        coro_switch(&co_a, &main_ctx);
    }
    return NULL;   /* not reached */
}

/* ---- ending by returning ---------------------------------------------- */

static int returned;

static coro_t *return_to_main(void *arg)
{
    returned += (int)(intptr_t)arg;
    return coro_return_to(&co_a, &main_ctx);
}

/* Started (not returned into) and ended by a return, twice, with the
 * starter's callee-saved registers intact across it. */
static void check_return_path(coro_pool *p)
{
    for (int round = 1; round <= 2; round++) {
        CHECK(coro_create(&co_a, p, return_to_main, (void *)(intptr_t)7, "ret") == 0);
        CHECK(regs_survive(&main_ctx, &co_a, (uint64_t)round * 0x1234));
        CHECK(returned == 7 * round);
        CHECK(coro_current() == &main_ctx);
        coro_destroy(&co_a, p);
    }
}

static void check_ping_pong(coro_pool *p)
{
    struct timespec t0, t1;
    CHECK(coro_create(&co_a, p, ponger, NULL, "ponger") == 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < PINGS; i++)
        coro_switch(&main_ctx, &co_a);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(pongs == PINGS);
    CHECK(coro_current() == &main_ctx);
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    printf("coro selfcheck: %.1f ns per switch\n", ns / (2.0 * PINGS));
    coro_destroy(&co_a, p); /* never finished: destroying it is allowed */
}

int main(void)
{
    coro_pool pool;
    coro_init_thread(&main_ctx);
    CHECK(coro_current() == &main_ctx);
    CHECK(coro_pool_init(&pool, 64 * 1024) == 0);
    check_registers(&pool);
    check_fp_control(&pool);
    check_deep_recursion(&pool);
    check_ping_pong(&pool);
    check_return_path(&pool);
    CHECK(pool.nlive == 0);
    coro_pool_destroy(&pool);
    printf("coro selfcheck: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
