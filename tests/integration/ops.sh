#!/usr/bin/env bash
# Operations: /hooks/-/metrics sums the requests of every worker; SIGHUP reloads the config without
# dropping a request; a broken config is refused with a logged reason and the old one keeps serving;
# one log line per request, without payload or secret.
. "$(dirname "$0")/../lib.sh"

# A connection per request: with the shipped fastcgi_keep_conn, one client's requests one after the other
# all go over one kept connection, to one worker, and the metrics' sum over workers would not be shown.
NGINX_KEEP_CONN=off start_stack 2

send() { # N PREFIX: N distinct Call Tracker calls
	local i
	for ((i = 0; i < $1; i++)); do
		post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/json' \
			--data "{\"type\":\"call.received\",\"data\":{\"id\":\"$2$i\",\"caller_name\":\"Payload Secret $i\"}}"
		[ "$HTTP_STATUS" = 200 ] || echo "request $i: $HTTP_STATUS" >>"$T/send.err"
	done
}

send 40 m
for i in 1 2 3; do post POST "/hooks/ct?token=wrong" -H 'Content-Type: application/json' --data '{}'; done
post GET /hooks/-/metrics
metrics=$RESP_BODY
is "$HTTP_STATUS" 200 "metrics answer 200"
like "$(cat "$T/resp.headers")" "Content-Type: text/plain; version=0.0.4" "metrics are Prometheus text"
is "$(grep '^callhook_requests_total{source="ct",vendor="calltracker",outcome="stored",status="200"}' <<<"$metrics" | awk '{print $2}')" 40 \
	"metrics count the 40 stored requests"
is "$(grep '^callhook_requests_total{source="ct",vendor="calltracker",outcome="-",status="401"}' <<<"$metrics" | awk '{print $2}')" 3 \
	"metrics count the 3 unauthorized requests"
is "$(grep '^callhook_request_duration_seconds_count' <<<"$metrics" | awk '{print $2}')" 43 "the latency histogram counts 43"
is "$(grep '^callhook_workers' <<<"$metrics" | awk '{print $2}')" 2 "two workers"
workers_seen=$(grep -o 'callhook\[[0-9]*\]: LOG: request: source=ct' "$T/callhook.log" | sort -u | wc -l)
ok "[ $workers_seen -ge 2 ]" "both workers answered requests ($workers_seen pids), and the metrics are their sum"
is "$(grep -c 'LOG: request: source=ct event=call.received outcome=stored status=200 ms=[0-9.]* delivery=[0-9]*$' "$T/callhook.log")" 40 \
	"one log line per stored request with source, event, outcome, status, ms and delivery id"
unlike "$(cat "$T/callhook.log")" "Payload Secret|$TOKEN" "no payload content or token in the log"

# Reload: a new source appears, without dropping requests sent meanwhile.
send 60 r &
sender=$!
sleep 0.3
cat >>"$T/callhook.conf" <<'EOF2'

[source added]
vendor = calltracker
allow_unauthenticated = yes
EOF2
kill -HUP "$CALLHOOK_PID"
wait "$sender"
ok "[ ! -s '$T/send.err' ]" "no request failed during the reload"
[ -s "$T/send.err" ] && diag "$(cat "$T/send.err")"
wait_until 10 grep -q 'configuration reloaded' "$T/callhook.log"
like "$(cat "$T/callhook.log")" "configuration reloaded" "SIGHUP reloads the configuration"
post POST /hooks/added -H 'Content-Type: application/json' --data '{"type":"call.received","data":{"id":"n1"}}'
is "$HTTP_STATUS" 200 "the new source answers after the reload"

# A broken config is refused; the old one keeps serving.
echo "bogus_key = 1" >>"$T/callhook.conf"
bogus_line=$(wc -l <"$T/callhook.conf")
kill -HUP "$CALLHOOK_PID"
wait_until 10 grep -q 'configuration not reloaded' "$T/callhook.log"
# log_lines TEXT: how many lines of the log are exactly TEXT
log_lines() { grep -cxF -- "$1" "$T/callhook.log" || true; }
is "$(log_lines "callhook[$CALLHOOK_PID]: ERROR: $T/callhook.conf:$bogus_line: unknown key \"bogus_key\" in [source added]")" 1 \
	"the refused config's problem is logged with its line"
is "$(log_lines "callhook[$CALLHOOK_PID]: ERROR: configuration not reloaded: keeping the old one")" 1 \
	"the broken config is refused"
post POST /hooks/added -H 'Content-Type: application/json' --data '{"type":"call.received","data":{"id":"n2"}}'
is "$HTTP_STATUS" 200 "the old configuration keeps serving"
ok "pid_alive $CALLHOOK_PID" "serve is still running"

# fastcgi_keep_conn: one worker answers request after request on the connection nginx keeps open, and
# still stops at once on SIGTERM.
callhook_stop
sed -i '/^bogus_key = 1$/d' "$T/callhook.conf"
callhook_start 1 || bail_out "callhook did not start"
sed -i 's|^\( *upstream callhook {\)$|\1 keepalive 2;|; s|include \(.*\)/deploy/nginx/callhook.conf;|include \1/deploy/nginx/callhook.conf; fastcgi_keep_conn on;|' "$T/nginx/nginx.conf"
kill -HUP "$NGINX_PID"
sleep 1
codes=
for i in 1 2 3 4 5 6 7 8 9 10; do
	post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/json' --max-time 3 \
		--data "{\"type\":\"call.received\",\"data\":{\"id\":\"k$i\"}}"
	codes="$codes$HTTP_STATUS "
done
is "$codes" "200 200 200 200 200 200 200 200 200 200 " "keep_conn: one worker answers ten requests in a row on a kept connection"
t0=$SECONDS
callhook_stop
ok "[ $((SECONDS - t0)) -lt 10 ]" "keep_conn: serve stops promptly on SIGTERM with a connection kept open ($((SECONDS - t0)) s)"

done_testing
