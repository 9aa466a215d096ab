#!/bin/sh
# build/check_layers.sh: src/ is in layers, lowest first:
#   base  aws  script  core  runtime  cmd
# A file may include headers of its own layer and of the layers below it,
# always by their path under src/ ("core/lease.h"), never a layer above.
# core's subfolders (reconcile/, drift/, rollout/) are core. core/ names AWS
# operations (aws/lambda.h, aws/sqs.h, ...) and never reaches the transport:
# it may not include aws/http.h. Exits 1 and names each offending line.
set -eu
cd "$(dirname "$0")/.."
rank() {
	case "$1" in
	base) echo 0 ;; aws) echo 1 ;; script) echo 2 ;; core) echo 3 ;;
	runtime) echo 4 ;; cmd) echo 5 ;; *) echo 99 ;;
	esac
}
problems=$(for f in $(find src -name '*.[ch]' | sort); do
	layer=$(echo "$f" | cut -d/ -f2)
	own=$(rank "$layer")
	if [ "$own" = 99 ]; then
		echo "$f: not in a layer folder (base aws script core runtime cmd)"
		continue
	fi
	# quoted includes only: <...> are system and library headers
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
	echo "check_layers: include rule broken (see README \"Source layout\")" >&2
	exit 1
fi
echo "check_layers: $(find src -name '*.[ch]' | wc -l) files keep the include rule"
