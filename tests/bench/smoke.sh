#!/usr/bin/env bash
# The benchmark works (part of tests/all.sh): tests/bench/run.sh --quick, shrunk to about two minutes, must
# finish, measure every target and every point of the concurrency sweep, find every acknowledged request in
# the database and print its table, sweep, ratios and targets; profile mode must count the worker's instructions and PostgreSQL's time per statement.
# Checks that the figures exist and add up, never how high they are: timings are reported, not asserted.
# Prints TAP.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

out=tests/out
mkdir -p "$out"
table=$out/bench-smoke.txt
profile=$out/bench-smoke-profile.txt
n=0
fails=0
check() { # check DESCRIPTION COMMAND...
	local d=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - bench: $d"
	else
		echo "not ok $n - bench: $d"
		fails=$((fails + 1))
	fi
}

rm -f "$table" "$profile"
BENCH_OUT=$table BENCH_SECONDS=2 BENCH_ROUNDS=1 BENCH_GROWTH_ROWS=20000 BENCH_RSS_REQUESTS=2000 \
	BENCH_BIG_SECONDS=2 BENCH_SWEEP="1 8 32 128" BENCH_SWEEP_SECONDS=1 BENCH_RETRIES=0 BENCH_TIMEOUT=400 bash tests/bench/run.sh --quick >"$out/bench-smoke.log" 2>&1
rc=$?
check "run.sh --quick finishes with status 0" [ "$rc" = 0 ]
[ "$rc" = 0 ] || tail -n 30 "$out/bench-smoke.log" | sed 's/^/# /'

# row LABEL: the table line of a target
row() { grep -F -- "$1" "$table" 2>/dev/null | grep -E '^(nginx|pgbench)' | head -n 1; }
# measured LABEL: its req/s is a positive number and its CPU columns are there
measured() {
	local line
	line=$(row "$1")
	[ -n "$line" ] && awk -v l="$1" '{ $0 = substr($0, index($0, l) + length(l)) } $1 ~ /^[0-9]+$/ && $1 > 0 && NF >= 10 { ok = 1 }
		END { exit !ok }' <<<"${line/(same requests)/}"
}
# all_stored LABEL: stored/acked shows the same count twice, and more than zero
all_stored() {
	local pair
	pair=$(row "$1" | grep -oE '[0-9]+/[0-9]+' | head -n 1)
	[ -n "$pair" ] && [ "${pair%/*}" = "${pair#*/}" ] && [ "${pair%/*}" -gt 0 ]
}

for label in "nginx return 200" "nginx → baseline.c (1 INSERT)" "nginx → callhook " "nginx → callhook, keep_conn off" \
	"pgbench callhook.ingest()" "pgbench ingest(), known calls" "pgbench single INSERT" \
	"pgbench plain INSERTs of its rows" "nginx → callhook, existing calls" "nginx → callhook, big bodies"; do
	check "measures '${label% }'" measured "$label"
done
for label in "nginx → baseline.c (1 INSERT)" "nginx → callhook " "pgbench callhook.ingest()" \
	"pgbench ingest(), known calls" "pgbench plain INSERTs of its rows" "nginx → callhook, existing calls" \
	"nginx → callhook, big bodies"; do
	check "every acknowledged request of '${label% }' is in the database" all_stored "$label"
done
# swept CONNS: the sweep line of CONNS connections has callhook's and the baseline's req/s, p50 and p99, their
# ratio, and for each as many rows stored as requests acknowledged (more than zero)
swept() {
	grep -qE "^sweep +$1 +([0-9]+ +[0-9.]+ +[0-9.]+ +){2}[0-9.]+ +([1-9][0-9]*)/\2, ([1-9][0-9]*)/\3( |\$)" "$table"
}
for conns in 1 8 32 128; do
	check "sweeps callhook and the baseline at $conns connection(s), every acknowledged request stored" swept "$conns"
done
check "prints p50 at 1 connection" grep -qE '^  p50 at 1 connection .* [0-9.]+ ms' "$table"
check "prints the ratios to pgbench and to the baseline" \
	grep -qE '^ratios: callhook/pgbench-ingest = [0-9.]+, callhook/baseline = [0-9.]+' "$table"
check "sets callhook's PostgreSQL CPU per delivery against the plain INSERTs of its rows" \
	grep -qE '^PostgreSQL CPU per delivery: callhook [0-9]+ µs; .* inserted plainly, 8 per transaction, [0-9]+ µs, [0-9.]+ of it' "$table"
check "reads the workers' RSS twice" grep -qE '^ +after [0-9]+ more .*[0-9]+:[0-9]+:[0-9]+' "$table"
check "prints WAL per request" grep -qE '^WAL per request .*nginx → callhook [0-9]+' "$table"
check "reports every target as met or MISSED" \
	bash -c '[ "$(grep -cE "(met|MISSED)" "$1")" -ge 5 ]' _ "$table"

BENCH_PROFILE_OUT=$profile BENCH_PROFILE_REQUESTS=300 BENCH_SECONDS=2 BENCH_TIMEOUT=300 \
	bash tests/bench/run.sh profile >"$out/bench-smoke-profile.log" 2>&1
rc=$?
check "run.sh profile finishes with status 0" [ "$rc" = 0 ]
[ "$rc" = 0 ] || tail -n 30 "$out/bench-smoke-profile.log" | sed 's/^/# /'
check "profile counts the worker's instructions per request" \
	grep -qE 'total Ir [0-9]+ = [0-9]+ instructions per request' "$profile"
check "profile shows PostgreSQL's time in callhook.ingest or ingest_batch" grep -qE 'callhook\.ingest(_batch)? +[0-9]+ calls' "$profile"

echo "1..$n"
[ "$fails" = 0 ]
