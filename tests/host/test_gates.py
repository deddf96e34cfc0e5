"""The gates table of make check: the stages that apply the series as
reviewers do (tools/gates.sh: git am of the mails, quilt one patch at a
time) write one row per patch, and tools/results.py renders those rows and
nothing else.  Run on a tiny git tree with a real three-patch series, then
with the series spoiled the ways a reviewer would meet it."""
import os
import shutil
import subprocess
import unittest

from helpers import REPO, TOOLS, ToolTest, git, replace_in, run_gate

RESULTS = os.path.join(TOOLS, 'results.py')
HELLO = 'int hello(void)\n{\n\treturn 1;\n}\n'


@unittest.skipUnless(shutil.which('quilt'), 'no quilt (tools/deps installs it)')
class GateRows(ToolTest):
    def setUp(self):
        super().setUp()
        # Three patches, each on top of the one before, and the tree
        # tools/apply would give (a worktree of the fake kernel tree).
        self.applied = os.path.join(self.tmp, 'applied')
        git(self.tree, 'worktree', 'add', '-q', '-b', 'series', self.applied, 'base')
        path = os.path.join(self.applied, 'hello.c')
        text = HELLO
        for i, (old, new) in enumerate([('return 1;', 'return 2;'),
                                        ('int hello(void)', 'int hello(void) /* two */'),
                                        ('return 2;', 'return 3;')], 1):
            text = text.replace(old, new)
            with open(path, 'w') as f:
                f.write(text + ''.join(f'/* line {k} */\n' for k in range(i * 3)))
            git(self.applied, 'commit', '-q', '-a', '-m', f'hello: step {i}')
        out = git(self.applied, 'format-patch', '-o', os.path.join(self.repo, 'patches'),
                  'base..series')
        self.names = [os.path.basename(p) for p in out.split()]
        self.write('series', '\n'.join(self.names) + '\n')
        self.run_dir = os.path.join(self.tmp, 'run')
        os.makedirs(self.run_dir)
        self.gates = os.path.join(self.run_dir, 'gates.tsv')

    def gate(self, fn, *args):
        return run_gate(self, self.run_dir, self.applied, fn, *args)

    def rows(self, gate):
        with open(self.gates) as f:
            rows = [l.rstrip('\n').split('\t') for l in f]
        return [(r[1], r[3], r[4]) for r in rows if r[2] == gate]

    def results(self):
        with open(os.path.join(self.run_dir, 'results')) as f:
            return [l.rstrip('\n').split('\t') for l in f]

    def test_quilt_rows_all_ok(self):
        p = self.gate('gate_quilt')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([r[:2] for r in self.rows('quilt')], [(n, 'ok') for n in self.names])
        self.assertEqual(self.results()[-1][0], '0')

    def test_quilt_offset_fails_its_patch_and_the_rest_are_not_tried(self):
        # Patch 2's hunk says it starts two lines lower than it does: quilt
        # still applies it, at an offset, which the gate refuses.
        path = os.path.join(self.repo, 'patches', self.names[1])
        with open(path) as f:
            text = f.read()
        hunk = next(l for l in text.splitlines() if l.startswith('@@ -1,'))
        with open(path, 'w') as f:
            f.write(text.replace(hunk, hunk.replace('-1,', '-3,').replace('+1,', '+3,')))
        p = self.gate('gate_quilt')
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = self.rows('quilt')
        self.assertEqual([r[1] for r in rows], ['ok', 'FAIL', 'not tried'], rows)
        self.assertIn('offset -2 lines', rows[1][2])
        self.assertEqual(self.results()[-1][0], '1')

    def test_quilt_a_patch_that_does_not_apply(self):
        path = os.path.join(self.repo, 'patches', self.names[1])
        replace_in(path, '-int hello(void)', '-int goodbye(void)')
        self.gate('gate_quilt')
        rows = self.rows('quilt')
        self.assertEqual([r[1] for r in rows], ['ok', 'FAIL', 'not tried'], rows)
        self.assertIn('quilt push refused it', rows[1][2])
        self.assertIn(self.names[1], self.results()[-1][2])

    def mails(self):
        """The mails as b4 send -o writes them: one file each, no mbox
        "From " line, the cover letter first (git am skips it)."""
        d = os.path.join(self.run_dir, 'mails')
        os.makedirs(d)
        with open(os.path.join(d, '0000-the-cover.eml'), 'w') as f:
            f.write('From: A <a@example.org>\nSubject: [PATCH 0/3] cover\n\nNo diff.\n')
        for k, n in enumerate(self.names, 1):
            with open(os.path.join(self.repo, 'patches', n)) as f:
                text = f.read().split('\n', 1)[1]
            with open(os.path.join(d, f'{k:04d}-{n[5:-6].lower()}.eml'), 'w') as f:
                f.write(text)
        return d

    def eml(self, d, k):
        return next(os.path.join(d, f) for f in os.listdir(d) if f.startswith(f'{k:04d}-'))

    def test_git_am_rows_all_ok(self):
        p = self.gate('gate_am', self.mails())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([r[:2] for r in self.rows('git am')], [(n, 'ok') for n in self.names])
        self.assertEqual(self.results()[-1][0], '0')

    def test_git_am_stops_at_the_patch_that_does_not_apply(self):
        d = self.mails()
        path = self.eml(d, 2)
        replace_in(path, '-int hello(void)', '-int goodbye(void)')
        self.gate('gate_am', d)
        rows = self.rows('git am')
        self.assertEqual([r[1] for r in rows], ['ok', 'FAIL', 'not tried'], rows)
        self.assertEqual(self.results()[-1][0], '1')
        self.assertIn(f'it stopped at {self.names[1]}', self.results()[-1][2])

    def test_git_am_a_mail_that_changes_another_line(self):
        # Applies cleanly, but its commit is not tools/apply's.
        d = self.mails()
        path = self.eml(d, 3)
        replace_in(path, '+\treturn 3;', '+\treturn 4;')
        self.gate('gate_am', d)
        rows = self.rows('git am')
        self.assertEqual([r[1] for r in rows], ['ok', 'ok', 'FAIL'], rows)
        self.assertIn('patch-id', rows[2][2])

    def test_b4_rows_from_the_report_and_without_one(self):
        report = os.path.join(self.run_dir, 'b4-check.tsv')
        log = os.path.join(self.run_dir, 'b4.log')
        with open(report, 'w') as f:
            f.write(f'PASS\t{self.names[0]}\t\nFAIL\t{self.names[1]}\tLONG_LINE: too long\n'
                    f'PASS\t{self.names[2]}\t\n')
        self.gate('gate_b4', report, log)
        self.assertEqual(self.rows('b4 --check'), [(self.names[0], 'ok', ''),
                                                  (self.names[1], 'FAIL', 'LONG_LINE: too long'),
                                                  (self.names[2], 'ok', '')])
        os.remove(self.gates)
        os.remove(report)
        with open(log, 'w') as f:
            f.write('b4-prep: error: b4 send -o /x failed\n')
        self.gate('gate_b4', report, log)
        rows = self.rows('b4 --check')
        self.assertEqual([r[1] for r in rows], ['FAIL', 'not tried', 'not tried'], rows)
        self.assertIn('b4 send -o /x failed', rows[0][2])
        self.assertEqual(self.results()[-1][0], '1')

    def test_results_renders_the_rows_and_only_them(self):
        self.gate('gate_quilt')
        with open(self.gates, 'a') as f:
            f.write(f'7.3\t{self.names[0]}\tcheckpatch\tFAIL\t2 problem(s)\n')
        p = subprocess.run([RESULTS, 'gates', self.run_dir], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('== gates per patch (7.3 stack)', p.stdout)
        first = next(l for l in p.stdout.splitlines() if self.names[0][:-6] in l)
        self.assertEqual(first.split()[1:], ['FAIL', '-', '-', '-', 'ok'])
        self.assertIn(f'checkpatch FAIL {self.names[0][:-6]}: 2 problem(s)', p.stdout)
        p = subprocess.run([RESULTS, 'gates', '--markdown', self.run_dir], capture_output=True, text=True)
        self.assertIn(f'| {self.names[1][:-6]} | - | - | - | - | ok |', p.stdout)
        os.remove(self.gates)
        p = subprocess.run([RESULTS, 'gates', self.run_dir], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn('no gates.tsv', p.stderr)


if __name__ == '__main__':
    unittest.main()
