/* send.h: tasks into a group's queue with SendMessageBatch: up to 10
 * messages and 256 KiB a call (the batch limits on every queue; a single
 * message up to 1 MiB goes alone, and the queue's own MaximumMessageSize
 * decides), calls concurrent within the AWS client's bound.
 *
 * Nothing is dropped silently: every task is sent or has a failure that
 * names its line, whether refused here (empty, too large, characters SQS
 * rejects), by the batch's Failed list, or with the whole call. */
#ifndef TP_SEND_H
#define TP_SEND_H

#include "aws/aws.h"

#define SEND_BATCH_ENTRIES 10
#define SEND_BATCH_BYTES 262144     /* 256 KiB: SendMessageBatch's total on queues of any age */
#define SEND_MESSAGE_MAX 1048576    /* 1 MiB: SQS's largest message */
#define SEND_DELAY_MAX 900          /* DelaySeconds 0..900 */

struct send_task {
	const char *body;          /* borrowed */
	size_t len;
	long line;                 /* its line (or 1 for a single task), for errors */
};

struct send_failure {
	long line;
	char code[64];
	char message[240];
};

struct send_result {
	long sent;                 /* tasks SQS accepted */
	long calls;                /* SendMessageBatch calls made (requests: aws stats) */
	struct send_failure *failed; /* malloc'd, in line order */
	size_t n_failed;
};

struct send_opts {
	int delay_s;               /* DelaySeconds for every task; < 0: the queue's default */
};

/* Why SQS would refuse body (empty, over SEND_MESSAGE_MAX, not UTF-8, a
 * character outside #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF):
 * 0 when acceptable, else -1 with why filled. */
int send_check_body(const char *body, size_t len, char *why, size_t why_len);

/* Send tasks t[0..n) to queue_url; adds to r (which may carry earlier
 * chunks' counts). Never fails as a whole: each task ends sent or failed. */
void send_tasks(struct aws *a, const char *queue_url, const struct send_task *t, size_t n,
		const struct send_opts *o, struct send_result *r);
void send_result_free(struct send_result *r);

#endif
