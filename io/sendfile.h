/* io/: sendfile's private interface: the per-loop pipe pool (pipe_pool.c)
 * and the sendfile core that ringo_stream_sendfile shares (sendfile.c). */
#ifndef RINGO_IO_SENDFILE_H
#define RINGO_IO_SENDFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/backend.h"

/* A pipe of the pool: bytes spliced into wr come out of rd. size: what one
 * splice into it can take (F_SETPIPE_SZ is best-effort). */
typedef struct ringo__pipe {
    int rd, wr;
    unsigned size;
} ringo__pipe;

/* Per loop: the pool, and which way sockets are fed. */
typedef struct ringo__sendfile_loop ringo__sendfile_loop;
ringo__sendfile_loop *ringo__sendfile_loop_get(ringo_loop *l);   /* NULL: -ENOMEM */
/* Sockets through the pipe pool (true, RINGO_SENDFILE=splice) or
 * sendfile(2) (false, the default: pipe_pool.c says why). */
bool ringo__sendfile_splices(const ringo__sendfile_loop *sl);

/* An empty pipe (0), -EAGAIN when the pool's pipes are all in use, or
 * pipe2's error. Each one taken goes back with ringo__pipe_give. */
int  ringo__pipe_take(ringo__sendfile_loop *sl, ringo__pipe *p);
/* Back to the pool if it holds nothing (known_empty, or FIONREAD says so);
 * else closed: a later send must never carry another's stale bytes. */
void ringo__pipe_give(ringo__sendfile_loop *sl, ringo__pipe *p, bool known_empty);

/* What out_fd is: a socket, a pipe (one splice reaches it), or anything
 * else (read + write). */
enum ringo__sendfile_out { RINGO_SF_SOCK, RINGO_SF_PIPE, RINGO_SF_OTHER };

/* ringo_sendfile after its checks and ringo__enter. */
ssize_t ringo__sendfile(ringo_loop *l, int out_fd, enum ringo__sendfile_out kind, int in_fd,
                        int64_t *offset, size_t count);

#endif
