/*
 * The image reader and checker: the one place that walks an image the way
 * ESP-IDF's NVS library reads it (nvs_page.cpp, nvs_pagemanager.cpp,
 * nvs_storage.cpp), collects what it holds and lists every problem found
 * on the way. The bytes are never trusted: every offset, span, size and
 * chunk count read from the image is bounded before it is used.
 *
 * How ESP-IDF reads, and so this reader:
 *   - a page whose state word is 0xFFFFFFFF is empty and must be all 0xFF;
 *     a page whose header CRC fails, whose state is not active, full or
 *     freeing, or whose version is unknown is not read (ESP-IDF marks it
 *     corrupt);
 *   - pages are read in the order of their sequence numbers; when a page is
 *     FREEING (garbage collection was cut short), the newest page, if
 *     active, is the partial copy ESP-IDF throws away, and the freeing
 *     page's items are read last (they are copied again);
 *   - in a page, entries marked written are items: the header CRC must
 *     hold, strings and blobs take `span` entries whose data CRC must hold;
 *     erased entries are skipped one by one;
 *   - namespace 0 holds the namespace definitions (u8, value = index);
 *   - a version-2 blob is a blob index (size, chunk count, first chunk
 *     index: 0 or 128) and its chunks (type 0x42), anywhere in the image.
 *
 * The CSV export at the end writes rows that make the partition generator
 * (rows.c, builder.c) write the same image again; it mirrors the rules of
 * rows.c for the Wi-Fi items the generator adds by itself.
 */
#include "reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "csv.h"
#include "error.h"
#include "nvs_format.h"
#include "value.h"

#define PROBLEMS_MAX 10000u
#define STATE_CORRUPT_IDF 0xFFFFFFF0u /* ESP-IDF's PageState::CORRUPT */
#define CHUNK_START_VER1 0x80u        /* ESP-IDF's VerOffset::VER_1_OFFSET */
#define NO_RANK UINT32_MAX
#define AP_PMK_INFO_LEN 132u          /* 100 zero bytes + 32-byte PMK */

/* A written item header whose CRCs hold, on a page that is read. */
typedef struct rec {
    uint32_t page, entry;
    uint64_t pos;          /* place in reading order */
    const uint8_t *e;      /* the header entry */
    const uint8_t *data;   /* strings, blobs, chunks: the value */
    size_t size;
    char key[17];
    int key_ok;
    int claimed;           /* chunks: claimed by a blob index */
} rec;

typedef struct reader {
    nvsf_image pub;        /* first: a reader is handed out as its image */
    uint8_t *bytes;
    size_t bytes_len;
    nvsf_page_info *pages;
    uint32_t *order;       /* readable pages in reading order */
    uint32_t order_count;
    uint32_t *rank;        /* per page: place in `order`, or NO_RANK */
    rec *recs;
    size_t nrecs, caprecs;
    nvsf_namespace ns[NVS_NAMESPACE_INDEX_MAX];
    uint64_t ns_pos[NVS_NAMESPACE_INDEX_MAX];
    size_t nns;
    int ns_slot[256];      /* namespace index -> place in ns, or -1 */
    nvsf_item *items;
    uint64_t *item_pos;
    size_t nitems;
    uint8_t **blobs;       /* reassembled version-2 blobs */
    size_t nblobs;
    nvsf_problem *problems;
    size_t nproblems, capproblems;
    size_t unlisted;
    unsigned long crc_ok, crc_bad;
    int closing; /* the last summary lines go past PROBLEMS_MAX */
    int nomem;
} reader;

/* ---- text --------------------------------------------------------------- */

size_t nvsf_utf8_seq_len(const uint8_t *s, size_t n)
{
    size_t k = s[0] >= 0xC2 && s[0] <= 0xDF   ? 2
               : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
               : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
                                              : 0;
    return k && k <= n && nvsf_utf8_valid(s, k) ? k : 0;
}

size_t nvsf_escape_text(char *out, size_t cap, const uint8_t *s, size_t n)
{
    size_t need = 0, written = 0;
    int full = cap == 0;
    for (size_t i = 0; i < n;) {
        char unit[8];
        size_t k = 0, used = 1, seq;
        uint8_t c = s[i];
        if (c == '\\' || c == '"') {
            unit[k++] = '\\';
            unit[k++] = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            unit[k++] = '\\';
            unit[k++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c >= 0x20 && c < 0x7F) {
            unit[k++] = (char)c;
        } else if (c >= 0x80 && (seq = nvsf_utf8_seq_len(s + i, n - i))) {
            memcpy(unit, s + i, seq);
            k = used = seq;
        } else {
            k = (size_t)snprintf(unit, sizeof unit, "\\x%02x", c);
        }
        if (!full && written + k < cap) {
            memcpy(out + written, unit, k);
            written += k;
        } else {
            full = 1;
        }
        need += k;
        i += used;
    }
    if (cap > 0)
        out[written] = '\0';
    return need;
}

/* A key or name for messages: escaped, at most 16 bytes of it. */
static const char *shown(const char *key, char buf[72])
{
    nvsf_escape_text(buf, 72, (const uint8_t *)key, strnlen(key, 16));
    return buf;
}

static const char *entry_state_name(unsigned st)
{
    static const char *const names[4] = {"erased", "illegal (01)", "written",
                                         "empty"};
    return names[st & 3];
}

const char *nvsf_page_state_name(uint32_t state)
{
    switch (state) {
    case NVS_PAGE_STATE_EMPTY: return "empty";
    case NVS_PAGE_STATE_ACTIVE: return "active";
    case NVS_PAGE_STATE_FULL: return "full";
    case NVS_PAGE_STATE_FREEING: return "freeing";
    case STATE_CORRUPT_IDF:
    case NVS_PAGE_STATE_CORRUPT: return "corrupt";
    default: return "unknown";
    }
}

const char *nvsf_item_type_name(enum nvsf_item_type type)
{
    switch (type) {
    case NVSF_TYPE_STRING: return "string";
    case NVSF_TYPE_BLOB: return "blob";
    case NVSF_TYPE_BLOB_DATA: return "blob_data";
    case NVSF_TYPE_BLOB_INDEX: return "blob_index";
    default: {
        const char *name = nvsf_int_type_name(type);
        return name ? name : "unknown";
    }
    }
}

static int is_int_type(uint8_t t)
{
    return nvsf_int_type_name((enum nvsf_item_type)t) != NULL;
}

static int is_varlen_type(uint8_t t)
{
    return t == NVSF_TYPE_STRING || t == NVSF_TYPE_BLOB ||
           t == NVSF_TYPE_BLOB_DATA;
}

static int is_blob_item(const nvsf_item *it)
{
    return it->type == NVSF_TYPE_BLOB || it->type == NVSF_TYPE_BLOB_INDEX;
}

/* Offset of the first byte that is not 0xFF, or -1. */
static long first_not_ff(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0xFF)
            return (long)i;
    return -1;
}

/* ---- problems ------------------------------------------------------------ */

/* Room for one more element in *v (n used of *cap); 0, or -1 and r->nomem. */
static int grow(reader *r, void **v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 32;
    void *p = c < (size_t)-1 / size ? realloc(*v, c * size) : NULL;
    if (!p) {
        r->nomem = 1;
        return -1;
    }
    *v = p;
    *cap = c;
    return 0;
}

static void problem(reader *r, enum nvsf_problem_kind kind, long page,
                    int entry, const char *fmt, ...) NVSF_PRINTF(5, 6);

static void problem(reader *r, enum nvsf_problem_kind kind, long page,
                    int entry, const char *fmt, ...)
{
    if (r->nproblems >= PROBLEMS_MAX && !r->closing) {
        r->unlisted++;
        return;
    }
    if (grow(r, (void **)&r->problems, r->nproblems, &r->capproblems,
             sizeof *r->problems))
        return;
    nvsf_problem *p = &r->problems[r->nproblems++];
    p->kind = kind;
    p->page = page;
    p->entry = entry;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof p->message, fmt, ap);
    va_end(ap);
}

/* ---- pages --------------------------------------------------------------- */

static const uint8_t *page_bytes(const reader *r, uint32_t p)
{
    return r->bytes + (size_t)p * NVS_PAGE_SIZE;
}

static int offset_entry(long off)
{
    return off < (long)NVS_FIRST_ENTRY_OFFSET
               ? -1
               : (int)((off - (long)NVS_FIRST_ENTRY_OFFSET) / NVS_ENTRY_SIZE);
}

/* The header and bitmap of page p: is it read, and what does it say. */
static void read_page_header(reader *r, uint32_t p)
{
    const uint8_t *pg = page_bytes(r, p);
    nvsf_page_info *pi = &r->pages[p];
    pi->index = p;
    pi->state = nvs_load_u32(pg + NVS_PAGE_STATE_OFFSET);
    pi->seq = nvs_load_u32(pg + NVS_PAGE_SEQ_OFFSET);
    pi->version = pg[NVS_PAGE_VERSION_OFFSET];
    for (unsigned i = 0; i < NVS_ENTRIES_PER_PAGE; i++) {
        unsigned st = nvs_bitmap_get(pg, i);
        pi->entry_state[i] = (uint8_t)st;
        pi->written += st == NVS_ENTRY_STATE_WRITTEN;
        pi->erased += st == NVS_ENTRY_STATE_ERASED;
        pi->empty += st == NVS_ENTRY_STATE_EMPTY;
        pi->illegal += st == 1;
    }
    if (pi->state == NVS_PAGE_STATE_EMPTY) {
        long off = first_not_ff(pg, NVS_PAGE_SIZE);
        if (off >= 0)
            problem(r, NVSF_PROBLEM_NOT_ERASED, p, offset_entry(off),
                    "the page is marked empty (state 0xffffffff) but its "
                    "byte 0x%lx is 0x%02x, not 0xff; ESP-IDF treats the page "
                    "as corrupt",
                    (unsigned long)off, pg[off]);
        return;
    }
    uint32_t crc = nvs_page_header_crc(pg);
    uint32_t stored = nvs_load_u32(pg + NVS_PAGE_CRC_OFFSET);
    if (crc != stored) {
        problem(r, NVSF_PROBLEM_PAGE_HEADER, p, -1,
                "page header CRC mismatch: the header says 0x%08x, bytes "
                "4..27 give 0x%08x; ESP-IDF does not read this page",
                stored, crc);
        return;
    }
    pi->header_ok = 1;
    long res = first_not_ff(pg + 9, 19);
    if (res >= 0)
        problem(r, NVSF_PROBLEM_PAGE_HEADER, p, -1,
                "reserved header byte %ld is 0x%02x, not 0xff", res + 9,
                pg[9 + res]);
    switch (pi->state) {
    case NVS_PAGE_STATE_ACTIVE:
    case NVS_PAGE_STATE_FULL:
    case NVS_PAGE_STATE_FREEING:
        break;
    case STATE_CORRUPT_IDF:
    case NVS_PAGE_STATE_CORRUPT:
        problem(r, NVSF_PROBLEM_PAGE_STATE, p, -1,
                "the page is marked corrupt (state 0x%08x)", pi->state);
        return;
    default:
        problem(r, NVSF_PROBLEM_PAGE_STATE, p, -1,
                "unknown page state 0x%08x (NVS writes 0xfffffffe active, "
                "0xfffffffc full, 0xfffffff8 freeing); ESP-IDF does not read "
                "this page",
                pi->state);
        return;
    }
    if (pi->version != NVS_PAGE_VERSION1 && pi->version != NVS_PAGE_VERSION2) {
        problem(r, NVSF_PROBLEM_PAGE_HEADER, p, -1,
                "unknown format version byte 0x%02x (0xff is version 1, "
                "0xfe version 2); ESP-IDF refuses the partition",
                pi->version);
        return;
    }
    pi->readable = 1;
}

typedef struct seq_key {
    uint32_t seq, page;
} seq_key;

static int cmp_seq(const void *a, const void *b)
{
    const seq_key *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->page < y->page ? -1 : x->page > y->page;
}

/*
 * The reading order of the readable pages, and the checks on the states of
 * the pages together. Returns the page ESP-IDF throws away (a partial copy
 * of a freeing page), or NO_RANK.
 */
static uint32_t order_pages(reader *r)
{
    uint32_t n = 0, free_pages = 0;
    seq_key *keys = malloc(((size_t)r->pub.page_count + 1) * sizeof *keys);
    if (!keys) {
        r->nomem = 1;
        return NO_RANK;
    }
    for (uint32_t p = 0; p < r->pub.page_count; p++) {
        if (r->pages[p].readable)
            keys[n++] = (seq_key){r->pages[p].seq, p};
        else
            free_pages++;
    }
    qsort(keys, n, sizeof *keys, cmp_seq);
    for (uint32_t i = 1; i < n; i++)
        if (keys[i].seq == keys[i - 1].seq)
            problem(r, NVSF_PROBLEM_PAGE_STATE, keys[i].page, -1,
                    "sequence number %u is also the one of page %u; each "
                    "page has its own",
                    keys[i].seq, keys[i - 1].page);

    uint32_t freeing = NO_RANK, discarded = NO_RANK, active = 0;
    for (uint32_t i = 0; i < n; i++) {
        const nvsf_page_info *pi = &r->pages[keys[i].page];
        if (pi->state == NVS_PAGE_STATE_ACTIVE) {
            active++;
            if (i + 1 < n)
                problem(r, NVSF_PROBLEM_PAGE_STATE, pi->index, -1,
                        "the page is active but page %u (sequence number %u) "
                        "is newer; only the newest page may be active",
                        keys[n - 1].page, keys[n - 1].seq);
        }
        if (pi->state == NVS_PAGE_STATE_FREEING && freeing == NO_RANK)
            freeing = i;
    }
    if (n > 0 && active == 0)
        problem(r, NVSF_PROBLEM_PAGE_STATE, keys[n - 1].page, -1,
                "no page is active: the newest page (sequence number %u) is "
                "marked %s",
                keys[n - 1].seq,
                nvsf_page_state_name(r->pages[keys[n - 1].page].state));
    if (freeing != NO_RANK) {
        const nvsf_page_info *newest = &r->pages[keys[n - 1].page];
        if (freeing != n - 1 && newest->state == NVS_PAGE_STATE_ACTIVE)
            discarded = newest->index;
        if (discarded != NO_RANK)
            problem(r, NVSF_PROBLEM_PAGE_STATE, keys[freeing].page, -1,
                    "the page is freeing: garbage collection was cut short; "
                    "at its next start ESP-IDF erases page %u (the partial "
                    "copy) and copies this page's items again",
                    discarded);
        else
            problem(r, NVSF_PROBLEM_PAGE_STATE, keys[freeing].page, -1,
                    "the page is freeing: garbage collection was cut short; "
                    "ESP-IDF copies its items to a new page at its next "
                    "start");
    }
    for (uint32_t i = 0; i < n; i++)
        if (i != freeing && r->pages[keys[i].page].state ==
                                NVS_PAGE_STATE_FREEING)
            problem(r, NVSF_PROBLEM_PAGE_STATE, keys[i].page, -1,
                    "the page is freeing as well; NVS frees one page at a "
                    "time");
    if (r->pub.page_count >= 3 && free_pages == 0)
        problem(r, NVSF_PROBLEM_PAGE_STATE, -1, -1,
                "no page is left erased: ESP-IDF needs a free page to open "
                "a partition of %u pages for writing",
                r->pub.page_count);

    /* Reading order: by sequence number, the freeing page last, without
     * the page ESP-IDF erases. */
    r->order_count = 0;
    for (uint32_t i = 0; i < n; i++)
        if (i != freeing && keys[i].page != discarded)
            r->order[r->order_count++] = keys[i].page;
    if (freeing != NO_RANK)
        r->order[r->order_count++] = keys[freeing].page;
    for (uint32_t i = 0; i < r->order_count; i++)
        r->rank[r->order[i]] = i;
    free(keys);
    return discarded;
}

/* ---- entries ------------------------------------------------------------- */

static void add_rec(reader *r, uint32_t p, unsigned i, const uint8_t *e,
                    const uint8_t *data, size_t size)
{
    if (grow(r, (void **)&r->recs, r->nrecs, &r->caprecs, sizeof *r->recs))
        return;
    rec *x = &r->recs[r->nrecs++];
    memset(x, 0, sizeof *x);
    x->page = p;
    x->entry = i;
    x->pos = (uint64_t)r->rank[p] * NVS_ENTRIES_PER_PAGE + i;
    x->e = e;
    x->data = data;
    x->size = size;
    const uint8_t *k = e + NVS_ENTRY_KEY_OFFSET;
    const uint8_t *nul = memchr(k, 0, NVS_ENTRY_KEY_SIZE);
    size_t klen = nul ? (size_t)(nul - k) : NVS_ENTRY_KEY_SIZE;
    memcpy(x->key, k, klen);
    x->key[klen] = '\0';
    char b[72];
    if (!nul)
        problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                "key '%s' is not NUL-terminated: keys are at most 15 bytes",
                shown(x->key, b));
    else if (klen == 0)
        problem(r, NVSF_PROBLEM_ENTRY, p, (int)i, "the key is empty");
    else
        x->key_ok = 1;
}

/* A written entry taken as an item header; returns the entries it uses. */
static unsigned walk_item(reader *r, uint32_t p, unsigned i, int keep)
{
    const uint8_t *pg = page_bytes(r, p);
    const nvsf_page_info *pi = &r->pages[p];
    const uint8_t *e = pg + NVS_FIRST_ENTRY_OFFSET + (size_t)i * NVS_ENTRY_SIZE;
    uint32_t crc = nvs_entry_crc(e);
    uint32_t stored = nvs_load_u32(e + NVS_ENTRY_CRC_OFFSET);
    if (crc != stored) {
        r->crc_bad++;
        problem(r, NVSF_PROBLEM_ENTRY_CRC, p, (int)i,
                "entry header CRC mismatch: the entry says 0x%08x, its bytes "
                "give 0x%08x",
                stored, crc);
        return 1;
    }
    r->crc_ok++;
    uint8_t type = e[NVS_ENTRY_TYPE_OFFSET], span = e[NVS_ENTRY_SPAN_OFFSET];
    char key[17], b[72];
    memcpy(key, e + NVS_ENTRY_KEY_OFFSET, 16);
    key[16] = '\0';
    if (!is_int_type(type) && !is_varlen_type(type) &&
        type != NVSF_TYPE_BLOB_INDEX) {
        problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                "'%s' has unknown type 0x%02x", shown(key, b), type);
        return 1;
    }
    const char *tname = nvsf_item_type_name((enum nvsf_item_type)type);
    if (!is_varlen_type(type)) {
        if (span != 1) {
            problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                    "%s '%s' has span %u; it takes 1 entry", tname,
                    shown(key, b), span);
            return 1;
        }
        if (type == NVSF_TYPE_BLOB_INDEX &&
            e[NVS_ENTRY_CHUNK_OFFSET] != NVS_CHUNK_ANY) {
            problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                    "blob index '%s' has chunk index %u, not 0xff; ESP-IDF "
                    "does not find it",
                    shown(key, b), e[NVS_ENTRY_CHUNK_OFFSET]);
            return 1;
        }
        if (keep)
            add_rec(r, p, i, e, NULL, 0);
        return 1;
    }

    size_t size = nvs_load_u16(e + NVS_ENTRY_DATA_OFFSET);
    unsigned need = 1 + (unsigned)((size + NVS_ENTRY_SIZE - 1) / NVS_ENTRY_SIZE);
    if (span == 0 || i + span > NVS_ENTRIES_PER_PAGE) {
        problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                "%s '%s' has span %u, which runs past the end of the page "
                "(entry %u of %u)",
                tname, shown(key, b), span, i, NVS_ENTRIES_PER_PAGE);
        return 1;
    }
    if (span != need) {
        problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                "%s '%s' holds %zu bytes, which take %u entries with the "
                "header, but its span is %u",
                tname, shown(key, b), size, need, span);
        return span;
    }
    int ok = 1;
    for (unsigned j = 1; j < span; j++) {
        unsigned st = pi->entry_state[i + j];
        if (st != NVS_ENTRY_STATE_WRITTEN) {
            problem(r, NVSF_PROBLEM_BITMAP, p, (int)(i + j),
                    "data entry %u of %s '%s' (header at entry %u) is marked "
                    "%s",
                    j, tname, shown(key, b), i, entry_state_name(st));
            ok = 0;
            break;
        }
    }
    const uint8_t *data = e + NVS_ENTRY_SIZE;
    uint32_t dcrc = nvsf_crc32(data, size);
    uint32_t dstored = nvs_load_u32(e + NVS_ENTRY_DATA_OFFSET + 4);
    if (dcrc != dstored) {
        problem(r, NVSF_PROBLEM_DATA_CRC, p, (int)i,
                "data CRC mismatch for %s '%s': the entry says 0x%08x, its "
                "%zu bytes give 0x%08x",
                tname, shown(key, b), dstored, size, dcrc);
        ok = 0;
    }
    size_t room = (size_t)(span - 1) * NVS_ENTRY_SIZE;
    long pad = first_not_ff(data + size, room - size);
    if (pad >= 0)
        problem(r, NVSF_PROBLEM_NOT_ERASED, p,
                (int)(i + 1 + (size + (size_t)pad) / NVS_ENTRY_SIZE),
                "the padding after the value of %s '%s' is not 0xff (byte "
                "%ld after the value is 0x%02x)",
                tname, shown(key, b), pad, data[size + (size_t)pad]);
    if (ok && keep)
        add_rec(r, p, i, e, data, size);
    return span;
}

/* Every entry of a readable page; `keep`: record its items. */
static void walk_page(reader *r, uint32_t p, int keep)
{
    const uint8_t *pg = page_bytes(r, p);
    const nvsf_page_info *pi = &r->pages[p];
    uint8_t last = pg[NVS_BITMAP_OFFSET + NVS_BITMAP_SIZE - 1];
    if ((last & 0xF0) != 0xF0)
        problem(r, NVSF_PROBLEM_BITMAP, p, -1,
                "the 4 unused bits at the end of the entry state bitmap are "
                "not all 1 (its last byte is 0x%02x)",
                last);
    int first_empty = -1, reported = 0;
    unsigned i = 0;
    while (i < NVS_ENTRIES_PER_PAGE) {
        const uint8_t *e = pg + NVS_FIRST_ENTRY_OFFSET + (size_t)i * NVS_ENTRY_SIZE;
        unsigned st = pi->entry_state[i];
        if (st == NVS_ENTRY_STATE_EMPTY) {
            long off = first_not_ff(e, NVS_ENTRY_SIZE);
            if (off >= 0)
                problem(r, NVSF_PROBLEM_NOT_ERASED, p, (int)i,
                        "the entry is marked empty but its byte %ld is "
                        "0x%02x, not 0xff",
                        off, e[off]);
            if (first_empty < 0)
                first_empty = (int)i;
            i++;
            continue;
        }
        if (first_empty >= 0 && !reported) {
            problem(r, NVSF_PROBLEM_BITMAP, p, (int)i,
                    "the entry is marked %s after empty entry %d; NVS fills "
                    "a page in order",
                    entry_state_name(st), first_empty);
            reported = 1;
        }
        if (st == 1) {
            problem(r, NVSF_PROBLEM_BITMAP, p, (int)i,
                    "the entry's state bits are 01, a state NVS never "
                    "writes");
            i++;
        } else if (st == NVS_ENTRY_STATE_ERASED) {
            i++;
        } else {
            i += walk_item(r, p, i, keep);
        }
    }
}

/* ---- namespaces and items ------------------------------------------------ */

static void read_namespaces(reader *r)
{
    char b[72], b2[72];
    for (size_t k = 0; k < r->nrecs; k++) {
        const rec *x = &r->recs[k];
        if (x->e[NVS_ENTRY_NS_OFFSET] != 0 || !x->key_ok)
            continue;
        uint8_t type = x->e[NVS_ENTRY_TYPE_OFFSET];
        unsigned idx = x->e[NVS_ENTRY_DATA_OFFSET];
        if (type != NVSF_TYPE_U8) {
            problem(r, NVSF_PROBLEM_NAMESPACE, x->page, (int)x->entry,
                    "'%s' is a %s in namespace 0, which holds only namespace "
                    "definitions (u8)",
                    shown(x->key, b),
                    nvsf_item_type_name((enum nvsf_item_type)type));
            continue;
        }
        if (idx == 0 || idx > NVS_NAMESPACE_INDEX_MAX) {
            problem(r, NVSF_PROBLEM_NAMESPACE, x->page, (int)x->entry,
                    "namespace '%s' has index %u; indexes are 1 to 254",
                    shown(x->key, b), idx);
            continue;
        }
        int dup = 0;
        for (size_t n = 0; n < r->nns && !dup; n++) {
            if (strcmp(r->ns[n].name, x->key) == 0) {
                problem(r, NVSF_PROBLEM_NAMESPACE, x->page, (int)x->entry,
                        "namespace '%s' is declared again (first at page %u "
                        "entry %u)",
                        shown(x->key, b), r->ns[n].page, r->ns[n].entry);
                dup = 1;
            }
        }
        if (!dup && r->ns_slot[idx] >= 0) {
            problem(r, NVSF_PROBLEM_NAMESPACE, x->page, (int)x->entry,
                    "namespace '%s' has index %u, which namespace '%s' has "
                    "already",
                    shown(x->key, b), idx,
                    shown(r->ns[r->ns_slot[idx]].name, b2));
            dup = 1;
        }
        if (dup || r->nns >= NVS_NAMESPACE_INDEX_MAX)
            continue;
        nvsf_namespace *ns = &r->ns[r->nns];
        ns->index = (uint8_t)idx;
        memcpy(ns->name, x->key, sizeof ns->name);
        ns->page = x->page;
        ns->entry = x->entry;
        r->ns_pos[r->nns] = x->pos;
        r->ns_slot[idx] = (int)r->nns++;
    }
}

static nvsf_item *new_item(reader *r, const rec *x, uint64_t pos)
{
    nvsf_item *it = &r->items[r->nitems];
    memset(it, 0, sizeof *it);
    it->page = x->page;
    it->entry = x->entry;
    it->ns_index = x->e[NVS_ENTRY_NS_OFFSET];
    memcpy(it->key, x->key, sizeof it->key);
    it->type = (enum nvsf_item_type)x->e[NVS_ENTRY_TYPE_OFFSET];
    r->item_pos[r->nitems++] = pos;
    return it;
}

/* Chunks sorted by namespace, key, chunk index, position. */
static int cmp_chunk(const void *a, const void *b)
{
    const rec *x = *(const rec *const *)a, *y = *(const rec *const *)b;
    int c = (int)x->e[0] - (int)y->e[0];
    if (!c)
        c = strcmp(x->key, y->key);
    if (!c)
        c = (int)x->e[NVS_ENTRY_CHUNK_OFFSET] - (int)y->e[NVS_ENTRY_CHUNK_OFFSET];
    if (!c)
        c = x->pos < y->pos ? -1 : x->pos > y->pos;
    return c;
}

static rec *find_chunk(rec **chunks, size_t n, uint8_t ns, const char *key,
                       unsigned chunk)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const rec *x = chunks[mid];
        int c = (int)x->e[0] - (int)ns;
        if (!c)
            c = strcmp(x->key, key);
        if (!c)
            c = (int)x->e[NVS_ENTRY_CHUNK_OFFSET] - (int)chunk;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && chunks[lo]->e[0] == ns && strcmp(chunks[lo]->key, key) == 0 &&
                   chunks[lo]->e[NVS_ENTRY_CHUNK_OFFSET] == chunk
               ? chunks[lo]
               : NULL;
}

/* A version-2 blob: its index x and its chunks, reassembled. */
static void read_blob(reader *r, const rec *x, rec **chunks, size_t nchunks)
{
    char b[72];
    const uint8_t *d = x->e + NVS_ENTRY_DATA_OFFSET;
    uint32_t size = nvs_load_u32(d);
    unsigned count = d[4], start = d[5];
    if (start != 0 && start != CHUNK_START_VER1)
        problem(r, NVSF_PROBLEM_BLOB, x->page, (int)x->entry,
                "blob index '%s' starts at chunk %u; NVS starts blobs at "
                "chunk 0 or 128",
                shown(x->key, b), start);
    if (start + count > 256) {
        problem(r, NVSF_PROBLEM_BLOB, x->page, (int)x->entry,
                "blob index '%s' says %u chunks from chunk %u, past chunk "
                "255",
                shown(x->key, b), count, start);
        return;
    }
    size_t total = 0;
    uint64_t pos = x->pos;
    int missing = -1;
    for (unsigned k = 0; k < count; k++) {
        rec *c = find_chunk(chunks, nchunks, x->e[0], x->key, start + k);
        if (!c) {
            if (missing < 0)
                missing = (int)(start + k);
            continue;
        }
        c->claimed = 1;
        total += c->size;
        if (c->pos < pos)
            pos = c->pos;
    }
    if (missing >= 0) {
        problem(r, NVSF_PROBLEM_BLOB, x->page, (int)x->entry,
                "blob index '%s' says %u chunks from chunk %u, but chunk %d "
                "is missing",
                shown(x->key, b), count, start, missing);
        return;
    }
    if (total != size) {
        problem(r, NVSF_PROBLEM_BLOB, x->page, (int)x->entry,
                "blob index '%s' says %u bytes, but its %u chunks hold %zu",
                shown(x->key, b), size, count, total);
        return;
    }
    uint8_t *blob = malloc(total ? total : 1);
    if (!blob) {
        r->nomem = 1;
        return;
    }
    r->blobs[r->nblobs++] = blob;
    size_t at = 0;
    for (unsigned k = 0; k < count; k++) {
        const rec *c = find_chunk(chunks, nchunks, x->e[0], x->key, start + k);
        if (c->size)
            memcpy(blob + at, c->data, c->size);
        at += c->size;
    }
    nvsf_item *it = new_item(r, x, pos);
    it->data = blob;
    it->len = total;
    it->chunks = count;
}

/* Chunks: sorted for lookup; duplicates reported. NULL on no memory. */
static rec **collect_chunks(reader *r, size_t *n)
{
    rec **chunks = malloc((r->nrecs + 1) * sizeof(rec *));
    if (!chunks) {
        r->nomem = 1;
        return NULL;
    }
    *n = 0;
    for (size_t k = 0; k < r->nrecs; k++)
        if (r->recs[k].key_ok && r->recs[k].e[0] != 0 &&
            r->recs[k].e[NVS_ENTRY_TYPE_OFFSET] == NVSF_TYPE_BLOB_DATA)
            chunks[(*n)++] = &r->recs[k];
    qsort(chunks, *n, sizeof(rec *), cmp_chunk);
    char b[72];
    for (size_t k = 1; k < *n; k++)
        if (chunks[k - 1]->e[0] == chunks[k]->e[0] &&
            strcmp(chunks[k - 1]->key, chunks[k]->key) == 0 &&
            chunks[k - 1]->e[NVS_ENTRY_CHUNK_OFFSET] ==
                chunks[k]->e[NVS_ENTRY_CHUNK_OFFSET])
            problem(r, NVSF_PROBLEM_DUPLICATE, chunks[k]->page,
                    (int)chunks[k]->entry,
                    "chunk %u of blob '%s' is stored twice (also at page %u "
                    "entry %u)",
                    chunks[k]->e[NVS_ENTRY_CHUNK_OFFSET], shown(chunks[k]->key, b),
                    chunks[k - 1]->page, chunks[k - 1]->entry);
    return chunks;
}

/* An item for sorting: by namespace and key, or by position. */
typedef struct item_key {
    uint8_t ns;
    const char *key;
    uint64_t pos;
    size_t idx;
} item_key;

static int cmp_pos(const void *a, const void *b)
{
    const item_key *x = a, *y = b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int cmp_key(const void *a, const void *b)
{
    const item_key *x = a, *y = b;
    int c = (int)x->ns - (int)y->ns;
    if (!c)
        c = strcmp(x->key, y->key);
    return c ? c : cmp_pos(a, b);
}

/* Sort the items by position and drop older copies of duplicate keys. */
static void settle_items(reader *r)
{
    size_t n = r->nitems;
    item_key *keys = malloc((n + 1) * sizeof *keys);
    uint8_t *drop = calloc(n + 1, 1);
    nvsf_item *items = malloc((n + 1) * sizeof *items);
    uint64_t *pos = malloc((n + 1) * sizeof *pos);
    if (!keys || !drop || !items || !pos) {
        r->nomem = 1;
        goto out;
    }
    for (size_t k = 0; k < n; k++)
        keys[k] = (item_key){r->items[k].ns_index, r->items[k].key,
                             r->item_pos[k], k};
    qsort(keys, n, sizeof *keys, cmp_key);
    char b[72], b2[72];
    for (size_t k = 1; k < n; k++) {
        const nvsf_item *x = &r->items[keys[k - 1].idx];
        const nvsf_item *y = &r->items[keys[k].idx];
        if (x->ns_index != y->ns_index || strcmp(x->key, y->key) != 0)
            continue;
        drop[keys[k - 1].idx] = 1;
        int slot = r->ns_slot[y->ns_index];
        problem(r, NVSF_PROBLEM_DUPLICATE, y->page, (int)y->entry,
                "key '%s' of namespace '%s' is stored again (also at page %u "
                "entry %u); a key is stored once per namespace",
                shown(y->key, b), slot >= 0 ? shown(r->ns[slot].name, b2) : "?",
                x->page, x->entry);
    }
    qsort(keys, n, sizeof *keys, cmp_pos);
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        if (drop[keys[k].idx])
            continue;
        items[m] = r->items[keys[k].idx];
        pos[m++] = keys[k].pos;
    }
    free(r->items);
    free(r->item_pos);
    r->items = items;
    r->item_pos = pos;
    r->nitems = m;
    items = NULL;
    pos = NULL;
out:
    free(keys);
    free(drop);
    free(items);
    free(pos);
}

static void read_items(reader *r)
{
    r->items = calloc(r->nrecs + 1, sizeof *r->items);
    r->item_pos = malloc((r->nrecs + 1) * sizeof *r->item_pos);
    r->blobs = malloc((r->nrecs + 1) * sizeof *r->blobs);
    if (!r->items || !r->item_pos || !r->blobs) {
        r->nomem = 1;
        return;
    }
    size_t nchunks = 0;
    rec **chunks = collect_chunks(r, &nchunks);
    if (!chunks)
        return;
    char b[72];
    for (size_t k = 0; k < r->nrecs; k++) {
        const rec *x = &r->recs[k];
        uint8_t ns = x->e[NVS_ENTRY_NS_OFFSET];
        uint8_t type = x->e[NVS_ENTRY_TYPE_OFFSET];
        if (ns == 0 || !x->key_ok || type == NVSF_TYPE_BLOB_DATA)
            continue;
        if (ns == 0xFF) {
            problem(r, NVSF_PROBLEM_NAMESPACE, x->page, (int)x->entry,
                    "'%s' has namespace index 255, which NVS reserves",
                    shown(x->key, b));
            continue;
        }
        if (type == NVSF_TYPE_BLOB_INDEX) {
            read_blob(r, x, chunks, nchunks);
            continue;
        }
        nvsf_item *it = new_item(r, x, x->pos);
        if (is_int_type(type)) {
            unsigned width = nvsf_int_type_width(it->type);
            uint64_t v = 0;
            for (unsigned i = 0; i < width; i++)
                v |= (uint64_t)x->e[NVS_ENTRY_DATA_OFFSET + i] << (8 * i);
            if (nvsf_int_type_is_signed(it->type) && width > 0 && width < 8 &&
                (v >> (8 * width - 1)) & 1)
                v |= ~UINT64_C(0) << (8 * width);
            it->value = v;
        } else {
            it->data = x->data;
            it->len = x->size;
            if (type == NVSF_TYPE_STRING &&
                (x->size == 0 || x->data[x->size - 1] != '\0'))
                problem(r, NVSF_PROBLEM_ENTRY, x->page, (int)x->entry,
                        "string '%s' does not end with a NUL byte",
                        shown(x->key, b));
        }
    }
    for (size_t k = 0; k < nchunks; k++)
        if (!chunks[k]->claimed)
            problem(r, NVSF_PROBLEM_BLOB, chunks[k]->page,
                    (int)chunks[k]->entry,
                    "chunk %u of blob '%s' belongs to no blob index",
                    chunks[k]->e[NVS_ENTRY_CHUNK_OFFSET],
                    shown(chunks[k]->key, b));
    free(chunks);
    settle_items(r);
    for (size_t k = 0; k < r->nitems; k++) {
        nvsf_item *it = &r->items[k];
        int slot = r->ns_slot[it->ns_index];
        if (slot >= 0)
            it->ns_name = r->ns[slot].name;
        else
            problem(r, NVSF_PROBLEM_NAMESPACE, it->page, (int)it->entry,
                    "key '%s' is in namespace index %u, which no namespace "
                    "entry declares",
                    shown(it->key, b), it->ns_index);
    }
}

/* No entry with a valid CRC at all: one line instead of one per entry. */
static void collapse_crc_problems(reader *r, int keyed)
{
    if (r->crc_ok || !r->crc_bad)
        return;
    size_t m = 0;
    for (size_t k = 0; k < r->nproblems; k++)
        if (r->problems[k].kind != NVSF_PROBLEM_ENTRY_CRC)
            r->problems[m++] = r->problems[k];
    r->nproblems = m;
    if (keyed)
        problem(r, NVSF_PROBLEM_IMAGE, -1, -1,
                "none of the %lu written entries has a valid CRC after "
                "decryption: the key does not decrypt this image (a wrong "
                "key, or the image is not encrypted)",
                r->crc_bad);
    else
        problem(r, NVSF_PROBLEM_IMAGE, -1, -1,
                "none of the %lu written entries has a valid CRC: the image "
                "is encrypted (give its key) or is not an NVS image",
                r->crc_bad);
}

void nvsf_image_free(nvsf_image *img)
{
    reader *r = (reader *)img;
    if (!r)
        return;
    if (r->bytes) {
        nvsf_wipe(r->bytes, r->bytes_len);
        free(r->bytes);
    }
    for (size_t k = 0; k < r->nblobs; k++)
        free(r->blobs[k]);
    free(r->blobs);
    free(r->pages);
    free(r->order);
    free(r->rank);
    free(r->recs);
    free(r->items);
    free(r->item_pos);
    free(r->problems);
    nvsf_wipe(r, sizeof *r);
    free(r);
}

int nvsf_image_read(const uint8_t *data, size_t len, const uint8_t *xts_key,
                    nvsf_image **out, nvsf_error *err)
{
    *out = NULL;
    reader *r = calloc(1, sizeof *r);
    if (!r)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    for (int i = 0; i < 256; i++)
        r->ns_slot[i] = -1;
    size_t pages = len / NVS_PAGE_SIZE;
    if (pages > UINT32_MAX - 1)
        pages = UINT32_MAX - 1;
    r->pub.size = len;
    r->pub.page_count = (uint32_t)pages;
    r->pub.decrypted = xts_key != NULL;
    r->bytes_len = pages * NVS_PAGE_SIZE;
    r->bytes = malloc(r->bytes_len ? r->bytes_len : 1);
    r->pages = calloc(pages + 1, sizeof *r->pages);
    r->order = calloc(pages + 1, sizeof *r->order);
    r->rank = malloc((pages + 1) * sizeof *r->rank);
    if (!r->bytes || !r->pages || !r->order || !r->rank) {
        nvsf_image_free(&r->pub);
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    }
    if (r->bytes_len)
        memcpy(r->bytes, data, r->bytes_len);
    if (xts_key && r->bytes_len) {
        int rc = nvsf_image_decrypt(r->bytes, r->bytes_len, xts_key, err);
        if (rc) {
            nvsf_image_free(&r->pub);
            return rc;
        }
    }
    if (len == 0)
        problem(r, NVSF_PROBLEM_IMAGE, -1, -1,
                "the image is empty; an NVS partition is a whole number of "
                "4096-byte pages");
    else if (len % NVS_PAGE_SIZE)
        problem(r, NVSF_PROBLEM_IMAGE, -1, -1,
                "the image is %zu bytes, not a whole number of 4096-byte "
                "pages; its last %zu bytes are not read",
                len, len % NVS_PAGE_SIZE);

    for (uint32_t p = 0; p < r->pub.page_count; p++) {
        r->rank[p] = NO_RANK;
        read_page_header(r, p);
    }
    uint32_t discarded = order_pages(r);
    for (uint32_t i = 0; i < r->order_count; i++)
        walk_page(r, r->order[i], 1);
    if (discarded != NO_RANK)
        walk_page(r, discarded, 0);
    read_namespaces(r);
    read_items(r);
    r->closing = 1;
    collapse_crc_problems(r, xts_key != NULL);
    if (r->unlisted)
        problem(r, NVSF_PROBLEM_IMAGE, -1, -1,
                "and %zu more problems that are not listed", r->unlisted);
    if (r->nomem) {
        nvsf_image_free(&r->pub);
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    }

    int v1 = 0, v2 = 0;
    for (uint32_t i = 0; i < r->order_count; i++) {
        v1 |= r->pages[r->order[i]].version == NVS_PAGE_VERSION1;
        v2 |= r->pages[r->order[i]].version == NVS_PAGE_VERSION2;
    }
    r->pub.version = v2 ? 2 : v1 ? 1 : 0;
    r->pub.mixed_versions = v1 && v2;
    r->pub.bytes = r->bytes;
    r->pub.pages = r->pages;
    r->pub.page_order = r->order;
    r->pub.page_order_count = r->order_count;
    r->pub.namespaces = r->ns;
    r->pub.namespace_count = r->nns;
    r->pub.items = r->items;
    r->pub.item_count = r->nitems;
    r->pub.problems = r->problems;
    r->pub.problem_count = r->nproblems;
    *out = &r->pub;
    return 0;
}

/* ---- CSV export ---------------------------------------------------------- */

typedef struct exporter {
    const reader *r;
    nvsf_buf out;
    nvsf_buf cell;      /* the value cell of the current item */
    nvsf_buf next_cell; /* the value cell of the item after it */
    uint8_t *skip;      /* items the generator adds by itself */
    int sta_done, ap_done, have_ssid, have_passwd, have_authmode;
    nvsf_buf ssid, passwd;
    nvsf_error *err;
} exporter;

static int item_fail(const nvsf_item *it, nvsf_error *err, const char *why)
{
    char b[72];
    return nvsf_fail(err, NVSF_E_FORMAT,
                     "key '%s' (page %u entry %u) cannot be written as a "
                     "partition CSV: %s",
                     shown(it->key, b), it->page, it->entry, why);
}

/* Text a CSV cell can hold so that the generator reads it back the same:
 * UTF-8, no NUL, no carriage return (line breaks read back as "\n"). */
static int cell_ok(const uint8_t *s, size_t n)
{
    return nvsf_utf8_valid(s, n) && !memchr(s, '\0', n) && !memchr(s, '\r', n);
}

static int name_ok(const char *name)
{
    size_t n = strlen(name);
    return n >= 1 && n <= NVSF_KEY_MAX_LEN && name[0] != '#' &&
           cell_ok((const uint8_t *)name, n);
}

/* The encoding and value cell of an item. */
static int value_cell(const nvsf_item *it, nvsf_buf *cell, const char **enc,
                      nvsf_error *err)
{
    nvsf_buf_clear(cell);
    int rc = 0;
    if (it->type == NVSF_TYPE_STRING) {
        if (it->len == 0 || it->data[it->len - 1] != '\0')
            return item_fail(it, err, "the string does not end with a NUL");
        if (!cell_ok(it->data, it->len - 1))
            return item_fail(it, err,
                             "the string holds bytes that are not UTF-8 text, "
                             "a NUL or a carriage return");
        *enc = "string";
        rc = nvsf_buf_append(cell, it->data, it->len - 1);
    } else if (is_blob_item(it)) {
        static const char hex[] = "0123456789abcdef";
        *enc = "hex2bin";
        rc = nvsf_buf_reserve(cell, it->len * 2);
        for (size_t i = 0; !rc && i < it->len; i++) {
            cell->data[cell->len++] = hex[it->data[i] >> 4];
            cell->data[cell->len++] = hex[it->data[i] & 0xF];
        }
        if (!rc)
            cell->data[cell->len] = '\0';
    } else {
        char num[32];
        *enc = nvsf_int_type_name(it->type);
        if (nvsf_int_type_is_signed(it->type))
            snprintf(num, sizeof num, "%lld", (long long)(int64_t)it->value);
        else
            snprintf(num, sizeof num, "%llu", (unsigned long long)it->value);
        rc = nvsf_buf_append(cell, num, strlen(num));
    }
    return rc ? nvsf_fail(err, NVSF_E_NOMEM, "out of memory") : 0;
}

static int put_row(exporter *x, const char *key, const char *type,
                   const char *enc, const char *value, size_t value_len)
{
    const char *f[4] = {key, type, enc, value};
    size_t lens[4] = {strlen(key), strlen(type), strlen(enc), value_len};
    if (nvsf_csv_write_record(&x->out, f, lens, 4))
        return nvsf_fail(x->err, NVSF_E_NOMEM, "out of memory");
    return 0;
}

static int put_namespace(exporter *x, const char *name)
{
    if (!name_ok(name)) {
        char b[72];
        return nvsf_fail(x->err, NVSF_E_FORMAT,
                         "namespace '%s' cannot be written as a partition "
                         "CSV: a name is 1 to 15 bytes of UTF-8 text, not "
                         "starting with '#'",
                         shown(name, b));
    }
    return put_row(x, name, "namespace", "", "", 0);
}

/* Which of ap.ssid (1), ap.passwd (2), ap.authmode (3) a key is. */
static int ap_key(const char *key)
{
    return strcmp(key, "ap.ssid") == 0     ? 1
           : strcmp(key, "ap.passwd") == 0 ? 2
           : strcmp(key, "ap.authmode") == 0 ? 3
                                             : 0;
}

/* Does an ap.authmode row with this value count (rows.c: 0 does not)? */
static int authmode_counts(const nvsf_item *it, const nvsf_buf *cell)
{
    if (is_int_type((uint8_t)it->type)) {
        uint64_t mode = 0;
        return nvsf_parse_int(cell->data, cell->len, it->type, &mode, NULL) ==
                   0 &&
               mode != 0;
    }
    return cell->len > 0;
}

/*
 * Would the row of `it` (value cell `cell`) make the generator write
 * ap.pmk_info just before it? 1 and the blob in pmk, 0, or < 0 on error.
 */
static int ap_pmk_before(exporter *x, const nvsf_item *it, const nvsf_buf *cell,
                         uint8_t pmk[AP_PMK_INFO_LEN])
{
    int which = ap_key(it->key);
    if (!which || x->ap_done)
        return 0;
    int ssid = x->have_ssid || which == 1, passwd = x->have_passwd || which == 2;
    int authmode = which == 3 ? authmode_counts(it, cell) : x->have_authmode;
    if (!ssid || !passwd || !authmode)
        return 0;
    const nvsf_buf *s = which == 1 ? cell : &x->ssid;
    const nvsf_buf *p = which == 2 ? cell : &x->passwd;
    memset(pmk, 0, 100);
    int rc = nvsf_pbkdf2_hmac_sha1(p->data, p->len, s->data, s->len, 4096,
                                   pmk + 100, 32, x->err);
    if (rc != NVSF_OK) {
        nvsf_error_prefix(x->err, "ap.pmk_info");
        return rc;
    }
    return 1;
}

/* Remember the ap.* values as rows.c does. */
static int ap_note(exporter *x, const nvsf_item *it, const nvsf_buf *cell)
{
    int which = ap_key(it->key), rc = 0;
    if (which == 1) {
        nvsf_buf_clear(&x->ssid);
        rc = nvsf_buf_append(&x->ssid, cell->data, cell->len);
        x->have_ssid = 1;
    } else if (which == 2) {
        nvsf_buf_clear(&x->passwd);
        rc = nvsf_buf_append(&x->passwd, cell->data, cell->len);
        x->have_passwd = 1;
    } else if (which == 3) {
        x->have_authmode = authmode_counts(it, cell);
    }
    if (x->have_ssid && x->have_passwd && x->have_authmode)
        x->ap_done = 1;
    return rc ? nvsf_fail(x->err, NVSF_E_NOMEM, "out of memory") : 0;
}

static int blob_is(const nvsf_item *it, const char *key, uint8_t byte,
                   size_t len)
{
    if (strcmp(it->key, key) != 0 || !is_blob_item(it) || it->len != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (it->data[i] != byte)
            return 0;
    return 1;
}

/*
 * After the first sta.ssid or sta.pswd the generator writes sta.apinfo,
 * sta.pmk and sta.apsw in the same namespace: they must follow `k` in the
 * image, before any namespace definition (next_ns_pos), and are not rows.
 */
static int sta_extras(exporter *x, size_t k, uint64_t next_ns_pos)
{
    const reader *r = x->r;
    const nvsf_item *it = &r->items[k];
    if (x->sta_done ||
        (strcmp(it->key, "sta.ssid") != 0 && strcmp(it->key, "sta.pswd") != 0))
        return 0;
    x->sta_done = 1;
    static const struct {
        const char *key;
        uint8_t byte;
        size_t len;
    } extras[3] = {{"sta.apinfo", 0xFF, 140}, {"sta.pmk", 0, 32}, {"sta.apsw", 0, 2}};
    for (size_t j = 0; j < 3; j++) {
        size_t n = k + 1 + j;
        if (n >= r->nitems || r->item_pos[n] > next_ns_pos ||
            r->items[n].ns_index != it->ns_index ||
            !blob_is(&r->items[n], extras[j].key, extras[j].byte, extras[j].len))
            return item_fail(it, x->err,
                             "after it the generator writes the blobs "
                             "sta.apinfo, sta.pmk and sta.apsw by itself, and "
                             "the image does not hold them there");
        x->skip[n] = 1;
    }
    return 0;
}

static int export_rows(exporter *x)
{
    const reader *r = x->r;
    size_t ni = 0, nn = 0;
    int cur = -1, pmk_skipped = 0, rc = 0;
    uint8_t pmk[AP_PMK_INFO_LEN];
    if ((rc = put_row(x, "key", "type", "encoding", "value", 5)))
        return rc;
    while (!rc && (ni < r->nitems || nn < r->nns)) {
        uint64_t next_ns_pos = nn < r->nns ? r->ns_pos[nn] : UINT64_MAX;
        if (ni >= r->nitems || next_ns_pos < r->item_pos[ni]) {
            rc = put_namespace(x, r->ns[nn].name);
            cur = r->ns[nn++].index;
            pmk_skipped = 0;
            continue;
        }
        size_t k = ni++;
        const nvsf_item *it = &r->items[k];
        if (x->skip[k])
            continue;
        const char *enc;
        if ((rc = value_cell(it, &x->cell, &enc, x->err)))
            break;
        if (!name_ok(it->key)) {
            rc = item_fail(it, x->err,
                           "a key is 1 to 15 bytes of UTF-8 text, not "
                           "starting with '#'");
            break;
        }
        /* An ap.pmk_info right before the row that makes the generator
         * write it is the generator's own. */
        if (strcmp(it->key, "ap.pmk_info") == 0 && ni < r->nitems &&
            r->item_pos[ni] < next_ns_pos &&
            r->items[ni].ns_index == it->ns_index) {
            const char *enc2;
            const nvsf_item *next = &r->items[ni];
            if (value_cell(next, &x->next_cell, &enc2, NULL) == 0 &&
                (rc = ap_pmk_before(x, next, &x->next_cell, pmk)) != 0) {
                if (rc < 0)
                    break;
                if (it->len != sizeof pmk || memcmp(it->data, pmk, sizeof pmk) != 0) {
                    rc = item_fail(it, x->err,
                                   "the generator writes ap.pmk_info itself "
                                   "from ap.ssid and ap.passwd, and this one "
                                   "holds something else");
                    break;
                }
                rc = 0;
                pmk_skipped = 1;
                continue;
            }
        }
        if (it->ns_index != cur) {
            if (!it->ns_name) {
                rc = item_fail(it, x->err, "its namespace is never declared");
                break;
            }
            if ((rc = put_namespace(x, it->ns_name)))
                break;
            cur = it->ns_index;
        }
        if ((rc = ap_pmk_before(x, it, &x->cell, pmk)) < 0)
            break;
        if (rc && !pmk_skipped) {
            rc = item_fail(it, x->err,
                           "before it the generator writes the blob "
                           "ap.pmk_info by itself (ap.ssid, ap.passwd and "
                           "ap.authmode are all known then), and the image "
                           "does not hold it there");
            break;
        }
        pmk_skipped = 0;
        if ((rc = ap_note(x, it, &x->cell)) ||
            (rc = put_row(x, it->key, "data", enc, x->cell.data ? x->cell.data : "",
                          x->cell.len)))
            break;
        rc = sta_extras(x, k, next_ns_pos);
    }
    return rc;
}

int nvsf_image_csv(const nvsf_image *img, char **csv, size_t *len,
                   nvsf_error *err)
{
    *csv = NULL;
    *len = 0;
    exporter x;
    memset(&x, 0, sizeof x);
    x.r = (const reader *)img;
    x.err = err;
    x.skip = calloc(x.r->nitems + 1, 1);
    if (!x.skip)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    int rc = export_rows(&x);
    if (!rc) {
        *csv = x.out.data ? x.out.data : calloc(1, 1);
        *len = x.out.len;
        x.out.data = NULL;
        if (!*csv)
            rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    }
    nvsf_buf_free(&x.out);
    nvsf_buf_free(&x.cell);
    nvsf_buf_free(&x.next_cell);
    nvsf_buf_free(&x.ssid);
    nvsf_buf_free(&x.passwd);
    free(x.skip);
    return rc;
}

int nvsf_image_csv_regenerates(const nvsf_image *img, const char *csv,
                               size_t len, size_t *first_diff, nvsf_error *err)
{
    *first_diff = 0;
    if (img->page_count == 0 || img->page_count > UINT32_MAX / NVS_PAGE_SIZE)
        return 0;
    uint32_t size = img->page_count * NVS_PAGE_SIZE;
    nvsf_builder *b = NULL;
    nvsf_rows *rows = NULL;
    uint8_t *out = NULL;
    int rc = nvsf_builder_new(&b, size, img->version ? img->version : 2, NULL,
                              err);
    if (!rc)
        rc = nvsf_rows_new(&rows, b, NULL, NULL, err);
    if (!rc)
        rc = nvsf_rows_add_csv(rows, "the dumped CSV", csv, len, err);
    if (!rc && !(out = malloc(size)))
        rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    if (!rc)
        rc = nvsf_builder_finish(b, out, err);
    if (!rc) {
        size_t i = 0;
        while (i < size && out[i] == img->bytes[i])
            i++;
        *first_diff = i;
        rc = i == size && img->size == size;
    }
    if (out) {
        nvsf_wipe(out, size);
        free(out);
    }
    nvsf_rows_free(rows);
    nvsf_builder_free(b);
    return rc;
}

/* ---- fuzzing --------------------------------------------------------------- */

int nvsf_fuzz_image(const uint8_t *data, size_t size)
{
    uint8_t key[NVSF_XTS_KEY_SIZE];
    for (unsigned i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 37 + 11);
    for (int keyed = 0; keyed < 2; keyed++) {
        nvsf_image *img;
        if (nvsf_image_read(data, size, keyed ? key : NULL, &img, NULL))
            continue;
        char *csv;
        size_t len, diff;
        if (nvsf_image_csv(img, &csv, &len, NULL) == 0) {
            if (img->page_count <= 64)
                nvsf_image_csv_regenerates(img, csv, len, &diff, NULL);
            free(csv);
        }
        nvsf_image_free(img);
    }
    return 0;
}
