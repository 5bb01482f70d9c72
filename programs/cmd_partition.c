/*
 * `nvs_partition_gen` (also `nvsforge partition`): generate, generate-key,
 * encrypt and decrypt, with the reference tool's arguments and file names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "error.h"
#include "files.h"
#include "keyopts.h"

#define PARTITION_USAGE \
    "usage: nvs_partition_gen [-h] {generate,generate-key,encrypt,decrypt} ...\n"

static const char partition_usage[] = PARTITION_USAGE;

static const char partition_help[] =
    PARTITION_USAGE
    "\n"
    "ESP NVS partition generation utility (nvsforge " NVSF_VERSION_STRING ")\n"
    "\n"
    "Commands:\n"
    "  generate      Generate NVS partition\n"
    "  generate-key  Generate keys for encryption\n"
    "  encrypt       Generate NVS encrypted partition\n"
    "  decrypt       Decrypt NVS encrypted partition\n"
    "\n"
    "Run nvs_partition_gen {command} -h for additional help.\n";

#define GENERATE_USAGE \
    "usage: nvs_partition_gen generate [-h] [--version {1,2}] [--outdir OUTDIR]\n" \
    "                                  [--dry-run]\n" \
    "                                  input [input ...] output size\n"

static const char generate_usage[] = GENERATE_USAGE;

static const char generate_help[] =
    GENERATE_USAGE
    "\n"
    "Generate an NVS partition image from one or more CSV files.\n"
    "\n"
    "positional arguments:\n"
    "  input            CSV file(s) to parse (key,type,encoding,value)\n"
    "  output           output NVS image (.bin); an existing one is replaced\n"
    "  size             partition size in bytes, decimal or 0x hex (or any form\n"
    "                   Python's int(text, 0) reads), a multiple of 4096\n"
    "                   (0x1000 and 0x2000 make read-only partitions)\n"
    "\n"
    "options:\n"
    "  -h, --help       show this help message and exit\n"
    "  --version {1,2}  1: blobs on one page; 2 (default): multipage blobs\n"
    "  --outdir OUTDIR  folder for the output (default: current folder)\n"
    "  --dry-run        check everything and list what would be written, with\n"
    "                   the sizes; write nothing\n";

#define ENCRYPT_USAGE \
    "usage: nvs_partition_gen encrypt [-h] [--version {1,2}] [--keygen]\n" \
    "                                 [--keyfile KEYFILE] [--inputkey INPUTKEY]\n" \
    "                                 [--outdir OUTDIR] [--key_protect_hmac]\n" \
    "                                 [--kp_hmac_keygen]\n" \
    "                                 [--kp_hmac_keyfile KP_HMAC_KEYFILE]\n" \
    "                                 [--kp_hmac_inputkey KP_HMAC_INPUTKEY]\n" \
    "                                 [--dry-run]\n" \
    "                                 input [input ...] output size\n"

static const char encrypt_usage[] = ENCRYPT_USAGE;

static const char encrypt_help[] =
    ENCRYPT_USAGE
    "\n"
    "Generate an XTS-AES encrypted NVS partition image.\n"
    "\n"
    "positional arguments:\n"
    "  input               CSV file(s) to parse\n"
    "  output              output NVS image (.bin); an existing one is replaced\n"
    "  size                partition size in bytes (multiple of 4096)\n"
    "\n"
    "options:\n"
    "  -h, --help          show this help message and exit\n"
    "  --version {1,2}     1: blobs on one page; 2 (default): multipage blobs\n"
    "  --keygen            make a new key (operating system CSPRNG) and write\n"
    "                      it to <outdir>/keys/ (mode 0600; an existing key\n"
    "                      file is never replaced)\n"
    "  --keyfile KEYFILE   name of that key file (default keys-<timestamp>.bin)\n"
    "  --inputkey INPUTKEY encrypt with the key in this .bin file\n"
    "  --outdir OUTDIR     folder for the outputs (default: current folder)\n"
    "  --key_protect_hmac  derive the key from an HMAC key (HMAC-based scheme)\n"
    "  --kp_hmac_keygen    make a new HMAC key (written beside the key file)\n"
    "  --kp_hmac_keyfile KP_HMAC_KEYFILE\n"
    "                      name of the new HMAC key file\n"
    "  --kp_hmac_inputkey KP_HMAC_INPUTKEY\n"
    "                      derive the key from this 32-byte HMAC key file\n"
    "  --dry-run           check everything and list what would be written, with\n"
    "                      the sizes; write nothing\n";

/* Shared by nvs_partition_gen and mfg_gen: the name goes in front. */
#define GENKEY_ARGS \
    " [-h] [--key_protect_hmac] [--kp_hmac_keygen]\n" \
    "        [--kp_hmac_keyfile KP_HMAC_KEYFILE]\n" \
    "        [--kp_hmac_inputkey KP_HMAC_INPUTKEY]\n" \
    "        [--keyfile KEYFILE] [--outdir OUTDIR]\n"

static const char genkey_help_body[] =
    "\n"
    "Make an NVS encryption key partition (4096 bytes: XTS key, CRC32).\n"
    "\n"
    "options:\n"
    "  -h, --help          show this help message and exit\n"
    "  --key_protect_hmac  derive the key from an HMAC key (HMAC-based scheme)\n"
    "  --kp_hmac_keygen    make a new HMAC key as well\n"
    "  --kp_hmac_keyfile KP_HMAC_KEYFILE\n"
    "                      name of the new HMAC key file (default hmac-<keyfile>)\n"
    "  --kp_hmac_inputkey KP_HMAC_INPUTKEY\n"
    "                      derive the key from this 32-byte HMAC key file\n"
    "  --keyfile KEYFILE   key file name under <outdir>/keys/\n"
    "                      (default keys-<MM-DD_HH-MM>.bin)\n"
    "  --outdir OUTDIR     folder (default: current folder)\n";

#define DECRYPT_USAGE \
    "usage: nvs_partition_gen decrypt [-h] [--outdir OUTDIR] input key output\n"

static const char decrypt_usage[] = DECRYPT_USAGE;

static const char decrypt_help[] =
    DECRYPT_USAGE
    "\n"
    "Decrypt an encrypted NVS partition image.\n"
    "\n"
    "positional arguments:\n"
    "  input            encrypted NVS image (.bin)\n"
    "  key              key partition file (.bin) holding the XTS key\n"
    "  output           decrypted image to write (.bin; replaces an old one)\n"
    "\n"
    "options:\n"
    "  -h, --help       show this help message and exit\n"
    "  --outdir OUTDIR  folder for the output (default: current folder)\n";

/* The last moment a signal can still stop a command cleanly. */
static int commit_unless_interrupted(fs_txn *txn, nvsf_error *err)
{
    if (plat_interrupted())
        return nvsf_fail(err, NVSF_E_IO,
                         "interrupted by a signal; nothing was written");
    return fs_txn_commit(txn, err);
}

/* Stage the image under its output name (folders made as needed), then
 * commit everything staged: the image and any key files together. */
static int commit_with_image(fs_txn *txn, const char *output,
                             const uint8_t *image, size_t size,
                             nvsf_error *err)
{
    int rc = fs_mkdirs_for(output, err);
    if (!rc)
        rc = fs_txn_add(txn, output, image, size, FS_REMAKEABLE, err);
    if (!rc)
        rc = commit_unless_interrupted(txn, err);
    return rc;
}

/* Exit status of a command: 130 after a signal, as shells expect. The
 * problems are errs' (when it holds any), else err. */
static int command_status(const char *prog, int rc, const nvsf_errors *errs,
                          const nvsf_error *err)
{
    if (!rc)
        return EXIT_OK;
    cli_fail_all(prog, errs, err);
    return plat_interrupted() ? EXIT_INTERRUPTED : EXIT_FAIL;
}

static int parse_version(const char *prog, const char *text, int *version,
                         const char *usage)
{
    if (!text) {
        *version = 2;
        return 0;
    }
    if ((*version = cli_format_version(text)))
        return 0;
    fputs(usage, stderr);
    cli_error(prog, "argument --version: invalid choice: '%s' (choose from 1, 2)",
              text);
    return EXIT_USAGE;
}

/* Read every CSV and build the image in memory; every problem of every
 * CSV goes to errs. */
static int build_image(const char *const *inputs, int ninputs, uint32_t size,
                       int version, const uint8_t *xts_key, uint8_t *image,
                       nvsf_errors *errs, nvsf_error *err)
{
    nvsf_builder *b = NULL;
    nvsf_rows *rows = NULL;
    int rc = nvsf_builder_new(&b, size, version, xts_key, err);
    if (!rc)
        rc = nvsf_rows_new(&rows, b, fs_file_reader, NULL, err);
    int setup = rc;
    for (int i = 0; !setup && i < ninputs; i++) {
        uint8_t *csv;
        size_t len;
        int r = plat_read_file(inputs[i], &csv, &len, err);
        if (r) {
            if (nvsf_errors_add(errs, err))
                r = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
        } else {
            r = nvsf_rows_add_csv_all(rows, inputs[i], (const char *)csv, len,
                                      errs, err);
            nvsf_wipe(csv, len);
            free(csv);
        }
        if (!rc)
            rc = r;
        if (r == NVSF_E_FULL || r == NVSF_E_NOMEM)
            break;
    }
    if (!rc)
        rc = nvsf_builder_finish(b, image, err);
    nvsf_rows_free(rows);
    nvsf_builder_free(b);
    return rc;
}

/* generate and encrypt. */
static int cmd_generate(const char *prog, int argc, char **argv, int encrypt)
{
    const char *version_arg = NULL, *outdir_arg = NULL;
    key_options ko = {0};
    int dry_run = 0;
    cli_opt opts[] = {
        {"--version", 1, NULL, &version_arg},
        {"--outdir", 1, NULL, &outdir_arg},
        {"--dry-run", 0, &dry_run, NULL},
        {"--keygen", 0, &ko.keygen, NULL},
        {"--keyfile", 1, NULL, &ko.keyfile},
        {"--inputkey", 1, NULL, &ko.inputkey},
        {"--key_protect_hmac", 0, &ko.key_protect_hmac, NULL},
        {"--kp_hmac_keygen", 0, &ko.kp_hmac_keygen, NULL},
        {"--kp_hmac_keyfile", 1, NULL, &ko.kp_hmac_keyfile},
        {"--kp_hmac_inputkey", 1, NULL, &ko.kp_hmac_inputkey},
    };
    cli_text text;
    cli_retitle(&text, encrypt ? encrypt_usage : generate_usage,
                encrypt ? encrypt_help : generate_help,
                encrypt ? "nvs_partition_gen encrypt" : "nvs_partition_gen generate",
                prog);
    const char *usage = text.usage;
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (!pos)
        return EXIT_FAIL;
    int npos, rc = cli_parse(prog, argc, argv, opts, encrypt ? 10 : 3, pos, argc,
                             &npos, usage, text.help);
    if (rc) {
        free(pos);
        return rc < 0 ? EXIT_OK : rc;
    }
    if (npos < 3) {
        free(pos);
        fputs(usage, stderr);
        cli_error(prog, "the following arguments are required: input, output, size");
        return EXIT_USAGE;
    }
    int version;
    if ((rc = parse_version(prog, version_arg, &version, usage))) {
        free(pos);
        return rc;
    }
    const char *output_arg = pos[npos - 2], *size_arg = pos[npos - 1];
    int ninputs = npos - 2;

    nvsf_error err = {0};
    uint32_t size = 0;
    char *outdir = NULL, *output = NULL;
    uint8_t *image = NULL;
    uint8_t hmac_in[NVSF_HMAC_KEY_SIZE];
    key_material km;
    memset(&km, 0, sizeof km);
    fs_txn txn = {.sync = FS_SYNC_FOLDERS};
    nvsf_errors errs = {0};
    int have_key = 0;

    rc = nvsf_parse_size(size_arg, &size, &err);
    if (!rc && !cli_has_bin_ext(output_arg))
        rc = nvsf_fail(&err, NVSF_E_INPUT,
                       "`%s`: only the `.bin` extension is allowed for the "
                       "output",
                       output_arg);
    if (!rc && encrypt) {
        rc = keys_check_options(&ko, 1, &err);
        if (!rc && ko.inputkey && ko.keyfile)
            cli_warning(prog, "--inputkey is given: --keyfile is ignored");
    }
    if (!rc && (!(outdir = fs_expand_home(outdir_arg)) ||
                !(output = fs_join(outdir, output_arg))))
        rc = nvsf_fail(&err, NVSF_E_NOMEM, "out of memory");
    if (!rc && encrypt && ko.inputkey) {
        rc = keys_read_input(ko.inputkey, km.xts, &err);
        have_key = !rc;
    } else if (!rc && encrypt) {
        char default_name[64];
        keys_default_name(default_name, sizeof default_name);
        if (ko.kp_hmac_inputkey)
            rc = keys_read_hmac(ko.kp_hmac_inputkey, hmac_in, &err);
        if (!rc)
            rc = keys_set_paths(&ko, outdir, ko.keyfile ? ko.keyfile : default_name,
                                &km, &err);
        if (!rc)
            rc = keys_check_absent(&km, &err);
        if (!rc)
            rc = keys_make(&ko, hmac_in, &km, &err);
        have_key = !rc;
    }
    if (!rc && !(image = malloc(size)))
        rc = nvsf_fail(&err, NVSF_E_NOMEM, "out of memory");
    if (!rc)
        rc = build_image(pos, ninputs, size, version, have_key ? km.xts : NULL,
                         image, &errs, &err);
    if (!rc && nvsf_size_is_read_only(size))
        fprintf(stderr,
                "note: the minimum size of a read/write NVS partition is "
                "0x3000 bytes; a partition of 0x%x bytes must be flagged "
                "\"readonly\" in the partition table CSV\n",
                size);
    if (!rc && dry_run) {
        cli_plan plan = {0};
        if (km.key_path)
            cli_plan_file(&plan, km.key_path, NVSF_KEY_PARTITION_SIZE);
        if (km.hmac_path)
            cli_plan_file(&plan, km.hmac_path, NVSF_HMAC_KEY_SIZE);
        cli_plan_file(&plan, output, size);
        cli_plan_end(&plan, "");
    }
    if (!rc && !dry_run)
        rc = keys_stage(&km, &txn, &err);
    if (!rc && !dry_run)
        rc = commit_with_image(&txn, output, image, size, &err);
    fs_txn_abort(&txn);

    if (!rc && !dry_run) {
        if (km.key_path)
            printf("Created encryption keys: ===> %s\n", km.key_path);
        if (km.hmac_path)
            printf("Created HMAC key: ===> %s\n", km.hmac_path);
        printf("Created NVS binary: ===> %s\n", output);
    }
    if (image) {
        nvsf_wipe(image, size);
        free(image);
    }
    nvsf_wipe(hmac_in, sizeof hmac_in);
    keys_free(&km);
    free(outdir);
    free(output);
    free(pos);
    rc = command_status(prog, rc, &errs, &err);
    nvsf_errors_free(&errs);
    return rc;
}

int cmd_generate_key(const char *prog, int argc, char **argv)
{
    const char *outdir_arg = NULL;
    key_options ko = {0};
    cli_opt opts[] = {
        {"--key_protect_hmac", 0, &ko.key_protect_hmac, NULL},
        {"--kp_hmac_keygen", 0, &ko.kp_hmac_keygen, NULL},
        {"--kp_hmac_keyfile", 1, NULL, &ko.kp_hmac_keyfile},
        {"--kp_hmac_inputkey", 1, NULL, &ko.kp_hmac_inputkey},
        {"--keyfile", 1, NULL, &ko.keyfile},
        {"--outdir", 1, NULL, &outdir_arg},
    };
    char usage[512], help[sizeof genkey_help_body + 512];
    snprintf(usage, sizeof usage, "usage: %s%s", prog, GENKEY_ARGS);
    snprintf(help, sizeof help, "%s%s", usage, genkey_help_body);
    const char *pos[1];
    int npos, rc = cli_parse(prog, argc, argv, opts, sizeof opts / sizeof opts[0],
                             pos, 0, &npos, usage, help);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;

    nvsf_error err = {0};
    key_material km;
    memset(&km, 0, sizeof km);
    uint8_t hmac_in[NVSF_HMAC_KEY_SIZE];
    fs_txn txn = {.sync = FS_SYNC_FOLDERS};
    char *outdir = fs_expand_home(outdir_arg);
    char default_name[64];
    keys_default_name(default_name, sizeof default_name);

    rc = outdir ? keys_check_options(&ko, 0, &err)
                : nvsf_fail(&err, NVSF_E_NOMEM, "out of memory");
    if (!rc && ko.kp_hmac_inputkey)
        rc = keys_read_hmac(ko.kp_hmac_inputkey, hmac_in, &err);
    if (!rc)
        rc = keys_set_paths(&ko, outdir, ko.keyfile ? ko.keyfile : default_name,
                            &km, &err);
    if (!rc)
        rc = keys_check_absent(&km, &err);
    if (!rc)
        rc = keys_make(&ko, hmac_in, &km, &err);
    if (!rc)
        rc = keys_stage(&km, &txn, &err);
    if (!rc)
        rc = commit_unless_interrupted(&txn, &err);
    fs_txn_abort(&txn);
    if (!rc) {
        printf("Created encryption keys: ===> %s\n", km.key_path);
        if (km.hmac_path)
            printf("Created HMAC key: ===> %s\n", km.hmac_path);
    }
    nvsf_wipe(hmac_in, sizeof hmac_in);
    keys_free(&km);
    free(outdir);
    return command_status(prog, rc, NULL, &err);
}

static int cmd_decrypt(const char *prog, int argc, char **argv)
{
    const char *outdir_arg = NULL;
    cli_opt opts[] = {{"--outdir", 1, NULL, &outdir_arg}};
    cli_text text;
    cli_retitle(&text, decrypt_usage, decrypt_help, "nvs_partition_gen decrypt",
                prog);
    const char *pos[3];
    int npos, rc = cli_parse(prog, argc, argv, opts, 1, pos, 3, &npos,
                             text.usage, text.help);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (npos < 3) {
        fputs(text.usage, stderr);
        cli_error(prog, "the following arguments are required: input, key, output");
        return EXIT_USAGE;
    }
    nvsf_error err = {0};
    for (int i = 0; i < 3; i++)
        if (!cli_has_bin_ext(pos[i])) {
            cli_error(prog, "`%s`: only the `.bin` extension is allowed", pos[i]);
            return EXIT_FAIL;
        }
    uint8_t key[NVSF_XTS_KEY_SIZE];
    uint8_t *image = NULL;
    size_t size = 0;
    fs_txn txn = {.sync = FS_SYNC_FOLDERS};
    char *outdir = fs_expand_home(outdir_arg);
    char *output = outdir ? fs_join(outdir, pos[2]) : NULL;
    rc = output ? 0 : nvsf_fail(&err, NVSF_E_NOMEM, "out of memory");
    if (!rc)
        rc = keys_read_input(pos[1], key, &err);
    if (!rc)
        rc = plat_read_file(pos[0], &image, &size, &err);
    if (!rc && (size == 0 || size % NVSF_PAGE_SIZE))
        rc = nvsf_fail(&err, NVSF_E_FORMAT,
                       "'%s' is %zu bytes, not a whole number of 4096-byte "
                       "pages: not an NVS partition image",
                       pos[0], size);
    if (!rc && (rc = nvsf_image_check_key(image, size, key, &err)) ==
                   NVSF_E_KEY) /* the reference writes garbage then */
        nvsf_error_prefix(&err, "'%s' with the key of '%s'", pos[0], pos[1]);
    if (!rc)
        rc = nvsf_image_decrypt(image, size, key, &err);
    if (!rc)
        rc = commit_with_image(&txn, output, image, size, &err);
    fs_txn_abort(&txn);
    if (!rc)
        printf("Created NVS decrypted binary: ===> %s\n", output);
    nvsf_wipe(key, sizeof key);
    if (image) {
        nvsf_wipe(image, size);
        free(image);
    }
    free(outdir);
    free(output);
    return command_status(prog, rc, NULL, &err);
}

static int cmd_generate_plain(const char *prog, int argc, char **argv)
{
    return cmd_generate(prog, argc, argv, 0);
}

static int cmd_encrypt(const char *prog, int argc, char **argv)
{
    return cmd_generate(prog, argc, argv, 1);
}

int cmd_partition(const char *prog, int argc, char **argv)
{
    static const cli_command cmds[] = {
        {"generate", cmd_generate_plain},
        {"generate-key", cmd_generate_key},
        {"encrypt", cmd_encrypt},
        {"decrypt", cmd_decrypt},
    };
    cli_text text;
    cli_retitle(&text, partition_usage, partition_help, "nvs_partition_gen", prog);
    return cli_dispatch(prog, argc, argv, cmds, sizeof cmds / sizeof cmds[0],
                        text.usage, text.help);
}
