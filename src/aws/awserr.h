/* awserr.h: turn a failed AWS answer into (status, code, message, request id),
 * whatever its shape:
 * - AWS JSON 1.0 / REST-JSON: {"__type": "ns#Code", "message"|"Message": ...},
 *   x-amzn-ErrorType header ("Code:http://..."), x-amzn-query-error header
 *   ("AWS.SimpleQueueService.NonExistentQueue;Sender"), which wins for SQS;
 * - query / REST-XML: <ErrorResponse><Error><Code>..</Code><Message>..</Message></Error>
 *   <RequestId>..</RequestId></ErrorResponse> and S3's <Error><Code>..;
 * - anything else (an HTML 500 from a proxy, an empty body): code "Http<status>",
 *   message from the first printable text of the body (tags stripped, cut at 200 chars).
 * Request id from x-amzn-RequestId, x-amz-request-id or the body.
 */
#ifndef TP_AWSERR_H
#define TP_AWSERR_H

#include "base/base.h"

/* headers: raw "Name: value\r\n" block (may be NULL). Fills e (rc TP_EAWS,
 * or TP_ENOTFOUND for codes meaning "does not exist", see awserr_is_not_found)
 * and returns that rc. Never fails, whatever the input. */
int awserr_parse(long status, const char *headers, const char *body, size_t body_len, tp_err *e);

/* 1 when code names a missing resource: ResourceNotFoundException,
 * AWS.SimpleQueueService.NonExistentQueue, QueueDoesNotExist, NoSuchBucket,
 * NoSuchKey, NotFound, NotFoundException. */
int awserr_is_not_found(const char *code);

/* The request id from headers (x-amzn-RequestId, x-amz-request-id); "" when none. */
void awserr_request_id(const char *headers, char *out, size_t out_len);

#endif
