/* bench/tasks_1m.c: a million tasks alive at once, each sleeping a random
 * 0-1 s, on one loop.
 *
 *   tasks_1m OUT.json [N]
 *
 * Spawns N tasks (default 1 000 000), measures the RSS they add while all
 * sleep, then gathers them. Rows for bench/report.py:
 *   BM_tasks_1M/spawn      wall and CPU ns per task spawned
 *   BM_tasks_1M/finish     CPU ns per task from the last spawn to the last
 *                          finish: first run, sleep, wake, exit (the loop
 *                          sleeps in between, so CPU, not wall, is the figure)
 *   BM_tasks_1M/rss_per_task   bytes of RSS per sleeping task (in the ns columns)
 * Exits non-zero if any spawn or the gather failed (vm.max_map_count, memory). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <ringo.h>

static uint64_t rng = 0x2545f4914f6cdd1du;

static int sleeper(void *arg)
{
    return ringo_sleep((int64_t)(uintptr_t)arg);
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

static int bench_main(void *arg)
{
    const args *a = arg;
    ringo_task **t = malloc(a->n * sizeof *t);
    if (!t)
        return -ENOMEM;
    long rss0 = rss_bytes();
    int64_t w0 = ringo_now();
    double c0 = cpu_ns();
    size_t i;
    for (i = 0; i < a->n; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        if (ringo_spawn(&t[i], sleeper, (void *)(uintptr_t)(rng % (uint64_t)RINGO_SEC(1))) < 0)
            break;
    }
    int64_t w1 = ringo_now();
    double c1 = cpu_ns();
    (void)ringo_sleep(RINGO_MS(1));   /* every task has run to its sleep */
    long rss1 = rss_bytes();
    int ret = ringo_gather(t, i, NULL);
    double c3 = cpu_ns();
    free(t);
    size_t n = i ? i : 1;
    double spawn_w = (double)(w1 - w0) / (double)n, spawn_c = (c1 - c0) / (double)n;
    double finish_c = (c3 - c1) / (double)n;   /* a sleeping loop burns none */
    double per = (double)(rss1 - rss0) / (double)n;
    printf("tasks_1m: %zu tasks: spawn %.0f ns (cpu %.0f ns) each, run+sleep+finish cpu %.0f ns "
           "each, RSS %.0f bytes each while they sleep\n", i, spawn_w, spawn_c, finish_c, per);
    FILE *f = fopen(a->out, "w");
    if (f) {
        fprintf(f, "{\"benchmarks\": [\n");
        row(f, "spawn", spawn_w, spawn_c, false);
        row(f, "finish", finish_c, finish_c, false);
        row(f, "rss_per_task", per, per, true);
        fprintf(f, "]}\n");
        fclose(f);
    }
    if (i != a->n) {
        fprintf(stderr, "tasks_1m: only %zu of %zu spawned\n", i, a->n);
        return -ENOMEM;
    }
    return ret;
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
