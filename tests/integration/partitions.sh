#!/usr/bin/env bash
# Monthly partitions of callhook.deliveries and retention (migration 8, callhook prune). (a) A database at
# migration 7 with 12 deliveries over January to March 2024 is migrated: every row, id, body hash and
# dedup key survives, the table is partitioned one month each, the keys are in delivery_keys, and the id
# sequence goes on. (b) A redelivery across a month boundary is a duplicate of the first copy, in SQL at
# 23:59:59 / 00:00:01 and live through nginx. (c) prune with keep_bodies = 30 and keep_deliveries = 365 and
# deliveries of written-down ages: --dry-run prints the counts and removes nothing; prune removes exactly
# the bodies and months beyond the horizons, with their keys, never a normalized row, and prints the space
# freed; replay says a pruned body is gone. (d) ensure_partitions() creates the months ahead (also from the
# serve parent, as the writer), moves a row out of the DEFAULT partition, and is idempotent. Prints TAP.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
F=$REPO/tests/fixtures/calltracker

setup_tmp
pg_start || bail_out "PostgreSQL did not start"
write_config
prepare_callhook

# ing KEY RECEIVED_AT BODY_SQL [ROWS]: callhook.ingest() for source ct; prints "id|outcome".
ing() {
	sql "select delivery_id || '|' || outcome from callhook.ingest('ct', 'calltracker', 'call.finished', 'POST',
	     'application/json', '', '{}', $3, '$1', 'stored', null, '${4:-[]}'::jsonb, '$2'::timestamptz)"
}
# fingerprint: a hash of every delivery's id, source, key, body hash, body, time and outcome, in id order.
fingerprint() {
	sql "select count(*) || ' ' || md5(string_agg(concat_ws('|', id, source, dedup_key, encode(body_sha256, 'hex'),
	     encode(body, 'hex'), received_at, outcome), ',' ORDER BY id)) from callhook.deliveries"
}
partition_rows() { # the partitions that hold rows, with their counts, in month order
	sql "select string_agg(p || ':' || n, ' ' ORDER BY p) from (select tableoid::regclass::text AS p, count(*) AS n
	     from callhook.deliveries group by 1) AS x"
}

# --- (a) a database at migration 7, then migrate -------------------------------------------------------

_psql callhook -c "create schema callhook" \
	-c "create table callhook.migrations (version int primary key, name text not null, applied_at timestamptz not null default now())"
for f in "$REPO"/sql/00[1-7]_*.sql; do
	_psql callhook -1 -f "$f" >/dev/null
	base=$(basename "$f" .sql)
	_psql callhook -c "insert into callhook.migrations (version, name) values (${base%%_*}, '$base')"
done
is "$(sql "select max(version) || ' ' || (select relkind::text from pg_class where oid = 'callhook.deliveries'::regclass)
           from callhook.migrations")" "7 r" "the database is at migration 7 with a plain deliveries table"
for m in 01 02 03; do
	for i in 1 2 3 4; do
		ing "k-$m-$i" "2024-$m-1$i 12:00:00+00" "convert_to('body $m $i', 'UTF8')" >/dev/null
	done
done
sql "select setval('callhook.deliveries_id_seq', 12)" >/dev/null
before=$(fingerprint)
like "$before" '^12 [0-9a-f]{32}$' "12 deliveries before the migration"

callhook_migrate || bail_out "migrate failed"
like "$(cat "$T/migrate.log")" 'applied 008_partitions' "migrate applies 008_partitions"
is "$(fingerprint)" "$before" "every delivery survived: same ids, sources, keys, body hashes, bodies, times and outcomes"
is "$(sql "select relkind from pg_class where oid = 'callhook.deliveries'::regclass")" "p" "deliveries is partitioned"
is "$(partition_rows)" "deliveries_y2024m01:4 deliveries_y2024m02:4 deliveries_y2024m03:4" \
	"one partition per month holds the rows"
is "$(sql "select count(*) from callhook.deliveries_default")" "0" "the DEFAULT partition is empty"
is "$(sql "select count(*) from callhook.delivery_keys k join callhook.deliveries d on k.source = d.source
           and k.key_hash = callhook.dedup_hash(d.dedup_key) and k.delivery_id = d.id and k.received_at = d.received_at")" \
	"12" "every dedup key is in delivery_keys with its delivery's id and time"
is "$(sql "select octet_length(callhook.dedup_hash('k-01-1'))")" "16" "a key hash is 16 bytes"
is "$(sql "select count(*) from generate_series(0, 3) m where to_regclass('callhook.deliveries_y' ||
           to_char(now() + make_interval(months => m), 'YYYY\"m\"MM')) is not null")" "4" \
	"partitions exist for this month and three ahead"
is "$(sql "select count(*) from pg_constraint where conrelid = 'callhook.call_events'::regclass and contype = 'f'")" \
	"0" "call_events.delivery_id no longer has a foreign key"
callhook_run -c "$T/callhook.conf" migrate >"$T/migrate2.log" 2>&1
is "$(cat "$T/migrate2.log")" "schema is up to date" "migrate again changes nothing"
is "$(fingerprint)" "$before" "the second migrate kept every delivery"
is "$(ing "k-new" "now" "convert_to('new', 'UTF8')")" "13|stored" \
	"the id sequence goes on after the migration (13)"
is "$(ing "k-01-2" "now" "convert_to('body 01 2', 'UTF8')")" "2|duplicate" \
	"a redelivery today of a January 2024 delivery is its duplicate (id 2)"

# --- (b) across a month boundary -----------------------------------------------------------------------

first=$(ing "edge" "2024-04-30 23:59:59+00" "convert_to('edge', 'UTF8')")
like "$first" '^[0-9]+\|stored$' "a delivery at 23:59:59 on 30 April is stored"
is "$(ing "edge" "2024-05-01 00:00:01+00" "convert_to('edge', 'UTF8')")" "${first%|*}|duplicate" \
	"the same key at 00:00:01 on 1 May is a duplicate with the first's id"
is "$(sql "select tableoid::regclass from callhook.deliveries where dedup_key = 'edge'")" "deliveries_y2024m04" \
	"the one row is in April's partition"

callhook_start 2 || bail_out "callhook did not start"
nginx_start || bail_out "nginx did not start"
post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/json' --data-binary "@$F/call_finished.body"
live=$(resp_field delivery)
is "$HTTP_STATUS|$(resp_field status)" "200|stored" "a live delivery through nginx is stored"
# Move it (and its key) to the last second of the previous month, as if it had arrived then.
sql "update callhook.deliveries set received_at = date_trunc('month', now()) - interval '1 second' where id = $live;
     update callhook.delivery_keys set received_at = date_trunc('month', now()) - interval '1 second'
      where delivery_id = $live" >/dev/null
is "$(sql "select tableoid::regclass::text = 'deliveries_y' || to_char(now() - interval '1 month', 'YYYY\"m\"MM')
           from callhook.deliveries where id = $live")" "t" "the live delivery is now in last month's partition"
post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/json' --data-binary "@$F/call_finished.body"
is "$HTTP_STATUS|$(resp_field status)|$(resp_field delivery)" "200|duplicate|$live" \
	"its resend this month is answered duplicate with the first id"

# --- (d) ensure_partitions ------------------------------------------------------------------------------

ahead3="deliveries_y$(sql "select to_char(now() + interval '3 months', 'YYYY\"m\"MM')")"
callhook_stop >/dev/null
sql "drop table callhook.$ahead3" >/dev/null
callhook_start 2 || bail_out "callhook did not start again"
_ahead3_back() { [ "$(sql "select to_regclass('callhook.$ahead3') is not null")" = t ]; }
ok 'wait_until "$WAIT_S" _ahead3_back' "the serve parent creates the partition three months ahead at start ($ahead3)"
as_writer() { psql -X -q -At -h "$T/pg" -U callhook_w -d callhook -c "$1" 2>&1 || true; }
is "$(as_writer "select callhook.ensure_partitions(6)")" "3" "ensure_partitions(6), as the writer, creates 3 more months"
is "$(as_writer "select callhook.ensure_partitions(6)")" "0" "and a second call creates none"
like "$(as_writer "create table callhook.x (i int)")" 'permission denied' "the writer still cannot create tables"
sql "select callhook.ingest('ct', 'calltracker', 'x', 'POST', 'application/json', '', '{}', 'far'::bytea, 'far',
     'stored', null, '[]', '2031-01-15 10:00:00+00')" >/dev/null
is "$(sql "select count(*) from callhook.deliveries_default")" "1" "a delivery of a month without a partition lands in DEFAULT"
is "$(as_writer "select callhook.ensure_partitions(0)")" "1" "ensure_partitions creates its month"
is "$(sql "select count(*) from callhook.deliveries_default")|$(sql "select tableoid::regclass from callhook.deliveries
           where dedup_key = 'far'")" "0|deliveries_y2031m01" "and moves the row there"
sql "delete from callhook.delivery_keys where source = 'ct' and key_hash = callhook.dedup_hash('far');
     drop table callhook.deliveries_y2031m01" >/dev/null

# --- (c) prune ------------------------------------------------------------------------------------------

ago() { printf "now() - interval '%s days'" "$1"; }
old_call='[{"table": "calls", "external_id": "PRUNE-1", "event_time": "2025-01-01T00:00:00Z", "op": "upsert", "cols": {"status": "completed"}, "data": {}}]'
ing "d400" "$(sql "select $(ago 400)")" "convert_to(repeat('a', 50), 'UTF8')" "$old_call" >/dev/null
ing "d300" "$(sql "select $(ago 300)")" "convert_to(repeat('b', 100), 'UTF8')" >/dev/null
ing "d100a" "$(sql "select $(ago 100)")" "convert_to(repeat('c', 200), 'UTF8')" >/dev/null
ing "d100b" "$(sql "select $(ago 100)")" "convert_to(repeat('d', 300), 'UTF8')" >/dev/null
ing "d50-empty" "$(sql "select $(ago 50)")" "''::bytea" >/dev/null
ing "d20" "$(sql "select $(ago 20)")" "convert_to(repeat('e', 400), 'UTF8')" >/dev/null
# The deliveries now: 12 migrated (2024-01..03), edge (2024-04), k-new (now), the live one (last month: at
# most 31 days old), d400, d300, d100a, d100b, d50-empty, d20: 21. In months that end more than 365 days
# ago (a row 400 days old is in a month that ended at least 369 days ago, one 300 days old in one that
# ended at most 300 days ago): the 12, edge and d400 = 14. Bodies older than 40 days in the months kept:
# d300, d100a, d100b (100 + 200 + 300 = 600 bytes); d50-empty has none.
is "$(sql "select count(*) from callhook.deliveries")" "21" "21 deliveries before prune"
normalized="select (select count(*) from callhook.calls) || ' ' || (select count(*) from callhook.call_events) || ' ' ||
            (select count(*) from callhook.messages) || ' ' || (select count(*) from callhook.transcript_segments)"
norm_before=$(sql "$normalized")
is "$norm_before" "2 0 0 0" "two calls before prune (PRUNE-1 and the live one)"

sed -i "/^migrate_conninfo/a keep_bodies = 40\nkeep_deliveries = 365" "$T/callhook.conf"
like "$(callhook_run -c "$T/callhook.conf" check 2>&1)" \
	'retention: raw bodies kept 40 days, deliveries kept 365 days' "callhook check shows the horizons"

parts_before=$(sql "select count(*) from pg_inherits where inhparent = 'callhook.deliveries'::regclass")
before=$(fingerprint)
callhook_run -c "$T/callhook.conf" prune --dry-run >"$T/dry.out" 2>&1 || true
dry=$(cat "$T/dry.out")
like "$dry" 'partition deliveries_y2024m01 +4' "--dry-run lists January 2024 with its 4 deliveries"
like "$dry" 'partition deliveries_y2024m04 +1' "and April 2024 with the boundary delivery"
like "$dry" ' deliveries +14$' "--dry-run counts 14 deliveries in the months beyond 365 days"
like "$dry" ' delivery_keys +14$' "and their 14 keys"
like "$dry" "^  bodies +3\$" "--dry-run counts the 3 bodies older than 40 days"
like "$dry" "^  body_bytes +600 " "and their 600 bytes"
like "$dry" 'nothing was removed' "--dry-run says nothing was removed"
is "$(fingerprint)" "$before" "--dry-run changed no delivery"
is "$(sql "select count(*) from pg_inherits where inhparent = 'callhook.deliveries'::regclass")" "$parts_before" \
	"--dry-run dropped no partition"

callhook_run -c "$T/callhook.conf" prune >"$T/prune.out" 2>&1 && rc=0 || rc=$?
out=$(cat "$T/prune.out")
is "$rc" "0" "prune exits 0"
like "$out" ' deliveries +14$' "prune removed 14 deliveries"
like "$out" 'partition_bytes +[1-9][0-9]* \([0-9.]+ [kMG]?B\)' "prune prints the space the partitions took"
like "$out" "^  body_bytes +600 \(0.6 kB\)" "prune prints the 600 bytes of the bodies it emptied"
is "$(sql "select count(*) from callhook.deliveries")" "7" "7 deliveries are left"
is "$(sql "select string_agg(dedup_key, ' ' ORDER BY dedup_key) from callhook.deliveries
           where received_at < now() - interval '365 days'")" "" "none older than 365 days is left"
is "$(sql "select count(*) from callhook.delivery_keys")" "7" "7 keys are left, one per delivery"
is "$(sql "select string_agg(dedup_key, ' ' ORDER BY dedup_key) from callhook.deliveries where body_pruned_at is not null
           and dedup_key like 'd%'")" "d100a d100b d300" "the bodies of d100a, d100b and d300 were emptied"
is "$(sql "select count(*) from callhook.deliveries where body_pruned_at is not null")" "3" \
	"and no other"
is "$(sql "select octet_length(body) || ' ' || (body_sha256 = sha256(convert_to(repeat('b', 100), 'UTF8')))
           from callhook.deliveries where dedup_key = 'd300'")" "0 true" "an emptied body keeps its body_sha256"
is "$(sql "select octet_length(body) from callhook.deliveries where dedup_key = 'd20'")" "400" \
	"a 20-day-old body is kept"
is "$(sql "$normalized")" "$norm_before" "no normalized row was touched (PRUNE-1 of the pruned d400 is still there)"
is "$(sql "select count(*) from pg_inherits i join pg_class c on c.oid = i.inhrelid
           where i.inhparent = 'callhook.deliveries'::regclass and c.relname like 'deliveries_y2024%'")" "0" \
	"no 2024 partition is left"
is "$(ing "k-01-2" "now" "convert_to('body 01 2', 'UTF8')" | cut -d'|' -f2)" "stored" \
	"a pruned delivery's key is gone: its resend is new"
is "$(ing "d100a" "now" "convert_to(repeat('c', 200), 'UTF8')" | cut -d'|' -f2)" "duplicate" \
	"a kept delivery's key still finds its resend"
d300=$(sql "select id from callhook.deliveries where dedup_key = 'd300'")
like "$(callhook_run -c "$T/callhook.conf" replay --delivery "$d300" 2>&1)" \
	"delivery $d300: skipped: its body was pruned" "replay says a pruned body is gone"
callhook_run -c "$T/callhook.conf" prune >"$T/prune2.out" 2>&1
like "$(cat "$T/prune2.out")" ' deliveries +0$' "a second prune removes no delivery"
like "$(cat "$T/prune2.out")" '^  bodies +0$' "and no body"

ok 'pid_alive "$CALLHOOK_PID"' "callhook is still serving"
done_testing
