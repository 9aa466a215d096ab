/* wire.h: cJSON trees as tagged binary, for the policy worker's pipes.
 *
 * Values cross between taskpipe and its policy worker process in this form
 * instead of JSON text: no number is printed or re-read (a Number goes as
 * its 8 double bytes, a Raw number node as its exact text), no string is
 * escaped and unescaped. One value is a tag byte and its payload:
 *   'n' null  'f' false  't' true
 *   'd' double (8 bytes, little endian)
 *   'r' raw text, 's' string: u32 length, bytes
 *   'a' array: u32 count, values      'o' object: u32 count, (u32 key length, key, value)...
 * Lengths are little endian. The decoder checks every length against what
 * is left, refuses NUL bytes in strings and keys (cJSON keeps C strings),
 * nesting deeper than WIRE_MAX_DEPTH and more than max_nodes values.
 */
#ifndef TP_WIRE_H
#define TP_WIRE_H

#include "base/base.h"

struct cJSON;

#define WIRE_MAX_DEPTH 200

/* Append the encoding of j (NULL: a null) to b. */
void wire_put(buf *b, const struct cJSON *j);
/* Little-endian u32 and a length-prefixed byte string, for envelopes. */
void wire_put_u32(buf *b, uint32_t v);
void wire_put_str(buf *b, const char *s);

/* A reader over received bytes. */
struct wire_in {
	const unsigned char *p, *end;
	size_t nodes, max_nodes;   /* values decoded so far; 0 max: no cap */
	int over;                  /* max_nodes was passed */
};

/* Decode one value into a new cJSON tree; NULL when the bytes are not one
 * well-formed value or the node cap was passed (in->over says which). */
struct cJSON *wire_get(struct wire_in *in);
/* 0, or -1 when the bytes run out. wire_get_str's *s is a new string. */
int wire_get_u32(struct wire_in *in, uint32_t *v);
int wire_get_str(struct wire_in *in, char **s);

#endif
