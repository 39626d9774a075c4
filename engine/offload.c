/* Spreading page-cache reads over io_uring's kernel workers.
 *
 * A buffered read whose pages are cached runs inline: the loop's thread does
 * the copy inside io_uring_enter, so 64 tasks reading one file keep one CPU
 * busy while the others idle. When a pass queues several positional reads
 * of regular files, some of them are marked IOSQE_ASYNC instead and a kernel
 * worker (io-wq) copies them on another CPU while the loop runs the rest.
 *
 * How many: an offloaded read costs the loop little to issue but a worker
 * about 1.2x an inline one, so a read is offloaded while the offloaded reads
 * still in flight number fewer than OFFLOAD_PER_INLINE times the inline ones
 * this submission has queued. The first read of a batch is always inline, so
 * a task reading alone never pays the worker's hop; when the worker falls
 * behind, its backlog stops the offloading by itself.
 *
 * Only cached pages are worth a worker. A miss is read by the ordinary path
 * with no thread waiting (io_uring's async buffered reads), while a worker
 * blocks on the disk and the reads queued behind it wait too. So while reads
 * are being offloaded, the inline ones carry RWF_NOWAIT as a probe: a miss
 * comes back at once as -EAGAIN (or a short count) and is read again the
 * ordinary way. RWF_NOWAIT also refuses cached pages that carry a readahead
 * mark (it means "no I/O", and the mark would start some), so one miss says
 * little: when more than half of a window of OFFLOAD_WINDOW probes miss, the
 * data is not in the cache and offloading stops for OFFLOAD_COOL_NS. The
 * offloaded reads carry RWF_NOWAIT too, which some kernels honour in a
 * worker; this one (6.18) reads from the disk there all the same.
 *
 * Workers: io-wq starts one per forced-async request that finds none idle,
 * and that many copying threads would crowd out the loop's own. While reads
 * are being offloaded, the io-wq pool they come from is capped at one worker
 * fewer than the loop thread's CPUs; the cap is lifted once the loop has
 * offloaded nothing for OFFLOAD_RELAX_NS and goes idle. Since 5.17 that pool
 * is the unbounded one (see ringo__offload_init), so blocking file ops
 * (fsync, open: the bounded pool) keep io-wq's full parallelism throughout.
 * Off when the loop's thread may use one CPU only, under SQPOLL (the SQ
 * thread already does the copies off the loop), or with
 * RINGO_NO_READ_OFFLOAD=1. */
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/internal.h"

#define OFFLOAD_PER_INLINE 3
#define OFFLOAD_RELAX_NS   RINGO_MS(100)
#define OFFLOAD_COOL_NS    RINGO_SEC(1)
#define OFFLOAD_WINDOW     64
#define KIND_MAX_FD        (1 << 20)   /* larger fds are never offloaded */

enum { KIND_UNKNOWN, KIND_FILE, KIND_OTHER };

void ringo__offload_init(ringo_loop *l)
{
    ringo__offload *o = &l->offload;
    memset(o, 0, sizeof *o);
    const char *v = getenv("RINGO_NO_READ_OFFLOAD");
    if ((v && *v && strcmp(v, "0") != 0) || (l->setup_flags & IORING_SETUP_SQPOLL))
        return;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return;
    int ncpu = CPU_COUNT(&set);
    if (ncpu < 2)
        return;
    o->workers = (unsigned)ncpu - 1;
    /* Which of io-wq's two pools a forced read lands in: since the kernel
     * assigns files at issue (IORING_FEAT_LINKED_FILE, 5.17), it does not
     * yet know the file is regular and counts the read as unbounded work;
     * before, as bounded. */
    o->pool = (l->ring.features & IORING_FEAT_LINKED_FILE) ? 1 : 0;
    o->enabled = true;
}

static void set_cap(ringo_loop *l, bool on);

void ringo__offload_exit(ringo_loop *l)
{
    /* The limit lives on in the thread's io-wq, past this ring. */
    if (l->offload.capped)
        set_cap(l, false);
    free(l->offload.kind);
    l->offload.kind = NULL;
    l->offload.nkind = 0;
}

/* Regular file, not O_DIRECT (those reads never copy on the loop anyway). */
static uint8_t classify(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return KIND_OTHER;
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || (fl & O_DIRECT) ? KIND_OTHER : KIND_FILE;
}

static bool kind_room(ringo__offload *o, int fd)
{
    if ((size_t)fd < o->nkind)
        return true;
    if (fd >= KIND_MAX_FD)
        return false;
    size_t n = o->nkind ? o->nkind : 64;
    while (n <= (size_t)fd)
        n *= 2;
    uint8_t *k = realloc(o->kind, n);
    if (!k)
        return false;
    memset(k + o->nkind, KIND_UNKNOWN, n - o->nkind);
    o->kind = k;
    o->nkind = n;
    return true;
}

static void set_kind(ringo__offload *o, int fd, uint8_t kind)
{
    if (fd >= 0 && (size_t)fd < o->nkind)
        o->kind[fd] = kind;
}

static bool is_file(ringo__offload *o, int fd)
{
    if (!kind_room(o, fd))
        return false;
    if (o->kind[fd] == KIND_UNKNOWN)
        o->kind[fd] = classify(fd);
    return o->kind[fd] == KIND_FILE;
}

bool ringo__offload_recheck(ringo_loop *l, int fd)
{
    set_kind(&l->offload, fd, KIND_UNKNOWN);
    return is_file(&l->offload, fd);
}

void ringo__offload_forget(ringo_loop *l, int fd) { set_kind(&l->offload, fd, KIND_UNKNOWN); }
void ringo__offload_never(ringo_loop *l, int fd) { set_kind(&l->offload, fd, KIND_OTHER); }

static void set_cap(ringo_loop *l, bool on)
{
    ringo__offload *o = &l->offload;
    /* 0 leaves a limit as it is; the call returns the old limits. */
    unsigned v[2] = { 0, 0 };
    v[o->pool] = on ? o->workers : o->saved;
    if (io_uring_register_iowq_max_workers(&l->ring, v) < 0) {
        if (on)
            o->enabled = false;   /* no limit to be had (< 5.15): do not crowd the loop */
        return;
    }
    if (on)
        o->saved = v[o->pool];
    o->capped = on;
}

enum ringo__read_how ringo__offload_pick(ringo_loop *l, int fd, int64_t off)
{
    ringo__offload *o = &l->offload;
    if (!o->enabled || off < 0)
        return RINGO_READ_PLAIN;   /* at the file position, order matters: in turn */
    if (!is_file(o, fd))
        return RINGO_READ_PLAIN;
    if (RINGO_UNLIKELY(o->cool_until)) {
        if (ringo_now() < o->cool_until)
            return RINGO_READ_PLAIN;
        o->cool_until = 0;
    }
    if (o->inflight >= o->batch_inline * OFFLOAD_PER_INLINE) {
        o->batch_inline++;
        return o->capped ? RINGO_READ_PROBE : RINGO_READ_PLAIN;
    }
    if (!o->capped) {
        set_cap(l, true);
        if (!o->enabled)
            return RINGO_READ_PLAIN;
    }
    o->inflight++;
    o->picks++;
    return RINGO_READ_OFFLOAD;
}

void ringo__offload_probed(ringo_loop *l, bool missed)
{
    ringo__offload *o = &l->offload;
    o->misses += missed;
    o->window_misses += missed;
    if (++o->window < OFFLOAD_WINDOW)
        return;
    if (o->window_misses * 2 > o->window)
        o->cool_until = ringo_now() + OFFLOAD_COOL_NS;
    o->window = o->window_misses = 0;
}

void ringo__offload_idle(ringo_loop *l)
{
    ringo__offload *o = &l->offload;
    if (!o->capped)
        return;
    int64_t now = ringo_now();
    if (o->picks != o->picks_seen) {
        o->picks_seen = o->picks;
        o->last = now;
    } else if (o->inflight == 0 && now - o->last > OFFLOAD_RELAX_NS) {
        set_cap(l, false);
    }
}
