/*
 * CSV reading and writing as Python's csv module does it (see csv.h).
 *
 * The reader follows the state machine of CPython's _csv.c (excel dialect,
 * strict=False) fed by a text-mode file with universal newlines: "\r\n",
 * "\r" and "\n" all end a line, and inside a quoted field each becomes "\n".
 * It scans the input buffer directly, copying runs of ordinary bytes into the
 * record at once, and stops only at the few bytes that mean something.
 */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

/* Stream input is pulled in pieces of this size; a record may span pieces. */
#define CHUNK_SIZE ((size_t)64 * 1024)

/* The longest UTF-8 sequence: how far ahead we must see to check one. */
#define UTF8_MAX 4u

struct nvsf_csv_reader {
    char *source;           /* names the input in messages */
    unsigned flags;
    nvsf_csv_read_fn read;  /* NULL for an in-memory reader */
    void *ctx;
    const char *in;         /* the caller's data, or chunk */
    char *chunk;            /* stream readers: CHUNK_SIZE bytes */
    size_t pos, end;        /* unread input is in[pos..end) */
    int eof;                /* nothing more will come after in[end] */
    int bom_checked;
    int failed;             /* the error code once reading has failed */
    unsigned line;          /* physical line of in[pos], 1-based */

    /* The current record: field bytes, each followed by a NUL, in text. */
    nvsf_buf text;
    nvsf_csv_field *fields;
    size_t *starts;         /* field i starts at text.data + starts[i] */
    size_t nfields, cap_fields;
    int first_quoted;       /* the record's first field was quoted */
};

/* Bytes that end a run of ordinary bytes, by where they appear. */
enum { IN_UNQUOTED = 1, IN_QUOTED = 2 };
static const unsigned char special[128] = {
    ['\0'] = IN_UNQUOTED | IN_QUOTED, /* always an error */
    ['\n'] = IN_UNQUOTED | IN_QUOTED,
    ['\r'] = IN_UNQUOTED | IN_QUOTED,
    [','] = IN_UNQUOTED,
    ['"'] = IN_QUOTED,
};

static int out_of_memory(const nvsf_csv_reader *r, nvsf_error *err)
{
    return nvsf_fail(err, NVSF_E_NOMEM, "%s:%u: out of memory", r->source,
                     r->line);
}

/* What read_field found after the field. */
enum { MORE_FIELDS, END_OF_RECORD };

static nvsf_csv_reader *reader_new(const char *source, unsigned flags)
{
    nvsf_csv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (!source)
        source = "";
    size_t len = strlen(source);
    r->source = malloc(len + 1);
    if (!r->source) {
        free(r);
        return NULL;
    }
    memcpy(r->source, source, len + 1);
    r->flags = flags;
    r->line = 1;
    return r;
}

nvsf_csv_reader *nvsf_csv_reader_mem(const char *source, const char *data,
                                     size_t len, unsigned flags)
{
    nvsf_csv_reader *r = reader_new(source, flags);
    if (!r)
        return NULL;
    r->in = data ? data : "";
    r->end = data ? len : 0;
    r->eof = 1;
    return r;
}

nvsf_csv_reader *nvsf_csv_reader_stream(const char *source,
                                        nvsf_csv_read_fn read, void *ctx,
                                        unsigned flags)
{
    nvsf_csv_reader *r = reader_new(source, flags);
    if (!r)
        return NULL;
    r->chunk = malloc(CHUNK_SIZE);
    if (!r->chunk) {
        nvsf_csv_reader_free(r);
        return NULL;
    }
    r->in = r->chunk;
    r->read = read;
    r->ctx = ctx;
    return r;
}

void nvsf_csv_reader_free(nvsf_csv_reader *r)
{
    if (!r)
        return;
    free(r->source);
    free(r->chunk);
    nvsf_buf_free(&r->text);
    free(r->fields);
    free(r->starts);
    free(r);
}

/* Make at least `want` (<= UTF8_MAX) unread bytes available, unless the
 * input ends first. */
static int fill(nvsf_csv_reader *r, size_t want, nvsf_error *err)
{
    while (r->end - r->pos < want && !r->eof) {
        /* Keep the few unread bytes, move them to the front, read after. */
        memmove(r->chunk, r->chunk + r->pos, r->end - r->pos);
        r->end -= r->pos;
        r->pos = 0;
        size_t room = CHUNK_SIZE - r->end;
        long got = r->read(r->ctx, r->chunk + r->end, room, err);
        if (got < 0)
            return (int)got;
        if ((size_t)got > room)
            return nvsf_fail(err, NVSF_E_USAGE,
                             "%s: read callback returned more than asked",
                             r->source);
        if (got == 0)
            r->eof = 1;
        r->end += (size_t)got;
    }
    return 0;
}

/*
 * Length of the UTF-8 sequence at p (avail bytes seen): 1-4 when valid,
 * 0 when invalid, -1 when it may be valid but runs past avail. The checks
 * are those of Python's strict decoder: no overlong forms, no surrogates,
 * nothing above U+10FFFF.
 */
static int utf8_length(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    int n;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0) {
        n = 2;
    } else if (c < 0xF0) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c < 0xF5) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if ((size_t)i >= avail)
            return -1;
        unsigned char min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xBF;
        if (p[i] < min || p[i] > max)
            return 0;
    }
    return n;
}

/*
 * Copy the ordinary bytes at the read position into the field, up to the
 * next byte that `where` marks special or the end of the input; check
 * UTF-8 and NUL on the way.
 */
static int copy_plain(nvsf_csv_reader *r, unsigned char where,
                      nvsf_error *err)
{
    for (;;) {
        const unsigned char *base = (const unsigned char *)r->in;
        const unsigned char *p = base + r->pos, *end = base + r->end;
        const unsigned char *run = p;
        while (p < end) {
            if (*p < 0x80) {
                if (special[*p] & where)
                    break;
                p++;
            } else {
                int n = utf8_length(p, (size_t)(end - p));
                if (n <= 0)
                    break;
                p += n;
            }
        }
        if (nvsf_buf_append(&r->text, run, (size_t)(p - run)))
            return out_of_memory(r, err);
        r->pos = (size_t)(p - base);

        if (p == end) {
            int rc = fill(r, 1, err);
            if (rc < 0)
                return rc;
            if (r->pos == r->end)
                return 0; /* end of input */
            continue;
        }
        if (*p == '\0')
            return nvsf_fail(err, NVSF_E_INPUT, "%s:%u: NUL byte", r->source,
                             r->line);
        if (*p < 0x80)
            return 0; /* a special byte, for the caller */
        /* A character cut by the end of a chunk: get the rest and retry. */
        if (!r->eof && utf8_length(p, (size_t)(end - p)) < 0) {
            int rc = fill(r, UTF8_MAX, err);
            if (rc < 0)
                return rc;
            continue;
        }
        return nvsf_fail(err, NVSF_E_INPUT, "%s:%u: invalid UTF-8", r->source,
                         r->line);
    }
}

/* Consume the "\n", "\r\n" or "\r" at the read position. */
static int line_break(nvsf_csv_reader *r, nvsf_error *err)
{
    char c = r->in[r->pos++];
    r->line++;
    if (c == '\r') {
        int rc = fill(r, 1, err); /* the "\n" may be in the next chunk */
        if (rc < 0)
            return rc;
        if (r->pos < r->end && r->in[r->pos] == '\n')
            r->pos++;
    }
    return 0;
}

/* The rest of a quoted field, from just after its opening quote up to and
 * including its closing quote. */
static int read_quoted(nvsf_csv_reader *r, nvsf_error *err)
{
    unsigned opened = r->line;
    for (;;) {
        int rc = copy_plain(r, IN_QUOTED, err);
        if (rc < 0)
            return rc;
        if (r->pos == r->end)
            return nvsf_fail(err, NVSF_E_INPUT,
                             "%s:%u: quoted field opened here is never closed",
                             r->source, opened);
        if (r->in[r->pos] == '"') {
            r->pos++;
            rc = fill(r, 1, err);
            if (rc < 0)
                return rc;
            if (r->pos == r->end || r->in[r->pos] != '"')
                return 0; /* the closing quote */
            r->pos++;     /* "" stands for one quote */
            if (nvsf_buf_putc(&r->text, '"'))
                return out_of_memory(r, err);
        } else {
            /* Text mode turns every line break into "\n". */
            rc = line_break(r, err);
            if (rc < 0)
                return rc;
            if (nvsf_buf_putc(&r->text, '\n'))
                return out_of_memory(r, err);
        }
    }
}

static int add_field(nvsf_csv_reader *r, size_t start)
{
    if (r->nfields == r->cap_fields) {
        size_t cap = r->cap_fields ? r->cap_fields * 2 : 16;
        nvsf_csv_field *fields = realloc(r->fields, cap * sizeof *fields);
        if (!fields)
            return NVSF_E_NOMEM;
        r->fields = fields;
        size_t *starts = realloc(r->starts, cap * sizeof *starts);
        if (!starts)
            return NVSF_E_NOMEM;
        r->starts = starts;
        r->cap_fields = cap;
    }
    r->starts[r->nfields] = start;
    r->fields[r->nfields].len = r->text.len - start;
    r->nfields++;
    /* The NUL that ends the field; the next field starts after it. */
    return nvsf_buf_putc(&r->text, '\0');
}

/* One field and what ends it: ',', a line break or the end of input.
 * Python (non-strict) keeps what follows a closing quote: "ab"c -> abc. */
static int read_field(nvsf_csv_reader *r, nvsf_error *err)
{
    size_t start = r->text.len;
    int rc = fill(r, 1, err);
    if (rc < 0)
        return rc;
    if (r->pos < r->end && r->in[r->pos] == '"') {
        if (r->nfields == 0)
            r->first_quoted = 1;
        r->pos++;
        rc = read_quoted(r, err);
        if (rc < 0)
            return rc;
    }
    /* Unquoted, or the tail after a closing quote: a '"' here is literal. */
    rc = copy_plain(r, IN_UNQUOTED, err);
    if (rc < 0)
        return rc;
    if (add_field(r, start))
        return out_of_memory(r, err);
    if (r->pos == r->end)
        return END_OF_RECORD;
    if (r->in[r->pos] == ',') {
        r->pos++;
        return MORE_FIELDS;
    }
    rc = line_break(r, err);
    return rc < 0 ? rc : END_OF_RECORD;
}

/* One record; the caller has checked that input remains. */
static int read_record(nvsf_csv_reader *r, nvsf_error *err)
{
    nvsf_buf_clear(&r->text);
    r->nfields = 0;
    r->first_quoted = 0;
    char c = r->in[r->pos];
    if (c == '\n' || c == '\r')
        return line_break(r, err); /* an empty line: no fields */
    for (;;) {
        int rc = read_field(r, err);
        if (rc < 0)
            return rc;
        if (rc == END_OF_RECORD)
            return 0;
    }
}

/* Nothing but spaces and tabs outside quotes (or nothing at all). */
static int record_is_blank(const nvsf_csv_reader *r)
{
    if (r->nfields == 0)
        return 1;
    if (r->nfields > 1 || r->first_quoted)
        return 0;
    for (size_t i = 0; i < r->fields[0].len; i++) {
        char c = r->text.data[i];
        if (c != ' ' && c != '\t')
            return 0;
    }
    return 1;
}

static int drop_bom(nvsf_csv_reader *r, nvsf_error *err)
{
    int rc = fill(r, 3, err);
    if (rc < 0)
        return rc;
    if (r->end - r->pos >= 3 && memcmp(r->in + r->pos, "\xEF\xBB\xBF", 3) == 0)
        r->pos += 3;
    r->bom_checked = 1;
    return 0;
}

/* Skip the rest of a physical line, its line break included, without
 * reading it as CSV: a comment line, as the generator drops it before its
 * CSV reader sees the file (a quote in a comment opens nothing). Its bytes
 * are still checked as text, since the generator decodes the whole file. */
static int skip_line(nvsf_csv_reader *r, nvsf_error *err)
{
    for (;;) {
        int rc = fill(r, UTF8_MAX, err);
        if (rc < 0 || r->pos == r->end)
            return rc;
        const unsigned char *p = (const unsigned char *)r->in + r->pos;
        int n = utf8_length(p, r->end - r->pos);
        if (*p == '\0')
            return nvsf_fail(err, NVSF_E_INPUT, "%s:%u: NUL byte", r->source,
                             r->line);
        if (n <= 0)
            return nvsf_fail(err, NVSF_E_INPUT, "%s:%u: invalid UTF-8",
                             r->source, r->line);
        r->pos += (size_t)n;
        if (*p != '\n' && *p != '\r')
            continue;
        r->line++;
        if (*p == '\r' && r->pos < r->end && r->in[r->pos] == '\n')
            r->pos++; /* fill gave UTF8_MAX bytes, so the \n is seen */
        return 0;
    }
}

int nvsf_csv_next(nvsf_csv_reader *r, nvsf_csv_record *rec, nvsf_error *err)
{
    if (r->failed)
        return nvsf_fail(err, r->failed, "%s: reading stopped after an error",
                         r->source);
    int rc = 0;
    if (!r->bom_checked)
        rc = drop_bom(r, err);
    while (rc == 0) {
        rc = fill(r, 1, err);
        if (rc < 0)
            break;
        if (r->pos == r->end)
            return 0; /* a final line break makes no extra record */
        unsigned line = r->line;
        if ((r->flags & NVSF_CSV_HASH_COMMENTS) && r->in[r->pos] == '#') {
            rc = skip_line(r, err);
            continue;
        }
        rc = read_record(r, err);
        if (rc < 0)
            break;
        if ((r->flags & NVSF_CSV_SKIP_BLANK) && record_is_blank(r))
            continue;
        for (size_t i = 0; i < r->nfields; i++)
            r->fields[i].data = r->text.data + r->starts[i];
        rec->fields = r->fields;
        rec->nfields = r->nfields;
        rec->line = line;
        return 1;
    }
    r->failed = rc;
    return rc;
}

/* Python's QUOTE_MINIMAL: quote what would not read back otherwise. */
static int needs_quotes(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            return 1;
    return 0;
}

int nvsf_csv_write_record(nvsf_buf *out, const char *const *fields,
                          const size_t *lens, size_t n, unsigned flags)
{
    /* Size it all first so that a failure leaves out as it was. */
    size_t need = 2; /* "\r\n" */
    for (size_t i = 0; i < n; i++) {
        size_t quotes = 0;
        for (size_t j = 0; j < lens[i]; j++)
            quotes += fields[i][j] == '"';
        size_t more = lens[i] + quotes + 3; /* two quotes and a comma */
        if (more < lens[i] || need > (size_t)-1 - more)
            return NVSF_E_NOMEM;
        need += more;
    }
    if (nvsf_buf_reserve(out, need))
        return NVSF_E_NOMEM;

    char *w = out->data + out->len;
    /* A lone empty field would read back as an empty line: quote it. */
    if (n == 1 && lens[0] == 0) {
        *w++ = '"';
        *w++ = '"';
    } else {
        for (size_t i = 0; i < n; i++) {
            const char *s = fields[i];
            size_t len = lens[i];
            if (i > 0)
                *w++ = ',';
            /* In a file read with '#' comments (here and by the
             * reference's line filter), a record starting with '#' would
             * read back as one: quoted, it does not. */
            int comment = (flags & NVSF_CSV_HASH_COMMENTS) && i == 0 && len &&
                          s[0] == '#';
            if (!needs_quotes(s, len) && !comment) {
                if (len)
                    memcpy(w, s, len);
                w += len;
                continue;
            }
            *w++ = '"';
            for (size_t j = 0; j < len; j++) {
                if (s[j] == '"')
                    *w++ = '"';
                *w++ = s[j];
            }
            *w++ = '"';
        }
    }
    *w++ = '\r';
    *w++ = '\n';
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
    return 0;
}
