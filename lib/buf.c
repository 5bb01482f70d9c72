#include "buf.h"

#include <stdlib.h>
#include <string.h>

#include "nvsforge/nvsforge.h"

int nvsf_buf_reserve(nvsf_buf *b, size_t extra)
{
    if (extra > (size_t)-1 / 2 - b->len)
        return NVSF_E_NOMEM;
    size_t need = b->len + extra + 1; /* + the terminating NUL */
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return NVSF_E_NOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int nvsf_buf_append(nvsf_buf *b, const void *data, size_t len)
{
    if (nvsf_buf_reserve(b, len))
        return NVSF_E_NOMEM;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int nvsf_buf_putc(nvsf_buf *b, char c)
{
    return nvsf_buf_append(b, &c, 1);
}

void nvsf_buf_clear(nvsf_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void nvsf_buf_free(nvsf_buf *b)
{
    if (b->data) {
        /* Buffers carry key material and device secrets: wipe them. */
        nvsf_wipe(b->data, b->cap);
        free(b->data);
    }
    b->data = NULL;
    b->len = b->cap = 0;
}
