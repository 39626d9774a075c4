/* cp SRC DST: copy a regular file with a window of reads and writes in
 * flight. WORKERS tasks each take the next CHUNK of the file, read it at its
 * offset and write it at the same offset in DST, so up to WORKERS chunks
 * move at once and the disk always has work queued. Like cp(1) it does not
 * fsync; it prints nothing on success and exits 1 on failure. */
#include <errno.h>
#include <fcntl.h>
#include <ringo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WORKERS 8
/* 8 x 64 KiB in flight: measured on a page-cached 1 GiB copy, larger
 * buffers fall out of the CPU caches and make both copies slower. */
#define CHUNK (64 * 1024)

struct copy {
    const char *src_path, *dst_path;
    int src, dst;
    uint64_t size;   /* bytes to copy, from statx */
    uint64_t next;   /* next offset to hand out: tasks share one thread, no lock */
};

static int fail(const char *what, const char *path, int err)
{
    fprintf(stderr, "cp: %s '%s': %s\n", what, path, strerror(-err));
    return err;
}

/* One chunk: read it fully (looping over short reads), then write it all. */
static int copy_chunk(struct copy *c, char *buf, uint64_t off, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = ringo_read(c->src, buf + got, len - got, (int64_t)(off + got));
        if (r < 0)
            return fail("error reading", c->src_path, (int)r);
        if (r == 0)
            break;   /* the file shrank while we copied: copy what is there */
        got += (size_t)r;
    }
    for (size_t put = 0; put < got;) {
        ssize_t w = ringo_write(c->dst, buf + put, got - put, (int64_t)(off + put));
        if (w < 0)
            return fail("error writing", c->dst_path, (int)w);
        put += (size_t)w;
    }
    return 0;
}

static int worker(void *arg)
{
    struct copy *c = arg;
    char *buf = malloc(CHUNK);   /* not on the task's stack: 64 KiB by default */
    if (!buf)
        return fail("out of memory copying", c->src_path, -ENOMEM);
    int ret = 0;
    while (ret == 0 && c->next < c->size) {
        uint64_t off = c->next;
        size_t len = c->size - off < CHUNK ? (size_t)(c->size - off) : CHUNK;
        c->next += len;
        ret = copy_chunk(c, buf, off, len);
    }
    free(buf);
    return ret;
}

/* Refuse to copy a file onto itself: opening DST with O_TRUNC would destroy
 * the source before a byte was read. */
static int same_file(const struct statx *a, const char *dst)
{
    struct statx b;
    if (ringo_statx(AT_FDCWD, dst, 0, STATX_INO, &b) < 0)
        return 0;
    return a->stx_ino == b.stx_ino && a->stx_dev_major == b.stx_dev_major &&
           a->stx_dev_minor == b.stx_dev_minor;
}

static int copy_main(void *arg)
{
    struct copy *c = arg;
    c->src = ringo_open(c->src_path, O_RDONLY, 0);
    if (c->src < 0)
        return fail("cannot open", c->src_path, c->src);
    struct statx st;
    int ret = ringo_statx(c->src, "", AT_EMPTY_PATH, STATX_SIZE | STATX_MODE | STATX_INO, &st);
    if (ret < 0) {
        fail("cannot stat", c->src_path, ret);
        goto out_src;
    }
    if (!S_ISREG(st.stx_mode)) {
        ret = fail("cannot copy", c->src_path, S_ISDIR(st.stx_mode) ? -EISDIR : -EINVAL);
        goto out_src;
    }
    if (same_file(&st, c->dst_path)) {
        fprintf(stderr, "cp: '%s' and '%s' are the same file\n", c->src_path, c->dst_path);
        ret = -EINVAL;
        goto out_src;
    }
    /* As cp: a new file gets the source's permission bits, less the umask. */
    c->dst = ringo_open(c->dst_path, O_WRONLY | O_CREAT | O_TRUNC, st.stx_mode & 0777);
    if (c->dst < 0) {
        ret = fail("cannot create", c->dst_path, c->dst);
        goto out_src;
    }
    c->size = st.stx_size;

    /* The first failure cancels the other workers (TaskGroup). */
    ringo_group *g = NULL;
    ret = ringo_group_new(&g);
    for (int i = 0; ret == 0 && i < WORKERS; i++)
        ret = ringo_group_spawn(g, worker, c);
    if (ret < 0)
        fail("cannot start copying", c->src_path, ret);
    if (g) {
        int gret = ringo_group_wait(g);   /* also frees g */
        ret = ret < 0 ? ret : gret;
    }
    int cret = ringo_close(c->dst);   /* a deferred write error may show here */
    if (ret == 0 && cret < 0)
        ret = fail("error closing", c->dst_path, cret);
out_src:
    ringo_close(c->src);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s SRC DST\n", argv[0]);
        return 1;
    }
    struct copy c = { .src_path = argv[1], .dst_path = argv[2] };
    return ringo_run(copy_main, &c) == 0 ? 0 : 1;
}
