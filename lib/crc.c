#include "nvs_format.h"

#if NVSF_HAVE_ZLIB
#include <zlib.h>

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
#else
/*
 * The same CRC by hand, for builds without zlib: mingw-w64 has no zlib in
 * Debian, and a Windows executable should need no DLL beside it. It is
 * zlib's (reflected polynomial 0xEDB88320, register complemented before and
 * after), so the 0xFFFFFFFF seed leaves the register at 0 to start with.
 * Four bits at a time: a 16-entry constant table, no set-up to share
 * between threads, and fast enough for NVS's short runs.
 */
uint32_t nvsf_crc32(const void *data, size_t len)
{
    static const uint32_t nibble[16] = {
        0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4,
        0x4DB26158, 0x5005713C, 0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
        0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C};
    const uint8_t *p = data;
    uint32_t c = 0;
    for (size_t i = 0; i < len; i++) {
        c = nibble[(c ^ p[i]) & 0xF] ^ (c >> 4);
        c = nibble[(c ^ (p[i] >> 4)) & 0xF] ^ (c >> 4);
    }
    return ~c;
}
#endif

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
