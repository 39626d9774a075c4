/* The io_uring backend's ring of provided receive buffers
 * (IORING_REGISTER_PBUF_RING), shared by every stream's multishot recv
 * (RINGO_IO_RECV_MULTI, only where RINGO_CAP_RECV_MULTI). The kernel picks a
 * buffer per completion; the stream gives it back once its bytes are
 * consumed. */
#ifndef RINGO_ENGINE_RECV_RING_H
#define RINGO_ENGINE_RECV_RING_H

#include <liburing.h>
#include <stddef.h>

/* 512 x 8 KiB: mapped lazily, so RSS follows use; shared by all streams of a
 * loop, so 10 000 idle connections cost nothing here. */
#define RINGO_RECV_BUFS     512u
#define RINGO_RECV_BUF_SIZE 8192u
#define RINGO_RECV_BGID     1

typedef struct ringo__recv_ring {
    struct io_uring_buf_ring *br;   /* the ring, then the buffers, in one mapping */
    char *bufs;
    size_t map_len;
    unsigned mask;
} ringo__recv_ring;

/* Map and register the ring. 0, or -errno (-EINVAL: the kernel has no
 * buffer rings, before 5.19), having done nothing. */
struct ringo_loop;
int  ringo__recv_ring_init(struct ringo_loop *l, ringo__recv_ring *rr);
void ringo__recv_ring_exit(struct ringo_loop *l, ringo__recv_ring *rr);

static inline char *ringo__recv_ring_buf(const ringo__recv_ring *rr, unsigned bid)
{
    return rr->bufs + (size_t)bid * RINGO_RECV_BUF_SIZE;
}

/* Hand buffer bid back to the kernel. */
static inline void ringo__recv_ring_put(ringo__recv_ring *rr, unsigned bid)
{
    io_uring_buf_ring_add(rr->br, ringo__recv_ring_buf(rr, bid), RINGO_RECV_BUF_SIZE,
                          (unsigned short)bid, (int)rr->mask, 0);
    io_uring_buf_ring_advance(rr->br, 1);
}

#endif
