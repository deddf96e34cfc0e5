"""Host tests of tools/iotlb.py (QEMU trace counting per iotlb phase), its
use by tools/results.py, and tools/vm --trace.  The fixtures are recorded
boots (tests/host/data/iotlb-*/, see the README there); the broken inputs
are made from them here."""
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from helpers import DATA, TOOLS, ToolTest
from test_tools import commands as commands_of

sys.path.insert(0, TOOLS)
import iotlb  # noqa: E402  pylint: disable=wrong-import-position
import results  # noqa: E402  pylint: disable=wrong-import-position
from test_results import TREE  # noqa: E402  pylint: disable=wrong-import-position


def verdict_of(rep):
    return {name: (ok, why) for name, ok, why in iotlb.verdict(rep)}


class Fixture:
    """A copy of a recorded run directory that a test may spoil."""

    def __init__(self, test, case):
        self.dir = tempfile.mkdtemp(prefix='sgr-iotlb.')
        test.addCleanup(shutil.rmtree, self.dir)
        for f in os.listdir(os.path.join(DATA, case)):
            src = os.path.join(DATA, case, f)
            if f.endswith('.gz'):
                with gzip.open(src, 'rb') as i, open(self.path(f[:-3]), 'wb') as o:
                    shutil.copyfileobj(i, o)
            else:
                shutil.copy(src, self.dir)
        self.phases = iotlb.read_guest_times(self.path('guest-times'))

    def path(self, f):
        return os.path.join(self.dir, f)

    def lines(self):
        with open(self.path('qemu-trace.log')) as f:
            return f.read().splitlines()

    def write(self, lines):
        with open(self.path('qemu-trace.log'), 'w') as f:
            f.write('\n'.join(lines) + '\n')

    def mid(self, phase):
        p = self.phases[phase]
        return (p.begin + p.end) / 2

    def analyse(self):
        return iotlb.analyse(self.dir)


class Parse(unittest.TestCase):
    def test_vtd_lines(self):
        e = iotlb.parse_event('29965@1795269801.641923:vtd_inv_desc_iotlb_pages iotlb '
                              'invalidate domain 0x5 addr 0xffff8000 mask 0x1')
        self.assertEqual((e.domain, e.start, e.end), (5, 0xffff8000, 0xffff9fff))
        self.assertAlmostEqual(e.t, 1795269801.641923)
        self.assertTrue(e.covers(0xffff9000))
        self.assertFalse(e.covers(0xffffa000))
        e = iotlb.parse_event('1@2.5:vtd_inv_desc_iotlb_domain iotlb invalidate whole domain 0x3')
        self.assertEqual((e.domain, e.start), (3, None))
        self.assertTrue(e.covers(0x1000))
        e = iotlb.parse_event('1@2.5:vtd_inv_desc_iotlb_global iotlb invalidate global')
        self.assertEqual((e.domain, e.start), (None, None))

    def test_virtio_lines(self):
        e = iotlb.parse_event('7@10.000001:virtio_iommu_map domain=1 virt_start=0xffff8000 '
                              'virt_end=0xffff9fff phys_start=0x1234000 flags=3')
        self.assertEqual((e.domain, e.start, e.end), (1, 0xffff8000, 0xffff9fff))
        e = iotlb.parse_event('7@10.000001:virtio_iommu_unmap domain=1 virt_start=0xffffe000 '
                              'virt_end=0xffffefff')
        self.assertEqual((e.name, e.start, e.end), ('virtio_iommu_unmap', 0xffffe000, 0xffffefff))

    def test_other_and_untimed_lines_are_not_events(self):
        self.assertIsNone(iotlb.parse_event('7@10.0:virtio_iommu_attach domain=1 endpoint=136'))
        self.assertIsNone(iotlb.parse_event('vtd_inv_desc_iotlb_pages iotlb invalidate '
                                            'domain 0x5 addr 0xffff8000 mask 0x0'))

    def test_guest_times(self):
        tmp = tempfile.mkdtemp(prefix='sgr-iotlb.')
        self.addCleanup(shutil.rmtree, tmp)
        p = os.path.join(tmp, 'guest-times')
        with open(p, 'w') as f:
            f.write('10.0 # iotlb-phase on begin\n12.0 # iotlb-requests on 7\n'
                    '12.0 # iotlb-iova on 0x00000000ffff8123\n12.5 # iotlb-phase on end\n'
                    'garbage\n13 # iotlb-phase off begin\n')
        ph = iotlb.read_guest_times(p)
        self.assertEqual((ph['on'].begin, ph['on'].end, ph['on'].requests), (10.0, 12.5, 7))
        self.assertEqual(ph['on'].iovas, [0xffff8000])
        self.assertEqual((ph['off'].begin, ph['off'].end), (13.0, None))


class RecordedRuns(unittest.TestCase):
    """The recorded boots pass, and spoiled copies of them fail."""

    CASES = ('iotlb-vtd', 'iotlb-virtio')

    def test_recorded_runs_pass(self):
        for case in self.CASES:
            with self.subTest(case=case):
                rep = Fixture(self, case).analyse()
                self.assertEqual(rep.problems, [])
                on, off = rep.counts['on'], rep.counts['off']
                self.assertGreater(on.requests, 100)
                self.assertEqual(on.buffer_events, 0)
                self.assertGreater(off.buffer_events, 0)
                self.assertLess(on.per_request, off.per_request)
                self.assertTrue(all(ok for ok, _ in verdict_of(rep).values()), verdict_of(rep))
                m = iotlb.metrics(rep)
                for k in ('iotlb_events_per_request_on', 'iotlb_events_per_request_off',
                          'iotlb_buffer_events_on', 'iotlb_buffer_events_off',
                          'iotlb_requests_on', 'iotlb_requests_off'):
                    self.assertIn(k, m)

    def test_buffer_invalidated_during_on_phase_fails(self):
        fx = Fixture(self, 'iotlb-vtd')
        dom, iova = fx.analyse().domain, fx.phases['on'].iovas[0]
        # A two-page invalidation starting one page below the buffer covers it.
        fx.write(fx.lines() + [f'1@{fx.mid("on"):.6f}:vtd_inv_desc_iotlb_pages iotlb invalidate '
                               f'domain {dom:#x} addr {iova - 4096:#x} mask 0x1'])
        ok, why = verdict_of(fx.analyse())['iotlb.buffer_events_marking_on']
        self.assertFalse(ok)
        self.assertIn('1 IOMMU events on the cached buffer', why)

    def test_domain_flush_during_on_phase_fails(self):
        fx = Fixture(self, 'iotlb-vtd')
        dom = fx.analyse().domain
        fx.write(fx.lines() + [f'1@{fx.mid("on"):.6f}:vtd_inv_desc_iotlb_domain iotlb '
                               f'invalidate whole domain {dom:#x}'])
        self.assertFalse(verdict_of(fx.analyse())['iotlb.buffer_events_marking_on'][0])

    def test_buffer_unmapped_during_on_phase_fails_virtio(self):
        fx = Fixture(self, 'iotlb-virtio')
        dom, iova = fx.analyse().domain, fx.phases['on'].iovas[-1]
        fx.write(fx.lines() + [f'1@{fx.mid("on"):.6f}:virtio_iommu_unmap domain={dom} '
                               f'virt_start={iova:#x} virt_end={iova + 8191:#x}'])
        self.assertFalse(verdict_of(fx.analyse())['iotlb.buffer_events_marking_on'][0])

    def test_same_iova_in_another_domain_is_not_the_buffer(self):
        # IOVA spaces are per domain: the swap disk may use the same address.
        fx = Fixture(self, 'iotlb-vtd')
        dom, iova = fx.analyse().domain, fx.phases['on'].iovas[0]
        fx.write(fx.lines() + [f'1@{fx.mid("on"):.6f}:vtd_inv_desc_iotlb_pages iotlb invalidate '
                               f'domain {dom + 1:#x} addr {iova:#x} mask 0x0'])
        rep = fx.analyse()
        self.assertTrue(verdict_of(rep)['iotlb.buffer_events_marking_on'][0])
        self.assertEqual(rep.counts['on'].other_domains, 1)

    def test_events_outside_the_phases_do_not_count(self):
        fx = Fixture(self, 'iotlb-vtd')
        dom, iova = fx.analyse().domain, fx.phases['on'].iovas[0]
        before = fx.phases['on'].begin - 0.5
        fx.write([f'1@{before:.6f}:vtd_inv_desc_iotlb_pages iotlb invalidate '
                  f'domain {dom:#x} addr {iova:#x} mask 0x1'] + fx.lines())
        self.assertTrue(verdict_of(fx.analyse())['iotlb.buffer_events_marking_on'][0])

    def test_no_buffer_event_with_marking_off_fails(self):
        # Without any off-phase event on the buffer IOVAs, the attribution
        # is not shown to work: the second case must fail.
        for case in self.CASES:
            with self.subTest(case=case):
                fx = Fixture(self, case)
                off, iovas = fx.phases['off'], fx.phases['on'].iovas
                kept = [l for l in fx.lines()
                        if not ((e := iotlb.parse_event(l)) and off.begin <= e.t <= off.end
                                and any(e.covers(i) for i in iovas))]
                fx.write(kept)
                ok, why = verdict_of(fx.analyse())['iotlb.folio_side_only_marking_on']
                self.assertFalse(ok)
                self.assertIn('attribution', why)

    def test_as_many_events_per_request_on_as_off_fails(self):
        fx = Fixture(self, 'iotlb-vtd')
        rep = fx.analyse()
        on, off = rep.counts['on'], rep.counts['off']
        # Pad the on phase up to the off phase's rate with folio-like events.
        extra = int(off.per_request * on.requests) - on.events + 1
        t = fx.mid('on')
        fx.write(fx.lines() + [f'1@{t:.6f}:vtd_inv_desc_iotlb_pages iotlb invalidate '
                               f'domain {rep.domain:#x} addr 0x1000 mask 0x0'] * extra)
        ok, why = verdict_of(fx.analyse())['iotlb.folio_side_only_marking_on']
        self.assertFalse(ok)
        self.assertIn('not fewer', why)

    def test_missing_markers_fail_both(self):
        fx = Fixture(self, 'iotlb-vtd')
        with open(fx.path('guest-times')) as f:
            kept = [l for l in f if 'off end' not in l]
        with open(fx.path('guest-times'), 'w') as f:
            f.writelines(kept)
        v = verdict_of(fx.analyse())
        self.assertFalse(any(ok for ok, _ in v.values()))
        self.assertIn('phase off: no begin/end marker', v['iotlb.buffer_events_marking_on'][1])

    def test_untimed_trace_is_reported(self):
        fx = Fixture(self, 'iotlb-vtd')
        fx.write([re.sub(r'^\d+@[0-9.]+:', '', l) for l in fx.lines()])
        rep = fx.analyse()
        self.assertTrue(any('timestamp' in p for p in rep.problems), rep.problems)

    def test_command_line_table_and_exit_status(self):
        fx = Fixture(self, 'iotlb-vtd')
        p = subprocess.run([os.path.join(TOOLS, 'iotlb.py'), fx.dir],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r'(?m)^on +[0-9.]+ +\d+ +\d+ +0 ')
        self.assertIn('PASS iotlb.buffer_events_marking_on', p.stdout)
        os.remove(fx.path('guest-times'))
        p = subprocess.run([os.path.join(TOOLS, 'iotlb.py'), fx.dir],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn('no guest-times', p.stderr)


class Watcher(unittest.TestCase):
    def test_watcher_timestamps_only_the_iotlb_lines_as_they_come(self):
        tmp = tempfile.mkdtemp(prefix='sgr-iotlb.')
        self.addCleanup(shutil.rmtree, tmp)
        ktap, out = os.path.join(tmp, 'guest.ktap'), os.path.join(tmp, 'guest-times')
        w = subprocess.Popen([sys.executable, os.path.join(TOOLS, 'iotlb.py'), 'watch',
                              '--ktap', ktap, '--out', out, '--timeout', '20'])
        self.addCleanup(w.kill)
        time.sleep(0.3)
        t0 = time.time()
        with open(ktap, 'w') as f:
            f.write('ok 1 x\n# iotlb-phase on begin\n# iotlb-requests on 5\n# iotlb-phase on')
            f.flush()
            time.sleep(0.5)
            t1 = time.time()
            f.write(' end\n')
        deadline = time.time() + 10
        lines = []
        while time.time() < deadline and len(lines) < 3:
            time.sleep(0.1)
            with open(out) as f:
                lines = f.read().splitlines()
        w.terminate()
        w.wait(timeout=10)
        self.assertEqual([l.split(' ', 1)[1] for l in lines],
                         ['# iotlb-phase on begin', '# iotlb-requests on 5',
                          '# iotlb-phase on end'])
        times = [float(l.split(' ', 1)[0]) for l in lines]
        self.assertLess(abs(times[0] - t0), 0.3)
        # The partial line is stamped when it is complete, not before.
        self.assertGreaterEqual(times[2], t1)
        self.assertLess(times[2] - t1, 0.3)

    def test_watcher_stops_at_its_timeout(self):
        tmp = tempfile.mkdtemp(prefix='sgr-iotlb.')
        self.addCleanup(shutil.rmtree, tmp)
        p = subprocess.run([sys.executable, os.path.join(TOOLS, 'iotlb.py'), 'watch',
                            '--ktap', os.path.join(tmp, 'none'), '--out',
                            os.path.join(tmp, 'out'), '--timeout', '0.5'], timeout=10)
        self.assertEqual(p.returncode, 0)


@unittest.skipUnless(TREE, 'no kernel tree for kunit_parser (run tools/base-tree or set KSRC)')
class ResultsIntegration(unittest.TestCase):
    def mode(self, d):
        p = subprocess.run([os.path.join(TOOLS, 'results.py'), 'mode', '--name', 'm',
                            '--dir', d, '--tree', TREE], capture_output=True, text=True)
        with open(os.path.join(d, 'result.json')) as f:
            res = results.ModeResult.from_json(f.read())
        return p, res, {c.name: c for c in res.cases}

    def test_traced_boot_has_the_iotlb_cases_and_metrics(self):
        fx = Fixture(self, 'iotlb-vtd')
        p, res, cases = self.mode(fx.dir)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        for n in ('iotlb.buffer_events_marking_on', 'iotlb.folio_side_only_marking_on'):
            self.assertEqual(cases[n].status, results.Status.PASS)
        self.assertEqual(res.metrics['iotlb_buffer_events_on'], 0)
        self.assertGreater(res.metrics['iotlb_events_per_request_off'],
                           res.metrics['iotlb_events_per_request_on'])

    def test_spoiled_trace_fails_the_boot(self):
        fx = Fixture(self, 'iotlb-vtd')
        dom, iova = fx.analyse().domain, fx.phases['on'].iovas[0]
        fx.write(fx.lines() + [f'1@{fx.mid("on"):.6f}:vtd_inv_desc_iotlb_pages iotlb invalidate '
                               f'domain {dom:#x} addr {iova:#x} mask 0x0'])
        p, _, cases = self.mode(fx.dir)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(cases['iotlb.buffer_events_marking_on'].status, results.Status.FAIL)

    def test_guest_skip_skips_and_untraced_boot_has_no_cases(self):
        fx = Fixture(self, 'iotlb-vtd')
        with open(fx.path('guest.ktap')) as f:
            text = f.read()
        with open(fx.path('guest.ktap'), 'w') as f:
            f.write(re.sub(r'(?m)^ok (\d+) iotlb_counts$',
                           r'ok \1 iotlb_counts # SKIP group type DMA-FQ', text))
        _, _, cases = self.mode(fx.dir)
        self.assertEqual(cases['iotlb.buffer_events_marking_on'].status, results.Status.SKIP)
        os.remove(fx.path('qemu-trace.log'))
        _, _, cases = self.mode(fx.dir)
        self.assertNotIn('iotlb.buffer_events_marking_on', cases)


class VmTrace(ToolTest):
    def qemu(self, mode, *extra, ok=True):
        kernel = os.path.join(self.tmp, 'bzImage')
        open(kernel, 'w').close()
        p = self.run_tool('vm', '--mode', mode, '--kernel', kernel, '--initramfs', kernel,
                          '--out', os.path.join(self.tmp, 'run'), *extra, dry=True, ok=ok)
        cmd = [c for c in commands_of(p.stderr) if 'qemu-system-x86_64' in c]
        return (cmd[0] if cmd else None), p

    def test_trace_auto_picks_the_iommu_events(self):
        want = {'vtd-strict': ['vtd_inv_desc_iotlb_*'],
                'virtio-iommu': ['virtio_iommu_map', 'virtio_iommu_unmap']}
        for mode, events in want.items():
            with self.subTest(mode=mode):
                cmd, _ = self.qemu(mode, '--trace', 'auto')
                enabled = [cmd[i + 1] for i, a in enumerate(cmd) if a == '-trace']
                for e in events:
                    self.assertIn(f'enable={e}', enabled)
                self.assertEqual(cmd[cmd.index('-D') + 1],
                                 os.path.join(self.tmp, 'run', 'qemu-trace.log'))
                self.assertEqual(cmd[cmd.index('-msg') + 1], 'timestamp=on')

    def test_no_trace_by_default_nor_without_an_iommu(self):
        for mode, extra in (('vtd-strict', ()), ('vtd-strict', ('--trace', 'none')),
                            ('noiommu', ('--trace', 'auto'))):
            with self.subTest(mode=mode, extra=extra):
                cmd, p = self.qemu(mode, *extra)
                self.assertNotIn('-trace', cmd)
                self.assertNotIn('-D', cmd)
        self.assertIn('not tracing', p.stderr)

    def test_bad_trace_value_is_a_usage_error(self):
        _, p = self.qemu('vtd-strict', '--trace', 'all', ok=None)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--trace wants auto or none", p.stderr)


if __name__ == '__main__':
    unittest.main()
