#!/bin/sh
# The integration half of `make test` (the Makefile runs the C unit tests
# first): fuzz corpus replay under sanitizers, then every Python test
# against moto_server, which the harness starts on a free port and stops.
set -eu
cd "$(dirname "$0")/.."
make -s fuzz-replay
exec python3 tests/integration/run_all.py "$@"
