/* test_pause.c: what an operator's pause does to a spec and the input hash
 * (core/pause.h), and the pause#<name> record read back (core/store.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/pause.h"
#include "core/store.h"

static void spec_mapping_disabled(void **state)
{
	(void)state;
	cJSON *spec = cJSON_Parse("{\"mapping\":{\"BatchSize\":10,\"Enabled\":true},\"queue\":{}}");
	pause_spec(spec);
	cJSON *m = cJSON_GetObjectItem(spec, "mapping");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(m, "Enabled")));
	assert_int_equal(cJSON_GetObjectItem(m, "BatchSize")->valueint, 10); /* the rest kept */
	cJSON_Delete(spec);
	/* no mapping part, or Enabled absent: added */
	spec = cJSON_Parse("{\"queue\":{}}");
	pause_spec(spec);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "mapping"), "Enabled")));
	cJSON_Delete(spec);
}

static void input_hash_differs_and_is_stable(void **state)
{
	(void)state;
	char a[65], b[65];
	memset(a, 'a', 64);
	a[64] = 0;
	memcpy(b, a, sizeof a);
	pause_input_hash(a);
	assert_int_equal(strlen(a), 64);
	assert_string_not_equal(a, b);
	pause_input_hash(b);
	assert_string_equal(a, b);
}

static void pause_record_round_trip(void **state)
{
	(void)state;
	cJSON *item = cJSON_Parse("{\"pk\":{\"S\":\"pause#a\"},\"pipeline\":{\"S\":\"a\"},"
				  "\"paused_by\":{\"S\":\"ops@h\"},\"paused_at\":{\"N\":\"1700000000\"},"
				  "\"reason\":{\"S\":\"tenant asked\"}}");
	struct store_pause p;
	store_pause_from_item(item, &p);
	assert_string_equal(p.name, "a");
	assert_string_equal(p.by, "ops@h");
	assert_string_equal(p.reason, "tenant asked");
	assert_int_equal(p.at, 1700000000);
	store_pause_free(&p);
	cJSON_Delete(item);
	store_pause_from_item(NULL, &p); /* no record: not paused */
	assert_null(p.name);
	store_pause_free(&p);
	char *pk = store_pk_pause("x");
	assert_string_equal(pk, "pause#x");
	free(pk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spec_mapping_disabled),
		cmocka_unit_test(input_hash_differs_and_is_stable),
		cmocka_unit_test(pause_record_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
