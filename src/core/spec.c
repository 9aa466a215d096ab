/* spec.c: a pipeline's spec, typed (see spec.h). */
#include "core/spec.h"

#include "base/hash.h"
#include "base/json.h"
#include "core/codemark.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const spec_queue_attr_name[SQ_NATTR] = {
	"VisibilityTimeout", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds", "DelaySeconds",
	"MaximumMessageSize",
};

/* AWS's bounds of each attribute (SQS SetQueueAttributes; MaximumMessageSize
 * up to 1 MiB since August 2025). */
static const long queue_attr_lo[SQ_NATTR] = { 0, 60, 0, 0, 1024 };
static const long queue_attr_hi[SQ_NATTR] = { 43200, 1209600, 20, 900, 1048576 };

const char *spec_kvs_get(const struct spec_kvs *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return l->v[i].value;
	return NULL;
}

int spec_kvs_has(const struct spec_kvs *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return 1;
	return 0;
}

const char *spec_arch_name(enum spec_arch a)
{
	return a == ARCH_ARM64 ? "arm64" : "x86_64";
}

const char *spec_storage_name(enum spec_storage s)
{
	return s == STORAGE_REFERENCE ? "REFERENCE" : "COPY";
}

/* ---- reading the answer ---- */

struct rd {
	const char *pipeline;
	tp_err *e;
	int failed;
};

static int bad(struct rd *r, const char *path, const char *what, const cJSON *v)
{
	if (r->failed)
		return -1;
	char got[80];
	if (cJSON_IsRaw(v))
		snprintf(got, sizeof got, "%s", v->valuestring);
	else
		json_value_str(v, got, sizeof got);
	tp_errf(r->e, TP_EINVAL, "BadSpec", "pipeline %s: %s must be %s, not %s", r->pipeline, path, what, got);
	r->failed = 1;
	return -1;
}

/* A number node's value: Raw text (the policy's) or a Number. */
static int number_of(const cJSON *v, double *d)
{
	if (cJSON_IsNumber(v)) {
		*d = v->valuedouble;
		return 0;
	}
	if (!cJSON_IsRaw(v) || !v->valuestring)
		return -1;
	char *end;
	*d = strtod(v->valuestring, &end);
	return *end || end == v->valuestring || !isfinite(*d) ? -1 : 0;
}

static int integer(struct rd *r, const cJSON *v, const char *path, long lo, long hi, long *out)
{
	double d;
	if (number_of(v, &d) < 0 || d != floor(d) || d < (double)lo || d > (double)hi) {
		char what[64];
		snprintf(what, sizeof what, "an integer %ld..%ld", lo, hi);
		return bad(r, path, what, v);
	}
	*out = (long)d;
	return 0;
}

static int boolean(struct rd *r, const cJSON *v, const char *path, int *out)
{
	if (!cJSON_IsBool(v))
		return bad(r, path, "true or false", v);
	*out = cJSON_IsTrue(v);
	return 0;
}

static int string(struct rd *r, const cJSON *v, const char *path, char **out)
{
	if (!cJSON_IsString(v))
		return bad(r, path, "a string", v);
	*out = tp_xstrdup(v->valuestring);
	return 0;
}

static int object(struct rd *r, const cJSON *v, const char *path)
{
	return cJSON_IsObject(v) ? 0 : bad(r, path, "an object", v);
}

/* "queue.VisibilityTimeout" into p. */
static const char *at(char *p, size_t len, const char *part, const char *field)
{
	snprintf(p, len, "%s.%s", part, field);
	return p;
}

static void read_queue(struct rd *r, const cJSON *q, const char *part, struct spec_queue *out)
{
	char p[300];
	for (int i = 0; i < SQ_NATTR; i++)
		out->attr[i] = SPEC_UNSET;
	out->max_receive = SPEC_UNSET;
	out->keep_if_not_empty = 1;
	if (!q || object(r, q, part) < 0)
		return;
	for (const cJSON *f = q->child; f; f = f->next) {
		int i;
		for (i = 0; i < SQ_NATTR && strcasecmp(f->string, spec_queue_attr_name[i]) != 0; i++)
			;
		if (i < SQ_NATTR)
			integer(r, f, at(p, sizeof p, part, spec_queue_attr_name[i]), queue_attr_lo[i], queue_attr_hi[i],
				&out->attr[i]);
		else if (strcasecmp(f->string, "maxReceiveCount") == 0 && strcmp(part, "queue") == 0)
			integer(r, f, at(p, sizeof p, part, "maxReceiveCount"), 1, 1000, &out->max_receive);
		else if (strcasecmp(f->string, "keep_if_not_empty") == 0 && strcmp(part, "dlq") == 0)
			boolean(r, f, at(p, sizeof p, part, "keep_if_not_empty"), &out->keep_if_not_empty);
	}
}

/* An object of strings into l; as_text: numbers and booleans too, as their text. */
static void read_kvs(struct rd *r, const cJSON *o, const char *path, int as_text, struct spec_kvs *l)
{
	if (!o || object(r, o, path) < 0)
		return;
	l->v = tp_xcalloc((size_t)cJSON_GetArraySize(o) + 1, sizeof *l->v);
	for (const cJSON *f = o->child; f; f = f->next) {
		char p[300], v[512];
		double d;
		if (cJSON_IsString(f)) {
			snprintf(v, sizeof v, "%s", f->valuestring);
		} else if (as_text && cJSON_IsBool(f)) {
			json_value_str(f, v, sizeof v);
		} else if (as_text && number_of(f, &d) == 0) {
			/* as the tree read back from its text would show it */
			cJSON n = { .type = cJSON_Number, .valuedouble = d };
			json_value_str(&n, v, sizeof v);
		} else {
			bad(r, at(p, sizeof p, path, f->string), as_text ? "a string, number or boolean" : "a string", f);
			return;
		}
		l->v[l->n].name = tp_xstrdup(f->string);
		l->v[l->n++].value = tp_xstrdup(v);
	}
}

static void read_code(struct rd *r, const cJSON *c, struct spec_func *f)
{
	if (!c || object(r, c, "func.Code") < 0)
		return;
	for (const cJSON *k = c->child; k; k = k->next) {
		if (strcasecmp(k->string, "S3Bucket") == 0)
			string(r, k, "func.Code.S3Bucket", &f->bucket);
		else if (strcasecmp(k->string, "S3Key") == 0)
			string(r, k, "func.Code.S3Key", &f->key);
		else if (strcasecmp(k->string, "S3ObjectVersion") == 0)
			string(r, k, "func.Code.S3ObjectVersion", &f->version);
		else if (strcasecmp(k->string, "S3ObjectStorageMode") == 0) {
			const char *s = cJSON_GetStringValue(k);
			if (s && strcmp(s, "REFERENCE") == 0)
				f->storage = STORAGE_REFERENCE;
			else if (s && strcmp(s, "COPY") == 0)
				f->storage = STORAGE_COPY;
			else
				bad(r, "func.Code.S3ObjectStorageMode", "\"REFERENCE\" or \"COPY\"", k);
		}
	}
}

static void read_layers(struct rd *r, const cJSON *l, struct spec_func *f)
{
	int ok = cJSON_IsArray(l);
	const cJSON *it, *list = ok ? l : NULL;
	cJSON_ArrayForEach(it, list)
		ok &= cJSON_IsString(it) && *it->valuestring;
	if (!ok) {
		if (!r->failed)
			tp_errf(r->e, TP_EINVAL, "BadSpec", "pipeline %s: func.Layers must be a list of layer version ARNs",
				r->pipeline);
		r->failed = 1;
		return;
	}
	f->layers = tp_xcalloc((size_t)cJSON_GetArraySize(l) + 1, sizeof *f->layers);
	cJSON_ArrayForEach(it, l)
		f->layers[f->n_layers++] = tp_xstrdup(it->valuestring);
}

static void read_arch(struct rd *r, const cJSON *a, struct spec_func *f)
{
	const char *s = cJSON_GetArraySize(a) == 1 ? cJSON_GetStringValue(cJSON_GetArrayItem(a, 0)) : NULL;
	if (cJSON_IsArray(a) && s && strcmp(s, "x86_64") == 0)
		f->arch = ARCH_X86_64;
	else if (cJSON_IsArray(a) && s && strcmp(s, "arm64") == 0)
		f->arch = ARCH_ARM64;
	else
		bad(r, "func.Architectures", "[\"x86_64\"] or [\"arm64\"]", a);
}

static void read_func(struct rd *r, const cJSON *fn, struct spec_func *f)
{
	f->memory = f->timeout = f->reserved = SPEC_UNSET;
	if (!fn || object(r, fn, "func") < 0)
		return;
	for (const cJSON *k = fn->child; k; k = k->next) {
		const char *n = k->string;
		if (strcasecmp(n, "Runtime") == 0)
			string(r, k, "func.Runtime", &f->runtime);
		else if (strcasecmp(n, "Handler") == 0)
			string(r, k, "func.Handler", &f->handler);
		else if (strcasecmp(n, "Role") == 0)
			string(r, k, "func.Role", &f->role);
		else if (strcasecmp(n, "MemorySize") == 0)
			integer(r, k, "func.MemorySize", 128, 10240, &f->memory);
		else if (strcasecmp(n, "Timeout") == 0)
			integer(r, k, "func.Timeout", 1, 900, &f->timeout);
		else if (strcasecmp(n, "ReservedConcurrentExecutions") == 0)
			integer(r, k, "func.ReservedConcurrentExecutions", 0, 1000000, &f->reserved);
		else if (strcasecmp(n, "Architectures") == 0)
			read_arch(r, k, f);
		else if (strcasecmp(n, "Code") == 0)
			read_code(r, k, f);
		else if (strcasecmp(n, "Layers") == 0)
			read_layers(r, k, f);
		else if (strcasecmp(n, "Environment") == 0 && object(r, k, "func.Environment") == 0)
			read_kvs(r, cJSON_GetObjectItem(k, "Variables"), "func.Environment.Variables", 0, &f->env);
		else if (strcasecmp(n, "PackageType") == 0 && !r->failed) {
			/* taskpipe manages zip functions: an image in the spec is reported */
			const char *s = cJSON_GetStringValue(k);
			if (!s || strcmp(s, "Zip") != 0) {
				char got[64];
				json_value_str(k, got, sizeof got);
				tp_errf(r->e, TP_EINVAL, "PackageTypeNotSupported",
					"pipeline %s: func.PackageType is '%s'; taskpipe manages zip functions only (drop PackageType or set \"Zip\")",
					r->pipeline, s ? s : got);
				r->failed = 1;
			}
		}
	}
}

static void read_mapping(struct rd *r, const cJSON *m, struct spec_mapping *out)
{
	out->batch_size = out->window = SPEC_UNSET;
	out->enabled = (int)SPEC_UNSET;
	if (!m || object(r, m, "mapping") < 0)
		return;
	for (const cJSON *k = m->child; k; k = k->next) {
		const char *n = k->string;
		if (strcasecmp(n, "BatchSize") == 0)
			integer(r, k, "mapping.BatchSize", 1, 10000, &out->batch_size);
		else if (strcasecmp(n, "MaximumBatchingWindowInSeconds") == 0)
			integer(r, k, "mapping.MaximumBatchingWindowInSeconds", 0, 300, &out->window);
		else if (strcasecmp(n, "Enabled") == 0)
			boolean(r, k, "mapping.Enabled", &out->enabled);
		else if (strcasecmp(n, "ScalingConfig") == 0 && object(r, k, "mapping.ScalingConfig") == 0) {
			const cJSON *mc = cJSON_GetObjectItem(k, "MaximumConcurrency");
			if (mc)
				integer(r, mc, "mapping.ScalingConfig.MaximumConcurrency", 2, 1000, &out->max_concurrency);
		} else if (strcasecmp(n, "FunctionResponseTypes") == 0) {
			int size = cJSON_GetArraySize(k);
			const char *s = cJSON_GetStringValue(cJSON_GetArrayItem(k, 0));
			if (cJSON_IsArray(k) && size == 0)
				out->frt = FRT_NONE;
			else if (cJSON_IsArray(k) && size == 1 && s && strcmp(s, "ReportBatchItemFailures") == 0)
				out->frt = FRT_REPORT;
			else
				bad(r, "mapping.FunctionResponseTypes", "[] or [\"ReportBatchItemFailures\"]", k);
		}
	}
}

int spec_parse(const cJSON *answer, const char *pipeline, struct spec *out, tp_err *e)
{
	memset(out, 0, sizeof *out);
	struct rd r = { .pipeline = pipeline, .e = e };
	if (!cJSON_IsObject(answer))
		return tp_errf(e, TP_EPOLICY, "PolicyError", "policy returned a spec that is not an object");
	read_queue(&r, cJSON_GetObjectItem(answer, "queue"), "queue", &out->queue);
	read_queue(&r, cJSON_GetObjectItem(answer, "dlq"), "dlq", &out->dlq);
	read_func(&r, cJSON_GetObjectItem(answer, "func"), &out->func);
	read_mapping(&r, cJSON_GetObjectItem(answer, "mapping"), &out->mapping);
	read_kvs(&r, cJSON_GetObjectItem(answer, "tags"), "tags", 1, &out->tags);
	out->drain_timeout = SPEC_UNSET;
	const cJSON *dt = cJSON_GetObjectItem(answer, "drain_timeout");
	if (dt && !cJSON_IsNull(dt))
		integer(&r, dt, "drain_timeout", 1, 1209600, &out->drain_timeout);
	if (r.failed) {
		spec_free(out);
		return TP_EINVAL;
	}
	return TP_OK;
}

static void kvs_free(struct spec_kvs *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	free(l->v);
}

void spec_free(struct spec *s)
{
	struct spec_func *f = &s->func;
	free(f->runtime);
	free(f->handler);
	free(f->role);
	free(f->bucket);
	free(f->key);
	free(f->version);
	kvs_free(&f->env);
	for (size_t i = 0; i < f->n_layers; i++)
		free(f->layers[i]);
	free(f->layers);
	kvs_free(&s->tags);
	memset(s, 0, sizeof *s);
}

void spec_record_read(const cJSON *stored, struct spec_record *out)
{
	memset(out, 0, sizeof *out);
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(stored, "tags");
	out->tags.v = tp_xcalloc((size_t)cJSON_GetArraySize(tags) + 1, sizeof *out->tags.v);
	for (const cJSON *t = cJSON_IsObject(tags) ? tags->child : NULL; t; t = t->next)
		if (t->string)
			out->tags.v[out->tags.n++].name = tp_xstrdup(t->string);
	out->keep_dlq = !cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(stored, "dlq"), "keep_if_not_empty"));
	double d = 0;
	out->drain_timeout = number_of(cJSON_GetObjectItem(stored, "drain_timeout"), &d) == 0 && d >= 1 ?
			     (long)d : SPEC_UNSET;
}

void spec_record_free(struct spec_record *r)
{
	kvs_free(&r->tags);
	memset(r, 0, sizeof *r);
}

/* ---- the hash's bytes ---- */

/* A string as cJSON's print_string_ptr writes it. */
static void hash_string(struct hash_sha256_stream *s, const char *str)
{
	char out[256];
	size_t n = 0;
	out[n++] = '"';
	for (const unsigned char *c = (const unsigned char *)(str ? str : ""); *c; c++) {
		if (n > sizeof out - 8) {
			hash_sha256_update(s, out, n);
			n = 0;
		}
		switch (*c) {
		case '"': out[n++] = '\\', out[n++] = '"'; break;
		case '\\': out[n++] = '\\', out[n++] = '\\'; break;
		case '\b': out[n++] = '\\', out[n++] = 'b'; break;
		case '\f': out[n++] = '\\', out[n++] = 'f'; break;
		case '\n': out[n++] = '\\', out[n++] = 'n'; break;
		case '\r': out[n++] = '\\', out[n++] = 'r'; break;
		case '\t': out[n++] = '\\', out[n++] = 't'; break;
		default:
			if (*c < 32)
				n += (size_t)snprintf(out + n, 7, "\\u%04x", *c);
			else
				out[n++] = (char)*c;
		}
	}
	out[n++] = '"';
	hash_sha256_update(s, out, n);
}

void spec_hash_tree(struct hash_sha256_stream *s, const cJSON *t)
{
	if (!t)
		return;
	switch (t->type & 0xFF) {
	case cJSON_NULL: hash_sha256_update(s, "null", 4); return;
	case cJSON_False: hash_sha256_update(s, "false", 5); return;
	case cJSON_True: hash_sha256_update(s, "true", 4); return;
	case cJSON_Raw:
		if (t->valuestring)
			hash_sha256_update(s, t->valuestring, strlen(t->valuestring));
		return;
	case cJSON_String: hash_string(s, t->valuestring); return;
	case cJSON_Number: {
		/* a number the policy gave as an integer: printed by cJSON
		 * itself (its %d / %1.15g / %1.17g choice) */
		char *n = cJSON_PrintUnformatted(t);
		if (n)
			hash_sha256_update(s, n, strlen(n));
		free(n);
		return;
	}
	case cJSON_Array:
	case cJSON_Object: {
		int obj = (t->type & 0xFF) == cJSON_Object;
		hash_sha256_update(s, obj ? "{" : "[", 1);
		for (const cJSON *c = t->child; c; c = c->next) {
			if (obj) {
				hash_string(s, c->string);
				hash_sha256_update(s, ":", 1);
			}
			spec_hash_tree(s, c);
			if (c->next)
				hash_sha256_update(s, ",", 1);
		}
		hash_sha256_update(s, obj ? "}" : "]", 1);
		return;
	}
	}
}

/* ---- what the struct gives the edges ---- */

void spec_demand(const struct spec *s, long *reserved, long *max_concurrency)
{
	*reserved = s->func.reserved > 0 ? s->func.reserved : 0;
	*max_concurrency = s->mapping.enabled != 0 ? s->mapping.max_concurrency : 0;
}

void spec_code_marker(const struct spec_func *f, char *out, size_t len)
{
	char m[CODEMARK_MAX + 1];
	codemark_make(f->bucket ? f->bucket : "", f->key ? f->key : "", f->version, m);
	snprintf(out, len, "%s", m);
}
