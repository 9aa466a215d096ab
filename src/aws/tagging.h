/* tagging.h: the Resource Groups Tagging API's JSON 1.1 request taskpipe
 * makes (drift lists the fleet's tags with it), with no I/O: the builder
 * fills an aws_call (X-Amz-Target ResourceGroupsTaggingAPI_20170126.<op>,
 * the body owned by the call) for aws_call_one / aws_call_many.
 * API reference: https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html */
#ifndef TP_TAGGING_H
#define TP_TAGGING_H

#include "aws/aws.h"

/* GetResources {"TagFilters": [{"Key": tag_key, "Values": [tag_value]}],
 * "ResourceTypeFilters": [resource_type] ("sqs", "lambda:function"),
 * "ResourcesPerPage": per_page (1..100), "PaginationToken": token (NULL:
 * the first page)}. The answer's ResourceTagMappingList holds the page,
 * its PaginationToken ("" on the last page) the next. */
void tagging_get_resources(struct aws_call *c, const char *tag_key, const char *tag_value,
			   const char *resource_type, int per_page, const char *token);

#endif
