/* File operations: open/fsync/statx/unlink/rename/mkdir, and the whole-file
 * helpers read_file / write_file, on real files in a per-test temp dir. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

static char dir[64];

static void make_dir(void)
{
    strcpy(dir, "/tmp/ringo-file-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

/* Remove the temp dir; it must hold exactly `expect` entries first, so a
 * temporary file left behind by write_file fails the test. */
static void remove_dir(int expect)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) < 0)
            rmdir(p);
    }
    closedir(d);
    cr_assert_eq(rmdir(dir), 0);
    cr_assert_eq(n, expect, "%d entries left in the temp dir, expected %d", n, expect);
}

static char *in_dir(char *buf, const char *name)
{
    snprintf(buf, 256, "%s/%s", dir, name);
    return buf;
}

/* ---- the single ops ------------------------------------------------------ */

static int ops_main(void *arg)
{
    (void)arg;
    char a[256], b[256], sub[256];
    int fd = ringo_open(in_dir(a, "a"), O_RDWR | O_CREAT | O_EXCL, 0640);
    cr_assert_geq(fd, 0);
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "O_CLOEXEC is always added");
    cr_assert_eq(ringo_write(fd, "hello", 5, 0), 5);
    cr_assert_eq(ringo_fsync(fd, false), 0);
    cr_assert_eq(ringo_fsync(fd, true), 0);
    struct statx st;
    cr_assert_eq(ringo_statx(AT_FDCWD, a, 0, STATX_SIZE | STATX_MODE, &st), 0);
    cr_assert_eq(st.stx_size, 5);
    cr_assert(S_ISREG(st.stx_mode));
    cr_assert_eq(st.stx_mode & 0777, 0640 & ~0022 & 0777);
    cr_assert_eq(ringo_statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &st), 0);
    cr_assert_eq(st.stx_size, 5);
    cr_assert_eq(ringo_close(fd), 0);
    cr_assert_eq(ringo_open(a, O_RDONLY | O_CREAT | O_EXCL, 0600), -EEXIST);

    cr_assert_eq(ringo_mkdir(in_dir(sub, "sub"), 0700), 0);
    cr_assert_eq(ringo_mkdir(sub, 0700), -EEXIST);
    cr_assert_eq(ringo_statx(AT_FDCWD, sub, 0, STATX_MODE, &st), 0);
    cr_assert(S_ISDIR(st.stx_mode));
    /* Across directories: a -> sub/b. */
    in_dir(b, "sub/b");
    cr_assert_eq(ringo_rename(a, b), 0);
    cr_assert_eq(ringo_statx(AT_FDCWD, a, 0, STATX_SIZE, &st), -ENOENT);
    cr_assert_eq(ringo_statx(AT_FDCWD, b, 0, STATX_SIZE, &st), 0);
    cr_assert_eq(st.stx_size, 5);
    cr_assert_eq(ringo_rename(a, b), -ENOENT);
    cr_assert_eq(ringo_unlink(b), 0);
    cr_assert_eq(ringo_unlink(b), -ENOENT);
    cr_assert_eq(ringo_unlink(sub), -EISDIR);   /* unlink(2), not rmdir */
    cr_assert_eq(rmdir(sub), 0);
    return 0;
}

Test(file, open_fsync_statx_mkdir_rename_unlink)
{
    make_dir();
    mode_t old = umask(022);
    cr_assert_eq(run_clean(ops_main, NULL), 0);
    umask(old);
    remove_dir(0);
}

static int bad_main(void *arg)
{
    (void)arg;
    char p[256];
    struct statx st;
    void *data = (void *)0x1;
    size_t len = 77;
    cr_assert_eq(ringo_open(NULL, O_RDONLY, 0), -EINVAL);
    cr_assert_eq(ringo_open("/nonexistent-ringo/x", O_RDONLY, 0), -ENOENT);
    cr_assert_eq(ringo_open(in_dir(p, "missing"), O_RDONLY, 0), -ENOENT);
    cr_assert_eq(ringo_fsync(-1, false), -EBADF);
    cr_assert_eq(ringo_fsync(1000000, true), -EBADF);
    cr_assert_eq(ringo_statx(AT_FDCWD, NULL, 0, STATX_SIZE, &st), -EINVAL);
    cr_assert_eq(ringo_statx(AT_FDCWD, dir, 0, STATX_SIZE, NULL), -EINVAL);
    cr_assert_eq(ringo_statx(-5, "x", 0, STATX_SIZE, &st), -EBADF);
    cr_assert_eq(ringo_statx(1000000, "", AT_EMPTY_PATH, STATX_SIZE, &st), -EBADF);
    cr_assert_eq(ringo_statx(AT_FDCWD, p, 0, STATX_SIZE, &st), -ENOENT);
    cr_assert_eq(ringo_unlink(NULL), -EINVAL);
    cr_assert_eq(ringo_unlink(p), -ENOENT);
    cr_assert_eq(ringo_rename(NULL, p), -EINVAL);
    cr_assert_eq(ringo_rename(p, NULL), -EINVAL);
    cr_assert_eq(ringo_mkdir(NULL, 0700), -EINVAL);
    cr_assert_eq(ringo_mkdir("/nonexistent-ringo/x", 0700), -ENOENT);
    /* Failed read_file writes no out-param. */
    cr_assert_eq(ringo_read_file(p, &data, &len), -ENOENT);
    cr_assert_eq(ringo_read_file(dir, &data, &len), -EISDIR);
    cr_assert_eq(ringo_read_file(NULL, &data, &len), -EINVAL);
    cr_assert_eq(ringo_read_file(p, NULL, &len), -EINVAL);
    cr_assert(data == (void *)0x1 && len == 77);
    cr_assert_eq(ringo_write_file(NULL, "x", 1), -EINVAL);
    cr_assert_eq(ringo_write_file(p, NULL, 1), -EINVAL);
    cr_assert_eq(ringo_write_file("", "x", 1), -EINVAL);
    cr_assert_eq(ringo_write_file("/nonexistent-ringo/x", "x", 1), -ENOENT);
    cr_assert_eq(ringo_write_file(dir, "x", 1), -EISDIR);
    cr_assert_eq(ringo_write_file(in_dir(p, "d/"), "x", 1), -EISDIR);
    return 0;
}

Test(file, bad_paths_and_descriptors_are_errors)
{
    make_dir();
    cr_assert_eq(ringo_open("/tmp", O_RDONLY, 0), -EPERM, "no running loop");
    cr_assert_eq(ringo_write_file("/tmp/x", "x", 1), -EPERM);
    cr_assert_eq(run_clean(bad_main, NULL), 0);
    remove_dir(0);
}

/* ---- read_file / write_file ---------------------------------------------- */

#define BIG (16u << 20)

static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n);
    cr_assert_not_null(p);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (unsigned char)(x >> 16);
    }
    return p;
}

static int roundtrip_main(void *arg)
{
    (void)arg;
    char a[256], b[256];
    unsigned char *src = pattern(BIG, 1);
    unsigned char *back = malloc(BIG);
    cr_assert_not_null(back);

    /* ringo_write / ringo_read at offsets, in 1 MiB pieces (short transfers
     * looped). */
    int fd = ringo_open(in_dir(a, "pieces"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    for (size_t off = 0; off < BIG;) {
        ssize_t r = ringo_write(fd, src + off, 1u << 20, (int64_t)off);
        cr_assert_gt(r, 0);
        off += (size_t)r;
    }
    for (size_t off = 0; off < BIG;) {
        ssize_t r = ringo_read(fd, back + off, BIG - off, (int64_t)off);
        cr_assert_gt(r, 0);
        off += (size_t)r;
    }
    cr_assert_eq(ringo_close(fd), 0);
    cr_assert(memcmp(src, back, BIG) == 0);

    /* write_file then read_file, and read_file of what ringo_write wrote. */
    cr_assert_eq(ringo_write_file(in_dir(b, "whole"), src, BIG), 0);
    const char *names[] = { a, b };
    for (int i = 0; i < 2; i++) {
        void *data = NULL;
        size_t len = 0;
        cr_assert_eq(ringo_read_file(names[i], &data, &len), 0);
        cr_assert_eq(len, BIG);
        cr_assert(memcmp(data, src, BIG) == 0);
        cr_assert_eq(((char *)data)[len], '\0');
        free(data);
    }
    /* Empty files both ways. */
    cr_assert_eq(ringo_write_file(b, "", 0), 0);
    void *data = NULL;
    size_t len = 1;
    cr_assert_eq(ringo_read_file(b, &data, &len), 0);
    cr_assert_eq(len, 0);
    cr_assert_eq(((char *)data)[0], '\0');
    free(data);
    free(src);
    free(back);
    return 0;
}

Test(file, sixteen_mib_round_trip_is_byte_exact, .timeout = 30)
{
    make_dir();
    cr_assert_eq(run_clean(roundtrip_main, NULL), 0);
    remove_dir(2);
}

static int proc_main(void *arg)
{
    (void)arg;
    struct statx st;
    cr_assert_eq(ringo_statx(AT_FDCWD, "/proc/self/status", 0, STATX_SIZE, &st), 0);
    cr_assert_eq(st.stx_size, 0, "procfs says 0: read_file must read to EOF anyway");
    void *data;
    size_t len;
    cr_assert_eq(ringo_read_file("/proc/self/status", &data, &len), 0);
    cr_assert_gt(len, 100);
    cr_assert_eq(strlen(data), len);
    cr_assert_not_null(strstr(data, "Name:"));
    cr_assert_not_null(strstr(data, "VmRSS:"), "the end of the file is there too");
    free(data);
    return 0;
}

Test(file, read_file_reads_proc_files_to_eof)
{
    cr_assert_eq(run_clean(proc_main, NULL), 0);
}

static int mode_main(void *arg)
{
    char *p = arg;
    struct statx st;
    cr_assert_eq(ringo_write_file(p, "new", 3), 0);
    cr_assert_eq(ringo_statx(AT_FDCWD, p, 0, STATX_MODE, &st), 0);
    cr_assert_eq(st.stx_mode & 0777, 0644, "a new file: 0666 less the umask");
    cr_assert_eq(chmod(p, 0600), 0);
    cr_assert_eq(ringo_write_file(p, "newer", 5), 0);
    cr_assert_eq(ringo_statx(AT_FDCWD, p, 0, STATX_MODE | STATX_SIZE, &st), 0);
    cr_assert_eq(st.stx_mode & 0777, 0600, "a replaced file keeps its mode");
    cr_assert_eq(st.stx_size, 5);
    return 0;
}

Test(file, write_file_keeps_the_mode_of_the_file_it_replaces)
{
    make_dir();
    char p[256];
    mode_t old = umask(022);
    cr_assert_eq(run_clean(mode_main, in_dir(p, "m")), 0);
    umask(old);
    remove_dir(1);
}

/* ---- concurrency ---------------------------------------------------------- */

#define NBLK 64
#define BLK 4096

struct blocks {
    int fd;
    const unsigned char *src;
    atomic_int started, first_done_saw;
};

struct blk_arg { struct blocks *b; int i; };

static int blk_reader(void *arg)
{
    struct blk_arg *a = arg;
    unsigned char buf[BLK];
    atomic_fetch_add(&a->b->started, 1);
    /* Backwards, so the order of completion is not the order of the file. */
    int64_t off = (int64_t)(NBLK - 1 - a->i) * BLK;
    ssize_t r = ringo_read(a->b->fd, buf, BLK, off);
    int expect = -1;
    atomic_compare_exchange_strong(&a->b->first_done_saw, &expect, atomic_load(&a->b->started));
    if (r != BLK || memcmp(buf, a->b->src + off, BLK) != 0)
        return -EIO;
    return 0;
}

static int blocks_main(void *arg)
{
    struct blocks *b = arg;
    ringo_task *t[NBLK];
    struct blk_arg args[NBLK];
    for (int i = 0; i < NBLK; i++) {
        args[i] = (struct blk_arg){ b, i };
        cr_assert_eq(ringo_spawn(&t[i], blk_reader, &args[i]), 0);
    }
    int st[NBLK];
    cr_assert_eq(ringo_gather(t, NBLK, st), 0);
    for (int i = 0; i < NBLK; i++)
        cr_assert_eq(st[i], 0, "block %d read wrong", i);
    return 0;
}

Test(file, sixty_four_tasks_read_one_file_concurrently)
{
    make_dir();
    char p[256];
    unsigned char *src = pattern(NBLK * BLK, 7);
    int fd = open(in_dir(p, "blocks"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, src, NBLK * BLK), NBLK * BLK);
    struct blocks b = { .fd = fd, .src = src, .first_done_saw = -1 };
    cr_assert_eq(run_clean(blocks_main, &b), 0);
    /* Every task had submitted its read before the first one was resumed:
     * the 64 reads were in the ring together. (On epoll a cached read
     * completes inline, in the reading task.) */
    if (!backend_is_epoll())
        cr_assert_eq(atomic_load(&b.first_done_saw), NBLK);
    close(fd);
    free(src);
    remove_dir(1);
}

/* Atomic replacement: while a task replaces the file in a loop with one of
 * two contents of different sizes, a reader task (through the ring) and a
 * reader thread (plain read(2), truly concurrent) only ever see one whole
 * content or the other. */
#define OLD_LEN 100000
#define NEW_LEN 37000
#define ROUNDS 40

struct atomic_test {
    char path[256];
    char *old_data, *new_data;
    atomic_bool stop;
    atomic_int reads, bad;
};

static bool whole(const struct atomic_test *a, const char *d, size_t n)
{
    return (n == OLD_LEN && !memcmp(d, a->old_data, n)) ||
           (n == NEW_LEN && !memcmp(d, a->new_data, n));
}

static int replacer(void *arg)
{
    struct atomic_test *a = arg;
    for (int i = 0; i < ROUNDS; i++) {
        int ret = i % 2 ? ringo_write_file(a->path, a->old_data, OLD_LEN)
                        : ringo_write_file(a->path, a->new_data, NEW_LEN);
        if (ret < 0)
            return ret;
    }
    atomic_store(&a->stop, true);
    return 0;
}

static int task_reader(void *arg)
{
    struct atomic_test *a = arg;
    while (!atomic_load(&a->stop)) {
        void *d;
        size_t n;
        int ret = ringo_read_file(a->path, &d, &n);
        if (ret < 0)
            return ret;   /* the name never disappears: ENOENT is a failure */
        if (!whole(a, d, n))
            atomic_fetch_add(&a->bad, 1);
        atomic_fetch_add(&a->reads, 1);
        free(d);
    }
    return 0;
}

static void *thread_reader(void *arg)
{
    struct atomic_test *a = arg;
    char *buf = malloc(OLD_LEN + 1);
    while (!atomic_load(&a->stop)) {
        int fd = open(a->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            atomic_fetch_add(&a->bad, 1);
            continue;
        }
        ssize_t n = 0, r;
        while ((r = read(fd, buf + n, (size_t)(OLD_LEN + 1 - n))) > 0)
            n += r;
        close(fd);
        if (r < 0 || !whole(a, buf, (size_t)n))
            atomic_fetch_add(&a->bad, 1);
        atomic_fetch_add(&a->reads, 1);
    }
    free(buf);
    return NULL;
}

static int atomic_main(void *arg)
{
    struct atomic_test *a = arg;
    cr_assert_eq(ringo_write_file(a->path, a->old_data, OLD_LEN), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, thread_reader, a), 0);
    ringo_task *t[2];
    cr_assert_eq(ringo_spawn(&t[0], replacer, a), 0);
    cr_assert_eq(ringo_spawn(&t[1], task_reader, a), 0);
    int st[2];
    int ret = ringo_gather(t, 2, st);
    atomic_store(&a->stop, true);
    pthread_join(th, NULL);
    cr_assert_eq(st[0], 0, "replacer: %s", strerror(-st[0]));
    cr_assert_eq(st[1], 0, "reader: %s", strerror(-st[1]));
    return ret;
}

Test(file, write_file_replaces_atomically, .timeout = 30)
{
    make_dir();
    struct atomic_test a = { .stop = false };
    in_dir(a.path, "atomic");
    a.old_data = (char *)pattern(OLD_LEN, 3);
    a.new_data = (char *)pattern(NEW_LEN, 4);
    cr_assert_eq(run_clean(atomic_main, &a), 0);
    cr_assert_eq(atomic_load(&a.bad), 0, "%d torn reads", atomic_load(&a.bad));
    cr_assert_gt(atomic_load(&a.reads), ROUNDS, "the readers raced the replacer");
    free(a.old_data);
    free(a.new_data);
    remove_dir(1);
}

/* A write_file cancelled at any point leaves the old content under the name
 * (or the new one, complete) and no temporary file. */
struct cancel_arg { char path[256]; unsigned char *big; int64_t after; };

static int big_writer(void *arg)
{
    struct cancel_arg *c = arg;
    return ringo_write_file(c->path, c->big, BIG);
}

static int cancel_main(void *arg)
{
    struct cancel_arg *c = arg;
    cr_assert_eq(ringo_write_file(c->path, "old", 3), 0);
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, big_writer, c), 0);
    ringo_sleep(c->after);   /* 0: before it ever runs */
    ringo_cancel(t);
    int ret = ringo_await(t);
    cr_assert(ret == 0 || ret == -ECANCELED, "%s", strerror(-ret));
    void *d;
    size_t n;
    cr_assert_eq(ringo_read_file(c->path, &d, &n), 0);
    cr_assert((n == 3 && !memcmp(d, "old", 3)) || (n == BIG && !memcmp(d, c->big, BIG)));
    free(d);
    return 0;
}

Test(file, cancelled_write_file_leaves_no_temporary_file, .timeout = 30)
{
    struct cancel_arg c;
    c.big = pattern(BIG, 5);
    /* Cancelled before it runs, while writing, and (later) syncing or done. */
    for (int64_t us = 0; us <= 64000; us = us ? us * 4 : 250) {
        c.after = RINGO_US(us);
        make_dir();
        in_dir(c.path, "target");
        cr_assert_eq(run_clean(cancel_main, &c), 0);
        remove_dir(1);
    }
    free(c.big);
}
