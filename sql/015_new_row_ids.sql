-- callhook schema, version 15: a batch's new rows are known by their ids.
--
-- Same results as version 14, with less work in PostgreSQL. Measured with callgrind on PostgreSQL run
-- single-user, over 1,440 deliveries of the bench's mix captured from callhook serve, in batches of 8:
-- 1,382 M instructions before, 1,241 M after (-10%).
--   - Each operation of a batch takes the id its row would get, from the table's sequence, when the batch
--     is read (_op.id, _next_id()); _insert_new() inserts the new rows with those ids and returns the ids
--     it inserted. Which operations made a new row is then a lookup of their own ids, not a join of the
--     inserted rows back to the operations by key after numbering each key's operations with a window
--     function and sorting them twice: that step cost more than inserting the calls themselves. The
--     sequences give out as many values as before: an operation whose row existed took one for the
--     column's default. -6%.
--   - A new row's notice is written out as json_build_object() would write it: that function looks up the
--     types of its arguments again at every call. (The merge loop, rare, still calls it.)
--   - The typed operations' checks are computed once per operation: the aggregate that gathers the good
--     ones and the one that names the bad deliveries each repeated them (the subquery was flattened into
--     both FILTER clauses), the containment test of the columns included. -4%.
--   - A new row's first event time ({"*": time}) is built by jsonb_object() from a text array:
--     jsonb_build_object() looks up the types of its arguments again at every call.
--   - _apply_batch() returns its notices in delivery order, each delivery's in the order made, for
--     ingest_batch() to hand out (016_batch_notices.sql). They come that way but when a delivery applied
--     row by row (_apply_rows()) adds notices after a later delivery's: _apply_batch() notes it, and only
--     then sorts them (_notices_in_order()).
-- The id of the row the operation inserts, when it inserts one.
ALTER TYPE callhook._op ADD ATTRIBUTE id bigint;
CREATE FUNCTION callhook._next_id(p_table text)
RETURNS bigint
LANGUAGE sql VOLATILE
AS $$
SELECT CASE p_table
           WHEN 'calls' THEN pg_catalog.nextval('callhook.calls_id_seq'::regclass)
           WHEN 'messages' THEN pg_catalog.nextval('callhook.messages_id_seq'::regclass)
           WHEN 'trackers' THEN pg_catalog.nextval('callhook.trackers_id_seq'::regclass)
           WHEN 'usage' THEN pg_catalog.nextval('callhook.usage_id_seq'::regclass)
           WHEN 'voicemails' THEN pg_catalog.nextval('callhook.voicemails_id_seq'::regclass)
           WHEN 'form_submissions' THEN pg_catalog.nextval('callhook.form_submissions_id_seq'::regclass)
           WHEN 'transcript_segments' THEN pg_catalog.nextval('callhook.transcript_segments_id_seq'::regclass)
           WHEN 'call_events' THEN pg_catalog.nextval('callhook.call_events_id_seq'::regclass)
       END
$$;
COMMENT ON FUNCTION callhook._next_id(text) IS
    'Internal: the next value of the id sequence of the normalized table p_table (NULL for another name).';
REVOKE ALL ON FUNCTION callhook._next_id(text) FROM PUBLIC;
DO $grants$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'callhook_writer') THEN
        GRANT EXECUTE ON FUNCTION callhook._next_id(text) TO callhook_writer;
    ELSE
        RAISE NOTICE 'callhook: role callhook_writer does not exist; its grants were skipped';
    END IF;
END
$grants$;
DROP FUNCTION callhook._insert_new(text[], callhook._op[]);
CREATE OR REPLACE PROCEDURE callhook._refresh_batch_inserts()
LANGUAGE plpgsql
SET search_path = callhook, pg_catalog
AS $proc$
DECLARE
    c_tables CONSTANT text[] := ARRAY['calls', 'messages', 'trackers', 'usage', 'voicemails',
                                      'form_submissions', 'transcript_segments', 'call_events'];
    v_body  text := '';
    v_icols text;
    v_ivals text;
    t       text;
BEGIN
    FOREACH t IN ARRAY c_tables LOOP
        SELECT string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum),
               string_agg(CASE WHEN d.adbin IS NULL THEN 'r.' || pg_catalog.quote_ident(a.attname)
                               ELSE pg_catalog.format('coalesce(r.%I, %s)', a.attname,
                                                      pg_catalog.pg_get_expr(d.adbin, d.adrelid)) END,
                          ', ' ORDER BY a.attnum)
          INTO v_icols, v_ivals
          FROM pg_catalog.pg_attribute AS a
          LEFT JOIN pg_catalog.pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = pg_catalog.format('callhook.%I', t)::regclass
           AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attname NOT IN ('id', 'source', 'vendor', 'external_id', 'data', 'is_test',
                                 'first_seen_at', 'last_event_at', 'field_times');
        v_body := v_body || pg_catalog.format($f$
    IF %1$L = ANY (p_tables) THEN
        RETURN QUERY
        WITH ins AS (
            INSERT INTO callhook.%1$I AS t (id, source, vendor, external_id, data, is_test, first_seen_at,
                                            last_event_at, field_times, %2$s)
            SELECT o.id, o.source, o.vendor, o.external_id, o.data, o.is_test, o.received_at, o.event_time,
                   o.field_times, %3$s
              FROM pg_catalog.unnest(p_ops) AS o
             CROSS JOIN LATERAL pg_catalog.jsonb_populate_record(NULL::callhook.%1$I,
                 o.cols || o.forced) AS r
             WHERE o.tbl = %1$L
            ON CONFLICT (source, external_id) DO NOTHING
            RETURNING t.id)
        SELECT %1$L::text, ins.id FROM ins;
    END IF;$f$, t, v_icols, v_ivals);
    END LOOP;
    EXECUTE pg_catalog.format($f$
CREATE OR REPLACE FUNCTION callhook._insert_new(p_tables text[], p_ops callhook._op[])
RETURNS TABLE (tbl text, id bigint)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $body$
#variable_conflict use_column
BEGIN%s
END
$body$$f$, v_body);
    COMMENT ON FUNCTION callhook._insert_new(text[], callhook._op[]) IS
        'Internal: inserts the rows of p_ops that do not exist yet, each with its operation''s id, one statement per table named in p_tables; returns the tables and ids of the rows inserted.';
    REVOKE ALL ON FUNCTION callhook._insert_new(text[], callhook._op[]) FROM PUBLIC;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'callhook_writer') THEN
        GRANT EXECUTE ON FUNCTION callhook._insert_new(text[], callhook._op[]) TO callhook_writer;
    END IF;
END
$proc$;
REVOKE ALL ON PROCEDURE callhook._refresh_batch_inserts() FROM PUBLIC;
CALL callhook._refresh_batch_inserts();

CREATE FUNCTION callhook._notices_in_order(p_ords integer[], p_texts text[], OUT ords integer[], OUT texts text[])
LANGUAGE sql IMMUTABLE
AS $$
SELECT coalesce(pg_catalog.array_agg(x.d ORDER BY x.d, x.k), '{}'), coalesce(pg_catalog.array_agg(x.t ORDER BY x.d, x.k), '{}')
  FROM ROWS FROM (pg_catalog.unnest(p_ords), pg_catalog.unnest(p_texts)) WITH ORDINALITY AS x(d, t, k)
$$;
COMMENT ON FUNCTION callhook._notices_in_order(integer[], text[]) IS
    'Internal: a batch''s notices (p_texts, p_ords the place of each one''s delivery) in delivery order, each delivery''s in the order given.';
REVOKE ALL ON FUNCTION callhook._notices_in_order(integer[], text[]) FROM PUBLIC;
DO $grants$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'callhook_writer') THEN
        GRANT EXECUTE ON FUNCTION callhook._notices_in_order(integer[], text[]) TO callhook_writer;
    ELSE
        RAISE NOTICE 'callhook: role callhook_writer does not exist; its grants were skipped';
    END IF;
END
$grants$;

CREATE OR REPLACE FUNCTION callhook._apply_batch(
    p_ids bigint[], p_source text[], p_vendor text[], p_event text[], p_received timestamptz[], p_rows jsonb[],
    p_apply boolean[], p_op_delivery integer[], p_op_place integer[], p_op_segment integer[], p_op_table text[],
    p_op_kind text[], p_op_external_id text[], p_op_event_time text[], p_op_is_test boolean[], p_op_cols jsonb[],
    p_op_data jsonb[], p_op_columns jsonb[], OUT note_ords integer[], OUT note_texts text[])
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = callhook, pg_catalog
SET TimeZone = 'UTC'
-- (Generic plans and no JIT, for the reasons ingest_many() gives.)
SET plan_cache_mode = force_generic_plan
SET jit = off
AS $fn$
#variable_conflict use_column
DECLARE
    v_n        integer := coalesce(pg_catalog.cardinality(p_ids), 0);
    v_plain    boolean[] := p_apply;
    v_bad      integer[] := '{}';
    v_ops      callhook._op[] := '{}';
    v_typed    callhook._op[] := '{}';
    v_tables   text[];
    v_note_d   integer[] := '{}';
    v_note_x   integer[];
    v_note     text[] := '{}';
    v_merge    integer[];
    v_new      text[];
    v_sorted   boolean := true;  -- v_note_d in delivery order
    v_notes    text[];
    v_id       bigint;
    r          record;
    i          integer;
BEGIN
    -- Rows in JSON: which deliveries to apply have plain rows, and their operations as records (as version 11).
    IF pg_catalog.cardinality(pg_catalog.array_remove(p_rows, NULL)) > 0 THEN
        -- Plain: a JSON array (or nothing) of upserts and inserts on the tables _insert_new() writes but
        -- transcript_segments, each with an external_id (call events make their own), and of final
        -- transcripts (replace_segments with at least one segment, each with a seq); only columns the table
        -- accepts, no empty value, a known call status. The others go through _apply_rows(), which raises
        -- the usual errors; so do live transcript turns, which depend on whether the final transcript is in.
        SELECT pg_catalog.array_agg(p_apply[u.i] AND (u.rows IS NULL OR pg_catalog.jsonb_typeof(u.rows) = 'null'
                   OR (pg_catalog.jsonb_typeof(u.rows) = 'array' AND NOT EXISTS (
                       SELECT 1
                         FROM pg_catalog.jsonb_array_elements(u.rows) AS e(op)
                         LEFT JOIN callhook._row_columns AS rc
                           ON rc.tbl = CASE WHEN e.op->>'op' = 'replace_segments' THEN 'transcript_segments'
                                            ELSE e.op->>'table' END
                        WHERE NOT (pg_catalog.jsonb_typeof(e.op) = 'object'
                                   AND coalesce(pg_catalog.jsonb_typeof(e.op->'data'), 'object') = 'object'
                                   AND CASE WHEN e.op->>'op' = 'replace_segments' THEN
                                           e.op->>'table' = 'transcript_segments'
                                           AND coalesce(e.op->>'call_external_id', '') <> ''
                                           AND pg_catalog.jsonb_typeof(e.op->'segments') = 'array'
                                           AND pg_catalog.jsonb_array_length(e.op->'segments') > 0
                                           AND NOT EXISTS (
                                               SELECT 1 FROM pg_catalog.jsonb_array_elements(e.op->'segments') AS g(seg)
                                                WHERE NOT (pg_catalog.jsonb_typeof(g.seg) = 'object'
                                                           AND coalesce(pg_catalog.jsonb_typeof(g.seg->'data'), 'object') = 'object'
                                                           AND coalesce(g.seg->>'seq', '') <> ''
                                                           AND NOT EXISTS (
                                                               SELECT 1 FROM pg_catalog.jsonb_each(g.seg - 'data') AS c
                                                                WHERE NOT rc.cols ? c.key
                                                                   OR c.value IN ('null', '""', '[]', '{}'))))
                                       ELSE
                                           coalesce(e.op->>'table', '') IN ('calls', 'messages', 'trackers', 'usage',
                                               'voicemails', 'form_submissions', 'call_events')
                                           AND coalesce(e.op->>'op', 'upsert') IN ('upsert', 'insert')
                                           AND coalesce(pg_catalog.jsonb_typeof(e.op->'cols'), 'object') = 'object'
                                           AND (e.op->>'table' = 'call_events' OR coalesce(e.op->>'external_id', '') <> '')
                                           AND (e.op->>'table' <> 'calls' OR NOT (coalesce(e.op->'cols', '{}') ? 'status')
                                                OR callhook._status_rank(e.op->'cols'->>'status') IS NOT NULL)
                                           AND NOT EXISTS (
                                               SELECT 1 FROM pg_catalog.jsonb_each(coalesce(e.op->'cols', '{}')) AS c
                                                WHERE NOT rc.cols ? c.key OR c.value IN ('null', '""', '[]', '{}'))
                                       END)))) ORDER BY u.i)
          INTO v_plain
          FROM unnest(p_rows) WITH ORDINALITY AS u(rows, i);

        -- Their row operations as records, a final transcript as one per segment.
        SELECT coalesce(pg_catalog.array_agg(ROW(x.d, x.n, x.m, x.tbl, x.kind, x.source, x.vendor, x.event,
                                                 p_received[x.d], x.ext, x.ev, x.is_test, x.cols, x.data, x.forced,
                   pg_catalog.jsonb_object(ARRAY['*', pg_catalog.to_char(pg_catalog.timezone('UTC', x.ev),
                                                                         'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')]),
                   callhook._next_id(x.tbl))::callhook._op
                   ORDER BY x.d, x.n, x.m), '{}')
          INTO v_ops
          FROM (SELECT u.i::integer AS d, e.n::integer AS n, z.m, u.source, u.vendor, u.event,
                       e.op->>'table' AS tbl, z.kind, z.ext,
                       coalesce((e.op->>'event_time')::timestamptz, p_received[u.i]) AS ev,
                       coalesce((e.op->>'is_test')::boolean, false) AS is_test,
                       z.cols, z.data, z.forced
                  FROM unnest(p_source, p_vendor, p_event, p_rows) WITH ORDINALITY AS u(source, vendor, event, rows, i)
                 CROSS JOIN LATERAL pg_catalog.jsonb_array_elements(
                       CASE WHEN pg_catalog.jsonb_typeof(u.rows) = 'array' THEN u.rows ELSE '[]'::jsonb END)
                       WITH ORDINALITY AS e(op, n)
                 CROSS JOIN LATERAL (
                       SELECT 0 AS m, coalesce(e.op->>'op', 'upsert') AS kind,
                              CASE WHEN e.op->>'table' = 'call_events'
                                   THEN coalesce(nullif(e.op->>'external_id', ''), p_ids[u.i] || ':' || e.n)
                                   ELSE e.op->>'external_id' END AS ext,
                              CASE WHEN e.op->>'table' = 'call_events'
                                   THEN pg_catalog.jsonb_build_object('delivery_id', p_ids[u.i])
                                        || CASE WHEN u.event IS NULL THEN '{}'::jsonb
                                                ELSE pg_catalog.jsonb_build_object('event', u.event) END
                                        || coalesce(e.op->'cols', '{}'::jsonb)
                                   ELSE coalesce(e.op->'cols', '{}'::jsonb) END AS cols,
                              coalesce(e.op->'data', '{}'::jsonb) AS data, '{}'::jsonb AS forced
                        WHERE coalesce(e.op->>'op', 'upsert') <> 'replace_segments'
                       UNION ALL
                       SELECT g.m::integer, 'upsert',
                              (e.op->>'call_external_id') || ':' || (g.seg->>'seq')::bigint,
                              (g.seg - 'data' - 'final') || pg_catalog.jsonb_build_object(
                                  'call_external_id', e.op->>'call_external_id', 'seq', (g.seg->>'seq')::bigint),
                              coalesce(g.seg->'data', '{}'::jsonb), '{"final": true}'::jsonb
                         FROM pg_catalog.jsonb_array_elements(e.op->'segments') WITH ORDINALITY AS g(seg, m)
                        WHERE e.op->>'op' = 'replace_segments') AS z
                 WHERE v_plain[u.i]) AS x;
    END IF;

    -- Typed operations as records, but those of a delivery with one that is not plain (the rules above: a
    -- known table and kind, an external_id where one is needed, a seq in each segment, objects where
    -- objects belong, only columns the table accepts, a known call status). callhook lists each
    -- operation's columns in p_op_columns and sends no empty value typed (rowops.h), so the columns are
    -- checked with one containment test each: about a tenth of what taking them out of JSON cost.
    IF coalesce(pg_catalog.cardinality(p_op_delivery), 0) > 0 THEN
        IF pg_catalog.cardinality(p_op_place) IS DISTINCT FROM pg_catalog.cardinality(p_op_delivery)
           OR pg_catalog.cardinality(p_op_segment) IS DISTINCT FROM pg_catalog.cardinality(p_op_delivery)
           OR pg_catalog.cardinality(p_op_table) IS DISTINCT FROM pg_catalog.cardinality(p_op_delivery)
           OR pg_catalog.cardinality(p_op_kind) IS DISTINCT FROM pg_catalog.cardinality(p_op_delivery)
           OR pg_catalog.cardinality(p_op_external_id) IS DISTINCT FROM pg_catalog.cardinality(p_op_delivery)
           OR pg_catalog.cardinality(p_op_event_time) IS DISTINCT FROM pg_catalog.cardinality(p_op_delivery)
           OR pg_catalog.cardinality(p_op_is_test) IS DISTINCT FROM pg_catalog.cardinality(p_op_delivery)
           OR pg_catalog.cardinality(p_op_cols) IS DISTINCT FROM pg_catalog.cardinality(p_op_delivery)
           OR pg_catalog.cardinality(p_op_data) IS DISTINCT FROM pg_catalog.cardinality(p_op_delivery)
           OR pg_catalog.cardinality(p_op_columns) IS DISTINCT FROM pg_catalog.cardinality(p_op_delivery) THEN
            RAISE EXCEPTION 'callhook.ingest_batch: every op_ argument needs one element per row operation'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT coalesce(pg_catalog.array_agg(ROW(o.d, o.n, o.m, o.tbl, o.kind, p_source[o.d], p_vendor[o.d],
                                                 p_event[o.d], p_received[o.d], o.ext, o.ev, o.is_test, o.cols,
                                                 o.data, o.forced,
                   -- (jsonb_object() of a text array: jsonb_build_object() looks up its arguments' types at every call)
                   pg_catalog.jsonb_object(ARRAY['*', coalesce(o.evt, pg_catalog.to_char(pg_catalog.timezone('UTC', o.ev),
                                                                         'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))]),
                   callhook._next_id(o.tbl))::callhook._op
                                     ORDER BY o.d, o.n, o.m)
                   FILTER (WHERE o.ok), '{}'),
               coalesce(pg_catalog.array_agg(DISTINCT o.d) FILTER (WHERE NOT o.ok), '{}')
          INTO v_typed, v_bad
          FROM (SELECT u.d, u.n, u.m, u.tbl,
                       coalesce(pg_catalog.jsonb_typeof(u.cols) = 'object'
                                AND coalesce(pg_catalog.jsonb_typeof(u.data), 'object') = 'object'
                                AND CASE WHEN u.kind = 'replace_segments' THEN
                                        u.tbl = 'transcript_segments' AND coalesce(u.ext, '') <> ''
                                        AND coalesce(pg_catalog.jsonb_typeof(u.cols->'data'), 'object') = 'object'
                                        AND coalesce(u.cols->>'seq', '') <> ''
                                    ELSE
                                        u.tbl IN ('calls', 'messages', 'trackers', 'usage', 'voicemails',
                                                  'form_submissions', 'call_events')
                                        AND u.kind IN ('upsert', 'insert')
                                        AND (u.tbl = 'call_events' OR coalesce(u.ext, '') <> '')
                                        AND (u.tbl <> 'calls' OR NOT u.cols ? 'status'
                                             OR callhook._status_rank(u.cols->>'status') IS NOT NULL)
                                    END
                                AND rc.cols @> u.columns, false) AS ok,
                       CASE WHEN u.kind = 'replace_segments' THEN 'upsert' ELSE u.kind END AS kind,
                       CASE WHEN u.kind = 'replace_segments' THEN u.ext || ':' || (u.cols->>'seq')::bigint
                            WHEN u.tbl = 'call_events' THEN coalesce(nullif(u.ext, ''), p_ids[u.d] || ':' || u.n)
                            ELSE u.ext END AS ext,
                       coalesce(u.ev::timestamptz, p_received[u.d]) AS ev,
                       -- (the time as field_times keeps it, when the text has that form already)
                       CASE WHEN u.ev LIKE '____-__-__T__:__:__.______Z' THEN u.ev END AS evt,
                       coalesce(u.is_test, false) AS is_test,
                       CASE WHEN u.kind = 'replace_segments'
                            THEN (u.cols - 'data' - 'final') || pg_catalog.jsonb_build_object(
                                     'call_external_id', u.ext, 'seq', (u.cols->>'seq')::bigint)
                            WHEN u.tbl = 'call_events'
                            THEN pg_catalog.jsonb_build_object('delivery_id', p_ids[u.d])
                                 || CASE WHEN p_event[u.d] IS NULL THEN '{}'::jsonb
                                         ELSE pg_catalog.jsonb_build_object('event', p_event[u.d]) END
                                 || u.cols
                            ELSE u.cols END AS cols,
                       CASE WHEN u.kind = 'replace_segments' THEN coalesce(u.cols->'data', '{}'::jsonb)
                            ELSE coalesce(u.data, '{}'::jsonb) END AS data,
                       CASE WHEN u.kind = 'replace_segments' THEN '{"final": true}'::jsonb
                            ELSE '{}'::jsonb END AS forced
                  FROM unnest(p_op_delivery, p_op_place, p_op_segment, p_op_table, p_op_kind, p_op_external_id,
                              p_op_event_time, p_op_is_test, p_op_cols, p_op_data, p_op_columns)
                       AS u(d, n, m, tbl, kind, ext, ev, is_test, cols, data, columns)
                  LEFT JOIN callhook._row_columns AS rc ON rc.tbl = u.tbl
                 WHERE p_apply[u.d]
                OFFSET 0) AS o;  -- (each operation's checks once, not once per aggregate)
        IF v_bad <> '{}' THEN
            v_typed := ARRAY(SELECT o FROM pg_catalog.unnest(v_typed) AS o WHERE NOT o.d = ANY (v_bad));
        END IF;
        -- (v_ops stays in delivery order, which _insert_new() and the notices rely on.)
        IF v_ops = '{}' THEN
            v_ops := v_typed;
        ELSE
            v_ops := ARRAY(SELECT o FROM pg_catalog.unnest(v_ops || v_typed) AS o ORDER BY o.d, o.n, o.m);
        END IF;
    END IF;

    -- A final transcript replaces the call's live turns: under the lock live turns take (_apply_rows()),
    -- in a fixed order, they are deleted before the batch's rows go in.
    v_tables := ARRAY(SELECT DISTINCT o.tbl FROM pg_catalog.unnest(v_ops) AS o);
    -- (One call at a time: each DELETE then finds the call's turns by index.)
    IF 'transcript_segments' = ANY (v_tables) THEN
        FOR r IN SELECT DISTINCT o.source, o.cols->>'call_external_id' AS call
                   FROM pg_catalog.unnest(v_ops) AS o
                  WHERE o.forced <> '{}'::jsonb
                  ORDER BY 1, 2 LOOP
            PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(
                'callhook.transcript_segments:' || r.source || ':' || r.call, 0));
            DELETE FROM callhook.transcript_segments AS s
             WHERE s.source = r.source AND s.call_external_id = r.call AND NOT s.final;
        END LOOP;
    END IF;

    -- New rows in one statement per table. An operation made a new row when its own id was inserted (of
    -- two operations on one new row, the first inserts it). The new rows' notices come in delivery order,
    -- with the place of each operation in v_ops (unnest() gives v_ops in its order, and the subquery
    -- keeps it); the operations whose row exists then merge one by one, in delivery order.
    v_new := ARRAY(SELECT n.tbl || ':' || n.id FROM callhook._insert_new(v_tables, v_ops) AS n);
    SELECT coalesce(pg_catalog.array_agg(o.d) FILTER (WHERE o.new), '{}'),
           coalesce(pg_catalog.array_agg(o.x) FILTER (WHERE o.new), '{}'),
           -- (json_build_object()'s text, written out: it looks up its arguments' types at every call)
           coalesce(pg_catalog.array_agg('{"table" : "' || o.tbl || '", "id" : ' || o.id || ', "source" : '
                                         || pg_catalog.to_json(o.source)::text || ', "event" : '
                                         || coalesce(pg_catalog.to_json(o.event)::text, 'null') || '}')
                    FILTER (WHERE o.new), '{}'),
           coalesce(pg_catalog.array_agg(o.x) FILTER (WHERE NOT o.new AND o.kind = 'upsert'), '{}')
      INTO v_note_d, v_note_x, v_note, v_merge
      FROM (SELECT u.d, u.ordinality::integer AS x, u.tbl, u.id, u.source, u.event, u.kind,
                   (u.tbl || ':' || u.id) = ANY (v_new) AS new
              FROM pg_catalog.unnest(v_ops) WITH ORDINALITY AS u
            OFFSET 0) AS o;  -- (each operation's test once, not once per aggregate)
    IF v_merge <> '{}' THEN
        FOREACH i IN ARRAY v_merge LOOP
            r := v_ops[i];
            v_id := callhook._upsert_row(r.tbl, r.source, r.vendor, r.received_at, r.external_id, r.event_time,
                                         r.is_test, r.cols, r.data, false, r.forced);
            IF v_id IS NOT NULL THEN
                v_note_d := v_note_d || r.d;
                v_note_x := v_note_x || i;
                v_note := v_note || pg_catalog.json_build_object(
                    'table', r.tbl, 'id', v_id, 'source', r.source, 'event', r.event)::text;
            END IF;
        END LOOP;
        -- (v_ops is in delivery order: a notice's operation's place in it orders them.)
        SELECT pg_catalog.array_agg(x.d ORDER BY x.i), pg_catalog.array_agg(x.t ORDER BY x.i)
          INTO v_note_d, v_note
          FROM unnest(v_note_d, v_note_x, v_note) AS x(d, i, t);
    END IF;

    -- The deliveries that are not plain, whole, in delivery order: _apply_rows() raises the usual errors.
    FOR i IN 1 .. v_n LOOP
        IF p_apply[i] AND (NOT v_plain[i] OR i = ANY (v_bad)) THEN
            v_notes := callhook._apply_rows(p_ids[i], p_source[i], p_vendor[i], p_event[i], p_received[i],
                coalesce(p_rows[i], callhook._typed_rows(i, p_op_delivery, p_op_place, p_op_segment, p_op_table,
                    p_op_kind, p_op_external_id, p_op_event_time, p_op_is_test, p_op_cols, p_op_data)));
            v_sorted := v_sorted AND coalesce(v_note_d[pg_catalog.cardinality(v_note_d)] <= i, true);
            v_note_d := v_note_d || pg_catalog.array_fill(i, ARRAY[pg_catalog.cardinality(v_notes)]);
            v_note := v_note || v_notes;
        END IF;
    END LOOP;
    IF NOT v_sorted THEN
        SELECT s.ords, s.texts INTO v_note_d, v_note FROM callhook._notices_in_order(v_note_d, v_note) AS s;
    END IF;
    note_ords := v_note_d;
    note_texts := v_note;
END
$fn$;
