#!/usr/bin/env bash
# callhook.ingest_many() (sql/009_ingest_many.sql) against callhook.ingest(): for every order of six
# deliveries, one batch through ingest_many() must leave exactly the rows, outcomes and notices that the
# six sent one after the other through ingest() leave; and so must the same batch through
# callhook.ingest_batch() (sql/012_ingest_batch.sql) with the rows of five of them as typed arrays, as
# callhook serve sends them (common/ingest/rowops.c), and the live turn in JSON. The six cover each of its paths: a new call
# (set-based insert), two later events of that call (merged, one older than what the row holds), a
# call event without an id of its own, a new message, a final transcript (live turns deleted, then
# set-based), a live transcript turn (the row-at-a-time path: kept before the final transcript, ignored
# after it), and a redelivery of the first (duplicate inside the batch). Each order writes under sources of its own:
# m<k> for the batch, t<k> for the typed batch, s<k> for the sequence.
. "$(dirname "$0")/../lib.sh"

setup_tmp
pg_start || bail_out "PostgreSQL did not start"
write_config
callhook_migrate || bail_out "migrate failed"

python3 - "$T/orders.sql" <<'EOF'
import itertools, json, sys
t = '2026-01-01T10:%02d:00Z'
u = '2026-01-01T10:%02d:00.000000Z'  # the form callhook sends, which ingest_batch() keeps as it is
d = {
    'A': ('d1', [{'table': 'calls', 'external_id': 'C1', 'event_time': t % 0,
                  'cols': {'status': 'ringing', 'caller_number': '+15555550100'}, 'data': {'a': 1}}]),
    'B': ('d2', [{'table': 'calls', 'external_id': 'C1', 'event_time': u % 5,
                  'cols': {'status': 'completed', 'duration_s': 300}, 'data': {'b': 2}},
                 {'table': 'call_events', 'cols': {'event': 'ended'}}]),
    'C': ('d3', [{'table': 'calls', 'external_id': 'C1', 'event_time': t % 1,
                  'cols': {'status': 'in_progress', 'caller_number': '+15555550199'}, 'data': {'a': 3}},
                 {'table': 'messages', 'external_id': 'M1', 'event_time': u % 1, 'cols': {'body': 'hi'}}]),
    'D': ('d4', [{'table': 'transcript_segments', 'op': 'replace_segments', 'call_external_id': 'C1',
                  'event_time': u % 6, 'segments': [{'seq': 1, 'speaker': 'agent', 'text': 'hello'},
                                                    {'seq': 2, 'speaker': 'caller', 'text': 'hi'}]}]),
    'F': ('d5', [{'table': 'transcript_segments', 'external_id': 'x', 'event_time': t % 2,
                  'cols': {'call_external_id': 'C1', 'seq': 99, 'speaker': 'agent', 'text': 'hel'}}]),
}
d['E'] = d['A']
def lit(v):
    return 'NULL' if v is None else "'" + v.replace("'", "''") + "'"
def arr(vals, typ):
    return 'ARRAY[' + ', '.join(lit(v) for v in vals) + ']::' + typ + '[]'
def typed(order):
    """The op_ arrays of ingest_batch() for the deliveries of `order`, and the rows left in JSON (rowops.h)."""
    a = [[] for _ in range(11)]
    json_rows = []
    for i, x in enumerate(order):
        ops = d[x][1]
        if any(op['table'] == 'transcript_segments' and op.get('op') != 'replace_segments' for op in ops):
            json_rows.append(json.dumps(ops))
            continue
        json_rows.append(None)
        for n, op in enumerate(ops):
            if op.get('op') == 'replace_segments':
                parts = [(m + 1, seg, op['call_external_id'], None) for m, seg in enumerate(op['segments'])]
            else:
                parts = [(0, op.get('cols', {}), op.get('external_id'), op.get('data'))]
            for m, cols, ext, data in parts:
                vals = [str(i + 1), str(n + 1), str(m), op['table'], op.get('op', 'upsert'), ext, op.get('event_time'),
                        None if 'is_test' not in op else str(op['is_test']).lower(), json.dumps(cols),
                        None if data is None else json.dumps(data),
                        json.dumps({c: True for c in cols if not (m > 0 and c == 'data')})]
                for k, v in enumerate(vals):
                    a[k].append(v)
    types = ['integer'] * 3 + ['text'] * 4 + ['boolean'] + ['jsonb'] * 3
    return json_rows, ', '.join(arr(v, t) for v, t in zip(a, types))
out = open(sys.argv[1], 'w')
NOTICES = ("coalesce((SELECT string_agg(x::json->>'table', ',' ORDER BY k) "
           "FROM unnest(r.notices) WITH ORDINALITY AS x(x, k)), '-')")
# notices: the tables of a delivery's notices, in their order
out.write('CREATE TABLE public.results (src text, pos int, event text, outcome text, prior text, notices text);\n')
def batch(src, fn, events, keys, bodies, rows, recv, ops=''):
    """One batch of the deliveries through callhook.<fn>() under source src, its results kept."""
    n = len(events)
    out.write("INSERT INTO public.results SELECT '%s', r.ord, (%s)[r.ord], r.outcome, r.prior_outcome, "
              "%s "
              "FROM callhook.%s(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s%s) AS r;\n" % (
        src, arr(events, 'text'), NOTICES, fn, arr([src] * n, 'text'), arr(['calltracker'] * n, 'text'), arr(events, 'text'),
        arr(['POST'] * n, 'text'), arr(['application/json'] * n, 'text'), arr([''] * n, 'text'),
        arr(['{}'] * n, 'jsonb'), 'ARRAY[' + ', '.join("convert_to(%s, 'UTF8')" % lit(b) for b in bodies) + ']',
        arr(keys, 'text'), arr(['stored'] * n, 'text'), arr([None] * n, 'text'), arr(rows, 'jsonb'),
        arr(recv, 'timestamptz'), ops))
for k, order in enumerate(itertools.permutations('ABCDEF')):
    keys = [d[x][0] for x in order]
    rows = [json.dumps(d[x][1]) for x in order]
    events = ['ev' + x for x in order]
    bodies = ['body ' + x for x in order]
    recv = ['2026-01-01T11:00:%02dZ' % i for i in range(6)]
    n = len(order)
    batch('m%d' % k, 'ingest_many', events, keys, bodies, rows, recv)
    json_rows, ops = typed(order)
    batch('t%d' % k, 'ingest_batch', events, keys, bodies, json_rows, recv, ', ' + ops)
    for i in range(n):
        out.write("INSERT INTO public.results SELECT 's%d', %d, %s, r.outcome, r.prior_outcome, "
                  "%s "
                  "FROM callhook.ingest('s%d', 'calltracker', %s, 'POST', 'application/json', '', '{}', "
                  "convert_to(%s, 'UTF8'), %s, 'stored', NULL, %s, %s) AS r;\n" % (
            k, i + 1, lit(events[i]), NOTICES, k, lit(events[i]), lit(bodies[i]), lit(keys[i]), lit(rows[i]), lit(recv[i])))
EOF
PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -h "$T/pg" -U postgres -d callhook \
	-f "$T/orders.sql" >"$T/orders.log" 2>&1
is "$?" 0 "the 720 orders ran through ingest_many(), ingest_batch() and ingest() without an error"

is "$(sql "select count(distinct src) from public.results")" 2160 "720 batches, 720 typed batches and 720 sequences answered"
for m in m t; do
	is "$(sql "select count(*) from public.results m join public.results s
		on s.src = 's' || substr(m.src, 2) and s.pos = m.pos
		where m.src like '$m%' and (m.event, m.outcome, coalesce(m.prior, '-'))
			is distinct from (s.event, s.outcome, coalesce(s.prior, '-'))")" 0 \
		"$m: every delivery's outcome and prior outcome are the ones ingest() gives in that order"
	# One difference is by design: a live turn sent before the final transcript is written, announced and
	# then deleted by the transcript when sent in order; in a batch it is never written, so not announced.
	is "$(sql "select count(*) || ' ' || coalesce(string_agg(distinct m.event || ':' || s.notices || '>' || m.notices, ','), '')
		from public.results m join public.results s on s.src = 's' || substr(m.src, 2) and s.pos = m.pos
		where m.src like '$m%' and m.notices <> s.notices")" "360 evF:transcript_segments>-" \
		"$m: notices: the same, but for the live turn sent before the final transcript (360 orders), not announced"
done
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
same_rows "m.source like 't%'" 720 "every typed batch leaves the rows its sequence leaves"

is "$(sql "select string_agg(distinct status || '|' || caller_number || '|' || duration_s || '|' || (data->>'a'), ',')
	from callhook.calls where source like 'm%' or source like 't%'")" "completed|+15555550199|300|3" \
	"calls: completed (the newest terminal), with the newer caller number and data.a in every batch"
is "$(sql "select count(*) from callhook.transcript_segments where (source like 'm%' or source like 't%') and final")" 2880 \
	"transcript_segments: the two final turns of every batch"
is "$(sql "select count(*) from callhook.transcript_segments where (source like 'm%' or source like 't%') and not final")" 0 \
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
# Typed operations that are not plain go through the row-at-a-time code with their rows rebuilt in JSON: the
# same errors, and a resend of a delivery kept as error is applied again.
typed_one() { # KEY OP_TABLE OP_KIND OP_EXTERNAL_ID OP_COLS OP_COLUMNS [OUTCOME [EVENT_TIME]]: ingest_batch() of one delivery, one typed operation
	echo "select outcome || '|' || coalesce(prior_outcome, '-') from callhook.ingest_batch(array['one'], array['calltracker'],
		array['e'], array['POST'], array['application/json'], array[''], array['{}'::jsonb], array['x'::bytea],
		array['$1'], array['${7:-stored}'], array[null::text], array[null::jsonb], array[now()], array[1], array[1],
		array[0], array['$2'], array['$3'], array['$4'], array['${8:-2026-01-01T10:00:00Z}'], array[false],
		array['$5'::jsonb], array[null::jsonb], array['$6'::jsonb])"
}
is "$(sql "$(typed_one k5 calls upsert T1 '{"status": "completed", "caller_numbr": "+15555550100"}' \
	'{"status": true, "caller_numbr": true}')" | head -n 1)" \
	'ERROR:  callhook.ingest: row 1: "caller_numbr" is not a column callhook.calls accepts' \
	"typed: an unknown column raises the error ingest() raises, naming it"
is "$(sql "$(typed_one k6 calls upsert T2 '{"status": "done"}' '{"status": true}')" | head -n 1)" \
	'ERROR:  callhook.ingest: row 1: unknown call status "done"' \
	"typed: an unknown call status raises the error ingest() raises"
is "$(sql "$(typed_one k7 calls upsert '' '{"status": "completed"}' '{"status": true}')" | head -n 1)" \
	'ERROR:  callhook.ingest: row 1: external_id is required for table calls' \
	"typed: a missing external_id raises the error ingest() raises"
is "$(sql "$(typed_one k8 transcript_segments replace_segments T3 '{"seq": 1, "speeker": "agent"}' \
	'{"seq": true, "speeker": true}')" | head -n 1)" \
	'ERROR:  callhook.ingest: row 1: "speeker" is not a column callhook.transcript_segments accepts' \
	"typed: an unknown column in a final transcript's segment raises the error ingest() raises"
is "$(sql "select outcome from callhook.ingest('one', 'calltracker', 'e', 'POST', 'application/json', '', '{}', 'x',
	'k9', 'error', 'could not store rows: SQLSTATE 23514', null, now())")" error "a delivery kept as error"
is "$(sql "$(typed_one k9 calls upsert T4 '{"status": "completed", "duration_s": 42}' '{"status": true, "duration_s": true}')")" \
	"stored|error" "typed: its resend is stored, its prior outcome error"
is "$(sql "select status || '|' || duration_s from callhook.calls where source = 'one' and external_id = 'T4'")" \
	"completed|42" "typed: the resend's rows, rebuilt from its operations, are written"
is "$(sql "select count(*) from callhook.calls where source = 'one' and external_id in ('T1', 'T2', 'T3')")" 0 \
	"typed: nothing of the refused ones is written"
# A new row's first event time ("*" in field_times): the event_time text when it has the form callhook sends,
# the same instant formatted so when it has another.
sql "$(typed_one k10 calls upsert T5 '{"status": "completed"}' '{"status": true}' stored '2026-01-01T10:00:00.250000Z')" >/dev/null
sql "$(typed_one k11 calls upsert T6 '{"status": "completed"}' '{"status": true}' stored '2026-01-01 12:00:00.25+02')" >/dev/null
sql "$(typed_one k12 calls upsert T7 '{"status": "completed"}' '{"status": true}' stored '2026-01-01 10:00:00.25')" >/dev/null
is "$(sql "select string_agg(external_id || '=' || (field_times->>'*') || '/' || last_event_at, ' ' order by external_id)
	from callhook.calls where source = 'one' and external_id in ('T5', 'T6', 'T7')")" \
	"T5=2026-01-01T10:00:00.250000Z/2026-01-01 10:00:00.25+00 T6=2026-01-01T10:00:00.250000Z/2026-01-01 10:00:00.25+00 T7=2026-01-01T10:00:00.250000Z/2026-01-01 10:00:00.25+00" \
	"typed: a new row's first event time, given in three forms, is kept in the one form"

is "$(sql "select count(*) from callhook.ingest_many(array['one', 'one'], array['calltracker'], array['e'], array['POST'],
	array['application/json'], array[''], array['{}'::jsonb], array['x'::bytea], array['k4'], array['stored'],
	array[null::text], array[null::jsonb], array[now()])" | head -n 1)" \
	'ERROR:  callhook.ingest_batch: every argument needs one element per delivery (2 sources)' \
	"arrays of different lengths are refused"

done_testing
