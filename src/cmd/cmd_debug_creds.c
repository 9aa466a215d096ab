/* cmd_debug_creds.c: `taskpipe debug creds` (see cmd_debug_creds.h). Shows
 * where credentials come from without ever printing a secret. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cmd/cmd_debug_creds.h"

#include "base/base.h"
#include "aws/creds.h"
#include "aws/http.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_debug_creds(int argc, char **argv)
{
	if (argc > 1) {
		if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
			puts("usage: taskpipe debug creds\n"
			     "Print which AWS credentials would be used: source, the chain that led to it\n"
			     "(profile -> source_profile -> role), access key id, expiry.\n"
			     "The secret key and session token are never printed.");
			return 0;
		}
		fprintf(stderr, "taskpipe debug creds: unexpected argument %s\n", argv[1]);
		return 2;
	}
	tp_err e = { 0 };
	struct http_client *http = NULL;
	if (http_client_new(NULL, &http, &e) != TP_OK) {
		fprintf(stderr, "taskpipe: %s\n", e.message);
		return 1;
	}
	struct creds_provider *p = creds_provider_new(http);
	struct creds c;
	int rc = creds_get(p, tp_now_ms(), &c, &e);
	if (rc == TP_OK) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "source", c.source);
		cJSON_AddStringToObject(j, "chain", c.chain);
		cJSON_AddStringToObject(j, "access_key_id", c.access_key_id);
		cJSON_AddNumberToObject(j, "expires_ms", (double)c.expires_ms);
		cJSON_AddBoolToObject(j, "has_session_token", c.session_token[0] != 0);
		char *s = cJSON_PrintUnformatted(j);
		puts(s);
		free(s);
		cJSON_Delete(j);
	} else {
		fprintf(stderr, "taskpipe: %s\n", e.message);
	}
	creds_wipe(&c);
	creds_provider_free(p);
	http_client_free(http);
	return rc == TP_OK ? 0 : 1;
}
