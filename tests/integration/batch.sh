#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2317  # ok takes code in single quotes; functions called through ok/wait_until
# Group commit through nginx and a real PostgreSQL. To put several deliveries into one batch on purpose, another
# session holds a lock on callhook.deliveries for 2 s: the first delivery's statement waits for it while the
# others queue in the worker's batcher (one worker, requests_in_flight 8), and the next batch takes them all;
# the metrics prove it. Then:
# - a batch with one delivery PostgreSQL refuses (a trigger raises 22003 for call 66666) among good ones: the
#   poisoned one is answered 500 and kept as error, the others 200 stored with their rows;
# - a call's three events in one batch, in each of the 3! orders: the row equals the written-down one, and the
#   one the same events make when sent one after the other;
# - the same body twice in one batch: stored, then duplicate with the same delivery id;
# - a CallScaler in-call hit that would wait behind a batch longer than route_timeout_ms is answered {} in
#   time, spooled, and stored once the batch's lock has gone;
# - SIGKILL of a worker while batches are in flight under load: every acknowledged delivery stored exactly
#   once, no 502 (nginx resends what the dead worker had not answered).
# Prints TAP.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/load/verify.sh"

F=$REPO/tests/fixtures/calltracker
JSON=(-H 'Content-Type: application/json')
HOLD_S=2

setup_tmp
pg_start || bail_out "PostgreSQL did not start"
write_config
# waits for the held lock must outlast it; one worker, so that every request meets the same batcher
sed -i "/^\[database\]/a lock_timeout = 5000\ndelivery_budget_ms = 10000" "$T/callhook.conf"
sed -i "/^\[server\]/a requests_in_flight = 8" "$T/callhook.conf"
config_append "$REPO/tests/fixtures/callscaler/sources.conf"
callhook_migrate || bail_out "migrate failed"
callhook_start 1 || bail_out "callhook did not start"
nginx_start || bail_out "nginx did not start"

# body FILE ID: FILE (a Call Tracker fixture of call 59179) for call ID, written to $T; prints the path.
body() {
	local out=$T/$(basename "$1" .body)-$2.json
	sed "s/\"id\": 59179/\"id\": $2/" "$1" >"$out"
	printf '%s' "$out"
}
# send_bg NAME FILE: post FILE to source ct in the background; "status|answer" lands in $T/ans-NAME.
send_bg() {
	(
		code=$(curl -sS -X POST -H 'Expect:' --max-time 30 "${JSON[@]}" -o "$T/ans-$1.body" -w '%{http_code}' \
			--data-binary "@$2" "http://127.0.0.1:$NGINX_PORT/hooks/ct?token=$TOKEN" 2>/dev/null) || code=000
		printf '%s|%s' "$code" "$(cat "$T/ans-$1.body" 2>/dev/null)" >"$T/ans-$1"
	) &
	SENDERS+=($!)
}
answer() { cat "$T/ans-$1"; }
metric() { curl -s --max-time 5 "http://127.0.0.1:$NGINX_PORT/hooks/-/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
lock_held() {
	[ "$(sql "select count(*) from pg_locks l join pg_class c on c.oid = l.relation
		where c.relname = 'deliveries' and l.mode = 'ShareRowExclusiveLock' and l.granted")" = 1 ]
}
first_waits() {
	[ "$(sql "select count(*) from pg_stat_activity where application_name = 'callhook' and wait_event_type = 'Lock'")" = 1 ]
}

# hold_lock SECONDS: another session holds SHARE ROW EXCLUSIVE on callhook.deliveries (which makes every
# ingest() wait) for SECONDS, in the background ($LOCKER); returns once the lock is held.
hold_lock() {
	PGAPPNAME=batch-lock psql -X -q -h "$T/pg" -U postgres -d callhook -c 'BEGIN' \
		-c 'LOCK TABLE callhook.deliveries IN SHARE ROW EXCLUSIVE MODE' -c "SELECT pg_sleep($1)" \
		-c 'COMMIT' >/dev/null 2>&1 &
	LOCKER=$!
	wait_until "$WAIT_S" lock_held || diag "the lock on callhook.deliveries was not taken"
}

# in_batches NAME FIRST FILE...: while another session holds a lock on callhook.deliveries for HOLD_S
# seconds, post FIRST; once its statement waits for the lock, post the FILEs 0.1 s apart (so they queue in
# that order). Waits for every answer: $T/ans-NAME-0 for FIRST, $T/ans-NAME-1… for the FILEs. Sets BATCHES and
# BATCHED to what callhook_batches_total and callhook_batched_deliveries_total grew by.
in_batches() {
	local name=$1 first=$2 f i=0 b0 d0
	shift 2
	SENDERS=()
	b0=$(metric callhook_batches_total)
	d0=$(metric callhook_batched_deliveries_total)
	hold_lock "$HOLD_S"
	send_bg "$name-0" "$first"
	wait_until "$WAIT_S" first_waits || diag "$name: the first delivery did not wait for the lock"
	for f; do
		i=$((i + 1))
		send_bg "$name-$i" "$f"
		sleep 0.1
	done
	wait "${SENDERS[@]}" "$LOCKER"
	BATCHES=$(($(metric callhook_batches_total) - b0))
	BATCHED=$(($(metric callhook_batched_deliveries_total) - d0))
	diag "$name: $BATCHED deliveries in $BATCHES batches"
}

# --- a lone request is written at once, in a batch of its own ------------------------------------------
b0=$(metric callhook_batches_total)
d0=$(metric callhook_batched_deliveries_total)
post POST "/hooks/ct?token=$TOKEN" "${JSON[@]}" --data-binary "@$(body "$F/call_received.body" 60000)"
is "$HTTP_STATUS|$(resp_field status)" "200|stored" "lone: a delivery alone is stored"
is "$(($(metric callhook_batches_total) - b0))|$(($(metric callhook_batched_deliveries_total) - d0))" "1|1" \
	"lone: it was one batch of one"
is "$(metric callhook_requests_in_flight)" 8 "metrics: callhook_requests_in_flight is the configured 8"

# --- one poisoned delivery among good ones ---------------------------------------------------------------
sql_strict "
create function public.poison() returns trigger language plpgsql security definer set search_path = pg_catalog as \$\$
begin
    if new.external_id = '66666' then
        raise exception 'forced out of range' using errcode = '22003';
    end if;
    return new;
end \$\$;
create trigger poison before insert or update on callhook.calls for each row execute function public.poison();" >/dev/null
log_from=$(($(wc -l <"$T/callhook.log") + 1))
in_batches poison "$(body "$F/call_received.body" 61000)" "$(body "$F/call_received.body" 61001)" \
	"$(body "$F/call_received.body" 66666)" "$(body "$F/call_received.body" 61002)" \
	"$(body "$F/call_received.body" 61003)"
is "$BATCHED" 6 "poison: 5 deliveries and the poisoned one's error record went through the batcher"
ok "[ $BATCHES -le 3 ]" "poison: in at most 3 batches (the first alone, the other 4 together, the error record)"
like "$(tail -n "+$log_from" "$T/callhook.log")" 'a batch of 4 deliveries failed \(SQLSTATE 22003\): storing each on its own' \
	"poison: the batch of 4 failed on the refused value and was stored delivery by delivery"
is "$(answer poison-2)" '500|{"error":"could not store rows: SQLSTATE 22003"}' \
	"poison: the poisoned delivery is answered 500 naming SQLSTATE 22003, as when alone"
for i in 0 1 3 4; do
	like "$(answer "poison-$i")" '^200\|\{"status":"stored","delivery":[0-9]+\}$' "poison: good delivery $i answered 200 stored"
done
is "$(sql "select string_agg(external_id, ',' order by external_id) from calls where external_id ~ '^6[16]'")" \
	"61000,61001,61002,61003" "poison: the good deliveries have their rows, the poisoned one none"
is "$(sql "select outcome || '|' || error from deliveries where convert_from(body, 'UTF8') like '%\"id\": 66666,%'")" \
	"error|could not store rows: SQLSTATE 22003" "poison: the poisoned delivery is kept raw as error with its SQLSTATE"
is "$(sql "select count(*) || '|' || min(outcome) || '|' || max(outcome) from deliveries
	where convert_from(body, 'UTF8') ~ '\"id\": 6100[0-3],'")" "4|stored|stored" "poison: 4 good deliveries stored once each"

# --- a call's events in one batch, in every order ---------------------------------------------------------
EV=(x "$F/call_lifecycle.1.body" "$F/call_lifecycle.2.body" "$F/call_lifecycle.3.body")
NAMES=(x call.received call.finished call.recording.available)
ROW="completed|t|inbound|+18558871739|219|https://d2k1yc19c4o170.cloudfront.net/call_recordings/CAa0d99df2ede69656e55cd40e2ca05.mp3|186|2019-03-09T09:09:51.733192|2019-03-09T09:14:06.146000|t"
row_of() {
	sql "select status, answered, direction, caller_number, duration_s, recording_url, recording_duration_s,
		to_char(started_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'),
		to_char(last_event_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), first_time
		from calls where external_id = '$1'"
}
k=0
for order in 123 132 213 231 312 321; do
	k=$((k + 1))
	id=6300$k
	files=() want=()
	for j in ${order:0:1} ${order:1:1} ${order:2:1}; do
		files+=("$(body "${EV[$j]}" "$id")")
		want+=("${NAMES[$j]}")
	done
	in_batches "order-$order" "$(body "$F/call_received.body" 6400$k)" "${files[@]}"
	ok "[ $BATCHED = 4 ] && [ $BATCHES -le 2 ]" "order $order: the 3 events went into one batch (4 deliveries, $BATCHES batches)"
	is "$(answer "order-$order-1" | cut -c1-22)|$(answer "order-$order-2" | cut -c1-22)|$(answer "order-$order-3" | cut -c1-22)" \
		'200|{"status":"stored"|200|{"status":"stored"|200|{"status":"stored"' "order $order: each event answered 200 stored"
	is "$(sql "select string_agg(event, ',' order by id) from deliveries where convert_from(body, 'UTF8') like '%\"id\": $id,%'")" \
		"$(IFS=,; echo "${want[*]}")" "order $order: the batch stored them in that order"
	is "$(row_of "$id")" "$ROW" "order $order: the call's row is the written-down one"
done
# the same three events one after the other, no batch
for j in 1 2 3; do
	post POST "/hooks/ct?token=$TOKEN" "${JSON[@]}" --data-binary "@$(body "${EV[$j]}" 63999)"
done
is "$(row_of 63999)" "$ROW" "sequential: the events sent one after the other make the same row"
is "$(sql "select count(distinct replace((to_jsonb(c) - 'id' - 'first_seen_at' - 'last_event_at' - 'field_times')::text,
	c.external_id, 'X')) || '|' || count(*) from calls c where external_id like '63%'")" "1|7" \
	"every order: the 6 batched calls and the sequential one are the same row in every column"

# --- a redelivery inside one batch -------------------------------------------------------------------------
dup=$(body "$F/call_received.body" 62001)
in_batches redelivery "$(body "$F/call_received.body" 62000)" "$dup" "$dup"
is "$BATCHED|$(( BATCHES <= 2 ))" "3|1" "redelivery: both copies went into one batch (3 deliveries, $BATCHES batches)"
id=$(sql "select id from deliveries where convert_from(body, 'UTF8') like '%\"id\": 62001,%'")
is "$(sql "select count(*) from deliveries where convert_from(body, 'UTF8') like '%\"id\": 62001,%'")" 1 \
	"redelivery: one delivery stored"
is "$(answer redelivery-1)" "200|{\"status\":\"stored\",\"delivery\":$id}" "redelivery: the first copy is answered stored"
is "$(answer redelivery-2)" "200|{\"status\":\"duplicate\",\"delivery\":$id}" \
	"redelivery: the second is answered duplicate with the first's delivery id"

# --- an in-call hit does not wait behind a batch past route_timeout_ms (2000) ------------------------------
log_from=$(($(wc -l <"$T/callhook.log") + 1))
SENDERS=()
hold_lock 4
send_bg incall-0 "$(body "$F/call_received.body" 65000)"
wait_until "$WAIT_S" first_waits || diag "in-call: the batch did not wait for the lock"
post POST "/hooks/acme-cs/in_call?token=cs-token" -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-raw "From=%2B13055551212&To=%2B18005551234&CallSid=CAbatch1"
held=no
lock_held && held=yes
is "$HTTP_STATUS|$RESP_BODY|$held" "200|{}|yes" "in-call: answered 200 {} while the batch ahead of it still waited"
wait "${SENDERS[@]}" "$LOCKER"
is "$(answer incall-0 | cut -c1-22)" '200|{"status":"stored"' "in-call: the batch's delivery is stored once the lock goes"
in_call_stored() { [ "$(sql "select count(*) from calls where source = 'acme-cs' and external_id = 'CAbatch1'")" = 1 ]; }
ok 'wait_until "$WAIT_S" in_call_stored' "in-call: the spooled hit is stored once the lock has gone"
like "$(tail -n "+$log_from" "$T/callhook.log")" 'in-call hit waited route_timeout_ms for the database: spooling it' \
	"in-call: the log says why it was spooled"

# --- SIGKILL of a worker while batches are in flight --------------------------------------------------------
callhook_stop || diag "callhook did not stop by itself"
sed -i '/^lock_timeout\|^delivery_budget_ms/d' "$T/callhook.conf"
# 2 ms per call row: the batches' transactions take long enough that each kill meets one in flight
sql_strict "
create function public.slow() returns trigger language plpgsql security definer set search_path = pg_catalog as \$\$
begin
    perform pg_sleep(0.002);
    return new;
end \$\$;
create trigger slow before insert on callhook.calls for each row execute function public.slow();" >/dev/null
reset_db
callhook_start 2 || bail_out "callhook did not restart"
N=${BATCH_KILL_REQUESTS:-3000}
b0=$(metric callhook_batches_total)
d0=$(metric callhook_batched_deliveries_total)
load_run kill 16
busy() {
	[ "$(sql "select count(*) from pg_stat_activity where application_name = 'callhook' and state = 'active'
		and query like '%ingest%'")" -ge 1 ]
}
kills=0
for i in 2 5 8; do
	wait_until 60 under_way $((N * i / 10)) || break
	wait_until 5 busy || diag "kill: no batch seen in flight"
	victim=$(children_of "$CALLHOOK_PID" | head -n 1)
	[ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null && kills=$((kills + 1))
done
wait "$LOAD_PID"
# A request answered 200 spooled is stored when the spool drains: wait for that before counting.
spool_empty() { [ -z "$(ls -A "$T/spool" 2>/dev/null | grep '\.req$')" ]; }
spooled_now=$(ls -A "$T/spool" 2>/dev/null | grep -c '\.req$')
wait_until 60 spool_empty || diag "kill: the spool still holds $(ls -A "$T/spool" | grep -c '\.req$') files"
diag "kill: $spooled_now deliveries were in the spool when the load ended"
batches=$(($(metric callhook_batches_total) - b0))
batched=$(($(metric callhook_batched_deliveries_total) - d0))
diag "kill: $kills workers killed; $batched deliveries in $batches batches"
is "$kills" 3 "kill: a worker was killed three times while the load was running"
ok "[ $batched -gt $batches ]" "kill: deliveries went in batches of more than one during the load"
verify kill

done_testing
