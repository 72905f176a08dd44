#!/usr/bin/env bash
# Ready to distribute by source (Citus): on a database migrated by callhook, every unique key of the
# normalized tables starts with `source`, they have no foreign key, and the report views and the functions
# behind them join or look up rows only within one source. Compares the catalog with the lists written here;
# a new key, view or join fails the test until it is checked and added. The primary keys on `id` (and
# deliveries' on (id, received_at)) are the known exceptions, which README's Citus statements change first:
# the test runs those ALTER TABLE statements (plain PostgreSQL) and checks the keys and callhook afterwards,
# and checks that the tables and the function the Citus calls name exist. Citus itself is not run (it is
# not packaged for Debian 12).
. "$(dirname "$0")/../lib.sh"

NORMALIZED="'calls', 'messages', 'trackers', 'usage', 'voicemails', 'form_submissions', 'transcript_segments', 'call_events'"

setup_tmp
pg_start || bail_out "PostgreSQL did not start"
write_config
callhook_migrate || bail_out "migrate failed"

# keys KIND: the unique indexes of the normalized tables, "table index (columns)", by table and index;
# KIND primary: the primary keys only; other: the rest.
keys() {
	sql "select c.relname || ' ' || i.relname || ' (' || (select string_agg(pg_get_indexdef(x.indexrelid, k, true), ', ' order by k)
			from generate_series(1, x.indnkeyatts) k) || ')'
		from pg_index x join pg_class c on c.oid = x.indrelid join pg_class i on i.oid = x.indexrelid
		where c.relnamespace = 'callhook'::regnamespace and c.relname in ($NORMALIZED) and x.indisunique
		  and x.indisprimary = ('$1' = 'primary')
		order by c.relname, i.relname"
}

# 1. Unique keys.
is "$(keys other)" "call_events call_events_source_external_id_key (source, external_id)
calls calls_source_external_id_key (source, external_id)
form_submissions form_submissions_source_external_id_key (source, external_id)
messages messages_source_external_id_key (source, external_id)
trackers trackers_source_external_id_key (source, external_id)
transcript_segments transcript_segments_source_call_external_id_seq_key (source, call_external_id, seq)
transcript_segments transcript_segments_source_external_id_key (source, external_id)
usage usage_source_external_id_key (source, external_id)
voicemails voicemails_source_external_id_key (source, external_id)" \
	"the unique keys of the normalized tables other than their primary keys, each starting with source"
is "$(keys other | grep -vc ' (source, ')" 0 "no unique key of a normalized table but a primary key lacks source in first place"
is "$(keys primary)" "call_events call_events_pkey (id)
calls calls_pkey (id)
form_submissions form_submissions_pkey (id)
messages messages_pkey (id)
trackers trackers_pkey (id)
transcript_segments transcript_segments_pkey (id)
usage usage_pkey (id)
voicemails voicemails_pkey (id)" \
	"the primary keys are on id alone: the exception README's Citus statements make (source, id) first"

# The raw deliveries (partitioned by month) and their dedup keys, distributed with them: "table index (columns)".
raw_keys() {
	sql "select c.relname || ' ' || i.relname || ' (' || (select string_agg(pg_get_indexdef(x.indexrelid, k, true), ', ' order by k)
			from generate_series(1, x.indnkeyatts) k) || ')'
		from pg_index x join pg_class c on c.oid = x.indrelid join pg_class i on i.oid = x.indexrelid
		where c.relnamespace = 'callhook'::regnamespace and c.relname in ('deliveries', 'delivery_keys') and x.indisunique
		order by c.relname, i.relname"
}
is "$(raw_keys)" "deliveries deliveries_pkey (id, received_at)
delivery_keys delivery_keys_pkey (source, key_hash)" \
	"the unique keys of deliveries and delivery_keys: deliveries' primary key lacks source, the exception README changes"

# 2. Foreign keys from or to a normalized table.
fkeys() {
	sql "select c.relname || ' ' || f.conname || ': ' || pg_get_constraintdef(f.oid)
		from pg_constraint f join pg_class c on c.oid = f.conrelid join pg_class r on r.oid = f.confrelid
		where f.contype = 'f' and (c.relname in ($NORMALIZED) or r.relname in ($NORMALIZED))
		  and c.relnamespace = 'callhook'::regnamespace
		order by 1"
}
is "$(fkeys)" "" "no foreign key from or to a normalized table (call_events.delivery_id has none since migration 8)"
is "$(fkeys | grep -vc 'FOREIGN KEY (source, .*(source, ')" 0 \
	"every foreign key of a normalized table starts with source on both sides"

# 3. The report views: which tables and functions each reads, and every join.
is "$(sql "select v.relname || ': ' || string_agg(distinct t.relname, ', ')
	from pg_class v join pg_rewrite r on r.ev_class = v.oid
	join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid and d.refclassid = 'pg_class'::regclass
	join pg_class t on t.oid = d.refobjid and t.oid <> v.oid
	where v.relkind = 'v' and v.relnamespace = 'callhook'::regnamespace
	group by v.relname order by 1")" "report_daily_calls: calls
report_messages_daily: messages
report_usage: usage
report_voicemails_waiting: calls, voicemails" "the views that read tables directly, and the tables each reads"
is "$(sql "select v.relname || ': ' || string_agg(distinct p.proname, ', ')
	from pg_class v join pg_rewrite r on r.ev_class = v.oid
	join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid and d.refclassid = 'pg_proc'::regclass
	join pg_proc p on p.oid = d.refobjid and p.pronamespace = 'callhook'::regnamespace
	where v.relkind = 'v' and v.relnamespace = 'callhook'::regnamespace
	group by v.relname order by 1")" "report_attribution: report_attribution
report_missed_not_called_back: missed_not_called_back
report_trackers: report_trackers
report_voicemails_waiting: first_call_back" "the views that call callhook's functions, and the functions each calls"

# joins: every "… JOIN table alias ON condition" line of the views' definitions and of the bodies of the
# functions they call, "name: JOIN table alias ON condition".
joins() {
	sql "with src as (
			select v.relname::text as name, pg_get_viewdef(v.oid, true) as def from pg_class v
			where v.relkind = 'v' and v.relnamespace = 'callhook'::regnamespace
			union all
			select p.proname::text, p.prosrc from pg_proc p
			where p.pronamespace = 'callhook'::regnamespace
			  and p.proname in ('first_call_back', 'missed_not_called_back', 'report_attribution', 'report_trackers'))
		select name || ': ' || m[1] from src, regexp_matches(def, '((?:LEFT |RIGHT |FULL |INNER |CROSS )?JOIN .*)$', 'gin') m
		order by 1"
}
is "$(joins)" "report_voicemails_waiting: LEFT JOIN calls c ON c.source = v.source AND c.external_id = v.call_external_id" \
	"the one join of the report views and their functions"
is "$(joins | grep -vcE ' ON (.* AND )?([a-z_]+)\.source = ([a-z_]+)\.source( AND .*)?$')" 0 \
	"every join of the report views and their functions has equal sources in its condition"
is "$(sql "with src as (
		select pg_get_viewdef(v.oid, true) as def from pg_class v
		where v.relkind = 'v' and v.relnamespace = 'callhook'::regnamespace
		union all select p.prosrc from pg_proc p where p.pronamespace = 'callhook'::regnamespace
		  and p.proname in ('first_call_back', 'missed_not_called_back', 'report_attribution', 'report_trackers'))
	select count(*) from src where def ~* '\mFROM\s+[a-z_.]+(\s+(AS\s+)?[a-z_]+)?\s*,'")" 0 \
	"no view or function behind one lists two tables in one FROM (a join without a condition)"

# 4. The functions behind the views: each reads calls only, and first_call_back, which looks up other calls
# for each row, looks them up in the row's own source.
is "$(sql "select p.proname || ': ' || string_agg(distinct m[1], ', ')
	from pg_proc p, regexp_matches(p.prosrc, '(?:FROM|JOIN)\s+callhook\.([a-z_]+)\s+AS', 'gi') m
	where p.pronamespace = 'callhook'::regnamespace
	  and p.proname in ('first_call_back', 'missed_not_called_back', 'report_attribution', 'report_trackers')
	group by p.proname order by 1")" "first_call_back: calls
missed_not_called_back: calls
report_attribution: calls
report_trackers: calls" "the functions behind the views and the tables each reads"
is "$(sql "select count(*) from pg_proc p where p.pronamespace = 'callhook'::regnamespace
	and p.proname = 'first_call_back' and p.prosrc ~ '\mb\.source = source_name\M'")" 1 \
	"first_call_back looks up calls of the source it is given"
is "$(sql "with src as (
		select pg_get_viewdef(v.oid, true) as def from pg_class v
		where v.relkind = 'v' and v.relnamespace = 'callhook'::regnamespace
		union all select p.prosrc from pg_proc p where p.pronamespace = 'callhook'::regnamespace)
	select (select count(*) from src, regexp_matches(def, 'first_call_back\(', 'g')) || ' calls, '
		|| (select count(*) from src, regexp_matches(def, 'first_call_back\(\s*[a-z]+\.source\s*,', 'g')) || ' with the row''s source'")" \
	"2 calls, 2 with the row's source" "every call of first_call_back passes the source of the row it is called for"

# 5. README's statements. citus_block: the sql block of the section "Beyond one PostgreSQL (Citus)".
citus_block() {
	awk '/^## Beyond one PostgreSQL \(Citus\)$/ { in_sec = 1; next }
		in_sec && /^```sql$/ { in_block = 1; next }
		in_block && /^```$/ { exit }
		in_block { print }' "$REPO/README.md"
}
block=$(citus_block)
is "$(grep -o "create_distributed_table('callhook\.[a-z_]*', 'source'[^)]*)" <<<"$block")" \
	"create_distributed_table('callhook.calls', 'source')
create_distributed_table('callhook.messages', 'source', colocate_with => 'callhook.calls')
create_distributed_table('callhook.trackers', 'source', colocate_with => 'callhook.calls')
create_distributed_table('callhook.usage', 'source', colocate_with => 'callhook.calls')
create_distributed_table('callhook.voicemails', 'source', colocate_with => 'callhook.calls')
create_distributed_table('callhook.form_submissions', 'source', colocate_with => 'callhook.calls')
create_distributed_table('callhook.transcript_segments', 'source', colocate_with => 'callhook.calls')
create_distributed_table('callhook.call_events', 'source', colocate_with => 'callhook.calls')
create_distributed_table('callhook.deliveries', 'source', colocate_with => 'callhook.calls')
create_distributed_table('callhook.delivery_keys', 'source', colocate_with => 'callhook.calls')" \
	"README distributes the eight normalized tables, deliveries and delivery_keys by source, co-located with calls"
missing=
for t in $(grep -o "create_reference_table('[a-z_.]*')" <<<"$block" | cut -d"'" -f2); do
	[ "$(sql "select to_regclass('$t') is not null")" = t ] || missing="$missing $t"
done
is "$missing" "" "the reference tables README names exist"
fn=$(tr '\n' ' ' <<<"$block" | grep -o "create_distributed_function( *'[^']*'" | cut -d"'" -f2)
is "$(sql "select to_regprocedure('$fn')::text")" \
	"ingest(text,text,text,text,text,text,jsonb,bytea,text,text,text,jsonb,timestamp with time zone)" \
	"the function README distributes is callhook.ingest() with its signature"

# The ALTER TABLE statements run on plain PostgreSQL, in README's order.
grep '^ALTER TABLE' <<<"$block" >"$T/alter.sql"
is "$(wc -l <"$T/alter.sql")" 9 "README has 9 ALTER TABLE statements"
_psql callhook -1 -f "$T/alter.sql" >"$T/alter.out" 2>&1
is "$(cat "$T/alter.out")" "" "README's ALTER TABLE statements run without an error"
is "$(keys primary)" "call_events call_events_pkey (source, id)
calls calls_pkey (source, id)
form_submissions form_submissions_pkey (source, id)
messages messages_pkey (source, id)
trackers trackers_pkey (source, id)
transcript_segments transcript_segments_pkey (source, id)
usage usage_pkey (source, id)
voicemails voicemails_pkey (source, id)" "after them, every primary key of a normalized table is (source, id)"
is "$(raw_keys)" "deliveries deliveries_pkey (source, id, received_at)
delivery_keys delivery_keys_pkey (source, key_hash)" "after them, every unique key of deliveries and delivery_keys starts with source"
part_keys=$(sql "select count(*) || ' ' || count(*) filter (where pg_get_indexdef(x.indexrelid, 1, true) <> 'source')
	from pg_index x join pg_class c on c.oid = x.indrelid
	where c.relispartition and c.relnamespace = 'callhook'::regnamespace and x.indisunique")
ok "[ ${part_keys% *} -gt 0 ]" "deliveries has partitions with unique keys (${part_keys% *})"
is "${part_keys#* }" 0 "after them, no unique key of a partition of deliveries lacks source in first place"

# callhook still stores a delivery, and knows its redelivery, on the changed keys.
callhook_start 1 || bail_out "callhook did not start"
nginx_start || bail_out "nginx did not start"
body='{"type":"call.received","data":{"id":"dist1","caller_number":"+18555550101"},"timestamp":"2026-11-22T10:00:00"}'
post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/json' --data "$body"
first=$(resp_field delivery)
is "$HTTP_STATUS $(resp_field status)" "200 stored" "after them, callhook stores a delivery"
post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/json' --data "$body"
is "$HTTP_STATUS $(resp_field status) $(resp_field delivery)" "200 duplicate $first" \
	"after them, its redelivery is a duplicate of the same delivery"
is "$(sql "select source || ' ' || external_id || ' ' || caller_number from callhook.calls")" "ct dist1 +18555550101" \
	"after them, the call's row is there once"

done_testing
