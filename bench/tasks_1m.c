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
 *   BM_tasks_1M/respawn    the second round's spawn, its stacks already
 *                          committed: spawn without the page commit
 *   BM_tasks_1M/first_run  the second round: CPU ns per task from its spawn to
 *                          its sleep (a switch onto a cold stack)
 * and the machine's floors, measured in the same run:
 *   BM_tasks_1M/page_commit    CPU ns per 4 KiB page that the kernel commits
 *                          (MADV_POPULATE_WRITE over one N-page range, its
 *                          cheapest way): each sleeping task needs one page
 *                          of its own, so spawn cannot cost less
 *   BM_tasks_1M/page_visit     ns per page of one load from each of N such
 *                          pages a stack apart, in random order, each load
 *                          waiting for the last: the TLB and cache misses a
 *                          wake in deadline order meets, once per page
 * Exits non-zero if any spawn or the gather failed (vm.max_map_count, memory). */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <ringo.h>

static uint64_t rng = 0x2545f4914f6cdd1du;

static uint64_t next_rand(void)   /* xorshift64 */
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

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

#ifndef MADV_POPULATE_WRITE
# define MADV_POPULATE_WRITE 23
#endif
#define PAGE 4096

#define CHUNK 65536   /* tasks spawned between two commits of the floor's */

typedef struct floors {
    double commit, visit;   /* ns per page; 0 if the kernel refused */
    double commit_cpu;      /* so far */
    size_t done, n;         /* pages committed so far, of n */
    char *m;                /* the n pages, held through the first round */
    int failed;
} floors;

static long mem_available(void)
{
    long kb = -1;
    char line[128];
    FILE *f = fopen("/proc/meminfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

static void floors_map(floors *fl, size_t n)
{
    *fl = (floors){ .n = n };
    /* The floor's pages and the tasks' at once: skipped, not swapped or
     * killed for, where memory is short (the rows are then missing). */
    long avail = mem_available();
    if (avail >= 0 && (double)avail < 3.0 * (double)n * PAGE)
        return;
    fl->m = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (fl->m == MAP_FAILED)
        fl->m = NULL;
}

/* The kernel's floor for a spawn: commit the next `k` of the n pages.
 * Called between chunks of the first round's spawns, so that the floor
 * and the stacks take their pages from the kernel's free lists in turn,
 * in the same state (in a VM whose host backs guest memory lazily a page
 * the guest has not touched lately costs several times more). */
static void floors_commit(floors *fl, size_t k)
{
    if (!fl->m || fl->failed || fl->done >= fl->n)
        return;
    if (k > fl->n - fl->done)
        k = fl->n - fl->done;
    double c0 = cpu_ns();
    if (madvise(fl->m + fl->done * PAGE, k * PAGE, MADV_POPULATE_WRITE) < 0)
        fl->failed = 1;
    fl->commit_cpu += cpu_ns() - c0;
    fl->done += k;
}

/* One word on each page, linked in one random cycle (Sattolo's shuffle):
 * a chase that visits each page once, as a wake in deadline order visits
 * each stack. Then the pages go back. */
static void floors_finish(floors *fl)
{
    if (!fl->m)
        return;
    if (!fl->failed && fl->done == fl->n)
        fl->commit = fl->commit_cpu / (double)fl->n;
    size_t n = fl->n, *perm = fl->commit > 0 ? malloc(n * sizeof *perm) : NULL;
    if (perm) {
        for (size_t i = 0; i < n; i++)
            perm[i] = i;
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)(next_rand() % i), x = perm[i];
            perm[i] = perm[j], perm[j] = x;
        }
        for (size_t i = 0; i < n; i++)
            *(void **)(fl->m + i * PAGE) = fl->m + perm[i] * PAGE;
        free(perm);
        int64_t w0 = ringo_now();
        void *p = fl->m;
        for (size_t i = 0; i < n; i++)
            p = *(void **)p;
        fl->visit = p == fl->m ? (double)(ringo_now() - w0) / (double)n : 0;
    }
    munmap(fl->m, n * PAGE);
    fl->m = NULL;
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
    double spawn_w, spawn_c, first_c, finish_c, rss;
    int ret;
} round;

/* Spawn n sleepers (a random 0-1 s each or, with `at`, all until that
 * moment) and gather them. */
static void run_round(ringo_task **t, slot *s, size_t n, int64_t at, round *r, floors *fl)
{
    long rss0 = rss_bytes();
    int64_t wall = 0;
    double cpu = 0, c1 = 0;
    size_t i = 0;
    while (i < n) {
        if (fl)
            floors_commit(fl, CHUNK);
        size_t end = n - i < CHUNK ? n : i + CHUNK;
        int64_t w0 = ringo_now();
        double c0 = cpu_ns();
        for (; i < end; i++) {
            s[i].delay = (int64_t)(next_rand() % (uint64_t)RINGO_SEC(1));
            s[i].at = at;
            if (ringo_spawn(&t[i], sleeper, &s[i]) < 0)
                break;
        }
        c1 = cpu_ns();
        wall += ringo_now() - w0;
        cpu += c1 - c0;
        if (i < end)
            break;
    }
    if (fl)
        floors_commit(fl, n);   /* the rest, if a spawn failed */
    (void)ringo_sleep(RINGO_MS(1));   /* every task has run to its sleep */
    double c2 = cpu_ns();
    long rss1 = rss_bytes();
    r->ret = ringo_gather(t, i, NULL);
    double c3 = cpu_ns();
    size_t d = i ? i : 1;
    r->spawned = i;
    r->spawn_w = (double)wall / (double)d;
    r->spawn_c = cpu / (double)d;
    r->first_c = (c2 - c1) / (double)d;
    r->finish_c = (c3 - c1) / (double)d;   /* a sleeping loop burns none */
    long floor = fl ? (long)(fl->done * PAGE) : 0;   /* resident too, not the tasks' */
    r->rss = (double)(rss1 - rss0 - floor) / (double)d;
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
    floors fl;
    floors_map(&fl, a->n);
    run_round(t, s, a->n, 0, &rnd, &fl);
    for (size_t i = 0; i < rnd.spawned; i++)
        late[i] = s[i].late;
    size_t m = rnd.spawned ? rnd.spawned : 1;
    qsort(late, m, sizeof *late, cmp_i64);
    double p50 = (double)late[m / 2], p99 = (double)late[m - 1 - m / 100], max = (double)late[m - 1];
    /* Far enough ahead that every task has run to its sleep first. */
    run_round(t, s, rnd.spawned, ringo_now() + RINGO_SEC(4), &burst, NULL);
    floors_finish(&fl);   /* after: 4 GiB going back to the kernel is felt for a while */
    printf("tasks_1m: %zu tasks: spawn %.0f ns (cpu %.0f ns) each, run+sleep+finish cpu %.0f ns "
           "each, woke late by %.0f us (median) %.0f us (p99) %.0f us (max); all due at once: "
           "cpu %.0f ns each (%.0f of it to their sleep), respawn cpu %.0f ns; RSS %.0f bytes "
           "each while they sleep; the kernel commits a page in %.0f ns (cpu), a chase visits "
           "one in %.0f ns\n", rnd.spawned, rnd.spawn_w, rnd.spawn_c, rnd.finish_c, p50 / 1e3,
           p99 / 1e3, max / 1e3, burst.finish_c, burst.first_c, burst.spawn_c, rnd.rss,
           fl.commit, fl.visit);
    FILE *f = fopen(a->out, "w");
    if (f) {
        fprintf(f, "{\"benchmarks\": [\n");
        row(f, "spawn", rnd.spawn_w, rnd.spawn_c, false);
        row(f, "finish", rnd.finish_c, rnd.finish_c, false);
        row(f, "late_p99", p99, p99, false);
        row(f, "late_max", max, max, false);
        row(f, "burst_finish", burst.finish_c, burst.finish_c, false);
        row(f, "respawn", burst.spawn_w, burst.spawn_c, false);
        row(f, "first_run", burst.first_c, burst.first_c, false);
        if (fl.commit > 0)
            row(f, "page_commit", fl.commit, fl.commit, false);
        if (fl.visit > 0)
            row(f, "page_visit", fl.visit, fl.visit, false);
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
