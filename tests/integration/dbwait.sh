#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2317  # ok takes code in single quotes; functions called through ok/wait_until
# Bounded database waits and retries that never strand a delivery, through nginx and a real PostgreSQL, with
# the shipped defaults (lock_timeout 1000, delivery_budget_ms 3000, route_timeout_ms 2000):
# - while another session holds an ACCESS EXCLUSIVE lock on callhook.calls, a delivery is answered 200 spooled
#   and an in-call hit {} before the lock goes, and both are stored once it has gone;
# - forced serialization failures and deadlocks are retried until the rows are stored; a failure that
#   persists is spooled (not 500) and stored once it stops;
# - a value PostgreSQL refuses (SQLSTATE 22003) is kept as outcome error with that SQLSTATE and answered 500;
#   the same body sent again after the cause is gone is applied to the same delivery;
# - an out-of-range bound is refused by `callhook check` with the file and line.
# Prints TAP.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

F=$REPO/tests/fixtures/calltracker
JSON=(-H 'Content-Type: application/json')

setup_tmp
pg_start || bail_out "PostgreSQL did not start"
write_config
config_append "$REPO/tests/fixtures/callscaler/sources.conf"
callhook_migrate || bail_out "migrate failed"
callhook_start 2 || bail_out "callhook did not start"
nginx_start || bail_out "nginx did not start"

# call ID: post Call Tracker's call.received with data.id ID (so its own body and dedup key) to source ct.
call() {
	[ -f "$T/call-$1.json" ] || sed "s/\"id\": 59179/\"id\": $1/" "$F/call_received.body" >"$T/call-$1.json"
	post POST "/hooks/ct?token=$TOKEN" "${JSON[@]}" --data-binary "@$T/call-$1.json"
}
# in_call SID: a CallScaler in-call hit for call SID.
in_call() {
	post POST "/hooks/acme-cs/in_call?token=cs-token" -H 'Content-Type: application/x-www-form-urlencoded' \
		--data-raw "From=%2B13055551212&To=%2B18005551234&CallSid=$1"
}
calls_of() { sql "select count(*) from calls where external_id = '$1'"; }
# deliveries_of ID: "count|outcome" of the deliveries of call ID's body.
deliveries_of() {
	sql "select count(*), coalesce(min(outcome), '-') from deliveries
	     where convert_from(body, 'UTF8') like '%\"id\": $1,%'"
}
stored() { [ "$(calls_of "$1")" = 1 ]; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# add_trigger NAME PLPGSQL: a BEFORE INSERT OR UPDATE trigger NAME on callhook.calls whose function, owned by
# the superuser, runs PLPGSQL (statements about NEW) and then lets the row through.
add_trigger() {
	sql_strict "
create function public.$1() returns trigger language plpgsql security definer set search_path = pg_catalog as \$\$
begin
    $2
    return new;
end \$\$;
create trigger $1 before insert or update on callhook.calls for each row execute function public.$1();" >/dev/null
}

# --- a table lock held by another session --------------------------------------------------------------
locks() {
	sql "select count(*) from pg_locks l join pg_class c on c.oid = l.relation
	     where c.relname = 'calls' and l.mode = 'AccessExclusiveLock' and l.granted"
}
locked() { [ "$(locks)" = 1 ]; }
(
	PGAPPNAME=dbwait-lock psql -X -q -h "$T/pg" -U postgres -d callhook -c 'BEGIN' \
		-c 'LOCK TABLE callhook.calls IN ACCESS EXCLUSIVE MODE' -c 'SELECT pg_sleep(60)' -c 'COMMIT' \
		>/dev/null 2>&1 || true
	echo released >>"$T/events"
) &
LOCKER=$!
ok 'wait_until "$WAIT_S" locked' "lock: another session holds ACCESS EXCLUSIVE on callhook.calls"

t0=$(now_ms)
call 70001
echo answered >>"$T/events"
elapsed=$(($(now_ms) - t0))
still=$(locks)
is "$HTTP_STATUS|$RESP_BODY" '200|{"status":"spooled"}' "lock: the delivery is answered 200 spooled"
is "$(cat "$T/events")|$still" "answered|1" "lock: the answer came while the lock was still held"
diag "lock: answered after $elapsed ms (delivery_budget_ms 3000)"

t0=$(now_ms)
in_call CA-LOCK
echo answered-in-call >>"$T/events"
elapsed=$(($(now_ms) - t0))
still=$(locks)
is "$HTTP_STATUS|$RESP_BODY" '200|{}' "lock: an in-call hit is answered {} (the call flow goes on)"
is "$(tr '\n' ' ' <"$T/events")|$still" "answered answered-in-call |1" \
	"lock: the in-call answer came while the lock was still held"
diag "lock: in-call hit answered after $elapsed ms (route_timeout_ms 2000)"
like "$(cat "$T/callhook.log")" 'could not store delivery: SQLSTATE (55P03|57014) after [0-9]+ attempts' \
	"lock: the log says the delivery was spooled after lock or statement timeouts"
is "$(sql "select count(*) from deliveries")|$(ls "$T/spool" | grep -vc '^\.')" "0|2" \
	"lock: nothing in the tables yet, two requests in the spool"

sql "select pg_cancel_backend(pid) from pg_stat_activity where application_name = 'dbwait-lock'" >/dev/null
wait_until "$WAIT_S" _not_alive "$LOCKER" || true
is "$(tr '\n' ' ' <"$T/events")" "answered answered-in-call released " "lock: released after both answers"
ok 'wait_until 20 stored 70001' "lock: the spooled delivery is stored after the lock goes"
ok 'wait_until 20 stored CA-LOCK' "lock: the spooled in-call hit is stored after the lock goes"
is "$(deliveries_of 70001)|$(calls_of 70001)" "1|stored|1" "lock: stored once, outcome stored"

# --- serialization failures and deadlocks --------------------------------------------------------------
# flaky(): for call 70002 the first two attempts raise 40001, for 70003 the first two raise 40P01 (a
# sequence counts attempts: nextval is not rolled back); for 70004 every attempt raises 40001 while
# public.always_fail holds a row.
sql_strict "
create sequence public.ser_attempts;
create sequence public.dl_attempts;
create table public.always_fail (x int);
insert into public.always_fail values (1);" >/dev/null
add_trigger flaky "
    if new.external_id = '70002' and nextval('public.ser_attempts') <= 2 then
        raise exception 'forced serialization failure' using errcode = '40001';
    elsif new.external_id = '70003' and nextval('public.dl_attempts') <= 2 then
        raise exception 'forced deadlock' using errcode = '40P01';
    elsif new.external_id = '70004' and exists (select from public.always_fail) then
        raise exception 'forced serialization failure' using errcode = '40001';
    end if;"

call 70002
is "$HTTP_STATUS|$(resp_field status)" "200|stored" "serialization failures: retried, answered stored"
is "$(calls_of 70002)|$(sql "select last_value from public.ser_attempts")" "1|3" \
	"serialization failures: the third attempt stored the row, once"
call 70003
is "$HTTP_STATUS|$(resp_field status)" "200|stored" "deadlocks: retried, answered stored"
is "$(calls_of 70003)|$(sql "select last_value from public.dl_attempts")" "1|3" \
	"deadlocks: the third attempt stored the row, once"
is "$(sql "select count(*) from deliveries where outcome = 'error'")" 0 "retried failures leave no delivery as error"

call 70004
is "$HTTP_STATUS|$RESP_BODY" '200|{"status":"spooled"}' "a persistent serialization failure: answered 200 spooled, not 500"
like "$(cat "$T/callhook.log")" 'could not store delivery: SQLSTATE 40001 after 5 attempts' \
	"a persistent serialization failure: given up after 5 attempts, logged"
is "$(calls_of 70004)|$(sql "select count(*) from deliveries where outcome = 'error'")" "0|0" \
	"a persistent serialization failure: no rows and no error delivery yet"
sql_strict "delete from public.always_fail" >/dev/null
ok 'wait_until 20 stored 70004' "a persistent serialization failure: stored once it stops"
is "$(deliveries_of 70004)" "1|stored" "a persistent serialization failure: one delivery, outcome stored"
sql_strict "drop trigger flaky on callhook.calls" >/dev/null

# --- a value PostgreSQL refuses, then the same body again ----------------------------------------------
add_trigger refuse "
    if new.external_id = '70005' then
        raise exception 'forced out of range' using errcode = '22003';
    end if;"

call 70005
is "$HTTP_STATUS|$RESP_BODY" '500|{"error":"could not store rows: SQLSTATE 22003"}' \
	"a refused value: answered 500 naming SQLSTATE 22003"
d5=$(sql "select id from deliveries where outcome = 'error'")
is "$(sql "select count(*), min(error) from deliveries where outcome = 'error'")|$(calls_of 70005)" \
	"1|could not store rows: SQLSTATE 22003|0" "a refused value: kept as error with exactly that SQLSTATE, no rows"
call 70006
is "$HTTP_STATUS|$(resp_field status)|$(calls_of 70006)" "200|stored|1" "a refused value: the worker keeps serving"

sql_strict "drop trigger refuse on callhook.calls" >/dev/null
call 70005
is "$HTTP_STATUS|$(resp_field status)|$(resp_field delivery)" "200|stored|$d5" \
	"the same body again: applied, answered stored with the same delivery id"
is "$(sql "select outcome, coalesce(error, '-') from deliveries where id = $d5")|$(calls_of 70005)" "stored|-|1" \
	"the same body again: the delivery is now stored, its rows present"
call 70005
is "$HTTP_STATUS|$(resp_field status)|$(resp_field delivery)" "200|duplicate|$d5" \
	"a third copy is a plain duplicate"

# --- an option out of range ----------------------------------------------------------------------------
sed 's/^migrate_conninfo = .*/&\nlock_timeout = 5/' "$T/callhook.conf" >"$T/bad.conf"
line=$(grep -n '^lock_timeout = 5$' "$T/bad.conf" | cut -d: -f1)
out=$(callhook_run -c "$T/bad.conf" check 2>&1) && rc=0 || rc=$?
ok '[ "$rc" -ne 0 ]' "check: exits non-zero for lock_timeout = 5"
like "$out" "$T/bad.conf:$line: lock_timeout: expected 10 to 60000" "check: names the file, the line and the range"

done_testing
