/* Page-cache reads spread over io_uring's kernel workers (engine/offload.c),
 * seen through ringo_read on real files: the bytes are right whatever path a
 * read took (worker, inline, a miss read again), reads are offloaded only
 * when several are queued at once, and the workers stay within their cap. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/internal.h"
#include "helpers.h"

#define BLK 4096
#define FILE_BLKS 1024   /* 4 MiB */
#define TASKS 32
#define READS 200

static char path[64];
static unsigned char *data;

static unsigned char byte_at(size_t i) { return (unsigned char)((i * 2654435761u) >> 13); }

/* A 4 MiB file of a known pattern, written with write(2) so it is cached. */
static int make_file(void)
{
    strcpy(path, "/tmp/ringo-offload-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    size_t n = (size_t)FILE_BLKS * BLK;
    data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = byte_at(i);
    cr_assert_eq(write(fd, data, n), (ssize_t)n);
    return fd;
}

static void drop_file(int fd)
{
    close(fd);
    unlink(path);
    free(data);
}

static int cpus(void)
{
    cpu_set_t set;
    cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
    return CPU_COUNT(&set);
}

/* The thread's io-wq limits, as a fresh ring reports them: 0, or -EINVAL on
 * a kernel without IORING_REGISTER_IOWQ_MAX_WORKERS (5.15). */
static int iowq_limits(unsigned v[2])
{
    struct io_uring ring;
    cr_assert_eq(io_uring_queue_init(4, &ring, 0), 0);
    v[0] = v[1] = 0;   /* 0: change nothing, report */
    int ret = io_uring_register_iowq_max_workers(&ring, v);
    io_uring_queue_exit(&ring);
    return ret;
}

/* Offloading can happen here: several CPUs, and a kernel that can cap io-wq. */
static bool can_offload(void)
{
    unsigned v[2];
    /* Offloading is io_uring's (io-wq); the epoll backend never does it. */
    return !backend_is_epoll() && cpus() >= 2 && iowq_limits(v) == 0;
}

struct readers {
    int fd;
    size_t len;        /* bytes per read */
    int64_t limit;     /* reads start below this offset */
    bool evict;        /* drop the file from the cache now and then */
    int bad;           /* reads that returned the wrong count or bytes */
    unsigned picks;    /* reads the loop offloaded */
    unsigned misses;   /* probes that found pages not cached */
    int workers;       /* io-wq threads seen while reading */
};

static int reader(void *arg)
{
    struct readers *r = arg;
    char *buf = malloc(r->len);
    uint64_t x = (uint64_t)(uintptr_t)ringo_self() | 1;
    for (int i = 0; i < READS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t off = (int64_t)(x % (uint64_t)(r->limit / BLK)) * BLK;
        int64_t size = (int64_t)FILE_BLKS * BLK;
        size_t want = off + (int64_t)r->len > size ? (size_t)(size - off) : r->len;
        if (r->evict && i % 8 == 0)   /* whole: a large folio is dropped whole or not at all */
            posix_fadvise(r->fd, 0, 0, POSIX_FADV_DONTNEED);
        ssize_t got = ringo_read(r->fd, buf, r->len, off);
        if (got != (ssize_t)want || memcmp(buf, data + off, want) != 0)
            r->bad++;
    }
    free(buf);
    int w = thread_count("iou-wrk");
    if (w > r->workers)
        r->workers = w;
    return 0;
}

static int readers_main(void *arg)
{
    struct readers *r = arg;
    ringo_task *t[TASKS];
    for (int i = 0; i < TASKS; i++)
        cr_assert_eq(ringo_spawn(&t[i], reader, r), 0);
    cr_assert_eq(ringo_gather(t, TASKS, NULL), 0);
    ringo__offload *o = &ringo__loop->offload;
    cr_assert_eq(o->inflight, 0, "every offloaded read was counted back");
    r->picks = o->picks;
    r->misses = o->misses;
    return 0;
}

static void run_readers(struct readers *r)
{
    cr_assert_eq(run_clean(readers_main, r), 0);
    cr_assert_eq(r->bad, 0, "%d of %d reads came back wrong", r->bad, TASKS * READS);
}

Test(offload, concurrent_reads_are_exact_and_go_to_capped_workers, .timeout = 60)
{
    int fd = make_file();
    struct readers r = { .fd = fd, .len = BLK, .limit = (int64_t)FILE_BLKS * BLK };
    run_readers(&r);
    if (!can_offload()) {
        cr_assert_eq(r.picks, 0, "one CPU, or no io-wq cap: nothing is spread");
    } else {
        cr_assert_eq(r.misses, 0, "the file is cached: no probe missed");
        cr_assert_gt(r.picks, 0, "32 tasks reading: some reads go to a worker");
        cr_assert_lt(r.picks, TASKS * READS, "and some stay on the loop");
        cr_assert_geq(r.workers, 1);
        cr_assert_leq(r.workers, cpus() - 1, "io-wq kept to one worker fewer than CPUs");
    }
    drop_file(fd);
}

static int lone_main(void *arg)
{
    struct readers *r = arg;
    cr_assert_eq(reader(r), 0);
    r->picks = ringo__loop->offload.picks;
    return 0;
}

Test(offload, the_worker_cap_is_lifted_when_the_loop_closes, .timeout = 60)
{
    if (!can_offload())
        cr_skip_test("one CPU, or a kernel without IORING_REGISTER_IOWQ_MAX_WORKERS");
    int fd = make_file();
    unsigned before[2], after[2];
    cr_assert_eq(iowq_limits(before), 0);
    struct readers r = { .fd = fd, .len = BLK, .limit = (int64_t)FILE_BLKS * BLK };
    run_readers(&r);
    cr_assert_eq(iowq_limits(after), 0);
    cr_assert_eq(after[0], before[0]);
    cr_assert_eq(after[1], before[1], "unbounded limit %u, was %u", after[1], before[1]);
    drop_file(fd);
}

Test(offload, a_task_reading_alone_stays_on_the_loop)
{
    int fd = make_file();
    struct readers r = { .fd = fd, .len = BLK, .limit = (int64_t)FILE_BLKS * BLK };
    cr_assert_eq(run_clean(lone_main, &r), 0);
    cr_assert_eq(r.bad, 0);
    cr_assert_eq(r.picks, 0, "one read at a time never waits for a worker");
    drop_file(fd);
}

Test(offload, switched_off_by_the_environment)
{
    int fd = make_file();
    setenv("RINGO_NO_READ_OFFLOAD", "1", 1);
    struct readers r = { .fd = fd, .len = BLK, .limit = (int64_t)FILE_BLKS * BLK };
    run_readers(&r);
    unsetenv("RINGO_NO_READ_OFFLOAD");
    cr_assert_eq(r.picks, 0);
    drop_file(fd);
}

/* Pages evicted (the file synced, readahead off, the file dropped from the
 * cache now and then while others read it): an inline probe finds nothing
 * (-EAGAIN) or part (a short count), the rest is read the ordinary way and
 * offloading stops for a while; every read still returns all its bytes,
 * also those a worker read from the disk. */
Test(offload, evicted_pages_are_read_whole_the_ordinary_way, .timeout = 60)
{
    int fd = make_file();
    cr_assert_eq(fdatasync(fd), 0);
    cr_assert_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM), 0);
    struct readers r = { .fd = fd, .len = 16 * BLK, .limit = (int64_t)FILE_BLKS * BLK,
                         .evict = true };
    run_readers(&r);
    if (can_offload())
        cr_assert_gt(r.misses, 0, "the inline probes saw the misses");
    drop_file(fd);
}

/* Probes that miss the cache now and then (readahead marks) change nothing;
 * a window of mostly misses stops offloading for a while; once that while is
 * over, reads are offloaded again. */
static int cool_main(void *arg)
{
    struct readers *r = arg;
    ringo__offload *o = &ringo__loop->offload;
    for (int i = 0; i < 1000; i++)
        ringo__offload_probed(ringo__loop, i % 10 == 0);
    cr_assert_eq(o->cool_until, 0, "one probe in ten missing is not a cold file");
    for (int i = 0; i < 128; i++)   /* two windows' worth: one falls wholly inside */
        ringo__offload_probed(ringo__loop, i % 4 != 0);
    cr_assert_gt(o->cool_until, ringo_now(), "three in four is");
    cr_assert_eq(readers_main(r), 0);
    cr_assert_eq(r->picks, 0, "nothing offloaded while cooling down");
    o->cool_until = ringo_now() - 1;   /* the while is over */
    cr_assert_eq(readers_main(r), 0);
    return 0;
}

Test(offload, mostly_misses_stop_offloading_for_a_while, .timeout = 60)
{
    int fd = make_file();
    struct readers r = { .fd = fd, .len = BLK, .limit = (int64_t)FILE_BLKS * BLK };
    cr_assert_eq(run_clean(cool_main, &r), 0);
    cr_assert_eq(r.bad, 0);
    if (can_offload())
        cr_assert_gt(r.picks, 0, "offloading again after the cool-down");
    drop_file(fd);
}

/* Reads that run past the end return what is there, 0 at the end. */
Test(offload, reads_across_the_end_of_file_are_short)
{
    int fd = make_file();
    struct readers r = { .fd = fd, .len = 3 * BLK, .limit = (int64_t)FILE_BLKS * BLK };
    run_readers(&r);   /* offsets near the end: want < len, checked per read */
    drop_file(fd);
}

/* A descriptor closed behind ringo's back and reused for a pipe: ringo still
 * takes it for a file and offloads a read with RWF_NOWAIT. With data waiting
 * the worker reads it (a short count, taken as it is: a pipe has no more to
 * give); with none it gets -EAGAIN and the read waits the ordinary way. */
struct stale {
    int file, pipe_w, reused;
    bool early;        /* the data is in the pipe before the read starts */
    ssize_t got;
    char buf[16];
};

static int stale_other(void *arg)
{
    struct stale *s = arg;
    char b[BLK];
    return ringo_read(s->file, b, sizeof b, 0) == BLK ? 0 : -EIO;
}

static int stale_pipe(void *arg)
{
    struct stale *s = arg;
    s->got = ringo_read(s->reused, s->buf, sizeof s->buf, 0);
    return 0;
}

static int stale_writer(void *arg)
{
    struct stale *s = arg;
    /* Not needed for the outcome, only to make the empty-pipe path likely. */
    ringo_sleep(RINGO_MS(20));
    return ringo_write(s->pipe_w, "late", 4, -1) == 4 ? 0 : -EIO;
}

static int stale_main(void *arg)
{
    struct stale *s = arg;
    char b[BLK];
    cr_assert_eq(ringo_read(s->reused, b, sizeof b, 0), BLK);   /* learnt as a file */
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    cr_assert_eq(dup3(p[0], s->reused, O_CLOEXEC), s->reused);
    close(p[0]);
    s->pipe_w = p[1];
    if (s->early)
        cr_assert_eq(write(p[1], "late", 4), 4);
    ringo_task *t[3];
    size_t n = s->early ? 2 : 3;
    cr_assert_eq(ringo_spawn(&t[0], stale_other, s), 0);   /* first of the batch: inline */
    cr_assert_eq(ringo_spawn(&t[1], stale_pipe, s), 0);    /* second: offloaded, if any */
    if (!s->early)
        cr_assert_eq(ringo_spawn(&t[2], stale_writer, s), 0);
    int st[3];
    cr_assert_eq(ringo_gather(t, n, st), 0);
    close(p[1]);
    return 0;
}

static void stale_case(bool early)
{
    int fd = make_file();
    struct stale s = { .file = fd, .reused = dup(fd), .early = early };
    cr_assert_geq(s.reused, 0);
    cr_assert_eq(run_clean(stale_main, &s), 0);
    cr_assert_eq(s.got, 4);
    cr_assert_eq(memcmp(s.buf, "late", 4), 0);
    close(s.reused);
    drop_file(fd);
}

Test(offload, a_descriptor_reused_for_a_pipe_with_data_is_read_as_a_pipe, .timeout = 10)
{
    stale_case(true);
}

Test(offload, a_descriptor_reused_for_an_empty_pipe_waits_for_data, .timeout = 10)
{
    stale_case(false);
}
