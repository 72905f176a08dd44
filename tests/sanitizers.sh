#!/usr/bin/env bash
# The suite again against an AddressSanitizer + UndefinedBehaviorSanitizer build: unit tests and the
# integration tests through nginx and PostgreSQL. Any sanitizer report fails the run.
#
# Usage: tests/sanitizers.sh [TEST...], each TEST "NAME [ARGUMENTS]" of tests/integration/NAME.sh (default:
# golden http spool routing permutations faults hostile secrets privilege dbwait forget partitions batch replay); the unit tests always run. The build
# is tests/out/asan/src; the reports are written where callhook (nobody, when run as root) can write wherever
# the clone is: a temporary directory under /tmp, copied to tests/out/asan/logs.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
repo=$PWD
dir=$repo/tests/out/asan
rm -rf "$dir"
mkdir -p "$dir/src" "$dir/logs"
n=0
tap() { n=$((n + 1)); echo "$1 $n - $2"; }
logs=$(mktemp -d /tmp/callhook-asan.XXXXXX) || { tap "not ok" "a temporary directory for the reports"; exit 1; }
trap 'rm -rf "$logs"' EXIT
chmod 1777 "$logs"
[ $# -gt 0 ] || set -- golden http spool routing permutations faults hostile secrets privilege dbwait forget partitions batch replay

# safe.directory: under sudo, root copies a clone that another user owns (git refuses such a repository).
git -c safe.directory="$repo" ls-files -z | tar --null -T - -cf - | tar -xf - -C "$dir/src"
if ! (cd "$dir/src" && autoreconf -fi && ./configure -q --enable-sanitizers --enable-werror &&
	make -j2 && make -j2 check TESTS=) >"$dir/build.log" 2>&1; then
	tap "not ok" "sanitizer build (see $dir/build.log)"
	exit 1
fi
tap ok "sanitizer build"

export ASAN_OPTIONS="log_path=$logs/asan:detect_leaks=1:halt_on_error=1"
export UBSAN_OPTIONS="log_path=$logs/ubsan:print_stacktrace=1:halt_on_error=1"
export CALLHOOK=$dir/src/callhook
# faults.sh's loads as long as in the plain run: with 32 requests in flight per worker, a load of 1,500 ended
# before the third of its five worker kills
export FAULT_REQUESTS=${FAULT_REQUESTS_ASAN:-5000}

# Each component's TAP lines, renamed "asan: …"; its failures count like any other.
run() {
	local name=$1 rc
	shift
	"$@" 2>&1 | sed -E "s/^(not ok|ok) [0-9]+ - /\1 - asan: $name: /" | grep -E '^(not )?ok|^#' | grep -v '^# callhook\['
	rc=${PIPESTATUS[0]}
	[ "$rc" = 0 ] || tap "not ok" "asan: $name exited with status $rc"
}
run unit "$dir/src/test-unit"
for t in "$@"; do
	read -r name args <<<"$t"
	if [ -f "tests/integration/$name.sh" ]; then
		# shellcheck disable=SC2086
		run "$name" bash "tests/integration/$name.sh" $args
	else
		tap "not ok" "asan: tests/integration/$name.sh exists"
	fi
done
cp -R "$logs"/. "$dir/logs"/
reports=$(ls "$dir/logs" | wc -l)
if [ "$reports" -eq 0 ]; then
	tap ok "no sanitizer report in any process"
else
	tap "not ok" "sanitizer reports: $(ls "$dir/logs" | tr '\n' ' ')"
	head -n 40 "$dir"/logs/* | sed 's/^/# /'
fi
