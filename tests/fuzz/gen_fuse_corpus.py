#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_fuse.c: one valid request per FUSE opcode.

    python3 tests/fuzz/gen_fuse_corpus.py [OUTDIR]   (default tests/fuzz/corpus/fuse)

Each seed is the harness's 36-byte layout header followed by request(s). Inodes and
handles are named with the harness's markers 0xAA000000000000XX (XX indexes
[root, file, dir, link, sub, file fh, dir fh]); the harness swaps in live values.
Structures follow <linux/fuse.h> protocol 7.38 (plus TMPFILE 51 and STATX 52).
"""
import os
import struct
import sys

ROOT, FILE, DIR, LINK, SUB, FH_FILE, FH_DIR = range(7)


def m(i):
    return 0xAA00000000000000 | i


def layout(opts=0, n_in=1, n_out=1, big=True, splits=(), outs=(4096,), dax=False):
    splits = list(splits) + [0] * (7 - len(splits))
    outs = list(outs) + [0] * (8 - len(outs))
    return (bytes([opts, (n_in - 1) % 8, ((n_out - 1) % 8) | (0x80 if big else 0),
                   1 if dax else 0])
            + struct.pack('<7H', *splits) + struct.pack('<8H', *outs) + b'\0\0')


_unique = [0]


def req(opcode, nodeid, body=b''):
    _unique[0] += 1
    hdr = struct.pack('<IIQQIIIHH', 40 + len(body), opcode, _unique[0], nodeid, 0, 0,
                      1234, 0, 0)
    return hdr + body


def z(s):
    return s.encode() + b'\0'


def read_in(fh, off, size):
    return struct.pack('<QQIIQII', fh, off, size, 0, 0, 0, 0)


def setattr_in(valid, fh=0, size=0, atime=0, mtime=0, mode=0, uid=0, gid=0):
    return struct.pack('<IIQQQQQQIIIIIIII', valid, 0, fh, size, 0, atime, mtime, 0, 0, 0, 0,
                       mode, 0, uid, gid, 0)


def seeds():
    s = {}
    FATTR_MODE, FATTR_UID, FATTR_GID, FATTR_SIZE = 1, 2, 4, 8
    FATTR_ATIME, FATTR_MTIME, FATTR_FH = 16, 32, 64
    s['01_lookup'] = req(1, m(ROOT), z('file'))
    s['02_forget'] = req(1, m(ROOT), z('dir')) + req(2, m(DIR), struct.pack('<Q', 1))
    s['03_getattr'] = req(3, m(FILE), struct.pack('<IIQ', 0, 0, 0))
    s['03_getattr_fh'] = req(3, m(FILE), struct.pack('<IIQ', 1, 0, m(FH_FILE)))
    s['04_setattr_mode'] = req(4, m(FILE), setattr_in(FATTR_MODE, mode=0o100600))
    s['04_setattr_size'] = req(4, m(FILE), setattr_in(FATTR_SIZE | FATTR_FH, fh=m(FH_FILE),
                                                     size=5 << 30))
    s['04_setattr_owner_times'] = req(4, m(FILE), setattr_in(
        FATTR_UID | FATTR_GID | FATTR_ATIME | FATTR_MTIME, atime=1, mtime=2, uid=7, gid=8))
    s['05_readlink'] = req(5, m(LINK))
    s['06_symlink'] = req(6, m(DIR), z('newlink') + z('/etc/passwd'))
    s['08_mknod_fifo'] = req(8, m(DIR), struct.pack('<IIII', 0o10644, 0, 0o22, 0) + z('fifo'))
    s['09_mkdir'] = req(9, m(ROOT), struct.pack('<II', 0o755, 0o22) + z('newdir'))
    s['10_unlink'] = req(10, m(DIR), z('sub'))
    s['11_rmdir'] = req(9, m(ROOT), struct.pack('<II', 0o755, 0) + z('d2')) + \
        req(11, m(ROOT), z('d2'))
    s['12_rename'] = req(12, m(ROOT), struct.pack('<Q', m(DIR)) + z('file') + z('moved'))
    s['13_link'] = req(13, m(DIR), struct.pack('<Q', m(FILE)) + z('hard'))
    s['14_open'] = req(14, m(FILE), struct.pack('<II', os.O_RDONLY, 0))
    s['15_read'] = req(15, m(FILE), read_in(m(FH_FILE), 3, 4096))
    s['16_write'] = req(16, m(FILE), struct.pack('<QQIIQII', m(FH_FILE), 10, 5, 0, 0, 0, 0)
                        + b'hello')
    s['17_statfs'] = req(17, m(ROOT))
    s['18_release'] = req(18, m(FILE), struct.pack('<QIIQ', m(FH_FILE), os.O_RDWR, 0, 0))
    s['20_fsync'] = req(20, m(FILE), struct.pack('<QII', m(FH_FILE), 1, 0))
    s['21_setxattr'] = req(21, m(FILE), struct.pack('<IIII', 3, 0, 0, 0) + z('user.k') + b'val')
    s['22_getxattr'] = req(21, m(FILE), struct.pack('<IIII', 1, 0, 0, 0) + z('user.a') + b'v') + \
        req(22, m(FILE), struct.pack('<II', 64, 0) + z('user.a'))
    s['23_listxattr'] = req(23, m(FILE), struct.pack('<II', 0, 0))
    s['24_removexattr'] = req(24, m(FILE), z('user.k'))
    s['25_flush'] = req(25, m(FILE), struct.pack('<QIIQ', m(FH_FILE), 0, 0, 1))
    s['26_init'] = req(26, 0, struct.pack('<IIIII', 7, 38, 131072, 0x7fffffff, 0) + b'\0' * 44)
    s['27_opendir'] = req(27, m(DIR), struct.pack('<II', os.O_RDONLY, 0))
    s['28_readdir'] = req(28, m(DIR), read_in(m(FH_DIR), 0, 4096))
    s['29_releasedir'] = req(29, m(DIR), struct.pack('<QIIQ', m(FH_DIR), 0, 0, 0))
    s['30_fsyncdir'] = req(30, m(DIR), struct.pack('<QII', m(FH_DIR), 0, 0))
    lk = struct.pack('<QQQQIIII', m(FH_FILE), 99, 0, 9, 1, 1234, 0, 0)   # F_WRLCK 0..9
    s['31_getlk'] = req(31, m(FILE), lk)
    s['32_setlk'] = req(32, m(FILE), lk)
    s['33_setlkw'] = req(33, m(FILE), struct.pack('<QQQQIIII', m(FH_FILE), 99, 0, 0, 1, 1, 1, 0))
    s['34_access'] = req(34, m(FILE), struct.pack('<II', 4, 0))
    s['35_create'] = req(35, m(DIR), struct.pack('<IIII', os.O_RDWR | os.O_CREAT, 0o100644,
                                                  0o22, 0) + z('created'))
    s['36_interrupt'] = req(36, 0, struct.pack('<Q', 1))
    s['37_bmap'] = req(37, m(FILE), struct.pack('<QII', 0, 4096, 0))
    s['38_destroy'] = req(38, 0)
    s['39_ioctl'] = req(39, m(FILE), struct.pack('<QIIQII', m(FH_FILE), 0, 0x80086601, 0, 0, 8))
    s['40_poll'] = req(40, m(FILE), struct.pack('<QQII', m(FH_FILE), 0, 0, 1))
    s['42_batch_forget'] = req(1, m(ROOT), z('link')) + req(42, 0, struct.pack(
        '<II', 2, 0) + struct.pack('<QQ', m(LINK), 1) + struct.pack('<QQ', m(SUB), 1))
    s['43_fallocate'] = req(43, m(FILE), struct.pack('<QQQII', m(FH_FILE), 0, 4096, 3, 0))
    s['44_readdirplus'] = req(44, m(DIR), read_in(m(FH_DIR), 0, 4096))
    s['45_rename2'] = req(45, m(ROOT), struct.pack('<QII', m(ROOT), 2, 0) + z('file') + z('dir'))
    s['46_lseek'] = req(46, m(FILE), struct.pack('<QQII', m(FH_FILE), 0, 3, 0))  # SEEK_DATA
    s['47_copy_file_range'] = req(47, m(FILE), struct.pack(
        '<QQQQQQQ', m(FH_FILE), 0, m(FILE), m(FH_FILE), 100, 64, 0))
    s['48_setupmapping'] = req(48, m(FILE), struct.pack('<QQQQQ', m(FH_FILE), 0, 4096, 1, 0))
    s['49_removemapping'] = req(49, m(FILE), struct.pack('<I', 1) + struct.pack('<QQ', 0, 4096))
    s['50_syncfs'] = req(50, m(ROOT), struct.pack('<Q', 0))
    s['51_tmpfile'] = req(51, m(DIR), struct.pack('<IIII', os.O_RDWR, 0o100600, 0, 0) + z('t'))
    s['52_statx'] = req(52, m(FILE), struct.pack('<IIQII', 0, 0, 0, 0, 0x7ff))
    # Escape-shaped requests: the server must refuse or stay inside.
    s['e1_lookup_dotdot'] = req(1, m(ROOT), z('..'))
    s['e2_lookup_slash'] = req(1, m(ROOT), z('dir/sub'))
    s['e3_create_under_symlink'] = req(35, m(LINK), struct.pack(
        '<IIII', os.O_RDWR | os.O_CREAT, 0o100644, 0, 0) + z('x'))
    s['e4_rename_dotdot'] = req(12, m(DIR), struct.pack('<Q', m(ROOT)) + z('sub') + z('..'))
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), 'corpus', 'fuse')
    os.makedirs(out, exist_ok=True)
    for name, body in sorted(seeds().items()):
        # Plain layout: one in-iovec, a header-sized out-iovec, then a big one.
        with open(os.path.join(out, name), 'wb') as f:
            f.write(layout(opts=0x4a, n_out=2, outs=(16,)) + body)
    # DAX window seeds (layout byte 3 bit 0): setup, upgrade, replace, remove, hostile
    # bounds, DESTROY wiping live mappings.
    def setup(foff, ln, moff, flags, node=FILE):
        return req(48, m(node), struct.pack('<QQQQQ', 0xffffffffffffffff, foff, ln, flags, moff))

    def remove(*ranges):
        return req(49, m(FILE), struct.pack('<I', len(ranges)) +
                   b''.join(struct.pack('<QQ', a, b) for a, b in ranges))
    M2 = 2 << 20
    saved_unique = _unique[0]   # keep the other seeds' bytes unchanged
    dax = {
        'dax_setup_read': setup(0, M2, 0, 1),
        'dax_setup_upgrade_remove': setup(0, M2, 0, 1) + setup(0, M2, 0, 3) + remove((0, M2)),
        'dax_setup_split_remove': setup(0, M2, M2, 1) + setup(4096, 4096, M2 + 8192, 1) +
        remove((M2 + 4096, 4096), (0, 4 << 20)),
        'dax_setup_bounds': setup(0, M2, (4 << 20) - 4096, 1) + setup(0, 4096, 100, 1) +
        setup(0xfffffffffffff000, 4096, 0, 1) + setup(0, 0, 0, 1),
        'dax_setup_dir': setup(0, 4096, 0, 1, node=DIR),
        'dax_remove_bounds': remove((0xfffffffffffffff0, 32), (4 << 20, 4096), (0, 0)),
        'dax_destroy_live': setup(0, M2, 0, 3) + req(38, 0),
    }
    _unique[0] = saved_unique
    for name, body in sorted(dax.items()):
        with open(os.path.join(out, name), 'wb') as f:
            f.write(layout(opts=0x4a, n_out=2, outs=(16,), dax=True) + body)
    # A few cursor-stressing layouts of data-carrying requests.
    s = seeds()
    odd = [('split_write', s['16_write'], layout(0x46, 4, 3, True, (7, 40, 81), (3, 17, 5))),
           ('split_read', s['15_read'], layout(0x02, 3, 4, False, (1, 39), (16, 1, 2, 4096))),
           ('split_readdirplus', s['44_readdirplus'],
            layout(0x03, 2, 3, True, (45,), (100, 3))),
           ('split_setxattr', s['21_setxattr'], layout(0x68, 5, 1, True, (40, 41, 56, 62))),
           ('tiny_out_getattr', s['03_getattr'], layout(0x00, 1, 2, False, (), (8, 8)))]
    for name, body, lay in odd:
        with open(os.path.join(out, name), 'wb') as f:
            f.write(lay + body)


if __name__ == '__main__':
    main()
