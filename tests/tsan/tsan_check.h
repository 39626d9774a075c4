/* Shared by tests/tsan/: plain checks, since Criterion's runner crashes under
 * ThreadSanitizer. CHECK only on the loop's thread (the counters are plain).
 * A race is not a failed CHECK: TSan reports it and, with halt_on_error=1,
 * the program exits non-zero. */
#ifndef RINGO_TSAN_CHECK_H
#define RINGO_TSAN_CHECK_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <ringo.h>

static int passed, failed;

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (cond) {                                                           \
            passed++;                                                         \
        } else {                                                              \
            failed++;                                                         \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
        }                                                                     \
    } while (0)

static int open_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* ringo_run(fn, arg), checking that it returned 0 and closed clean. */
static __attribute__((unused)) void run_clean(ringo_fn fn, void *arg)
{
    int before = open_fd_count();
    CHECK(ringo_run(fn, arg) == 0);
    CHECK(ringo_self() == NULL);
    CHECK(open_fd_count() == before);
}

/* The closing line; the exit status of main. */
static int report(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, passed, failed);
    return failed ? 1 : 0;
}

#endif
