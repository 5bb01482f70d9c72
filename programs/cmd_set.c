/*
 * `nvsforge set`, `nvsforge erase` and `nvsforge apply`: change an existing
 * image the way the device's own NVS library would (lib/nvs_writer.c), and
 * write it back atomically. The three share everything but how the changes
 * are given: NS:KEY=TYPE:VALUE arguments, NS:KEY (or NS:) arguments, or a
 * partition CSV.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "error.h"
#include "files.h"
#include "image_input.h"

#define CHANGE_OPTIONS_USAGE \
    "[-h] [-o OUT] [--dry-run] " IMAGE_INPUT_USAGE

#define CHANGE_OPTIONS_HELP \
    "options:\n" \
    "  -h, --help           show this help message and exit\n" \
    "  -o OUT, --output OUT write the changed image to OUT (replaced\n" \
    "                       atomically) instead of replacing image\n" \
    "  --dry-run            print what would change, write nothing\n"

#define CHANGE_HELP_TAIL \
    "\n" \
    "The change is made as ESP-IDF's NVS library makes it on the device: the\n" \
    "new value goes into the active page (a new page, or garbage collection,\n" \
    "when it is full), then the old item is erased; the same value writes\n" \
    "nothing. The image is opened as the device opens it: the repairs of\n" \
    "its start-up come first (a power cut's leftovers); a damaged image is\n" \
    "refused. An encrypted image stays encrypted with its key; in a\n" \
    "whole-flash dump only the partition's bytes change. On any error the\n" \
    "image is left as it was. Exit status: 0 done, 1 error, 2 usage.\n" \
    "See nvsforge-set(1).\n"

#define SET_USAGE \
    "usage: nvsforge set " CHANGE_OPTIONS_USAGE "\n" \
    "                    image NS:KEY=TYPE:VALUE [NS:KEY=TYPE:VALUE ...]\n"

static const char set_help[] =
    SET_USAGE
    "\n"
    "Set keys in an existing NVS partition image.\n"
    "\n"
    "positional arguments:\n" IMAGE_INPUT_HELP
    "  NS:KEY=TYPE:VALUE    set KEY in namespace NS (created when new); TYPE\n"
    "                       is an encoding of the partition CSV: u8 i8 u16\n"
    "                       i16 u32 i32 u64 i64 float double string hex2bin\n"
    "                       base64 binary; VALUE @FILE takes the value from\n"
    "                       FILE (as a `file` row), @@ stands for a leading @\n"
    "\n" CHANGE_OPTIONS_HELP CHANGE_HELP_TAIL;

#define ERASE_USAGE \
    "usage: nvsforge erase " CHANGE_OPTIONS_USAGE "\n" \
    "                      image NS:KEY|NS: [NS:KEY|NS: ...]\n"

static const char erase_help[] =
    ERASE_USAGE
    "\n"
    "Erase keys, or every key of a namespace, from an existing NVS partition\n"
    "image.\n"
    "\n"
    "positional arguments:\n" IMAGE_INPUT_HELP
    "  NS:KEY               erase KEY of namespace NS (a blob with all its\n"
    "                       chunks)\n"
    "  NS:                  erase every key of namespace NS, as nvs_erase_all\n"
    "                       does (the namespace itself stays)\n"
    "\n" CHANGE_OPTIONS_HELP CHANGE_HELP_TAIL;

#define APPLY_USAGE \
    "usage: nvsforge apply " CHANGE_OPTIONS_USAGE "\n" \
    "                      image CHANGES\n"

static const char apply_help[] =
    APPLY_USAGE
    "\n"
    "Apply a partition CSV of changes to an existing NVS partition image.\n"
    "\n"
    "positional arguments:\n" IMAGE_INPUT_HELP
    "  CHANGES              a partition CSV (key,type,encoding,value): its\n"
    "                       data and file rows set keys; a row `key,erase,,`\n"
    "                       erases the key, a row `ns,namespace,erase,` every\n"
    "                       key of the namespace\n"
    "\n" CHANGE_OPTIONS_HELP CHANGE_HELP_TAIL;

enum change_kind { CHANGE_SET, CHANGE_ERASE, CHANGE_APPLY };

typedef struct change_cmd {
    enum change_kind kind;
    const char *usage, *help;
} change_cmd;

/* "NS:KEY=TYPE:VALUE" as a row of namespace NS. */
static int set_argument(nvsf_edit *ed, const char *image, const char *arg,
                        nvsf_error *err)
{
    const char *colon = strchr(arg, ':');
    const char *eq = colon ? strchr(colon + 1, '=') : NULL;
    const char *colon2 = eq ? strchr(eq + 1, ':') : NULL;
    if (!colon2)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "'%s': expected NS:KEY=TYPE:VALUE, as "
                         "cfg:serial=string:SN0001",
                         arg);
    char ns[64], key[64], enc[64];
    size_t nl = (size_t)(colon - arg), kl = (size_t)(eq - colon - 1),
           el = (size_t)(colon2 - eq - 1);
    if (nl >= sizeof ns || kl >= sizeof key || el >= sizeof enc)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "'%s': a name or type is too long", arg);
    memcpy(ns, arg, nl);
    ns[nl] = '\0';
    memcpy(key, colon + 1, kl);
    key[kl] = '\0';
    memcpy(enc, eq + 1, el);
    enc[el] = '\0';
    const char *value = colon2 + 1;
    int is_file = value[0] == '@' && value[1] != '@';
    if (value[0] == '@')
        value++;
    nvsf_row row = {.key = key,
                    .type = is_file ? "file" : "data",
                    .encoding = enc,
                    .value = value,
                    .value_len = strlen(value)};
    return nvsf_image_set_row(ed, image, ns, &row, fs_file_reader, NULL, err);
}

/* "NS:KEY" or "NS:". */
static int erase_argument(nvsf_edit *ed, const char *image, const char *arg,
                          nvsf_error *err)
{
    const char *colon = strchr(arg, ':');
    if (!colon)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "'%s': expected NS:KEY, or NS: for the whole "
                         "namespace",
                         arg);
    char ns[64];
    size_t nl = (size_t)(colon - arg);
    if (nl >= sizeof ns)
        return nvsf_fail(err, NVSF_E_INPUT, "'%s': the namespace is too long",
                         arg);
    memcpy(ns, arg, nl);
    ns[nl] = '\0';
    int rc = nvsf_image_erase(ed, ns, colon[1] ? colon + 1 : NULL, err);
    return rc ? nvsf_error_prefix(err, "%s", image) : 0;
}

static int apply_file(nvsf_edit *ed, const char *path, nvsf_error *err)
{
    uint8_t *csv;
    size_t len;
    int rc = plat_read_file(path, &csv, &len, err);
    if (rc)
        return rc;
    rc = nvsf_image_apply_csv(ed, path, (const char *)csv, len, fs_file_reader,
                              NULL, err);
    nvsf_wipe(csv, len);
    free(csv);
    return rc;
}

static int run_change(const char *prog, const change_cmd *c, int argc,
                      char **argv)
{
    image_input in = {0};
    const char *out = NULL;
    int dry_run = 0;
    cli_opt opts[] = {
        {"-o", 1, NULL, &out},
        {"--output", 1, NULL, &out},
        {"--dry-run", 0, &dry_run, NULL},
        IMAGE_INPUT_OPTS(in),
    };
    int max_pos = argc > 2 ? argc : 2;
    const char **pos = calloc((size_t)max_pos, sizeof *pos);
    if (!pos) {
        cli_error(prog, "out of memory");
        return EXIT_FAIL;
    }
    int npos, rc = cli_parse(prog, argc, argv, opts, sizeof opts / sizeof opts[0],
                             pos, max_pos, &npos, c->usage, c->help);
    if (rc) {
        free(pos);
        return rc < 0 ? EXIT_OK : rc;
    }
    const char *missing = npos < 1 ? "image"
                          : npos >= 2 ? NULL
                          : c->kind == CHANGE_SET   ? "NS:KEY=TYPE:VALUE"
                          : c->kind == CHANGE_ERASE ? "NS:KEY"
                                                    : "CHANGES";
    const char *why = missing ? "the following arguments are required: "
                      : c->kind == CHANGE_APPLY && npos > 2
                          ? "unrecognized arguments: "
                      : strcmp(pos[0], "-") == 0 && !out && !dry_run
                          ? "image - (standard input) needs -o OUT"
                          : NULL;
    if (why) {
        fputs(c->usage, stderr);
        cli_error(prog, "%s%s", why,
                  missing ? missing : npos > 2 ? pos[2] : "");
        free(pos);
        return EXIT_USAGE;
    }
    in.path = pos[0];
    image_bytes img;
    if ((rc = image_input_check(prog, &in, c->usage)) ||
        (rc = image_input_load(prog, &in, &img))) {
        free(pos);
        return rc;
    }
    nvsf_error err = {0};
    nvsf_edit *ed = NULL;
    rc = nvsf_edit_open(&ed, img.data + img.offset, img.size,
                        img.keyed ? img.xts : NULL, &err);
    if (rc)
        image_input_key_error(prog, &in, &img, &err);
    for (int i = 1; !rc && i < npos; i++) {
        if (c->kind == CHANGE_SET)
            rc = set_argument(ed, img.name, pos[i], &err);
        else if (c->kind == CHANGE_ERASE)
            rc = erase_argument(ed, img.name, pos[i], &err);
        else
            rc = apply_file(ed, pos[i], &err);
        if (rc)
            cli_error(prog, "%s", err.message);
    }
    const char *target = out ? out : img.name;
    if (!rc && dry_run) {
        const char *log = nvsf_edit_log(ed);
        printf("%s%s: dry run, nothing written\n",
               *log ? log : "nothing to change\n", target);
    } else if (!rc && (rc = fs_replace_file(target, img.data, img.len, &err))) {
        cli_error(prog, "%s", err.message);
    }
    nvsf_edit_close(ed);
    image_bytes_free(&img);
    free(pos);
    if (rc)
        return EXIT_FAIL;
    if (fflush(stdout) || ferror(stdout)) {
        cli_error(prog, "cannot write to standard output");
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cmd_set(const char *prog, int argc, char **argv)
{
    static const change_cmd c = {CHANGE_SET, SET_USAGE, set_help};
    return run_change(prog, &c, argc, argv);
}

int cmd_erase(const char *prog, int argc, char **argv)
{
    static const change_cmd c = {CHANGE_ERASE, ERASE_USAGE, erase_help};
    return run_change(prog, &c, argc, argv);
}

int cmd_apply(const char *prog, int argc, char **argv)
{
    static const change_cmd c = {CHANGE_APPLY, APPLY_USAGE, apply_help};
    return run_change(prog, &c, argc, argv);
}
