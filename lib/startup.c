/*
 * ESP-IDF's NVS start-up (nvs_page.cpp Page::load and mLoadEntryTable,
 * nvs_pagemanager.cpp PageManager::load, nvs_storage.cpp Storage::init),
 * applied to a partition in memory. The rules, in the order ESP-IDF applies
 * them:
 *
 *   1. Each page, in partition order. A page whose state word is
 *      0xFFFFFFFF is free if it is all 0xFF, else corrupt. A header whose
 *      CRC fails, or a state NVS does not write, makes the page corrupt: it
 *      is not read, and it is erased when ESP-IDF next takes it as a new
 *      page. A version byte below 0xFE (a newer format) stops the start-up.
 *      On the active page, the entries from the first one marked empty on
 *      that still hold data (a write cut before its state was set) are
 *      marked erased. On every page read, a written entry whose CRC fails
 *      is erased, and so is a string or blob whose data entries are not all
 *      marked written; on the active page, an item stored twice (same
 *      namespace, key and chunk index, whatever the type) loses its older
 *      copy.
 *   2. Pages with a header are ordered by sequence number (the page list);
 *      the others are free, in partition order.
 *   3. Unless the partition is read-only: the last item of the newest page,
 *      when also stored on an older page (same type), loses that older copy
 *      (a set that was cut between writing the new value and erasing the
 *      old one). A FREEING page (garbage collection cut short) is finished:
 *      the newest page, when active, is its partial copy and is erased; a
 *      free page is taken, the freeing page's written entries are copied
 *      into it and the freeing page is erased. With no free page left
 *      ESP-IDF refuses to open the partition.
 *   4. Blob chunks that no blob index claims are erased.
 *
 * Each rule reports what it did and what it means (note()): the leftovers
 * of an interrupted write are "repairable", bits that no interrupted write
 * explains are "damaged", and what stops ESP-IDF is "unusable".
 */
#include "startup.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "nvs_format.h"
#include "reader.h"
#include "value.h"

#define NENT NVS_ENTRIES_PER_PAGE
#define NOTE_MAX 240

static void note(nvs_flash *f, enum nvsf_severity sev, enum nvsf_repair rep,
                 long page, int entry, unsigned count, const char *fmt, ...)
    NVSF_PRINTF(7, 8);

static void note(nvs_flash *f, enum nvsf_severity sev, enum nvsf_repair rep,
                 long page, int entry, unsigned count, const char *fmt, ...)
{
    char msg[NOTE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sev == NVSF_UNUSABLE)
        f->unusable = 1;
    f->note(f->ctx, sev, rep, page, entry, count, msg);
}

static uint8_t *page_at(const nvs_flash *f, uint32_t p)
{
    return f->bytes + (size_t)p * NVS_PAGE_SIZE;
}

static unsigned state_of(const nvs_flash *f, uint32_t p, unsigned i)
{
    return nvs_bitmap_get(page_at(f, p), i);
}

static void set_state(nvs_flash *f, uint32_t p, unsigned i, unsigned st)
{
    nvs_bitmap_set(page_at(f, p), i, st);
}

/* Whether entry i of page p holds the CRC its bytes give. The start-up and
 * the reading after it visit each entry several times (ESP-IDF checks the
 * CRC at each visit); the CRC was most of an open, so a right one is
 * remembered until the entry's bytes change (forget_crcs). */
static int crc_ok(nvs_flash *f, uint32_t p, unsigned i)
{
    uint8_t *memo = f->crc_right
                        ? f->crc_right + (size_t)p * NVS_CRC_MEMO_BYTES + i / 8
                        : NULL;
    uint8_t bit = (uint8_t)(1u << (i % 8));
    if (memo && (*memo & bit))
        return 1;
    const uint8_t *e = nvs_entry_at(f, p, i);
    if (nvs_entry_crc(e) != nvs_load_u32(e + NVS_ENTRY_CRC_OFFSET))
        return 0;
    if (memo)
        *memo |= bit;
    return 1;
}

/* The bytes of page p's entries changed: their CRCs are checked again. */
static void forget_crcs(nvs_flash *f, uint32_t p)
{
    if (f->crc_right)
        memset(f->crc_right + (size_t)p * NVS_CRC_MEMO_BYTES, 0,
               NVS_CRC_MEMO_BYTES);
}

int nvs_type_is_varlen(uint8_t type)
{
    return type == NVSF_TYPE_STRING || type == NVSF_TYPE_BLOB ||
           type == NVSF_TYPE_BLOB_DATA;
}

const char *nvs_describe(const uint8_t *e, char *buf, size_t cap)
{
    char key[72];
    const uint8_t *k = e + NVS_ENTRY_KEY_OFFSET;
    const uint8_t *nul = memchr(k, 0, NVS_ENTRY_KEY_SIZE);
    nvsf_escape_text(key, sizeof key, k,
                     nul ? (size_t)(nul - k) : NVS_ENTRY_KEY_SIZE);
    uint8_t type = e[NVS_ENTRY_TYPE_OFFSET];
    if (e[NVS_ENTRY_NS_OFFSET] == 0 && type == NVSF_TYPE_U8)
        snprintf(buf, cap, "namespace '%s'", key);
    else if (type == NVSF_TYPE_BLOB_DATA)
        snprintf(buf, cap, "chunk %u of blob '%s' (namespace index %u)",
                 e[NVS_ENTRY_CHUNK_OFFSET], key, e[NVS_ENTRY_NS_OFFSET]);
    else
        snprintf(buf, cap, "%s '%s' (namespace index %u)",
                 nvsf_item_type_name((enum nvsf_item_type)type), key,
                 e[NVS_ENTRY_NS_OFFSET]);
    return buf;
}

/* Same namespace, key bytes and chunk index: ESP-IDF's item hash. */
static int same_hash(const uint8_t *a, const uint8_t *b)
{
    return a[NVS_ENTRY_NS_OFFSET] == b[NVS_ENTRY_NS_OFFSET] &&
           a[NVS_ENTRY_CHUNK_OFFSET] == b[NVS_ENTRY_CHUNK_OFFSET] &&
           memcmp(a + NVS_ENTRY_KEY_OFFSET, b + NVS_ENTRY_KEY_OFFSET,
                  NVS_ENTRY_KEY_SIZE) == 0;
}

static void update_first_used(nvs_flash *f, uint32_t p, unsigned from)
{
    nvs_page_mem *m = &f->pg[p];
    m->first_used = NENT;
    for (unsigned i = from; i < m->next_free && i < NENT; i++)
        if (state_of(f, p, i) == NVS_ENTRY_STATE_WRITTEN) {
            m->first_used = i;
            break;
        }
}

void nvs_erase_entry_span(nvs_flash *f, uint32_t p, unsigned i)
{
    nvs_page_mem *m = &f->pg[p];
    const uint8_t *e = nvs_entry_at(f, p, i);
    unsigned span = 1;
    if (state_of(f, p, i) == NVS_ENTRY_STATE_WRITTEN && crc_ok(f, p, i)) {
        span = e[NVS_ENTRY_SPAN_OFFSET];
        if (span == 0 || i + span > NENT)
            span = 1;
    }
    for (unsigned j = i; j < i + span; j++)
        set_state(f, p, j, NVS_ENTRY_STATE_ERASED);
    if (i == m->first_used)
        update_first_used(f, p, i + span);
    if (m->kind == NVS_PAGE_ACTIVE && i + span > m->next_free)
        m->next_free = i + span;
}

void nvs_search_init(nvs_search *q, uint8_t ns, uint8_t type,
                     const char *key, uint8_t chunk, uint8_t chunk_start)
{
    memset(q, 0, sizeof *q);
    q->ns = ns;
    q->type = type;
    q->key = key;
    q->chunk = chunk;
    q->chunk_start = chunk_start;
    q->hashed = ns != NVS_NS_ANY && key &&
                (type != NVSF_TYPE_BLOB_DATA || chunk != NVS_CHUNK_ANY);
    if (q->hashed) {
        q->want[NVS_ENTRY_NS_OFFSET] = ns;
        q->want[NVS_ENTRY_CHUNK_OFFSET] = chunk;
        strncpy((char *)q->want + NVS_ENTRY_KEY_OFFSET, key,
                NVS_ENTRY_KEY_SIZE);
    }
}

int nvs_search_hash_start(const nvs_search *q, const uint8_t *e)
{
    return same_hash(e, q->want);
}

int nvs_search_match(const nvs_search *q, const uint8_t *e)
{
    uint8_t et = e[NVS_ENTRY_TYPE_OFFSET], ec = e[NVS_ENTRY_CHUNK_OFFSET];
    if (q->ns != NVS_NS_ANY && e[NVS_ENTRY_NS_OFFSET] != q->ns)
        return NVS_NOT_FOUND;
    if (q->key && strncmp(q->key, (const char *)e + NVS_ENTRY_KEY_OFFSET,
                          NVSF_KEY_MAX_LEN) != 0)
        return NVS_NOT_FOUND;
    if (q->chunk != NVS_CHUNK_ANY && q->type == NVSF_TYPE_BLOB_DATA &&
        ec != q->chunk)
        return NVS_NOT_FOUND;
    if (q->chunk == NVS_CHUNK_ANY && q->type == NVSF_TYPE_BLOB_DATA &&
        et != NVSF_TYPE_BLOB_DATA)
        return NVS_NOT_FOUND;
    if (q->chunk == NVS_CHUNK_ANY && q->type == NVSF_TYPE_BLOB &&
        et == NVSF_TYPE_BLOB_INDEX)
        return NVS_TYPE_MISMATCH;
    if (q->chunk == NVS_CHUNK_ANY && q->type == NVSF_TYPE_BLOB &&
        et == NVSF_TYPE_BLOB_DATA)
        return NVS_NOT_FOUND;
    if (q->type == NVSF_TYPE_BLOB_INDEX &&
        (ec != NVS_CHUNK_ANY ||
         (q->chunk_start != NVS_VER_ANY &&
          e[NVS_ENTRY_DATA_OFFSET + 5] != q->chunk_start)))
        return NVS_NOT_FOUND;
    if (q->type != NVS_TYPE_ANY && et != q->type)
        return !q->key && q->ns == NVS_NS_ANY && q->chunk == NVS_CHUNK_ANY
                   ? NVS_NOT_FOUND
                   : NVS_TYPE_MISMATCH;
    return NVS_FOUND;
}

int nvs_find_item(nvs_flash *f, uint32_t p, uint8_t ns, uint8_t type,
                  const char *key, uint8_t chunk, uint8_t chunk_start,
                  unsigned *index)
{
    const nvs_page_mem *m = &f->pg[p];
    if (m->kind != NVS_PAGE_ACTIVE && m->kind != NVS_PAGE_FULL &&
        m->kind != NVS_PAGE_FREEING)
        return NVS_NOT_FOUND;
    if (*index >= NENT)
        return NVS_NOT_FOUND;
    unsigned start = *index > m->first_used ? *index : m->first_used;
    unsigned end = m->next_free < NENT ? m->next_free : NENT;
    nvs_search q;
    nvs_search_init(&q, ns, type, key, chunk, chunk_start);
    /* With a key, ESP-IDF starts at the first item whose hash (namespace,
     * key, chunk index) matches, and finds nothing when none does. */
    int hashed = q.hashed;
    for (unsigned i = start, next; i < end; i = next) {
        next = i + 1;
        if (state_of(f, p, i) != NVS_ENTRY_STATE_WRITTEN)
            continue;
        if (!crc_ok(f, p, i)) {
            nvs_erase_entry_span(f, p, i);
            continue;
        }
        const uint8_t *e = nvs_entry_at(f, p, i);
        if (nvs_type_is_varlen(e[NVS_ENTRY_TYPE_OFFSET]) &&
            e[NVS_ENTRY_SPAN_OFFSET] > 0)
            next = i + e[NVS_ENTRY_SPAN_OFFSET];
        if (hashed) {
            if (!nvs_search_hash_start(&q, e))
                continue;
            hashed = 0;
        }
        int rc = nvs_search_match(&q, e);
        if (rc == NVS_NOT_FOUND)
            continue;
        *index = i;
        return rc;
    }
    return NVS_NOT_FOUND;
}

/* Page::eraseItem: the first match on page p, if any. */
static int erase_item(nvs_flash *f, uint32_t p, const uint8_t *like,
                      uint8_t type)
{
    char key[17];
    memcpy(key, like + NVS_ENTRY_KEY_OFFSET, 16);
    key[16] = '\0';
    unsigned i = 0;
    if (nvs_find_item(f, p, like[NVS_ENTRY_NS_OFFSET], type, key,
                      like[NVS_ENTRY_CHUNK_OFFSET], NVS_VER_ANY,
                      &i) != NVS_FOUND)
        return 0;
    nvs_erase_entry_span(f, p, i);
    return 1;
}

/* ---- 1. pages ------------------------------------------------------------ */

static long first_not_ff(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0xFF)
            return (long)i;
    return -1;
}

/* The header at entry k of page p, when it is a string or blob whose data
 * entries reach entry `at`. */
static int covered_by_header(nvs_flash *f, uint32_t p, unsigned at)
{
    for (unsigned k = at; k-- > 0;) {
        unsigned st = state_of(f, p, k);
        const uint8_t *e = nvs_entry_at(f, p, k);
        if (st == NVS_ENTRY_STATE_WRITTEN && crc_ok(f, p, k) &&
            nvs_type_is_varlen(e[NVS_ENTRY_TYPE_OFFSET]))
            return k + e[NVS_ENTRY_SPAN_OFFSET] > at;
        if (at - k > 126)
            break;
    }
    return 0;
}

/*
 * Did a write cut short leave these 32 bytes (raw, as on flash)? Flash is
 * written a word (4 bytes) at a time: some words written, the rest still
 * 0xFF. The first word of one that was written holds at most two 0xFF
 * bytes (a header's namespace, type, span and chunk index; cipher text):
 * one bit cleared in an erased word is damage, not a write.
 */
static int cut_write(const uint8_t *raw)
{
    size_t words = 0;
    while (words < 8 && nvs_load_u32(raw + 4 * words) != 0xFFFFFFFFu)
        words++;
    if (words == 0 || words == 8 ||
        first_not_ff(raw + 4 * words, 32 - 4 * words) >= 0)
        return 0;
    unsigned ff = (raw[0] == 0xFF) + (raw[1] == 0xFF) + (raw[2] == 0xFF) +
                  (raw[3] == 0xFF);
    return ff <= 2;
}

static const uint8_t *raw_entry(const nvs_flash *f, uint32_t p, unsigned i)
{
    return (f->raw ? f->raw : f->bytes) + (size_t)p * NVS_PAGE_SIZE + 64u +
           (size_t)i * 32u;
}

/*
 * Entries [from, to) of the active page were marked empty but hold data;
 * ESP-IDF has marked them erased. A write cut before it set the state
 * explains the data entries of the item written last, and one whole item
 * header after them; anything else is damage.
 */
static void note_tail(nvs_flash *f, uint32_t p, unsigned from, unsigned to)
{
    unsigned k = from;
    while (k < to && covered_by_header(f, p, k))
        k++;
    char d[120];
    if (k > from)
        note(f, NVSF_REPAIRABLE, NVSF_REPAIR_ERASE_ENTRIES, p, (int)from,
             k - from,
             "%u data entr%s of the item written last hold data but are "
             "marked empty: the write was cut; ESP-IDF marks them erased "
             "(the item itself is dropped below)",
             k - from, k - from == 1 ? "y" : "ies");
    if (k == to)
        return;
    const uint8_t *e = nvs_entry_at(f, p, k);
    if (to - k == 1 && crc_ok(f, p, k))
        note(f, NVSF_REPAIRABLE, NVSF_REPAIR_ERASE_ENTRIES, p, (int)k, 1,
             "%s was written but not marked written: the set was cut; "
             "ESP-IDF marks the entry erased and the set is lost",
             nvs_describe(e, d, sizeof d));
    else if (to - k == 1 && cut_write(raw_entry(f, p, k)))
        note(f, NVSF_REPAIRABLE, NVSF_REPAIR_ERASE_ENTRIES, p, (int)k, 1,
             "an item header was being written when the write was cut (its "
             "first bytes only); ESP-IDF marks the entry erased and that "
             "set is lost");
    else
        note(f, NVSF_DAMAGED, NVSF_REPAIR_ERASE_ENTRIES, p, (int)k, to - k,
             "entr%s %u..%u %s marked empty but hold%s data that no cut "
             "write explains; ESP-IDF marks %s erased",
             to - k == 1 ? "y" : "ies", k, to - 1, to - k == 1 ? "is" : "are",
             to - k == 1 ? "s" : "", to - k == 1 ? "it" : "them");
}

/* A string or blob whose data entries are not all marked written. */
static void erase_incomplete(nvs_flash *f, uint32_t p, unsigned i,
                             unsigned span, unsigned tail_from)
{
    const uint8_t *e = nvs_entry_at(f, p, i);
    unsigned first_bad = i + 1;
    while (first_bad < i + span &&
           state_of(f, p, first_bad) == NVS_ENTRY_STATE_WRITTEN)
        first_bad++;
    int suffix = 1; /* an erase cut short leaves the last entries erased */
    for (unsigned j = first_bad; j < i + span; j++)
        suffix &= state_of(f, p, j) != NVS_ENTRY_STATE_WRITTEN;
    int last_write = f->pg[p].kind == NVS_PAGE_ACTIVE && i + span >= tail_from;
    char d[120];
    nvs_describe(e, d, sizeof d);
    if (suffix || last_write)
        note(f, NVSF_REPAIRABLE, NVSF_REPAIR_ERASE_ENTRIES, p, (int)i, span,
             "%s: its data entries are not all marked written (a write or "
             "erase was cut); ESP-IDF erases the item (%u bytes)",
             d, nvs_load_u16(e + NVS_ENTRY_DATA_OFFSET));
    else
        note(f, NVSF_DAMAGED, NVSF_REPAIR_ERASE_ENTRIES, p, (int)i, span,
             "%s: data entry %u is not marked written, and no cut write or "
             "erase explains it; ESP-IDF erases the item (%u bytes lost)",
             d, first_bad, nvs_load_u16(e + NVS_ENTRY_DATA_OFFSET));
    nvs_erase_entry_span(f, p, i);
}

static void note_bad_crc(nvs_flash *f, uint32_t p, unsigned i)
{
    const uint8_t *e = nvs_entry_at(f, p, i);
    note(f, NVSF_DAMAGED, NVSF_REPAIR_ERASE_ENTRIES, p, (int)i, 1,
         "entry header CRC mismatch (the entry says 0x%08x, its bytes give "
         "0x%08x); ESP-IDF erases the entry and what it held is lost",
         nvs_load_u32(e + NVS_ENTRY_CRC_OFFSET), nvs_entry_crc(e));
    nvs_erase_entry_span(f, p, i);
}

/* The data entries of the string or blob at i are all in the page and
 * marked written: 1; 0 erased as incomplete; -1 ESP-IDF fails. */
static int check_span(nvs_flash *f, uint32_t p, unsigned i, unsigned span,
                      unsigned tail_from)
{
    if (i + span > NENT) {
        char d[120];
        note(f, NVSF_UNUSABLE, NVSF_REPAIR_NONE, p, (int)i, 0,
             "%s has span %u, past the end of the page; ESP-IDF's start-up "
             "fails on it",
             nvs_describe(nvs_entry_at(f, p, i), d, sizeof d), span);
        return -1;
    }
    for (unsigned j = i + 1; j < i + span; j++)
        if (state_of(f, p, j) != NVS_ENTRY_STATE_WRITTEN) {
            erase_incomplete(f, p, i, span, tail_from);
            return 0;
        }
    return 1;
}

static void load_active(nvs_flash *f, uint32_t p)
{
    nvs_page_mem *m = &f->pg[p];
    unsigned n = 0;
    while (n < NENT && state_of(f, p, n) != NVS_ENTRY_STATE_EMPTY)
        n++;
    unsigned tail_from = n;
    while (n < NENT && nvs_load_u32(nvs_entry_at(f, p, n)) != 0xFFFFFFFFu)
        n++;
    m->next_free = n;
    if (n > tail_from) {
        note_tail(f, p, tail_from, n);
        for (unsigned j = tail_from; j < n; j++)
            set_state(f, p, j, NVS_ENTRY_STATE_ERASED);
    }
    unsigned live[NENT], nlive = 0, span;
    for (unsigned i = 0; i < n; i += span) {
        span = 1;
        unsigned st = state_of(f, p, i);
        if (st == NVS_ENTRY_STATE_ERASED)
            continue;
        if (st == 1) {
            note(f, NVSF_DAMAGED, NVSF_REPAIR_ERASE_ENTRIES, p, (int)i, 1,
                 "the entry's state bits are 01, which NVS never writes; "
                 "ESP-IDF marks it erased");
            nvs_erase_entry_span(f, p, i);
            continue;
        }
        if (!crc_ok(f, p, i)) {
            note_bad_crc(f, p, i);
            continue;
        }
        const uint8_t *e = nvs_entry_at(f, p, i);
        unsigned dup = NENT;
        for (unsigned k = 0; k < nlive && dup == NENT; k++)
            if (state_of(f, p, live[k]) == NVS_ENTRY_STATE_WRITTEN &&
                same_hash(nvs_entry_at(f, p, live[k]), e))
                dup = live[k];
        live[nlive++] = i;
        if (nvs_type_is_varlen(e[NVS_ENTRY_TYPE_OFFSET])) {
            span = e[NVS_ENTRY_SPAN_OFFSET];
            int ok = check_span(f, p, i, span, tail_from);
            if (ok < 0)
                return;
            if (span == 0)
                span = 1;
            if (!ok)
                continue;
        }
        if (dup < i) {
            char d[120];
            note(f, NVSF_REPAIRABLE, NVSF_REPAIR_ERASE_ENTRIES, p, (int)dup,
                 1,
                 "%s is stored again at entry %u of the same page: a set was "
                 "cut before it erased the old value; ESP-IDF erases this "
                 "older copy",
                 nvs_describe(nvs_entry_at(f, p, dup), d, sizeof d), i);
            nvs_erase_entry_span(f, p, dup);
        }
    }
}

static void load_full(nvs_flash *f, uint32_t p)
{
    for (unsigned i = f->pg[p].first_used; i < NENT; i++) {
        if (state_of(f, p, i) != NVS_ENTRY_STATE_WRITTEN)
            continue;
        if (!crc_ok(f, p, i)) {
            note_bad_crc(f, p, i);
            continue;
        }
        const uint8_t *e = nvs_entry_at(f, p, i);
        unsigned span = e[NVS_ENTRY_SPAN_OFFSET];
        if (span == 0) {
            char d[120];
            note(f, NVSF_UNUSABLE, NVSF_REPAIR_NONE, p, (int)i, 0,
                 "%s has span 0; ESP-IDF's start-up fails on it",
                 nvs_describe(e, d, sizeof d));
            return;
        }
        if (nvs_type_is_varlen(e[NVS_ENTRY_TYPE_OFFSET]) &&
            check_span(f, p, i, span, NENT) < 0)
            return;
        i += span - 1;
    }
}

static void load_page(nvs_flash *f, uint32_t p)
{
    const uint8_t *pg = page_at(f, p);
    nvs_page_mem *m = &f->pg[p];
    m->first_used = m->next_free = NENT;
    m->kind = NVS_PAGE_CORRUPT;
    uint32_t state = nvs_load_u32(pg + NVS_PAGE_STATE_OFFSET);
    if (state == NVS_PAGE_STATE_EMPTY) {
        long off = first_not_ff(pg, NVS_PAGE_SIZE);
        if (off < 0)
            m->kind = NVS_PAGE_UNINITIALIZED;
        else
            note(f, NVSF_DAMAGED, NVSF_REPAIR_NONE, p, -1, 0,
                 "the page is marked empty (state 0xffffffff) but its byte "
                 "0x%lx is 0x%02x, not 0xff; ESP-IDF takes it for corrupt "
                 "and erases it when it needs a new page",
                 (unsigned long)off, pg[off]);
        return;
    }
    uint32_t crc = nvs_page_header_crc(pg);
    uint32_t stored = nvs_load_u32(pg + NVS_PAGE_CRC_OFFSET);
    if (crc != stored && state == NVS_PAGE_STATE_ACTIVE &&
        stored == 0xFFFFFFFFu &&
        first_not_ff(pg + NVS_BITMAP_OFFSET,
                     NVS_PAGE_SIZE - NVS_BITMAP_OFFSET) < 0) {
        /* Page::initialize writes the header in one go, state first */
        note(f, NVSF_REPAIRABLE, NVSF_REPAIR_NONE, p, -1, 0,
             "the header of a new page was being written when the write "
             "was cut; ESP-IDF takes the page for corrupt and erases it when "
             "it needs a new page; nothing is lost");
        return;
    }
    if (crc != stored) {
        note(f, NVSF_DAMAGED, NVSF_REPAIR_NONE, p, -1, 0,
             "page header CRC mismatch (the header says 0x%08x, bytes 4..27 "
             "give 0x%08x); ESP-IDF does not read this page: what it holds "
             "is lost, and the page is erased when ESP-IDF needs a new one",
             stored, crc);
        return;
    }
    m->seq = nvs_load_u32(pg + NVS_PAGE_SEQ_OFFSET);
    uint8_t version = pg[NVS_PAGE_VERSION_OFFSET];
    if (version < NVS_PAGE_VERSION2) {
        note(f, NVSF_UNUSABLE, NVSF_REPAIR_NONE, p, -1, 0,
             "format version byte 0x%02x (0xff is version 1, 0xfe version "
             "2): ESP-IDF refuses the partition as written by a newer NVS "
             "(ESP_ERR_NVS_NEW_VERSION_FOUND)",
             version);
        return;
    }
    switch (state) {
    case NVS_PAGE_STATE_ACTIVE:
        m->kind = NVS_PAGE_ACTIVE;
        break;
    case NVS_PAGE_STATE_FULL:
        m->kind = NVS_PAGE_FULL;
        break;
    case NVS_PAGE_STATE_FREEING:
        m->kind = NVS_PAGE_FREEING;
        break;
    default:
        note(f, NVSF_DAMAGED, NVSF_REPAIR_NONE, p, -1, 0,
             "page state 0x%08x is not active (0xfffffffe), full "
             "(0xfffffffc) or freeing (0xfffffff8); ESP-IDF takes the page "
             "for corrupt: what it holds is lost, and it is erased when "
             "ESP-IDF needs a new page",
             state);
        return;
    }
    for (unsigned i = 0; i < NENT; i++)
        if (state_of(f, p, i) == NVS_ENTRY_STATE_WRITTEN) {
            m->first_used = i;
            break;
        }
    if (m->kind == NVS_PAGE_ACTIVE)
        load_active(f, p);
    else
        load_full(f, p);
}

/* ---- 2, 3. the page manager ---------------------------------------------- */

static void list_remove(uint32_t *v, uint32_t *n, uint32_t page)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < *n; i++)
        if (v[i] != page)
            v[k++] = v[i];
    *n = k;
}

static void erase_page(nvs_flash *f, uint32_t p)
{
    memset(page_at(f, p), 0xFF, NVS_PAGE_SIZE);
    forget_crcs(f, p);
    f->pg[p].kind = NVS_PAGE_UNINITIALIZED;
    f->pg[p].first_used = f->pg[p].next_free = NENT;
}

/* PageManager::activatePage: the first free page joins the list. */
static int activate_page(nvs_flash *f)
{
    if (f->nfree == 0)
        return -1;
    uint32_t p = f->free[0];
    if (f->pg[p].kind == NVS_PAGE_CORRUPT) {
        note(f, NVSF_REPAIRABLE, NVSF_REPAIR_ERASE_PAGE, p, -1, 0,
             "ESP-IDF erases this unreadable page to use it as its new page");
        erase_page(f, p);
    }
    memmove(f->free, f->free + 1, (f->nfree - 1) * sizeof *f->free);
    f->nfree--;
    f->list[f->nlist++] = p;
    f->pg[p].seq = f->next_seq++;
    f->pending = p;
    return 0;
}

/* Page::initialize: the header of a new active page. */
static void initialize_page(nvs_flash *f, uint32_t p)
{
    uint8_t *pg = page_at(f, p);
    memset(pg, 0xFF, NVS_FIRST_ENTRY_OFFSET);
    nvs_store_u32(pg + NVS_PAGE_STATE_OFFSET, NVS_PAGE_STATE_ACTIVE);
    nvs_store_u32(pg + NVS_PAGE_SEQ_OFFSET, f->pg[p].seq);
    pg[NVS_PAGE_VERSION_OFFSET] = NVS_PAGE_VERSION2;
    nvs_store_u32(pg + NVS_PAGE_CRC_OFFSET, nvs_page_header_crc(pg));
    f->pg[p].kind = NVS_PAGE_ACTIVE;
    f->pg[p].next_free = 0;
    f->pg[p].first_used = NENT;
    if (f->pending == p)
        f->pending = UINT32_MAX;
}

/* Page::copyItems: the written entries of page `from`, in order, with the
 * data entries of each item. Returns the number of items. */
static unsigned copy_items(nvs_flash *f, uint32_t from, uint32_t to)
{
    const nvs_page_mem *m = &f->pg[from];
    if (m->first_used >= NENT)
        return 0;
    initialize_page(f, to);
    forget_crcs(f, to);
    nvs_page_mem *t = &f->pg[to];
    unsigned items = 0;
    for (unsigned i = m->first_used; i < NENT;) {
        if (state_of(f, from, i) != NVS_ENTRY_STATE_WRITTEN) {
            i++;
            continue;
        }
        unsigned span = nvs_entry_at(f, from, i)[NVS_ENTRY_SPAN_OFFSET];
        if (span == 0)
            span = 1;
        for (unsigned j = i; j < i + span && j < NENT && t->next_free < NENT;
             j++) {
            memcpy(nvs_entry_at(f, to, t->next_free), nvs_entry_at(f, from, j),
                   NVS_ENTRY_SIZE);
            set_state(f, to, t->next_free, NVS_ENTRY_STATE_WRITTEN);
            if (t->first_used == NENT)
                t->first_used = t->next_free;
            t->next_free++;
        }
        items++;
        i += span;
    }
    return items;
}

/* Is page `copy` (active) the start of a copy of page `from`'s written
 * entries, as garbage collection writes it? */
static int is_partial_copy(const nvs_flash *f, uint32_t from, uint32_t copy)
{
    unsigned j = 0, i = f->pg[from].first_used;
    while (j < NENT && state_of(f, copy, j) == NVS_ENTRY_STATE_WRITTEN) {
        while (i < NENT && state_of(f, from, i) != NVS_ENTRY_STATE_WRITTEN)
            i++;
        /* data entries of a string or blob are written too */
        if (i >= NENT || memcmp(nvs_entry_at(f, copy, j),
                                nvs_entry_at(f, from, i), NVS_ENTRY_SIZE) != 0)
            return 0;
        i++;
        j++;
    }
    for (; j < NENT; j++)
        if (state_of(f, copy, j) == NVS_ENTRY_STATE_WRITTEN)
            return 0;
    return 1;
}

/* The last item of the newest page, stored again on an older page. */
static void erase_older_duplicate(nvs_flash *f)
{
    uint32_t last = f->list[f->nlist - 1];
    uint8_t item[NVS_ENTRY_SIZE];
    unsigned i = 0, found = 0;
    while (nvs_find_item(f, last, NVS_NS_ANY, NVS_TYPE_ANY, NULL, NVS_CHUNK_ANY,
                         NVS_VER_ANY, &i) == NVS_FOUND) {
        memcpy(item, nvs_entry_at(f, last, i), sizeof item);
        i += item[NVS_ENTRY_SPAN_OFFSET] ? item[NVS_ENTRY_SPAN_OFFSET] : 1;
        found = 1;
    }
    if (!found)
        return;
    for (int pass = 0; pass < 2; pass++) {
        uint8_t type = pass ? NVSF_TYPE_BLOB : item[NVS_ENTRY_TYPE_OFFSET];
        if (pass && item[NVS_ENTRY_TYPE_OFFSET] != NVSF_TYPE_BLOB_INDEX)
            return;
        for (uint32_t k = 0; k + 1 < f->nlist; k++) {
            uint32_t p = f->list[k];
            if (f->pg[p].kind == NVS_PAGE_FREEING)
                continue;
            unsigned at = 0;
            char key[17];
            memcpy(key, item + NVS_ENTRY_KEY_OFFSET, 16);
            key[16] = '\0';
            if (nvs_find_item(f, p, item[NVS_ENTRY_NS_OFFSET], type, key,
                              item[NVS_ENTRY_CHUNK_OFFSET], NVS_VER_ANY,
                              &at) != NVS_FOUND)
                continue;
            char d[120];
            note(f, NVSF_REPAIRABLE, NVSF_REPAIR_ERASE_ENTRIES, p, (int)at,
                 nvs_entry_at(f, p, at)[NVS_ENTRY_SPAN_OFFSET],
                 "%s is also the last item written (page %u): a set was cut "
                 "before it erased the old value; ESP-IDF erases this older "
                 "copy",
                 nvs_describe(nvs_entry_at(f, p, at), d, sizeof d), last);
            nvs_erase_entry_span(f, p, at);
            return;
        }
    }
}

/* A FREEING page: garbage collection cut short. */
static void finish_freeing(nvs_flash *f)
{
    uint32_t freeing = UINT32_MAX;
    for (uint32_t k = 0; k < f->nlist && freeing == UINT32_MAX; k++)
        if (f->pg[f->list[k]].kind == NVS_PAGE_FREEING)
            freeing = f->list[k];
    if (freeing == UINT32_MAX)
        return;
    uint32_t newest = f->list[f->nlist - 1];
    if (f->pg[newest].kind == NVS_PAGE_ACTIVE) {
        if (is_partial_copy(f, freeing, newest))
            note(f, NVSF_REPAIRABLE, NVSF_REPAIR_ERASE_PAGE, newest, -1, 0,
                 "the newest page is the partial copy of freeing page %u: "
                 "ESP-IDF erases it (no data is lost: the freeing page holds "
                 "it all)",
                 freeing);
        else
            note(f, NVSF_DAMAGED, NVSF_REPAIR_ERASE_PAGE, newest, -1, 0,
                 "page %u is freeing, and ESP-IDF erases the newest page "
                 "as its partial copy, but this page is not a copy of it: "
                 "what only this page holds is lost",
                 freeing);
        erase_page(f, newest);
        list_remove(f->list, &f->nlist, newest);
        f->free[f->nfree++] = newest;
    }
    if (activate_page(f) < 0) {
        note(f, NVSF_UNUSABLE, NVSF_REPAIR_NONE, freeing, -1, 0,
             "the page is freeing (garbage collection cut short) and no page "
             "is free to finish it: ESP-IDF cannot open the partition");
        return;
    }
    uint32_t to = f->list[f->nlist - 1];
    unsigned items = copy_items(f, freeing, to);
    note(f, NVSF_REPAIRABLE, NVSF_REPAIR_COPY_PAGE, freeing, -1, items,
         "the page is freeing: garbage collection was cut short; ESP-IDF "
         "copies its %u item%s to page %u (sequence number %u) and erases "
         "it; no data is lost",
         items, items == 1 ? "" : "s", to, f->pg[to].seq);
    erase_page(f, freeing);
    list_remove(f->list, &f->nlist, freeing);
    f->free[f->nfree++] = freeing;
}

static void load_pages(nvs_flash *f)
{
    for (uint32_t p = 0; p < f->npages && !f->unusable; p++)
        load_page(f, p);
    if (f->unusable)
        return;
    f->nlist = f->nfree = 0;
    for (uint32_t p = 0; p < f->npages; p++) {
        enum nvs_page_kind k = f->pg[p].kind;
        if (k == NVS_PAGE_UNINITIALIZED || k == NVS_PAGE_CORRUPT) {
            f->free[f->nfree++] = p;
            continue;
        }
        /* before the first page with a higher sequence number */
        uint32_t at = f->nlist;
        for (uint32_t k2 = 0; k2 < f->nlist; k2++)
            if (f->pg[f->list[k2]].seq > f->pg[p].seq) {
                at = k2;
                break;
            }
        memmove(f->list + at + 1, f->list + at,
                (f->nlist - at) * sizeof *f->list);
        f->list[at] = p;
        f->nlist++;
    }
    if (f->nlist == 0) {
        f->next_seq = 0;
        if (activate_page(f) < 0)
            note(f, NVSF_UNUSABLE, NVSF_REPAIR_NONE, -1, -1, 0,
                 "the partition has no page");
        return;
    }
    f->next_seq = f->pg[f->list[f->nlist - 1]].seq + 1;
    if (f->read_only)
        return;
    erase_older_duplicate(f);
    finish_freeing(f);
    if (!f->unusable && f->nfree == 0)
        note(f, NVSF_UNUSABLE, NVSF_REPAIR_NONE, -1, -1, 0,
             "no page is free: ESP-IDF needs one to open a partition for "
             "writing and fails (ESP_ERR_NVS_NO_FREE_PAGES)");
}

/* ---- 4. storage ------------------------------------------------------------- */

typedef struct blob_ref {
    uint8_t ns, start, count;
    char key[17];
} blob_ref;

/* Blob indexes sorted by namespace and key, so that each chunk finds its
 * claimants by binary search (ESP-IDF compares every chunk with every
 * index; the result is the same, without the quadratic time). */
static int blob_ref_cmp(uint8_t ns, const char *key, const blob_ref *r)
{
    if (ns != r->ns)
        return ns < r->ns ? -1 : 1;
    return strncmp(key, r->key, NVSF_KEY_MAX_LEN);
}

static int cmp_blob_ref(const void *a, const void *b)
{
    const blob_ref *x = a;
    return blob_ref_cmp(x->ns, x->key, b);
}

/* Does a blob index claim chunk c of (ns, key)? */
static int chunk_claimed(const blob_ref *refs, size_t n, uint8_t ns,
                         const char *key, unsigned c)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* the first index not below (ns, key) */
        size_t mid = lo + (hi - lo) / 2;
        if (blob_ref_cmp(ns, key, &refs[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < n && blob_ref_cmp(ns, key, &refs[lo]) == 0; lo++)
        if (c >= refs[lo].start && c < (unsigned)refs[lo].start + refs[lo].count)
            return 1;
    return 0;
}

static int erase_orphan_chunks(nvs_flash *f)
{
    blob_ref *refs = NULL;
    size_t n = 0, cap = 0;
    for (uint32_t k = 0; k < f->nlist; k++) {
        unsigned i = 0;
        while (nvs_find_item(f, f->list[k], NVS_NS_ANY, NVSF_TYPE_BLOB_INDEX,
                             NULL, NVS_CHUNK_ANY, NVS_VER_ANY,
                             &i) == NVS_FOUND) {
            const uint8_t *e = nvs_entry_at(f, f->list[k], i);
            if (n == cap) {
                size_t c = cap ? cap * 2 : 16;
                blob_ref *v = realloc(refs, c * sizeof *v);
                if (!v) {
                    free(refs);
                    return -1;
                }
                refs = v;
                cap = c;
            }
            blob_ref *r = &refs[n++];
            r->ns = e[NVS_ENTRY_NS_OFFSET];
            r->count = e[NVS_ENTRY_DATA_OFFSET + 4];
            r->start = e[NVS_ENTRY_DATA_OFFSET + 5];
            memcpy(r->key, e + NVS_ENTRY_KEY_OFFSET, 16);
            r->key[16] = '\0';
            i += 1;
        }
    }
    if (n > 1)
        qsort(refs, n, sizeof *refs, cmp_blob_ref);
    for (uint32_t k = 0; k < f->nlist; k++) {
        uint32_t p = f->list[k];
        unsigned i = 0;
        while (nvs_find_item(f, p, NVS_NS_ANY, NVSF_TYPE_BLOB_DATA, NULL,
                             NVS_CHUNK_ANY, NVS_VER_ANY, &i) == NVS_FOUND) {
            uint8_t e[NVS_ENTRY_SIZE];
            memcpy(e, nvs_entry_at(f, p, i), sizeof e);
            char key[17];
            memcpy(key, e + NVS_ENTRY_KEY_OFFSET, 16);
            key[16] = '\0';
            if (!chunk_claimed(refs, n, e[NVS_ENTRY_NS_OFFSET], key,
                               e[NVS_ENTRY_CHUNK_OFFSET])) {
                char d[120];
                note(f, NVSF_REPAIRABLE, NVSF_REPAIR_ERASE_ENTRIES, p, (int)i,
                     e[NVS_ENTRY_SPAN_OFFSET],
                     "%s (%u bytes) belongs to no blob index: left by a blob "
                     "write or erase that was cut; ESP-IDF erases it",
                     nvs_describe(e, d, sizeof d),
                     nvs_load_u16(e + NVS_ENTRY_DATA_OFFSET));
                erase_item(f, p, e, NVSF_TYPE_BLOB_DATA);
            }
            i += e[NVS_ENTRY_SPAN_OFFSET] ? e[NVS_ENTRY_SPAN_OFFSET] : 1;
        }
    }
    free(refs);
    return 0;
}

int nvs_startup(nvs_flash *f)
{
    f->pg = calloc((size_t)f->npages + 1, sizeof *f->pg);
    f->list = calloc((size_t)f->npages + 1, sizeof *f->list);
    f->free = calloc((size_t)f->npages + 1, sizeof *f->free);
    f->crc_right = calloc((size_t)f->npages + 1, NVS_CRC_MEMO_BYTES);
    f->pending = UINT32_MAX;
    f->unusable = 0;
    f->nlist = f->nfree = 0;
    if (!f->pg || !f->list || !f->free || !f->crc_right)
        return -1;
    load_pages(f);
    if (f->unusable)
        return 0;
    return erase_orphan_chunks(f);
}

void nvs_flash_release(nvs_flash *f)
{
    free(f->pg);
    free(f->list);
    free(f->free);
    free(f->crc_right);
    f->pg = NULL;
    f->list = f->free = NULL;
    f->crc_right = NULL;
}
