/* test_json_hooks.c: with json_init_hooks() a cJSON allocation that fails
 * aborts with a message instead of handing NULL back (base.h's rule).
 * ASan is told to fail allocations above 64 MiB rather than die itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json.h"

const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1:max_allocation_size_mb=64";
}

#define TOO_BIG (128 << 20)

/* Runs a 128 MiB cJSON print buffer in a child; returns its wait status. */
static int child_prints(int hooks)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		if (hooks)
			json_init_hooks();
		cJSON *n = cJSON_CreateNumber(1);
		char *s = cJSON_PrintBuffered(n, TOO_BIG, 0);
		_exit(s == NULL ? 3 : 4);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void without_hooks_null_comes_back(void **state)
{
	int st = child_prints(0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 3);
}

static void with_hooks_it_aborts(void **state)
{
	int st = child_prints(1);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
}

static void hooks_keep_ordinary_use_working(void **state)
{
	json_init_hooks();
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "k", "v");
	char *s = cJSON_PrintUnformatted(o);
	assert_string_equal(s, "{\"k\":\"v\"}");
	free(s);
	cJSON_Delete(o);
	cJSON_InitHooks(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(without_hooks_null_comes_back),
		cmocka_unit_test(with_hooks_it_aborts),
		cmocka_unit_test(hooks_keep_ordinary_use_working),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
