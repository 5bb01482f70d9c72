/*
 * Value encodings of the partition-generator CSV: how the text in a `value`
 * cell (or the bytes of a `file`) becomes the bytes stored in NVS.
 *
 *   u8 i8 u16 i16 u32 i32 u64 i64   decimal integer (Python int() syntax:
 *                                   surrounding spaces, sign, single '_'
 *                                   between digits), range-checked
 *   float double                    ours, not the reference's: a decimal
 *                                   number (sign, digits, fraction,
 *                                   exponent) or inf/infinity, rounded to
 *                                   IEEE 754 binary32/64; NaN refused, as
 *                                   nvs_set_float/double refuse it
 *   string                          the text as it is, NUL added on storage
 *   hex2bin                         hex digits, either case, even count,
 *                                   surrounding spaces trimmed -> blob
 *   base64                          standard alphabet, padded; line breaks
 *                                   and spaces ignored -> blob
 *   binary                          the bytes as they are -> blob
 *   blob_fill(N;0xPP)               the bytes padded with PP to N -> blob
 *   blob_sz_fill(N;0xPP)            u32 length, the bytes, PP up to N -> blob
 */
#ifndef NVSF_VALUE_H
#define NVSF_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "nvsforge/nvsforge.h"

enum nvsf_encoding_kind {
    NVSF_ENC_INT,          /* one of the eight integer types */
    NVSF_ENC_FLOAT,        /* float or double (int_type says which) */
    NVSF_ENC_STRING,
    NVSF_ENC_HEX2BIN,
    NVSF_ENC_BASE64,
    NVSF_ENC_BINARY,
    NVSF_ENC_BLOB_FILL,
    NVSF_ENC_BLOB_SZ_FILL
};

typedef struct nvsf_encoding {
    enum nvsf_encoding_kind kind;
    enum nvsf_item_type int_type;  /* NVSF_ENC_INT, NVSF_ENC_FLOAT */
    uint32_t fill_len;             /* blob_fill, blob_sz_fill: N */
    uint8_t fill_byte;             /* blob_fill, blob_sz_fill: 0xPP */
} nvsf_encoding;

/* Parse an encoding name; names are matched without regard to case. */
int nvsf_encoding_parse(const char *name, nvsf_encoding *enc, nvsf_error *err);

/* Integer types: name ("u8"...), byte width, signedness, range. */
const char *nvsf_int_type_name(enum nvsf_item_type type);
int nvsf_int_type_is_signed(enum nvsf_item_type type);
unsigned nvsf_int_type_width(enum nvsf_item_type type);
/* Bytes of a value held in the entry's data field: the integers, float (4)
 * and double (8); 0 for other types. */
unsigned nvsf_value_type_width(enum nvsf_item_type type);

/* Parse text as an integer of `type`; *value receives the two's-complement
 * bit pattern (sign-extended to 64 bits for signed types). */
int nvsf_parse_int(const char *text, size_t len, enum nvsf_item_type type,
                   uint64_t *value, nvsf_error *err);

/* Parse text as a float or double (type); *bits receives its IEEE 754
 * bits. */
int nvsf_parse_float(const char *text, size_t len, enum nvsf_item_type type,
                     uint64_t *bits, nvsf_error *err);

/* The shortest decimal text that parses back to the same float or double
 * ("inf", "-inf", "nan" for those); returns its length as snprintf. */
size_t nvsf_format_float(char *out, size_t cap, enum nvsf_item_type type,
                         uint64_t bits);

/* Standard base64 with padding, malloc'd and NUL-terminated (NULL: no
 * memory). */
char *nvsf_base64_encode(const uint8_t *d, size_t n);

/* Decode into out (appended). */
int nvsf_hex_decode(const char *text, size_t len, nvsf_buf *out,
                    nvsf_error *err);
int nvsf_base64_decode(const char *text, size_t len, nvsf_buf *out,
                       nvsf_error *err);

/* Apply blob_fill / blob_sz_fill to raw bytes, into out (appended). */
int nvsf_fill_blob(const nvsf_encoding *enc, const uint8_t *data, size_t len,
                   nvsf_buf *out, nvsf_error *err);

/*
 * Decode a value (a CSV cell's text or a file's bytes) by its encoding:
 * integers into *bits (as nvsf_parse_int), strings checked to be UTF-8 and
 * left where they are, blobs into out (cleared first).
 */
int nvsf_value_decode(const nvsf_encoding *enc, const uint8_t *raw, size_t len,
                      uint64_t *bits, nvsf_buf *out, nvsf_error *err);

/* True when the bytes are valid UTF-8. */
int nvsf_utf8_valid(const uint8_t *s, size_t len);

#endif
