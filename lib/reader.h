/*
 * Helpers of the image reader (reader.c) that the command line shares when
 * it shows what an image holds. The reader's API itself is public
 * (nvsforge.h: nvsf_image_read and friends).
 */
#ifndef NVSF_READER_H
#define NVSF_READER_H

#include <stddef.h>
#include <stdint.h>

#include "nvsforge/nvsforge.h"

/*
 * s[0..n) as readable text into out (cap bytes, always NUL-terminated when
 * cap > 0): printable ASCII and valid UTF-8 pass through, `\` and `"` are
 * escaped, \n \r \t are written so, every other byte as \xNN. Escapes and
 * UTF-8 sequences are never cut: what does not fit is left out whole.
 * Returns the length the whole text needs (without the NUL), as snprintf.
 */
size_t nvsf_escape_text(char *out, size_t cap, const uint8_t *s, size_t n);

/* Length of the UTF-8 sequence starting s[0] (of n bytes left) when it is a
 * valid one of 2 to 4 bytes, else 0. */
size_t nvsf_utf8_seq_len(const uint8_t *s, size_t n);

#endif
