#include "xts.h"

#include <limits.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "error.h"

struct nvsf_xts {
    EVP_CIPHER_CTX *ctx;
};

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

int nvsf_xts_new(nvsf_xts **out, const uint8_t key[NVSF_XTS_KEY_SIZE],
                 int encrypt, nvsf_error *err)
{
    *out = NULL;
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
        int rc;
        /* OpenSSL 3 refuses equal halves when encrypting (the attack in
         * Rogaway's XEX paper); say so instead of its terse reason. */
        if (CRYPTO_memcmp(key, key + NVSF_XTS_KEY_SIZE / 2,
                          NVSF_XTS_KEY_SIZE / 2) == 0) {
            ERR_clear_error();
            rc = nvsf_fail(err, NVSF_E_CRYPTO,
                           "the XTS key's data and tweak halves are identical");
        } else {
            rc = ossl_fail(err, "could not set up XTS-AES-256");
        }
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
    if (len < 16 || len > INT_MAX)
        return nvsf_fail(err, NVSF_E_USAGE,
                         "an XTS data unit of %zu bytes (need 16 or more)",
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

void nvsf_xts_tweak_from_offset(uint64_t offset, uint8_t tweak[16])
{
    for (int i = 0; i < 16; i++)
        tweak[i] = (uint8_t)(i < 8 ? offset >> (8 * i) : 0);
}
