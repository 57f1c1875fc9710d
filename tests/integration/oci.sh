#!/usr/bin/env bash
# make check-oci: podman drives build/nook-oci (each run boots a guest, so the checks are
# batched into few containers). Offline: the image is busybox-static through `podman import`.
set -u
B=$(cd "${1:-build}" && pwd)
T=$B/oci-test
OCI=$B/nook-oci
pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL - $1"; fail=$((fail + 1)); }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (got '$2', want '$3')"; fi; }
has() { case "$2" in *"$3"*) ok "$1" ;; *) bad "$1 ('$2' lacks '$3')" ;; esac; }

command -v podman >/dev/null || { echo "check-oci: podman missing (scripts/install-deps.sh)"; exit 1; }
rm -rf "$T"
mkdir -p "$T"/img/{bin,proc,sys,dev,etc,tmp} "$T"/data
cp /bin/busybox "$T"/img/bin/
for c in sh ls cat id echo pwd sleep uname sha256sum head trap hostname grep stty tty wc; do ln -sf busybox "$T/img/bin/$c"; done
echo "root:x:0:0:root:/root:/bin/sh" > "$T"/img/etc/passwd
cp "$B"/tests/oci_personality "$T"/img/bin/personality || { echo "check-oci: build/tests/oci_personality missing"; exit 1; }
pm() {
	podman --root "$T/storage" --runroot "$T/runroot" --storage-driver vfs \
		--cgroup-manager cgroupfs --events-backend file --runtime "$OCI" "$@"
}
RUNOPTS=(--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
tar -C "$T"/img -c . | pm import - localhost/nook-oci-bb >/dev/null || { echo "check-oci: podman import failed"; exit 1; }

# Runtime errors without podman: one line, non-zero exit, no guest.
out=$("$OCI" --root "$T/state" create --bundle /nonexistent x 2>&1); rc=$?
check "missing bundle exits 1" "$rc" 1; has "missing bundle error" "$out" "nonexistent"
mkdir -p "$T"/bundle/rootfs; echo '{"process":' > "$T"/bundle/config.json
out=$("$OCI" --root "$T/state" create --bundle "$T"/bundle x 2>&1); rc=$?
check "malformed config.json exits 1" "$rc" 1; has "malformed config.json error" "$out" "config.json:"
echo '{"process":{"args":["true"]},"root":{"path":"nope"}}' > "$T"/bundle/config.json
out=$("$OCI" --root "$T/state" create --bundle "$T"/bundle x 2>&1); rc=$?
check "missing rootfs exits 1" "$rc" 1; has "missing rootfs error" "$out" "rootfs"
# A failure in create's VMM child (a bind source that is gone) under --log-format=json:
# one line on stderr, exactly one JSON object in --log, naming the child's reason.
echo '{"process":{"args":["true"]},"root":{"path":"rootfs"},"mounts":[{"destination":"/mnt","type":"bind","source":"/nonexistent-src","options":["rbind"]}]}' > "$T"/bundle/config.json
rm -f "$T"/log.json
out=$("$OCI" --root "$T/state" --log "$T"/log.json --log-format json create --bundle "$T"/bundle x 2>&1); rc=$?
check "create whose child fails exits 1" "$rc" 1
check "... with one stderr line" "$(printf '%s\n' "$out" | wc -l)" 1
check "... and one JSON object in --log" "$(wc -l < "$T"/log.json 2>/dev/null)" 1
has "... naming the child's reason" "$(cat "$T"/log.json 2>/dev/null)" '"msg":"mount /mnt: source /nonexistent-src'
out=$("$OCI" state no-such-ctr 2>&1); rc=$?
check "state of unknown id exits 1" "$rc" 1; has "unknown id error" "$out" "does not exist"
has "--version" "$("$OCI" --version)" "nook-oci version"

# One run: env, cwd, user, volume read+write, stdin (10 MiB checksum, the issue's size), guest kernel, exit 3.
echo hello > "$T"/data/in; chmod 777 "$T"/data
head -c 10485760 /dev/urandom > "$T"/stdin.bin
want_sum=$(sha256sum < "$T"/stdin.bin | cut -d' ' -f1)
out=$(pm run --rm -i "${RUNOPTS[@]}" -v "$T/data:/data" -e FOO=bar -w /tmp -u 1000 localhost/nook-oci-bb \
	sh -c 'echo "env=$FOO cwd=$(pwd) uid=$(id -u) kernel=$(uname -r) nofile=$(ulimit -n)"; cat /data/in; echo written > /data/out;
	       sha256sum | cut -d" " -f1; exit 3' < "$T"/stdin.bin 2>&1); rc=$?
check "run --rm exits with the workload's code 3" "$rc" 3
has "-e env" "$out" "env=bar"
has "-w cwd" "$out" "cwd=/tmp"
has "-u 1000" "$out" "uid=1000"
case "$out" in *"kernel=$(uname -r)"*) bad "runs on the guest kernel (saw the host's)" ;; *kernel=?*) ok "runs on the guest kernel" ;; *) bad "no kernel line" ;; esac
has "--ulimit nofile (process.rlimits)" "$out" "nofile=1024"
guest_kernel=$(echo "$out" | sed -n 's/.*kernel=\([^ ]*\).*/\1/p')
has "-v volume read" "$out" "hello"
check "-v volume write seen on the host" "$(cat "$T"/data/out 2>/dev/null)" written
has "-i stdin checksum" "$out" "$want_sum"

# Exit codes: killed by SIGKILL (137), missing binary (127).
pm run --rm "${RUNOPTS[@]}" localhost/nook-oci-bb sh -c 'kill -9 $$' >/dev/null 2>&1
check "kill -9 \$\$ exits 137" "$?" 137
pm run --rm "${RUNOPTS[@]}" localhost/nook-oci-bb /no/such/binary >/dev/null 2>&1
check "missing binary exits 127" "$?" 127

# run -d + stop: SIGTERM reaches the workload's trap well before podman's 10 s SIGKILL.
id=$(pm run -d "${RUNOPTS[@]}" localhost/nook-oci-bb sh -c 'trap "echo got-term; exit 0" TERM; echo up; while :; do sleep 1; done')
for _ in $(seq 60); do pm logs "$id" 2>/dev/null | grep -q up && break; sleep 1; done
has "run -d: ps lists it" "$(pm ps --format '{{.ID}}' --no-trunc)" "$id"
echo "# create took $(cat /run/nook-oci/"$id"/create_ms 2>/dev/null) ms, start $(cat /run/nook-oci/"$id"/start_ms 2>/dev/null) ms"
# exec runs in the VM: the guest's kernel, its own exit code, stdin, user and workdir.
check "exec uname -r is the guest kernel" "$(pm exec "$id" uname -r 2>&1)" "$guest_kernel"
pm exec "$id" sh -c 'exit 5' >/dev/null 2>&1
check "exec exits with its own code 5" "$?" 5
check "exec -i stdin" "$(echo piped | pm exec -i "$id" cat 2>&1)" piped
check "exec -u 1000 -w /tmp" "$(pm exec -u 1000 -w /tmp "$id" sh -c 'echo $(id -u) $(pwd)' 2>&1)" "1000 /tmp"
pm exec "$id" /no/such/binary >/dev/null 2>&1
check "exec of a missing binary exits 127" "$?" 127
# (the guest kernel has no /proc/sys: podman's /proc/irq and /sys/firmware are there)
has "readonlyPaths: /proc/irq is read-only" "$(pm exec "$id" grep ' /proc/irq ' /proc/mounts 2>&1)" " ro,"
check "maskedPaths: /sys/firmware is empty" "$(pm exec "$id" sh -c 'ls /sys/firmware | wc -l' 2>&1)" 0
out=$(OCI_TTY_RESIZE=MARK python3 "$(dirname "$0")"/oci_tty.py podman --root "$T/storage" --runroot "$T/runroot" --storage-driver vfs \
	--cgroup-manager cgroupfs --events-backend file --runtime "$OCI" exec -it "$id" sh -c 'tty; stty size; echo MARK; read x; stty size; exit 4' 2>&1); rc=$?
check "exec -t exits with its code 4" "$rc" 4
has "exec -t: a pty in the guest" "$out" "/dev/pts/"
has "exec -t: window size forwarded" "$out" "37 101"
has "exec -t: a resize reaches the process" "$out" "40 120"
# [exec block] An exec that never reads its stdin, fed 10 MiB, stops only its own stream
# (credit, vmm/run_proto.h): other execs still run, and the stop below still works.
head -c 10485760 /dev/zero | pm exec -i "$id" sleep 600 >/dev/null 2>&1 &
stall=$!
sleep 5	# its pipe, the init's buffer for it and its credit fill up
check "exec runs while another exec's stdin is full" "$(timeout 60 podman --root "$T/storage" --runroot "$T/runroot" --storage-driver vfs \
	--cgroup-manager cgroupfs --events-backend file --runtime "$OCI" exec "$id" echo alive 2>&1)" alive
# [end exec block]
t0=$(date +%s.%N)
pm stop "$id" >/dev/null 2>&1
t=$(echo "$(date +%s.%N) - $t0" | bc)
echo "# podman stop took ${t} s"
check "stop ends by SIGTERM under 8 s" "$(echo "$t < 8" | bc)" 1
has "logs show the trap ran" "$(pm logs "$id" 2>&1)" "got-term"
# [exec block] the stalled exec ended with its container
for _ in $(seq 30); do kill -0 "$stall" 2>/dev/null || break; sleep 1; done
if kill -0 "$stall" 2>/dev/null; then bad "the stalled exec ends with the container"; kill "$stall"; else ok "the stalled exec ends with the container"; fi
pm rm "$id" >/dev/null 2>&1; check "rm" "$?" 0

# run -t: the pty master goes to conmon over --console-socket; the workload gets the
# guest's console (hvc0) as its terminal, with the harness's size.
out=$(OCI_TTY_RESIZE=MARK python3 "$(dirname "$0")"/oci_tty.py podman --root "$T/storage" --runroot "$T/runroot" --storage-driver vfs \
	--cgroup-manager cgroupfs --events-backend file --runtime "$OCI" run -it --rm "${RUNOPTS[@]}" \
	localhost/nook-oci-bb sh -c 'tty; stty size; echo MARK; read x; stty size; exit 7' 2>&1); rc=$?
check "run -t exits with the workload's code 7" "$rc" 7
has "run -t: a terminal in the guest" "$out" "/dev/hvc0"
has "run -t: window size forwarded" "$out" "37 101"
has "run -t: a resize reaches the workload" "$out" "40 120"

# --- confinement and resources (cgroups, network) ---
# One run on podman's default network (not --network none: the container must still
# start, with loopback only) and --memory 256m --cpus 1: the VMM is in podman's cgroup,
# which holds the limits; the guest gets 256 MiB minus the VMM's 64 MiB headroom.
# --cap-drop ALL --cap-add CHOWN --cap-add NET_RAW: the workload and an exec get exactly those.
id=$(pm run -d --memory 256m --cpus 1 --cap-drop ALL --cap-add CHOWN --cap-add NET_RAW --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
	localhost/nook-oci-bb sleep 600 2>&1); rc=$?
check "run -d on the default network starts" "$rc" 0
vmm=$(pm inspect -f '{{.State.Pid}}' "$id" 2>/dev/null)
cg=$(grep -m1 '^[0-9]*:memory:' /proc/"$vmm"/cgroup 2>/dev/null | cut -d: -f3)
[ -n "$cg" ] || cg=$(grep -m1 '^0::' /proc/"$vmm"/cgroup 2>/dev/null | cut -d: -f3)
has "the VMM is in podman's cgroup" "$cg" "libpod-$id"
if [ -d /sys/fs/cgroup/memory ]; then
	lim=$(cat /sys/fs/cgroup/memory"$cg"/memory.limit_in_bytes 2>/dev/null)
	quota=$(cat /sys/fs/cgroup/cpu"$cg"/cpu.cfs_quota_us 2>/dev/null)
else
	lim=$(cat /sys/fs/cgroup"$cg"/memory.max 2>/dev/null)
	quota=$(cut -d' ' -f1 /sys/fs/cgroup"$cg"/cpu.max 2>/dev/null)
fi
check "the cgroup's memory limit is podman's 256 MiB" "$lim" 268435456
check "the cgroup's CPU quota is one CPU" "$quota" 100000
memtotal=$(pm exec "$id" sh -c 'while read k v u; do [ "$k" = MemTotal: ] && echo $v; done < /proc/meminfo' 2>&1)
echo "# guest MemTotal under --memory 256m: ${memtotal} kB"
check "the guest has 192 MiB (256 minus headroom)" "$([ "${memtotal:-0}" -gt 150000 ] 2>/dev/null && [ "$memtotal" -le 196608 ] && echo yes)" yes
check "loopback is up in the guest (IFF_UP|IFF_LOOPBACK)" "$(pm exec "$id" cat /sys/class/net/lo/flags 2>&1)" 0x9
caps='for p in /proc/[0-9]*; do read n < $p/comm; [ "$n" = sleep ] && while read k v; do
	case $k in CapEff:|CapBnd:) printf "%s%s " $k $v;; esac; done < $p/status; done'
check "the workload has the spec's capabilities (under podman's default seccomp profile)" "$(pm exec "$id" sh -c "$caps" 2>&1)" \
	"CapEff:0000000000002001 CapBnd:0000000000002001 "
check "an exec has them too" "$(pm exec "$id" sh -c 'while read k v; do case $k in CapEff:|CapBnd:) printf "%s%s " $k $v;; esac; done < /proc/self/status' 2>&1)" \
	"CapEff:0000000000002001 CapBnd:0000000000002001 "
# podman's default profile answers what it does not allow with ENOSYS (defaultErrnoRet 38);
# the guest kernel has personality(), allowed below under the mkdir-only profile.
has "podman's default seccomp profile denies personality(ADDR_NO_RANDOMIZE)" "$(pm exec "$id" personality 2>&1)" \
	"personality=Function not implemented"
pm rm -f "$id" >/dev/null 2>&1; check "rm -f" "$?" 0
check "delete removed the container's cgroup" "$(ls -d /sys/fs/cgroup/memory"$cg" /sys/fs/cgroup"$cg" 2>/dev/null | grep -c "libpod-$id")" 0
out=$(pm run --rm --memory 100m "${RUNOPTS[@]}" localhost/nook-oci-bb true 2>&1); rc=$?
check "a memory limit below guest + headroom fails" "$([ "$rc" -ne 0 ] && echo yes)" yes
has "... with one clear error" "$out" "a VM needs at least 192 MiB"
# A tiny seccomp profile denying mkdir with EPERM: it fails inside the container.
echo '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}' > "$T"/deny-mkdir.json
out=$(pm run --rm "${RUNOPTS[@]}" --security-opt seccomp="$T"/deny-mkdir.json localhost/nook-oci-bb \
	sh -c 'mkdir /tmp/x; echo "rc=$?"; personality' 2>&1)
if grep -q '^CONFIG_SECCOMP_FILTER=y' "$B"/guest/config 2>/dev/null; then
	has "seccomp: the denied mkdir fails" "$out" "rc=1"
	has "seccomp: ... with EPERM" "$out" "Operation not permitted"
	has "seccomp: what the profile allows still runs (personality)" "$out" "personality=allowed"
else
	# The guest kernel has no CONFIG_SECCOMP: the init skips the profile (README).
	has "seccomp: without guest kernel support the profile is skipped, the container runs" "$out" "rc=0"
fi

pm rmi -f localhost/nook-oci-bb >/dev/null 2>&1
rm -rf "$T"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
