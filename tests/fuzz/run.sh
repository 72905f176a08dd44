#!/usr/bin/env bash
# Runs every fuzz harness for a bounded time, seeded from the golden fixtures (and
# tests/fuzz/seeds/<harness>/ where a harness has seeds of its own),
# after replaying the saved crash regressions. Prints one TAP line per harness.
# Usage: tests/fuzz/run.sh [SECONDS_EACH]   (run from a configured build tree)
set -u
secs=${1:-${FUZZ_SECONDS:-20}}
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_OUT:-$src/tests/out/fuzz}
mkdir -p "$out"
n=0

make -s fuzz >"$out/build.log" 2>&1 || { echo "not ok 1 - make fuzz (see $out/build.log)"; exit 1; }

# A libFuzzer dictionary from the JSON keys and form names the fixtures use.
make_dict() {
	local dir=$1
	{
		cat "$dir"/*.body 2>/dev/null | grep -aoE '"[A-Za-z0-9_.]{2,40}"[[:space:]]*:' | sed -E 's/[[:space:]]*:$//' | sort -u |
			sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/"/'
		cat "$dir"/*.body 2>/dev/null | grep -aoE '(^|&)[A-Za-z0-9_.]{2,40}=' | sed -E 's/^&//' | sort -u |
			sed -e 's/^/"/' -e 's/$/"/'
	} | sort -u
}

run_one() {
	local name=$1 seeds=$2 bin="tests/fuzz/$1" corpus="$out/$1/corpus" log="$out/$1.log"
	mkdir -p "$corpus" "$out/$1/crashes"
	[ -n "$seeds" ] && cp "$seeds"/*.body "$corpus"/ 2>/dev/null
	local dictarg=()
	if [ -n "$seeds" ]; then
		make_dict "$seeds" >"$out/$1.dict"
		[ -s "$out/$1.dict" ] && dictarg=(-dict="$out/$1.dict")
	fi
	local reg="$src/tests/fuzz/regressions/$1"
	if [ -d "$reg" ] && ls "$reg"/* >/dev/null 2>&1; then
		if ! "$bin" "$reg"/* >"$out/$1.regressions.log" 2>&1; then
			echo "FAIL regressions"
			return
		fi
	fi
	"$bin" "${dictarg[@]}" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=1024 \
		-print_final_stats=1 -artifact_prefix="$out/$1/crashes/" "$corpus" >"$log" 2>&1
	local rc=$?
	local execs
	execs=$(grep -a 'stat::number_of_executed_units' "$log" | awk '{print $2}')
	echo "$rc ${execs:-0}"
}

results=()
for t in callrail calltracker salpre callscaler fonedynamics; do
	results+=("fuzz_decode_$t:$src/tests/fixtures/$t")
done
results+=("fuzz_form:$src/tests/fixtures/fonedynamics" "fuzz_config:" "fuzz_request:")
results+=("fuzz_json_strict:$src/tests/fuzz/seeds/json_strict")

# Two at a time: the machine has two cores.
pids=()
for entry in "${results[@]}"; do
	name=${entry%%:*}
	seeds=${entry#*:}
	[ -d "$seeds" ] || seeds=""
	run_one "$name" "$seeds" >"$out/$name.result" &
	pids+=($!)
	if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
wait

for entry in "${results[@]}"; do
	name=${entry%%:*}
	n=$((n + 1))
	read -r rc execs <"$out/$name.result"
	if [ "$rc" = "FAIL" ]; then
		echo "not ok $n - $name: a saved crash regression fails again (see $out/$name.regressions.log)"
	elif [ "$rc" = "0" ]; then
		echo "ok $n - $name: $execs executions in ${secs}s, no crash"
	else
		echo "not ok $n - $name: crashed after $execs executions (artifact in $out/$name/crashes/, log $out/$name.log)"
	fi
done
