#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2034,SC2317  # ok takes code in single quotes (its variables look unused); traps and wait_until call functions
# `callhook tail` and the NOTIFY contract. tail, started in the background as a reader, must print the last N
# deliveries and then exactly one line per new delivery — stored, ignored and rejected (with its error), one
# that commits after a later one, none for a redelivery — and stop cleanly on SIGTERM. Then a psql session that
# LISTENs on channel callhook must get exactly one notification per stored call, message and voicemail row.
# Prints TAP.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

setup_tmp
prepare_callhook
pg_start || bail_out "PostgreSQL starts"
cat >"$T/callhook.conf" <<EOF
[database]
conninfo = host=$T/pg dbname=callhook user=callhook_r
migrate_conninfo = host=$T/pg dbname=callhook user=postgres
EOF
callhook_migrate || bail_out "callhook migrate succeeds"
_psql callhook -c "create role callhook_r login; grant callhook_reader to callhook_r" >/dev/null

TAIL_PIDS=()
# Stop the tails this test started (by pid) before lib.sh stops PostgreSQL.
stop_tails() {
	local p
	for p in "${TAIL_PIDS[@]}"; do stop_pid "$p" TERM >/dev/null 2>&1 || true; done
}
_tail_cleanup() {
	local rc=$?
	set +e
	stop_tails
	(exit "$rc")
	_cleanup
}
trap _tail_cleanup EXIT

# ingest SOURCE EVENT KEY OUTCOME ERROR ROWS: one delivery as callhook stores it, as the writer: callhook.ingest,
# then its notifications through callhook.notify in a transaction of their own; prints the delivery id.
ingest() {
	PGOPTIONS='-c client_min_messages=warning' psql -X -q -At -v ON_ERROR_STOP=1 -h "$T/pg" -U callhook_w \
		-d callhook -v src="$1" -v ev="$2" -v key="$3" -v outcome="$4" -v err="$5" -v rows="$6" <<-'EOF'
		SELECT delivery_id, notices FROM callhook.ingest(:'src', 'calltracker', nullif(:'ev', ''), 'POST',
		    'application/json', NULL, '{}', convert_to(:'rows', 'UTF8'), :'key', :'outcome',
		    nullif(:'err', ''), nullif(:'rows', '')::jsonb, NULL) \gset
		\echo :delivery_id
		SELECT callhook.notify(:'notices') \g /dev/null
	EOF
}
call_row() { # call_row EXTERNAL_ID STATUS
	printf '[{"table":"calls","external_id":"%s","cols":{"direction":"inbound","status":"%s"}}]' "$1" "$2"
}

# start_tail OUTFILE ARGS...: `callhook tail ARGS` as the reader in the background; $TAIL_PID.
start_tail() {
	local out=$1
	shift
	: >"$out"
	(cd "$T" && exec setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
		"$CH" -c "$T/callhook.conf" tail "$@" >"$out" 2>"$out.err") &
	TAIL_PID=$!
	TAIL_PIDS+=("$TAIL_PID")
}
[ "$IS_ROOT" = 1 ] || start_tail() {
	local out=$1
	shift
	: >"$out"
	(cd "$T" && exec "$CH" -c "$T/callhook.conf" tail "$@" >"$out" 2>"$out.err") &
	TAIL_PID=$!
	TAIL_PIDS+=("$TAIL_PID")
}
lines_in() { [ "$(wc -l <"$1")" -ge "$2" ]; }
# ids FILE: the delivery ids printed in FILE, in order, space-separated.
ids() { grep -oE '#[0-9]+' "$1" | tr -d '#' | tr '\n' ' '; }

# --- backlog ----------------------------------------------------------------------------------------------
for i in 1 2 3 4 5; do
	ingest ct call.received "old$i" stored '' "$(call_row "OLD$i" ringing)" >/dev/null
done
ingest other call.received other1 stored '' "$(call_row OTHER1 ringing)" >/dev/null   # id 6

start_tail "$T/tail.out" -n 3
wait_until 10 lines_in "$T/tail.out" 3 || true
is "$(ids "$T/tail.out")" "4 5 6 " "tail -n 3 prints the last three deliveries, oldest first"
like "$(head -n 1 "$T/tail.out")" \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z ct +calltracker +call\.received +stored +#4$' \
	"a line is: time (UTC), source, vendor, event, outcome, #delivery id"

start_tail "$T/rejected.out" --outcome rejected -n 5
start_tail "$T/other.out" --source other --vendor calltracker -n 5
wait_until 10 lines_in "$T/other.out" 1 || true

# --- new deliveries -------------------------------------------------------------------------------------
sleep 0.3   # every tail is past its backlog and listening
ingest ct call.received new1 stored '' "$(call_row NEW1 ringing)" >/dev/null                       # 7
ingest ct weird.event new2 ignored '' '' >/dev/null                                                   # 8
ingest ct '' new3 rejected $'malformed body: unexpected end of JSON\nat byte 17' '' >/dev/null       # 9
# A redelivery of 7: no new delivery row, though its INSERT … ON CONFLICT uses up id 10, which stays a gap.
ingest ct call.received new1 stored '' "$(call_row NEW1 ringing)" >/dev/null
# 11 is taken by a transaction that stays open while 12 commits: 11 appears after 12.
PGOPTIONS='-c client_min_messages=warning' psql -X -q -At -h "$T/pg" -U callhook_w -d callhook \
	-c "BEGIN" \
	-c "SELECT delivery_id FROM callhook.ingest('ct', 'calltracker', 'call.finished', 'POST', 'application/json', NULL, '{}', '', 'slow', 'stored', NULL, '[{\"table\":\"calls\",\"external_id\":\"NEW1\",\"cols\":{\"status\":\"completed\"}}]', NULL)" \
	-c "SELECT pg_sleep(2.5)" -c "COMMIT" >"$T/slow.out" 2>&1 &
slow=$!
_sleeping() { [ "$(sql "select count(*) from pg_stat_activity where query = '$1' and state = 'active'")" = 1 ]; }
wait_until 10 _sleeping 'SELECT pg_sleep(2.5)' || diag "the slow transaction did not start"
ingest other message.received other2 stored '' \
	'[{"table":"messages","external_id":"M1","cols":{"direction":"inbound","body":"hi"}}]' >/dev/null  # 12
wait_until 10 lines_in "$T/tail.out" 7 || true
is "$(ids "$T/tail.out")" "4 5 6 7 8 9 12 " "delivery 12 is printed while 11 is not committed yet"
wait "$slow" || true
is "$(grep -oE '[0-9]+' "$T/slow.out" | tr '\n' ' ')" "11 " "the slow transaction got delivery 11 and committed after 12"

wait_until 10 lines_in "$T/tail.out" 8 || true
sleep 1.5   # a duplicate or a second line would show up by now
is "$(ids "$T/tail.out")" "4 5 6 7 8 9 12 11 " \
	"one line per new delivery: stored, ignored, rejected, late commit; none for a redelivery"
is "$(grep -c '#9 ' "$T/tail.out" || true)|$(grep '#9 ' "$T/tail.out" | sed 's/^[^ ]* //' | tr -s ' ')" \
	'1|ct calltracker - rejected #9 error: malformed body: unexpected end of JSON\nat byte 17' \
	"the rejected delivery's line has its error, on one line"
like "$(grep '#8$' "$T/tail.out")" ' ct +calltracker +weird\.event +ignored +#8$' "the ignored delivery has its line"
is "$(ids "$T/rejected.out")" "9 " "tail --outcome rejected prints only rejected deliveries"
is "$(ids "$T/other.out")" "6 12 " "tail --source other --vendor calltracker prints only that source's deliveries"

# --- a flood while an older transaction is still open ------------------------------------------------------
start_tail "$T/bulk.out" --source bulk -n 0
sleep 0.5
PGOPTIONS='-c client_min_messages=warning' psql -X -q -At -h "$T/pg" -U callhook_w -d callhook \
	-c "BEGIN" \
	-c "SELECT delivery_id FROM callhook.ingest('bulk', 'calltracker', 'bulk.first', 'POST', NULL, NULL, '{}', '', 'bulk-first', 'ignored', NULL, NULL, NULL)" \
	-c "SELECT pg_sleep(4)" -c "COMMIT" >/dev/null 2>&1 &
slow=$!
wait_until 10 _sleeping 'SELECT pg_sleep(4)' || diag "the open transaction did not start"
sql_strict "select count(*) from generate_series(1, 2500) as g, lateral callhook.ingest('bulk', 'calltracker',
	'bulk.event', 'POST', NULL, NULL, '{}', '', 'bulk' || g, 'ignored', NULL, NULL, NULL)" >/dev/null
_bulk_lines() { [ "$(grep -c ' bulk\.event ' "$T/bulk.out")" -ge 2500 ]; }
wait_until 10 _bulk_lines || true
is "$(grep -c ' bulk\.event ' "$T/bulk.out")|$(grep -c ' bulk\.first ' "$T/bulk.out" || true)" "2500|0" \
	"2500 deliveries in one transaction print 2500 lines while an older one is still open"
wait "$slow" || true
_first_line() { grep -q ' bulk\.first ' "$T/bulk.out"; }
wait_until 10 _first_line || true
is "$(wc -l <"$T/bulk.out")|$(tail -n 1 "$T/bulk.out" | grep -c ' bulk\.first ')|$(ids "$T/bulk.out" | tr ' ' '\n' | sort -u | grep -c .)" \
	"2501|1|2501" "the older transaction's delivery follows when it commits, and no line is repeated"
stop_pid "${TAIL_PIDS[3]}" TERM || true

# --- SIGTERM, SIGINT --------------------------------------------------------------------------------------
start=$SECONDS
stop_pid "${TAIL_PIDS[2]}" TERM && went=0 || went=1
is "$went|$STOPPED_STATUS|$(cat "$T/other.out.err")" "0|0|" "tail exits 0 on SIGTERM, with nothing on stderr"
ok '[ $((SECONDS - start)) -le 2 ]' "tail stops within 2 seconds of SIGTERM"
stop_pid "${TAIL_PIDS[1]}" INT && went=0 || went=1
is "$went|$STOPPED_STATUS|$(cat "$T/rejected.out.err")" "0|0|" "tail exits 0 on SIGINT"

# --- PostgreSQL restarts under a running tail -------------------------------------------------------------
pg_stop
pg_start || bail_out "PostgreSQL starts again"
ingest ct after.restart restart1 stored '' "$(call_row RESTART1 ringing)" >/dev/null
_printed() { grep -q ' after\.restart ' "$1"; }
wait_until 15 _printed "$T/tail.out" || true
is "$(grep -c ' after\.restart ' "$T/tail.out" || true)" 1 "after PostgreSQL restarts, tail reconnects and prints the next delivery once"
like "$(cat "$T/tail.out.err")" 'lost the database connection: reconnecting' "tail says on stderr that it reconnects"
stop_pid "${TAIL_PIDS[0]}" TERM && went=0 || went=1
is "$went|$STOPPED_STATUS" "0|0" "tail exits 0 on SIGTERM after a reconnect"
TAIL_PIDS=()

# --- LISTEN callhook: one notification per stored row ---------------------------------------------------
PGOPTIONS='-c client_min_messages=warning' psql -X -q -h "$T/pg" -U callhook_r -d callhook \
	-c "LISTEN callhook" -c "SELECT pg_sleep(4)" >"$T/listen.out" 2>&1 &
listener=$!
wait_until 10 _sleeping 'SELECT pg_sleep(4)' || bail_out "the LISTEN session is waiting"
ingest ct call.received n1 stored '' '[
	{"table":"calls","external_id":"N1","cols":{"direction":"inbound","status":"ringing"}},
	{"table":"calls","external_id":"N2","cols":{"direction":"inbound","status":"ringing"}},
	{"table":"calls","external_id":"N3","cols":{"direction":"outbound","status":"completed"}}]' >/dev/null
ingest ct message.received n2 stored '' '[
	{"table":"messages","external_id":"NM1","cols":{"direction":"inbound","body":"a"}},
	{"table":"messages","external_id":"NM2","cols":{"direction":"outbound","body":"b"}}]' >/dev/null
ingest ct voicemail.received n3 stored '' \
	'[{"table":"voicemails","external_id":"NV1","cols":{"call_external_id":"N1","transcript":"hello"}}]' >/dev/null
ingest ct call.received n1 stored '' '[{"table":"calls","external_id":"N1","cols":{"status":"ringing"}}]' \
	>/dev/null                                                                 # a redelivery: nothing
ingest ct weird.event n4 ignored '' '' >/dev/null                             # ignored: no row, nothing
ingest ct '' n5 rejected 'bad body' '' >/dev/null                             # rejected: nothing
wait "$listener" || true
got=$(grep '^Asynchronous notification "callhook" with payload' "$T/listen.out" |
	grep -oE '"table" *: *"[a-z_]+" *, *"id" *: *[0-9]+' |
	sed -E 's/"table" *: *"([a-z_]+)" *, *"id" *: *([0-9]+)/\1:\2/' | LC_ALL=C sort | tr '\n' ' ')
want=$(sql "select string_agg(t || ':' || id, ' ' order by t || ':' || id) || ' ' from (
	select 'calls' t, id from calls where external_id in ('N1', 'N2', 'N3') union all
	select 'messages', id from messages where external_id in ('NM1', 'NM2') union all
	select 'voicemails', id from voicemails where external_id = 'NV1') x")
is "$got" "$want" "LISTEN callhook: exactly one notification per stored call, message and voicemail row"
like "$(grep -m 1 'payload' "$T/listen.out")" '"source" *: *"ct".*"event" *: *"call\.received"' \
	"a notification carries the source and the event"
[ -n "$got" ] || diag "$(cat "$T/listen.out")"

done_testing
