/*
 * Where the commands that read an image (dump, check, get, stats, nvs_tool)
 * take it from: a partition image, or one partition of a whole-flash dump
 * (found through its partition table, or given by offset and size), from a
 * file or standard input ("-"), decrypted with --inputkey or --hmac-key.
 */
#ifndef NVSF_IMAGE_INPUT_H
#define NVSF_IMAGE_INPUT_H

#include <stdint.h>

#include "cli.h"
#include "nvsforge/nvsforge.h"

typedef struct image_input {
    const char *path;         /* "-": standard input */
    const char *inputkey;     /* key partition file (.bin) */
    const char *hmac_key;     /* 32-byte HMAC key file */
    const char *partition;    /* label in the partition table */
    const char *table_offset; /* default 0x8000 */
    const char *offset;       /* the partition by hand */
    const char *size;
} image_input;

/* The options, to put in a command's cli_opt table. */
#define IMAGE_INPUT_OPTS(in)                                                \
    {"--inputkey", 1, NULL, &(in).inputkey},                               \
        {"--hmac-key", 1, NULL, &(in).hmac_key},                           \
        {"--partition", 1, NULL, &(in).partition},                         \
        {"--table-offset", 1, NULL, &(in).table_offset},                   \
        {"--offset", 1, NULL, &(in).offset}, {"--size", 1, NULL, &(in).size}

#define IMAGE_INPUT_USAGE                                                   \
    "[--inputkey KEYFILE | --hmac-key HMACFILE]\n"                          \
    "        [--partition LABEL] [--table-offset OFFSET]\n"                 \
    "        [--offset OFFSET --size SIZE]"

#define IMAGE_INPUT_HELP                                                    \
    "  image                the NVS partition image, or a whole-flash dump\n" \
    "                       (esptool read_flash), or - for standard input\n" \
    "  --inputkey KEYFILE   decrypt with the XTS key in this key partition\n" \
    "                       file (.bin, as nvs_partition_gen makes it)\n"    \
    "  --hmac-key HMACFILE  decrypt with the key derived from this 32-byte\n" \
    "                       HMAC key (ESP-IDF's HMAC-based key scheme)\n"    \
    "  --partition LABEL    read the partition of this label from a whole-\n" \
    "                       flash dump, through its partition table (default\n" \
    "                       nvs whenever the input holds a partition table)\n" \
    "  --table-offset OFFSET where the partition table is (default 0x8000)\n" \
    "  --offset OFFSET, --size SIZE\n"                                       \
    "                       read SIZE bytes from OFFSET of the input as the\n" \
    "                       partition, without a partition table\n"

/* Check the options together; EXIT_USAGE after printing `usage` and why. */
int image_input_check(const char *prog, const image_input *in,
                      const char *usage);

/* The input as read: all its bytes, where the partition lies in them, and
 * the key the options give. */
typedef struct image_bytes {
    const char *name;     /* for messages: the path, or "standard input" */
    uint8_t *data;        /* the whole input */
    size_t len;
    uint32_t offset, size; /* the partition in it */
    int keyed;            /* xts holds the key */
    uint8_t xts[NVSF_XTS_KEY_SIZE];
} image_bytes;

/*
 * Read the input and find the partition in it (for the commands that
 * change it and write it back whole). On failure prints "prog: error: ..."
 * and returns EXIT_FAIL.
 */
int image_input_load(const char *prog, const image_input *in,
                     image_bytes *out);
void image_bytes_free(image_bytes *b); /* wipes the data and the key */

/* Print a library error about the input ("prog: error: NAME: message"),
 * naming the key file when the key does not fit. */
void image_input_key_error(const char *prog, const image_input *in,
                           const image_bytes *b, const nvsf_error *err);

/*
 * Read and open the image (the library's device model). On failure prints
 * "prog: error: ..." naming the input and returns EXIT_FAIL. *where (may
 * be NULL) receives the partition's offset in the input.
 */
int image_input_open(const char *prog, const image_input *in,
                     nvsf_image **img, uint32_t *where);

/*
 * The start of a command that reads one image: parse argv with the image
 * options and `extra` (at most 6), require `nreq` positionals (`required`
 * names them for the message, as argparse does), check the image options
 * (in->path is pos[0]) and, when img is not NULL, open the image (else the
 * command checks its own options first, then calls image_input_open).
 * Returns 0; -1 when --help was printed (exit 0); else the exit code,
 * after the message.
 */
int image_command_start(const char *prog, int argc, char **argv,
                        image_input *in, const cli_opt *extra, size_t nextra,
                        const char **pos, int nreq,
                        const char *const *required, const char *usage,
                        const char *help, nvsf_image **img);

/* The end of one: free the image, flush standard output; the exit code. */
int image_command_end(const char *prog, nvsf_image *img, int rc);

#endif
