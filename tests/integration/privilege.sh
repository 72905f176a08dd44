#!/usr/bin/env bash
# Least privilege: migrate runs with the owner's conninfo (--conninfo or migrate_conninfo) while serve uses
# the writer's; the writer can store deliveries but cannot drop, alter or create anything; the reader can
# only read; serve warns when its role is a superuser, and refuses to run as root.
. "$(dirname "$0")/../lib.sh"

setup_tmp
pg_start || bail_out "PostgreSQL did not start"
write_config
# migrate with --conninfo, the configured migrate_conninfo removed
sed -i '/^migrate_conninfo/d' "$T/callhook.conf"
out=$(callhook_run -c "$T/callhook.conf" migrate --conninfo "host=$T/pg dbname=callhook user=postgres" 2>&1) && rc=0 || rc=$?
is "$rc" 0 "migrate --conninfo uses the owner's connection"
[ "$rc" = 0 ] || diag "$out"
out=$(callhook_run -c "$T/callhook.conf" migrate 2>&1) && rc=0 || rc=$?
ok "[ $rc -ne 0 ]" "migrate with the writer's conninfo fails: it may not create anything"
pg_grant_writer >/dev/null

as_writer() { as_user psql -h "$T/pg" -d callhook -U callhook_w -v ON_ERROR_STOP=1 -qAt -c "$1" 2>&1; }
for stmt in "drop table callhook.calls" "alter table callhook.calls add column x int" \
	"create table callhook.x (a int)" "create table public.x (a int)" "truncate callhook.deliveries" \
	"delete from callhook.calls" "create or replace function callhook.route_call(source text, caller text, tracking text, call_id text) returns jsonb language sql as 'select null::jsonb'"; do
	out=$(as_writer "$stmt") && rc=0 || rc=$?
	ok "[ $rc -ne 0 ] && grep -q 'permission denied\|must be owner' <<<\"\$out\"" "the writer cannot: $stmt"
done
ok "as_writer \"select count(*) from callhook.calls\" >/dev/null" "the writer can read its tables"

_psql callhook -q -c "create role t_reader login in role callhook_reader" >/dev/null
as_reader() { as_user psql -h "$T/pg" -d callhook -U t_reader -v ON_ERROR_STOP=1 -qAt -c "$1" 2>&1; }
ok "as_reader \"select count(*) from callhook.calls\" >/dev/null" "the reader can read"
out=$(as_reader "insert into callhook.deliveries (source, vendor, method, body, body_sha256, dedup_key, outcome) values ('a','b','POST','','','k','stored')") && rc=0 || rc=$?
ok "[ $rc -ne 0 ]" "the reader cannot insert"

# serve with the writer: no warning; with the superuser: a warning.
callhook_start 1 || bail_out "callhook did not start"
nginx_start || bail_out "nginx did not start"
post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/json' --data '{"type":"call.received","data":{"id":"p1"}}'
is "$HTTP_STATUS" 200 "the writer stores a delivery"
unlike "$(cat "$T/callhook.log")" "superuser|owns callhook" "no privilege warning for the writer role"
callhook_stop
sed -i "s/^conninfo = .*/conninfo = host=$(sed 's/[\/&]/\\&/g' <<<"$T")\/pg dbname=callhook user=postgres/" "$T/callhook.conf"
callhook_start 1 || bail_out "callhook did not start"
post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/json' --data '{"type":"call.received","data":{"id":"p2"}}'
is "$HTTP_STATUS" 200 "the superuser still works"
like "$(cat "$T/callhook.log")" "WARNING: the database role is a superuser" "serve warns when its role is a superuser"
callhook_stop

if [ "$IS_ROOT" = 1 ]; then
	out=$(timeout 5 "$CH" -c "$T/callhook.conf" serve -s "unix:$T/root.sock" 2>&1) && rc=0 || rc=$?
	ok "[ $rc -ne 0 ] && grep -q 'root' <<<\"\$out\"" "serve refuses to run as root"
fi
done_testing
