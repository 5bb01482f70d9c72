/*
 * The NVS writer (lib/nvs_writer.c, lib/change_rows.c): changes made as
 * ESP-IDF's library makes them.
 *
 *   - Random series of set and erase on every writable conformance image
 *     and on images written by ESP-IDF itself (../data/device-images, or
 *     the folder $NVSF_DEVICE_IMAGES names; power-cut ones are repaired by
 *     the start-up first, as the device model does): after each step the reader
 *     finds the image sound and lists exactly the expected items; the
 *     bytes changed only as flash can change (bits cleared, or a page
 *     erased by a garbage collection the change reports); one page stays
 *     erased; a refused change leaves every byte as it was; a value equal
 *     to the stored one changes nothing; at the end the image's CSV export
 *     generates an image with the same items.
 *   - A long run on a small partition, plain and encrypted, where garbage
 *     collection happens hundreds of times.
 *   - The rules one by one, on exact bytes: the new item in the active
 *     page then the old one erased, the page sequence going on, the page
 *     garbage collection picks and what it moves where, blob versions,
 *     type changes, new namespace indexes, refusals, encrypted images.
 * Run from tests/unit.
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

#define CASES "../conformance/cases"
#define DEVICE_IMAGES "../data/device-images"
#define PAGE 4096u

/* ---- helpers ------------------------------------------------------------- */

/* A whole file (the images here are small), or NULL when absent. */
static uint8_t *read_image_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    uint8_t *data = malloc((size_t)n + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return data;
}

static uint64_t rng_state;

static uint32_t rnd(uint32_t n) /* 0..n-1 */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return n ? (uint32_t)(rng_state % n) : 0;
}

/* ---- the expected items -------------------------------------------------- */

enum kind { K_INT, K_STRING, K_BLOB };

typedef struct mitem {
    char ns[17], key[17];
    enum kind kind;
    uint8_t type;    /* integers: the type; blobs: 0x41 or 0x48 */
    uint64_t value;  /* integers: the bits of the type's width */
    uint8_t *data;   /* strings (NUL included) and blobs */
    size_t len;
} mitem;

typedef struct model {
    mitem *v;
    size_t n, cap;
    char ns[64][17]; /* namespaces the image declares */
    size_t nns;
} model;

static void model_free(model *m)
{
    for (size_t k = 0; k < m->n; k++)
        free(m->v[k].data);
    free(m->v);
    memset(m, 0, sizeof *m);
}

static uint64_t width_mask(uint8_t type)
{
    unsigned w = type & 0x0Fu;
    return w >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * w)) - 1;
}

static mitem *model_find(model *m, const char *ns, const char *key)
{
    for (size_t k = 0; k < m->n; k++)
        if (strcmp(m->v[k].ns, ns) == 0 && strcmp(m->v[k].key, key) == 0)
            return &m->v[k];
    return NULL;
}

static void model_remove(model *m, mitem *it)
{
    free(it->data);
    *it = m->v[--m->n];
}

static void model_note_ns(model *m, const char *ns)
{
    for (size_t k = 0; k < m->nns; k++)
        if (strcmp(m->ns[k], ns) == 0)
            return;
    if (m->nns < 64)
        snprintf(m->ns[m->nns++], 17, "%s", ns);
}

static mitem *model_put(model *m, const char *ns, const char *key)
{
    model_note_ns(m, ns);
    mitem *it = model_find(m, ns, key);
    if (it) {
        free(it->data);
    } else {
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 64;
            m->v = realloc(m->v, m->cap * sizeof *m->v);
            assert_non_null(m->v);
        }
        it = &m->v[m->n++];
    }
    memset(it, 0, sizeof *it);
    snprintf(it->ns, sizeof it->ns, "%s", ns);
    snprintf(it->key, sizeof it->key, "%s", key);
    return it;
}

static void model_put_bytes(mitem *it, enum kind kind, const void *data,
                            size_t len)
{
    it->kind = kind;
    it->len = len;
    it->data = malloc(len ? len : 1);
    assert_non_null(it->data);
    if (len)
        memcpy(it->data, data, len);
}

/* The items the reader lists, as a model. */
static void model_from_image(model *m, const nvsf_image *img)
{
    memset(m, 0, sizeof *m);
    for (size_t k = 0; k < img->namespace_count; k++)
        model_note_ns(m, img->namespaces[k].name);
    for (size_t k = 0; k < img->item_count; k++) {
        const nvsf_item *x = &img->items[k];
        assert_non_null(x->ns_name);
        mitem *it = model_put(m, x->ns_name, x->key);
        if (x->type == NVSF_TYPE_STRING) {
            model_put_bytes(it, K_STRING, x->data, x->len);
            it->type = NVSF_TYPE_STRING;
        } else if (x->type == NVSF_TYPE_BLOB ||
                   x->type == NVSF_TYPE_BLOB_INDEX) {
            model_put_bytes(it, K_BLOB, x->data, x->len);
            it->type = (uint8_t)x->type;
        } else {
            it->kind = K_INT;
            it->type = (uint8_t)x->type;
            it->value = x->value & width_mask((uint8_t)x->type);
        }
    }
}

static int cmp_item(const void *a, const void *b)
{
    const mitem *x = a, *y = b;
    int c = strcmp(x->ns, y->ns);
    return c ? c : strcmp(x->key, y->key);
}

static int item_differs(const mitem *a, const mitem *b)
{
    if (strcmp(a->ns, b->ns) || strcmp(a->key, b->key) || a->kind != b->kind)
        return 1;
    if (a->kind == K_INT)
        return a->type != b->type || a->value != b->value;
    if (a->type != b->type)
        return 1;
    return a->len != b->len || (a->len && memcmp(a->data, b->data, a->len));
}

/* The reader must list exactly the model's items. */
static void expect_items(const char *what, const nvsf_image *img, model *want)
{
    model got;
    model_from_image(&got, img);
    if (got.n)
        qsort(got.v, got.n, sizeof *got.v, cmp_item);
    if (want->n)
        qsort(want->v, want->n, sizeof *want->v, cmp_item);
    size_t i = 0;
    for (; i < got.n && i < want->n; i++)
        if (item_differs(&got.v[i], &want->v[i]))
            break;
    if (i < got.n || i < want->n) {
        const mitem *g = i < got.n ? &got.v[i] : NULL;
        const mitem *w = i < want->n ? &want->v[i] : NULL;
        fail_msg("%s: items differ at %zu: read %s:%s (kind %d type 0x%x, %zu bytes), "
                 "expected %s:%s (kind %d type 0x%x, %zu bytes); %zu read, %zu expected",
                 what, i, g ? g->ns : "-", g ? g->key : "-", g ? (int)g->kind : -1, g ? g->type : 0,
                 g ? g->len : 0, w ? w->ns : "-", w ? w->key : "-",
                 w ? (int)w->kind : -1, w ? w->type : 0, w ? w->len : 0, got.n, want->n);
    }
    model_free(&got);
}

/* ---- one image under random changes ------------------------------------ */

typedef struct run {
    const char *what;
    uint8_t *bytes;
    size_t size;
    const uint8_t *key;  /* XTS key or NULL */
    nvsf_edit *ed;
    model m;
    size_t gcs, writes, refusals, noops;
    const char **names;  /* key pool, NULL: random names */
    size_t nnames;
    size_t max_len;      /* longest string or blob to try */
} run;

static nvsf_image *read_sound(const run *r, const char *when)
{
    nvsf_image *img = NULL;
    nvsf_error err = {0};
    assert_int_equal(nvsf_image_read(r->bytes, r->size, r->key, &img, &err), 0);
    if (img->problem_count) {
        for (size_t k = 0; k < img->problem_count && k < 5; k++)
            print_error("%s: page %ld entry %d: %s\n", r->what,
                        img->problems[k].page, img->problems[k].entry,
                        img->problems[k].message);
        fail_msg("%s: %s: not sound", r->what, when);
    }
    return img;
}

static size_t count_lines(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* What may differ between two states of a flash: bits cleared, or pages
 * erased (at most one per garbage collection, or per corrupt page taken as
 * a new one). */
static void expect_flash_change(const run *r, const uint8_t *before,
                                size_t gcs)
{
    size_t erased_pages = 0;
    for (size_t p = 0; p < r->size / PAGE; p++) {
        const uint8_t *a = before + p * PAGE, *b = r->bytes + p * PAGE;
        int set_bits = 0;
        for (size_t i = 0; i < PAGE && !set_bits; i++)
            set_bits = (b[i] & ~a[i]) != 0;
        erased_pages += (size_t)set_bits;
    }
    if (erased_pages > gcs)
        fail_msg("%s: %zu pages had bits set, %zu garbage collections",
                 r->what, erased_pages, gcs);
}

/* The image differs from before only in the pages the change's log names
 * ("page N ..."): where it wrote, erased, or collected. */
static void expect_only_logged_pages(const run *r, const uint8_t *before,
                                     const char *log)
{
    for (size_t p = 0; p < r->size / PAGE; p++) {
        if (memcmp(before + p * PAGE, r->bytes + p * PAGE, PAGE) == 0)
            continue;
        char needle[32];
        int named = 0;
        snprintf(needle, sizeof needle, "page %zu ", p);
        named |= strstr(log, needle) != NULL;
        snprintf(needle, sizeof needle, "page %zu:", p);
        named |= strstr(log, needle) != NULL;
        snprintf(needle, sizeof needle, "to page %zu,", p);
        named |= strstr(log, needle) != NULL;
        if (!named)
            fail_msg("%s: page %zu changed, but the change does not name it:\n%s",
                     r->what, p, log);
    }
}

static const char *pick_ns(run *r)
{
    static char fresh[17];
    if (r->m.nns && (rnd(20) || r->m.nns >= 40))
        return r->m.ns[rnd((uint32_t)r->m.nns)];
    snprintf(fresh, sizeof fresh, "ns%u", rnd(1000));
    return fresh;
}

static const char *pick_key(run *r, const char *ns, char buf[17])
{
    if (r->names)
        return r->names[rnd((uint32_t)r->nnames)];
    if (rnd(2)) { /* an existing key of the namespace */
        size_t start = rnd((uint32_t)(r->m.n + 1));
        for (size_t k = 0; k < r->m.n; k++) {
            const mitem *it = &r->m.v[(start + k) % r->m.n];
            if (strcmp(it->ns, ns) == 0)
                return it->key;
        }
    }
    snprintf(buf, 17, "k%u%s", rnd(100000), rnd(4) ? "" : ".long.name");
    return buf;
}

static const uint8_t int_types[] = {
    NVSF_TYPE_U8, NVSF_TYPE_I8, NVSF_TYPE_U16, NVSF_TYPE_I16,
    NVSF_TYPE_U32, NVSF_TYPE_I32, NVSF_TYPE_U64, NVSF_TYPE_I64};

static size_t pick_len(run *r)
{
    uint32_t c = rnd(100);
    size_t max = r->max_len;
    if (c < 70)
        return rnd(64);
    if (c < 95)
        return rnd(max < 600 ? (uint32_t)max : 600);
    return rnd((uint32_t)max + 1);
}

/* One random change, checked. */
static void step(run *r)
{
    uint8_t *before = malloc(r->size);
    assert_non_null(before);
    memcpy(before, r->bytes, r->size);
    size_t log_before = strlen(nvsf_edit_log(r->ed));
    char ns[17], keybuf[17], key[17];
    snprintf(ns, sizeof ns, "%s", pick_ns(r));
    snprintf(key, sizeof key, "%s", pick_key(r, ns, keybuf));
    mitem *old = model_find(&r->m, ns, key);
    nvsf_error err = {0};
    int rc, same = 0;
    uint32_t op = rnd(100);
    uint8_t buf[20000];
    if (op < 10 && (old || rnd(4) == 0)) {
        rc = nvsf_image_erase(r->ed, ns, key, &err);
        if (old) {
            assert_int_equal(rc, 0);
            model_remove(&r->m, old);
        } else {
            assert_int_equal(rc, NVSF_E_INPUT);
        }
    } else if (op < 12) {
        int known = 0;
        for (size_t k = 0; k < r->m.nns; k++)
            known |= strcmp(r->m.ns[k], ns) == 0;
        rc = nvsf_image_erase(r->ed, ns, NULL, &err);
        assert_int_equal(rc, known ? 0 : NVSF_E_INPUT);
        for (size_t k = r->m.n; k-- > 0;)
            if (strcmp(r->m.v[k].ns, ns) == 0)
                model_remove(&r->m, &r->m.v[k]);
    } else if (op < 55) {
        uint8_t type = int_types[rnd(8)];
        uint64_t v = ((uint64_t)rnd(UINT32_MAX) << 32 | rnd(UINT32_MAX)) &
                     width_mask(type);
        if (old && old->kind == K_INT && rnd(3) == 0) {
            type = old->type;
            v = old->value; /* the same value again */
        }
        same = old && old->kind == K_INT && old->type == type && old->value == v;
        rc = nvsf_image_set_int(r->ed, ns, key, type, v, &err);
        if (!rc) {
            mitem *it = model_put(&r->m, ns, key);
            it->kind = K_INT;
            it->type = type;
            it->value = v;
        }
    } else {
        int is_string = op < 78;
        size_t len = pick_len(r);
        if (is_string && len > 3999)
            len = 3999;
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)(is_string ? 'a' + rnd(26) : rnd(256));
        if (old && old->kind == (is_string ? K_STRING : K_BLOB) && rnd(3) == 0) {
            len = is_string ? old->len - 1 : old->len; /* the same again */
            memcpy(buf, old->data, len);
        }
        if (is_string) {
            same = old && old->kind == K_STRING && old->len == len + 1 &&
                   memcmp(old->data, buf, len) == 0;
            rc = nvsf_image_set_string(r->ed, ns, key, (const char *)buf, len,
                                       &err);
            buf[len] = 0;
        } else {
            /* A version-1 blob is always written again, as a new one. */
            same = old && old->kind == K_BLOB &&
                   old->type == NVSF_TYPE_BLOB_INDEX && old->len == len &&
                   (!len || memcmp(old->data, buf, len) == 0);
            rc = nvsf_image_set_blob(r->ed, ns, key, buf, len, &err);
        }
        if (!rc) {
            mitem *it = model_put(&r->m, ns, key);
            model_put_bytes(it, is_string ? K_STRING : K_BLOB, buf,
                            is_string ? len + 1 : len);
            it->type = is_string ? NVSF_TYPE_STRING : NVSF_TYPE_BLOB_INDEX;
        }
    }
    if (rc) {
        /* Only "does not fit" or an erase of what is not there. */
        if (rc != NVSF_E_FULL && rc != NVSF_E_INPUT)
            fail_msg("%s: %s", r->what, err.message);
        assert_memory_equal(before, r->bytes, r->size);
        r->refusals++;
    } else {
        r->writes++;
    }
    if (same) {
        assert_memory_equal(before, r->bytes, r->size);
        r->noops++;
    }
    const char *log = nvsf_edit_log(r->ed) + log_before;
    size_t gcs = count_lines(log, "garbage collection") +
                 count_lines(log, "erased to be the new page");
    r->gcs += gcs;
    expect_flash_change(r, before, gcs);
    expect_only_logged_pages(r, before, log);
    nvsf_image *img = read_sound(r, "after a change");
    if (!img->free_count) /* ESP-IDF keeps one page for itself */
        fail_msg("%s: no page is left free", r->what);
    expect_items(r->what, img, &r->m);
    nvsf_image_free(img);
    free(before);
}

static unsigned regenerated; /* series whose export was generated again */

/* The items of the image's CSV export, generated again, are the same. The
 * export refuses what the generator would not write back the same (a
 * string that is not UTF-8, a Wi-Fi key without the blobs the generator
 * adds after it). */
static void expect_csv_regenerates(run *r, int csv_possible)
{
    nvsf_image *img = read_sound(r, "at the end");
    char *csv = NULL;
    size_t len = 0;
    nvsf_error err = {0};
    int rc = nvsf_image_csv(img, &csv, &len, &err);
    nvsf_image_free(img);
    if (rc == NVSF_E_FORMAT && (!csv_possible || strstr(err.message, "sta.")))
        return;
    if (rc)
        fail_msg("%s: CSV export: %s", r->what, err.message);
    nvsf_builder *b = NULL;
    nvsf_rows *rows = NULL;
    uint8_t *gen = malloc(r->size);
    assert_non_null(gen);
    rc = nvsf_builder_new(&b, (uint32_t)r->size, 2, NULL, &err);
    if (!rc)
        rc = nvsf_rows_new(&rows, b, NULL, NULL, &err);
    if (!rc)
        rc = nvsf_rows_add_csv(rows, "export.csv", csv, len, &err);
    if (!rc)
        rc = nvsf_builder_finish(b, gen, &err);
    nvsf_rows_free(rows);
    nvsf_builder_free(b);
    free(csv);
    if (rc == NVSF_E_FULL) { /* the generator keeps more pages free */
        free(gen);
        return;
    }
    if (rc)
        fail_msg("%s: generating the export: %s", r->what, err.message);
    /* Generated in format version 2: every blob is a version-2 one. */
    for (size_t k = 0; k < r->m.n; k++)
        if (r->m.v[k].kind == K_BLOB)
            r->m.v[k].type = NVSF_TYPE_BLOB_INDEX;
    assert_int_equal(nvsf_image_read(gen, r->size, NULL, &img, &err), 0);
    expect_items(r->what, img, &r->m);
    nvsf_image_free(img);
    free(gen);
    regenerated++;
}

/* Open an image (refusing nothing a sound, writable image has) and run
 * `steps` random changes on it. Returns 0 when the image cannot be opened
 * for change (encrypted without its key, read-only, unsound). */
static int random_series(const char *what, uint8_t *bytes, size_t size,
                         const uint8_t *key, unsigned steps, uint64_t seed,
                         run *out)
{
    run r = {.what = what, .bytes = bytes, .size = size, .key = key};
    nvsf_error err = {0};
    if (nvsf_edit_open(&r.ed, bytes, size, key, &err))
        return 0;
    nvsf_image *img = read_sound(&r, "at the start");
    model_from_image(&r.m, img);
    char *csv = NULL;
    size_t len;
    int csv_possible = nvsf_image_csv(img, &csv, &len, &err) == 0;
    free(csv);
    nvsf_image_free(img);
    r.max_len = size / 3 < 16000 ? size / 3 : 16000; /* step() holds 20000 */
    rng_state = seed * 2654435761u + 1;
    for (unsigned s = 0; s < steps; s++)
        step(&r);
    expect_csv_regenerates(&r, csv_possible);
    nvsf_edit_close(r.ed);
    model_free(&r.m);
    if (out)
        *out = r;
    return 1;
}

/* ---- the conformance and device images ---------------------------------- */

static unsigned walk_images(const char *dir, unsigned *seed)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    unsigned used = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "keys") == 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            used += walk_images(path, seed);
            continue;
        }
        size_t n = strlen(de->d_name);
        if (n < 4 || strcmp(de->d_name + n - 4, ".bin") != 0)
            continue;
        size_t size;
        uint8_t *bytes = read_image_file(path, &size);
        assert_non_null(bytes);
        used += (unsigned)random_series(path, bytes, size, NULL, 25, ++*seed,
                                        NULL);
        free(bytes);
    }
    closedir(d);
    return used;
}

static void test_conformance_images(void **state)
{
    (void)state;
    unsigned seed = 0;
    regenerated = 0;
    unsigned used = walk_images(CASES, &seed);
    /* Plain images of three pages or more: most of the cases. */
    print_message("%u conformance images changed, %u generated again\n", used,
                  regenerated);
    if (used < 80 || regenerated < used * 9 / 10)
        fail_msg("%u conformance images changed, %u exported and generated "
                 "again",
                 used, regenerated);
}

static void test_device_images(void **state)
{
    (void)state;
    const char *root = getenv("NVSF_DEVICE_IMAGES");
    if (!root)
        root = DEVICE_IMAGES;
    DIR *d = opendir(root);
    assert_non_null(d);
    unsigned used = 0, seed = 1000, repaired_images = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char path[1024], key_path[1100];
        snprintf(path, sizeof path, "%s/%s/image.bin", root, de->d_name);
        snprintf(key_path, sizeof key_path, "%s/%s/key.bin", root, de->d_name);
        size_t size, klen;
        uint8_t *bytes = read_image_file(path, &size);
        if (!bytes)
            continue;
        uint8_t key[NVSF_XTS_KEY_SIZE];
        uint8_t *kfile = read_image_file(key_path, &klen);
        nvsf_error err = {0};
        if (kfile)
            assert_int_equal(nvsf_key_partition_read(kfile, klen, key, &err), 0);
        /* A power cut's leftovers: opening for change applies ESP-IDF's
         * start-up repairs first, exactly as the device model does; the
         * random changes then start from the repaired image. */
        nvsf_image *img;
        assert_int_equal(nvsf_image_read(bytes, size, kfile ? key : NULL, &img,
                                         &err), 0);
        int usable = img->severity <= NVSF_REPAIRABLE && !img->read_only;
        if (usable && img->problem_count) {
            nvsf_edit *ed;
            assert_int_equal(nvsf_edit_open(&ed, bytes, size,
                                            kfile ? key : NULL, &err), 0);
            assert_non_null(strstr(nvsf_edit_log(ed), "start-up: "));
            nvsf_edit_close(ed);
            nvsf_image *after;
            assert_int_equal(nvsf_image_read(bytes, size, kfile ? key : NULL,
                                             &after, &err), 0);
            /* What the start-up leaves (a corrupt page it erases only when
             * it needs one) stays, without changing what is read. */
            assert_true(after->severity <= NVSF_REPAIRABLE);
            assert_int_equal(after->item_count, img->item_count);
            if (after->problem_count) {
                print_message("%s: skipped, the start-up leaves: %s\n", path,
                              after->problems[0].message);
                usable = 0;
            }
            nvsf_image_free(after);
            repaired_images += (unsigned)usable;
        }
        nvsf_image_free(img);
        if (usable) {
            assert_true(random_series(path, bytes, size, kfile ? key : NULL,
                                      60, ++seed, NULL));
            used++;
        }
        free(kfile);
        free(bytes);
    }
    closedir(d);
    print_message("%u device images changed, %u of them repaired first\n",
                  used, repaired_images);
    assert_true(used >= 12 && repaired_images >= 4);
}

/* ---- the long run --------------------------------------------------------- */

static void long_run(const uint8_t *key)
{
    static const char *names[] = {"a", "bb", "ccc", "serial", "calib.x",
                                  "calib.y", "wifi.pass", "blob1", "blob2",
                                  "count", "name15charslong", "z"};
    uint32_t size = 5 * PAGE;
    uint8_t *bytes = malloc(size);
    assert_non_null(bytes);
    nvsf_builder *b;
    nvsf_error err = {0};
    assert_int_equal(nvsf_builder_new(&b, size, 2, key, &err), 0);
    assert_int_equal(nvsf_builder_namespace(b, "cfg", &err), 0);
    assert_int_equal(nvsf_builder_add_uint(b, "boot", NVSF_TYPE_U32, 1, &err), 0);
    assert_int_equal(nvsf_builder_finish(b, bytes, &err), 0);
    nvsf_builder_free(b);

    run r = {.what = key ? "long run, encrypted" : "long run", .bytes = bytes,
             .size = size, .key = key, .names = names,
             .nnames = sizeof names / sizeof names[0], .max_len = 2500};
    assert_int_equal(nvsf_edit_open(&r.ed, bytes, size, key, &err), 0);
    nvsf_image *img = read_sound(&r, "at the start");
    model_from_image(&r.m, img);
    nvsf_image_free(img);
    model_note_ns(&r.m, "dev");
    model_note_ns(&r.m, "cal");
    rng_state = key ? 77 : 78;
    for (unsigned s = 0; s < 2500; s++) {
        step(&r);
        /* The log is for one command; start afresh now and then. */
        if (s % 100 == 99) {
            nvsf_edit_close(r.ed);
            assert_int_equal(nvsf_edit_open(&r.ed, bytes, size, key, &err), 0);
        }
    }
    expect_csv_regenerates(&r, 1);
    print_message("%s: %zu changes, %zu refused, %zu equal, %zu garbage "
                  "collections\n",
                  r.what, r.writes, r.refusals, r.noops, r.gcs);
    assert_true(r.gcs >= 100);
    assert_true(r.noops >= 50);
    nvsf_edit_close(r.ed);
    model_free(&r.m);
    free(bytes);
}

static void test_long_run_plain(void **state)
{
    (void)state;
    long_run(NULL);
}

static void test_long_run_encrypted(void **state)
{
    (void)state;
    uint8_t key[NVSF_XTS_KEY_SIZE];
    for (unsigned i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 7 + 3);
    long_run(key);
}


/* ---- the rules one by one ---------------------------------------------- */

/* A plain image from a partition CSV, as nvs_partition_gen makes it. */
static uint8_t *generated(const char *csv, uint32_t size)
{
    uint8_t *out = malloc(size);
    assert_non_null(out);
    nvsf_builder *b;
    nvsf_rows *rows;
    nvsf_error err = {0};
    assert_int_equal(nvsf_builder_new(&b, size, 2, NULL, &err), 0);
    assert_int_equal(nvsf_rows_new(&rows, b, NULL, NULL, &err), 0);
    if (nvsf_rows_add_csv(rows, "t.csv", csv, strlen(csv), &err))
        fail_msg("%s", err.message);
    assert_int_equal(nvsf_builder_finish(b, out, &err), 0);
    nvsf_rows_free(rows);
    nvsf_builder_free(b);
    return out;
}

/* "key,type,encoding,value" + namespace cfg + keys PREFIX0.. as u8. */
static char *csv_of_keys(const char *prefix, unsigned from, unsigned n)
{
    size_t cap = 64 + (size_t)n * 40;
    char *csv = malloc(cap);
    assert_non_null(csv);
    size_t at = (size_t)snprintf(csv, cap, "key,type,encoding,value\ncfg,namespace,,\n");
    for (unsigned i = from; i < from + n; i++)
        at += (size_t)snprintf(csv + at, cap - at, "%s%u,data,u8,%u\n", prefix, i,
                               i % 200);
    return csv;
}

static const uint8_t *entry_bytes(const uint8_t *img, unsigned page,
                                  unsigned i)
{
    return img + (size_t)page * PAGE + NVS_FIRST_ENTRY_OFFSET +
           (size_t)i * NVS_ENTRY_SIZE;
}

static unsigned state_of(const uint8_t *img, unsigned page, unsigned i)
{
    return nvs_bitmap_get(img + (size_t)page * PAGE, i);
}

static void expect_entry(const uint8_t *img, unsigned page, unsigned i,
                         uint8_t ns, uint8_t type, const char *key)
{
    const uint8_t *e = entry_bytes(img, page, i);
    if (e[NVS_ENTRY_NS_OFFSET] != ns || e[NVS_ENTRY_TYPE_OFFSET] != type ||
        strncmp((const char *)e + NVS_ENTRY_KEY_OFFSET, key, 16) != 0)
        fail_msg("page %u entry %u: ns %u type 0x%02x key '%.16s', expected "
                 "ns %u type 0x%02x key '%s'",
                 page, i, e[0], e[1], (const char *)e + NVS_ENTRY_KEY_OFFSET,
                 ns, type, key);
    assert_int_equal(state_of(img, page, i), NVS_ENTRY_STATE_WRITTEN);
}

static nvsf_edit *open_ok(uint8_t *img, uint32_t size, const uint8_t *key)
{
    nvsf_edit *ed = NULL;
    nvsf_error err = {0};
    if (nvsf_edit_open(&ed, img, size, key, &err))
        fail_msg("open: %s", err.message);
    return ed;
}

static void set_u8(nvsf_edit *ed, const char *ns, const char *key, uint8_t v)
{
    nvsf_error err = {0};
    if (nvsf_image_set_int(ed, ns, key, NVSF_TYPE_U8, v, &err))
        fail_msg("set %s:%s: %s", ns, key, err.message);
}

/* The new value goes to the active page's next entry, then the old one is
 * marked erased (its bytes stay). */
static void test_new_value_then_old_erased(void **state)
{
    (void)state;
    uint8_t *img = generated("key,type,encoding,value\ncfg,namespace,,\n"
                             "a,data,u8,1\nb,data,u8,2\n", 0x3000);
    uint8_t old[NVS_ENTRY_SIZE];
    memcpy(old, entry_bytes(img, 0, 1), sizeof old);
    nvsf_edit *ed = open_ok(img, 0x3000, NULL);
    set_u8(ed, "cfg", "a", 7);
    expect_entry(img, 0, 3, 1, NVSF_TYPE_U8, "a");
    assert_int_equal(entry_bytes(img, 0, 3)[NVS_ENTRY_DATA_OFFSET], 7);
    assert_int_equal(state_of(img, 0, 1), NVS_ENTRY_STATE_ERASED);
    assert_memory_equal(entry_bytes(img, 0, 1), old, sizeof old);
    assert_string_equal(nvsf_edit_log(ed),
                        "page 0 entry 3: cfg:a u8 written\n"
                        "page 0 entry 1: cfg:a u8 erased\n");
    nvsf_edit_close(ed);
    free(img);
}

/* A full active page is marked full; the next erased page becomes active
 * with the next sequence number. */
static void test_new_page_sequence_goes_on(void **state)
{
    (void)state;
    char *csv = csv_of_keys("k", 0, 125); /* 126 entries with the namespace */
    uint8_t *img = generated(csv, 0x4000);
    free(csv);
    nvsf_edit *ed = open_ok(img, 0x4000, NULL);
    set_u8(ed, "cfg", "new", 1);
    assert_int_equal(nvs_load_u32(img), NVS_PAGE_STATE_FULL);
    assert_int_equal(nvs_load_u32(img + PAGE), NVS_PAGE_STATE_ACTIVE);
    assert_int_equal(nvs_load_u32(img + PAGE + NVS_PAGE_SEQ_OFFSET), 1);
    assert_int_equal(img[PAGE + NVS_PAGE_VERSION_OFFSET], NVS_PAGE_VERSION2);
    expect_entry(img, 1, 0, 1, NVSF_TYPE_U8, "new");
    /* An update of k0 goes to page 1 and erases it on page 0. */
    set_u8(ed, "cfg", "k0", 99);
    expect_entry(img, 1, 1, 1, NVSF_TYPE_U8, "k0");
    assert_int_equal(state_of(img, 0, 1), NVS_ENTRY_STATE_ERASED);
    nvsf_edit_close(ed);
    free(img);
}

/* With one erased page left, the page with the most entries not written
 * is collected: its live items copied in order to the erased page, which
 * becomes active with the next sequence number, and the page erased. */
static void test_garbage_collection_page_choice(void **state)
{
    (void)state;
    char *csv = csv_of_keys("k", 0, 225); /* page 0: 126, page 1: 100 */
    uint8_t *img = generated(csv, 0x3000);
    free(csv);
    nvsf_edit *ed = open_ok(img, 0x3000, NULL);
    char key[16];
    for (unsigned i = 0; i < 20; i++) { /* page 0 entries 1..20 erased */
        snprintf(key, sizeof key, "k%u", i);
        set_u8(ed, "cfg", key, 250);
    }
    for (unsigned i = 0; i < 6; i++) { /* page 1 full: 126 entries */
        snprintf(key, sizeof key, "n%u", i);
        set_u8(ed, "cfg", key, 1);
    }
    nvsf_edit_close(ed);
    ed = open_ok(img, 0x3000, NULL);
    set_u8(ed, "cfg", "last", 5);
    assert_string_equal(nvsf_edit_log(ed),
                        "page 1: full\n"
                        "page 0: garbage collection (20 entries not in use)\n"
                        "page 2: new, sequence number 2\n"
                        "page 0: items moved to page 2, page erased\n"
                        "page 2 entry 106: cfg:last u8 written\n");
    for (size_t i = 0; i < PAGE; i++)
        assert_int_equal(img[i], 0xFF); /* page 0 erased */
    assert_int_equal(nvs_load_u32(img + PAGE), NVS_PAGE_STATE_FULL);
    assert_int_equal(nvs_load_u32(img + 2 * PAGE), NVS_PAGE_STATE_ACTIVE);
    assert_int_equal(nvs_load_u32(img + 2 * PAGE + NVS_PAGE_SEQ_OFFSET), 2);
    expect_entry(img, 2, 0, 0, NVSF_TYPE_U8, "cfg");
    expect_entry(img, 2, 1, 1, NVSF_TYPE_U8, "k20");
    expect_entry(img, 2, 105, 1, NVSF_TYPE_U8, "k124");
    expect_entry(img, 2, 106, 1, NVSF_TYPE_U8, "last");
    nvsf_edit_close(ed);
    free(img);
}

/* Blob versions alternate between chunk indexes 0x00 and 0x80; the old
 * index and chunks are erased; an equal blob writes nothing. */
static void test_blob_versions(void **state)
{
    (void)state;
    uint8_t *img = generated("key,type,encoding,value\ncfg,namespace,,\n",
                             0x4000);
    uint8_t data[300];
    memset(data, 0x5A, sizeof data);
    nvsf_edit *ed = open_ok(img, 0x4000, NULL);
    nvsf_error err = {0};
    static const uint8_t starts[] = {0x00, 0x80, 0x00};
    for (unsigned round = 0; round < 3; round++) {
        data[0] = (uint8_t)round;
        assert_int_equal(nvsf_image_set_blob(ed, "cfg", "b", data, sizeof data,
                                             &err), 0);
        nvsf_image *r;
        assert_int_equal(nvsf_image_read(img, 0x4000, NULL, &r, &err), 0);
        assert_int_equal(r->problem_count, 0);
        assert_int_equal(r->item_count, 1);
        assert_int_equal(r->items[0].type, NVSF_TYPE_BLOB_INDEX);
        assert_int_equal(r->items[0].chunk_start, starts[round]);
        assert_memory_equal(r->items[0].data, data, sizeof data);
        nvsf_image_free(r);
    }
    uint8_t *before = malloc(0x4000);
    assert_non_null(before);
    memcpy(before, img, 0x4000);
    assert_int_equal(nvsf_image_set_blob(ed, "cfg", "b", data, sizeof data, &err),
                     0);
    assert_memory_equal(before, img, 0x4000);
    /* Erasing the key erases the index, then its chunk. */
    assert_int_equal(nvsf_image_erase(ed, "cfg", "b", &err), 0);
    const char *log = nvsf_edit_log(ed);
    const char *idx = strstr(log, "cfg:b blob_index erased\npage 0 entry");
    assert_non_null(idx);
    assert_non_null(strstr(idx, "cfg:b chunk 0x00 erased"));
    nvsf_edit_close(ed);
    free(before);
    free(img);
}

/* A key that changes type loses its old item; a new namespace takes the
 * lowest free index; erasing a namespace keeps its declaration. */
static void test_types_and_namespaces(void **state)
{
    (void)state;
    uint8_t *img = generated("key,type,encoding,value\na,namespace,,\nx,data,u8,1\n"
                             "b,namespace,,\ny,data,string,hi\n",
                             0x4000);
    nvsf_edit *ed = open_ok(img, 0x4000, NULL);
    nvsf_error err = {0};
    assert_int_equal(nvsf_image_set_string(ed, "a", "x", "text", 4, &err), 0);
    assert_int_equal(nvsf_image_set_blob(ed, "a", "x", "\1\2", 2, &err), 0);
    assert_int_equal(nvsf_image_set_int(ed, "a", "x", NVSF_TYPE_I32, 5, &err), 0);
    assert_int_equal(nvsf_image_erase(ed, "b", NULL, &err), 0);
    set_u8(ed, "c", "z", 3);
    nvsf_image *r;
    assert_int_equal(nvsf_image_read(img, 0x4000, NULL, &r, &err), 0);
    assert_int_equal(r->problem_count, 0);
    assert_int_equal(r->item_count, 2);
    assert_string_equal(r->items[0].key, "x");
    assert_int_equal(r->items[0].type, NVSF_TYPE_I32);
    assert_int_equal(r->namespace_count, 3);
    assert_string_equal(r->namespaces[2].name, "c");
    assert_int_equal(r->namespaces[2].index, 3);
    assert_int_equal(r->items[1].ns_index, 3);
    nvsf_image_free(r);
    nvsf_edit_close(ed);
    free(img);
}

/* Refusals say why and leave every byte as it was. */
static void test_refusals(void **state)
{
    (void)state;
    uint8_t *img = generated("key,type,encoding,value\ncfg,namespace,,\n"
                             "a,data,u8,1\n", 0x3000);
    uint8_t *before = malloc(0x3000), *big = calloc(1, 20000);
    assert_true(before && big);
    memcpy(before, img, 0x3000);
    nvsf_edit *ed = open_ok(img, 0x3000, NULL);
    nvsf_error err = {0};
    assert_int_equal(nvsf_image_set_int(ed, "cfg", "sixteen_bytes_k", NVSF_TYPE_U8,
                                        1, &err), 0);
    memcpy(before, img, 0x3000);
    assert_int_equal(nvsf_image_set_int(ed, "cfg", "sixteen_bytes_ke",
                                        NVSF_TYPE_U8, 1, &err), NVSF_E_INPUT);
    assert_string_equal(err.message,
                        "key 'sixteen_bytes_ke' is 16 bytes long; NVS allows "
                        "at most 15");
    assert_int_equal(nvsf_image_set_blob(ed, "cfg", "big", big, 8001, &err),
                     NVSF_E_FULL);
    assert_string_equal(err.message,
                        "cfg:big: the blob is 8001 bytes; a partition of 3 "
                        "pages holds at most 8000 in one blob");
    /* 8000 bytes are allowed, but do not fit beside what is there. */
    assert_int_equal(nvsf_image_set_blob(ed, "cfg", "big", big, 8000, &err),
                     NVSF_E_FULL);
    assert_string_equal(err.message,
                        "cfg:big: 8000 bytes do not fit in the partition of 3 "
                        "pages, even after garbage collection");
    assert_int_equal(nvsf_image_erase(ed, "cfg", "nope", &err), NVSF_E_INPUT);
    assert_string_equal(err.message, "cfg:nope: no such key in the image");
    assert_memory_equal(before, img, 0x3000);
    nvsf_edit_close(ed);
    free(before);
    free(big);
    free(img);
}

/* The same changes on a plain and an encrypted image: the same decrypted
 * bytes, and the encrypted pages nobody touched stay byte for byte. */
static void test_encrypted_like_plain(void **state)
{
    (void)state;
    uint8_t key[NVSF_XTS_KEY_SIZE];
    for (unsigned i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 13 + 1);
    char *csv = csv_of_keys("k", 0, 200);
    uint8_t *plain = generated(csv, 0x5000), *enc = malloc(0x5000);
    free(csv);
    assert_non_null(enc);
    memcpy(enc, plain, 0x5000);
    nvsf_error err = {0};
    assert_int_equal(nvsf_image_encrypt(enc, 0x5000, key, &err), 0);
    uint8_t page0[PAGE];
    memcpy(page0, enc, PAGE);
    nvsf_edit *a = open_ok(plain, 0x5000, NULL), *b = open_ok(enc, 0x5000, key);
    set_u8(a, "cfg", "k150", 1);
    set_u8(b, "cfg", "k150", 1);
    assert_int_equal(nvsf_image_set_string(a, "net", "ssid", "lab", 3, &err), 0);
    assert_int_equal(nvsf_image_set_string(b, "net", "ssid", "lab", 3, &err), 0);
    nvsf_edit_close(a);
    nvsf_edit_close(b);
    assert_memory_equal(page0, enc, PAGE); /* page 0: not touched */
    assert_int_equal(nvsf_image_decrypt(enc, 0x5000, key, &err), 0);
    assert_memory_equal(plain, enc, 0x5000);
    free(plain);
    free(enc);
}

/* A key stored twice with two types (a set cut before it erased the old
 * item): a set leaves the key once, as set; an erase leaves none. */
static void test_key_stored_twice(void **state)
{
    (void)state;
    size_t size;
    uint8_t *orig = read_image_file(DEVICE_IMAGES "/midcut-021/image.bin", &size);
    assert_non_null(orig);
    uint8_t *img = malloc(size);
    assert_non_null(img);
    nvsf_error err = {0};
    for (int erase = 0; erase < 2; erase++) {
        memcpy(img, orig, size);
        nvsf_image *r;
        assert_int_equal(nvsf_image_read(img, size, NULL, &r, &err), 0);
        const char *ns = NULL;
        unsigned twice = 0;
        for (size_t k = 0; k < r->item_count; k++)
            if (strcmp(r->items[k].key, "lvV") == 0) {
                ns = r->items[k].ns_name;
                twice++;
            }
        assert_int_equal(twice, 2);
        char nsname[17];
        snprintf(nsname, sizeof nsname, "%s", ns);
        nvsf_image_free(r);
        nvsf_edit *ed = open_ok(img, (uint32_t)size, NULL);
        if (erase)
            assert_int_equal(nvsf_image_erase(ed, nsname, "lvV", &err), 0);
        else
            assert_int_equal(nvsf_image_set_int(ed, nsname, "lvV", NVSF_TYPE_I32,
                                                5, &err), 0);
        nvsf_edit_close(ed);
        assert_int_equal(nvsf_image_read(img, size, NULL, &r, &err), 0);
        assert_int_equal(r->problem_count, 0);
        unsigned left = 0;
        for (size_t k = 0; k < r->item_count; k++)
            if (strcmp(r->items[k].key, "lvV") == 0) {
                left++;
                assert_int_equal(r->items[k].type, NVSF_TYPE_I32);
                assert_int_equal(r->items[k].value, 5);
            }
        assert_int_equal(left, erase ? 0 : 1);
        nvsf_image_free(r);
    }
    free(img);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_value_then_old_erased),
        cmocka_unit_test(test_new_page_sequence_goes_on),
        cmocka_unit_test(test_garbage_collection_page_choice),
        cmocka_unit_test(test_blob_versions),
        cmocka_unit_test(test_types_and_namespaces),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_encrypted_like_plain),
        cmocka_unit_test(test_key_stored_twice),
        cmocka_unit_test(test_conformance_images),
        cmocka_unit_test(test_device_images),
        cmocka_unit_test(test_long_run_plain),
        cmocka_unit_test(test_long_run_encrypted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
