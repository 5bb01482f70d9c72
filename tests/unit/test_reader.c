/*
 * The image reader and checker (lib/reader.c):
 *   - every reference image of the conformance cases reads back sound, and
 *     its CSV export generates the same bytes again (encrypted ones with
 *     their key, through the same builder and row writer the command line
 *     uses);
 *   - every single bit flipped in a few images is caught (exhaustively, in
 *     process), but for the one flip no reader can tell from a deletion:
 *     a written single-entry item marked erased;
 *   - images as ESP-IDF's library leaves them (pages out of order, erased
 *     entries, a freeing page, blobs of the second version at chunk 128);
 *   - each kind of problem, CSV cases that cannot be represented, the Wi-Fi
 *     items the generator adds by itself, and bytes of any size.
 * Run from tests/unit: the cases are in ../conformance/cases.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nvs_format.h"
#include "nvsforge/nvsforge.h"
#include "reader.h"
#include "slurp.h"

#define CASES "../conformance/cases"
#define PAGE 4096u

/* ---- helpers ------------------------------------------------------------- */


/* snprintf that fails the test rather than cut a path. */
static void fmt(char *out, size_t cap, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

static void fmt(char *out, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(out, cap, f, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < cap);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static nvsf_image *read_image(const uint8_t *data, size_t len,
                              const uint8_t *key)
{
    nvsf_image *img = NULL;
    nvsf_error err = {0};
    assert_int_equal(nvsf_image_read(data, len, key, &img, &err), 0);
    assert_non_null(img);
    return img;
}

static void print_problems(const char *what, const nvsf_image *img)
{
    for (size_t k = 0; k < img->problem_count; k++)
        print_error("%s: page %ld entry %d: %s\n", what, img->problems[k].page,
                    img->problems[k].entry, img->problems[k].message);
}

static int has_problem(const nvsf_image *img, enum nvsf_problem_kind kind,
                       const char *text)
{
    for (size_t k = 0; k < img->problem_count; k++)
        if (img->problems[k].kind == kind &&
            (!text || strstr(img->problems[k].message, text)))
            return 1;
    return 0;
}

/* Read an image and require a problem of `kind` whose message holds
 * `text`. */
static void expect_problem(const uint8_t *data, size_t len, const uint8_t *key,
                           enum nvsf_problem_kind kind, const char *text)
{
    nvsf_image *img = read_image(data, len, key);
    if (!has_problem(img, kind, text)) {
        print_problems("found", img);
        fail_msg("no problem of kind %d saying '%s'", (int)kind, text);
    }
    nvsf_image_free(img);
}

static const nvsf_item *find_item(const nvsf_image *img, const char *key)
{
    for (size_t k = 0; k < img->item_count; k++)
        if (strcmp(img->items[k].key, key) == 0)
            return &img->items[k];
    return NULL;
}

/* Generate a CSV as `nvs_partition_gen generate/encrypt` does. */
static uint8_t *generate(const char *csv, size_t len, uint32_t size,
                         int version, const uint8_t *key, nvsf_error *err)
{
    nvsf_builder *b = NULL;
    nvsf_rows *rows = NULL;
    uint8_t *out = malloc(size);
    assert_non_null(out);
    int rc = nvsf_builder_new(&b, size, version, key, err);
    if (!rc)
        rc = nvsf_rows_new(&rows, b, NULL, NULL, err);
    if (!rc)
        rc = nvsf_rows_add_csv(rows, "test.csv", csv, len, err);
    if (!rc)
        rc = nvsf_builder_finish(b, out, err);
    nvsf_rows_free(rows);
    nvsf_builder_free(b);
    if (rc) {
        free(out);
        return NULL;
    }
    return out;
}

static uint8_t *generate_ok(const char *csv, uint32_t size, int version)
{
    nvsf_error err = {0};
    uint8_t *img = generate(csv, strlen(csv), size, version, NULL, &err);
    if (!img)
        fail_msg("generate: %s", err.message);
    return img;
}

static char *export_csv(const nvsf_image *img, nvsf_error *err)
{
    char *csv = NULL;
    size_t len;
    return nvsf_image_csv(img, &csv, &len, err) ? NULL : csv;
}

static uint8_t *entry_at(uint8_t *img, unsigned page, unsigned i)
{
    return img + (size_t)page * PAGE + NVS_FIRST_ENTRY_OFFSET +
           i * NVS_ENTRY_SIZE;
}

static void fix_entry_crc(uint8_t *e)
{
    nvs_store_u32(e + NVS_ENTRY_CRC_OFFSET, nvs_entry_crc(e));
}

static void set_page_header(uint8_t *img, unsigned page, uint32_t state,
                            uint32_t seq)
{
    uint8_t *p = img + (size_t)page * PAGE;
    nvs_store_u32(p, state);
    nvs_store_u32(p + NVS_PAGE_SEQ_OFFSET, seq);
    nvs_store_u32(p + NVS_PAGE_CRC_OFFSET, nvs_page_header_crc(p));
}

/* The entry index of an item's header on page 0, by key. */
static unsigned entry_of(uint8_t *img, unsigned page, const char *key,
                         uint8_t type)
{
    for (unsigned i = 0; i < NVS_ENTRIES_PER_PAGE; i++) {
        uint8_t *e = entry_at(img, page, i);
        if (nvs_bitmap_get(img + (size_t)page * PAGE, i) ==
                NVS_ENTRY_STATE_WRITTEN &&
            e[NVS_ENTRY_TYPE_OFFSET] == type &&
            strncmp((const char *)e + NVS_ENTRY_KEY_OFFSET, key, 16) == 0)
            return i;
    }
    fail_msg("no entry '%s' of type 0x%02x on page %u", key, type, page);
    return 0;
}

/* ---- the reference images ------------------------------------------------ */

typedef struct ref_image {
    char path[512];
    char key_path[512];   /* "" for a plain image */
    char hmac_path[512];  /* the case's hmac.bin when the key derives from it */
} ref_image;

typedef struct ref_list {
    ref_image *v;
    size_t n, cap;
} ref_list;

/* Does case.json say the images it makes are encrypted? */
static int case_encrypts(const char *case_dir)
{
    char path[600];
    fmt(path, sizeof path, "%s/case.json", case_dir);
    size_t len;
    char *json = (char *)slurp(path, &len);
    assert_non_null(json);
    int enc = strstr(json, "\"encrypt\"") != NULL ||
              (strstr(json, "\"mfg_gen\"") &&
               (strstr(json, "--inputkey") || strstr(json, "--keygen")));
    free(json);
    return enc;
}

/* Key files are 4096-byte key partitions under keys/ (outputs of --keygen)
 * or the case's key.bin (the input of --inputkey). */
static void find_key(const char *case_dir, ref_image *r)
{
    char dir[512], stem[256], path[1400];
    fmt(dir, sizeof dir, "%s", r->path);
    char *slash = strrchr(dir, '/');
    fmt(stem, sizeof stem, "%s", slash + 1);
    *strrchr(stem, '.') = '\0';
    *slash = '\0';
    char parent[512];
    fmt(parent, sizeof parent, "%s", dir);
    if ((slash = strrchr(parent, '/')))
        *slash = '\0';
    fmt(path, sizeof path, "%s/keys/keys-%s.bin", parent, stem);
    if (!file_exists(path)) {
        fmt(path, sizeof path, "%s/keys/k.bin", dir);
        if (!file_exists(path))
            fmt(path, sizeof path, "%s/key.bin", case_dir);
    }
    assert_true(file_exists(path));
    fmt(r->key_path, sizeof r->key_path, "%s", path);
    fmt(path, sizeof path, "%s/hmac.bin", case_dir);
    if (strstr(r->key_path, "/keys/") && file_exists(path))
        fmt(r->hmac_path, sizeof r->hmac_path, "%s", path);
}

static void collect_bins(const char *dir, const char *case_dir, int enc,
                         ref_list *list)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[1024];
        fmt(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (strcmp(de->d_name, "keys") != 0) /* key partitions */
                collect_bins(path, case_dir, enc, list);
            continue;
        }
        size_t n = strlen(de->d_name);
        if (n < 4 || strcmp(de->d_name + n - 4, ".bin") != 0)
            continue;
        if (list->n == list->cap) {
            list->cap = list->cap ? list->cap * 2 : 64;
            list->v = realloc(list->v, list->cap * sizeof *list->v);
            assert_non_null(list->v);
        }
        ref_image *r = &list->v[list->n++];
        memset(r, 0, sizeof *r);
        fmt(r->path, sizeof r->path, "%s", path);
        if (enc)
            find_key(case_dir, r);
    }
    closedir(d);
}

static int cmp_ref(const void *a, const void *b)
{
    return strcmp(((const ref_image *)a)->path, ((const ref_image *)b)->path);
}

static ref_list reference_images(void)
{
    ref_list list = {0};
    DIR *d = opendir(CASES);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char case_dir[512], expected[600];
        fmt(case_dir, sizeof case_dir, CASES "/%s", de->d_name);
        fmt(expected, sizeof expected, "%s/expected", case_dir);
        struct stat st;
        if (stat(expected, &st) == 0 && S_ISDIR(st.st_mode))
            collect_bins(expected, case_dir, case_encrypts(case_dir), &list);
    }
    closedir(d);
    qsort(list.v, list.n, sizeof *list.v, cmp_ref);
    return list;
}

static void read_key(const ref_image *r, uint8_t key[NVSF_XTS_KEY_SIZE])
{
    size_t len;
    uint8_t *data = slurp(r->key_path, &len);
    assert_non_null(data);
    nvsf_error err = {0};
    assert_int_equal(nvsf_key_partition_read(data, len, key, &err), 0);
    free(data);
    if (r->hmac_path[0]) {
        /* The key of an HMAC case is the one derived from its HMAC key. */
        uint8_t *hmac = slurp(r->hmac_path, &len), derived[NVSF_XTS_KEY_SIZE];
        assert_non_null(hmac);
        assert_int_equal(len, NVSF_HMAC_KEY_SIZE);
        assert_int_equal(nvsf_key_from_hmac(hmac, derived, &err), 0);
        assert_memory_equal(derived, key, NVSF_XTS_KEY_SIZE);
        free(hmac);
    }
}

static void test_reference_images_round_trip(void **state)
{
    (void)state;
    ref_list list = reference_images();
    size_t encrypted = 0, hmac = 0;
    for (size_t k = 0; k < list.n; k++) {
        const ref_image *r = &list.v[k];
        size_t len;
        uint8_t *data = slurp(r->path, &len), key[NVSF_XTS_KEY_SIZE];
        assert_non_null(data);
        int enc = r->key_path[0] != '\0';
        if (enc)
            read_key(r, key);
        nvsf_image *img = read_image(data, len, enc ? key : NULL);
        if (img->problem_count) {
            print_problems(r->path, img);
            fail_msg("%s: the checker finds problems in a reference image",
                     r->path);
        }
        assert_true(img->item_count > 0);
        nvsf_error err = {0};
        char *csv = export_csv(img, &err);
        if (!csv)
            fail_msg("%s: %s", r->path, err.message);
        uint8_t *again = generate(csv, strlen(csv), (uint32_t)len,
                                  img->version, enc ? key : NULL, &err);
        if (!again)
            fail_msg("%s: generating the CSV: %s\n%s", r->path, err.message, csv);
        if (memcmp(again, data, len) != 0)
            fail_msg("%s: the CSV does not generate the same image\n%s", r->path,
                     csv);
        size_t diff;
        assert_int_equal(nvsf_image_csv_regenerates(img, csv, strlen(csv), &diff,
                                                    &err),
                         1);
        encrypted += enc;
        hmac += r->hmac_path[0] != '\0';
        free(again);
        free(csv);
        nvsf_image_free(img);
        free(data);
    }
    print_message("reference images: %zu read sound and regenerated byte for "
                  "byte (%zu encrypted, %zu with an HMAC-derived key)\n",
                  list.n, encrypted, hmac);
    assert_true(list.n > 100);
    assert_true(encrypted > 20);
    assert_true(hmac > 5);
    free(list.v);
}

/* ---- bit flips ------------------------------------------------------------ */

typedef struct flip_tally {
    size_t flips, caught, damaged, deletions;
} flip_tally;

/* Flip every bit of an image, read each copy, and count what is caught
 * (repairable or damaged; damaged: what no interrupted write explains). A
 * flip that leaves no problem must be the one a reader cannot tell from a
 * deletion: the bitmap marking a written single-entry item erased. */
static void flip_every_bit(const char *path, const uint8_t *key, size_t stride,
                           flip_tally *t)
{
    size_t len;
    uint8_t *data = slurp(path, &len);
    assert_non_null(data);
    nvsf_image *orig = read_image(data, len, key);
    assert_int_equal(orig->problem_count, 0);
    size_t items = orig->item_count, namespaces = orig->namespace_count;
    for (size_t bit = 0; bit < len * 8; bit += stride) {
        size_t off = bit / 8;
        data[off] ^= (uint8_t)(1u << (bit % 8));
        nvsf_image *img = read_image(data, len, key);
        t->flips++;
        if (img->problem_count) {
            assert_true(img->severity >= NVSF_REPAIRABLE);
            t->caught++;
            t->damaged += img->severity >= NVSF_DAMAGED;
        } else {
            size_t in_page = off % PAGE;
            unsigned entry = (unsigned)(in_page - NVS_BITMAP_OFFSET) * 4 +
                             (unsigned)(bit % 8) / 2;
            int erasing = in_page >= NVS_BITMAP_OFFSET &&
                          in_page < NVS_BITMAP_OFFSET + NVS_BITMAP_SIZE &&
                          entry < NVS_ENTRIES_PER_PAGE && bit % 2 == 1 && (data[off] >> (bit % 8) & 1) == 0 &&
                          orig->pages[off / PAGE].entry_state[entry] ==
                              NVS_ENTRY_STATE_WRITTEN;
            if (!erasing ||
                img->item_count + img->namespace_count + 1 != items + namespaces)
                fail_msg("%s: flipping bit %zu of byte 0x%zx is not caught",
                         path, bit % 8, off);
            t->deletions++;
        }
        nvsf_image_free(img);
        data[off] ^= (uint8_t)(1u << (bit % 8));
    }
    nvsf_image_free(orig);
    free(data);
}

static void test_bit_flips_plain(void **state)
{
    (void)state;
    static const char *const images[] = {
        CASES "/nvs_extras_0/expected/out.bin", /* strings, Wi-Fi blobs */
        CASES "/nvs_101_002/expected/out.bin",  /* read-only, 2 pages */
        CASES "/nvs_101_010/expected/out.bin",  /* a blob across pages */
        CASES "/nvs_101_046/expected/out.bin",  /* version 1 */
    };
    flip_tally t = {0};
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++)
        flip_every_bit(images[i], NULL, 1, &t);
    print_message("plain images: %zu single-bit flips, %zu caught (%zu "
                  "damaged, the rest repairable: what a cut write could "
                  "leave), %zu indistinguishable from deleting a one-entry "
                  "item\n",
                  t.flips, t.caught, t.damaged, t.deletions);
    assert_int_equal(t.flips, t.caught + t.deletions);
    assert_true(t.deletions * 100 < t.flips);
    assert_true(t.damaged * 100 > t.caught * 99);
}

static void test_bit_flips_encrypted(void **state)
{
    (void)state;
    ref_image r = {0};
    fmt(r.path, sizeof r.path, CASES "/nvs_101_014/expected/o/out.bin");
    find_key(CASES "/nvs_101_014", &r);
    uint8_t key[NVSF_XTS_KEY_SIZE];
    read_key(&r, key);
    flip_tally t = {0};
    /* Every 3rd bit: each read decrypts the whole image. */
    flip_every_bit(r.path, key, 3, &t);
    print_message("encrypted image: %zu single-bit flips, %zu caught (%zu "
                  "damaged), %zu indistinguishable from deleting a one-entry "
                  "item\n",
                  t.flips, t.caught, t.damaged, t.deletions);
    assert_int_equal(t.flips, t.caught + t.deletions);
}

/* ---- images as ESP-IDF leaves them ---------------------------------------- */

static const char multi_page_csv[] =
    "key,type,encoding,value\n"
    "app,namespace,,\n"
    "a,data,u32,7\n"
    "s,data,string,hello\n"
    "big,data,hex2bin,"
    /* 5000 bytes: a blob in two chunks over pages 0 and 1 */
    "%s\n"
    "z,data,i8,-3\n";

/* The image of multi_page_csv at 0x4000 bytes, version 2. */
static uint8_t *multi_page_image(void)
{
    char *hex = malloc(10001);
    assert_non_null(hex);
    for (int i = 0; i < 5000; i++)
        snprintf(hex + 2 * i, 3, "%02x", (i * 7) & 0xFF);
    char *csv = malloc(sizeof multi_page_csv + 10000);
    assert_non_null(csv);
    snprintf(csv, sizeof multi_page_csv + 10000, multi_page_csv, hex);
    free(hex);
    uint8_t *img = generate_ok(csv, 0x4000, 2);
    free(csv);
    return img;
}

static void test_pages_out_of_order(void **state)
{
    (void)state;
    uint8_t *img = multi_page_image();
    nvsf_image *orig = read_image(img, 0x4000, NULL);
    assert_int_equal(orig->problem_count, 0);
    const nvsf_item *big = find_item(orig, "big");
    assert_non_null(big);
    assert_int_equal(big->len, 5000);
    assert_int_equal(big->chunks, 2);
    nvsf_error err = {0};
    char *before = export_csv(orig, &err);
    assert_non_null(before);

    /* Pages 0 and 1 hold data: swap them with pages 3 and 2. */
    uint8_t *moved = malloc(0x4000);
    memcpy(moved + 3 * PAGE, img, PAGE);
    memcpy(moved + 2 * PAGE, img + PAGE, PAGE);
    memcpy(moved, img + 2 * PAGE, 2 * PAGE);
    nvsf_image *swapped = read_image(moved, 0x4000, NULL);
    print_problems("swapped", swapped);
    assert_int_equal(swapped->problem_count, 0);
    assert_int_equal(swapped->page_order_count, 2);
    assert_int_equal(swapped->page_order[0], 3);
    assert_int_equal(swapped->page_order[1], 2);
    char *after = export_csv(swapped, &err);
    assert_non_null(after);
    assert_string_equal(before, after);
    size_t diff;
    assert_int_equal(nvsf_image_csv_regenerates(swapped, after, strlen(after),
                                                &diff, &err),
                     0);
    assert_int_equal(diff, 0);

    free(after);
    free(before);
    nvsf_image_free(swapped);
    nvsf_image_free(orig);
    free(moved);
    free(img);
}

static void test_erased_entries(void **state)
{
    (void)state;
    uint8_t *img = multi_page_image();
    /* ESP-IDF erases an item by clearing its entries' bits to 00. */
    unsigned a = entry_of(img, 0, "a", NVSF_TYPE_U32);
    unsigned s = entry_of(img, 0, "s", NVSF_TYPE_STRING);
    nvs_bitmap_set(img, a, NVS_ENTRY_STATE_ERASED);
    nvs_bitmap_set(img, s, NVS_ENTRY_STATE_ERASED);
    nvs_bitmap_set(img, s + 1, NVS_ENTRY_STATE_ERASED);
    nvsf_image *r = read_image(img, 0x4000, NULL);
    print_problems("erased", r);
    assert_int_equal(r->problem_count, 0);
    assert_null(find_item(r, "a"));
    assert_null(find_item(r, "s"));
    assert_non_null(find_item(r, "big"));
    assert_int_equal(r->pages[0].erased, 3);
    nvsf_error err = {0};
    char *out = export_csv(r, &err);
    assert_non_null(out);
    assert_null(strstr(out, "\r\na,"));
    assert_non_null(strstr(out, "\r\nz,data,i8,-3\r\n"));
    free(out);
    nvsf_image_free(r);

    /* A header erased but its data entries left written: ESP-IDF takes the
     * data entry for an item whose CRC fails, and erases it. */
    nvs_bitmap_set(img, s + 1, NVS_ENTRY_STATE_WRITTEN);
    r = read_image(img, 0x4000, NULL);
    assert_true(has_problem(r, NVSF_PROBLEM_STARTUP, "entry header CRC mismatch"));
    assert_int_equal(r->severity, NVSF_DAMAGED);
    assert_int_equal(r->pages[0].entry_state[s + 1], NVS_ENTRY_STATE_ERASED);
    nvsf_image_free(r);
    free(img);
}

static void test_freeing_page(void **state)
{
    (void)state;
    /* Page 0 (sequence 0) was being freed: its items A and B were being
     * copied to page 2 (sequence 2, active), which holds A so far; page 1
     * (sequence 1) is full and holds C. ESP-IDF erases page 2, copies page
     * 0 again into the first free page (3, sequence 3) and erases page 0:
     * it reads C, then A and B. */
    uint8_t *ab = generate_ok("key,type,encoding,value\nn,namespace,,\n"
                              "A,data,u8,1\nB,data,u8,2\n",
                              0x4000, 2);
    uint8_t *c = generate_ok("key,type,encoding,value\nn,namespace,,\n"
                             "C,data,u8,3\n",
                             0x4000, 2);
    uint8_t *img = malloc(0x4000);
    memset(img, 0xFF, 0x4000);
    memcpy(img, ab, PAGE);
    set_page_header(img, 0, NVS_PAGE_STATE_FREEING, 0);
    memcpy(img + PAGE, c, PAGE);
    nvs_bitmap_set(img + PAGE, 0, NVS_ENTRY_STATE_ERASED); /* its own "n" */
    set_page_header(img + PAGE, 0, NVS_PAGE_STATE_FULL, 1);
    memcpy(img + 2 * PAGE, ab, PAGE);
    memset(entry_at(img, 2, 2), 0xFF, NVS_ENTRY_SIZE); /* B not copied yet */
    nvs_bitmap_set(img + 2 * PAGE, 2, NVS_ENTRY_STATE_EMPTY);
    set_page_header(img + 2 * PAGE, 0, NVS_PAGE_STATE_ACTIVE, 2);

    nvsf_image *r = read_image(img, 0x4000, NULL);
    print_problems("freeing", r);
    assert_int_equal(r->problem_count, 2);
    assert_int_equal(r->severity, NVSF_REPAIRABLE);
    assert_true(has_problem(r, NVSF_PROBLEM_STARTUP, "partial copy"));
    assert_int_equal(r->problems[0].page, 2);
    assert_int_equal(r->problems[0].repair, NVSF_REPAIR_ERASE_PAGE);
    assert_int_equal(r->problems[1].page, 0);
    assert_int_equal(r->problems[1].repair, NVSF_REPAIR_COPY_PAGE);
    assert_int_equal(r->problems[1].count, 3); /* n, A, B */
    assert_int_equal(r->item_count, 3);
    assert_string_equal(r->items[0].key, "C");
    assert_string_equal(r->items[1].key, "A");
    assert_string_equal(r->items[2].key, "B");
    assert_int_equal(r->page_order_count, 2);
    assert_int_equal(r->page_order[1], 3);
    assert_int_equal(r->active_page, 3);
    assert_int_equal(r->pages[3].seq, 3);
    assert_int_equal(r->pages[3].state, NVS_PAGE_STATE_ACTIVE);
    assert_int_equal(r->pages[3].next_free, 3);
    assert_int_equal(r->pages[0].state, NVS_PAGE_STATE_EMPTY);
    assert_int_equal(r->pages[2].state, NVS_PAGE_STATE_EMPTY);
    assert_int_equal(r->free_count, 2);
    assert_int_equal(r->free_pages[0], 2);
    assert_int_equal(r->free_pages[1], 0);
    assert_int_equal(r->next_seq, 4);
    /* The repaired bytes open sound. */
    nvsf_error err = {0};
    assert_int_equal(nvsf_image_reload(r, &err), 0);
    print_problems("reloaded", r);
    assert_int_equal(r->problem_count, 0);
    assert_int_equal(r->item_count, 3);
    nvsf_image_free(r);
    free(img);
    free(c);
    free(ab);
}

static void test_blob_version_128(void **state)
{
    (void)state;
    uint8_t *img = multi_page_image();
    /* ESP-IDF writes a changed blob's chunks from index 128 on. */
    unsigned c0 = entry_of(img, 0, "big", NVSF_TYPE_BLOB_DATA);
    unsigned c1 = entry_of(img, 1, "big", NVSF_TYPE_BLOB_DATA);
    unsigned ix = entry_of(img, 1, "big", NVSF_TYPE_BLOB_INDEX);
    entry_at(img, 0, c0)[NVS_ENTRY_CHUNK_OFFSET] = 128;
    entry_at(img, 1, c1)[NVS_ENTRY_CHUNK_OFFSET] = 129;
    entry_at(img, 1, ix)[NVS_ENTRY_DATA_OFFSET + 5] = 128;
    fix_entry_crc(entry_at(img, 0, c0));
    fix_entry_crc(entry_at(img, 1, c1));
    fix_entry_crc(entry_at(img, 1, ix));
    nvsf_image *r = read_image(img, 0x4000, NULL);
    print_problems("version 128", r);
    assert_int_equal(r->problem_count, 0);
    const nvsf_item *big = find_item(r, "big");
    assert_non_null(big);
    assert_int_equal(big->len, 5000);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(big->data[i], (i * 7) & 0xFF);
    nvsf_image_free(r);

    /* A chunk count that leaves a chunk out: the index lacks nothing, the
     * left-out chunk belongs to no index, and the size is wrong. */
    entry_at(img, 1, ix)[NVS_ENTRY_DATA_OFFSET + 4] = 1;
    fix_entry_crc(entry_at(img, 1, ix));
    r = read_image(img, 0x4000, NULL);
    assert_true(has_problem(r, NVSF_PROBLEM_BLOB, "says 5000 bytes"));
    assert_true(has_problem(r, NVSF_PROBLEM_STARTUP, "belongs to no blob index"));
    assert_null(find_item(r, "big"));
    nvsf_image_free(r);

    /* A chunk count that asks for one more than there are. */
    entry_at(img, 1, ix)[NVS_ENTRY_DATA_OFFSET + 4] = 3;
    fix_entry_crc(entry_at(img, 1, ix));
    expect_problem(img, 0x4000, NULL, NVSF_PROBLEM_BLOB, "chunk 130 is missing");
    free(img);
}

/* ---- problems ---------------------------------------------------------------- */

static void test_problem_kinds(void **state)
{
    (void)state;
    static const char csv[] = "key,type,encoding,value\nns,namespace,,\n"
                              "a,data,u8,1\nb,data,u8,2\ns,data,string,abc\n";
    uint8_t *img = generate_ok(csv, 0x3000, 2);
    uint8_t *copy = malloc(0x3000);
    nvsf_image *r;

    /* Duplicate key on the active page: rename b to a. ESP-IDF erases the
     * older one, as a set cut before it erased the old value. */
    memcpy(copy, img, 0x3000);
    uint8_t *b = entry_at(copy, 0, entry_of(copy, 0, "b", NVSF_TYPE_U8));
    b[NVS_ENTRY_KEY_OFFSET] = 'a';
    fix_entry_crc(b);
    r = read_image(copy, 0x3000, NULL);
    assert_true(has_problem(r, NVSF_PROBLEM_STARTUP, "'a'"));
    assert_int_equal(r->severity, NVSF_REPAIRABLE);
    assert_int_equal(find_item(r, "a")->value, 2);
    nvsf_image_free(r);

    /* A namespace index no entry declares. */
    memcpy(copy, img, 0x3000);
    b = entry_at(copy, 0, entry_of(copy, 0, "b", NVSF_TYPE_U8));
    b[NVS_ENTRY_NS_OFFSET] = 9;
    fix_entry_crc(b);
    r = read_image(copy, 0x3000, NULL);
    assert_true(has_problem(r, NVSF_PROBLEM_NAMESPACE, "index 9"));
    assert_null(find_item(r, "b")->ns_name);
    nvsf_error err = {0};
    assert_null(export_csv(r, &err));
    assert_int_equal(err.code, NVSF_E_FORMAT);
    nvsf_image_free(r);

    /* A span running past the page, with its CRC fixed. */
    memcpy(copy, img, 0x3000);
    b = entry_at(copy, 0, entry_of(copy, 0, "s", NVSF_TYPE_STRING));
    b[NVS_ENTRY_SPAN_OFFSET] = 200;
    fix_entry_crc(b);
    r = read_image(copy, 0x3000, NULL);
    assert_true(has_problem(r, NVSF_PROBLEM_STARTUP, "past the end"));
    assert_int_equal(r->severity, NVSF_UNUSABLE);
    nvsf_image_free(r);

    /* A string's data changed: its data CRC, reported at its header. */
    memcpy(copy, img, 0x3000);
    unsigned s = entry_of(copy, 0, "s", NVSF_TYPE_STRING);
    entry_at(copy, 0, s + 1)[0] = 'X';
    r = read_image(copy, 0x3000, NULL);
    assert_true(has_problem(r, NVSF_PROBLEM_DATA_CRC, "'s'"));
    assert_int_equal(r->problems[0].entry, (int)s);
    nvsf_image_free(r);

    /* Padding after a value, and an empty entry, not 0xFF. */
    memcpy(copy, img, 0x3000);
    entry_at(copy, 0, s + 1)[10] = 0;
    entry_at(copy, 0, 100)[5] = 0x7F;
    expect_problem(copy, 0x3000, NULL, NVSF_PROBLEM_NOT_ERASED, "padding");
    expect_problem(copy, 0x3000, NULL, NVSF_PROBLEM_NOT_ERASED, "marked empty");

    /* An unknown page state and a newer format version, CRC fixed. */
    memcpy(copy, img, 0x3000);
    set_page_header(copy, 0, 0xFFFFFF00u, 0);
    expect_problem(copy, 0x3000, NULL, NVSF_PROBLEM_STARTUP,
                   "page state 0xffffff00");
    memcpy(copy, img, 0x3000);
    copy[NVS_PAGE_VERSION_OFFSET] = 0xFD;
    set_page_header(copy, 0, NVS_PAGE_STATE_ACTIVE, 0);
    r = read_image(copy, 0x3000, NULL);
    assert_true(has_problem(r, NVSF_PROBLEM_STARTUP, "version byte 0xfd"));
    assert_int_equal(r->severity, NVSF_UNUSABLE);
    nvsf_image_free(r);

    /* Two active pages, the newest full; no page left erased. */
    memcpy(copy, img, 0x3000);
    memcpy(copy + PAGE, copy, PAGE);
    set_page_header(copy, 1, NVS_PAGE_STATE_ACTIVE, 1);
    memcpy(copy + 2 * PAGE, copy, PAGE);
    set_page_header(copy, 2, NVS_PAGE_STATE_FULL, 2);
    r = read_image(copy, 0x3000, NULL);
    assert_true(has_problem(r, NVSF_PROBLEM_PAGE_STATE, "only the newest"));
    assert_true(has_problem(r, NVSF_PROBLEM_STARTUP, "no page is free"));
    assert_int_equal(r->severity, NVSF_UNUSABLE);
    assert_true(has_problem(r, NVSF_PROBLEM_NAMESPACE, "declared again"));
    assert_true(has_problem(r, NVSF_PROBLEM_DUPLICATE, NULL));
    nvsf_image_free(r);

    /* No page active at all. */
    memcpy(copy, img, 0x3000);
    set_page_header(copy, 0, NVS_PAGE_STATE_FULL, 0);
    r = read_image(copy, 0x3000, NULL);
    assert_int_equal(r->problem_count, 1);
    assert_true(has_problem(r, NVSF_PROBLEM_PAGE_STATE, "no page is active"));
    nvsf_image_free(r);

    /* Sizes that are not whole pages. */
    expect_problem(img, 0x3000 - 1, NULL, NVSF_PROBLEM_IMAGE,
                   "not a whole number");
    expect_problem(img, 0, NULL, NVSF_PROBLEM_IMAGE, "empty");

    free(copy);
    free(img);
}

static void test_keys(void **state)
{
    (void)state;
    static const char csv[] = "key,type,encoding,value\nns,namespace,,\n"
                              "a,data,u8,1\ns,data,string,abc\n";
    uint8_t key[NVSF_XTS_KEY_SIZE], other[NVSF_XTS_KEY_SIZE];
    for (unsigned i = 0; i < sizeof key; i++) { /* XTS: two different halves */
        key[i] = (uint8_t)(i + 1);
        other[i] = (uint8_t)(i * 3 + 2);
    }
    nvsf_error err = {0};
    uint8_t *enc = generate(csv, strlen(csv), 0x3000, 2, key, &err);
    uint8_t *plain = generate_ok(csv, 0x3000, 2);
    assert_non_null(enc);

    nvsf_image *r = read_image(enc, 0x3000, key);
    assert_int_equal(r->problem_count, 0);
    assert_true(r->decrypted);
    nvsf_image_free(r);
    /* A key that does not fit is refused, as is a key for a plain image. */
    r = NULL;
    assert_int_equal(nvsf_image_read(enc, 0x3000, other, &r, &err), NVSF_E_KEY);
    assert_null(r);
    assert_non_null(strstr(err.message, "the key does not fit this image"));
    assert_int_equal(nvsf_image_check_key(enc, 0x3000, other, &err), NVSF_E_KEY);
    assert_int_equal(nvsf_image_check_key(enc, 0x3000, key, &err), 0);
    assert_int_equal(nvsf_image_read(plain, 0x3000, key, &r, &err), NVSF_E_KEY);
    assert_int_equal(nvsf_image_check_key(plain, 0x3000, key, &err), NVSF_E_KEY);
    /* Without its key, an encrypted image cannot be opened. */
    r = read_image(enc, 0x3000, NULL);
    assert_int_equal(r->problem_count, 1); /* one line, not one per entry */
    assert_true(has_problem(r, NVSF_PROBLEM_IMAGE, "is encrypted"));
    assert_int_equal(r->severity, NVSF_UNUSABLE);
    nvsf_image_free(r);
    free(plain);
    free(enc);
}

/* ---- the model is mutable ---------------------------------------------------------- */

/* A 0x3000 image of `csv`, encrypted with test_key, and the sound model of
 * it read with that key. */
static const uint8_t *test_key(void)
{
    static uint8_t key[NVSF_XTS_KEY_SIZE];
    for (unsigned i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 5 + 1);
    return key;
}

static nvsf_image *read_encrypted(const char *csv, uint8_t **enc)
{
    nvsf_error err = {0};
    *enc = generate(csv, strlen(csv), 0x3000, 2, test_key(), &err);
    if (!*enc)
        fail_msg("generate: %s", err.message);
    nvsf_image *img = read_image(*enc, 0x3000, test_key());
    assert_int_equal(img->severity, NVSF_SOUND);
    return img;
}

static void test_change_reload_export(void **state)
{
    (void)state;
    static const char csv[] = "key,type,encoding,value\nns,namespace,,\n"
                              "a,data,u8,1\ns,data,string,abc\n";
    uint8_t *enc;
    nvsf_image *img = read_encrypted(csv, &enc);
    nvsf_error err = {0};
    assert_int_equal(img->active_page, 0);
    assert_int_equal(img->next_seq, 1);
    assert_int_equal(img->free_count, 2);
    assert_int_equal(img->entry_count, 3); /* ns, a, s */
    assert_int_equal(img->entries[1].type, NVSF_TYPE_U8);
    assert_string_equal(img->entries[1].key, "a");
    assert_int_equal(img->pages[0].next_free, 4);

    /* Unchanged, the export is the image as given, byte for byte. */
    uint8_t *out = malloc(0x3000);
    assert_int_equal(nvsf_image_export(img, out, &err), 0);
    assert_memory_equal(out, enc, 0x3000);

    /* Set a to 2 as ESP-IDF does: the new item at the next free entry,
     * then the old one erased. */
    uint8_t *bytes = nvsf_image_bytes(img);
    unsigned a = img->entries[1].entry, at = img->pages[0].next_free;
    uint8_t *e = bytes + NVS_FIRST_ENTRY_OFFSET + at * NVS_ENTRY_SIZE;
    memcpy(e, bytes + NVS_FIRST_ENTRY_OFFSET + a * NVS_ENTRY_SIZE, 32);
    e[NVS_ENTRY_DATA_OFFSET] = 2;
    fix_entry_crc(e);
    nvs_bitmap_set(bytes, at, NVS_ENTRY_STATE_WRITTEN);
    nvs_bitmap_set(bytes, a, NVS_ENTRY_STATE_ERASED);
    assert_int_equal(nvsf_image_reload(img, &err), 0);
    assert_int_equal(img->severity, NVSF_SOUND);
    assert_int_equal(find_item(img, "a")->value, 2);
    assert_int_equal(find_item(img, "a")->entry, at);
    assert_int_equal(img->pages[0].next_free, at + 1);

    /* The export differs in the bitmap and the new entry only, and reads
     * back with the key. */
    assert_int_equal(nvsf_image_export(img, out, &err), 0);
    for (size_t i = 0; i < 0x3000; i++) {
        int bitmap = i >= NVS_BITMAP_OFFSET && i < NVS_FIRST_ENTRY_OFFSET;
        int entry = i >= NVS_FIRST_ENTRY_OFFSET + at * NVS_ENTRY_SIZE &&
                    i < NVS_FIRST_ENTRY_OFFSET + (at + 1) * NVS_ENTRY_SIZE;
        if (out[i] != enc[i] && !bitmap && !entry)
            fail_msg("byte 0x%zx changed", i);
    }
    nvsf_image *back = read_image(out, 0x3000, test_key());
    assert_int_equal(back->severity, NVSF_SOUND);
    assert_int_equal(find_item(back, "a")->value, 2);
    nvsf_image_free(back);
    nvsf_image_free(img);
    free(out);
    free(enc);
}

/* Data of 0xFF bytes decrypts to the same bytes as erased flash: when the
 * model erases the page that holds it (as the start-up erases a half-made
 * copy), the export must give erased flash, not the old ciphertext. */
static void test_export_erased_page_of_ff_data(void **state)
{
    (void)state;
    static const char csv[] = "key,type,encoding,value\nns,namespace,,\n"
                              "ff,data,hex2bin,"
                              "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
                              "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n";
    uint8_t *enc;
    nvsf_image *img = read_encrypted(csv, &enc);
    nvsf_error err = {0};
    memset(nvsf_image_bytes(img), 0xFF, NVS_PAGE_SIZE);
    uint8_t *out = malloc(0x3000);
    assert_int_equal(nvsf_image_export(img, out, &err), 0);
    for (size_t i = 0; i < NVS_PAGE_SIZE; i++)
        if (out[i] != 0xFF)
            fail_msg("byte 0x%zx of the erased page is 0x%02x", i, out[i]);
    assert_memory_equal(out + NVS_PAGE_SIZE, enc + NVS_PAGE_SIZE, 0x2000);
    nvsf_image_free(img);
    free(out);
    free(enc);
}

/* ---- CSV export ------------------------------------------------------------------ */

static void round_trip_csv(const char *csv, uint32_t size, int version,
                           const char *must_hold, const char *must_not_hold)
{
    uint8_t *img = generate_ok(csv, size, version);
    nvsf_image *r = read_image(img, size, NULL);
    print_problems("round trip", r);
    assert_int_equal(r->problem_count, 0);
    nvsf_error err = {0};
    char *out = export_csv(r, &err);
    if (!out)
        fail_msg("%s", err.message);
    if (must_hold && !strstr(out, must_hold))
        fail_msg("the CSV does not hold '%s':\n%s", must_hold, out);
    if (must_not_hold && strstr(out, must_not_hold))
        fail_msg("the CSV holds '%s':\n%s", must_not_hold, out);
    uint8_t *again = generate_ok(out, size, version);
    assert_memory_equal(again, img, size);
    free(again);
    free(out);
    nvsf_image_free(r);
    free(img);
}

static void test_csv_namespaces_interleaved(void **state)
{
    (void)state;
    round_trip_csv("key,type,encoding,value\n"
                   "one,namespace,,\na,data,u8,1\n"
                   "two,namespace,,\nb,data,i64,-9223372036854775808\n"
                   "one,namespace,,\nc,data,string,\"x,\"\"y\"\"\nz\"\n"
                   "empty,namespace,,\n"
                   "two,namespace,,\nd,data,hex2bin,\n"
                   "e,data,u64,18446744073709551615\n",
                   0x3000, 2,
                   "one,namespace,,\r\na,data,u8,1\r\ntwo,namespace,,\r\n"
                   "b,data,i64,-9223372036854775808\r\none,namespace,,\r\n"
                   "c,data,string,\"x,\"\"y\"\"\nz\"\r\nempty,namespace,,\r\n"
                   "two,namespace,,\r\nd,data,hex2bin,\r\n",
                   NULL);
    /* Version 1: blobs on one page. */
    round_trip_csv("key,type,encoding,value\nv,namespace,,\n"
                   "b,data,base64,AAECAwQ=\ns,data,string,caf\xc3\xa9\n",
                   0x3000, 1, "b,data,hex2bin,0001020304\r\n", NULL);
    /* Names starting with '#', quoted so that they are not comments;
     * floats and doubles with nvsforge's encodings. */
    round_trip_csv("key,type,encoding,value\n\"#ns\",namespace,,\n"
                   "\"#k\",data,u8,1\nf,data,float,-1.5e-3\n"
                   "d,data,double,inf\n",
                   0x3000, 2,
                   "\"#ns\",namespace,,\r\n\"#k\",data,u8,1\r\n"
                   "f,data,float,-0.0015\r\nd,data,double,inf\r\n",
                   NULL);
}

static void test_csv_wifi_extras(void **state)
{
    (void)state;
    /* sta.* blobs and ap.pmk_info are the generator's own: not listed. */
    round_trip_csv("key,type,encoding,value\nnvs.net80211,namespace,,\n"
                   "ap.ssid,data,string,MyAP\n"
                   "sta.pswd,data,string,pw\n"
                   "ap.passwd,data,string,secret12\n"
                   "x,data,u8,1\n"
                   "ap.authmode,data,u8,3\n"
                   "sta.ssid,data,string,net\n",
                   0x3000, 2, "ap.authmode,data,u8,3\r\n", "pmk");
    /* An authmode of 0 does not count: no ap.pmk_info. */
    round_trip_csv("key,type,encoding,value\nw,namespace,,\n"
                   "ap.authmode,data,u8,0\nap.ssid,data,string,a\n"
                   "ap.passwd,data,string,bbbbbbbb\n",
                   0x3000, 2, "ap.passwd", "pmk");

    /* sta.ssid without the blobs after it (not written by the generator):
     * the CSV would make it write them. */
    nvsf_builder *b = NULL;
    nvsf_error err = {0};
    uint8_t *img = malloc(0x3000);
    assert_int_equal(nvsf_builder_new(&b, 0x3000, 2, NULL, &err), 0);
    assert_int_equal(nvsf_builder_namespace(b, "n", &err), 0);
    assert_int_equal(nvsf_builder_add_string(b, "sta.ssid", "x", 1, &err), 0);
    assert_int_equal(nvsf_builder_finish(b, img, &err), 0);
    nvsf_builder_free(b);
    nvsf_image *r = read_image(img, 0x3000, NULL);
    assert_int_equal(r->problem_count, 0);
    assert_null(export_csv(r, &err));
    assert_int_equal(err.code, NVSF_E_FORMAT);
    assert_non_null(strstr(err.message, "sta.apinfo"));
    nvsf_image_free(r);
    free(img);
}

/* Strings a CSV cell cannot carry, and keys it cannot name. */
static void test_csv_not_representable(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value;
    } cases[] = {
        {"k", "\xff\xfe"},   /* not UTF-8 */
        {"k", "a\rb"},       /* a carriage return reads back as \n */
        {"k\xc3", "v"},      /* a key that is not UTF-8 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nvsf_builder *b = NULL;
        nvsf_error err = {0};
        uint8_t *img = malloc(0x3000);
        assert_int_equal(nvsf_builder_new(&b, 0x3000, 2, NULL, &err), 0);
        assert_int_equal(nvsf_builder_namespace(b, "n", &err), 0);
        assert_int_equal(nvsf_builder_add_string(b, cases[i].key, cases[i].value,
                                                 strlen(cases[i].value), &err),
                         0);
        assert_int_equal(nvsf_builder_finish(b, img, &err), 0);
        nvsf_builder_free(b);
        nvsf_image *r = read_image(img, 0x3000, NULL);
        assert_int_equal(r->problem_count, 0);
        assert_null(export_csv(r, &err));
        assert_int_equal(err.code, NVSF_E_FORMAT);
        assert_non_null(strstr(err.message, "cannot be written"));
        nvsf_image_free(r);
        free(img);
    }
}

/* ---- robustness ---------------------------------------------------------------- */

static uint32_t rng_state = 12345;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void test_arbitrary_bytes(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 31, 4095, 4096, 4097, 8192, 12288, 20000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *data = malloc(sizes[i] + 1);
        for (int fill = 0; fill < 3; fill++) {
            for (size_t k = 0; k < sizes[i]; k++)
                data[k] = fill == 0 ? 0xFF : fill == 1 ? 0x00 : (uint8_t)rnd();
            assert_int_equal(nvsf_fuzz_image(data, sizes[i]), 0);
        }
        free(data);
    }
}

/* Mutations of real images with the CRCs made to hold again, so that the
 * reader goes past them: spans, sizes, chunk counts, states at random. */
static void test_mutations_with_valid_crcs(void **state)
{
    (void)state;
    uint8_t *orig = multi_page_image();
    uint8_t *img = malloc(0x4000);
    for (int round = 0; round < 3000; round++) {
        memcpy(img, orig, 0x4000);
        int n = 1 + (int)(rnd() % 4);
        for (int m = 0; m < n; m++) {
            unsigned page = rnd() % 2, entry = rnd() % NVS_ENTRIES_PER_PAGE;
            uint8_t *e = entry_at(img, page, entry);
            switch (rnd() % 6) {
            case 0: e[NVS_ENTRY_SPAN_OFFSET] = (uint8_t)rnd(); break;
            case 1: e[NVS_ENTRY_TYPE_OFFSET] = (uint8_t)rnd(); break;
            case 2: e[NVS_ENTRY_DATA_OFFSET + rnd() % 8] = (uint8_t)rnd(); break;
            case 3: e[NVS_ENTRY_CHUNK_OFFSET] = (uint8_t)rnd(); break;
            case 4: nvs_bitmap_set(img + page * PAGE, entry, rnd() % 4); break;
            default: e[NVS_ENTRY_NS_OFFSET] = (uint8_t)(rnd() % 4); break;
            }
            fix_entry_crc(e);
        }
        assert_int_equal(nvsf_fuzz_image(img, 0x4000), 0);
        nvsf_image *r = read_image(img, 0x4000, NULL);
        nvsf_image_free(r);
    }
    free(img);
    free(orig);
}

static void test_escape_text(void **state)
{
    (void)state;
    char buf[64];
    const uint8_t s[] = "a\"b\\c\n\x01\xc3\xa9\xff";
    size_t n = nvsf_escape_text(buf, sizeof buf, s, sizeof s - 1);
    assert_string_equal(buf, "a\\\"b\\\\c\\n\\x01\xc3\xa9\\xff");
    assert_int_equal(n, strlen(buf));
    /* Cut at a whole unit, never inside an escape. */
    assert_int_equal(n, 19);
    n = nvsf_escape_text(buf, 5, s, sizeof s - 1);
    assert_string_equal(buf, "a\\\"b");
    assert_int_equal(n, 19);
    n = nvsf_escape_text(buf, 4, s, sizeof s - 1);
    assert_string_equal(buf, "a\\\"");
    assert_int_equal(nvsf_escape_text(NULL, 0, s, 3), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_images_round_trip),
        cmocka_unit_test(test_bit_flips_plain),
        cmocka_unit_test(test_bit_flips_encrypted),
        cmocka_unit_test(test_pages_out_of_order),
        cmocka_unit_test(test_erased_entries),
        cmocka_unit_test(test_freeing_page),
        cmocka_unit_test(test_blob_version_128),
        cmocka_unit_test(test_problem_kinds),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_change_reload_export),
        cmocka_unit_test(test_export_erased_page_of_ff_data),
        cmocka_unit_test(test_csv_namespaces_interleaved),
        cmocka_unit_test(test_csv_wifi_extras),
        cmocka_unit_test(test_csv_not_representable),
        cmocka_unit_test(test_arbitrary_bytes),
        cmocka_unit_test(test_mutations_with_valid_crcs),
        cmocka_unit_test(test_escape_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
