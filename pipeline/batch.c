/* The manufacturing batch (batch.h): pass 1 checks, pass 2 writes. */
#include "batch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "csv.h"
#include "error.h"
#include "files.h"
#include "mfg.h"
#include "platform.h"
#include "record.h"

/* ---- shared state ------------------------------------------------------- */

/* 64-bit FNV-1a of a text: the file cache's table and the ids' set. */
static uint64_t text_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ? h : 1;
}

static int sha256_hex(const void *data, size_t len, char out[65],
                      nvsf_error *err)
{
    uint8_t md[NVSF_SHA256_SIZE];
    int rc = nvsf_sha256(data, len, md, err);
    if (rc == NVSF_OK)
        sha256_to_hex(md, out);
    return rc;
}

/* Files named by `file` values: every path seen, found by hash, each read
 * once while they fit in a budget (most batches name the same few files on
 * every line), and each recorded with its SHA-256 for run.json the first
 * time it is read. */
typedef struct file_cache_entry {
    char *path;
    uint8_t *data; /* NULL when over the budget: read again each time */
    size_t len;
} file_cache_entry;

typedef struct file_cache {
    plat_mutex *lock;
    file_cache_entry *entries;
    size_t count, cap, bytes;
    size_t *table; /* entry index + 1 (0: free), table_cap a power of 2 */
    size_t table_cap;
    run_record *record;
} file_cache;

#define FILE_CACHE_BUDGET (64u << 20)

static file_cache_entry *cache_find(const file_cache *c, const char *path)
{
    if (!c->table_cap)
        return NULL;
    for (size_t j = text_hash(path) & (c->table_cap - 1); c->table[j];
         j = (j + 1) & (c->table_cap - 1))
        if (strcmp(c->entries[c->table[j] - 1].path, path) == 0)
            return &c->entries[c->table[j] - 1];
    return NULL;
}

/* A new path (lock held): its entry, its data while within the budget, and
 * its line in run.json. */
static int cache_add(file_cache *c, const char *path, const uint8_t *data,
                     size_t len, nvsf_error *err)
{
    char sha[65];
    int rc = sha256_hex(data, len, sha, err);
    if (rc)
        return rc;
    if ((c->count + 1) * 2 > c->table_cap) {
        size_t cap = c->table_cap ? c->table_cap * 2 : 64;
        size_t *table = calloc(cap, sizeof *table);
        file_cache_entry *e = realloc(c->entries, cap / 2 * sizeof *e);
        if (e)
            c->entries = e;
        if (!table || !e) {
            free(table);
            return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
        }
        for (size_t k = 0; k < c->count; k++) {
            size_t j = text_hash(c->entries[k].path) & (cap - 1);
            while (table[j])
                j = (j + 1) & (cap - 1);
            table[j] = k + 1;
        }
        free(c->table);
        c->table = table;
        c->table_cap = cap;
    }
    file_cache_entry *e = &c->entries[c->count];
    memset(e, 0, sizeof *e);
    if (!(e->path = strdup(path)))
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    if (c->bytes + len <= FILE_CACHE_BUDGET && (e->data = malloc(len + 1))) {
        memcpy(e->data, data, len);
        e->len = len;
        c->bytes += len;
    }
    if ((rc = run_record_add(c->record, "file", path, sha, err))) {
        free(e->data);
        free(e->path);
        return rc;
    }
    size_t j = text_hash(path) & (c->table_cap - 1);
    while (c->table[j])
        j = (j + 1) & (c->table_cap - 1);
    c->table[j] = ++c->count;
    return 0;
}

static int cached_file_reader(void *ctx, const char *path, uint8_t **data,
                              size_t *len, nvsf_error *err)
{
    file_cache *c = ctx;
    plat_mutex_lock(c->lock);
    const file_cache_entry *e = cache_find(c, path);
    if (e && e->data) {
        *len = e->len;
        *data = malloc(*len + 1);
        if (*data)
            memcpy(*data, e->data, *len);
        plat_mutex_unlock(c->lock);
        return *data ? 0 : nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    }
    int known = e != NULL;
    plat_mutex_unlock(c->lock);
    int rc = plat_read_file(path, data, len, err);
    if (rc || known)
        return rc;
    plat_mutex_lock(c->lock);
    if (!cache_find(c, path))
        rc = cache_add(c, path, *data, *len, err);
    plat_mutex_unlock(c->lock);
    if (rc) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

static void file_cache_free(file_cache *c)
{
    for (size_t i = 0; i < c->count; i++) {
        if (c->entries[i].data)
            nvsf_wipe(c->entries[i].data, c->entries[i].len);
        free(c->entries[i].data);
        free(c->entries[i].path);
    }
    free(c->entries);
    free(c->table);
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
    const batch_options *a;
    const batch_callbacks *cb;
    nvsf_mfg *mfg;
    file_cache files;
    uint8_t input_xts[NVSF_XTS_KEY_SIZE]; /* --inputkey */
    uint8_t input_hmac[NVSF_HMAC_KEY_SIZE]; /* --kp_hmac_inputkey */
    char input_key_sha[65];
    size_t devices_total;  /* device lines in the values file */
    size_t devices_shard;  /* of them, in this shard */
    char *manifest_path;
    char *run_path;        /* run.json (run-K-of-N.json for a shard) */
    run_record record;     /* its inputs */
    char *journal_path;    /* <outdir>/.<manifest name>.journal */
    char *created_path;    /* <values>_created.csv, or NULL */
    int cancelled;         /* the progress callback asked to stop */
    uint64_t plan_manifest, plan_created; /* --dry-run: their lengths */
    nvsf_errors problems;  /* of the check pass, in line order */
} batch;

/* A signal came, or the caller asked to stop. */
static int batch_stopped(const batch *b)
{
    return b->cancelled || plat_interrupted();
}

/* The error of a stopped batch; `tail` adds what it means here. */
static int fail_stopped(const batch *b, const char *tail, nvsf_error *err)
{
    return nvsf_fail(err, NVSF_E_IO, "%s%s",
                     b->cancelled ? "stopped by the caller"
                                  : "interrupted by a signal",
                     tail);
}

static void report_progress(batch *b, enum batch_phase phase, size_t done,
                            size_t total, int final)
{
    if (b->cb && b->cb->progress &&
        b->cb->progress(b->cb->ctx, phase, done, total, final))
        b->cancelled = 1;
}

static void warn(const batch *b, const char *fmt, ...) NVSF_PRINTF(2, 3);

static void warn(const batch *b, const char *fmt, ...)
{
    if (!b->cb || !b->cb->warning)
        return;
    char message[NVSF_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    nvsf_text_vformat(message, sizeof message, fmt, ap); /* one warning, one line */
    va_end(ap);
    b->cb->warning(b->cb->ctx, message);
}

static int in_shard(const batch *b, size_t index)
{
    return index % b->a->shard_n == b->a->shard_k;
}

/* <outdir>/bin/<base>.bin and friends, for device `index` with `id`. */
static int make_names(const batch *b, size_t index, const char *id,
                      device_names *n, nvsf_error *err)
{
    const batch_options *a = b->a;
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
    /* Key files are named as the reference names them: kept as they are
     * when the extension (from the last dot) starts with ".bin" (an id
     * "d1.bin" or "a.binary", a prefix "P.bin"), else given ".bin" (the
     * reference refuses those, as a prefix "v1.2"). */
    const char *dot = strrchr(base, '.');
    const char *key_ext = dot && strncmp(dot, ".bin", 4) == 0 ? "" : ".bin";
    struct { char **dst; const char *dir, *before, *after; int want; } outs[] = {
        {&n->bin, "bin", "", ".bin", 1},
        {&n->csv, "csv", "", ".csv", 1},
        {&n->key, "keys", "keys-", key_ext, a->keys.keygen},
        {&n->hmac, "keys", "hmac-keys-", key_ext, a->keys.kp_hmac_keygen},
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
    if (!rc && a->keys.kp_hmac_keygen && a->keys.kp_hmac_keyfile) {
        free(n->hmac);
        char *dir = fs_join(a->outdir, "keys");
        char *name = keys_bin_name(a->keys.kp_hmac_keyfile, err);
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

/* Build a device's image (into `image`, `size` bytes). With `problems`
 * (the check pass), each problem is recorded there and the next row taken:
 * what it returns then is recorded already, unless it is NVSF_E_NOMEM. */
static int build_device(batch *b, const nvsf_mfg_device *dev,
                        const uint8_t *xts, uint8_t *image,
                        nvsf_errors *problems, nvsf_error *err)
{
    nvsf_builder *bl = NULL;
    nvsf_rows *rows = NULL;
    int rc = nvsf_builder_new(&bl, b->a->size, b->a->version, xts, err);
    if (!rc)
        rc = nvsf_rows_new(&rows, bl, cached_file_reader, &b->files, err);
    size_t n = nvsf_mfg_row_count(b->mfg);
    int row_failed = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        int r = nvsf_rows_add(rows, b->a->values, &dev->rows[i], err);
        if (!r)
            continue;
        if (!problems || r == NVSF_E_NOMEM || r == NVSF_E_FULL) {
            rc = r; /* the rows that follow cannot be judged */
            break;
        }
        if (nvsf_errors_add(problems, err))
            rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
        else if (!row_failed)
            row_failed = r;
    }
    if (!rc && !row_failed)
        rc = nvsf_builder_finish(bl, image, err);
    if (rc && rc != NVSF_E_NOMEM && problems && nvsf_errors_add(problems, err))
        rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    if (!rc)
        rc = row_failed;
    nvsf_rows_free(rows);
    nvsf_builder_free(bl);
    return rc;
}

/* ---- reading the values file ------------------------------------------- */

typedef struct values_stream {
    FILE *f;
    nvsf_sha256_stream *sha; /* pass 1: the file's SHA-256, as it is read */
    nvsf_csv_reader *rd;
    nvsf_csv_record header;
} values_stream;

static long read_stream(void *ctx, char *buf, size_t cap, nvsf_error *err)
{
    values_stream *vs = ctx;
    size_t r = fread(buf, 1, cap, vs->f);
    if (r == 0 && ferror(vs->f))
        return nvsf_fail(err, NVSF_E_IO, "cannot read the values file: %s",
                         strerror(errno));
    if (vs->sha && nvsf_sha256_stream_add(vs->sha, buf, r, err))
        return err->code;
    return (long)r;
}

static int values_open(batch *b, values_stream *vs, int hash, nvsf_error *err)
{
    if (hash && nvsf_sha256_stream_new(&vs->sha, err))
        return err->code;
    vs->f = plat_open_read(b->a->values);
    if (!vs->f)
        return nvsf_fail(err, NVSF_E_IO, "cannot open '%s': %s", b->a->values,
                         strerror(errno));
    vs->rd = nvsf_csv_reader_stream(b->a->values, read_stream, vs,
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

/* The values file's header line, as <values>_created.csv repeats it. */
static int header_line(const values_stream *vs, nvsf_buf *line)
{
    size_t n = vs->header.nfields;
    const char **f = malloc(n * sizeof *f + 1);
    size_t *fl = malloc(n * sizeof *fl + 1);
    for (size_t i = 0; f && fl && i < n; i++) {
        f[i] = vs->header.fields[i].data;
        fl[i] = vs->header.fields[i].len;
    }
    int rc = f && fl ? nvsf_csv_write_record(line, f, fl, n, 0) : NVSF_E_NOMEM;
    free(f);
    free(fl);
    return rc;
}

static void values_close(values_stream *vs)
{
    nvsf_csv_reader_free(vs->rd);
    if (vs->f)
        fclose(vs->f);
    nvsf_sha256_stream_free(vs->sha);
    memset(vs, 0, sizeof *vs);
}

/* ---- pass 1: check everything ------------------------------------------ */

/* 64-bit hashes of the ids seen, to refuse two devices with one name. */
typedef struct id_set {
    uint64_t *slots; /* 0 = free */
    unsigned *lines;
    size_t cap, count;
} id_set;

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
    uint64_t h = text_hash(id);
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

/* Images and CSVs are remade over the old ones; a key file never is. */
static int check_key_absent(const char *path, const char *values,
                            unsigned line, nvsf_error *err)
{
    if (!path || !plat_exists(path))
        return 0;
    return nvsf_fail(err, NVSF_E_IO,
                     "%s:%u: key file '%s' already exists; nvsforge never "
                     "replaces a key (the images encrypted with it would be "
                     "lost): use another --outdir or prefix, or move the old "
                     "keys away",
                     values, line, path);
}

/* A value the reference's join takes from another column (lib/mfg.h):
 * nvsforge writes the same, and says so. */
static void warn_borrowed(const batch *b, const nvsf_mfg_device *dev)
{
    for (size_t i = 0; i < dev->nborrowed; i++) {
        const nvsf_mfg_borrow *bw = &dev->borrowed[i];
        warn(b,
                    "%s:%u: %s '%s' takes the value '%s' of column %zu ('%s'), "
                    "not of its own column %zu: ESP-IDF's mfg_gen takes the "
                    "first column whose name or value is the key's name, and "
                    "nvsforge writes the same; rename the key or change that "
                    "value if this is not meant",
                    b->a->values, dev->line, bw->is_fileid ? "--fileid" : "key",
                    bw->key, bw->value, bw->column + 1, bw->column_name,
                    bw->own_column + 1);
    }
}

#define MANIFEST_HEADER \
    "id,image,image_sha256,key,key_sha256,hmac_key,hmac_key_sha256\n"

/* A manifest line: CSV with "\n" line ends (awk -F, and cut read it). */
static int manifest_line(const batch *b, const device_names *n,
                         const char sha[3][65], nvsf_buf *line)
{
    const key_options *k = &b->a->keys;
    const char *f[7] = {n->id, n->bin, sha[0],
                        k->keygen ? n->key : k->inputkey ? k->inputkey : "",
                        sha[1], n->hmac ? n->hmac : "", sha[2]};
    size_t fl[7];
    for (int i = 0; i < 7; i++)
        fl[i] = strlen(f[i]);
    int rc = nvsf_csv_write_record(line, f, fl, 7, 0);
    if (!rc && line->len >= 2 && line->data[line->len - 2] == '\r') {
        line->data[line->len - 2] = '\n';
        line->len--;
    }
    return rc;
}

/* --dry-run: a file the batch would write. */
static void plan(const batch *b, const char *path, uint64_t bytes)
{
    if (b->cb && b->cb->planned)
        b->cb->planned(b->cb->ctx, path, bytes);
}

/* --dry-run: list a checked device's files, and count its manifest line. */
static int plan_device(batch *b, const nvsf_mfg_device *dev,
                       const device_names *n, nvsf_error *err)
{
    const key_options *k = &b->a->keys;
    nvsf_buf buf = {0};
    int rc = nvsf_mfg_write_device_csv(b->mfg, dev, &buf);
    if (!rc) {
        plan(b, n->bin, b->a->size);
        plan(b, n->csv, buf.len);
        if (n->key)
            plan(b, n->key, NVSF_KEY_PARTITION_SIZE);
        if (n->hmac)
            plan(b, n->hmac, NVSF_HMAC_KEY_SIZE);
        /* The hashes have their length whatever their value. */
        char sha[3][65];
        memset(sha, 0, sizeof sha);
        memset(sha[0], 'f', 64);
        if (k->keygen || k->inputkey)
            memset(sha[1], 'f', 64);
        if (n->hmac)
            memset(sha[2], 'f', 64);
        nvsf_buf_clear(&buf);
        rc = manifest_line(b, n, sha, &buf);
        b->plan_manifest += buf.len;
    }
    nvsf_buf_free(&buf);
    return rc ? nvsf_fail(err, NVSF_E_NOMEM, "out of memory") : 0;
}

/* --dry-run: the length of a values line in <values>_created.csv. */
static int plan_created_row(batch *b, const char *const *f, const size_t *fl,
                            size_t n, nvsf_error *err)
{
    nvsf_buf buf = {0};
    int rc = nvsf_csv_write_record(&buf, f, fl, n, 0);
    b->plan_created += buf.len;
    nvsf_buf_free(&buf);
    return rc ? nvsf_fail(err, NVSF_E_NOMEM, "out of memory") : 0;
}

/* Record a problem of the check pass, which goes on to the next one;
 * returns non-zero when the pass cannot go on (no memory). */
static int note(batch *b, int rc, nvsf_error *err)
{
    if (rc == NVSF_E_NOMEM)
        return rc;
    if (nvsf_errors_add(&b->problems, err))
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    return 0;
}

/* Check one device of this shard: its image, names and key files. */
static int check_device(batch *b, size_t index, const nvsf_mfg_device *dev,
                        uint8_t *image, nvsf_error *err)
{
    const batch_options *a = b->a;
    size_t problems = b->problems.count;
    warn_borrowed(b, dev);
    int rc = build_device(b, dev, NULL, image, &b->problems, err);
    if (rc == NVSF_E_NOMEM)
        return rc;
    device_names n;
    rc = make_names(b, index, dev->id, &n, err);
    if (rc)
        return note(b, rc, err);
    const char *keys[2] = {n.key, n.hmac};
    for (int k = 0; !rc && k < 2; k++)
        if ((rc = check_key_absent(keys[k], a->values, dev->line, err)))
            rc = note(b, rc, err);
    if (!rc && a->dry_run && b->problems.count == problems)
        rc = plan_device(b, dev, &n, err);
    names_free(&n);
    return rc;
}

/* Pass 1: every line, value, file and name, every problem in line order
 * (b->problems); nothing is written. */
static int batch_check(batch *b, nvsf_error *err)
{
    const batch_options *a = b->a;
    values_stream vs = {0};
    id_set ids = {0};
    uint8_t *image = malloc(a->size);
    int rc = image ? values_open(b, &vs, 1, err)
                   : nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    if (!rc && a->dry_run && b->created_path) {
        nvsf_buf line = {0};
        rc = header_line(&vs, &line)
                 ? nvsf_fail(err, NVSF_E_NOMEM, "out of memory") : 0;
        b->plan_created += line.len;
        nvsf_buf_free(&line);
    }
    nvsf_csv_record rec;
    size_t index = 0;
    while (!rc) {
        int more = nvsf_csv_next(vs.rd, &rec, err);
        if (more < 0) { /* the file cannot be read on */
            rc = note(b, more, err);
            break;
        }
        if (more == 0) {
            uint8_t md[NVSF_SHA256_SIZE];
            char sha[65];
            if (!(rc = nvsf_sha256_stream_end(vs.sha, md, err))) {
                sha256_to_hex(md, sha);
                rc = run_record_add(&b->record, "values", a->values, sha, err);
            }
            break;
        }
        nvsf_mfg_device dev;
        int bad = nvsf_mfg_device_from(b->mfg, &rec, &dev, err);
        if (bad) {
            rc = note(b, bad, err);
        } else {
            if (a->dry_run && b->created_path)
                rc = plan_created_row(b, dev.created, dev.created_len,
                                      dev.ncreated, err);
            if (!rc && in_shard(b, index)) {
                rc = check_device(b, index, &dev, image, err);
                b->devices_shard++;
            }
            if (!rc && dev.id && !a->use_counter) {
                long earlier = id_set_add(&ids, dev.id, rec.line);
                if (earlier < 0)
                    rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
                else if (earlier > 0)
                    rc = note(b, NVSF_E_INPUT,
                              (nvsf_fail(err, NVSF_E_INPUT,
                                         "%s:%u: --fileid value '%s' is also "
                                         "the id of the device on line %ld; "
                                         "every device needs its own file "
                                         "names (or use --prefix_num)",
                                         a->values, rec.line, dev.id, earlier),
                               err));
            }
        }
        index++;
        report_progress(b, BATCH_CHECKING, index, 0, 0);
        if (!rc && batch_stopped(b))
            rc = fail_stopped(b, "; nothing was written", err);
    }
    b->devices_total = index;
    if (!rc && !b->problems.count && index == 0 && nvsf_mfg_has_repeat(b->mfg))
        rc = nvsf_fail(err, NVSF_E_INPUT,
                       "%s has no device lines, but REPEAT keys take their "
                       "values from the first one: add the device lines",
                       a->values);
    if (!rc && !b->problems.count && a->keys.kp_hmac_keyfile &&
        b->devices_shard > 1)
        rc = nvsf_fail(err, NVSF_E_INPUT,
                       "--kp_hmac_keyfile names one HMAC key file, but the "
                       "batch has %zu devices and each needs its own key: "
                       "leave --kp_hmac_keyfile out to get "
                       "keys/hmac-keys-<name>.bin per device",
                       b->devices_shard);
    if (!rc && b->problems.count)
        rc = nvsf_fail(err, b->problems.code, "%s", b->problems.messages[0]);
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
    plat_mutex *lock;
    plat_cond *work, *done;
    job slots[POOL_SLOTS];
    size_t next_fill, next_take, next_commit;
    int closing; /* no more jobs will come */
    batch *b;
} pool;

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
    const batch_options *a = b->a;
    key_material km;
    memset(&km, 0, sizeof km);
    nvsf_buf csv = {0};
    const uint8_t *xts = NULL;
    memset(j->sha, 0, sizeof j->sha);
    int rc = make_names(b, j->index, j->id, &j->names, err);
    if (!rc && a->keys.keygen) {
        rc = keys_make(&a->keys, b->input_hmac, &km, err);
        km.key_path = j->names.key;
        km.hmac_path = j->names.hmac;
        xts = km.xts;
    } else if (!rc && a->keys.inputkey) {
        xts = b->input_xts;
    }
    if (!rc)
        rc = build_device(b, &j->dev, xts, image, NULL, err);
    if (!rc && nvsf_mfg_write_device_csv(b->mfg, &j->dev, &csv))
        rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    if (!rc)
        rc = fs_txn_add(&j->txn, j->names.csv, csv.data, csv.len, FS_REMAKEABLE, err);
    if (!rc)
        rc = fs_txn_add(&j->txn, j->names.bin, image, a->size, FS_REMAKEABLE, err);
    if (!rc)
        rc = keys_stage(&km, &j->txn, err);
    if (!rc)
        rc = sha256_hex(image, a->size, j->sha[0], err);
    if (!rc && a->keys.keygen)
        rc = sha256_hex(km.key_file, sizeof km.key_file, j->sha[1], err);
    else if (!rc && a->keys.inputkey)
        memcpy(j->sha[1], b->input_key_sha, 65);
    if (!rc && km.hmac_path)
        rc = sha256_hex(km.hmac, sizeof km.hmac, j->sha[2], err);
    km.key_path = km.hmac_path = NULL; /* owned by j->names */
    keys_free(&km);
    nvsf_buf_free(&csv);
    return rc;
}

static void worker_main(void *arg)
{
    pool *p = arg;
    uint8_t *image = malloc(p->b->a->size);
    plat_mutex_lock(p->lock);
    for (;;) {
        while (!p->closing && p->next_take == p->next_fill)
            plat_cond_wait(p->work, p->lock);
        if (p->next_take == p->next_fill)
            break;
        job *j = &p->slots[p->next_take++ % POOL_SLOTS];
        j->state = SLOT_RUNNING;
        plat_mutex_unlock(p->lock);
        j->rc = image ? job_run(p->b, j, image, &j->err)
                      : nvsf_fail(&j->err, NVSF_E_NOMEM, "out of memory");
        plat_mutex_lock(p->lock);
        j->state = SLOT_DONE;
        plat_cond_broadcast(p->done);
    }
    plat_mutex_unlock(p->lock);
    if (image) {
        nvsf_wipe(image, p->b->a->size);
        free(image);
    }
}

/* What pass 2 writes besides the devices' files. */
typedef struct batch_out {
    fs_stream manifest;
    fs_stream run;      /* run.json */
    fs_stream created;  /* <values>_created.csv, when written */
    FILE *journal;      /* committed paths, NUL-separated, for rollback */
    size_t committed;
} batch_out;

static int write_manifest_line(batch *b, batch_out *o, const job *j)
{
    nvsf_buf line = {0};
    int rc = manifest_line(b, &j->names, j->sha, &line);
    if (!rc && fwrite(line.data, 1, line.len, o->manifest.f) != line.len)
        rc = -1;
    nvsf_buf_free(&line);
    return rc;
}

/*
 * Commit the finished jobs at the head of the queue, in device order: one
 * plat_sync_tree makes the group's data durable before the renames show it, so a
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
    plat_mutex_unlock(p->lock);
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
    if (!rc && plat_sync_tree(p->b->a->outdir) != 0)
        rc = nvsf_fail(err, NVSF_E_IO, "cannot sync the output folder: %s",
                       strerror(errno));
    if (!rc && batch_stopped(p->b))
        rc = fail_stopped(p->b, "", err);
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
        plat_file_truncate(o->journal, first->journal_offset);
    }
    plat_mutex_lock(p->lock);
    if (rc)
        return rc;
    for (size_t i = 0; i < ready; i++)
        p->slots[(p->next_commit + i) % POOL_SLOTS].state = SLOT_FREE;
    p->next_commit += ready;
    plat_cond_broadcast(p->done);
    report_progress(p->b, BATCH_WRITING, o->committed, p->b->devices_shard, 0);
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
    uint8_t *paths;
    size_t len;
    if (plat_read_file(b->journal_path, &paths, &len, NULL) != 0)
        return;
    for (size_t at = 0; at < len; at += strlen((char *)paths + at) + 1)
        plat_remove((char *)paths + at); /* NUL-terminated beyond len */
    free(paths);
}

static int write_created_row(const nvsf_mfg_device *dev, FILE *f)
{
    nvsf_buf line = {0};
    int rc = nvsf_csv_write_record(&line, dev->created, dev->created_len,
                                   dev->ncreated, 0);
    if (!rc && fwrite(line.data, 1, line.len, f) != line.len)
        rc = -1;
    nvsf_buf_free(&line);
    return rc;
}

/* run.json's text, for `devices` made and a run that ended at `finished`. */
static int run_json(const batch *b, size_t devices, time_t finished,
                    nvsf_buf *json)
{
    const batch_options *a = b->a;
    run_summary s = {.command_line = a->command_line,
                     .command_line_len = a->command_line_len,
                     .devices = devices,
                     .devices_total = b->devices_total,
                     .shard_k = a->shard_k,
                     .shard_n = a->shard_n,
                     .manifest = b->manifest_path,
                     .finished = finished};
    return run_record_json(&b->record, &s, json);
}

/* run.json: the run's record, as it ends. */
static int write_run_record(batch *b, batch_out *o, nvsf_error *err)
{
    nvsf_buf json = {0};
    int rc = run_json(b, o->committed, time(NULL), &json);
    if (rc)
        rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    else if (fwrite(json.data, 1, json.len, o->run.f) != json.len)
        rc = nvsf_fail(err, NVSF_E_IO, "cannot write '%s': %s", b->run_path,
                       strerror(errno));
    nvsf_buf_free(&json);
    return rc;
}

static int batch_write(batch *b, nvsf_error *err)
{
    const batch_options *a = b->a;
    batch_out o = {0};
    values_stream vs = {0};
    pool *p = calloc(1, sizeof *p);
    plat_thread **threads = calloc((size_t)a->jobs, sizeof(plat_thread *));
    int nthreads = 0, rc = 0;
    if (!p || !threads)
        rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");

    /* The folders this run makes, removed again (when empty) on failure. */
    static const char *const dirs[] = {"bin", "csv", "keys"};
    char *made[4] = {NULL, NULL, NULL, NULL};
    int ndirs = a->keys.keygen ? 3 : 2;
    if (!rc && !plat_exists(a->outdir) && !(made[3] = strdup(a->outdir)))
        rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    for (int i = 0; !rc && i < ndirs; i++) {
        char *d = fs_join(a->outdir, dirs[i]);
        if (d && !plat_exists(d))
            made[i] = strdup(d);
        rc = d ? fs_mkdirs(d, err) : nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
        free(d);
    }
    if (!rc && !(o.journal = plat_create_new(b->journal_path)))
        rc = nvsf_fail(err, NVSF_E_IO, "cannot create '%s': %s",
                       b->journal_path, strerror(errno));
    if (!rc)
        rc = fs_stream_open(&o.manifest, b->manifest_path, err);
    if (!rc && fputs(MANIFEST_HEADER, o.manifest.f) < 0)
        rc = nvsf_fail(err, NVSF_E_IO, "cannot write '%s': %s",
                       b->manifest_path, strerror(errno));
    if (!rc)
        rc = fs_stream_open(&o.run, b->run_path, err);
    if (!rc && b->created_path)
        rc = fs_stream_open(&o.created, b->created_path, err);
    if (!rc)
        rc = values_open(b, &vs, 0, err);
    if (!rc && b->created_path) {
        nvsf_buf line = {0};
        if (header_line(&vs, &line) ||
            fwrite(line.data, 1, line.len, o.created.f) != line.len)
            rc = nvsf_fail(err, NVSF_E_IO, "cannot write '%s'", b->created_path);
        nvsf_buf_free(&line);
    }

    if (!rc) {
        p->lock = plat_mutex_new();
        p->work = plat_cond_new();
        p->done = plat_cond_new();
        p->b = b;
        if (!p->lock || !p->work || !p->done)
            rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
        for (; !rc && nthreads < a->jobs; nthreads++)
            if (!(threads[nthreads] = plat_thread_start(worker_main, p)))
                break;
        if (!rc && nthreads == 0)
            rc = nvsf_fail(err, NVSF_E_NOMEM, "cannot start worker threads");
    }

    nvsf_csv_record rec;
    size_t index = 0;
    if (nthreads)
        plat_mutex_lock(p->lock);
    while (!rc && nthreads) {
        plat_mutex_unlock(p->lock);
        int more = nvsf_csv_next(vs.rd, &rec, err);
        nvsf_mfg_device dev;
        if (more > 0)
            rc = nvsf_mfg_device_from(b->mfg, &rec, &dev, err);
        else
            rc = more;
        if (!rc && more > 0 && b->created_path && write_created_row(&dev, o.created.f))
            rc = nvsf_fail(err, NVSF_E_IO, "cannot write '%s': %s",
                           b->created_path, strerror(errno));
        if (!rc && batch_stopped(b))
            rc = fail_stopped(b, "", err);
        plat_mutex_lock(p->lock);
        if (rc || more == 0)
            break;
        if (!in_shard(b, index++))
            continue;
        /* Wait for a free slot, committing what is done meanwhile. */
        while (!rc && p->next_fill - p->next_commit == POOL_SLOTS) {
            rc = commit_ready(p, &o, 0, err);
            if (!rc && p->next_fill - p->next_commit == POOL_SLOTS &&
                !head_done(p))
                plat_cond_wait(p->done, p->lock);
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
        plat_cond_signal(p->work);
        rc = commit_ready(p, &o, 0, err);
    }
    /* Let the workers finish what they took, then commit the rest. */
    if (nthreads) {
        p->closing = 1;
        plat_cond_broadcast(p->work);
        while (!rc && p->next_commit < p->next_fill) {
            rc = commit_ready(p, &o, 1, err);
            if (!rc && p->next_commit < p->next_fill && !head_done(p))
                plat_cond_wait(p->done, p->lock);
        }
        plat_mutex_unlock(p->lock);
        for (int i = 0; i < nthreads; i++)
            plat_thread_join(threads[i]);
    }
    if (!rc && batch_stopped(b))
        rc = fail_stopped(b, "", err);
    if (!rc && plat_sync_tree(a->outdir) != 0)
        rc = nvsf_fail(err, NVSF_E_IO, "cannot sync the output folder: %s",
                       strerror(errno));
    if (!rc)
        rc = write_run_record(b, &o, err);
    /* The last files go in the journal too: a failure between their
     * renames removes what is in place. */
    const char *last[3] = {b->created_path, b->manifest_path, b->run_path};
    for (int i = 0; !rc && i < 3; i++)
        if (last[i])
            fwrite(last[i], 1, strlen(last[i]) + 1, o.journal);
    if (!rc && fflush(o.journal) != 0)
        rc = nvsf_fail(err, NVSF_E_IO, "cannot write the journal '%s': %s",
                       b->journal_path, strerror(errno));
    if (!rc && b->created_path)
        rc = fs_stream_commit(&o.created, 1, err);
    if (!rc)
        rc = fs_stream_commit(&o.manifest, 1, err);
    if (!rc)
        rc = fs_stream_commit(&o.run, 1, err);
    if (rc) {
        rollback(b, &o);
        fs_stream_abort(&o.created);
        fs_stream_abort(&o.manifest);
        fs_stream_abort(&o.run);
    }
    if (o.journal) {
        fclose(o.journal);
        plat_remove(b->journal_path);
    }

    if (p) {
        for (size_t i = 0; i < POOL_SLOTS; i++) {
            job_release(&p->slots[i]);
            free(p->slots[i].rows);
            nvsf_buf_free(&p->slots[i].values);
        }
        plat_mutex_free(p->lock);
        plat_cond_free(p->work);
        plat_cond_free(p->done);
    }
    values_close(&vs);
    for (int i = 0; i < 4; i++) { /* after the temporary files are gone */
        if (rc && made[i])
            plat_remove_dir(made[i]); /* fails, as it should, when not empty */
        free(made[i]);
    }
    report_progress(b, BATCH_WRITING, o.committed, b->devices_shard, 1);
    free(p);
    free(threads);
    return rc;
}

/* ---- the batch ---------------------------------------------------------- */

int batch_check_options(const batch_options *o, nvsf_error *err)
{
    for (int i = 0; i < 2; i++) {
        const char *f = i ? o->values : o->conf;
        const char *dot = strrchr(f, '.');
        if (!dot || strcmp(dot, ".csv") != 0)
            return nvsf_fail(err, NVSF_E_INPUT,
                             "%s file '%s' does not have the .csv extension",
                             i ? "values" : "config", f);
    }
    if (!o->prefix[0] || fs_last_sep(o->prefix))
        return nvsf_fail(err, NVSF_E_INPUT,
                         "prefix '%s' must be a plain file-name part (not "
                         "empty, no '/')",
                         o->prefix);
    if (o->version != 1 && o->version != 2)
        return nvsf_fail(err, NVSF_E_USAGE, "the version must be 1 or 2");
    if (o->shard_n == 0 || o->shard_k >= o->shard_n)
        return nvsf_fail(err, NVSF_E_USAGE,
                         "the shard must be K of N with 0 <= K < N");
    if (o->jobs < 1)
        return nvsf_fail(err, NVSF_E_USAGE, "at least one worker thread");
    int rc = keys_check_options(&o->keys, 0, err);
    if (!rc && o->keys.key_protect_hmac && !o->keys.keygen)
        rc = nvsf_fail(err, NVSF_E_INPUT,
                       "--key_protect_hmac makes per-device keys: it needs "
                       "--keygen");
    return rc;
}

/* Name the manifest, the journal and <values>_created.csv (all remade when
 * they exist), and refuse to start over the journal of a run that was
 * killed. */
static int batch_paths(batch *b, nvsf_error *err)
{
    const batch_options *a = b->a;
    char name[64];
    if (a->shard_n > 1)
        snprintf(name, sizeof name, "manifest-%lu-of-%lu.csv", a->shard_k,
                 a->shard_n);
    else
        snprintf(name, sizeof name, "manifest.csv");
    char journal[80], run[64], values_dir[4096];
    snprintf(journal, sizeof journal, ".%s.journal", name);
    if (a->shard_n > 1)
        snprintf(run, sizeof run, "run-%lu-of-%lu.json", a->shard_k, a->shard_n);
    else
        snprintf(run, sizeof run, "run.json");
    snprintf(values_dir, sizeof values_dir, "%s", a->values);
    char *slash = (char *)fs_last_sep(values_dir);
    if (slash)
        *slash = '\0';
    else
        snprintf(values_dir, sizeof values_dir, ".");
    if (!(b->manifest_path = fs_join(a->outdir, name)) ||
        !(b->run_path = fs_join(a->outdir, run)) ||
        !(b->journal_path = fs_join(a->outdir, journal)))
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    if (plat_exists(b->journal_path))
        return nvsf_fail(err, NVSF_E_IO,
                         "'%s' is left by an earlier run into %s that was "
                         "killed before it could clean up; it lists the "
                         "files that run made. Remove them, the journal and "
                         "that run's temporary files, then run again: "
                         "xargs -0 rm -f < '%s' && rm '%s' && "
                         "find '%s' '%s' -name '.*.nvsforge-*' -delete",
                         b->journal_path, a->outdir, b->journal_path,
                         b->journal_path, a->outdir, values_dir);
    /* <values minus extension>_created<extension>, by shard 0 only. */
    if (nvsf_mfg_has_repeat(b->mfg) && a->shard_k == 0) {
        const char *dot = strrchr(a->values, '.');
        size_t stem = (size_t)(dot - a->values);
        if (!(b->created_path = malloc(strlen(a->values) + 16)))
            return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
        sprintf(b->created_path, "%.*s_created%s", (int)stem, a->values, dot);
    }
    return 0;
}

/* --dry-run: the files written last, as long as they would be. */
static int plan_records(batch *b, nvsf_error *err)
{
    if (b->created_path)
        plan(b, b->created_path, b->plan_created);
    plan(b, b->manifest_path, strlen(MANIFEST_HEADER) + b->plan_manifest);
    nvsf_buf json = {0};
    int rc = run_json(b, b->devices_shard, b->record.started, &json);
    if (!rc)
        plan(b, b->run_path, json.len);
    nvsf_buf_free(&json);
    return rc ? nvsf_fail(err, NVSF_E_NOMEM, "out of memory") : 0;
}

int batch_run(const batch_options *o, const batch_callbacks *cb,
              batch_result *res, nvsf_error *err)
{
    memset(res, 0, sizeof *res);
    batch b;
    memset(&b, 0, sizeof b);
    b.a = o;
    b.cb = cb;
    uint8_t *config = NULL;
    size_t config_len = 0;

    b.record.started = time(NULL);
    b.files.record = &b.record;
    char sha[65];
    int rc = batch_check_options(o, err);
    if (!rc && !(b.files.lock = plat_mutex_new()))
        rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    if (!rc)
        rc = plat_read_file(o->conf, &config, &config_len, err);
    if (!rc)
        rc = sha256_hex(config, config_len, sha, err);
    if (!rc)
        rc = run_record_add(&b.record, "config", o->conf, sha, err);
    if (!rc)
        rc = nvsf_mfg_new(&b.mfg, o->conf, (const char *)config, config_len, err);
    if (!rc && o->keys.inputkey) {
        rc = keys_read_input(o->keys.inputkey, b.input_xts, err);
        uint8_t *data;
        size_t len;
        if (!rc && !(rc = plat_read_file(o->keys.inputkey, &data, &len, err))) {
            rc = sha256_hex(data, len, b.input_key_sha, err);
            nvsf_wipe(data, len);
            free(data);
        }
        if (!rc)
            rc = run_record_add(&b.record, "inputkey", o->keys.inputkey,
                                b.input_key_sha, err);
    }
    if (!rc && o->keys.kp_hmac_inputkey)
        rc = keys_read_hmac(o->keys.kp_hmac_inputkey, b.input_hmac, err);
    if (!rc && o->keys.kp_hmac_inputkey)
        rc = sha256_hex(b.input_hmac, sizeof b.input_hmac, sha, err);
    if (!rc && o->keys.kp_hmac_inputkey)
        rc = run_record_add(&b.record, "kp_hmac_inputkey",
                            o->keys.kp_hmac_inputkey, sha, err);
    if (!rc)
        rc = batch_paths(&b, err);
    if (!rc) {
        rc = batch_check(&b, err);
        report_progress(&b, BATCH_CHECKING, b.devices_total, 0, 1);
    }
    if (!rc && o->dry_run) {
        rc = plan_records(&b, err);
    } else if (!rc) {
        res->writing_started = 1;
        report_progress(&b, BATCH_WRITING, 0, b.devices_shard, 0);
        rc = batch_write(&b, err);
    }
    res->devices_total = b.devices_total;
    res->devices_made = rc ? 0 : b.devices_shard;
    res->interrupted = rc && batch_stopped(&b);
    res->manifest_path = b.manifest_path;
    res->run_path = b.run_path;
    res->problems = b.problems;

    nvsf_mfg_free(b.mfg);
    file_cache_free(&b.files);
    plat_mutex_free(b.files.lock);
    nvsf_wipe(&b.input_xts, sizeof b.input_xts);
    nvsf_wipe(&b.input_hmac, sizeof b.input_hmac);
    free(b.journal_path);
    run_record_free(&b.record);
    free(b.created_path);
    if (config) {
        nvsf_wipe(config, config_len);
        free(config);
    }
    return rc;
}

void batch_result_free(batch_result *res)
{
    free(res->manifest_path);
    free(res->run_path);
    nvsf_errors_free(&res->problems);
    memset(res, 0, sizeof *res);
}
