/*
 * CSV as Python's csv module reads and writes it (the dialect the reference
 * tools use), so that every file they accept we accept, and every CSV we
 * write is byte-identical to theirs.
 *
 * Reading (a stream, so memory stays flat however long the file):
 *   - fields separated by ',', records ended by "\n", "\r\n" or "\r";
 *   - a field starting with '"' is quoted: it may hold ',', line breaks and
 *     doubled quotes ("" -> "); line breaks inside are normalised to "\n" as
 *     Python's text mode does; characters after the closing quote are kept
 *     (Python's non-strict mode: "ab"c -> abc);
 *   - a '"' inside an unquoted field is an ordinary character;
 *   - a UTF-8 byte order mark at the very start is dropped;
 *   - errors (message "SOURCE:LINE: ..."): a quoted field still open at the
 *     end of the input, bytes that are not UTF-8, a NUL byte.
 *   - NVSF_CSV_HASH_COMMENTS: a line that starts with '#' where a record
 *     would start is skipped before any CSV parsing (the partition
 *     generator drops those lines before its CSV reader sees them, so a
 *     quote in a comment opens nothing). A line inside a quoted value is
 *     kept, whatever it starts with.
 *   - NVSF_CSV_SKIP_BLANK: a line holding nothing, or only spaces and tabs
 *     outside quotes, is skipped (Python's reader turns an empty line into an
 *     empty record; the manufacturing tool drops whitespace-only lines).
 *     Without the flag an empty line is returned as a record of no fields.
 *
 * Writing: fields joined by ',', records ended by "\r\n"; a field is quoted
 * when it holds ',', '"', '\r' or '\n' (quotes doubled inside); a record of
 * one empty field is written as "" so that it reads back.
 */
#ifndef NVSF_CSV_H
#define NVSF_CSV_H

#include <stddef.h>

#include "buf.h"
#include "nvsforge/nvsforge.h"

enum nvsf_csv_flags {
    NVSF_CSV_HASH_COMMENTS = 1u << 0,
    NVSF_CSV_SKIP_BLANK = 1u << 1
};

typedef struct nvsf_csv_field {
    const char *data; /* NUL-terminated; valid until the next call */
    size_t len;
} nvsf_csv_field;

typedef struct nvsf_csv_record {
    nvsf_csv_field *fields;
    size_t nfields;
    unsigned line;    /* physical line (1-based) where the record starts */
} nvsf_csv_record;

/* Pulls up to cap bytes into buf; returns the count, 0 at end of input, or
 * a negative NVSF_E_* code after filling err. */
typedef long (*nvsf_csv_read_fn)(void *ctx, char *buf, size_t cap,
                                 nvsf_error *err);

typedef struct nvsf_csv_reader nvsf_csv_reader;

/* `source` names the input in messages; it is copied. NULL on no memory. */
nvsf_csv_reader *nvsf_csv_reader_mem(const char *source, const char *data,
                                     size_t len, unsigned flags);
nvsf_csv_reader *nvsf_csv_reader_stream(const char *source,
                                        nvsf_csv_read_fn read, void *ctx,
                                        unsigned flags);
void nvsf_csv_reader_free(nvsf_csv_reader *r);

/* 1: *rec holds the next record; 0: end of input; < 0: error (err set). */
int nvsf_csv_next(nvsf_csv_reader *r, nvsf_csv_record *rec, nvsf_error *err);

/* Append one record, Python csv.writer style, to out. With
 * NVSF_CSV_HASH_COMMENTS (a file that is read with them: a partition CSV) a
 * first field that starts with '#' is quoted too, so that the line does
 * not read back as a comment. */
int nvsf_csv_write_record(nvsf_buf *out, const char *const *fields,
                          const size_t *lens, size_t n, unsigned flags);

#endif
