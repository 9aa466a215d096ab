#!/bin/sh
# `make demo`: the deployment and the write-up's scenario against a local
# moto_server, nothing else touched (build/demo.py has the steps). Starts
# moto on a free 127.0.0.1 port and always stops it; fake credentials, no
# metadata service, every endpoint 127.0.0.1.
set -eu
cd "$(dirname "$0")/.."
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp)
# moto's Lambda keeps its default (Docker) backend: CloudFormation creates
# the controller there, and the docker-less switch would hide it from the
# Lambda API. Nothing in the demo makes moto invoke a function.
moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto=$!
cleanup() {
	kill "$moto" 2>/dev/null || true
	wait "$moto" 2>/dev/null || true
	rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
python3 - "$port" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
for _ in range(300):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close(); break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("moto_server did not start")
PY
printf '\n\033[1m== moto_server on http://127.0.0.1:%s (pid %s)\033[0m\n' "$port" "$moto"
./taskpipe version
unset AWS_PROFILE AWS_SESSION_TOKEN
AWS_EC2_METADATA_DISABLED=true python3 build/demo.py "http://127.0.0.1:$port"
printf '\n\033[1m== done; stopping moto\033[0m\n'
