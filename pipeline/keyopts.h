/*
 * The encryption-key options shared by `nvs_partition_gen encrypt`,
 * `generate-key` and `mfg_gen generate`: where the XTS key comes from
 * (made from the CSPRNG, derived from an HMAC key, or read from a file) and
 * which key files that produces, under the reference tools' names.
 */
#ifndef NVSF_KEYOPTS_H
#define NVSF_KEYOPTS_H

#include <stdint.h>

#include "files.h"
#include "nvsforge/nvsforge.h"

typedef struct key_options {
    int keygen;
    const char *keyfile;
    const char *inputkey;
    int key_protect_hmac;
    int kp_hmac_keygen;
    const char *kp_hmac_keyfile;
    const char *kp_hmac_inputkey;
} key_options;

typedef struct key_material {
    uint8_t xts[NVSF_XTS_KEY_SIZE];
    char *key_path;  /* key partition to write, or NULL */
    uint8_t key_file[NVSF_KEY_PARTITION_SIZE];
    char *hmac_path; /* HMAC key to write, or NULL */
    uint8_t hmac[NVSF_HMAC_KEY_SIZE];
} key_material;

/* Check that the options make sense together (before any work). */
int keys_check_options(const key_options *o, int need_key, nvsf_error *err);

/* Read the HMAC key of --kp_hmac_inputkey once (exactly 32 bytes). */
int keys_read_hmac(const char *path, uint8_t hmac[NVSF_HMAC_KEY_SIZE],
                   nvsf_error *err);

/* Read the XTS key of --inputkey. */
int keys_read_input(const char *path, uint8_t xts[NVSF_XTS_KEY_SIZE],
                    nvsf_error *err);

/* New key material: an XTS key from the CSPRNG, or derived from an HMAC
 * key (new with --kp_hmac_keygen, else hmac_input); and its key file. */
int keys_make(const key_options *o, const uint8_t *hmac_input,
              key_material *km, nvsf_error *err);

/* The reference's key file names: <outdir>/keys/<keyfile_name> (".bin"
 * added when it has no extension) and, with --kp_hmac_keygen,
 * <outdir>/keys/<--kp_hmac_keyfile or hmac-<keyfile_name>>. */
int keys_set_paths(const key_options *o, const char *outdir,
                   const char *keyfile_name, key_material *km, nvsf_error *err);

/* Refuse key files that exist already (before any work: nvsforge never
 * replaces a key). The message says what to do. */
int keys_check_absent(const key_material *km, nvsf_error *err);

/* Stage the key files of km in a transaction (mode 0600). */
int keys_stage(const key_material *km, fs_txn *t, nvsf_error *err);

void keys_free(key_material *km);

/* "keys-MM-DD_HH-MM.bin", the reference's default name. */
void keys_default_name(char *buf, size_t size);

/* The reference's output-name rule: no extension gets ".bin"; any other
 * extension than ".bin" is an error. Returns a malloc'd name or NULL. */
char *keys_bin_name(const char *name, nvsf_error *err);

#endif
