/*
 * The NVS writer: changes an image the way ESP-IDF's NVS library changes
 * the flash of a running device (nvs_storage.cpp, nvs_page.cpp,
 * nvs_pagemanager.cpp), so that the device cannot tell our change from one
 * its own library made. The rules, in ESP-IDF's words where they have them:
 *
 *   - Pages: the page list holds the pages that have a sequence number, in
 *     its order; the last one is the current page, where every write goes.
 *     The free list holds the erased pages, in partition order as loaded,
 *     and a page freed by garbage collection joins it at the end.
 *   - Page::writeItem: an item of `span` entries goes at the current page's
 *     next free entry; when it does not fit (next free + span > 126) the page
 *     is marked FULL and PageManager::requestNewPage gives a new one. An
 *     erased page is initialised (header: ACTIVE, the next sequence number,
 *     its version) when the first item goes into it.
 *   - requestNewPage: with two or more free pages, the first free page
 *     becomes the current one. With one, garbage collection: the page of the
 *     page list with the most entries not written (the first of equals) is
 *     marked FREEING, the free page becomes current, the written items are
 *     copied into it in order, and the old page is erased and freed. The last
 *     free page therefore always stays erased.
 *   - Storage::writeItem: the new value is written first, then the old item
 *     is erased (its entries marked erased in the bitmap). A value equal to
 *     the stored one writes nothing.
 *   - writeMultiPageBlob: a blob is chunks (type 0x42) at chunk indexes from
 *     0x00 or 0x80, the other version than the blob it replaces, each taking
 *     what the current page has left (its free entries less one), then a
 *     blob index (0x48); a first chunk moves to a new page when the page
 *     holds less than the whole blob and less than 400 bytes. The old index
 *     and then its chunks are erased afterwards.
 *   - A new namespace is a u8 item in namespace 0 whose value is the lowest
 *     index (1..254) no namespace uses.
 *   - nvs_erase_key erases the item (a blob: its index, then its chunks);
 *     nvs_erase_all erases every item of the namespace, page by page; the
 *     namespace itself stays.
 *
 * Where ESP-IDF would leave a mess for its next start-up to clean, we clean
 * it now, as that start-up would: a key that changes type loses its old item
 * whatever the types (ESP-IDF keeps an old non-blob item when a blob is set
 * over it), and the chunks of a blob replaced by another type are erased.
 *
 * The image is opened as the device opens it (the reader's start-up, with
 * its repairs), and must be writable (a free page; not damaged). The page
 * manager's state in memory and the item lookups are the device model's
 * (startup.h: nvs_flash, nvs_find_item, nvs_erase_entry_span), the same
 * code that opens a partition. Every change is all or nothing: on failure
 * the image is as it was before the call.
 *
 * Encrypted images: the editor works on a decrypted copy and writes every
 * entry it writes, encrypted at its new place, into the caller's bytes;
 * page headers and bitmaps are plain in both. Bytes the change does not
 * touch stay as they were.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "error.h"
#include "nvs_format.h"
#include "nvsforge/nvsforge.h"
#include "startup.h"

#define NO_ENTRY NVS_ENTRIES_PER_PAGE /* "none" for entry positions */
#define CHUNK_MAX_SIZE ((size_t)(NVS_ENTRIES_PER_PAGE - 1) * NVS_ENTRY_SIZE)
#define VER_0_OFFSET NVS_VER_0
#define VER_1_OFFSET NVS_VER_1
#define VER_ANY NVS_VER_ANY
#define TYPE_ANY NVS_TYPE_ANY

/* Results of the page and storage steps, as ESP-IDF's codes (the first
 * three are nvs_find_item's). */
enum {
    W_OK = NVS_FOUND,
    W_NOT_FOUND = NVS_NOT_FOUND,
    W_TYPE_MISMATCH = NVS_TYPE_MISMATCH,
    W_PAGE_FULL = 3,
    W_NOT_ENOUGH_SPACE = 4
};

/* The page manager's state in memory, which a change may have to undo. */
typedef struct model {
    nvs_page_mem *pg;
    uint32_t *list, nlist, *free, nfree, next_seq;
    uint8_t *version; /* per page: kept across an erase, as ESP-IDF does */
} model;

struct nvsf_edit {
    uint8_t *raw;         /* the caller's bytes */
    uint8_t *plain;       /* decrypted copy, or raw itself */
    size_t size;
    uint32_t page_count;
    nvsf_xts *enc;        /* NULL for plain images */
    nvs_flash f;          /* the device model's pages (startup.h) */
    uint8_t *version;     /* per page, in memory */
    model saved;
    uint8_t *touched;     /* per page: changed by the current call */
    uint8_t *ever;        /* per page: changed since open */
    uint8_t *undo_raw, *undo_plain; /* the touched pages as they were */
    char ns_names[256][NVS_ENTRY_KEY_SIZE]; /* by index, for the log */
    nvsf_buf log;         /* what the change did, one line each */
    size_t log_mark;
    uint32_t last_page;   /* where the last item header was written */
    unsigned last_entry;
    int failed;           /* a write to the bytes failed (crypto) */
    nvsf_error write_err;
};

/* ---- bytes -------------------------------------------------------------- */

static uint8_t *plain_page(nvsf_edit *ed, uint32_t p)
{
    return ed->plain + (size_t)p * NVS_PAGE_SIZE;
}

static uint8_t *plain_entry(nvsf_edit *ed, uint32_t p, unsigned i)
{
    return plain_page(ed, p) + NVS_FIRST_ENTRY_OFFSET + (size_t)i * NVS_ENTRY_SIZE;
}

/* Save a page before its first change in this call. */
static void touch(nvsf_edit *ed, uint32_t p)
{
    if (ed->touched[p])
        return;
    ed->touched[p] = 1;
    ed->ever[p] = 1;
    size_t off = (size_t)p * NVS_PAGE_SIZE;
    memcpy(ed->undo_raw + off, ed->raw + off, NVS_PAGE_SIZE);
    if (ed->plain != ed->raw)
        memcpy(ed->undo_plain + off, ed->plain + off, NVS_PAGE_SIZE);
}

/* Bytes outside the entries (header, bitmap): plain in both copies. */
static void put_plain_bytes(nvsf_edit *ed, uint32_t p, size_t at,
                            const void *data, size_t len)
{
    touch(ed, p);
    size_t off = (size_t)p * NVS_PAGE_SIZE + at;
    memcpy(ed->plain + off, data, len);
    if (ed->plain != ed->raw)
        memcpy(ed->raw + off, data, len);
}

static void put_entry_bytes(nvsf_edit *ed, uint32_t p, unsigned i,
                            const uint8_t *entry)
{
    touch(ed, p);
    memcpy(plain_entry(ed, p, i), entry, NVS_ENTRY_SIZE);
    if (!ed->enc)
        return;
    uint32_t off = nvs_entry_offset(p, i);
    uint8_t tweak[16];
    nvsf_xts_tweak_from_offset(off, tweak);
    if (nvsf_xts_unit(ed->enc, tweak, entry, ed->raw + off, NVS_ENTRY_SIZE,
                      ed->failed ? NULL : &ed->write_err))
        ed->failed = 1;
}

static void set_entry_state(nvsf_edit *ed, uint32_t p, unsigned i,
                            unsigned state)
{
    touch(ed, p);
    nvs_bitmap_set(plain_page(ed, p), i, state);
    if (ed->plain != ed->raw)
        nvs_bitmap_set(ed->raw + (size_t)p * NVS_PAGE_SIZE, i, state);
}

static unsigned entry_state(nvsf_edit *ed, uint32_t p, unsigned i)
{
    return nvs_bitmap_get(plain_page(ed, p), i);
}

/* ---- the change log ----------------------------------------------------- */

static void note(nvsf_edit *ed, const char *fmt, ...) NVSF_PRINTF(2, 3);
static void note(nvsf_edit *ed, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* The log is for people; out of memory only shortens it. */
    if (nvsf_buf_append(&ed->log, line, strlen(line)) == 0)
        (void)nvsf_buf_putc(&ed->log, '\n');
}

/* ---- entries ------------------------------------------------------------ */

static void entry_key(const uint8_t *e, char key[NVS_ENTRY_KEY_SIZE + 1])
{
    memcpy(key, e + NVS_ENTRY_KEY_OFFSET, NVS_ENTRY_KEY_SIZE);
    key[NVS_ENTRY_KEY_SIZE] = '\0';
}

/* A header entry as ESP-IDF's Item constructor makes it: key NUL-padded,
 * data 0xFF. */
static void make_header(uint8_t e[NVS_ENTRY_SIZE], uint8_t ns, uint8_t type,
                        uint8_t span, const char *key, uint8_t chunk)
{
    memset(e, 0xFF, NVS_ENTRY_SIZE);
    e[NVS_ENTRY_NS_OFFSET] = ns;
    e[NVS_ENTRY_TYPE_OFFSET] = type;
    e[NVS_ENTRY_SPAN_OFFSET] = span;
    e[NVS_ENTRY_CHUNK_OFFSET] = chunk;
    memset(e + NVS_ENTRY_KEY_OFFSET, 0, NVS_ENTRY_KEY_SIZE);
    memcpy(e + NVS_ENTRY_KEY_OFFSET, key, strnlen(key, NVSF_KEY_MAX_LEN));
}

/* ---- pages: Page ---------------------------------------------------------- */

/* Page::alterPageState: full or freeing. */
static void page_set_state(nvsf_edit *ed, uint32_t p, enum nvs_page_kind kind)
{
    uint8_t w[4];
    nvs_store_u32(w, kind == NVS_PAGE_FULL ? NVS_PAGE_STATE_FULL
                                           : NVS_PAGE_STATE_FREEING);
    put_plain_bytes(ed, p, NVS_PAGE_STATE_OFFSET, w, sizeof w);
    ed->f.pg[p].kind = kind;
}

/* Entries written on page p (Page::getUsedEntryCount). */
static unsigned page_used(nvsf_edit *ed, uint32_t p)
{
    unsigned n = 0;
    for (unsigned i = 0; i < NVS_ENTRIES_PER_PAGE; i++)
        n += entry_state(ed, p, i) == NVS_ENTRY_STATE_WRITTEN;
    return n;
}

/* Page::initialize: the header of a page that takes its first item. */
static void page_initialize(nvsf_edit *ed, uint32_t p)
{
    nvs_page_mem *pg = &ed->f.pg[p];
    uint8_t h[NVS_PAGE_HEADER_SIZE];
    memset(h, 0xFF, sizeof h);
    nvs_store_u32(h + NVS_PAGE_STATE_OFFSET, NVS_PAGE_STATE_ACTIVE);
    nvs_store_u32(h + NVS_PAGE_SEQ_OFFSET, pg->seq);
    h[NVS_PAGE_VERSION_OFFSET] = ed->version[p];
    nvs_store_u32(h + NVS_PAGE_CRC_OFFSET, nvs_page_header_crc(h));
    put_plain_bytes(ed, p, 0, h, sizeof h);
    pg->kind = NVS_PAGE_ACTIVE;
    pg->next_free = 0;
    pg->first_used = NO_ENTRY;
    note(ed, "page %u: new, sequence number %u", (unsigned)p, (unsigned)pg->seq);
}

/* Page::erase: back to 0xFF; the in-memory version stays. */
static void page_erase(nvsf_edit *ed, uint32_t p)
{
    touch(ed, p);
    memset(ed->raw + (size_t)p * NVS_PAGE_SIZE, 0xFF, NVS_PAGE_SIZE);
    if (ed->plain != ed->raw)
        memset(plain_page(ed, p), 0xFF, NVS_PAGE_SIZE);
    nvs_page_mem *pg = &ed->f.pg[p];
    pg->kind = NVS_PAGE_UNINITIALIZED;
    pg->first_used = NO_ENTRY;
    pg->next_free = NO_ENTRY;
}

/* Page::writeEntry: one entry at the next free place, marked written. */
static void page_write_entry(nvsf_edit *ed, uint32_t p, const uint8_t *e)
{
    nvs_page_mem *pg = &ed->f.pg[p];
    put_entry_bytes(ed, p, pg->next_free, e);
    set_entry_state(ed, p, pg->next_free, NVS_ENTRY_STATE_WRITTEN);
    if (pg->first_used == NO_ENTRY)
        pg->first_used = pg->next_free;
    pg->next_free++;
}

/* Page::writeItem. */
static int page_write_item(nvsf_edit *ed, uint32_t p, uint8_t ns, uint8_t type,
                           const char *key, const uint8_t *data, size_t len,
                           uint8_t chunk)
{
    nvs_page_mem *pg = &ed->f.pg[p];
    if (pg->kind == NVS_PAGE_UNINITIALIZED)
        page_initialize(ed, p);
    if (pg->kind == NVS_PAGE_FULL)
        return W_PAGE_FULL;
    unsigned count = 1;
    if (nvs_type_is_varlen(type))
        count += (unsigned)((len + NVS_ENTRY_SIZE - 1) / NVS_ENTRY_SIZE);
    if (pg->next_free + count > NVS_ENTRIES_PER_PAGE)
        return W_PAGE_FULL;
    uint8_t e[NVS_ENTRY_SIZE];
    unsigned at = pg->next_free;
    ed->last_page = p;
    ed->last_entry = at;
    make_header(e, ns, type, (uint8_t)count, key, chunk);
    if (!nvs_type_is_varlen(type)) {
        memcpy(e + NVS_ENTRY_DATA_OFFSET, data, len);
        nvs_store_u32(e + NVS_ENTRY_CRC_OFFSET, nvs_entry_crc(e));
        page_write_entry(ed, p, e);
    } else {
        nvs_store_u16(e + NVS_ENTRY_DATA_OFFSET, (uint16_t)len);
        nvs_store_u16(e + NVS_ENTRY_DATA_OFFSET + 2, 0xFFFF);
        nvs_store_u32(e + NVS_ENTRY_DATA_OFFSET + 4, nvsf_crc32(data, len));
        nvs_store_u32(e + NVS_ENTRY_CRC_OFFSET, nvs_entry_crc(e));
        page_write_entry(ed, p, e);
        for (size_t off = 0; off < len; off += NVS_ENTRY_SIZE) {
            uint8_t d[NVS_ENTRY_SIZE];
            size_t n = len - off < NVS_ENTRY_SIZE ? len - off : NVS_ENTRY_SIZE;
            memset(d, 0xFF, sizeof d);
            memcpy(d, data + off, n);
            page_write_entry(ed, p, d);
        }
    }
    if (ns == 0)
        note(ed, "page %u entry %u: namespace '%s' = %u written",
             (unsigned)p, at, key, data[0]);
    else if (type == NVSF_TYPE_BLOB_DATA)
        note(ed, "page %u entry %u: %s:%s chunk 0x%02x (%zu bytes) written",
             (unsigned)p, at, ed->ns_names[ns], key, chunk, len);
    else
        note(ed, "page %u entry %u: %s:%s %s written", (unsigned)p, at,
             ed->ns_names[ns], key,
             nvsf_item_type_name((enum nvsf_item_type)type));
    return W_OK;
}

/* Page::findItem from entry `from` (startup.c): W_OK or W_TYPE_MISMATCH
 * with *found the entry, or W_NOT_FOUND. */
static int page_find_item(nvsf_edit *ed, uint32_t p, uint8_t ns, uint8_t type,
                          const char *key, uint8_t chunk, uint8_t chunk_start,
                          unsigned from, unsigned *found)
{
    *found = from;
    return nvs_find_item(&ed->f, p, ns, type, key, chunk, chunk_start, found);
}

/* Page::eraseEntryAndSpan (startup.c), logged and on both copies. */
static void page_erase_item_at(nvsf_edit *ed, uint32_t p, unsigned i)
{
    const uint8_t *e = plain_entry(ed, p, i);
    char key[NVS_ENTRY_KEY_SIZE + 1];
    entry_key(e, key);
    if (e[NVS_ENTRY_NS_OFFSET] == 0)
        note(ed, "page %u entry %u: namespace '%s' erased", (unsigned)p, i, key);
    else if (e[NVS_ENTRY_TYPE_OFFSET] == NVSF_TYPE_BLOB_DATA)
        note(ed, "page %u entry %u: %s:%s chunk 0x%02x erased", (unsigned)p, i,
             ed->ns_names[e[NVS_ENTRY_NS_OFFSET]], key,
             e[NVS_ENTRY_CHUNK_OFFSET]);
    else
        note(ed, "page %u entry %u: %s:%s %s erased", (unsigned)p, i,
             ed->ns_names[e[NVS_ENTRY_NS_OFFSET]], key,
             nvsf_item_type_name((enum nvsf_item_type)e[NVS_ENTRY_TYPE_OFFSET]));
    touch(ed, p);
    nvs_erase_entry_span(&ed->f, p, i);
    if (ed->plain != ed->raw) /* the bitmap is plain in both */
        memcpy(ed->raw + (size_t)p * NVS_PAGE_SIZE + NVS_BITMAP_OFFSET,
               plain_page(ed, p) + NVS_BITMAP_OFFSET, NVS_BITMAP_SIZE);
}

/* Page::eraseItem. */
static int page_erase_item(nvsf_edit *ed, uint32_t p, uint8_t ns, uint8_t type,
                           const char *key, uint8_t chunk, uint8_t chunk_start)
{
    unsigned i;
    int rc = page_find_item(ed, p, ns, type, key, chunk, chunk_start, 0, &i);
    if (rc != W_OK)
        return rc;
    page_erase_item_at(ed, p, i);
    return W_OK;
}

/* Page::getVarDataTailroom. */
static size_t page_tailroom(const nvs_page_mem *pg)
{
    if (pg->kind == NVS_PAGE_UNINITIALIZED)
        return CHUNK_MAX_SIZE;
    if (pg->kind == NVS_PAGE_FULL)
        return 0;
    return pg->next_free < NVS_ENTRIES_PER_PAGE - 1
               ? (size_t)(NVS_ENTRIES_PER_PAGE - pg->next_free - 1) * NVS_ENTRY_SIZE
               : 0;
}

/* Page::copyItems: the written items of `from`, in order, into `to`. */
static void page_copy_items(nvsf_edit *ed, uint32_t from, uint32_t to)
{
    unsigned i = ed->f.pg[from].first_used;
    if (i == NO_ENTRY)
        return;
    if (ed->f.pg[to].kind == NVS_PAGE_UNINITIALIZED)
        page_initialize(ed, to);
    while (i < NVS_ENTRIES_PER_PAGE) {
        if (entry_state(ed, from, i) != NVS_ENTRY_STATE_WRITTEN) {
            i++;
            continue;
        }
        uint8_t e[NVS_ENTRY_SIZE];
        memcpy(e, plain_entry(ed, from, i), NVS_ENTRY_SIZE);
        unsigned span = e[NVS_ENTRY_SPAN_OFFSET] ? e[NVS_ENTRY_SPAN_OFFSET] : 1;
        if (i + span > NVS_ENTRIES_PER_PAGE)
            span = NVS_ENTRIES_PER_PAGE - i; /* a sound page never has it */
        for (unsigned j = i; j < i + span; j++) {
            memcpy(e, plain_entry(ed, from, j), NVS_ENTRY_SIZE);
            page_write_entry(ed, to, e);
        }
        i += span;
    }
}

/* ---- PageManager -------------------------------------------------------- */

static uint32_t current_page(const nvsf_edit *ed)
{
    return ed->f.list[ed->f.nlist - 1];
}

/* PageManager::activatePage: the first free page joins the page list. */
static int activate_page(nvsf_edit *ed)
{
    nvs_flash *f = &ed->f;
    if (!f->nfree)
        return W_NOT_ENOUGH_SPACE;
    uint32_t p = f->free[0];
    if (f->pg[p].kind == NVS_PAGE_CORRUPT) {
        page_erase(ed, p);
        note(ed, "page %u: corrupt, erased to be the new page", (unsigned)p);
    }
    memmove(f->free, f->free + 1, (size_t)(f->nfree - 1) * sizeof *f->free);
    f->nfree--;
    f->list[f->nlist++] = p;
    f->pg[p].seq = f->next_seq++;
    return W_OK;
}

/* PageManager::requestNewPage, garbage collection included. */
static int request_new_page(nvsf_edit *ed)
{
    nvs_flash *f = &ed->f;
    if (!f->nfree)
        return W_NOT_ENOUGH_SPACE;
    if (f->nfree >= 2)
        return activate_page(ed);
    uint32_t pick = 0, at = 0;
    unsigned max_unused = 0;
    for (uint32_t k = 0; k < f->nlist; k++) {
        unsigned unused = NVS_ENTRIES_PER_PAGE - page_used(ed, f->list[k]);
        if (unused > max_unused) {
            max_unused = unused;
            pick = f->list[k];
            at = k;
        }
    }
    if (!max_unused)
        return W_NOT_ENOUGH_SPACE;
    if (f->pg[pick].kind != NVS_PAGE_FULL && f->pg[pick].kind != NVS_PAGE_ACTIVE)
        return W_NOT_ENOUGH_SPACE; /* ESP-IDF: invalid state */
    note(ed, "page %u: garbage collection (%u entries not in use)",
         (unsigned)pick, max_unused);
    page_set_state(ed, pick, NVS_PAGE_FREEING);
    int rc = activate_page(ed);
    if (rc)
        return rc;
    uint32_t to = current_page(ed);
    page_copy_items(ed, pick, to);
    page_erase(ed, pick);
    note(ed, "page %u: items moved to page %u, page erased", (unsigned)pick,
         (unsigned)to);
    memmove(f->list + at, f->list + at + 1,
            (size_t)(f->nlist - at - 1) * sizeof *f->list);
    f->nlist--;
    f->free[f->nfree++] = pick;
    return W_OK;
}

/* Mark the current page full (unless it is) and ask for a new one. */
static int next_page(nvsf_edit *ed)
{
    uint32_t p = current_page(ed);
    if (ed->f.pg[p].kind == NVS_PAGE_ACTIVE) {
        page_set_state(ed, p, NVS_PAGE_FULL);
        note(ed, "page %u: full", (unsigned)p);
    }
    return request_new_page(ed);
}

/* ---- Storage ------------------------------------------------------------ */

/* Storage::findItem: the first page, in page order, where it is found. */
static int storage_find_item(nvsf_edit *ed, uint8_t ns, uint8_t type,
                             const char *key, uint8_t chunk, uint8_t chunk_start,
                             uint32_t *page, unsigned *entry)
{
    for (uint32_t k = 0; k < ed->f.nlist; k++) {
        if (page_find_item(ed, ed->f.list[k], ns, type, key, chunk, chunk_start,
                           0, entry) == W_OK) {
            *page = ed->f.list[k];
            return W_OK;
        }
    }
    return W_NOT_FOUND;
}

static const uint8_t *entry_at(nvsf_edit *ed, uint32_t p, unsigned i)
{
    return plain_entry(ed, p, i);
}

/* The value bytes of a string, blob or chunk item (contiguous: the data
 * entries follow the header on its page). */
static const uint8_t *item_data(nvsf_edit *ed, uint32_t p, unsigned i,
                                size_t *len)
{
    const uint8_t *e = entry_at(ed, p, i);
    *len = nvs_load_u16(e + NVS_ENTRY_DATA_OFFSET);
    return e + NVS_ENTRY_SIZE;
}

/* Page::cmpItem: 1 when the stored value equals data. */
static int item_equals(nvsf_edit *ed, uint32_t p, unsigned i, const uint8_t *data,
                       size_t len)
{
    const uint8_t *e = entry_at(ed, p, i);
    if (!nvs_type_is_varlen(e[NVS_ENTRY_TYPE_OFFSET]))
        return memcmp(e + NVS_ENTRY_DATA_OFFSET, data, len) == 0;
    size_t stored;
    const uint8_t *s = item_data(ed, p, i, &stored);
    return len >= stored && memcmp(s, data, stored) == 0 &&
           nvsf_crc32(data, stored) ==
               nvs_load_u32(e + NVS_ENTRY_DATA_OFFSET + 4);
}

/* Storage::cmpMultiPageBlob: 1 when the blob stored under the index at
 * (p, i) equals data. */
static int blob_equals(nvsf_edit *ed, uint8_t ns, const char *key, uint32_t p,
                       unsigned i, const uint8_t *data, size_t len)
{
    const uint8_t *idx = entry_at(ed, p, i);
    if (nvs_load_u32(idx + NVS_ENTRY_DATA_OFFSET) != len)
        return 0;
    unsigned count = idx[NVS_ENTRY_DATA_OFFSET + 4];
    unsigned start = idx[NVS_ENTRY_DATA_OFFSET + 5];
    size_t off = 0;
    for (unsigned c = 0; c < count; c++) {
        uint32_t cp;
        unsigned ci;
        if (storage_find_item(ed, ns, NVSF_TYPE_BLOB_DATA, key,
                              (uint8_t)(start + c), VER_ANY, &cp, &ci) != W_OK)
            return 0;
        size_t n;
        (void)item_data(ed, cp, ci, &n);
        if (n > len - off || !item_equals(ed, cp, ci, data + off, n))
            return 0;
        off += n;
    }
    return off == len;
}

/* Storage::eraseMultiPageBlob: the index first, then its chunks. */
static int erase_multi_page_blob(nvsf_edit *ed, uint8_t ns, const char *key,
                                 uint8_t chunk_start)
{
    uint32_t p;
    unsigned i;
    if (storage_find_item(ed, ns, NVSF_TYPE_BLOB_INDEX, key, NVS_CHUNK_ANY,
                          chunk_start, &p, &i) != W_OK)
        return W_NOT_FOUND;
    const uint8_t *idx = entry_at(ed, p, i);
    unsigned count = idx[NVS_ENTRY_DATA_OFFSET + 4];
    unsigned start = idx[NVS_ENTRY_DATA_OFFSET + 5];
    page_erase_item_at(ed, p, i);
    for (unsigned c = 0; c < count; c++) {
        if (storage_find_item(ed, ns, NVSF_TYPE_BLOB_DATA, key,
                              (uint8_t)(start + c), VER_ANY, &p, &i) == W_OK)
            page_erase_item_at(ed, p, i);
    }
    return W_OK;
}

/* Storage::writeMultiPageBlob. */
static int write_multi_page_blob(nvsf_edit *ed, uint8_t ns, const char *key,
                                 const uint8_t *data, size_t len,
                                 uint8_t chunk_start)
{
    unsigned chunks = 0;
    size_t remaining = len, offset = 0;
    for (;;) {
        uint32_t p = current_page(ed);
        size_t tailroom = page_tailroom(&ed->f.pg[p]);
        if (chunks == 0 && (tailroom < len || (tailroom == 0 && len == 0)) &&
            tailroom < CHUNK_MAX_SIZE / 10) {
            int rc = next_page(ed);
            if (rc)
                return rc;
            if (page_tailroom(&ed->f.pg[current_page(ed)]) == tailroom)
                return W_NOT_ENOUGH_SPACE;
            continue;
        }
        if (!tailroom)
            return W_NOT_ENOUGH_SPACE;
        size_t chunk = remaining > tailroom ? tailroom : remaining;
        remaining -= chunk;
        int rc = page_write_item(ed, p, ns, NVSF_TYPE_BLOB_DATA, key,
                                 data + offset, chunk,
                                 (uint8_t)(chunk_start + chunks));
        if (rc)
            return rc == W_PAGE_FULL ? W_NOT_ENOUGH_SPACE : rc;
        chunks++;
        if ((remaining || tailroom - chunk < NVS_ENTRY_SIZE) &&
            (rc = next_page(ed)))
            return rc;
        offset += chunk;
        if (!remaining)
            break;
    }
    uint8_t index[NVS_ENTRY_DATA_SIZE];
    memset(index, 0xFF, sizeof index);
    nvs_store_u32(index, (uint32_t)len);
    index[4] = (uint8_t)chunks;
    index[5] = chunk_start;
    int rc = page_write_item(ed, current_page(ed), ns, NVSF_TYPE_BLOB_INDEX, key,
                             index, sizeof index, NVS_CHUNK_ANY);
    return rc == W_PAGE_FULL ? W_NOT_ENOUGH_SPACE : rc;
}

/* Write one item of a type other than a blob into the current page, a new
 * one when it is full. */
static int write_single(nvsf_edit *ed, uint8_t ns, uint8_t type,
                        const char *key, const uint8_t *data, size_t len)
{
    int rc = page_write_item(ed, current_page(ed), ns, type, key, data, len,
                             NVS_CHUNK_ANY);
    if (rc != W_PAGE_FULL)
        return rc;
    if ((rc = next_page(ed)))
        return rc;
    rc = page_write_item(ed, current_page(ed), ns, type, key, data, len,
                         NVS_CHUNK_ANY);
    return rc == W_PAGE_FULL ? W_NOT_ENOUGH_SPACE : rc;
}

/* Erase the item at (p, i) and, for a blob index, its chunks: how ESP-IDF
 * erases an old item and what its next start-up erases with it. */
static void erase_old_item(nvsf_edit *ed, uint32_t p, unsigned i)
{
    const uint8_t *e = entry_at(ed, p, i);
    if (e[NVS_ENTRY_TYPE_OFFSET] == NVSF_TYPE_BLOB_INDEX) {
        char key[NVS_ENTRY_KEY_SIZE + 1];
        entry_key(e, key);
        (void)erase_multi_page_blob(ed, e[NVS_ENTRY_NS_OFFSET], key,
                                    e[NVS_ENTRY_DATA_OFFSET + 5]);
        return;
    }
    page_erase_item_at(ed, p, i);
}

/*
 * A key stored twice (a set that changed the type, cut before it erased
 * the old item: ESP-IDF lists both, and a set erases only the first): every
 * item of the key but the one just written goes, blob indexes (and so
 * their chunks) excepted, so that the key reads back as set.
 */
static void erase_other_items(nvsf_edit *ed, uint8_t ns, const char *key)
{
    for (uint32_t k = 0; k < ed->f.nlist; k++) {
        uint32_t p = ed->f.list[k];
        unsigned i = 0;
        while (page_find_item(ed, p, ns, TYPE_ANY, key, NVS_CHUNK_ANY, VER_ANY,
                              i, &i) == W_OK) {
            const uint8_t *e = entry_at(ed, p, i);
            if ((p == ed->last_page && i == ed->last_entry) ||
                e[NVS_ENTRY_TYPE_OFFSET] == NVSF_TYPE_BLOB_INDEX)
                i += e[NVS_ENTRY_SPAN_OFFSET] ? e[NVS_ENTRY_SPAN_OFFSET] : 1u;
            else
                page_erase_item_at(ed, p, i);
        }
    }
}

/*
 * Storage::writeItem. Blobs (type NVSF_TYPE_BLOB_DATA asked for) go as a
 * multi-page blob; everything else as one item.
 */
static int storage_write_item(nvsf_edit *ed, uint8_t ns, uint8_t type,
                              const char *key, const uint8_t *data, size_t len)
{
    uint32_t fp = 0;
    unsigned fi = 0;
    int found = 0, same_type = 0;
    if (type == NVSF_TYPE_BLOB_DATA) {
        if (storage_find_item(ed, ns, NVSF_TYPE_BLOB_INDEX, key, NVS_CHUNK_ANY,
                              VER_ANY, &fp, &fi) == W_OK)
            found = same_type = 1;
    } else if (storage_find_item(ed, ns, TYPE_ANY, key, NVS_CHUNK_ANY, VER_ANY,
                                 &fp, &fi) == W_OK) {
        found = 1;
        same_type = entry_at(ed, fp, fi)[NVS_ENTRY_TYPE_OFFSET] == type;
    }
    int rc;
    if (type == NVSF_TYPE_BLOB_DATA) {
        uint8_t prev = VER_0_OFFSET, next = VER_0_OFFSET;
        if (same_type) {
            if (blob_equals(ed, ns, key, fp, fi, data, len)) {
                note(ed, "%s:%s: the same value, nothing written",
                     ed->ns_names[ns], key);
                return W_OK;
            }
            prev = entry_at(ed, fp, fi)[NVS_ENTRY_DATA_OFFSET + 5];
            next = prev == VER_1_OFFSET ? VER_0_OFFSET : VER_1_OFFSET;
        }
        if ((rc = write_multi_page_blob(ed, ns, key, data, len, next)))
            return rc;
        if (same_type)
            (void)erase_multi_page_blob(ed, ns, key, prev);
        /* A version-1 blob, or (our clean-up) an item of another type. */
        erase_other_items(ed, ns, key);
        return W_OK;
    }
    if (same_type && item_equals(ed, fp, fi, data, len)) {
        note(ed, "%s:%s: the same value, nothing written", ed->ns_names[ns],
             key);
        return W_OK;
    }
    if ((rc = write_single(ed, ns, type, key, data, len)))
        return rc;
    if (found) {
        /* Garbage collection may have moved it: find it again, as
         * Storage::writeItem does, by namespace and key. */
        if (storage_find_item(ed, ns, TYPE_ANY, key, NVS_CHUNK_ANY, VER_ANY,
                              &fp, &fi) == W_OK)
            erase_old_item(ed, fp, fi);
        erase_other_items(ed, ns, key);
    }
    return W_OK;
}

/* ---- namespaces ----------------------------------------------------------- */

/* The index of namespace `name`, or 0 when the image has none. */
static unsigned namespace_find(nvsf_edit *ed, const char *name)
{
    uint32_t p;
    unsigned i;
    if (storage_find_item(ed, 0, NVSF_TYPE_U8, name, NVS_CHUNK_ANY, VER_ANY, &p,
                          &i) != W_OK)
        return 0;
    return entry_at(ed, p, i)[NVS_ENTRY_DATA_OFFSET];
}

/* Storage::createOrOpenNamespace with canCreate. */
static int namespace_open(nvsf_edit *ed, const char *name, uint8_t *index,
                          nvsf_error *err)
{
    unsigned found = namespace_find(ed, name);
    if (found) {
        *index = (uint8_t)found;
        return 0;
    }
    uint8_t in_use[256] = {0};
    for (uint32_t k = 0; k < ed->f.nlist; k++) {
        uint32_t p = ed->f.list[k];
        unsigned i = 0;
        while (page_find_item(ed, p, 0, NVSF_TYPE_U8, NULL, NVS_CHUNK_ANY,
                              VER_ANY, i, &i) == W_OK) {
            in_use[entry_at(ed, p, i)[NVS_ENTRY_DATA_OFFSET]] = 1;
            i++;
        }
    }
    unsigned ns;
    for (ns = 1; ns < 255 && in_use[ns]; ns++)
        ;
    if (ns == 255)
        return nvsf_fail(err, NVSF_E_FULL,
                         "namespace '%s': the image already has 254 "
                         "namespaces, NVS's limit",
                         name);
    uint8_t v = (uint8_t)ns;
    int rc = write_single(ed, 0, NVSF_TYPE_U8, name, &v, 1);
    if (rc)
        return nvsf_fail(err, NVSF_E_FULL,
                         "namespace '%s' does not fit in the partition, even "
                         "after garbage collection",
                         name);
    memcpy(ed->ns_names[v], name, strlen(name));
    *index = v;
    return 0;
}

/* ---- loading ------------------------------------------------------------ */

static int model_alloc(model *m, uint32_t pages);

/*
 * The page manager's state as the device model (the reader's start-up,
 * startup.c) left it: the page list by sequence number (the active page
 * last, maybe one taken but not written yet), the free pages in the order
 * ESP-IDF takes them, the next sequence number, and per page its state,
 * first used and next free entries. A page read from flash keeps its
 * version; an erased one starts as ESP-IDF's Page object does, at 2.
 */
static int load_model(nvsf_edit *ed, const nvsf_image *img, nvsf_error *err)
{
    nvs_flash *f = &ed->f;
    size_t n = (size_t)ed->page_count + 1;
    f->bytes = ed->plain;
    f->npages = ed->page_count;
    f->pg = calloc(n, sizeof *f->pg);
    f->list = calloc(n, sizeof *f->list);
    f->free = calloc(n, sizeof *f->free);
    ed->version = malloc(ed->page_count);
    if (!f->pg || !f->list || !f->free || !ed->version ||
        model_alloc(&ed->saved, ed->page_count))
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    for (uint32_t p = 0; p < ed->page_count; p++) {
        const nvsf_page_info *pi = &img->pages[p];
        nvs_page_mem *m = &f->pg[p];
        m->kind = pi->state == NVS_PAGE_STATE_ACTIVE ? NVS_PAGE_ACTIVE
                  : pi->state == NVS_PAGE_STATE_FULL ? NVS_PAGE_FULL
                  : pi->state == NVS_PAGE_STATE_EMPTY ? NVS_PAGE_UNINITIALIZED
                                                       : NVS_PAGE_CORRUPT;
        m->seq = pi->seq;
        m->next_free = pi->next_free;
        m->first_used = NO_ENTRY;
        for (unsigned i = 0; i < NVS_ENTRIES_PER_PAGE; i++) {
            if (pi->entry_state[i] == NVSF_ENTRY_WRITTEN) {
                m->first_used = i;
                break;
            }
        }
        ed->version[p] = m->kind == NVS_PAGE_ACTIVE || m->kind == NVS_PAGE_FULL
                             ? pi->version
                             : NVS_PAGE_VERSION2;
    }
    f->pending = UINT32_MAX;
    for (uint32_t k = 0; k < img->page_order_count; k++) {
        uint32_t p = img->page_order[k];
        f->list[f->nlist++] = p;
        if (f->pg[p].kind == NVS_PAGE_UNINITIALIZED) { /* taken, not written */
            f->pg[p].seq = img->next_seq - 1;
            f->pending = p;
        }
    }
    for (uint32_t k = 0; k < img->free_count; k++)
        f->free[f->nfree++] = img->free_pages[k];
    f->next_seq = img->next_seq;
    for (size_t k = 0; k < img->namespace_count; k++)
        memcpy(ed->ns_names[img->namespaces[k].index], img->namespaces[k].name,
               NVSF_KEY_MAX_LEN);
    return 0;
}

/* ---- the public API ------------------------------------------------------- */

static void model_free(model *m)
{
    free(m->pg);
    free(m->list);
    free(m->free);
    free(m->version);
    memset(m, 0, sizeof *m);
}

static int model_alloc(model *m, uint32_t pages)
{
    m->pg = calloc((size_t)pages + 1, sizeof *m->pg);
    m->list = calloc((size_t)pages + 1, sizeof *m->list);
    m->free = calloc((size_t)pages + 1, sizeof *m->free);
    m->version = calloc(pages, 1);
    return m->pg && m->list && m->free && m->version ? 0 : NVSF_E_NOMEM;
}

/* Save the page manager's state into m (save) or put it back (!save). */
static void model_copy(nvsf_edit *ed, model *m, int save)
{
    nvs_flash *f = &ed->f;
    size_t n = (size_t)ed->page_count + 1;
    int to = save ? 1 : 0, from = !to; /* 0: the live state, 1: m */
    nvs_page_mem *pg[2] = {f->pg, m->pg};
    uint32_t *list[2] = {f->list, m->list}, *fr[2] = {f->free, m->free};
    uint8_t *ver[2] = {ed->version, m->version};
    uint32_t *counts[2][3] = {{&f->nlist, &f->nfree, &f->next_seq},
                              {&m->nlist, &m->nfree, &m->next_seq}};
    memcpy(pg[to], pg[from], n * sizeof *pg[0]);
    memcpy(list[to], list[from], n * sizeof *list[0]);
    memcpy(fr[to], fr[from], n * sizeof *fr[0]);
    memcpy(ver[to], ver[from], ed->page_count);
    for (int i = 0; i < 3; i++)
        *counts[to][i] = *counts[from][i];
}

void nvsf_edit_close(nvsf_edit *ed)
{
    if (!ed)
        return;
    if (ed->plain && ed->plain != ed->raw) {
        nvsf_wipe(ed->plain, ed->size);
        free(ed->plain);
    }
    if (ed->undo_plain) {
        nvsf_wipe(ed->undo_plain, ed->size);
        free(ed->undo_plain);
    }
    free(ed->undo_raw);
    free(ed->touched);
    free(ed->ever);
    nvsf_xts_free(ed->enc);
    nvs_flash_release(&ed->f);
    free(ed->version);
    model_free(&ed->saved);
    nvsf_buf_free(&ed->log);
    free(ed);
}

/* The first problem of the worst severity, for the message. */
static const nvsf_problem *worst_problem(const nvsf_image *img)
{
    const nvsf_problem *w = NULL;
    for (size_t k = 0; k < img->problem_count; k++)
        if (!w || img->problems[k].severity > w->severity)
            w = &img->problems[k];
    return w;
}

/* Refuse what ESP-IDF would not open read-write, or not as it is. */
static int check_writable(const nvsf_image *img, nvsf_error *err)
{
    if (img->read_only)
        return nvsf_fail(err, NVSF_E_FORMAT,
                         "a partition of %u page%s: ESP-IDF opens partitions "
                         "of one or two pages read-only",
                         img->page_count, img->page_count == 1 ? "" : "s");
    if (img->severity <= NVSF_REPAIRABLE && img->free_count)
        return 0;
    const nvsf_problem *pr = worst_problem(img);
    if (!pr || img->severity <= NVSF_REPAIRABLE)
        return nvsf_fail(err, NVSF_E_FORMAT,
                         "no page of the image is erased: ESP-IDF cannot "
                         "open it read-write");
    char where[64] = "";
    if (pr->page >= 0 && pr->entry >= 0)
        snprintf(where, sizeof where, "page %ld entry %d: ", pr->page,
                 pr->entry);
    else if (pr->page >= 0)
        snprintf(where, sizeof where, "page %ld: ", pr->page);
    return nvsf_fail(err, NVSF_E_FORMAT,
                     "the image is %s (%s%s); 'nvsforge check' says more",
                     nvsf_severity_name(img->severity), where, pr->message);
}

int nvsf_edit_open(nvsf_edit **out, uint8_t *image, size_t size,
                   const uint8_t *xts_key, nvsf_error *err)
{
    *out = NULL;
    if (size < NVS_PAGE_SIZE || size % NVS_PAGE_SIZE)
        return nvsf_fail(err, NVSF_E_FORMAT,
                         "the image is %zu bytes, not a whole number of "
                         "4096-byte pages",
                         size);
    nvsf_image *img = NULL;
    int rc = nvsf_image_read(image, size, xts_key, &img, err);
    if (!rc)
        rc = check_writable(img, err);
    nvsf_edit *ed = rc ? NULL : calloc(1, sizeof *ed);
    if (!ed) {
        nvsf_image_free(img);
        return rc ? rc : nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    }
    ed->raw = image;
    ed->size = size;
    ed->page_count = (uint32_t)(size / NVS_PAGE_SIZE);
    ed->touched = calloc(ed->page_count, 1);
    ed->ever = calloc(ed->page_count, 1);
    ed->undo_raw = malloc(size);
    ed->plain = image;
    if (xts_key) {
        ed->plain = malloc(size);
        ed->undo_plain = malloc(size);
    }
    if (!ed->touched || !ed->ever || !ed->undo_raw || !ed->plain ||
        (xts_key && !ed->undo_plain))
        rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    if (!rc && xts_key)
        rc = nvsf_xts_new(&ed->enc, xts_key, 1, err);
    /* The start-up's repairs, if any, are the device's first change. */
    if (!rc && img->problem_count)
        rc = nvsf_image_export(img, ed->undo_raw, err);
    if (rc) {
        nvsf_image_free(img);
        nvsf_edit_close(ed);
        return rc;
    }
    for (size_t k = 0; k < img->problem_count; k++)
        note(ed, "start-up: %s", img->problems[k].message);
    if (img->problem_count)
        memcpy(image, ed->undo_raw, size);
    if (xts_key)
        memcpy(ed->plain, img->bytes, size);
    rc = load_model(ed, img, err);
    nvsf_image_free(img);
    if (rc) {
        nvsf_edit_close(ed);
        return rc;
    }
    *out = ed;
    return 0;
}

/* Start a change: remember the model; pages are saved as they are touched. */
static void change_begin(nvsf_edit *ed)
{
    model_copy(ed, &ed->saved, 1);
    memset(ed->touched, 0, ed->page_count);
    ed->log_mark = ed->log.len;
    ed->failed = 0;
}

/* End a change: keep it, or put everything back as it was. */
static int change_end(nvsf_edit *ed, int rc, nvsf_error *err)
{
    if (!rc && ed->failed) {
        rc = ed->write_err.code ? ed->write_err.code : NVSF_E_CRYPTO;
        if (err)
            *err = ed->write_err;
    }
    if (!rc)
        return 0;
    for (uint32_t p = 0; p < ed->page_count; p++) {
        if (!ed->touched[p])
            continue;
        size_t off = (size_t)p * NVS_PAGE_SIZE;
        memcpy(ed->raw + off, ed->undo_raw + off, NVS_PAGE_SIZE);
        if (ed->plain != ed->raw)
            memcpy(ed->plain + off, ed->undo_plain + off, NVS_PAGE_SIZE);
    }
    model_copy(ed, &ed->saved, 0);
    ed->log.len = ed->log_mark;
    if (ed->log.data)
        ed->log.data[ed->log.len] = '\0';
    return rc;
}

static int space_error(nvsf_edit *ed, const char *ns, const char *key,
                       size_t len, nvsf_error *err)
{
    return nvsf_fail(err, NVSF_E_FULL,
                     "%s:%s: %zu bytes do not fit in the partition of %u "
                     "pages, even after garbage collection",
                     ns, key, len, (unsigned)ed->page_count);
}

/* Open the namespace (creating it) and write one value. */
static int set_value(nvsf_edit *ed, const char *ns, const char *key,
                     uint8_t type, const uint8_t *data, size_t len,
                     nvsf_error *err)
{
    int rc;
    if ((rc = nvs_check_name("namespace", ns, err)) ||
        (rc = nvs_check_name("key", key, err)))
        return rc;
    change_begin(ed);
    uint8_t index;
    rc = namespace_open(ed, ns, &index, err);
    if (!rc) {
        rc = storage_write_item(ed, index, type, key, data, len);
        if (rc)
            rc = space_error(ed, ns, key, len, err);
    }
    return change_end(ed, rc, err);
}

int nvsf_image_set_int(nvsf_edit *ed, const char *ns, const char *key,
                       enum nvsf_item_type type, uint64_t bits, nvsf_error *err)
{
    unsigned width = (unsigned)type & 0x0Fu;
    switch (type) {
    case NVSF_TYPE_U8: case NVSF_TYPE_I8: case NVSF_TYPE_U16:
    case NVSF_TYPE_I16: case NVSF_TYPE_U32: case NVSF_TYPE_I32:
    case NVSF_TYPE_U64: case NVSF_TYPE_I64:
        break;
    default:
        return nvsf_fail(err, NVSF_E_USAGE, "type 0x%02x is not an integer type",
                         (unsigned)type);
    }
    uint8_t v[8];
    for (unsigned i = 0; i < width; i++)
        v[i] = (uint8_t)(bits >> (8 * i));
    return set_value(ed, ns, key, (uint8_t)type, v, width, err);
}

int nvsf_image_set_float(nvsf_edit *ed, const char *ns, const char *key,
                         enum nvsf_item_type type, uint64_t bits,
                         nvsf_error *err)
{
    if (type != NVSF_TYPE_FLOAT && type != NVSF_TYPE_DOUBLE)
        return nvsf_fail(err, NVSF_E_USAGE, "type 0x%02x is not float or double",
                         (unsigned)type);
    unsigned width = (unsigned)type & 0x0Fu;
    /* NaN: all exponent bits set and a fraction (nvs_set_float refuses). */
    uint64_t exp = width == 4 ? UINT64_C(0x7F800000)
                              : UINT64_C(0x7FF0000000000000);
    uint64_t frac = width == 4 ? UINT64_C(0x007FFFFF)
                               : UINT64_C(0x000FFFFFFFFFFFFF);
    if ((bits & exp) == exp && (bits & frac))
        return nvsf_fail(err, NVSF_E_INPUT, "%s:%s: NaN cannot be stored", ns,
                         key);
    uint8_t v[8];
    for (unsigned i = 0; i < width; i++)
        v[i] = (uint8_t)(bits >> (8 * i));
    return set_value(ed, ns, key, (uint8_t)type, v, width, err);
}

int nvsf_image_set_string(nvsf_edit *ed, const char *ns, const char *key,
                          const char *s, size_t len, nvsf_error *err)
{
    if (memchr(s, '\0', len))
        return nvsf_fail(err, NVSF_E_INPUT, "%s:%s: the string holds a NUL byte",
                         ns, key);
    if (len + 1 > NVS_STRING_MAX_V2)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "%s:%s: the string is %zu bytes with its NUL; NVS "
                         "allows at most %u",
                         ns, key, len + 1, NVS_STRING_MAX_V2);
    uint8_t *copy = malloc(len + 1);
    if (!copy)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    memcpy(copy, s, len);
    copy[len] = '\0';
    int rc = set_value(ed, ns, key, NVSF_TYPE_STRING, copy, len + 1, err);
    nvsf_wipe(copy, len + 1);
    free(copy);
    return rc;
}

int nvsf_image_set_blob(nvsf_edit *ed, const char *ns, const char *key,
                        const void *data, size_t len, nvsf_error *err)
{
    /* writeMultiPageBlob: chunks on all pages but one, at most 127. */
    size_t pages = ed->page_count - 1;
    if (pages > NVS_BLOB_CHUNKS_MAX)
        pages = NVS_BLOB_CHUNKS_MAX;
    if (len > pages * CHUNK_MAX_SIZE)
        return nvsf_fail(err, NVSF_E_FULL,
                         "%s:%s: the blob is %zu bytes; a partition of %u "
                         "pages holds at most %zu in one blob",
                         ns, key, len, (unsigned)ed->page_count,
                         pages * CHUNK_MAX_SIZE);
    return set_value(ed, ns, key, NVSF_TYPE_BLOB_DATA,
                     len ? (const uint8_t *)data : (const uint8_t *)"", len,
                     err);
}

int nvsf_image_erase(nvsf_edit *ed, const char *ns, const char *key,
                     nvsf_error *err)
{
    int rc;
    if ((rc = nvs_check_name("namespace", ns, err)) ||
        (key && (rc = nvs_check_name("key", key, err))))
        return rc;
    unsigned index = namespace_find(ed, ns);
    if (!index)
        return nvsf_fail(err, NVSF_E_INPUT, "%s: no such namespace in the image",
                         ns);
    change_begin(ed);
    if (!key) {
        /* Storage::eraseNamespace: every item, page after page. */
        for (uint32_t k = 0; k < ed->f.nlist; k++) {
            while (page_erase_item(ed, ed->f.list[k], (uint8_t)index, TYPE_ANY,
                                   NULL, NVS_CHUNK_ANY, VER_ANY) == W_OK)
                ;
        }
        return change_end(ed, 0, err);
    }
    /* Storage::eraseItem(ns, ANY, key); again while the key is there (a
     * key stored twice after a power cut: ESP-IDF would erase one). */
    uint32_t p;
    unsigned i;
    if (storage_find_item(ed, (uint8_t)index, TYPE_ANY, key, NVS_CHUNK_ANY,
                          VER_ANY, &p, &i) != W_OK)
        rc = nvsf_fail(err, NVSF_E_INPUT, "%s:%s: no such key in the image", ns,
                       key);
    while (!rc) {
        if (entry_at(ed, p, i)[NVS_ENTRY_TYPE_OFFSET] == NVSF_TYPE_BLOB_INDEX)
            (void)erase_multi_page_blob(ed, (uint8_t)index, key, VER_ANY);
        else
            page_erase_item_at(ed, p, i);
        if (storage_find_item(ed, (uint8_t)index, TYPE_ANY, key, NVS_CHUNK_ANY,
                              VER_ANY, &p, &i) != W_OK)
            break;
    }
    return change_end(ed, rc, err);
}

const char *nvsf_edit_log(const nvsf_edit *ed)
{
    return ed->log.data ? ed->log.data : "";
}

int nvsf_edit_page_changed(const nvsf_edit *ed, uint32_t page)
{
    return page < ed->page_count && ed->ever[page];
}
