/*
 * The pipeline's platform interface: everything the batch needs from the
 * operating system, in one small surface with one implementation per
 * system (platform_posix.c; platform_win.c for Windows).
 *
 * Only standard C types cross it (FILE, time_t, struct tm): no file
 * descriptors, pid_t, struct timespec or pthread types, so the same
 * pipeline code builds everywhere. Calls that fail return -1 (or NULL) with
 * errno set to the closest standard value (EEXIST, ENOENT, ENOSPC, ...), so
 * callers word their messages once, with strerror(errno).
 */
#ifndef NVSF_PLATFORM_H
#define NVSF_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "nvsforge/nvsforge.h"

/* ---- files -------------------------------------------------------------- */

/* Read a whole regular file (malloc'd, NUL-terminated beyond len). The
 * message names the file. */
int plat_read_file(const char *path, uint8_t **data, size_t *len,
                   nvsf_error *err);

/* Open a file for reading in binary mode (a stream read piece by piece). */
FILE *plat_open_read(const char *path);

int plat_exists(const char *path); /* anything at path, a dangling link too */
int plat_is_dir(const char *path);

/* Make one folder; an existing one is an error (EEXIST). */
int plat_mkdir(const char *path);

/* The user's home folder, for a leading "~" (NULL if unknown). */
const char *plat_home_dir(void);

enum plat_mode { PLAT_PUBLIC, PLAT_SECRET }; /* as the umask says / owner only */

/* A new, empty temporary file in the same folder as `final` (so that the
 * rename into place stays on one file system), hidden and named
 * ".<name>.nvsforge-XXXXXX". Returns it open for binary writing and its
 * path in *tmp_path (malloc'd), or NULL. */
FILE *plat_temp_create(const char *final, enum plat_mode mode, char **tmp_path);

/* A file that must not exist yet, created for binary writing (NULL with
 * EEXIST if it does). Readable by the owner only. */
FILE *plat_create_new(const char *path);

/* Flush the stream and make its data durable on disk. */
int plat_file_sync(FILE *f);

/* Cut a file open for writing back to `size` bytes (flushed first). */
int plat_file_truncate(FILE *f, long size);

/* Rename, replacing `to` atomically if it exists: a reader sees the old
 * file or the new one, never a part. */
int plat_rename_replace(const char *from, const char *to);

/* Rename, failing with EEXIST if `to` exists (never replaces). */
int plat_rename_noreplace(const char *from, const char *to);

int plat_remove(const char *path);     /* a file */
int plat_remove_dir(const char *path); /* an empty folder */

/* Make the folder that holds `path` durable (its entries, after renames). */
int plat_sync_parent(const char *path);

/* Make everything written under folder `dir` durable at once (one call per
 * group of files rather than one per file). */
int plat_sync_tree(const char *dir);

/* ---- paths -------------------------------------------------------------- */

/* A path separator: '/', and on Windows '\' too. */
int plat_path_is_sep(char c);

/* An absolute path: "/x"; on Windows also "\x", "C:\x", "C:/x",
 * "\\server\share". */
int plat_path_is_absolute(const char *path);

/* ---- interruption --------------------------------------------------------- */

/* Install handlers for the signals (Ctrl-C, termination, hang-up) that
 * only set the interrupted flag: long loops check it, stop, and remove
 * their temporary files. A second signal ends the process the usual way.
 */
void plat_interrupt_install(void);

/* Non-zero once a signal came. */
int plat_interrupted(void);

/* ---- threads ---------------------------------------------------------- */

typedef struct plat_mutex plat_mutex;
typedef struct plat_cond plat_cond;
typedef struct plat_thread plat_thread;

plat_mutex *plat_mutex_new(void); /* NULL on failure */
void plat_mutex_free(plat_mutex *m);
void plat_mutex_lock(plat_mutex *m);
void plat_mutex_unlock(plat_mutex *m);

plat_cond *plat_cond_new(void);
void plat_cond_free(plat_cond *c);
void plat_cond_wait(plat_cond *c, plat_mutex *m);
void plat_cond_signal(plat_cond *c);
void plat_cond_broadcast(plat_cond *c);

/* Start fn(arg) on a new thread; NULL on failure. */
plat_thread *plat_thread_start(void (*fn)(void *arg), void *arg);
/* Wait for it to end, and free it. */
void plat_thread_join(plat_thread *t);

/* Processor cores available to this process (at least 1). */
int plat_cores(void);

/* ---- time ------------------------------------------------------------- */

/* Seconds on a clock that only goes forward (for rates, not dates). */
double plat_seconds(void);

/* Broken-down time of t, in UTC and in the local time zone. */
int plat_utc_time(time_t t, struct tm *out);
int plat_local_time(time_t t, struct tm *out);

#endif
