/* Process.communicate and a run-a-command helper on top of it.
 *
 * No pipe deadlock at any size: stdin is fed by a child task (write, drain,
 * close), stderr is read by another, and the caller reads stdout, so a child
 * blocked writing one pipe never waits on us writing another. The child
 * tasks are always awaited before returning (also when the caller is
 * cancelled: ringo_await cancels and still waits), so the buffers on this
 * stack outlive them. */
#include <stdlib.h>
#include <string.h>

#include "io/process.h"

#define FEED_CHUNK ((size_t)64 * 1024)
#define READ_MIN   ((size_t)16 * 1024)

typedef struct pump {
    ringo_stream *s;
    const char *in;
    size_t inlen;
    ringo_buf buf;         /* what was read; data NULL until the first byte */
    bool keep;             /* the caller wants the bytes (else read and drop) */
} pump;

/* Read s to EOF into pp->buf (NUL-terminated). 0 or -errno. */
static int slurp(pump *pp)
{
    size_t cap = 0;
    char drop[4096];
    for (;;) {
        char *dst = drop;
        size_t room = sizeof drop;
        if (pp->keep) {
            if (cap - pp->buf.len < READ_MIN + 1) {
                size_t ncap = cap ? cap * 2 : 4 * READ_MIN;
                char *nd = realloc(pp->buf.data, ncap);
                if (!nd)
                    return -ENOMEM;
                pp->buf.data = nd;
                cap = ncap;
            }
            dst = pp->buf.data + pp->buf.len;
            room = cap - pp->buf.len - 1;
        }
        ssize_t n = ringo_stream_read(pp->s, dst, room);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return 0;
        if (pp->keep)
            pp->buf.len += (size_t)n;
    }
}

static int slurp_task(void *arg)
{
    return slurp(arg);
}

/* Write all input, then close stdin (the child sees EOF). A child that exits
 * without reading everything is not an error (asyncio ignores
 * BrokenPipeError and ConnectionResetError there too). */
static int feed_task(void *arg)
{
    pump *pp = arg;
    int ret = 0;
    for (size_t off = 0; off < pp->inlen && ret >= 0;) {
        size_t n = pp->inlen - off < FEED_CHUNK ? pp->inlen - off : FEED_CHUNK;
        ssize_t w = ringo_stream_write(pp->s, pp->in + off, n);
        ret = w < 0 ? (int)w : ringo_stream_drain(pp->s);
        off += n;
    }
    int cret = ringo_stream_close(pp->s);   /* clears the process's stdin slot */
    if (ret >= 0)
        ret = cret;
    return ret == -EPIPE || ret == -ECONNRESET ? 0 : ret;
}

static int empty_buf(ringo_buf *b)
{
    if (!b->data && !(b->data = malloc(1)))
        return -ENOMEM;
    b->data[b->len] = '\0';
    return 0;
}

int ringo_process_communicate(ringo_process *p, const void *in, size_t inlen,
                              ringo_buf *out, ringo_buf *err, int *returncode)
{
    if (!p || (!in && inlen) || (inlen && !p->in))
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    pump feed = { .s = p->in, .in = in, .inlen = inlen };
    pump po = { .s = p->out, .keep = out != NULL };
    pump pe = { .s = p->err, .keep = err != NULL };
    ringo_task *tf = NULL, *te = NULL;
    if (feed.s)
        ret = ringo_spawn(&tf, feed_task, &feed);
    if (ret == 0 && pe.s)
        ret = ringo_spawn(&te, slurp_task, &pe);
    if (ret == 0 && po.s)
        ret = slurp(&po);
    /* Always await both: they use this stack. */
    int st = tf ? ringo_await(tf) : 0;
    if (ret == 0)
        ret = st;
    st = te ? ringo_await(te) : 0;
    if (ret == 0)
        ret = st;
    if (ret == 0)
        ret = ringo_process_wait(p, returncode);
    if (ret == 0 && out)
        ret = empty_buf(&po.buf);
    if (ret == 0 && err)
        ret = empty_buf(&pe.buf);
    if (ret < 0) {
        free(po.buf.data);
        free(pe.buf.data);
        return ret;
    }
    if (out)
        *out = po.buf;
    if (err)
        *err = pe.buf;
    return 0;
}

int ringo_run_command(const char *cmd, ringo_command_result *r)
{
    if (!cmd || !r)
        return -EINVAL;
    ringo_process_opts o = { .in = RINGO_INHERIT, .out = RINGO_PIPE, .err = RINGO_PIPE };
    ringo_process *p;
    int ret = ringo_process_shell(&p, cmd, &o);
    if (ret < 0)
        return ret;
    ringo_command_result res;
    ret = ringo_process_communicate(p, NULL, 0, &res.out, &res.err, &res.returncode);
    ringo_process_free(p);   /* kills and reaps if communicate was interrupted */
    if (ret == 0)
        *r = res;
    return ret;
}

void ringo_command_result_free(ringo_command_result *r)
{
    if (!r)
        return;
    free(r->out.data);
    free(r->err.data);
    r->out = r->err = (ringo_buf){ NULL, 0 };
}
