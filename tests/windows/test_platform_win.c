/*
 * The Windows platform layer (pipeline/platform_win.c) from the inside:
 * what the command-line tests cannot see from the shell. Plain C (no test
 * framework for mingw in Debian); Windows build only, run under Wine by
 * scripts/test-windows.sh (ctest: platform.win).
 */
#include <windows.h>

#include <aclapi.h>
#include <errno.h>
#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "files.h"
#include "platform.h"
#include "platform_win.h"

static int write_file(const char *path, const char *text)
{
    wchar_t *w = plat_win_wide(path);
    FILE *f = w ? _wfopen(w, L"wb") : NULL;
    free(w);
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static int holds(const char *path, const char *text)
{
    uint8_t *data;
    size_t len;
    if (plat_read_file(path, &data, &len, NULL) != 0)
        return 0;
    int same = len == strlen(text) && memcmp(data, text, len) == 0;
    free(data);
    return same;
}

/* The current user's SID, as text (LocalFree it). */
static wchar_t *user_sid(PSID *sid_copy)
{
    HANDLE token;
    static union {
        TOKEN_USER user;
        uint8_t bytes[sizeof(TOKEN_USER) + SECURITY_MAX_SID_SIZE];
    } info;
    DWORD got;
    wchar_t *text = NULL;
    if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) {
        if (GetTokenInformation(token, TokenUser, &info, sizeof info, &got))
            ConvertSidToStringSidW(info.user.User.Sid, &text);
        CloseHandle(token);
    }
    *sid_copy = info.user.User.Sid;
    return text;
}

/* The descriptor key files are created with: owned by this user, one ACE
 * granting this user everything, protected from inheritance. */
static void key_file_acl(void)
{
    PSID me = NULL;
    wchar_t *sid = user_sid(&me);
    CHECK(sid != NULL);
    wchar_t *sddl = plat_win_owner_only_sddl();
    CHECK(sddl != NULL);
    if (!sid || !sddl)
        return;
    wchar_t want[512];
    _snwprintf(want, 512, L"O:%lsD:P(A;;FA;;;%ls)", sid, sid);
    CHECK(wcscmp(sddl, want) == 0);

    PSECURITY_DESCRIPTOR sd = NULL;
    CHECK(ConvertStringSecurityDescriptorToSecurityDescriptorW(
        sddl, SDDL_REVISION_1, &sd, NULL));
    SECURITY_DESCRIPTOR_CONTROL control = 0;
    DWORD revision;
    BOOL present = FALSE, defaulted = FALSE;
    PACL dacl = NULL;
    if (sd) {
        CHECK(GetSecurityDescriptorControl(sd, &control, &revision));
        CHECK(control & SE_DACL_PROTECTED);
        CHECK(GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted));
    }
    CHECK(present && dacl && dacl->AceCount == 1);
    ACCESS_ALLOWED_ACE *ace = NULL;
    if (dacl && GetAce(dacl, 0, (void **)&ace)) {
        CHECK(ace->Header.AceType == ACCESS_ALLOWED_ACE_TYPE);
        CHECK(ace->Mask == FILE_ALL_ACCESS);
        CHECK(EqualSid((PSID)&ace->SidStart, me));
    }
    LocalFree(sd);

    /* A key file made through the platform layer: Windows keeps that DACL;
     * Wine accepts it and keeps none, which is said, not failed. */
    char *tmp = NULL;
    FILE *f = plat_temp_create("key.bin", PLAT_SECRET, &tmp);
    CHECK(f != NULL);
    if (f) {
        fclose(f);
        PACL kept = NULL;
        PSECURITY_DESCRIPTOR ksd = NULL;
        wchar_t *w = plat_win_wide(tmp);
        DWORD rc = GetNamedSecurityInfoW(w, SE_FILE_OBJECT,
                                         DACL_SECURITY_INFORMATION, NULL, NULL,
                                         &kept, NULL, &ksd);
        ACCESS_ALLOWED_ACE *k = NULL;
        if (rc == ERROR_SUCCESS && kept && kept->AceCount == 1 &&
            GetAce(kept, 0, (void **)&k) && EqualSid((PSID)&k->SidStart, me))
            printf("key file ACL kept by the file system: owner only\n");
        else if (getenv("NVSF_WINE"))
            printf("key file ACL: Wine accepted it but keeps none (checked "
                   "above as the descriptor asked for)\n");
        else
            CHECK(!"the key file's owner-only ACL was not kept");
        LocalFree(ksd);
        free(w);
        CHECK(plat_remove(tmp) == 0);
        free(tmp);
    }
    LocalFree(sid);
    free(sddl);
}

/* MoveFileExW without MOVEFILE_REPLACE_EXISTING refuses an existing target
 * and leaves both files as they were; with it the target is replaced. */
static void renames(void)
{
    CHECK(write_file("a.txt", "new") == 0);
    CHECK(write_file("b.txt", "old") == 0);
    errno = 0;
    CHECK(plat_rename_noreplace("a.txt", "b.txt") == -1);
    CHECK(errno == EEXIST);
    CHECK(holds("a.txt", "new") && holds("b.txt", "old"));
    CHECK(plat_rename_replace("a.txt", "b.txt") == 0);
    CHECK(!plat_exists("a.txt") && holds("b.txt", "new"));
    CHECK(plat_rename_noreplace("b.txt", "c.txt") == 0);
    CHECK(!plat_exists("b.txt") && holds("c.txt", "new"));
    CHECK(plat_remove("c.txt") == 0);
    errno = 0;
    CHECK(plat_remove("c.txt") == -1 && errno == ENOENT);
}

/* UTF-8 names in, the same names on disk, whatever the ANSI code page. */
static void utf8_names(void)
{
    const char *dir = "d\xc3\xbc"; /* dü */
    const char *name = "d\xc3\xbc/\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87-\xe2\x82\xac.bin";
    CHECK(fs_mkdirs(dir, NULL) == 0);
    CHECK(plat_is_dir(dir));
    char *tmp = NULL;
    FILE *f = plat_temp_create(name, PLAT_PUBLIC, &tmp);
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("\xe2\x82\xac", f);
    CHECK(plat_file_sync(f) == 0);
    fclose(f);
    CHECK(plat_rename_noreplace(tmp, name) == 0);
    free(tmp);
    CHECK(holds(name, "\xe2\x82\xac"));
    wchar_t *w = plat_win_wide(name);
    CHECK(w && wcscmp(w, L"d\u00fc/\u043a\u043b\u044e\u0447-\u20ac.bin") == 0);
    CHECK(w && GetFileAttributesW(w) != INVALID_FILE_ATTRIBUTES);
    free(w);
    CHECK(plat_remove(name) == 0 && plat_remove_dir(dir) == 0);
    /* Not UTF-8: refused, not mangled. */
    errno = 0;
    CHECK(plat_win_wide("\xff.bin") == NULL && errno == EINVAL);
}

/* '\' and '/' alike. */
static void separators(void)
{
    const char *p = "a\\b/c\\d.bin";
    CHECK(fs_last_sep(p) == p + 5);
    CHECK(fs_last_sep("plain") == NULL);
    CHECK(plat_path_is_absolute("C:\\x") && plat_path_is_absolute("c:/x") &&
          plat_path_is_absolute("\\\\server\\share") &&
          plat_path_is_absolute("/x") && !plat_path_is_absolute("x\\y") &&
          !plat_path_is_absolute("C:x"));
    char *j = fs_join("out\\", "bin");
    CHECK(j && strcmp(j, "out\\bin") == 0);
    free(j);
    j = fs_join("out", "C:\\abs");
    CHECK(j && strcmp(j, "C:\\abs") == 0);
    free(j);
    CHECK(fs_mkdirs("s1\\s2/s3", NULL) == 0);
    CHECK(plat_is_dir("s1/s2\\s3"));
    CHECK(plat_remove_dir("s1/s2/s3") == 0 && plat_remove_dir("s1\\s2") == 0 &&
          plat_remove_dir("s1") == 0);
}

typedef struct counter {
    plat_mutex *lock;
    plat_cond *changed;
    int count;
} counter;

static void count_up(void *arg)
{
    counter *c = arg;
    for (int i = 0; i < 1000; i++) {
        plat_mutex_lock(c->lock);
        c->count++;
        plat_cond_broadcast(c->changed);
        plat_mutex_unlock(c->lock);
    }
}

/* As many workers as the machine has cores. */
static void threads(void)
{
    int cores = plat_cores();
    CHECK(cores >= 1 && (DWORD)cores == GetActiveProcessorCount(ALL_PROCESSOR_GROUPS));
    counter c = {plat_mutex_new(), plat_cond_new(), 0};
    CHECK(c.lock && c.changed);
    plat_thread *t[64];
    int n = cores < 4 ? 4 : cores > 64 ? 64 : cores;
    for (int i = 0; i < n; i++)
        CHECK((t[i] = plat_thread_start(count_up, &c)) != NULL);
    plat_mutex_lock(c.lock);
    while (c.count < n * 1000)
        plat_cond_wait(c.changed, c.lock);
    plat_mutex_unlock(c.lock);
    for (int i = 0; i < n; i++)
        plat_thread_join(t[i]);
    CHECK(c.count == n * 1000);
    plat_mutex_free(c.lock);
    plat_cond_free(c.changed);
}

int main(void)
{
    key_file_acl();
    renames();
    utf8_names();
    separators();
    threads();
    return check_summary("Windows platform tests");
}
