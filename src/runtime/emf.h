/* emf.h: CloudWatch Embedded Metric Format (EMF) log lines.
 *
 * A metric costs no API call: one JSON object per line on stderr (the
 * function's log), and CloudWatch Logs extracts the metrics named in its
 * "_aws" member ("Specification: Embedded metric format", CloudWatch user
 * guide):
 *   {"_aws":{"Timestamp":ms,"CloudWatchMetrics":[{"Namespace":ns,
 *     "Dimensions":[[key,...],...],"Metrics":[{"Name":n,"Unit":u},...]}]},
 *    key:"value", n:number or [numbers], ...}
 * Every dimension set creates one billed metric per metric name and per
 * distinct value: callers choose sets with that in mind (docs/operations.md "Metrics").
 * The spec allows an empty set (a metric without dimensions), at most 30
 * keys a set, 100 metrics a directive and 100 values a metric.
 */
#ifndef TP_EMF_H
#define TP_EMF_H

#include <stddef.h>
#include <stdint.h>

#define EMF_NAMESPACE "taskpipe"
#define EMF_MAX_VALUES 100   /* values of one metric in one line (spec) */
#define EMF_MAX_SETS 4
#define EMF_MAX_SET_KEYS 3

/* TASKPIPE_METRICS: "off", "fleet" (default) or "detailed". */
enum emf_mode { EMF_OFF, EMF_FLEET, EMF_DETAILED };

/* NULL or "" is EMF_FLEET; anything else but the three names is -1. */
int emf_mode_parse(const char *s, enum emf_mode *out);

struct emf_metric {
	const char *name;
	const char *unit;             /* a CloudWatch unit: "Count", "Milliseconds" */
	double value;                 /* used when n_values == 0 */
	const double *values;         /* samples; at most EMF_MAX_VALUES are written */
	size_t n_values;
};

struct emf_doc {
	const char *ns;                                   /* namespace; NULL: EMF_NAMESPACE */
	int64_t timestamp_ms;                             /* epoch ms */
	const char *dims[2 * EMF_MAX_SET_KEYS + 1];       /* key, value pairs; NULL ends */
	const char *sets[EMF_MAX_SETS][EMF_MAX_SET_KEYS + 1]; /* dimension sets, each NULL-ended;
							       * {NULL} is the empty set */
	int n_sets;                                       /* 0 behaves as one empty set */
	const struct emf_metric *metrics;
	size_t n_metrics;
	const char *const *props;     /* extra string members (key, value, ... NULL); may be NULL */
};

/* The document as one line without the newline (malloc'd). A set naming
 * a key that dims lacks is left out (a dimension target must exist). */
char *emf_format(const struct emf_doc *d);

/* Write it to stderr as one line. */
void emf_emit(const struct emf_doc *d);

#endif
