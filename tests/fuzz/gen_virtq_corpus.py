#!/usr/bin/env python3
"""Write the seed corpus for tests/fuzz/fuzz_virtq.c (format documented there).

Usage: tests/fuzz/gen_virtq_corpus.py [OUTDIR]   (default tests/fuzz/corpus/virtq)
Each seed is a valid or deliberately broken queue image so the fuzzer starts from the
interesting shapes: direct and indirect chains, chains across the RAM region boundary,
loops, out-of-range indices, bad indirect tables, avail idx jumps, many chains, wrap.
"""
import os
import struct
import sys

GPA = 0x10000
RAM = 0x10000
HALF = 0x8000
NEXT, WRITE, INDIRECT = 1, 2, 4


class Image:
    def __init__(self, size_log2=3, event_idx=True, indirect=True, max_iov=64):
        self.size = 1 << size_log2
        self.hdr = [size_log2, (1 if event_idx else 0) | (2 if indirect else 0)]
        self.desc, self.avail, self.used = 0x0, 0x800, 0xc00
        self.max_iov = max_iov
        self.mem = bytearray(RAM)
        self.avail_idx = 0

    def desc_at(self, table_off, i, addr, length, flags, nxt):
        struct.pack_into("<QIHH", self.mem, table_off + 16 * i, addr, length, flags, nxt)

    def set_desc(self, i, addr, length, flags=0, nxt=0):
        self.desc_at(self.desc, i, addr, length, flags, nxt)

    def publish(self, head):
        struct.pack_into("<H", self.mem, self.avail + 4 + 2 * (self.avail_idx % self.size), head)
        self.avail_idx = (self.avail_idx + 1) & 0xffff
        struct.pack_into("<H", self.mem, self.avail + 2, self.avail_idx)

    def chain(self, first, bufs):
        """bufs: list of (gpa, len, write); descriptors first, first+1, ..."""
        for k, (addr, length, wr) in enumerate(bufs):
            last = k == len(bufs) - 1
            self.set_desc((first + k) % self.size, addr, length,
                          (WRITE if wr else 0) | (0 if last else NEXT), (first + k + 1) % self.size)
        return first

    def indirect_table(self, off, bufs):
        for k, (addr, length, wr) in enumerate(bufs):
            last = k == len(bufs) - 1
            self.desc_at(off, k, addr, length, (WRITE if wr else 0) | (0 if last else NEXT), k + 1)
        return GPA + off

    def bytes(self):
        hdr = bytes(self.hdr) + struct.pack("<HHHH", self.desc, self.avail, self.used, self.max_iov)
        mem = bytes(self.mem).rstrip(b"\0")   # trailing zeros are implied
        return hdr + mem


def seeds():
    buf = lambda off: GPA + off
    s = {}

    im = Image()
    im.publish(im.chain(0, [(buf(0x3000), 40, False), (buf(0x3100), 16, False),
                            (buf(0x3200), 16, True), (buf(0x4000), 4096, True)]))
    s["direct"] = im

    im = Image()
    t = im.indirect_table(0x1400, [(buf(0x3000), 40, False), (buf(0x3100), 64, False),
                                   (buf(0x3200), 16, True), (buf(0x6000), 0x1000, True)])
    im.set_desc(0, t, 64, INDIRECT)
    im.publish(0)
    s["indirect"] = im

    im = Image()
    im.publish(im.chain(0, [(buf(HALF - 100), 300, True)]))
    s["cross_region"] = im

    im = Image(event_idx=False, indirect=False)
    for i in range(8):
        im.publish(im.chain(i, [(buf(0x3000 + 64 * i), 64, i % 2 == 1)]))
    s["full_ring"] = im

    im = Image()
    im.set_desc(0, buf(0x3000), 8, NEXT, 1)
    im.set_desc(1, buf(0x3000), 8, NEXT, 0)
    im.publish(0)
    s["loop"] = im

    im = Image()
    im.publish(im.chain(0, [(buf(0x3000), 8, True), (buf(0x3100), 8, False)]))
    s["read_after_write"] = im

    im = Image()
    t = im.indirect_table(0x1400, [(buf(0x3000), 8, False)])
    im.set_desc(0, t, 24, INDIRECT)
    im.publish(0)
    s["indirect_bad_len"] = im

    im = Image()
    inner = im.indirect_table(0x1500, [(buf(0x3000), 8, False)])
    im.desc_at(0x1400, 0, inner, 16, INDIRECT, 0)
    im.set_desc(0, GPA + 0x1400, 16, INDIRECT)
    im.publish(0)
    s["indirect_nested"] = im

    im = Image()
    im.set_desc(0, GPA + RAM - 8, 64, WRITE)
    im.publish(0)
    s["outside_ram"] = im

    im = Image()
    struct.pack_into("<H", im.mem, im.avail + 2, 200)
    s["avail_jump"] = im

    im = Image(size_log2=7, max_iov=255)
    t = im.indirect_table(0x1400, [(buf(0x8000 + 0x100 * k), 0x100, k >= 2) for k in range(64)])
    im.set_desc(5, t, 64 * 16, INDIRECT)
    im.publish(5)
    im.publish(im.chain(6, [(buf(0x3000), 16, False), (buf(0x7000), 0x2000, True)]))
    s["big"] = im

    im = Image()
    im.avail_idx = 0xfffe
    struct.pack_into("<H", im.mem, im.avail + 2, 0xfffe)
    for i in range(3):
        im.publish(im.chain(i, [(buf(0x3000), 8, False)]))
    s["wrap"] = im
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "virtq")
    os.makedirs(out, exist_ok=True)
    for name, im in seeds().items():
        with open(os.path.join(out, "seed_" + name), "wb") as f:
            f.write(im.bytes())


if __name__ == "__main__":
    main()
