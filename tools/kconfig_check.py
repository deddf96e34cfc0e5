#!/usr/bin/env python3
"""Check that every option of config fragments survived olddefconfig.

An option that the tree does not define at all is reported separately: with
--allow-undefined (used when building an early patch of the series, before
the patch that adds the option) it is a note, otherwise an error.

With --on, an option the fragment wants y or m is satisfied by either (a
fragment of what allmodconfig must have built, not merged: tools/build
--require).
"""
import argparse
import os
import re
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional, Set

SET = re.compile(r'^(CONFIG_[A-Za-z0-9_]+)=(.*)$')
UNSET = re.compile(r'^# (CONFIG_[A-Za-z0-9_]+) is not set$')
KCONFIG_SYM = re.compile(r'^\s*(?:menu)?config\s+([A-Za-z0-9_]+)\s*$')


@dataclass
class Problem:
    option: str
    wanted: str
    got: str
    undefined: bool


def parse_config(lines) -> Dict[str, str]:
    """Map CONFIG_X to its value ('n' for '# ... is not set')."""
    values: Dict[str, str] = {}
    for line in lines:
        line = line.strip()
        m = SET.match(line)
        if m:
            values[m.group(1)] = m.group(2)
            continue
        m = UNSET.match(line)
        if m:
            values[m.group(1)] = 'n'
    return values


def kconfig_symbols(tree: str) -> Set[str]:
    """Every symbol a Kconfig file of the tree defines."""
    syms: Set[str] = set()
    for root, dirs, files in os.walk(tree):
        dirs[:] = [d for d in dirs if not d.startswith('.')]
        for name in files:
            if not name.startswith('Kconfig'):
                continue
            with open(os.path.join(root, name), errors='replace') as f:
                for line in f:
                    m = KCONFIG_SYM.match(line)
                    if m:
                        syms.add('CONFIG_' + m.group(1))
    return syms


def check(fragment: Dict[str, str], config: Dict[str, str],
          defined: Optional[Set[str]], on: bool = False) -> List[Problem]:
    problems = []
    for opt, want in fragment.items():
        got = config.get(opt, 'n')
        if want == 'n':
            ok = got in ('n', '')
        elif on and want in ('y', 'm'):
            ok = got in ('y', 'm')
        else:
            ok = got == want
        if not ok:
            undefined = defined is not None and opt not in defined
            problems.append(Problem(opt, want, got, undefined))
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('fragments', nargs='+', metavar='fragment',
                    help='fragments in merge order (later ones win)')
    ap.add_argument('config', help='the .config after olddefconfig')
    ap.add_argument('--tree', help='kernel source tree, to tell undefined options apart')
    ap.add_argument('--allow-undefined', action='store_true')
    ap.add_argument('--on', action='store_true',
                    help='y or m satisfies an option the fragment wants y or m')
    args = ap.parse_args(argv)
    frag: Dict[str, str] = {}
    for path in args.fragments:
        with open(path) as f:
            frag.update(parse_config(f))
    with open(args.config) as f:
        conf = parse_config(f)
    defined = kconfig_symbols(args.tree) if args.tree else None
    rc = 0
    for p in check(frag, conf, defined, args.on):
        if p.undefined and args.allow_undefined:
            print(f'note: {p.option} is not defined by this tree yet', file=sys.stderr)
            continue
        if p.undefined:
            why = 'not defined by this tree'
        elif p.wanted == 'n':
            why = 'still set after olddefconfig (selected by another option?)'
        elif args.on:
            why = 'not on (a dependency is missing?)'
        else:
            why = 'changed by olddefconfig (a dependency is missing?)'
        print(f'error: {p.option}: fragment wants {p.wanted}, .config has {p.got}: {why}',
              file=sys.stderr)
        rc = 1
    return rc


if __name__ == '__main__':
    sys.exit(main())
