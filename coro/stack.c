/* coro/stack.c: coroutine stacks, carved from slabs and pooled.
 *
 * A slab is one mmap holding many stacks, so 100 000 stacks cost a few
 * hundred mappings, not 100 000. Each stack has a guard region at its low
 * end. The guard is installed, best first, with:
 *  - madvise(MADV_GUARD_INSTALL) (Linux 6.13+): no VMA at all;
 *  - mprotect(PROT_NONE): splits the slab, 2 VMAs per stack, so only while
 *    those stay under half of vm.max_map_count (the rest is the process's);
 *  - nothing: a canary word at the low end, checked when the stack comes
 *    back to the pool, is then the only check. Guarded stacks get no canary:
 *    writing it would touch (and commit) their lowest page for nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "coro/coro.h"
#include "coro/frame.h"

#if defined(__has_include)
# if __has_include(<valgrind/valgrind.h>)
#  include <valgrind/valgrind.h>
#  include <valgrind/memcheck.h>
#  define HAVE_VALGRIND 1
# endif
#endif
#ifdef CORO_ASAN
# include <sanitizer/asan_interface.h>
#endif

#ifndef MADV_GUARD_INSTALL
# define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_POPULATE_WRITE
# define MADV_POPULATE_WRITE 23
#endif

#define GUARD_BYTES      ((size_t)16 * 1024) /* catches frames up to this */
#define STAGGER_STEP     64                  /* one cache line */
#define STAGGER_SLOTS    56                  /* 3.5 KiB window: see ringo__stack_get */
#define SLAB_MAX_STACKS  256
#define DEFAULT_MAX_FREE 1024
#define TRIM_BATCH       256                 /* stacks released per syscall */
#define CANARY_BASE      0x52696e676f21c0deULL

struct slab {
    struct slab *next;
    void *base;
    size_t len;
    size_t n;
    unsigned vmas;          /* guard VMAs this slab added (mprotect mode) */
    coro_stack stacks[];
};

size_t ringo__coro_guard_size;

/* Process-wide guard state; pools are per thread, so updated atomically. */
static int guard_mode;              /* see ringo__coro_stack_guard_mode */
static int madvise_guard = 1;       /* cleared once the kernel says EINVAL */
static int populate_ok = 1;         /* likewise for MADV_POPULATE_WRITE */
static long guard_vmas;             /* VMAs our mprotect guards created */
static long guard_vma_budget = -1;  /* half of vm.max_map_count */

int ringo__coro_stack_guard_mode(int mode)
{
    return __atomic_exchange_n(&guard_mode, mode, __ATOMIC_RELAXED);
}

/* Set once for the process, before the first pool exists: pools are made
 * on many loops' threads at once. */
static size_t ps;
static pthread_once_t sizes_once = PTHREAD_ONCE_INIT;

static size_t page_size(void)
{
    return ps;
}

static size_t round_page(size_t n)
{
    return (n + page_size() - 1) & ~(page_size() - 1);
}

static void init_sizes(void)
{
    ps = (size_t)sysconf(_SC_PAGESIZE);
    ringo__coro_guard_size = round_page(GUARD_BYTES);
}

static long vma_budget(void)
{
    long b = __atomic_load_n(&guard_vma_budget, __ATOMIC_RELAXED);
    if (b >= 0)
        return b;
    long max = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 65530;
        fclose(f);
    }
    b = max / 2;
    __atomic_store_n(&guard_vma_budget, b, __ATOMIC_RELAXED);
    return b;
}

static uint64_t canary(const coro_stack *s)
{
    return CANARY_BASE ^ (uint64_t)(uintptr_t)s->base;
}

int coro_pool_init(coro_pool *p, size_t stack_size)
{
    if (stack_size == 0) {
        stack_size = CORO_DEFAULT_STACK;
#ifdef CORO_ASAN
        stack_size *= 4; /* ASan frames carry redzones */
#endif
    }
    pthread_once(&sizes_once, init_sizes);
    memset(p, 0, sizeof(*p));
    p->stack_size = round_page(stack_size);
    p->max_free = DEFAULT_MAX_FREE;
    return 0;
}

/* Guard every stack of a fresh slab; returns 1 if guarded, 0 if not. iov
 * has room for one range per stack. */
static int guard_slab(struct slab *sl, size_t stride, struct iovec *iov)
{
    int mode = __atomic_load_n(&guard_mode, __ATOMIC_RELAXED);
    size_t g = ringo__coro_guard_size;

    if (mode == 0 && __atomic_load_n(&madvise_guard, __ATOMIC_RELAXED)) {
        for (size_t i = 0; i < sl->n; i++)
            iov[i] = (struct iovec){ (char *)sl->base + i * stride, g };
        if (ringo__madvise_many(iov, sl->n, MADV_GUARD_INSTALL) == sl->n)
            return 1;
        if (errno == EINVAL) /* kernel before 6.13: stop asking */
            __atomic_store_n(&madvise_guard, 0, __ATOMIC_RELAXED);
        /* Guards already installed on the first stacks stay; they are
         * harmless under the fallbacks below. */
    }
    if (mode == 2)
        return 0;
    long need = 2 * (long)sl->n;
    if (__atomic_add_fetch(&guard_vmas, need, __ATOMIC_RELAXED) > vma_budget()) {
        __atomic_sub_fetch(&guard_vmas, need, __ATOMIC_RELAXED);
        return 0;
    }
    sl->vmas = (unsigned)need;
    for (size_t i = 0; i < sl->n; i++)
        if (mprotect((char *)sl->base + i * stride, g, PROT_NONE))
            return 0; /* rare (ENOMEM); the slab unmaps whole at destroy */
    return 1;
}

/* Commit each stack's top page, where its first frame goes, in one call
 * rather than one fault per spawn. Best effort: a kernel before 5.14, or
 * memory short now, leaves the faults to happen as before. */
static void commit_tops(struct slab *sl, size_t stride, struct iovec *iov)
{
    if (!__atomic_load_n(&populate_ok, __ATOMIC_RELAXED))
        return;
    for (size_t i = 0; i < sl->n; i++)
        iov[i] = (struct iovec){ (char *)sl->base + (i + 1) * stride - page_size(), page_size() };
    if (ringo__madvise_many(iov, sl->n, MADV_POPULATE_WRITE) < sl->n && errno == EINVAL)
        __atomic_store_n(&populate_ok, 0, __ATOMIC_RELAXED);
}

static void push_fresh(coro_pool *p, coro_stack *s)
{
    if (!p->fresh)
        p->fresh_tail = s;
    s->next_free = p->fresh;
    p->fresh = s;
    p->nfresh++;
    p->nfree++;
    if (p->nfresh + p->naged > p->max_free)
        p->trim_due = 1;   /* released later, in bulk, if still unused */
}

/* The warmest free stack: fresh, then aged, then clean. */
static coro_stack *pop_free(coro_pool *p)
{
    coro_stack *s;
    if ((s = p->fresh)) {
        p->fresh = s->next_free;
        if (!p->fresh)
            p->fresh_tail = NULL;
        p->nfresh--;
    } else if ((s = p->aged)) {
        p->aged = s->next_free;
        p->naged--;
    } else if ((s = p->clean)) {
        p->clean = s->next_free;
    } else {
        return NULL;
    }
    s->next_free = NULL;
    p->nfree--;
    return s;
}

/* Map a new slab and push its stacks on the free list. */
static int slab_new(coro_pool *p)
{
    size_t n = (size_t)8 << (p->nslabs < 5 ? p->nslabs : 5);
    if (n > SLAB_MAX_STACKS)
        n = SLAB_MAX_STACKS;
    /* The extra page is the stagger window: usable stays >= stack_size. */
    size_t stride = ringo__coro_guard_size + p->stack_size + page_size();
    struct slab *sl = malloc(sizeof(*sl) + n * sizeof(coro_stack));
    if (!sl)
        return -ENOMEM;
    sl->len = n * stride;
    sl->n = n;
    sl->vmas = 0;
    sl->base = mmap(NULL, sl->len, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (sl->base == MAP_FAILED) {
        free(sl);
        return -ENOMEM;
    }
    struct iovec *iov = malloc(n * sizeof *iov);   /* not on the spawner's stack */
    if (!iov) {
        munmap(sl->base, sl->len);
        free(sl);
        return -ENOMEM;
    }
    unsigned char guarded = (unsigned char)guard_slab(sl, stride, iov);
    commit_tops(sl, stride, iov);
    free(iov);
    for (size_t i = n; i-- > 0;) {
        coro_stack *s = &sl->stacks[i];
        s->base = (char *)sl->base + i * stride;
        s->size = stride;
        s->top = (char *)s->base + stride;
        s->guard = guarded;
        s->valgrind_id = 0;
#ifdef HAVE_VALGRIND
        s->valgrind_id = VALGRIND_STACK_REGISTER(ringo__stack_low(s), s->top);
#endif
        push_fresh(p, s);   /* its top page may be committed: not clean */
    }
    sl->next = p->slabs;
    p->slabs = sl;
    p->nslabs++;
    return 0;
}

coro_stack *ringo__stack_get(coro_pool *p)
{
    if (!p->nfree && slab_new(p) < 0)
        return NULL;
    coro_stack *s = pop_free(p);
    p->nlive++;
    /* Rotate the start by a cache line within one page so that stacks,
     * all page-aligned, do not put their hot top frames in the same sets.
     * Not across the whole page: the last 512 bytes are left for the first
     * frames (a task's run to its first ringo_sleep takes ~450), which so
     * stay in the top page, committed with the slab; a full-page window made
     * one task in nine fault in a second page (tasks_1m: 0.7x the CPU to
     * finish, 200 B less RSS a task, BM_event_wake_1000 unchanged). */
    size_t off = (size_t)(p->stagger++ % STAGGER_SLOTS) * STAGGER_STEP;
    s->top = (char *)s->base + s->size - off;
#ifdef HAVE_VALGRIND
    /* Memcheck marked what the last owner popped as inaccessible; coro.c
     * is about to write the first frame there without pushing. */
    VALGRIND_MAKE_MEM_UNDEFINED(ringo__stack_low(s),
                                s->size - ringo__coro_guard_size);
#endif
    if (!s->guard)
        *(uint64_t *)ringo__stack_low(s) = canary(s);
    return s;
}

void ringo__stack_put(coro_pool *p, const coro_t *c)
{
    coro_stack *s = c->stack;
    if (c->canary && *(uint64_t *)ringo__stack_low(s) != canary(s))
        ringo__coro_overflow_abort(c);
#ifdef CORO_ASAN
    /* Frames abandoned on this stack keep their redzones poisoned; clear
     * what the coroutine used so the next one starts clean. Frames below
     * the saved sp returned normally and are clean already. */
    char *lo = c->sp ? (char *)c->sp - 256 : ringo__stack_low(s);
    if (lo < ringo__stack_low(s))
        lo = ringo__stack_low(s);
    ASAN_UNPOISON_MEMORY_REGION(lo, (size_t)((char *)s->base + s->size - lo));
#endif
    push_fresh(p, s);
    p->nlive--;
}

/* Give back the memory of the list at *head, counted into the clean list;
 * one syscall per TRIM_BATCH stacks, not one per stack. */
static void release(coro_pool *p, coro_stack *head)
{
    struct iovec *iov = malloc(TRIM_BATCH * sizeof *iov);
    size_t n = 0;
    coro_stack *s = head, *last = NULL;
    for (; s; last = s, s = s->next_free) {
        struct iovec r = { ringo__stack_low(s), s->size - ringo__coro_guard_size };
        if (!iov) {
            madvise(r.iov_base, r.iov_len, MADV_DONTNEED);
            continue;
        }
        iov[n++] = r;
        if (n == TRIM_BATCH) {
            (void)ringo__madvise_many(iov, n, MADV_DONTNEED);
            n = 0;
        }
    }
    if (n)
        (void)ringo__madvise_many(iov, n, MADV_DONTNEED);
    free(iov);
    if (last) {
        last->next_free = p->clean;
        p->clean = head;
    }
}

void coro_pool_trim(coro_pool *p, int64_t now_ns)
{
    if (!p->trim_due || now_ns - p->last_trim < 1000000000)
        return;
    p->last_trim = now_ns;
    /* The max_free warmest free stacks keep their memory: the fresh ones,
     * then the first aged ones. The other aged ones were free for the whole
     * period: they go back. The walk touches only what it keeps (at most
     * max_free) and what it releases. */
    size_t keep = p->nfresh < p->max_free ? p->max_free - p->nfresh : 0;
    coro_stack **cut = &p->aged;
    size_t k = 0;
    for (; *cut && k < keep; k++)
        cut = &(*cut)->next_free;
    coro_stack *cold = *cut;
    *cut = NULL;
    p->naged = k;
    release(p, cold);
    /* This period's frees start their period of grace. */
    if (p->fresh) {
        p->fresh_tail->next_free = p->aged;
        p->aged = p->fresh;
        p->naged += p->nfresh;
        p->fresh = p->fresh_tail = NULL;
        p->nfresh = 0;
    }
    p->trim_due = p->naged > p->max_free;
}

void coro_pool_destroy(coro_pool *p)
{
    if (p->nlive) {
        fprintf(stderr, "ringo: coro_pool_destroy with %zu live coroutines\n", p->nlive);
        abort();
    }
    struct slab *sl = p->slabs;
    while (sl) {
        struct slab *next = sl->next;
#ifdef HAVE_VALGRIND
        for (size_t i = 0; i < sl->n; i++)
            VALGRIND_STACK_DEREGISTER(sl->stacks[i].valgrind_id);
#endif
        munmap(sl->base, sl->len);
        __atomic_sub_fetch(&guard_vmas, (long)sl->vmas, __ATOMIC_RELAXED);
        free(sl);
        sl = next;
    }
    memset(p, 0, sizeof(*p));
}
