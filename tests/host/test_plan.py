"""Host tests of the plans of make check and make demo: under DRY_RUN=1
every command of every stage goes through the runner and is printed, in
order, and nothing is built or booted; and of the matrix module that every
tool asks (tools/modes.py)."""
import os
import re
import subprocess
import sys
import time
import unittest

from helpers import REPO, TOOLS, ToolTest
from test_tools import commands

sys.path.insert(0, TOOLS)
import modes  # noqa: E402  pylint: disable=wrong-import-position


def pin(name):
    """The value of NAME in tools/pin.sh."""
    return subprocess.run(['bash', '-c', f'. "$1/pin.sh"; echo "${name}"', 'sh', TOOLS],
                          check=True, capture_output=True, text=True).stdout.strip()


def tool_of(cmd):
    """The program a printed command runs, without its directory."""
    return os.path.basename(cmd[0]) if cmd[0] != 'python3' else os.path.basename(cmd[1])


class Plans(ToolTest):
    def setUp(self):
        super().setUp()
        name = self.make_patch('hello: return two', 'return 1', 'return 2')
        self.write('series', f'# banner\n{name}\n')

    def dry(self, tool, *args):
        t0 = time.time()
        p = self.run_tool(tool, *args, '--run', os.path.join(self.tmp, 'run'), dry=True, ok=True)
        self.assertLess(time.time() - t0, 60, 'a dry run must take seconds')
        return commands(p.stderr), p

    def test_check_prints_every_stage_in_order(self):
        cmds, p = self.dry('check')
        tools = [tool_of(c) for c in cmds]
        # The stages, in order.
        order = ['deps', 'base-tree', 'run.py', 'apply', 'checkpatch.pl', 'mails', 'build',
                 'shellcheck', 'build', 'kernel-doc', 'make', 'make', 'build', 'build', 'make',
                 'initramfs', 'initramfs', 'vm', 'results.py']
        pos = 0
        for want in order:
            self.assertIn(want, tools[pos:], f'{want} after {tools[:pos]}')
            pos = tools.index(want, pos) + 1
        # The head is built in full (the boots' kernel); then every patch
        # compiles the series' C files that the head's configuration
        # built, with W=1, in a directory of its own; the options-off
        # configuration compiles there the files its options do not gate.
        builds = [c for c in cmds if tool_of(c) == 'build']
        head, each, off = builds[0], builds[1], builds[2]
        self.assertNotIn('--each-patch', head)
        self.assertNotIn('--scope', head)
        self.assertIn('--each-patch', each)
        self.assertEqual(each[each.index('--scope') + 1], os.path.join(self.tmp, 'run', 'series-c'))
        head_out = next(a for a in head if a.startswith('O='))[2:]
        self.assertEqual(each[each.index('--built-in') + 1], head_out)
        self.assertIn('--warn-files', each)
        each_out = next(a for a in each if a.startswith('O='))
        self.assertIn('tests/kernel-config-off', ' '.join(off))
        self.assertEqual(off[off.index('--scope') + 1],
                         os.path.join(self.tmp, 'run', 'series-c-modified'))
        self.assertIn(each_out, off)
        self.assertNotIn('--each-patch', off)
        self.assertLess(cmds.index(off), cmds.index(builds[3]), 'the arm64 build comes after')
        self.assertIn('--arch', builds[3])
        self.assertEqual(len(builds), 4)
        self.assertEqual(tools[-1], 'results.py')
        run_py = cmds[tools.index('run.py')]
        self.assertIn('--strict', run_py)
        # The pinned sparse (tools/pin.sh) is built from its Debian source
        # package before its first use, then kbuild runs it (CHECK=).
        src = next(c for c in cmds if tool_of(c) == 'apt-get' and 'source' in c)
        self.assertEqual(src[src.index('source'):], ['source', '--download-only',
                                                     'sparse=' + pin('SGR_SPARSE_VERSION')])
        self.assertLess(cmds.index(src), tools.index('dpkg-source'))
        makes = [c for c in cmds if tool_of(c) == 'make']
        self.assertEqual(makes[0][-1], 'sparse')
        self.assertLess(tools.index('dpkg-source'), cmds.index(makes[0]))
        sparse = os.path.join(self.cache, 'sparse',
                              pin('SGR_SPARSE_VERSION').replace('~', '_'), 'sparse')
        makes = makes[1:]
        self.assertIn('C=2', makes[0])
        self.assertIn(f'CHECK={sparse}', makes[0])
        self.assertFalse(os.path.exists(sparse))
        # W=1 on x86 is the compile at every patch's; the arm64 build's
        # is on the touched files.
        self.assertIn('W=1', makes[1])
        self.assertIn('ARCH=arm64', makes[1])
        self.assertIn('--tree', run_py)
        # The mails are b4's (tools/mails: b4 send -o from the b4 prep
        # branch), with b4 prep --check's report for the gates table.
        mails = cmds[tools.index('mails')]
        self.assertEqual(mails[mails.index('--out') + 1], os.path.join(self.tmp, 'run', 'mails'))
        self.assertIn('--check', mails)
        self.assertEqual(mails[mails.index('--report') + 1],
                         os.path.join(self.tmp, 'run', 'b4-check.tsv'))
        # One boot per mode of the check set, traced where the matrix says
        # (the options-off kernel is built and booted by make stress only).
        boots = [c for c in cmds if tool_of(c) == 'vm']
        check_modes = modes.names(modes.load(), ['check'])
        self.assertEqual([c[c.index('--mode') + 1] for c in boots], check_modes)
        for c in boots:
            m = c[c.index('--mode') + 1]
            traced = 'trace' in modes.load()[m].sets
            self.assertEqual(c[c.index('--trace') + 1], 'auto' if traced else 'none', m)
            self.assertEqual('iotlb' in c[c.index('--tests') + 1], traced, m)
        # The arm64 rows boot the arm64 test kernel of the cross stage with
        # the arm64 initramfs; the others the x86 one.
        for c in boots:
            m = modes.load()[c[c.index('--mode') + 1]]
            kernel, initrd = c[c.index('--kernel') + 1], c[c.index('--initramfs') + 1]
            arm = m.arch == 'arm64'
            self.assertEqual(kernel.endswith('arm64-test/arch/arm64/boot/Image'), arm, kernel)
            self.assertEqual(initrd.endswith('initramfs-arm64.cpio'), arm, initrd)
        self.assertIn('smmuv3-strict', check_modes)
        # The robot's configurations are make stress's, not make check's.
        self.assertFalse([c for c in cmds if tool_of(c) == 'robot'])
        # Nothing was built or booted: no kernel image, no QEMU.
        self.assertNotIn('qemu-system-x86_64', ' '.join(' '.join(c) for c in cmds))
        self.assertFalse(os.path.exists(os.path.join(self.cache, 'build')))

    def test_stress_builds_and_boots_what_check_only_compiles(self):
        cmds, _ = self.dry('check', '--stress')
        tools = [tool_of(c) for c in cmds]
        builds = [c for c in cmds if tool_of(c) == 'build']
        self.assertFalse([c for c in builds if '--scope' in c or '--each-patch' in c])
        off = [c for c in builds if 'tests/kernel-config-off' in ' '.join(c)]
        self.assertEqual(len(off), 1)
        boots = [c for c in cmds if tool_of(c) == 'vm']
        self.assertIn('vtd-strict-option-off', boots[-1])
        self.assertEqual(len(boots), len(modes.names(modes.load(), ['check'])) + 1)
        robots = [c for c in cmds if tool_of(c) == 'robot']
        self.assertEqual(len(robots), 1)
        self.assertIn('--each-patch', robots[0])
        self.assertNotIn('--set', robots[0])
        self.assertLess(tools.index('vm'), tools.index('robot'))

    def test_check_modes_option_and_unknown_mode(self):
        cmds, _ = self.dry('check', '--modes', 'noiommu')
        boots = [c for c in cmds if tool_of(c) == 'vm']
        self.assertEqual([c[c.index('--mode') + 1] for c in boots], ['noiommu'])
        p = self.run_tool('check', '--modes', 'nope', dry=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown mode 'nope'", p.stderr)

    def test_demo_of_arm64_modes_only(self):
        cmds, _ = self.dry('demo', '--modes', 'smmuv3-strict,arm64-noiommu')
        builds = [c for c in cmds if tool_of(c) == 'build']
        self.assertEqual(len(builds), 1)
        self.assertIn('arm64', builds[0])
        self.assertEqual([c for c in cmds if tool_of(c) == 'initramfs' and '--arch' not in c], [])
        boots = [c for c in cmds if tool_of(c) == 'vm']
        self.assertEqual([c[c.index('--mode') + 1] for c in boots],
                         ['smmuv3-strict', 'smmuv3-strict', 'arm64-noiommu', 'arm64-noiommu'])
        self.assertFalse([c for c in boots if '--gdb-run' in c])
        self.assertFalse([c for c in boots if 'tsc=reliable' in ' '.join(c)])
        p = self.run_tool('demo', '--modes', 'smmuv3-strict', '--steps', 'smmuv3-strict', dry=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn('x86_64 registers', p.stderr)

    def test_demo_prints_every_stage(self):
        cmds, _ = self.dry('demo')
        tools = [tool_of(c) for c in cmds]
        # The x86 benchmark kernel, then (the demo set has arm64 modes) the
        # arm64 one, then an initramfs for each.
        self.assertEqual(tools[:7], ['deps', 'base-tree', 'apply', 'build', 'build',
                                     'initramfs', 'initramfs'])
        arm = cmds[4]
        self.assertIn('--arch', arm)
        self.assertEqual(arm[arm.index('--arch') + 1], 'arm64')
        self.assertIn('tests/kernel-config-arm64', ' '.join(arm))
        self.assertIn('arm64', cmds[6])
        self.assertEqual(tools[-1], 'report.py')
        boots = [c for c in cmds if tool_of(c) == 'vm']
        demo = modes.names(modes.load(), ['demo'])
        # Each mode timed, then counted (one vCPU under -icount); then the
        # first strict mode and the floor single-stepped.
        timed = [c for c in boots if '--icount' not in c]
        counted = [c for c in boots if '--icount' in c and '--gdb-run' not in c]
        stepped = [c for c in boots if '--gdb-run' in c]
        self.assertEqual([c[c.index('--mode') + 1] for c in timed], demo)
        self.assertEqual([c[c.index('--mode') + 1] for c in counted], demo)
        self.assertEqual([c[c.index('--mode') + 1] for c in stepped], ['vtd-strict', 'noiommu'])
        self.assertEqual(len(boots), 2 * len(demo) + 2)
        for c in counted + stepped:
            self.assertIn('/icount/' if c in counted else '/steps/', c[c.index('--out') + 1])
        for c in timed + counted:
            m = modes.load()[c[c.index('--mode') + 1]]
            kernel, initrd = c[c.index('--kernel') + 1], c[c.index('--initramfs') + 1]
            if m.arch == 'arm64':
                self.assertTrue(kernel.endswith('arm64-bench/arch/arm64/boot/Image'), kernel)
                self.assertTrue(initrd.endswith('initramfs-arm64.cpio'), initrd)
            else:
                self.assertTrue(kernel.endswith('x86_64-bench/arch/x86/boot/bzImage'), kernel)
                self.assertTrue(initrd.endswith('/initramfs.cpio'), initrd)
        for c in stepped:
            self.assertIn('steps.py', c[c.index('--gdb-run') + 1])
            self.assertIn('proof,steps', c[c.index('--tests') + 1])
        self.assertIn('tests/kernel-config-bench', ' '.join(cmds[tools.index('build')]))


class Matrix(unittest.TestCase):
    def table(self, text):
        import tempfile  # pylint: disable=import-outside-toplevel
        with tempfile.NamedTemporaryFile('w', delete=False) as f:
            f.write(text)
        self.addCleanup(os.remove, f.name)
        return f.name

    ROW = 'm1 | x86_64 | check,trace | intel-iommu | - | DMA | x\n@intel-iommu | vtd_inv_desc_iotlb_*\n'

    def test_the_project_table_loads(self):
        m = modes.load()
        self.assertEqual(modes.floor_mode(m), 'noiommu')
        self.assertTrue(m['vtd-strict'].traced and m['vtd-strict'].strict)
        self.assertTrue(m['vtd-lazy'].translates and not m['vtd-lazy'].strict)
        self.assertFalse(m['passthrough'].translates)
        self.assertIn('vtd_inv_desc_iotlb_*', m['vtd-strict'].trace_events)
        # The arm64 rows: the SMMUv3 as the virt machine's option, its own floor.
        self.assertEqual(m['smmuv3-strict'].arch, 'arm64')
        self.assertEqual(m['smmuv3-strict'].device, 'smmuv3')
        self.assertTrue(m['smmuv3-strict'].traced and 'check' in m['smmuv3-strict'].sets)
        self.assertIn('smmuv3_s1_range_inval', m['smmuv3-strict'].trace_events)
        self.assertEqual(modes.floor_mode(m, 'arm64'), 'arm64-noiommu')
        self.assertEqual({x.arch for x in m.values() if 'intel' in (x.qemu or '')}, {'x86_64'})

    def test_bad_tables_are_refused(self):
        bad = {
            'm1 | x86_64 | check | - | - | DMA\n': '7 non-empty fields',
            'm1 | x86_64 | chek | - | - | DMA | x\n': 'unknown set',
            'm1 | x86_64 | check | - | - | DMAFQ | x\n': 'unknown type',
            'm1 | x86_64 | check | - | - | DMA | (\n': 'bad proof regex',
            'm1 | x86_64 | check | - | - | DMA | x\nm1 | x86_64 | demo | - | - | DMA | x\n':
                'listed twice',
            'm1 | x86_64 | check,trace | virtio-iommu-pci | - | DMA | x\n':
                'no @virtio-iommu-pci events',
            'm1 | x86_64 | check,trace | intel-iommu | - | DMA-FQ | x\n@intel-iommu | e\n':
                'not strict',
            'm1 | riscv | check | - | - | none | x\n': 'unknown arch',
            'm1 | arm64 | check | smmuv3 | - | DMA | x\n': 'virt machine option',
            'm1 | arm64 | floor | - | - | none | x\nm2 | arm64 | floor | - | - | none | x\n':
                'more than one arm64 floor',
        }
        for text, why in bad.items():
            with self.subTest(why=why):
                with self.assertRaises(modes.TableError) as cm:
                    modes.load(self.table(text))
                self.assertIn(why, str(cm.exception))

    def test_command_line(self):
        t = self.table(self.ROW)
        run = lambda *a: subprocess.run([os.path.join(TOOLS, 'modes.py'), '--table', t, *a],
                                        capture_output=True, text=True)
        self.assertEqual(run('list', '--set', 'trace').stdout, 'm1\n')
        self.assertEqual(run('get', 'm1', 'strict').stdout, '1\n')
        self.assertEqual(run('has', 'm1', 'demo').returncode, 1)
        self.assertEqual(run('get', 'm1', 'arch').stdout, 'x86_64\n')
        p = run('get', 'nope', 'type')
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown mode 'nope'", p.stderr)
        self.assertIn("MODE_TRACE_EVENTS='vtd_inv_desc_iotlb_* pci_cfg_write'",
                      run('shell', 'm1').stdout)

    def test_guest_file_is_posix_sh_and_answers(self):
        text = subprocess.run([os.path.join(TOOLS, 'modes.py'), 'guest'], capture_output=True,
                              text=True, check=True).stdout
        for m in modes.load().values():
            p = subprocess.run(['sh', '-c', f'{text}\nmode_vars "$1" && echo "$MODE_TYPE '
                                '$MODE_TRANSLATES $MODE_STRICT $MODE_PROOF"', 'sh', m.name],
                               capture_output=True, text=True)
            self.assertEqual(p.stdout.strip(),
                             f'{m.type} {int(m.translates)} {int(m.strict)} {m.proof}')
        p = subprocess.run(['sh', '-c', f'{text}\nmode_vars nope'], capture_output=True)
        self.assertEqual(p.returncode, 1)

    def test_no_other_file_reads_the_table(self):
        """Only tools/modes.py opens tests/iommu-modes: no other file builds
        a path to it (the others may name it in help and comments)."""
        path_to_table = re.compile(r"""(\$\{?\w+\}?/(tests/)?iommu-modes|['"]iommu-modes['"]"""
                                   r"""|/etc/iommu-modes|MODES_FILE)""")
        readers = []
        for root in (os.path.join(REPO, 'tools'), os.path.join(REPO, 'tests', 'guest')):
            for dirpath, _, files in os.walk(root):
                for f in files:
                    p = os.path.join(dirpath, f)
                    if p == os.path.join(REPO, 'tools', 'modes.py'):
                        continue
                    with open(p, errors='replace') as fh:
                        for n, line in enumerate(fh, 1):
                            if path_to_table.search(line):
                                readers.append(f'{os.path.relpath(p, REPO)}:{n}')
        self.assertEqual(readers, [])


if __name__ == '__main__':
    unittest.main()
