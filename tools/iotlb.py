#!/usr/bin/env python3
"""Count what the emulated IOMMU saw of zswap's traffic, per phase.

  iotlb.py RUN_DIR
      Print a table: per phase of the guest's iotlb test (reuse_dma_buffer
      on, off), the IOMMU events of the test device's domain, those on the
      reused buffer's IOVAs, the lz4-dmatest requests and events per
      request.  Exit status 1 if the run's verdict fails (see verdict()).

  iotlb.py trim RUN_DIR [--margin SEC]
      Run by tools/vm after the boot: keep only the trace lines from
      --margin seconds (default 10) before the first phase marker to as
      long after the last (a whole boot's trace is tens of MB); a run
      without markers is left as it is.

  iotlb.py watch --ktap FILE --out FILE [--timeout SEC]
      Started by tools/vm --trace: poll FILE (the guest's KTAP port) every
      20 ms and append each new '# iotlb-' line to --out as
      '<host wall-clock seconds> <line>'.  Exits when its parent does, or
      after --timeout.

Inputs in RUN_DIR, written by tools/vm --trace auto:

  qemu-trace.log  QEMU's "log" trace backend with -msg timestamp=on, one
                  event per line: 'TID@SECONDS.MICROS:EVENT ARGS'.  The time
                  is gettimeofday(), the host's wall clock (CLOCK_REALTIME),
                  the same clock as the watcher's time.time().
  guest-times     the watcher's lines: '<seconds> # iotlb-phase on begin',
                  '<seconds> # iotlb-iova on 0x...', ...

Events counted (both are requests the IOMMU must serve synchronously in a
strict domain):

  VT-d           vtd_inv_desc_iotlb_pages (domain, addr, mask = log2 of the
                 pages), and the domain-wide or global IOTLB invalidations,
                 which cover every IOVA of their domain(s);
  virtio-iommu   virtio_iommu_map / virtio_iommu_unmap (domain, virt_start,
                 virt_end inclusive).

An event is the buffer's if its range covers one of the IOVAs the guest
listed (the last ones the cache served).  The test device's domain is the
one whose events cover those IOVAs most often in the "off" phase, where the
buffer is mapped and unmapped per request; IOVA spaces are per domain, so
the other devices' (the swap disk's) events are not counted.
"""
import argparse
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

PAGE = 4096
PHASES = ('on', 'off')
# 'TID@SEC.USEC:event args' (-msg timestamp=on); without the timestamp the
# line is just 'event args' and cannot be placed in a phase.
TRACE_LINE = re.compile(r'^(?:\d+)@(\d+\.\d+):(\w+)(?: (.*))?$')
VTD_PAGES = re.compile(r'domain 0x([0-9a-f]+) addr 0x([0-9a-f]+) mask 0x([0-9a-f]+)')
VTD_DOMAIN = re.compile(r'domain 0x([0-9a-f]+)')
VIRTIO_RANGE = re.compile(r'domain=(\d+) virt_start=0x([0-9a-f]+) virt_end=0x([0-9a-f]+)')
GUEST_LINE = re.compile(r'^(\d+(?:\.\d+)?) # iotlb-(\S+) (on|off)(?: (.*?))?\s*$')

# The QEMU trace events per IOMMU device (tools/vm --trace auto).
EVENTS = {
    'intel-iommu': ['vtd_inv_desc_iotlb_*'],
    'virtio-iommu-pci': ['virtio_iommu_map', 'virtio_iommu_unmap',
                         'virtio_iommu_attach', 'virtio_iommu_detach'],
}


@dataclass
class Event:
    t: float
    name: str
    domain: Optional[int]      # None: every domain (global invalidation)
    start: Optional[int]       # None: the whole domain
    end: Optional[int]         # inclusive

    def covers(self, iova: int) -> bool:
        return self.start is None or self.start <= iova <= self.end


def parse_event(line: str) -> Optional[Event]:
    """One counted IOMMU event from a trace line, else None."""
    m = TRACE_LINE.match(line.strip())
    if not m:
        return None
    t, name, args = float(m.group(1)), m.group(2), m.group(3) or ''
    if name in ('vtd_inv_desc_iotlb_pages', 'vtd_inv_desc_iotlb_pasid_pages'):
        a = VTD_PAGES.search(args)
        if not a:
            return None
        start = int(a.group(2), 16) & ~(PAGE - 1)
        return Event(t, name, int(a.group(1), 16), start,
                     start + (PAGE << int(a.group(3), 16)) - 1)
    if name in ('vtd_inv_desc_iotlb_domain', 'vtd_inv_desc_iotlb_pasid'):
        a = VTD_DOMAIN.search(args)
        return Event(t, name, int(a.group(1), 16), None, None) if a else None
    if name == 'vtd_inv_desc_iotlb_global':
        return Event(t, name, None, None, None)
    if name in ('virtio_iommu_map', 'virtio_iommu_unmap'):
        a = VIRTIO_RANGE.search(args)
        if not a:
            return None
        return Event(t, name, int(a.group(1)), int(a.group(2), 16), int(a.group(3), 16))
    return None


def read_trace(path: str) -> Tuple[List[Event], int]:
    """The counted events, and the number of trace lines without a usable
    timestamp (a log written without -msg timestamp=on)."""
    events, untimed = [], 0
    with open(path, errors='replace') as f:
        for line in f:
            if TRACE_LINE.match(line.strip()):
                ev = parse_event(line)
                if ev:
                    events.append(ev)
            elif line.strip() and not line.startswith(('qemu-system', 'warning')):
                untimed += 1
    return events, untimed


@dataclass
class Phase:
    name: str
    begin: Optional[float] = None
    end: Optional[float] = None
    requests: Optional[int] = None
    iovas: List[int] = field(default_factory=list)


def read_guest_times(path: str) -> Dict[str, Phase]:
    phases = {p: Phase(p) for p in PHASES}
    with open(path, errors='replace') as f:
        for line in f:
            m = GUEST_LINE.match(line.strip())
            if not m:
                continue
            t, kind, ph, rest = float(m.group(1)), m.group(2), m.group(3), m.group(4) or ''
            p = phases[ph]
            if kind == 'phase' and rest == 'begin':
                p.begin = t
            elif kind == 'phase' and rest == 'end':
                p.end = t
            elif kind == 'requests' and rest.isdigit():
                p.requests = int(rest)
            elif kind == 'iova':
                try:
                    p.iovas.append(int(rest, 16) & ~(PAGE - 1))
                except ValueError:
                    pass
    return phases


@dataclass
class Counts:
    phase: str
    requests: int = 0
    events: int = 0            # in the device's domain
    buffer_events: int = 0     # of those, on the buffer's IOVAs
    other_domains: int = 0     # the other devices' events in the phase
    multipage: int = 0         # events on more than one page (informative:
    #                            zswap's buffer is two pages, a folio page one)
    seconds: float = 0.0

    @property
    def per_request(self) -> Optional[float]:
        return self.events / self.requests if self.requests else None


@dataclass
class Report:
    counts: Dict[str, Counts]
    domain: Optional[int]
    iovas: List[int]
    problems: List[str]


def in_domain(ev: Event, dom: Optional[int]) -> bool:
    return dom is None or ev.domain is None or ev.domain == dom


def count(events: List[Event], phases: Dict[str, Phase]) -> Report:
    problems = []
    for p in phases.values():
        if p.begin is None or p.end is None:
            problems.append(f'phase {p.name}: no begin/end marker in guest-times')
        elif p.end <= p.begin:
            problems.append(f'phase {p.name}: ends before it begins')
        if p.requests is None:
            problems.append(f'phase {p.name}: the guest reported no request count')
    iovas = sorted({i for p in phases.values() for i in p.iovas})
    if not iovas:
        problems.append('the guest listed no buffer IOVA (served_iovas empty)')
    inside = {}
    for name, p in phases.items():
        inside[name] = [] if p.begin is None or p.end is None else \
            [e for e in events if p.begin <= e.t <= p.end]

    def is_buffer(e):
        return any(e.covers(i) for i in iovas)

    # The device's domain: where the off phase's buffer events are.
    votes = Counter(e.domain for e in inside['off']
                    if e.domain is not None and e.start is not None and is_buffer(e))
    domain = votes.most_common(1)[0][0] if votes else None
    counts = {}
    for name, p in phases.items():
        c = Counts(name, requests=p.requests or 0)
        if p.begin is not None and p.end is not None:
            c.seconds = p.end - p.begin
        for e in inside[name]:
            if in_domain(e, domain):
                c.events += 1
                c.buffer_events += is_buffer(e)
                c.multipage += e.start is not None and e.end - e.start >= PAGE
            else:
                c.other_domains += 1
        counts[name] = c
    return Report(counts, domain, iovas, problems)


def analyse(run_dir: str) -> Report:
    trace = os.path.join(run_dir, 'qemu-trace.log')
    times = os.path.join(run_dir, 'guest-times')
    events, untimed = read_trace(trace)
    rep = count(events, read_guest_times(times))
    if untimed and not events:
        rep.problems.append(f'{untimed} trace lines without a timestamp (-msg timestamp=on?)')
    return rep


def verdict(rep: Report) -> List[Tuple[str, bool, str]]:
    """(case, passed, reason) for tools/results.py."""
    on, off = rep.counts['on'], rep.counts['off']
    if rep.problems:
        why = '; '.join(rep.problems)
        return [('iotlb.buffer_events_marking_on', False, why),
                ('iotlb.folio_side_only_marking_on', False, why)]
    out = []
    if on.requests <= 0:
        out.append(('iotlb.buffer_events_marking_on', False, 'no request in the on phase'))
    elif on.buffer_events:
        out.append(('iotlb.buffer_events_marking_on', False,
                    f'{on.buffer_events} IOMMU events on the cached buffer IOVAs '
                    f'with the marking on ({on.requests} requests)'))
    else:
        out.append(('iotlb.buffer_events_marking_on', True, ''))
    if off.buffer_events <= 0:
        out.append(('iotlb.folio_side_only_marking_on', False,
                    'no IOMMU event on the buffer IOVAs with the marking off: '
                    'the attribution does not work'))
    elif on.per_request is None or off.per_request is None:
        out.append(('iotlb.folio_side_only_marking_on', False, 'a phase had no request'))
    elif not on.per_request < off.per_request:
        out.append(('iotlb.folio_side_only_marking_on', False,
                    f'{on.per_request:.2f} events per request with the marking on, '
                    f'not fewer than {off.per_request:.2f} with it off'))
    else:
        out.append(('iotlb.folio_side_only_marking_on', True, ''))
    return out


def metrics(rep: Report) -> Dict[str, float]:
    m = {}
    for ph, c in rep.counts.items():
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
    print(f'device domain {dom}; buffer IOVAs: '
          f'{" ".join(f"{i:#x}" for i in rep.iovas) or "-"}', file=out)
    print(f'{"phase":<6}{"seconds":>8}{"requests":>10}{"events":>9}{"buffer":>8}'
          f'{"per req":>9}{"2+ pages":>9}{"other dom":>11}', file=out)
    for c in rep.counts.values():
        pr = '-' if c.per_request is None else f'{c.per_request:.3f}'
        print(f'{c.phase:<6}{c.seconds:>8.1f}{c.requests:>10}{c.events:>9}'
              f'{c.buffer_events:>8}{pr:>9}{c.multipage:>9}{c.other_domains:>11}', file=out)
    for p in rep.problems:
        print(f'problem: {p}', file=out)
    for name, ok, why in verdict(rep):
        print(f'{"PASS" if ok else "FAIL"} {name}{": " + why if why else ""}', file=out)


def trim(run_dir: str, margin: float) -> str:
    """Cut qemu-trace.log down to the phases' window; says what it did."""
    trace = os.path.join(run_dir, 'qemu-trace.log')
    phases = read_guest_times(os.path.join(run_dir, 'guest-times'))
    marks = [t for p in phases.values() for t in (p.begin, p.end) if t is not None]
    if not marks:
        return 'no iotlb phase markers: trace kept whole'
    lo, hi = min(marks) - margin, max(marks) + margin
    kept = total = 0
    tmp = trace + '.tmp'
    with open(trace, errors='replace') as f, open(tmp, 'w') as o:
        for line in f:
            total += 1
            m = TRACE_LINE.match(line.strip())
            if m and lo <= float(m.group(1)) <= hi:
                o.write(line)
                kept += 1
    os.replace(tmp, trace)
    return f'kept {kept} of {total} lines (the iotlb phases, {margin:g} s either side)'


def watch(ktap: str, out: str, timeout: float, interval: float = 0.02) -> int:
    """Timestamp the guest's '# iotlb-' lines as they appear in KTAP."""
    parent = os.getppid()
    deadline = time.time() + timeout
    pos, partial = 0, b''
    with open(out, 'a') as o:
        while time.time() < deadline and os.getppid() == parent:
            try:
                with open(ktap, 'rb') as f:
                    f.seek(pos)
                    data = f.read()
            except FileNotFoundError:
                data = b''
            now = time.time()
            if data:
                pos += len(data)
                lines = (partial + data).split(b'\n')
                partial = lines.pop()
                for raw in lines:
                    line = raw.decode(errors='replace').replace('\r', '')
                    if line.startswith('# iotlb-'):
                        o.write(f'{now:.6f} {line}\n')
                o.flush()
            time.sleep(interval)
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == 'watch':
        ap = argparse.ArgumentParser(prog='iotlb.py watch')
        ap.add_argument('--ktap', required=True)
        ap.add_argument('--out', required=True)
        ap.add_argument('--timeout', type=float, default=3600)
        a = ap.parse_args(argv[1:])
        return watch(a.ktap, a.out, a.timeout)
    if argv and argv[0] == 'trim':
        ap = argparse.ArgumentParser(prog='iotlb.py trim')
        ap.add_argument('run_dir')
        ap.add_argument('--margin', type=float, default=10)
        a = ap.parse_args(argv[1:])
        print(f'trace: {trim(a.run_dir, a.margin)}')
        return 0
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('run_dir')
    a = ap.parse_args(argv)
    for f in ('qemu-trace.log', 'guest-times'):
        if not os.path.isfile(os.path.join(a.run_dir, f)):
            print(f'iotlb.py: no {f} in {a.run_dir} (boot with tools/vm --trace auto)',
                  file=sys.stderr)
            return 2
    rep = analyse(a.run_dir)
    print_report(rep)
    return 0 if all(ok for _, ok, _ in verdict(rep)) else 1


if __name__ == '__main__':
    sys.exit(main())
