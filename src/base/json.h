/* json.h: small cJSON helpers shared by the modules that compare and print
 * AWS values. */
#ifndef TP_JSON_H
#define TP_JSON_H

#include <stddef.h>

struct cJSON;

/* Makes cJSON allocate with tp_xmalloc, so its allocation failure aborts
 * (base.h's rule) instead of returning NULL. Called once at startup by
 * main(), before any cJSON use; unit tests may skip it. */
void json_init_hooks(void);

/* A value as AWS reports it in text: integral numbers without a fraction
 * ("30"), other numbers exactly (%.17g), strings as they are, booleans
 * "true"/"false", absent or null "(none)", objects and arrays as JSON. */
void json_value_str(const struct cJSON *v, char *out, size_t len);

struct hash_sha256_stream;

/* Feed v into s in a canonical form: object members sorted by key (bytes),
 * strings length-prefixed, numbers by their text (Raw) or %.17g, so two
 * trees with the same members in another order hash the same, and no two
 * different trees share an encoding. Allocates only for objects of more
 * than 32 members. */
void json_hash_canonical(struct hash_sha256_stream *s, const struct cJSON *v);

#endif
