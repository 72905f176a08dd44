/*
 * SHA-256 and HMAC, for dedup keys, credential checks and CallRail's signature.
 *
 * Built on libcrypto's direct digest functions (SHA256_Init and friends), not on EVP: in OpenSSL 3
 * the first EVP digest loads the provider machinery, which adds about 1.8 MB to every worker's
 * resident memory, while a worker only ever needs these two digests. The direct functions are
 * deprecated in OpenSSL 3 but present; should they go, only digest.c changes.
 */
#ifndef CALLHOOK_DIGEST_H
#define CALLHOOK_DIGEST_H

#include <stddef.h>

#define SHA1_LEN 20
#define SHA256_LEN 32

void sha256(const void *p, size_t n, unsigned char out[SHA256_LEN]);
void hmac_sha1(const void *key, size_t keylen, const void *msg, size_t n, unsigned char out[SHA1_LEN]);
void hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n, unsigned char out[SHA256_LEN]);

/* Writes the n bytes of md as 2n lowercase hex digits and a NUL into out. */
void digest_hex(const unsigned char *md, size_t n, char *out);

#endif
