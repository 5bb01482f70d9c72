/*
 * The image reader behind `nvsforge dump` and `nvsforge check`
 * (nvsf_image_read, nvsf_image_csv, nvsf_image_csv_regenerates in
 * lib/reader.c), plain and encrypted, and whole-image XTS.
 *
 * Input: the image bytes, any length (seeds: the conformance cases'
 * expected images).
 *
 *   - read plain, and read with FUZZ_XTS_KEY (decrypting garbage): only
 *     NVSF_E_NOMEM may fail; the result must be self-consistent (sizes,
 *     page list, entry state counts, page order, namespaces, items inside
 *     the image with NUL-terminated keys and readable data, problems with
 *     NUL-terminated messages and valid places);
 *   - the CSV export, when it succeeds, is a CSV of key,type,encoding,value
 *     rows that the CSV reader takes, and the regeneration check runs on it;
 *   - whole pages: encrypt a copy with FUZZ_XTS_KEY. When encryption left
 *     only erased flash untouched (and made no entry all 0xFF), decrypting
 *     gives the input back, and the reader with the key sees the same
 *     pages, namespaces and items as the plain read.
 */
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "fuzz_common.h"
#include "nvs_format.h"

static int all_ff(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0xFF)
            return 0;
    return 1;
}

static void check_image(const nvsf_image *img, const uint8_t *data,
                        size_t size, int keyed)
{
    FUZZ_CHECK(img->size == size, "size %zu for %zu bytes", img->size, size);
    FUZZ_CHECK(img->page_count == size / NVS_PAGE_SIZE, "%u pages",
               img->page_count);
    FUZZ_CHECK(img->decrypted == keyed, "decrypted flag");
    FUZZ_CHECK(img->version >= 0 && img->version <= 2, "version %d",
               img->version);
    /* The start-up changes the model's bytes only by the repairs it
     * reports. */
    int repaired = 0;
    for (size_t i = 0; i < img->problem_count; i++) {
        FUZZ_CHECK(img->problems[i].severity >= NVSF_REPAIRABLE &&
                       img->problems[i].severity <= NVSF_UNUSABLE,
                   "problem %zu: severity %d", i, img->problems[i].severity);
        FUZZ_CHECK(img->problems[i].severity <= img->severity,
                   "problem %zu: worse than the image", i);
        repaired |= img->problems[i].repair != NVSF_REPAIR_NONE;
    }
    FUZZ_CHECK((img->problem_count == 0) == (img->severity == NVSF_SOUND),
               "severity %d with %zu problems", img->severity,
               img->problem_count);
    if (!keyed && img->page_count && !repaired)
        FUZZ_CHECK(memcmp(img->bytes, data, img->page_count * NVS_PAGE_SIZE) == 0,
                   "a plain read changed the bytes without a repair");
    for (uint32_t p = 0; p < img->page_count; p++) {
        const nvsf_page_info *pi = &img->pages[p];
        FUZZ_CHECK(pi->index == p, "page %u index %u", p, pi->index);
        FUZZ_CHECK(pi->written + pi->erased + pi->empty + pi->illegal ==
                       NVSF_ENTRIES_PER_PAGE,
                   "page %u entry counts", p);
        unsigned count[4] = {0};
        for (unsigned i = 0; i < NVSF_ENTRIES_PER_PAGE; i++) {
            FUZZ_CHECK(pi->entry_state[i] <= 3, "page %u entry %u state", p, i);
            count[pi->entry_state[i]]++;
        }
        FUZZ_CHECK(count[NVSF_ENTRY_WRITTEN] == pi->written &&
                       count[NVSF_ENTRY_ERASED] == pi->erased &&
                       count[NVSF_ENTRY_EMPTY] == pi->empty &&
                       count[NVSF_ENTRY_ILLEGAL] == pi->illegal,
                   "page %u: counts do not match the states", p);
        FUZZ_CHECK(!pi->readable || pi->header_ok, "page %u readable without "
                   "a valid header", p);
    }
    FUZZ_CHECK(img->page_order_count <= img->page_count, "page order count");
    for (uint32_t i = 0; i < img->page_order_count; i++) {
        uint32_t p = img->page_order[i];
        /* the last page may be a free one ESP-IDF took, not yet written */
        FUZZ_CHECK(p < img->page_count &&
                       (img->pages[p].readable ||
                        (i + 1 == img->page_order_count &&
                         img->pages[p].state == 0xFFFFFFFFu)),
                   "page order %u: page %u", i, p);
        for (uint32_t j = 0; j < i; j++)
            FUZZ_CHECK(img->page_order[j] != p, "page %u twice in the order", p);
    }
    for (size_t i = 0; i < img->namespace_count; i++) {
        const nvsf_namespace *ns = &img->namespaces[i];
        FUZZ_CHECK(memchr(ns->name, 0, sizeof ns->name) != NULL,
                   "namespace %zu name unterminated", i);
        FUZZ_CHECK(ns->page < img->page_count &&
                       ns->entry < NVSF_ENTRIES_PER_PAGE,
                   "namespace %zu place", i);
    }
    for (size_t i = 0; i < img->item_count; i++) {
        const nvsf_item *it = &img->items[i];
        FUZZ_CHECK(memchr(it->key, 0, sizeof it->key) != NULL,
                   "item %zu key unterminated", i);
        FUZZ_CHECK(it->page < img->page_count &&
                       it->entry < NVSF_ENTRIES_PER_PAGE,
                   "item %zu place: page %u entry %u", i, it->page, it->entry);
        if (it->ns_name) {
            int found = 0;
            for (size_t k = 0; k < img->namespace_count; k++)
                found |= img->namespaces[k].index == it->ns_index &&
                         strcmp(img->namespaces[k].name, it->ns_name) == 0;
            FUZZ_CHECK(found, "item %zu: namespace '%s' (%u) not listed", i,
                       it->ns_name, it->ns_index);
        }
        /* Touch every byte: ASan tells if the data is not all there. */
        FUZZ_CHECK(it->len == 0 || it->data != NULL, "item %zu: no data", i);
        volatile uint8_t sum = 0;
        for (size_t k = 0; k < it->len; k++)
            sum ^= it->data[k];
        (void)sum;
        FUZZ_CHECK(nvsf_item_type_name(it->type) != NULL,
                   "item %zu: type 0x%02x has no name", i, it->type);
    }
    for (size_t i = 0; i < img->problem_count; i++) {
        const nvsf_problem *pr = &img->problems[i];
        size_t len = strnlen(pr->message, sizeof pr->message);
        FUZZ_CHECK(len > 0 && len < sizeof pr->message,
                   "problem %zu: message", i);
        FUZZ_CHECK(pr->page >= -1 && pr->page < (long)img->page_count &&
                       pr->entry >= -1 && pr->entry < (int)NVSF_ENTRIES_PER_PAGE,
                   "problem %zu: place %ld/%d", i, pr->page, pr->entry);
    }
    for (uint32_t p = 0; p < img->page_count; p++)
        FUZZ_CHECK(nvsf_page_state_name(img->pages[p].state) != NULL,
                   "page %u state name", p);
}

static void check_export(const nvsf_image *img)
{
    char *csv = NULL;
    size_t len = 0;
    nvsf_error err;
    int rc = nvsf_image_csv(img, &csv, &len, &err);
    if (rc) {
        fuzz_check_error(rc, &err, "nvsf_image_csv");
        FUZZ_CHECK(csv == NULL, "a failed export left a CSV");
        return;
    }
    FUZZ_CHECK(csv != NULL && strlen(csv) == len, "exported CSV length");
    nvsf_csv_reader *r = nvsf_csv_reader_mem(
        "dump.csv", csv, len, NVSF_CSV_HASH_COMMENTS | NVSF_CSV_SKIP_BLANK);
    FUZZ_CHECK(r != NULL, "reader not created");
    nvsf_csv_record rec;
    size_t n = 0;
    while ((rc = nvsf_csv_next(r, &rec, &err)) == 1) {
        FUZZ_CHECK(rec.nfields == 4, "exported record %zu has %zu fields", n,
                   rec.nfields);
        if (n++ == 0)
            FUZZ_CHECK(strcmp(rec.fields[0].data, "key") == 0 &&
                           strcmp(rec.fields[1].data, "type") == 0 &&
                           strcmp(rec.fields[2].data, "encoding") == 0 &&
                           strcmp(rec.fields[3].data, "value") == 0,
                       "exported header");
    }
    FUZZ_CHECK(rc == 0, "the exported CSV does not read: %s", err.message);
    FUZZ_CHECK(n >= 1, "exported CSV without a header");
    nvsf_csv_reader_free(r);
    if (img->page_count <= 16) {
        size_t diff = 0;
        rc = nvsf_image_csv_regenerates(img, csv, len, &diff, &err);
        if (rc < 0)
            fuzz_check_error(rc, &err, "nvsf_image_csv_regenerates");
        else
            FUZZ_CHECK(rc == 1 || diff <= img->size, "first difference %zu",
                       diff);
    }
    free(csv);
}

/* What a cut write leaves, one start-up repairs for good: opening the
 * repaired bytes again makes no repair. (Damage may take ESP-IDF more than
 * one start-up, or one read after another, as it does on a device.) */
static void check_reload(nvsf_image *img)
{
    nvsf_error err;
    if (img->severity != NVSF_REPAIRABLE)
        return;
    FUZZ_CHECK(nvsf_image_reload(img, &err) == 0, "reload: %s", err.message);
    for (size_t i = 0; i < img->problem_count; i++)
        FUZZ_CHECK(img->problems[i].repair == NVSF_REPAIR_NONE,
                   "reload repairs again: page %ld entry %d: %s",
                   img->problems[i].page, img->problems[i].entry,
                   img->problems[i].message);
}

static nvsf_image *read_checked(const uint8_t *data, size_t size,
                                const uint8_t *key, const uint8_t *orig)
{
    nvsf_image *img = NULL;
    nvsf_error err;
    int rc = nvsf_image_read(data, size, key, &img, &err);
    /* A key that leaves no written entry with a valid CRC does not fit:
     * refused, and the reader says so again. */
    if (key && rc == NVSF_E_KEY) {
        FUZZ_CHECK(img == NULL, "a refused key left an image");
        FUZZ_CHECK(nvsf_image_check_key(data, size, key, &err) == NVSF_E_KEY,
                   "nvsf_image_check_key disagrees with nvsf_image_read");
        return NULL;
    }
    FUZZ_CHECK(rc == 0, "nvsf_image_read: %d %s", rc, err.message);
    if (key)
        FUZZ_CHECK(nvsf_image_check_key(data, size, key, &err) == 0,
                   "nvsf_image_check_key refuses a key the reader takes");
    check_image(img, orig, size, key != NULL);
    check_export(img);
    return img;
}

/* What ESP-IDF would read is the same with and without encryption. */
static void same_reading(const nvsf_image *a, const nvsf_image *b)
{
    FUZZ_CHECK(a->page_count == b->page_count &&
                   a->page_order_count == b->page_order_count &&
                   a->version == b->version,
               "encrypted read: pages differ");
    for (uint32_t p = 0; p < a->page_count; p++)
        FUZZ_CHECK(a->pages[p].readable == b->pages[p].readable &&
                       a->pages[p].written == b->pages[p].written,
                   "encrypted read: page %u differs", p);
    FUZZ_CHECK(a->namespace_count == b->namespace_count,
               "encrypted read: %zu namespaces vs %zu", a->namespace_count,
               b->namespace_count);
    for (size_t i = 0; i < a->namespace_count; i++)
        FUZZ_CHECK(a->namespaces[i].index == b->namespaces[i].index &&
                       strcmp(a->namespaces[i].name, b->namespaces[i].name) == 0,
                   "encrypted read: namespace %zu differs", i);
    FUZZ_CHECK(a->item_count == b->item_count,
               "encrypted read: %zu items vs %zu", a->item_count,
               b->item_count);
    for (size_t i = 0; i < a->item_count; i++) {
        const nvsf_item *x = &a->items[i], *y = &b->items[i];
        FUZZ_CHECK(x->page == y->page && x->entry == y->entry &&
                       x->ns_index == y->ns_index && x->type == y->type &&
                       strcmp(x->key, y->key) == 0 && x->value == y->value &&
                       x->len == y->len && x->chunks == y->chunks &&
                       (x->len == 0 || memcmp(x->data, y->data, x->len) == 0),
                   "encrypted read: item %zu ('%s') differs", i, x->key);
    }
}

/* Encryption touches only entries the bitmap marks on pages with a header;
 * decryption every entry that is not all 0xFF. They are inverse when the
 * rest is erased flash and no ciphertext is all 0xFF. */
static int round_trips(const uint8_t *plain, const uint8_t *enc, size_t size)
{
    for (size_t off = 0; off < size; off += NVS_PAGE_SIZE) {
        const uint8_t *pg = plain + off;
        int header = !all_ff(pg, NVS_PAGE_HEADER_SIZE);
        for (unsigned i = 0; i < NVS_ENTRIES_PER_PAGE; i++) {
            size_t at = NVS_FIRST_ENTRY_OFFSET + i * NVS_ENTRY_SIZE;
            int taken = header && nvs_bitmap_get(pg, i) != NVS_ENTRY_STATE_EMPTY;
            if (!taken && !all_ff(pg + at, NVS_ENTRY_SIZE))
                return 0;
            if (taken && all_ff(enc + off + at, NVS_ENTRY_SIZE))
                return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The image in a buffer of its exact size: reads past it are caught. */
    uint8_t *copy = fuzz_dup(data, size);
    nvsf_image *plain = read_checked(copy, size, NULL, data);
    nvsf_image_free(read_checked(copy, size, FUZZ_XTS_KEY, data));
    if (size && size % NVS_PAGE_SIZE == 0) {
        nvsf_error err;
        FUZZ_CHECK(nvsf_image_encrypt(copy, size, FUZZ_XTS_KEY, &err) == 0,
                   "nvsf_image_encrypt: %s", err.message);
        /* Headers and bitmaps stay plain. */
        for (size_t off = 0; off < size; off += NVS_PAGE_SIZE)
            FUZZ_CHECK(memcmp(copy + off, data + off, NVS_FIRST_ENTRY_OFFSET) == 0,
                       "encryption changed the header of page %zu",
                       off / NVS_PAGE_SIZE);
        if (round_trips(data, copy, size)) {
            nvsf_image *enc = read_checked(copy, size, FUZZ_XTS_KEY, NULL);
            /* refused only when the plain image has no valid CRC either */
            if (enc)
                same_reading(plain, enc);
            nvsf_image_free(enc);
            FUZZ_CHECK(nvsf_image_decrypt(copy, size, FUZZ_XTS_KEY, &err) == 0,
                       "nvsf_image_decrypt: %s", err.message);
            FUZZ_CHECK(memcmp(copy, data, size) == 0,
                       "decrypt(encrypt(image)) is not the image");
        }
    }
    check_reload(plain);
    nvsf_image_free(plain);
    free(copy);
    return 0;
}
