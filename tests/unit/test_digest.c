/* Unit tests for common/core/digest.c: the test vectors of FIPS 180-2, RFC 2202 and RFC 4231. */
#include <string.h>

#include "core/digest.h"
#include "tap.h"

void test_digest(void);

static const char *
hex(const unsigned char *md, size_t n)
{
	static char out[2 * SHA256_LEN + 1];

	digest_hex(md, n, out);
	return out;
}

static const char *
sha256_of(const char *s)
{
	unsigned char md[SHA256_LEN];

	sha256(s, strlen(s), md);
	return hex(md, SHA256_LEN);
}

static const char *
hmac1(const unsigned char *key, size_t keylen, const char *msg)
{
	unsigned char md[SHA1_LEN];

	hmac_sha1(key, keylen, msg, strlen(msg), md);
	return hex(md, SHA1_LEN);
}

static const char *
hmac256(const unsigned char *key, size_t keylen, const char *msg)
{
	unsigned char md[SHA256_LEN];

	hmac_sha256(key, keylen, msg, strlen(msg), md);
	return hex(md, SHA256_LEN);
}

void
test_digest(void)
{
	static const char big_msg[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	unsigned char k20[20], k80[80], k131[131];

	memset(k20, 0x0b, sizeof(k20));
	memset(k80, 0xaa, sizeof(k80));
	memset(k131, 0xaa, sizeof(k131));
	CHECK_STR(sha256_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "sha256: empty");
	CHECK_STR(sha256_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "sha256: abc");
	CHECK_STR(hmac1(k20, sizeof(k20), "Hi There"), "b617318655057264e28bc0b6fb378c8ef146be00",
	    "hmac-sha1: RFC 2202 case 1");
	CHECK_STR(hmac1((const unsigned char *)"Jefe", 4, "what do ya want for nothing?"),
	    "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", "hmac-sha1: RFC 2202 case 2");
	CHECK_STR(hmac1(k80, sizeof(k80), big_msg), "aa4ae5e15272d00e95705637ce8a3b55ed402112",
	    "hmac-sha1: RFC 2202 case 6, a key longer than a block");
	CHECK_STR(hmac256(k20, sizeof(k20), "Hi There"),
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", "hmac-sha256: RFC 4231 case 1");
	CHECK_STR(hmac256((const unsigned char *)"Jefe", 4, "what do ya want for nothing?"),
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "hmac-sha256: RFC 4231 case 2");
	CHECK_STR(hmac256(k131, sizeof(k131), big_msg),
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
	    "hmac-sha256: RFC 4231 case 6, a key longer than a block");
	CHECK_STR(hmac256((const unsigned char *)"", 0, ""),
	    "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad",
	    "hmac-sha256: empty key and message");
}
