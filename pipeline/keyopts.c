#include "keyopts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"

int keys_check_options(const key_options *o, int need_key, nvsf_error *err)
{
    if (need_key && !o->keygen && !o->inputkey)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "--keygen or --inputkey argument needed");
    if (o->keygen && o->inputkey)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "--keygen and --inputkey both are not allowed");
    int hmac_opts = o->kp_hmac_keygen || o->kp_hmac_keyfile || o->kp_hmac_inputkey;
    if (hmac_opts && !o->key_protect_hmac)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "--kp_hmac_keygen, --kp_hmac_keyfile and "
                         "--kp_hmac_inputkey need --key_protect_hmac");
    if (o->key_protect_hmac && o->inputkey)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "--key_protect_hmac derives the key from an HMAC key; "
                         "it cannot be used with --inputkey");
    if (o->key_protect_hmac && !o->kp_hmac_keygen && !o->kp_hmac_inputkey)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "--key_protect_hmac needs --kp_hmac_keygen or "
                         "--kp_hmac_inputkey FILE");
    if (o->kp_hmac_keygen && o->kp_hmac_inputkey)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "--kp_hmac_keygen and --kp_hmac_inputkey both are not "
                         "allowed");
    if (o->kp_hmac_keyfile && !o->kp_hmac_keygen)
        return nvsf_fail(err, NVSF_E_INPUT,
                         "--kp_hmac_keyfile names the HMAC key that "
                         "--kp_hmac_keygen makes; give both");
    return 0;
}

int keys_read_hmac(const char *path, uint8_t hmac[NVSF_HMAC_KEY_SIZE],
                   nvsf_error *err)
{
    uint8_t *data;
    size_t len;
    int rc = plat_read_file(path, &data, &len, err);
    if (rc)
        return rc;
    if (len != NVSF_HMAC_KEY_SIZE)
        rc = nvsf_fail(err, NVSF_E_FORMAT,
                       "HMAC key file '%s' holds %zu bytes; an HMAC key is "
                       "exactly %u bytes",
                       path, len, NVSF_HMAC_KEY_SIZE);
    else
        memcpy(hmac, data, NVSF_HMAC_KEY_SIZE);
    nvsf_wipe(data, len);
    free(data);
    return rc;
}

int keys_read_input(const char *path, uint8_t xts[NVSF_XTS_KEY_SIZE],
                    nvsf_error *err)
{
    if (!strrchr(path, '.') || !strstr(strrchr(path, '.'), ".bin"))
        return nvsf_fail(err, NVSF_E_INPUT,
                         "`%s`: only the `.bin` extension is allowed for key "
                         "files",
                         path);
    uint8_t *data;
    size_t len;
    int rc = plat_read_file(path, &data, &len, err);
    if (rc)
        return rc;
    rc = nvsf_key_partition_read(data, len, xts, err);
    if (rc)
        nvsf_error_prefix(err, "%s", path);
    nvsf_wipe(data, len);
    free(data);
    return rc;
}

void keys_default_name(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    plat_local_time(now, &tm);
    strftime(buf, size, "keys-%m-%d_%H-%M.bin", &tm);
}

char *keys_bin_name(const char *name, nvsf_error *err)
{
    const char *slash = fs_last_sep(name);
    const char *dot = strrchr(slash ? slash + 1 : name, '.');
    if (!dot || dot == (slash ? slash + 1 : name)) {
        char *p = malloc(strlen(name) + 5);
        if (!p) {
            nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
            return NULL;
        }
        sprintf(p, "%s.bin", name);
        return p;
    }
    if (strcmp(dot, ".bin") != 0) {
        nvsf_fail(err, NVSF_E_INPUT,
                  "`%s`: only the `.bin` extension is allowed", name);
        return NULL;
    }
    char *p = strdup(name);
    if (!p)
        nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    return p;
}

/* <outdir>/keys/<name with .bin>. */
static char *key_path(const char *outdir, const char *name, nvsf_error *err)
{
    char *bin = keys_bin_name(name, err);
    if (!bin)
        return NULL;
    char *keys_dir = fs_join(outdir, "keys");
    char *path = keys_dir ? fs_join(keys_dir, bin) : NULL;
    free(keys_dir);
    free(bin);
    if (!path)
        nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    return path;
}

int keys_set_paths(const key_options *o, const char *outdir,
                   const char *keyfile_name, key_material *km, nvsf_error *err)
{
    if (!(km->key_path = key_path(outdir, keyfile_name, err)))
        return err->code;
    if (!o->kp_hmac_keygen)
        return 0;
    char *hmac_name = NULL;
    if (o->kp_hmac_keyfile) {
        hmac_name = strdup(o->kp_hmac_keyfile);
    } else if ((hmac_name = malloc(strlen(keyfile_name) + 6))) {
        sprintf(hmac_name, "hmac-%s", keyfile_name);
    }
    if (!hmac_name)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    km->hmac_path = key_path(outdir, hmac_name, err);
    free(hmac_name);
    return km->hmac_path ? 0 : err->code;
}

int keys_make(const key_options *o, const uint8_t *hmac_input,
              key_material *km, nvsf_error *err)
{
    int rc;
    if (o->key_protect_hmac) {
        if (o->kp_hmac_keygen)
            rc = nvsf_random_bytes(km->hmac, sizeof km->hmac, err);
        else {
            memcpy(km->hmac, hmac_input, NVSF_HMAC_KEY_SIZE);
            rc = 0;
        }
        if (!rc)
            rc = nvsf_key_from_hmac(km->hmac, km->xts, err);
    } else {
        rc = nvsf_random_bytes(km->xts, sizeof km->xts, err);
    }
    if (!rc)
        nvsf_key_partition_make(km->xts, km->key_file);
    return rc;
}

int keys_check_absent(const key_material *km, nvsf_error *err)
{
    const char *paths[2] = {km->key_path, km->hmac_path};
    const char *option[2] = {"--keyfile", "--kp_hmac_keyfile"};
    for (int i = 0; i < 2; i++)
        if (paths[i] && plat_exists(paths[i]))
            return nvsf_fail(err, NVSF_E_IO,
                             "key file '%s' already exists; nvsforge never "
                             "replaces a key (what was encrypted with it "
                             "would be lost): move it away, or choose another "
                             "name with %s or another --outdir",
                             paths[i], option[i]);
    return 0;
}

int keys_stage(const key_material *km, fs_txn *t, nvsf_error *err)
{
    const char *paths[2] = {km->key_path, km->hmac_path};
    const uint8_t *data[2] = {km->key_file, km->hmac};
    size_t lens[2] = {sizeof km->key_file, sizeof km->hmac};
    for (int i = 0; i < 2; i++) {
        if (!paths[i])
            continue;
        int rc = fs_mkdirs_for(paths[i], err);
        if (!rc)
            rc = fs_txn_add(t, paths[i], data[i], lens[i], FS_KEY, err);
        if (rc)
            return rc;
    }
    return 0;
}

void keys_free(key_material *km)
{
    free(km->key_path);
    free(km->hmac_path);
    nvsf_wipe(km, sizeof *km);
}
