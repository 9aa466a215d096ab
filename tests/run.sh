#!/bin/sh
# The integration half of `make test` (the Makefile runs the C unit tests
# and the fuzz corpus replay first): every Python module against a
# moto_server of its own, which the harness starts on a free port and stops;
# modules in parallel workers, pacing ones in a serial lane
# (tests/integration/run_all.py, tests/README.md).
set -eu
cd "$(dirname "$0")/.."
exec python3 tests/integration/run_all.py "$@"
