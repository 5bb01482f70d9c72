/*
 * nvsforge: build, encrypt, decrypt and read ESP-IDF NVS partition images.
 *
 * The library never prints and never exits. Every call that can fail returns
 * 0 on success or a negative NVSF_E_* code, and fills the caller's
 * nvsf_error (when not NULL) with a one-line message that names what is wrong.
 * It touches no file system: where a value comes from a file, the caller
 * supplies the reader (nvsf_file_reader).
 */
#ifndef NVSFORGE_H
#define NVSFORGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NVSF_VERSION_STRING "0.1.0"

/* ---- errors ------------------------------------------------------------ */

enum nvsf_status {
    NVSF_OK = 0,
    NVSF_E_INPUT = -1,   /* malformed input: CSV, value, encoding, key name  */
    NVSF_E_RANGE = -2,   /* a value outside what its type can hold           */
    NVSF_E_FULL = -3,    /* the data does not fit in the partition           */
    NVSF_E_IO = -4,      /* a file could not be read or written              */
    NVSF_E_CRYPTO = -5,  /* the crypto library or the CSPRNG failed          */
    NVSF_E_NOMEM = -6,   /* out of memory                                    */
    NVSF_E_FORMAT = -7,  /* an image or key file is not what it must be      */
    NVSF_E_USAGE = -8    /* the library was called wrongly                   */
};

#define NVSF_ERROR_MAX 1024

typedef struct nvsf_error {
    int code;                    /* one of enum nvsf_status                  */
    char message[NVSF_ERROR_MAX];
} nvsf_error;

/* ---- format constants users need --------------------------------------- */

#define NVSF_PAGE_SIZE 4096u
#define NVSF_KEY_MAX_LEN 15u          /* key and namespace names, in bytes */
#define NVSF_XTS_KEY_SIZE 64u         /* XTS data key (32) + tweak key (32) */
#define NVSF_HMAC_KEY_SIZE 32u
#define NVSF_KEY_PARTITION_SIZE 4096u /* keys file: key, CRC32, 0xFF fill   */

/* Value types as stored in an entry's type byte. */
enum nvsf_item_type {
    NVSF_TYPE_U8 = 0x01,
    NVSF_TYPE_I8 = 0x11,
    NVSF_TYPE_U16 = 0x02,
    NVSF_TYPE_I16 = 0x12,
    NVSF_TYPE_U32 = 0x04,
    NVSF_TYPE_I32 = 0x14,
    NVSF_TYPE_U64 = 0x08,
    NVSF_TYPE_I64 = 0x18,
    NVSF_TYPE_STRING = 0x21,
    NVSF_TYPE_BLOB = 0x41,       /* version-1 single-page blob */
    NVSF_TYPE_BLOB_DATA = 0x42,  /* version-2 blob chunk       */
    NVSF_TYPE_BLOB_INDEX = 0x48  /* version-2 blob index       */
};

/* ---- image builder ------------------------------------------------------ */

typedef struct nvsf_builder nvsf_builder;

/*
 * Parse a partition size as the reference accepts it: decimal or 0x hex,
 * surrounding spaces allowed. Checks it is a multiple of 4096, at least 4096
 * and at most 128 MiB.
 */
int nvsf_parse_size(const char *text, uint32_t *size, nvsf_error *err);

/*
 * Start an image of `size` bytes in format version 1 or 2. With a non-NULL
 * xts_key (64 bytes) every written entry is encrypted when the image is
 * finished. A size of 0x1000 or 0x2000 makes a read-only partition (all pages
 * hold data); larger sizes keep the last page erased for garbage collection.
 */
int nvsf_builder_new(nvsf_builder **out, uint32_t size, int version,
                     const uint8_t *xts_key, nvsf_error *err);
void nvsf_builder_free(nvsf_builder *b);

/* True for sizes that make a read-only partition (0x1000, 0x2000). */
int nvsf_size_is_read_only(uint32_t size);

/*
 * Select a namespace for the items that follow. A name seen before selects its
 * old index and writes nothing; a new one gets the next index (1, 2, ...).
 */
int nvsf_builder_namespace(nvsf_builder *b, const char *name, nvsf_error *err);

/* Integers. `type` is one of the eight integer types; the value is checked
 * against that type's range. */
int nvsf_builder_add_int(nvsf_builder *b, const char *key,
                         enum nvsf_item_type type, int64_t value,
                         nvsf_error *err);
int nvsf_builder_add_uint(nvsf_builder *b, const char *key,
                          enum nvsf_item_type type, uint64_t value,
                          nvsf_error *err);

/* A string of `len` bytes (no NUL inside); the terminating NUL is added. */
int nvsf_builder_add_string(nvsf_builder *b, const char *key, const char *s,
                            size_t len, nvsf_error *err);

/* A blob: single-page in version 1, chunked across pages in version 2. */
int nvsf_builder_add_blob(nvsf_builder *b, const char *key, const void *data,
                          size_t len, nvsf_error *err);

/* Number of pages holding data so far. */
uint32_t nvsf_builder_pages_used(const nvsf_builder *b);

/*
 * Write the finished image (exactly `size` bytes) to `image`, encrypting it
 * when a key was given. The builder may be freed afterwards; it cannot take
 * more items.
 */
int nvsf_builder_finish(nvsf_builder *b, uint8_t *image, nvsf_error *err);

/* ---- partition CSV rows -> image --------------------------------------- */

/*
 * Reads the file a `file` row names. On success *data is a malloc'd buffer
 * the library frees. Return 0 or a negative NVSF_E_* code (fill err).
 */
typedef int (*nvsf_file_reader)(void *ctx, const char *path, uint8_t **data,
                                size_t *len, nvsf_error *err);

/* One row of a partition-generator CSV: key,type,encoding,value. */
typedef struct nvsf_row {
    const char *key;
    const char *type;      /* "namespace", "data" or "file" */
    const char *encoding;  /* may be NULL or "" for namespace rows */
    const char *value;     /* may be NULL for namespace rows */
    size_t value_len;
    unsigned line;         /* line in `source`, for messages (0: none) */
} nvsf_row;

typedef struct nvsf_rows nvsf_rows;

/*
 * A row writer over a builder: applies the reference generator's rules
 * (encodings, `file` values, blob_fill, the Wi-Fi keys, duplicate keys).
 * Messages name source:line and the key.
 */
int nvsf_rows_new(nvsf_rows **out, nvsf_builder *b, nvsf_file_reader reader,
                  void *reader_ctx, nvsf_error *err);
void nvsf_rows_free(nvsf_rows *r);
int nvsf_rows_add(nvsf_rows *r, const char *source, const nvsf_row *row,
                  nvsf_error *err);

/*
 * Read one partition CSV (header `key,type,encoding,value`, `#` comment
 * lines) from memory and add every row. `source` names it in messages.
 */
int nvsf_rows_add_csv(nvsf_rows *r, const char *source, const char *csv,
                      size_t len, nvsf_error *err);

/* ---- keys and encryption ----------------------------------------------- */

/* Fill buf with len bytes from the operating system's CSPRNG. */
int nvsf_random_bytes(void *buf, size_t len, nvsf_error *err);

/* Overwrite secret memory so the compiler cannot drop it. */
void nvsf_wipe(void *p, size_t len);

/* XTS key (64 bytes) derived from an HMAC key (32 bytes), as ESP-IDF's
 * HMAC-based NVS key protection scheme does. */
int nvsf_key_from_hmac(const uint8_t hmac_key[NVSF_HMAC_KEY_SIZE],
                       uint8_t xts_key[NVSF_XTS_KEY_SIZE], nvsf_error *err);

/* The 4096-byte key partition image for an XTS key. */
void nvsf_key_partition_make(const uint8_t xts_key[NVSF_XTS_KEY_SIZE],
                             uint8_t out[NVSF_KEY_PARTITION_SIZE]);

/*
 * Take the XTS key from a key file's bytes: at least 64 bytes; when the file
 * is long enough to hold the CRC (68 bytes or more) it must match.
 */
int nvsf_key_partition_read(const uint8_t *data, size_t len,
                            uint8_t xts_key[NVSF_XTS_KEY_SIZE],
                            nvsf_error *err);

/*
 * Encrypt or decrypt a whole image in place; `size` is a multiple of 4096.
 * Each entry is one 32-byte XTS data unit whose tweak is its offset from the
 * start of the partition; page headers and bitmaps stay plain. Encryption
 * takes the entries the bitmap marks as used (written or erased) on pages
 * that have a header; decryption takes every entry that is not all 0xFF, as
 * ESP-IDF's generator does.
 */
int nvsf_image_encrypt(uint8_t *image, size_t size,
                       const uint8_t xts_key[NVSF_XTS_KEY_SIZE],
                       nvsf_error *err);
int nvsf_image_decrypt(uint8_t *image, size_t size,
                       const uint8_t xts_key[NVSF_XTS_KEY_SIZE],
                       nvsf_error *err);

/* ---- checksums ---------------------------------------------------------- */

/* NVS's CRC32: zlib's crc32 seeded with 0xFFFFFFFF. */
uint32_t nvsf_crc32(const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* NVSFORGE_H */
