/* fake_sqs.c: the fake's sqs (placeholder until it is written: every
 * operation is refused as unknown, never answered with a made-up success). */
#include "fake/fake_int.h"

int fake_sqs_handle(struct fake *f, struct fake_req *r, struct http_response *out)
{
	fake_reply_error(out, 400, "UnknownOperationException", "the fake's sqs has no operation '%s'", r->op);
	return 0;
}

void fake_sqs_free(struct fake_sqs *x) { (void)x; }

void fake_sqs_each_tagged(struct fake *f, fake_tag_visit_fn fn, void *ctx) { (void)f; (void)fn; (void)ctx; }
int fake_sqs_queue_arn_exists(struct fake *f, const char *arn) { (void)f; (void)arn; return 0; }
