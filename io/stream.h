/* io/: streams, private interface between the stream core (stream*.c) and
 * the code that makes streams (connections, servers, later subprocess pipes). */
#ifndef RINGO_IO_STREAM_H
#define RINGO_IO_STREAM_H

#include <stddef.h>

#include "engine/backend.h"
#include "engine/recv_ring.h"

/* Wrap a connected, close-on-exec descriptor (socket or pipe) in a stream;
 * the stream owns fd from then on (ringo_stream_close closes it), also when
 * this fails (fd is closed then). Needs a running loop: -EPERM otherwise.
 * 0 or -ENOMEM. */
int ringo__stream_new(ringo_stream **out, int fd);

/* For tests and diagnostics: bytes waiting in the read buffer, bytes queued
 * and not yet sent, and whether reads go through the multishot recv with the
 * loop's buffer ring (1) or a plain recv into the stream's own buffer (0). */
size_t ringo__stream_read_buffered(const ringo_stream *s);
size_t ringo__stream_write_buffered(const ringo_stream *s);
int    ringo__stream_multishot(const ringo_stream *s);
unsigned ringo__stream_sends(const ringo_stream *s);   /* send SQEs prepared so far */
unsigned ringo__stream_zc_sends(const ringo_stream *s); /* of those, zero-copy ones */

/* ---- inside the stream core ------------------------------------------- */

#define RINGO_STREAM_LIMIT ((size_t)64 * 1024)   /* readuntil limit, read-ahead bound */
#define RINGO_STREAM_HIGH  ((size_t)64 * 1024)   /* write buffer: drain waits above */
#define RINGO_STREAM_LOW   ((size_t)16 * 1024)   /* ... until under this */
#define RINGO_STREAM_MAX_IO 0x7ffff000u

enum { RECV_IDLE, RECV_SINGLE, RECV_MULTI };
enum { SEND_IDLE, SEND_DATA, SEND_SHUTDOWN };

/* Per loop: every stream, the buffer ring, and the streams whose CQE handler
 * left SQE work to do. Handlers run inside the reaping loop and must not take
 * SQEs (ringo__sqe may submit and reap again, re-entering it), so that work is
 * done by a timer due at once, which the loop runs right after reaping. */
typedef struct ringo__streams {
    ringo__closer closer;
    ringo_loop *loop;
    rlist streams;
    rlist kicks;
    ringo__timer kick_tm;
    bool multishot;        /* not switched off (RINGO_NO_MULTISHOT=1, no kernel support) */
    bool send_zc;          /* the loop's RINGO_CFG_SEND_ZC, and the kernel has SEND_ZC */
    bool ring_ready;
    ringo__recv_ring rr;
} ringo__streams;

/* A zero-copy send's completion slot. Its notification names only the op
 * (the CQE's user_data), so each send whose pages the kernel may still hold
 * has a req of its own. */
#define RINGO_ZC_SLOTS 4
typedef struct ringo__zc_send {
    ringo__req rq;
    ringo_stream *s;
    char *held;            /* buffer the kernel holds until the notification, or NULL */
} ringo__zc_send;

struct ringo_stream {
    ringo__streams *sl;
    int fd;
    bool is_sock;
    bool closing;          /* ringo_stream_close ran: finish when no op is left */
    bool fd_closed;        /* a pipe's write_eof closed it early */
    ringo_stream **owner;  /* a holder's slot (a subprocess's pipe), NULLed at close */

    /* Read side. The buffered bytes are in one place: a provided buffer
     * still held (pbid >= 0; zero-copy when a reader takes it whole) or
     * rbuf[rpos, rpos + rlen). rbuf never moves while a plain recv writes
     * into it (rstate == RECV_SINGLE). */
    uint8_t rstate;
    bool rcancel;          /* a cancel for the recv op is on its way */
    bool eof;
    bool ms_on;            /* multishot started: keep reading ahead up to limit */
    bool nobufs;           /* the buffer ring ran dry: next round is a plain recv */
    int rerr;
    int pbid;
    const char *pdata;
    size_t plen;
    char *rbuf;
    size_t rcap, rpos, rlen;
    size_t limit;
    size_t rhint;          /* plain recv size: doubles while recvs come back full */
    size_t rsingle;        /* size of the plain recv in flight */
    ringo_task *reader;    /* at most one task waits for data */
    ringo__wait rwait;
    size_t want, hint;     /* wake the reader at `want` bytes; recv size hint */
    ringo__req recv_rq;

    /* Write side: wbuf[whead, wlen) is queued. While a submitted send reads
     * `sending`, that buffer does not move; growing then takes a new one.
     * The same holds for a buffer a zero-copy send's notification is still
     * to release (zc[i].held), and it is not reused from its start either. */
    uint8_t sstate;
    bool szc;              /* the send in flight is zero-copy: srq is a zc[] slot's */
    bool zc_off;           /* the socket refused zero-copy (not TCP): plain sends */
    unsigned znotif;       /* notifications still to come */
    ringo__req *srq;       /* the send or shutdown in flight: send_rq or in zc[] */
    ringo__zc_send *zc;    /* RINGO_ZC_SLOTS, from the first zero-copy send */
    bool wshut;            /* write_eof or close: no more writes */
    bool eof_pending;      /* shutdown(SHUT_WR) once the queue is sent */
    bool wpaused;          /* went over the high mark, not yet under the low one */
    int werr;
    char *wbuf;
    size_t wcap, whead, wlen;
    char *sending;
    unsigned nsends, nzc;
    rlist drainers;
    ringo__req send_rq;

    struct ringo__tls_conn *tls;   /* TLS over this stream (tls_stream.c), or NULL */

    ringo_task *closer;    /* a task waiting in ringo_stream_close */
    ringo__wait cwait;
    rlist link;            /* sl->streams */
    rlist kick_link;       /* sl->kicks */
};

static inline size_t ringo__stream_rbuffered(const ringo_stream *s) { return s->plen + s->rlen; }
static inline size_t ringo__stream_wbuffered(const ringo_stream *s) { return s->wlen - s->whead; }

/* stream.c */
/* RINGO_NO_MULTISHOT=1 in the environment: the plain receive paths (read
 * once per loop, so tests can cover both). */
bool ringo__env_no_multishot(void);
bool ringo__streams_multishot(ringo__streams *sl);   /* lazily sets up the buffer ring */
bool ringo__stream_busy(const ringo_stream *s);      /* an op in flight or bytes to send */
void ringo__stream_after_cqe(ringo_stream *s);       /* from a CQE handler */
void ringo__stream_sync(ringo_stream *s);            /* start/cancel what the state asks */
/* Mark s closing: no more writes; a holder's slot (owner) forgets it. */
static inline void ringo__stream_mark_closing(ringo_stream *s)
{
    s->closing = s->wshut = true;
    s->eof_pending = false;
    if (s->owner)
        *s->owner = NULL;
    s->owner = NULL;
}

/* stream_read.c */
void ringo__stream_read_init(ringo_stream *s);
void ringo__stream_recv_sync(ringo_stream *s);
bool ringo__stream_recv_work(const ringo_stream *s); /* recv_sync has something to do */
void ringo__stream_read_release(ringo_stream *s);    /* give buffers back (no recv in flight
                                                         into rbuf) */
void ringo__stream_recv_cancel(ringo_stream *s);

/* Suspend the current task (the stream's one reader) until `want` bytes are
 * buffered, EOF or an error: 0, -ECANCELED, -ETIMEDOUT, -EIO. */
int  ringo__stream_wait_data(ringo_stream *s, ringo_loop *l, size_t want);
/* Room for at least `need` more bytes at the end of the read buffer: where
 * (*p) and how much (*room); the caller adds what it wrote to s->rlen. */
int  ringo__stream_rbuf_tail(ringo_stream *s, size_t need, char **p, size_t *room);
void ringo__stream_drop_read(ringo_stream *s);      /* forget what is buffered */

/* stream_write.c */
/* Queue n bytes to send as they are (after any TLS). 0 or -ENOMEM. */
int  ringo__stream_queue(ringo_stream *s, const void *buf, size_t n);
void ringo__stream_write_init(ringo_stream *s);
void ringo__stream_send_sync(ringo_stream *s);
bool ringo__stream_send_work(const ringo_stream *s);
void ringo__stream_write_release(ringo_stream *s);
void ringo__stream_send_cancel(ringo_stream *s);
/* A socket's send queued and not yet gone to the kernel sends its bytes
 * now, by one nonblocking send(2), and is left with what that did not take
 * (maybe nothing: a 0-byte op). So bytes that follow by another way
 * (sendfile) go right behind with no round trip; a reader woken by them
 * finds the rest on its heels. */
void ringo__stream_send_inline(ringo_stream *s);
/* Suspend the current task until everything queued was sent: 0, the
 * stream's write error, -ECANCELED or -ETIMEDOUT. */
int  ringo__stream_flush(ringo_stream *s, ringo_loop *l);

#endif
