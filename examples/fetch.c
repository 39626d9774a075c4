/* Fetch URLs concurrently, aiohttp's gather(*(fetch(url) for url in urls)):
 * a task per URL speaks HTTP/1.1 over a stream, plain or TLS, then a line per
 * URL in the order given: "URL STATUS LENGTH" (LENGTH: body bytes) or "URL
 * error: WHY". Exit 0 if every URL gave a status.
 *
 * usage: fetch [--cafile FILE] [--insecure] URL...
 *   URL: http[s]://host[:port][/path], an IPv6 host in brackets; no user@, no
 *   redirects. https checks the server with the system's store or --cafile's
 *   PEM bundle; --insecure skips that (for tests only). */
#include <errno.h>
#include <ringo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct fetch {
    const char *url;                /* NULL ends the array */
    ringo_tls *tls;                 /* the client context every https URL shares */
    int err, status;                /* err: 0 or -errno */
    long long length;
    char why[256];                  /* " (words for err)", when strerror is not enough */
    bool https;
    char host[256], port[6];        /* what to connect to, brackets stripped */
    const char *authority, *path;   /* host[:port] as written (the Host header) */
    int alen, plen;
};

static int fail(struct fetch *f, int err, const char *why)
{
    snprintf(f->why, sizeof f->why, " (%s)", why);
    return err;
}

static int parse_url(struct fetch *f)
{
    f->https = strncmp(f->url, "https://", 8) == 0;
    if ((!f->https && strncmp(f->url, "http://", 7) != 0) || strlen(f->url) > 4096)
        return -EINVAL;   /* 4096: the request line fits our buffer */
    const char *a = f->url + (f->https ? 8 : 7);
    int n = 0, m = 0;   /* %n: how far each pattern got */
    if (sscanf(a, *a == '[' ? "[%255[^]]]%n" : "%255[^]:/?#]%n", f->host, &n) != 1 || n == 0)
        return -EINVAL;
    strcpy(f->port, f->https ? "443" : "80");
    if (a[n] == ':' && sscanf(a + n, ":%5[0-9]%n", f->port, &m) != 1)
        return -EINVAL;
    n += m;
    if (a[n] && !strchr("/?#", a[n]))
        return -EINVAL;   /* a longer host or port than fits, or junk after it */
    f->authority = a, f->alen = n;
    f->path = a[n] == '/' ? a + n : "/";   /* "?q" with no path still asks for "/" */
    f->plen = (int)strcspn(f->path, "#");  /* the fragment is not sent */
    return 0;
}

/* One line, its "\r\n" or "\n" replaced by a NUL; its length. */
static ssize_t read_line(ringo_stream *s, char *line, size_t cap)
{
    ssize_t n = ringo_stream_readline(s, line, cap - 1);
    if (n <= 0)
        return n == 0 ? -ENODATA : n;
    n -= 1 + (n > 1 && line[n - 2] == '\r');
    line[n] = '\0';
    return n;
}

/* Read and count n body bytes, or (n < 0) all of them until EOF. */
static long long read_body(ringo_stream *s, long long n)
{
    char buf[16384];
    long long got = 0;
    while (n < 0 || got < n) {
        size_t want = n < 0 || n - got > (long long)sizeof buf ? sizeof buf : (size_t)(n - got);
        ssize_t r = ringo_stream_read(s, buf, want);
        if (r <= 0)
            return r < 0 ? r : n < 0 ? got : -ENODATA;   /* EOF before Content-Length */
        got += r;
    }
    return got;
}

/* Chunks: a hex size line (maybe ";extensions"), the bytes, CRLF; size 0
 * ends them, then trailer lines (dropped) until an empty one. */
static long long read_chunked(ringo_stream *s, char *line, size_t cap)
{
    long long total = 0, n;
    char *end;
    while ((n = read_line(s, line, cap)) >= 0) {
        unsigned long long size = strtoull(line, &end, 16);
        if (end == line || (*end && *end != ';' && *end != ' ') || size > (1ull << 60))
            return -EPROTO;
        if (size == 0)
            break;   /* the last chunk */
        if ((n = read_body(s, (long long)size)) < 0)
            return n;
        total += n;
        if ((n = read_line(s, line, cap)) != 0)   /* the CRLF after the data */
            return n < 0 ? n : -EPROTO;
    }
    while (n >= 0 && (n = read_line(s, line, cap)) > 0)
        ;
    return n < 0 ? n : total;
}

static int exchange(struct fetch *f, ringo_stream *s)
{
    char line[8192];
    int n = snprintf(line, sizeof line, "GET %.*s HTTP/1.1\r\nHost: %.*s\r\n"
                     "Connection: close\r\n\r\n", f->plen, f->path, f->alen, f->authority);
    /* Only queued: the read below sends it before it waits. */
    ssize_t r = ringo_stream_write(s, line, (size_t)n);
    if (r < 0 || (r = read_line(s, line, sizeof line)) < 0)
        return (int)r;
    int st = 0;   /* "HTTP/1.1 200 OK" */
    if (sscanf(line, "HTTP/1.%*1[01] %3d", &st) != 1 || st < 100)
        return fail(f, -EPROTO, "not an HTTP/1.x status line");
    long long length = -1;   /* -1: until the server closes (we said "Connection: close") */
    bool chunked = false;
    char *end;
    while ((r = read_line(s, line, sizeof line)) > 0) {
        if (strncasecmp(line, "Transfer-Encoding:", 18) == 0)
            chunked = strcasestr(line + 18, "chunked") != NULL;
        if (strncasecmp(line, "Content-Length:", 15) == 0 &&
            ((length = strtoll(line + 15, &end, 10)) < 0 || end == line + 15))
            return fail(f, -EPROTO, "bad Content-Length");
    }
    if (r < 0)
        return (int)r;
    long long body = st / 100 == 1 || st == 204 || st == 304 ? 0   /* never a body */
                     : chunked ? read_chunked(s, line, sizeof line) : read_body(s, length);
    if (body < 0)
        return (int)body;
    /* TLS ended without close_notify (tls_error says so): when only the end
     * frames the body, an attacker may have cut it short. */
    if (length < 0 && !chunked && f->https && ringo_stream_tls_error(s))
        return -EPROTO;
    f->status = st, f->length = body;
    return 0;
}

static int fetch_task(void *arg)
{
    struct fetch *f = arg;
    ringo_stream *s;
    if (parse_url(f) < 0)
        return f->err = fail(f, -EINVAL, "bad URL; want http[s]://host[:port][/path]");
    int ret = ringo_open_connection(&s, f->host, f->port);
    if (ret < 0)   /* -ENOENT is the resolver's "no such name", not a file */
        return f->err = ret == -ENOENT ? fail(f, ret, "no such host") : ret;
    /* start_tls on the open stream rather than ringo_open_tls_connection:
     * after a failed handshake the stream is still ours, and says why. */
    if (f->https)
        ret = ringo_stream_start_tls(s, f->tls, f->host);
    if (ret == 0)
        ret = exchange(f, s);
    if (ret < 0 && f->https && ringo_stream_tls_error(s))
        fail(f, ret, ringo_stream_tls_error(s));
    else if (ret == -ENODATA)
        fail(f, ret, "the server closed before the reply ended");
    ringo_stream_close(s);
    return f->err = ret;
}

static int run(void *arg)
{
    struct fetch *f = arg;
    size_t n = 0, k = 0;
    while (f[n].url)
        n++;
    ringo_task **t = calloc(n, sizeof *t);
    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if ((f[i].err = ringo_spawn(&t[k], fetch_task, &f[i])) == 0)
            k++;   /* else that one never runs; the rest still go */
    (void)ringo_gather(t, k, NULL);   /* each task left its result in its fetch */
    free(t);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (f[i].err == 0)
            printf("%s %d %lld\n", f[i].url, f[i].status, f[i].length);
        else
            printf("%s error: %s%s\n", f[i].url, strerror(-f[i].err), f[i].why);
        bad |= f[i].err != 0;
    }
    return bad;
}

int main(int argc, char **argv)
{
    ringo_tls_opts to = { .verify_peer = true };
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--cafile") == 0 && i + 1 < argc)
            to.ca_file = argv[++i];
        else if (strcmp(argv[i], "--insecure") == 0)
            to.verify_peer = false;   /* for tests only */
        else
            break;
    }
    int n = argc - i;
    if (n == 0 || strncmp(argv[i], "--", 2) == 0) {
        fprintf(stderr, "usage: %s [--cafile FILE] [--insecure] URL...\n", argv[0]);
        return 2;
    }
    /* One context for all https URLs; RINGO_DEBUG=1 says why it failed. */
    ringo_tls *tls;
    int ret = ringo_tls_new_client(&tls, &to);
    if (ret < 0) {
        fprintf(stderr, "fetch: TLS context (%s): %s\n", to.ca_file ? to.ca_file : "system store",
                strerror(-ret));
        return 1;
    }
    struct fetch *f = calloc((size_t)n + 1, sizeof *f);   /* + the NULL url ending it */
    if (!f)
        return 1;
    for (int k = 0; k < n; k++)
        f[k] = (struct fetch){ .url = argv[i + k], .tls = tls };
    ret = ringo_run(run, f);   /* 1: some URL failed; < 0: none was tried */
    ringo_tls_free(tls);      /* every stream is closed */
    free(f);
    return ret != 0;
}
