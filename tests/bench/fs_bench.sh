#!/bin/bash
# File-system benchmark: the same workload on a native ext4 directory and through
# `nook fs serve` mounts of the same kind of directory, side by side.
#
#   tests/bench/fs_bench.sh NOOK [OPTS...]      (make bench-fs)
#
# Each OPTS word is one -o option set, one column each (default: cache=auto,
# cache=auto,no_passthrough and cache=always,no_passthrough). Environment: BENCH_DIR (an ext4 directory, default /var/tmp),
# BENCH_RAMDISK=1 (instead: a fresh 2 GiB ext4 on a loop device over /dev/shm, so that
# neither side waits for a cloud disk whose speed drifts with its burst credits: the
# figures then show the FUSE overhead alone, reproducibly),
# BENCH_CACHE (where the kernel-source tarball is kept, default build/bench),
# FIO_SIZE (default 256M), FIO_SECONDS (random phases, default 10).
# Phases: extract a tarball of linux-6.1 fs/ + kernel/ (~3000 files), stat every entry
# cold (after drop_caches) and warm, read every file (cold), fio sequential 1 MiB write
# (end_fsync) and read (cold), fio random 4 KiB read (cold) and write (time-based),
# rm -rf. Every phase but the random ones is the median of 3 runs.
# Prints seconds (lower is better) or MB/s / IOPS (higher is better) and nook/native
# ratios as "x slower" factors. Figures, not a test: it only fails if a phase fails.
set -u

[ $# -ge 1 ] || { echo "usage: $0 NOOK [OPTS...]" >&2; exit 2; }
nook=$(realpath "$1"); shift
# Default columns: the defaults (file data through kernel passthrough, as root), then
# the server's own data path at the default and the most caching mode.
[ $# -ge 1 ] || set -- cache=auto cache=auto,no_passthrough cache=always,no_passthrough
base=${BENCH_DIR:-/var/tmp}
ramdisk=${BENCH_RAMDISK:-0}
cache=${BENCH_CACHE:-build/bench}
fio_size=${FIO_SIZE:-256M}
fio_secs=${FIO_SECONDS:-10}
src_xz=/usr/src/linux-source-6.1.tar.xz
tarball=$cache/linux-6.1-fs-kernel.tar

die() { echo "bench-fs: $*" >&2; exit 1; }
command -v fio >/dev/null || die "fio is not installed"
[ "$(stat -f -c %T "$base")" = ext2/ext3 ] ||
	echo "bench-fs: note: $base is $(stat -f -c %T "$base"), not ext4" >&2

# The tarball is made once and cached: decompressing the whole 6.1 source takes a while.
if [ ! -s "$tarball" ]; then
	[ -r "$src_xz" ] || die "$src_xz missing (apt-get install linux-source-6.1)"
	mkdir -p "$cache" || exit 1
	echo "bench-fs: making $tarball from $src_xz (once)"
	tmp=$(mktemp -d "$base/nook-bench-tar.XXXXXX") || exit 1
	tar -xJf "$src_xz" -C "$tmp" linux-source-6.1/fs linux-source-6.1/kernel &&
		tar -cf "$tarball.tmp" -C "$tmp/linux-source-6.1" fs kernel &&
		mv "$tarball.tmp" "$tarball"
	rm -rf "$tmp"
	[ -s "$tarball" ] || die "could not make $tarball"
fi

ram_img= ram_mnt=
if [ "$ramdisk" = 1 ]; then
	ram_img=$(mktemp /dev/shm/nook-bench-ext4.XXXXXX) || exit 1
	ram_mnt=$(mktemp -d /tmp/nook-bench-ram.XXXXXX) || exit 1
	if ! truncate -s 2G "$ram_img" || ! mkfs.ext4 -q -F "$ram_img" ||
	   ! mount -o loop "$ram_img" "$ram_mnt"; then
		rm -f "$ram_img"; rmdir "$ram_mnt"
		die "BENCH_RAMDISK=1 needs root, mkfs.ext4 and a loop device"
	fi
	base=$ram_mnt
fi
W=$(mktemp -d "$base/nook-bench.XXXXXX") || exit 1
server=
cleanup() {
	if [ -n "$server" ]; then
		kill -TERM "$server" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$server" 2>/dev/null
		wait "$server" 2>/dev/null
	fi
	awk -v m="$W/mnt" '$5 == m { exit 0 } END { exit 1 }' /proc/self/mountinfo &&
		umount -l "$W/mnt"
	rm -rf "$W"
	if [ -n "$ram_mnt" ]; then
		umount "$ram_mnt" && rmdir "$ram_mnt"
		rm -f "$ram_img"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
elapsed() { echo "$(now) $1" | awk '{ printf "%.3f", $1 - $2 }'; }

# fio JOB RW BS [extra...] -> prints "MB/s IOPS" of the job.
run_fio() {
	local dir=$1 name=$2 rw=$3 bs=$4; shift 4
	fio --name="$name" --directory="$dir" --filename=fio.dat --rw="$rw" --bs="$bs" \
	    --size="$fio_size" --ioengine=psync --direct=0 "$@" --output-format=json \
	    --output="$W/fio.json" >/dev/null 2>"$W/fio.err" ||
		{ cat "$W/fio.err" >&2; echo "0 0"; return 1; }
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
side = j["write"] if j["write"]["io_bytes"] > j["read"]["io_bytes"] else j["read"]
print("%.1f %.0f" % (side["bw"] / 1024.0, side["iops"]))' "$W/fio.json"
}

# One sequential run in $2: seq_write (a fresh file, end_fsync) or seq_read (cold).
seq_once() {
	if [ "$1" = seq_write ]; then
		rm -f "$2/fio.dat"
		set -- $(run_fio "$2" seqwrite write 1M --end_fsync=1)
	else
		drop_caches
		set -- $(run_fio "$2" seqread read 1M)
	fi
	echo "$1"
}
# The middle of three values.
mid3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
median3() {
	mid3 "$(seq_once "$1" "$2")" "$(seq_once "$1" "$2")" "$(seq_once "$1" "$2")"
}

# Timed extraction (synced) and removal in $1: seconds.
extract_once() {
	local t
	t=$(now); tar -xf "$tarball" -C "$1" || return 1
	sync; elapsed "$t"
}
remove_once() {
	local t
	t=$(now); rm -rf "${1:?}"/* || return 1
	elapsed "$t"
}
# Runs every phase in directory $1; results go to $W/res.$2 as "phase value" lines.
# Short phases swing on this kind of machine: each is the median of 3 runs. For extract
# and remove: extract, remove, extract, remove, extract; the last tree serves the other
# phases and is removed last.
workload() {
	local d=$1 out=$W/res.$2 t e1 e2 e3 r1 r2 r3
	: > "$out"
	e1=$(extract_once "$d") && r1=$(remove_once "$d") &&
	e2=$(extract_once "$d") && r2=$(remove_once "$d") &&
	e3=$(extract_once "$d") || return 1
	echo "extract $(mid3 "$e1" "$e2" "$e3")" >> "$out"
	nfiles=$(find "$d" -type f | wc -l)
	set --
	for _ in 1 2 3; do
		drop_caches
		t=$(now); find "$d" -printf '%s %m %U\n' > /dev/null; set -- "$@" "$(elapsed "$t")"
		t=$(now); find "$d" -printf '%s %m %U\n' > /dev/null; set -- "$@" "$(elapsed "$t")"
	done
	echo "stat_cold $(mid3 "$1" "$3" "$5")" >> "$out"
	echo "stat_warm $(mid3 "$2" "$4" "$6")" >> "$out"
	set --
	for _ in 1 2 3; do
		drop_caches
		t=$(now); find "$d" -type f -print0 | xargs -0 cat > /dev/null
		set -- "$@" "$(elapsed "$t")"
	done
	echo "read_all $(mid3 "$@")" >> "$out"
	# Sequential runs are short and swing with the disk: median of 3 each.
	echo "seq_write_mbs $(median3 seq_write "$d")" >> "$out"
	echo "seq_read_mbs $(median3 seq_read "$d")" >> "$out"
	# Cold for both sides: fio drops the file's pages before a job, but on a mount
	# that reaches only the mount's own cache (or, with passthrough, nothing), and
	# the host page cache would serve every read.
	drop_caches
	set -- $(run_fio "$d" randread randread 4k --time_based --runtime="$fio_secs")
	echo "rand_read_iops $2" >> "$out"
	set -- $(run_fio "$d" randwrite randwrite 4k --time_based --runtime="$fio_secs")
	echo "rand_write_iops $2" >> "$out"
	r3=$(remove_once "$d") || return 1
	echo "remove $(mid3 "$r1" "$r2" "$r3")" >> "$out"
}

mkdir -p "$W/native" "$W/src" "$W/mnt"
echo "bench-fs: native run in $W/native ($(stat -f -c %T "$W"))"
workload "$W/native" native || die "native workload failed"
cols=native
for opts in "$@"; do
	echo "bench-fs: nook fs serve -o $opts"
	"$nook" fs serve "$W/src" "$W/mnt" -o "$opts" &
	server=$!
	for _ in $(seq 100); do
		awk -v m="$W/mnt" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo && break
		kill -0 "$server" 2>/dev/null || break
		sleep 0.1
	done
	awk -v m="$W/mnt" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo ||
		die "no mount for -o $opts"
	workload "$W/mnt" "$opts" || die "workload failed through the mount (-o $opts)"
	kill -TERM "$server"; wait "$server"; server=
	cols="$cols $opts"
done

echo
echo "bench-fs: $nfiles files from $(basename "$tarball"), fio size $fio_size, random ${fio_secs}s," \
     "on $([ "$ramdisk" = 1 ] && echo "a RAM-backed ext4" || echo "$base ($(stat -f -c %T "$base"))")"
echo "  (s = seconds, lower is better; MB/s and IOPS higher is better;"
echo "   'x' = how many times slower than native; targets: metadata <= 3x, sequential <= 1.5x)"
printf '%-16s %12s' phase native
for c in $cols; do [ "$c" = native ] || printf ' %24s %7s' "nook $c" ratio; done
echo
for phase in extract stat_cold stat_warm read_all seq_write_mbs seq_read_mbs \
	     rand_read_iops rand_write_iops remove; do
	nat=$(awk -v p=$phase '$1 == p { print $2 }' "$W/res.native")
	unit=s; case $phase in *_mbs) unit=MB/s;; *_iops) unit=IOPS;; esac
	printf '%-16s %12s' "$phase" "$nat $unit"
	for c in $cols; do
		[ "$c" = native ] && continue
		v=$(awk -v p=$phase '$1 == p { print $2 }' "$W/res.$c")
		r=$(awk -v a="$nat" -v b="$v" -v u=$unit 'BEGIN {
			if (u == "s") r = (a > 0) ? b / a : 0; else r = (b > 0) ? a / b : 0;
			printf "%.2fx", r }')
		printf ' %24s %7s' "$v $unit" "$r"
	done
	echo
done
