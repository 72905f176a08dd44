#!/usr/bin/env bash
# callhook.ingest_many() (sql/009_ingest_many.sql) against callhook.ingest(): for every order of six
# deliveries, one batch through ingest_many() must leave exactly the rows, outcomes and notices that the
# six sent one after the other through ingest() leave. The six cover each of its paths: a new call
# (set-based insert), two later events of that call (merged, one older than what the row holds), a
# call event without an id of its own, a new message, a final transcript (live turns deleted, then
# set-based), a live transcript turn (the row-at-a-time path: kept before the final transcript, ignored
# after it), and a redelivery of the first (duplicate inside the batch). Each order writes under sources of its own:
# m<k> for the batch, s<k> for the sequence.
. "$(dirname "$0")/../lib.sh"

setup_tmp
pg_start || bail_out "PostgreSQL did not start"
write_config
callhook_migrate || bail_out "migrate failed"

python3 - "$T/orders.sql" <<'EOF'
import itertools, json, sys
t = '2026-01-01T10:%02d:00Z'
d = {
    'A': ('d1', [{'table': 'calls', 'external_id': 'C1', 'event_time': t % 0,
                  'cols': {'status': 'ringing', 'caller_number': '+15555550100'}, 'data': {'a': 1}}]),
    'B': ('d2', [{'table': 'calls', 'external_id': 'C1', 'event_time': t % 5,
                  'cols': {'status': 'completed', 'duration_s': 300}, 'data': {'b': 2}},
                 {'table': 'call_events', 'cols': {'event': 'ended'}}]),
    'C': ('d3', [{'table': 'calls', 'external_id': 'C1', 'event_time': t % 1,
                  'cols': {'status': 'in_progress', 'caller_number': '+15555550199'}, 'data': {'a': 3}},
                 {'table': 'messages', 'external_id': 'M1', 'event_time': t % 1, 'cols': {'body': 'hi'}}]),
    'D': ('d4', [{'table': 'transcript_segments', 'op': 'replace_segments', 'call_external_id': 'C1',
                  'event_time': t % 6, 'segments': [{'seq': 1, 'speaker': 'agent', 'text': 'hello'},
                                                    {'seq': 2, 'speaker': 'caller', 'text': 'hi'}]}]),
    'F': ('d5', [{'table': 'transcript_segments', 'external_id': 'x', 'event_time': t % 2,
                  'cols': {'call_external_id': 'C1', 'seq': 99, 'speaker': 'agent', 'text': 'hel'}}]),
}
d['E'] = d['A']
def lit(v):
    return 'NULL' if v is None else "'" + v.replace("'", "''") + "'"
def arr(vals, typ):
    return 'ARRAY[' + ', '.join(lit(v) for v in vals) + ']::' + typ + '[]'
out = open(sys.argv[1], 'w')
out.write('CREATE TABLE public.results (src text, pos int, event text, outcome text, prior text, notices int);\n')
for k, order in enumerate(itertools.permutations('ABCDEF')):
    keys = [d[x][0] for x in order]
    rows = [json.dumps(d[x][1]) for x in order]
    events = ['ev' + x for x in order]
    bodies = ['body ' + x for x in order]
    recv = ['2026-01-01T11:00:%02dZ' % i for i in range(6)]
    n = len(order)
    out.write("INSERT INTO public.results SELECT 'm%d', r.ord, (%s)[r.ord], r.outcome, r.prior_outcome, "
              "cardinality(r.notices) "
              "FROM callhook.ingest_many(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) AS r;\n" % (
        k, arr(events, 'text'), arr(['m%d' % k] * n, 'text'), arr(['calltracker'] * n, 'text'), arr(events, 'text'),
        arr(['POST'] * n, 'text'), arr(['application/json'] * n, 'text'), arr([''] * n, 'text'),
        arr(['{}'] * n, 'jsonb'), 'ARRAY[' + ', '.join("convert_to(%s, 'UTF8')" % lit(b) for b in bodies) + ']',
        arr(keys, 'text'), arr(['stored'] * n, 'text'), arr([None] * n, 'text'), arr(rows, 'jsonb'),
        arr(recv, 'timestamptz')))
    for i in range(n):
        out.write("INSERT INTO public.results SELECT 's%d', %d, %s, r.outcome, r.prior_outcome, "
                  "cardinality(r.notices) "
                  "FROM callhook.ingest('s%d', 'calltracker', %s, 'POST', 'application/json', '', '{}', "
                  "convert_to(%s, 'UTF8'), %s, 'stored', NULL, %s, %s) AS r;\n" % (
            k, i + 1, lit(events[i]), k, lit(events[i]), lit(bodies[i]), lit(keys[i]), lit(rows[i]), lit(recv[i])))
EOF
PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -h "$T/pg" -U postgres -d callhook \
	-f "$T/orders.sql" >"$T/orders.log" 2>&1
is "$?" 0 "the 720 orders ran through ingest_many() and ingest() without an error"

is "$(sql "select count(distinct src) from public.results")" 1440 "720 batches and 720 sequences answered"
is "$(sql "select count(*) from public.results m join public.results s
	on s.src = 's' || substr(m.src, 2) and s.pos = m.pos
	where m.src like 'm%' and (m.event, m.outcome, coalesce(m.prior, '-'))
		is distinct from (s.event, s.outcome, coalesce(s.prior, '-'))")" 0 \
	"every delivery's outcome and prior outcome are the ones ingest() gives in that order"
# One difference is by design: a live turn sent before the final transcript is written, announced and
# then deleted by the transcript when sent in order; in a batch it is never written, so not announced.
is "$(sql "select count(*) || ' ' || coalesce(string_agg(distinct m.event || ':' || s.notices || '>' || m.notices, ','), '')
	from public.results m join public.results s on s.src = 's' || substr(m.src, 2) and s.pos = m.pos
	where m.src like 'm%' and m.notices <> s.notices")" "360 evF:1>0" \
	"notices: the same, but for the live turn sent before the final transcript (360 orders), not announced"
is "$(sql "select string_agg(outcome || '/' || coalesce(prior, '-'), ' ' order by outcome, prior)
	from (select distinct outcome, prior from public.results) r")" "duplicate/stored stored/-" \
	"each batch stores five deliveries and answers the redelivery duplicate of the first"

# The rows of one source, without what names the source or the delivery, sorted: one text per source.
rows_of() { # TABLE EXCLUDED_KEYS
	echo "select r.source, string_agg((to_jsonb(r) - 'id' - 'source' $2)::text, ' | ' order by (to_jsonb(r) - 'id' - 'source' $2)::text)
		as v from callhook.$1 r group by r.source"
}
# same_rows BATCHES WANT WHAT: for each table, how many batch sources m<k> (those BATCHES, an SQL condition on
# m.source) have exactly the rows of their sequence s<k>; WANT of them, "<table>: WHAT".
same_rows() {
	local table name extra
	for table in calls messages transcript_segments "call_events:- 'external_id' - 'delivery_id'"; do
		name=${table%%:*}
		extra=
		[ "$name" != "$table" ] && extra=${table#*:}
		is "$(sql "with v as ($(rows_of "$name" "$extra"))
			select count(*) from v m join v s on s.source = 's' || substr(m.source, 2)
			where $1 and m.v = s.v")" "$2" "$name: $3"
	done
}
same_rows "m.source like 'm%'" 720 "every batch leaves the rows its sequence leaves"

is "$(sql "select string_agg(distinct status || '|' || caller_number || '|' || duration_s || '|' || (data->>'a'), ',')
	from callhook.calls where source like 'm%'")" "completed|+15555550199|300|3" \
	"calls: completed (the newest terminal), with the newer caller number and data.a in every batch"
is "$(sql "select count(*) from callhook.transcript_segments where source like 'm%' and final")" 1440 \
	"transcript_segments: the two final turns of every batch"
is "$(sql "select count(*) from callhook.transcript_segments where source like 'm%' and not final")" 0 \
	"transcript_segments: no live turn is left beside a final transcript, in any order"

# callhook.replay_many() (sql/011_replay_many.sql) against callhook.replay_delivery(): the rows of the first
# 120 orders are deleted, then rebuilt from their deliveries, each batch's with one replay_many(), each
# sequence's with replay_delivery() one delivery after the other, in the order of their ids.
python3 - "$T/replay.sql" <<'EOF'
import json, sys
t = '2026-01-01T10:%02d:00Z'
rows = {
    'evA': [{'table': 'calls', 'external_id': 'C1', 'event_time': t % 0,
             'cols': {'status': 'ringing', 'caller_number': '+15555550100'}, 'data': {'a': 1}}],
    'evB': [{'table': 'calls', 'external_id': 'C1', 'event_time': t % 5,
             'cols': {'status': 'completed', 'duration_s': 300}, 'data': {'b': 2}},
            {'table': 'call_events', 'cols': {'event': 'ended'}}],
    'evC': [{'table': 'calls', 'external_id': 'C1', 'event_time': t % 1,
             'cols': {'status': 'in_progress', 'caller_number': '+15555550199'}, 'data': {'a': 3}},
            {'table': 'messages', 'external_id': 'M1', 'event_time': t % 1, 'cols': {'body': 'hi'}}],
    'evD': [{'table': 'transcript_segments', 'op': 'replace_segments', 'call_external_id': 'C1',
             'event_time': t % 6, 'segments': [{'seq': 1, 'speaker': 'agent', 'text': 'hello'},
                                               {'seq': 2, 'speaker': 'caller', 'text': 'hi'}]}],
    'evF': [{'table': 'transcript_segments', 'external_id': 'x', 'event_time': t % 2,
             'cols': {'call_external_id': 'C1', 'seq': 99, 'speaker': 'agent', 'text': 'hel'}}],
}
out = open(sys.argv[1], 'w')
out.write('CREATE TABLE public.ev_rows (event text PRIMARY KEY, rows jsonb);\n')
for e, r in rows.items():
    out.write("INSERT INTO public.ev_rows VALUES ('%s', '%s');\n" % (e, json.dumps(r).replace("'", "''")))
EOF
cat >>"$T/replay.sql" <<'EOF'
CREATE TABLE public.replayed (src text, pos int, event text, outcome text, prior text, notices int);
CREATE TABLE public.replay_set AS SELECT 'm' || k AS m, 's' || k AS s FROM generate_series(0, 119) AS k;
CREATE TABLE public.replay_sources AS SELECT m AS source FROM public.replay_set UNION ALL SELECT s FROM public.replay_set;
DELETE FROM callhook.call_events WHERE source IN (SELECT source FROM public.replay_sources);
DELETE FROM callhook.transcript_segments WHERE source IN (SELECT source FROM public.replay_sources);
DELETE FROM callhook.messages WHERE source IN (SELECT source FROM public.replay_sources);
DELETE FROM callhook.calls WHERE source IN (SELECT source FROM public.replay_sources);
DO $replay$
DECLARE
    b record;
    dv record;
    n integer;
BEGIN
    FOR b IN SELECT * FROM public.replay_set LOOP
        INSERT INTO public.replayed
        SELECT b.m, r.ord, (SELECT d.event FROM callhook.deliveries d WHERE d.id = r.delivery_id), r.outcome,
               r.prior_outcome, cardinality(r.notices)
          FROM (SELECT array_agg(d.id ORDER BY d.id) AS ids, array_agg(e.rows ORDER BY d.id) AS rows
                  FROM callhook.deliveries d JOIN public.ev_rows e ON e.event = d.event WHERE d.source = b.m) AS a,
               callhook.replay_many(a.ids, array_fill('stored'::text, ARRAY[cardinality(a.ids)]),
                                    array_fill(NULL::text, ARRAY[cardinality(a.ids)]), a.rows) AS r;
        n := 0;
        FOR dv IN SELECT d.id, d.event, e.rows FROM callhook.deliveries d JOIN public.ev_rows e ON e.event = d.event
                  WHERE d.source = b.s ORDER BY d.id LOOP
            n := n + 1;
            INSERT INTO public.replayed
            SELECT b.s, n, dv.event, r.outcome, r.prior_outcome, cardinality(r.notices)
              FROM callhook.replay_delivery(dv.id, 'stored', NULL, dv.rows) AS r;
        END LOOP;
    END LOOP;
END
$replay$;
EOF
PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -h "$T/pg" -U postgres -d callhook \
	-f "$T/replay.sql" >"$T/replay.log" 2>&1
is "$?" 0 "the deliveries of 120 orders were replayed through replay_many() and replay_delivery() without an error"
[ -s "$T/replay.log" ] && diag "$(head -n 5 "$T/replay.log")"
is "$(sql "select count(*) || ' ' || count(distinct src) from public.replayed")" "1200 240" \
	"120 batches and 120 sequences of five deliveries replayed"
is "$(sql "select count(*) from public.replayed m join public.replayed s on s.src = 's' || substr(m.src, 2) and s.pos = m.pos
	where m.src like 'm%' and (m.event, m.outcome, m.prior) is not distinct from (s.event, s.outcome, s.prior)")" 600 \
	"every replayed delivery's outcome and prior outcome are the ones replay_delivery() gives"
is "$(sql "select count(*) || ' ' || coalesce(string_agg(distinct m.event || ':' || s.notices || '>' || m.notices, ','), '')
	from public.replayed m join public.replayed s on s.src = 's' || substr(m.src, 2) and s.pos = m.pos
	where m.src like 'm%' and m.notices <> s.notices")" "60 evF:1>0" \
	"notices: the same, but for the live turn replayed before the final transcript (60 orders), as in a batch"
same_rows "m.source in (select m from public.replay_set)" 120 \
	"every batch's replay rebuilds the rows its sequence's replay rebuilds"
is "$(sql "select count(*) from callhook.deliveries where source in (select m from public.replay_set) and replayed_at is null")" 0 \
	"replay_many() records replayed_at"
is "$(sql "select count(*) from callhook.replay_many(array[1, 987654321], array['stored', 'stored'], array[null, null]::text[],
	array[null, null]::jsonb[])" | head -n 1)" 'ERROR:  callhook.replay_many: no delivery 987654321' \
	"replay_many() of an id that is no delivery raises, naming it"
is "$(sql "select count(*) from callhook.replay_many(array[1, 2], array['stored'], array[null]::text[], array[null]::jsonb[])" | head -n 1)" \
	'ERROR:  callhook.replay_many: every argument needs one element per delivery (2 ids)' \
	"replay_many() refuses arrays of different lengths"

# Rows that are not plain take the row-at-a-time path and raise its errors, naming the row and column.
one() { # ROWS_JSON KEY: ingest_many() of one Call Tracker delivery with these rows under source "one"
	echo "select outcome from callhook.ingest_many(array['one'], array['calltracker'], array['e'], array['POST'],
		array['application/json'], array[''], array['{}'::jsonb], array['x'::bytea], array['$2'], array['stored'],
		array[null::text], array['$1'::jsonb], array[now()])"
}
is "$(sql "$(one '[{"table": "calls", "external_id": "E1", "cols": {"status": "completed", "caller_numbr": "+15555550100"}}]' k1)" | head -n 1)" \
	'ERROR:  callhook.ingest: row 1: "caller_numbr" is not a column callhook.calls accepts' \
	"an unknown column raises the error ingest() raises, naming it"
is "$(sql "$(one '[{"table": "calls", "external_id": "E2", "cols": {"status": "completed", "note": "", "tags": []}}]' k2)")" stored \
	"empty values are accepted"
is "$(sql "select status || '|' || coalesce(note, 'null') || '|' || coalesce(tags::text, 'null') || '|' || (field_times ? 'note')
	from callhook.calls where source = 'one' and external_id = 'E2'")" "completed|null|null|false" \
	"empty values are left out, as ingest() leaves them out: no value and no time"

is "$(sql "$(one '["not an object"]' k3)" | head -n 1)" 'ERROR:  callhook.ingest: row 1: expected a JSON object' \
	"a row operation that is not an object raises the error ingest() raises"
is "$(sql "select count(*) from callhook.ingest_many(array['one', 'one'], array['calltracker'], array['e'], array['POST'],
	array['application/json'], array[''], array['{}'::jsonb], array['x'::bytea], array['k4'], array['stored'],
	array[null::text], array[null::jsonb], array[now()])" | head -n 1)" \
	'ERROR:  callhook.ingest_many: every argument needs one element per delivery (2 sources)' \
	"arrays of different lengths are refused"

done_testing
