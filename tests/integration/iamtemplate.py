"""packaging/template.yaml's IAM roles as concrete policy documents: every
CloudFormation intrinsic the template uses (!Ref, !Sub, !GetAtt, !If,
!Equals, !Not, !Join, AWS::NoValue, pseudo parameters) resolved for one test
stack (account, region, parameters, the roles' physical names), so
iameval.py can evaluate real requests against them.

    stack = Stack(TEMPLATE, {"InstanceName": "iamt", "Prefix": "tq-", ...},
                  physical={"ControllerRole": "iamt-ControllerRole-X", ...})
    stack.role_policies("ControllerRole")  -> [policy document, ...]
    stack.ref("StateTable"), stack.get_att("ConfigTable", "StreamArn")

Ref and Fn::GetAtt return values per resource type follow the
CloudFormation resource reference ("Return values" of each type):
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-template-resource-type-ref.html
(LogGroup Arn ends in ":*"; an SNS topic's Ref is its ARN, a queue's its URL,
a layer version's its version ARN.)"""
import re

import yaml

_NO_VALUE = object()
_SUB = re.compile(r"\$\{([^}]*)\}")


def _loader():
    class L(yaml.SafeLoader):
        pass

    def construct(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            v = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            v = loader.construct_sequence(node, deep=True)
        else:
            v = loader.construct_mapping(node, deep=True)
        if suffix == "Ref":
            return {"Ref": v}
        if suffix == "GetAtt" and isinstance(v, str):
            v = v.split(".", 1)
        return {"Fn::" + suffix: v}

    L.add_multi_constructor("!", construct)
    return L


def load(path):
    with open(path) as f:
        return yaml.load(f, Loader=_loader())


class Stack:
    def __init__(self, template_path, parameters, account="123456789012", region="us-east-1",
                 partition="aws", physical=None, stream_label="2000-01-01T00:00:00.000"):
        self.t = load(template_path)
        self.account, self.region, self.partition = account, region, partition
        self.params = {k: str(v.get("Default", "")) for k, v in self.t.get("Parameters", {}).items()}
        unknown = set(parameters) - set(self.params)
        if unknown:
            raise ValueError("not template parameters: %s" % sorted(unknown))
        self.params.update({k: str(v) for k, v in parameters.items()})
        self.physical = dict(physical or {})
        self.stream_label = stream_label
        self._conds = {}

    # -- conditions and intrinsics
    def condition(self, name):
        if name not in self._conds:
            self._conds[name] = bool(self.resolve(self.t["Conditions"][name]))
        return self._conds[name]

    def resolve(self, v):
        if isinstance(v, list):
            out = [self.resolve(x) for x in v]
            return [x for x in out if x is not _NO_VALUE]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, arg), = v.items()
            if k == "Ref":
                return self.ref(arg)
            if k == "Fn::GetAtt":
                return self.get_att(arg[0], arg[1])
            if k == "Fn::Sub":
                return self._sub(arg)
            if k == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if k == "Fn::Equals":
                a, b = self.resolve(arg[0]), self.resolve(arg[1])
                return a == b
            if k == "Fn::Not":
                return not self.resolve(arg[0])
            if k == "Fn::And":
                return all(self.resolve(x) for x in arg)
            if k == "Fn::Or":
                return any(self.resolve(x) for x in arg)
            if k == "Fn::Join":
                return arg[0].join(str(x) for x in self.resolve(arg[1]))
            if k == "Condition":
                return self.condition(arg)
            if k.startswith("Fn::"):
                raise ValueError("intrinsic %s is not supported" % k)
        out = {}
        for k, x in v.items():
            r = self.resolve(x)
            if r is not _NO_VALUE:
                out[k] = r
        return out

    def _sub(self, arg):
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def one(m):
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in extra:
                return str(self.resolve(extra[name]))
            if "." in name:
                lid, attr = name.split(".", 1)
                return str(self.get_att(lid, attr))
            return str(self.ref(name))
        return _SUB.sub(one, text)

    def ref(self, name):
        pseudo = {"AWS::AccountId": self.account, "AWS::Region": self.region,
                  "AWS::Partition": self.partition, "AWS::StackName": self.params.get("InstanceName", "stack"),
                  "AWS::URLSuffix": "amazonaws.com"}
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.params:
            return self.params[name]
        res = self.t["Resources"].get(name)
        if res is None:
            raise ValueError("Ref to unknown %s" % name)
        if name in self.physical:
            return self.physical[name]
        p = self.resolve(res.get("Properties", {}))
        typ = res["Type"]
        a, r, part = self.account, self.region, self.partition
        if typ == "AWS::DynamoDB::Table":
            return p["TableName"]
        if typ == "AWS::SQS::Queue":
            return "https://sqs.%s.amazonaws.com/%s/%s" % (r, a, p["QueueName"])
        if typ == "AWS::SNS::Topic":
            return "arn:%s:sns:%s:%s:%s" % (part, r, a, p["TopicName"])
        if typ == "AWS::S3::Bucket":
            return p["BucketName"]
        if typ == "AWS::Logs::LogGroup":
            return p["LogGroupName"]
        if typ == "AWS::Lambda::Function":
            return p["FunctionName"]
        if typ == "AWS::Lambda::LayerVersion":
            return "arn:%s:lambda:%s:%s:layer:%s:1" % (part, r, a, p["LayerName"])
        if typ == "AWS::Events::Rule":
            return p["Name"]
        raise ValueError("Ref of %s (%s) needs a physical name" % (name, typ))

    def get_att(self, name, attr):
        typ = self.t["Resources"][name]["Type"]
        a, r, part = self.account, self.region, self.partition
        if attr != "Arn" and not (typ == "AWS::DynamoDB::Table" and attr == "StreamArn"):
            raise ValueError("GetAtt %s.%s is not supported" % (name, attr))
        if typ == "AWS::DynamoDB::Table":
            arn = "arn:%s:dynamodb:%s:%s:table/%s" % (part, r, a, self.ref(name))
            return arn + "/stream/" + self.stream_label if attr == "StreamArn" else arn
        if typ == "AWS::SQS::Queue":
            return "arn:%s:sqs:%s:%s:%s" % (part, r, a, self.ref(name).rsplit("/", 1)[1])
        if typ == "AWS::S3::Bucket":
            return "arn:%s:s3:::%s" % (part, self.ref(name))
        if typ == "AWS::Logs::LogGroup":
            return "arn:%s:logs:%s:%s:log-group:%s:*" % (part, r, a, self.ref(name))
        if typ == "AWS::Lambda::Function":
            return "arn:%s:lambda:%s:%s:function:%s" % (part, r, a, self.ref(name))
        if typ == "AWS::IAM::Role":
            return "arn:%s:iam::%s:role/%s" % (part, a, self.ref(name))
        if typ == "AWS::Events::Rule":
            return "arn:%s:events:%s:%s:rule/%s" % (part, r, a, self.ref(name))
        raise ValueError("GetAtt %s.Arn (%s) is not supported" % (name, typ))

    # -- the roles
    def roles(self):
        return [k for k, v in self.t["Resources"].items() if v["Type"] == "AWS::IAM::Role"]

    def role_arn(self, name):
        return self.get_att(name, "Arn")

    def role_policies(self, name):
        """The role's inline policies, resolved: [policy document]."""
        props = self.t["Resources"][name]["Properties"]
        if props.get("ManagedPolicyArns"):
            raise ValueError("%s: managed policies are not evaluated" % name)
        return [self.resolve(p["PolicyDocument"]) for p in props.get("Policies", [])]
