#!/usr/bin/env bash
# `nook run -- CMD` against the real guest kernel and the built-in init.
#
#   tests/integration/run.sh [BUILD_DIR]     (default: build)
#
# Bad inputs first (no guest, exit 125). Then a few boots, each checking many things:
# one pipe-mode boot under --host-root does stdin/stdout/stderr, argv, env, the read-only
# host root and its overlays, --rwdir and exit 42; the others pin one exit status each
# (they cannot share a boot), and a pty harness checks tty mode.
set -u
cd "$(dirname "$0")/../.."
build=${1:-build}
nook=$(realpath "$build/nook")
tmo=${NOOK_BOOT_TIMEOUT:-400}
tmp=$(mktemp -d /tmp/nook-run.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
passes=0

pass() { passes=$((passes + 1)); echo "run: PASS $1"; }
fail() {
	fails=$((fails + 1)); echo "run: FAIL $1"
	for f in "$tmp/out" "$tmp/err"; do [ -s "$f" ] && tail -n 30 "$f" | sed "s/^/    $(basename "$f")| /"; done
	return 0
}

# bad NAME REGEX nook-args...: exit 125 and one matching error line, no guest.
bad() {
	local name=$1 re=$2
	shift 2
	timeout 60 "$nook" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ "$rc" -ne 125 ]; then
		fail "$name (exit $rc, expected 125)"
	elif [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -Eq -- "$re" "$tmp/err"; then
		fail "$name (stderr is not one line matching /$re/)"
	else
		pass "$name: $(cat "$tmp/err")"
	fi
}

# status NAME WANT STDERR-REGEX nook-run-args...: a boot that must end with WANT.
status() {
	local name=$1 want=$2 re=$3 start rc
	shift 3
	start=$(date +%s.%N)
	timeout "$tmo" "$nook" run "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "$name (exit $rc, expected $want)"
	elif [ -n "$re" ] && ! grep -Eq -- "$re" "$tmp/err"; then
		fail "$name (stderr does not match /$re/)"
	else
		pass "$name: exit $rc ($(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)") s)"
	fi
}

# ---- bad inputs (no guest)
bad "no command after --" 'no command after --' run --
bad "unknown user" 'unknown user' run --user no-such-user-xyz -- true
bad "--rwdir of a missing directory" 'rwdir .*No such file' run --rwdir "$tmp/missing" -- true
timeout 30 "$nook" run --host-root </dev/null >"$tmp/out" 2>"$tmp/err"
if [ $? -eq 1 ] && grep -q 'for running a command' "$tmp/err"; then
	pass "a run option without a command is a plain-boot error (exit 1)"
else
	fail "a run option without a command"
fi
bad "--root and --host-root" 'exclude each other' run --root "$tmp" --host-root -- true
bad "bad --timeout" 'timeout' run --timeout -3 -- true
# A kernel nook cannot run a command on: a tiny ELF "kernel" (tests/integration/
# boot_tiny_guest.py) has no virtio-fs driver in it.
python3 tests/integration/boot_tiny_guest.py "$tmp/tiny.elf" f4
bad "a kernel without virtio-fs" 'lacks .*VIRTIO_FS' run --kernel "$tmp/tiny.elf" -- true
printf 'not a kernel' >"$tmp/notakernel"
bad "not a kernel" 'not an ELF vmlinux or a bzImage' run --kernel "$tmp/notakernel" -- true

if [ "${NOOK_BOOT_QUICK:-0}" = 1 ]; then
	echo "run: $passes passed, $fails failed (boots skipped: NOOK_BOOT_QUICK=1)"
	[ "$fails" -eq 0 ]; exit
fi

# ---- the big pipe-mode boot
rw=$tmp/rw
mkdir -p "$rw" "$tmp/lower-dir/sub"
head -c 10M /dev/urandom >"$tmp/stdin"
want_sum=$(sha256sum <"$tmp/stdin" | cut -d' ' -f1)
echo "host-visible $$" >"$rw/host-file"
long=$(head -c 3000 /dev/urandom | base64 -w0 | head -c 4096)
want_long=$(printf %s "$long" | sha256sum | cut -d' ' -f1)
for i in $(seq 1 200); do echo "NOOKV$i=value-$i-with spaces=and=equals"; done >"$tmp/envfile"
marker=nook-run-test-$$
export NOOK_HOST_SECRET=leaked
script='
sum=$(sha256sum | cut -d" " -f1); echo "stdin-sum $sum"
echo "to-stderr" >&2
echo "argc $# long $(printf %s "$1" | sha256sum | cut -d" " -f1)"
echo "env-count $(env | grep -c "^NOOKV[0-9]*=value-[0-9]*-with spaces=and=equals$")"
echo "env-foo $FOO"
echo "env-leak ${NOOK_HOST_SECRET:-none}"
echo "path $PATH home $HOME"
echo "cwd $(pwd)"
echo "uname $(uname -r)"
echo "host-file $(cat '"$rw"'/host-file)"
echo guest >/etc/'"$marker"' && echo "etc-write ok $(cat /etc/'"$marker"')"
echo guest >/tmp/'"$marker"' && echo "tmp-write ok"
rm -r '"$tmp"'/lower-dir && mkdir '"$tmp"'/lower-dir && echo "overlay-recreate ok"
if touch /'"$marker"' 2>/dev/null; then echo "root-write allowed"; else echo "root-write refused"; fi
echo from-guest >'"$rw"'/from-guest && echo "rwdir-write ok"
exit 42'
start=$(date +%s.%N)
(cd "$tmp" && timeout "$tmo" "$nook" run --host-root --rwdir "$rw" -e FOO=bar \
	--control "$tmp/ctl.sock" --env-file "$tmp/envfile" -- /bin/sh -c "$script" sh "$long") \
	<"$tmp/stdin" >"$tmp/out" 2>"$tmp/err"
rc=$?
secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
check() { if grep -Fqx -- "$2" "$tmp/out"; then pass "pipe boot: $1"; else fail "pipe boot: $1 (no line '$2')"; fi; }
if [ "$rc" -eq 42 ]; then pass "pipe boot: exit 42 ($secs s)"; else fail "pipe boot: exit $rc, expected 42"; fi
# The sandboxed VMM has left the host's root when it ends: it removes its --control
# socket through the directory fd it kept.
if [ -e "$tmp/ctl.sock" ]; then fail "pipe boot: --control socket left behind"; else pass "pipe boot: --control socket removed at exit"; fi
check "10 MiB stdin reaches sha256sum intact" "stdin-sum $want_sum"
check "4 KiB argv arrives intact" "argc 1 long $want_long"
check "200 env vars from --env-file" "env-count 200"
check "-e FOO=bar" "env-foo bar"
check "host environment not forwarded" "env-leak none"
check "PATH and HOME set" "path /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin home /root"
check "cwd is the host's current directory" "cwd $tmp"
check "--host-root reads host files" "host-file host-visible $$"
check "/etc is writable in the guest" "etc-write ok guest"
check "/tmp is writable in the guest" "tmp-write ok"
check "the host root refuses writes" "root-write refused"
check "a host directory can be removed and made again in an overlay" "overlay-recreate ok"
check "--rwdir writes succeed" "rwdir-write ok"
if grep -q '^uname .*nook' "$tmp/out"; then pass "pipe boot: runs the guest kernel"; else fail "pipe boot: uname"; fi
if grep -Fqx to-stderr "$tmp/err" && ! grep -q to-stderr "$tmp/out"; then
	pass "pipe boot: stdout and stderr stay apart"
else
	fail "pipe boot: stderr"
fi
if [ "$(cat "$rw/from-guest" 2>/dev/null)" = from-guest ]; then pass "pipe boot: --rwdir write reached the host"; else fail "pipe boot: --rwdir write not on the host"; fi
if [ ! -e "/etc/$marker" ] && [ ! -e "/tmp/$marker" ] && [ ! -e "/$marker" ] && [ -d "$tmp/lower-dir/sub" ]; then
	pass "pipe boot: no trace of guest writes on the host"
else
	fail "pipe boot: guest writes leaked to the host"
fi
rm -f "/etc/$marker" "/tmp/$marker" "/$marker"

# ---- one exit status per boot
status "exit 1 (false)" 1 '' -- false
status "killed by SIGKILL: 137" 137 '' -- /bin/sh -c 'kill -9 $$'
status "command not found: 127" 127 'no-such-command' -- /no-such-command
cp /bin/true "$tmp/noexec" && chmod 0644 "$tmp/noexec"
status "not executable: 126" 126 'noexec' -- "$tmp/noexec"
status "--timeout: 124" 124 'timeout' --timeout 25 -- sleep 1000
status "guest panic: 255 with the console tail" 255 'Kernel panic|panic' --append init=/no-such-init -- true

# ---- tty mode under a pty: Ctrl-C ends the command with 130, the terminal is restored
if python3 tests/integration/run_tty.py "$nook" >"$tmp/out" 2>"$tmp/err"; then
	pass "tty mode: $(tail -n 1 "$tmp/out")"
else
	fail "tty mode"
fi

echo "run: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
