/* A tiny in-memory key-value server, sharded across loops as Seastar does:
 * each loop owns the keys that hash to it, in a table only that loop ever
 * touches (no locks), and a request for a key of another loop is sent there
 * with ringo_spawn_on and awaited.
 *
 * usage: sharded_kv [--loops N] [--port P]   (defaults: a loop per CPU, 8080)
 * Prints "listening on HOST:PORT" once ready. One listener on loop 0
 * (RINGO_SERVER_SPREAD) hands each connection to the loop with the fewest
 * connections, where its handler reads the requests:
 *
 *   SET key value   ->  OK            (the value is the rest of the line)
 *   GET key         ->  VALUE value   or  NOTFOUND
 *   anything else   ->  ERROR
 *
 * Try: printf 'SET a 1\nGET a\nGET b\n' | nc 127.0.0.1 8080
 * Ctrl-C (SIGINT) closes the server (the handlers on every loop are
 * cancelled and awaited), stops the other loops and exits 0. */
#include <errno.h>
#include <ringo.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE 1024
#define NBUCKETS 4096

struct entry {
    struct entry *next;
    char *val;
    char key[];
};

/* This loop's shard: each loop runs on a thread of its own. */
static __thread struct entry *shard[NBUCKETS];

static uint32_t hash(const char *key)   /* FNV-1a */
{
    uint32_t h = 2166136261u;
    for (; *key; key++)
        h = (h ^ (uint8_t)*key) * 16777619u;
    return h;
}

/* A request, on the stack of the handler that awaits it. */
struct req {
    const char *key, *val;
    char *out;    /* GET: the value is copied here (LINE bytes) */
    bool found;
};

static struct entry **find(const char *key)
{
    struct entry **e = &shard[hash(key) / ringo_loop_count() % NBUCKETS];
    while (*e && strcmp((*e)->key, key) != 0)
        e = &(*e)->next;
    return e;
}

/* These two run on the key's loop; neither suspends. */
static int kv_set(void *arg)
{
    struct req *r = arg;
    struct entry **e = find(r->key), *n = *e;
    size_t klen = strlen(r->key) + 1;
    char *val = strdup(r->val);
    if (!n && val && (n = malloc(sizeof *n + klen))) {
        n->next = NULL;
        n->val = NULL;
        memcpy(n->key, r->key, klen);
        *e = n;
    }
    if (!n || !val) {
        free(val);
        return -ENOMEM;
    }
    free(n->val);
    n->val = val;
    return 0;
}

static int kv_get(void *arg)
{
    struct req *r = arg;
    struct entry *e = *find(r->key);
    r->found = e != NULL;
    if (e)
        snprintf(r->out, LINE, "%s", e->val);
    return 0;
}

/* fn(r) on the loop that owns r->key: Seastar's smp::submit_to. */
static int on_owner(ringo_fn fn, struct req *r)
{
    ringo_task *t;
    int ret = ringo_spawn_on(ringo_loop_at(hash(r->key) % ringo_loop_count()), &t, fn, r);
    return ret < 0 ? ret : ringo_await(t);
}

static const char *serve_line(char *line, char *val)
{
    line[strcspn(line, "\r\n")] = 0;
    char *key = strchr(line, ' ');
    if (!key || !*++key)
        return "ERROR\n";
    key[-1] = 0;
    char *v = strchr(key, ' ');
    if (v)
        *v++ = 0;
    struct req r = { .key = key, .val = v, .out = val };
    if (strcmp(line, "SET") == 0 && v)
        return on_owner(kv_set, &r) == 0 ? "OK\n" : "ERROR\n";
    if (strcmp(line, "GET") == 0 && !v && on_owner(kv_get, &r) == 0)
        return r.found ? NULL : "NOTFOUND\n";   /* NULL: the value is in val */
    return "ERROR\n";
}

/* One per connection, on the loop the server picked for it. */
static int handle(ringo_stream *s, void *arg)
{
    (void)arg;
    char line[LINE], val[LINE];
    ssize_t n;
    while ((n = ringo_stream_readline(s, line, sizeof line - 1)) > 0) {
        line[n] = 0;
        const char *reply = serve_line(line, val);
        char out[LINE + 8];
        int len = reply ? snprintf(out, sizeof out, "%s", reply)
                        : snprintf(out, sizeof out, "VALUE %s\n", val);
        if (ringo_stream_write(s, out, (size_t)len) < 0 || ringo_stream_drain(s) < 0)
            break;
    }
    return 0;   /* EOF, a line over LINE bytes, or the server closing */
}

static int event_wait_task(void *arg)
{
    return ringo_event_wait(arg);
}

struct app {
    const char *port;
    ringo_event *stop;   /* loop 0's: set to stop the other loops */
};

static int serve(void *arg)
{
    struct app *a = arg;
    int ret = 0;
    ringo_task *t;
    if (ringo_loop_index() > 0) {
        /* Serve connections and requests until loop 0 says stop; the wait
         * runs on loop 0 (the event's loop), awaited from here. */
        if (ringo_spawn_on(ringo_loop_at(0), &t, event_wait_task, a->stop) == 0)
            (void)ringo_await(t);
    } else {
        const ringo_server_opts o = { .flags = RINGO_SERVER_SPREAD };
        ringo_server *srv;
        ret = ringo_start_server_opts(&srv, "127.0.0.1", a->port, &o, handle, NULL);
        if (ret < 0) {
            fprintf(stderr, "sharded_kv: cannot listen on port %s: %s\n", a->port, strerror(-ret));
            return ret;
        }
        printf("listening on 127.0.0.1:%d\n", ringo_server_port(srv));
        fflush(stdout);
        ret = ringo_wait_signal(SIGINT);
        ringo_server_close(srv);   /* no request in flight on any loop after this */
        ringo_event_set(a->stop);
    }
    for (int i = 0; i < NBUCKETS; i++)   /* this loop's shard */
        for (struct entry *e = shard[i], *next; e; e = next) {
            next = e->next;
            free(e->val);
            free(e);
        }
    return ret < 0 ? ret : 0;
}

int main(int argc, char **argv)
{
    struct app a = { .port = "8080" };
    unsigned loops = 0;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 < argc && strcmp(argv[i], "--loops") == 0) {
            loops = (unsigned)strtoul(argv[i + 1], NULL, 10);
        } else if (i + 1 < argc && strcmp(argv[i], "--port") == 0) {
            a.port = argv[i + 1];
        } else {
            fprintf(stderr, "usage: sharded_kv [--loops N] [--port P]\n");
            return 2;
        }
    }
    if (ringo_event_new(&a.stop) < 0)
        return 1;
    int ret = ringo_run_loops(NULL, loops, serve, &a);
    ringo_event_free(a.stop);
    return ret < 0 ? 1 : 0;
}
