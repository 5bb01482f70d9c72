/*
 * Value encodings (lib/value.h) and nvsf_parse_size: bounds and syntax of
 * every encoding. Expected values come from docs/format.md
 * ("The partition generator's CSV") and Python's int() syntax, not
 * from the implementation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "value.h"

/* ---- helpers ------------------------------------------------------------ */

static void int_ok(const char *text, enum nvsf_item_type type,
                   uint64_t expected)
{
    nvsf_error err = {0};
    uint64_t v = 0x5A5A5A5A5A5A5A5Aull;
    int rc = nvsf_parse_int(text, strlen(text), type, &v, &err);
    if (rc != 0)
        fail_msg("'%s' as %s: rc %d (%s)", text, nvsf_int_type_name(type), rc,
                 err.message);
    if (v != expected)
        fail_msg("'%s' as %s: got 0x%016llx, expected 0x%016llx", text,
                 nvsf_int_type_name(type), (unsigned long long)v,
                 (unsigned long long)expected);
}

static void int_bad(const char *text, enum nvsf_item_type type, int code)
{
    nvsf_error err = {0};
    uint64_t v = 0x5A5A5A5A5A5A5A5Aull;
    int rc = nvsf_parse_int(text, strlen(text), type, &v, &err);
    if (rc != code)
        fail_msg("'%s' as %s: rc %d, expected %d (%s)", text,
                 nvsf_int_type_name(type), rc, code, err.message);
    assert_int_equal(err.code, code);
    assert_true(err.message[0] != '\0');
}

static void int_msg(const char *text, enum nvsf_item_type type, int code,
                    const char *message)
{
    nvsf_error err = {0};
    uint64_t v = 0;
    assert_int_equal(nvsf_parse_int(text, strlen(text), type, &v, &err), code);
    assert_int_equal(err.code, code);
    assert_string_equal(err.message, message);
}

/* Decode with fn; on success compare with expected (exp_len bytes). */
typedef int (*decode_fn)(const char *, size_t, nvsf_buf *, nvsf_error *);

static void decode_ok(decode_fn fn, const char *text, const void *expected,
                      size_t exp_len)
{
    nvsf_buf out = {0};
    nvsf_error err = {0};
    int rc = fn(text, strlen(text), &out, &err);
    if (rc != 0)
        fail_msg("'%s': rc %d (%s)", text, rc, err.message);
    if (out.len != exp_len)
        fail_msg("'%s': %zu bytes, expected %zu", text, out.len, exp_len);
    if (exp_len)
        assert_memory_equal(out.data, expected, exp_len);
    nvsf_buf_free(&out);
}

static void decode_bad(decode_fn fn, const char *text, const char *needle)
{
    nvsf_buf out = {0};
    nvsf_error err = {0};
    int rc = fn(text, strlen(text), &out, &err);
    if (rc != NVSF_E_INPUT)
        fail_msg("'%s': rc %d, expected NVSF_E_INPUT", text, rc);
    assert_int_equal(err.code, NVSF_E_INPUT);
    if (needle && !strstr(err.message, needle))
        fail_msg("'%s': message '%s' lacks '%s'", text, err.message, needle);
    nvsf_buf_free(&out);
}

/* ---- integers: bounds --------------------------------------------------- */

static void test_int_bounds(void **state)
{
    (void)state;
    static const struct {
        enum nvsf_item_type type;
        const char *min, *max, *below, *above;
        uint64_t min_bits, max_bits;
    } t[] = {
        {NVSF_TYPE_U8, "0", "255", "-1", "256", 0, 0xFF},
        {NVSF_TYPE_I8, "-128", "127", "-129", "128", 0xFFFFFFFFFFFFFF80ull,
         0x7F},
        {NVSF_TYPE_U16, "0", "65535", "-1", "65536", 0, 0xFFFF},
        {NVSF_TYPE_I16, "-32768", "32767", "-32769", "32768",
         0xFFFFFFFFFFFF8000ull, 0x7FFF},
        {NVSF_TYPE_U32, "0", "4294967295", "-1", "4294967296", 0,
         0xFFFFFFFFull},
        {NVSF_TYPE_I32, "-2147483648", "2147483647", "-2147483649",
         "2147483648", 0xFFFFFFFF80000000ull, 0x7FFFFFFFull},
        {NVSF_TYPE_U64, "0", "18446744073709551615", "-1",
         "18446744073709551616", 0, 0xFFFFFFFFFFFFFFFFull},
        {NVSF_TYPE_I64, "-9223372036854775808", "9223372036854775807",
         "-9223372036854775809", "9223372036854775808",
         0x8000000000000000ull, 0x7FFFFFFFFFFFFFFFull},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int_ok(t[i].min, t[i].type, t[i].min_bits);
        int_ok(t[i].max, t[i].type, t[i].max_bits);
        int_bad(t[i].below, t[i].type, NVSF_E_RANGE);
        int_bad(t[i].above, t[i].type, NVSF_E_RANGE);
    }
}

static void test_int_far_out_of_range(void **state)
{
    (void)state;
    /* Far beyond 64 bits: still a range error, not a syntax error. */
    int_bad("99999999999999999999999999999", NVSF_TYPE_U64, NVSF_E_RANGE);
    int_bad("99999999999999999999999999999", NVSF_TYPE_I64, NVSF_E_RANGE);
    int_bad("-99999999999999999999999999999", NVSF_TYPE_I64, NVSF_E_RANGE);
    int_bad("-18446744073709551616", NVSF_TYPE_I64, NVSF_E_RANGE);
    int_bad("36893488147419103232", NVSF_TYPE_U8, NVSF_E_RANGE); /* 2^65 */
    int_bad("-5", NVSF_TYPE_U64, NVSF_E_RANGE);
}

static void test_int_range_messages(void **state)
{
    (void)state;
    int_msg("-129", NVSF_TYPE_I8, NVSF_E_RANGE,
            "value -129 is out of range for i8 (-128..127)");
    int_msg("256", NVSF_TYPE_U8, NVSF_E_RANGE,
            "value 256 is out of range for u8 (0..255)");
    int_msg("-1", NVSF_TYPE_U16, NVSF_E_RANGE,
            "value -1 is out of range for u16 (0..65535)");
    int_msg("18446744073709551616", NVSF_TYPE_U64, NVSF_E_RANGE,
            "value 18446744073709551616 is out of range for u64 "
            "(0..18446744073709551615)");
    int_msg("-9223372036854775809", NVSF_TYPE_I64, NVSF_E_RANGE,
            "value -9223372036854775809 is out of range for i64 "
            "(-9223372036854775808..9223372036854775807)");
}

/* ---- integers: Python int() syntax -------------------------------------- */

static void test_int_syntax_accepted(void **state)
{
    (void)state;
    int_ok(" 42 ", NVSF_TYPE_U8, 42);
    int_ok("\t42\r\n", NVSF_TYPE_U8, 42);
    int_ok("+5", NVSF_TYPE_I8, 5);
    int_ok("+5", NVSF_TYPE_U8, 5);
    int_ok("-0", NVSF_TYPE_U8, 0); /* int("-0") == 0, in range for u8 */
    int_ok("-0", NVSF_TYPE_I32, 0);
    int_ok("+0", NVSF_TYPE_U64, 0);
    int_ok("1_000", NVSF_TYPE_U16, 1000);
    int_ok("1_2_3", NVSF_TYPE_U16, 123);
    int_ok("-1_000", NVSF_TYPE_I16, (uint64_t)(int64_t)-1000);
    int_ok("007", NVSF_TYPE_U8, 7); /* int("007") == 7 */
    int_ok("  -12  ", NVSF_TYPE_I64, (uint64_t)(int64_t)-12);
    int_ok("18_446_744_073_709_551_615", NVSF_TYPE_U64, UINT64_MAX);

    /* The length argument is honoured: "12" read as its first byte. */
    nvsf_error err = {0};
    uint64_t v = 0;
    assert_int_equal(nvsf_parse_int("12", 1, NVSF_TYPE_U8, &v, &err), 0);
    assert_int_equal(v, 1);
}

static void test_int_syntax_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "1__0", "_1", "1_", "0x10", "", " ", "12a", "\xd9\xa1\xd9\xa2",
        "+", "-", "+-1", "-+1", "- 1", "1 2", "1.0", "1e3", "0b1", "_",
        "+_1", "1_ 2", "\xef\xbc\x91" /* fullwidth 1 */, "abc", "--1",
    };
    static const enum nvsf_item_type types[] = {NVSF_TYPE_U8, NVSF_TYPE_I8,
                                                NVSF_TYPE_U64, NVSF_TYPE_I64};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
            int_bad(bad[i], types[k], NVSF_E_INPUT);
}

static void test_int_syntax_message(void **state)
{
    (void)state;
    nvsf_error err = {0};
    uint64_t v = 0;
    assert_int_equal(nvsf_parse_int("12a", 3, NVSF_TYPE_U8, &v, &err),
                     NVSF_E_INPUT);
    assert_non_null(strstr(err.message, "12a"));
    assert_non_null(strstr(err.message, "u8"));
}

/* ---- hex2bin ------------------------------------------------------------ */

static void test_hex_decode(void **state)
{
    (void)state;
    decode_ok(nvsf_hex_decode, "0aFf", "\x0a\xff", 2);
    decode_ok(nvsf_hex_decode, "DEADbeef", "\xde\xad\xbe\xef", 4);
    decode_ok(nvsf_hex_decode, "00", "\x00", 1);
    decode_ok(nvsf_hex_decode, "0123456789abcdefABCDEF",
              "\x01\x23\x45\x67\x89\xab\xcd\xef\xab\xcd\xef", 11);
    decode_ok(nvsf_hex_decode, "  0102  ", "\x01\x02", 2);
    decode_ok(nvsf_hex_decode, "\t0102\r\n", "\x01\x02", 2);
    decode_ok(nvsf_hex_decode, "", "", 0);
    decode_ok(nvsf_hex_decode, "   ", "", 0);
}

static void test_hex_decode_rejected(void **state)
{
    (void)state;
    decode_bad(nvsf_hex_decode, "abc", NULL);            /* odd */
    decode_bad(nvsf_hex_decode, "a", NULL);              /* odd */
    decode_bad(nvsf_hex_decode, " 012 ", NULL);          /* odd once trimmed */
    decode_bad(nvsf_hex_decode, "01 02", NULL);          /* inner space */
    decode_bad(nvsf_hex_decode, "01  02", "position 3"); /* inner spaces */
    decode_bad(nvsf_hex_decode, "01zz", "'z' at position 3");
    decode_bad(nvsf_hex_decode, "0g", "'g' at position 2");
    decode_bad(nvsf_hex_decode, "0x12", "'x' at position 2");
    decode_bad(nvsf_hex_decode, "-1", "'-' at position 1");

    nvsf_buf out = {0};
    nvsf_error err = {0};
    assert_int_equal(nvsf_hex_decode("01zz", 4, &out, &err), NVSF_E_INPUT);
    assert_string_equal(err.message,
                        "hex2bin value has a non-hex character 'z' at "
                        "position 3");
    nvsf_buf_free(&out);
}

static void test_hex_decode_appends(void **state)
{
    (void)state;
    nvsf_buf out = {0};
    nvsf_error err = {0};
    assert_int_equal(nvsf_buf_append(&out, "AB", 2), 0);
    assert_int_equal(nvsf_hex_decode("4344", 4, &out, &err), 0);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.data, "ABCD", 4);
    nvsf_buf_free(&out);
}

/* ---- base64 ------------------------------------------------------------- */

static void test_base64_decode(void **state)
{
    (void)state;
    decode_ok(nvsf_base64_decode, "TWFu", "Man", 3);
    decode_ok(nvsf_base64_decode, "TWE=", "Ma", 2);
    decode_ok(nvsf_base64_decode, "TQ==", "M", 1);
    decode_ok(nvsf_base64_decode, "TWFuTWE=", "ManMa", 5);
    decode_ok(nvsf_base64_decode, "+/+/", "\xfb\xff\xbf", 3);
    decode_ok(nvsf_base64_decode, "AAAA", "\0\0\0", 3);
    decode_ok(nvsf_base64_decode, "aGVsbG8gd29ybGQ=", "hello world", 11);
    decode_ok(nvsf_base64_decode, "", "", 0);
    /* Line breaks and spaces are ignored. */
    decode_ok(nvsf_base64_decode, "TW\nFu", "Man", 3);
    decode_ok(nvsf_base64_decode, "TWFu\r\nTQ==\r\n", "ManM", 4);
    decode_ok(nvsf_base64_decode, " T W F u ", "Man", 3);
    decode_ok(nvsf_base64_decode, "TQ= =", "M", 1);
    decode_ok(nvsf_base64_decode, "\n\n", "", 0);
}

static void test_base64_rejected(void **state)
{
    (void)state;
    /* Missing padding. */
    decode_bad(nvsf_base64_decode, "TWE", NULL);
    decode_bad(nvsf_base64_decode, "TQ", NULL);
    decode_bad(nvsf_base64_decode, "TQ=", NULL);
    decode_bad(nvsf_base64_decode, "T", NULL);
    decode_bad(nvsf_base64_decode, "TWFuT", NULL);
    /* Characters outside the standard alphabet. */
    decode_bad(nvsf_base64_decode, "TW$u", "'$'");
    decode_bad(nvsf_base64_decode, "TW-u", "'-'");
    decode_bad(nvsf_base64_decode, "TW_u", "'_'");
    decode_bad(nvsf_base64_decode, "-TWFu", "'-'");
    decode_bad(nvsf_base64_decode, "TWF\xc3\xa9", NULL);
    /* Padding in the wrong place or data after it. */
    decode_bad(nvsf_base64_decode, "=", NULL);
    decode_bad(nvsf_base64_decode, "====", NULL);
    decode_bad(nvsf_base64_decode, "T===", NULL);
    decode_bad(nvsf_base64_decode, "TQ===", NULL);
    decode_bad(nvsf_base64_decode, "TWE==", NULL);
    decode_bad(nvsf_base64_decode, "TQ==TWFu", NULL);
    decode_bad(nvsf_base64_decode, "TWE=TWFu", NULL);
    decode_bad(nvsf_base64_decode, "TQ==\nTQ==", NULL);
    decode_bad(nvsf_base64_decode, "TQ=A", NULL);
}

/* ---- encoding names and blob_fill --------------------------------------- */

static void test_encoding_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum nvsf_encoding_kind kind;
        enum nvsf_item_type int_type;
    } t[] = {
        {"u8", NVSF_ENC_INT, NVSF_TYPE_U8},
        {"i8", NVSF_ENC_INT, NVSF_TYPE_I8},
        {"u16", NVSF_ENC_INT, NVSF_TYPE_U16},
        {"i16", NVSF_ENC_INT, NVSF_TYPE_I16},
        {"u32", NVSF_ENC_INT, NVSF_TYPE_U32},
        {"i32", NVSF_ENC_INT, NVSF_TYPE_I32},
        {"u64", NVSF_ENC_INT, NVSF_TYPE_U64},
        {"i64", NVSF_ENC_INT, NVSF_TYPE_I64},
        {"U8", NVSF_ENC_INT, NVSF_TYPE_U8},
        {"I64", NVSF_ENC_INT, NVSF_TYPE_I64},
        {"U32", NVSF_ENC_INT, NVSF_TYPE_U32},
        {"string", NVSF_ENC_STRING, 0},
        {"hex2bin", NVSF_ENC_HEX2BIN, 0},
        {"base64", NVSF_ENC_BASE64, 0},
        {"binary", NVSF_ENC_BINARY, 0},
        {"Binary", NVSF_ENC_BINARY, 0},
        {"BINARY", NVSF_ENC_BINARY, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        nvsf_encoding enc;
        nvsf_error err = {0};
        int rc = nvsf_encoding_parse(t[i].name, &enc, &err);
        if (rc)
            fail_msg("'%s': rc %d (%s)", t[i].name, rc, err.message);
        assert_int_equal(enc.kind, t[i].kind);
        if (t[i].kind == NVSF_ENC_INT)
            assert_int_equal(enc.int_type, t[i].int_type);
    }
}

static void test_float_values(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum nvsf_item_type type;
        uint64_t bits;
        const char *shown; /* nvsf_format_float */
    } ok[] = {
        {"1.5", NVSF_TYPE_FLOAT, 0x3fc00000u, "1.5"},
        {" -2.5e-3 ", NVSF_TYPE_FLOAT, 0xbb23d70au, "-0.0025"},
        {"0.1", NVSF_TYPE_FLOAT, 0x3dcccccdu, "0.1"},
        {"0.1", NVSF_TYPE_DOUBLE, UINT64_C(0x3fb999999999999a), "0.1"},
        {"-0", NVSF_TYPE_DOUBLE, UINT64_C(0x8000000000000000), "-0"},
        {"inf", NVSF_TYPE_FLOAT, 0x7f800000u, "inf"},
        {"-Infinity", NVSF_TYPE_DOUBLE, UINT64_C(0xfff0000000000000), "-inf"},
        {"1e-50", NVSF_TYPE_FLOAT, 0, "0"},
        {"3.4028235e38", NVSF_TYPE_FLOAT, 0x7f7fffffu, "3.4028235e+38"},
        {"1.7976931348623157e308", NVSF_TYPE_DOUBLE,
         UINT64_C(0x7fefffffffffffff), "1.7976931348623157e+308"},
        {"+12.", NVSF_TYPE_DOUBLE, UINT64_C(0x4028000000000000), "12"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t bits = 1;
        nvsf_error err = {0};
        int rc = nvsf_parse_float(ok[i].text, strlen(ok[i].text), ok[i].type,
                                  &bits, &err);
        if (rc || bits != ok[i].bits)
            fail_msg("'%s': rc %d bits 0x%llx (%s)", ok[i].text, rc,
                     (unsigned long long)bits, err.message);
        char out[40];
        nvsf_format_float(out, sizeof out, ok[i].type, bits);
        assert_string_equal(out, ok[i].shown);
    }
    static const char *const bad[] = {"nan", "NaN", "-nan(1)", "", "1.5x",
                                      "0x1p3", "1e", ".", "e5", "1,5", "1e400"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t bits;
        nvsf_error err = {0};
        assert_true(nvsf_parse_float(bad[i], strlen(bad[i]), NVSF_TYPE_DOUBLE,
                                     &bits, &err) < 0);
    }
    char out[40];
    nvsf_format_float(out, sizeof out, NVSF_TYPE_FLOAT, 0x7fc00000u);
    assert_string_equal(out, "nan");
}

static void test_encoding_unknown(void **state)
{
    (void)state;
    static const char *const bad[] = {"f32", "u128", "str", "hex", "b64",
                                      "bin", "int", "u 8", "blob", "u8x",
                                      "BLOB_FILL(16;0xff)"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nvsf_encoding enc;
        nvsf_error err = {0};
        int rc = nvsf_encoding_parse(bad[i], &enc, &err);
        if (rc != NVSF_E_INPUT)
            fail_msg("'%s': rc %d, expected NVSF_E_INPUT", bad[i], rc);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        if (!strstr(err.message, quoted))
            fail_msg("'%s': message '%s' does not name it", bad[i],
                     err.message);
    }
    nvsf_encoding enc;
    nvsf_error err = {0};
    /* Decoded encodings in another case: refused, saying how to write them. */
    assert_int_equal(nvsf_encoding_parse("STRING", &enc, &err), NVSF_E_INPUT);
    assert_string_equal(err.message,
                        "encoding 'STRING' must be written 'string': ESP-IDF's "
                        "generator would store the value undecoded");
    assert_int_equal(nvsf_encoding_parse("Hex2bin", &enc, &err), NVSF_E_INPUT);
    assert_int_equal(nvsf_encoding_parse("BASE64", &enc, &err), NVSF_E_INPUT);
    assert_int_equal(nvsf_encoding_parse("", &enc, &err), NVSF_E_INPUT);
    assert_int_equal(nvsf_encoding_parse(NULL, &enc, &err), NVSF_E_INPUT);
    assert_int_equal(nvsf_encoding_parse("float", &enc, &err), 0);
    assert_int_equal(enc.kind, NVSF_ENC_FLOAT);
    assert_int_equal(enc.int_type, NVSF_TYPE_FLOAT);
    assert_int_equal(nvsf_encoding_parse("Double", &enc, &err), 0);
    assert_int_equal(enc.int_type, NVSF_TYPE_DOUBLE);
    assert_int_equal(nvsf_encoding_parse("float64", &enc, &err), NVSF_E_INPUT);
    assert_non_null(strstr(err.message, "u64, i64, float, double, string"));
}

static void fill_ok(const char *name, enum nvsf_encoding_kind kind,
                    uint32_t n, uint8_t byte)
{
    nvsf_encoding enc;
    nvsf_error err = {0};
    int rc = nvsf_encoding_parse(name, &enc, &err);
    if (rc)
        fail_msg("'%s': rc %d (%s)", name, rc, err.message);
    assert_int_equal(enc.kind, kind);
    assert_int_equal(enc.fill_len, n);
    assert_int_equal(enc.fill_byte, byte);
}

static void test_fill_parse(void **state)
{
    (void)state;
    fill_ok("blob_fill(16;0xff)", NVSF_ENC_BLOB_FILL, 16, 0xFF);
    fill_ok("blob_fill(16;0xaB)", NVSF_ENC_BLOB_FILL, 16, 0xAB);
    fill_ok("blob_fill(8;0x20)", NVSF_ENC_BLOB_FILL, 8, 0x20);
    fill_ok("blob_fill(0;0x00)", NVSF_ENC_BLOB_FILL, 0, 0x00);
    fill_ok("blob_sz_fill(12;0x00)", NVSF_ENC_BLOB_SZ_FILL, 12, 0x00);
    fill_ok("blob_sz_fill(300;0x7E)", NVSF_ENC_BLOB_SZ_FILL, 300, 0x7E);
    fill_ok("blob_fill(508000;0x01)", NVSF_ENC_BLOB_FILL, 508000, 0x01);
    fill_ok("blob_sz_fill(508000;0x01)", NVSF_ENC_BLOB_SZ_FILL, 508000, 0x01);
}

static void test_fill_parse_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "blob_fill(16)",
        "blob_fill(;0xff)",
        "blob_fill(16;ff)",
        "blob_fill(16;0x)",
        "blob_fill(16;0x0)",
        "blob_fill(16;0X00)",
        "blob_fill(16;0xfff)",
        "blob_fill(16;0xff)x",
        "blob_fill(16;0xff) ",
        "blob_fill(16;0xff))",
        "blob_fill(16;0xff",
        "blob_fill(16;0xgg)",
        "blob_fill(16,0xff)",
        "blob_fill(-1;0xff)",
        "blob_fill( 16;0xff)",
        "blob_fill(16; 0xff)",
        "blob_fill(0x10;0xff)",
        "blob_fill()",
        "blob_fill(",
        "blob_fill(508001;0xff)",
        "blob_fill(1000000;0xff)",
        "blob_fill(99999999999999999999999;0xff)",
        "blob_sz_fill(16)",
        "blob_sz_fill(16;0x)",
        "blob_sz_fill(16;0xfff)",
        "blob_sz_fill(508001;0x00)",
        "blob_sz_fill(16;0x00)junk",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nvsf_encoding enc;
        nvsf_error err = {0};
        int rc = nvsf_encoding_parse(bad[i], &enc, &err);
        if (rc != NVSF_E_INPUT)
            fail_msg("'%s': rc %d, expected NVSF_E_INPUT", bad[i], rc);
        if (!strstr(err.message, bad[i]))
            fail_msg("'%s': message '%s' does not name it", bad[i],
                     err.message);
    }
}

static void fill_apply(const char *name, const char *value, const void *exp,
                       size_t exp_len)
{
    nvsf_encoding enc;
    nvsf_error err = {0};
    nvsf_buf out = {0};
    assert_int_equal(nvsf_encoding_parse(name, &enc, &err), 0);
    int rc = nvsf_fill_blob(&enc, (const uint8_t *)value, strlen(value), &out,
                            &err);
    if (rc)
        fail_msg("%s '%s': rc %d (%s)", name, value, rc, err.message);
    if (out.len != exp_len)
        fail_msg("%s '%s': %zu bytes, expected %zu", name, value, out.len,
                 exp_len);
    if (exp_len)
        assert_memory_equal(out.data, exp, exp_len);
    nvsf_buf_free(&out);
}

static void fill_too_long(const char *name, const char *value)
{
    nvsf_encoding enc;
    nvsf_error err = {0};
    nvsf_buf out = {0};
    assert_int_equal(nvsf_encoding_parse(name, &enc, &err), 0);
    assert_int_equal(nvsf_fill_blob(&enc, (const uint8_t *)value,
                                    strlen(value), &out, &err),
                     NVSF_E_INPUT);
    assert_int_equal(err.code, NVSF_E_INPUT);
    nvsf_buf_free(&out);
}

static void test_fill_apply(void **state)
{
    (void)state;
    /* blob_fill: value padded with PP to N bytes. */
    fill_apply("blob_fill(8;0xaa)", "abc", "abc\xaa\xaa\xaa\xaa\xaa", 8);
    fill_apply("blob_fill(8;0xaa)", "abcdefgh", "abcdefgh", 8);
    fill_apply("blob_fill(8;0xaa)", "", "\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa", 8);
    fill_apply("blob_fill(16;0xff)", "abc",
               "abc\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 16);
    fill_apply("blob_fill(8;0x20)", "", "        ", 8);
    fill_too_long("blob_fill(8;0xaa)", "abcdefghi");
    fill_too_long("blob_fill(0;0xaa)", "a");

    /* blob_sz_fill: u32 length, the value, PP up to N value bytes. */
    fill_apply("blob_sz_fill(12;0x00)", "hello",
               "\x05\x00\x00\x00hello\0\0\0\0\0\0\0", 16);
    fill_apply("blob_sz_fill(8;0x5a)", "abcdefgh",
               "\x08\x00\x00\x00"
               "abcdefgh",
               12);
    fill_apply("blob_sz_fill(4;0x5a)", "", "\0\0\0\0\x5a\x5a\x5a\x5a", 8);
    fill_too_long("blob_sz_fill(8;0x5a)", "abcdefghi");

    /* A length above 255 shows the u32 is little-endian. */
    char value[301];
    memset(value, 'v', 300);
    value[300] = '\0';
    nvsf_encoding enc;
    nvsf_error err = {0};
    nvsf_buf out = {0};
    assert_int_equal(nvsf_encoding_parse("blob_sz_fill(400;0x7e)", &enc, &err),
                     0);
    assert_int_equal(nvsf_fill_blob(&enc, (const uint8_t *)value, 300, &out,
                                    &err),
                     0);
    assert_int_equal(out.len, 404);
    const uint8_t *p = (const uint8_t *)out.data;
    assert_memory_equal(p, "\x2c\x01\x00\x00", 4);
    for (size_t i = 4; i < 304; i++)
        assert_int_equal(p[i], 'v');
    for (size_t i = 304; i < 404; i++)
        assert_int_equal(p[i], 0x7e);
    nvsf_buf_free(&out);
}

/* ---- nvsf_parse_size ---------------------------------------------------- */

static void size_ok(const char *text, uint32_t expected)
{
    nvsf_error err = {0};
    uint32_t size = 0;
    int rc = nvsf_parse_size(text, &size, &err);
    if (rc)
        fail_msg("'%s': rc %d (%s)", text, rc, err.message);
    assert_int_equal(size, expected);
}

static void test_parse_size(void **state)
{
    (void)state;
    size_ok("0x3000", 0x3000);
    size_ok("12288", 0x3000);
    size_ok(" 0x1000 ", 0x1000);
    size_ok("0X2000", 0x2000);
    size_ok("4096", 0x1000);
    size_ok("0x10000", 0x10000);
    size_ok("0xABC000", 0xABC000);
    size_ok("0x8000000", 0x8000000); /* 128 MiB, the largest */
    /* The rest of what Python's int(text, 0) reads, as the reference does. */
    size_ok("0o30000", 0x3000);
    size_ok("0B11000000000000", 0x3000);
    size_ok("12_288", 0x3000);
    size_ok("0x_3_000", 0x3000);
    size_ok("+0x3000", 0x3000);
}

static void test_parse_size_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "0x2800", "0", "4095", "abc", "", "0x", "-4096", "0x10000000",
        "0x8001000", "134221824", " ", "0x1000x", "4096 4096", "1e4",
        "0x-1000", "99999999999999999999999999", "0x0", "012288", "00",
        "0x3__000", "_12288", "12288_", "0x__3000", "0o8000", "0b2", "+-12288",
        "0o", "0b", "-0x3000", "0x3000_",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nvsf_error err = {0};
        uint32_t size = 0x5A5A;
        int rc = nvsf_parse_size(bad[i], &size, &err);
        if (rc >= 0)
            fail_msg("'%s' accepted as 0x%x", bad[i], size);
        assert_int_equal(err.code, rc);
        assert_true(err.message[0] != '\0');
    }
    nvsf_error err = {0};
    uint32_t size = 0;
    assert_true(nvsf_parse_size(NULL, &size, &err) < 0);
    assert_int_equal(nvsf_parse_size("012288", &size, &err), NVSF_E_INPUT);
    assert_string_equal(err.message,
                        "size '012288' starts with 0: write it in decimal "
                        "without leading zeros or in 0x hex, e.g. 0x3000");
}

/* ---- UTF-8 -------------------------------------------------------------- */

static int utf8(const char *s)
{
    return nvsf_utf8_valid((const uint8_t *)s, strlen(s));
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(utf8(""));
    assert_true(utf8("hello, world"));
    assert_true(utf8("\x7f"));
    assert_true(utf8("\xc2\x80"));         /* U+0080 */
    assert_true(utf8("\xc3\xa9"));         /* é */
    assert_true(utf8("\xdf\xbf"));         /* U+07FF */
    assert_true(utf8("\xe0\xa0\x80"));     /* U+0800 */
    assert_true(utf8("\xe2\x82\xac"));     /* € */
    assert_true(utf8("\xed\x9f\xbf"));     /* U+D7FF */
    assert_true(utf8("\xee\x80\x80"));     /* U+E000 */
    assert_true(utf8("\xef\xbf\xbf"));     /* U+FFFF */
    assert_true(utf8("\xf0\x90\x80\x80")); /* U+10000 */
    assert_true(utf8("\xf0\x9f\x98\x80")); /* 😀 */
    assert_true(utf8("\xf4\x8f\xbf\xbf")); /* U+10FFFF */
    assert_true(utf8("a\xc3\xa9z\xe2\x82\xac\xf0\x9f\x98\x80!"));
    assert_true(nvsf_utf8_valid((const uint8_t *)"a\0b", 3));
}

static void test_utf8_invalid(void **state)
{
    (void)state;
    /* Overlong forms. */
    assert_false(utf8("\xc0\x80"));
    assert_false(utf8("\xc1\xbf"));
    assert_false(utf8("\xe0\x80\x80"));
    assert_false(utf8("\xe0\x9f\xbf"));
    assert_false(utf8("\xf0\x80\x80\x80"));
    assert_false(utf8("\xf0\x8f\xbf\xbf"));
    /* Surrogates. */
    assert_false(utf8("\xed\xa0\x80"));
    assert_false(utf8("\xed\xbf\xbf"));
    assert_false(utf8("\xed\xb0\x80"));
    /* Truncated sequences, at the end and in the middle. */
    assert_false(utf8("\xc3"));
    assert_false(utf8("a\xc3"));
    assert_false(utf8("\xe2\x82"));
    assert_false(utf8("\xf0\x9f\x98"));
    assert_false(utf8("\xc3z"));
    assert_false(utf8("\xe2\x82z"));
    assert_false(utf8("\xf0\x9f\x98z"));
    /* Beyond U+10FFFF and bytes that never start a sequence. */
    assert_false(utf8("\xf4\x90\x80\x80"));
    assert_false(utf8("\xf5\x80\x80\x80"));
    assert_false(utf8("\xf8\x88\x80\x80\x80"));
    assert_false(utf8("\xfe"));
    assert_false(utf8("\xff"));
    /* Lone continuation bytes. */
    assert_false(utf8("\x80"));
    assert_false(utf8("a\xbf"));
    assert_false(utf8("\xc3\xa9\xa9"));
    /* The length argument bounds the check. */
    assert_false(nvsf_utf8_valid((const uint8_t *)"\xc3\xa9", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_bounds),
        cmocka_unit_test(test_int_far_out_of_range),
        cmocka_unit_test(test_int_range_messages),
        cmocka_unit_test(test_int_syntax_accepted),
        cmocka_unit_test(test_int_syntax_rejected),
        cmocka_unit_test(test_int_syntax_message),
        cmocka_unit_test(test_hex_decode),
        cmocka_unit_test(test_hex_decode_rejected),
        cmocka_unit_test(test_hex_decode_appends),
        cmocka_unit_test(test_base64_decode),
        cmocka_unit_test(test_base64_rejected),
        cmocka_unit_test(test_encoding_names),
        cmocka_unit_test(test_encoding_unknown),
        cmocka_unit_test(test_float_values),
        cmocka_unit_test(test_fill_parse),
        cmocka_unit_test(test_fill_parse_rejected),
        cmocka_unit_test(test_fill_apply),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_size_rejected),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
