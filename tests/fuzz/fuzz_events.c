/* fuzz_events.c: libFuzzer target for incoming Lambda event classification
 * (src/runtime/evclass.c). Input: the event's JSON text (any bytes).
 * Properties: classification either succeeds with a known kind (records
 * pointing into the event for stream/SNS batches, names all strings of
 * the event for apply/plan, at least one for apply) or fails TP_EINVAL
 * with UnrecognizedEvent/InvalidRequest and a message; a decoded S3 key is
 * never longer than its encoding and holds no NUL, or is refused with why. */
#include <cjson/cJSON.h>
#include <stdio.h>

#include "runtime/evclass.h"
#include "fuzz_fields.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_key(const char *key)
{
	const char *why = NULL;
	char *k = evclass_s3_key_decode(key, &why);
	if (k) {
		CHECK(strlen(k) <= strlen(key));
		free(k);
	} else {
		CHECK(why && *why);
	}
}

/* SNS records carry S3 records in a JSON string: decode each key found. */
static void check_sns(const cJSON *records)
{
	const cJSON *r, *s3r;
	cJSON_ArrayForEach(r, records) {
		const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "Sns"), "Message"));
		cJSON *m = msg ? cJSON_Parse(msg) : NULL;
		cJSON_ArrayForEach(s3r, cJSON_GetObjectItem(m, "Records")) {
			const char *key = cJSON_GetStringValue(
				cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(s3r, "s3"), "object"), "key"));
			if (key)
				check_key(key);
		}
		cJSON_Delete(m);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fields fs;
	fields_split(&fs, data, size);
	check_key(fs.f[0]);
	cJSON *ev = cJSON_ParseWithLength((const char *)data, size);
	if (ev) {
		struct ev_class c;
		tp_err e;
		memset(&e, 0, sizeof e);
		int rc = evclass_classify(ev, &c, &e);
		if (rc == TP_OK) {
			CHECK(strcmp(evclass_kind_name(c.kind), "unknown") != 0);
			if (c.kind == EV_STREAM || c.kind == EV_SNS)
				CHECK(c.records == cJSON_GetObjectItem(ev, "Records") && cJSON_GetArraySize(c.records) > 0);
			else
				CHECK(c.records == NULL);
			if (c.kind == EV_APPLY)
				CHECK(c.n > 0);
			if (c.kind != EV_APPLY && c.kind != EV_PLAN)
				CHECK(c.n == 0 && c.names == NULL);
			for (size_t i = 0; i < c.n; i++)
				CHECK(c.names[i] != NULL);
			if (c.kind == EV_SNS)
				check_sns(c.records);
			evclass_free(&c);
		} else {
			CHECK(rc == TP_EINVAL && e.rc == TP_EINVAL);
			CHECK(strcmp(e.code, "UnrecognizedEvent") == 0 || strcmp(e.code, "InvalidRequest") == 0);
			CHECK(e.message[0] != 0);
		}
		cJSON_Delete(ev);
	}
	fields_free(&fs);
	return 0;
}
