/*
 * `mfg_gen` (also `nvsforge mfg`): per-device factory images from a config
 * CSV and a values CSV, with the reference tool's command line and files.
 * The options and the messages; the batch itself is pipeline/batch.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "cli.h"
#include "commands.h"
#include "error.h"
#include "files.h"
#include "platform.h"

#define MFG_USAGE \
    "usage: mfg_gen [-h] {generate,generate-key} ...\n"

static const char mfg_usage[] = MFG_USAGE;

static const char mfg_help[] =
    MFG_USAGE
    "\n"
    "ESP Manufacturing Utility (nvsforge " NVSF_VERSION_STRING ")\n"
    "\n"
    "Commands:\n"
    "  generate      Generate NVS partition images, one per device\n"
    "  generate-key  Generate keys for encryption\n"
    "\n"
    "Run mfg_gen {command} -h for additional help.\n";

#define GENERATE_USAGE \
    "usage: mfg_gen generate [-h] [--prefix_num start length] [--fileid FILEID]\n" \
    "                        [--version {1,2}] [--keygen] [--inputkey INPUTKEY]\n" \
    "                        [--outdir OUTDIR] [--key_protect_hmac]\n" \
    "                        [--kp_hmac_keygen] [--kp_hmac_keyfile KP_HMAC_KEYFILE]\n" \
    "                        [--kp_hmac_inputkey KP_HMAC_INPUTKEY]\n" \
    "                        [--shard K/N] [--jobs N] [--quiet] [--dry-run]\n" \
    "                        conf values prefix size\n"

static const char generate_usage[] = GENERATE_USAGE;

static const char generate_help[] =
    GENERATE_USAGE
    "\n"
    "Make one NVS partition image per line of the values file. The whole batch\n"
    "is checked before anything is written; on any error nothing is left.\n"
    "\n"
    "positional arguments:\n"
    "  conf                  config CSV: name,namespace, and key,type,encoding[,REPEAT]\n"
    "  values                values CSV: a header of key names, one line per device\n"
    "  prefix                file-name prefix of every output\n"
    "  size                  partition size in bytes (multiple of 4096)\n"
    "\n"
    "options:\n"
    "  -h, --help            show this help message and exit\n"
    "  --prefix_num start length\n"
    "                        add a counter from start, zero-padded to length digits:\n"
    "                        <prefix>-<counter>-<id>\n"
    "  --fileid FILEID        values column whose value names each device's files\n"
    "                        (default: 1, 2, 3...)\n"
    "  --version {1,2}       1: blobs on one page; 2 (default): multipage blobs\n"
    "  --keygen              encrypt each image with a new key from the CSPRNG,\n"
    "                        written to <outdir>/keys/keys-<name>.bin (mode 0600)\n"
    "  --inputkey INPUTKEY   encrypt every image with the key in this file\n"
    "  --outdir OUTDIR       output folder (default: current folder)\n"
    "  --key_protect_hmac    with --keygen: derive each key from an HMAC key\n"
    "  --kp_hmac_keygen      make a new HMAC key per device:\n"
    "                        <outdir>/keys/hmac-keys-<name>.bin\n"
    "  --kp_hmac_keyfile KP_HMAC_KEYFILE\n"
    "                        HMAC key file name; only for a batch of one device\n"
    "  --kp_hmac_inputkey KP_HMAC_INPUTKEY\n"
    "                        derive every key from this 32-byte HMAC key\n"
    "  --shard K/N           make only the devices whose line index (from 0) is K\n"
    "                        modulo N, under the full run's names; the manifest\n"
    "                        is manifest-K-of-N.csv\n"
    "  --jobs N              worker threads (default: number of cores)\n"
    "  --quiet               no progress bar and no summary\n"
    "  --dry-run             check everything and list the files that would be\n"
    "                        written, with their sizes; write nothing\n"
    "\n"
    "outputs: <outdir>/bin/<name>.bin, <outdir>/csv/<name>.csv, keys in\n"
    "<outdir>/keys/, <outdir>/manifest.csv (a header, then id,image,\n"
    "image_sha256,key,key_sha256,hmac_key,hmac_key_sha256 per device),\n"
    "<outdir>/run.json (version, command line, inputs with their SHA-256,\n"
    "times, devices, shard) and, when the config has REPEAT keys,\n"
    "<values>_created.csv beside the values file. Those files are remade\n"
    "over earlier ones, atomically; an existing key file is never replaced:\n"
    "it stops the run before anything is written. Every problem is reported\n"
    "in one pass, and nothing is written then.\n";


/* ---- options ------------------------------------------------------------ */

typedef struct mfg_args {
    const char *size_arg;
    const char *prefix_num[2];
    const char *version_arg, *outdir_arg, *shard_arg, *jobs_arg;
    const char *ignored[3]; /* --keyfile, --input, --output */
    int quiet, dry_run;
} mfg_args;

static int parse_number(const char *text, long long min, long long max,
                        long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* The options given as text, into the batch's numbers. */
static int parse_args(const mfg_args *a, batch_options *o, nvsf_error *err)
{
    long long v;
    int rc = nvsf_parse_size(a->size_arg, &o->size, err);
    if (rc)
        return rc;
    o->version = 2;
    if (a->version_arg && !(o->version = cli_format_version(a->version_arg)))
        return nvsf_fail(err, NVSF_E_USAGE, "--version must be 1 or 2, not '%s'",
                         a->version_arg);
    if (a->prefix_num[0]) {
        o->use_counter = 1;
        if (parse_number(a->prefix_num[0], 0, 999999999999LL, &o->counter_start))
            return nvsf_fail(err, NVSF_E_USAGE,
                             "--prefix_num start '%s' must be a whole number "
                             ">= 0",
                             a->prefix_num[0]);
        if (parse_number(a->prefix_num[1], 0, 32, &v))
            return nvsf_fail(err, NVSF_E_USAGE,
                             "--prefix_num length '%s' must be a number of "
                             "digits from 0 to 32",
                             a->prefix_num[1]);
        o->counter_digits = (int)v;
    }
    o->shard_k = 0;
    o->shard_n = 1;
    if (a->shard_arg) {
        unsigned long k, n;
        char extra;
        if (sscanf(a->shard_arg, "%lu/%lu%c", &k, &n, &extra) != 2 || n == 0 ||
            k >= n || strchr(a->shard_arg, '-'))
            return nvsf_fail(err, NVSF_E_USAGE,
                             "--shard '%s' must be K/N with 0 <= K < N, e.g. "
                             "0/4",
                             a->shard_arg);
        o->shard_k = k;
        o->shard_n = n;
    }
    int cores = plat_cores();
    o->jobs = cores > 64 ? 64 : cores;
    if (a->jobs_arg) {
        if (parse_number(a->jobs_arg, 1, 256, &v))
            return nvsf_fail(err, NVSF_E_USAGE,
                             "--jobs '%s' must be a number from 1 to 256",
                             a->jobs_arg);
        o->jobs = (int)v;
    }
    return 0;
}

/* ---- progress and warnings ------------------------------------------------ */

typedef struct progress {
    const char *prog;
    int show; /* a bar on a terminal, unless --quiet */
    int phase;
    double start, last;
    cli_plan plan; /* --dry-run */
} progress;

static int progress_show(void *ctx, enum batch_phase phase, size_t done,
                         size_t total, int final)
{
    progress *p = ctx;
    if (!p->show)
        return 0;
    double now = plat_seconds();
    if (p->phase != (int)phase) { /* a new phase: its clock starts */
        p->phase = (int)phase;
        p->start = now;
    } else if (!final && now - p->last < 0.1) {
        return 0;
    }
    p->last = now;
    double t = now - p->start;
    double rate = t > 0 ? (double)done / t : 0;
    int width = 30, fill = total ? (int)((double)done * width / (double)total) : 0;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '=' : ' ';
    bar[width] = '\0';
    const char *what = phase == BATCH_CHECKING ? "checking" : "writing";
    if (total) {
        double left = rate > 0 ? (double)(total - done) / rate : 0;
        fprintf(stderr, "\r%-8s [%s] %zu/%zu devices  %.0f/s  %d:%02d left ",
                what, bar, done, total, rate, (int)left / 60, (int)left % 60);
    } else {
        fprintf(stderr, "\r%-8s %zu devices  %.0f/s ", what, done, rate);
    }
    if (final)
        fputc('\n', stderr);
    return 0;
}

static void warning_show(void *ctx, const char *message)
{
    const progress *p = ctx;
    cli_warning(p->prog, "%s", message);
}

static void planned_show(void *ctx, const char *path, uint64_t bytes)
{
    progress *p = ctx;
    cli_plan_file(&p->plan, path, bytes);
}

/* ---- the command ------------------------------------------------------- */

static int cmd_mfg_generate(const char *prog, int argc, char **argv)
{
    mfg_args a;
    memset(&a, 0, sizeof a);
    batch_options o;
    memset(&o, 0, sizeof o);
    cli_opt opts[] = {
        {"--prefix_num", 2, NULL, a.prefix_num},
        {"--fileid", 1, NULL, &o.fileid},
        {"--version", 1, NULL, &a.version_arg},
        {"--keygen", 0, &o.keys.keygen, NULL},
        {"--keyfile", 1, NULL, &a.ignored[0]},
        {"--inputkey", 1, NULL, &o.keys.inputkey},
        {"--outdir", 1, NULL, &a.outdir_arg},
        {"--key_protect_hmac", 0, &o.keys.key_protect_hmac, NULL},
        {"--kp_hmac_keygen", 0, &o.keys.kp_hmac_keygen, NULL},
        {"--kp_hmac_keyfile", 1, NULL, &o.keys.kp_hmac_keyfile},
        {"--kp_hmac_inputkey", 1, NULL, &o.keys.kp_hmac_inputkey},
        {"--input", 1, NULL, &a.ignored[1]},
        {"--output", 1, NULL, &a.ignored[2]},
        {"--shard", 1, NULL, &a.shard_arg},
        {"--jobs", 1, NULL, &a.jobs_arg},
        {"--quiet", 0, &a.quiet, NULL},
        {"--dry-run", 0, &a.dry_run, NULL},
    };
    cli_text text;
    cli_retitle(&text, generate_usage, generate_help, "mfg_gen generate", prog);
    const char *pos[4];
    int npos, rc = cli_parse(prog, argc, argv, opts, sizeof opts / sizeof opts[0],
                             pos, 4, &npos, text.usage, text.help);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (npos < 4) {
        fputs(text.usage, stderr);
        cli_error(prog, "the following arguments are required: conf, values, "
                        "prefix, size");
        return EXIT_USAGE;
    }
    o.conf = pos[0];
    o.values = pos[1];
    o.prefix = pos[2];
    a.size_arg = pos[3];
    for (int i = 0; i < 3; i++)
        if (a.ignored[i])
            cli_warning(prog, "%s is not used by mfg_gen generate; ignored",
                        i == 0 ? "--keyfile" : i == 1 ? "--input" : "--output");

    nvsf_error err = {0};
    char *outdir = NULL;
    progress pg = {.prog = prog, .show = !a.quiet && isatty(2), .phase = -1};
    batch_callbacks cb = {.ctx = &pg, .progress = progress_show,
                          .warning = warning_show, .planned = planned_show};
    o.dry_run = a.dry_run;
    batch_result res = {0};

    /* run.json records the command as typed: the program's words, then
     * the arguments. */
    char words[128];
    snprintf(words, sizeof words, "%s", prog);
    const char **line = calloc((size_t)argc + 4, sizeof *line);
    size_t nline = 0;
    for (char *w = strtok(words, " "); line && w && nline < 3; w = strtok(NULL, " "))
        line[nline++] = w;
    for (int i = 1; line && i < argc; i++)
        line[nline++] = argv[i];
    o.command_line = line;
    o.command_line_len = nline;

    rc = line ? parse_args(&a, &o, &err)
              : nvsf_fail(&err, NVSF_E_NOMEM, "out of memory");
    if (!rc && !(o.outdir = outdir = fs_expand_home(a.outdir_arg)))
        rc = nvsf_fail(&err, NVSF_E_NOMEM, "out of memory");
    if (!rc)
        rc = batch_run(&o, &cb, &res, &err);
    if (!rc && res.devices_made == 0 && !a.quiet)
        cli_warning(prog, "%s has no device lines%s", o.values,
                    o.shard_n > 1 ? " in this shard" : "");
    if (!rc && a.dry_run) {
        char devices[64];
        snprintf(devices, sizeof devices, ", for %zu device%s", res.devices_made,
                 res.devices_made == 1 ? "" : "s");
        cli_plan_end(&pg.plan, devices);
    } else if (!rc && !a.quiet)
        printf("Created %zu device image%s in %s (bin/, csv/%s); manifest: %s; "
               "record of the run: %s\n",
               res.devices_made, res.devices_made == 1 ? "" : "s", outdir,
               o.keys.keygen ? ", keys/" : "", res.manifest_path, res.run_path);
    free(outdir);
    free(line);
    int status = EXIT_OK;
    if (rc && err.code == NVSF_E_USAGE) {
        fputs(text.usage, stderr);
        cli_fail(prog, &err);
        status = EXIT_USAGE;
    } else if (rc) {
        cli_fail_all(prog, &res.problems, &err);
        if (res.writing_started)
            fprintf(stderr, "%s: nothing was left behind; fix the cause and "
                            "run the same command again\n", prog);
        status = res.interrupted ? EXIT_INTERRUPTED : EXIT_FAIL;
    }
    batch_result_free(&res);
    return status;
}

int cmd_mfg(const char *prog, int argc, char **argv)
{
    static const cli_command cmds[] = {
        {"generate", cmd_mfg_generate},
        {"generate-key", cmd_generate_key},
    };
    cli_text text;
    cli_retitle(&text, mfg_usage, mfg_help, "mfg_gen", prog);
    return cli_dispatch(prog, argc, argv, cmds, sizeof cmds / sizeof cmds[0],
                        text.usage, text.help);
}
