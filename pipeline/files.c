#include "files.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

int fs_file_reader(void *ctx, const char *path, uint8_t **data, size_t *len,
                   nvsf_error *err)
{
    (void)ctx;
    return plat_read_file(path, data, len, err);
}

const char *fs_last_sep(const char *path)
{
    const char *last = NULL;
    for (const char *s = path; *s; s++)
        if (plat_path_is_sep(*s))
            last = s;
    return last;
}

char *fs_expand_home(const char *dir)
{
    if (!dir)
        return strdup(".");
    const char *home = plat_home_dir();
    if (home && dir[0] == '~' && (plat_path_is_sep(dir[1]) || dir[1] == '\0'))
        return fs_join(home, dir[1] ? dir + 2 : ".");
    return strdup(dir);
}

char *fs_join(const char *dir, const char *name)
{
    size_t dl = dir ? strlen(dir) : 0;
    if (plat_path_is_absolute(name) || dl == 0 || strcmp(dir, ".") == 0)
        return strdup(name);
    char *p = malloc(dl + strlen(name) + 2);
    if (p)
        sprintf(p, "%s%s%s", dir, plat_path_is_sep(dir[dl - 1]) ? "" : "/",
                name);
    return p;
}

int fs_mkdirs(const char *dir, nvsf_error *err)
{
    if (!dir[0])
        return 0;
    char *p = strdup(dir);
    if (!p)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (!plat_path_is_sep(*s) && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        if (plat_exists(p)) {
            if (!plat_is_dir(p)) {
                rc = nvsf_fail(err, NVSF_E_IO,
                               "cannot make folder '%s': '%s' exists and is "
                               "not a folder",
                               dir, p);
                break;
            }
        } else if (plat_mkdir(p) != 0 && errno != EEXIST) {
            rc = nvsf_fail(err, NVSF_E_IO, "cannot make folder '%s': %s", p,
                           strerror(errno));
            break;
        }
        *s = saved;
        if (!saved)
            break;
    }
    free(p);
    return rc;
}

int fs_mkdirs_for(const char *path, nvsf_error *err)
{
    char *copy = strdup(path);
    if (!copy)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    char *slash = (char *)fs_last_sep(copy);
    int rc = 0;
    if (slash && slash != copy) {
        *slash = '\0';
        rc = fs_mkdirs(copy, err);
    }
    free(copy);
    return rc;
}

static int fail_key_exists(const char *path, nvsf_error *err)
{
    return nvsf_fail(err, NVSF_E_IO,
                     "key file '%s' already exists; nvsforge never replaces "
                     "a key: move it away or choose another name",
                     path);
}

/* A temporary file for `path`; a key must not exist yet. */
static FILE *make_temp(const char *path, enum fs_kind kind, char **tmp,
                       nvsf_error *err)
{
    *tmp = NULL;
    if (kind == FS_KEY && plat_exists(path)) {
        fail_key_exists(path, err);
        return NULL;
    }
    FILE *f = plat_temp_create(path, kind == FS_KEY ? PLAT_SECRET : PLAT_PUBLIC,
                               tmp);
    if (!f)
        nvsf_fail(err, NVSF_E_IO, "cannot create '%s': %s", path,
                  strerror(errno));
    return f;
}

int fs_txn_add(fs_txn *t, const char *path, const void *data, size_t len,
               enum fs_kind kind, nvsf_error *err)
{
    if (t->count >= FS_TXN_MAX)
        return nvsf_fail(err, NVSF_E_USAGE, "too many files in one transaction");
    char *tmp;
    FILE *f = make_temp(path, kind, &tmp, err);
    if (!f)
        return err ? err->code : NVSF_E_IO;
    int rc = fwrite(data, 1, len, f) == len ? 0 : -1;
    if (!rc)
        rc = t->sync != FS_SYNC_NONE ? plat_file_sync(f) : fflush(f);
    int e = errno;
    if (fclose(f) != 0 && !rc) {
        rc = -1;
        e = errno;
    }
    if (!rc && !(t->final[t->count] = strdup(path))) {
        rc = -1;
        e = ENOMEM;
    }
    if (rc) {
        plat_remove(tmp);
        free(tmp);
        return nvsf_fail(err, NVSF_E_IO, "cannot write '%s': %s", path,
                         strerror(e));
    }
    t->kind[t->count] = kind;
    t->tmp[t->count++] = tmp;
    return 0;
}

int fs_txn_commit(fs_txn *t, nvsf_error *err)
{
    for (int pass = 0; pass < 2; pass++) {
        enum fs_kind kind = pass == 0 ? FS_KEY : FS_REMAKEABLE;
        for (int i = 0; i < t->count; i++) {
            if (t->kind[i] != kind)
                continue;
            int rc = kind == FS_KEY ? plat_rename_noreplace(t->tmp[i], t->final[i])
                                    : plat_rename_replace(t->tmp[i], t->final[i]);
            if (rc == 0) {
                free(t->tmp[i]);
                t->tmp[i] = NULL;
                continue;
            }
            int e = errno;
            if (e == EEXIST)
                fail_key_exists(t->final[i], err);
            else
                nvsf_fail(err, NVSF_E_IO, "cannot create '%s': %s", t->final[i],
                          strerror(e));
            fs_txn_undo(t);
            return NVSF_E_IO;
        }
    }
    for (int i = 0; i < t->count; i++) {
        int sync_folder = t->sync == FS_SYNC_FOLDERS ||
                          (t->sync == FS_SYNC_FILES && t->kind[i] == FS_KEY);
        if (sync_folder && plat_sync_parent(t->final[i]) != 0) {
            nvsf_fail(err, NVSF_E_IO, "cannot sync '%s': %s", t->final[i],
                      strerror(errno));
            fs_txn_undo(t);
            return NVSF_E_IO;
        }
    }
    return 0;
}

void fs_txn_undo(fs_txn *t)
{
    for (int i = 0; i < t->count; i++)
        if (t->final[i] && !t->tmp[i])
            plat_remove(t->final[i]);
    fs_txn_abort(t);
}

void fs_txn_abort(fs_txn *t)
{
    for (int i = 0; i < t->count; i++) {
        if (t->tmp[i]) {
            plat_remove(t->tmp[i]);
            free(t->tmp[i]);
        }
        free(t->final[i]);
        t->tmp[i] = t->final[i] = NULL;
    }
    t->count = 0;
}

int fs_replace_file(const char *path, const void *data, size_t len,
                    nvsf_error *err)
{
    fs_txn t = {.sync = FS_SYNC_FOLDERS};
    int rc = fs_txn_add(&t, path, data, len, FS_REMAKEABLE, err);
    if (!rc)
        rc = fs_txn_commit(&t, err);
    fs_txn_abort(&t);
    return rc;
}

int fs_stream_open(fs_stream *s, const char *path, nvsf_error *err)
{
    memset(s, 0, sizeof *s);
    s->f = make_temp(path, FS_REMAKEABLE, &s->tmp, err);
    if (!s->f)
        return err ? err->code : NVSF_E_IO;
    if (!(s->final = strdup(path))) {
        fs_stream_abort(s);
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    }
    return 0;
}

int fs_stream_commit(fs_stream *s, int durable, nvsf_error *err)
{
    int rc = durable ? plat_file_sync(s->f) : fflush(s->f);
    int e = errno;
    if (fclose(s->f) != 0 && !rc) {
        rc = -1;
        e = errno;
    }
    s->f = NULL;
    if (!rc && plat_rename_replace(s->tmp, s->final) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc) {
        nvsf_fail(err, NVSF_E_IO, "cannot write '%s': %s", s->final,
                  strerror(e));
        fs_stream_abort(s);
        return NVSF_E_IO;
    }
    if (durable)
        plat_sync_parent(s->final);
    free(s->tmp);
    free(s->final);
    s->tmp = s->final = NULL;
    return 0;
}

void fs_stream_abort(fs_stream *s)
{
    if (s->f)
        fclose(s->f);
    if (s->tmp) {
        plat_remove(s->tmp);
        free(s->tmp);
    }
    free(s->final);
    memset(s, 0, sizeof *s);
}
