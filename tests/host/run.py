#!/usr/bin/env python3
"""Run the host-side tests of the tools (unittest) and write KTAP lines.

  python3 tests/host/run.py [--ktap FILE] [-k PATTERN]
"""
import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class KtapResult(unittest.TextTestResult):
    """Collects one (status, name, reason) per test for the KTAP file."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = []

    def addSuccess(self, test):
        super().addSuccess(test)
        self.rows.append(('ok', test.id(), ''))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.rows.append(('not ok', test.id(), str(err[1]).splitlines()[0][:200]))

    def addError(self, test, err):
        super().addError(test, err)
        self.rows.append(('not ok', test.id(), f'error: {str(err[1]).splitlines()[0][:200]}'))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.rows.append(('ok', test.id(), f'SKIP {reason}'))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--ktap', help='write the results as KTAP lines to FILE')
    ap.add_argument('-k', dest='pattern', action='append', help='only tests matching')
    args = ap.parse_args()
    loader = unittest.TestLoader()
    if args.pattern:
        loader.testNamePatterns = [f'*{p}*' for p in args.pattern]
    suite = loader.discover(HERE, pattern='test_*.py', top_level_dir=HERE)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=KtapResult, stream=sys.stderr)
    result = runner.run(suite)
    if args.ktap:
        with open(args.ktap, 'w') as f:
            for i, (st, name, why) in enumerate(result.rows, 1):
                f.write(f'{st} {i} {name}{" # " + why if why else ""}\n')
    if result.testsRun == 0:
        print('no host test ran', file=sys.stderr)
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == '__main__':
    sys.exit(main())
