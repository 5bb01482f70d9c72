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

#include "bench_util.h"
#include "nvsforge/nvsforge.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_image CSV SIZE [KEYFILE] [RUNS]\n");
        return 2;
    }
    nvsf_error err = {0};
    uint32_t size;
    size_t csv_len;
    unsigned char *csv = slurp(argv[1], &csv_len);
    unsigned char key[NVSF_XTS_KEY_SIZE];
    int have_key = argc > 3 && strcmp(argv[3], "-") != 0;
    int runs = argc > 4 ? atoi(argv[4]) : 50;
    if (!csv || nvsf_parse_size(argv[2], &size, &err)) {
        fprintf(stderr, "bench_image: cannot read %s or bad size: %s\n", argv[1],
                err.message);
        return 1;
    }
    if (have_key && read_key_file("bench_image", argv[3], key))
        return 1;
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
    print_best_median(t, runs);
    free(t);
    free(image);
    free(csv);
    return 0;
}
