/*
 * The NVS on-flash format, as ESP-IDF's NVS library reads it and its
 * partition generator writes it. This file is the specification the rest of
 * the library follows; docs/format.md says why, and ESP-IDF's
 * "NVS internals" documentation. Everything is little-endian.
 *
 * Partition: a whole number of 4096-byte pages.
 *
 * Page (4096 bytes)
 *   offset size
 *   0      4    state: 0xFFFFFFFF empty, 0xFFFFFFFE active, 0xFFFFFFFC full,
 *               0xFFFFFFF8 freeing, 0x00000000 corrupt
 *   4      4    sequence number (the generator uses the page index, from 0)
 *   8      1    format version: 0xFF version 1, 0xFE version 2
 *   9      19   reserved, 0xFF
 *   28     4    CRC32 of bytes 4..27
 *   32     32   entry state bitmap: 2 bits per entry, entry i in bits 2i
 *               (low) and 2i+1: 11 empty, 10 written, 00 erased
 *   64     126x32 entries
 *
 * Entry (32 bytes)
 *   0      1    namespace index (0 for namespace definitions)
 *   1      1    type (enum nvsf_item_type)
 *   2      1    span: entries used by the item, this one included
 *   3      1    chunk index: 0xFF except for blob data chunks
 *   4      4    CRC32 of bytes 0..3 followed by bytes 8..31
 *   8      16   key, NUL-padded, at most 15 bytes
 *   24     8    data:
 *                 integers,
 *                 float (0x24), double (0x28)
 *                            the value (IEEE 754 for these two),
 *                            little-endian, unused bytes 0xFF
 *                 string,
 *                 blob v1,
 *                 blob chunk size u16, 0xFFFF, CRC32 of the value bytes;
 *                            the value follows in the next span-1 entries
 *                 blob index total size u32, chunk count u8,
 *                            first chunk index u8, 0xFFFF
 *
 * A namespace is an u8 entry in namespace 0 whose key is the namespace name
 * and whose value is the index (1..254) its items carry.
 *
 * CRC32 everywhere is zlib's crc32() seeded with 0xFFFFFFFF (nvsf_crc32).
 */
#ifndef NVSF_NVS_FORMAT_H
#define NVSF_NVS_FORMAT_H

#include <stdint.h>

#include "nvsforge/nvsforge.h"

#define NVS_PAGE_SIZE 4096u
#define NVS_ENTRY_SIZE 32u
#define NVS_ENTRIES_PER_PAGE 126u
#define NVS_PAGE_HEADER_SIZE 32u
#define NVS_BITMAP_OFFSET 32u
#define NVS_BITMAP_SIZE 32u
#define NVS_FIRST_ENTRY_OFFSET 64u

/* Page header fields. */
#define NVS_PAGE_STATE_OFFSET 0u
#define NVS_PAGE_SEQ_OFFSET 4u
#define NVS_PAGE_VERSION_OFFSET 8u
#define NVS_PAGE_CRC_OFFSET 28u
#define NVS_PAGE_CRC_FROM 4u  /* the header CRC covers bytes 4..27 */
#define NVS_PAGE_CRC_LEN 24u

#define NVS_PAGE_STATE_EMPTY 0xFFFFFFFFu
#define NVS_PAGE_STATE_ACTIVE 0xFFFFFFFEu
#define NVS_PAGE_STATE_FULL 0xFFFFFFFCu
#define NVS_PAGE_STATE_FREEING 0xFFFFFFF8u
#define NVS_PAGE_STATE_CORRUPT 0x00000000u

#define NVS_PAGE_VERSION1 0xFFu
#define NVS_PAGE_VERSION2 0xFEu

/* Entry states in the bitmap (2 bits). */
#define NVS_ENTRY_STATE_EMPTY 0x3u
#define NVS_ENTRY_STATE_WRITTEN 0x2u
#define NVS_ENTRY_STATE_ERASED 0x0u

/* Entry fields. */
#define NVS_ENTRY_NS_OFFSET 0u
#define NVS_ENTRY_TYPE_OFFSET 1u
#define NVS_ENTRY_SPAN_OFFSET 2u
#define NVS_ENTRY_CHUNK_OFFSET 3u
#define NVS_ENTRY_CRC_OFFSET 4u
#define NVS_ENTRY_KEY_OFFSET 8u
#define NVS_ENTRY_KEY_SIZE 16u
#define NVS_ENTRY_DATA_OFFSET 24u
#define NVS_ENTRY_DATA_SIZE 8u

#define NVS_CHUNK_ANY 0xFFu
#define NVS_NAMESPACE_INDEX_MAX 254u  /* 255 is "any namespace" */

/* Value limits. */
#define NVS_STRING_MAX_V2 4000u    /* bytes, NUL included */
#define NVS_VARLEN_MAX_V1 1984u    /* strings and blobs in version 1 */
#define NVS_BLOB_MAX_V2 508000u    /* ESP-IDF's limit for one blob */
#define NVS_BLOB_CHUNKS_MAX 127u   /* chunk indexes of one blob version */

/* Key partition (nvs_keys): XTS data key, XTS tweak key, CRC32, 0xFF. */
#define NVS_KEYS_CRC_OFFSET 64u

/* The XTS tweak of the entry at `offset` bytes from the partition start is
 * that offset as a 16-byte little-endian number. */
static inline uint32_t nvs_entry_offset(uint32_t page, uint32_t entry)
{
    return page * NVS_PAGE_SIZE + NVS_FIRST_ENTRY_OFFSET +
           entry * NVS_ENTRY_SIZE;
}

static inline uint32_t nvs_load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint16_t nvs_load_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline void nvs_store_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void nvs_store_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* State of entry i from a page's bitmap. */
static inline unsigned nvs_bitmap_get(const uint8_t *page, unsigned i)
{
    return (page[NVS_BITMAP_OFFSET + i / 4] >> ((i % 4) * 2)) & 0x3u;
}

static inline void nvs_bitmap_set(uint8_t *page, unsigned i, unsigned state)
{
    uint8_t *b = &page[NVS_BITMAP_OFFSET + i / 4];
    unsigned shift = (i % 4) * 2;
    *b = (uint8_t)((*b & ~(0x3u << shift)) | (state & 0x3u) << shift);
}

/* A key or namespace name must be 1 to 15 bytes: 0 or NVSF_E_INPUT with a
 * message naming `what` ("key", "namespace"). In builder.c. */
int nvs_check_name(const char *what, const char *name, nvsf_error *err);

/* CRC32 of an entry: bytes 0..3 then 8..31. */
uint32_t nvs_entry_crc(const uint8_t *entry);

/* CRC32 of a page header: bytes 4..27. */
uint32_t nvs_page_header_crc(const uint8_t *page);

#endif /* NVSF_NVS_FORMAT_H */
