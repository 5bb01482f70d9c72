/*
 * The manufacturing tool's config/values join (lib/mfg.h), driven as
 * `nvsforge mfg generate` drives it.
 *
 * Input: one setup byte (fuzz_setup_from for bits 0-3; bit 4: --fileid
 * names the header's last column; bit 5: --fileid names no column; bit 6:
 * read the values through the stream reader in small pieces), then the
 * config CSV, a NUL byte, the values CSV, and after another NUL the file
 * area (fuzz_file_reader). fuzz/make_seeds.sh joins a case's config.csv and
 * values.csv that way.
 *
 * As the batch does, the values are read twice (a checking pass and a
 * building pass), nvsf_mfg_set_header binding the header each time. For
 * each device line (at most 16): nvsf_mfg_device_from; the device CSV from
 * nvsf_mfg_write_device_csv reads back as the header plus one record per
 * row holding exactly the row's key, type, encoding and value; in the
 * building pass the image is built row by row with nvsf_rows_add (as the
 * batch does), checked with fuzz_check_built_image, and must be the very
 * image nvsf_rows_add_csv builds from the device CSV (the reference builds
 * from that CSV), or both must fail.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "csv.h"
#include "fuzz_common.h"
#include "mfg.h"

#define MAX_DEVICES 16

typedef struct pieces {
    const char *data;
    size_t size, pos, k;
} pieces;

static long feed(void *ctx, char *buf, size_t cap, nvsf_error *err)
{
    (void)err;
    pieces *p = ctx;
    size_t n = 1 + (p->size ? (uint8_t)p->data[p->k++ % p->size] % 5 : 0);
    if (n > p->size - p->pos)
        n = p->size - p->pos;
    if (n > cap)
        n = cap;
    memcpy(buf, p->data + p->pos, n);
    p->pos += n;
    return (long)n;
}

/* The device CSV reads back as what was written. */
static void check_device_csv(const nvsf_mfg *m, const nvsf_mfg_device *dev,
                             const nvsf_buf *csv)
{
    size_t nrows = nvsf_mfg_row_count(m);
    nvsf_csv_reader *r = nvsf_csv_reader_mem("dev.csv", csv->data, csv->len, 0);
    FUZZ_CHECK(r != NULL, "reader not created");
    nvsf_csv_record rec;
    nvsf_error err;
    int rc = nvsf_csv_next(r, &rec, &err);
    FUZZ_CHECK(rc == 1 && rec.nfields == 4 &&
                   strcmp(rec.fields[0].data, "key") == 0 &&
                   strcmp(rec.fields[3].data, "value") == 0,
               "device CSV header");
    for (size_t i = 0; i < nrows; i++) {
        const nvsf_row *row = &dev->rows[i];
        rc = nvsf_csv_next(r, &rec, &err);
        FUZZ_CHECK(rc == 1, "device CSV row %zu: %d (%s)", i, rc,
                   rc < 0 ? err.message : "missing");
        FUZZ_CHECK(rec.nfields == 4, "device CSV row %zu: %zu fields", i,
                   rec.nfields);
        const char *want[3] = {row->key, row->type, row->encoding};
        for (int f = 0; f < 3; f++)
            FUZZ_CHECK(strcmp(rec.fields[f].data, want[f]) == 0,
                       "device CSV row %zu field %d: '%s' for '%s'", i, f,
                       rec.fields[f].data, want[f]);
        FUZZ_CHECK(rec.fields[3].len == row->value_len &&
                       memcmp(rec.fields[3].data, row->value, row->value_len) == 0,
                   "device CSV row %zu: the value differs", i);
    }
    FUZZ_CHECK(nvsf_csv_next(r, &rec, &err) == 0, "device CSV: extra records");
    nvsf_csv_reader_free(r);
}

/* Build with rows (1) or from the CSV (0); returns rc, image filled. */
static int build(const fuzz_setup *s, fuzz_files *files, int by_rows,
                 const nvsf_mfg *m, const nvsf_mfg_device *dev,
                 const nvsf_buf *csv, uint8_t *image, uint32_t *used,
                 nvsf_error *err)
{
    nvsf_builder *b = NULL;
    nvsf_rows *rows = NULL;
    int rc = nvsf_builder_new(&b, s->size, s->version,
                              s->encrypt ? FUZZ_XTS_KEY : NULL, err);
    FUZZ_CHECK(rc == 0, "nvsf_builder_new: %s", err->message);
    rc = nvsf_rows_new(&rows, b, fuzz_file_reader, files, err);
    FUZZ_CHECK(rc == 0, "nvsf_rows_new: %s", err->message);
    if (by_rows) {
        for (size_t i = 0; !rc && i < nvsf_mfg_row_count(m); i++)
            rc = nvsf_rows_add(rows, "values.csv", &dev->rows[i], err);
    } else {
        rc = nvsf_rows_add_csv(rows, "dev.csv", csv->data, csv->len, err);
    }
    if (rc) {
        fuzz_check_error(rc, err, by_rows ? "nvsf_rows_add" : "nvsf_rows_add_csv");
    } else {
        *used = nvsf_builder_pages_used(b);
        rc = nvsf_builder_finish(b, image, err);
        FUZZ_CHECK(rc == 0, "nvsf_builder_finish: %s", err->message);
    }
    nvsf_rows_free(rows);
    nvsf_builder_free(b);
    return rc;
}

static void build_device(const fuzz_setup *s, fuzz_files *files,
                         const nvsf_mfg *m, const nvsf_mfg_device *dev,
                         const nvsf_buf *csv)
{
    uint8_t *image = malloc(s->size), *again = malloc(s->size);
    if (!image || !again)
        abort();
    nvsf_error err, err2;
    uint32_t used = 0, used2 = 0;
    int rc = build(s, files, 1, m, dev, csv, image, &used, &err);
    if (rc == 0) {
        if (s->encrypt)
            FUZZ_CHECK(nvsf_image_decrypt(image, s->size, FUZZ_XTS_KEY, &err) == 0,
                       "nvsf_image_decrypt: %s", err.message);
        fuzz_check_built_image(image, s->size, s->version, used);
        if (s->encrypt)
            FUZZ_CHECK(nvsf_image_encrypt(image, s->size, FUZZ_XTS_KEY, &err) == 0,
                       "nvsf_image_encrypt: %s", err.message);
    }
    /* A row whose key starts with '#' is a comment line in the device CSV:
     * the reference generator skips it there, so the two may differ. */
    for (size_t i = 0; i < nvsf_mfg_row_count(m); i++)
        if (dev->rows[i].key[0] == '#')
            goto out;
    int rc2 = build(s, files, 0, m, dev, csv, again, &used2, &err2);
    FUZZ_CHECK(rc == rc2, "rows give %d (%s), the device CSV %d (%s)", rc,
               rc ? err.message : "ok", rc2, rc2 ? err2.message : "ok");
    if (rc == 0)
        FUZZ_CHECK(used == used2 && memcmp(image, again, s->size) == 0,
                   "the device CSV builds another image than its rows");
out:
    free(image);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_setup s = fuzz_setup_from(data[0]);
    int use_fileid = (data[0] >> 4) & 1, bad_fileid = (data[0] >> 5) & 1;
    int stream = (data[0] >> 6) & 1, null_err = (data[0] >> 7) & 1;
    fuzz_part parts[3];
    size_t n = fuzz_split(data + 1, size - 1, parts, 3);
    if (n < 2)
        return 0;
    fuzz_files files;
    fuzz_files_init(&files, parts[2].data, parts[2].len, n > 2);
    char *config = fuzz_dup(parts[0].data, parts[0].len);
    char *values = fuzz_dup(parts[1].data, parts[1].len);

    nvsf_error err;
    nvsf_mfg *m = NULL;
    int rc = nvsf_mfg_new(&m, "config.csv", config, parts[0].len, &err);
    if (rc) {
        fuzz_check_error(rc, &err, "nvsf_mfg_new");
        FUZZ_CHECK(m == NULL, "nvsf_mfg_new failed but gave an object");
        goto done;
    }
    FUZZ_CHECK(nvsf_mfg_row_count(m) >= 1, "a config without rows");
    (void)nvsf_mfg_has_repeat(m);

    for (int pass = 0; pass < 2; pass++) {
        pieces pc = {values, parts[1].len, 0, 0};
        nvsf_csv_reader *r =
            stream ? nvsf_csv_reader_stream("values.csv", feed, &pc,
                                            NVSF_CSV_SKIP_BLANK)
                   : nvsf_csv_reader_mem("values.csv", values, parts[1].len,
                                         NVSF_CSV_SKIP_BLANK);
        FUZZ_CHECK(r != NULL, "reader not created");
        nvsf_csv_record header;
        rc = nvsf_csv_next(r, &header, &err);
        if (rc <= 0) {
            if (rc < 0)
                fuzz_check_error(rc, &err, "nvsf_csv_next");
            nvsf_csv_reader_free(r);
            break;
        }
        /* The header's fields stay valid until the next read: copy the
         * --fileid name, as the command line has its own. */
        char fileid[64] = "no such column";
        if (use_fileid && header.nfields > 0) {
            const nvsf_csv_field *f = &header.fields[header.nfields - 1];
            size_t l = f->len < sizeof fileid - 1 ? f->len : sizeof fileid - 1;
            memcpy(fileid, f->data, l);
            fileid[l] = '\0';
        }
        rc = nvsf_mfg_set_header(m, "values.csv", &header,
                                 use_fileid || bad_fileid ? fileid : NULL,
                                 &err);
        if (rc) {
            fuzz_check_error(rc, &err, "nvsf_mfg_set_header");
            nvsf_csv_reader_free(r);
            break;
        }
        size_t ncols = header.nfields;
        nvsf_csv_record rec;
        for (int d = 0; d < MAX_DEVICES && rc == 0; d++) {
            rc = nvsf_csv_next(r, &rec, &err);
            if (rc <= 0) {
                if (rc < 0)
                    fuzz_check_error(rc, &err, "nvsf_csv_next");
                break;
            }
            nvsf_mfg_device dev;
            rc = nvsf_mfg_device_from(m, &rec, &dev, null_err ? NULL : &err);
            if (rc) {
                if (null_err)
                    FUZZ_CHECK(rc < 0 && rc != NVSF_E_USAGE,
                               "nvsf_mfg_device_from without err: %d", rc);
                else
                    fuzz_check_error(rc, &err, "nvsf_mfg_device_from");
                break;
            }
            FUZZ_CHECK(dev.ncreated == ncols, "%zu created values for %zu "
                       "columns", dev.ncreated, ncols);
            for (size_t c = 0; c < dev.ncreated; c++)
                FUZZ_CHECK(dev.created[c] != NULL &&
                               strlen(dev.created[c]) == dev.created_len[c],
                           "created value %zu", c);
            if (use_fileid)
                FUZZ_CHECK(dev.id && nvsf_mfg_check_id(dev.id, NULL) == 0,
                           "device id");
            nvsf_buf csv = {0};
            FUZZ_CHECK(nvsf_mfg_write_device_csv(m, &dev, &csv) == 0,
                       "nvsf_mfg_write_device_csv");
            check_device_csv(m, &dev, &csv);
            if (pass == 1)
                build_device(&s, &files, m, &dev, &csv);
            nvsf_buf_free(&csv);
        }
        nvsf_csv_reader_free(r);
        if (rc < 0)
            break;
    }
done:
    nvsf_mfg_free(m);
    free(config);
    free(values);
    return 0;
}
