/* The crypto interface (crypto.h) over OpenSSL's libcrypto. */
#define _DEFAULT_SOURCE /* getrandom(2), explicit_bzero, XSI strerror_r */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto.h"

/* Turn OpenSSL's error queue into our message and leave the queue empty, so a
 * stale entry never shows up in a later, unrelated failure. */
static int ossl_fail(nvsf_error *err, const char *what)
{
    char reason[256] = "no detail from OpenSSL";
    unsigned long e = ERR_peek_error();
    if (e != 0)
        ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    return nvsf_fail(err, NVSF_E_CRYPTO, "%s: %s", what, reason);
}

int nvsf_random_bytes(void *buf, size_t len, nvsf_error *err)
{
    uint8_t *p = buf;
    while (len > 0) {
        /* The kernel's generator itself, not a user-space one: flags 0 is the
         * urandom pool, blocking only until it is seeded. Large requests and
         * signals can give short reads. */
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            char why[128] = "unknown error";
            (void)strerror_r(errno, why, sizeof why);
            return nvsf_fail(err, NVSF_E_CRYPTO,
                             "the operating system's random generator "
                             "failed: %s",
                             why);
        }
        p += n;
        len -= (size_t)n;
    }
    return NVSF_OK;
}

/* libc's explicit_bzero rather than OPENSSL_cleanse: both survive the
 * optimiser, but libc's runs at memset's speed, and every image (24 KiB and
 * up, device secrets in it) is wiped when it is freed. */
void nvsf_wipe(void *p, size_t len)
{
    if (p)
        explicit_bzero(p, len);
}

int nvsf_sha256(const void *data, size_t len, uint8_t out[NVSF_SHA256_SIZE],
                nvsf_error *err)
{
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 ||
        n != NVSF_SHA256_SIZE)
        return ossl_fail(err, "SHA-256 failed");
    return NVSF_OK;
}

struct nvsf_sha256_stream {
    EVP_MD_CTX *ctx;
};

int nvsf_sha256_stream_new(nvsf_sha256_stream **out, nvsf_error *err)
{
    nvsf_sha256_stream *s = malloc(sizeof *s);
    if (!s)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    s->ctx = EVP_MD_CTX_new();
    if (!s->ctx || EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
        nvsf_sha256_stream_free(s);
        return ossl_fail(err, "SHA-256 failed");
    }
    *out = s;
    return NVSF_OK;
}

int nvsf_sha256_stream_add(nvsf_sha256_stream *s, const void *data, size_t len,
                           nvsf_error *err)
{
    if (EVP_DigestUpdate(s->ctx, data, len) != 1)
        return ossl_fail(err, "SHA-256 failed");
    return NVSF_OK;
}

int nvsf_sha256_stream_end(nvsf_sha256_stream *s,
                           uint8_t out[NVSF_SHA256_SIZE], nvsf_error *err)
{
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(s->ctx, out, &n) != 1 || n != NVSF_SHA256_SIZE)
        return ossl_fail(err, "SHA-256 failed");
    return NVSF_OK;
}

void nvsf_sha256_stream_free(nvsf_sha256_stream *s)
{
    if (s) {
        EVP_MD_CTX_free(s->ctx);
        free(s);
    }
}

int nvsf_hmac_sha256(const uint8_t *key, size_t key_len, const void *data,
                     size_t len, uint8_t out[NVSF_SHA256_SIZE],
                     nvsf_error *err)
{
    unsigned int n = 0;
    if (key_len > INT_MAX ||
        !HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &n) ||
        n != NVSF_SHA256_SIZE)
        return ossl_fail(err, "HMAC-SHA256 failed");
    return NVSF_OK;
}

int nvsf_pbkdf2_hmac_sha1(const void *pass, size_t pass_len, const void *salt,
                          size_t salt_len, unsigned iterations, uint8_t *out,
                          size_t out_len, nvsf_error *err)
{
    if (pass_len > INT_MAX || salt_len > INT_MAX || iterations > INT_MAX ||
        out_len > INT_MAX ||
        !PKCS5_PBKDF2_HMAC_SHA1(pass_len ? pass : "", (int)pass_len,
                                salt_len ? salt : (const void *)"",
                                (int)salt_len, (int)iterations, (int)out_len,
                                out))
        return ossl_fail(err, "PBKDF2-HMAC-SHA1 failed");
    return NVSF_OK;
}

struct nvsf_xts {
    EVP_CIPHER_CTX *ctx;
};

int nvsf_xts_new(nvsf_xts **out, const uint8_t key[NVSF_XTS_KEY_SIZE],
                 int encrypt, nvsf_error *err)
{
    *out = NULL;
    int rc = nvsf_xts_key_check(key, encrypt, err);
    if (rc != NVSF_OK)
        return rc;
    nvsf_xts *x = malloc(sizeof *x);
    if (!x)
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory for XTS");
    x->ctx = EVP_CIPHER_CTX_new();
    if (!x->ctx) {
        free(x);
        return nvsf_fail(err, NVSF_E_NOMEM, "out of memory for XTS");
    }
    /* Key once here; nvsf_xts_unit then only changes the tweak. */
    if (EVP_CipherInit_ex(x->ctx, EVP_aes_256_xts(), NULL, key, NULL,
                          encrypt ? 1 : 0) != 1) {
        rc = ossl_fail(err, "could not set up XTS-AES-256");
        nvsf_xts_free(x);
        return rc;
    }
    *out = x;
    return NVSF_OK;
}

void nvsf_xts_free(nvsf_xts *x)
{
    if (!x)
        return;
    EVP_CIPHER_CTX_free(x->ctx); /* cleanses the key schedule */
    free(x);
}

int nvsf_xts_unit(nvsf_xts *x, const uint8_t tweak[16], const uint8_t *in,
                  uint8_t *out, size_t len, nvsf_error *err)
{
    if (len == 0 || len % 16 != 0 || len > INT_MAX)
        return nvsf_fail(err, NVSF_E_USAGE,
                         "an XTS data unit of %zu bytes (need a multiple "
                         "of 16)",
                         len);
    /* NULL cipher and key keep the schedule; -1 keeps the direction. */
    int outl = 0;
    if (EVP_CipherInit_ex(x->ctx, NULL, NULL, NULL, tweak, -1) != 1 ||
        EVP_CipherUpdate(x->ctx, out, &outl, in, (int)len) != 1)
        return ossl_fail(err, "XTS-AES-256 failed");
    if ((size_t)outl != len)
        return nvsf_fail(err, NVSF_E_CRYPTO,
                         "XTS-AES-256 gave %d bytes for %zu", outl, len);
    return NVSF_OK;
}
