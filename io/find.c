/* readuntil's separator search.
 *
 * glibc's memmem builds a 256-byte shift table on every call and then calls
 * memcmp at each place where the separator's last two bytes hash alike (for
 * "\r\n\r\n", every line end). readuntil calls it once per request head of
 * some 40 bytes, so the set-up is most of the cost: with 16 pipelined
 * requests, memmem and its memcmp were 8% of http_hello's CPU.
 *
 * Here 16 positions are tested at a time: a position is a candidate when the
 * separator's first byte is there and its last byte is seplen - 1 further on
 * (two vector compares, GCC/Clang vector extensions: SSE2 on x86-64, NEON on
 * aarch64). Only candidates get a full compare, and in real text they are
 * rare. The last positions, fewer than a vector's worth, are tested one by
 * one. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "io/find.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__

typedef uint8_t v16 __attribute__((vector_size(16)));

static inline v16 load16(const char *p)
{
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline v16 splat16(char c)
{
    v16 v;
    memset(&v, c, sizeof v);
    return v;
}

/* Bit k set when lane k of hit (0 or 0xff) is set. */
static inline uint32_t lanes(v16 hit)
{
#ifdef __SSE2__
    return (uint32_t)__builtin_ia32_pmovmskb128((__attribute__((vector_size(16))) char)hit);
#else
    uint64_t half[2];
    memcpy(half, &hit, sizeof half);
    uint32_t m = 0;
    for (int h = 0; h < 2; h++)   /* gather the top bit of each byte: 8 bits per half */
        m |= (uint32_t)(((half[h] & 0x8080808080808080u) * 0x0002040810204081u) >> 56) << (8 * h);
    return m;
#endif
}

/* Is sep at p, given that its first and last bytes are? Separators are
 * short; a call to memcmp would cost more than the compare. */
static inline bool middle_matches(const char *p, const char *sep, size_t last)
{
    for (size_t k = 1; k < last; k++)
        if (p[k] != sep[k])
            return false;
    return true;
}

const char *ringo__find(const char *p, size_t len, const char *sep, size_t seplen)
{
    if (seplen == 1)
        return memchr(p, sep[0], len);
    if (seplen > len)
        return NULL;
    size_t last = seplen - 1;
    const v16 first_b = splat16(sep[0]), last_b = splat16(sep[last]);
    size_t i = 0;
    for (; i + last + sizeof(v16) <= len; i += sizeof(v16)) {
        v16 hit = (v16)(load16(p + i) == first_b) & (v16)(load16(p + i + last) == last_b);
        for (uint32_t m = lanes(hit); m; m &= m - 1) {
            size_t at = i + (size_t)__builtin_ctz(m);
            if (middle_matches(p + at, sep, last))
                return p + at;
        }
    }
    for (; i + last < len; i++)
        if (p[i] == sep[0] && p[i + last] == sep[last] && middle_matches(p + i, sep, last))
            return p + i;
    return NULL;
}

#else   /* the lane arithmetic above assumes little-endian */

const char *ringo__find(const char *p, size_t len, const char *sep, size_t seplen)
{
    return memmem(p, len, sep, seplen);
}

#endif
