#include "value.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "nvs_format.h"

static const struct {
    const char *name;
    enum nvsf_item_type type;
    unsigned width;
    int is_signed;
} int_types[] = {
    {"u8", NVSF_TYPE_U8, 1, 0},   {"i8", NVSF_TYPE_I8, 1, 1},
    {"u16", NVSF_TYPE_U16, 2, 0}, {"i16", NVSF_TYPE_I16, 2, 1},
    {"u32", NVSF_TYPE_U32, 4, 0}, {"i32", NVSF_TYPE_I32, 4, 1},
    {"u64", NVSF_TYPE_U64, 8, 0}, {"i64", NVSF_TYPE_I64, 8, 1},
};
#define INT_TYPE_COUNT (sizeof int_types / sizeof int_types[0])

static int int_type_index(enum nvsf_item_type type)
{
    for (size_t i = 0; i < INT_TYPE_COUNT; i++)
        if (int_types[i].type == type)
            return (int)i;
    return -1;
}

const char *nvsf_int_type_name(enum nvsf_item_type type)
{
    int i = int_type_index(type);
    return i < 0 ? NULL : int_types[i].name;
}

int nvsf_int_type_is_signed(enum nvsf_item_type type)
{
    int i = int_type_index(type);
    return i >= 0 && int_types[i].is_signed;
}

unsigned nvsf_value_type_width(enum nvsf_item_type type)
{
    if (type == NVSF_TYPE_FLOAT)
        return 4;
    if (type == NVSF_TYPE_DOUBLE)
        return 8;
    return nvsf_int_type_width(type);
}

unsigned nvsf_int_type_width(enum nvsf_item_type type)
{
    int i = int_type_index(type);
    return i < 0 ? 0 : int_types[i].width;
}

/* "blob_fill(N;0xPP)" and "blob_sz_fill(N;0xPP)". */
static int parse_fill(const char *args, nvsf_encoding *enc)
{
    const char *p = args;
    uint64_t n = 0;
    if (!isdigit((unsigned char)*p))
        return -1;
    while (isdigit((unsigned char)*p)) {
        n = n * 10 + (uint64_t)(*p++ - '0');
        if (n > NVS_BLOB_MAX_V2)
            return -1;
    }
    /* The reference's pattern: a lower-case 0x and exactly two digits. */
    if (*p++ != ';' || *p++ != '0' || *p++ != 'x')
        return -1;
    unsigned byte = 0, digits = 0;
    while (isxdigit((unsigned char)*p) && digits < 2) {
        int c = tolower((unsigned char)*p++);
        byte = byte * 16 + (unsigned)(isdigit(c) ? c - '0' : c - 'a' + 10);
        digits++;
    }
    if (digits != 2 || strcmp(p, ")") != 0)
        return -1;
    enc->fill_len = (uint32_t)n;
    enc->fill_byte = (uint8_t)byte;
    return 0;
}

int nvsf_encoding_parse(const char *name, nvsf_encoding *enc, nvsf_error *err)
{
    memset(enc, 0, sizeof *enc);
    if (!name)
        name = "";
    for (size_t i = 0; i < INT_TYPE_COUNT; i++) {
        if (strcasecmp(name, int_types[i].name) == 0) {
            enc->kind = NVSF_ENC_INT;
            enc->int_type = int_types[i].type;
            return 0;
        }
    }
    /* float and double: ours (ESP-IDF v6.1's nvs_set_float/double); the
     * reference generator has no such encoding. */
    if (strcasecmp(name, "float") == 0 || strcasecmp(name, "double") == 0) {
        enc->kind = NVSF_ENC_FLOAT;
        enc->int_type = strcasecmp(name, "float") == 0 ? NVSF_TYPE_FLOAT
                                                       : NVSF_TYPE_DOUBLE;
        return 0;
    }
    /* Integer names and "binary" in any case mean the same to the
     * reference (it lowers them); string, hex2bin and base64 it decodes only
     * in lower case, storing anything else undecoded (a string without its
     * NUL, hex digits as text): refused rather than copied. */
    static const struct {
        const char *name;
        enum nvsf_encoding_kind kind;
    } named[] = {{"string", NVSF_ENC_STRING},
                 {"hex2bin", NVSF_ENC_HEX2BIN},
                 {"base64", NVSF_ENC_BASE64},
                 {"binary", NVSF_ENC_BINARY}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (strcasecmp(name, named[i].name) != 0)
            continue;
        if (named[i].kind != NVSF_ENC_BINARY && strcmp(name, named[i].name) != 0)
            return nvsf_fail(err, NVSF_E_INPUT,
                             "encoding '%s' must be written '%s': ESP-IDF's "
                             "generator would store the value undecoded",
                             name, named[i].name);
        enc->kind = named[i].kind;
        return 0;
    }
    static const struct {
        const char *prefix;
        enum nvsf_encoding_kind kind;
    } fills[] = {{"blob_fill(", NVSF_ENC_BLOB_FILL},
                 {"blob_sz_fill(", NVSF_ENC_BLOB_SZ_FILL}};
    for (size_t i = 0; i < sizeof fills / sizeof fills[0]; i++) {
        size_t n = strlen(fills[i].prefix);
        if (strncmp(name, fills[i].prefix, n) == 0) {
            enc->kind = fills[i].kind;
            if (parse_fill(name + n, enc) == 0)
                return 0;
            return nvsf_fail(err, NVSF_E_INPUT,
                             "malformed encoding '%s': write %.*sN;0xPP) with "
                             "N the size in bytes (at most %u) and PP the "
                             "fill byte in hex",
                             name, (int)n, fills[i].prefix, NVS_BLOB_MAX_V2);
        }
    }
    return nvsf_fail(err, NVSF_E_INPUT,
                     "unknown encoding '%s' (use u8, i8, u16, i16, u32, i32, "
                     "u64, i64, float, double, string, hex2bin, base64, binary, "
                     "blob_fill(N;0xPP) or blob_sz_fill(N;0xPP))",
                     name);
}

/* Python's str.strip() set, for the ASCII range. */
static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static void trim(const char **text, size_t *len)
{
    while (*len && is_space(**text)) {
        (*text)++;
        (*len)--;
    }
    while (*len && is_space((*text)[*len - 1]))
        (*len)--;
}

char *nvsf_base64_encode(const uint8_t *d, size_t n)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = n / 3 < SIZE_MAX / 4 - 1 ? malloc((n + 2) / 3 * 4 + 1) : NULL;
    if (!out)
        return NULL;
    char *w = out;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)d[i + 1] << 8;
        if (i + 2 < n)
            v |= d[i + 2];
        *w++ = a[v >> 18];
        *w++ = a[(v >> 12) & 63];
        *w++ = i + 1 < n ? a[(v >> 6) & 63] : '=';
        *w++ = i + 2 < n ? a[v & 63] : '=';
    }
    *w = '\0';
    return out;
}

int nvsf_parse_float(const char *text, size_t len, enum nvsf_item_type type,
                     uint64_t *bits, nvsf_error *err)
{
    const char *name = type == NVSF_TYPE_FLOAT ? "float" : "double";
    trim(&text, &len);
    char buf[400];
    if (len == 0 || len >= sizeof buf || memchr(text, '\0', len))
        return nvsf_fail(err, NVSF_E_INPUT,
                         "'%.*s' is not a %s: write a decimal number such as "
                         "-1.5 or 2.5e-3, or inf",
                         (int)(len < 64 ? len : 64), text, name);
    memcpy(buf, text, len);
    buf[len] = '\0';
    /* strtod also reads hexadecimal, nan(...) and locale forms: accept only
     * [sign] digits [. digits] [e [sign] digits], and inf / infinity. */
    const char *s = buf + (buf[0] == '+' || buf[0] == '-');
    int is_inf = strcasecmp(s, "inf") == 0 || strcasecmp(s, "infinity") == 0;
    size_t digits = 0, i = 0;
    while (isdigit((unsigned char)s[i]))
        i++, digits++;
    if (s[i] == '.')
        for (i++; isdigit((unsigned char)s[i]); i++)
            digits++;
    if (digits && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1 + (s[i + 1] == '+' || s[i + 1] == '-');
        if (isdigit((unsigned char)s[j])) {
            while (isdigit((unsigned char)s[j]))
                j++;
            i = j;
        }
    }
    if (strcasecmp(s, "nan") == 0 || strncasecmp(s, "nan(", 4) == 0)
        return nvsf_fail(err, NVSF_E_RANGE,
                         "NaN is not a value NVS stores (nvs_set_%s refuses "
                         "it)",
                         name);
    if (!is_inf && (!digits || s[i] != '\0'))
        return nvsf_fail(err, NVSF_E_INPUT,
                         "'%s' is not a %s: write a decimal number such as "
                         "-1.5 or 2.5e-3, or inf",
                         buf, name);
    double d = is_inf ? (buf[0] == '-' ? -HUGE_VAL : HUGE_VAL)
                      : strtod(buf, NULL);
    float f = (float)d;
    if (!is_inf && isinf(type == NVSF_TYPE_FLOAT ? (double)f : d))
        return nvsf_fail(err, NVSF_E_RANGE,
                         "%s is out of range for a %s (at most about %s)",
                         buf, name,
                         type == NVSF_TYPE_FLOAT ? "3.4e38" : "1.8e308");
    uint32_t u32;
    memcpy(&u32, &f, sizeof u32);
    memcpy(bits, &d, sizeof *bits);
    if (type == NVSF_TYPE_FLOAT)
        *bits = u32;
    return 0;
}

size_t nvsf_format_float(char *out, size_t cap, enum nvsf_item_type type,
                         uint64_t bits)
{
    double d;
    if (type == NVSF_TYPE_FLOAT) {
        uint32_t u = (uint32_t)bits;
        float f;
        memcpy(&f, &u, sizeof f);
        d = f;
    } else {
        memcpy(&d, &bits, sizeof d);
    }
    if (isnan(d))
        return (size_t)snprintf(out, cap, "nan");
    if (isinf(d))
        return (size_t)snprintf(out, cap, d < 0 ? "-inf" : "inf");
    /* the shortest decimal that reads back as the same value */
    int n = 0;
    for (int prec = 1; prec <= 17; prec++) {
        n = snprintf(out, cap, "%.*g", prec, d);
        double back = strtod(out, NULL);
        if (type == NVSF_TYPE_FLOAT ? (float)back == (float)d : back == d)
            break;
    }
    return (size_t)n;
}

int nvsf_parse_int(const char *text, size_t len, enum nvsf_item_type type,
                   uint64_t *value, nvsf_error *err)
{
    int ti = int_type_index(type);
    if (ti < 0)
        return nvsf_fail(err, NVSF_E_USAGE, "not an integer type: 0x%02x",
                         (unsigned)type);
    const char *orig = text;
    size_t orig_len = len;
    trim(&text, &len);
    int negative = 0;
    if (len && (*text == '+' || *text == '-')) {
        negative = *text == '-';
        text++;
        len--;
    }
    /* Digits, with single underscores between them (Python's int()). */
    uint64_t mag = 0;
    int overflow = 0, ndigits = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '_' && i > 0 && i + 1 < len && text[i - 1] != '_' &&
            isdigit((unsigned char)text[i + 1]))
            continue;
        if (!isdigit((unsigned char)c)) {
            ndigits = 0;
            break;
        }
        ndigits++;
        unsigned d = (unsigned)(c - '0');
        if (mag > (UINT64_MAX - d) / 10)
            overflow = 1;
        else
            mag = mag * 10 + d;
    }
    if (ndigits == 0)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "'%.*s' is not a decimal integer (%s)",
                         (int)(orig_len > 64 ? 64 : orig_len), orig,
                         int_types[ti].name);

    unsigned bits = int_types[ti].width * 8;
    int in_range;
    if (int_types[ti].is_signed) {
        uint64_t max_pos = (UINT64_C(1) << (bits - 1)) - 1;
        in_range = !overflow && (negative ? mag <= max_pos + 1 : mag <= max_pos);
    } else {
        uint64_t max = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
        in_range = !overflow && (mag <= max) && !(negative && mag != 0);
    }
    if (!in_range) {
        char lo[32], hi[32];
        if (int_types[ti].is_signed) {
            snprintf(lo, sizeof lo, "-%llu",
                     (unsigned long long)(UINT64_C(1) << (bits - 1)));
            snprintf(hi, sizeof hi, "%llu",
                     (unsigned long long)((UINT64_C(1) << (bits - 1)) - 1));
        } else {
            snprintf(lo, sizeof lo, "0");
            snprintf(hi, sizeof hi, "%llu",
                     (unsigned long long)(bits == 64 ? UINT64_MAX
                                                     : (UINT64_C(1) << bits) - 1));
        }
        return nvsf_fail(err, NVSF_E_RANGE,
                         "value %.*s is out of range for %s (%s..%s)",
                         (int)(len > 40 ? 40 : len) + negative,
                         text - negative, int_types[ti].name, lo, hi);
    }
    *value = negative ? (uint64_t)0 - mag : mag;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int nvsf_hex_decode(const char *text, size_t len, nvsf_buf *out,
                    nvsf_error *err)
{
    trim(&text, &len);
    if (len % 2)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "hex2bin value has an odd number of hex digits (%zu)",
                         len);
    if (nvsf_buf_reserve(out, len / 2))
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    for (size_t i = 0; i < len; i += 2) {
        int hi = hex_digit(text[i]), lo = hex_digit(text[i + 1]);
        if (hi < 0 || lo < 0) {
            size_t bad = hi < 0 ? i : i + 1;
            return nvsf_fail(err, NVSF_E_INPUT,
                             "hex2bin value has a non-hex character '%c' at "
                             "position %zu",
                             isprint((unsigned char)text[bad]) ? text[bad] : '?',
                             bad + 1);
        }
        out->data[out->len++] = (char)(hi << 4 | lo);
    }
    out->data[out->len] = '\0';
    return 0;
}

static int base64_digit(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * Written by hand rather than with OpenSSL's EVP_DecodeUpdate: that decoder
 * takes a leading '-' as the end of the data and returns nothing without an
 * error, and a factory tool must refuse such input, not store an empty blob.
 * Python's decoder, for its part, silently drops characters outside the
 * alphabet; we refuse them too.
 */
int nvsf_base64_decode(const char *text, size_t len, nvsf_buf *out,
                       nvsf_error *err)
{
    if (nvsf_buf_reserve(out, len / 4 * 3 + 3))
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    uint32_t acc = 0;
    unsigned nquad = 0, npad = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (is_space(c))
            continue;
        if (c == '=') {
            /* Padding completes a group of 2 or 3 data characters. */
            if (nquad + npad < 2 || nquad + npad >= 4)
                return nvsf_fail(err, NVSF_E_INPUT,
                                 "base64 value has misplaced padding at "
                                 "position %zu",
                                 i + 1);
            npad++;
            continue;
        }
        int d = base64_digit(c);
        if (d < 0)
            return nvsf_fail(err, NVSF_E_INPUT,
                             "base64 value has an invalid character '%c' at "
                             "position %zu",
                             isprint((unsigned char)c) ? c : '?', i + 1);
        if (npad)
            return nvsf_fail(err, NVSF_E_INPUT,
                             "base64 value continues after its padding at "
                             "position %zu",
                             i + 1);
        acc = acc << 6 | (uint32_t)d;
        if (++nquad == 4) {
            out->data[out->len++] = (char)(acc >> 16);
            out->data[out->len++] = (char)(acc >> 8);
            out->data[out->len++] = (char)acc;
            acc = 0;
            nquad = 0;
        }
    }
    if (nquad != 0 && nquad + npad != 4)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "base64 value is truncated or lacks its '=' padding");
    if (nquad == 3) {
        acc <<= 6;
        out->data[out->len++] = (char)(acc >> 16);
        out->data[out->len++] = (char)(acc >> 8);
    } else if (nquad == 2) {
        acc <<= 12;
        out->data[out->len++] = (char)(acc >> 16);
    }
    out->data[out->len] = '\0';
    return 0;
}

int nvsf_fill_blob(const nvsf_encoding *enc, const uint8_t *data, size_t len,
                   nvsf_buf *out, nvsf_error *err)
{
    if (len > enc->fill_len)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "value of %zu bytes is longer than the %u bytes of "
                         "its %s encoding",
                         len, enc->fill_len,
                         enc->kind == NVSF_ENC_BLOB_FILL ? "blob_fill"
                                                         : "blob_sz_fill");
    size_t total = enc->fill_len + (enc->kind == NVSF_ENC_BLOB_SZ_FILL ? 4 : 0);
    if (nvsf_buf_reserve(out, total))
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    uint8_t *p = (uint8_t *)out->data + out->len;
    if (enc->kind == NVSF_ENC_BLOB_SZ_FILL) {
        nvs_store_u32(p, (uint32_t)len);
        p += 4;
    }
    if (len)
        memcpy(p, data, len);
    memset(p + len, enc->fill_byte, enc->fill_len - len);
    out->len += total;
    out->data[out->len] = '\0';
    return 0;
}

int nvsf_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07u;
        } else {
            return 0;
        }
        if (len - i <= n) /* the continuation bytes run past the end */
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3Fu);
        }
        /* No overlong forms, no surrogates, nothing past U+10FFFF. */
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return 0;
        i += n + 1;
    }
    return 1;
}

/*
 * A whole number as Python's int(text, 0) reads it, which is how the
 * reference reads a partition size: an optional sign, then decimal without
 * a leading zero, or 0x / 0o / 0b digits; single underscores may separate
 * digits (and follow the prefix). Returns 0 with *neg and *v, -1 if it is
 * not such a number, -2 if it starts with a zero (text for the message).
 */
static int parse_python_int(const char *p, size_t len, int *neg, uint64_t *v)
{
    size_t i = 0;
    *neg = 0;
    *v = 0;
    if (i < len && (p[i] == '+' || p[i] == '-'))
        *neg = p[i++] == '-';
    unsigned base = 10;
    if (len - i > 1 && p[i] == '0' && strchr("xXoObB", p[i + 1])) {
        char c = (char)(p[i + 1] | 0x20);
        base = c == 'x' ? 16 : c == 'o' ? 8 : 2;
        i += 2;
        if (i < len && p[i] == '_')
            i++;
    }
    size_t digits = 0, first = i;
    for (; i < len; i++) {
        if (p[i] == '_' && digits && i + 1 < len && p[i + 1] != '_')
            continue;
        int d = hex_digit(p[i]);
        if (d < 0 || (unsigned)d >= base || *v > UINT64_C(0xFFFFFFFFFF))
            return -1;
        *v = *v * base + (uint64_t)d;
        digits++;
    }
    if (!digits)
        return -1;
    if (base == 10 && p[first] == '0' && *v != 0)
        return -2;
    return 0;
}

int nvsf_parse_size(const char *text, uint32_t *size, nvsf_error *err)
{
    const char *p = text ? text : "";
    size_t len = strlen(p);
    trim(&p, &len);
    uint64_t v;
    int neg, rc = parse_python_int(p, len, &neg, &v);
    if (rc == -2)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "size '%s' starts with 0: write it in decimal without "
                         "leading zeros or in 0x hex, e.g. 0x3000",
                         text);
    if (rc)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "size '%s' is not a number: give bytes in decimal or "
                         "0x hex, e.g. 0x3000",
                         text ? text : "");
    if (neg && v)
        v = 0; /* below the least size, as the message says */
    if (v < NVSF_PAGE_SIZE || v % NVSF_PAGE_SIZE)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "size %s must be a multiple of 4096 and at least "
                         "4096 (0x1000)",
                         text);
    if (v > UINT64_C(0x8000000))
        return nvsf_fail(err, NVSF_E_INPUT,
                         "size %s is larger than 128 MiB, the most an NVS "
                         "partition can be here",
                         text);
    *size = (uint32_t)v;
    return 0;
}

int nvsf_value_decode(const nvsf_encoding *enc, const uint8_t *raw, size_t len,
                      uint64_t *bits, nvsf_buf *out, nvsf_error *err)
{
    nvsf_buf_clear(out);
    switch (enc->kind) {
    case NVSF_ENC_INT:
        return nvsf_parse_int((const char *)raw, len, enc->int_type, bits, err);
    case NVSF_ENC_FLOAT:
        return nvsf_parse_float((const char *)raw, len, enc->int_type, bits,
                                err);
    case NVSF_ENC_STRING:
        return nvsf_utf8_valid(raw, len)
                   ? 0
                   : nvsf_fail(err, NVSF_E_INPUT,
                               "string value is not valid UTF-8");
    case NVSF_ENC_HEX2BIN:
        return nvsf_hex_decode((const char *)raw, len, out, err);
    case NVSF_ENC_BASE64:
        return nvsf_base64_decode((const char *)raw, len, out, err);
    case NVSF_ENC_BINARY:
        return nvsf_buf_append(out, raw, len)
                   ? nvsf_fail(err, NVSF_E_NOMEM, "out of memory")
                   : 0;
    case NVSF_ENC_BLOB_FILL:
    case NVSF_ENC_BLOB_SZ_FILL:
        return nvsf_fill_blob(enc, raw, len, out, err);
    }
    return nvsf_fail(err, NVSF_E_USAGE, "unknown encoding");
}
