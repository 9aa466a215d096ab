#!/bin/sh
# `make bench`: every benchmark, each reported against a baseline measured
# in the same run. Prints one JSON object per benchmark and a summary.
set -eu
cd "$(dirname "$0")/../.."
exec python3 tests/bench/bench.py "$@"
