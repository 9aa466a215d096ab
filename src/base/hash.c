/* hash.c: owns SHA-256, HMAC-SHA-256 and hex encoding, as thin wrappers over
 * BearSSL. Pure: no allocation, no global state. */
#include "base/hash.h"

#include "base/sha256ni.h"

#include <bearssl.h>
#include <string.h>

void hash_sha256(const void *data, size_t len, unsigned char out[HASH_SHA256_LEN])
{
	const br_hash_class *h = sha256_class(); /* SHA-NI when the CPU has it */
	br_hash_compat_context c;

	h->init(&c.vtable);
	h->update(&c.vtable, data, len);
	h->out(&c.vtable, out);
}

void hash_sha1_hex(const void *data, size_t len, char out[HASH_SHA1_HEX_LEN])
{
	br_sha1_context c;
	unsigned char d[br_sha1_SIZE];
	br_sha1_init(&c);
	br_sha1_update(&c, data, len);
	br_sha1_out(&c, d);
	hash_hex(d, sizeof d, out);
}

_Static_assert(sizeof(br_hash_compat_context) <= sizeof(((struct hash_sha256_stream *)0)->state),
	       "hash_sha256_stream too small for BearSSL's context");

void hash_sha256_begin(struct hash_sha256_stream *s)
{
	br_hash_compat_context *c = (br_hash_compat_context *)(void *)&s->state;
	sha256_class()->init(&c->vtable);
	s->len = 0;
}

void hash_sha256_update(struct hash_sha256_stream *s, const void *data, size_t len)
{
	br_hash_compat_context *c = (br_hash_compat_context *)(void *)&s->state;
	c->vtable->update(&c->vtable, data, len);
	s->len += len;
}

void hash_sha256_end(struct hash_sha256_stream *s, unsigned char out[HASH_SHA256_LEN])
{
	br_hash_compat_context *c = (br_hash_compat_context *)(void *)&s->state;
	c->vtable->out(&c->vtable, out);
}

void hash_sha256_hex(const void *data, size_t len, char out[HASH_SHA256_HEX_LEN])
{
	unsigned char d[HASH_SHA256_LEN];

	hash_sha256(data, len, d);
	hash_hex(d, sizeof d, out);
}

void hash_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
		      unsigned char out[HASH_SHA256_LEN])
{
	br_hmac_key_context kc;
	br_hmac_context c;

	br_hmac_key_init(&kc, sha256_class(), key, key_len);
	br_hmac_init(&c, &kc, 0);
	br_hmac_update(&c, data, len);
	br_hmac_out(&c, out);
	/* Both contexts hold state derived from the key, which may be secret. */
	explicit_bzero(&kc, sizeof kc);
	explicit_bzero(&c, sizeof c);
}

void hash_hex(const unsigned char *bytes, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}
