"""Host tests of tools/report.py, the report of make demo, on synthetic
benchmark boots: the tables, the ratios and target verdicts, and the raw
files; and that a run without numbers is an error, not an empty report."""
import csv
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from helpers import TOOLS

REPORT = os.path.join(TOOLS, 'report.py')


def bench_line(method, granule, threads, map_p50, unmap_p50, hits=0, misses=0):
    return (f'# BENCH method={method} mode={method} granule={granule} threads={threads} '
            f'dir=BIDIRECTIONAL map_mean_ns={map_p50} map_stddev_ns=1 map_p50_ns={map_p50} '
            f'map_p99_ns={map_p50 * 2} map_hist_sum=100 unmap_mean_ns={unmap_p50} '
            f'unmap_stddev_ns=1 unmap_p50_ns={unmap_p50} unmap_p99_ns={unmap_p50 * 2} '
            f'unmap_hist_sum=100 hits={hits} misses={misses} fallbacks=0 iterations=100 iova=ok')


class Report(unittest.TestCase):
    def setUp(self):
        self.run_dir = tempfile.mkdtemp(prefix='sgr-report.')
        self.addCleanup(shutil.rmtree, self.run_dir)

    def boot(self, mode, lines):
        d = os.path.join(self.run_dir, 'boot', mode)
        os.makedirs(d)
        with open(os.path.join(d, 'guest.ktap'), 'w') as f:
            f.write('KTAP version 1\n1..2\n' + '\n'.join(lines) + '\nok 1 bench_dma_map\n')
        with open(os.path.join(d, 'qemu-cmdline'), 'w') as f:
            f.write(f'qemu-system-x86_64 ... {mode}\n')

    def report(self):
        return subprocess.run([REPORT, self.run_dir], capture_output=True, text=True)

    def test_tables_ratios_and_raw_files(self):
        self.boot('vtd-strict', [
            bench_line('sg', 2, 1, 3000, 7000),
            bench_line('reuse', 2, 1, 300, 200, hits=99, misses=1),
            bench_line('reuse', 2, 2, 300, 250, hits=98, misses=2),
            bench_line('sg', 2, 2, 3000, 9000),
            '# HIST reuse 2 1 map 256 287 60',
            '# HIST reuse 2 1 map 288 319 40',
            '# HIST reuse 2 1 unmap 192 223 100',
            '# ZSWAPAB marking=on rc=0 store_pps=900 load_pps=800 mismatches=0 '
            'requests=1000 map_ns=500000 req_ns=10000000',
        ])
        self.boot('noiommu', [bench_line('sg', 2, 1, 600, 500)])
        p = self.report()
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout
        self.assertIn('== 8 KiB per map', out)
        # reuse 500 ns against sg 10000 ns in the same boot: 0.05, met.
        self.assertIn('vtd-strict: reuse / plain map+unmap = 0.050 (target <= 0.1): met', out)
        # against no IOMMU (1100 ns): 0.45, met.
        self.assertIn('(noiommu boot) = 0.45 (target <= 1): met', out)
        # 550 ns at 2 threads against 500 at 1: 1.10, met (noise allowance).
        self.assertIn('per request = 1.10', out)
        # zswap A/B: 500 ns mapping of 10000 ns per request = 5.0 %.
        self.assertIn('5.0%', out)
        # the histogram folds the two fine buckets into 256 -> 511.
        self.assertRegex(out, r'256 -> 511\s*: 100')
        with open(os.path.join(self.run_dir, 'results.csv')) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 5)
        self.assertEqual({r['iommu_mode'] for r in rows}, {'vtd-strict', 'noiommu'})
        with open(os.path.join(self.run_dir, 'hist.csv')) as f:
            self.assertEqual(len(list(csv.reader(f))), 4)
        with open(os.path.join(self.run_dir, 'results.json')) as f:
            j = json.load(f)
        self.assertEqual(len(j['modes']['vtd-strict']['runs']), 4)
        with open(os.path.join(self.run_dir, 'report.txt')) as f:
            self.assertIn('== targets', f.read())

    def test_missed_target_is_said(self):
        self.boot('vtd-strict', [bench_line('sg', 2, 1, 1000, 1000),
                                 bench_line('reuse', 2, 1, 400, 400)])
        out = self.report().stdout
        self.assertIn('= 0.400 (target <= 0.1): missed', out)

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
