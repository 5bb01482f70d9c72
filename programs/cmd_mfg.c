/*
 * `mfg_gen` (also `nvsforge mfg`): per-device factory images from a config
 * CSV and a values CSV, with the reference tool's command line and files.
 *
 * A batch runs in two passes over the values file, streamed so memory stays
 * flat however many devices it holds:
 *   1. check: every line, value and referenced file, every output name
 *      (unique, not present); images are built in memory and dropped;
 *   2. write: worker threads build each device's image, CSV and keys into
 *      temporary files; the main thread commits them in device order, in
 *      groups made durable with one syncfs() each, and writes the manifest.
 * A failure or a signal in pass 2 removes every file the run made (the
 * journal lists them), so a batch is all or nothing.
 */
#define _GNU_SOURCE /* syncfs */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "csv.h"
#include "error.h"
#include "fsutil.h"
#include "keyopts.h"
#include "mfg.h"

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
    "                        [--shard K/N] [--jobs N] [--quiet]\n" \
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
    "\n"
    "outputs: <outdir>/bin/<name>.bin, <outdir>/csv/<name>.csv, keys in\n"
    "<outdir>/keys/, <outdir>/manifest.csv (id,image,image_sha256,key,\n"
    "key_sha256,hmac_key,hmac_key_sha256 per device) and, when the config has\n"
    "REPEAT keys, <values>_created.csv beside the values file. Existing files\n"
    "are never replaced.\n";

/* ---- options ------------------------------------------------------------ */

typedef struct mfg_args {
    const char *prog; /* for messages */
    const char *conf, *values, *prefix, *size_arg;
    const char *prefix_num[2];
    const char *fileid, *version_arg, *outdir_arg, *shard_arg, *jobs_arg;
    const char *ignored[3]; /* --keyfile, --input, --output */
    int quiet;
    key_options ko;
    /* derived */
    uint32_t size;
    int version;
    long long counter_start;
    int counter_digits;
    int use_counter;
    unsigned long shard_k, shard_n;
    int jobs;
    char *outdir;
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

static int check_args(mfg_args *a, nvsf_error *err)
{
    long long v;
    int rc = nvsf_parse_size(a->size_arg, &a->size, err);
    if (rc)
        return rc;
    a->version = 2;
    if (a->version_arg) {
        if (strcmp(a->version_arg, "1") != 0 && strcmp(a->version_arg, "2") != 0)
            return nvsf_fail(err, NVSF_E_USAGE,
                             "--version must be 1 or 2, not '%s'", a->version_arg);
        a->version = a->version_arg[0] - '0';
    }
    for (int i = 0; i < 2; i++) {
        const char *f = i ? a->values : a->conf;
        const char *dot = strrchr(f, '.');
        if (!dot || strcmp(dot, ".csv") != 0)
            return nvsf_fail(err, NVSF_E_INPUT,
                             "%s file '%s' does not have the .csv extension",
                             i ? "values" : "config", f);
    }
    if (!a->prefix[0] || strchr(a->prefix, '/'))
        return nvsf_fail(err, NVSF_E_INPUT,
                         "prefix '%s' must be a plain file-name part (not "
                         "empty, no '/')",
                         a->prefix);
    if (a->prefix_num[0]) {
        a->use_counter = 1;
        if (parse_number(a->prefix_num[0], 0, 999999999999LL, &a->counter_start))
            return nvsf_fail(err, NVSF_E_USAGE,
                             "--prefix_num start '%s' must be a whole number "
                             ">= 0",
                             a->prefix_num[0]);
        if (parse_number(a->prefix_num[1], 0, 32, &v))
            return nvsf_fail(err, NVSF_E_USAGE,
                             "--prefix_num length '%s' must be a number of "
                             "digits from 0 to 32",
                             a->prefix_num[1]);
        a->counter_digits = (int)v;
    }
    a->shard_k = 0;
    a->shard_n = 1;
    if (a->shard_arg) {
        unsigned long k, n;
        char extra;
        if (sscanf(a->shard_arg, "%lu/%lu%c", &k, &n, &extra) != 2 || n == 0 ||
            k >= n || strchr(a->shard_arg, '-'))
            return nvsf_fail(err, NVSF_E_USAGE,
                             "--shard '%s' must be K/N with 0 <= K < N, e.g. "
                             "0/4",
                             a->shard_arg);
        a->shard_k = k;
        a->shard_n = n;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    a->jobs = cores > 0 ? (int)(cores > 64 ? 64 : cores) : 1;
    if (a->jobs_arg) {
        if (parse_number(a->jobs_arg, 1, 256, &v))
            return nvsf_fail(err, NVSF_E_USAGE,
                             "--jobs '%s' must be a number from 1 to 256",
                             a->jobs_arg);
        a->jobs = (int)v;
    }
    rc = keys_check_options(&a->ko, 0, err);
    if (!rc && a->ko.key_protect_hmac && !a->ko.keygen)
        rc = nvsf_fail(err, NVSF_E_INPUT,
                       "--key_protect_hmac makes per-device keys: it needs "
                       "--keygen");
    return rc;
}

/* ---- shared state ------------------------------------------------------- */

/* Files named by `file` values, read once for the whole batch while they
 * fit in a budget (most batches name the same few files on every line). */
typedef struct file_cache_entry {
    char *path;
    uint8_t *data;
    size_t len;
} file_cache_entry;

typedef struct file_cache {
    pthread_mutex_t lock;
    file_cache_entry *entries;
    size_t count, cap, bytes;
} file_cache;

#define FILE_CACHE_BUDGET (64u << 20)

static int cached_file_reader(void *ctx, const char *path, uint8_t **data,
                              size_t *len, nvsf_error *err)
{
    file_cache *c = ctx;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->count; i++) {
        if (strcmp(c->entries[i].path, path) == 0) {
            *len = c->entries[i].len;
            *data = malloc(*len + 1);
            if (*data)
                memcpy(*data, c->entries[i].data, *len);
            pthread_mutex_unlock(&c->lock);
            return *data ? 0 : nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
        }
    }
    pthread_mutex_unlock(&c->lock);
    int rc = fs_read_file(path, data, len, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&c->lock);
    if (c->bytes + *len <= FILE_CACHE_BUDGET) {
        if (c->count == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 16;
            file_cache_entry *e = realloc(c->entries, cap * sizeof *e);
            if (e) {
                c->entries = e;
                c->cap = cap;
            }
        }
        uint8_t *copy = malloc(*len + 1);
        char *p = strdup(path);
        if (c->count < c->cap && copy && p) {
            memcpy(copy, *data, *len);
            c->entries[c->count++] = (file_cache_entry){p, copy, *len};
            c->bytes += *len;
        } else {
            free(copy);
            free(p);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static void file_cache_free(file_cache *c)
{
    for (size_t i = 0; i < c->count; i++) {
        nvsf_wipe(c->entries[i].data, c->entries[i].len);
        free(c->entries[i].data);
        free(c->entries[i].path);
    }
    free(c->entries);
}

/* The names of one device's outputs. */
typedef struct device_names {
    char *id; /* the --fileid value, or the device's number */
    char *bin, *csv, *key, *hmac;
} device_names;

static void names_free(device_names *n)
{
    free(n->id);
    free(n->bin);
    free(n->csv);
    free(n->key);
    free(n->hmac);
    memset(n, 0, sizeof *n);
}

typedef struct batch {
    mfg_args *a;
    nvsf_mfg *mfg;
    file_cache files;
    uint8_t input_xts[NVSF_XTS_KEY_SIZE]; /* --inputkey */
    uint8_t input_hmac[NVSF_HMAC_KEY_SIZE]; /* --kp_hmac_inputkey */
    char input_key_sha[65];
    size_t devices_total;  /* device lines in the values file */
    size_t devices_shard;  /* of them, in this shard */
    char *manifest_path;
    char *journal_path;    /* <outdir>/.<manifest name>.journal */
    char *created_path;    /* <values>_created.csv, or NULL */
} batch;

static int in_shard(const batch *b, size_t index)
{
    return index % b->a->shard_n == b->a->shard_k;
}

/* <outdir>/bin/<base>.bin and friends, for device `index` with `id`. */
static int make_names(const batch *b, size_t index, const char *id,
                      device_names *n, nvsf_error *err)
{
    const mfg_args *a = b->a;
    memset(n, 0, sizeof *n);
    char number[32];
    snprintf(number, sizeof number, "%zu", index + 1);
    if (!(n->id = strdup(id ? id : number)))
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    size_t need = strlen(a->prefix) + strlen(n->id) + 64;
    char *base = malloc(need);
    if (!base) {
        names_free(n);
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    }
    if (a->use_counter)
        snprintf(base, need, "%s-%0*lld-%s", a->prefix, a->counter_digits,
                 a->counter_start + (long long)index, n->id);
    else
        snprintf(base, need, "%s-%s", a->prefix, n->id);
    size_t blen = strlen(base) + 32;
    char *file = malloc(blen);
    int rc = 0;
    if (!file)
        rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    struct { char **dst; const char *dir, *before, *after; int want; } outs[] = {
        {&n->bin, "bin", "", ".bin", 1},
        {&n->csv, "csv", "", ".csv", 1},
        {&n->key, "keys", "keys-", ".bin", a->ko.keygen},
        {&n->hmac, "keys", "hmac-keys-", ".bin", a->ko.kp_hmac_keygen},
    };
    for (size_t i = 0; !rc && i < sizeof outs / sizeof outs[0]; i++) {
        if (!outs[i].want)
            continue;
        snprintf(file, blen, "%s%s%s", outs[i].before, base, outs[i].after);
        char *dir = fs_join(a->outdir, outs[i].dir);
        *outs[i].dst = dir ? fs_join(dir, file) : NULL;
        free(dir);
        if (!*outs[i].dst)
            rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    }
    if (!rc && a->ko.kp_hmac_keygen && a->ko.kp_hmac_keyfile) {
        free(n->hmac);
        char *dir = fs_join(a->outdir, "keys");
        char *name = keys_bin_name(a->ko.kp_hmac_keyfile, err);
        n->hmac = dir && name ? fs_join(dir, name) : NULL;
        if (!n->hmac && !name)
            rc = err->code;
        else if (!n->hmac)
            rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
        free(dir);
        free(name);
    }
    free(base);
    free(file);
    if (rc)
        names_free(n);
    return rc;
}

/* Build a device's image (into `image`, `size` bytes). */
static int build_device(batch *b, const nvsf_mfg_device *dev,
                        const uint8_t *xts, uint8_t *image, nvsf_error *err)
{
    nvsf_builder *bl = NULL;
    nvsf_rows *rows = NULL;
    int rc = nvsf_builder_new(&bl, b->a->size, b->a->version, xts, err);
    if (!rc)
        rc = nvsf_rows_new(&rows, bl, cached_file_reader, &b->files, err);
    size_t n = nvsf_mfg_row_count(b->mfg);
    for (size_t i = 0; !rc && i < n; i++)
        rc = nvsf_rows_add(rows, b->a->values, &dev->rows[i], err);
    if (!rc)
        rc = nvsf_builder_finish(bl, image, err);
    nvsf_rows_free(rows);
    nvsf_builder_free(bl);
    return rc;
}

/* ---- reading the values file ------------------------------------------- */

static long read_fd(void *ctx, char *buf, size_t cap, nvsf_error *err)
{
    int fd = *(int *)ctx;
    for (;;) {
        ssize_t r = read(fd, buf, cap);
        if (r >= 0)
            return (long)r;
        if (errno != EINTR)
            return nvsf_fail(err, NVSF_E_IO, "cannot read the values file: %s",
                             strerror(errno));
    }
}

typedef struct values_stream {
    int fd;
    nvsf_csv_reader *rd;
    nvsf_csv_record header;
} values_stream;

static int values_open(batch *b, values_stream *vs, nvsf_error *err)
{
    vs->fd = open(b->a->values, O_RDONLY | O_CLOEXEC);
    if (vs->fd < 0)
        return nvsf_fail(err, NVSF_E_IO, "cannot open '%s': %s", b->a->values,
                         strerror(errno));
    vs->rd = nvsf_csv_reader_stream(b->a->values, read_fd, &vs->fd,
                                    NVSF_CSV_SKIP_BLANK);
    if (!vs->rd)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    int rc = nvsf_csv_next(vs->rd, &vs->header, err);
    if (rc == 0)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "%s: the values file is empty; it needs a header of "
                         "key names",
                         b->a->values);
    if (rc < 0)
        return rc;
    return nvsf_mfg_set_header(b->mfg, b->a->values, &vs->header, b->a->fileid,
                               err);
}

static void values_close(values_stream *vs)
{
    nvsf_csv_reader_free(vs->rd);
    if (vs->fd >= 0)
        close(vs->fd);
    vs->rd = NULL;
    vs->fd = -1;
}

/* ---- progress ----------------------------------------------------------- */

typedef struct progress {
    int enabled;
    const char *what;
    size_t total;
    struct timespec start, last;
} progress;

static double seconds_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void progress_start(progress *p, const char *what, size_t total, int enabled)
{
    p->enabled = enabled;
    p->what = what;
    p->total = total;
    clock_gettime(CLOCK_MONOTONIC, &p->start);
    p->last = p->start;
}

static void progress_show(progress *p, size_t done, int final)
{
    if (!p->enabled || (!final && seconds_since(&p->last) < 0.1))
        return;
    clock_gettime(CLOCK_MONOTONIC, &p->last);
    double t = seconds_since(&p->start);
    double rate = t > 0 ? (double)done / t : 0;
    int width = 30, fill = p->total ? (int)((double)done * width / (double)p->total) : 0;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '=' : ' ';
    bar[width] = '\0';
    if (p->total) {
        double left = rate > 0 ? (double)(p->total - done) / rate : 0;
        fprintf(stderr, "\r%-8s [%s] %zu/%zu devices  %.0f/s  %d:%02d left ",
                p->what, bar, done, p->total, rate, (int)left / 60, (int)left % 60);
    } else {
        fprintf(stderr, "\r%-8s %zu devices  %.0f/s ", p->what, done, rate);
    }
    if (final)
        fputc('\n', stderr);
}

/* ---- pass 1: check everything ------------------------------------------ */

/* 64-bit hashes of the ids seen, to refuse two devices with one name. */
typedef struct id_set {
    uint64_t *slots; /* 0 = free */
    unsigned *lines;
    size_t cap, count;
} id_set;

static uint64_t id_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ? h : 1;
}

/* 0 if added, the earlier line if present, < 0 on no memory. */
static long id_set_add(id_set *s, const char *id, unsigned line)
{
    if ((s->count + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        uint64_t *slots = calloc(cap, sizeof *slots);
        unsigned *lines = calloc(cap, sizeof *lines);
        if (!slots || !lines) {
            free(slots);
            free(lines);
            return -1;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slots[i])
                continue;
            size_t j = s->slots[i] & (cap - 1);
            while (slots[j])
                j = (j + 1) & (cap - 1);
            slots[j] = s->slots[i];
            lines[j] = s->lines[i];
        }
        free(s->slots);
        free(s->lines);
        s->slots = slots;
        s->lines = lines;
        s->cap = cap;
    }
    uint64_t h = id_hash(id);
    size_t j = h & (s->cap - 1);
    while (s->slots[j]) {
        if (s->slots[j] == h)
            return s->lines[j];
        j = (j + 1) & (s->cap - 1);
    }
    s->slots[j] = h;
    s->lines[j] = line;
    s->count++;
    return 0;
}

static int check_absent(const char *path, const char *values, unsigned line,
                        nvsf_error *err)
{
    if (!path || !fs_exists(path))
        return 0;
    return nvsf_fail(err, NVSF_E_IO,
                     "%s:%u: '%s' already exists; nvsforge never replaces an "
                     "output: use another --outdir or prefix, or move the old "
                     "files away",
                     values, line, path);
}

/* A value the reference's join takes from another column (lib/mfg.h):
 * nvsforge writes the same, and says so. */
static void warn_borrowed(const mfg_args *a, const nvsf_mfg_device *dev)
{
    for (size_t i = 0; i < dev->nborrowed; i++) {
        const nvsf_mfg_borrow *bw = &dev->borrowed[i];
        cli_warning(a->prog,
                    "%s:%u: %s '%s' takes the value '%s' of column %zu ('%s'), "
                    "not of its own column %zu: ESP-IDF's mfg_gen takes the "
                    "first column whose name or value is the key's name, and "
                    "nvsforge writes the same; rename the key or change that "
                    "value if this is not meant",
                    a->values, dev->line, bw->is_fileid ? "--fileid" : "key",
                    bw->key, bw->value, bw->column + 1, bw->column_name,
                    bw->own_column + 1);
    }
}

static int batch_check(batch *b, progress *pg, nvsf_error *err)
{
    const mfg_args *a = b->a;
    values_stream vs = {.fd = -1};
    id_set ids = {0};
    uint8_t *image = malloc(a->size);
    int rc = image ? values_open(b, &vs, err)
                   : nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    nvsf_csv_record rec;
    size_t index = 0;
    while (!rc) {
        int more = nvsf_csv_next(vs.rd, &rec, err);
        if (more <= 0) {
            rc = more;
            break;
        }
        nvsf_mfg_device dev;
        if ((rc = nvsf_mfg_device_from(b->mfg, &rec, &dev, err)))
            break;
        if (in_shard(b, index)) {
            warn_borrowed(a, &dev);
            device_names n;
            if ((rc = build_device(b, &dev, NULL, image, err)))
                break;
            if ((rc = make_names(b, index, dev.id, &n, err)))
                break;
            rc = check_absent(n.bin, a->values, rec.line, err);
            if (!rc)
                rc = check_absent(n.csv, a->values, rec.line, err);
            if (!rc)
                rc = check_absent(n.key, a->values, rec.line, err);
            if (!rc)
                rc = check_absent(n.hmac, a->values, rec.line, err);
            names_free(&n);
            b->devices_shard++;
        }
        if (!rc && dev.id && !a->use_counter) {
            long earlier = id_set_add(&ids, dev.id, rec.line);
            if (earlier < 0)
                rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
            else if (earlier > 0)
                rc = nvsf_fail(err, NVSF_E_INPUT,
                               "%s:%u: --fileid value '%s' is also the id of "
                               "the device on line %ld; every device needs its "
                               "own file names (or use --prefix_num)",
                               a->values, rec.line, dev.id, earlier);
        }
        index++;
        progress_show(pg, index, 0);
        if (!rc && fs_interrupted())
            rc = nvsf_fail(err, NVSF_E_IO, "interrupted by a signal; nothing was written");
    }
    b->devices_total = index;
    if (!rc && index == 0 && nvsf_mfg_has_repeat(b->mfg))
        rc = nvsf_fail(err, NVSF_E_INPUT,
                       "%s has no device lines, but REPEAT keys take their "
                       "values from the first one: add the device lines",
                       a->values);
    if (!rc && a->ko.kp_hmac_keyfile && b->devices_shard > 1)
        rc = nvsf_fail(err, NVSF_E_INPUT,
                       "--kp_hmac_keyfile names one HMAC key file, but the "
                       "batch has %zu devices and each needs its own key: "
                       "leave --kp_hmac_keyfile out to get "
                       "keys/hmac-keys-<name>.bin per device",
                       b->devices_shard);
    values_close(&vs);
    free(ids.slots);
    free(ids.lines);
    free(image);
    return rc;
}

/* ---- pass 2: build and write on worker threads ------------------------- */

enum slot_state { SLOT_FREE, SLOT_READY, SLOT_RUNNING, SLOT_DONE };

typedef struct job {
    enum slot_state state;
    size_t index;
    unsigned line;
    nvsf_mfg_device dev;
    nvsf_row *rows;  /* own copy of the device's rows */
    nvsf_buf values; /* the row values they point into */
    char *id;
    device_names names;
    fs_txn txn;
    char sha[3][65]; /* image, key file, HMAC key */
    long journal_offset; /* where its files are listed in the journal */
    int rc;
    nvsf_error err;
} job;

#define POOL_SLOTS 256
#define COMMIT_GROUP 128

typedef struct pool {
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    job slots[POOL_SLOTS];
    size_t next_fill, next_take, next_commit;
    int closing; /* no more jobs will come */
    batch *b;
} pool;

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * (size_t)i, 3, "%02x", md[i]);
}

/* Copy a device's rows so the reader can move on. */
static int job_fill(job *j, const nvsf_mfg *m, const nvsf_mfg_device *dev,
                    size_t index)
{
    size_t n = nvsf_mfg_row_count(m);
    nvsf_buf_clear(&j->values);
    if (!j->rows && !(j->rows = calloc(n, sizeof *j->rows)))
        return -1;
    size_t *offsets = malloc((n + 1) * sizeof *offsets);
    if (!offsets)
        return -1;
    for (size_t i = 0; i < n; i++) {
        offsets[i] = j->values.len;
        if (nvsf_buf_append(&j->values, dev->rows[i].value, dev->rows[i].value_len) ||
            nvsf_buf_putc(&j->values, '\0')) {
            free(offsets);
            return -1;
        }
    }
    offsets[n] = j->values.len;
    if (nvsf_buf_append(&j->values, dev->id ? dev->id : "", dev->id ? strlen(dev->id) : 0) ||
        nvsf_buf_putc(&j->values, '\0')) {
        free(offsets);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        j->rows[i] = dev->rows[i];
        j->rows[i].value = j->values.data + offsets[i];
    }
    j->id = dev->id ? j->values.data + offsets[n] : NULL;
    free(offsets);
    j->dev = *dev;
    j->dev.rows = j->rows;
    j->dev.id = j->id;
    j->index = index;
    j->line = dev->line;
    j->rc = 0;
    return 0;
}

static void job_release(job *j)
{
    fs_txn_abort(&j->txn);
    names_free(&j->names);
}

/* Build one device and stage its files (temporary, not yet visible). */
static int job_run(batch *b, job *j, uint8_t *image, nvsf_error *err)
{
    const mfg_args *a = b->a;
    key_material km;
    memset(&km, 0, sizeof km);
    nvsf_buf csv = {0};
    const uint8_t *xts = NULL;
    memset(j->sha, 0, sizeof j->sha);
    int rc = make_names(b, j->index, j->id, &j->names, err);
    if (!rc && a->ko.keygen) {
        rc = keys_make(&a->ko, b->input_hmac, &km, err);
        km.key_path = j->names.key;
        km.hmac_path = j->names.hmac;
        xts = km.xts;
    } else if (!rc && a->ko.inputkey) {
        xts = b->input_xts;
    }
    if (!rc)
        rc = build_device(b, &j->dev, xts, image, err);
    if (!rc && nvsf_mfg_write_device_csv(b->mfg, &j->dev, &csv))
        rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    if (!rc)
        rc = fs_txn_add(&j->txn, j->names.csv, csv.data, csv.len, FS_PUBLIC, err);
    if (!rc)
        rc = fs_txn_add(&j->txn, j->names.bin, image, a->size, FS_PUBLIC, err);
    if (!rc)
        rc = keys_stage(&km, &j->txn, err);
    if (!rc) {
        sha256_hex(image, a->size, j->sha[0]);
        if (a->ko.keygen)
            sha256_hex(km.key_file, sizeof km.key_file, j->sha[1]);
        else if (a->ko.inputkey)
            memcpy(j->sha[1], b->input_key_sha, 65);
        if (km.hmac_path)
            sha256_hex(km.hmac, sizeof km.hmac, j->sha[2]);
    }
    km.key_path = km.hmac_path = NULL; /* owned by j->names */
    keys_free(&km);
    nvsf_buf_free(&csv);
    return rc;
}

static void *worker_main(void *arg)
{
    pool *p = arg;
    uint8_t *image = malloc(p->b->a->size);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->closing && p->next_take == p->next_fill)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->next_take == p->next_fill)
            break;
        job *j = &p->slots[p->next_take++ % POOL_SLOTS];
        j->state = SLOT_RUNNING;
        pthread_mutex_unlock(&p->lock);
        j->rc = image ? job_run(p->b, j, image, &j->err)
                      : nvsf_fail(&j->err, NVSF_E_NOMEM, "out of memory");
        pthread_mutex_lock(&p->lock);
        j->state = SLOT_DONE;
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    if (image) {
        nvsf_wipe(image, p->b->a->size);
        free(image);
    }
    return NULL;
}

/* What pass 2 writes besides the devices' files. */
typedef struct batch_out {
    int outdir_fd;
    fs_stream manifest;
    fs_stream created;  /* <values>_created.csv, when written */
    FILE *journal;      /* committed paths, NUL-separated, for rollback */
    size_t committed;
    progress *pg;
} batch_out;

static int write_manifest_line(batch *b, batch_out *o, const job *j)
{
    const char *f[7] = {j->names.id, j->names.bin, j->sha[0],
                        b->a->ko.keygen ? j->names.key : b->a->ko.inputkey ? b->a->ko.inputkey : "",
                        j->sha[1], j->names.hmac ? j->names.hmac : "", j->sha[2]};
    size_t fl[7];
    for (int i = 0; i < 7; i++)
        fl[i] = strlen(f[i]);
    nvsf_buf line = {0};
    int rc = nvsf_csv_write_record(&line, f, fl, 7);
    if (!rc && fwrite(line.data, 1, line.len, o->manifest.f) != line.len)
        rc = -1;
    nvsf_buf_free(&line);
    return rc;
}

/*
 * Commit the finished jobs at the head of the queue, in device order: one
 * syncfs makes the group's data durable before the renames show it, so a
 * crash leaves each file whole or absent. Returns 0 or an error code.
 */
static int commit_ready(pool *p, batch_out *o, int force, nvsf_error *err)
{
    size_t ready = 0;
    while (p->next_commit + ready < p->next_fill &&
           p->slots[(p->next_commit + ready) % POOL_SLOTS].state == SLOT_DONE)
        ready++;
    int full = p->next_fill - p->next_commit == POOL_SLOTS;
    if (ready == 0 || (!force && !full && ready < COMMIT_GROUP))
        return 0;
    for (size_t i = 0; i < ready; i++) {
        job *j = &p->slots[(p->next_commit + i) % POOL_SLOTS];
        if (j->rc) {
            *err = j->err;
            return j->rc;
        }
    }
    pthread_mutex_unlock(&p->lock);
    /* Write ahead: the journal names the group's files before they appear,
     * so after a crash it lists at least every file this run made. */
    int rc = 0;
    for (size_t i = 0; !rc && i < ready; i++) {
        job *j = &p->slots[(p->next_commit + i) % POOL_SLOTS];
        j->journal_offset = ftell(o->journal);
        for (int k = 0; k < j->txn.count; k++)
            fwrite(j->txn.final[k], 1, strlen(j->txn.final[k]) + 1, o->journal);
    }
    if (fflush(o->journal) != 0)
        rc = nvsf_fail(err, NVSF_E_IO, "cannot write the journal '%s': %s",
                       p->b->journal_path, strerror(errno));
    if (!rc && syncfs(o->outdir_fd) != 0)
        rc = nvsf_fail(err, NVSF_E_IO, "cannot sync the output folder: %s",
                       strerror(errno));
    if (!rc && fs_interrupted())
        rc = nvsf_fail(err, NVSF_E_IO, "interrupted by a signal");
    size_t done = 0;
    for (; !rc && done < ready; done++) {
        job *j = &p->slots[(p->next_commit + done) % POOL_SLOTS];
        if ((rc = fs_txn_commit(&j->txn, err)))
            break;
        if (write_manifest_line(p->b, o, j))
            rc = nvsf_fail(err, NVSF_E_IO, "cannot write the manifest: %s",
                           strerror(errno));
        fs_txn_abort(&j->txn); /* frees names; the files stay */
        names_free(&j->names);
        o->committed++;
        if (rc)
            done++;
    }
    if (rc && done < ready) {
        /* The journal must list only files this run made: drop the entries
         * of the jobs that were not committed. */
        job *first = &p->slots[(p->next_commit + done) % POOL_SLOTS];
        fflush(o->journal);
        if (ftruncate(fileno(o->journal), first->journal_offset) == 0)
            fseek(o->journal, first->journal_offset, SEEK_SET);
    }
    pthread_mutex_lock(&p->lock);
    if (rc)
        return rc;
    for (size_t i = 0; i < ready; i++)
        p->slots[(p->next_commit + i) % POOL_SLOTS].state = SLOT_FREE;
    p->next_commit += ready;
    pthread_cond_broadcast(&p->done);
    progress_show(o->pg, o->committed, 0);
    return 0;
}

/* The oldest job not yet committed has finished. commit_ready drops the
 * lock while it writes, so a job may finish unseen: check before waiting. */
static int head_done(const pool *p)
{
    return p->next_commit < p->next_fill &&
           p->slots[p->next_commit % POOL_SLOTS].state == SLOT_DONE;
}

/* Remove every file the journal lists: the batch failed. */
static void rollback(batch *b, batch_out *o)
{
    if (!o->journal)
        return;
    /* Each group's entries were flushed before its renames, so the file
     * lists every committed file even if this flush fails (a full disk). */
    fflush(o->journal);
    FILE *f = fopen(b->journal_path, "r");
    if (!f)
        return;
    char *path = NULL;
    size_t cap = 0;
    while (getdelim(&path, &cap, '\0', f) > 0)
        unlink(path);
    free(path);
    fclose(f);
}

static int write_created_row(const nvsf_mfg_device *dev, FILE *f)
{
    nvsf_buf line = {0};
    int rc = nvsf_csv_write_record(&line, dev->created, dev->created_len,
                                   dev->ncreated);
    if (!rc && fwrite(line.data, 1, line.len, f) != line.len)
        rc = -1;
    nvsf_buf_free(&line);
    return rc;
}

static int batch_write(batch *b, progress *pg, nvsf_error *err)
{
    const mfg_args *a = b->a;
    batch_out o = {.outdir_fd = -1, .pg = pg};
    values_stream vs = {.fd = -1};
    pool *p = calloc(1, sizeof *p);
    pthread_t *threads = calloc((size_t)a->jobs, sizeof *threads);
    int nthreads = 0, rc = 0;
    if (!p || !threads)
        rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");

    /* The folders this run makes, removed again (when empty) on failure. */
    static const char *const dirs[] = {"bin", "csv", "keys"};
    char *made[4] = {NULL, NULL, NULL, NULL};
    int ndirs = a->ko.keygen ? 3 : 2;
    if (!rc && !fs_exists(a->outdir) && !(made[3] = strdup(a->outdir)))
        rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    for (int i = 0; !rc && i < ndirs; i++) {
        char *d = fs_join(a->outdir, dirs[i]);
        if (d && !fs_exists(d))
            made[i] = strdup(d);
        rc = d ? fs_mkdirs(d, err) : nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
        free(d);
    }
    if (!rc && (o.outdir_fd = open(a->outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        rc = nvsf_fail(err, NVSF_E_IO, "cannot open '%s': %s", a->outdir,
                       strerror(errno));
    if (!rc) {
        int fd = open(b->journal_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || !(o.journal = fdopen(fd, "w"))) {
            rc = nvsf_fail(err, NVSF_E_IO, "cannot create '%s': %s",
                           b->journal_path, strerror(errno));
            if (fd >= 0)
                close(fd);
        }
    }
    if (!rc)
        rc = fs_stream_open(&o.manifest, b->manifest_path, FS_PUBLIC, err);
    if (!rc && b->created_path)
        rc = fs_stream_open(&o.created, b->created_path, FS_PUBLIC, err);
    if (!rc)
        rc = values_open(b, &vs, err);
    if (!rc && b->created_path) {
        nvsf_buf line = {0};
        const char **f = malloc(vs.header.nfields * sizeof *f + 1);
        size_t *fl = malloc(vs.header.nfields * sizeof *fl + 1);
        for (size_t i = 0; f && fl && i < vs.header.nfields; i++) {
            f[i] = vs.header.fields[i].data;
            fl[i] = vs.header.fields[i].len;
        }
        if (!f || !fl || nvsf_csv_write_record(&line, f, fl, vs.header.nfields) ||
            fwrite(line.data, 1, line.len, o.created.f) != line.len)
            rc = nvsf_fail(err, NVSF_E_IO, "cannot write '%s'", b->created_path);
        free(f);
        free(fl);
        nvsf_buf_free(&line);
    }

    if (!rc) {
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->work, NULL);
        pthread_cond_init(&p->done, NULL);
        p->b = b;
        for (; nthreads < a->jobs; nthreads++)
            if (pthread_create(&threads[nthreads], NULL, worker_main, p) != 0)
                break;
        if (nthreads == 0)
            rc = nvsf_fail(err, NVSF_E_NOMEM, "cannot start worker threads");
    }

    nvsf_csv_record rec;
    size_t index = 0;
    if (p && nthreads)
        pthread_mutex_lock(&p->lock);
    while (!rc && nthreads) {
        pthread_mutex_unlock(&p->lock);
        int more = nvsf_csv_next(vs.rd, &rec, err);
        nvsf_mfg_device dev;
        if (more > 0)
            rc = nvsf_mfg_device_from(b->mfg, &rec, &dev, err);
        else
            rc = more;
        if (!rc && more > 0 && b->created_path && write_created_row(&dev, o.created.f))
            rc = nvsf_fail(err, NVSF_E_IO, "cannot write '%s': %s",
                           b->created_path, strerror(errno));
        if (!rc && fs_interrupted())
            rc = nvsf_fail(err, NVSF_E_IO, "interrupted by a signal");
        pthread_mutex_lock(&p->lock);
        if (rc || more == 0)
            break;
        if (!in_shard(b, index++))
            continue;
        /* Wait for a free slot, committing what is done meanwhile. */
        while (!rc && p->next_fill - p->next_commit == POOL_SLOTS) {
            rc = commit_ready(p, &o, 0, err);
            if (!rc && p->next_fill - p->next_commit == POOL_SLOTS &&
                !head_done(p))
                pthread_cond_wait(&p->done, &p->lock);
        }
        if (rc)
            break;
        job *j = &p->slots[p->next_fill % POOL_SLOTS];
        if (job_fill(j, b->mfg, &dev, index - 1)) {
            rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
            break;
        }
        j->state = SLOT_READY;
        p->next_fill++;
        pthread_cond_signal(&p->work);
        rc = commit_ready(p, &o, 0, err);
    }
    /* Let the workers finish what they took, then commit the rest. */
    if (nthreads) {
        p->closing = 1;
        pthread_cond_broadcast(&p->work);
        while (!rc && p->next_commit < p->next_fill) {
            rc = commit_ready(p, &o, 1, err);
            if (!rc && p->next_commit < p->next_fill && !head_done(p))
                pthread_cond_wait(&p->done, &p->lock);
        }
        pthread_mutex_unlock(&p->lock);
        for (int i = 0; i < nthreads; i++)
            pthread_join(threads[i], NULL);
    }
    if (!rc && fs_interrupted())
        rc = nvsf_fail(err, NVSF_E_IO, "interrupted by a signal");
    if (!rc && syncfs(o.outdir_fd) != 0)
        rc = nvsf_fail(err, NVSF_E_IO, "cannot sync the output folder: %s",
                       strerror(errno));
    if (!rc && b->created_path)
        rc = fs_stream_commit(&o.created, 1, err);
    if (!rc)
        rc = fs_stream_commit(&o.manifest, 1, err);
    if (rc) {
        rollback(b, &o);
        fs_stream_abort(&o.created);
        fs_stream_abort(&o.manifest);
    }
    if (o.journal) {
        fclose(o.journal);
        unlink(b->journal_path);
    }

    if (p) {
        for (size_t i = 0; i < POOL_SLOTS; i++) {
            job_release(&p->slots[i]);
            free(p->slots[i].rows);
            nvsf_buf_free(&p->slots[i].values);
        }
        if (nthreads) {
            pthread_mutex_destroy(&p->lock);
            pthread_cond_destroy(&p->work);
            pthread_cond_destroy(&p->done);
        }
    }
    values_close(&vs);
    if (o.outdir_fd >= 0)
        close(o.outdir_fd);
    for (int i = 0; i < 4; i++) { /* after the temporary files are gone */
        if (rc && made[i])
            rmdir(made[i]); /* fails, as it should, when not empty */
        free(made[i]);
    }
    progress_show(pg, o.committed, 1);
    free(p);
    free(threads);
    return rc;
}

/* ---- the command ------------------------------------------------------- */

static int cmd_mfg_generate(const char *prog, int argc, char **argv)
{
    mfg_args a;
    memset(&a, 0, sizeof a);
    a.prog = prog;
    cli_opt opts[] = {
        {"--prefix_num", 2, NULL, a.prefix_num},
        {"--fileid", 1, NULL, &a.fileid},
        {"--version", 1, NULL, &a.version_arg},
        {"--keygen", 0, &a.ko.keygen, NULL},
        {"--keyfile", 1, NULL, &a.ignored[0]},
        {"--inputkey", 1, NULL, &a.ko.inputkey},
        {"--outdir", 1, NULL, &a.outdir_arg},
        {"--key_protect_hmac", 0, &a.ko.key_protect_hmac, NULL},
        {"--kp_hmac_keygen", 0, &a.ko.kp_hmac_keygen, NULL},
        {"--kp_hmac_keyfile", 1, NULL, &a.ko.kp_hmac_keyfile},
        {"--kp_hmac_inputkey", 1, NULL, &a.ko.kp_hmac_inputkey},
        {"--input", 1, NULL, &a.ignored[1]},
        {"--output", 1, NULL, &a.ignored[2]},
        {"--shard", 1, NULL, &a.shard_arg},
        {"--jobs", 1, NULL, &a.jobs_arg},
        {"--quiet", 0, &a.quiet, NULL},
    };
    const char *pos[4];
    int npos, rc = cli_parse(prog, argc, argv, opts, sizeof opts / sizeof opts[0],
                             pos, 4, &npos, generate_usage, generate_help);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (npos < 4) {
        fputs(generate_usage, stderr);
        cli_error(prog, "the following arguments are required: conf, values, "
                        "prefix, size");
        return EXIT_USAGE;
    }
    a.conf = pos[0];
    a.values = pos[1];
    a.prefix = pos[2];
    a.size_arg = pos[3];
    for (int i = 0; i < 3; i++)
        if (a.ignored[i])
            cli_warning(prog, "%s is not used by mfg_gen generate; ignored",
                        i == 0 ? "--keyfile" : i == 1 ? "--input" : "--output");

    nvsf_error err = {0};
    batch b;
    memset(&b, 0, sizeof b);
    b.a = &a;
    pthread_mutex_init(&b.files.lock, NULL);
    uint8_t *config = NULL;
    size_t config_len = 0;
    int show = !a.quiet && isatty(2);
    progress pg;

    rc = check_args(&a, &err);
    if (!rc && !(a.outdir = fs_expand_home(a.outdir_arg)))
        rc = nvsf_fail(&err, NVSF_E_NOMEM, "out of memory");
    if (!rc)
        rc = fs_read_file(a.conf, &config, &config_len, &err);
    if (!rc)
        rc = nvsf_mfg_new(&b.mfg, a.conf, (const char *)config, config_len, &err);
    if (!rc && a.ko.inputkey) {
        rc = keys_read_input(a.ko.inputkey, b.input_xts, &err);
        uint8_t *data;
        size_t len;
        if (!rc && !(rc = fs_read_file(a.ko.inputkey, &data, &len, &err))) {
            sha256_hex(data, len, b.input_key_sha);
            nvsf_wipe(data, len);
            free(data);
        }
    }
    if (!rc && a.ko.kp_hmac_inputkey)
        rc = keys_read_hmac(a.ko.kp_hmac_inputkey, b.input_hmac, &err);
    if (!rc) {
        char name[64];
        if (a.shard_n > 1)
            snprintf(name, sizeof name, "manifest-%lu-of-%lu.csv", a.shard_k,
                     a.shard_n);
        else
            snprintf(name, sizeof name, "manifest.csv");
        char journal[80], values_dir[4096];
        snprintf(journal, sizeof journal, ".%s.journal", name);
        snprintf(values_dir, sizeof values_dir, "%s", a.values);
        char *slash = strrchr(values_dir, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(values_dir, sizeof values_dir, ".");
        if (!(b.manifest_path = fs_join(a.outdir, name)) ||
            !(b.journal_path = fs_join(a.outdir, journal)))
            rc = nvsf_fail(&err, NVSF_E_NOMEM, "out of memory");
        else if (fs_exists(b.journal_path))
            rc = nvsf_fail(&err, NVSF_E_IO,
                           "'%s' is left by an earlier run into %s that was "
                           "killed before it could clean up; it lists the "
                           "files that run made. Remove them, the journal and "
                           "that run's temporary files, then run again:\n"
                           "  xargs -0 rm -f < '%s' && rm '%s'\n"
                           "  find '%s' '%s' -name '.*.nvsforge-*' -delete",
                           b.journal_path, a.outdir, b.journal_path,
                           b.journal_path, a.outdir, values_dir);
        else if (fs_exists(b.manifest_path))
            rc = nvsf_fail(&err, NVSF_E_IO,
                           "'%s' already exists; nvsforge never replaces an "
                           "output: use another --outdir or move it away",
                           b.manifest_path);
    }
    /* <values minus extension>_created<extension>, by shard 0 only. */
    if (!rc && nvsf_mfg_has_repeat(b.mfg) && a.shard_k == 0) {
        const char *dot = strrchr(a.values, '.');
        size_t stem = (size_t)(dot - a.values);
        if (!(b.created_path = malloc(strlen(a.values) + 16)))
            rc = nvsf_fail(&err, NVSF_E_NOMEM, "out of memory");
        else {
            sprintf(b.created_path, "%.*s_created%s", (int)stem, a.values, dot);
            if (fs_exists(b.created_path))
                rc = nvsf_fail(&err, NVSF_E_IO,
                               "'%s' already exists; nvsforge never replaces "
                               "an output: move it away",
                               b.created_path);
        }
    }
    if (!rc) {
        progress_start(&pg, "checking", 0, show);
        rc = batch_check(&b, &pg, &err);
        progress_show(&pg, b.devices_total, 1);
    }
    if (!rc && b.devices_shard == 0 && !a.quiet)
        cli_warning(prog, "%s has no device lines%s", a.values,
                    a.shard_n > 1 ? " in this shard" : "");
    int writing = 0;
    if (!rc) {
        progress_start(&pg, "writing", b.devices_shard, show);
        writing = 1;
        rc = batch_write(&b, &pg, &err);
    }
    if (!rc && !a.quiet)
        printf("Created %zu device image%s in %s (bin/, csv/%s); manifest: %s\n",
               b.devices_shard, b.devices_shard == 1 ? "" : "s", a.outdir,
               a.ko.keygen ? ", keys/" : "", b.manifest_path);

    nvsf_mfg_free(b.mfg);
    file_cache_free(&b.files);
    pthread_mutex_destroy(&b.files.lock);
    nvsf_wipe(&b.input_xts, sizeof b.input_xts);
    nvsf_wipe(&b.input_hmac, sizeof b.input_hmac);
    free(b.manifest_path);
    free(b.journal_path);
    free(b.created_path);
    free(a.outdir);
    if (config) {
        nvsf_wipe(config, config_len);
        free(config);
    }
    if (!rc)
        return EXIT_OK;
    if (err.code == NVSF_E_USAGE) {
        fputs(generate_usage, stderr);
        cli_fail(prog, &err);
        return EXIT_USAGE;
    }
    cli_fail(prog, &err);
    if (writing)
        fprintf(stderr, "%s: nothing was left behind; fix the cause and run "
                        "the same command again\n", prog);
    return fs_interrupted() ? EXIT_INTERRUPTED : EXIT_FAIL;
}

int cmd_mfg(const char *prog, int argc, char **argv)
{
    static const cli_command cmds[] = {
        {"generate", cmd_mfg_generate},
        {"generate-key", cmd_generate_key},
    };
    return cli_dispatch(prog, argc, argv, cmds, sizeof cmds / sizeof cmds[0],
                        mfg_usage, mfg_help);
}
