/* cmd_debug_rollout.c: `taskpipe debug rollout-plan` (see cmd_debug_rollout.h). */
#include "cmd/cmd_debug_rollout.h"

#include "core/app.h"
#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "core/rollout/rolloutrec.h"
#include "core/store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: taskpipe debug rollout-plan write ID < PLAN.json\n"
	"       taskpipe debug rollout-plan read ID\n"
	"write stores the plan (JSON array of waves) in part items and a head item\n"
	"rollout#ID#debug naming them, then prints {\"parts\",\"bytes\",\"writes\"}; read\n"
	"prints the plan read back from that head. The state table of the settings.\n";

int cmd_debug_rollout_plan(int argc, char **argv)
{
	struct settings s;
	int rc = settings_cli(&s, "debug rollout-plan", usage, &argc, argv);
	if (rc >= 0)
		return rc;
	if (argc != 3 || (strcmp(argv[1], "write") && strcmp(argv[1], "read"))) {
		fputs(usage, stderr);
		return 2;
	}
	const char *id = argv[2];
	struct app app;
	tp_err e = { 0 };
	if (app_open(&app, &s, &e) < 0) {
		fprintf(stderr, "taskpipe debug rollout-plan: %s\n", e.message);
		return 1;
	}
	char *pk = store_pk_rollout_debug(id);
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", s.state_table);
	if (strcmp(argv[1], "write") == 0) {
		buf text = { 0 };
		rc = tp_read_file("/dev/stdin", 64u << 20, &text, &e);
		cJSON *plan = rc == TP_OK ? cJSON_Parse(buf_str(&text)) : NULL;
		char *pj = plan ? cJSON_PrintUnformatted(plan) : NULL;
		size_t writes = 0;
		cJSON *item = cJSON_AddObjectToObject(in, "Item");
		ddb_put_str(item, "pk", pk);
		ddb_put_str(item, "kind", "rollout-debug");
		if (rc == TP_OK && !pj)
			rc = tp_errf(&e, TP_EINVAL, "BadPlan", "standard input: not JSON");
		if (rc == TP_OK)
			rc = rolloutrec_write_plan(app.aws, s.state_table, id, pj, item, &writes, &e);
		if (rc == TP_OK && (rc = awsj_call(app.aws, SVC_DYNAMODB, "PutItem", in, &out, &e)) == TP_OK)
			printf("{\"parts\":%ld,\"bytes\":%ld,\"writes\":%zu}\n", ddb_get_long(item, "plan_parts", 0),
			       ddb_get_long(item, "plan_bytes", 0), writes + 1);
		free(pj);
		cJSON_Delete(plan);
		buf_free(&text);
	} else {
		cJSON_AddItemToObject(in, "Key", ddb_key("pk", pk));
		cJSON_AddBoolToObject(in, "ConsistentRead", 1);
		char *pj = NULL;
		rc = awsj_call(app.aws, SVC_DYNAMODB, "GetItem", in, &out, &e);
		if (rc == TP_OK)
			rc = rolloutrec_read_plan(app.aws, s.state_table, id, cJSON_GetObjectItem(out, "Item"), &pj, &e);
		if (rc == TP_OK)
			puts(pj);
		free(pj);
	}
	if (rc < 0)
		fprintf(stderr, "taskpipe debug rollout-plan: %s: %s\n", e.code, e.message);
	cJSON_Delete(in);
	cJSON_Delete(out);
	free(pk);
	app_close(&app);
	return rc < 0 ? 1 : 0;
}
