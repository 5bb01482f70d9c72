/*
 * Partitions written by ESP-IDF's own NVS library (tests/data/device-images,
 * README there): rewritten, garbage collected, cut by power losses,
 * encrypted. For each, the reader must list exactly what ESP-IDF lists
 * after it opens the image (expected.txt; a key ESP-IDF returns twice
 * included), call it sound or repairable (never damaged or unusable), and
 * the CSV export must generate an image that reads back as the same items
 * (where no key stands twice, and the CSV can hold the values).
 *
 * Run with a folder as its argument, it checks that folder instead (the
 * optional scripts/check-device-images.sh over a larger set).
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

#include "nvsforge/nvsforge.h"
#include "reader.h"
#include "slurp.h"
#include "value.h"

static const char *images_dir = "../data/device-images";


/* ---- expected.txt's notation ---------------------------------------------- */

typedef struct text {
    char *s;
    size_t len, cap;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    if (t->len + (size_t)n + 1 > t->cap) {
        t->cap = (t->len + (size_t)n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        assert_non_null(t->s);
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* A JSON string as Python's json.dumps writes it (ASCII only), or
 * "hex:..." for bytes that are not UTF-8. */
static void put_json_string(text *t, const uint8_t *s, size_t n)
{
    put(t, "\"");
    if (!nvsf_utf8_valid(s, n)) {
        put(t, "hex:");
        for (size_t i = 0; i < n; i++)
            put(t, "%02x", s[i]);
        put(t, "\"");
        return;
    }
    for (size_t i = 0; i < n;) {
        uint32_t c = s[i];
        size_t k = c < 0x80 ? 1 : nvsf_utf8_seq_len(s + i, n - i);
        if (k > 1) {
            c &= 0xFFu >> (k + 1);
            for (size_t j = 1; j < k; j++)
                c = c << 6 | (s[i + j] & 0x3Fu);
        }
        i += k;
        if (c == '"' || c == '\\')
            put(t, "\\%c", (char)c);
        else if (c == '\n')
            put(t, "\\n");
        else if (c == '\r')
            put(t, "\\r");
        else if (c == '\t')
            put(t, "\\t");
        else if (c == '\b')
            put(t, "\\b");
        else if (c == '\f')
            put(t, "\\f");
        else if (c < 0x20 || (c >= 0x7F && c < 0x10000))
            put(t, "\\u%04x", c);
        else if (c >= 0x10000)
            put(t, "\\u%04x\\u%04x", 0xD800 + ((c - 0x10000) >> 10),
                0xDC00 + ((c - 0x10000) & 0x3FF));
        else
            put(t, "%c", (char)c);
    }
    put(t, "\"");
}

static void put_item(text *t, const nvsf_item *it)
{
    put(t, "%s\t%s\t", it->ns_name ? it->ns_name : "", it->key);
    switch (it->type) {
    case NVSF_TYPE_FLOAT: {
        uint32_t u = (uint32_t)it->value;
        float f;
        memcpy(&f, &u, sizeof f);
        put(t, "float\t%.9g/0x%08x", (double)f, u);
        break;
    }
    case NVSF_TYPE_DOUBLE: {
        double d;
        memcpy(&d, &it->value, sizeof d);
        put(t, "double\t%.17g/0x%016llx", d, (unsigned long long)it->value);
        break;
    }
    case NVSF_TYPE_STRING:
        put(t, "string\t");
        put_json_string(t, it->data, it->len && !it->data[it->len - 1]
                                         ? it->len - 1
                                         : it->len);
        break;
    case NVSF_TYPE_BLOB:
    case NVSF_TYPE_BLOB_INDEX:
        put(t, "blob\t");
        for (size_t i = 0; i < it->len; i++)
            put(t, "%02x", it->data[i]);
        break;
    default:
        if (it->type & 0x10)
            put(t, "%s\t%lld", nvsf_item_type_name(it->type),
                (long long)it->value);
        else
            put(t, "%s\t%llu", nvsf_item_type_name(it->type),
                (unsigned long long)it->value);
    }
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The items as expected.txt lists them: one line each, sorted. */
static char *listing(const nvsf_image *img)
{
    char **lines = calloc(img->item_count + 1, sizeof *lines);
    assert_non_null(lines);
    for (size_t k = 0; k < img->item_count; k++) {
        text t = {0};
        put(&t, "%s", "");
        put_item(&t, &img->items[k]);
        lines[k] = t.s;
    }
    qsort(lines, img->item_count, sizeof *lines, cmp_line);
    text all = {0};
    put(&all, "%s", "");
    for (size_t k = 0; k < img->item_count; k++) {
        put(&all, "%s\n", lines[k]);
        free(lines[k]);
    }
    free(lines);
    return all.s;
}

/* The first line where two listings differ, for the failure message. */
static void first_difference(const char *a, const char *b, char *out,
                             size_t cap)
{
    while (*a && *a == *b) {
        const char *na = strchr(a, '\n'), *nb = strchr(b, '\n');
        if (!na || !nb || na - a != nb - b || strncmp(a, b, (size_t)(na - a)))
            break;
        a = na + 1;
        b = nb + 1;
    }
    snprintf(out, cap, "ours: '%.150s' / ESP-IDF's: '%.150s'", a, b);
}

/* ---- each image ------------------------------------------------------------ */

typedef struct tally {
    size_t images, repairable, twice, regenerated, not_csv;
} tally;

static nvsf_image *open_image(const char *dir, const char *name, int *keyed)
{
    char path[4096];
    size_t len = 0, klen = 0;
    snprintf(path, sizeof path, "%s/%s/image.bin", dir, name);
    uint8_t *data = slurp(path, &len);
    assert_non_null(data);
    snprintf(path, sizeof path, "%s/%s/key.bin", dir, name);
    uint8_t *keyfile = slurp(path, &klen), key[NVSF_XTS_KEY_SIZE];
    nvsf_error err = {0};
    if (keyfile)
        assert_int_equal(nvsf_key_partition_read(keyfile, klen, key, &err), 0);
    nvsf_image *img = NULL;
    if (nvsf_image_read(data, len, keyfile ? key : NULL, &img, &err))
        fail_msg("%s: %s", name, err.message);
    *keyed = keyfile != NULL;
    free(keyfile);
    free(data);
    return img;
}

/* Generate the exported CSV at the image's size and read the result. */
static nvsf_image *regenerate(const nvsf_image *img, const char *csv,
                              size_t len)
{
    uint32_t size = img->page_count * NVSF_PAGE_SIZE;
    nvsf_builder *b = NULL;
    nvsf_rows *rows = NULL;
    nvsf_error err = {0};
    uint8_t *out = malloc(size);
    assert_non_null(out);
    assert_int_equal(nvsf_builder_new(&b, size, 2, NULL, &err), 0);
    assert_int_equal(nvsf_rows_new(&rows, b, NULL, NULL, &err), 0);
    if (nvsf_rows_add_csv(rows, "export", csv, len, &err) ||
        nvsf_builder_finish(b, out, &err))
        fail_msg("the exported CSV does not generate: %s", err.message);
    nvsf_rows_free(rows);
    nvsf_builder_free(b);
    nvsf_image *back = NULL;
    assert_int_equal(nvsf_image_read(out, size, NULL, &back, &err), 0);
    free(out);
    return back;
}

static void check_image(const char *dir, const char *name, tally *t)
{
    char path[4096];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s/expected.txt", dir, name);
    char *expected = (char *)slurp(path, &len);
    assert_non_null(expected);
    int keyed;
    nvsf_image *img = open_image(dir, name, &keyed);
    t->images++;

    char *ours = listing(img), diff[400];
    if (strcmp(ours, expected) != 0) {
        first_difference(ours, expected, diff, sizeof diff);
        fail_msg("%s: the items differ from ESP-IDF's: %s", name, diff);
    }
    if (img->severity > NVSF_REPAIRABLE) {
        for (size_t k = 0; k < img->problem_count; k++)
            print_error("%s: %s\n", name, img->problems[k].message);
        fail_msg("%s: %s, not sound or repairable", name,
                 nvsf_severity_name(img->severity));
    }
    t->repairable += img->severity == NVSF_REPAIRABLE;

    int twice = 0;
    for (size_t k = 0; k + 1 < img->item_count && !twice; k++)
        for (size_t j = k + 1; j < img->item_count && !twice; j++)
            twice = img->items[k].ns_index == img->items[j].ns_index &&
                    strcmp(img->items[k].key, img->items[j].key) == 0;
    t->twice += twice;
    char *csv = NULL;
    size_t csv_len = 0;
    nvsf_error err = {0};
    if (!twice && nvsf_image_csv(img, &csv, &csv_len, &err) == 0) {
        nvsf_image *back = regenerate(img, csv, csv_len);
        char *again = listing(back);
        if (strcmp(again, expected) != 0) {
            first_difference(again, expected, diff, sizeof diff);
            fail_msg("%s: the regenerated image differs: %s", name, diff);
        }
        assert_int_equal(back->severity, NVSF_SOUND);
        t->regenerated++;
        free(again);
        nvsf_image_free(back);
    } else if (!twice) {
        /* Only what a partition CSV cannot hold: strings that are not
         * UTF-8 text, or hold a carriage return (the reference reads
         * its CSV with universal newlines). */
        if (err.code != NVSF_E_FORMAT || !strstr(err.message, "not UTF-8"))
            fail_msg("%s: the CSV export fails: %s", name, err.message);
        t->not_csv++;
    }
    free(csv);
    free(ours);
    free(expected);
    nvsf_image_free(img);
}

static void test_device_images(void **state)
{
    (void)state;
    DIR *d = opendir(images_dir);
    if (!d)
        fail_msg("cannot open %s", images_dir);
    tally t = {0};
    struct dirent *de;
    while ((de = readdir(d))) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s/image.bin", images_dir, de->d_name);
        if (de->d_name[0] != '.' && stat(path, &st) == 0)
            check_image(images_dir, de->d_name, &t);
    }
    closedir(d);
    print_message("device images: %zu listed as ESP-IDF lists them (%zu "
                  "repairable, the rest sound; %zu with a key listed twice); "
                  "%zu regenerated from their CSV, %zu that a CSV cannot "
                  "hold\n",
                  t.images, t.repairable, t.twice, t.regenerated, t.not_csv);
    assert_true(t.images >= 30);
    assert_true(t.repairable >= 10);
    assert_true(t.twice >= 1);
    assert_true(t.regenerated >= t.images / 2);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        images_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_images),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
