"""Host tests of the bash tools: dry-run command lines, series consistency,
application and its failures, usage errors."""
import hashlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
import unittest

from helpers import GIT_ENV, REPO, TOOLS, ToolTest, git, PIN_REVISION


def commands(out):
    """The '+ cmd' lines of a dry run, split into words."""
    return [shlex.split(l[2:]) for l in out.splitlines() if l.startswith('+ ')]


def ktap_results(test, path):
    """The result lines of the KTAP document PATH, once it is checked to be
    complete: "KTAP version 1", a plan that matches the number of results,
    the results numbered from 1."""
    with open(path) as f:
        lines = f.read().splitlines()
    test.assertGreaterEqual(len(lines), 2, lines)
    test.assertEqual(lines[0], 'KTAP version 1', lines)
    test.assertRegex(lines[1], r'^1\.\.[0-9]+$', lines)
    results = [l for l in lines[2:] if re.match(r'(ok|not ok) [0-9]+ ', l)]
    test.assertEqual(int(lines[1][3:]), len(results), lines)
    test.assertEqual([int(re.match(r'(?:not )?ok ([0-9]+) ', l).group(1)) for l in results],
                     list(range(1, len(results) + 1)), lines)
    return results


def default_stack():
    """tools/pin.sh's SGR_STACK_DEFAULT."""
    with open(os.path.join(REPO, 'tools', 'pin.sh')) as f:
        return re.search(r'^SGR_STACK_DEFAULT=(\S+)', f.read(), re.M).group(1)


def applied_dir(cache, tree):
    """tools/lib.sh's APPLIED_DIR for KSRC=tree (the default stack)."""
    real = os.path.realpath(tree)
    return os.path.join(cache, default_stack(), 'applied-%s-%s' % (
        os.path.basename(real), hashlib.sha1(real.encode()).hexdigest()[:8]))


def common_dir(tree):
    """The real path of the repository that the work tree TREE belongs to."""
    return os.path.realpath(os.path.join(
        tree, git(tree, 'rev-parse', '--git-common-dir').strip()))


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


class Stacks(ToolTest):
    """Every tool takes the stack by name (tools/pin.sh): --stack or STACK."""

    def lib(self, *args, env=None):
        script = ('. "$1/lib.sh"; echo "$STACK|$BASE_PKG|$BASE_VERSION|$BASE_SUITE|'
                  '$STACK_PATCHES|$STACK_SERIES|$SGR_WORK"')
        return subprocess.run(['bash', '-c', script, 'sh', TOOLS, *args],
                              env=self.tool_env(env=env, unset=() if env else ('STACK',)),
                              capture_output=True, text=True)

    def test_default_and_backport_stacks(self):
        p = self.lib()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), '|'.join([
            '7.3', 'linux-source-7.3', '7.3.4-1~bpo13+1', 'trixie-backports',
            os.path.join(REPO, 'patches'), os.path.join(REPO, 'series'),
            os.path.join(self.cache, '7.3')]))
        for args, env in ((('--stack', '6.12'), None), (('--stack=6.12',), None),
                          ((), {'STACK': '6.12'})):
            with self.subTest(args=args, env=env):
                p = self.lib(*args, env=env)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout.strip(), '|'.join([
                    '6.12', 'linux-source-6.12', '6.12.117-1~deb12u1', 'bookworm-security',
                    os.path.join(REPO, 'patches', 'stable-6.12'),
                    os.path.join(REPO, 'patches', 'stable-6.12', 'series'),
                    os.path.join(self.cache, '6.12')]))

    def test_unknown_stack_is_a_usage_error(self):
        for tool in ('apply', 'export', 'base-tree', 'check', 'build'):
            with self.subTest(tool=tool):
                p = self.run_tool(tool, '--stack', '5.10', dry=True)
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertIn('unknown stack "5.10" (tools/pin.sh has: 7.3 6.12', p.stderr)
        p = self.run_tool('apply', '--stack', dry=True)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn('--stack needs a name', p.stderr)

    def test_backport_stack_has_its_own_series(self):
        os.makedirs(os.path.join(self.repo, 'patches', 'stable-6.12'))
        self.write('patches/stable-6.12/series', '0001-gone.patch\n')
        p = self.run_tool('apply', '--check', '--stack', '6.12', ok=False)
        self.assertIn('patches/stable-6.12/series lists 0001-gone.patch, '
                      'which is not in patches/stable-6.12/', p.stderr)
        name = self.make_patch('hello: return two', 'return 1', 'return 2')
        os.rename(os.path.join(self.repo, 'patches', name),
                  os.path.join(self.repo, 'patches', 'stable-6.12', name))
        self.write('patches/stable-6.12/series', f'# 6.12\n{name}\n')
        self.run_tool('apply', '--check', '--stack', '6.12', ok=True)
        # The default stack's series is still the top-level one (empty).
        self.run_tool('apply', '--check', ok=True)

    def test_the_repository_stacks_agree_with_their_series(self):
        for stack in ('7.3', '6.12'):
            with self.subTest(stack=stack):
                p = subprocess.run(['bash', '-c', '. "$1/lib.sh"; check_series', 'sh', TOOLS,
                                    '--stack', stack], capture_output=True, text=True,
                                   env=dict(os.environ, SGR_CACHE=self.cache))
                self.assertEqual(p.returncode, 0, p.stderr)


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


class ApplyPerTree(ToolTest):
    """One cache, several trees: each tree gets its own applied worktree."""

    def setUp(self):
        super().setUp()
        self.patch = self.make_patch('hello: return two', 'return 1', 'return 2')
        self.write('series', self.patch + '\n')
        # A second repository, with the same file but other commits.
        self.tree_b = os.path.join(self.tmp, 'linux-b')
        self.make_tree(self.tree_b)
        with open(os.path.join(self.tree_b, 'README'), 'w') as f:
            f.write('tree b\n')
        git(self.tree_b, 'add', 'README')
        git(self.tree_b, 'commit', '-q', '-m', 'b: readme')

    def test_applied_dir_is_per_tree(self):
        script = '. "$1/lib.sh"; echo "$APPLIED_DIR"'
        for ksrc, want in ((None, os.path.join(self.cache, default_stack(), 'applied')),
                           (self.tree, applied_dir(self.cache, self.tree)),
                           (self.tree_b, applied_dir(self.cache, self.tree_b))):
            with self.subTest(ksrc=ksrc):
                env = self.tool_env(env={'KSRC': ksrc} if ksrc else None,
                                    unset=() if ksrc else ('KSRC',))
                out = subprocess.run(['bash', '-c', script, 'sh', TOOLS], env=env, check=True,
                                     capture_output=True, text=True).stdout
                self.assertEqual(out.strip(), want)

    def test_two_trees_one_cache(self):
        a = self.run_tool('apply', ok=True).stdout.strip()
        b = self.run_tool('apply', env={'KSRC': self.tree_b}, ok=True).stdout.strip()
        self.assertEqual(a, applied_dir(self.cache, self.tree))
        self.assertEqual(b, applied_dir(self.cache, self.tree_b))
        self.assertEqual(common_dir(a), common_dir(self.tree))
        self.assertEqual(common_dir(b), common_dir(self.tree_b))
        for dest, tree in ((a, self.tree), (b, self.tree_b)):
            self.assertEqual(git(dest, 'log', '-1', '--format=%s').strip(), 'hello: return two')
            self.assertEqual(git(dest, 'rev-parse', 'HEAD~1'), git(tree, 'rev-parse', 'HEAD'))
        # And back to the first tree: its worktree is reset and applied again.
        self.assertEqual(self.run_tool('apply', ok=True).stdout.strip(), a)
        self.assertEqual(git(a, 'rev-list', '--count', 'main..HEAD').strip(), '1')

    def test_dest_of_another_repository_is_refused(self):
        a = self.run_tool('apply', ok=True).stdout.strip()
        head = git(a, 'rev-parse', 'HEAD')
        p = self.run_tool('apply', '--dest', a, env={'KSRC': self.tree_b}, ok=False)
        self.assertIn(f'{a} is a worktree of the repository {common_dir(self.tree)}, '
                      f'not of {self.tree_b} (repository {common_dir(self.tree_b)})', p.stderr)
        self.assertIn(applied_dir(self.cache, self.tree_b), p.stderr)
        self.assertNotIn('fatal:', p.stderr)
        self.assertEqual(git(a, 'rev-parse', 'HEAD'), head)

    def test_branch_of_another_worktree_is_refused(self):
        a = self.run_tool('apply', ok=True).stdout.strip()
        other = os.path.join(self.tmp, 'elsewhere')
        p = self.run_tool('apply', '--dest', other, ok=False)
        self.assertIn(f'branch sgr-applied is checked out in {a}', p.stderr)
        self.assertNotIn('fatal:', p.stderr)
        self.assertFalse(os.path.exists(other))
        self.assertEqual(self.run_tool('apply', '--dest', other, '--branch', 'other',
                                       ok=True).stdout.strip(), other)

    def test_removed_worktree_is_made_again(self):
        a = self.run_tool('apply', ok=True).stdout.strip()
        shutil.rmtree(a)
        self.assertEqual(self.run_tool('apply', ok=True).stdout.strip(), a)
        self.assertEqual(git(a, 'log', '-1', '--format=%s').strip(), 'hello: return two')


class KdocPlaces(ToolTest):
    """make check compares kernel-doc warnings without their place: a
    warning that a patch only moved down the file is not new, in the
    format of either kernel-doc."""

    def test_both_formats_lose_file_and_line(self):
        warnings = ('Warning: lib/scatterlist.c:108 No description found for return value of \'sg_last\'\n'
                    'Warning: /tmp/tmp.x.src:101 No description found for return value of \'sg_last\'\n'
                    'lib/scatterlist.c:12: warning: Function parameter \'x\' not described\n'
                    '/tmp/tmp.x.src:9: warning: Function parameter \'x\' not described\n')
        out = subprocess.run(['bash', '-c', '. "$1/lib.sh"; kdoc_strip_place', 'sh', TOOLS],
                             input=warnings, env=self.tool_env(), check=True,
                             capture_output=True, text=True).stdout
        self.assertEqual(sorted(set(out.splitlines())),
                         ["No description found for return value of 'sg_last'",
                          "warning: Function parameter 'x' not described"])


class SparseSetup(ToolTest):
    """tools/lib.sh's sparse_setup: the pinned sparse (tools/pin.sh) from its
    Debian source package (apt-get source with a private deb-src line,
    dpkg-source -x, make), built once into the cache; a dry run fetches and
    builds nothing, and each failing step stops it with a message."""

    MIRROR = 'http://deb.example/debian'

    def setUp(self):
        super().setUp()
        pin = subprocess.run(['bash', '-c', '. "$1/pin.sh"; echo "$SGR_SPARSE_VERSION $SGR_SPARSE_SUITE"',
                              'sh', TOOLS], check=True, capture_output=True, text=True).stdout.split()
        self.version, self.suite = pin
        self.top = os.path.join(self.cache, 'sparse', self.version.replace('~', '_'))
        self.sparse = os.path.join(self.top, 'sparse')

    def setup(self, dry=False):
        return subprocess.run(['bash', '-c', '. "$1/lib.sh"; sparse_setup; echo "SPARSE=$SPARSE"',
                               'sh', TOOLS], capture_output=True, text=True, timeout=60,
                              env=self.tool_env(dry=dry, env={'SGR_DEBIAN_MIRROR': self.MIRROR}))

    def fake_archive(self):
        """apt-get that logs its calls and 'downloads' the .dsc, dpkg-source
        that unpacks a Makefile whose sparse target fails while the file
        'fail' exists; returns the log's path."""
        log = os.path.join(self.tmp, 'apt.log')
        self.fake_bin('apt-get', f'echo "$*" >>{log}\n'
                      'case "$*" in *" source --download-only "*)\n'
                      f'  echo dsc >sparse_{self.version}.dsc ;;\n'
                      'esac\n')
        mk = os.path.join(self.tmp, 'fake-sparse.mk')
        with open(mk, 'w') as f:
            f.write(f'sparse:\n\t@if [ -e {self.tmp}/fail ]; then echo "sparse.c:1:1: error: boom"; exit 1; fi\n'
                    "\tprintf '#!/bin/sh\\necho \"$(SPARSE_VERSION)\"\\n' >$@ && chmod +x $@\n")
        self.fake_bin('dpkg-source', f'[ "$1 $2" = "--no-copy -x" ] && [ -f "$3" ] || exit 2\n'
                      f'mkdir "$4" && cp {mk} "$4/Makefile"\n')
        return log

    def test_dry_run_prints_the_fetch_and_the_build(self):
        p = self.setup(dry=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f'SPARSE={self.sparse}', p.stdout)
        cmds = commands(p.stderr)
        apt = os.path.join(self.cache, 'apt', f'{self.suite}-source')
        got = [c for c in cmds if c[0] == 'apt-get']
        self.assertEqual([c[-1] for c in got], ['update', f'sparse={self.version}'])
        self.assertEqual(got[1][-3:-1], ['source', '--download-only'])
        self.assertIn(f'Dir::Etc::SourceList={apt}/sources.list', got[0])
        with open(os.path.join(apt, 'sources.list')) as f:
            line = f.read().strip()
        self.assertTrue(line.startswith('deb-src ['), line)
        self.assertTrue(line.endswith(f'] {self.MIRROR} {self.suite} main'), line)
        dsc = os.path.join(self.top, 'dl', f'sparse_{self.version}.dsc')
        self.assertIn(['dpkg-source', '--no-copy', '-x', dsc, os.path.join(self.top, 'src')], cmds)
        make = next(c for c in cmds if c[0] == 'make')
        self.assertEqual(make[:3], ['make', '-C', os.path.join(self.top, 'src')])
        self.assertEqual(make[-1], 'sparse')
        self.assertIn('HAVE_LLVM=no', make)
        # Nothing fetched, nothing built.
        self.assertFalse(os.path.exists(dsc))
        self.assertFalse(os.path.exists(self.sparse))

    def test_binary_downloads_keep_their_deb_line(self):
        dest = os.path.join(self.tmp, 'debs')
        p = subprocess.run(['bash', '-c', '. "$1/lib.sh"; debian_download "$2" trixie amd64 "$3" b4=1',
                            'sh', TOOLS, self.MIRROR, dest], capture_output=True, text=True,
                           env=self.tool_env(dry=True), timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([c[-2:] for c in commands(p.stderr) if c[0] == 'apt-get'][1:],
                         [['download', 'b4=1']])
        with open(os.path.join(self.cache, 'apt', 'trixie-amd64', 'sources.list')) as f:
            self.assertEqual(f.read(), f'deb [arch=amd64 signed-by=/usr/share/keyrings/'
                             f'debian-archive-keyring.gpg] {self.MIRROR} trixie main\n')

    def test_download_failure_is_an_error(self):
        self.fake_bin('apt-get', 'case "$*" in *" source "*)\n'
                      '  echo "E: Unable to find a source package for sparse" >&2; exit 100 ;;\n'
                      'esac\n')
        p = self.setup()
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f'error: cannot download the source package sparse={self.version} '
                      f'from {self.suite}', p.stderr)
        self.assertNotIn('SPARSE=', p.stdout)
        self.assertFalse(os.path.exists(self.sparse))

    def test_build_failure_then_a_build_then_the_cache(self):
        log = self.fake_archive()
        open(os.path.join(self.tmp, 'fail'), 'w').close()
        p = self.setup()
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f'error: the build of sparse {self.version} failed: '
                      'sparse.c:1:1: error: boom', p.stderr)
        self.assertIn(os.path.join(self.top, 'build.log'), p.stderr)
        self.assertFalse(os.path.exists(self.sparse))
        os.remove(os.path.join(self.tmp, 'fail'))
        p = self.setup()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, f'SPARSE={self.sparse}\n')
        self.assertIn(self.version, subprocess.run([self.sparse], capture_output=True,
                                                   text=True).stdout)
        with open(log) as f:
            calls = f.read()
        # A second call only sets SPARSE: nothing fetched, built or said.
        p = self.setup()
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, f'SPARSE={self.sparse}\n', ''))
        with open(log) as f:
            self.assertEqual(f.read(), calls)


class ApplyLeftovers(ToolTest):
    """What a killed run leaves in the applied worktree: git's lock files and
    an unfinished git am.  A lock nobody holds is removed, one a live
    process holds stops the tool, and an unfinished am is dropped."""

    def setUp(self):
        super().setUp()
        self.write('series', self.make_patch('hello: return two', 'return 1', 'return 2') + '\n')
        self.dest = self.run_tool('apply', ok=True).stdout.strip()

    def git_path(self, name):
        return git(self.dest, 'rev-parse', '--path-format=absolute', '--git-path', name).strip()

    def test_stale_index_lock_is_removed(self):
        lock = self.git_path('index.lock')
        open(lock, 'w').close()
        p = self.run_tool('apply', ok=True)
        self.assertIn(f'removing {lock}: a git killed in', p.stderr)
        self.assertFalse(os.path.exists(lock))
        self.assertEqual(git(self.dest, 'log', '-1', '--format=%s').strip(), 'hello: return two')
        self.assertEqual(git(self.dest, 'rev-list', '--count', 'main..HEAD').strip(), '1')

    def test_lock_held_by_a_live_process_stops_the_tool(self):
        lock = self.git_path('index.lock')
        open(lock, 'w').close()
        head = git(self.dest, 'rev-parse', 'HEAD')
        holder = subprocess.Popen(['sh', '-c', 'exec 9<"$1"; exec sleep 60', 'sh', lock])
        try:
            # Until the shell has opened the lock, nobody holds it.
            fd = f'/proc/{holder.pid}/fd/9'
            for _ in range(100):
                if os.path.exists(fd):
                    break
                time.sleep(0.05)
            p = self.run_tool('apply', ok=False)
        finally:
            holder.kill()
            holder.wait()
        self.assertIn(f'another git (pid {holder.pid}) is working in {self.dest}', p.stderr)
        self.assertTrue(os.path.exists(lock))
        self.assertEqual(git(self.dest, 'rev-parse', 'HEAD'), head)

    def test_unfinished_git_am_is_dropped(self):
        # A patch that does not apply leaves git am waiting in the worktree.
        # (It is kept out of patches/, which must match series.)
        bad = os.path.join(self.tmp, 'bad.patch')
        os.rename(os.path.join(self.repo, 'patches',
                               self.make_patch('hello: return four', 'return 1', 'return 4',
                                               'bad.patch')), bad)
        subprocess.run(['git', '-C', self.dest, 'am', '--no-3way', bad],
                       capture_output=True, check=False, env=dict(os.environ, **GIT_ENV))
        self.assertTrue(os.path.isdir(self.git_path('rebase-apply')))
        p = self.run_tool('apply', ok=True)
        self.assertIn('dropping the unfinished git am', p.stderr)
        self.assertFalse(os.path.exists(self.git_path('rebase-apply')))
        self.assertEqual(git(self.dest, 'log', '-1', '--format=%s').strip(), 'hello: return two')


class RunLock(ToolTest):
    """One make check or make demo per cache at a time."""

    def test_second_job_on_one_cache_is_refused(self):
        os.makedirs(self.cache, exist_ok=True)
        lock = os.path.join(self.cache, 'run.lock')
        holder = subprocess.Popen(['flock', lock, 'sleep', '60'])
        try:
            for _ in range(100):
                if subprocess.run(['flock', '-n', lock, 'true']).returncode != 0:
                    break
                time.sleep(0.05)
            for tool, args in (('check', ('--skip-boot',)), ('demo', ())):
                with self.subTest(tool=tool):
                    p = self.run_tool(tool, *args, ok=False)
                    self.assertIn(f'is running on the cache {self.cache}', p.stderr)
                    self.assertIn('SGR_CACHE=DIR', p.stderr)
                    self.assertNotIn('=== stage', p.stderr)
        finally:
            holder.kill()
            holder.wait()


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
        # The mails' form: the revision's prefix (tools/pin.sh), a zero
        # commit id, the base named in the first patch.
        self.assertTrue(first.startswith('From 0000000000000000000000000000000000000000 '))
        self.assertIn(f'Subject: [RFC PATCH v{PIN_REVISION} 1/2] hello: return two', first)
        base = git(self.tree, 'rev-parse', 'base').strip()
        self.assertIn(f'\nbase-commit: {base}\n', first)
        # Blob ids of a fixed length, whatever the repository's size or the
        # user's core.abbrev: git's default grows with the object count.
        index = re.findall(r'^index ([0-9a-f]+)\.\.([0-9a-f]+) ', first, re.M)
        self.assertTrue(index)
        self.assertEqual({len(x) for pair in index for x in pair}, {12})
        git(self.tree, 'config', 'core.abbrev', '7')
        self.run_tool('export', '--check', '--tree', self.tree, '--base', 'base', '--branch',
                      'dev', ok=True)
        git(self.tree, 'config', '--unset', 'core.abbrev')
        # A second export of the same commits changes no byte, and --check
        # says so; a changed patch file is caught by --check.
        before = {f: open(os.path.join(self.repo, 'patches', f)).read() for f in files}
        self.run_tool('export', '--tree', self.tree, '--base', 'base', '--branch', 'dev', ok=True)
        self.assertEqual(before, {f: open(os.path.join(self.repo, 'patches', f)).read()
                                  for f in files})
        self.run_tool('export', '--check', '--tree', self.tree, '--base', 'base', '--branch',
                      'dev', ok=True)
        with open(os.path.join(self.repo, 'patches', files[1]), 'a') as f:
            f.write('\n')
        r = self.run_tool('export', '--check', '--tree', self.tree, '--base', 'base',
                          '--branch', 'dev')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('would change patches/', r.stderr)
        self.run_tool('export', '--tree', self.tree, '--base', 'base', '--branch', 'dev', ok=True)
        series = open(os.path.join(self.repo, 'series')).read()
        self.assertEqual(series, '# header\n\n# group one\n0001-hello-return-two.patch\n'
                         '\n# group two\n0002-hello-return-three.patch\n# end\n')
        # What was exported applies back onto the base.
        self.run_tool('apply', '--check', ok=True)

    def test_notes_survive_apply_and_export(self):
        # A patch with notes below its sign-off, as the series' patches have
        # ("Changes since v1"): git am drops them from the commit, so a work
        # tree made by apply must get them back, or the next export loses
        # them.
        git(self.tree, 'checkout', '-q', '-b', 'side', 'base')
        path = os.path.join(self.tree, 'hello.c')
        text = open(path).read()
        open(path, 'w').write(text.replace('return 1', 'return 2'))
        msg = ('hello: return two\n\nBecause two.\n\nSigned-off-by: A <a@b.c>\n'
               '---\nChanges since v1:\n - returns two, not one\n')
        git(self.tree, 'commit', '-q', '-a', '--cleanup=verbatim', '-m', msg)
        git(self.tree, 'checkout', '-q', 'main')
        self.run_tool('export', '--tree', self.tree, '--base', 'base', '--branch', 'side', ok=True)
        git(self.tree, 'branch', '-q', '-D', 'side')
        name = '0001-hello-return-two.patch'
        before = open(os.path.join(self.repo, 'patches', name)).read()
        self.assertIn('---\nChanges since v1:\n - returns two, not one\n---\n', before)

        dest = os.path.join(self.tmp, 'dev')
        self.run_tool('apply', '--dest', dest, ok=True)
        self.assertEqual(git(dest, 'log', '-1', '--format=%B'), msg + '\n')
        self.run_tool('export', '--tree', dest, '--base', 'base', ok=True)
        after = open(os.path.join(self.repo, 'patches', name)).read()
        # Only the first line (the commit's hash) may differ.
        self.assertEqual(after.split('\n', 1)[1], before.split('\n', 1)[1])
        # A patch without notes stays without.
        self.assertEqual(after.count('\n---\n'), 2)


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


class BuildResults(ToolTest):
    """--each-patch and --results on the fake tree, with a fake make."""

    def setUp(self):
        super().setUp()
        self.out = os.path.join(self.tmp, 'kbuild')
        self.results = os.path.join(self.tmp, 'out', 'build.ktap')
        # The build tools the fake tree needs; make itself fails.
        for cmd in ('ccache', 'flex', 'bison', 'bc'):
            self.fake_bin(cmd, 'exit 0\n')
        self.fake_bin('make', 'echo "fake make: $*" >&2\nexit 2\n')

    def add_commits(self, *subjects):
        for i, subject in enumerate(subjects):
            with open(os.path.join(self.tree, f'file{i}.c'), 'w') as f:
                f.write(f'int file{i};\n')
            git(self.tree, 'add', f'file{i}.c')
            git(self.tree, 'commit', '-q', '-m', subject)

    def build(self, *args, **kw):
        return self.run_tool('build', '--tree', self.tree, f'O={self.out}', *args, **kw)

    def assert_tree_untouched(self):
        self.assertEqual(git(self.tree, 'symbolic-ref', 'HEAD').strip(), 'refs/heads/main')
        self.assertEqual(git(self.tree, 'status', '--porcelain', '--untracked-files=no'), '')

    def test_missing_base_is_refused(self):
        self.add_commits('one: first')
        for dry in (False, True):
            with self.subTest(dry=dry):
                p = self.build('--each-patch', '--base', 'no-such-rev', dry=dry, ok=False)
                self.assertIn(f'error: --base no-such-rev is not a commit in {self.tree}', p.stderr)
                self.assertNotIn('fatal:', p.stderr)
                self.assertEqual(commands(p.stderr), [], 'nothing is checked out or built')
                self.assert_tree_untouched()

    def test_base_that_is_not_an_ancestor_is_refused(self):
        git(self.tree, 'checkout', '-q', '-b', 'side')
        self.add_commits('side: elsewhere')
        side = git(self.tree, 'rev-parse', 'HEAD').strip()
        git(self.tree, 'checkout', '-q', 'main')
        self.add_commits('one: first')
        for dry in (False, True):
            with self.subTest(dry=dry):
                p = self.build('--each-patch', '--base', side, dry=dry, ok=False)
                self.assertIn(f'--base {side} is not an ancestor of HEAD', p.stderr)
                self.assertEqual(commands(p.stderr), [])
                self.assert_tree_untouched()

    def test_missing_base_is_recorded_as_a_failure(self):
        for dry in (False, True):
            with self.subTest(dry=dry):
                self.build('--each-patch', '--base', 'no-such-rev', '--results', self.results,
                           dry=dry, ok=False)
                res = ktap_results(self, self.results)
                self.assertEqual(len(res), 1)
                self.assertRegex(res[0], r'^not ok 1 build # .*no-such-rev is not a commit in ')

    def test_dry_run_each_patch_writes_a_complete_document(self):
        self.add_commits('one: first', 'two: second')
        p = self.build('--each-patch', '--base', 'base', '--results', self.results,
                       dry=True, ok=True)
        self.assertEqual(ktap_results(self, self.results),
                         ['ok 1 build [1/2] one: first', 'ok 2 build [2/2] two: second'])
        checkouts = [c[-1] for c in commands(p.stderr) if 'checkout' in c]
        self.assertEqual(checkouts[-1], 'main', 'back on the branch the tree was on')
        self.assert_tree_untouched()

    def test_failing_builds_are_in_a_complete_document(self):
        self.add_commits('one: first', 'two: second')
        p = self.build('--each-patch', '--base', 'base', '--results', self.results, ok=False)
        self.assertIn('a patch of the series does not build', p.stderr)
        self.assertEqual(ktap_results(self, self.results),
                         ['not ok 1 build [1/2] one: first', 'not ok 2 build [2/2] two: second'])
        self.assert_tree_untouched()

    def test_no_patches_builds_the_base(self):
        self.build('--each-patch', '--base', 'base', '--results', self.results,
                   dry=True, ok=True)
        self.assertEqual(ktap_results(self, self.results), ['ok 1 build base base'])

    def test_plain_build_records_its_result(self):
        self.add_commits('one: first')
        self.build('--results', self.results, dry=True, ok=True)
        self.assertEqual(ktap_results(self, self.results), ['ok 1 build one: first'])
        p = self.build('--results', self.results, ok=False)
        self.assertIn('the kernel does not build', p.stderr)
        self.assertEqual(ktap_results(self, self.results), ['not ok 1 build one: first'])

    def test_scope_compiles_the_series_objects_at_every_patch(self):
        # --scope: at each patch, the objects of the listed C files that
        # exist then and that the --built-in build built; the configuration
        # is made again only where a Kconfig file changed.
        log = os.path.join(self.tmp, 'make.log')
        self.fake_bin('make', f'echo "depend=$CCACHE_DEPEND $*" >>{shlex.quote(log)}\n'
                      f'touch {shlex.quote(self.out)}/.config\nexit 0\n')
        os.chmod(os.path.join(self.tree, 'scripts', 'kconfig', 'merge_config.sh'), 0o755)
        git(self.tree, 'config', 'core.fileMode', 'false')
        self.add_commits('one: first', 'two: second')
        with open(os.path.join(self.tree, 'Kconfig'), 'w') as f:
            f.write('config THREE\n\tbool "three"\n')
        git(self.tree, 'add', 'Kconfig')
        git(self.tree, 'commit', '-q', '-m', 'three: a Kconfig file')
        scope = self.write('scope', 'hello.c\nfile0.c\nfile1.c\nDocumentation/x.rst\n'
                           'tools/gone.c\n')
        frag = self.write('empty.config', '# nothing\n')
        built = os.path.join(self.tmp, 'head')
        os.makedirs(built)
        for f in ('.config', 'hello.o', 'file1.o'):
            open(os.path.join(built, f), 'w').close()
        self.build('--each-patch', '--base', 'base', '--scope', scope, '--built-in', built,
                   '--fragment', frag, '--results', self.results, ok=True)
        self.assertEqual(ktap_results(self, self.results),
                         ['ok 1 build [1/3] one: first', 'ok 2 build [2/3] two: second',
                          'ok 3 build [3/3] three: a Kconfig file'])
        with open(log) as f:
            calls = [line.split() for line in f]
        # ccache in depend mode: a miss compiles once (no preprocessor pass).
        self.assertEqual({c[0] for c in calls}, {'depend=1'})
        goals = [[a for a in c if a.endswith('.o')] for c in calls if 'tinyconfig' not in c
                 and 'olddefconfig' not in c]
        self.assertEqual(goals, [['hello.o'], ['hello.o', 'file1.o'], ['hello.o', 'file1.o']])
        self.assertEqual(len([c for c in calls if 'tinyconfig' in c]), 2,
                         'configured at the first patch and where Kconfig changed')
        # The head is configured again even without a Kconfig change: there
        # every option of the fragments must be defined.
        with open(os.path.join(self.tree, 'file1.c'), 'a') as f:
            f.write('int more;\n')
        git(self.tree, 'commit', '-q', '-a', '-m', 'four: no Kconfig change')
        os.remove(log)
        self.build('--each-patch', '--base', 'base', '--scope', scope, '--built-in', built,
                   '--fragment', frag, ok=True)
        with open(log) as f:
            calls = [line.split() for line in f]
        self.assertEqual([c for c in calls if 'tinyconfig' in c][-1:], [calls[-3]],
                         'the head is configured (the calls: tinyconfig, olddefconfig, goals)')
        # one (the Kconfig file of three is not there), three, four (head).
        self.assertEqual(len([c for c in calls if 'tinyconfig' in c]), 3)
        self.assert_tree_untouched()
        # Nothing of the scope to compile is a failure, not a pass.
        none = self.write('none', 'tools/gone.c\n')
        p = self.build('--each-patch', '--base', 'base', '--scope', none, '--fragment', frag,
                       '--results', self.results, ok=False)
        self.assertIn('nothing would be compiled', p.stderr)
        self.assertEqual(len(ktap_results(self, self.results)), 4)
        self.assertTrue(all(r.startswith('not ok') for r in ktap_results(self, self.results)))
        p = self.build('--scope', scope, '--targets', 'mm/', ok=False)
        self.assertEqual(p.returncode, 2)
        p = self.build('--built-in', built, ok=False)
        self.assertEqual(p.returncode, 2)
        p = self.build('--scope', scope, '--built-in', os.path.join(self.tmp, 'nope'), ok=False)
        self.assertIn('holds no configured build', p.stderr)

    def test_killed_build_leaves_no_document(self):
        self.add_commits('one: first')
        started = os.path.join(self.tmp, 'make-started')
        self.fake_bin('make', f'touch {shlex.quote(started)}\nexec sleep 60\n')
        os.makedirs(os.path.dirname(self.results))
        with open(self.results, 'w') as f:
            f.write('KTAP version 1\n1..1\nok 1 build of an earlier run\n')
        p = subprocess.Popen([os.path.join(self.repo, 'tools', 'build'), '--tree', self.tree,
                              '--each-patch', '--base', 'base', '--results', self.results,
                              f'O={self.out}'], env=self.tool_env(), start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not os.path.exists(started) and p.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue(os.path.exists(started), 'the fake make never started')
            os.killpg(p.pid, signal.SIGTERM)
            _, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.assertNotEqual(p.returncode, 0, err)
        self.assertFalse(os.path.exists(self.results), 'a killed build leaves no document')
        self.assertEqual([f for f in os.listdir(os.path.dirname(self.results))], [])
        self.assert_tree_untouched()


class Vm(ToolTest):
    def setUp(self):
        super().setUp()
        self.kernel = os.path.join(self.tmp, 'bzImage')
        self.initrd = os.path.join(self.tmp, 'initramfs.cpio')
        open(self.kernel, 'w').close()
        open(self.initrd, 'w').close()

    def test_bad_values_are_usage_errors(self):
        bad = {('--timeout', '0'): '--timeout wants', ('--timeout', 'abc'): '--timeout wants',
               ('--smp', 'abc'): '--smp wants', ('--smp', '0'): '--smp wants',
               ('--mem', 'lots'): '--mem wants', ('--label', 'a/b'): '--label wants'}
        for args, why in bad.items():
            with self.subTest(args=args):
                p = self.run_tool('vm', '--mode', 'vtd-strict', '--kernel', self.kernel,
                                  '--initramfs', self.initrd, *args, dry=True)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(why, p.stderr)

    def qemu(self, mode, *extra):
        p = self.run_tool('vm', '--mode', mode, '--kernel', self.kernel, '--initramfs',
                          self.initrd, '--out', os.path.join(self.tmp, 'run'), *extra,
                          dry=True, ok=True)
        cmd = [c for c in commands(p.stderr)
               if 'qemu-system-x86_64' in c or 'qemu-system-aarch64' in c]
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
            'swiotlb': (None, ['swiotlb=force,track_hiwater']),
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
                                            'virtio-iommu', 'passthrough', 'noiommu', 'swiotlb',
                                            'smmuv3-strict', 'smmuv3-lazy'])

    def test_arm64_modes_boot_the_virt_machine_with_the_smmuv3(self):
        expect = {'smmuv3-strict': ('iommu=smmuv3', 'iommu.strict=1'),
                  'smmuv3-lazy': ('iommu=smmuv3', 'iommu.strict=0'),
                  'smmuv3-passthrough': ('iommu=smmuv3', 'iommu.passthrough=1'),
                  'arm64-noiommu': (None, None)}
        for mode, (opt, arg) in expect.items():
            with self.subTest(mode=mode):
                cmd, _ = self.qemu(mode)
                self.assertIn('qemu-system-aarch64', cmd)
                machine = cmd[cmd.index('-machine') + 1].split(',')
                self.assertEqual(machine[0], 'virt')
                self.assertIn('accel=tcg', machine)
                self.assertEqual(opt in machine, opt is not None)
                self.assertFalse([o for o in machine if o.startswith('iommu=')] and opt is None)
                devices = [cmd[i + 1] for i, a in enumerate(cmd) if a == '-device']
                # No -device IOMMU: the SMMUv3 is the machine's.
                self.assertFalse([d for d in devices if 'smmu' in d or 'intel-iommu' in d])
                self.assertIn('edu,addr=10.0', devices)
                self.assertIn('pci-testdev,addr=11.0', devices)
                self.assertIn('virtconsole,chardev=sgrktap', devices)
                self.assertTrue(any('guest.ktap' in c for c in cmd))
                append = self.append_of(cmd)
                self.assertIn('console=ttyAMA0', append)
                self.assertIn('sgr.ktap_tty=hvc0', append)
                self.assertIn(f'sgr.mode={mode}', append)
                if arg:
                    self.assertIn(arg, append)
        # What an x86 host cannot do for an arm64 guest is refused.
        for extra, why in ((('--accel', 'kvm'), 'TCG only'),
                           (('--gdb-run', 'true'), 'x86_64 registers')):
            p = self.run_tool('vm', '--mode', 'smmuv3-strict', '--kernel', self.kernel,
                              '--initramfs', self.initrd, *extra, dry=True)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(why, p.stderr)

    def test_timeout_and_tests_reach_the_command_line(self):
        cmd, _ = self.qemu('noiommu', '--timeout', '42', '--tests', 'proof,dmesg')
        self.assertEqual(cmd[:4], ['timeout', '-k', '10', '42'])
        self.assertIn('sgr.tests=proof,dmesg', self.append_of(cmd))

    def test_the_dma_edu_is_named_to_the_kunit_suite(self):
        # The edu whose DMA engine the KUnit IOMMU suite drives: a device of
        # its own (the benchmark keeps 10.0), named on the command line.
        for mode in ('vtd-strict', 'noiommu'):
            cmd, _ = self.qemu(mode)
            self.assertIn('edu,addr=14.0', cmd)
            self.assertIn('dma_reuse_cache_kunit.dma_edu=0000:00:14.0', self.append_of(cmd))
            addrs = [w.split('addr=')[1] for w in cmd if w.startswith('edu,addr=')]
            self.assertEqual(sorted(addrs), ['10.0', '13.0', '14.0'])

    def test_kunit_rerun_suites_reach_the_command_line(self):
        self.write('tests/kunit-rerun', '# comment\nfoo_suite\n\nbar_suite  # why\n')
        cmd, _ = self.qemu('virtio-iommu')
        self.assertIn('sgr.kunit_rerun=foo_suite,bar_suite', self.append_of(cmd))
        self.write('tests/kunit-rerun', '# none\n')
        cmd, _ = self.qemu('virtio-iommu')
        self.assertFalse([a for a in self.append_of(cmd) if a.startswith('sgr.kunit_rerun')])

    def test_icount_counts_on_one_vcpu(self):
        cmd, _ = self.qemu('vtd-strict', '--icount')
        i = cmd.index('-icount')
        self.assertEqual(cmd[i + 1], 'shift=0,align=off,sleep=off')
        self.assertEqual(cmd[cmd.index('-smp') + 1], '1')
        cmd, _ = self.qemu('vtd-strict')
        self.assertNotIn('-icount', cmd)
        for args, why in ((('--smp', '2'), 'counts on one vCPU'),
                          (('--accel', 'kvm'), 'is a TCG mode')):
            with self.subTest(args=args):
                p = self.run_tool('vm', '--mode', 'vtd-strict', '--kernel', self.kernel,
                                  '--initramfs', self.initrd, '--icount', *args, dry=True)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(why, p.stderr)

    def test_gdb_run_starts_the_guest_stopped_on_a_socket(self):
        cmd, _ = self.qemu('noiommu', '--gdb-run', 'true')
        self.assertIn('-S', cmd)
        self.assertEqual(cmd[cmd.index('-gdb') + 1], 'chardev:sgrgdb')
        sock = os.path.join(self.tmp, 'run', 'gdb.sock')
        self.assertIn(f'socket,id=sgrgdb,path={sock},server=on,wait=off', cmd)
        cmd, _ = self.qemu('noiommu')
        self.assertNotIn('-S', cmd)
        p = self.run_tool('vm', '--mode', 'noiommu', '--kernel', self.kernel,
                          '--initramfs', self.initrd, '--gdb-run', '', dry=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn('--gdb-run needs a command', p.stderr)

    def test_qemu_opts_are_appended_word_by_word(self):
        cmd, _ = self.qemu('vtd-strict', '--qemu-opts', '-d guest_errors  -device "edu,addr=16.0"',
                           '--qemu-opts', "-name 'a b'")
        self.assertEqual(cmd[-6:], ['-d', 'guest_errors', '-device', 'edu,addr=16.0',
                                    '-name', 'a b'])
        cmd, _ = self.qemu('smmuv3-strict', '--qemu-opts', '-d guest_errors')
        self.assertEqual(cmd[-2:], ['-d', 'guest_errors'])
        for opts, why in (('-name "a', 'cannot split'), (None, 'needs arguments')):
            with self.subTest(opts=opts):
                p = self.run_tool('vm', '--mode', 'noiommu', '--kernel', self.kernel,
                                  '--initramfs', self.initrd,
                                  *(('--qemu-opts', opts) if opts else ('--qemu-opts',)), dry=True)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(why, p.stderr)

    @staticmethod
    def cpio_files(data):
        """The regular files of the concatenated newc archives DATA, by
        name; a later one replaces an earlier one, as in the kernel."""
        files, i = {}, 0
        while i < len(data):
            if data[i:i + 1] == b'\0':
                i += 1
                continue
            assert data[i:i + 6] == b'070701', (i, data[i:i + 16])
            f = [int(data[i + 6 + 8 * k:i + 14 + 8 * k], 16) for k in range(13)]
            mode, size, namesize = f[1], f[6], f[11]
            name = data[i + 110:i + 110 + namesize - 1].decode()
            i += 110 + namesize
            i += -i % 4
            if mode & 0o170000 == 0o100000:
                files[name] = data[i:i + size]
            i += size
            i += -i % 4
        return files

    def test_exec_puts_the_command_in_an_appended_cpio(self):
        # The tests' empty initramfs, and one with bytes to keep.
        cmd_text = 'printf \'%s|\' "a  b" \'c"d\' $HOME; echo \\\n\nexit 7'
        for base in (b'', b'070701' + b'0' * 104 + b'x' * 9):
            with self.subTest(base=len(base)):
                with open(self.initrd, 'wb') as f:
                    f.write(base)
                cmd, p = self.qemu('vtd-strict', '--exec', cmd_text, '--append', 'foo=1 bar')
                out = os.path.join(self.tmp, 'run')
                initrd = cmd[cmd.index('-initrd') + 1]
                self.assertEqual(initrd, os.path.join(out, 'initramfs-exec.cpio'))
                with open(initrd, 'rb') as f:
                    data = f.read()
                # The initramfs as it was, zeros to a 512-byte boundary, the
                # archive with the command, byte for byte.
                pad = -len(base) % 512
                self.assertEqual(data[:len(base) + pad], base + b'\0' * pad)
                self.assertEqual(self.cpio_files(data[len(base) + pad:]),
                                 {'etc/sgr-exec': cmd_text.encode()})
                append = self.append_of(cmd)
                ids = [a for a in append if a.startswith('sgr.exec=')]
                self.assertEqual(len(ids), 1, append)
                self.assertRegex(ids[0], r'^sgr\.exec=[0-9a-f]{16}$')
                # --append still comes last; no tests, so nothing to expect.
                self.assertEqual(append[-2:], ['foo=1', 'bar'])
                self.assertFalse([a for a in append if a.startswith(('sgr.tests', 'sgr.shell'))])
                self.assertFalse(os.path.exists(os.path.join(out, 'expect.json')))
        # Two boots, two ids.
        a, _ = self.qemu('noiommu', '--exec', 'true')
        b, _ = self.qemu('noiommu', '--exec', 'true')
        self.assertNotEqual([w for w in self.append_of(a) if w.startswith('sgr.exec=')],
                            [w for w in self.append_of(b) if w.startswith('sgr.exec=')])

    def test_exec_and_shell_usage_errors(self):
        bad = ((('--exec', ''), '--exec needs a command'),
               (('--exec', ' \t\n'), '--exec needs a command'),
               (('--exec',), '--exec needs a command'),
               (('--exec', 'true', '--tests', 'proof'), 'not with --tests'),
               (('--shell', '--gdb-run', 'true'), 'not both'))
        for args, why in bad:
            with self.subTest(args=args):
                p = self.run_tool('vm', '--mode', 'noiommu', '--kernel', self.kernel,
                                  '--initramfs', self.initrd, *args, dry=True)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(why, p.stderr)

    def test_shell_puts_the_console_on_stdio(self):
        out = os.path.join(self.tmp, 'run')
        for mode, tty in (('noiommu', 'console=ttyS0'), ('smmuv3-strict', 'console=ttyAMA0')):
            with self.subTest(mode=mode):
                cmd, p = self.qemu(mode, '--shell')
                # No timeout: the shell stays as long as it is used.
                self.assertTrue(cmd[0].startswith('qemu-system-'), cmd[:3])
                self.assertIn('timeout none', p.stderr)
                self.assertIn(f'stdio,id=sgrcon,mux=on,signal=off,logfile={out}/console.log', cmd)
                self.assertEqual(cmd[cmd.index('-serial') + 1], 'chardev:sgrcon')
                self.assertNotIn(f'file:{out}/console.log', cmd)
                self.assertIn('guest.ktap', ' '.join(cmd))
                append = self.append_of(cmd)
                self.assertIn('sgr.shell=1', append)
                self.assertIn(tty, append)
                # No tests: nothing to expect.
                self.assertFalse(os.path.exists(os.path.join(out, 'expect.json')))
        cmd, _ = self.qemu('noiommu', '--shell', '--timeout', '42', '--tests', 'proof')
        self.assertEqual(cmd[:5], ['timeout', '--foreground', '-k', '10', '42'])
        self.assertIn('sgr.tests=proof', self.append_of(cmd))
        cmd, _ = self.qemu('noiommu', '--shell', '--exec', 'uname -a')
        self.assertIn('sgr.shell=1', self.append_of(cmd))
        self.assertTrue([w for w in self.append_of(cmd) if w.startswith('sgr.exec=')])
        cmd, _ = self.qemu('noiommu')
        self.assertIn(f'file:{out}/console.log', cmd)
        self.assertNotIn('sgr.shell=1', self.append_of(cmd))

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


class Deps(unittest.TestCase):
    def test_lint_and_plan_shells_are_installed(self):
        out = subprocess.run([os.path.join(TOOLS, 'deps'), '--list'], check=True,
                             capture_output=True, text=True).stdout.split()
        self.assertIn('shellcheck', out)
        self.assertIn('dash', out)


# The shell files of tools/ that are kept shellcheck clean (tools/deps
# installs shellcheck).
SHELLCHECKED = ('tools/apply', 'tools/base-tree', 'tools/build', 'tools/deps', 'tools/export',
                'tools/lib.sh', 'tools/pin.sh', '.ci/run')


class Shellcheck(unittest.TestCase):
    def test_shell_tools_are_shellcheck_clean(self):
        if not shutil.which('shellcheck'):
            self.skipTest('no shellcheck (tools/deps installs it)')
        p = subprocess.run(['shellcheck', '-x', *SHELLCHECKED], cwd=REPO,
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_every_disable_has_a_reason(self):
        for rel in SHELLCHECKED:
            with open(os.path.join(REPO, rel)) as f:
                for n, line in enumerate(f, 1):
                    m = re.search(r'#\s*shellcheck\s.*\bdisable=\S+(.*)', line)
                    if m:
                        self.assertRegex(m.group(1), r'^\s+#\s*\S', f'{rel}:{n}: {line.strip()}')


class EditedWhileRunning(unittest.TestCase):
    def test_every_bash_tool_stops_reading_itself_after_main(self):
        """A tool edited while it runs (make stress takes an hour) must not
        go on with the new file's bytes once main returns (tools/lib.sh)."""
        tools = [os.path.join(TOOLS, f) for f in sorted(os.listdir(TOOLS))]
        tools.append(os.path.join(REPO, 'tests', 'host', 'record'))
        seen = 0
        for path in tools:
            if not os.path.isfile(path) or '.' in os.path.basename(path):
                continue
            with open(path, errors='replace') as f:
                lines = f.read().splitlines()
            if not lines or not lines[0].endswith('bash'):
                continue
            with self.subTest(tool=os.path.relpath(path, REPO)):
                mains = [l for l in lines if l.startswith('main "$@"')]
                self.assertEqual(mains, ['main "$@"; exit'])
                self.assertEqual(lines[-1], 'main "$@"; exit')
                seen += 1
        self.assertGreater(seen, 10)


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
