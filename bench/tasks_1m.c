/* bench/tasks_1m.c: a million tasks alive at once, each sleeping a random
 * 0-1 s, on one loop.
 *
 *   tasks_1m OUT.json [N]
 *
 * Spawns N tasks (default 1 000 000), measures the RSS they add while all
 * sleep, then gathers them. Rows for bench/report.py:
 *   BM_tasks_1M/spawn      wall and CPU ns per task spawned
 *   BM_tasks_1M/finish     CPU ns per task from the last spawn to the last
 *                          finish: first run, sleep, wake, exit. Deadlines a
 *                          microsecond apart leave the loop nothing to sleep
 *                          in, so this is the phase's wall time over N
 *   BM_tasks_1M/late_p99   how late the 99th percentile task woke, ns: the
 *                          loop keeping pace with the deadlines (max: _max)
 *   BM_tasks_1M/burst_finish  the same N tasks again, all due at one moment:
 *                          CPU ns per task of running them all through, the
 *                          loop's own cost
 *   BM_tasks_1M/rss_per_task   bytes of RSS per sleeping task (in the ns columns)
 * Exits non-zero if any spawn or the gather failed (vm.max_map_count, memory). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <ringo.h>

static uint64_t rng = 0x2545f4914f6cdd1du;

typedef struct slot {
    int64_t delay;    /* sleep this long from the first run, or */
    int64_t at;       /* (if not 0) until this moment */
    int64_t late;     /* ns past its deadline that the task woke */
} slot;

static int sleeper(void *arg)
{
    slot *s = arg;
    int64_t now = ringo_now(), due = s->at ? s->at : now + s->delay;
    int ret = ringo_sleep(due - now);
    s->late = ringo_now() - due;
    return ret;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    if (f)
        fclose(f);
    return resident * 4096;
}

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef struct args {
    size_t n;
    const char *out;
} args;

static void row(FILE *f, const char *name, double real, double cpu, bool last)
{
    fprintf(f, "  {\"name\": \"BM_tasks_1M/%s\", \"run_name\": \"BM_tasks_1M/%s\", \"run_type\": "
               "\"iteration\", \"real_time\": %.1f, \"cpu_time\": %.1f, \"time_unit\": \"ns\", "
               "\"ops_per_iter\": 1}%s\n", name, name, real, cpu, last ? "" : ",");
}

typedef struct round {
    size_t spawned;
    double spawn_w, spawn_c, finish_c, rss;
    int ret;
} round;

/* Spawn n sleepers (a random 0-1 s each or, with `at`, all until that
 * moment) and gather them. */
static void run_round(ringo_task **t, slot *s, size_t n, int64_t at, round *r)
{
    long rss0 = rss_bytes();
    int64_t w0 = ringo_now();
    double c0 = cpu_ns();
    size_t i;
    for (i = 0; i < n; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        s[i].delay = (int64_t)(rng % (uint64_t)RINGO_SEC(1));
        s[i].at = at;
        if (ringo_spawn(&t[i], sleeper, &s[i]) < 0)
            break;
    }
    int64_t w1 = ringo_now();
    double c1 = cpu_ns();
    (void)ringo_sleep(RINGO_MS(1));   /* every task has run to its sleep */
    long rss1 = rss_bytes();
    r->ret = ringo_gather(t, i, NULL);
    double c3 = cpu_ns();
    size_t d = i ? i : 1;
    r->spawned = i;
    r->spawn_w = (double)(w1 - w0) / (double)d;
    r->spawn_c = (c1 - c0) / (double)d;
    r->finish_c = (c3 - c1) / (double)d;   /* a sleeping loop burns none */
    r->rss = (double)(rss1 - rss0) / (double)d;
}

static int bench_main(void *arg)
{
    const args *a = arg;
    ringo_task **t = malloc(a->n * sizeof *t);
    slot *s = calloc(a->n, sizeof *s);
    int64_t *late = malloc(a->n * sizeof *late);
    if (!t || !s || !late)
        return -ENOMEM;
    round rnd, burst;
    run_round(t, s, a->n, 0, &rnd);
    for (size_t i = 0; i < rnd.spawned; i++)
        late[i] = s[i].late;
    size_t m = rnd.spawned ? rnd.spawned : 1;
    qsort(late, m, sizeof *late, cmp_i64);
    double p50 = (double)late[m / 2], p99 = (double)late[m - 1 - m / 100], max = (double)late[m - 1];
    /* Far enough ahead that every task has run to its sleep first. */
    run_round(t, s, rnd.spawned, ringo_now() + RINGO_SEC(4), &burst);
    printf("tasks_1m: %zu tasks: spawn %.0f ns (cpu %.0f ns) each, run+sleep+finish cpu %.0f ns "
           "each, woke late by %.0f us (median) %.0f us (p99) %.0f us (max); all due at once: "
           "cpu %.0f ns each; RSS %.0f bytes each while they sleep\n", rnd.spawned, rnd.spawn_w,
           rnd.spawn_c, rnd.finish_c, p50 / 1e3, p99 / 1e3, max / 1e3, burst.finish_c, rnd.rss);
    FILE *f = fopen(a->out, "w");
    if (f) {
        fprintf(f, "{\"benchmarks\": [\n");
        row(f, "spawn", rnd.spawn_w, rnd.spawn_c, false);
        row(f, "finish", rnd.finish_c, rnd.finish_c, false);
        row(f, "late_p99", p99, p99, false);
        row(f, "late_max", max, max, false);
        row(f, "burst_finish", burst.finish_c, burst.finish_c, false);
        row(f, "rss_per_task", rnd.rss, rnd.rss, true);
        fprintf(f, "]}\n");
        fclose(f);
    }
    free(late);
    free(s);
    free(t);
    if (rnd.spawned != a->n || burst.spawned != rnd.spawned) {
        fprintf(stderr, "tasks_1m: only %zu of %zu spawned\n", rnd.spawned, a->n);
        return -ENOMEM;
    }
    return rnd.ret < 0 ? rnd.ret : burst.ret;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s OUT.json [N]\n", argv[0]);
        return 2;
    }
    args a = { .n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000, .out = argv[1] };
    if (a.n == 0)
        return 2;
    int ret = ringo_run(bench_main, &a);
    return ret < 0 ? 1 : 0;
}
