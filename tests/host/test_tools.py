"""Host tests of the bash tools: dry-run command lines, series consistency,
application and its failures, usage errors."""
import os
import shlex
import subprocess
import unittest

from helpers import REPO, TOOLS, ToolTest, git


def commands(out):
    """The '+ cmd' lines of a dry run, split into words."""
    return [shlex.split(l[2:]) for l in out.splitlines() if l.startswith('+ ')]


class SeriesConsistency(ToolTest):
    def test_missing_patch_is_refused(self):
        self.write('series', '0001-gone.patch\n')
        p = self.run_tool('apply', '--check', ok=False)
        self.assertIn('series lists 0001-gone.patch, which is not in patches/', p.stderr)

    def test_unlisted_patch_is_refused(self):
        self.make_patch('hello: return two', 'return 1', 'return 2')
        p = self.run_tool('apply', '--check', ok=False)
        self.assertIn('is not listed in series', p.stderr)

    def test_duplicate_entry_is_refused(self):
        name = self.make_patch('hello: return two', 'return 1', 'return 2')
        self.write('series', f'{name}\n{name}\n')
        p = self.run_tool('apply', '--check', ok=False)
        self.assertIn('series lists a patch twice', p.stderr)

    def test_comments_and_blank_lines_are_not_patches(self):
        name = self.make_patch('hello: return two', 'return 1', 'return 2')
        self.write('series', f'# banner\n\n{name}  # trailing comment\n')
        self.run_tool('apply', '--check', ok=True)


class Apply(ToolTest):
    def test_check_applies_in_a_throwaway_worktree(self):
        name = self.make_patch('hello: return two', 'return 1', 'return 2')
        self.write('series', name + '\n')
        p = self.run_tool('apply', '--check', ok=True)
        self.assertIn('applies cleanly', p.stderr)
        # The user's tree and its worktree list are untouched.
        self.assertEqual(git(self.tree, 'status', '--porcelain'), '')
        self.assertEqual(len(git(self.tree, 'worktree', 'list').splitlines()), 1)

    def test_apply_makes_a_worktree_with_the_commits(self):
        name = self.make_patch('hello: return two', 'return 1', 'return 2')
        self.write('series', name + '\n')
        dest = os.path.join(self.tmp, 'applied')
        p = self.run_tool('apply', '--dest', dest, ok=True)
        self.assertEqual(p.stdout.strip(), dest)
        self.assertIn('hello: return two', git(dest, 'log', '-1', '--format=%s'))
        # Applying again resets the worktree first: still one commit on top.
        self.run_tool('apply', '--dest', dest, ok=True)
        self.assertEqual(git(dest, 'rev-list', '--count', 'main..HEAD').strip(), '1')

    def test_patch_that_does_not_apply_fails_clearly(self):
        name = self.make_patch('hello: return two', 'return 1', 'return 2')
        self.write('series', name + '\n')
        # Move the base under the patch: its context no longer matches.
        with open(os.path.join(self.tree, 'hello.c'), 'w') as f:
            f.write('int hello(void)\n{\n\treturn 3;\n}\n')
        git(self.tree, 'commit', '-q', '-a', '-m', 'move base')
        p = self.run_tool('apply', '--check', ok=False)
        self.assertIn(f'patch 1/1 {name} does not apply', p.stderr)
        self.assertEqual(len(git(self.tree, 'worktree', 'list').splitlines()), 1)

    def test_dirty_tree_is_refused(self):
        with open(os.path.join(self.tree, 'hello.c'), 'a') as f:
            f.write('/* local change */\n')
        p = self.run_tool('apply', '--check', ok=False)
        self.assertIn('has uncommitted changes', p.stderr)

    def test_missing_tree_is_refused(self):
        p = self.run_tool('apply', '--check', env={'KSRC': os.path.join(self.tmp, 'nope')}, ok=False)
        self.assertIn('does not exist', p.stderr)

    def test_non_git_tree_is_refused(self):
        plain = os.path.join(self.tmp, 'plain')
        os.makedirs(os.path.join(plain, 'scripts', 'kconfig'))
        open(os.path.join(plain, 'Makefile'), 'w').close()
        open(os.path.join(plain, 'scripts', 'kconfig', 'merge_config.sh'), 'w').close()
        p = self.run_tool('apply', '--check', env={'KSRC': plain}, ok=False)
        self.assertIn('is not the top of a git work tree', p.stderr)

    def test_dry_run_prints_git_am_per_patch(self):
        a = self.make_patch('hello: return two', 'return 1', 'return 2', '0001-a.patch')
        self.write('series', a + '\n')
        p = self.run_tool('apply', '--check', dry=True, ok=True)
        cmds = commands(p.stderr)
        am = [c for c in cmds if 'am' in c]
        self.assertEqual(len(am), 1)
        self.assertIn('--no-3way', am[0])
        self.assertEqual(am[0][-1], os.path.join(self.repo, 'patches', a))


class Export(ToolTest):
    def test_export_writes_numbered_mboxes_and_keeps_banners(self):
        self.write('series', '# header\n\n# group one\n0001-hello-return-two.patch\n'
                   '\n# group two\n0002-hello-return-three.patch\n# end\n')
        git(self.tree, 'checkout', '-q', '-b', 'dev')
        for new in ('2', '3'):
            path = os.path.join(self.tree, 'hello.c')
            text = open(path).read()
            open(path, 'w').write(text.replace('return ' + str(int(new) - 1), 'return ' + new))
            git(self.tree, 'commit', '-q', '-a', '-m',
                'hello: return ' + {'2': 'two', '3': 'three'}[new])
        git(self.tree, 'checkout', '-q', 'main')
        self.run_tool('export', '--tree', self.tree, '--base', 'base', '--branch', 'dev', ok=True)
        files = sorted(os.listdir(os.path.join(self.repo, 'patches')))
        self.assertEqual(files, ['0001-hello-return-two.patch', '0002-hello-return-three.patch'])
        first = open(os.path.join(self.repo, 'patches', files[0])).read()
        self.assertTrue(first.startswith('From '))
        self.assertIn('Subject: [PATCH 1/2] hello: return two', first)
        series = open(os.path.join(self.repo, 'series')).read()
        self.assertEqual(series, '# header\n\n# group one\n0001-hello-return-two.patch\n'
                         '\n# group two\n0002-hello-return-three.patch\n# end\n')
        # What was exported applies back onto the base.
        self.run_tool('apply', '--check', ok=True)


class Build(ToolTest):
    def test_dry_run_configures_from_tinyconfig_and_the_fragment(self):
        out = os.path.join(self.tmp, 'kbuild')
        p = self.run_tool('build', '--tree', self.tree, f'O={out}', dry=True, ok=True)
        cmds = commands(p.stderr)
        makes = [c for c in cmds if c[0] == 'make']
        self.assertIn('tinyconfig', makes[0])
        self.assertIn(f'O={out}', makes[0])
        merge = [c for c in cmds if c[-1].endswith('kernel-config')]
        self.assertEqual(len(merge), 1)
        self.assertTrue(merge[0][2].endswith('scripts/kconfig/merge_config.sh'))
        self.assertIn('olddefconfig', makes[1])
        self.assertIn('bzImage', makes[2])
        self.assertTrue(any(a == 'CC=ccache gcc' for a in makes[2]))

    def test_fragments_merge_in_order(self):
        off = self.write('off.config', '# CONFIG_DMA_REUSE_CACHE is not set\n')
        p = self.run_tool('build', '--tree', self.tree, '--fragment',
                          os.path.join(self.repo, 'kernel-config'), '--fragment', off,
                          dry=True, ok=True)
        merge = [c for c in commands(p.stderr) if any('merge_config.sh' in w for w in c)]
        self.assertEqual(merge[0][-2:], [os.path.join(self.repo, 'kernel-config'), off])

    def test_arm64_cross_build_uses_the_cross_compiler(self):
        p = self.run_tool('build', '--tree', self.tree, '--arch', 'arm64', dry=True, ok=True)
        makes = [c for c in commands(p.stderr) if c[0] == 'make']
        self.assertIn('ARCH=arm64', makes[-1])
        self.assertIn('CROSS_COMPILE=aarch64-linux-gnu-', makes[-1])
        self.assertIn('Image', makes[-1])

    def test_missing_fragment_is_an_error(self):
        p = self.run_tool('build', '--tree', self.tree, '--fragment', '/nonexistent', ok=False)
        self.assertIn('does not exist', p.stderr)

    def test_unknown_argument_is_a_usage_error(self):
        p = self.run_tool('build', '--frobnicate')
        self.assertEqual(p.returncode, 2)


class Vm(ToolTest):
    def setUp(self):
        super().setUp()
        self.kernel = os.path.join(self.tmp, 'bzImage')
        self.initrd = os.path.join(self.tmp, 'initramfs.cpio')
        open(self.kernel, 'w').close()
        open(self.initrd, 'w').close()

    def qemu(self, mode, *extra):
        p = self.run_tool('vm', '--mode', mode, '--kernel', self.kernel, '--initramfs',
                          self.initrd, '--out', os.path.join(self.tmp, 'run'), *extra,
                          dry=True, ok=True)
        cmd = [c for c in commands(p.stderr) if 'qemu-system-x86_64' in c]
        self.assertEqual(len(cmd), 1, p.stdout + p.stderr)
        return cmd[0], p

    def append_of(self, cmd):
        return cmd[cmd.index('-append') + 1].split()

    def test_every_mode_of_the_table_boots_with_its_device_and_cmdline(self):
        expect = {
            'vtd-lazy': ('intel-iommu,intremap=off', ['intel_iommu=on', 'iommu.strict=0']),
            'vtd-strict': ('intel-iommu,intremap=off', ['intel_iommu=on', 'iommu.strict=1']),
            'vtd-strict-cm': ('intel-iommu,intremap=off,caching-mode=on', ['iommu.strict=1']),
            'virtio-iommu': ('virtio-iommu-pci', ['iommu.strict=1']),
            'passthrough': ('intel-iommu,intremap=off', ['iommu=pt']),
            'noiommu': (None, []),
            'swiotlb': (None, ['swiotlb=force']),
        }
        for mode, (dev, args) in expect.items():
            with self.subTest(mode=mode):
                cmd, _ = self.qemu(mode)
                devices = [cmd[i + 1] for i, a in enumerate(cmd) if a == '-device']
                if dev:
                    # The IOMMU comes first, before the devices it translates.
                    self.assertEqual(devices[0], dev)
                else:
                    self.assertFalse([d for d in devices if 'iommu' in d and 'iommu_platform' not in d])
                self.assertIn('edu,addr=10.0', devices)
                self.assertIn('pci-testdev,addr=11.0', devices)
                self.assertTrue(any('iommu_platform=on' in d for d in devices))
                append = self.append_of(cmd)
                for a in args:
                    self.assertIn(a, append)
                self.assertIn(f'sgr.mode={mode}', append)
                self.assertIn('console=ttyS0', append)
                self.assertEqual(cmd[:2], ['timeout', '-k'])
                self.assertIn('accel=tcg', ' '.join(cmd))
                self.assertIn('-no-reboot', cmd)

    def test_check_set_is_the_issue_matrix(self):
        p = self.run_tool('vm', '--list', 'check', ok=True)
        self.assertEqual(p.stdout.split(), ['vtd-lazy', 'vtd-strict', 'vtd-strict-cm',
                                            'virtio-iommu', 'passthrough', 'noiommu', 'swiotlb'])

    def test_timeout_and_tests_reach_the_command_line(self):
        cmd, _ = self.qemu('noiommu', '--timeout', '42', '--tests', 'proof,dmesg')
        self.assertEqual(cmd[:4], ['timeout', '-k', '10', '42'])
        self.assertIn('sgr.tests=proof,dmesg', self.append_of(cmd))

    def test_kunit_rerun_suites_reach_the_command_line(self):
        self.write('tests/kunit-rerun', '# comment\nfoo_suite\n\nbar_suite  # why\n')
        cmd, _ = self.qemu('virtio-iommu')
        self.assertIn('sgr.kunit_rerun=foo_suite,bar_suite', self.append_of(cmd))
        self.write('tests/kunit-rerun', '# none\n')
        cmd, _ = self.qemu('virtio-iommu')
        self.assertFalse([a for a in self.append_of(cmd) if a.startswith('sgr.kunit_rerun')])

    def test_unknown_mode_is_a_usage_error(self):
        p = self.run_tool('vm', '--mode', 'bogus', '--kernel', self.kernel)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown mode 'bogus'", p.stderr)

    def test_bad_timeout_is_a_usage_error(self):
        p = self.run_tool('vm', '--mode', 'noiommu', '--timeout', 'soon')
        self.assertEqual(p.returncode, 2)

    def test_missing_kernel_is_an_error(self):
        p = self.run_tool('vm', '--mode', 'noiommu', '--kernel', '/nonexistent', ok=False)
        self.assertIn('no kernel image', p.stderr)

    def test_kvm_probe_falls_back_to_tcg(self):
        # A probe that cannot reach userspace (no usable /dev/kvm, or the
        # empty kernel image here) must fall back to TCG and say so.
        _, p = self.qemu('noiommu', '--accel', 'auto')
        self.assertIn('using tcg', p.stderr)
        self.assertIn('accel tcg', p.stderr)


class GuestScripts(unittest.TestCase):
    def test_init_is_valid_sh(self):
        subprocess.run(['sh', '-n', os.path.join(REPO, 'tests', 'guest', 'init')], check=True)

    def test_tools_are_valid_bash(self):
        for t in ('apply', 'base-tree', 'build', 'check', 'deps', 'export',
                  'initramfs', 'vm', 'demo', 'lib.sh', 'pin.sh'):
            with self.subTest(tool=t):
                subprocess.run(['bash', '-n', os.path.join(TOOLS, t)], check=True)


if __name__ == '__main__':
    unittest.main()
