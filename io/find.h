/* io/: finding a separator in buffered bytes (readuntil's search). */
#ifndef RINGO_IO_FIND_H
#define RINGO_IO_FIND_H

#include <stddef.h>

/* The first occurrence of sep[0, seplen) in p[0, len), or NULL; seplen >= 1.
 * The same answer as memmem, without its per-call set-up. */
const char *ringo__find(const char *p, size_t len, const char *sep, size_t seplen);

#endif
