#!/usr/bin/env python3
"""What a boot, or a whole run, must report: its expect.json.

  expect.py boot --out FILE --mode MODE --cmdline 'WORDS' [--label L]
                 [--config FILE | --config none] [--traced]
      One boot (tools/vm writes it before QEMU starts): the guest's
      top-level cases for the command line (tests/guest/plan), the KUnit
      suites the kernel's .config builds in (tests/kunit-suites), and the
      skips the boot may report.  A skip is a verdict: a guest case may
      skip only where the boot lacks something the case needs (the tests'
      <test>_needs, tests/guest/plan --needs), a KUnit suite's case only
      where the boot lacks a need of the suite (tests/kunit-suites); what a
      mode has comes from tests/iommu-modes (tools/modes.py), what the
      kernel has from its .config.  tools/results.py fails every other
      skip.  Without a .config (--config none, or a missing file) no KUnit
      suite is expected and every CONFIG_ need counts as met, so that no
      skip is allowed for want of a kernel option.

  expect.py run --out FILE [--stage DOC]... [--boot LABEL]...
      A run of make check or make demo: the stage documents and the boots
      the summary must find (tools/results.py summary fails the missing).

Exit status: 0; 2 for bad arguments, an unknown mode, or a plan the guest's
scripts refuse.
"""
import argparse
import json
import os
import subprocess
import sys
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import iotlb  # noqa: E402  pylint: disable=wrong-import-position
import modes  # noqa: E402  pylint: disable=wrong-import-position

PLAN = os.path.join(REPO, 'tests', 'guest', 'plan')
SUITES = os.path.join(REPO, 'tests', 'kunit-suites')


class Error(Exception):
    pass


def params(cmdline: str) -> Dict[str, str]:
    """sgr.NAME=VALUE words of a kernel command line (the first wins, as
    in the guest's param())."""
    out: Dict[str, str] = {}
    for w in cmdline.split():
        if w.startswith('sgr.') and '=' in w:
            k, v = w[4:].split('=', 1)
            out.setdefault(k, v)
    return out


def plan(cmdline: str, needs: bool = False) -> List[str]:
    """tests/guest/plan for the command line's parameters, one line each."""
    p = params(cmdline)
    args = ['sh', PLAN] + (['--needs'] if needs else [])
    for opt, key in (('--tests', 'tests'), ('--kunit-rerun', 'kunit_rerun'),
                     ('--zswap-passes', 'zswap_passes')):
        if key in p:
            args += [opt, p[key]]
    r = subprocess.run(args, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise Error(f'tests/guest/plan failed for "{cmdline}": {r.stderr.strip()}')
    return [l for l in r.stdout.splitlines() if l.strip()]


def config_options(path: Optional[str]) -> Optional[Dict[str, str]]:
    """CONFIG_X -> value of a .config; None without one."""
    if not path or path == 'none' or not os.path.isfile(path):
        return None
    opts = {}
    with open(path) as f:
        for l in f:
            if l.startswith('CONFIG_') and '=' in l:
                k, v = l.rstrip('\n').split('=', 1)
                opts[k] = v
    return opts


def kunit_suites(config: Optional[Dict[str, str]]) -> List[List[str]]:
    """[suite, need...] for every suite of tests/kunit-suites whose option
    is y in the config (none without a config)."""
    out = []
    with open(SUITES) as f:
        for l in f:
            w = l.split()
            if len(w) < 2 or w[0].startswith('#'):
                continue
            if config is not None and config.get(w[0]) == 'y':
                out.append(w[1:])
    return out


def unmet(needs: List[str], mode: 'modes.Mode', config: Optional[Dict[str, str]],
          p: Dict[str, str]) -> List[str]:
    """The needs this boot does not meet, each said in words."""
    out = []
    for n in needs:
        if n in ('translate', 'strict'):
            if n not in mode.has:
                out.append(f'mode {mode.name} has no {n} (type {mode.type})')
        elif n.startswith('CONFIG_'):
            if config is not None and config.get(n) != 'y':
                out.append(f'the kernel has no {n}')
        elif n.startswith('sgr.'):
            if p.get(n[4:], '') == '0':
                out.append(f'{n}=0')
        else:
            raise Error(f'unknown need {n!r} (needs: translate, strict, CONFIG_*, sgr.*)')
    return out


def boot(args) -> Dict:
    table = modes.load()
    mode = modes.get(table, args.mode)
    config = config_options(args.config)
    p = params(args.cmdline)
    cases = plan(args.cmdline)
    allowed: Dict[str, str] = {}
    mentioned = set()
    for line in plan(args.cmdline, needs=True):
        case, *needs = line.split()
        if case not in cases:
            raise Error(f'tests/guest/plan --needs names {case}, which the plan does not have')
        mentioned.update(needs)
        why = unmet(needs, mode, config, p)
        if why:
            allowed[f'guest.{case}'] = '; '.join(why)
    suites = kunit_suites(config)
    for suite, *needs in suites:
        mentioned.update(needs)
        why = unmet(needs, mode, config, p)
        if why:
            allowed[f'kunit.{suite}'] = '; '.join(why)
    if not suites:
        allowed['kunit'] = 'the kernel builds in no KUnit suite of tests/kunit-suites'
    if args.traced and 'guest.iotlb_counts' in allowed:
        # The host's iotlb cases follow the guest's.
        allowed.update({c: allowed['guest.iotlb_counts'] for c in iotlb.CASES})
    # What the boot has of what the cases need, for the reader.
    has = mode.has + sorted(n for n in mentioned if n.startswith('CONFIG_')
                            and (config is None or config.get(n) == 'y'))
    return {'label': args.label or mode.name, 'mode': mode.name, 'traced': args.traced,
            'has': has, 'config': args.config if config is not None else None,
            'guest_cases': cases, 'kunit_suites': [s[0] for s in suites],
            'allowed_skips': allowed}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    b = sub.add_parser('boot', help="one boot's expect.json")
    b.add_argument('--out', required=True)
    b.add_argument('--mode', required=True)
    b.add_argument('--cmdline', required=True)
    b.add_argument('--label')
    b.add_argument('--config')
    b.add_argument('--traced', action='store_true')
    r = sub.add_parser('run', help="a run's expect.json: its stage documents and boots")
    r.add_argument('--out', required=True)
    r.add_argument('--stage', action='append', default=[])
    r.add_argument('--boot', action='append', default=[])
    args = ap.parse_args(argv)
    try:
        if args.cmd == 'boot':
            doc = boot(args)
        else:
            doc = {'stages': list(dict.fromkeys(args.stage)),
                   'boots': list(dict.fromkeys(args.boot))}
    except (Error, modes.TableError) as e:
        print(f'expect.py: {e}', file=sys.stderr)
        return 2
    with open(args.out, 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
