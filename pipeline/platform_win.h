/* Windows-only helpers of platform_win.c, for wmain and the tests. */
#ifndef NVSF_PLATFORM_WIN_H
#define NVSF_PLATFORM_WIN_H

#include <wchar.h>

/* UTF-8 to UTF-16 and back (malloc'd; NULL with errno EINVAL or ENOMEM). */
wchar_t *plat_win_wide(const char *utf8);
char *plat_win_utf8(const wchar_t *wide);

/* The security descriptor, in SDDL, that key files are created with: this
 * user owns the file and is the only one with access (a protected DACL,
 * nothing inherited). malloc'd; NULL if the process token cannot be read. */
wchar_t *plat_win_owner_only_sddl(void);

/* Show UTF-8 output correctly in the console, for this process only (the
 * console's code page is put back at exit). */
void plat_win_console_utf8(void);

#endif
