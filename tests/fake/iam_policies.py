"""Writes tests/fake/iam_policies.json: packaging/template.yaml's IAM roles
(ControllerRole, ConsumerRole) resolved by tests/integration/iamtemplate.py
into plain policy documents, for the C fake's IAM (fake_iam_template_policy)
and its agreement test (tests/unit/test_fake_iam.c).

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
from iamtemplate import Stack  # noqa: E402

TEMPLATE = os.path.join(ROOT, "packaging", "template.yaml")
OUT = os.path.join(ROOT, "tests", "fake", "iam_policies.json")
ROLES = ("ControllerRole", "ConsumerRole")


def resolved():
    """The file's text: the roles' policies with the stack's names as placeholders."""
    stack = Stack(TEMPLATE, {"InstanceName": "{InstanceName}", "Prefix": "{Prefix}"},
                  physical={r: "{%s}" % r for r in ROLES})
    doc = {"_generated": "by tests/fake/iam_policies.py from packaging/template.yaml; do not edit",
           "account": stack.account, "region": stack.region,
           "roles": {r: stack.role_policies(r) for r in ROLES}}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    with open(OUT, "w") as f:
        f.write(resolved())
    print("wrote", os.path.relpath(OUT, ROOT))
