#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "platform.h"
#include "reader.h" /* nvsf_utf8_seq_len */

int run_record_add(run_record *r, const char *role, const char *path,
                   const char sha256[65], nvsf_error *err)
{
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        run_input *in = realloc(r->inputs, cap * sizeof *in);
        if (!in)
            return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
        r->inputs = in;
        r->cap = cap;
    }
    run_input *in = &r->inputs[r->count];
    if (!(in->path = strdup(path)))
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    in->role = role;
    memcpy(in->sha256, sha256, 65);
    r->count++;
    return 0;
}

void run_record_free(run_record *r)
{
    for (size_t i = 0; i < r->count; i++)
        free(r->inputs[i].path);
    free(r->inputs);
    memset(r, 0, sizeof *r);
}

void sha256_to_hex(const uint8_t md[32], char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* A JSON string: control characters escaped, UTF-8 kept, any byte that is
 * not UTF-8 as U+FFFD (paths and arguments are bytes on POSIX). */
static int put_string(nvsf_buf *b, const char *s)
{
    int rc = nvsf_buf_putc(b, '"');
    const uint8_t *p = (const uint8_t *)s;
    size_t n = strlen(s);
    for (size_t i = 0; !rc && i < n;) {
        char esc[8];
        size_t seq = p[i] < 0x80 ? 1 : nvsf_utf8_seq_len(p + i, n - i);
        if (p[i] == '"' || p[i] == '\\') {
            esc[0] = '\\';
            esc[1] = (char)p[i];
            rc = nvsf_buf_append(b, esc, 2);
        } else if (p[i] < 0x20 || p[i] == 0x7F) {
            snprintf(esc, sizeof esc, "\\u%04x", p[i]);
            rc = nvsf_buf_append(b, esc, 6);
        } else if (seq == 0) {
            rc = nvsf_buf_append(b, "\\ufffd", 6);
            seq = 1;
        } else {
            rc = nvsf_buf_append(b, p + i, seq);
        }
        i += seq ? seq : 1;
    }
    return rc ? rc : nvsf_buf_putc(b, '"');
}

static int put_text(nvsf_buf *b, const char *s)
{
    return nvsf_buf_append(b, s, strlen(s));
}

static int put_time(nvsf_buf *b, time_t t)
{
    struct tm tm;
    char text[32] = "";
    if (plat_utc_time(t, &tm) == 0)
        strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return put_string(b, text);
}

int run_record_json(const run_record *r, const run_summary *s, nvsf_buf *out)
{
    char num[64];
    int rc = put_text(out, "{\n  \"nvsforge_version\": ");
    rc = rc ? rc : put_string(out, NVSF_VERSION_STRING);
    rc = rc ? rc : put_text(out, ",\n  \"command_line\": [");
    for (size_t i = 0; !rc && i < s->command_line_len; i++) {
        rc = put_text(out, i ? ", " : "");
        rc = rc ? rc : put_string(out, s->command_line[i]);
    }
    rc = rc ? rc : put_text(out, "],\n  \"inputs\": [");
    /* By role, then in the order they were read. */
    static const char *const roles[] = {"config", "values", "inputkey",
                                        "kp_hmac_inputkey", "file"};
    size_t written = 0;
    for (size_t k = 0; k < sizeof roles / sizeof roles[0]; k++)
    for (size_t i = 0; !rc && i < r->count; i++) {
        if (strcmp(r->inputs[i].role, roles[k]) != 0)
            continue;
        rc = put_text(out, written++ ? ",\n    {\"role\": " : "\n    {\"role\": ");
        rc = rc ? rc : put_string(out, r->inputs[i].role);
        rc = rc ? rc : put_text(out, ", \"path\": ");
        rc = rc ? rc : put_string(out, r->inputs[i].path);
        rc = rc ? rc : put_text(out, ", \"sha256\": ");
        rc = rc ? rc : put_string(out, r->inputs[i].sha256);
        rc = rc ? rc : put_text(out, "}");
    }
    rc = rc ? rc : put_text(out, r->count ? "\n  ],\n  \"started_utc\": "
                                           : "],\n  \"started_utc\": ");
    rc = rc ? rc : put_time(out, r->started);
    rc = rc ? rc : put_text(out, ",\n  \"finished_utc\": ");
    rc = rc ? rc : put_time(out, s->finished);
    snprintf(num, sizeof num, ",\n  \"devices\": %zu", s->devices);
    rc = rc ? rc : put_text(out, num);
    snprintf(num, sizeof num, ",\n  \"devices_in_values_file\": %zu",
             s->devices_total);
    rc = rc ? rc : put_text(out, num);
    snprintf(num, sizeof num, ",\n  \"shard\": {\"k\": %lu, \"n\": %lu}",
             s->shard_k, s->shard_n);
    rc = rc ? rc : put_text(out, num);
    rc = rc ? rc : put_text(out, ",\n  \"manifest\": ");
    rc = rc ? rc : put_string(out, s->manifest);
    return rc ? rc : put_text(out, "\n}\n");
}
