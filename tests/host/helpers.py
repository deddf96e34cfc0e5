"""Shared fixtures for the host tests: a throwaway repository that uses the
real tools (symlinked) with its own series and patches, and a tiny git tree
that looks enough like a kernel tree for the tools' checks."""
import atexit
import os
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(REPO, 'tools')
# The series' revision, pinned in tools/pin.sh (export and mails use it).
with open(os.path.join(TOOLS, 'pin.sh'), encoding='utf-8') as _pin:
    PIN_REVISION = next(line.split('=', 1)[1].strip() for line in _pin
                        if line.startswith('SGR_REVISION='))
DATA = os.path.join(HERE, 'data')

# The guest's /etc/sgr-modes.sh (device addresses, mode_vars), as
# tools/initramfs makes it, for the host tests that source the guest's
# lib.sh (it reads SGR_MODES_SH): written once per test process.
_MODES_DIR = tempfile.mkdtemp(prefix='sgr-modes-sh.')
os.environ['SGR_MODES_SH'] = os.path.join(_MODES_DIR, 'sgr-modes.sh')
with open(os.environ['SGR_MODES_SH'], 'w') as _f:
    _f.write(subprocess.run([os.path.join(TOOLS, 'modes.py'), 'guest'], check=True,
                            capture_output=True, text=True).stdout)
atexit.register(shutil.rmtree, _MODES_DIR, True)

GIT_ENV = {
    'GIT_AUTHOR_NAME': 'Host Test', 'GIT_AUTHOR_EMAIL': 'host@test',
    'GIT_COMMITTER_NAME': 'Host Test', 'GIT_COMMITTER_EMAIL': 'host@test',
    'GIT_AUTHOR_DATE': '2001-01-01T00:00:00Z', 'GIT_COMMITTER_DATE': '2001-01-01T00:00:00Z',
}


def git(cwd, *args):
    env = dict(os.environ, **GIT_ENV)
    return subprocess.run(['git', '-C', cwd, *args], check=True, env=env,
                          capture_output=True, text=True).stdout


class ToolTest(unittest.TestCase):
    """A fake repo (tools symlinked, tests/ copied) and a fake kernel tree."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='sgr-host-test.')
        self.addCleanup(shutil.rmtree, self.tmp)
        self.repo = os.path.join(self.tmp, 'repo')
        os.makedirs(os.path.join(self.repo, 'patches'))
        os.symlink(TOOLS, os.path.join(self.repo, 'tools'))
        shutil.copytree(os.path.join(REPO, 'tests'), os.path.join(self.repo, 'tests'),
                        ignore=shutil.ignore_patterns('host'))
        shutil.copy(os.path.join(REPO, 'kernel-config'), self.repo)
        self.write('series', '# test series\n')
        self.cache = os.path.join(self.tmp, 'cache')
        self.tree = os.path.join(self.tmp, 'linux')
        self.make_tree(self.tree)

    def write(self, rel, text):
        path = os.path.join(self.repo, rel)
        with open(path, 'w') as f:
            f.write(text)
        return path

    @staticmethod
    def make_tree(tree):
        os.makedirs(os.path.join(tree, 'scripts', 'kconfig'))
        os.makedirs(os.path.join(tree, 'usr'))
        with open(os.path.join(tree, 'Makefile'), 'w') as f:
            f.write('# fake kernel Makefile\n')
        with open(os.path.join(tree, 'scripts', 'kconfig', 'merge_config.sh'), 'w') as f:
            f.write('#!/bin/sh\n')
        with open(os.path.join(tree, 'usr', 'gen_init_cpio.c'), 'w') as f:
            f.write('int main(void) { return 0; }\n')
        with open(os.path.join(tree, 'hello.c'), 'w') as f:
            f.write('int hello(void)\n{\n\treturn 1;\n}\n')
        git(tree, 'init', '-q', '-b', 'main')
        git(tree, 'add', '-f', '.')
        git(tree, 'commit', '-q', '-m', 'base')
        git(tree, 'tag', 'base')

    def make_patch(self, subject, old, new, name=None):
        """Commit a change to hello.c on a side branch and export it."""
        git(self.tree, 'checkout', '-q', '-b', 'side', 'base')
        path = os.path.join(self.tree, 'hello.c')
        with open(path) as f:
            text = f.read()
        with open(path, 'w') as f:
            f.write(text.replace(old, new))
        git(self.tree, 'commit', '-q', '-a', '-m', subject)
        out = git(self.tree, 'format-patch', '-q', '-1', '--stdout', 'HEAD')
        git(self.tree, 'checkout', '-q', 'main')
        git(self.tree, 'branch', '-q', '-D', 'side')
        name = name or '0001-' + subject.replace(' ', '-').replace(':', '') + '.patch'
        self.write(os.path.join('patches', name), out)
        return name

    def fake_bin(self, name, script):
        """A command NAME (a sh script) in a directory put first in PATH by
        tool_env(); returns the script's path."""
        d = os.path.join(self.tmp, 'bin')
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, name)
        with open(path, 'w') as f:
            f.write('#!/bin/sh\n' + script)
        os.chmod(path, 0o755)
        return path

    def tool_env(self, dry=False, env=None, unset=()):
        """The environment of a tool run: this test's cache and tree (KSRC),
        DRY_RUN=1 when dry, then ENV; the names in UNSET are removed."""
        e = dict(os.environ, SGR_CACHE=self.cache, KSRC=self.tree, **GIT_ENV)
        e.pop('KBUILD_OUTPUT', None)
        if os.path.isdir(os.path.join(self.tmp, 'bin')):
            e['PATH'] = os.path.join(self.tmp, 'bin') + os.pathsep + e.get('PATH', '')
        if dry:
            e['DRY_RUN'] = '1'
        e.update(env or {})
        for name in unset:
            e.pop(name, None)
        return e

    def run_tool(self, tool, *args, dry=False, env=None, unset=(), ok=None):
        e = self.tool_env(dry=dry, env=env, unset=unset)
        p = subprocess.run([os.path.join(self.repo, 'tools', tool), *args], env=e,
                           capture_output=True, text=True, timeout=120)
        if ok is True:
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        elif ok is False:
            self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
        return p


# Runs one gate function of tools/gates.sh the way tools/check does: the
# stage's document is replaced by RUN/results, lines "STATUS<TAB>NAME<TAB>
# REASON"; the rows go to GATES.
GATE_HARNESS = r'''
set -euo pipefail
. "$1/lib.sh"
. "$1/gates.sh"
result() { printf '%s\t%s\t%s\n' "$1" "$2" "${3:-}" >>"$RUN/results"; }
indent() { sed 's/^/    /'; }
"$2" "${@:3}"
'''


def run_gate(test, run_dir, applied, fn, *args):
    """GATE_HARNESS for ToolTest TEST: gate function FN of its repo's tools."""
    env = test.tool_env(env={'RUN': run_dir, 'GATES': os.path.join(run_dir, 'gates.tsv'),
                             'DOC_PFX': '', 'APPLIED': applied})
    return subprocess.run(['bash', '-c', GATE_HARNESS, 'sh', os.path.join(test.repo, 'tools'),
                           fn, *args], env=env, capture_output=True, text=True, timeout=120)


def replace_in(path, old, new):
    """Replace OLD by NEW in the file PATH (a spoiled copy)."""
    with open(path) as f:
        text = f.read()
    with open(path, 'w') as f:
        f.write(text.replace(old, new))
