#!/usr/bin/env bash
# Boots the nook guest kernel + test initramfs under QEMU microvm (the reference VMM) and
# checks that /init ran: vmlinux (PVH) and bzImage, 1 and 2 vCPUs, and a panic reported
# through pvpanic, and a self-test init (fork, signals, syscall restart). Prints the wall time from QEMU start to init's first line.
#
#   tests/guest/boot-qemu.sh [GUEST_DIR]     (default build/guest)
#   NOOK_QEMU_CASES="vmlinux:1 bzImage:2 panic" to pick cases; NOOK_GUEST_APPEND adds params.
set -euo pipefail

dir=${1:-build/guest}
cases=${NOOK_QEMU_CASES:-vmlinux:1 vmlinux:2 bzImage:1 bzImage:2 panic selftest}
timeout_s=${NOOK_QEMU_TIMEOUT:-300}

# Generic part + the part needed on software-virtualised KVM hosts (see guest-kernel-config/README.md).
cmdline_generic="console=ttyS0 reboot=k panic=-1 quiet pvpanic_mmio.ioport=0x505 no_timer_check tsc=reliable"
cmdline_softvirt="noxsave clearcpuid=popcnt,avx,avx2,avx512f,bmi1,bmi2,movbe,erms,fsrm,fsgsbase,rdrand,rdseed,sse4_1,sse4_2,aes,pclmulqdq,abm,smap,smep,cx16 rodata=off percpu_alloc=page noreplace-smp"
# Like nook, hide the KVM PV features whose hypercalls (VMMCALL) never return on such hosts.
qemu_cpu="host,-arch-capabilities,kvm-pv-ipi=off,kvm-pv-sched-yield=off,kvm-pv-unhalt=off,kvm-pv-tlb-flush=off"
cmdline="$cmdline_generic $cmdline_softvirt ${NOOK_GUEST_APPEND:-}"

[ -e /dev/kvm ] || { echo "boot-qemu: SKIP, no /dev/kvm"; exit 0; }
command -v qemu-system-x86_64 >/dev/null || { echo "boot-qemu: qemu-system-x86_64 missing (scripts/install-deps.sh)" >&2; exit 1; }
for f in vmlinux bzImage initramfs.cpio initramfs-selftest.cpio; do
	[ -f "$dir/$f" ] || { echo "boot-qemu: $dir/$f missing (make guest-kernel guest-initramfs)" >&2; exit 1; }
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0
failed=0

# elapsed START_US: seconds since START_US (microseconds, from EPOCHREALTIME) as N.NN
elapsed() {
	local d=$(( ${EPOCHREALTIME/./} - $1 ))
	printf '%d.%02d' $((d / 1000000)) $((d % 1000000 / 10000))
}

# run_case NAME KERNEL CPUS EXTRA_APPEND EXPECT(ok|panic|selftest) [INITRD]
run_case() {
	local name=$1 kernel=$2 cpus=$3 extra=$4 expect=$5 initrd=${6:-initramfs.cpio}
	local rc=0 start t_init=""
	start=${EPOCHREALTIME/./}
	set +e
	timeout "$timeout_s" qemu-system-x86_64 -M microvm,acpi=off -enable-kvm \
		-cpu "$qemu_cpu" -m 128M -smp "$cpus" -nodefaults -no-user-config \
		-display none -serial stdio -device i8042 -device pvpanic -no-reboot \
		-action panic=exit-failure \
		-kernel "$dir/$kernel" -initrd "$dir/$initrd" \
		-append "$cmdline $extra" </dev/null 2>&1 |
	while IFS= read -r line; do
		printf '%s %s\n' "$(elapsed "$start")" "${line%$'\r'}"
	done > "$log"
	rc=${PIPESTATUS[0]}
	set -e
	local total
	total=$(elapsed "$start")
	local hello='nook-guest: hello from init'
	[ "$expect" != selftest ] || hello='nook-selftest: start'
	t_init=$(grep -m1 "$hello" "$log" | cut -d' ' -f1 || true)
	local ok=1
	grep -q "$hello" "$log" || ok=0
	if [ "$expect" = selftest ]; then
		grep -q 'nook-selftest: PASS' "$log" || ok=0
		[ "$rc" = 0 ] || ok=0
	elif [ "$expect" = ok ]; then
		grep -q "nook-guest: cpus=$cpus\$" "$log" || ok=0
		[ "$rc" = 0 ] || ok=0
	else
		grep -q 'Kernel panic' "$log" || ok=0
		[ "$rc" = 1 ] || ok=0 # -action panic=exit-failure: pvpanic reported the panic
	fi
	if [ $ok = 1 ]; then
		passed=$((passed + 1))
		echo "boot-qemu: PASS $name: init after ${t_init:-?} s, total ${total} s (qemu exit $rc)"
	else
		failed=$((failed + 1))
		echo "boot-qemu: FAIL $name (qemu exit $rc, expected $expect); console:"
		tail -n 40 "$log"
	fi
}

for c in $cases; do
	case $c in
	selftest) run_case "selftest(fork,signals,restart)" vmlinux 1 "" selftest initramfs-selftest.cpio ;;
	panic) run_case "panic(pvpanic)" vmlinux 1 "nook.test=panic" panic ;;
	*:*) run_case "${c%%:*} smp=${c#*:}" "${c%%:*}" "${c#*:}" "" ok ;;
	*) echo "boot-qemu: unknown case $c" >&2; exit 2 ;;
	esac
done
echo "$passed passed, $failed failed"
[ $failed = 0 ]
