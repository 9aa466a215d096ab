/* jsonnum.c: JSON with number text kept (see jsonnum.h).
 *
 * cJSON has no raw-number mode on parse. Rather than a second JSON parser,
 * the text cJSON has accepted is scanned once for its number tokens: outside
 * strings a JSON value that starts with '-' or a digit is a number, and cJSON
 * builds its tree in document order, so the k-th number token is the k-th
 * number node of a depth-first walk. */
#include "base/jsonnum.h"

#include "base/base.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* The next number token in [*p, end), or NULL; *len its length. */
static const char *next_number(const char **p, const char *end, size_t *len)
{
	const char *s = *p;
	while (s < end) {
		if (*s == '"') {
			for (s++; s < end && *s != '"'; s++)
				if (*s == '\\' && s + 1 < end)
					s++;
			s++;
		} else if (*s == '-' || (*s >= '0' && *s <= '9')) {
			const char *t = s;
			/* the characters cJSON's parse_number takes */
			while (s < end && *s && strchr("0123456789+-.eE", *s))
				s++;
			*len = (size_t)(s - t);
			*p = s;
			return t;
		} else {
			s++;
		}
	}
	*p = s;
	return NULL;
}

/* Depth first, in document order: every number node takes the next token. */
static int attach(cJSON *node, const char **p, const char *end)
{
	for (; node; node = node->next) {
		if (cJSON_IsNumber(node)) {
			size_t len = 0;
			const char *t = next_number(p, end, &len);
			if (!t)
				return -1;
			char *text = tp_xmalloc(len + 1);
			memcpy(text, t, len);
			text[len] = 0;
			node->type = cJSON_Raw;
			node->valuestring = text; /* cJSON_Delete frees it */
		} else if (node->child && attach(node->child, p, end) < 0) {
			return -1;
		}
	}
	return 0;
}

cJSON *jsonnum_parse(const char *text)
{
	const char *end = NULL;
	return jsonnum_parse_next(text, &end);
}

cJSON *jsonnum_parse_next(const char *text, const char **end)
{
	*end = text;
	cJSON *j = cJSON_ParseWithOpts(text, end, 0);
	if (!j) {
		*end = cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : text;
		return NULL;
	}
	const char *p = text;
	if (attach(j, &p, *end) < 0) { /* cannot happen for text cJSON accepted */
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

void jsonnum_raw_to_numbers(cJSON *j)
{
	for (; j; j = j->next) {
		if (cJSON_IsRaw(j)) {
			/* as cJSON_Parse reads a number: strtod, valueint saturated */
			double d = strtod(j->valuestring, NULL);
			cJSON_free(j->valuestring);
			j->valuestring = NULL;
			j->type = cJSON_Number;
			cJSON_SetNumberValue(j, d);
		} else if (j->child) {
			jsonnum_raw_to_numbers(j->child);
		}
	}
}
