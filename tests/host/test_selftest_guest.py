#!/usr/bin/env python3
"""tests/guest/t/selftest.sh under dash with a fake kselftest: the
program's KTAP nests under dma_reuse_selftest, the mode decides what the
program is told to expect, and its exit status is the verdict; a kernel
without the cache is a skip, a missing program or an unbound test module
a failure."""
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

from helpers import REPO, TOOLS
from test_bench import assert_dialect

GUEST = os.path.join(REPO, 'tests', 'guest')

FAKE = '''#!/bin/sh
echo "args: $*" >"$D/args"
echo 'TAP version 13'
echo '1..5'
echo '# compressor lz4-dmatest: driver lz4-dmatest-pci, type acomp'
echo 'ok 1 store_load_verified_on'
echo 'ok 2 cache_served_on'
echo 'ok 3 switch_off_unmaps'
echo 'ok 4 store_load_verified_off'
echo 'ok 5 ab_interleaved_verified'
echo '# Totals: pass:5 fail:0 xfail:0 xpass:0 skip:0 error:0'
exit ${FAKE_RC:-0}
'''


class Selftest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='sgr-selftest.')
        self.addCleanup(shutil.rmtree, self.tmp)
        self.bin = os.path.join(self.tmp, 'dma_reuse_zswap')
        with open(self.bin, 'w') as f:
            f.write(FAKE)
        os.chmod(self.bin, os.stat(self.bin).st_mode | stat.S_IEXEC)
        self.switch = os.path.join(self.tmp, 'enabled')
        with open(self.switch, 'w') as f:
            f.write('Y\n')
        os.makedirs(os.path.join(self.tmp, 'drv', '0000:00:11.0'))

    def run_case(self, translates=1, rc=0, switch=True, binary=True, bound=True):
        env = dict(os.environ, KTAP_SH=os.path.join(TOOLS, 'ktap.sh'), GUEST=GUEST,
                   SGR_LIB=GUEST, D=self.tmp, FAKE_RC=str(rc))
        script = ('. "$KTAP_SH"; . "$GUEST/lib.sh"; . "$GUEST/t/selftest.sh"\n'
                  'setup_swap() { return 0; }\n'
                  f'DMA_REUSE_SWITCH={self.switch if switch else "/nonexistent"}\n'
                  f'DMA_REUSE_SELFTEST_BIN={self.bin if binary else "/nonexistent"}\n'
                  f'LZ4DT={os.path.join(self.tmp, "drv") if bound else "/nonexistent"}\n'
                  f'TESTDEV=0000:00:11.0 MODE=m MODE_TRANSLATES={translates}\n'
                  'SELFTEST_MIB=8 SELFTEST_PASSES=2\n'
                  'ktap_begin 1\nselftest_run\n')
        p = subprocess.run(['dash', '-c', script], env=env, capture_output=True, text=True,
                           timeout=30)
        lines = p.stdout.splitlines()
        assert_dialect(self, lines)
        top = [l for l in lines if l.startswith(('ok ', 'not ok '))]
        self.assertEqual(len(top), 1, p.stdout + p.stderr)
        return top[0], lines

    def args(self):
        with open(os.path.join(self.tmp, 'args')) as f:
            return f.read().split()

    def test_translating_mode_expects_a_cache_and_nests_the_cases(self):
        res, lines = self.run_case(translates=1)
        self.assertEqual(res, 'ok 1 dma_reuse_selftest')
        self.assertIn('--expect-cache', self.args())
        self.assertEqual(self.args()[1:6], ['-c', 'lz4-dmatest', '-m', '8', '-p'])
        self.assertIn('    # Subtest: dma_reuse_selftest', lines)
        self.assertIn('    ok 2 cache_served_on', lines)
        self.assertNotIn('    TAP version 13', lines)
        self.assertEqual([l for l in lines if l.strip() == '1..5'], ['    1..5'])

    def test_other_modes_expect_no_cache(self):
        self.run_case(translates=0)
        self.assertIn('--expect-no-cache', self.args())

    def test_the_exit_status_is_the_verdict(self):
        res, _ = self.run_case(rc=1)
        self.assertEqual(res, 'not ok 1 dma_reuse_selftest # dma_reuse_zswap --expect-cache exited 1')

    def test_without_the_cache_a_skip_elsewhere_failures(self):
        res, _ = self.run_case(switch=False)
        self.assertTrue(res.startswith('ok 1 dma_reuse_selftest # SKIP no '), res)
        res, _ = self.run_case(binary=False)
        self.assertTrue(res.startswith('not ok 1 dma_reuse_selftest # no /nonexistent'), res)
        res, _ = self.run_case(bound=False)
        self.assertEqual(res, 'not ok 1 dma_reuse_selftest # lz4-dmatest is not bound to 0000:00:11.0')


if __name__ == '__main__':
    unittest.main()
