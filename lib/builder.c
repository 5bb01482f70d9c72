/*
 * The image builder: places items on pages exactly as ESP-IDF's partition
 * generator does, so that the same input gives the same bytes. The layout is
 * in nvs_format.h; the placement rules are:
 *
 *   - pages fill in order; a page left behind is marked full, the last page
 *     written stays active; pages after it stay erased;
 *   - a partition of 0x3000 bytes or more keeps its last page erased for the
 *     library's garbage collection; 0x1000 and 0x2000 are read-only
 *     partitions whose every page may hold data;
 *   - an integer (or namespace) moves to a new page when the page holds 126
 *     entries;
 *   - a string or version-1 blob moves to a new page when
 *     used + span >= 126 (the generator never fills the last entry that
 *     way), unless the page is still empty;
 *   - a version-2 blob is written as chunks, each taking what is left of the
 *     page, then a blob index (see nvs_builder_add_chunked_blob).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "nvs_format.h"

/* (namespace index, key) pairs already written, to refuse duplicates. */
typedef struct key_set {
    uint8_t (*slots)[1 + NVS_ENTRY_KEY_SIZE]; /* ns index, key; ns 0 = free */
    size_t cap, count;
} key_set;

struct nvsf_builder {
    uint8_t *image;
    uint32_t size;
    uint32_t data_pages;     /* pages that may hold data */
    uint8_t version_byte;
    uint32_t page;           /* the page being written */
    unsigned used;           /* entries used in it */
    int finished;
    int has_key;
    uint8_t xts_key[NVSF_XTS_KEY_SIZE];
    char namespaces[NVS_NAMESPACE_INDEX_MAX + 1][NVS_ENTRY_KEY_SIZE];
    /* Names that nvsf_builder_namespace finds again (in raw mode, one
     * declared by nvsf_builder_namespace_new is not among them). */
    uint8_t namespace_found[NVS_NAMESPACE_INDEX_MAX + 1];
    unsigned namespace_count;
    unsigned namespace_current;  /* 0: none selected yet */
    int raw;                     /* see nvsf_builder_new_raw */
    key_set keys;
    /* A raw-mode key of 17 to 24 bytes: the bytes past its 16-byte field,
     * for the item being written (nvs_builder_seal). */
    uint8_t key_tail[NVS_ENTRY_DATA_SIZE];
    size_t key_tail_len;
};

int nvsf_size_is_read_only(uint32_t size)
{
    return size == NVS_PAGE_SIZE || size == 2 * NVS_PAGE_SIZE;
}

/* ---- duplicate keys ----------------------------------------------------- */

static uint64_t key_hash(const uint8_t *slot)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (unsigned i = 0; i < 1 + NVS_ENTRY_KEY_SIZE; i++)
        h = (h ^ slot[i]) * 1099511628211ull;
    return h;
}

/* Insert; 1 if newly added, 0 if present, < 0 on no memory. */
static int key_set_add(key_set *s, const uint8_t *slot)
{
    if ((s->count + 1) * 4 > s->cap * 3) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint8_t(*slots)[1 + NVS_ENTRY_KEY_SIZE] = calloc(cap, sizeof *slots);
        if (!slots)
            return NVSF_E_NOMEM;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slots[i][0])
                continue;
            size_t j = key_hash(s->slots[i]) & (cap - 1);
            while (slots[j][0])
                j = (j + 1) & (cap - 1);
            memcpy(slots[j], s->slots[i], sizeof *slots);
        }
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    size_t j = key_hash(slot) & (s->cap - 1);
    while (s->slots[j][0]) {
        if (memcmp(s->slots[j], slot, sizeof *s->slots) == 0)
            return 0;
        j = (j + 1) & (s->cap - 1);
    }
    memcpy(s->slots[j], slot, sizeof *s->slots);
    s->count++;
    return 1;
}

/* ---- pages -------------------------------------------------------------- */

static uint8_t *page_at(nvsf_builder *b, uint32_t page)
{
    return b->image + (size_t)page * NVS_PAGE_SIZE;
}

static void nvs_page_write_header(nvsf_builder *b, uint32_t page, uint32_t state)
{
    uint8_t *p = page_at(b, page);
    nvs_store_u32(p + NVS_PAGE_STATE_OFFSET, state);
    nvs_store_u32(p + NVS_PAGE_SEQ_OFFSET, page);
    p[NVS_PAGE_VERSION_OFFSET] = b->version_byte;
    nvs_store_u32(p + NVS_PAGE_CRC_OFFSET, nvs_page_header_crc(p));
}

static int nvs_builder_full(const nvsf_builder *b, const char *item,
                            nvsf_error *err)
{
    const char *pages = b->data_pages == 1 ? "page" : "pages";
    if (nvsf_size_is_read_only(b->size))
        return nvsf_fail(err, NVSF_E_FULL,
                         "%s does not fit in the partition of 0x%x bytes "
                         "(%u %s); give a larger size",
                         item, b->size, b->data_pages, pages);
    return nvsf_fail(err, NVSF_E_FULL,
                     "%s does not fit in the partition of 0x%x bytes (%u "
                     "%s for data, the last page stays erased for NVS); "
                     "give a larger size",
                     item, b->size, b->data_pages, pages);
}

/* Move on to the next page; `item` names what needs it, for the message. */
static int nvs_builder_next_page(nvsf_builder *b, const char *item,
                                 nvsf_error *err)
{
    if (b->page + 1 >= b->data_pages)
        return nvs_builder_full(b, item, err);
    /* The state is outside the header CRC, so only it changes. */
    nvs_store_u32(page_at(b, b->page) + NVS_PAGE_STATE_OFFSET,
                  NVS_PAGE_STATE_FULL);
    b->page++;
    b->used = 0;
    nvs_page_write_header(b, b->page, NVS_PAGE_STATE_ACTIVE);
    return 0;
}

/* Copy `count` entries into the current page and mark them written. */
static void nvs_page_write_entries(nvsf_builder *b, const uint8_t *entries,
                                   unsigned count)
{
    uint8_t *p = page_at(b, b->page);
    memcpy(p + NVS_FIRST_ENTRY_OFFSET + (size_t)b->used * NVS_ENTRY_SIZE, entries,
           (size_t)count * NVS_ENTRY_SIZE);
    for (unsigned i = 0; i < count; i++)
        nvs_bitmap_set(p, b->used + i, NVS_ENTRY_STATE_WRITTEN);
    b->used += count;
}

/*
 * Close a header entry: its CRC, after the tail of a long raw-mode key.
 * The reference writes the key first and then only the data bytes of the
 * item's type (an integer's size; a string's, blob's or chunk's size and
 * CRC, not the two bytes between them; all of a blob index), so the key's
 * tail stays in the others.
 */
static void nvs_builder_seal(const nvsf_builder *b, uint8_t *header)
{
    uint8_t type = header[NVS_ENTRY_TYPE_OFFSET];
    for (size_t i = 0; i < b->key_tail_len; i++) {
        int written;
        if (type == NVSF_TYPE_BLOB_INDEX)
            written = 1;
        else if (type == NVSF_TYPE_STRING || type == NVSF_TYPE_BLOB ||
                 type == NVSF_TYPE_BLOB_DATA)
            written = i != 2 && i != 3;
        else
            written = i < (size_t)(type & 0x0F); /* integer, float: its size */
        if (!written)
            header[NVS_ENTRY_DATA_OFFSET + i] = b->key_tail[i];
    }
    nvs_store_u32(header + NVS_ENTRY_CRC_OFFSET, nvs_entry_crc(header));
}

/* Write a header entry followed by `len` bytes of value data, padded with
 * 0xFF to whole entries. The caller has made room. */
static void nvs_page_write_item(nvsf_builder *b, uint8_t *header,
                                const uint8_t *data, size_t len)
{
    nvs_builder_seal(b, header);
    nvs_page_write_entries(b, header, 1);
    size_t whole = len / NVS_ENTRY_SIZE * NVS_ENTRY_SIZE;
    if (whole)
        nvs_page_write_entries(b, data, (unsigned)(whole / NVS_ENTRY_SIZE));
    if (len > whole) {
        uint8_t last[NVS_ENTRY_SIZE];
        memset(last, 0xFF, sizeof last);
        memcpy(last, data + whole, len - whole);
        nvs_page_write_entries(b, last, 1);
    }
}

/* ---- creation ----------------------------------------------------------- */

/* A builder of `size` bytes whose first `data_pages` pages may hold data. */
static int nvs_builder_create(nvsf_builder **out, uint32_t size,
                              uint32_t data_pages, int version,
                              const uint8_t *xts_key, nvsf_error *err)
{
    *out = NULL;
    if (size < NVS_PAGE_SIZE || size % NVS_PAGE_SIZE)
        return nvsf_fail(err, NVSF_E_USAGE,
                         "partition size 0x%x is not a multiple of 4096", size);
    if (data_pages < 1 || data_pages > size / NVS_PAGE_SIZE)
        return nvsf_fail(err, NVSF_E_USAGE,
                         "%u data pages do not fit in a partition of 0x%x bytes",
                         data_pages, size);
    if (version != 1 && version != 2)
        return nvsf_fail(err, NVSF_E_USAGE,
                         "format version must be 1 or 2, not %d", version);
    nvsf_builder *b = calloc(1, sizeof *b);
    if (!b || !(b->image = malloc(size))) {
        free(b);
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    }
    memset(b->image, 0xFF, size);
    b->size = size;
    b->data_pages = data_pages;
    b->version_byte = version == 1 ? NVS_PAGE_VERSION1 : NVS_PAGE_VERSION2;
    if (xts_key) {
        b->has_key = 1;
        memcpy(b->xts_key, xts_key, NVSF_XTS_KEY_SIZE);
    }
    nvs_page_write_header(b, 0, NVS_PAGE_STATE_ACTIVE);
    *out = b;
    return 0;
}

int nvsf_builder_new(nvsf_builder **out, uint32_t size, int version,
                     const uint8_t *xts_key, nvsf_error *err)
{
    uint32_t pages = size / NVS_PAGE_SIZE;
    if (!nvsf_size_is_read_only(size) && pages > 0)
        pages--; /* the erased page NVS needs to move data into */
    return nvs_builder_create(out, size, pages, version, xts_key, err);
}

int nvsf_builder_new_raw(nvsf_builder **out, uint32_t size,
                         uint32_t data_pages, int version,
                         const uint8_t *xts_key, nvsf_error *err)
{
    int rc = nvs_builder_create(out, size, data_pages, version, xts_key, err);
    if (!rc)
        (*out)->raw = 1;
    return rc;
}

void nvsf_builder_free(nvsf_builder *b)
{
    if (!b)
        return;
    /* The image and the key are secrets until encrypted. */
    nvsf_wipe(b->image, b->size);
    free(b->image);
    free(b->keys.slots);
    nvsf_wipe(b, sizeof *b);
    free(b);
}

uint32_t nvsf_builder_pages_used(const nvsf_builder *b)
{
    return b->page + 1;
}

/* ---- items -------------------------------------------------------------- */

int nvs_check_name(const char *what, const char *name, nvsf_error *err)
{
    size_t len = strlen(name);
    if (len == 0)
        return nvsf_fail(err, NVSF_E_INPUT, "%s name is empty", what);
    if (len > NVSF_KEY_MAX_LEN)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "%s '%s' is %zu bytes long; NVS allows at most %u",
                         what, name, len, NVSF_KEY_MAX_LEN);
    return 0;
}

/* Outside raw mode: an item needs a namespace, and a key may be set once
 * in each. */
static int nvs_builder_check_new_key(nvsf_builder *b, const char *key,
                                     nvsf_error *err)
{
    if (!b->namespace_current)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "key '%s' comes before any namespace; the first "
                         "entry must be a namespace",
                         key);
    uint8_t slot[1 + NVS_ENTRY_KEY_SIZE] = {0};
    slot[0] = (uint8_t)b->namespace_current;
    memcpy(slot + 1, key, strlen(key) + 1); /* fits: at most 15 bytes */
    int rc = key_set_add(&b->keys, slot);
    if (rc < 0)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    if (rc == 0)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "key '%s' is already set in namespace '%s'; a key may "
                         "appear once per namespace",
                         key, b->namespaces[b->namespace_current]);
    return 0;
}

/*
 * A raw builder takes the keys the reference module's low-level calls write
 * (ESP-IDF's parser tests use keys of 16 and 17 bytes): an ASCII key of up
 * to 24 bytes. The reference copies the key over the entry from offset 8,
 * past the 16-byte key field into the data field; 16 bytes fill the field
 * with no NUL. Longer, or not ASCII, it writes entries of another size.
 */
static int nvs_check_raw_key(const char *key, nvsf_error *err)
{
    size_t len = strlen(key);
    if (len <= NVSF_KEY_MAX_LEN)
        return nvs_check_name("key", key, err);
    int ascii = 1;
    for (size_t i = 0; i < len; i++)
        ascii &= (unsigned char)key[i] < 0x80;
    if (len > NVS_ENTRY_KEY_SIZE + NVS_ENTRY_DATA_SIZE || !ascii)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "key '%s' is %zu bytes long; NVS allows at most %u "
                         "(a raw builder, as ESP-IDF's generator, writes "
                         "ASCII keys of up to 24 bytes)",
                         key, len, NVSF_KEY_MAX_LEN);
    return 0;
}

/* A fresh header entry for `key` in the current namespace. */
static int nvs_builder_item_header(nvsf_builder *b, const char *key,
                                   uint8_t type, uint8_t header[NVS_ENTRY_SIZE],
                                   nvsf_error *err)
{
    if (b->finished)
        return nvsf_fail(err, NVSF_E_USAGE, "the image is already finished");
    int rc = b->raw ? nvs_check_raw_key(key, err) : nvs_check_name("key", key, err);
    if (rc)
        return rc;
    if (!b->raw) {
        rc = nvs_builder_check_new_key(b, key, err);
        if (rc)
            return rc;
    }
    memset(header, 0xFF, NVS_ENTRY_SIZE);
    header[NVS_ENTRY_NS_OFFSET] = (uint8_t)b->namespace_current;
    header[NVS_ENTRY_TYPE_OFFSET] = type;
    header[NVS_ENTRY_SPAN_OFFSET] = 1;
    header[NVS_ENTRY_CHUNK_OFFSET] = NVS_CHUNK_ANY;
    memset(header + NVS_ENTRY_KEY_OFFSET, 0, NVS_ENTRY_KEY_SIZE);
    size_t len = strlen(key);
    memcpy(header + NVS_ENTRY_KEY_OFFSET, key,
           len < NVS_ENTRY_KEY_SIZE ? len + 1 : NVS_ENTRY_KEY_SIZE);
    b->key_tail_len = len > NVS_ENTRY_KEY_SIZE ? len - NVS_ENTRY_KEY_SIZE : 0;
    if (b->key_tail_len)
        memcpy(b->key_tail, key + NVS_ENTRY_KEY_SIZE, b->key_tail_len);
    return 0;
}



/* "key 'k'" or "namespace 'n'" for messages, from a header entry. */
static const char *item_name(const uint8_t *header, char buf[48])
{
    snprintf(buf, 48, "%s '%.16s'",
             header[NVS_ENTRY_NS_OFFSET] ? "key" : "namespace",
             (const char *)header + NVS_ENTRY_KEY_OFFSET);
    return buf;
}

static int nvs_builder_next_page_for(nvsf_builder *b, const uint8_t *header,
                                     nvsf_error *err)
{
    char name[48];
    return nvs_builder_next_page(b, item_name(header, name), err);
}

/* Integers and namespaces: one entry, moved on when the page is full. */
static int nvs_builder_put_primitive(nvsf_builder *b, uint8_t *header,
                                     nvsf_error *err)
{
    if (b->used >= NVS_ENTRIES_PER_PAGE) {
        int rc = nvs_builder_next_page_for(b, header, err);
        if (rc)
            return rc;
    }
    nvs_builder_seal(b, header);
    nvs_page_write_entries(b, header, 1);
    return 0;
}

/* Write a namespace entry with the next index and select it. */
static int nvs_builder_declare_namespace(nvsf_builder *b, const char *name,
                                         nvsf_error *err)
{
    if (b->namespace_count >= NVS_NAMESPACE_INDEX_MAX)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "namespace '%s' would be number %u; NVS allows at "
                         "most %u namespaces",
                         name, b->namespace_count + 1, NVS_NAMESPACE_INDEX_MAX);
    unsigned index = b->namespace_count + 1;
    uint8_t header[NVS_ENTRY_SIZE];
    memset(header, 0xFF, sizeof header);
    header[NVS_ENTRY_NS_OFFSET] = 0;
    header[NVS_ENTRY_TYPE_OFFSET] = NVSF_TYPE_U8;
    header[NVS_ENTRY_SPAN_OFFSET] = 1;
    header[NVS_ENTRY_CHUNK_OFFSET] = NVS_CHUNK_ANY;
    memset(header + NVS_ENTRY_KEY_OFFSET, 0, NVS_ENTRY_KEY_SIZE);
    memcpy(header + NVS_ENTRY_KEY_OFFSET, name, strlen(name) + 1);
    header[NVS_ENTRY_DATA_OFFSET] = (uint8_t)index;
    b->key_tail_len = 0; /* a namespace name fits its field */
    int rc = nvs_builder_put_primitive(b, header, err);
    if (rc)
        return rc;
    memcpy(b->namespaces[index], name, strlen(name) + 1);
    b->namespace_count = index;
    b->namespace_current = index;
    return 0;
}

static int nvs_builder_check_namespace(const nvsf_builder *b, const char *name,
                                       nvsf_error *err)
{
    if (b->finished)
        return nvsf_fail(err, NVSF_E_USAGE, "the image is already finished");
    return nvs_check_name("namespace", name, err);
}

int nvsf_builder_namespace(nvsf_builder *b, const char *name, nvsf_error *err)
{
    int rc = nvs_builder_check_namespace(b, name, err);
    if (rc)
        return rc;
    for (unsigned i = 1; i <= b->namespace_count; i++) {
        if (b->namespace_found[i] &&
            strncmp(b->namespaces[i], name, NVS_ENTRY_KEY_SIZE) == 0) {
            b->namespace_current = i; /* declared before: reuse its index */
            return 0;
        }
    }
    rc = nvs_builder_declare_namespace(b, name, err);
    if (!rc)
        b->namespace_found[b->namespace_current] = 1;
    return rc;
}

/* ---- raw mode ------------------------------------------------------------ */

int nvsf_builder_namespace_new(nvsf_builder *b, const char *name,
                               nvsf_error *err)
{
    if (!b->raw)
        return nvsf_fail(err, NVSF_E_USAGE,
                         "a namespace declared twice needs a raw builder");
    int rc = nvs_builder_check_namespace(b, name, err);
    return rc ? rc : nvs_builder_declare_namespace(b, name, err);
}

int nvsf_builder_select_namespace_index(nvsf_builder *b, unsigned index,
                                        nvsf_error *err)
{
    if (!b->raw)
        return nvsf_fail(err, NVSF_E_USAGE,
                         "a namespace index of choice needs a raw builder");
    if (index > 0xFF)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "namespace index %u does not fit in a byte", index);
    b->namespace_current = index;
    return 0;
}

unsigned nvsf_builder_namespace_index(const nvsf_builder *b)
{
    return b->namespace_current;
}

unsigned nvsf_builder_namespace_count(const nvsf_builder *b)
{
    return b->namespace_count;
}

static int put_integer(nvsf_builder *b, const char *key,
                       enum nvsf_item_type type, uint64_t bits, nvsf_error *err)
{
    uint8_t header[NVS_ENTRY_SIZE];
    int rc = nvs_builder_item_header(b, key, (uint8_t)type, header, err);
    if (rc)
        return rc;
    unsigned width = (unsigned)type & 0x0Fu; /* the type's low nibble */
    for (unsigned i = 0; i < width; i++)
        header[NVS_ENTRY_DATA_OFFSET + i] = (uint8_t)(bits >> (8 * i));
    return nvs_builder_put_primitive(b, header, err);
}

static int check_integer_type(enum nvsf_item_type type, nvsf_error *err)
{
    switch (type) {
    case NVSF_TYPE_U8: case NVSF_TYPE_I8: case NVSF_TYPE_U16:
    case NVSF_TYPE_I16: case NVSF_TYPE_U32: case NVSF_TYPE_I32:
    case NVSF_TYPE_U64: case NVSF_TYPE_I64:
        return 0;
    default:
        return nvsf_fail(err, NVSF_E_USAGE, "type 0x%02x is not an integer type",
                         (unsigned)type);
    }
}

int nvsf_builder_add_int(nvsf_builder *b, const char *key,
                         enum nvsf_item_type type, int64_t value,
                         nvsf_error *err)
{
    int rc = check_integer_type(type, err);
    if (rc)
        return rc;
    unsigned bits = ((unsigned)type & 0x0Fu) * 8;
    int is_signed = ((unsigned)type & 0x10u) != 0;
    int64_t lo = is_signed ? (bits == 64 ? INT64_MIN : -(INT64_C(1) << (bits - 1))) : 0;
    int64_t hi = bits == 64 ? INT64_MAX
                 : is_signed ? (INT64_C(1) << (bits - 1)) - 1
                             : (INT64_C(1) << bits) - 1;
    if (value < lo || value > hi)
        return nvsf_fail(err, NVSF_E_RANGE,
                         "value %lld of key '%s' is out of range (%lld..%lld)",
                         (long long)value, key, (long long)lo, (long long)hi);
    return put_integer(b, key, type, (uint64_t)value, err);
}

int nvsf_builder_add_uint(nvsf_builder *b, const char *key,
                          enum nvsf_item_type type, uint64_t value,
                          nvsf_error *err)
{
    if (value <= (uint64_t)INT64_MAX)
        return nvsf_builder_add_int(b, key, type, (int64_t)value, err);
    int rc = check_integer_type(type, err);
    if (rc)
        return rc;
    if (type != NVSF_TYPE_U64) /* only u64 holds values above INT64_MAX */
        return nvsf_fail(err, NVSF_E_RANGE,
                         "value %llu of key '%s' is out of range for its type",
                         (unsigned long long)value, key);
    return put_integer(b, key, type, value, err);
}

int nvsf_builder_add_float(nvsf_builder *b, const char *key,
                           enum nvsf_item_type type, uint64_t bits,
                           nvsf_error *err)
{
    if (type != NVSF_TYPE_FLOAT && type != NVSF_TYPE_DOUBLE)
        return nvsf_fail(err, NVSF_E_USAGE,
                         "type 0x%02x is not float or double", (unsigned)type);
    int nan = type == NVSF_TYPE_FLOAT
                  ? (bits & 0x7F800000u) == 0x7F800000u && (bits & 0x7FFFFFu)
                  : (bits & UINT64_C(0x7FF0000000000000)) ==
                            UINT64_C(0x7FF0000000000000) &&
                        (bits & UINT64_C(0xFFFFFFFFFFFFF));
    if (nan)
        return nvsf_fail(err, NVSF_E_RANGE,
                         "key '%s': NaN is not a value NVS stores", key);
    if (type == NVSF_TYPE_FLOAT && bits > UINT32_MAX)
        return nvsf_fail(err, NVSF_E_RANGE,
                         "key '%s': a float has 32 bits", key);
    return put_integer(b, key, type, bits, err);
}

/* A string or version-1 blob: header + data entries, all on one page. */
static int nvs_builder_put_single_page(nvsf_builder *b, uint8_t *header,
                                       const uint8_t *data, size_t len,
                                       nvsf_error *err)
{
    unsigned span = 1 + (unsigned)((len + NVS_ENTRY_SIZE - 1) / NVS_ENTRY_SIZE);
    if (b->used > 0 && b->used + span >= NVS_ENTRIES_PER_PAGE) {
        int rc = nvs_builder_next_page_for(b, header, err);
        if (rc)
            return rc;
    }
    header[NVS_ENTRY_SPAN_OFFSET] = (uint8_t)span;
    nvs_store_u16(header + NVS_ENTRY_DATA_OFFSET, (uint16_t)len);
    nvs_store_u32(header + NVS_ENTRY_DATA_OFFSET + 4, nvsf_crc32(data, len));
    nvs_page_write_item(b, header, data, len);
    return 0;
}

int nvsf_builder_add_string(nvsf_builder *b, const char *key, const char *s,
                            size_t len, nvsf_error *err)
{
    if (memchr(s, '\0', len))
        return nvsf_fail(err, NVSF_E_INPUT,
                         "string for key '%s' holds a NUL byte", key);
    size_t stored = len + 1; /* with its NUL */
    size_t max = b->version_byte == NVS_PAGE_VERSION1 ? NVS_VARLEN_MAX_V1
                                                      : NVS_STRING_MAX_V2;
    if (stored > max)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "string for key '%s' is %zu bytes with its NUL; "
                         "format version %d allows at most %zu",
                         key, stored,
                         b->version_byte == NVS_PAGE_VERSION1 ? 1 : 2, max);
    uint8_t header[NVS_ENTRY_SIZE];
    int rc = nvs_builder_item_header(b, key, NVSF_TYPE_STRING, header, err);
    if (rc)
        return rc;
    uint8_t *copy = malloc(stored);
    if (!copy)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    memcpy(copy, s, len);
    copy[len] = '\0';
    rc = nvs_builder_put_single_page(b, header, copy, stored, err);
    nvsf_wipe(copy, stored);
    free(copy);
    return rc;
}

/*
 * A version-2 blob. Each chunk takes what is left of the page:
 * (126 - used - 1) entries of data, possibly none when the blob starts in the
 * page's last free entry. A new page follows when bytes remain or when less
 * than one entry is left; the blob index comes after the last chunk.
 */
static int nvs_builder_add_chunked_blob(nvsf_builder *b, uint8_t *header,
                                        const uint8_t *data, size_t len,
                                        nvsf_error *err)
{
    int rc;
    if (b->used >= NVS_ENTRIES_PER_PAGE &&
        (rc = nvs_builder_next_page_for(b, header, err)))
        return rc;
    size_t offset = 0, remaining = len;
    unsigned chunks = 0;
    for (;;) {
        size_t tailroom =
            (size_t)(NVS_ENTRIES_PER_PAGE - b->used - 1) * NVS_ENTRY_SIZE;
        size_t chunk = remaining < tailroom ? remaining : tailroom;
        remaining -= chunk;
        if (chunks >= NVS_BLOB_CHUNKS_MAX) {
            char name[48];
            return nvsf_fail(err, NVSF_E_INPUT,
                             "%s: the blob needs more than %u chunks; make it "
                             "smaller",
                             item_name(header, name), NVS_BLOB_CHUNKS_MAX);
        }
        header[NVS_ENTRY_TYPE_OFFSET] = NVSF_TYPE_BLOB_DATA;
        header[NVS_ENTRY_SPAN_OFFSET] =
            (uint8_t)(1 + (chunk + NVS_ENTRY_SIZE - 1) / NVS_ENTRY_SIZE);
        header[NVS_ENTRY_CHUNK_OFFSET] = (uint8_t)chunks;
        nvs_store_u16(header + NVS_ENTRY_DATA_OFFSET, (uint16_t)chunk);
        nvs_store_u32(header + NVS_ENTRY_DATA_OFFSET + 4,
                      nvsf_crc32(data + offset, chunk));
        nvs_page_write_item(b, header, data + offset, chunk);
        chunks++;
        offset += chunk;
        if ((remaining || tailroom - chunk < NVS_ENTRY_SIZE) &&
            (rc = nvs_builder_next_page_for(b, header, err)))
            return rc;
        if (!remaining)
            break;
    }
    header[NVS_ENTRY_TYPE_OFFSET] = NVSF_TYPE_BLOB_INDEX;
    header[NVS_ENTRY_SPAN_OFFSET] = 1;
    header[NVS_ENTRY_CHUNK_OFFSET] = NVS_CHUNK_ANY;
    memset(header + NVS_ENTRY_DATA_OFFSET, 0xFF, NVS_ENTRY_DATA_SIZE);
    nvs_store_u32(header + NVS_ENTRY_DATA_OFFSET, (uint32_t)len);
    header[NVS_ENTRY_DATA_OFFSET + 4] = (uint8_t)chunks;
    header[NVS_ENTRY_DATA_OFFSET + 5] = 0; /* first chunk index */
    nvs_builder_seal(b, header);
    nvs_page_write_entries(b, header, 1);
    return 0;
}

int nvsf_builder_add_blob(nvsf_builder *b, const char *key, const void *data,
                          size_t len, nvsf_error *err)
{
    int v1 = b->version_byte == NVS_PAGE_VERSION1;
    size_t max = v1 ? NVS_VARLEN_MAX_V1 : NVS_BLOB_MAX_V2;
    if (len > max)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "blob for key '%s' is %zu bytes; format version %d "
                         "allows at most %zu",
                         key, len, v1 ? 1 : 2, max);
    uint8_t header[NVS_ENTRY_SIZE];
    int rc = nvs_builder_item_header(b, key, v1 ? NVSF_TYPE_BLOB : NVSF_TYPE_BLOB_DATA,
                                     header, err);
    if (rc)
        return rc;
    if (v1)
        return nvs_builder_put_single_page(b, header, data, len, err);
    return nvs_builder_add_chunked_blob(b, header, data, len, err);
}

int nvsf_builder_peek(const nvsf_builder *b, uint8_t *out, size_t len,
                      nvsf_error *err)
{
    if (len > b->size || len % NVS_PAGE_SIZE)
        return nvsf_fail(err, NVSF_E_USAGE,
                         "%zu bytes are not whole pages of the image", len);
    memcpy(out, b->image, len);
    if (!b->has_key || !len)
        return 0;
    int rc = nvsf_image_encrypt(out, len, b->xts_key, err);
    if (rc)
        nvsf_wipe(out, len);
    return rc;
}

int nvsf_builder_finish(nvsf_builder *b, uint8_t *image, nvsf_error *err)
{
    if (b->finished)
        return nvsf_fail(err, NVSF_E_USAGE, "the image is already finished");
    b->finished = 1;
    return nvsf_builder_peek(b, image, b->size, err);
}
