/* hash.h: SHA-256 and HMAC-SHA-256 over BearSSL, hex output. Pure: no allocation. */
#ifndef TP_HASH_H
#define TP_HASH_H

#include <stddef.h>

#define HASH_SHA256_LEN 32
#define HASH_SHA256_HEX_LEN 65 /* 64 hex digits + NUL */

void hash_sha256(const void *data, size_t len, unsigned char out[HASH_SHA256_LEN]);
void hash_sha256_hex(const void *data, size_t len, char out[HASH_SHA256_HEX_LEN]);
void hash_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
		      unsigned char out[HASH_SHA256_LEN]);
void hash_hex(const unsigned char *bytes, size_t n, char *out); /* out: 2n+1 */

#endif
