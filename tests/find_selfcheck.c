/* readuntil's separator search (io/find.c) against the obvious loop, on
 * random haystacks dense with near-misses, at every length and alignment
 * around the 16-byte blocks it tests at a time. A plain program, not a
 * Criterion one, so that cross builds (aarch64 under qemu, where the lane
 * arithmetic differs) run it too. Exit status 0 when all agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/find.h"

static const char *naive(const char *p, size_t len, const char *sep, size_t seplen)
{
    for (size_t i = 0; i + seplen <= len; i++)
        if (memcmp(p + i, sep, seplen) == 0)
            return p + i;
    return NULL;
}

/* Over a tiny alphabet, separators made of the same letters half-match
 * everywhere. */
static void fill(char *p, size_t n, const char *alphabet, size_t k, unsigned *seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = alphabet[(size_t)rand_r(seed) % k];
}

int main(void)
{
    static const struct { const char *s; size_t n; } alphabets[] = {
        { "\r\n", 2 }, { "\r\na", 3 }, { "ab", 2 }, { "abc\0", 4 }, { "\xff\x80\x01", 3 },
    };
    unsigned seed = 12345;
    char hay[200], sep[24];
    int bad = 0;
    for (int round = 0; round < 100000 && bad < 10; round++) {
        size_t a = (size_t)round % (sizeof alphabets / sizeof *alphabets);
        size_t off = (size_t)rand_r(&seed) % 8;   /* misaligned starts */
        size_t len = (size_t)rand_r(&seed) % (sizeof hay - off + 1);
        size_t seplen = 1 + (size_t)rand_r(&seed) % (round % 3 ? sizeof sep : 4);
        fill(hay, sizeof hay, alphabets[a].s, alphabets[a].n, &seed);
        fill(sep, seplen, alphabets[a].s, alphabets[a].n, &seed);
        const char *want = naive(hay + off, len, sep, seplen);
        const char *got = ringo__find(hay + off, len, sep, seplen);
        if (got != want) {
            fprintf(stderr, "round %d: len %zu seplen %zu off %zu: got %td, want %td\n", round,
                    len, seplen, off, got ? got - hay : -1, want ? want - hay : -1);
            bad++;
        }
    }
    if (!bad)
        printf("find_selfcheck: 100000 searches agree\n");
    return bad != 0;
}
