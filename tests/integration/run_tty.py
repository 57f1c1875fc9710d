#!/usr/bin/env python3
"""tty mode of `nook run -- CMD` under a pty harness.

nook runs on the slave side of a pty (its stdin and stdout are a terminal), so the command
gets the guest's /dev/hvc0 as its controlling terminal. The guest reports that it sees a
terminal of the right size, then waits; the harness sends Ctrl-C as a raw byte, which the
guest's line discipline turns into SIGINT for the command: nook must exit 130, and the
terminal's settings must be what they were before nook made it raw.

    run_tty.py NOOK
"""
import os
import select
import sys
import termios
import time
import fcntl
import struct

TIMEOUT = float(os.environ.get("NOOK_BOOT_TIMEOUT", "400"))
SCRIPT = 'stty size; tty; echo READY; exec sleep 1000'


def main():
    nook = sys.argv[1]
    fd, slave = os.openpty()
    # The size the guest must see, and the settings nook must restore, fixed before it
    # starts.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 37, 101, 0, 0))
    before = termios.tcgetattr(slave)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for i in range(3):
            os.dup2(slave, i)
        os.closerange(3, 256)
        os.execv(nook, [nook, "run", "--", "/bin/sh", "-c", SCRIPT])
    os.close(slave)
    out = b""
    deadline = time.time() + TIMEOUT
    sent = False
    status = None
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 1.0)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                break
            out += data
        if not sent and b"READY" in out:
            time.sleep(0.5)
            os.write(fd, b"\x03")
            sent = True
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
    if status is None:
        try:
            _, status = os.waitpid(pid, 0 if time.time() < deadline else os.WNOHANG)
        except ChildProcessError:
            pass
    text = out.decode(errors="replace")
    print(text)
    if status is None:
        os.kill(pid, 9)
        print("run_tty: nook did not exit")
        return 1
    code = os.waitstatus_to_exitcode(status)
    # A pty master's TCGETS reports the slave's settings.
    after = termios.tcgetattr(fd)
    ok = True
    if "37 101" not in text:
        print("run_tty: the guest did not see the 37x101 window size")
        ok = False
    if "/dev/hvc0" not in text:
        print("run_tty: the command's terminal is not /dev/hvc0")
        ok = False
    if code != 130:
        print(f"run_tty: exit {code}, expected 130 (SIGINT from Ctrl-C)")
        ok = False
    # lflag (ECHO, ICANON, ISIG) and iflag (ICRNL) are what raw mode changes.
    if after[0] != before[0] or after[3] != before[3]:
        print("run_tty: terminal settings not restored")
        ok = False
    print("Ctrl-C -> exit 130, window 37x101, /dev/hvc0, terminal restored" if ok else "run_tty: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
