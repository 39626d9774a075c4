/* Shared by the tests of many loops: run n loops in which loop 0 runs the
 * test and every other loop serves until loop 0 is done (a loop whose main
 * returns starts closing, and calls that target it are refused). */
#ifndef RINGO_TEST_LOOPS_HELPERS_H
#define RINGO_TEST_LOOPS_HELPERS_H

#include <ringo.h>

#define MAX_TEST_LOOPS 8

/* ringo_run_loops(cfg, n, ...) where loop 0 runs fn(arg) and the others
 * wait until it returns; asserts that no descriptor leaked. Returns what
 * ringo_run_loops returned. */
int run_loops_clean(const ringo_config *cfg, unsigned n, ringo_fn fn, void *arg);

#endif
