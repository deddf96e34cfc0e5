"""Host tests of tools/iotlb.py: the IOMMU's work per iotlb phase, read from
one ordered stream (QEMU's trace with the guest's config-space markers),
and tools/vm --trace (test_results.py covers its use by tools/results.py).  Synthetic streams test
each rule; the recorded boots (tests/host/data/iotlb-*/, see the README
there) prove the real guest and QEMU speak the same protocol."""
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from helpers import DATA, TOOLS, ToolTest
from test_tools import commands as commands_of

sys.path.insert(0, TOOLS)
import iotlb  # noqa: E402  pylint: disable=wrong-import-position

IOVA = 0xfffee000
BEGIN, END = {'on': 0x53000001, 'off': 0x53000002}, {'on': 0x45000001, 'off': 0x45000002}


def mark(value, slot=0x13, offset=0x3c):
    return f'pci_cfg_write pci-testdev 00:{slot:02x}.0 @0x{offset:x} <- 0x{value:x}'


def mark_iova(iova):
    pfn = iova >> 12
    return [mark(0x4c000000 | (pfn & 0xffffff)), mark(0x48000000 | ((pfn >> 24) & 0xffffff))]


def vtd(domain, addr, mask=0):
    return (f'12@1700000000.000001:vtd_inv_desc_iotlb_pages domain 0x{domain:x} '
            f'addr 0x{addr:x} mask 0x{mask:x}')


def virtio(kind, domain, start, end):
    return f'virtio_iommu_{kind} domain={domain} virt_start=0x{start:x} virt_end=0x{end:x}'


def smmu(asid, addr, tg=1, pages=1):
    return (f'7@1700000000.000002:smmuv3_s1_range_inval vmid=0 asid={asid} addr=0x{addr:x} '
            f'tg={tg} num_pages=0x{pages:x} ttl=3 leaf=1')


def smmu_stream(on_buffer=0, off_mine=8, off_other=3):
    """An SMMUv3 strict run: ASID 4 is the test device's, 2 the swap
    disk's, which invalidates the same IOVA number in its own space."""
    s = [mark(BEGIN['on']), smmu(2, IOVA), smmu(4, 0x5000)]
    s += [smmu(4, IOVA, 1, 2)] * on_buffer
    s += mark_iova(IOVA) + [mark(END['on']), smmu(4, IOVA - 0x1000, 1, 2), mark(BEGIN['off'])]
    s += [smmu(4, IOVA)] * off_mine + [smmu(2, IOVA)] * off_other
    s += [mark(END['off'])]
    return s


def vtd_stream(on_buffer=0, after_on=1, on_other=3, off_buffer=6, off_other=6):
    """A VT-d strict run: domain 2 is the test device's, 5 another one."""
    s = [vtd(2, IOVA)]                       # before the phases: not counted
    s += [mark(0x44000002), mark(BEGIN['on'])]
    s += [vtd(2, 0x1000 * (i + 1)) for i in range(on_other)]
    s += [vtd(2, IOVA)] * on_buffer
    s += [vtd(5, IOVA)] * 4                  # same number, other domain
    s += mark_iova(IOVA) + [mark(END['on'])]
    s += [vtd(2, IOVA, 1)] * after_on        # the stop's invalidation
    s += [mark(BEGIN['off'])]
    s += [vtd(2, IOVA)] * off_buffer + [vtd(2, 0x9000)] * off_other
    s += [mark(END['off'])]
    return s


def count(stream, on=10, off=10):
    return iotlb.count(stream, {'on': on, 'off': off})


def verdict_of(rep):
    return {name: (ok, why) for name, ok, why in iotlb.verdict(rep)}


class Lines(unittest.TestCase):
    def test_vtd_lines(self):
        e = iotlb.parse_line(vtd(2, 0x12345678, 1))
        self.assertEqual((e.domain, e.start, e.end), (2, 0x12345000, 0x12346fff))
        e = iotlb.parse_line('vtd_inv_desc_iotlb_domain domain 0x7')
        self.assertEqual((e.domain, e.start), (7, None))
        self.assertTrue(e.covers(IOVA))
        e = iotlb.parse_line('vtd_inv_desc_iotlb_global ')
        self.assertIsNone(e.domain)

    def test_virtio_lines(self):
        e = iotlb.parse_line(virtio('unmap', 3, 0x1000, 0x2fff))
        self.assertEqual((e.domain, e.start, e.end), (3, 0x1000, 0x2fff))
        self.assertEqual(iotlb.parse_line('virtio_iommu_attach domain=3 endpoint=136'),
                         ('attach', 3, 136))

    def test_markers_only_from_the_marker_device_and_register(self):
        m = iotlb.parse_line(mark(0x53000001))
        self.assertEqual((m.tag, m.payload), (0x53, 1))
        self.assertIsNone(iotlb.parse_line(mark(0x53000001, slot=0x11)))
        self.assertIsNone(iotlb.parse_line(mark(0x53000001, offset=0x4)))
        self.assertIsNone(iotlb.parse_line('vtd_inv_desc_wait_sw addr 0x0 data 0x1'))
        self.assertIsNone(iotlb.parse_line('garbage'))


class Count(unittest.TestCase):
    def test_a_good_run_passes(self):
        rep = count(vtd_stream())
        self.assertEqual(rep.problems, [])
        self.assertTrue(all(ok for ok, _ in verdict_of(rep).values()), verdict_of(rep))
        self.assertEqual(rep.domain, 2)
        self.assertEqual(rep.iovas, [IOVA])
        on, off = rep.counts['on'], rep.counts['off']
        self.assertEqual((on.events, on.buffer_events, on.other_domains), (3, 0, 4))
        self.assertEqual((off.events, off.buffer_events), (12, 6))
        self.assertEqual(rep.after_on_buffer_events, 7)

    def test_bounce_phase_is_counted_when_the_guest_ran_it(self):
        # Without a bounce phase: no problem, no metric of it.
        rep = count(vtd_stream())
        self.assertNotIn('iotlb_requests_bounce', iotlb.metrics(rep))
        # With one: its events in the device's domain, per request.
        s = vtd_stream() + [mark(0x53000003)] + [vtd(2, 0x9000)] * 4 + [mark(0x45000003)]
        rep = iotlb.count(s, {'on': 10, 'off': 10, 'bounce': 8})
        self.assertEqual(rep.problems, [])
        self.assertTrue(all(ok for ok, _ in verdict_of(rep).values()), verdict_of(rep))
        m = iotlb.metrics(rep)
        self.assertEqual((m['iotlb_events_bounce'], m['iotlb_events_per_request_bounce']),
                         (4, 0.5))
        # A bounce phase begun but never ended is a problem like any other.
        rep = iotlb.count(vtd_stream() + [mark(0x53000003)], {'on': 10, 'off': 10, 'bounce': 8})
        self.assertIn('phase bounce: no begin/end marker in the trace', rep.problems)

    def test_buffer_event_in_the_on_phase_fails(self):
        ok, why = verdict_of(count(vtd_stream(on_buffer=2)))['iotlb.buffer_events_marking_on']
        self.assertFalse(ok)
        self.assertIn('2 IOMMU events on the served IOVAs', why)

    def test_domain_wide_flush_in_the_on_phase_covers_the_buffer(self):
        s = vtd_stream()
        s.insert(s.index(mark(END['on'])), 'vtd_inv_desc_iotlb_domain domain 0x2')
        self.assertFalse(verdict_of(count(s))['iotlb.buffer_events_marking_on'][0])

    def test_events_before_the_first_marker_do_not_count(self):
        s = [vtd(2, IOVA)] * 50 + vtd_stream()
        self.assertTrue(verdict_of(count(s))['iotlb.buffer_events_marking_on'][0])

    def test_no_teardown_after_the_on_phase_fails(self):
        ok, why = verdict_of(count(vtd_stream(after_on=0, off_buffer=0)))[
            'iotlb.buffer_unmapped_after_on']
        self.assertFalse(ok)
        self.assertIn('never torn down', why)

    def test_as_many_events_per_request_on_as_off_fails(self):
        ok, why = verdict_of(count(vtd_stream(on_other=12, off_buffer=0, off_other=12)))[
            'iotlb.fewer_events_per_request_marking_on']
        self.assertFalse(ok)
        self.assertIn('not fewer than', why)

    def test_missing_end_marker_fails_every_case(self):
        s = [l for l in vtd_stream() if l != mark(END['off'])]
        rep = count(s)
        self.assertIn('phase off: no begin/end marker in the trace', rep.problems)
        self.assertFalse(any(ok for ok, _ in verdict_of(rep).values()))

    def test_unknown_domain_fails(self):
        s = [l for l in vtd_stream() if l != mark(0x44000002)]
        rep = count(s)
        self.assertTrue(any('domain is unknown' in p for p in rep.problems), rep.problems)

    def test_no_served_iova_fails(self):
        s = [l for l in vtd_stream() if l not in mark_iova(IOVA)]
        rep = count(s)
        self.assertIn('the guest listed no served IOVA in the on phase', rep.problems)

    def test_missing_request_count_fails(self):
        rep = iotlb.count(vtd_stream(), {'on': 10})
        self.assertIn('phase off: the guest reported no request count', rep.problems)

    def test_virtio_domain_from_the_endpoint_attach(self):
        s = ['virtio_iommu_attach domain=1 endpoint=144', 'virtio_iommu_attach domain=3 endpoint=136',
             mark(BEGIN['on']), virtio('map', 1, IOVA, IOVA + 0x1fff)]
        s += mark_iova(IOVA) + [mark(END['on']), virtio('unmap', 3, IOVA, IOVA + 0x1fff),
                                mark(BEGIN['off'])]
        s += [virtio('map', 3, IOVA, IOVA + 0x1fff), virtio('unmap', 3, IOVA, IOVA + 0x1fff)] * 5
        s += [mark(END['off'])]
        rep = count(s)
        self.assertEqual(rep.problems, [])
        self.assertEqual(rep.domain, 3)
        self.assertTrue(all(ok for ok, _ in verdict_of(rep).values()), verdict_of(rep))
        s.insert(s.index(mark(END['on'])) - 2, virtio('unmap', 3, IOVA, IOVA + 0x1fff))
        self.assertFalse(verdict_of(count(s))['iotlb.buffer_events_marking_on'][0])


    def test_smmu_lines(self):
        e = iotlb.parse_line(smmu(4, 0x12345000, 1, 2))
        self.assertEqual((e.domain, e.start, e.end), (4, 0x12345000, 0x12346fff))
        e = iotlb.parse_line(smmu(4, 0x10000, 3, 1))            # one 64 KiB granule
        self.assertEqual((e.start, e.end), (0x10000, 0x1ffff))
        e = iotlb.parse_line(smmu(-1, 0x3000, 0, 0))           # NH_VAA, no range
        self.assertEqual((e.domain, e.start, e.end), (None, 0x3000, 0x3fff))
        e = iotlb.parse_line('smmuv3_cmdq_tlbi_nh_asid asid=9')
        self.assertEqual((e.domain, e.start), (9, None))
        self.assertIsNone(iotlb.parse_line('smmuv3_cmdq_tlbi_nh ').domain)

    def test_smmu_domain_is_the_asid_leading_the_off_phase(self):
        rep = count(smmu_stream())
        self.assertEqual(rep.problems, [])
        self.assertEqual(rep.domain, 4)
        self.assertIn('ASID 4: 8 of the 11', rep.how)
        v = verdict_of(rep)
        self.assertTrue(all(ok for ok, _ in v.values()), v)
        # The other ASID's invalidation of the same IOVA number is not the
        # buffer's; the device's own is.
        self.assertEqual(rep.counts['on'].buffer_events, 0)
        self.assertEqual(rep.counts['on'].other_domains, 1)
        bad = count(smmu_stream(on_buffer=2))
        self.assertEqual(bad.counts['on'].buffer_events, 2)
        self.assertFalse(verdict_of(bad)['iotlb.buffer_events_marking_on'][0])
        # An NH_VAA (every ASID) on the buffer counts as the device's too.
        s = smmu_stream()
        s.insert(s.index(mark(END['on'])) - 2, smmu(-1, IOVA, 0, 0))
        self.assertFalse(verdict_of(count(s))['iotlb.buffer_events_marking_on'][0])

    def test_smmu_without_a_leading_asid_fails(self):
        rep = count(smmu_stream(off_mine=3, off_other=3))
        self.assertIsNone(rep.domain)
        self.assertFalse(any(ok for ok, _ in verdict_of(rep).values()))
        self.assertIn('SMMUv3 ASID', ' '.join(rep.problems))


class Files(unittest.TestCase):
    def run_dir(self, stream, requests=(10, 10)):
        d = tempfile.mkdtemp(prefix='sgr-iotlb.')
        self.addCleanup(shutil.rmtree, d)
        with open(os.path.join(d, 'qemu-trace.log'), 'w') as f:
            f.write('\n'.join(['qemu boot noise'] * 3 + stream + ['after']) + '\n')
        with open(os.path.join(d, 'guest.ktap'), 'w') as f:
            f.write(f'# SGR IOTLB phase=on requests={requests[0]}\n'
                    f'# SGR IOTLB phase=off requests={requests[1]}\n')
        return d

    def test_command_line_table_and_exit_status(self):
        ok = self.run_dir(vtd_stream())
        p = subprocess.run([os.path.join(TOOLS, 'iotlb.py'), ok], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn('device domain 0x2', p.stdout)
        bad = self.run_dir(vtd_stream(on_buffer=1))
        p = subprocess.run([os.path.join(TOOLS, 'iotlb.py'), bad], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn('FAIL iotlb.buffer_events_marking_on', p.stdout)
        p = subprocess.run([os.path.join(TOOLS, 'iotlb.py'), tempfile.gettempdir() + '/nope'],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)

    def test_trim_keeps_the_marked_span_and_the_attaches(self):
        d = self.run_dir(['virtio_iommu_attach domain=3 endpoint=136'] + vtd_stream())
        before = iotlb.analyse(d, iotlb.guest_requests(d))
        msg = iotlb.trim(d)
        self.assertIn('kept', msg)
        with open(os.path.join(d, 'qemu-trace.log')) as f:
            kept = f.read().splitlines()
        self.assertEqual(kept[0], 'virtio_iommu_attach domain=3 endpoint=136')
        self.assertNotIn('after', kept)
        self.assertEqual(kept[-1], mark(END['off']))
        self.assertEqual(iotlb.metrics(iotlb.analyse(d, iotlb.guest_requests(d))), iotlb.metrics(before))


def recorded(case):
    """A copy of a recorded traced boot (tests/host/data/CASE), trace unzipped."""
    d = tempfile.mkdtemp(prefix='sgr-iotlb-rec.')
    for f in os.listdir(os.path.join(DATA, case)):
        src = os.path.join(DATA, case, f)
        if f.endswith('.gz'):
            with gzip.open(src, 'rb') as i, open(os.path.join(d, f[:-3]), 'wb') as o:
                shutil.copyfileobj(i, o)
        else:
            shutil.copy(src, d)
    return d


class Recorded(unittest.TestCase):
    def test_recorded_runs_pass_and_count_events(self):
        for case in ('pass', 'virtio', 'smmuv3'):
            with self.subTest(case=case):
                d = recorded(case)
                self.addCleanup(shutil.rmtree, d)
                rep = iotlb.analyse(d, iotlb.guest_requests(d))
                self.assertEqual(rep.problems, [])
                self.assertTrue(all(ok for ok, _ in verdict_of(rep).values()), verdict_of(rep))
                self.assertGreater(rep.counts['off'].events, 0)
                self.assertGreater(rep.counts['on'].requests, 0)
                self.assertTrue(rep.iovas)

    def test_recorded_smmuv3_run_names_its_asid(self):
        d = recorded('smmuv3')
        self.addCleanup(shutil.rmtree, d)
        rep = iotlb.analyse(d, iotlb.guest_requests(d))
        self.assertIsNotNone(rep.domain)
        self.assertIn(f'ASID {rep.domain}:', rep.how)
        # Strict SMMUv3: every plain unmap invalidates, so with the marking
        # off the buffer is invalidated, with it on never.
        self.assertGreater(rep.counts['off'].buffer_events, 0)
        self.assertEqual(rep.counts['on'].buffer_events, 0)

    def test_recorded_run_with_an_event_moved_into_the_on_phase_fails(self):
        for case, event in (('pass', vtd), ('smmuv3', lambda dom, iova: smmu(dom, iova))):
            with self.subTest(case=case):
                self.moved_event_fails(case, event)

    def moved_event_fails(self, case, event):
        d = recorded(case)
        self.addCleanup(shutil.rmtree, d)
        rep = iotlb.analyse(d, iotlb.guest_requests(d))
        path = os.path.join(d, 'qemu-trace.log')
        with open(path) as f:
            lines = f.read().splitlines()
        end_on = next(i for i, l in enumerate(lines)
                      if isinstance(iotlb.parse_line(l), iotlb.Marker)
                      and iotlb.parse_line(l).tag == iotlb.TAG_END
                      and iotlb.parse_line(l).payload == 1)
        lines.insert(end_on, event(rep.domain, rep.iovas[0]))
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        self.assertFalse(verdict_of(iotlb.analyse(d, iotlb.guest_requests(d)))['iotlb.buffer_events_marking_on'][0])


class VmTrace(ToolTest):
    def qemu(self, mode, *extra, ok=True):
        p = self.run_tool('vm', '--mode', mode, *extra, dry=True, ok=ok)
        cmd = [c for c in commands_of(p.stderr) if 'qemu-system-x86_64' in c]
        return (cmd[0] if cmd else None), p

    def test_trace_auto_takes_the_events_from_the_matrix(self):
        want = {'vtd-strict': ['vtd_inv_desc_iotlb_*', 'pci_cfg_write'],
                'virtio-iommu': ['virtio_iommu_map', 'virtio_iommu_unmap',
                                 'virtio_iommu_attach', 'virtio_iommu_detach', 'pci_cfg_write']}
        for mode, events in want.items():
            cmd, _ = self.qemu(mode, '--trace', 'auto')
            got = [cmd[i + 1] for i, w in enumerate(cmd) if w == '-trace']
            self.assertEqual(got, [f'enable={e}' for e in events])
            self.assertIn('edu,addr=13.0', cmd)

    def test_no_trace_by_default_nor_without_an_iommu(self):
        for mode, extra in (('vtd-strict', ()), ('noiommu', ('--trace', 'auto'))):
            cmd, _ = self.qemu(mode, *extra)
            self.assertNotIn('-trace', cmd)

    def test_bad_trace_value_is_a_usage_error(self):
        _, p = self.qemu('vtd-strict', '--trace', 'all', ok=None)
        self.assertEqual(p.returncode, 2)


if __name__ == '__main__':
    unittest.main()
