"""The guest's own verdicts where v2 let a skip or a stale read pass, run
under dash with a fake /sys: the KUnit rerun must run (t/kunit.sh), and a
test driver that is built in but did not bind fails the zswap cases
instead of skipping them (t/zswap.sh); and the numbers those tests give
the host, as records (the dialect of tests/guest/lib.sh)."""
import os
import shutil
import subprocess
import tempfile
import unittest

from helpers import REPO, TOOLS
from test_bench import assert_dialect

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
        self.lines = p.stdout.splitlines()
        assert_dialect(self, self.lines)
        return [l for l in self.lines if l.startswith(('ok ', 'not ok '))], p

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
        # The cases that ran: prose and a record, closing the nested document.
        self.assertEqual(self.lines[-3:], [f'    # rerun of {SUITE}: 1 case(s) ran (not skipped)',
                                           f'    # SGR METRIC kunit_rerun_{SUITE}_ran=1',
                                           f'ok 1 kunit_rerun_{SUITE}'])

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
        self.assertEqual(len(res), 7, p.stdout + p.stderr)
        return res

    def test_driver_built_in_but_not_bound_fails(self):
        res = self.zswap(True)
        self.assertEqual(res[0], 'not ok 1 zswap_dma_driver # lz4-dmatest is built in but '
                         'did not bind 0000:00:11.0')
        self.assertEqual([r.split(' # ')[0] for r in res[2:]],
                         ['not ok 3 zswap_teardown', 'not ok 4 zswap_unbind_live_tfm',
                          'not ok 5 zswap_lz4_is_software', 'not ok 6 zswap_stress_rebound',
                          'not ok 7 zswap_bounce'])

    def test_driver_not_built_is_a_skip_the_host_judges(self):
        res = self.zswap(False)
        self.assertEqual(res[0], 'ok 1 zswap_dma_driver # SKIP lz4-dmatest is not built in')
        self.assertEqual(res[1], 'ok 2 zswap_stress_under_fire')

    def rebound(self, translates, cache=True):
        """zswap_rebound (t/zswap.sh) on a fake debugfs: lz4-dmatest marked
        1000 lists reusable; with CACHE, the device cache served 995 of them
        and missed 3; without, nothing is served.
        Returns the result line and the records."""
        d = self.tmp
        for rel, text in (('lz4/orphaned', '4\n'),
                          ('lz4/dev/stats', 'reusable 1000\nserved 0\nmismatches 0\nfaults 0\n')):
            os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
            with open(os.path.join(d, rel), 'w') as f:
                f.write(text)
        if cache:
            os.makedirs(os.path.join(d, 'reuse', 'devices', 'pci:0000:00:11.0'))
            with open(os.path.join(d, 'reuse', 'devices', 'pci:0000:00:11.0', 'stats'), 'w') as f:
                f.write('hits 995\nmisses 3\nentries 4\n')
        res, p = self.dash(f'. "$GUEST/t/zswap.sh"\nREUSE_DBG=$D/reuse LZ4DT_ROOT_DBG=$D/lz4 '
                           f'LZ4DT_DBG=$D/lz4/dev MODE=m MODE_TRANSLATES={translates}\n'
                           'stress() { :; }\n'
                           'zswap_rebound\n')
        self.assertEqual(len(res), 1, p.stdout + p.stderr)
        return res[0], [l for l in self.lines if l.startswith('# SGR ')]

    def test_rebound_records_the_cache(self):
        res, recs = self.rebound(1)
        self.assertEqual(res, 'ok 1 zswap_stress_rebound')
        self.assertEqual(recs, ['# SGR METRIC rebound_orphaned=0',
                                '# SGR METRIC cache_marked=1000 cache_hits=995 cache_misses=3'])
        self.assertIn('# cache: 995 hits, 3 misses for 1000 marked lists (0 served); '
                      'hit rate 99.5%', self.lines)

    def test_rebound_without_a_cache_records_the_fallbacks(self):
        res, recs = self.rebound(0, cache=False)
        self.assertEqual(res, 'ok 1 zswap_stress_rebound')
        self.assertEqual(recs, ['# SGR METRIC rebound_orphaned=0',
                                '# SGR METRIC cache_marked=1000 cache_hits=0'])


if __name__ == '__main__':
    unittest.main()
