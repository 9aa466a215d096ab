/* wire.c: cJSON trees <-> tagged binary (see wire.h). */
#include "script/wire.h"

#include <cjson/cJSON.h>

#include <stdlib.h>
#include <string.h>

void wire_put_u32(buf *b, uint32_t v)
{
	unsigned char h[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 24) };
	buf_add(b, h, 4);
}

static void put_bytes(buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	wire_put_u32(b, (uint32_t)n);
	buf_add(b, s ? s : "", n);
}

void wire_put_str(buf *b, const char *s)
{
	put_bytes(b, s);
}

void wire_put(buf *b, const cJSON *j)
{
	if (!j || cJSON_IsNull(j) || cJSON_IsInvalid(j)) {
		buf_addc(b, 'n');
	} else if (cJSON_IsFalse(j)) {
		buf_addc(b, 'f');
	} else if (cJSON_IsTrue(j)) {
		buf_addc(b, 't');
	} else if (cJSON_IsNumber(j)) {
		uint64_t u;
		memcpy(&u, &j->valuedouble, 8);
		unsigned char d[9] = { 'd' };
		for (int i = 0; i < 8; i++)
			d[1 + i] = (unsigned char)(u >> (8 * i));
		buf_add(b, d, 9);
	} else if (cJSON_IsRaw(j) || cJSON_IsString(j)) {
		buf_addc(b, cJSON_IsRaw(j) ? 'r' : 's');
		put_bytes(b, j->valuestring);
	} else {
		int obj = cJSON_IsObject(j);
		buf_addc(b, obj ? 'o' : 'a');
		uint32_t n = 0;
		for (const cJSON *c = j->child; c; c = c->next)
			n++;
		wire_put_u32(b, n);
		for (const cJSON *c = j->child; c; c = c->next) {
			if (obj)
				put_bytes(b, c->string);
			wire_put(b, c);
		}
	}
}

int wire_get_u32(struct wire_in *in, uint32_t *v)
{
	if (in->end - in->p < 4)
		return -1;
	*v = (uint32_t)in->p[0] | (uint32_t)in->p[1] << 8 | (uint32_t)in->p[2] << 16 | (uint32_t)in->p[3] << 24;
	in->p += 4;
	return 0;
}

/* cJSON's allocation failures abort (as its hooks do in taskpipe). */
static cJSON *must(cJSON *j)
{
	if (!j)
		abort();
	return j;
}

/* A length-prefixed byte string as a new C string (cJSON's allocator). */
static char *get_text(struct wire_in *in)
{
	uint32_t n;
	if (wire_get_u32(in, &n) < 0 || (size_t)(in->end - in->p) < n || memchr(in->p, 0, n))
		return NULL;
	char *s = cJSON_malloc((size_t)n + 1);
	if (!s)
		abort(); /* out of memory, as cJSON's own allocations */
	memcpy(s, in->p, n);
	s[n] = 0;
	in->p += n;
	return s;
}

int wire_get_str(struct wire_in *in, char **s)
{
	*s = get_text(in);
	return *s ? 0 : -1;
}

/* Append item to parent's children in O(1): cJSON keeps the last child in
 * the first one's prev. */
static void append(cJSON *parent, cJSON *item)
{
	cJSON *first = parent->child;
	if (!first) {
		parent->child = item;
		item->prev = item;
		return;
	}
	cJSON *last = first->prev;
	last->next = item;
	item->prev = last;
	first->prev = item;
}

static cJSON *get_value(struct wire_in *in, int depth)
{
	if (in->p >= in->end || depth > WIRE_MAX_DEPTH)
		return NULL;
	if (in->max_nodes && ++in->nodes > in->max_nodes) {
		in->over = 1;
		return NULL;
	}
	unsigned char tag = *in->p++;
	cJSON *j = NULL;
	switch (tag) {
	case 'n':
		return must(cJSON_CreateNull());
	case 'f':
		return must(cJSON_CreateFalse());
	case 't':
		return must(cJSON_CreateTrue());
	case 'd': {
		if (in->end - in->p < 8)
			return NULL;
		uint64_t u = 0;
		for (int i = 0; i < 8; i++)
			u |= (uint64_t)in->p[i] << (8 * i);
		in->p += 8;
		double d;
		memcpy(&d, &u, 8);
		return must(cJSON_CreateNumber(d));
	}
	case 'r':
	case 's': {
		char *s = get_text(in);
		if (!s)
			return NULL;
		j = must(cJSON_CreateNull());
		j->type = tag == 'r' ? cJSON_Raw : cJSON_String;
		j->valuestring = s;
		return j;
	}
	case 'a':
	case 'o': {
		uint32_t n;
		/* each member takes one byte at least: a count past that is a lie */
		if (wire_get_u32(in, &n) < 0 || n > (size_t)(in->end - in->p))
			return NULL;
		j = must(tag == 'o' ? cJSON_CreateObject() : cJSON_CreateArray());
		for (uint32_t i = 0; i < n; i++) {
			char *key = NULL;
			if (tag == 'o' && !(key = get_text(in)))
				goto bad;
			cJSON *c = get_value(in, depth + 1);
			if (!c) {
				cJSON_free(key);
				goto bad;
			}
			c->string = key;
			append(j, c);
		}
		return j;
	}
	default:
		return NULL;
	}
bad:
	cJSON_Delete(j);
	return NULL;
}

cJSON *wire_get(struct wire_in *in)
{
	return get_value(in, 0);
}
