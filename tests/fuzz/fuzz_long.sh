#!/bin/sh
# make fuzz-long: runs every libFuzzer target, one at a time, until it has executed
# FUZZ_LONG_RUNS inputs or run FUZZ_LONG_SECONDS, whichever comes first, and prints
# per target: executions, exec/s, coverage (libFuzzer's cov: and ft:) and crashes.
# A crash (or leak, timeout, OOM) fails that target; the others still run, and the
# script exits non-zero if any failed. New corpus entries go to the work directory,
# never into tests/fuzz/corpus (the seeds stay what the generators wrote).
#
# Usage: tests/fuzz/fuzz_long.sh BUILD_DIR FUZZ_BIN...
set -u
build=$1
shift
runs=${FUZZ_LONG_RUNS:-10000000}
secs=${FUZZ_LONG_SECONDS:-3600}
failed=0
summary=""

for f in "$@"; do
	name=$(basename "$f")
	corpus=tests/fuzz/corpus/${name#fuzz_}
	work=$build/fuzz/long-$name
	rm -rf "$work"
	mkdir -p "$work/corpus" "$work/artifacts"
	echo "fuzz-long: $name: up to $runs executions or ${secs}s" >&2
	start=$(date +%s)
	"$f" -runs="$runs" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 \
	     -timeout=60 -artifact_prefix="$work/artifacts/" "$work/corpus" "$corpus" \
	     > "$work.log" 2>&1
	rc=$?
	elapsed=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work.log")
	# The last status line ("#N DONE cov: X ft: Y ..." or the last pulse before a crash).
	last=$(grep -E '^#[0-9]+.*cov: ' "$work.log" | tail -n 1)
	cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	crashes=$(find "$work/artifacts" -type f | wc -l)
	status=ok
	if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
		status=FAIL
		failed=1
		tail -n 40 "$work.log" >&2
		find "$work/artifacts" -type f >&2
	fi
	line=$(printf '%-20s execs %-9s exec/s %-7s time %5ss  cov %-5s ft %-6s crashes %s  %s' \
		"$name" "${execs:-?}" "${rate:-?}" "$elapsed" "${cov:-?}" "${ft:-?}" "$crashes" \
		"$status")
	echo "$line"
	summary="$summary$line
"
done
echo "fuzz-long summary (runs=$runs seconds=$secs):"
printf '%s' "$summary"
exit $failed
