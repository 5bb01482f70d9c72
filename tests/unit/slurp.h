/* Shared by the unit tests: a whole file into memory (cmocka included
 * first). */
#ifndef NVSF_TEST_SLURP_H
#define NVSF_TEST_SLURP_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The file's bytes, NUL-terminated beyond *len; NULL when it cannot be
 * opened. */
static inline uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    *len = 0;
    if (!f)
        return NULL;
    uint8_t *data = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            data = realloc(data, cap + 1);
            assert_non_null(data);
        }
        got = fread(data + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    data[n] = 0;
    *len = n;
    return data;
}

#endif
