/* Keys and whole-image encryption. */
#include <string.h>

#include "crypto.h"
#include "error.h"
#include "nvs_format.h"

int nvsf_key_from_hmac(const uint8_t hmac_key[NVSF_HMAC_KEY_SIZE],
                       uint8_t xts_key[NVSF_XTS_KEY_SIZE], nvsf_error *err)
{
    /* The seeds of ESP-IDF's HMAC-based NVS key protection scheme. */
    static const uint8_t seed_unit[2][4] = {{0x5A, 0x5A, 0xBE, 0xAE},
                                            {0xA5, 0xA5, 0xDE, 0xCE}};
    for (int k = 0; k < 2; k++) {
        uint8_t seed[32];
        for (size_t i = 0; i < sizeof seed; i++)
            seed[i] = seed_unit[k][i % 4];
        /* HMAC writes straight into xts_key: no secret copies to wipe. */
        int rc = nvsf_hmac_sha256(hmac_key, NVSF_HMAC_KEY_SIZE, seed,
                                  sizeof seed, xts_key + (size_t)32 * k, err);
        if (rc != NVSF_OK) {
            nvsf_wipe(xts_key, NVSF_XTS_KEY_SIZE);
            nvsf_error_prefix(err, "deriving the XTS key");
            return rc;
        }
    }
    return NVSF_OK;
}

void nvsf_key_partition_make(const uint8_t xts_key[NVSF_XTS_KEY_SIZE],
                             uint8_t out[NVSF_KEY_PARTITION_SIZE])
{
    memset(out, 0xFF, NVSF_KEY_PARTITION_SIZE);
    memcpy(out, xts_key, NVSF_XTS_KEY_SIZE);
    nvs_store_u32(out + NVS_KEYS_CRC_OFFSET,
                  nvsf_crc32(xts_key, NVSF_XTS_KEY_SIZE));
}

int nvsf_key_partition_read(const uint8_t *data, size_t len,
                            uint8_t xts_key[NVSF_XTS_KEY_SIZE],
                            nvsf_error *err)
{
    if (len < NVSF_XTS_KEY_SIZE)
        return nvsf_fail(err, NVSF_E_FORMAT,
                         "key file holds %zu bytes; an XTS key needs %u", len,
                         NVSF_XTS_KEY_SIZE);
    /* A bare 64-byte key has no CRC to check; anything holding one must
     * match, which catches a wrong file passed as the key. */
    if (len >= NVS_KEYS_CRC_OFFSET + 4 &&
        nvs_load_u32(data + NVS_KEYS_CRC_OFFSET) !=
            nvsf_crc32(data, NVSF_XTS_KEY_SIZE))
        return nvsf_fail(err, NVSF_E_FORMAT,
                         "the key partition's CRC does not match its key "
                         "(corrupt, or not a key file)");
    memcpy(xts_key, data, NVSF_XTS_KEY_SIZE);
    return NVSF_OK;
}

static int all_ff(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0xFF)
            return 0;
    return 1;
}

/* The 32-bit entry offsets (the tweaks) cover at most 2^20 - 1 pages. */
static int check_image_size(size_t size, nvsf_error *err)
{
    if (size == 0 || size % NVS_PAGE_SIZE != 0)
        return nvsf_fail(err, NVSF_E_FORMAT,
                         "image of %zu bytes: not a whole number of %u-byte "
                         "pages",
                         size, NVS_PAGE_SIZE);
    if (size / NVS_PAGE_SIZE > UINT32_MAX / NVS_PAGE_SIZE)
        return nvsf_fail(err, NVSF_E_FORMAT,
                         "image of %zu bytes: larger than NVS can address",
                         size);
    return NVSF_OK;
}

/* En/decrypt an image's entries in place, one XTS data unit each. */
static int image_xts(uint8_t *image, size_t size,
                     const uint8_t xts_key[NVSF_XTS_KEY_SIZE], int encrypt,
                     nvsf_error *err)
{
    int rc = check_image_size(size, err);
    if (rc != NVSF_OK)
        return rc;
    nvsf_xts *x;
    rc = nvsf_xts_new(&x, xts_key, encrypt, err);
    if (rc != NVSF_OK)
        return rc;
    uint32_t pages = (uint32_t)(size / NVS_PAGE_SIZE);
    for (uint32_t p = 0; p < pages && rc == NVSF_OK; p++) {
        uint8_t *page = image + (size_t)p * NVS_PAGE_SIZE;
        /* Encryption follows the page's own bookkeeping: nothing on a page
         * without a header, nothing in an entry the bitmap calls empty.
         * Decryption does what ESP-IDF's does: every entry that is not
         * erased flash, whatever the bitmap says. */
        if (encrypt && all_ff(page, NVS_PAGE_HEADER_SIZE))
            continue;
        for (uint32_t i = 0; i < NVS_ENTRIES_PER_PAGE; i++) {
            uint8_t *entry = page + NVS_FIRST_ENTRY_OFFSET + (size_t)i * NVS_ENTRY_SIZE;
            int take = encrypt
                           ? nvs_bitmap_get(page, i) != NVS_ENTRY_STATE_EMPTY
                           : !all_ff(entry, NVS_ENTRY_SIZE);
            if (!take)
                continue;
            uint8_t tweak[16];
            nvsf_xts_tweak_from_offset(nvs_entry_offset(p, i), tweak);
            rc = nvsf_xts_unit(x, tweak, entry, entry, NVS_ENTRY_SIZE, err);
            if (rc != NVSF_OK) {
                nvsf_error_prefix(err, "page %u entry %u", (unsigned)p,
                                  (unsigned)i);
                break;
            }
        }
    }
    nvsf_xts_free(x);
    return rc;
}

int nvsf_image_encrypt(uint8_t *image, size_t size,
                       const uint8_t xts_key[NVSF_XTS_KEY_SIZE],
                       nvsf_error *err)
{
    return image_xts(image, size, xts_key, 1, err);
}

int nvsf_image_decrypt(uint8_t *image, size_t size,
                       const uint8_t xts_key[NVSF_XTS_KEY_SIZE],
                       nvsf_error *err)
{
    return image_xts(image, size, xts_key, 0, err);
}
