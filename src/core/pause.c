/* pause.c: a pause's effect on a spec and on the input hash (see pause.h). */
#include "core/pause.h"

#include "base/hash.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

void pause_spec(cJSON *spec)
{
	cJSON *m = cJSON_GetObjectItemCaseSensitive(spec, "mapping");
	if (!cJSON_IsObject(m)) {
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "mapping");
		m = cJSON_AddObjectToObject(spec, "mapping");
	}
	if (cJSON_GetObjectItemCaseSensitive(m, "Enabled"))
		cJSON_ReplaceItemInObjectCaseSensitive(m, "Enabled", cJSON_CreateFalse());
	else
		cJSON_AddFalseToObject(m, "Enabled");
}

void pause_input_hash(char hash[65])
{
	char text[80];
	snprintf(text, sizeof text, "%s\npaused", hash);
	hash_sha256_hex(text, strlen(text), hash);
}
