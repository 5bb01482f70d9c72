/*
 * The writer behind `nvsforge set`, `erase` and `apply` (lib/nvs_writer.c):
 * changes to any image, made as ESP-IDF makes them.
 *
 * Input: a setup byte (bits 0-2: pages - 3, so 3 to 10 pages; bit 3: the
 * image is encrypted with FUZZ_XTS_KEY), the image (cut or padded with 0xFF
 * to its size), then changes of 4 bytes each: kind (set u8, u32, u64,
 * string, blob; erase a key; erase a namespace), namespace n0..n3, key
 * k0..k14 or a 16-byte key, and a value or length byte. Seeds: the
 * conformance cases' expected images with a few changes.
 *
 *   - nvsf_edit_open fails only with a code and a message; when it opens,
 *     the image it leaves is what ESP-IDF would open read-write
 *     (repairable at worst);
 *   - every change either succeeds or fails with a code and a message and
 *     leaves every byte as it was;
 *   - at the end the image is still repairable at worst, and when it was
 *     sound once opened, it is sound and every key the changes touched
 *     reads back as last set, or is gone when last erased.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "nvs_format.h"

#define NS_COUNT 4
#define KEY_COUNT 16

/* What the changes left for each namespace and key. */
typedef struct expect {
    int touched;    /* 0: not touched; 1: set; 2: erased */
    uint8_t type;
    uint64_t value;
    uint8_t data[2048];
    size_t len;
} expect;

static void name_of(char out[20], const char *prefix, unsigned i, int key)
{
    if (key && i == KEY_COUNT - 1)
        snprintf(out, 20, "k_that_is_16byte"); /* refused: 16 bytes */
    else
        snprintf(out, 20, "%s%u", prefix, i);
}

static const nvsf_item *find(const nvsf_image *img, const char *ns,
                             const char *key)
{
    for (size_t k = 0; k < img->item_count; k++)
        if (img->items[k].ns_name && strcmp(img->items[k].ns_name, ns) == 0 &&
            strcmp(img->items[k].key, key) == 0)
            return &img->items[k];
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t pages = 3u + (data[0] & 7u), len = pages * NVS_PAGE_SIZE;
    const uint8_t *key = data[0] & 8u ? FUZZ_XTS_KEY : NULL;
    uint8_t *image = malloc(len), *before = malloc(len);
    FUZZ_CHECK(image && before, "out of memory");
    size_t have = size - 1 < len ? size - 1 : len;
    memset(image, 0xFF, len);
    memcpy(image, data + 1, have);
    const uint8_t *ops = data + 1 + have;
    size_t nops = (size - 1 - have) / 4;

    nvsf_error err = {0};
    nvsf_edit *ed = NULL;
    int rc = nvsf_edit_open(&ed, image, len, key, &err);
    if (rc) {
        fuzz_check_error(rc, &err, "nvsf_edit_open");
        free(image);
        free(before);
        return 0;
    }
    nvsf_image *img = NULL;
    FUZZ_CHECK(nvsf_image_read(image, len, key, &img, &err) == 0, "%s",
               err.message);
    FUZZ_CHECK(img->severity <= NVSF_REPAIRABLE && !img->read_only,
               "opened an image ESP-IDF cannot write: %s",
               nvsf_severity_name(img->severity));
    int sound = img->problem_count == 0;
    nvsf_image_free(img);

    static expect want[NS_COUNT][KEY_COUNT];
    memset(want, 0, sizeof want);
    for (size_t i = 0; i < nops && i < 64; i++) {
        const uint8_t *op = ops + 4 * i;
        unsigned kind = op[0] % 7, n = op[1] % NS_COUNT, k = op[2] % KEY_COUNT;
        char ns[20], kn[20];
        name_of(ns, "n", n, 0);
        name_of(kn, "k", k, 1);
        expect *w = &want[n][k];
        memcpy(before, image, len);
        uint8_t buf[2048];
        size_t blen = (size_t)op[3] * 8;
        for (size_t b = 0; b < blen; b++)
            buf[b] = (uint8_t)('a' + (op[3] + b) % 26);
        static const uint8_t ints[] = {NVSF_TYPE_U8, NVSF_TYPE_U32,
                                       NVSF_TYPE_I64};
        uint64_t v = (uint64_t)op[3] * 0x01010101u;
        switch (kind) {
        case 0: case 1: case 2:
            v &= ints[kind] == NVSF_TYPE_U8 ? 0xFFu : UINT64_MAX;
            rc = nvsf_image_set_int(ed, ns, kn, (enum nvsf_item_type)ints[kind],
                                    v, &err);
            if (!rc)
                *w = (expect){.touched = 1, .type = ints[kind], .value = v};
            break;
        case 3:
            rc = nvsf_image_set_string(ed, ns, kn, (const char *)buf, blen, &err);
            if (!rc) {
                *w = (expect){.touched = 1, .type = NVSF_TYPE_STRING,
                              .len = blen + 1};
                memcpy(w->data, buf, blen);
                w->data[blen] = '\0';
            }
            break;
        case 4:
            rc = nvsf_image_set_blob(ed, ns, kn, buf, blen, &err);
            if (!rc) {
                *w = (expect){.touched = 1, .type = NVSF_TYPE_BLOB_INDEX,
                              .len = blen};
                memcpy(w->data, buf, blen);
            }
            break;
        case 5:
            rc = nvsf_image_erase(ed, ns, kn, &err);
            if (!rc)
                *w = (expect){.touched = 2};
            break;
        default:
            rc = nvsf_image_erase(ed, ns, NULL, &err);
            for (unsigned j = 0; !rc && j < KEY_COUNT; j++)
                want[n][j] = (expect){.touched = 2};
            break;
        }
        if (rc) {
            fuzz_check_error(rc, &err, "a change");
            FUZZ_CHECK(memcmp(before, image, len) == 0,
                       "a refused change (%s) wrote", err.message);
        }
    }
    nvsf_edit_close(ed);

    FUZZ_CHECK(nvsf_image_read(image, len, key, &img, &err) == 0, "%s",
               err.message);
    FUZZ_CHECK(img->severity <= NVSF_REPAIRABLE,
               "the changes left the image %s: %s",
               nvsf_severity_name(img->severity),
               img->problem_count ? img->problems[0].message : "");
    if (sound) {
        FUZZ_CHECK(img->problem_count == 0, "the changes left a problem: %s",
                   img->problems[0].message);
        for (unsigned n = 0; n < NS_COUNT; n++) {
            for (unsigned k = 0; k < KEY_COUNT; k++) {
                const expect *w = &want[n][k];
                char ns[20], kn[20];
                name_of(ns, "n", n, 0);
                name_of(kn, "k", k, 1);
                const nvsf_item *it = find(img, ns, kn);
                if (w->touched == 2)
                    FUZZ_CHECK(!it, "%s:%s erased, still there", ns, kn);
                if (w->touched != 1)
                    continue;
                FUZZ_CHECK(it && it->type == w->type, "%s:%s not as set", ns,
                           kn);
                if (w->type == NVSF_TYPE_STRING ||
                    w->type == NVSF_TYPE_BLOB_INDEX)
                    FUZZ_CHECK(it->len == w->len &&
                                   (!w->len ||
                                    memcmp(it->data, w->data, w->len) == 0),
                               "%s:%s reads back other bytes", ns, kn);
                else
                    FUZZ_CHECK((it->value & (w->type == NVSF_TYPE_U8
                                                 ? 0xFFu
                                                 : UINT64_MAX)) == w->value,
                               "%s:%s reads back another value", ns, kn);
            }
        }
    }
    nvsf_image_free(img);
    free(image);
    free(before);
    return 0;
}
