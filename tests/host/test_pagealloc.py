#!/usr/bin/env python3
"""tests/guest/t/pagealloc.sh under dash, with a recorded kernel log: the
IOMMU_DEBUG_PAGEALLOC proof passes on a report that the checker's KUnit
case bracketed at boot and fails, saying why, on each way the log can be
spoiled; dmesg_clean fails on a report outside the brackets."""
import os
import shutil
import subprocess
import tempfile
import unittest

from helpers import REPO, TOOLS
from test_bench import assert_dialect

GUEST = os.path.join(REPO, 'tests', 'guest')
ON = 'iommu: Debugging page allocations, expect overhead or disable iommu.debug_pagealloc'
BEGIN = ('    # iommu_debug_test_leak: 0000:00:00.0: expected report begins: '
         'freeing a page that is still IOMMU-mapped, on purpose')
LEAK = ['WARNING: CPU: 0 PID: 1 at drivers/iommu/iommu-debug-pagealloc.c:90',
        'iommu: Detected page leak!']
END = '    # iommu_debug_test_leak: 0000:00:00.0: expected report ends'


class Pagealloc(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='sgr-pagealloc.')
        self.addCleanup(shutil.rmtree, self.tmp)

    def run_test(self, log, cmdline='iommu.debug_pagealloc=1', test='pagealloc'):
        """The kernel log is LOG; returns the KTAP result line and the
        diagnostics."""
        with open(os.path.join(self.tmp, 'log'), 'w') as f:
            f.write(''.join(l + '\n' for l in log))
        script = ('. "$KTAP_SH"; . "$GUEST/lib.sh"; . "$GUEST/t/$T.sh"\n'
                  'dmesg() { cat "$D/log"; }\n'
                  'MODE=vtd-strict MODE_TRANSLATES=1 DMESG_PATTERNS=$PATTERNS\n'
                  '"${T}_run"\n')
        # The patterns as tools/initramfs puts them in the guest: without
        # the comment lines.
        patterns = os.path.join(self.tmp, 'dmesg-patterns')
        with open(os.path.join(REPO, 'tests', 'dmesg-patterns')) as f, open(patterns, 'w') as g:
            g.write(''.join(l for l in f if l.strip() and not l.startswith('#')))
        env = dict(os.environ, KTAP_SH=os.path.join(TOOLS, 'ktap.sh'), GUEST=GUEST,
                   SGR_LIB=GUEST, SGR_CMDLINE=cmdline, D=self.tmp, T=test,
                   PATTERNS=patterns)
        p = subprocess.run(['dash', '-c', script], env=env, capture_output=True,
                           text=True, timeout=30)
        lines = p.stdout.splitlines()
        assert_dialect(self, lines)
        results = [l for l in lines if l.startswith(('ok ', 'not ok '))]
        self.assertEqual(len(results), 1, p.stdout + p.stderr)
        return results[0], lines

    def test_bracketed_report_passes(self):
        res, lines = self.run_test([ON, BEGIN] + LEAK + [END])
        self.assertEqual(res, 'ok 1 iommu_debug_pagealloc_live', lines)
        self.assertIn('# pagealloc: page leak reports: 1 in all, 1 between the KUnit case\'s markers',
                      lines)

    def test_each_spoiled_log_fails_for_its_own_reason(self):
        for name, log, want in (
                ('no report', [ON, BEGIN, END],
                 'the checker did not report the page freed while mapped'),
                ('report outside the markers', [ON, BEGIN, END] + LEAK,
                 'the report is not between the KUnit case\'s marker lines'),
                ('checker never started', [BEGIN] + LEAK + [END],
                 'iommu.debug_pagealloc=1, but the checker did not announce itself')):
            with self.subTest(spoil=name):
                res, lines = self.run_test(log)
                self.assertEqual(res, f'not ok 1 iommu_debug_pagealloc_live # {want}', lines)

    def test_no_kunit_marker_fails(self):
        res, _ = self.run_test([ON] + LEAK)
        self.assertTrue(res.startswith("not ok 1 iommu_debug_pagealloc_live # the checker's KUnit "
                                       'case left no marker'), res)

    def test_no_parameter_is_a_skip_that_says_why(self):
        res, _ = self.run_test([ON], cmdline='')
        self.assertEqual(res, 'ok 1 iommu_debug_pagealloc_live # SKIP no iommu.debug_pagealloc=1: '
                         'the kernel has no CONFIG_IOMMU_DEBUG_PAGEALLOC')

    def test_dmesg_clean_skips_the_bracketed_report_only(self):
        res, _ = self.run_test([ON, BEGIN] + LEAK + [END], test='dmesg')
        self.assertEqual(res, 'ok 1 dmesg_clean')
        res, _ = self.run_test([ON, BEGIN, END] + LEAK, test='dmesg')
        self.assertEqual(res, 'not ok 1 dmesg_clean # 2 bad line(s) in dmesg')


if __name__ == '__main__':
    unittest.main()
