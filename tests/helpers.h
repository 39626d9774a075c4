/* Shared by the test programs: run a loop and check it closed clean. */
#ifndef RINGO_TEST_HELPERS_H
#define RINGO_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <ringo.h>

/* ringo_run(fn, arg), asserting afterwards that no descriptor leaked and that
 * no loop is left running; returns main's status. */
int run_clean(ringo_fn fn, void *arg);
int run_clean_config(const ringo_config *cfg, ringo_fn fn, void *arg);

/* Collect what the code under test writes to stderr. */
void stderr_capture_begin(void);
/* Stop collecting; returns a malloc'd NUL-terminated copy (caller frees). */
char *stderr_capture_end(void);

int open_fd_count(void);

/* TLS tests (a suite's init and fini): make tls_certs.sh's keys and
 * certificates in a fresh directory, and remove it. SIGPIPE is ignored: a
 * side that gave up closed its socket. tls_file: a path in that directory;
 * eight live at once. */
void tls_certs_make(void);
void tls_certs_remove(void);
const char *tls_certs_dir(void);
const char *tls_file(const char *name);

/* The backend ringo_run picks here (RINGO_BACKEND, a seccomp filter): tests
 * of what only io_uring does skip on epoll. */
bool backend_is_epoll(void);

/* A connected pair of blocking sockets, fds[0] the client's end: TCP over
 * loopback, or AF_UNIX stream. Assert on failure. */
void tcp_pair(int fds[2]);
void unix_pair(int fds[2]);

/* Threads of this process whose name (/proc/self/task/N/comm) starts with
 * prefix: "ringo-worker" for the pool, "iou-wrk" for io_uring's io-wq. */
int thread_count(const char *prefix);

#endif
