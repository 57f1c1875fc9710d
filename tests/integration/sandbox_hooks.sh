#!/bin/bash
# check-sandbox-hooks: the test-only nook (build/tests/nook-hooks, vmm/test_hook.h) makes
# each server thread kind of `nook fs serve` misbehave once confined:
#   syscall, --seccomp kill: nook dies of SIGSYS;  --seccomp trap: it names kind and call;
#   escape, --seccomp log (seccomp lets it pass, so the layers below are what is tested:
#   Landlock, the network namespace): every attempt is refused and the server still serves.
# Needs root (mount, the default sandbox). fuse-uring only where the kernel enables it.
set -u
nook=$(realpath "$1")
T=$(mktemp -d /tmp/nook-hooks.XXXXXX) || exit 1
fails=0
cleanup() {
	unmount
	rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/src" "$T/mnt"
echo data > "$T/src/f"
export ASAN_OPTIONS=detect_leaks=0	# LeakSanitizer's tracer would need ptrace
fail() { echo "check-sandbox-hooks: FAIL: $*"; fails=$((fails + 1)); }
# A server that died leaves a dead mount (ENOTCONN, which mountpoint(1) does not see).
mounted() { grep -q " $T/mnt " /proc/self/mounts; }
unmount() { for _ in $(seq 50); do mounted || return 0; umount -l "$T/mnt" 2>/dev/null; sleep 0.1; done; }

# kind mode: the server must die on its own, of SIGSYS (kill) or reporting it (trap).
forbidden() {
	local kind=$1 mode=$2 rc
	NOOK_TEST_HOOK=$kind:syscall timeout 20 "$nook" fs serve "$T/src" "$T/mnt" \
		--seccomp "$mode" 2> "$T/err" &
	local pid=$!
	wait "$pid"; rc=$?
	unmount
	[ "$rc" = 159 ] || fail "$kind:syscall under $mode: exit $rc, expected 159 (SIGSYS)"
	if [ "$mode" = trap ] &&
	   ! grep -q "seccomp: $kind thread made forbidden syscall ptrace (101)" "$T/err"; then
		fail "$kind:syscall under trap: no report naming kind and call"; cat "$T/err"
	fi
	echo "check-sandbox-hooks: $kind forbidden syscall under $mode: exit $rc"
}

escape() {
	local kind=$1
	cp /bin/true "$T/src/prog"
	NOOK_TEST_HOOK=$kind:escape "$nook" fs serve "$T/src" "$T/mnt" --seccomp log 2> "$T/err" &
	local pid=$!
	for _ in $(seq 100); do mountpoint -q "$T/mnt" && break; sleep 0.05; done
	for _ in $(seq 100); do grep -q "escape: .* tried" "$T/err" && break; sleep 0.05; done
	[ "$(cat "$T/mnt/f" 2>/dev/null)" = data ] || fail "$kind:escape: the share no longer serves"
	# Landlock must leave clients able to exec from the share (passthrough backing files
	# are opened with FMODE_EXEC under the server's credentials).
	"$T/mnt/prog" || fail "$kind:escape: a program on the share does not run"
	kill -TERM "$pid"; wait "$pid"
	unmount
	grep -q "ESCAPED" "$T/err" && { fail "$kind:escape:"; grep ESCAPED "$T/err"; }
	grep -q "escape: [1-9][0-9]* tried, 0 escaped" "$T/err" ||
		{ fail "$kind:escape: no summary"; cat "$T/err"; }
	echo "check-sandbox-hooks: $kind $(grep -m1 'tried' "$T/err" | sed 's/^nook-test: //')"
}

for mode in kill trap; do forbidden fuse-dev $mode; done
escape fuse-dev
[ "$fails" = 0 ] && echo "check-sandbox-hooks: passed" || { echo "check-sandbox-hooks: $fails failed"; exit 1; }
