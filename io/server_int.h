/* io/: the server record, shared by the server core (server.c) and the
 * handing of connections to other loops (server_spread.c). Private. */
#ifndef RINGO_IO_SERVER_INT_H
#define RINGO_IO_SERVER_INT_H

#include <sys/types.h>

#include "io/server.h"

/* One accepted connection, owned by the server's loop. Its handler runs as
 * a task of that loop, or of another one (SPREAD): task is then the proxy
 * of that task here, and the record is freed here once the result came
 * back. Either way the record is on srv->conns exactly while task is live. */
typedef struct ringo__conn {
    rlist link;
    ringo_task *task;
    struct ringo_server *srv;   /* NULL once the server let go (closed from this handler) */
    int fd;
    ringo_conn_fn fn;           /* copied: a handler on another loop never reads srv */
    void *arg;
    ringo_tls *tls;             /* the server's (it holds a reference till closed) */
    _Atomic unsigned *live;     /* SPREAD: the live count of the loop it runs on */
    ringo__done_waiter dw;      /* on another loop: its proxy finished */
    _Atomic bool claimed;       /* on another loop: the handler started, fd is its own */
} ringo__conn;

/* SPREAD: per loop of the run, on a cache line of its own, since the loop
 * that runs a handler counts it down when it ends. */
typedef struct ringo__spread_slot {
    _Alignas(64) _Atomic unsigned live;   /* handlers of this server running there */
    bool gone;                            /* refused a handler: it is closing */
} ringo__spread_slot;

struct ringo_server {
    ringo__req rq;          /* the multishot accept (first: see accept_complete) */
    ringo_tls *tls;         /* every connection is TLS (a reference held), or NULL */
    ringo__wait wait;       /* the acceptor's wait for the multishot to end */
    ringo_loop *loop;
    int fd;
    int port;               /* -1 for a Unix server */
    ringo_conn_fn fn;
    void *arg;
    ringo_task *acceptor;   /* our reference, awaited at close */
    ringo_task *closer;     /* set while close waits for the handlers */
    rlist conns;
    size_t nconns;
    rlist waiters;          /* serve_forever callers */
    int end_res;            /* result of the CQE that ended the multishot */
    bool armed, multishot, accepted, closing;
    char *path;             /* Unix: unlinked at close if still our socket */
    dev_t dev;
    ino_t ino;

    /* SPREAD over the loops of a ringo_run_loops (NULL spread: a plain
     * server). Accepted fds wait in pending until the kick timer (due at
     * once, run right after the reap) hands them out: a CQE handler must
     * not take SQEs, and posting to another loop may. */
    ringo__spread_slot *spread;
    unsigned nloops;
    unsigned next;          /* where the search for the least loaded starts */
    int *pending;
    size_t npending, phead, cpending;
    ringo__timer kick;
};

/* server.c */
bool ringo__conn_refused(const struct ringo_server *s);   /* closing: accept no more */
/* A record for fd, or NULL (fd closed then: refused, or no memory). */
ringo__conn *ringo__conn_new(struct ringo_server *s, int fd);
/* Run c's handler as a task of the server's loop (on failure c is freed
 * and its fd closed). */
void ringo__conn_start_here(struct ringo_server *s, ringo__conn *c);
/* In the connection's task: its stream (TLS handshake first, for a TLS
 * server), the handler, the close. */
void ringo__conn_serve(ringo__conn *c);
void ringo__conn_end(ringo__conn *c);   /* unlink from the server, wake close, free */

/* server_spread.c */
int  ringo__spread_init(struct ringo_server *s, unsigned nloops);   /* 0 or -ENOMEM */
void ringo__spread_free(struct ringo_server *s);   /* no-op for a plain server */
/* An accepted fd (from a CQE handler or the acceptor) for the least loaded loop. */
void ringo__spread_queue(struct ringo_server *s, int fd);
/* The acceptor is finishing: close what was not handed out yet. */
void ringo__spread_stop(struct ringo_server *s);

#endif
