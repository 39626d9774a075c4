/* readuntil's separator search (io/find.c): matches at every position,
 * the edges of the buffer, overlapping matches. find_selfcheck.c compares it
 * with the obvious loop on random text. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "io/find.h"

Test(find, finds_the_separator_at_every_position)
{
    char hay[100];
    const char sep[] = "\r\n\r\n";
    for (size_t len = 0; len <= sizeof hay; len++)
        for (size_t at = 0; at + 4 <= len; at++) {
            memset(hay, 'x', sizeof hay);
            memcpy(hay + at, sep, 4);
            cr_assert_eq(ringo__find(hay, len, sep, 4), hay + at, "len %zu at %zu", len, at);
        }
}

Test(find, never_reads_past_the_end)
{
    /* The separator sits just past len: a search that looks one byte too
     * far finds it (and ASan sees the read on a heap block of exact size). */
    for (size_t len = 0; len < 64; len++) {
        char *p = malloc(len + 4);
        cr_assert_not_null(p);
        memset(p, '\r', len);
        memcpy(p + len, "\r\n\r\n", 4);
        cr_assert_null(ringo__find(p, len + 3, "\r\n\r\n", 4), "len %zu", len);
        cr_assert_eq(ringo__find(p, len + 4, "\r\n\r\n", 4), p + len, "len %zu", len);
        free(p);
    }
}

Test(find, the_first_of_overlapping_matches)
{
    const char hay[] = "xx\r\n\r\n\r\n\r\nyy";
    cr_assert_eq(ringo__find(hay, sizeof hay - 1, "\r\n\r\n", 4), hay + 2);
    const char as[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab";   /* 35 a, then b */
    cr_assert_eq(ringo__find(as, sizeof as - 1, "aab", 3), as + 33);
}
