#!/usr/bin/env bash
# shellcheck disable=SC2016  # ok takes code in single quotes
# callhook forget: caller A (+1 770 555 5555) calls, texts, leaves a voicemail, fills a form and talks to a
# Salpre agent through four vendors, in several spellings (+17705555555, 7705555555, 770-555-5555,
# (770) 555-5555, a Fone Dynamics GET with %2B17705555555 in the query); caller B does the same with
# another number. One request of each waits in the spool (callhook stopped before PostgreSQL came back),
# and a copy of A's sits in the quarantine folder. Then: a tracking number, a device URI and a config
# without erasure_key are refused and change nothing; --dry-run counts and changes nothing; forget removes
# A: pg_dump (whole and data only) and the spool hold none of A's spellings, B's rows are all there, the
# audit row holds the HMAC computed here with openssl and the counts; replay and a restart bring nothing
# of A back. Prints TAP.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

KEY=forget-test-key-6d2f0b9a
A=+17705555555
B=+13055559876
A_SPELLINGS=("+17705555555" "7705555555" "770-555-5555" "(770) 555-5555" "%2B17705555555")
B_SPELLINGS=("+13055559876" "305-555-9876" "%2B13055559876")
JSON=(-H 'Content-Type: application/json')
CR_KEY=072e77e426f92738a72fe23c4d1953b4

setup_tmp
pg_start || bail_out "PostgreSQL did not start"
write_config
sed -i "/^migrate_conninfo/a erasure_key = $KEY" "$T/callhook.conf"
for v in callrail salpre callscaler fonedynamics; do
	config_append "$REPO/tests/fixtures/$v/sources.conf"
done
callhook_migrate || bail_out "migrate failed"
callhook_start 2 || bail_out "callhook did not start"
nginx_start || bail_out "nginx did not start"

# --- the deliveries -----------------------------------------------------------------------------------

ct_call() { # ID CALLER
	printf '{"type":"call.received","object":"call","data":{"id":%s,"caller_number":"%s","tracking_number":"+12702822733","status":"ringing","tracker_id":1570,"timestamp":"2024-05-01T10:00:00Z"},"timestamp":"2024-05-01T10:00:01.000"}' "$1" "$2"
}
ct_message() { # ID FROM
	printf '{"type":"message.received","object":"message","data":{"id":%s,"direction":"incoming","from_number":"%s","to_number":"+18556000724","body":"hello","timestamp":"2024-05-01T10:05:00Z"},"timestamp":"2024-05-01T10:05:01.000"}' "$1" "$2"
}
ct_voicemail() { # ID CALL_ID CALLER
	printf '{"type":"voicemail.received","object":"voicemail","data":{"id":%s,"call_id":%s,"caller_number":"%s","tracking_number":"+12702822733","recording":"https://example.com/vm.wav","recording_duration":9,"transcription":"call me back"},"timestamp":"2024-05-01T10:06:00.000"}' "$1" "$2" "$3"
}
cr_form() { # RESOURCE_ID PHONE
	printf '{"id":1,"resource_id":"%s","form_data":{"name":"Someone","phone_number":"%s"},"form_url":"https://example.com/contact","submitted_at":"2024-05-01T10:07:12.000-04:00"}' "$1" "$2"
}
sp_live() { # CALL_ID: a live transcript turn that names only the call id
	printf '{"event_type":"transcript","timestamp_utc":1714557600,"payload":{"call":{"id":"%s"},"type":"customer","transcript":"my address is 12 Elm St","timestamp_utc":"1714557600"},"is_test":false}' "$1"
}
sp_ended() { # CALL_ID FROM
	printf '{"event_type":"call_ended","timestamp_utc":1714557700,"payload":{"from":"%s","to":"+18005550100","direction":"inbound","call_id":"%s","transcript":[{"type":"ai","message":"hello"},{"type":"customer","message":"hi there","utc_timestamp":"1714557650"}]},"is_test":false}' "$2" "$1"
}
sp_error() { # CALL_ID
	printf '{"event_type":"error","timestamp_utc":1714557710,"payload":{"call":{"id":"%s"},"error_message":"line dropped"},"is_test":false}' "$1"
}
fd_query() { # SID FROM (percent-encoded)
	printf 'token=fd-token&Action=Webhook&Event=Call.Complete&Call.Sid=%s&Call.StartDate=2024-05-01+09%%3A58%%3A00&Call.From=%s&Call.To=%%2B61291234567&Call.Duration=60&Call.Disposition=ANSWERED' "$1" "$2"
}

# send WHAT METHOD PATH ARGS...: a request through nginx that must be answered 200 stored. A_BYTES adds up
# the bodies sent for A.
A_BYTES=0
send() {
	local what=$1
	shift
	[ "${what:0:2}" != "A " ] || [ "$1" = GET ] || A_BYTES=$((A_BYTES + ${#4}))
	post "$@"
	[ "$HTTP_STATUS $(resp_field status)" = "200 stored" ] || diag "$what: $HTTP_STATUS $RESP_BODY"
}
ct() { send "$1" POST "/hooks/ct?token=$TOKEN" --data-binary "$2" "${JSON[@]}"; }
sp() { send "$1" POST /hooks/acme-salpre --data-binary "$2" "${JSON[@]}" -H 'X-Api-Key: salpre-key'; }
cr() {
	local sig
	sig=$(printf '%s' "$2" | openssl dgst -sha1 -hmac "$CR_KEY" -binary | openssl base64 -A)
	send "$1" POST /hooks/acme-callrail/form_submission --data-binary "$2" "${JSON[@]}" -H "Signature: $sig"
}
fd() { send "$1" GET "/hooks/acme-fd?$2"; }

ct "A call" "$(ct_call 70001 "$A")"
ct "A message" "$(ct_message 70002 7705555555)"
ct "A voicemail" "$(ct_voicemail 70003 70001 770-555-5555)"
cr "A form" "$(cr_form FRMaaaa0000000000000000000000000001 770-555-5555)"
sp "A live turn" "$(sp_live spA0001)"
sp "A Salpre call" "$(sp_ended spA0001 "$A")"
sp "A Salpre error" "$(sp_error spA0001)"
fd "A Fone Dynamics GET" "$(fd_query CAforgetA0001 %2B17705555555)"

ct "B call" "$(ct_call 70101 "$B")"
cr "B form" "$(cr_form FRMbbbb0000000000000000000000000001 305-555-9876)"
sp "B Salpre call" "$(sp_ended spB0001 "$B")"
fd "B Fone Dynamics GET" "$(fd_query CAforgetB0001 %2B13055559876)"

# One request of each caller waits in the spool: PostgreSQL stops, both are spooled, callhook stops before
# PostgreSQL comes back, so nothing drains them. A copy of A's goes to the quarantine folder too.
pg_stop
post POST "/hooks/ct?token=$TOKEN" "${JSON[@]}" --data-binary "$(ct_call 70004 '(770) 555-5555')"
is "$HTTP_STATUS $(resp_field status)" "200 spooled" "A's later call is spooled while PostgreSQL is down"
post POST "/hooks/ct?token=$TOKEN" "${JSON[@]}" --data-binary "$(ct_message 70102 "$B")"
is "$HTTP_STATUS $(resp_field status)" "200 spooled" "B's later message is spooled while PostgreSQL is down"
callhook_stop || true
pg_start || bail_out "PostgreSQL did not start again"
S=$T/spool
mkdir -p "$S/quarantine"
chmod 0700 "$S/quarantine"
a_file=$(grep -l '(770) 555-5555' "$S"/*.req)
b_file=$(grep -l "$B" "$S"/*.req)
cp -p "$a_file" "$S/quarantine/a-copy.req"
own "$S/quarantine" "$S/quarantine/a-copy.req"
is "$(find "$S" -type f -name '*.req' | wc -l)" 3 "three spool files: A's, its quarantined copy, B's"

# --- what each caller has -----------------------------------------------------------------------------

# rows WHO: calls|messages|voicemails|form_submissions|transcript_segments|call_events|deliveries of a caller,
# found by the ids and numbers written above.
rows() {
	local calls msgs vms forms segs ev dels
	if [ "$1" = A ]; then
		calls="'70001','70004','spA0001','CAforgetA0001'" msgs="'70002'" vms="'70003'" segs="'spA0001'"
		forms="'FRMaaaa0000000000000000000000000001'" dels="'%7705555555%','%770-555-5555%','%spA0001%'"
	else
		calls="'70101','spB0001','CAforgetB0001'" msgs="'70102'" vms="''" segs="'spB0001'"
		forms="'FRMbbbb0000000000000000000000000001'" dels="'%3055559876%','%305-555-9876%','%spB0001%'"
	fi
	sql "select (select count(*) from calls where external_id in ($calls)) || '|' ||
		(select count(*) from messages where external_id in ($msgs)) || '|' ||
		(select count(*) from voicemails where external_id in ($vms) or caller_number_e164 = '$(eval echo "\$$1")') || '|' ||
		(select count(*) from form_submissions where external_id in ($forms)) || '|' ||
		(select count(*) from transcript_segments where call_external_id in ($segs)) || '|' ||
		(select count(*) from call_events where call_external_id in ($segs)) || '|' ||
		(select count(*) from deliveries where encode(body, 'escape') like any (array[$dels])
			or query like any (array[$dels]))"
}
# dump_count [pg_dump options]: how many lines of the dump hold any of A's spellings.
dump_count() {
	local dump f n=0
	dump=$(pg_dump -h "$T/pg" -U postgres -d callhook "$@")
	for f in "${A_SPELLINGS[@]}"; do
		n=$((n + $(grep -cF -- "$f" <<<"$dump" || true)))
	done
	printf '%s' "$n"
}
forget() { callhook_run -c "$T/callhook.conf" forget "$@"; }
snapshot() {
	sql "select (select count(*) from calls) || '|' || (select count(*) from messages) || '|' ||
		(select count(*) from voicemails) || '|' || (select count(*) from form_submissions) || '|' ||
		(select count(*) from transcript_segments) || '|' || (select count(*) from call_events) || '|' ||
		(select count(*) from deliveries) || '|' || (select count(*) from erasures)"
}

is "$(rows A)" "3|1|1|1|2|1|8" "A has 3 calls, a message, a voicemail, a form, 2 transcript turns, an event, 8 deliveries"
is "$(rows B)" "3|0|0|1|2|0|4" "B has 3 calls, a form, 2 transcript turns and 4 deliveries"
before=$(snapshot)
is "$before" "6|1|1|2|4|1|12|0" "the tables hold both callers' rows and no erasure"
ok '[ "$(dump_count)" -gt 0 ]' "before forget, pg_dump holds A's number"

# --- refusals -----------------------------------------------------------------------------------------

out=$(forget +12702822733 2>&1) && rc=0 || rc=$?
is "$rc" 1 "forget of a tracking number fails"
like "$out" "one of the business's tracking or destination numbers" "and says it is the business's number"
out=$(forget +18005550100 2>&1) && rc=0 || rc=$?
is "$rc" 1 "forget of the Salpre agent's number (tracking side of inbound calls) fails too"
out=$(forget salprebox:SALPRE_AABBCCDD 2>&1) && rc=0 || rc=$?
is "$rc $out" "1 callhook: forget: not a phone number (give it in E.164, e.g. +17705555555)" \
	"a salprebox: device URI is not a phone number"
grep -v '^erasure_key' "$T/callhook.conf" >"$T/nokey.conf"
out=$(callhook_run -c "$T/nokey.conf" forget "$A" 2>&1) && rc=0 || rc=$?
is "$rc" 1 "forget without erasure_key fails"
like "$out" "set erasure_key in \[database\]" "and names the option to set"
is "$(snapshot)" "$before" "the refusals changed nothing"

# --- dry run --------------------------------------------------------------------------------------------

want_counts="calls 3
messages 1
voicemails 1
form_submissions 1
transcript_segments 2
call_events 1
deliveries 8
spool_files 2"
counts() { awk '$1 != "delivery_bytes" && $1 != "spool_bytes" && NF == 2 && $2 ~ /^[0-9]+$/ { print $1, $2 }' <<<"$1"; }
out=$(callhook_run -c "$T/nokey.conf" forget --dry-run 770-555-5555 2>&1) && rc=0 || rc=$?
is "$rc" 0 "forget --dry-run 770-555-5555 succeeds, without erasure_key"
like "$out" "^would forget \+17705555555:" "it normalizes 770-555-5555 to +17705555555"
is "$(counts "$out")" "$want_counts" "it counts A's rows, deliveries and spool files"
is "$(snapshot)" "$before" "the dry run changed no row and wrote no erasure"
is "$(find "$S" -type f -name '*.req' | wc -l)" 3 "the dry run removed no spool file"

# --- forget -------------------------------------------------------------------------------------------

out=$(forget 7705555555 2>&1) && rc=0 || rc=$?
is "$rc" 0 "forget 7705555555 succeeds"
is "$(counts "$out")" "$want_counts" "it prints what it removed"
like "$out" "done: " "and says it is done"
is "$(rows A)" "0|0|0|0|0|0|0" "nothing of A is left in any table"
is "$(rows B)" "3|0|0|1|2|0|4" "B's rows and deliveries are all there"
is "$(snapshot)" "3|0|0|1|2|0|4|1" "the tables hold B's rows and one erasure"
is "$(dump_count)" 0 "pg_dump holds none of A's spellings"
is "$(dump_count --data-only)" 0 "pg_dump --data-only holds none of them either"
b_dump=$(pg_dump -h "$T/pg" -U postgres -d callhook --data-only)
for f in "${B_SPELLINGS[@]}"; do
	ok 'grep -qF -- "$f" <<<"$b_dump"' "pg_dump still holds B's $f"
done

hmac=$(printf '%s' "$A" | openssl dgst -sha256 -hmac "$KEY" | sed 's/^.*= //')
is "$(sql "select number_hmac from erasures")" "$hmac" "the audit row holds the HMAC-SHA256 of +17705555555 under erasure_key"
is "$(sql "select counts::text from erasures")" \
	'{"calls": 3, "messages": 1, "deliveries": 8, "voicemails": 1, "call_events": 1, "delivery_bytes": '$A_BYTES', "form_submissions": 1, "transcript_segments": 2}' \
	"and the counts, with the bytes of A's seven bodies ($A_BYTES)"
unlike "$(sql "select to_jsonb(e)::text from erasures e")" "7705555555|$KEY" "the audit row holds neither the number nor the key"

is "$(find "$S" -type f -name '*.req' -printf '%P\n' | sort)" "${b_file##*/}" "only B's spool file is left"
is "$(grep -rlF -e 7705555555 -e 770-555-5555 -e '(770) 555-5555' "$S" | wc -l)" 0 "no file of the spool holds A's number"

# --- nothing comes back -------------------------------------------------------------------------------

callhook_start 2 || bail_out "callhook did not start again"
b_drained() { [ "$(sql "select count(*) from messages where external_id = '70102'")" = 1 ]; }
ok 'wait_until "$WAIT_S" b_drained' "B's spooled message is stored once callhook runs again"
out=$(callhook_run -c "$T/callhook.conf" replay 2>&1) && rc=0 || rc=$?
is "$rc" 0 "callhook replay succeeds"
like "$out" "replayed 5 deliveries" "it replays B's five deliveries"
is "$(rows A)" "0|0|0|0|0|0|0" "after the replay nothing of A is back"
is "$(rows B)" "3|1|0|1|2|0|5" "B's rows are there, with the drained message"
is "$(dump_count)" 0 "pg_dump still holds none of A's spellings"
is "$(find "$S" -type f -name '*.req' | wc -l)" 0 "the spool is empty"

done_testing
