#!/usr/bin/env python3
"""Spoiled copies of a recorded boot, each of which must fail for its own
reason (tests/host/test_results.py asserts which case fails and why).

  python3 tests/host/spoil.py [--from DIR] OUTDIR
      write every spoiled copy of DIR (default tests/host/data/pass) into
      OUTDIR/<name>/, to look at or to feed to tools/results.py by hand.

Each spoil is (name, edit, failing case, words of its reason): the edit
changes the copy the way a real failure would (the guest's own words where
the guest would say something).
"""
import argparse
import os
import re
import shutil
import sys
from typing import Callable, List, NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
PASS = os.path.join(HERE, 'data', 'pass')


def read(d, f):
    with open(os.path.join(d, f), errors='replace') as fh:
        return fh.read().splitlines()


def write(d, f, lines):
    with open(os.path.join(d, f), 'w') as fh:
        fh.write('\n'.join(lines) + ('\n' if lines else ''))


def top_result(lines, name):
    """Index of the top-level result line of case NAME."""
    for i, l in enumerate(lines):
        if re.match(rf'^(ok|not ok) \d+ {re.escape(name)}( #.*)?$', l):
            return i
    raise LookupError(f'no top-level result line for {name}')


def metric_line(lines, key):
    """Index and value of the guest's '# SGR METRIC KEY=N' record."""
    for i, l in enumerate(lines):
        m = re.match(rf'^# SGR METRIC (?:.* )?{key}=(\d+)(?: |$)', l)
        if m:
            return i, int(m.group(1))
    raise LookupError(f'no METRIC record of {key}')


def rebound_below_target(d):
    g = read(d, 'guest.ktap')
    i = top_result(g, 'zswap_stress_rebound')
    _, marked = metric_line(g, 'cache_marked')
    hits = marked * 9 // 10
    k, _ = metric_line(g, 'cache_hits')
    g[k] = re.sub(r'cache_hits=\d+', f'cache_hits={hits}', g[k])
    n = g[i].split()[1]
    g[i] = f'not ok {n} zswap_stress_rebound # hits {hits} are under 99% of the {marked} marked lists'
    write(d, 'guest.ktap', g)


def unknown_record(d):
    # A record the host has no reader for (a new kind, or a misspelt one):
    # its numbers would be lost without a word.
    g = read(d, 'guest.ktap')
    i = top_result(g, 'zswap_teardown')
    g.insert(i, '# SGR ZSWAP_AB pass=1 marking=on store_pps=900')
    write(d, 'guest.ktap', g)


def record_refused(d):
    # tests/guest/lib.sh would not write a malformed record (a tool's line
    # of another shape): it says so in prose, and the numbers are lost.
    g = read(d, 'guest.ktap')
    i = top_result(g, 'zswap_teardown')
    g.insert(i, '# record refused, field "1.5us" is not key=value: HIST method=reuse '
                'granule=2 threads=1 map 1.5us')
    write(d, 'guest.ktap', g)


def iotlb_records_missing(d):
    # The guest counted no requests for the iotlb phases (a record lost or
    # renamed): the host cannot compare the phases.
    g = read(d, 'guest.ktap')
    write(d, 'guest.ktap', [l for l in g if not l.startswith('# SGR IOTLB ')])


def parent_not_ok(d):
    g = read(d, 'guest.ktap')
    i = top_result(g, 'zswap_stress_under_fire')
    n = g[i].split()[1]
    g[i] = (f'not ok {n} zswap_stress_under_fire # the engine saw 1 mismatched translations '
            'and 0 faults')
    write(d, 'guest.ktap', g)


def renamed_case(d):
    g = read(d, 'guest.ktap')
    i = top_result(g, 'zswap_teardown')
    g[i] = g[i].replace('zswap_teardown', 'zswap_tear_down')
    write(d, 'guest.ktap', g)


def nested_name_mismatch(d):
    g = read(d, 'guest.ktap')
    g = [l.replace('# Subtest: zswap_stress_under_fire', '# Subtest: zswap_stress_fire') for l in g]
    write(d, 'guest.ktap', g)


def died_before_first_line(d):
    c = read(d, 'console.log')
    cut = next(i for i, l in enumerate(c) if 'Run /init as init process' in l)
    write(d, 'console.log', c[:cut] + ['Kernel panic - not syncing: Attempted to kill init! '
                                       'exitcode=0x00000100'])
    write(d, 'guest.ktap', [])


def cut_short(d):
    g = read(d, 'guest.ktap')
    write(d, 'guest.ktap', g[:top_result(g, 'zswap_teardown')])
    write(d, 'vm-status', ['timeout'])


def iommu_fault(d):
    c = read(d, 'console.log')
    i = next(i for i, l in enumerate(c) if 'Run /init as init process' in l)
    c.insert(i + 5, '[   42.000000] DMAR: DRHD: handling fault status reg 2')
    c.insert(i + 6, '[   42.000001] DMAR: [DMA Write NO_PASID] Request device [00:11.0] '
                    'fault addr 0xfffee000 [fault reason 0x05] PTE Write access is not set')
    write(d, 'console.log', c)


def console_line(d, line):
    c = read(d, 'console.log')
    i = next(i for i, l in enumerate(c) if 'Run /init as init process' in l)
    c[i + 5:i + 5] = line.splitlines()
    write(d, 'console.log', c)


def rcu_stall(d):
    # A stall that ends: the boot goes on and every case passes.
    console_line(d, '[  121.004000] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n'
                    '[  121.004100] rcu:     1-...!: (1 GPs behind) idle=2d4c/0/0x1 '
                    'softirq=4021/4022 fqs=0\n'
                    '[  121.004200] rcu: rcu_preempt kthread timer wakeup didn\'t happen for '
                    '21002 jiffies! g8453 f0x0 RCU_GP_WAIT_FQS(5) ->state=0x402')


def hung_task(d):
    console_line(d, '[  242.120000] INFO: task sh:97 blocked for more than 60 seconds.\n'
                    '[  242.120100]       Not tainted 7.3.4 #1\n'
                    '[  242.120200] "echo 0 > /proc/sys/kernel/hung_task_timeout_secs" '
                    'disables this message.')


def driver_not_bound(d):
    # lz4-dmatest built in (the .config says so) but not bound: the guest
    # skips the driver's cases, in a mode where nothing they need is
    # missing; the stress still runs, on software lz4.
    g = read(d, 'guest.ktap')
    why = 'lz4-dmatest is not built in'
    for name in ('zswap_dma_driver', 'zswap_teardown', 'zswap_stress_rebound'):
        i = top_result(g, name)
        n = g[i].split()[1]
        if name == 'zswap_stress_rebound':
            # Its nested document goes with the case.
            start = next(k for k in range(i, -1, -1) if g[k].strip() == f'# Subtest: {name}')
            start -= g[start - 1].strip().startswith('KTAP version')
            g[start:i + 1] = [f'ok {n} {name} # SKIP {why}']
        else:
            g[i] = f'ok {n} {name} # SKIP {why}'
    write(d, 'guest.ktap', g)


def rerun_did_not_run(d):
    # The rerun's write failed unnoticed (v2's guest) and the boot-time
    # results were read: in virtio-iommu, every IOMMU case skipped.
    g = read(d, 'guest.ktap')
    g = [re.sub(r'^(\s+ok \d+ [a-z_]+)$', r'\1 # SKIP no IOMMU group', l)
         if re.match(r'^\s{8}ok \d+ dma_reuse_test', l) else l for l in g]
    write(d, 'guest.ktap', g)


def kunit_suite_missing(d):
    c = read(d, 'console.log')
    out, skip = [], False
    for l in c:
        if re.search(r'# Subtest: dma_reuse_cache$', l):
            skip = True
            if out and out[-1].strip().endswith('KTAP version 1'):
                out.pop()
        if not skip:
            out.append(l)
        if skip and re.search(r'(ok|not ok) \d+ dma_reuse_cache$', l):
            skip = False
    write(d, 'console.log', out)


class Spoil(NamedTuple):
    name: str
    edit: Callable[[str], None]
    case: str            # the failing case's name
    why: str             # words of its reason


SPOILS: List[Spoil] = [
    Spoil('rebound-below-target', rebound_below_target, 'guest.zswap_stress_rebound',
          'under 99%'),
    Spoil('unknown-record', unknown_record, 'guest_records', 'ZSWAP_AB, a kind nobody reads'),
    Spoil('record-refused', record_refused, 'guest_records', 'could not write'),
    Spoil('iotlb-records-missing', iotlb_records_missing, 'iotlb.buffer_events_marking_on',
          'no request'),
    Spoil('parent-not-ok', parent_not_ok, 'guest.zswap_stress_under_fire',
          'mismatched translations'),
    Spoil('renamed-case', renamed_case, 'guest.zswap_teardown', 'expected'),
    Spoil('nested-name-mismatch', nested_name_mismatch, 'guest.<parse error>',
          'missing subtest result line'),
    Spoil('died-before-first-line', died_before_first_line, 'guest_finished', 'Kernel panic'),
    Spoil('cut-short', cut_short, 'guest_finished', 'killed at the timeout'),
    Spoil('iommu-fault', iommu_fault, 'console_clean', 'DMAR: DRHD: handling fault'),
    Spoil('kunit-suite-missing', kunit_suite_missing, 'kunit.dma_reuse_cache',
          'did not report at boot'),
    Spoil('rcu-stall', rcu_stall, 'console_clean', 'rcu_preempt detected stalls'),
    Spoil('hung-task', hung_task, 'console_clean', 'blocked for more than 60 seconds'),
    Spoil('driver-not-bound', driver_not_bound, 'guest.zswap_dma_driver',
          'skipped in mode vtd-strict'),
    Spoil('rerun-did-not-run', rerun_did_not_run,
          'guest.kunit_rerun_dma_reuse_cache_iommu.dma_reuse_cache_iommu.'
          'dma_reuse_test_read_only', 'skipped in mode'),
]


def make(spoil: Spoil, src: str, dst: str) -> str:
    shutil.copytree(src, dst)
    for f in ('boot.json',):
        if os.path.exists(os.path.join(dst, f)):
            os.remove(os.path.join(dst, f))
    spoil.edit(dst)
    return dst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--from', dest='src', default=PASS)
    ap.add_argument('outdir')
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    for s in SPOILS:
        print(make(s, a.src, os.path.join(a.outdir, s.name)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
