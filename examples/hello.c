/* asyncio's first tutorial program, in C: prints Hello, waits a second,
 * prints World. */
#include <ringo.h>
#include <stdio.h>

static int hello(void *arg)
{
    (void)arg;
    puts("Hello");
    ringo_sleep(RINGO_SEC(1));
    puts("World");
    return 0;
}

int main(void)
{
    return ringo_run(hello, NULL) ? 1 : 0;
}
