/* A growable byte buffer, for text and images built in memory. */
#ifndef NVSF_BUF_H
#define NVSF_BUF_H

#include <stddef.h>

typedef struct nvsf_buf {
    char *data; /* always NUL-terminated when not NULL */
    size_t len;
    size_t cap;
} nvsf_buf;

/* Each returns 0, or NVSF_E_NOMEM leaving the buffer as it was. */
int nvsf_buf_reserve(nvsf_buf *b, size_t extra);
int nvsf_buf_append(nvsf_buf *b, const void *data, size_t len);
int nvsf_buf_putc(nvsf_buf *b, char c);
void nvsf_buf_clear(nvsf_buf *b);   /* len = 0, keeps the memory */
void nvsf_buf_free(nvsf_buf *b);    /* wipes and releases the memory */

#endif
