#include "mfg.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

/* One config line: a namespace, or a key with its type and encoding. */
typedef struct mfg_entry {
    char *name;
    char *type;      /* "namespace", "data" or "file" */
    char *encoding;  /* a namespace's third cell, usually "" */
    int repeat;
    unsigned line;
    size_t column;   /* the key's column in the values file */
    size_t repeat_column; /* REPEAT: the column the reference fills in */
} mfg_entry;

struct nvsf_mfg {
    char *config_source;
    char *values_source;
    mfg_entry *entries;
    size_t nentries;
    size_t ncolumns;       /* of the values header */
    long fileid_column;    /* -1: devices are numbered */
    char *fileid_name;     /* the --fileid column's name */
    char **header_names;   /* the values header, ncolumns names */
    int has_repeat;
    int have_first;        /* the first device line has been seen */
    char **first_values;   /* its values, for REPEAT keys (by column) */
    nvsf_row *rows;
    const char **created;
    size_t *created_len;
    nvsf_mfg_borrow *borrowed; /* up to nentries + 1 (the fileid) */
};

/* The encodings the reference manufacturing tool accepts in a config. */
static const char *const mfg_encodings[] = {
    "string", "binary", "hex2bin", "base64", "u8", "i8",
    "u16", "u32", "i32", "u64", "i64",
    "float", "double"}; /* these two are nvsforge's own */

static int known_encoding(const char *e)
{
    for (size_t i = 0; i < sizeof mfg_encodings / sizeof mfg_encodings[0]; i++)
        if (strcmp(e, mfg_encodings[i]) == 0)
            return 1;
    return 0;
}

/* The first device line's values (secrets, maybe): wiped and freed. */
static void free_first_values(nvsf_mfg *m)
{
    for (size_t i = 0; m->first_values && i < m->ncolumns; i++) {
        if (m->first_values[i]) {
            nvsf_wipe(m->first_values[i], strlen(m->first_values[i]));
            free(m->first_values[i]);
        }
    }
    free(m->first_values);
    m->first_values = NULL;
}

static void free_header(nvsf_mfg *m)
{
    for (size_t i = 0; m->header_names && i < m->ncolumns; i++)
        free(m->header_names[i]);
    free(m->header_names);
    m->header_names = NULL;
    free(m->fileid_name);
    m->fileid_name = NULL;
}

void nvsf_mfg_free(nvsf_mfg *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nentries; i++) {
        free(m->entries[i].name);
        free(m->entries[i].type);
        free(m->entries[i].encoding);
    }
    free_first_values(m);
    free_header(m);
    free(m->entries);
    free(m->rows);
    free(m->borrowed);
    free(m->created);
    free(m->created_len);
    free(m->config_source);
    free(m->values_source);
    free(m);
}

static int check_config_line(const char *src, const nvsf_csv_record *rec,
                             int first, nvsf_error *err)
{
    const nvsf_csv_field *f = rec->fields;
    size_t n = rec->nfields;
    int is_ns = n >= 2 && strcmp(f[1].data, "namespace") == 0;
    const char *what = is_ns ? "namespace" : "key";
    const char *name = n ? f[0].data : "";
    if (n == 0 || f[0].len == 0)
        return nvsf_fail(err, NVSF_E_INPUT, "%s:%u: the line has no key name",
                         src, rec->line);
    if (f[0].len > NVSF_KEY_MAX_LEN || strlen(name) != f[0].len)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "%s:%u: %s '%s' is %zu bytes long; NVS allows at most "
                         "%u",
                         src, rec->line, what, name, f[0].len, NVSF_KEY_MAX_LEN);
    if (first && !is_ns)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "%s:%u: key '%s' comes before any namespace; the "
                         "first line must be a namespace (name,namespace,)",
                         src, rec->line, name);
    if (is_ns) {
        if (n != 3)
            return nvsf_fail(err, NVSF_E_INPUT,
                             "%s:%u: namespace '%s': the line must be "
                             "name,namespace, (3 fields, not %zu)",
                             src, rec->line, name, n);
        return 0;
    }
    if (n != 3 && !(n == 4 && strcmp(f[3].data, "REPEAT") == 0))
        return nvsf_fail(err, NVSF_E_INPUT,
                         "%s:%u: key '%s': the line must be "
                         "key,type,encoding or key,type,encoding,REPEAT",
                         src, rec->line, name);
    if (strcmp(f[1].data, "data") != 0 && strcmp(f[1].data, "file") != 0)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "%s:%u: key '%s': unknown type '%s' (use namespace, "
                         "data or file)",
                         src, rec->line, name, f[1].data);
    if (!known_encoding(f[2].data))
        return nvsf_fail(err, NVSF_E_INPUT,
                         "%s:%u: key '%s': encoding '%s' is not one the "
                         "manufacturing tool takes (string, binary, hex2bin, "
                         "base64, u8, i8, u16, u32, i32, u64, i64, float, "
                         "double)",
                         src, rec->line, name, f[2].data);
    return 0;
}

int nvsf_mfg_new(nvsf_mfg **out, const char *config_source, const char *config,
                 size_t len, nvsf_error *err)
{
    *out = NULL;
    nvsf_mfg *m = calloc(1, sizeof *m);
    if (!m || !(m->config_source = strdup(config_source))) {
        free(m);
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    }
    m->fileid_column = -1;
    nvsf_csv_reader *rd =
        nvsf_csv_reader_mem(config_source, config, len, NVSF_CSV_SKIP_BLANK);
    if (!rd) {
        nvsf_mfg_free(m);
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    }
    nvsf_csv_record rec;
    size_t cap = 0;
    int rc;
    while ((rc = nvsf_csv_next(rd, &rec, err)) > 0) {
        if ((rc = check_config_line(config_source, &rec, m->nentries == 0, err)))
            break;
        if (m->nentries == cap) {
            cap = cap ? cap * 2 : 16;
            mfg_entry *e = realloc(m->entries, cap * sizeof *e);
            if (!e) {
                rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
                break;
            }
            m->entries = e;
        }
        mfg_entry *e = &m->entries[m->nentries++];
        memset(e, 0, sizeof *e);
        e->name = strdup(rec.fields[0].data);
        e->type = strdup(rec.fields[1].data);
        /* A namespace's third cell is copied into the device CSVs, as the
         * reference copies the whole line. */
        e->encoding = strdup(rec.fields[2].data);
        e->repeat = rec.nfields == 4;
        e->line = rec.line;
        if (!e->name || !e->type || !e->encoding) {
            rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
            break;
        }
        m->has_repeat |= e->repeat;
    }
    nvsf_csv_reader_free(rd);
    if (rc == 0 && m->nentries == 0)
        rc = nvsf_fail(err, NVSF_E_INPUT,
                       "%s: the config file is empty; it must start with a "
                       "namespace line (name,namespace,)",
                       config_source);
    /* The same key twice in one namespace would be refused device by device;
     * say it once, at its config line. A re-declared namespace continues. */
    const char **ns_of = rc ? NULL : calloc(m->nentries + 1, sizeof *ns_of);
    if (!rc && !ns_of)
        rc = nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < m->nentries; i++) {
        mfg_entry *e = &m->entries[i];
        int is_ns = strcmp(e->type, "namespace") == 0;
        ns_of[i] = is_ns ? e->name : i ? ns_of[i - 1] : ""; /* line 1 is a namespace */
        for (size_t j = 0; !is_ns && j < i; j++) {
            if (strcmp(m->entries[j].type, "namespace") != 0 &&
                strcmp(ns_of[j], ns_of[i]) == 0 &&
                strcmp(m->entries[j].name, e->name) == 0) {
                rc = nvsf_fail(err, NVSF_E_INPUT,
                               "%s:%u: key '%s' is already set in namespace "
                               "'%s' (line %u)",
                               config_source, e->line, e->name, ns_of[i],
                               m->entries[j].line);
                break;
            }
        }
    }
    free(ns_of);
    if (rc) {
        nvsf_mfg_free(m);
        return rc;
    }
    m->rows = calloc(m->nentries, sizeof *m->rows);
    m->borrowed = calloc(m->nentries + 1, sizeof *m->borrowed);
    if (!m->rows || !m->borrowed) {
        nvsf_mfg_free(m);
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    }
    *out = m;
    return 0;
}

int nvsf_mfg_has_repeat(const nvsf_mfg *m)
{
    return m->has_repeat;
}

size_t nvsf_mfg_row_count(const nvsf_mfg *m)
{
    return m->nentries;
}

static int is_config_key(const nvsf_mfg *m, const char *name)
{
    for (size_t i = 0; i < m->nentries; i++)
        if (strcmp(m->entries[i].type, "namespace") != 0 &&
            strcmp(m->entries[i].name, name) == 0)
            return 1;
    return 0;
}

int nvsf_mfg_set_header(nvsf_mfg *m, const char *values_source,
                        const nvsf_csv_record *header, const char *fileid,
                        nvsf_error *err)
{
    free(m->values_source);
    if (!(m->values_source = strdup(values_source)))
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    if (header->nfields == 0)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "%s:%u: the header line names no columns",
                         values_source, header->line);
    /* The header's columns named like a config key must begin with the
     * config keys, in config order (the reference's check: later extra ones
     * are left alone); every other column is metadata. */
    size_t next = 0; /* the config entry the next key column must name */
    for (size_t c = 0; c < header->nfields; c++) {
        const char *name = header->fields[c].data;
        if (!is_config_key(m, name))
            continue;
        while (next < m->nentries &&
               strcmp(m->entries[next].type, "namespace") == 0)
            next++;
        if (next == m->nentries)
            break;
        mfg_entry *e = &m->entries[next];
        if (strcmp(name, e->name) != 0)
            return nvsf_fail(err, NVSF_E_INPUT,
                             "%s:%u: key '%s' is out of order in the header "
                             "of %s (column %zu is '%s'): the values file "
                             "must name the config keys in config order",
                             m->config_source, e->line, e->name, values_source,
                             c + 1, name);
        e->column = c;
        next++;
    }
    while (next < m->nentries && strcmp(m->entries[next].type, "namespace") == 0)
        next++;
    if (next < m->nentries)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "%s:%u: key '%s' is not found in the header of %s: "
                         "the values file must have a column for every "
                         "config key",
                         m->config_source, m->entries[next].line,
                         m->entries[next].name, values_source);
    /* The reference fills in REPEAT values by name: each REPEAT key, in
     * config order, takes the first column of its name after the previous
     * one's (its own, unless the name stands twice in the config; the scan
     * stops at its own column at the latest). */
    size_t from = 0;
    for (size_t i = 0; i < m->nentries; i++) {
        mfg_entry *e = &m->entries[i];
        if (!e->repeat)
            continue;
        e->repeat_column = from;
        while (strcmp(header->fields[e->repeat_column].data, e->name) != 0)
            e->repeat_column++;
        from = e->repeat_column + 1;
    }
    m->fileid_column = -1;
    if (fileid) {
        for (size_t k = 0; k < header->nfields && m->fileid_column < 0; k++)
            if (strcmp(header->fields[k].data, fileid) == 0)
                m->fileid_column = (long)k;
        if (m->fileid_column < 0)
            return nvsf_fail(err, NVSF_E_INPUT,
                             "%s:%u: --fileid '%s' is not a column of the "
                             "values file",
                             values_source, header->line, fileid);
    }
    free_first_values(m);
    free_header(m);
    m->ncolumns = header->nfields;
    free(m->created);
    free(m->created_len);
    m->first_values = calloc(m->ncolumns, sizeof *m->first_values);
    m->created = calloc(m->ncolumns, sizeof *m->created);
    m->created_len = calloc(m->ncolumns, sizeof *m->created_len);
    m->header_names = calloc(m->ncolumns, sizeof *m->header_names);
    m->have_first = 0;
    if (!m->first_values || !m->created || !m->created_len || !m->header_names ||
        (fileid && !(m->fileid_name = strdup(fileid))))
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    for (size_t c = 0; c < m->ncolumns; c++)
        if (!(m->header_names[c] = strdup(header->fields[c].data)))
            return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    return 0;
}

int nvsf_mfg_check_id(const char *id, nvsf_error *err)
{
    if (!id[0] || strchr(id, '/') || strcmp(id, ".") == 0 ||
        strcmp(id, "..") == 0)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "'%s' cannot be used in a file name (it is empty, "
                         "'.', '..' or holds '/')",
                         id);
    return 0;
}

/* The column the reference takes for `name`: the first from `from` on
 * whose name or value is `name`; at the latest its own column `own`. (A
 * column before `own` of that name is the same name's earlier key, passed
 * over when that key took another column's value.) */
static size_t reference_column(const nvsf_mfg *m, size_t from, size_t own,
                               const char *name)
{
    for (size_t c = from; c < own; c++)
        if (strcmp(m->header_names[c], name) == 0 ||
            strcmp(m->created[c], name) == 0)
            return c;
    return own;
}

int nvsf_mfg_device_from(nvsf_mfg *m, const nvsf_csv_record *rec,
                         nvsf_mfg_device *dev, nvsf_error *err)
{
    const char *vsrc = m->values_source;
    if (rec->nfields != m->ncolumns)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "%s:%u: the line has %zu values for the header's %zu "
                         "columns",
                         vsrc, rec->line, rec->nfields, m->ncolumns);
    for (size_t c = 0; c < m->ncolumns; c++) {
        m->created[c] = rec->fields[c].data;
        m->created_len[c] = rec->fields[c].len;
    }
    for (size_t i = 0; i < m->nentries; i++) {
        mfg_entry *e = &m->entries[i];
        if (!e->repeat)
            continue;
        size_t c = e->repeat_column;
        const nvsf_csv_field *f = &rec->fields[c];
        if (!m->have_first) {
            if (!(m->first_values[c] = strdup(f->data)))
                return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
            continue;
        }
        const char *first = m->first_values[c];
        if (f->len && strcmp(f->data, first) != 0)
            return nvsf_fail(err, NVSF_E_INPUT,
                             "%s:%u: key '%s' is REPEAT: its value comes from "
                             "the first device line; leave it empty here",
                             vsrc, rec->line, e->name);
        m->created[c] = first;
        m->created_len[c] = strlen(first);
    }
    m->have_first = 1;

    size_t nborrowed = 0;
    dev->id = NULL;
    if (m->fileid_column >= 0) {
        const char *fileid = m->fileid_name;
        size_t c = reference_column(m, 0, (size_t)m->fileid_column, fileid);
        if (c != (size_t)m->fileid_column)
            m->borrowed[nborrowed++] = (nvsf_mfg_borrow){
                fileid, 1, c, m->header_names[c], (size_t)m->fileid_column,
                m->created[c]};
        dev->id = m->created[c];
        int rc = nvsf_mfg_check_id(dev->id, err);
        /* Without err, the prefix would have no code to give back. */
        if (rc)
            return err ? nvsf_error_prefix(err, "%s:%u: --fileid value", vsrc,
                                           rec->line)
                       : rc;
    }
    size_t from = 0;
    for (size_t i = 0; i < m->nentries; i++) {
        mfg_entry *e = &m->entries[i];
        nvsf_row *r = &m->rows[i];
        r->key = e->name;
        r->type = e->type;
        r->encoding = e->encoding;
        r->line = rec->line;
        if (strcmp(e->type, "namespace") == 0) {
            r->value = "";
            r->value_len = 0;
            continue;
        }
        size_t c = reference_column(m, from, e->column, e->name);
        if (c != e->column)
            m->borrowed[nborrowed++] = (nvsf_mfg_borrow){
                e->name, 0, c, m->header_names[c], e->column, m->created[c]};
        r->value = m->created[c];
        r->value_len = m->created_len[c];
        from = c + 1;
    }
    dev->borrowed = m->borrowed;
    dev->nborrowed = nborrowed;
    dev->rows = m->rows;
    dev->created = m->created;
    dev->created_len = m->created_len;
    dev->ncreated = m->ncolumns;
    dev->line = rec->line;
    return 0;
}

int nvsf_mfg_write_device_csv(const nvsf_mfg *m, const nvsf_mfg_device *dev,
                              nvsf_buf *out)
{
    static const char *const header[4] = {"key", "type", "encoding", "value"};
    static const size_t header_len[4] = {3, 4, 8, 5};
    /* A device CSV is a partition CSV: read with '#' comments. */
    int rc = nvsf_csv_write_record(out, header, header_len, 4,
                                   NVSF_CSV_HASH_COMMENTS);
    for (size_t i = 0; !rc && i < m->nentries; i++) {
        const nvsf_row *r = &dev->rows[i];
        const char *f[4] = {r->key, r->type, r->encoding, r->value};
        size_t fl[4] = {strlen(r->key), strlen(r->type), strlen(r->encoding),
                        r->value_len};
        rc = nvsf_csv_write_record(out, f, fl, 4, NVSF_CSV_HASH_COMMENTS);
    }
    return rc;
}
