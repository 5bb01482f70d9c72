#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void nvsf_error_set(nvsf_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->code = code;
    }
}

int nvsf_error_prefix(nvsf_error *err, const char *fmt, ...)
{
    if (!err)
        return NVSF_E_USAGE;
    char prefix[NVSF_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[NVSF_ERROR_MAX];
    memcpy(old, err->message, sizeof old);
    old[sizeof old - 1] = '\0';
    /* Truncation is acceptable: the start of the message matters most. */
    if (snprintf(err->message, sizeof err->message, "%s: %s", prefix, old) < 0)
        err->message[0] = '\0';
    return err->code;
}
