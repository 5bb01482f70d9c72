/* Filling nvsf_error: the library's only way of saying what went wrong. */
#ifndef NVSF_ERROR_H
#define NVSF_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#include "nvsforge/nvsforge.h"

#if defined(__MINGW32__)
/* mingw's C99 stdio (__USE_MINGW_ANSI_STDIO, set by CMake) takes %zu. */
#define NVSF_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#elif defined(__GNUC__)
#define NVSF_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define NVSF_PRINTF(f, a)
#endif

/* `in` with what would break a one-line message escaped: control
 * characters (\n, \r, \t, \xHH, C1 as \u00HH), a byte-order mark as
 * \ufeff, the Unicode line separators. Cut to fit `cap`. */
void nvsf_text_escape(char *out, size_t cap, const char *in);

/* vsnprintf, then nvsf_text_escape: a formatted one-line message. */
void nvsf_text_vformat(char *out, size_t cap, const char *fmt, va_list ap)
    NVSF_PRINTF(3, 0);

/* Set err (if not NULL) to code and the formatted message, escaped by
 * nvsf_text_escape: one problem, one line. */
void nvsf_error_set(nvsf_error *err, int code, const char *fmt, ...)
    NVSF_PRINTF(3, 4);

/* nvsf_error_set, then the code as the expression's value. A macro so that
 * the static analyzer sees the code come back (it cannot see into
 * error.c), and does not follow paths where a failure returns 0. */
static inline int nvsf_error_code(int code)
{
    return code;
}
#define nvsf_fail(err, code, ...) \
    nvsf_error_code((nvsf_error_set((err), (code), __VA_ARGS__), (code)))

/* Put "<formatted>: " in front of the message already in err; keep code. */
int nvsf_error_prefix(nvsf_error *err, const char *fmt, ...) NVSF_PRINTF(2, 3);

#endif
