/* udp_epoll: the baseline ringo's UDP echo server is compared against.
 *
 * A single-threaded UDP echo server written the plain, honest way: one
 * nonblocking socket in a level-triggered epoll set, datagrams taken 32 at a
 * time with recvmmsg and echoed to their senders 32 at a time with
 * sendmmsg. What the socket cannot take (its send buffer full) is dropped,
 * as UDP allows. --gro: UDP_GRO on the socket, so a sender's GSO train
 * arrives as one buffer of equal segments (the size in a cmsg), echoed with
 * UDP_SEGMENT of that size in one send: the GSO/GRO baseline.
 *
 * usage: udp_epoll [--host H] [--port P] [--gro]   (127.0.0.1, 9000)
 * Prints "udp_echo: listening on H port P" (as examples/udp_echo's server
 * does) once bound; SIGINT/SIGTERM exit 0. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define BATCH 32
#define DGRAM_CAP 2048        /* one datagram (the benchmark's are at most 1200 B) */
#define GRO_CAP 65536         /* a coalesced run */
#define ROUNDS 16             /* batches per readiness, then the signalfd gets a look */

struct slot {
    struct sockaddr_storage from;
    struct iovec iov;
    _Alignas(struct cmsghdr) char in[CMSG_SPACE(sizeof(int))];   /* aligned for CMSG_* */
    _Alignas(struct cmsghdr) char out[CMSG_SPACE(sizeof(int))];
};

static struct slot slots[BATCH];
static struct mmsghdr rx[BATCH], tx[BATCH];
static bool gro;

static int open_socket(const char *host, const char *port)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *res;
    int err = getaddrinfo(host, port, &hints, &res);
    if (err) {
        fprintf(stderr, "udp_epoll: %s port %s: %s\n", host, port, gai_strerror(err));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
        perror("udp_epoll: bind");
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    int one = 1;
    if (gro && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) < 0) {
        perror("udp_epoll: UDP_GRO");
        return -1;
    }
    return fd;
}

/* The segment size a GRO receive reports, 0 for a single datagram. */
static int gro_size(struct msghdr *m)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO)
            return *(int *)CMSG_DATA(c);
    return 0;
}

static void arm_rx(int i)
{
    struct slot *s = &slots[i];
    rx[i].msg_hdr = (struct msghdr){ .msg_name = &s->from, .msg_namelen = sizeof s->from,
                                     .msg_iov = &s->iov, .msg_iovlen = 1 };
    s->iov.iov_len = gro ? GRO_CAP : DGRAM_CAP;
    if (gro) {
        rx[i].msg_hdr.msg_control = s->in;
        rx[i].msg_hdr.msg_controllen = sizeof s->in;
    }
}

/* Echo what one recvmmsg got: each datagram (or run) back to its sender. */
static void echo(int fd, int n)
{
    for (int i = 0; i < n; i++) {
        struct slot *s = &slots[i];
        struct iovec *iov = &s->iov;
        iov->iov_len = rx[i].msg_len;
        tx[i].msg_hdr = (struct msghdr){ .msg_name = &s->from,
                                         .msg_namelen = rx[i].msg_hdr.msg_namelen,
                                         .msg_iov = iov, .msg_iovlen = 1 };
        int seg = gro ? gro_size(&rx[i].msg_hdr) : 0;
        if (seg > 0 && rx[i].msg_len > (unsigned)seg) {
            struct cmsghdr *c = (struct cmsghdr *)s->out;
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            *(uint16_t *)CMSG_DATA(c) = (uint16_t)seg;
            tx[i].msg_hdr.msg_control = s->out;
            tx[i].msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
        }
    }
    for (int done = 0; done < n;) {
        int k = sendmmsg(fd, tx + done, (unsigned)(n - done), 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != ECONNREFUSED)
                perror("udp_epoll: sendmmsg");
            done++;   /* this one is dropped; the rest are tried */
            continue;
        }
        done += k;
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: udp_epoll [--host H] [--port P] [--gro]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port = "9000";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--gro") == 0)
            gro = true;
        else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
            host = argv[++i];
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = argv[++i];
        else
            return usage();
    }
    static char bufs[BATCH][GRO_CAP];
    for (int i = 0; i < BATCH; i++)
        slots[i].iov.iov_base = bufs[i];
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    int fd = open_socket(host, port);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (sfd < 0 || fd < 0 || ep < 0)
        return 1;
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
    struct epoll_event sev = { .events = EPOLLIN, .data.fd = sfd };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &sev) < 0) {
        perror("udp_epoll: epoll_ctl");
        return 1;
    }
    struct sockaddr_storage sa;
    socklen_t salen = sizeof sa;
    char shost[NI_MAXHOST], sport[NI_MAXSERV];
    if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0 ||
        getnameinfo((struct sockaddr *)&sa, salen, shost, sizeof shost, sport, sizeof sport,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        perror("udp_epoll: getsockname");
        return 1;
    }
    printf("udp_echo: listening on %s port %s\n", host, sport);
    fflush(stdout);
    for (;;) {
        struct epoll_event evs[2];
        int n = epoll_wait(ep, evs, 2, -1);
        if (n < 0 && errno != EINTR) {
            perror("udp_epoll: epoll_wait");
            return 1;
        }
        for (int e = 0; e < n; e++) {
            if (evs[e].data.fd == sfd)
                return 0;   /* SIGINT or SIGTERM */
            for (int round = 0; round < ROUNDS; round++) {
                for (int i = 0; i < BATCH; i++)
                    arm_rx(i);
                int got = recvmmsg(fd, rx, BATCH, MSG_DONTWAIT, NULL);
                if (got <= 0)
                    break;   /* EAGAIN: drained (level-triggered: the next wait says) */
                echo(fd, got);
                if (got < BATCH)
                    break;
            }
        }
    }
}
