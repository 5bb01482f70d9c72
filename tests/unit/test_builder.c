/*
 * The image builder, byte-exact against docs/format.md: page
 * headers, entries, bitmaps, and where items land at page boundaries. Every
 * expected byte is built here from the rules (own entry/header/bitmap
 * helpers); the library is used only for nvsf_crc32 and the code under test.
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

#define PAGE 4096u
#define ENTRIES 126u
#define CHUNK_ANY 0xFFu

#define T_U8 0x01
#define T_I8 0x11
#define T_U16 0x02
#define T_I16 0x12
#define T_U32 0x04
#define T_I32 0x14
#define T_U64 0x08
#define T_I64 0x18
#define T_STR 0x21
#define T_BLOB1 0x41
#define T_BLOB_DATA 0x42
#define T_BLOB_INDEX 0x48

/* ---- helpers: expected bytes from the rules ----------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static const uint8_t *page_at(const uint8_t *img, unsigned page)
{
    return img + (size_t)page * PAGE;
}

static const uint8_t *entry_at(const uint8_t *img, unsigned page, unsigned i)
{
    return page_at(img, page) + 64 + i * 32;
}

/* An entry: CRC32 over bytes 0..3 followed by bytes 8..31. */
static void make_entry(uint8_t e[32], uint8_t ns, uint8_t type, uint8_t span,
                       uint8_t chunk, const char *key, const uint8_t data[8])
{
    e[0] = ns;
    e[1] = type;
    e[2] = span;
    e[3] = chunk;
    memset(e + 8, 0, 16);
    memcpy(e + 8, key, strlen(key));
    memcpy(e + 24, data, 8);
    uint8_t crcin[28];
    memcpy(crcin, e, 4);
    memcpy(crcin + 4, e + 8, 24);
    put32(e + 4, nvsf_crc32(crcin, sizeof crcin));
}

static void check_entry(const uint8_t *img, unsigned page, unsigned idx,
                        uint8_t ns, uint8_t type, uint8_t span, uint8_t chunk,
                        const char *key, const uint8_t data[8])
{
    uint8_t e[32];
    make_entry(e, ns, type, span, chunk, key, data);
    const uint8_t *got = entry_at(img, page, idx);
    if (memcmp(got, e, 32) != 0) {
        char g[97], x[97];
        for (unsigned i = 0; i < 32; i++) {
            snprintf(g + 3 * i, 4, "%02x ", got[i]);
            snprintf(x + 3 * i, 4, "%02x ", e[i]);
        }
        fail_msg("page %u entry %u (key '%s'):\n got      %s\n expected %s",
                 page, idx, key, g, x);
    }
}

/* Integer data field: value LE in `width` bytes, the rest 0xFF. */
static void int_data(uint8_t d[8], uint64_t v, unsigned width)
{
    memset(d, 0xFF, 8);
    for (unsigned i = 0; i < width; i++)
        d[i] = (uint8_t)(v >> (8 * i));
}

/* String / blob v1 / blob chunk data field: length u16, FFFF, CRC32. */
static void var_data(uint8_t d[8], const void *value, size_t len)
{
    d[0] = (uint8_t)len;
    d[1] = (uint8_t)(len >> 8);
    d[2] = d[3] = 0xFF;
    put32(d + 4, nvsf_crc32(value, len));
}

/* Blob index data field: total size u32, chunk count, first chunk 0, FFFF. */
static void index_data(uint8_t d[8], uint32_t total, uint8_t chunks)
{
    put32(d, total);
    d[4] = chunks;
    d[5] = 0;
    d[6] = d[7] = 0xFF;
}

/* The value bytes in the entries from `idx` on, the last one 0xFF-padded. */
static void check_value_entries(const uint8_t *img, unsigned page,
                                unsigned idx, const void *value, size_t len)
{
    const uint8_t *p = entry_at(img, page, idx);
    if (len)
        assert_memory_equal(p, value, len);
    size_t padded = (len + 31) / 32 * 32;
    for (size_t i = len; i < padded; i++)
        if (p[i] != 0xFF)
            fail_msg("page %u: padding byte %zu after the value is 0x%02x",
                     page, i - len, p[i]);
}

/* Page header: state, sequence = page, version, 19 x FF, CRC of 4..27. */
static void check_header(const uint8_t *img, unsigned page, uint32_t state,
                         uint8_t version)
{
    uint8_t h[32];
    put32(h, state);
    put32(h + 4, page);
    h[8] = version;
    memset(h + 9, 0xFF, 19);
    put32(h + 28, nvsf_crc32(h + 4, 24));
    const uint8_t *got = page_at(img, page);
    if (memcmp(got, h, 32) != 0)
        fail_msg("page %u header: state %08x seq %u version %02x crc %08x; "
                 "expected state %08x seq %u version %02x crc %08x",
                 page, get32(got), get32(got + 4), got[8], get32(got + 28),
                 state, page, version, get32(h + 28));
}

static unsigned bitmap_state(const uint8_t *img, unsigned page, unsigned i)
{
    return (page_at(img, page)[32 + i / 4] >> (2 * (i % 4))) & 3u;
}

/* Entries [0, n) written (10), [n, 126) empty (11), and the two unused
 * bitmap slots 126 and 127 ones. */
static void check_bitmap(const uint8_t *img, unsigned page, unsigned n)
{
    for (unsigned i = 0; i < 128; i++) {
        unsigned want = i < n ? 2u : 3u;
        if (bitmap_state(img, page, i) != want)
            fail_msg("page %u bitmap entry %u: state %u, expected %u", page, i,
                     bitmap_state(img, page, i), want);
    }
}

/* Entries [from, 126) of a page are all 0xFF. */
static void check_free_entries(const uint8_t *img, unsigned page,
                               unsigned from)
{
    const uint8_t *p = entry_at(img, page, from);
    for (size_t i = 0; i < (size_t)(ENTRIES - from) * 32; i++)
        if (p[i] != 0xFF)
            fail_msg("page %u: free entry %zu byte %zu is 0x%02x", page,
                     from + i / 32, i % 32, p[i]);
}

/* Pages [from, to) are erased. */
static void check_erased_pages(const uint8_t *img, unsigned from, unsigned to)
{
    for (size_t i = (size_t)from * PAGE; i < (size_t)to * PAGE; i++)
        if (img[i] != 0xFF)
            fail_msg("erased page %zu: byte %zu is 0x%02x", i / PAGE,
                     i % PAGE, img[i]);
}

static nvsf_builder *new_builder(uint32_t size, int version)
{
    nvsf_builder *b = NULL;
    nvsf_error err = {0};
    int rc = nvsf_builder_new(&b, size, version, NULL, &err);
    if (rc)
        fail_msg("nvsf_builder_new(0x%x, %d): %d %s", size, version, rc,
                 err.message);
    assert_non_null(b);
    return b;
}

static nvsf_error g_err;

static void ok(int rc)
{
    if (rc)
        fail_msg("unexpected error %d: %s", rc, g_err.message);
}

/* Finish into a fresh buffer of `size` bytes, prefilled with a marker so
 * that unwritten bytes show. */
static uint8_t *finish(nvsf_builder *b, uint32_t size)
{
    uint8_t *img = malloc(size);
    assert_non_null(img);
    memset(img, 0x5A, size);
    ok(nvsf_builder_finish(b, img, &g_err));
    return img;
}

static void ns(nvsf_builder *b, const char *name)
{
    ok(nvsf_builder_namespace(b, name, &g_err));
}

static void add_u8(nvsf_builder *b, const char *key, uint8_t v)
{
    ok(nvsf_builder_add_uint(b, key, NVSF_TYPE_U8, v, &g_err));
}

/* n u8 entries "k<first>".."k<first+n-1>" with value = index & 0xFF. */
static void add_u8s(nvsf_builder *b, unsigned first, unsigned n)
{
    char key[16];
    for (unsigned i = first; i < first + n; i++) {
        snprintf(key, sizeof key, "k%u", i);
        add_u8(b, key, (uint8_t)i);
    }
}

static void check_u8s(const uint8_t *img, unsigned page, unsigned idx,
                      uint8_t nsi, unsigned first, unsigned n)
{
    char key[16];
    uint8_t d[8];
    for (unsigned i = first; i < first + n; i++) {
        snprintf(key, sizeof key, "k%u", i);
        int_data(d, (uint8_t)i, 1);
        check_entry(img, page, idx++, nsi, T_U8, 1, CHUNK_ANY, key, d);
    }
}

static void check_ns_entry(const uint8_t *img, unsigned page, unsigned idx,
                           const char *name, uint8_t index)
{
    uint8_t d[8];
    int_data(d, index, 1);
    check_entry(img, page, idx, 0, T_U8, 1, CHUNK_ANY, name, d);
}

static uint8_t *pattern(size_t len, unsigned seed)
{
    uint8_t *p = malloc(len ? len : 1);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
    return p;
}

static char *text(size_t len, char c)
{
    char *s = malloc(len + 1);
    assert_non_null(s);
    memset(s, c, len);
    s[len] = '\0';
    return s;
}

/* ---- checksums ---------------------------------------------------------- */

static void test_crc32_check_value(void **state)
{
    (void)state;
    assert_int_equal(nvsf_crc32("123456789", 9), 0xd202d277u);
}

/* ---- empty images ------------------------------------------------------- */

static void test_empty_image(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {0x1000, 0x2000, 0x3000, 0x10000};
    for (int version = 1; version <= 2; version++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            uint32_t size = sizes[s];
            nvsf_builder *b = new_builder(size, version);
            assert_int_equal(nvsf_builder_pages_used(b), 1);
            uint8_t *img = finish(b, size);
            nvsf_builder_free(b);
            check_header(img, 0, 0xFFFFFFFEu, version == 2 ? 0xFE : 0xFF);
            /* Explicitly: the CRC covers bytes 4..27 only. */
            uint8_t crcin[24] = {0, 0, 0, 0};
            crcin[4] = version == 2 ? 0xFE : 0xFF;
            memset(crcin + 5, 0xFF, 19);
            assert_int_equal(get32(img + 28), nvsf_crc32(crcin, 24));
            check_bitmap(img, 0, 0);
            check_free_entries(img, 0, 0);
            check_erased_pages(img, 1, size / PAGE);
            free(img);
        }
    }
}

/* ---- entries ------------------------------------------------------------ */

static void test_namespace_entries(void **state)
{
    (void)state;
    nvsf_builder *b = new_builder(0x3000, 2);
    ns(b, "storage");
    ns(b, "other");
    ns(b, "fifteen_chars_x"); /* 15 bytes: no NUL inside the key field */
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);

    /* Spelled out once: 00 01 01 ff crc "storage" 00.. 01 ff.. */
    static const uint8_t storage_head[4] = {0x00, 0x01, 0x01, 0xFF};
    assert_memory_equal(entry_at(img, 0, 0), storage_head, 4);
    assert_memory_equal(entry_at(img, 0, 0) + 8, "storage\0\0\0\0\0\0\0\0\0",
                        16);
    static const uint8_t one[8] = {1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    assert_memory_equal(entry_at(img, 0, 0) + 24, one, 8);

    check_ns_entry(img, 0, 0, "storage", 1);
    check_ns_entry(img, 0, 1, "other", 2);
    check_ns_entry(img, 0, 2, "fifteen_chars_x", 3);
    assert_int_equal(entry_at(img, 0, 2)[8 + 15], 0);
    /* Entries 0, 1, 2 written: bits 00..05 = 10 10 10 -> 0b11101010. */
    assert_int_equal(img[32], 0xEA);
    check_bitmap(img, 0, 3);
    check_free_entries(img, 0, 3);
    check_header(img, 0, 0xFFFFFFFEu, 0xFE);
    check_erased_pages(img, 1, 3);
    free(img);
}

static void test_integer_entries(void **state)
{
    (void)state;
    nvsf_builder *b = new_builder(0x3000, 2);
    ns(b, "ints");
    ok(nvsf_builder_add_uint(b, "u8", NVSF_TYPE_U8, 0xAB, &g_err));
    ok(nvsf_builder_add_int(b, "i8", NVSF_TYPE_I8, -2, &g_err));
    ok(nvsf_builder_add_uint(b, "u16", NVSF_TYPE_U16, 0x1234, &g_err));
    ok(nvsf_builder_add_int(b, "i16", NVSF_TYPE_I16, -32768, &g_err));
    ok(nvsf_builder_add_uint(b, "u32", NVSF_TYPE_U32, 0x12345678, &g_err));
    ok(nvsf_builder_add_int(b, "i32", NVSF_TYPE_I32, -0x12345678, &g_err));
    ok(nvsf_builder_add_uint(b, "u64", NVSF_TYPE_U64, 0x0123456789ABCDEFull,
                             &g_err));
    ok(nvsf_builder_add_int(b, "i64", NVSF_TYPE_I64, INT64_MIN, &g_err));
    /* Crossed calls: unsigned type through add_int, signed via add_uint. */
    ok(nvsf_builder_add_int(b, "u8b", NVSF_TYPE_U8, 255, &g_err));
    ok(nvsf_builder_add_uint(b, "i8b", NVSF_TYPE_I8, 127, &g_err));
    ok(nvsf_builder_add_uint(b, "u64max", NVSF_TYPE_U64, UINT64_MAX, &g_err));
    ok(nvsf_builder_add_int(b, "i32z", NVSF_TYPE_I32, 0, &g_err));
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);

    static const struct {
        const char *key;
        uint8_t type;
        uint8_t data[8];
    } t[] = {
        {"u8", T_U8, {0xAB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
        {"i8", T_I8, {0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
        {"u16", T_U16, {0x34, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
        {"i16", T_I16, {0x00, 0x80, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
        {"u32", T_U32, {0x78, 0x56, 0x34, 0x12, 0xFF, 0xFF, 0xFF, 0xFF}},
        {"i32", T_I32, {0x88, 0xA9, 0xCB, 0xED, 0xFF, 0xFF, 0xFF, 0xFF}},
        {"u64", T_U64, {0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01}},
        {"i64", T_I64, {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80}},
        {"u8b", T_U8, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
        {"i8b", T_I8, {0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
        {"u64max", T_U64, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
        {"i32z", T_I32, {0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF}},
    };
    check_ns_entry(img, 0, 0, "ints", 1);
    for (unsigned i = 0; i < sizeof t / sizeof t[0]; i++)
        check_entry(img, 0, 1 + i, 1, t[i].type, 1, CHUNK_ANY, t[i].key,
                    t[i].data);
    /* 13 entries: bytes 32..34 all "10" pairs, byte 35 only entry 12. */
    assert_int_equal(img[32], 0xAA);
    assert_int_equal(img[33], 0xAA);
    assert_int_equal(img[34], 0xAA);
    assert_int_equal(img[35], 0xFE);
    assert_int_equal(img[36], 0xFF);
    check_bitmap(img, 0, 13);
    check_free_entries(img, 0, 13);
    free(img);
}

static void test_integer_range(void **state)
{
    (void)state;
    nvsf_builder *b = new_builder(0x3000, 2);
    nvsf_error err = {0};
    ns(b, "r");
    assert_int_equal(nvsf_builder_add_int(b, "a", NVSF_TYPE_U8, 256, &err),
                     NVSF_E_RANGE);
    assert_int_equal(err.code, NVSF_E_RANGE);
    assert_non_null(strstr(err.message, "'a'"));
    assert_int_equal(nvsf_builder_add_int(b, "a", NVSF_TYPE_U8, -1, &err),
                     NVSF_E_RANGE);
    assert_int_equal(nvsf_builder_add_int(b, "a", NVSF_TYPE_I8, -129, &err),
                     NVSF_E_RANGE);
    assert_int_equal(nvsf_builder_add_int(b, "a", NVSF_TYPE_I8, 128, &err),
                     NVSF_E_RANGE);
    assert_int_equal(nvsf_builder_add_uint(b, "a", NVSF_TYPE_I8, 128, &err),
                     NVSF_E_RANGE);
    assert_int_equal(nvsf_builder_add_int(b, "a", NVSF_TYPE_U16, 65536, &err),
                     NVSF_E_RANGE);
    assert_int_equal(nvsf_builder_add_int(b, "a", NVSF_TYPE_I16, -32769, &err),
                     NVSF_E_RANGE);
    assert_int_equal(
        nvsf_builder_add_uint(b, "a", NVSF_TYPE_U32, 0x100000000ull, &err),
        NVSF_E_RANGE);
    assert_int_equal(
        nvsf_builder_add_int(b, "a", NVSF_TYPE_I32, -2147483649ll, &err),
        NVSF_E_RANGE);
    assert_int_equal(nvsf_builder_add_int(b, "a", NVSF_TYPE_U64, -1, &err),
                     NVSF_E_RANGE);
    assert_int_equal(
        nvsf_builder_add_uint(b, "a", NVSF_TYPE_I64, 0x8000000000000000ull, &err),
        NVSF_E_RANGE);
    assert_int_equal(nvsf_builder_add_int(b, "a", NVSF_TYPE_STRING, 1, &err),
                     NVSF_E_USAGE);
    assert_int_equal(nvsf_builder_add_uint(b, "a", NVSF_TYPE_BLOB, 1, &err),
                     NVSF_E_USAGE);
    /* A rejected value leaves the key free and the page untouched. */
    ok(nvsf_builder_add_int(b, "a", NVSF_TYPE_I8, -128, &g_err));
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);
    uint8_t d[8];
    int_data(d, 0x80, 1);
    check_entry(img, 0, 1, 1, T_I8, 1, CHUNK_ANY, "a", d);
    check_bitmap(img, 0, 2);
    free(img);
}

/* ---- integers at page boundaries ---------------------------------------- */

static void test_integers_fill_page(void **state)
{
    (void)state;
    nvsf_builder *b = new_builder(0x3000, 2);
    ns(b, "n");
    add_u8s(b, 0, 125);
    assert_int_equal(nvsf_builder_pages_used(b), 1);
    nvsf_builder *b2 = new_builder(0x3000, 2);
    ns(b2, "n");
    add_u8s(b2, 0, 125);
    uint8_t *img = finish(b2, 0x3000);
    nvsf_builder_free(b2);
    /* 126 entries on page 0, still the active page. */
    check_header(img, 0, 0xFFFFFFFEu, 0xFE);
    check_ns_entry(img, 0, 0, "n", 1);
    check_u8s(img, 0, 1, 1, 0, 125);
    check_bitmap(img, 0, 126);
    for (unsigned i = 32; i < 63; i++)
        assert_int_equal(img[i], 0xAA);
    assert_int_equal(img[63], 0xFA);
    check_erased_pages(img, 1, 3);
    free(img);

    /* The 127th item goes to page 1; page 0 becomes full. */
    add_u8s(b, 125, 1);
    assert_int_equal(nvsf_builder_pages_used(b), 2);
    img = finish(b, 0x3000);
    nvsf_builder_free(b);
    check_header(img, 0, 0xFFFFFFFCu, 0xFE);
    check_header(img, 1, 0xFFFFFFFEu, 0xFE);
    check_u8s(img, 0, 1, 1, 0, 125);
    check_bitmap(img, 0, 126);
    check_u8s(img, 1, 0, 1, 125, 1);
    check_bitmap(img, 1, 1);
    check_free_entries(img, 1, 1);
    check_erased_pages(img, 2, 3);
    free(img);
}

static void test_namespace_moves_when_page_full(void **state)
{
    (void)state;
    nvsf_builder *b = new_builder(0x3000, 2);
    ns(b, "a");
    add_u8s(b, 0, 125);
    ns(b, "b");
    add_u8(b, "x", 7);
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);
    check_header(img, 0, 0xFFFFFFFCu, 0xFE);
    check_header(img, 1, 0xFFFFFFFEu, 0xFE);
    check_ns_entry(img, 1, 0, "b", 2);
    uint8_t d[8];
    int_data(d, 7, 1);
    check_entry(img, 1, 1, 2, T_U8, 1, CHUNK_ANY, "x", d);
    check_bitmap(img, 1, 2);
    free(img);
}

/* ---- strings ------------------------------------------------------------ */

static void check_string(const uint8_t *img, unsigned page, unsigned idx,
                         uint8_t nsi, const char *key, const char *s)
{
    size_t len = strlen(s) + 1;
    uint8_t d[8];
    var_data(d, s, len);
    check_entry(img, page, idx, nsi, T_STR, (uint8_t)(1 + (len + 31) / 32),
                CHUNK_ANY, key, d);
    check_value_entries(img, page, idx + 1, s, len);
}

static void test_string_entries(void **state)
{
    (void)state;
    char *s31 = text(31, 'a'); /* 32 bytes with NUL: one full data entry */
    char *s32 = text(32, 'b'); /* 33 bytes: two, the last 1 byte + 31 FF */
    nvsf_builder *b = new_builder(0x3000, 2);
    ns(b, "s");
    ok(nvsf_builder_add_string(b, "hi", "hi", 2, &g_err));
    ok(nvsf_builder_add_string(b, "empty", "", 0, &g_err));
    ok(nvsf_builder_add_string(b, "s31", s31, 31, &g_err));
    ok(nvsf_builder_add_string(b, "s32", s32, 32, &g_err));
    ok(nvsf_builder_add_string(b, "utf8", "\xc3\xa9\xe2\x82\xac", 5, &g_err));
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);

    /* "hi": header 21, span 2, length 3 (with NUL), FFFF, CRC("hi\0"). */
    static const uint8_t hi_head[4] = {0x01, 0x21, 0x02, 0xFF};
    assert_memory_equal(entry_at(img, 0, 1), hi_head, 4);
    const uint8_t *hd = entry_at(img, 0, 1) + 24;
    assert_int_equal(hd[0], 3);
    assert_int_equal(hd[1], 0);
    assert_int_equal(hd[2], 0xFF);
    assert_int_equal(hd[3], 0xFF);
    assert_int_equal(get32(hd + 4), nvsf_crc32("hi", 3));
    static const uint8_t hi_data[32] = {
        'h',  'i',  0,    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    assert_memory_equal(entry_at(img, 0, 2), hi_data, 32);

    unsigned e = 1;
    check_string(img, 0, e, 1, "hi", "hi");
    e += 2;
    check_string(img, 0, e, 1, "empty", "");
    e += 2;
    check_string(img, 0, e, 1, "s31", s31);
    e += 2;
    check_string(img, 0, e, 1, "s32", s32);
    e += 3;
    /* Non-ASCII text counts UTF-8 bytes: 5 + NUL = 6. */
    check_string(img, 0, e, 1, "utf8", "\xc3\xa9\xe2\x82\xac");
    assert_int_equal(entry_at(img, 0, e)[24], 6);
    e += 2;
    check_bitmap(img, 0, e);
    check_free_entries(img, 0, e);
    free(s31);
    free(s32);
    free(img);
}

/* With 1 entry used (the namespace), a string of span 124 makes
 * used + span = 125 < 126: it stays on page 0. */
static void test_string_stays_at_125(void **state)
{
    (void)state;
    char *s = text(123 * 32 - 1, 's'); /* 3936 bytes with NUL: span 124 */
    nvsf_builder *b = new_builder(0x3000, 2);
    ns(b, "n");
    ok(nvsf_builder_add_string(b, "str", s, strlen(s), &g_err));
    add_u8(b, "last", 9); /* integers take the page's last entry */
    assert_int_equal(nvsf_builder_pages_used(b), 1);
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);
    check_header(img, 0, 0xFFFFFFFEu, 0xFE);
    check_string(img, 0, 1, 1, "str", s);
    assert_int_equal(entry_at(img, 0, 1)[2], 124);
    uint8_t d[8];
    int_data(d, 9, 1);
    check_entry(img, 0, 125, 1, T_U8, 1, CHUNK_ANY, "last", d);
    check_bitmap(img, 0, 126);
    check_erased_pages(img, 1, 3);
    free(s);
    free(img);
}

/* With 1 entry used, a string of span 125 makes used + span = 126: it moves
 * to page 1 although it would fit exactly. */
static void test_string_moves_at_126(void **state)
{
    (void)state;
    char *s = text(124 * 32 - 1, 't'); /* 3968 bytes with NUL: span 125 */
    char *s2 = text(123 * 32, 'u');    /* 3937 bytes with NUL: span 125 */
    nvsf_builder *b = new_builder(0x4000, 2);
    ns(b, "n");
    ok(nvsf_builder_add_string(b, "str", s, strlen(s), &g_err));
    /* Page 1 now holds 125 entries: a span-125 string cannot stay. */
    ok(nvsf_builder_add_string(b, "str2", s2, strlen(s2), &g_err));
    assert_int_equal(nvsf_builder_pages_used(b), 3);
    uint8_t *img = finish(b, 0x4000);
    nvsf_builder_free(b);
    check_header(img, 0, 0xFFFFFFFCu, 0xFE);
    check_ns_entry(img, 0, 0, "n", 1);
    check_bitmap(img, 0, 1);
    check_free_entries(img, 0, 1);
    check_header(img, 1, 0xFFFFFFFCu, 0xFE);
    check_string(img, 1, 0, 1, "str", s);
    assert_int_equal(entry_at(img, 1, 0)[2], 125);
    check_bitmap(img, 1, 125);
    check_free_entries(img, 1, 125);
    check_header(img, 2, 0xFFFFFFFEu, 0xFE);
    check_string(img, 2, 0, 1, "str2", s2);
    check_bitmap(img, 2, 125);
    check_erased_pages(img, 3, 4);
    free(s);
    free(s2);
    free(img);
}

/* 3999 characters + NUL = 4000 bytes, the version-2 limit: span 126, a whole
 * fresh page. */
static void test_string_4000_fresh_page(void **state)
{
    (void)state;
    char *s = text(3999, 'x');
    nvsf_builder *b = new_builder(0x3000, 2);
    ns(b, "n");
    ok(nvsf_builder_add_string(b, "big", s, 3999, &g_err));
    assert_int_equal(nvsf_builder_pages_used(b), 2);
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);
    check_header(img, 0, 0xFFFFFFFCu, 0xFE);
    check_bitmap(img, 0, 1);
    check_header(img, 1, 0xFFFFFFFEu, 0xFE);
    check_string(img, 1, 0, 1, "big", s);
    assert_int_equal(entry_at(img, 1, 0)[2], 126);
    assert_int_equal(entry_at(img, 1, 0)[24], 0xA0); /* 4000 = 0x0FA0 */
    assert_int_equal(entry_at(img, 1, 0)[25], 0x0F);
    check_bitmap(img, 1, 126);
    check_erased_pages(img, 2, 3);
    free(s);
    free(img);
}

static void test_string_limits(void **state)
{
    (void)state;
    nvsf_error err = {0};
    char *s = text(4000, 'y');

    nvsf_builder *b = new_builder(0x10000, 2);
    ns(b, "n");
    ok(nvsf_builder_add_string(b, "ok", s, 3999, &g_err));
    assert_int_equal(nvsf_builder_add_string(b, "toolong", s, 4000, &err),
                     NVSF_E_INPUT);
    assert_int_equal(err.code, NVSF_E_INPUT);
    assert_non_null(strstr(err.message, "'toolong'"));
    nvsf_builder_free(b);

    b = new_builder(0x10000, 1);
    ns(b, "n");
    ok(nvsf_builder_add_string(b, "ok", s, 1983, &g_err)); /* 1984 with NUL */
    assert_int_equal(nvsf_builder_add_string(b, "toolong", s, 1984, &err),
                     NVSF_E_INPUT);
    assert_non_null(strstr(err.message, "'toolong'"));
    uint8_t *img = finish(b, 0x10000);
    nvsf_builder_free(b);
    check_header(img, 0, 0xFFFFFFFEu, 0xFF);
    s[1983] = '\0';
    check_string(img, 0, 1, 1, "ok", s);
    assert_int_equal(entry_at(img, 0, 1)[2], 63);
    check_bitmap(img, 0, 64); /* namespace + 63 */
    check_free_entries(img, 0, 64);
    free(img);
    free(s);
}

/* ---- version-2 blobs ---------------------------------------------------- */

static void check_chunk(const uint8_t *img, unsigned page, unsigned idx,
                        uint8_t nsi, const char *key, uint8_t chunk,
                        const uint8_t *data, size_t len)
{
    uint8_t d[8];
    var_data(d, data, len);
    check_entry(img, page, idx, nsi, T_BLOB_DATA,
                (uint8_t)(1 + (len + 31) / 32), chunk, key, d);
    check_value_entries(img, page, idx + 1, data, len);
}

static void check_index(const uint8_t *img, unsigned page, unsigned idx,
                        uint8_t nsi, const char *key, uint32_t total,
                        uint8_t chunks)
{
    uint8_t d[8];
    index_data(d, total, chunks);
    check_entry(img, page, idx, nsi, T_BLOB_INDEX, 1, CHUNK_ANY, key, d);
}

/* One namespace entry, then a blob over three pages:
 * chunk 0 = (126-1-1)*32 = 3968 bytes, chunk 1 = (126-0-1)*32 = 4000 bytes,
 * chunk 2 = the last 100 bytes, then the index. */
static void test_blob_split_three_pages(void **state)
{
    (void)state;
    const size_t len = 3968 + 4000 + 100;
    uint8_t *data = pattern(len, 3);
    nvsf_builder *b = new_builder(0x4000, 2);
    ns(b, "blobs");
    ok(nvsf_builder_add_blob(b, "big", data, len, &g_err));
    assert_int_equal(nvsf_builder_pages_used(b), 3);
    uint8_t *img = finish(b, 0x4000);
    nvsf_builder_free(b);

    check_header(img, 0, 0xFFFFFFFCu, 0xFE);
    check_ns_entry(img, 0, 0, "blobs", 1);
    check_chunk(img, 0, 1, 1, "big", 0, data, 3968);
    assert_int_equal(entry_at(img, 0, 1)[2], 125);
    check_bitmap(img, 0, 126);

    check_header(img, 1, 0xFFFFFFFCu, 0xFE);
    check_chunk(img, 1, 0, 1, "big", 1, data + 3968, 4000);
    assert_int_equal(entry_at(img, 1, 0)[2], 126);
    check_bitmap(img, 1, 126);

    check_header(img, 2, 0xFFFFFFFEu, 0xFE);
    check_chunk(img, 2, 0, 1, "big", 2, data + 7968, 100);
    assert_int_equal(entry_at(img, 2, 0)[2], 5);
    check_index(img, 2, 5, 1, "big", (uint32_t)len, 3);
    /* The index spelled out: 48, span 1, chunk FF; size, 3 chunks, 0, FFFF. */
    const uint8_t *ix = entry_at(img, 2, 5);
    assert_int_equal(ix[1], 0x48);
    assert_int_equal(ix[2], 1);
    assert_int_equal(ix[3], 0xFF);
    assert_int_equal(get32(ix + 24), 8068);
    assert_int_equal(ix[28], 3);
    assert_int_equal(ix[29], 0);
    assert_int_equal(ix[30], 0xFF);
    assert_int_equal(ix[31], 0xFF);
    check_bitmap(img, 2, 6);
    check_free_entries(img, 2, 6);
    check_erased_pages(img, 3, 4);
    free(data);
    free(img);
}

/* A blob that takes every remaining entry of page 0 (or leaves less than one
 * entry): its index starts page 1. */
static void test_blob_fills_rest_of_page(void **state)
{
    (void)state;
    static const size_t lens[] = {3968, 3937};
    for (size_t k = 0; k < 2; k++) {
        size_t len = lens[k];
        uint8_t *data = pattern(len, 11);
        nvsf_builder *b = new_builder(0x3000, 2);
        ns(b, "n");
        ok(nvsf_builder_add_blob(b, "fill", data, len, &g_err));
        assert_int_equal(nvsf_builder_pages_used(b), 2);
        uint8_t *img = finish(b, 0x3000);
        nvsf_builder_free(b);
        check_header(img, 0, 0xFFFFFFFCu, 0xFE);
        check_chunk(img, 0, 1, 1, "fill", 0, data, len);
        check_bitmap(img, 0, 126);
        check_header(img, 1, 0xFFFFFFFEu, 0xFE);
        check_index(img, 1, 0, 1, "fill", (uint32_t)len, 1);
        check_bitmap(img, 1, 1);
        check_free_entries(img, 1, 1);
        free(data);
        free(img);
    }
}

/* One entry short of that: the index takes the page's last entry. */
static void test_blob_index_in_last_entry(void **state)
{
    (void)state;
    const size_t len = 3936; /* span 124: entries 1..124, index at 125 */
    uint8_t *data = pattern(len, 5);
    nvsf_builder *b = new_builder(0x3000, 2);
    ns(b, "n");
    ok(nvsf_builder_add_blob(b, "b", data, len, &g_err));
    assert_int_equal(nvsf_builder_pages_used(b), 1);
    add_u8(b, "next", 1); /* page 0 is now full: goes to page 1 */
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);
    check_header(img, 0, 0xFFFFFFFCu, 0xFE);
    check_chunk(img, 0, 1, 1, "b", 0, data, len);
    check_index(img, 0, 125, 1, "b", (uint32_t)len, 1);
    check_bitmap(img, 0, 126);
    uint8_t d[8];
    int_data(d, 1, 1);
    check_entry(img, 1, 0, 1, T_U8, 1, CHUNK_ANY, "next", d);
    free(data);
    free(img);
}

/* 125 entries used: the blob's chunk 0 is an empty chunk in the last entry,
 * the data goes on as chunk 1 on the next page. */
static void test_blob_starts_in_last_entry(void **state)
{
    (void)state;
    const size_t len = 100;
    uint8_t *data = pattern(len, 9);
    nvsf_builder *b = new_builder(0x3000, 2);
    ns(b, "n");
    add_u8s(b, 0, 124);
    ok(nvsf_builder_add_blob(b, "late", data, len, &g_err));
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);
    check_header(img, 0, 0xFFFFFFFCu, 0xFE);
    check_u8s(img, 0, 1, 1, 0, 124);
    /* Empty chunk 0: length 0, FFFF, CRC32 of nothing = 0xFFFFFFFF. */
    static const uint8_t empty[8] = {0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    check_entry(img, 0, 125, 1, T_BLOB_DATA, 1, 0, "late", empty);
    check_bitmap(img, 0, 126);
    check_header(img, 1, 0xFFFFFFFEu, 0xFE);
    check_chunk(img, 1, 0, 1, "late", 1, data, len);
    check_index(img, 1, 5, 1, "late", 100, 2);
    check_bitmap(img, 1, 6);
    check_free_entries(img, 1, 6);
    free(data);
    free(img);
}

/* 126 entries used: the blob starts on the next page. */
static void test_blob_after_full_page(void **state)
{
    (void)state;
    uint8_t *data = pattern(40, 1);
    nvsf_builder *b = new_builder(0x3000, 2);
    ns(b, "n");
    add_u8s(b, 0, 125);
    ok(nvsf_builder_add_blob(b, "b", data, 40, &g_err));
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);
    check_header(img, 0, 0xFFFFFFFCu, 0xFE);
    check_chunk(img, 1, 0, 1, "b", 0, data, 40);
    check_index(img, 1, 3, 1, "b", 40, 1);
    check_bitmap(img, 1, 4);
    free(data);
    free(img);
}

static void test_blob_empty(void **state)
{
    (void)state;
    nvsf_builder *b = new_builder(0x3000, 2);
    ns(b, "n");
    ok(nvsf_builder_add_blob(b, "e", "", 0, &g_err));
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);
    static const uint8_t empty[8] = {0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    check_entry(img, 0, 1, 1, T_BLOB_DATA, 1, 0, "e", empty);
    check_index(img, 0, 2, 1, "e", 0, 1);
    check_bitmap(img, 0, 3);
    check_free_entries(img, 0, 3);
    check_header(img, 0, 0xFFFFFFFEu, 0xFE);
    free(img);
}

/* ---- version-1 blobs ---------------------------------------------------- */

static void test_blob_v1(void **state)
{
    (void)state;
    uint8_t *data = pattern(1985, 21);
    nvsf_error err = {0};
    nvsf_builder *b = new_builder(0x4000, 1);
    ns(b, "v1");
    ok(nvsf_builder_add_blob(b, "b40", data, 40, &g_err));
    assert_int_equal(nvsf_builder_add_blob(b, "big", data, 1985, &err),
                     NVSF_E_INPUT);
    assert_non_null(strstr(err.message, "'big'"));
    /* used 4; + 57 ints = 61; a 1984-byte blob (span 63) -> 124 stays. */
    add_u8s(b, 0, 57);
    ok(nvsf_builder_add_blob(b, "max", data, 1984, &g_err));
    /* used 124: a 32-byte blob (span 2) -> 126 moves to page 1. */
    ok(nvsf_builder_add_blob(b, "b32", data, 32, &g_err));
    uint8_t *img = finish(b, 0x4000);
    nvsf_builder_free(b);

    check_header(img, 0, 0xFFFFFFFCu, 0xFF);
    uint8_t d[8];
    var_data(d, data, 40);
    check_entry(img, 0, 1, 1, T_BLOB1, 3, CHUNK_ANY, "b40", d);
    check_value_entries(img, 0, 2, data, 40);
    /* Second data entry: 8 bytes then 24 x FF. */
    const uint8_t *e3 = entry_at(img, 0, 3);
    assert_memory_equal(e3, data + 32, 8);
    for (unsigned i = 8; i < 32; i++)
        assert_int_equal(e3[i], 0xFF);
    check_u8s(img, 0, 4, 1, 0, 57);
    var_data(d, data, 1984);
    check_entry(img, 0, 61, 1, T_BLOB1, 63, CHUNK_ANY, "max", d);
    check_value_entries(img, 0, 62, data, 1984);
    check_bitmap(img, 0, 124);
    check_free_entries(img, 0, 124);

    check_header(img, 1, 0xFFFFFFFEu, 0xFF);
    var_data(d, data, 32);
    check_entry(img, 1, 0, 1, T_BLOB1, 2, CHUNK_ANY, "b32", d);
    check_value_entries(img, 1, 1, data, 32);
    check_bitmap(img, 1, 2);
    check_erased_pages(img, 2, 4);
    free(data);
    free(img);
}

/* ---- partition full ----------------------------------------------------- */

static void fill_ints_expect_full(uint32_t size, unsigned data_pages)
{
    nvsf_error err = {0};
    nvsf_builder *b = new_builder(size, 2);
    ns(b, "n");
    unsigned n = data_pages * ENTRIES - 1;
    add_u8s(b, 0, n);
    assert_int_equal(nvsf_builder_pages_used(b), data_pages);
    char key[16];
    snprintf(key, sizeof key, "k%u", n);
    int rc = nvsf_builder_add_uint(b, key, NVSF_TYPE_U8, 1, &err);
    if (rc != NVSF_E_FULL)
        fail_msg("size 0x%x: item %u gave %d, expected NVSF_E_FULL", size, n,
                 rc);
    assert_int_equal(err.code, NVSF_E_FULL);
    char quoted[24], pages[48];
    snprintf(quoted, sizeof quoted, "'%s'", key);
    if (!strstr(err.message, quoted))
        fail_msg("message '%s' does not name %s", err.message, quoted);
    snprintf(pages, sizeof pages, "0x%x bytes (%u %s", size, data_pages,
             data_pages == 1 ? "page)" : "pages");
    if (!strstr(err.message, pages))
        fail_msg("message '%s' lacks '%s'", err.message, pages);
    nvsf_builder_free(b);

    /* The same without the last item: every data page used, the rest
     * erased, the last data page active. */
    b = new_builder(size, 2);
    ns(b, "n");
    add_u8s(b, 0, n);
    uint8_t *img = finish(b, size);
    nvsf_builder_free(b);
    for (unsigned p = 0; p < data_pages; p++) {
        check_header(img, p, p + 1 < data_pages ? 0xFFFFFFFCu : 0xFFFFFFFEu,
                     0xFE);
        check_bitmap(img, p, 126);
    }
    check_u8s(img, data_pages - 1, 125, 1, n - 1, 1);
    check_erased_pages(img, data_pages, size / PAGE);
    free(img);
}

static void test_full_read_only_sizes(void **state)
{
    (void)state;
    fill_ints_expect_full(0x1000, 1); /* read-only: every page holds data */
    fill_ints_expect_full(0x2000, 2);
}

static void test_full_keeps_last_page(void **state)
{
    (void)state;
    fill_ints_expect_full(0x3000, 2);
    fill_ints_expect_full(0x4000, 3);
    fill_ints_expect_full(0x10000, 15);
}

static void test_full_blob_and_string(void **state)
{
    (void)state;
    nvsf_error err = {0};
    uint8_t *data = pattern(7937, 2);

    /* 0x3000: two data pages. 3968 + 3968 bytes: index in page 1's last
     * entry, fits. */
    nvsf_builder *b = new_builder(0x3000, 2);
    ns(b, "n");
    ok(nvsf_builder_add_blob(b, "fits", data, 7936, &g_err));
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);
    check_chunk(img, 0, 1, 1, "fits", 0, data, 3968);
    check_chunk(img, 1, 0, 1, "fits", 1, data + 3968, 3968);
    check_index(img, 1, 125, 1, "fits", 7936, 2);
    check_erased_pages(img, 2, 3);
    free(img);

    /* One byte more: the index would need page 2, which stays erased. */
    b = new_builder(0x3000, 2);
    ns(b, "n");
    assert_int_equal(nvsf_builder_add_blob(b, "toobig", data, 7937, &err),
                     NVSF_E_FULL);
    assert_int_equal(err.code, NVSF_E_FULL);
    assert_non_null(strstr(err.message, "'toobig'"));
    nvsf_builder_free(b);

    /* Read-only 0x1000: a blob that needs a second page. */
    b = new_builder(0x1000, 2);
    ns(b, "n");
    assert_int_equal(nvsf_builder_add_blob(b, "blob1", data, 3969, &err),
                     NVSF_E_FULL);
    assert_non_null(strstr(err.message, "'blob1'"));
    nvsf_builder_free(b);

    /* A string that has to move to a page that is not there. */
    char *s = text(200, 'q');
    b = new_builder(0x1000, 2);
    ns(b, "n");
    add_u8s(b, 0, 119); /* used 120; span 8 -> 128 */
    assert_int_equal(nvsf_builder_add_string(b, "str", s, 200, &err),
                     NVSF_E_FULL);
    assert_non_null(strstr(err.message, "'str'"));
    nvsf_builder_free(b);

    /* A new namespace that does not fit. */
    b = new_builder(0x1000, 2);
    ns(b, "n");
    add_u8s(b, 0, 125);
    assert_int_equal(nvsf_builder_namespace(b, "other", &err), NVSF_E_FULL);
    assert_non_null(strstr(err.message, "'other'"));
    nvsf_builder_free(b);
    free(s);
    free(data);
}

/* ---- keys and namespaces ------------------------------------------------ */

static void test_duplicate_key(void **state)
{
    (void)state;
    nvsf_error err = {0};
    nvsf_builder *b = new_builder(0x3000, 2);
    ns(b, "a");
    add_u8(b, "x", 1);
    assert_int_equal(nvsf_builder_add_uint(b, "x", NVSF_TYPE_U8, 2, &err),
                     NVSF_E_INPUT);
    assert_int_equal(err.code, NVSF_E_INPUT);
    assert_non_null(strstr(err.message, "'x'"));
    /* Another type does not make it another key. */
    assert_int_equal(nvsf_builder_add_string(b, "x", "s", 1, &err),
                     NVSF_E_INPUT);
    assert_int_equal(nvsf_builder_add_blob(b, "x", "s", 1, &err),
                     NVSF_E_INPUT);
    assert_int_equal(nvsf_builder_add_int(b, "x", NVSF_TYPE_I32, 5, &err),
                     NVSF_E_INPUT);
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);
    check_bitmap(img, 0, 2); /* nothing written for the refused items */
    check_free_entries(img, 0, 2);
    free(img);
}

static void test_same_key_two_namespaces(void **state)
{
    (void)state;
    nvsf_builder *b = new_builder(0x3000, 2);
    ns(b, "a");
    add_u8(b, "x", 1);
    ns(b, "b");
    add_u8(b, "x", 2);
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);
    uint8_t d[8];
    check_ns_entry(img, 0, 0, "a", 1);
    int_data(d, 1, 1);
    check_entry(img, 0, 1, 1, T_U8, 1, CHUNK_ANY, "x", d);
    check_ns_entry(img, 0, 2, "b", 2);
    int_data(d, 2, 1);
    check_entry(img, 0, 3, 2, T_U8, 1, CHUNK_ANY, "x", d);
    check_bitmap(img, 0, 4);
    free(img);
}

static void test_namespace_redeclared(void **state)
{
    (void)state;
    nvsf_error err = {0};
    nvsf_builder *b = new_builder(0x3000, 2);
    ns(b, "a");
    add_u8(b, "x", 1);
    ns(b, "b");
    add_u8(b, "y", 2);
    ns(b, "a"); /* no entry; items go to index 1 again */
    add_u8(b, "z", 3);
    assert_int_equal(nvsf_builder_add_uint(b, "x", NVSF_TYPE_U8, 4, &err),
                     NVSF_E_INPUT);
    assert_non_null(strstr(err.message, "'x'"));
    ns(b, "b");
    ns(b, "c"); /* a new one still gets the next index, 3 */
    add_u8(b, "x", 5);
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);
    uint8_t d[8];
    check_ns_entry(img, 0, 0, "a", 1);
    int_data(d, 1, 1);
    check_entry(img, 0, 1, 1, T_U8, 1, CHUNK_ANY, "x", d);
    check_ns_entry(img, 0, 2, "b", 2);
    int_data(d, 2, 1);
    check_entry(img, 0, 3, 2, T_U8, 1, CHUNK_ANY, "y", d);
    int_data(d, 3, 1);
    check_entry(img, 0, 4, 1, T_U8, 1, CHUNK_ANY, "z", d);
    check_ns_entry(img, 0, 5, "c", 3);
    int_data(d, 5, 1);
    check_entry(img, 0, 6, 3, T_U8, 1, CHUNK_ANY, "x", d);
    check_bitmap(img, 0, 7);
    check_free_entries(img, 0, 7);
    free(img);
}

static void test_key_length(void **state)
{
    (void)state;
    nvsf_error err = {0};
    nvsf_builder *b = new_builder(0x3000, 2);
    assert_int_equal(nvsf_builder_namespace(b, "sixteen_chars_xx", &err),
                     NVSF_E_INPUT);
    assert_non_null(strstr(err.message, "sixteen_chars_xx"));
    assert_int_equal(nvsf_builder_namespace(b, "", &err), NVSF_E_INPUT);
    ns(b, "n");
    add_u8(b, "fifteen_chars_k", 1);
    assert_int_equal(
        nvsf_builder_add_uint(b, "sixteen_chars_kk", NVSF_TYPE_U8, 1, &err),
        NVSF_E_INPUT);
    assert_non_null(strstr(err.message, "sixteen_chars_kk"));
    assert_int_equal(nvsf_builder_add_string(b, "sixteen_chars_kk", "a", 1,
                                             &err),
                     NVSF_E_INPUT);
    assert_int_equal(
        nvsf_builder_add_blob(b, "sixteen_chars_kk", "a", 1, &err),
        NVSF_E_INPUT);
    assert_int_equal(nvsf_builder_add_uint(b, "", NVSF_TYPE_U8, 1, &err),
                     NVSF_E_INPUT);
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);
    uint8_t d[8];
    int_data(d, 1, 1);
    check_entry(img, 0, 1, 1, T_U8, 1, CHUNK_ANY, "fifteen_chars_k", d);
    assert_int_equal(entry_at(img, 0, 1)[8 + 15], 0);
    check_bitmap(img, 0, 2);
    free(img);
}

static void test_item_before_namespace(void **state)
{
    (void)state;
    nvsf_error err = {0};
    nvsf_builder *b = new_builder(0x3000, 2);
    assert_int_equal(nvsf_builder_add_uint(b, "k", NVSF_TYPE_U8, 1, &err),
                     NVSF_E_INPUT);
    assert_non_null(strstr(err.message, "'k'"));
    assert_int_equal(nvsf_builder_add_string(b, "k", "v", 1, &err),
                     NVSF_E_INPUT);
    assert_int_equal(nvsf_builder_add_blob(b, "k", "v", 1, &err),
                     NVSF_E_INPUT);
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);
    check_bitmap(img, 0, 0);
    check_free_entries(img, 0, 0);
    free(img);
}

static void test_namespace_limit(void **state)
{
    (void)state;
    nvsf_error err = {0};
    nvsf_builder *b = new_builder(0x4000, 2);
    char name[16];
    for (unsigned i = 1; i <= 254; i++) {
        snprintf(name, sizeof name, "ns%u", i);
        ns(b, name);
    }
    assert_int_equal(nvsf_builder_namespace(b, "ns255", &err), NVSF_E_INPUT);
    assert_int_equal(err.code, NVSF_E_INPUT);
    assert_non_null(strstr(err.message, "ns255"));
    /* Known names are still fine. */
    ns(b, "ns254");
    add_u8(b, "last", 1);
    ns(b, "ns1");
    add_u8(b, "first", 2);
    uint8_t *img = finish(b, 0x4000);
    nvsf_builder_free(b);
    /* 126 + 126 + 2 namespace entries. */
    check_ns_entry(img, 0, 0, "ns1", 1);
    check_ns_entry(img, 0, 125, "ns126", 126);
    check_ns_entry(img, 1, 0, "ns127", 127);
    check_ns_entry(img, 1, 125, "ns252", 252);
    check_ns_entry(img, 2, 0, "ns253", 253);
    check_ns_entry(img, 2, 1, "ns254", 254);
    uint8_t d[8];
    int_data(d, 1, 1);
    check_entry(img, 2, 2, 254, T_U8, 1, CHUNK_ANY, "last", d);
    int_data(d, 2, 1);
    check_entry(img, 2, 3, 1, T_U8, 1, CHUNK_ANY, "first", d);
    check_bitmap(img, 2, 4);
    check_header(img, 0, 0xFFFFFFFCu, 0xFE);
    check_header(img, 1, 0xFFFFFFFCu, 0xFE);
    check_header(img, 2, 0xFFFFFFFEu, 0xFE);
    free(img);
}

/* ---- encryption --------------------------------------------------------- */

static void fill_content(nvsf_builder *b, const uint8_t *blob, size_t blob_len)
{
    ns(b, "secure");
    ok(nvsf_builder_add_uint(b, "serial", NVSF_TYPE_U32, 0xDEADBEEF, &g_err));
    ok(nvsf_builder_add_string(b, "name", "device-0001", 11, &g_err));
    ok(nvsf_builder_add_blob(b, "cert", blob, blob_len, &g_err));
    ok(nvsf_builder_add_int(b, "temp", NVSF_TYPE_I8, -40, &g_err));
}

static void test_encryption(void **state)
{
    (void)state;
    uint8_t key[64];
    for (unsigned i = 0; i < 64; i++)
        key[i] = (uint8_t)(i * 3 + 1);
    const size_t blob_len = 5000; /* over two pages */
    uint8_t *blob = pattern(blob_len, 17);
    const uint32_t size = 0x4000;

    nvsf_builder *b = new_builder(size, 2);
    fill_content(b, blob, blob_len);
    uint8_t *plain = finish(b, size);
    nvsf_builder_free(b);

    nvsf_builder *be = NULL;
    ok(nvsf_builder_new(&be, size, 2, key, &g_err));
    fill_content(be, blob, blob_len);
    uint8_t *enc = finish(be, size);
    nvsf_builder_free(be);

    uint8_t *expected = malloc(size);
    assert_non_null(expected);
    memcpy(expected, plain, size);
    ok(nvsf_image_encrypt(expected, size, key, &g_err));
    assert_memory_equal(enc, expected, size);

    /* Headers and bitmaps stay plain, written entries do not, free entries
     * and erased pages stay 0xFF. */
    for (unsigned p = 0; p < 2; p++)
        assert_memory_equal(page_at(enc, p), page_at(plain, p), 64);
    assert_memory_not_equal(entry_at(enc, 0, 0), entry_at(plain, 0, 0), 32);
    assert_memory_not_equal(entry_at(enc, 1, 0), entry_at(plain, 1, 0), 32);
    check_free_entries(enc, 1, 39);
    check_erased_pages(enc, 2, 4);

    ok(nvsf_image_decrypt(enc, size, key, &g_err));
    assert_memory_equal(enc, plain, size);
    free(blob);
    free(plain);
    free(enc);
    free(expected);
}

/* ---- API misuse ------------------------------------------------------- */

static void test_builder_new_rejects(void **state)
{
    (void)state;
    nvsf_builder *b = NULL;
    nvsf_error err = {0};
    assert_true(nvsf_builder_new(&b, 0, 2, NULL, &err) < 0);
    assert_true(nvsf_builder_new(&b, 0x1800, 2, NULL, &err) < 0);
    assert_true(nvsf_builder_new(&b, 0x800, 2, NULL, &err) < 0);
    assert_true(nvsf_builder_new(&b, 0x3000, 3, NULL, &err) < 0);
    assert_true(nvsf_builder_new(&b, 0x3000, 0, NULL, &err) < 0);
    assert_true(nvsf_size_is_read_only(0x1000));
    assert_true(nvsf_size_is_read_only(0x2000));
    assert_false(nvsf_size_is_read_only(0x3000));
    assert_false(nvsf_size_is_read_only(0x10000));
}

/* ---- raw mode (the Python module's low-level calls) --------------------- */

/* Keys of 16 to 24 ASCII bytes, as the reference module writes them (and
 * ESP-IDF's parser tests use them, 16 and 17 bytes long): from offset 8
 * over the data field, then the data bytes of the item's type over that. */
static void test_raw_long_keys(void **state)
{
    (void)state;
    nvsf_builder *b = NULL;
    ok(nvsf_builder_new_raw(&b, 0x3000, 2, 2, NULL, &g_err));
    ns(b, "s");
    add_u8(b, "sixteen_chars_ky", 7);     /* 16: the field, no NUL */
    add_u8(b, "twenty_characters_ab", 9); /* "s_ab" past it, under the u8 */
    ok(nvsf_builder_add_string(b, "string_key_twenty_ch", "hi", 2, &g_err));
    const uint8_t blob[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    ok(nvsf_builder_add_blob(b, "blob_key_twenty_abc", blob, sizeof blob, &g_err));
    assert_int_equal(nvsf_builder_add_uint(b, "twenty_five_characters_xy",
                                           NVSF_TYPE_U8, 1, &g_err),
                     NVSF_E_INPUT);
    assert_int_equal(nvsf_builder_add_uint(b, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                              "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                                           NVSF_TYPE_U8, 1, &g_err),
                     NVSF_E_INPUT); /* 16 bytes, not ASCII */
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);

    uint8_t d[8];
    int_data(d, 7, 1);
    check_entry(img, 0, 1, 1, T_U8, 1, CHUNK_ANY, "sixteen_chars_ky", d);
    const uint8_t u8_tail[8] = {9, '_', 'a', 'b', 0xFF, 0xFF, 0xFF, 0xFF};
    check_entry(img, 0, 2, 1, T_U8, 1, CHUNK_ANY, "twenty_characters_ab", u8_tail);
    /* A string header's size and data CRC; its two bytes between keep "ch". */
    uint8_t sz[8] = {3, 0, 'c', 'h'};
    put32(sz + 4, nvsf_crc32("hi", 3));
    check_entry(img, 0, 3, 1, T_STR, 2, CHUNK_ANY, "string_key_twenty_ch", sz);
    /* A chunk likewise keeps "c"; the blob index is all its own data. */
    uint8_t chunk[8] = {10, 0, 'c', 0xFF};
    put32(chunk + 4, nvsf_crc32(blob, sizeof blob));
    check_entry(img, 0, 5, 1, T_BLOB_DATA, 2, 0, "blob_key_twenty_abc", chunk);
    uint8_t index[8] = {10, 0, 0, 0, 1, 0, 0xFF, 0xFF};
    check_entry(img, 0, 7, 1, T_BLOB_INDEX, 1, CHUNK_ANY, "blob_key_twenty_abc", index);
    check_bitmap(img, 0, 8);
    free(img);

    /* Outside raw mode a key stays at 15 bytes. */
    b = new_builder(0x3000, 2);
    ns(b, "s");
    assert_int_equal(nvsf_builder_add_uint(b, "sixteen_chars_ky", NVSF_TYPE_U8,
                                           1, &g_err),
                     NVSF_E_INPUT);
    nvsf_builder_free(b);
}

static void test_raw_writes_what_it_is_told(void **state)
{
    (void)state;
    nvsf_builder *b = NULL;
    /* 0x3000 bytes of which 2 pages take data, as nvs_open(0x2000) makes. */
    ok(nvsf_builder_new_raw(&b, 0x3000, 2, 2, NULL, &g_err));
    add_u8(b, "early", 7);                 /* before any namespace: index 0 */
    ns(b, "storage");                      /* 1 */
    add_u8(b, "same", 1);
    add_u8(b, "same", 2);                  /* the key again */
    ok(nvsf_builder_namespace_new(b, "storage", &g_err)); /* 2, same name */
    assert_int_equal(nvsf_builder_namespace_count(b), 2);
    add_u8(b, "same", 3);
    ns(b, "storage");                      /* finds the first declaration */
    assert_int_equal(nvsf_builder_namespace_index(b), 1);
    ok(nvsf_builder_select_namespace_index(b, 200, &g_err));
    add_u8(b, "far", 4);
    assert_int_equal(nvsf_builder_select_namespace_index(b, 256, &g_err),
                     NVSF_E_INPUT);
    uint8_t peek[PAGE];
    ok(nvsf_builder_peek(b, peek, PAGE, &g_err));
    uint8_t *img = finish(b, 0x3000);
    nvsf_builder_free(b);
    assert_memory_equal(peek, img, PAGE);

    uint8_t d[8];
    int_data(d, 7, 1);
    check_entry(img, 0, 0, 0, T_U8, 1, CHUNK_ANY, "early", d);
    check_ns_entry(img, 0, 1, "storage", 1);
    int_data(d, 1, 1);
    check_entry(img, 0, 2, 1, T_U8, 1, CHUNK_ANY, "same", d);
    int_data(d, 2, 1);
    check_entry(img, 0, 3, 1, T_U8, 1, CHUNK_ANY, "same", d);
    check_ns_entry(img, 0, 4, "storage", 2);
    int_data(d, 3, 1);
    check_entry(img, 0, 5, 2, T_U8, 1, CHUNK_ANY, "same", d);
    int_data(d, 4, 1);
    check_entry(img, 0, 6, 200, T_U8, 1, CHUNK_ANY, "far", d);
    check_bitmap(img, 0, 7);
    check_erased_pages(img, 1, 3);
    free(img);
}

static void test_raw_data_pages(void **state)
{
    (void)state;
    nvsf_builder *b = NULL;
    /* nvs_open(0x2000, read_only=True): both pages take data. */
    ok(nvsf_builder_new_raw(&b, 0x2000, 2, 2, NULL, &g_err));
    ns(b, "n");
    add_u8s(b, 0, 2 * ENTRIES - 1);
    assert_int_equal(nvsf_builder_add_uint(b, "x", NVSF_TYPE_U8, 1, &g_err),
                     NVSF_E_FULL);
    nvsf_builder_free(b);
    assert_int_equal(nvsf_builder_new_raw(&b, 0x2000, 3, 2, NULL, &g_err),
                     NVSF_E_USAGE);
    /* Outside raw mode the raw calls are refused. */
    b = new_builder(0x3000, 2);
    assert_int_equal(nvsf_builder_namespace_new(b, "n", &g_err), NVSF_E_USAGE);
    assert_int_equal(nvsf_builder_select_namespace_index(b, 1, &g_err),
                     NVSF_E_USAGE);
    nvsf_builder_free(b);
}

static void test_finish_once(void **state)
{
    (void)state;
    nvsf_error err = {0};
    nvsf_builder *b = new_builder(0x3000, 2);
    ns(b, "n");
    uint8_t *img = finish(b, 0x3000);
    assert_int_equal(nvsf_builder_finish(b, img, &err), NVSF_E_USAGE);
    assert_int_equal(nvsf_builder_add_uint(b, "k", NVSF_TYPE_U8, 1, &err),
                     NVSF_E_USAGE);
    assert_int_equal(nvsf_builder_namespace(b, "m", &err), NVSF_E_USAGE);
    nvsf_builder_free(b);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_check_value),
        cmocka_unit_test(test_empty_image),
        cmocka_unit_test(test_namespace_entries),
        cmocka_unit_test(test_integer_entries),
        cmocka_unit_test(test_integer_range),
        cmocka_unit_test(test_integers_fill_page),
        cmocka_unit_test(test_namespace_moves_when_page_full),
        cmocka_unit_test(test_string_entries),
        cmocka_unit_test(test_string_stays_at_125),
        cmocka_unit_test(test_string_moves_at_126),
        cmocka_unit_test(test_string_4000_fresh_page),
        cmocka_unit_test(test_string_limits),
        cmocka_unit_test(test_blob_split_three_pages),
        cmocka_unit_test(test_blob_fills_rest_of_page),
        cmocka_unit_test(test_blob_index_in_last_entry),
        cmocka_unit_test(test_blob_starts_in_last_entry),
        cmocka_unit_test(test_blob_after_full_page),
        cmocka_unit_test(test_blob_empty),
        cmocka_unit_test(test_blob_v1),
        cmocka_unit_test(test_full_read_only_sizes),
        cmocka_unit_test(test_full_keeps_last_page),
        cmocka_unit_test(test_full_blob_and_string),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_same_key_two_namespaces),
        cmocka_unit_test(test_namespace_redeclared),
        cmocka_unit_test(test_key_length),
        cmocka_unit_test(test_item_before_namespace),
        cmocka_unit_test(test_namespace_limit),
        cmocka_unit_test(test_encryption),
        cmocka_unit_test(test_builder_new_rejects),
        cmocka_unit_test(test_finish_once),
        cmocka_unit_test(test_raw_writes_what_it_is_told),
        cmocka_unit_test(test_raw_long_keys),
        cmocka_unit_test(test_raw_data_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
