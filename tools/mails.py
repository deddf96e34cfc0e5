#!/usr/bin/env python3
"""The series as it is mailed: the cover letter, and the mails b4 writes.

    mails.py cover --template IN --git-cover MAIL --demo DIR [--out F | --check F]
        Render the cover letter: IN with its @@...@@ fields filled from
        DIR (the results of a make demo run, as tools/cover keeps them in
        tests/demo) and from MAIL, the cover letter git format-patch
        --cover-letter writes for the series (its subject prefix, shortlog,
        diffstat and base-commit).  --check F fails, with a diff, when F is
        not exactly what IN renders to.

    mails.py recipients [--json] [--check --prefix P --patches N] DIR|MAIL...
        The subject, To and Cc of each mail that b4 send -o wrote
        (tools/b4-prep --mails: DIR/0000-*.eml the cover letter, then the
        patches), as a table or JSON.  --check fails unless there are the
        cover letter and N patches, in order, their subjects "[P k/N] ..."
        (k from 0), and each mail has a To and a mailing list in its Cc.

Template fields (tools/cover/*.in):
    @@git@@                      git's shortlog, diffstat and base-commit
    @@demo@@                     which make demo run the figures are from
    @@table bench ARCH@@         dma_map_benchmark 8 KiB, 1 thread: plain
                                 instructions (ns) and each way's ratio
    @@table iotlb@@              the IOMMU work per zswap request
    @@insns MODE METHOD[/T]@@    counted instructions per request
    @@ratio MODE METHOD[/T]@@    ... relative to plain sg1 in MODE
    @@over MODE METHOD FLOOR@@   ... relative to plain sg1 in FLOOR
    @@net MODE METHOD FLOOR@@    the same, each side less its boot's empty
                                 mode (the benchmark's loop and clock)
    @@zswap MODE on|off@@        zswap's map + unmap instructions/request
    @@steps MODE METHOD@@        single-stepped instructions of a request
    @@stepsratio M1 METH1 M2 METH2@@  the ratio of two of those
    @@tcgratio MODE METHOD[/T]@@ wall time (TCG) relative to plain sg1
A field that has no figure in the run is an error: the letter never
prints a blank where a number was.
"""
import argparse
import csv
import difflib
import email.parser
import email.policy
import json
import os
import re
import sys
import textwrap
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modes as matrix  # noqa: E402  pylint: disable=wrong-import-position
import report  # noqa: E402  pylint: disable=wrong-import-position

# The tables' names of the modes and of the IOMMUs' counted work are the
# mode table's (tests/iommu-modes, =name lines).
matrix.load()
LABELS = matrix.LABELS
EVENT_KIND = matrix.LABELS
FIELD = re.compile(r'@@([^@]+)@@')


class Error(Exception):
    pass


# ---------------------------------------------------------------- mails

def mail_headers(path: str) -> Tuple[Dict[str, str], bool]:
    """The (unfolded) headers of a git format-patch mail, and whether it
    carries a diff."""
    heads: Dict[str, str] = {}
    last = None
    has_diff = False
    with open(path, errors='replace') as f:
        lines = f.read().split('\n')
    i = 1 if lines and lines[0].startswith('From ') else 0
    while i < len(lines) and lines[i]:
        l = lines[i]
        if l[:1] in (' ', '\t') and last:
            heads[last] += ' ' + l.strip()
        elif ':' in l:
            last, v = l.split(':', 1)
            heads[last] = v.strip()
        i += 1
    has_diff = any(l.startswith('diff --git ') for l in lines[i:])
    return heads, has_diff


# A mailing list among a mail's recipients.
LIST = re.compile(r'@(lists\.|vger\.)|^linux-[\w.-]+@')


def mail_files(args: List[str]) -> List[str]:
    """The mails of b4 send -o: a directory's 0*.eml files in order, or
    the files given."""
    out: List[str] = []
    for a in args:
        if os.path.isdir(a):
            out += sorted(os.path.join(a, f) for f in os.listdir(a)
                          if f.startswith('0') and f.endswith('.eml'))
        else:
            out.append(a)
    return out


def recipients(mails: List[str]) -> List[Dict]:
    """[{mail, subject, to, cc}] of each mail, in order, from its headers
    (decoded and unfolded)."""
    out = []
    for m in mails:
        try:
            with open(m, 'rb') as f:
                h = email.parser.BytesHeaderParser(policy=email.policy.default).parse(f)
        except OSError as e:
            raise Error(f'{m}: {e.strerror}') from None
        r = {'mail': os.path.basename(m), 'subject': str(h.get('Subject', ''))}
        for k in ('to', 'cc'):
            v = h.get(k)
            r[k] = [str(a) for a in v.addresses] if v is not None else []
        out.append(r)
    return out


def check_mails(rs: List[Dict], prefix: str, patches: int) -> None:
    """The cover letter and PATCHES patches, numbered in order under
    PREFIX, each with a To and a mailing list in its Cc; else Error with
    every mail that is not."""
    bad = []
    if len(rs) != patches + 1:
        bad.append(f'{len(rs)} mails, not the cover letter and {patches} patches')
    subj = re.compile(r'^\[' + re.escape(prefix) + r' (\d+)/(\d+)\] \S')
    for k, r in enumerate(rs):
        m = subj.match(r['subject'])
        if not m or int(m.group(1)) != k or int(m.group(2)) != patches:
            bad.append(f'{r["mail"]}: subject "{r["subject"]}" is not '
                       f'"[{prefix} {k:0{len(str(patches))}d}/{patches}] ..."')
        if not r['to']:
            bad.append(f'{r["mail"]}: no To')
        if not any(LIST.search(a) for a in r['cc']):
            bad.append(f'{r["mail"]}: no mailing list in Cc')
    if bad:
        more = f'; and {len(bad) - 4} more' if len(bad) > 4 else ''
        raise Error('; '.join(bad[:4]) + more)


def print_recipients(rs: List[Dict]) -> None:
    """Each mail's file and subject, and its To and Cc; To and Cc once at
    the end when every mail has the same (b4's way)."""
    def addrs(r: Dict) -> None:
        for k in ('to', 'cc'):
            for i, a in enumerate(r[k]):
                print(f'  {(k.capitalize() + ":") if i == 0 else "":<4}{a}')
            if not r[k]:
                print(f'  {k.capitalize()}: (none)')

    same = all((r['to'], r['cc']) == (rs[0]['to'], rs[0]['cc']) for r in rs)
    for r in rs:
        print(f'{r["mail"]}\n  Subject: {r["subject"]}')
        if not same:
            addrs(r)
    if same and rs:
        print(f'every mail ({len(rs)}):')
        addrs(rs[0])


# ---------------------------------------------------------------- demo data

def read_csv(path: str) -> List[Dict[str, str]]:
    try:
        with open(path, newline='') as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        return []


class Demo:
    """The figures of one make demo run, from the files tools/cover keeps."""

    def __init__(self, d: str):
        if not os.path.isdir(d):
            raise Error(f'{d}: no such results directory')
        self.dir = d
        self.name = report.read(os.path.join(d, 'run')) or os.path.basename(d.rstrip('/'))
        self.setup = report.read(os.path.join(d, 'setup.txt'))
        self.tcg = self._boots('results.csv', 'zswap.csv')
        self.ic = self._boots('results-icount.csv', 'zswap-icount.csv')
        if not self.ic:
            raise Error(f'{d}: no results-icount.csv: not the results of a make demo run')
        self.iotlb: Dict[str, Dict[str, Dict[str, str]]] = {}
        for r in read_csv(os.path.join(d, 'iotlb.csv')):
            self.iotlb.setdefault(r['iommu_mode'], {})[r['phase']] = r
        for r in read_csv(os.path.join(d, 'clen.csv')):
            b = self.tcg.setdefault(r['iommu_mode'], {'runs': [], 'zswap': []})
            if r.get('kind') == 'lens':
                b.setdefault('clens', []).append({'lens': r.get('lens', '')})
            else:
                b.setdefault('clen', []).append({k: r.get(k, '') for k in ('lo', 'hi', 'count')})
        self.summary = report.read(os.path.join(d, 'report.txt')) or ''
        self.steps: Dict[str, Dict] = {}
        sd = os.path.join(d, 'steps')
        if os.path.isdir(sd):
            for f in sorted(os.listdir(sd)):
                if f.endswith('.json'):
                    with open(os.path.join(sd, f)) as fh:
                        self.steps[f[:-5]] = json.load(fh)

    def _boots(self, runs: str, zswap: str) -> Dict[str, Dict]:
        boots: Dict[str, Dict] = {}
        for r in read_csv(os.path.join(self.dir, runs)):
            boots.setdefault(r['iommu_mode'], {'runs': [], 'zswap': []})['runs'].append(r)
        for r in read_csv(os.path.join(self.dir, zswap)):
            boots.setdefault(r['iommu_mode'], {'runs': [], 'zswap': []})['zswap'].append(r)
        return boots

    def insns(self, mode: str, method: str, threads: str = '1') -> float:
        v = report.cost(self.ic, mode, method, '2', threads, report.per_request_insns)
        if v is None:
            raise Error(f'demo {self.name}: no counted {method} run of {mode} at {threads} thread(s)')
        return v

    def ns(self, mode: str, method: str, threads: str = '1') -> Optional[float]:
        return report.cost(self.tcg, mode, method, '2', threads, report.per_request)

    def zswap(self, mode: str, arm: str) -> float:
        arms = report.zswap_arms(self.ic.get(mode, {'zswap': []}))
        arm = {'on': 'cache', 'off': 'plain'}.get(arm, arm)
        v = report.median(arms.get(arm, {}).get('map_per_req', []))
        if v is None:
            raise Error(f'demo {self.name}: no counted zswap pass of {mode} with the marking {arm}')
        return v

    def steps_total(self, mode: str, method: str) -> int:
        v = report.steps_total(self.steps, mode, method)
        if v is None:
            raise Error(f'demo {self.name}: {method} of {mode} was not single-stepped')
        return v


# ---------------------------------------------------------------- cover

def split_method(s: str) -> Tuple[str, str]:
    return (s.split('/', 1)[0], s.split('/', 1)[1]) if '/' in s else (s, '1')


def r2(v: float) -> str:
    """A ratio as the letter prints it: 3 digits below 1, else 2."""
    return f'{v:.3f}' if v < 1 else f'{v:.2f}'


def bench_table(demo: Demo, arch: str, modes: Dict[str, matrix.Mode]) -> str:
    cols = [('plain', 'sg1'), ('two-step IOVA', 'iova'), ('bounce', 'bounce'),
            ('reuse cache', 'reuse')]
    rows = [f'  {"mode":<19}' + ''.join(f'{c:<16}' for c, _ in cols).rstrip()]
    names = [m for m in modes if modes[m].arch == arch and m in demo.ic]
    if not names:
        raise Error(f'demo {demo.name}: no {arch} mode was counted')
    for m in names:
        plain_i, plain_n = demo.insns(m, 'sg1'), demo.ns(m, 'sg1')
        cells = [f'{plain_i:.0f} ({plain_n:.0f})' if plain_n else f'{plain_i:.0f} (-)']
        for _, meth in cols[1:]:
            i, n = demo.insns(m, meth), demo.ns(m, meth)
            cells.append(f'{r2(i / plain_i)} ({r2(n / plain_n) if n and plain_n else "-"})')
        rows.append(f'  {LABELS.get(m, m):<19}' + ''.join(f'{c:<16}' for c in cells).rstrip())
    return '\n'.join(rows)


def iotlb_table(demo: Demo, modes: Dict[str, matrix.Mode]) -> str:
    if not demo.iotlb:
        raise Error(f'demo {demo.name}: no iotlb.csv (no traced boot)')
    rows = [f'  {"mode":<19}{"marking":<9}{"events/request":<19}events on served IOVAs']
    for m in [x for x in modes if x in demo.iotlb]:
        kind = EVENT_KIND.get(modes[m].device or '', 'events')
        for ph in ('on', 'off'):
            r = demo.iotlb[m].get(ph)
            if not r:
                raise Error(f'demo {demo.name}: {m} has no traced "{ph}" phase')
            per = f'{float(r["per_request"]):.3f}'.rstrip('0').rstrip('.')
            if '.' not in per:
                per += '.0'
            if ph == 'on':
                per += f' ({kind})'
            rows.append(f'  {LABELS.get(m, m):<19}{ph:<9}{per:<19}{r["buffer_events"]}')
    return '\n'.join(rows)


STRICT_LABELS = {'vtd-strict': 'VT-d strict', 'virtio-iommu': 'virtio-iommu',
                 'smmuv3-strict': 'SMMUv3 strict'}


def alternatives_table(demo: Demo) -> str:
    """The ways side by side, 8 KiB, 1 thread: counted instructions of map
    + unmap less the loop, and (in brackets) wall time relative to plain
    dma_map_sg() in the strict boot."""
    strict = [m for m in report.STRICT_TARGET_MODES if m in demo.ic]
    if not strict:
        raise Error(f'demo {demo.name}: no strict mode was counted')
    rows = [f'  {"":<27}' + ''.join(f'{STRICT_LABELS.get(m, m):>15}' for m in strict)]
    for i, (text, _, _) in enumerate(report.alt_rows(strict[0])):
        row = f'  {text:<27}'
        for m in strict:
            _, mode, meth = report.alt_rows(m)[i]
            n = report.net_insns(demo.ic, mode, meth) if mode else None
            w = report.ratio(report.way_cost(demo.tcg, mode, meth, report.per_request),
                             report.plain_cost(demo.tcg, m, '2', '1', report.per_request)) \
                if mode else None
            cell = '-' if n is None else f'{n:.0f}'
            cell += f' ({"-" if w is None else f"{w:.2f}"})'
            row += f'{cell:>15}'
        rows.append(row.rstrip())
    return '\n'.join(rows)


def iotlb_arm(demo: Demo, mode: str, arm: str) -> Optional[float]:
    r = demo.iotlb.get(mode, {}).get(report.ARM_PHASE[arm])
    return report.num(r.get('per_request')) if r else None


def zswap_table(demo: Demo) -> str:
    """zswap's arms: counted store and load rates (medians), the driver's
    map + unmap instructions per request, the IOMMU's events per request."""
    rows = [f'  {"arm":<30}{"stores/s":>9}{"loads/s":>9}{"drv instr":>10}{"IOMMU ev":>9}']
    for strict in [m for m in report.STRICT_TARGET_MODES if m in demo.ic]:
        lazy, pt = report.siblings(strict)
        for text, mode, arm in ((f'{strict}, plain', strict, 'plain'),
                                (f'{strict}, cache', strict, 'cache'),
                                (f'{strict}, bounce', strict, 'bounce'),
                                (f'{lazy}, plain', lazy, 'plain'),
                                (f'{pt}, plain', pt, 'plain')):
            if not mode or mode not in demo.ic:
                continue
            a = report.zswap_arms(demo.ic[mode]).get(arm, {})
            if not a:
                continue
            ev = iotlb_arm(demo, mode, arm)
            ev_s = '0' if ev is None and mode == pt else ('-' if ev is None else f'{ev:.2f}')
            vals = [report.median(a.get(k, [])) for k in ('store_pps', 'load_pps', 'map_per_req')]
            cells = ''.join(f'{("-" if v is None else f"{v:.0f}"):>{w}}'
                            for v, w in zip(vals, (9, 9, 10)))
            rows.append(f'  {text[:29]:<30}{cells}{ev_s:>9}')
    if len(rows) == 1:
        raise Error(f'demo {demo.name}: no counted zswap arm')
    return '\n'.join(rows)


def model_table(demo: Demo) -> str:
    per = {m: {arm: iotlb_arm(demo, m, arm) for arm in report.ARMS} for m in demo.iotlb}
    clen = report.copied_per_request(demo.tcg) or report.copied_per_request(demo.ic) or \
        report.mean_clen(demo.tcg)
    rows = report.model_rows(per, clen)
    if not rows:
        raise Error(f'demo {demo.name}: no traced strict boot for the model')
    out = [f'  {"us saved per zswap request":<27}{"mappings":>9}' +
           ''.join(f'{"cache [" + str(i + 1) + "]":>10}{"bounce [" + str(i + 1) + "]":>11}'
                   for i in range(len(report.MODEL_COSTS)))]
    for m, maps, savings in rows:
        line = f'  {STRICT_LABELS.get(m, m):<27}{maps["plain"]:>9.2f}'
        for cell in savings:
            line += f'{report.us_range(cell["cache"]):>10}' \
                    f'{report.us_range(cell["bounce"]):>11}'
        out.append(line)
    out.append(f'  (copy-out counted in the bounce arm: {clen:.0f} bytes per request)'
               if clen else '  (no copy-out counted)')
    return '\n'.join(out)


def summary_section(demo: Demo, head: str) -> List[str]:
    """The lines of the kept summary report's section whose heading
    starts with HEAD."""
    lines = demo.summary.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith('== ' + head)), None)
    if start is None:
        raise Error(f'demo {demo.name}: report.txt has no "{head}" section')
    out = []
    for l in lines[start + 1:]:
        if l.startswith('== '):
            break
        if l.strip():
            out.append(l)
    return out


def targets_list(demo: Demo) -> str:
    """The targets' verdicts of the kept summary, one wrapped item each."""
    items = []
    for l in summary_section(demo, 'targets (met'):
        if l.startswith('  ') and not l.startswith('    ') and ' -> ' in l:
            items.append(l.strip())
        elif items and l.startswith('    '):
            items[-1] += '; ' + l.strip()
    if not items:
        raise Error(f'demo {demo.name}: report.txt states no target')
    return '\n'.join(textwrap.fill(i, 72, initial_indent='- ', subsequent_indent='  ',
                                   break_on_hyphens=False) for i in items)


def git_part(git_cover: str) -> Tuple[Dict[str, str], str]:
    """git format-patch's cover letter: its headers, and what follows its
    blurb (shortlog, diffstat, base-commit), without a signature."""
    heads, _ = mail_headers(git_cover)
    with open(git_cover) as f:
        text = f.read()
    mark = '*** BLURB HERE ***\n'
    if mark not in text:
        raise Error(f'{git_cover}: not a git format-patch cover letter (no blurb marker)')
    tail = text.split(mark, 1)[1].lstrip('\n')
    tail = re.sub(r'\n-- \n[^\n]*\n*\Z', '\n', tail)
    return heads, tail.rstrip('\n') + '\n'


def render(template: str, git_cover: str, demo_dir: Optional[str]) -> str:
    modes = matrix.load()
    with open(template) as f:
        lines = f.read().split('\n')
    if not lines or not lines[0].startswith('Title: '):
        raise Error(f'{template}: the first line must be "Title: <the subject>"')
    title = lines[0][len('Title: '):].strip()
    body = '\n'.join(lines[1:]).lstrip('\n')
    heads, tail = git_part(git_cover)
    subject = heads.get('Subject', '')
    if '*** SUBJECT HERE ***' not in subject:
        raise Error(f'{git_cover}: no "*** SUBJECT HERE ***" in its subject')

    demos: List[Demo] = []

    def field(m: re.Match) -> str:
        w = m.group(1).split()
        if w != ['git'] and not demos:
            if not demo_dir:
                raise Error(f'{template}: @@{m.group(1)}@@ needs the results of a make demo run')
            demos.append(Demo(demo_dir))
        demo = demos[0] if demos else None
        try:
            if w == ['git']:
                return tail.rstrip('\n')
            if w == ['demo']:
                return demo.name
            if w[:2] == ['table', 'bench'] and len(w) == 3:
                return bench_table(demo, w[2], modes)
            if w == ['table', 'iotlb']:
                return iotlb_table(demo, modes)
            if w == ['table', 'alternatives']:
                return alternatives_table(demo)
            if w == ['table', 'zswap']:
                return zswap_table(demo)
            if w == ['table', 'model']:
                return model_table(demo)
            if w == ['targets']:
                return targets_list(demo)
            if w == ['clens']:
                lens = [r.get('lens') for b in demo.tcg.values() for r in b.get('clens', [])]
                if not lens:
                    raise Error(f'demo {demo.name}: no copy lengths in clen.csv')
                return lens[0]
            if w[0] == 'insns' and len(w) == 3:
                return f'{demo.insns(w[1], *split_method(w[2])):.0f}'
            if w[0] == 'ratio' and len(w) == 3:
                meth, t = split_method(w[2])
                return r2(demo.insns(w[1], meth, t) / demo.insns(w[1], 'sg1', t))
            if w[0] == 'over' and len(w) == 4:
                meth, t = split_method(w[2])
                return r2(demo.insns(w[1], meth, t) / demo.insns(w[3], 'sg1', t))
            if w[0] == 'net' and len(w) == 4:
                meth, t = split_method(w[2])
                return r2((demo.insns(w[1], meth, t) - demo.insns(w[1], 'empty', t)) /
                          (demo.insns(w[3], 'sg1', t) - demo.insns(w[3], 'empty', t)))
            if w[0] == 'zswap' and len(w) == 3 and w[2] in ('on', 'off'):
                return f'{demo.zswap(w[1], w[2]):.0f}'
            if w[0] == 'steps' and len(w) == 3:
                return str(demo.steps_total(w[1], w[2]))
            if w[0] == 'stepsratio' and len(w) == 5:
                return r2(demo.steps_total(w[1], w[2]) / demo.steps_total(w[3], w[4]))
            if w[0] == 'tcgratio' and len(w) == 3:
                meth, t = split_method(w[2])
                a, b = demo.ns(w[1], meth, t), demo.ns(w[1], 'sg1', t)
                if not a or not b:
                    raise Error(f'demo {demo.name}: no timed {meth} and sg1 runs of {w[1]} '
                                f'at {t} thread(s)')
                return r2(a / b)
        except (KeyError, ValueError, ZeroDivisionError) as e:
            raise Error(f'{template}: @@{m.group(1)}@@: {e!r}') from e
        raise Error(f'{template}: unknown field @@{m.group(1)}@@')

    body = FIELD.sub(field, body)
    if tail.rstrip('\n') not in body:
        raise Error(f'{template}: no @@git@@ field: the letter must carry git\'s shortlog, '
                    'diffstat and base-commit')
    out = [f'From: {heads.get("From", "")}',
           f'Subject: {subject.replace("*** SUBJECT HERE ***", title)}', '', body]
    return '\n'.join(out).rstrip('\n') + '\n'


def check_same(path: str, text: str, what: str) -> None:
    try:
        with open(path) as f:
            have = f.read()
    except FileNotFoundError:
        raise Error(f'{path}: missing; run tools/cover') from None
    if have != text:
        d = ''.join(difflib.unified_diff(have.splitlines(True), text.splitlines(True),
                                         path, what, n=1))
        sys.stderr.write(d[:6000])
        raise Error(f'{path} is not what {what} gives (diff above): run tools/cover')


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    a = sub.add_parser('recipients')
    a.add_argument('--json', action='store_true')
    a.add_argument('--check', action='store_true')
    a.add_argument('--prefix', help='with --check: the subject prefix, e.g. "RFC PATCH v2"')
    a.add_argument('--patches', type=int, help='with --check: how many patches the series has')
    a.add_argument('mails', nargs='+', help='b4 send -o\'s directory, or its mails')
    c = sub.add_parser('cover')
    c.add_argument('--template', required=True)
    c.add_argument('--git-cover', required=True)
    c.add_argument('--demo')
    g = c.add_mutually_exclusive_group()
    g.add_argument('--out')
    g.add_argument('--check')
    args = ap.parse_args(argv)
    if args.cmd == 'recipients' and args.check and (not args.prefix or args.patches is None):
        ap.error('recipients --check needs --prefix and --patches')
    try:
        if args.cmd == 'recipients':
            rs = recipients(mail_files(args.mails))
            if not rs:
                raise Error(f'no mails in {" ".join(args.mails)}')
            if args.json:
                json.dump(rs, sys.stdout, indent=1)
                print()
            else:
                print_recipients(rs)
            if args.check:
                check_mails(rs, args.prefix, args.patches)
        elif args.cmd == 'cover':
            text = render(args.template, args.git_cover, args.demo)
            if args.check:
                check_same(args.check, text, f'{args.template} with {args.demo}')
            elif args.out:
                with open(args.out, 'w') as f:
                    f.write(text)
            else:
                sys.stdout.write(text)
    except Error as e:
        print(f'mails.py: error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
