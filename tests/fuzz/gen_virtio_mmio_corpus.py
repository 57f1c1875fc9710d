#!/usr/bin/env python3
"""Write the seed corpus for tests/fuzz/fuzz_virtio_mmio.c (format documented there).

Usage: tests/fuzz/gen_virtio_mmio_corpus.py [OUTDIR]  (default tests/fuzz/corpus/virtio_mmio)
Seeds are register sequences a driver makes (the Linux virtio-mmio probe order), then
hostile variants: rings outside RAM or overflowing 64 bits, queue sizes above the maximum
or not a power of two, DRIVER_OK before FEATURES_OK, features not offered, layout writes
after QueueReady, queue selects past the last queue, shm selects, odd-sized and
unaligned accesses, config space edges, a queue_start that fails, and resets mid-way.
"""
import os
import struct
import sys

READ, WRITE, MEM, WORK, FLAGS = 0, 1, 2, 3, 4
GPA = 0x10000
ACK, DRIVER, DRIVER_OK, FEATURES_OK = 1, 2, 4, 8


def rec(op, arg, off, val):
    return struct.pack("<BBHI", op, arg, off, val & 0xffffffff)


def rd(off, size=2):
    return rec(READ, size, off, 0)


def wr(off, val, size=2):
    return rec(WRITE, size, off, val)


def mem(off, val):
    return rec(MEM, 0, off, val)


def negotiate(features_hi=1, features_lo=0x20000021, ok=True):
    s = wr(0x70, 0) + rd(0x0) + rd(0x4) + rd(0x8) + rd(0xc)
    s += wr(0x70, ACK) + wr(0x70, ACK | DRIVER)
    s += wr(0x14, 1) + rd(0x10) + wr(0x14, 0) + rd(0x10)
    s += wr(0x24, 1) + wr(0x20, features_hi) + wr(0x24, 0) + wr(0x20, features_lo)
    if ok:
        s += wr(0x70, ACK | DRIVER | FEATURES_OK) + rd(0x70)
    return s


def queue(q, num, desc, avail, used, ready=True):
    s = wr(0x30, q) + rd(0x34) + rd(0x44) + wr(0x38, num)
    s += wr(0x80, desc & 0xffffffff) + wr(0x84, desc >> 32)
    s += wr(0x90, avail & 0xffffffff) + wr(0x94, avail >> 32)
    s += wr(0xa0, used & 0xffffffff) + wr(0xa4, used >> 32)
    if ready:
        s += wr(0x44, 1) + rd(0x44)
    return s


def layout(q):
    base = GPA + q * 0x4000
    return base, base + 0x1000, base + 0x2000


def chain_in_ram(q, n_desc=2):
    """Descriptor 0 (readable) -> 1 (writable) at queue q's table, published in avail."""
    desc, avail, _ = layout(q)
    s = b""
    d = desc - GPA
    buf = GPA + 0xc000
    s += mem(d, buf) + mem(d + 4, 0) + mem(d + 8, 64) + mem(d + 12, 1 | (1 << 16))
    s += mem(d + 16, buf + 64) + mem(d + 20, 0) + mem(d + 24, 128) + mem(d + 28, 2)
    a = avail - GPA
    s += mem(a, 0 | (1 << 16)) + mem(a + 4, 0)
    return s


def driver_ok():
    return wr(0x70, ACK | DRIVER | FEATURES_OK | DRIVER_OK) + rd(0x70)


def full(q=0, num=8):
    s = negotiate()
    for i in range(3):
        s += queue(i, num if i != 2 else 8, *layout(i))
    s += driver_ok() + chain_in_ram(q) + wr(0x50, q) + rec(WORK, q, 0, 0)
    s += rd(0x60) + wr(0x64, 3) + rd(0x60)
    return s


SEEDS = {
    "probe": negotiate() + rd(0xfc) + rd(0x100) + rd(0x104),
    "full_q0": full(0),
    "full_q1": full(1, 1024),
    "config_edges": negotiate() + rd(0x100, 0) + rd(0x117, 0) + rd(0x116, 1) + rd(0x114, 3) +
                    rd(0x118) + rd(0xfff, 0) + wr(0x110, 0xdeadbeef, 3) + wr(0x118, 1) +
                    rd(0x110, 3) + rec(FLAGS, 2, 0, 0) + rd(0xfc) + rd(0x60),
    "shm": rd(0xac) + rd(0xb0) + rd(0xb4) + rd(0xb8) + rd(0xbc) + wr(0xac, 1) + rd(0xb0) +
           rd(0xbc) + wr(0xac, 0xffffffff) + rd(0xb8),
    "ring_outside": negotiate() + queue(0, 8, 0x1000, 0x2000, 0x3000) + driver_ok(),
    "ring_overflow": negotiate() + queue(0, 256, 0xfffffffffffffff0, GPA, GPA + 0x1000),
    "ring_straddle": negotiate() + queue(0, 256, GPA + 0xff00, GPA, GPA + 0x1000),
    "num_big": negotiate() + queue(0, 0x10000, *layout(0)) + queue(1, 2048, *layout(1)),
    "num_odd": negotiate() + queue(0, 7, *layout(0)) + queue(1, 0, *layout(1)),
    "no_features_ok": negotiate(ok=False) + queue(0, 8, *layout(0)) +
                      wr(0x70, ACK | DRIVER | DRIVER_OK) + rd(0x70),
    "legacy": negotiate(features_hi=0) + rd(0x70) + driver_ok(),
    "not_offered": negotiate(features_hi=0xffffffff, features_lo=0xffffffff) + driver_ok(),
    "frozen_layout": negotiate() + queue(0, 8, *layout(0)) + wr(0x38, 16) + wr(0x80, 0) +
                     wr(0x44, 0) + wr(0x80, 0) + driver_ok() + wr(0x44, 0) + rd(0x44),
    "sel_past": negotiate() + wr(0x30, 3) + rd(0x34) + wr(0x38, 8) + wr(0x44, 1) + rd(0x44) +
                wr(0x30, 0xffffffff) + rd(0x44) + wr(0x50, 7) + wr(0x50, 0xffffffff),
    "start_fails": negotiate() + queue(0, 8, *layout(0)) + rec(FLAGS, 1, 0, 0) + driver_ok() +
                   rd(0x60) + queue(1, 8, *layout(1)),
    "ready_after_ok": negotiate() + driver_ok() + queue(0, 8, *layout(0)) + chain_in_ram(0) +
                      rec(WORK, 0, 0, 0) + rd(0x60),
    "reset_midway": full(0) + wr(0x70, 0) + rd(0x70) + rec(WORK, 0, 0, 0) + full(1),
    "unaligned": wr(0x72, 1, 1) + wr(0x71, 1, 0) + rd(0x70, 1) + rd(0x2, 2) + rd(0x0, 3) +
                 wr(0x70, 0x0f0f0f0f, 3) + rd(0x70),
    "needs_reset_bit": negotiate() + wr(0x70, 0x4f) + rd(0x70) + wr(0x70, 0xff) + rd(0x70),
    "bad_chain": negotiate() + queue(0, 8, *layout(0)) + driver_ok() +
                 mem(0x0, 0xfff00000) + mem(0x8, 0x100000) + mem(0xc, 2 << 16 | 1) +
                 mem(0x1000, 1 << 16) + rec(WORK, 0, 0, 0) + rd(0x70) + rd(0x60),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                            "corpus", "virtio_mmio")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
