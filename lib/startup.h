/*
 * ESP-IDF's NVS start-up, on a partition held in memory (startup.c): what
 * Page::load, PageManager::load and Storage::init do to the flash when a
 * device opens its partition, and Page::findItem, which every later lookup
 * goes through. The reader (reader.c) runs it on its copy of the image and
 * then reads the values from the repaired bytes as nvs_get_* would.
 *
 * Every change made to the bytes, and every rule that ESP-IDF applies
 * without telling, is reported through `note`, with what it means for the
 * device (enum nvsf_severity) and what was done (enum nvsf_repair).
 */
#ifndef NVSF_STARTUP_H
#define NVSF_STARTUP_H

#include <stddef.h>
#include <stdint.h>

#include "nvsforge/nvsforge.h"

/* ESP-IDF's wildcards and blob version offsets. */
#define NVS_NS_ANY 0xFFu
#define NVS_TYPE_ANY 0xFFu
#define NVS_VER_ANY 0xFFu
#define NVS_VER_0 0x00u
#define NVS_VER_1 0x80u

/* A page as ESP-IDF holds it in memory. */
enum nvs_page_kind {
    NVS_PAGE_UNINITIALIZED, /* all 0xFF: a free page                     */
    NVS_PAGE_ACTIVE,
    NVS_PAGE_FULL,
    NVS_PAGE_FREEING,
    NVS_PAGE_CORRUPT        /* not read; a free page ESP-IDF erases first */
};

typedef struct nvs_page_mem {
    enum nvs_page_kind kind;
    uint32_t seq;
    unsigned first_used; /* first written entry; NVSF_ENTRIES_PER_PAGE: none */
    unsigned next_free;  /* ESP-IDF's mNextFreeEntry (active page only;
                            NVSF_ENTRIES_PER_PAGE elsewhere)             */
} nvs_page_mem;

typedef void (*nvs_note_fn)(void *ctx, enum nvsf_severity severity,
                            enum nvsf_repair repair, long page, int entry,
                            unsigned count, const char *message);

typedef struct nvs_flash {
    uint8_t *bytes;        /* the pages, decrypted; changed in place      */
    const uint8_t *raw;    /* the same pages as read (encrypted ones too):
                              how far a cut write got shows there         */
    uint32_t npages;
    int read_only;         /* no page-manager repairs (1 or 2 pages)      */
    nvs_page_mem *pg;      /* npages                                      */
    uint32_t *list;        /* PageManager's page list: by sequence number */
    uint32_t nlist;
    uint32_t *free;        /* its free page list, in ESP-IDF's order      */
    uint32_t nfree;
    uint32_t next_seq;     /* the sequence number the next page gets      */
    uint32_t pending;      /* list's last page, taken but not yet written
                              (its sequence number: next_seq - 1), or
                              UINT32_MAX                                  */
    int unusable;          /* ESP-IDF's nvs_flash_init fails              */
    uint8_t *crc_right;    /* NVS_CRC_MEMO_BYTES per page, a bit per entry:
                              its CRC was found right and its bytes have not
                              changed since; NULL: nothing remembered      */
    nvs_note_fn note;
    void *ctx;
} nvs_flash;

#define NVS_CRC_MEMO_BYTES ((NVSF_ENTRIES_PER_PAGE + 7) / 8)

/* Results of nvs_find_item, as ESP-IDF's findItem returns them. */
enum { NVS_FOUND = 0, NVS_NOT_FOUND = 1, NVS_TYPE_MISMATCH = 2 };

/*
 * Run the start-up on f->bytes (f->bytes, npages, read_only, note and ctx
 * set; the rest is filled). Returns 0, or -1 when out of memory.
 */
int nvs_startup(nvs_flash *f);
void nvs_flash_release(nvs_flash *f);

/* The entry i of page p. */
static inline uint8_t *nvs_entry_at(const nvs_flash *f, uint32_t p, unsigned i)
{
    return f->bytes + (size_t)p * NVSF_PAGE_SIZE + 64u + (size_t)i * 32u;
}

/*
 * ESP-IDF's Page::findItem on page p, from entry *index on: ns and type may
 * be the wildcards, key NULL for any; chunk and chunk_start are
 * NVS_CHUNK_ANY / NVS_VER_ANY when not searched for. On NVS_FOUND and
 * NVS_TYPE_MISMATCH, *index is the entry. Entries whose CRC fails on the
 * way are erased, as ESP-IDF does.
 */
int nvs_find_item(nvs_flash *f, uint32_t p, uint8_t ns, uint8_t type,
                  const char *key, uint8_t chunk, uint8_t chunk_start,
                  unsigned *index);

/*
 * nvs_find_item's test of one live entry, for lookups through an index:
 * a search (nvs_search_init), where on a page it starts (the first entry
 * for which nvs_search_hash_start holds, when q->hashed), and what an
 * entry from there on gives (NVS_FOUND, NVS_NOT_FOUND: go on,
 * NVS_TYPE_MISMATCH: the page's search ends).
 */
typedef struct nvs_search {
    uint8_t ns, type, chunk, chunk_start;
    const char *key;
    int hashed;
    uint8_t want[32];
} nvs_search;
void nvs_search_init(nvs_search *q, uint8_t ns, uint8_t type,
                     const char *key, uint8_t chunk, uint8_t chunk_start);
int nvs_search_hash_start(const nvs_search *q, const uint8_t *entry);
int nvs_search_match(const nvs_search *q, const uint8_t *entry);

/* ESP-IDF's Page::eraseEntryAndSpan: the item at entry i of page p. */
void nvs_erase_entry_span(nvs_flash *f, uint32_t p, unsigned i);

/* Strings, blobs and blob chunks take data entries after their header. */
int nvs_type_is_varlen(uint8_t type);

/* "u8 'key' (namespace index 3)" into buf, for messages. */
const char *nvs_describe(const uint8_t *entry, char *buf, size_t cap);

#endif
