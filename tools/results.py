#!/usr/bin/env python3
"""Add up a run: the boots' boot.json files (tools/boot.py), the host-side
checks' KTAP documents and the gates.

  results.py summary DIR...
      Add up the boot.json files and host-side check files (*.ktap) found
      in the directories, print the gates, the boot matrix and the IOMMU's
      work per request, and end with one line 'N passed, N failed'.  A
      boot or stage the run's expect.json names that left nothing fails.

  results.py brief DIR
      One line: the counts of one boot's boot.json (make check's progress
      through the boot matrix).

  results.py gates [--markdown] DIR
      The gates of each patch in a run of make check (checkpatch, b4 prep
      --check, the build after it, git am, quilt), one table per stack,
      rendered from the rows the stages wrote (DIR/gates.tsv); the summary
      prints the same tables.

One boot is read by tools/boot.py (tools/vm runs it after the boot).
"""
import argparse
import os
import sys
from typing import Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# pylint: disable=wrong-import-position
from boot import (BOOT_JSON, Case, ModeResult, Status, allowed_by, load,  # noqa: E402
                  load_parser, parse_ktap, read_expect, read_lines)
import iotlb  # noqa: E402


def mode_order() -> Dict[str, int]:
    """Mode name -> its row in tests/iommu-modes (tools/modes.py)."""
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
    """boot.json, expect.json (per boot) and host-side *.ktap files."""
    results: Dict[str, ModeResult] = {}
    boots: Dict[str, str] = {}            # label -> boot dir with expect.json
    checks: Dict[str, str] = {}           # relative path -> file
    for d in dirs:
        for root, _, files in sorted(os.walk(d)):
            for f in sorted(files):
                p = os.path.join(root, f)
                if f == BOOT_JSON:
                    r = load(root)
                    if r is None:
                        r = ModeResult(os.path.basename(root), [Case(
                            'boot', Status.FAIL, f'{p} cannot be read')])
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
    """One line for a boot's progress: its counts from boot.json."""
    r = load(args.dir)
    if r is None:
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
    iotlb.print_table([(r.mode, r.metrics) for r in modes])
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
    s = sub.add_parser('summary', help='add up a run')
    s.add_argument('--tree', help='kernel tree for kunit_parser (default: KSRC, '
                   '$SGR_WORK/applied, the base tree)')
    s.add_argument('--debug-parser', action='store_true', help="print kunit_parser's output")
    s.add_argument('dirs', nargs='+')
    g = sub.add_parser('gates', help='the gates each patch passed, from a run of make check')
    g.add_argument('--tree', help=argparse.SUPPRESS)  # accepted, unused: the rows need no parser
    g.add_argument('--markdown', action='store_true', help='one Markdown table per stack')
    g.add_argument('dir')
    b = sub.add_parser('brief', help="one line: a boot's counts (its boot.json)")
    b.add_argument('dir')
    args = ap.parse_args(argv)
    return {'summary': cmd_summary, 'gates': cmd_gates,
            'brief': cmd_brief}[args.cmd](args)


if __name__ == '__main__':
    sys.exit(main())
