/* hash.h: SHA-256 and HMAC-SHA-256 over BearSSL, hex output. Pure: no allocation. */
#ifndef TP_HASH_H
#define TP_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_SHA256_LEN 32
#define HASH_SHA256_HEX_LEN 65 /* 64 hex digits + NUL */

void hash_sha256(const void *data, size_t len, unsigned char out[HASH_SHA256_LEN]);
void hash_sha256_hex(const void *data, size_t len, char out[HASH_SHA256_HEX_LEN]);
void hash_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
		      unsigned char out[HASH_SHA256_LEN]);
/* SHA-1, hex (the AWS CLI names SSO token cache files by it). */
#define HASH_SHA1_HEX_LEN 41
void hash_sha1_hex(const void *data, size_t len, char out[HASH_SHA1_HEX_LEN]);
void hash_hex(const unsigned char *bytes, size_t n, char *out); /* out: 2n+1 */

/* Incremental SHA-256, for data that never sits in memory whole (a code
 * object streamed from S3). The caller owns the context; BearSSL's state
 * lives in it opaquely and has no pointer into itself, so a copy (plain
 * assignment) carries on independently: a prefix shared by many hashes is
 * hashed once. */
struct hash_sha256_stream {
	union {
		unsigned char bytes[512];
		uint64_t align;
		void *ptr;
	} state;                   /* a br_hash_compat_context */
	uint64_t len;              /* bytes hashed so far */
};
void hash_sha256_begin(struct hash_sha256_stream *s);
void hash_sha256_update(struct hash_sha256_stream *s, const void *data, size_t len);
void hash_sha256_end(struct hash_sha256_stream *s, unsigned char out[HASH_SHA256_LEN]);

#endif
