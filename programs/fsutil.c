#define _GNU_SOURCE /* renameat2, RENAME_NOREPLACE */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

static mode_t saved_umask = 022;
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

void fs_init(void)
{
    saved_umask = umask(0);
    umask(saved_umask);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* A second signal kills the process the usual way. */
    sa.sa_flags = (int)SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* Past a file-size limit, write() must fail with EFBIG so that we clean
     * up, rather than the process being killed mid-file. */
    signal(SIGXFSZ, SIG_IGN);
}

int fs_interrupted(void)
{
    return interrupted;
}

int fs_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int fs_read_file(const char *path, uint8_t **data, size_t *len, nvsf_error *err)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return nvsf_fail(err, NVSF_E_IO, "cannot open '%s': %s", path,
                         strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        return nvsf_fail(err, NVSF_E_IO, "cannot read '%s': %s", path,
                         S_ISDIR(st.st_mode) ? "it is a folder"
                                             : strerror(e ? e : EINVAL));
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory reading '%s'", path);
    }
    for (;;) {
        if (n + 1 >= cap) { /* the file grew while we read it */
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                close(fd);
                return nvsf_fail(err, NVSF_E_NOMEM, "out of memory reading '%s'",
                                 path);
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return nvsf_fail(err, NVSF_E_IO, "cannot read '%s': %s", path,
                             strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

int fs_file_reader(void *ctx, const char *path, uint8_t **data, size_t *len,
                   nvsf_error *err)
{
    (void)ctx;
    return fs_read_file(path, data, len, err);
}

char *fs_expand_home(const char *dir)
{
    if (!dir)
        return strdup(".");
    const char *home = getenv("HOME");
    if (home && dir[0] == '~' && (dir[1] == '/' || dir[1] == '\0'))
        return fs_join(home, dir[1] ? dir + 2 : ".");
    return strdup(dir);
}

char *fs_join(const char *dir, const char *name)
{
    size_t dl = dir ? strlen(dir) : 0;
    if (name[0] == '/' || dl == 0 || strcmp(dir, ".") == 0)
        return strdup(name);
    char *p = malloc(dl + strlen(name) + 2);
    if (p)
        sprintf(p, "%s%s%s", dir, dir[dl - 1] == '/' ? "" : "/", name);
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
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        struct stat st;
        if (stat(p, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                rc = nvsf_fail(err, NVSF_E_IO,
                               "cannot make folder '%s': '%s' exists and is "
                               "not a folder",
                               dir, p);
                break;
            }
        } else if (mkdir(p, 0777) != 0 && errno != EEXIST) {
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
    int rc = fs_mkdirs(dirname(copy), err);
    free(copy);
    return rc;
}

/* Write all of data to fd, through interruptions and short writes. */
static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The folder of a path, for fsync after a rename. */
static int fsync_parent(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* A new temporary file beside `path` (same folder, so the final rename
 * stays in one file system), hidden and recognisable as ours. mkstemp makes
 * it 0600, right for keys; other files get the umask's mode. */
static int make_temp(const char *path, enum fs_mode mode, char **tmp_out,
                     nvsf_error *err)
{
    *tmp_out = NULL;
    if (fs_exists(path))
        return nvsf_fail(err, NVSF_E_IO,
                         "'%s' already exists; nvsforge never replaces an "
                         "output: move it away or choose another name",
                         path);
    char *dir_copy = strdup(path), *base_copy = strdup(path);
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!dir_copy || !base_copy || !tmp) {
        free(dir_copy);
        free(base_copy);
        free(tmp);
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    }
    snprintf(tmp, n, "%s/.%s.nvsforge-XXXXXX", dirname(dir_copy),
             basename(base_copy));
    free(dir_copy);
    free(base_copy);
    int fd = mkstemp(tmp);
    if (fd < 0 || (mode == FS_PUBLIC && fchmod(fd, 0666 & ~saved_umask) != 0)) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return nvsf_fail(err, NVSF_E_IO, "cannot create '%s': %s", path,
                         strerror(e));
    }
    *tmp_out = tmp;
    return fd;
}

int fs_txn_add(fs_txn *t, const char *path, const void *data, size_t len,
               enum fs_mode mode, nvsf_error *err)
{
    if (t->count >= FS_TXN_MAX)
        return nvsf_fail(err, NVSF_E_USAGE, "too many files in one transaction");
    char *tmp;
    int fd = make_temp(path, mode, &tmp, err);
    if (fd < 0)
        return fd;
    int rc = write_all(fd, data, len);
    if (!rc && t->durable)
        rc = fsync(fd);
    int e = errno;
    if (close(fd) != 0 && !rc) {
        rc = -1;
        e = errno;
    }
    if (!rc && !(t->final[t->count] = strdup(path))) {
        rc = -1;
        e = ENOMEM;
    }
    if (rc) {
        unlink(tmp);
        free(tmp);
        return nvsf_fail(err, NVSF_E_IO, "cannot write '%s': %s", path,
                         strerror(e));
    }
    t->tmp[t->count++] = tmp;
    return 0;
}

/* rename without replacing: renameat2 where the file system has it, else
 * link + unlink, which also fails on an existing target. */
static int rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return -1;
    if (link(from, to) != 0)
        return -1;
    unlink(from);
    return 0;
}

int fs_txn_commit(fs_txn *t, nvsf_error *err)
{
    for (int i = 0; i < t->count; i++) {
        if (rename_noreplace(t->tmp[i], t->final[i]) == 0) {
            free(t->tmp[i]);
            t->tmp[i] = NULL;
            continue;
        }
        int e = errno;
        nvsf_fail(err, NVSF_E_IO,
                  e == EEXIST ? "'%s' already exists; nvsforge never replaces "
                                "an output: move it away or choose another name"
                              : "cannot create '%s': %s",
                  t->final[i], strerror(e));
        for (int k = 0; k < i; k++)
            unlink(t->final[k]);
        fs_txn_abort(t);
        return NVSF_E_IO;
    }
    if (t->durable) {
        for (int i = 0; i < t->count; i++) {
            if (fsync_parent(t->final[i]) != 0) {
                int e = errno;
                fs_txn_undo(t);
                return nvsf_fail(err, NVSF_E_IO, "cannot sync '%s': %s",
                                 t->final[i], strerror(e));
            }
        }
    }
    return 0;
}

void fs_txn_undo(fs_txn *t)
{
    for (int i = 0; i < t->count; i++)
        if (t->final[i] && !t->tmp[i])
            unlink(t->final[i]);
    fs_txn_abort(t);
}

void fs_txn_abort(fs_txn *t)
{
    for (int i = 0; i < t->count; i++) {
        if (t->tmp[i]) {
            unlink(t->tmp[i]);
            free(t->tmp[i]);
        }
        free(t->final[i]);
        t->tmp[i] = t->final[i] = NULL;
    }
    t->count = 0;
}

int fs_stream_open(fs_stream *s, const char *path, enum fs_mode mode,
                   nvsf_error *err)
{
    memset(s, 0, sizeof *s);
    int fd = make_temp(path, mode, &s->tmp, err);
    if (fd < 0)
        return fd;
    if (!(s->f = fdopen(fd, "w")) || !(s->final = strdup(path))) {
        if (s->f)
            fclose(s->f);
        else
            close(fd);
        s->f = NULL;
        fs_stream_abort(s);
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    }
    return 0;
}

int fs_stream_commit(fs_stream *s, int durable, nvsf_error *err)
{
    int rc = fflush(s->f);
    if (!rc && durable)
        rc = fsync(fileno(s->f));
    int e = errno;
    if (fclose(s->f) != 0 && !rc) {
        rc = -1;
        e = errno;
    }
    s->f = NULL;
    if (!rc && rename_noreplace(s->tmp, s->final) != 0) {
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
        fsync_parent(s->final);
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
        unlink(s->tmp);
        free(s->tmp);
    }
    free(s->final);
    memset(s, 0, sizeof *s);
}
