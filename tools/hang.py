#!/usr/bin/env python3
"""What the vCPUs of a hung guest were doing.

tools/vm starts QEMU with a QMP socket; shortly before it kills a guest
that ran into its timeout, it runs `dump`, which asks QEMU for every vCPU's
registers a few times, a second apart, and writes what QEMU said to a file
in the boot's directory.  After the kill, `show` names the kernel function
each program counter was in (from the System.map of the build) and whether
the vCPU was halted, one line per vCPU and sample: a vCPU that sits in the
idle loop in every sample waits for an interrupt that never comes, one
whose counter stays in one function spins there.

    hang.py dump --sock QMP.SOCK --out FILE [--after S] [--samples N] [--interval S]
    hang.py show FILE [--map System.map]
"""
import argparse
import bisect
import json
import os
import re
import socket
import sys
import time


class Error(Exception):
    pass


class Qmp:
    """A QMP client: one command at a time, events skipped."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as e:
            raise Error(f'cannot connect to QMP socket {path}: {e}') from e
        self.buf = b''
        greeting = self._read()
        if 'QMP' not in greeting:
            raise Error(f'no QMP greeting on {path}: {greeting}')
        self.command('qmp_capabilities')

    def _read(self):
        while b'\n' not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except OSError as e:
                raise Error(f'QMP: {e}') from e
            if not chunk:
                raise Error('QMP: QEMU closed the socket')
            self.buf += chunk
        line, self.buf = self.buf.split(b'\n', 1)
        try:
            return json.loads(line)
        except ValueError as e:
            raise Error(f'QMP: not JSON: {line[:200]!r}') from e

    def command(self, name, **args):
        msg = {'execute': name}
        if args:
            msg['arguments'] = args
        self.sock.sendall(json.dumps(msg).encode() + b'\n')
        while True:
            reply = self._read()
            if 'event' in reply:
                continue
            if 'error' in reply:
                raise Error(f'QMP {name}: {reply["error"].get("desc", reply["error"])}')
            if 'return' in reply:
                return reply['return']

    def hmp(self, line):
        return self.command('human-monitor-command', **{'command-line': line})

    def close(self):
        self.sock.close()


def dump(sock, out, samples=3, interval=1.0):
    """Write SAMPLES register dumps of every vCPU to OUT."""
    qmp = Qmp(sock)
    try:
        with open(out, 'w', encoding='utf-8') as f:
            for i in range(samples):
                if i:
                    time.sleep(interval)
                text = qmp.hmp('info registers -a')
                f.write(f'=== sample {i + 1} at {time.strftime("%H:%M:%S")}\n{text}')
                if not text.endswith('\n'):
                    f.write('\n')
                f.flush()
    finally:
        qmp.close()


CPU = re.compile(r'^CPU#(\d+)', re.M)
PC = re.compile(r'(?:^|\s)(?:RIP|EIP|PC)=([0-9a-fA-F]+)')
HALTED = re.compile(r'\bHLT=1\b')


def parse(text):
    """[(sample, cpu, pc, halted)] of a dump; halted is None where QEMU
    does not say (arm64)."""
    rows = []
    for n, part in enumerate(re.split(r'^=== sample .*\n', text, flags=re.M)[1:], 1):
        starts = [(m.start(), int(m.group(1))) for m in CPU.finditer(part)]
        for k, (at, cpu) in enumerate(starts):
            block = part[at:starts[k + 1][0] if k + 1 < len(starts) else len(part)]
            m = PC.search(block)
            if not m:
                continue
            halted = None
            if 'HLT=' in block:
                halted = bool(HALTED.search(block))
            rows.append((n, cpu, int(m.group(1), 16), halted))
    return rows


class SymbolMap:
    """Text symbols of a System.map, for address -> function+offset."""

    def __init__(self, path):
        self.addrs, self.names = [], []
        with open(path, encoding='utf-8', errors='replace') as f:
            for line in f:
                w = line.split()
                if len(w) >= 3 and w[1] in 'tTwW':
                    try:
                        self.addrs.append(int(w[0], 16))
                    except ValueError:
                        continue
                    self.names.append(w[2])
        order = sorted(range(len(self.addrs)), key=self.addrs.__getitem__)
        self.addrs = [self.addrs[i] for i in order]
        self.names = [self.names[i] for i in order]
        self.end = self.addrs[-1] + 0x100000 if self.addrs else 0

    def lookup(self, pc):
        i = bisect.bisect_right(self.addrs, pc) - 1
        if i < 0 or pc >= self.end:
            return None
        return f'{self.names[i]}+{pc - self.addrs[i]:#x}'


def show(path, sysmap=None):
    """One line per vCPU and sample."""
    with open(path, encoding='utf-8', errors='replace') as f:
        rows = parse(f.read())
    if not rows:
        raise Error(f'{path}: no vCPU registers in it')
    syms = SymbolMap(sysmap) if sysmap else None
    lines = []
    for sample, cpu, pc, halted in rows:
        where = (syms.lookup(pc) if syms else None) or 'not in the kernel text'
        state = {True: ', halted', False: ', running', None: ''}[halted]
        lines.append(f'sample {sample} vCPU{cpu}: pc {pc:#x} {where}{state}')
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    d = sub.add_parser('dump', help='ask QEMU for the registers of every vCPU')
    d.add_argument('--after', type=float, default=0.0, help='wait this many seconds first')
    d.add_argument('--sock', required=True)
    d.add_argument('--out', required=True)
    d.add_argument('--samples', type=int, default=3)
    d.add_argument('--interval', type=float, default=1.0)
    s = sub.add_parser('show', help='the function each vCPU was in')
    s.add_argument('file')
    s.add_argument('--map', help='the kernel build\'s System.map')
    a = ap.parse_args(argv)
    try:
        if a.cmd == 'dump':
            if a.samples < 1:
                raise Error('--samples wants 1 or more')
            time.sleep(max(a.after, 0.0))
            dump(a.sock, a.out, a.samples, a.interval)
        else:
            if a.map and not os.path.isfile(a.map):
                raise Error(f'{a.map}: no such System.map')
            print('\n'.join(show(a.file, a.map)))
    except (Error, OSError) as e:
        print(f'hang.py: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
