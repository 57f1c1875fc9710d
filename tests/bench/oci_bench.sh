#!/usr/bin/env bash
# make bench-oci: `podman run --rm IMAGE true`, nook-oci against runc on the same image,
# median of 5 wall times; nook-oci's time in create (the guest boots there) and from
# start to the workload (start returns once the init has started it), driven directly
# on a bundle, median of 5; and the VMM's RSS of an idle container (run -d sleep).
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
id=$(pm --runtime "$B/nook-oci" run -d "${OPTS[@]}" localhost/bench-bb sleep 1000)
sleep 20	# let the guest boot and settle
pid=$(pm inspect --format '{{.State.Pid}}' "$id")
echo "idle container: VMM RSS $(awk '/VmRSS/ {print $2}' /proc/"$pid"/status) KiB (guest RAM touched included)"
pm rm -f "$id" >/dev/null 2>&1
pm rmi -f localhost/bench-bb >/dev/null 2>&1; rm -rf "$T"
