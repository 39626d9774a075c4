/* ringo_stream_sendfile: a file to a stream, after what the stream has
 * buffered.
 *
 * A plain stream's queue is flushed first, then the file goes to the
 * descriptor itself by ringo__sendfile (so the caller writes nothing else to
 * the stream until this returns). A TLS stream needs every byte through
 * OpenSSL: the file is read into a buffer and written to the stream, with
 * drain's flow control in between. */
#include <stdlib.h>
#include <sys/stat.h>

#include "io/sendfile.h"
#include "io/stream.h"

#define TLS_CHUNK ((size_t)16 * 1024)   /* one TLS record */

static ssize_t through_writes(ringo_stream *s, int in_fd, int64_t off, size_t count)
{
    char *buf = malloc(TLS_CHUNK);
    if (!buf)
        return -ENOMEM;
    size_t total = 0;
    ssize_t n = 0;
    while (total < count) {
        size_t want = count - total < TLS_CHUNK ? count - total : TLS_CHUNK;
        n = ringo_read(in_fd, buf, want, off + (int64_t)total);
        if (n <= 0)
            break;
        /* A stream write takes all or fails (nothing queued). */
        ssize_t w = ringo_stream_write(s, buf, (size_t)n);
        if (w < 0) {
            n = w;
            break;
        }
        total += (size_t)n;
        if ((n = ringo_stream_drain(s)) < 0)
            break;
    }
    free(buf);
    return total ? (ssize_t)total : n;
}

ssize_t ringo_stream_sendfile(ringo_stream *s, int in_fd, int64_t offset, size_t count)
{
    if (!s)
        return -EINVAL;
    if (in_fd < 0)
        return -EBADF;
    if (offset < 0)
        return -EINVAL;
    if (s->werr)
        return s->werr == -ECANCELED ? -EPIPE : s->werr;
    if (s->wshut || s->fd_closed)
        return -EBADF;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0 || count == 0)
        return ret;
    if (s->tls)
        return through_writes(s, in_fd, offset, count);
    ringo__stream_send_inline(s);
    if ((ret = ringo__stream_flush(s, l)) < 0)
        return ret;
    struct stat st;
    enum ringo__sendfile_out kind = s->is_sock ? RINGO_SF_SOCK
                                    : fstat(s->fd, &st) == 0 && S_ISFIFO(st.st_mode)
                                        ? RINGO_SF_PIPE
                                        : RINGO_SF_OTHER;
    return ringo__sendfile(l, s->fd, kind, in_fd, &offset, count);
}
