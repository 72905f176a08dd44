#!/usr/bin/env bash
# fastcgi_keep_conn as shipped (deploy/nginx: keep_conn on, an upstream keepalive pool of 4) when nginx's
# idle pools can hold more connections than callhook has request threads: one worker with
# requests_in_flight 2 behind two nginx workers (up to 8 idle connections). A thread waiting on an idle kept
# connection must give it up when a new connection waits and no thread is free; without that, the new
# connection waits until nginx's timeouts (fastcgi_read_timeout, 30 s) and the load below times out.
# Prints TAP.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/load/verify.sh"

N=600

setup_tmp
pg_start || bail_out "PostgreSQL did not start"
write_config
sed -i "/^\[server\]/a requests_in_flight = 2" "$T/callhook.conf"
callhook_migrate || bail_out "migrate failed"
callhook_start 1 || bail_out "callhook did not start"
NGINX_WORKERS=2 nginx_start || bail_out "nginx did not start"

is "$(grep -c '^fastcgi_keep_conn on;' "$REPO/deploy/nginx/callhook.conf")" 1 "the shipped snippet keeps connections open"
is "$(grep -c '^ *keepalive 4;' "$T/nginx/nginx.conf")" 1 "the upstream has the shipped keepalive pool of 4 per nginx worker"

# Eight clients, each with a connection of its own to nginx, for at most 150 s (a stall costs 15 s a try).
load_run keep 8
wait_until 200 _not_alive "$LOAD_PID" || kill "$LOAD_PID" 2>/dev/null
diag "$(cat "$T/keep.out")"
is "$(wc -l <"$T/keep.tsv")" "$N" "every request of the load was sent"
is "$(statuses "$T/keep.tsv")" "200=$N" "every request was answered 200 (none waited behind idle kept connections)"
is "$(sql "select count(*) from callhook.deliveries")" \
	"$(awk -F'\t' '!seen[$1]++' "$T/keep.tsv" | wc -l)" "every body posted is stored once"

stop_all
done_testing
