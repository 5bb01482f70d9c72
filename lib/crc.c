#include <zlib.h>

#include "nvs_format.h"

/* zlib's crc32 is the CRC NVS uses, started from 0xFFFFFFFF instead of 0. */
uint32_t nvsf_crc32(const void *data, size_t len)
{
    uLong crc = 0xFFFFFFFFul;
    const Bytef *p = data;
    while (len > 0) {
        uInt n = len > 0x40000000u ? 0x40000000u : (uInt)len;
        crc = crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t)crc;
}

uint32_t nvs_entry_crc(const uint8_t *entry)
{
    uint8_t buf[28];
    for (int i = 0; i < 4; i++)
        buf[i] = entry[i];
    for (int i = 0; i < 24; i++)
        buf[4 + i] = entry[8 + i];
    return nvsf_crc32(buf, sizeof buf);
}

uint32_t nvs_page_header_crc(const uint8_t *page)
{
    return nvsf_crc32(page + NVS_PAGE_CRC_FROM, NVS_PAGE_CRC_LEN);
}
