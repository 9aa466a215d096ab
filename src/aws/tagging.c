/* tagging.c: the Resource Groups Tagging API's requests (see tagging.h). */
#include "aws/tagging.h"
#include "aws/awsjson.h"

#include <cjson/cJSON.h>

void tagging_get_resources(struct aws_call *c, const char *tag_key, const char *tag_value,
			   const char *resource_type, int per_page, const char *token)
{
	cJSON *in = cJSON_CreateObject();
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "Key", tag_key);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(f, "Values"), cJSON_CreateString(tag_value));
	cJSON_AddItemToArray(cJSON_AddArrayToObject(in, "TagFilters"), f);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(in, "ResourceTypeFilters"), cJSON_CreateString(resource_type));
	cJSON_AddNumberToObject(in, "ResourcesPerPage", per_page);
	if (token)
		cJSON_AddStringToObject(in, "PaginationToken", token);
	awsj_prepare(c, SVC_TAGGING, "GetResources", in);
}
