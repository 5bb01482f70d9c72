/*
 * Time the library alone on one change to an existing image: open it for
 * change (which reads and checks it), set one key to a new value, close;
 * many times, each on a fresh copy; print the best and median.
 *
 *   bench_set IMAGE NS:KEY [KEYFILE] [RUNS]     (the key is set as a u32)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "nvsforge/nvsforge.h"

int main(int argc, char **argv)
{
    if (argc < 3 || !strchr(argv[2], ':')) {
        fprintf(stderr, "usage: bench_set IMAGE NS:KEY [KEYFILE] [RUNS]\n");
        return 2;
    }
    nvsf_error err = {0};
    size_t len;
    unsigned char *image = slurp(argv[1], &len);
    unsigned char key[NVSF_XTS_KEY_SIZE];
    int have_key = argc > 3 && strcmp(argv[3], "-") != 0;
    int runs = argc > 4 ? atoi(argv[4]) : 50;
    char ns[64];
    snprintf(ns, sizeof ns, "%.*s", (int)(strchr(argv[2], ':') - argv[2]),
             argv[2]);
    const char *k = strchr(argv[2], ':') + 1;
    if (!image || runs < 1) {
        fprintf(stderr, "bench_set: cannot read %s\n", argv[1]);
        return 1;
    }
    if (have_key && read_key_file("bench_set", argv[3], key))
        return 1;
    uint8_t *copy = malloc(len);
    double *t = calloc((size_t)runs, sizeof *t);
    if (!copy || !t)
        return 1;
    for (int i = 0; i < runs; i++) {
        memcpy(copy, image, len);
        double t0 = now();
        nvsf_edit *ed;
        if (nvsf_edit_open(&ed, copy, len, have_key ? key : NULL, &err) ||
            nvsf_image_set_int(ed, ns, k, NVSF_TYPE_U32, (uint64_t)i + 1, &err)) {
            fprintf(stderr, "bench_set: %s\n", err.message);
            return 1;
        }
        nvsf_edit_close(ed);
        t[i] = now() - t0;
    }
    print_best_median(t, runs);
    free(t);
    free(copy);
    free(image);
    return 0;
}
