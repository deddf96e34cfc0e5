"""Host tests of tools/report.py, the report of make demo, on synthetic
benchmark boots: the wall-time and instruction tables, the ratios and
target verdicts, the interleaved zswap A/B, the step-by-step section, the
plot and the raw files; and that a run without numbers is an error, not an
empty report."""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from helpers import TOOLS

sys.path.insert(0, TOOLS)
import boot  # noqa: E402  pylint: disable=wrong-import-position

REPORT = os.path.join(TOOLS, 'report.py')


def bench_line(method, granule, threads, map_p50, unmap_p50, hits=0, misses=0,
               mean=None, two_step='-'):
    mm, um = (map_p50, unmap_p50) if mean is None else mean
    return (f'# SGR BENCH method={method} mode={method} granule={granule} threads={threads} '
            f'dir=BIDIRECTIONAL map_mean_ns={mm} map_stddev_ns=1 map_p50_ns={map_p50} '
            f'map_p99_ns={map_p50 * 2} map_hist_sum=100 unmap_mean_ns={um} '
            f'unmap_stddev_ns=1 unmap_p50_ns={unmap_p50} unmap_p99_ns={unmap_p50 * 2} '
            f'unmap_hist_sum=100 hits={hits} misses={misses} fallbacks=0 iterations=100 '
            f'iova=ok two_step={two_step}')


def zswap_line(n, marking, map_ns, requests=1000, store=900, load=800, served=None):
    return (f'# SGR ZSWAPAB pass={n} marking={marking} rc=0 store_pps={store} load_pps={load} '
            f'mismatches=0 requests={requests} map_ns={map_ns} req_ns=10000000' +
            (f' served={served}' if served is not None else ''))


class Report(unittest.TestCase):
    def setUp(self):
        self.run_dir = tempfile.mkdtemp(prefix='sgr-report.')
        self.addCleanup(shutil.rmtree, self.run_dir)

    def boot(self, mode, lines, kind='boot'):
        d = os.path.join(self.run_dir, kind, mode)
        os.makedirs(d)
        with open(os.path.join(d, 'guest.ktap'), 'w') as f:
            f.write('KTAP version 1\n1..2\n' + '\n'.join(lines) + '\nok 1 bench_dma_map\n')
        with open(os.path.join(d, 'qemu-cmdline'), 'w') as f:
            f.write(f'qemu-system-x86_64 ... {mode}\n')
        # What tools/vm's tools/boot.py makes of it: the records of the
        # guest's KTAP, sorted the way boot.py sorts them.
        res = boot.ModeResult(mode, [boot.Case('guest.bench_dma_map', boot.Status.PASS)])
        self.assertEqual(boot.take_records(res, boot.records(lines)), [])
        with open(os.path.join(d, 'boot.json'), 'w') as f:
            f.write(res.to_json())
        return d

    def report(self):
        """The run of report.py; its stdout (the summary, report.txt) with
        report-full.txt (every table) before it, which most tests read."""
        p = subprocess.run([REPORT, self.run_dir], capture_output=True, text=True,
                           timeout=120)
        self.summary = p.stdout
        full = os.path.join(self.run_dir, 'report-full.txt')
        if os.path.exists(full):
            with open(full) as f:
                p.stdout = f.read() + p.stdout
        return p

    def test_tables_ratios_and_raw_files(self):
        self.boot('vtd-strict', [
            bench_line('sg1', 2, 1, 3000, 7000),
            bench_line('reuse', 2, 1, 300, 200, hits=99, misses=1),
            bench_line('reuse', 2, 2, 300, 250, hits=98, misses=2),
            bench_line('sg1', 2, 2, 3000, 9000),
            bench_line('iova', 2, 1, 2000, 6000),
            '# SGR HIST method=reuse granule=2 threads=1 side=map lo=256 hi=287 count=60',
            '# SGR HIST method=reuse granule=2 threads=1 side=map lo=288 hi=319 count=40',
            '# SGR HIST method=reuse granule=2 threads=1 side=unmap lo=192 hi=223 count=100',
        ])
        self.boot('noiommu', [bench_line('sg1', 2, 1, 600, 500),
                              bench_line('iova', 2, 1, 610, 500, two_step='fallback')])
        p = self.report()
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout
        self.assertIn('== wall time under TCG: 8 KiB per map', out)
        # reuse 500 ns against sg1 10000 ns in the same boot: 0.05, met.
        self.assertIn('vtd-strict: reuse / plain at 1 thread(s) = 0.050 (target <= 0.1): met',
                      out)
        # against no IOMMU (1100 ns): 0.45, met (at most 0.6).
        self.assertIn('vtd-strict: reuse / floor, wall time (TCG) = 0.455 (target <= 0.6): met',
                      out)
        # 550 ns at 2 threads against 500 at 1: 1.10, met (noise allowance).
        self.assertIn('at 2 threads / at 1 (not growing, 1.1 allowing for noise) = 1.10', out)
        # the alternatives: the IOVA API at 8000 of plain's 10000.
        self.assertRegex(out, r'ref\.: link/unlink per req\.\s+vtd-strict\s+8000\s+0\.800')
        self.assertIn('API not usable here: dma_map_sg() timed', out)
        # the histogram folds the two fine buckets into 256 -> 511.
        self.assertRegex(out, r'256 -> 511\s*: 100')
        with open(os.path.join(self.run_dir, 'results.csv')) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 7)
        self.assertEqual({r['iommu_mode'] for r in rows}, {'vtd-strict', 'noiommu'})
        with open(os.path.join(self.run_dir, 'hist.csv')) as f:
            self.assertEqual(len(list(csv.reader(f))), 4)
        with open(os.path.join(self.run_dir, 'results.json')) as f:
            j = json.load(f)
        self.assertEqual(len(j['modes']['vtd-strict']['runs']), 5)
        with open(os.path.join(self.run_dir, 'report.txt')) as f:
            self.assertIn('== targets', f.read())
        self.assertIn('nothing: every check of every demo boot held', out)

    def test_instruction_tables_and_targets(self):
        # icount boots: the means are instructions.
        self.boot('vtd-strict', [bench_line('sg1', 2, 1, 5000, 9000, mean=(5100, 9100)),
                                 bench_line('reuse', 2, 1, 150, 100, mean=(160, 110)),
                                 bench_line('unmarked', 2, 1, 5000, 9000, mean=(5300, 9100))],
                  kind='icount')
        self.boot('noiommu', [bench_line('sg1', 2, 1, 250, 90, mean=(200, 100)),
                              bench_line('unmarked', 2, 1, 250, 90, mean=(203, 100)),
                              bench_line('reuse', 2, 1, 250, 90, mean=(210, 100))],
                  kind='icount')
        p = self.report()
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout
        self.assertIn('== guest instructions under -icount: 8 KiB per map', out)
        # hit: 270 against the floor's 300: 0.9, missed.
        self.assertIn('vtd-strict: reuse / floor (noiommu), instructions (icount) = 0.900 '
                      '(target <= 0.6): MISSED', out)
        # unmarked: 303 of 300 = 1.01, met; 14400 of 14200 = 1.014, met.
        self.assertIn('noiommu: unmarked list through the reuse calls / plain = 1.010 '
                      '(target <= 1.02): met', out)
        # a device without a cache: 310 of 300 = 1.033: missed.
        self.assertIn('noiommu: marked list, device without a cache / plain = 1.033 '
                      '(target <= 1.02): MISSED', out)
        with open(os.path.join(self.run_dir, 'results-icount.csv')) as f:
            self.assertEqual(len(list(csv.DictReader(f))), 6)

    def test_hit_less_the_empty_loop_and_the_refused_buffer(self):
        # Each boot's empty mode (its loop and clock alone) comes off both
        # sides of the hit's ratio; a refused buffer is compared with plain
        # where there is a cache, and has no line where there is none.
        self.boot('vtd-strict', [bench_line('sg1', 2, 1, 5000, 9000, mean=(5000, 9000)),
                                 bench_line('reuse', 2, 1, 150, 100, mean=(160, 110)),
                                 bench_line('refused', 2, 1, 5000, 9000, mean=(5100, 9100)),
                                 bench_line('empty', 2, 1, 40, 40, mean=(45, 45))],
                  kind='icount')
        self.boot('noiommu', [bench_line('sg1', 2, 1, 250, 90, mean=(200, 100)),
                              bench_line('refused', 2, 1, 250, 90, mean=(204, 100)),
                              bench_line('empty', 2, 1, 40, 40, mean=(45, 45))],
                  kind='icount')
        p = self.report()
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout
        # 270 - 90 = 180 against 300 - 90 = 210: 0.857; raw 0.900 stays.
        self.assertIn('vtd-strict: reuse / floor (noiommu), instructions (icount) = 0.900 '
                      '(target <= 0.6): MISSED', out)
        self.assertIn("vtd-strict: the same, map + unmap only: less each boot's empty mode "
                      '(180 / 210) = 0.857 (target <= 0.6): MISSED', out)
        # 14200 against 14000: 1.014, met.
        self.assertIn('vtd-strict: refused buffer (remembered) through the reuse calls / plain '
                      '= 1.014 (target <= 1.02): met', out)
        self.assertNotIn('noiommu: refused buffer', out)
        self.assertRegex(out, r'vtd-strict\s+empty: loop and clock\s+90\s')

    def test_missed_target_is_said(self):
        self.boot('vtd-strict', [bench_line('sg', 2, 1, 1000, 1000),
                                 bench_line('reuse', 2, 1, 400, 400)])
        out = self.report().stdout
        # no sg1 run (an older kernel): compared with sg.
        self.assertIn('= 0.400 (target <= 0.1): MISSED', out)

    def test_zswap_interleaved_median_and_spread(self):
        lines = []
        for n, (off, on) in enumerate([(600000, 250000), (700000, 260000),
                                       (650000, 240000), (640000, 1000000),
                                       (660000, 255000)], 1):
            lines += [zswap_line(n, 'off', off), zswap_line(n, 'on', on)]
        self.boot('vtd-strict', lines + [bench_line('sg1', 2, 1, 1, 1)], kind='icount')
        store = [zswap_line(n, arm, 1, store=s) for n, (arm, s) in
                 enumerate([('off', 900), ('on', 905), ('off', 880), ('on', 890),
                            ('off', 910), ('on', 100)], 1)]
        self.boot('passthrough', store + [bench_line('sg1', 2, 1, 1, 1)])
        out = self.report().stdout
        # map ns per request, off: median 650 of 600..700; on: 255 of 240..1000.
        self.assertRegex(out, r'vtd-strict\s+plain\s+5\s+900 \[900-900\]\s+800 \[800-800\]'
                              r'\s+650 \[600-700\]')
        self.assertRegex(out, r'vtd-strict\s+cache\s+5 .*255 \[240-1000\]')
        self.assertIn('vtd-strict: driver map + unmap instructions per request, cache / plain '
                      '(255 / 650); the fall must be at least the buffer\'s share 0.50 (no '
                      'served count: one mapping of two) = 0.392 (target <= 0.5): met', out)
        # on: median 890 of 905, 890, 100; off spread 880..910: inside.
        self.assertIn('passthrough: store_pps of the cache arm, median 890, against the '
                      'plain passes [880-910]: met', out)

    def test_zswap_buffer_share_from_the_same_boot(self):
        # plain sg1: 4 KiB 1000, 8 KiB 1500: the buffer's share is 0.6.
        lines = [bench_line('sg1', 1, 1, 1, 1, mean=(500, 500)),
                 bench_line('sg1', 2, 1, 1, 1, mean=(700, 800))]
        for n in range(1, 4):
            lines += [zswap_line(n, 'off', 2500000), zswap_line(n, 'on', 1100000)]
        self.boot('vtd-strict', lines, kind='icount')
        out = self.report().stdout
        self.assertIn("the fall must be at least the buffer's share 0.60 (no served count: "
                      'one mapping of two, plain 8 KiB 1500 over 4 + 8 KiB 2500) = 0.440 '
                      '(target <= 0.4): MISSED', out)

    def test_zswap_buffer_share_from_the_served_count(self):
        # Half the requests map the buffer (plain 8 KiB: 1500) of 2500 a
        # request: the share is 0.3; on / off 0.72 misses 0.7.
        lines = [bench_line('sg1', 2, 1, 1, 1, mean=(700, 800))]
        for n in range(1, 4):
            lines += [zswap_line(n, 'off', 2500000, served=0),
                      zswap_line(n, 'on', 1800000, served=500)]
        self.boot('vtd-strict', lines, kind='icount')
        out = self.report().stdout
        self.assertIn("the fall must be at least the buffer's share 0.30 (0.50 buffer mappings "
                      'per request x plain 8 KiB 1500 over 2500) = 0.720 (target <= 0.7): MISSED',
                      out)

    def test_steps_section_and_status(self):
        self.boot('noiommu', [bench_line('sg1', 2, 1, 1, 1, mean=(250, 150))], kind='icount')
        d = self.boot('noiommu', [], kind='steps')
        with open(os.path.join(d, 'steps.json'), 'w') as f:
            json.dump({'methods': {'sg1': {
                'call': 50,
                'map': {'insns': 120, 'segments': [['lz4dt_bench_plain_map', 10],
                                                   ['dma_map_sg_attrs', 110]],
                        'by_symbol': {'lz4dt_bench_plain_map': 10,
                                      'dma_map_sg_attrs': 110}},
                'unmap': {'insns': 80, 'segments': [['dma_unmap_sg_attrs', 80]],
                          'by_symbol': {'dma_unmap_sg_attrs': 80}}}},
                'errors': ['not traced: reuse']}, f)
        with open(os.path.join(d, 'gdb-run.status'), 'w') as f:
            f.write('1\n')
        out = self.report().stdout
        self.assertIn('sg1 (call 50): map 120 + unmap 80 = 200 instructions', out)
        self.assertIn('map, in order: lz4dt_bench_plain_map 10 > dma_map_sg_attrs 110',
                      out)
        # 400 in the benchmark, 200 stepped: 200 of timestamps and loop.
        self.assertIn("sg1: the icount benchmark's 400 per request less these 200: 200", out)
        self.assertIn('!!! not traced: reuse', out)
        self.assertIn('!!! noiommu (steps): tools/steps.py: exit status 1', out)

    def test_steps_hit_target_whole_and_api_only(self):
        def method(do_map, api_map, do_unmap, api_unmap, mark=0):
            m = {do_map[0]: do_map[1], api_map[0]: api_map[1]}
            if mark:
                m['sg_mark_reusable'] = mark
            u = {do_unmap[0]: do_unmap[1], api_unmap[0]: api_unmap[1]}
            return {'call': 50,
                    'map': {'insns': sum(m.values()), 'segments': [[k, v] for k, v in m.items()],
                            'by_symbol': m},
                    'unmap': {'insns': sum(u.values()), 'segments': [[k, v] for k, v in u.items()],
                              'by_symbol': u}}
        self.boot('noiommu', [bench_line('sg1', 2, 1, 1, 1, mean=(250, 150))], kind='icount')
        self.boot('vtd-strict', [bench_line('reuse', 2, 1, 1, 1, mean=(120, 80))],
                  kind='icount')
        floor = self.boot('noiommu', [], kind='steps')
        with open(os.path.join(floor, 'steps.json'), 'w') as f:
            json.dump({'methods': {'sg1': method(('lz4dt_bench_plain_map', 15),
                                                 ('dma_map_sg_attrs', 115),
                                                 ('lz4dt_bench_plain_unmap', 7),
                                                 ('dma_unmap_sg_attrs', 74))}}, f)
        hit = self.boot('vtd-strict', [], kind='steps')
        with open(os.path.join(hit, 'steps.json'), 'w') as f:
            json.dump({'methods': {'reuse': method(('dma_reuse_map_benchmark_do_map', 31),
                                                   ('__dma_reuse_map_sg', 70),
                                                   ('dma_reuse_map_benchmark_do_unmap', 10),
                                                   ('__dma_reuse_unmap_sg', 31), mark=23)}}, f)
        out = self.report().stdout
        # the whole request: 165 of 211 = 0.78, missed.
        self.assertIn('vtd-strict: reuse / floor, single-stepped instructions (165 / 211) = '
                      '0.782 (target <= 0.6): MISSED', out)
        # the DMA API's functions alone: 101 of 189 = 0.53, met.
        self.assertIn("vtd-strict: reuse / floor, single-stepped, the DMA API's functions only "
                      '(101 / 189) = 0.534 (target <= 0.6): met', out)

    def test_summary_at_a_glance(self):
        """report.txt: the setup (ten lines at most), the targets, the
        alternatives side by side, the zswap arms with the IOMMU's work,
        the model, then the failed checks and the missed targets apart."""
        with open(os.path.join(self.run_dir, 'setup.txt'), 'w') as f:
            f.write(''.join(f'  line {i}\n' for i in range(14)))
        ic = [bench_line('sg1', 2, 1, 1, 1, mean=(1400, 1100)),
              bench_line('reuse', 2, 1, 1, 1, mean=(180, 120)),
              bench_line('bounce_out', 2, 1, 1, 1, mean=(150, 650)),
              bench_line('owned', 2, 1, 1, 1, mean=(140, 640)),
              bench_line('empty', 2, 1, 1, 1, mean=(50, 50))]
        for n in range(1, 6):
            ic += [zswap_line(n, 'off', 5000, store=1000).replace('marking=off',
                                                                 'arm=plain marking=off'),
                   zswap_line(n, 'on', 3000, store=1100, served=500).replace(
                       'marking=on', 'arm=cache marking=on'),
                   zswap_line(n, 'off', 3500, store=1050).replace('marking=off',
                                                                 'arm=bounce marking=off')]
        self.boot('vtd-strict', ic, kind='icount')
        lazy = [zswap_line(n, 'off', 4000, store=s).replace('marking=off', 'arm=plain marking=off')
                for n, s in enumerate((1090, 1120, 1095, 1080, 1110), 1)]
        self.boot('vtd-lazy', lazy, kind='icount')
        d = self.boot('vtd-strict', [bench_line('sg1', 2, 1, 3000, 7000),
                                     bench_line('reuse', 2, 1, 300, 200),
                                     bench_line('reuse', 2, 2, 300, 260),
                                     '# SGR CLENS lens=1800,2600,3100,3700 source=zswap',
                                     '# SGR CLEN lo=2944 hi=3071 count=10'])
        res = boot.load(d)
        res.metrics.update(iotlb_requests_off=100, iotlb_events_per_request_off=2.0,
                           iotlb_requests_on=100, iotlb_events_per_request_on=1.4,
                           iotlb_requests_bounce=100, iotlb_events_per_request_bounce=1.0)
        res.cases.append(boot.Case('guest.zswap_stress_basic', boot.Status.FAIL,
                                   'page 7 differs'))
        with open(os.path.join(d, 'boot.json'), 'w') as f:
            f.write(res.to_json())
        p = self.report()
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(self.run_dir, 'report.txt')) as f:
            summary = f.read()
        self.assertTrue(self.summary.startswith(summary))
        lines = summary.splitlines()
        self.assertLessEqual(len(lines), 150)
        self.assertIn('  line 9', lines)
        self.assertNotIn('  line 10', lines)
        heads = [l for l in lines if l.startswith('== ')]
        self.assertEqual([h.split(':')[0].split(',')[0] for h in heads[1:]],
                         ['== targets (met or MISSED; measurements', '== the alternatives',
                          '== zswap end to end on lz4-dmatest',
                          '== MODEL', '== checks that failed in this run (make check fails on them)',
                          '== targets missed (measurements'])
        # the hit (300 - 100 = 200) against the zswap-shaped bounce (700): 0.29, met.
        self.assertIn('hit <= 1/2 of zswap-shaped bounce, instr., vtd-strict (x86_64): '
                      '200 / 700 = 0.29 -> met', summary)
        self.assertRegex(summary, r'owned buffer, linked once\s+680 \| -')
        self.assertIn('1800,2600,3100,3700 bytes', summary)
        # cache 1100 against lazy [1080-1120] and bounce 1050: met.
        self.assertIn('zswap store rate (counted), cache >= lazy spread and > bounce, '
                      'vtd-strict: cache 1100 [1100-1100], lazy 1095 [1080-1120], bounce 1050 '
                      '[1050-1050] pages/s -> met', summary)
        self.assertRegex(summary, r'vtd-strict, bounce\s+1050 \[1050-1050\].*\s1\.00\s')
        # the model: 0.6 mappings saved x (2-4 + 4-8) us = 3.6-7.2 us.
        self.assertRegex(summary, r'vtd-strict\s+2\.00\s+1\.40\s+1\.00\s+3\.6-7\.2')
        self.assertIn('MODEL, not a measurement', summary)
        tail = summary[summary.index('== checks that failed'):]
        self.assertIn('!!! vtd-strict: guest.zswap_stress_basic: page 7 differs', tail)
        missed = tail[tail.index('== targets missed'):]
        self.assertIn('MISSED driver map+unmap instr./request fall >= buffer share, vtd-strict',
                      missed)
        self.assertNotIn('page 7', missed)

    @unittest.skipUnless(shutil.which('gnuplot'), 'gnuplot is not installed')
    def test_ratio_plot(self):
        self.boot('vtd-strict', [bench_line('sg1', 2, 1, 3000, 7000),
                                 bench_line('reuse', 2, 1, 300, 200)])
        self.boot('vtd-strict', [bench_line('sg1', 2, 1, 1, 1, mean=(5000, 5000)),
                                 bench_line('reuse', 2, 1, 1, 1, mean=(100, 100))],
                  kind='icount')
        p = self.report()
        self.assertEqual(p.returncode, 0, p.stderr)
        png = os.path.join(self.run_dir, 'ratios.png')
        self.assertIn(png, p.stdout)
        with open(png, 'rb') as f:
            self.assertEqual(f.read(8), b'\x89PNG\r\n\x1a\n')
        with open(os.path.join(self.run_dir, 'ratios.dat')) as f:
            rows = [l.split() for l in f]
        self.assertEqual(rows[0], ['#', 'mode', 'sg1_time', 'sg1_insns', 'reuse_time', 'reuse_insns'])
        self.assertEqual(rows[1], ['vtd-strict', '1.0000', '1.0000', '0.0500', '0.0200'])

    def test_no_numbers_is_an_error(self):
        self.boot('vtd-strict', ['# bench output: dma_map_benchmark: open failed'])
        p = self.report()
        self.assertEqual(p.returncode, 1)
        self.assertIn('no benchmark run produced numbers', p.stderr)

    def test_no_boot_directory(self):
        p = self.report()
        self.assertEqual(p.returncode, 1)
        self.assertIn('no boot directory', p.stderr)


if __name__ == '__main__':
    unittest.main()
