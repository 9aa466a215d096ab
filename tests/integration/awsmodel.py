"""An AWS-faithful layer in front of moto, for the integration tests.

moto is lenient: functions are Active the moment they exist, updates finish at
once, event source mappings never pass through Creating/Updating/Deleting,
there is no Lambda control-plane rate limit, a deleted queue name can be
re-created at once, list and tagging answers are never stale, and
ListFunctions carries State/LastUpdateStatus which AWS leaves out. Software
that passes on moto can therefore break on AWS. This layer sits between the
client (taskpipe or boto3) and moto, keeps its own model of those behaviours
and rewrites or replaces moto's answers so the client sees what AWS would
send. It is an awsproxy.FaultProxy, so fault rules, counts and the log work
as before. Python 3 standard library only.

    aws = AwsModel(moto.endpoint, scale=0.02).start()   # aws.endpoint
    env = moto.env(AWS_ENDPOINT_URL=aws.endpoint)
    ... aws.fail_function(name, reason=...), aws.limit_history(name),
        aws.lambda_throttled(), aws.violations(), aws.reset_model(), aws.stop()

Durations are given in AWS seconds and multiplied by `scale`; rates are real
requests per second. The API is the list above, summarised in docs/testing.md
("The AWS-faithful layer").

AWS pages each behaviour is based on:
  [states]   Lambda function states
             https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html
  [fncfg]    FunctionConfiguration / GetFunctionConfiguration ("LastUpdateStatus ... is
             first set to Successful after function creation completes")
             https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html
  [list]     ListFunctions ("returns a subset of the FunctionConfiguration fields. To get
             the additional fields (State, StateReasonCode, StateReason, LastUpdateStatus,
             LastUpdateStatusReason, LastUpdateStatusReasonCode, ...) use GetFunction")
             https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html
  [esm]      EventSourceMappingConfiguration State: Creating, Enabling, Enabled, Disabling,
             Disabled, Updating, Deleting; ResourceInUseException "you tried to update an
             event source mapping in the CREATING state, or you tried to delete an event
             source mapping currently UPDATING" (HTTP 400 in the Lambda API model);
             DeleteEventSourceMapping: "it enters a Deleting state and might not be
             completely deleted for several seconds"
             https://docs.aws.amazon.com/lambda/latest/api/API_GetEventSourceMapping.html
             https://docs.aws.amazon.com/lambda/latest/api/API_DeleteEventSourceMapping.html
             https://docs.aws.amazon.com/botocore/latest/reference/services/lambda/client/exceptions/ResourceInUseException.html
  [quotas]   Lambda quotas, "Lambda API requests": GetFunction 100 req/s, GetPolicy 15 req/s,
             "remainder of the control plane API requests (excludes invocation, GetFunction,
             and GetPolicy requests)" 15 req/s, none can be increased
             https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
  [429]      TooManyRequestsException: HTTP 429, retryAfterSeconds in the Retry-After header,
             Reason CallerRateLimitExceeded
             https://docs.aws.amazon.com/botocore/latest/reference/services/lambda/client/exceptions/TooManyRequestsException.html
             https://docs.aws.amazon.com/lambda/latest/api/API_TooManyRequestsException.html
  [qdr]      SQS CreateQueue / DeleteQueue: "If you delete a queue, you must wait at least
             60 seconds before creating a queue with the same name" (QueueDeletedRecently)
             https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
             https://docs.aws.amazon.com/botocore/latest/reference/services/sqs/client/exceptions/QueueDeletedRecently.html
  [sqsjson]  Interpreting SQS JSON API responses: errors carry __type and x-amzn-query-error
             "<query code>;Sender" (e.g. AWS.SimpleQueueService.NonExistentQueue;Sender)
             https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-api-responses.html
  [pages]    ListFunctions "returns a maximum of 50 items in each response, even if you set
             the number higher" (MaxItems, Marker/NextMarker); ListEventSourceMappings the same
             with 100; SQS ListQueues "includes a maximum of 1,000 results", NextToken only
             when MaxResults is set. moto ignores all of these and answers everything at once.
             https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html
             https://docs.aws.amazon.com/lambda/latest/api/API_ListEventSourceMappings.html
             https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ListQueues.html
  [lag]      No AWS page gives a number for list staleness. SQS: "After you create a queue,
             you must wait at least one second after the queue is created to be able to use
             the queue" (API_CreateQueue); the Tagging API and SQS/Lambda tag calls are
             eventually consistent (e.g. "The application or removal of tags ... is eventually
             consistent", DynamoDB TagResource). list_lag_s is therefore a test knob that
             makes the staleness visible, not an AWS figure.
             https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html
  [counts]   GetQueueAttributes: "The ApproximateNumberOfMessagesDelayed,
             ApproximateNumberOfMessagesNotVisible, and ApproximateNumberOfMessages metrics may
             not achieve consistency until at least 1 minute after the producers stop sending
             messages." count_lag_s (default 0: off, as moto) answers the three counts as they
             were count_lag_s (scaled) ago: the model samples moto's counts after every request
             that changes them and on every GetQueueAttributes, and answers the newest sample at
             least that old (a queue younger than that: its counts at creation, zero).
             https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html
  [table]    CreateTable "is an asynchronous operation. Upon receiving a CreateTable request,
             DynamoDB immediately returns a response with a TableStatus of CREATING. After the
             table is created, DynamoDB sets the TableStatus to ACTIVE. You can perform read and
             write operations only on an ACTIVE table." A stream's StreamStatus is ENABLING
             ("Streams is currently being enabled on the DynamoDB table") before ENABLED.
             moto makes tables ACTIVE at once. table_create_s (default 0: off, as moto) keeps
             a table CREATING that long; data-plane calls on it get ResourceNotFoundException.
             https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html
             https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html
             https://docs.aws.amazon.com/amazondynamodbstreams/latest/APIReference/API_StreamDescription.html
             (The 400 KB item size limit is moto's own: ValidationException "Item size has
             exceeded the maximum allowed size"; not modelled again here.)
  [layers]   FunctionConfiguration "Layers: The function's layers", a list of {Arn, CodeSize}
             marked "Required: No": a function without layers has no Layers member (moto
             answers "Layers": []), so a reader must take an absent list as none.
             https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html
             https://docs.aws.amazon.com/lambda/latest/api/API_Layer.html
  [selfref]  Self-managed S3 code storage ("Lambda developer guide, configuration-self-managed-
             storage"): S3ObjectStorageMode COPY (default) | REFERENCE on CreateFunction (in Code)
             and UpdateFunctionCode; REFERENCE needs a versioned bucket and names the S3 object,
             key and object version; the code "does not count against your Lambda-managed
             storage quota". An UpdateFunctionCode that omits the field goes back to COPY (the
             guide's "Switching between storage modes"). How a function shows its mode:
             FunctionConfiguration has no storage-mode field (API_FunctionConfiguration); a
             REFERENCE function's GetFunction answer carries Code.ResolvedS3Object {S3Bucket,
             S3Key, S3ObjectVersion} ("Details about the resolved Amazon S3 object that contains
             a function's deployment package", API_ResolvedS3Object, API_FunctionCodeLocation);
             a COPY function's does not. "The object must remain in place, and Lambda must keep
             access to it, for the lifetime of the function" (SAM FunctionCode StorageMode): a
             function whose referenced object version becomes unreadable goes State Inactive, and
             so does one whose access is taken away (a bucket policy that no longer lets
             lambda.amazonaws.com read, a KMS key disabled or its grant removed). AWS documents
             no StateReasonCode for the object case: the model names it ref_lost_code
             (InvalidConfiguration, one of the documented codes, API_FunctionConfiguration) and
             aws.lose_reference(fn, code, reason) gives any other (KMSKeyAccessDenied, ...);
             taskpipe must not depend on the code. CodeSize stays the package size.
             https://docs.aws.amazon.com/lambda/latest/dg/configuration-self-managed-storage.html
             https://docs.aws.amazon.com/lambda/latest/api/API_ResolvedS3Object.html
             https://docs.aws.amazon.com/lambda/latest/api/API_FunctionCodeLocation.html
             https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html
             https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-functioncode.html
  [lineage]  DynamoDB Streams shards: "Shards are ephemeral: They are created and deleted
             automatically, as needed. Any shard can also split into multiple new shards"; "a
             parent shard might have just one child shard"; "If you perform a DescribeStream
             request and determine that a shard has been closed, ... you should process the
             parent shard before the child shards" and a closed shard has an
             EndingSequenceNumber; Shard.ParentShardId names the parent; GetRecords on a closed
             shard ends with NextShardIterator null. moto keeps one shard per stream for ever;
             ShardLineage below splits it: aws.roll_stream(arn) closes the open shard at the
             last record written so far and opens a child (ParentShardId) that takes what comes
             after, so a rollover can happen while a reader is away.
             https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html
             https://docs.aws.amazon.com/amazondynamodbstreams/latest/APIReference/API_Shard.html
             https://docs.aws.amazon.com/amazondynamodbstreams/latest/APIReference/API_GetRecords.html
             https://docs.aws.amazon.com/amazondynamodbstreams/latest/APIReference/API_DescribeStream.html
  [fresh]    Fresh resources are not usable at once. SQS CreateQueue: "After you create a
             queue, you must wait at least one second after the queue is created to be able to
             use the queue"; until then the model answers requests naming it (by QueueUrl, or
             GetQueueUrl by name) 400 AWS.SimpleQueueService.NonExistentQueue
             (QueueDoesNotExist), as SQS answers for a queue it does not know. IAM is eventually
             consistent ("changes ... take time to become visible"): a role created less than
             role_ready_s ago (created through the layer, or aws.role_created(arn)) is refused
             by CreateFunction, 400 InvalidParameterValueException "The role defined for the
             function cannot be assumed by Lambda." Both windows are knobs (queue_ready_s,
             role_ready_s; default 0: off, as moto), AWS gives no upper bound for the role.
             https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
             https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency
             https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-deployment.html
  [tblupd]   UpdateTable "is an asynchronous operation; while it is executing, the table status
             changes from ACTIVE to UPDATING. While it is UPDATING, you cannot issue another
             UpdateTable request"; enabling a stream is one such update and the new stream is
             ENABLING before ENABLED (StreamDescription). moto enables at once. StreamEnabling
             below keeps a table UPDATING and its new stream ENABLING (no shards) for
             stream_enable_s (default 0: off, as moto); a second UpdateTable meanwhile gets 400
             ResourceInUseException.
             https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html
             https://docs.aws.amazon.com/amazondynamodbstreams/latest/APIReference/API_StreamDescription.html
  [runtime]  Runtime deprecation: after a runtime's "Block function create" date Lambda refuses
             CreateFunction with it, after "Block function update" also UpdateFunctionCode and
             UpdateFunctionConfiguration of functions on it; 400 InvalidParameterValueException
             "The runtime parameter of <id> is no longer supported for creating or updating AWS
             Lambda functions. We recommend you use a supported runtime while creating or
             updating functions." RuntimeLifecycle below holds the dates (its own copy, from the
             same sources as src/core/runtimes.c) and `today` ("YYYY-MM-DD", default the UTC date).
             https://docs.aws.amazon.com/lambda/latest/dg/runtime-support-policy.html
             https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
  [throttle] Every service throttles, not only Lambda. SQS: 400 ThrottlingException / the query
             code RequestThrottled ("Request was denied due to request throttling"); DynamoDB: 400
             ThrottlingException ("Rate of requests exceeds the allowed throughput") and, for a hot
             key, "One partition can take about 1,000 write units per second" (beyond it writes
             are throttled whatever the table's capacity); S3: 503 SlowDown ("Please reduce your
             request rate"). ServiceThrottle below answers a fraction of each service's requests
             with its throttle (other_throttle_fraction, by service) and throttles writes to one
             DynamoDB key beyond hot_key_wps a second (the shared Lambda budget item is one such
             key). The SDKs retry all of these as throttling.
             https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html
             https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
             https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html
             https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
             https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
  [pool]     The account's concurrency is one pool. GetAccountSettings answers AccountLimit
             {ConcurrentExecutions, UnreservedConcurrentExecutions, ...} and AccountUsage
             (API_GetAccountSettings, API_AccountLimit: "The maximum number of simultaneous
             function executions, minus the capacity that's reserved for individual functions
             with PutFunctionConcurrency"). PutFunctionConcurrency: "You can reserve concurrency
             for as many functions as you like, as long as you leave at least 100 simultaneous
             executions unreserved"; the refusal is 400 InvalidParameterValueException
             "Specified ReservedConcurrentExecutions for function decreases account's
             UnreservedConcurrentExecution below its minimum value of [N]." (N lower on new
             accounts: [50], [10] are reported). Deleting a function or its concurrency gives the
             reservation back. moto answers GetAccountSettings with 404 and enforces nothing;
             ConcurrencyPool below does both (account_concurrency, unreserved_min).
             https://docs.aws.amazon.com/lambda/latest/api/API_GetAccountSettings.html
             https://docs.aws.amazon.com/lambda/latest/api/API_AccountLimit.html
             https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionConcurrency.html
             https://docs.gruntwork.io/discussions/knowledge-base/215 (the error text, [50])
"""
import argparse
import base64
import hashlib
import http.client
import json
import math
import random
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
import zlib

from awsproxy import HOP_HEADERS, FaultProxy, _Handler, classify

# S3 operations whose bodies are relayed in pieces instead of buffered.
STREAMED = {"GetObject", "PutObject", "UploadPart"}
PIECE = 256 * 1024

# [quotas]: invocations are outside the control-plane limits.
NOT_RATE_LIMITED = {"Invoke", "InvokeAsync", "InvokeWithResponseStream"}
# [list]: the fields only GetFunction/GetFunctionConfiguration carry.
STATE_FIELDS = ("State", "StateReason", "StateReasonCode", "LastUpdateStatus",
                "LastUpdateStatusReason", "LastUpdateStatusReasonCode")
# [states]: refused while the function is Pending (create not finished).
BLOCKED_PENDING = {"Invoke", "InvokeAsync", "UpdateFunctionCode", "UpdateFunctionConfiguration",
                   "PublishVersion"}
# [states]: refused while LastUpdateStatus is InProgress.
BLOCKED_UPDATING = {"UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion"}
UPDATES = {"UpdateFunctionCode", "UpdateFunctionConfiguration"}
ESM_TRANSITIONAL = {"Creating", "Enabling", "Disabling", "Updating", "Deleting"}
# [selfref]: AWS documents no StateReasonCode for an unreadable referenced object;
# a documented code stands in (taskpipe must take any non-Idle Inactive).
REF_LOST_CODE = "InvalidConfiguration"
# [table]: the calls refused while a table is CREATING (reads and writes).
DDB_DATA_PLANE = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
                  "BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems"}

S3_AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/s3/aws4_request, "
           "SignedHeaders=host, Signature=00")
# moto routes by the credential scope's service: CloudWatch signs as "monitoring".
CW_AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/monitoring/aws4_request, "
           "SignedHeaders=host, Signature=00")
SQS_AUTH = S3_AUTH.replace("/s3/", "/sqs/")
# [counts]: the requests that change a queue's Approximate* counts
SQS_COUNT_OPS = {"SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage",
                 "DeleteMessageBatch", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch",
                 "PurgeQueue"}
SQS_COUNTS = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
              "ApproximateNumberOfMessagesDelayed")
_FN_PATH = re.compile(r"^/\d{4}-\d\d-\d\d/functions/([^/?]+)")
_ESM_PATH = re.compile(r"^/\d{4}-\d\d-\d\d/event-source-mappings/([^/?]+)")
_TAG_PATH = re.compile(r"^/\d{4}-\d\d-\d\d/tags/([^/?]+)")


def function_name(ref):
    """The bare function name of a name, partial ARN or ARN (qualifier dropped)."""
    ref = urllib.parse.unquote(ref or "")
    if ":function:" in ref:
        ref = ref.split(":function:", 1)[1]
    elif ref.count(":") >= 2:          # 123456789012:function:name
        ref = ref.split(":")[-1]
    return ref.split(":")[0]


def arn_key(arn):
    """("sqs"|"lambda", name) for a queue or function ARN, else None."""
    parts = (arn or "").split(":")
    if len(parts) >= 6 and parts[2] == "sqs":
        return ("sqs", parts[5])
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return ("lambda", parts[6])
    return None


_MARK = "awsmodel:"


def page_token(offset):
    """An opaque pagination token (Marker/NextToken) for a list offset."""
    return base64.b64encode((_MARK + str(offset)).encode()).decode()


def page_offset(token):
    """The offset in a token from page_token(); 0 for none; ValueError if not ours."""
    if not token:
        return 0
    raw = base64.b64decode(token.encode(), validate=True).decode()
    if not raw.startswith(_MARK) or not raw[len(_MARK):].isdigit():
        raise ValueError("not a pagination token of this layer")
    return int(raw[len(_MARK):])


def paged(items, token, size, cap):
    """(this page, next token or None): size items from token's offset, at most cap."""
    start = page_offset(token)
    n = max(1, min(int(size or cap), cap))
    page = items[start:start + n]
    return page, (page_token(start + n) if start + n < len(items) else None)


def _json(data):
    try:
        v = json.loads(data or b"{}")
        return v if isinstance(v, dict) else None
    except ValueError:
        return None


def _request_id():
    return str(uuid.uuid4())


def lambda_error(status, code, message, extra=None, headers=None):
    """A Lambda (REST-JSON) error as AWS sends it: x-amzn-ErrorType carries the code
    (awserr.c and botocore read it first), the body {"Type": "User", "message": ...}."""
    body = {"Type": "User"}
    body.update(extra or {})
    body.setdefault("Message" if code in ("ResourceInUseException", "ResourceNotFoundException")
                    else "message", message)
    h = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code),
         ("x-amzn-RequestId", _request_id())] + list(headers or [])
    return status, h, json.dumps(body).encode()


class TokenBucket:
    """rate tokens a second, at most burst stored; take() -> 0 or seconds to wait."""

    def __init__(self, rate, burst=None):
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else rate)
        self.tokens = self.burst
        self.t = time.monotonic()

    def take(self, now=None):
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class _Fn:
    """Modelled state of one function (times are time.time())."""

    def __init__(self, now, pending_s):
        self.created = now
        self.pending_until = now + pending_s
        self.create_fail = None        # (reason, code) -> State Failed once Pending ends
        self.update_until = 0.0
        self.update_fail = None        # (reason, code) of the current/last update
        self.updated = False           # an update has run (LastUpdateStatus from it)
        self.arn = None
        self.storage = "COPY"          # [selfref] S3ObjectStorageMode
        self.ref = None                # (bucket, key, version) of REFERENCE code
        self.ref_gone = False          # that object version became unreadable
        self.ref_lost = None           # (code, reason): Lambda lost access to it [selfref]

    def state(self, now):
        """dict of the fields GetFunction shows ([states], [fncfg])."""
        if now < self.pending_until:
            return {"State": "Pending", "StateReason": "The function is being created.",
                    "StateReasonCode": "Creating"}
        if self.create_fail:
            reason, code = self.create_fail
            return {"State": "Failed", "StateReason": reason, "StateReasonCode": code,
                    "LastUpdateStatus": "Failed", "LastUpdateStatusReason": reason,
                    "LastUpdateStatusReasonCode": code}
        out = {"State": "Active", "LastUpdateStatus": "Successful"}
        if self.ref_lost:
            # [selfref]: Lambda lost access to the referenced code (policy, KMS).
            out.update(State="Inactive", StateReasonCode=self.ref_lost[0],
                       StateReason=self.ref_lost[1])
        elif self.ref_gone:
            # [selfref]: Lambda can no longer read the referenced object version.
            out.update(State="Inactive", StateReasonCode=REF_LOST_CODE,
                       StateReason="Lambda cannot read the function's code object s3://%s/%s "
                                   "(version %s)." % self.ref)
        if self.updated and now < self.update_until:
            # Only the status: no LastUpdateStatusReasonCode value means "in progress".
            out["LastUpdateStatus"] = "InProgress"
        elif self.updated and self.update_fail:
            reason, code = self.update_fail
            out.update(LastUpdateStatus="Failed", LastUpdateStatusReason=reason,
                       LastUpdateStatusReasonCode=code)
        return out


class _Esm:
    """Modelled state of one event source mapping. cur/target: (enabled, max_concurrency)."""

    def __init__(self, uuid_, fn, config, target, now, until):
        self.uuid = uuid_
        self.fn = fn
        self.config = config           # the last full answer (to serve Get/List while Deleting)
        self.cur = (False, None)
        self.target = target
        self.state = "Creating"
        self.until = until
        self.created = now

    def loosest(self):
        """(enabled, max_concurrency) that may be in force now: during a transition
        either end may apply, so the looser of the two counts."""
        if self.state not in ESM_TRANSITIONAL:
            return self.cur
        (e1, m1), (e2, m2) = self.cur, self.target
        if not e1:
            return self.target
        if not e2:
            return self.cur
        return True, (None if m1 is None or m2 is None else max(m1, m2))

    def settled_state(self):
        return "Enabled" if self.target[0] else "Disabled"


class ShardLineage:
    """[lineage] Shards of a DynamoDB stream rolling over, over moto's one shard. Each
    roll of a stream closes its newest shard at a cut (a sequence number) and opens a
    child: shard 0 keeps moto's shard id (so checkpoints taken before any roll stay
    valid), shard k > 0 is "<moto id>-r<k>" with ParentShardId shard k-1, and holds the
    records (cut[k-1], cut[k]]. Iterators of a rolled stream are wrapped ("lineage:" +
    base64 JSON of stream, shard index, position, moto's iterator); GetRecords filters
    moto's records to the shard and ends a closed shard (NextShardIterator absent) once
    its cut is reached. Self-contained: AwsModel calls before() outside its lock."""

    PREFIX = "lineage:"

    def __init__(self, upstream):
        self.upstream = upstream    # fn(operation, params) -> (status, parsed answer) from moto
        self.cuts = {}              # stream arn -> [cut sequence numbers as ints]
        self.lock = threading.Lock()

    def roll(self, stream_arn):
        """Close the newest shard after the last record written so far; returns the cut."""
        st, out = self.upstream("DescribeStream", {"StreamArn": stream_arn})
        shard = ((out or {}).get("StreamDescription") or {}).get("Shards") or []
        if st != 200 or not shard:
            raise ValueError("stream %s: no shard to roll (%s)" % (stream_arn, st))
        st, it = self.upstream("GetShardIterator", {"StreamArn": stream_arn,
                                                    "ShardId": shard[0]["ShardId"],
                                                    "ShardIteratorType": "TRIM_HORIZON"})
        last, itr = None, (it or {}).get("ShardIterator")
        while itr:
            st, got = self.upstream("GetRecords", {"ShardIterator": itr, "Limit": 1000})
            recs = (got or {}).get("Records") or []
            if not recs:
                break
            last = int(recs[-1]["dynamodb"]["SequenceNumber"])
            itr = got.get("NextShardIterator")
        with self.lock:
            cuts = self.cuts.setdefault(stream_arn, [])
            cut = last if last is not None else 0
            if cuts and cut <= cuts[-1]:
                raise ValueError("stream %s: nothing written since the last roll" % stream_arn)
            cuts.append(cut)
            return cut

    @staticmethod
    def _index(arn, shard_id):
        m = re.match(r"^(.*)-r(\d+)$", shard_id)
        return (m.group(1), int(m.group(2))) if m else (shard_id, 0)

    def describe(self, data):
        """DescribeStream's answer with the rolled shards; None when not rolled."""
        out = _json(data)
        desc = (out or {}).get("StreamDescription") or {}
        with self.lock:
            cuts = list(self.cuts.get(desc.get("StreamArn"), []))
        if not cuts:
            return None
        shards = []
        for sh in desc.get("Shards") or []:
            base, start = sh["ShardId"], sh["SequenceNumberRange"]["StartingSequenceNumber"]
            for k in range(len(cuts) + 1):
                v = {"ShardId": base if k == 0 else "%s-r%d" % (base, k),
                     "SequenceNumberRange": {"StartingSequenceNumber":
                                             start if k == 0 else str(cuts[k - 1] + 1)}}
                if k < len(cuts):
                    v["SequenceNumberRange"]["EndingSequenceNumber"] = str(cuts[k])
                if k > 0:
                    v["ParentShardId"] = base if k == 1 else "%s-r%d" % (base, k - 1)
                elif sh.get("ParentShardId"):
                    v["ParentShardId"] = sh["ParentShardId"]
                shards.append(v)
        desc["Shards"] = shards
        return json.dumps(out).encode()

    @staticmethod
    def _answer(doc):
        body = json.dumps(doc).encode()
        return 200, [("Content-Type", "application/x-amz-json-1.0"),
                     ("x-amzn-RequestId", _request_id()), ("x-amz-crc32", str(zlib.crc32(body)))], body

    def before(self, operation, body):
        """An answer for GetShardIterator/GetRecords of a rolled stream, else None."""
        req = _json(body) or {}
        if operation == "GetShardIterator":
            arn = req.get("StreamArn")
            with self.lock:
                cuts = list(self.cuts.get(arn, []))
            if not cuts:
                return None
            base, k = self._index(arn, req.get("ShardId") or "")
            if k > len(cuts):
                return 400, [("Content-Type", "application/x-amz-json-1.0")], json.dumps({
                    "__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                    "message": "Requested resource not found: Shard does not exist"}).encode()
            lo = cuts[k - 1] if k > 0 else -1
            kind, seq = req.get("ShardIteratorType"), req.get("SequenceNumber")
            moto = {"StreamArn": arn, "ShardId": base}
            if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
                moto.update(ShardIteratorType=kind, SequenceNumber=seq)
                pos = int(seq) - (1 if kind == "AT_SEQUENCE_NUMBER" else 0)
            elif kind == "LATEST" and k == len(cuts):
                moto.update(ShardIteratorType="LATEST")
                pos = lo
            elif kind == "LATEST":      # a closed shard has nothing after its end
                moto.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=str(cuts[k]))
                pos = cuts[k]
            elif k == 0:
                moto.update(ShardIteratorType="TRIM_HORIZON")
                pos = lo
            else:
                moto.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=str(lo))
                pos = lo
            st, out = self.upstream("GetShardIterator", moto)
            if st != 200:
                return None     # moto's own error, as it is
            return self._answer({"ShardIterator": self._wrap(arn, k, pos, out["ShardIterator"])})
        if operation == "GetRecords" and str(req.get("ShardIterator", "")).startswith(self.PREFIX):
            w = json.loads(base64.b64decode(req["ShardIterator"][len(self.PREFIX):]))
            with self.lock:
                cuts = list(self.cuts.get(w["arn"], []))
            k, pos = w["k"], w["pos"]
            lo = cuts[k - 1] if k > 0 else -1
            hi = cuts[k] if k < len(cuts) else None
            recs, nxt = [], w["it"]
            if hi is None or pos < hi:
                st, out = self.upstream("GetRecords", {"ShardIterator": w["it"],
                                                      "Limit": req.get("Limit", 1000)})
                if st != 200:
                    return None
                for r in out.get("Records") or []:
                    n = int(r["dynamodb"]["SequenceNumber"])
                    pos = max(pos, n)
                    if n > lo and (hi is None or n <= hi):
                        recs.append(r)
                nxt = out.get("NextShardIterator")
            doc = {"Records": recs}
            if nxt and (hi is None or pos < hi):
                doc["NextShardIterator"] = self._wrap(w["arn"], k, pos, nxt)
            return self._answer(doc)      # a closed shard at its end: no NextShardIterator
        return None

    def _wrap(self, arn, k, pos, it):
        return self.PREFIX + base64.b64encode(json.dumps(
            {"arn": arn, "k": k, "pos": pos, "it": it}).encode()).decode()


class FreshResources:
    """[fresh] Queues and roles that are not usable for a while after their creation.
    Self-contained: AwsModel calls before()/after() with its lock held; times are
    time.time(), windows already scaled."""

    def __init__(self, queue_ready, role_ready):
        self.queue_ready = queue_ready
        self.role_ready = role_ready
        self.queues = {}        # queue name -> created
        self.roles = {}         # role ARN or name -> created
        self.refused = []       # (operation, name) of every refusal

    def role_created(self, arn, now):
        self.roles[arn] = now
        self.roles[arn.rsplit("/", 1)[-1]] = now

    def before(self, service, operation, params, now, sqs_error):
        if service == "sqs" and self.queue_ready > 0 and operation != "CreateQueue":
            name = AwsModel._queue_name(params)
            t = self.queues.get(name)
            if t is not None and now - t < self.queue_ready:
                self.refused.append((operation, name))
                return sqs_error("AWS.SimpleQueueService.NonExistentQueue",
                                 "com.amazonaws.sqs#QueueDoesNotExist",
                                 "The specified queue does not exist.")
        if service == "lambda" and operation == "CreateFunction" and self.role_ready > 0:
            role = str(params.get("Role") or "")
            t = self.roles.get(role, self.roles.get(role.rsplit("/", 1)[-1]))
            if t is not None and now - t < self.role_ready:
                self.refused.append((operation, role))
                return lambda_error(400, "InvalidParameterValueException",
                                    "The role defined for the function cannot be assumed by Lambda.")
        return None

    def after(self, service, operation, params, now):
        if service == "sqs" and operation == "CreateQueue" and self.queue_ready > 0:
            name = AwsModel._queue_name(params)
            if name and name not in self.queues:
                self.queues[name] = now
        elif service == "sqs" and operation == "DeleteQueue":
            self.queues.pop(AwsModel._queue_name(params), None)
        elif service == "iam" and operation == "CreateRole" and params.get("RoleName") \
                and self.role_ready > 0:
            self.roles[params["RoleName"]] = now


class StreamEnabling:
    """[tblupd] A stream enabled by UpdateTable is not there at once. Self-contained:
    AwsModel calls before()/after() with its lock held; `window` already scaled."""

    def __init__(self, window):
        self.window = window
        self.until = {}         # table name -> time the update ends

    def busy(self, table, now):
        return now < self.until.get(table, 0)

    def before(self, operation, params, now):
        if operation == "UpdateTable" and self.busy(params.get("TableName"), now):
            return 400, [("Content-Type", "application/x-amz-json-1.0"),
                         ("x-amzn-RequestId", _request_id())], json.dumps({
                             "__type": "com.amazonaws.dynamodb.v20120810#ResourceInUseException",
                             "message": "Attempt to change a resource which is still in use: "
                                        "Table is being updated: %s" % params.get("TableName")}).encode()
        return None

    def after(self, operation, params, out, now):
        """moto's answer (parsed) rewritten; True when it changed."""
        if operation == "UpdateTable" and self.window > 0 \
                and (params.get("StreamSpecification") or {}).get("StreamEnabled"):
            self.until[params.get("TableName")] = now + self.window
        if operation in ("UpdateTable", "DescribeTable"):
            desc = out.get("TableDescription") or out.get("Table") or {}
            if self.busy(desc.get("TableName"), now):
                desc["TableStatus"] = "UPDATING"
                return True
        if operation == "DescribeStream":
            desc = out.get("StreamDescription") or {}
            if self.busy(desc.get("TableName"), now):
                desc["StreamStatus"] = "ENABLING"
                desc["Shards"] = []
                return True
        return False


class RuntimeLifecycle:
    """[runtime] Lambda refusing blocked runtimes. Self-contained: AwsModel calls
    before() with its lock held and the function's current runtime (or None)."""

    # runtime: (deprecated, block create, block update); "" = not published
    DATES = {
        "provided.al2": ("2026-07-31", "2027-02-01", "2027-03-03"),
        "python3.9": ("2025-12-15", "", ""),
        "nodejs18.x": ("2025-09-01", "2025-10-01", "2025-11-01"),
        "python3.8": ("2024-10-14", "2025-10-01", "2025-11-01"),
        "nodejs16.x": ("2024-06-12", "2025-10-01", "2025-11-01"),
        "provided": ("2024-01-08", "2024-02-08", "2025-11-01"),
        "go1.x": ("2024-01-08", "2024-02-08", "2025-11-01"),
    }
    MESSAGE = ("The runtime parameter of %s is no longer supported for creating or updating AWS "
               "Lambda functions. We recommend you use a supported runtime while creating or "
               "updating functions.")

    def __init__(self, today=None):
        self.today = today
        self.refused = []       # (operation, runtime)

    def _day(self):
        return self.today or time.strftime("%Y-%m-%d", time.gmtime())

    def blocked(self, runtime, what):
        d = self.DATES.get(runtime)
        date = d[1 if what == "create" else 2] if d else ""
        return bool(date) and self._day() >= date

    def before(self, operation, body, current_runtime):
        req = _json(body) or {}
        rt, what = None, None
        if operation == "CreateFunction":
            rt, what = req.get("Runtime"), "create"
        elif operation == "UpdateFunctionConfiguration":
            rt, what = req.get("Runtime") or current_runtime, "update"
            if req.get("Runtime") and not self.blocked(current_runtime, "update"):
                rt = req["Runtime"]     # moving to another runtime: that one counts
        elif operation == "UpdateFunctionCode":
            rt, what = current_runtime, "update"
        if rt and self.blocked(rt, what):
            self.refused.append((operation, rt))
            return lambda_error(400, "InvalidParameterValueException", self.MESSAGE % rt)
        return None


class ServiceThrottle:
    """[throttle] SQS, DynamoDB (and Streams) and S3 throttling. Self-contained: AwsModel
    calls before() with its lock held."""

    DDB_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}

    def __init__(self, fractions, hot_key_wps, rng):
        self.fractions = dict(fractions or {})     # service -> fraction of requests
        self.hot_key_wps = hot_key_wps              # writes/s one DynamoDB key takes; 0: off
        self.rng = rng
        self.keys = {}                              # (table, key JSON) -> TokenBucket
        self.count = {}                             # service -> throttles answered
        self.force = {}                             # service -> its next N requests throttled

    def _hot(self, operation, body):
        if self.hot_key_wps <= 0 or operation not in self.DDB_WRITES:
            return False
        req = _json(body) or {}
        key = req.get("Key") or req.get("Item") or {}
        if req.get("Item"):     # the key attributes are among the item's: pk by convention
            key = {k: v for k, v in key.items() if k in ("pk", "pipeline")}
        k = (req.get("TableName"), json.dumps(key, sort_keys=True))
        b = self.keys.setdefault(k, TokenBucket(self.hot_key_wps))
        return b.take(time.monotonic()) > 0

    def before(self, service, operation, body, proto):
        f = self.fractions.get(service, 0)
        hot = service == "dynamodb" and self._hot(operation, body)
        forced = self.force.get(service, 0) > 0
        if forced:
            self.force[service] -= 1
        if not hot and not forced and not (f > 0 and self.rng.random() < f):
            return None
        self.count[service] = self.count.get(service, 0) + 1
        if service in ("dynamodb", "dynamodbstreams"):
            msg = ("Throughput exceeds the current capacity for one or more partitions" if hot
                   else "Rate of requests exceeds the allowed throughput.")
            return 400, [("Content-Type", "application/x-amz-json-1.0"),
                         ("x-amzn-RequestId", _request_id())], json.dumps({
                             "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                             "message": msg}).encode()
        if service == "sqs":
            return AwsModel._sqs_error(proto, "RequestThrottled",
                                       "com.amazonaws.sqs#ThrottlingException",
                                       "Request was denied due to request throttling.")
        if service == "s3":
            return 503, [("Content-Type", "application/xml"), ("Retry-After", "1")], (
                '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please '
                'reduce your request rate.</Message><RequestId>%s</RequestId></Error>'
                % _request_id()).encode()
        return None


class ConcurrencyPool:
    """[pool] The account's concurrent executions: one pool that every reservation
    shrinks. Self-contained: AwsModel asks before() for a refusal or an answer of its own
    and tells after() what succeeded. Called with the model's lock held."""

    def __init__(self, limit=1000, minimum=100):
        self.limit = limit
        self.minimum = minimum
        self.reserved = {}      # function name -> ReservedConcurrentExecutions
        self.refused = []       # (function name, asked) of every refusal

    def unreserved(self):
        return self.limit - sum(self.reserved.values())

    def settings(self, function_count):
        return {"AccountLimit": {"ConcurrentExecutions": self.limit,
                                 "UnreservedConcurrentExecutions": self.unreserved(),
                                 "TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000,
                                 "CodeSizeZipped": 52428800},
                "AccountUsage": {"FunctionCount": function_count, "TotalCodeSize": 0}}

    def before(self, operation, name, body, function_count):
        """(status, headers, data) in moto's place, or None to forward."""
        if operation == "GetAccountSettings":
            return 200, [("Content-Type", "application/json"),
                         ("x-amzn-RequestId", _request_id())], \
                json.dumps(self.settings(function_count)).encode()
        if operation == "PutFunctionConcurrency" and name:
            asked = (_json(body) or {}).get("ReservedConcurrentExecutions")
            if not isinstance(asked, int) or asked < 0:
                return None     # moto validates the value itself
            others = sum(v for k, v in self.reserved.items() if k != name)
            if self.limit - others - asked < self.minimum:
                self.refused.append((name, asked))
                return lambda_error(400, "InvalidParameterValueException",
                                    "Specified ReservedConcurrentExecutions for function decreases "
                                    "account's UnreservedConcurrentExecution below its minimum "
                                    "value of [%d]." % self.minimum)
        return None

    def after(self, operation, name, body):
        """A successful call that changes the pool."""
        if operation == "PutFunctionConcurrency" and name:
            asked = (_json(body) or {}).get("ReservedConcurrentExecutions")
            if isinstance(asked, int):
                self.reserved[name] = asked
        elif operation in ("DeleteFunctionConcurrency", "DeleteFunction") and name:
            self.reserved.pop(name, None)


class _ModelHandler(_Handler):

    def _dispatch(self):
        try:
            if not self.path.startswith("/__proxy/"):
                service, operation = classify(self.command, self.path, self.headers, b"")
                if service == "s3" and operation in STREAMED:
                    entry, rule = self.proxy._record(self.command, self.path, service, operation)
                    if self._refused(service, operation, b"", entry, unread=True):
                        return
                    if rule is None:
                        self._stream(entry)
                    else:   # faults need the whole body: the buffered path
                        self._proxy_recorded(self._read_body(), service, operation, entry, rule)
                    return
            super()._dispatch()
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch

    # -- S3 bodies in pieces: memory stays flat whatever the object size.
    def _stream(self, entry):
        p = self.proxy
        conn = http.client.HTTPConnection(p.upstream_host, p.upstream_port,
                                          timeout=p.upstream_timeout)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in HOP_HEADERS:
                    conn.putheader(k, v)
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            length = int(self.headers.get("Content-Length") or 0)
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            elif length or self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(length))
            conn.endheaders()
            if chunked:
                self._relay_chunked_request(conn)
            else:
                left = length
                while left > 0:
                    piece = self.rfile.read(min(PIECE, left))
                    if not piece:
                        raise ConnectionResetError("client body ended early")
                    conn.send(piece)
                    left -= len(piece)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            p._finish(entry, 502)
            self.close_connection = True
            self._send(502, [("Content-Type", "text/plain")],
                       ("awsmodel: upstream: %s\n" % e).encode())
            return
        try:
            p._finish(entry, resp.status)
            self.send_response_only(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in HOP_HEADERS:
                    self.send_header(k, v)
            length = resp.getheader("Content-Length")
            bodyless = self.command == "HEAD" or resp.status < 200 or resp.status in (204, 304)
            if bodyless:
                if length is not None and self.command == "HEAD":
                    self.send_header("Content-Length", length)
                self.end_headers()
            elif length is not None:
                self.send_header("Content-Length", length)
                self.end_headers()
                while True:
                    piece = resp.read(PIECE)
                    if not piece:
                        break
                    self.wfile.write(piece)
            else:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                while True:
                    piece = resp.read(PIECE)
                    if not piece:
                        break
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        finally:
            conn.close()

    def _relay_chunked_request(self, conn):
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass    # trailers
                conn.send(b"0\r\n\r\n")
                return
            while size > 0:
                piece = self.rfile.read(min(PIECE, size))
                if not piece:
                    raise ConnectionResetError("client body ended early")
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                size -= len(piece)
            self.rfile.readline()

    # -- the model: answer before moto, or rewrite moto's answer.
    def _proxy_recorded(self, body, service, operation, entry, rule):
        self._undo = None
        self._storage = None
        self._t0 = time.time()      # lists are judged as of the moment they were asked
        try:
            self._model_proxy(body, service, operation, entry, rule)
        finally:
            if self._undo:      # moto never answered: give the reserved update back
                self.proxy._undo_update(self._undo)
                self._undo = None

    def _refused(self, service, operation, body, entry, unread=False):
        """IAM (iamlayer.py, when the layer has one): answer a refusal and say so."""
        iam = self.proxy.iam
        if iam is None:
            return False
        denied = iam.authorize(service, operation, self.command, self.path, self.headers, body)
        if denied is None:
            return False
        status, headers, data = denied
        with self.proxy._lock:
            entry["status"] = status
            entry["fault"] = "iam"
        if unread:      # the body is still on the connection: it cannot carry another request
            self.close_connection = True
        self._send(status, headers, data)
        return True

    def _model_proxy(self, body, service, operation, entry, rule):
        if self._refused(service, operation, body, entry):
            return
        # A rule that answers in moto's place (status, reset, garbage, truncate...) wins;
        # one that only delays or corrupts lets the request reach the model.
        if rule is None or rule["kind"] in ("delay", "stall", "corrupt_body"):
            pre = self.proxy._before(self, service, operation, body)
            if pre is not None:
                status, headers, data = pre
                with self.proxy._lock:
                    entry["status"] = status
                    entry["fault"] = "model"
                    entry["answered"] = time.time()
                self._send(status, headers, data)
                return
        super()._proxy_recorded(body, service, operation, entry, rule)

    def _answer(self, service, operation, body, status, reason, headers, data):
        return self.proxy._after(self, service, operation, body, status, reason, headers, data)

    def _control(self, body):
        what = self.path[len("/__proxy/"):].split("?")[0].strip("/")
        if what == "model" and self.command == "GET":
            out = {"throttled": self.proxy.lambda_throttled(),
                   "violations": self.proxy.violations()}
            self._send(200, [("Content-Type", "application/json")], json.dumps(out).encode())
            return
        if what == "model/reset" and self.command == "POST":
            self.proxy.reset_model()
            self._send(200, [("Content-Type", "application/json")], b'{"ok": true}')
            return
        super()._control(body)


class _CodeAndMetrics:
    """[codever] and [metrics], mixed into AwsModel.

    [codever] moto ignores S3ObjectVersion and deploys the latest object; AWS
    deploys the version asked for ("S3ObjectVersion: For versioned objects,
    the version of the deployment package object to use",
    https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html).
    A CreateFunction/UpdateFunctionCode naming a version gets that version's
    CodeSha256, and the function keeps reporting it.

    [metrics] Lambda publishes Invocations, Errors and Throttles (AWS/Lambda,
    dimension FunctionName) per minute; SQS publishes
    ApproximateNumberOfMessagesVisible (AWS/SQS, QueueName)
    (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html,
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html).
    moto has no traffic, so play_traffic() plays it: every period each
    function gets `per_period` invocations, all of them errors while its code
    is marked broken (mark_broken), and its DLQ (dlq_of(name)) grows by the
    failed ones; points are written `delay_s` late (Lambda's publishing
    delay), stamped with the period they belong to, into moto's CloudWatch.
    Functions named in idle() get no traffic at all."""

    def _requested_version_sha(self, service, operation, body, status):
        if service != "lambda" or operation not in ("CreateFunction", "UpdateFunctionCode") \
                or not 200 <= status < 300:
            return None
        req = _json(body) or {}
        code = req.get("Code") or {} if operation == "CreateFunction" else req
        if not code.get("S3ObjectVersion") or not code.get("S3Bucket"):
            return None
        st, data = self._upstream("GET", "/%s/%s?versionId=%s" % (
            urllib.parse.quote(code["S3Bucket"]), urllib.parse.quote(code["S3Key"]),
            urllib.parse.quote(code["S3ObjectVersion"])))
        return base64.b64encode(hashlib.sha256(data).digest()).decode() if st == 200 else None

    def _note_code(self, h, fn, out):
        if fn is None:
            return
        fn.code_sha = getattr(h, "_version_sha", None)
        if fn.code_sha:
            out["CodeSha256"] = fn.code_sha
        fn.sha = out.get("CodeSha256")

    def code_sha_of(self, name):
        with self._mlock:
            fn = self._fns.get(name)
            return getattr(fn, "sha", None) if fn else None

    def mark_broken(self, sha):
        """Functions running code with this CodeSha256 fail every invocation."""
        with self._mlock:
            self.__dict__.setdefault("_broken", set()).add(sha)

    def idle(self, *names):
        with self._mlock:
            self.__dict__.setdefault("_idle", set()).update(names)

    def play_traffic(self, period_s=1.0, per_period=20, delay_s=0.0, dlq_of=None):
        self.stop_traffic()
        self._traffic_stop = threading.Event()
        self._dlq_depth = {}
        t = threading.Thread(target=self._traffic_loop, daemon=True,
                             args=(period_s, per_period, delay_s, dlq_of, self._traffic_stop))
        self._traffic = t
        t.start()
        return self

    def stop_traffic(self):
        t = getattr(self, "_traffic", None)
        if t is not None:
            self._traffic_stop.set()
            t.join(10)
            self._traffic = None

    def _traffic_loop(self, period_s, per, delay_s, dlq_of, stop):
        pending = []    # (publish_at, points)
        start = math.floor(time.time() / period_s) * period_s
        k = 0
        while not stop.is_set():
            k += 1
            period_end = start + k * period_s
            stop.wait(max(0.0, period_end - time.time()))
            with self._mlock:
                broken = set(self.__dict__.get("_broken", ()))
                idle = set(self.__dict__.get("_idle", ()))
                fns = [(n, getattr(f, "sha", None)) for n, f in self._fns.items() if n not in idle]
            stamp = period_end - period_s
            points = []
            for name, sha in fns:
                errors = per if sha in broken else 0
                points.append(("AWS/Lambda", "FunctionName", name, "Invocations", per))
                points.append(("AWS/Lambda", "FunctionName", name, "Errors", errors))
                points.append(("AWS/Lambda", "FunctionName", name, "Throttles", 0))
                if dlq_of is not None:
                    q = dlq_of(name)
                    self._dlq_depth[q] = self._dlq_depth.get(q, 0) + errors
                    points.append(("AWS/SQS", "QueueName", q, "ApproximateNumberOfMessagesVisible",
                                   self._dlq_depth[q]))
            pending.append((time.time() + delay_s, stamp, points))
            while pending and pending[0][0] <= time.time():
                _, ts, pts = pending.pop(0)
                self._put_metrics(ts, pts)

    def _put_metrics(self, ts, points):
        by_ns = {}
        for p in points:
            by_ns.setdefault(p[0], []).append(p)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
        for ns, pts in by_ns.items():
            for i in range(0, len(pts), 500):
                form = [("Action", "PutMetricData"), ("Version", "2010-08-01"), ("Namespace", ns)]
                for j, (_, dim, val, metric, value) in enumerate(pts[i:i + 500], 1):
                    m = "MetricData.member.%d." % j
                    form += [(m + "MetricName", metric), (m + "Value", str(value)),
                             (m + "Timestamp", stamp), (m + "Dimensions.member.1.Name", dim),
                             (m + "Dimensions.member.1.Value", val)]
                conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port,
                                                  timeout=self.upstream_timeout)
                try:
                    conn.request("POST", "/", body=urllib.parse.urlencode(form),
                                 headers={"Authorization": CW_AUTH,
                                          "Content-Type": "application/x-www-form-urlencoded"})
                    conn.getresponse().read()
                except OSError:
                    pass
                finally:
                    conn.close()


class AwsModel(_CodeAndMetrics, FaultProxy):
    """FaultProxy plus the AWS behaviours moto lacks (see the module docstring)."""

    handler_class = _ModelHandler

    def __init__(self, upstream_endpoint, scale=0.02, fn_pending_s=5, fn_update_s=5,
                 esm_transition_s=5, queue_deleted_recently_s=60, list_lag_s=10,
                 lambda_rps=15, lambda_get_rps=100, lambda_policy_rps=15,
                 throttle_fraction=0.0, seed=1, paginate=True, table_create_s=0, iam=None,
                 count_lag_s=0,
                 account_concurrency=1000, unreserved_min=100, queue_ready_s=0, role_ready_s=0,
                 stream_enable_s=0, today=None, other_throttle_fraction=None, hot_key_wps=0,
                 **kw):
        super().__init__(upstream_endpoint, **kw)
        self.iam = iam                    # iamlayer.IamEnforcer: IAM as AWS enforces it
        if iam is not None:
            iam.proxy = self
        self.lineage = ShardLineage(self._streams_upstream)    # [lineage]
        self.stream_enable_s = stream_enable_s     # [tblupd]
        self.today = today                         # [runtime]
        self.other_throttle_fraction = other_throttle_fraction or {}    # [throttle]
        self.hot_key_wps = hot_key_wps
        self.queue_ready_s = queue_ready_s     # [fresh]
        self.role_ready_s = role_ready_s
        self.account_concurrency = account_concurrency     # [pool]
        self.unreserved_min = unreserved_min
        self.scale = scale
        self.count_lag_s = count_lag_s
        self.table_create_s = table_create_s
        self.fn_pending_s = fn_pending_s
        self.fn_update_s = fn_update_s
        self.esm_transition_s = esm_transition_s
        self.queue_deleted_recently_s = queue_deleted_recently_s
        self.list_lag_s = list_lag_s
        self.lambda_rps = lambda_rps
        self.lambda_get_rps = lambda_get_rps
        self.lambda_policy_rps = lambda_policy_rps
        self.throttle_fraction = throttle_fraction
        self.seed = seed
        self.paginate = paginate
        self._mlock = threading.RLock()   # the model; never held while waiting on moto
        self.reset_model()

    # ---------------------------------------------------------------- public API
    def reset_model(self):
        """Forget every modelled function, mapping, queue, counter and history."""
        with self._mlock:
            self._fns = {}              # name -> _Fn
            self._fails = {}            # (name, "create"|"update") -> (reason, code)
            self._esms = {}             # uuid -> _Esm
            self._reserved = {}         # function name -> reserved concurrency
            self._history = {}          # function name -> [(t, bound)]
            self._deleted_queues = {}   # queue name -> time deleted
            self._fresh = {}            # ("sqs"|"lambda", name) -> time created or tagged
            self._tables = {}           # table name -> time it becomes ACTIVE [table]
            self._counts = {}           # queue name -> [(t, {count: "n"})], oldest first [counts]
            self._throttled = 0
            self.pool = ConcurrencyPool(self.account_concurrency, self.unreserved_min)   # [pool]
            self.fresh = FreshResources(self._d(self.queue_ready_s), self._d(self.role_ready_s))
            self.enabling = StreamEnabling(self._d(self.stream_enable_s))     # [tblupd]
            self.runtimes = RuntimeLifecycle(self.today)                       # [runtime]
            self.throttles = ServiceThrottle(self.other_throttle_fraction, self.hot_key_wps,
                                             random.Random(self.seed + 1))    # [throttle]
            self._runtime_of = {}       # function name -> Runtime (as last set)
            self._violations = []
            self._rng = random.Random(self.seed)
            # [quotas]: one bucket per limit, shared by every client; burst = rate.
            self._buckets = {"control": TokenBucket(self.lambda_rps),
                             "GetFunction": TokenBucket(self.lambda_get_rps),
                             "GetPolicy": TokenBucket(self.lambda_policy_rps)}

    def fail_function(self, name, reason="Modelled failure.", on="create",
                      code="InternalError"):
        """The function ends its create (State Failed) or update (LastUpdateStatus
        Failed) with reason/code once that transition ends. Applies to the transition in
        progress, else to the next one of that kind."""
        if on not in ("create", "update"):
            raise ValueError("on must be 'create' or 'update'")
        now = time.time()
        with self._mlock:
            fn = self._fns.get(name)
            if on == "create" and fn and now < fn.pending_until:
                fn.create_fail = (reason, code)
            elif on == "update" and fn and fn.updated and now < fn.update_until:
                fn.update_fail = (reason, code)
            else:
                self._fails[(name, on)] = (reason, code)

    def function_state(self, name):
        """The modelled State/LastUpdateStatus fields of a function, or None."""
        with self._mlock:
            fn = self._fns.get(name)
            return fn.state(time.time()) if fn else None

    def mapping_state(self, mapping_uuid):
        """The modelled State of a mapping, or None once it is gone/unknown."""
        with self._mlock:
            self._settle(time.time())
            m = self._esms.get(mapping_uuid)
            return m.state if m else None

    def limit_history(self, function_name_):
        """[(t, bound)] after every successful change affecting the function's
        concurrency: bound 0 = no enabled mapping, None = unlimited, else
        min(reserved concurrency, MaximumConcurrency) of what is set."""
        with self._mlock:
            self._settle(time.time())
            return list(self._history.get(function_name_, []))

    def max_bound(self, function_name_):
        """Largest bound in the history (None if unlimited at some point; 0 if none)."""
        h = self.limit_history(function_name_)
        if any(b is None for _, b in h):
            return None
        return max((b for _, b in h), default=0)

    def lambda_throttled(self):
        """How many 429 TooManyRequestsException the limiter (and chaos) answered."""
        with self._mlock:
            return self._throttled

    def violations(self):
        """[{time, service, operation, target, rule, ...}] requests that broke a modelled
        rule and were refused (409/400), e.g. an update while InProgress."""
        with self._mlock:
            return [dict(v) for v in self._violations]

    # ---------------------------------------------------------------- internals
    def _d(self, aws_seconds):
        return aws_seconds * self.scale

    def _violate(self, now, service, operation, target, rule, **extra):
        v = {"time": now, "service": service, "operation": operation, "target": target,
             "rule": rule}
        v.update(extra)
        self._violations.append(v)

    def _bound(self, fn):
        contrib = []
        for m in self._esms.values():
            if m.fn == fn:
                enabled, maxc = m.loosest()
                if enabled:
                    contrib.append(maxc)
        if not contrib:
            return 0
        mbound = None if any(c is None for c in contrib) else sum(contrib)
        vals = [v for v in (self._reserved.get(fn), mbound) if v is not None]
        return min(vals) if vals else None

    def _note_bound(self, fn, t):
        if fn:
            self._history.setdefault(fn, []).append((t, self._bound(fn)))

    def _settle(self, now):
        """End every mapping transition whose time has come (in time order)."""
        due = sorted((m.until, m.uuid) for m in self._esms.values()
                     if m.state in ESM_TRANSITIONAL and m.until <= now)
        for until, u in due:
            m = self._esms[u]
            if m.state == "Deleting":
                del self._esms[u]
            else:
                m.cur = m.target
                m.state = m.settled_state()
            self._note_bound(m.fn, until)

    def _throttle(self, operation, now):
        """Retry-After seconds (int >= 1) when this Lambda call is over its limit."""
        if operation in NOT_RATE_LIMITED:
            return None
        bucket = self._buckets.get(operation, self._buckets["control"])
        wait = bucket.take(time.monotonic())
        if wait <= 0 and self.throttle_fraction > 0 and self._rng.random() < self.throttle_fraction:
            wait = 1.0
        if wait <= 0:
            return None
        self._throttled += 1
        return max(1, int(math.ceil(wait)))

    @staticmethod
    def _sqs_params(h, body):
        """(params dict, "json"|"query") of an SQS request."""
        ctype = h.headers.get("Content-Type", "")
        if "x-amz-json" in ctype or h.headers.get("X-Amz-Target"):
            return _json(body) or {}, "json"
        q = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        q.update(urllib.parse.parse_qs(h.path.partition("?")[2]))
        return {k: v[0] for k, v in q.items()}, "query"

    @staticmethod
    def _queue_name(params):
        if params.get("QueueName"):
            return params["QueueName"]
        url = params.get("QueueUrl") or ""
        return url.rstrip("/").rsplit("/", 1)[-1] if url else None

    def _before(self, h, service, operation, body):
        """An answer the model gives instead of moto, or None to forward."""
        if service == "dynamodbstreams" and operation in ("GetShardIterator", "GetRecords"):
            ans = self.lineage.before(operation, body)     # [lineage], asks moto: no lock
            if ans is not None:
                return ans
        now = time.time()
        path = h.path.split("?")[0]
        with self._mlock:
            self._settle(now)
            if service in ("sqs", "dynamodb", "dynamodbstreams", "s3") and \
                    (self.other_throttle_fraction or self.hot_key_wps or self.throttles.force):
                proto = self._sqs_params(h, body)[1] if service == "sqs" else None
                ans = self.throttles.before(service, operation, body, proto)
                if ans is not None:
                    return ans
            if service in ("sqs", "lambda") and (self.fresh.queues or self.fresh.roles):   # [fresh]
                params = self._sqs_params(h, body)[0] if service == "sqs" else (_json(body) or {})
                refused = self.fresh.before(
                    service, operation, params, now,
                    lambda q, j, m: self._sqs_error(self._sqs_params(h, body)[1], q, j, m))
                if refused:
                    self._violate(now, service, operation, self.fresh.refused[-1][1], "not ready yet")
                    return refused
            if service == "lambda":
                return self._lambda_before(h, operation, path, body, now)
            if service == "dynamodb" and operation == "UpdateTable":     # [tblupd]
                return self.enabling.before(operation, _json(body) or {}, now)
            if service == "dynamodb" and operation in DDB_DATA_PLANE:
                return self._ddb_before(operation, body, now)
            if service == "sqs" and operation == "ListQueues" and self.paginate:
                params, proto = self._sqs_params(h, body)
                try:
                    page_offset(params.get("NextToken"))
                except ValueError:
                    return self._sqs_error(proto, "InvalidParameterValue",
                                           "com.amazonaws.sqs#InvalidParameterValueException",
                                           "Invalid NextToken value.")
            if service == "sqs" and operation == "CreateQueue":
                params, proto = self._sqs_params(h, body)
                name = self._queue_name(params)
                gone = self._deleted_queues.get(name)     # [qdr]
                if gone is not None and now - gone < self._d(self.queue_deleted_recently_s):
                    self._violate(now, service, operation, name, "QueueDeletedRecently")
                    return self._sqs_deleted_recently(proto)
        return None

    def _lambda_before(self, h, operation, path, body, now):
        retry = self._throttle(operation, now)
        if retry:
            # [429]
            return lambda_error(429, "TooManyRequestsException", "Rate exceeded",
                                {"Reason": "CallerRateLimitExceeded"},
                                [("Retry-After", str(retry))])
        if self.paginate and operation in ("ListFunctions", "ListEventSourceMappings"):
            q = urllib.parse.parse_qs(h.path.partition("?")[2])
            try:
                page_offset(q.get("Marker", [""])[0])
                if not 1 <= int(q.get("MaxItems", ["1"])[0]) <= 10000:
                    raise ValueError("MaxItems out of range")
            except ValueError as e:
                return lambda_error(400, "InvalidParameterValueException",
                                    "Invalid pagination parameter: %s" % e)
        if operation in ("CreateFunction", "UpdateFunctionCode"):
            refused = self._storage_request(h, operation, body)
            if refused:
                return refused
        m = _FN_PATH.match(path)
        name = function_name(m.group(1)) if m else None
        refused = self.runtimes.before(operation, body, self._runtime_of.get(name))   # [runtime]
        if refused:
            self._violate(now, "lambda", operation, name, "runtime blocked")
            return refused
        refused = self.pool.before(operation, name, body, len(self._fns))     # [pool]
        if refused:
            if refused[0] >= 400:
                self._violate(now, "lambda", operation, name, "concurrency pool")
            return refused
        fn = self._fns.get(name) if name else None
        if fn is not None:
            st = fn.state(now)
            arn_hint = fn.arn or "function:%s" % name
            if operation in BLOCKED_PENDING and st["State"] in ("Pending", "Failed"):
                # [states]: these fail while Pending; a Failed function "must be
                # deleted and recreated".
                self._violate(now, "lambda", operation, name, "function " + st["State"])
                return lambda_error(409, "ResourceConflictException",
                                    "The operation cannot be performed at this time. The function "
                                    "is currently in the following state: %s" % st["State"])
            if operation in BLOCKED_UPDATING and st.get("LastUpdateStatus") == "InProgress":
                # [states]: one update at a time.
                self._violate(now, "lambda", operation, name, "update InProgress")
                return lambda_error(409, "ResourceConflictException",
                                    "The operation cannot be performed at this time. An update is "
                                    "in progress for resource: %s" % arn_hint)
            if operation in UPDATES:
                # [states]: LastUpdateStatus InProgress for fn_update_s. Reserve the transition now so a racing update is refused; undone in
                # _after if moto refuses the request.
                h._undo = (fn, fn.updated, fn.update_until, fn.update_fail)
                fn.updated = True
                fn.update_until = now + self._d(self.fn_update_s)
                fn.update_fail = self._fails.pop((name, "update"), None)
        m = _ESM_PATH.match(path)
        esm = self._esms.get(urllib.parse.unquote(m.group(1))) if m else None
        if esm is not None:
            if operation in ("UpdateEventSourceMapping", "DeleteEventSourceMapping") \
                    and esm.state in ESM_TRANSITIONAL:
                # [esm]: ResourceInUseException, HTTP 400 in the Lambda API model.
                self._violate(now, "lambda", operation, esm.uuid, "mapping " + esm.state)
                return lambda_error(400, "ResourceInUseException",
                                    "Cannot %s the event source mapping because it is in use "
                                    "(state %s)." % ("update" if operation.startswith("Update")
                                                     else "delete", esm.state))
            if operation == "GetEventSourceMapping" and esm.state == "Deleting":
                # moto has already forgotten it; AWS still shows it for a while [esm].
                cfg = dict(esm.config, State="Deleting")
                return 200, [("Content-Type", "application/json"),
                             ("x-amzn-RequestId", _request_id())], json.dumps(cfg).encode()
        return None

    def _table_creating(self, name, now):
        until = self._tables.get(name)
        return until is not None and now < until

    def _ddb_before(self, operation, body, now):
        """[table]: reads and writes on a CREATING table are refused."""
        params = _json(body) or {}
        names = [params.get("TableName")]
        names += list((params.get("RequestItems") or {}).keys())
        for t in params.get("TransactItems") or []:
            for v in t.values():
                names.append(v.get("TableName") if isinstance(v, dict) else None)
        for name in names:
            if name and self._table_creating(name, now):
                self._violate(now, "dynamodb", operation, name, "table CREATING")
                return 400, [("Content-Type", "application/x-amz-json-1.0"),
                             ("x-amzn-RequestId", _request_id())], json.dumps({
                                 "__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                                 "message": "Requested resource not found"}).encode()
        return None

    def _ddb_after(self, operation, body, data, now):
        """[table]: CreateTable starts CREATING; DescribeTable, CreateTable and
        DescribeStream show CREATING/ENABLING until the table's time has come."""
        out = _json(data)
        if out is None:
            return None
        if self.enabling.after(operation, _json(body) or {}, out, now):     # [tblupd]
            return json.dumps(out).encode()
        if operation == "CreateTable" and self.table_create_s > 0:
            name = (out.get("TableDescription") or {}).get("TableName")
            if name:
                self._tables[name] = now + self._d(self.table_create_s)
        if operation in ("CreateTable", "DescribeTable"):
            desc = out.get("TableDescription") or out.get("Table")
            if desc and self._table_creating(desc.get("TableName"), now):
                desc["TableStatus"] = "CREATING"
                return json.dumps(out).encode()
        if operation == "DescribeStream":
            desc = out.get("StreamDescription") or {}
            if self._table_creating(desc.get("TableName"), now):
                desc["StreamStatus"] = "ENABLING"
                desc["Shards"] = []
                return json.dumps(out).encode()
        return None

    # [selfref] ------------------------------------------------------------
    def _upstream(self, method, path):
        """A request to moto's S3 (which checks no signature, only that there is one):
        (status, body)."""
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port,
                                          timeout=self.upstream_timeout)
        try:
            conn.request(method, path, headers={"Authorization": S3_AUTH})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def role_created(self, role_arn):
        """[fresh] A role created now (outside the layer): CreateFunction refuses it for
        role_ready_s."""
        with self._mlock:
            self.fresh.role_created(role_arn, time.time())

    def roll_stream(self, stream_arn):
        """[lineage] Close the stream's newest shard after the last record so far and open
        its child; returns the cut (a sequence number)."""
        return self.lineage.roll(stream_arn)

    def _streams_upstream(self, operation, params):
        """A DynamoDB Streams call to moto (which checks no signature, only the scope):
        (status, parsed answer)."""
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port,
                                          timeout=self.upstream_timeout)
        try:
            conn.request("POST", "/", body=json.dumps(params).encode(), headers={
                "Authorization": S3_AUTH.replace("/s3/", "/dynamodb/"),
                "X-Amz-Target": "DynamoDBStreams_20120810." + operation,
                "Content-Type": "application/x-amz-json-1.0"})
            resp = conn.getresponse()
            return resp.status, _json(resp.read())
        finally:
            conn.close()

    def bucket_versioned(self, bucket):
        st, data = self._upstream("GET", "/%s?versioning" % urllib.parse.quote(bucket))
        return st == 200 and b"<Status>Enabled</Status>" in data

    def object_readable(self, bucket, key, version):
        st, _ = self._upstream("HEAD", "/%s/%s?versionId=%s" % (
            urllib.parse.quote(bucket), urllib.parse.quote(key), urllib.parse.quote(version)))
        return st == 200

    def _storage_request(self, h, operation, body):
        """Check S3ObjectStorageMode; remember what the request asks in h._storage."""
        req = _json(body) or {}
        code = req.get("Code") or {} if operation == "CreateFunction" else req
        mode = code.get("S3ObjectStorageMode")
        if mode not in (None, "COPY", "REFERENCE"):
            return lambda_error(400, "ValidationException",
                                "1 validation error detected: Value '%s' at 'S3ObjectStorageMode' "
                                "failed to satisfy constraint: Member must satisfy enum value set: "
                                "[COPY, REFERENCE]" % mode)
        if mode != "REFERENCE":
            h._storage = ("COPY", None)      # omitted on an update: back to COPY
            return None
        bucket, key, version = code.get("S3Bucket"), code.get("S3Key"), code.get("S3ObjectVersion")
        if not bucket or not key or not version:
            return lambda_error(400, "InvalidParameterValueException",
                                "S3ObjectStorageMode REFERENCE requires S3Bucket, S3Key and "
                                "S3ObjectVersion.")
        if not self.bucket_versioned(bucket):
            return lambda_error(400, "InvalidParameterValueException",
                                "S3ObjectStorageMode REFERENCE requires versioning on bucket %s."
                                % bucket)
        h._storage = ("REFERENCE", (bucket, key, version))
        return None

    def _note_storage(self, h, fn):
        if fn is not None and getattr(h, "_storage", None):
            fn.storage, fn.ref = h._storage
            fn.ref_gone = False
            fn.ref_lost = None

    def lose_reference(self, name, code="KMSKeyAccessDenied",
                       reason="Lambda was unable to decrypt the function's code object: access "
                              "to the KMS key was denied."):
        """[selfref] Lambda loses access to a REFERENCE function's code (a bucket policy
        or KMS change): State Inactive with this code until an update re-references it."""
        with self._mlock:
            fn = self._fns.get(name)
            if fn is None or fn.storage != "REFERENCE":
                raise ValueError("%s is not a REFERENCE function of the model" % name)
            fn.ref_lost = (code, reason)

    @staticmethod
    def _resolved(out, fn):
        """[selfref] GetFunction's Code: ResolvedS3Object for REFERENCE only."""
        code = out.get("Code")
        if not isinstance(code, dict):
            return
        code.pop("ResolvedS3Object", None)
        if fn is not None and fn.storage == "REFERENCE" and fn.ref:
            code["ResolvedS3Object"] = {"S3Bucket": fn.ref[0], "S3Key": fn.ref[1],
                                        "S3ObjectVersion": fn.ref[2]}

    def check_references(self):
        """Mark REFERENCE functions whose object version is gone Inactive (also done on
        every GetFunction/GetFunctionConfiguration). Returns the Inactive names."""
        with self._mlock:
            refs = [(n, f.ref) for n, f in self._fns.items() if f.ref and not f.ref_gone]
        gone = [n for n, ref in refs if not self.object_readable(*ref)]
        with self._mlock:
            for n in gone:
                if n in self._fns:
                    self._fns[n].ref_gone = True
            return sorted(n for n, f in self._fns.items() if f.ref_gone)

    def storage_of(self, name):
        """(S3ObjectStorageMode, (bucket, key, version) or None) of a function, or None."""
        with self._mlock:
            fn = self._fns.get(name)
            return (fn.storage, fn.ref) if fn else None

    def _undo_update(self, undo):
        with self._mlock:
            fn, updated, until, fail = undo
            fn.updated, fn.update_until, fn.update_fail = updated, until, fail

    def _sqs_deleted_recently(self, proto):
        return self._sqs_error(proto, "AWS.SimpleQueueService.QueueDeletedRecently",
                               "com.amazonaws.sqs#QueueDeletedRecently",
                               "You must wait 60 seconds after deleting a queue before you can "
                               "create another queue with the same name.")

    @staticmethod
    def _sqs_error(proto, query_code, json_type, msg):
        """An SQS client error (400) in the request's protocol [sqsjson]."""
        if proto == "json":
            return 400, [("Content-Type", "application/x-amz-json-1.0"),
                         ("x-amzn-query-error", query_code + ";Sender"),
                         ("x-amzn-RequestId", _request_id())], \
                json.dumps({"__type": json_type, "message": msg}).encode()
        xml = ('<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/'
               '2012-11-05/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message>'
               '<Detail/></Error><RequestId>%s</RequestId></ErrorResponse>'
               % (query_code, msg, _request_id()))
        return 400, [("Content-Type", "text/xml")], xml.encode()

    # [counts] -------------------------------------------------------------
    def _moto_counts(self, url):
        """moto's Approximate* counts of a queue now (a request of the model's own), or None."""
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port,
                                          timeout=self.upstream_timeout)
        try:
            conn.request("POST", "/", body=json.dumps({"QueueUrl": url,
                                                       "AttributeNames": list(SQS_COUNTS)}),
                         headers={"Authorization": SQS_AUTH,
                                  "Content-Type": "application/x-amz-json-1.0",
                                  "X-Amz-Target": "AmazonSQS.GetQueueAttributes"})
            resp = conn.getresponse()
            out = _json(resp.read()) if resp.status == 200 else None
        finally:
            conn.close()
        attrs = (out or {}).get("Attributes")
        return {k: attrs.get(k, "0") for k in SQS_COUNTS} if attrs else None

    def _note_counts(self, name, t, counts):
        with self._mlock:
            hist = self._counts.setdefault(name, [])
            hist.append((t, counts))
            # keep one sample older than the lag (the one answered), drop the rest
            old = t - self._d(self.count_lag_s)
            while len(hist) > 1 and hist[1][0] <= old:
                hist.pop(0)

    def _lagged_counts(self, name, now):
        """The counts as they were count_lag_s ago [counts]."""
        old = now - self._d(self.count_lag_s)
        with self._mlock:
            hist = self._counts.get(name) or []
            best = None
            for t, c in hist:
                if t <= old:
                    best = c
            if best is None and hist:
                best = hist[0][1]
            return best

    def queue_counts_history(self, name):
        """[(t, {count: "n"})] the model sampled of a queue (tests)."""
        with self._mlock:
            return list(self._counts.get(name) or [])

    def _counts_after(self, h, operation, body, data):
        """Sample after a change; answer GetQueueAttributes with lagged counts."""
        params, proto = self._sqs_params(h, body)
        name = self._queue_name(params)
        if proto != "json" or not name:
            return data
        now = time.time()
        if operation == "CreateQueue":
            self._note_counts(name, now, {k: "0" for k in SQS_COUNTS})
        elif operation == "DeleteQueue":
            with self._mlock:
                self._counts.pop(name, None)
        elif operation in SQS_COUNT_OPS:
            url = params.get("QueueUrl")
            counts = self._moto_counts(url) if url else None
            if counts is not None:
                self._note_counts(name, now, counts)
        elif operation == "GetQueueAttributes":
            out = _json(data)
            attrs = (out or {}).get("Attributes")
            if not attrs or not any(k in attrs for k in SQS_COUNTS):
                return data
            self._note_counts(name, now, {k: attrs.get(k, "0") for k in SQS_COUNTS})
            lagged = self._lagged_counts(name, now)
            for k in SQS_COUNTS:
                if k in attrs and lagged is not None:
                    attrs[k] = lagged[k]
            return json.dumps(out).encode()
        return data

    def _after(self, h, service, operation, body, status, reason, headers, data):
        """moto's answer rewritten as AWS would send it; model updated on success."""
        now = time.time()
        path = h.path.split("?")[0]
        if service == "sqs" and self.count_lag_s and 200 <= status < 300:
            data = self._counts_after(h, operation, body, data)   # outside the lock [counts]
        if service == "lambda" and operation in ("GetFunction", "GetFunctionConfiguration") \
                and 200 <= status < 300:
            m = _FN_PATH.match(path)
            fn = self._fns.get(function_name(m.group(1))) if m else None
            if fn is not None and fn.ref and not fn.ref_gone \
                    and not self.object_readable(*fn.ref):     # [selfref], outside the lock
                with self._mlock:
                    fn.ref_gone = True
        h._version_sha = self._requested_version_sha(service, operation, body, status)  # [codever]
        with self._mlock:
            undo, h._undo = h._undo, None
            if not 200 <= status < 300:
                if undo:
                    self._undo_update(undo)
                return status, reason, headers, data
            if service in ("sqs", "iam"):     # [fresh]
                params = self._sqs_params(h, body)[0]
                self.fresh.after(service, operation, params, now)
            if service == "lambda":
                new = self._lambda_after(h, operation, path, body, data, now)
            elif service == "sqs":
                new = self._sqs_after(h, operation, body, data, now, h._t0)
            elif service == "tagging" and operation == "GetResources":
                new = self._tagging_after(data, h._t0)
            elif service == "dynamodbstreams" and operation == "DescribeStream" \
                    and self.lineage.describe(data) is not None:
                new = self.lineage.describe(self._ddb_after(operation, body, data, now) or data)
            elif service in ("dynamodb", "dynamodbstreams"):
                new = self._ddb_after(operation, body, data, now)
            else:
                new = None
        if service == "lambda" and operation == "CreateEventSourceMapping" and status == 201:
            status, reason = 202, "Accepted"    # [esm]: AWS answers 202 Accepted, moto 201
        if new is None:
            return status, reason, headers, data
        if service in ("dynamodb", "dynamodbstreams"):
            # the body changed: its CRC32 header must follow (botocore checks it)
            headers = [(k, str(zlib.crc32(new)) if k.lower() == "x-amz-crc32" else v)
                       for k, v in headers]
        return status, reason, headers, new

    @staticmethod
    def _no_empty_layers(cfg):
        """[layers]: no Layers member when the function has none."""
        if isinstance(cfg, dict) and not cfg.get("Layers"):
            cfg.pop("Layers", None)

    def _fn_rewrite(self, cfg, now):
        """Put the modelled state fields into one FunctionConfiguration dict."""
        self._no_empty_layers(cfg)
        if not isinstance(cfg, dict):
            return
        fn = self._fns.get(cfg.get("FunctionName"))
        if fn is None:
            return
        for k in STATE_FIELDS:
            cfg.pop(k, None)
        cfg.update(fn.state(now))
        cfg.pop("S3ObjectStorageMode", None)     # [selfref]: not a configuration field
        if getattr(fn, "code_sha", None):          # [codever]
            cfg["CodeSha256"] = fn.code_sha

    def _lambda_after(self, h, operation, path, body, data, now):
        m = _FN_PATH.match(path)
        name = function_name(m.group(1)) if m else None
        self.pool.after(operation, name, body)     # [pool]
        if operation in ("CreateFunction", "UpdateFunctionConfiguration"):     # [runtime]
            req = _json(body) or {}
            if req.get("Runtime"):
                self._runtime_of[req.get("FunctionName") or name] = req["Runtime"]
        if operation == "CreateFunction":
            out = _json(data)
            if out is None:
                return None
            name = out.get("FunctionName") or (_json(body) or {}).get("FunctionName")
            fn = self._fns[name] = _Fn(now, self._d(self.fn_pending_s))     # [states]
            fn.create_fail = self._fails.pop((name, "create"), None)
            fn.arn = out.get("FunctionArn")
            self._note_storage(h, fn)
            self._note_code(h, fn, out)
            self._fresh[("lambda", name)] = now
            self._fn_rewrite(out, now)
            return json.dumps(out).encode()
        if operation in ("GetFunctionConfiguration", "UpdateFunctionCode",
                         "UpdateFunctionConfiguration"):
            out = _json(data)
            if out is None:
                return None
            if operation == "UpdateFunctionCode":
                self._note_storage(h, self._fns.get(name))
                self._note_code(h, self._fns.get(name), out)
            self._fn_rewrite(out, now)
            return json.dumps(out).encode()
        if operation == "GetFunction":
            out = _json(data)
            if out is None:
                return None
            self._fn_rewrite(out.get("Configuration"), now)
            self._resolved(out, self._fns.get(name))     # [selfref]
            return json.dumps(out).encode()
        if operation == "ListFunctions":
            out = _json(data)
            if out is None:
                return None
            for cfg in out.get("Functions") or []:   # [list]
                for k in STATE_FIELDS:
                    cfg.pop(k, None)
                self._no_empty_layers(cfg)
                known = self._fns.get(cfg.get("FunctionName"))
                cfg.pop("S3ObjectStorageMode", None)     # [selfref]
                if known is not None and getattr(known, "code_sha", None):     # [codever]
                    cfg["CodeSha256"] = known.code_sha
            if self.paginate:       # [pages]
                q = urllib.parse.parse_qs(h.path.partition("?")[2])
                out["Functions"], nxt = paged(out.get("Functions") or [],
                                              q.get("Marker", [""])[0],
                                              q.get("MaxItems", [None])[0], 50)
                out.pop("NextMarker", None)
                if nxt:
                    out["NextMarker"] = nxt
            return json.dumps(out).encode()
        if operation == "DeleteFunction":
            self._fns.pop(name, None)
            self._fresh.pop(("lambda", name), None)
            return None
        if operation == "PutFunctionConcurrency":
            req = _json(body) or {}
            self._reserved[name] = req.get("ReservedConcurrentExecutions")
            self._note_bound(name, now)
            return None
        if operation == "DeleteFunctionConcurrency":
            self._reserved.pop(name, None)
            self._note_bound(name, now)
            return None
        if operation in ("TagResource", "UntagResource"):
            t = _TAG_PATH.match(path)
            key = arn_key(urllib.parse.unquote(t.group(1))) if t else None
            if key:
                self._fresh[key] = now
            return None
        if operation == "CreateEventSourceMapping":
            out = _json(data)
            req = _json(body) or {}
            if out is None or not out.get("UUID"):
                return None
            fn = function_name(out.get("FunctionArn") or req.get("FunctionName"))
            target = (req.get("Enabled", True) is not False,
                      (req.get("ScalingConfig") or {}).get("MaximumConcurrency"))
            esm = _Esm(out["UUID"], fn, dict(out), target, now,     # [esm]: Creating
                       now + self._d(self.esm_transition_s))
            self._esms[esm.uuid] = esm
            self._note_bound(fn, now)
            out["State"] = "Creating"
            out.pop("StateTransitionReason", None)
            out["StateTransitionReason"] = "USER_INITIATED"
            return json.dumps(out).encode()
        if operation in ("UpdateEventSourceMapping", "DeleteEventSourceMapping",
                         "GetEventSourceMapping"):
            e = _ESM_PATH.match(path)
            esm = self._esms.get(urllib.parse.unquote(e.group(1))) if e else None
            out = _json(data)
            if esm is None or out is None:
                return None
            if operation == "UpdateEventSourceMapping":
                req = _json(body) or {}
                enabled, maxc = esm.cur
                new_enabled = req["Enabled"] is not False if "Enabled" in req else enabled
                if "ScalingConfig" in req:
                    maxc = (req.get("ScalingConfig") or {}).get("MaximumConcurrency")
                esm.target = (new_enabled, maxc)
                esm.state = ("Enabling" if new_enabled and not enabled else     # [esm]
                             "Disabling" if enabled and not new_enabled else "Updating")
                esm.until = now + self._d(self.esm_transition_s)
                self._note_bound(esm.fn, now)
            elif operation == "DeleteEventSourceMapping":
                esm.target = (False, esm.cur[1])
                esm.state = "Deleting"
                esm.until = now + self._d(self.esm_transition_s)
                self._note_bound(esm.fn, now)
            esm.config = dict(out)
            out["State"] = esm.state
            return json.dumps(out).encode()
        if operation == "ListEventSourceMappings":
            out = _json(data)
            if out is None:
                return None
            listed = out.get("EventSourceMappings") or []
            seen = set()
            for cfg in listed:
                esm = self._esms.get(cfg.get("UUID"))
                if esm is not None:
                    cfg["State"] = esm.state
                    seen.add(esm.uuid)
            q = urllib.parse.parse_qs(h.path.partition("?")[2])
            want_fn = function_name(q["FunctionName"][0]) if q.get("FunctionName") else None
            want_src = q["EventSourceArn"][0] if q.get("EventSourceArn") else None
            for esm in self._esms.values():     # Deleting: gone from moto, not from AWS
                if esm.state == "Deleting" and esm.uuid not in seen \
                        and want_fn in (None, esm.fn) \
                        and want_src in (None, esm.config.get("EventSourceArn")):
                    listed.append(dict(esm.config, State="Deleting"))
            out["EventSourceMappings"] = listed
            if self.paginate:       # [pages]
                out["EventSourceMappings"], nxt = paged(listed, q.get("Marker", [""])[0],
                                                        q.get("MaxItems", [None])[0], 100)
                out.pop("NextMarker", None)
                if nxt:
                    out["NextMarker"] = nxt
            return json.dumps(out).encode()
        return None

    def _sqs_after(self, h, operation, body, data, now, asked):
        params, proto = self._sqs_params(h, body)
        if operation == "CreateQueue":
            name = self._queue_name(params)
            if name:
                self._fresh[("sqs", name)] = now
                self._deleted_queues.pop(name, None)
            return None
        if operation == "DeleteQueue":
            name = self._queue_name(params)
            if name:
                self._deleted_queues[name] = now
                self._fresh.pop(("sqs", name), None)
            return None
        if operation in ("TagQueue", "UntagQueue"):
            name = self._queue_name(params)
            if name:
                self._fresh[("sqs", name)] = now
            return None
        if operation == "ListQueues":      # [lag]
            lag = self._d(self.list_lag_s)

            def hidden(url):
                t = self._fresh.get(("sqs", url.rstrip("/").rsplit("/", 1)[-1]))
                return t is not None and asked - t < lag
            if proto == "json":
                out = _json(data)
                if out is None or "QueueUrls" not in out:
                    return None
                out["QueueUrls"] = [u for u in out["QueueUrls"] if not hidden(u)]
                if self.paginate:   # [pages]: NextToken only when MaxResults is set
                    out["QueueUrls"], nxt = paged(out["QueueUrls"], params.get("NextToken"),
                                                  params.get("MaxResults"), 1000)
                    out.pop("NextToken", None)
                    if nxt and params.get("MaxResults"):
                        out["NextToken"] = nxt
                return json.dumps(out).encode()
            text = data.decode("utf-8", "replace")
            return re.sub(r"\s*<QueueUrl>([^<]*)</QueueUrl>",
                          lambda mm: "" if hidden(mm.group(1)) else mm.group(0), text).encode()
        return None

    def _tagging_after(self, data, asked):
        """GetResources without what was created or (un)tagged too recently [lag]."""
        out = _json(data)
        if out is None:
            return None
        lag = self._d(self.list_lag_s)

        def hidden(arn):
            t = self._fresh.get(arn_key(arn))
            return t is not None and asked - t < lag
        out["ResourceTagMappingList"] = [r for r in out.get("ResourceTagMappingList") or []
                                         if not hidden(r.get("ResourceARN"))]
        return json.dumps(out).encode()


def main(argv=None):
    ap = argparse.ArgumentParser(description="AWS-faithful layer in front of moto")
    ap.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:5000 (moto_server)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--scale", type=float, default=0.02)
    for opt in ("fn_pending_s", "fn_update_s", "esm_transition_s", "queue_deleted_recently_s",
                "list_lag_s", "lambda_rps", "lambda_get_rps", "lambda_policy_rps",
                "throttle_fraction", "table_create_s", "account_concurrency",
                "unreserved_min", "queue_ready_s", "role_ready_s", "stream_enable_s"):
        ap.add_argument("--" + opt.replace("_", "-"), type=float, help="see AwsModel")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--no-paginate", dest="paginate", action="store_false", default=None)
    args = ap.parse_args(argv)
    kw = {k: v for k, v in vars(args).items()
          if v is not None and k not in ("upstream", "port")}
    aws = AwsModel(args.upstream, port=args.port, **kw).start()
    print(aws.endpoint, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    while not done.wait(1):
        pass
    aws.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
