#!/usr/bin/env bash
# One real boot, checked from the host while the guest command runs: every thread of the
# VMM is under a seccomp filter, the default sandbox is in place (empty root, own network
# namespace, capabilities per thread kind as SECURITY.md lists them), and the kernel
# logged no seccomp event for the VMM. Then bad --seccomp/--sandbox values.
#
#   tests/integration/sandbox.sh [BUILD_DIR]     (default: build; needs root)
set -u
cd "$(dirname "$0")/../.."
build=${1:-build}
nook=$(realpath "$build/nook")
tmp=$(mktemp -d /tmp/nook-sandbox.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fails=0
passes=0
pass() { passes=$((passes + 1)); echo "sandbox: PASS $1"; }
fail() { fails=$((fails + 1)); echo "sandbox: FAIL $1"; }
check() { if eval "$2"; then pass "$1"; else fail "$1"; fi; }

# CapEff of the VMM's threads of one kind (comm nook-KIND, or "nook": the main thread).
caps_of() { for t in /proc/$pid/task/*; do [ "$(cat "$t/comm")" = "$1" ] && sed -n 's/^CapEff:\t//p' "$t/status"; done | sort -u; }

mkdir -p "$tmp/share"
since=$(cut -d' ' -f1 /proc/uptime)
NOOK_SECCOMP= "$nook" run --timeout 300 --rwdir "$tmp/share" -- sh -c "touch $tmp/share/ready; sleep 20" \
	</dev/null >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 1200); do
	[ -e "$tmp/share/ready" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.25
done
if [ ! -e "$tmp/share/ready" ]; then
	fail "the guest command did not start"; sed 's/^/    | /' "$tmp/err" | tail -20
	echo "sandbox: $passes passed, $fails failed"; exit 1
fi

tasks=$(ls /proc/$pid/task | wc -l)
unfiltered=$(grep -L $'^Seccomp:\t2$' /proc/$pid/task/*/status | wc -l)
check "every thread ($tasks) reports Seccomp: 2" '[ "$tasks" -gt 3 ] && [ "$unfiltered" -eq 0 ]'
check "thread kinds present: vcpu, fs-worker, virtqueue, spawner" \
	'(for k in vcpu fs-worker virtqueue spawner; do grep -qx "nook-$k" /proc/$pid/task/*/comm || exit 1; done)'
root=$(ls -A /proc/$pid/root | tr '\n' ' ')
check "the root is empty but for proc and the covered old root ($root)" \
	'[ "$root" = ".old proc " ] && [ -z "$(ls -A /proc/$pid/root/.old)" ]'
check "/proc in the root is only the VMM's own" \
	'[ "$(ls -A /proc/$pid/root/proc | tr "\n" " ")" = "self " ] && [ -e /proc/$pid/root/proc/self/fd/0 ]'
check "own network namespace" '[ "$(readlink /proc/$pid/ns/net)" != "$(readlink /proc/self/ns/net)" ]'
check "own mount namespace" '[ "$(readlink /proc/$pid/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ]'
check "main thread and vCPUs keep no capability" \
	'[ "$(caps_of nook)" = 0000000000000000 ] && [ "$(caps_of nook-vcpu)" = 0000000000000000 ]'
# CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID SETGID SETUID MKNOD SETFCAP
check "fs-worker threads keep the server's set ($(caps_of nook-fs-worker))" \
	'[ "$(caps_of nook-fs-worker)" = 00000000880000df ]'
check "NoNewPrivs on every thread" \
	'[ "$(grep -L $'"'"'^NoNewPrivs:\t1$'"'"' /proc/$pid/task/*/status | wc -l)" -eq 0 ]'
wait "$pid"
rc=$?
pid=
check "the command's status (0)" '[ "$rc" -eq 0 ]'
logged=$(dmesg 2>/dev/null | grep -a 'type=1326' | grep -a "exe=\"$nook\"" |
	sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p' | awk -v s="$since" '$1 + 0 > s + 0' | wc -l)
check "no seccomp event logged for the VMM" '[ "$logged" -eq 0 ]'

for bad in "--seccomp=loud" "--sandbox=jail"; do
	timeout 30 "$nook" run "$bad" -- true </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	check "$bad: exit 125, one error line ($(cat "$tmp/err"))" '[ "$rc" -eq 125 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ]'
done
echo "sandbox: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
