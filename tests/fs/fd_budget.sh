#!/usr/bin/env bash
# The server's fd budget through a real host mount: `nook fs serve -o max_fds=N`, then
# 100 000 files created and kept looked up (each one stat'ed again at the end, so the
# kernel holds every inode). The server must stay under N fds for inodes (plus a fixed
# allowance for its own: /dev/fuse, pipes, eventfds) and every file must stay reachable.
# Then the files are all opened at once: past N open files the client gets ENFILE.
#
#   tests/fs/fd_budget.sh NOOK [FILES] [MAX_FDS]     (needs root)
set -u
nook=$(realpath "$1")
files=${2:-100000}
max=${3:-1000}
allow=64
T=$(mktemp -d /tmp/nook-fdbudget.XXXXXX) || exit 1
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	mountpoint -q "$T/mnt" && umount -l "$T/mnt"
	rm -rf "$T" 2>/dev/null || { sleep 1; rm -rf "$T"; }	# a lazy unmount may still settle
}
trap cleanup EXIT
mkdir -p "$T/src" "$T/mnt"
"$nook" fs serve "$T/src" "$T/mnt" -o "max_fds=$max,cache=always" 2> "$T/server.log" &
pid=$!
for _ in $(seq 100); do mountpoint -q "$T/mnt" && break; sleep 0.1; done
mountpoint -q "$T/mnt" || { echo "fd-budget: FAIL: no mount"; cat "$T/server.log"; exit 1; }

peak=0
fds() { ls "/proc/$pid/fd" | wc -l; }
start=$(date +%s.%N)
for d in $(seq 0 $(( (files - 1) / 1000 ))); do
	mkdir "$T/mnt/d$d"
	( cd "$T/mnt/d$d" && seq -f "f%g" 0 999 | xargs touch ) || { echo "fd-budget: FAIL: creating files"; exit 1; }
	n=$(fds); [ "$n" -gt "$peak" ] && peak=$n
done
# Look every file up again: the kernel keeps them all referenced (cache=always).
seen=$(find "$T/mnt" -type f | wc -l)
n=$(fds); [ "$n" -gt "$peak" ] && peak=$n
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "fd-budget: $seen files, peak $peak server fds (budget $max + $allow), ${secs} s"
fail=0
[ "$seen" -eq "$files" ] || { echo "fd-budget: FAIL: $seen of $files files seen"; fail=1; }
[ "$peak" -le $((max + allow)) ] || { echo "fd-budget: FAIL: $peak fds"; fail=1; }
kill -0 "$pid" || { echo "fd-budget: FAIL: the server died"; cat "$T/server.log"; fail=1; }
# Then open every file at once: past max_fds open files the server answers ENFILE (the
# client sees errno 23), and its fds stay under both budgets.
opened=$(cd "$T/mnt" && python3 -c '
import errno, os, sys
names = [d + "/" + f for d in sorted(os.listdir(".")) for f in os.listdir(d)]
fds = []
for n in names:
        try:
            fds.append(os.open(n, os.O_RDONLY))
        except OSError as e:
            print(len(fds), errno.errorcode.get(e.errno, e.errno))
            sys.stdout.flush()
            os.system("ls /proc/%s/fd | wc -l" % sys.argv[1])
            sys.exit(0)
print(len(fds), "none")
' "$pid")
set -- $opened
echo "fd-budget: opening every file: $1 opened, then $2; server then held $3 fds"
[ "$2" = ENFILE ] && [ "$1" -le "$max" ] || { echo "fd-budget: FAIL: expected ENFILE at $max opens"; fail=1; }
[ "${3:-999999}" -le $((2 * max + allow)) ] || { echo "fd-budget: FAIL: ${3:-?} fds with files open"; fail=1; }
kill -0 "$pid" || { echo "fd-budget: FAIL: the server died"; fail=1; }
# Its teardown frees 100 000 inodes and closes backing ids: it must still exit cleanly
# under its seccomp filter (a kill would be status 159).
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[ "$rc" -eq 0 ] || { echo "fd-budget: FAIL: the server exited with status $rc after SIGTERM"; fail=1; }
[ "$fail" -eq 0 ] && echo "fd-budget: PASS"
exit "$fail"
