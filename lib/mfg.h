/*
 * The manufacturing tool's join of a config CSV and a values CSV into one
 * partition-generator row list per device, as ESP-IDF's mfg_gen.py does.
 *
 * Config (no header; blank lines ignored):
 *     name,namespace,
 *     key,type,encoding[,REPEAT]
 * type is data or file; encoding one of string binary hex2bin base64 u8 i8
 * u16 u32 i32 u64 i64. The first line is a namespace.
 *
 * Values: a header naming every config key in config order (other columns
 * are metadata, kept out of the image), then one line per device. A REPEAT
 * key's value is taken from the first device line; later lines leave it
 * empty (or repeat the same value). A namespace line's third cell is kept
 * for the device CSV (the image ignores it).
 */
#ifndef NVSF_MFG_H
#define NVSF_MFG_H

#include <stddef.h>

#include "csv.h"
#include "nvsforge/nvsforge.h"

typedef struct nvsf_mfg nvsf_mfg;

/* Parse and check the config CSV (in memory). */
int nvsf_mfg_new(nvsf_mfg **out, const char *config_source, const char *config,
                 size_t len, nvsf_error *err);
void nvsf_mfg_free(nvsf_mfg *m);

/* Bind the values file's header; fileid (or NULL) names the column whose
 * value becomes each device's file-name id. */
int nvsf_mfg_set_header(nvsf_mfg *m, const char *values_source,
                        const nvsf_csv_record *header, const char *fileid,
                        nvsf_error *err);

/* True when some config key is REPEAT (the tool then writes
 * <values>_created.csv). */
int nvsf_mfg_has_repeat(const nvsf_mfg *m);

/* Number of rows of a device's partition CSV (namespaces included). */
size_t nvsf_mfg_row_count(const nvsf_mfg *m);

/*
 * The reference joins a key to the first column, from just after the
 * previous key's, whose name *or value* is the key's name (and the --fileid
 * to the first such column from the start). Normally that is the key's own
 * column; a column before it whose value happens to be the key's name wins
 * instead (or, when the name stands twice in the config, the earlier key's
 * column that such a borrowing passed over). nvsforge does the same, to
 * write the same bytes, and lists each such case so that the command can
 * say so.
 */
typedef struct nvsf_mfg_borrow {
    const char *key;    /* the config key, or the --fileid column name */
    int is_fileid;
    size_t column;      /* the column the value came from (from 0) */
    const char *column_name;
    size_t own_column;  /* the key's own column */
    const char *value;  /* the value taken */
} nvsf_mfg_borrow;

typedef struct nvsf_mfg_device {
    nvsf_row *rows;        /* nvsf_mfg_row_count() rows, into m and the record */
    const char **created;  /* the values line with REPEAT values filled in */
    size_t *created_len;
    size_t ncreated;
    const char *id;        /* the fileid value, or NULL when numbering */
    unsigned line;
    const nvsf_mfg_borrow *borrowed; /* values taken from another column */
    size_t nborrowed;
} nvsf_mfg_device;

/*
 * Join one values line (device `index`, from 0). The first call must be for
 * the first device line: it supplies the REPEAT values. The device's
 * pointers stay valid until the next call or the record's next read.
 */
int nvsf_mfg_device_from(nvsf_mfg *m, const nvsf_csv_record *rec,
                         nvsf_mfg_device *dev, nvsf_error *err);

/* Write a device's partition CSV (as the reference writes it, "\r\n"). */
int nvsf_mfg_write_device_csv(const nvsf_mfg *m, const nvsf_mfg_device *dev,
                              nvsf_buf *out);

/* Check that a file-name id is usable: not empty, no '/', not "." or "..". */
int nvsf_mfg_check_id(const char *id, nvsf_error *err);

#endif
