#!/usr/bin/env bash
# The integration tests with every callhook process (parent and workers) under valgrind memcheck: no
# memory error and no definite or indirect leak in any of them.
#
# Usage: tests/valgrind.sh [TEST...], each TEST "NAME [ARGUMENTS]" of tests/integration/NAME.sh (default:
# "golden calltracker callscaler", "http", "spool" and "batch"). valgrind writes its logs where callhook (nobody, when run as
# root) can write wherever the clone is: a temporary directory under /tmp, copied to tests/out/valgrind.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=$PWD/tests/out/valgrind
n=0
tap() { n=$((n + 1)); echo "$1 $n - $2"; }
command -v valgrind >/dev/null || { tap "not ok" "valgrind is installed"; exit 1; }
dir=$(mktemp -d /tmp/callhook-valgrind.XXXXXX) || { tap "not ok" "a temporary directory for the logs"; exit 1; }
trap 'rm -rf "$dir"' EXIT
chmod 1777 "$dir"
[ $# -gt 0 ] || set -- "golden calltracker callscaler" http spool batch

export CALLHOOK_WRAPPER="valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$dir/vg.%p.log"
export CALLHOOK_TEST_WAIT=30
for t in "$@"; do
	read -r name args <<<"$t"
	[ -f "tests/integration/$name.sh" ] || { tap "not ok" "valgrind: tests/integration/$name.sh exists"; continue; }
	# shellcheck disable=SC2086
	bash "tests/integration/$name.sh" $args 2>&1 | sed -E "s/^(not ok|ok) [0-9]+ - /\1 - valgrind: $name: /" |
		grep -E '^(not )?ok' | grep -v 'within the bound'
done
rm -rf "$out"
mkdir -p "$out"
cp "$dir"/vg.*.log "$out"/ 2>/dev/null
logs=$(ls "$out"/vg.*.log 2>/dev/null | wc -l)
errors=$(cat "$out"/vg.*.log 2>/dev/null | grep -c 'ERROR SUMMARY: [1-9]\|definitely lost\|indirectly lost\|Invalid \|uninitialised')
if [ "$logs" -gt 0 ] && [ "$errors" -eq 0 ]; then
	tap ok "valgrind: $logs callhook processes, no memory error and no leak"
else
	tap "not ok" "valgrind: $logs processes logged, $errors error lines"
	cat "$out"/vg.*.log 2>/dev/null | head -n 60 | sed 's/^/# /'
fi
