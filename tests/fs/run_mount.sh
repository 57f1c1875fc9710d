#!/bin/sh
# Runs the file-system semantics suite natively, then through `nook fs serve` mounts.
#
#   tests/fs/run_mount.sh [--native-only] NOOK FS_TESTS [OPTS...]
#
# Each OPTS word is one -o option set: one mount and one full suite run per set.
# Layout (see tests/fs/test_escape.c for why the mount and the share have different parents):
#   $T/native         native run
#   $T/s/src          shared directory        $T/s/canary   must stay untouched
#   $T/m/mnt          mount point             ($T/m/canary must never exist)
# Exit status: 0 only if every run passed, the mount went away after SIGTERM, and the
# canary and the directories around the share are exactly as before.
set -u

native_only=0
if [ "${1:-}" = --native-only ]; then native_only=1; shift; fi
[ $# -ge 2 ] || { echo "usage: $0 [--native-only] NOOK FS_TESTS [OPTS...]" >&2; exit 2; }
nook=$(realpath "$1"); tests=$(realpath "$2"); shift 2
jobs=${FS_TEST_JOBS:-2}
# A hung mount must end the run, not the CI job: each suite run is bounded.
limit=${FS_TEST_TIMEOUT:-600}

T=$(mktemp -d /tmp/nook-fstest.XXXXXX) || exit 1
chmod 755 "$T"
server=
fail=0

mounted() { awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo; }

stop_server() {
	[ -n "$server" ] || return 0
	kill -TERM "$server" 2>/dev/null
	# Bounded wait for the server to exit (it unmounts on SIGTERM).
	i=0
	while kill -0 "$server" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$server" 2>/dev/null; then
		echo "check-fuse: server $server ignored SIGTERM for 10 s; killing it" >&2
		kill -KILL "$server" 2>/dev/null
		fail=1
	fi
	wait "$server" 2>/dev/null
	rc=$?
	server=
	return $rc
}

# FUSE over io_uring needs the fuse module's enable_uring parameter: a set that asks
# for io_uring turns it on for its run (as root, where the kernel has it), and the
# original value comes back afterwards.
uring_param=/sys/module/fuse/parameters/enable_uring
uring_saved=
uring_on() {
	[ -w "$uring_param" ] || return 1
	[ -n "$uring_saved" ] || uring_saved=$(cat "$uring_param")
	echo Y > "$uring_param"
}
uring_restore() {
	[ -n "$uring_saved" ] && echo "$uring_saved" > "$uring_param"
	uring_saved=
}

cleanup() {
	stop_server
	uring_restore
	if mounted "$T/m/mnt"; then umount -l "$T/m/mnt" 2>/dev/null; fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

snapshot() {
	# Everything except atime, for the canary and the directories around the share.
	find "$T/s/canary" -printf '%p %M %U:%G %s %T@ %C@ %n\n' | sort
	ls -a "$T/s" "$T/m"
	stat -c '%n %Y %Z %h' "$T/s" "$T/m"
}

mkdir -p "$T/native" "$T/s/src" "$T/s/canary/sub" "$T/m/mnt" || exit 1
chmod 755 "$T/native" "$T/s" "$T/s/src" "$T/m" "$T/m/mnt"
echo victim > "$T/s/canary/victim"
echo nested > "$T/s/canary/sub/file"
snapshot > "$T/canary.before"

echo "check-fuse: native run in $T/native"
if ! NOOK_FS_TEST_DIR="$T/native" timeout -k 10 "$limit" "$tests" --jobs "$jobs"; then
	echo "check-fuse: FAILED natively: the tests themselves are wrong" >&2
	exit 1
fi
[ $native_only = 1 ] && exit 0

for opts in "$@"; do
	echo "check-fuse: nook fs serve -o $opts"
	: > "$T/server.log"
	uring=0
	case ",$opts," in
	*,io_uring,*)
		if uring_on; then uring=1; else
			echo "check-fuse: this kernel has no FUSE io_uring; the set runs over /dev/fuse"
		fi;;
	esac
	# The server's messages go to a log (read below), shown once it has stopped.
	NOOK_LOG=info "$nook" fs serve "$T/s/src" "$T/m/mnt" -o "$opts" 2>> "$T/server.log" &
	server=$!
	i=0
	while ! mounted "$T/m/mnt" && kill -0 "$server" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	if ! mounted "$T/m/mnt"; then
		echo "check-fuse: no mount at $T/m/mnt after 10 s (-o $opts)" >&2
		fail=1
		stop_server
		sed 's/^/  server: /' "$T/server.log" >&2
		continue
	fi
	# The server says at INIT whether the kernel passes file data through; the first
	# access waits for INIT. Where this kernel has passthrough and the options leave it
	# on, it must be on: a silent fallback would skip the passthrough tests.
	stat "$T/m/mnt" > /dev/null
	pt=0
	for _ in $(seq 20); do
		grep -q "kernel passthrough of file data on" "$T/server.log" && { pt=1; break; }
		sleep 0.05
	done
	echo "check-fuse: kernel passthrough $([ $pt = 1 ] && echo on || echo off)"
	case ",$opts," in
	*,no_passthrough,*|*,writeback,*|*,flock,*) ;;
	*)	if [ $pt = 0 ] && [ "$(id -u)" = 0 ] &&
		   zcat /proc/config.gz 2>/dev/null | grep -q '^CONFIG_FUSE_PASSTHROUGH=y'; then
			echo "check-fuse: this kernel has passthrough, but it is off (-o $opts)" >&2
			fail=1
		fi;;
	esac
	if [ $uring = 1 ]; then
		if grep -q "requests over io_uring" "$T/server.log"; then
			echo "check-fuse: requests over io_uring"
		else
			echo "check-fuse: io_uring is enabled, but the server did not take it (-o $opts)" >&2
			fail=1
		fi
	fi
	if ! NOOK_FS_TEST_DIR="$T/m/mnt" NOOK_FS_SHARE_SRC="$T/s/src" NOOK_FS_MOUNT_OPTS="$opts" \
	     NOOK_FS_PASSTHROUGH=$pt NOOK_FS_CANARY="$T/s/canary" \
	     timeout -k 10 "$limit" "$tests" --jobs "$jobs"; then
		echo "check-fuse: FAILED (or timed out after ${limit}s) through the mount (-o $opts)" >&2
		fail=1
	fi
	if ! stop_server; then
		echo "check-fuse: server exited with an error after SIGTERM (-o $opts)" >&2
		fail=1
	fi
	sed 's/^/  server: /' "$T/server.log" >&2
	uring_restore
	if mounted "$T/m/mnt"; then
		echo "check-fuse: $T/m/mnt still mounted after the server exited" >&2
		umount -l "$T/m/mnt"
		fail=1
	fi
	# The suite removes what it made; leftovers in the share would hide the next run's bugs.
	rm -rf "$T/s/src" && mkdir -m 755 "$T/s/src"
	snapshot > "$T/canary.after"
	# Recreating src changes $T/s's times: compare only the canary and the listings.
	if ! grep -v "^$T/s " "$T/canary.before" > "$T/b" ||
	   ! grep -v "^$T/s " "$T/canary.after" > "$T/a" || ! cmp -s "$T/b" "$T/a"; then
		echo "check-fuse: something outside the share changed (-o $opts):" >&2
		diff "$T/b" "$T/a" >&2
		fail=1
	fi
done
[ $fail = 0 ] && echo "check-fuse: all runs passed"
exit $fail
