#!/usr/bin/env bash
# The cost of confinement (figures, not a test): the same workloads with the defaults
# (--seccomp=kill, --sandbox=namespace) and with both off, alternating, median of RUNS.
#   boot: `nook run -- true` wall time (boot to exit)
#   fs:   through `nook fs serve -o no_passthrough` (the server moves the data, as for a
#         guest): create FILES files, stat them all, read them all, remove them; then a
#         128 MiB sequential write and read (dd, 1 MiB blocks, page cache dropped first).
#
#   tests/bench/sec_bench.sh NOOK [RUNS] [FILES]     (needs root)
set -u
nook=$(realpath "$1")
runs=${2:-3}
files=${3:-5000}
T=$(mktemp -d /tmp/nook-secbench.XXXXXX) || exit 1
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	mountpoint -q "$T/mnt" && umount -l "$T/mnt"
	rm -rf "$T" 2>/dev/null || { sleep 1; rm -rf "$T"; }	# a lazy unmount may still settle
}
trap cleanup EXIT
mkdir -p "$T/src" "$T/mnt"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# The environment of one configuration, as arguments of env(1): env execs nook, so a
# backgrounded `env ... nook` has nook's own pid in $! (a backgrounded shell function
# would leave $! naming a subshell, and kill would miss the server and its mount).
conf_env() {
	case $1 in
	on) echo NOOK_SECCOMP=kill NOOK_SANDBOX=namespace ;;
	off) echo NOOK_SECCOMP=off NOOK_SANDBOX=none ;;
	esac
}

fs_round() {	# conf -> "create stat read remove write readback" seconds
	local conf=$1 t out=""
	# shellcheck disable=SC2046
	env $(conf_env "$conf") "$nook" fs serve "$T/src" "$T/mnt" -o no_passthrough 2>/dev/null &
	pid=$!
	for _ in $(seq 100); do mountpoint -q "$T/mnt" && break; sleep 0.05; done
	mkdir "$T/mnt/d"
	t=$(now); (cd "$T/mnt/d" && seq -f "f%g" 1 "$files" | xargs sh -c 'for f; do echo x > "$f"; done' sh); out="$out $(since "$t")"
	t=$(now); find "$T/mnt/d" -type f -printf "%s\n" >/dev/null; out="$out $(since "$t")"
	t=$(now); cat "$T/mnt/d"/* >/dev/null; out="$out $(since "$t")"
	t=$(now); rm -rf "$T/mnt/d"; out="$out $(since "$t")"
	t=$(now); dd if=/dev/zero of="$T/mnt/big" bs=1M count=128 conv=fsync status=none; out="$out $(since "$t")"
	sync; echo 3 > /proc/sys/vm/drop_caches
	t=$(now); dd if="$T/mnt/big" of=/dev/null bs=1M status=none; out="$out $(since "$t")"
	rm -f "$T/mnt/big"
	kill -TERM "$pid"; wait "$pid" 2>/dev/null; pid=
	# The server unmounts as it exits; never start the next round on a stacked mount.
	for _ in $(seq 100); do mountpoint -q "$T/mnt" || break; sleep 0.05; done
	if mountpoint -q "$T/mnt"; then
		echo "bench-sec: $T/mnt still mounted after the server exited" >&2
		umount -l "$T/mnt"
	fi
	echo "$out"
}

for conf in on off; do : > "$T/boot.$conf"; : > "$T/fs.$conf"; done
for i in $(seq "$runs"); do
	for conf in on off; do
		t=$(now); env $(conf_env "$conf") "$nook" run -- true </dev/null >/dev/null 2>&1; since "$t" >> "$T/boot.$conf"; echo >> "$T/boot.$conf"
		fs_round "$conf" >> "$T/fs.$conf"
	done
done
printf "%-22s %12s %12s %8s\n" phase "kill+ns (s)" "off+none (s)" "cost"
row() {	# name on off
	awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%-22s %12.3f %12.3f %+7.1f%%\n", n, a, b, (b > 0 ? (a - b) * 100 / b : 0) }'
}
row "boot to exit" "$(grep . "$T/boot.on" | median)" "$(grep . "$T/boot.off" | median)"
col=1
for p in "create $files" "stat $files" "read $files" "remove $files" "write 128M" "read 128M"; do
	col=$((col + 1))
	row "$p" "$(awk -v c=$col '{ print $(c - 1) }' "$T/fs.on" | median)" \
		"$(awk -v c=$col '{ print $(c - 1) }' "$T/fs.off" | median)"
done
