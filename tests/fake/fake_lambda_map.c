/* fake_lambda_map.c: the fake Lambda's indexes: a string hash map (50,000
 * functions and mappings looked up in O(1)) and the creation order that
 * List* pages walk. */
#include "fake/fake_lambda_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t lmap_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;       /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static size_t find(const struct lmap *m, const char *key)
{
	size_t i = lmap_hash(key) & (m->cap - 1);
	while (m->v[i].key && strcmp(m->v[i].key, key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

void *lmap_get(const struct lmap *m, const char *key)
{
	if (!m->n)
		return NULL;
	return m->v[find(m, key)].val;
}

static void grow(struct lmap *m)
{
	struct lmap old = *m;
	m->cap = old.cap ? old.cap * 2 : 64;
	m->v = tp_xcalloc(m->cap, sizeof *m->v);
	m->n = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.v[i].key)
			lmap_put(m, old.v[i].key, old.v[i].val);
	free(old.v);
}

void lmap_put(struct lmap *m, const char *key, void *val)
{
	if ((m->n + 1) * 2 > m->cap)
		grow(m);
	size_t i = find(m, key);
	if (!m->v[i].key)
		m->n++;
	m->v[i].key = key;
	m->v[i].val = val;
}

void lmap_del(struct lmap *m, const char *key)
{
	if (!m->n)
		return;
	size_t i = find(m, key);
	if (!m->v[i].key)
		return;
	m->v[i].key = NULL;
	m->v[i].val = NULL;
	m->n--;
	/* backward shift: move up the entries whose probe passed through i */
	size_t mask = m->cap - 1;
	for (size_t j = (i + 1) & mask; m->v[j].key; j = (j + 1) & mask) {
		size_t home = lmap_hash(m->v[j].key) & mask;
		/* j's entry may fill the hole at i when home is not in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			m->v[i] = m->v[j];
			m->v[j].key = NULL;
			m->v[j].val = NULL;
			i = j;
		}
	}
}

void lmap_free(struct lmap *m)
{
	free(m->v);
	memset(m, 0, sizeof *m);
}

/* ---- creation order ---- */

static void compact(struct lorder *o)
{
	size_t k = 0;
	for (size_t i = 0; i < o->n; i++)
		if (o->v[i]) {
			o->v[k] = o->v[i];
			o->seq[k++] = o->seq[i];
		}
	o->n = k;
	o->holes = 0;
}

void lorder_add(struct lorder *o, void *obj, int64_t seq)
{
	if (o->n == o->cap) {
		if (o->holes > o->n / 4) {
			compact(o);
		} else {
			o->cap = o->cap ? o->cap * 2 : 64;
			o->v = tp_xrealloc(o->v, o->cap * sizeof *o->v);
			o->seq = tp_xrealloc(o->seq, o->cap * sizeof *o->seq);
		}
	}
	o->v[o->n] = obj;
	o->seq[o->n++] = seq;
}

size_t lorder_from(const struct lorder *o, int64_t seq)
{
	size_t lo = 0, hi = o->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->seq[mid] < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void lorder_remove(struct lorder *o, int64_t seq)
{
	size_t i = lorder_from(o, seq);
	if (i < o->n && o->seq[i] == seq && o->v[i]) {
		o->v[i] = NULL;
		o->holes++;
	}
}

void lorder_free(struct lorder *o)
{
	free(o->v);
	free(o->seq);
	memset(o, 0, sizeof *o);
}

/* An opaque-looking marker: AWS's are opaque too, clients only echo them. */
#define MARK_SALT 0x5bd1e995ULL

void lmarker_of(int64_t seq, char out[32])
{
	snprintf(out, 32, "fk%llx", (unsigned long long)((uint64_t)seq ^ MARK_SALT));
}

int64_t lmarker_seq(const char *m)
{
	if (!m || strncmp(m, "fk", 2) != 0 || !m[2] || strlen(m) > 18)
		return -1;
	char *end;
	unsigned long long v = strtoull(m + 2, &end, 16);
	if (*end)
		return -1;
	int64_t seq = (int64_t)(v ^ MARK_SALT);
	return seq < 0 ? -1 : seq;
}
