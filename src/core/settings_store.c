/* settings_store.c: the stored shared settings (see settings_store.h). */
#include "core/settings_store.h"

#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "base/base.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

int settings_store_merge(struct aws *a, struct settings *s, cJSON **record, int *found, char *conflict,
			 size_t len, tp_err *e)
{
	*record = NULL;
	*found = 0;
	conflict[0] = 0;
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", s->state_table);
	cJSON_AddItemToObject(in, "Key", ddb_key("pk", STORE_PK_SETTINGS));
	cJSON_AddBoolToObject(in, "ConsistentRead", 1);
	int rc = awsj_call(a, SVC_DYNAMODB, "GetItem", in, &out, e);
	cJSON_Delete(in);
	if (rc == TP_ENOTFOUND || (rc < 0 && strstr(e->code, "ResourceNotFound"))) {
		tp_err_clear(e); /* no state table yet (before init): nothing stored */
		cJSON_Delete(out);
		return TP_OK;
	}
	if (rc < 0) {
		cJSON_Delete(out);
		return rc;
	}
	*record = cJSON_DetachItemFromObject(out, "Item");
	cJSON_Delete(out);
	if (!*record)
		return TP_OK;
	*found = 1;
	size_t used = 0;
	for (size_t i = 0; i < settings_shared_n; i++) {
		const char *stored = ddb_get_str(*record, settings_table[settings_shared[i].id].name, NULL);
		const char **mine = settings_field(s, i);
		if (!stored)
			continue; /* not part of the stored set: this process's own */
		if (!(s->given & (1u << i))) {
			*mine = stored;
		} else if (!*mine || strcmp(*mine, stored) != 0) {
			int n = snprintf(conflict + used, len - used, "%s%s is \"%s\" here but \"%s\" in the stored settings",
					 used ? "; " : "", settings_table[settings_shared[i].id].env, *mine ? *mine : "", stored);
			if (n > 0 && (size_t)n < len - used)
				used += (size_t)n;
		}
	}
	if (used)
		snprintf(conflict + used, len - used,
			 " (%s in %s): unset it to use the stored value, or --settings-from-env to store this one",
			 STORE_PK_SETTINGS, s->state_table);
	return TP_OK;
}

int settings_store_save(struct aws *a, const struct settings *s, int if_absent, int *written, tp_err *e)
{
	*written = 0;
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", s->state_table);
	cJSON *item = cJSON_AddObjectToObject(in, "Item");
	ddb_put_str(item, "pk", STORE_PK_SETTINGS);
	for (size_t i = 0; i < settings_shared_n; i++) {
		const char *v = *settings_field((struct settings *)s, i);
		if (v && *v)
			ddb_put_str(item, settings_table[settings_shared[i].id].name, v);
	}
	ddb_put_long(item, "updated_at", (long)(tp_now_ms() / 1000));
	if (if_absent)
		cJSON_AddStringToObject(in, "ConditionExpression", "attribute_not_exists(pk)");
	int rc = awsj_call(a, SVC_DYNAMODB, "PutItem", in, &out, e);
	cJSON_Delete(in);
	cJSON_Delete(out);
	if (rc < 0 && if_absent && strcmp(e->code, "ConditionalCheckFailedException") == 0) {
		tp_err_clear(e); /* another process stored one first */
		return TP_OK;
	}
	*written = rc == TP_OK;
	return rc;
}
