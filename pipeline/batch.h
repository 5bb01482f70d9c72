/*
 * The manufacturing batch (`mfg_gen generate`, `nvsforge mfg`, and the
 * Python package's mfg_generate): per-device images, CSVs and keys from a
 * config CSV and a values CSV, with the reference tool's files.
 *
 * A batch runs in two passes over the values file, streamed so memory stays
 * flat however many devices it holds:
 *   1. check: every line, value and referenced file, every output name;
 *      images are built in memory and dropped;
 *   2. write: worker threads build each device's image, CSV and keys into
 *      temporary files; the calling thread commits them in device order, in
 *      groups made durable with one plat_sync_tree each, and writes the
 *      manifest.
 * A failure or an interruption in pass 2 removes every file the run made
 * (the journal lists them), so a batch is all or nothing.
 *
 * It prints nothing and never exits: progress and warnings go to the
 * caller's callbacks, the failure comes back in an nvsf_error.
 */
#ifndef NVSF_BATCH_H
#define NVSF_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "keyopts.h"
#include "nvsforge/nvsforge.h"

typedef struct batch_options {
    const char *conf;   /* config CSV */
    const char *values; /* values CSV */
    const char *prefix; /* file-name prefix of every output */
    uint32_t size;      /* partition size */
    int version;        /* 1 or 2 */
    const char *fileid; /* values column naming each device's files, or NULL */
    int use_counter;    /* --prefix_num: <prefix>-<counter>-<id> */
    long long counter_start;
    int counter_digits;
    unsigned long shard_k, shard_n; /* this run makes devices i % n == k */
    int jobs;           /* worker threads */
    const char *outdir; /* output folder ("~" already expanded) */
    key_options keys;
    int dry_run;        /* check, list what would be written, write nothing */
    /* The command line as run.json records it (the caller's words). */
    const char *const *command_line;
    size_t command_line_len;
} batch_options;

enum batch_phase { BATCH_CHECKING, BATCH_WRITING };

typedef struct batch_callbacks {
    void *ctx;
    /* How far a phase is: `done` devices of `total` (0: not known yet).
     * Called often; `final` once at the end of the phase. Returning
     * non-zero stops the batch as an interruption would. May be NULL. */
    int (*progress)(void *ctx, enum batch_phase phase, size_t done,
                    size_t total, int final);
    /* A warning (one line, no program name). May be NULL. */
    void (*warning)(void *ctx, const char *message);
    /* With dry_run: each file the batch would write, and its size, in the
     * order it would write them. May be NULL. */
    void (*planned)(void *ctx, const char *path, uint64_t bytes);
} batch_callbacks;

typedef struct batch_result {
    size_t devices_total; /* device lines in the values file */
    size_t devices_made;  /* of them, in this shard: the images made (or,
                             with dry_run, that would be made) */
    char *manifest_path;  /* malloc'd */
    char *run_path;       /* run.json, malloc'd */
    int writing_started;  /* the failure came in pass 2 (all undone) */
    int interrupted;      /* stopped by a signal or the progress callback */
    nvsf_errors problems; /* every problem the check found, in file/line
                             order (err holds the first one) */
} batch_result;

/* Check the options that do not depend on the files (before any work). */
int batch_check_options(const batch_options *o, nvsf_error *err);

/* Run the batch. Returns 0 or an NVSF_E_* code with err filled; when the
 * check pass found problems, res->problems lists them all. */
int batch_run(const batch_options *o, const batch_callbacks *cb,
              batch_result *res, nvsf_error *err);

void batch_result_free(batch_result *res);

#endif
