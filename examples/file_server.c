/* A static-file HTTP/1.1 server: the files under DIR, sent from the page
 * cache to the socket by ringo_stream_sendfile.
 *
 * usage: file_server [--host H] [--port P] [--loops N] DIR
 *        (defaults 127.0.0.1, 8080, 1; port 0 picks one)
 * Prints "listening on HOST:PORT" once ready; SIGINT or SIGTERM stops it.
 * Try: curl -r 0-99 http://127.0.0.1:8080/some/file
 *
 * GET and HEAD; keep-alive (HTTP/1.1's default; "Connection: close" ends
 * it); one byte range (bytes=a-b, a-, -n: 206, or 416 past the end; several
 * ranges or a malformed one get the whole file, as RFC 9110 allows); no path
 * with a ".." segment (403); 404 for what is not there or not a regular
 * file; 400 for what is not a request we understand, 405 for other methods.
 * Requests with bodies are refused (400): nothing here reads one. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <ringo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve_loops.h"

static const char *root;

typedef struct request {
    bool head;          /* HEAD: the headers only */
    bool keep_alive;
    char path[4096];    /* below root, decoded */
    char range[64];     /* the Range header's value, "" without one */
} request;

static const char *content_type(const char *path)
{
    static const char *const types[][2] = {
        { ".html", "text/html" },        { ".txt", "text/plain" },
        { ".css", "text/css" },          { ".js", "text/javascript" },
        { ".json", "application/json" }, { ".png", "image/png" },
        { ".jpg", "image/jpeg" },        { ".svg", "image/svg+xml" },
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(dot, types[i][0]) == 0)
            return types[i][1];
    return "application/octet-stream";
}

/* A reply without a body. false: the connection ends after it. */
static bool reply(ringo_stream *s, const char *status, const request *r, const char *extra)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "HTTP/1.1 %s\r\nContent-Length: 0\r\n%s%s\r\n", status,
                     extra ? extra : "", r->keep_alive ? "" : "Connection: close\r\n");
    return ringo_stream_write(s, buf, (size_t)n) == n && r->keep_alive;
}

/* Header `name`'s value from head, copied to out (cut at cap): false if absent. */
static bool header(const char *head, const char *name, char *out, size_t cap)
{
    size_t len = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, name, len) == 0 && line[len] == ':') {
            const char *v = line + len + 1;
            v += strspn(v, " \t");
            size_t n = strcspn(v, "\r");
            snprintf(out, cap, "%.*s", (int)n, v);
            return true;
        }
    }
    return false;
}

static int hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10 : -1;
}

/* Decode target's path into out (NUL, "?" ends it): 0, 400, or 403. */
static int decode_path(const char *t, char *out, size_t cap)
{
    if (*t != '/')
        return 400;
    size_t n = 0;
    for (; *t && *t != '?' && *t != ' '; t++) {
        char c = *t;
        if (c == '%') {
            int hi = hex(t[1]), lo = hi < 0 ? -1 : hex(t[2]);
            if (lo < 0 || (c = (char)(hi << 4 | lo)) == '\0')
                return 400;
            t += 2;
        }
        if (n + 1 >= cap)
            return 400;
        out[n++] = c;
    }
    out[n] = '\0';
    for (const char *p = out; (p = strstr(p, "..")); p += 2)
        if (p[-1] == '/' && (p[2] == '/' || p[2] == '\0'))
            return 403;   /* a ".." segment would climb out of root */
    return 0;
}

/* Parse the head (NUL-terminated): 0, or the status to refuse it with. */
static int parse(char *head, request *r)
{
    char method[8], target[4096], version[16];
    r->keep_alive = false;
    if (sscanf(head, "%7s %4095s %15s", method, target, version) != 3)
        return 400;
    if (strcmp(version, "HTTP/1.1") == 0)
        r->keep_alive = true;
    else if (strcmp(version, "HTTP/1.0") != 0)
        return 400;
    char v[64];
    if (header(head, "Connection", v, sizeof v))
        r->keep_alive = strcasecmp(v, "close") != 0 &&
                        (r->keep_alive || strcasecmp(v, "keep-alive") == 0);
    if (header(head, "Transfer-Encoding", v, sizeof v) ||
        (header(head, "Content-Length", v, sizeof v) && strcmp(v, "0") != 0))
        return 400;
    if (!header(head, "Range", r->range, sizeof r->range))
        r->range[0] = '\0';
    r->head = strcmp(method, "HEAD") == 0;
    if (!r->head && strcmp(method, "GET") != 0)
        return 405;
    return decode_path(target, r->path, sizeof r->path);
}

/* One range of a file of size bytes: 1 (from *a to *b inclusive), 0 (serve
 * it all), -1 (unsatisfiable). */
static int parse_range(const char *v, int64_t size, int64_t *a, int64_t *b)
{
    if (strncmp(v, "bytes=", 6) != 0 || strchr(v, ','))
        return 0;
    v += 6;
    char *end;
    if (*v == '-') {   /* the last n bytes */
        int64_t n = strtoll(v + 1, &end, 10);
        if (end == v + 1 || *end || n < 0)
            return 0;
        if (n == 0 || size == 0)
            return -1;
        *a = n < size ? size - n : 0;
        *b = size - 1;
        return 1;
    }
    *a = strtoll(v, &end, 10);
    if (end == v || *end != '-' || *a < 0)
        return 0;
    v = end + 1;
    *b = *v ? strtoll(v, &end, 10) : size - 1;
    if ((*v && (*end || *b < *a)))
        return 0;
    if (*a >= size)
        return -1;
    if (*b >= size)
        *b = size - 1;
    return 1;
}

/* Answer one parsed request: false when the connection must end. */
static bool serve_file(ringo_stream *s, const request *r)
{
    char path[8192];
    snprintf(path, sizeof path, "%s%s", root, r->path);
    int fd = ringo_open(path, O_RDONLY, 0);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
        ringo_close(fd);
        fd = -ENOENT;
    }
    if (fd < 0)
        return reply(s, fd == -EACCES ? "403 Forbidden" : "404 Not Found", r, NULL);
    int64_t a = 0, b = st.st_size - 1;
    int ranged = parse_range(r->range, st.st_size, &a, &b);
    char buf[512];
    int n;
    if (ranged < 0) {
        snprintf(buf, sizeof buf, "Content-Range: bytes */%" PRId64 "\r\n", (int64_t)st.st_size);
        ringo_close(fd);
        return reply(s, "416 Range Not Satisfiable", r, buf);
    }
    n = snprintf(buf, sizeof buf, "HTTP/1.1 %s\r\nContent-Length: %" PRId64 "\r\n"
                 "Content-Type: %s\r\nAccept-Ranges: bytes\r\n%s",
                 ranged ? "206 Partial Content" : "200 OK", b - a + 1, content_type(r->path),
                 r->keep_alive ? "" : "Connection: close\r\n");
    if (ranged)
        n += snprintf(buf + n, sizeof buf - (size_t)n,
                      "Content-Range: bytes %" PRId64 "-%" PRId64 "/%" PRId64 "\r\n", a, b,
                      (int64_t)st.st_size);
    n += snprintf(buf + n, sizeof buf - (size_t)n, "\r\n");
    bool ok = ringo_stream_write(s, buf, (size_t)n) == n;
    if (ok && !r->head && b >= a)
        ok = ringo_stream_sendfile(s, fd, a, (size_t)(b - a + 1)) == b - a + 1;
    ringo_close(fd);
    return ok && r->keep_alive;
}

static int handle(ringo_stream *s, void *arg)
{
    (void)arg;
    char head[8192];
    for (;;) {
        ssize_t n = ringo_stream_readuntil(s, "\r\n\r\n", 4, head, sizeof head - 1);
        request r = { .keep_alive = false };
        if (n == -EMSGSIZE) {
            reply(s, "431 Request Header Fields Too Large", &r, NULL);
            return 0;   /* the server closes the stream, sending the reply first */
        }
        if (n < 0)
            return 0;   /* EOF (-ENODATA), reset, or the server is closing */
        head[n] = '\0';
        int status = parse(head, &r);
        bool more = status == 0     ? serve_file(s, &r)
                    : status == 405 ? reply(s, "405 Method Not Allowed", &r, "Allow: GET, HEAD\r\n")
                    : status == 403 ? reply(s, "403 Forbidden", &r, NULL)
                                    : (r.keep_alive = false, reply(s, "400 Bad Request", &r, NULL));
        if (!more || ringo_stream_drain(s) < 0)
            return 0;
    }
}

int main(int argc, char **argv)
{
    struct app a = { .name = "file_server", .host = "127.0.0.1", .port = "8080",
                     .handle = handle };
    unsigned loops = 1;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--host") == 0)
            a.host = argv[i + 1];
        else if (strcmp(argv[i], "--port") == 0)
            a.port = argv[i + 1];
        else if (strcmp(argv[i], "--loops") == 0)
            loops = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else
            break;
    }
    struct stat st;
    if (i + 1 != argc || stat(argv[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "usage: file_server [--host H] [--port P] [--loops N] DIR\n");
        return 2;
    }
    root = argv[i];
    return serve_loops(&a, loops) < 0 ? 1 : 0;
}
