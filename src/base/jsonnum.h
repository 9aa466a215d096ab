/* jsonnum.h: JSON parsing that keeps every number's text as written.
 *
 * cJSON stores a number only as a double, so 0.1 and 123456789012345678
 * come back as 0.10000000000000001 and 123456789012345680. Config items are
 * DynamoDB numbers (38 decimal digits), so their text must survive: this
 * parse turns every number node into a cJSON Raw node whose valuestring is
 * the number's text exactly as it appears in the input. */
#ifndef TP_JSONNUM_H
#define TP_JSONNUM_H

struct cJSON;

/* Parse text (NUL-terminated) like cJSON_Parse; numbers become Raw nodes
 * holding their original text. NULL when the text is not JSON. The caller
 * frees the result with cJSON_Delete. */
struct cJSON *jsonnum_parse(const char *text);

/* One JSON value from text, the same way, for text holding several (JSON
 * lines, values one after another): *end is set past the value, or at
 * the error when the text there is not JSON (then NULL). */
struct cJSON *jsonnum_parse_next(const char *text, const char **end);

/* Turn every Raw node of the tree j (and its siblings) into a Number node
 * valued as cJSON_Parse reads that text: what a print-and-parse of the tree
 * gives, without either. For trees whose Raw nodes are all numbers. */
void jsonnum_raw_to_numbers(struct cJSON *j);

#endif
