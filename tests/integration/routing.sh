#!/usr/bin/env bash
# CallScaler in-call routing through nginx: the answer is callhook.route_call()'s decision; the shipped
# default answers {}; a slow or failing function answers {} within route_timeout_ms; the example function
# of deploy/examples/route_call.sql forwards repeat callers and hangs up on the blocklist.
. "$(dirname "$0")/../lib.sh"

setup_tmp
pg_start || bail_out "PostgreSQL did not start"
write_config
sed -i 's/^spool_dir = .*/&\nroute_timeout_ms = 300/' "$T/callhook.conf"
config_append "$REPO/tests/fixtures/callscaler/sources.conf"
callhook_migrate || bail_out "migrate failed"
callhook_start 2 || bail_out "callhook did not start"
nginx_start || bail_out "nginx did not start"

hit() { # CALLSID FROM: an in-call hit as CallScaler's default form body (raw '+' in From)
	post POST "/hooks/acme-cs/in_call?token=cs-token" -H 'Content-Type: application/x-www-form-urlencoded' \
		--data-raw "From=$2&To=%2B18005551234&CallSid=$1"
}
timed_hit() {
	local t0 t1
	t0=$(date +%s%N)
	hit "$@"
	t1=$(date +%s%N)
	HIT_MS=$(((t1 - t0) / 1000000))
}

hit CA1 +13055551212
is "$HTTP_STATUS|$RESP_BODY" "200|{}" "the shipped route_call answers {}"
is "$(sql "select status, caller_number from calls where external_id = 'CA1'")" "in_progress|+13055551212" \
	"the hit created the call in progress, with the '+' restored"

sql_strict "create or replace function callhook.route_call(source text, caller text, tracking text, call_id text)
	returns jsonb language sql as \$\$ select jsonb_build_object('action', 'say', 'message', 'Hello ' || caller) \$\$" >/dev/null
hit CA2 +13055551212
is "$RESP_BODY" '{"action": "say", "message": "Hello +13055551212"}' "the answer is the function's decision"

sql_strict "create or replace function callhook.route_call(source text, caller text, tracking text, call_id text)
	returns jsonb language plpgsql as \$\$ begin perform pg_sleep(10); return '{\"action\": \"hangup\"}'; end \$\$" >/dev/null
timed_hit CA3 +13055551212
is "$HTTP_STATUS|$RESP_BODY" "200|{}" "a slow function: {} is answered"
ok "[ $HIT_MS -lt 2000 ]" "a slow function: the answer came within the bound (${HIT_MS} ms, route_timeout_ms 300)"
is "$(sql "select status from calls where external_id = 'CA3'")" in_progress "a slow function: the call is stored anyway"

sql_strict "create or replace function callhook.route_call(source text, caller text, tracking text, call_id text)
	returns jsonb language plpgsql as \$\$ begin raise exception 'broken'; end \$\$" >/dev/null
hit CA4 +13055551212
is "$HTTP_STATUS|$RESP_BODY" "200|{}" "a failing function: {} is answered"
like "$(cat "$T/callhook.log")" "routing function failed" "a failing function is logged"

# The README's example.
_psql callhook -v ON_ERROR_STOP=1 -q -f "$REPO/deploy/examples/route_call.sql" >/dev/null || bail_out "example loads"
sql_strict "update callhook.calls set answered = true, destination_number = '+14045550100',
	started_at = '2026-11-01T10:00:00Z' where external_id = 'CA1'" >/dev/null
hit CA5 +13055551212
is "$RESP_BODY" '{"action": "forward", "destination": "+14045550100"}' "example: a repeat caller goes to the number that answered"
hit CA6 +13055550000
is "$RESP_BODY" '{}' "example: a new caller goes on through the call flow"
sql_strict "insert into callhook.blocklist values ('+13055559999', 'spam')" >/dev/null
hit CA7 +13055559999
is "$RESP_BODY" '{"action": "hangup", "message": "This number cannot be connected."}' "example: a blocked caller is hung up on"

done_testing
