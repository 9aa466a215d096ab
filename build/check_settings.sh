#!/bin/sh
# build/check_settings.sh [TASKPIPE]: production code reads TASKPIPE_*
# variables only through the settings table (src/base/settings_table.c); the
# consumer layer (src/runtime/consume*.c) reads its own environment, which
# must be listed in consumer_env[] there. With a binary: docs/taskpipe.1 and
# docs/settings.md are what it generates (else: run make docs).
set -eu
cd "$(dirname "$0")/.."
table=src/base/settings_table.c
# a TASKPIPE_ name as a call's first argument: getenv("TASKPIPE_X"), env_int("TASKPIPE_X", ...)
problems=$(grep -rnoE '[A-Za-z_]+\("TASKPIPE_[A-Z0-9_]+"' src --include='*.c' | grep -v "^$table:" |
	while IFS= read -r line; do
		f=${line%%:*}
		rest=${line#*:}
		at="$f:${rest%%:*}: ${rest#*:})"
		v=$(echo "$line" | sed 's/.*("\(TASKPIPE_[A-Z0-9_]*\)"/\1/')
		case "$f" in
		src/runtime/consume.c|src/runtime/consume_metrics.c)
			grep -q "{ \"$v\"" "$table" ||
				echo "$at: the consumer's environment: list $v in consumer_env[] ($table)" ;;
		*)
			echo "$at: read $v through the settings table ($table: setting_str, setting_long...)" ;;
		esac
	done)
if [ -n "$problems" ]; then
	echo "$problems"
	echo "check_settings: TASKPIPE_* read outside the settings table" >&2
	exit 1
fi
if [ $# -ge 1 ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	"$1" help --man >"$tmp/taskpipe.1"
	"$1" help --settings-markdown >"$tmp/settings.md"
	stale=
	for f in taskpipe.1 settings.md; do
		cmp -s "$tmp/$f" "docs/$f" || stale="$stale docs/$f"
	done
	if [ -n "$stale" ]; then
		echo "check_settings:$stale not what the command and settings tables generate: run make docs" >&2
		exit 1
	fi
fi
echo "check_settings: TASKPIPE_* read through the settings table${1:+; docs/taskpipe.1 and docs/settings.md current}"
