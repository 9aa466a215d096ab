/* test_settings_table.c: the settings and command tables every --help and
 * docs/ page is generated from: each entry documented, names unique, each
 * default accepted by its own parser, each flag wired into
 * settings_parse_flags, and the committed docs what the tables generate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/settings_table.h"
#include "cmd/cmd_help.h"
#include "cmd/commands.h"
#include "core/lease.h"
#include "core/settings.h"
#include "runtime/watch.h"

static void every_setting_documented_and_unique(void **state)
{
	for (int i = 0; i < SET__N; i++) {
		const struct setting_def *d = &settings_table[i];
		assert_non_null(d->name);
		assert_non_null(d->env);
		assert_int_equal(strncmp(d->env, "TASKPIPE_", 9), 0);
		assert_non_null(d->doc);
		assert_true(strlen(d->doc) > 10);
		assert_null(strchr(d->doc, '\n'));   /* one line */
		assert_true(d->def || d->unset);     /* the docs say what applies unset */
		if (d->flag)
			assert_int_equal(strncmp(d->flag, "--", 2), 0);
		if (d->type == ST_CHOICE)
			assert_non_null(d->choices);
		for (int j = 0; j < i; j++) {
			const struct setting_def *o = &settings_table[j];
			if (strcmp(o->env, d->env) == 0 || strcmp(o->name, d->name) == 0)
				fail_msg("%s: the same name or variable twice", d->env);
			if (o->flag && d->flag && strcmp(o->flag, d->flag) == 0)
				fail_msg("%s: flag %s twice", d->env, d->flag);
		}
		assert_int_equal(setting_by_env(d->env), i);
		if (d->flag)
			assert_int_equal(setting_by_flag(d->flag), i);
	}
	for (size_t i = 0; i < consumer_env_n; i++) {
		assert_int_equal(strncmp(consumer_env[i].env, "TASKPIPE_", 9), 0);
		assert_true(consumer_env[i].doc && strlen(consumer_env[i].doc) > 10);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(consumer_env[i].env, consumer_env[j].env);
	}
	assert_int_equal(setting_by_env("TASKPIPE_NO_SUCH"), SET__N);
	assert_int_equal(setting_by_flag("--no-such"), SET__N);
}

/* Each default passes its own parser; the constants other files keep agree. */
static void defaults_parse(void **state)
{
	char why[160];
	for (int i = 0; i < SET__N; i++) {
		const struct setting_def *d = &settings_table[i];
		if (!d->def || d->type == ST_STRING || d->type == ST_BOOL)
			continue;
		long n;
		double x;
		int rc = d->type == ST_NUMBER ? setting_parse_double(i, d->def, &x, why, sizeof why) :
						setting_parse_long(i, d->def, &n, why, sizeof why);
		if (rc < 0)
			fail_msg("%s: its default: %s", d->env, why);
	}
	assert_int_equal(setting_default_long(SET_LEASE_TTL_S), LEASE_TTL_DEFAULT_S);
	assert_int_equal(setting_default_long(SET_LEASE_SKEW_S), LEASE_SKEW_DEFAULT_S);
	assert_int_equal(setting_default_long(SET_WATCH_MAX_ATTEMPTS), WATCH_MAX_ATTEMPTS_DEFAULT);
	assert_int_equal(setting_default_long(SET_LAMBDA_BUDGET), 0);   /* shared */
}

static void values_by_parser(void **state)
{
	long n;
	double x;
	char why[160] = "";
	unsetenv("TASKPIPE_DRAIN_SETTLE_S");
	assert_int_equal(setting_long(SET_DRAIN_SETTLE_S, &n, why, sizeof why), 0);
	assert_int_equal(n, 60);
	setenv("TASKPIPE_DRAIN_SETTLE_S", "0", 1);
	assert_int_equal(setting_long(SET_DRAIN_SETTLE_S, &n, why, sizeof why), 1);
	assert_int_equal(n, 0);
	setenv("TASKPIPE_DRAIN_SETTLE_S", "5x", 1);
	assert_int_equal(setting_long(SET_DRAIN_SETTLE_S, &n, why, sizeof why), -1);
	assert_int_equal(n, 60);
	assert_string_equal(why, "TASKPIPE_DRAIN_SETTLE_S='5x' is not an integer in 0..86400");
	setenv("TASKPIPE_DRAIN_SETTLE_S", "86401", 1);
	assert_int_equal(setting_long_or_warn(SET_DRAIN_SETTLE_S), 60);
	setenv("TASKPIPE_DRAIN_SETTLE_S", "", 1);   /* empty: unset */
	assert_int_equal(setting_long(SET_DRAIN_SETTLE_S, &n, why, sizeof why), 0);
	unsetenv("TASKPIPE_DRAIN_SETTLE_S");

	setenv("TASKPIPE_LAMBDA_BUDGET", "local", 1);
	assert_int_equal(setting_long_or_warn(SET_LAMBDA_BUDGET), 1);
	setenv("TASKPIPE_LAMBDA_BUDGET", "Local", 1);
	assert_int_equal(setting_long(SET_LAMBDA_BUDGET, &n, why, sizeof why), -1);
	assert_string_equal(why, "TASKPIPE_LAMBDA_BUDGET='Local' is not one of shared|local");
	unsetenv("TASKPIPE_LAMBDA_BUDGET");

	setenv("TASKPIPE_LAMBDA_GET_RPS", "0", 1);   /* min 1: above zero */
	assert_int_equal(setting_double(SET_LAMBDA_GET_RPS, &x, why, sizeof why), -1);
	assert_true(x == 100);
	setenv("TASKPIPE_LAMBDA_GET_RPS", "2.5", 1);
	assert_true(setting_double_or_warn(SET_LAMBDA_GET_RPS) == 2.5);
	setenv("TASKPIPE_LAMBDA_GET_RPS", "nan", 1);
	assert_int_equal(setting_double(SET_LAMBDA_GET_RPS, &x, why, sizeof why), -1);
	unsetenv("TASKPIPE_LAMBDA_GET_RPS");

	setenv("TASKPIPE_REPL_HISTORY", "", 1);   /* raw: empty means no file */
	assert_string_equal(setting_raw(SET_REPL_HISTORY), "");
	assert_null(setting_str(SET_REPL_HISTORY));
	unsetenv("TASKPIPE_REPL_HISTORY");
	assert_string_equal(setting_str(SET_PREFIX), getenv("TASKPIPE_PREFIX") ? getenv("TASKPIPE_PREFIX") : "tp-");
}

/* Every flag of the table is consumed by settings_parse_flags, its value too. */
static void every_flag_wired(void **state)
{
	for (int i = 0; i < SET__N; i++) {
		const struct setting_def *d = &settings_table[i];
		if (!d->flag)
			continue;
		char f[64], v[16] = "7", rest[] = "item.json";
		snprintf(f, sizeof f, "%s", d->flag);
		char *argv[] = { "put", f, v, rest };
		int argc = d->arg ? 4 : 3;
		if (!d->arg)
			argv[2] = rest;
		struct settings s = { 0 };
		tp_err e = { 0 };
		assert_int_equal(settings_parse_flags(&s, &argc, argv, &e), TP_OK);
		assert_int_equal(argc, 2);
		assert_string_equal(argv[1], "item.json");
	}
}

/* The line each command's --help ends with names real flags only. */
static void pointer_names_table_flags(void **state)
{
	int n = 0;
	for (const char *f = strstr(settings_pointer, "--"); f; f = strstr(f + 2, "--"), n++) {
		char flag[64];
		size_t len = strspn(f, "-abcdefghijklmnopqrstuvwxyz0123456789");
		snprintf(flag, sizeof flag, "%.*s", (int)len, f);
		if (strcmp(flag, "--json") != 0 && setting_by_flag(flag) == SET__N)
			fail_msg("settings_pointer names %s, not a flag of the settings table", flag);
	}
	assert_true(n >= 5);
	assert_non_null(strstr(settings_pointer, "taskpipe help settings"));
}

static void every_command_documented(void **state)
{
	int n = 0;
	for (const struct command *c = commands; c->name; c++, n++) {
		assert_non_null(c->run);
		assert_non_null(c->synopsis);
		assert_true(c->doc && strlen(c->doc) > 5 && !strchr(c->doc, '\n'));
		assert_ptr_equal(command_find(c->name), c);
		for (const struct command *o = commands; o < c; o++)
			assert_string_not_equal(o->name, c->name);
	}
	assert_true(n >= 20);
	assert_null(command_find("nosuch"));
}

static char *generate(void (*gen)(FILE *))
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	gen(f);
	fclose(f);
	return text;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(f);
	fclose(m);
	return text;
}

static void docs_current(void **state)
{
	struct { const char *path; void (*gen)(FILE *); } docs[] = {
		{ "docs/taskpipe.1", help_man },
		{ "docs/settings.md", help_settings_markdown },
	};
	for (size_t i = 0; i < 2; i++) {
		char *want = generate(docs[i].gen), *have = slurp(docs[i].path);
		if (!have || strcmp(want, have) != 0)
			fail_msg("%s is not what the tables generate: run make docs", docs[i].path);
		free(want);
		free(have);
	}
	/* the man page's COMMANDS section has every command, the reference every variable */
	char *man = generate(help_man), *md = generate(help_settings_markdown);
	for (const struct command *c = commands; c->name; c++) {
		char line[64];
		snprintf(line, sizeof line, "\\fBtaskpipe %s\\fR", c->name);
		assert_non_null(strstr(man, line));
	}
	for (int i = 0; i < SET__N; i++)
		assert_non_null(strstr(md, settings_table[i].env));
	free(man);
	free(md);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_setting_documented_and_unique),
		cmocka_unit_test(defaults_parse),
		cmocka_unit_test(values_by_parser),
		cmocka_unit_test(every_flag_wired),
		cmocka_unit_test(pointer_names_table_flags),
		cmocka_unit_test(every_command_documented),
		cmocka_unit_test(docs_current),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
