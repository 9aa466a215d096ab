#!/bin/sh
# `make demo`: taskpipe against a local moto_server, nothing else touched.
# Starts moto on a free 127.0.0.1 port, runs the scenario, stops moto.
set -eu
cd "$(dirname "$0")/.."
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp)
moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null; wait $moto 2>/dev/null; rm -f "$log"' EXIT INT TERM
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

# Fake credentials, the local endpoint, no metadata service: never real AWS.
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN
tp=./taskpipe
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "moto_server on $AWS_ENDPOINT_URL"
$tp version

say "create a queue and a table with taskpipe aws"
$tp aws sqs CreateQueue '{"QueueName":"demo-queue"}'
$tp aws dynamodb CreateTable '{"TableName":"demo-table","KeySchema":[{"AttributeName":"pipeline","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"pipeline","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}' >/dev/null

say "show them"
$tp aws sqs ListQueues '{}'
$tp aws dynamodb DescribeTable '{"TableName":"demo-table"}' | grep -E '"(TableName|TableStatus|ItemCount)"'

say "an error, as taskpipe reports it"
$tp aws sqs GetQueueUrl '{"QueueName":"no-such-queue"}' || true

say "done; stopping moto"
