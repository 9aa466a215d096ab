/* test_hash.c: SHA-256 (FIPS 180-2 examples), HMAC-SHA-256 (RFC 4231) and hex. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include <string.h>

#include "base/hash.h"

static void test_sha256_empty(void **state)
{
	char hex[HASH_SHA256_HEX_LEN];

	hash_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_sha256_abc(void **state)
{
	char hex[HASH_SHA256_HEX_LEN];
	unsigned char raw[HASH_SHA256_LEN];

	hash_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hash_sha256("abc", 3, raw);
	assert_int_equal(raw[0], 0xba);
	assert_int_equal(raw[31], 0xad);
}

static void test_sha256_two_blocks(void **state)
{
	static const char m[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char hex[HASH_SHA256_HEX_LEN];

	hash_sha256_hex(m, strlen(m), hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* RFC 4231 test case 2: key "Jefe" */
static void test_hmac_rfc4231_case2(void **state)
{
	unsigned char mac[HASH_SHA256_LEN];
	char hex[HASH_SHA256_HEX_LEN];
	static const char msg[] = "what do ya want for nothing?";

	hash_hmac_sha256("Jefe", 4, msg, strlen(msg), mac);
	hash_hex(mac, sizeof mac, hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* RFC 4231 test case 6: a 131-byte key (longer than the block, hashed first) */
static void test_hmac_rfc4231_case6(void **state)
{
	unsigned char key[131], mac[HASH_SHA256_LEN];
	char hex[HASH_SHA256_HEX_LEN];
	static const char msg[] = "Test Using Larger Than Block-Size Key - Hash Key First";

	memset(key, 0xaa, sizeof key);
	hash_hmac_sha256(key, sizeof key, msg, strlen(msg), mac);
	hash_hex(mac, sizeof mac, hex);
	assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_hex(void **state)
{
	static const unsigned char b[] = { 0x00, 0x0f, 0xa5, 0xff };
	char out[9];

	memset(out, 'x', sizeof out);
	hash_hex(b, sizeof b, out);
	assert_string_equal(out, "000fa5ff");
	hash_hex(b, 0, out);
	assert_string_equal(out, "");
}

/* Streaming in uneven pieces gives the one-shot digest (a 1 MiB object
 * streamed from S3 in whatever chunks curl hands over). */
static void test_sha256_stream(void **state)
{
	(void)state;
	size_t n = 1u << 20;
	unsigned char *data = malloc(n);
	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 2654435761u >> 13);
	unsigned char want[HASH_SHA256_LEN], got[HASH_SHA256_LEN];
	hash_sha256(data, n, want);
	struct hash_sha256_stream s;
	hash_sha256_begin(&s);
	size_t off = 0, step = 1;
	while (off < n) {
		size_t k = step < n - off ? step : n - off;
		hash_sha256_update(&s, data + off, k);
		off += k;
		step = step * 3 + 7;
	}
	assert_int_equal(s.len, n);
	hash_sha256_end(&s, got);
	assert_memory_equal(got, want, sizeof want);
	/* begin restarts (a retried download) */
	hash_sha256_begin(&s);
	hash_sha256_update(&s, "junk", 4);
	hash_sha256_begin(&s);
	hash_sha256_update(&s, data, n);
	hash_sha256_end(&s, got);
	assert_memory_equal(got, want, sizeof want);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_empty),
		cmocka_unit_test(test_sha256_abc),
		cmocka_unit_test(test_sha256_two_blocks),
		cmocka_unit_test(test_hmac_rfc4231_case2),
		cmocka_unit_test(test_hmac_rfc4231_case6),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_sha256_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
