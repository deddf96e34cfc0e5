"""Host tests of tools/boot.py, tools/results.py and tools/kconfig_check.py against
recorded guest logs (tests/host/data/<case>/, recorded from today's /init,
see the README there) and spoiled copies of them (tests/host/spoil.py),
each of which must fail for its own reason, all the way to the summary's
last line.  The KTAP parser is the kernel tree's own kunit_parser: in make
check the tree is given (run.py --tree, SGR_KUNIT_TREE) and a missing one
fails; run by hand, the tests skip without one."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from helpers import DATA, REPO, TOOLS
import spoil

sys.path.insert(0, TOOLS)
import kconfig_check  # noqa: E402  pylint: disable=wrong-import-position
import ktap  # noqa: E402  pylint: disable=wrong-import-position
import boot  # noqa: E402  pylint: disable=wrong-import-position


def find_tree():
    for t in boot.default_trees():
        if os.path.isfile(os.path.join(t, 'tools', 'testing', 'kunit', 'kunit_parser.py')):
            return t
    return None


TREE = find_tree()
RESULTS = os.path.join(TOOLS, 'results.py')
BOOT = os.path.join(TOOLS, 'boot.py')


def run_mode(d, name):
    p = subprocess.run([BOOT, '--name', name, '--dir', d, '--tree', TREE],
                       capture_output=True, text=True)
    with open(os.path.join(d, 'boot.json')) as f:
        res = boot.ModeResult.from_json(f.read())
    return p, res


def summary(*dirs):
    return subprocess.run([RESULTS, 'summary', '--tree', TREE, *dirs],
                          capture_output=True, text=True)


@unittest.skipUnless(TREE, 'no kernel tree for kunit_parser (run tools/base-tree, or give '
                     'tests/host/run.py --tree)')
class RecordedBoots(unittest.TestCase):
    def copy(self, case='pass'):
        tmp = tempfile.mkdtemp(prefix='sgr-results.')
        self.addCleanup(shutil.rmtree, tmp)
        d = os.path.join(tmp, case)
        shutil.copytree(os.path.join(DATA, case), d)
        if os.path.exists(os.path.join(d, 'boot.json')):
            os.remove(os.path.join(d, 'boot.json'))
        return d

    def test_pass(self):
        p, res = run_mode(self.copy('pass'), 'pass')
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        cases = {c.name: c for c in res.cases}
        self.assertEqual(res.count(boot.Status.FAIL), 0)
        self.assertEqual(cases['guest_finished'].status, boot.Status.PASS)
        self.assertEqual(cases['console_clean'].status, boot.Status.PASS)
        # Every expected top-level case arrived, and the nested documents
        # carry their parents' names.
        self.assertGreater(res.expected, 10)
        self.assertEqual(res.seen, res.expected)
        self.assertIn('guest.zswap_stress_under_fire.pass1_data_verified', cases)
        self.assertIn('guest.zswap_stress_rebound', cases)
        self.assertIn('kunit.dma_reuse_cache', cases)
        self.assertGreater(len([c for c in cases if c.startswith('kunit.')]), 10)
        self.assertEqual(res.metrics.get('mismatches'), 0)
        self.assertGreater(res.metrics.get('pages', 0), 0)
        # The records are in the boot's one file: every stress pass, the
        # iotlb phases' requests, the metrics; none of an unknown kind.
        self.assertEqual(cases['guest_records'].status, boot.Status.PASS)
        self.assertEqual(res.metrics['pages'], sum(int(s['pages']) for s in res.stress))
        self.assertGreater(res.iotlb.get('on', 0), 0)
        self.assertIn('fire_hotplug', res.metrics)
        # The traced boot's verdict on the IOMMU's work is there too.
        self.assertEqual(cases['iotlb.buffer_events_marking_on'].status, boot.Status.PASS)

    def test_fixtures_speak_todays_dialect(self):
        """Each recording's numbers are in records the host reads (tools/boot.py),
        and no line of an older dialect is left: a guest whose output moved
        on without a new recording is caught here."""
        old = re.compile(r'^\s*# (BENCH |HIST |ZSWAPAB |iotlb-requests |(?!pass: )[a-z_]+: -?[0-9.]+$)')
        for case in ('pass', 'virtio', 'smmuv3'):
            with self.subTest(case=case):
                lines = boot.read_lines(os.path.join(DATA, case, 'guest.ktap'))
                self.assertEqual([l for l in lines if old.match(l)], [])
                res = boot.ModeResult(case)
                self.assertEqual(boot.take_records(res, boot.records(lines)), [])
                self.assertTrue(res.stress)
                self.assertEqual(sorted(res.iotlb), ['bounce', 'off', 'on'])
                self.assertIn('cache_hits', res.metrics)

    def test_a_record_without_its_number_is_not_read_silently(self):
        res = boot.ModeResult('m')
        bad = boot.take_records(res, boot.records([
            '# SGR METRIC cache_hits=', '# SGR IOTLB phase=on', '# SGR METRIC fire_switch=3']))
        self.assertEqual(bad, ['METRIC without its number (cache_hits=)',
                               'IOTLB without its number (phase=on)'])
        self.assertEqual(res.metrics, {'fire_switch': 3.0})
        self.assertEqual(res.iotlb, {})

    def test_kernel_lines_between_kunit_lines_still_parse(self):
        """Another driver's message can land at column 0 between KUnit's
        lines on the console; the boot must still pass."""
        d = self.copy('pass')
        path = os.path.join(d, 'console.log')
        with open(path) as f:
            lines = f.read().splitlines()
        at = [i for i, l in enumerate(lines) if l.startswith('    ok ')][:3]
        for i in reversed(at):
            lines.insert(i, 'input: AT Translated Set 2 keyboard as /devices/platform/i8042/serio0')
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        p, res = run_mode(d, 'pass')
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(res.seen, res.expected)

    def test_second_recorded_mode_passes(self):
        p, res = run_mode(self.copy('virtio'), 'virtio')
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(res.seen, res.expected)

    def test_recorded_arm64_smmuv3_boot_passes(self):
        # The arm64 guest: PL011 console, the guest's KTAP from the virtio
        # console, the SMMUv3's invalidations in the trace.
        p, res = run_mode(self.copy('smmuv3'), 'smmuv3')
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(res.seen, res.expected)
        names = [c.name for c in res.cases if c.status == boot.Status.PASS]
        self.assertIn('guest.iommu_mode_proof', names)
        self.assertIn('iotlb.buffer_events_marking_on', names)
        self.assertIn('kunit.dma_reuse_cache_iommu.dma_reuse_test_read_only', names)

    def test_each_spoiled_copy_fails_for_its_own_reason(self):
        for sp in spoil.SPOILS:
            with self.subTest(spoil=sp.name):
                tmp = tempfile.mkdtemp(prefix='sgr-spoil.')
                self.addCleanup(shutil.rmtree, tmp)
                d = spoil.make(sp, os.path.join(DATA, 'pass'), os.path.join(tmp, 'boot', sp.name))
                p, res = run_mode(d, sp.name)
                self.assertEqual(p.returncode, 1, p.stdout)
                failed = [(c.name, c.reason) for c in res.cases
                          if c.status == boot.Status.FAIL]
                self.assertIn(sp.case, [n for n, _ in failed], p.stdout)
                self.assertTrue(any(n == sp.case and sp.why in why for n, why in failed),
                                p.stdout)
                # ... and the summary's last line says so.
                s = summary(tmp)
                self.assertEqual(s.returncode, 1)
                self.assertIn(f'FAIL {sp.case}', s.stdout)
                last = s.stdout.strip().splitlines()[-1]
                self.assertRegex(last, r'^\d+ passed, [1-9]\d* failed')

    def test_an_allowed_skip_stays_a_skip(self):
        # The same skips as the driver-not-bound spoil, in a boot whose
        # kernel lacks the driver (tools/expect.py allows them): it passes.
        d = self.copy('pass')
        spoil.driver_not_bound(d)
        with open(os.path.join(d, 'expect.json')) as f:
            e = json.load(f)
        e['allowed_skips'] = {f'guest.{c}': 'the kernel has no CONFIG_DMA_REUSE_LZ4_TEST'
                              for c in ('zswap_dma_driver', 'zswap_teardown',
                                        'zswap_unbind_live_tfm', 'zswap_stress_rebound')}
        with open(os.path.join(d, 'expect.json'), 'w') as f:
            json.dump(e, f)
        p, res = run_mode(d, 'no-driver')
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(sorted(res.skips), ['guest.zswap_dma_driver', 'guest.zswap_stress_rebound',
                                             'guest.zswap_teardown'])
        self.assertIn('guest.zswap_dma_driver: 1 skipped (the kernel has no', p.stdout)

    def test_summary_counts_and_last_line(self):
        tmp = tempfile.mkdtemp(prefix='sgr-summary.')
        self.addCleanup(shutil.rmtree, tmp)
        d = os.path.join(tmp, 'boot', 'pass')
        shutil.copytree(os.path.join(DATA, 'pass'), d)
        run_mode(d, 'pass')
        with open(os.path.join(tmp, 'series.ktap'), 'w') as f:
            f.write(ktap.document([(ktap.PASS, 'series and patches/ agree', ''),
                                   (ktap.FAIL, 'apply', 'does not apply'),
                                   (ktap.SKIP, 'optional', 'not here')]))
        p = summary(tmp)
        self.assertEqual(p.returncode, 1)
        with open(os.path.join(d, 'boot.json')) as f:
            cases = json.load(f)['cases']
        want_pass = sum(c['status'] == 'pass' for c in cases) + 1
        want_fail = sum(c['status'] == 'fail' for c in cases) + 1
        want_skip = sum(c['status'] == 'skip' for c in cases) + 1
        last = p.stdout.strip().splitlines()[-1]
        self.assertEqual(last, f'{want_pass} passed, {want_fail} failed, {want_skip} skipped')



@unittest.skipUnless(TREE, 'no kernel tree for kunit_parser')
class Summary(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='sgr-summary.')
        self.addCleanup(shutil.rmtree, self.tmp)

    def expect(self, d, **kw):
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, 'expect.json'), 'w') as f:
            json.dump(kw, f)

    def doc(self, name, text):
        with open(os.path.join(self.tmp, name), 'w') as f:
            f.write(text)

    def test_summary_of_nothing_is_a_failure(self):
        p = summary(self.tmp)
        self.assertEqual(p.returncode, 1)
        self.assertIn('no test ran', p.stdout)

    def test_missing_boot_and_boot_without_result_fail(self):
        self.doc('series.ktap', ktap.document([(ktap.PASS, 'a', '')]))
        self.expect(self.tmp, stages=['series.ktap'], boots=['vtd-strict', 'noiommu'])
        self.expect(os.path.join(self.tmp, 'boot', 'noiommu'), label='noiommu', guest_cases=[])
        p = summary(self.tmp)
        self.assertEqual(p.returncode, 1)
        self.assertIn('FAIL boot: the boot never started', p.stdout)
        self.assertIn('FAIL boot: the boot started but wrote no result', p.stdout)
        self.assertEqual(p.stdout.strip().splitlines()[-1], '1 passed, 2 failed')

    def test_missing_stage_document_fails(self):
        self.doc('series.ktap', ktap.document([(ktap.PASS, 'a', '')]))
        self.expect(self.tmp, stages=['series.ktap', 'lint.ktap'], boots=[])
        p = summary(self.tmp)
        self.assertEqual(p.returncode, 1)
        self.assertIn('FAIL lint.ktap: the stage wrote no KTAP document', p.stdout)

    def test_document_without_plan_or_cut_short_fails(self):
        self.doc('noplan.ktap', 'KTAP version 1\nok 1 a\n')
        self.doc('short.ktap', 'KTAP version 1\n1..3\nok 1 a\n')
        p = summary(self.tmp)
        self.assertEqual(p.returncode, 1)
        self.assertIn('FAIL noplan.ktap: the document has no plan', p.stdout)
        self.assertIn('FAIL short.<case 2: no result line>: crashed', p.stdout)
        self.assertIn('missing expected subtest', p.stdout)

    def test_a_document_the_parser_gives_up_on_fails(self):
        self.doc('broken.ktap', 'KTAP version 1\n1..2\n    KTAP version 1\n'
                 '    1..1\n    ok 1 a\nok 1 x\n    KTAP version 1\nok 2 y\n')
        p = summary(self.tmp)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertNotIn('Traceback', p.stderr)
        self.assertRegex(p.stdout.strip().splitlines()[-1], r'^\d+ passed, [1-9]\d* failed')

    def test_parent_not_ok_over_passing_leaves_fails(self):
        self.doc('nested.ktap', 'KTAP version 1\n1..1\n    KTAP version 1\n'
                 '    # Subtest: parent\n    1..2\n    ok 1 a\n    ok 2 b\n'
                 'not ok 1 parent # its own verdict\n')
        p = summary(self.tmp)
        self.assertEqual(p.returncode, 1)
        self.assertIn('FAIL nested.parent: its own verdict', p.stdout)
        self.assertEqual(p.stdout.strip().splitlines()[-1], '2 passed, 1 failed')

    def test_shell_and_python_writers_agree(self):
        with tempfile.NamedTemporaryFile('w', suffix='.sh', delete=False) as f:
            f.write(f'. {TOOLS}/ktap.sh\nktap_begin 2\nktap_result 0 a\n'
                    'ktap_subtest_begin b 1\nktap_result skip c why\nktap_subtest_end 1 bad\n')
        self.addCleanup(os.remove, f.name)
        sh = subprocess.run(['sh', f.name], capture_output=True, text=True, check=True).stdout
        import io  # pylint: disable=import-outside-toplevel
        buf = io.StringIO()
        w = ktap.Writer(buf)
        w.begin(2)
        w.result(ktap.PASS, 'a')
        w.subtest_begin('b', 1)
        w.result(ktap.SKIP, 'c', 'why')
        w.subtest_end(ktap.FAIL, 'bad')
        self.assertEqual(sh, buf.getvalue())


class ConsolePatterns(unittest.TestCase):
    def test_faults_and_splats_are_caught(self):
        pats = boot.load_patterns()
        bad = [
            'WARNING: CPU: 1 PID: 1 at kernel/dma/debug.c:1049 check_unmap+0x6f0/0x8a0',
            'DMAR: DRHD: handling fault status reg 2',
            'DMAR: [DMA Read NO_PASID] Request device [00:10.0] fault addr 0xffffe000',
            'BUG: sleeping function called from invalid context at mm/page_alloc.c:4',
            'WARNING: possible circular locking dependency detected',
            'DMA-API: edu 0000:00:10.0: device driver failed to check map error',
            'ODEBUG: free active (active state 0) object: 000000001 object type: timer_list',
        ]
        for line in bad:
            with self.subTest(line=line):
                self.assertEqual(boot.bad_console_lines([line], pats), [line])

    def test_benign_lines_pass(self):
        pats = boot.load_patterns()
        ok = ['DMA-API: preallocated 65536 debug entries',
              'DMA-API: debugging enabled by kernel config',
              'DMAR: Intel(R) Virtualization Technology for Directed I/O',
              'zswap: loaded using pool lz4/zsmalloc']
        self.assertEqual(boot.bad_console_lines(ok, pats), [])


class KconfigCheck(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='sgr-kconfig.')
        self.addCleanup(shutil.rmtree, self.tmp)
        os.makedirs(os.path.join(self.tmp, 'tree'))
        with open(os.path.join(self.tmp, 'tree', 'Kconfig'), 'w') as f:
            f.write('config FOO\n\tbool "foo"\nmenuconfig BAR\n\tbool "bar"\nconfig BAZ\n\tbool\n')

    def write(self, name, text):
        p = os.path.join(self.tmp, name)
        with open(p, 'w') as f:
            f.write(text)
        return p

    def run_check(self, frag, conf, *extra):
        return kconfig_check.main([self.write('frag', frag), self.write('conf', conf),
                                   '--tree', os.path.join(self.tmp, 'tree'), *extra])

    def test_survivors_pass(self):
        self.assertEqual(self.run_check('CONFIG_FOO=y\n# CONFIG_BAR is not set\n',
                                        'CONFIG_FOO=y\n# CONFIG_BAR is not set\n'), 0)

    def test_dropped_option_fails(self):
        self.assertEqual(self.run_check('CONFIG_FOO=y\n', '# CONFIG_FOO is not set\n'), 1)

    def test_wrong_value_fails(self):
        self.assertEqual(self.run_check('CONFIG_FOO=17\n', 'CONFIG_FOO=18\n'), 1)

    def test_unset_option_that_is_set_fails(self):
        self.assertEqual(self.run_check('# CONFIG_BAZ is not set\n', 'CONFIG_BAZ=y\n'), 1)

    def test_undefined_option_is_an_error_unless_allowed(self):
        self.assertEqual(self.run_check('CONFIG_LATER=y\n', ''), 1)
        self.assertEqual(self.run_check('CONFIG_LATER=y\n', '', '--allow-undefined'), 0)
        # A defined option that did not survive is an error even then.
        self.assertEqual(self.run_check('CONFIG_FOO=y\n', '', '--allow-undefined'), 1)

    def test_on_takes_a_module_for_an_option_that_must_be_built(self):
        # tools/build --require: allmodconfig builds the series' options
        # as modules where it can; off is still a failure.
        self.assertEqual(self.run_check('CONFIG_FOO=y\n', 'CONFIG_FOO=m\n'), 1)
        self.assertEqual(self.run_check('CONFIG_FOO=y\n', 'CONFIG_FOO=m\n', '--on'), 0)
        self.assertEqual(self.run_check('CONFIG_FOO=y\n', '# CONFIG_FOO is not set\n', '--on'), 1)

    def test_the_project_fragment_parses(self):
        with open(os.path.join(REPO, 'kernel-config')) as f:
            frag = kconfig_check.parse_config(f)
        self.assertEqual(frag.get('CONFIG_64BIT'), 'y')
        self.assertEqual(frag.get('CONFIG_SLUB_TINY'), 'n')
        # One reason comment per option: every option line follows a comment
        # or another option of the same group.
        with open(os.path.join(REPO, 'kernel-config')) as f:
            lines = [l.rstrip('\n') for l in f]
        for i, line in enumerate(lines):
            if line.startswith('CONFIG_') or line.endswith('is not set'):
                self.assertTrue(lines[i - 1].startswith('#') or lines[i - 1].startswith('CONFIG_'),
                                f'no reason comment above {line}')


class ConsoleReplay(unittest.TestCase):
    """printk's replay of a cut-off record (seen on 7.3, KUnit printing
    while another CPU prints) must not make a KTAP line appear twice."""

    def test_cut_off_line_and_marker_are_dropped(self):
        text = ('    ok 17 dma_reuse_test_fallback_overlap\n'
                '    ok 18 dma_reuse_test_debu\n'
                '** replaying previous printk message **\n'
                '    ok 18 dma_reuse_test_debug_marker\n'
                '    ok 19 dma_reuse_test_misuse_free\n'
                # A marker whose next line does not continue the cut-off
                # part is left alone.
                'something else\n'
                '** replaying previous printk message **\n'
                'unrelated\n')
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'console.log')
            with open(path, 'w') as f:
                f.write(text)
            got = boot.console_lines(path)
        self.assertEqual(got, ['    ok 17 dma_reuse_test_fallback_overlap',
                               '    ok 18 dma_reuse_test_debug_marker',
                               '    ok 19 dma_reuse_test_misuse_free',
                               'something else',
                               '** replaying previous printk message **',
                               'unrelated'])


if __name__ == '__main__':
    unittest.main()
