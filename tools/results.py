#!/usr/bin/env python3
"""Collect and summarise what the guests reported.

  results.py mode --name M --dir D [--tree T]
      Parse one boot: KUnit's KTAP on the console (D/console.log) and the
      guest tests' KTAP (D/guest.ktap), both with the kernel tree's own
      kunit_parser (tools/testing/kunit); check that the guest finished and
      that the console is clean.  With a QEMU trace (tools/vm --trace auto:
      D/qemu-trace.log and D/guest-times), also what the IOMMU saw of the
      iotlb test's phases (tools/iotlb.py).  Writes D/result.json, prints a
      summary.

  results.py summary DIR...
      Add up result.json files and host-side check files (*.ktap) found in
      the directories and end with one line 'N passed, N failed'.
"""
import argparse
import enum
import io
import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterable, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATTERNS = os.path.join(REPO, 'tests', 'dmesg-patterns')
# Benign lines that the dmesg patterns would otherwise catch.
ALLOWED = re.compile(r'DMA-API: (preallocated|debugging enabled)')
DIAG = re.compile(r'^\s*# ([a-z_0-9]+): (-?[0-9.]+)\s*$')
STATUS = re.compile(r'^\s*# status: (.*?)\s*$')
INIT_STARTS = re.compile(r'Run /init as init process')
KTAP_TOP = re.compile(r'^(K?TAP version |[0-9]+\.\.[0-9]+|ok |not ok |#)')


class Status(enum.Enum):
    PASS = 'pass'
    FAIL = 'fail'
    SKIP = 'skip'


@dataclass
class Case:
    name: str
    status: Status
    reason: str = ''


@dataclass
class ModeResult:
    mode: str
    cases: List[Case] = field(default_factory=list)
    metrics: Dict[str, float] = field(default_factory=dict)
    boot: str = ''

    def count(self, status: Status) -> int:
        return sum(1 for c in self.cases if c.status == status)

    def to_json(self) -> str:
        d = asdict(self)
        for c in d['cases']:
            c['status'] = c['status'].value
        return json.dumps(d, indent=1)

    @staticmethod
    def from_json(text: str) -> 'ModeResult':
        d = json.loads(text)
        r = ModeResult(d['mode'], metrics=d.get('metrics', {}), boot=d.get('boot', ''))
        r.cases = [Case(c['name'], Status(c['status']), c.get('reason', '')) for c in d['cases']]
        return r


def load_parser(tree: Optional[str]):
    """Import the tree's own kunit_parser; its chatter goes to a buffer."""
    candidates = [tree] if tree else []
    candidates.append(os.environ.get('KSRC', ''))
    for t in candidates:
        path = os.path.join(t or '', 'tools', 'testing', 'kunit')
        if t and os.path.isfile(os.path.join(path, 'kunit_parser.py')):
            sys.path.insert(0, path)
            import kunit_parser  # pylint: disable=import-outside-toplevel
            import kunit_printer  # pylint: disable=import-outside-toplevel
            buf = io.StringIO()
            kunit_parser.stdout = kunit_printer.Printer(buf)
            return kunit_parser, buf
    raise SystemExit('results.py: no kernel tree with tools/testing/kunit/kunit_parser.py '
                     '(give --tree or set KSRC)')


def leaves(kp, test, name: str) -> Iterable[Case]:
    """Flatten a kunit_parser Test into its leaf cases, named NAME.sub.sub."""
    if not test.subtests:
        st = test.status
        if st == kp.TestStatus.SUCCESS:
            yield Case(name, Status.PASS)
        elif st == kp.TestStatus.SKIPPED:
            yield Case(name, Status.SKIP)
        elif st == kp.TestStatus.NO_TESTS:
            return
        else:
            why = {kp.TestStatus.TEST_CRASHED: 'crashed (output stopped)',
                   kp.TestStatus.FAILURE_TO_PARSE_TESTS: 'KTAP could not be parsed'}
            yield Case(name, Status.FAIL, why.get(st, ''))
        return
    for i, sub in enumerate(test.subtests, 1):
        yield from leaves(kp, sub, f'{name}.{sub.name or f"<case {i}>"}')
    # A plan that promised more subtests than arrived: the rest crashed.
    if test.expected_count and len(test.subtests) < test.expected_count:
        yield Case(f'{name}.<missing {test.expected_count - len(test.subtests)} of '
                   f'{test.expected_count}>', Status.FAIL, 'output stopped before the plan was done')


def parse_ktap(kp, lines: List[str], prefix: str) -> List[Case]:
    test = kp.parse_run_tests(lines)
    if test.status == kp.TestStatus.FAILURE_TO_PARSE_TESTS:
        return [Case(f'{prefix}.ktap', Status.FAIL, 'no KTAP output found')]
    # The top level is the document, not a test: its subtests are.
    cases = list(leaves(kp, test, prefix)) if not test.subtests else [
        c for i, sub in enumerate(test.subtests, 1)
        for c in leaves(kp, sub, f'{prefix}.{sub.name or f"<case {i}>"}')]
    if test.expected_count and len(test.subtests) < test.expected_count:
        cases.append(Case(f'{prefix}.<missing {test.expected_count - len(test.subtests)} of '
                          f'{test.expected_count}>', Status.FAIL,
                          'output stopped before the plan was done'))
    if not cases:
        return [Case(f'{prefix}.ktap', Status.FAIL, 'KTAP output held no test')]
    # kunit_parser keeps no reason for a failure: take it from the line.
    reasons = {}
    for l in lines:
        m = re.match(r'^\s*not ok \d+ (\S+) # (.*)$', l)
        if m:
            reasons[m.group(1)] = m.group(2).strip()
    for c in cases:
        if c.status == Status.FAIL and not c.reason:
            c.reason = reasons.get(c.name.rsplit('.', 1)[-1], '')
    return cases


def load_patterns(path: str = PATTERNS) -> List[re.Pattern]:
    with open(path) as f:
        return [re.compile(l.rstrip('\n')) for l in f
                if l.strip() and not l.startswith('#')]


EXPECTED_BEGIN = 'dma-reuse-kunit: expected report begins'
EXPECTED_END = 'dma-reuse-kunit: expected report ends'


def without_expected(lines: Iterable[str]) -> List[str]:
    """The lines outside the report the KUnit misuse case provokes on
    purpose and brackets with two markers (the guest checks its content).
    At most 100 lines are dropped per report, so that a missing end marker
    cannot hide the rest of the log."""
    out, skip = [], 0
    for l in lines:
        if EXPECTED_BEGIN in l:
            skip = 100
        if not skip:
            out.append(l)
        else:
            skip -= 1
        if EXPECTED_END in l:
            skip = 0
    return out


def bad_console_lines(lines: Iterable[str], patterns: List[re.Pattern]) -> List[str]:
    return [l.rstrip() for l in without_expected(lines)
            if any(p.search(l) for p in patterns) and not ALLOWED.search(l)]


def read_lines(path: str) -> List[str]:
    try:
        with open(path, errors='backslashreplace') as f:
            return [l.replace('\r', '') for l in f.read().splitlines()]
    except FileNotFoundError:
        return []


def read_word(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ''


def boot_time(console: List[str]) -> List[str]:
    """KUnit's lines of the console up to the start of /init: built-in
    suites run before it, and a suite run again later from debugfs prints a
    second KTAP document that the guest reports on its own channel."""
    end = next((i for i, line in enumerate(console) if INIT_STARTS.search(line)),
               len(console))
    # Other kernel messages interleave with KUnit's at column 0 (a device
    # probing while a suite runs): KTAP's own top-level lines are the only
    # unindented ones to keep.
    return [l for l in console[:end] if l[:1].isspace() or KTAP_TOP.match(l)]


IOTLB_RESULT = re.compile(r'^(ok|not ok) \d+ iotlb_counts(?: # (SKIP)?\s*(.*))?$')


def check_iotlb(d: str, guest: List[str], res: ModeResult) -> None:
    """The host's verdict on the guest's iotlb phases, from QEMU's trace."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import iotlb  # pylint: disable=import-outside-toplevel
    names = ('iotlb.buffer_events_marking_on', 'iotlb.folio_side_only_marking_on')
    reported = [m for m in map(IOTLB_RESULT.match, guest) if m]
    if reported and reported[-1].group(2):
        res.cases.extend(Case(n, Status.SKIP, reported[-1].group(3) or '') for n in names)
        return
    if not reported:
        res.cases.extend(Case(n, Status.FAIL, 'traced, but the guest reported no iotlb_counts '
                              '(is iotlb in --tests?)') for n in names)
        return
    rep = iotlb.analyse(d)
    for n, ok, why in iotlb.verdict(rep):
        res.cases.append(Case(n, Status.PASS if ok else Status.FAIL, why))
    res.metrics.update(iotlb.metrics(rep))


def check_mode(kp, name: str, d: str) -> ModeResult:
    res = ModeResult(name, boot=read_word(os.path.join(d, 'boot-info')))
    console = read_lines(os.path.join(d, 'console.log'))
    guest = read_lines(os.path.join(d, 'guest.ktap'))
    vm_status = read_word(os.path.join(d, 'vm-status'))

    # How the guest ended: the last status line wins (vmtest.sh style).
    status = ''
    for l in guest:
        m = STATUS.match(l)
        if m:
            status = m.group(1)
    if vm_status == 'timeout':
        res.cases.append(Case('guest_finished', Status.FAIL,
                              'the guest hung and was killed at the timeout'))
    elif vm_status.startswith('qemu-error'):
        res.cases.append(Case('guest_finished', Status.FAIL, f'QEMU failed: {vm_status}'))
    elif status != 'done':
        panic = next((l for l in console if 'Kernel panic' in l), '')
        res.cases.append(Case('guest_finished', Status.FAIL,
                              panic or f'the guest stopped before the end (status: {status or "none"})'))
    else:
        res.cases.append(Case('guest_finished', Status.PASS))

    if '# kernel: built without KUnit' in guest:
        # The benchmark kernel: no suite ran at boot, and none should have.
        res.cases.append(Case('kunit', Status.SKIP, 'kernel built without KUnit'))
    else:
        res.cases.extend(parse_ktap(kp, boot_time(console), 'kunit'))
    res.cases.extend(parse_ktap(kp, guest, 'guest'))

    bad = bad_console_lines(console, load_patterns())
    res.cases.append(Case('console_clean', Status.FAIL if bad else Status.PASS,
                          '; '.join(bad[:3])))
    for l in guest:
        m = DIAG.match(l)
        if m:
            key, val = m.group(1), float(m.group(2))
            res.metrics[key] = res.metrics.get(key, 0) + val if key in (
                'pages', 'zswpout', 'zswpin', 'pswpout', 'pswpin', 'mismatches') else val
    if all(os.path.isfile(os.path.join(d, f)) for f in ('qemu-trace.log', 'guest-times')):
        check_iotlb(d, guest, res)
    return res


def print_mode(res: ModeResult, out=sys.stdout) -> None:
    print(f'mode {res.mode}: {res.count(Status.PASS)} passed, {res.count(Status.FAIL)} failed, '
          f'{res.count(Status.SKIP)} skipped ({res.boot or "no boot info"})', file=out)
    for c in res.cases:
        if c.status == Status.FAIL:
            print(f'  FAIL {c.name}{": " + c.reason if c.reason else ""}', file=out)


def cmd_mode(args) -> int:
    kp, buf = load_parser(args.tree)
    res = check_mode(kp, args.name, args.dir)
    with open(os.path.join(args.dir, 'result.json'), 'w') as f:
        f.write(res.to_json())
    with open(os.path.join(args.dir, 'kunit-parser.log'), 'w') as f:
        f.write(buf.getvalue())
    print_mode(res)
    return 1 if res.count(Status.FAIL) else 0


def host_checks(path: str) -> List[Case]:
    """Cases from a host-side check file: 'ok N name' / 'not ok N name # why'."""
    cases = []
    for l in read_lines(path):
        m = re.match(r'^(ok|not ok) \d+ (.*?)(?: # (SKIP)?\s*(.*))?$', l)
        if not m:
            continue
        if m.group(3):
            st = Status.SKIP
        else:
            st = Status.PASS if m.group(1) == 'ok' else Status.FAIL
        cases.append(Case(m.group(2), st, m.group(4) or ''))
    return cases


def mode_order() -> Dict[str, int]:
    """Mode name -> row number in tests/iommu-modes."""
    order: Dict[str, int] = {}
    with open(os.path.join(REPO, 'tests', 'iommu-modes')) as f:
        for line in f:
            if line.strip() and not line.startswith('#'):
                order.setdefault(line.split('|', 1)[0].strip(), len(order))
    return order


def fmt(v: Optional[float]) -> str:
    return '-' if v is None else f'{v:.0f}'


def hit_rate(m: Dict[str, float]) -> str:
    """Cache hits per marked list of the rebound stress, in percent."""
    if not m.get('cache_marked') or m.get('cache_hits') is None:
        return '-'
    return f'{100.0 * m["cache_hits"] / m["cache_marked"]:.1f}'


def cmd_summary(args) -> int:
    modes: List[ModeResult] = []
    checks: Dict[str, List[Case]] = {}
    for d in args.dirs:
        for root, _, files in sorted(os.walk(d)):
            for f in sorted(files):
                p = os.path.join(root, f)
                if f == 'result.json':
                    modes.append(ModeResult.from_json(open(p).read()))
                elif f.endswith('.ktap') and f != 'guest.ktap':
                    checks[os.path.relpath(p, d)] = host_checks(p)
    passed = failed = skipped = 0
    print('== host-side checks')
    for name, cases in checks.items():
        p = sum(c.status == Status.PASS for c in cases)
        fl = sum(c.status == Status.FAIL for c in cases)
        s = sum(c.status == Status.SKIP for c in cases)
        passed, failed, skipped = passed + p, failed + fl, skipped + s
        print(f'  {name:<28} {p:4} passed {fl:4} failed {s:4} skipped')
        for c in cases:
            if c.status == Status.FAIL:
                print(f'    FAIL {c.name}{": " + c.reason if c.reason else ""}')
    if modes:
        order = mode_order()
        modes.sort(key=lambda r: (order.get(r.mode, len(order)), r.mode))
        print('== boot matrix')
        print(f'  {"mode":<24}{"result":<8}{"kunit":>9}{"guest":>9}{"pages":>9}'
              f'{"out p/s":>9}{"in p/s":>9}{"mism.":>7}{"marked":>8}{"hit%":>7}'
              f'{"miss":>6}{"fb":>8}{"hotplug":>8}{"switch":>7}{"stop":>6}  boot')
        for r in modes:
            def ratio(prefix):
                cs = [c for c in r.cases if c.name.startswith(prefix)]
                return f'{sum(c.status == Status.PASS for c in cs)}/{len(cs)}'
            m = r.metrics
            print(f'  {r.mode:<24}{"PASS" if not r.count(Status.FAIL) else "FAIL":<8}'
                  f'{ratio("kunit"):>9}{ratio("guest"):>9}{fmt(m.get("pages")):>9}'
                  f'{fmt(m.get("swapout_pages_per_s")):>9}{fmt(m.get("swapin_pages_per_s")):>9}'
                  f'{fmt(m.get("mismatches")):>7}{fmt(m.get("cache_marked")):>8}'
                  f'{hit_rate(m):>7}{fmt(m.get("cache_misses")):>6}'
                  f'{fmt(m.get("fallback_not_iommu")):>8}{fmt(m.get("fire_hotplug")):>8}'
                  f'{fmt(m.get("fire_switch")):>7}{fmt(m.get("teardown_stop")):>6}  {r.boot}')
            passed += r.count(Status.PASS)
            failed += r.count(Status.FAIL)
            skipped += r.count(Status.SKIP)
            for c in r.cases:
                if c.status == Status.FAIL:
                    print(f'    FAIL {c.name}{": " + c.reason if c.reason else ""}')
    traced = [r for r in modes if 'iotlb_requests_on' in r.metrics]
    if traced:
        print('== IOMMU work per zswap request, counted on the host (QEMU trace events)')
        print(f'  {"mode":<24}{"marking":<9}{"requests":>9}{"events":>8}{"per req":>9}'
              f'{"on buffer":>10}')
        for r in traced:
            for ph in ('on', 'off'):
                m = r.metrics
                print(f'  {r.mode:<24}{ph:<9}{fmt(m.get("iotlb_requests_" + ph)):>9}'
                      f'{fmt(m.get("iotlb_events_" + ph)):>8}'
                      f'{m.get("iotlb_events_per_request_" + ph, "-"):>9}'
                      f'{fmt(m.get("iotlb_buffer_events_" + ph)):>10}')
    if passed + failed == 0:
        print('no test ran')
        failed = 1
    tail = f', {skipped} skipped' if skipped else ''
    print(f'{passed} passed, {failed} failed{tail}')
    return 1 if failed else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('mode', help='parse one boot')
    m.add_argument('--name', required=True)
    m.add_argument('--dir', required=True)
    m.add_argument('--tree')
    s = sub.add_parser('summary', help='add up a run')
    s.add_argument('dirs', nargs='+')
    args = ap.parse_args(argv)
    return cmd_mode(args) if args.cmd == 'mode' else cmd_summary(args)


if __name__ == '__main__':
    sys.exit(main())
