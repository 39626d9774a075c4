/* coro/overflow.c: turn a hit on a coroutine's guard region into a message
 * naming the task, then abort.
 *
 * The fault happens with sp in the guard, so the handler needs another
 * stack: a sigaltstack per thread. The handler is process-wide and chains:
 * a fault that is not a guard hit of the running coroutine goes to the
 * handler installed before ours, or, if that was the default, restores it
 * and returns so the faulting instruction re-runs and the fault is fatal as
 * usual. Everything the handler calls is async-signal-safe.
 *
 * Under AddressSanitizer nothing is installed: ASan has its own SIGSEGV
 * handler and alternate stack, and reports stack overflows itself.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coro/coro.h"
#include "coro/frame.h"

#ifndef CORO_ASAN
static struct sigaction prev_segv;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static int handler_err;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t altstack_key;
static __thread int altstack_done;

static int is_guard_hit(const coro_t *c, const char *addr)
{
    if (!c || !c->stack)
        return 0; /* the thread's own stack: not ours to judge */
    const char *low = c->stack->base;
    /* The guard, or just below it (a stack at the start of its slab). */
    return addr >= low - ringo__coro_guard_size && addr < ringo__stack_low(c->stack);
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    if (is_guard_hit(ringo__coro_cur, si->si_addr))
        ringo__coro_overflow_abort(ringo__coro_cur);
    if (prev_segv.sa_flags & SA_SIGINFO) {
        prev_segv.sa_sigaction(sig, si, uc);
    } else if (prev_segv.sa_handler != SIG_DFL && prev_segv.sa_handler != SIG_IGN) {
        prev_segv.sa_handler(sig);
    } else {
        int saved = errno;
        sigaction(SIGSEGV, &prev_segv, NULL); /* re-fault, fatally */
        errno = saved;
    }
}

static void install_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_ONSTACK | SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &prev_segv) < 0)
        handler_err = -errno;
}

/* At thread exit: stop using the alternate stack, then free it. */
static void altstack_free(void *mem)
{
    stack_t ss = {.ss_flags = SS_DISABLE};
    stack_t old;
    if (sigaltstack(&ss, &old) == 0)
        munmap(mem, old.ss_size);
}

static void make_key(void)
{
    pthread_key_create(&altstack_key, altstack_free);
}

static int install_altstack(void)
{
    stack_t old;
    if (sigaltstack(NULL, &old) < 0)
        return -errno;
    if (!(old.ss_flags & SS_DISABLE))
        return 0; /* the thread has one already: use it */
    size_t size = (size_t)64 * 1024 + (size_t)SIGSTKSZ;
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED)
        return -ENOMEM;
    stack_t ss = {.ss_sp = mem, .ss_size = size, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) < 0) {
        int err = -errno;
        munmap(mem, size);
        return err;
    }
    pthread_once(&key_once, make_key);
    pthread_setspecific(altstack_key, mem);
    return 0;
}

int coro_overflow_handler_install(void)
{
    if (!altstack_done) {
        int err = install_altstack();
        if (err < 0)
            return err;
        altstack_done = 1;
    }
    pthread_once(&handler_once, install_handler);
    return handler_err;
}
#else
int coro_overflow_handler_install(void)
{
    return 0;
}
#endif
