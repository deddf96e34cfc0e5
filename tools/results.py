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

  results.py brief DIR
      One line: the counts of one boot's result.json (make check's
      progress through the boot matrix).

  results.py gates [--markdown] DIR
      The gates of each patch in a run of make check (checkpatch, b4 prep
      --check, the build after it, git am, quilt), one table per stack,
      rendered from the rows the stages wrote (DIR/gates.tsv); the summary
      prints the same tables.
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
    expected: int = 0           # top-level cases expected: guest plan + KUnit suites
    seen: int = 0               # of those, how many reported
    allowed_skips: Dict[str, str] = field(default_factory=dict)  # expect.json's
    skips: List[str] = field(default_factory=list)               # the skips seen, allowed

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
                       allowed_skips=d.get('allowed_skips', {}), skips=d.get('skips', []))
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
    print(f'results.py: no tools/testing/kunit/kunit_parser.py in {where} '
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
# case's ("dma-reuse-kunit: ...") and lz4-dmatest's IOMMU page-leak
# trigger's ("lz4_dmatest: <device>: ..."); the guest checks their content.
EXPECTED_BEGIN = re.compile(r'(dma-reuse-kunit|lz4_dmatest).*: expected report begins')
EXPECTED_END = re.compile(r'(dma-reuse-kunit|lz4_dmatest).*: expected report ends')


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


IOTLB_RESULT = re.compile(r'^(ok|not ok) \d+ iotlb_counts(?: # (SKIP)?\s*(.*))?$')


def check_iotlb(d: str, guest: List[str], res: ModeResult) -> None:
    """The host's verdict on the guest's iotlb phases, from QEMU's trace."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import iotlb  # pylint: disable=import-outside-toplevel
    reported = [m for m in map(IOTLB_RESULT.match, guest) if m]
    if reported and reported[-1].group(2):
        res.cases.extend(Case(n, Status.SKIP, reported[-1].group(3) or '') for n in iotlb.CASES)
        return
    if not reported:
        res.cases.extend(Case(n, Status.FAIL, 'traced, but the guest reported no iotlb_counts '
                              '(is iotlb in --tests?)') for n in iotlb.CASES)
        return
    if not iotlb.trace_path(d):
        res.cases.extend(Case(n, Status.FAIL, 'traced, but there is no qemu-trace.log')
                         for n in iotlb.CASES)
        return
    rep = iotlb.analyse(d)
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
    for l in guest:
        m = DIAG.match(l)
        if m:
            key, val = m.group(1), float(m.group(2))
            res.metrics[key] = res.metrics.get(key, 0) + val if key in (
                'pages', 'zswpout', 'zswpin', 'pswpout', 'pswpin', 'mismatches') else val
    if (expect or {}).get('traced'):
        check_iotlb(d, guest, res)
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


def cmd_mode(args) -> int:
    kp, buf = load_parser(args.tree)
    res = check_mode(kp, args.name, args.dir)
    with open(os.path.join(args.dir, 'result.json'), 'w') as f:
        f.write(res.to_json())
    with open(os.path.join(args.dir, 'kunit-parser.log'), 'w') as f:
        f.write(buf.getvalue())
    print_mode(res)
    return 1 if res.count(Status.FAIL) else 0


def mode_order() -> Dict[str, int]:
    """Mode name -> its row in tests/iommu-modes (tools/modes.py)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import modes  # pylint: disable=import-outside-toplevel
    return modes.order(modes.load())


def fmt(v: Optional[float]) -> str:
    return '-' if v is None else f'{v:.0f}'


def hit_rate(m: Dict[str, float]) -> str:
    """Cache hits per marked list of the rebound stress, in percent."""
    if not m.get('cache_marked') or m.get('cache_hits') is None:
        return '-'
    return f'{100.0 * m["cache_hits"] / m["cache_marked"]:.1f}'


def find_results(dirs: List[str]):
    """result.json, expect.json (per boot) and host-side *.ktap files."""
    results: Dict[str, ModeResult] = {}
    boots: Dict[str, str] = {}            # label -> boot dir with expect.json
    checks: Dict[str, str] = {}           # relative path -> file
    for d in dirs:
        for root, _, files in sorted(os.walk(d)):
            for f in sorted(files):
                p = os.path.join(root, f)
                if f == 'result.json':
                    r = ModeResult.from_json(open(p).read())
                    results[r.mode] = r
                elif f == 'expect.json' and root != d:
                    e = read_expect(root) or {}
                    boots[e.get('label', os.path.basename(root))] = root
                elif f.endswith('.ktap') and f != 'guest.ktap':
                    checks[os.path.relpath(p, d)] = p
    return results, boots, checks


def run_expectations(dirs: List[str]) -> Dict:
    """The run's expect.json (tools/check, tools/demo): the boots and the
    host-side documents it must have."""
    for d in dirs:
        e = read_expect(d)
        if e is not None:
            return e
    return {}


# ------------------------------------------------------------ gates per patch
# The gates a patch passes before it is mailed, one row per patch: the
# documents of tools/check's stages (checkpatch.ktap, mails.ktap, build.ktap,
# per stack: the backports' are under stack-<name>/) and the logs of the two
# that apply the series as a whole (git am: am.log, quilt: quilt.log), which
# name the patch they stopped at.
GATES = ('checkpatch', 'b4 --check', 'build', 'git am', 'quilt')
GATES_FILE = 'gates.tsv'


def read_gates(run: str) -> Optional[Dict[str, Dict[str, Dict[str, List[str]]]]]:
    """{stack: {patch: {gate: [status, reason]}}} from the rows the stages
    of make check wrote (RUN/gates.tsv, tools/lib.sh gate_row); None
    without the file.  A later row for the same cell wins."""
    try:
        with open(os.path.join(run, GATES_FILE)) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    stacks: Dict[str, Dict[str, Dict[str, List[str]]]] = {}
    for line in lines:
        w = line.split('\t')
        if len(w) < 4 or not line.strip():
            continue
        stack, patch, gate, status = w[:4]
        stacks.setdefault(stack, {}).setdefault(patch, {})[gate] = [status, w[4] if len(w) > 4 else '']
    return stacks


def print_gates(stacks, markdown: bool = False, out=sys.stdout) -> None:
    """One table per stack: a row per patch (in the series' file-name
    order), a column per gate, '-' where no stage decided that gate; the
    reasons of the failed cells below the table."""
    for stack in sorted(stacks, key=lambda x: [int(p) if p.isdigit() else p for p in x.split('.')],
                        reverse=True):
        rows = stacks[stack]
        names = sorted(rows)
        label = f'{stack} stack'
        def cell(p, g):
            return rows[p].get(g, ['-'])[0]
        short = {p: p[:-len('.patch')] if p.endswith('.patch') else p for p in names}
        if markdown:
            print(f'\n{label}:\n', file=out)
            print('| patch | ' + ' | '.join(GATES) + ' |', file=out)
            print('| --- |' + ' --- |' * len(GATES), file=out)
            for p in names:
                print(f'| {short[p]} | ' + ' | '.join(cell(p, g) for g in GATES) + ' |', file=out)
        else:
            print(f'== gates per patch ({label})', file=out)
            w = max(len(x) for x in short.values())
            print(f'  {"patch":<{w}}' + ''.join(f'{g:>12}' for g in GATES), file=out)
            for p in names:
                print(f'  {short[p]:<{w}}' + ''.join(f'{cell(p, g):>12}' for g in GATES), file=out)
        for p in names:
            for g in GATES:
                st, why = rows[p].get(g, ['-', ''])
                if st.startswith('FAIL'):
                    print(f'{"- " if markdown else "    "}{g} FAIL {short[p]}{": " + why if why else ""}',
                          file=out)


def cmd_brief(args) -> int:
    """One line for a boot's progress: its counts from result.json."""
    try:
        with open(os.path.join(args.dir, 'result.json')) as f:
            r = ModeResult.from_json(f.read())
    except (OSError, ValueError, KeyError):
        print('no result (the boot or its verdict died: see its log)')
        return 1
    fails = [c.name for c in r.cases if c.status == Status.FAIL]
    print(f'{r.count(Status.PASS)} passed, {len(fails)} failed, {r.count(Status.SKIP)} skipped'
          + (f' (FAIL {", ".join(fails[:3])}{" ..." if len(fails) > 3 else ""})' if fails else ''))
    return 1 if fails else 0


def cmd_gates(args) -> int:
    stacks = read_gates(args.dir)
    if not stacks:
        print(f'{args.dir}: no {GATES_FILE} with a row: no gates to show', file=sys.stderr)
        return 1
    print_gates(stacks, args.markdown)
    return 0


def cmd_summary(args) -> int:
    kp, buf = load_parser(args.tree)
    results, boots, check_files = find_results(args.dirs)
    expect = run_expectations(args.dirs)
    checks: Dict[str, List[Case]] = {}
    for rel, path in check_files.items():
        checks[rel] = parse_ktap(kp, read_lines(path), os.path.splitext(os.path.basename(rel))[0])
    for stage in expect.get('stages', []):
        if stage not in checks:
            checks[stage] = [Case(stage, Status.FAIL, 'the stage wrote no KTAP document '
                                  '(it did not run, or died before the end)')]
    modes = list(results.values())
    for label in expect.get('boots', []):
        if label in results:
            continue
        why = ('the boot started but wrote no result (tools/vm or results.py died)'
               if label in boots else 'the boot never started')
        modes.append(ModeResult(label, [Case('boot', Status.FAIL, why)]))
    if args.debug_parser:
        sys.stderr.write(buf.getvalue())
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
    gates = {}
    for d in args.dirs:
        gates.update(read_gates(d) or {})
    print_gates(gates)
    if modes:
        order = mode_order()
        modes.sort(key=lambda r: (order.get(r.mode, len(order)), r.mode))
        print('== boot matrix')
        print(f'  {"mode":<24}{"result":<8}{"seen/exp":>9}{"kunit":>9}{"guest":>9}{"pages":>9}'
              f'{"out p/s":>9}{"in p/s":>9}{"mism.":>7}{"marked":>8}{"hit%":>7}'
              f'{"miss":>6}{"fb":>8}{"hotplug":>8}{"switch":>7}{"stop":>6}  boot')
        for r in modes:
            def ratio(prefix):
                cs = [c for c in r.cases if c.name.startswith(prefix)]
                return f'{sum(c.status == Status.PASS for c in cs)}/{len(cs)}'
            m = r.metrics
            print(f'  {r.mode:<24}{"PASS" if not r.count(Status.FAIL) else "FAIL":<8}'
                  f'{f"{r.seen}/{r.expected}":>9}{ratio("kunit"):>9}{ratio("guest"):>9}{fmt(m.get("pages")):>9}'
                  f'{fmt(m.get("swapout_pages_per_s")):>9}{fmt(m.get("swapin_pages_per_s")):>9}'
                  f'{fmt(m.get("mismatches")):>7}{fmt(m.get("cache_marked")):>8}'
                  f'{hit_rate(m):>7}{fmt(m.get("cache_misses")):>6}'
                  f'{fmt(m.get("fallback_no_cache", m.get("fallback_not_iommu"))):>8}{fmt(m.get("fire_hotplug")):>8}'
                  f'{fmt(m.get("fire_switch")):>7}{fmt(m.get("teardown_stop")):>6}  {r.boot}')
            passed += r.count(Status.PASS)
            failed += r.count(Status.FAIL)
            skipped += r.count(Status.SKIP)
            by: Dict[str, int] = {}
            for c in r.skips:
                k = allowed_by(c, r.allowed_skips) or c
                by[k] = by.get(k, 0) + 1
            print(f'    skips: {len(r.skips)} seen'
                  + (' (' + ', '.join(f'{k} {n}' for k, n in sorted(by.items())) + ')' if by else '')
                  + '; allowed: ' + (', '.join(sorted(r.allowed_skips)) or 'none'))
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
    s.add_argument('--tree', help='kernel tree for kunit_parser (default: KSRC, '
                   '$SGR_WORK/applied, the base tree)')
    s.add_argument('--debug-parser', action='store_true', help="print kunit_parser's output")
    s.add_argument('dirs', nargs='+')
    g = sub.add_parser('gates', help='the gates each patch passed, from a run of make check')
    g.add_argument('--tree', help=argparse.SUPPRESS)  # accepted, unused: the rows need no parser
    g.add_argument('--markdown', action='store_true', help='one Markdown table per stack')
    g.add_argument('dir')
    b = sub.add_parser('brief', help="one line: a boot's counts (its result.json)")
    b.add_argument('dir')
    args = ap.parse_args(argv)
    return {'mode': cmd_mode, 'summary': cmd_summary, 'gates': cmd_gates,
            'brief': cmd_brief}[args.cmd](args)


if __name__ == '__main__':
    sys.exit(main())
