#!/usr/bin/env python3
"""A way into the guest (tools/vm --exec and --shell) without a kernel:
tests/guest/exec.sh's frame under dash, and tools/vm run for real against a
fake QEMU that does what the guest would (it takes the command out of the
appended cpio archive, runs it with the guest's own sgr_exec, and writes
the frame through a tty's CR LF to guest.ktap), or hangs, or dies half-way,
or plays a shell on the console."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from helpers import REPO, TOOLS, ToolTest

GUEST = os.path.join(REPO, 'tests', 'guest')

# The fake qemu-system-x86_64.  FAKE_QEMU picks what the "guest" does.
FAKE_QEMU = r'''#!/usr/bin/env python3
import os, re, select, subprocess, sys, tempfile, time

args = sys.argv[1:]
opt = lambda name: [args[i + 1] for i, a in enumerate(args) if a == name]
append = opt('-append')[0]
ktap = [s[5:] for s in opt('-serial') if s.endswith('/guest.ktap')][0]
console = [s[5:] for s in opt('-serial') if s.endswith('/console.log')]
console += [re.search('logfile=([^,]+)', c).group(1) for c in opt('-chardev') if 'logfile=' in c]
con = open(console[0], 'w')
con.write('fake boot: ' + append + '\n')
con.flush()
what = os.environ.get('FAKE_QEMU', 'exec')


def cpio_files(data):
    files, i = {}, 0
    while i < len(data):
        if data[i] == 0:
            i += 1
            continue
        f = [int(data[i + 6 + 8 * k:i + 14 + 8 * k], 16) for k in range(13)]
        name = data[i + 110:i + 109 + f[11]].decode()
        i += 110 + f[11]
        i += -i % 4
        if f[1] & 0o170000 == 0o100000:
            files[name] = data[i:i + f[6]]
        i += f[6] + (-f[6] % 4)
    return files


if what == 'hang':
    time.sleep(600)
elif what == 'shell':
    # The console is stdio: what came before the prompt, then the prompt,
    # then everything up to the Ctrl-D the tool sends at the end.
    early = select.select([0], [], [], 1.5)[0]
    for f in (con, sys.stdout):
        f.write('sgr: shell on the console\nsgr-guest# ')
        f.flush()
    data = b''
    while not data.endswith(b'\x04'):
        chunk = os.read(0, 4096)
        if not chunk:
            break
        data += chunk
    print('early' if early else 'after the prompt', repr(data))
else:
    xid = re.search(r'sgr\.exec=(\S+)', append).group(1)
    with open(opt('-initrd')[0], 'rb') as f:
        cmd = cpio_files(f.read())['etc/sgr-exec']
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, 'sgr-exec'), 'wb') as f:
            f.write(cmd)
        out = os.path.join(d, 'out')
        subprocess.run(['dash', '-c', '. "$KTAP_SH"; . "$GUEST/exec.sh"; exec 3>"$1"; KTAP_FD=3; '
                        'sgr_exec "$2" "$3"', 'dash', out, xid, os.path.join(d, 'sgr-exec')],
                       env=dict(os.environ, KTAP_SH=os.environ['FAKE_KTAP_SH'],
                                GUEST=os.environ['FAKE_GUEST'], SGR_SH='dash'))
        with open(out, 'rb') as f:
            data = f.read()
    if what == 'died':
        data = data[:data.rindex(b'\nsgr-exec ')]
    with open(ktap, 'wb') as f:
        f.write(data.replace(b'\n', b'\r\n'))
'''


class GuestExec(unittest.TestCase):
    """exec.sh's sgr_exec under dash, fd 3 on stdout."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='sgr-exec.')
        self.addCleanup(shutil.rmtree, self.tmp)

    def sgr_exec(self, xid, cmd):
        path = os.path.join(self.tmp, 'sgr-exec')
        if cmd is not None:
            with open(path, 'wb') as f:
                f.write(cmd)
        return subprocess.run(
            ['dash', '-c', '. "$KTAP_SH"; . "$GUEST/exec.sh"; exec 3>&1; KTAP_FD=3; '
             'sgr_exec "$1" "$2"; echo "status $?" >&2', 'dash', xid, path],
            env=dict(os.environ, KTAP_SH=os.path.join(TOOLS, 'ktap.sh'), GUEST=GUEST,
                     SGR_SH='dash'), capture_output=True, timeout=30)

    def test_the_frame_holds_the_output_and_the_status(self):
        p = self.sgr_exec('c0ffee', b'printf "<%s>" "a  b" \'c"d\'; echo; echo err >&2; exit 7')
        self.assertEqual(p.stdout, b'sgr-exec c0ffee begin\n<a  b><c"d>\nerr\n'
                         b'\nsgr-exec c0ffee exit 7\n')
        self.assertEqual(p.stderr, b'status 7\n')
        # Output without a last newline: the frame's own newline keeps the
        # last line apart.
        p = self.sgr_exec('c0ffee', b'printf x')
        self.assertEqual(p.stdout, b'sgr-exec c0ffee begin\nx\nsgr-exec c0ffee exit 0\n')
        # The command's stdin is /dev/null, not the console.
        p = self.sgr_exec('1', b'cat; echo done')
        self.assertEqual(p.stdout, b'sgr-exec 1 begin\ndone\n\nsgr-exec 1 exit 0\n')

    def test_a_missing_command_file_is_status_127(self):
        p = self.sgr_exec('abc', None)
        self.assertIn(b'no ', p.stdout)
        self.assertTrue(p.stdout.endswith(b'\nsgr-exec abc exit 127\n'), p.stdout)
        self.assertEqual(p.stderr, b'status 127\n')


class VmExec(ToolTest):
    """tools/vm --exec and --shell, run for real on a fake QEMU."""

    def setUp(self):
        super().setUp()
        self.kernel = os.path.join(self.tmp, 'bzImage')
        self.initrd = os.path.join(self.tmp, 'initramfs.cpio')
        open(self.kernel, 'w').close()
        with open(self.initrd, 'wb') as f:
            # An empty archive for the copy to keep, its end not on a
            # 512-byte boundary.
            f.write(b'070701' + b'%08X' * 13 % (0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 11, 0) +
                    b'TRAILER!!!\0' + b'\0' * 5)
        path = self.fake_bin('qemu-system-x86_64', '')
        with open(path, 'w') as f:
            f.write(FAKE_QEMU)
        self.out = os.path.join(self.tmp, 'run')

    def vm(self, *args, what='exec', stdin=None):
        env = self.tool_env(env={'FAKE_QEMU': what, 'FAKE_GUEST': GUEST,
                                 'FAKE_KTAP_SH': os.path.join(TOOLS, 'ktap.sh')})
        return subprocess.run([os.path.join(self.repo, 'tools', 'vm'), '--mode', 'vtd-strict',
                               '--kernel', self.kernel, '--initramfs', self.initrd,
                               '--out', self.out, *args], env=env, capture_output=True,
                              input=stdin if stdin is not None else b'', timeout=120)

    def test_output_and_status_come_back(self):
        cmd = 'set -- \'a  b\' "c\'d"; printf \'<%s>\' "$@"; echo; echo oops >&2; exit 7'
        p = self.vm('--exec', cmd)
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertEqual(p.stdout, b"<a  b><c'd>\noops\n")
        with open(os.path.join(self.out, 'exec-status')) as f:
            self.assertEqual(f.read(), '7\n')
        self.assertFalse(os.path.exists(os.path.join(self.out, 'expect.json')))
        self.assertFalse(os.path.exists(os.path.join(self.out, 'swap.img')))
        with open(os.path.join(self.out, 'console.log')) as f:
            self.assertIn('sgr.exec=', f.read())
        for cmd, out, rc in (('false', b'', 1), ('printf x', b'x', 0),
                             ('echo "$(( 6 * 7 ))"', b'42\n', 0)):
            with self.subTest(cmd=cmd):
                p = self.vm('--exec', cmd)
                self.assertEqual((p.returncode, p.stdout), (rc, out), p.stderr)

    def test_a_hung_guest_is_killed_at_the_timeout(self):
        t0 = time.monotonic()
        p = self.vm('--exec', 'sleep 1000', '--timeout', '3', what='hang')
        self.assertEqual(p.returncode, 124, p.stderr)
        self.assertIn(b'killed at its 3s timeout', p.stderr)
        self.assertLess(time.monotonic() - t0, 60)

    def test_a_guest_that_dies_before_the_status_says_so(self):
        p = self.vm('--exec', 'echo partial; exit 3', what='died')
        self.assertEqual(p.returncode, 125, p.stderr)
        self.assertEqual(p.stdout, b'partial\n')
        self.assertIn(b'no exit status (the command did not finish)', p.stderr)
        self.assertIn(b'fake boot', p.stderr)

    def test_piped_input_reaches_the_shell_after_its_prompt(self):
        p = self.vm('--shell', what='shell', stdin=b'echo hello-from-guest\nexit\n')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"after the prompt b'echo hello-from-guest\\nexit\\n\\x04'", p.stdout)
        self.assertIn(b'sgr-guest# ', p.stdout)
        with open(os.path.join(self.out, 'console.log')) as f:
            self.assertIn('sgr.shell=1', f.read())


if __name__ == '__main__':
    unittest.main()
