/* Three tasks sleeping concurrently: the program takes as long as the longest
 * sleep, not the sum. Shows spawn, await, names and cancellation. */
#include <ringo.h>
#include <stdio.h>

static int say_after(void *arg)
{
    int ms = (int)(intptr_t)arg;
    int ret = ringo_sleep(RINGO_MS(ms));
    if (ret < 0)
        return ret;
    printf("%s: slept %d ms\n", ringo_task_name(ringo_self()), ms);
    return 0;
}

static int forever(void *arg)
{
    (void)arg;
    int ret = ringo_sleep(RINGO_SEC(3600));
    printf("forever: woke with %d (cancelled)\n", ret);
    return ret;
}

static int main_task(void *arg)
{
    (void)arg;
    int64_t t0 = ringo_now();
    ringo_task *t[3], *f;
    static const int ms[3] = { 300, 100, 200 };
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "sleeper-%d", i);
        if (ringo_spawn_named(&t[i], name, say_after, (void *)(intptr_t)ms[i]) < 0)
            return -1;
    }
    if (ringo_spawn(&f, forever, NULL) < 0)
        return -1;
    for (int i = 0; i < 3; i++)
        ringo_await(t[i]);
    ringo_cancel(f);
    ringo_await(f);
    printf("all done in %lld ms\n", (long long)((ringo_now() - t0) / RINGO_MS(1)));
    return 0;
}

int main(void)
{
    return ringo_run(main_task, NULL) ? 1 : 0;
}
