/* Proves tests/no_uring.c: run under it, io_uring_setup must fail with EPERM
 * while ordinary syscalls still work; run bare with --expect-allowed, the
 * same call must succeed, so the filter (not the kernel) is what refused it.
 * Raw syscalls, not liburing, so nothing in between can retry or fall back.
 * Exits 0 when all held, 1 with a message otherwise, 77 (skip) when the
 * kernel itself has no io_uring to allow. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/io_uring.h>

static int fail(const char *what, long ret, int err)
{
    fprintf(stderr, "no_uring_check: %s (returned %ld, %s)\n", what, ret,
            ret < 0 ? strerror(err) : "no error");
    return 1;
}

static long setup(long nr)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    return syscall(nr, 8, &p);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--expect-allowed") == 0) {
        long fd = setup(__NR_io_uring_setup);
        if (fd < 0 && (errno == ENOSYS || errno == EPERM)) {
            /* Compiled out, kernel.io_uring_disabled, or already inside a
             * container: nothing here for the filter to take away. */
            fprintf(stderr, "no_uring_check: skip: io_uring unavailable even without "
                            "the filter: %s\n", strerror(errno));
            return 77;
        }
        if (fd < 0)
            return fail("io_uring_setup failed without the filter", fd, errno);
        close((int)fd);
        return 0;
    }

    long ret = setup(__NR_io_uring_setup);
    if (ret >= 0 || errno != EPERM)
        return fail("io_uring_setup was not refused with EPERM", ret, errno);
#ifdef __x86_64__
    /* The x32 door to the same call (bit 30) must be shut too. */
    ret = setup(0x40000000 | __NR_io_uring_setup);
    if (ret >= 0 || errno != EPERM)
        return fail("x32 io_uring_setup was not refused with EPERM", ret, errno);
#endif
    /* A filter that refused everything would pass the checks above. */
    ret = syscall(__NR_getpid);
    if (ret != getpid() || ret <= 0)
        return fail("getpid did not work under the filter", ret, errno);
    return 0;
}
