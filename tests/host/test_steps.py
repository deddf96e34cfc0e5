"""Host tests of tools/steps.py, the single-stepper of make demo, against
a fake gdbstub on a unix socket: a scripted guest whose benchmark thread
calls a method's do_map and do_unmap over and over, on the symbols of a
small object file standing in for vmlinux.  The tracer must count each
stepped instruction, attribute it to its symbol, skip the warm-up calls,
follow the map with its unmap, detach, and fail with a message (never
hang) when the guest never calls a method, a symbol is missing or the
stub stops answering."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import unittest

from helpers import TOOLS

STEPS = os.path.join(TOOLS, 'steps.py')
FUNCS = ['map_benchmark_thread', 'dma_reuse_map_benchmark_do_map',
         'dma_reuse_map_benchmark_do_unmap', 'lz4dt_bench_unmarked_map', 'lz4dt_bench_reuse_unmap',
         'dma_reuse_map_sg', 'xa_load']
SP = 0xffffc90000010f00


def symbols(obj):
    out = subprocess.run(['nm', '-n', '--defined-only', obj], check=True,
                         capture_output=True, text=True).stdout
    return {l.split()[2]: int(l.split()[0], 16) for l in out.splitlines()
            if len(l.split()) == 3}


class FakeStub(threading.Thread):
    """The guest: a flat list of (pc, sp, return address at sp) it
    executes one by one; 'c' runs to the next breakpoint, 's' one step."""

    def __init__(self, path, program, answer=True):
        super().__init__(daemon=True)
        self.program, self.answer = program, answer
        self.i = 0
        self.bps = set()
        self.got = []
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(1)

    def send(self, c, data):
        c.sendall(f'${data}#{sum(data.encode()) % 256:02x}'.encode())

    def run(self):
        try:
            self.serve()
        finally:
            self.srv.close()

    def serve(self):
        c, _ = self.srv.accept()
        buf = b''
        while True:
            d = c.recv(4096)
            if not d:
                c.close()
                return
            buf += d
            while b'#' in buf:
                i = buf.find(b'$')
                j = buf.find(b'#', i)
                if i < 0 or len(buf) < j + 3:
                    break
                pkt = buf[i + 1:j].decode()
                buf = buf[j + 3:]
                c.sendall(b'+')
                self.got.append(pkt[0])
                if not self.handle(c, pkt):
                    c.close()
                    return

    def handle(self, c, pkt):
        pc, sp, ret = self.program[self.i] if self.i < len(self.program) else (0, 0, 0)
        if pkt == '?':
            self.send(c, 'S05')
        elif pkt[0] in 'Zz':
            addr = int(pkt.split(',')[1], 16)
            (self.bps.add if pkt[0] == 'Z' else self.bps.discard)(addr)
            self.send(c, 'OK')
        elif pkt == 's':
            self.i += 1
            self.send(c, 'T05thread:01;')
        elif pkt == 'c':
            if not self.answer:
                return True
            self.i += 1
            while self.i < len(self.program) and self.program[self.i][0] not in self.bps:
                self.i += 1
            if self.i >= len(self.program):
                return False
            self.send(c, 'T05thread:01;')
        elif pkt == 'g':
            regs = [0] * 24
            regs[7], regs[16] = sp, pc
            self.send(c, ''.join(r.to_bytes(8, 'little').hex() for r in regs))
        elif pkt[0] == 'm':
            self.send(c, ret.to_bytes(8, 'little').hex())
        elif pkt == 'D':
            self.send(c, 'OK')
            return False
        return True


class Steps(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='sgr-steps.')
        self.addCleanup(shutil.rmtree, self.tmp)
        src = os.path.join(self.tmp, 'k.c')
        with open(src, 'w') as f:
            for n in FUNCS:
                f.write(f'void {n}(void) {{ __asm__ volatile(".skip 64, 0x90"); }}\n')
        self.vmlinux = os.path.join(self.tmp, 'vmlinux')
        subprocess.run(['cc', '-c', '-O0', '-fno-function-sections', '-o', self.vmlinux, src],
                       check=True)
        self.sym = symbols(self.vmlinux)
        self.sock = os.path.join(self.tmp, 'gdb.sock')

    def program(self, method_map, calls, unmap='dma_reuse_map_benchmark_do_unmap'):
        """calls x (map with 5 instructions through xa_load, unmap with 2)."""
        s, th = self.sym, self.sym['map_benchmark_thread']
        unmap = s[unmap]
        prog = [(th, SP + 8, 0)]
        for _ in range(calls):
            m = s[method_map]
            r1, r2 = th + 4, th + 12
            prog += [(m, SP, r1), (m + 4, SP, r1), (s['xa_load'], SP - 8, 0),
                     (s['xa_load'] + 2, SP - 8, 0), (m + 8, SP, r1), (r1, SP + 8, 0),
                     (th + 8, SP + 8, 0), (unmap, SP, r2), (unmap + 3, SP, r2),
                     (r2, SP + 8, 0)]
        return prog

    def trace(self, *args, timeout=20):
        return subprocess.run([STEPS, 'trace', '--sock', self.sock, '--vmlinux', self.vmlinux,
                               '--out', os.path.join(self.tmp, 'out.json'), *args],
                              capture_output=True, text=True, timeout=timeout)

    def result(self):
        with open(os.path.join(self.tmp, 'out.json')) as f:
            return json.load(f)

    def test_counts_attributes_and_detaches(self):
        stub = FakeStub(self.sock, self.program('dma_reuse_map_benchmark_do_map', 5))
        stub.start()
        p = self.trace('--methods', 'reuse', '--skip', '3')
        self.assertEqual(p.returncode, 0, p.stderr)
        t = self.result()['methods']['reuse']
        self.assertEqual(t['call'], 3)
        self.assertEqual(t['map']['insns'], 5)
        self.assertEqual(t['map']['segments'], [['dma_reuse_map_benchmark_do_map', 2],
                                                ['xa_load', 2],
                                                ['dma_reuse_map_benchmark_do_map', 1]])
        self.assertEqual(t['unmap']['insns'], 2)
        self.assertEqual(t['unmap']['by_symbol'], {'dma_reuse_map_benchmark_do_unmap': 2})
        self.assertEqual(stub.got[-1], 'D')
        show = subprocess.run([STEPS, 'show', os.path.join(self.tmp, 'out.json')],
                              capture_output=True, text=True, check=True).stdout
        self.assertIn('reuse (call 3): map 5 + unmap 2 = 7 instructions', show)

    def test_method_never_called_fails_by_name(self):
        FakeStub(self.sock, self.program('lz4dt_bench_unmarked_map', 5,
                                                  unmap='lz4dt_bench_reuse_unmap')).start()
        p = self.trace('--methods', 'unmarked,reuse', '--skip', '2')
        self.assertEqual(p.returncode, 1)
        r = self.result()
        self.assertIn('unmarked', r['methods'])
        self.assertIn('not traced: reuse', r['errors'])
        self.assertIn('closed the connection', p.stderr)

    def test_symbol_missing_from_vmlinux(self):
        p = self.trace('--methods', 'iova')
        self.assertEqual(p.returncode, 1)
        self.assertIn('dma_iova_map_benchmark_do_map is not in vmlinux', p.stderr)

    def test_unknown_method_is_a_usage_error(self):
        p = self.trace('--methods', 'nope')
        self.assertEqual(p.returncode, 2)
        self.assertIn('unknown method(s) nope', p.stderr)

    def test_silent_stub_times_out(self):
        FakeStub(self.sock, self.program('dma_reuse_map_benchmark_do_map', 5),
                 answer=False).start()
        p = self.trace('--methods', 'reuse', '--timeout', '2')
        self.assertEqual(p.returncode, 1)
        self.assertIn('timed out waiting for the gdbstub', p.stderr)

    def test_no_socket(self):
        p = self.trace('--methods', 'reuse', '--timeout', '1')
        self.assertEqual(p.returncode, 1)
        self.assertIn('cannot connect', p.stderr)


if __name__ == '__main__':
    unittest.main()
