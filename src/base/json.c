/* json.c: small cJSON helpers (see json.h). */
#include "base/json.h"
#include "base/base.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void json_init_hooks(void)
{
	/* cJSON's own allocations then abort like tp_xmalloc's instead of
	 * returning NULL to callers that use the result unchecked. cJSON gives
	 * up realloc for custom hooks: printing copies once more when it grows. */
	cJSON_Hooks h = { .malloc_fn = tp_xmalloc, .free_fn = free };
	cJSON_InitHooks(&h);
}

void json_value_str(const cJSON *v, char *out, size_t len)
{
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (d == floor(d) && fabs(d) < 1e15)
			snprintf(out, len, "%lld", (long long)d);
		else
			snprintf(out, len, "%.17g", d);
	} else if (cJSON_IsString(v)) {
		snprintf(out, len, "%s", v->valuestring);
	} else if (cJSON_IsBool(v)) {
		snprintf(out, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
	} else if (!v || cJSON_IsNull(v)) {
		snprintf(out, len, "(none)");
	} else {
		char *s = cJSON_PrintUnformatted(v);
		snprintf(out, len, "%s", s);
		free(s);
	}
}
