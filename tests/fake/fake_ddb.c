/* fake_ddb.c: the fake's dynamodb (placeholder until it is written: every
 * operation is refused as unknown, never answered with a made-up success). */
#include "fake/fake_int.h"

int fake_ddb_handle(struct fake *f, struct fake_req *r, struct http_response *out)
{
	fake_reply_error(out, 400, "UnknownOperationException", "the fake's dynamodb has no operation '%s'", r->op);
	return 0;
}

void fake_ddb_free(struct fake_ddb *x) { (void)x; }
