#!/usr/bin/env bash
# Nothing lost: bounded loads through nginx while PostgreSQL is stopped and restarted, while workers are
# killed with SIGKILL, and with the database down and the spool read-only. Every request answered 200 must
# have its delivery and rows afterwards, none twice; every request must be answered 200 (nginx resends a
# request whose worker died, to another worker or to the restarted one, so a kill costs no 502). Prints the
# figures as TAP comments.
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/load/verify.sh"
N=${FAULT_REQUESTS:-5000}

start_stack 2

spool_empty() { [ -z "$(ls -A "$T/spool" 2>/dev/null | grep '\.req$')" ]; }

# 1. PostgreSQL stopped for several seconds in the middle of the load.
load_run pgdown
# stop PostgreSQL once a tenth of the load is stored, whatever the machine's speed
wait_until 30 under_way $((N / 10)) || diag "the load ended before a tenth was stored"
pg_stop
diag "PostgreSQL stopped at $(date +%T)"
sleep 5
pg_start || bail_out "PostgreSQL did not restart"
diag "PostgreSQL started at $(date +%T)"
wait "$LOAD_PID"
t0=$SECONDS
wait_until 60 spool_empty || diag "spool still holds $(ls "$T/spool" | wc -l) files"
diag "pgdown: spool drained $((SECONDS - t0)) s after the load ended"
ok spool_empty "pgdown: the spool is empty again after PostgreSQL came back"
ok "grep -q 'spooled' '$T/pgdown.tsv'" "pgdown: some requests were spooled while PostgreSQL was down"
verify pgdown

# 2. Workers killed with SIGKILL several times during the load, with two workers and with one (what serve
# starts on 2 CPUs: no other worker takes the resent requests; they wait on the socket, which the parent keeps
# open, for the restarted one).
# kill_load NAME WORKERS: a load with callhook on WORKERS workers, killed under it, and what was stored.
kill_load() {
	local name=$1 n=$2
	callhook_stop
	callhook_start "$n" || bail_out "callhook did not start with $n worker(s)"
	reset_db
	load_run "$name"
	kill_workers_under_load "$CALLHOOK_PID"
	diag "$name: $KILLS workers killed with SIGKILL"
	ok "[ $KILLS -ge 3 ]" "$name: workers were killed at least three times while the load was running ($n worker(s))"
	ok "wait_until 10 workers_are $n" "$name: the parent restarted the killed workers ($n worker(s))"
	verify "$name"
}
kill_load kill 2
kill_load kill1 1
callhook_stop
callhook_start 2 || bail_out "callhook did not start again with two workers"

# 3. PostgreSQL down and the spool read-only: 503, never 200.
reset_db
pg_stop
chmod 0555 "$T/spool"
[ "$IS_ROOT" = 1 ] && chown root:root "$T/spool"
N=200
log_from=$(($(wc -l <"$T/callhook.log") + 1))
load_run readonly
wait "$LOAD_PID"
is "$(awk -F'\t' '$4 != 503' "$T/readonly.tsv" | wc -l | tr -d ' ')" 0 "readonly: every answer is 503 with the database down and the spool unwritable"
# callhook logs each request it answers: one 503 each, so nginx resent none of them to another worker
is "$(tail -n "+$log_from" "$T/callhook.log" | grep -c 'status=503')" "$N" \
	"readonly: nginx does not resend a request callhook answered 503 ($N requests, $N answers logged)"
own "$T/spool"
chmod 0700 "$T/spool"
pg_start || bail_out "PostgreSQL did not restart"
is "$(sql "select count(*) from callhook.deliveries")" 0 "readonly: nothing was stored (nothing was acknowledged)"
post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/json' \
	--data '{"type":"call.received","data":{"id":"after"},"timestamp":"2026-11-22T10:00:00"}'
is "$HTTP_STATUS" 200 "readonly: the same workers serve again once PostgreSQL is back"

done_testing
