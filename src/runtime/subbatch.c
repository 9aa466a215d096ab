/* subbatch.c: cutting an SQS event into sub-batches and merging their
 * answers (see subbatch.h). */
#include "runtime/subbatch.h"

#include <cjson/cJSON.h>
#include <string.h>

static const cJSON *record_id(const cJSON *rec)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "messageId");
	return cJSON_IsString(id) ? id : NULL;
}

cJSON *subbatch_event(const cJSON *event, int from, int count)
{
	cJSON *o = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(o, "Records");
	const cJSON *recs = cJSON_GetObjectItemCaseSensitive(event, "Records");
	for (int i = from; i < from + count; i++) {
		const cJSON *r = cJSON_GetArrayItem(recs, i);
		if (r)
			cJSON_AddItemToArray(list, cJSON_Duplicate(r, 1));
	}
	return o;
}

static int listed(const cJSON *failures, const char *id)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, failures) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, "itemIdentifier");
		if (cJSON_IsString(v) && strcmp(v->valuestring, id) == 0)
			return 1;
	}
	return 0;
}

/* 1 when id is a messageId of records from .. from+count-1. */
static int in_range(const cJSON *event, int from, int count, const char *id)
{
	const cJSON *recs = cJSON_GetObjectItemCaseSensitive(event, "Records");
	for (int i = from; i < from + count; i++) {
		const cJSON *rid = record_id(cJSON_GetArrayItem(recs, i));
		if (rid && strcmp(rid->valuestring, id) == 0)
			return 1;
	}
	return 0;
}

static int add(cJSON *failures, const char *id)
{
	if (listed(failures, id))
		return 0;
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "itemIdentifier", id);
	cJSON_AddItemToArray(failures, f);
	return 1;
}

void subbatch_fail(cJSON *failures, const cJSON *event, int from, int count)
{
	const cJSON *recs = cJSON_GetObjectItemCaseSensitive(event, "Records");
	for (int i = from; i < from + count; i++) {
		const cJSON *rid = record_id(cJSON_GetArrayItem(recs, i));
		if (rid)
			add(failures, rid->valuestring);
	}
}

int subbatch_merge(cJSON *failures, const cJSON *answer, const cJSON *event, int from, int count)
{
	const cJSON *list = cJSON_IsObject(answer) ? cJSON_GetObjectItemCaseSensitive(answer, "batchItemFailures")
						   : NULL;
	if (!list || cJSON_IsNull(list))
		return 0;
	int valid = cJSON_IsArray(list);
	const cJSON *f;
	if (valid)
		cJSON_ArrayForEach(f, list) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, "itemIdentifier");
			if (!cJSON_IsString(v) || !v->valuestring[0] || !in_range(event, from, count, v->valuestring))
				valid = 0;
		}
	if (!valid) {
		int before = cJSON_GetArraySize(failures);
		subbatch_fail(failures, event, from, count);
		return cJSON_GetArraySize(failures) - before;
	}
	int n = 0;
	cJSON_ArrayForEach(f, list)
		n += add(failures, cJSON_GetObjectItemCaseSensitive(f, "itemIdentifier")->valuestring);
	return n;
}
