#!/usr/bin/env bash
# Run callhook for real on this machine: install the dependencies, build, start a PostgreSQL cluster, callhook
# and nginx on 127.0.0.1:8080 (all under $CALLHOOK_DEMO_DIR, default /tmp/callhook-demo), post the sample Call
# Tracker webhooks from tests/fixtures/calltracker and samples of the other four vendors, and show the rows. Everything keeps running afterwards.
#
#   deploy/demo.sh [start]   set up (or restart) and post the samples
#   deploy/demo.sh stop      stop callhook, nginx and PostgreSQL (by pid); the data stays in the demo dir
#
# Environment: CALLHOOK_SKIP_DEPS=1 skips deploy/install-deps.sh; CALLHOOK_DEMO_PORT (default 8080).
set -euo pipefail

T=${CALLHOOK_DEMO_DIR:-/tmp/callhook-demo}
LIB_DETACH=1
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../tests/lib.sh"
WAIT_S=20
cd "$REPO"

say() { printf '\033[1m%s\033[0m\n' "$*"; }

# stop_demo: stop whatever a previous run left, by the pids it recorded.
stop_demo() {
	local pid
	[ -d "$T" ] || return 0
	for f in callhook nginx; do
		[ -f "$T/$f.pid" ] || continue
		pid=$(cat "$T/$f.pid")
		if pid_alive "$pid"; then
			if [ "$f" = nginx ]; then stop_pid "$pid" QUIT || true; else stop_pid "$pid" TERM || true; fi
			echo "stopped $f (pid $pid)"
		fi
		rm -f "$T/$f.pid"
	done
	if [ -f "$T/pg/data/postmaster.pid" ]; then
		pg_stop && echo "stopped PostgreSQL"
	fi
}

case ${1:-start} in
stop)
	stop_demo
	echo "The data is still in $T (remove it with: rm -rf $T)."
	exit 0
	;;
start) ;;
*)
	echo "usage: $0 [start|stop]" >&2
	exit 2
	;;
esac

if [ "${CALLHOOK_SKIP_DEPS:-0}" != 1 ]; then
	say "Installing dependencies (only what is missing)"
	bash deploy/install-deps.sh
fi

say "Building"
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure
make -j2 >/dev/null

stop_demo
mkdir -p "$T"
chmod 0755 "$T"
own "$T"

say "Starting PostgreSQL in $T/pg"
pg_start

if [ ! -s "$T/token" ]; then
	od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$T/token"
fi
token=$(cat "$T/token")
mkdir -p "$T/spool"
chmod 0700 "$T/spool"
own "$T/spool"
# One source per vendor: Call Tracker with a fresh token, the others with the sample credentials their
# fixtures are signed or sent with (tests/fixtures/<vendor>/sources.conf).
cat >"$T/callhook.conf" <<EOF
[database]
conninfo = host=$T/pg dbname=callhook user=callhook_w
migrate_conninfo = host=$T/pg dbname=callhook user=postgres

[server]
max_body = 1M
spool_dir = $T/spool

[source demo-calltracker]
vendor = calltracker
token = $token
EOF
for v in callrail salpre callscaler fonedynamics; do
	printf '\n' >>"$T/callhook.conf"
	cat "tests/fixtures/$v/sources.conf" >>"$T/callhook.conf"
done
chmod 0640 "$T/callhook.conf"
[ "$IS_ROOT" = 0 ] || chgrp nogroup "$T/callhook.conf"

say "Creating the schema (callhook migrate)"
prepare_callhook
callhook_migrate
callhook_run -c "$T/callhook.conf" check

say "Starting callhook (2 workers) and nginx on 127.0.0.1:${CALLHOOK_DEMO_PORT:-8080}"
GLIBC_TUNABLES=$(shipped_tunables) callhook_start 2 # as callhook.service runs it
echo "$CALLHOOK_PID" >"$T/callhook.pid"
NGINX_PORT=${CALLHOOK_DEMO_PORT:-8080}
if ! nginx_start; then
	echo "nginx could not start on 127.0.0.1:$NGINX_PORT (is the port in use? set CALLHOOK_DEMO_PORT)" >&2
	exit 1
fi
echo "$NGINX_PID" >"$T/nginx.pid"

say "Posting the sample Call Tracker webhooks"
url=/hooks/demo-calltracker
# The nine Call Tracker event types, a missed call, an event type callhook does not map, and a redelivery.
for name in call_received call_finished call_recording_available call_missed message_received message_sent \
	tracker_created tracker_updated usage_created voicemail_received unknown_event redelivery; do
	post POST "$url" -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
		--data-binary "@tests/fixtures/calltracker/$name.body"
	printf '  %-26s HTTP %s  %s\n' "$name" "$HTTP_STATUS" "$RESP_BODY"
done

# post_fixture VENDOR CASE: post a fixture as its .meta says (method, path, query, content type, headers).
post_fixture() {
	local meta=tests/fixtures/$1/$2.meta body=tests/fixtures/$1/$2.body line method=POST path= query= ct=application/json
	local args=()
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		method=*) method=${line#method=} ;;
		path=*) path=${line#path=} ;;
		query=*) query=${line#query=} ;;
		content_type=*) ct=${line#content_type=} ;;
		header=*) args+=(-H "${line#header=}") ;;
		esac
	done <"$meta"
	[ -z "$ct" ] || args+=(-H "Content-Type: $ct")
	[ "$method" = GET ] || args+=(--data-binary "@$body")
	post "$method" "$path${query:+?$query}" "${args[@]}"
	printf '  %-40s HTTP %s  %s\n' "$1/$2" "$HTTP_STATUS" "$RESP_BODY"
}
say "Posting samples of the other vendors"
for c in callrail/pre_call callrail/post_call_answered callrail/call_modified callrail/text_message_received \
	callrail/form_submission salpre/call_initiated salpre/call_answered salpre/call_ended \
	callscaler/call_completed callscaler/in_call_form fonedynamics/get_answered fonedynamics/post_form_no_answer; do
	post_fixture "${c%%/*}" "${c#*/}"
done

psql_cmd="psql -h $T/pg -U postgres callhook"
say "A few rows"
$psql_cmd -c "select source, external_id, status, answered, caller_number, tracking_number, started_at,
	duration_s, traffic_source from callhook.calls order by id"
$psql_cmd -c "select external_id, direction, from_number, to_number, body, sent_at from callhook.messages order by id"
$psql_cmd -c "select id, source, event, outcome, received_at from callhook.deliveries order by id desc limit 8"

cat <<EOF

callhook is running:
  webhook URL   http://127.0.0.1:$NGINX_PORT$url?token=$token
                (or send the token as "Authorization: Bearer $token")
  try           curl -s -H 'Content-Type: application/json' --data-binary @tests/fixtures/calltracker/call_missed.body \\
                  'http://127.0.0.1:$NGINX_PORT$url?token=$token'
  health        curl -s http://127.0.0.1:$NGINX_PORT/hooks/-/health
  the rows      $psql_cmd -c 'table callhook.calls'
                $psql_cmd -c 'table callhook.deliveries'
  logs          $T/callhook.log  $T/nginx/error.log  $T/pg/postgres.log
  config        $T/callhook.conf
  stop          $0 stop
EOF
