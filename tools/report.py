#!/usr/bin/env python3
"""The report of make demo / make bench, from the benchmark boots' logs.

    report.py RUN_DIR

RUN_DIR holds one directory per boot: boot/<mode>/ timed under TCG with
every vCPU, icount/<mode>/ counted under -icount on one vCPU (each ns
figure is a guest instruction), each with its boot.json (tools/boot.py:
the benchmark runs, histogram buckets and zswap A/B passes that
tests/guest/t/bench.sh recorded, the metrics, the verdicts), the QEMU
command line (qemu-cmdline) and boot-info; steps/<mode>/steps.json of
tools/steps.py; and setup.txt written by tools/demo.  Prints the report
and writes, next to it in RUN_DIR: report.txt, results.csv and
results-icount.csv (one row per benchmark run), hist.csv (every histogram
bucket), zswap.csv and zswap-icount.csv, iotlb.csv (the traced boots), clen.csv (the
compressed lengths and the copy lengths drawn from them), results.json (all of it),
ratios.png (each method's cost relative to plain, per mode, wall time and
instructions side by side) and hist-<mode>.png (gnuplot, if installed).

report.txt is the summary, read at a glance (what this prints): the
setup, the targets, the alternatives side by side, the zswap arms with
the IOMMU's work, the model for hardware, the checks that failed and the
targets missed.  report-full.txt has every table, histogram and QEMU
command line.

These are measurements: nothing here passes or fails on a time.  The
targets of the issue are stated as met or missed with the ratios.
"""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modes as matrix  # noqa: E402  pylint: disable=wrong-import-position
import steps as steps_tool  # noqa: E402  pylint: disable=wrong-import-position
import boot  # noqa: E402  pylint: disable=wrong-import-position
import iotlb  # noqa: E402  pylint: disable=wrong-import-position
from boot import read_word as read  # noqa: E402  pylint: disable=wrong-import-position

METHOD_ORDER = ['single', 'sg', 'sg1', 'bounce', 'bounce_out', 'owned', 'unmarked', 'iova',
                'refused', 'reuse', 'empty']
METHOD_TEXT = {
    'single': 'plain dma_map_single',
    'sg': 'plain dma_map_sg',
    'sg1': 'plain sg, 1 entry',
    'bounce': 'bounce, full, bidir.',
    'bounce_out': 'bounce, zswap-shaped',
    'owned': 'owned, linked once',
    'unmarked': 'reuse calls, unmarked',
    'iova': 'two-step link/unlink',
    'refused': 'reuse calls, refused',
    'reuse': 'reuse cache',
    'empty': 'empty: loop and clock',
}
# The empty method maps nothing: its figure is the loop and clock reads
# around do_map and do_unmap, which every other figure includes (the test
# module's bench file times it in a loop of dma_map_benchmark's shape).
EMPTY = 'empty'
# The plain path the reuse cache replaces: dma_map_sg() of the very list
# reuse mode maps (one entry of the granule's pages; the test module's
# "plain"); kernels without it are compared with sg mode.
PLAIN = 'sg1'
PLAIN_OLD = 'sg'
MODES = matrix.load()
# The targets against the IOMMU are taken in the strict modes of the demo
# set; the floor of the comparison is the matrix's floor mode.
# The hit's target: at most this much of the plain calls with no IOMMU.
HIT_LIMIT = 0.6
STRICT_TARGET_MODES = tuple(m.name for m in MODES.values() if m.strict and 'demo' in m.sets)
FLOOR_MODE = matrix.floor_mode(MODES) or 'noiommu'


def floor_of(mode: str) -> str:
    """The floor of MODE's comparison: the mode without an IOMMU on the
    same architecture (the x86_64 one for a mode the matrix lacks)."""
    m = MODES.get(mode)
    return (matrix.floor_mode(MODES, m.arch) if m else None) or FLOOR_MODE


def arch_note(mode: str) -> str:
    m = MODES.get(mode)
    return ' [arm64: QEMU virt, Cortex-A72, TCG on an x86 host]' if m and m.arch == 'arm64' else ''
# Modes in which the cache cannot serve: nothing gained, nothing paid.
NO_CACHE_MODES = tuple(m.name for m in MODES.values() if not m.translates)
# zswap maps two buffers per request, the page and the per-CPU buffer;
# the marking can save the buffer's mapping, taken as half the map work.
BUFFER_SHARE = 0.5


def num(v: str) -> Optional[float]:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def per_request(r: Dict) -> Optional[float]:
    """Median map + median unmap, ns: the cost of one request's mapping."""
    a, b = num(r.get('map_p50_ns')), num(r.get('unmap_p50_ns'))
    return None if a is None or b is None else a + b


def per_request_p99(r: Dict) -> Optional[float]:
    a, b = num(r.get('map_p99_ns')), num(r.get('unmap_p99_ns'))
    return None if a is None or b is None else a + b


def fmt(v: Optional[float], w: int = 8) -> str:
    if v is None:
        return '-'.rjust(w)
    return f'{v:.0f}'.rjust(w)


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or not b:
        return None
    return a / b


def log2_histogram(buckets: List[Dict]) -> List[Tuple[int, int, int]]:
    """Fold fine buckets into power-of-two ranges: (lo, hi, count)."""
    out: Dict[int, int] = {}
    for b in buckets:
        lo = max(int(b['lo']), 1)
        p = lo.bit_length() - 1
        out[p] = out.get(p, 0) + b['count']
    return [(1 << p, (1 << (p + 1)) - 1, c) for p, c in sorted(out.items())]


def print_histogram(title: str, rows: List[Tuple[int, int, int]], out) -> None:
    total = max((c for _, _, c in rows), default=0)
    if title:
        print(f'  {title}', file=out)
    print(f'  {"nsecs":>21}     : {"count":<9} distribution', file=out)
    for lo, hi, c in rows:
        bar = '*' * (round(40 * c / total) if total else 0)
        print(f'  {lo:>10} -> {hi:<10}: {c:<9} |{bar:<40}|', file=out)


def per_request_insns(r: Dict) -> Optional[float]:
    """Mean map + mean unmap of an icount boot: guest instructions per
    request (one ns of the guest's clock per instruction), the two
    timestamps' own instructions included."""
    a, b = num(r.get('map_mean_ns')), num(r.get('unmap_mean_ns'))
    return None if a is None or b is None else a + b


def load_boots(root: str) -> Dict[str, Dict]:
    """Every boot directory under ROOT with a boot.json (tools/boot.py), in
    matrix order: its benchmark runs, histogram buckets, zswap A/B passes
    and metrics.  A boot without one (it did not finish) has none of them;
    out_of_line() says so."""
    if not os.path.isdir(root):
        return {}
    modes = [d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))]
    order = matrix.order(MODES)
    modes.sort(key=lambda m: (order.get(m, 99), m))
    out = {}
    for m in modes:
        b = boot.load(os.path.join(root, m))
        out[m] = {'runs': b.bench if b else [],
                  'hists': [dict(h, lo=int(h['lo']), hi=int(h['hi']), count=int(h['count']))
                            for h in (b.hist if b else [])
                            if all(str(h.get(k, '')).isdigit() for k in ('lo', 'hi', 'count'))],
                  'zswap': b.zswap if b else [],
                  'clen': b.clen if b else [], 'clens': b.clens if b else [],
                  'metrics': b.metrics if b else {}}
    return out


def load_steps(root: str) -> Dict[str, Dict]:
    out = {}
    if not os.path.isdir(root):
        return out
    order = matrix.order(MODES)
    for m in sorted(os.listdir(root), key=lambda m: (order.get(m, 99), m)):
        p = os.path.join(root, m, 'steps.json')
        try:
            with open(p) as f:
                out[m] = json.load(f)
        except (OSError, ValueError) as e:
            out[m] = {'methods': {}, 'errors': [f'{p}: {e}']}
    return out


def plot_hist(run: str, mode: str, hists: List[Dict]) -> Optional[str]:
    """hist-<mode>.png: map+unmap latency histograms, 8 KiB, 1 thread."""
    if not shutil.which('gnuplot'):
        return None
    sel = [h for h in hists if h['granule'] == '2' and h['threads'] == '1']
    if not sel:
        return None
    series = []
    data = os.path.join(run, f'hist-{mode}.dat')
    with open(data, 'w') as f:
        for m in METHOD_ORDER:
            for side in ('map', 'unmap'):
                rows = log2_histogram([h for h in sel if h['method'] == m and h['side'] == side])
                if not rows:
                    continue
                f.write(f'# {m} {side}\n')
                for lo, _hi, c in rows:
                    f.write(f'{lo} {c}\n')
                f.write('\n\n')
                series.append(f'{m} {side}')
    if not series:
        return None
    png = os.path.join(run, f'hist-{mode}.png')
    plots = ', '.join(f"'{data}' index {i} using 1:2 with linespoints title '{t}'"
                      for i, t in enumerate(series))
    script = (f"set terminal png size 1000,600 noenhanced; set output '{png}';"
              "set format x '%.0f'; set xtics rotate by -45;"
              f"set title 'dma_map_benchmark, {mode}, 8 KiB, 1 thread (QEMU TCG guest)';"
              "set logscale x 2; set logscale y 10; set xlabel 'latency (ns, log2 bucket)';"
              f"set ylabel 'requests'; set key outside; plot {plots}")
    return gnuplot(script, png)


def gnuplot(script: str, png: str) -> Optional[str]:
    try:
        subprocess.run(['gnuplot', '-e', script], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except (subprocess.SubprocessError, OSError) as e:
        print(f'report: gnuplot failed for {png}: {e}', file=sys.stderr)
        return None
    return png


def ratio_rows(tcg: Dict, ic: Dict) -> List[Tuple[str, str, Optional[float], Optional[float]]]:
    """(mode, method, wall ratio, instruction ratio) to plain in the same
    boot, 8 KiB, 1 thread: the figure of the plot."""
    rows = []
    for m in list(dict.fromkeys(list(tcg) + list(ic))):
        for meth in METHOD_ORDER:
            w = cost(tcg, m, meth, '2', '1', per_request)
            i = cost(ic, m, meth, '2', '1', per_request_insns)
            if w is None and i is None:
                continue
            rows.append((m, meth, ratio(w, plain_cost(tcg, m, '2', '1', per_request)),
                         ratio(i, plain_cost(ic, m, '2', '1', per_request_insns))))
    return rows


# The ways the plot compares: plain, the alternatives a driver would build,
# the references in their worst shape, the cache.
PLOT_METHODS = ['sg1', 'bounce_out', 'owned', 'iova', 'bounce', 'reuse']


def plot_ratios(run: str, tcg: Dict, ic: Dict) -> Optional[str]:
    """ratios.png: per mode, each method's cost relative to plain
    dma_map_sg() in the same boot, wall time (TCG) above and instructions
    (icount) below, 8 KiB, 1 thread, log scale."""
    if not shutil.which('gnuplot'):
        return None
    rows = ratio_rows(tcg, ic)
    if not rows:
        return None
    meths = [m for m in PLOT_METHODS if any(r[1] == m for r in rows)]
    modes = list(dict.fromkeys(r[0] for r in rows))
    data = os.path.join(run, 'ratios.dat')
    with open(data, 'w') as f:
        f.write('# mode ' + ' '.join(f'{m}_time {m}_insns' for m in meths) + '\n')
        for mode in modes:
            vals = []
            for meth in meths:
                r = next((x for x in rows if x[0] == mode and x[1] == meth), None)
                for v in ((r[2], r[3]) if r else (None, None)):
                    vals.append('NaN' if v is None else f'{v:.4f}')
            f.write(mode + ' ' + ' '.join(vals) + '\n')
    png = os.path.join(run, 'ratios.png')

    def panel(what: int, title: str) -> str:
        cols = ', '.join(f"'{data}' using {2 + 2 * i + what}:xtic(1) title '{METHOD_TEXT[m]}'"
                         for i, m in enumerate(meths))
        return (f"set title '{title}'; set ylabel 'cost / plain dma_map_sg (log)';"
                f"plot {cols};")
    panels = []
    if any(r[2] is not None for r in rows):
        panels.append(panel(0, 'wall time under TCG, 8 KiB map + unmap, 1 thread '
                               '(ratio to plain in the same boot)'))
    if any(r[3] is not None for r in rows):
        panels.append(panel(1, 'guest instructions under -icount, same runs '
                               '(ratio to plain in the same boot)'))
    if not panels:
        return None
    script = (f"set terminal png size 1400,{450 * len(panels)} noenhanced; set output '{png}';"
              f"set multiplot layout {len(panels)},1; set style data histograms;"
              "set style histogram clustered gap 1; set style fill solid 0.8 border -1;"
              "set logscale y 10; set yrange [0.01:*]; set grid ytics;"
              "set key outside right; set xtics rotate by -20;"
              f"set xrange [-0.6:{len(modes) - 0.4}];"
              + ''.join(panels) + 'unset multiplot')
    return gnuplot(script, png)


def main(argv: List[str]) -> int:
    if len(argv) != 2 or argv[1] in ('-h', '--help'):
        print(__doc__.strip(), file=sys.stderr if len(argv) != 2 else sys.stdout)
        return 2 if len(argv) != 2 else 0
    run = os.path.abspath(argv[1])
    boot_root = os.path.join(run, 'boot')
    if not os.path.isdir(boot_root) and not os.path.isdir(os.path.join(run, 'icount')):
        print(f'report: {boot_root}: no boot directory', file=sys.stderr)
        return 1
    tcg = load_boots(boot_root)
    ic = load_boots(os.path.join(run, 'icount'))
    steps = load_steps(os.path.join(run, 'steps'))
    out_path = os.path.join(run, 'report.txt')
    full_path = os.path.join(run, 'report-full.txt')
    with open(full_path, 'w') as out:
        write_report(run, tcg, ic, steps, out)
    with open(out_path, 'w') as out:
        class Tee:
            def write(self, s):
                out.write(s)
                sys.stdout.write(s)

            def flush(self):
                pass
        write_summary(run, tcg, ic, steps, Tee())
    write_raw(run, tcg, ic)
    pngs = [p for p in [plot_ratios(run, tcg, ic)] +
            [plot_hist(run, m, tcg[m]['hists']) for m in tcg] if p]
    print(f'\nraw numbers: {run}/results.csv, results-icount.csv, hist.csv, zswap.csv, '
          'results.json')
    if pngs:
        print('plots: ' + ', '.join(pngs))
    else:
        print('plots: none (gnuplot missing or no numbers)')
    print(f'this summary: {out_path}; every table, histogram and command line: {full_path}')
    nruns = sum(len(b['runs']) for b in list(tcg.values()) + list(ic.values()))
    if nruns == 0:
        print('report: no benchmark run produced numbers', file=sys.stderr)
        return 1
    return 0


def find(boots: Dict, mode: str, method: str, granule: str, threads: str) -> Optional[Dict]:
    for r in boots.get(mode, {}).get('runs', []):
        if r.get('method') == method and r.get('granule') == granule and \
                r.get('threads') == threads:
            return r
    return None


def cost(boots: Dict, mode: str, method: str, granule: str, threads: str, f) -> Optional[float]:
    r = find(boots, mode, method, granule, threads)
    return f(r) if r else None


def plain_cost(boots: Dict, mode: str, granule: str, threads: str, f) -> Optional[float]:
    """The plain path of the same boot: sg1, else (an older kernel) sg."""
    c = cost(boots, mode, PLAIN, granule, threads, f)
    return c if c is not None else cost(boots, mode, PLAIN_OLD, granule, threads, f)


def sorted_keys(boots: Dict, key: str) -> List[str]:
    return sorted({r.get(key) for b in boots.values() for r in b['runs']},
                  key=lambda g: int(g) if g and g.isdigit() else 0)


def cost_tables(boots: Dict, out, f, unit: str, what: str) -> None:
    granules = sorted_keys(boots, 'granule')
    threads = sorted_keys(boots, 'threads')
    for g in granules:
        kib = int(g) * 4 if g.isdigit() else g
        print(f'\n== {what}: {kib} KiB per map (granule {g}): {unit} per request, map + unmap, '
              'ratio to plain dma_map_sg() of the same list in the same boot', file=out)
        hdr = f'  {"mode":<20}{"method":<23}'
        for t in threads:
            hdr += f'{"t=" + t:>11}' + (f'{"p99":>9}' if f is per_request else '') + f'{"ratio":>7}'
        hdr += f'{"hits":>10}{"misses":>8}  note'
        print(hdr, file=out)
        for m in boots:
            for meth in METHOD_ORDER:
                row = f'  {m:<20}{METHOD_TEXT[meth]:<23}'
                any_run = False
                hits = misses = note = ''
                for t in threads:
                    r = find(boots, m, meth, g, t)
                    if r:
                        any_run = True
                        rt = ratio(f(r), plain_cost(boots, m, g, t, f))
                        row += fmt(f(r), 11)
                        if f is per_request:
                            row += fmt(per_request_p99(r), 9)
                        row += f'{(f"{rt:.3f}" if rt is not None else "-"):>7}'
                        if meth in ('reuse', 'refused'):
                            hits = hits or r.get('hits', '')
                            misses = misses or r.get('misses', '')
                        if meth == 'iova' and r.get('two_step') == 'fallback':
                            note = 'API not usable here: dma_map_sg() timed'
                    else:
                        row += f'{"-":>11}' + (f'{"-":>9}' if f is per_request else '') + \
                            f'{"-":>7}'
                row += f'{hits:>10}{misses:>8}  {note}'
                if any_run:
                    print(row.rstrip(), file=out)


def write_report(run: str, tcg: Dict, ic: Dict, steps: Dict, out) -> None:
    setup = read(os.path.join(run, 'setup.txt'))
    print('== setup', file=out)
    if setup:
        print(setup, file=out)
    for kind, root, boots in (('tcg', 'boot', tcg), ('icount', 'icount', ic),
                              ('steps', 'steps', steps)):
        for m in boots:
            info = read(os.path.join(run, root, m, 'boot-info'))
            print(f'  {m} ({kind}): {info or "no boot info"}{arch_note(m)}', file=out)
            print(f'    qemu: {read(os.path.join(run, root, m, "qemu-cmdline"))}', file=out)
    if tcg:
        cost_tables(tcg, out, per_request, 'ns (medians)', 'wall time under TCG')
    if ic:
        cost_tables(ic, out, per_request_insns, 'instructions (means)',
                    'guest instructions under -icount')
    alternatives(tcg, ic, out)
    targets(tcg, ic, steps, out)
    steps_section(ic, steps, out)
    print('\n== latency histograms: 8 KiB, 1 thread (log2 buckets, ns, TCG)', file=out)
    for m in tcg:
        for meth in METHOD_ORDER:
            for side in ('map', 'unmap'):
                rows = log2_histogram([h for h in tcg[m]['hists']
                                       if h['method'] == meth and h['granule'] == '2'
                                       and h['threads'] == '1' and h['side'] == side])
                if not rows:
                    continue
                r = find(tcg, m, meth, '2', '1') or {}
                print(f'\n  {m}, {METHOD_TEXT[meth]}, {side}: mean {r.get(side + "_mean_ns", "-")} ns, '
                      f'stddev {r.get(side + "_stddev_ns", "-")} ns', file=out)
                print_histogram('', rows, out)
    zswap_table(tcg, 'TCG, wall time', out)
    zswap_table(ic, 'icount: ns are guest instructions', out)
    zswap_targets(tcg, ic, out)
    iotlb_table(tcg, out)
    out_of_line(run, out)
    print('\nThe wall-time figures are from QEMU TCG guests (emulated CPU and IOMMU): compare '
          'them with each other, not with hardware.  The instruction counts do not depend on the '
          'host; they leave out what the emulated IOMMU does inside QEMU, which the host-side '
          'trace counts measure.', file=out)


def siblings(strict: str) -> Tuple[Optional[str], Optional[str]]:
    """The lazy and the passthrough mode of STRICT's IOMMU in the demo set."""
    dev = MODES[strict].qemu
    lazy = next((m.name for m in MODES.values() if m.qemu == dev and m.translates
                 and not m.strict and 'demo' in m.sets), None)
    pt = next((m.name for m in MODES.values() if m.qemu == dev and not m.translates
               and 'demo' in m.sets), None)
    return lazy, pt


def alt_rows(strict: str) -> List[Tuple[str, Optional[str], str]]:
    """The ways of getting a reused buffer to the device, as (text, mode,
    method): the IOMMU's own settings, the alternatives a driver would
    build, the cache, the references in their worst shape, the floor."""
    lazy, pt = siblings(strict)
    return [('plain dma_map_sg, strict', strict, PLAIN),
            ('lazy mode (flush queue)', lazy, PLAIN),
            ('passthrough', pt, PLAIN),
            ('bounce, zswap-shaped', strict, 'bounce_out'),
            ('owned buffer, linked once', strict, 'owned'),
            ('reuse cache hit', strict, 'reuse'),
            ('ref.: link/unlink per req.', strict, 'iova'),
            ('ref.: bounce full, bidir.', strict, 'bounce'),
            (f'no IOMMU ({floor_of(strict)})', floor_of(strict), PLAIN)]


def alternatives(tcg: Dict, ic: Dict, out) -> None:
    """The ways of getting a reused 8 KiB buffer to the device, side by
    side: each a (mode, method) pair, relative to plain dma_map_sg() in
    the strict mode of the same IOMMU."""
    groups = [(strict, alt_rows(strict)) for strict in STRICT_TARGET_MODES]
    if not any(find(b, s, PLAIN, '2', '1') for s, _ in groups for b in (tcg, ic)):
        return
    print('\n== the alternatives, 8 KiB, 1 thread: map + unmap per request, relative to plain '
          'dma_map_sg() in the strict mode of the same IOMMU', file=out)
    print(f'  {"way":<28}{"boot":<20}{"ns (TCG)":>10}{"ratio":>8}{"instr.":>10}{"ratio":>8}',
          file=out)
    for strict, rows in groups:
        if strict not in tcg and strict not in ic:
            continue
        w0 = cost(tcg, strict, PLAIN, '2', '1', per_request)
        i0 = cost(ic, strict, PLAIN, '2', '1', per_request_insns)
        for text, mode, meth in rows:
            if not mode:
                continue
            w = cost(tcg, mode, meth, '2', '1', per_request)
            i = cost(ic, mode, meth, '2', '1', per_request_insns)
            rw, ri = ratio(w, w0), ratio(i, i0)
            print(f'  {text:<28}{mode:<20}{fmt(w, 10)}'
                  f'{(f"{rw:.3f}" if rw is not None else "-"):>8}{fmt(i, 10)}'
                  f'{(f"{ri:.3f}" if ri is not None else "-"):>8}', file=out)
        print('', file=out)


def verdict(v: Optional[float], limit: float) -> str:
    return '-' if v is None else ('met' if v <= limit else 'MISSED')


def say(out, text: str, v: Optional[float], limit: float, digits: int = 3) -> None:
    print(f'  {text} = {"-" if v is None else f"{v:.{digits}f}"} (target <= {limit:.3g}): '
          f'{verdict(v, limit)}', file=out)


def steps_total(steps: Dict, mode: str, method: str) -> Optional[int]:
    t = steps.get(mode, {}).get('methods', {}).get(method)
    return t['map']['insns'] + t['unmap']['insns'] if t else None


# Not the DMA API's: the benchmark's own functions and the owner's mark
# (inline for one entry, so mostly inside do_map).
NOT_API = re.compile(r'_benchmark_do_(un)?map$|^lz4dt_bench_\w+_(un)?map$|^(__)?sg_mark_reusable$')


def steps_api(steps: Dict, mode: str, method: str) -> Optional[int]:
    """The stepped instructions of METHOD in MODE's functions of the DMA
    API alone: what the benchmark's do_map and do_unmap run themselves
    (with the inline parts of the calls they make) and the owner's
    sg_mark_reusable() left out, on both sides of a ratio."""
    t = steps.get(mode, {}).get('methods', {}).get(method)
    if not t:
        return None
    return sum(n for side in ('map', 'unmap') for f, n in t[side]['by_symbol'].items()
               if not NOT_API.search(f))


def way_cost(boots: Dict, mode: str, method: str, f) -> Optional[float]:
    """METHOD's 8 KiB, 1-thread figure in MODE; the plain method falls
    back to sg mode on a kernel without sg1."""
    if method == PLAIN:
        return plain_cost(boots, mode, '2', '1', f)
    return cost(boots, mode, method, '2', '1', f)


def net_insns(ic: Dict, mode: str, method: str) -> Optional[float]:
    """METHOD's instructions per 8 KiB request in MODE's icount boot less
    that boot's empty mode: the map and unmap without the benchmark's loop
    and clock reads."""
    c = way_cost(ic, mode, method, per_request_insns)
    e = cost(ic, mode, EMPTY, '2', '1', per_request_insns)
    return None if c is None or e is None else c - e


def targets(tcg: Dict, ic: Dict, steps: Dict, out) -> None:
    print('\n== targets (8 KiB, the zswap buffer; met or MISSED, never a failure)', file=out)
    print('  hit: the cached map + unmap against plain dma_map_sg() + dma_unmap_sg() of the '
          'same list with no IOMMU (the floor boot of the same architecture)', file=out)
    for m in [x for x in list(dict.fromkeys(list(tcg) + list(ic))) if MODES.get(x) and
              MODES[x].translates]:
        fw = cost(tcg, floor_of(m), PLAIN, '2', '1', per_request)
        fi = cost(ic, floor_of(m), PLAIN, '2', '1', per_request_insns)
        say(out, f'    {m}: reuse / floor ({floor_of(m)}), instructions (icount)',
            ratio(cost(ic, m, 'reuse', '2', '1', per_request_insns), fi), HIT_LIMIT)
        h, f = net_insns(ic, m, 'reuse'), net_insns(ic, floor_of(m), PLAIN)
        if h is not None and f is not None:
            say(out, f'    {m}: the same, map + unmap only: less each boot\'s empty mode '
                f'({h:.0f} / {f:.0f})', ratio(h, f), HIT_LIMIT)
        say(out, f'    {m}: reuse / floor, wall time (TCG)',
            ratio(cost(tcg, m, 'reuse', '2', '1', per_request), fw), HIT_LIMIT)
    for m in steps:
        h, f = steps_total(steps, m, 'reuse'), steps_total(steps, floor_of(m), PLAIN)
        if h is not None and MODES.get(m) and MODES[m].translates:
            say(out, f'    {m}: reuse / floor, single-stepped instructions ({h} / '
                f'{f if f is not None else "-"})', ratio(h, f), HIT_LIMIT)
            h, f = steps_api(steps, m, 'reuse'), steps_api(steps, floor_of(m), PLAIN)
            say(out, f'    {m}: reuse / floor, single-stepped, the DMA API\'s functions only '
                f'({h} / {f if f is not None else "-"})', ratio(h, f), HIT_LIMIT)
    print('  nothing gained, nothing paid: instructions (icount) relative to the plain calls '
          'in the same boot', file=out)
    for m in ic:
        p = plain_cost(ic, m, '2', '1', per_request_insns)
        say(out, f'    {m}: unmarked list through the reuse calls / plain',
            ratio(cost(ic, m, 'unmarked', '2', '1', per_request_insns), p), 1.02)
        if m in NO_CACHE_MODES:
            say(out, f'    {m}: marked list, device without a cache / plain',
                ratio(cost(ic, m, 'reuse', '2', '1', per_request_insns), p), 1.02)
        elif cost(ic, m, 'refused', '2', '1', per_request_insns) is not None:
            say(out, f'    {m}: refused buffer (remembered) through the reuse calls / plain',
                ratio(cost(ic, m, 'refused', '2', '1', per_request_insns), p), 1.02)
    threads = sorted_keys(tcg, 'threads')
    print('  against the IOMMU: wall time (TCG) of the cached path relative to plain in the '
          'same boot', file=out)
    for m in STRICT_TARGET_MODES:
        if m not in tcg:
            print(f'    {m}: not booted', file=out)
            continue
        for t in threads:
            say(out, f'    {m}: reuse / plain at {t} thread(s)',
                ratio(cost(tcg, m, 'reuse', '2', t, per_request),
                      plain_cost(tcg, m, '2', t, per_request)), 0.1)
        if len(threads) > 1:
            say(out, f'    {m}: reuse per request at {threads[-1]} threads / at 1 (not growing, '
                '1.1 allowing for noise)',
                ratio(cost(tcg, m, 'reuse', '2', threads[-1], per_request),
                      cost(tcg, m, 'reuse', '2', '1', per_request)), 1.1, 2)


def steps_section(ic: Dict, steps: Dict, out) -> None:
    if not steps:
        return
    print('\n== step by step: one warm 8 KiB request single-stepped through QEMU\'s gdbstub '
          '(tools/steps.py): guest instructions of the benchmark\'s do_map and do_unmap, per '
          'function and in call order', file=out)
    for m, d in steps.items():
        print(f'\n  {m}:', file=out)
        for l in steps_tool.show_lines(d):
            print('  ' + l, file=out)
        for meth, t in d.get('methods', {}).items():
            b = cost(ic, m, meth, '2', '1', per_request_insns)
            if b is not None:
                n = t['map']['insns'] + t['unmap']['insns']
                e = cost(ic, m, EMPTY, '2', '1', per_request_insns)
                print(f'    {meth}: the icount benchmark\'s {b:.0f} per request less these {n}: '
                      f'{b - n:.0f} instructions of timestamps and loop'
                      + (f' (empty mode: {e:.0f})' if e is not None else ''), file=out)


ARMS = ('plain', 'cache', 'bounce')
# The phase of the guest's iotlb test (tools/iotlb.py) that counts each arm.
ARM_PHASE = {'plain': 'off', 'cache': 'on', 'bounce': 'bounce'}


def median(v: List[float]) -> Optional[float]:
    v = sorted(v)
    if not v:
        return None
    k = len(v) // 2
    return v[k] if len(v) % 2 else (v[k - 1] + v[k]) / 2


def arm_of(z: Dict) -> str:
    """A zswap pass's arm: plain, cache or bounce (older runs: the marking
    off or on)."""
    return z.get('arm') or {'on': 'cache', 'off': 'plain'}.get(z.get('marking', ''), '-')


def zswap_arms(boot: Dict) -> Dict[str, Dict[str, List[float]]]:
    """Per arm (plain, cache, bounce), each figure's values over the passes."""
    arms: Dict[str, Dict[str, List[float]]] = {}
    for z in boot['zswap']:
        a = arms.setdefault(arm_of(z), {})
        req = num(z.get('requests')) or 0
        vals = {'store_pps': num(z.get('store_pps')), 'load_pps': num(z.get('load_pps')),
                'map_per_req': (num(z.get('map_ns')) or 0) / req if req else None,
                'req_per_req': (num(z.get('req_ns')) or 0) / req if req else None,
                'mismatches': num(z.get('mismatches'))}
        for k, v in vals.items():
            if v is not None:
                a.setdefault(k, []).append(v)
    return arms


def spread(v: List[float]) -> str:
    m = median(v)
    if m is None:
        return '-'
    return f'{m:.0f} [{min(v):.0f}-{max(v):.0f}]'


def zswap_table(boots: Dict, what: str, out) -> None:
    rows = [(m, zswap_arms(b)) for m, b in boots.items() if b['zswap']]
    if not rows:
        return
    print(f'\n== zswap on lz4-dmatest, the arms interleaved in one boot (plain: '
          f'dma_reuse.enabled=N; cache: =Y; bounce: the module\'s own buffer) ({what}): '
          f'median [min-max] over the passes', file=out)
    print(f'  {"mode":<20}{"arm":<8}{"passes":>7}{"store p/s":>22}{"load p/s":>22}'
          f'{"map ns/req":>20}{"req ns/req":>22}{"mism.":>6}', file=out)
    for m, arms in rows:
        for arm in ARMS:
            a = arms.get(arm)
            if not a:
                continue
            print(f'  {m:<20}{arm:<8}{len(a.get("map_per_req", [])):>7}'
                  f'{spread(a.get("store_pps", [])):>22}{spread(a.get("load_pps", [])):>22}'
                  f'{spread(a.get("map_per_req", [])):>20}{spread(a.get("req_per_req", [])):>22}'
                  f'{int(sum(a.get("mismatches", []))):>6}', file=out)


def buffer_share(boot: Dict, off: float) -> Tuple[float, str]:
    """The per-CPU buffer's share of the driver's map + unmap work with the
    marking off (OFF instructions per request): the buffer's mappings per
    request (the marked lists the cache served with the marking on: 7.3's
    zswap maps the buffer only to compress, its decompression reads
    zsmalloc's memory in place) times what plain sg1 costs at 8 KiB in the
    same boot.  Without the served count (older runs): one mapping of
    two, at the plain 4 and 8 KiB costs."""
    c4 = cost({'b': boot}, 'b', PLAIN, '1', '1', per_request_insns)
    c8 = cost({'b': boot}, 'b', PLAIN, '2', '1', per_request_insns)
    on = [z for z in boot['zswap'] if arm_of(z) == 'cache']
    served = sum(num(z.get('served')) or 0 for z in on)
    reqs = sum(num(z.get('requests')) or 0 for z in on)
    if c8 and off and reqs and all('served' in z for z in on):
        per = served / reqs
        return min(1.0, per * c8 / off), (f'{per:.2f} buffer mappings per request x plain '
                                          f'8 KiB {c8:.0f} over {off:.0f}')
    if c4 and c8:
        return c8 / (c4 + c8), (f'no served count: one mapping of two, plain 8 KiB {c8:.0f} '
                                f'over 4 + 8 KiB {c4 + c8:.0f}')
    return BUFFER_SHARE, 'no served count: one mapping of two'


def zswap_targets(tcg: Dict, ic: Dict, out) -> None:
    lines = []
    for m, b in ic.items():
        arms = zswap_arms(b)
        off = median(arms.get('plain', {}).get('map_per_req', []))
        on = median(arms.get('cache', {}).get('map_per_req', []))
        if off is None or on is None or not (MODES.get(m) and MODES[m].translates):
            continue
        share, how = buffer_share(b, off)
        lines.append((f'    {m}: driver map + unmap instructions per request, cache / plain '
                      f'({on:.0f} / {off:.0f}); the fall must be at least the buffer\'s share '
                      f'{share:.2f} ({how})', ratio(on, off), 1 - share))
    for m, b in tcg.items():
        if m not in NO_CACHE_MODES:
            continue
        arms = zswap_arms(b)
        for k in ('store_pps', 'load_pps'):
            off, on = arms.get('plain', {}).get(k, []), arms.get('cache', {}).get(k, [])
            mo = median(on)
            if mo is None or not off:
                continue
            inside = min(off) <= mo <= max(off) or mo >= median(off)
            print_line = (f'    {m}: {k} of the cache arm, median {mo:.0f}, against the '
                          f'plain passes [{min(off):.0f}-{max(off):.0f}]: '
                          f'{"met (not below their spread)" if inside else "MISSED (below their spread)"}')
            lines.append((print_line, None, None))
    if not lines:
        return
    print('\n== zswap targets', file=out)
    for text, v, limit in lines:
        if limit is None:
            print(text, file=out)
        else:
            say(out, text, v, limit)




def iotlb_table(tcg: Dict, out) -> None:
    """What the emulated IOMMU did per zswap request (tools/iotlb.py's
    table, the one make check's summary prints)."""
    rows = [(m, b['metrics']) for m, b in tcg.items()]
    if any('iotlb_requests_on' in met for _, met in rows):
        print(file=out)
    iotlb.print_table(rows, out)


def out_of_line(run: str, out) -> None:
    """Every check of a demo boot that did not hold, loudly.  make demo is a
    measurement: this is reported, and make check is where it fails."""
    rows = failed_checks(run)
    print('\n== out of line', file=out)
    if not rows:
        print('  nothing: every check of every demo boot held', file=out)
        return
    print('  !!! these checks did not hold in this run (reported here; make check fails '
          'on them) !!!', file=out)
    for m, name, why in rows:
        print(f'  !!! {m}: {name}{": " + why if why else ""}', file=out)


# The published per-operation costs the model multiplies the host's counts
# by (us per streaming map, per unmap), with where they come from.
MODEL_COSTS = [
    ('SMMUv3, the project\'s figures (map 2-4 us, unmap 4-8 us; strict, '
     'IOVA allocation + page-table writes, invalidation + sync)', (2.0, 4.0), (4.0, 8.0)),
    ('HiSilicon, dma_map_benchmark -m 0 -g 8 -t 8 -d 2, 2025 (map 1.0 us, unmap 1.3 us; '
     'lore: 20250506030100.394376-1-xiaqinxin@huawei.com)', (1.0, 1.0), (1.3, 1.3)),
]
# A copy-out on the CPU, for the bounce arm's cost in the model (GB/s).
MODEL_COPY_GBPS = (5.0, 10.0)


class Verdicts:
    """The targets' verdicts as they are printed, to list the missed ones
    again at the end."""

    def __init__(self) -> None:
        self.missed: List[str] = []

    def line(self, out, text: str, ok: Optional[bool], value: str) -> None:
        v = '-' if ok is None else ('met' if ok else 'MISSED')
        print(f'  {text}: {value} -> {v}', file=out)
        if ok is False:
            self.missed.append(f'{text}: {value}')


def clens_of(boots: Dict, mode: str) -> str:
    c = boots.get(mode, {}).get('clens') or []
    return c[-1].get('lens', '') if c else ''


def mean_clen(boots: Dict) -> Optional[float]:
    """The mean compressed length over every boot's CLEN buckets (bucket
    midpoints), bytes."""
    n = tot = 0.0
    for b in boots.values():
        for r in b.get('clen', []):
            lo, hi, c = num(r.get('lo')), num(r.get('hi')), num(r.get('count'))
            if lo is None or hi is None or not c:
                continue
            mid = (lo + min(hi, lo + 127)) / 2
            n += c
            tot += c * mid
    return tot / n if n else None


def setup_lines(run: str) -> List[str]:
    try:
        with open(os.path.join(run, 'setup.txt')) as f:
            text = f.read()
    except OSError:
        text = ''
    return [l.rstrip() for l in text.splitlines() if l.strip()][:10]


def summary_targets(tcg: Dict, ic: Dict, steps: Dict, out, vd: Verdicts) -> None:
    print('\n== targets (met or MISSED; measurements, no test fails on them)', file=out)
    # 1. the hit against the zswap-shaped bounce, in instructions.
    for m in [x for x in STRICT_TARGET_MODES if x in ic]:
        h, b = net_insns(ic, m, 'reuse'), net_insns(ic, m, 'bounce_out')
        r = ratio(h, b)
        vd.line(out, f'hit <= 1/2 of zswap-shaped bounce, instr., {m} ({MODES[m].arch})',
                None if r is None else r <= 0.5,
                '-' if r is None else f'{h:.0f} / {b:.0f} = {r:.2f}')
    # 2. zswap: the cache arm's counted store rate against lazy and bounce.
    for m in [x for x in STRICT_TARGET_MODES if x in ic]:
        lazy, _ = siblings(m)
        arms = zswap_arms(ic[m])
        c = arms.get('cache', {}).get('store_pps', [])
        bo = arms.get('bounce', {}).get('store_pps', [])
        la = zswap_arms(ic[lazy]).get('plain', {}).get('store_pps', []) if lazy in ic else []
        mc = median(c)
        ok = None if mc is None or not la or not bo else (mc >= min(la) and mc > median(bo))
        vd.line(out, f'zswap store rate (counted), cache >= lazy spread and > bounce, {m}', ok,
                f'cache {spread(c)}, lazy {spread(la)}, bounce {spread(bo)} pages/s')
        off = median(arms.get('plain', {}).get('map_per_req', []))
        on = median(arms.get('cache', {}).get('map_per_req', []))
        if off and on is not None:
            share, how = buffer_share(ic[m], off)
            ok = 1 - on / off >= share - 1e-9
            vd.line(out, f'driver map+unmap instr./request fall >= buffer share, {m}', ok,
                    f'plain {off:.0f} -> cache {on:.0f}: fall {1 - on / off:.2f}, '
                    f'share {share:.2f}')
            hit = net_insns(ic, m, 'reuse')
            served = served_per_request(ic[m])
            if not ok and hit is not None and served is not None:
                short = share * off - (off - on)
                print(f'    where: the buffer\'s plain mappings were {share * off:.0f} of the '
                      f'{off:.0f} per request and the fall is {off - on:.0f}, {short:.0f} short; '
                      f'the hits are {served:.2f} per request x {hit:.0f} = {served * hit:.0f} of '
                      f'that (the target needs a free hit); the other {short - served * hit:.0f} '
                      f'are not explained by these counts', file=out)
        else:
            vd.line(out, f'driver map+unmap instr./request fall >= buffer share, {m}', None,
                    'no counted zswap arms')
    # 3. the cached path's cost does not grow with the thread count.
    threads = sorted_keys(tcg, 'threads')
    if len(threads) > 1:
        for m in [x for x in STRICT_TARGET_MODES if x in tcg]:
            r = ratio(cost(tcg, m, 'reuse', '2', threads[-1], per_request),
                      cost(tcg, m, 'reuse', '2', '1', per_request))
            vd.line(out, f'cache per request, {threads[-1]} threads / 1 <= 1.1 (wall), {m}',
                    None if r is None else r <= 1.1, '-' if r is None else f'{r:.2f}')
        print('  (TCG runs each vCPU on a host thread of this 2-core machine: the thread '
              'ratio shows contention in the guest\'s code, not a hardware IOMMU\'s)', file=out)
    # 4. where the instructions go, for the hit and the bounce.
    for m, d in steps.items():
        meths = d.get('methods', {})
        for meth in ('reuse', 'bounce_out'):
            t = meths.get(meth)
            if not t:
                continue
            by: Dict[str, int] = {}
            for side in ('map', 'unmap'):
                for f, n in t[side]['by_symbol'].items():
                    by[f] = by.get(f, 0) + n
            tot = sum(by.values())
            top = sorted(by.items(), key=lambda kv: -kv[1])[:4]
            print(f'  where the instructions go, {m}, {METHOD_TEXT[meth]} (single-stepped, '
                  f'{tot}): ' + ', '.join(f'{f} {n}' for f, n in top), file=out)


def served_per_request(b: Dict) -> Optional[float]:
    on = [z for z in b['zswap'] if arm_of(z) == 'cache']
    reqs = sum(num(z.get('requests')) or 0 for z in on)
    if not reqs or not all('served' in z for z in on):
        return None
    return sum(num(z.get('served')) or 0 for z in on) / reqs


def summary_alternatives(tcg: Dict, ic: Dict, out) -> None:
    modes = [m for m in STRICT_TARGET_MODES if m in ic or m in tcg]
    if not modes:
        return
    lens = next((x for x in (clens_of(b, m) for m in modes for b in (tcg, ic)) if x), '')
    print('\n== the alternatives, 8 KiB buffer, 1 thread: instructions per request (icount, '
          'map + unmap, less the loop) | wall time / plain (TCG)', file=out)
    print(f'  zswap-shaped copy lengths (quantiles of this run\'s compressed sizes): '
          f'{lens or "-"} bytes', file=out)
    print(f'  {"way":<28}' + ''.join(f'{m[:19]:>20}' for m in modes), file=out)
    for i, (text, _, meth) in enumerate(alt_rows(modes[0])):
        row = f'  {text:<28}'
        for strict in modes:
            _, mode, meth2 = alt_rows(strict)[i]
            n = net_insns(ic, mode, meth2) if mode else None
            w = ratio(way_cost(tcg, mode, meth2, per_request),
                      plain_cost(tcg, strict, '2', '1', per_request)) if mode else None
            cell = f'{"-" if n is None else f"{n:.0f}"} | {"-" if w is None else f"{w:.2f}"}'
            row += f'{cell:>20}'
        print(row, file=out)


def iommu_per_request(tcg: Dict, mode: str, arm: str) -> Optional[float]:
    return tcg.get(mode, {}).get('metrics', {}).get(f'iotlb_events_per_request_{ARM_PHASE[arm]}')


def summary_zswap(tcg: Dict, ic: Dict, out) -> None:
    groups = [m for m in STRICT_TARGET_MODES if m in ic or m in tcg]
    if not groups:
        return
    print('\n== zswap end to end on lz4-dmatest: median [min-max] over the passes, arms '
          'interleaved in each boot', file=out)
    print(f'  {"arm":<30}{"store/s counted":>20}{"load/s counted":>20}{"drv instr/req":>15}'
          f'{"IOMMU ev/req":>13}{"store/s TCG":>12}', file=out)
    for strict in groups:
        lazy, pt = siblings(strict)
        rows = [(f'{strict}, plain', strict, 'plain'), (f'{strict}, cache', strict, 'cache'),
                (f'{strict}, bounce', strict, 'bounce'), (f'{lazy}, plain', lazy, 'plain'),
                (f'{pt}, plain', pt, 'plain')]
        for text, mode, arm in rows:
            if not mode or (mode not in ic and mode not in tcg):
                continue
            a = zswap_arms(ic[mode]).get(arm, {}) if mode in ic else {}
            t = zswap_arms(tcg[mode]).get(arm, {}) if mode in tcg else {}
            ev = iommu_per_request(tcg, mode, arm)
            if ev is None and mode == pt:
                ev_s = '0 (pt)'
            else:
                ev_s = '-' if ev is None else f'{ev:.2f}'
            mp = median(a.get('map_per_req', []))
            st = median(t.get('store_pps', []))
            print(f'  {text[:29]:<30}{spread(a.get("store_pps", [])):>20}'
                  f'{spread(a.get("load_pps", [])):>20}{fmt(mp, 15)}{ev_s:>13}{fmt(st, 12)}',
                  file=out)
    print('  counted: pages per second of guest time under -icount (1 ns = 1 instruction); drv '
          'instr/req: the test module\'s map + unmap (and copy-out) per request, counted; IOMMU '
          'ev/req: counted on the host in the timed strict boot (VT-d, SMMUv3: invalidations; '
          'virtio-iommu: map + unmap requests)', file=out)


def model_rows(per_request: Dict[str, Dict[str, Optional[float]]], clen: Optional[float]):
    """The model's rows: per strict mode with a counted plain phase, the
    mappings per request of each arm (an invalidation per unmap on VT-d
    and SMMUv3, a map and an unmap request each on virtio-iommu) and, per
    published cost of MODEL_COSTS, the (low, high) saving in us per
    request of the cache and of the bounce arm against plain."""
    rows = []
    for m in [x for x in STRICT_TARGET_MODES if x in per_request]:
        ev = per_request[m]
        if ev.get('plain') is None:
            continue
        div = 2.0 if MODES[m].qemu and 'virtio' in MODES[m].qemu else 1.0
        maps = {a: (v / div if v is not None else None) for a, v in ev.items()}
        savings = []
        for _, mp, um in MODEL_COSTS:
            cell: Dict[str, Optional[Tuple[float, float]]] = {}
            for arm in ('cache', 'bounce'):
                if maps.get(arm) is None:
                    cell[arm] = None
                    continue
                d = maps['plain'] - maps[arm]
                lo, hi = d * (mp[0] + um[0]), d * (mp[1] + um[1])
                if arm == 'bounce' and clen:
                    lo -= clen / (MODEL_COPY_GBPS[0] * 1e3)
                    hi -= clen / (MODEL_COPY_GBPS[1] * 1e3)
                cell[arm] = (min(lo, hi), max(lo, hi))
            savings.append(cell)
        rows.append((m, maps, savings))
    return rows


def us_range(v: Optional[Tuple[float, float]]) -> str:
    if v is None:
        return '-'
    lo, hi = v
    return f'{lo:.1f}' if hi - lo < 0.05 else f'{lo:.1f}-{hi:.1f}'


def copied_per_request(boots: Dict) -> Optional[float]:
    """The bytes the test module copied out per request in the bounce
    arm (stores: the compressed length; loads: the page), over every
    boot; None without a bounce pass that counted them."""
    n = c = 0.0
    for b in boots.values():
        for z in b.get('zswap', []):
            if arm_of(z) == 'bounce' and num(z.get('copied')) is not None:
                n += num(z.get('requests')) or 0
                c += num(z.get('copied')) or 0
    return c / n if n and c else None


def summary_model(tcg: Dict, out) -> None:
    clen = copied_per_request(tcg) or mean_clen(tcg)
    per = {m: {arm: iommu_per_request(tcg, m, arm) for arm in ARMS} for m in tcg}
    rows = model_rows(per, clen)
    if not rows:
        return
    print('\n== MODEL, not a measurement: the saving per zswap request on a hardware IOMMU',
          file=out)
    print('  = (mappings per request saved, counted on the host) x (published cost of one map '
          '+ one unmap); the bounce arm also pays a CPU copy-out of what the module copied per '
          'request (stores: the compressed length, loads: the page) '
          f'({"-" if clen is None else f"{clen:.0f}"} bytes at {MODEL_COPY_GBPS[0]:.0f}-'
          f'{MODEL_COPY_GBPS[1]:.0f} GB/s)', file=out)
    for i, (src, _, _) in enumerate(MODEL_COSTS):
        print(f'  [{i + 1}] {src}', file=out)
    print(f'  {"boot":<16}{"maps/req plain":>15}{"cache":>8}{"bounce":>8}'
          + ''.join(f'{"saved us/req [" + str(i + 1) + "] cache":>26}{"bounce":>12}'
                    for i in range(len(MODEL_COSTS))), file=out)
    for m, maps, savings in rows:
        pc, pb = maps.get('cache'), maps.get('bounce')
        line = (f'  {m:<16}{maps["plain"]:>15.2f}{("-" if pc is None else f"{pc:.2f}"):>8}'
                f'{("-" if pb is None else f"{pb:.2f}"):>8}')
        for cell in savings:
            line += f'{us_range(cell["cache"]):>26}{us_range(cell["bounce"]):>12}'
        print(line, file=out)
    print('  assumptions: each mapping saved costs one map and one unmap at the published '
          'figure (IOVA allocation, page-table writes, invalidation and its sync); a hit and '
          'the driver\'s own work cost nothing on that scale; lazy mode defers the '
          'invalidations (not modelled); emulated counts need not equal a real driver\'s', file=out)


def failed_checks(run: str) -> List[Tuple[str, str, str]]:
    rows = []
    for root in ('boot', 'icount', 'steps'):
        d = os.path.join(run, root)
        if not os.path.isdir(d):
            continue
        for m in sorted(os.listdir(d)):
            if not os.path.isdir(os.path.join(d, m)):
                continue
            label = m if root == 'boot' else f'{m} ({root})'
            b = boot.load(os.path.join(d, m))
            if b is None:
                rows.append((label, 'boot', 'no boot.json: the boot did not finish'))
                continue
            rows += [(label, c.name, c.reason) for c in b.cases
                     if c.status == boot.Status.FAIL]
            if root == 'steps':
                st = read(os.path.join(d, m, 'gdb-run.status'))
                if st != '0':
                    rows.append((label, 'tools/steps.py',
                                 f'exit status {st or "missing"} (see gdb-run.log)'))
    return rows


def write_summary(run: str, tcg: Dict, ic: Dict, steps: Dict, out) -> None:
    print(f'== make demo {os.path.basename(run)}: the summary (every table, histogram and '
          'QEMU command line: report-full.txt)', file=out)
    for l in setup_lines(run):
        print(l, file=out)
    vd = Verdicts()
    summary_targets(tcg, ic, steps, out, vd)
    summary_alternatives(tcg, ic, out)
    summary_zswap(tcg, ic, out)
    summary_model(tcg, out)
    rows = failed_checks(run)
    print('\n== checks that failed in this run (make check fails on them)', file=out)
    if not rows:
        print('  none: every check of every demo boot held', file=out)
    for m, name, why in rows:
        print(f'  !!! {m}: {name}{": " + why if why else ""}'[:300], file=out)
    print('\n== targets missed (measurements: reported, never failed)', file=out)
    if not vd.missed:
        print('  none', file=out)
    for t in vd.missed:
        print(f'  MISSED {t}', file=out)


def write_keyed_csv(path: str, boots: Dict, part: str) -> None:
    """One row per key=value record of boots[mode][part], a column per key."""
    keys = sorted({k for b in boots.values() for r in b[part] for k in r})
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['iommu_mode'] + keys)
        for m, b in boots.items():
            for r in b[part]:
                w.writerow([m] + [r.get(k, '') for k in keys])


def write_iotlb_csv(run: str, tcg: Dict) -> None:
    """iotlb.csv: the traced boots' IOMMU work per zswap request, a row
    per mode and phase (what the iotlb table prints)."""
    with open(os.path.join(run, 'iotlb.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['iommu_mode', 'phase', 'requests', 'events', 'per_request',
                    'buffer_events', 'after_on_buffer_events'])
        for m, b in tcg.items():
            met = b['metrics']
            if 'iotlb_requests_on' not in met:
                continue
            for ph in iotlb.PHASES:
                if 'iotlb_requests_' + ph not in met:
                    continue
                w.writerow([m, ph, met.get('iotlb_requests_' + ph, ''),
                            met.get('iotlb_events_' + ph, ''),
                            met.get('iotlb_events_per_request_' + ph, ''),
                            met.get('iotlb_buffer_events_' + ph, ''),
                            met.get('iotlb_after_on_buffer_events', '')])


def write_raw(run: str, tcg: Dict, ic: Dict) -> None:
    write_keyed_csv(os.path.join(run, 'results.csv'), tcg, 'runs')
    write_keyed_csv(os.path.join(run, 'results-icount.csv'), ic, 'runs')
    write_keyed_csv(os.path.join(run, 'zswap.csv'), tcg, 'zswap')
    write_keyed_csv(os.path.join(run, 'zswap-icount.csv'), ic, 'zswap')
    with open(os.path.join(run, 'hist.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['iommu_mode', 'method', 'granule', 'threads', 'side', 'lo_ns', 'hi_ns', 'count'])
        for m, b in tcg.items():
            for h in b['hists']:
                w.writerow([m, h['method'], h['granule'], h['threads'], h['side'],
                            h['lo'], h['hi'], h['count']])
    write_iotlb_csv(run, tcg)
    with open(os.path.join(run, 'clen.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['iommu_mode', 'kind', 'lo', 'hi', 'count', 'lens'])
        for m, b in tcg.items():
            for r in b.get('clen', []):
                w.writerow([m, 'bucket', r.get('lo', ''), r.get('hi', ''), r.get('count', ''), ''])
            for r in b.get('clens', []):
                w.writerow([m, 'lens', '', '', '', r.get('lens', '')])
    with open(os.path.join(run, 'results.json'), 'w') as f:
        json.dump({'setup': read(os.path.join(run, 'setup.txt')),
                   'modes': {m: dict(b, qemu=read(os.path.join(run, 'boot', m, 'qemu-cmdline')))
                             for m, b in tcg.items()},
                   'icount': {m: dict(b, qemu=read(os.path.join(run, 'icount', m, 'qemu-cmdline')))
                              for m, b in ic.items()}}, f, indent=1)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
