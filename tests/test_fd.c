/* Descriptor operations on real pipes and files. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static int pipe_main(void *arg)
{
    int *fds = arg;
    cr_assert_eq(ringo_write(fds[1], "abc", 3, -1), 3);
    char buf[8] = { 0 };
    cr_assert_eq(ringo_read(fds[0], buf, sizeof buf, -1), 3);
    cr_assert_str_eq(buf, "abc");
    cr_assert_eq(ringo_nop(), 0);
    return 0;
}

Test(fd, read_and_write_a_pipe)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(run_clean(pipe_main, fds), 0);
    close(fds[0]);
    close(fds[1]);
}

static int bad_main(void *arg)
{
    (void)arg;
    char buf[4];
    cr_assert_eq(ringo_read(-1, buf, sizeof buf, -1), -EBADF);
    cr_assert_eq(ringo_write(-3, buf, sizeof buf, -1), -EBADF);
    cr_assert_eq(ringo_read(0, NULL, 4, -1), -EINVAL);
    cr_assert_eq(ringo_read(0, buf, sizeof buf, -2), -EINVAL);
    cr_assert_eq(ringo_read(1000000, buf, sizeof buf, -1), -EBADF);
    return 0;
}

Test(fd, bad_descriptors_and_buffers_are_errors)
{
    cr_assert_eq(run_clean(bad_main, NULL), 0);
}

static int offset_main(void *arg)
{
    int fd = *(int *)arg;
    cr_assert_eq(ringo_write(fd, "0123456789", 10, 0), 10);
    char buf[4] = { 0 };
    cr_assert_eq(ringo_read(fd, buf, 3, 4), 3);
    cr_assert_str_eq(buf, "456");
    return 0;
}

Test(fd, read_and_write_at_an_offset)
{
    char path[] = "/tmp/ringo-fd-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    cr_assert_eq(run_clean(offset_main, &fd), 0);
    close(fd);
}
