/* pool_json.c: the concurrency pool report (see pool_json.h). */
#include "runtime/pool_json.h"

#include <cjson/cJSON.h>
#include <stdio.h>

cJSON *pool_json(const struct pool_account *pa, const tp_err *why, const struct pool_demand *d)
{
	cJSON *o = cJSON_CreateObject();
	long demand = d->max_concurrency + d->reserved;
	cJSON_AddNumberToObject(o, "pipelines", (double)d->pipelines);
	cJSON_AddNumberToObject(o, "max_concurrency", (double)d->max_concurrency);
	cJSON_AddNumberToObject(o, "reserved", (double)d->reserved);
	cJSON_AddNumberToObject(o, "demand", (double)demand);
	if (!pa) {
		cJSON_AddStringToObject(o, "account_error", why && why->message[0] ? why->message : "unknown");
		return o;
	}
	cJSON_AddNumberToObject(o, "account_limit", (double)pa->limit);
	cJSON_AddNumberToObject(o, "unreserved", (double)pa->unreserved);
	cJSON_AddNumberToObject(o, "unreserved_min", (double)pa->minimum);
	cJSON_AddBoolToObject(o, "unreserved_min_learned", pa->minimum_learned);
	cJSON_AddNumberToObject(o, "reservable", (double)(pa->unreserved - pa->minimum));
	cJSON_AddBoolToObject(o, "over_limit", demand > pa->limit);
	return o;
}

void pool_line(char *out, size_t len, const struct pool_account *pa, const tp_err *why,
	       const struct pool_demand *d)
{
	long demand = d->max_concurrency + d->reserved;
	if (!pa) {
		snprintf(out, len,
			 "concurrency pool: %ld pipelines ask %ld (MaximumConcurrency %ld + reserved %ld); account unknown "
			 "(GetAccountSettings: %.80s)",
			 d->pipelines, demand, d->max_concurrency, d->reserved,
			 why && why->code[0] ? why->code : why && why->message[0] ? why->message : "not asked");
		return;
	}
	snprintf(out, len,
		 "concurrency pool: %ld pipelines ask %ld (MaximumConcurrency %ld + reserved %ld) of the account's %ld; %ld unreserved, %ld kept%s, %ld more can be reserved%s",
		 d->pipelines, demand, d->max_concurrency, d->reserved, pa->limit, pa->unreserved, pa->minimum,
		 pa->minimum_learned ? " (as Lambda named it)" : "", pa->unreserved - pa->minimum,
		 demand > pa->limit ? "; OVER the limit: mappings are throttled when the pool runs short" : "");
}
