/* The platform interface (platform.h) on Linux and other POSIX systems. */
#define _GNU_SOURCE /* renameat2, RENAME_NOREPLACE, syncfs */
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

/* ---- files -------------------------------------------------------------- */

int plat_read_file(const char *path, uint8_t **data, size_t *len,
                   nvsf_error *err)
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
    /* Room for one byte beyond the size fstat gave (and the NUL): a read
     * that stops short of that byte, having read exactly that size, met
     * the end, so the usual file takes one read() and no second one to see
     * the end. A file that grew meanwhile is read on to its end. */
    size_t size = (size_t)st.st_size, cap = size + 2, n = 0;
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
        size_t want = cap - 1 - n;
        ssize_t r = read(fd, buf + n, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return nvsf_fail(err, NVSF_E_IO, "cannot read '%s': %s", path,
                             strerror(e));
        }
        n += (size_t)r;
        if (r == 0 || ((size_t)r < want && n == size))
            break;
    }
    close(fd);
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

FILE *plat_open_read(const char *path)
{
    return fopen(path, "rb");
}

int plat_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int plat_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int plat_mkdir(const char *path)
{
    return mkdir(path, 0777);
}

const char *plat_home_dir(void)
{
    return getenv("HOME");
}

/* Temporary names: the process id and a counter make them unique among
 * our own; O_EXCL with a retry covers anything else. */
static atomic_ulong temp_counter;

FILE *plat_temp_create(const char *final, enum plat_mode mode, char **tmp_path)
{
    *tmp_path = NULL;
    char *dir_copy = strdup(final), *base_copy = strdup(final);
    size_t n = strlen(final) + 64;
    char *tmp = malloc(n);
    if (!dir_copy || !base_copy || !tmp) {
        free(dir_copy);
        free(base_copy);
        free(tmp);
        errno = ENOMEM;
        return NULL;
    }
    /* The umask gives public files their mode, as for any new file; keys
     * are the owner's only. */
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 100; attempt++) {
        unsigned long c = atomic_fetch_add(&temp_counter, 1);
        snprintf(tmp, n, "%s/.%s.nvsforge-%ld-%lu", dirname(dir_copy),
                 basename(base_copy), (long)getpid(), c);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                  mode == PLAT_SECRET ? 0600 : 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    free(dir_copy);
    free(base_copy);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        errno = e;
        return NULL;
    }
    *tmp_path = tmp;
    return f;
}

FILE *plat_create_new(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(path);
        errno = e;
    }
    return f;
}

int plat_file_sync(FILE *f)
{
    if (fflush(f) != 0)
        return -1;
    return fsync(fileno(f));
}

int plat_file_truncate(FILE *f, long size)
{
    if (fflush(f) != 0 || ftruncate(fileno(f), size) != 0)
        return -1;
    return fseek(f, size, SEEK_SET);
}

int plat_rename_replace(const char *from, const char *to)
{
    return rename(from, to);
}

/* renameat2 where the file system has it, else link + unlink, which also
 * fails on an existing target. */
int plat_rename_noreplace(const char *from, const char *to)
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

int plat_remove(const char *path)
{
    return unlink(path);
}

int plat_remove_dir(const char *path)
{
    return rmdir(path);
}

int plat_sync_parent(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* syncfs: one call makes the whole group of files durable, far cheaper
 * than an fsync per file. */
int plat_sync_tree(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = syncfs(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* ---- paths -------------------------------------------------------------- */

int plat_path_is_sep(char c)
{
    return c == '/';
}

int plat_path_is_absolute(const char *path)
{
    return path[0] == '/';
}

/* ---- interruption --------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

void plat_interrupt_install(void)
{
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

int plat_interrupted(void)
{
    return interrupted;
}

/* ---- threads ---------------------------------------------------------- */

struct plat_mutex {
    pthread_mutex_t m;
};
struct plat_cond {
    pthread_cond_t c;
};
struct plat_thread {
    pthread_t t;
    void (*fn)(void *arg);
    void *arg;
};

plat_mutex *plat_mutex_new(void)
{
    plat_mutex *m = malloc(sizeof *m);
    if (m && pthread_mutex_init(&m->m, NULL) != 0) {
        free(m);
        m = NULL;
    }
    return m;
}

void plat_mutex_free(plat_mutex *m)
{
    if (m) {
        pthread_mutex_destroy(&m->m);
        free(m);
    }
}

void plat_mutex_lock(plat_mutex *m)
{
    pthread_mutex_lock(&m->m);
}

void plat_mutex_unlock(plat_mutex *m)
{
    pthread_mutex_unlock(&m->m);
}

plat_cond *plat_cond_new(void)
{
    plat_cond *c = malloc(sizeof *c);
    if (c && pthread_cond_init(&c->c, NULL) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

void plat_cond_free(plat_cond *c)
{
    if (c) {
        pthread_cond_destroy(&c->c);
        free(c);
    }
}

void plat_cond_wait(plat_cond *c, plat_mutex *m)
{
    pthread_cond_wait(&c->c, &m->m);
}

void plat_cond_signal(plat_cond *c)
{
    pthread_cond_signal(&c->c);
}

void plat_cond_broadcast(plat_cond *c)
{
    pthread_cond_broadcast(&c->c);
}

static void *thread_main(void *arg)
{
    plat_thread *t = arg;
    t->fn(t->arg);
    return NULL;
}

plat_thread *plat_thread_start(void (*fn)(void *arg), void *arg)
{
    plat_thread *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    t->fn = fn;
    t->arg = arg;
    if (pthread_create(&t->t, NULL, thread_main, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void plat_thread_join(plat_thread *t)
{
    pthread_join(t->t, NULL);
    free(t);
}

int plat_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n > 1024 ? 1024 : n) : 1;
}

/* ---- time ------------------------------------------------------------- */

double plat_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

int plat_utc_time(time_t t, struct tm *out)
{
    return gmtime_r(&t, out) ? 0 : -1;
}

int plat_local_time(time_t t, struct tm *out)
{
    return localtime_r(&t, out) ? 0 : -1;
}
