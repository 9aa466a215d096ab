/* json.c: small cJSON helpers (see json.h). */
#include "base/json.h"
#include "base/base.h"
#include "base/hash.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void hash_str(struct hash_sha256_stream *s, char tag, const char *str)
{
	char head[32];
	size_t n = str ? strlen(str) : 0;
	int k = snprintf(head, sizeof head, "%c%zu:", tag, n);
	hash_sha256_update(s, head, (size_t)k);
	hash_sha256_update(s, str ? str : "", n);
}

static int cmp_key(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

void json_hash_canonical(struct hash_sha256_stream *s, const cJSON *v)
{
	if (!v || cJSON_IsNull(v)) {
		hash_sha256_update(s, "z", 1);
	} else if (cJSON_IsFalse(v) || cJSON_IsTrue(v)) {
		hash_sha256_update(s, cJSON_IsTrue(v) ? "t" : "f", 1);
	} else if (cJSON_IsString(v)) {
		hash_str(s, 's', v->valuestring);
	} else if (cJSON_IsRaw(v)) {
		hash_str(s, 'n', v->valuestring);
	} else if (cJSON_IsNumber(v)) {
		char num[32];
		snprintf(num, sizeof num, "%.17g", v->valuedouble);
		hash_str(s, 'n', num);
	} else if (cJSON_IsArray(v)) {
		hash_sha256_update(s, "[", 1);
		for (const cJSON *c = v->child; c; c = c->next)
			json_hash_canonical(s, c);
		hash_sha256_update(s, "]", 1);
	} else if (cJSON_IsObject(v)) {
		const cJSON *small[32], **m = small;
		size_t n = 0;
		for (const cJSON *c = v->child; c; c = c->next)
			n++;
		if (n > sizeof small / sizeof small[0])
			m = tp_xcalloc(n, sizeof *m);
		n = 0;
		for (const cJSON *c = v->child; c; c = c->next)
			m[n++] = c;
		qsort(m, n, sizeof *m, cmp_key);
		hash_sha256_update(s, "{", 1);
		for (size_t i = 0; i < n; i++) {
			hash_str(s, 'k', m[i]->string);
			json_hash_canonical(s, m[i]);
		}
		hash_sha256_update(s, "}", 1);
		if (m != small)
			free(m);
	}
}
