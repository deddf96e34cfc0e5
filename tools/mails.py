#!/usr/bin/env python3
"""The series as it is mailed: recipients, the cover letter, the mails.

    mails.py recipients --tree TREE [--json] MAIL...
        The To and Cc of each mail by the tree's scripts/get_maintainer.pl
        (To: the maintainers of what the patch touches; Cc: its reviewers
        and lists); a cover letter (no diff) gets the union of the
        others.  Prints a table, or JSON.

    mails.py cover --template IN --git-cover MAIL --demo DIR [--out F | --check F]
        Render the cover letter: IN with its @@...@@ fields filled from
        DIR (the results of a make demo run, as tools/cover keeps them in
        tests/demo) and from MAIL, the cover letter git format-patch
        --cover-letter writes for the series (its subject prefix, shortlog,
        diffstat and base-commit).  --check F fails, with a diff, when F is
        not exactly what IN renders to.

    mails.py write --cover LETTER --tree TREE MAIL...
        Make MAIL... (git format-patch --cover-letter output, the cover
        letter first) ready to send, in place: the cover letter's subject
        and body become LETTER's (whose shortlog, diffstat and base-commit
        must be git's), and each mail gets its To and Cc headers.

Template fields (tools/cover/*.in):
    @@git@@                      git's shortlog, diffstat and base-commit
    @@demo@@                     which make demo run the figures are from
    @@table bench ARCH@@         dma_map_benchmark 8 KiB, 1 thread: plain
                                 instructions (ns) and each way's ratio
    @@table iotlb@@              the IOMMU work per zswap request
    @@insns MODE METHOD[/T]@@    counted instructions per request
    @@ratio MODE METHOD[/T]@@    ... relative to plain sg1 in MODE
    @@over MODE METHOD FLOOR@@   ... relative to plain sg1 in FLOOR
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
import json
import os
import re
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modes as matrix  # noqa: E402  pylint: disable=wrong-import-position
import report  # noqa: E402  pylint: disable=wrong-import-position

# get_maintainer.pl: no git history (the base is one commit), no roles.
GM_COMMON = ['--nogit', '--nogit-fallback', '--nogit-chief-penguins', '--norolestats']
GM_TO = GM_COMMON + ['--nol', '--nor']
GM_CC = GM_COMMON + ['--nom']

LABELS = {
    'vtd-strict': 'VT-d strict', 'vtd-lazy': 'VT-d lazy', 'vtd-strict-cm': 'VT-d strict CM',
    'virtio-iommu': 'virtio-iommu', 'virtio-iommu-lazy': 'virtio-iommu lazy',
    'passthrough': 'passthrough', 'noiommu': 'no IOMMU', 'swiotlb': 'swiotlb=force',
    'smmuv3-strict': 'SMMUv3 strict', 'smmuv3-lazy': 'SMMUv3 lazy',
    'smmuv3-passthrough': 'SMMUv3 bypass', 'arm64-noiommu': 'no SMMU',
}
EVENT_KIND = {'intel-iommu': 'IOTLB inv.', 'virtio-iommu-pci': 'map+unmap',
              'smmuv3': 'TLBI cmds'}
FIELD = re.compile(r'@@([^@]+)@@')


class Error(Exception):
    pass


# ---------------------------------------------------------------- recipients

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


def get_maintainer(tree: str, mail: str, opts: List[str]) -> List[str]:
    script = os.path.join(tree, 'scripts', 'get_maintainer.pl')
    if not os.path.isfile(script):
        raise Error(f'{tree} has no scripts/get_maintainer.pl: not a kernel tree')
    p = subprocess.run(['perl', script] + opts + [os.path.abspath(mail)], cwd=tree,
                       capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise Error(f'get_maintainer.pl failed on {mail}: {p.stderr.strip()}')
    return [l.strip() for l in p.stdout.splitlines() if l.strip()]


def recipients(tree: str, mails: List[str]) -> List[Dict]:
    """[{mail, subject, to, cc}] in the order given; mails without a diff
    (the cover letter) get every other mail's To and Cc."""
    out = []
    for m in mails:
        heads, has_diff = mail_headers(m)
        r = {'mail': os.path.basename(m), 'subject': heads.get('Subject', ''),
             'to': [], 'cc': [], 'diff': has_diff}
        if has_diff:
            r['to'] = get_maintainer(tree, m, GM_TO)
            r['cc'] = [a for a in get_maintainer(tree, m, GM_CC) if a not in r['to']]
        out.append(r)
    to_all = list(dict.fromkeys(a for r in out for a in r['to']))
    cc_all = [a for a in dict.fromkeys(a for r in out for a in r['cc']) if a not in to_all]
    for r in out:
        if not r['diff']:
            r['to'], r['cc'] = to_all, cc_all
    if not any(r['diff'] for r in out):
        raise Error('no mail carries a diff: nothing to find recipients for')
    return out


def print_recipients(rs: List[Dict]) -> None:
    for r in rs:
        print(f'{r["mail"]}\n  Subject: {r["subject"]}')
        for k in ('to', 'cc'):
            for i, a in enumerate(r[k]):
                print(f'  {(k.capitalize() + ":") if i == 0 else "":<4}{a}')
            if not r[k]:
                print(f'  {k.capitalize()}: (none)')


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
            if w[0] == 'insns' and len(w) == 3:
                return f'{demo.insns(w[1], *split_method(w[2])):.0f}'
            if w[0] == 'ratio' and len(w) == 3:
                meth, t = split_method(w[2])
                return r2(demo.insns(w[1], meth, t) / demo.insns(w[1], 'sg1', t))
            if w[0] == 'over' and len(w) == 4:
                meth, t = split_method(w[2])
                return r2(demo.insns(w[1], meth, t) / demo.insns(w[3], 'sg1', t))
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


# ---------------------------------------------------------------- write

def fold(name: str, addrs: List[str]) -> List[str]:
    """An address header, one address per continuation line."""
    if not addrs:
        return []
    out = [f'{name}: {addrs[0]}' + (',' if len(addrs) > 1 else '')]
    for i, a in enumerate(addrs[1:], 1):
        out.append(f'    {a}' + (',' if i < len(addrs) - 1 else ''))
    return out


def write_mails(letter: str, tree: str, mails: List[str]) -> List[Dict]:
    if not mails:
        raise Error('no mails given')
    rs = recipients(tree, mails)
    with open(letter) as f:
        lt = f.read().split('\n')
    lheads: Dict[str, str] = {}
    i = 0
    while i < len(lt) and lt[i]:
        k, v = lt[i].split(':', 1)
        lheads[k] = v.strip()
        i += 1
    lbody = '\n'.join(lt[i + 1:])
    for path, r in zip(mails, rs):
        with open(path) as f:
            text = f.read()
        head, sep, body = text.partition('\n\n')
        if not sep:
            raise Error(f'{path}: no header/body separator')
        hl = head.split('\n')
        if not r['diff']:
            _, tail = git_part(path)
            if tail.rstrip('\n') not in lbody:
                raise Error(f'{letter}: its shortlog, diffstat or base-commit is not git\'s for '
                            'this series: run tools/cover')
            body = lbody
            # The letter's subject, folded as git folds it.
            out, skip = [], False
            for l in hl:
                if l.startswith('Subject:'):
                    out.append(f'Subject: {lheads["Subject"]}')
                    skip = True
                elif skip and l[:1] in (' ', '\t'):
                    continue
                else:
                    skip = False
                    out.append(l)
            hl = out
        hl = [l for l in hl if not re.match(r'^(To|Cc):', l)]
        # To and Cc after Subject, where git format-patch --to puts them.
        n = next((k for k, l in enumerate(hl) if l.startswith('Subject:')), len(hl) - 1)
        while n + 1 < len(hl) and hl[n + 1][:1] in (' ', '\t'):
            n += 1
        hl[n + 1:n + 1] = fold('To', r['to']) + fold('Cc', r['cc'])
        with open(path, 'w') as f:
            f.write('\n'.join(hl) + '\n\n' + body)
        if not r['diff']:
            r['subject'] = lheads['Subject']
    return rs


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    a = sub.add_parser('recipients')
    a.add_argument('--tree', required=True)
    a.add_argument('--json', action='store_true')
    a.add_argument('mails', nargs='+')
    c = sub.add_parser('cover')
    c.add_argument('--template', required=True)
    c.add_argument('--git-cover', required=True)
    c.add_argument('--demo')
    g = c.add_mutually_exclusive_group()
    g.add_argument('--out')
    g.add_argument('--check')
    w = sub.add_parser('write')
    w.add_argument('--cover', required=True)
    w.add_argument('--tree', required=True)
    w.add_argument('--json')
    w.add_argument('mails', nargs='+')
    args = ap.parse_args(argv)
    try:
        if args.cmd == 'recipients':
            rs = recipients(args.tree, args.mails)
            if args.json:
                json.dump(rs, sys.stdout, indent=1)
                print()
            else:
                print_recipients(rs)
        elif args.cmd == 'cover':
            text = render(args.template, args.git_cover, args.demo)
            if args.check:
                check_same(args.check, text, f'{args.template} with {args.demo}')
            elif args.out:
                with open(args.out, 'w') as f:
                    f.write(text)
            else:
                sys.stdout.write(text)
        elif args.cmd == 'write':
            rs = write_mails(args.cover, args.tree, args.mails)
            if args.json:
                with open(args.json, 'w') as f:
                    json.dump(rs, f, indent=1)
            print_recipients(rs)
    except Error as e:
        print(f'mails.py: error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
