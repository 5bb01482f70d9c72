/*
 * Whole partition CSVs through nvsf_rows_add_csv into a builder, as
 * `nvsforge generate` does.
 *
 * Input: one byte of setup (fuzz_setup_from: version, size 0x1000-0x5000,
 * encryption), then the CSV up to the first NUL byte; what follows is the
 * file area `file` rows read from (fuzz_file_reader). A failure must come
 * with a proper error; a success is finished, decrypted when encrypted, and
 * checked with fuzz_check_built_image (page headers and their CRC, states,
 * bitmaps, every entry's CRC, span and data CRC, blob indexes). With bit 4
 * of the setup byte the CSV is also added with a NULL nvsf_error (allowed by
 * nvsforge.h): the return code must be the same.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_setup s = fuzz_setup_from(data[0]);
    fuzz_part parts[2];
    size_t n = fuzz_split(data + 1, size - 1, parts, 2);
    fuzz_files files;
    fuzz_files_init(&files, parts[1].data, parts[1].len, n > 1);

    /* The CSV in a buffer of its exact size: reads past it are caught. */
    char *csv = fuzz_dup(parts[0].data, parts[0].len);

    nvsf_error err;
    nvsf_builder *b = NULL;
    nvsf_rows *rows = NULL;
    int rc = nvsf_builder_new(&b, s.size, s.version,
                              s.encrypt ? FUZZ_XTS_KEY : NULL, &err);
    FUZZ_CHECK(rc == 0, "nvsf_builder_new: %s", err.message);
    rc = nvsf_rows_new(&rows, b, fuzz_file_reader, &files, &err);
    FUZZ_CHECK(rc == 0, "nvsf_rows_new: %s", err.message);

    rc = nvsf_rows_add_csv(rows, "in.csv", csv, parts[0].len, &err);
    if (rc) {
        fuzz_check_error(rc, &err, "nvsf_rows_add_csv");
        FUZZ_CHECK(strncmp(err.message, "in.csv", 6) == 0,
                   "the message does not name the file: %s", err.message);
    } else {
        uint8_t *image = malloc(s.size);
        if (!image)
            abort();
        uint32_t used = nvsf_builder_pages_used(b);
        rc = nvsf_builder_finish(b, image, &err);
        FUZZ_CHECK(rc == 0, "nvsf_builder_finish: %s", err.message);
        FUZZ_CHECK(nvsf_builder_finish(b, image, &err) == NVSF_E_USAGE,
                   "finished twice");
        if (s.encrypt) {
            rc = nvsf_image_decrypt(image, s.size, FUZZ_XTS_KEY, &err);
            FUZZ_CHECK(rc == 0, "nvsf_image_decrypt: %s", err.message);
        }
        fuzz_check_built_image(image, s.size, s.version, used);
        free(image);
    }
    nvsf_rows_free(rows);
    nvsf_builder_free(b);

    if (data[0] & 0x10) {
        int rc_null = nvsf_builder_new(&b, s.size, s.version,
                                       s.encrypt ? FUZZ_XTS_KEY : NULL, NULL);
        FUZZ_CHECK(rc_null == 0, "nvsf_builder_new without err");
        FUZZ_CHECK(nvsf_rows_new(&rows, b, fuzz_file_reader, &files, NULL) == 0,
                   "nvsf_rows_new without err");
        rc_null = nvsf_rows_add_csv(rows, "in.csv", csv, parts[0].len, NULL);
        FUZZ_CHECK(rc_null == rc, "without an nvsf_error: %d, with one: %d",
                   rc_null, rc);
        nvsf_rows_free(rows);
        nvsf_builder_free(b);
    }
    free(csv);
    return 0;
}
