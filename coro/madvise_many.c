/* coro/madvise_many.c: one madvise advice over many ranges, in one syscall.
 *
 * A million stacks mean a million guard installs, first-page commits and,
 * later, releases. At ~2 µs a syscall in a VM, one madvise per stack was
 * most of a spawn. process_madvise(2) takes the ranges as an iovec and, on
 * the calling process, accepts every advice since Linux 6.13 (before, only
 * a few: EINVAL for the rest, and then each range gets its own madvise).
 *
 * It wants a pidfd of ourselves. PIDFD_SELF (6.14) would need none, but the
 * kernels we meet answer it EBADF, so one is opened per batch: a cached one
 * would name the parent after fork, or be closed under us by a program's
 * closefrom. Kernels and seccomp profiles that refuse either call, and
 * Valgrind, which knows neither, get the per-range path for good.
 */
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "coro/coro.h"

#if defined(__has_include)
# if __has_include(<valgrind/valgrind.h>)
#  include <valgrind/valgrind.h>
#  define HAVE_VALGRIND 1
# endif
#endif

#ifndef SYS_pidfd_open
# define SYS_pidfd_open 434       /* the same on x86-64 and aarch64 */
#endif
#ifndef SYS_process_madvise
# define SYS_process_madvise 440
#endif

#define IOV_PER_CALL 1024         /* the kernel's UIO_MAXIOV */

static int batch_mode = 1;        /* 0: per range (refused once, or a test) */

int ringo__madvise_many_mode(int batched)
{
    return __atomic_exchange_n(&batch_mode, batched, __ATOMIC_RELAXED);
}

static int refused(int err)
{
    return err == ENOSYS || err == EPERM || err == EACCES || err == EBADF;
}

/* Ranges [0, return) were advised by process_madvise; the rest were not. */
static size_t batched(const struct iovec *iov, size_t n, int advice)
{
    int pfd = (int)syscall(SYS_pidfd_open, (long)getpid(), 0L);
    if (pfd < 0) {
        if (refused(errno))
            __atomic_store_n(&batch_mode, 0, __ATOMIC_RELAXED);
        return 0;
    }
    size_t done = 0;
    while (done < n) {
        size_t cnt = n - done < IOV_PER_CALL ? n - done : IOV_PER_CALL;
        long r = syscall(SYS_process_madvise, (long)pfd, iov + done, (long)cnt,
                         (long)advice, 0L);
        if (r <= 0) {
            if (r < 0 && refused(errno))
                __atomic_store_n(&batch_mode, 0, __ATOMIC_RELAXED);
            break;
        }
        /* A short count stops inside a range: that range is redone whole by
         * madvise, which is harmless for the advice we give (all idempotent). */
        size_t left = (size_t)r;
        while (done < n && left >= iov[done].iov_len)
            left -= iov[done++].iov_len;
        if (left)
            break;
    }
    close(pfd);
    return done;
}

size_t ringo__madvise_many(const struct iovec *iov, size_t n, int advice)
{
    size_t done = 0;
    int on = __atomic_load_n(&batch_mode, __ATOMIC_RELAXED);
#ifdef HAVE_VALGRIND
    on = on && !RUNNING_ON_VALGRIND;
#endif
    if (on && n > 1)
        done = batched(iov, n, advice);
    for (; done < n; done++)
        if (madvise(iov[done].iov_base, iov[done].iov_len, advice))
            break;
    return done;
}
