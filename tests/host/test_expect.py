"""tools/expect.py: what a boot must report, and which skips it may.  A
skip is a verdict: a case may skip only in a boot that lacks what the case
declares it needs (tests/guest/t/*.sh <test>_needs, tests/kunit-suites),
against what the mode has (tests/iommu-modes) and what the kernel's .config
builds in.  Also: every recorded boot of tests/host/data still matches what
today's guest plans for its command line."""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import unittest

from helpers import DATA, TOOLS

sys.path.insert(0, TOOLS)
import expect  # noqa: E402  pylint: disable=wrong-import-position
import modes  # noqa: E402  pylint: disable=wrong-import-position

EXPECT = os.path.join(TOOLS, 'expect.py')
ALL = 'proof,kunit,zswap,iotlb,selftest,dmabench,pagealloc,dmesg'
FULL = ('CONFIG_KUNIT', 'CONFIG_DMA_REUSE_CACHE', 'CONFIG_LIST_KUNIT_TEST',
        'CONFIG_DMA_REUSE_CACHE_KUNIT_TEST',
        'CONFIG_DMA_REUSE_LZ4_TEST', 'CONFIG_IOMMU_DEBUG_PAGEALLOC',
        'CONFIG_IOMMU_DEBUG_PAGEALLOC_KUNIT_TEST')


class Boot(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix='sgr-expect.')
        self.addCleanup(self.tmp.cleanup)

    def config(self, options):
        path = os.path.join(self.tmp.name, 'config')
        with open(path, 'w') as f:
            f.write(''.join(f'{o}=y\n' for o in options))
        return path

    def boot(self, mode, options=FULL, tests=ALL, extra='', traced=False, ok=True):
        out = os.path.join(self.tmp.name, 'expect.json')
        cmdline = f'console=ttyS0 sgr.mode={mode} sgr.tests={tests} ' \
                  f'sgr.kunit_rerun=dma_reuse_cache_iommu {extra}'
        args = [EXPECT, 'boot', '--out', out, '--mode', mode, '--cmdline', cmdline,
                '--config', self.config(options) if options is not None else 'none']
        p = subprocess.run(args + (['--traced'] if traced else []), capture_output=True, text=True)
        if not ok:
            return p
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out) as f:
            return json.load(f)

    def test_a_strict_translating_mode_allows_no_skip(self):
        e = self.boot('vtd-strict', traced=True)
        self.assertEqual(e['allowed_skips'], {})
        self.assertIn('zswap_unbind_live_tfm', e['guest_cases'])
        self.assertIn('dma_reuse_cache_iommu', e['kunit_suites'])
        self.assertEqual(e['has'][:2], ['translate', 'strict'])

    def test_without_an_iommu_the_translating_cases_may_skip_and_only_they(self):
        e = self.boot('noiommu')
        self.assertEqual(sorted(e['allowed_skips']), [
            'guest.iommu_debug_pagealloc_live', 'guest.iotlb_counts',
            'guest.kunit_rerun_dma_reuse_cache_iommu', 'kunit.dma_reuse_cache_iommu',
            'kunit.iommu_debug_pagealloc'])
        self.assertIn('mode noiommu has no translate', e['allowed_skips']['kunit.dma_reuse_cache_iommu'])
        # The zswap driver's cases never skip while the driver is built in.
        self.assertFalse([k for k in e['allowed_skips'] if 'zswap' in k])

    def test_virtio_iommu_allows_no_skip(self):
        # The KUnit IOMMU suite drives its own edu, which has its group at
        # boot in virtio-iommu too: no skip there, at boot or in the rerun.
        self.assertEqual(self.boot('virtio-iommu', traced=True)['allowed_skips'], {})

    def test_a_lazy_mode_allows_the_iotlb_skip_and_its_host_cases(self):
        e = self.boot('vtd-lazy', traced=True)
        self.assertEqual(sorted(e['allowed_skips']),
                         sorted(['guest.iotlb_counts', 'iotlb.buffer_events_marking_on',
                                 'iotlb.buffer_unmapped_after_on',
                                 'iotlb.fewer_events_per_request_marking_on']))

    def test_the_options_off_kernel_allows_the_driver_cases(self):
        e = self.boot('vtd-strict', options=('CONFIG_KUNIT',), tests='proof,zswap,dmesg')
        self.assertEqual(sorted(e['allowed_skips']), [
            'guest.dma_reuse_switch', 'guest.zswap_bounce', 'guest.zswap_dma_driver',
            'guest.zswap_lz4_is_software', 'guest.zswap_stress_rebound',
            'guest.zswap_teardown', 'guest.zswap_unbind_live_tfm', 'kunit'])
        self.assertEqual(e['kunit_suites'], [])

    def test_a_parameter_need(self):
        self.assertNotIn('guest.bench_zswap_ab', self.boot('noiommu', tests='bench')['allowed_skips'])
        e = self.boot('vtd-strict', tests='bench', extra='sgr.bench_zswap_mib=0')
        self.assertEqual(e['allowed_skips'], {'guest.bench_zswap_ab': 'sgr.bench_zswap_mib=0'})

    def test_without_a_config_no_option_excuses_a_skip(self):
        e = self.boot('vtd-strict', options=None, tests='zswap')
        self.assertEqual(e['allowed_skips'], {'kunit': 'the kernel builds in no KUnit suite of '
                                              'tests/kunit-suites'})
        self.assertIsNone(e['config'])

    def test_bad_input(self):
        p = self.boot('no-such-mode', ok=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown mode 'no-such-mode'", p.stderr)
        with self.assertRaises(expect.Error):
            expect.unmet(['wings'], modes.get(modes.load(), 'noiommu'), {}, {})
        p = self.boot('noiommu', extra='sgr.zswap_passes=many', ok=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn('--zswap-passes wants a number', p.stderr)


class Fixtures(unittest.TestCase):
    """Each recorded boot's expect.json is what tools/expect.py writes today
    for its command line: a guest whose cases or needs changed since the
    recording makes this fail (re-record with tests/host/record)."""

    def test_every_fixture_matches_todays_plan(self):
        cases = sorted(d for d in os.listdir(DATA) if os.path.isfile(os.path.join(DATA, d, 'expect.json')))
        self.assertEqual(cases, ['pass', 'smmuv3', 'virtio'])
        for case in cases:
            with self.subTest(fixture=case):
                with open(os.path.join(DATA, case, 'expect.json')) as f:
                    old = json.load(f)
                with open(os.path.join(DATA, case, 'qemu-cmdline')) as f:
                    words = shlex.split(f.read())
                cmdline = words[words.index('-append') + 1]
                with tempfile.TemporaryDirectory(prefix='sgr-fixture.') as tmp:
                    # The kernel's options that the recording had, as far as
                    # the expectations depend on them.
                    options = [o for o in old.get('has', []) if o.startswith('CONFIG_')]
                    with open(os.path.join(REPO_TESTS, 'kunit-suites')) as f:
                        for l in f:
                            w = l.split()
                            if len(w) >= 2 and w[1] in old.get('kunit_suites', []):
                                options.append(w[0])
                    cfg = os.path.join(tmp, 'config')
                    with open(cfg, 'w') as f:
                        f.write(''.join(f'{o}=y\n' for o in options))
                    out = os.path.join(tmp, 'expect.json')
                    p = subprocess.run([EXPECT, 'boot', '--out', out, '--mode', old['mode'],
                                        '--label', old['label'], '--cmdline', cmdline,
                                        '--config', cfg] + (['--traced'] if old['traced'] else []),
                                       capture_output=True, text=True)
                    self.assertEqual(p.returncode, 0, p.stderr)
                    with open(out) as f:
                        new = json.load(f)
                old['kunit_suites'] = sorted(old.get('kunit_suites', []))
                new['kunit_suites'] = sorted(new['kunit_suites'])
                for key in ('guest_cases', 'kunit_suites', 'allowed_skips', 'has'):
                    self.assertEqual(old.get(key), new[key],
                                     f'tests/host/data/{case}/expect.json: {key} differs from '
                                     f"today's guest (re-record with tests/host/record)")
                self.assertTrue(re.search(r'sgr\.tests=\S*pagealloc', cmdline),
                                f'{case}: recorded without the pagealloc test')


REPO_TESTS = os.path.join(os.path.dirname(TOOLS), 'tests')

if __name__ == '__main__':
    unittest.main()
