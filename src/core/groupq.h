/* groupq.h: where a group's tasks go: its queue's URL and ARN and its
 * dead-letter queue, for producers (send, url) and status.
 *
 * The state table's pipeline#<group> record is the source (reconcile
 * records queue_url, queue_arn, dlq_url whenever it writes); a record
 * written before those existed is completed with GetQueueUrl on the names
 * names_for derives, so a producer never has to reimplement the naming
 * rule. A group with no record, or one whose pipeline was deleted, is
 * unknown: UnknownGroup, never a guess. */
#ifndef TP_GROUPQ_H
#define TP_GROUPQ_H

#include "aws/aws.h"
#include "core/names.h"
#include "core/settings.h"

struct groupq {
	struct names nm;       /* resource names (names_for) */
	int status;            /* enum store_status of the record */
	char *queue_url;       /* malloc'd; never NULL on success */
	char *queue_arn;       /* malloc'd; NULL when not recorded */
	char *dlq_url;         /* malloc'd; NULL when not recorded */
};

/* Fill out for group. Errors: BadName (TP_EINVAL), UnknownGroup and NoQueue
 * (TP_ENOTFOUND), or the AWS error of the read. */
int groupq_find(struct aws *a, const struct settings *set, const char *group, struct groupq *out,
		tp_err *e);
void groupq_free(struct groupq *g);

#endif
