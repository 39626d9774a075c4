/* Task dumps of every loop under ThreadSanitizer: 3 loops on 2 CPUs, each
 * churning tasks (spawns, awaits, sleeps, a lock) while each dumps all the
 * loops again and again, so that requests cross in both directions and
 * every loop formats its lines while the others wait for them. Each dump's
 * lines are counted against what the call returned. */
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tsan_check.h"

#define LOOPS 3
#define DUMPS 200

static _Atomic int bad_counts, dumps_done;

static int nap(void *arg)
{
    (void)arg;
    return ringo_sleep(RINGO_US(200));
}

static int churn(void *arg)
{
    ringo_lock *lk = arg;
    for (;;) {
        ringo_task *t;
        if (ringo_spawn_named(&t, "nap", nap, NULL) < 0)
            return -ENOMEM;
        if (ringo_lock_acquire(lk) < 0) {
            ringo_cancel(t);
            ringo_await(t);
            return 0;
        }
        ringo_yield();
        ringo_lock_release(lk);
        if (ringo_await(t) == -ECANCELED)
            return 0;
    }
}

static long lines_in(int fd, off_t from, off_t *to)
{
    *to = lseek(fd, 0, SEEK_END);
    long n = 0;
    char buf[4096];
    for (off_t at = from; at < *to;) {
        ssize_t k = pread(fd, buf, sizeof buf, at);
        if (k <= 0)
            break;
        for (ssize_t i = 0; i < k; i++)
            n += buf[i] == '\n';
        at += k;
    }
    return n;
}

static int loop_main(void *arg)
{
    (void)arg;
    ringo_lock *lk;
    if (ringo_lock_new(&lk) < 0)
        return -ENOMEM;
    ringo_task *workers[3];
    for (int i = 0; i < 3; i++)
        ringo_spawn_named(&workers[i], "churn", churn, lk);
    int fd = memfd_create("dump", MFD_CLOEXEC);
    off_t at = 0;
    for (int k = 0; k < DUMPS && fd >= 0; k++) {
        int n = ringo_dump_tasks(fd, true);
        off_t end;
        if (n < 1 || lines_in(fd, at, &end) != n)
            atomic_fetch_add(&bad_counts, 1);
        at = end;
        atomic_fetch_add(&dumps_done, 1);
        ringo_sleep(RINGO_US(100));
    }
    for (int i = 0; i < 3; i++)
        ringo_cancel(workers[i]);
    for (int i = 0; i < 3; i++)
        ringo_await(workers[i]);
    ringo_lock_free(lk);
    if (fd >= 0)
        close(fd);
    return fd >= 0 ? 0 : -EMFILE;
}

int main(void)
{
    int before = open_fd_count();
    CHECK(ringo_run_loops(NULL, LOOPS, loop_main, NULL) == 0);
    CHECK(open_fd_count() == before);
    CHECK(atomic_load(&dumps_done) == LOOPS * DUMPS);
    CHECK(atomic_load(&bad_counts) == 0);
    return report("tsan_dump");
}
