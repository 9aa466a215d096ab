/* xml.h: just enough XML reading for SNS (query protocol) and S3 answers:
 * find elements by name and read their text, entity-decoded. Not a general
 * parser: no DTDs, no namespaces (a prefix "ns:Tag" matches "Tag").
 * Never reads past len; malformed input gives "not found", never a crash.
 */
#ifndef TP_XML_H
#define TP_XML_H

#include "base/base.h"

/* Text of the first element named tag at or after doc[0..len). Returns 1
 * when found (out filled, entity-decoded: &lt; &gt; &amp; &quot; &apos;
 * &#N; &#xN;), 0 when not. */
int xml_text(const char *doc, size_t len, const char *tag, buf *out);

/* Walk every element named tag; for each, call fn with its inner content
 * (raw, not decoded) so callers can xml_text() inside it. Returns the count.
 * fn returning non-zero stops the walk. */
int xml_each(const char *doc, size_t len, const char *tag,
	     int (*fn)(void *ctx, const char *inner, size_t inner_len), void *ctx);

/* Append s XML-escaped (& < > " ') to out. */
void xml_escape(buf *out, const char *s);

#endif
