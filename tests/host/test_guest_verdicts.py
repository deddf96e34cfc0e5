"""The guest's own verdicts where v2 let a skip or a stale read pass, run
under dash with a fake /sys: the KUnit rerun must run (t/kunit.sh), and a
test driver that is built in but did not bind fails the zswap cases
instead of skipping them (t/zswap.sh)."""
import os
import shutil
import subprocess
import tempfile
import unittest

from helpers import REPO, TOOLS

GUEST = os.path.join(REPO, 'tests', 'guest')
SUITE = 'dma_reuse_cache_iommu'


def kunit_results(*cases):
    """A KUnit debugfs results file: the suite with CASES (name, skip?)."""
    lines = ['KTAP version 1', '1..1', '    KTAP version 1', f'    # Subtest: {SUITE}',
             f'    1..{len(cases)}']
    for i, (name, skip) in enumerate(cases, 1):
        lines.append(f'    ok {i} {name}' + (' # SKIP no IOMMU group' if skip else ''))
    lines.append(f'ok 1 {SUITE}' + (' # SKIP' if all(s for _, s in cases) else ''))
    return '\n'.join(lines) + '\n'


class GuestVerdicts(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='sgr-guest.')
        self.addCleanup(shutil.rmtree, self.tmp)

    def dash(self, script, **env):
        e = dict(os.environ, KTAP_SH=os.path.join(TOOLS, 'ktap.sh'), GUEST=GUEST,
                 SGR_LIB=GUEST, D=self.tmp, **env)
        p = subprocess.run(['dash', '-c', '. "$KTAP_SH"; . "$GUEST/lib.sh"\n' + script],
                           env=e, capture_output=True, text=True, timeout=30)
        return [l for l in p.stdout.splitlines() if l.startswith(('ok ', 'not ok '))], p

    def rerun(self, results, translates, run_writable=True):
        d = os.path.join(self.tmp, 'debug', 'kunit', SUITE)
        os.makedirs(d)
        if run_writable:
            open(os.path.join(d, 'run'), 'w').close()
        else:
            os.makedirs(os.path.join(d, 'run'))      # a write to it fails
        with open(os.path.join(d, 'results'), 'w') as f:
            f.write(results)
        # t/kunit.sh reads /sys/kernel/debug: point it at the fake one.
        with open(os.path.join(GUEST, 't', 'kunit.sh')) as f:
            body = f.read().replace('/sys/kernel/debug/kunit', os.path.join(self.tmp, 'debug', 'kunit'))
        path = os.path.join(self.tmp, 'kunit.sh')
        with open(path, 'w') as f:
            f.write(body)
        res, p = self.dash(f'. {path}\nbind_edu() {{ :; }}\n'
                           f'KUNIT_RERUN={SUITE} MODE=virtio-iommu MODE_TRANSLATES={translates}\n'
                           'kunit_run\n')
        self.assertEqual(len(res), 1, p.stdout + p.stderr)
        return res[0]

    def test_a_rerun_that_ran(self):
        self.assertEqual(self.rerun(kunit_results(('a', False), ('b', True)), 1),
                         f'ok 1 kunit_rerun_{SUITE}')

    def test_a_failed_write_fails_the_rerun(self):
        res = self.rerun(kunit_results(('a', False)), 1, run_writable=False)
        self.assertEqual(res, f'not ok 1 kunit_rerun_{SUITE} # writing \'run\' to '
                         f'{self.tmp}/debug/kunit/{SUITE}/run failed: the suite did not run again')

    def test_all_skipped_in_a_translating_mode_fails(self):
        res = self.rerun(kunit_results(('a', True), ('b', True)), 1)
        self.assertEqual(res, f'not ok 1 kunit_rerun_{SUITE} # every case of {SUITE} skipped, '
                         'though mode virtio-iommu translates: the rerun did not run')

    def test_all_skipped_without_translation_is_the_suites_verdict(self):
        self.assertEqual(self.rerun(kunit_results(('a', True), ('b', True)), 0),
                         f'ok 1 kunit_rerun_{SUITE}')

    def zswap(self, driver_registered):
        drv = os.path.join(self.tmp, 'drivers', 'lz4_dmatest')
        if driver_registered:
            os.makedirs(drv)
        res, p = self.dash(f'. "$GUEST/t/zswap.sh"\nLZ4DT={drv}\n'
                           'setup_swap() { return 0; }\nstress() { return 0; }\nzswap_run\n')
        self.assertEqual(len(res), 5, p.stdout + p.stderr)
        return res

    def test_driver_built_in_but_not_bound_fails(self):
        res = self.zswap(True)
        self.assertEqual(res[0], 'not ok 1 zswap_dma_driver # lz4-dmatest is built in but '
                         'did not bind 0000:00:11.0')
        self.assertEqual([r.split(' # ')[0] for r in res[2:]],
                         ['not ok 3 zswap_teardown', 'not ok 4 zswap_unbind_live_tfm',
                          'not ok 5 zswap_stress_rebound'])

    def test_driver_not_built_is_a_skip_the_host_judges(self):
        res = self.zswap(False)
        self.assertEqual(res[0], 'ok 1 zswap_dma_driver # SKIP lz4-dmatest is not built in')
        self.assertEqual(res[1], 'ok 2 zswap_stress_under_fire')


if __name__ == '__main__':
    unittest.main()
