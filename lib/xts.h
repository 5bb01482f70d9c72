/*
 * XTS-AES-256 over single data units, through OpenSSL's EVP interface.
 * An NVS entry is one 32-byte data unit; its tweak is the entry's byte offset
 * from the partition start as a 16-byte little-endian number.
 */
#ifndef NVSF_XTS_H
#define NVSF_XTS_H

#include <stddef.h>
#include <stdint.h>

#include "nvsforge/nvsforge.h"

typedef struct nvsf_xts nvsf_xts;

/* key: data key (32 bytes) then tweak key (32 bytes). The context keeps no
 * copy of the key outside OpenSSL's own (wiped) state. */
int nvsf_xts_new(nvsf_xts **out, const uint8_t key[NVSF_XTS_KEY_SIZE],
                 int encrypt, nvsf_error *err);
void nvsf_xts_free(nvsf_xts *x);

/* En/decrypt one data unit of len bytes (len >= 16) with a 16-byte tweak. */
int nvsf_xts_unit(nvsf_xts *x, const uint8_t tweak[16], const uint8_t *in,
                  uint8_t *out, size_t len, nvsf_error *err);

/* The tweak for a byte offset: little-endian, zero-extended to 16 bytes. */
void nvsf_xts_tweak_from_offset(uint64_t offset, uint8_t tweak[16]);

#endif
