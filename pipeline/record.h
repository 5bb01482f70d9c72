/*
 * run.json, the record of a batch that a factory keeps with it: the
 * nvsforge version, the command line, every input file with its SHA-256,
 * when the run started and ended (UTC), how many devices it made, and the
 * shard. Written beside the manifest, remade with it.
 */
#ifndef NVSF_RECORD_H
#define NVSF_RECORD_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "nvsforge/nvsforge.h"

typedef struct run_input {
    const char *role; /* "config", "values", "inputkey", "kp_hmac_inputkey",
                         "file" (a `file` value) */
    char *path;
    char sha256[65];
} run_input;

typedef struct run_record {
    time_t started;
    run_input *inputs; /* in the order they were first read */
    size_t count, cap;
} run_record;

/* Add an input (path copied). */
int run_record_add(run_record *r, const char *role, const char *path,
                   const char sha256[65], nvsf_error *err);

typedef struct run_summary {
    const char *const *command_line; /* as the caller gives it */
    size_t command_line_len;
    size_t devices;                  /* images made */
    size_t devices_total;            /* device lines in the values file */
    unsigned long shard_k, shard_n;
    const char *manifest;            /* its path */
    time_t finished;
} run_summary;

/* The JSON document (UTF-8, "\n" line ends) into out. */
int run_record_json(const run_record *r, const run_summary *s, nvsf_buf *out);

void run_record_free(run_record *r);

/* Lower-case hex of a SHA-256 digest. */
void sha256_to_hex(const uint8_t md[32], char out[65]);

#endif
