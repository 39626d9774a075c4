/* Subprocesses: spawn, pipes, wait (both paths), communicate, kill, free,
 * run_command. Each test ends with the loop closed clean and, where children
 * were made, no zombie left. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

/* Children of ours in state Z, from /proc/<pid>/stat ("pid (comm) S ppid"). */
static int zombies(void)
{
    DIR *d = opendir("/proc");
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        char *rp = strrchr(buf, ')');   /* comm may hold spaces and parens */
        char state;
        int ppid;
        if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == getpid() &&
            state == 'Z')
            n++;
    }
    closedir(d);
    return n;
}

static void no_waitid(void)
{
    setenv("RINGO_NO_WAITID", "1", 1);   /* each Test runs in its own process */
}

/* ---- spawn, accessors, wait ---------------------------------------------- */

static int echo_main(void *arg)
{
    (void)arg;
    const char *argv[] = { "echo", "hello", "world", NULL };
    ringo_process_opts o = { .out = RINGO_PIPE };
    ringo_process *p;
    cr_assert_eq(ringo_process_spawn(&p, argv, &o), 0);
    cr_assert_gt(ringo_process_pid(p), 0);
    cr_assert_null(ringo_process_stdin(p));
    cr_assert_null(ringo_process_stderr(p));
    cr_assert_not_null(ringo_process_stdout(p));
    char line[64] = { 0 };
    cr_assert_eq(ringo_stream_readline(ringo_process_stdout(p), line, sizeof line), 12);
    cr_assert_str_eq(line, "hello world\n");
    int rc = -1;
    cr_assert_eq(ringo_process_wait(p, &rc), 0);
    cr_assert_eq(rc, 0);
    rc = -1;
    cr_assert_eq(ringo_process_wait(p, &rc), 0, "a second wait gives the same code");
    cr_assert_eq(rc, 0);
    cr_assert_eq(ringo_process_wait(p, NULL), 0);
    cr_assert_eq(ringo_process_kill(p, SIGTERM), -ESRCH);
    ringo_process_free(p);
    return 0;
}

Test(process, spawn_reads_stdout_and_waits)
{
    cr_assert_eq(run_clean(echo_main, NULL), 0);
}

static int exit_code_main(void *arg)
{
    (void)arg;
    ringo_process *p;
    cr_assert_eq(ringo_process_shell(&p, "exit 42", NULL), 0);
    int rc;
    cr_assert_eq(ringo_process_wait(p, &rc), 0);
    cr_assert_eq(rc, 42);
    ringo_process_free(p);
    return 0;
}

Test(process, exit_code_is_the_returncode)
{
    cr_assert_eq(run_clean(exit_code_main, NULL), 0);
}

Test(process, exit_code_without_waitid)
{
    no_waitid();
    cr_assert_eq(run_clean(exit_code_main, NULL), 0);
}

static int signal_main(void *arg)
{
    (void)arg;
    static const int sigs[] = { SIGKILL, SIGTERM };
    for (int i = 0; i < 2; i++) {
        const char *argv[] = { "sleep", "10", NULL };
        ringo_process *p;
        cr_assert_eq(ringo_process_spawn(&p, argv, NULL), 0);
        cr_assert_eq(ringo_process_kill(p, sigs[i]), 0);
        int rc = 0;
        cr_assert_eq(ringo_process_wait(p, &rc), 0);
        cr_assert_eq(rc, -sigs[i]);
        ringo_process_free(p);
    }
    return 0;
}

Test(process, killed_by_a_signal_is_minus_the_signal)
{
    cr_assert_eq(run_clean(signal_main, NULL), 0);
    cr_assert_eq(zombies(), 0);
}

Test(process, killed_by_a_signal_without_waitid)
{
    no_waitid();
    cr_assert_eq(run_clean(signal_main, NULL), 0);
    cr_assert_eq(zombies(), 0);
}

/* ---- errors ---------------------------------------------------------------- */

static int errors_main(void *arg)
{
    (void)arg;
    ringo_process *p = (ringo_process *)0x1;
    const char *missing[] = { "ringo-no-such-program-here", NULL };
    cr_assert_eq(ringo_process_spawn(&p, missing, NULL), -ENOENT);
    const char *not_exec[] = { "/etc/passwd", NULL };
    cr_assert_eq(ringo_process_spawn(&p, not_exec, NULL), -EACCES);
    const char *tru[] = { "true", NULL };
    ringo_process_opts bad_cwd = { .cwd = "/ringo/no/such/dir" };
    cr_assert_eq(ringo_process_spawn(&p, tru, &bad_cwd), -ENOENT);
    ringo_process_opts bad_in = { .in = RINGO_STDOUT };
    cr_assert_eq(ringo_process_spawn(&p, tru, &bad_in), -EINVAL);
    cr_assert_eq(p, (ringo_process *)0x1, "out untouched on failure");
    cr_assert_eq(ringo_process_spawn(NULL, tru, NULL), -EINVAL);
    cr_assert_eq(ringo_process_spawn(&p, NULL, NULL), -EINVAL);
    cr_assert_eq(ringo_process_shell(&p, NULL, NULL), -EINVAL);
    cr_assert_eq(ringo_process_wait(NULL, NULL), -EINVAL);
    cr_assert_eq(ringo_process_kill(NULL, SIGTERM), -EINVAL);
    cr_assert_eq(ringo_process_communicate(NULL, NULL, 0, NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(ringo_run_command(NULL, NULL), -EINVAL);
    cr_assert_null(ringo_process_stdout(NULL));
    ringo_process_free(NULL);
    ringo_command_result_free(NULL);
    /* Input for a stdin that is not a pipe is refused, not dropped. */
    cr_assert_eq(ringo_process_spawn(&p, tru, NULL), 0);
    cr_assert_eq(ringo_process_communicate(p, "x", 1, NULL, NULL, NULL), -EINVAL);
    ringo_process_free(p);
    return 0;
}

Test(process, bad_programs_and_arguments_fail_at_spawn)
{
    cr_assert_eq(run_clean(errors_main, NULL), 0);
    const char *tru[] = { "true", NULL };
    ringo_process *p;
    cr_assert_eq(ringo_process_spawn(&p, tru, NULL), -EPERM, "no loop");
    cr_assert_eq(zombies(), 0);
}

/* ---- communicate ------------------------------------------------------------ */

#define BIG ((size_t)1 << 20)

static int cat_main(void *arg)
{
    (void)arg;
    unsigned char *in = malloc(BIG);
    cr_assert_not_null(in);
    uint32_t x = 12345;
    for (size_t i = 0; i < BIG; i++) {
        x = x * 1103515245u + 12345u;
        in[i] = (unsigned char)(x >> 16);
    }
    const char *argv[] = { "cat", NULL };
    ringo_process_opts o = { .in = RINGO_PIPE, .out = RINGO_PIPE, .err = RINGO_PIPE };
    ringo_process *p;
    cr_assert_eq(ringo_process_spawn(&p, argv, &o), 0);
    ringo_buf out, err;
    int rc = -1;
    cr_assert_eq(ringo_process_communicate(p, in, BIG, &out, &err, &rc), 0);
    cr_assert_eq(rc, 0);
    cr_assert_eq(out.len, BIG);
    cr_assert(memcmp(out.data, in, BIG) == 0, "bytes through cat differ");
    cr_assert_eq(out.data[BIG], 0);
    cr_assert_eq(err.len, 0);
    cr_assert_str_eq(err.data, "");
    cr_assert_null(ringo_process_stdin(p), "communicate closed stdin");
    free(out.data);
    free(err.data);
    free(in);
    ringo_process_free(p);
    return 0;
}

Test(process, communicate_passes_1mib_through_cat)
{
    cr_assert_eq(run_clean(cat_main, NULL), 0);
}

/* A child that writes a lot to both pipes before reading: without
 * concurrent reads of both, this deadlocks. */
static int both_pipes_main(void *arg)
{
    (void)arg;
    ringo_process_opts o = { .in = RINGO_PIPE, .out = RINGO_PIPE, .err = RINGO_PIPE };
    ringo_process *p;
    cr_assert_eq(ringo_process_shell(&p, "head -c 300000 /dev/zero >&2; "
                                         "head -c 300000 /dev/zero; wc -c", &o), 0);
    static char in[200000];
    ringo_buf out, err;
    cr_assert_eq(ringo_process_communicate(p, in, sizeof in, &out, &err, NULL), 0);
    cr_assert_eq(err.len, 300000);
    cr_assert_eq(out.len, 300000 + strlen("200000\n"));
    cr_assert_str_eq(out.data + 300000, "200000\n");
    free(out.data);
    free(err.data);
    ringo_process_free(p);
    return 0;
}

Test(process, communicate_reads_both_pipes_while_writing)
{
    cr_assert_eq(run_clean(both_pipes_main, NULL), 0);
}

static int stdin_eof_main(void *arg)
{
    (void)arg;
    ringo_process_opts o = { .in = RINGO_PIPE, .out = RINGO_PIPE };
    ringo_process *p;
    cr_assert_eq(ringo_process_shell(&p, "cat; echo done", &o), 0);
    ringo_stream *in = ringo_process_stdin(p);
    cr_assert_eq(ringo_stream_write(in, "abc\n", 4), 4);
    cr_assert_eq(ringo_stream_close(in), 0);
    cr_assert_null(ringo_process_stdin(p), "closed by the user: the accessor forgets it");
    char buf[32] = { 0 };
    cr_assert_eq(ringo_stream_readexactly(ringo_process_stdout(p), buf, 9), 9);
    cr_assert_str_eq(buf, "abc\ndone\n");
    cr_assert_eq(ringo_process_wait(p, NULL), 0);
    ringo_process_free(p);
    return 0;
}

Test(process, closing_stdin_sends_eof)
{
    cr_assert_eq(run_clean(stdin_eof_main, NULL), 0);
}

/* Writing to a child that exited is -EPIPE / -ECONNRESET, not SIGPIPE. */
static int epipe_main(void *arg)
{
    (void)arg;
    const char *argv[] = { "true", NULL };
    ringo_process_opts o = { .in = RINGO_PIPE };
    ringo_process *p;
    cr_assert_eq(ringo_process_spawn(&p, argv, &o), 0);
    cr_assert_eq(ringo_process_wait(p, NULL), 0);
    static char chunk[65536];
    ringo_stream *in = ringo_process_stdin(p);
    int ret = 0;
    for (int i = 0; i < 8 && ret >= 0; i++) {
        ssize_t w = ringo_stream_write(in, chunk, sizeof chunk);
        ret = w < 0 ? (int)w : ringo_stream_drain(in);
    }
    cr_assert(ret == -EPIPE || ret == -ECONNRESET, "got %d", ret);
    ringo_process_free(p);
    return 0;
}

Test(process, writing_to_an_exited_child_is_an_error_not_sigpipe)
{
    cr_assert_eq(run_clean(epipe_main, NULL), 0);
}

/* ---- stdio, env, cwd, descriptors -------------------------------------- */

static int stderr_to_stdout_main(void *arg)
{
    (void)arg;
    ringo_process_opts o = { .out = RINGO_PIPE, .err = RINGO_STDOUT };
    ringo_process *p;
    cr_assert_eq(ringo_process_shell(&p, "echo out; echo err >&2", &o), 0);
    cr_assert_null(ringo_process_stderr(p));
    ringo_buf out, err;
    cr_assert_eq(ringo_process_communicate(p, NULL, 0, &out, &err, NULL), 0);
    cr_assert_str_eq(out.data, "out\nerr\n");
    cr_assert_str_eq(err.data, "", "not piped: empty");
    free(out.data);
    free(err.data);
    ringo_process_free(p);
    return 0;
}

Test(process, stderr_to_stdout)
{
    cr_assert_eq(run_clean(stderr_to_stdout_main, NULL), 0);
}

static int devnull_main(void *arg)
{
    (void)arg;
    ringo_process_opts o = { .in = RINGO_DEVNULL, .out = RINGO_PIPE, .err = RINGO_DEVNULL };
    ringo_process *p;
    /* cat sees EOF at once; its stderr complaint goes nowhere. */
    cr_assert_eq(ringo_process_shell(&p, "cat; echo done; echo err >&2; "
                                         "ls -l /proc/$$/fd/0 | grep -c /dev/null", &o), 0);
    ringo_buf out;
    int rc;
    cr_assert_eq(ringo_process_communicate(p, NULL, 0, &out, NULL, &rc), 0);
    cr_assert_str_eq(out.data, "done\n1\n");
    cr_assert_eq(rc, 0);
    free(out.data);
    ringo_process_free(p);
    ringo_process_opts quiet = { .out = RINGO_DEVNULL };
    cr_assert_eq(ringo_process_shell(&p, "echo lost", &quiet), 0);
    cr_assert_null(ringo_process_stdout(p));
    cr_assert_eq(ringo_process_wait(p, &rc), 0);
    cr_assert_eq(rc, 0);
    ringo_process_free(p);
    return 0;
}

Test(process, devnull)
{
    cr_assert_eq(run_clean(devnull_main, NULL), 0);
}

static int env_cwd_main(void *arg)
{
    (void)arg;
    const char *env[] = { "RINGO_TEST_VAR=forty two", NULL };
    ringo_process_opts o = { .out = RINGO_PIPE, .env = env, .cwd = "/tmp" };
    ringo_process *p;
    cr_assert_eq(ringo_process_shell(&p, "echo \"$RINGO_TEST_VAR\"; echo \"[$HOME]\"; pwd", &o), 0);
    ringo_buf out;
    cr_assert_eq(ringo_process_communicate(p, NULL, 0, &out, NULL, NULL), 0);
    cr_assert_str_eq(out.data, "forty two\n[]\n/tmp\n");
    free(out.data);
    ringo_process_free(p);
    /* NULL env: inherited. */
    setenv("RINGO_TEST_VAR", "inherited", 1);
    ringo_process_opts inh = { .out = RINGO_PIPE };
    cr_assert_eq(ringo_process_shell(&p, "echo \"$RINGO_TEST_VAR\"", &inh), 0);
    cr_assert_eq(ringo_process_communicate(p, NULL, 0, &out, NULL, NULL), 0);
    cr_assert_str_eq(out.data, "inherited\n");
    free(out.data);
    ringo_process_free(p);
    return 0;
}

Test(process, env_and_cwd_are_honoured)
{
    cr_assert_eq(run_clean(env_cwd_main, NULL), 0);
}

static int fds_main(void *arg)
{
    (void)arg;
    /* ls lists its own 0-2 and the directory it reads (3). */
    const char *argv[] = { "ls", "/proc/self/fd", NULL };
    ringo_process_opts o = { .out = RINGO_PIPE };
    ringo_process *p;
    cr_assert_eq(ringo_process_spawn(&p, argv, &o), 0);
    ringo_buf out;
    cr_assert_eq(ringo_process_communicate(p, NULL, 0, &out, NULL, NULL), 0);
    int n = 0;
    for (char *tok = strtok(out.data, "\n"); tok; tok = strtok(NULL, "\n"), n++)
        cr_assert_leq(atoi(tok), 3, "the child sees descriptor %s", tok);
    cr_assert_eq(n, 4, "0, 1, 2 and ls's own");
    free(out.data);
    ringo_process_free(p);
    return 0;
}

Test(process, child_gets_only_stdio_descriptors)
{
    int fd = open("/dev/null", O_RDONLY);   /* no O_CLOEXEC, on purpose */
    cr_assert_geq(fd, 0);
    cr_assert_eq(dup2(fd, 100), 100);
    cr_assert_eq(run_clean(fds_main, NULL), 0);
    close(100);
    close(fd);
}

/* ---- many, cancel, free ------------------------------------------------- */
/* Shells below `exec sleep`: killing a shell does not kill the sleep it
 * forked, which would outlive the test holding its stdout. */

#define MANY 200

static int wait_one(void *arg)
{
    int rc = -1;
    int ret = ringo_process_wait(arg, &rc);
    return ret < 0 ? ret : rc;
}

static int many_main(void *arg)
{
    (void)arg;
    ringo_process *p[MANY];
    ringo_task *t[MANY];
    int st[MANY];
    const char *argv[] = { "true", NULL };
    for (int i = 0; i < MANY; i++) {
        cr_assert_eq(ringo_process_spawn(&p[i], argv, NULL), 0);
        cr_assert_eq(ringo_spawn(&t[i], wait_one, p[i]), 0);
    }
    cr_assert_eq(ringo_gather(t, MANY, st), 0);
    for (int i = 0; i < MANY; i++) {
        cr_assert_eq(st[i], 0);
        ringo_process_free(p[i]);
    }
    return 0;
}

Test(process, two_hundred_concurrent_children_leave_no_zombie)
{
    cr_assert_eq(run_clean(many_main, NULL), 0);
    cr_assert_eq(zombies(), 0);
}

Test(process, two_hundred_concurrent_children_without_waitid)
{
    no_waitid();
    cr_assert_eq(run_clean(many_main, NULL), 0);
    cr_assert_eq(zombies(), 0);
}

static int many_waiters_main(void *arg)
{
    (void)arg;
    ringo_process *p;
    cr_assert_eq(ringo_process_shell(&p, "sleep 0.1; exit 7", NULL), 0);
    ringo_task *t[3];
    int st[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ringo_spawn(&t[i], wait_one, p), 0);
    cr_assert_eq(ringo_yield(), 0);
    ringo_cancel(t[0]);   /* the first one has the op: another takes over */
    ringo_gather(t, 3, st);
    cr_assert_eq(st[0], -ECANCELED);
    cr_assert_eq(st[1], 7);
    cr_assert_eq(st[2], 7);
    ringo_process_free(p);
    return 0;
}

Test(process, several_tasks_wait_on_one_child)
{
    cr_assert_eq(run_clean(many_waiters_main, NULL), 0);
}

Test(process, several_tasks_wait_without_waitid)
{
    no_waitid();
    cr_assert_eq(run_clean(many_waiters_main, NULL), 0);
}

static int cancel_main(void *arg)
{
    (void)arg;
    const char *argv[] = { "sleep", "10", NULL };
    ringo_process *p;
    cr_assert_eq(ringo_process_spawn(&p, argv, NULL), 0);
    pid_t pid = ringo_process_pid(p);
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, wait_one, p), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(20)), 0);
    cr_assert_eq(ringo_cancel(t), 0);
    int64_t t0 = ringo_now();
    cr_assert_eq(ringo_await(t), -ECANCELED);
    cr_assert_lt(ringo_now() - t0, RINGO_SEC(1));
    cr_assert_eq(kill(pid, 0), 0, "cancelling the wait does not kill the child");
    ringo_process_free(p);
    cr_assert_eq(kill(pid, 0), -1, "free killed and reaped it");
    cr_assert_eq(errno, ESRCH);
    return 0;
}

Test(process, cancelling_a_wait_leaks_no_child)
{
    cr_assert_eq(run_clean(cancel_main, NULL), 0);
    cr_assert_eq(zombies(), 0);
}

Test(process, cancelling_a_wait_without_waitid)
{
    no_waitid();
    cr_assert_eq(run_clean(cancel_main, NULL), 0);
    cr_assert_eq(zombies(), 0);
}

static int deadline_main(void *arg)
{
    (void)arg;
    ringo_process *p;
    cr_assert_eq(ringo_process_shell(&p, "exec sleep 10", NULL), 0);
    int64_t old = ringo_deadline(ringo_now() + RINGO_MS(30));
    cr_assert_eq(ringo_process_wait(p, NULL), -ETIMEDOUT);
    ringo_deadline(old);
    ringo_process_free(p);
    return 0;
}

Test(process, wait_honours_the_deadline)
{
    cr_assert_eq(run_clean(deadline_main, NULL), 0);
    cr_assert_eq(zombies(), 0);
}

static int free_running_main(void *arg)
{
    ringo_process_opts o = { .in = RINGO_PIPE, .out = RINGO_PIPE, .err = RINGO_PIPE };
    ringo_process *p;
    cr_assert_eq(ringo_process_shell(&p, "exec sleep 10", &o), 0);
    static char chunk[200000];   /* more than the socket takes: still queued at free */
    cr_assert_eq(ringo_stream_write(ringo_process_stdin(p), chunk, sizeof chunk),
                 (ssize_t)sizeof chunk);
    *(pid_t *)arg = ringo_process_pid(p);
    int64_t t0 = ringo_now();
    ringo_process_free(p);
    cr_assert_lt(ringo_now() - t0, RINGO_SEC(1));
    return 0;
}

Test(process, free_kills_and_reaps_a_running_child)
{
    pid_t pid = 0;
    cr_assert_eq(run_clean(free_running_main, &pid), 0);
    cr_assert_eq(kill(pid, 0), -1);
    cr_assert_eq(zombies(), 0);
}

static int forgotten_main(void *arg)
{
    ringo_process_opts o = { .out = RINGO_PIPE };
    ringo_process *p;
    cr_assert_eq(ringo_process_shell(&p, "exec sleep 10", &o), 0);
    *(ringo_process **)arg = p;
    return 0;
}

Test(process, loop_close_kills_a_child_not_freed)
{
    ringo_process *p = NULL;
    cr_assert_eq(ringo_run(forgotten_main, &p), 0);
    cr_assert_eq(zombies(), 0);
    pid_t pid = ringo_process_pid(p);
    cr_assert_eq(kill(pid, 0), -1);
    cr_assert_null(ringo_process_stdout(p));
    ringo_process_free(p);   /* after the loop: only the memory */
}

/* ---- run_command ---------------------------------------------------------- */

static int command_main(void *arg)
{
    (void)arg;
    ringo_command_result r;
    cr_assert_eq(ringo_run_command("echo out; echo err >&2; exit 3", &r), 0);
    cr_assert_str_eq(r.out.data, "out\n");
    cr_assert_eq(r.out.len, 4);
    cr_assert_str_eq(r.err.data, "err\n");
    cr_assert_eq(r.returncode, 3);
    ringo_command_result_free(&r);
    cr_assert_null(r.out.data);
    cr_assert_eq(ringo_run_command("kill -TERM $$", &r), 0);
    cr_assert_eq(r.returncode, -SIGTERM);
    cr_assert_eq(r.out.len, 0);
    ringo_command_result_free(&r);
    return 0;
}

Test(process, run_command_captures_output_and_returncode)
{
    cr_assert_eq(run_clean(command_main, NULL), 0);
    cr_assert_eq(zombies(), 0);
}
