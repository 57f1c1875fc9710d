#!/bin/bash
# fstests (xfstests) on `nook fs serve` mounts: `make check-xfstests`.
#
#   tests/xfstests/run.sh NOOK FSTESTS_DIR WORK_DIR [PASS...]
#
# NOOK is the nook binary, FSTESTS_DIR an fstests tree built by tests/xfstests/xfstests.mk,
# WORK_DIR a scratch directory (images, mount points, results). Each PASS is
# NAME=NOOK_OPTIONS[@GROUPS] (default: "defaults=", "no_passthrough=no_passthrough" and
# "posix_acl=posix_acl@acl");
# a pass runs `./check -g GROUPS` (GROUPS: fstests groups, comma-separated; default
# XFSTESTS_GROUP, i.e. quick) with FSTYP=fuse and FUSE_SUBTYP=.nook, so fstests mounts
# through `mount -t fuse.nook SRC DIR`, i.e. our helper tests/xfstests/mount.fuse.nook
# (installed as /sbin/mount.fuse.nook for the run). Each source is the root of its own
# loop-mounted ext4 image, made fresh for each pass (generic/103 fills the disk; the
# images are sparse files). As any root mount, the helper's mounts allow device nodes
# and set-id programs (fstests runs both on the mount, as ext4 allows).
#
# Prints one line per pass and the failed tests, then one summary line over all passes
# ("ran R, failed F, not run N"); exits 1
# when any pass failed a test or could not run. Tests listed in tests/xfstests/exclude
# (each with its reason) are not run (XFSTESTS_NO_EXCLUDE=1: run them too). XFSTESTS_GROUP (default quick) and XFSTESTS_TESTS
# (explicit test names instead of a group) narrow a run; XFSTESTS_TIMEOUT bounds a pass
# (seconds, default 2400).
set -u
[ $# -ge 3 ] || { echo "usage: $0 NOOK FSTESTS_DIR WORK_DIR [NAME=OPTS...]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "check-xfstests: needs root (loop mounts, FUSE mounts, users)" >&2; exit 1; }
nook=$(realpath "$1"); fst=$(realpath "$2"); W=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- defaults= no_passthrough=no_passthrough posix_acl=posix_acl@acl
group=${XFSTESTS_GROUP:-quick}
limit=${XFSTESTS_TIMEOUT:-2400}
helper=/sbin/mount.fuse.nook

mkdir -p "$W" && W=$(realpath "$W") || exit 1
# fstests reads results and its config through paths it builds itself: keep ours short
# and free of spaces.
case $W in *' '*) echo "check-xfstests: work directory path has a space: $W" >&2; exit 1 ;; esac

mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }

# Unmounts everything of ours below $W, FUSE mounts first (their servers then exit).
teardown() {
	local m
	for m in test scratch; do
		while mounted "$W/mnt/$m"; do umount "$W/mnt/$m" 2>/dev/null || umount -l "$W/mnt/$m" || break; done
	done
	for m in test scratch; do
		while mounted "$W/dev/$m"; do umount "$W/dev/$m" 2>/dev/null || umount -l "$W/dev/$m" || break; done
	done
}
installed_helper=0
cleanup() {
	teardown
	[ $installed_helper = 1 ] && rm -f "$helper"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One run at a time: the mounts' names (nook-test, nook-scratch) and the helper are global.
if awk '$1 == "nook-test" || $1 == "nook-scratch" { f = 1 } END { exit !f }' /proc/self/mounts; then
	echo "check-xfstests: nook-test/nook-scratch are mounted: another check-xfstests runs (or left them)" >&2
	exit 1
fi

# The users fstests runs commands as (_require_user, _require_user 123456-fsgqa).
for u in fsgqa fsgqa2 123456-fsgqa; do
	if ! id "$u" > /dev/null 2>&1; then
		useradd -m -U -s /bin/bash "$u" || { echo "check-xfstests: cannot create user $u" >&2; exit 1; }
	fi
done

# mount(8) only looks for helpers in /sbin: a wrapper there points at this tree's files.
if [ -e "$helper" ] && ! grep -q 'nook check-xfstests' "$helper" 2>/dev/null; then
	echo "check-xfstests: $helper exists and is not ours; not replacing it" >&2
	exit 1
fi
cat > "$helper" <<EOF
#!/bin/sh
# nook check-xfstests: the fuse.nook mount helper of $here (removed after the run)
NOOK=$nook NOOK_LOG_DIR=$W/log exec $here/mount.fuse.nook "\$@"
EOF
chmod 755 "$helper"
installed_helper=1

# Excluded tests of one pass: lines "TEST PASSES REASON", PASSES "all" or a comma list.
exclusions() {
	sed -e 's/#.*//' "$here/exclude" | awk -v p="$1" 'NF >= 2 {
		n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == "all" || a[i] == p) { print $1; break } }'
}

fail=0
all_ran=0 all_failed=0 all_notrun=0
total_start=$(date +%s)
for pass in "$@"; do
	name=${pass%%=*}; opts=${pass#*=}
	# NAME=OPTS@GROUPS: this pass runs those groups instead of $group (the posix_acl pass
	# runs -g acl only: the rest of quick does not look at ACLs and costs minutes).
	pgroup=$group
	case $opts in *@*) pgroup=${opts#*@}; opts=${opts%%@*} ;; esac
	mopts=${opts:+,$opts}
	teardown
	rm -rf "$W/dev" "$W/mnt" "$W/log" "$W/img"
	mkdir -p "$W/dev/test" "$W/dev/scratch" "$W/mnt/test" "$W/mnt/scratch" "$W/log" "$W/img" \
		"$W/results/$name" || exit 1
	for m in test scratch; do
		truncate -s 8G "$W/img/$m.img" && mkfs.ext4 -q -F "$W/img/$m.img" &&
			mount -o loop "$W/img/$m.img" "$W/dev/$m" ||
			{ echo "check-xfstests: cannot make the $m image" >&2; exit 1; }
	done
	cat > "$W/$name.config" <<EOF
# written by tests/xfstests/run.sh for the pass '$name'
export FSTYP=fuse
export FUSE_SUBTYP=.nook
export TEST_DEV=nook-test
export TEST_DIR=$W/mnt/test
export SCRATCH_DEV=nook-scratch
export SCRATCH_MNT=$W/mnt/scratch
export TEST_FS_MOUNT_OPTS="-o source=$W/dev/test$mopts"
export MOUNT_OPTIONS="-o source=$W/dev/scratch$mopts"
export RESULT_BASE=$W/results/$name
EOF
	# XFSTESTS_NO_EXCLUDE=1 runs the excluded tests too (to check that a reason holds).
	if [ -n "${XFSTESTS_NO_EXCLUDE:-}" ]; then : > "$W/$name.exclude"; else exclusions "$name" > "$W/$name.exclude"; fi
	if [ -n "${XFSTESTS_TESTS:-}" ]; then sel=$XFSTESTS_TESTS; else sel="-g $pgroup"; fi
	start=$(date +%s)
	# shellcheck disable=SC2086 # $sel is a list of words
	(cd "$fst" && HOST_OPTIONS=$W/$name.config timeout -k 30 "$limit" \
		./check -E "$W/$name.exclude" $sel) > "$W/$name.log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	# fstests' "Ran:" list holds the tests it did not run too.
	tried=$(sed -n 's/^Ran: //p' "$W/$name.log" | tail -n 1 | wc -w)
	notrun=$(sed -n 's/^Not run: //p' "$W/$name.log" | tail -n 1 | wc -w)
	ran=$((tried - notrun))
	failed=$(sed -n 's/^Failures: //p' "$W/$name.log" | tail -n 1)
	nfailed=$(echo $failed | wc -w)
	all_ran=$((all_ran + ran)) all_failed=$((all_failed + nfailed)) all_notrun=$((all_notrun + notrun))
	echo "check-xfstests: $name (${opts:-no options}; $sel): ran $ran, failed $nfailed, not run $notrun ($(wc -l < "$W/$name.exclude") excluded) in ${secs}s"
	if [ $nfailed -gt 0 ]; then
		echo "check-xfstests: $name failed: $failed (see $W/results/$name/)"
		fail=1
	fi
	if [ $rc -ne 0 ] && [ $nfailed -eq 0 ]; then
		echo "check-xfstests: $name: ./check ended with status $rc; last lines of $W/$name.log:"
		tail -n 15 "$W/$name.log"
		fail=1
	fi
done
# The one summary line, over all passes.
echo "check-xfstests: $# passes: ran $all_ran, failed $all_failed, not run $all_notrun in $(( $(date +%s) - total_start ))s"
exit $fail
