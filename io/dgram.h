/* io/: UDP endpoints, private to dgram.c (life cycle, sends), dgram_ring.c
 * (receiving) and dgram_batch.c (many datagrams per call).
 *
 * Receiving. Where the kernel has it, one multishot recvmsg per endpoint
 * fills a buffer ring of the endpoint's own: one datagram (or one GRO run)
 * per buffer, each buffer big enough for the largest datagram, so nothing is
 * ever cut by the kernel. Each endpoint has its own ring (its own buffer
 * group) rather than a share of one per loop: an endpoint whose reader is
 * slow then runs out of its own buffers only, never starving the others, and
 * closing one frees its buffers at once. The mapping is lazy (MAP_NORESERVE):
 * a small datagram touches one page of its buffer. Completions wait in the
 * endpoint's queue, in arrival order, until a reader takes them; a buffer
 * goes back to the ring once read. Elsewhere (epoll, old kernels,
 * RINGO_NO_MULTISHOT=1) each receive is a plain recvmsg into the caller's
 * buffer, or, with GRO on, into a heap chunk whose unread segments queue the
 * same way. */
#ifndef RINGO_IO_DGRAM_H
#define RINGO_IO_DGRAM_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "engine/backend.h"
#include "engine/recv_ring.h"

#define DGRAM_MAX      65507u      /* the largest IPv4 UDP payload */
#define DGRAM_ROOM     65536u      /* payload room per buffer: a GRO run fits too */
#define DGRAM_NAME     ((unsigned)sizeof(struct sockaddr_storage))
#define DGRAM_CTL      64u         /* a UDP_GRO cmsg, with room to spare */
/* io_uring_recvmsg_out, name, control, payload; 17 pages. */
#define DGRAM_BUF_SIZE (17u * 4096u)
/* Per endpoint: more than a window of a few hundred datagrams in flight. */
#define DGRAM_BUFS     256u
/* Buffer groups 16 and up are the endpoints' (1 is the streams' ring). */
#define DGRAM_BGID_BASE 16u

_Static_assert(sizeof(struct io_uring_recvmsg_out) + DGRAM_NAME + DGRAM_CTL + DGRAM_ROOM <=
                   DGRAM_BUF_SIZE, "a datagram buffer holds the largest datagram");

/* A datagram, a GRO run of them, or an error, waiting to be read. */
typedef struct dgram_chunk {
    char *heap;          /* a plain receive's chunk (freed once read), or NULL */
    int bid;             /* the ring buffer it is in, or -1 */
    int err;             /* an error to report in its turn (no data) */
    const char *data;    /* what is left to read */
    uint32_t left;
    uint32_t seg;        /* GRO segment size; 0: one datagram */
    uint32_t full;       /* one datagram: its length before any cut */
    socklen_t namelen;
    const void *name;
} dgram_chunk;

/* A task inside a call on the endpoint; close tells it to leave. */
typedef struct dgram_user {
    rlist link;          /* d->users */
    rlist rlink;         /* d->readers, while it waits for the queue */
    ringo_task *task;
    ringo__wait *w;      /* what it suspends on */
    ringo__wait own;     /* the queue wait */
    bool closed;         /* the endpoint is gone: touch nothing of it */
} dgram_user;

/* Per loop: every endpoint (loop close sweeps them) and the buffer group
 * ids in use. */
typedef struct dgram_loop {
    ringo__closer closer;
    ringo_loop *loop;
    rlist all;
    bool multishot;      /* the kernel has it, RINGO_NO_MULTISHOT not set */
    unsigned next_bgid;
    unsigned *free_bgid;
    size_t nfree, capfree;
} dgram_loop;

struct ringo_dgram {
    ringo_loop *loop;
    dgram_loop *dl;
    rlist link;          /* dl->all */
    int fd, port, family;
    bool closed;
    bool gro;
    bool no_gso;         /* UDP_SEGMENT failed once: one sendmsg per datagram */
    bool ms;             /* receives go through the multishot recvmsg */
    bool armed;          /* it is in flight */
    bool stalled;        /* stopped with every buffer held: re-arm on a put */
    unsigned bgid;       /* 0 until the ring is set up */
    ringo__recv_ring rr; /* while bgid is set */
    unsigned held;       /* buffers the kernel filled and we still hold */
    struct msghdr tmpl;  /* the multishot's reservation: name and control room */
    ringo__req rq;
    rlist users, readers;
    ringo_task *closer;  /* waiting for the multishot's last completion */
    dgram_chunk *q;      /* circular: q[qhead .. qhead + qlen) */
    size_t qhead, qlen, qcap;
};

/* dgram.c */
void ringo__dgram_enter(ringo_dgram *d, dgram_user *u, ringo_task *t);
void ringo__dgram_leave(ringo_dgram *d, dgram_user *u);
/* The ring's buffer group: a fresh id, or a freed one back (dgram.c). */
int  ringo__dgram_bgid_get(dgram_loop *dl);
void ringo__dgram_bgid_put(dgram_loop *dl, unsigned bgid);

/* dgram_ring.c */
/* Wait until a datagram is queued (arming the multishot) or, on the plain
 * path with GRO, queue one: 1 queued, 0 plain path without GRO (the caller
 * receives into its own buffer), or -errno. */
int  ringo__dgram_wait(ringo_dgram *d, ringo_loop *l, dgram_user *u);
/* Take the next datagram from the queue into buf (cut at cap): its full
 * length, or the queued error. */
ssize_t ringo__dgram_take(ringo_dgram *d, void *buf, size_t cap, struct sockaddr_storage *from,
                          socklen_t *fromlen);
/* Whether the queue's head is an error (recv_many stops before it). */
static inline bool ringo__dgram_head_err(const ringo_dgram *d)
{
    return d->qlen && d->q[d->qhead].err;
}
/* One plain recvmsg into the caller's buffer (MSG_TRUNC: the full length). */
ssize_t ringo__dgram_plain(ringo_dgram *d, ringo_loop *l, dgram_user *u, void *buf, size_t cap,
                           struct sockaddr_storage *from, socklen_t *fromlen);
/* Close: cancel the multishot and wait (task) or step (loop close) until its
 * last completion, then give back what the queue and the ring hold. */
void ringo__dgram_recv_stop(ringo_dgram *d, ringo_loop *l, bool in_task);

#endif
