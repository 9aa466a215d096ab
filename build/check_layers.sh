#!/bin/sh
# build/check_layers.sh [ROOT]: src/ is in layers, lowest first:
#   base  aws  script  core  runtime  cmd
# A file may include headers of its own layer and of the layers below it,
# always in quotes by their path under src/ ("core/lease.h"), never a layer
# above. core's subfolders (reconcile/, drift/, rollout/) are core. core/
# names AWS operations (aws/lambda.h, aws/sqs.h, ...) and never reaches the
# transport: it may not include aws/http.h.
# Angle-bracket includes are read too: a header of src/ in brackets is
# refused (it would dodge the rule above), and Lua's headers (<lua.h>,
# <lualib.h>, <lauxlib.h>, <luaconf.h>: any <lua*.h>) are allowed in
# script/ and cmd/ only, the layers that run Lua. Exits 1 and names each
# offending line. ROOT (default: this repository) is for the checker's own
# test (tests/layers/test_check_layers.sh).
set -eu
cd "${1:-$(dirname "$0")/..}"
rank() {
	case "$1" in
	base) echo 0 ;; aws) echo 1 ;; script) echo 2 ;; core) echo 3 ;;
	runtime) echo 4 ;; cmd) echo 5 ;; *) echo 99 ;;
	esac
}
# 1 when a layer may include Lua's headers
lua_layer() {
	case "$1" in script | cmd) echo 1 ;; *) echo 0 ;; esac
}
problems=$(for f in $(find src -name '*.[ch]' | sort); do
	layer=$(echo "$f" | cut -d/ -f2)
	own=$(rank "$layer")
	if [ "$own" = 99 ]; then
		echo "$f: not in a layer folder (base aws script core runtime cmd)"
		continue
	fi
	# <...>: system and library headers; never src/'s own, Lua's only where Lua runs
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*<' "$f" | while IFS= read -r line; do
		path=$(echo "$line" | sed 's/.*include[[:space:]]*<\([^>]*\)>.*/\1/')
		n=${line%%:*}
		case "$path" in
		lua*.h | lauxlib.h)
			if [ "$(lua_layer "$layer")" = 0 ]; then
				echo "$f:$n: <$path>: Lua's headers belong in script/ and cmd/ only ($layer may not run Lua; put the Lua side in script/)"
			fi
			continue ;;
		esac
		if [ "$(rank "${path%%/*}")" != 99 ] && [ -f "src/$path" ]; then
			echo "$f:$n: <$path>: a header of src/: include it in quotes (\"$path\"), where the layer rule sees it"
		fi
	done
	# "...": headers of src/, by their path, from this layer or below
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | while IFS= read -r line; do
		path=$(echo "$line" | sed 's/.*include[[:space:]]*"\([^"]*\)".*/\1/')
		n=${line%%:*}
		case "$path" in
		*/*) ;;
		*) echo "$f:$n: \"$path\": include by its path under src/ (e.g. \"$layer/$path\")"; continue ;;
		esac
		dep=$(rank "${path%%/*}")
		if [ "$dep" = 99 ]; then
			echo "$f:$n: \"$path\": not a header of src/"
		elif [ "$dep" -gt "$own" ]; then
			echo "$f:$n: \"$path\": $layer may not include ${path%%/*} (a layer above it)"
		elif [ ! -f "src/$path" ]; then
			echo "$f:$n: \"$path\": no such header"
		elif [ "$layer" = core ] && [ "$path" = aws/http.h ]; then
			echo "$f:$n: \"$path\": core may not include the transport (use aws/aws.h and the protocol builders)"
		fi
	done
done)
if [ -n "$problems" ]; then
	echo "$problems"
	echo "check_layers: include rule broken (see docs/INTERNALS.md \"Source layout\")" >&2
	exit 1
fi
echo "check_layers: $(find src -name '*.[ch]' | wc -l) files keep the include rule"
