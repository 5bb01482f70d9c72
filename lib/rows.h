/* Partition-generator CSV rows (rows.c), shared by the builder's rows and
 * the changes to an existing image (change_rows.c). */
#ifndef NVSF_ROWS_H
#define NVSF_ROWS_H

#include <stddef.h>

#include "nvsforge/nvsforge.h"
#include "value.h"

/*
 * The encoding of a `data` or `file` row and its raw value: the cell's
 * text, or the bytes of the file it names, read through `reader` (then
 * *file_data holds them for the caller to wipe and free; else NULL).
 * Messages do not name the row: the caller adds that.
 */
int nvsf_row_raw_value(const nvsf_row *row, nvsf_file_reader reader,
                       void *reader_ctx, nvsf_encoding *enc,
                       const uint8_t **raw, size_t *len, uint8_t **file_data,
                       nvsf_error *err);

/* Called for each row; a non-zero return stops the reading with it. */
typedef int (*nvsf_row_fn)(void *ctx, const char *source, const nvsf_row *row,
                           nvsf_error *err);

/*
 * The rows of a partition CSV in memory (header `key,type,encoding,value` in
 * any column order, `#` comment lines and blank lines skipped), each given
 * to fn with its line. `source` names the CSV in messages.
 */
int nvsf_partition_csv_rows(const char *source, const char *csv, size_t len,
                            nvsf_row_fn fn, void *ctx, nvsf_error *err);

#endif
