/*
 * Time the library alone on reading an image as a device opens it
 * (nvsf_image_read: decryption, ESP-IDF's start-up, every item read, the
 * checks): what `nvsforge check` and `dump` do besides reading the file.
 * Prints the best and median of RUNS runs, in milliseconds.
 *
 *   bench_check IMAGE [KEYFILE|-] [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "nvsforge/nvsforge.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_check IMAGE [KEYFILE|-] [RUNS]\n");
        return 2;
    }
    nvsf_error err = {0};
    size_t len;
    unsigned char *image = slurp(argv[1], &len);
    unsigned char key[NVSF_XTS_KEY_SIZE];
    int have_key = argc > 2 && strcmp(argv[2], "-") != 0;
    int runs = argc > 3 ? atoi(argv[3]) : 50;
    if (!image || runs < 1) {
        fprintf(stderr, "bench_check: cannot read %s\n", argv[1]);
        return 1;
    }
    if (have_key && read_key_file("bench_check", argv[2], key))
        return 1;
    double *t = calloc((size_t)runs, sizeof *t);
    if (!t)
        return 1;
    size_t items = 0;
    for (int i = 0; i < runs; i++) {
        double t0 = now();
        nvsf_image *img;
        if (nvsf_image_read(image, len, have_key ? key : NULL, &img, &err)) {
            fprintf(stderr, "bench_check: %s\n", err.message);
            return 1;
        }
        items = img->item_count;
        nvsf_image_free(img);
        t[i] = now() - t0;
    }
    if (items == 0)
        fprintf(stderr, "bench_check: warning: no items read\n");
    print_best_median(t, runs);
    free(t);
    free(image);
    return 0;
}
