/* no_uring COMMAND [ARG...]: runs COMMAND with io_uring refused the way
 * Docker's default seccomp profile refuses it (EPERM from io_uring_setup,
 * io_uring_enter and io_uring_register), so the tests can prove that ringo
 * falls back to epoll inside a container. The filter survives fork and exec,
 * so everything COMMAND starts is covered too.
 *
 * Classic BPF by hand rather than libseccomp: three syscalls do not justify
 * a dependency CI would have to install. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "no_uring: only x86-64 and aarch64 are known"
#endif

/* Before 4.14 only the thread could be killed. */
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS SECCOMP_RET_KILL
#endif

/* io_uring came after the numbering was unified: the same three numbers on
 * every architecture. */
_Static_assert(__NR_io_uring_setup == 425 && __NR_io_uring_register == 427,
               "io_uring syscall numbers moved");

static struct sock_filter filter[] = {
    /* A number means nothing without its ABI: i386's 425 is judged by
     * another table. Docker judges i386 by the same list; nothing we run is
     * 32-bit, so a foreign ABI kills instead, which cannot be misjudged. */
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef __x86_64__
    /* x32 calls arrive as AUDIT_ARCH_X86_64 with bit 30 set. Docker lists x32
     * as a sub-architecture of x86-64, so it gets the same verdicts: without
     * the bit, 0x40000000|425 would reach io_uring_setup unrefused. */
    BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~(__u32)0x40000000),
#endif
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __NR_io_uring_setup, 0, 2),
    BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, __NR_io_uring_register, 1, 0),
    /* EPERM, not ENOSYS: Docker's defaultErrnoRet, and what a runtime
     * answers for a syscall it knows and forbids. */
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: no_uring COMMAND [ARG...]\n");
        return 2;
    }
    struct sock_fprog prog = {
        .len = sizeof filter / sizeof filter[0],
        .filter = filter,
    };
    /* Without no_new_privs an unprivileged process may not install a filter
     * (a setuid child could otherwise be tricked); it is also what Docker
     * sets for its containers. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
        || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        fprintf(stderr, "no_uring: cannot install the seccomp filter: %s\n",
                strerror(errno));
        return 1;
    }
    execvp(argv[1], argv + 1);
    fprintf(stderr, "no_uring: cannot run %s: %s\n", argv[1], strerror(errno));
    return 127;
}
