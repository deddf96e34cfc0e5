"""tools/hang.py: the registers of a hung guest's vCPUs through QMP, and
the kernel function of each program counter."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

from helpers import TOOLS

sys.path.insert(0, TOOLS)
import hang  # noqa: E402  pylint: disable=wrong-import-position

# What QEMU 7.2's "info registers -a" says of an x86_64 guest in the idle
# loop (CPU#0) and one spinning (CPU#1), cut to the lines that matter.
X86 = '''
CPU#0
RAX=0000000000000000 RBX=0000000000000000 RCX=0000000000000001 RDX=0000000000000000
RIP=ffffffff81a0c4d6 RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1
CPU#1
RAX=0000000000000001 RBX=ffff888003a1c000 RCX=0000000000000000 RDX=0000000000000000
RIP=ffffffff8112345a RFL=00000286 [--S--P-] CPL=0 II=0 A20=1 SMM=0 HLT=0
'''
ARM64 = '''
CPU#0
 PC=ffff800080012348 X00=0000000000000000 X01=0000000000000000
CPU#1
 PC=0000000000000000 X00=0000000000000000 X01=0000000000000000
'''
SYSTEM_MAP = '''ffffffff81000000 T _text
ffffffff81123400 T clocksource_watchdog_work
ffffffff81123500 t next_fn
ffffffff81a0c4c0 T pv_native_safe_halt
ffffffff81a0c500 T arch_cpu_idle
ffffffff82000000 D some_data
ffff800080012300 T cpu_do_idle
'''


class FakeQmp(threading.Thread):
    """A QMP server on a unix socket: greeting, capabilities, an event
    before each reply, and REGS for every "info registers -a"."""

    def __init__(self, path, regs):
        super().__init__(daemon=True)
        self.regs = regs
        self.commands = []
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(1)

    def run(self):
        conn, _ = self.srv.accept()
        f = conn.makefile('rwb')
        f.write(json.dumps({'QMP': {'version': {}, 'capabilities': []}}).encode() + b'\n')
        f.flush()
        for line in f:
            msg = json.loads(line)
            self.commands.append(msg)
            f.write(b'{"event": "RTC_CHANGE", "data": {}}\n')
            if msg['execute'] == 'human-monitor-command':
                reply = {'return': self.regs}
            elif msg['execute'] == 'qmp_capabilities':
                reply = {'return': {}}
            else:
                reply = {'error': {'class': 'CommandNotFound', 'desc': 'no such command'}}
            f.write(json.dumps(reply).encode() + b'\n')
            f.flush()
        conn.close()


class Hang(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='sgr-hang-')
        self.map = os.path.join(self.tmp, 'System.map')
        with open(self.map, 'w', encoding='utf-8') as f:
            f.write(SYSTEM_MAP)

    def tearDown(self):
        subprocess.run(['rm', '-rf', self.tmp], check=True)

    def test_dump_asks_every_sample_and_show_names_the_functions(self):
        sock = os.path.join(self.tmp, 'qmp.sock')
        srv = FakeQmp(sock, X86)
        srv.start()
        out = os.path.join(self.tmp, 'hang-cpus.txt')
        hang.dump(sock, out, samples=2, interval=0)
        self.assertEqual([c['execute'] for c in srv.commands],
                         ['qmp_capabilities', 'human-monitor-command', 'human-monitor-command'])
        self.assertEqual(srv.commands[1]['arguments'], {'command-line': 'info registers -a'})
        lines = hang.show(out, self.map)
        self.assertEqual(lines, [
            'sample 1 vCPU0: pc 0xffffffff81a0c4d6 pv_native_safe_halt+0x16, halted',
            'sample 1 vCPU1: pc 0xffffffff8112345a clocksource_watchdog_work+0x5a, running',
            'sample 2 vCPU0: pc 0xffffffff81a0c4d6 pv_native_safe_halt+0x16, halted',
            'sample 2 vCPU1: pc 0xffffffff8112345a clocksource_watchdog_work+0x5a, running'])

    def test_arm64_pcs_and_addresses_outside_the_text(self):
        out = os.path.join(self.tmp, 'hang-cpus.txt')
        with open(out, 'w', encoding='utf-8') as f:
            f.write('=== sample 1 at 10:00:00\n' + ARM64)
        self.assertEqual(hang.show(out, self.map), [
            'sample 1 vCPU0: pc 0xffff800080012348 cpu_do_idle+0x48',
            'sample 1 vCPU1: pc 0x0 not in the kernel text'])
        # Without a System.map the counters are still reported.
        self.assertEqual(hang.show(out)[0],
                         'sample 1 vCPU0: pc 0xffff800080012348 not in the kernel text')

    def test_errors_are_messages(self):
        # No QEMU behind the socket, an empty dump, a missing map: each a
        # one-line message and status 1, no traceback.
        cmd = [sys.executable, os.path.join(TOOLS, 'hang.py')]
        empty = os.path.join(self.tmp, 'empty.txt')
        open(empty, 'w', encoding='utf-8').close()
        for args, why in ((['dump', '--sock', os.path.join(self.tmp, 'none.sock'),
                            '--out', os.path.join(self.tmp, 'x')], 'cannot connect'),
                          (['show', empty], 'no vCPU registers'),
                          (['show', empty, '--map', os.path.join(self.tmp, 'nomap')],
                           'no such System.map')):
            with self.subTest(why=why):
                p = subprocess.run(cmd + args, capture_output=True, text=True, check=False)
                self.assertEqual(p.returncode, 1)
                self.assertIn(why, p.stderr)
                self.assertNotIn('Traceback', p.stderr)


if __name__ == '__main__':
    unittest.main()
