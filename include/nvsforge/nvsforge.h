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

#define NVSF_VERSION_STRING "0.2.0"

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
    NVSF_E_USAGE = -8,   /* the library was called wrongly                   */
    NVSF_E_KEY = -9      /* the key does not fit (decrypt) this image        */
};

#define NVSF_ERROR_MAX 1024

typedef struct nvsf_error {
    int code;                    /* one of enum nvsf_status                  */
    char message[NVSF_ERROR_MAX];
} nvsf_error;

/*
 * Every problem in one pass: where input has many independent lines (a
 * partition CSV, a batch's values file), a caller can collect each
 * problem rather than stop at the first. Messages stay in file/line order;
 * the first NVSF_ERRORS_KEEP are kept and all are counted.
 */
#define NVSF_ERRORS_KEEP 100

typedef struct nvsf_errors {
    size_t count;                       /* problems found                  */
    int code;                           /* the first one's code            */
    char *messages[NVSF_ERRORS_KEEP];   /* the first ones (malloc'd)       */
} nvsf_errors;

/* Record err's message (a copy). Returns 0, or NVSF_E_NOMEM. */
int nvsf_errors_add(nvsf_errors *errs, const nvsf_error *err);
void nvsf_errors_free(nvsf_errors *errs);

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
    NVSF_TYPE_FLOAT = 0x24,      /* IEEE 754 binary32 (ESP-IDF v6.1) */
    NVSF_TYPE_DOUBLE = 0x28,     /* IEEE 754 binary64 (ESP-IDF v6.1) */
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

/* A float (NVSF_TYPE_FLOAT) or double (NVSF_TYPE_DOUBLE) from its IEEE 754
 * bits, stored little-endian as ESP-IDF v6.1's nvs_set_float/double do.
 * NaN is refused, as those functions refuse it. */
int nvsf_builder_add_float(nvsf_builder *b, const char *key,
                           enum nvsf_item_type type, uint64_t bits,
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

/*
 * Copy the first `len` bytes (whole pages) of the image as it stands, page
 * states included, encrypted when the builder has a key: what the pages
 * written so far will hold. The builder goes on taking items.
 */
int nvsf_builder_peek(const nvsf_builder *b, uint8_t *out, size_t len,
                      nvsf_error *err);

/* ---- raw mode: the Python module's low-level calls --------------------- */

/*
 * A raw builder writes what it is told, as the reference module's
 * nvs_open/write_entry do, for callers that build unusual images on
 * purpose (ESP-IDF's parser tests): a key may be set twice in a namespace,
 * items may come before any namespace or carry any namespace index, and a
 * namespace name may be declared again, and a key may have 16 to 24 ASCII
 * bytes, laid from the key field over the data field as the reference lays
 * it. Only the first `data_pages` of the `size` bytes take data. Sizes,
 * key names and values are still checked.
 * The CSV paths never make one.
 */
int nvsf_builder_new_raw(nvsf_builder **out, uint32_t size,
                         uint32_t data_pages, int version,
                         const uint8_t *xts_key, nvsf_error *err);

/* Raw builders only: declare `name` with the next index even if it was
 * declared before, and select it (nvsf_builder_namespace keeps finding the
 * first declaration). */
int nvsf_builder_namespace_new(nvsf_builder *b, const char *name,
                               nvsf_error *err);

/* Raw builders only: the namespace index (0..255) of the items that follow. */
int nvsf_builder_select_namespace_index(nvsf_builder *b, unsigned index,
                                        nvsf_error *err);

/* The selected namespace index (0: none), and how many were declared. */
unsigned nvsf_builder_namespace_index(const nvsf_builder *b);
unsigned nvsf_builder_namespace_count(const nvsf_builder *b);

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
 * One value as the reference module's NVS.write_entry takes it: decoded by
 * its encoding (u8 ... i64, string, hex2bin, base64, binary, blob_fill) and
 * written under `key`, without the Wi-Fi items a row may bring.
 */
int nvsf_rows_add_value(nvsf_rows *r, const char *key, const char *encoding,
                        const void *value, size_t len, nvsf_error *err);

/*
 * Read one partition CSV (header `key,type,encoding,value`, `#` comment
 * lines) from memory and add every row. `source` names it in messages.
 */
int nvsf_rows_add_csv(nvsf_rows *r, const char *source, const char *csv,
                      size_t len, nvsf_error *err);

/*
 * The same, going on past a bad row: each problem is added to errs, and
 * the return value is 0 when there was none, else the first one's code
 * (err holds its message). It stops early only where the rows that follow
 * cannot be judged: a CSV it cannot read on, a full partition, no memory.
 */
int nvsf_rows_add_csv_all(nvsf_rows *r, const char *source, const char *csv,
                          size_t len, nvsf_errors *errs, nvsf_error *err);

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

/* ---- reading an image: the device model --------------------------------- */

/*
 * An image as a device sees it: nvsf_image_read takes a copy of the
 * partition and opens it as ESP-IDF's NVS library does at start-up
 * (PageManager, Page and Storage in nvs_flash), applying to the copy the
 * repairs ESP-IDF applies to the flash: half-written entries marked erased,
 * entries whose CRC fails erased, the older copy of an item stored twice
 * erased, a garbage collection that was cut short finished, blob chunks
 * that no blob index claims erased. Each repair, and every other problem
 * found, is one nvsf_problem saying what, where, what data it loses and
 * what it means (enum nvsf_severity). After the start-up the model holds
 * the pages (state, sequence number, entry states), ESP-IDF's page list and
 * free pages, the active page, the live entries, and the items that
 * nvs_entry_find and nvs_get_* return. The reader never trusts the bytes:
 * any buffer of any length can be given.
 *
 * The model is mutable: nvsf_image_bytes gives the (decrypted) pages to
 * change in place, nvsf_image_reload opens them again (the start-up on the
 * changed bytes: cheap, about a millisecond per MiB), and nvsf_image_export
 * gives the bytes to flash, encrypted again when the image was read with a
 * key. A reload renews every pointer in the nvsf_image.
 */

#define NVSF_ENTRIES_PER_PAGE 126u

/* Entry states in a page's bitmap (2 bits). */
enum nvsf_entry_state {
    NVSF_ENTRY_ERASED = 0,   /* 00: written, then discarded */
    NVSF_ENTRY_ILLEGAL = 1,  /* 01: never written by NVS   */
    NVSF_ENTRY_WRITTEN = 2,  /* 10                          */
    NVSF_ENTRY_EMPTY = 3     /* 11: erased flash            */
};

/* What a problem, and an image (its worst problem), means for a device.
 * The command line's exit codes follow it (nvsforge-check(1)). */
enum nvsf_severity {
    NVSF_SOUND = 0,       /* nothing to say                                 */
    NVSF_REPAIRABLE = 1,  /* the leftovers of an interrupted write (a power
                             cut): ESP-IDF's start-up cleans them up; the
                             message says what data, if any, that loses    */
    NVSF_DAMAGED = 2,     /* bits that no interrupted write explains (a
                             flipped bit under a CRC...): what ESP-IDF
                             drops, or bytes it ignores that should not be */
    NVSF_UNUSABLE = 3     /* ESP-IDF cannot open the partition             */
};

/* What ESP-IDF does about a problem; already done to the model's bytes. */
enum nvsf_repair {
    NVSF_REPAIR_NONE = 0,      /* nothing: noted only                      */
    NVSF_REPAIR_ERASE_ENTRIES, /* `count` entries from `entry` marked erased */
    NVSF_REPAIR_ERASE_PAGE,    /* the page erased (all 0xFF)               */
    NVSF_REPAIR_COPY_PAGE      /* a freeing page's `count` items copied to
                                  a new page, then the page erased         */
};

typedef struct nvsf_page_info {
    uint32_t index;       /* position in the image: offset / 4096          */
    uint32_t state;       /* state word (nvsf_page_state_name)             */
    uint32_t seq;         /* sequence number as stored                     */
    uint8_t version;      /* version byte as stored: 0xFF 1, 0xFE 2        */
    int header_ok;        /* the page has a header whose CRC matches       */
    int readable;         /* ESP-IDF reads its entries: header_ok, state
                             active, full or freeing, a known version      */
    unsigned written, erased, empty, illegal; /* entries in each state     */
    unsigned next_free;   /* active page: the entry ESP-IDF writes next
                             (NVSF_ENTRIES_PER_PAGE: none left); other
                             pages: NVSF_ENTRIES_PER_PAGE                  */
    uint8_t entry_state[NVSF_ENTRIES_PER_PAGE]; /* enum nvsf_entry_state   */
} nvsf_page_info;

typedef struct nvsf_namespace {
    uint8_t index;        /* 1..254 */
    char name[17];        /* NUL-terminated */
    uint32_t page, entry; /* where it is declared */
} nvsf_namespace;

/* A live item header as ESP-IDF's page walk finds it (namespace entries,
 * blob chunks and blob indexes included), in page-list order. */
typedef struct nvsf_entry_ref {
    uint32_t page;
    uint8_t entry;        /* 0..125 */
    uint8_t span;         /* entries it takes, header included */
    uint8_t ns_index;     /* 0: a namespace definition */
    uint8_t type;         /* enum nvsf_item_type, as stored */
    uint8_t chunk_index;  /* 0xFF but for blob chunks */
    char key[17];         /* NUL-terminated */
} nvsf_entry_ref;

typedef struct nvsf_item {
    uint32_t page, entry;   /* its header entry; a version-2 blob: its index */
    uint8_t ns_index;
    const char *ns_name;    /* NULL when no namespace entry declares ns_index */
    char key[17];           /* NUL-terminated */
    enum nvsf_item_type type; /* NVSF_TYPE_BLOB_INDEX: a whole version-2 blob */
    uint64_t value;         /* integers: the value, sign-extended if signed;
                               float, double: the IEEE 754 bits            */
    const uint8_t *data;    /* strings (terminating NUL included) and blobs */
    size_t len;
    unsigned chunks;        /* version-2 blobs: how many chunks hold it */
    uint8_t chunk_start;    /* version-2 blobs: 0x00 or 0x80, its version */
} nvsf_item;

enum nvsf_problem_kind {
    NVSF_PROBLEM_IMAGE,       /* size, encryption, the image as a whole    */
    NVSF_PROBLEM_PAGE_HEADER, /* header CRC, version, reserved bytes       */
    NVSF_PROBLEM_PAGE_STATE,  /* unknown, corrupt or inconsistent states   */
    NVSF_PROBLEM_ENTRY_CRC,   /* entry header CRC                          */
    NVSF_PROBLEM_DATA_CRC,    /* string or blob data CRC                   */
    NVSF_PROBLEM_ENTRY,       /* type, span, size, key of an entry         */
    NVSF_PROBLEM_BITMAP,      /* entry states against the content          */
    NVSF_PROBLEM_NOT_ERASED,  /* bytes that are not 0xFF in erased areas   */
    NVSF_PROBLEM_BLOB,        /* blob index against its chunks             */
    NVSF_PROBLEM_NAMESPACE,   /* undeclared or badly declared namespaces   */
    NVSF_PROBLEM_DUPLICATE,   /* the same key twice in a namespace         */
    NVSF_PROBLEM_STARTUP      /* a rule of ESP-IDF's start-up applied      */
};

typedef struct nvsf_problem {
    enum nvsf_problem_kind kind;
    enum nvsf_severity severity;
    enum nvsf_repair repair;
    long page;              /* -1: the image as a whole */
    int entry;              /* -1: the page as a whole  */
    unsigned count;         /* entries or items the repair covers */
    char message[240];
} nvsf_problem;

typedef struct nvsf_image {
    size_t size;               /* bytes given                              */
    uint32_t page_count;       /* whole 4096-byte pages in them            */
    int version;               /* 2 if a readable page is version 2, else 1
                                  if one is version 1, else 0             */
    int mixed_versions;        /* readable pages of both versions         */
    int decrypted;             /* read with an XTS key                    */
    int read_only;             /* 1 or 2 pages: opened read-only, without
                                  the page manager's repairs              */
    enum nvsf_severity severity;   /* the worst of the problems           */
    const uint8_t *bytes;      /* the pages after the start-up (decrypted) */
    const nvsf_page_info *pages;   /* page_count, in image order          */
    const uint32_t *page_order;    /* ESP-IDF's page list: by sequence    */
    uint32_t page_order_count;     /* number; the last is the active page */
    uint32_t active_page;      /* where ESP-IDF writes next (the list's
                                  last page), UINT32_MAX: none. It may be
                                  an erased page ESP-IDF has taken but not
                                  written yet: its sequence number will be
                                  next_seq - 1                            */
    uint32_t next_seq;         /* the sequence number of the next new page */
    const uint32_t *free_pages;    /* free pages, in the order ESP-IDF   */
    uint32_t free_count;           /* takes them                          */
    const nvsf_entry_ref *entries; /* live item headers, page-list order  */
    size_t entry_count;
    const nvsf_namespace *namespaces; /* by first declaration             */
    size_t namespace_count;
    const nvsf_item *items;    /* what ESP-IDF returns, in page-list order
                                  (a key may stand twice, with two types) */
    size_t item_count;
    const nvsf_problem *problems; /* empty: the image is sound            */
    size_t problem_count;
} nvsf_image;

/*
 * Open an image of `len` bytes (any length). With a non-NULL xts_key
 * (64 bytes) a copy is decrypted first; NVSF_E_KEY when the key does not
 * fit the image (no written entry has a valid CRC after decryption).
 * Problems in the image are not errors: they are listed in
 * (*out)->problems. Otherwise fails only for lack of memory.
 */
int nvsf_image_read(const uint8_t *data, size_t len, const uint8_t *xts_key,
                    nvsf_image **out, nvsf_error *err);
void nvsf_image_free(nvsf_image *img);

/*
 * The model's pages (page_count * 4096 bytes, decrypted), to change in
 * place the way ESP-IDF writes. Call nvsf_image_reload afterwards.
 */
uint8_t *nvsf_image_bytes(nvsf_image *img);

/*
 * Open the changed bytes again: the start-up, the items, the problems.
 * Every pointer held in *img before is renewed. Fails only for lack of
 * memory (the image is then empty).
 */
int nvsf_image_reload(nvsf_image *img, nvsf_error *err);

/*
 * The partition to flash, img->size bytes into `out`: the model's bytes,
 * encrypted again with the key the image was read with. Every entry whose
 * decrypted bytes did not change since nvsf_image_read keeps its original
 * bytes, so pages nobody changed come out byte for byte as they came in
 * (the start-up's own repairs are changes too).
 */
int nvsf_image_export(const nvsf_image *img, uint8_t *out, nvsf_error *err);

/*
 * Does the XTS key fit the image? 0 when it does (or when the image has no
 * written entry to tell), NVSF_E_KEY with a message when it does not.
 */
int nvsf_image_check_key(const uint8_t *data, size_t len,
                         const uint8_t *xts_key, nvsf_error *err);

/*
 * Whole-flash dumps: is there an ESP-IDF partition table at table_offset
 * (0x8000 by default), and where is the partition labelled `label`?
 * NVSF_E_FORMAT, naming the labels there are, when it is not found.
 */
int nvsf_partition_has_table(const uint8_t *flash, size_t len,
                             uint32_t table_offset);
int nvsf_partition_find(const uint8_t *flash, size_t len,
                        uint32_t table_offset, const char *label,
                        uint32_t *offset, uint32_t *size, nvsf_error *err);

/* "sound", "repairable", "damaged", "unusable". */
const char *nvsf_severity_name(enum nvsf_severity severity);

/* "empty", "active", "full", "freeing", "corrupt" or "unknown". */
const char *nvsf_page_state_name(uint32_t state);

/* "u8" ... "i64", "float", "double", "string", "blob" (version 1),
 * "blob_data", "blob_index". */
const char *nvsf_item_type_name(enum nvsf_item_type type);

/*
 * The items as a partition-generator CSV (key,type,encoding,value, "\r\n"
 * line ends): namespace rows where the namespace changes, integers in
 * decimal, strings as `string`, blobs as `hex2bin`, and none of the Wi-Fi
 * items the generator adds by itself. Generating it again at the image's
 * size and version gives back the image for what the generator writes.
 * NVSF_E_FORMAT when an item cannot be written that way (a string that is
 * not UTF-8, a key that cannot be a CSV cell...). *csv is malloc'd.
 */
int nvsf_image_csv(const nvsf_image *img, char **csv, size_t *len,
                   nvsf_error *err);

/*
 * Generate `csv` at the image's size and version (2 when it has none) and
 * compare the result with the image's (decrypted) bytes: 1 when identical,
 * 0 when they differ (*first_diff: the first differing offset), or a
 * negative NVSF_E_* code when the generator refuses the CSV.
 */
int nvsf_image_csv_regenerates(const nvsf_image *img, const char *csv,
                               size_t len, size_t *first_diff,
                               nvsf_error *err);

/* ---- changing an image as the device would ----------------------------- */

/*
 * An image opened for change: set and erase items the way ESP-IDF's own NVS
 * library does on a device (new value into the active page, a new page or
 * garbage collection when it is full, then the old item erased; blobs as
 * chunks of the other version; the last erased page stays erased), so that
 * the result is a state the device itself could have reached. See
 * nvsforge-set(1) for the rules.
 *
 * nvsf_edit_open takes the image's bytes (`size`, a whole number of pages)
 * and changes them in place; with a non-NULL xts_key the image is encrypted
 * and every entry written is encrypted with it. The image is opened as
 * the device opens it (nvsf_image_read): the repairs of ESP-IDF's start-up,
 * if any, are applied to the bytes first (the log lists them). It refuses
 * a key that does not fit (NVSF_E_KEY), an image that is damaged or
 * unusable and one ESP-IDF opens read-only (NVSF_E_FORMAT). Each call
 * below is all or nothing: on failure the bytes are as they were before
 * the call.
 */
typedef struct nvsf_edit nvsf_edit;

int nvsf_edit_open(nvsf_edit **out, uint8_t *image, size_t size,
                   const uint8_t *xts_key, nvsf_error *err);
void nvsf_edit_close(nvsf_edit *ed);

/* Set a value in namespace `ns` (created when new). Names are 1 to 15
 * bytes. NVSF_E_FULL when it does not fit even after garbage collection. */
int nvsf_image_set_int(nvsf_edit *ed, const char *ns, const char *key,
                       enum nvsf_item_type type, uint64_t bits,
                       nvsf_error *err);
/* float (NVSF_TYPE_FLOAT) or double (NVSF_TYPE_DOUBLE) from its IEEE 754
 * bits; NaN is refused, as nvs_set_float does. */
int nvsf_image_set_float(nvsf_edit *ed, const char *ns, const char *key,
                         enum nvsf_item_type type, uint64_t bits,
                         nvsf_error *err);
int nvsf_image_set_string(nvsf_edit *ed, const char *ns, const char *key,
                          const char *s, size_t len, nvsf_error *err);
int nvsf_image_set_blob(nvsf_edit *ed, const char *ns, const char *key,
                        const void *data, size_t len, nvsf_error *err);

/* Erase one key (a blob with all its chunks), or with key NULL every item
 * of the namespace (nvs_erase_all; the namespace itself stays).
 * NVSF_E_INPUT when the namespace or key is not in the image. */
int nvsf_image_erase(nvsf_edit *ed, const char *ns, const char *key,
                     nvsf_error *err);

/*
 * A partition-CSV row as a change: `data` and `file` rows set the key
 * (encodings as the generator takes them), a row `key,erase,,` erases it.
 * `ns` is the namespace. Messages name source:line and the key.
 */
int nvsf_image_set_row(nvsf_edit *ed, const char *source, const char *ns,
                       const nvsf_row *row, nvsf_file_reader reader,
                       void *reader_ctx, nvsf_error *err);

/*
 * A whole partition CSV as changes, row after row: namespace rows select
 * the namespace (`ns,namespace,erase,` erases all its items), the others as
 * nvsf_image_set_row. On failure the rows before the failing one stay
 * applied: discard the image.
 */
int nvsf_image_apply_csv(nvsf_edit *ed, const char *source, const char *csv,
                         size_t len, nvsf_file_reader reader, void *reader_ctx,
                         nvsf_error *err);

/* What the changes since open did, one line per step ("page 3 entry 17:
 * ...", garbage collection, new pages); "" when nothing. */
const char *nvsf_edit_log(const nvsf_edit *ed);

/* 1 when a change since open wrote into page `page`. */
int nvsf_edit_page_changed(const nvsf_edit *ed, uint32_t page);

/*
 * Fuzzing entry point (libFuzzer's LLVMFuzzerTestOneInput signature): reads
 * the bytes as a plain image and as one encrypted with a fixed key, and
 * exports them as CSV. Always returns 0; it must never crash.
 */
int nvsf_fuzz_image(const uint8_t *data, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* NVSFORGE_H */
