"""Host tests of the dma_map_benchmark chain outside the kernel: which tool
and header of a tree tools/initramfs builds (7.3's tools/dma/ with the uapi
header, or 6.12's selftest with include/linux/), and what bench.sh makes of
the tool's output, down to tools/report.py.

The tool's output here is written by hand in the format of the series'
tool (RESULT and HIST lines of tools/dma/dma_map_benchmark.c on 7.3,
tools/testing/selftests/dma/dma_map_benchmark.c on 6.12): no kernel runs."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from helpers import REPO, TOOLS, ToolTest

sys.path.insert(0, TOOLS)
import boot  # noqa: E402  pylint: disable=wrong-import-position

GUEST = os.path.join(REPO, 'tests', 'guest')

# The guest's one dialect of machine-read lines (the top of
# tests/guest/lib.sh), and the formats it replaced: "# BENCH ...",
# "# HIST M G T side lo hi count", "# ZSWAPAB ...", "# iotlb-requests
# PHASE N", and the "# key: N" lines of the numbers now in records.
RECORD = re.compile(r'^ *# SGR [A-Z][A-Z0-9_]*( [a-z_0-9]+=\S*)*$')
OLD_FORMAT = re.compile(
    r'^\s*# (BENCH |HIST |ZSWAPAB |iotlb-requests|swiotlb io_tlb_used_hiwater: |'
    r'(fire_hotplug|fire_switch|teardown_stop|teardown_overlap|remove_checked|'
    r'unbound_refused|rebound_refused|unbound_orphaned|rebound_orphaned|bounce_requests|bounce_bytes|cache_marked|cache_hits|cache_misses|'
    r'fallback_no_cache|pages|seed|swapout_pages_per_s|zswap_stored_pages|'
    r'swapin_pages_per_s|mismatches|zswpout|zswpin|pswpout|pswpin|vmstat_zswpout|'
    r'vmstat_zswpin|zswpwb|kunit_rerun_[a-z_0-9]+): )')


def assert_dialect(test, lines):
    """LINES, what the guest printed: no machine line in an old format,
    and every record well-formed."""
    test.assertEqual([l for l in lines if OLD_FORMAT.match(l)], [], 'old-format lines')
    test.assertEqual([l for l in lines if l.lstrip().startswith('# SGR') and
                      not RECORD.match(l)], [], 'malformed records')

# gen_init_cpio stand-in: "writes the archive" as the list it was given,
# so that the test can read what went in.
CAT_LIST = ('#include <stdio.h>\n'
            'int main(int argc, char **argv)\n{\n'
            '\tFILE *f = fopen(argv[1], "r");\n\tint c;\n\n'
            '\twhile ((c = fgetc(f)) != EOF)\n\t\tputchar(c);\n\treturn 0;\n}\n')

# The tool includes <linux/map_benchmark.h>; it builds only against the
# header of its own tree (the macro is in no host header).
TOOL_C = ('#include <linux/map_benchmark.h>\n'
          '#ifndef SGR_TEST_LAYOUT\n#error not the tree\'s header\n#endif\n'
          'int main(void) { return SGR_TEST_LAYOUT; }\n')

LAYOUTS = {
    '7.3': ('include/uapi/linux/map_benchmark.h', 'tools/dma/dma_map_benchmark.c'),
    '6.12': ('include/linux/map_benchmark.h',
             'tools/testing/selftests/dma/dma_map_benchmark.c'),
}


class InitramfsDmaMapBenchmark(ToolTest):
    def setUp(self):
        super().setUp()
        if not shutil.which('busybox') or not shutil.which('gcc'):
            self.skipTest('no busybox or gcc (tools/deps installs them)')
        with open(os.path.join(self.tree, 'usr', 'gen_init_cpio.c'), 'w') as f:
            f.write(CAT_LIST)

    def add_layout(self, name, header_text='#define SGR_TEST_LAYOUT 0\n'):
        header, tool = LAYOUTS[name]
        for rel, text in ((header, header_text), (tool, TOOL_C)):
            path = os.path.join(self.tree, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as f:
                f.write(text)

    def initramfs(self, dry=False, ok=True):
        out = os.path.join(self.tmp, 'initramfs.cpio')
        p = self.run_tool('initramfs', '--tree', self.tree, '--out', out, dry=dry, ok=ok)
        return p, out

    def test_each_layout_builds_its_own_tool_with_its_header(self):
        for name, (_, tool) in LAYOUTS.items():
            with self.subTest(layout=name):
                self.remove_layouts()
                self.add_layout(name)
                p, out = self.initramfs(dry=True)
                gcc = [l for l in p.stderr.splitlines()
                       if l.startswith('+ gcc') and 'dma_map_benchmark' in l]
                self.assertEqual(len(gcc), 1, p.stderr)
                self.assertTrue(gcc[0].endswith(os.path.join(self.tree, tool)), gcc[0])
                self.assertRegex(gcc[0], r' -I\S+/include ')
                # Built for real: the build fails unless the tree's header
                # is the one found, and the program is in the archive.
                p, out = self.initramfs()
                with open(out) as f:
                    self.assertRegex(f.read(), r'(?m)^file /bin/dma_map_benchmark \S+ 0755 ')

    def test_arm64_guest_is_cross_built_with_the_arm64_busybox(self):
        if not shutil.which('aarch64-linux-gnu-gcc') or \
                not os.path.exists('/usr/aarch64-linux-gnu/lib/libc.a'):
            self.skipTest('no aarch64 cross compiler or libc (tools/deps installs them)')
        self.add_layout('7.3')
        # The cached arm64 busybox (tools/initramfs fetches it once with
        # apt-get download): a static AArch64 stand-in here.
        cached = os.path.join(self.cache, 'arm64', 'busybox')
        os.makedirs(os.path.dirname(cached))
        src = os.path.join(self.tmp, 'bb.c')
        with open(src, 'w') as f:
            f.write('int main(void) { return 0; }\n')
        subprocess.run(['aarch64-linux-gnu-gcc', '-static', '-o', cached, src], check=True)
        out = os.path.join(self.tmp, 'arm.cpio')
        p = self.run_tool('initramfs', '--arch', 'arm64', '--tree', self.tree, '--out', out,
                          dry=True, ok=True)
        ccs = [l.split()[1] for l in p.stderr.splitlines() if l.startswith('+ ') and
               ' -static ' in l]
        self.assertTrue(ccs, p.stderr)
        self.assertEqual(set(ccs), {'aarch64-linux-gnu-gcc'}, p.stderr)
        # Built for real: every program is checked to be static AArch64.
        self.run_tool('initramfs', '--arch', 'arm64', '--tree', self.tree, '--out', out, ok=True)
        with open(out) as f:
            self.assertIn(f'file /bin/busybox {cached} 0755', f.read())
        # An x86 binary where the arm64 busybox should be is refused.
        shutil.copy(shutil.which('busybox'), cached)
        p = self.run_tool('initramfs', '--arch', 'arm64', '--tree', self.tree, '--out', out,
                          ok=False)
        self.assertIn('is not an executable for AArch64', p.stderr)
        p = self.run_tool('initramfs', '--arch', 'riscv', '--tree', self.tree, dry=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--arch wants x86_64 or arm64, not 'riscv'", p.stderr)

    def remove_layouts(self):
        for d in ('include', 'tools'):
            shutil.rmtree(os.path.join(self.tree, d), ignore_errors=True)

    def test_7_3_layout_wins_over_a_stale_6_12_header(self):
        self.add_layout('7.3', '#define SGR_TEST_LAYOUT 73\n')
        header = os.path.join(self.tree, LAYOUTS['6.12'][0])
        os.makedirs(os.path.dirname(header))
        with open(header, 'w') as f:
            f.write('#error the 6.12 header was taken\n')
        p, _ = self.initramfs(dry=True)
        self.assertIn(os.path.join(self.tree, 'tools/dma/dma_map_benchmark.c'), p.stderr)
        self.initramfs()

    def test_tree_without_the_tool_is_an_error(self):
        p, _ = self.initramfs(dry=True, ok=False)
        self.assertIn('has no dma_map_benchmark tool with its header', p.stderr)

    def test_header_without_its_tool_is_an_error(self):
        self.add_layout('7.3')
        os.remove(os.path.join(self.tree, LAYOUTS['7.3'][1]))
        p, _ = self.initramfs(dry=True, ok=False)
        self.assertIn('has no dma_map_benchmark tool with its header', p.stderr)


RESULT = ('RESULT mode={m} granule={g} threads={t} dir=BIDIRECTIONAL map_mean_ns=1200 '
          'map_stddev_ns=300 map_p50_ns=1100 map_p99_ns=2900 map_hist_sum=1000 '
          'unmap_mean_ns=900 unmap_stddev_ns=200 unmap_p50_ns=850 unmap_p99_ns=2100 '
          'unmap_hist_sum=1000 hits={hits} misses={misses} fallbacks=0 iterations=1000 '
          'iova={iova}')


def tool_output(mode, granule, threads, hits=0, misses=0, iova='unchecked'):
    """What the series' tool prints for one run (the histograms cut)."""
    return '\n'.join([
        f'dma mapping benchmark({mode.upper()}_MODE): threads:{threads} seconds:1 node:-1 '
        f'dir:BIDIRECTIONAL granule:{granule}',
        'average map latency(us):1.2 standard deviation:0.3',
        'average unmap latency(us):0.9 standard deviation:0.2',
        'average map latency(ns):1200 standard deviation:300',
        'average unmap latency(ns):900 standard deviation:200',
        RESULT.format(m=mode, g=granule, t=threads, hits=hits, misses=misses, iova=iova),
        'HIST map 1024 1151 600',
        'HIST map 1152 1279 400',
        'HIST unmap 768 831 1000',
    ]) + '\n'


class BenchSh(unittest.TestCase):
    """tests/guest/t/bench.sh's bench_one under dash, with a recorded tool."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='sgr-bench.')
        self.addCleanup(shutil.rmtree, self.tmp)
        self.tool = os.path.join(self.tmp, 'dma_map_benchmark')

    def fake_tool(self, output, rc=0):
        with open(os.path.join(self.tmp, 'output'), 'w') as f:
            f.write(output)
        with open(self.tool, 'w') as f:
            f.write('#!/bin/sh\n'
                    f'echo "$@" >"{self.tmp}/args"\n'
                    f'cat "{self.tmp}/output"\n'
                    f'exit {rc}\n')
        os.chmod(self.tool, 0o755)

    def fake_module(self, output, bound=True, bench_file=True):
        """lz4-dmatest's debugfs directory with a bench file whose reads
        give OUTPUT (a read of the real file gives the last run's result;
        here the guest's cat is a function that prints OUTPUT, and the
        file keeps what was written to it)."""
        self.module = {'dir': os.path.join(self.tmp, 'lz4dt'), 'bound': bound}
        os.makedirs(self.module['dir'], exist_ok=True)
        if bench_file:
            open(os.path.join(self.module['dir'], 'bench'), 'w').close()
        with open(os.path.join(self.tmp, 'bench_output'), 'w') as f:
            f.write(output)

    def bench_one(self, *args):
        module = getattr(self, 'module', None)
        fake = ''
        if module:
            fake = (f'LZ4DT_DBG="{module["dir"]}"\n'
                    f'lz4dt_bound() {{ {"true" if module["bound"] else "false"}; }}\n'
                    f'cat() {{ /bin/cat "{self.tmp}/bench_output"; }}\n')
        script = ('. "$KTAP_SH"; . "$GUEST/lib.sh"; . "$GUEST/t/bench.sh"\n'
                  'BENCH_SECONDS=1\n' + fake +
                  'bench_one "$@"; echo "rc=$?"\n')
        env = dict(os.environ, KTAP_SH=os.path.join(TOOLS, 'ktap.sh'), GUEST=GUEST,
                   SGR_LIB=GUEST, SGR_CMDLINE='', SGR_DMA_MAP_BENCHMARK=self.tool)
        p = subprocess.run(['dash', '-c', script, 'bench', *args], env=env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.stderr, '')
        tool_args = []
        if os.path.exists(os.path.join(self.tmp, 'args')):
            with open(os.path.join(self.tmp, 'args')) as f:
                tool_args = f.read().split()
        lines = p.stdout.splitlines()
        assert_dialect(self, lines)
        return lines, tool_args

    def written_to_bench(self):
        with open(os.path.join(self.module['dir'], 'bench')) as f:
            return f.read()

    def test_result_and_hist_lines_are_passed_on(self):
        self.fake_tool(tool_output('reuse', 2, 1, hits=999, misses=1, iova='ok'))
        lines, args = self.bench_one('reuse', '2', '1')
        self.assertEqual(args, ['-m', 'reuse', '-g', '2', '-t', '1', '-s', '1'])
        # The records, exactly, and nothing else of the tool's output.
        self.assertEqual(lines, [
            '# SGR BENCH method=reuse mode=reuse granule=2 threads=1 dir=BIDIRECTIONAL '
            'map_mean_ns=1200 map_stddev_ns=300 map_p50_ns=1100 map_p99_ns=2900 '
            'map_hist_sum=1000 unmap_mean_ns=900 unmap_stddev_ns=200 unmap_p50_ns=850 '
            'unmap_p99_ns=2100 unmap_hist_sum=1000 hits=999 misses=1 fallbacks=0 '
            'iterations=1000 iova=ok',
            '# SGR HIST method=reuse granule=2 threads=1 side=map lo=1024 hi=1151 count=600',
            '# SGR HIST method=reuse granule=2 threads=1 side=map lo=1152 hi=1279 count=400',
            '# SGR HIST method=reuse granule=2 threads=1 side=unmap lo=768 hi=831 count=1000',
            'rc=0'])

    def test_hist_line_of_another_shape_is_said_not_recorded(self):
        self.fake_tool(tool_output('sg', 1, 1) + 'HIST map 1 2\n')
        lines, _ = self.bench_one('sg', '1', '1')
        self.assertEqual(lines[-1], 'rc=0')
        self.assertIn('# record refused, field "map" is not key=value: '
                      'HIST method=sg granule=1 threads=1 map 1 2', lines)
        self.assertEqual(len([l for l in lines if l.startswith('# SGR HIST ')]), 3, lines)

    def test_method_the_kernel_lacks_is_skipped_not_failed(self):
        # The 6.12 stack has no sg1, unmarked or iova mode.
        for out in ('invalid map mode, must be one of single (0), sg (1)\n',
                    'map mode iova is not built into this kernel\n'):
            with self.subTest(out=out):
                self.fake_tool(out, rc=1)
                lines, _ = self.bench_one('iova', '2', '1')
                self.assertEqual(lines[-1], 'rc=0')
                self.assertIn('# bench: method iova granule 2 threads 1: not in this kernel '
                              'or tool, skipped', lines)

    def test_no_result_line_fails_with_the_output(self):
        self.fake_tool('ioctl: Invalid argument\n', rc=1)
        lines, _ = self.bench_one('bounce', '1', '1')
        self.assertEqual(lines[-1], 'rc=1')
        self.assertIn('# bench output: ioctl: Invalid argument', lines)
        self.assertFalse([l for l in lines if l.startswith('# SGR ')])

    def test_error_exit_with_numbers_fails_and_keeps_them(self):
        out = tool_output('reuse', 1, 2, iova='leaked')
        self.fake_tool(out + 'IOVA after sg_mark_stop_reuse(): leaked\n', rc=1)
        lines, _ = self.bench_one('reuse', '1', '2')
        self.assertEqual(lines[-1], 'rc=1')
        self.assertEqual([l for l in lines if l.startswith('# SGR BENCH ')],
                         ['# SGR BENCH method=reuse ' + RESULT.format(
                             m='reuse', g=1, t=2, hits=0, misses=0, iova='leaked')[len('RESULT '):]])
        self.assertTrue([l for l in lines if l.startswith('# bench: reuse granule 1 '
                                                          'threads 2: exit 1: ')], lines)

    def test_refused_run_served_from_the_cache_fails(self):
        # Refused mode's numbers are a refused buffer's only if the cache
        # never served it: a hit means the buffer was not refused.
        for hits, rc in ((0, 'rc=0'), (5, 'rc=1')):
            with self.subTest(hits=hits):
                self.fake_module(tool_output('refused', 2, 1, hits=hits))
                lines, _ = self.bench_one('refused', '2', '1')
                self.assertEqual(lines[-1], rc)
                self.assertEqual(len([l for l in lines if l.startswith('# SGR BENCH ')]), 1)
                said = '# bench: refused granule 2 threads 1: served from the cache (hits above 0)'
                self.assertEqual(said in lines, hits > 0, lines)

    def test_controls_run_on_the_test_module_not_the_tool(self):
        # sg1, unmarked, refused and empty are the test module's bench
        # file's methods (sg1 is its "plain"); the tool is not run.
        for method, word in (('sg1', 'plain'), ('unmarked', 'unmarked'),
                             ('refused', 'refused'), ('empty', 'empty')):
            with self.subTest(method=method):
                self.fake_tool('must not run\n', rc=1)
                os.remove(os.path.join(self.tmp, 'output'))
                self.fake_module(tool_output(word, 2, 2))
                lines, tool_args = self.bench_one(method, '2', '2')
                self.assertEqual(tool_args, [])
                self.assertEqual(self.written_to_bench(), f'{word} 2 2 1\n')
                self.assertEqual(lines[-1], 'rc=0')
                bench = [l for l in lines if l.startswith('# SGR BENCH ')]
                self.assertEqual(len(bench), 1, lines)
                self.assertTrue(bench[0].startswith(f'# SGR BENCH method={method} mode={word} '),
                                bench)
                self.assertEqual(len([l for l in lines if l.startswith('# SGR HIST ')]), 3)

    def test_control_on_a_module_without_bench_file_is_skipped(self):
        # The 6.12 stack's module before this series' bench file.
        self.fake_module('', bench_file=False)
        lines, _ = self.bench_one('sg1', '2', '1')
        self.assertEqual(lines[-1], 'rc=0')
        self.assertIn('# bench: method sg1 granule 2 threads 1: not in this kernel '
                      'or tool, skipped', lines)

    def test_control_with_the_module_unbound_fails(self):
        self.fake_module(tool_output('plain', 2, 1), bound=False)
        lines, _ = self.bench_one('sg1', '2', '1')
        self.assertEqual(lines[-1], 'rc=1')
        self.assertTrue([l for l in lines if 'lz4-dmatest is not bound' in l], lines)
        self.assertFalse([l for l in lines if l.startswith('# SGR ')])

    def test_dmabench_records_the_swiotlb_high_water_mark(self):
        # t/dmabench.sh's smoke test, under swiotlb=force: its debugfs file
        # is a fake one.
        self.fake_tool(tool_output('single', 1, 1))
        dbg = os.path.join(self.tmp, 'swiotlb')
        os.makedirs(dbg)
        with open(os.path.join(GUEST, 't', 'dmabench.sh')) as f:
            body = f.read().replace('/sys/kernel/debug/swiotlb', dbg)
        script = os.path.join(self.tmp, 'dmabench.sh')
        with open(script, 'w') as f:
            f.write(body)
        old = os.path.join(self.tmp, 'dma_map_benchmark_old')
        with open(old, 'w') as f:
            f.write('#!/bin/sh\necho "dma mapping benchmark: threads:1 seconds:1 node:-1 '
                    'dir:BIDIRECTIONAL granule: 1"\n'
                    'echo "average map latency(us):1.2 standard deviation:0.4"\n'
                    'echo "average unmap latency(us):2.5 standard deviation:0.9"\n')
        os.chmod(old, 0o755)
        env = dict(os.environ, KTAP_SH=os.path.join(TOOLS, 'ktap.sh'), GUEST=GUEST,
                   SGR_LIB=GUEST, SGR_CMDLINE='swiotlb=force,track_hiwater',
                   SGR_DMA_MAP_BENCHMARK=self.tool, SGR_DMA_MAP_BENCHMARK_OLD=old)
        for hw, result in (('37', 'ok 1 dma_map_benchmark_smoke'),
                           ('0', 'not ok 1 dma_map_benchmark_smoke # swiotlb=force, but nothing '
                            'was bounced')):
            with self.subTest(hiwater=hw):
                with open(os.path.join(dbg, 'io_tlb_used_hiwater'), 'w') as f:
                    f.write(hw + '\n')
                p = subprocess.run(['dash', '-c', '. "$KTAP_SH"; . "$GUEST/lib.sh"; . "$1"\n'
                                    'bind_edu() { :; }; unbind_override() { :; }\n'
                                    'dmabench_run', 'dmabench', script],
                                   env=env, capture_output=True, text=True, timeout=30)
                self.assertEqual(p.stderr, '')
                lines = p.stdout.splitlines()
                assert_dialect(self, lines)
                i = lines.index(f'# SGR METRIC swiotlb_used_hiwater={hw}')
                self.assertEqual(lines[i + 1], result)
                # Every case reports, whatever the one before it did; the
                # test module's (no lz4-dmatest here) skips.
                self.assertEqual(lines[-2:], ['ok 2 dma_map_benchmark_old_abi',
                                              'ok 3 lz4dt_bench_controls # SKIP lz4-dmatest '
                                              'is not built in'])
        # The base's tool on this kernel: its exit status and its lines.
        for body, result in (
                ('exit 1\n', 'not ok 1 dma_map_benchmark_old_abi # the base\'s tool exited 1 '
                 'on this kernel'),
                ('echo "average map latency(us):0.0 standard deviation:0.0"\n'
                 'echo "average unmap latency(us):0.0 standard deviation:0.0"\n',
                 'not ok 1 dma_map_benchmark_old_abi # the base\'s tool read a mean map '
                 'latency of 0: the results are not where its header says'),
                ('echo hello\n', 'not ok 1 dma_map_benchmark_old_abi # the base\'s tool '
                 'printed no map/unmap latencies')):
            with self.subTest(old=body):
                with open(old, 'w') as f:
                    f.write('#!/bin/sh\n' + body)
                p = subprocess.run(['dash', '-c', '. "$KTAP_SH"; . "$GUEST/lib.sh"; . "$1"\n'
                                    'bind_edu() { :; }; unbind_override() { :; }\n'
                                    'dmabench_old_abi', 'dmabench', script],
                                   env=env, capture_output=True, text=True, timeout=30)
                self.assertEqual(p.stdout.splitlines()[-1], result)

    def zswap_pass(self, stress_body, *args):
        """bench_zswap_pass ARGS with a fake zswap_stress (STRESS_BODY,
        sh; NAME is its --name, STATS lz4-dmatest's stats file, which
        holds 10 requests, 100 map_ns, 1000 req_ns and 5 served before)."""
        stats = os.path.join(self.tmp, 'lz4', 'stats')
        os.makedirs(os.path.dirname(stats))
        os.makedirs(os.path.join(self.tmp, 'zp'))
        os.makedirs(os.path.join(self.tmp, 'cg'))
        with open(stats, 'w') as f:
            f.write('requests 10\nmap_ns 100\nreq_ns 1000\nserved 5\n')
        prog = os.path.join(self.tmp, 'zswap_stress')
        with open(prog, 'w') as f:
            f.write('#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = --name ] && NAME=$2; '
                    f'shift; done\nSTATS={stats}\n' + stress_body)
        os.chmod(prog, 0o755)
        script = ('. "$KTAP_SH"; . "$GUEST/lib.sh"; . "$GUEST/t/bench.sh"\n'
                  'ZP=$D/zp DMA_REUSE_SWITCH=$D/zp/dma_reuse_enabled LZ4DT_DBG=$D/lz4 BENCH_ZSWAP_MIB=8\n'
                  'bench_zswap_pass "$@"; echo "rc=$?"\n')
        env = dict(os.environ, KTAP_SH=os.path.join(TOOLS, 'ktap.sh'), GUEST=GUEST,
                   SGR_LIB=GUEST, SGR_CMDLINE='', D=self.tmp, ZSWAP_STRESS_BIN=prog,
                   SGR_CGROUP_ROOT=os.path.join(self.tmp, 'cg'))
        p = subprocess.run(['dash', '-c', script, 'bench', *args], env=env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.stderr, '')
        lines = p.stdout.splitlines()
        assert_dialect(self, lines)
        with open(os.path.join(self.tmp, 'zp', 'dma_reuse_enabled')) as f:
            self.assertEqual(f.read(), 'Y\n' if args[0] == 'cache' else 'N\n')
        return lines

    def test_zswap_pass_is_one_record_from_the_stress_record(self):
        stress = ('echo "    KTAP version 1"; echo "    # Subtest: $NAME"; echo "    1..3"\n'
                  'echo "    # pass: 1"\n'
                  'echo "    # SGR STRESS name=$NAME pass=1 pages=8192 seed=7 '
                  'swapout_pages_per_s=51234 zswap_stored_pages=8000 swapin_pages_per_s=61234 '
                  'mismatches=0 zswpout=8192 zswpin=8192 pswpout=0 pswpin=0 vmstat_zswpout=8192 '
                  'vmstat_zswpin=8192 zswpwb=0"\n'
                  'printf "requests 1010\\nmap_ns 5100\\nreq_ns 91000\\nserved 995\\n" >$STATS\n'
                  'echo "    ok 1 pass1_data_verified"; echo "    ok 2 pass1_zswap_stored"\n'
                  'echo "    ok 3 pass1_zswap_loaded"\n'
                  # A later record is not the pass's.
                  'echo "    # SGR STRESS name=$NAME pass=2 swapout_pages_per_s=1 '
                  'swapin_pages_per_s=1 mismatches=9"\n')
        lines = self.zswap_pass(stress, 'cache', '3')
        # The program's KTAP stays in the capture: the record only.
        self.assertEqual(lines, [
            '# SGR ZSWAPAB pass=3 arm=cache marking=on rc=0 store_pps=51234 load_pps=61234 mismatches=0 '
            'requests=1000 map_ns=5000 req_ns=90000 served=990 copied=0',
            'rc=0'])

    def test_zswap_pass_without_a_stress_record_has_empty_figures(self):
        # Setup failed: the program prints no record, and exits 3.
        stress = ('echo "    KTAP version 1"; echo "    # Subtest: $NAME"; echo "    1..3"\n'
                  'echo "    # pass: 1"; echo "    # error: zswap is disabled"\n'
                  'for i in 1 2 3; do echo "    not ok $i pass1_x # setup failed"; done\n'
                  'exit 3\n')
        lines = self.zswap_pass(stress, 'plain', '1')
        self.assertEqual(lines, [
            '# SGR ZSWAPAB pass=1 arm=plain marking=off rc=3 store_pps= load_pps= mismatches= '
            'requests=0 map_ns=0 req_ns=0 served=0 copied=0',
            'rc=3'])

    def test_copy_lengths_are_the_quarters_of_the_compressed_lengths(self):
        lz4 = os.path.join(self.tmp, 'lz4c')
        os.makedirs(lz4)
        # 100 lengths in 1024..1151, 300 in 2944..3071: the quarters'
        # midpoints (1/8, 3/8, 5/8, 7/8 of 400) are 50, 150, 250, 350.
        with open(os.path.join(lz4, 'compressed_lengths'), 'w') as f:
            f.write('0 127 0\n1024 1151 100\n2944 3071 300\n3968 65536 0\n')
        script = ('. "$KTAP_SH"; . "$GUEST/lib.sh"; . "$GUEST/t/bench.sh"\n'
                  'LZ4DT_DBG=$D BENCH_ZSWAP_MIB=$1; bench_clens; echo "lens=$BENCH_CLENS"\n')
        for mib, want in (('8', ['# SGR CLEN lo=1024 hi=1151 count=100',
                                 '# SGR CLEN lo=2944 hi=3071 count=300',
                                 '# SGR CLENS lens=1088,2965,3008,3050 source=zswap',
                                 'lens=1088,2965,3008,3050']),
                          ('0', ['# SGR CLENS lens=2048 source=default', 'lens=2048'])):
            with self.subTest(mib=mib):
                env = dict(os.environ, KTAP_SH=os.path.join(TOOLS, 'ktap.sh'), GUEST=GUEST,
                           SGR_LIB=GUEST, SGR_CMDLINE='', D=lz4)
                p = subprocess.run(['dash', '-c', script, 'bench', mib], env=env,
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.stderr, '')
                lines = p.stdout.splitlines()
                assert_dialect(self, lines)
                self.assertEqual(lines, want)

    def test_bench_lines_make_the_report(self):
        ktap = []
        for m, hits in (('sg', 0), ('reuse', 999)):
            self.fake_tool(tool_output(m, 2, 1, hits=hits, misses=1 if hits else 0))
            lines, _ = self.bench_one(m, '2', '1')
            ktap += [l for l in lines if l.startswith('#')]
        d = os.path.join(self.tmp, 'run', 'boot', 'vtd-strict')
        os.makedirs(d)
        with open(os.path.join(d, 'guest.ktap'), 'w') as f:
            f.write('KTAP version 1\n1..1\n' + '\n'.join(ktap) + '\nok 1 bench_dma_map\n')
        # What tools/vm's tools/boot.py makes of the boot: its records, all
        # of kinds it knows, in boot.json.
        res = boot.ModeResult('vtd-strict', [boot.Case('guest.bench_dma_map', boot.Status.PASS)])
        self.assertEqual(boot.take_records(res, boot.records(ktap)), [])
        self.assertEqual((len(res.bench), len(res.hist)), (2, 6))
        with open(os.path.join(d, 'boot.json'), 'w') as f:
            f.write(res.to_json())
        p = subprocess.run([os.path.join(TOOLS, 'report.py'), os.path.join(self.tmp, 'run')],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(self.tmp, 'run', 'report-full.txt')) as f:
            full = f.read()
        # median map + unmap: 1100 + 850 for both methods, ratio 1.00.
        self.assertRegex(full, r'vtd-strict\s+reuse cache\s+1950\s+5000\s+1\.000\s+999\s+1')
        self.assertRegex(full, r'1024 -> 2047\s*: 1000')
        # the summary: the wall-time ratio of the cache to plain sg (1.00).
        self.assertRegex(p.stdout, r'reuse cache hit\s+- \| 1\.00')


if __name__ == '__main__':
    unittest.main()
