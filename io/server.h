/* io/: name resolution and socket helpers shared by connections (conn.c) and
 * servers (server.c). Private to the library. */
#ifndef RINGO_IO_SERVER_H
#define RINGO_IO_SERVER_H

#include <netdb.h>
#include <sys/un.h>

#include "engine/internal.h"

/* getaddrinfo for a TCP stream socket, from the current task (after
 * ringo__enter). flags: extra AI_* (AI_PASSIVE for servers). A numeric port
 * with an IPv4/IPv6 literal host is resolved inline (AI_NUMERICHOST, no
 * thread); a name or a service name goes to the worker pool. *out is
 * freeaddrinfo'd by the caller; written only on success.
 *   -EINVAL   empty or out-of-range port, unknown service name;
 *   -ENOENT   the name does not resolve (EAI_NONAME, EAI_NODATA,
 *             EAI_ADDRFAMILY); -EHOSTUNREACH (EAI_FAIL: the resolver gave
 *             up for good); -EAGAIN (EAI_AGAIN: try later);
 *   -ECANCELED / -ETIMEDOUT while a lookup ran on the pool (it finished
 *             first and its result is freed); -ENOMEM. */
int ringo__resolve(const char *host, const char *port, int flags, struct addrinfo **out);
/* The same for another socket type (SOCK_DGRAM: UDP endpoints). */
int ringo__resolve_type(const char *host, const char *port, int socktype, int flags,
                       struct addrinfo **out);

/* Fill a sockaddr_un for path: -EINVAL (NULL or empty), -ENAMETOOLONG
 * (does not fit sun_path with its NUL). */
int ringo__unix_addr(struct sockaddr_un *sa, socklen_t *len, const char *path);

#endif
