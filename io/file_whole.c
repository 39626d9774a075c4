/* Whole-file helpers on top of the file ops: ringo_read_file and the atomic
 * ringo_write_file. Both loop over short transfers and leave nothing behind
 * (memory, descriptors, temporary files) when they fail. */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/internal.h"

/* Read to EOF into a buffer of cap bytes (grown as needed). The statx size
 * is only a hint: /proc files say 0, files may grow. When the buffer is
 * full, a small probe read tells EOF from more data, so a file whose size
 * is right costs one extra read instead of a doubled buffer. */
static int read_all(int fd, bool seekable, size_t cap, char **out, size_t *outlen)
{
    char *buf = malloc(cap + 1);
    if (!buf)
        return -ENOMEM;
    size_t n = 0;
    for (;;) {
        char probe[512];
        bool full = n == cap;
        char *dst = full ? probe : buf + n;
        size_t want = full ? sizeof probe : cap - n;
        ssize_t r = ringo_read(fd, dst, want, seekable ? (int64_t)n : -1);
        if (r == 0)
            break;
        if (r < 0) {
            free(buf);
            return (int)r;
        }
        if (full) {
            size_t ncap = cap < 4096 ? 4096 : cap * 2;
            char *nb = ncap > cap ? realloc(buf, ncap + 1) : NULL;
            if (!nb) {
                free(buf);
                return -ENOMEM;
            }
            buf = nb;
            cap = ncap;
            memcpy(buf + n, probe, (size_t)r);
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return 0;
}

int ringo_read_file(const char *path, void **data, size_t *len)
{
    if (!path || !data || !len)
        return -EINVAL;
    int fd = ringo_open(path, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    struct statx st;
    int ret = ringo_statx(fd, "", AT_EMPTY_PATH, STATX_SIZE | STATX_TYPE, &st);
    if (ret >= 0) {
        if (S_ISDIR(st.stx_mode))
            ret = -EISDIR;
        else if (st.stx_size >= SIZE_MAX / 2)
            ret = -EFBIG;
    }
    char *buf = NULL;
    size_t n = 0;
    if (ret >= 0)
        ret = read_all(fd, S_ISREG(st.stx_mode), (size_t)st.stx_size, &buf, &n);
    ringo_close(fd);   /* read-only: nothing its result could tell us */
    if (ret < 0)
        return ret;
    *data = buf;
    *len = n;
    return 0;
}

/* ---- ringo_write_file ---------------------------------------------------- */

/* Unique among the loops of this process (the counter) and across processes
 * (the pid); O_EXCL settles any remaining race. */
static atomic_uint tmp_counter;

/* Unlink a temporary file on an error path. A cancelled task cannot
 * suspend, so then it happens synchronously: cleanup must not be skipped. */
static void remove_tmp(const char *tmp)
{
    int ret = ringo_unlink(tmp);
    if (ret == -ECANCELED || ret == -ETIMEDOUT || ret == -EPERM)
        unlink(tmp);
}

static int write_all(int fd, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t r = ringo_write(fd, data + off, len - off, (int64_t)off);
        if (r < 0)
            return (int)r;
        if (r == 0)
            return -EIO;   /* no progress: do not spin */
        off += (size_t)r;
    }
    return 0;
}

/* The target's permission bits, so replacing a file does not change who may
 * read it; a new file gets 0666 less the umask, like open(2). */
static int target_mode(const char *path, mode_t *mode, bool *exists)
{
    struct statx st;
    int ret = ringo_statx(AT_FDCWD, path, 0, STATX_MODE | STATX_TYPE, &st);
    *exists = ret >= 0;
    if (ret == -ENOENT)
        return 0;
    if (ret < 0)
        return ret;
    if (S_ISDIR(st.stx_mode))
        return -EISDIR;
    *mode = st.stx_mode & 07777;
    return 0;
}

/* Create the temporary file, write, sync and close it; on failure nothing is
 * left on disk. */
static int write_tmp(char *tmp, size_t tmpsz, const char *dir, const char *base,
                     const void *data, size_t len, mode_t mode, bool keep_mode)
{
    int fd = -EEXIST;
    for (int tries = 0; fd == -EEXIST && tries < 100; tries++) {
        /* Hidden, and the base cut short so the name stays under NAME_MAX. */
        snprintf(tmp, tmpsz, "%s/.%.200s.%ld.%u.tmp", dir, base, (long)getpid(),
                 atomic_fetch_add(&tmp_counter, 1));
        fd = ringo_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
    }
    if (fd < 0)
        return fd;
    int ret = 0;
    if (keep_mode && fchmod(fd, mode) < 0)
        ret = -errno;
    if (ret >= 0)
        ret = write_all(fd, data, len);
    /* Durable before it takes the name: else a crash could leave the name
     * pointing at an empty or partial file. */
    if (ret >= 0)
        ret = ringo_fsync(fd, false);
    int cret = ringo_close(fd);
    if (ret >= 0 && cret < 0)
        ret = cret;
    if (ret < 0)
        remove_tmp(tmp);
    return ret;
}

/* The rename is on disk only once the directory is. */
static int sync_dir(const char *dir)
{
    int fd = ringo_open(dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return fd;
    int ret = ringo_fsync(fd, false);
    ringo_close(fd);
    return ret;
}

int ringo_write_file(const char *path, const void *data, size_t len)
{
    if (!path || !*path || (!data && len))
        return -EINVAL;
    size_t plen = strlen(path);
    if (path[plen - 1] == '/')
        return -EISDIR;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dlen = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    size_t tmpsz = plen + 256;
    char *dir = malloc(dlen + 1), *tmp = malloc(tmpsz);
    if (!dir || !tmp) {
        free(dir);
        free(tmp);
        return -ENOMEM;
    }
    memcpy(dir, slash ? path : ".", dlen);
    dir[dlen] = '\0';

    mode_t mode = 0666;
    bool exists;
    int ret = target_mode(path, &mode, &exists);
    if (ret >= 0)
        ret = write_tmp(tmp, tmpsz, dir, base, data, len, mode, exists);
    if (ret >= 0) {
        ret = ringo_rename(tmp, path);
        if (ret < 0)
            remove_tmp(tmp);
        else
            ret = sync_dir(dir);   /* the new content is in place either way */
    }
    free(dir);
    free(tmp);
    return ret < 0 ? ret : 0;
}
