/* An io_uring ring of provided receive buffers (IORING_REGISTER_PBUF_RING):
 * the kernel picks a buffer per completion of a multishot receive, and its
 * owner gives it back once the bytes are consumed. The streams share one per
 * loop (RINGO_IO_RECV_MULTI, only where RINGO_CAP_RECV_MULTI); each UDP
 * endpoint has its own (io/dgram_ring.c). */
#ifndef RINGO_ENGINE_RECV_RING_H
#define RINGO_ENGINE_RECV_RING_H

#include <liburing.h>
#include <stddef.h>

/* The streams': 512 x 8 KiB, shared by all streams of a loop, so 10 000
 * idle connections cost nothing here. */
#define RINGO_RECV_BUFS     512u
#define RINGO_RECV_BUF_SIZE 8192u
#define RINGO_RECV_BGID     1

typedef struct ringo__recv_ring {
    struct io_uring_buf_ring *br;   /* the ring, then the buffers, in one mapping */
    char *bufs;
    size_t map_len;
    unsigned mask;
    unsigned nbufs, buf_size, bgid;
} ringo__recv_ring;

/* Map (lazily: RSS follows use) and register nbufs buffers of buf_size
 * bytes as group bgid; nbufs a power of 2 whose ring fills whole pages. 0,
 * or -errno (-EINVAL: the kernel has no buffer rings, before 5.19), having
 * done nothing. */
struct ringo_loop;
int  ringo__recv_ring_init(struct ringo_loop *l, ringo__recv_ring *rr, unsigned bgid,
                           unsigned nbufs, unsigned buf_size);
void ringo__recv_ring_exit(struct ringo_loop *l, ringo__recv_ring *rr);

static inline char *ringo__recv_ring_buf(const ringo__recv_ring *rr, unsigned bid)
{
    return rr->bufs + (size_t)bid * rr->buf_size;
}

/* Hand buffer bid back to the kernel. */
static inline void ringo__recv_ring_put(ringo__recv_ring *rr, unsigned bid)
{
    io_uring_buf_ring_add(rr->br, ringo__recv_ring_buf(rr, bid), rr->buf_size,
                          (unsigned short)bid, (int)rr->mask, 0);
    io_uring_buf_ring_advance(rr->br, 1);
}

#endif
