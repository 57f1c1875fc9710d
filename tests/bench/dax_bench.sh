#!/usr/bin/env bash
# DAX window benchmark: the same guest kernel reads one BIG_MIB file from a virtio-fs
# share (tests/bench/dax_workload.c is /init, timed inside the guest):
#   dax        nook, the share with dax=SIZE (mounted in the default per-inode mode)
#   nodax      nook, the same share without a window
#   virtiofsd  QEMU microvm + vhost-user virtiofsd (no DAX: QEMU never merged it)
#   native     the workload run on the host over the same file
# Phases: read1/read2 (sequential read(), 1 MiB buffer), mmap1/mmap2/mmap3 (sum over a
# shared mapping, first, second and third pass), rand4k (4096 random 4 KiB reads via a fresh mapping).
# Columns: MB/s per phase, guest page faults per MiB in mmap1, and FUSE requests per GiB
# read (READ + SETUPMAPPING + REMOVEMAPPING from nook's `stats`, over all phases).
#
# Environment: SYSTEMS="dax nodax native virtiofsd" BIG_MIB=64 BUILD=build
#   NOOK VMLINUX WORKLOAD VIRTIOFSD=/usr/lib/qemu/virtiofsd GUEST_TIMEOUT=600
set -uo pipefail
cd "$(dirname "$0")/../.."
SYSTEMS=${SYSTEMS:-dax nodax native virtiofsd}
BIG_MIB=${BIG_MIB:-64}
BUILD=${BUILD:-build}
NOOK=${NOOK:-$BUILD/nook}
VMLINUX=${VMLINUX:-$BUILD/guest/vmlinux}
WORKLOAD=${WORKLOAD:-$BUILD/bench/dax_workload}
VIRTIOFSD=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
GUEST_TIMEOUT=${GUEST_TIMEOUT:-600}
# Window: twice the file (rounded up to 2 MiB), at least 64 MiB. The guest starts
# reclaiming ranges when fewer than 20% are free: a window the size of the file
# thrashes (measured: 6761 SETUPMAPPINGs per GiB, mmap at 7 MB/s).
WIN_MIB=$(( BIG_MIB < 32 ? 64 : (BIG_MIB + 1) / 2 * 4 ))
TMP=$(mktemp -d /tmp/nook-daxbench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
say() { echo "dax-bench: $*" >&2; }

root=$TMP/root data=$TMP/data
mkdir -p "$root/dev" "$root/proc" "$root/mnt" "$data"
cp "$WORKLOAD" "$root/init"
head -c $((BIG_MIB << 20)) /dev/urandom > "$data/big"
# Out of the page cache: every system reads it in the same way (readahead), and a DAX
# mapping may then get 2 MiB page-cache folios (fs/dax.c dax_prefault).
python3 -c "import os; fd = os.open('$data/big', os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)"
RAW=$TMP/raw

# rows "SYSTEM PHASE SECONDS MIB MINFLT" from a console log
collect() {
	grep '^daxbench: ' "$2" | grep -v 'done\|error' | while read -r _ phase s mib f; do
		echo "$1 $phase $s $mib $f"
	done >> "$RAW"
	grep -q '^daxbench: done' "$2" || { say "$1 failed:"; tail -n 20 "$2" >&2; }
}

# FUSE data requests from nook's stats lines
requests() {
	awk '/fs stats: (READ|SETUPMAPPING|REMOVEMAPPING) / { n += $4 } END { print n + 0 }' "$1"
}

run_nook() {	# run_nook NAME DATA-OPTS
	local log=$TMP/$1.log
	timeout "$GUEST_TIMEOUT" "$NOOK" run --kernel "$VMLINUX" --memory 256M --root "$root" \
		--fs "$data,tag=data,stats$2" --append "init=/init" > "$log" 2>&1
	collect "$1" "$log"
	echo "$1 requests $(requests "$log")" >> "$RAW"
}

run_virtiofsd() {
	local sock=$TMP/vfsd.sock log=$TMP/virtiofsd.log vpid
	[ -x "$VIRTIOFSD" ] || { say "virtiofsd: $VIRTIOFSD missing"; return; }
	# One share holds both /init and /mnt/data/big (a bind would need root in the tree).
	mkdir -p "$TMP/vroot/mnt" "$TMP/vroot/dev" "$TMP/vroot/proc"
	cp "$WORKLOAD" "$TMP/vroot/init"
	# The workload mounts tag "data" again at /mnt/data: that shows the share's root.
	ln "$data/big" "$TMP/vroot/big" 2>/dev/null || cp "$data/big" "$TMP/vroot/big"
	"$VIRTIOFSD" --socket-path="$sock" -o source="$TMP/vroot" -o cache=auto >"$TMP/vfsd.err" 2>&1 &
	vpid=$!
	for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	timeout "$GUEST_TIMEOUT" qemu-system-x86_64 -enable-kvm -cpu host,-arch-capabilities -m 256M \
		-nodefaults -no-user-config -display none -device i8042 -no-reboot -serial stdio \
		-global virtio-mmio.force-legacy=false -kernel "$VMLINUX" \
		-M microvm,acpi=off,memory-backend=mem \
		-object memory-backend-memfd,id=mem,size=256M,share=on \
		-chardev socket,id=c0,path="$sock" -device vhost-user-fs-device,chardev=c0,tag=data \
		-append "console=ttyS0 reboot=k panic=-1 quiet no_timer_check tsc=reliable noxsave clearcpuid=popcnt,avx,avx2,avx512f,bmi1,bmi2,movbe,erms,fsrm,fsgsbase,rdrand,rdseed,sse4_1,sse4_2,aes,pclmulqdq,abm,smap,smep,cx16 rodata=off percpu_alloc=page noreplace-smp root=data rootfstype=virtiofs rw init=/init" \
		> "$log" 2>&1 < /dev/null
	kill "$vpid" 2>/dev/null
	wait "$vpid" 2>/dev/null
	collect virtiofsd "$log"
}

say "kernel $VMLINUX; $BIG_MIB MiB file; window ${WIN_MIB}M; systems: $SYSTEMS"
for sys in $SYSTEMS; do
	say "running $sys"
	case $sys in
	dax) run_nook dax ",dax=${WIN_MIB}M" ;;
	nodax) run_nook nodax "" ;;
	native) "$WORKLOAD" "$data/big" > "$TMP/native.log" 2>&1; collect native "$TMP/native.log" ;;
	virtiofsd) run_virtiofsd ;;
	*) say "unknown system $sys" ;;
	esac
done

awk -v systems="$SYSTEMS" -v big="$BIG_MIB" '
$2 == "requests" { req[$1] = $3; next }
{ mbs[$1, $2] = $3 > 0 ? $4 / $3 : 0; flt[$1, $2] = $5 }
END {
	n = split("read1 read2 mmap1 mmap2 mmap3 rand4k", ph, " ")
	printf "%-10s", "MB/s"
	for (i = 1; i <= n; i++) printf " %9s", ph[i]
	printf " %11s %11s\n", "flt/MiB(m1)", "FUSE/GiB"
	ns = split(systems, sy, " ")
	for (j = 1; j <= ns; j++) {
		s = sy[j]
		if (!((s, "read1") in mbs)) continue
		printf "%-10s", s
		for (i = 1; i <= n; i++) printf " %9.1f", mbs[s, ph[i]]
		printf " %11.1f", flt[s, "mmap1"] / big
		# bytes read over all phases: 2 read() passes + 3 mmap passes + rand4k (16 MiB)
		if (s in req) printf " %11.1f\n", req[s] / ((5 * big + 16) / 1024.0)
		else printf " %11s\n", "-"
	}
	if (("dax", "mmap2") in mbs && ("native", "mmap2") in mbs && mbs["native", "mmap2"] > 0)
		printf "dax mmap2 / native mmap2: %.0f%%\n", 100 * mbs["dax", "mmap2"] / mbs["native", "mmap2"]
	if (("dax", "mmap1") in mbs && ("nodax", "mmap1") in mbs && mbs["nodax", "mmap1"] > 0)
		printf "dax mmap1 / nodax mmap1: %.1fx\n", mbs["dax", "mmap1"] / mbs["nodax", "mmap1"]
	if (("dax", "read1") in mbs && ("nodax", "read1") in mbs && mbs["nodax", "read1"] > 0)
		printf "dax read1 / nodax read1: %.1fx\n", mbs["dax", "read1"] / mbs["nodax", "read1"]
}' "$RAW"
