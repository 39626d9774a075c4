/* bench/uv_file.c: libuv's thread-pool file I/O, the baseline of ringo's
 * file rows (plain C, no google-benchmark; scripts/bench.sh runs it).
 *
 *   uv_file read OUT.json [REPS] [N,...]
 *       4 KiB random reads from the page-cached 256 MiB file bench_file
 *       reads ($RINGO_BENCH_FILE, default /tmp/ringo-bench-file.dat; made
 *       here with bench_file's contents when absent), at bench_file's
 *       offsets: N uv_fs_read requests in flight (default 64,1), each
 *       completion issuing the next. REPS repetitions (default 5), the
 *       in-flight counts shuffled in each, every one timed for about 0.5 s.
 *       Writes google-benchmark's JSON shape for bench/report.py, one
 *       "iteration" per repetition, named as bench_file's rows
 *       BM_file_read_4k_random/libuv_threadpool/<N>/process_time/real_time:
 *       real_time = wall ns, cpu_time = the process's CPU ns (the pool's
 *       threads included), ops_per_iter = the reads done.
 *   uv_file cp SRC DST
 *       copies SRC to DST as examples/cp does, through libuv's pool: WINDOW
 *       (8) requests of CHUNK (64 KiB) in flight, each chunk read at its
 *       offset (uv_fs_read) then written at the same offset (uv_fs_write)
 *       before the next is taken. Prints nothing on success, exit 1 on
 *       failure. (uv_fs_copyfile would be one pool request running
 *       sendfile/copy_file_range: coreutils cp's in-kernel copy, already a
 *       row of its own.)
 *
 * The pool has libuv's default size (4 threads) unless UV_THREADPOOL_SIZE
 * says otherwise; the JSON's context records it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#define FILE_SIZE (256u << 20)   /* as bench_file.cc */
#define BLOCK 4096u
#define OFFSETS (1u << 16)
#define MAX_INFLIGHT 1024
#define MIN_TIME_S 0.5

static int64_t offsets[OFFSETS];

static double now_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the file and its offsets, as bench_file.cc ------------------------- */

static const char *file_path(void)
{
    const char *p = getenv("RINGO_BENCH_FILE");
    return p && *p ? p : "/tmp/ringo-bench-file.dat";
}

static int prepare(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || (size_t)st.st_size != FILE_SIZE) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.part", path);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            return fprintf(stderr, "uv_file: cannot create %s: %s\n", tmp, strerror(errno)), -1;
        static unsigned char chunk[1u << 20];
        for (size_t off = 0; off < FILE_SIZE; off += sizeof chunk) {
            for (size_t i = 0; i < sizeof chunk; i++)
                chunk[i] = (unsigned char)((off + i) * 2654435761u >> 24);
            if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk) {
                close(fd);
                unlink(tmp);
                return fprintf(stderr, "uv_file: cannot write %s\n", tmp), -1;
            }
        }
        close(fd);
        if (rename(tmp, path) != 0)
            return fprintf(stderr, "uv_file: cannot rename %s\n", tmp), -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fprintf(stderr, "uv_file: cannot open %s: %s\n", path, strerror(errno)), -1;
    static char buf[1u << 20];   /* into the page cache */
    for (off_t off = 0; pread(fd, buf, sizeof buf, off) > 0; off += (off_t)sizeof buf) {
    }
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < OFFSETS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;   /* xorshift64 */
        offsets[i] = (int64_t)(x % (FILE_SIZE / BLOCK) * BLOCK);
    }
    return fd;
}

/* ---- random reads: n requests in flight --------------------------------- */

struct reads {
    uv_loop_t *loop;
    int fd;
    size_t next;            /* index into the offsets */
    uint64_t issued, done, total;
    int err;
};

struct reader {
    uv_fs_t req;
    struct reads *r;
    uv_buf_t buf;
    char mem[BLOCK] __attribute__((aligned(64)));
};

static void issue(struct reader *rd);

static void on_read(uv_fs_t *req)
{
    struct reader *rd = req->data;
    struct reads *r = rd->r;
    if (req->result != (ssize_t)BLOCK && !r->err)
        r->err = req->result < 0 ? (int)req->result : -EIO;
    uv_fs_req_cleanup(req);
    r->done++;
    if (!r->err && r->issued < r->total)
        issue(rd);
}

static void issue(struct reader *rd)
{
    struct reads *r = rd->r;
    int64_t off = offsets[r->next++ & (OFFSETS - 1)];
    r->issued++;
    rd->req.data = rd;
    int ret = uv_fs_read(r->loop, &rd->req, r->fd, &rd->buf, 1, off, on_read);
    if (ret < 0 && !r->err)
        r->err = ret;
}

/* total reads, n in flight: wall and process CPU seconds; -1 on failure. */
static int read_run(uv_loop_t *loop, int fd, struct reader *rds, unsigned n, uint64_t total,
                    double *wall, double *cpu)
{
    struct reads r = { .loop = loop, .fd = fd, .total = total };
    double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (unsigned i = 0; i < n && r.issued < total; i++) {
        rds[i].r = &r;
        rds[i].buf = uv_buf_init(rds[i].mem, BLOCK);
        issue(&rds[i]);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    *wall = now_s(CLOCK_MONOTONIC) - w0;
    *cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (r.err) {
        fprintf(stderr, "uv_file: uv_fs_read: %s\n", uv_strerror(r.err));
        return -1;
    }
    return 0;
}

static int cmd_read(int argc, char **argv)
{
    const char *out = argv[0];
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    unsigned ns[16], nn = 0;
    char *list = strdup(argc > 2 ? argv[2] : "64,1");
    for (char *s = strtok(list, ","); s && nn < 16; s = strtok(NULL, ","))
        if (atoi(s) > 0 && atoi(s) <= MAX_INFLIGHT)
            ns[nn++] = (unsigned)atoi(s);
    free(list);
    if (reps < 1 || nn == 0)
        return fprintf(stderr, "uv_file read: bad REPS or N list\n"), 2;
    int fd = prepare(file_path());
    if (fd < 0)
        return 1;
    uv_loop_t *loop = uv_default_loop();
    static struct reader rds[MAX_INFLIGHT];

    /* Calibrate each n (this also starts the pool's threads): reads per
     * MIN_TIME_S, from a run of 20000. */
    uint64_t total[16];
    double wall, cpu;
    for (unsigned i = 0; i < nn; i++) {
        if (read_run(loop, fd, rds, ns[i], 20000, &wall, &cpu) < 0)
            return 1;
        double t = MIN_TIME_S * 20000 / (wall > 0 ? wall : 1e-9);
        total[i] = t < 10000 ? 10000 : (uint64_t)t;
    }

    FILE *f = fopen(out, "w");
    if (!f)
        return fprintf(stderr, "uv_file: cannot write %s: %s\n", out, strerror(errno)), 1;
    const char *pool = getenv("UV_THREADPOOL_SIZE");
    fprintf(f, "{\"context\": {\"libuv_version\": \"%s\", \"uv_threadpool_size\": \"%s\"},\n"
               " \"benchmarks\": [", uv_version_string(), pool && *pool ? pool : "4 (default)");
    srand((unsigned)time(NULL));
    int first = 1, ret = 0;
    for (int rep = 0; rep < reps && ret == 0; rep++) {
        unsigned order[16];
        memcpy(order, ns, sizeof order);
        for (unsigned i = nn; i > 1; i--) {   /* interleaved, as the other benchmarks */
            unsigned j = (unsigned)rand() % i, t = order[i - 1];
            order[i - 1] = order[j], order[j] = t;
        }
        for (unsigned k = 0; k < nn; k++) {
            unsigned i = 0;
            while (ns[i] != order[k])
                i++;
            if (read_run(loop, fd, rds, ns[i], total[i], &wall, &cpu) < 0) {
                ret = 1;
                break;
            }
            char name[128];
            snprintf(name, sizeof name,
                     "BM_file_read_4k_random/libuv_threadpool/%u/process_time/real_time", ns[i]);
            fprintf(f, "%s\n  {\"name\": \"%s\", \"run_name\": \"%s\", \"run_type\": \"iteration\","
                       " \"repetitions\": %d, \"repetition_index\": %d, \"iterations\": 1,"
                       " \"real_time\": %.1f, \"cpu_time\": %.1f, \"time_unit\": \"ns\","
                       " \"ops_per_iter\": %" PRIu64 "}",
                    first ? "" : ",", name, name, reps, rep, wall * 1e9, cpu * 1e9, total[i]);
            first = 0;
            printf("%-70s %8.1f ns/read real %8.1f ns/read cpu\n", name, wall * 1e9 / total[i],
                   cpu * 1e9 / total[i]);
        }
    }
    fprintf(f, "\n]}\n");
    if (fclose(f) != 0)
        ret = 1;
    uv_loop_close(loop);
    close(fd);
    return ret;
}

/* ---- the copy: WINDOW chunks in flight ---------------------------------- */

#define WINDOW 8
#define CHUNK (64 * 1024)   /* as examples/cp */

struct copy {
    uv_loop_t *loop;
    const char *src_path, *dst_path;
    int src, dst;
    uint64_t size, next;
    int err;
    const char *what, *path;
};

struct mover {
    uv_fs_t req;
    struct copy *c;
    uint64_t off;
    size_t len, got, put;
    char *mem;
};

static void start_chunk(struct mover *m);
static void on_chunk_read(uv_fs_t *req);

static void failed(struct copy *c, const char *what, const char *path, int err)
{
    if (!c->err)
        c->err = err, c->what = what, c->path = path;
}

static void read_more(struct mover *m)
{
    uv_buf_t b = uv_buf_init(m->mem + m->got, (unsigned)(m->len - m->got));
    int ret = uv_fs_read(m->c->loop, &m->req, m->c->src, &b, 1, (int64_t)(m->off + m->got),
                         on_chunk_read);
    if (ret < 0)
        failed(m->c, "error reading", m->c->src_path, ret);
}

static void on_chunk_write(uv_fs_t *req)
{
    struct mover *m = req->data;
    ssize_t w = req->result;
    uv_fs_req_cleanup(req);
    if (w < 0)
        return failed(m->c, "error writing", m->c->dst_path, (int)w);
    m->put += (size_t)w;
    if (m->put < m->got) {
        uv_buf_t b = uv_buf_init(m->mem + m->put, (unsigned)(m->got - m->put));
        int ret = uv_fs_write(m->c->loop, &m->req, m->c->dst, &b, 1, (int64_t)(m->off + m->put),
                              on_chunk_write);
        if (ret < 0)
            failed(m->c, "error writing", m->c->dst_path, ret);
        return;
    }
    start_chunk(m);
}

static void on_chunk_read(uv_fs_t *req)
{
    struct mover *m = req->data;
    ssize_t r = req->result;
    uv_fs_req_cleanup(req);
    if (r < 0)
        return failed(m->c, "error reading", m->c->src_path, (int)r);
    m->got += (size_t)r;
    if (r > 0 && m->got < m->len && !m->c->err)
        return read_more(m);
    /* r == 0: the file shrank while we copied; copy what is there */
    m->put = 0;
    if (m->got == 0 || m->c->err)
        return;
    uv_buf_t b = uv_buf_init(m->mem, (unsigned)m->got);
    int ret = uv_fs_write(m->c->loop, &m->req, m->c->dst, &b, 1, (int64_t)m->off, on_chunk_write);
    if (ret < 0)
        failed(m->c, "error writing", m->c->dst_path, ret);
}

static void start_chunk(struct mover *m)
{
    struct copy *c = m->c;
    if (c->err || c->next >= c->size)
        return;
    m->off = c->next;
    m->len = c->size - m->off < CHUNK ? (size_t)(c->size - m->off) : CHUNK;
    m->got = 0;
    c->next += m->len;
    m->req.data = m;
    read_more(m);
}

static int cmd_cp(const char *src, const char *dst)
{
    struct copy c = { .loop = uv_default_loop(), .src_path = src, .dst_path = dst };
    uv_fs_t req;
    c.src = uv_fs_open(NULL, &req, src, O_RDONLY | O_CLOEXEC, 0, NULL);
    uv_fs_req_cleanup(&req);
    if (c.src < 0)
        return fprintf(stderr, "uv_file cp: cannot open '%s': %s\n", src, uv_strerror(c.src)), 1;
    struct stat st, dst_st;
    if (fstat(c.src, &st) != 0 || !S_ISREG(st.st_mode))
        return fprintf(stderr, "uv_file cp: '%s' is not a regular file\n", src), 1;
    if (stat(dst, &dst_st) == 0 && dst_st.st_ino == st.st_ino && dst_st.st_dev == st.st_dev)
        return fprintf(stderr, "uv_file cp: '%s' and '%s' are the same file\n", src, dst), 1;
    c.dst = uv_fs_open(NULL, &req, dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                       (int)(st.st_mode & 0777), NULL);
    uv_fs_req_cleanup(&req);
    if (c.dst < 0)
        return fprintf(stderr, "uv_file cp: cannot create '%s': %s\n", dst, uv_strerror(c.dst)), 1;
    c.size = (uint64_t)st.st_size;
    static struct mover ms[WINDOW];
    for (int i = 0; i < WINDOW; i++) {
        ms[i].c = &c;
        if (!(ms[i].mem = malloc(CHUNK)))
            return fprintf(stderr, "uv_file cp: out of memory\n"), 1;
        start_chunk(&ms[i]);
    }
    uv_run(c.loop, UV_RUN_DEFAULT);
    int cret = uv_fs_close(NULL, &req, c.dst, NULL);   /* a deferred write error may show */
    uv_fs_req_cleanup(&req);
    if (!c.err && cret < 0)
        failed(&c, "error closing", dst, cret);
    uv_fs_close(NULL, &req, c.src, NULL);
    uv_fs_req_cleanup(&req);
    for (int i = 0; i < WINDOW; i++)
        free(ms[i].mem);
    uv_loop_close(c.loop);
    if (c.err)
        return fprintf(stderr, "uv_file cp: %s '%s': %s\n", c.what, c.path, uv_strerror(c.err)), 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "read") == 0)
        return cmd_read(argc - 2, argv + 2);
    if (argc == 4 && strcmp(argv[1], "cp") == 0)
        return cmd_cp(argv[2], argv[3]);
    fprintf(stderr, "usage: %s read OUT.json [REPS] [N,...]\n"
                    "       %s cp SRC DST\n", argv[0], argv[0]);
    return 2;
}
