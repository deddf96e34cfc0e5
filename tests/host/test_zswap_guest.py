#!/usr/bin/env python3
"""tests/guest/lib.sh's zswap helpers under dash, with a fake zswap_stress
and a fake /proc/crypto: a stress killed before its plan is done still
gives a whole nested document whose missing leaves fail by name, with the
exit status, all the way through tools/results.py; a stress that reports
everything is passed on untouched; and wait_no_dmatest_pool waits for
zswap's old lz4-dmatest pool to go, and fails saying so when it stays."""
import os
import shutil
import subprocess
import tempfile
import textwrap
import unittest

from helpers import REPO, TOOLS
from test_bench import assert_dialect
from test_results import TREE, summary

GUEST = os.path.join(REPO, 'tests', 'guest')

HEAD = ('echo "    KTAP version 1"; echo "    # Subtest: $NAME"; echo "    1..3"\n')
# The record zswap_stress prints for a pass, before the pass's cases.
STRESS = ('    # SGR STRESS name=rebound pass=1 pages=4096 seed=2 swapout_pages_per_s=40000 '
          'zswap_stored_pages=-1 swapin_pages_per_s=90000 mismatches=0 zswpout=4096 '
          'zswpin=4096 pswpout=0 pswpin=0 vmstat_zswpout=4100 vmstat_zswpin=4096 zswpwb=0')


def crypto(refcnt):
    """A /proc/crypto with lz4-dmatest at REFCNT, between two others."""
    return textwrap.dedent(f'''\
        name         : lz4
        driver       : lz4-scomp
        module       : kernel
        priority     : 0
        refcnt       : 7
        selftest     : passed

        name         : lz4-dmatest
        driver       : lz4-dmatest-pci
        module       : kernel
        priority     : 100
        refcnt       : {refcnt}
        selftest     : passed

        name         : deflate
        driver       : deflate-generic
        module       : kernel
        priority     : 0
        refcnt       : 1
        selftest     : passed
        ''')


class GuestZswap(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='sgr-zswap.')
        self.addCleanup(shutil.rmtree, self.tmp)
        os.makedirs(os.path.join(self.tmp, 'cg'))
        self.crypto = os.path.join(self.tmp, 'crypto')

    def sh(self, body, script='', timeout=60):
        """Runs BODY in dash with the library sourced and fd 3 on stdout;
        SCRIPT, if given, is the fake zswap_stress (it gets the program's
        arguments; NAME is its --name)."""
        prog = os.path.join(self.tmp, 'zswap_stress')
        with open(prog, 'w') as f:
            f.write('#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = --name ] && NAME=$2; '
                    'shift; done\n' + script)
        os.chmod(prog, 0o755)
        env = dict(os.environ, KTAP_SH=os.path.join(TOOLS, 'ktap.sh'), GUEST=GUEST,
                   SGR_LIB=GUEST, SGR_CMDLINE='', ZSWAP_STRESS_BIN=prog,
                   SGR_CGROUP_ROOT=os.path.join(self.tmp, 'cg'),
                   SGR_PROC_CRYPTO=self.crypto)
        p = subprocess.run(['dash', '-c', '. "$KTAP_SH"; . "$GUEST/lib.sh"; '
                            'exec 3>&1; KTAP_FD=3\n' + body],
                           env=env, capture_output=True, text=True, timeout=timeout)
        assert_dialect(self, p.stdout.splitlines())
        return p

    def stress_doc(self, script):
        """The document of one case around one stress, as /init and
        t/zswap.sh write it, and the summary of it."""
        p = self.sh('ktap_begin 1\nstress rebound 16 2; rc=$?\n'
                    'if [ $rc = 0 ]; then result 0 rebound; '
                    'else result 1 rebound "zswap_stress exited $rc"; fi\n', script)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(self.tmp, 'z.ktap'), 'w') as f:
            f.write(p.stdout)
        return p.stdout, summary(self.tmp)

    @unittest.skipUnless(TREE, 'no kernel tree for kunit_parser')
    def test_killed_stress_fails_its_missing_cases_by_name(self):
        doc, s = self.stress_doc(HEAD + 'echo "    ok 1 pass1_data_verified"\nkill -9 $$\n')
        self.assertIn('    not ok 2 pass1_zswap_stored # zswap_stress exited 137 before it '
                      'reported this case', doc)
        self.assertIn('    not ok 3 pass1_zswap_loaded #', doc)
        self.assertIn('not ok 1 rebound # zswap_stress exited 137', doc)
        out = s.stdout
        self.assertEqual(s.returncode, 1, out)
        self.assertIn('FAIL z.rebound.pass1_zswap_stored: zswap_stress exited 137 before it '
                      'reported this case', out)
        self.assertIn('FAIL z.rebound.pass1_zswap_loaded: zswap_stress exited 137', out)
        self.assertIn('FAIL z.rebound: zswap_stress exited 137', out)
        for bad in ('crashed', 'parse error', 'no result line', 'missing'):
            self.assertNotIn(bad, out)
        self.assertEqual(out.strip().splitlines()[-1], '1 passed, 3 failed')

    @unittest.skipUnless(TREE, 'no kernel tree for kunit_parser')
    def test_stress_killed_before_its_plan_gets_one_failing_leaf(self):
        doc, s = self.stress_doc('echo "    KTAP version 1"; echo "    # Subtest: $NAME"\n'
                                 'kill -9 $$\n')
        self.assertIn('    not ok 1 no_plan # zswap_stress exited 137 before its plan', doc)
        self.assertNotIn('crashed', s.stdout)
        self.assertEqual(s.stdout.strip().splitlines()[-1], '0 passed, 2 failed')

    @unittest.skipUnless(TREE, 'no kernel tree for kunit_parser')
    def test_whole_document_is_passed_on_untouched(self):
        leaves = ''.join(f'echo "    ok {i} pass1_{n}"\n' for i, n in
                         enumerate(('data_verified', 'zswap_stored', 'zswap_loaded'), 1))
        doc, s = self.stress_doc(HEAD + f'echo "{STRESS}"\n' + leaves)
        self.assertEqual(s.stdout.strip().splitlines()[-1], '4 passed, 0 failed', s.stdout)
        # The pass's record too, as the program wrote it, once.
        self.assertEqual([l for l in doc.splitlines() if 'SGR' in l], [STRESS])
        # A program that reported every case and failed adds nothing.
        failing = leaves.replace('ok 3 pass1_zswap_loaded', 'not ok 3 pass1_zswap_loaded # 0%')
        doc, s = self.stress_doc(HEAD + failing + 'exit 1\n')
        self.assertEqual(doc.count('pass1_zswap_loaded'), 1, doc)
        self.assertIn('FAIL z.rebound.pass1_zswap_loaded: 0%', s.stdout)
        self.assertEqual(s.stdout.strip().splitlines()[-1], '2 passed, 2 failed')

    def test_stress_status_and_stream_survive(self):
        p = self.sh('stress s 16 2; echo "rc=$?"; ls /tmp/stress.s.* 2>/dev/null | wc -l',
                    HEAD + 'echo "    ok 1 pass1_data_verified"\nexit 3\n')
        lines = p.stdout.splitlines()
        self.assertIn('    ok 1 pass1_data_verified', lines)
        self.assertIn('rc=3', lines)
        self.assertEqual(lines[-1].strip(), '0', 'the kept output is removed')

    def test_lz4_drivers(self):
        """Only what is named "lz4" counts: lz4-dmatest's own name does not,
        and a module that took the name "lz4" again would show."""
        with open(self.crypto, 'w') as f:
            f.write(crypto(1))
        self.assertEqual(self.sh('echo "[$(lz4_drivers)]"').stdout.strip(), '[lz4-scomp ]')
        with open(self.crypto, 'w') as f:
            f.write(crypto(1).replace('name         : lz4-dmatest', 'name         : lz4'))
        self.assertEqual(self.sh('echo "[$(lz4_drivers)]"').stdout.strip(),
                         '[lz4-dmatest-pci lz4-scomp ]')

    def test_wait_no_dmatest_pool(self):
        with open(self.crypto, 'w') as f:
            f.write(crypto(1))
        # At rest (the registration's reference only): no wait.
        p = self.sh('wait_no_dmatest_pool && echo gone')
        self.assertEqual(p.stdout.strip(), 'gone')
        with open(self.crypto, 'w') as f:
            f.write(crypto(3))
        # A pool that stays: a failure that says so.  (v2 took the count
        # before zswap's first switch, when its boot pool held two tfms, as
        # the rest, and returned at once here.)
        p = self.sh('SGR_POOL_WAIT=2\n'
                    'if wait_no_dmatest_pool; then echo gone; else echo "fail: $FAIL_WHY"; fi')
        self.assertEqual(p.stdout.strip(), 'fail: zswap still holds lz4-dmatest tfms 2s after '
                         'the switch away (refcnt 3, 1 at rest)')
        # A pool that goes while we wait.
        p = self.sh('SGR_POOL_WAIT=20\n'
                    '(sleep 2; sed "s/refcnt       : 3/refcnt       : 1/" "$SGR_PROC_CRYPTO" '
                    '>"$SGR_PROC_CRYPTO.new"; mv "$SGR_PROC_CRYPTO.new" "$SGR_PROC_CRYPTO") &\n'
                    'if wait_no_dmatest_pool; then echo gone; else echo "fail: $FAIL_WHY"; fi')
        self.assertEqual(p.stdout.strip(), 'gone')
        # No algorithm: never "gone".
        for body in ('SGR_PROC_CRYPTO=/nonexistent',):
            p = self.sh(body + '\nSGR_POOL_WAIT=1\n'
                        'if wait_no_dmatest_pool; then echo gone; else echo "fail: $FAIL_WHY"; fi')
            self.assertTrue(p.stdout.startswith('fail: zswap still holds'), p.stdout)


if __name__ == '__main__':
    unittest.main()
