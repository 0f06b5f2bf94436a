/*
 * tests/fuzz/fuzz_check.h - the one helper every fuzz target shares: a
 * property check that aborts (so libFuzzer records the input as a crash)
 * and says which property failed.  Unlike assert() it stays on in every
 * build type.
 */
#ifndef CAIRN_FUZZ_CHECK_H
#define CAIRN_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

#endif
