#!/usr/bin/env python3
"""Count, instruction by instruction, what one map and one unmap cost.

    steps.py trace --sock PATH --vmlinux FILE --out FILE [--methods LIST]
                   [--skip N] [--max-steps N] [--timeout SEC]
    steps.py show FILE

trace: attach to QEMU's gdbstub (a guest started with -S, tools/vm
--gdb-run), put a breakpoint on the do_map function of each benchmark
method of LIST (kernel/dma/map_benchmark.c, or the test module's bench
file for sg1 and unmarked; default reuse,unmarked,sg1,
sg,iova), let the guest run, and at the N-th call of a method (default 50:
the warm, steady state; the first call of reuse mode is its miss)
single-step through that do_map and the do_unmap that follows it, up to
their return.  Each step is one guest instruction (QEMU steps with
interrupts and timers masked, so nothing else runs in between); the
instruction pointers are attributed to the symbols of vmlinux (nm).  The
tracer then removes its breakpoints and detaches: the guest runs on.
Writes FILE (JSON): per method and side, the instruction count, the
symbols in call order with the instructions spent in each stretch, and
the totals per symbol.  Exit status 0 if every method was traced.

show: print FILE as the report's step-by-step section.

This speaks the GDB remote protocol itself (a handful of packets: ?, Z0,
z0, c, s, g, m, D), so it needs no gdb.  Bad input (no socket, a symbol
missing from vmlinux, a guest that never calls a method) is a message
and a non-zero exit, never a hang: every wait has a deadline.
"""
import argparse
import bisect
import json
import os
import socket
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

# method -> (do_map, do_unmap): kernel/dma/map_benchmark.c's, and for the
# series' controls (sg1: the plain calls; unmarked) the test module's bench
# file's, kernel/dma/reuse_lz4_test.c
METHODS = {
    'single': ('dma_single_map_benchmark_do_map', 'dma_single_map_benchmark_do_unmap'),
    'sg': ('dma_sg_map_benchmark_do_map', 'dma_sg_map_benchmark_do_unmap'),
    'sg1': ('lz4dt_bench_plain_map', 'lz4dt_bench_plain_unmap'),
    'bounce': ('dma_bounce_map_benchmark_do_map', 'dma_bounce_map_benchmark_do_unmap'),
    'reuse': ('dma_reuse_map_benchmark_do_map', 'dma_reuse_map_benchmark_do_unmap'),
    'unmarked': ('lz4dt_bench_unmarked_map', 'lz4dt_bench_reuse_unmap'),
    'iova': ('dma_iova_map_benchmark_do_map', 'dma_iova_map_benchmark_do_unmap'),
    # bounce mode in the zswap shape (DMA_FROM_DEVICE, a copy-out of the
    # compressed length); the same functions as bounce and owned mode, so
    # at most one of the three is traced in a boot.
    'bounce_out': ('dma_bounce_map_benchmark_do_map', 'dma_bounce_map_benchmark_do_unmap'),
}
DEFAULT_METHODS = 'reuse,unmarked,sg1,sg,iova,bounce_out'
# x86-64 register numbers of QEMU's gdbstub
REG_RSP, REG_RIP = 7, 16


class StubError(Exception):
    pass


class Stub:
    """A minimal GDB remote protocol client."""

    def __init__(self, path: str, deadline: float):
        self.deadline = deadline
        self.regs: Optional[str] = None
        self.buf = b''
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        give_up = min(deadline, time.time() + 30)
        while True:
            try:
                self.sock.connect(path)
                break
            except OSError as e:
                if time.time() > give_up:
                    raise StubError(f'cannot connect to {path} within 30 s: {e}') from e
                time.sleep(0.2)

    def _recv(self) -> bytes:
        left = self.deadline - time.time()
        if left <= 0:
            raise StubError('timed out waiting for the gdbstub')
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(65536)
        except socket.timeout as e:
            raise StubError('timed out waiting for the gdbstub') from e
        if not d:
            raise StubError('the gdbstub closed the connection (the guest exited?)')
        return d

    def _reply(self) -> str:
        while True:
            i = self.buf.find(b'$')
            if i >= 0:
                j = self.buf.find(b'#', i)
                if j >= 0 and len(self.buf) >= j + 3:
                    data = self.buf[i + 1:j]
                    self.buf = self.buf[j + 3:]
                    self.sock.sendall(b'+')
                    return data.decode('ascii', 'replace')
            self.buf += self._recv()

    def cmd(self, data: str, reply: bool = True) -> str:
        cs = sum(data.encode()) % 256
        self.sock.sendall(f'${data}#{cs:02x}'.encode())
        return self._reply() if reply else ''

    def reg(self, n: int) -> int:
        """Register N of the 'g' packet: QEMU's x86-64 gdbstub gives the
        sixteen GPRs and rip as 8 bytes each, in gdb's order."""
        if self.regs is None:
            r = self.cmd('g')
            if not r or r.startswith('E') or len(r) < 17 * 16:
                raise StubError(f'cannot read the registers: {r[:40]!r}')
            self.regs = r
        return int.from_bytes(bytes.fromhex(self.regs[16 * n:16 * n + 16]), 'little')

    def mem64(self, addr: int) -> int:
        r = self.cmd(f'm{addr:x},8')
        if len(r) != 16:
            raise StubError(f'cannot read memory at {addr:#x}: {r!r}')
        return int.from_bytes(bytes.fromhex(r), 'little')

    def bp(self, addr: int, on: bool) -> None:
        r = self.cmd(f'{"Z0" if on else "z0"},{addr:x},1')
        if r != 'OK':
            raise StubError(f'breakpoint at {addr:#x}: {r!r}')

    def stopped(self, r: str) -> None:
        if not r or r[0] not in 'TS':
            raise StubError(f'unexpected stop reply {r!r} (the guest exited?)')

    def step(self) -> None:
        self.regs = None
        self.stopped(self.cmd('s'))

    def cont(self) -> None:
        self.regs = None
        self.stopped(self.cmd('c'))

    def detach(self) -> None:
        try:
            self.cmd('D')
        except (StubError, OSError):
            pass
        self.sock.close()


class Symbols:
    def __init__(self, vmlinux: str):
        try:
            out = subprocess.run(['nm', '-n', '--defined-only', vmlinux], check=True,
                                 capture_output=True, text=True, timeout=120).stdout
        except (OSError, subprocess.SubprocessError) as e:
            raise StubError(f'nm {vmlinux}: {e}') from e
        self.addrs: List[int] = []
        self.names: List[str] = []
        self.by_name: Dict[str, int] = {}
        for l in out.splitlines():
            f = l.split()
            if len(f) != 3 or f[1] not in 'tTwW':
                continue
            a = int(f[0], 16)
            self.addrs.append(a)
            self.names.append(f[2])
            self.by_name.setdefault(f[2], a)

    def name(self, pc: int) -> str:
        i = bisect.bisect_right(self.addrs, pc) - 1
        return self.names[i] if i >= 0 else f'{pc:#x}'

    def addr(self, name: str) -> int:
        if name not in self.by_name:
            raise StubError(f'{name} is not in vmlinux: a kernel without this benchmark mode?')
        return self.by_name[name]


def trace_call(stub: Stub, syms: Symbols, max_steps: int) -> Dict:
    """Step from a function's first instruction to its return."""
    rsp0 = stub.reg(REG_RSP)
    ret = stub.mem64(rsp0)
    pcs = []
    pc = stub.reg(REG_RIP)
    while True:
        if pc == ret and stub.reg(REG_RSP) > rsp0:
            break
        if len(pcs) >= max_steps:
            raise StubError(f'more than {max_steps} instructions without returning')
        pcs.append(pc)
        stub.step()
        pc = stub.reg(REG_RIP)
    segs: List[List] = []
    total: Dict[str, int] = {}
    for p in pcs:
        n = syms.name(p)
        if segs and segs[-1][0] == n:
            segs[-1][1] += 1
        else:
            segs.append([n, 1])
        total[n] = total.get(n, 0) + 1
    return {'insns': len(pcs), 'segments': segs, 'by_symbol': total}


def trace(a) -> int:
    deadline = time.time() + a.timeout
    methods = [m for m in a.methods.split(',') if m]
    result: Dict = {'skip': a.skip, 'methods': {}, 'errors': []}
    bad = [m for m in methods if m not in METHODS]
    same = [m for i, m in enumerate(methods) if m in METHODS and
            any(METHODS.get(o) == METHODS[m] for o in methods[:i])]
    if same and not bad:
        print(f'steps: {",".join(same)} run(s) the same functions as a method before: '
              'trace one of them per boot', file=sys.stderr)
        return 2
    if bad:
        print(f'steps: unknown method(s) {",".join(bad)} (known: {",".join(METHODS)})',
              file=sys.stderr)
        return 2
    try:
        syms = Symbols(a.vmlinux)
        maps = {syms.addr(METHODS[m][0]): m for m in methods}
        unmaps = {m: syms.addr(METHODS[m][1]) for m in methods}
    except StubError as e:
        print(f'steps: {e}', file=sys.stderr)
        return 1
    stub = None
    rc = 0
    try:
        stub = Stub(a.sock, deadline)
        stub.stopped(stub.cmd('?'))
        for addr in maps:
            stub.bp(addr, True)
        hits = {m: 0 for m in methods}
        stub.cont()
        while maps:
            pc = stub.reg(REG_RIP)
            m = maps.get(pc)
            if m is None:
                raise StubError(f'stopped at {pc:#x} ({syms.name(pc)}), not at a breakpoint')
            hits[m] += 1
            stub.bp(pc, False)
            if hits[m] < a.skip:
                stub.step()
                stub.bp(pc, True)
                stub.cont()
                continue
            del maps[pc]
            t_map = trace_call(stub, syms, a.max_steps)
            # The same thread's next call is this request's unmap; no
            # other map breakpoint can come first.
            u = unmaps[m]
            stub.bp(u, True)
            stub.cont()
            if stub.reg(REG_RIP) != u:
                raise StubError(f'{m}: expected the unmap at {u:#x}')
            stub.bp(u, False)
            t_unmap = trace_call(stub, syms, a.max_steps)
            result['methods'][m] = {'call': hits[m], 'map': t_map, 'unmap': t_unmap}
            print(f'steps: {m}: call {hits[m]}: map {t_map["insns"]}, '
                  f'unmap {t_unmap["insns"]} instructions', file=sys.stderr)
            if maps:
                stub.cont()
    except (StubError, OSError) as e:
        result['errors'].append(str(e))
        print(f'steps: {e}', file=sys.stderr)
        rc = 1
    finally:
        if stub:
            stub.detach()
    missing = [m for m in methods if m not in result['methods']]
    if missing:
        result['errors'].append('not traced: ' + ','.join(missing))
        rc = 1
    with open(a.out, 'w') as f:
        json.dump(result, f, indent=1)
    return rc


def fold(segs: List[List]) -> List[str]:
    """The call-order stretches, one 'symbol n' per stretch."""
    return [f'{n} {c}' for n, c in segs]


def show_lines(d: Dict) -> List[str]:
    out = []
    for m, t in d.get('methods', {}).items():
        out.append(f'  {m} (call {t.get("call")}): map {t["map"]["insns"]} + unmap '
                   f'{t["unmap"]["insns"]} = {t["map"]["insns"] + t["unmap"]["insns"]} '
                   'instructions')
        for side in ('map', 'unmap'):
            top = sorted(t[side]['by_symbol'].items(), key=lambda kv: -kv[1])
            out.append(f'    {side}, per function: ' +
                       ', '.join(f'{n} {c}' for n, c in top))
            out.append(f'    {side}, in order: ' + ' > '.join(fold(t[side]['segments'])))
    for e in d.get('errors', []):
        out.append(f'  !!! {e}')
    return out


def main(argv: List[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    t = sub.add_parser('trace')
    t.add_argument('--sock', required=True)
    t.add_argument('--vmlinux', required=True)
    t.add_argument('--out', required=True)
    t.add_argument('--methods', default=DEFAULT_METHODS)
    t.add_argument('--skip', type=int, default=50)
    t.add_argument('--max-steps', type=int, default=100000)
    t.add_argument('--timeout', type=float, default=600)
    s = sub.add_parser('show')
    s.add_argument('file')
    a = p.parse_args(argv[1:])
    if a.cmd == 'trace':
        if a.skip < 1:
            p.error('--skip wants 1 or more')
        if not os.path.isfile(a.vmlinux):
            print(f'steps: no vmlinux at {a.vmlinux}', file=sys.stderr)
            return 1
        return trace(a)
    try:
        with open(a.file) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        print(f'steps: {a.file}: {e}', file=sys.stderr)
        return 1
    print('\n'.join(show_lines(d)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
