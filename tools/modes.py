#!/usr/bin/env python3
"""The IOMMU matrix (tests/iommu-modes), parsed in this one place.

Every other tool asks this module (Python: import modes) or this command
(shell) what the modes are:

  modes.py list [--set SET]...     mode names, in table order (of every SET)
  modes.py get MODE FIELD          one field: arch, qemu, append, type, proof,
                                   sets, translates, strict, has,
                                   trace_events
  modes.py has MODE SET            exit 0 if MODE is in SET, else 1
  modes.py shell MODE              shell assignments for tools/vm
                                   (MODE_QEMU, MODE_APPEND, MODE_TYPE, ...)
  modes.py guest                   the guest's copy: a POSIX sh file defining
                                   the device addresses and mode_vars MODE
                                   (tools/initramfs puts it in
                                   /etc/sgr-modes.sh)
  modes.py slots                   shell assignments SLOT_<NAME>=<slot> of
                                   the spare PCI devices (&name lines)
  modes.py tests KIND              the guest tests of a kind of boot (+kind
                                   lines), comma-separated
  modes.py check                   parse the table and report problems

A bad table, an unknown mode or field is an error with exit status 2.
"""
import argparse
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = os.path.join(REPO, 'tests', 'iommu-modes')

SETS = ('check', 'demo', 'trace', 'floor')
ARCHES = ('x86_64', 'arm64')
TYPES = ('DMA', 'DMA-FQ', 'identity', 'none')
# The guest writes its phase markers into PCI configuration space of a
# spare device (tests/guest, sgr_mark); QEMU traces that write in order
# with the IOMMU's own events.  Enabled in every traced boot.
MARKER_EVENT = 'pci_cfg_write'


class TableError(Exception):
    pass


@dataclass
class Mode:
    name: str
    arch: str
    sets: List[str]
    qemu: Optional[str]        # None: no IOMMU device
    append: str
    type: str
    proof: str
    line: int
    trace_events: List[str] = field(default_factory=list)

    @property
    def device(self) -> Optional[str]:
        """The IOMMU's name in the @device lines: x86_64's -device name,
        arm64's virt machine option iommu=NAME."""
        if not self.qemu:
            return None
        first = self.qemu.split(',', 1)[0]
        return first[len('iommu='):] if first.startswith('iommu=') else first

    @property
    def translates(self) -> bool:
        """The device's DMA goes through a translating domain."""
        return self.type in ('DMA', 'DMA-FQ')

    @property
    def strict(self) -> bool:
        return self.type == 'DMA'

    @property
    def has(self) -> List[str]:
        """What the mode gives the guest cases' needs (tests/guest/lib.sh)."""
        return [n for n, ok in (('translate', self.translates), ('strict', self.strict)) if ok]

    @property
    def traced(self) -> bool:
        return 'trace' in self.sets

    @property
    def floor(self) -> bool:
        return 'floor' in self.sets

    def field(self, name: str) -> str:
        if name == 'sets':
            return ','.join(self.sets)
        if name == 'qemu':
            return self.qemu or '-'
        if name in ('translates', 'strict', 'traced', 'floor'):
            return '1' if getattr(self, name) else '0'
        if name == 'has':
            return ','.join(self.has)
        if name == 'trace_events':
            return ' '.join(self.trace_events)
        if name in ('name', 'arch', 'append', 'type', 'proof', 'device'):
            return getattr(self, name) or '-'
        raise TableError(f'unknown field {name!r} (fields: name, arch, sets, qemu, device, append, '
                         'type, proof, translates, strict, traced, floor, has, '
                         'trace_events)')


def _split(line: str, n: int) -> List[str]:
    """n '|'-separated fields, the last one taking the rest of the line."""
    parts = line.split('|', n - 1)
    return [p.strip() for p in parts]


SLOTS: Dict[str, str] = {}     # device name -> PCI slot ('10.0'), from the &name lines
RUNS: Dict[str, str] = {}      # kind of boot -> its guest tests, from the +kind lines
LABELS: Dict[str, str] = {}    # mode or IOMMU device -> its name in tables, from the =name lines


def slot(name: str, path: str = TABLE) -> str:
    """The PCI slot of spare device NAME (tests/iommu-modes, &name lines)."""
    if not SLOTS:
        load(path)
    if name not in SLOTS:
        raise TableError(f'no device {name!r} (devices: {", ".join(SLOTS)})')
    return SLOTS[name]


def load(path: str = TABLE) -> Dict[str, Mode]:
    """The modes in table order; raises TableError on any problem.  Also
    fills SLOTS, RUNS and LABELS."""
    modes: Dict[str, Mode] = {}
    SLOTS.clear()
    RUNS.clear()
    LABELS.clear()
    events: Dict[str, List[str]] = {}
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise TableError(f'{path}: {e.strerror}') from e
    for i, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        where = f'{os.path.basename(path)}:{i}'
        if line.startswith('='):
            key, _, label = line[1:].partition('|')
            if not key.strip() or not label.strip():
                raise TableError(f'{where}: a =name line needs a mode or device and its label')
            LABELS[key.strip()] = label.strip()
            continue
        if line.startswith(('&', '+')):
            key, _, rest = line[1:].partition('|')
            key, value = key.strip(), rest.split('|')[0].strip()
            if line[0] == '&':
                if not re.fullmatch(r'[a-z][a-z0-9-]*', key) or not re.fullmatch(
                        r'[0-9a-f]{2}\.[0-7]', value):
                    raise TableError(f'{where}: a &name line needs a name and a slot such as 10.0')
                if value in SLOTS.values() or key in SLOTS:
                    raise TableError(f'{where}: device {key} or slot {value} given twice')
                SLOTS[key] = value
            else:
                if not key or not re.fullmatch(r'[a-z0-9_]+(,[a-z0-9_]+)*', value):
                    raise TableError(f'{where}: a +kind line needs a kind and its tests, a,b,c')
                RUNS[key] = value
            continue
        if line.startswith('@'):
            dev, _, ev = line[1:].partition('|')
            dev, ev = dev.strip(), ev.split()
            if not dev or not ev:
                raise TableError(f'{where}: an @device line needs a device and its events')
            events[dev] = ev
            continue
        f = _split(line, 7)
        if len(f) != 7 or not all(f):
            raise TableError(f'{where}: a mode row has 7 non-empty fields, this one {len(f)}')
        name, arch, sets, qemu, append, typ, proof = f
        if not re.fullmatch(r'[a-z0-9][a-z0-9-]*', name):
            raise TableError(f'{where}: bad mode name {name!r}')
        if arch not in ARCHES:
            raise TableError(f'{where}: unknown arch {arch!r} (arches: {", ".join(ARCHES)})')
        if arch == 'arm64' and qemu != '-' and not qemu.startswith('iommu='):
            raise TableError(f'{where}: an arm64 IOMMU is a virt machine option '
                             f'(iommu=NAME), not {qemu!r}')
        if name in modes:
            raise TableError(f'{where}: mode {name} listed twice')
        sl = [s for s in sets.split(',') if s]
        bad = [s for s in sl if s not in SETS]
        if bad:
            raise TableError(f'{where}: unknown set(s) {",".join(bad)} (sets: {", ".join(SETS)})')
        if typ not in TYPES:
            raise TableError(f'{where}: unknown type {typ!r} (types: {", ".join(TYPES)})')
        try:
            re.compile(proof[1:] if proof.startswith('!') else proof)
        except re.error as e:
            raise TableError(f'{where}: bad proof regex: {e}') from e
        modes[name] = Mode(name, arch, sl, None if qemu == '-' else qemu,
                           '' if append == '-' else append, typ, proof, i)
    if not modes:
        raise TableError(f'{path}: no mode')
    for m in modes.values():
        if m.device:
            m.trace_events = list(events.get(m.device, []))
        if m.traced:
            if not m.strict:
                raise TableError(f'mode {m.name}: in set "trace" but type {m.type} is not '
                                 'strict (a lazy domain batches its invalidations)')
            if not m.trace_events:
                raise TableError(f'mode {m.name}: in set "trace" but no @{m.device} events')
    for arch in ARCHES:
        floors = [m.name for m in modes.values() if m.floor and m.arch == arch]
        if len(floors) > 1:
            raise TableError(f'more than one {arch} floor mode: {", ".join(floors)}')
    return modes


def floor_mode(modes: Dict[str, Mode], arch: str = 'x86_64') -> Optional[str]:
    """The floor of ARCH's comparison: its mode without any IOMMU."""
    return next((m.name for m in modes.values() if m.floor and m.arch == arch), None)


def order(modes: Dict[str, Mode]) -> Dict[str, int]:
    return {name: i for i, name in enumerate(modes)}


def names(modes: Dict[str, Mode], sets: Optional[List[str]] = None) -> List[str]:
    return [m.name for m in modes.values() if not sets or all(s in m.sets for s in sets)]


def get(modes: Dict[str, Mode], name: str) -> Mode:
    if name not in modes:
        raise TableError(f"unknown mode '{name}' (modes: {' '.join(modes)})")
    return modes[name]


def shell(m: Mode) -> str:
    q = shlex.quote
    return '\n'.join([
        f'MODE_NAME={q(m.name)}',
        f'MODE_ARCH={q(m.arch)}',
        f'MODE_SETS={q(",".join(m.sets))}',
        f'MODE_QEMU={q(m.qemu or "")}',
        f'MODE_DEVICE={q(m.device or "")}',
        f'MODE_APPEND={q(m.append)}',
        f'MODE_TYPE={q(m.type)}',
        f'MODE_PROOF={q(m.proof)}',
        f'MODE_TRANSLATES={int(m.translates)}',
        f'MODE_STRICT={int(m.strict)}',
        f'MODE_TRACED={int(m.traced)}',
        f'MODE_TRACE_EVENTS={q(" ".join(m.trace_events + ([MARKER_EVENT] if m.trace_events else [])))}',
    ]) + '\n'


def guest(modes: Dict[str, Mode]) -> str:
    """mode_vars MODE for the guest's /etc/sgr-modes.sh (POSIX sh)."""
    q = shlex.quote
    out = ['# Generated by tools/modes.py from tests/iommu-modes: do not edit.',
           '# The spare PCI devices (its &name lines).']
    for var, name in (('EDU', 'edu'), ('TESTDEV', 'testdev'), ('MARKDEV', 'marker'),
                      ('DMA_EDU', 'dma-edu')):
        out.append(f'{var}=0000:00:{SLOTS[name]}')
    out += ['# mode_vars MODE: set MODE_TYPE, MODE_PROOF, MODE_TRANSLATES, MODE_STRICT,',
           '# MODE_TRACED for MODE; return 1 for a mode the table does not have.',
           'mode_vars() {', '\tcase $1 in']
    for m in modes.values():
        out.append(f'\t{q(m.name)}) MODE_TYPE={q(m.type)} MODE_PROOF={q(m.proof)} '
                   f'MODE_TRANSLATES={int(m.translates)} MODE_STRICT={int(m.strict)} '
                   f'MODE_TRACED={int(m.traced)} ;;')
    out += ['\t*) return 1 ;;', '\tesac', '}', '']
    return '\n'.join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--table', default=TABLE, help=argparse.SUPPRESS)
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('list')
    p.add_argument('--set', action='append', choices=SETS)
    p = sub.add_parser('get')
    p.add_argument('mode')
    p.add_argument('field')
    p = sub.add_parser('has')
    p.add_argument('mode')
    p.add_argument('set', choices=SETS)
    p = sub.add_parser('shell')
    p.add_argument('mode')
    sub.add_parser('guest')
    sub.add_parser('slots')
    p = sub.add_parser('tests')
    p.add_argument('kind')
    sub.add_parser('check')
    a = ap.parse_args(argv)
    try:
        modes = load(a.table)
        if a.cmd == 'list':
            print('\n'.join(names(modes, a.set)))
        elif a.cmd == 'get':
            print(get(modes, a.mode).field(a.field))
        elif a.cmd == 'has':
            return 0 if a.set in get(modes, a.mode).sets else 1
        elif a.cmd == 'shell':
            sys.stdout.write(shell(get(modes, a.mode)))
        elif a.cmd == 'guest':
            sys.stdout.write(guest(modes))
        elif a.cmd == 'slots':
            print('\n'.join(f'SLOT_{k.upper().replace("-", "_")}={v}' for k, v in SLOTS.items()))
        elif a.cmd == 'tests':
            if a.kind not in RUNS:
                raise TableError(f'no kind of boot {a.kind!r} (kinds: {", ".join(RUNS)})')
            print(RUNS[a.kind])
        else:
            print(f'{len(modes)} modes: {" ".join(modes)}')
    except TableError as e:
        print(f'modes.py: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
