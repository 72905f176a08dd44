/* SHA-256 and HMAC (RFC 2104) on libcrypto's direct digest functions; see digest.h for why not EVP. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "core/digest.h"

#define BLOCK 64 /* the block size of SHA-1 and SHA-256 */

/* One hash function as HMAC needs it: the size of its output, and its hash of two pieces in a row. */
struct hash {
	size_t len;
	void (*two)(const void *, size_t, const void *, size_t, unsigned char *);
};

/* SHA-1 of a[0..an) followed by b[0..bn). (SHA-1 and SHA-256 have contexts of different types.) */
static void
sha1_two(const void *a, size_t an, const void *b, size_t bn, unsigned char *out)
{
	SHA_CTX c;

	SHA1_Init(&c);
	SHA1_Update(&c, a, an);
	SHA1_Update(&c, b, bn);
	SHA1_Final(out, &c);
}

static void
sha256_two(const void *a, size_t an, const void *b, size_t bn, unsigned char *out)
{
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Update(&c, a, an);
	SHA256_Update(&c, b, bn);
	SHA256_Final(out, &c);
}

static const struct hash HASH_SHA1 = { SHA1_LEN, sha1_two };
static const struct hash HASH_SHA256 = { SHA256_LEN, sha256_two };

void
sha256(const void *p, size_t n, unsigned char out[SHA256_LEN])
{
	sha256_two(p, n, "", 0, out);
}

/* HMAC(key, msg) = H((K ^ opad) || H((K ^ ipad) || msg)), K the key (hashed when longer than a block). */
static void
hmac(const struct hash *h, const void *key, size_t keylen, const void *msg, size_t n, unsigned char *out)
{
	unsigned char k[BLOCK] = { 0 }, pad[BLOCK], inner[SHA256_LEN];
	size_t i;

	if (keylen > BLOCK)
		h->two(key, keylen, "", 0, k);
	else if (keylen > 0)
		memcpy(k, key, keylen);
	for (i = 0; i < BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	h->two(pad, BLOCK, msg, n, inner);
	for (i = 0; i < BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	h->two(pad, BLOCK, inner, h->len, out);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
}

void
hmac_sha1(const void *key, size_t keylen, const void *msg, size_t n, unsigned char out[SHA1_LEN])
{
	hmac(&HASH_SHA1, key, keylen, msg, n, out);
}

void
hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n, unsigned char out[SHA256_LEN])
{
	hmac(&HASH_SHA256, key, keylen, msg, n, out);
}

void
digest_hex(const unsigned char *md, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[2 * n] = '\0';
}
