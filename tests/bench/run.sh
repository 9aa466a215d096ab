#!/bin/sh
# `make bench`: every benchmark, each reported against a baseline measured
# in the same run. Prints one JSON object per benchmark and a summary.
# The fleet by simulation (bench_fleet_sim.py) runs out/bench/fleet_sim,
# which `make bench` builds (-O2, no sanitizers), at FLEET_SIZES
# (default "10000"; its tables go to stderr).
set -eu
cd "$(dirname "$0")/../.."
exec python3 tests/bench/bench.py "$@"
