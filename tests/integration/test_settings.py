"""The settings and command tables (src/base/settings_table.c,
src/cmd/commands.c) as the release binary shows them: --help lists every
command of docs/taskpipe.1's COMMANDS section and each answers its own
--help; the hidden generators write exactly the committed docs
(docs/taskpipe.1, docs/settings.md: `make docs`); every variable of the
reference is in `help settings`; a value a setting's parser refuses is
named (variable and value) and either stops the command (watch) or leaves
the default with a warning. No AWS."""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run_taskpipe, BASE_ENV  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def man_commands():
    """The command names of docs/taskpipe.1's COMMANDS section."""
    man = read("docs/taskpipe.1")
    section = man.split(".SH COMMANDS\n", 1)[1].split(".SH ", 1)[0]
    return re.findall(r"^\\fBtaskpipe ([a-z-]+)\\fR", section, re.M)


def reference_variables():
    """The variables of docs/settings.md's controller tables (not the consumer's)."""
    md = read("docs/settings.md").split("## Consumer environment", 1)[0]
    return re.findall(r"^\| `(TASKPIPE_[A-Z0-9_]+)` \|", md, re.M)


class Generated(unittest.TestCase):
    def test_committed_docs_are_what_the_binary_generates(self):
        for flag, path in (("--man", "docs/taskpipe.1"), ("--settings-markdown", "docs/settings.md")):
            with self.subTest(path):
                r = run_taskpipe(["help", flag], dict(BASE_ENV))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, read(path), "%s is stale: run make docs" % path)

    def test_help_lists_every_command_and_each_has_its_help(self):
        names = man_commands()
        self.assertGreaterEqual(len(names), 20)
        self.assertIn("apply", names)
        r = run_taskpipe(["--help"], dict(BASE_ENV))
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = re.findall(r"^  ([a-z-]+)", r.stdout, re.M)
        self.assertEqual(listed, names)
        for name in names:
            if name in ("help", "consume", "debug", "version"):
                continue   # consume --help is the consumer's; debug and version have none
            with self.subTest(name):
                h = run_taskpipe([name, "--help"], dict(BASE_ENV))
                self.assertEqual(h.returncode, 0, h.stderr)
                self.assertTrue(h.stdout.startswith("usage: taskpipe " + name), h.stdout[:80])

    def test_no_command_is_an_error_with_the_list(self):
        r = run_taskpipe([], dict(BASE_ENV))
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage: taskpipe COMMAND", r.stderr)
        r = run_taskpipe(["nosuch"], dict(BASE_ENV))
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'nosuch'", r.stderr)
        self.assertIn("  apply ", r.stderr)

    def test_help_settings_shows_every_variable_of_the_reference(self):
        r = run_taskpipe(["help", "settings"], dict(BASE_ENV))
        self.assertEqual(r.returncode, 0, r.stderr)
        variables = reference_variables()
        self.assertGreaterEqual(len(variables), 35)
        for v in variables:
            self.assertIn(v, r.stdout)
        # the test knobs are marked as such
        testing = r.stdout.split("testing (", 1)[1]
        for v in ("TASKPIPE_WAIT_POLLS", "TASKPIPE_DRAIN_SETTLE_S", "TASKPIPE_TODAY"):
            self.assertIn(v, testing)


class BadValues(unittest.TestCase):
    def test_watch_stops_naming_the_variable(self):
        env = dict(BASE_ENV, TASKPIPE_WATCH_MAX_ATTEMPTS="many")
        r = run_taskpipe(["watch", "--once"], env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("TASKPIPE_WATCH_MAX_ATTEMPTS='many' is not an integer in 1..1000000", r.stderr)

    def test_a_refused_value_warns_and_the_default_applies(self):
        # policy check runs offline and reads the instance settings
        env = dict(BASE_ENV, TASKPIPE_LOG_LEVEL="WARN", TASKPIPE_PARALLEL="lots",
                   TASKPIPE_LAMBDA_BUDGET="nearby", TASKPIPE_CODE_BUCKET="b", TASKPIPE_CODE_KEY="k.zip",
                   TASKPIPE_ROLE_ARN="arn:aws:iam::123456789012:role/r")
        r = run_taskpipe(["policy", "check", "-"], env, input='{"pipeline": "a"}\n')
        self.assertIn("TASKPIPE_PARALLEL='lots' is not an integer in 1..2147483647; using 16", r.stderr)
        self.assertIn("TASKPIPE_LAMBDA_BUDGET='nearby' is not one of shared|local; using shared", r.stderr)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
