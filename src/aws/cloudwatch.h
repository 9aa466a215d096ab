/* cloudwatch.h: CloudWatch GetMetricData: a list of metric queries in, one
 * time series per query out.
 *
 * Spoken in AWS JSON 1.0 (X-Amz-Target GraniteServiceVersion20100801.
 * GetMetricData, timestamps as epoch seconds). One request carries at most
 * 500 queries ("You can include up to 500 MetricDataQuery structures in
 * one GetMetricData operation",
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html),
 * so a longer list goes out in several requests (concurrently); each
 * request follows NextToken until the answer is whole (a page may hold
 * part of a series: its points are appended to it). Callers own nothing
 * of the protocol: no ids, no JSON. */
#ifndef TP_CLOUDWATCH_H
#define TP_CLOUDWATCH_H

#include "aws/aws.h"

#include <stddef.h>
#include <stdint.h>

#define CW_MAX_QUERIES_PER_CALL 500
#define CW_MAX_DIMS 30              /* CloudWatch's limit per metric */

/* One metric and statistic (a MetricStat query). Strings are borrowed. */
struct cw_query {
	const char *ns;             /* "AWS/Lambda" */
	const char *metric;         /* "Errors" */
	const char *dim_name[CW_MAX_DIMS];
	const char *dim_value[CW_MAX_DIMS];
	int ndims;
	const char *stat;           /* "Sum", "Maximum", "Average", "p99", ... */
	int period_s;               /* 1, 5, 10, 30 or a multiple of 60 */
};

/* The answer to one query: points in ascending time. */
struct cw_series {
	size_t n;
	int64_t *ts;                /* epoch seconds, owned */
	double *v;                  /* owned */
	int partial;                /* CloudWatch said PartialData (or Forbidden/InternalError: status) */
	char status[24];            /* StatusCode: "Complete", "PartialData", ... ("" if none) */
	char message[160];          /* first message CloudWatch attached to it, if any */
};

/* Run queries q[0..n) over [start_s, end_s). *out (n series, in q's order)
 * is always allocated when n > 0; free with cw_series_free. Returns TP_OK,
 * or the first failed request's code with e filled (series of the other
 * requests are kept). calls (may be NULL) gets the requests made. */
int cw_get_metric_data(struct aws *a, const struct cw_query *q, size_t n, int64_t start_s, int64_t end_s,
		       struct cw_series **out, long *calls, tp_err *e);

void cw_series_free(struct cw_series *s, size_t n);

/* Sum of a series' values (0 for none). */
double cw_series_sum(const struct cw_series *s);
/* Largest value; fallback when the series is empty. */
double cw_series_max(const struct cw_series *s, double fallback);

#endif
