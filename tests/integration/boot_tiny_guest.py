#!/usr/bin/env python3
"""Writes a tiny ELF64 "kernel" whose 64-bit entry runs the given machine code.

    boot_tiny_guest.py OUT HEXCODE

Used by tests/integration/boot.sh to provoke exits nook must report (unknown port, unknown
MMIO, triple fault) without booting Linux.
"""
import struct
import sys

LOAD = 0x1000000  # arch/x86_64/layout.h LAYOUT_KERNEL_LOAD


def main():
    out, code = sys.argv[1], bytes.fromhex(sys.argv[2])
    ehsize, phsize = 64, 56
    off = ehsize + phsize
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    eh = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, LOAD, ehsize, 0, 0, ehsize, phsize,
                             1, 0, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 5, off, LOAD, LOAD, len(code), len(code), 0x1000)
    with open(out, "wb") as f:
        f.write(eh + ph + code)


if __name__ == "__main__":
    main()
