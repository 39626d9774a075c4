/* ringo_dump_tasks: each task's line (name, state, what it waits on, for how
 * long) parsed back, the count, every loop of a run, escaped names, the
 * spawn site and the SIGUSR1 dump under debug (and SIGUSR1 left to a program
 * that handles it), bad input. Tasks reach their waits through ringo_yield
 * and events, never through sleeps that hope. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "loops_helpers.h"

/* ---- parsing ---------------------------------------------------------------- */

typedef struct line {
    unsigned loop;
    unsigned long long id;
    char name[64];
    char state[16];
    double ms;             /* -1 unless suspended */
    bool cancelled;
    char site[256];        /* "" unless debug */
    char wait[256];        /* "" unless suspended */
} line;

/* Unquote a name as the dump writes it. Returns the text after the quote. */
static const char *parse_name(const char *p, char *out, size_t cap)
{
    cr_assert_eq(*p, '"', "name not quoted: %s", p);
    size_t n = 0;
    for (p++; *p && *p != '"'; p++) {
        char c = *p;
        if (c == '\\') {
            p++;
            if (*p == 'x') {
                unsigned v;
                cr_assert_eq(sscanf(p + 1, "%2x", &v), 1);
                c = (char)v;
                p += 2;
            } else {
                c = *p;
            }
        }
        cr_assert_lt(n + 1, cap);
        out[n++] = c;
    }
    out[n] = 0;
    cr_assert_eq(*p, '"');
    return p + 1;
}

static void parse_line(const char *s, line *l)
{
    memset(l, 0, sizeof *l);
    l->ms = -1;
    int k = 0;
    cr_assert_eq(sscanf(s, "loop %u task %llu %n", &l->loop, &l->id, &k), 2, "bad line: %s", s);
    const char *p = parse_name(s + k, l->name, sizeof l->name);
    cr_assert_eq(sscanf(p, " %15[a-z]%n", l->state, &k), 1, "no state: %s", s);
    p += k;
    if (strcmp(l->state, "suspended") == 0) {
        cr_assert_eq(sscanf(p, " for %lf ms%n", &l->ms, &k), 1, "no duration: %s", s);
        p += k;
    }
    if (strncmp(p, ", cancelled", 11) == 0) {
        l->cancelled = true;
        p += 11;
    }
    if (strncmp(p, ", spawned at ", 13) == 0) {
        p += 13;
        const char *end = strstr(p, ": ");
        size_t n = end ? (size_t)(end - p) : strlen(p);
        cr_assert_lt(n, sizeof l->site);
        memcpy(l->site, p, n);
        p += n;
    }
    if (strcmp(l->state, "suspended") == 0) {
        cr_assert_eq(strncmp(p, ": ", 2), 0, "no wait: %s", s);
        p += 2;
        snprintf(l->wait, sizeof l->wait, "%s", p);
    } else {
        cr_assert_eq(*p, 0, "trailing text: %s", s);
    }
}

/* Split buf (modified) into lines; those of the dump begin with "loop "
 * (stderr may carry debug mode's notes too). */
static size_t parse_all(char *buf, line *out, size_t cap)
{
    size_t n = 0;
    for (char *save, *s = strtok_r(buf, "\n", &save); s; s = strtok_r(NULL, "\n", &save)) {
        if (strncmp(s, "loop ", 5) != 0)
            continue;
        cr_assert_lt(n, cap, "more lines than expected");
        parse_line(s, &out[n++]);
    }
    return n;
}

static const line *find(const line *ls, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ls[i].name, name) == 0)
            return &ls[i];
    cr_assert_fail("no line for task \"%s\"", name);
    return NULL;
}

/* Everything written to fd (a memfd) so far, NUL-terminated; caller frees. */
static char *slurp(int fd)
{
    off_t n = lseek(fd, 0, SEEK_END);
    cr_assert_geq(n, 0);
    char *buf = calloc(1, (size_t)n + 1);
    cr_assert_eq(pread(fd, buf, (size_t)n, 0), n);
    return buf;
}

static int dump_count(bool every, line *ls, size_t cap, size_t *nlines)
{
    int fd = memfd_create("dump", MFD_CLOEXEC);
    cr_assert_geq(fd, 0);
    int ret = ringo_dump_tasks(fd, every);
    char *text = slurp(fd);
    close(fd);
    *nlines = parse_all(text, ls, cap);
    free(text);
    return ret;
}

/* ---- one loop, every kind of wait ------------------------------------------ */

struct world {
    ringo_lock *lock;
    ringo_queue *queue;
    ringo_event *event, *child_event;
    int sv[2];
};

static int sleeper(void *arg) { (void)arg; return ringo_sleep(RINGO_SEC(10)); }
static int locker(void *arg) { return ringo_lock_acquire(((struct world *)arg)->lock); }
static int eventer(void *arg) { return ringo_event_wait(((struct world *)arg)->event); }
static int child(void *arg) { return ringo_event_wait(((struct world *)arg)->child_event); }
static int nothing(void *arg) { (void)arg; return 0; }

static int getter(void *arg)
{
    void *item;
    return ringo_queue_get(((struct world *)arg)->queue, &item);
}

static int receiver(void *arg)
{
    char c;
    return (int)ringo_recv(((struct world *)arg)->sv[0], &c, 1, 0);
}

static int awaiter(void *arg)
{
    ringo_task *t;
    int ret = ringo_spawn_named(&t, "child", child, arg);
    return ret < 0 ? ret : ringo_await(t);
}

static int states_main(void *arg)
{
    (void)arg;
    struct world w;
    cr_assert_eq(ringo_lock_new(&w.lock), 0);
    cr_assert_eq(ringo_queue_new(&w.queue, 0), 0);
    cr_assert_eq(ringo_event_new(&w.event), 0);
    cr_assert_eq(ringo_event_new(&w.child_event), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, w.sv), 0);
    cr_assert_eq(ringo_lock_acquire(w.lock), 0);

    static const struct { const char *name; ringo_fn fn; } specs[] = {
        { "sleeper", sleeper }, { "locker", locker },     { "getter", getter },
        { "eventer", eventer }, { "receiver", receiver }, { "awaiter", awaiter },
    };
    enum { N = sizeof specs / sizeof *specs };
    ringo_task *ts[N + 1];
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(ringo_spawn_named(&ts[i], specs[i].name, specs[i].fn, &w), 0);
    cr_assert_eq(ringo_yield(), 0);   /* each reaches its wait; awaiter spawns child */
    cr_assert_eq(ringo_yield(), 0);   /* child reaches its wait */
    cr_assert_eq(ringo_sleep(RINGO_MS(20)), 0);
    cr_assert_eq(ringo_spawn_named(&ts[N], "fresh", nothing, NULL), 0);

    line ls[16];
    size_t n;
    int ret = dump_count(false, ls, 16, &n);
    cr_assert_eq(ret, 9, "main, six tasks, child, fresh: %d", ret);
    cr_assert_eq(n, 9);

    const line *m = find(ls, n, "main");
    cr_assert_str_eq(m->state, "running");
    cr_assert_eq(m->loop, 0);
    cr_assert_str_eq(find(ls, n, "fresh")->state, "ready");
    char want[96];
    struct { const char *name; const char *fmt; const void *obj; } waits[] = {
        { "locker", "lock %p", w.lock },
        { "getter", "queue get %p", w.queue },
        { "eventer", "event %p", w.event },
        { "child", "event %p", w.child_event },
    };
    for (size_t i = 0; i < sizeof waits / sizeof *waits; i++) {
        const line *l = find(ls, n, waits[i].name);
        snprintf(want, sizeof want, waits[i].fmt, waits[i].obj);
        cr_assert_str_eq(l->state, "suspended", "%s", l->name);
        cr_assert_str_eq(l->wait, want, "%s", l->name);
    }
    snprintf(want, sizeof want, "recv fd %d", w.sv[0]);
    cr_assert_str_eq(find(ls, n, "receiver")->wait, want);
    cr_assert_str_eq(find(ls, n, "awaiter")->wait, "await task \"child\"");
    double left;
    cr_assert_eq(sscanf(find(ls, n, "sleeper")->wait, "sleep %lf ms left", &left), 1,
                 "%s", find(ls, n, "sleeper")->wait);
    cr_assert(left > 9000 && left <= 10000, "%.1f ms left of 10 s after 20 ms", left);
    /* Everyone suspended before the 20 ms sleep; the clock they recorded is
     * never later than when they did. */
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ls[i].state, "suspended") != 0)
            continue;
        cr_assert(ls[i].ms >= 19.0 && ls[i].ms < 5000, "%s waited %.1f ms", ls[i].name, ls[i].ms);
        cr_assert_not(ls[i].cancelled);
        cr_assert_str_eq(ls[i].site, "", "no spawn site outside debug mode");
    }
    unsigned long long ids[16];
    for (size_t i = 0; i < n; i++) {
        ids[i] = ls[i].id;
        for (size_t j = 0; j < i; j++)
            cr_assert_neq(ids[j], ids[i], "ids are distinct");
    }

    for (size_t i = 0; i <= N; i++)
        (void)ringo_cancel(ts[i]);
    for (size_t i = 0; i <= N; i++)
        (void)ringo_await(ts[i]);
    cr_assert_eq(ringo_lock_release(w.lock), 0);
    ringo_lock_free(w.lock);
    ringo_queue_free(w.queue);
    ringo_event_free(w.event);
    ringo_event_free(w.child_event);
    close(w.sv[0]);
    close(w.sv[1]);
    return 0;
}

Test(dump, lists_each_task_with_its_state_and_what_it_waits_on)
{
    cr_assert_eq(run_clean(states_main, NULL), 0);
}

/* ---- cancelled, still waiting ---------------------------------------------- */

static int blocking_read(void *arg)
{
    char c;
    return read(*(int *)arg, &c, 1) == 1 ? 0 : -EIO;
}

static int on_thread(void *arg) { return ringo_to_thread(blocking_read, arg); }

static int await_on_thread(void *arg)
{
    ringo_task *t;
    int ret = ringo_spawn_named(&t, "worker-child", on_thread, arg);
    return ret < 0 ? ret : ringo_await(t);
}

static int cancelled_main(void *arg)
{
    (void)arg;
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    ringo_task *t;
    cr_assert_eq(ringo_spawn_named(&t, "parent", await_on_thread, &p[0]), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_cancel(t), 0);   /* cancels the child; both wait on the thread */
    cr_assert_eq(ringo_yield(), 0);
    line ls[8];
    size_t n;
    cr_assert_eq(dump_count(false, ls, 8, &n), 3);
    const line *pl = find(ls, n, "parent"), *cl = find(ls, n, "worker-child");
    cr_assert(pl->cancelled && cl->cancelled);
    cr_assert_str_eq(pl->wait, "await task \"worker-child\"");
    cr_assert_str_eq(cl->wait, "worker thread: to_thread");
    cr_assert_not(find(ls, n, "main")->cancelled);
    cr_assert_eq(write(p[1], "x", 1), 1);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    close(p[0]);
    close(p[1]);
    return 0;
}

Test(dump, a_cancelled_task_still_waiting_says_so)
{
    cr_assert_eq(run_clean(cancelled_main, NULL), 0);
}

/* ---- names ------------------------------------------------------------------- */

static int odd_name_main(void *arg)
{
    (void)arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn_named(&t, "a\"b\\c\nd", nothing, NULL), 0);
    int fd = memfd_create("dump", MFD_CLOEXEC);
    cr_assert_eq(ringo_dump_tasks(fd, false), 2);
    char *text = slurp(fd);
    cr_assert(strstr(text, "\"a\\\"b\\\\c\\x0ad\" ready\n"), "%s", text);
    line ls[4];
    cr_assert_eq(parse_all(text, ls, 4), 2, "the newline stayed escaped");
    cr_assert_str_eq(find(ls, 2, "a\"b\\c\nd")->state, "ready");
    free(text);
    close(fd);
    cr_assert_eq(ringo_await(t), 0);
    return 0;
}

Test(dump, names_are_quoted_and_escaped_to_stay_on_one_line)
{
    cr_assert_eq(run_clean(odd_name_main, NULL), 0);
}

/* ---- every loop -------------------------------------------------------------- */

static int loops_main(void *arg)
{
    (void)arg;
    line ls[8];
    size_t n;
    cr_assert_eq(dump_count(false, ls, 8, &n), 1, "only the calling loop");
    cr_assert_eq(ls[0].loop, 0);
    cr_assert_eq(dump_count(true, ls, 8, &n), 3, "every loop's main");
    cr_assert_eq(n, 3);
    cr_assert_eq(ls[0].loop, 0, "the caller's loop first");
    cr_assert_str_eq(ls[0].state, "running");
    bool seen[3] = { false };
    for (size_t i = 1; i < n; i++) {
        cr_assert(ls[i].loop == 1 || ls[i].loop == 2);
        cr_assert_not(seen[ls[i].loop], "one line per loop");
        seen[ls[i].loop] = true;
        cr_assert_str_eq(ls[i].name, "main");
        cr_assert_str_eq(ls[i].state, "suspended");
        cr_assert_eq(strncmp(ls[i].wait, "event 0x", 8), 0, "%s", ls[i].wait);
    }
    return 0;
}

Test(dump, every_loop_asks_each_loop_for_its_own_tasks)
{
    cr_assert_eq(run_loops_clean(NULL, 3, loops_main, NULL), 0);
}

/* ---- bad input ----------------------------------------------------------- */

static int bad_fd_main(void *arg)
{
    (void)arg;
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    cr_assert_eq(ringo_dump_tasks(-1, false), -EBADF);
    cr_assert_eq(ringo_dump_tasks(p[0], false), -EBADF, "a read end");
    cr_assert_eq(ringo_dump_tasks(p[0], true), -EBADF);
    close(p[0]);
    /* No reader: -EPIPE, and no SIGPIPE kills us. */
    cr_assert_eq(ringo_dump_tasks(p[1], false), -EPIPE);
    close(p[1]);
    cr_assert_eq(ringo_dump_tasks(p[1], false), -EBADF, "a closed descriptor");
    return 0;
}

Test(dump, bad_descriptors_are_ebadf_and_a_gone_reader_epipe)
{
    cr_assert_eq(run_clean(bad_fd_main, NULL), 0);
}

Test(dump, outside_a_loop_is_eperm)
{
    cr_assert_eq(ringo_dump_tasks(STDERR_FILENO, false), -EPERM);
    cr_assert_eq(ringo_dump_tasks(STDERR_FILENO, true), -EPERM);
}

/* ---- debug mode ----------------------------------------------------------- */

static const ringo_config debug_cfg = { .flags = RINGO_CFG_DEBUG };

static int site_main(void *arg)
{
    (void)arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn_named(&t, "sited", nothing, NULL), 0);
    line ls[4];
    size_t n;
    cr_assert_eq(dump_count(false, ls, 4, &n), 2);
    const line *l = find(ls, n, "sited");
    /* This program's own functions are not exported: the object (the
     * program, by the name it was started as) and the offset, which
     * addr2line turns into this file's line. */
    char want[128];
    snprintf(want, sizeof want, "%s+0x", program_invocation_short_name);
    cr_assert_eq(strncmp(l->site, want, strlen(want)), 0, "site: %s, want %s", l->site, want);
    cr_assert_str_eq(find(ls, n, "main")->site, "", "main was not spawned by a call");
    cr_assert_eq(ringo_await(t), 0);
    return 0;
}

Test(dump, debug_mode_gives_the_spawn_site)
{
    cr_assert_eq(run_clean_config(&debug_cfg, site_main, NULL), 0);
}

static int usr1_main(void *arg)
{
    int *err = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn_named(&t, "napper", sleeper, NULL), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(raise(SIGUSR1), 0);   /* handled before raise returns */
    /* The loop starts the dump after this pass; it runs in the next. */
    char *text = NULL;
    for (int i = 0; i < 2000; i++) {
        cr_assert_eq(ringo_sleep(RINGO_MS(1)), 0);
        free(text);
        text = slurp(*err);
        if (strstr(text, "\"ringo-dump\" running"))
            break;
    }
    line ls[8];
    size_t n = parse_all(text, ls, 8);
    cr_assert_eq(n, 3, "main, napper and the dump's own task:\n%s", text);
    cr_assert_str_eq(find(ls, n, "napper")->state, "suspended");
    cr_assert_eq(strncmp(find(ls, n, "napper")->wait, "sleep ", 6), 0);
    free(text);
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    return 0;
}

/* stderr becomes a memfd for a debug run of n loops. */
static int with_stderr(int *mfd, ringo_fn fn, unsigned loops)
{
    *mfd = memfd_create("stderr", MFD_CLOEXEC);
    cr_assert_geq(*mfd, 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(*mfd, STDERR_FILENO);
    int ret = loops > 1 ? run_loops_clean(&debug_cfg, loops, fn, mfd)
                        : run_clean_config(&debug_cfg, fn, mfd);
    dup2(saved, STDERR_FILENO);
    close(saved);
    return ret;
}

Test(dump, sigusr1_writes_the_dump_to_stderr_in_debug_mode)
{
    int mfd;
    cr_assert_eq(with_stderr(&mfd, usr1_main, 1), 0);
    close(mfd);
    struct sigaction sa;
    cr_assert_eq(sigaction(SIGUSR1, NULL, &sa), 0);
    cr_assert(sa.sa_handler == SIG_DFL, "the default disposition is back after the run");
}

static volatile sig_atomic_t own_handler_ran;
static void own_handler(int signo) { (void)signo; own_handler_ran = 1; }

static int own_usr1_main(void *arg)
{
    int *err = arg;
    cr_assert_eq(raise(SIGUSR1), 0);
    cr_assert(own_handler_ran, "the program's handler got it");
    for (int i = 0; i < 5; i++)
        cr_assert_eq(ringo_sleep(RINGO_MS(1)), 0);
    char *text = slurp(*err);
    cr_assert_null(strstr(text, "ringo-dump"), "no dump: %s", text);
    free(text);
    return 0;
}

Test(dump, sigusr1_stays_with_a_program_that_handles_it)
{
    struct sigaction sa = { .sa_handler = own_handler };
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    int mfd;
    cr_assert_eq(with_stderr(&mfd, own_usr1_main, 1), 0);
    close(mfd);
    struct sigaction now;
    cr_assert_eq(sigaction(SIGUSR1, NULL, &now), 0);
    cr_assert(now.sa_handler == own_handler, "ours was left in place");
}

/* Loop 0 takes the signal; whichever loop sees it first dumps them all. */
static int usr1_loops_main(void *arg)
{
    int *err = arg;
    cr_assert_eq(raise(SIGUSR1), 0);
    char *text = NULL;
    for (int i = 0; i < 2000; i++) {
        cr_assert_eq(ringo_sleep(RINGO_MS(1)), 0);
        free(text);
        text = slurp(*err);
        if (strstr(text, "\"ringo-dump\" running") && strstr(text, "loop 0 task") &&
            strstr(text, "loop 1 task"))
            break;
    }
    line ls[8];
    size_t n = parse_all(text, ls, 8);
    cr_assert_eq(n, 3, "two mains and the dump's task:\n%s", text);
    unsigned mains = 0;
    for (size_t i = 0; i < n; i++)
        mains |= strcmp(ls[i].name, "main") == 0 ? 1u << ls[i].loop : 0;
    cr_assert_eq(mains, 3u, "both loops' mains:\n%s", text);
    free(text);
    return 0;
}

Test(dump, sigusr1_dumps_every_loop_of_a_run)
{
    int mfd;
    cr_assert_eq(with_stderr(&mfd, usr1_loops_main, 2), 0);
    close(mfd);
}

/* A program waiting for SIGUSR1 blocks it: the signal is its own. */
static int usr1_waiter(void *arg) { (void)arg; return ringo_wait_signal(SIGUSR1); }

static int waited_usr1_main(void *arg)
{
    int *err = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, usr1_waiter, NULL), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(kill(getpid(), SIGUSR1), 0);
    cr_assert_eq(ringo_await(t), SIGUSR1);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(ringo_sleep(RINGO_MS(1)), 0);
    char *text = slurp(*err);
    cr_assert_null(strstr(text, "ringo-dump"), "no dump: %s", text);
    free(text);
    return 0;
}

Test(dump, sigusr1_goes_to_ringo_wait_signal_not_to_the_dump)
{
    int mfd;
    cr_assert_eq(with_stderr(&mfd, waited_usr1_main, 1), 0);
    close(mfd);
}
