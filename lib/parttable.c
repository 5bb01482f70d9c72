/*
 * ESP-IDF's partition table, to find one partition in a whole-flash dump
 * (esptool read_flash 0 ...). The table ESP-IDF's gen_esp32part.py writes:
 * 32-byte entries from the table offset (0x8000 by default), at most
 * 0xC00 bytes of them:
 *
 *   offset size
 *   0      2    magic 0xAA 0x50
 *   2      1    type (1: data)
 *   3      1    subtype (data 0x02: nvs, 0x04: nvs_keys)
 *   4      4    offset in flash, little-endian
 *   8      4    size
 *   12     16   label, NUL-padded
 *   28     4    flags
 *
 * An entry starting 0xEB 0xEB holds the MD5 of the entries before it; one
 * of 0xFF bytes ends the table.
 */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "nvs_format.h"

#define TABLE_MAX 0xC00u
#define ENTRY 32u

int nvsf_partition_has_table(const uint8_t *flash, size_t len,
                             uint32_t table_offset)
{
    return table_offset <= len && len - table_offset >= ENTRY &&
           flash[table_offset] == 0xAA && flash[table_offset + 1] == 0x50;
}

int nvsf_partition_find(const uint8_t *flash, size_t len,
                        uint32_t table_offset, const char *label,
                        uint32_t *offset, uint32_t *size, nvsf_error *err)
{
    if (!nvsf_partition_has_table(flash, len, table_offset))
        return nvsf_fail(err, NVSF_E_FORMAT,
                         "no partition table at 0x%x (it starts with the "
                         "bytes 0xaa 0x50): give the table's place with "
                         "--table-offset, or the partition's with --offset "
                         "and --size",
                         table_offset);
    char names[512] = "";
    size_t nlen = 0;
    for (uint32_t at = table_offset;
         at + ENTRY <= len && at < table_offset + TABLE_MAX; at += ENTRY) {
        const uint8_t *e = flash + at;
        if (e[0] != 0xAA || e[1] != 0x50)
            break; /* the MD5 entry or the end */
        char name[17];
        memcpy(name, e + 12, 16);
        name[16] = '\0';
        int n = snprintf(names + nlen, sizeof names - nlen, "%s%s",
                         nlen ? ", " : "", name);
        if (n > 0 && (size_t)n < sizeof names - nlen)
            nlen += (size_t)n;
        if (strcmp(name, label) != 0)
            continue;
        *offset = nvs_load_u32(e + 4);
        *size = nvs_load_u32(e + 8);
        if (*offset > len || *size > len - *offset)
            return nvsf_fail(err, NVSF_E_FORMAT,
                             "partition '%s' (0x%x bytes at 0x%x) runs past "
                             "the end of the %zu-byte dump",
                             label, *size, *offset, len);
        return 0;
    }
    return nvsf_fail(err, NVSF_E_FORMAT,
                     "the partition table at 0x%x has no partition labelled "
                     "'%s' (it has: %s)",
                     table_offset, label, nlen ? names : "none");
}
