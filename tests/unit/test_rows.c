/*
 * Partition-generator rows and CSV (nvsf_rows_add, nvsf_rows_add_csv) against
 * docs/format.md ("The partition generator's CSV").
 * Expected images are built by hand with the builder API; `file` values come
 * from an in-memory table through the reader callback.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvsforge/nvsforge.h"

#define SIZE 0x3000u

/* ---- an in-memory file system for `file` rows --------------------------- */

typedef struct mem_file {
    const char *path;
    const void *data;
    size_t len;
} mem_file;

typedef struct mem_fs {
    const mem_file *files;
    size_t count;
    unsigned calls;
    char last_path[256];
} mem_fs;

static int mem_reader(void *ctx, const char *path, uint8_t **data,
                      size_t *len, nvsf_error *err)
{
    mem_fs *fs = ctx;
    fs->calls++;
    snprintf(fs->last_path, sizeof fs->last_path, "%s", path);
    for (size_t i = 0; i < fs->count; i++) {
        if (strcmp(fs->files[i].path, path) == 0) {
            *data = malloc(fs->files[i].len ? fs->files[i].len : 1);
            assert_non_null(*data);
            memcpy(*data, fs->files[i].data, fs->files[i].len);
            *len = fs->files[i].len;
            return 0;
        }
    }
    if (err) {
        err->code = NVSF_E_IO;
        snprintf(err->message, sizeof err->message,
                 "cannot open '%s': No such file or directory", path);
    }
    return NVSF_E_IO;
}

/* ---- helpers ------------------------------------------------------------ */

static nvsf_error g_err;

static void ok(int rc)
{
    if (rc)
        fail_msg("unexpected error %d: %s", rc, g_err.message);
}

typedef struct csv_result {
    int rc;
    nvsf_error err;
    uint8_t *image; /* SIZE bytes when rc == 0 */
} csv_result;

/* Run one CSV through a fresh builder of SIZE bytes. */
static csv_result run_csv_v(const char *csv, int version, mem_fs *fs)
{
    csv_result res;
    memset(&res, 0, sizeof res);
    nvsf_builder *b = NULL;
    ok(nvsf_builder_new(&b, SIZE, version, NULL, &g_err));
    nvsf_rows *r = NULL;
    ok(nvsf_rows_new(&r, b, fs ? mem_reader : NULL, fs, &g_err));
    res.rc = nvsf_rows_add_csv(r, "in.csv", csv, strlen(csv), &res.err);
    if (res.rc == 0) {
        res.image = malloc(SIZE);
        assert_non_null(res.image);
        ok(nvsf_builder_finish(b, res.image, &g_err));
    }
    nvsf_rows_free(r);
    nvsf_builder_free(b);
    return res;
}

static csv_result run_csv(const char *csv, mem_fs *fs)
{
    return run_csv_v(csv, 2, fs);
}

static uint8_t *run_csv_ok(const char *csv, mem_fs *fs)
{
    csv_result res = run_csv(csv, fs);
    if (res.rc)
        fail_msg("CSV rejected: %d %s", res.rc, res.err.message);
    return res.image;
}

static void expect_csv_error(const char *csv, mem_fs *fs, int code,
                             const char *prefix, const char *const *needles)
{
    csv_result res = run_csv(csv, fs);
    if (res.rc != code)
        fail_msg("rc %d, expected %d (message: %s)", res.rc, code,
                 res.err.message);
    assert_int_equal(res.err.code, code);
    if (strncmp(res.err.message, prefix, strlen(prefix)) != 0)
        fail_msg("message '%s' does not start with '%s'", res.err.message,
                 prefix);
    for (; needles && *needles; needles++)
        if (!strstr(res.err.message, *needles))
            fail_msg("message '%s' lacks '%s'", res.err.message, *needles);
    free(res.image);
}

static nvsf_builder *new_builder(int version)
{
    nvsf_builder *b = NULL;
    ok(nvsf_builder_new(&b, SIZE, version, NULL, &g_err));
    return b;
}

static uint8_t *finish(nvsf_builder *b)
{
    uint8_t *img = malloc(SIZE);
    assert_non_null(img);
    ok(nvsf_builder_finish(b, img, &g_err));
    nvsf_builder_free(b);
    return img;
}

static void same_image(uint8_t *got, uint8_t *expected)
{
    for (size_t i = 0; i < SIZE; i++) {
        if (got[i] != expected[i])
            fail_msg("images differ first at 0x%zx (page %zu entry %ld byte "
                     "%zu): 0x%02x, expected 0x%02x",
                     i, i / 4096,
                     (long)((i % 4096) >= 64 ? (long)(i % 4096 - 64) / 32 : -1),
                     (i % 4096) % 32, got[i], expected[i]);
    }
    free(got);
    free(expected);
}

static void ns(nvsf_builder *b, const char *name)
{
    ok(nvsf_builder_namespace(b, name, &g_err));
}

static void str(nvsf_builder *b, const char *key, const char *s)
{
    ok(nvsf_builder_add_string(b, key, s, strlen(s), &g_err));
}

static void blob(nvsf_builder *b, const char *key, const void *d, size_t len)
{
    ok(nvsf_builder_add_blob(b, key, d, len, &g_err));
}

static void uint_(nvsf_builder *b, const char *key, enum nvsf_item_type t,
                  uint64_t v)
{
    ok(nvsf_builder_add_uint(b, key, t, v, &g_err));
}

static void int_(nvsf_builder *b, const char *key, enum nvsf_item_type t,
                 int64_t v)
{
    ok(nvsf_builder_add_int(b, key, t, v, &g_err));
}

/* The three blobs that follow the first sta.ssid / sta.pswd. */
static void sta_extras(nvsf_builder *b)
{
    uint8_t apinfo[140], zero[32] = {0};
    memset(apinfo, 0xFF, sizeof apinfo);
    blob(b, "sta.apinfo", apinfo, 140);
    blob(b, "sta.pmk", zero, 32);
    blob(b, "sta.apsw", zero, 2);
}

/* ap.pmk_info: 100 zero bytes then the 32-byte PBKDF2 result. */
static void ap_pmk_info(nvsf_builder *b, const char *pbkdf2)
{
    uint8_t info[132] = {0};
    memcpy(info + 100, pbkdf2, 32);
    blob(b, "ap.pmk_info", info, sizeof info);
}

/* PBKDF2-HMAC-SHA1(password, ssid, 4096, 32), computed with Python's
 * hashlib.pbkdf2_hmac. The first is IEEE 802.11i's published test vector
 * (passphrase "password", SSID "IEEE"). */
static const char pmk_ieee[] =
    "\xf4\x2c\x6f\xc5\x2d\xf0\xeb\xef\x9e\xbb\x4b\x90\xb3\x8a\x5f\x90"
    "\x2e\x83\xfe\x1b\x13\x5a\x70\xe2\x3a\xed\x76\x2e\x97\x10\xa1\x2e";
static const char pmk_myap[] = /* "password1", "MyAP" */
    "\xe2\x65\x7d\x52\x6c\xc5\x49\xa9\x1d\xd6\x21\xc7\xd0\x5a\xcd\x6b"
    "\x85\xed\x59\xa4\x1b\x4d\xee\x68\x3e\x5b\x9e\x0c\xea\x6d\xa0\xf4";

/* ---- CSV basics --------------------------------------------------------- */

static void test_csv_all_encodings(void **state)
{
    (void)state;
    uint8_t *got = run_csv_ok("key,type,encoding,value\n"
                              "storage,namespace,,\n"
                              "u8,data,u8,255\n"
                              "i8,data,i8,-128\n"
                              "u16,data,u16,65535\n"
                              "i16,data,i16,-32768\n"
                              "u32,data,u32,4294967295\n"
                              "i32,data,i32,-2147483648\n"
                              "u64,data,u64,18446744073709551615\n"
                              "i64,data,i64,-9223372036854775808\n"
                              "s,data,string,hello world\n"
                              "h,data,hex2bin,0aFF10\n"
                              "b64,data,base64,TWFu\n"
                              "up,data,U8, 42 \n",
                              NULL);
    nvsf_builder *b = new_builder(2);
    ns(b, "storage");
    uint_(b, "u8", NVSF_TYPE_U8, 255);
    int_(b, "i8", NVSF_TYPE_I8, -128);
    uint_(b, "u16", NVSF_TYPE_U16, 65535);
    int_(b, "i16", NVSF_TYPE_I16, -32768);
    uint_(b, "u32", NVSF_TYPE_U32, 4294967295u);
    int_(b, "i32", NVSF_TYPE_I32, INT32_MIN);
    uint_(b, "u64", NVSF_TYPE_U64, UINT64_MAX);
    int_(b, "i64", NVSF_TYPE_I64, INT64_MIN);
    str(b, "s", "hello world");
    blob(b, "h", "\x0a\xff\x10", 3);
    blob(b, "b64", "Man", 3);
    uint_(b, "up", NVSF_TYPE_U8, 42);
    same_image(got, finish(b));
}

static void test_csv_version1(void **state)
{
    (void)state;
    csv_result res = run_csv_v("key,type,encoding,value\n"
                               "n,namespace,,\n"
                               "h,data,hex2bin,0102\n",
                               1, NULL);
    assert_int_equal(res.rc, 0);
    nvsf_builder *b = new_builder(1);
    ns(b, "n");
    blob(b, "h", "\x01\x02", 2);
    uint8_t *exp = finish(b);
    assert_int_equal(exp[64 + 32 + 1], 0x41); /* a version-1 blob */
    same_image(res.image, exp);
}

static void test_csv_header_any_order(void **state)
{
    (void)state;
    nvsf_builder *b = new_builder(2);
    ns(b, "n");
    uint_(b, "a", NVSF_TYPE_U8, 5);
    str(b, "s", "text");
    uint8_t *exp = finish(b);

    uint8_t *got = run_csv_ok("value,encoding,type,key\n"
                              ",,namespace,n\n"
                              "5,u8,data,a\n"
                              "text,string,data,s\n",
                              NULL);
    assert_memory_equal(got, exp, SIZE);
    free(got);
    got = run_csv_ok("type,key,value,encoding\n"
                     "namespace,n,,\n"
                     "data,a,5,u8\n"
                     "data,s,text,string\n",
                     NULL);
    same_image(got, exp);
}

static void test_csv_header_missing_column(void **state)
{
    (void)state;
    expect_csv_error("key,type,value\nn,namespace,\n", NULL, NVSF_E_INPUT,
                     "in.csv:1: ", NULL);
    expect_csv_error("key,type,encoding\nn,namespace,\n", NULL, NVSF_E_INPUT,
                     "in.csv:1: ", NULL);
    expect_csv_error("# header below\nkey,typ,encoding,value\n", NULL,
                     NVSF_E_INPUT, "in.csv:2: ", NULL);
    /* No header line at all. */
    csv_result res = run_csv("", NULL);
    assert_int_equal(res.rc, NVSF_E_INPUT);
    assert_non_null(strstr(res.err.message, "in.csv"));
    res = run_csv("# only a comment\n", NULL);
    assert_int_equal(res.rc, NVSF_E_INPUT);
}

static void test_csv_header_only(void **state)
{
    (void)state;
    uint8_t *got = run_csv_ok("key,type,encoding,value\n", NULL);
    same_image(got, finish(new_builder(2)));
}

static void test_csv_comments(void **state)
{
    (void)state;
    const char *csv = "# leading comment, with a comma\n"
                      "key,type,encoding,value\n"
                      "#n,namespace,,\n"
                      "n,namespace,,\n"
                      "# a,data,u8,1\n"
                      "b,data,u8,2\n"
                      "#\n";
    nvsf_builder *b = new_builder(2);
    ns(b, "n");
    uint_(b, "b", NVSF_TYPE_U8, 2);
    same_image(run_csv_ok(csv, NULL), finish(b));

    /* Comment lines count in line numbers: the bad row is on line 6. */
    static const char *const needles[] = {"'bad'", NULL};
    expect_csv_error("# one\n"
                     "key,type,encoding,value\n"
                     "# three\n"
                     "n,namespace,,\n"
                     "# five\n"
                     "bad,data,u8,256\n",
                     NULL, NVSF_E_RANGE, "in.csv:6: ", needles);
}

static void test_csv_quoted_values(void **state)
{
    (void)state;
    const char *csv = "key,type,encoding,value\n"
                      "n,namespace,,\n"
                      "comma,data,string,\"a,b\"\n"
                      "lines,data,string,\"first\nsecond\nthird\"\n"
                      "quote,data,string,\"say \"\"hi\"\"\"\n"
                      "\"k,q\",namespace,,\n"
                      "sp,data,string,  spaced  \n";
    nvsf_builder *b = new_builder(2);
    ns(b, "n");
    str(b, "comma", "a,b");
    str(b, "lines", "first\nsecond\nthird");
    str(b, "quote", "say \"hi\"");
    ns(b, "k,q");
    str(b, "sp", "  spaced  "); /* string values are taken as they are */
    same_image(run_csv_ok(csv, NULL), finish(b));

    /* The quoted value spans lines 3..5: the next row is line 6. */
    static const char *const needles[] = {"'dup'", NULL};
    expect_csv_error("key,type,encoding,value\n"
                     "n,namespace,,\n"
                     "dup,data,string,\"x\n"
                     "y\n"
                     "z\"\n"
                     "dup,data,u8,1\n",
                     NULL, NVSF_E_INPUT, "in.csv:6: ", needles);
}

static void test_csv_crlf_and_short_namespace_rows(void **state)
{
    (void)state;
    const char *csv = "key,type,encoding,value\r\n"
                      "n,namespace\r\n"
                      "a,data,u16,513\r\n"
                      "m,namespace,\r\n"
                      "h,data,hex2bin,  0a0B  \r\n";
    nvsf_builder *b = new_builder(2);
    ns(b, "n");
    uint_(b, "a", NVSF_TYPE_U16, 513);
    ns(b, "m");
    blob(b, "h", "\x0a\x0b", 2);
    same_image(run_csv_ok(csv, NULL), finish(b));
}

static void test_csv_extras_fill(void **state)
{
    (void)state;
    /* The reference's nvs_extras_2 case. */
    const char *csv = "key,type,encoding,value\n"
                      "cfg,namespace,,\n"
                      "fill1,data,blob_fill(16;0xff),abc\n"
                      "fill2,data,blob_sz_fill(12;0x00),hello\n"
                      "fill3,data,blob_fill(8;0x20),\n";
    nvsf_builder *b = new_builder(2);
    ns(b, "cfg");
    blob(b, "fill1",
         "abc\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 16);
    blob(b, "fill2", "\x05\x00\x00\x00hello\0\0\0\0\0\0\0", 16);
    blob(b, "fill3", "        ", 8);
    same_image(run_csv_ok(csv, NULL), finish(b));

    static const char *const needles[] = {"'f'", NULL};
    expect_csv_error("key,type,encoding,value\n"
                     "cfg,namespace,,\n"
                     "f,data,blob_fill(2;0xff),abc\n",
                     NULL, NVSF_E_INPUT, "in.csv:3: ", needles);
}

static void test_csv_namespace_ignores_encoding_and_value(void **state)
{
    (void)state;
    const char *csv = "key,type,encoding,value\n"
                      "n,namespace,u8,junk\n"
                      "a,data,u8,1\n";
    nvsf_builder *b = new_builder(2);
    ns(b, "n");
    uint_(b, "a", NVSF_TYPE_U8, 1);
    same_image(run_csv_ok(csv, NULL), finish(b));
}

static void test_csv_bom_and_blank_lines(void **state)
{
    (void)state;
    const char *csv = "\xef\xbb\xbfkey,type,encoding,value\n"
                      "\n"
                      "n,namespace,,\n"
                      "\n"
                      "a,data,u8,1\n";
    nvsf_builder *b = new_builder(2);
    ns(b, "n");
    uint_(b, "a", NVSF_TYPE_U8, 1);
    same_image(run_csv_ok(csv, NULL), finish(b));
}

static void test_csv_unclosed_quote(void **state)
{
    (void)state;
    expect_csv_error("key,type,encoding,value\n"
                     "n,namespace,,\n"
                     "s,data,string,\"never closed\n",
                     NULL, NVSF_E_INPUT, "in.csv:3: ", NULL);
}

/* Several CSV files into one image: a namespace named again in a later file
 * is not written again and keeps its index; keys stay unique across files. */
static void test_csv_several_files(void **state)
{
    (void)state;
    nvsf_builder *b = new_builder(2);
    nvsf_rows *r = NULL;
    ok(nvsf_rows_new(&r, b, NULL, NULL, &g_err));
    const char *a = "key,type,encoding,value\n"
                    "n,namespace,,\n"
                    "k1,data,u8,1\n"
                    "m,namespace,,\n"
                    "k1,data,u8,2\n";
    const char *c = "key,type,encoding,value\n"
                    "n,namespace,,\n"
                    "k2,data,u8,3\n";
    const char *d = "key,type,encoding,value\n"
                    "n,namespace,,\n"
                    "k1,data,u8,4\n";
    ok(nvsf_rows_add_csv(r, "a.csv", a, strlen(a), &g_err));
    ok(nvsf_rows_add_csv(r, "c.csv", c, strlen(c), &g_err));
    nvsf_error err = {0};
    assert_int_equal(nvsf_rows_add_csv(r, "d.csv", d, strlen(d), &err),
                     NVSF_E_INPUT);
    assert_int_equal(strncmp(err.message, "d.csv:3: ", 9), 0);
    assert_non_null(strstr(err.message, "'k1'"));
    nvsf_rows_free(r);
    uint8_t *got = finish(b);

    nvsf_builder *e = new_builder(2);
    ns(e, "n");
    uint_(e, "k1", NVSF_TYPE_U8, 1);
    ns(e, "m");
    uint_(e, "k1", NVSF_TYPE_U8, 2);
    ns(e, "n");
    uint_(e, "k2", NVSF_TYPE_U8, 3);
    uint8_t *exp = finish(e);
    /* The namespace entries: n = 1 at entry 0, m = 2 at entry 2, and
     * k2 (entry 4) in namespace 1. */
    assert_int_equal(exp[64 + 4 * 32], 1);
    assert_int_equal(exp[64 + 5 * 32], 0xFF);
    same_image(got, exp);
}

/* ---- `file` rows -------------------------------------------------------- */

static void test_file_rows(void **state)
{
    (void)state;
    static const uint8_t bin[] = {0x00, 0xFF, 0x10, 0x0A, 0x0D, 0x2C};
    static const mem_file files[] = {
        {"data/bin.dat", bin, sizeof bin},
        {"data/text.txt", "line one,\nline two", 18},
        {"hex.txt", "  DEADbeef\n", 11},
        {"b64.txt", "TWFu\nTWE=\n", 10},
        {"num.txt", "1234\n", 5},
        {"empty.bin", "", 0},
    };
    mem_fs fs = {files, sizeof files / sizeof files[0], 0, ""};
    uint8_t *got = run_csv_ok("key,type,encoding,value\n"
                              "f,namespace,,\n"
                              "bin,file,binary,data/bin.dat\n"
                              "text,file,string,data/text.txt\n"
                              "hex,file,hex2bin,hex.txt\n"
                              "b64,file,base64,b64.txt\n"
                              "num,file,u16,num.txt\n"
                              "empty,file,binary,empty.bin\n",
                              &fs);
    assert_int_equal(fs.calls, 6);
    nvsf_builder *b = new_builder(2);
    ns(b, "f");
    blob(b, "bin", bin, sizeof bin);
    str(b, "text", "line one,\nline two");
    blob(b, "hex", "\xde\xad\xbe\xef", 4);
    blob(b, "b64", "ManMa", 5);
    uint_(b, "num", NVSF_TYPE_U16, 1234);
    blob(b, "empty", "", 0);
    same_image(got, finish(b));
}

static void test_file_missing(void **state)
{
    (void)state;
    static const mem_file files[] = {{"there.bin", "x", 1}};
    mem_fs fs = {files, 1, 0, ""};
    static const char *const needles[] = {
        "'gone'", "cannot open 'nowhere.bin': No such file or directory",
        NULL};
    expect_csv_error("key,type,encoding,value\n"
                     "n,namespace,,\n"
                     "ok,file,binary,there.bin\n"
                     "gone,file,binary,nowhere.bin\n",
                     &fs, NVSF_E_IO, "in.csv:4: ", needles);
    assert_string_equal(fs.last_path, "nowhere.bin");
}

static void test_file_bad_content(void **state)
{
    (void)state;
    static const mem_file files[] = {{"odd.txt", "abc", 3},
                                     {"bad.b64", "TW$u", 4}};
    mem_fs fs = {files, 2, 0, ""};
    static const char *const odd[] = {"'h'", NULL};
    expect_csv_error("key,type,encoding,value\n"
                     "n,namespace,,\n"
                     "h,file,hex2bin,odd.txt\n",
                     &fs, NVSF_E_INPUT, "in.csv:3: ", odd);
    static const char *const b64[] = {"'b'", "'$'", NULL};
    expect_csv_error("key,type,encoding,value\n"
                     "n,namespace,,\n"
                     "b,file,base64,bad.b64\n",
                     &fs, NVSF_E_INPUT, "in.csv:3: ", b64);
}

/* ---- errors name SOURCE:LINE and the key -------------------------------- */

static void test_unknown_type(void **state)
{
    (void)state;
    static const char *const needles[] = {"'x'", "'blob'", NULL};
    expect_csv_error("key,type,encoding,value\n"
                     "n,namespace,,\n"
                     "x,blob,u8,1\n",
                     NULL, NVSF_E_INPUT, "in.csv:3: ", needles);
}

static void test_error_messages(void **state)
{
    (void)state;
    static const char *const enc[] = {"'k'", "'f32'", NULL};
    expect_csv_error("key,type,encoding,value\n"
                     "n,namespace,,\n"
                     "k,data,f32,1.5\n",
                     NULL, NVSF_E_INPUT, "in.csv:3: ", enc);

    /* float and double (ours): NaN, values a float cannot hold, text */
    static const struct {
        const char *row;
        int code;
        const char *needles[3];
    } floats[] = {
        {"k,data,float,nan\n", NVSF_E_RANGE,
         {"'k'", "NaN is not a value NVS stores", NULL}},
        {"k,data,float,1e39\n", NVSF_E_RANGE,
         {"'k'", "out of range for a float", NULL}},
        {"k,data,double,0x10\n", NVSF_E_INPUT,
         {"'k'", "is not a double", NULL}},
    };
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        char csv[128];
        snprintf(csv, sizeof csv, "key,type,encoding,value\nn,namespace,,\n%s",
                 floats[i].row);
        expect_csv_error(csv, NULL, floats[i].code, "in.csv:3: ",
                         floats[i].needles);
    }

    static const char *const range[] = {
        "'k'", "value -129 is out of range for i8 (-128..127)", NULL};
    expect_csv_error("key,type,encoding,value\n"
                     "n,namespace,,\n"
                     "k,data,i8,-129\n",
                     NULL, NVSF_E_RANGE, "in.csv:3: ", range);

    static const char *const neg[] = {"'k'", NULL};
    expect_csv_error("key,type,encoding,value\n"
                     "n,namespace,,\n"
                     "k,data,u64,-1\n",
                     NULL, NVSF_E_RANGE, "in.csv:3: ", neg);
    expect_csv_error("key,type,encoding,value\n"
                     "n,namespace,,\n"
                     "k,data,u8,12a\n",
                     NULL, NVSF_E_INPUT, "in.csv:3: ", neg);
    expect_csv_error("key,type,encoding,value\n"
                     "n,namespace,,\n"
                     "k,data,hex2bin,abc\n",
                     NULL, NVSF_E_INPUT, "in.csv:3: ", neg);
    expect_csv_error("key,type,encoding,value\n"
                     "n,namespace,,\n"
                     "k,data,base64,TWE\n",
                     NULL, NVSF_E_INPUT, "in.csv:3: ", neg);

    static const char *const dup[] = {"'k'", NULL};
    expect_csv_error("key,type,encoding,value\n"
                     "n,namespace,,\n"
                     "k,data,u8,1\n"
                     "k,data,string,x\n",
                     NULL, NVSF_E_INPUT, "in.csv:4: ", dup);

    static const char *const before[] = {"'k'", NULL};
    expect_csv_error("key,type,encoding,value\n"
                     "k,data,u8,1\n",
                     NULL, NVSF_E_INPUT, "in.csv:2: ", before);

    static const char *const longkey[] = {"sixteen_chars_kk", NULL};
    expect_csv_error("key,type,encoding,value\n"
                     "n,namespace,,\n"
                     "sixteen_chars_kk,data,u8,1\n",
                     NULL, NVSF_E_INPUT, "in.csv:3: ", longkey);

    static const char *const novalue[] = {"'k'", NULL};
    expect_csv_error("key,type,encoding,value\n"
                     "n,namespace,,\n"
                     "k,data,u8\n",
                     NULL, NVSF_E_INPUT, "in.csv:3: ", novalue);

    /* Too much data for the partition: 0x3000 holds two pages. */
    char *csv = malloc(20000);
    assert_non_null(csv);
    strcpy(csv, "key,type,encoding,value\nn,namespace,,\nbig,data,hex2bin,");
    size_t at = strlen(csv);
    for (size_t i = 0; i < 7937 * 2; i++)
        csv[at++] = 'a';
    csv[at++] = '\n';
    csv[at] = '\0';
    static const char *const full[] = {"'big'", NULL};
    expect_csv_error(csv, NULL, NVSF_E_FULL, "in.csv:3: ", full);
    free(csv);
}

static void test_rows_add_direct(void **state)
{
    (void)state;
    nvsf_builder *b = new_builder(2);
    nvsf_rows *r = NULL;
    ok(nvsf_rows_new(&r, b, NULL, NULL, &g_err));
    nvsf_row row = {.key = "n", .type = "namespace", .line = 1};
    ok(nvsf_rows_add(r, "src.csv", &row, &g_err));
    nvsf_row u = {.key = "v",
                  .type = "data",
                  .encoding = "u32",
                  .value = "70000",
                  .value_len = 5,
                  .line = 2};
    ok(nvsf_rows_add(r, "src.csv", &u, &g_err));
    /* value_len decides, not a NUL: "hello" cut to "hel". */
    nvsf_row s = {.key = "s",
                  .type = "data",
                  .encoding = "string",
                  .value = "hello",
                  .value_len = 3,
                  .line = 3};
    ok(nvsf_rows_add(r, "src.csv", &s, &g_err));

    nvsf_error err = {0};
    nvsf_row bad = {.key = "w",
                    .type = "data",
                    .encoding = "u8",
                    .value = "300",
                    .value_len = 3,
                    .line = 7};
    assert_int_equal(nvsf_rows_add(r, "src.csv", &bad, &err), NVSF_E_RANGE);
    assert_int_equal(strncmp(err.message, "src.csv:7: ", 11), 0);
    assert_non_null(strstr(err.message, "'w'"));

    /* A `file` row without a reader is refused, naming the key. */
    nvsf_row f = {.key = "f",
                  .type = "file",
                  .encoding = "binary",
                  .value = "x.bin",
                  .value_len = 5,
                  .line = 8};
    assert_true(nvsf_rows_add(r, "src.csv", &f, &err) < 0);
    assert_int_equal(strncmp(err.message, "src.csv:8: ", 11), 0);
    assert_non_null(strstr(err.message, "'f'"));

    nvsf_row t = {.key = "t", .type = "blob", .encoding = "u8", .value = "1",
                  .value_len = 1, .line = 9};
    assert_int_equal(nvsf_rows_add(r, "src.csv", &t, &err), NVSF_E_INPUT);
    assert_int_equal(strncmp(err.message, "src.csv:9: ", 11), 0);
    assert_non_null(strstr(err.message, "'t'"));
    assert_non_null(strstr(err.message, "'blob'"));
    nvsf_rows_free(r);
    uint8_t *got = finish(b);

    nvsf_builder *e = new_builder(2);
    ns(e, "n");
    uint_(e, "v", NVSF_TYPE_U32, 70000);
    str(e, "s", "hel");
    same_image(got, finish(e));
}

/* ---- Wi-Fi extras ------------------------------------------------------- */

static void test_wifi_sta(void **state)
{
    (void)state;
    /* The reference's nvs_extras_0 case: the extras follow sta.ssid, and
     * sta.pswd (second) brings none. */
    const char *csv = "key,type,encoding,value\n"
                      "nvs.net80211,namespace,,\n"
                      "sta.ssid,data,string,MyNet\n"
                      "sta.pswd,data,string,secret123\n";
    nvsf_builder *b = new_builder(2);
    ns(b, "nvs.net80211");
    str(b, "sta.ssid", "MyNet");
    sta_extras(b);
    str(b, "sta.pswd", "secret123");
    uint8_t *exp = finish(b);
    /* Spot checks of the expected image itself: sta.apinfo is a blob of
     * 140 bytes, chunk 0 right after sta.ssid (entries 1, 2). */
    assert_int_equal(exp[64 + 3 * 32 + 1], 0x42);
    assert_memory_equal(exp + 64 + 3 * 32 + 8, "sta.apinfo", 11);
    assert_int_equal(exp[64 + 3 * 32 + 24], 140);
    same_image(run_csv_ok(csv, NULL), exp);
}

static void test_wifi_sta_pswd_first(void **state)
{
    (void)state;
    const char *csv = "key,type,encoding,value\n"
                      "w,namespace,,\n"
                      "sta.pswd,data,string,pw\n"
                      "other,data,u8,1\n"
                      "sta.ssid,data,string,net\n"
                      "w2,namespace,,\n"
                      "sta.ssid,data,string,net2\n";
    nvsf_builder *b = new_builder(2);
    ns(b, "w");
    str(b, "sta.pswd", "pw");
    sta_extras(b);
    uint_(b, "other", NVSF_TYPE_U8, 1);
    str(b, "sta.ssid", "net"); /* no second set, in any namespace */
    ns(b, "w2");
    str(b, "sta.ssid", "net2");
    same_image(run_csv_ok(csv, NULL), finish(b));
}

static void test_wifi_ap_authmode_last(void **state)
{
    (void)state;
    const char *csv = "key,type,encoding,value\n"
                      "nvs.net80211,namespace,,\n"
                      "ap.ssid,data,string,IEEE\n"
                      "ap.passwd,data,string,password\n"
                      "x,data,u8,7\n"
                      "ap.authmode,data,u8,3\n"
                      "y,data,u8,8\n";
    nvsf_builder *b = new_builder(2);
    ns(b, "nvs.net80211");
    str(b, "ap.ssid", "IEEE");
    str(b, "ap.passwd", "password");
    uint_(b, "x", NVSF_TYPE_U8, 7);
    ap_pmk_info(b, pmk_ieee); /* just before the key that completes the set */
    uint_(b, "ap.authmode", NVSF_TYPE_U8, 3);
    uint_(b, "y", NVSF_TYPE_U8, 8);
    same_image(run_csv_ok(csv, NULL), finish(b));
}

static void test_wifi_ap_passwd_last(void **state)
{
    (void)state;
    const char *csv = "key,type,encoding,value\n"
                      "nvs.net80211,namespace,,\n"
                      "ap.authmode,data,u8,4\n"
                      "ap.ssid,data,string,MyAP\n"
                      "ap.passwd,data,string,password1\n";
    nvsf_builder *b = new_builder(2);
    ns(b, "nvs.net80211");
    uint_(b, "ap.authmode", NVSF_TYPE_U8, 4);
    str(b, "ap.ssid", "MyAP");
    ap_pmk_info(b, pmk_myap);
    str(b, "ap.passwd", "password1");
    same_image(run_csv_ok(csv, NULL), finish(b));
}

/* ap.* keys set again, in a second namespace or in the same one: the
 * ap.pmk_info they make would be set twice; the message says where it
 * comes from, since no row names it. (Espressif's tool writes it twice, the
 * first time from one namespace's ssid and another's password.) */
static void test_wifi_ap_pmk_twice(void **state)
{
    (void)state;
    const char *needle[] = {
        "key 'ap.passwd': cannot write ap.pmk_info, which follows it as "
        "ESP-IDF's generator writes it whenever ap.ssid, ap.passwd or "
        "ap.authmode comes and all three are known (set each of them once, "
        "in one namespace): key 'ap.pmk_info' is already set in namespace "
        "'b'; a key may appear once per namespace",
        NULL};
    expect_csv_error("key,type,encoding,value\n"
                     "a,namespace,,\n"
                     "ap.ssid,data,string,MyAP\n"
                     "ap.passwd,data,string,password1\n"
                     "ap.authmode,data,u8,3\n"
                     "b,namespace,,\n"
                     "ap.ssid,data,string,MyAP\n"
                     "ap.passwd,data,string,password1\n",
                     NULL, NVSF_E_INPUT, "in.csv:8: ", needle);
}

static void test_wifi_ap_authmode_zero(void **state)
{
    (void)state;
    /* authmode 0 does not count: no ap.pmk_info. */
    const char *csv = "key,type,encoding,value\n"
                      "nvs.net80211,namespace,,\n"
                      "ap.ssid,data,string,MyAP\n"
                      "ap.authmode,data,u8,0\n"
                      "ap.passwd,data,string,password1\n";
    nvsf_builder *b = new_builder(2);
    ns(b, "nvs.net80211");
    str(b, "ap.ssid", "MyAP");
    uint_(b, "ap.authmode", NVSF_TYPE_U8, 0);
    str(b, "ap.passwd", "password1");
    same_image(run_csv_ok(csv, NULL), finish(b));

    /* Only two of the three: nothing either. */
    csv = "key,type,encoding,value\n"
          "nvs.net80211,namespace,,\n"
          "ap.ssid,data,string,MyAP\n"
          "ap.passwd,data,string,password1\n";
    b = new_builder(2);
    ns(b, "nvs.net80211");
    str(b, "ap.ssid", "MyAP");
    str(b, "ap.passwd", "password1");
    same_image(run_csv_ok(csv, NULL), finish(b));
}

static void test_wifi_ap_text_rules(void **state)
{
    (void)state;
    /* The reference looks at the text: "00" is not "0", so it counts; an
     * empty ssid does not count until a non-empty one comes. */
    const char *csv = "key,type,encoding,value\n"
                      "nvs.net80211,namespace,,\n"
                      "ap.authmode,data,u8,00\n"
                      "ap.ssid,data,string,\n"
                      "ap.passwd,data,string,password1\n"
                      "w2,namespace,,\n"
                      "ap.ssid,data,string,MyAP\n";
    nvsf_builder *b = new_builder(2);
    ns(b, "nvs.net80211");
    uint_(b, "ap.authmode", NVSF_TYPE_U8, 0);
    str(b, "ap.ssid", "");
    str(b, "ap.passwd", "password1");
    ns(b, "w2");
    ap_pmk_info(b, pmk_myap);
    str(b, "ap.ssid", "MyAP");
    same_image(run_csv_ok(csv, NULL), finish(b));

    /* A later authmode "0" keeps the one before; every ap.* key that comes
     * when all three count gets ap.pmk_info before it, in its namespace. */
    csv = "key,type,encoding,value\n"
          "nvs.net80211,namespace,,\n"
          "ap.ssid,data,string,MyAP\n"
          "ap.passwd,data,string,password1\n"
          "ap.authmode,data,u8,3\n"
          "w2,namespace,,\n"
          "ap.authmode,data,u8,0\n";
    b = new_builder(2);
    ns(b, "nvs.net80211");
    str(b, "ap.ssid", "MyAP");
    str(b, "ap.passwd", "password1");
    ap_pmk_info(b, pmk_myap);
    uint_(b, "ap.authmode", NVSF_TYPE_U8, 3);
    ns(b, "w2");
    ap_pmk_info(b, pmk_myap);
    uint_(b, "ap.authmode", NVSF_TYPE_U8, 0);
    same_image(run_csv_ok(csv, NULL), finish(b));
}

static void test_wifi_ap_from_files(void **state)
{
    (void)state;
    static const mem_file files[] = {{"ssid.txt", "MyAP", 4},
                                     {"pass.txt", "password1", 9}};
    mem_fs fs = {files, 2, 0, ""};
    const char *csv = "key,type,encoding,value\n"
                      "nvs.net80211,namespace,,\n"
                      "ap.ssid,file,string,ssid.txt\n"
                      "ap.authmode,data,u8,3\n"
                      "ap.passwd,file,string,pass.txt\n";
    nvsf_builder *b = new_builder(2);
    ns(b, "nvs.net80211");
    str(b, "ap.ssid", "MyAP");
    uint_(b, "ap.authmode", NVSF_TYPE_U8, 3);
    ap_pmk_info(b, pmk_myap);
    str(b, "ap.passwd", "password1");
    same_image(run_csv_ok(csv, &fs), finish(b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_all_encodings),
        cmocka_unit_test(test_csv_version1),
        cmocka_unit_test(test_csv_header_any_order),
        cmocka_unit_test(test_csv_header_missing_column),
        cmocka_unit_test(test_csv_header_only),
        cmocka_unit_test(test_csv_comments),
        cmocka_unit_test(test_csv_quoted_values),
        cmocka_unit_test(test_csv_crlf_and_short_namespace_rows),
        cmocka_unit_test(test_csv_extras_fill),
        cmocka_unit_test(test_csv_namespace_ignores_encoding_and_value),
        cmocka_unit_test(test_csv_bom_and_blank_lines),
        cmocka_unit_test(test_csv_unclosed_quote),
        cmocka_unit_test(test_csv_several_files),
        cmocka_unit_test(test_file_rows),
        cmocka_unit_test(test_file_missing),
        cmocka_unit_test(test_file_bad_content),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_rows_add_direct),
        cmocka_unit_test(test_wifi_sta),
        cmocka_unit_test(test_wifi_sta_pswd_first),
        cmocka_unit_test(test_wifi_ap_authmode_last),
        cmocka_unit_test(test_wifi_ap_passwd_last),
        cmocka_unit_test(test_wifi_ap_authmode_zero),
        cmocka_unit_test(test_wifi_ap_pmk_twice),
        cmocka_unit_test(test_wifi_ap_text_rules),
        cmocka_unit_test(test_wifi_ap_from_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
