/*
 * The platform interface (platform.h) on Windows, with the guarantees of
 * platform_posix.c:
 *   - paths are UTF-8 (the command line arrives as UTF-16 through wmain and
 *     is turned into UTF-8 once); every call here takes them to UTF-16 and
 *     uses the wide (W) functions, so any name works whatever the ANSI code
 *     page; '\' and '/' are both separators;
 *   - outputs are written to a temporary file in the same folder, then
 *     renamed with MoveFileExW: without MOVEFILE_REPLACE_EXISTING it fails
 *     on an existing target (keys are never replaced), with it the target
 *     is replaced in one step (remakeable outputs);
 *   - durability: files are opened write-through and flushed with
 *     FlushFileBuffers; renames use MOVEFILE_WRITE_THROUGH;
 *   - key files get an owner-only DACL when they are created (no window in
 *     which another account could open them);
 *   - Ctrl-C, Ctrl-Break and closing the console set the interrupted flag
 *     (SetConsoleCtrlHandler), so the batch stops and removes its files as
 *     it does on a POSIX signal.
 */
#include <windows.h>

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <sddl.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "files.h"
#include "platform.h"
#include "platform_win.h"

/* ---- errors and names ---------------------------------------------------- */

/* The closest errno to a Windows error, so callers word messages once. */
static int errno_from_win(DWORD e)
{
    switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
        return ENOENT;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
        return EEXIST;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
    case ERROR_WRITE_PROTECT:
        return EACCES;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
        return ENOSPC;
    case ERROR_DIR_NOT_EMPTY:
        return ENOTEMPTY;
    case ERROR_DIRECTORY:
        return ENOTDIR;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        return ENOMEM;
    case ERROR_FILENAME_EXCED_RANGE:
        return ENAMETOOLONG;
    case ERROR_INVALID_NAME:
    case ERROR_BAD_PATHNAME:
    case ERROR_NO_UNICODE_TRANSLATION:
        return EINVAL;
    default:
        return EIO;
    }
}

static int fail_win(void)
{
    errno = errno_from_win(GetLastError());
    return -1;
}

wchar_t *plat_win_wide(const char *utf8)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, NULL,
                                0);
    if (n <= 0) {
        errno = EINVAL; /* not UTF-8 */
        return NULL;
    }
    wchar_t *w = malloc((size_t)n * sizeof *w);
    if (!w) {
        errno = ENOMEM;
        return NULL;
    }
    MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, w, n);
    return w;
}

char *plat_win_utf8(const wchar_t *wide)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, wide, -1, NULL, 0, NULL, NULL);
    if (n <= 0) {
        errno = EINVAL;
        return NULL;
    }
    char *s = malloc((size_t)n);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    WideCharToMultiByte(CP_UTF8, 0, wide, -1, s, n, NULL, NULL);
    return s;
}

/* ---- the owner-only DACL of key files ------------------------------------ */

wchar_t *plat_win_owner_only_sddl(void)
{
    HANDLE token = NULL;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
        return NULL;
    union {
        TOKEN_USER user;
        uint8_t bytes[sizeof(TOKEN_USER) + SECURITY_MAX_SID_SIZE];
    } info;
    DWORD got = 0;
    wchar_t *sid = NULL, *sddl = NULL;
    if (GetTokenInformation(token, TokenUser, &info, sizeof info, &got) &&
        ConvertSidToStringSidW(info.user.User.Sid, &sid)) {
        /* D:P = a protected DACL (nothing inherited from the folder), one
         * entry: full access for this user. The user owns the file, too. */
        static const wchar_t fmt[] = L"O:%lsD:P(A;;FA;;;%ls)";
        size_t n = wcslen(fmt) + 2 * wcslen(sid) + 1;
        sddl = malloc(n * sizeof *sddl);
        if (sddl)
            _snwprintf(sddl, n, fmt, sid, sid);
        LocalFree(sid);
    }
    CloseHandle(token);
    return sddl;
}

/* Security attributes for a new file: owner-only for PLAT_SECRET, the
 * folder's inherited ACL otherwise. */
static int secret_attributes(SECURITY_ATTRIBUTES *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->nLength = sizeof *sa;
    wchar_t *sddl = plat_win_owner_only_sddl();
    PSECURITY_DESCRIPTOR sd = NULL;
    BOOL ok = sddl && ConvertStringSecurityDescriptorToSecurityDescriptorW(
                          sddl, SDDL_REVISION_1, &sd, NULL);
    free(sddl);
    if (!ok) {
        errno = EACCES;
        return -1;
    }
    sa->lpSecurityDescriptor = sd;
    return 0;
}

/* A new file (CREATE_NEW: never an existing one), write-through so that
 * what is written is on disk when FlushFileBuffers returns, as a stdio
 * stream for binary writing. */
static FILE *create_new(const char *path, enum plat_mode mode)
{
    wchar_t *w = plat_win_wide(path);
    if (!w)
        return NULL;
    SECURITY_ATTRIBUTES sa;
    int secret = mode == PLAT_SECRET;
    if (secret && secret_attributes(&sa) != 0) {
        free(w);
        return NULL;
    }
    HANDLE h = CreateFileW(w, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE,
                           secret ? &sa : NULL, CREATE_NEW,
                           FILE_ATTRIBUTE_NORMAL | FILE_FLAG_WRITE_THROUGH,
                           NULL);
    DWORD e = GetLastError();
    if (secret)
        LocalFree(sa.lpSecurityDescriptor);
    if (h == INVALID_HANDLE_VALUE) {
        free(w);
        errno = errno_from_win(e);
        return NULL;
    }
    int fd = _open_osfhandle((intptr_t)h, _O_WRONLY | _O_BINARY);
    FILE *f = fd >= 0 ? _fdopen(fd, "wb") : NULL;
    if (!f) {
        if (fd >= 0)
            _close(fd);
        else
            CloseHandle(h);
        DeleteFileW(w);
        errno = ENOMEM;
    }
    free(w);
    return f;
}

/* ---- files -------------------------------------------------------------- */

int plat_read_file(const char *path, uint8_t **data, size_t *len,
                   nvsf_error *err)
{
    *data = NULL;
    *len = 0;
    if (plat_is_dir(path))
        return nvsf_fail(err, NVSF_E_IO, "cannot read '%s': it is a folder",
                         path);
    wchar_t *w = plat_win_wide(path);
    HANDLE h = w ? CreateFileW(w, GENERIC_READ,
                               FILE_SHARE_READ | FILE_SHARE_WRITE |
                                   FILE_SHARE_DELETE,
                               NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL)
                 : INVALID_HANDLE_VALUE;
    if (h == INVALID_HANDLE_VALUE && w)
        errno = errno_from_win(GetLastError());
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return nvsf_fail(err, NVSF_E_IO, "cannot open '%s': %s", path,
                         strerror(errno));
    LARGE_INTEGER size;
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    if (!GetFileSizeEx(h, &size) || (uint64_t)size.QuadPart >= SIZE_MAX / 2) {
        rc = nvsf_fail(err, NVSF_E_IO, "cannot read '%s': %s", path,
                       strerror(errno_from_win(GetLastError())));
    } else {
        /* As on POSIX: room for one byte beyond the size, so a file of
         * the size it had takes one ReadFile, and one that grew is read on. */
        size_t expect = (size_t)size.QuadPart;
        for (cap = expect + 2;;) {
            if (!buf || n + 1 >= cap) { /* first, or the file grew */
                uint8_t *bigger = realloc(buf, buf ? cap * 2 : cap);
                if (!bigger) {
                    rc = nvsf_fail(err, NVSF_E_NOMEM,
                                   "out of memory reading '%s'", path);
                    break;
                }
                cap = buf ? cap * 2 : cap;
                buf = bigger;
            }
            DWORD want = cap - 1 - n > 1u << 30 ? 1u << 30 : (DWORD)(cap - 1 - n);
            DWORD got = 0;
            if (!ReadFile(h, buf + n, want, &got, NULL)) {
                rc = nvsf_fail(err, NVSF_E_IO, "cannot read '%s': %s", path,
                               strerror(errno_from_win(GetLastError())));
                break;
            }
            n += got;
            if (got == 0 || (got < want && n == expect))
                break;
        }
    }
    CloseHandle(h);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

FILE *plat_open_read(const char *path)
{
    wchar_t *w = plat_win_wide(path);
    FILE *f = w ? _wfopen(w, L"rb") : NULL;
    free(w);
    return f;
}

static DWORD attributes(const char *path)
{
    wchar_t *w = plat_win_wide(path);
    DWORD a = w ? GetFileAttributesW(w) : INVALID_FILE_ATTRIBUTES;
    free(w);
    return a;
}

int plat_exists(const char *path)
{
    return attributes(path) != INVALID_FILE_ATTRIBUTES;
}

int plat_is_dir(const char *path)
{
    DWORD a = attributes(path);
    return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}

int plat_mkdir(const char *path)
{
    wchar_t *w = plat_win_wide(path);
    if (!w)
        return -1;
    BOOL ok = CreateDirectoryW(w, NULL);
    free(w);
    return ok ? 0 : fail_win();
}

const char *plat_home_dir(void)
{
    /* Made once, on first use (the command line's thread, before any
     * worker starts), and kept for the process's life. */
    static char *home;
    if (!home) {
        const wchar_t *w = _wgetenv(L"USERPROFILE");
        home = w ? plat_win_utf8(w) : NULL;
    }
    return home;
}

/* ---- paths -------------------------------------------------------------- */

int plat_path_is_sep(char c)
{
    return c == '/' || c == '\\';
}

int plat_path_is_absolute(const char *path)
{
    /* \x and /x (the current drive's root), \\server\share, C:\x, C:/x */
    char drive = (char)(path[0] | 0x20);
    return plat_path_is_sep(path[0]) ||
           (drive >= 'a' && drive <= 'z' && path[1] == ':' &&
            plat_path_is_sep(path[2]));
}

static volatile LONG temp_counter;

FILE *plat_temp_create(const char *final, enum plat_mode mode, char **tmp_path)
{
    *tmp_path = NULL;
    const char *sep = fs_last_sep(final);
    size_t dir_len = sep ? (size_t)(sep - final) + 1 : 0; /* with the sep */
    size_t n = strlen(final) + 64;
    char *tmp = malloc(n);
    if (!tmp) {
        errno = ENOMEM;
        return NULL;
    }
    FILE *f = NULL;
    for (int attempt = 0; !f && attempt < 100; attempt++) {
        unsigned long c = (unsigned long)InterlockedIncrement(&temp_counter);
        snprintf(tmp, n, "%.*s.%s.nvsforge-%lu-%lu", (int)dir_len, final,
                 final + dir_len, (unsigned long)GetCurrentProcessId(), c);
        f = create_new(tmp, mode);
        if (!f && errno != EEXIST)
            break;
    }
    if (!f) {
        int e = errno;
        free(tmp);
        errno = e;
        return NULL;
    }
    *tmp_path = tmp;
    return f;
}

FILE *plat_create_new(const char *path)
{
    return create_new(path, PLAT_SECRET);
}

int plat_file_sync(FILE *f)
{
    if (fflush(f) != 0)
        return -1;
    HANDLE h = (HANDLE)_get_osfhandle(_fileno(f));
    if (h == INVALID_HANDLE_VALUE) {
        errno = EBADF;
        return -1;
    }
    return FlushFileBuffers(h) ? 0 : fail_win();
}

int plat_file_truncate(FILE *f, long size)
{
    if (fflush(f) != 0)
        return -1;
    errno = _chsize_s(_fileno(f), size);
    if (errno)
        return -1;
    return fseek(f, size, SEEK_SET);
}

static int move(const char *from, const char *to, DWORD flags)
{
    wchar_t *wf = plat_win_wide(from), *wt = wf ? plat_win_wide(to) : NULL;
    BOOL ok = wt && MoveFileExW(wf, wt, flags | MOVEFILE_WRITE_THROUGH);
    DWORD e = GetLastError();
    int wide_ok = wf && wt;
    free(wf);
    free(wt);
    if (!wide_ok)
        return -1; /* errno set by the conversion */
    if (ok)
        return 0;
    errno = errno_from_win(e);
    return -1;
}

int plat_rename_replace(const char *from, const char *to)
{
    return move(from, to, MOVEFILE_REPLACE_EXISTING);
}

/* Without MOVEFILE_REPLACE_EXISTING, MoveFileExW fails with
 * ERROR_ALREADY_EXISTS when the target exists: the check and the rename
 * are one step. */
int plat_rename_noreplace(const char *from, const char *to)
{
    return move(from, to, 0);
}

int plat_remove(const char *path)
{
    wchar_t *w = plat_win_wide(path);
    if (!w)
        return -1;
    BOOL ok = DeleteFileW(w);
    free(w);
    return ok ? 0 : fail_win();
}

int plat_remove_dir(const char *path)
{
    wchar_t *w = plat_win_wide(path);
    if (!w)
        return -1;
    BOOL ok = RemoveDirectoryW(w);
    free(w);
    return ok ? 0 : fail_win();
}

/* Nothing left to do for either: files are written through and flushed,
 * and MOVEFILE_WRITE_THROUGH returns only once a rename is on disk (NTFS
 * journals the folder's entries). */
int plat_sync_parent(const char *path)
{
    (void)path;
    return 0;
}

int plat_sync_tree(const char *dir)
{
    (void)dir;
    return 0;
}

/* ---- interruption --------------------------------------------------------- */

static volatile LONG interrupted;

static BOOL WINAPI on_console_event(DWORD event)
{
    /* A second Ctrl-C or Ctrl-Break ends the process the usual way, as
     * SA_RESETHAND does on POSIX. */
    if (InterlockedExchange(&interrupted, (LONG)event + 1) != 0 &&
        (event == CTRL_C_EVENT || event == CTRL_BREAK_EVENT))
        return FALSE;
    if (event == CTRL_CLOSE_EVENT || event == CTRL_LOGOFF_EVENT ||
        event == CTRL_SHUTDOWN_EVENT) {
        /* Windows ends the process when this handler returns (or after
         * about 5 s): give the main thread the time to clean up and exit. */
        Sleep(4500);
    }
    return TRUE;
}

void plat_interrupt_install(void)
{
    SetConsoleCtrlHandler(on_console_event, TRUE);
}

int plat_interrupted(void)
{
    return InterlockedCompareExchange(&interrupted, 0, 0) != 0;
}

/* ---- threads ---------------------------------------------------------- */

struct plat_mutex {
    SRWLOCK lock;
};
struct plat_cond {
    CONDITION_VARIABLE cv;
};
struct plat_thread {
    HANDLE h;
    void (*fn)(void *arg);
    void *arg;
};

plat_mutex *plat_mutex_new(void)
{
    plat_mutex *m = malloc(sizeof *m);
    if (m)
        InitializeSRWLock(&m->lock);
    return m;
}

void plat_mutex_free(plat_mutex *m)
{
    free(m); /* an SRW lock holds no resources */
}

void plat_mutex_lock(plat_mutex *m)
{
    AcquireSRWLockExclusive(&m->lock);
}

void plat_mutex_unlock(plat_mutex *m)
{
    ReleaseSRWLockExclusive(&m->lock);
}

plat_cond *plat_cond_new(void)
{
    plat_cond *c = malloc(sizeof *c);
    if (c)
        InitializeConditionVariable(&c->cv);
    return c;
}

void plat_cond_free(plat_cond *c)
{
    free(c);
}

void plat_cond_wait(plat_cond *c, plat_mutex *m)
{
    SleepConditionVariableSRW(&c->cv, &m->lock, INFINITE, 0);
}

void plat_cond_signal(plat_cond *c)
{
    WakeConditionVariable(&c->cv);
}

void plat_cond_broadcast(plat_cond *c)
{
    WakeAllConditionVariable(&c->cv);
}

static DWORD WINAPI thread_main(LPVOID arg)
{
    plat_thread *t = arg;
    t->fn(t->arg);
    return 0;
}

plat_thread *plat_thread_start(void (*fn)(void *arg), void *arg)
{
    plat_thread *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    t->fn = fn;
    t->arg = arg;
    t->h = CreateThread(NULL, 0, thread_main, t, 0, NULL);
    if (!t->h) {
        free(t);
        return NULL;
    }
    return t;
}

void plat_thread_join(plat_thread *t)
{
    WaitForSingleObject(t->h, INFINITE);
    CloseHandle(t->h);
    free(t);
}

int plat_cores(void)
{
    /* Every processor group, not only this thread's (machines with more
     * than 64 logical processors have several). */
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    return n > 0 ? (int)(n > 1024 ? 1024 : n) : 1;
}

/* ---- time ------------------------------------------------------------- */

double plat_seconds(void)
{
    LARGE_INTEGER now, freq;
    QueryPerformanceCounter(&now);
    QueryPerformanceFrequency(&freq);
    return (double)now.QuadPart / (double)freq.QuadPart;
}

int plat_utc_time(time_t t, struct tm *out)
{
    return gmtime_s(out, &t) == 0 ? 0 : -1;
}

int plat_local_time(time_t t, struct tm *out)
{
    return localtime_s(out, &t) == 0 ? 0 : -1;
}

/* ---- console ------------------------------------------------------------ */

static UINT console_cp_saved;

static void console_cp_restore(void)
{
    SetConsoleOutputCP(console_cp_saved);
}

void plat_win_console_utf8(void)
{
    /* The code page belongs to the console, which outlives us. */
    console_cp_saved = GetConsoleOutputCP();
    if (console_cp_saved && console_cp_saved != CP_UTF8 &&
        SetConsoleOutputCP(CP_UTF8))
        atexit(console_cp_restore);
}
