/* emf.c: Embedded Metric Format lines (see emf.h). */
#include "runtime/emf.h"
#include "base/base.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int emf_mode_parse(const char *s, enum emf_mode *out)
{
	if (!s || !*s || strcmp(s, "fleet") == 0)
		*out = EMF_FLEET;
	else if (strcmp(s, "off") == 0)
		*out = EMF_OFF;
	else if (strcmp(s, "detailed") == 0)
		*out = EMF_DETAILED;
	else
		return -1;
	return 0;
}

static const char *dim_value(const struct emf_doc *d, const char *key)
{
	for (int i = 0; d->dims[i] && d->dims[i + 1]; i += 2)
		if (strcmp(d->dims[i], key) == 0)
			return d->dims[i + 1];
	return NULL;
}

static int set_usable(const struct emf_doc *d, const char *const *set)
{
	for (int k = 0; set[k]; k++)
		if (!dim_value(d, set[k]) || !*dim_value(d, set[k]))
			return 0;
	return 1;
}

char *emf_format(const struct emf_doc *d)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *aws = cJSON_AddObjectToObject(root, "_aws");
	cJSON_AddNumberToObject(aws, "Timestamp", (double)d->timestamp_ms);
	cJSON *dir = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(aws, "CloudWatchMetrics"), dir);
	cJSON_AddStringToObject(dir, "Namespace", d->ns ? d->ns : EMF_NAMESPACE);
	cJSON *sets = cJSON_AddArrayToObject(dir, "Dimensions");
	for (int s = 0; s < (d->n_sets > 0 ? d->n_sets : 1); s++) {
		static const char *const empty[] = { NULL };
		const char *const *set = d->n_sets > 0 ? d->sets[s] : empty;
		if (!set_usable(d, set))
			continue;
		cJSON *a = cJSON_CreateArray();
		for (int k = 0; set[k] && k < EMF_MAX_SET_KEYS; k++)
			cJSON_AddItemToArray(a, cJSON_CreateString(set[k]));
		cJSON_AddItemToArray(sets, a);
	}
	if (cJSON_GetArraySize(sets) == 0)
		cJSON_AddItemToArray(sets, cJSON_CreateArray());
	cJSON *defs = cJSON_AddArrayToObject(dir, "Metrics");
	for (int i = 0; d->dims[i] && d->dims[i + 1]; i += 2)
		if (!cJSON_GetObjectItemCaseSensitive(root, d->dims[i]))
			cJSON_AddStringToObject(root, d->dims[i], d->dims[i + 1]);
	for (size_t m = 0; m < d->n_metrics && m < 100; m++) {
		const struct emf_metric *x = &d->metrics[m];
		if (cJSON_GetObjectItemCaseSensitive(root, x->name))
			continue;   /* a target member holds one metric */
		cJSON *def = cJSON_CreateObject();
		cJSON_AddStringToObject(def, "Name", x->name);
		cJSON_AddStringToObject(def, "Unit", x->unit ? x->unit : "None");
		cJSON_AddItemToArray(defs, def);
		if (x->n_values) {
			cJSON *v = cJSON_AddArrayToObject(root, x->name);
			for (size_t j = 0; j < x->n_values && j < EMF_MAX_VALUES; j++)
				cJSON_AddItemToArray(v, cJSON_CreateNumber(x->values[j]));
		} else {
			cJSON_AddNumberToObject(root, x->name, x->value);
		}
	}
	for (const char *const *p = d->props; p && p[0] && p[1]; p += 2)
		if (!cJSON_GetObjectItemCaseSensitive(root, p[0]))
			cJSON_AddStringToObject(root, p[0], p[1]);
	char *s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return s;
}

void emf_emit(const struct emf_doc *d)
{
	char *s = emf_format(d);
	size_t n = strlen(s);
	char *line = tp_xmalloc(n + 2);
	memcpy(line, s, n);
	line[n] = '\n';
	fwrite(line, 1, n + 1, stderr);   /* one write: a whole line in the log */
	fflush(stderr);
	free(line);
	free(s);
}
