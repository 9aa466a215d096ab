/* fake_lambda.c: the fake's lambda (placeholder until it is written: every
 * operation is refused as unknown, never answered with a made-up success). */
#include "fake/fake_int.h"

int fake_lambda_handle(struct fake *f, struct fake_req *r, struct http_response *out)
{
	fake_reply_error(out, 400, "UnknownOperationException", "the fake's lambda has no operation '%s'", r->op);
	return 0;
}

void fake_lambda_free(struct fake_lambda *x) { (void)x; }

void fake_lambda_each_tagged(struct fake *f, fake_tag_visit_fn fn, void *ctx) { (void)f; (void)fn; (void)ctx; }
