/* fake_ddbexpr.c: DynamoDB's expression language and AttributeValue rules
 * for the fake (fake_ddbexpr.h). Grammar (AWS's "Expressions" pages):
 *
 *   condition  := or ;  or := and (OR and)* ;  and := not (AND not)*
 *   not        := NOT not | '(' condition ')' | function | operand cmp operand
 *                 | operand BETWEEN operand AND operand | operand IN '(' operand, ... ')'
 *   function   := attribute_exists(path) | attribute_not_exists(path)
 *                 | attribute_type(path, :t) | begins_with(path, operand)
 *                 | contains(path, operand)
 *   operand    := path | :value | size(path)
 *   path       := (name | #name) ('.' (name | #name) | '[' n ']')*
 *   update     := (SET a = v, ... | REMOVE path, ... | ADD path :v, ... | DELETE path :v, ...)+
 *   v          := term [('+' | '-') term] ;  term := operand | if_not_exists(path, term)
 *                 | list_append(term, term)
 *   projection := path (',' path)*
 *
 * Names that are DynamoDB reserved words must be given through #names.
 * Numbers: integers that fit int64 are exact; others are doubles. */
#include "fake/fake_ddbexpr.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"
#include "base/base64.h"

/* AWS's reserved words ("Reserved words in DynamoDB"), sorted. */
static const char *const reserved[] = {
	"ABORT", "ABSOLUTE", "ACTION", "ADD", "AFTER", "AGENT", "AGGREGATE", "ALL", "ALLOCATE",
	"ALTER", "ANALYZE", "AND", "ANY", "ARCHIVE", "ARE", "ARRAY", "AS", "ASC", "ASCII",
	"ASENSITIVE", "ASSERTION", "ASYMMETRIC", "AT", "ATOMIC", "ATTACH", "ATTRIBUTE", "AUTH",
	"AUTHORIZATION", "AUTHORIZE", "AUTO", "AVG", "BACK", "BACKUP", "BASE", "BATCH", "BEFORE",
	"BEGIN", "BETWEEN", "BIGINT", "BINARY", "BIT", "BLOB", "BLOCK", "BOOLEAN", "BOTH", "BREADTH",
	"BUCKET", "BULK", "BY", "BYTE", "CALL", "CALLED", "CALLING", "CAPACITY", "CASCADE",
	"CASCADED", "CASE", "CAST", "CATALOG", "CHAR", "CHARACTER", "CHECK", "CLASS", "CLOB", "CLOSE",
	"CLUSTER", "CLUSTERED", "CLUSTERING", "CLUSTERS", "COALESCE", "COLLATE", "COLLATION",
	"COLLECTION", "COLUMN", "COLUMNS", "COMBINE", "COMMENT", "COMMIT", "COMPACT", "COMPILE",
	"COMPRESS", "CONDITION", "CONFLICT", "CONNECT", "CONNECTION", "CONSISTENCY", "CONSISTENT",
	"CONSTRAINT", "CONSTRAINTS", "CONSTRUCTOR", "CONSUMED", "CONTINUE", "CONVERT", "COPY",
	"CORRESPONDING", "COUNT", "COUNTER", "CREATE", "CROSS", "CUBE", "CURRENT", "CURSOR", "CYCLE",
	"DATA", "DATABASE", "DATE", "DATETIME", "DAY", "DEALLOCATE", "DEC", "DECIMAL", "DECLARE",
	"DEFAULT", "DEFERRABLE", "DEFERRED", "DEFINE", "DEFINED", "DEFINITION", "DELETE", "DELIMITED",
	"DEPTH", "DEREF", "DESC", "DESCRIBE", "DESCRIPTOR", "DETACH", "DETERMINISTIC", "DIAGNOSTICS",
	"DIRECTORIES", "DISABLE", "DISCONNECT", "DISTINCT", "DISTRIBUTE", "DO", "DOMAIN", "DOUBLE",
	"DROP", "DUMP", "DURATION", "DYNAMIC", "EACH", "ELEMENT", "ELSE", "ELSEIF", "EMPTY", "ENABLE",
	"END", "EQUAL", "EQUALS", "ERROR", "ESCAPE", "ESCAPED", "EVAL", "EVALUATE", "EXCEEDED",
	"EXCEPT", "EXCEPTION", "EXCEPTIONS", "EXCLUSIVE", "EXEC", "EXECUTE", "EXISTS", "EXIT",
	"EXPLAIN", "EXPLODE", "EXPORT", "EXPRESSION", "EXTENDED", "EXTERNAL", "EXTRACT", "FAIL",
	"FALSE", "FAMILY", "FETCH", "FIELDS", "FILE", "FILTER", "FILTERING", "FINAL", "FINISH",
	"FIRST", "FIXED", "FLATTERN", "FLOAT", "FOR", "FORCE", "FOREIGN", "FORMAT", "FORWARD",
	"FOUND", "FREE", "FROM", "FULL", "FUNCTION", "FUNCTIONS", "GENERAL", "GENERATE", "GET",
	"GLOB", "GLOBAL", "GO", "GOTO", "GRANT", "GREATER", "GROUP", "GROUPING", "HANDLER", "HASH",
	"HAVE", "HAVING", "HEAP", "HIDDEN", "HOLD", "HOUR", "IDENTIFIED", "IDENTITY", "IF", "IGNORE",
	"IMMEDIATE", "IMPORT", "IN", "INCLUDING", "INCLUSIVE", "INCREMENT", "INCREMENTAL", "INDEX",
	"INDEXED", "INDEXES", "INDICATOR", "INFINITE", "INITIALLY", "INLINE", "INNER", "INNTER",
	"INOUT", "INPUT", "INSENSITIVE", "INSERT", "INSTEAD", "INT", "INTEGER", "INTERSECT",
	"INTERVAL", "INTO", "INVALIDATE", "IS", "ISOLATION", "ITEM", "ITEMS", "ITERATE", "JOIN",
	"KEY", "KEYS", "LAG", "LANGUAGE", "LARGE", "LAST", "LATERAL", "LEAD", "LEADING", "LEAVE",
	"LEFT", "LENGTH", "LESS", "LEVEL", "LIKE", "LIMIT", "LIMITED", "LINES", "LIST", "LOAD",
	"LOCAL", "LOCALTIME", "LOCALTIMESTAMP", "LOCATION", "LOCATOR", "LOCK", "LOCKS", "LOG",
	"LOGED", "LONG", "LOOP", "LOWER", "MAP", "MATCH", "MATERIALIZED", "MAX", "MAXLEN", "MEMBER",
	"MERGE", "METHOD", "METRICS", "MIN", "MINUS", "MINUTE", "MISSING", "MOD", "MODE", "MODIFIES",
	"MODIFY", "MODULE", "MONTH", "MULTI", "MULTISET", "NAME", "NAMES", "NATIONAL", "NATURAL",
	"NCHAR", "NCLOB", "NEW", "NEXT", "NO", "NONE", "NOT", "NULL", "NULLIF", "NUMBER", "NUMERIC",
	"OBJECT", "OF", "OFFLINE", "OFFSET", "OLD", "ON", "ONLINE", "ONLY", "OPAQUE", "OPEN",
	"OPERATOR", "OPTION", "OR", "ORDER", "ORDINALITY", "OTHER", "OTHERS", "OUT", "OUTER",
	"OUTPUT", "OVER", "OVERLAPS", "OVERRIDE", "OWNER", "PAD", "PARALLEL", "PARAMETER",
	"PARAMETERS", "PARTIAL", "PARTITION", "PARTITIONED", "PARTITIONS", "PATH", "PERCENT",
	"PERCENTILE", "PERMISSION", "PERMISSIONS", "PIPE", "PIPELINED", "PLAN", "POOL", "POSITION",
	"PRECISION", "PREPARE", "PRESERVE", "PRIMARY", "PRIOR", "PRIVATE", "PRIVILEGES", "PROCEDURE",
	"PROCESSED", "PROJECT", "PROJECTION", "PROPERTY", "PROVISIONING", "PUBLIC", "PUT", "QUERY",
	"QUIT", "QUORUM", "RAISE", "RANDOM", "RANGE", "RANK", "RAW", "READ", "READS", "REAL",
	"REBUILD", "RECORD", "RECURSIVE", "REDUCE", "REF", "REFERENCE", "REFERENCES", "REFERENCING",
	"REGEXP", "REGION", "REINDEX", "RELATIVE", "RELEASE", "REMAINDER", "RENAME", "REPEAT",
	"REPLACE", "REQUEST", "RESET", "RESIGNAL", "RESOURCE", "RESPONSE", "RESTORE", "RESTRICT",
	"RESULT", "RETURN", "RETURNING", "RETURNS", "REVERSE", "REVOKE", "RIGHT", "ROLE", "ROLES",
	"ROLLBACK", "ROLLUP", "ROUTINE", "ROW", "ROWS", "RULE", "RULES", "SAMPLE", "SATISFIES",
	"SAVE", "SAVEPOINT", "SCAN", "SCHEMA", "SCOPE", "SCROLL", "SEARCH", "SECOND", "SECTION",
	"SEGMENT", "SEGMENTS", "SELECT", "SELF", "SEMI", "SENSITIVE", "SEPARATE", "SEQUENCE",
	"SERIALIZABLE", "SESSION", "SET", "SETS", "SHARD", "SHARE", "SHARED", "SHORT", "SHOW",
	"SIGNAL", "SIMILAR", "SIZE", "SKEWED", "SMALLINT", "SNAPSHOT", "SOME", "SOURCE", "SPACE",
	"SPACES", "SPARSE", "SPECIFIC", "SPECIFICTYPE", "SPLIT", "SQL", "SQLCODE", "SQLERROR",
	"SQLEXCEPTION", "SQLSTATE", "SQLWARNING", "START", "STATE", "STATIC", "STATUS", "STORAGE",
	"STORE", "STORED", "STREAM", "STRING", "STRUCT", "STYLE", "SUB", "SUBMULTISET",
	"SUBPARTITION", "SUBSTRING", "SUBTYPE", "SUM", "SUPER", "SYMMETRIC", "SYNONYM", "SYSTEM",
	"TABLE", "TABLESAMPLE", "TEMP", "TEMPORARY", "TERMINATED", "TEXT", "THAN", "THEN",
	"THROUGHPUT", "TIME", "TIMESTAMP", "TIMEZONE", "TINYINT", "TO", "TOKEN", "TOTAL", "TOUCH",
	"TRAILING", "TRANSACTION", "TRANSFORM", "TRANSLATE", "TRANSLATION", "TREAT", "TRIGGER",
	"TRIM", "TRUE", "TRUNCATE", "TTL", "TUPLE", "TYPE", "UNDER", "UNDO", "UNION", "UNIQUE",
	"UNIT", "UNKNOWN", "UNLOGGED", "UNNEST", "UNPROCESSED", "UNSIGNED", "UNTIL", "UPDATE",
	"UPPER", "URL", "USAGE", "USE", "USER", "USERS", "USING", "UUID", "VACUUM", "VALUE", "VALUED",
	"VALUES", "VARCHAR", "VARIABLE", "VARIANCE", "VARINT", "VARYING", "VIEW", "VIEWS", "VIRTUAL",
	"VOID", "WAIT", "WHEN", "WHENEVER", "WHERE", "WHILE", "WINDOW", "WITH", "WITHIN", "WITHOUT",
	"WORK", "WRAPPED", "WRITE", "YEAR", "ZONE",
};

static int is_reserved(const char *s, size_t n)
{
	char w[64];
	if (n >= sizeof w)
		return 0;
	for (size_t i = 0; i < n; i++)
		w[i] = (char)toupper((unsigned char)s[i]);
	w[n] = 0;
	size_t lo = 0, hi = sizeof reserved / sizeof reserved[0];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(w, reserved[mid]);
		if (c == 0)
			return 1;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

static int fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

#define EFAIL(env, ...) fail((env)->err, sizeof (env)->err, __VA_ARGS__)

/* ---- numbers ---- */

struct num {
	int is_int;
	long long i;
	double d;
};

/* [+-]digits[.digits][e[+-]digits], at most 38 significant digits. */
static int num_parse(const char *s, struct num *n)
{
	const char *p = s;
	int digits = 0, sig = 0, frac = 0, exp = 0;
	if (*p == '-' || *p == '+')
		p++;
	for (; isdigit((unsigned char)*p); p++, digits++)
		if (*p != '0' || sig)
			sig++;
	if (*p == '.') {
		frac = 1;
		for (p++; isdigit((unsigned char)*p); p++, digits++)
			if (*p != '0' || sig)
				sig++;
	}
	if (!digits)
		return -1;
	if (*p == 'e' || *p == 'E') {
		exp = 1;
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p || sig > 38)
		return -1;
	n->is_int = 0;
	n->i = 0;
	errno = 0;
	n->d = strtod(s, NULL);
	if (!isfinite(n->d))
		return -1;
	if (!frac && !exp) {
		errno = 0;
		long long v = strtoll(s, NULL, 10);
		if (errno == 0) {
			n->is_int = 1;
			n->i = v;
		}
	} else if (n->d == floor(n->d) && fabs(n->d) < 9007199254740992.0) {
		n->is_int = 1;           /* 1.0, 1e3: exact integers */
		n->i = (long long)n->d;
	}
	return 0;
}

static void num_format(const struct num *n, char *out, size_t len)
{
	if (n->is_int) {
		snprintf(out, len, "%lld", n->i);
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, len, "%.*g", prec, n->d);
		if (strtod(out, NULL) == n->d)
			return;
	}
}

int ddbnum_normal(const char *text, char *out, size_t len)
{
	struct num n;
	if (!text || num_parse(text, &n) < 0)
		return -1;
	num_format(&n, out, len);
	return 0;
}

static int num_cmp(const struct num *a, const struct num *b)
{
	if (a->is_int && b->is_int)
		return a->i < b->i ? -1 : a->i > b->i;
	return a->d < b->d ? -1 : a->d > b->d;
}

int ddbnum_cmp(const char *a, const char *b)
{
	struct num x, y;
	if (num_parse(a, &x) < 0 || num_parse(b, &y) < 0)
		return strcmp(a, b);
	return num_cmp(&x, &y);
}

/* a + sign * b; -1 when the result is not a number DynamoDB holds. */
static int num_add(const struct num *a, const struct num *b, int sign, struct num *r)
{
	long long v;
	if (a->is_int && b->is_int &&
	    !(sign > 0 ? __builtin_add_overflow(a->i, b->i, &v) : __builtin_sub_overflow(a->i, b->i, &v))) {
		r->is_int = 1;
		r->i = v;
		r->d = (double)v;
		return 0;
	}
	r->is_int = 0;
	r->d = a->d + sign * b->d;
	if (!isfinite(r->d))
		return -1;
	if (r->d == floor(r->d) && fabs(r->d) < 9007199254740992.0) {
		r->is_int = 1;
		r->i = (long long)r->d;
	}
	return 0;
}

static cJSON *num_av(const struct num *n)
{
	char t[64];
	num_format(n, t, sizeof t);
	cJSON *av = cJSON_CreateObject();
	cJSON_AddStringToObject(av, "N", t);
	return av;
}

/* ---- AttributeValues ---- */

static const char *const av_types[] = { "S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS", NULL };

const char *ddbav_type(const cJSON *av)
{
	if (!cJSON_IsObject(av) || !av->child || av->child->next || !av->child->string)
		return NULL;
	for (int i = 0; av_types[i]; i++)
		if (strcmp(av->child->string, av_types[i]) == 0)
			return av_types[i];
	return NULL;
}

static int type_is(const cJSON *av, const char *t)
{
	const char *x = ddbav_type(av);
	return x && strcmp(x, t) == 0;
}

static const char *str_of(const cJSON *av) { return av->child->valuestring; }

/* Bytes of a B (base64) value: *out malloc'd. */
static int b_bytes(const char *b64, char **out, size_t *n)
{
	return base64_decode(b64, out, n) < 0 ? -1 : 0;
}

static int set_dup(const cJSON *a, const cJSON *b, char t)
{
	return t == 'N' ? ddbnum_cmp(a->valuestring, b->valuestring) == 0 : strcmp(a->valuestring, b->valuestring) == 0;
}

int ddbav_check(cJSON *av, const char *what, char *err, size_t len)
{
	if (!cJSON_IsObject(av) || !av->child)
		return fail(err, len, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes (%s)",
			    what);
	if (av->child->next)
		return fail(err, len, "Supplied AttributeValue has more than one datatypes set, must contain exactly one of "
			    "the supported datatypes (%s)", what);
	const char *t = ddbav_type(av);
	cJSON *v = av->child;
	if (!t)
		return fail(err, len, "Supplied AttributeValue has an unknown datatype '%s' (%s)", v->string, what);
	if (strcmp(t, "S") == 0 || strcmp(t, "B") == 0) {
		if (!cJSON_IsString(v))
			return fail(err, len, "Supplied AttributeValue %s of %s is not a string", t, what);
		char *bytes = NULL;
		size_t n = 0;
		if (t[0] == 'B' && b_bytes(v->valuestring, &bytes, &n) < 0)
			return fail(err, len, "Invalid Base64 value for B in %s", what);
		free(bytes);
	} else if (strcmp(t, "N") == 0) {
		char norm[64];
		if (!cJSON_IsString(v) || ddbnum_normal(v->valuestring, norm, sizeof norm) < 0)
			return fail(err, len, "A value provided cannot be converted into a number (%s)", what);
		cJSON_SetValuestring(v, norm);
	} else if (strcmp(t, "BOOL") == 0) {
		if (!cJSON_IsBool(v))
			return fail(err, len, "Supplied AttributeValue BOOL of %s is not a boolean", what);
	} else if (strcmp(t, "NULL") == 0) {
		if (!cJSON_IsTrue(v))
			return fail(err, len, "One or more parameter values were invalid: Null attribute value types must have "
				    "the value of true (%s)", what);
	} else if (strcmp(t, "M") == 0) {
		if (!cJSON_IsObject(v))
			return fail(err, len, "Supplied AttributeValue M of %s is not a map", what);
		for (cJSON *m = v->child; m; m = m->next)
			if (ddbav_check(m, what, err, len) < 0)
				return -1;
	} else if (strcmp(t, "L") == 0) {
		if (!cJSON_IsArray(v))
			return fail(err, len, "Supplied AttributeValue L of %s is not a list", what);
		for (cJSON *m = v->child; m; m = m->next)
			if (ddbav_check(m, what, err, len) < 0)
				return -1;
	} else { /* SS NS BS */
		const char *full = t[0] == 'S' ? "string" : t[0] == 'N' ? "number" : "binary";
		if (!cJSON_IsArray(v))
			return fail(err, len, "Supplied AttributeValue %s of %s is not a list", t, what);
		if (!v->child)
			return fail(err, len, "One or more parameter values were invalid: An %s set  may not be empty (%s)",
				    full, what);
		for (cJSON *m = v->child; m; m = m->next) {
			char norm[64];
			if (!cJSON_IsString(m))
				return fail(err, len, "Supplied AttributeValue %s of %s holds a non-string", t, what);
			if (t[0] == 'N') {
				if (ddbnum_normal(m->valuestring, norm, sizeof norm) < 0)
					return fail(err, len, "A value provided cannot be converted into a number (%s)", what);
				cJSON_SetValuestring(m, norm);
			}
			for (cJSON *o = v->child; o != m; o = o->next)
				if (set_dup(o, m, t[0]))
					return fail(err, len, "One or more parameter values were invalid: Input collection "
						    "contains duplicates (%s: %s)", what, m->valuestring);
		}
	}
	return 0;
}

static int set_has(const cJSON *set, const cJSON *s, char t)
{
	for (const cJSON *x = set->child; x; x = x->next)
		if (set_dup(x, s, t))
			return 1;
	return 0;
}

int ddbav_equal(const cJSON *a, const cJSON *b)
{
	const char *ta = ddbav_type(a), *tb = ddbav_type(b);
	if (!ta || !tb || strcmp(ta, tb) != 0)
		return 0;
	const cJSON *x = a->child, *y = b->child;
	switch (ta[0] == 'B' && ta[1] == 'O' ? 'o' : ta[0] == 'N' && ta[1] == 'U' ? 'u' : ta[1] ? 's' : ta[0]) {
	case 'S':
	case 'B':
		return strcmp(x->valuestring, y->valuestring) == 0;
	case 'N':
		return ddbnum_cmp(x->valuestring, y->valuestring) == 0;
	case 'o':
		return cJSON_IsTrue(x) == cJSON_IsTrue(y);
	case 'u':
		return 1;
	case 's': /* SS NS BS */
		if (cJSON_GetArraySize(x) != cJSON_GetArraySize(y))
			return 0;
		for (const cJSON *e = x->child; e; e = e->next)
			if (!set_has(y, e, ta[0]))
				return 0;
		return 1;
	case 'M':
		if (cJSON_GetArraySize(x) != cJSON_GetArraySize(y))
			return 0;
		for (const cJSON *e = x->child; e; e = e->next)
			if (!ddbav_equal(e, cJSON_GetObjectItemCaseSensitive(y, e->string)))
				return 0;
		return 1;
	case 'L': {
		const cJSON *e = x->child, *f = y->child;
		for (; e && f; e = e->next, f = f->next)
			if (!ddbav_equal(e, f))
				return 0;
		return !e && !f;
	}
	}
	return 0;
}

int ddbav_order(const cJSON *a, const cJSON *b, int *c)
{
	const char *ta = ddbav_type(a), *tb = ddbav_type(b);
	*c = 0;
	if (!ta || !tb || strcmp(ta, tb) != 0 || ta[1])
		return -1;
	if (ta[0] == 'N') {
		*c = ddbnum_cmp(str_of(a), str_of(b));
		return 0;
	}
	if (ta[0] == 'S') {
		int r = strcmp(str_of(a), str_of(b));   /* UTF-8 bytes: code point order */
		*c = r < 0 ? -1 : r > 0;
		return 0;
	}
	if (ta[0] == 'B') {
		char *x = NULL, *y = NULL;
		size_t nx = 0, ny = 0;
		if (b_bytes(str_of(a), &x, &nx) < 0 || b_bytes(str_of(b), &y, &ny) < 0) {
			free(x);
			free(y);
			return -1;
		}
		int r = memcmp(x, y, nx < ny ? nx : ny);
		*c = r ? (r < 0 ? -1 : 1) : nx < ny ? -1 : nx > ny;
		free(x);
		free(y);
		return 0;
	}
	return -1;
}

static size_t av_size(const cJSON *av)
{
	const char *t = ddbav_type(av);
	const cJSON *v = av ? av->child : NULL;
	size_t n = 0;
	if (!t)
		return 0;
	if (strcmp(t, "S") == 0)
		return strlen(v->valuestring);
	if (strcmp(t, "N") == 0)
		return (strlen(v->valuestring) + 1) / 2 + 1;
	if (strcmp(t, "B") == 0)
		return strlen(v->valuestring) * 3 / 4;
	if (strcmp(t, "BOOL") == 0 || strcmp(t, "NULL") == 0)
		return 1;
	if (strcmp(t, "M") == 0) {
		for (const cJSON *e = v->child; e; e = e->next)
			n += strlen(e->string) + av_size(e) + 1;
		return n + 3;
	}
	if (strcmp(t, "L") == 0) {
		for (const cJSON *e = v->child; e; e = e->next)
			n += av_size(e) + 1;
		return n + 3;
	}
	for (const cJSON *e = v->child; e; e = e->next) /* sets */
		n += t[0] == 'N' ? (strlen(e->valuestring) + 1) / 2 + 1 :
		     t[0] == 'B' ? strlen(e->valuestring) * 3 / 4 : strlen(e->valuestring);
	return n;
}

size_t ddbav_item_size(const cJSON *item)
{
	size_t n = 0;
	for (const cJSON *a = item ? item->child : NULL; a; a = a->next)
		n += strlen(a->string) + av_size(a);
	return n;
}

/* ---- the environment ---- */

void ddbx_env_init(struct ddbx_env *env, const cJSON *names, const cJSON *values)
{
	memset(env, 0, sizeof *env);
	env->names = names;
	env->values = values;
	env->used_names = tp_xcalloc((size_t)cJSON_GetArraySize(names) + 1, 1);
	env->used_values = tp_xcalloc((size_t)cJSON_GetArraySize(values) + 1, 1);
}

void ddbx_env_free(struct ddbx_env *env)
{
	free(env->used_names);
	free(env->used_values);
	env->used_names = env->used_values = NULL;
}

static const cJSON *env_lookup(const cJSON *map, unsigned char *used, const char *key, size_t n)
{
	size_t i = 0;
	for (const cJSON *m = map ? map->child : NULL; m; m = m->next, i++)
		if (m->string && strlen(m->string) == n && strncmp(m->string, key, n) == 0) {
			used[i] = 1;
			return m;
		}
	return NULL;
}

static int unused(struct ddbx_env *env, const cJSON *map, const unsigned char *used, const char *which)
{
	buf b = { 0 };
	size_t i = 0;
	for (const cJSON *m = map ? map->child : NULL; m; m = m->next, i++)
		if (!used[i])
			buf_addf(&b, "%s%s", b.len ? ", " : "", m->string);
	int rc = b.len ? EFAIL(env, "Value provided in %s unused in expressions: keys: {%s}", which, buf_str(&b)) : 0;
	buf_free(&b);
	return rc;
}

int ddbx_check_unused(struct ddbx_env *env)
{
	if (unused(env, env->names, env->used_names, "ExpressionAttributeNames") < 0)
		return -1;
	return unused(env, env->values, env->used_values, "ExpressionAttributeValues");
}

/* ---- tokens ---- */

enum tok {
	T_END, T_IDENT, T_NAME, T_VALUE, T_NUM, T_LP, T_RP, T_COMMA, T_DOT, T_LB, T_RB,
	T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_PLUS, T_MINUS, T_BAD
};

struct lex {
	struct ddbx_env *env;
	const char *what;          /* "ConditionExpression" */
	const char *text, *p;
	enum tok t;                /* the current token */
	const char *ts;
	size_t tn;
};

static void next(struct lex *l)
{
	const char *p = l->p;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	l->ts = p;
	l->tn = 1;
	if (!*p) {
		l->t = T_END;
		l->tn = 0;
	} else if (isalpha((unsigned char)*p) || *p == '_' || *p == '#' || *p == ':') {
		const char *s = p + (*p == '#' || *p == ':');
		while (isalnum((unsigned char)*s) || *s == '_')
			s++;
		l->t = *p == '#' ? T_NAME : *p == ':' ? T_VALUE : T_IDENT;
		l->tn = (size_t)(s - p);
		if ((*p == '#' || *p == ':') && l->tn == 1)
			l->t = T_BAD;
	} else if (isdigit((unsigned char)*p)) {
		const char *s = p;
		while (isdigit((unsigned char)*s))
			s++;
		l->t = T_NUM;
		l->tn = (size_t)(s - p);
	} else {
		switch (*p) {
		case '(': l->t = T_LP; break;
		case ')': l->t = T_RP; break;
		case ',': l->t = T_COMMA; break;
		case '.': l->t = T_DOT; break;
		case '[': l->t = T_LB; break;
		case ']': l->t = T_RB; break;
		case '+': l->t = T_PLUS; break;
		case '-': l->t = T_MINUS; break;
		case '=': l->t = T_EQ; break;
		case '<':
			l->t = p[1] == '>' ? T_NE : p[1] == '=' ? T_LE : T_LT;
			l->tn = l->t == T_LT ? 1 : 2;
			break;
		case '>':
			l->t = p[1] == '=' ? T_GE : T_GT;
			l->tn = l->t == T_GT ? 1 : 2;
			break;
		default: l->t = T_BAD; break;
		}
	}
	l->p = p + l->tn;
}

static int syntax(struct lex *l)
{
	size_t off = (size_t)(l->ts - l->text);
	size_t from = off > 10 ? off - 10 : 0;
	if (l->t == T_END)
		return EFAIL(l->env, "Invalid %s: Syntax error; token: \"<EOF>\", near: \"%.*s\"", l->what,
			     (int)(off - from), l->text + from);
	return EFAIL(l->env, "Invalid %s: Syntax error; token: \"%.*s\", near: \"%.*s\"", l->what, (int)l->tn, l->ts,
		     (int)(strlen(l->ts) < 20 ? strlen(l->ts) : 20) + (int)(off - from), l->text + from);
}

static int is_kw(const struct lex *l, const char *kw)
{
	return l->t == T_IDENT && strlen(kw) == l->tn && strncasecmp(l->ts, kw, l->tn) == 0;
}

static int is_word(const struct lex *l, const char *w)
{
	return l->t == T_IDENT && strlen(w) == l->tn && strncmp(l->ts, w, l->tn) == 0;
}

static int expect(struct lex *l, enum tok t)
{
	if (l->t != t)
		return syntax(l);
	next(l);
	return 0;
}

/* ---- the tree ---- */

struct pel {
	char *name;                /* NULL: a list index */
	long index;
};

struct path {
	struct pel *el;
	int n;
	char *text;                /* as written, resolved: a.b[1] */
};

enum nkind {
	N_PATH, N_VALUE, N_SIZE, N_IFNE, N_LISTAPP, N_PLUS, N_MINUS,
	N_CMP, N_BETWEEN, N_IN, N_AND, N_OR, N_NOT, N_EXISTS, N_NEXISTS, N_TYPE, N_BEGINS, N_CONTAINS
};

struct node {
	enum nkind kind;
	enum tok op;               /* N_CMP */
	struct node *a, *b, *c;
	struct node **list;        /* N_IN */
	int nlist;
	struct path path;          /* N_PATH */
	const cJSON *value;        /* N_VALUE: the AttributeValue (borrowed from env) */
	char vname[64];            /* N_VALUE: its :name */
};

enum clause { C_SET, C_REMOVE, C_ADD, C_DELETE };

struct action {
	enum clause clause;
	struct path path;
	struct node *val;          /* SET's value, ADD's and DELETE's :value */
};

struct ddbx {
	enum ddbx_kind kind;
	struct node *cond;
	struct action *acts;
	int nacts;
	struct path *proj;
	int nproj;
};

static void path_free(struct path *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->el[i].name);
	free(p->el);
	free(p->text);
	memset(p, 0, sizeof *p);
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	node_free(n->a);
	node_free(n->b);
	node_free(n->c);
	for (int i = 0; i < n->nlist; i++)
		node_free(n->list[i]);
	free(n->list);
	path_free(&n->path);
	free(n);
}

void ddbx_free(struct ddbx *x)
{
	if (!x)
		return;
	node_free(x->cond);
	for (int i = 0; i < x->nacts; i++) {
		path_free(&x->acts[i].path);
		node_free(x->acts[i].val);
	}
	free(x->acts);
	for (int i = 0; i < x->nproj; i++)
		path_free(&x->proj[i]);
	free(x->proj);
	free(x);
}

static struct node *mknode(enum nkind k)
{
	struct node *n = tp_xcalloc(1, sizeof *n);
	n->kind = k;
	return n;
}

/* ---- parsing ---- */

static int parse_path(struct lex *l, struct path *out)
{
	memset(out, 0, sizeof *out);
	buf text = { 0 };
	for (;;) {
		char *name;
		if (l->t == T_IDENT) {
			if (is_reserved(l->ts, l->tn)) {
				EFAIL(l->env, "Invalid %s: Attribute name is a reserved keyword; reserved keyword: %.*s",
				      l->what, (int)l->tn, l->ts);
				goto bad;
			}
			name = tp_xstrndup(l->ts, l->tn);
		} else if (l->t == T_NAME) {
			const cJSON *m = env_lookup(l->env->names, l->env->used_names, l->ts, l->tn);
			if (!m) {
				EFAIL(l->env, "Invalid %s: An expression attribute name used in the document path is not "
				      "defined; attribute name: %.*s", l->what, (int)l->tn, l->ts);
				goto bad;
			}
			if (!cJSON_IsString(m) || !m->valuestring[0]) {
				EFAIL(l->env, "ExpressionAttributeNames contains invalid value: %s for key %s",
				      "not a non-empty string", m->string);
				goto bad;
			}
			name = tp_xstrdup(m->valuestring);
		} else {
			syntax(l);
			goto bad;
		}
		next(l);
		out->el = tp_xrealloc(out->el, (size_t)(out->n + 1) * sizeof *out->el);
		out->el[out->n++] = (struct pel){ name, -1 };
		buf_addf(&text, "%s%s", out->n > 1 ? "." : "", name);
		while (l->t == T_LB) {
			next(l);
			if (l->t != T_NUM) {
				syntax(l);
				goto bad;
			}
			long idx = strtol(l->ts, NULL, 10);
			next(l);
			if (expect(l, T_RB) < 0)
				goto bad;
			out->el = tp_xrealloc(out->el, (size_t)(out->n + 1) * sizeof *out->el);
			out->el[out->n++] = (struct pel){ NULL, idx };
			buf_addf(&text, "[%ld]", idx);
		}
		if (l->t != T_DOT)
			break;
		next(l);
	}
	out->text = buf_steal(&text);
	return 0;
bad:
	buf_free(&text);
	path_free(out);
	return -1;
}

static struct node *parse_value(struct lex *l)
{
	const cJSON *v = env_lookup(l->env->values, l->env->used_values, l->ts, l->tn);
	if (!v) {
		EFAIL(l->env, "Invalid %s: An expression attribute value used in expression is not defined; "
		      "attribute value: %.*s", l->what, (int)l->tn, l->ts);
		return NULL;
	}
	struct node *n = mknode(N_VALUE);
	n->value = v;
	snprintf(n->vname, sizeof n->vname, "%.*s", (int)l->tn, l->ts);
	next(l);
	return n;
}

static int is_func(const struct lex *l)
{
	return l->t == T_IDENT && l->p[strspn(l->p, " \t\r\n")] == '(';
}

static struct node *parse_path_node(struct lex *l)
{
	struct node *n = mknode(N_PATH);
	if (parse_path(l, &n->path) < 0) {
		free(n);
		return NULL;
	}
	return n;
}

/* operand := path | :value | size(path); in an update's SET also
 * if_not_exists(path, term) and list_append(term, term). */
static struct node *parse_operand(struct lex *l, int in_update)
{
	if (l->t == T_VALUE)
		return parse_value(l);
	if (is_func(l)) {
		enum nkind k;
		if (!in_update && is_word(l, "size"))
			k = N_SIZE;
		else if (in_update && is_word(l, "if_not_exists"))
			k = N_IFNE;
		else if (in_update && is_word(l, "list_append"))
			k = N_LISTAPP;
		else if (is_word(l, "attribute_exists") || is_word(l, "attribute_not_exists") ||
			 is_word(l, "attribute_type") || is_word(l, "begins_with") || is_word(l, "contains") ||
			 is_word(l, "size") || is_word(l, "if_not_exists") || is_word(l, "list_append")) {
			EFAIL(l->env, "Invalid %s: The function is not allowed to be used this way in an expression; "
			      "function: %.*s", l->what, (int)l->tn, l->ts);
			return NULL;
		} else {
			EFAIL(l->env, "Invalid %s: Invalid function name; function: %.*s", l->what, (int)l->tn, l->ts);
			return NULL;
		}
		next(l);
		next(l); /* ( */
		struct node *n = mknode(k);
		if (k == N_SIZE || k == N_IFNE)
			n->a = parse_path_node(l);
		else
			n->a = parse_operand(l, 1);
		if (!n->a)
			goto bad;
		if (k != N_SIZE) {
			if (expect(l, T_COMMA) < 0 || !(n->b = parse_operand(l, 1)))
				goto bad;
		}
		if (expect(l, T_RP) < 0)
			goto bad;
		return n;
bad:
		node_free(n);
		return NULL;
	}
	if (l->t == T_IDENT || l->t == T_NAME)
		return parse_path_node(l);
	syntax(l);
	return NULL;
}

static int is_cmp(enum tok t)
{
	return t == T_EQ || t == T_NE || t == T_LT || t == T_LE || t == T_GT || t == T_GE;
}

static const char *tok_text(enum tok t)
{
	switch (t) {
	case T_EQ: return "=";
	case T_NE: return "<>";
	case T_LT: return "<";
	case T_LE: return "<=";
	case T_GT: return ">";
	case T_GE: return ">=";
	default: return "?";
	}
}

/* A :value operand of an ordering must be a scalar that orders. */
static int check_orderable(struct lex *l, const struct node *n, const char *op)
{
	if (n->kind != N_VALUE)
		return 0;
	const char *t = ddbav_type(n->value);
	if (t && (strcmp(t, "S") == 0 || strcmp(t, "N") == 0 || strcmp(t, "B") == 0))
		return 0;
	return EFAIL(l->env, "Invalid %s: Incorrect operand type for operator or function; operator or function: %s, "
		     "operand type: %s", l->what, op, t ? t : "?");
}

static struct node *parse_or(struct lex *l);

static struct node *parse_function(struct lex *l)
{
	enum nkind k;
	if (is_word(l, "attribute_exists"))
		k = N_EXISTS;
	else if (is_word(l, "attribute_not_exists"))
		k = N_NEXISTS;
	else if (is_word(l, "attribute_type"))
		k = N_TYPE;
	else if (is_word(l, "begins_with"))
		k = N_BEGINS;
	else if (is_word(l, "contains"))
		k = N_CONTAINS;
	else
		return NULL;
	next(l);
	next(l); /* ( */
	struct node *n = mknode(k);
	if (!(n->a = parse_path_node(l)))
		goto bad;
	if (k != N_EXISTS && k != N_NEXISTS) {
		if (expect(l, T_COMMA) < 0 || !(n->b = parse_operand(l, 0)))
			goto bad;
		if (k == N_TYPE) {
			const char *t = n->b->kind == N_VALUE && type_is(n->b->value, "S") ? str_of(n->b->value) : NULL;
			int ok = 0;
			for (int i = 0; t && av_types[i]; i++)
				ok |= strcmp(t, av_types[i]) == 0;
			if (!ok) {
				EFAIL(l->env, "Invalid %s: Invalid attribute type name found; type: %s, valid types: "
				      "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}", l->what, t ? t : "(not a string value)");
				goto bad;
			}
		}
		if (k == N_BEGINS && n->b->kind == N_VALUE && !type_is(n->b->value, "S") && !type_is(n->b->value, "B")) {
			EFAIL(l->env, "Invalid %s: Incorrect operand type for operator or function; operator or function: "
			      "begins_with, operand type: %s", l->what, ddbav_type(n->b->value));
			goto bad;
		}
	}
	if (expect(l, T_RP) < 0)
		goto bad;
	return n;
bad:
	node_free(n);
	return NULL;
}

static struct node *parse_not(struct lex *l)
{
	if (is_kw(l, "NOT")) {
		next(l);
		struct node *n = mknode(N_NOT);
		if (!(n->a = parse_not(l))) {
			free(n);
			return NULL;
		}
		return n;
	}
	if (l->t == T_LP) {
		next(l);
		struct node *n = parse_or(l);
		if (n && expect(l, T_RP) < 0) {
			node_free(n);
			return NULL;
		}
		return n;
	}
	if (is_func(l) && !is_word(l, "size")) {
		struct node *f = parse_function(l);
		if (f || l->env->err[0])
			return f;
		EFAIL(l->env, "Invalid %s: Invalid function name; function: %.*s", l->what, (int)l->tn, l->ts);
		return NULL;
	}
	struct node *a = parse_operand(l, 0);
	if (!a)
		return NULL;
	struct node *n = NULL;
	if (is_cmp(l->t)) {
		n = mknode(N_CMP);
		n->op = l->t;
		n->a = a;
		next(l);
		if (!(n->b = parse_operand(l, 0)))
			goto bad;
		if (n->op != T_EQ && n->op != T_NE &&
		    (check_orderable(l, n->a, tok_text(n->op)) < 0 || check_orderable(l, n->b, tok_text(n->op)) < 0))
			goto bad;
		return n;
	}
	if (is_kw(l, "BETWEEN")) {
		n = mknode(N_BETWEEN);
		n->a = a;
		next(l);
		if (!(n->b = parse_operand(l, 0)))
			goto bad;
		if (!is_kw(l, "AND")) {
			syntax(l);
			goto bad;
		}
		next(l);
		if (!(n->c = parse_operand(l, 0)))
			goto bad;
		if (check_orderable(l, n->a, "BETWEEN") < 0 || check_orderable(l, n->b, "BETWEEN") < 0 ||
		    check_orderable(l, n->c, "BETWEEN") < 0)
			goto bad;
		int c;
		if (n->b->kind == N_VALUE && n->c->kind == N_VALUE && ddbav_order(n->b->value, n->c->value, &c) == 0 &&
		    c > 0) {
			EFAIL(l->env, "Invalid %s: The BETWEEN operator requires upper bound to be greater than or equal to "
			      "lower bound; lower bound operand: AttributeValue: %s, upper bound operand: AttributeValue: %s",
			      l->what, n->b->vname, n->c->vname);
			goto bad;
		}
		return n;
	}
	if (is_kw(l, "IN")) {
		n = mknode(N_IN);
		n->a = a;
		next(l);
		if (expect(l, T_LP) < 0)
			goto bad;
		for (;;) {
			struct node *v = parse_operand(l, 0);
			if (!v)
				goto bad;
			n->list = tp_xrealloc(n->list, (size_t)(n->nlist + 1) * sizeof *n->list);
			n->list[n->nlist++] = v;
			if (l->t != T_COMMA)
				break;
			next(l);
		}
		if (n->nlist > 100) {
			EFAIL(l->env, "Invalid %s: The IN operator is provided with too many operands; number of operands: %d",
			      l->what, n->nlist);
			goto bad;
		}
		if (expect(l, T_RP) < 0)
			goto bad;
		return n;
	}
	/* an operand alone is not a condition */
	syntax(l);
	node_free(a);
	return NULL;
bad:
	node_free(n);
	return NULL;
}

static struct node *parse_and(struct lex *l)
{
	struct node *a = parse_not(l);
	while (a && is_kw(l, "AND")) {
		next(l);
		struct node *n = mknode(N_AND);
		n->a = a;
		if (!(n->b = parse_not(l))) {
			node_free(n);
			return NULL;
		}
		a = n;
	}
	return a;
}

static struct node *parse_or(struct lex *l)
{
	struct node *a = parse_and(l);
	while (a && is_kw(l, "OR")) {
		next(l);
		struct node *n = mknode(N_OR);
		n->a = a;
		if (!(n->b = parse_and(l))) {
			node_free(n);
			return NULL;
		}
		a = n;
	}
	return a;
}

/* SET's right-hand side: term [+|- term]. */
static struct node *parse_set_value(struct lex *l)
{
	struct node *a = parse_operand(l, 1);
	if (!a || (l->t != T_PLUS && l->t != T_MINUS))
		return a;
	struct node *n = mknode(l->t == T_PLUS ? N_PLUS : N_MINUS);
	n->a = a;
	next(l);
	if (!(n->b = parse_operand(l, 1))) {
		node_free(n);
		return NULL;
	}
	return n;
}

static int path_prefix(const struct path *a, const struct path *b)
{
	int n = a->n < b->n ? a->n : b->n;
	for (int i = 0; i < n; i++) {
		const struct pel *x = &a->el[i], *y = &b->el[i];
		if (!x->name != !y->name)
			return 0;
		if (x->name ? strcmp(x->name, y->name) != 0 : x->index != y->index)
			return 0;
	}
	return 1;
}

static int parse_update(struct lex *l, struct ddbx *x)
{
	int seen[4] = { 0 };
	static const char *const names[] = { "SET", "REMOVE", "ADD", "DELETE" };
	if (l->t == T_END)
		return syntax(l);
	while (l->t != T_END) {
		int c = -1;
		for (int i = 0; i < 4; i++)
			if (is_kw(l, names[i]))
				c = i;
		if (c < 0)
			return syntax(l);
		if (seen[c]++)
			return EFAIL(l->env, "Invalid %s: The \"%s\" section can only be used once in an update expression;",
				     l->what, names[c]);
		next(l);
		for (;;) {
			struct action a = { .clause = (enum clause)c };
			if (parse_path(l, &a.path) < 0)
				return -1;
			x->acts = tp_xrealloc(x->acts, (size_t)(x->nacts + 1) * sizeof *x->acts);
			x->acts[x->nacts++] = a;
			struct action *ap = &x->acts[x->nacts - 1];
			if (c == C_SET) {
				if (expect(l, T_EQ) < 0 || !(ap->val = parse_set_value(l)))
					return -1;
			} else if (c == C_ADD || c == C_DELETE) {
				if (l->t != T_VALUE)
					return syntax(l);
				if (!(ap->val = parse_value(l)))
					return -1;
				const char *t = ddbav_type(ap->val->value);
				int ok = t && (strcmp(t, "SS") == 0 || strcmp(t, "NS") == 0 || strcmp(t, "BS") == 0 ||
					       (c == C_ADD && strcmp(t, "N") == 0));
				if (!ok)
					return EFAIL(l->env, "Invalid %s: Incorrect operand type for operator or function; "
						     "operator: %s, operand type: %s", l->what, names[c], t ? t : "?");
				if (ap->path.n > 1)
					return EFAIL(l->env, "Invalid %s: %s can only be used on top-level attributes; path: %s",
						     l->what, names[c], ap->path.text);
			}
			if (l->t != T_COMMA)
				break;
			next(l);
		}
	}
	for (int i = 0; i < x->nacts; i++)
		for (int j = 0; j < i; j++)
			if (path_prefix(&x->acts[i].path, &x->acts[j].path))
				return EFAIL(l->env, "Invalid %s: Two document paths overlap with each other; must remove or "
					     "rewrite one of these paths; path one: [%s], path two: [%s]", l->what,
					     x->acts[j].path.text, x->acts[i].path.text);
	return 0;
}

int ddbx_parse(struct ddbx_env *env, enum ddbx_kind kind, const char *what, const char *text, struct ddbx **out)
{
	*out = NULL;
	env->err[0] = 0;
	if (!text || !text[strspn(text, " \t\r\n")])
		return EFAIL(env, "Invalid %s: The expression can not be empty;", what);
	if (strlen(text) > 4096)   /* AWS's limit; it also bounds the parser's recursion */
		return EFAIL(env, "Invalid %s: Expression size has exceeded the maximum allowed size; expression size: %zu",
			     what, strlen(text));
	struct lex l = { .env = env, .what = what, .text = text, .p = text };
	struct ddbx *x = tp_xcalloc(1, sizeof *x);
	x->kind = kind;
	next(&l);
	int rc = 0;
	if (kind == DDBX_COND) {
		x->cond = parse_or(&l);
		rc = x->cond ? 0 : -1;
	} else if (kind == DDBX_UPDATE) {
		rc = parse_update(&l, x);
	} else {
		for (;;) {
			x->proj = tp_xrealloc(x->proj, (size_t)(x->nproj + 1) * sizeof *x->proj);
			if ((rc = parse_path(&l, &x->proj[x->nproj])) < 0)
				break;
			x->nproj++;
			if (l.t != T_COMMA)
				break;
			next(&l);
		}
	}
	if (rc == 0 && l.t != T_END)
		rc = syntax(&l);
	if (rc < 0) {
		if (!env->err[0])
			syntax(&l);
		ddbx_free(x);
		return -1;
	}
	*out = x;
	return 0;
}

/* ---- evaluation ---- */

/* The value at path in item (borrowed), NULL when absent. */
static const cJSON *path_get(const struct path *p, const cJSON *item)
{
	const cJSON *v = NULL;
	for (int i = 0; i < p->n; i++) {
		const struct pel *e = &p->el[i];
		if (i == 0) {
			v = item ? cJSON_GetObjectItemCaseSensitive(item, e->name) : NULL;
		} else if (e->name) {
			v = type_is(v, "M") ? cJSON_GetObjectItemCaseSensitive(v->child, e->name) : NULL;
		} else {
			v = type_is(v, "L") && e->index >= 0 ? cJSON_GetArrayItem(v->child, (int)e->index) : NULL;
		}
		if (!v)
			return NULL;
		if (i == 0 && !e->name)
			return NULL;
	}
	return v;
}

/* An operand's value: borrowed (item, env) or made into *tmp. */
static const cJSON *operand(const struct node *n, const cJSON *item, cJSON **tmp)
{
	*tmp = NULL;
	if (n->kind == N_VALUE)
		return n->value;
	if (n->kind == N_PATH)
		return path_get(&n->path, item);
	if (n->kind == N_SIZE) {
		const cJSON *v = path_get(&n->a->path, item);
		const char *t = ddbav_type(v);
		long size;
		if (!t || strcmp(t, "N") == 0 || strcmp(t, "BOOL") == 0 || strcmp(t, "NULL") == 0)
			return NULL;
		if (strcmp(t, "S") == 0) {
			size = (long)strlen(str_of(v));
		} else if (strcmp(t, "B") == 0) {
			char *b = NULL;
			size_t bn = 0;
			size = b_bytes(str_of(v), &b, &bn) < 0 ? 0 : (long)bn;
			free(b);
		} else {
			size = cJSON_GetArraySize(v->child);
		}
		struct num num = { 1, size, (double)size };
		return *tmp = num_av(&num);
	}
	return NULL;
}

static int eval(struct ddbx_env *env, const struct node *n, const cJSON *item)
{
	cJSON *t1 = NULL, *t2 = NULL, *t3 = NULL;
	const cJSON *a, *b, *c;
	int r = 0, o;
	switch (n->kind) {
	case N_AND:
		return eval(env, n->a, item) && eval(env, n->b, item);
	case N_OR:
		return eval(env, n->a, item) || eval(env, n->b, item);
	case N_NOT:
		return !eval(env, n->a, item);
	case N_EXISTS:
		return path_get(&n->a->path, item) != NULL;
	case N_NEXISTS:
		return path_get(&n->a->path, item) == NULL;
	case N_TYPE:
		a = path_get(&n->a->path, item);
		return a && strcmp(ddbav_type(a), str_of(n->b->value)) == 0;
	case N_BEGINS:
		a = path_get(&n->a->path, item);
		b = operand(n->b, item, &t1);
		if (a && b && ((type_is(a, "S") && type_is(b, "S")) || (type_is(a, "B") && type_is(b, "B")))) {
			if (type_is(a, "S")) {
				r = strncmp(str_of(a), str_of(b), strlen(str_of(b))) == 0;
			} else {
				char *x = NULL, *y = NULL;
				size_t nx = 0, ny = 0;
				if (b_bytes(str_of(a), &x, &nx) == 0 && b_bytes(str_of(b), &y, &ny) == 0)
					r = ny <= nx && memcmp(x, y, ny) == 0;
				free(x);
				free(y);
			}
		}
		break;
	case N_CONTAINS: {
		a = path_get(&n->a->path, item);
		b = operand(n->b, item, &t1);
		const char *ta = ddbav_type(a), *tb = ddbav_type(b);
		if (!ta || !tb)
			break;
		if (strcmp(ta, "S") == 0 && strcmp(tb, "S") == 0)
			r = strstr(str_of(a), str_of(b)) != NULL;
		else if (strlen(ta) == 2 && ta[1] == 'S' && strlen(tb) == 1 && ta[0] == tb[0]) /* SS NS BS */
			r = set_has(a->child, b->child, ta[0]);
		else if (strcmp(ta, "L") == 0)
			for (const cJSON *e = a->child->child; e && !r; e = e->next)
				r = ddbav_equal(e, b);
		break;
	}
	case N_CMP:
		a = operand(n->a, item, &t1);
		b = operand(n->b, item, &t2);
		if (n->op == T_NE) {
			r = !(a && b && ddbav_equal(a, b));
		} else if (n->op == T_EQ) {
			r = a && b && ddbav_equal(a, b);
		} else if (a && b && ddbav_order(a, b, &o) == 0) {
			r = n->op == T_LT ? o < 0 : n->op == T_LE ? o <= 0 : n->op == T_GT ? o > 0 : o >= 0;
		}
		break;
	case N_BETWEEN: {
		int lo, hi;
		a = operand(n->a, item, &t1);
		b = operand(n->b, item, &t2);
		c = operand(n->c, item, &t3);
		r = a && b && c && ddbav_order(a, b, &lo) == 0 && ddbav_order(a, c, &hi) == 0 && lo >= 0 && hi <= 0;
		break;
	}
	case N_IN:
		a = operand(n->a, item, &t1);
		for (int i = 0; a && i < n->nlist && !r; i++) {
			b = operand(n->list[i], item, &t2);
			r = b && ddbav_equal(a, b);
			cJSON_Delete(t2);
			t2 = NULL;
		}
		break;
	default:
		break;
	}
	cJSON_Delete(t1);
	cJSON_Delete(t2);
	cJSON_Delete(t3);
	return r;
}

int ddbx_eval(struct ddbx_env *env, const struct ddbx *x, const cJSON *item, int *result)
{
	*result = x && x->cond ? eval(env, x->cond, item) : 0;
	return 0;
}

/* ---- updates ---- */

/* A SET value, computed on the item as it was (a new AttributeValue). */
static cJSON *set_value(struct ddbx_env *env, const struct node *n, const cJSON *item)
{
	cJSON *tmp = NULL;
	switch (n->kind) {
	case N_VALUE:
		return cJSON_Duplicate(n->value, 1);
	case N_PATH: {
		const cJSON *v = path_get(&n->path, item);
		if (!v)
			EFAIL(env, "The provided expression refers to an attribute that does not exist in the item");
		return v ? cJSON_Duplicate(v, 1) : NULL;
	}
	case N_IFNE: {
		const cJSON *v = path_get(&n->a->path, item);
		return v ? cJSON_Duplicate(v, 1) : set_value(env, n->b, item);
	}
	case N_LISTAPP: {
		cJSON *a = set_value(env, n->a, item), *b = a ? set_value(env, n->b, item) : NULL;
		if (a && b && (!type_is(a, "L") || !type_is(b, "L"))) {
			EFAIL(env, "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or "
			      "function: list_append, operand type: %s", type_is(a, "L") ? ddbav_type(b) : ddbav_type(a));
			cJSON_Delete(a);
			cJSON_Delete(b);
			return NULL;
		}
		if (!b) {
			cJSON_Delete(a);
			return NULL;
		}
		cJSON *e;
		while ((e = cJSON_DetachItemFromArray(b->child, 0)))
			cJSON_AddItemToArray(a->child, e);
		cJSON_Delete(b);
		return a;
	}
	case N_PLUS:
	case N_MINUS: {
		cJSON *a = set_value(env, n->a, item), *b = a ? set_value(env, n->b, item) : NULL;
		struct num x, y, r;
		if (a && b && (!type_is(a, "N") || !type_is(b, "N"))) {
			EFAIL(env, "An operand in the update expression has an incorrect data type");
		} else if (a && b && num_parse(str_of(a), &x) == 0 && num_parse(str_of(b), &y) == 0) {
			if (num_add(&x, &y, n->kind == N_PLUS ? 1 : -1, &r) == 0)
				tmp = num_av(&r);
			else
				EFAIL(env, "Number overflow. Attempting to store a number with magnitude larger than supported range");
		}
		cJSON_Delete(a);
		cJSON_Delete(b);
		return tmp;
	}
	default:
		EFAIL(env, "Invalid UpdateExpression: an operand that cannot be used in SET");
		return NULL;
	}
}

/* The container holding path's last element (creating nothing), or NULL. */
static cJSON *parent_of(const struct path *p, cJSON *item)
{
	if (p->n == 1)
		return item;
	struct path up = { p->el, p->n - 1, NULL };
	cJSON *v = (cJSON *)path_get(&up, item);
	const struct pel *last = &p->el[p->n - 1];
	if (last->name && type_is(v, "M"))
		return v->child;
	if (!last->name && type_is(v, "L"))
		return v->child;
	return NULL;
}

static int set_at(struct ddbx_env *env, const struct path *p, cJSON *item, cJSON *val)
{
	cJSON *parent = parent_of(p, item);
	const struct pel *last = &p->el[p->n - 1];
	if (!parent) {
		cJSON_Delete(val);
		return EFAIL(env, "The document path provided in the update expression is invalid for update");
	}
	if (last->name) {
		if (cJSON_GetObjectItemCaseSensitive(parent, last->name))
			cJSON_ReplaceItemInObjectCaseSensitive(parent, last->name, val);
		else
			cJSON_AddItemToObject(parent, last->name, val);
	} else if (last->index < cJSON_GetArraySize(parent)) {
		cJSON_ReplaceItemInArray(parent, (int)last->index, val);
	} else {
		cJSON_AddItemToArray(parent, val); /* past the end: appended */
	}
	return 0;
}

static void remove_at(const struct path *p, cJSON *item)
{
	cJSON *parent = parent_of(p, item);
	const struct pel *last = &p->el[p->n - 1];
	if (parent && last->name)
		cJSON_DeleteItemFromObjectCaseSensitive(parent, last->name);
	else if (parent && last->index < cJSON_GetArraySize(parent))
		cJSON_DeleteItemFromArray(parent, (int)last->index);
}

/* ADD / DELETE of v to the top-level attribute name. */
static int add_delete(struct ddbx_env *env, enum clause c, const char *name, const cJSON *v, cJSON *item)
{
	cJSON *cur = cJSON_GetObjectItemCaseSensitive(item, name);
	const char *tv = ddbav_type(v);
	if (!cur) {
		if (c == C_ADD)
			cJSON_AddItemToObject(item, name, cJSON_Duplicate(v, 1));
		return 0;
	}
	const char *tc = ddbav_type(cur);
	if (!tc || strcmp(tc, tv) != 0)
		return EFAIL(env, "An operand in the update expression has an incorrect data type");
	if (strcmp(tv, "N") == 0) {
		struct num x, y, r;
		if (num_parse(str_of(cur), &x) < 0 || num_parse(str_of(v), &y) < 0 || num_add(&x, &y, 1, &r) < 0)
			return EFAIL(env, "Number overflow. Attempting to store a number with magnitude larger than supported range");
		cJSON_ReplaceItemInObjectCaseSensitive(item, name, num_av(&r));
		return 0;
	}
	char t = tv[0];
	for (const cJSON *e = v->child->child; e; e = e->next) {
		int i = 0, found = -1;
		for (const cJSON *x = cur->child->child; x; x = x->next, i++)
			if (set_dup(x, e, t))
				found = i;
		if (c == C_ADD && found < 0)
			cJSON_AddItemToArray(cur->child, cJSON_CreateString(e->valuestring));
		else if (c == C_DELETE && found >= 0)
			cJSON_DeleteItemFromArray(cur->child, found);
	}
	if (!cur->child->child)   /* an empty set is no attribute */
		cJSON_DeleteItemFromObjectCaseSensitive(item, name);
	return 0;
}

static void touch(cJSON *touched, const char *name)
{
	if (!touched)
		return;
	for (const cJSON *t = touched->child; t; t = t->next)
		if (strcmp(t->valuestring, name) == 0)
			return;
	cJSON_AddItemToArray(touched, cJSON_CreateString(name));
}

/* REMOVEs of one list's elements go from the highest index down, so each
 * names the element it meant. */
static int remove_order(const struct action *x, const struct action *y)
{
	const struct path *a = &x->path, *b = &y->path;
	if (a->n != b->n || a->el[a->n - 1].name || b->el[b->n - 1].name)
		return 0;
	struct path pa = { a->el, a->n - 1, NULL }, pb = { b->el, b->n - 1, NULL };
	if (!path_prefix(&pa, &pb))
		return 0;
	return a->el[a->n - 1].index < b->el[b->n - 1].index;
}

int ddbx_update(struct ddbx_env *env, const struct ddbx *x, cJSON *item, const char *const *keys, cJSON *touched)
{
	env->err[0] = 0;
	for (int i = 0; i < x->nacts; i++)
		for (int k = 0; keys && keys[k]; k++)
			if (strcmp(x->acts[i].path.el[0].name, keys[k]) == 0)
				return EFAIL(env, "One or more parameter values were invalid: Cannot update attribute %s. This "
					     "attribute is part of the key", keys[k]);
	cJSON *old = cJSON_Duplicate(item, 1);
	cJSON **vals = tp_xcalloc((size_t)x->nacts + 1, sizeof *vals);
	int rc = 0;
	for (int i = 0; i < x->nacts && rc == 0; i++)
		if (x->acts[i].clause == C_SET && !(vals[i] = set_value(env, x->acts[i].val, old)))
			rc = -1;
	for (int i = 0; i < x->nacts && rc == 0; i++) {
		const struct action *a = &x->acts[i];
		touch(touched, a->path.el[0].name);
		if (a->clause == C_SET) {
			rc = set_at(env, &a->path, item, vals[i]);
			vals[i] = NULL;
		} else if (a->clause == C_ADD || a->clause == C_DELETE) {
			rc = add_delete(env, a->clause, a->path.el[0].name, a->val->value, item);
		}
	}
	/* removes last, highest list index first */
	int *order = tp_xcalloc((size_t)x->nacts + 1, sizeof *order), n = 0;
	for (int i = 0; i < x->nacts; i++)
		if (x->acts[i].clause == C_REMOVE) {
			int j = n++;
			while (j > 0 && remove_order(&x->acts[order[j - 1]], &x->acts[i])) {
				order[j] = order[j - 1];
				j--;
			}
			order[j] = i;
		}
	for (int i = 0; i < n && rc == 0; i++)
		remove_at(&x->acts[order[i]].path, item);
	free(order);
	for (int i = 0; i < x->nacts; i++)
		cJSON_Delete(vals[i]);
	free(vals);
	cJSON_Delete(old);
	return rc;
}

/* ---- projections and key conditions ---- */

cJSON *ddbx_project(const struct ddbx *x, const cJSON *item)
{
	cJSON *out = cJSON_CreateObject();
	for (int i = 0; x && i < x->nproj; i++) {
		const struct path *p = &x->proj[i];
		const cJSON *v = path_get(p, item);
		if (!v)
			continue;
		/* build the containers down to the value */
		cJSON *at = out;
		const cJSON *src = item;
		for (int k = 0; k < p->n; k++) {
			const struct pel *e = &p->el[k];
			const cJSON *sv = k == 0 ? cJSON_GetObjectItemCaseSensitive(src, e->name) :
					  e->name ? cJSON_GetObjectItemCaseSensitive(src->child, e->name) :
					  cJSON_GetArrayItem(src->child, (int)e->index);
			if (k == p->n - 1) {
				if (e->name && !cJSON_GetObjectItemCaseSensitive(at, e->name))
					cJSON_AddItemToObject(at, e->name, cJSON_Duplicate(sv, 1));
				else if (!e->name)
					cJSON_AddItemToArray(at, cJSON_Duplicate(sv, 1));
				break;
			}
			const char *t = ddbav_type(sv);
			cJSON *next_at = e->name ? cJSON_GetObjectItemCaseSensitive(at, e->name) : NULL;
			if (!next_at) {
				next_at = cJSON_CreateObject();
				if (strcmp(t, "M") == 0)
					cJSON_AddObjectToObject(next_at, "M");
				else
					cJSON_AddArrayToObject(next_at, "L");
				if (e->name)
					cJSON_AddItemToObject(at, e->name, next_at);
				else
					cJSON_AddItemToArray(at, next_at);
			}
			at = next_at->child;
			src = sv;
		}
	}
	return out;
}

static int is_key_eq(const struct node *n, const char *name)
{
	return n->kind == N_CMP && n->op == T_EQ && n->a->kind == N_PATH && n->a->path.n == 1 &&
	       strcmp(n->a->path.el[0].name, name) == 0 && n->b->kind == N_VALUE;
}

/* A condition on the range key alone, of a form a key condition allows. */
static int is_range_cond(const struct node *n, const char *range)
{
	const struct node *p = n->a;
	if (!range || !p || p->kind != N_PATH || p->path.n != 1 || strcmp(p->path.el[0].name, range) != 0)
		return 0;
	if (n->kind == N_CMP)
		return n->op != T_NE && n->b->kind == N_VALUE;
	if (n->kind == N_BETWEEN)
		return n->b->kind == N_VALUE && n->c->kind == N_VALUE;
	return n->kind == N_BEGINS && n->b->kind == N_VALUE;
}

int ddbx_keycond(struct ddbx_env *env, const struct ddbx *x, const char *hash_name, const char *range_name,
		 const cJSON **hash_val, int *has_range)
{
	const struct node *n = x->cond, *h = NULL, *r = NULL;
	*hash_val = NULL;
	*has_range = 0;
	if (n->kind == N_AND) {
		if (is_key_eq(n->a, hash_name) && is_range_cond(n->b, range_name))
			h = n->a, r = n->b;
		else if (is_key_eq(n->b, hash_name) && is_range_cond(n->a, range_name))
			h = n->b, r = n->a;
	} else if (is_key_eq(n, hash_name)) {
		h = n;
	}
	if (!h)
		return EFAIL(env, "Query key condition not supported (KeyConditionExpression must be %s = :value, "
			     "optionally AND one condition on %s)", hash_name, range_name ? range_name : "the range key");
	*hash_val = h->b->value;
	*has_range = r != NULL;
	return 0;
}
