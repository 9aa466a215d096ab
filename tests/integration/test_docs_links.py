"""README.md and docs/ as a front door, checked without AWS.

- Every relative link in README.md, docs/*.md and tests/README.md names a
  file of the tree, and a `#anchor` on a markdown file names one of its
  headings (GitHub's anchors: lower case, punctuation dropped, spaces to
  `-`, a repeated heading gets `-1`, `-2`, ...). A bare `#anchor` names a
  heading of the same file. Links inside code (fenced blocks, `inline`)
  are not links.
- Every docs/*.md is linked from README.md: nothing moved out of README is
  left where no reader finds it.
- README.md stays a front door (at most 200 lines), its first two commands
  are `make demo` and `make test`, and .ci/run runs exactly that test
  command.
"""
import os
import re
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

README_MAX_LINES = 200

LINK = re.compile(r"(?<!!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def doc_files():
    files = ["README.md", os.path.join("tests", "README.md")]
    docs = os.path.join(ROOT, "docs")
    if os.path.isdir(docs):
        files += sorted(os.path.join("docs", f) for f in os.listdir(docs) if f.endswith(".md"))
    return files


def prose_lines(text):
    """(line number, line) of the lines outside fenced code blocks, with
    inline code spans blanked out."""
    inside = False
    for n, line in enumerate(text.split("\n"), 1):
        if FENCE.match(line):
            inside = not inside
            continue
        if inside:
            continue
        yield n, re.sub(r"(`+)(?:(?!\1).)+?\1", lambda m: " " * len(m.group(0)), line)


def slug(heading):
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # a link's text only
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    seen = {}
    out = set()
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for _, line in prose_lines_keep_code(text):
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        k = seen.get(base, 0)
        seen[base] = k + 1
        out.add(base if k == 0 else "%s-%d" % (base, k))
    return out


def prose_lines_keep_code(text):
    """Lines outside fenced code blocks, inline code kept (headings keep
    their backticked words in the anchor)."""
    inside = False
    for n, line in enumerate(text.split("\n"), 1):
        if FENCE.match(line):
            inside = not inside
            continue
        if not inside:
            yield n, line


def links(relpath):
    """(line number, target) of the file's links; a link's text may run
    over lines."""
    with open(os.path.join(ROOT, relpath), encoding="utf-8") as f:
        text = f.read()
    lines = text.split("\n")
    prose = dict(prose_lines(text))
    blanked = "\n".join(prose.get(n, "") for n in range(1, len(lines) + 1))
    for m in LINK.finditer(blanked):
        yield blanked.count("\n", 0, m.start(1)) + 1, m.group(1)


def is_external(target):
    return re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) is not None


def broken_links(relpath):
    """Messages for the file's relative links that do not resolve."""
    bad = []
    here = os.path.dirname(relpath)
    for n, target in links(relpath):
        if is_external(target):
            continue
        path, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(here, path)) if path else relpath
        where = "%s:%d: %s" % (relpath, n, target)
        if dest.startswith(".."):
            bad.append(where + ": leaves the tree")
            continue
        if not os.path.exists(os.path.join(ROOT, dest)):
            bad.append(where + ": no such file " + dest)
            continue
        if anchor:
            if not dest.endswith(".md"):
                bad.append(where + ": an anchor on a file that is not markdown")
            elif anchor not in anchors(os.path.join(ROOT, dest)):
                bad.append(where + ": no heading #%s in %s" % (anchor, dest))
    return bad


class DocsLinks(unittest.TestCase):
    def test_relative_links_resolve(self):
        bad = []
        for f in doc_files():
            bad += broken_links(f)
        self.assertEqual(bad, [], "broken links:\n" + "\n".join(bad))

    def test_every_doc_is_linked_from_readme(self):
        linked = {os.path.normpath(t.partition("#")[0]) for _, t in links("README.md") if not is_external(t)}
        missing = [f for f in doc_files() if f.startswith("docs") and f not in linked]
        self.assertEqual(missing, [], "docs not linked from README.md")

    def test_checker_finds_what_is_broken(self):
        """The checker itself: a missing file, a missing anchor and a link
        leaving the tree are reported; code spans and external links are
        not links."""
        tmp = os.path.join(ROOT, "out", "test-docs-links")
        os.makedirs(tmp, exist_ok=True)
        rel = os.path.relpath(os.path.join(tmp, "probe.md"), ROOT)
        with open(os.path.join(ROOT, rel), "w", encoding="utf-8") as f:
            f.write("# Probe: `one` two\n\n## Probe: one two\n\n"
                    "[ok](#probe-one-two) [ok](#probe-one-two-1) [bad](#nope)\n"
                    "[gone](nosuch.md) [up](../../../../outside.md) [web](https://example.com/x)\n"
                    "`[code](nosuch2.md)`\n```\n[fenced](nosuch3.md)\n```\n"
                    "[two\nlines](nosuch4.md)\n")
        bad = broken_links(rel)
        self.assertEqual(len(bad), 4, bad)
        self.assertIn("no heading #nope", bad[0])
        self.assertIn("no such file", bad[1])
        self.assertIn("leaves the tree", bad[2])
        self.assertIn(":12: nosuch4.md: no such file", bad[3])

    def test_slug_follows_github(self):
        self.assertEqual(slug("`taskpipe aws`: the escape hatch"), "taskpipe-aws-the-escape-hatch")
        self.assertEqual(slug("Lifecycle: pause, resume, redrive, purge"), "lifecycle-pause-resume-redrive-purge")
        self.assertEqual(slug("The AWS-faithful layer (`tests/integration/awsmodel.py`)"),
                         "the-aws-faithful-layer-testsintegrationawsmodelpy")


class ReadmeFrontDoor(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            self.readme = f.read()

    def test_short(self):
        n = self.readme.count("\n")
        self.assertLessEqual(n, README_MAX_LINES, "README.md has %d lines" % n)

    def first_commands(self):
        cmds = []
        inside = False
        for line in self.readme.split("\n"):
            if FENCE.match(line):
                inside = not inside
                continue
            if inside and line.strip() and not line.lstrip().startswith("#"):
                cmds.append(line.split("#")[0].strip())
        return cmds

    def test_the_two_commands_come_first(self):
        self.assertEqual(self.first_commands()[:2], ["make demo", "make test"])

    def test_ci_runs_the_readme_test_command(self):
        with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as f:
            ci = [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]
        runs = [l for l in ci if not l.startswith(("set ", "cd "))]
        self.assertEqual(runs, [self.first_commands()[1]], ".ci/run must run exactly README's test command")


if __name__ == "__main__":
    unittest.main()
