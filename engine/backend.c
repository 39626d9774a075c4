/* Which backend a loop runs on, and the step both share: the inbox's sleep
 * protocol around the wait, then the timers and the inbox. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/backend.h"
#include "engine/pool.h"
#include "engine/inbox.h"

enum want { WANT_AUTO, WANT_URING, WANT_EPOLL };

/* Once io_uring has been refused here it stays refused (a seccomp filter is
 * for life, the sysctl rarely changes): later loops skip the attempt. */
static _Atomic bool uring_refused;
static _Atomic bool noted;

static enum want want_from_env(void)
{
    const char *v = getenv("RINGO_BACKEND");
    if (!v || !*v || strcmp(v, "auto") == 0)
        return WANT_AUTO;
    if (strcmp(v, "io_uring") == 0)
        return WANT_URING;
    if (strcmp(v, "epoll") == 0)
        return WANT_EPOLL;
    fprintf(stderr, "ringo: RINGO_BACKEND=%s is none of auto, io_uring, epoll: using auto\n", v);
    return WANT_AUTO;
}

/* Only the silent fallback is worth a word: what was asked for by name
 * needs no explanation. */
static void note(const ringo_loop *l, const char *why)
{
    if (l->debug && !atomic_exchange(&noted, true))
        fprintf(stderr, "ringo: backend epoll: %s\n", why);
}

static int open_epoll(ringo_loop *l, const char *why)
{
    l->backend = RINGO_BACKEND_EPOLL;
    int ret = ringo__epoll_open(l);
    if (ret == 0 && why)
        note(l, why);
    return ret;
}

int ringo__backend_open(ringo_loop *l, const ringo_config *cfg)
{
    enum want want = want_from_env();
    if (cfg && (cfg->flags & RINGO_CFG_EPOLL))
        want = WANT_EPOLL;
    if (want == WANT_EPOLL)
        return open_epoll(l, NULL);
    if (want == WANT_AUTO && atomic_load(&uring_refused))
        return open_epoll(l, "io_uring was refused");
    l->backend = RINGO_BACKEND_URING;
    int ret = ringo__uring_open(l, cfg, want == WANT_AUTO);
    if (ret == 0) {
        ringo__offload_init(l);
        return 0;
    }
    if (want == WANT_AUTO && ringo__uring_refused(ret)) {
        atomic_store(&uring_refused, true);
        char why[96];
        snprintf(why, sizeof why, "io_uring_setup refused (%s)", strerror(-ret));
        return open_epoll(l, why);
    }
    return ret;
}

void ringo__backend_close(ringo_loop *l)
{
    if (ringo__is_epoll(l)) {
        ringo__epoll_close(l);
        return;
    }
    ringo__offload_exit(l);
    ringo__uring_close(l);
}

const char *ringo_backend(void)
{
    ringo_loop *l = ringo__loop;
    if (!l)
        return NULL;
    return ringo__is_epoll(l) ? "epoll" : "io_uring";
}

void ringo__step(ringo_loop *l, bool wait)
{
    /* A loop that spins before it sleeps sends what it has first (it may
     * wake the loops it is about to wait for), and returns: what it reaped
     * may be what its caller waits for. The next step spins. */
    if (wait && l->inbox.spin_ns > 0 && l->inbox.recent && ringo__backend_queued(l))
        wait = false;
    if (wait && ringo__workers_spin(l))
        wait = false;
    /* No sleep, nor a system call to learn that, for a timer that is due or
     * due sooner than sleeping for it costs (~17 us of CPU in a VM here):
     * a million sleeping tasks have one due every microsecond, and these
     * calls were a quarter of their CPU. */
    if (wait && ringo__timers_armed(l) &&
        ringo__timer_next(l) - ringo_now() <= l->timer_spin_ns)
        wait = false;
    /* A loop that sleeps says so first, so that a thread posting to its
     * inbox knows to wake it (inbox.c). */
    if (wait && !ringo__inbox_sleep_begin(l))
        wait = false;
    if (ringo__is_epoll(l))
        ringo__epoll_step(l, wait);
    else
        ringo__uring_step(l, wait);
    if (wait)
        ringo__inbox_sleep_end(l);
    /* Not on every step: a clock reading costs as much as a tenth of a NOP's
     * round trip. After a sleep the clock has moved by an unknown amount;
     * otherwise only by what the tasks ran, which 16 steps bound. */
    if (wait || ringo__timers_armed(l) || (++l->clock_steps & 15) == 0)
        l->now = ringo_now();
    ringo__timers_run(l);
    if (!ringo__inbox_idle(l))
        (void)ringo__inbox_drain(l);
}
