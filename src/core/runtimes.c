/* runtimes.c: the Lambda runtime lifecycle table (see runtimes.h).
 *
 * Sources, as stored for this work (AWS's own table, lambda-runtimes.html,
 * was not among the stored pages in full):
 *   [cfn]   cfn-lint's LmbdRuntimeLifecycle.json (aws-cloudformation/cfn-lint,
 *           src/cfnlint/data/AdditionalSpecs, commit 81cb349), which mirrors
 *           AWS's table: deprecation, create block, update block.
 *   [tfl]   tflint-ruleset-aws PR #969 (Nov 2025), after AWS's table changed:
 *           python3.9 deprecated 2025-12-15, nodejs18.x 2025-09-01.
 *   [notes] the project's AWS notes, kept outside this repository
 *           (provided.al2: deprecated 2026-07-31, create blocked 2027-02-01,
 *           update blocked 2027-03-03).
 * A block date not published in those is left empty: such a runtime is
 * only flagged, never refused on a guessed date. */
#include "core/runtimes.h"
#include "base/settings_table.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct runtime_life table[] = {
	{ "provided.al2", "2026-07-31", "2027-02-01", "2027-03-03", "notes" },
	{ "python3.9", "2025-12-15", "", "", "tfl" },
	{ "nodejs18.x", "2025-09-01", "2025-10-01", "2025-11-01", "tfl (deprecation), cfn (blocks)" },
	{ "python3.8", "2024-10-14", "2025-10-01", "2025-11-01", "cfn" },
	{ "nodejs16.x", "2024-06-12", "2025-10-01", "2025-11-01", "cfn" },
	{ "dotnet6", "2024-11-12", "2025-10-01", "2025-11-01", "cfn" },
	{ "provided", "2024-01-08", "2024-02-08", "2025-11-01", "cfn" },
	{ "go1.x", "2024-01-08", "2024-02-08", "2025-11-01", "cfn" },
	{ "java8", "2024-01-08", "2024-02-08", "2025-11-01", "cfn" },
	{ "nodejs14.x", "2023-12-04", "2024-07-09", "2025-11-01", "cfn" },
	{ "python3.7", "2023-12-04", "2024-01-09", "2025-11-01", "cfn" },
	{ "ruby2.7", "2023-12-07", "2024-01-09", "2025-11-01", "cfn" },
	{ "dotnet7", "2024-05-14", "2024-05-14", "2024-05-14", "cfn" },
	{ "dotnetcore3.1", "2023-04-03", "2023-04-03", "2023-05-03", "cfn" },
	{ "nodejs12.x", "2023-03-31", "2023-03-31", "2023-04-30", "cfn" },
	{ "python3.6", "2022-07-18", "2022-07-18", "2022-08-29", "cfn" },
	{ "dotnetcore2.1", "2022-01-05", "2022-01-05", "2022-04-13", "cfn" },
	{ "ruby2.5", "2021-07-30", "2021-07-30", "2022-03-31", "cfn" },
	{ "nodejs10.x", "2021-07-30", "2021-07-30", "2022-02-14", "cfn" },
	{ "python2.7", "2021-07-15", "2021-07-15", "2022-05-30", "cfn" },
	{ "nodejs8.10", "2020-03-06", "2020-03-06", "2020-03-06", "cfn" },
	{ "nodejs4.3", "2020-03-05", "2020-03-05", "2020-03-05", "cfn" },
	{ "nodejs4.3-edge", "2020-03-05", "2019-04-30", "2019-04-30", "cfn" },
	{ "nodejs6.10", "2019-08-12", "2019-08-12", "2019-08-12", "cfn" },
	{ "dotnetcore1.0", "2019-06-27", "2019-07-30", "2019-07-30", "cfn" },
	{ "dotnetcore2.0", "2019-05-30", "2019-05-30", "2019-05-30", "cfn" },
	{ "nodejs", "2016-10-31", "2016-10-31", "2016-10-31", "cfn" },
};

const struct runtime_life *runtimes_find(const char *runtime)
{
	for (size_t i = 0; runtime && i < sizeof table / sizeof table[0]; i++)
		if (strcmp(runtime, table[i].runtime) == 0)
			return &table[i];
	return NULL;
}

/* ISO dates compare as strings; "" is never reached. */
static int reached(const char *date, const char *today)
{
	return date && *date && strcmp(today, date) >= 0;
}

enum runtime_phase runtimes_phase(const struct runtime_life *r, const char *today)
{
	if (!r)
		return RUNTIME_SUPPORTED;
	if (reached(r->block_update, today))
		return RUNTIME_UPDATE_BLOCKED;
	if (reached(r->block_create, today))
		return RUNTIME_CREATE_BLOCKED;
	if (reached(r->deprecated, today))
		return RUNTIME_DEPRECATED;
	return RUNTIME_SUPPORTED;
}

const char *runtimes_phase_name(enum runtime_phase p)
{
	switch (p) {
	case RUNTIME_DEPRECATED: return "deprecated";
	case RUNTIME_CREATE_BLOCKED: return "create_blocked";
	case RUNTIME_UPDATE_BLOCKED: return "update_blocked";
	default: return "supported";
	}
}

static int valid_date(const char *s)
{
	int y, m, d;
	char tail;
	return s && strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 && m >= 1 &&
	       m <= 12 && d >= 1 && d <= 31;
}

void runtimes_today(int64_t now_ms, char out[11])
{
	const char *knob = setting_raw(SET_TODAY);
	if (valid_date(knob)) {
		memcpy(out, knob, 11);
		return;
	}
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

cJSON *runtimes_ctx(const char *today)
{
	cJSON *all = cJSON_CreateObject();
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct runtime_life *r = &table[i];
		cJSON *o = cJSON_AddObjectToObject(all, r->runtime);
		cJSON_AddStringToObject(o, "deprecated", r->deprecated);
		if (*r->block_create)
			cJSON_AddStringToObject(o, "block_create", r->block_create);
		if (*r->block_update)
			cJSON_AddStringToObject(o, "block_update", r->block_update);
		cJSON_AddStringToObject(o, "phase", runtimes_phase_name(runtimes_phase(r, today)));
	}
	return all;
}
