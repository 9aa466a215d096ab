/* test_base64.c: the one base64 (base/base64.c): RFC 4648's vectors both
 * ways, binary bytes, and text that is not base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/base64.h"

static void test_rfc4648_vectors(void **state)
{
	(void)state;
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	for (int i = 0; i < 7; i++) {
		char out[16];
		base64_encode(plain[i], strlen(plain[i]), out);
		assert_string_equal(out, coded[i]);
		assert_int_equal(strlen(out), BASE64_LEN(strlen(plain[i])));
		char *back;
		size_t n;
		assert_int_equal(base64_decode(coded[i], &back, &n), 0);
		assert_int_equal(n, strlen(plain[i]));
		assert_memory_equal(back, plain[i], n);
		free(back);
	}
}

static void test_binary_and_bad_input(void **state)
{
	(void)state;
	const unsigned char bytes[] = { 0x00, 0xff, 0xfe, 0x3e, 0x3f };
	char *s = base64_encode_dup(bytes, sizeof bytes);
	assert_string_equal(s, "AP/+Pj8=");
	char *back;
	size_t n;
	assert_int_equal(base64_decode(s, &back, &n), 0);
	assert_int_equal(n, sizeof bytes);
	assert_memory_equal(back, bytes, n);
	free(back);
	free(s);
	assert_int_equal(base64_decode("Zg=", &back, &n), -1);      /* length */
	assert_int_equal(base64_decode("Z===", &back, &n), -1);     /* padding too early */
	assert_int_equal(base64_decode("Zg==Zg==", &back, &n), -1); /* padding inside */
	assert_int_equal(base64_decode("Zm9*", &back, &n), -1);     /* foreign character */
	assert_int_equal(base64_decode("Zg=v", &back, &n), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_binary_and_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
