/*
 * `nvsforge get`: one value, as ESP-IDF's nvs_get_* returns it after its
 * start-up, on standard output, for shell scripts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "image_input.h"
#include "value.h"

#define GET_USAGE \
    "usage: nvsforge get [-h] [--raw] [--type TYPE] " IMAGE_INPUT_USAGE "\n" \
    "                    image namespace key\n"

static const char get_usage[] = GET_USAGE;

static const char get_help[] =
    GET_USAGE
    "\n"
    "Print the value of one key, as a device reads it with nvs_get_* after\n"
    "ESP-IDF's start-up, on standard output:\n"
    "  integers       in decimal\n"
    "  float, double  the shortest decimal that reads back the same (inf)\n"
    "  string         its text, without the terminating NUL\n"
    "  blob           in hex (lower case)\n"
    "each followed by a newline.\n"
    "\n"
    "positional arguments:\n"
    IMAGE_INPUT_HELP
    "  namespace            the namespace\n"
    "  key                  the key\n"
    "\n"
    "options:\n"
    "  -h, --help           show this help message and exit\n"
    "  --raw                strings and blobs as their bytes, nothing added\n"
    "  --type TYPE          the value of this type (u8 ... i64, float, double,\n"
    "                       string, blob), for a key ESP-IDF returns twice\n"
    "                       with two types (a change of type cut by a power\n"
    "                       loss) or to insist on a type\n"
    "\n"
    "Exit status: 0 printed; 1 no such key (or namespace, or not of --type),\n"
    "the key twice with two types and no --type, or unreadable input; 2 usage.\n";

/* "blob" for both blob formats, else the stored type's name. */
static const char *type_of(const nvsf_item *it)
{
    return it->type == NVSF_TYPE_BLOB || it->type == NVSF_TYPE_BLOB_INDEX
               ? "blob"
               : nvsf_item_type_name(it->type);
}

static void print_value(const nvsf_item *it, int raw)
{
    if (it->type == NVSF_TYPE_STRING) {
        size_t n = it->len && !it->data[it->len - 1] ? it->len - 1 : it->len;
        fwrite(it->data, 1, n, stdout);
    } else if (it->type == NVSF_TYPE_BLOB || it->type == NVSF_TYPE_BLOB_INDEX) {
        if (raw)
            fwrite(it->data, 1, it->len, stdout);
        else
            for (size_t i = 0; i < it->len; i++)
                printf("%02x", it->data[i]);
    } else if (it->type == NVSF_TYPE_FLOAT || it->type == NVSF_TYPE_DOUBLE) {
        char num[40];
        nvsf_format_float(num, sizeof num, it->type, it->value);
        fputs(num, stdout);
    } else if (nvsf_int_type_is_signed(it->type)) {
        printf("%lld", (long long)(int64_t)it->value);
    } else {
        printf("%llu", (unsigned long long)it->value);
    }
    int bytes = it->type == NVSF_TYPE_STRING || it->type == NVSF_TYPE_BLOB ||
                it->type == NVSF_TYPE_BLOB_INDEX;
    if (!(raw && bytes))
        putchar('\n');
}

int cmd_get(const char *prog, int argc, char **argv)
{
    image_input in = {0};
    const char *type = NULL;
    int raw = 0;
    cli_opt opts[] = {
        {"--raw", 0, &raw, NULL},
        {"--type", 1, NULL, &type},
    };
    const char *pos[3];
    static const char *const required[] = {"image", "namespace", "key"};
    nvsf_image *img = NULL;
    int rc = image_command_start(prog, argc, argv, &in, opts,
                                 sizeof opts / sizeof opts[0], pos, 3,
                                 required, get_usage, get_help, NULL);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    static const char *const types[] = {"u8", "i8", "u16", "i16", "u32",
                                        "i32", "u64", "i64", "float",
                                        "double", "string", "blob"};
    int known = !type;
    for (size_t i = 0; !known && i < sizeof types / sizeof types[0]; i++)
        known = strcmp(type, types[i]) == 0;
    if (!known) {
        fputs(get_usage, stderr);
        cli_error(prog, "argument --type: invalid choice: '%s' (choose from "
                        "u8, i8, u16, i16, u32, i32, u64, i64, float, double, "
                        "string, blob)",
                  type);
        return EXIT_USAGE;
    }
    if ((rc = image_input_open(prog, &in, &img, NULL)))
        return rc;
    const char *ns = pos[1], *key = pos[2];
    const nvsf_item *found = NULL, *other = NULL;
    int have_ns = 0;
    for (size_t k = 0; k < img->namespace_count; k++)
        have_ns |= strcmp(img->namespaces[k].name, ns) == 0;
    for (size_t k = 0; k < img->item_count; k++) {
        const nvsf_item *it = &img->items[k];
        if (!it->ns_name || strcmp(it->ns_name, ns) != 0 ||
            strcmp(it->key, key) != 0)
            continue;
        if (type ? strcmp(type_of(it), type) != 0
                 : found && found->type != it->type)
            other = it;
        else if (!found)
            found = it;
    }
    rc = EXIT_FAIL;
    if (!have_ns)
        cli_error(prog, "%s: no namespace '%s'", in.path, ns);
    else if (!found && other)
        cli_error(prog, "%s: key '%s' of namespace '%s' is a %s, not a %s",
                  in.path, key, ns, type_of(other), type);
    else if (!found)
        cli_error(prog, "%s: namespace '%s' has no key '%s'", in.path, ns, key);
    else if (other && !type)
        cli_error(prog,
                  "%s: key '%s' of namespace '%s' stands twice, as %s and as "
                  "%s (a change of type cut by a power loss): choose one "
                  "with --type",
                  in.path, key, ns, type_of(found), type_of(other));
    else
        rc = EXIT_OK;
    if (rc == EXIT_OK) {
        print_value(found, raw);
        if (img->severity >= NVSF_DAMAGED)
            cli_warning(prog, "%s is %s (nvsforge check lists why)", in.path,
                        nvsf_severity_name(img->severity));
    }
    return image_command_end(prog, img, rc);
}
