/*
 * `nvsforge dump`: what an image holds, as text for people, JSON for
 * scripts, or a partition-generator CSV that makes the same image again.
 * The image is read by the library's reader (lib/reader.c), decrypted first
 * with --inputkey or --hmac-key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "image_input.h"
#include "reader.h"
#include "value.h"

#define DUMP_USAGE \
    "usage: nvsforge dump [-h] [--format {text,json,csv}] [--full]\n" \
    "        " IMAGE_INPUT_USAGE "\n" \
    "        image\n"

static const char dump_usage[] = DUMP_USAGE;

static const char dump_help[] =
    DUMP_USAGE
    "\n"
    "Show what an NVS partition image holds, on standard output.\n"
    "\n"
    "positional arguments and options:\n"
    IMAGE_INPUT_HELP
    "  -h, --help           show this help message and exit\n"
    "  --format text        (default) per page its state, sequence number,\n"
    "                       version and entries; what ESP-IDF's start-up\n"
    "                       repairs or drops; per namespace each key with its\n"
    "                       type and value (blobs in hex; blobs of more than\n"
    "                       128 bytes as their first 64 bytes and length)\n"
    "  --full               show long blobs whole in the text view\n"
    "  --format json        one JSON document: pages, entry states, items\n"
    "                       (blobs in base64) and problems\n"
    "  --format csv         a partition-generator CSV (key,type,encoding,value);\n"
    "                       nvs_partition_gen generate (or encrypt --inputkey\n"
    "                       with the same key) at the image's size and version\n"
    "                       makes the same image again; edit it to change one\n"
    "\n"
    "The items are what ESP-IDF returns after it opens the image (its\n"
    "start-up repairs the leftovers of a power cut first): a key cut in the\n"
    "middle of a change of type is listed twice, as ESP-IDF returns it.\n"
    "Problems are summed up on standard error; nvsforge check lists them.\n"
    "Exit status: 0 done, 1 unreadable input, a key that does not fit the\n"
    "image, or an image that a CSV cannot represent; 2 usage.\n";

/* ---- shared pieces of the views ------------------------------------------ */

static const char *version_text(const nvsf_image *img)
{
    return img->mixed_versions ? "1 and 2"
           : img->version == 1 ? "1"
           : img->version == 2 ? "2"
                               : "none (no page is read)";
}

/* 1 or 2 from a page's version byte, 0 for an unknown one. */
static int page_version(uint8_t byte)
{
    return byte == 0xFF ? 1 : byte == 0xFE ? 2 : 0;
}

/* "blob" for both blob formats, else the stored type's name. */
static const char *shown_type(const nvsf_item *it)
{
    return it->type == NVSF_TYPE_BLOB_INDEX || it->type == NVSF_TYPE_BLOB
               ? "blob"
               : nvsf_item_type_name(it->type);
}

static int is_blob(const nvsf_item *it)
{
    return it->type == NVSF_TYPE_BLOB_INDEX || it->type == NVSF_TYPE_BLOB;
}

/* A string's text: its bytes without the terminating NUL. */
static size_t string_len(const nvsf_item *it)
{
    return it->len > 0 && it->data[it->len - 1] == '\0' ? it->len - 1 : it->len;
}

static int is_float(const nvsf_item *it)
{
    return it->type == NVSF_TYPE_FLOAT || it->type == NVSF_TYPE_DOUBLE;
}

/* Integers in decimal; float and double as the shortest decimal that reads
 * back the same (inf, -inf, nan). */
static void print_int(FILE *f, const nvsf_item *it)
{
    if (is_float(it)) {
        char num[40];
        nvsf_format_float(num, sizeof num, it->type, it->value);
        fputs(num, f);
    } else if (it->type & 0x10) /* signed types */
        fprintf(f, "%lld", (long long)(int64_t)it->value);
    else
        fprintf(f, "%llu", (unsigned long long)it->value);
}

/* ---- text ------------------------------------------------------------------ */

/* Longer blobs show their first BLOB_SHOWN bytes, unless --full. */
#define BLOB_SHOWN_MAX 128u
#define BLOB_SHOWN 64u

static void text_escaped(FILE *f, const uint8_t *s, size_t n)
{
    size_t need = nvsf_escape_text(NULL, 0, s, n);
    char *buf = malloc(need + 1);
    if (!buf) {
        fputs("(out of memory)", f);
        return;
    }
    nvsf_escape_text(buf, need + 1, s, n);
    fputs(buf, f);
    free(buf);
}

static void text_item(FILE *f, const nvsf_item *it, int full)
{
    fputs("  ", f);
    size_t klen = strlen(it->key);
    text_escaped(f, (const uint8_t *)it->key, klen);
    fprintf(f, "%*s %-7s ", klen < 15 ? (int)(15 - klen) : 0, "", shown_type(it));
    if (it->type == NVSF_TYPE_STRING) {
        fputc('"', f);
        text_escaped(f, it->data, string_len(it));
        fputc('"', f);
        if (string_len(it) == it->len)
            fputs(" (no terminating NUL)", f);
        fputc('\n', f);
    } else if (is_blob(it)) {
        fprintf(f, "%zu bytes", it->len);
        if (it->type == NVSF_TYPE_BLOB_INDEX)
            fprintf(f, " in %u chunk%s", it->chunks, it->chunks == 1 ? "" : "s");
        else
            fputs(" (version-1 blob)", f);
        fputc('\n', f);
        size_t shown = full || it->len <= BLOB_SHOWN_MAX ? it->len : BLOB_SHOWN;
        for (size_t i = 0; i < shown; i += 32) {
            fprintf(f, "      %04zx  ", i);
            for (size_t j = i; j < shown && j < i + 32; j++)
                fprintf(f, "%02x", it->data[j]);
            fputc('\n', f);
        }
        if (shown < it->len)
            fprintf(f, "      ... %zu more bytes (--full shows them)\n",
                    it->len - shown);
    } else {
        print_int(f, it);
        fputc('\n', f);
    }
}

static void text_items_of(FILE *f, const nvsf_image *img, unsigned ns,
                          int full)
{
    for (size_t k = 0; k < img->item_count; k++)
        if (img->items[k].ns_index == ns)
            text_item(f, &img->items[k], full);
}

static void dump_text(FILE *f, const char *path, const nvsf_image *img,
                      int full)
{
    fprintf(f, "%s: %zu bytes, %u pages, format version %s%s\n", path,
            img->size, img->page_count, version_text(img),
            img->decrypted ? ", decrypted" : "");
    for (uint32_t p = 0; p < img->page_count; p++) {
        const nvsf_page_info *pi = &img->pages[p];
        fprintf(f, "page %u: ", p);
        if (pi->state == 0xFFFFFFFFu) {
            fputs("empty\n", f);
            continue;
        }
        fprintf(f, "%s (0x%08x), sequence %u, ", nvsf_page_state_name(pi->state),
                pi->state, pi->seq);
        if (page_version(pi->version))
            fprintf(f, "version %d", page_version(pi->version));
        else
            fprintf(f, "version byte 0x%02x", pi->version);
        fprintf(f, ", entries %u used, %u erased, %u free", pi->written,
                pi->erased, pi->empty);
        if (pi->illegal)
            fprintf(f, ", %u illegal", pi->illegal);
        fputs(!pi->header_ok ? "; header CRC mismatch, not read\n"
              : !pi->readable ? "; not read\n"
                              : "\n",
              f);
    }
    int repairs = 0;
    for (size_t k = 0; k < img->problem_count; k++) {
        const nvsf_problem *pr = &img->problems[k];
        if (pr->repair == NVSF_REPAIR_NONE && pr->severity != NVSF_UNUSABLE)
            continue;
        if (!repairs++)
            fputs("\nESP-IDF's start-up (the pages above are as given; the "
                  "items below are what it reads after):\n",
                  f);
        fputs("  ", f);
        if (pr->page >= 0)
            fprintf(f, "page %ld: ", pr->page);
        if (pr->page >= 0 && pr->entry >= 0)
            fprintf(f, "entry %d: ", pr->entry);
        fprintf(f, "%s: %s\n", nvsf_severity_name(pr->severity), pr->message);
    }
    for (size_t n = 0; n < img->namespace_count; n++) {
        const nvsf_namespace *ns = &img->namespaces[n];
        fputs("\nnamespace ", f);
        text_escaped(f, (const uint8_t *)ns->name, strlen(ns->name));
        fprintf(f, " (index %u)\n", ns->index);
        text_items_of(f, img, ns->index, full);
    }
    for (unsigned ns = 1; ns < 256; ns++) {
        int declared = 0, used = 0;
        for (size_t n = 0; n < img->namespace_count; n++)
            declared |= img->namespaces[n].index == ns;
        for (size_t k = 0; k < img->item_count && !used; k++)
            used = img->items[k].ns_index == ns;
        if (used && !declared) {
            fprintf(f, "\nnamespace index %u (never declared)\n", ns);
            text_items_of(f, img, ns, full);
        }
    }
}

/* ---- JSON ------------------------------------------------------------------ */

/* A JSON string: UTF-8 passes, control characters as \u00XX, bytes that
 * are not UTF-8 as U+FFFD. */
static void json_string(FILE *f, const uint8_t *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t seq;
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            fprintf(f, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            fputc(c, f);
            i++;
        } else if ((seq = nvsf_utf8_seq_len(s + i, n - i))) {
            fwrite(s + i, 1, seq, f);
            i += seq;
        } else {
            fputs("\\ufffd", f);
            i++;
        }
    }
    fputc('"', f);
}

static void json_cstring(FILE *f, const char *s)
{
    json_string(f, (const uint8_t *)s, strlen(s));
}

static void base64(FILE *f, const uint8_t *d, size_t n)
{
    char *text = nvsf_base64_encode(d, n);
    fprintf(f, "\"%s\"", text ? text : "(out of memory)");
    free(text);
}

/* A number, or null when it is negative (no page, no entry, no version). */
static void json_number(FILE *f, long v)
{
    if (v < 0)
        fputs("null", f);
    else
        fprintf(f, "%ld", v);
}

static const char *problem_kind_name(enum nvsf_problem_kind kind)
{
    static const char *const names[] = {
        "image", "page_header", "page_state", "entry_crc", "data_crc", "entry",
        "bitmap", "not_erased", "blob", "namespace", "duplicate", "startup"};
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind]
                                                           : "other";
}

static void json_page(FILE *f, const nvsf_page_info *pi)
{
    static const char *const states[4] = {"erased", "illegal", "written",
                                          "empty"};
    fprintf(f, "    {\"index\": %u, \"state\": ", pi->index);
    json_cstring(f, nvsf_page_state_name(pi->state));
    fprintf(f, ", \"state_word\": %u, ", pi->state);
    if (pi->state == 0xFFFFFFFFu)
        fputs("\"sequence\": null, \"version\": null", f);
    else if (page_version(pi->version))
        fprintf(f, "\"sequence\": %u, \"version\": %d", pi->seq,
                page_version(pi->version));
    else
        fprintf(f, "\"sequence\": %u, \"version\": null", pi->seq);
    fprintf(f,
            ", \"version_byte\": %u, \"header_crc_ok\": %s, \"readable\": %s,"
            "\n     \"entries\": {\"written\": %u, \"erased\": %u, \"empty\": "
            "%u, \"illegal\": %u},\n     \"entry_states\": [",
            pi->version, pi->header_ok ? "true" : "false",
            pi->readable ? "true" : "false", pi->written, pi->erased, pi->empty,
            pi->illegal);
    for (unsigned i = 0; i < NVSF_ENTRIES_PER_PAGE; i++)
        fprintf(f, "%s\"%s\"", i ? ", " : "", states[pi->entry_state[i] & 3]);
    fputs("]}", f);
}

static void json_item(FILE *f, const nvsf_item *it)
{
    fputs("    {\"namespace\": ", f);
    if (it->ns_name)
        json_cstring(f, it->ns_name);
    else
        fputs("null", f);
    fprintf(f, ", \"namespace_index\": %u, \"key\": ", it->ns_index);
    json_cstring(f, it->key);
    fputs(", \"type\": ", f);
    json_cstring(f, shown_type(it));
    fprintf(f, ", \"page\": %u, \"entry\": %u, ", it->page, it->entry);
    if (it->type == NVSF_TYPE_STRING) {
        size_t n = string_len(it);
        fputs("\"value\": ", f);
        json_string(f, it->data, n);
        if (n == it->len || !nvsf_utf8_valid(it->data, n) ||
            memchr(it->data, '\0', n)) {
            /* the string's bytes, without the terminating NUL */
            fputs(", \"bytes_base64\": ", f);
            base64(f, it->data, n);
        }
    } else if (is_blob(it)) {
        fprintf(f, "\"size\": %zu, \"blob_version\": %d, ", it->len,
                it->type == NVSF_TYPE_BLOB ? 1 : 2);
        if (it->type == NVSF_TYPE_BLOB_INDEX)
            fprintf(f, "\"chunks\": %u, ", it->chunks);
        fputs("\"encoding\": \"base64\", \"value\": ", f);
        base64(f, it->data, it->len);
    } else if (is_float(it)) {
        char num[40];
        nvsf_format_float(num, sizeof num, it->type, it->value);
        fputs("\"value\": ", f);
        if (num[strlen(num) - 1] == 'f' || num[0] == 'n')
            json_cstring(f, num); /* inf, -inf, nan: not JSON numbers */
        else
            fputs(num, f);
        fprintf(f, ", \"bits\": \"0x%0*llx\"",
                it->type == NVSF_TYPE_FLOAT ? 8 : 16,
                (unsigned long long)it->value);
    } else {
        fputs("\"value\": ", f);
        print_int(f, it);
    }
    fputc('}', f);
}

static void dump_json(FILE *f, const char *path, const nvsf_image *img)
{
    fputs("{\n  \"image\": ", f);
    json_cstring(f, path);
    fprintf(f, ",\n  \"size\": %zu,\n  \"page_count\": %u,\n  \"version\": ",
            img->size, img->page_count);
    json_number(f, img->version ? img->version : -1);
    fputs(",\n  \"severity\": ", f);
    json_cstring(f, nvsf_severity_name(img->severity));
    fprintf(f, ",\n  \"mixed_versions\": %s,\n  \"decrypted\": %s,\n",
            img->mixed_versions ? "true" : "false",
            img->decrypted ? "true" : "false");
    fputs("  \"pages\": [\n", f);
    for (uint32_t p = 0; p < img->page_count; p++) {
        json_page(f, &img->pages[p]);
        fputs(p + 1 < img->page_count ? ",\n" : "\n", f);
    }
    fputs("  ],\n  \"namespaces\": [\n", f);
    for (size_t n = 0; n < img->namespace_count; n++) {
        const nvsf_namespace *ns = &img->namespaces[n];
        fputs("    {\"name\": ", f);
        json_cstring(f, ns->name);
        fprintf(f, ", \"index\": %u, \"page\": %u, \"entry\": %u}%s\n",
                ns->index, ns->page, ns->entry,
                n + 1 < img->namespace_count ? "," : "");
    }
    fputs("  ],\n  \"items\": [\n", f);
    for (size_t k = 0; k < img->item_count; k++) {
        json_item(f, &img->items[k]);
        fputs(k + 1 < img->item_count ? ",\n" : "\n", f);
    }
    fputs("  ],\n  \"problems\": [\n", f);
    for (size_t k = 0; k < img->problem_count; k++) {
        const nvsf_problem *pr = &img->problems[k];
        fputs("    {\"kind\": ", f);
        json_cstring(f, problem_kind_name(pr->kind));
        fputs(", \"severity\": ", f);
        json_cstring(f, nvsf_severity_name(pr->severity));
        fputs(", \"page\": ", f);
        json_number(f, pr->page);
        fputs(", \"entry\": ", f);
        json_number(f, pr->entry);
        fputs(", \"message\": ", f);
        json_cstring(f, pr->message);
        fputs(k + 1 < img->problem_count ? "},\n" : "}\n", f);
    }
    fputs("  ]\n}\n", f);
}

/* ---- CSV ------------------------------------------------------------------- */

static int dump_csv(const char *prog, const char *path, const nvsf_image *img,
                    const char *inputkey, const char *hmac)
{
    nvsf_error err = {0};
    char *csv = NULL;
    size_t len = 0, diff = 0;
    int rc = nvsf_image_csv(img, &csv, &len, &err);
    int same = rc ? 0 : nvsf_image_csv_regenerates(img, csv, len, &diff, &err);
    if (rc || same < 0) {
        cli_error(prog, "%s: %s%s", path,
                  rc ? "" : "the partition generator refuses the dumped CSV: ",
                  err.message);
        free(csv);
        return EXIT_FAIL;
    }
    fwrite(csv, 1, len, stdout);
    nvsf_wipe(csv, len);
    free(csv);
    unsigned size = img->page_count * NVSF_PAGE_SIZE;
    int version = img->version ? img->version : 2;
    if (!same) {
        cli_warning(prog,
                    "generating this CSV at 0x%x bytes, version %d, gives the "
                    "same items but not the same bytes (they first differ at "
                    "offset 0x%zx, page %zu): the image was not written by the "
                    "partition generator as it is",
                    size, version, diff, diff / NVSF_PAGE_SIZE);
    } else if (inputkey || hmac) {
        fprintf(stderr,
                "note: nvs_partition_gen encrypt FILE.csv OUT.bin 0x%x "
                "--version %d %s%s makes this image again\n",
                size, version,
                inputkey ? "--inputkey " : "--keygen --key_protect_hmac "
                                           "--kp_hmac_inputkey ",
                inputkey ? inputkey : hmac);
    } else {
        fprintf(stderr,
                "note: nvs_partition_gen generate FILE.csv OUT.bin 0x%x "
                "--version %d makes this image again\n",
                size, version);
    }
    return EXIT_OK;
}

/* ---- the command ------------------------------------------------------------ */

int cmd_dump(const char *prog, int argc, char **argv)
{
    image_input in = {0};
    const char *format = NULL;
    int full = 0;
    cli_opt opts[] = {
        {"--format", 1, NULL, &format},
        {"--full", 0, &full, NULL},
    };
    const char *pos[1];
    static const char *const required[] = {"image"};
    nvsf_image *img = NULL;
    int rc = image_command_start(prog, argc, argv, &in, opts,
                                 sizeof opts / sizeof opts[0], pos, 1,
                                 required, dump_usage, dump_help, NULL);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (format && strcmp(format, "text") != 0 && strcmp(format, "json") != 0 &&
        strcmp(format, "csv") != 0) {
        fputs(dump_usage, stderr);
        cli_error(prog, "argument --format: invalid choice: '%s' (choose from "
                        "'text', 'json', 'csv')",
                  format);
        return EXIT_USAGE;
    }
    if ((rc = image_input_open(prog, &in, &img, NULL)))
        return rc;
    if (format && strcmp(format, "csv") == 0)
        rc = dump_csv(prog, pos[0], img, in.inputkey, in.hmac_key);
    else if (format && strcmp(format, "json") == 0)
        dump_json(stdout, pos[0], img);
    else
        dump_text(stdout, pos[0], img, full);
    if (img->severity != NVSF_SOUND && rc == EXIT_OK)
        cli_warning(prog,
                    "%s is %s (%zu problem%s); the dump shows what ESP-IDF "
                    "reads after its start-up (nvsforge check%s%s %s lists "
                    "them)",
                    pos[0], nvsf_severity_name(img->severity),
                    img->problem_count, img->problem_count == 1 ? "" : "s",
                    in.inputkey ? " --inputkey " : in.hmac_key ? " --hmac-key "
                                                               : "",
                    in.inputkey ? in.inputkey : in.hmac_key ? in.hmac_key : "",
                    pos[0]);
    return image_command_end(prog, img, rc);
}
