/* epoll_http: the baseline ringo's HTTP server is compared against.
 *
 * A single-threaded HTTP/1.1 hello server written the plain, honest way:
 * nonblocking sockets, level-triggered epoll, read()/write(), keep-alive.
 * Every complete request in a read ("...\r\n\r\n"; GET, no bodies) gets the
 * fixed response, and the responses to one read go out in one write(). A
 * partial write keeps the rest on the connection and waits for EPOLLOUT; the
 * connection reads nothing more until it is flushed (backpressure).
 *
 * usage: epoll_http [PORT] [HOST]     (defaults 8080 127.0.0.1)
 * Prints "listening on HOST:PORT" once ready; SIGINT/SIGTERM exit cleanly.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define RESPONSE "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!"
#define IN_CAP 8192                       /* largest request head accepted */
#define MIN_REQUEST 4                     /* a bare "\r\n\r\n" counts as one */
#define MAX_EVENTS 256

struct conn {
    char in[IN_CAP];
    size_t in_len;                        /* bytes buffered in in[] */
    size_t scanned;                       /* in[0, scanned) holds no "\r\n\r\n" */
    char *out;                            /* unsent responses, or NULL */
    size_t out_len, out_off;
};

static struct conn **conns;               /* indexed by fd */
static size_t nconns;
static int epfd;

/* Responses for one read: at most IN_CAP / MIN_REQUEST requests fit in it. */
static char batch[(IN_CAP / MIN_REQUEST + 1) * (sizeof RESPONSE - 1)];

static void conn_close(int fd)
{
    struct conn *c = conns[fd];
    free(c->out);
    free(c);
    conns[fd] = NULL;
    close(fd);                            /* also leaves the epoll set */
}

static int set_interest(int fd, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.fd = fd };
    return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* Writes out[out_off, out_len). 1: all sent, 0: the rest waits for EPOLLOUT, -1: error. */
static int flush_out(int fd, struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n < 0)
            return -1;
        c->out_off += (size_t)n;
    }
    free(c->out);
    c->out = NULL;
    return 1;
}

/* Sends the responses batched for one read; keeps what the socket won't take. */
static int send_batch(int fd, struct conn *c, size_t len)
{
    ssize_t n;
    do
        n = write(fd, batch, len);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN)
        return -1;
    size_t sent = n < 0 ? 0 : (size_t)n;
    if (sent == len)
        return 0;
    c->out_len = len - sent;
    c->out_off = 0;
    if (!(c->out = malloc(c->out_len)))
        return -1;
    memcpy(c->out, batch + sent, c->out_len);
    return set_interest(fd, EPOLLOUT);    /* stop reading until flushed */
}

static int on_readable(int fd, struct conn *c)
{
    ssize_t n;
    do
        n = read(fd, c->in + c->in_len, IN_CAP - c->in_len);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return 0;
    if (n <= 0)
        return -1;                        /* EOF or error */
    c->in_len += (size_t)n;

    /* Answer every complete request; keep a trailing partial one. */
    size_t start = 0, len = 0;
    for (;;) {
        size_t from = c->scanned > start + 3 ? c->scanned - 3 : start;
        char *end = memmem(c->in + from, c->in_len - from, "\r\n\r\n", 4);
        if (!end) {
            c->scanned = c->in_len;
            break;
        }
        memcpy(batch + len, RESPONSE, sizeof RESPONSE - 1);
        len += sizeof RESPONSE - 1;
        start = (size_t)(end - c->in) + 4;
        c->scanned = start;
    }
    if (start > 0) {
        memmove(c->in, c->in + start, c->in_len - start);
        c->in_len -= start;
        c->scanned -= start;
    }
    if (c->in_len == IN_CAP)
        return -1;                        /* request head too large */
    return len ? send_batch(fd, c, len) : 0;
}

static int on_writable(int fd, struct conn *c)
{
    int r = flush_out(fd, c);
    return r <= 0 ? r : set_interest(fd, EPOLLIN);
}

static void accept_all(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
            continue;
        if (fd < 0) {
            if (errno != EAGAIN)
                perror("epoll_http: accept4");   /* e.g. EMFILE: retried on the next event */
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if ((size_t)fd >= nconns) {
            size_t n = (size_t)fd * 2 + 64;
            struct conn **t = realloc(conns, n * sizeof *t);
            if (!t) {
                close(fd);
                continue;
            }
            memset(t + nconns, 0, (n - nconns) * sizeof *t);
            conns = t;
            nconns = n;
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
        if (!(conns[fd] = calloc(1, sizeof **conns)) ||
            epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            free(conns[fd]);
            conns[fd] = NULL;
            close(fd);
        }
    }
}

static int listen_on(const char *host, int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "epoll_http: bad IPv4 address %s\n", host);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4096) < 0) {
        perror("epoll_http: listen");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    const char *host = argc > 2 ? argv[2] : "127.0.0.1";
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);             /* a peer gone mid-write is EPIPE, not death */

    int lfd = listen_on(host, port);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = { .events = EPOLLIN, .data.fd = lfd };
    struct epoll_event sev = { .events = EPOLLIN, .data.fd = sfd };
    if (lfd < 0 || sfd < 0 || epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0 ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &sev) < 0) {
        perror("epoll_http: setup");
        return 1;
    }
    printf("listening on %s:%d\n", host, port);
    fflush(stdout);

    struct epoll_event evs[MAX_EVENTS];
    for (int running = 1; running;) {
        int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);
        if (n < 0 && errno != EINTR) {
            perror("epoll_http: epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                accept_all(lfd);
            } else if (fd == sfd) {
                running = 0;
            } else {
                struct conn *c = conns[fd];
                int r = (evs[i].events & EPOLLERR) ? -1
                      : c->out ? on_writable(fd, c) : on_readable(fd, c);
                if (r < 0)
                    conn_close(fd);
            }
        }
    }
    for (size_t fd = 0; fd < nconns; fd++)
        if (conns[fd])
            conn_close((int)fd);
    free(conns);
    close(epfd);
    close(sfd);
    close(lfd);
    return 0;
}
