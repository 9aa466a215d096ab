#!/bin/sh
# Runs one C unit program (`make unit` runs them side by side) with its
# output kept and printed whole when it ends, so parallel runs never
# interleave; exits with the program's status.
set -u
t=$1
log=$(mktemp)
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$t" >"$log" 2>&1
rc=$?
if [ $rc -eq 0 ]; then
	echo "== $t: passed $(grep -E '^\[  PASSED  \]' "$log" | head -1 | sed 's/^\[  PASSED  \] *//')"
else
	echo "== $t: FAILED ($rc)"
	cat "$log"
fi
rm -f "$log"
exit $rc
