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

say "taskpipe aws: one signed call, any service"
$tp aws sqs CreateQueue '{"QueueName":"demo-queue"}'
$tp aws sqs ListQueues '{}'
$tp aws sqs GetQueueUrl '{"QueueName":"no-such-queue"}' || true

say "set-up: tables, a versioned code bucket, consumer code, an execution role"
export TASKPIPE_CODE_BUCKET=taskpipe-code TASKPIPE_CODE_KEY=consumer.zip
$tp init
work=$(mktemp -d)
printf '#!/bin/sh\necho consumer\n' > "$work/bootstrap"
(cd "$work" && zip -q -X consumer.zip bootstrap)
$tp aws s3 PUT /taskpipe-code/consumer.zip "@$work/consumer.zip" >/dev/null
role=$($tp aws iam CreateRole '{"RoleName":"taskpipe-consumer","AssumeRolePolicyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"}' |
	sed -n 's:.*<Arn>\(.*\)</Arn>.*:\1:p')
export TASKPIPE_ROLE_ARN="$role"
echo "role $role"

say "the write-up's task groups: A (limit 2), B (limit 1), C (limit 2)"
for g in A:2 B:1 C:2; do
	printf '{"pipeline":"%s","concurrency":%s,"timeout":20,"env":{"GROUP":"%s"}}\n' "${g%%:*}" "${g#*:}" "${g%%:*}" > "$work/${g%%:*}.json"
done
cat "$work/A.json" "$work/B.json" "$work/C.json"
$tp put "$work/A.json" "$work/B.json" "$work/C.json"
$tp apply --all

say "what AWS now holds (queues, functions, mappings)"
$tp aws sqs ListQueues '{"QueueNamePrefix":"tp-"}'
for f in A B C; do
	$tp aws lambda GET "/2015-03-31/event-source-mappings/?FunctionName=tp-$f" |
		grep -E '"(FunctionArn|MaximumConcurrency|State)"' | tr -d '\t'
done
echo "tp-B reserved concurrency (limit 1 needs it; see policies/policy.lua):"
$tp aws lambda GET /2015-03-31/functions/tp-B | grep ReservedConcurrentExecutions | tr -d '\t'


say "a second apply: confirmed from the state table, no Lambda call"
$tp apply --all

say "change A: limit 2 -> 5, timeout 20 -> 60; plan shows the field-level diff"
printf '{"pipeline":"A","concurrency":5,"timeout":60,"env":{"GROUP":"A"}}\n' > "$work/A.json"
$tp put "$work/A.json"
$tp plan || true

say "apply it"
$tp apply A
$tp plan && echo "plan: in sync"

say "remove C: the pipeline goes with its item"
$tp rm C
$tp apply --all
$tp ls
rm -rf "$work"

say "done; stopping moto"
