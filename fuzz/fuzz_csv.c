/*
 * The CSV reader and writer (lib/csv.c).
 *
 * The input is CSV text. For each of the four flag combinations it is read
 * by the in-memory reader and by the stream reader fed in pieces whose
 * sizes come from the input's own bytes (1-4 bytes, 1-256 bytes); both must
 * give the same records (fields, lengths, lines) and end the same way (same
 * code and message). A third stream read fails its callback half way: it
 * must stop with that error after a prefix of the same records, and keep
 * failing. Every field is NUL-terminated, valid UTF-8 and NUL-free; with
 * NVSF_CSV_SKIP_BLANK no record is empty.
 *
 * Writer round trip: the input split into records at 0x1E and fields at
 * 0x1F (when it is UTF-8 without NUL) is written with
 * nvsf_csv_write_record and read back (memory and stream) with the same
 * flags, 0 and NVSF_CSV_HASH_COMMENTS: the same records, except that line
 * breaks inside fields come back as "\n" (the reader's universal newlines,
 * csv.h).
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "csv.h"
#include "fuzz_common.h"
#include "value.h"

/* All records a reader gives, serialised, with how it ended. */
typedef struct outcome {
    nvsf_buf recs;
    size_t count;
    int rc;
    nvsf_error err;
} outcome;

static void put_size(nvsf_buf *b, size_t v)
{
    if (nvsf_buf_append(b, &v, sizeof v))
        abort();
}

static void record_add(outcome *o, const nvsf_csv_record *rec, unsigned flags)
{
    if (flags & NVSF_CSV_SKIP_BLANK)
        FUZZ_CHECK(rec->nfields > 0, "an empty record with SKIP_BLANK");
    put_size(&o->recs, rec->line);
    put_size(&o->recs, rec->nfields);
    for (size_t i = 0; i < rec->nfields; i++) {
        const nvsf_csv_field *f = &rec->fields[i];
        FUZZ_CHECK(f->data[f->len] == '\0', "field %zu not NUL-terminated", i);
        FUZZ_CHECK(memchr(f->data, '\0', f->len) == NULL,
                   "field %zu holds a NUL byte", i);
        FUZZ_CHECK(nvsf_utf8_valid((const uint8_t *)f->data, f->len),
                   "field %zu is not valid UTF-8", i);
        put_size(&o->recs, f->len);
        if (nvsf_buf_append(&o->recs, f->data, f->len))
            abort();
    }
    o->count++;
}

static void read_all(nvsf_csv_reader *r, unsigned flags, outcome *o)
{
    FUZZ_CHECK(r != NULL, "reader not created");
    memset(&o->err, 0, sizeof o->err);
    nvsf_csv_record rec;
    int rc;
    while ((rc = nvsf_csv_next(r, &rec, &o->err)) == 1)
        record_add(o, &rec, flags);
    o->rc = rc;
    if (rc < 0) {
        fuzz_check_error(rc, &o->err, "nvsf_csv_next");
        nvsf_error again;
        int rc2 = nvsf_csv_next(r, &rec, &again);
        FUZZ_CHECK(rc2 == rc, "after an error the reader gave %d, not %d", rc2,
                   rc);
    } else {
        /* At the end it stays at the end. */
        FUZZ_CHECK(nvsf_csv_next(r, &rec, &o->err) == 0,
                   "a record after the end");
    }
    nvsf_csv_reader_free(r);
}

/* A stream over the input, in pieces whose sizes the input gives. */
typedef struct feeder {
    const uint8_t *data;
    size_t size, pos;
    size_t k;          /* next byte that gives a piece size */
    unsigned mask;     /* piece = 1 + (byte & mask) */
    size_t fail_at;    /* return NVSF_E_IO once pos reaches it; SIZE_MAX no */
} feeder;

static long feed(void *ctx, char *buf, size_t cap, nvsf_error *err)
{
    feeder *f = ctx;
    FUZZ_CHECK(cap > 0, "read callback asked for 0 bytes");
    if (f->pos >= f->fail_at) {
        err->code = NVSF_E_IO;
        strcpy(err->message, "fuzz: injected read error");
        return NVSF_E_IO;
    }
    size_t piece = 1 + (f->size ? (f->data[f->k++ % f->size] & f->mask) : 0);
    size_t left = f->size - f->pos;
    if (piece > left)
        piece = left;
    if (piece > cap)
        piece = cap;
    if (f->fail_at != (size_t)-1 && f->pos + piece > f->fail_at)
        piece = f->fail_at - f->pos;
    memcpy(buf, f->data + f->pos, piece);
    f->pos += piece;
    return (long)piece;
}

static void outcome_free(outcome *o)
{
    nvsf_buf_free(&o->recs);
}

static void same_outcome(const outcome *a, const outcome *b, const char *what)
{
    FUZZ_CHECK(a->count == b->count && a->recs.len == b->recs.len &&
                   (a->recs.len == 0 ||
                    memcmp(a->recs.data, b->recs.data, a->recs.len) == 0),
               "%s: records differ (%zu vs %zu records)", what, a->count,
               b->count);
    FUZZ_CHECK(a->rc == b->rc, "%s: ended with %d vs %d", what, a->rc, b->rc);
    if (a->rc < 0)
        FUZZ_CHECK(strcmp(a->err.message, b->err.message) == 0,
                   "%s: messages differ:\n  %s\n  %s", what, a->err.message,
                   b->err.message);
}

static void check_reading(const uint8_t *data, size_t size, unsigned flags)
{
    outcome mem = {0};
    read_all(nvsf_csv_reader_mem("in.csv", (const char *)data, size, flags),
             flags, &mem);

    static const unsigned masks[2] = {3, 255};
    for (int m = 0; m < 2; m++) {
        feeder f = {data, size, 0, (size_t)m, masks[m], (size_t)-1};
        outcome st = {0};
        read_all(nvsf_csv_reader_stream("in.csv", feed, &f, flags), flags,
                 &st);
        same_outcome(&mem, &st, m ? "stream (1-256 byte pieces)"
                                  : "stream (1-4 byte pieces)");
        outcome_free(&st);
    }

    /* A failing stream: a prefix of the records, then the read error (or
     * the input's own error if it comes first). */
    feeder f = {data, size, 0, 0, 7, size / 2};
    outcome st = {0};
    read_all(nvsf_csv_reader_stream("in.csv", feed, &f, flags), flags, &st);
    FUZZ_CHECK(st.count <= mem.count && st.recs.len <= mem.recs.len &&
                   (st.recs.len == 0 ||
                    memcmp(st.recs.data, mem.recs.data, st.recs.len) == 0),
               "failing stream: its records are not a prefix of the others");
    if (st.rc == NVSF_E_IO)
        FUZZ_CHECK(strstr(st.err.message, "injected") != NULL,
                   "failing stream: message '%s'", st.err.message);
    else
        same_outcome(&mem, &st, "failing stream ending by itself");
    outcome_free(&st);
    outcome_free(&mem);
}

/* ---- writer round trip -------------------------------------------------- */

#define MAX_FIELDS 64

/* A field as the reader gives it back: "\r\n" and "\r" become "\n". */
static void normalise(const char *s, size_t len, nvsf_buf *out)
{
    nvsf_buf_clear(out);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\r') {
            if (i + 1 < len && s[i + 1] == '\n')
                i++;
            c = '\n';
        }
        if (nvsf_buf_putc(out, c))
            abort();
    }
}

static void check_round_trip(const uint8_t *data, size_t size, unsigned flags)
{
    if (memchr(data, 0, size) || !nvsf_utf8_valid(data, size))
        return;
    /* The reader drops a byte order mark at the very start (csv.h). */
    if (size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        return;
    const char *text = (const char *)data;
    nvsf_buf csv = {0};
    size_t nrec = 0;
    for (size_t start = 0; start <= size;) {
        const char *end = memchr(text + start, 0x1E, size - start);
        size_t rlen = end ? (size_t)(end - (text + start)) : size - start;
        const char *fields[MAX_FIELDS];
        size_t lens[MAX_FIELDS], n = 0;
        for (size_t fs = start; n < MAX_FIELDS;) {
            const char *fe = memchr(text + fs, 0x1F, start + rlen - fs);
            size_t flen = fe ? (size_t)(fe - (text + fs)) : start + rlen - fs;
            fields[n] = text + fs;
            lens[n++] = flen;
            if (!fe)
                break;
            fs += flen + 1;
        }
        size_t before = csv.len;
        FUZZ_CHECK(nvsf_csv_write_record(&csv, fields, lens, n, flags) == 0,
                   "nvsf_csv_write_record failed");
        FUZZ_CHECK(csv.len >= before + 2 &&
                       memcmp(csv.data + csv.len - 2, "\r\n", 2) == 0,
                   "a record does not end with CRLF");
        nrec++;
        start += rlen + 1;
    }

    for (int stream = 0; stream < 2; stream++) {
        feeder f = {(const uint8_t *)csv.data, csv.len, 0, 0, 15, (size_t)-1};
        nvsf_csv_reader *r =
            stream ? nvsf_csv_reader_stream("rt.csv", feed, &f, flags)
                   : nvsf_csv_reader_mem("rt.csv", csv.data, csv.len, flags);
        FUZZ_CHECK(r != NULL, "reader not created");
        nvsf_csv_record rec;
        nvsf_error err;
        nvsf_buf want = {0};
        size_t got = 0;
        for (size_t start = 0; start <= size; got++) {
            int rc = nvsf_csv_next(r, &rec, &err);
            FUZZ_CHECK(rc == 1, "round trip: record %zu read back as %d (%s)",
                       got, rc, rc < 0 ? err.message : "end");
            const char *end = memchr(text + start, 0x1E, size - start);
            size_t rlen = end ? (size_t)(end - (text + start)) : size - start;
            size_t n = 0;
            for (size_t fs = start; n < MAX_FIELDS; n++) {
                const char *fe = memchr(text + fs, 0x1F, start + rlen - fs);
                size_t flen =
                    fe ? (size_t)(fe - (text + fs)) : start + rlen - fs;
                FUZZ_CHECK(n < rec.nfields,
                           "round trip: record %zu has %zu fields, fewer than "
                           "written",
                           got, rec.nfields);
                normalise(text + fs, flen, &want);
                FUZZ_CHECK(rec.fields[n].len == want.len &&
                               memcmp(rec.fields[n].data, want.data ? want.data : "",
                                      want.len) == 0,
                           "round trip: record %zu field %zu differs", got, n);
                if (!fe) {
                    n++;
                    break;
                }
                fs += flen + 1;
            }
            FUZZ_CHECK(rec.nfields == n,
                       "round trip: record %zu has %zu fields, not %zu", got,
                       rec.nfields, n);
            start += rlen + 1;
        }
        FUZZ_CHECK(got == nrec && nvsf_csv_next(r, &rec, &err) == 0,
                   "round trip: more records than written");
        nvsf_buf_free(&want);
        nvsf_csv_reader_free(r);
    }
    nvsf_buf_free(&csv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (unsigned flags = 0; flags < 4; flags++)
        check_reading(data, size, flags);
    check_round_trip(data, size, 0);
    check_round_trip(data, size, NVSF_CSV_HASH_COMMENTS);
    return 0;
}
