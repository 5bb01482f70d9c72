/*
 * The crypto interface (crypto.h) over Windows' CNG (bcrypt.dll, part of
 * Windows since Vista), so that nvsforge.exe needs no DLL of its own.
 *
 * XTS is built here from AES-256-ECB, not taken from CNG's own XTS mode
 * (BCRYPT_XTS_AES_ALGORITHM): that mode only exists from Windows 10 1709 on,
 * and Wine (8.0, where the tests run) does not implement it, while its
 * AES-ECB gives the right answers. The mode itself is IEEE 1619's: the tweak
 * encrypted under the second key, multiplied by x in GF(2^128) for each
 * block, xor-ed before and after the data key's AES. The same known-answer
 * vectors as OpenSSL's back end check it.
 */
#include <windows.h>

#include <bcrypt.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

/* The algorithm providers, opened once for the whole process (opening one
 * costs far more than using it) and shared by every thread, which CNG
 * allows for provider handles. */
static struct {
    BCRYPT_ALG_HANDLE aes_ecb, sha256, hmac_sha256, hmac_sha1;
    NTSTATUS status; /* of the first opening that failed */
} cng;
static INIT_ONCE cng_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK cng_open(PINIT_ONCE once, PVOID param, PVOID *context)
{
    (void)once;
    (void)param;
    (void)context;
    NTSTATUS s = BCryptOpenAlgorithmProvider(&cng.aes_ecb, BCRYPT_AES_ALGORITHM,
                                             NULL, 0);
    if (BCRYPT_SUCCESS(s))
        s = BCryptSetProperty(cng.aes_ecb, BCRYPT_CHAINING_MODE,
                              (PUCHAR)BCRYPT_CHAIN_MODE_ECB,
                              (ULONG)sizeof BCRYPT_CHAIN_MODE_ECB, 0);
    if (BCRYPT_SUCCESS(s))
        s = BCryptOpenAlgorithmProvider(&cng.sha256, BCRYPT_SHA256_ALGORITHM,
                                        NULL, 0);
    if (BCRYPT_SUCCESS(s))
        s = BCryptOpenAlgorithmProvider(&cng.hmac_sha256,
                                        BCRYPT_SHA256_ALGORITHM, NULL,
                                        BCRYPT_ALG_HANDLE_HMAC_FLAG);
    if (BCRYPT_SUCCESS(s))
        s = BCryptOpenAlgorithmProvider(&cng.hmac_sha1, BCRYPT_SHA1_ALGORITHM,
                                        NULL, BCRYPT_ALG_HANDLE_HMAC_FLAG);
    cng.status = s;
    return BCRYPT_SUCCESS(s) ? TRUE : FALSE; /* FALSE: the next call retries */
}

static int cng_fail(nvsf_error *err, const char *what, NTSTATUS s)
{
    return nvsf_fail(err, NVSF_E_CRYPTO, "%s failed (CNG status 0x%08lx)", what,
                     (unsigned long)s);
}

static int cng_ready(nvsf_error *err)
{
    if (!InitOnceExecuteOnce(&cng_once, cng_open, NULL, NULL))
        return cng_fail(err, "opening Windows' cryptography (bcrypt.dll)",
                        cng.status);
    return NVSF_OK;
}

int nvsf_random_bytes(void *buf, size_t len, nvsf_error *err)
{
    uint8_t *p = buf;
    while (len > 0) {
        ULONG n = len > 0x40000000u ? 0x40000000u : (ULONG)len;
        NTSTATUS s =
            BCryptGenRandom(NULL, p, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG);
        if (!BCRYPT_SUCCESS(s))
            return cng_fail(err, "the operating system's random generator", s);
        p += n;
        len -= n;
    }
    return NVSF_OK;
}

void nvsf_wipe(void *p, size_t len)
{
    if (p)
        SecureZeroMemory(p, len);
}

/* A hash or HMAC (key != NULL) of data, in one go. */
static int cng_digest(BCRYPT_ALG_HANDLE alg, const uint8_t *key, size_t key_len,
                      const void *data, size_t len, uint8_t *out,
                      ULONG out_len, const char *what, nvsf_error *err)
{
    if (key_len > 0xFFFFFFFFu)
        return nvsf_fail(err, NVSF_E_USAGE, "%s: key too long", what);
    BCRYPT_HASH_HANDLE h = NULL;
    NTSTATUS s = BCryptCreateHash(alg, &h, NULL, 0, (PUCHAR)key,
                                  (ULONG)key_len, 0);
    const uint8_t *p = data;
    while (BCRYPT_SUCCESS(s) && len > 0) {
        ULONG n = len > 0x40000000u ? 0x40000000u : (ULONG)len;
        s = BCryptHashData(h, (PUCHAR)p, n, 0);
        p += n;
        len -= n;
    }
    if (BCRYPT_SUCCESS(s))
        s = BCryptFinishHash(h, out, out_len, 0);
    if (h)
        BCryptDestroyHash(h);
    return BCRYPT_SUCCESS(s) ? NVSF_OK : cng_fail(err, what, s);
}

struct nvsf_sha256_stream {
    BCRYPT_HASH_HANDLE h;
};

int nvsf_sha256_stream_new(nvsf_sha256_stream **out, nvsf_error *err)
{
    int rc = cng_ready(err);
    if (rc != NVSF_OK)
        return rc;
    nvsf_sha256_stream *s = calloc(1, sizeof *s);
    if (!s)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    NTSTATUS st = BCryptCreateHash(cng.sha256, &s->h, NULL, 0, NULL, 0, 0);
    if (!BCRYPT_SUCCESS(st)) {
        free(s);
        return cng_fail(err, "SHA-256", st);
    }
    *out = s;
    return NVSF_OK;
}

int nvsf_sha256_stream_add(nvsf_sha256_stream *s, const void *data, size_t len,
                           nvsf_error *err)
{
    const uint8_t *p = data;
    while (len > 0) {
        ULONG n = len > 0x40000000u ? 0x40000000u : (ULONG)len;
        NTSTATUS st = BCryptHashData(s->h, (PUCHAR)p, n, 0);
        if (!BCRYPT_SUCCESS(st))
            return cng_fail(err, "SHA-256", st);
        p += n;
        len -= n;
    }
    return NVSF_OK;
}

int nvsf_sha256_stream_end(nvsf_sha256_stream *s,
                           uint8_t out[NVSF_SHA256_SIZE], nvsf_error *err)
{
    NTSTATUS st = BCryptFinishHash(s->h, out, NVSF_SHA256_SIZE, 0);
    return BCRYPT_SUCCESS(st) ? NVSF_OK : cng_fail(err, "SHA-256", st);
}

void nvsf_sha256_stream_free(nvsf_sha256_stream *s)
{
    if (s) {
        BCryptDestroyHash(s->h);
        free(s);
    }
}

int nvsf_sha256(const void *data, size_t len, uint8_t out[NVSF_SHA256_SIZE],
                nvsf_error *err)
{
    int rc = cng_ready(err);
    return rc != NVSF_OK ? rc
                         : cng_digest(cng.sha256, NULL, 0, data, len, out,
                                      NVSF_SHA256_SIZE, "SHA-256", err);
}

int nvsf_hmac_sha256(const uint8_t *key, size_t key_len, const void *data,
                     size_t len, uint8_t out[NVSF_SHA256_SIZE],
                     nvsf_error *err)
{
    int rc = cng_ready(err);
    return rc != NVSF_OK
               ? rc
               : cng_digest(cng.hmac_sha256, key, key_len, data, len, out,
                            NVSF_SHA256_SIZE, "HMAC-SHA256", err);
}

int nvsf_pbkdf2_hmac_sha1(const void *pass, size_t pass_len, const void *salt,
                          size_t salt_len, unsigned iterations, uint8_t *out,
                          size_t out_len, nvsf_error *err)
{
    int rc = cng_ready(err);
    if (rc != NVSF_OK)
        return rc;
    if (pass_len > 0xFFFFFFFFu || salt_len > 0xFFFFFFFFu ||
        out_len > 0xFFFFFFFFu)
        return nvsf_fail(err, NVSF_E_USAGE, "PBKDF2: input too long");
    /* CNG wants real buffers even for empty inputs. */
    static const uint8_t none[1];
    NTSTATUS s = BCryptDeriveKeyPBKDF2(
        cng.hmac_sha1, (PUCHAR)(pass_len ? pass : none), (ULONG)pass_len,
        (PUCHAR)(salt_len ? salt : none), (ULONG)salt_len, iterations, out,
        (ULONG)out_len, 0);
    return BCRYPT_SUCCESS(s) ? NVSF_OK : cng_fail(err, "PBKDF2-HMAC-SHA1", s);
}

/* ---- XTS over AES-256-ECB ---------------------------------------------- */

struct nvsf_xts {
    BCRYPT_KEY_HANDLE data, tweak; /* CNG keeps (and frees) the schedules */
    int encrypt;
};

void nvsf_xts_free(nvsf_xts *x)
{
    if (!x)
        return;
    if (x->data)
        BCryptDestroyKey(x->data);
    if (x->tweak)
        BCryptDestroyKey(x->tweak);
    free(x);
}

int nvsf_xts_new(nvsf_xts **out, const uint8_t key[NVSF_XTS_KEY_SIZE],
                 int encrypt, nvsf_error *err)
{
    *out = NULL;
    int rc = nvsf_xts_key_check(key, encrypt, err);
    if (rc == NVSF_OK)
        rc = cng_ready(err);
    if (rc != NVSF_OK)
        return rc;
    nvsf_xts *x = calloc(1, sizeof *x);
    if (!x)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory for XTS");
    x->encrypt = encrypt;
    const ULONG half = NVSF_XTS_KEY_SIZE / 2;
    NTSTATUS s = BCryptGenerateSymmetricKey(cng.aes_ecb, &x->data, NULL, 0,
                                            (PUCHAR)key, half, 0);
    if (BCRYPT_SUCCESS(s))
        s = BCryptGenerateSymmetricKey(cng.aes_ecb, &x->tweak, NULL, 0,
                                       (PUCHAR)key + half, half, 0);
    if (!BCRYPT_SUCCESS(s)) {
        nvsf_xts_free(x);
        return cng_fail(err, "setting up XTS-AES-256", s);
    }
    *out = x;
    return NVSF_OK;
}

/* AES-256-ECB over len bytes (whole blocks), one direction. */
static NTSTATUS aes_ecb(BCRYPT_KEY_HANDLE key, int encrypt, const uint8_t *in,
                        uint8_t *out, ULONG len)
{
    ULONG n = 0;
    NTSTATUS s = encrypt ? BCryptEncrypt(key, (PUCHAR)in, len, NULL, NULL, 0,
                                         out, len, &n, 0)
                         : BCryptDecrypt(key, (PUCHAR)in, len, NULL, NULL, 0,
                                         out, len, &n, 0);
    return BCRYPT_SUCCESS(s) && n != len ? (NTSTATUS)0xC0000001L /* failure */
                                         : s;
}

/* t *= x in GF(2^128), with IEEE 1619's little-endian byte order. */
static void xts_mul_x(uint8_t t[16])
{
    uint8_t carry = (uint8_t)(t[15] >> 7);
    for (int i = 15; i > 0; i--)
        t[i] = (uint8_t)(t[i] << 1 | t[i - 1] >> 7);
    t[0] = (uint8_t)(t[0] << 1 ^ (0x87 & -carry)); /* no branch on key data */
}

int nvsf_xts_unit(nvsf_xts *x, const uint8_t tweak[16], const uint8_t *in,
                  uint8_t *out, size_t len, nvsf_error *err)
{
    if (len == 0 || len % 16 != 0 || len > 0xFFFFFFFFu)
        return nvsf_fail(err, NVSF_E_USAGE,
                         "an XTS data unit of %zu bytes (need a multiple "
                         "of 16)",
                         len);
    enum { CHUNK = 256 }; /* blocks go to CNG in groups: one call each */
    uint8_t t[16], pads[CHUNK], buf[CHUNK];
    NTSTATUS s = aes_ecb(x->tweak, 1, tweak, t, 16);
    for (size_t done = 0; BCRYPT_SUCCESS(s) && done < len;) {
        size_t n = len - done < CHUNK ? len - done : CHUNK;
        for (size_t i = 0; i < n; i += 16) {
            memcpy(pads + i, t, 16);
            xts_mul_x(t);
        }
        for (size_t i = 0; i < n; i++)
            buf[i] = in[done + i] ^ pads[i];
        s = aes_ecb(x->data, x->encrypt, buf, buf, (ULONG)n);
        for (size_t i = 0; i < n; i++)
            out[done + i] = buf[i] ^ pads[i];
        done += n;
    }
    nvsf_wipe(t, sizeof t);
    nvsf_wipe(pads, sizeof pads);
    nvsf_wipe(buf, sizeof buf);
    return BCRYPT_SUCCESS(s) ? NVSF_OK : cng_fail(err, "XTS-AES-256", s);
}
