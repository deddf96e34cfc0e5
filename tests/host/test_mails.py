"""tools/mails.py: recipients per mail, the generated cover letter, and the
mails made ready to send (tools/mails, tools/cover, tools/recipients)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from helpers import REPO, TOOLS

sys.path.insert(0, TOOLS)
import mails  # noqa: E402  pylint: disable=wrong-import-position

DEMO = os.path.join(REPO, 'tests', 'demo')

# A get_maintainer.pl stand-in: maintainers and lists by the files a
# patch touches, honouring the options tools/mails.py passes.
FAKE_GM = r'''#!/usr/bin/perl
my %o = map { $_ => 1 } grep { /^--/ } @ARGV;
my ($f) = grep { !/^--/ } @ARGV;
open(my $h, '<', $f) or die "no $f";
my $t = do { local $/; <$h> };
my @out;
if ($t =~ m{^\+\+\+ b/kernel/dma/}m) {
    push @out, 'Dee Maintainer <dma@example.org>' unless $o{'--nom'};
    push @out, 'Rev Iewer <rev@example.org>' unless $o{'--nor'};
    push @out, 'iommu@lists.linux.dev' unless $o{'--nol'};
}
if ($t =~ m{^\+\+\+ b/mm/}m) {
    push @out, 'Em Em <mm@example.org>' unless $o{'--nom'};
    push @out, 'linux-mm@kvack.org' unless $o{'--nol'};
}
print "$_\n" for @out;
'''

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


def patch(n, path, subject):
    return (f'From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n'
            f'From: A U Thor <author@example.org>\nDate: Thu, 3 Dec 2026 10:00:00 +0000\n'
            f'Subject: [RFC PATCH v2 {n}/2] {subject}\n\nBody.\n\n---\n'
            f' {path} | 1 +\n\ndiff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n'
            '@@ -0,0 +1 @@\n+x\n')


class MailsTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='sgr-mails.')
        self.addCleanup(shutil.rmtree, self.tmp)
        self.tree = os.path.join(self.tmp, 'linux')
        os.makedirs(os.path.join(self.tree, 'scripts'))
        gm = os.path.join(self.tree, 'scripts', 'get_maintainer.pl')
        with open(gm, 'w') as f:
            f.write(FAKE_GM)
        self.out = os.path.join(self.tmp, 'mails')
        os.makedirs(self.out)
        self.mails = [self.write('0000-cover-letter.patch', GIT_COVER),
                      self.write('0001-dma-one.patch', patch(1, 'kernel/dma/x.c', 'dma: one')),
                      self.write('0002-mm-two.patch', patch(2, 'mm/y.c', 'mm: two'))]

    def write(self, name, text, where=None):
        p = os.path.join(where or self.out, name)
        with open(p, 'w') as f:
            f.write(text)
        return p

    def template(self, body):
        return self.write('t.in', 'Title: dma: the title\n\n' + body, self.tmp)

    def test_recipients_per_mail_and_the_cover_gets_the_union(self):
        rs = mails.recipients(self.tree, self.mails)
        self.assertEqual(rs[1]['to'], ['Dee Maintainer <dma@example.org>'])
        self.assertEqual(rs[1]['cc'], ['Rev Iewer <rev@example.org>', 'iommu@lists.linux.dev'])
        self.assertEqual(rs[2]['to'], ['Em Em <mm@example.org>'])
        self.assertEqual(rs[2]['cc'], ['linux-mm@kvack.org'])
        self.assertEqual(rs[0]['to'], ['Dee Maintainer <dma@example.org>', 'Em Em <mm@example.org>'])
        self.assertEqual(rs[0]['cc'], ['Rev Iewer <rev@example.org>', 'iommu@lists.linux.dev',
                                       'linux-mm@kvack.org'])

    def test_recipients_need_a_kernel_tree(self):
        with self.assertRaisesRegex(mails.Error, 'no scripts/get_maintainer.pl'):
            mails.recipients(self.tmp, self.mails)

    def test_cover_fills_git_part_subject_and_figures_from_the_kept_demo(self):
        t = self.template('Hit @@insns vtd-strict reuse@@, floor @@insns noiommu sg1@@.\n\n'
                          '@@table bench x86_64@@\n\n@@table iotlb@@\n\n@@git@@\n')
        text = mails.render(t, self.mails[0], DEMO)
        self.assertIn('Subject: [RFC PATCH v2 0/2] dma: the title\n', text)
        self.assertIn('A U Thor (2):\n  dma: one', text)
        self.assertIn('base-commit: 1234567890123456789012345678901234567890', text)
        self.assertNotIn('@@', text)
        demo = mails.Demo(DEMO)
        self.assertIn(f'Hit {demo.insns("vtd-strict", "reuse"):.0f}, ', text)
        self.assertIn('  VT-d strict        on       1.385 (IOTLB inv.)', text)

    def test_cover_refuses_unknown_fields_missing_figures_and_no_git_part(self):
        for body, why in (('@@nonsense@@\n@@git@@\n', 'unknown field'),
                          ('@@insns nosuchmode reuse@@\n@@git@@\n', 'no counted reuse run'),
                          ('no shortlog here\n', 'no @@git@@ field')):
            with self.subTest(why=why):
                with self.assertRaisesRegex(mails.Error, why):
                    mails.render(self.template(body), self.mails[0], DEMO)

    def test_cover_check_fails_on_a_changed_figure(self):
        t = self.template('Floor @@insns noiommu sg1@@.\n\n@@git@@\n')
        good = mails.render(t, self.mails[0], DEMO)
        letter = self.write('letter', good, self.tmp)
        mails.check_same(letter, good, 'x')
        self.write('letter', good.replace('Floor ', 'Floor 1'), self.tmp)
        with self.assertRaisesRegex(mails.Error, 'run tools/cover'):
            mails.check_same(letter, good, 'x')

    def test_write_adds_to_cc_and_the_letter_and_refuses_a_stale_one(self):
        t = self.template('The letter body.\n\n@@git@@\n')
        letter = self.write('letter', mails.render(t, self.mails[0], DEMO), self.tmp)
        before = open(self.mails[1]).read()
        rs = mails.write_mails(letter, self.tree, self.mails)
        self.assertEqual(rs[0]['subject'], '[RFC PATCH v2 0/2] dma: the title')
        cover = open(self.mails[0]).read()
        self.assertIn('Subject: [RFC PATCH v2 0/2] dma: the title\nTo: Dee Maintainer', cover)
        self.assertIn('\n\nThe letter body.\n', cover)
        self.assertNotIn('BLURB', cover)
        one = open(self.mails[1]).read()
        self.assertIn('Subject: [RFC PATCH v2 1/2] dma: one\nTo: Dee Maintainer <dma@example.org>\n'
                      'Cc: Rev Iewer <rev@example.org>,\n    iommu@lists.linux.dev\n\nBody.', one)
        self.assertEqual(one.split('\n\n', 1)[1], before.split('\n\n', 1)[1])
        # Written twice: no header doubles.
        mails.write_mails(letter, self.tree, [self.write('0000-cover-letter.patch', GIT_COVER)] +
                          self.mails[1:])
        self.assertEqual(open(self.mails[1]).read().count('\nTo: '), 1)
        stale = self.write('stale', open(letter).read().replace('  mm: two', '  mm: old'), self.tmp)
        self.write('0000-cover-letter.patch', GIT_COVER)
        with self.assertRaisesRegex(mails.Error, 'not git\'s'):
            mails.write_mails(stale, self.tree, self.mails)

    def test_tools_refuse_a_tree_that_is_not_there(self):
        # Before tools/apply has run (a fresh machine), each says so.
        missing = os.path.join(self.tmp, 'no-such-tree')
        for tool in ('cover', 'mails', 'recipients'):
            with self.subTest(tool=tool):
                p = subprocess.run([os.path.join(TOOLS, tool), '--tree', missing],
                                   capture_output=True, text=True, check=False)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn(missing, p.stderr)
                self.assertIn('run tools/apply', p.stderr)
                self.assertNotIn('fatal:', p.stderr)

    def test_recipients_tool_prints_json(self):
        p = subprocess.run([os.path.join(TOOLS, 'mails.py'), 'recipients', '--tree', self.tree,
                            '--json'] + self.mails, capture_output=True, text=True, check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(json.loads(p.stdout)), 3)


if __name__ == '__main__':
    unittest.main()
