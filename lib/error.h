/* Filling nvsf_error: the library's only way of saying what went wrong. */
#ifndef NVSF_ERROR_H
#define NVSF_ERROR_H

#include "nvsforge/nvsforge.h"

#if defined(__GNUC__)
#define NVSF_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define NVSF_PRINTF(f, a)
#endif

/* Set err (if not NULL) to code and the formatted message; return code. */
int nvsf_fail(nvsf_error *err, int code, const char *fmt, ...)
    NVSF_PRINTF(3, 4);

/* Put "<formatted>: " in front of the message already in err; keep code. */
int nvsf_error_prefix(nvsf_error *err, const char *fmt, ...) NVSF_PRINTF(2, 3);

#endif
