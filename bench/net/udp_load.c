/* udp_load: the load generator of the UDP echo benchmark (udp_bench.py).
 *
 * K connected UDP sockets on one thread, each keeping a window of W
 * datagrams in flight: it sends until W are out, 32 to a sendmmsg, and
 * counts each echo that comes back (recvmmsg, 32 at a time). The loop
 * polls without sleeping (it has a CPU of its own, so the server, not the
 * client, is what a run measures). A socket that hears nothing for LOSS_NS
 * counts what it had out as lost and sends again.
 * --gso: sends are UDP_SEGMENT trains of up to GSO_SEGS datagrams (a GRO
 * server gets them as coalesced runs) and the sockets receive with UDP_GRO,
 * counting each run's segments. --send-gso: the trains only. A server
 * without UDP_GRO gets single datagrams either way (the kernel splits a
 * train before it queues it), so this only makes the client cheaper: on
 * loopback the sender's CPU pays for delivering what it sends.
 *
 * usage: udp_load --port P [--host H] [--size B] [--sockets K] [--window W]
 *                 [--duration S] [--gso | --send-gso]   (127.0.0.1, 64, 4, 16, 3)
 * Prints one line when done:
 *   udp_load sockets=K size=B window=W gso=0|1 gro=0|1 duration_s=D sent=N received=M
 *   lost=L bad=X dgrams_per_s=R
 * (bad: echoes of the wrong length). Exit status 0 when echoes came back and
 * none was bad, 1 otherwise, 2 on bad usage. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define BATCH 32
#define MAX_SOCKETS 64
#define GSO_SEGS 32           /* datagrams per GSO train (the kernel takes up to 64) */
#define RX_CAP 65536          /* a GRO run */
#define LOSS_NS 20000000LL    /* 20 ms without an echo: what is out is lost */

struct peer {
    int fd;
    long long out;            /* sent, not yet echoed or given up on */
    long long last;           /* when an echo last came (or the window was reset) */
};

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int connect_socket(const struct addrinfo *ai, bool gro)
{
    int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        perror("udp_load: connect");
        return -1;
    }
    int one = 1, big = 4 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (gro && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) < 0) {
        perror("udp_load: UDP_GRO");
        return -1;
    }
    return fd;
}

static char payload[GSO_SEGS * 1500];
static char rxbuf[BATCH][RX_CAP];
static struct iovec rxiov[BATCH], txiov[BATCH];
static struct mmsghdr rx[BATCH], tx[BATCH];
static _Alignas(struct cmsghdr) char rxc[BATCH][CMSG_SPACE(sizeof(int))];   /* CMSG_SPACE keeps */
static _Alignas(struct cmsghdr) char txc[BATCH][CMSG_SPACE(sizeof(int))];   /* each row aligned */

/* Send n datagrams of size bytes on fd: how many went (0 when it is full). */
static long long send_some(int fd, long long n, size_t size, bool gso)
{
    int msgs = 0;
    long long queued = 0;
    while (msgs < BATCH && queued < n) {
        long long segs = gso ? n - queued : 1;
        if (segs > GSO_SEGS)
            segs = GSO_SEGS;
        txiov[msgs] = (struct iovec){ payload, (size_t)segs * size };
        tx[msgs].msg_hdr = (struct msghdr){ .msg_iov = &txiov[msgs], .msg_iovlen = 1 };
        if (segs > 1) {
            struct cmsghdr *c = (struct cmsghdr *)txc[msgs];
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            *(uint16_t *)CMSG_DATA(c) = (uint16_t)size;
            tx[msgs].msg_hdr.msg_control = txc[msgs];
            tx[msgs].msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
        }
        queued += segs;
        msgs++;
    }
    int k = sendmmsg(fd, tx, (unsigned)msgs, 0);
    if (k <= 0)
        return 0;   /* EAGAIN, or ECONNREFUSED before the server is up */
    long long sent = 0;
    for (int i = 0; i < k; i++)
        sent += (long long)(txiov[i].iov_len / size);
    return sent;
}

/* Take what has come back on fd: datagrams counted, and bad lengths. */
static long long receive_some(int fd, size_t size, bool gro, long long *bad)
{
    for (int i = 0; i < BATCH; i++) {
        rxiov[i] = (struct iovec){ rxbuf[i], gro ? RX_CAP : size + 1 };
        rx[i].msg_hdr = (struct msghdr){ .msg_iov = &rxiov[i], .msg_iovlen = 1 };
        if (gro) {
            rx[i].msg_hdr.msg_control = rxc[i];
            rx[i].msg_hdr.msg_controllen = sizeof rxc[i];
        }
    }
    int k = recvmmsg(fd, rx, BATCH, MSG_DONTWAIT, NULL);
    long long got = 0;
    for (int i = 0; i < k; i++) {
        size_t len = rx[i].msg_len, seg = len;
        struct msghdr *m = &rx[i].msg_hdr;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(m); gro && c; c = CMSG_NXTHDR(m, c))
            if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO)
                seg = (size_t)*(int *)CMSG_DATA(c);
        if (seg != size || len % size) {
            (*bad)++;
            continue;
        }
        got += (long long)(len / size);
    }
    return got;
}

static int usage(void)
{
    fprintf(stderr, "usage: udp_load --port P [--host H] [--size B] [--sockets K] [--window W]"
                    " [--duration S] [--gso | --send-gso]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port = NULL;
    long size = 64, nsock = 4, window = 16;
    double duration = 3;
    bool gso = false, gro = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--gso") == 0 || strcmp(a, "--send-gso") == 0) {
            gso = true;
            gro = gro || strcmp(a, "--gso") == 0;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (strcmp(a, "--host") == 0)
            host = v;
        else if (strcmp(a, "--port") == 0)
            port = v;
        else if (strcmp(a, "--size") == 0)
            size = strtol(v, NULL, 10);
        else if (strcmp(a, "--sockets") == 0)
            nsock = strtol(v, NULL, 10);
        else if (strcmp(a, "--window") == 0)
            window = strtol(v, NULL, 10);
        else if (strcmp(a, "--duration") == 0)
            duration = strtod(v, NULL);
        else
            return usage();
    }
    if (!port || size < 1 || size > 1472 || nsock < 1 || nsock > MAX_SOCKETS || window < 1 ||
        duration <= 0)
        return usage();
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
                              .ai_flags = AI_NUMERICSERV }, *ai;
    int err = getaddrinfo(host, port, &hints, &ai);
    if (err) {
        fprintf(stderr, "udp_load: %s port %s: %s\n", host, port, gai_strerror(err));
        return 1;
    }
    struct peer peers[MAX_SOCKETS];
    long long t0 = now_ns();
    for (long i = 0; i < nsock; i++) {
        if ((peers[i].fd = connect_socket(ai, gro)) < 0)
            return 1;
        peers[i].out = 0;
        peers[i].last = t0;
    }
    freeaddrinfo(ai);
    memset(payload, 'u', sizeof payload);
    long long sent = 0, received = 0, lost = 0, bad = 0;
    long long end = t0 + (long long)(duration * 1e9);
    long long now = t0;
    while (now < end) {
        for (long i = 0; i < nsock; i++) {
            struct peer *p = &peers[i];
            long long got = receive_some(p->fd, (size_t)size, gro, &bad);
            if (got) {
                received += got;
                p->out = got > p->out ? 0 : p->out - got;
                p->last = now;
            } else if (p->out && now - p->last > LOSS_NS) {
                lost += p->out;
                p->out = 0;
                p->last = now;
            }
            /* Refill in batches: a send per echo would cost a call each. */
            long long room = window - p->out;
            if (room >= BATCH || (room > 0 && p->out < BATCH)) {
                long long s = send_some(p->fd, room, (size_t)size, gso);
                sent += s;
                p->out += s;
            }
        }
        now = now_ns();
    }
    double secs = (double)(now - t0) / 1e9;
    printf("udp_load sockets=%ld size=%ld window=%ld gso=%d gro=%d duration_s=%.3f sent=%lld "
           "received=%lld lost=%lld bad=%lld dgrams_per_s=%.0f\n", nsock, size, window, gso,
           gro, secs, sent, received, lost, bad, (double)received / secs);
    return received > 0 && bad == 0 ? 0 : 1;
}
