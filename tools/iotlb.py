#!/usr/bin/env python3
"""Count what the emulated IOMMU saw of zswap's traffic, per phase, from
one ordered stream: QEMU's trace log.

  iotlb.py RUN_DIR
      Print a table: per phase of the guest's iotlb test (dma_reuse.enabled
      on, off), the IOMMU events in the test device's domain, those on the
      IOVAs the cache served, the lz4-dmatest requests and events per
      request.  Exit status 1 if the run's verdict fails (see verdict()),
      2 if RUN_DIR has no trace.

  iotlb.py trim RUN_DIR
      Run by tools/vm after the boot: keep the domain attach/detach events
      and the lines from the first guest marker to the last (a whole boot's
      trace is tens of MB); a trace without markers is left as it is.

Input: RUN_DIR/qemu-trace.log (tools/vm --trace auto), QEMU's "log" trace
backend, one event per line ('event args', or 'TID@SECONDS:event args'
with -msg timestamp=on; the time is not used).  Only the order of the
lines matters: QEMU writes each event when it happens, and the guest
writes a marker only after the work before it has completed.

The guest's markers (tests/guest/sgr_mark.c) are 32-bit writes to offset
0x3c of the PCI configuration space of the marker device (00:13.0), which
QEMU traces as 'pci_cfg_write edu 00:13.0 @0x3c <- 0xVALUE'; the
value is (tag << 24) | payload:

  0x53 phase begin, 0x45 phase end   payload 1 = on, 2 = off, 3 = bounce
                                     (bounce: optional)
  0x44 the test device's VT-d domain id
  0x4c, 0x48                         an IOVA the cache served: bits 0..23
                                     and 24..47 of IOVA >> 12; the 0x48
                                     write completes it

The test device's domain: for virtio-iommu the domain its endpoint
(00:11.0, endpoint id 0x88) was last attached to (virtio_iommu_attach);
for VT-d the guest's domain marker, read from the context table.  For the
SMMUv3 neither exists: the guest cannot read the ASID of its domain, and
QEMU traces no command that names a stream and an ASID together.  Its
domain is the ASID with the most invalidations in the off phase, where
the test device maps and unmaps the buffer on every request and no other
device of the guest does DMA through the SMMU (the swap disk only on
writeback, the console not through the IOMMU); the report names it and
how many of the phase's events it had.

Events counted, in that domain only (both are requests the IOMMU serves
synchronously in a strict domain):

  VT-d           vtd_inv_desc_iotlb_pages (domain, addr, mask = log2 of the
                 pages), and domain-wide or global IOTLB invalidations,
                 which cover every IOVA of their domain(s);
  virtio-iommu   virtio_iommu_map / virtio_iommu_unmap (domain, virt_start,
                 virt_end inclusive);
  SMMUv3         smmuv3_s1_range_inval, one per CMD_TLBI_NH_VA(A) or per
                 power-of-two piece of a range (asid, addr, tg: the
                 granule 4 KiB << 2 (tg - 1), num_pages; tg 0 is one
                 4 KiB page; asid -1, from NH_VAA, is every ASID), and
                 smmuv3_cmdq_tlbi_nh_asid (a whole ASID) and
                 smmuv3_cmdq_tlbi_nh (everything).
"""
import argparse
import gzip
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

PAGE = 4096
PHASES = ('on', 'off', 'bounce')
PHASE_CODE = {1: 'on', 2: 'off', 3: 'bounce'}
# The bounce phase (the test module's own buffer, the marking off) is
# counted when the guest ran it; the on and off phases are required.
OPTIONAL_PHASES = ('bounce',)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modes  # noqa: E402  pylint: disable=wrong-import-position


def _devfn(name: str) -> Tuple[int, int]:
    """(slot, function) of a spare device of tests/iommu-modes."""
    sl, fn = modes.slot(name).split('.')
    return int(sl, 16), int(fn)


MARKER_SLOT, MARKER_OFFSET = _devfn('marker')[0], 0x3c
TESTDEV_ENDPOINT = _devfn('testdev')[0] << 3 | _devfn('testdev')[1]   # bus 0
TAG_BEGIN, TAG_END, TAG_DOMAIN, TAG_IOVA_LO, TAG_IOVA_HI = 0x53, 0x45, 0x44, 0x4c, 0x48

TRACE_LINE = re.compile(r'^(?:\d+@\d+\.\d+:)?(\w+)(?: (.*))?$')
CFG_WRITE = re.compile(r'^\S+ ([0-9a-f]+):([0-9a-f]+)\.([0-9a-f]+) @0x([0-9a-f]+) <- 0x([0-9a-f]+)$')
VTD_PAGES = re.compile(r'domain 0x([0-9a-f]+) addr 0x([0-9a-f]+) mask 0x([0-9a-f]+)')
VTD_DOMAIN = re.compile(r'domain 0x([0-9a-f]+)')
VIRTIO_RANGE = re.compile(r'domain=(\d+) virt_start=0x([0-9a-f]+) virt_end=0x([0-9a-f]+)')
VIRTIO_ATTACH = re.compile(r'domain=(\d+) endpoint=(\d+)')
SMMU_RANGE = re.compile(r'asid=(-?\d+) addr=0x([0-9a-f]+) tg=(\d+) num_pages=0x([0-9a-f]+)')
SMMU_ASID = re.compile(r'asid=(\d+)')
SMMU_EVENTS = ('smmuv3_s1_range_inval', 'smmuv3_cmdq_tlbi_nh_asid', 'smmuv3_cmdq_tlbi_nh')


@dataclass
class Event:
    name: str
    domain: Optional[int]      # None: every domain (global invalidation)
    start: Optional[int]       # None: the whole domain
    end: Optional[int]         # inclusive

    def covers(self, iova: int) -> bool:
        return self.start is None or self.start <= iova <= self.end


@dataclass
class Marker:
    tag: int
    payload: int


def parse_line(line: str):
    """An Event, a Marker, ('attach'|'detach', domain, endpoint), or None."""
    m = TRACE_LINE.match(line.strip())
    if not m:
        return None
    name, args = m.group(1), m.group(2) or ''
    if name == 'pci_cfg_write':
        a = CFG_WRITE.match(args)
        if a and int(a.group(2), 16) == MARKER_SLOT and int(a.group(4), 16) == MARKER_OFFSET:
            v = int(a.group(5), 16)
            # The kernel writes the interrupt line there too (one byte's
            # worth at boot): a marker always has a tag.
            return Marker(v >> 24, v & 0xffffff) if v >> 24 else None
        return None
    if name in ('vtd_inv_desc_iotlb_pages', 'vtd_inv_desc_iotlb_pasid_pages'):
        a = VTD_PAGES.search(args)
        if not a:
            return None
        start = int(a.group(2), 16) & ~(PAGE - 1)
        return Event(name, int(a.group(1), 16), start, start + (PAGE << int(a.group(3), 16)) - 1)
    if name in ('vtd_inv_desc_iotlb_domain', 'vtd_inv_desc_iotlb_pasid'):
        a = VTD_DOMAIN.search(args)
        return Event(name, int(a.group(1), 16), None, None) if a else None
    if name == 'vtd_inv_desc_iotlb_global':
        return Event(name, None, None, None)
    if name in ('virtio_iommu_map', 'virtio_iommu_unmap'):
        a = VIRTIO_RANGE.search(args)
        if not a:
            return None
        return Event(name, int(a.group(1)), int(a.group(2), 16), int(a.group(3), 16))
    if name == 'smmuv3_s1_range_inval':
        a = SMMU_RANGE.search(args)
        if not a:
            return None
        asid, tg, pages = int(a.group(1)), int(a.group(3)), int(a.group(4), 16)
        granule = PAGE << (2 * (tg - 1)) if tg else PAGE
        start = int(a.group(2), 16) & ~(PAGE - 1)
        return Event(name, None if asid < 0 else asid, start, start + granule * max(pages, 1) - 1)
    if name == 'smmuv3_cmdq_tlbi_nh_asid':
        a = SMMU_ASID.search(args)
        return Event(name, int(a.group(1)), None, None) if a else None
    if name == 'smmuv3_cmdq_tlbi_nh':
        return Event(name, None, None, None)
    if name in ('virtio_iommu_attach', 'virtio_iommu_detach'):
        a = VIRTIO_ATTACH.search(args)
        if a:
            return (name[len('virtio_iommu_'):], int(a.group(1)), int(a.group(2)))
    return None


@dataclass
class Counts:
    phase: str
    requests: int = 0
    events: int = 0            # in the device's domain
    buffer_events: int = 0     # of those, on the IOVAs the cache served
    other_domains: int = 0     # the other devices' events in the phase
    multipage: int = 0         # events on more than one page (informative)

    @property
    def per_request(self) -> Optional[float]:
        return self.events / self.requests if self.requests else None


@dataclass
class Report:
    counts: Dict[str, Counts]
    domain: Optional[int]
    iovas: List[int]
    after_on_buffer_events: int   # events on the served IOVAs after the on phase
    problems: List[str] = field(default_factory=list)
    how: str = ''                 # how the domain was found, when not by a marker


def count(lines, requests: Dict[str, int]) -> Report:
    """Walk the trace in order: markers open and close phases; the events
    of the test device's domain inside a phase are that phase's."""
    counts = {p: Counts(p, requests=requests.get(p, 0)) for p in PHASES}
    problems: List[str] = []
    attached: Dict[int, int] = {}         # virtio-iommu endpoint -> domain
    vtd_domain: Optional[int] = None
    iovas: List[int] = []
    lo: Optional[int] = None
    phase: Optional[str] = None
    begun: Dict[str, bool] = {}
    ended: Dict[str, bool] = {}
    pending: List[Tuple[str, Event]] = []   # (phase or 'after-on', event)
    domain_at: Dict[str, Optional[int]] = {}
    for line in lines:
        item = parse_line(line)
        if item is None:
            continue
        if isinstance(item, tuple):
            kind, dom, ep = item
            if kind == 'attach':
                attached[ep] = dom
            elif attached.get(ep) == dom:
                del attached[ep]
            continue
        if isinstance(item, Marker):
            if item.tag in (TAG_BEGIN, TAG_END):
                name = PHASE_CODE.get(item.payload)
                if name is None:
                    problems.append(f'marker with unknown phase code {item.payload}')
                elif item.tag == TAG_BEGIN:
                    if phase is not None:
                        problems.append(f'phase {name} begins inside phase {phase}')
                    phase, begun[name] = name, True
                    domain_at[name] = vtd_domain if vtd_domain is not None \
                        else attached.get(TESTDEV_ENDPOINT)
                else:
                    if phase != name:
                        problems.append(f'phase {name} ends but {phase or "none"} is open')
                    ended[name] = True
                    phase = None
            elif item.tag == TAG_DOMAIN:
                vtd_domain = item.payload
            elif item.tag == TAG_IOVA_LO:
                lo = item.payload
            elif item.tag == TAG_IOVA_HI:
                if lo is None:
                    problems.append('IOVA marker: high half without a low half')
                else:
                    iovas.append(((item.payload << 24) | lo) << 12)
                    if phase != 'on':
                        problems.append(f'served IOVA listed outside the on phase '
                                        f'({phase or "between phases"})')
                    lo = None
            else:
                problems.append(f'unknown marker tag {item.tag:#x}')
            continue
        if phase is not None:
            pending.append((phase, item))
        elif ended.get('on'):
            pending.append(('after-on', item))
    for p in PHASES:
        if p in OPTIONAL_PHASES and not begun.get(p) and p not in requests:
            continue
        if not begun.get(p) or not ended.get(p):
            problems.append(f'phase {p}: no begin/end marker in the trace')
        if p not in requests:
            problems.append(f'phase {p}: the guest reported no request count')
    domain = domain_at.get('on')
    how = ''
    if domain is None and any(e.name in SMMU_EVENTS for _, e in pending):
        domain, how = smmu_domain(pending)
    if domain is None:
        problems.append("the test device's domain is unknown (no VT-d domain marker, "
                        'no virtio-iommu attach of endpoint 0x88, no SMMUv3 ASID '
                        'that leads the off phase)')
    elif domain_at.get('off') not in (None, domain):
        problems.append(f'the test device changed domain between the phases '
                        f'({domain} -> {domain_at["off"]})')
    if not iovas:
        problems.append('the guest listed no served IOVA in the on phase')
    after_on = 0
    for where, e in pending:
        mine = e.domain is None or e.domain == domain
        on_buffer = mine and any(e.covers(i) for i in iovas)
        if where in ('after-on', 'off', 'bounce'):
            after_on += on_buffer
        if where == 'after-on':
            continue
        c = counts[where]
        if mine:
            c.events += 1
            c.buffer_events += on_buffer
            c.multipage += e.start is not None and e.end - e.start >= PAGE
        else:
            c.other_domains += 1
    return Report(counts, domain, sorted(set(iovas)), after_on, problems, how)


def smmu_domain(pending) -> Tuple[Optional[int], str]:
    """The SMMUv3 ASID of the test device: the one with the most
    invalidations in the off phase (see the module's doc), and a note."""
    per: Dict[int, int] = {}
    for where, e in pending:
        if where == 'off' and e.domain is not None:
            per[e.domain] = per.get(e.domain, 0) + 1
    if not per:
        return None, ''
    ranked = sorted(per.items(), key=lambda kv: -kv[1])
    if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
        return None, ''
    asid, n = ranked[0]
    return asid, (f'ASID {asid}: {n} of the {sum(per.values())} ASID-tagged '
                  f'invalidations of the off phase')


def trace_path(run_dir: str) -> Optional[str]:
    """RUN_DIR's trace: qemu-trace.log, or a gzipped copy of it."""
    for f in ('qemu-trace.log', 'qemu-trace.log.gz'):
        if os.path.isfile(os.path.join(run_dir, f)):
            return os.path.join(run_dir, f)
    return None


def analyse(run_dir: str, requests: Dict[str, int]) -> Report:
    """RUN_DIR's trace, counted; REQUESTS: lz4-dmatest's requests per phase
    (the guest's IOTLB records, tools/boot.py)."""
    path = trace_path(run_dir)
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rt', errors='replace') as f:
        return count(f, requests)


def guest_requests(run_dir: str) -> Dict[str, int]:
    """The requests per phase of RUN_DIR's boot: its boot.json, else its
    guest.ktap's IOTLB records (a boot tools/boot.py has not read yet)."""
    import boot  # pylint: disable=import-outside-toplevel
    b = boot.load(run_dir)
    if b is not None and b.iotlb:
        return b.iotlb
    res = boot.ModeResult('')
    boot.take_records(res, boot.records(boot.read_lines(os.path.join(run_dir, 'guest.ktap'))))
    return res.iotlb


def print_table(rows: List[Tuple[str, Dict[str, float]]], out=sys.stdout) -> None:
    """The table of the IOMMU's work per zswap request, one row per boot and
    phase: ROWS are (boot, its metrics) of the traced boots (the metrics()
    of each, in its boot.json).  make check's summary and make demo's
    report print this one table."""
    rows = [(m, met) for m, met in rows if 'iotlb_requests_on' in met]
    if not rows:
        return
    print('== the IOMMU work per zswap request, counted on the host with QEMU trace events '
          '(VT-d: IOTLB invalidations; virtio-iommu: map + unmap requests; SMMUv3: TLB '
          'invalidation commands) in the test device\'s domain; the phases and the IOVAs the '
          'cache served are read from the guest\'s markers in the same ordered trace', file=out)
    print(f'  {"boot":<24}{"marking":<9}{"requests":>9}{"events":>8}{"per request":>12}'
          f'{"on served IOVAs":>16}', file=out)

    def cell(met, key):
        v = met.get(key)
        return '-' if v is None else f'{v:g}'
    for m, met in rows:
        for ph in PHASES:
            if f'iotlb_requests_{ph}' not in met:
                continue
            print(f'  {m:<24}{ph:<9}{cell(met, "iotlb_requests_" + ph):>9}'
                  f'{cell(met, "iotlb_events_" + ph):>8}'
                  f'{cell(met, "iotlb_events_per_request_" + ph):>12}'
                  f'{cell(met, "iotlb_buffer_events_" + ph):>16}', file=out)
        print(f'  {m:<24}events on the served IOVAs after the on phase (their teardown): '
              f'{cell(met, "iotlb_after_on_buffer_events")}', file=out)


CASES = ('iotlb.buffer_events_marking_on', 'iotlb.buffer_unmapped_after_on',
         'iotlb.fewer_events_per_request_marking_on')


def verdict(rep: Report) -> List[Tuple[str, bool, str]]:
    """(case, passed, reason) for tools/boot.py."""
    on, off = rep.counts['on'], rep.counts['off']
    if rep.problems:
        why = '; '.join(rep.problems)
        return [(c, False, why) for c in CASES]
    out = []
    if on.requests <= 0:
        out.append((CASES[0], False, 'no request in the on phase'))
    elif on.buffer_events:
        out.append((CASES[0], False,
                    f'{on.buffer_events} IOMMU events on the served IOVAs with the marking on '
                    f'({on.requests} requests)'))
    else:
        out.append((CASES[0], True, ''))
    if rep.after_on_buffer_events <= 0:
        out.append((CASES[1], False, 'no IOMMU event on the served IOVAs after the on phase: '
                    'the cached mappings were never torn down, or the attribution is wrong'))
    else:
        out.append((CASES[1], True, ''))
    if on.per_request is None or off.per_request is None:
        out.append((CASES[2], False, 'a phase had no request'))
    elif not on.per_request < off.per_request:
        out.append((CASES[2], False,
                    f'{on.per_request:.2f} events per request with the marking on, '
                    f'not fewer than {off.per_request:.2f} with it off'))
    else:
        out.append((CASES[2], True, ''))
    return out


def metrics(rep: Report) -> Dict[str, float]:
    m: Dict[str, float] = {'iotlb_after_on_buffer_events': rep.after_on_buffer_events}
    for ph, c in rep.counts.items():
        if ph in OPTIONAL_PHASES and not c.requests and not c.events:
            continue
        m[f'iotlb_requests_{ph}'] = c.requests
        m[f'iotlb_events_{ph}'] = c.events
        m[f'iotlb_buffer_events_{ph}'] = c.buffer_events
        m[f'iotlb_other_domain_events_{ph}'] = c.other_domains
        m[f'iotlb_multipage_events_{ph}'] = c.multipage
        if c.per_request is not None:
            m[f'iotlb_events_per_request_{ph}'] = round(c.per_request, 3)
    return m


def print_report(rep: Report, out=sys.stdout) -> None:
    dom = '-' if rep.domain is None else f'{rep.domain:#x}'
    if rep.how:
        print(f'device domain found by count: {rep.how}', file=out)
    print(f'device domain {dom}; served IOVAs: '
          f'{" ".join(f"{i:#x}" for i in rep.iovas) or "-"}', file=out)
    print(f'{"phase":<6}{"requests":>10}{"events":>9}{"buffer":>8}'
          f'{"per req":>9}{"2+ pages":>9}{"other dom":>11}', file=out)
    for c in rep.counts.values():
        if c.phase in OPTIONAL_PHASES and not c.requests and not c.events:
            continue
        pr = '-' if c.per_request is None else f'{c.per_request:.3f}'
        print(f'{c.phase:<6}{c.requests:>10}{c.events:>9}'
              f'{c.buffer_events:>8}{pr:>9}{c.multipage:>9}{c.other_domains:>11}', file=out)
    print(f'events on the served IOVAs after the on phase: {rep.after_on_buffer_events}', file=out)
    for p in rep.problems:
        print(f'problem: {p}', file=out)
    for name, ok, why in verdict(rep):
        print(f'{"PASS" if ok else "FAIL"} {name}{": " + why if why else ""}', file=out)


def trim(run_dir: str) -> str:
    """Cut qemu-trace.log down to the markers' span; says what it did."""
    trace = os.path.join(run_dir, 'qemu-trace.log')
    with open(trace, errors='replace') as f:
        lines = f.readlines()
    marks = [i for i, l in enumerate(lines) if isinstance(parse_line(l), Marker)]
    if not marks:
        return 'trace: no guest marker: kept whole'
    first, last = marks[0], marks[-1]
    kept = [l for i, l in enumerate(lines)
            if first <= i <= last or isinstance(parse_line(l), tuple)]
    tmp = trace + '.tmp'
    with open(tmp, 'w') as o:
        o.writelines(kept)
    os.replace(tmp, trace)
    return f'trace: kept {len(kept)} of {len(lines)} lines (the marked span, and the attaches)'


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == 'trim':
        ap = argparse.ArgumentParser(prog='iotlb.py trim')
        ap.add_argument('run_dir')
        a = ap.parse_args(argv[1:])
        print(trim(a.run_dir))
        return 0
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('run_dir')
    a = ap.parse_args(argv)
    if not trace_path(a.run_dir):
        print(f'iotlb.py: no qemu-trace.log in {a.run_dir} (boot with tools/vm --trace auto)',
              file=sys.stderr)
        return 2
    rep = analyse(a.run_dir, guest_requests(a.run_dir))
    print_report(rep)
    return 0 if all(ok for _, ok, _ in verdict(rep)) else 1


if __name__ == '__main__':
    sys.exit(main())
