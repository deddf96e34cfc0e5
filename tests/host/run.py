#!/usr/bin/env python3
"""Run the host-side tests of the tools (unittest) and write KTAP lines.

  python3 tests/host/run.py [--ktap FILE] [-k PATTERN] [--tree DIR] [--strict]
"""
import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), 'tools'))
import ktap  # noqa: E402  pylint: disable=wrong-import-position


def first_line(exc) -> str:
    lines = str(exc).splitlines()
    return lines[0][:200] if lines else type(exc).__name__


class KtapResult(unittest.TextTestResult):
    """Collects one (status, name, reason) per test for the KTAP file."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = []

    def addSuccess(self, test):
        super().addSuccess(test)
        self.rows.append((ktap.PASS, test.id(), ''))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.rows.append((ktap.FAIL, test.id(), first_line(err[1])))

    def addError(self, test, err):
        super().addError(test, err)
        self.rows.append((ktap.FAIL, test.id(), 'error: ' + first_line(err[1])))

    def addSubTest(self, test, subtest, err):
        # A failing subTest is not reported through addFailure, and its
        # test then never reaches addSuccess: without this row it would
        # vanish from the document.
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = '' if issubclass(err[0], test.failureException) else 'error: '
            self.rows.append((ktap.FAIL, subtest.id(), kind + first_line(err[1])))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.rows.append((ktap.SKIP, test.id(), reason))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--ktap', help='write the results as KTAP lines to FILE')
    ap.add_argument('-k', dest='pattern', action='append', help='only tests matching')
    ap.add_argument('--tree', help='kernel tree whose kunit_parser the results tests use '
                    '(default: KSRC, else the pinned base tree)')
    ap.add_argument('--strict', action='store_true',
                    help='a skipped test fails (make check: nothing may be missing)')
    args = ap.parse_args()
    if args.tree:
        if not os.path.isfile(os.path.join(args.tree, 'tools/testing/kunit/kunit_parser.py')):
            print(f'run.py: --tree {args.tree} has no tools/testing/kunit/kunit_parser.py',
                  file=sys.stderr)
            return 2
        os.environ['SGR_KUNIT_TREE'] = args.tree
    loader = unittest.TestLoader()
    if args.pattern:
        loader.testNamePatterns = [f'*{p}*' for p in args.pattern]
    suite = loader.discover(HERE, pattern='test_*.py', top_level_dir=HERE)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=KtapResult, stream=sys.stderr)
    result = runner.run(suite)
    if args.strict:
        result.rows = [(ktap.FAIL, name, f'skipped, but make check needs it: {why}')
                       if st == ktap.SKIP else (st, name, why) for st, name, why in result.rows]
    if args.ktap:
        with open(args.ktap, 'w') as f:
            f.write(ktap.document(result.rows))
    if result.testsRun == 0:
        print('no host test ran', file=sys.stderr)
        return 1
    if any(st == ktap.FAIL for st, _, _ in result.rows):
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == '__main__':
    sys.exit(main())
