#!/bin/sh
# tests/check_layers_test.sh: build/check_layers.sh must refuse what it is
# there to refuse. Each case plants one file into a copy of src/ and runs
# the checker on the copy: it has to fail naming that file, or pass.
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# plant FILE LINE EXPECT(pass|fail): the checker's verdict on src/ + FILE
plant() {
	rm -rf "$tmp/w" && mkdir -p "$tmp/w/build" && cp -R src "$tmp/w/src"
	cp build/check_layers.sh "$tmp/w/build/"
	mkdir -p "$tmp/w/$(dirname "$1")"
	printf '%s\n' "$2" >"$tmp/w/$1"
	out=$(sh "$tmp/w/build/check_layers.sh" 2>&1)
	rc=$?
	if [ "$3" = fail ] && { [ $rc -eq 0 ] || ! echo "$out" | grep -q "^$1:1:"; }; then
		echo "FAIL: $1 with '$2' should be refused (rc $rc): $out"
		fails=$((fails + 1))
	elif [ "$3" = pass ] && [ $rc -ne 0 ]; then
		echo "FAIL: $1 with '$2' should pass: $out"
		fails=$((fails + 1))
	fi
}

# core reaches AWS through aws.h and the protocol builders, never the transport
plant src/core/planted.c '#include "aws/http.h"' fail
plant src/core/reconcile/planted.c '#  include "aws/http.h"' fail
plant src/core/planted.c '#include "aws/lambda.h"' pass
plant src/core/planted.c '#include "aws/aws.h"' pass
# the layers above core may still use the transport (the consumer does)
plant src/runtime/planted.c '#include "aws/http.h"' pass
# a layer above, a bare name
plant src/core/planted.c '#include "runtime/consume.h"' fail
plant src/aws/planted.c '#include "core/app.h"' fail
plant src/core/planted.c '#include "app.h"' fail

if [ $fails -ne 0 ]; then
	echo "check_layers_test: $fails case(s) failed" >&2
	exit 1
fi
echo "check_layers_test: 8 planted cases judged right"
