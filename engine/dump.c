/* ringo_dump_tasks: asyncio.all_tasks() as text, one line per live task.
 *
 * Each loop lists only its own tasks, on its own thread: another loop's
 * task list changes under it at every switch. So a dump of every loop asks
 * each other loop, through its inbox, to format its lines into a buffer of
 * the request's, and the request comes back through the asker's inbox; the
 * asker writes each answer as it arrives, its own lines first. The asker
 * waits uninterruptibly (the requests live in its frame), counted as an
 * external wait so the deadlock breaker leaves it alone. */
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/backend.h"
#include "engine/run.h"

/* ---- what an op waits on ------------------------------------------------- */

static const char *const kind_names[] = {
    [RINGO_IO_NOP] = "nop",         [RINGO_IO_READ] = "read",
    [RINGO_IO_WRITE] = "write",     [RINGO_IO_READV] = "readv",
    [RINGO_IO_WRITEV] = "writev",   [RINGO_IO_RECV] = "recv",
    [RINGO_IO_SEND] = "send",       [RINGO_IO_ACCEPT] = "accept",
    [RINGO_IO_CONNECT] = "connect", [RINGO_IO_POLL] = "poll",
    [RINGO_IO_CLOSE] = "close",     [RINGO_IO_OPEN] = "open",
    [RINGO_IO_FSYNC] = "fsync",     [RINGO_IO_STATX] = "statx",
    [RINGO_IO_UNLINK] = "unlink",   [RINGO_IO_RENAME] = "rename",
    [RINGO_IO_MKDIR] = "mkdir",     [RINGO_IO_SHUTDOWN] = "shutdown",
    [RINGO_IO_WAITID] = "waitid",   [RINGO_IO_ACCEPT_MULTI] = "accept",
    [RINGO_IO_RECV_MULTI] = "recv", [RINGO_IO_RECVMSG] = "recvmsg",
    [RINGO_IO_SENDMSG] = "sendmsg", [RINGO_IO_RECVMSG_MULTI] = "recvmsg",
    [RINGO_IO_SPLICE] = "splice",   [RINGO_IO_SEND_ZC] = "send",
};

const char *ringo__io_kind_name(unsigned kind)
{
    const char *s = kind < sizeof kind_names / sizeof *kind_names ? kind_names[kind] : NULL;
    return s ? s : "op";
}

void ringo__op_describe(const ringo__wait *w, char *buf, size_t n)
{
    const ringo__op *op = (const ringo__op *)((const char *)w - offsetof(ringo__op, wait));
    const ringo__io *io = &op->rq.io;
    const char *name = ringo__io_kind_name(io->kind);
    switch ((enum ringo__io_kind)io->kind) {
    case RINGO_IO_NOP:
        snprintf(buf, n, "%s", name);
        break;
    case RINGO_IO_OPEN:
    case RINGO_IO_UNLINK:
    case RINGO_IO_MKDIR:
    case RINGO_IO_RENAME:
    case RINGO_IO_STATX:   /* the path is the caller's, borrowed until the op ends */
        snprintf(buf, n, "%s %s", name, io->p ? (const char *)io->p : "");
        break;
    case RINGO_IO_SPLICE:
        snprintf(buf, n, "%s fd %d to fd %u", name, io->fd, io->u);
        break;
    case RINGO_IO_WAITID:
        snprintf(buf, n, "%s pidfd %d", name, io->fd);
        break;
    default:
        snprintf(buf, n, "%s fd %d", name, io->fd);
        break;
    }
}

/* ---- lines ----------------------------------------------------------------- */

typedef struct dumpbuf {
    char *p;
    size_t len, cap;
    bool oom;              /* a line did not fit in memory: the call says -ENOMEM */
} dumpbuf;

static void put(dumpbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(dumpbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int k = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)k < room) {
            b->len += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap - b->len <= (size_t)k)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* A name is the program's: quote it so that a line stays one line. */
static void put_name(dumpbuf *b, const char *name)
{
    put(b, "\"");
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        if (*c == '"' || *c == '\\')
            put(b, "\\%c", *c);
        else if (*c < 0x20 || *c == 0x7f)
            put(b, "\\x%02x", *c);
        else
            put(b, "%c", *c);
    }
    put(b, "\"");
}

/* Where the task was spawned: a return address, as dladdr can name it
 * (a symbol of an exported function, else the object and the offset in it,
 * which addr2line takes). */
static void put_site(dumpbuf *b, void *site)
{
    Dl_info info;
    if (!dladdr(site, &info) || !info.dli_fname) {
        put(b, ", spawned at %p", site);
        return;
    }
    const char *obj = strrchr(info.dli_fname, '/');
    obj = obj ? obj + 1 : info.dli_fname;
    if (info.dli_sname && info.dli_saddr)
        put(b, ", spawned at %s+0x%tx (%s)", info.dli_sname,
            (char *)site - (char *)info.dli_saddr, obj);
    else
        put(b, ", spawned at %s+0x%tx", obj, (char *)site - (char *)info.dli_fbase);
}

static const char *state_word(uint8_t state)
{
    switch (state) {
    case RINGO_T_RUNNING:   return "running";
    case RINGO_T_READY:     return "ready";
    case RINGO_T_SUSPENDED: return "suspended";
    default:                return "done";
    }
}

static void put_task(dumpbuf *b, const ringo_loop *l, ringo_task *t, int64_t now)
{
    put(b, "loop %u task %llu ", l->index, (unsigned long long)t->id);
    put_name(b, ringo__task_name(t));
    bool waits = t->state == RINGO_T_SUSPENDED;
    put(b, " %s", state_word(t->state));
    if (waits)
        put(b, " for %.1f ms", (double)(now > t->since ? now - t->since : 0) / 1e6);
    if (t->cancelled)
        put(b, ", cancelled");
    if (t->site)
        put_site(b, t->site);
    if (waits) {
        char what[192] = "unknown wait";
        if (t->waiting && t->waiting->describe)
            t->waiting->describe(t->waiting, what, sizeof what);
        put(b, ": %s", what);
    }
    put(b, "\n");
}

/* On l's thread. */
static int dump_loop(ringo_loop *l, dumpbuf *b)
{
    int64_t now = ringo_now();
    int n = 0;
    for (rlist *p = l->live.next; p != &l->live; p = p->next, n++)
        put_task(b, l, rlist_entry(p, ringo_task, live_link), now);
    return n;
}

/* ---- writing ----------------------------------------------------------------- */

/* A reader that went away is an error to report (-EPIPE), not a reason to
 * die: SIGPIPE is held off while we write, and the one we caused is taken
 * back before it is let through. */
static int write_all(int fd, const char *p, size_t n)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    int err = 0;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k >= 0) {
            p += k;
            n -= (size_t)k;
        } else if (errno == EAGAIN) {   /* a nonblocking descriptor: a dump blocks */
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };
            (void)poll(&pfd, 1, -1);
        } else if (errno != EINTR) {
            err = -errno;
            break;
        }
    }
    if (err == -EPIPE && !sigismember(&old, SIGPIPE)) {
        static const struct timespec zero;
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

static int writable(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (fl & O_PATH) || (fl & O_ACCMODE) == O_RDONLY)
        return -EBADF;
    return 0;
}

/* Write b out (first failure kept in *err), free it. */
static void flush(int fd, dumpbuf *b, int *err)
{
    int ret = b->oom ? -ENOMEM : 0;
    if (b->len) {
        int w = write_all(fd, b->p, b->len);
        if (w < 0)
            ret = w;
    }
    if (ret < 0 && !*err)
        *err = ret;
    free(b->p);
    *b = (dumpbuf){ 0 };
}

/* ---- other loops --------------------------------------------------------- */

typedef struct dump_ask {
    ringo__wait wait;
    ringo_task *waiter;
    unsigned asked, answered;
} dump_ask;

typedef struct dump_req {
    ringo__msg m;
    ringo_loop *from;
    dump_ask *ask;
    dumpbuf out;
    int count;
    bool posted, answered, written;   /* the asker's, on its thread */
} dump_req;

static void ask_describe(const ringo__wait *w, char *buf, size_t n)
{
    const dump_ask *a = (const dump_ask *)((const char *)w - offsetof(dump_ask, wait));
    snprintf(buf, n, "task dump: %u of %u loops answered", a->answered, a->asked);
}

/* Back on the asker's loop: the inbox carried the buffer over. */
static void req_answered(ringo__msg *m, ringo_loop *l)
{
    (void)l;
    dump_req *r = (dump_req *)m;
    r->answered = true;
    r->ask->answered++;
    ringo__wake(r->ask->waiter);
}

/* On the asked loop's thread. */
static void req_run(ringo__msg *m, ringo_loop *l)
{
    dump_req *r = (dump_req *)m;
    r->count = dump_loop(l, &r->out);
    r->m.run = req_answered;
    ringo__post(r->from, &r->m);   /* owed: the asker waits for it */
}

static int dump_others(ringo_loop *l, int fd, int *err)
{
    struct ringo__run *run = l->run;
    dump_req *reqs = calloc(run->n, sizeof *reqs);
    if (!reqs)
        return -ENOMEM;
    dump_ask ask = { .wait = { .describe = ask_describe }, .waiter = l->current };
    for (unsigned i = 0; i < run->n; i++) {
        if (i == l->index)
            continue;
        reqs[i] = (dump_req){ .m.run = req_run, .from = l, .ask = &ask };
        /* A loop that has begun closing is left out: its tasks are being
         * cancelled, and it may never step again for us. */
        reqs[i].posted = ringo__post_gated(run->loops[i], &reqs[i].m) == 0;
        ask.asked += reqs[i].posted;
    }
    int count = 0;
    l->external++;
    unsigned written = 0;
    while (written < ask.asked) {
        while (ask.answered == written)
            ringo__suspend(l, &ask.wait);   /* cancel NULL: reqs are in this frame */
        for (unsigned i = 0; i < run->n; i++) {
            dump_req *r = &reqs[i];
            if (r->answered && !r->written) {
                r->written = true;
                written++;
                count += r->count;
                flush(fd, &r->out, err);
            }
        }
    }
    l->external--;
    free(reqs);
    return count;
}

int ringo_dump_tasks(int fd, bool every_loop)
{
    ringo_loop *l = ringo__loop;
    if (!l || !l->current)
        return -EPERM;
    int ret = writable(fd);
    if (ret < 0)
        return ret;
    dumpbuf b = { 0 };
    int count = dump_loop(l, &b);
    int err = 0;
    flush(fd, &b, &err);
    if (every_loop && l->run->n > 1) {
        ret = dump_others(l, fd, &err);
        if (ret < 0)
            return ret;
        count += ret;
    }
    return err ? err : count;
}
