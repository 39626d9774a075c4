/* A ring of provided receive buffers (see recv_ring.h). liburing 2.3 has no
 * io_uring_setup_buf_ring: map and register by hand. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "engine/internal.h"
#include "engine/recv_ring.h"

int ringo__recv_ring_init(ringo_loop *l, ringo__recv_ring *rr, unsigned bgid, unsigned nbufs,
                          unsigned buf_size)
{
    /* The ring must be page aligned; the buffers follow it in the mapping. */
    size_t ring_len = nbufs * sizeof(struct io_uring_buf);
    size_t len = ring_len + (size_t)nbufs * buf_size;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (unsigned long)(uintptr_t)p;
    reg.ring_entries = nbufs;
    reg.bgid = (uint16_t)bgid;
    int ret = io_uring_register_buf_ring(&l->ring, &reg, 0);
    if (ret < 0) {
        munmap(p, len);
        return ret;
    }
    rr->br = p;
    rr->bufs = (char *)p + ring_len;
    rr->map_len = len;
    rr->mask = (unsigned)io_uring_buf_ring_mask(nbufs);
    rr->nbufs = nbufs;
    rr->buf_size = buf_size;
    rr->bgid = bgid;
    io_uring_buf_ring_init(rr->br);
    for (unsigned i = 0; i < nbufs; i++)
        io_uring_buf_ring_add(rr->br, ringo__recv_ring_buf(rr, i), buf_size, (unsigned short)i,
                              (int)rr->mask, (int)i);
    io_uring_buf_ring_advance(rr->br, nbufs);
    return 0;
}

void ringo__recv_ring_exit(ringo_loop *l, ringo__recv_ring *rr)
{
    (void)io_uring_unregister_buf_ring(&l->ring, (int)rr->bgid);
    munmap(rr->br, rr->map_len);
    rr->br = NULL;
}
