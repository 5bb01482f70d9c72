/* What the library benchmarks share: reading a file and a key file, a
 * monotonic clock, and printing the best and median of the runs' times. */
#ifndef NVSF_BENCH_UTIL_H
#define NVSF_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nvsforge/nvsforge.h"

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = n >= 0 ? (size_t)n : 0;
    return p;
}

/* The XTS key of a key partition file into key; 0, or 1 after saying why. */
static int read_key_file(const char *prog, const char *path,
                         unsigned char key[NVSF_XTS_KEY_SIZE])
{
    nvsf_error err = {0};
    size_t len;
    unsigned char *kf = slurp(path, &len);
    int bad = !kf || nvsf_key_partition_read(kf, len, key, &err);
    if (bad)
        fprintf(stderr, "%s: bad key %s: %s\n", prog, path, err.message);
    free(kf);
    return bad;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* "best median" in milliseconds, of `runs` times in seconds (sorted). */
static void print_best_median(double *t, int runs)
{
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    printf("%.3f %.3f\n", t[0] * 1e3, t[runs / 2] * 1e3);
}

#endif
