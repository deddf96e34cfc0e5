"""The one KTAP (version 1) writer of the Python code, twin of tools/ktap.sh.

  w = Writer(sys.stdout)           # or any object with write()
  w.begin(plan)                    # 'KTAP version 1', '1..plan'
  w.result(PASS, 'name')           # 'ok 1 name'
  w.subtest_begin('parent', 2)     # nested document, four spaces deeper
  w.result(FAIL, 'leaf', 'why')    # '    not ok 1 leaf # why'
  w.subtest_end(PASS)              # 'ok 2 parent'
  w.diag('text')                   # '# text'

  document(cases)                  # a whole flat document as a string, the
                                   # plan being the number of cases
"""
from typing import Iterable, List, Tuple

PASS, FAIL, SKIP = 'pass', 'fail', 'skip'


def clean(text: str) -> str:
    return ' '.join(str(text).split())


def result_line(n: int, status: str, name: str, reason: str = '') -> str:
    name, reason = clean(name), clean(reason)
    if status == PASS:
        return f'ok {n} {name}'
    if status == SKIP:
        return f'ok {n} {name} # SKIP {reason}'.rstrip()
    return f'not ok {n} {name}' + (f' # {reason}' if reason else '')


class Writer:
    def __init__(self, out):
        self.out = out
        self.stack: List[Tuple[str, int]] = []   # (name, results so far)
        self.n = 0

    def _line(self, text: str) -> None:
        self.out.write('    ' * len(self.stack) + text + '\n')

    def begin(self, plan: int) -> None:
        self.stack, self.n = [], 0
        self._line('KTAP version 1')
        self._line(f'1..{plan}')

    def diag(self, text: str) -> None:
        self._line('# ' + clean(text))

    def result(self, status: str, name: str, reason: str = '') -> None:
        self.n += 1
        self._line(result_line(self.n, status, name, reason))

    def subtest_begin(self, name: str, plan: int) -> None:
        self.stack.append((name, self.n))
        self.n = 0
        self._line('KTAP version 1')
        self._line(f'# Subtest: {clean(name)}')
        self._line(f'1..{plan}')

    def subtest_end(self, status: str, reason: str = '') -> None:
        name, self.n = self.stack.pop()
        self.result(status, name, reason)


def document(cases: Iterable[Tuple[str, str, str]]) -> str:
    """A flat KTAP document of (status, name, reason) cases."""
    rows = list(cases)
    out = ['KTAP version 1', f'1..{len(rows)}']
    out += [result_line(i, st, name, why) for i, (st, name, why) in enumerate(rows, 1)]
    return '\n'.join(out) + '\n'
