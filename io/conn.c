/* Client connections (asyncio.open_connection / open_unix_connection) and
 * the name resolution servers share with them.
 *
 * Sockets are made blocking and close-on-exec: io_uring tries a connect or a
 * receive without blocking first and arms its own poll on EAGAIN, so a
 * blocking socket costs nothing here, and the stream core may use read/write
 * ops, which would hand EAGAIN back to us on an O_NONBLOCK socket. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/pool.h"
#include "io/server.h"
#include "io/stream.h"

/* 1: a decimal port in range; 0: a service name for getaddrinfo; -EINVAL. */
static int port_kind(const char *port)
{
    if (!port || !*port)
        return -EINVAL;
    size_t n = strspn(port, "0123456789");
    if (port[n] == '\0')
        return n <= 5 && atoi(port) <= 65535 ? 1 : -EINVAL;
    /* Service names ("http") start with a letter; "-1", " 80" are junk. */
    if ((port[0] | 0x20) < 'a' || (port[0] | 0x20) > 'z')
        return -EINVAL;
    return 0;
}

static int gai_errno(int rc, int saved_errno)
{
    switch (rc) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return -ENOENT;
    case EAI_FAIL:    return -EHOSTUNREACH;
    case EAI_AGAIN:   return -EAGAIN;
    case EAI_MEMORY:  return -ENOMEM;
    case EAI_SYSTEM:  return saved_errno ? -saved_errno : -EIO;
    default:          return -EINVAL;   /* EAI_SERVICE, EAI_FAMILY, ... */
    }
}

struct gai_job {
    struct ringo__job job;
    const char *host, *port;
    struct addrinfo hints;
    struct addrinfo *res;
    int rc, err;
};

static void gai_work(struct ringo__job *job)
{
    struct gai_job *g = (struct gai_job *)job;
    errno = 0;
    g->rc = getaddrinfo(g->host, g->port, &g->hints, &g->res);
    g->err = errno;
    if (g->rc != 0)
        g->res = NULL;
}

int ringo__resolve_type(const char *host, const char *port, int socktype, int flags,
                       struct addrinfo **out)
{
    int kind = port_kind(port);
    if (kind < 0)
        return kind;
    struct gai_job g = {
        .job.work = gai_work,
        .job.what = "getaddrinfo",
        .host = host,
        .port = port,
        .hints = { .ai_family = AF_UNSPEC, .ai_socktype = socktype, .ai_flags = flags },
    };
    if (kind == 1) {
        /* Pure parsing, no I/O: done on the loop. EAI_NONAME = not a literal. */
        g.hints.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
        int rc = getaddrinfo(host, port, &g.hints, &g.res);
        if (rc == 0) {
            *out = g.res;
            return 0;
        }
        if (rc != EAI_NONAME)
            return gai_errno(rc, errno);
        g.hints.ai_flags = flags;
        g.res = NULL;
    }
    ringo_loop *l = ringo__loop;
    int ret = ringo__workers_run(l, &g.job);
    if (ret < 0) {
        /* Cancelled: the lookup still ran to its end; drop what it found. */
        if (g.res)
            freeaddrinfo(g.res);
        return ret;
    }
    if (g.rc != 0)
        return gai_errno(g.rc, g.err);
    *out = g.res;
    return 0;
}

int ringo__resolve(const char *host, const char *port, int flags, struct addrinfo **out)
{
    return ringo__resolve_type(host, port, SOCK_STREAM, flags, out);
}

int ringo__unix_addr(struct sockaddr_un *sa, socklen_t *len, const char *path)
{
    if (!path || !*path)
        return -EINVAL;
    size_t n = strlen(path);
    if (n >= sizeof sa->sun_path)
        return -ENAMETOOLONG;
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, n + 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

/* One connect attempt: the connected fd, or -errno with nothing left open
 * (a cancelled connect closes its socket). */
static int connect_to(int family, int proto, const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, proto);
    if (fd < 0)
        return -errno;
    if (family != AF_UNIX) {
        /* As asyncio: small writes go out at once; the stream batches. */
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    int ret = ringo_connect(fd, sa, len);
    if (ret < 0) {
        close(fd);
        return ret;
    }
    return fd;
}

int ringo_open_connection(ringo_stream **out, const char *host, const char *port)
{
    if (!out || !host || !*host || !port)
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    struct addrinfo *res;
    ret = ringo__resolve(host, port, 0, &res);
    if (ret < 0)
        return ret;
    ringo_task *cur = l->current;
    int fd = -ENOENT;
    /* First success wins; the last error is the one reported. */
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = connect_to(ai->ai_family, ai->ai_protocol, ai->ai_addr, ai->ai_addrlen);
        if (fd >= 0 || cur->cancelled)
            break;
        if (fd == -ETIMEDOUT && cur->deadline != INT64_MAX && ringo_now() >= cur->deadline)
            break;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return fd;
    return ringo__stream_new(out, fd);
}

int ringo_open_unix_connection(ringo_stream **out, const char *path)
{
    if (!out)
        return -EINVAL;
    struct sockaddr_un sa;
    socklen_t len;
    int ret = ringo__unix_addr(&sa, &len, path);
    if (ret < 0)
        return ret;
    ringo_loop *l;
    ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    int fd = connect_to(AF_UNIX, 0, (struct sockaddr *)&sa, len);
    if (fd < 0)
        return fd;
    return ringo__stream_new(out, fd);
}
