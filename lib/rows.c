/*
 * Partition-generator rows (key,type,encoding,value) onto an image builder,
 * with the reference generator's rules for types, encodings and `file`
 * values, and its Wi-Fi extras:
 *
 *   - the first time `sta.ssid` or `sta.pswd` is written, the blobs
 *     `sta.apinfo` (140 x 0xFF), `sta.pmk` (32 x 0) and `sta.apsw` (2 x 0)
 *     follow it in the same namespace;
 *   - `ap.ssid`, `ap.passwd` and `ap.authmode` are remembered as they come
 *     (authmode 0 counts as unknown); when one arrives and all three are
 *     known, the blob `ap.pmk_info` (100 x 0, then
 *     PBKDF2-HMAC-SHA1(passwd, ssid, 4096, 32)) is written just before it.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "csv.h"
#include "error.h"
#include "rows.h"
#include "value.h"

struct nvsf_rows {
    nvsf_builder *b;
    nvsf_file_reader reader;
    void *reader_ctx;
    int sta_extras_done;
    nvsf_buf ap_ssid, ap_passwd;
    int have_ap_authmode;
    nvsf_buf value; /* the decoded value of the current row */
};

int nvsf_rows_new(nvsf_rows **out, nvsf_builder *b, nvsf_file_reader reader,
                  void *reader_ctx, nvsf_error *err)
{
    nvsf_rows *r = calloc(1, sizeof *r);
    if (!r)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    r->b = b;
    r->reader = reader;
    r->reader_ctx = reader_ctx;
    *out = r;
    return 0;
}

void nvsf_rows_free(nvsf_rows *r)
{
    if (!r)
        return;
    nvsf_buf_free(&r->ap_ssid);
    nvsf_buf_free(&r->ap_passwd);
    nvsf_buf_free(&r->value);
    free(r);
}

/* ---- Wi-Fi extras ----------------------------------------------------- */

static int add_filled_blob(nvsf_rows *r, const char *key, uint8_t byte,
                           size_t len, nvsf_error *err)
{
    uint8_t data[140];
    memset(data, byte, len);
    return nvsf_builder_add_blob(r->b, key, data, len, err);
}

static int wifi_sta_extras(nvsf_rows *r, const char *key, nvsf_error *err)
{
    if (r->sta_extras_done ||
        (strcmp(key, "sta.ssid") != 0 && strcmp(key, "sta.pswd") != 0))
        return 0;
    r->sta_extras_done = 1;
    int rc = add_filled_blob(r, "sta.apinfo", 0xFF, 140, err);
    if (!rc)
        rc = add_filled_blob(r, "sta.pmk", 0x00, 32, err);
    if (!rc)
        rc = add_filled_blob(r, "sta.apsw", 0x00, 2, err);
    return rc;
}

/*
 * Remember the ap.* values as the reference does: by their text, a value
 * counting once it is not empty, and an authmode of "0" leaving the one
 * before it. Whenever an ap.* key arrives and all three count, ap.pmk_info
 * is written just before it.
 */
static int wifi_ap_pmk(nvsf_rows *r, const char *key, const uint8_t *raw,
                       size_t raw_len, nvsf_error *err)
{
    int rc = 0;
    if (strcmp(key, "ap.ssid") == 0) {
        nvsf_buf_clear(&r->ap_ssid);
        rc = nvsf_buf_append(&r->ap_ssid, raw, raw_len);
    } else if (strcmp(key, "ap.passwd") == 0) {
        nvsf_buf_clear(&r->ap_passwd);
        rc = nvsf_buf_append(&r->ap_passwd, raw, raw_len);
    } else if (strcmp(key, "ap.authmode") == 0) {
        if (!(raw_len == 1 && raw[0] == '0'))
            r->have_ap_authmode = raw_len > 0;
    } else {
        return 0;
    }
    if (rc)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    if (!r->ap_ssid.len || !r->ap_passwd.len || !r->have_ap_authmode)
        return 0;
    uint8_t info[132];
    memset(info, 0, 100);
    rc = nvsf_pbkdf2_hmac_sha1(r->ap_passwd.data, r->ap_passwd.len,
                               r->ap_ssid.data, r->ap_ssid.len, 4096, info + 100,
                               32, err);
    if (rc != NVSF_OK) {
        nvsf_error_prefix(err, "ap.pmk_info");
        return rc;
    }
    rc = nvsf_builder_add_blob(r->b, "ap.pmk_info", info, sizeof info, err);
    nvsf_wipe(info, sizeof info);
    if (rc == NVSF_E_INPUT) /* no row names ap.pmk_info: say where it comes from */
        nvsf_error_prefix(err,
                          "key '%s': cannot write ap.pmk_info, which follows "
                          "it as ESP-IDF's generator writes it whenever "
                          "ap.ssid, ap.passwd or ap.authmode comes and all "
                          "three are known (set each of them once, in one "
                          "namespace)",
                          key);
    return rc;
}

/* ---- rows --------------------------------------------------------------- */

/*
 * Decode the raw bytes of a row and store the value. Decoding errors are
 * prefixed with the key here; the builder's own messages name it already.
 */
static int store_value(nvsf_rows *r, const char *key, const nvsf_encoding *enc,
                       const uint8_t *raw, size_t len, nvsf_error *err)
{
    nvsf_buf *v = &r->value;
    uint64_t bits = 0;
    int rc = nvsf_value_decode(enc, raw, len, &bits, v, err);
    if (rc)
        return nvsf_error_prefix(err, "key '%s'", key);
    switch (enc->kind) {
    case NVSF_ENC_INT:
        if (nvsf_int_type_is_signed(enc->int_type))
            return nvsf_builder_add_int(r->b, key, enc->int_type, (int64_t)bits,
                                        err);
        return nvsf_builder_add_uint(r->b, key, enc->int_type, bits, err);
    case NVSF_ENC_FLOAT:
        return nvsf_builder_add_float(r->b, key, enc->int_type, bits, err);
    case NVSF_ENC_STRING:
        return nvsf_builder_add_string(r->b, key, (const char *)raw, len, err);
    default:
        return nvsf_builder_add_blob(r->b, key, v->data, v->len, err);
    }
}

int nvsf_rows_add_value(nvsf_rows *r, const char *key, const char *encoding,
                        const void *value, size_t len, nvsf_error *err)
{
    nvsf_encoding enc;
    int rc = nvsf_encoding_parse(encoding, &enc, err);
    if (rc)
        return nvsf_error_prefix(err, "key '%s'", key);
    return store_value(r, key, &enc, value, len, err);
}

int nvsf_row_raw_value(const nvsf_row *row, nvsf_file_reader reader,
                       void *reader_ctx, nvsf_encoding *enc,
                       const uint8_t **raw, size_t *len, uint8_t **file_data,
                       nvsf_error *err)
{
    int is_file = strcmp(row->type, "file") == 0;
    *file_data = NULL;
    int rc = nvsf_encoding_parse(row->encoding, enc, err);
    if (!rc && !row->value)
        rc = nvsf_fail(err, NVSF_E_INPUT, "the row has no value");
    if (!rc && is_file && row->value_len == 0)
        rc = nvsf_fail(err, NVSF_E_INPUT,
                       "a 'file' row needs a file name in its value");
    if (!rc && is_file && !reader)
        rc = nvsf_fail(err, NVSF_E_USAGE, "no file reader for 'file' rows");
    if (rc)
        return rc;
    *raw = (const uint8_t *)row->value;
    *len = row->value_len;
    if (is_file) {
        if ((rc = reader(reader_ctx, row->value, file_data, len, err)))
            return rc;
        *raw = *file_data;
    }
    return 0;
}

static int add_item(nvsf_rows *r, const nvsf_row *row, nvsf_error *err)
{
    nvsf_encoding enc;
    const uint8_t *raw;
    size_t len;
    uint8_t *file_data;
    int rc = nvsf_row_raw_value(row, r->reader, r->reader_ctx, &enc, &raw, &len,
                                &file_data, err);
    if (rc)
        return nvsf_error_prefix(err, "key '%s'", row->key);
    rc = wifi_ap_pmk(r, row->key, raw, len, err);
    if (!rc)
        rc = store_value(r, row->key, &enc, raw, len, err);
    if (!rc)
        rc = wifi_sta_extras(r, row->key, err);
    if (file_data) {
        nvsf_wipe(file_data, len);
        free(file_data);
    }
    return rc;
}

int nvsf_rows_add(nvsf_rows *r, const char *source, const nvsf_row *in,
                  nvsf_error *err)
{
    /* The prefixes added on the way out keep the code in err: a caller's
     * NULL must not turn every error into NVSF_E_USAGE. */
    nvsf_error local;
    if (!err)
        err = &local;
    nvsf_row row = *in;
    if (!row.key)
        row.key = "";
    if (!row.type)
        row.type = "";
    const char *key = row.key, *type = row.type;
    int rc;
    if (strcmp(type, "namespace") == 0)
        rc = nvsf_builder_namespace(r->b, key, err);
    else if (strcmp(type, "data") == 0 || strcmp(type, "file") == 0)
        rc = add_item(r, &row, err);
    else
        rc = nvsf_fail(err, NVSF_E_INPUT,
                       "key '%s': unknown type '%s' (use namespace, data or "
                       "file)",
                       key, type);
    if (!rc)
        return 0;
    if (row.line)
        return nvsf_error_prefix(err, "%s:%u", source, row.line);
    return nvsf_error_prefix(err, "%s", source);
}

/* The column of each of key,type,encoding,value in the header. A name
 * given twice is refused: which column is meant is anyone's guess (the
 * reference takes the last one silently). */
static int find_columns(const char *source, const nvsf_csv_record *rec,
                        int col[4], nvsf_error *err)
{
    static const char *const names[4] = {"key", "type", "encoding", "value"};
    for (int i = 0; i < 4; i++) {
        col[i] = -1;
        for (size_t f = 0; f < rec->nfields; f++) {
            if (strcmp(rec->fields[f].data, names[i]) != 0)
                continue;
            if (col[i] >= 0)
                return nvsf_fail(err, NVSF_E_INPUT,
                                 "%s:%u: the header names the column '%s' "
                                 "twice (columns %d and %zu): name each "
                                 "column once",
                                 source, rec->line, names[i], col[i] + 1,
                                 f + 1);
            col[i] = (int)f;
        }
    }
    if (col[0] < 0 || col[1] < 0 || col[2] < 0 || col[3] < 0)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "%s:%u: the header line must name the columns "
                         "key,type,encoding,value",
                         source, rec->line);
    return 0;
}

/* Problems after which the rows that follow cannot be judged. */
static int stops_the_pass(int code)
{
    return code == NVSF_E_FULL || code == NVSF_E_NOMEM;
}

/* Every row of a partition CSV to fn. With errs, a bad row is recorded and
 * the next one taken; without, the first problem ends it. */
static int csv_rows(const char *source, const char *csv, size_t len,
                    nvsf_row_fn fn, void *ctx, nvsf_errors *errs,
                    nvsf_error *err)
{
    nvsf_csv_reader *rd = nvsf_csv_reader_mem(
        source, csv, len, NVSF_CSV_HASH_COMMENTS | NVSF_CSV_SKIP_BLANK);
    if (!rd)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    nvsf_csv_record rec;
    int col[4] = {-1, -1, -1, -1};
    int first = 0; /* the first problem's code */
    int rc = nvsf_csv_next(rd, &rec, err);
    if (rc == 0)
        rc = nvsf_fail(err, NVSF_E_INPUT,
                       "%s: empty file; expected the header line "
                       "key,type,encoding,value",
                       source);
    else if (rc > 0)
        rc = find_columns(source, &rec, col, err) ? NVSF_E_INPUT : 1;
    while (rc > 0 && (rc = nvsf_csv_next(rd, &rec, err)) > 0) {
        const char *cell[4];
        size_t cell_len[4];
        for (int i = 0; i < 4; i++) {
            int present = (size_t)col[i] < rec.nfields;
            cell[i] = present ? rec.fields[col[i]].data : NULL;
            cell_len[i] = present ? rec.fields[col[i]].len : 0;
        }
        if (cell[0] && strlen(cell[0]) != cell_len[0]) {
            rc = nvsf_fail(err, NVSF_E_INPUT, "%s:%u: key holds a NUL byte",
                           source, rec.line);
        } else {
            nvsf_row row = {.key = cell[0] ? cell[0] : "",
                            .type = cell[1] ? cell[1] : "",
                            .encoding = cell[2],
                            .value = cell[3],
                            .value_len = cell_len[3],
                            .line = rec.line};
            rc = fn(ctx, source, &row, err);
        }
        if (rc == 0) {
            rc = 1;
            continue;
        }
        if (!errs)
            break;
        if (nvsf_errors_add(errs, err))
            rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
        if (!first)
            first = rc;
        if (stops_the_pass(rc))
            break;
        rc = 1;
    }
    nvsf_csv_reader_free(rd);
    if (rc < 0 && errs && !stops_the_pass(rc) && nvsf_errors_add(errs, err))
        rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    if (first && rc != NVSF_E_NOMEM)
        return nvsf_fail(err, first, "%s", errs->messages[0]);
    return rc < 0 ? rc : 0;
}

int nvsf_partition_csv_rows(const char *source, const char *csv, size_t len,
                            nvsf_row_fn fn, void *ctx, nvsf_error *err)
{
    return csv_rows(source, csv, len, fn, ctx, NULL, err);
}

static int add_row(void *ctx, const char *source, const nvsf_row *row,
                   nvsf_error *err)
{
    return nvsf_rows_add(ctx, source, row, err);
}

int nvsf_rows_add_csv(nvsf_rows *r, const char *source, const char *csv,
                      size_t len, nvsf_error *err)
{
    return csv_rows(source, csv, len, add_row, r, NULL, err);
}

int nvsf_rows_add_csv_all(nvsf_rows *r, const char *source, const char *csv,
                          size_t len, nvsf_errors *errs, nvsf_error *err)
{
    return csv_rows(source, csv, len, add_row, r, errs, err);
}
