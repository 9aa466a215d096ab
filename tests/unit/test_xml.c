/* test_xml.c: xml_text / xml_each / xml_escape on real SNS and S3 answers
 * and on malformed input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xml.h"

static const char sns_error[] =
	"<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\n"
	"  <Error>\n"
	"    <Type>Sender</Type>\n"
	"    <Code>NotFound</Code>\n"
	"    <Message>Topic does not exist</Message>\n"
	"  </Error>\n"
	"  <RequestId>9dd01905-5012-5f99-8663-4b3ecd0dfaef</RequestId>\n"
	"</ErrorResponse>\n";

static const char sns_list[] =
	"<?xml version=\"1.0\"?>\n"
	"<ListTopicsResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\n"
	"  <ListTopicsResult>\n"
	"    <Topics>\n"
	"      <member><TopicArn>arn:aws:sns:us-east-1:123456789012:a</TopicArn></member>\n"
	"      <member><TopicArn>arn:aws:sns:us-east-1:123456789012:b</TopicArn></member>\n"
	"      <member><TopicArn>arn:aws:sns:us-east-1:123456789012:c</TopicArn></member>\n"
	"    </Topics>\n"
	"    <NextToken/>\n"
	"  </ListTopicsResult>\n"
	"  <ResponseMetadata><RequestId>abc</RequestId></ResponseMetadata>\n"
	"</ListTopicsResponse>\n";

/* xml_text on a string literal; returns the text or NULL when not found
 * (the static buffer is reused). */
static const char *text_of(const char *doc, size_t len, const char *tag)
{
	static buf b;
	buf_free(&b);
	if (!xml_text(doc, len, tag, &b)) {
		assert_non_null(b.data); /* still allocated and empty */
		assert_string_equal(b.data, "");
		buf_free(&b);
		return NULL;
	}
	assert_non_null(b.data);
	return b.data;
}

#define T(doc, tag) text_of(doc, strlen(doc), tag)

static void test_sns_error(void **state)
{
	(void)state;
	assert_string_equal(T(sns_error, "Code"), "NotFound");
	assert_string_equal(T(sns_error, "Message"), "Topic does not exist");
	assert_string_equal(T(sns_error, "Type"), "Sender");
	assert_string_equal(T(sns_error, "RequestId"), "9dd01905-5012-5f99-8663-4b3ecd0dfaef");
	assert_null(T(sns_error, "HostId"));
	/* text content of a parent: markup dropped, text kept */
	const char *err = T(sns_error, "Error");
	assert_non_null(strstr(err, "Sender"));
	assert_non_null(strstr(err, "NotFound"));
	assert_null(strchr(err, '<'));
}

static void test_s3_error(void **state)
{
	(void)state;
	const char *doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			  "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>"
			  "<BucketName>tp-code</BucketName><RequestId>4442587FB7D0A2F9</RequestId>"
			  "<HostId>nC+Kw8AbCdEf=</HostId></Error>";
	assert_string_equal(T(doc, "Code"), "NoSuchBucket");
	assert_string_equal(T(doc, "BucketName"), "tp-code");
	assert_string_equal(T(doc, "RequestId"), "4442587FB7D0A2F9");
	assert_string_equal(T(doc, "HostId"), "nC+Kw8AbCdEf=");
}

static void test_self_closing_attrs_prefix(void **state)
{
	(void)state;
	assert_string_equal(T(sns_list, "NextToken"), "");
	assert_string_equal(T("<a><b x='1' /></a>", "b"), "");
	/* '>' and '/' inside attribute values do not end the tag */
	assert_string_equal(T("<a href=\"x>y/\" c='>'>in</a>", "a"), "in");
	/* a prefix matches the local name, in the doc or in the query */
	assert_string_equal(T("<s:Envelope><s:Code>C1</s:Code></s:Envelope>", "Code"), "C1");
	assert_string_equal(T("<Code>C2</Code>", "x:Code"), "C2");
	/* names are exact: Codes is not Code, case matters */
	assert_null(T("<Codes>x</Codes><code>y</code>", "Code"));
	/* matching end tags may carry whitespace */
	assert_string_equal(T("<Code >v</Code >", "Code"), "v");
}

static void test_comments_pi_cdata(void **state)
{
	(void)state;
	const char *doc = "<?xml version=\"1.0\"?><!DOCTYPE x><!-- <Code>no</Code> -->"
			  "<Code><!-- c -->A<![CDATA[<b>&amp;</b>]]>Z</Code>";
	assert_string_equal(T(doc, "Code"), "A<b>&amp;</b>Z");
	/* a comment inside a tag-looking place does not fool the walk */
	assert_string_equal(T("<!-- <X> --><X>1</X>", "X"), "1");
}

static void test_entities(void **state)
{
	(void)state;
	assert_string_equal(T("<m>&lt;a&gt; &amp; &quot;q&quot; &apos;s&apos;</m>", "m"), "<a> & \"q\" 's'");
	assert_string_equal(T("<m>&#65;&#x42;&#X43;&#xe9;&#x20AC;&#x1F600;</m>", "m"),
			    "ABC\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	/* unknown, unterminated, NUL, surrogate, too big: kept literally */
	assert_string_equal(T("<m>&nbsp; &amp &#0; &#xD800; &#x110000; &#; &</m>", "m"),
			    "&nbsp; &amp &#0; &#xD800; &#x110000; &#; &");
}

static void test_nesting(void **state)
{
	(void)state;
	/* same-name nesting: the outer element ends at its own end tag */
	assert_string_equal(T("<a>1<a>2</a>3</a><a>4</a>", "a"), "123");
	/* an unclosed foreign tag inside does not hide the end */
	assert_string_equal(T("<p>x<br>y</p>", "p"), "xy");
	/* first in document order */
	assert_string_equal(T("<r><Code>first</Code><Code>second</Code></r>", "Code"), "first");
}

static void test_malformed(void **state)
{
	(void)state;
	assert_null(T("", "Code"));
	assert_null(T("<Code>never closed", "Code"));
	assert_null(T("<Code", "Code"));
	assert_null(T("<Code attr=\"unterminated>x</Code>", "Code"));
	assert_null(T("<!-- <Code>x</Code>", "Code"));
	assert_null(T("<![CDATA[ <Code>x</Code>", "Code"));
	assert_string_equal(T("a < b <Code>1 < 2</Code>", "Code"), "1 < 2");
	assert_null(T("<<<<>>>></></>", "Code"));
	buf nb = {0};
	assert_int_equal(xml_text(NULL, 0, "Code", &nb), 0);
	buf_free(&nb);

	/* len is respected: the end tag lies past len */
	const char *doc = "<Code>abc</Code>";
	assert_null(text_of(doc, 12, "Code"));
	assert_string_equal(text_of(doc, 16, "Code"), "abc");

	/* NULs inside are just bytes; a heap copy without terminator for ASan */
	const char raw[] = "<Code>a\0b</Code>\0<M>m</M>";
	char *heap = malloc(sizeof raw - 1);
	memcpy(heap, raw, sizeof raw - 1);
	buf b = {0};
	assert_int_equal(xml_text(heap, sizeof raw - 1, "Code", &b), 1);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 3);
	assert_int_equal(xml_text(heap, sizeof raw - 1, "M", &b), 1);
	assert_string_equal(b.data, "m");
	/* a truncated copy: every prefix length is safe */
	for (size_t n = 0; n < sizeof raw - 1; n++)
		xml_text(heap, n, "M", &b);
	buf_free(&b);
	free(heap);
}

struct collect {
	int stop_after;
	int seen;
	char arns[4][64];
};

static int on_member(void *ctx, const char *inner, size_t inner_len)
{
	struct collect *c = ctx;
	buf b = {0};
	if (xml_text(inner, inner_len, "TopicArn", &b) && c->seen < 4)
		snprintf(c->arns[c->seen], sizeof c->arns[0], "%s", b.data);
	buf_free(&b);
	c->seen++;
	return c->stop_after && c->seen >= c->stop_after;
}

static void test_each(void **state)
{
	(void)state;
	struct collect c = {0};
	assert_int_equal(xml_each(sns_list, strlen(sns_list), "member", on_member, &c), 3);
	assert_int_equal(c.seen, 3);
	assert_string_equal(c.arns[0], "arn:aws:sns:us-east-1:123456789012:a");
	assert_string_equal(c.arns[2], "arn:aws:sns:us-east-1:123456789012:c");

	struct collect s = { .stop_after = 2 };
	assert_int_equal(xml_each(sns_list, strlen(sns_list), "member", on_member, &s), 2);
	assert_int_equal(s.seen, 2);

	assert_int_equal(xml_each(sns_list, strlen(sns_list), "nothing", on_member, &c), 0);
	/* self-closing elements count, with empty inner */
	assert_int_equal(xml_each("<r><m/><m></m><m>x</m></r>", 26, "m", NULL, NULL), 3);
	/* an element that never ends is not counted */
	assert_int_equal(xml_each("<m>1</m><m>2", 12, "m", NULL, NULL), 1);
}

static void test_escape(void **state)
{
	(void)state;
	buf b = {0};
	xml_escape(&b, "a<b>&\"c'd");
	assert_string_equal(b.data, "a&lt;b&gt;&amp;&quot;c&apos;d");
	xml_escape(&b, NULL);
	assert_string_equal(b.data, "a&lt;b&gt;&amp;&quot;c&apos;d");
	/* round trip through xml_text */
	buf doc = {0};
	buf_adds(&doc, "<v>");
	xml_escape(&doc, "x & <y> 'z' \"w\"");
	buf_adds(&doc, "</v>");
	assert_string_equal(T(doc.data, "v"), "x & <y> 'z' \"w\"");
	buf_free(&doc);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sns_error),
		cmocka_unit_test(test_s3_error),
		cmocka_unit_test(test_self_closing_attrs_prefix),
		cmocka_unit_test(test_comments_pi_cdata),
		cmocka_unit_test(test_entities),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_each),
		cmocka_unit_test(test_escape),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	text_of("", 0, "x"); /* frees the static buffer for LeakSanitizer */
	return rc;
}
