/* Reading an image for the commands that show one (image_input.h). */
#include "image_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "keyopts.h"
#include "platform.h"

#define TABLE_OFFSET_DEFAULT 0x8000u

/* A number as the reference tools take offsets: decimal or 0x hex. */
static int parse_number(const char *text, uint32_t *v)
{
    char *end;
    if (!text || !*text || *text == '-')
        return -1;
    unsigned long long n = strtoull(text, &end, 0);
    if (*end || n > UINT32_MAX)
        return -1;
    *v = (uint32_t)n;
    return 0;
}

int image_input_check(const char *prog, const image_input *in,
                      const char *usage)
{
    uint32_t v;
    const char *why = NULL;
    if (in->inputkey && in->hmac_key)
        why = "argument --hmac-key: not allowed with argument --inputkey";
    else if ((in->offset != NULL) != (in->size != NULL))
        why = "--offset and --size go together";
    else if (in->offset && (in->partition || in->table_offset))
        why = "argument --offset: not allowed with argument --partition or "
              "--table-offset";
    else if (in->offset && parse_number(in->offset, &v))
        why = "argument --offset: a number, decimal or 0x hex";
    else if (in->size && (parse_number(in->size, &v) || v == 0))
        why = "argument --size: a number above 0, decimal or 0x hex";
    else if (in->table_offset && parse_number(in->table_offset, &v))
        why = "argument --table-offset: a number, decimal or 0x hex";
    if (!why)
        return EXIT_OK;
    fputs(usage, stderr);
    cli_error(prog, "%s", why);
    return EXIT_USAGE;
}

static int read_stdin(uint8_t **data, size_t *len, nvsf_error *err)
{
    size_t cap = 1u << 20, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, stdin);
        if (n < cap)
            break;
        uint8_t *bigger = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    if (!buf)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    if (ferror(stdin)) {
        free(buf);
        return nvsf_fail(err, NVSF_E_IO, "cannot read standard input");
    }
    *data = buf;
    *len = n;
    return 0;
}

/* The key the options name, if any: 1 with xts filled, 0 none, < 0 error. */
static int read_key(const image_input *in, uint8_t xts[NVSF_XTS_KEY_SIZE],
                    nvsf_error *err)
{
    uint8_t hmac[NVSF_HMAC_KEY_SIZE];
    int rc = 0;
    if (in->inputkey)
        rc = keys_read_input(in->inputkey, xts, err);
    else if (in->hmac_key && !(rc = keys_read_hmac(in->hmac_key, hmac, err)))
        rc = nvsf_key_from_hmac(hmac, xts, err);
    nvsf_wipe(hmac, sizeof hmac);
    return rc ? rc : in->inputkey || in->hmac_key;
}

int image_input_load(const char *prog, const image_input *in,
                     image_bytes *out)
{
    nvsf_error err = {0};
    memset(out, 0, sizeof *out);
    uint32_t table = TABLE_OFFSET_DEFAULT;
    out->name = strcmp(in->path, "-") == 0 ? "standard input" : in->path;
    int keyed = read_key(in, out->xts, &err);
    int rc = keyed < 0 ? keyed
             : strcmp(in->path, "-") == 0
                 ? read_stdin(&out->data, &out->len, &err)
                 : plat_read_file(in->path, &out->data, &out->len, &err);
    out->keyed = keyed > 0;
    if (in->table_offset)
        parse_number(in->table_offset, &table);
    size_t len = out->len;
    out->size = (uint32_t)(len < UINT32_MAX ? len : UINT32_MAX);
    if (!rc && in->offset) {
        parse_number(in->offset, &out->offset);
        parse_number(in->size, &out->size);
        if (out->offset > len || out->size > len - out->offset)
            rc = nvsf_fail(&err, NVSF_E_INPUT,
                           "0x%x bytes at 0x%x run past its end (%zu bytes)",
                           out->size, out->offset, len);
    } else if (!rc && (in->partition ||
                       nvsf_partition_has_table(out->data, len, table))) {
        rc = nvsf_partition_find(out->data, len, table,
                                 in->partition ? in->partition : "nvs",
                                 &out->offset, &out->size, &err);
    }
    if (!rc)
        return EXIT_OK;
    image_bytes_free(out);
    return cli_fail(prog, &err);
}

void image_bytes_free(image_bytes *b)
{
    nvsf_wipe(b->xts, sizeof b->xts);
    if (b->data) {
        nvsf_wipe(b->data, b->len);
        free(b->data);
    }
    memset(b, 0, sizeof *b);
}

void image_input_key_error(const char *prog, const image_input *in,
                           const image_bytes *b, const nvsf_error *err)
{
    if (err->code == NVSF_E_KEY)
        cli_error(prog, "%s: %s (the key of %s)", b->name, err->message,
                  in->inputkey ? in->inputkey : in->hmac_key);
    else
        cli_error(prog, "%s: %s", b->name, err->message);
}

int image_input_open(const char *prog, const image_input *in,
                     nvsf_image **img, uint32_t *where)
{
    nvsf_error err = {0};
    image_bytes b;
    *img = NULL;
    int rc = image_input_load(prog, in, &b);
    if (rc)
        return rc;
    rc = nvsf_image_read(b.data + b.offset, b.size, b.keyed ? b.xts : NULL, img,
                         &err);
    if (rc)
        image_input_key_error(prog, in, &b, &err);
    else if (where)
        *where = b.offset;
    image_bytes_free(&b);
    return rc ? EXIT_FAIL : EXIT_OK;
}

int image_command_start(const char *prog, int argc, char **argv,
                        image_input *in, const cli_opt *extra, size_t nextra,
                        const char **pos, int nreq,
                        const char *const *required, const char *usage,
                        const char *help, nvsf_image **img)
{
    cli_opt opts[12] = {IMAGE_INPUT_OPTS(*in)};
    size_t nopts = 6;
    for (size_t i = 0; i < nextra && nopts < sizeof opts / sizeof opts[0]; i++)
        opts[nopts++] = extra[i];
    int npos, rc = cli_parse(prog, argc, argv, opts, nopts, pos, nreq, &npos,
                             usage, help);
    if (rc)
        return rc;
    if (npos < nreq) {
        char names[200] = "";
        for (int i = npos; i < nreq; i++) {
            size_t n = strlen(names);
            snprintf(names + n, sizeof names - n, "%s%s", i > npos ? ", " : "",
                     required[i]);
        }
        fputs(usage, stderr);
        cli_error(prog, "the following arguments are required: %s", names);
        return EXIT_USAGE;
    }
    in->path = pos[0];
    if ((rc = image_input_check(prog, in, usage)) || !img)
        return rc;
    return image_input_open(prog, in, img, NULL);
}

int image_command_end(const char *prog, nvsf_image *img, int rc)
{
    nvsf_image_free(img);
    if (fflush(stdout) || ferror(stdout)) {
        cli_error(prog, "cannot write to standard output");
        return EXIT_FAIL;
    }
    return rc;
}
