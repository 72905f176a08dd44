#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2119,SC2317  # ok takes code in single quotes; write_config takes optional arguments; gone runs through wait_until
# The write path finds rows by index even when its plans were made on tables PostgreSQL last saw empty.
# VACUUM (ANALYZE) of the empty tables first, as on a fresh install or after prune: the planner then holds
# them empty, and a sequential scan would cost nothing. callhook starts after it, so its plans are made on
# those statistics. Then, through nginx, Salpre calls answered and then ended with a final transcript: the
# ended event merges into the call's row (found by its key in calls) and replaces the call's live turns
# (a DELETE by call in transcript_segments), first one request at a time (callhook.ingest()), then 24 at
# once (callhook.ingest_batch()). PostgreSQL's own counters, read once callhook's backends have exited, must
# show index scans on both tables and not one sequential scan. Prints TAP.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

F=$REPO/tests/fixtures/salpre
setup_tmp
pg_start || bail_out "PostgreSQL did not start"
write_config
config_append "$F/sources.conf"
callhook_migrate || bail_out "migrate failed"
sql "VACUUM (ANALYZE) callhook.calls, callhook.transcript_segments" >/dev/null
is "$(sql "select relpages || ' ' || reltuples from pg_class
	where oid in ('callhook.calls'::regclass, 'callhook.transcript_segments'::regclass)" | sort -u)" "0 0" \
	"the planner holds calls and transcript_segments empty"
callhook_start 1 || bail_out "callhook did not start"
nginx_start || bail_out "nginx did not start"

# scans TABLE: "SEQ IDX", PostgreSQL's count of sequential and index scans of callhook.TABLE
scans() {
	sql "select seq_scan || ' ' || coalesce(idx_scan, 0) from pg_stat_user_tables
		where schemaname = 'callhook' and relname = '$1'"
}
read -r seq_calls0 idx_calls0 <<<"$(scans calls)"
read -r seq_segs0 idx_segs0 <<<"$(scans transcript_segments)"

# send EVENT CALL: Salpre's EVENT fixture for call CALL; prints the HTTP status
send() {
	sed -E "s/\"call_id\": 1([,}]|$)/\"call_id\": $2\1/" "$F/$1.body" >"$T/$1-$2.json"
	curl -sS -o /dev/null -w '%{http_code}\n' --max-time 20 -H 'Content-Type: application/json' \
		-H 'X-Api-Key: salpre-key' --data-binary "@$T/$1-$2.json" "http://127.0.0.1:$NGINX_PORT/hooks/acme-salpre"
}
statuses=
for call in 101 102 103 104 105 106; do
	statuses+="$(send call_answered "$call") $(send call_ended "$call") "
done
is "$statuses" "$(printf '200 %.0s' {1..12})" "one at a time: 6 calls answered, then ended, each 200"
for call in $(seq 201 224); do send call_answered "$call"; done >"$T/answered.txt"
export -f send
export F T NGINX_PORT
seq 201 224 | xargs -P 24 -I{} bash -c 'send call_ended {}' >"$T/ended.txt"
is "$(sort "$T/answered.txt" "$T/ended.txt" | uniq -c | sed 's/^ *//')" "48 200" \
	"24 at once: 24 calls answered, then ended together, each 200"

# A backend adds its counts to PostgreSQL's when idle, or at the latest when it exits: stop callhook and wait
# until its backends' processes are gone, so that every scan it made is counted.
backends=$(sql "select pid from pg_stat_activity where application_name = 'callhook'")
ok '[ -n "$backends" ]' "callhook's backends are known (${backends//$'\n'/ })"
callhook_stop
gone() {
	local pid
	for pid in $backends; do [ ! -e "/proc/$pid" ] || return 1; done
}
ok 'wait_until 30 gone' "callhook's backends have exited"
read -r seq_calls idx_calls <<<"$(scans calls)"
read -r seq_segs idx_segs <<<"$(scans transcript_segments)"
is "$((seq_segs - seq_segs0))" 0 "no sequential scan of transcript_segments"
is "$((seq_calls - seq_calls0))" 0 "no sequential scan of calls"
ok '[ "$idx_calls" -ge $((idx_calls0 + 30)) ]' "calls were found by index ($((idx_calls - idx_calls0)) scans)"
ok '[ "$idx_segs" -ge $((idx_segs0 + 30)) ]' "transcript_segments was searched by index ($((idx_segs - idx_segs0)) scans)"
diag "index scans: calls $((idx_calls - idx_calls0)), transcript_segments $((idx_segs - idx_segs0))"

# and the rows are those of 30 ended calls, 3 final turns each
is "$(sql "select count(*) || ' ' || count(*) filter (where status = 'completed') from callhook.calls
	where source = 'acme-salpre'")" "30 30" "30 calls, each completed"
is "$(sql "select count(*) || ' ' || count(*) filter (where final) from callhook.transcript_segments")" "90 90" \
	"90 transcript turns, all final"

done_testing
