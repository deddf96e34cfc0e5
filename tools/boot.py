#!/usr/bin/env python3
"""One boot, read once: its verdicts and its numbers in one file.

  boot.py --name M --dir D [--tree T]
      Read boot directory D (tools/vm's): KUnit's KTAP on the console
      (D/console.log) and the guest tests' KTAP (D/guest.ktap), both with
      the kernel tree's own kunit_parser (tools/testing/kunit); how the
      guest ended (vm-status, the last '# status:'); the console's bad
      lines (tests/dmesg-patterns); what the boot had to report and the
      skips it may have (D/expect.json, tools/expect.py); the guest's
      records ('# SGR KIND key=value ...', the one dialect of
      tests/guest/lib.sh: metrics, zswap_stress passes, benchmark runs and
      histograms, zswap A/B passes, the iotlb phases' requests); and with
      a QEMU trace (tools/vm --trace auto) what the IOMMU saw of those
      phases (tools/iotlb.py).  Writes D/boot.json, which tools/results.py
      (the run's summary), tools/report.py (make demo's report) and
      tools/iotlb.py read; prints the boot's summary; exits 1 if a case
      failed.

  boot.py records FILE
      The records of one KTAP file, as JSON lines (to look at).
"""
import argparse
import enum
import inspect
import io
import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterable, List, Optional


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATTERNS = os.path.join(REPO, 'tests', 'dmesg-patterns')
BOOT_JSON = 'boot.json'
# Benign lines that the dmesg patterns would otherwise catch.
ALLOWED = re.compile(r'DMA-API: (preallocated|debugging enabled)')
# The guest's records: '# SGR KIND key=value ...' at any depth of its KTAP
# (tests/guest/lib.sh, the dialect's one description).
RECORD = re.compile(r'^\s*# SGR ([A-Z][A-Z0-9_]*)((?: [a-z_0-9]+=\S*)*)\s*$')
KV = re.compile(r'([a-z_0-9]+)=(\S*)')
# A record tests/guest/lib.sh refused to write (a malformed field): its
# numbers are lost, so the boot fails.
REFUSED = re.compile(r'^\s*# record refused, ')
# The numbers of a zswap_stress pass that add up over a boot; the rest of
# its record (rates, the seed) is the last pass's.
STRESS_TOTALS = ('pages', 'zswpout', 'zswpin', 'pswpout', 'pswpin', 'mismatches')
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
    """One boot, as boot.json holds it: its verdicts and its numbers."""
    mode: str
    cases: List[Case] = field(default_factory=list)
    metrics: Dict[str, float] = field(default_factory=dict)
    boot: str = ''
    expected: int = 0           # top-level cases expected: guest plan + KUnit suites
    seen: int = 0               # of those, how many reported
    allowed_skips: Dict[str, str] = field(default_factory=dict)  # expect.json's
    skips: List[str] = field(default_factory=list)               # the skips seen, allowed
    # The guest's records (values as the guest wrote them, strings):
    stress: List[Dict[str, str]] = field(default_factory=list)   # SGR STRESS, a zswap_stress pass
    bench: List[Dict[str, str]] = field(default_factory=list)    # SGR BENCH, a benchmark run
    hist: List[Dict[str, str]] = field(default_factory=list)     # SGR HIST, a histogram bucket
    zswap: List[Dict[str, str]] = field(default_factory=list)    # SGR ZSWAPAB, a zswap A/B pass
    clen: List[Dict[str, str]] = field(default_factory=list)     # SGR CLEN, a compressed-length bucket
    clens: List[Dict[str, str]] = field(default_factory=list)    # SGR CLENS, the copy lengths used
    iotlb: Dict[str, int] = field(default_factory=dict)          # SGR IOTLB: requests per phase

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
        r = ModeResult(d['mode'], metrics=d.get('metrics', {}), boot=d.get('boot', ''),
                       expected=d.get('expected', 0), seen=d.get('seen', 0),
                       allowed_skips=d.get('allowed_skips', {}), skips=d.get('skips', []),
                       stress=d.get('stress', []), bench=d.get('bench', []),
                       hist=d.get('hist', []), zswap=d.get('zswap', []),
                       clen=d.get('clen', []), clens=d.get('clens', []),
                       iotlb=d.get('iotlb', {}))
        r.cases = [Case(c['name'], Status(c['status']), c.get('reason', '')) for c in d['cases']]
        return r


def pinned_stacks() -> List[List[str]]:
    """The rows of tools/pin.sh's SGR_STACKS table: [stack, package,
    version, suite, patches, series], the default stack first."""
    text = open(os.path.join(REPO, 'tools', 'pin.sh')).read()
    table = re.search(r"^SGR_STACKS='(.*?)'", text, re.M | re.S)
    default = re.search(r'^SGR_STACK_DEFAULT=(\S+)', text, re.M)
    rows = [line.split() for line in (table.group(1) if table else '').splitlines()
            if line.strip() and not line.lstrip().startswith('#')]
    rows.sort(key=lambda r: r[0] != (default.group(1) if default else ''))
    return rows


def default_trees() -> List[str]:
    """Where a kunit_parser is looked for without --tree: SGR_KUNIT_TREE,
    KSRC, the stack's applied worktree (STACK, else the default stack), the
    pinned base trees (tools/pin.sh)."""
    cache = os.environ.get('SGR_CACHE') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'sg-reuse')
    stacks = pinned_stacks()
    stack = os.environ.get('STACK') or (stacks[0][0] if stacks else '')
    trees = [os.environ.get('SGR_KUNIT_TREE', ''), os.environ.get('KSRC', ''),
             os.path.join(cache, stack, 'applied') if stack else '']
    trees += [os.path.join(cache, 'base-' + r[2].replace('~', '_')) for r in stacks if len(r) > 2]
    return [t for t in trees if t]


def load_parser(tree: Optional[str]):
    """Import the tree's own kunit_parser; its chatter goes to a buffer."""
    for t in [tree] if tree else default_trees():
        path = os.path.join(t, 'tools', 'testing', 'kunit')
        if os.path.isfile(os.path.join(path, 'kunit_parser.py')):
            sys.path.insert(0, path)
            import kunit_parser  # pylint: disable=import-outside-toplevel
            import kunit_printer  # pylint: disable=import-outside-toplevel
            buf = io.StringIO()
            # 6.12's Printer(output) and 7.3's Printer(print, output) both
            # take output by name; 7.3's parser also takes the printer as
            # an argument instead of the module's stdout.
            kunit_parser.stdout = kunit_printer.Printer(output=buf)
            kunit_parser.sgr_printer = kunit_parser.stdout
            return kunit_parser, buf
    where = tree or ', '.join(default_trees()) or 'nowhere'
    print(f'{os.path.basename(sys.argv[0])}: no tools/testing/kunit/kunit_parser.py in {where} '
          '(give --tree, or set KSRC)', file=sys.stderr)
    raise SystemExit(2)


class ParseLog:
    """The parser errors of one parse, with the test each belongs to:
    kunit_parser counts them (Test.counts.errors) but keeps no message."""

    def __init__(self, kp):
        self.kp, self.errors = kp, []

    def __enter__(self):
        orig = self.kp.Test.add_error
        log = self.errors

        def add_error(test, *args):
            # add_error(message) in 6.12, add_error(printer, message) in 7.3
            log.append((test.name or '?', args[-1]))
            orig(test, *args)
        self._orig = orig
        self.kp.Test.add_error = add_error
        return self

    def __exit__(self, *exc):
        self.kp.Test.add_error = self._orig
        return False


WHY = {'TEST_CRASHED': 'crashed (output stopped)',
       'FAILURE_TO_PARSE_TESTS': 'KTAP could not be parsed',
       'NO_TESTS': 'reported no test'}


def cases_of(kp, test, name: str) -> Iterable[Case]:
    """Every result line of a kunit_parser Test, as cases: its leaves, and
    each parent's own verdict (a parent's 'not ok' over passing leaves is a
    failure of its own).  A subtest that never reported (a plan that
    promised more) is a failure, as is a crashed test."""
    st = test.status
    if st == kp.TestStatus.SUCCESS:
        yield Case(name, Status.PASS)
    elif st == kp.TestStatus.SKIPPED:
        yield Case(name, Status.SKIP)
    else:
        yield Case(name, Status.FAIL, WHY.get(st.name, ''))
    for i, sub in enumerate(test.subtests, 1):
        yield from cases_of(kp, sub, f'{name}.{sub.name or f"<case {i}: no result line>"}')
    if test.subtests and test.expected_count and len(test.subtests) < test.expected_count:
        yield Case(f'{name}.<missing {test.expected_count - len(test.subtests)} of '
                   f'{test.expected_count}>', Status.FAIL, 'output stopped before the plan was done')


def parse_ktap(kp, lines: List[str], prefix: str) -> List[Case]:
    """One KTAP document as cases named PREFIX.name...; the document's own
    problems (no KTAP at all, a plan not met, a result line that does not
    name its subtest, a number out of order) are failing cases too."""
    with ParseLog(kp) as plog:
        try:
            if 'printer' in inspect.signature(kp.parse_run_tests).parameters:
                test = kp.parse_run_tests(lines, kp.sgr_printer)
            else:
                test = kp.parse_run_tests(lines)
        except Exception as e:  # pylint: disable=broad-except
            # kunit_parser gives up on some broken documents (it reads
            # past the end): that is the document's failure, not ours.
            return [Case(f'{prefix}.ktap', Status.FAIL,
                         f'kunit_parser could not read the document: {type(e).__name__}: {e}')]
    if test.status == kp.TestStatus.FAILURE_TO_PARSE_TESTS:
        return [Case(f'{prefix}.ktap', Status.FAIL, 'no KTAP output found')]
    # The top level is the document, not a test: its subtests are.
    cases = [c for i, sub in enumerate(test.subtests, 1)
             for c in cases_of(kp, sub, f'{prefix}.{sub.name or f"<case {i}: no result line>"}')]
    if test.expected_count is None:
        cases.append(Case(f'{prefix}.ktap', Status.FAIL, 'the document has no plan'))
    elif len(test.subtests) < test.expected_count:
        cases.append(Case(f'{prefix}.<missing {test.expected_count - len(test.subtests)} of '
                          f'{test.expected_count}>', Status.FAIL,
                          'output stopped before the plan was done'))
    if not test.subtests:
        cases.append(Case(f'{prefix}.ktap', Status.FAIL, 'KTAP output held no test'))
    for where, message in plog.errors:
        if message == '0 tests run!' and not test.subtests:
            continue
        cases.append(Case(f'{prefix}.<parse error>', Status.FAIL, f'{where}: {message}'))
    # kunit_parser keeps no reason for a failure or a skip: take it from
    # the line ("not ok N name # reason", "ok N name # SKIP reason").
    reasons: Dict[Status, Dict[str, str]] = {Status.FAIL: {}, Status.SKIP: {}}
    for l in lines:
        m = re.match(r'^\s*not ok \d+ (.*?) # (.*)$', l)
        if m:
            reasons[Status.FAIL][m.group(1).strip()] = m.group(2).strip()
        m = re.match(r'^\s*ok \d+ (.*?) # SKIP ?(.*)$', l)
        if m:
            reasons[Status.SKIP][m.group(1).strip()] = m.group(2).strip()
    for c in cases:
        if c.status in reasons and not c.reason:
            keys = [k for k in reasons[c.status] if c.name.endswith('.' + k)]
            if keys:
                c.reason = reasons[c.status][max(keys, key=len)]
    return cases


def top_names(cases: List[Case], prefix: str) -> List[str]:
    """The top-level case names of a document parsed with PREFIX."""
    return [c.name[len(prefix) + 1:] for c in cases
            if c.name.startswith(prefix + '.') and '.' not in c.name[len(prefix) + 1:]
            and not c.name[len(prefix) + 1:].startswith('<')]


def check_expected(res: 'ModeResult', expect: Dict, console_cases: List[Case],
                   guest_cases: List[Case]) -> None:
    """Every case the boot was expected to report (tools/vm's expect.json)
    must be there; a case the plan did not name is a failure too."""
    got = top_names(guest_cases, 'guest')
    want = expect.get('guest_cases', [])
    for n in want:
        if n not in got:
            res.cases.append(Case(f'guest.{n}', Status.FAIL,
                                  'expected (tests/guest/plan) but not reported'))
    for n in got:
        if n not in want:
            res.cases.append(Case(f'guest.{n}', Status.FAIL,
                                  'reported, but tests/guest/plan does not name it'))
    suites = top_names(console_cases, 'kunit')
    for s in expect.get('kunit_suites', []):
        if s not in suites:
            res.cases.append(Case(f'kunit.{s}', Status.FAIL,
                                  'built in (tests/kunit-suites) but did not report at boot'))
    res.expected = len(want) + len(expect.get('kunit_suites', []))
    res.seen = len([n for n in got if n in want]) + len(
        [x for x in expect.get('kunit_suites', []) if x in suites])


def allowed_by(name: str, allowed: Dict[str, str]) -> Optional[str]:
    """The key of ALLOWED (expect.json's allowed_skips) that covers case
    NAME: the name itself or a parent of it ('kunit.S' covers 'kunit.S.c')."""
    parts = name.split('.')
    for i in range(len(parts), 0, -1):
        key = '.'.join(parts[:i])
        if key in allowed:
            return key
    return None


def judge_skips(res: 'ModeResult', expect: Optional[Dict]) -> None:
    """A skip is a verdict: one that expect.json allows (the case lacks a
    need in this boot, tools/expect.py) stays a skip; any other fails,
    saying the case, the mode and what the guest gave as its reason."""
    allowed = (expect or {}).get('allowed_skips', {})
    mode = (expect or {}).get('mode') or res.mode
    res.allowed_skips = dict(allowed)
    for i, c in enumerate(res.cases):
        if c.status != Status.SKIP:
            continue
        if allowed_by(c.name, allowed):
            res.skips.append(c.name)
            continue
        res.cases[i] = Case(c.name, Status.FAIL,
                            f'skipped in mode {mode}, where nothing it needs is missing '
                            f'(tests/iommu-modes, the kernel\'s .config): the skip said '
                            f'"{c.reason or "nothing"}"')


def load_patterns(path: str = PATTERNS) -> List[re.Pattern]:
    with open(path) as f:
        return [re.compile(l.rstrip('\n')) for l in f
                if l.strip() and not l.startswith('#')]


# The marker lines of the reports provoked on purpose: the KUnit misuse
# case's ("dma-reuse-kunit: ...") and the IOMMU page-leak checker's KUnit
# case's ("iommu_debug_test_leak: <device>: ..."); the guest checks their
# content.
EXPECTED_BEGIN = re.compile(r'(dma-reuse-kunit|iommu_debug_test_leak).*: expected report begins')
EXPECTED_END = re.compile(r'(dma-reuse-kunit|iommu_debug_test_leak).*: expected report ends')


def without_expected(lines: Iterable[str]) -> List[str]:
    """The lines outside the reports provoked on purpose and bracketed
    with two markers (the guest checks its content).
    At most 100 lines are dropped per report, so that a missing end marker
    cannot hide the rest of the log."""
    out, skip = [], 0
    for l in lines:
        if EXPECTED_BEGIN.search(l):
            skip = 100
        if not skip:
            out.append(l)
        else:
            skip -= 1
        if EXPECTED_END.search(l):
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


REPLAY = '** replaying previous printk message **'


def console_lines(path: str) -> List[str]:
    """The console log, without printk's replays: a console whose output
    was cut off (7.3 prints from several CPUs) prints the marker REPLAY
    and the whole record again, after the cut-off part.  The part and the
    marker go, so that a KTAP line is not seen twice."""
    lines = read_lines(path)
    out: List[str] = []
    for i, l in enumerate(lines):
        if l == REPLAY and out and i + 1 < len(lines) and lines[i + 1].startswith(out[-1]):
            out.pop()
            continue
        out.append(l)
    return out


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


def records(lines: Iterable[str]) -> List[Dict[str, str]]:
    """The guest's '# SGR KIND key=value ...' lines, in order, each as
    {'kind': KIND, key: value, ...}."""
    out = []
    for l in lines:
        m = RECORD.match(l)
        if m:
            r = {'kind': m.group(1)}
            r.update(KV.findall(m.group(2)))
            out.append(r)
    return out


def take_records(res: ModeResult, recs: List[Dict[str, str]]) -> List[str]:
    """Sort RECS into RES; what it could not read (to fail on): a kind
    nobody reads, or a METRIC or IOTLB record without its number."""
    bad = []
    lists = {'STRESS': res.stress, 'BENCH': res.bench, 'HIST': res.hist, 'ZSWAPAB': res.zswap,
             'CLEN': res.clen, 'CLENS': res.clens}
    for r in recs:
        kind = r['kind']
        vals = {k: v for k, v in r.items() if k != 'kind'}
        if kind in lists:
            lists[kind].append(vals)
        elif kind == 'METRIC' and all(number(v) is not None for v in vals.values()):
            res.metrics.update((k, number(v)) for k, v in vals.items())
        elif kind == 'IOTLB' and 'phase' in vals and number(vals.get('requests')) is not None:
            res.iotlb[vals['phase']] = int(number(vals['requests']))
        elif kind in ('METRIC', 'IOTLB'):
            bad.append(f'{kind} without its number ({" ".join(f"{k}={v}" for k, v in vals.items())})')
        else:
            bad.append(f'{kind}, a kind nobody reads')
    for s in res.stress:
        for k, v in s.items():
            n = number(v)
            if n is None or k in ('name', 'pass'):
                continue
            res.metrics[k] = res.metrics.get(k, 0) + n if k in STRESS_TOTALS else n
    return bad


def number(v: Optional[str]) -> Optional[float]:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def check_iotlb(d: str, guest_cases: List[Case], res: ModeResult) -> None:
    """The host's verdict on the guest's iotlb phases, from QEMU's trace
    and the guest's IOTLB records (the requests of each phase)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import iotlb  # pylint: disable=import-outside-toplevel
    reported = [c for c in guest_cases if c.name == 'guest.iotlb_counts']
    if reported and reported[-1].status == Status.SKIP:
        res.cases.extend(Case(n, Status.SKIP, reported[-1].reason) for n in iotlb.CASES)
        return
    if not reported:
        res.cases.extend(Case(n, Status.FAIL, 'traced, but the guest reported no iotlb_counts '
                              '(is iotlb in --tests?)') for n in iotlb.CASES)
        return
    if not iotlb.trace_path(d):
        res.cases.extend(Case(n, Status.FAIL, 'traced, but there is no qemu-trace.log')
                         for n in iotlb.CASES)
        return
    rep = iotlb.analyse(d, res.iotlb)
    for n, ok, why in iotlb.verdict(rep):
        res.cases.append(Case(n, Status.PASS if ok else Status.FAIL, why))
    res.metrics.update(iotlb.metrics(rep))


def check_mode(kp, name: str, d: str) -> ModeResult:
    res = ModeResult(name, boot=read_word(os.path.join(d, 'boot-info')))
    console = console_lines(os.path.join(d, 'console.log'))
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

    expect = read_expect(d)
    console_cases: List[Case] = []
    if '# kernel: built without KUnit' in guest and not (expect or {}).get('kunit_suites'):
        # The benchmark kernel: no suite ran at boot, and none should have.
        res.cases.append(Case('kunit', Status.SKIP, 'kernel built without KUnit'))
    else:
        console_cases = parse_ktap(kp, boot_time(console), 'kunit')
        res.cases.extend(console_cases)
    guest_cases = parse_ktap(kp, guest, 'guest')
    res.cases.extend(guest_cases)
    if expect is None:
        res.cases.append(Case('expectations', Status.FAIL,
                              'no expect.json: tools/vm did not record what this boot must report'))
    else:
        check_expected(res, expect, console_cases, guest_cases)

    bad = bad_console_lines(console, load_patterns())
    res.cases.append(Case('console_clean', Status.FAIL if bad else Status.PASS,
                          '; '.join(bad[:3])))
    unread = take_records(res, records(guest))
    refused = [l.strip()[2:] for l in guest if REFUSED.match(l)]
    if unread:
        res.cases.append(Case('guest_records', Status.FAIL,
                              'records the host cannot read (tests/guest/lib.sh lists the '
                              'kinds): ' + '; '.join(sorted(set(unread)))))
    elif refused:
        res.cases.append(Case('guest_records', Status.FAIL,
                              f'{len(refused)} record(s) the guest could not write: {refused[0]}'))
    else:
        res.cases.append(Case('guest_records', Status.PASS))
    if (expect or {}).get('traced'):
        check_iotlb(d, guest_cases, res)
    judge_skips(res, expect)
    return res


def read_expect(d: str) -> Optional[Dict]:
    try:
        with open(os.path.join(d, 'expect.json')) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def print_mode(res: ModeResult, out=sys.stdout) -> None:
    print(f'mode {res.mode}: {res.count(Status.PASS)} passed, {res.count(Status.FAIL)} failed, '
          f'{res.count(Status.SKIP)} skipped; {res.seen} of {res.expected} expected top-level '
          f'cases reported ({res.boot or "no boot info"})', file=out)
    print(f'  skips allowed: {", ".join(sorted(res.allowed_skips)) or "none"}', file=out)
    for key, why in sorted(res.allowed_skips.items()):
        n = sum(1 for c in res.skips if allowed_by(c, {key: why}))
        print(f'    {key}: {n} skipped ({why})', file=out)
    for c in res.cases:
        if c.status == Status.FAIL:
            print(f'  FAIL {c.name}{": " + c.reason if c.reason else ""}', file=out)


def load(d: str) -> Optional[ModeResult]:
    """D/boot.json, or None if the boot has none (or it cannot be read)."""
    try:
        with open(os.path.join(d, BOOT_JSON)) as f:
            return ModeResult.from_json(f.read())
    except (OSError, ValueError, KeyError):
        return None


def cmd_read(args) -> int:
    kp, buf = load_parser(args.tree)
    res = check_mode(kp, args.name, args.dir)
    with open(os.path.join(args.dir, BOOT_JSON), 'w') as f:
        f.write(res.to_json())
    with open(os.path.join(args.dir, 'kunit-parser.log'), 'w') as f:
        f.write(buf.getvalue())
    print_mode(res)
    return 1 if res.count(Status.FAIL) else 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == 'records':
        ap = argparse.ArgumentParser(prog='boot.py records')
        ap.add_argument('file')
        a = ap.parse_args(argv[1:])
        for r in records(read_lines(a.file)):
            print(json.dumps(r))
        return 0
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--name', required=True, help="the boot's label (the mode, or 6.12-MODE)")
    ap.add_argument('--dir', required=True, help='the boot directory')
    ap.add_argument('--tree', help='kernel tree for kunit_parser (default: KSRC, '
                    '$SGR_WORK/applied, the base tree)')
    return cmd_read(ap.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
