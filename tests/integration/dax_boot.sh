#!/usr/bin/env bash
# One real guest boot for the DAX window: tests/integration/dax_boot_check.c runs as
# /init with a share that has a window (dax=64M, stats) and one that has none, and
# reports one line per check. The host side changes and truncates files the guest has
# mapped, then checks what the guest wrote and that no FUSE READ reached the DAX share.
set -uo pipefail
cd "$(dirname "$0")/../.."
NOOK=${NOOK:-build/nook}
CHECK_BIN=${CHECK_BIN:-build/tests/dax_boot_check}
work=$(mktemp -d /tmp/nook-daxboot.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "dax-boot: FAIL: $*"; [ -f "$work/out" ] && sed 's/^/  guest| /' "$work/out"; exit 1; }

# The xorshift stream of dax_boot_check.c's pattern(): pattern SEED BYTES > file
pattern() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
x = int(sys.argv[1]); m = (1 << 64) - 1; n = int(sys.argv[2]) // 8; out = bytearray()
for _ in range(n):
    x ^= (x << 13) & m; x ^= x >> 7; x ^= (x << 17) & m
    out += struct.pack('<Q', x)
sys.stdout.buffer.write(out)
PY
}

root=$work/root dax=$work/dax plain=$work/plain
mkdir -p "$root"/dev "$root"/proc "$root"/mnt "$dax" "$plain"
cp "$CHECK_BIN" "$root/init"
pattern 1 $((8 << 20)) > "$dax/big"
head -c 1000 /dev/zero | tr '\0' s > "$dax/small"
truncate -s 1M "$dax/wfile" "$dax/wbuf"
truncate -s 4M "$dax/live"
pattern 4 $((4 << 20)) > "$dax/trunc"
pattern 3 $((256 << 10)) > "$plain/odfile"

# Bad windows: one clear line and status 1, no guest.
bad() {	# bad SPEC WANT-IN-MESSAGE
	local msg rc
	msg=$("$NOOK" run --fs "$1" 2>&1 </dev/null); rc=$?
	[ $rc = 1 ] && [ "$(printf '%s\n' "$msg" | wc -l)" = 1 ] && [[ $msg == *"$2"* ]] ||
		fail "--fs $1: status $rc, message: $msg"
}
bad "$plain,dax=3M" "multiple of 2M"
bad "$plain,dax=32G" "limited to 16G"
bad "$plain,dax=8G" "more than half of --memory"
bad "$plain,dax=lots" "give a size"
echo "  dax-boot: ok bad-windows-refused"

start=$(date +%s)
NOOK_LOG=info timeout 400 "$NOOK" run --memory 256M --root "$root" --fs "$dax,tag=dax,dax=64M,stats" \
	--fs "$plain,tag=plain" --append "init=/init" > "$work/out" 2>&1 &
pid=$!

# Handshakes: the guest maps a file, says so on the plain share, the host changes it.
step() {	# step READY-FILE COMMAND...
	local ready=$1; shift
	for _ in $(seq 1 1500); do
		[ -e "$plain/$ready" ] && break
		kill -0 "$pid" 2>/dev/null || return
		sleep 0.2
	done
	[ -e "$plain/$ready" ] && "$@"
}
step ready-live python3 -c "
import os; fd = os.open('$dax/live', os.O_WRONLY); os.pwrite(fd, b'HOSTPWRITE', 1 << 20)"
step ready-trunc sh -c "truncate -s 4096 '$dax/trunc' && touch '$plain/done-trunc'"

wait "$pid"; status=$?; pid=
echo "dax-boot: guest ran $(( $(date +%s) - start )) s, nook exit status $status"
grep '^dax-check:' "$work/out" | sed 's/^/  /'
[ "$status" = 0 ] || fail "nook exited with $status"
grep -q '^dax-check: summary [0-9]* ok, 0 failed' "$work/out" || fail "guest checks failed"

# Host side: what the guest wrote through the window, and the request counts.
[ "$(dd if="$dax/wfile" bs=1 skip=4096 count=24 2>/dev/null)" = written-through-dax-mmap ] ||
	fail "mmap write not on the host"
[ "$(dd if="$dax/wfile" bs=1 skip=65536 count=17 2>/dev/null)" = written-by-pwrite ] ||
	fail "pwrite not on the host"
echo "  dax-boot: ok host-sees-dax-writes"
cmp -s -n $((256 << 10)) "$dax/wbuf" "$plain/odfile" || fail "O_DIRECT buffer not in wbuf"
echo "  dax-boot: ok host-sees-odirect-into-dax-buffer"
grep '^nook: .*fs stats\|^fs stats' "$work/out" | sed 's/^/  /'
grep -Eq 'fs stats: SETUPMAPPING +[1-9]' "$work/out" || fail "no SETUPMAPPING counted"
if grep -Eq 'fs stats: READ +[0-9]' "$work/out"; then fail "FUSE READ reached the DAX share"; fi
echo "  dax-boot: ok no-fuse-read-on-dax-share"
# nook's own account of the window (placement, truncation handling).
grep -E '^nook: .*(dax:|shared memory)' "$work/out" | sed 's/^/  /'
echo "dax-boot: all checks passed"
