/* fake_lambda_pool.c: the account's concurrency pool ([pool] of
 * tests/integration/awsmodel.py): reservations by PutFunctionConcurrency
 * may leave no fewer than 100 executions unreserved (AWS's refusal, word
 * for word), DeleteFunctionConcurrency and DeleteFunction give them back;
 * GetAccountSettings reports the pool. */
#include "fake/fake_lambda_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNRESERVED_MIN 100   /* [pool]: AWS keeps 100 unreserved */

void fl_put_concurrency(struct fake *f, struct fake_req *r, const char *name, struct http_response *out)
{
	struct fake_lambda *l = f->lambda;
	struct lfn *fn = fl_find_fn(f, name, out);
	cJSON *in = fn ? fl_body_object(r, out) : NULL;
	if (!in)
		return;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, "ReservedConcurrentExecutions");
	if (!fl_int_in(v, 0, 1e9)) {
		fl_invalid(out, "reservedConcurrentExecutions", v, "Member must be an integer greater than or equal to 0");
		cJSON_Delete(in);
		return;
	}
	long asked = (long)v->valuedouble;
	long others = l->reserved_total - (fn->reserved > 0 ? fn->reserved : 0);
	cJSON_Delete(in);
	if (f->opt.account_concurrency - others - asked < UNRESERVED_MIN) {
		fake_reply_error(out, 400, "InvalidParameterValueException",
				 "Specified ReservedConcurrentExecutions for function decreases account's "
				 "UnreservedConcurrentExecution below its minimum value of [%d].", UNRESERVED_MIN);
		fl_violate(f, "concurrency pool", fn->name);
		return;
	}
	l->reserved_total = others + asked;
	fn->reserved = asked;
	fl_note_bound(f, fn->name, f->mono_us);
	cJSON *b = cJSON_CreateObject();
	cJSON_AddNumberToObject(b, "ReservedConcurrentExecutions", (double)asked);
	fake_reply_json(out, 200, b);
}

void fl_delete_concurrency(struct fake *f, const char *name, struct http_response *out)
{
	struct lfn *fn = fl_find_fn(f, name, out);
	if (!fn)
		return;
	if (fn->reserved > 0)
		f->lambda->reserved_total -= fn->reserved;
	fn->reserved = -1;
	fl_note_bound(f, fn->name, f->mono_us);
	fake_reply_json(out, 204, NULL);
	buf_reset(&out->body);
}

void fl_get_concurrency(struct fake *f, const char *name, struct http_response *out)
{
	struct lfn *fn = fl_find_fn(f, name, out);
	if (!fn)
		return;
	cJSON *b = cJSON_CreateObject();
	if (fn->reserved >= 0)
		cJSON_AddNumberToObject(b, "ReservedConcurrentExecutions", (double)fn->reserved);
	fake_reply_json(out, 200, b);
}

void fl_account_settings(struct fake *f, struct http_response *out)
{
	struct fake_lambda *l = f->lambda;
	cJSON *b = cJSON_CreateObject(), *lim = cJSON_AddObjectToObject(b, "AccountLimit");
	cJSON_AddNumberToObject(lim, "TotalCodeSize", 80530636800.0);
	cJSON_AddNumberToObject(lim, "CodeSizeUnzipped", 262144000);
	cJSON_AddNumberToObject(lim, "CodeSizeZipped", 52428800);
	cJSON_AddNumberToObject(lim, "ConcurrentExecutions", (double)f->opt.account_concurrency);
	cJSON_AddNumberToObject(lim, "UnreservedConcurrentExecutions",
				(double)(f->opt.account_concurrency - l->reserved_total));
	cJSON *use = cJSON_AddObjectToObject(b, "AccountUsage");
	cJSON_AddNumberToObject(use, "TotalCodeSize", 0);
	cJSON_AddNumberToObject(use, "FunctionCount", (double)l->fns.n);
	fake_reply_json(out, 200, b);
}
