/* rolloutrec.c: the rollout plan in part items (see rolloutrec.h). */
#include "core/rollout/rolloutrec.h"

#include "aws/ddb.h"
#include "base/hash.h"
#include "core/store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The end of the next part: at most max bytes, never inside a UTF-8
 * sequence (an S value must be valid UTF-8). */
static size_t cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

int rolloutrec_write_plan(struct aws *a, const char *table, const char *id, const char *plan_json,
			  cJSON *head, size_t *writes, tp_err *e)
{
	size_t len = strlen(plan_json), off = 0;
	char hex[HASH_SHA256_HEX_LEN], sha[17];
	hash_sha256_hex(plan_json, len, hex);
	snprintf(sha, sizeof sha, "%.16s", hex);
	long n = 0;
	int rc = TP_OK;
	if (writes)
		*writes = 0;
	do {
		size_t k = cut(plan_json + off, len - off, ROLLOUTREC_PART_BYTES);
		char *chunk = tp_xstrndup(plan_json + off, k);
		rc = store_rollout_plan_put(a, table, id, sha, n, chunk, e);
		free(chunk);
		if (writes)
			(*writes)++;
		off += k;
		n++;
	} while (rc == TP_OK && off < len);
	if (rc < 0)
		return rc;
	ddb_put_str(head, "plan_sha", sha);
	ddb_put_long(head, "plan_parts", n);
	ddb_put_long(head, "plan_bytes", (long)len);
	return TP_OK;
}

int rolloutrec_read_plan(struct aws *a, const char *table, const char *id, const cJSON *head,
			 char **plan_json, tp_err *e)
{
	*plan_json = NULL;
	const char *inline_plan = ddb_get_str(head, "plan", NULL), *sha = ddb_get_str(head, "plan_sha", NULL);
	if (inline_plan || !sha) {
		*plan_json = tp_xstrdup(inline_plan ? inline_plan : "[]");
		return TP_OK;
	}
	long parts = ddb_get_long(head, "plan_parts", 0), bytes = ddb_get_long(head, "plan_bytes", -1);
	buf text = { 0 };
	int rc = TP_OK;
	for (long n = 0; n < parts && rc == TP_OK; n++) {
		char *t = NULL;
		rc = store_rollout_plan_get(a, table, id, sha, n, &t, e);
		if (rc == TP_OK && !t) {
			char *pk = store_pk_rollout_plan(id, sha, n);
			rc = tp_errf(e, TP_ENOTFOUND, "RolloutPlanMissing", "rollout %s: plan part %s is missing", id, pk);
			free(pk);
		} else if (rc == TP_OK) {
			buf_adds(&text, t);
		}
		free(t);
	}
	char hex[HASH_SHA256_HEX_LEN];
	if (rc == TP_OK) {
		buf_add(&text, "", 0);
		hash_sha256_hex(buf_str(&text), text.len, hex);
		if ((long)text.len != bytes || strncmp(hex, sha, 16) != 0)
			rc = tp_errf(e, TP_EINVAL, "RolloutPlanDamaged",
				     "rollout %s: the plan's %ld parts give %zu bytes with SHA-256 %.16s, the head "
				     "names %ld bytes, %s", id, parts, text.len, hex, bytes, sha);
	}
	if (rc == TP_OK)
		*plan_json = tp_xstrdup(buf_str(&text));
	buf_free(&text);
	return rc;
}

void rolloutrec_drop_plan(struct aws *a, const char *table, const char *id, const cJSON *old_head,
			  const char *keep_sha)
{
	const char *sha = ddb_get_str(old_head, "plan_sha", NULL);
	if (!sha || (keep_sha && strcmp(sha, keep_sha) == 0))
		return;
	long parts = ddb_get_long(old_head, "plan_parts", 0);
	for (long n = 0; n < parts; n++) {
		tp_err ignored = { 0 };
		store_rollout_plan_delete(a, table, id, sha, n, &ignored);
	}
}
