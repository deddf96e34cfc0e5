"""tools/robot: the kernel test robot's configurations (tests/robot-configs)
as tools/build runs them, and the W=1 filter that fails a build on a
warning in the series' files only (tools/lib.sh warnings_in)."""
import os
import subprocess

from helpers import TOOLS, ToolTest
from test_tools import commands


class Robot(ToolTest):
    def setUp(self):
        super().setUp()
        self.name = self.make_patch('hello: return two', 'return 1', 'return 2')
        self.write('series', f'{self.name}\n')

    def test_the_check_set_at_every_patch(self):
        p = self.run_tool('robot', '--set', 'check', '--each-patch', dry=True, ok=True)
        builds = [c for c in commands(p.stderr) if os.path.basename(c[0]) == 'build']
        self.assertEqual([b[b.index('--arch') + 1] for b in builds], ['i386', 'x86_64'])
        i386, noiommu = builds
        self.assertEqual(i386[i386.index('--config-base') + 1], 'tinyconfig')
        frags = [i386[i + 1] for i, w in enumerate(i386) if w == '--fragment']
        self.assertEqual([os.path.relpath(f, self.repo) for f in frags],
                         ['kernel-config', 'tests/kernel-config-i386'])
        self.assertIn('--each-patch', noiommu)
        self.assertTrue(noiommu[-1].endswith('/build/robot-no-iommu-dma'), noiommu[-1])
        # The files W=1 must keep clean: the series' own.
        self.assertIn('--warn-files', i386)

    def test_allmodconfig_builds_the_series_directories_only(self):
        p = self.run_tool('robot', '--config', 'allmodconfig', dry=True, ok=True)
        build = next(c for c in commands(p.stderr) if os.path.basename(c[0]) == 'build')
        self.assertEqual(build[build.index('--config-base') + 1], 'allmodconfig')
        # The robot's own allmodconfig: not kernel-config, only the fragment
        # that keeps -Werror from stopping at the base's W=1 warnings; the
        # series' options required on.
        frags = [build[i + 1] for i, w in enumerate(build) if w == '--fragment']
        self.assertEqual([os.path.relpath(f, self.repo) for f in frags],
                         ['tests/kernel-config-allmodconfig'])
        self.assertIn('--require', build)
        self.assertEqual(build[build.index('--targets') + 1].split(), ['./'])  # hello.c's

    def test_bad_input(self):
        p = self.run_tool('robot', '--config', 'sparc', dry=True, ok=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("no configuration 'sparc' in tests/robot-configs", p.stderr)
        p = self.run_tool('robot', '--set', 'nightly', dry=True, ok=False)
        self.assertIn("--set wants check or stress, not 'nightly'", p.stderr)
        p = self.run_tool('build', '--arch', 'sparc', dry=True, ok=False)
        self.assertIn('unknown --arch sparc', p.stderr)
        p = self.run_tool('build', '--config-base', 'defconfig', dry=True, ok=False)
        self.assertIn("--config-base wants tinyconfig or allmodconfig, not 'defconfig'", p.stderr)
        p = self.run_tool('build', '--warn-files', '/nonexistent', dry=True, ok=False)
        self.assertIn('--warn-files: no file /nonexistent', p.stderr)

    def test_warnings_in_the_series_files_only(self):
        listed = os.path.join(self.tmp, 'files')
        with open(listed, 'w') as f:
            f.write('lib/a.c\ninclude/linux/a.h\n')
        log = os.path.join(self.tmp, 'log')
        with open(log, 'w') as f:
            f.write(f'{self.tree}/lib/a.c:1:2: warning: absolute, as kbuild prints with O=\n'
                    'lib/b.c:3:4: warning: not the series\' file\n'
                    './lib/a.c:5:6: error: relative\n'
                    'lib/a.c: In function \'f\':\n'
                    f'{self.tree}/include/linux/a.h:7:8: warning: a header of the series\n'
                    'lib/a.c.orig:9:9: warning: another file\n')
        out = subprocess.run(['bash', '-c', '. "$1/lib.sh"; warnings_in "$2" "$3" "$4"', 'sh',
                              TOOLS, self.tree, listed, log], capture_output=True, text=True,
                             env=self.tool_env(), check=True).stdout
        self.assertEqual(out.splitlines(), [
            'lib/a.c:1:2: warning: absolute, as kbuild prints with O=',
            'lib/a.c:5:6: error: relative',
            'include/linux/a.h:7:8: warning: a header of the series'])
