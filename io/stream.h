/* io/: streams, private interface between the stream core (stream*.c) and
 * the code that makes streams (connections, servers, later subprocess pipes). */
#ifndef RINGO_IO_STREAM_H
#define RINGO_IO_STREAM_H

#include "engine/internal.h"

/* Wrap a connected, close-on-exec descriptor (socket or pipe) in a stream;
 * the stream owns fd from then on (ringo_stream_close closes it), also when
 * this fails (fd is closed then). Needs a running loop: -EPERM otherwise.
 * 0 or -ENOMEM. */
int ringo__stream_new(ringo_stream **out, int fd);

#endif
