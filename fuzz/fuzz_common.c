#include "fuzz_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvs_format.h"

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt,
               ...)
{
    fprintf(stderr, "\n==FUZZ CHECK FAILED== %s:%d: %s\n  ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void fuzz_check_error(int rc, const nvsf_error *err, const char *what)
{
    FUZZ_CHECK(rc <= NVSF_E_INPUT && rc >= NVSF_E_KEY,
               "%s: return code %d is not an NVSF_E_* code", what, rc);
    FUZZ_CHECK(err->code == rc, "%s: returned %d but err->code is %d", what,
               rc, err->code);
    size_t len = strnlen(err->message, sizeof err->message);
    FUZZ_CHECK(len > 0 && len < sizeof err->message,
               "%s: empty or unterminated error message", what);
}

void *fuzz_dup(const void *data, size_t len)
{
    void *p = malloc(len ? len : 1);
    if (!p)
        abort();
    if (len)
        memcpy(p, data, len);
    return p;
}

size_t fuzz_split(const uint8_t *data, size_t size, fuzz_part *parts,
                  size_t max)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i < size && n + 1 < max; i++) {
        if (data[i] == 0) {
            parts[n].data = data + start;
            parts[n].len = i - start;
            n++;
            start = i + 1;
        }
    }
    parts[n].data = data + start;
    parts[n].len = size - start;
    return n + 1;
}

void fuzz_files_init(fuzz_files *f, const uint8_t *data, size_t len,
                     int present)
{
    f->count = 0;
    if (!present)
        return;
    f->count = fuzz_split(data, len, f->pieces,
                          sizeof f->pieces / sizeof f->pieces[0]);
}

int fuzz_file_reader(void *ctx, const char *path, uint8_t **data, size_t *len,
                     nvsf_error *err)
{
    fuzz_files *f = ctx;
    FUZZ_CHECK(path != NULL, "file reader called without a path");
    if (f->count == 0 || strncmp(path, "missing", 7) == 0) {
        if (err) {
            err->code = NVSF_E_IO;
            snprintf(err->message, sizeof err->message,
                     "cannot open '%s': no such file", path);
        }
        return NVSF_E_IO;
    }
    uint32_t h = 2166136261u;
    for (const char *p = path; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    const fuzz_part *piece = &f->pieces[h % f->count];
    *data = fuzz_dup(piece->data, piece->len);
    *len = piece->len;
    return 0;
}

fuzz_setup fuzz_setup_from(uint8_t b)
{
    static const uint32_t sizes[4] = {0x3000, 0x1000, 0x2000, 0x5000};
    fuzz_setup s;
    s.version = (b & 1) ? 1 : 2;
    s.size = sizes[(b >> 1) & 3];
    s.encrypt = (b >> 3) & 1;
    return s;
}

const uint8_t FUZZ_XTS_KEY[NVSF_XTS_KEY_SIZE] = {
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x10, 0x32, 0x54,
    0x76, 0x98, 0xba, 0xdc, 0xfe, 0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a,
    0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0, 0x11,
    0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
    0xdd, 0xee, 0xff, 0x00, 0xf1, 0xe2, 0xd3, 0xc4, 0xb5, 0xa6, 0x97,
    0x88, 0x79, 0x6a, 0x5b, 0x4c, 0x3d, 0x2e, 0x1f, 0x07};

static int all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

/* A version-2 blob chunk seen so far, to check blob indexes against. */
typedef struct chunk_seen {
    uint8_t ns;
    char key[16];
    uint8_t index;
    uint16_t size;
    int claimed;
} chunk_seen;

static void check_key(const uint8_t *e, uint32_t page, unsigned i)
{
    const uint8_t *key = e + NVS_ENTRY_KEY_OFFSET;
    size_t klen = strnlen((const char *)key, NVS_ENTRY_KEY_SIZE);
    FUZZ_CHECK(klen >= 1 && klen <= NVSF_KEY_MAX_LEN,
               "page %u entry %u: key of %zu bytes", page, i, klen);
    FUZZ_CHECK(all_bytes(key + klen, NVS_ENTRY_KEY_SIZE - klen, 0),
               "page %u entry %u: key not NUL-padded", page, i);
}

void fuzz_check_built_image(const uint8_t *image, uint32_t size, int version,
                            uint32_t pages_used)
{
    uint32_t pages = size / NVS_PAGE_SIZE;
    FUZZ_CHECK(size % NVS_PAGE_SIZE == 0 && pages >= 1, "image size 0x%x",
               size);
    uint32_t data_pages = nvsf_size_is_read_only(size) ? pages : pages - 1;
    FUZZ_CHECK(pages_used >= 1 && pages_used <= data_pages,
               "%u pages used of %u for data", pages_used, data_pages);
    uint8_t vbyte = version == 1 ? NVS_PAGE_VERSION1 : NVS_PAGE_VERSION2;
    unsigned ns_declared = 0;
    chunk_seen chunks[NVS_ENTRIES_PER_PAGE * 32];
    size_t nchunks = 0;

    for (uint32_t p = 0; p < pages; p++) {
        const uint8_t *pg = image + (size_t)p * NVS_PAGE_SIZE;
        if (p >= pages_used) {
            FUZZ_CHECK(all_bytes(pg, NVS_PAGE_SIZE, 0xFF),
                       "page %u after the last used page is not erased", p);
            continue;
        }
        uint32_t state = nvs_load_u32(pg + NVS_PAGE_STATE_OFFSET);
        uint32_t want = p + 1 == pages_used ? NVS_PAGE_STATE_ACTIVE
                                            : NVS_PAGE_STATE_FULL;
        FUZZ_CHECK(state == want, "page %u state 0x%08x, want 0x%08x", p,
                   state, want);
        FUZZ_CHECK(nvs_load_u32(pg + NVS_PAGE_SEQ_OFFSET) == p,
                   "page %u sequence number", p);
        FUZZ_CHECK(pg[NVS_PAGE_VERSION_OFFSET] == vbyte,
                   "page %u version byte 0x%02x", p,
                   pg[NVS_PAGE_VERSION_OFFSET]);
        FUZZ_CHECK(all_bytes(pg + 9, 19, 0xFF), "page %u reserved bytes", p);
        FUZZ_CHECK(nvs_load_u32(pg + NVS_PAGE_CRC_OFFSET) ==
                       nvs_page_header_crc(pg),
                   "page %u header CRC", p);
        FUZZ_CHECK((pg[NVS_BITMAP_OFFSET + 31] & 0xF0) == 0xF0,
                   "page %u bitmap bits past entry 125 changed", p);

        unsigned used = 0;
        while (used < NVS_ENTRIES_PER_PAGE &&
               nvs_bitmap_get(pg, used) == NVS_ENTRY_STATE_WRITTEN)
            used++;
        for (unsigned i = used; i < NVS_ENTRIES_PER_PAGE; i++) {
            FUZZ_CHECK(nvs_bitmap_get(pg, i) == NVS_ENTRY_STATE_EMPTY,
                       "page %u entry %u: bitmap state %u after the written "
                       "run",
                       p, i, nvs_bitmap_get(pg, i));
            FUZZ_CHECK(all_bytes(pg + NVS_FIRST_ENTRY_OFFSET +
                                     i * NVS_ENTRY_SIZE,
                                 NVS_ENTRY_SIZE, 0xFF),
                       "page %u entry %u: empty entry not erased", p, i);
        }
        FUZZ_CHECK(p + 1 == pages_used || used > 0,
                   "page %u: a full page without entries", p);

        for (unsigned i = 0; i < used;) {
            const uint8_t *e = pg + NVS_FIRST_ENTRY_OFFSET + i * NVS_ENTRY_SIZE;
            const uint8_t *d = e + NVS_ENTRY_DATA_OFFSET;
            uint8_t ns = e[NVS_ENTRY_NS_OFFSET], type = e[NVS_ENTRY_TYPE_OFFSET];
            unsigned span = e[NVS_ENTRY_SPAN_OFFSET];
            uint8_t chunk = e[NVS_ENTRY_CHUNK_OFFSET];
            FUZZ_CHECK(nvs_load_u32(e + NVS_ENTRY_CRC_OFFSET) ==
                           nvs_entry_crc(e),
                       "page %u entry %u: header CRC", p, i);
            FUZZ_CHECK(span >= 1 && i + span <= used,
                       "page %u entry %u: span %u with %u entries written", p,
                       i, span, used);
            check_key(e, p, i);
            if (ns == 0) {
                FUZZ_CHECK(type == NVSF_TYPE_U8 && span == 1 &&
                               chunk == NVS_CHUNK_ANY,
                           "page %u entry %u: namespace entry shape", p, i);
                FUZZ_CHECK(d[0] == ns_declared + 1 &&
                               all_bytes(d + 1, 7, 0xFF),
                           "page %u entry %u: namespace index %u after %u", p,
                           i, d[0], ns_declared);
                ns_declared++;
                i++;
                continue;
            }
            FUZZ_CHECK(ns <= ns_declared && ns != 0xFF,
                       "page %u entry %u: namespace %u of %u declared", p, i,
                       ns, ns_declared);
            unsigned width = 0;
            switch (type) {
            case NVSF_TYPE_U8: case NVSF_TYPE_I8: width = 1; break;
            case NVSF_TYPE_U16: case NVSF_TYPE_I16: width = 2; break;
            case NVSF_TYPE_U32: case NVSF_TYPE_I32: width = 4; break;
            case NVSF_TYPE_U64: case NVSF_TYPE_I64: width = 8; break;
            default: break;
            }
            if (width) {
                FUZZ_CHECK(span == 1 && chunk == NVS_CHUNK_ANY &&
                               all_bytes(d + width, 8 - width, 0xFF),
                           "page %u entry %u: integer entry shape", p, i);
                i++;
                continue;
            }
            if (type == NVSF_TYPE_BLOB_INDEX) {
                FUZZ_CHECK(version == 2, "page %u entry %u: blob index in v1",
                           p, i);
                FUZZ_CHECK(span == 1 && chunk == NVS_CHUNK_ANY &&
                               d[5] == 0 && d[6] == 0xFF && d[7] == 0xFF,
                           "page %u entry %u: blob index shape", p, i);
                uint32_t total = nvs_load_u32(d), sum = 0;
                unsigned count = d[4], found = 0;
                for (size_t c = 0; c < nchunks; c++) {
                    if (chunks[c].claimed || chunks[c].ns != ns ||
                        strncmp(chunks[c].key,
                                (const char *)e + NVS_ENTRY_KEY_OFFSET,
                                16) != 0)
                        continue;
                    FUZZ_CHECK(chunks[c].index == found,
                               "page %u entry %u: chunk %u where %u expected",
                               p, i, chunks[c].index, found);
                    chunks[c].claimed = 1;
                    sum += chunks[c].size;
                    found++;
                }
                FUZZ_CHECK(found == count && sum == total,
                           "page %u entry %u: blob index says %u chunks, %u "
                           "bytes; found %u chunks, %u bytes",
                           p, i, count, total, found, sum);
                i++;
                continue;
            }
            FUZZ_CHECK(type == NVSF_TYPE_STRING ||
                           (type == NVSF_TYPE_BLOB && version == 1) ||
                           (type == NVSF_TYPE_BLOB_DATA && version == 2),
                       "page %u entry %u: type 0x%02x in version %d", p, i,
                       type, version);
            uint16_t vsize = nvs_load_u16(d);
            FUZZ_CHECK(d[2] == 0xFF && d[3] == 0xFF,
                       "page %u entry %u: reserved data bytes", p, i);
            FUZZ_CHECK(span == 1 + (vsize + NVS_ENTRY_SIZE - 1u) / NVS_ENTRY_SIZE,
                       "page %u entry %u: span %u for %u bytes", p, i, span,
                       vsize);
            const uint8_t *val = e + NVS_ENTRY_SIZE;
            FUZZ_CHECK(nvs_load_u32(d + 4) == nvsf_crc32(val, vsize),
                       "page %u entry %u: data CRC", p, i);
            FUZZ_CHECK(all_bytes(val + vsize,
                                 (span - 1) * NVS_ENTRY_SIZE - vsize, 0xFF),
                       "page %u entry %u: padding after the value", p, i);
            if (type == NVSF_TYPE_STRING) {
                unsigned max = version == 1 ? NVS_VARLEN_MAX_V1
                                            : NVS_STRING_MAX_V2;
                FUZZ_CHECK(vsize >= 1 && vsize <= max &&
                               val[vsize - 1] == 0 &&
                               memchr(val, 0, vsize - 1u) == NULL,
                           "page %u entry %u: string of %u bytes", p, i,
                           vsize);
                FUZZ_CHECK(chunk == NVS_CHUNK_ANY, "page %u entry %u: chunk",
                           p, i);
            } else if (type == NVSF_TYPE_BLOB) {
                FUZZ_CHECK(vsize <= NVS_VARLEN_MAX_V1 && chunk == NVS_CHUNK_ANY,
                           "page %u entry %u: v1 blob of %u bytes", p, i,
                           vsize);
            } else {
                FUZZ_CHECK(chunk < NVS_BLOB_CHUNKS_MAX,
                           "page %u entry %u: chunk index %u", p, i, chunk);
                FUZZ_CHECK(nchunks < sizeof chunks / sizeof chunks[0],
                           "too many chunks");
                chunk_seen *c = &chunks[nchunks++];
                c->ns = ns;
                memcpy(c->key, e + NVS_ENTRY_KEY_OFFSET, 16);
                c->index = chunk;
                c->size = vsize;
                c->claimed = 0;
            }
            i += span;
        }
    }
    for (size_t c = 0; c < nchunks; c++)
        FUZZ_CHECK(chunks[c].claimed, "blob chunk '%.16s' %u has no index",
                   chunks[c].key, chunks[c].index);
}
