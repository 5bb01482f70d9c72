/*
 * Time the library alone on one partition CSV: parse, build and (with a key)
 * encrypt the image in memory, many times; print the best and median.
 *
 *   bench_image CSV SIZE [KEYFILE] [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    unsigned char *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
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

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_image CSV SIZE [KEYFILE] [RUNS]\n");
        return 2;
    }
    nvsf_error err = {0};
    uint32_t size;
    size_t csv_len, key_len = 0;
    unsigned char *csv = slurp(argv[1], &csv_len);
    unsigned char key[NVSF_XTS_KEY_SIZE];
    int have_key = argc > 3 && strcmp(argv[3], "-") != 0;
    int runs = argc > 4 ? atoi(argv[4]) : 50;
    if (!csv || nvsf_parse_size(argv[2], &size, &err)) {
        fprintf(stderr, "bench_image: cannot read %s or bad size: %s\n", argv[1],
                err.message);
        return 1;
    }
    if (have_key) {
        unsigned char *k = slurp(argv[3], &key_len);
        if (!k || nvsf_key_partition_read(k, key_len, key, &err)) {
            fprintf(stderr, "bench_image: bad key %s: %s\n", argv[3], err.message);
            return 1;
        }
        free(k);
    }
    uint8_t *image = malloc(size);
    double *t = calloc((size_t)runs, sizeof *t);
    for (int i = 0; i < runs; i++) {
        double t0 = now();
        nvsf_builder *b;
        nvsf_rows *rows;
        if (nvsf_builder_new(&b, size, 2, have_key ? key : NULL, &err) ||
            nvsf_rows_new(&rows, b, NULL, NULL, &err) ||
            nvsf_rows_add_csv(rows, argv[1], (const char *)csv, csv_len, &err) ||
            nvsf_builder_finish(b, image, &err)) {
            fprintf(stderr, "bench_image: %s\n", err.message);
            return 1;
        }
        nvsf_rows_free(rows);
        nvsf_builder_free(b);
        t[i] = now() - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    printf("%.3f %.3f\n", t[0] * 1e3, t[runs / 2] * 1e3);
    free(t);
    free(image);
    free(csv);
    return 0;
}
