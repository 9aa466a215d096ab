#!/bin/sh
# tests/layers/test_check_layers.sh: build/check_layers.sh on small trees in
# a temp folder: clean ones pass, each planted violation fails (exit 1) and
# is named by file:line. Then a copy of this repository's src/ passes, and
# fails once <lua.h> is planted in aws/. Run by `make check-layers`.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
checker="$here/build/check_layers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

# a tree with one file per layer that keeps every rule
clean_tree() {
	rm -rf "$tmp/t"
	for l in base aws script core runtime cmd; do mkdir -p "$tmp/t/src/$l"; done
	printf '#include <stdio.h>\n#include <sys/time.h>\n' >"$tmp/t/src/base/base.h"
	printf '#include "base/base.h"\n#include <cjson/cJSON.h>\n' >"$tmp/t/src/aws/ddbval.c"
	printf '#include "aws/ddbval.h"\n' >"$tmp/t/src/aws/ddbval.h"
	printf '#include "aws/ddbval.h"\n#include <lua.h>\n#include <lauxlib.h>\n#include <lualib.h>\n' >"$tmp/t/src/script/ddblua.c"
	printf '#include "script/ddblua.c"\n' >"$tmp/t/src/core/lease.h"
	printf '#include "core/lease.h"\n' >"$tmp/t/src/runtime/events.c"
	printf '#include "runtime/events.c"\n#  include <luaconf.h>\n' >"$tmp/t/src/cmd/repl.c"
}

# expect NAME STATUS PATTERN: run the checker on $tmp/t; its exit status must
# be STATUS and its output must hold PATTERN (a fixed string)
expect() {
	set +e
	out=$(sh "$checker" "$tmp/t" 2>&1)
	st=$?
	set -e
	if [ "$st" != "$2" ] || ! printf '%s\n' "$out" | grep -qF -- "$3"; then
		echo "FAIL $1: exit $st (want $2), output:"
		printf '%s\n' "$out" | sed 's/^/    /'
		failed=1
	else
		echo "ok   $1"
	fi
}

clean_tree
expect "a clean tree passes" 0 "7 files keep the include rule"

clean_tree
printf '#include "base/base.h"\n#include <lua.h>\n' >"$tmp/t/src/aws/ddbval.c"
expect "<lua.h> in aws/" 1 "src/aws/ddbval.c:2: <lua.h>: Lua's headers belong in script/ and cmd/ only"

clean_tree
printf '#include <stdio.h>\n  #  include  <lauxlib.h>\n' >"$tmp/t/src/base/base.h"
expect "<lauxlib.h> in base/ (spaces around #)" 1 "src/base/base.h:2: <lauxlib.h>"

clean_tree
printf '#include "core/lease.h"\n#include <lualib.h>\n' >"$tmp/t/src/runtime/events.c"
expect "<lualib.h> in runtime/" 1 "src/runtime/events.c:2: <lualib.h>"

clean_tree
printf '#include "script/ddblua.c"\n#include <luaconf.h>\n' >"$tmp/t/src/core/lease.h"
expect "<luaconf.h> in core/" 1 "src/core/lease.h:2: <luaconf.h>"

clean_tree
printf '#include <core/lease.h>\n' >"$tmp/t/src/cmd/main.c"
expect "a header of src/ in brackets" 1 "src/cmd/main.c:1: <core/lease.h>: a header of src/: include it in quotes"

clean_tree
printf '#include <runtime/events.c>\n' >"$tmp/t/src/aws/up.c"
expect "a layer above, in brackets" 1 "src/aws/up.c:1: <runtime/events.c>"

clean_tree
printf '#include "cmd/repl.c"\n' >"$tmp/t/src/core/up.c"
expect "a layer above, in quotes" 1 "src/core/up.c:1: \"cmd/repl.c\": core may not include cmd (a layer above it)"

clean_tree
mkdir -p "$tmp/t/src/core/reconcile"
printf '#include <stdio.h>\n' >"$tmp/t/src/aws/http.h"
printf '#  include "aws/http.h"\n' >"$tmp/t/src/core/reconcile/planted.c"
expect "the transport in core/ (a subfolder)" 1 "src/core/reconcile/planted.c:1: \"aws/http.h\": core may not include the transport"

clean_tree
printf '#include <stdio.h>\n' >"$tmp/t/src/aws/http.h"
printf '#include "aws/http.h"\n' >"$tmp/t/src/runtime/consume.c"
expect "the transport above core (the consumer's)" 0 "files keep the include rule"

clean_tree
printf '#include "lease.h"\n' >"$tmp/t/src/core/bare.c"
expect "a header without its path" 1 "src/core/bare.c:1: \"lease.h\": include by its path under src/"

clean_tree
printf '#include "core/nothere.h"\n' >"$tmp/t/src/cmd/x.c"
expect "a missing header" 1 "src/cmd/x.c:1: \"core/nothere.h\": no such header"

clean_tree
mkdir -p "$tmp/t/src/misc"
printf '\n' >"$tmp/t/src/misc/x.c"
expect "a file outside the layer folders" 1 "src/misc/x.c: not in a layer folder"

# this repository's own tree, then with <lua.h> planted in aws/
rm -rf "$tmp/t"
mkdir -p "$tmp/t"
cp -R "$here/src" "$tmp/t/src"
expect "this repository's src/ passes" 0 "files keep the include rule"
printf '#include "aws/ddbval.h"\n#include <lua.h>\n' >"$tmp/t/src/aws/planted.c"
expect "this repository's src/ with <lua.h> planted in aws/" 1 "src/aws/planted.c:2: <lua.h>"

if [ "$failed" != 0 ]; then
	echo "test_check_layers: FAILED" >&2
	exit 1
fi
echo "test_check_layers: every case passed"
