/*
 * The value decoders of lib/value.c. Every decoder gets the whole input
 * (as text, or NUL-terminated where it takes a C string), and each result
 * is checked against an independent model:
 *
 *   nvsf_parse_int     a reference parser of Python int() syntax using
 *                      128-bit arithmetic: same acceptance, same code
 *                      (INPUT vs RANGE), same value; results agree across
 *                      the eight types; a value printed back parses again.
 *   nvsf_hex_decode    success iff the trimmed text is an even number of
 *                      hex digits; the output re-encodes to it (lowercase).
 *   nvsf_base64_decode the output re-encodes to the input without its
 *                      whitespace (bits below the last character's used
 *                      ones excepted); and encoding the input bytes (with
 *                      spaces and line breaks put in) decodes back to them.
 *   nvsf_encoding_parse a parsed blob_fill/blob_sz_fill written in
 *                      canonical form parses to the same encoding; names
 *                      of integer types round-trip.
 *   nvsf_fill_blob     layout: [u32 length] bytes, fill byte up to N.
 *   nvsf_parse_size    a reference parser; a size printed back in decimal
 *                      and in hex parses to the same size.
 *   nvsf_utf8_valid    a reference decoder, and the CSV reader's own UTF-8
 *                      check (the input with its special bytes replaced).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "csv.h"
#include "fuzz_common.h"
#include "value.h"

static const enum nvsf_item_type int_types[8] = {
    NVSF_TYPE_U8,  NVSF_TYPE_I8,  NVSF_TYPE_U16, NVSF_TYPE_I16,
    NVSF_TYPE_U32, NVSF_TYPE_I32, NVSF_TYPE_U64, NVSF_TYPE_I64};

static int py_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

/* ---- integers ----------------------------------------------------------- */

/* Python int(text): 1 and *v (clamped to +-2^65) or 0 when not a number. */
static int ref_int(const char *s, size_t len, __int128 *v)
{
    size_t a = 0, b = len;
    while (a < b && py_space(s[a]))
        a++;
    while (b > a && py_space(s[b - 1]))
        b--;
    int neg = 0;
    if (a < b && (s[a] == '+' || s[a] == '-'))
        neg = s[a++] == '-';
    if (a == b)
        return 0;
    __int128 mag = 0, cap = (__int128)1 << 65;
    int prev_digit = 0;
    for (size_t i = a; i < b; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            mag = mag * 10 + (s[i] - '0');
            if (mag > cap)
                mag = cap;
            prev_digit = 1;
        } else if (s[i] == '_' && prev_digit && i + 1 < b &&
                   s[i + 1] >= '0' && s[i + 1] <= '9') {
            prev_digit = 0;
        } else {
            return 0;
        }
    }
    *v = neg ? -mag : mag;
    return 1;
}

static void check_ints(const char *s, size_t len)
{
    __int128 ref;
    int ok = ref_int(s, len, &ref);
    for (int t = 0; t < 8; t++) {
        enum nvsf_item_type type = int_types[t];
        unsigned bits = nvsf_int_type_width(type) * 8;
        int is_signed = nvsf_int_type_is_signed(type);
        __int128 lo = is_signed ? -((__int128)1 << (bits - 1)) : 0;
        __int128 hi = is_signed ? ((__int128)1 << (bits - 1)) - 1
                                : ((__int128)1 << bits) - 1;
        uint64_t v = 0xA5A5A5A5A5A5A5A5u;
        nvsf_error err;
        int rc = nvsf_parse_int(s, len, type, &v, &err);
        if (!ok) {
            FUZZ_CHECK(rc == NVSF_E_INPUT, "%s: not a number, yet rc %d",
                       nvsf_int_type_name(type), rc);
        } else if (ref < lo || ref > hi) {
            FUZZ_CHECK(rc == NVSF_E_RANGE, "%s: out of range, yet rc %d",
                       nvsf_int_type_name(type), rc);
        } else {
            FUZZ_CHECK(rc == 0, "%s: a valid number refused (%d: %s)",
                       nvsf_int_type_name(type), rc, err.message);
            /* Two's complement, sign-extended for signed types. */
            FUZZ_CHECK(v == (uint64_t)ref, "%s: value 0x%016llx",
                       nvsf_int_type_name(type), (unsigned long long)v);
            /* Printed back, it parses to the same bits. */
            char buf[32];
            if (is_signed)
                snprintf(buf, sizeof buf, " %lld ", (long long)(int64_t)v);
            else
                snprintf(buf, sizeof buf, "+%llu", (unsigned long long)v);
            uint64_t again = 0;
            FUZZ_CHECK(nvsf_parse_int(buf, strlen(buf), type, &again, NULL) ==
                               0 &&
                           again == v,
                       "%s: '%s' does not parse back", nvsf_int_type_name(type),
                       buf);
        }
        if (rc)
            fuzz_check_error(rc, &err, "nvsf_parse_int");
    }
    uint64_t v;
    FUZZ_CHECK(nvsf_parse_int(s, len, NVSF_TYPE_STRING, &v, NULL) ==
                   NVSF_E_USAGE,
               "nvsf_parse_int took a non-integer type");
}

/* ---- hex and base64 ----------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void check_hex(const char *s, size_t len, const uint8_t *raw,
                      size_t rawlen)
{
    size_t a = 0, b = len;
    while (a < b && py_space(s[a]))
        a++;
    while (b > a && py_space(s[b - 1]))
        b--;
    int valid = (b - a) % 2 == 0;
    for (size_t i = a; valid && i < b; i++)
        valid = hexval(s[i]) >= 0;

    nvsf_buf out = {0};
    nvsf_error err;
    int rc = nvsf_hex_decode(s, len, &out, &err);
    FUZZ_CHECK((rc == 0) == valid, "hex: rc %d for %s text", rc,
               valid ? "valid" : "invalid");
    if (rc == 0) {
        FUZZ_CHECK(out.len == (b - a) / 2, "hex: %zu bytes from %zu digits",
                   out.len, b - a);
        for (size_t i = 0; i < out.len; i++)
            FUZZ_CHECK((uint8_t)out.data[i] ==
                           (hexval(s[a + 2 * i]) << 4 | hexval(s[a + 2 * i + 1])),
                       "hex: byte %zu", i);
    } else {
        fuzz_check_error(rc, &err, "nvsf_hex_decode");
    }

    /* Encoded by us (mixed case, spaces around), decoded: the same bytes. */
    nvsf_buf enc = {0};
    static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
    if (nvsf_buf_append(&enc, " \t", 2))
        abort();
    for (size_t i = 0; i < rawlen; i++) {
        const char *digits = (raw[i] & 1) ? upper : lower;
        if (nvsf_buf_putc(&enc, digits[raw[i] >> 4]) ||
            nvsf_buf_putc(&enc, digits[raw[i] & 15]))
            abort();
    }
    if (nvsf_buf_append(&enc, "\r\n", 2))
        abort();
    nvsf_buf_clear(&out);
    /* Append after existing bytes: the decoder must not disturb them. */
    if (nvsf_buf_append(&out, "pre", 3))
        abort();
    rc = nvsf_hex_decode(enc.data, enc.len, &out, &err);
    FUZZ_CHECK(rc == 0 && out.len == 3 + rawlen &&
                   memcmp(out.data, "pre", 3) == 0 &&
                   (rawlen == 0 || memcmp(out.data + 3, raw, rawlen) == 0),
               "hex: our encoding of %zu bytes does not decode back", rawlen);
    nvsf_buf_free(&enc);
    nvsf_buf_free(&out);
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(const uint8_t *p, size_t len, nvsf_buf *out,
                       int spaced)
{
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        char q[4] = {b64[v >> 18], b64[(v >> 12) & 63],
                     i + 1 < len ? b64[(v >> 6) & 63] : '=',
                     i + 2 < len ? b64[v & 63] : '='};
        for (int k = 0; k < 4; k++) {
            if (nvsf_buf_putc(out, q[k]))
                abort();
            /* Spaces and line breaks anywhere are ignored (value.h). */
            if (spaced && ((p[i] >> k) & 1) && nvsf_buf_putc(out, k & 2 ? '\n' : ' '))
                abort();
        }
    }
}

static int b64_index(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

static void check_base64(const char *s, size_t len, const uint8_t *raw,
                         size_t rawlen)
{
    nvsf_buf out = {0}, enc = {0}, stripped = {0};
    nvsf_error err;
    int rc = nvsf_base64_decode(s, len, &out, &err);
    if (rc == 0) {
        for (size_t i = 0; i < len; i++)
            if (!py_space(s[i]) && nvsf_buf_putc(&stripped, s[i]))
                abort();
        b64_encode((const uint8_t *)out.data, out.len, &enc, 0);
        FUZZ_CHECK(enc.len == stripped.len,
                   "base64: %zu bytes re-encode to %zu characters, the input "
                   "has %zu",
                   out.len, enc.len, stripped.len);
        size_t pad = 0;
        while (pad < stripped.len && stripped.data[stripped.len - 1 - pad] == '=')
            pad++;
        FUZZ_CHECK(pad <= 2 && (pad == 0 || stripped.len % 4 == 0),
                   "base64: accepted %zu padding characters", pad);
        for (size_t i = 0; i < enc.len; i++) {
            if (enc.data[i] == stripped.data[i])
                continue;
            /* Only the last data character may differ, in its unused low
             * bits: 4 of them before "==", 2 before "=". */
            int last = i + 1 + pad == enc.len && pad > 0;
            unsigned unused = pad == 2 ? 4 : 2;
            int a = b64_index(enc.data[i]), b = b64_index(stripped.data[i]);
            FUZZ_CHECK(last && a >= 0 && b >= 0 && (a >> unused) == (b >> unused),
                       "base64: re-encoding differs at character %zu ('%c' vs "
                       "'%c')",
                       i, enc.data[i], stripped.data[i]);
        }
    } else {
        fuzz_check_error(rc, &err, "nvsf_base64_decode");
    }

    /* Our encoding of the input bytes, with whitespace put in, decodes to
     * them, after what the buffer held. */
    nvsf_buf_clear(&enc);
    b64_encode(raw, rawlen, &enc, 1);
    nvsf_buf_clear(&out);
    if (nvsf_buf_append(&out, "x", 1))
        abort();
    rc = nvsf_base64_decode(enc.data ? enc.data : "", enc.len, &out, &err);
    FUZZ_CHECK(rc == 0 && out.len == 1 + rawlen && out.data[0] == 'x' &&
                   (rawlen == 0 || memcmp(out.data + 1, raw, rawlen) == 0),
               "base64: our encoding of %zu bytes does not decode back (%s)",
               rawlen, rc ? err.message : "wrong bytes");
    nvsf_buf_free(&out);
    nvsf_buf_free(&enc);
    nvsf_buf_free(&stripped);
}

/* ---- encodings and fills ------------------------------------------------ */

static void check_encoding(const char *name, const uint8_t *raw, size_t rawlen)
{
    nvsf_encoding enc;
    nvsf_error err;
    int rc = nvsf_encoding_parse(name, &enc, &err);
    if (rc) {
        fuzz_check_error(rc, &err, "nvsf_encoding_parse");
        return;
    }
    char canon[64];
    switch (enc.kind) {
    case NVSF_ENC_INT:
        FUZZ_CHECK(nvsf_int_type_name(enc.int_type) != NULL &&
                       strcasecmp(name, nvsf_int_type_name(enc.int_type)) == 0,
                   "encoding '%s' parsed as another integer type", name);
        return;
    case NVSF_ENC_BLOB_FILL:
    case NVSF_ENC_BLOB_SZ_FILL:
        FUZZ_CHECK(enc.fill_len <= 508000, "fill length %u", enc.fill_len);
        snprintf(canon, sizeof canon, "%s(%u;0x%02x)",
                 enc.kind == NVSF_ENC_BLOB_FILL ? "blob_fill" : "blob_sz_fill",
                 enc.fill_len, enc.fill_byte);
        break;
    default:
        return;
    }
    nvsf_encoding again;
    FUZZ_CHECK(nvsf_encoding_parse(canon, &again, NULL) == 0 &&
                   again.kind == enc.kind && again.fill_len == enc.fill_len &&
                   again.fill_byte == enc.fill_byte,
               "encoding '%s' written as '%s' parses differently", name, canon);

    /* Fill the input bytes with it (not too large: the fuzzer's time). */
    if (enc.fill_len > 65536)
        return;
    nvsf_buf out = {0};
    rc = nvsf_fill_blob(&enc, raw, rawlen, &out, &err);
    if (rawlen > enc.fill_len) {
        FUZZ_CHECK(rc == NVSF_E_INPUT, "fill: %zu bytes into %u, rc %d",
                   rawlen, enc.fill_len, rc);
        fuzz_check_error(rc, &err, "nvsf_fill_blob");
    } else {
        size_t head = enc.kind == NVSF_ENC_BLOB_SZ_FILL ? 4 : 0;
        const uint8_t *o = (const uint8_t *)out.data;
        FUZZ_CHECK(rc == 0 && out.len == head + enc.fill_len,
                   "fill: rc %d, %zu bytes for N=%u", rc, out.len,
                   enc.fill_len);
        if (head)
            FUZZ_CHECK(o[0] == (uint8_t)rawlen && o[1] == (uint8_t)(rawlen >> 8) &&
                           o[2] == (uint8_t)(rawlen >> 16) &&
                           o[3] == (uint8_t)(rawlen >> 24),
                       "fill: size prefix");
        FUZZ_CHECK(rawlen == 0 || memcmp(o + head, raw, rawlen) == 0,
                   "fill: the bytes");
        for (size_t i = head + rawlen; i < out.len; i++)
            FUZZ_CHECK(o[i] == enc.fill_byte, "fill: byte %zu", i);
    }
    nvsf_buf_free(&out);
}

/* ---- sizes --------------------------------------------------------------- */

/* Python's int(text, 0), from the language reference's grammar, after
 * its blanks are stripped: [sign] then nonzerodigit (["_"] digit)*, or
 * "0" (["_"] "0")*, or "0" x|o|b (["_"] digit of that base)+. Returns 1
 * with *neg and *v for a number. */
static int python_int0(const char *s, size_t n, int *neg, unsigned __int128 *v)
{
    size_t i = 0;
    *neg = 0;
    *v = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        *neg = s[i++] == '-';
    unsigned base = 10;
    int zeros_only = 0, prefixed = 0;
    if (i + 1 < n && s[i] == '0' && strchr("xXoObB", s[i + 1])) {
        char c = (char)(s[i + 1] | 0x20);
        base = c == 'x' ? 16 : c == 'o' ? 8 : 2;
        prefixed = 1;
        i += 2;
    } else if (i < n && s[i] == '0') {
        zeros_only = 1;
    }
    size_t items = 0;
    while (i < n) {
        if (s[i] == '_') {
            if (items == 0 && !prefixed)
                return 0;
            if (++i >= n)
                return 0;
        }
        int d = hexval(s[i]);
        if (d < 0 || (unsigned)d >= base || (zeros_only && d != 0))
            return 0;
        if (*v < ((unsigned __int128)1 << 64))
            *v = *v * base + (unsigned)d;
        items++;
        i++;
    }
    return items > 0;
}

static void check_size(const char *text)
{
    size_t a = 0, b = strlen(text);
    while (a < b && py_space(text[a]))
        a++;
    while (b > a && py_space(text[b - 1]))
        b--;
    int neg;
    unsigned __int128 v;
    int number = python_int0(text + a, b - a, &neg, &v);
    int valid = number && !neg && v >= 4096 && v % 4096 == 0 && v <= 0x8000000;

    uint32_t size = 0;
    nvsf_error err;
    int rc = nvsf_parse_size(text, &size, &err);
    FUZZ_CHECK((rc == 0) == valid, "size '%s': rc %d", text, rc);
    if (rc) {
        fuzz_check_error(rc, &err, "nvsf_parse_size");
        return;
    }
    FUZZ_CHECK(size == (uint32_t)v, "size '%s' parsed as 0x%x", text, size);
    char buf[32];
    uint32_t again = 0;
    snprintf(buf, sizeof buf, "%u", size);
    FUZZ_CHECK(nvsf_parse_size(buf, &again, NULL) == 0 && again == size,
               "size %s does not parse back", buf);
    snprintf(buf, sizeof buf, "0X%X", size);
    FUZZ_CHECK(nvsf_parse_size(buf, &again, NULL) == 0 && again == size,
               "size %s does not parse back", buf);
}

/* ---- UTF-8 --------------------------------------------------------------- */

/* Decode each sequence by its lead byte, then judge the code point. */
static int ref_utf8(const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        uint32_t c = s[i];
        size_t n;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC0 && c < 0xE0) {
            n = 1;
            c &= 0x1F;
        } else if (c >= 0xE0 && c < 0xF0) {
            n = 2;
            c &= 0x0F;
        } else if (c >= 0xF0 && c < 0xF8) {
            n = 3;
            c &= 0x07;
        } else {
            return 0;
        }
        if (len - i <= n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            c = c << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
        if (c < min[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}

static void check_utf8(const uint8_t *s, size_t len)
{
    int v = nvsf_utf8_valid(s, len);
    FUZZ_CHECK(v == ref_utf8(s, len), "nvsf_utf8_valid says %d", v);

    /* The CSV reader checks UTF-8 on its own: with the bytes that mean
     * something to it replaced, it must agree. */
    char *copy = fuzz_dup(s, len);
    for (size_t i = 0; i < len; i++) {
        char c = (char)s[i];
        copy[i] = c == '\0' || c == '\n' || c == '\r' || c == ',' || c == '"'
                      ? 'a'
                      : c;
    }
    nvsf_csv_reader *r = nvsf_csv_reader_mem("u.csv", copy, len, 0);
    FUZZ_CHECK(r != NULL, "reader not created");
    nvsf_csv_record rec;
    nvsf_error err;
    int rc = nvsf_csv_next(r, &rec, &err);
    FUZZ_CHECK((rc >= 0) == (v != 0), "the CSV reader says %d (%s), "
               "nvsf_utf8_valid %d", rc, rc < 0 ? err.message : "ok", v);
    nvsf_csv_reader_free(r);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exactly the input's bytes, so that ASan sees reads past them. */
    char *text = fuzz_dup(data, size);
    check_ints(text, size);
    check_hex(text, size, data, size);
    check_base64(text, size, data, size);
    free(text);

    /* The C-string decoders: the input up to its first NUL. */
    char *cstr = malloc(size + 1);
    if (!cstr)
        abort();
    memcpy(cstr, data, size);
    cstr[size] = '\0';
    check_encoding(cstr, data, size);
    check_size(cstr);
    free(cstr);

    check_utf8(data, size);
    return 0;
}
