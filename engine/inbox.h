/* engine/inbox.c: how other threads reach a loop. Private to the library.
 *
 * Each loop has an inbox: an intrusive MPSC queue of messages that any
 * thread may push and only the loop's own thread pops, in ringo__step,
 * on the scheduler's context. A push wakes the loop only if it sleeps in the
 * kernel (flag, full fence, re-check on both sides), with an
 * IORING_OP_MSG_RING from the sender's own ring when the sender is a loop
 * (5.18+, io_uring loops), else by writing the loop's eventfd, on which the
 * loop keeps a POLL armed. Nothing here costs the loop anything while nobody posts: one
 * load per ring step, one fence per sleep. */
#ifndef RINGO_ENGINE_INBOX_H
#define RINGO_ENGINE_INBOX_H

#include "engine/internal.h"

/* A message: run(m, l) is called on l's thread once it is popped. Its memory
 * belongs to the sender until then (embed it in something that outlives the
 * delivery); run may free it. */
typedef struct ringo__msg ringo__msg;
struct ringo__msg {
    ringo__msg *_Atomic next;
    void (*run)(ringo__msg *m, ringo_loop *l);
};

/* Post m to l from any thread. For messages l is owed (it waits for them
 * before it closes, or a task of l waits for them): never refused. */
void ringo__post(ringo_loop *l, ringo__msg *m);
/* The same for requests from outside that l may refuse: -ESHUTDOWN once l
 * has started closing; 0 when m will be run. */
int  ringo__post_gated(ringo_loop *l, ringo__msg *m);

/* Wake task t (suspended, waiting for exactly this) from any thread: at once
 * if t belongs to the calling thread's loop, else through wm posted to its
 * loop (wm must stay valid until t runs: embed it in the waiter). */
typedef struct ringo__wake_msg { ringo__msg m; ringo_task *t; } ringo__wake_msg;
void ringo__wake_from_any(ringo__wake_msg *wm, ringo_task *t);

/* ---- the loop's side (run.c, backend*.c) -------------------------------- */
int  ringo__inbox_open(ringo_loop *l);     /* eventfd, wake POLL; 0 or -errno */
void ringo__inbox_close(ringo_loop *l);
/* Run the messages posted so far (up to a bound); true if any ran. */
bool ringo__inbox_drain(ringo_loop *l);
/* About to sleep in the kernel: spin a little (cfg), then raise the flag.
 * false if a message came in meanwhile (the flag is down again, don't
 * sleep). */
bool ringo__inbox_sleep_begin(ringo_loop *l);
void ringo__inbox_sleep_end(ringo_loop *l);
/* Refuse gated posts from now on, then wait until no sender is inside one:
 * after this, only messages l is owed can still arrive. */
void ringo__inbox_shut(ringo_loop *l);
bool ringo__inbox_idle(ringo_loop *l);     /* nothing posted and not drained */
void ringo__inbox_kick(ringo_loop *l);     /* wake l through its eventfd */

#endif
