#!/usr/bin/env python3
"""The report of make demo / make bench, from the benchmark boots' logs.

    report.py RUN_DIR

RUN_DIR holds one directory per boot (boot/<mode>/) with the guest's KTAP
(guest.ktap: "# BENCH", "# HIST" and "# ZSWAPAB" lines of tests/guest/t/bench.sh),
the QEMU command line (qemu-cmdline) and boot-info; and setup.txt written by
tools/demo.  Prints the report and writes, next to it in RUN_DIR:
report.txt, results.csv (one row per benchmark run), hist.csv (every
histogram bucket), zswap.csv, results.json (all of it), and hist-<mode>.png
(gnuplot, if installed).

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
from results import read_word as read  # noqa: E402  pylint: disable=wrong-import-position

KV = re.compile(r'(\w+)=(\S*)')
METHOD_ORDER = ['single', 'sg', 'bounce', 'reuse']
METHOD_TEXT = {
    'single': 'plain dma_map_single',
    'sg': 'plain dma_map_sg',
    'bounce': 'bounce copy + sync',
    'reuse': 'reuse cache',
}
# The plain path the reuse cache replaces: drivers map scatterlists.
PLAIN = 'sg'
MODES = matrix.load()
# The targets against the IOMMU are taken in the strict modes of the demo
# set; the floor of the comparison is the matrix's floor mode.
STRICT_TARGET_MODES = tuple(m.name for m in MODES.values() if m.strict and 'demo' in m.sets)
FLOOR_MODE = matrix.floor_mode(MODES) or 'noiommu'


def num(v: str) -> Optional[float]:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def ktap_lines(path: str) -> List[str]:
    try:
        with open(path, errors='replace') as f:
            return [l.replace('\r', '').strip() for l in f]
    except FileNotFoundError:
        return []


def parse_boot(d: str) -> Dict:
    """The benchmark runs, histograms and zswap passes of one boot."""
    runs, hists, zswap = [], [], []
    for l in ktap_lines(os.path.join(d, 'guest.ktap')):
        if l.startswith('# BENCH '):
            r = dict(KV.findall(l))
            runs.append(r)
        elif l.startswith('# HIST '):
            f = l.split()
            # "# HIST method granule threads side lo hi count"
            if len(f) == 9:
                hists.append({'method': f[2], 'granule': f[3], 'threads': f[4],
                              'side': f[5], 'lo': int(f[6]), 'hi': int(f[7]),
                              'count': int(f[8])})
        elif l.startswith('# ZSWAPAB '):
            zswap.append(dict(KV.findall(l)))
    return {'runs': runs, 'hists': hists, 'zswap': zswap}


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


def plot(run: str, mode: str, hists: List[Dict]) -> Optional[str]:
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
                for lo, hi, c in rows:
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
    try:
        subprocess.run(['gnuplot', '-e', script], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except (subprocess.SubprocessError, OSError) as e:
        print(f'report: gnuplot failed for {mode}: {e}', file=sys.stderr)
        return None
    return png


def main(argv: List[str]) -> int:
    if len(argv) != 2 or argv[1] in ('-h', '--help'):
        print(__doc__.strip(), file=sys.stderr if len(argv) != 2 else sys.stdout)
        return 2 if len(argv) != 2 else 0
    run = os.path.abspath(argv[1])
    boot_root = os.path.join(run, 'boot')
    if not os.path.isdir(boot_root):
        print(f'report: {boot_root}: no boot directory', file=sys.stderr)
        return 1
    modes = sorted(d for d in os.listdir(boot_root)
                   if os.path.isdir(os.path.join(boot_root, d)))
    order = matrix.order(MODES)
    modes.sort(key=lambda m: (order.get(m, 99), m))
    boots = {m: parse_boot(os.path.join(boot_root, m)) for m in modes}
    out_path = os.path.join(run, 'report.txt')
    with open(out_path, 'w') as out:
        class Tee:
            def write(self, s):
                out.write(s)
                sys.stdout.write(s)

            def flush(self):
                pass
        tee = Tee()
        write_report(run, modes, boots, tee)
    write_raw(run, modes, boots)
    pngs = [p for p in (plot(run, m, boots[m]['hists']) for m in modes) if p]
    print(f'\nraw numbers: {run}/results.csv, hist.csv, zswap.csv, results.json')
    if pngs:
        print('plots: ' + ', '.join(pngs))
    else:
        print('plots: none (gnuplot missing or no histogram)')
    print(f'this report: {out_path}')
    nruns = sum(len(b['runs']) for b in boots.values())
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


def write_report(run: str, modes: List[str], boots: Dict, out) -> None:
    setup = read(os.path.join(run, 'setup.txt'))
    print('== setup', file=out)
    if setup:
        print(setup, file=out)
    for m in modes:
        info = read(os.path.join(run, 'boot', m, 'boot-info'))
        print(f'  {m}: {info or "no boot info"}', file=out)
        print(f'    qemu: {read(os.path.join(run, "boot", m, "qemu-cmdline"))}', file=out)
    granules = sorted({r.get('granule') for b in boots.values() for r in b['runs']},
                      key=lambda g: int(g) if g and g.isdigit() else 0)
    threads = sorted({r.get('threads') for b in boots.values() for r in b['runs']},
                     key=lambda t: int(t) if t and t.isdigit() else 0)
    for g in granules:
        kib = int(g) * 4 if g.isdigit() else g
        print(f'\n== {kib} KiB per map (granule {g}): ns per request, map + unmap '
              f'(medians added; p99 likewise), ratio to plain dma_map_sg in the same boot',
              file=out)
        hdr = f'  {"mode":<18}{"method":<22}'
        for t in threads:
            hdr += f'{"t=" + t + " p50":>11}{"p99":>9}{"ratio":>7}'
        hdr += f'{"hits":>10}{"misses":>8}'
        print(hdr, file=out)
        for m in modes:
            for meth in METHOD_ORDER:
                row = f'  {m:<18}{METHOD_TEXT[meth]:<22}'
                any_run = False
                hits = misses = ''
                for t in threads:
                    r = find(boots, m, meth, g, t)
                    plain = find(boots, m, PLAIN, g, t)
                    if r:
                        any_run = True
                        rt = ratio(per_request(r), per_request(plain) if plain else None)
                        row += (f'{fmt(per_request(r), 11)}{fmt(per_request_p99(r), 9)}'
                                f'{(f"{rt:.2f}" if rt is not None else "-"):>7}')
                        if meth == 'reuse':
                            hits = hits or r.get('hits', '')
                            misses = misses or r.get('misses', '')
                    else:
                        row += f'{"-":>11}{"-":>9}{"-":>7}'
                row += f'{hits:>10}{misses:>8}'
                if any_run:
                    print(row, file=out)
    targets(boots, modes, threads, out)
    print('\n== latency histograms: 8 KiB, 1 thread (log2 buckets, ns)', file=out)
    for m in modes:
        for meth in METHOD_ORDER:
            for side in ('map', 'unmap'):
                rows = log2_histogram([h for h in boots[m]['hists']
                                       if h['method'] == meth and h['granule'] == '2'
                                       and h['threads'] == '1' and h['side'] == side])
                if not rows:
                    continue
                r = find(boots, m, meth, '2', '1') or {}
                print(f'\n  {m}, {METHOD_TEXT[meth]}, {side}: mean {r.get(side + "_mean_ns", "-")} ns, '
                      f'stddev {r.get(side + "_stddev_ns", "-")} ns', file=out)
                print_histogram('', rows, out)
    zswap_table(boots, modes, out)
    iotlb_table(run, modes, out)
    out_of_line(run, modes, out)
    print('\nAll figures are from QEMU TCG guests (emulated CPU and IOMMU): compare '
          'them with each other, not with hardware.', file=out)


def targets(boots: Dict, modes: List[str], threads: List[str], out) -> None:
    print('\n== targets (8 KiB, the zswap buffer)', file=out)
    for m in STRICT_TARGET_MODES:
        if m not in boots:
            print(f'  {m}: not booted', file=out)
            continue
        reuse = find(boots, m, 'reuse', '2', '1')
        plain = find(boots, m, PLAIN, '2', '1')
        rt = ratio(per_request(reuse) if reuse else None, per_request(plain) if plain else None)
        verdict = '-' if rt is None else ('met' if rt <= 0.1 else 'missed')
        print(f'  {m}: reuse / plain map+unmap = '
              f'{"-" if rt is None else f"{rt:.3f}"} (target <= 0.1): {verdict}', file=out)
        floor = find(boots, FLOOR_MODE, PLAIN, '2', '1')
        rt2 = ratio(per_request(reuse) if reuse else None, per_request(floor) if floor else None)
        verdict = '-' if rt2 is None else ('met' if rt2 <= 1.0 else 'missed')
        print(f'  {m}: reuse / plain map+unmap without an IOMMU ({FLOOR_MODE} boot) = '
              f'{"-" if rt2 is None else f"{rt2:.2f}"} (target <= 1): {verdict}', file=out)
        if len(threads) > 1:
            many = find(boots, m, 'reuse', '2', threads[-1])
            rt3 = ratio(per_request(many) if many else None, per_request(reuse) if reuse else None)
            verdict = '-' if rt3 is None else ('met' if rt3 <= 1.1 else 'missed')
            print(f'  {m}: reuse at {threads[-1]} threads / at 1 thread, per request = '
                  f'{"-" if rt3 is None else f"{rt3:.2f}"} (target: not slower, <= 1.1 '
                  f'allowing for noise): {verdict}', file=out)


def zswap_table(boots: Dict, modes: List[str], out) -> None:
    rows = [(m, z) for m in modes for z in boots[m]['zswap']]
    if not rows:
        return
    print('\n== zswap on lz4-dmatest, zswap.reuse_dma_buffer off/on/off in one boot', file=out)
    print(f'  {"mode":<18}{"marking":<9}{"store p/s":>10}{"load p/s":>10}{"requests":>10}'
          f'{"map ns/req":>11}{"req ns":>9}{"map share":>10}{"mism.":>7}', file=out)
    for m, z in rows:
        req = num(z.get('requests')) or 0
        mp, rq = num(z.get('map_ns')), num(z.get('req_ns'))
        share = f'{100 * mp / rq:.1f}%' if mp is not None and rq else '-'
        print(f'  {m:<18}{z.get("marking", "-"):<9}{z.get("store_pps", "-"):>10}'
              f'{z.get("load_pps", "-"):>10}{z.get("requests", "-"):>10}'
              f'{fmt(mp / req if mp is not None and req else None, 11)}'
              f'{fmt(rq / req if rq is not None and req else None, 9)}{share:>10}'
              f'{z.get("mismatches", "-"):>7}', file=out)


def iotlb_table(run: str, modes: List[str], out) -> None:
    """What the emulated IOMMU did per zswap request (tools/iotlb.py)."""
    rows = []
    for m in modes:
        p = os.path.join(run, 'boot', m, 'result.json')
        try:
            with open(p) as f:
                met = json.load(f).get('metrics', {})
        except (OSError, ValueError):
            continue
        if 'iotlb_requests_on' in met:
            rows.append((m, met))
    if not rows:
        return
    print('\n== the IOMMU work per zswap request, counted on the host with QEMU '
          'trace events (VT-d: IOTLB invalidations; virtio-iommu: map + unmap requests), '
          'in the test device\'s domain, phases and served IOVAs read from the guest\'s '
          'markers in the same ordered trace', file=out)
    print(f'  {"mode":<18}{"marking":<9}{"requests":>9}{"events":>8}{"per request":>12}'
          f'{"on served IOVAs":>16}', file=out)
    for m, met in rows:
        for ph in ('on', 'off'):
            print(f'  {m:<18}{ph:<9}{met.get("iotlb_requests_" + ph, "-"):>9}'
                  f'{met.get("iotlb_events_" + ph, "-"):>8}'
                  f'{met.get("iotlb_events_per_request_" + ph, "-"):>12}'
                  f'{met.get("iotlb_buffer_events_" + ph, "-"):>16}', file=out)
        print(f'  {m:<18}events on the served IOVAs after the on phase (their teardown): '
              f'{met.get("iotlb_after_on_buffer_events", "-")}', file=out)


def out_of_line(run: str, modes: List[str], out) -> None:
    """Every check of a demo boot that did not hold, loudly.  make demo is a
    measurement: this is reported, and make check is where it fails."""
    rows = []
    for m in modes:
        p = os.path.join(run, 'boot', m, 'result.json')
        try:
            with open(p) as f:
                cases = json.load(f).get('cases', [])
        except (OSError, ValueError):
            rows.append((m, 'boot', 'no result.json: the boot did not finish'))
            continue
        rows += [(m, c['name'], c.get('reason', '')) for c in cases if c['status'] == 'fail']
    print('\n== out of line', file=out)
    if not rows:
        print('  nothing: every check of every demo boot held', file=out)
        return
    print('  !!! these checks did not hold in this run (reported here; make check fails '
          'on them) !!!', file=out)
    for m, name, why in rows:
        print(f'  !!! {m}: {name}{": " + why if why else ""}', file=out)


def write_keyed_csv(path: str, modes: List[str], boots: Dict, part: str) -> None:
    """One row per key=value record of boots[mode][part], a column per key."""
    keys = sorted({k for b in boots.values() for r in b[part] for k in r})
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['iommu_mode'] + keys)
        for m in modes:
            for r in boots[m][part]:
                w.writerow([m] + [r.get(k, '') for k in keys])


def write_raw(run: str, modes: List[str], boots: Dict) -> None:
    write_keyed_csv(os.path.join(run, 'results.csv'), modes, boots, 'runs')
    write_keyed_csv(os.path.join(run, 'zswap.csv'), modes, boots, 'zswap')
    with open(os.path.join(run, 'hist.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['iommu_mode', 'method', 'granule', 'threads', 'side', 'lo_ns', 'hi_ns', 'count'])
        for m in modes:
            for h in boots[m]['hists']:
                w.writerow([m, h['method'], h['granule'], h['threads'], h['side'],
                            h['lo'], h['hi'], h['count']])
    with open(os.path.join(run, 'results.json'), 'w') as f:
        json.dump({'setup': read(os.path.join(run, 'setup.txt')),
                   'modes': {m: dict(boots[m], qemu=read(os.path.join(run, 'boot', m, 'qemu-cmdline')))
                             for m in modes}}, f, indent=1)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
