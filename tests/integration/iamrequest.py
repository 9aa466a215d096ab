"""What IAM authorizes for one AWS request: [(action, resource ARN, condition
context, why)], the operation's own action first, then the permissions the
service checks on the caller's behalf (implied). Used by iamlayer.py; pure
but for two look-ups the caller supplies (a mapping's function, a table's
partition key), which need the emulator's state.

    checks = request_checks(service, operation, method, target, headers, body,
                            lookup=Lookup(...))

Each service's actions, resource types and condition keys are from the
Service Authorization Reference:
  [lambda] https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html
           and "Fine-tuning the Resources and Conditions sections of policies": event
           source mapping actions are on arn:...:event-source-mapping:<UUID> and carry
           lambda:FunctionArn; CreateEventSourceMapping has no resource ("*") and is
           scoped by lambda:FunctionArn; ListFunctions, ListEventSourceMappings and
           GetAccountSettings have no resource.
           https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html
           CreateFunction / UpdateFunctionConfiguration with Role: iam:PassRole on it
           (context iam:PassedToService = lambda.amazonaws.com, list_awsidentityandaccess
           management.html); with Layers: lambda:GetLayerVersion on each layer version
           ("Adding layers to functions", "To add layers to your function, you need
           lambda:GetLayerVersion permission on the layer version");
           code by S3 location: the object is read with the caller's rights,
           s3:GetObject (s3:GetObjectVersion when a version is named, as S3 itself
           authorizes a versioned GET).
           https://docs.aws.amazon.com/lambda/latest/dg/adding-layers.html
           Tags ("Using tags on Lambda functions", "Permissions required for working with
           tags"): lambda:TagResource "to call TagResource or perform a tag on create";
           lambda:ListTags: "For tagged functions, this permission is also necessary for
           GetFunction".
           https://docs.aws.amazon.com/lambda/latest/dg/configuration-tags.html
           https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html
  [ddb]    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html
           Streams actions (DescribeStream, GetRecords, GetShardIterator) are dynamodb:*
           on the stream ARN; dynamodb:LeadingKeys is the partition key value of the
           item an item call reads or writes ("Using IAM policy conditions for
           fine-grained access control").
           https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html
  [sqs]    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html
           (the *Batch calls are authorized as their single action; ListQueues has no
           resource). CreateQueue: "To be able to tag a queue on creation, you must have
           the sqs:CreateQueue and sqs:TagQueue permissions."
           https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
  [s3]     https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
           (HeadObject = s3:GetObject, a versionId = s3:GetObjectVersion, listing and
           HeadBucket = s3:ListBucket on the bucket). A missing object: "If you have the
           s3:ListBucket permission on the bucket, Amazon S3 returns an HTTP status code
           404 Not Found error. If you don't have the s3:ListBucket permission, Amazon S3
           returns an HTTP status code 403 Access Denied error." (GetObject, HeadObject)
           https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
  [sns]    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html
  [tag]    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsresourcegroupstaggingapi.html
  [sts]    GetCallerIdentity: "No permissions are required to perform this operation."
           https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
  [cw]     https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html
           (PutMetricData has no resource; context cloudwatch:namespace)
"""
import json
import re
import urllib.parse

ACCOUNT = "123456789012"


class Check:
    """One authorization: action on resource with a context; why says what asked."""

    def __init__(self, action, resource, context=None, why="request", mapped=True):
        self.action, self.resource = action, resource
        self.context = context or {}
        self.why, self.mapped = why, mapped

    def key(self):
        return (self.action, self.resource)

    def __repr__(self):
        return "Check(%s, %s, %s, %s)" % (self.action, self.resource, self.context, self.why)


class Lookup:
    """Emulator state the mapping needs: the function of a mapping, a table's partition key."""

    def esm_function_arn(self, region, uuid):
        return None

    def partition_key(self, region, table):
        return None

    def function_tagged(self, region, function_arn):
        return False

    def object_exists(self, bucket, key, version=None):
        return True


_SCOPE = re.compile(r"Credential=[^/,\s]+/[^/]+/([^/]+)/([^/]+)/aws4_request")


def region_of(headers):
    m = _SCOPE.search(headers.get("authorization", ""))
    return m.group(1) if m else "us-east-1"


def _json(body):
    try:
        v = json.loads(body or b"{}")
        return v if isinstance(v, dict) else {}
    except ValueError:
        return {}


def _form(target, body, headers):
    q = urllib.parse.parse_qs(target.partition("?")[2], keep_blank_values=True)
    if "x-www-form-urlencoded" in headers.get("content-type", "") and body:
        q.update(urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
    return {k: v[0] for k, v in q.items()}


# ---------------------------------------------------------------- Lambda [lambda]

_LAMBDA_ACTION = {"Invoke": "InvokeFunction", "InvokeAsync": "InvokeFunction",
                  "GetFunctionConfiguration": "GetFunctionConfiguration"}


def function_arn(ref, region):
    """A function name, partial ARN or ARN as the function's ARN (qualifier kept)."""
    ref = urllib.parse.unquote(ref)
    if ref.startswith("arn:"):
        return ref
    parts = ref.split(":")
    if len(parts) >= 3 and parts[1] == "function":          # 123456789012:function:name[:q]
        return "arn:aws:lambda:%s:%s" % (region, ref)
    return "arn:aws:lambda:%s:%s:function:%s" % (region, ACCOUNT, ref)


def _lambda_checks(operation, method, target, body, region, lookup):
    path, _, qs = target.partition("?")
    seg = [urllib.parse.unquote(s) for s in path.split("/")]
    action = "lambda:" + _LAMBDA_ACTION.get(operation, operation)
    doc = _json(body) if body else {}
    out = []
    if operation in ("ListFunctions", "ListEventSourceMappings", "GetAccountSettings", "ListLayers"):
        return [Check(action, "*")]
    if operation == "CreateEventSourceMapping":
        fn = function_arn(doc.get("FunctionName", ""), region)
        return [Check(action, "*", {"lambda:FunctionArn": fn})]
    if operation in ("GetEventSourceMapping", "UpdateEventSourceMapping", "DeleteEventSourceMapping"):
        uuid = seg[3]
        arn = "arn:aws:lambda:%s:%s:event-source-mapping:%s" % (region, ACCOUNT, uuid)
        fn = lookup.esm_function_arn(region, uuid)
        return [Check(action, arn, {"lambda:FunctionArn": fn} if fn else {})]
    if operation in ("ListTags", "TagResource", "UntagResource"):
        return [Check(action, seg[3])]
    if operation in ("GetLayerVersion", "DeleteLayerVersion", "ListLayerVersions", "PublishLayerVersion"):
        arn = "arn:aws:lambda:%s:%s:layer:%s" % (region, ACCOUNT, seg[3])
        if operation in ("GetLayerVersion", "DeleteLayerVersion"):
            arn += ":" + seg[5]
        return [Check(action, arn)]
    if operation == "CreateFunction":
        fn = function_arn(doc.get("FunctionName", ""), region)
        out.append(Check(action, fn))
        out += _implied_function(doc, doc.get("Code") or {}, region, operation)
        if doc.get("Tags"):
            out.append(Check("lambda:TagResource", fn, why="CreateFunction tags on create"))
        return out
    if len(seg) > 3 and seg[2] == "functions":
        fn = function_arn(seg[3], region)
        q = urllib.parse.parse_qs(qs)
        if q.get("Qualifier") and fn.count(":") == 6:
            fn += ":" + q["Qualifier"][0]
        out.append(Check(action, fn))
        if operation == "GetFunction" and lookup.function_tagged(region, fn):
            out.append(Check("lambda:ListTags", fn, why="GetFunction of a tagged function"))
        if operation == "UpdateFunctionConfiguration":
            out += _implied_function(doc, {}, region, operation)
        elif operation == "UpdateFunctionCode":
            out += _implied_function({}, doc, region, operation)
        return out
    return [Check(action, "*", why="unmapped %s %s" % (method, path), mapped=False)]


def _implied_function(config, code, region, operation):
    out = []
    if config.get("Role"):
        out.append(Check("iam:PassRole", config["Role"],
                         {"iam:PassedToService": "lambda.amazonaws.com"},
                         why="%s passes Role" % operation))
    for layer in config.get("Layers") or []:
        out.append(Check("lambda:GetLayerVersion", layer, why="%s adds layer" % operation))
    if code.get("S3Bucket"):
        obj = "arn:aws:s3:::%s/%s" % (code["S3Bucket"], code.get("S3Key", ""))
        act = "s3:GetObjectVersion" if code.get("S3ObjectVersion") else "s3:GetObject"
        out.append(Check(act, obj, why="%s reads code from S3" % operation))
    return out


# ---------------------------------------------------------------- DynamoDB [ddb]

def table_arn(name, region):
    return name if name.startswith("arn:") else "arn:aws:dynamodb:%s:%s:table/%s" % (region, ACCOUNT, name)


def _leading_key(item, pk):
    if not item:
        return None
    if pk is None:
        if len(item) != 1:
            return None
        pk = next(iter(item))
    v = item.get(pk)
    if not isinstance(v, dict) or not v:
        return None
    return str(next(iter(v.values())))


def _ddb_checks(operation, body, region, lookup):
    doc = _json(body)
    action = "dynamodb:" + operation
    if operation in ("ListTables", "DescribeLimits", "DescribeEndpoints"):
        return [Check(action, "*")]
    if operation in ("DescribeStream", "GetShardIterator"):
        return [Check(action, doc.get("StreamArn", ""))]
    if operation == "GetRecords":
        # moto's iterators are "<stream ARN>|1|<id>"; AWS reads the stream from its own.
        it = doc.get("ShardIterator", "")
        return [Check(action, it.split("|", 1)[0] if it.startswith("arn:") else "*",
                      mapped=it.startswith("arn:"))]
    if operation == "ListStreams":
        t = doc.get("TableName")
        return [Check(action, table_arn(t, region) + "/stream/*" if t else "*")]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        out = []
        for t, v in (doc.get("RequestItems") or {}).items():
            pk = lookup.partition_key(region, t)
            reqs = v.get("Keys", []) if operation == "BatchGetItem" else v
            for r in reqs:
                if operation == "BatchGetItem":
                    act, item = "dynamodb:BatchGetItem", r
                else:
                    act = "dynamodb:BatchWriteItem"
                    item = (r.get("PutRequest") or {}).get("Item") or (r.get("DeleteRequest") or {}).get("Key")
                lk = _leading_key(item, pk)
                out.append(Check(act, table_arn(t, region), {"dynamodb:LeadingKeys": [lk]} if lk else {}))
        return out
    if operation == "TransactWriteItems":
        out = []
        for it in doc.get("TransactItems", []):
            (kind, spec), = it.items()
            act = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                   "ConditionCheck": "ConditionCheckItem"}[kind]
            pk = lookup.partition_key(region, spec["TableName"])
            lk = _leading_key(spec.get("Item") or spec.get("Key"), pk)
            out.append(Check("dynamodb:" + act, table_arn(spec["TableName"], region),
                             {"dynamodb:LeadingKeys": [lk]} if lk else {}))
        return out
    name = doc.get("TableName")
    if not name:
        return [Check(action, "*", why="unmapped dynamodb %s" % operation, mapped=False)]
    ctx = {}
    if operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
        pk = lookup.partition_key(region, name)
        lk = _leading_key(doc.get("Item") if operation == "PutItem" else doc.get("Key"), pk)
        if lk is not None:
            ctx["dynamodb:LeadingKeys"] = [lk]
    return [Check(action, table_arn(name, region), ctx)]


# ---------------------------------------------------------------- SQS [sqs]

_SQS_BATCH = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
              "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}


def queue_arn_of_url(url, region):
    p = urllib.parse.urlsplit(url).path.strip("/").split("/")
    if len(p) >= 2:
        return "arn:aws:sqs:%s:%s:%s" % (region, p[-2], p[-1])
    return "arn:aws:sqs:%s:%s:%s" % (region, ACCOUNT, p[-1])


def _sqs_checks(operation, target, headers, body, region):
    params = _json(body) if headers.get("x-amz-target") else _form(target, body, headers)
    action = "sqs:" + _SQS_BATCH.get(operation, operation)
    if operation == "ListQueues":
        return [Check(action, "*")]
    if params.get("QueueUrl"):
        return [Check(action, queue_arn_of_url(params["QueueUrl"], region))]
    if params.get("QueueName"):
        owner = params.get("QueueOwnerAWSAccountId") or ACCOUNT
        arn = "arn:aws:sqs:%s:%s:%s" % (region, owner, params["QueueName"])
        out = [Check(action, arn)]
        if operation == "CreateQueue" and (params.get("tags") or params.get("Tag.1.Key")):
            out.append(Check("sqs:TagQueue", arn, why="CreateQueue tags on create"))
        return out
    if operation == "StartMessageMoveTask" and params.get("SourceArn"):
        return [Check(action, params["SourceArn"])]
    return [Check(action, "*", why="unmapped sqs %s" % operation, mapped=False)]


# ---------------------------------------------------------------- S3 [s3]

_S3_ACTION = {
    "HeadObject": "GetObject", "ListObjects": "ListBucket", "ListObjectsV2": "ListBucket",
    "HeadBucket": "ListBucket", "ListObjectVersions": "ListBucketVersions",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "CreateMultipartUpload": "PutObject", "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject", "ListParts": "ListMultipartUploadParts",
    "ListMultipartUploads": "ListBucketMultipartUploads", "CopyObject": "PutObject",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "GetBucketEncryption": "GetEncryptionConfiguration", "PutBucketEncryption": "PutEncryptionConfiguration",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock", "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeleteBucketPolicy": "DeleteBucketPolicy", "DeleteBucketTagging": "PutBucketTagging",
}
_S3_VERSIONED = {"GetObject": "GetObjectVersion", "HeadObject": "GetObjectVersion",
                 "DeleteObject": "DeleteObjectVersion", "GetObjectTagging": "GetObjectVersionTagging"}


def _s3_checks(operation, method, target, headers, body, lookup):
    path, _, qs = target.partition("?")
    q = urllib.parse.parse_qs(qs, keep_blank_values=True)
    bucket, _, key = path.lstrip("/").partition("/")
    bucket, key = urllib.parse.unquote(bucket), urllib.parse.unquote(key)
    if not bucket:
        return [Check("s3:ListAllMyBuckets", "*")]
    if q.get("versionId") and operation in _S3_VERSIONED:
        action = "s3:" + _S3_VERSIONED[operation]
    else:
        action = "s3:" + _S3_ACTION.get(operation, operation)
    if " " in operation:
        return [Check(action, "*", why="unmapped s3 %s" % operation, mapped=False)]
    if operation == "DeleteObjects":
        keys = re.findall(r"<Key>([^<]*)</Key>", (body or b"").decode("utf-8", "replace"))
        return [Check("s3:DeleteObject", "arn:aws:s3:::%s/%s" % (bucket, k)) for k in keys]
    out = [Check(action, "arn:aws:s3:::%s/%s" % (bucket, key) if key else "arn:aws:s3:::%s" % bucket)]
    if operation in ("GetObject", "HeadObject") and \
            not lookup.object_exists(bucket, key, (q.get("versionId") or [None])[0]):
        out.append(Check("s3:ListBucket", "arn:aws:s3:::%s" % bucket,
                         why="missing object: 404 with s3:ListBucket, else 403"))
    src = headers.get("x-amz-copy-source")
    if operation == "CopyObject" and src:
        s = urllib.parse.unquote(src.lstrip("/"))
        sk, _, ver = s.partition("?versionId=")
        out.append(Check("s3:GetObjectVersion" if ver else "s3:GetObject", "arn:aws:s3:::" + sk,
                         why="CopyObject reads its source"))
    return out


# ---------------------------------------------------------------- the rest

def _sns_checks(operation, target, headers, body, region):
    p = _form(target, body, headers)
    action = "sns:" + operation
    if operation in ("ListTopics", "ListSubscriptions"):
        return [Check(action, "*")]
    if operation == "CreateTopic":
        return [Check(action, "arn:aws:sns:%s:%s:%s" % (region, ACCOUNT, p.get("Name", "")))]
    arn = p.get("TopicArn") or p.get("TargetArn") or p.get("ResourceArn")
    if arn:
        return [Check(action, arn)]
    if p.get("SubscriptionArn"):
        return [Check(action, p["SubscriptionArn"].rsplit(":", 1)[0])]
    return [Check(action, "*", why="unmapped sns %s" % operation, mapped=False)]


def _cloudwatch_checks(operation, target, headers, body):
    p = _json(body) if headers.get("x-amz-target") else _form(target, body, headers)
    ctx = {"cloudwatch:namespace": p["Namespace"]} if p.get("Namespace") else {}
    return [Check("cloudwatch:" + operation, "*", ctx)]


def request_checks(service, operation, method, target, headers, body, lookup=None):
    """[Check] for one request; headers: a mapping whose keys are lower case."""
    lookup = lookup or Lookup()
    region = region_of(headers)
    if service == "lambda":
        return _lambda_checks(operation, method, target, body, region, lookup)
    if service in ("dynamodb", "dynamodbstreams"):
        return _ddb_checks(operation, body, region, lookup)
    if service == "sqs":
        return _sqs_checks(operation, target, headers, body, region)
    if service == "s3":
        return _s3_checks(operation, method, target, headers, body, lookup)
    if service == "sns":
        return _sns_checks(operation, target, headers, body, region)
    if service == "tagging":
        return [Check("tag:" + operation, "*")]
    if service == "sts":
        if operation == "GetCallerIdentity":
            return []                                   # [sts] no permission needed
        if operation == "AssumeRole":
            return [Check("sts:AssumeRole", _form(target, body, headers).get("RoleArn", "*"))]
    if service == "monitoring":
        return _cloudwatch_checks(operation, target, headers, body)
    return [Check("%s:%s" % (service, operation), "*", why="unmapped %s %s" % (service, operation),
                  mapped=False)]
