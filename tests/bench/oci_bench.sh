#!/usr/bin/env bash
# make bench-oci: `podman run --rm IMAGE true`, nook-oci against runc on the same image,
# median of 5 wall times; nook-oci's time in create (the guest boots there) and from
# start to the workload (start returns once the init has started it), driven directly
# on a bundle, median of 5; and an idle container's memory: VMM RSS minus guest RAM.
set -u
B=$(cd "${1:-build}" && pwd)
T=$B/oci-bench
N=${OCI_BENCH_RUNS:-5}
rm -rf "$T"; mkdir -p "$T"/img/{bin,proc,sys,dev,etc,tmp}
cp /bin/busybox "$T"/img/bin/; for c in sh true sleep; do ln -sf busybox "$T/img/bin/$c"; done
pm() { podman --root "$T/storage" --runroot "$T/runroot" --storage-driver vfs \
	--cgroup-manager cgroupfs --events-backend file "$@"; }
OPTS=(--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
tar -C "$T"/img -c . | pm import - localhost/bench-bb >/dev/null
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
command -v runc >/dev/null || { echo "bench-oci: runc missing (scripts/install-deps.sh)"; exit 1; }
for rt in "$(command -v runc)" "$B/nook-oci"; do
	for _ in $(seq "$N"); do
		t0=$(date +%s.%N)
		pm --runtime "$rt" run --rm "${OPTS[@]}" localhost/bench-bb true >/dev/null 2>&1 ||
			echo "bench-oci: $rt run failed" >&2
		echo "$(date +%s.%N) - $t0" | bc
	done | median | xargs printf "podman run --rm true, %-8s median of $N: %.2f s\n" "$(basename "$rt")"
done
# create and start on their own: a bundle of the same tree, nook-oci's own CLI.
mkdir -p "$T"/bundle && cp -a "$T"/img "$T"/bundle/rootfs
echo '{"ociVersion":"1.0.2","process":{"args":["true"],"env":["PATH=/bin"],"cwd":"/"},"root":{"path":"rootfs"}}' \
	> "$T"/bundle/config.json
for i in $(seq "$N"); do
	t0=$(date +%s.%N)
	"$B"/nook-oci --root "$T"/state create --bundle "$T"/bundle b$i >/dev/null 2>&1 ||
		echo "bench-oci: create failed" >&2
	t1=$(date +%s.%N)
	"$B"/nook-oci --root "$T"/state start b$i >/dev/null 2>&1 || echo "bench-oci: start failed" >&2
	t2=$(date +%s.%N)
	echo "$(echo "$t1 - $t0" | bc) $(echo "($t2 - $t1) * 1000" | bc)"
	"$B"/nook-oci --root "$T"/state delete --force b$i >/dev/null 2>&1
done > "$T"/times
printf "nook-oci create (guest boot), median of $N: %.2f s\n" "$(cut -d' ' -f1 "$T"/times | median)"
printf "nook-oci start to workload, median of $N: %.0f ms\n" "$(cut -d' ' -f2 "$T"/times | median)"
# An idle container's memory: VMM RSS now, and (NOOK_LOG=info, printed by the VMM as it
# ends) its peak RSS against the guest RAM resident in it; the difference is nook's own
# overhead, the figure to set against Kata's ~130 MiB. Peak minus the final guest RAM is
# an upper bound (guest RAM only grows).
sed 's/"args":\["true"\]/"args":["sleep","1000"]/' "$T"/bundle/config.json > "$T"/idle.json
mv "$T"/idle.json "$T"/bundle/config.json
NOOK_LOG=info "$B"/nook-oci --root "$T"/state create --bundle "$T"/bundle --pid-file "$T"/idle.pid idle \
	>/dev/null 2>"$T"/idle.err && "$B"/nook-oci --root "$T"/state start idle >/dev/null 2>&1 ||
	echo "bench-oci: idle container failed" >&2
sleep 20	# let the guest settle
pid=$(cat "$T"/idle.pid 2>/dev/null)
echo "idle container: VMM RSS $(awk '/VmRSS/ {print $2}' /proc/"$pid"/status 2>/dev/null) KiB (guest RAM touched included)"
"$B"/nook-oci --root "$T"/state kill idle TERM >/dev/null 2>&1
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
"$B"/nook-oci --root "$T"/state delete --force idle >/dev/null 2>&1
sed -n 's/.*memory: peak RSS \([0-9]*\) KiB, guest RAM resident \([0-9]*\) KiB, overhead \(-*[0-9]*\) KiB.*/\1 \2 \3/p' "$T"/idle.err |
	{ read -r peak guest over && printf "idle container: VMM peak RSS %d KiB, guest RAM %d KiB, nook overhead %.1f MiB (goal < 10 MiB; Kata ~130 MiB)\n" \
		"$peak" "$guest" "$(echo "$over / 1024" | bc -l)" || echo "bench-oci: no memory line from the VMM" >&2; }
pm rmi -f localhost/bench-bb >/dev/null 2>&1; rm -rf "$T"
