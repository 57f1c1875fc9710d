#!/usr/bin/env bash
# One real guest boot for virtio-fs: the guest's root is a host directory (--root), two
# more shares are mounted (one rw, one ro), and tests/integration/guest_fs_check.c runs as
# /init and reports one line per check. The host side then verifies what the guest wrote
# (sha256 of a 16 MiB file) and changes a file while the guest watches it.
set -uo pipefail
cd "$(dirname "$0")/../.."
NOOK=${NOOK:-build/nook}
CHECK_BIN=${CHECK_BIN:-build/tests/guest_fs_check}
work=$(mktemp -d /tmp/nook-fsboot.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "fs-boot: FAIL: $*"; [ -f "$work/out" ] && sed 's/^/  guest| /' "$work/out"; exit 1; }

root=$work/root data=$work/data ro=$work/ro
mkdir -p "$root"/dev "$root"/proc "$root"/mnt "$root"/root-work "$data" "$ro"
cp "$CHECK_BIN" "$root/init"
touch "$root/fs-check-root-marker"
echo v1 > "$data/host-file"
echo ro > "$ro/existing"

start=$(date +%s)
timeout 400 "$NOOK" run --memory 256M --root "$root" --fs "$data,tag=data" \
	--fs "$ro,tag=rodata,ro" --append "init=/init nook_data=data nook_ro=rodata" \
	> "$work/out" 2>&1 &
pid=$!

# The guest says it is ready by creating guest-ready; then the host changes host-file.
for _ in $(seq 1 1500); do
	[ -e "$data/guest-ready" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.2
done
[ -e "$data/guest-ready" ] && echo v2-changed-on-host > "$data/host-file" &&
	echo new > "$data/host-new"

wait "$pid"; status=$?; pid=
echo "fs-boot: guest ran $(( $(date +%s) - start )) s, nook exit status $status"
grep '^fs-check:' "$work/out" | sed 's/^/  /'
[ "$status" = 0 ] || fail "nook exited with $status"
grep -q '^fs-check: summary [0-9]* ok, 0 failed' "$work/out" || fail "guest checks failed"

# Host side: the guest's 16 MiB file has the xorshift stream guest_fs_check.c wrote.
want=$(python3 - <<'PY'
import hashlib, struct
x = 0x9e3779b97f4a7c15; m = (1 << 64) - 1; h = hashlib.sha256(); buf = bytearray()
for _ in range((16 << 20) // 8):
    x ^= (x << 13) & m; x ^= x >> 7; x ^= (x << 17) & m
    buf += struct.pack('<Q', x)
h.update(buf); print(h.hexdigest())
PY
)
got=$(sha256sum "$data/big-16m" | cut -d' ' -f1)
[ "$want" = "$got" ] || fail "big-16m sha256 $got, want $want"
echo "  fs-boot: ok host-sha256-16m"
[ "$(cat "$data/file-b")" = "hello" ] || fail "file-b on host: $(cat "$data/file-b")"
echo "  fs-boot: ok host-sees-guest-writes"
[ ! -e "$ro/new-file" ] || fail "ro share was written"
echo "  fs-boot: ok ro-share-untouched"
echo "fs-boot: all checks passed"
