/* Debug mode's warnings (RINGO_DEBUG=1), after asyncio's debug mode. */
#include <stdio.h>
#include <string.h>

#include "engine/internal.h"

void ringo__debug_slice_end(ringo_loop *l, const ringo_task *t)
{
    int64_t now = ringo_now(), ran = now - l->slice_start;
    if (ran > RINGO_MS(100))
        fprintf(stderr, "ringo: task '%s' ran %.1f ms without suspending (blocks the loop)\n",
                ringo__task_name((ringo_task *)t), (double)ran / 1e6);
    l->slice_start = now;
}

void ringo__debug_unretrieved(const ringo_task *t)
{
    fprintf(stderr, "ringo: task '%s' failed with %d (%s) and was never awaited "
                    "(task exception was never retrieved)\n",
            ringo__task_name((ringo_task *)t), t->status, strerror(-t->status));
}

void ringo__debug_alive_at_close(ringo_loop *l)
{
    fprintf(stderr, "ringo: %zu task(s) still alive when main returned; cancelling:\n", l->nlive);
    for (rlist *p = l->live.next; p != &l->live; p = p->next) {
        const ringo_task *t = rlist_entry(p, ringo_task, live_link);
        fprintf(stderr, "ringo:   task '%s'%s\n", ringo__task_name((ringo_task *)t), t->cancelled ? " (cancelled)" : "");
    }
}
