/* test_sha256ni.c: the SHA-NI hash class against BearSSL's br_sha256_vtable:
 * digests over many lengths and every split point, state/set_state, HMAC
 * through br_hmac, and the forced fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/sha256ni.h"

/* xorshift: deterministic "random" data, no libc rand state */
static void fill(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 24);
	}
}

static void digest(const br_hash_class *h, const unsigned char *p, size_t n, size_t split,
		   unsigned char out[32])
{
	br_hash_compat_context c;

	h->init(&c.vtable);
	assert_ptr_equal(c.vtable, h);
	h->update(&c.vtable, p, split);
	h->update(&c.vtable, p + split, n - split);
	h->out(&c.vtable, out);
}

/* The class under test: SHA-NI, or the test is skipped on CPUs without it. */
static const br_hash_class *ni_or_skip(void)
{
	const br_hash_class *ni = sha256ni_class();

	if (!ni) {
		fprintf(stderr, "# no SHA-NI on this CPU: NI class not tested\n");
		skip();
	}
	return ni;
}

static void test_descriptor(void **state)
{
	const br_hash_class *ni = ni_or_skip();

	assert_ptr_not_equal(ni, &br_sha256_vtable);
	assert_int_equal(ni->desc, br_sha256_vtable.desc);
	assert_true(ni->context_size <= sizeof(br_hash_compat_context));
	assert_int_equal((ni->desc >> BR_HASHDESC_OUT_OFF) & BR_HASHDESC_OUT_MASK, 32);
	assert_int_equal((ni->desc >> BR_HASHDESC_ID_OFF) & BR_HASHDESC_ID_MASK, br_sha256_ID);
	assert_ptr_equal(sha256_class(), ni);
}

static void test_known_answers(void **state)
{
	const br_hash_class *ni = ni_or_skip();
	unsigned char d[32];
	char hex[65];

	digest(ni, (const unsigned char *)"abc", 3, 1, d);
	hash_hex(d, 32, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	digest(ni, (const unsigned char *)"", 0, 0, d);
	hash_hex(d, 32, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* Every length 0..300, every split point, against BearSSL. */
static void test_all_lengths_all_splits(void **state)
{
	const br_hash_class *ni = ni_or_skip();
	unsigned char data[301], want[32], got[32];
	size_t n, s;

	for (n = 0; n <= 300; n++) {
		fill(data, n, n);
		digest(&br_sha256_vtable, data, n, 0, want);
		for (s = 0; s <= n; s++) {
			digest(ni, data, n, s, got);
			if (memcmp(want, got, 32) != 0)
				fail_msg("length %zu split %zu differs", n, s);
		}
	}
}

/* Large inputs, unaligned starts, and many small uneven updates. */
static void test_large(void **state)
{
	static const size_t sizes[] = { 4096, 65536 + 7, 1000003 };
	const br_hash_class *ni = ni_or_skip();
	unsigned char want[32], got[32];
	size_t i, off;

	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		unsigned char *data = malloc(n + 3);

		assert_non_null(data);
		fill(data, n + 3, 1000 + i);
		for (off = 0; off < 3; off++) {
			br_hash_compat_context c;
			size_t pos = 0, step = 1;

			digest(&br_sha256_vtable, data + off, n, n / 3, want);
			digest(ni, data + off, n, n / 3 + off, got);
			assert_memory_equal(want, got, 32);
			ni->init(&c.vtable);
			while (pos < n) {
				size_t k = step < n - pos ? step : n - pos;

				ni->update(&c.vtable, data + off + pos, k);
				pos += k;
				step = step * 7 % 197 + 1;
			}
			ni->out(&c.vtable, got);
			assert_memory_equal(want, got, 32);
		}
		free(data);
	}
}

/* out() leaves the context usable: hash more after reading a digest. */
static void test_out_then_continue(void **state)
{
	const br_hash_class *ni = ni_or_skip();
	unsigned char data[200], want[32], got[32];
	br_hash_compat_context c;

	fill(data, sizeof data, 7);
	ni->init(&c.vtable);
	ni->update(&c.vtable, data, 70);
	ni->out(&c.vtable, got);
	digest(&br_sha256_vtable, data, 70, 0, want);
	assert_memory_equal(want, got, 32);
	ni->update(&c.vtable, data + 70, 130);
	ni->out(&c.vtable, got);
	digest(&br_sha256_vtable, data, 200, 0, want);
	assert_memory_equal(want, got, 32);
}

/* state() output is BearSSL's format: each class restores the other's. */
static void test_state_round_trip(void **state)
{
	const br_hash_class *ni = ni_or_skip();
	unsigned char data[300], st_b[32], st_n[32], want[32], got[32];
	br_hash_compat_context b, n;
	size_t cut;

	fill(data, sizeof data, 42);
	for (cut = 0; cut <= 256; cut += 64) {
		uint64_t cb, cn;

		br_sha256_vtable.init(&b.vtable);
		br_sha256_vtable.update(&b.vtable, data, cut);
		ni->init(&n.vtable);
		ni->update(&n.vtable, data, cut);
		cb = br_sha256_vtable.state(&b.vtable, st_b);
		cn = ni->state(&n.vtable, st_n);
		assert_int_equal(cb, cut);
		assert_int_equal(cn, cut);
		assert_memory_equal(st_b, st_n, 32);

		/* restore BearSSL's state into a fresh NI context and finish */
		ni->init(&n.vtable);
		ni->set_state(&n.vtable, st_b, cb);
		ni->update(&n.vtable, data + cut, sizeof data - cut);
		ni->out(&n.vtable, got);
		digest(&br_sha256_vtable, data, sizeof data, 0, want);
		assert_memory_equal(want, got, 32);

		/* and the NI state into BearSSL */
		br_sha256_vtable.init(&b.vtable);
		br_sha256_vtable.set_state(&b.vtable, st_n, cn);
		br_sha256_vtable.update(&b.vtable, data + cut, sizeof data - cut);
		br_sha256_vtable.out(&b.vtable, got);
		assert_memory_equal(want, got, 32);
	}
}

static void hmac(const br_hash_class *h, const unsigned char *key, size_t key_len,
		 const unsigned char *msg, size_t n, size_t out_len, unsigned char out[32])
{
	br_hmac_key_context kc;
	br_hmac_context c;

	br_hmac_key_init(&kc, h, key, key_len);
	br_hmac_init(&c, &kc, out_len);
	br_hmac_update(&c, msg, n / 2);
	br_hmac_update(&c, msg + n / 2, n - n / 2);
	memset(out, 0, 32);
	br_hmac_out(&c, out);
}

static void test_hmac_same_as_bearssl(void **state)
{
	const br_hash_class *ni = ni_or_skip();
	unsigned char key[200], msg[300], want[32], got[32];
	size_t kl, ml;

	for (kl = 0; kl <= 200; kl += 13) {
		fill(key, kl, 500 + kl);
		for (ml = 0; ml <= 300; ml += 29) {
			fill(msg, ml, ml);
			hmac(&br_sha256_vtable, key, kl, msg, ml, 0, want);
			hmac(ni, key, kl, msg, ml, 0, got);
			if (memcmp(want, got, 32) != 0)
				fail_msg("key %zu msg %zu differs", kl, ml);
		}
	}
	/* truncated output (br_hmac_init out_len) */
	hmac(&br_sha256_vtable, key, 20, msg, 100, 16, want);
	hmac(ni, key, 20, msg, 100, 16, got);
	assert_memory_equal(want, got, 32);
}

/* RFC 4231 case 2 through the NI class. */
static void test_hmac_rfc4231(void **state)
{
	const br_hash_class *ni = ni_or_skip();
	static const char msg[] = "what do ya want for nothing?";
	unsigned char mac[32];
	char hex[65];

	hmac(ni, (const unsigned char *)"Jefe", 4, (const unsigned char *)msg, strlen(msg), 0, mac);
	hash_hex(mac, 32, hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* The fallback: forced portable, sha256_class() is BearSSL's, and hash.c
 * (which goes through sha256_class()) gives the same answers either way. */
static void test_forced_fallback(void **state)
{
	unsigned char data[150], d_fast[32], d_port[32], m_fast[32], m_port[32];

	fill(data, sizeof data, 99);
	hash_sha256(data, sizeof data, d_fast);
	hash_hmac_sha256(data, 40, data + 40, 110, m_fast);
	if (sha256ni_available())
		assert_ptr_equal(sha256_class(), sha256ni_class());
	else
		assert_ptr_equal(sha256_class(), &br_sha256_vtable);

	sha256ni_force_portable(1);
	assert_ptr_equal(sha256_class(), &br_sha256_vtable);
	hash_sha256(data, sizeof data, d_port);
	hash_hmac_sha256(data, 40, data + 40, 110, m_port);
	sha256ni_force_portable(0);

	assert_memory_equal(d_fast, d_port, 32);
	assert_memory_equal(m_fast, m_port, 32);
	assert_ptr_not_equal(sha256_class(), NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor),
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_all_lengths_all_splits),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_out_then_continue),
		cmocka_unit_test(test_state_round_trip),
		cmocka_unit_test(test_hmac_same_as_bearssl),
		cmocka_unit_test(test_hmac_rfc4231),
		cmocka_unit_test(test_forced_fallback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
