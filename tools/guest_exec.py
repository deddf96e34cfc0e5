#!/usr/bin/env python3
"""The two ends of tools/vm --exec.

  guest_exec.py pack INITRAMFS OUT CMD
      Write OUT: INITRAMFS with a second cpio archive (newc) appended that
      holds CMD as /etc/sgr-exec, byte for byte (the kernel unpacks
      concatenated archives in turn; /init runs it, tests/guest/exec.sh).

  guest_exec.py read KTAP ID OUTPUT STATUS
      Take the command's output from the guest's KTAP tty log (KTAP)
      between the frame lines of exec ID ('sgr-exec ID begin' and the last
      'sgr-exec ID exit N'), the tty's CR LF read as LF, into OUTPUT; its
      exit status, or 'none: why' without one, into STATUS.
"""
import os
import re
import shutil
import sys
import time


def cpio_entry(ino: int, name: str, mode: int, nlink: int, mtime: int, data: bytes = b'') -> bytes:
    """One newc entry, its header and data each padded to 4 bytes."""
    raw = name.encode() + b'\0'
    head = b'070701' + b''.join(b'%08X' % v for v in (
        ino, mode, 0, 0, nlink, mtime, len(data), 0, 0, 0, 0, len(raw), 0)) + raw
    return head + b'\0' * (-len(head) % 4) + data + b'\0' * (-len(data) % 4)


def pack(src: str, out: str, cmd: bytes) -> None:
    now = int(time.time())
    with open(out + '.tmp', 'wb') as f:
        with open(src, 'rb') as s:
            shutil.copyfileobj(s, f)
        # An archive starts on a 4-byte boundary; the kernel skips the zeros.
        f.write(b'\0' * (-f.tell() % 512))
        f.write(cpio_entry(1, 'etc', 0o40755, 2, now) +
                cpio_entry(2, 'etc/sgr-exec', 0o100644, 1, now, cmd) +
                cpio_entry(0, 'TRAILER!!!', 0, 1, now))
    os.replace(out + '.tmp', out)


def read(ktap: str, xid: bytes):
    """(output, status) of exec XID in the tty log KTAP."""
    try:
        with open(ktap, 'rb') as f:
            data = f.read()
    except FileNotFoundError:
        data = b''
    # The guest's tty turns every newline into CR LF.
    data = data.replace(b'\r\n', b'\n')
    begin = b'sgr-exec %s begin\n' % xid
    i = data.find(begin)
    if i < 0:
        return b'', 'none: the command never started'
    body = data[i + len(begin):]
    # The last one: the output may hold anything, the frame comes after it.
    ends = list(re.finditer(rb'\nsgr-exec %s exit ([0-9]{1,3})\n' % re.escape(xid), body))
    if not ends:
        return body, 'none: the command did not finish'
    return body[:ends[-1].start()], ends[-1].group(1).decode()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 4 and argv[0] == 'pack':
        pack(argv[1], argv[2], os.fsencode(argv[3]))
        return 0
    if len(argv) == 5 and argv[0] == 'read':
        body, st = read(argv[1], argv[2].encode())
        with open(argv[3], 'wb') as f:
            f.write(body)
        with open(argv[4], 'w') as f:
            f.write(st + '\n')
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main())
