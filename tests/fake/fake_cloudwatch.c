/* fake_cloudwatch.c: the fake's monitoring (placeholder until it is written: every
 * operation is refused as unknown, never answered with a made-up success). */
#include "fake/fake_int.h"

int fake_cloudwatch_handle(struct fake *f, struct fake_req *r, struct http_response *out)
{
	fake_reply_error(out, 400, "UnknownOperationException", "the fake's monitoring has no operation '%s'", r->op);
	return 0;
}
