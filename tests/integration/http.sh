#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2317  # ok takes code in single quotes; functions called through ok/wait_until
# The HTTP contract through a real nginx with the shipped snippet: one or more checks per row of the README's
# HTTP table, credentials by query and by Authorization header, secrets kept out of rows and logs, the
# spool while PostgreSQL is down, health, and a clean stop on SIGTERM. Prints TAP.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

F=$REPO/tests/fixtures/calltracker
JSON=(-H 'Content-Type: application/json')
BEARER=(-H "Authorization: Bearer $TOKEN")

setup_tmp
prepare_callhook

# --- the shipped nginx files, verbatim, at http level -------------------------------------------------
mkdir -p "$T/nginx-t/tmp"
cp /etc/nginx/fastcgi_params "$T/nginx-t/"
cat >"$T/nginx-t/nginx.conf" <<EOF
pid $T/nginx-t/nginx.pid;
error_log $T/nginx-t/error.log;
events { worker_connections 16; }
http {
    client_body_temp_path $T/nginx-t/tmp/body;
    fastcgi_temp_path $T/nginx-t/tmp/fastcgi;
    proxy_temp_path $T/nginx-t/tmp/proxy;
    scgi_temp_path $T/nginx-t/tmp/scgi;
    uwsgi_temp_path $T/nginx-t/tmp/uwsgi;
    access_log $T/nginx-t/access.log;
    include $REPO/deploy/nginx/callhook-upstream.conf;
    server {
        listen 127.0.0.1:8080;
        location /hooks/ { include $REPO/deploy/nginx/callhook.conf; }
    }
}
EOF
out=$(nginx -t -p "$T/nginx-t/" -c "$T/nginx-t/nginx.conf" -e "$T/nginx-t/error.log" 2>&1) && rc=0 || rc=$?
is "$rc" 0 "nginx -t accepts deploy/nginx/callhook-upstream.conf and deploy/nginx/callhook.conf"
[ "$rc" = 0 ] || diag "$out"

pg_start || bail_out "PostgreSQL starts"
write_config max_body=64k
callhook_migrate || bail_out "callhook migrate succeeds"
callhook_start 2 || bail_out "callhook serve starts"
nginx_start || bail_out "nginx starts"

count() { sql "select count(*) from deliveries${1:+ where $1}"; }
compact() { tr -d '[:space:]' <<<"$RESP_BODY"; }

# --- health -------------------------------------------------------------------------------------------
post GET /hooks/-/health
is "$HTTP_STATUS" 200 "health: 200 while PostgreSQL is up"
post GET /hooks/-/health --interface 127.0.0.2
is "$HTTP_STATUS" 403 "health: nginx answers 403 to a client other than 127.0.0.1/::1"

# --- stored and normalized ----------------------------------------------------------------------------
post POST "/hooks/ct?token=$TOKEN&campaign=spring" "${JSON[@]}" --data-binary "@$F/call_received.body"
is "$HTTP_STATUS" 200 "stored: HTTP 200"
is "$(resp_field status)" stored "stored: \"status\":\"stored\""
d1=$(resp_field delivery)
like "$d1" '^[0-9]+$' "stored: \"delivery\" is an id"
[[ $d1 =~ ^[0-9]+$ ]] || d1=0
is "$(sql "select source, vendor, event, outcome from deliveries where id = $d1")" \
	"ct|calltracker|call.received|stored" "stored: the delivery row has that id"
is "$(sql "select count(*) from calls where external_id = '59179'")" 1 "stored: the calls row exists"
q=$(sql "select query from deliveries where id = $d1")
like "$q" 'campaign=spring' "stored: deliveries.query keeps the other query parameters"
unlike "$q" "$TOKEN" "stored: deliveries.query does not contain the token"

# --- duplicate ----------------------------------------------------------------------------------------
post POST "/hooks/ct?token=$TOKEN&campaign=spring" "${JSON[@]}" --data-binary "@$F/call_received.body"
is "$HTTP_STATUS" 200 "duplicate: HTTP 200"
is "$(resp_field status)" duplicate "duplicate: \"status\":\"duplicate\""
is "$(resp_field delivery)" "$d1" "duplicate: the first delivery's id"
is "$(count)" 1 "duplicate: nothing new stored"

# --- token as Authorization: Bearer -------------------------------------------------------------------
post POST /hooks/ct "${JSON[@]}" "${BEARER[@]}" --data-binary "@$F/message_sent.body"
is "$HTTP_STATUS" 200 "bearer token: HTTP 200"
is "$(resp_field status)" stored "bearer token: stored"
is "$(count "event = 'message.sent'")" 1 "bearer token: delivery stored"

# --- source without credentials -----------------------------------------------------------------------
post POST /hooks/ct-open "${JSON[@]}" --data-binary "@$F/usage_created.body"
is "$HTTP_STATUS:$(resp_field status)" "200:stored" "allow_unauthenticated source: stored without credentials"

# --- ignored ------------------------------------------------------------------------------------------
post POST "/hooks/ct?token=$TOKEN" "${JSON[@]}" --data-binary "@$F/unknown_event.body"
is "$HTTP_STATUS" 200 "ignored: HTTP 200 for a well-formed unknown event type"
is "$(resp_field status)" ignored "ignored: \"status\":\"ignored\""
is "$(sql "select outcome from deliveries where event = 'call.transferred'")" ignored "ignored: raw delivery kept"

# --- malformed body and wrong types -------------------------------------------------------------------
post POST "/hooks/ct?token=$TOKEN" "${JSON[@]}" --data-binary "@$F/malformed_call_received.body"
is "$HTTP_STATUS" 400 "malformed: HTTP 400"
# The body lacks the ',' before "data", the 45th byte (byte 44 counting from 0).
is "$(resp_field error)" "body: invalid JSON at byte 44: object value separator ',' expected" \
	"malformed: {\"error\":\"…\"} says what is wrong"
is "$(count "outcome = 'rejected'")" 1 "malformed: delivery kept as rejected"
post POST "/hooks/ct?token=$TOKEN" "${JSON[@]}" --data-binary "@$F/call_bad_duration.body"
is "$HTTP_STATUS" 400 "wrong type: HTTP 400"
is "$(resp_field error)" 'field \"data.call_duration\": expected an integer' "wrong type: the error names the field"
is "$(count "outcome = 'rejected'")" 2 "wrong type: delivery kept as rejected"

# --- nothing is stored for any of the following -------------------------------------------------------
before=$(count)

post POST "/hooks/ct?token=wrong-token" "${JSON[@]}" --data-binary "@$F/call_finished.body"
is "$HTTP_STATUS" 401 "unauthorized: wrong ?token= gets 401"
is "$(compact)" '{"error":"unauthorized"}' "unauthorized: wrong token body"
post POST /hooks/ct "${JSON[@]}" --data-binary "@$F/call_finished.body"
is "$HTTP_STATUS" 401 "unauthorized: missing token gets 401"
is "$(compact)" '{"error":"unauthorized"}' "unauthorized: missing token, same body"
post POST /hooks/ct "${JSON[@]}" -H 'Authorization: Bearer wrong-token' --data-binary "@$F/call_finished.body"
is "$HTTP_STATUS" 401 "unauthorized: wrong bearer token gets 401"
is "$(compact)" '{"error":"unauthorized"}' "unauthorized: wrong bearer token, same body"

post POST "/hooks/nope?token=$TOKEN" "${JSON[@]}" --data-binary "@$F/call_finished.body"
is "$HTTP_STATUS" 404 "unknown source: 404"
post POST "/hooks/" "${JSON[@]}" --data-binary "@$F/call_finished.body"
is "$HTTP_STATUS" 404 "no source in the path: 404"

post DELETE "/hooks/ct?token=$TOKEN"
is "$HTTP_STATUS" 405 "method not allowed: DELETE gets 405"
like "$(resp_header Allow)" 'POST' "method not allowed: Allow header lists POST"
post GET "/hooks/ct?token=$TOKEN"
is "$HTTP_STATUS" 405 "method not allowed: GET to a Call Tracker source gets 405"

{
	printf '{"type":"call.received","object":"call","data":{"id":1,"pad":"'
	head -c 102400 /dev/zero | tr '\0' x
	printf '"},"timestamp":"2019-03-09T09:09:52.010"}'
} >"$T/big.json"
post POST "/hooks/ct?token=$TOKEN" "${JSON[@]}" --data-binary "@$T/big.json"
is "$HTTP_STATUS" 413 "body over max_body (64k): 413 from callhook (nginx allows 1m)"

post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: text/plain' --data-binary "@$F/call_finished.body"
is "$HTTP_STATUS" 415 "unsupported content type: text/plain gets 415"

is "$(count)" "$before" "nothing stored for 401, 404, 405, 413 and 415"
is "$(sql "select count(*) from deliveries d where d::text like '%$TOKEN%'")" 0 \
	"no delivery row contains the token (query, headers, error)"

# --- database down: spooled, then replayed ------------------------------------------------------------
pg_stop
post POST /hooks/ct "${JSON[@]}" "${BEARER[@]}" --data-binary "@$F/message_received.body"
is "$HTTP_STATUS" 200 "spooled: HTTP 200 while PostgreSQL is down"
is "$(resp_field status)" spooled "spooled: \"status\":\"spooled\""
pg_start || bail_out "PostgreSQL starts again"
replayed() {
	[ "$(count "event = 'message.received'")" = 1 ] && return 0
	post POST /hooks/ct "${JSON[@]}" "${BEARER[@]}" --data-binary "@$F/message_sent.body"
	sleep 0.5
	return 1
}
ok 'wait_until 15 replayed' "spooled: the delivery reaches PostgreSQL within 15 s of its return"
is "$(sql "select outcome from deliveries where event = 'message.received'")" stored "spooled: replayed as stored"
is "$(sql "select direction, from_number from messages where external_id = '139'")" "inbound|+18558871739" \
	"spooled: the message row exists after the replay"

# --- database down and spool unusable: 503 ------------------------------------------------------------
pg_stop
chmod 0555 "$T/spool"
[ "$IS_ROOT" = 0 ] || chown root:root "$T/spool"
post POST "/hooks/ct?token=$TOKEN" "${JSON[@]}" --data-binary "@$F/tracker_created.body"
is "$HTTP_STATUS" 503 "database down and spool not writable: 503"
like "$(resp_header Retry-After)" '^[0-9]+$' "503 carries Retry-After"
post GET /hooks/-/health
is "$HTTP_STATUS" 503 "health: 503 while PostgreSQL is down and the spool is not writable"
chmod 0700 "$T/spool"
own "$T/spool"
pg_start || bail_out "PostgreSQL starts again"

post POST /hooks/ct "${JSON[@]}" "${BEARER[@]}" --data-binary "@$F/call_finished.body"
reconnected() {
	[ "$HTTP_STATUS:$(resp_field status)" = "200:stored" ] && return 0
	sleep 0.5
	post POST /hooks/ct "${JSON[@]}" "${BEARER[@]}" --data-binary "@$F/call_finished.body"
	return 1
}
ok 'wait_until 15 reconnected' "after PostgreSQL returns, a new delivery is stored (callhook reconnects)"
post GET /hooks/-/health
is "$HTTP_STATUS" 200 "health: 200 again"
is "$(count "event = 'tracker.created'")" 0 "the 503 request was not stored"

# --- secrets stay out of the logs ---------------------------------------------------------------------
ok '! grep -qF "$TOKEN" "$T/callhook.log"' "callhook's log does not contain the token"
ok '! grep -qF "$TOKEN" "$T/nginx/access.log"' "nginx's access log does not contain the token"
ok '! grep -qF "$TOKEN" "$T/nginx/error.log"' "nginx's error log does not contain the token"

callhook_stop && rc=0 || rc=$?
is "$rc" 0 "callhook exits 0 on SIGTERM"
done_testing
