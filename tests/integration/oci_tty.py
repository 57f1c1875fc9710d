#!/usr/bin/env python3
"""Runs a command (podman run -t / exec -t) on the slave side of a 37x101 pty.

Prints everything the command wrote on the terminal (CR LF as LF) and exits with its
exit status, so oci.sh can check both. A pty harness because podman -t needs a terminal
of its own on stdin.

    oci_tty.py CMD [ARGS...]

With OCI_TTY_RESIZE=MARK set, once MARK shows up in the output the terminal becomes
40x120 (podman gets SIGWINCH and passes the size on), and a second later a line is
typed, for a workload that reads one before it looks at its size again.
"""
import fcntl
import os
import select
import struct
import sys
import termios
import time

TIMEOUT = float(os.environ.get("NOOK_BOOT_TIMEOUT", "120"))


def main():
    fd, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 37, 101, 0, 0))
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for i in range(3):
            os.dup2(slave, i)
        os.closerange(3, 256)
        os.execvp(sys.argv[1], sys.argv[1:])
    os.close(slave)
    out = b""
    deadline = time.time() + TIMEOUT
    status = None
    mark = os.environ.get("OCI_TTY_RESIZE", "").encode()
    resized_at = None
    while time.time() < deadline:
        if mark and resized_at is None and mark in out:
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            resized_at = time.time()
        if resized_at and time.time() - resized_at > 1.5:
            os.write(fd, b"go\r")
            resized_at = 0
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            out += data
            if not data and status is not None:
                break
        if status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
                deadline = min(deadline, time.time() + 2)
    if status is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        sys.stdout.write(out.decode(errors="replace").replace("\r\n", "\n"))
        print("oci_tty.py: timed out")
        sys.exit(124)
    sys.stdout.write(out.decode(errors="replace").replace("\r\n", "\n"))
    sys.exit(os.waitstatus_to_exitcode(status) & 0xff)


main()
