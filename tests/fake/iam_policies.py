"""Writes tests/fake/iam_policies.json: packaging/template.yaml's IAM roles
(ControllerRole, ConsumerRole) resolved by tests/integration/iamtemplate.py
into plain policy documents, for the C fake's IAM (fake_iam_template_policy)
and its agreement test (tests/unit/test_fake_iam.c); and
tests/fake/iam_vectors.json: iameval.py's verdicts on variants of every check
the Python layer recorded (tests/integration/iam_evaluated.json), which the
C evaluator must reproduce exactly: the check placed in a stack (Allow), on
another stack's names, without its context, in another region, and against
the other role's policies.

The stack's names stay placeholders, as iam_evaluated.json writes them:
{InstanceName}, {Prefix}, and the roles' physical names {ControllerRole},
{ConsumerRole}; account 123456789012, region us-east-1, the stack's own code
bucket. test_template.py checks the committed file equals what this prints
now, so the two cannot drift: after changing a role, run
    python3 tests/fake/iam_policies.py
and commit the JSON with the template."""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from iameval import evaluate  # noqa: E402
from iamtemplate import Stack  # noqa: E402

TEMPLATE = os.path.join(ROOT, "packaging", "template.yaml")
OUT = os.path.join(ROOT, "tests", "fake", "iam_policies.json")
VECTORS = os.path.join(ROOT, "tests", "fake", "iam_vectors.json")
RECORDED = os.path.join(ROOT, "tests", "integration", "iam_evaluated.json")
# the stack the vectors are placed in (test_template.py's), and another one
STACK, OTHER = ("tplx", "tx-"), ("other", "zz-")
ROLES = ("ControllerRole", "ConsumerRole")


def resolved():
    """The file's text: the roles' policies with the stack's names as placeholders."""
    stack = Stack(TEMPLATE, {"InstanceName": "{InstanceName}", "Prefix": "{Prefix}"},
                  physical={r: "{%s}" % r for r in ROLES})
    doc = {"_generated": "by tests/fake/iam_policies.py from packaging/template.yaml; do not edit",
           "account": stack.account, "region": stack.region,
           "roles": {r: stack.role_policies(r) for r in ROLES}}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def place(v, inst, prefix):
    """A recorded value placed in a stack (test_template.py's place())."""
    if isinstance(v, list):
        return [place(x, inst, prefix) for x in v]
    for lid in ROLES:
        v = v.replace("{%s}" % lid, "%s-%s" % (inst, lid))
    return v.replace("{InstanceName}", inst).replace("{Prefix}", prefix).replace(
        "{uuid}", "0b5e1c2a-1111-2222-3333-444455556666").replace("{label}", "2026-01-01T00:00:00.000")


def vectors():
    """The vectors file's text: [[policy role, action, resource, context, iameval's effect], ...]."""
    inst, prefix = STACK
    stack = Stack(TEMPLATE, {"InstanceName": inst, "Prefix": prefix},
                  physical={r: "%s-%s" % (inst, r) for r in ROLES})
    pols = {r: stack.role_policies(r) for r in ROLES}
    with open(RECORDED) as f:
        checks = json.load(f)["checks"]
    out, seen = [], set()
    for c in checks:
        mine, other_role = c["role"], [r for r in ROLES if r != c["role"]][0]
        ctx = {k: place(v, inst, prefix) for k, v in c["context"].items()}
        res = place(c["resource"], inst, prefix)
        variants = [
            (mine, res, ctx),
            (mine, place(c["resource"], *OTHER), {k: place(v, *OTHER) for k, v in c["context"].items()}),
            (mine, res, {}),
            (mine, res.replace(":us-east-1:", ":eu-west-1:"), ctx),
            (other_role, res, ctx),
        ]
        for role, r, x in variants:
            v = [role, c["action"], r, x]
            key = json.dumps(v, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            out.append(v + [evaluate(pols[role], c["action"], r, x).effect])
    doc = {"_generated": "by tests/fake/iam_policies.py from iam_evaluated.json and iameval.py; do not edit",
           "stack": {"InstanceName": inst, "Prefix": prefix}, "vectors": out}
    return "{\n" + ",\n".join(
        " %s: %s" % (json.dumps(k), json.dumps(doc[k], sort_keys=True)) for k in ("_generated", "stack")) + \
        ',\n "vectors": [\n' + ",\n".join("  " + json.dumps(v, sort_keys=True) for v in out) + "\n ]\n}\n"


if __name__ == "__main__":
    for path, text in ((OUT, resolved()), (VECTORS, vectors())):
        with open(path, "w") as f:
            f.write(text)
        print("wrote", os.path.relpath(path, ROOT))
