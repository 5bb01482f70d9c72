/*
 * The image reader: the device model of nvsforge.h. It opens a copy of a
 * partition with ESP-IDF's start-up (startup.c, which also repairs the
 * copy), reads what ESP-IDF's nvs_entry_find and nvs_get_* return, and
 * checks what ESP-IDF does not look at but a sound image has (padding,
 * reserved bytes, erased areas, namespaces, blob sizes): every single bit
 * flipped in an image the generator writes is found by one or the other.
 * The bytes are never trusted: every offset, span, size and chunk count
 * read from the image is bounded before it is used.
 *
 * How ESP-IDF returns items (nvs_storage.cpp): its iterator walks the page
 * list and lists every live item but namespace definitions, blob indexes,
 * version-1 blobs and blob chunks other than the first of a blob (chunk 0
 * or 128, which stands for the blob); each is then read with nvs_get_* by
 * namespace name, key and type, which takes the first match in page-list
 * order. A string or blob chunk whose data CRC fails is erased when read,
 * and not returned; a blob whose chunks are missing is erased when read.
 * Version-1 blobs are returned by nvs_get_blob when no version-2 blob of
 * the key exists, and are listed here too.
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
#include "startup.h"
#include "value.h"

#define PROBLEMS_MAX 10000u
#define STATE_CORRUPT_IDF 0xFFFFFFF0u /* ESP-IDF's PageState::CORRUPT */
#define AP_PMK_INFO_LEN 132u          /* 100 zero bytes + 32-byte PMK */
#define NENT NVS_ENTRIES_PER_PAGE

typedef struct reader {
    nvsf_image pub;        /* first: a reader is handed out as its image */
    uint8_t *bytes;        /* the model: decrypted pages, repaired */
    size_t bytes_len;
    uint8_t *orig;         /* the image as given (export keeps its bytes) */
    uint8_t *orig_plain;   /* ... and decrypted (NULL: no key) */
    uint8_t key[NVSF_XTS_KEY_SIZE];
    int keyed;
    nvs_flash flash;       /* ESP-IDF's page manager after the start-up */
    nvsf_page_info *pages;
    nvsf_entry_ref *entries;
    size_t nentries, capentries;
    uint32_t *byname;      /* entries by namespace, key, page-list order */
    nvsf_namespace ns[NVS_NAMESPACE_INDEX_MAX];
    uint64_t ns_pos[NVS_NAMESPACE_INDEX_MAX];
    size_t nns;
    int ns_slot[256];      /* namespace index -> place in ns, or -1 */
    nvsf_item *items;
    uint64_t *item_pos;    /* place in page-list order */
    size_t nitems, capitems, cappos;
    uint8_t **blobs;       /* reassembled version-2 blobs */
    size_t nblobs, capblobs;
    nvsf_problem *problems;
    size_t nproblems, capproblems;
    size_t unlisted;
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
    case NVSF_TYPE_FLOAT: return "float";
    case NVSF_TYPE_DOUBLE: return "double";
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

/* Integers, float and double: a value in the entry's data field. */
static int is_int_type(uint8_t t)
{
    return nvsf_value_type_width((enum nvsf_item_type)t) != 0;
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

static void problem_sev(reader *r, enum nvsf_problem_kind kind,
                        enum nvsf_severity sev, enum nvsf_repair rep,
                        long page, int entry, unsigned count, const char *msg)
{
    if (sev > r->pub.severity)
        r->pub.severity = sev;
    if (r->nproblems >= PROBLEMS_MAX && !r->closing) {
        r->unlisted++;
        return;
    }
    if (grow(r, (void **)&r->problems, r->nproblems, &r->capproblems,
             sizeof *r->problems))
        return;
    nvsf_problem *p = &r->problems[r->nproblems++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->severity = sev;
    p->repair = rep;
    p->page = page;
    p->entry = entry;
    p->count = count;
    snprintf(p->message, sizeof p->message, "%s", msg);
}

/* A problem ESP-IDF ignores or cannot repair: damage. */
static void problem(reader *r, enum nvsf_problem_kind kind, long page,
                    int entry, const char *fmt, ...) NVSF_PRINTF(5, 6);

static void problem(reader *r, enum nvsf_problem_kind kind, long page,
                    int entry, const char *fmt, ...)
{
    char msg[sizeof r->problems->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    problem_sev(r, kind, NVSF_DAMAGED, NVSF_REPAIR_NONE, page, entry, 0, msg);
}

static void startup_note(void *ctx, enum nvsf_severity sev,
                         enum nvsf_repair rep, long page, int entry,
                         unsigned count, const char *msg)
{
    problem_sev(ctx, NVSF_PROBLEM_STARTUP, sev, rep, page, entry, count, msg);
}

const char *nvsf_severity_name(enum nvsf_severity severity)
{
    switch (severity) {
    case NVSF_SOUND: return "sound";
    case NVSF_REPAIRABLE: return "repairable";
    case NVSF_DAMAGED: return "damaged";
    default: return "unusable";
    }
}

/* ---- checks ESP-IDF does not make ---------------------------------------- */

static const uint8_t *page_bytes(const reader *r, uint32_t p)
{
    return r->bytes + (size_t)p * NVS_PAGE_SIZE;
}

static int is_listed(const reader *r, uint32_t p)
{
    const nvs_page_mem *m = &r->flash.pg[p];
    return m->kind == NVS_PAGE_ACTIVE || m->kind == NVS_PAGE_FULL ||
           m->kind == NVS_PAGE_FREEING;
}

/* A written item header: its type, span, key, size and padding. */
static unsigned check_item(reader *r, uint32_t p, unsigned i)
{
    const uint8_t *e = page_bytes(r, p) + NVS_FIRST_ENTRY_OFFSET +
                       (size_t)i * NVS_ENTRY_SIZE;
    uint8_t type = e[NVS_ENTRY_TYPE_OFFSET], span = e[NVS_ENTRY_SPAN_OFFSET];
    char b[72];
    const uint8_t *k = e + NVS_ENTRY_KEY_OFFSET;
    const uint8_t *nul = memchr(k, 0, NVS_ENTRY_KEY_SIZE);
    nvsf_escape_text(b, sizeof b, k, nul ? (size_t)(nul - k) : 16);
    if (!nul)
        problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                "key '%s' is not NUL-terminated: keys are at most 15 bytes",
                b);
    else if (nul == k)
        problem(r, NVSF_PROBLEM_ENTRY, p, (int)i, "the key is empty");
    for (const uint8_t *z = nul ? nul : k + 16; z < k + 16; z++)
        if (*z != 0) {
            problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                    "key '%s' is not padded with zero bytes", b);
            break;
        }
    if (!is_int_type(type) && !is_varlen_type(type) &&
        type != NVSF_TYPE_BLOB_INDEX) {
        problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                "'%s' has unknown type 0x%02x", b, type);
        return span && i + span <= NENT ? span : 1;
    }
    const char *tname = nvsf_item_type_name((enum nvsf_item_type)type);
    if (!is_varlen_type(type)) {
        if (span != 1)
            problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                    "%s '%s' has span %u; it takes 1 entry", tname, b, span);
        if (e[NVS_ENTRY_CHUNK_OFFSET] != NVS_CHUNK_ANY)
            problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                    "%s '%s' has chunk index %u, not 0xff", tname, b,
                    e[NVS_ENTRY_CHUNK_OFFSET]);
        if (type == NVSF_TYPE_BLOB_INDEX) {
            if (nvs_load_u16(e + NVS_ENTRY_DATA_OFFSET + 6) != 0xFFFF)
                problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                        "blob index '%s': its unused bytes are not 0xff", b);
        } else {
            unsigned w = nvsf_value_type_width((enum nvsf_item_type)type);
            long pad = first_not_ff(e + NVS_ENTRY_DATA_OFFSET + w, 8 - w);
            if (pad >= 0)
                problem(r, NVSF_PROBLEM_NOT_ERASED, p, (int)i,
                        "%s '%s': byte %ld of its data field is 0x%02x; the "
                        "bytes after a %u-byte value are 0xff",
                        tname, b, (long)w + pad,
                        e[NVS_ENTRY_DATA_OFFSET + w + pad], w);
        }
        return 1;
    }
    size_t size = nvs_load_u16(e + NVS_ENTRY_DATA_OFFSET);
    unsigned need = 1 + (unsigned)((size + NVS_ENTRY_SIZE - 1) / NVS_ENTRY_SIZE);
    if (span == 0 || i + span > NENT) {
        problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                "%s '%s' has span %u, which runs past the end of the page",
                tname, b, span);
        return 1;
    }
    if (span != need) {
        problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                "%s '%s' holds %zu bytes, which take %u entries with the "
                "header, but its span is %u",
                tname, b, size, need, span);
        return span;
    }
    if (nvs_load_u16(e + NVS_ENTRY_DATA_OFFSET + 2) != 0xFFFF)
        problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                "%s '%s': the 2 bytes after its size are not 0xff", tname, b);
    if (type == NVSF_TYPE_BLOB_DATA
            ? e[NVS_ENTRY_CHUNK_OFFSET] == NVS_CHUNK_ANY
            : e[NVS_ENTRY_CHUNK_OFFSET] != NVS_CHUNK_ANY)
        problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                "%s '%s' has chunk index %u", tname, b,
                e[NVS_ENTRY_CHUNK_OFFSET]);
    const uint8_t *data = e + NVS_ENTRY_SIZE;
    size_t room = (size_t)(span - 1) * NVS_ENTRY_SIZE;
    long pad = first_not_ff(data + size, room - size);
    if (pad >= 0)
        problem(r, NVSF_PROBLEM_NOT_ERASED, p,
                (int)(i + 1 + (size + (size_t)pad) / NVS_ENTRY_SIZE),
                "the padding after the value of %s '%s' is not 0xff (byte "
                "%ld after the value is 0x%02x)",
                tname, b, pad, data[size + (size_t)pad]);
    if (type == NVSF_TYPE_STRING && (size == 0 || data[size - 1] != '\0'))
        problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                "string '%s' does not end with a NUL byte", b);
    return span;
}

/* The header, bitmap and entries of a page, after the start-up. */
static void check_page(reader *r, uint32_t p)
{
    const uint8_t *pg = page_bytes(r, p);
    const nvsf_page_info *pi = &r->pages[p];
    if (!is_listed(r, p))
        return;
    long res = first_not_ff(pg + 9, 19);
    if (res >= 0)
        problem(r, NVSF_PROBLEM_PAGE_HEADER, p, -1,
                "reserved header byte %ld is 0x%02x, not 0xff", res + 9,
                pg[9 + res]);
    uint8_t last = pg[NVS_BITMAP_OFFSET + NVS_BITMAP_SIZE - 1];
    if ((last & 0xF0) != 0xF0)
        problem(r, NVSF_PROBLEM_BITMAP, p, -1,
                "the 4 unused bits at the end of the entry state bitmap are "
                "not all 1 (its last byte is 0x%02x)",
                last);
    int first_empty = -1, reported = 0;
    for (unsigned i = 0; i < NENT;) {
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
        if (st == 1)
            problem(r, NVSF_PROBLEM_BITMAP, p, (int)i,
                    "the entry's state bits are 01, a state NVS never "
                    "writes");
        i += st == NVS_ENTRY_STATE_WRITTEN ? check_item(r, p, i) : 1;
    }
}

/* Sequence numbers and states of the pages together. */
static void check_pages(reader *r)
{
    const nvs_flash *f = &r->flash;
    for (uint32_t k = 1; k < f->nlist; k++) {
        const nvs_page_mem *a = &f->pg[f->list[k - 1]], *b = &f->pg[f->list[k]];
        if (a->seq == b->seq && f->list[k] != f->pending)
            problem(r, NVSF_PROBLEM_PAGE_STATE, f->list[k], -1,
                    "sequence number %u is also the one of page %u; each "
                    "page has its own",
                    b->seq, f->list[k - 1]);
    }
    for (uint32_t k = 0; k + 1 < f->nlist; k++)
        if (f->pg[f->list[k]].kind == NVS_PAGE_ACTIVE)
            problem(r, NVSF_PROBLEM_PAGE_STATE, f->list[k], -1,
                    "the page is active but page %u is newer; only the "
                    "newest page may be active",
                    f->list[f->nlist - 1]);
    if (f->nlist && f->pending == UINT32_MAX &&
        f->pg[f->list[f->nlist - 1]].kind == NVS_PAGE_FULL)
        problem_sev(r, NVSF_PROBLEM_PAGE_STATE, NVSF_REPAIRABLE,
                    NVSF_REPAIR_NONE, f->list[f->nlist - 1], -1, 0,
                    "no page is active: the newest page is full and no newer "
                    "page was started (a write was cut, or failed, after it "
                    "marked the page full); ESP-IDF starts a new page at its "
                    "next write");
    for (uint32_t p = 0; p < r->pub.page_count; p++)
        check_page(r, p);
}

/* ---- what ESP-IDF returns ------------------------------------------------ */

static void read_pages(reader *r)
{
    for (uint32_t p = 0; p < r->pub.page_count; p++) {
        const uint8_t *pg = page_bytes(r, p);
        nvsf_page_info *pi = &r->pages[p];
        memset(pi, 0, sizeof *pi);
        pi->index = p;
        pi->state = nvs_load_u32(pg + NVS_PAGE_STATE_OFFSET);
        pi->seq = nvs_load_u32(pg + NVS_PAGE_SEQ_OFFSET);
        pi->version = pg[NVS_PAGE_VERSION_OFFSET];
        pi->header_ok = pi->state != NVS_PAGE_STATE_EMPTY &&
                        nvs_page_header_crc(pg) ==
                            nvs_load_u32(pg + NVS_PAGE_CRC_OFFSET);
        pi->readable = is_listed(r, p);
        pi->next_free = r->flash.pg[p].kind == NVS_PAGE_ACTIVE
                            ? r->flash.pg[p].next_free
                            : NENT;
        for (unsigned i = 0; i < NENT; i++) {
            unsigned st = nvs_bitmap_get(pg, i);
            pi->entry_state[i] = (uint8_t)st;
            pi->written += st == NVS_ENTRY_STATE_WRITTEN;
            pi->erased += st == NVS_ENTRY_STATE_ERASED;
            pi->empty += st == NVS_ENTRY_STATE_EMPTY;
            pi->illegal += st == 1;
        }
    }
}

static uint64_t pos_of(const reader *r, uint32_t rank, unsigned entry)
{
    (void)r;
    return (uint64_t)rank * NENT + entry;
}

/* The live item headers, and the namespaces, in page-list order. */
static void read_entries(reader *r)
{
    nvs_flash *f = &r->flash;
    char b[72], b2[72];
    for (uint32_t k = 0; k < f->nlist; k++) {
        uint32_t p = f->list[k];
        unsigned i = 0;
        while (nvs_find_item(f, p, NVS_NS_ANY, NVS_TYPE_ANY, NULL,
                             NVS_CHUNK_ANY, NVS_VER_ANY, &i) == NVS_FOUND) {
            const uint8_t *e = nvs_entry_at(f, p, i);
            if (grow(r, (void **)&r->entries, r->nentries, &r->capentries,
                     sizeof *r->entries))
                return;
            nvsf_entry_ref *x = &r->entries[r->nentries++];
            x->page = p;
            x->entry = (uint8_t)i;
            x->span = e[NVS_ENTRY_SPAN_OFFSET];
            x->ns_index = e[NVS_ENTRY_NS_OFFSET];
            x->type = e[NVS_ENTRY_TYPE_OFFSET];
            x->chunk_index = e[NVS_ENTRY_CHUNK_OFFSET];
            memcpy(x->key, e + NVS_ENTRY_KEY_OFFSET, 16);
            x->key[16] = '\0';
            i += x->span ? x->span : 1;
            if (x->ns_index != 0)
                continue;
            /* Storage::init: every u8 of namespace 0 declares one. */
            nvsf_escape_text(b, sizeof b, (const uint8_t *)x->key,
                             strlen(x->key));
            unsigned idx = e[NVS_ENTRY_DATA_OFFSET];
            if (x->type != NVSF_TYPE_U8) {
                problem(r, NVSF_PROBLEM_NAMESPACE, p, x->entry,
                        "'%s' is a %s in namespace 0, which holds only "
                        "namespace definitions (u8)",
                        b, nvsf_item_type_name((enum nvsf_item_type)x->type));
                continue;
            }
            if (idx == 0 || idx > NVS_NAMESPACE_INDEX_MAX) {
                problem(r, NVSF_PROBLEM_NAMESPACE, p, x->entry,
                        "namespace '%s' has index %u; indexes are 1 to 254",
                        b, idx);
                continue;
            }
            int dup = 0;
            for (size_t n = 0; n < r->nns && !dup; n++)
                if (strcmp(r->ns[n].name, x->key) == 0) {
                    problem(r, NVSF_PROBLEM_NAMESPACE, p, x->entry,
                            "namespace '%s' is declared again (first at "
                            "page %u entry %u)",
                            b, r->ns[n].page, r->ns[n].entry);
                    dup = 1;
                }
            if (!dup && r->ns_slot[idx] >= 0) {
                nvsf_escape_text(b2, sizeof b2,
                                 (const uint8_t *)r->ns[r->ns_slot[idx]].name,
                                 strlen(r->ns[r->ns_slot[idx]].name));
                problem(r, NVSF_PROBLEM_NAMESPACE, p, x->entry,
                        "namespace '%s' has index %u, which namespace '%s' "
                        "has already",
                        b, idx, b2);
                dup = 1;
            }
            if (dup || r->nns >= NVS_NAMESPACE_INDEX_MAX)
                continue;
            nvsf_namespace *ns = &r->ns[r->nns];
            ns->index = (uint8_t)idx;
            memcpy(ns->name, x->key, sizeof ns->name);
            ns->page = p;
            ns->entry = x->entry;
            r->ns_pos[r->nns] = pos_of(r, k, x->entry);
            r->ns_slot[idx] = (int)r->nns++;
        }
    }
}

/* The live headers sorted by namespace and key (as ESP-IDF compares keys:
 * their first 15 bytes), then in page-list order: lookups by key go
 * through them instead of walking every page. */
static const reader *sort_ctx; /* qsort has no context argument */

static int cmp_byname(const void *a, const void *b)
{
    const nvsf_entry_ref *x = &sort_ctx->entries[*(const uint32_t *)a];
    const nvsf_entry_ref *y = &sort_ctx->entries[*(const uint32_t *)b];
    int c = (int)x->ns_index - (int)y->ns_index;
    if (!c)
        c = strncmp(x->key, y->key, NVSF_KEY_MAX_LEN);
    if (!c)
        c = *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
    return c;
}

static void index_entries(reader *r)
{
    free(r->byname);
    r->byname = malloc((r->nentries + 1) * sizeof *r->byname);
    if (!r->byname) {
        r->nomem = 1;
        return;
    }
    for (size_t k = 0; k < r->nentries; k++)
        r->byname[k] = (uint32_t)k;
    sort_ctx = r;
    qsort(r->byname, r->nentries, sizeof *r->byname, cmp_byname);
    sort_ctx = NULL;
}

/* < 0, 0, > 0: entry k against (ns, key). */
static int cmp_name(const reader *r, uint32_t k, uint8_t ns, const char *key)
{
    const nvsf_entry_ref *x = &r->entries[k];
    int c = (int)x->ns_index - (int)ns;
    return c ? c : strncmp(x->key, key, NVSF_KEY_MAX_LEN);
}

/*
 * Storage::findItem: the first page of the list where Page::findItem finds
 * it. Through the index: on each page, from the first header whose hash
 * matches, the headers of this namespace and key in order (the others
 * are never a match).
 */
static int find_first(reader *r, uint8_t ns, uint8_t type, const char *key,
                      uint8_t chunk, uint8_t chunk_start, uint32_t *page,
                      unsigned *entry)
{
    nvs_flash *f = &r->flash;
    nvs_search q;
    nvs_search_init(&q, ns, type, key, chunk, chunk_start);
    const size_t n = r->nentries;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_name(r, r->byname[mid], ns, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < n && cmp_name(r, r->byname[i], ns, key) == 0;) {
        uint32_t p = r->entries[r->byname[i]].page;
        size_t j = i;
        while (j < n && cmp_name(r, r->byname[j], ns, key) == 0 &&
               r->entries[r->byname[j]].page == p)
            j++;
        int started = !q.hashed;
        for (size_t t = i; t < j; t++) {
            const nvsf_entry_ref *x = &r->entries[r->byname[t]];
            const uint8_t *e = nvs_entry_at(f, p, x->entry);
            if (nvs_bitmap_get(r->bytes + (size_t)p * NVS_PAGE_SIZE,
                               x->entry) != NVS_ENTRY_STATE_WRITTEN)
                continue;
            if (!started && !(started = nvs_search_hash_start(&q, e)))
                continue;
            int rc = nvs_search_match(&q, e);
            if (rc == NVS_FOUND) {
                *page = p;
                *entry = x->entry;
                return 1;
            }
            if (rc == NVS_TYPE_MISMATCH)
                break;
        }
        i = j;
    }
    return 0;
}

/* Page::readItem of a string or chunk: its data when the CRC holds, else
 * ESP-IDF erases it (damage) and returns nothing. */
static const uint8_t *read_data(reader *r, uint32_t p, unsigned i, size_t *len)
{
    const uint8_t *e = nvs_entry_at(&r->flash, p, i);
    size_t size = nvs_load_u16(e + NVS_ENTRY_DATA_OFFSET);
    unsigned span = e[NVS_ENTRY_SPAN_OFFSET];
    if (span == 0 || i + span > NENT ||
        size > (size_t)(span - 1) * NVS_ENTRY_SIZE) {
        char d[120];
        problem(r, NVSF_PROBLEM_ENTRY, p, (int)i,
                "%s holds %zu bytes, more than its %u entries: ESP-IDF reads "
                "past it",
                nvs_describe(e, d, sizeof d), size, span);
        return NULL;
    }
    uint32_t crc = nvsf_crc32(e + NVS_ENTRY_SIZE, size);
    uint32_t stored = nvs_load_u32(e + NVS_ENTRY_DATA_OFFSET + 4);
    if (crc != stored) {
        char d[120], msg[240];
        snprintf(msg, sizeof msg,
                 "data CRC mismatch for %s: the entry says 0x%08x, its %zu "
                 "bytes give 0x%08x; ESP-IDF erases it when it is read, and "
                 "returns nothing",
                 nvs_describe(e, d, sizeof d), stored, size, crc);
        problem_sev(r, NVSF_PROBLEM_DATA_CRC, NVSF_DAMAGED,
                    NVSF_REPAIR_ERASE_ENTRIES, p, (int)i, span, msg);
        nvs_erase_entry_span(&r->flash, p, i);
        return NULL;
    }
    *len = size;
    return e + NVS_ENTRY_SIZE;
}

static nvsf_item *new_item(reader *r, uint32_t p, unsigned i, uint64_t pos)
{
    if (grow(r, (void **)&r->items, r->nitems, &r->capitems, sizeof *r->items) ||
        grow(r, (void **)&r->item_pos, r->nitems, &r->cappos,
             sizeof *r->item_pos))
        return NULL;
    const uint8_t *e = nvs_entry_at(&r->flash, p, i);
    nvsf_item *it = &r->items[r->nitems];
    memset(it, 0, sizeof *it);
    it->page = p;
    it->entry = i;
    it->ns_index = e[NVS_ENTRY_NS_OFFSET];
    memcpy(it->key, e + NVS_ENTRY_KEY_OFFSET, 16);
    it->key[16] = '\0';
    it->type = (enum nvsf_item_type)e[NVS_ENTRY_TYPE_OFFSET];
    r->item_pos[r->nitems++] = pos;
    return it;
}

/* Storage::readMultiPageBlob: 1 read, 0 not found (ESP-IDF then looks for
 * a version-1 blob), -1 failed. */
static int read_blob_v2(reader *r, uint8_t ns, const char *key, uint64_t pos)
{
    uint32_t ip;
    unsigned ie;
    if (!find_first(r, ns, NVSF_TYPE_BLOB_INDEX, key, NVS_CHUNK_ANY,
                    NVS_VER_ANY, &ip, &ie))
        return 0;
    uint8_t idx[NVS_ENTRY_SIZE];
    memcpy(idx, nvs_entry_at(&r->flash, ip, ie), sizeof idx);
    uint32_t size = nvs_load_u32(idx + NVS_ENTRY_DATA_OFFSET);
    unsigned count = idx[NVS_ENTRY_DATA_OFFSET + 4];
    unsigned start = idx[NVS_ENTRY_DATA_OFFSET + 5];
    char d[120];
    nvs_describe(idx, d, sizeof d);
    if (start != NVS_VER_0 && start != NVS_VER_1)
        problem(r, NVSF_PROBLEM_BLOB, ip, (int)ie,
                "%s starts at chunk %u; NVS starts blobs at chunk 0 or 128", d,
                start);
    uint8_t *blob = malloc(size ? size : 1);
    if (!blob) {
        r->nomem = 1;
        return -1;
    }
    size_t at = 0;
    for (unsigned n = 0; n < count; n++) {
        uint32_t cp;
        unsigned ce;
        const uint8_t *data;
        size_t len = 0;
        if (!find_first(r, ns, NVSF_TYPE_BLOB_DATA, key, (uint8_t)(start + n),
                        NVS_VER_ANY, &cp, &ce)) {
            char msg[240];
            snprintf(msg, sizeof msg,
                     "%s says %u chunks from chunk %u, but chunk %u is "
                     "missing: ESP-IDF erases the blob when it is read, and "
                     "returns nothing",
                     d, count, start, (start + n) & 0xFF);
            problem_sev(r, NVSF_PROBLEM_BLOB, NVSF_DAMAGED,
                        NVSF_REPAIR_ERASE_ENTRIES, ip, (int)ie, 1, msg);
            /* Storage::eraseMultiPageBlob: the index, then its chunks */
            nvs_erase_entry_span(&r->flash, ip, ie);
            for (unsigned c = 0; c < count; c++)
                if (find_first(r, ns, NVSF_TYPE_BLOB_DATA, key,
                               (uint8_t)(start + c), NVS_VER_ANY, &cp, &ce))
                    nvs_erase_entry_span(&r->flash, cp, ce);
            free(blob);
            return 0;
        }
        if (!(data = read_data(r, cp, ce, &len))) {
            free(blob);
            return -1;
        }
        if (len > size - at) {
            problem(r, NVSF_PROBLEM_BLOB, ip, (int)ie,
                    "%s says %u bytes, but its chunks hold more; ESP-IDF "
                    "fails to read it",
                    d, size);
            free(blob);
            return -1;
        }
        if (len)
            memcpy(blob + at, data, len);
        at += len;
    }
    if (at != size) {
        problem(r, NVSF_PROBLEM_BLOB, ip, (int)ie,
                "%s says %u bytes, but its %u chunks hold %zu; ESP-IDF fails "
                "to read it",
                d, size, count, at);
        free(blob);
        return -1;
    }
    if (grow(r, (void **)&r->blobs, r->nblobs, &r->capblobs,
             sizeof *r->blobs)) {
        free(blob);
        return -1;
    }
    r->blobs[r->nblobs++] = blob;
    nvsf_item *it = new_item(r, ip, ie, pos);
    if (!it)
        return -1;
    it->data = blob;
    it->len = size;
    it->chunks = count;
    it->chunk_start = (uint8_t)start;
    return 1;
}

/* nvs_get_* of one item the iterator lists (entry i of page p). */
static void get_item(reader *r, uint32_t p, unsigned i, uint64_t pos)
{
    uint8_t e[NVS_ENTRY_SIZE];
    memcpy(e, nvs_entry_at(&r->flash, p, i), sizeof e);
    uint8_t ns = e[NVS_ENTRY_NS_OFFSET], type = e[NVS_ENTRY_TYPE_OFFSET];
    char key[17];
    memcpy(key, e + NVS_ENTRY_KEY_OFFSET, 16);
    key[16] = '\0';
    if (type == NVSF_TYPE_BLOB_DATA || type == NVSF_TYPE_BLOB) {
        int rc = read_blob_v2(r, ns, key, pos);
        if (rc != 0 || type == NVSF_TYPE_BLOB_DATA)
            return;
    } else if (!is_int_type(type) && type != NVSF_TYPE_STRING) {
        return; /* an unknown type: reported by check_item */
    }
    uint32_t fp;
    unsigned fe;
    if (!find_first(r, ns, type, key, NVS_CHUNK_ANY, NVS_VER_ANY, &fp, &fe))
        return;
    const uint8_t *x = nvs_entry_at(&r->flash, fp, fe);
    if (is_int_type(type)) {
        nvsf_item *it = new_item(r, fp, fe, pos);
        if (!it)
            return;
        unsigned width = nvsf_value_type_width(it->type);
        uint64_t v = 0;
        for (unsigned b = 0; b < width; b++)
            v |= (uint64_t)x[NVS_ENTRY_DATA_OFFSET + b] << (8 * b);
        if (nvsf_int_type_is_signed(it->type) && width > 0 && width < 8 &&
            (v >> (8 * width - 1)) & 1)
            v |= ~UINT64_C(0) << (8 * width);
        it->value = v;
        return;
    }
    size_t len = 0;
    const uint8_t *data = read_data(r, fp, fe, &len);
    if (!data)
        return;
    nvsf_item *it = new_item(r, fp, fe, pos);
    if (it) {
        it->data = data;
        it->len = len;
    }
}

/* Storage::nextEntry over the page list, each entry read as nvs_get_*. */
static void read_items(reader *r)
{
    nvs_flash *f = &r->flash;
    for (uint32_t k = 0; k < f->nlist && !r->nomem; k++) {
        uint32_t p = f->list[k];
        unsigned i = 0;
        while (nvs_find_item(f, p, NVS_NS_ANY, NVS_TYPE_ANY, NULL,
                             NVS_CHUNK_ANY, NVS_VER_ANY, &i) == NVS_FOUND) {
            const uint8_t *e = nvs_entry_at(f, p, i);
            uint8_t type = e[NVS_ENTRY_TYPE_OFFSET];
            uint8_t chunk = e[NVS_ENTRY_CHUNK_OFFSET];
            unsigned span = e[NVS_ENTRY_SPAN_OFFSET] ? e[NVS_ENTRY_SPAN_OFFSET] : 1;
            int listed = e[NVS_ENTRY_NS_OFFSET] != 0 &&
                         type != NVSF_TYPE_BLOB_INDEX &&
                         (type != NVSF_TYPE_BLOB_DATA || chunk == NVS_VER_0 ||
                          chunk == NVS_VER_1);
            if (listed)
                get_item(r, p, i, pos_of(r, k, i));
            i += span;
        }
    }
}

/* A key ESP-IDF returns twice: with two types, or twice the same. */
static int cmp_item_key(const void *a, const void *b)
{
    const nvsf_item *x = *(const nvsf_item *const *)a;
    const nvsf_item *y = *(const nvsf_item *const *)b;
    int c = (int)x->ns_index - (int)y->ns_index;
    return c ? c : strcmp(x->key, y->key);
}

static void check_items(reader *r)
{
    char b[72];
    const nvsf_item **v = malloc((r->nitems + 1) * sizeof(nvsf_item *));
    if (!v) {
        r->nomem = 1;
        return;
    }
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
        v[k] = it;
    }
    qsort(v, r->nitems, sizeof(nvsf_item *), cmp_item_key);
    for (size_t k = 1; k < r->nitems; k++) {
        const nvsf_item *x = v[k - 1], *y = v[k];
        if (x->ns_index != y->ns_index || strcmp(x->key, y->key) != 0)
            continue;
        char msg[512];
        if (x->type != y->type) {
            snprintf(msg, sizeof msg,
                     "key '%s' is stored as %s (page %u entry %u) and as %s "
                     "(page %u entry %u): a set that changed its type was "
                     "cut before it erased the old item; ESP-IDF returns "
                     "both until the key is set or erased again",
                     shown(y->key, b), nvsf_item_type_name(x->type), x->page,
                     x->entry, nvsf_item_type_name(y->type), y->page,
                     y->entry);
            problem_sev(r, NVSF_PROBLEM_DUPLICATE, NVSF_REPAIRABLE,
                        NVSF_REPAIR_NONE, y->page, (int)y->entry, 0, msg);
        } else {
            problem(r, NVSF_PROBLEM_DUPLICATE, y->page, (int)y->entry,
                    "key '%s' is stored again (also at page %u entry %u); "
                    "ESP-IDF returns the first in page order",
                    shown(y->key, b), x->page, x->entry);
        }
    }
    free(v);
}

/* ---- opening ---------------------------------------------------------------- */

/* Whether a written entry, on a page with a header, holds a right CRC; if
 * none does, *written counts them. (It stops at the first right one: this
 * only tells an encrypted or foreign image, or a wrong key, from an NVS
 * image.) */
static int any_right_crc(const uint8_t *bytes, uint32_t pages, size_t *written)
{
    *written = 0;
    for (uint32_t p = 0; p < pages; p++) {
        const uint8_t *pg = bytes + (size_t)p * NVS_PAGE_SIZE;
        uint32_t st = nvs_load_u32(pg);
        if ((st != NVS_PAGE_STATE_ACTIVE && st != NVS_PAGE_STATE_FULL &&
             st != NVS_PAGE_STATE_FREEING) ||
            nvs_page_header_crc(pg) != nvs_load_u32(pg + NVS_PAGE_CRC_OFFSET))
            continue;
        for (unsigned i = 0; i < NENT; i++) {
            if (nvs_bitmap_get(pg, i) != NVS_ENTRY_STATE_WRITTEN)
                continue;
            const uint8_t *e = pg + NVS_FIRST_ENTRY_OFFSET + (size_t)i * 32u;
            if (nvs_entry_crc(e) == nvs_load_u32(e + NVS_ENTRY_CRC_OFFSET))
                return 1;
            (*written)++;
        }
    }
    return 0;
}

static int key_misfit(nvsf_error *err, size_t bad)
{
    return nvsf_fail(err, NVSF_E_KEY,
                     "the key does not fit this image: none of its %zu "
                     "written entries has a valid CRC after decryption; "
                     "give the image's own key, and no key for an image "
                     "that is not encrypted",
                     bad);
}

int nvsf_image_check_key(const uint8_t *data, size_t len,
                         const uint8_t *xts_key, nvsf_error *err)
{
    uint32_t pages = (uint32_t)(len / NVS_PAGE_SIZE);
    size_t n = (size_t)pages * NVS_PAGE_SIZE, written;
    if (n == 0)
        return 0;
    uint8_t *copy = malloc(n);
    if (!copy)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    memcpy(copy, data, n);
    int rc = nvsf_image_decrypt(copy, n, xts_key, err);
    if (!rc && !any_right_crc(copy, pages, &written) && written > 0)
        rc = key_misfit(err, written);
    nvsf_wipe(copy, n);
    free(copy);
    return rc;
}

/* Drop what the last opening found. */
static void clear_model(reader *r)
{
    for (size_t k = 0; k < r->nblobs; k++)
        free(r->blobs[k]);
    r->nblobs = r->nentries = r->nitems = r->nproblems = r->nns = 0;
    r->unlisted = 0;
    r->closing = 0;
    r->pub.severity = NVSF_SOUND;
    for (int i = 0; i < 256; i++)
        r->ns_slot[i] = -1;
    nvs_flash_release(&r->flash);
}

/* The start-up on r->bytes, then everything the model exposes. */
static int open_model(reader *r, nvsf_error *err)
{
    clear_model(r);
    size_t len = r->pub.size;
    if (len == 0)
        problem_sev(r, NVSF_PROBLEM_IMAGE, NVSF_UNUSABLE, NVSF_REPAIR_NONE, -1,
                    -1, 0,
                    "the image is empty; an NVS partition is a whole number "
                    "of 4096-byte pages");
    else if (len % NVS_PAGE_SIZE)
        problem(r, NVSF_PROBLEM_IMAGE, -1, -1,
                "the image is %zu bytes, not a whole number of 4096-byte "
                "pages; its last %zu bytes are not read",
                len, len % NVS_PAGE_SIZE);
    size_t written = 0;
    int foreign = !r->keyed && !any_right_crc(r->bytes, r->pub.page_count,
                                              &written) && written > 0;
    nvs_flash *f = &r->flash;
    f->bytes = r->bytes;
    f->raw = r->keyed ? r->orig : NULL;
    f->npages = r->pub.page_count;
    f->read_only = r->pub.page_count < 3;
    f->note = startup_note;
    f->ctx = r;
    if (foreign) {
        char msg[240];
        snprintf(msg, sizeof msg,
                 "none of the %zu written entries has a valid CRC: the image "
                 "is encrypted (give its key) or is not an NVS image",
                 written);
        problem_sev(r, NVSF_PROBLEM_IMAGE, NVSF_UNUSABLE, NVSF_REPAIR_NONE, -1,
                    -1, 0, msg);
        /* nothing to read: the pages are left as they are */
        f->pg = calloc((size_t)f->npages + 1, sizeof *f->pg);
        f->list = calloc(1, sizeof *f->list);
        f->free = calloc(1, sizeof *f->free);
        f->pending = UINT32_MAX;
        if (!f->pg || !f->list || !f->free)
            r->nomem = 1;
    } else if (nvs_startup(f) < 0) {
        r->nomem = 1;
    }
    if (!r->nomem) {
        read_entries(r);
        index_entries(r);
        read_items(r);
        read_pages(r);
        check_pages(r);
        check_items(r);
    }
    r->closing = 1;
    if (r->unlisted)
        problem(r, NVSF_PROBLEM_IMAGE, -1, -1,
                "and %zu more problems that are not listed", r->unlisted);
    if (r->nomem) {
        clear_model(r);
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    }
    int v1 = 0, v2 = 0;
    for (uint32_t k = 0; k < f->nlist; k++) {
        if (f->list[k] == f->pending)
            continue;
        v1 |= r->pages[f->list[k]].version == NVS_PAGE_VERSION1;
        v2 |= r->pages[f->list[k]].version == NVS_PAGE_VERSION2;
    }
    nvsf_image *pub = &r->pub;
    pub->version = v2 ? 2 : v1 ? 1 : 0;
    pub->mixed_versions = v1 && v2;
    pub->read_only = f->read_only;
    pub->bytes = r->bytes;
    pub->pages = r->pages;
    pub->page_order = f->list;
    pub->page_order_count = f->nlist;
    pub->active_page = f->nlist ? f->list[f->nlist - 1] : UINT32_MAX;
    pub->next_seq = f->next_seq;
    pub->free_pages = f->free;
    pub->free_count = f->nfree;
    pub->entries = r->entries;
    pub->entry_count = r->nentries;
    pub->namespaces = r->ns;
    pub->namespace_count = r->nns;
    pub->items = r->items;
    pub->item_count = r->nitems;
    pub->problems = r->problems;
    pub->problem_count = r->nproblems;
    return 0;
}

void nvsf_image_free(nvsf_image *img)
{
    reader *r = (reader *)img;
    if (!r)
        return;
    clear_model(r);
    if (r->bytes)
        nvsf_wipe(r->bytes, r->bytes_len);
    if (r->orig_plain)
        nvsf_wipe(r->orig_plain, r->bytes_len);
    free(r->bytes);
    free(r->orig);
    free(r->orig_plain);
    free(r->blobs);
    free(r->pages);
    free(r->entries);
    free(r->byname);
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
    size_t pages = len / NVS_PAGE_SIZE;
    if (pages > UINT32_MAX / NVS_PAGE_SIZE)
        pages = UINT32_MAX / NVS_PAGE_SIZE;
    r->pub.size = len;
    r->pub.page_count = (uint32_t)pages;
    r->pub.decrypted = xts_key != NULL;
    r->bytes_len = pages * NVS_PAGE_SIZE;
    r->bytes = calloc(r->bytes_len ? r->bytes_len : 1, 1);
    r->orig = malloc(len ? len : 1);
    r->pages = calloc(pages + 1, sizeof *r->pages);
    if (!r->bytes || !r->orig || !r->pages) {
        nvsf_image_free(&r->pub);
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    }
    if (len)
        memcpy(r->orig, data, len);
    if (r->bytes_len)
        memcpy(r->bytes, data, r->bytes_len);
    if (xts_key) {
        r->keyed = 1;
        memcpy(r->key, xts_key, sizeof r->key);
        int rc = r->bytes_len ? nvsf_image_decrypt(r->bytes, r->bytes_len,
                                                   xts_key, err)
                              : 0;
        size_t written = 0;
        if (!rc && !any_right_crc(r->bytes, r->pub.page_count, &written) &&
            written > 0)
            rc = key_misfit(err, written);
        if (!rc && !(r->orig_plain = malloc(r->bytes_len ? r->bytes_len : 1)))
            rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
        if (rc) {
            nvsf_image_free(&r->pub);
            return rc;
        }
        if (r->bytes_len)
            memcpy(r->orig_plain, r->bytes, r->bytes_len);
    }
    int rc = open_model(r, err);
    if (rc) {
        nvsf_image_free(&r->pub);
        return rc;
    }
    *out = &r->pub;
    return 0;
}

uint8_t *nvsf_image_bytes(nvsf_image *img)
{
    return ((reader *)img)->bytes;
}

int nvsf_image_reload(nvsf_image *img, nvsf_error *err)
{
    return open_model((reader *)img, err);
}

int nvsf_image_export(const nvsf_image *img, uint8_t *out, nvsf_error *err)
{
    const reader *r = (const reader *)img;
    memcpy(out, r->orig, img->size);
    if (!r->bytes_len)
        return 0;
    if (!r->keyed) {
        memcpy(out, r->bytes, r->bytes_len);
        return 0;
    }
    static const uint8_t ff[NVS_ENTRY_SIZE] = {
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    nvsf_xts *x = NULL;
    int rc = nvsf_xts_new(&x, r->key, 1, err);
    if (rc)
        return rc;
    for (uint32_t p = 0; p < img->page_count; p++) {
        size_t base = (size_t)p * NVS_PAGE_SIZE;
        const uint8_t *page = r->bytes + base;
        memcpy(out + base, page, NVS_FIRST_ENTRY_OFFSET);
        /* Decrypted bytes of all 0xFF are also what a chunk of 0xFF data
         * decrypts to, so they mean erased flash only where the page says
         * so: a page without a header, or an entry its bitmap calls empty.
         * Such an entry is erased flash whatever it held before. */
        int page_erased = memcmp(page, ff, NVS_PAGE_HEADER_SIZE) == 0;
        for (unsigned i = 0; i < NENT; i++) {
            size_t off = nvs_entry_offset(p, i);
            const uint8_t *now = r->bytes + off;
            if (memcmp(now, ff, NVS_ENTRY_SIZE) == 0 &&
                (page_erased || nvs_bitmap_get(page, i) == NVS_ENTRY_STATE_EMPTY)) {
                memcpy(out + off, ff, NVS_ENTRY_SIZE);
                continue;
            }
            if (memcmp(now, r->orig_plain + off, NVS_ENTRY_SIZE) == 0)
                continue; /* out already holds the original bytes */
            uint8_t tweak[16];
            nvsf_xts_tweak_from_offset(off, tweak);
            rc = nvsf_xts_unit(x, tweak, now, out + off, NVS_ENTRY_SIZE, err);
            if (rc) {
                nvsf_xts_free(x);
                return rc;
            }
        }
    }
    nvsf_xts_free(x);
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

/* A name a CSV cell can hold (one starting with '#' is quoted). */
static int name_ok(const char *name)
{
    size_t n = strlen(name);
    return n >= 1 && n <= NVSF_KEY_MAX_LEN && cell_ok((const uint8_t *)name, n);
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
    } else if (it->type == NVSF_TYPE_FLOAT || it->type == NVSF_TYPE_DOUBLE) {
        char num[40];
        nvsf_format_float(num, sizeof num, it->type, it->value);
        if (strcmp(num, "nan") == 0)
            return item_fail(it, err, "it holds a NaN, which NVS refuses");
        *enc = nvsf_item_type_name(it->type);
        rc = nvsf_buf_append(cell, num, strlen(num));
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
    if (nvsf_csv_write_record(&x->out, f, lens, 4, NVSF_CSV_HASH_COMMENTS))
        return nvsf_fail(x->err, NVSF_E_NOMEM, "out of memory");
    return 0;
}

static int put_namespace(exporter *x, const char *name)
{
    if (!name_ok(name)) {
        char b[72];
        return nvsf_fail(x->err, NVSF_E_FORMAT,
                         "namespace '%s' cannot be written as a partition "
                         "CSV: a name is 1 to 15 bytes of UTF-8 text",
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
                           "a key is 1 to 15 bytes of UTF-8 text");
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
