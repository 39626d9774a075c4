/* bench/timers.c: the loop's timers at scale, beside a plain binary heap.
 *
 *   timers OUT.json [REPS] [N]
 *
 * N timers (default 1 000 000) with random deadlines within a second, the
 * way a loop full of timeouts has them, three ways:
 *   insert_cancel  arm all, then disarm all in random order (a timeout whose
 *                  operation finished first: the usual fate)
 *   insert_fire    arm all, then let all expire and fire in deadline order
 *   half_cancelled arm all, disarm a random half, fire the rest
 * each through ringo's timers (engine/timer.c, driven directly on a loop
 * record that never runs) and through `heap2`, the textbook binary heap of
 * pointers with back-indices that timer.c used to be, the baseline. REPS
 * repetitions (default 5), the two shuffled in each. Writes google-benchmark
 * JSON for bench/report.py, rows BM_timers_1M/<case>/<impl>, cpu and real
 * ns per timer. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/internal.h"

typedef struct item {
    ringo__timer tm;
    size_t hidx;          /* heap2's back-index */
    int64_t at;
    uint64_t seq;
} item;

static uint64_t fired;

static void on_fire(ringo__timer *tm)
{
    (void)tm;
    fired++;
}

/* ---- the baseline: a binary heap of pointers ---------------------------- */

typedef struct heap2 {
    item **a;
    size_t n;
} heap2;

static inline bool h2_before(const item *x, const item *y)
{
    return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

static inline void h2_place(heap2 *h, size_t i, item *it)
{
    h->a[i] = it;
    it->hidx = i;
}

static void h2_up(heap2 *h, size_t i)
{
    item *it = h->a[i];
    while (i > 0 && h2_before(it, h->a[(i - 1) / 2])) {
        h2_place(h, i, h->a[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    h2_place(h, i, it);
}

static void h2_down(heap2 *h, size_t i)
{
    item *it = h->a[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h2_before(h->a[c + 1], h->a[c]))
            c++;
        if (!h2_before(h->a[c], it))
            break;
        h2_place(h, i, h->a[c]);
        i = c;
    }
    h2_place(h, i, it);
}

static void h2_insert(heap2 *h, item *it)
{
    h2_place(h, h->n++, it);
    h2_up(h, it->hidx);
}

static void h2_del(heap2 *h, item *it)
{
    size_t i = it->hidx;
    item *last = h->a[--h->n];
    if (last == it)
        return;
    h2_place(h, i, last);
    if (i > 0 && h2_before(last, h->a[(i - 1) / 2]))
        h2_up(h, i);
    else
        h2_down(h, i);
}

/* ---- the cases ----------------------------------------------------------- */

enum impl { RINGO, HEAP2 };
enum kase { INSERT_CANCEL, INSERT_FIRE, HALF_CANCELLED };
static const char *impl_name[] = { "ringo", "heap2" };
static const char *case_name[] = { "insert_cancel", "insert_fire", "half_cancelled" };

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Deadlines random within the second after t0, armed at t0 and fired as
 * the loop would, a step every STEP of a clock that is set, not waited for.
 * A random order of the items for cancelling. */
#define STEP RINGO_US(100)
static int64_t t0;

static void prepare(item *items, item **order, size_t n)
{
    int64_t base = t0 = ringo_now();
    for (size_t i = 0; i < n; i++) {
        items[i].at = base + (int64_t)(next_rand() % (uint64_t)RINGO_SEC(1));
        items[i].tm = (ringo__timer){ .at = items[i].at, .idx = RINGO_TIMER_IDLE, .fire = on_fire };
        items[i].seq = i + 1;
        order[i] = &items[i];
    }
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = next_rand() % (i + 1);
        item *t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

static void run_ringo(ringo_loop *l, item *items, item **order, size_t n, enum kase k)
{
    l->now = t0;   /* what ringo__step reads for the timers */
    for (size_t i = 0; i < n; i++)
        if (ringo__timer_add(l, &items[i].tm) < 0)
            abort();
    size_t cancel = k == INSERT_CANCEL ? n : k == HALF_CANCELLED ? n / 2 : 0;
    for (size_t i = 0; i < cancel; i++)
        ringo__timer_del(l, &order[i]->tm);
    for (l->now = t0; l->now <= t0 + RINGO_SEC(1); l->now += STEP)
        ringo__timers_run(l);
}

static void run_heap2(heap2 *h, item *items, item **order, size_t n, enum kase k)
{
    for (size_t i = 0; i < n; i++)
        h2_insert(h, &items[i]);
    size_t cancel = k == INSERT_CANCEL ? n : k == HALF_CANCELLED ? n / 2 : 0;
    for (size_t i = 0; i < cancel; i++)
        h2_del(h, order[i]);
    for (int64_t now = t0; now <= t0 + RINGO_SEC(1); now += STEP)
        while (h->n && h->a[0]->at <= now) {
            item *it = h->a[0];
            h2_del(h, it);
            on_fire(&it->tm);
        }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s OUT.json [REPS] [N]\n", argv[0]);
        return 2;
    }
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    size_t n = argc > 3 ? strtoul(argv[3], NULL, 10) : 1000000;
    if (reps < 1 || n < 2)
        return 2;
    item *items = malloc(n * sizeof *items);
    item **order = malloc(n * sizeof *order);
    ringo_loop *l = calloc(1, sizeof *l);
    heap2 h = { .a = malloc(n * sizeof(item *)) };
    FILE *out = fopen(argv[1], "w");
    if (!items || !order || !l || !h.a || !out)
        return 1;
    fprintf(out, "{\"benchmarks\": [\n");
    bool first = true;
    for (int r = 0; r < reps; r++) {
        for (int kk = 0; kk < 3; kk++) {
            enum kase k = (enum kase)kk;
            int flip = (int)(next_rand() & 1);
            for (int s = 0; s < 2; s++) {
                enum impl im = (enum impl)(s ^ flip);
                prepare(items, order, n);
                fired = 0;
                double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
                if (im == RINGO)
                    run_ringo(l, items, order, n, k);
                else
                    run_heap2(&h, items, order, n, k);
                double w = now_s(CLOCK_MONOTONIC) - w0, c = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
                size_t want = k == INSERT_CANCEL ? 0 : k == HALF_CANCELLED ? n - n / 2 : n;
                if (fired != want || ringo__timers_armed(l) || h.n) {
                    fprintf(stderr, "timers: %s/%s fired %" PRIu64 " of %zu\n", case_name[k],
                            impl_name[im], fired, want);
                    return 1;
                }
                fprintf(out,
                        "%s  {\"name\": \"BM_timers_1M/%s/%s\", \"run_name\": \"BM_timers_1M/%s/%s\", "
                        "\"run_type\": \"iteration\", \"real_time\": %.1f, \"cpu_time\": %.1f, "
                        "\"time_unit\": \"ns\", \"ops_per_iter\": %zu}",
                        first ? "" : ",\n", case_name[k], impl_name[im], case_name[k],
                        impl_name[im], w * 1e9, c * 1e9, n);
                first = false;
            }
        }
    }
    fprintf(out, "\n]}\n");
    fclose(out);
    ringo__timers_free(l);
    free(l);
    free(h.a);
    free(order);
    free(items);
    return 0;
}
