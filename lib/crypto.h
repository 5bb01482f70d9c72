/*
 * The cryptography the library uses, behind one small interface with one
 * back end per platform, chosen at build time (NVSF_CRYPTO in CMake):
 *   crypto_openssl.c  OpenSSL's libcrypto (Linux and other POSIX systems);
 *   crypto_cng.c      Windows' own CNG (bcrypt.dll), so that a Windows
 *                     executable needs no DLL beside it.
 * Both pass the same known-answer tests (tests/crypto/crypto_kat.c).
 * nvsf_random_bytes and nvsf_wipe, declared in the public header, belong to
 * the back ends too.
 */
#ifndef NVSF_CRYPTO_H
#define NVSF_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define NVSF_SHA256_SIZE 32

/* SHA-256 of data. */
int nvsf_sha256(const void *data, size_t len, uint8_t out[NVSF_SHA256_SIZE],
                nvsf_error *err);

/* SHA-256 of data given piece by piece (a file read as a stream, whose
 * memory must not grow with its length). */
typedef struct nvsf_sha256_stream nvsf_sha256_stream;
int nvsf_sha256_stream_new(nvsf_sha256_stream **out, nvsf_error *err);
int nvsf_sha256_stream_add(nvsf_sha256_stream *s, const void *data, size_t len,
                           nvsf_error *err);
/* The digest of everything added; s can take no more after it. */
int nvsf_sha256_stream_end(nvsf_sha256_stream *s,
                           uint8_t out[NVSF_SHA256_SIZE], nvsf_error *err);
void nvsf_sha256_stream_free(nvsf_sha256_stream *s);

/* HMAC-SHA256 of data under key. */
int nvsf_hmac_sha256(const uint8_t *key, size_t key_len, const void *data,
                     size_t len, uint8_t out[NVSF_SHA256_SIZE],
                     nvsf_error *err);

/* PBKDF2 with HMAC-SHA1 (RFC 8018), as Wi-Fi derives a PMK from a
 * passphrase: out_len bytes into out. */
int nvsf_pbkdf2_hmac_sha1(const void *pass, size_t pass_len, const void *salt,
                          size_t salt_len, unsigned iterations, uint8_t *out,
                          size_t out_len, nvsf_error *err);

/*
 * XTS-AES-256 over single data units. An NVS entry is one 32-byte data
 * unit; its tweak is the entry's byte offset from the partition start as a
 * 16-byte little-endian number.
 */
typedef struct nvsf_xts nvsf_xts;

/* key: data key (32 bytes) then tweak key (32 bytes). A key whose two halves
 * are equal is refused for encryption (the weakness Rogaway's XEX paper
 * describes; OpenSSL 3 refuses it) and accepted for decryption, so that
 * what such a key wrote can still be read. The context keeps the key only
 * in the back end's own state, wiped by nvsf_xts_free. */
int nvsf_xts_new(nvsf_xts **out, const uint8_t key[NVSF_XTS_KEY_SIZE],
                 int encrypt, nvsf_error *err);
void nvsf_xts_free(nvsf_xts *x);

/* En/decrypt one data unit of len bytes with a 16-byte tweak; len is a
 * non-zero multiple of 16 (NVS never needs ciphertext stealing). in and out
 * may be the same buffer. */
int nvsf_xts_unit(nvsf_xts *x, const uint8_t tweak[16], const uint8_t *in,
                  uint8_t *out, size_t len, nvsf_error *err);

/* For the back ends: refuse to encrypt under a key whose halves are equal
 * (compared without an early exit, as key material should be). */
static inline int nvsf_xts_key_check(const uint8_t key[NVSF_XTS_KEY_SIZE],
                                     int encrypt, nvsf_error *err)
{
    uint8_t diff = 0;
    for (size_t i = 0; i < NVSF_XTS_KEY_SIZE / 2; i++)
        diff |= (uint8_t)(key[i] ^ key[NVSF_XTS_KEY_SIZE / 2 + i]);
    if (encrypt && diff == 0)
        return nvsf_fail(err, NVSF_E_CRYPTO,
                         "the XTS key's data and tweak halves are identical");
    return NVSF_OK;
}

/* The tweak for a byte offset: little-endian, zero-extended to 16 bytes. */
static inline void nvsf_xts_tweak_from_offset(uint64_t offset,
                                              uint8_t tweak[16])
{
    for (int i = 0; i < 16; i++)
        tweak[i] = (uint8_t)(i < 8 ? offset >> (8 * i) : 0);
}

#endif
