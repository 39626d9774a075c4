/* RSS per idle connection: a ringo server holding N connections whose
 * handlers wait in readline, measured from /proc/self/statm before and
 * after. The clients are a forked child with plain blocking sockets.
 * usage: idle_rss [N] [JSON_OUT] */
#include <arpa/inet.h>
#include <ringo.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int nconn = 10000;
static int open_handlers;

static int idle_handler(ringo_stream *s, void *arg)
{
    (void)arg;
    char line[64];
    open_handlers++;
    ringo_stream_readline(s, line, sizeof line);   /* until the client goes */
    open_handlers--;
    return 0;
}

static long rss_bytes(void)
{
    long size, rss;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld %ld", &size, &rss) != 2)
        rss = 0;
    if (f)
        fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

static void clients(int port, int ready_fd, int hold_fd)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < nconn; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
            _exit(1);
    }
    char c = 1;
    if (write(ready_fd, &c, 1) != 1)
        _exit(1);
    (void)!read(hold_fd, &c, 1);   /* until the parent has measured */
    _exit(0);
}

static int measure(void *arg)
{
    const char *json = arg;
    ringo_server *srv;
    int ret = ringo_start_server(&srv, "127.0.0.1", "0", idle_handler, NULL);
    if (ret < 0)
        return ret;
    int ready[2], hold[2];
    if (pipe(ready) < 0 || pipe(hold) < 0)
        return -1;
    ringo_sleep(RINGO_MS(10));
    long before = rss_bytes();
    pid_t pid = fork();
    if (pid == 0) {
        close(hold[1]);   /* else our own copy keeps the hold pipe open */
        clients(ringo_server_port(srv), ready[1], hold[0]);
    }
    char c;
    if (ringo_read(ready[0], &c, 1, -1) != 1)
        return -1;
    while (open_handlers < nconn)
        ringo_sleep(RINGO_MS(5));
    ringo_sleep(RINGO_MS(50));
    double per = (double)(rss_bytes() - before) / nconn;
    printf("idle connections: %d, RSS per idle connection: %.0f bytes (%.1f KiB)\n",
           nconn, per, per / 1024);
    fflush(stdout);
    close(hold[1]);
    waitpid(pid, NULL, 0);
    ringo_server_close(srv);
    if (json) {
        FILE *f = fopen(json, "w");
        if (f) {
            fprintf(f, "{\"benchmarks\": [{\"name\": \"net/idle_rss/ringo\", \"run_name\": "
                       "\"net/idle_rss/ringo\", \"run_type\": \"iteration\", \"real_time\": %.1f, "
                       "\"cpu_time\": %.1f, \"time_unit\": \"ns\", \"ops_per_iter\": 1}]}\n",
                    per, per);
            fclose(f);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        nconn = atoi(argv[1]);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;   /* the child inherits it too */
    setrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)nconn + 64 > rl.rlim_cur)
        nconn = (int)rl.rlim_cur - 64;
    int ret = ringo_run(measure, argc > 2 ? argv[2] : NULL);
    if (ret < 0)
        fprintf(stderr, "idle_rss: %d\n", ret);
    return ret < 0;
}
