/* Key files, key derivation, the CSPRNG and whole-image encryption. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvs_format.h"
#include "crypto.h"

/* Reads a file under tests/unit (ctest's working directory). The data files
 * come from the conformance cases nvs_101_008 (generate-key with an HMAC key)
 * and nvs_101_026 (decrypt), produced by ESP-IDF's nvs_partition_gen.py. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (run from tests/unit)", path);
    uint8_t *data = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            data = realloc(data, cap);
            assert_non_null(data);
        }
        size_t got = fread(data + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    assert_false(ferror(f));
    fclose(f);
    *len = n;
    return data;
}

static void key_pattern(uint8_t key[NVSF_XTS_KEY_SIZE])
{
    for (int i = 0; i < (int)NVSF_XTS_KEY_SIZE; i++)
        key[i] = (uint8_t)i;
}

static int all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

static void test_crc32_check_value(void **state)
{
    (void)state;
    assert_int_equal(nvsf_crc32("123456789", 9), 0xd202d277u);
}

static void test_key_partition_layout(void **state)
{
    (void)state;
    uint8_t key[64], part[NVSF_KEY_PARTITION_SIZE];
    key_pattern(key);
    memset(part, 0, sizeof part);
    nvsf_key_partition_make(key, part);
    assert_memory_equal(part, key, 64);
    /* CRC32 of 00..3f, seeded with 0xFFFFFFFF, little-endian */
    static const uint8_t crc[4] = {0x45, 0x52, 0x7c, 0x9a};
    assert_memory_equal(part + 64, crc, 4);
    assert_true(all_bytes(part + 68, sizeof part - 68, 0xFF));
}

static void test_key_partition_round_trip(void **state)
{
    (void)state;
    uint8_t key[64], part[NVSF_KEY_PARTITION_SIZE], back[64];
    key_pattern(key);
    nvsf_key_partition_make(key, part);
    nvsf_error err = {0};
    memset(back, 0, sizeof back);
    assert_int_equal(nvsf_key_partition_read(part, sizeof part, back, &err),
                     NVSF_OK);
    assert_memory_equal(back, key, 64);
}

static void test_key_read_too_short(void **state)
{
    (void)state;
    uint8_t key[64], data[64];
    key_pattern(data);
    nvsf_error err = {0};
    assert_int_equal(nvsf_key_partition_read(data, 63, key, &err),
                     NVSF_E_FORMAT);
    assert_int_equal(err.code, NVSF_E_FORMAT);
    assert_string_equal(err.message,
                        "key file holds 63 bytes; an XTS key needs 64");
    assert_int_equal(nvsf_key_partition_read(data, 0, key, NULL),
                     NVSF_E_FORMAT);
}

/* 64 bytes is a bare key; up to 67 bytes there is no whole CRC to check. */
static void test_key_read_raw_key(void **state)
{
    (void)state;
    uint8_t data[67], key[64];
    key_pattern(data);
    memset(data + 64, 0x00, 3);
    memset(key, 0, sizeof key);
    assert_int_equal(nvsf_key_partition_read(data, 64, key, NULL), NVSF_OK);
    assert_memory_equal(key, data, 64);
    memset(key, 0, sizeof key);
    assert_int_equal(nvsf_key_partition_read(data, 67, key, NULL), NVSF_OK);
    assert_memory_equal(key, data, 64);
}

static void test_key_read_bad_crc(void **state)
{
    (void)state;
    uint8_t key[64], part[NVSF_KEY_PARTITION_SIZE], back[64];
    key_pattern(key);
    nvsf_key_partition_make(key, part);
    nvsf_error err = {0};
    /* Any single flipped bit, in the CRC or in the key, is caught. */
    for (unsigned bit = 0; bit < 68 * 8; bit++) {
        part[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        err.code = 0;
        assert_int_equal(nvsf_key_partition_read(part, sizeof part, back, &err),
                         NVSF_E_FORMAT);
        assert_int_equal(err.code, NVSF_E_FORMAT);
        part[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_non_null(strstr(err.message, "CRC does not match"));
    /* 68 bytes hold the whole CRC: checked as well. */
    part[64] ^= 1;
    assert_int_equal(nvsf_key_partition_read(part, 68, back, NULL),
                     NVSF_E_FORMAT);
}

/* ESP-IDF's HMAC scheme, against nvs_partition_gen.py generate-key
 * --key_protect_hmac (conformance case nvs_101_008). */
static void test_key_from_hmac_reference(void **state)
{
    (void)state;
    size_t hlen, klen;
    uint8_t *hmac = slurp("data/crypto/hmac.bin", &hlen);
    uint8_t *want = slurp("data/crypto/hmac_keys.bin", &klen);
    assert_int_equal(hlen, NVSF_HMAC_KEY_SIZE);
    assert_int_equal(klen, NVSF_KEY_PARTITION_SIZE);
    uint8_t key[64], part[NVSF_KEY_PARTITION_SIZE];
    nvsf_error err = {0};
    assert_int_equal(nvsf_key_from_hmac(hmac, key, &err), NVSF_OK);
    nvsf_key_partition_make(key, part);
    assert_memory_equal(part, want, NVSF_KEY_PARTITION_SIZE);
    free(hmac);
    free(want);
}

/* nvs_partition_gen.py decrypt (conformance case nvs_101_026), both ways. */
static void test_image_reference(void **state)
{
    (void)state;
    size_t elen, plen, klen;
    uint8_t *enc = slurp("data/crypto/image_enc.bin", &elen);
    uint8_t *plain = slurp("data/crypto/image_plain.bin", &plen);
    uint8_t *keyfile = slurp("data/crypto/image_key.bin", &klen);
    assert_int_equal(elen, plen);
    assert_int_equal(elen % NVSF_PAGE_SIZE, 0);
    assert_memory_not_equal(enc, plain, elen);
    uint8_t key[64];
    nvsf_error err = {0};
    assert_int_equal(nvsf_key_partition_read(keyfile, klen, key, &err), 0);

    uint8_t *img = malloc(elen);
    assert_non_null(img);
    memcpy(img, enc, elen);
    assert_int_equal(nvsf_image_decrypt(img, elen, key, &err), NVSF_OK);
    assert_memory_equal(img, plain, elen);
    assert_int_equal(nvsf_image_encrypt(img, elen, key, &err), NVSF_OK);
    assert_memory_equal(img, enc, elen);
    free(img);
    free(enc);
    free(plain);
    free(keyfile);
}

/* A 3-page image that exercises each rule: which entries encryption takes
 * (bitmap, header) and which decryption takes (content), with the tweak as
 * the entry's absolute offset. */
enum { IMG_SIZE = 3 * 4096 };

static void fill_entry(uint8_t *img, uint32_t offset, uint8_t v)
{
    for (int i = 0; i < 32; i++)
        img[offset + i] = (uint8_t)(v + i);
}

static void make_rules_image(uint8_t *img)
{
    memset(img, 0xFF, IMG_SIZE);
    /* page 0: a header; entries 0 written, 1 erased, 2 empty yet not 0xFF,
     * 125 written */
    img[0] = 0xFE;
    nvs_bitmap_set(img, 0, NVS_ENTRY_STATE_WRITTEN);
    nvs_bitmap_set(img, 1, NVS_ENTRY_STATE_ERASED);
    nvs_bitmap_set(img, 125, NVS_ENTRY_STATE_WRITTEN);
    fill_entry(img, 64, 0x10);
    fill_entry(img, 96, 0x20);
    fill_entry(img, 128, 0x30);
    fill_entry(img, 4064, 0x40);
    /* page 1: no header, though its bitmap and entry 0 hold data */
    nvs_bitmap_set(img + 4096, 0, NVS_ENTRY_STATE_WRITTEN);
    fill_entry(img, 4096 + 64, 0x50);
    /* page 2: entry 5 written but all 0xFF */
    img[8192 + 8] = 0xFE;
    nvs_bitmap_set(img + 8192, 5, NVS_ENTRY_STATE_WRITTEN);
}

static void xts_at(uint8_t *img, uint32_t offset, int encrypt)
{
    uint8_t key[64], tweak[16] = {0};
    key_pattern(key);
    tweak[0] = (uint8_t)offset;
    tweak[1] = (uint8_t)(offset >> 8);
    nvsf_xts *x;
    assert_int_equal(nvsf_xts_new(&x, key, encrypt, NULL), NVSF_OK);
    assert_int_equal(nvsf_xts_unit(x, tweak, img + offset, img + offset, 32,
                                   NULL),
                     NVSF_OK);
    nvsf_xts_free(x);
}

static void test_image_rules(void **state)
{
    (void)state;
    static uint8_t img[IMG_SIZE], want[IMG_SIZE];
    uint8_t key[64];
    key_pattern(key);
    nvsf_error err = {0};

    make_rules_image(img);
    make_rules_image(want);
    xts_at(want, 64, 1);
    xts_at(want, 96, 1);
    xts_at(want, 4064, 1);
    xts_at(want, 8192 + 64 + 5 * 32, 1);
    assert_int_equal(nvsf_image_encrypt(img, IMG_SIZE, key, &err), NVSF_OK);
    assert_memory_equal(img, want, IMG_SIZE);

    /* Decryption undoes those, and also takes the two entries encryption
     * skipped because they are not 0xFF. */
    xts_at(want, 64, 0);
    xts_at(want, 96, 0);
    xts_at(want, 4064, 0);
    xts_at(want, 8192 + 64 + 5 * 32, 0);
    xts_at(want, 128, 0);
    xts_at(want, 4096 + 64, 0);
    assert_int_equal(nvsf_image_decrypt(img, IMG_SIZE, key, &err), NVSF_OK);
    assert_memory_equal(img, want, IMG_SIZE);
}

static void test_image_bad_size(void **state)
{
    (void)state;
    static uint8_t img[2 * 4096];
    uint8_t key[64];
    key_pattern(key);
    const size_t sizes[] = {0, 1, 4095, 4097, 8191};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        nvsf_error err = {0};
        memset(img, 0x5A, sizeof img);
        assert_int_equal(nvsf_image_encrypt(img, sizes[i], key, &err),
                         NVSF_E_FORMAT);
        assert_int_equal(err.code, NVSF_E_FORMAT);
        assert_int_equal(nvsf_image_decrypt(img, sizes[i], key, NULL),
                         NVSF_E_FORMAT);
        assert_true(all_bytes(img, sizeof img, 0x5A));
    }
#if SIZE_MAX > UINT32_MAX
    /* Rejected before the image is touched: tweaks are 32-bit offsets. */
    assert_int_equal(nvsf_image_decrypt(img, (size_t)1 << 32, key, NULL),
                     NVSF_E_FORMAT);
#endif
}

static void test_image_identical_key_halves(void **state)
{
    (void)state;
    static uint8_t img[IMG_SIZE];
    uint8_t key[64];
    memset(key, 0x42, sizeof key);
    make_rules_image(img);
    nvsf_error err = {0};
    assert_int_equal(nvsf_image_encrypt(img, IMG_SIZE, key, &err),
                     NVSF_E_CRYPTO);
    assert_string_equal(err.message,
                        "the XTS key's data and tweak halves are identical");
    static uint8_t want[IMG_SIZE];
    make_rules_image(want);
    assert_memory_equal(img, want, IMG_SIZE);
}

static void test_random_bytes(void **state)
{
    (void)state;
    uint8_t a[64], b[64];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    nvsf_error err = {0};
    assert_int_equal(nvsf_random_bytes(a, sizeof a, &err), NVSF_OK);
    assert_int_equal(nvsf_random_bytes(b, sizeof b, &err), NVSF_OK);
    assert_memory_not_equal(a, b, sizeof a);
    assert_false(all_bytes(a, sizeof a, 0));
    assert_false(all_bytes(b, sizeof b, 0));
    assert_int_equal(nvsf_random_bytes(NULL, 0, &err), NVSF_OK);

    /* A large draw, which getrandom(2) may hand back in pieces. */
    size_t big = 1u << 20;
    uint8_t *p = calloc(big, 1);
    assert_non_null(p);
    assert_int_equal(nvsf_random_bytes(p, big, &err), NVSF_OK);
    assert_false(all_bytes(p + big - 64, 64, 0));
    free(p);
}

static void test_wipe(void **state)
{
    (void)state;
    uint8_t secret[64];
    key_pattern(secret);
    nvsf_wipe(secret, sizeof secret);
    assert_true(all_bytes(secret, sizeof secret, 0));
    nvsf_wipe(NULL, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_check_value),
        cmocka_unit_test(test_key_partition_layout),
        cmocka_unit_test(test_key_partition_round_trip),
        cmocka_unit_test(test_key_read_too_short),
        cmocka_unit_test(test_key_read_raw_key),
        cmocka_unit_test(test_key_read_bad_crc),
        cmocka_unit_test(test_key_from_hmac_reference),
        cmocka_unit_test(test_image_reference),
        cmocka_unit_test(test_image_rules),
        cmocka_unit_test(test_image_bad_size),
        cmocka_unit_test(test_image_identical_key_halves),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_wipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
