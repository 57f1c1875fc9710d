#!/usr/bin/env bash
# One real guest boot for the metadata version table (issue 12). The guest mounts three
# shares of one host tree with `versions` (three servers, one table):
#   vta (with stats): the guest stats one path 10 000 times, a missing name and access(2)
#       1 000 times each; the server must have seen only the first walk's requests;
#   vtb: the guest changes things; vtc: must see each change on its next call;
# and a host process rewrites a file, which vtc must see (fanotify helper). A second VM
# on the same tree (its own nook process, the same table) changes a file on cue, and the
# first VM's vtc must see those changes on its next calls.
# VT_EXTRA=",vt_slots=2" (say) adds options to every share (a 2-slot table: all files share
# one slot, everything must still pass).
# tests/integration/guest_vt_check.c runs as /init and reports one line per check.
set -uo pipefail
cd "$(dirname "$0")/../.."
NOOK=${NOOK:-build/nook}
CHECK_BIN=${CHECK_BIN:-build/tests/guest_vt_check}
work=$(mktemp -d /tmp/nook-vtboot.XXXXXX)
# The shared tree on tmpfs: the fanotify helpers watch its whole file system, which
# there holds little else.
tree=$(mktemp -d /dev/shm/nook-vtboot-tree.XXXXXX)
pid= pid2=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	[ -n "$pid2" ] && kill "$pid2" 2>/dev/null
	rm -rf "$work" "$tree"
}
trap cleanup EXIT
fail() { echo "vt-boot: FAIL: $*"; [ -f "$work/out" ] && sed 's/^/  guest| /' "$work/out"; exit 1; }

root=$work/root root2=$work/root2
mkdir -p "$root"/dev "$root"/proc "$root"/mnt "$root2"/dev "$root2"/proc "$root2"/mnt \
	"$tree/d" "$work/vt"
cp "$CHECK_BIN" "$root/init"
cp "$CHECK_BIN" "$root2/init"
printf vm1 > "$tree/d/vm2file"
chmod 644 "$tree/d/vm2file"
printf hello > "$tree/d/f"
chmod 644 "$tree/d/f"
echo v1 > "$tree/host-file"

start=$(date +%s)
NOOK_VT_DIR=$work/vt timeout 900 "$NOOK" run --memory 128M --root "$root2" \
	--fs "$tree,tag=vt2,versions${VT_EXTRA:-}" --append "init=/init nook_role=vm2 nook_vt2=vt2" \
	> "$work/out2" 2>&1 &
pid2=$!
NOOK_VT_DIR=$work/vt timeout 900 "$NOOK" run --memory 256M --root "$root" \
	--fs "$tree,tag=vta,versions${VT_EXTRA:-},stats" --fs "$tree,tag=vtb,versions${VT_EXTRA:-}" \
	--fs "$tree,tag=vtc,versions${VT_EXTRA:-}" \
	--append "init=/init nook_vta=vta nook_vtb=vtb nook_vtc=vtc nook_vm2=1" > "$work/out" 2>&1 &
pid=$!

for _ in $(seq 1 4000); do
	[ -e "$tree/vt-ready" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.2
done
[ -e "$tree/vt-ready" ] && echo v2-changed-on-host > "$tree/host-file"

wait "$pid"; status=$?; pid=
wait "$pid2"; status2=$?; pid2=
echo "vt-boot: guests ran $(( $(date +%s) - start )) s, nook exit status $status and $status2"
grep '^vt-check:' "$work/out" | grep -v '^vt-check: kmsg' | sed 's/^/  /'
grep '^vt-check:' "$work/out2" | grep -v '^vt-check: kmsg' | sed 's/^/  vm2 /'
[ "$status" = 0 ] || fail "nook exited with $status"
[ "$status2" = 0 ] || { cp "$work/out2" "$work/out"; fail "the second VM's nook exited with $status2"; }
grep -q '^vt-check: summary [0-9]* ok, 0 failed' "$work/out2" ||
	{ cp "$work/out2" "$work/out"; fail "the second VM's checks failed"; }
grep -q '^vt-check: summary [0-9]* ok, 0 failed' "$work/out" || fail "guest checks failed"

# Share vta saw only the first walk: its LOOKUP and GETATTR counts stay tiny although
# the guest made 12 000 calls (cache=auto alone costs one refresh per second each).
count() { awk -v op="$1" '$1 == "fs" && $2 == "stats:" && $3 == op { n += $4 } END { print n + 0 }' "$work/out"; }
lookups=$(count LOOKUP) getattrs=$(count GETATTR)
echo "  vt-boot: share vta served $lookups LOOKUP and $getattrs GETATTR for 12000 calls"
[ "$lookups" -le 4 ] || fail "vta: $lookups LOOKUPs (want <= 4: d, f, missing)"
[ "$getattrs" -le 2 ] || fail "vta: $getattrs GETATTRs (want <= 2)"
echo "vt-boot: all checks passed"
