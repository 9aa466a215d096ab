"""CloudWatch Embedded Metric Format checks for the tests: the document
structure of "Specification: Embedded metric format" (CloudWatch user guide)
as a JSON schema, plus what a schema cannot say (every dimension key and
metric name is a member of the root; a metric holds a number or at most
100 numbers)."""
import json

import jsonschema

UNITS = ("Seconds|Microseconds|Milliseconds|Bytes|Kilobytes|Megabytes|Gigabytes|Terabytes|Bits|Kilobits|"
         "Megabits|Gigabits|Terabits|Percent|Count|Bytes/Second|Kilobytes/Second|Megabytes/Second|"
         "Gigabytes/Second|Terabytes/Second|Bits/Second|Kilobits/Second|Megabits/Second|Gigabits/Second|"
         "Terabits/Second|Count/Second|None")

SCHEMA = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer"},
                "CloudWatchMetrics": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 1024},
                            "Dimensions": {
                                "type": "array", "minItems": 1,
                                "items": {"type": "array", "minItems": 0, "maxItems": 30,
                                          "items": {"type": "string", "minLength": 1, "maxLength": 250}},
                            },
                            "Metrics": {
                                "type": "array", "maxItems": 100,
                                "items": {
                                    "type": "object", "required": ["Name"],
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1, "maxLength": 1024},
                                        "Unit": {"type": "string", "pattern": "^(%s)$" % UNITS},
                                        "StorageResolution": {"type": "integer"},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def check(doc):
    """Raises AssertionError naming what is wrong with one EMF document."""
    try:
        jsonschema.validate(doc, SCHEMA)
    except jsonschema.ValidationError as e:
        raise AssertionError("EMF schema: %s in %s" % (e.message, json.dumps(doc)[:300]))
    for d in doc["_aws"]["CloudWatchMetrics"]:
        for s in d["Dimensions"]:
            for k in s:
                assert isinstance(doc.get(k), str) and len(doc[k]) <= 1024, \
                    "dimension %s: no string member of that name" % k
        for m in d["Metrics"]:
            v = doc.get(m["Name"])
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) or \
                isinstance(v, list) and len(v) <= 100 and all(isinstance(x, (int, float)) for x in v)
            assert ok, "metric %s: %r is not a number or up to 100 numbers" % (m["Name"], v)


def lines(text):
    """Every EMF document among the JSON log lines of text, each checked."""
    out = []
    for ln in text.splitlines():
        if not ln.startswith("{") or '"_aws"' not in ln:
            continue
        doc = json.loads(ln)
        check(doc)
        out.append(doc)
    return out


def names(doc):
    return [m["Name"] for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]


def dimension_sets(doc):
    return [s for d in doc["_aws"]["CloudWatchMetrics"] for s in d["Dimensions"]]
