/* Three shell commands at once, as asyncio's
 *
 *     async def run(cmd):
 *         proc = await asyncio.create_subprocess_shell(cmd, stdout=PIPE, stderr=PIPE)
 *         stdout, stderr = await proc.communicate()
 *     await asyncio.gather(run('ls /'), run('echo hello >&2; exit 3'), ...)
 *
 * The whole takes as long as the slowest command, not the sum. A command that
 * exits non-zero is reported, not fatal; only a command that cannot be run at
 * all makes the program fail. */
#include <ringo.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct job {
    const char *cmd;
    ringo_command_result r;
    int status;
} job;

static int run(void *arg)
{
    job *j = arg;
    return ringo_run_command(j->cmd, &j->r);
}

static void show(const char *what, const ringo_buf *b)
{
    if (b->len == 0)
        return;
    /* Indent each line so the three outputs stay apart. */
    printf("  %s:\n", what);
    for (const char *p = b->data; *p;) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        printf("    %.*s\n", n, p);
        p += n + (nl != NULL);
    }
}

static int main_task(void *arg)
{
    (void)arg;
    job jobs[] = {
        { .cmd = "ls /" },
        { .cmd = "echo hello >&2; exit 3" },
        { .cmd = "sleep 0.2; date" },
    };
    enum { N = sizeof jobs / sizeof jobs[0] };
    ringo_task *t[N];
    int statuses[N];
    int64_t t0 = ringo_now();
    size_t started = 0;
    for (; started < N; started++) {
        if (ringo_spawn(&t[started], run, &jobs[started]) < 0)
            break;
    }
    ringo_gather(t, started, statuses);
    bool failed = started < N;
    for (size_t i = 0; i < started; i++) {
        printf("[%s]\n", jobs[i].cmd);
        if (statuses[i] < 0) {
            printf("  could not run it: %s\n", strerror(-statuses[i]));
            failed = true;
            continue;
        }
        show("stdout", &jobs[i].r.out);
        show("stderr", &jobs[i].r.err);
        printf("  exit code %d\n", jobs[i].r.returncode);
        ringo_command_result_free(&jobs[i].r);
    }
    printf("all three in %lld ms\n", (long long)((ringo_now() - t0) / RINGO_MS(1)));
    return failed ? -1 : 0;
}

int main(void)
{
    return ringo_run(main_task, NULL) ? 1 : 0;
}
