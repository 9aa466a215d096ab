"""IAM policy evaluation of identity-based policies, as AWS does it, for the
integration tests (the AWS-faithful layer refuses what a role's policies do
not allow). Python 3 standard library only; pure: no I/O, no clock.

    d = evaluate(policies, "lambda:GetEventSourceMapping",
                 "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:u-1",
                 {"lambda:FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:tp-a"})
    d.effect     # "Allow" | "ExplicitDeny" | "ImplicitDeny"
    d.message(principal_arn, action, resource)   # AWS's wording of a refusal

policies: a list of policy documents ({"Version", "Statement": [...]}, the
Statement a list or one object). Only what the template can hold is
evaluated: Effect, Action/NotAction, Resource/NotResource, Condition; no
Principal (identity-based policies have none), no policy variables.

AWS pages this follows:
  [eval]   Policy evaluation logic; within one account, for a role: an explicit
           Deny in any policy wins, else an Allow is needed, else the request
           is implicitly denied.
           https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
           https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html
           https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html
  [action] Action element: service prefix and action name are case-insensitive;
           * and ? wildcards.
           https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
  [res]    Resource element: wildcards * and ? within each of the ARN's six
           colon-separated parts ("arn:partition:service:region:account:resource",
           the last part holds the rest, colons included); case-sensitive.
           https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
  [cond]   Condition operators: operators in a block AND, keys in an operator AND,
           values of a key OR; a key absent from the request context makes the
           condition false, except negated operators (true), ...IfExists (true)
           and Null; condition key names are case-insensitive; ArnLike compares the
           six ARN parts one by one.
           https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
  [multi]  Set operators for multivalued keys: ForAllValues is true when every
           value in the request matches one in the policy, and also when the key
           is absent or empty; ForAnyValue needs at least one match.
           https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
  [denied] The refusal's message: "User: <principal> is not authorized to perform:
           <action> on resource: <resource> because no identity-based policy allows
           the <action> action" (implicit) / "... with an explicit deny in an
           identity-based policy" (explicit).
           https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
"""
import re

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "Allow", "ExplicitDeny", "ImplicitDeny"

# operator name (lower case, without set prefix / IfExists) -> (kind, negated)
_OPERATORS = {
    "stringequals": ("str", False), "stringnotequals": ("str", True),
    "stringequalsignorecase": ("stri", False), "stringnotequalsignorecase": ("stri", True),
    "stringlike": ("like", False), "stringnotlike": ("like", True),
    "arnequals": ("arn", False), "arnlike": ("arn", False),
    "arnnotequals": ("arn", True), "arnnotlike": ("arn", True),
    "bool": ("bool", False), "null": ("null", False),
}


class PolicyError(ValueError):
    """A policy the evaluator cannot read (unknown operator, bad Effect...)."""


def _as_list(v):
    return v if isinstance(v, list) else [v]


_WILD_CACHE = {}


def wildcard(pattern, value, ignore_case=False):
    """True if value matches pattern, * = any run of characters, ? = one character."""
    key = (pattern, ignore_case)
    rx = _WILD_CACHE.get(key)
    if rx is None:
        body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        rx = re.compile(r"\A" + body + r"\Z", re.S | (re.I if ignore_case else 0))
        _WILD_CACHE[key] = rx
    return rx.match(value) is not None


def action_matches(pattern, action):
    """[action]: "*", or "prefix:Name" with wildcards, case-insensitive."""
    return wildcard(pattern, action, ignore_case=True)


def arn_parts(arn):
    """The six parts of an ARN (the last holds the rest), or None if not an ARN."""
    parts = arn.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


def arn_like(pattern, arn):
    """[cond]/[res]: part by part, each with wildcards; "*" matches anything."""
    if pattern == "*":
        return True
    p, a = arn_parts(pattern), arn_parts(arn)
    if p is None or a is None:
        return wildcard(pattern, arn)
    return all(wildcard(x, y) for x, y in zip(p, a))


def resource_matches(pattern, resource):
    """[res]: a resource ARN (or "*" for actions without resource-level
    permissions, which only a "*" pattern matches)."""
    if resource == "*":
        return pattern == "*"
    return arn_like(pattern, resource)


def _value_matches(kind, policy_value, value):
    pv = str(policy_value)
    if kind == "str":
        return pv == value
    if kind == "stri":
        return pv.lower() == value.lower()
    if kind == "like":
        return wildcard(pv, value)
    if kind == "arn":
        return arn_like(pv, value)
    if kind == "bool":
        return pv.lower() == str(value).lower()
    raise PolicyError("operator kind %r" % kind)


def _lookup(context, key):
    """(present, [values]) of a condition key; names are case-insensitive."""
    low = key.lower()
    for k, v in context.items():
        if k.lower() == low:
            vals = [str(x) for x in _as_list(v)] if v is not None else []
            return True, vals
    return False, []


def condition_holds(operator, key, policy_values, context):
    """One key under one operator ([cond], [multi])."""
    op = operator
    setop = None
    if ":" in op:
        setop, op = op.split(":", 1)
        setop = setop.lower()
        if setop not in ("forallvalues", "foranyvalue"):
            raise PolicyError("unknown set operator %r" % operator)
    low = op.lower()
    if_exists = low.endswith("ifexists") and low != "ifexists"
    if if_exists:
        low = low[:-len("ifexists")]
    if low not in _OPERATORS:
        raise PolicyError("unsupported condition operator %r" % operator)
    kind, negated = _OPERATORS[low]
    policy_values = _as_list(policy_values)
    present, values = _lookup(context, key)
    if kind == "null":
        want_absent = str(policy_values[0]).lower() == "true"
        return (not present or not values) == want_absent

    def one(v):
        hit = any(_value_matches(kind, pv, v) for pv in policy_values)
        return not hit if negated else hit

    if setop == "forallvalues":
        return all(one(v) for v in values)       # true when absent or empty [multi]
    if setop == "foranyvalue":
        return any(one(v) for v in values)
    if not present or not values:
        return True if (if_exists or negated) else False
    return any(one(v) for v in values)


def conditions_hold(block, context):
    for operator, keys in (block or {}).items():
        if not isinstance(keys, dict):
            raise PolicyError("condition %s must map keys to values" % operator)
        for key, vals in keys.items():
            if not condition_holds(operator, key, vals, context):
                return False
    return True


def statement_applies(st, action, resource, context):
    """True if the statement's Action, Resource and Condition all match."""
    if "Action" in st:
        if not any(action_matches(p, action) for p in _as_list(st["Action"])):
            return False
    elif "NotAction" in st:
        if any(action_matches(p, action) for p in _as_list(st["NotAction"])):
            return False
    else:
        raise PolicyError("statement %s has neither Action nor NotAction" % st.get("Sid", "?"))
    if "Resource" in st:
        if not any(resource_matches(p, resource) for p in _as_list(st["Resource"])):
            return False
    elif "NotResource" in st:
        if resource != "*" and any(resource_matches(p, resource) for p in _as_list(st["NotResource"])):
            return False
    else:
        raise PolicyError("statement %s has neither Resource nor NotResource" % st.get("Sid", "?"))
    return conditions_hold(st.get("Condition"), context)


class Decision:
    def __init__(self, effect, statement=None):
        self.effect = effect
        self.statement = statement          # the Deny or (first) Allow that decided

    @property
    def allowed(self):
        return self.effect == ALLOW

    @property
    def sid(self):
        return (self.statement or {}).get("Sid")

    def message(self, principal, action, resource):
        """[denied] AWS's wording of this refusal (None when allowed)."""
        if self.allowed:
            return None
        head = "User: %s is not authorized to perform: %s on resource: %s" % (principal, action, resource)
        if self.effect == EXPLICIT_DENY:
            return head + " with an explicit deny in an identity-based policy"
        return head + " because no identity-based policy allows the %s action" % action

    def __repr__(self):
        return "Decision(%s, %s)" % (self.effect, self.sid)


def statements(policies):
    for doc in policies:
        for st in _as_list(doc.get("Statement", [])):
            if st.get("Effect") not in ("Allow", "Deny"):
                raise PolicyError("statement %s: Effect must be Allow or Deny" % st.get("Sid", "?"))
            yield st


def evaluate(policies, action, resource, context=None):
    """[eval] The decision for one action on one resource."""
    context = context or {}
    allow = None
    for st in statements(policies):
        if not statement_applies(st, action, resource, context):
            continue
        if st["Effect"] == "Deny":
            return Decision(EXPLICIT_DENY, st)
        if allow is None:
            allow = st
    return Decision(ALLOW, allow) if allow is not None else Decision(IMPLICIT_DENY)
