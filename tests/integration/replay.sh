#!/usr/bin/env bash
# callhook replay: re-running normalization over stored deliveries duplicates nothing, rebuilds rows that
# were lost, and recovers deliveries that an earlier decoder rejected.
. "$(dirname "$0")/../lib.sh"
F=$REPO/tests/fixtures/calltracker

setup_tmp
pg_start || bail_out "PostgreSQL did not start"
write_config
config_append "$REPO/tests/fixtures/callrail/sources.conf"   # [source acme-callrail]
callhook_migrate || bail_out "migrate failed"
callhook_start 2 || bail_out "callhook did not start"
nginx_start || bail_out "nginx did not start"

for c in call_received call_finished message_received tracker_created usage_created voicemail_received call_missed; do
	post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/json' --data-binary "@$F/$c.body"
	[ "$HTTP_STATUS" = 200 ] || diag "$c: $HTTP_STATUS $RESP_BODY"
done
post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/json' --data-binary "@$F/malformed_call_received.body"
is "$HTTP_STATUS" 400 "a malformed delivery is rejected"

# snapshot: the row counts, the outcomes and a digest of the calls with the time of every value they hold
# (field_times stores the first event's time once, as "*", so rows rebuilt in another order store them
# differently; callhook.field_times_of() gives the same times).
snapshot() {
	sql "select (select count(*) from deliveries) || '|' || (select count(*) from calls) || '|' ||
		(select count(*) from messages) || '|' || (select count(*) from trackers) || '|' ||
		(select count(*) from usage) || '|' || (select count(*) from voicemails) || '|' ||
		(select string_agg(outcome, ',' order by id) from deliveries) || '|' ||
		(select md5(string_agg((to_jsonb(c) - 'id' - 'field_times'
			|| jsonb_build_object('field_times', field_times_of(to_jsonb(c))))::text, ',' order by external_id))
		   from calls c)"
}
before=$(snapshot)
diag "before: $before"
stored_times() { sql "select md5(string_agg(field_times::text, ',' order by external_id)) from calls"; }
times_before=$(stored_times)

replay() { callhook_run -c "$T/callhook.conf" replay "$@" 2>&1; }
# fn_calls NAME: how many times callhook.NAME() has run since the database started counting (track_functions).
sql "alter database callhook set track_functions = 'pl'" >/dev/null
fn_calls() {
	sql "select coalesce((select calls from pg_stat_user_functions where schemaname = 'callhook' and funcname = '$1'), 0)"
}
out=$(replay --vendor calltracker) && rc=0 || rc=$?
is "$rc" 0 "replay --vendor calltracker succeeds"
like "$out" "replayed 8 deliveries in [0-9.]+ s: 7 stored, 0 ignored, 1 rejected" "it reports what it replayed"
is "$(fn_calls replay_many)|$(fn_calls replay_delivery)" "1|0" "the 8 went in one replay_many(), none on its own"
diag "$out"
is "$(snapshot)" "$before" "replaying every delivery changes no row and duplicates nothing"
is "$(stored_times)" "$times_before" "nor the event times it stores"
out=$(replay --vendor calltracker)
is "$(snapshot)" "$before" "replaying twice changes nothing either"

# Rows lost (say, deleted by mistake) are rebuilt from the raw deliveries.
sql "delete from calls; delete from voicemails" >/dev/null
out=$(replay --source ct --event call.finished)
like "$out" "replayed 2 deliveries" "replay --event selects that event's deliveries (finished and missed)"
is "$(sql "select status, duration_s from calls where external_id = '59179'")" "completed|219" "the finished call is rebuilt"
replay --source ct >/dev/null
is "$(snapshot)" "$before" "replay --source rebuilds every lost row exactly"

# A delivery an earlier build rejected: replay --outcome rejected recovers it once the decoder accepts it.
id=$(sql "select id from deliveries where event = 'call.received' and outcome = 'stored' limit 1")
sql "update deliveries set outcome = 'rejected', error = 'field \"data.id\": missing' where id = $id" >/dev/null
sql "delete from call_events; delete from calls where external_id = '59179'" >/dev/null
out=$(replay --outcome rejected -v)
like "$out" "delivery $id: stored \\(was rejected\\)" "replay --outcome rejected recovers the delivery"
like "$out" "replayed 2 deliveries.*1 rejected" "the truly malformed one stays rejected"
is "$(sql "select outcome, error is null from deliveries where id = $id")" "stored|t" "its outcome is stored and the error cleared"
is "$(sql "select count(*) from calls where external_id = '59179'")" 1 "its row is back, once"
out=$(replay --delivery "$id" --dry-run)
like "$out" "would replay 1 deliveries" "--dry-run and --delivery"

out=$(replay --since 2999-01-01)
like "$out" "replayed 0 deliveries" "--since in the future selects nothing"

# A page PostgreSQL refuses goes delivery by delivery: the one it still refuses (here a constraint the finished
# call's 219 s break) is recorded as error with the SQLSTATE, the others are stored; once the cause is gone,
# replay --outcome error applies it.
sql "alter table calls add constraint replay_test_short check (duration_s < 200) not valid" >/dev/null
sql "delete from calls; delete from voicemails" >/dev/null
alone=$(fn_calls replay_delivery)
out=$(replay --source ct -v)
fid=$(sql "select id from deliveries where outcome = 'error'")
# (PostgreSQL counts the calls that returned: the one that raised is not among them)
is "$(($(fn_calls replay_delivery) - alone))" 8 \
	"the refused page's deliveries went one by one: 7 stored, and the refused one recorded as error"

like "$out" "delivery $fid: error \\(was stored\\)" "a delivery whose rows PostgreSQL refuses is recorded as error"
like "$out" "replayed 8 deliveries in [0-9.]+ s: 6 stored, 0 ignored, 1 rejected, 1 errors" "the others of its page are stored"
is "$(sql "select event, error from deliveries where id = $fid")" "call.finished|could not store rows: SQLSTATE 23514" \
	"its error names the SQLSTATE"
is "$(sql "select count(*), count(*) filter (where duration_s = 219) from calls where external_id = '59179'")" "1|0" \
	"the call is there from its other events, without the refused duration"
sql "alter table calls drop constraint replay_test_short" >/dev/null
out=$(replay --outcome error -v)
like "$out" "delivery $fid: stored \\(was error\\)" "with the constraint gone, replay --outcome error applies it"
is "$(snapshot)" "$before" "and every row is as before"

# --- CallRail: an event callhook does not decode is kept as ignored, shown by tail, left ignored by replay ---
CR=$REPO/tests/fixtures/callrail
post POST /hooks/acme-callrail/convert_assist_complete -H 'Content-Type: application/json' \
	-H "$(sed -n 's/^header=//p' "$CR/convert_assist_complete.meta")" --data-binary "@$CR/convert_assist_complete.body"
cid=$(resp_field delivery)
is "$HTTP_STATUS|$(resp_field status)|$(resp_field event)" "200|ignored|convert_assist_complete" \
	"CallRail's Convert Assist complete through nginx: 200 ignored, naming the event"
is "$(sql "select source, event, outcome, error is null from deliveries where id = '$cid'")" \
	"acme-callrail|convert_assist_complete|ignored|t" "its raw delivery is kept as ignored, with the URL's event"
# tail prints the last CallRail delivery, then waits for more until timeout stops it.
out=$(as_user timeout 3 "$CH" -c "$T/callhook.conf" tail -n 1 --vendor callrail 2>&1) || true
like "$out" " acme-callrail +callrail +convert_assist_complete +ignored +#$cid\$" "callhook tail shows it"
out=$(replay --vendor callrail --outcome ignored -v)
like "$out" "delivery $cid: ignored" "replay --vendor callrail --outcome ignored picks it and leaves it ignored"
like "$out" "replayed 1 deliveries in [0-9.]+ s: 0 stored, 1 ignored, 0 rejected, 0 errors" \
	"it counts as ignored, with no error"
out=$(replay --event convert_assist_complete)
like "$out" "replayed 1 deliveries.*1 ignored" "replay --event convert_assist_complete selects it"
is "$(sql "select outcome, error is null from deliveries where id = '$cid'")|$(sql "select count(*) from calls
	where source = 'acme-callrail'")" "ignored|t|0" "after replay it is still ignored, with no error and no row"

# --- NOTIFY callhook after each commit: from serve (through nginx) and from replay ----------------------------
_sleeping() { [ "$(sql "select count(*) from pg_stat_activity where query = '$1' and state = 'active'")" = 1 ]; }
# listen SECONDS: a psql session LISTENing on callhook in the background, ready when it returns; $LISTENER.
listen() {
	PGOPTIONS='-c client_min_messages=warning' psql -X -q -h "$T/pg" -U postgres -d callhook \
		-c "LISTEN callhook" -c "SELECT pg_sleep($1)" >"$T/listen.out" 2>&1 &
	LISTENER=$!
	wait_until 10 _sleeping "SELECT pg_sleep($1)" || bail_out "the LISTEN session is waiting"
}
# payloads: "table:id" of each notification received, sorted.
payloads() {
	grep '^Asynchronous notification "callhook" with payload' "$T/listen.out" |
		grep -oE '"table" *: *"[a-z_]+" *, *"id" *: *[0-9]+' |
		sed -E 's/"table" *: *"([a-z_]+)" *, *"id" *: *([0-9]+)/\1:\2/' | LC_ALL=C sort | tr '\n' ' '
}
listen 2.5
sed 's/59179/7777001/g' "$F/call_finished.body" >"$T/new_call.body"
post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/json' --data-binary "@$T/new_call.body"
is "$HTTP_STATUS" 200 "a new call is stored through nginx"
post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/json' --data-binary "@$T/new_call.body"
like "$RESP_BODY" '"status":"duplicate"' "its redelivery is a duplicate"
wait "$LISTENER" || true
is "$(payloads)" "calls:$(sql "select id from calls where external_id = '7777001'") " \
	"serve sends one notification for the stored call after its commit, none for the duplicate"
like "$(grep -m 1 payload "$T/listen.out")" '"source" *: *"ct".*"event" *: *"call\.finished"' \
	"the notification names the source and the event"

replay --source ct >/dev/null   # every row as its deliveries say
sql "delete from calls where external_id = '7777001'" >/dev/null
listen 2.5
replay --source ct >/dev/null
wait "$LISTENER" || true
is "$(payloads)" "calls:$(sql "select id from calls where external_id = '7777001'") " \
	"replay announces the row it rebuilt, and only that one"
done_testing
