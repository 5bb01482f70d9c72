/*
 * Known-answer tests of the crypto interface (lib/crypto.h) and the CRC.
 * Plain C with no test framework, so that the very same program runs
 * against every back end: OpenSSL's on Linux (ctest: crypto.kat) and CNG's
 * in the Windows build under Wine (scripts/test-windows.sh). Each vector
 * says where it is published.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "crypto.h"

/* Hex text to bytes; the vectors below stay in the form they are published. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    if (n > cap) {
        fprintf(stderr, "unhex: %zu bytes do not fit in %zu\n", n, cap);
        exit(2);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            fprintf(stderr, "unhex: not hex: %s\n", hex);
            exit(2);
        }
        out[i] = (uint8_t)v;
    }
    return n;
}

static int same_hex(const uint8_t *got, const char *want_hex)
{
    uint8_t want[256];
    size_t n = unhex(want_hex, want, sizeof want);
    return memcmp(got, want, n) == 0;
}

/* ---- XTS-AES-256 ---------------------------------------------------------- */

/* IEEE Std 1619-2007 Annex B, vectors 10-14 (XTS-AES-256): one key, the
 * plaintext 00..ff twice (512-byte data units), and the data unit sequence
 * number as a little-endian tweak. Transcribed from Galois's cryptol-specs,
 * Primitive/Symmetric/Cipher/Block/Modes/Tests/AES256_XTS.cry. */
static const char ieee_key[] =
    "2718281828459045235360287471352662497757247093699959574966967627"
    "3141592653589793238462643383279502884197169399375105820974944592";

static const struct {
    int number;
    uint64_t sequence;
    const char *ciphertext;
} ieee[] = {
    {10, 0xff,
     "1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b"
     "5d31e276f8fe4a8d66b317f9ac683f44680a86ac35adfc3345befecb4bb188fd"
     "5776926c49a3095eb108fd1098baec70aaa66999a72a82f27d848b21d4a741b0"
     "c5cd4d5fff9dac89aeba122961d03a757123e9870f8acf1000020887891429ca"
     "2a3e7a7d7df7b10355165c8b9a6d0a7de8b062c4500dc4cd120c0f7418dae3d0"
     "b5781c34803fa75421c790dfe1de1834f280d7667b327f6c8cd7557e12ac3a0f"
     "93ec05c52e0493ef31a12d3d9260f79a289d6a379bc70c50841473d1a8cc81ec"
     "583e9645e07b8d9670655ba5bbcfecc6dc3966380ad8fecb17b6ba02469a020a"
     "84e18e8f84252070c13e9f1f289be54fbc481457778f616015e1327a02b140f1"
     "505eb309326d68378f8374595c849d84f4c333ec4423885143cb47bd71c5edae"
     "9be69a2ffeceb1bec9de244fbe15992b11b77c040f12bd8f6a975a44a0f90c29"
     "a9abc3d4d893927284c58754cce294529f8614dcd2aba991925fedc4ae74ffac"
     "6e333b93eb4aff0479da9a410e4450e0dd7ae4c6e2910900575da401fc07059f"
     "645e8b7e9bfdef33943054ff84011493c27b3429eaedb4ed5376441a77ed4385"
     "1ad77f16f541dfd269d50d6a5f14fb0aab1cbb4c1550be97f7ab4066193c4caa"
     "773dad38014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151"},
    {11, 0xffff,
     "77a31251618a15e6b92d1d66dffe7b50b50bad552305ba0217a610688eff7e11"
     "e1d0225438e093242d6db274fde801d4cae06f2092c728b2478559df58e837c2"
     "469ee4a4fa794e4bbc7f39bc026e3cb72c33b0888f25b4acf56a2a9804f1ce6d"
     "3d6e1dc6ca181d4b546179d55544aa7760c40d06741539c7e3cd9d2f6650b201"
     "3fd0eeb8c2b8e3d8d240ccae2d4c98320a7442e1c8d75a42d6e6cfa4c2eca179"
     "8d158c7aecdf82490f24bb9b38e108bcda12c3faf9a21141c3613b58367f922a"
     "aa26cd22f23d708dae699ad7cb40a8ad0b6e2784973dcb605684c08b8d6998c6"
     "9aac049921871ebb65301a4619ca80ecb485a31d744223ce8ddc2394828d6a80"
     "470c092f5ba413c3378fa6054255c6f9df4495862bbb3287681f931b687c888a"
     "bf844dfc8fc28331e579928cd12bd2390ae123cf03818d14dedde5c0c24c8ab0"
     "18bfca75ca096f2d531f3d1619e785f1ada437cab92e980558b3dce1474afb75"
     "bfedbf8ff54cb2618e0244c9ac0d3c66fb51598cd2db11f9be39791abe447c63"
     "094f7c453b7ff87cb5bb36b7c79efb0872d17058b83b15ab0866ad8a58656c5a"
     "7e20dbdf308b2461d97c0ec0024a2715055249cf3b478ddd4740de654f75ca68"
     "6e0d7345c69ed50cdc2a8b332b1f8824108ac937eb050585608ee734097fc090"
     "54fbff89eeaeea791f4a7ab1f9868294a4f9e27b42af8100cb9d59cef9645803"},
    {12, 0xffffff,
     "e387aaa58ba483afa7e8eb469778317ecf4cf573aa9d4eac23f2cdf914e4e200"
     "a8b490e42ee646802dc6ee2b471b278195d60918ececb44bf79966f83faba049"
     "9298ebc699c0c8634715a320bb4f075d622e74c8c932004f25b41e361025b5a8"
     "7815391f6108fc4afa6a05d9303c6ba68a128a55705d415985832fdeaae6c8e1"
     "9110e84d1b1f199a2692119edc96132658f09da7c623efcec712537a3d94c0bf"
     "5d7e352ec94ae5797fdb377dc1551150721adf15bd26a8efc2fcaad56881fa9e"
     "62462c28f30ae1ceaca93c345cf243b73f542e2074a705bd2643bb9f7cc79bb6"
     "e7091ea6e232df0f9ad0d6cf502327876d82207abf2115cdacf6d5a48f6c1879"
     "a65b115f0f8b3cb3c59d15dd8c769bc014795a1837f3901b5845eb491adfefe0"
     "97b1fa30a12fc1f65ba22905031539971a10f2f36c321bb51331cdefb39e3964"
     "c7ef079994f5b69b2edd83a71ef549971ee93f44eac3938fcdd61d01fa71799d"
     "a3a8091c4c48aa9ed263ff0749df95d44fef6a0bb578ec69456aa5408ae32c7a"
     "f08ad7ba8921287e3bbee31b767be06a0e705c864a769137df28292283ea81a2"
     "480241b44d9921cdbec1bc28dc1fda114bd8e5217ac9d8ebafa720e9da4f9ace"
     "231cc949e5b96fe76ffc21063fddc83a6b8679c00d35e09576a875305bed5f36"
     "ed242c8900dd1fa965bc950dfce09b132263a1eef52dd6888c309f5a7d712826"},
    {13, 0xffffffff,
     "bf53d2dade78e822a4d949a9bc6766b01b06a8ef70d26748c6a7fc36d80ae4c5"
     "520f7c4ab0ac8544424fa405162fef5a6b7f229498063618d39f0003cb5fb8d1"
     "c86b643497da1ff945c8d3bedeca4f479702a7a735f043ddb1d6aaade3c4a0ac"
     "7ca7f3fa5279bef56f82cd7a2f38672e824814e10700300a055e1630b8f1cb0e"
     "919f5e942010a416e2bf48cb46993d3cb6a51c19bacf864785a00bc2ecff15d3"
     "50875b246ed53e68be6f55bd7e05cfc2b2ed6432198a6444b6d8c247fab941f5"
     "69768b5c429366f1d3f00f0345b96123d56204c01c63b22ce78baf116e525ed9"
     "0fdea39fa469494d3866c31e05f295ff21fea8d4e6e13d67e47ce722e9698a1c"
     "1048d68ebcde76b86fcf976eab8aa9790268b7068e017a8b9b749409514f1053"
     "027fd16c3786ea1bac5f15cb79711ee2abe82f5cf8b13ae73030ef5b9e4457e7"
     "5d1304f988d62dd6fc4b94ed38ba831da4b7634971b6cd8ec325d9c61c00f1df"
     "73627ed3745a5e8489f3a95c69639c32cd6e1d537a85f75cc844726e8a72fc00"
     "77ad22000f1d5078f6b866318c668f1ad03d5a5fced5219f2eabbd0aa5c0f460"
     "d183f04404a0d6f469558e81fab24a167905ab4c7878502ad3e38fdbe62a4155"
     "6cec37325759533ce8f25f367c87bb5578d667ae93f9e2fd99bcbc5f2fbba88c"
     "f6516139420fcff3b7361d86322c4bd84c82f335abb152c4a93411373aaa8220"},
    {14, 0xffffffffff,
     "64497e5a831e4a932c09be3e5393376daa599548b816031d224bbf50a818ed23"
     "50eae7e96087c8a0db51ad290bd00c1ac1620857635bf246c176ab463be30b80"
     "8da548081ac847b158e1264be25bb0910bbc92647108089415d45fab1b3d2604"
     "e8a8eff1ae4020cfa39936b66827b23f371b92200be90251e6d73c5f86de5fd4"
     "a950781933d79a28272b782a2ec313efdfcc0628f43d744c2dc2ff3dcb66999b"
     "50c7ca895b0c64791eeaa5f29499fb1c026f84ce5b5c72ba1083cddb5ce45434"
     "631665c333b60b11593fb253c5179a2c8db813782a004856a1653011e93fb6d8"
     "76c18366dd8683f53412c0c180f9c848592d593f8609ca736317d356e13e2bff"
     "3a9f59cd9aeb19cd482593d8c46128bb32423b37a9adfb482b99453fbe25a41b"
     "f6feb4aa0bef5ed24bf73c762978025482c13115e4015aac992e5613a3b5c2f6"
     "85b84795cb6e9b2656d8c88157e52c42f978d8634c43d06fea928f2822e465aa"
     "6576e9bf419384506cc3ce3c54ac1a6f67dc66f3b30191e698380bc999b05abc"
     "e19dc0c6dcc2dd001ec535ba18deb2df1a101023108318c75dc98611a09dc48a"
     "0acdec676fabdf222f07e026f059b672b56e5cbc8e1d21bbd867dd9272120546"
     "81d70ea737134cdfce93b6f82ae22423274e58a0821cc5502e2d0ab4585e94de"
     "6975be5e0b4efce51cd3e70c25a1fbbbd609d273ad5b0d59631c531f6a0a57b9"},
};

/* One context per direction serves all five vectors: this also checks that
 * changing only the tweak between units is enough. */
static void xts_ieee1619_vectors_10_to_14(void)
{
    uint8_t key[NVSF_XTS_KEY_SIZE], pt[512], ct[512], out[512], tweak[16];
    CHECK(unhex(ieee_key, key, sizeof key) == sizeof key);
    for (size_t i = 0; i < sizeof pt; i++)
        pt[i] = (uint8_t)i;
    nvsf_error err = {0};
    nvsf_xts *enc = NULL, *dec = NULL;
    CHECK(nvsf_xts_new(&enc, key, 1, &err) == NVSF_OK);
    CHECK(nvsf_xts_new(&dec, key, 0, &err) == NVSF_OK);
    if (!enc || !dec)
        goto out;
    for (size_t v = 0; v < sizeof ieee / sizeof ieee[0]; v++) {
        CHECK(unhex(ieee[v].ciphertext, ct, sizeof ct) == sizeof ct);
        nvsf_xts_tweak_from_offset(ieee[v].sequence, tweak);
        CHECK(nvsf_xts_unit(enc, tweak, pt, out, 512, &err) == NVSF_OK);
        CHECK(memcmp(out, ct, sizeof ct) == 0);
        CHECK(nvsf_xts_unit(dec, tweak, ct, out, 512, &err) == NVSF_OK);
        CHECK(memcmp(out, pt, sizeof pt) == 0);
    }
out:
    nvsf_xts_free(enc);
    nvsf_xts_free(dec);
}

/* IEEE 1619 has no 32-byte XTS-AES-256 vector; NIST CAVP does. This is
 * XTSGenAES256.rsp (CAVS 11.0, "tweak-128hexstr"), [ENCRYPT] COUNT = 1,
 * DataUnitLen = 256: the size of one NVS entry. */
static void xts_nist_cavp_32_byte_unit(void)
{
    uint8_t key[64], tweak[16], pt[32], ct[32], out[32];
    unhex("1ea661c58d943a0e4801e42f4b0947149e7f9f8e3e68d0c7505210bd311a0e7c"
          "d6e13ffdf2418d8d1911c004cda58da3d619b7e2b9141e58318eea392cf41b08",
          key, sizeof key);
    unhex("adf8d92627464ad2f0428e84a9f87564", tweak, sizeof tweak);
    unhex("2eedea52cd8215e1acc647e810bbc3642e87287f8d2e57e36c0a24fbc12a202e",
          pt, sizeof pt);
    unhex("cbaad0e2f6cea3f50b37f934d46a9b130b9d54f07e34f36af793e86f73c6d7db",
          ct, sizeof ct);
    nvsf_xts *enc = NULL, *dec = NULL;
    CHECK(nvsf_xts_new(&enc, key, 1, NULL) == NVSF_OK);
    CHECK(nvsf_xts_new(&dec, key, 0, NULL) == NVSF_OK);
    if (!enc || !dec)
        goto out;
    CHECK(nvsf_xts_unit(enc, tweak, pt, out, 32, NULL) == NVSF_OK);
    CHECK(memcmp(out, ct, 32) == 0);
    CHECK(nvsf_xts_unit(dec, tweak, ct, out, 32, NULL) == NVSF_OK);
    CHECK(memcmp(out, pt, 32) == 0);

    /* In place, as the image code calls it. */
    memcpy(out, pt, 32);
    CHECK(nvsf_xts_unit(enc, tweak, out, out, 32, NULL) == NVSF_OK);
    CHECK(memcmp(out, ct, 32) == 0);
    CHECK(nvsf_xts_unit(dec, tweak, out, out, 32, NULL) == NVSF_OK);
    CHECK(memcmp(out, pt, 32) == 0);
out:
    nvsf_xts_free(enc);
    nvsf_xts_free(dec);
}

static void xts_tweak_from_offset(void)
{
    uint8_t tweak[16];
    memset(tweak, 0xAA, sizeof tweak);
    nvsf_xts_tweak_from_offset(0x1040, tweak);
    static const uint8_t want_1040[16] = {0x40, 0x10};
    CHECK(memcmp(tweak, want_1040, 16) == 0);

    memset(tweak, 0xAA, sizeof tweak);
    nvsf_xts_tweak_from_offset(0x0123456789abcdefu, tweak);
    static const uint8_t want_long[16] = {0xef, 0xcd, 0xab, 0x89,
                                          0x67, 0x45, 0x23, 0x01};
    CHECK(memcmp(tweak, want_long, 16) == 0);
}

/* Units are whole blocks: no ciphertext stealing, so a unit that is not a
 * multiple of 16 is refused, by both back ends alike. */
static void xts_unit_lengths(void)
{
    uint8_t key[64], tweak[16] = {0}, buf[48] = {0};
    for (int i = 0; i < 64; i++)
        key[i] = (uint8_t)i;
    nvsf_xts *x = NULL;
    nvsf_error err = {0};
    CHECK(nvsf_xts_new(&x, key, 1, &err) == NVSF_OK);
    if (!x)
        return;
    CHECK(nvsf_xts_unit(x, tweak, buf, buf, 15, &err) == NVSF_E_USAGE);
    CHECK(err.code == NVSF_E_USAGE);
    CHECK(strcmp(err.message, "an XTS data unit of 15 bytes (need a multiple "
                              "of 16)") == 0);
    CHECK(nvsf_xts_unit(x, tweak, buf, buf, 40, &err) == NVSF_E_USAGE);
    CHECK(nvsf_xts_unit(x, tweak, buf, buf, 0, &err) == NVSF_E_USAGE);
    CHECK(nvsf_xts_unit(x, tweak, buf, buf, 16, &err) == NVSF_OK);
    CHECK(nvsf_xts_unit(x, tweak, buf, buf, 48, &err) == NVSF_OK);
    nvsf_xts_free(x);
    nvsf_xts_free(NULL);
}

/* Equal halves: refused for encryption, accepted for decryption so that
 * data written under such a key can still be read (OpenSSL 3.0's default
 * provider does the same: providers/implementations/ciphers/cipher_aes_xts.c,
 * allow_insecure_decrypt). */
static void xts_identical_key_halves(void)
{
    uint8_t key[64];
    for (int i = 0; i < 64; i++)
        key[i] = (uint8_t)(i % 32);
    static char sentinel;
    nvsf_xts *x = (nvsf_xts *)&sentinel; /* a failed new must set it NULL */
    nvsf_error err = {0};
    CHECK(nvsf_xts_new(&x, key, 1, &err) == NVSF_E_CRYPTO);
    CHECK(x == NULL);
    CHECK(err.code == NVSF_E_CRYPTO);
    CHECK(strcmp(err.message,
                 "the XTS key's data and tweak halves are identical") == 0);

    CHECK(nvsf_xts_new(&x, key, 0, &err) == NVSF_OK);
    uint8_t tweak[16] = {0}, buf[32] = {0};
    if (x)
        CHECK(nvsf_xts_unit(x, tweak, buf, buf, 32, &err) == NVSF_OK);
    nvsf_xts_free(x);
}

/* ---- hashes ---------------------------------------------------------------- */

/* FIPS 180-2, appendix B: "abc" and the two-block message; and "". */
static void sha256_fips180(void)
{
    uint8_t md[NVSF_SHA256_SIZE];
    CHECK(nvsf_sha256("abc", 3, md, NULL) == NVSF_OK);
    CHECK(same_hex(md, "ba7816bf8f01cfea414140de5dae2223"
                       "b00361a396177a9cb410ff61f20015ad"));
    static const char two[] =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK(nvsf_sha256(two, strlen(two), md, NULL) == NVSF_OK);
    CHECK(same_hex(md, "248d6a61d20638b8e5c026930c3e6039"
                       "a33ce45964ff2167f6ecedd419db06c1"));
    CHECK(nvsf_sha256("", 0, md, NULL) == NVSF_OK);
    CHECK(same_hex(md, "e3b0c44298fc1c149afbf4c8996fb924"
                       "27ae41e4649b934ca495991b7852b855"));
}

/* The same two-block message given in pieces of every length from 1 to 9,
 * and nothing at all. */
static void sha256_stream_fips180(void)
{
    static const char two[] =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    for (size_t piece = 1; piece < 10; piece++) {
        nvsf_sha256_stream *s = NULL;
        uint8_t md[NVSF_SHA256_SIZE] = {0};
        CHECK(nvsf_sha256_stream_new(&s, NULL) == NVSF_OK);
        if (!s)
            return;
        for (size_t at = 0; at < strlen(two); at += piece) {
            size_t n = strlen(two) - at < piece ? strlen(two) - at : piece;
            CHECK(nvsf_sha256_stream_add(s, two + at, n, NULL) == NVSF_OK);
        }
        CHECK(nvsf_sha256_stream_end(s, md, NULL) == NVSF_OK);
        nvsf_sha256_stream_free(s);
        CHECK(same_hex(md, "248d6a61d20638b8e5c026930c3e6039"
                           "a33ce45964ff2167f6ecedd419db06c1"));
    }
    nvsf_sha256_stream *s = NULL;
    uint8_t md[NVSF_SHA256_SIZE] = {0};
    CHECK(nvsf_sha256_stream_new(&s, NULL) == NVSF_OK);
    CHECK(s && nvsf_sha256_stream_end(s, md, NULL) == NVSF_OK);
    nvsf_sha256_stream_free(s);
    CHECK(same_hex(md, "e3b0c44298fc1c149afbf4c8996fb924"
                       "27ae41e4649b934ca495991b7852b855"));
}

/* RFC 4231, test cases 2 (short key) and 6 (a key longer than a block). */
static void hmac_sha256_rfc4231(void)
{
    uint8_t md[NVSF_SHA256_SIZE], key[131];
    static const char data2[] = "what do ya want for nothing?";
    CHECK(nvsf_hmac_sha256((const uint8_t *)"Jefe", 4, data2, strlen(data2),
                           md, NULL) == NVSF_OK);
    CHECK(same_hex(md, "5bdcc146bf60754e6a042426089575c7"
                       "5a003f089d2739839dec58b964ec3843"));
    memset(key, 0xaa, sizeof key);
    static const char data6[] =
        "Test Using Larger Than Block-Size Key - Hash Key First";
    CHECK(nvsf_hmac_sha256(key, sizeof key, data6, strlen(data6), md, NULL) ==
          NVSF_OK);
    CHECK(same_hex(md, "60e431591ee0b67f0d8a26aacbf5b77f"
                       "8e0bc6213728c5140546040f0ee37f54"));
}

/* ESP-IDF's HMAC-based key scheme (the seeds live in lib/keys.c), for the
 * HMAC key 00 01 .. 1f; the value computed with Python's hmac module.
 * tests/unit/test_keys.c checks it against the reference tool's output. */
static void key_from_hmac(void)
{
    uint8_t hmac_key[NVSF_HMAC_KEY_SIZE], xts[NVSF_XTS_KEY_SIZE];
    for (unsigned i = 0; i < NVSF_HMAC_KEY_SIZE; i++)
        hmac_key[i] = (uint8_t)i;
    CHECK(nvsf_key_from_hmac(hmac_key, xts, NULL) == NVSF_OK);
    CHECK(same_hex(xts, "813a141220ddb819f4d73d59fa3032ab"
                        "9f592cc26a18cf1fde692f712b6a025c"
                        "b20ad6b6ddd1658a6e14d1b5b726e423"
                        "56adf4ff2f68fcd8826ac2908408addf"));
}

/* RFC 6070 (PBKDF2-HMAC-SHA1): cases 1, 3 and 5; IEEE 802.11i-2004,
 * annex H.4.1: the WPA PMK of passphrase "password", SSID "IEEE", which is
 * what ap.pmk_info holds. */
static void pbkdf2_hmac_sha1(void)
{
    uint8_t out[32];
    CHECK(nvsf_pbkdf2_hmac_sha1("password", 8, "salt", 4, 1, out, 20, NULL) ==
          NVSF_OK);
    CHECK(same_hex(out, "0c60c80f961f0e71f3a9b524af6012062fe037a6"));
    CHECK(nvsf_pbkdf2_hmac_sha1("password", 8, "salt", 4, 4096, out, 20,
                                NULL) == NVSF_OK);
    CHECK(same_hex(out, "4b007901b765489abead49d926f721d065a429c1"));
    CHECK(nvsf_pbkdf2_hmac_sha1("passwordPASSWORDpassword", 24,
                                "saltSALTsaltSALTsaltSALTsaltSALTsalt", 36,
                                4096, out, 25, NULL) == NVSF_OK);
    CHECK(same_hex(out, "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038"));
    CHECK(nvsf_pbkdf2_hmac_sha1("password", 8, "IEEE", 4, 4096, out, 32,
                                NULL) == NVSF_OK);
    CHECK(same_hex(out, "f42c6fc52df0ebef9ebb4b90b38a5f90"
                        "2e83fe1b135a70e23aed762e9710a12e"));
    /* Empty password and salt, which the reader can meet in an image
     * (computed with Python's hashlib). */
    CHECK(nvsf_pbkdf2_hmac_sha1(NULL, 0, NULL, 0, 1, out, 20, NULL) ==
          NVSF_OK);
    CHECK(same_hex(out, "1e437a1c79d75be61e91141dae20affc4892cc99"));
}

/* ---- random, CRC -------------------------------------------------------- */

/* Not a test of quality, which no test can show: the generator answers,
 * fills the whole buffer, and two draws differ. */
static void random_bytes(void)
{
    uint8_t a[4096], b[4096];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    CHECK(nvsf_random_bytes(a, sizeof a, NULL) == NVSF_OK);
    CHECK(nvsf_random_bytes(b, sizeof b, NULL) == NVSF_OK);
    CHECK(memcmp(a, b, sizeof a) != 0);
    int zero_tail = 1; /* the last 64 bytes all zero: 2^-512 */
    for (size_t i = sizeof a - 64; i < sizeof a; i++)
        zero_tail &= a[i] == 0;
    CHECK(!zero_tail);
    CHECK(nvsf_random_bytes(a, 0, NULL) == NVSF_OK);
}

/* NVS's CRC: the CRC-32 check value of "123456789" is 0xCBF43926 from a
 * zero seed; NVS seeds with 0xFFFFFFFF (as zlib.crc32(data, 0xFFFFFFFF)). */
static void crc32_nvs(void)
{
    CHECK(nvsf_crc32("123456789", 9) == 0xD202D277u);
    CHECK(nvsf_crc32("", 0) == 0xFFFFFFFFu);
    uint8_t ff[32];
    memset(ff, 0xFF, sizeof ff);
    CHECK(nvsf_crc32(ff, sizeof ff) == 0x19990159u);
}

int main(void)
{
    xts_ieee1619_vectors_10_to_14();
    xts_nist_cavp_32_byte_unit();
    xts_tweak_from_offset();
    xts_unit_lengths();
    xts_identical_key_halves();
    sha256_fips180();
    sha256_stream_fips180();
    hmac_sha256_rfc4231();
    key_from_hmac();
    pbkdf2_hmac_sha1();
    random_bytes();
    crc32_nvs();
    return check_summary("crypto known-answer tests");
}
