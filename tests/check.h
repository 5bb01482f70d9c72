/*
 * CHECK for the plain-C test programs that also run as .exe under Wine
 * (there is no cmocka for mingw-w64 in Debian): count, report, go on.
 * main returns check_summary("what").
 */
#ifndef NVSF_TESTS_CHECK_H
#define NVSF_TESTS_CHECK_H

#include <stdio.h>

static int check_failures, check_count;

#define CHECK(cond)                                                          \
    do {                                                                     \
        check_count++;                                                       \
        if (!(cond)) {                                                       \
            check_failures++;                                                \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__,       \
                    __LINE__, __func__, #cond);                              \
        }                                                                    \
    } while (0)

static inline int check_summary(const char *what)
{
    printf("%s: %d checks, %d failed\n", what, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
