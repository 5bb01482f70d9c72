/*
 * Partition-CSV rows as changes to an existing image (nvsforge set and
 * apply): the rows of the generator's CSV, with its encodings and `file`
 * values, plus two kinds of row of our own:
 *
 *   key,erase,,            erase the key from the current namespace
 *   ns,namespace,erase,    erase every item of the namespace (nvs_erase_all)
 *
 * The generator's Wi-Fi extras (sta.apinfo, ap.pmk_info...) are not added:
 * on a device the Wi-Fi driver writes those, not the one who sets a key.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "rows.h"
#include "value.h"

static int is_erase(const char *s)
{
    return s && strcmp(s, "erase") == 0;
}

/* The value of a data or file row, decoded and set. */
static int set_decoded(nvsf_edit *ed, const char *ns, const nvsf_row *row,
                       const nvsf_encoding *enc, const uint8_t *raw,
                       size_t len, nvsf_error *err)
{
    nvsf_buf v = {0};
    uint64_t bits = 0;
    int rc = nvsf_value_decode(enc, raw, len, &bits, &v, err);
    if (rc)
        rc = nvsf_error_prefix(err, "%s:%s", ns, row->key);
    else if (enc->kind == NVSF_ENC_INT)
        rc = nvsf_image_set_int(ed, ns, row->key, enc->int_type, bits, err);
    else if (enc->kind == NVSF_ENC_FLOAT)
        rc = nvsf_image_set_float(ed, ns, row->key, enc->int_type, bits, err);
    else if (enc->kind == NVSF_ENC_STRING)
        rc = nvsf_image_set_string(ed, ns, row->key, (const char *)raw, len,
                                   err);
    else
        rc = nvsf_image_set_blob(ed, ns, row->key, v.data, v.len, err);
    nvsf_buf_free(&v);
    return rc;
}

static int set_row(nvsf_edit *ed, const char *ns, const nvsf_row *row,
                   nvsf_file_reader reader, void *reader_ctx, nvsf_error *err)
{
    if (is_erase(row->type))
        return nvsf_image_erase(ed, ns, row->key, err);
    if (strcmp(row->type, "file") != 0 && strcmp(row->type, "data") != 0)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "%s:%s: unknown type '%s' (use data, file or erase)",
                         ns, row->key, row->type);
    nvsf_encoding enc;
    const uint8_t *raw;
    size_t len;
    uint8_t *file_data;
    int rc = nvsf_row_raw_value(row, reader, reader_ctx, &enc, &raw, &len,
                                &file_data, err);
    if (rc)
        return nvsf_error_prefix(err, "%s:%s", ns, row->key);
    rc = set_decoded(ed, ns, row, &enc, raw, len, err);
    if (file_data) {
        nvsf_wipe(file_data, len);
        free(file_data);
    }
    return rc;
}

int nvsf_image_set_row(nvsf_edit *ed, const char *source, const char *ns,
                       const nvsf_row *row, nvsf_file_reader reader,
                       void *reader_ctx, nvsf_error *err)
{
    nvsf_error local;
    if (!err)
        err = &local;
    int rc = set_row(ed, ns, row, reader, reader_ctx, err);
    if (!rc)
        return 0;
    if (row->line)
        return nvsf_error_prefix(err, "%s:%u", source, row->line);
    return nvsf_error_prefix(err, "%s", source);
}

/* The state of apply: the image and the namespace rows select. */
typedef struct apply_ctx {
    nvsf_edit *ed;
    char ns[NVSF_KEY_MAX_LEN + 1];
    nvsf_file_reader reader;
    void *reader_ctx;
} apply_ctx;

static int apply_row(void *ctx, const char *source, const nvsf_row *row,
                     nvsf_error *err)
{
    apply_ctx *a = ctx;
    if (strcmp(row->type, "namespace") == 0) {
        size_t n = strlen(row->key);
        if (n == 0 || n > NVSF_KEY_MAX_LEN)
            return nvsf_fail(err, NVSF_E_INPUT,
                             "%s:%u: namespace '%s' must be 1 to %u bytes",
                             source, row->line, row->key, NVSF_KEY_MAX_LEN);
        memcpy(a->ns, row->key, n + 1);
        int rc = is_erase(row->encoding)
                     ? nvsf_image_erase(a->ed, a->ns, NULL, err)
                     : 0;
        return rc ? nvsf_error_prefix(err, "%s:%u", source, row->line) : 0;
    }
    if (!a->ns[0])
        return nvsf_fail(err, NVSF_E_INPUT,
                         "%s:%u: key '%s' comes before any namespace row",
                         source, row->line, row->key);
    return nvsf_image_set_row(a->ed, source, a->ns, row, a->reader,
                              a->reader_ctx, err);
}

int nvsf_image_apply_csv(nvsf_edit *ed, const char *source, const char *csv,
                         size_t len, nvsf_file_reader reader, void *reader_ctx,
                         nvsf_error *err)
{
    apply_ctx a = {.ed = ed, .reader = reader, .reader_ctx = reader_ctx};
    return nvsf_partition_csv_rows(source, csv, len, apply_row, &a, err);
}
