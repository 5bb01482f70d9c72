/*
 * CSV reader and writer. Every expected value here is what Python 3's csv
 * module gives for the same bytes (reader: a text-mode file with universal
 * newlines; writer: csv.writer's defaults), except where csv.h chooses to
 * differ: errors, BOM, comments and blank lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "csv.h"
#include "error.h"

#ifdef NVSF_CSV_STANDALONE_TEST
/* buf.c needs it; the library has it in keys.c, which needs OpenSSL. */
void nvsf_wipe(void *p, size_t len)
{
    volatile unsigned char *v = p;
    while (len--)
        *v++ = 0;
}
#endif

/* ---- helpers ------------------------------------------------------------ */

/* Each record as "LINE:[field][field]\n", so one string compare checks all. */
static int dump(nvsf_csv_reader *r, nvsf_buf *out, nvsf_error *err)
{
    nvsf_csv_record rec;
    int rc;
    char head[32];
    while ((rc = nvsf_csv_next(r, &rec, err)) == 1) {
        snprintf(head, sizeof head, "%u:", rec.line);
        assert_int_equal(nvsf_buf_append(out, head, strlen(head)), 0);
        for (size_t i = 0; i < rec.nfields; i++) {
            const nvsf_csv_field *f = &rec.fields[i];
            assert_non_null(f->data);
            assert_int_equal(f->data[f->len], '\0');
            assert_int_equal(nvsf_buf_putc(out, '['), 0);
            assert_int_equal(nvsf_buf_append(out, f->data, f->len), 0);
            assert_int_equal(nvsf_buf_putc(out, ']'), 0);
        }
        assert_int_equal(nvsf_buf_putc(out, '\n'), 0);
    }
    if (!out->data)
        assert_int_equal(nvsf_buf_append(out, "", 0), 0);
    return rc;
}

static int dump_mem(const char *text, size_t len, unsigned flags,
                    nvsf_buf *out, nvsf_error *err)
{
    nvsf_csv_reader *r = nvsf_csv_reader_mem("in.csv", text, len, flags);
    assert_non_null(r);
    int rc = dump(r, out, err);
    nvsf_csv_reader_free(r);
    return rc;
}

/* A stream over a byte array, handing out at most `step` bytes per call,
 * and failing with NVSF_E_IO once `fail_at` bytes have gone (if set). */
typedef struct feed {
    const char *data;
    size_t len, pos, step;
    size_t fail_at;
    int fail;
    int calls_after_end;
} feed;

static long feed_read(void *ctx, char *buf, size_t cap, nvsf_error *err)
{
    feed *f = ctx;
    assert_true(cap > 0);
    if (f->fail && f->pos >= f->fail_at)
        return nvsf_fail(err, NVSF_E_IO, "disk on fire");
    size_t n = f->len - f->pos;
    if (n == 0)
        f->calls_after_end++;
    if (n > cap)
        n = cap;
    if (n > f->step)
        n = f->step;
    if (f->fail && n > f->fail_at - f->pos)
        n = f->fail_at - f->pos;
    memcpy(buf, f->data + f->pos, n);
    f->pos += n;
    return (long)n;
}

static int dump_stream(const char *text, size_t len, unsigned flags,
                       size_t step, nvsf_buf *out, nvsf_error *err)
{
    feed f = {.data = text, .len = len, .step = step};
    nvsf_csv_reader *r = nvsf_csv_reader_stream("in.csv", feed_read, &f,
                                                flags);
    assert_non_null(r);
    int rc = dump(r, out, err);
    nvsf_csv_reader_free(r);
    return rc;
}

/* Read text from memory; it must give `expected` and no error. */
static void check_reads(const char *text, size_t len, unsigned flags,
                        const char *expected)
{
    nvsf_buf out = {0};
    nvsf_error err = {0};
    int rc = dump_mem(text, len, flags, &out, &err);
    if (rc != 0)
        fail_msg("unexpected error %d: %s", rc, err.message);
    assert_string_equal(out.data, expected);
    nvsf_buf_free(&out);
}

#define CHECK_READS(text, flags, expected) \
    check_reads(text, sizeof text - 1, flags, expected)

/* Read text from memory and as a stream; it must fail with `message`. */
static void check_fails(const char *text, size_t len, const char *message)
{
    nvsf_buf out = {0};
    nvsf_error err = {0};
    assert_int_equal(dump_mem(text, len, 0, &out, &err), NVSF_E_INPUT);
    assert_int_equal(err.code, NVSF_E_INPUT);
    assert_string_equal(err.message, message);
    nvsf_buf_free(&out);

    memset(&err, 0, sizeof err);
    assert_int_equal(dump_stream(text, len, 0, 1, &out, &err), NVSF_E_INPUT);
    assert_string_equal(err.message, message);
    nvsf_buf_free(&out);
}

#define CHECK_FAILS(text, message) check_fails(text, sizeof text - 1, message)

/* ---- reading: Python's own results -------------------------------------- */

typedef struct python_case {
    const char *text;
    const char *expected;
} python_case;

/* Generated with csv.reader(io.TextIOWrapper(io.BytesIO(text),
 * encoding='utf8')), line = previous reader.line_num + 1. */
static const python_case python_cases[] = {
    {"a,b,c\n", "1:[a][b][c]\n"},
    {"\"a,b\",c\n", "1:[a,b][c]\n"},
    {"\"a\"\"b\",c\n", "1:[a\"b][c]\n"},
    {"\"line1\r\nline2\rline3\nx\",y\r\nz\n",
     "1:[line1\nline2\nline3\nx][y]\n5:[z]\n"},
    {"ab\"c,d\n", "1:[ab\"c][d]\n"},
    {"\"ab\"c,d\n", "1:[abc][d]\n"},
    {"\"ab\"c\"d\",e\n", "1:[abc\"d\"][e]\n"},
    {"\"\",x\n", "1:[][x]\n"},
    {"\"\"\n", "1:[]\n"},
    {"\"\"\"\"\n", "1:[\"]\n"},
    {"a,\n", "1:[a][]\n"},
    {"a,", "1:[a][]\n"},
    {",\n", "1:[][]\n"},
    {"\n", "1:\n"},
    {"\n\n", "1:\n2:\n"},
    {"a\n\nb\n", "1:[a]\n2:\n3:[b]\n"},
    {"a\r\nb\rc\nd", "1:[a]\n2:[b]\n3:[c]\n4:[d]\n"},
    {"a\r\r\nb", "1:[a]\n2:\n3:[b]\n"},
    {" \"a\" ,b\n", "1:[ \"a\" ][b]\n"},
    {"\"a\"  ,b\n", "1:[a  ][b]\n"},
    {"a,b\n\n", "1:[a][b]\n2:\n"},
    {"a,\"b\nc\"", "1:[a][b\nc]\n"},
    {"x,\"\n#c\"\n", "1:[x][\n#c]\n"},
    {"", ""},
    {"\xe2\x82\xac,\xf0\x9f\x98\x80\n", "1:[\xe2\x82\xac][\xf0\x9f\x98\x80]\n"},
    {"a\n\xef\xbb\xbf" "b\n", "1:[a]\n2:[\xef\xbb\xbf" "b]\n"},
    {"\"a\"\r\"b\"\r", "1:[a]\n2:[b]\n"},
    {"   \n\t\n", "1:[   ]\n2:[\t]\n"},
    {"a,#b\n#c\n", "1:[a][#b]\n2:[#c]\n"},
    {"k,\"v1\r\n\r\nv3\"\r\n\"q\"\r\n", "1:[k][v1\n\nv3]\n4:[q]\n"},
};

#define NCASES (sizeof python_cases / sizeof python_cases[0])

static void test_reads_as_python(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++)
        check_reads(python_cases[i].text, strlen(python_cases[i].text), 0,
                    python_cases[i].expected);
}

static void test_quoted_comma_and_doubled_quotes(void **state)
{
    (void)state;
    CHECK_READS("key,\"a,b\",\"say \"\"hi\"\"\"\n", 0,
                "1:[key][a,b][say \"hi\"]\n");
    CHECK_READS("\"\"\"\"\"\",\"\"\n", 0, "1:[\"\"][]\n");
}

static void test_multiline_quoted_field_normalised(void **state)
{
    (void)state;
    /* "\r\n" and lone "\r" inside quotes both become "\n"; lines count on. */
    CHECK_READS("a,\"1\r\n2\r3\n4\"\r\nb,c\r\n", 0,
                "1:[a][1\n2\n3\n4]\n5:[b][c]\n");
}

static void test_python_quirks(void **state)
{
    (void)state;
    CHECK_READS("ab\"c\n", 0, "1:[ab\"c]\n");      /* '"' inside: literal */
    CHECK_READS("\"ab\"c,d\n", 0, "1:[abc][d]\n"); /* kept after the quote */
    CHECK_READS("\"a\"\"b\"\n", 0, "1:[a\"b]\n");  /* "" is one quote */
    CHECK_READS("\n", 0, "1:\n");                  /* empty line: no fields */
    CHECK_READS("a\nb\n", 0, "1:[a]\n2:[b]\n");    /* no record after last \n */
    CHECK_READS("a,\n", 0, "1:[a][]\n");           /* a, is two fields */
    CHECK_READS("\"\"\n", 0, "1:[]\n");            /* one empty field */
}

static void test_line_ends(void **state)
{
    (void)state;
    CHECK_READS("a,b\r\nc,d\r\n", 0, "1:[a][b]\n2:[c][d]\n");
    CHECK_READS("a,b\rc,d\r", 0, "1:[a][b]\n2:[c][d]\n");
    CHECK_READS("a,b\nc,d\n", 0, "1:[a][b]\n2:[c][d]\n");
    CHECK_READS("a\r\n\r\n\rb\n\nc", 0, "1:[a]\n2:\n3:\n4:[b]\n5:\n6:[c]\n");
}

static void test_skip_blank(void **state)
{
    (void)state;
    const char text[] = "a\n\n  \t\n\"\"\n \"\"\n  ,\nb\n\r\n";
    CHECK_READS(text, 0,
                "1:[a]\n2:\n3:[  \t]\n4:[]\n5:[ \"\"]\n6:[  ][]\n7:[b]\n8:\n");
    /* `""` is a quoted empty field, ` ""` holds quotes, `  ,` two fields. */
    CHECK_READS(text, NVSF_CSV_SKIP_BLANK,
                "1:[a]\n4:[]\n5:[ \"\"]\n6:[  ][]\n7:[b]\n");
    CHECK_READS("\"  \"\n", NVSF_CSV_SKIP_BLANK, "1:[  ]\n");
}

static void test_hash_comments(void **state)
{
    (void)state;
    const char text[] = "#c1\nk,v\n#c2,\"x\"\n\"#q\",a,#b\n # not\n";
    CHECK_READS(text, 0,
                "1:[#c1]\n2:[k][v]\n3:[#c2][x]\n4:[#q][a][#b]\n5:[ # not]\n");
    /* Only a '#' that starts a record counts; "#q" is quoted. */
    CHECK_READS(text, NVSF_CSV_HASH_COMMENTS,
                "2:[k][v]\n4:[#q][a][#b]\n5:[ # not]\n");
    /* A comment is a line, skipped before any CSV parsing: a quote in it
     * opens nothing (the generator filters lines before its CSV reader). */
    CHECK_READS("#x,\"y\nz\"\nq\n", NVSF_CSV_HASH_COMMENTS, "2:[z\"]\n3:[q]\n");
    CHECK_READS("#todo,\"check later\r\na,1\r\n#\"\rb,2\n", NVSF_CSV_HASH_COMMENTS,
                "2:[a][1]\n4:[b][2]\n");
    /* Inside a quoted value, a line that starts with '#' is kept. */
    CHECK_READS("k,\"a\n#b\"\n", NVSF_CSV_HASH_COMMENTS, "1:[k][a\n#b]\n");
}

static void test_line_numbers_count_skipped_lines(void **state)
{
    (void)state;
    const char text[] = "# header comment\r\n"
                        "\r\n"
                        "key,type\r\n"
                        "  \t\r\n"
                        "#\r\n"
                        "a,\"x\r\ny\"\r\n"
                        "\r\n"
                        "b,z";
    CHECK_READS(text, NVSF_CSV_HASH_COMMENTS | NVSF_CSV_SKIP_BLANK,
                "3:[key][type]\n6:[a][x\ny]\n9:[b][z]\n");
}

static void test_bom(void **state)
{
    (void)state;
    CHECK_READS("\xEF\xBB\xBF" "a,b\n", 0, "1:[a][b]\n");
    CHECK_READS("\xEF\xBB\xBF#c\nx\n", NVSF_CSV_HASH_COMMENTS, "2:[x]\n");
    CHECK_READS("\xEF\xBB\xBF", 0, "");
    CHECK_READS("\xEF\xBB\xBF\xEF\xBB\xBF" "a\n", 0, "1:[\xEF\xBB\xBF" "a]\n");

    nvsf_buf out = {0};
    nvsf_error err = {0};
    assert_int_equal(dump_stream("\xEF\xBB\xBF" "a\n", 4, 0, 1, &out, &err), 0);
    assert_string_equal(out.data, "1:[a]\n");
    nvsf_buf_free(&out);
}

static void test_fields_valid_until_next_call(void **state)
{
    (void)state;
    const char text[] = "one,\"two\"\n";
    nvsf_csv_reader *r = nvsf_csv_reader_mem("in.csv", text, strlen(text), 0);
    assert_non_null(r);
    nvsf_csv_record rec;
    nvsf_error err = {0};
    assert_int_equal(nvsf_csv_next(r, &rec, &err), 1);
    assert_int_equal(rec.nfields, 2);
    assert_int_equal(rec.line, 1);
    assert_string_equal(rec.fields[0].data, "one");
    assert_int_equal(rec.fields[0].len, 3);
    assert_string_equal(rec.fields[1].data, "two");
    assert_int_equal(rec.fields[1].len, 3);
    assert_int_equal(nvsf_csv_next(r, &rec, &err), 0);
    assert_int_equal(nvsf_csv_next(r, &rec, &err), 0);
    nvsf_csv_reader_free(r);
}

/* ---- reading: errors ------------------------------------------------------ */

static void test_unterminated_quote(void **state)
{
    (void)state;
    CHECK_FAILS("a,b\nc,\"x\ny\n",
                "in.csv:2: quoted field opened here is never closed");
    CHECK_FAILS("\"abc", "in.csv:1: quoted field opened here is never closed");
    /* The line named is where the open quote is, not where the record is. */
    CHECK_FAILS("k\n\"a\r\nb\",\"c\r\nd\r\n",
                "in.csv:3: quoted field opened here is never closed");
    CHECK_FAILS("x,\"a\"\"", "in.csv:1: quoted field opened here is never closed");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    CHECK_FAILS("a\nb\nc\xff\n", "in.csv:3: invalid UTF-8");
    CHECK_FAILS("a\nb\n\x80", "in.csv:3: invalid UTF-8");            /* stray */
    CHECK_FAILS("a\nb\n\xC0\x80\n", "in.csv:3: invalid UTF-8");      /* overlong */
    CHECK_FAILS("a\nb\n\xE0\x9F\xBF\n", "in.csv:3: invalid UTF-8");  /* overlong */
    CHECK_FAILS("a\nb\n\xED\xA0\x80\n", "in.csv:3: invalid UTF-8");  /* surrogate */
    CHECK_FAILS("a\nb\n\xF4\x90\x80\x80", "in.csv:3: invalid UTF-8"); /* > 10FFFF */
    CHECK_FAILS("a\nb\n\xF5\x80\x80\x80", "in.csv:3: invalid UTF-8");
    CHECK_FAILS("a\nb\n\xE2\x82\n", "in.csv:3: invalid UTF-8");      /* cut short */
    CHECK_FAILS("a\nb\n\xF0\x9F\x98", "in.csv:3: invalid UTF-8");    /* at the end */
    CHECK_FAILS("a\n\"b\n\xE2\x82\xAC\xE2\x82\"\n", "in.csv:3: invalid UTF-8");
    CHECK_FAILS("\xEF\xBB", "in.csv:1: invalid UTF-8");              /* half a BOM */
    /* The comment is read (as Python decodes the whole file) before skipping. */
    nvsf_buf out = {0};
    nvsf_error err = {0};
    assert_int_equal(dump_mem("#\xff\n", 3, NVSF_CSV_HASH_COMMENTS, &out, &err),
                     NVSF_E_INPUT);
    assert_string_equal(err.message, "in.csv:1: invalid UTF-8");
    nvsf_buf_free(&out);
}

static void test_nul_byte(void **state)
{
    (void)state;
    CHECK_FAILS("a\nb\nc\0d\n", "in.csv:3: NUL byte");
    CHECK_FAILS("a\nb\n\"c\nd\0\"\n", "in.csv:4: NUL byte");
    CHECK_FAILS("\0", "in.csv:1: NUL byte");
}

static void test_records_before_error_are_returned(void **state)
{
    (void)state;
    nvsf_buf out = {0};
    nvsf_error err = {0};
    assert_int_equal(dump_mem("a\nb\n\xff\n", 6, 0, &out, &err), NVSF_E_INPUT);
    assert_string_equal(out.data, "1:[a]\n2:[b]\n");
    nvsf_buf_free(&out);
}

/* ---- reading: streams ------------------------------------------------------ */

/* The same text, fed a byte or a few at a time, gives the same records and
 * the same errors as from memory. */
static void compare_stream_with_mem(const char *text, size_t len,
                                    unsigned flags)
{
    static const size_t steps[] = {1, 2, 3, 5, 64 * 1024};
    nvsf_buf want = {0};
    nvsf_error want_err = {0};
    int want_rc = dump_mem(text, len, flags, &want, &want_err);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        nvsf_buf got = {0};
        nvsf_error got_err = {0};
        int got_rc = dump_stream(text, len, flags, steps[i], &got, &got_err);
        assert_int_equal(got_rc, want_rc);
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.data, want.data, want.len + 1);
        if (want_rc < 0)
            assert_string_equal(got_err.message, want_err.message);
        nvsf_buf_free(&got);
    }
    nvsf_buf_free(&want);
}

static void test_stream_matches_mem(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        const char *t = python_cases[i].text;
        compare_stream_with_mem(t, strlen(t), 0);
        compare_stream_with_mem(t, strlen(t),
                                NVSF_CSV_HASH_COMMENTS | NVSF_CSV_SKIP_BLANK);
    }
    static const char extra[] =
        "\xEF\xBB\xBF# c\r\n\r\n  \r\nk,\"\xE2\x82\xAC\r\n\xF0\x9F\x98\x80\"\r"
        "\"a\"\"\"b,\r\n";
    compare_stream_with_mem(extra, sizeof extra - 1, 0);
    compare_stream_with_mem(extra, sizeof extra - 1,
                            NVSF_CSV_HASH_COMMENTS | NVSF_CSV_SKIP_BLANK);
    compare_stream_with_mem("a\n\"b", 4, 0);
    compare_stream_with_mem("a\r\n\xF0\x9F\x98\n", 7, 0);
}

static void test_stream_one_byte_at_a_time(void **state)
{
    (void)state;
    const char text[] = "\xEF\xBB\xBFkey,\"v\r\nw\",\xC3\xA9\r\n\r\nx,\"\"\"\"\r";
    nvsf_buf out = {0};
    nvsf_error err = {0};
    assert_int_equal(dump_stream(text, sizeof text - 1, 0, 1, &out, &err), 0);
    assert_string_equal(out.data,
                        "1:[key][v\nw][\xC3\xA9]\n3:\n4:[x][\"]\n");
    nvsf_buf_free(&out);
}

/* Chunk edges at 64 KiB: a "\r\n" and a 4-byte character cut in two, and
 * records far longer than a chunk. */
static void test_stream_chunk_edges(void **state)
{
    (void)state;
    const size_t chunk = 64 * 1024;
    size_t len = 5 * chunk;
    char *text = malloc(len);
    assert_non_null(text);
    memset(text, 'a', len);
    /* First chunk: one line ending in a "\r\n" cut by the chunk edge. */
    text[chunk - 1] = '\r';
    text[chunk] = '\n';
    /* The second chunk ends in the middle of a 4-byte character. */
    memcpy(text + 2 * chunk - 2, "\xF0\x9F\x98\x80", 4);
    /* And a quoted field with line breaks spanning several chunks. */
    text[chunk + 10] = ',';
    text[chunk + 11] = '"';
    text[chunk + 100] = '\r';
    text[chunk + 101] = '\n';
    text[3 * chunk + 7] = '\r';
    text[len - 3] = '"';
    text[len - 2] = '\r';
    text[len - 1] = '\n';

    compare_stream_with_mem(text, len, 0);

    feed f = {.data = text, .len = len, .step = (size_t)-1};
    nvsf_csv_reader *r = nvsf_csv_reader_stream("big.csv", feed_read, &f, 0);
    assert_non_null(r);
    nvsf_csv_record rec;
    nvsf_error err = {0};
    assert_int_equal(nvsf_csv_next(r, &rec, &err), 1);
    assert_int_equal(rec.line, 1);
    assert_int_equal(rec.nfields, 1);
    assert_int_equal(rec.fields[0].len, chunk - 1);
    assert_int_equal(nvsf_csv_next(r, &rec, &err), 1);
    assert_int_equal(rec.line, 2);
    assert_int_equal(rec.nfields, 2);
    assert_int_equal(rec.fields[0].len, 9);
    /* Quoted part: chunk+12 .. len-4, with "\r\n" and "\r" each one "\n". */
    assert_int_equal(rec.fields[1].len, (len - 3) - (chunk + 12) - 1);
    assert_int_equal(rec.fields[1].data[100 - 12], '\n');
    assert_int_equal(rec.fields[1].data[101 - 12], 'a');
    assert_memory_equal(rec.fields[1].data + (2 * chunk - 2) - (chunk + 12) - 1,
                        "\xF0\x9F\x98\x80", 4);
    assert_int_equal(nvsf_csv_next(r, &rec, &err), 0);
    nvsf_csv_reader_free(r);
    free(text);
}

static void test_stream_callback_error(void **state)
{
    (void)state;
    const char text[] = "a,b\nc,d\ne,f\n";
    feed f = {.data = text, .len = sizeof text - 1, .step = 1,
              .fail = 1, .fail_at = 6};
    nvsf_csv_reader *r = nvsf_csv_reader_stream("in.csv", feed_read, &f, 0);
    assert_non_null(r);
    nvsf_csv_record rec;
    nvsf_error err = {0};
    assert_int_equal(nvsf_csv_next(r, &rec, &err), 1);
    assert_string_equal(rec.fields[0].data, "a");
    assert_int_equal(nvsf_csv_next(r, &rec, &err), NVSF_E_IO);
    assert_int_equal(err.code, NVSF_E_IO);
    assert_string_equal(err.message, "disk on fire");
    /* It stays failed rather than resuming in the middle of a record, even
     * if the callback would now succeed. */
    f.fail = 0;
    assert_int_equal(nvsf_csv_next(r, &rec, &err), NVSF_E_IO);
    nvsf_csv_reader_free(r);

    /* Failing on the very first read (while looking for a BOM). */
    feed g = {.data = text, .len = sizeof text - 1, .step = 1, .fail = 1};
    r = nvsf_csv_reader_stream("in.csv", feed_read, &g, 0);
    assert_non_null(r);
    assert_int_equal(nvsf_csv_next(r, &rec, &err), NVSF_E_IO);
    assert_string_equal(err.message, "disk on fire");
    nvsf_csv_reader_free(r);
}

static void test_stream_empty(void **state)
{
    (void)state;
    feed f = {.data = "", .len = 0, .step = 1};
    nvsf_csv_reader *r = nvsf_csv_reader_stream("in.csv", feed_read, &f, 0);
    assert_non_null(r);
    nvsf_csv_record rec;
    nvsf_error err = {0};
    assert_int_equal(nvsf_csv_next(r, &rec, &err), 0);
    nvsf_csv_reader_free(r);
}

/* ---- writing ---------------------------------------------------------------- */

/* Write one record of NUL-terminated fields; compare all of out's bytes. */
static void check_writes(unsigned flags, const char *const *fields, size_t n,
                         const char *expected, size_t expected_len)
{
    size_t lens[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(fields[i]);
    nvsf_buf out = {0};
    assert_int_equal(nvsf_csv_write_record(&out, fields, lens, n, flags), 0);
    assert_int_equal(out.len, expected_len);
    assert_memory_equal(out.data, expected, expected_len);
    assert_int_equal(out.data[out.len], '\0');
    nvsf_buf_free(&out);
}

#define CHECK_WRITES_FLAGS(flags, expected, ...)                            \
    do {                                                                    \
        const char *const fields_[] = {__VA_ARGS__};                        \
        check_writes(flags, fields_, sizeof fields_ / sizeof fields_[0],    \
                     expected, sizeof expected - 1);                        \
    } while (0)
#define CHECK_WRITES(expected, ...) CHECK_WRITES_FLAGS(0, expected, __VA_ARGS__)

/* Expected bytes: csv.writer(io.StringIO(newline='')).writerow(fields). */
static void test_write_minimal_quoting(void **state)
{
    (void)state;
    CHECK_WRITES("a,b\r\n", "a", "b");
    CHECK_WRITES("\"a,b\",c\r\n", "a,b", "c");
    CHECK_WRITES(" lead,trail \r\n", " lead", "trail ");
    /* Python's writer leaves a leading '#' alone (a values CSV, read
     * without comments, keeps it so); in a partition CSV, read with them,
     * the record would read back as a comment: quoted, it does not. */
    CHECK_WRITES("#c,d\r\n", "#c", "d");
    CHECK_WRITES_FLAGS(NVSF_CSV_HASH_COMMENTS, "\"#c\",d\r\n", "#c", "d");
    CHECK_WRITES_FLAGS(NVSF_CSV_HASH_COMMENTS, "c,#d\r\n", "c", "#d");
    CHECK_WRITES("\xe2\x82\xac\r\n", "\xe2\x82\xac");
    CHECK_WRITES(",\r\n", "", "");
    CHECK_WRITES(",x\r\n", "", "x");
}

static void test_write_single_empty_field(void **state)
{
    (void)state;
    CHECK_WRITES("\"\"\r\n", "");
    nvsf_buf out = {0};
    assert_int_equal(nvsf_csv_write_record(&out, NULL, NULL, 0, 0), 0);
    assert_int_equal(out.len, 2);
    assert_memory_equal(out.data, "\r\n", 2);
    nvsf_buf_free(&out);
}

static void test_write_embedded_newline(void **state)
{
    (void)state;
    CHECK_WRITES("\"line1\nline2\"\r\n", "line1\nline2");
    CHECK_WRITES("\"cr\rx\"\r\n", "cr\rx");
    CHECK_WRITES("\"a\r\nb\"\r\n", "a\r\nb");
}

static void test_write_quote_doubling(void **state)
{
    (void)state;
    CHECK_WRITES("\"say \"\"hi\"\"\"\r\n", "say \"hi\"");
    CHECK_WRITES("\"\"\"\"\r\n", "\"");
    CHECK_WRITES("k,\"a\"\"b,c\"\r\n", "k", "a\"b,c");
}

static void test_write_appends_and_reads_back(void **state)
{
    (void)state;
    const char *const rec1[] = {"key", "a,b", "q\"q", "l1\nl2"};
    const size_t lens1[] = {3, 3, 3, 5};
    const char *const rec2[] = {""};
    const size_t lens2[] = {0};
    const char bin[] = {'x', '\0', 'y'}; /* lengths, not strlen */
    const char *const rec3[] = {bin};
    const size_t lens3[] = {1};
    nvsf_buf out = {0};
    assert_int_equal(nvsf_csv_write_record(&out, rec1, lens1, 4, 0), 0);
    assert_int_equal(nvsf_csv_write_record(&out, rec2, lens2, 1, 0), 0);
    assert_int_equal(nvsf_csv_write_record(&out, rec3, lens3, 1, 0), 0);
    const char expected[] = "key,\"a,b\",\"q\"\"q\",\"l1\nl2\"\r\n\"\"\r\nx\r\n";
    assert_int_equal(out.len, sizeof expected - 1);
    assert_memory_equal(out.data, expected, sizeof expected);
    check_reads(out.data, out.len, 0, "1:[key][a,b][q\"q][l1\nl2]\n3:[]\n4:[x]\n");
    nvsf_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_as_python),
        cmocka_unit_test(test_quoted_comma_and_doubled_quotes),
        cmocka_unit_test(test_multiline_quoted_field_normalised),
        cmocka_unit_test(test_python_quirks),
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_skip_blank),
        cmocka_unit_test(test_hash_comments),
        cmocka_unit_test(test_line_numbers_count_skipped_lines),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_fields_valid_until_next_call),
        cmocka_unit_test(test_unterminated_quote),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_records_before_error_are_returned),
        cmocka_unit_test(test_stream_matches_mem),
        cmocka_unit_test(test_stream_one_byte_at_a_time),
        cmocka_unit_test(test_stream_chunk_edges),
        cmocka_unit_test(test_stream_callback_error),
        cmocka_unit_test(test_stream_empty),
        cmocka_unit_test(test_write_minimal_quoting),
        cmocka_unit_test(test_write_single_empty_field),
        cmocka_unit_test(test_write_embedded_newline),
        cmocka_unit_test(test_write_quote_doubling),
        cmocka_unit_test(test_write_appends_and_reads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
