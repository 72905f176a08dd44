#!/usr/bin/env bash
# Several hosts, one database: two callhook serve parents ("host 1" and "host 2"), each with its own config,
# spool_dir and socket, behind one nginx upstream that lists both sockets the way the shipped
# callhook-upstream.conf lists one, against one PostgreSQL. Both hosts migrate at once; then bounded loads
# while PostgreSQL is stopped and restarted (both hosts spool, each drains its own spool), while host 1's
# workers are killed with SIGKILL (nginx resends to another listing, often the other host), with host 1
# stopped while still listed (its 502s counted), and with host 1 taken out of the upstream first. Nothing
# acknowledged may be lost or stored twice. Prints the figures as TAP comments.
. "$(dirname "$0")/../lib.sh"
N=${HOSTS_REQUESTS:-5000}
W=2 # workers per host
# each listing's parameters: the shipped file's, unless HOSTS_LISTING says otherwise (to compare, e.g.
# HOSTS_LISTING="max_fails=1 fail_timeout=10s")
LISTING=${HOSTS_LISTING:-max_fails=0}
declare -A HOST_PID=()

# stop_all (replaces lib.sh's): both hosts, nginx, PostgreSQL.
stop_all() {
	local h
	for h in 1 2; do host_stop "$h" >/dev/null 2>&1 || true; done
	nginx_stop >/dev/null 2>&1 || true
	pg_stop >/dev/null 2>&1 || true
}

# host_config H: $T/hH/callhook.conf, lib.sh's config with spool_dir $T/hH/spool; the rest is shared.
host_config() {
	mkdir -p "$T/h$1/spool"
	chmod 0700 "$T/h$1/spool"
	own "$T/h$1" "$T/h$1/spool"
	sed "s|^spool_dir = .*|spool_dir = $T/h$1/spool|" "$T/callhook.conf" >"$T/h$1/callhook.conf"
}

# host_start H: serve host H on $T/hH/callhook.sock with W workers, log $T/hH/callhook.log.
host_start() {
	callhook_start_at "$T/h$1/callhook.conf" "$T/h$1/callhook.sock" "$T/h$1/callhook.log" "$W" || return 1
	HOST_PID[$1]=$CALLHOOK_PID
	CALLHOOK_PID=
}

host_stop() {
	CALLHOOK_PID=${HOST_PID[$1]:-}
	HOST_PID[$1]=
	callhook_stop
}

# nginx_reload: write nginx.conf for $NGINX_SOCKETS with each listing's parameters $LISTING, SIGHUP, and
# wait until the old workers have gone.
nginx_reload() {
	local old
	old=$(children_of "$NGINX_PID")
	nginx_write_conf "$NGINX_PORT"
	sed -i "s/ max_fails=0;\$/ $LISTING;/" "$T/nginx/nginx.conf"
	kill -HUP "$NGINX_PID"
	# shellcheck disable=SC2086
	wait_until "$WAIT_S" _all_gone $old
}
_all_gone() {
	local p
	for p in "$@"; do ! pid_alive "$p" || return 1; done
}

setup_tmp
EXTRA_LOGS="$T/h1/callhook.log $T/h2/callhook.log"
pg_start || bail_out "PostgreSQL did not start"
write_config
host_config 1
host_config 2
is "$(diff "$T/h1/callhook.conf" "$T/h2/callhook.conf" | grep '^[<>]' | sed "s|$T|T|")" \
	"< spool_dir = T/h1/spool
> spool_dir = T/h2/spool" "the two hosts' configs differ in spool_dir only (same database, sources and secrets)"

# Both hosts run migrate at the same moment: one waits for the other's advisory lock, then finds it done.
prepare_callhook
callhook_run -c "$T/h1/callhook.conf" migrate >"$T/migrate1.log" 2>&1 &
m1=$!
callhook_run -c "$T/h2/callhook.conf" migrate >"$T/migrate2.log" 2>&1 &
m2=$!
rc1=0 rc2=0
wait "$m1" || rc1=$?
wait "$m2" || rc2=$?
is "$rc1 $rc2" "0 0" "migrate run by both hosts at once: both exit 0"
is "$(sql "select count(*) - count(distinct version) from callhook.migrations")" 0 \
	"migrate run by both hosts at once: each migration applied once"
pg_grant_writer >/dev/null || bail_out "grant to the writer role"

host_start 1 || bail_out "host 1 did not start"
host_start 2 || bail_out "host 2 did not start"
NGINX_SOCKETS="$T/h1/callhook.sock $T/h2/callhook.sock"
nginx_start || bail_out "nginx did not start"
if [ "$LISTING" != max_fails=0 ]; then
	nginx_reload || bail_out "nginx did not reload with $LISTING"
fi
is "$(grep -c "server unix:$T/h[12]/callhook.sock $LISTING;" "$T/nginx/nginx.conf")" 10 \
	"the upstream lists each host's socket five times ($LISTING), as the shipped file lists one"
is "$(grep -o "unix:$T/h[12]" "$T/nginx/nginx.conf" | sed "s|unix:$T/||" | tr '\n' ' ')" "h1 h2 h1 h2 h1 h2 h1 h2 h1 h2 " \
	"the hosts alternate in the upstream, so a resend goes to the other host"

spool_files() { find "$T/h$1/spool" -maxdepth 1 -name '*.req' | wc -l; }
spool_empty() { [ "$(spool_files "$1")" -eq 0 ]; }
_both_spooling() { [ "$(spool_files 1)" -gt 0 ] && [ "$(spool_files 2)" -gt 0 ]; }

# log_count H FROM ERE: lines of host H's log from line FROM on that match ERE.
log_count() { tail -n "+$2" "$T/h$1/callhook.log" | grep -cE -- "$3" || true; }

# replayed H FROM: the sum of "replayed N spooled requests" in host H's log from line FROM on.
replayed() {
	tail -n "+$2" "$T/h$1/callhook.log" | sed -n 's/.*replayed \([0-9]*\) spooled requests.*/\1/p' |
		awk '{ n += $1 } END { print n + 0 }'
}

log_lines() { wc -l <"$T/h$1/callhook.log"; }

# verify NAME: the load's answers against the database. Lost: a request answered 200 whose body has no
# delivery or whose row is missing. Duplicated: a body stored more than once, a dedup key twice, a normalized
# row twice. $NON200: the answers other than 200, which the caller checks.
verify() {
	local name=$1 tsv=$T/$1.tsv total non200 lost dup_body dup_key dup_row
	sql "create table if not exists public.acked (sha text, tbl text, ext text, status int, answer text)" >/dev/null
	sql "truncate public.acked" >/dev/null
	as_user cat "$tsv" | _psql callhook -c "copy public.acked from stdin" >/dev/null
	total=$(sql "select count(*) from public.acked")
	non200=$(sql "select count(*) from public.acked where status <> 200")
	lost=$(sql "select count(*) from public.acked a where status = 200 and (
		not exists (select 1 from callhook.deliveries d where d.source = 'ct' and encode(d.body_sha256, 'hex') = a.sha)
		or not exists (select 1 from callhook.calls c where a.tbl = 'calls' and c.source = 'ct' and c.external_id = a.ext
			union all select 1 from callhook.messages m where a.tbl = 'messages' and m.source = 'ct' and m.external_id = a.ext
			union all select 1 from callhook.voicemails v where a.tbl = 'voicemails' and v.source = 'ct' and v.external_id = a.ext))")
	dup_body=$(sql "select count(*) from (select 1 from callhook.deliveries group by source, body_sha256 having count(*) > 1) x")
	dup_key=$(sql "select count(*) - count(distinct (source, dedup_key)) from callhook.deliveries")
	dup_row=$(sql "select (select count(*) - count(distinct (source, external_id)) from callhook.calls)
		+ (select count(*) - count(distinct (source, external_id)) from callhook.messages)
		+ (select count(*) - count(distinct (source, external_id)) from callhook.voicemails)")
	diag "$name: requests $total, answered 200 $((total - non200)) (spooled $(grep -c $'\tspooled$' "$tsv"), duplicate $(grep -c $'\tduplicate$' "$tsv")), other answers $non200: $(cut -f4 "$tsv" | sort | uniq -c | awk '{ printf "%s=%s ", $2, $1 }')"
	is "$total" "$N" "$name: every request was answered or failed visibly"
	is "$lost" 0 "$name: 0 lost (every request answered 200 has its delivery and its row)"
	is "$dup_body" 0 "$name: 0 duplicated (no body stored twice)"
	is "$dup_key" 0 "$name: 0 duplicated (no dedup key twice)"
	is "$dup_row" 0 "$name: 0 duplicated (no normalized row twice)"
	NON200=$non200
}

# A. PostgreSQL stopped for a few seconds in the middle of the load: both hosts spool, each drains its own.
from1=$(($(log_lines 1) + 1))
from2=$(($(log_lines 2) + 1))
load_run pgdown
wait_until 30 under_way $((N / 10)) || diag "the load ended before a tenth was stored"
pg_stop
diag "PostgreSQL stopped at $(date +%T)"
wait_until 10 _both_spooling || true
ok "_both_spooling" "pgdown: both hosts hold spooled requests while PostgreSQL is down ($(spool_files 1) and $(spool_files 2) files)"
sleep 2
pg_start || bail_out "PostgreSQL did not restart"
diag "PostgreSQL started at $(date +%T)"
wait "$LOAD_PID"
t0=$SECONDS
wait_until 60 spool_empty 1 || diag "host 1's spool still holds $(spool_files 1) files"
wait_until 60 spool_empty 2 || diag "host 2's spool still holds $(spool_files 2) files"
diag "pgdown: both spools drained $((SECONDS - t0)) s after the load ended"
ok "spool_empty 1" "pgdown: host 1's spool_dir is empty again"
ok "spool_empty 2" "pgdown: host 2's spool_dir is empty again"
for h in 1 2; do
	from=from$h
	spooled=$(log_count "$h" "${!from}" 'outcome=spooled')
	diag "pgdown: host $h answered $spooled requests spooled and replayed $(replayed "$h" "${!from}")"
	ok "[ $spooled -gt 0 ]" "pgdown: host $h answered some requests spooled"
	is "$(replayed "$h" "${!from}")" "$spooled" "pgdown: host $h replayed exactly the requests it spooled itself"
done
verify pgdown
is "$NON200" 0 "pgdown: 0 answers other than 200"

# B. Host 1's workers killed with SIGKILL several times during the load.
reset_db
h2_workers=$(children_of "${HOST_PID[2]}" | sort | tr '\n' ' ')
load_run kill
kill_workers_under_load "${HOST_PID[1]}"
diag "kill: $KILLS of host 1's workers killed with SIGKILL; nginx logged $(grep -c "prematurely closed.*h1/callhook.sock" "$T/nginx/error.log") requests cut off on host 1"
ok "[ $KILLS -ge 3 ]" "kill: host 1's workers were killed at least three times while the load was running"
host1_workers() { [ "$(children_of "${HOST_PID[1]}" | wc -l)" -eq "$W" ]; }
ok "wait_until 10 host1_workers" "kill: host 1's parent restarted the killed workers"
is "$(children_of "${HOST_PID[2]}" | sort | tr '\n' ' ')" "$h2_workers" "kill: host 2's workers are the same processes"
verify kill
is "$NON200" 0 "kill: 0 answers other than 200 (nginx resent what a killed worker left unanswered)"

# C. Host 1 stopped while nginx still lists it: a request that meets host 1's socket is sent to another
# listing; nginx's round robin is shared by concurrent requests, so one request's tries can all meet
# host 1 (a 502 from nginx, never an answer from callhook: counted, not asserted).
host_stop 1
is "$STOPPED_STATUS" 0 "down: host 1 stops cleanly on SIGTERM (exit status 0)"
reset_db
N=1000
from1=$(($(log_lines 1) + 1))
from2=$(($(log_lines 2) + 1))
load_run down
wait "$LOAD_PID"
verify down
diag "down: $NON200 of $N requests met only host 1's socket in their five tries (answered 502 by nginx)"
is "$(log_count 2 "$from2" 'request: .*status=200')" "$((N - NON200))" "down: host 2 answered each request answered 200, once"
is "$(log_count 2 "$from2" 'request: ')" "$((N - NON200))" "down: host 2 answered nothing else"
is "$(log_count 1 "$from1" 'request: ')" 0 "down: host 1 answered nothing"
is "$(awk -F'\t' '$4 != 200 && $4 != 502' "$T/down.tsv" | wc -l)" 0 "down: every other answer is nginx's 502"

# D. The way to take a host out: remove it from the upstream, reload nginx, then stop it.
reset_db
NGINX_SOCKETS="$T/h2/callhook.sock"
ok nginx_reload "out: nginx reloaded without host 1's listings"
from2=$(($(log_lines 2) + 1))
load_run out
wait "$LOAD_PID"
verify out
is "$NON200" 0 "out: 0 answers other than 200 with host 1 out of the upstream"
is "$(log_count 2 "$from2" 'request: ')" "$N" "out: host 2 answered each of the $N requests once"
host_start 1 || bail_out "host 1 did not start again"
NGINX_SOCKETS="$T/h1/callhook.sock $T/h2/callhook.sock"
ok nginx_reload "out: nginx reloaded with host 1 back"
from1=$(($(log_lines 1) + 1))
for i in 1 2 3 4; do
	post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/json' \
		--data "{\"type\":\"call.received\",\"data\":{\"id\":\"back$i\"},\"timestamp\":\"2026-11-22T10:00:00\"}"
	[ "$HTTP_STATUS $(resp_field status)" = "200 stored" ] || diag "back$i: $HTTP_STATUS $RESP_BODY"
done
is "$(sql "select count(*) from callhook.calls where external_id like 'back%'")" 4 "out: 4 deliveries stored once host 1 is back"
ok "[ $(log_count 1 "$from1" 'request: .*outcome=stored') -gt 0 ]" "out: host 1 serves again"

for h in 1 2; do
	host_stop "$h"
	is "$STOPPED_STATUS" 0 "host $h stops cleanly on SIGTERM (exit status 0)"
done

done_testing
