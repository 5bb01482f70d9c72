#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A message cut to fit its buffer must not end inside a UTF-8 character:
 * drop an incomplete last sequence. */
static void cut_to_whole_utf8(char *s, int printed, size_t size)
{
    if (printed >= 0 && (size_t)printed < size)
        return;
    size_t n = strlen(s), lead = n;
    while (lead > 0 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80)
        lead--;
    if (lead == 0)
        return;
    unsigned char c = (unsigned char)s[lead - 1];
    size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (n - (lead - 1) < want)
        s[lead - 1] = '\0';
}

void nvsf_text_escape(char *out, size_t cap, const char *in)
{
    size_t used = 0;
    const unsigned char *p = (const unsigned char *)in;
    while (*p && cap > 0) {
        char esc[8];
        int n;
        size_t skip = 1;
        if (*p == '\n' || *p == '\r' || *p == '\t') {
            n = snprintf(esc, sizeof esc, "\\%c",
                         *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't');
        } else if (*p < 0x20 || *p == 0x7F) {
            n = snprintf(esc, sizeof esc, "\\x%02x", *p);
        } else if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
            n = snprintf(esc, sizeof esc, "\\u%04x", p[1]); /* C1 controls */
            skip = 2;
        } else if ((p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) ||
                   (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))) {
            /* a byte-order mark, shown as such; the line separators */
            n = snprintf(esc, sizeof esc, "\\u%04x",
                         p[0] == 0xEF ? 0xFEFFu : 0x2000u | (p[2] - 0x80u));
            skip = 3;
        } else {
            esc[0] = (char)*p;
            n = 1;
        }
        if (n < 0 || used + (size_t)n >= cap)
            break;
        memcpy(out + used, esc, (size_t)n);
        used += (size_t)n;
        p += skip;
    }
    if (cap > 0)
        out[used] = '\0';
}

void nvsf_text_vformat(char *out, size_t cap, const char *fmt, va_list ap)
{
    char raw[NVSF_ERROR_MAX];
    if (vsnprintf(raw, sizeof raw, fmt, ap) < 0)
        raw[0] = '\0';
    nvsf_text_escape(out, cap, raw);
}

void nvsf_error_set(nvsf_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        /* One problem, one line: what the message echoes is escaped. */
        nvsf_text_vformat(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        /* A cut (of raw, or by the escaping) must not split a character. */
        cut_to_whole_utf8(err->message, -1, sizeof err->message);
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
    nvsf_text_vformat(prefix, sizeof prefix, fmt, ap); /* the message already is */
    va_end(ap);
    char old[NVSF_ERROR_MAX];
    memcpy(old, err->message, sizeof old);
    old[sizeof old - 1] = '\0';
    /* Truncation is acceptable: the start of the message matters most. */
    int printed = snprintf(err->message, sizeof err->message, "%s: %s", prefix, old);
    if (printed < 0)
        err->message[0] = '\0';
    else
        cut_to_whole_utf8(err->message, printed, sizeof err->message);
    return err->code;
}

int nvsf_errors_add(nvsf_errors *errs, const nvsf_error *err)
{
    if (errs->count == 0)
        errs->code = err->code;
    if (errs->count < NVSF_ERRORS_KEEP) {
        size_t len = strnlen(err->message, sizeof err->message - 1);
        char *copy = malloc(len + 1);
        if (!copy)
            return NVSF_E_NOMEM;
        memcpy(copy, err->message, len);
        copy[len] = '\0';
        errs->messages[errs->count] = copy;
    }
    errs->count++;
    return 0;
}

void nvsf_errors_free(nvsf_errors *errs)
{
    size_t kept = errs->count < NVSF_ERRORS_KEEP ? errs->count : NVSF_ERRORS_KEEP;
    for (size_t i = 0; i < kept; i++)
        free(errs->messages[i]);
    memset(errs, 0, sizeof *errs);
}
