#!/usr/bin/env python3
"""Write the seed corpus for tests/fuzz/fuzz_boot.c (format documented there).

Usage: tests/fuzz/gen_boot_corpus.py [OUTDIR]   (default tests/fuzz/corpus/boot)
Seeds: small valid ELF vmlinux and bzImage images (relocatable or not, protocol 2.06 to
2.15), and the edge shapes the loader must refuse: segments in low memory or past RAM,
filesz > memsz, an entry outside every segment, truncated headers, huge init_size,
a bad kernel_alignment, an initrd that does not fit, an over-long command line.
"""
import os
import struct
import sys

MIB = 1 << 20


def hdr(ram_mib=32, flags=0, initrd=0, cmdline=16):
    return struct.pack("<BBIH", ram_mib, flags, initrd, cmdline)


def elf(segs, entry=0x1000000, phnum=None, phentsize=56, etype=2, machine=62):
    """segs: list of (paddr, filesz, memsz, type)."""
    ph_off = 64
    data_off = ph_off + 56 * len(segs)
    n = len(segs) if phnum is None else phnum
    eh = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    eh += struct.pack("<HHIQQQIHHHHHH", etype, machine, 1, entry, ph_off, 0, 0, 64,
                      phentsize, n, 64, 0, 0)
    phs, body = b"", b""
    for paddr, filesz, memsz, ptype in segs:
        phs += struct.pack("<IIQQQQQQ", ptype, 7, data_off + len(body), paddr, paddr,
                           filesz, memsz, 0x1000)
        body += bytes((i * 7 + 1) & 0xff for i in range(filesz))
    return eh + phs + body


def bzimage(version=0x20f, setup_sects=4, syssize=None, payload=4096, relocatable=1,
            align=0x200000, pref=0x1000000, init_size=0x10000, xlf=1, loadflags=1,
            initrd_max=0x7fffffff, cmdline_size=2047, code32=0x100000, jump=0x66):
    setup = (setup_sects or 4) + 1
    img = bytearray(setup * 512 + payload)
    if syssize is None:
        syssize = (payload + 15) // 16
    img[0x1f1] = setup_sects
    struct.pack_into("<I", img, 0x1f4, syssize)
    struct.pack_into("<H", img, 0x1fe, 0xaa55)
    img[0x200] = 0xeb
    img[0x201] = jump
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, version)
    img[0x211] = loadflags
    struct.pack_into("<I", img, 0x214, code32)
    struct.pack_into("<I", img, 0x22c, initrd_max)
    struct.pack_into("<I", img, 0x230, align)
    img[0x234] = relocatable
    struct.pack_into("<H", img, 0x236, xlf)
    struct.pack_into("<I", img, 0x238, cmdline_size)
    struct.pack_into("<Q", img, 0x258, pref)
    struct.pack_into("<I", img, 0x260, init_size)
    for i in range(setup * 512, len(img)):
        img[i] = (i * 13) & 0xff
    return bytes(img)


LOAD = 1
SEEDS = {
    "elf_one": hdr() + elf([(0x1000000, 512, 0x4000, LOAD)]),
    "elf_two": hdr(initrd=64 * 1024) + elf([(0x1000000, 256, 256, LOAD),
                                          (0x1200000, 128, 0x200000, LOAD),
                                          (0, 0, 0, 4)]),
    "elf_high": hdr(ram_mib=40, flags=1 | (20 << 1)) + elf([(0x100000000, 64, 4096, LOAD)],
                                                          entry=0x100000000),
    "elf_lowmem": hdr() + elf([(0x7000, 64, 64, LOAD)], entry=0x7000),
    "elf_past_ram": hdr(ram_mib=16) + elf([(0x1000000, 64, 64 * MIB, LOAD)]),
    "elf_filesz": hdr() + elf([(0x1000000, 64, 32, LOAD)]),
    "elf_entry": hdr() + elf([(0x1000000, 64, 64, LOAD)], entry=0x2000000),
    "elf_phnum": hdr() + elf([(0x1000000, 64, 64, LOAD)], phnum=0xffff),
    "elf_phentsize": hdr() + elf([(0x1000000, 64, 64, LOAD)], phentsize=32),
    "elf_dyn": hdr() + elf([(0x1000000, 64, 64, LOAD)], etype=3),
    "elf_trunc": hdr() + elf([(0x1000000, 64, 64, LOAD)])[:100],
    "bz_215": hdr(initrd=1 * MIB, cmdline=100) + bzimage(),
    "bz_206": hdr() + bzimage(version=0x206, init_size=0),
    "bz_fixed": hdr() + bzimage(relocatable=0, code32=0x100000),
    "bz_lowload": hdr() + bzimage(relocatable=0, code32=0x1000),
    "bz_align": hdr() + bzimage(align=0x300000),
    "bz_pref_top": hdr() + bzimage(pref=0xfffffffffffff000),
    "bz_init_size": hdr() + bzimage(init_size=0xffffffff),
    "bz_syssize": hdr() + bzimage(syssize=0x10000000),
    "bz_setup": hdr() + bzimage(setup_sects=0xff, payload=0),
    "bz_no64": hdr() + bzimage(xlf=0),
    "bz_old": hdr() + bzimage(version=0x204),
    "bz_initrd_max": hdr(initrd=2 * MIB) + bzimage(initrd_max=0x1100000),
    "bz_initrd_big": hdr(ram_mib=20, initrd=0x3fffff) + bzimage(),
    "bz_cmdline_small": hdr(cmdline=300) + bzimage(cmdline_size=255),
    "bz_cmdline_max": hdr(cmdline=0xffff) + bzimage(cmdline_size=0xffffffff),
    "bz_jump": hdr() + bzimage(jump=0xff),
    "bz_split": hdr(ram_mib=40, flags=1 | (17 << 1), initrd=MIB) + bzimage(),
    "none": hdr() + b"MZ" + bytes(600),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                            "corpus", "boot")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
