/* xml.c: just enough XML reading for SNS and S3 answers (see xml.h).
 *
 * A small tokenizer walks doc[0..len) and yields text, start, end and
 * empty-element tags; comments, <?...?>, <!DOCTYPE> are skipped, CDATA is
 * text taken literally. Element names match on their local part ("ns:Tag"
 * matches "Tag"). The end of an element is found by counting only start
 * and end tags of the same name, so stray unclosed tags inside (HTML's
 * <br>) do not hide it. An element whose end never comes is "not found".
 * xml_text() gives the element's text content: text and CDATA of it and
 * all its descendants, entity-decoded, markup dropped; out is replaced
 * (empty, but allocated, when nothing was found or the element is empty).
 */
#include "base/xml.h"

#include <string.h>

enum tok_type { TOK_EOF, TOK_TEXT, TOK_CDATA, TOK_START, TOK_END, TOK_EMPTY, TOK_SKIP };

struct tok {
	int type;
	size_t start, end;     /* the whole token: doc[start..end) */
	size_t a, b;           /* TEXT/CDATA: content; tags: the name */
};

static int is_name_start(unsigned char c)
{
	return c == '_' || c == ':' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c >= 0x80;
}

static int is_name_char(unsigned char c)
{
	return is_name_start(c) || c == '-' || c == '.' || (c >= '0' && c <= '9');
}

/* Offset of needle in d[from..len), or len when absent. */
static size_t find(const char *d, size_t len, size_t from, const char *needle)
{
	size_t n = strlen(needle);
	if (from > len || len - from < n)
		return len;
	const char *p = memmem(d + from, len - from, needle, n);
	return p ? (size_t)(p - d) : len;
}

static int starts(const char *d, size_t len, size_t at, const char *s)
{
	size_t n = strlen(s);
	return at <= len && len - at >= n && memcmp(d + at, s, n) == 0;
}

/* The next token at *pos; TOK_EOF at the end or at an unterminated construct. */
static int next_tok(const char *d, size_t len, size_t *pos, struct tok *t)
{
	size_t i = *pos;
	t->start = i;
	if (i >= len)
		return t->type = TOK_EOF;
	if (d[i] != '<' || i + 1 >= len || !(is_name_start((unsigned char)d[i + 1]) ||
					       d[i + 1] == '/' || d[i + 1] == '!' || d[i + 1] == '?')) {
		/* text runs to the next '<' (a lone '<' that starts no markup is text) */
		const char *lt = memchr(d + i + 1, '<', len - i - 1);
		t->a = i;
		t->b = t->end = lt ? (size_t)(lt - d) : len;
		*pos = t->end;
		return t->type = TOK_TEXT;
	}
	if (starts(d, len, i, "<!--")) {
		size_t e = find(d, len, i + 4, "-->");
		if (e >= len)
			return t->type = TOK_EOF;
		*pos = t->end = e + 3;
		return t->type = TOK_SKIP;
	}
	if (starts(d, len, i, "<![CDATA[")) {
		size_t e = find(d, len, i + 9, "]]>");
		if (e >= len)
			return t->type = TOK_EOF;
		t->a = i + 9;
		t->b = e;
		*pos = t->end = e + 3;
		return t->type = TOK_CDATA;
	}
	if (d[i + 1] == '?') {
		size_t e = find(d, len, i + 2, "?>");
		if (e >= len)
			return t->type = TOK_EOF;
		*pos = t->end = e + 2;
		return t->type = TOK_SKIP;
	}
	if (d[i + 1] == '!') {
		const char *gt = memchr(d + i, '>', len - i);
		if (!gt)
			return t->type = TOK_EOF;
		*pos = t->end = (size_t)(gt - d) + 1;
		return t->type = TOK_SKIP;
	}
	int is_end = d[i + 1] == '/';
	size_t j = i + 1 + (size_t)is_end;
	t->a = j;
	while (j < len && is_name_char((unsigned char)d[j]))
		j++;
	t->b = j;
	/* attributes: skip to '>' outside quotes */
	char quote = 0;
	for (; j < len; j++) {
		if (quote) {
			if (d[j] == quote)
				quote = 0;
		} else if (d[j] == '"' || d[j] == '\'') {
			quote = d[j];
		} else if (d[j] == '>') {
			break;
		}
	}
	if (j >= len)
		return t->type = TOK_EOF;
	*pos = t->end = j + 1;
	if (is_end)
		return t->type = TOK_END;
	return t->type = d[j - 1] == '/' && j - 1 >= t->b ? TOK_EMPTY : TOK_START;
}

/* Does the name d[a..b) have local part tag (after any prefix)? */
static int name_is(const char *d, size_t a, size_t b, const char *tag, size_t tag_len)
{
	const char *colon = memrchr(d + a, ':', b - a);
	if (colon)
		a = (size_t)(colon - d) + 1;
	return b - a == tag_len && memcmp(d + a, tag, tag_len) == 0;
}

/* Find the next element named tag from *pos: inner content d[*ia..*ib),
 * *pos moved past its end. Returns 0 when there is none (or it never ends). */
static int find_elem(const char *d, size_t len, const char *tag, size_t *pos, size_t *ia, size_t *ib)
{
	const char *colon = strrchr(tag, ':');
	if (colon)
		tag = colon + 1;
	size_t tl = strlen(tag);
	struct tok t;
	for (;;) {
		int ty = next_tok(d, len, pos, &t);
		if (ty == TOK_EOF)
			return 0;
		if ((ty != TOK_START && ty != TOK_EMPTY) || !name_is(d, t.a, t.b, tag, tl))
			continue;
		*ia = *ib = t.end;
		if (ty == TOK_EMPTY)
			return 1;
		int depth = 1;
		while (depth > 0) {
			ty = next_tok(d, len, pos, &t);
			if (ty == TOK_EOF)
				return 0;
			if ((ty == TOK_START || ty == TOK_END) && name_is(d, t.a, t.b, tag, tl))
				depth += ty == TOK_START ? 1 : -1;
		}
		*ib = t.start;
		return 1;
	}
}

static void put_utf8(buf *out, unsigned long cp)
{
	char s[4];
	size_t n;
	if (cp < 0x80) {
		s[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		s[0] = (char)(0xC0 | (cp >> 6));
		s[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		s[0] = (char)(0xE0 | (cp >> 12));
		s[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		s[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		s[0] = (char)(0xF0 | (cp >> 18));
		s[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		s[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		s[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	buf_add(out, s, n);
}

/* Decode one entity at d[i] == '&' (ending before len); returns its length,
 * or 0 when it is not one we know (the caller keeps the '&' literally). */
static size_t decode_entity(const char *d, size_t i, size_t len, buf *out)
{
	static const struct { const char *name; char c; } named[] = {
		{ "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' }, { "&quot;", '"' }, { "&apos;", '\'' },
	};
	for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
		if (starts(d, len, i, named[k].name)) {
			buf_addc(out, named[k].c);
			return strlen(named[k].name);
		}
	}
	if (!starts(d, len, i, "&#"))
		return 0;
	size_t j = i + 2;
	int hex = j < len && (d[j] == 'x' || d[j] == 'X');
	j += (size_t)hex;
	unsigned long cp = 0;
	size_t digits = 0;
	for (; j < len && digits < 8; j++, digits++) {
		char c = d[j];
		int v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (hex && c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (hex && c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			break;
		cp = cp * (hex ? 16 : 10) + (unsigned long)v;
	}
	/* NUL, surrogates and beyond Unicode stay literal text */
	if (!digits || j >= len || d[j] != ';' || cp == 0 || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	put_utf8(out, cp);
	return j + 1 - i;
}

static void add_decoded(buf *out, const char *d, size_t a, size_t b)
{
	while (a < b) {
		const char *amp = memchr(d + a, '&', b - a);
		size_t stop = amp ? (size_t)(amp - d) : b;
		buf_add(out, d + a, stop - a);
		a = stop;
		if (a >= b)
			break;
		size_t n = decode_entity(d, a, b, out);
		if (!n) {
			buf_addc(out, '&');
			n = 1;
		}
		a += n;
	}
}

int xml_text(const char *doc, size_t len, const char *tag, buf *out)
{
	buf_reset(out);
	buf_add(out, "", 0); /* allocated even when empty */
	if (!doc || !tag)
		return 0;
	size_t pos = 0, ia, ib;
	if (!find_elem(doc, len, tag, &pos, &ia, &ib))
		return 0;
	/* text content of d[ia..ib): text and CDATA, markup dropped */
	struct tok t;
	size_t p = ia;
	for (;;) {
		int ty = next_tok(doc, ib, &p, &t);
		if (ty == TOK_EOF)
			break;
		if (ty == TOK_TEXT)
			add_decoded(out, doc, t.a, t.b);
		else if (ty == TOK_CDATA)
			buf_add(out, doc + t.a, t.b - t.a);
	}
	return 1;
}

int xml_each(const char *doc, size_t len, const char *tag,
	     int (*fn)(void *ctx, const char *inner, size_t inner_len), void *ctx)
{
	if (!doc || !tag)
		return 0;
	int n = 0;
	size_t pos = 0, ia, ib;
	while (find_elem(doc, len, tag, &pos, &ia, &ib)) {
		n++;
		if (fn && fn(ctx, doc + ia, ib - ia))
			break;
	}
	return n;
}

void xml_escape(buf *out, const char *s)
{
	if (!s)
		return;
	for (; *s; s++) {
		switch (*s) {
		case '&': buf_adds(out, "&amp;"); break;
		case '<': buf_adds(out, "&lt;"); break;
		case '>': buf_adds(out, "&gt;"); break;
		case '"': buf_adds(out, "&quot;"); break;
		case '\'': buf_adds(out, "&apos;"); break;
		default: buf_addc(out, *s);
		}
	}
}
