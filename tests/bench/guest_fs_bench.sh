#!/usr/bin/env bash
# In-guest file-system benchmark: nook's virtio-fs vs QEMU + virtiofsd vs QEMU virtio-9p.
#
#   tests/bench/guest_fs_bench.sh            (make bench-guest-fs)
#
# Each run boots the same guest kernel with a fresh shared directory as its ROOT file
# system; tests/bench/guest_fs_workload.c is /init there, runs the phases (create, stat,
# readdir, read, write, readbig, rename, remove) on the share and prints
# "bench: PHASE SECONDS OPS" per phase, timed inside the guest.
#
# Exit counters: before each phase the guest prints "bench: ready PHASE" and waits for a
# line on its console; this script then starts `perf stat` on the VMM process counting
# KVM tracepoints that fire in the vCPU thread (trapped MMIO / port I/O / MSR accesses,
# exits to the VMM; the APIC/irq ones are also kept in the raw rows but fire in whichever
# thread injects - virtiofsd's for QEMU - so they are not comparable), waits until perf
# has enabled its counters, and answers; at the next "ready" they are disabled and read.
# The handshake alone is measured by the empty "null" phase and subtracted. Interrupts
# come from the guest itself: the workload reads the virtio rows of /proc/interrupts
# around each phase. Dividing by the phase's ops gives exits / interrupts per operation,
# a proxy for per-request cost (one op may be several FUSE requests, e.g.
# lookup+open+read+flush+release for one "read" op; for write/readbig an op is 1 MiB).
# KVM's own statistics would be better but are out of reach here: debugfs refuses to
# open them (lockdown) and KVM_GET_STATS_FD only works from the VMM's own process;
# kvm_pvm fires no kvm_exit tracepoint.
#
# Environment: SYSTEMS="nook virtiofsd 9p" RUNS=2 FILES=20 SIZE=4096 BIG_MIB=2
#   NOOK=build/nook VMLINUX=build/guest/vmlinux WORKLOAD=build/bench/guest_fs_workload
#   GUEST_TIMEOUT=400 (seconds per boot) VIRTIOFSD=/usr/lib/qemu/virtiofsd
#   KEEP_LOGS=DIR (keep console logs there) RESULTS=FILE (raw per-run rows, appended)
#   NOOK_ROOT_OPTS=OPTS (appended to nook's --root, e.g. threads=1,cache=always;
#   no_xattr there also turns virtiofsd's xattrs off, see VFSD_XATTR)
#   TABLE_FROM=FILE (no runs: print the table of raw rows collected earlier)
set -uo pipefail

SYSTEMS=${SYSTEMS:-nook virtiofsd 9p}
RUNS=${RUNS:-2}
FILES=${FILES:-20}
SIZE=${SIZE:-4096}
BIG_MIB=${BIG_MIB:-2}
BUILD=${BUILD:-build}
NOOK=${NOOK:-$BUILD/nook}
VMLINUX=${VMLINUX:-$BUILD/guest/vmlinux}
WORKLOAD=${WORKLOAD:-$BUILD/bench/guest_fs_workload}
GUEST_TIMEOUT=${GUEST_TIMEOUT:-400}
VIRTIOFSD=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
TAG=benchfs
# Like for like: virtiofsd gets the xattr setting nook runs with. nook keeps xattrs on by
# default (local semantics), virtiofsd off; with xattrs on the guest sends one GETXATTR
# security.capability per written file, so mismatched settings would compare different
# work. NOOK_ROOT_OPTS=no_xattr runs both without.
case ",${NOOK_ROOT_OPTS:-}," in
*,no_xattr,*) VFSD_XATTR="-o no_xattr" ;;
*) VFSD_XATTR="-o xattr" ;;
esac
PHASES="create stat readdir read write readbig rename remove"
# KVM tracepoints counted per phase. kvm_pvm (this host's software virtualisation) fires
# neither kvm_exit nor kvm_inj_virq, so exits are approximated by the trapped accesses it
# does trace (MMIO, port I/O, MSR) and interrupts by those accepted by the local APIC.
STATS="kvm:kvm_mmio kvm:kvm_pio kvm:kvm_msr kvm:kvm_userspace_exit kvm:kvm_apic_accept_irq kvm:kvm_set_irq"
NSTATS=6

say() { echo "guest-fs-bench: $*" >&2; }
die() { say "error: $*"; exit 1; }

# Same guest command line as nook's default (plus pvpanic port, as the kernel README).
CMDLINE="console=ttyS0 reboot=k panic=-1 quiet pvpanic_mmio.ioport=0x505 no_timer_check tsc=reliable"
if [ -d /sys/module/kvm_pvm ] || [ "${NOOK_PVM:-}" = 1 ]; then
	CMDLINE="$CMDLINE noxsave clearcpuid=popcnt,avx,avx2,avx512f,bmi1,bmi2,movbe,erms,fsrm,fsgsbase,rdrand,rdseed,sse4_1,sse4_2,aes,pclmulqdq,abm,smap,smep,cx16 rodata=off percpu_alloc=page noreplace-smp"
fi
WORKLOAD_ARGS="files=$FILES size=$SIZE big=$BIG_MIB"

[ -e /dev/kvm ] || { say "SKIP: no /dev/kvm"; exit 0; }
[ -f "$VMLINUX" ] || die "$VMLINUX missing (make guest-kernel)"
[ -x "$WORKLOAD" ] || die "$WORKLOAD missing (make $WORKLOAD)"

# --- temporary state, always cleaned up
TMP=$(mktemp -d /tmp/guest-fs-bench.XXXXXX) || die "mktemp"
PIDS=()
MOUNTED_DEBUGFS=0
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	[ -z "$PERF_PID" ] || { kill -INT "$PERF_PID" 2>/dev/null; wait "$PERF_PID" 2>/dev/null; }
	rm -rf "$TMP"
	[ $MOUNTED_DEBUGFS = 0 ] || umount /sys/kernel/debug 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

HAVE_PERF=0
if command -v perf >/dev/null; then
	[ -d /sys/kernel/tracing/events/kvm ] || [ -d /sys/kernel/debug/tracing/events/kvm ] ||
		{ [ "$(id -u)" = 0 ] && mount -t debugfs none /sys/kernel/debug 2>/dev/null && MOUNTED_DEBUGFS=1; }
	perf stat -e kvm:kvm_mmio -- true >/dev/null 2>&1 && HAVE_PERF=1
fi
[ $HAVE_PERF = 1 ] || say "no perf with kvm tracepoints: exit counts will be '-'"

RAW=${RESULTS:-$TMP/results}
touch "$RAW"
if [ -n "${TABLE_FROM:-}" ]; then
	RAW=$TABLE_FROM
	RUNS="(earlier)"
fi

# Per-phase KVM event counts with `perf stat` on the VMM process: one perf per phase,
# started disabled and enabled through its control fifo (the ack proves it is counting
# before the guest is let go), disabled again at the next "ready" line.
PERF_PID="" PERF_OUT="" PERF_CTL="" PERF_ACK=""
perf_start() {	# VMM_PID PHASE
	[ "$HAVE_PERF" = 1 ] || return 0
	local ev
	PERF_OUT=$TMP/perf.$2
	rm -f "$TMP/perf.ctl" "$TMP/perf.ack"
	mkfifo "$TMP/perf.ctl" "$TMP/perf.ack"
	ev=$(echo $STATS | tr ' ' ',')
	perf stat -x, -o "$PERF_OUT" -e "$ev" -p "$1" -D -1 \
		--control "fifo:$TMP/perf.ctl,$TMP/perf.ack" >/dev/null 2>&1 &
	PERF_PID=$!
	sleep 1	# perf drops commands sent before it has set up its fifos
	exec {PERF_CTL}<>"$TMP/perf.ctl" {PERF_ACK}<>"$TMP/perf.ack"
	echo enable >&"$PERF_CTL"
	read -r -t 20 -u "$PERF_ACK" _ || say "perf did not acknowledge (phase $2)"
}
perf_stop() {	# sets PERF_COUNTS (STATS order); not in a subshell: it waits for perf
	PERF_COUNTS=""
	[ -n "$PERF_PID" ] || return 0
	local s v out=""
	echo disable >&"$PERF_CTL"
	read -r -t 20 -u "$PERF_ACK" _
	kill -INT "$PERF_PID" 2>/dev/null
	wait "$PERF_PID" 2>/dev/null
	exec {PERF_CTL}>&- {PERF_ACK}>&-
	PERF_PID=""
	for s in $STATS; do
		v=$(awk -F, -v e="$s" '$3 == e && $1 ~ /^[0-9]+$/ { print $1 }' "$PERF_OUT")
		out="$out ${v:--}"
	done
	PERF_COUNTS=${out# }
}

# The VMM process under `timeout` (timeout's only child).
vmm_pid() {
	local c
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		c=$(pgrep -P "$1" | head -n1)
		[ -n "$c" ] && { echo "$c"; return; }
		sleep 0.1
	done
}

# run_guest SYSTEM RUN SHARE CMD...: boots, drives the handshake, appends raw rows.
run_guest() {
	local sys=$1 run=$2 share=$3
	shift 3
	local log=$TMP/$sys.$run.console err=$TMP/$sys.$run.stderr
	local in out pid="" line phase prev_phase="" ok=0 rc
	declare -A at=()
	declare -A secs=() ops=() virq=()

	coproc VMM { exec timeout "$GUEST_TIMEOUT" "$@" 2>"$err"; }
	exec {out}<&"${VMM[0]}" {in}>&"${VMM[1]}"
	local cpid=$VMM_PID
	PIDS+=("$cpid")
	while IFS= read -r -u "$out" line; do
		line=${line%$'\r'}
		echo "$line" >> "$log"
		case $line in
		"bench: ready "*)
			phase=${line#bench: ready }
			[ -n "$pid" ] || pid=$(vmm_pid "$cpid")
			if [ -n "$prev_phase" ]; then
				perf_stop
				at[$prev_phase]=$PERF_COUNTS
			fi
			[ "$phase" = end ] || perf_start "$pid" "$phase"
			prev_phase=$phase
			echo >&"$in" ;;
		"bench: done") ok=1 ;;
		"bench: error"*) say "$sys run $run: $line" ;;
		"bench: "*" "*" "*)
			set -- ${line#bench: }
			secs[$1]=$2 ops[$1]=$3 virq[$1]=${4:--} ;;
		esac
	done
	exec {in}>&- {out}<&-
	[ -z "$PERF_PID" ] || perf_stop
	wait "$cpid"
	rc=$?
	[ -z "${KEEP_LOGS:-}" ] || { mkdir -p "$KEEP_LOGS"; cp "$log" "$err" "$KEEP_LOGS/" 2>/dev/null; }
	if [ $ok != 1 ]; then
		say "$sys run $run failed (exit $rc); console tail:"
		[ -f "$log" ] && tail -n 25 "$log" >&2
		[ -s "$err" ] && { say "stderr:"; tail -n 10 "$err" >&2; }
		return 1
	fi

	# Per phase: its counts minus the null phase's (handshake, console lines, perf).
	local p i base=(${at[null]:-}) c
	for p in $PHASES; do
		c=(${at[$p]:-})
		for ((i = 0; i < NSTATS; i++)); do
			if [ "${c[$i]:--}" = - ] || [ "${base[$i]:--}" = - ]; then c[$i]=-
			else c[$i]=$(( c[i] - base[i] )); fi
		done
		[ "${virq[$p]:--}" != -1 ] || virq[$p]=-
		echo "$sys $run $p ${secs[$p]:--} ${ops[$p]:--} ${virq[$p]:--} ${c[*]}" >> "$RAW"
	done
	return 0
}

# A fresh share: the workload as /init, /dev for devtmpfs.
new_share() {
	local d=$TMP/share.$1.$2
	mkdir -p "$d/dev"
	cp "$WORKLOAD" "$d/init"
	echo "$d"
}

run_nook() {
	local share
	share=$(new_share nook "$1")
	[ -x "$NOOK" ] || { say "nook: $NOOK missing"; return 1; }
	run_guest nook "$1" "$share" "$NOOK" run --kernel "$VMLINUX" --root "$share${NOOK_ROOT_OPTS:+,$NOOK_ROOT_OPTS}" \
		--append "init=/init $WORKLOAD_ARGS"
}

QEMU_COMMON=(qemu-system-x86_64 -enable-kvm -cpu host,-arch-capabilities -m 128M
	-nodefaults -no-user-config -display none -device i8042 -no-reboot -serial stdio
	-global virtio-mmio.force-legacy=false -kernel "$VMLINUX")

run_virtiofsd() {
	local share sock=$TMP/vfsd.$1.sock vpid r
	share=$(new_share virtiofsd "$1")
	[ -x "$VIRTIOFSD" ] || { say "virtiofsd: $VIRTIOFSD missing"; return 1; }
	"$VIRTIOFSD" --socket-path="$sock" -o source="$share" -o cache=auto $VFSD_XATTR \
		>"$TMP/vfsd.$1.log" 2>&1 &
	vpid=$!
	PIDS+=("$vpid")
	for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	[ -S "$sock" ] || { say "virtiofsd did not start:"; cat "$TMP/vfsd.$1.log" >&2; return 1; }
	run_guest virtiofsd "$1" "$share" "${QEMU_COMMON[@]}" \
		-M microvm,acpi=off,memory-backend=mem \
		-object memory-backend-memfd,id=mem,size=128M,share=on \
		-chardev socket,id=c0,path="$sock" -device vhost-user-fs-device,chardev=c0,tag=$TAG \
		-append "$CMDLINE root=$TAG rootfstype=virtiofs rw init=/init $WORKLOAD_ARGS"
	r=$?
	kill "$vpid" 2>/dev/null
	wait "$vpid" 2>/dev/null
	return $r
}

run_9p() {
	local share
	share=$(new_share 9p "$1")
	run_guest 9p "$1" "$share" "${QEMU_COMMON[@]}" -M microvm,acpi=off \
		-fsdev local,id=f0,path="$share",security_model=passthrough \
		-device virtio-9p-device,fsdev=f0,mount_tag=$TAG \
		-append "$CMDLINE root=$TAG rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=512000 rw init=/init $WORKLOAD_ARGS"
}

say "kernel $VMLINUX; $RUNS run(s) each of: $SYSTEMS; $FILES x $SIZE B files, $BIG_MIB MiB file; virtiofsd $VFSD_XATTR"
failed=0
[ -n "${TABLE_FROM:-}" ] || for run in $(seq "$RUNS"); do
	for sys in $SYSTEMS; do
		t0=$EPOCHREALTIME
		case $sys in
		nook) run_nook "$run" ;;
		virtiofsd) run_virtiofsd "$run" ;;
		9p) run_9p "$run" ;;
		*) die "unknown system $sys" ;;
		esac || { failed=$((failed + 1)); continue; }
		say "$sys run $run: ok ($(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s wall)"
	done
done

# --- table: medians over runs; ratios nook/virtiofsd and nook/9p (<1: nook faster)
awk -v systems="$SYSTEMS" -v phases="$PHASES" '
function median(key,   n, i, j, t, v) {
	n = cnt[key]
	if (!n) return "-"
	for (i = 1; i <= n; i++) v[i] = val[key, i]
	for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function add(key, x) { if (x != "-") val[key, ++cnt[key]] = x }
{
	sys = $1; ph = $3
	add(sys SUBSEP ph SUBSEP "t", $4)
	# $6 guest virtio irqs; $7.. STATS: mmio pio msr userspace_exit apic_accept set_irq
	if ($5 != "-" && $5 > 0 && $7 != "-" && $8 != "-" && $9 != "-")
		add(sys SUBSEP ph SUBSEP "ex", ($7 + $8 + $9) / $5)
	if ($5 != "-" && $5 > 0 && $6 != "-")
		add(sys SUBSEP ph SUBSEP "irq", $6 / $5)
	ops[ph] = $5
}
END {
	ns = split(systems, S, " "); np = split(phases, P, " ")
	hdr = sprintf("%-8s %6s", "phase", "ops")
	for (i = 1; i <= ns; i++) hdr = hdr sprintf(" %11s", S[i] " s")
	hasv = systems ~ /virtiofsd/ && systems ~ /nook/; has9 = systems ~ /9p/ && systems ~ /nook/
	if (hasv) hdr = hdr sprintf(" %9s", "nook/vfsd")
	if (has9) hdr = hdr sprintf(" %8s", "nook/9p")
	for (i = 1; i <= ns; i++) hdr = hdr sprintf(" %14s", S[i] " ex/op")
	for (i = 1; i <= ns; i++) hdr = hdr sprintf(" %14s", S[i] " irq/op")
	print hdr
	for (p = 1; p <= np; p++) {
		ph = P[p]
		line = sprintf("%-8s %6s", ph, ph in ops ? ops[ph] : "-")
		for (i = 1; i <= ns; i++) {
			m = median(S[i] SUBSEP ph SUBSEP "t"); t[S[i]] = m
			line = line (m == "-" ? sprintf(" %11s", "-") : sprintf(" %11.3f", m))
		}
		if (hasv) line = line ((t["nook"] == "-" || t["virtiofsd"] == "-" || t["virtiofsd"] == 0) ? sprintf(" %9s", "-") : sprintf(" %9.2f", t["nook"] / t["virtiofsd"]))
		if (has9) line = line ((t["nook"] == "-" || t["9p"] == "-" || t["9p"] == 0) ? sprintf(" %8s", "-") : sprintf(" %8.2f", t["nook"] / t["9p"]))
		for (k = 0; k < 2; k++)
			for (i = 1; i <= ns; i++) {
				m = median(S[i] SUBSEP ph SUBSEP (k ? "irq" : "ex"))
				line = line (m == "-" ? sprintf(" %14s", "-") : sprintf(" %14.1f", m))
			}
		print line
	}
}' "$RAW"
echo "(seconds: median of $RUNS run(s) timed in the guest; ratio < 1: nook faster;"
echo " ex/op: MMIO+PIO+MSR exits of the vCPU per op (kvm tracepoints via perf, handshake"
echo " subtracted); irq/op: virtio interrupts per op (guest /proc/interrupts); write/readbig op = 1 MiB)"
[ $failed = 0 ] || { say "$failed run(s) failed"; exit 1; }
