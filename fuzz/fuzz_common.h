/*
 * Shared by the libFuzzer harnesses in this folder: an assertion that is a
 * finding, the input splitting convention, a file reader over the input and
 * the invariants every finished image must satisfy.
 */
#ifndef NVSF_FUZZ_COMMON_H
#define NVSF_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "nvsforge/nvsforge.h"

/* A broken property: print where and why, then abort (libFuzzer saves the
 * input as crash-*). Active in every build, unlike assert(). */
#define FUZZ_CHECK(cond, ...)                                                 \
    do {                                                                      \
        if (!(cond))                                                          \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                \
    } while (0)

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt,
               ...) __attribute__((noreturn, format(printf, 4, 5)));

/* A failed call must say why: a known negative code, the same in err, and a
 * non-empty NUL-terminated message. */
void fuzz_check_error(int rc, const nvsf_error *err, const char *what);

/* A malloc'd copy of exactly len bytes (1 when len is 0, never
 * malloc(0)), so that ASan sees any read past the input. Aborts on no
 * memory. */
void *fuzz_dup(const void *data, size_t len);

/*
 * Input convention of the harnesses that take several parts: the parts are
 * separated by NUL bytes (a NUL can never be part of a valid CSV, so the
 * CSV parts lose nothing). fuzz_split returns up to max parts; the last one
 * runs to the end of the input, NULs included.
 */
typedef struct fuzz_part {
    const uint8_t *data;
    size_t len;
} fuzz_part;

size_t fuzz_split(const uint8_t *data, size_t size, fuzz_part *parts,
                  size_t max);

/*
 * The files `file` rows name, taken from the input: the file area is split
 * at NUL bytes into pieces, and a path picks the piece FNV-1a(path) modulo
 * their count. A path starting with "missing" fails with NVSF_E_IO, as does
 * any path when there is no file area.
 */
typedef struct fuzz_files {
    fuzz_part pieces[16];
    size_t count;
} fuzz_files;

void fuzz_files_init(fuzz_files *f, const uint8_t *data, size_t len,
                     int present);
int fuzz_file_reader(void *ctx, const char *path, uint8_t **data, size_t *len,
                     nvsf_error *err);

/* The partition size and format version the first byte selects:
 * bit 0 version (0: 2, 1: 1), bits 1-2 size (0x3000, 0x1000, 0x2000,
 * 0x5000), bit 3 encrypt with FUZZ_XTS_KEY. */
typedef struct fuzz_setup {
    uint32_t size;
    int version;
    int encrypt;
} fuzz_setup;

fuzz_setup fuzz_setup_from(uint8_t b);

/* A fixed XTS key (halves differ, as OpenSSL requires). */
extern const uint8_t FUZZ_XTS_KEY[NVSF_XTS_KEY_SIZE];

/*
 * Check a plain image the builder finished: `size` bytes of whole pages,
 * the first pages_used written (headers with valid CRC, this version byte,
 * sequence = index, full then one active), the rest erased; bitmaps
 * written from entry 0 on, unused entries erased; every item's header CRC,
 * span, size and data CRC right. Aborts on any violation.
 */
void fuzz_check_built_image(const uint8_t *image, uint32_t size, int version,
                            uint32_t pages_used);

#endif
