#!/usr/bin/env bash
# The integration tests with every callhook process (parent and workers) under valgrind memcheck: no
# memory error and no definite or indirect leak in any of them.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
dir=$PWD/tests/out/valgrind
rm -rf "$dir"
mkdir -p "$dir"
chmod 1777 "$dir"
n=0
tap() { n=$((n + 1)); echo "$1 $n - $2"; }
command -v valgrind >/dev/null || { tap "not ok" "valgrind is installed"; exit 1; }

export CALLHOOK_WRAPPER="valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$dir/vg.%p.log"
export CALLHOOK_TEST_WAIT=30
for t in "golden.sh calltracker callscaler" http.sh spool.sh; do
	# shellcheck disable=SC2086
	bash tests/integration/$t 2>&1 | sed -E "s/^(not ok|ok) [0-9]+ - /\1 - valgrind: ${t%% *}: /" |
		grep -E '^(not )?ok' | grep -v 'within the bound'
done
logs=$(ls "$dir"/vg.*.log 2>/dev/null | wc -l)
errors=$(cat "$dir"/vg.*.log 2>/dev/null | grep -c 'ERROR SUMMARY: [1-9]\|definitely lost\|indirectly lost\|Invalid \|uninitialised')
if [ "$logs" -gt 0 ] && [ "$errors" -eq 0 ]; then
	tap ok "valgrind: $logs callhook processes, no memory error and no leak"
else
	tap "not ok" "valgrind: $logs processes logged, $errors error lines"
	cat "$dir"/vg.*.log | head -n 60 | sed 's/^/# /'
fi
