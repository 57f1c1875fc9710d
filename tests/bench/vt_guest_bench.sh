#!/usr/bin/env bash
# bench-vt-guest: the same in-guest metadata workload (tests/bench/vt_guest_workload.c)
# on a share with `versions` and with cache=auto alone, one boot each; prints the guest's
# timings and the requests the server saw (its stats). Figures, not a test.
set -uo pipefail
cd "$(dirname "$0")/../.."
NOOK=${NOOK:-build/nook}
WORKLOAD=${WORKLOAD:-build/bench/vt_guest_workload}
work=$(mktemp -d /tmp/nook-vtbench.XXXXXX)
tree=$(mktemp -d /dev/shm/nook-vtbench-tree.XXXXXX)
trap 'rm -rf "$work" "$tree"' EXIT
mkdir -p "$work/root/dev" "$work/root/proc" "$work/root/mnt" "$work/vt" "$tree/dir"
cp "$WORKLOAD" "$work/root/init"
echo x > "$tree/f"
for i in $(seq -f %03g 0 99); do echo "$i" > "$tree/dir/f$i"; done
for mode in versions no_versions; do
	NOOK_VT_DIR=$work/vt timeout 600 "$NOOK" run --memory 256M --root "$work/root" \
		--fs "$tree,tag=bench,$mode,stats" \
		--append "init=/init nook_bench=bench nook_mode=$mode" > "$work/out" 2>&1
	grep '^vt-bench:' "$work/out"
	awk -v m="$mode" '$1 == "fs" && $2 == "stats:" && ($3 == "LOOKUP" || $3 == "GETATTR" ||
		$3 == "READDIR" || $3 == "READDIRPLUS" || $3 == "OPENDIR") {
		printf "vt-bench: %s server %s %d\n", m, $3, $4 }' "$work/out"
done
