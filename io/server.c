/* Servers (asyncio.start_server / start_unix_server).
 *
 * Each server owns one acceptor task. The acceptor arms a single multishot
 * accept and sleeps: every accepted fd arrives as a completion whose handler
 * spawns the connection's task right there, with no task switch per accept
 * (io_uring's IORING_OP_ACCEPT, 5.19+; on epoll, accept4 until EAGAIN at
 * each readiness edge). The acceptor wakes only when
 * the multishot ends (an error such as EMFILE, or cancellation), deals with
 * it and re-arms. Older kernels refuse the flag with -EINVAL before any
 * connection arrived: the acceptor then loops on single-shot accepts.
 *
 * Handler tasks are detached; the server tracks them through a `conn`
 * record, which the task unlinks before it finishes, so every task pointer
 * on the list is live and can be cancelled. Closing waits for the list to
 * drain. A SPREAD server's handlers on other loops are on the same list,
 * through the proxies of their tasks (server_spread.c).
 *
 * A server still open when main returns is cancelled with every other task.
 * Nothing of it may outlive the loop: its handler tasks and acceptor run
 * even when cancelled before their first step (must_run), so an accepted
 * socket nobody served yet is closed, and so is the listening one; sockets
 * accepted after that are closed as they arrive. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/server_int.h"
#include "io/tls.h"
#include "io/tls_stream.h"
#include "io/stream.h"

#define EMFILE_PAUSE RINGO_MS(100)     /* out of fds: retry after this, never spin */

void ringo__conn_end(ringo__conn *c)
{
    ringo_server *s = c->srv;
    if (s) {
        rlist_del(&c->link);
        s->nconns--;
        if (s->closer && s->nconns == 0)
            ringo__wake(s->closer);
    }
    free(c);
}

void ringo__conn_serve(ringo__conn *c)
{
    ringo_stream *st;
    if (ringo__stream_new(&st, c->fd) < 0)
        return;
    /* A failed handshake closes the connection without the handler, and
     * the server keeps serving (asyncio's rule). */
    if (!c->tls || ringo__tls_start(st, c->tls, NULL, true) == 0)
        (void)c->fn(st, c->arg);   /* its status has nobody to go to (asyncio logs it) */
    (void)ringo_stream_close(st);
}

static int conn_main(void *arg)
{
    ringo__conn *c = arg;
    if (ringo__loop->current->cancelled) {   /* before it started: just close fd */
        close(c->fd);
    } else {
        ringo__conn_serve(c);
    }
    /* Without its server (closed from this handler) the counter is gone. */
    if (c->srv && c->live)
        atomic_fetch_sub_explicit(c->live, 1, memory_order_relaxed);
    ringo__conn_end(c);
    return 0;
}

bool ringo__conn_refused(const ringo_server *s)
{
    return s->closing || s->acceptor->cancelled;
}

ringo__conn *ringo__conn_new(ringo_server *s, int fd)
{
    ringo__conn *c = ringo__conn_refused(s) ? NULL : malloc(sizeof *c);
    if (!c) {
        close(fd);   /* closing, or no memory: drop this client */
        return NULL;
    }
    *c = (ringo__conn){ .srv = s, .fd = fd, .fn = s->fn, .arg = s->arg, .tls = s->tls };
    atomic_init(&c->claimed, false);
    return c;
}

void ringo__conn_start_here(ringo_server *s, ringo__conn *c)
{
    if (s->spread) {
        c->live = &s->spread[s->loop->index].live;
        atomic_fetch_add_explicit(c->live, 1, memory_order_relaxed);
    }
    if (ringo__task_new(s->loop, &c->task, NULL, conn_main, c) < 0) {
        if (c->live)
            atomic_fetch_sub_explicit(c->live, 1, memory_order_relaxed);
        close(c->fd);
        free(c);
        return;
    }
    c->task->must_run = true;       /* to close fd if cancelled before it starts */
    ringo__task_release(c->task);   /* detached: the list tracks it */
    rlist_push(&s->conns, &c->link);
    s->nconns++;
}

/* Called from a CQE handler or the acceptor: give fd a task of its own. */
static void conn_start(ringo_server *s, int fd)
{
    if (s->spread) {
        ringo__spread_queue(s, fd);
        return;
    }
    ringo__conn *c = ringo__conn_new(s, fd);
    if (c)
        ringo__conn_start_here(s, c);
}

static void accept_complete(ringo__cqe_handler *h, int32_t res, uint32_t flags)
{
    ringo_server *s = (ringo_server *)h;
    if (res >= 0) {
        s->accepted = true;
        ringo__fd_forget(s->loop, res);
        conn_start(s, res);
    }
    if (!(flags & RINGO_CQE_MORE)) {
        s->armed = false;
        s->end_res = res < 0 ? res : 0;
        s->loop->inflight--;
        ringo__wake(s->acceptor);
    }
}

static void accept_cancel(ringo__wait *w)
{
    ringo_server *s = (ringo_server *)((char *)w - offsetof(ringo_server, wait));
    ringo__io_cancel(s->loop, &s->rq);
}

static void accept_describe(const ringo__wait *w, char *buf, size_t n)
{
    const ringo_server *s = (const ringo_server *)((const char *)w - offsetof(ringo_server, wait));
    snprintf(buf, n, "accept fd %d", s->fd);
}

/* Arm a multishot accept and sleep until it ends; returns how it ended. */
static int accept_multishot(ringo_loop *l, ringo_server *s)
{
    s->rq.io = (ringo__io){ .kind = RINGO_IO_ACCEPT_MULTI, .fd = s->fd, .flags = SOCK_CLOEXEC };
    ringo__io_start(l, &s->rq);
    s->armed = true;
    l->inflight++;
    /* Cancellation asks the backend to stop it; its last completion wakes us. */
    while (s->armed)
        ringo__suspend(l, &s->wait);
    return s->end_res;
}

/* Close the listening socket (and remove a Unix one's file, if still ours). */
static void listener_close(ringo_server *s)
{
    if (s->fd >= 0) {
        ringo__fd_forget(s->loop, s->fd);
        close(s->fd);
    }
    s->fd = -1;
    if (s->path) {
        struct stat st;
        if (stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
            (void)unlink(s->path);
        free(s->path);
        s->path = NULL;
    }
}

static int accept_loop(ringo_server *s)
{
    ringo_loop *l = s->loop;
    ringo_task *self = l->current;
    while (!self->cancelled) {
        int res;
        if (s->multishot) {
            res = accept_multishot(l, s);
            if (res == -EINVAL && !s->accepted && !self->cancelled) {
                s->multishot = false;   /* kernel before 5.19 */
                continue;
            }
        } else {
            res = ringo_accept(s->fd, NULL, NULL, 0);
            if (res >= 0) {
                conn_start(s, res);
                continue;
            }
        }
        if (self->cancelled)
            return 0;
        switch (res) {
        case -EMFILE: case -ENFILE: case -ENOBUFS: case -ENOMEM:
            /* Out of descriptors or memory: retrying at once would spin.
             * Handlers closing connections will free some soon. */
            if (ringo_sleep(EMFILE_PAUSE) < 0)
                return 0;
            break;
        case -EBADF: case -ENOTSOCK: case -EINVAL: case -EOPNOTSUPP:
            return res;   /* the listening socket itself is unusable */
        default:
            break;        /* ECONNABORTED, EPROTO, EPERM...: one client's problem */
        }
    }
    return 0;
}

static int accept_main(void *arg)
{
    ringo_server *s = arg;
    int ret = accept_loop(s);
    /* No accept can arrive any more: sockets not handed over yet are closed. */
    if (s->spread)
        ringo__spread_stop(s);
    /* Cancelled, not by close: the loop is ending with the server open. */
    if (s->loop->current->cancelled && !s->closing)
        listener_close(s);
    return ret;
}

static int server_new(ringo_server **out, ringo_loop *l, int fd, int port, bool spread,
                      ringo_conn_fn fn, void *arg)
{
    ringo_server *s = calloc(1, sizeof *s);
    int ret = s ? 0 : -ENOMEM;
    if (ret == 0 && spread)
        ret = ringo__spread_init(s, ringo_loop_count());
    if (ret == 0) {
        ret = ringo__task_new(l, &s->acceptor, "ringo-accept", accept_main, s);
        if (ret < 0)
            ringo__spread_free(s);
    }
    if (ret < 0) {
        close(fd);
        free(s);
        return ret;
    }
    s->rq.h.complete = accept_complete;
    s->wait.cancel = accept_cancel;
    s->wait.describe = accept_describe;
    s->loop = l;
    s->fd = fd;
    s->port = port;
    s->fn = fn;
    s->arg = arg;
    s->multishot = true;
    rlist_init(&s->conns);
    rlist_init(&s->waiters);
    s->acceptor->must_run = true;   /* to close the listener if cancelled at once */
    *out = s;
    return 0;
}

static int listen_on(const struct sockaddr *sa, socklen_t len, int v6only, int backlog,
                     bool reuseport)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (sa->sa_family != AF_UNIX) {
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        /* Accepted sockets inherit it: no setsockopt per connection. */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (sa->sa_family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    if ((reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
        bind(fd, sa, len) < 0 || listen(fd, backlog) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

#define SERVER_FLAGS (RINGO_SERVER_REUSEPORT | RINGO_SERVER_SPREAD)

int ringo_start_server_opts(ringo_server **out, const char *host, const char *port,
                            const ringo_server_opts *opts, ringo_conn_fn fn, void *arg)
{
    ringo_server_opts o = { .backlog = 0 };
    if (opts)
        o = *opts;
    if (!out || !fn || !port || o.backlog < 0 || (o.flags & ~SERVER_FLAGS) ||
        (o.flags & SERVER_FLAGS) == SERVER_FLAGS || (o.tls && !ringo__tls_is_server(o.tls)))
        return -EINVAL;
    int backlog = o.backlog ? o.backlog : SOMAXCONN;   /* the kernel caps it at somaxconn */
    bool reuseport = o.flags & RINGO_SERVER_REUSEPORT;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    /* No host: every interface, IPv4 and IPv6 on one dual-stack socket
     * (IPv4 alone where the kernel has no IPv6). */
    bool any = !host || !*host;
    struct addrinfo *res;
    ret = ringo__resolve(any ? "::" : host, port, AI_PASSIVE, &res);
    if (ret < 0)
        return ret;
    int fd = -ENOENT;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = listen_on(ai->ai_addr, ai->ai_addrlen, !any, backlog, reuseport);
    freeaddrinfo(res);
    if (fd == -EAFNOSUPPORT && any) {
        ret = ringo__resolve("0.0.0.0", port, AI_PASSIVE, &res);
        if (ret < 0)
            return ret;
        fd = listen_on(res->ai_addr, res->ai_addrlen, 0, backlog, reuseport);
        freeaddrinfo(res);
    }
    if (fd < 0)
        return fd;
    int p = bound_port(fd);
    if (p < 0) {
        close(fd);
        return p;
    }
    /* Under ringo_run (one loop) a SPREAD server is a plain one. */
    bool spread = (o.flags & RINGO_SERVER_SPREAD) && ringo_loop_count() > 1;
    ret = server_new(out, l, fd, p, spread, fn, arg);
    if (ret == 0)
        (*out)->tls = ringo__tls_ref(o.tls);   /* the connections' context, till close */
    return ret;
}

int ringo_start_server(ringo_server **out, const char *host, const char *port, ringo_conn_fn fn,
                       void *arg)
{
    return ringo_start_server_opts(out, host, port, NULL, fn, arg);
}

int ringo_start_unix_server(ringo_server **out, const char *path, ringo_conn_fn fn, void *arg)
{
    if (!out || !fn)
        return -EINVAL;
    struct sockaddr_un sa;
    socklen_t len;
    int ret = ringo__unix_addr(&sa, &len, path);
    if (ret < 0)
        return ret;
    ringo_loop *l;
    ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    /* A socket file left by a previous run would make bind fail (asyncio
     * removes it too); anything else at path is not ours to remove. */
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        (void)unlink(path);
    int fd = listen_on((struct sockaddr *)&sa, len, 0, SOMAXCONN, false);
    if (fd >= 0 && stat(path, &st) < 0) {   /* remembered, to unlink only ours */
        ret = -errno;
        close(fd);
        fd = ret;
    }
    if (fd < 0) {
        free(copy);
        return fd;
    }
    ringo_server *s;
    ret = server_new(&s, l, fd, -1, false, fn, arg);
    if (ret < 0) {
        (void)unlink(path);
        free(copy);
        return ret;
    }
    s->path = copy;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    *out = s;
    return 0;
}

int ringo_server_port(const ringo_server *s)
{
    return s && s->port >= 0 ? s->port : -EINVAL;
}

typedef struct forever_wait {
    rlist link;
    ringo__wait wait;
    ringo_task *task;
} forever_wait;

static void forever_cancel(ringo__wait *w)
{
    forever_wait *f = (forever_wait *)((char *)w - offsetof(forever_wait, wait));
    rlist_del(&f->link);
    ringo__wake(f->task);
}

static void forever_describe(const ringo__wait *w, char *buf, size_t n)
{
    (void)w;
    snprintf(buf, n, "serve forever");
}

int ringo_server_serve_forever(ringo_server *s)
{
    if (!s)
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    if (s->loop != l)
        return -EXDEV;   /* the server's state belongs to its loop */
    if (s->closing)
        return 0;
    forever_wait f = { .wait = { .cancel = forever_cancel, .describe = forever_describe }, .task = l->current };
    rlist_push(&s->waiters, &f.link);
    /* 0 when close woke us (it unlinked f); else the interruption. */
    return ringo__wait_on(l, &f.wait);
}

/* Cancel every handler but the caller's own and wait for them to finish;
 * those on other loops are cancelled through their proxies, and their
 * records leave the list once the result came back here. Uninterruptible:
 * close is cleanup, and the handlers point at s. */
static void stop_handlers(ringo_loop *l, ringo_server *s)
{
    ringo_task *self = l->current;
    for (rlist *p = s->conns.next, *next; p != &s->conns; p = next) {
        next = p->next;
        ringo__conn *c = rlist_entry(p, ringo__conn, link);
        if (c->task == self) {
            /* close called from a handler: it runs on, without the server */
            rlist_del(&c->link);
            s->nconns--;
            c->srv = NULL;
        } else {
            (void)ringo__cancel(c->task);   /* not started yet: it only closes its fd */
        }
    }
    s->closer = self;
    while (s->nconns && !l->broken)
        ringo__suspend(l, NULL);
    s->closer = NULL;
    /* Only after a deadlock was broken: orphan whoever is still stuck. A
     * deadlock is never declared while a task of another loop is awaited,
     * so only local handlers can be left. */
    while (!rlist_empty(&s->conns)) {
        ringo__conn *c = rlist_entry(s->conns.next, ringo__conn, link);
        rlist_del(&c->link);
        c->srv = NULL;
    }
}

int ringo_server_close(ringo_server *s)
{
    if (!s)
        return -EINVAL;
    ringo_loop *l = ringo__loop;
    if (!l || !l->current)
        return -EPERM;
    if (s->loop != l)
        return -EXDEV;
    if (s->closing || l->current == s->acceptor)
        return -EBADF;
    s->closing = true;
    /* First stop the acceptor: after its await no CQE can name s->h. */
    (void)ringo__cancel(s->acceptor);
    (void)ringo_await(s->acceptor);
    listener_close(s);
    stop_handlers(l, s);
    while (!rlist_empty(&s->waiters)) {
        forever_wait *f = rlist_entry(s->waiters.next, forever_wait, link);
        rlist_del(&f->link);
        ringo__wake(f->task);
    }
    ringo__spread_free(s);
    ringo__tls_unref(s->tls);
    free(s);
    return 0;
}
