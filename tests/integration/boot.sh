#!/usr/bin/env bash
# Boot tests of `nook run` against the real guest kernel, plus every bad-input case.
#
#   tests/integration/boot.sh [BUILD_DIR]     (default: build)
#
# Bad inputs need no guest and run first (fast). Guest boots are few (each takes ~10-80 s
# on a software-virtualized host) and run under `timeout`. NOOK_BOOT_QUICK=1 skips boots.
set -u
build=${1:-build}
nook=$build/nook
guest=$build/guest
boot_timeout=${NOOK_BOOT_TIMEOUT:-400}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
passes=0

pass() { passes=$((passes + 1)); echo "boot: PASS $1"; }
fail() { fails=$((fails + 1)); echo "boot: FAIL $1"; [ -f "$tmp/out" ] && sed 's/^/    | /' "$tmp/out" | tail -n 25; }

# expect NAME STATUS STDERR-REGEX -- nook args...: one line error, given status.
expect_error() {
	local name=$1 status=$2 regex=$3
	shift 4
	timeout 30 "$nook" "$@" </dev/null >"$tmp/out" 2>&1
	local rc=$?
	if [ "$rc" -ne "$status" ]; then
		fail "$name (exit $rc, expected $status)"
	elif ! grep -Eq -- "$regex" "$tmp/out"; then
		fail "$name (message does not match /$regex/)"
	elif [ "$(grep -c '^nook: error' "$tmp/out")" -gt 1 ]; then
		fail "$name (more than one error line)"
	else
		pass "$name: $(head -n 1 "$tmp/out")"
	fi
}

# expect_boot NAME STATUS OUTPUT-REGEX... -- nook run args
expect_boot() {
	local name=$1 status=$2
	shift 2
	local regexes=()
	while [ "$1" != "--" ]; do regexes+=("$1"); shift; done
	shift
	local start end rc
	start=$(date +%s.%N)
	timeout "$boot_timeout" "$nook" run "$@" </dev/null >"$tmp/out" 2>&1
	rc=$?
	end=$(date +%s.%N)
	if [ "$rc" -ne "$status" ]; then
		fail "$name (exit $rc, expected $status)"
		return
	fi
	for re in "${regexes[@]}"; do
		if ! grep -Eq -- "$re" "$tmp/out"; then
			fail "$name (no output matching /$re/)"
			return
		fi
	done
	pass "$name ($(printf '%.1f' "$(echo "$end - $start" | bc)") s; $(grep -o 'boot-timer: .*' "$tmp/out" | head -n 1))"
}

if [ ! -x "$nook" ]; then
	echo "boot: $nook not built" >&2
	exit 1
fi

# --- no guest needed ---
vmlinux=$guest/vmlinux
initrd=$guest/initramfs.cpio
[ -f "$vmlinux" ] || vmlinux=/bin/true	# bad-input checks still run
"$nook" --version | grep -Eq '^nook [0-9]' && pass "--version" || fail "--version"
"$nook" --help | grep -q 'Ctrl-A x' && pass "--help" || fail "--help"
expect_error "unknown option" 1 "unknown option --frobnicate" -- run --frobnicate
expect_error "unknown command" 1 "unknown command" -- walk
expect_error "missing --kernel file" 1 "--kernel /nonexistent: No such file" -- run --kernel /nonexistent
head -c 3000 "$vmlinux" > "$tmp/trunc"
expect_error "truncated kernel" 1 "--kernel .*(truncated|not a kernel)" -- run --kernel "$tmp/trunc"
printf 'hello, I am not a kernel\n%.0s' $(seq 200) > "$tmp/text"
expect_error "non-kernel file" 1 "--kernel .*not a kernel" -- run --kernel "$tmp/text"
expect_error "kernel is a directory" 1 "not a regular file" -- run --kernel /tmp
expect_error "--cpus 0" 1 "--cpus 0" -- run --cpus 0
expect_error "--cpus 300" 1 "--cpus 300" -- run --cpus 300
expect_error "--memory 0" 1 "--memory 0" -- run --memory 0
expect_error "--memory garbage" 1 "--memory lots" -- run --memory lots
expect_error "--memory beyond host RAM" 1 "exceeds the host's RAM|too large" -- run --memory 16T --kernel "$vmlinux"
expect_error "option without value" 1 "needs a value" -- run --kernel
if [ -f "$guest/vmlinux" ]; then
	expect_error "missing --initrd" 1 "--initrd /nonexistent" -- run --kernel "$vmlinux" --initrd /nonexistent
	truncate -s 100M "$tmp/big.cpio"
	expect_error "initrd too large for RAM" 1 "initrd .*does not fit" -- run --kernel "$vmlinux" --initrd "$tmp/big.cpio" --memory 64M
	expect_error "kernel larger than RAM" 1 "outside guest RAM|too small" -- run --kernel "$vmlinux" --memory 8M
	expect_error "command line too long" 1 "command line too long" -- run --kernel "$vmlinux" --append "$(head -c 5000 /dev/zero | tr '\0' x)"
fi

# --- tiny hand-made guests: exits nook must report, never spin on ---
if [ -f "$guest/vmlinux" ]; then
	# virtio-fs share specs: refused before the guest runs.
	mkdir -p "$tmp/share"
	expect_error "--fs missing directory" 1 "--fs /nonexistent/share: .*no such directory" -- \
		run --kernel "$vmlinux" --fs /nonexistent/share
	expect_error "--fs duplicate tag" 1 "tag 'share' is already used" -- \
		run --kernel "$vmlinux" --fs "$tmp/share" --fs "$tmp/share"
	expect_error "--fs tag over 36 bytes" 1 "longer than 36 bytes" -- \
		run --kernel "$vmlinux" --fs "$tmp/share,tag=abcdefghijklmnopqrstuvwxyz0123456789X"
	expect_error "--fs bad option" 1 "--fs .*cache" -- \
		run --kernel "$vmlinux" --fs "$tmp/share,cache=sometimes"
fi

tiny() { python3 tests/integration/boot_tiny_guest.py "$tmp/tiny-$1" "$2"; }
tiny port 66ba3412eef4                 # mov dx,0x1234; out dx,al; hlt
tiny mmio 48a1000000d000000000f4       # mov rax,[0xd0000000]; hlt (no virtio device there)
tiny ud2 0f0b                          # ud2 with no IDT: triple fault
tiny reset b0fee664ebfe                # mov al,0xfe; out 0x64,al; jmp .
expect_error "unknown port ends nook" 1 "unhandled port I/O write to port 0x1234 size 1 at guest RIP 0x" -- run --kernel "$tmp/tiny-port"
expect_error "unknown MMIO ends nook" 1 "unhandled MMIO read from 0xd0000000 size 8 at guest RIP 0x1000000" -- run --kernel "$tmp/tiny-mmio"
expect_error "triple fault reported" 0 "triple fault \(KVM_EXIT_SHUTDOWN\) at RIP 0x1000000" -- run --kernel "$tmp/tiny-ud2"
NOOK_LOG=info expect_error "i8042 reset -> status 0" 0 "guest requested reset" -- run --kernel "$tmp/tiny-reset"

# --- guest boots ---
if [ "${NOOK_BOOT_QUICK:-0}" = 1 ]; then
	echo "boot: NOOK_BOOT_QUICK=1: guest boots skipped"
elif [ ! -f "$guest/vmlinux" ] || [ ! -f "$initrd" ]; then
	echo "boot: SKIP guest boots ($guest/vmlinux or initramfs.cpio not built)"
else
	greeting='nook-guest: hello from init'
	expect_boot "vmlinux, 1 vCPU, defaults (build/guest)" 0 "$greeting" 'cpus=1' \
		'boot-timer: guest init reached after [0-9.]+ ms' -- --boot-timer
	# Also a guest power-off: it must end nook (status 0), not halt the vCPUs forever.
	expect_boot "vmlinux, 2 vCPUs, guest poweroff" 0 "$greeting" 'cpus=2' -- \
		--kernel "$vmlinux" --initrd "$initrd" --cpus 2 --append nook.test=poweroff
	expect_boot "bzImage" 0 "$greeting" 'cpus=1' -- --kernel "$guest/bzImage" --initrd "$initrd"
	if [ -f "$guest/initramfs-selftest.cpio" ]; then
		# Checks the guest kernel's syscall-emulation patch on nook: fork, signals, restart.
		expect_boot "syscall self-test, 2 vCPUs" 0 'nook-selftest: PASS' -- \
			--kernel "$vmlinux" --initrd "$guest/initramfs-selftest.cpio" --cpus 2
	fi
	expect_boot "guest panic -> status 3" 3 'guest kernel panicked \(pvpanic\)' -- \
		--kernel "$vmlinux" --initrd "$initrd" --append nook.test=panic
fi

echo "boot: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
