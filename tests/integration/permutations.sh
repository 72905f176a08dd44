#!/usr/bin/env bash
# Order-independent merges through nginx: every permutation of a call's events, each as its own call,
# must end in exactly the same row. CallRail: pre-call, routing complete, post-call, call modified
# (the modification's note must win even when the post-call comes last). Salpre: initiated, ringing,
# answered, ended. Call Tracker: received, finished, recording available.
. "$(dirname "$0")/../lib.sh"
FIX=$REPO/tests/fixtures

setup_tmp
pg_start || bail_out "PostgreSQL did not start"
write_config
config_append /dev/stdin <<'EOF2'
[source perm-cr]
vendor = callrail
token = perm-token

[source perm-salpre]
vendor = salpre
token = perm-token
EOF2
callhook_migrate || bail_out "migrate failed"
callhook_start 2 || bail_out "callhook did not start"
nginx_start || bail_out "nginx did not start"

# The row of each permuted call, without what names the call or records arrival times.
row_shapes() { # SOURCE PREFIX
	sql "select count(distinct replace((to_jsonb(c) - 'id' - 'first_seen_at' - 'last_event_at' - 'field_times')::text,
		c.external_id, 'X')) || '|' || count(*) from callhook.calls c where source = '$1' and external_id like '$2%'"
}

permute() { # NAME SOURCE PREFIX ID_REGEX EVENT...
	local name=$1 source=$2 prefix=$3 re=$4 out
	shift 4
	out=$(python3 "$REPO/tests/load/permute.py" --port "$NGINX_PORT" --prefix "$prefix" --id-pattern "$re" \
		--header "Authorization: Bearer perm-token" "$@" 2>&1)
	local n=$(( $(grep -c . <<<"$out") ))
	is "$(grep -vc ' 200\(,200\)*$' <<<"$out")" 0 "$name: all $n orders were answered 200 for every event"
}

# CallRail: the call id of each body is its resource_id.
permute callrail perm-cr CRP '"resource_id":"([A-Za-z0-9]+)"' \
	"/hooks/perm-cr/pre_call@$FIX/callrail/pre_call.body" \
	"/hooks/perm-cr/call_routing_complete@$FIX/callrail/call_routing_complete.body" \
	"/hooks/perm-cr/post_call@$FIX/callrail/post_call_answered.body" \
	"/hooks/perm-cr/call_modified@$FIX/callrail/call_modified.body"
is "$(row_shapes perm-cr CRP)" "1|24" "callrail: the 24 orders end in one and the same calls row"
is "$(sql "select distinct status || '|' || note from callhook.calls where source = 'perm-cr'")" \
	"completed|Customer wants a quote Tuesday" "callrail: completed, with the modification's note in every order"

permute salpre perm-salpre SP '"call_id": *([0-9]+)' \
	"/hooks/perm-salpre@$FIX/salpre/lifecycle.1.body" "/hooks/perm-salpre@$FIX/salpre/lifecycle.2.body" \
	"/hooks/perm-salpre@$FIX/salpre/lifecycle.3.body" "/hooks/perm-salpre@$FIX/salpre/lifecycle.4.body"
is "$(row_shapes perm-salpre SP)" "1|24" "salpre: the 24 orders end in one and the same calls row"
is "$(sql "select distinct status from callhook.calls where source = 'perm-salpre'")" completed \
	"salpre: completed in every order"
is "$(sql "select count(distinct n) from (select call_external_id, count(*) n from callhook.transcript_segments
	where source = 'perm-salpre' group by 1) s")" 1 "salpre: every order keeps the same number of transcript segments"

permute calltracker ct-open CT '"id": (59179)' \
	"/hooks/ct-open@$FIX/calltracker/call_received.body" \
	"/hooks/ct-open@$FIX/calltracker/call_finished.body" \
	"/hooks/ct-open@$FIX/calltracker/call_recording_available.body"
is "$(row_shapes ct-open CT)" "1|6" "calltracker: the 6 orders end in one and the same calls row"

done_testing
