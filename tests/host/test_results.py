"""Host tests of tools/results.py and tools/kconfig_check.py against
recorded guest logs (tests/host/data/<case>/): a pass, a failed guest test,
a kernel crash, a hung guest.  The KTAP parser is the kernel tree's own
kunit_parser, so these tests need a tree: KSRC, or the pinned base tree."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from helpers import DATA, REPO, TOOLS

sys.path.insert(0, TOOLS)
import kconfig_check  # noqa: E402  pylint: disable=wrong-import-position
import results  # noqa: E402  pylint: disable=wrong-import-position


def find_tree():
    if os.environ.get('KSRC'):
        return os.environ['KSRC']
    p = subprocess.run([os.path.join(TOOLS, 'base-tree'), '--print'],
                       capture_output=True, text=True, env=dict(os.environ, KSRC=''))
    return p.stdout.strip() if p.returncode == 0 else None


TREE = find_tree()


@unittest.skipUnless(TREE, 'no kernel tree for kunit_parser (run tools/base-tree or set KSRC)')
class RecordedBoots(unittest.TestCase):
    def check(self, case):
        tmp = tempfile.mkdtemp(prefix='sgr-results.')
        self.addCleanup(shutil.rmtree, tmp)
        d = os.path.join(tmp, case)
        shutil.copytree(os.path.join(DATA, case), d)
        p = subprocess.run([os.path.join(TOOLS, 'results.py'), 'mode', '--name', case,
                            '--dir', d, '--tree', TREE], capture_output=True, text=True)
        with open(os.path.join(d, 'result.json')) as f:
            res = results.ModeResult.from_json(f.read())
        return p, res, {c.name: c for c in res.cases}

    def test_pass(self):
        p, res, cases = self.check('pass')
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(res.count(results.Status.FAIL), 0)
        self.assertEqual(cases['guest_finished'].status, results.Status.PASS)
        self.assertEqual(cases['console_clean'].status, results.Status.PASS)
        kunit = [c for c in res.cases if c.name.startswith('kunit.')]
        guest = [c for c in res.cases if c.name.startswith('guest.')]
        self.assertGreater(len(kunit), 10)
        self.assertIn('guest.iommu_mode_proof', cases)
        self.assertIn('guest.zswap_stress.pass1_data_verified', cases)
        self.assertGreaterEqual(len(guest), 6)
        self.assertEqual(res.metrics.get('mismatches'), 0)
        self.assertGreater(res.metrics.get('pages', 0), 0)

    def test_interleaved_console_and_second_ktap_document(self):
        p, res, cases = self.check('interleaved')
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        kunit = [c for c in res.cases if c.name.startswith('kunit.dma_reuse_cache.')]
        self.assertEqual(len(kunit), 19)
        self.assertIn('guest.kunit_rerun_dma_reuse_cache_iommu.dma_reuse_cache_iommu.'
                      'dma_reuse_test_iommu_translation.owner stop', cases)

    def test_failed_guest_test(self):
        p, res, cases = self.check('fail')
        self.assertEqual(p.returncode, 1)
        failed = [c.name for c in res.cases if c.status == results.Status.FAIL]
        self.assertEqual(failed, ['guest.iommu_mode_proof'])
        self.assertIn('FAIL guest.iommu_mode_proof', p.stdout)

    def test_kernel_crash(self):
        p, res, cases = self.check('crash')
        self.assertEqual(p.returncode, 1)
        self.assertEqual(cases['guest_finished'].status, results.Status.FAIL)
        self.assertIn('Kernel panic', cases['guest_finished'].reason)
        self.assertEqual(cases['console_clean'].status, results.Status.FAIL)
        # The test that was running when the kernel died is not a pass.
        self.assertTrue(any(c.status == results.Status.FAIL and c.name.startswith('guest.')
                            for c in res.cases))

    def test_hung_guest(self):
        p, res, cases = self.check('timeout')
        self.assertEqual(p.returncode, 1)
        self.assertEqual(cases['guest_finished'].status, results.Status.FAIL)
        self.assertIn('hung', cases['guest_finished'].reason)

    def test_summary_counts_and_last_line(self):
        tmp = tempfile.mkdtemp(prefix='sgr-summary.')
        self.addCleanup(shutil.rmtree, tmp)
        for case in ('pass', 'fail'):
            d = os.path.join(tmp, 'boot', case)
            shutil.copytree(os.path.join(DATA, case), d)
            subprocess.run([os.path.join(TOOLS, 'results.py'), 'mode', '--name', case,
                            '--dir', d, '--tree', TREE], capture_output=True, check=False)
        with open(os.path.join(tmp, 'series.ktap'), 'w') as f:
            f.write('ok 1 series and patches/ agree\nnot ok 2 apply # does not apply\n'
                    'ok 3 optional # SKIP not here\n')
        p = subprocess.run([os.path.join(TOOLS, 'results.py'), 'summary', tmp],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        want_pass = want_fail = 0
        for case in ('pass', 'fail'):
            with open(os.path.join(tmp, 'boot', case, 'result.json')) as f:
                for c in json.load(f)['cases']:
                    want_pass += c['status'] == 'pass'
                    want_fail += c['status'] == 'fail'
        last = p.stdout.strip().splitlines()[-1]
        self.assertEqual(last, f'{want_pass + 1} passed, {want_fail + 1} failed, 1 skipped')

    def test_summary_of_nothing_is_a_failure(self):
        tmp = tempfile.mkdtemp(prefix='sgr-summary.')
        self.addCleanup(shutil.rmtree, tmp)
        p = subprocess.run([os.path.join(TOOLS, 'results.py'), 'summary', tmp],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn('no test ran', p.stdout)


class ConsolePatterns(unittest.TestCase):
    def test_faults_and_splats_are_caught(self):
        pats = results.load_patterns()
        bad = [
            'WARNING: CPU: 1 PID: 1 at kernel/dma/debug.c:1049 check_unmap+0x6f0/0x8a0',
            'DMAR: DRHD: handling fault status reg 2',
            'DMAR: [DMA Read NO_PASID] Request device [00:10.0] fault addr 0xffffe000',
            'BUG: sleeping function called from invalid context at mm/page_alloc.c:4',
            'WARNING: possible circular locking dependency detected',
            'DMA-API: edu 0000:00:10.0: device driver failed to check map error',
            'ODEBUG: free active (active state 0) object: 000000001 object type: timer_list',
        ]
        for line in bad:
            with self.subTest(line=line):
                self.assertEqual(results.bad_console_lines([line], pats), [line])

    def test_benign_lines_pass(self):
        pats = results.load_patterns()
        ok = ['DMA-API: preallocated 65536 debug entries',
              'DMA-API: debugging enabled by kernel config',
              'DMAR: Intel(R) Virtualization Technology for Directed I/O',
              'zswap: loaded using pool lz4/zsmalloc']
        self.assertEqual(results.bad_console_lines(ok, pats), [])


class KconfigCheck(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='sgr-kconfig.')
        self.addCleanup(shutil.rmtree, self.tmp)
        os.makedirs(os.path.join(self.tmp, 'tree'))
        with open(os.path.join(self.tmp, 'tree', 'Kconfig'), 'w') as f:
            f.write('config FOO\n\tbool "foo"\nmenuconfig BAR\n\tbool "bar"\nconfig BAZ\n\tbool\n')

    def write(self, name, text):
        p = os.path.join(self.tmp, name)
        with open(p, 'w') as f:
            f.write(text)
        return p

    def run_check(self, frag, conf, *extra):
        return kconfig_check.main([self.write('frag', frag), self.write('conf', conf),
                                   '--tree', os.path.join(self.tmp, 'tree'), *extra])

    def test_survivors_pass(self):
        self.assertEqual(self.run_check('CONFIG_FOO=y\n# CONFIG_BAR is not set\n',
                                        'CONFIG_FOO=y\n# CONFIG_BAR is not set\n'), 0)

    def test_dropped_option_fails(self):
        self.assertEqual(self.run_check('CONFIG_FOO=y\n', '# CONFIG_FOO is not set\n'), 1)

    def test_wrong_value_fails(self):
        self.assertEqual(self.run_check('CONFIG_FOO=17\n', 'CONFIG_FOO=18\n'), 1)

    def test_unset_option_that_is_set_fails(self):
        self.assertEqual(self.run_check('# CONFIG_BAZ is not set\n', 'CONFIG_BAZ=y\n'), 1)

    def test_undefined_option_is_an_error_unless_allowed(self):
        self.assertEqual(self.run_check('CONFIG_LATER=y\n', ''), 1)
        self.assertEqual(self.run_check('CONFIG_LATER=y\n', '', '--allow-undefined'), 0)
        # A defined option that did not survive is an error even then.
        self.assertEqual(self.run_check('CONFIG_FOO=y\n', '', '--allow-undefined'), 1)

    def test_the_project_fragment_parses(self):
        with open(os.path.join(REPO, 'kernel-config')) as f:
            frag = kconfig_check.parse_config(f)
        self.assertEqual(frag.get('CONFIG_64BIT'), 'y')
        self.assertEqual(frag.get('CONFIG_SLUB_TINY'), 'n')
        # One reason comment per option: every option line follows a comment
        # or another option of the same group.
        with open(os.path.join(REPO, 'kernel-config')) as f:
            lines = [l.rstrip('\n') for l in f]
        for i, line in enumerate(lines):
            if line.startswith('CONFIG_') or line.endswith('is not set'):
                self.assertTrue(lines[i - 1].startswith('#') or lines[i - 1].startswith('CONFIG_'),
                                f'no reason comment above {line}')


if __name__ == '__main__':
    unittest.main()
