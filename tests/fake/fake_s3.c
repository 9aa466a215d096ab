/* fake_s3.c: the fake's s3 (placeholder until it is written: every
 * operation is refused as unknown, never answered with a made-up success). */
#include "fake/fake_int.h"

int fake_s3_handle(struct fake *f, struct fake_req *r, struct http_response *out)
{
	fake_reply_error(out, 400, "UnknownOperationException", "the fake's s3 has no operation '%s'", r->op);
	return 0;
}

void fake_s3_free(struct fake_s3 *x) { (void)x; }

int fake_s3_object(struct fake *f, const char *bucket, const char *key, const char *version,
		   char sha256_b64[45], long *size)
{
	(void)f; (void)bucket; (void)key; (void)version; (void)sha256_b64; (void)size;
	return 0;
}
