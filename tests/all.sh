#!/usr/bin/env bash
# The one test command: install dependencies, build with -Werror, run the unit tests, the layer and format
# checks, the SQL tests and every integration test. Each component's output is echoed and kept in
# tests/out/<name>.log. Lines starting with "ok " pass and "not ok " fail; a component that exits non-zero
# without a "not ok" line counts as one failure named after it. Ends with "N passed, M failed" and exits
# non-zero when M > 0.
# Environment: CALLHOOK_SKIP_DEPS=1 skips deploy/install-deps.sh; CALLHOOK_TEST_TIMEOUT (seconds a component
# may take, default 600).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

out=tests/out
mkdir -p "$out"
rm -f "$out"/*.log
passed=0
failed=0
limit=${CALLHOOK_TEST_TIMEOUT:-600}

# component NAME COMMAND...: run COMMAND (bounded), echo and keep its output, count its TAP lines.
component() {
	local name=$1 log=$out/$1.log rc p f
	shift
	echo "=== $name"
	timeout -k 10 "$limit" "$@" </dev/null 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		if [ "$rc" -eq 124 ]; then
			echo "not ok - $name did not finish within ${limit}s" | tee -a "$log"
		else
			echo "not ok - $name exited with status $rc" | tee -a "$log"
		fi
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	return "$rc"
}

# not_run NAME REASON: a component that could not run counts as one failure.
not_run() {
	echo "=== $1"
	echo "not ok - $1: $2" | tee "$out/$1.log"
	failed=$((failed + 1))
}

if [ "${CALLHOOK_SKIP_DEPS:-0}" != 1 ]; then
	component install-deps bash deploy/install-deps.sh --test
fi
# `make check TESTS=` builds the check programs (./test-unit) without running them: they run below.
component build sh -c 'autoreconf -fi && ./configure -q --enable-werror && make -j2 && make -j2 check TESTS='

if [ -x ./test-unit ]; then
	component unit ./test-unit
else
	not_run unit "./test-unit was not built"
fi
# No file includes a header of a higher layer and no modules depend on each other; and that check can fail.
component layers bash tests/layers.sh
component layers-self-test bash tests/test_layers.sh
# The C sources are laid out as .clang-format says.
component format bash tests/format.sh
if [ -f tests/sql/test_ingest.sh ]; then
	component sql-ingest bash tests/sql/test_ingest.sh
fi
for t in tests/integration/*.sh; do
	[ -f "$t" ] || continue
	component "$(basename "$t" .sh)" bash "$t"
done

# The benchmark runs end to end, shrunk to about two minutes (its figures are reported, never asserted).
component bench bash tests/bench/smoke.sh

# The release tarball builds and passes its own checks (make distcheck).
component distcheck sh -c 'make -s distcheck >tests/out/distcheck.full.log 2>&1 && echo "ok - make distcheck" || { tail -n 30 tests/out/distcheck.full.log; echo "not ok - make distcheck"; }'

# Hostile input under the sanitizers, the fuzzers for a bounded time, and valgrind on the integration tests.
component fuzz bash tests/fuzz/run.sh "${FUZZ_SECONDS:-30}"
limit=1800 component sanitizers bash tests/sanitizers.sh
limit=1200 component valgrind bash tests/valgrind.sh

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
