/*
 * `nvs_tool` (also `nvsforge inspect`): a drop-in for ESP-IDF's
 * nvs_tool.py (components/nvs_flash/nvs_partition_tool), which shows the
 * raw pages and entries of a partition. Same command line; the JSON has
 * the structure, field names and values nvs_tool.py writes (json.dumps
 * with indent=2), so that scripts reading it keep working; the text views
 * have its layout. Unlike nvs_tool.py it does not stop on what it cannot
 * decode (strings that are not UTF-8, entries with a key that is not
 * ASCII, spans that do not fit), and -i reports nvsforge's own check: what
 * ESP-IDF's start-up repairs and what is damaged (nvsforge-check(1)).
 *
 * Like nvs_tool.py it reads the bytes as they are: an entry's `span` byte
 * groups it with the entries after it whatever their state, and an
 * encrypted partition shows its cipher text.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "image_input.h"
#include "nvs_format.h"
#include "platform.h"
#include "reader.h"
#include "value.h"

#define TOOL_USAGE \
    "usage: nvs_tool [-h] [-i] [-d type] [--color {never,auto,always}]\n" \
    "                [-f {text,json}] file\n"

static const char tool_usage[] = TOOL_USAGE;

static const char tool_help[] =
    TOOL_USAGE
    "\n"
    "Parse NVS partition\n"
    "\n"
    "positional arguments:\n"
    "  file                  Path to dumped NVS partition\n"
    "\n"
    "options:\n"
    "  -h, --help            show this help message and exit\n"
    "  -i, --integrity-check\n"
    "                        check partition for potential errors (nvsforge\n"
    "                        check's findings: what ESP-IDF's start-up\n"
    "                        repairs, what is damaged)\n"
    "  -d type, --dump type  type: 'all', 'written', 'minimal', 'namespaces',\n"
    "                        'blobs', 'storage_info', 'none'\n"
    "                        all - print everything\n"
    "                        written - print only currently written entries\n"
    "                        minimal - print only namespace:key=value pairs\n"
    "                        namespaces - list all written namespaces\n"
    "                        blobs - print all blobs and strings\n"
    "                        storage_info - print storage related information\n"
    "                        (free/used entries, etc)\n"
    "                        none - do not print anything (if you only want\n"
    "                        to do integrity check)\n"
    "  --color {never,auto,always}\n"
    "                        Enable color (ANSI)\n"
    "  -f {text,json}, --format {text,json}\n"
    "                        Output format\n";

#define NENT NVS_ENTRIES_PER_PAGE

/* ---- the page as nvs_tool.py parses it -------------------------------------- */

typedef struct tool_entry {
    const uint8_t *raw;
    unsigned index;
    const char *state;    /* "Empty", "Written", "Erased", "Invalid" */
    int is_empty;
    int has_key;          /* the key is ASCII: key and data are decoded */
    char key[17];
    size_t key_len;       /* the key without trailing NUL bytes */
    uint32_t data_computed;
    unsigned nchildren;   /* the entries after it that its span takes */
} tool_entry;

typedef struct tool_page {
    const uint8_t *raw;
    uint32_t address;
    tool_entry entries[NENT];
    unsigned nentries;    /* top-level entries */
    tool_entry kids[NENT];/* children, in page order */
    unsigned kid_of[NENT];/* first child's index in kids, per entry */
} tool_page;

static const char *entry_state(const uint8_t *page, unsigned i)
{
    switch (nvs_bitmap_get(page, i)) {
    case 3: return "Empty";
    case 2: return "Written";
    case 0: return "Erased";
    default: return "Invalid";
    }
}

static const char *type_name(uint8_t t, char buf[8])
{
    switch (t) {
    case 0x01: return "uint8_t";
    case 0x11: return "int8_t";
    case 0x02: return "uint16_t";
    case 0x12: return "int16_t";
    case 0x04: return "uint32_t";
    case 0x14: return "int32_t";
    case 0x08: return "uint64_t";
    case 0x18: return "int64_t";
    case 0x21: return "string";
    case 0x41: return "blob";
    case 0x42: return "blob_data";
    case 0x48: return "blob_index";
    default:
        snprintf(buf, 8, "0x%02x", t);
        return buf;
    }
}

static const char *page_status(uint32_t st)
{
    switch (st) {
    case 0xFFFFFFFFu: return "Empty";
    case 0xFFFFFFFEu: return "Active";
    case 0xFFFFFFFCu: return "Full";
    case 0xFFFFFFF8u: return "Erasing";
    case 0x00000000u: return "Corrupted";
    default: return "Invalid";
    }
}

static int all_ff(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0xFF)
            return 0;
    return 1;
}

static void parse_entry(tool_entry *e, const uint8_t *page, unsigned i)
{
    memset(e, 0, sizeof *e);
    e->raw = page + NVS_FIRST_ENTRY_OFFSET + (size_t)i * NVS_ENTRY_SIZE;
    e->index = i;
    e->state = entry_state(page, i);
    e->is_empty = all_ff(e->raw, NVS_ENTRY_SIZE);
    const uint8_t *k = e->raw + NVS_ENTRY_KEY_OFFSET;
    size_t n = NVS_ENTRY_KEY_SIZE;
    while (n > 0 && k[n - 1] == 0)
        n--;
    e->has_key = 1;
    for (size_t j = 0; j < n; j++)
        e->has_key &= k[j] < 0x80;
    memcpy(e->key, k, n);
    e->key_len = n;
}

static int is_known_type(uint8_t t)
{
    char b[8];
    return type_name(t, b) != b;
}

/* The data size nvs_tool.py takes for an entry's children, or 0. */
static size_t data_size(const tool_entry *e)
{
    uint8_t t = e->raw[NVS_ENTRY_TYPE_OFFSET];
    if (!e->has_key || !is_known_type(t) || t < 0x20)
        return 0;
    return t == 0x48 ? nvs_load_u32(e->raw + NVS_ENTRY_DATA_OFFSET)
                     : nvs_load_u16(e->raw + NVS_ENTRY_DATA_OFFSET);
}

static void parse_page(tool_page *tp, const uint8_t *page, uint32_t address)
{
    tp->raw = page;
    tp->address = address;
    tp->nentries = 0;
    unsigned nkids = 0;
    for (unsigned i = 0; i < NENT;) {
        const uint8_t *raw = page + NVS_FIRST_ENTRY_OFFSET + (size_t)i * 32;
        unsigned span = raw[NVS_ENTRY_SPAN_OFFSET];
        if (span == 0xFF || span == 0)
            span = 1;
        tool_entry *e = &tp->entries[tp->nentries];
        parse_entry(e, page, i);
        tp->kid_of[tp->nentries++] = nkids;
        if (span != 1) {
            for (unsigned j = i + 1; j < i + span && j < NENT; j++)
                parse_entry(&tp->kids[nkids++], page, j);
            e->nchildren = nkids - tp->kid_of[tp->nentries - 1];
            /* NVS_Entry.compute_crc: the children's bytes, cut to the
             * data size when there is one */
            if (raw[NVS_ENTRY_SPAN_OFFSET] != 1) {
                size_t len = (size_t)e->nchildren * NVS_ENTRY_SIZE;
                size_t size = data_size(e);
                if (size && size < len)
                    len = size;
                e->data_computed = nvsf_crc32(raw + NVS_ENTRY_SIZE, len);
            }
        }
        i += span;
    }
}

static const tool_entry *children_of(const tool_page *tp, unsigned k)
{
    return &tp->kids[tp->kid_of[k]];
}

/* The value of a fixed-size entry, as nvs_tool.py decodes it. */
static long long fixed_value(const tool_entry *e)
{
    const uint8_t *r = e->raw;
    uint8_t t = r[NVS_ENTRY_TYPE_OFFSET];
    unsigned w = t & 0x0Fu;
    uint64_t v = 0;
    for (unsigned i = 0; i < w && i < 8; i++)
        v |= (uint64_t)r[NVS_ENTRY_DATA_OFFSET + i] << (8 * i);
    if ((t & 0xF0u) && w > 0 && w < 8 && (v >> (8 * w - 1)) & 1)
        v |= ~UINT64_C(0) << (8 * w);
    return (long long)v;
}

/* It as Python prints the int: unsigned types from 0 up. */
static void put_fixed(FILE *f, const tool_entry *e)
{
    long long v = fixed_value(e);
    if (e->raw[NVS_ENTRY_TYPE_OFFSET] & 0xF0u)
        fprintf(f, "%lld", v);
    else
        fprintf(f, "%llu", (unsigned long long)v);
}

/* ---- JSON, as json.dumps(indent=2) writes it ------------------------------- */

static void json_str(FILE *f, const uint8_t *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        uint32_t c = s[i];
        size_t k = c < 0x80 ? 1 : nvsf_utf8_seq_len(s + i, n - i);
        if (k == 0) {
            /* Python's surrogateescape for a byte that is not UTF-8 */
            fprintf(f, "\\u%04x", 0xDC00 + c);
            i++;
            continue;
        }
        if (k > 1) {
            c &= 0xFFu >> (k + 1);
            for (size_t j = 1; j < k; j++)
                c = c << 6 | (s[i + j] & 0x3Fu);
        }
        i += k;
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (c < 0x20 || (c >= 0x7F && c < 0x10000))
                fprintf(f, "\\u%04x", c);
            else if (c >= 0x10000)
                fprintf(f, "\\u%04x\\u%04x", 0xD800 + ((c - 0x10000) >> 10),
                        0xDC00 + ((c - 0x10000) & 0x3FF));
            else
                fputc((int)c, f);
        }
    }
    fputc('"', f);
}

static void json_b64(FILE *f, const uint8_t *d, size_t n)
{
    char *text = nvsf_base64_encode(d, n);
    fprintf(f, "\"%s\"", text ? text : "(out of memory)");
    free(text);
}

/* The indentation of a nesting level. */
static void ind(FILE *f, int level)
{
    fprintf(f, "\n%*s", 2 * level, "");
}

static void json_list(FILE *f, int level, const unsigned long long *v, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        ind(f, level + 1);
        fprintf(f, "%llu%s", v[i], i + 1 < n ? "," : "");
    }
    ind(f, level);
    fputc(']', f);
}

/* NVS_Entry.data: {"value": ...} and the fields of its type, or null. */
static void json_data(FILE *f, int level, const tool_entry *e)
{
    if (!e->has_key) {
        fputs("null", f);
        return;
    }
    uint8_t t = e->raw[NVS_ENTRY_TYPE_OFFSET];
    const uint8_t *d = e->raw + NVS_ENTRY_DATA_OFFSET;
    fputc('{', f);
    ind(f, level + 1);
    fputs("\"value\": ", f);
    if (!is_known_type(t)) {
        fputs("null", f);
    } else if (t < 0x20) {
        put_fixed(f, e);
    } else {
        /* blob_index: size, chunk_count, chunk_start; the others: size, crc */
        static const char *const idx[3] = {"size", "chunk_count", "chunk_start"};
        static const char *const var[2] = {"size", "crc"};
        int n = t == 0x48 ? 3 : 2;
        unsigned long long v[3] = {t == 0x48 ? nvs_load_u32(d) : nvs_load_u16(d),
                                   t == 0x48 ? d[4] : nvs_load_u32(d + 4), d[5]};
        json_list(f, level + 1, v, n);
        for (int i = 0; i < n; i++) {
            fputc(',', f);
            ind(f, level + 1);
            fprintf(f, "\"%s\": %llu", (t == 0x48 ? idx : var)[i], v[i]);
        }
    }
    ind(f, level);
    fputc('}', f);
}

static void json_entry(FILE *f, int level, const tool_entry *e,
                       const tool_entry *kids, unsigned nkids)
{
    const uint8_t *r = e->raw;
    char tb[8];
    fputc('{', f);
    ind(f, level + 1);
    fputs("\"raw\": ", f);
    json_b64(f, r, NVS_ENTRY_SIZE);
    fputc(',', f);
    ind(f, level + 1);
    fprintf(f, "\"state\": \"%s\",", e->state);
    ind(f, level + 1);
    fprintf(f, "\"is_empty\": %s,", e->is_empty ? "true" : "false");
    ind(f, level + 1);
    fprintf(f, "\"index\": %u,", e->index);
    ind(f, level + 1);
    fputs("\"metadata\": {", f);
    ind(f, level + 2);
    fprintf(f, "\"namespace\": %u,", r[0]);
    ind(f, level + 2);
    fprintf(f, "\"type\": \"%s\",", type_name(r[1], tb));
    ind(f, level + 2);
    fprintf(f, "\"span\": %u,", r[2]);
    ind(f, level + 2);
    fprintf(f, "\"chunk_index\": %u,", r[3]);
    ind(f, level + 2);
    fputs("\"crc\": {", f);
    ind(f, level + 3);
    fprintf(f, "\"original\": %u,", nvs_load_u32(r + 4));
    ind(f, level + 3);
    fprintf(f, "\"computed\": %u,", nvs_entry_crc(r));
    ind(f, level + 3);
    fprintf(f, "\"data_original\": %u,", nvs_load_u32(r + 28));
    ind(f, level + 3);
    fprintf(f, "\"data_computed\": %u", e->data_computed);
    ind(f, level + 2);
    fputc('}', f);
    ind(f, level + 1);
    fputs("},", f);
    ind(f, level + 1);
    fputs("\"key\": ", f);
    if (e->has_key)
        json_str(f, (const uint8_t *)e->key, e->key_len);
    else
        fputs("null", f);
    fputc(',', f);
    ind(f, level + 1);
    fputs("\"data\": ", f);
    json_data(f, level + 1, e);
    fputc(',', f);
    ind(f, level + 1);
    fputs("\"children\": [", f);
    for (unsigned i = 0; i < nkids; i++) {
        ind(f, level + 2);
        json_entry(f, level + 2, &kids[i], NULL, 0);
        if (i + 1 < nkids)
            fputc(',', f);
    }
    if (nkids)
        ind(f, level + 1);
    fputc(']', f);
    ind(f, level);
    fputc('}', f);
}

static void print_json(FILE *f, const char *name, const uint8_t *data,
                       size_t len, tool_page *tp)
{
    fputs("{", f);
    ind(f, 1);
    fputs("\"name\": ", f);
    json_str(f, (const uint8_t *)name, strlen(name));
    fputc(',', f);
    ind(f, 1);
    fputs("\"pages\": [", f);
    size_t pages = len / NVS_PAGE_SIZE;
    for (size_t p = 0; p < pages; p++) {
        const uint8_t *pg = data + p * NVS_PAGE_SIZE;
        parse_page(tp, pg, (uint32_t)(p * NVS_PAGE_SIZE));
        ind(f, 2);
        fputc('{', f);
        ind(f, 3);
        fprintf(f, "\"is_empty\": %s,", all_ff(pg, 32) ? "true" : "false");
        ind(f, 3);
        fprintf(f, "\"start_address\": %zu,", p * NVS_PAGE_SIZE);
        ind(f, 3);
        fputs("\"raw_header\": ", f);
        json_b64(f, pg, 32);
        fputc(',', f);
        ind(f, 3);
        fputs("\"raw_entry_state_bitmap\": ", f);
        json_b64(f, pg + 32, 32);
        fputc(',', f);
        ind(f, 3);
        fputs("\"header\": {", f);
        ind(f, 4);
        fprintf(f, "\"status\": \"%s\",", page_status(nvs_load_u32(pg)));
        ind(f, 4);
        fprintf(f, "\"page_index\": %u,", nvs_load_u32(pg + 4));
        ind(f, 4);
        fprintf(f, "\"version\": %d,", 256 - pg[8]);
        ind(f, 4);
        fputs("\"crc\": {", f);
        ind(f, 5);
        fprintf(f, "\"original\": %u,", nvs_load_u32(pg + 28));
        ind(f, 5);
        fprintf(f, "\"computed\": %u", nvs_page_header_crc(pg));
        ind(f, 4);
        fputc('}', f);
        ind(f, 3);
        fputs("},", f);
        ind(f, 3);
        fputs("\"entries\": [", f);
        for (unsigned k = 0; k < tp->nentries; k++) {
            ind(f, 4);
            json_entry(f, 4, &tp->entries[k], children_of(tp, k),
                       tp->entries[k].nchildren);
            if (k + 1 < tp->nentries)
                fputc(',', f);
        }
        ind(f, 3);
        fputc(']', f);
        ind(f, 2);
        fputc('}', f);
        if (p + 1 < pages)
            fputc(',', f);
    }
    if (pages)
        ind(f, 1);
    fputc(']', f);
    ind(f, 0);
    fputs("}\n", f);
}

/* ---- text, as nvs_logger.py writes it --------------------------------------- */

typedef struct tool_out {
    FILE *f;
    int color;
} tool_out;

static void paint(const tool_out *o, const char *code, const char *fmt, ...)
    NVSF_PRINTF(3, 4);

static void paint(const tool_out *o, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (o->color)
        fputs(code, o->f);
    vfprintf(o->f, fmt, ap);
    if (o->color)
        fputs("\033[0m", o->f);
    va_end(ap);
}

#define BOLD "\033[1m"
#define RED "\033[31m"
#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define CYAN "\033[36m"

/* A character as Python's chr(c) prints when isprintable(), else '.'. */
static void put_latin1(FILE *f, uint8_t c)
{
    if (c >= 0x20 && c < 0x7F)
        fputc(c, f);
    else if (c >= 0xA1 && c != 0xAD) /* printable Latin-1, as UTF-8 */
        fprintf(f, "%c%c", 0xC0 | c >> 6, 0x80 | (c & 0x3F));
    else
        fputc('.', f);
}

/* NVS_Entry.dump_raw: hex with a gap in the middle, then the characters. */
static void dump_raw(FILE *f, const uint8_t *raw)
{
    for (int i = 0; i < 32; i++)
        fprintf(f, "%s%02x ", i == 16 ? " " : "", raw[i]);
    fputc(' ', f);
    for (int i = 0; i < 32; i++) {
        if (i == 16)
            fputc(' ', f);
        put_latin1(f, raw[i]);
    }
}

static void put_key(FILE *f, const tool_entry *e)
{
    if (e->has_key)
        fwrite(e->key, 1, e->key_len, f);
    else
        fputs("None", f);
}

static void empty_run(const tool_out *o, const tool_entry *const *run,
                      unsigned n)
{
    if (n >= 3) {
        paint(o, BOLD, " %03u.", run[0]->index);
        fputs(" Empty\n", o->f);
        paint(o, BOLD, " ...");
        fputc('\n', o->f);
        paint(o, BOLD, " %03u.", run[n - 1]->index);
        fputs(" Empty\n", o->f);
    } else {
        for (unsigned i = 0; i < n; i++) {
            paint(o, BOLD, " %03u.", run[i]->index);
            fputs(" Empty\n", o->f);
        }
    }
}

static void text_entry(const tool_out *o, const tool_entry *e,
                       const tool_entry *kids)
{
    FILE *f = o->f;
    const uint8_t *r = e->raw;
    char tb[8];
    paint(o, BOLD, " %03u.", e->index);
    fputc(' ', f);
    if (strcmp(e->state, "Written") == 0)
        paint(o, GREEN, "%-7s", e->state);
    else if (strcmp(e->state, "Erased") == 0)
        paint(o, RED, "%-7s", e->state);
    else
        fputs(e->state, f);
    fprintf(f, ", Namespace Index: %03u, Type: %-10s, Span: %03u, "
               "Chunk Index: %03u, CRC32: ",
            r[0], type_name(r[1], tb), r[2], r[3]);
    uint32_t crc = nvs_load_u32(r + 4);
    paint(o, crc == nvs_entry_crc(r) ? GREEN : RED, "%8x", crc);
    fputs(" | ", f);
    put_key(f, e);
    fputs(": ", f);
    const uint8_t *d = r + NVS_ENTRY_DATA_OFFSET;
    uint8_t t = r[1];
    if (!e->has_key || (!is_known_type(t) && t != 0x48)) {
        fputs("None\n", f);
    } else if (t == 0x48) {
        fprintf(f, "Size=%u, ChunkCount=%u, ChunkStart=%u\n", nvs_load_u32(d),
                d[4], d[5]);
    } else if (t == 0x21 || t == 0x41 || t == 0x42) {
        uint32_t dcrc = nvs_load_u32(d + 4);
        fprintf(f, "Size=%u, CRC32=", nvs_load_u16(d));
        paint(o, dcrc == e->data_computed ? GREEN : RED, "%x", dcrc);
        fputc('\n', f);
    } else {
        put_fixed(f, e);
        fputc('\n', f);
    }
    if (r[2] != 1)
        for (unsigned i = 0; i < e->nchildren; i++) {
            fprintf(f, "      0x%03x  ", i * 32);
            dump_raw(f, kids[i].raw);
            fputc('\n', f);
        }
}

static void dump_everything(const tool_out *o, const uint8_t *data,
                            size_t pages, tool_page *tp, int written_only)
{
    FILE *f = o->f;
    const tool_entry *run[NENT];
    for (size_t p = 0; p < pages; p++) {
        const uint8_t *pg = data + p * NVS_PAGE_SIZE;
        parse_page(tp, pg, (uint32_t)(p * NVS_PAGE_SIZE));
        if (all_ff(pg, 32)) {
            paint(o, BOLD, "Page Empty, Page address: 0x%zx",
                  p * NVS_PAGE_SIZE);
        } else {
            uint32_t crc = nvs_load_u32(pg + 28);
            paint(o, BOLD, "Page no. %u, Status: %s, Version: %d, CRC32: ",
                  nvs_load_u32(pg + 4), page_status(nvs_load_u32(pg)),
                  256 - pg[8]);
            paint(o, crc == nvs_page_header_crc(pg) ? GREEN : RED, "%8x", crc);
            paint(o, BOLD, ", Page address: 0x%zx", p * NVS_PAGE_SIZE);
        }
        fputc('\n', f);
        paint(o, BOLD, " Entry state bitmap: ");
        for (int i = 0; i < 32; i++)
            fprintf(f, "%02x ", pg[32 + i]);
        fputc('\n', f);
        unsigned nrun = 0;
        for (unsigned k = 0; k < tp->nentries; k++) {
            const tool_entry *e = &tp->entries[k];
            if (written_only && strcmp(e->state, "Written") != 0)
                continue;
            if (strcmp(e->state, "Empty") == 0 && e->is_empty) {
                run[nrun++] = e;
                continue;
            }
            empty_run(o, run, nrun);
            nrun = 0;
            text_entry(o, e, children_of(tp, k));
        }
        empty_run(o, run, nrun);
        fputc('\n', f);
    }
}

static int is_fixed(const tool_entry *e)
{
    uint8_t t = e->raw[NVS_ENTRY_TYPE_OFFSET];
    return e->has_key && is_known_type(t) && t < 0x20;
}

static int written(const tool_entry *e)
{
    return strcmp(e->state, "Written") == 0;
}

/* Namespace index -> name: the written entries of namespace 0 (a later
 * one of an index wins, as in nvs_logger.py's dict). */
typedef struct ns_names {
    int have[256];
    char name[256][17];
    size_t len[256];
} ns_names;

static void namespace_names(const uint8_t *data, size_t pages, tool_page *tp,
                            ns_names *ns)
{
    memset(ns, 0, sizeof *ns);
    for (size_t p = 0; p < pages; p++) {
        parse_page(tp, data + p * NVS_PAGE_SIZE, 0);
        for (unsigned k = 0; k < tp->nentries; k++) {
            const tool_entry *e = &tp->entries[k];
            uint8_t t = e->raw[NVS_ENTRY_TYPE_OFFSET];
            if (!written(e) || e->raw[0] != 0 || !is_fixed(e) ||
                t == 0x48 || t == 0x41 || t == 0x21)
                continue;
            long long v = fixed_value(e);
            if (v < 0 || v > 255)
                continue;
            ns->have[v] = 1;
            memcpy(ns->name[v], e->key, sizeof e->key);
            ns->len[v] = e->key_len;
        }
    }
}

static void put_ns(const tool_out *o, const ns_names *ns, unsigned index)
{
    if (ns->have[index])
        paint(o, CYAN, "%.*s", (int)ns->len[index], ns->name[index]);
    else
        paint(o, CYAN, "%u", index);
}

static void list_namespaces(const tool_out *o, const ns_names *ns)
{
    paint(o, BOLD, "Index: Namespace");
    fputc('\n', o->f);
    for (unsigned i = 0; i < 256; i++)
        if (ns->have[i]) {
            fprintf(o->f, " %03u: ", i);
            put_ns(o, ns, i);
            fputc('\n', o->f);
        }
}

/* Text of bytes as nvs_tool.py's str(bytes, 'utf-8') shows it; bytes that
 * are not UTF-8 (where it stops with an error) as \xNN. */
static void put_utf8(FILE *f, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = s[i] < 0x80 ? 1 : nvsf_utf8_seq_len(s + i, n - i);
        if (k == 0) {
            fprintf(f, "\\x%02x", s[i++]);
            continue;
        }
        fwrite(s + i, 1, k, f);
        i += k;
    }
}

/* Python's repr() of bytes: b'...'. */
static void put_bytes_repr(FILE *f, const uint8_t *s, size_t n)
{
    int dq = memchr(s, '\'', n) && !memchr(s, '"', n);
    uint8_t q = dq ? '"' : '\'';
    fprintf(f, "b%c", (char)q);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == q || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c < 0x20 || c >= 0x7F)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc((char)q, f);
}

/* The bytes of a string or blob entry: its children, cut to its size. */
static size_t entry_bytes(const tool_page *tp, unsigned k, uint8_t *out)
{
    const tool_entry *e = &tp->entries[k];
    size_t len = (size_t)e->nchildren * NVS_ENTRY_SIZE;
    if (len)
        memcpy(out, e->raw + NVS_ENTRY_SIZE, len);
    size_t size = nvs_load_u16(e->raw + NVS_ENTRY_DATA_OFFSET);
    return size < len ? size : len;
}

static void dump_key_value_pairs(const tool_out *o, const uint8_t *data,
                                 size_t pages, tool_page *tp,
                                 const ns_names *ns)
{
    FILE *f = o->f;
    uint8_t buf[NVS_PAGE_SIZE];
    for (size_t p = 0; p < pages; p++) {
        const uint8_t *pg = data + p * NVS_PAGE_SIZE;
        parse_page(tp, pg, 0);
        if (all_ff(pg, 32))
            paint(o, BOLD, "Page Empty");
        else
            paint(o, BOLD, "Page no. %u, Status: %s", nvs_load_u32(pg + 4),
                  page_status(nvs_load_u32(pg)));
        fputc('\n', f);
        for (unsigned k = 0; k < tp->nentries; k++) {
            const tool_entry *e = &tp->entries[k];
            uint8_t t = e->raw[NVS_ENTRY_TYPE_OFFSET], ci = e->raw[3];
            if (!written(e) || e->raw[0] == 0 || t == 0x48 ||
                !ns->have[e->raw[0]])
                continue;
            fputc(' ', f);
            put_ns(o, ns, e->raw[0]);
            fputc(':', f);
            paint(o, YELLOW, "%s", e->has_key ? "" : "None");
            if (e->has_key)
                paint(o, YELLOW, "%.*s", (int)e->key_len, e->key);
            if (t == 0x42)
                fprintf(f, "[%u] = ", (unsigned)(ci >= 128 ? ci - 128 : ci));
            else
                fputs(" = ", f);
            if (t == 0x21 || t == 0x41) {
                size_t n = entry_bytes(tp, k, buf);
                if (t == 0x21)
                    put_utf8(f, buf, n);
                else
                    put_bytes_repr(f, buf, n);
            } else if (is_fixed(e)) {
                put_fixed(f, e);
            } else if (t != 0x42) {
                fputs("None", f);
            }
            fputc('\n', f);
        }
        fputc('\n', f);
    }
}

static void raw_lines(FILE *f, const tool_entry *kids, unsigned n,
                      unsigned *at)
{
    for (unsigned i = 0; i < n; i++, (*at)++) {
        fprintf(f, "  0x%05x  ", *at * 32);
        dump_raw(f, kids[i].raw);
        fputc('\n', f);
    }
}

/* Written entries of one type (t) as "ns:key - Type: ..., Size: N" and
 * their data entries. */
static void dump_typed(const tool_out *o, const uint8_t *data, size_t pages,
                       tool_page *tp, const ns_names *ns, uint8_t t,
                       const char *what)
{
    for (size_t p = 0; p < pages; p++) {
        parse_page(tp, data + p * NVS_PAGE_SIZE, 0);
        for (unsigned k = 0; k < tp->nentries; k++) {
            const tool_entry *e = &tp->entries[k];
            if (!written(e) || e->raw[1] != t || !e->has_key)
                continue;
            put_ns(o, ns, e->raw[0]);
            fputc(':', o->f);
            paint(o, YELLOW, "%.*s", (int)e->key_len, e->key);
            fprintf(o->f, " - Type: %s, Size: %u\n", what,
                    nvs_load_u16(e->raw + NVS_ENTRY_DATA_OFFSET));
            unsigned at = 0;
            raw_lines(o->f, children_of(tp, k), e->nchildren, &at);
            fputc('\n', o->f);
        }
    }
}

static void dump_written_blobs(const tool_out *o, const uint8_t *data,
                               size_t pages, tool_page *tp, const ns_names *ns)
{
    FILE *f = o->f;
    tool_page *chunks = malloc(sizeof *chunks);
    if (!chunks)
        return;
    for (size_t p = 0; p < pages; p++) {
        parse_page(tp, data + p * NVS_PAGE_SIZE, 0);
        for (unsigned k = 0; k < tp->nentries; k++) {
            const tool_entry *x = &tp->entries[k];
            if (!written(x) || x->raw[1] != 0x48 || !x->has_key)
                continue;
            const uint8_t *d = x->raw + NVS_ENTRY_DATA_OFFSET;
            unsigned count = d[4], start = d[5];
            put_ns(o, ns, x->raw[0]);
            fputc(':', f);
            paint(o, YELLOW, "%.*s", (int)x->key_len, x->key);
            fprintf(f, " - Type: Blob (Version 2), Size: %u\n",
                    nvs_load_u32(d));
            unsigned at = 0;
            for (unsigned c = 0; c < count; c++) {
                int found = 0;
                for (size_t q = 0; q < pages && !found; q++) {
                    parse_page(chunks, data + q * NVS_PAGE_SIZE, 0);
                    for (unsigned j = 0; j < chunks->nentries && !found; j++) {
                        const tool_entry *e = &chunks->entries[j];
                        if (!written(e) || e->raw[1] == 0x48 ||
                            e->raw[0] != x->raw[0] || !e->has_key ||
                            e->key_len != x->key_len ||
                            memcmp(e->key, x->key, e->key_len) != 0 ||
                            e->raw[3] != start + c)
                            continue;
                        raw_lines(f, children_of(chunks, j), e->nchildren,
                                  &at);
                        found = 1;
                    }
                }
                if (!found) {
                    paint(o, YELLOW, "  %s Missing data %s",
                          "---------------------------------------------------"
                          "------------",
                          "---------------------------------------------------"
                          "-------------");
                    fputc('\n', f);
                    at++;
                }
            }
            fputc('\n', f);
        }
    }
    free(chunks);
    dump_typed(o, data, pages, tp, ns, 0x21, "String");
    dump_typed(o, data, pages, tp, ns, 0x41, "Blob (Version 1)");
}

static void storage_stats(const tool_out *o, const uint8_t *data,
                          size_t pages, tool_page *tp)
{
    FILE *f = o->f;
    long tw = 0, te = 0, tf = 0, ti = 0;
    for (size_t p = 0; p < pages; p++) {
        const uint8_t *pg = data + p * NVS_PAGE_SIZE;
        parse_page(tp, pg, 0);
        long w = 0, er = 0, fr = 0, inv = 0;
        for (unsigned k = 0; k < tp->nentries; k++) {
            const char *st = tp->entries[k].state;
            w += strcmp(st, "Written") == 0;
            fr += strcmp(st, "Empty") == 0;
            er += strcmp(st, "Erased") == 0;
            inv += strcmp(st, "Invalid") == 0;
        }
        paint(o, BOLD, "Page %s", page_status(nvs_load_u32(pg)));
        fprintf(f, "\n  Found entries:\n    Written: % 5ld\n    Erased:  % 5ld\n"
                   "    Empty:   % 5ld\n    Invalid: % 5ld\n    Total:   % 5ld\n\n",
                w, er, fr, inv, w + er + fr + inv);
        tw += w;
        te += er;
        tf += fr;
        ti += inv;
    }
    paint(o, BOLD, "Global");
    fprintf(f, "\n  Config:\n    Page size:   % 5d\n    Entry size:  % 5d\n"
               "    Total pages: % 5ld\n  Entries:\n    Written: % 5ld\n"
               "    Erased:  % 5ld\n    Empty:   % 5ld\n    Invalid: % 5ld\n"
               "    Total:   % 5ld\n\n",
            4096, 32, (long)pages, tw, te, tf, ti, tw + te + tf + ti);
}

static void text_views(const tool_out *o, const char *dump,
                       const uint8_t *data, size_t len, tool_page *tp)
{
    size_t pages = len / NVS_PAGE_SIZE;
    ns_names *ns = malloc(sizeof *ns);
    if (!ns)
        return;
    namespace_names(data, pages, tp, ns);
    if (strcmp(dump, "all") == 0 || strcmp(dump, "written") == 0)
        dump_everything(o, data, pages, tp, strcmp(dump, "written") == 0);
    else if (strcmp(dump, "minimal") == 0)
        dump_key_value_pairs(o, data, pages, tp, ns);
    else if (strcmp(dump, "namespaces") == 0)
        list_namespaces(o, ns);
    else if (strcmp(dump, "blobs") == 0)
        dump_written_blobs(o, data, pages, tp, ns);
    else if (strcmp(dump, "storage_info") == 0)
        storage_stats(o, data, pages, tp);
    free(ns);
}

/* ---- the command ------------------------------------------------------------- */

static int integrity_check(const tool_out *o, const char *path)
{
    nvsf_image *img = NULL;
    image_input in = {0};
    in.path = path;
    int rc = image_input_open("nvs_tool", &in, &img, NULL);
    if (rc)
        return rc;
    fputc('\n', o->f);
    for (size_t k = 0; k < img->problem_count; k++) {
        const nvsf_problem *pr = &img->problems[k];
        if (pr->page >= 0)
            fprintf(o->f, "Page %ld: ", pr->page);
        if (pr->page >= 0 && pr->entry >= 0)
            fprintf(o->f, "Entry %d: ", pr->entry);
        paint(o, pr->severity >= NVSF_DAMAGED ? RED : YELLOW, "%s",
              nvsf_severity_name(pr->severity));
        fprintf(o->f, ": %s\n", pr->message);
    }
    fprintf(o->f, "Integrity check: ");
    paint(o, img->severity == NVSF_SOUND ? GREEN
             : img->severity == NVSF_REPAIRABLE ? YELLOW : RED,
          "%s", nvsf_severity_name(img->severity));
    fprintf(o->f, " (%zu problem%s; nvsforge check explains each)\n",
            img->problem_count, img->problem_count == 1 ? "" : "s");
    nvsf_image_free(img);
    return EXIT_OK;
}

int cmd_nvs_tool(const char *prog, int argc, char **argv)
{
    int integrity = 0;
    const char *dump = NULL, *color = NULL, *format = NULL;
    cli_opt opts[] = {
        {"-i", 0, &integrity, NULL},
        {"--integrity-check", 0, &integrity, NULL},
        {"-d", 1, NULL, &dump},
        {"--dump", 1, NULL, &dump},
        {"--color", 1, NULL, &color},
        {"-f", 1, NULL, &format},
        {"--format", 1, NULL, &format},
    };
    const char *pos[1];
    int npos, rc = cli_parse(prog, argc, argv, opts, sizeof opts / sizeof opts[0],
                             pos, 1, &npos, tool_usage, tool_help);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    static const char *const dumps[] = {"all", "written", "minimal",
                                        "namespaces", "blobs", "storage_info",
                                        "none"};
    int ok_dump = !dump;
    for (size_t i = 0; !ok_dump && i < sizeof dumps / sizeof dumps[0]; i++)
        ok_dump = strcmp(dump, dumps[i]) == 0;
    const char *why =
        npos < 1 ? "the following arguments are required: file"
        : !ok_dump ? "argument -d/--dump: invalid choice (choose from 'all', "
                     "'written', 'minimal', 'namespaces', 'blobs', "
                     "'storage_info', 'none')"
        : color && strcmp(color, "never") != 0 &&
                strcmp(color, "auto") != 0 && strcmp(color, "always") != 0
            ? "argument --color: invalid choice (choose from 'never', "
              "'auto', 'always')"
        : format && strcmp(format, "text") != 0 && strcmp(format, "json") != 0
            ? "argument -f/--format: invalid choice (choose from 'text', "
              "'json')"
            : NULL;
    if (why) {
        fputs(tool_usage, stderr);
        cli_error(prog, "%s", why);
        return EXIT_USAGE;
    }
    nvsf_error err = {0};
    uint8_t *data = NULL;
    size_t len = 0;
    if (plat_read_file(pos[0], &data, &len, &err))
        return cli_fail(prog, &err);
    if (len % NVS_PAGE_SIZE) {
        cli_error(prog,
                  "%s: %zu bytes is not a whole number of 4096-byte pages "
                  "(%zu bytes more): not an NVS partition",
                  pos[0], len, len % NVS_PAGE_SIZE);
        free(data);
        return EXIT_FAIL;
    }
    tool_out o = {stdout, color && (strcmp(color, "always") == 0 ||
                                    (strcmp(color, "auto") == 0 &&
                                     isatty(fileno(stdout))))};
    if (!color)
        o.color = isatty(fileno(stdout));
    tool_page *tp = malloc(sizeof *tp);
    if (!tp) {
        free(data);
        return cli_fail(prog, &(nvsf_error){NVSF_E_NOMEM, "out of memory"});
    }
    const char *slash = strrchr(pos[0], '/');
    if (format && strcmp(format, "json") == 0) {
        print_json(stdout, slash ? slash + 1 : pos[0], data, len, tp);
    } else {
        text_views(&o, dump ? dump : "all", data, len, tp);
        if (integrity) {
            fputc('\n', stdout);
            rc = integrity_check(&o, pos[0]);
        }
    }
    free(tp);
    free(data);
    if (fflush(stdout) || ferror(stdout)) {
        cli_error(prog, "cannot write to standard output");
        return EXIT_FAIL;
    }
    return rc;
}
