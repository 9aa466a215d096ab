"""Runs every tests/integration/test_*.py with unittest and ends with the
line 'N passed, N failed, N skipped'. Exit status 0 only when nothing failed
and at least one test ran. Optional arguments: module name patterns."""
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)


def main():
    patterns = sys.argv[1:] or ["test_*.py"]
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    for p in patterns:
        suite.addTests(loader.discover(here, pattern=p if p.endswith(".py") else p + ".py", top_level_dir=here))
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(0 if failed == 0 and result.testsRun > 0 else 1)


if __name__ == "__main__":
    main()
