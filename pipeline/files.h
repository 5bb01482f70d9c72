/*
 * Output files that are complete or absent: each is written to a temporary
 * file beside its final name and then renamed into place, so a reader (or a
 * crash) never sees a part of one. Several files that belong together (an
 * image and its key) go in one transaction: all of them appear, or none.
 *
 * The replace rule: what can be remade from the inputs (images, CSVs,
 * manifests) replaces an existing file atomically, as the reference tools
 * replace it, since builds regenerate it; a key file is never replaced
 * (the images encrypted with the old key would be lost with it).
 * Built on platform.h only.
 */
#ifndef NVSF_FILES_H
#define NVSF_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nvsforge/nvsforge.h"
#include "platform.h"

/* nvsf_file_reader for `file` rows: paths relative to the working folder. */
int fs_file_reader(void *ctx, const char *path, uint8_t **data, size_t *len,
                   nvsf_error *err);

/* mkdir -p; an existing path that is not a folder is an error. */
int fs_mkdirs(const char *dir, nvsf_error *err);

/* Create the folders above `path`. */
int fs_mkdirs_for(const char *path, nvsf_error *err);

/* An output folder as given: NULL means the working folder; a leading "~"
 * is the home folder, as the reference's os.path.expanduser does. Returns
 * malloc'd text. */
char *fs_expand_home(const char *dir);

/* The last path separator in path (plat_path_is_sep), or NULL. */
const char *fs_last_sep(const char *path);

/* Join a folder and a name ("" or "." folder: the name alone). An absolute
 * name ignores the folder. Returns malloc'd text. */
char *fs_join(const char *dir, const char *name);

enum fs_kind {
    FS_REMAKEABLE, /* mode from the umask; replaces an existing file */
    FS_KEY         /* owner only; an existing file is never replaced */
};

#define FS_TXN_MAX 8

/* How far a transaction syncs before fs_txn_commit returns. */
enum fs_sync {
    FS_SYNC_NONE,    /* the caller syncs (a batch: one sync per group) */
    FS_SYNC_FILES,   /* each file's data before its rename: complete or
                        absent even across a power cut; key files' folders
                        too, so a key once made survives one */
    FS_SYNC_FOLDERS  /* and every folder after the renames: all of it
                        present across a power cut once committed */
};

typedef struct fs_txn {
    int count;
    char *tmp[FS_TXN_MAX];
    char *final[FS_TXN_MAX];
    enum fs_kind kind[FS_TXN_MAX];
    enum fs_sync sync;
} fs_txn;

/* Stage `data` as the future content of `path`: written now to a
 * temporary file in the same folder. A key fails if `path` exists. */
int fs_txn_add(fs_txn *t, const char *path, const void *data, size_t len,
               enum fs_kind kind, nvsf_error *err);

/* Move every staged file into place, keys first (they can meet a file that
 * appeared meanwhile, and must not replace it). On failure nothing of the
 * transaction remains. */
int fs_txn_commit(fs_txn *t, nvsf_error *err);

/* Remove staged temporary files; after a commit it only frees memory. */
void fs_txn_abort(fs_txn *t);

/* Remove the committed files of a transaction (undo a commit). */
void fs_txn_undo(fs_txn *t);

/* Write `data` as the whole of `path`, replacing it atomically (a
 * remakeable file, durable before it returns): a one-file transaction. */
int fs_replace_file(const char *path, const void *data, size_t len,
                    nvsf_error *err);

/* A remakeable file written piece by piece (a manifest), renamed into
 * place at the end like the others. */
typedef struct fs_stream {
    FILE *f;
    char *tmp;
    char *final;
} fs_stream;

int fs_stream_open(fs_stream *s, const char *path, nvsf_error *err);
int fs_stream_commit(fs_stream *s, int durable, nvsf_error *err);
void fs_stream_abort(fs_stream *s);

#endif
