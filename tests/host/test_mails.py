"""The mails: the generated cover letter (tools/cover, tools/mails.py
cover), and the mails b4 writes from the b4 prep branch (tools/mails,
tools/b4-prep --mails: b4 send -o), read and checked by tools/mails.py
recipients, then applied with git am as make check's gate does."""
import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from helpers import REPO, TOOLS, ToolTest, git, run_gate, PIN_REVISION

sys.path.insert(0, TOOLS)
import mails  # noqa: E402  pylint: disable=wrong-import-position

DEMO = os.path.join(REPO, 'tests', 'demo')

GIT_COVER = '''From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: A U Thor <author@example.org>
Date: Thu, 3 Dec 2026 10:00:00 +0000
Subject: [RFC PATCH v2 0/2] *** SUBJECT HERE ***

*** BLURB HERE ***

A U Thor (2):
  dma: one
  mm: two

 kernel/dma/x.c | 1 +
 mm/y.c         | 1 +
 2 files changed, 2 insertions(+)

base-commit: 1234567890123456789012345678901234567890
'''


def eml(subject, to='', cc='', body='Body.\n'):
    """A mail as b4 send -o writes it: long headers folded, no mbox line."""
    hdr = ['From: A U Thor <author@example.org>', f'Subject: {subject}',
           'Date: Sun, 06 Dec 2026 21:26:23 +0000', 'Message-Id: <x@example.org>']
    if to:
        hdr.append(f'To: {to}')
    if cc:
        hdr.append(f'Cc: {cc}')
    return '\n'.join(hdr) + '\nX-Mailer: b4 0.14.2\n\n' + body


TO = 'Dee Maintainer <dma@example.org>, \n "Em Em (MM)" <mm@example.org>'
CC = 'iommu@lists.linux.dev, linux-mm@kvack.org, \n Rev Iewer <rev@example.org>'


class Cover(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='sgr-mails.')
        self.addCleanup(shutil.rmtree, self.tmp)
        self.git_cover = self.write('0000-cover-letter.patch', GIT_COVER)

    def write(self, name, text):
        p = os.path.join(self.tmp, name)
        with open(p, 'w') as f:
            f.write(text)
        return p

    def template(self, body):
        return self.write('t.in', 'Title: dma: the title\n\n' + body)

    def test_cover_fills_git_part_subject_and_figures_from_the_kept_demo(self):
        t = self.template('Hit @@insns vtd-strict reuse@@, floor @@insns noiommu sg1@@.\n\n'
                          '@@table bench x86_64@@\n\n@@table iotlb@@\n\n@@git@@\n')
        text = mails.render(t, self.git_cover, DEMO)
        self.assertIn('Subject: [RFC PATCH v2 0/2] dma: the title\n', text)
        self.assertIn('A U Thor (2):\n  dma: one', text)
        self.assertIn('base-commit: 1234567890123456789012345678901234567890', text)
        self.assertNotIn('@@', text)
        demo = mails.Demo(DEMO)
        self.assertIn(f'Hit {demo.insns("vtd-strict", "reuse"):.0f}, ', text)
        # the row of the kept run, whatever its figure
        self.assertRegex(text, r'\n  VT-d strict        on       \d+(\.\d+)? \(IOTLB inv\.\)')

    def test_net_field_takes_each_boots_empty_mode_off(self):
        # A copy of the kept run with empty-mode rows of 100 and 80
        # instructions per request in the two boots.
        demo = os.path.join(self.tmp, 'demo')
        shutil.copytree(DEMO, demo)
        path = os.path.join(demo, 'results-icount.csv')
        with open(path) as f:
            rows = list(csv.DictReader(f))
        fields = list(rows[0])
        for mode, half in (('vtd-strict', 50), ('noiommu', 40)):
            r = dict(next(x for x in rows if x['iommu_mode'] == mode and x['method'] == 'sg1'
                          and x['granule'] == '2' and x['threads'] == '1'))
            r.update(method='empty', mode='empty', map_mean_ns=str(half),
                     unmap_mean_ns=str(half))
            rows = [x for x in rows if not (x['iommu_mode'] == mode and x['method'] == 'empty')]
            rows.append(r)
        with open(path, 'w', newline='') as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
        d = mails.Demo(demo)
        want = ((d.insns('vtd-strict', 'reuse') - 100) / (d.insns('noiommu', 'sg1') - 80))
        text = mails.render(self.template('Net @@net vtd-strict reuse noiommu@@.\n@@git@@\n'),
                            self.git_cover, demo)
        self.assertIn(f'Net {mails.r2(want)}.', text)

    def test_cover_refuses_unknown_fields_missing_figures_and_no_git_part(self):
        for body, why in (('@@nonsense@@\n@@git@@\n', 'unknown field'),
                          ('@@insns nosuchmode reuse@@\n@@git@@\n', 'no counted reuse run'),
                          ('no shortlog here\n', 'no @@git@@ field')):
            with self.subTest(why=why):
                with self.assertRaisesRegex(mails.Error, why):
                    mails.render(self.template(body), self.git_cover, DEMO)

    def test_cover_check_fails_on_a_changed_figure(self):
        t = self.template('Floor @@insns noiommu sg1@@.\n\n@@git@@\n')
        good = mails.render(t, self.git_cover, DEMO)
        letter = self.write('letter', good)
        mails.check_same(letter, good, 'x')
        self.write('letter', good.replace('Floor ', 'Floor 1'))
        with self.assertRaisesRegex(mails.Error, 'run tools/cover'):
            mails.check_same(letter, good, 'x')

    def test_cover_refuses_a_tree_that_is_not_there(self):
        # Before tools/apply has run (a fresh machine), it says so.
        missing = os.path.join(self.tmp, 'no-such-tree')
        p = subprocess.run([os.path.join(TOOLS, 'cover'), '--tree', missing],
                           capture_output=True, text=True, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(missing, p.stderr)
        self.assertIn('run tools/apply', p.stderr)
        self.assertNotIn('fatal:', p.stderr)


class Recipients(unittest.TestCase):
    """tools/mails.py recipients on the files of b4 send -o."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='sgr-mails.')
        self.addCleanup(shutil.rmtree, self.tmp)
        self.dir = os.path.join(self.tmp, 'mails')
        os.makedirs(self.dir)
        self.put('0000-dma-the-title.eml',
                 '[RFC PATCH v2 0/2] dma: a title that b4 folds because it is\n long')
        self.put('0001-dma-one.eml', '[RFC PATCH v2 1/2] dma: one')
        self.put('0002-mm-two.eml', '[RFC PATCH v2 2/2] mm: two')

    def put(self, name, subject, to=TO, cc=CC):
        with open(os.path.join(self.dir, name), 'w') as f:
            f.write(eml(subject, to, cc))

    def test_reads_subject_to_and_cc_of_each_mail_in_order(self):
        with open(os.path.join(self.dir, 'notes.txt'), 'w') as f:
            f.write('not a mail\n')
        rs = mails.recipients(mails.mail_files([self.dir]))
        self.assertEqual([r['mail'] for r in rs],
                         ['0000-dma-the-title.eml', '0001-dma-one.eml', '0002-mm-two.eml'])
        self.assertEqual(rs[0]['subject'],
                         '[RFC PATCH v2 0/2] dma: a title that b4 folds because it is long')
        self.assertEqual(rs[1]['to'], ['Dee Maintainer <dma@example.org>',
                                       '"Em Em (MM)" <mm@example.org>'])
        self.assertEqual(rs[1]['cc'], ['iommu@lists.linux.dev', 'linux-mm@kvack.org',
                                       'Rev Iewer <rev@example.org>'])
        mails.check_mails(rs, 'RFC PATCH v2', 2)

    def test_check_refuses_what_a_reviewer_should_not_get(self):
        wrong = 'is not "\\[RFC PATCH v2 2/2\\]'
        for name, subject, to, cc, why in (
                ('0002-mm-two.eml', '[PATCH RFC v2 2/2] mm: two', TO, CC, wrong),
                ('0002-mm-two.eml', '[RFC PATCH v2 1/2] mm: two', TO, CC, wrong),
                ('0002-mm-two.eml', '[RFC PATCH v2 2/2] mm: two', '', CC, '0002-mm-two.eml: no To'),
                ('0001-dma-one.eml', '[RFC PATCH v2 1/2] dma: one', TO,
                 'Rev Iewer <rev@example.org>', '0001-dma-one.eml: no mailing list in Cc')):
            with self.subTest(why=why):
                self.setUp()
                self.put(name, subject, to, cc)
                rs = mails.recipients(mails.mail_files([self.dir]))
                with self.assertRaisesRegex(mails.Error, why):
                    mails.check_mails(rs, 'RFC PATCH v2', 2)
        self.setUp()
        os.remove(os.path.join(self.dir, '0002-mm-two.eml'))
        rs = mails.recipients(mails.mail_files([self.dir]))
        with self.assertRaisesRegex(mails.Error, '2 mails, not the cover letter and 2 patches'):
            mails.check_mails(rs, 'RFC PATCH v2', 2)

    def test_the_command_prints_json_and_checks(self):
        tool = os.path.join(TOOLS, 'mails.py')
        p = subprocess.run([tool, 'recipients', self.dir], capture_output=True, text=True,
                           check=False)
        # b4's mails all have the series' To and Cc: printed once.
        self.assertIn('every mail (3):\n  To: Dee Maintainer <dma@example.org>\n', p.stdout)
        self.assertEqual(p.stdout.count('Dee Maintainer'), 1)
        p = subprocess.run([tool, 'recipients', '--json', self.dir], capture_output=True,
                           text=True, check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([r['subject'][:20] for r in json.loads(p.stdout)],
                         ['[RFC PATCH v2 0/2] d', '[RFC PATCH v2 1/2] d', '[RFC PATCH v2 2/2] m'])
        p = subprocess.run([tool, 'recipients', '--check', '--prefix', 'RFC PATCH 6.12 v2',
                            '--patches', '2', self.dir], capture_output=True, text=True,
                           check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn('is not "[RFC PATCH 6.12 v2 0/2] ..."', p.stderr)
        p = subprocess.run([tool, 'recipients', os.path.join(self.tmp, 'empty')],
                           capture_output=True, text=True, check=False)
        self.assertEqual(p.returncode, 1)


# A get_maintainer.pl stand-in, as b4 prep --auto-to-cc runs it (the patch
# on stdin; --nol for To, --nom for Cc): maintainers and lists by the file.
FAKE_GM = r'''#!/usr/bin/perl
my %o = map { $_ => 1 } grep { /^--/ } @ARGV;
my $t = do { local $/; <STDIN> };
my @out;
if ($t =~ m{^\+\+\+ b/hello\.c}m) {
    push @out, 'Dee Maintainer <dma@example.org>' unless $o{'--nom'};
    push @out, 'hello@vger.kernel.org' unless $o{'--nol'};
}
print "$_\n" for @out;
'''

def b4_version():
    with open(os.path.join(TOOLS, 'pin.sh')) as f:
        return re.search(r'^SGR_B4_VERSION=(\S+)', f.read(), re.M).group(1)


def real_b4():
    """The pinned b4 unpacked in the machine's cache (tools/b4-prep has
    run), or None."""
    cache = os.environ.get('SGR_CACHE') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'sg-reuse')
    d = os.path.join(cache, 'b4')
    pkg = os.path.join(d, b4_version(), 'usr/lib/python3/dist-packages/b4')
    return d if os.path.isfile(os.path.join(pkg, '__init__.py')) else None


class MailsTool(ToolTest):
    """tools/mails on a tiny tree: a two-patch series, its letter."""

    def setUp(self):
        super().setUp()
        gm = os.path.join(self.tree, 'scripts', 'get_maintainer.pl')
        with open(gm, 'w') as f:
            f.write(FAKE_GM)
        os.chmod(gm, 0o755)
        git(self.tree, 'add', '-f', gm)
        git(self.tree, 'commit', '-q', '-m', 'get_maintainer.pl')
        self.applied = os.path.join(self.tmp, 'applied')
        git(self.tree, 'worktree', 'add', '-q', '-b', 'series', self.applied, 'main')
        path = os.path.join(self.applied, 'hello.c')
        for old, new, subject in (('return 1', 'return 2', 'hello: return two'),
                                  ('return 2', 'return 3', 'hello: return three')):
            with open(path) as f:
                text = f.read()
            with open(path, 'w') as f:
                f.write(text.replace(old, new))
            git(self.applied, 'commit', '-q', '-a', '-m',
                subject + '\n\nFrom the start, a reason.')
        out = git(self.applied, 'format-patch', '--subject-prefix=RFC PATCH v2', '-o',
                  os.path.join(self.repo, 'patches'), 'main..series')
        self.names = [os.path.basename(p) for p in out.split()]
        self.write('series', '\n'.join(self.names) + '\n')
        self.write('cover-letter.txt',
                   'From: Host Test <host@test>\nSubject: [RFC PATCH v2 0/2] hello: the title\n\n'
                   'The letter.\n\nHost Test (2):\n  hello: return two\n  hello: return three\n\n'
                   ' hello.c | 2 +-\n\nbase-commit: 0123456789abcdef\n(the base is the test tree)\n')
        self.out = os.path.join(self.tmp, 'mails')

    def env(self):
        return {'XDG_CACHE_HOME': os.path.join(self.tmp, 'xdg-cache'),
                'XDG_DATA_HOME': os.path.join(self.tmp, 'xdg-data')}

    def test_dry_run_prints_b4_send_offline_unsigned_and_never_mailing(self):
        # A stand-in for the unpacked b4: under DRY_RUN nothing runs it.
        pkg = os.path.join(self.cache, 'b4', b4_version(), 'usr/lib/python3/dist-packages/b4')
        os.makedirs(pkg)
        open(os.path.join(pkg, '__init__.py'), 'w').close()
        p = self.run_tool('mails', '--out', self.out, dry=True, env=self.env(), ok=True)
        from test_tools import commands  # pylint: disable=import-outside-toplevel
        cmds = commands(p.stderr)
        new = next(c for c in cmds if 'prep' in c and '-n' in c)
        self.assertIn('user.email=host@test', new)
        send = next(c for c in cmds if 'send' in c)
        self.assertEqual(send[-3:], ['send', '-o', self.out])
        for opt in ('--offline-mode', 'b4.send-no-patatt-sign=yes',
                    'sendemail.smtpserver=/bin/false', 'sendemail.from=Host Test <host@test>'):
            self.assertIn(opt, send)
        self.assertFalse(os.path.exists(self.out))

    def test_no_base_tree_says_what_to_run(self):
        p = self.run_tool('mails', '--out', self.out, env=self.env(), unset=('KSRC',), ok=False)
        self.assertIn('run tools/base-tree first', p.stderr)

    @unittest.skipUnless(real_b4(), 'no b4 unpacked in the cache (tools/b4-prep fetches it)')
    @unittest.skipUnless(shutil.which('perl'), 'no perl')
    def test_b4_writes_the_mails_and_git_am_of_them_gives_the_tree(self):
        # The pinned b4's own directory, linked (a removal would take the
        # link alone).
        os.makedirs(os.path.join(self.cache, 'b4'))
        os.symlink(os.path.join(real_b4(), b4_version()),
                   os.path.join(self.cache, 'b4', b4_version()))
        dest = os.path.join(self.tmp, 'b4')
        # b4 looks for its cover commit among the last year's.
        p = self.run_tool('mails', '--out', self.out, '--dest', dest, env=self.env(),
                          unset=('GIT_AUTHOR_DATE', 'GIT_COMMITTER_DATE'))
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        names = sorted(os.listdir(self.out))
        self.assertEqual(names, ['0000-hello-the-title.eml', '0001-hello-return-two.eml',
                                 '0002-hello-return-three.eml'])
        rs = mails.recipients(mails.mail_files([self.out]))
        # b4's subjects are the pinned form, "RFC PATCH" as the patch files say.
        self.assertEqual([r['subject'] for r in rs],
                         [f'[RFC PATCH v{PIN_REVISION} 0/2] hello: the title',
                          f'[RFC PATCH v{PIN_REVISION} 1/2] hello: return two',
                          f'[RFC PATCH v{PIN_REVISION} 2/2] hello: return three'])
        for r in rs:
            self.assertEqual(r['to'], ['Dee Maintainer <dma@example.org>'], r)
            self.assertIn('hello@vger.kernel.org', r['cc'], r)
        mails.check_mails(rs, f'RFC PATCH v{PIN_REVISION}', 2)
        self.assertIn('0000-hello-the-title.eml', p.stdout)
        with open(os.path.join(self.out, names[0])) as f:
            cover = f.read()
        # The letter's text and its note on the base; b4's shortlog and
        # base-commit; the author's From; no signature header from patatt.
        self.assertIn('\n\nThe letter.\n\n(the base is the test tree)\n', cover)
        self.assertIn('\nbase-commit: ' + git(self.tree, 'rev-parse', 'HEAD').strip(), cover)
        self.assertIn('From: Host Test <host@test>\n', cover)
        self.assertNotIn('X-Developer-Signature', cover)
        self.assertIn('X-Change-ID: ', cover)
        # git am of the patch mails, in one mbox, as make check does.
        run_dir = os.path.join(self.tmp, 'run')
        os.makedirs(run_dir)
        gates = os.path.join(run_dir, 'gates.tsv')
        g = run_gate(self, run_dir, self.applied, 'gate_am', self.out)
        self.assertEqual(g.returncode, 0, g.stderr)
        with open(gates) as f:
            self.assertEqual([l.split('\t')[3] for l in f], ['ok', 'ok'])
        with open(os.path.join(run_dir, 'results')) as f:
            self.assertTrue(f.read().startswith('0\tgit am of the 2 mails'))
        # The body line that starts with "From " came through the mbox.
        am = glob.glob(os.path.join(self.cache, '*', 'gate-am'))[0]
        self.assertIn('\nFrom the start, a reason.', git(am, 'log', '-1', '--format=%B'))
        self.assertEqual(git(am, 'rev-parse', 'HEAD^{tree}'),
                         git(self.applied, 'rev-parse', 'HEAD^{tree}'))


if __name__ == '__main__':
    unittest.main()
