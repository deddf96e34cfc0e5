#!/usr/bin/env python3
"""Rewrite a quilt-style series file for a new set of patch files.

Comment banners are kept: a banner stays above the patch it stood above
before, matched by the patch name without its number (the subject), and a
new patch joins the group of the patch before it.
"""
import argparse
import re
import sys
from typing import List, Optional

NUMBER = re.compile(r'^\d{4}-')


def slug(name: str) -> str:
    """A patch name without its git format-patch number."""
    return NUMBER.sub('', name)


def rewrite(old_lines: List[str], new_patches: List[str]) -> List[str]:
    """Return the new series lines for new_patches, keeping old banners."""
    header: List[str] = []      # comments before the first banner group
    banners = {}                # slug -> comment lines standing above it
    trailer: List[str] = []     # comments after the last patch
    pending: List[str] = []
    seen_patch = False
    for raw in old_lines:
        line = raw.rstrip('\n')
        entry = line.split('#', 1)[0].strip()
        if not entry:
            pending.append(line)
            continue
        name = entry.split()[0]
        if not seen_patch:
            # Lines before the first blank line are the file header; the
            # rest are the first banner.
            if '' in pending:
                cut = pending.index('')
                header, pending = pending[:cut + 1], pending[cut + 1:]
            seen_patch = True
        banners[slug(name)] = pending
        pending = []
    if not seen_patch:
        header = pending
    else:
        trailer = pending

    out = list(header)
    for name in new_patches:
        out.extend(banners.get(slug(name), []))
        out.append(name)
    out.extend(trailer)
    return out


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('series', help='the series file to rewrite in place')
    ap.add_argument('patches', nargs='*', help='the new patch names, in order')
    args = ap.parse_args(argv)
    try:
        with open(args.series) as f:
            old = f.readlines()
    except FileNotFoundError:
        old = []
    new = rewrite(old, args.patches)
    with open(args.series, 'w') as f:
        f.write('\n'.join(new) + '\n' if new else '')
    return 0


if __name__ == '__main__':
    sys.exit(main())
