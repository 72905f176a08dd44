-- callhook schema, version 12: callhook.ingest_batch(), a batch whose row operations come as typed arrays.
--
--   SELECT * FROM callhook.ingest_batch(sources, …, received_ats,       -- ingest_many()'s 13 arrays
--                                       op_delivery, op_place, op_segment, op_table, op_kind,
--                                       op_external_id, op_event_time, op_is_test, op_cols, op_data,
--                                       op_columns);
--
-- The first 13 arguments are ingest_many()'s, one element per delivery. The other eleven have one element
-- per row operation of the whole batch, each the field of the same name in the JSON form of 002_ingest.sql:
--   op_delivery     the place of the operation's delivery (1-based);
--   op_place        the operation's place in that delivery's rows (1-based);
--   op_segment      for a final transcript, the segment's place in it (1-based): a final transcript is one
--                   element per segment; 0 for the other operations;
--   op_table, op_kind (upsert, insert or replace_segments), op_external_id (for a final transcript: its
--                   call_external_id), op_event_time (text: zone-less times are read as UTC), op_is_test;
--   op_cols         the columns (an object; for a final transcript: the segment, data included);
--   op_data         the data (NULL: none; unused for a final transcript);
--   op_columns      the names of its columns as an object, {"name": true, …} (a segment's data is not one).
-- A delivery's rows are either in `rows` (JSON, as ingest_many() takes them) or in the operation arrays,
-- not both; an operation sent typed has no empty value (null, "", [], {}) among its columns. The result is
-- the one ingest_many() gives for the same deliveries with their rows in JSON.
--
-- callhook serve sends every batch this way (common/ingest/rowops.c). Beside writing the rows, what
-- ingest_many() spent most on was reading the operations out of the JSON and checking them: one statement
-- walked every operation and column of the batch through nested subqueries, another took each field out of
-- each operation; the two took about 30% of PostgreSQL's instructions per delivery (callgrind, captured
-- deliveries in batches of 8). Here the fields arrive apart, and an operation's columns are checked against
-- the ones its table accepts with one containment test (_row_columns.cols @> op_columns): in the same
-- measurement a delivery takes 13% fewer instructions.
--
-- The rest is ingest_many()'s path: an operation that is not plain (an unknown column, a bad status, a
-- missing external_id, …) sends its delivery through _apply_rows() whole, after the others, which raises
-- the usual error; a delivery whose key is known already goes through callhook.ingest(). Both take the
-- delivery's rows in JSON, as _typed_rows() rebuilds them. callhook sends a delivery in JSON when it has a
-- live transcript turn (written row at a time, see _apply_batch()) or an empty value (which the
-- row-at-a-time code drops).

-- The rows of delivery p_d, rebuilt in the JSON form of 002_ingest.sql from the operation arrays; NULL when
-- it has none.
CREATE FUNCTION callhook._typed_rows(
    p_d integer, p_op_delivery integer[], p_op_place integer[], p_op_segment integer[], p_op_table text[],
    p_op_kind text[], p_op_external_id text[], p_op_event_time text[], p_op_is_test boolean[], p_op_cols jsonb[],
    p_op_data jsonb[])
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_agg(x.op ORDER BY x.n)
      FROM (SELECT o.n,
                   CASE WHEN (array_agg(o.kind))[1] = 'replace_segments' THEN
                       jsonb_build_object('table', (array_agg(o.tbl))[1], 'op', 'replace_segments',
                                          'call_external_id', (array_agg(o.ext))[1],
                                          'event_time', (array_agg(o.ev))[1], 'is_test', (array_agg(o.is_test))[1],
                                          'segments', jsonb_agg(o.cols ORDER BY o.m))
                   ELSE
                       jsonb_build_object('table', (array_agg(o.tbl))[1], 'op', (array_agg(o.kind))[1],
                                          'external_id', (array_agg(o.ext))[1], 'event_time', (array_agg(o.ev))[1],
                                          'is_test', (array_agg(o.is_test))[1], 'cols', (array_agg(o.cols))[1],
                                          'data', (array_agg(o.data))[1])
                   END AS op
              FROM unnest(p_op_delivery, p_op_place, p_op_segment, p_op_table, p_op_kind, p_op_external_id,
                          p_op_event_time, p_op_is_test, p_op_cols, p_op_data)
                   AS o(d, n, m, tbl, kind, ext, ev, is_test, cols, data)
             WHERE o.d = p_d
             GROUP BY o.n) AS x
$$;
COMMENT ON FUNCTION callhook._typed_rows(integer, integer[], integer[], integer[], text[], text[], text[], text[], boolean[], jsonb[], jsonb[]) IS
    'Internal: the rows of one delivery of callhook.ingest_batch() in JSON, rebuilt from its operation arrays.';
REVOKE ALL ON FUNCTION callhook._typed_rows(integer, integer[], integer[], integer[], text[], text[], text[], text[], boolean[], jsonb[], jsonb[]) FROM PUBLIC;

-- _apply_batch() takes the operation arrays too: version 11's, with the typed operations beside the JSON ones.
DROP FUNCTION callhook._apply_batch(bigint[], text[], text[], text[], timestamptz[], jsonb[], boolean[]);

-- Applies the rows of the deliveries p_apply marks, as sending them one after the other in that order
-- would. Every p_ array but the p_op_ ones has one element per delivery: its id (call events take it),
-- source, vendor, event, received_at and rows in JSON; the p_op_ arrays hold the typed operations (see the
-- top of this file; NULL or empty: none). Returns each notice with the place of its delivery (note_ords[k]
-- for note_texts[k]).
--
-- How it stays cheap: the new rows of each normalized table go in with one INSERT … ON CONFLICT DO
-- NOTHING. Only what cannot be done that way takes the row-at-a-time functions of 002_ingest.sql:
--   * a row that already exists (or that an earlier delivery of the batch inserted) is merged by
--     _upsert_row(), in delivery order;
--   * a final transcript (replace_segments) deletes the call's live turns first, then its segments go
--     in with the other new rows;
--   * a delivery whose row operations are not plain upserts, inserts or final transcripts of
--     well-formed columns (live transcript turns, an unknown column, an empty value, a bad status, …)
--     goes through _apply_rows() whole, after the others, which raises the usual errors.
-- The merge rules do not depend on the order rows are applied in (see 002_ingest.sql), so applying
-- those later gives the rows sending them in order gives. The JSON rows are read only when a delivery
-- has some, so a batch sent typed skips those statements altogether.
CREATE FUNCTION callhook._apply_batch(
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
    v_note     text[] := '{}';
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
                   pg_catalog.jsonb_build_object('*', pg_catalog.to_char(pg_catalog.timezone('UTC', x.ev),
                                                                         'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))::callhook._op
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
                   pg_catalog.jsonb_build_object('*', pg_catalog.to_char(pg_catalog.timezone('UTC', o.ev),
                                                                         'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))::callhook._op)
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
                 WHERE p_apply[u.d]) AS o;
        IF v_bad <> '{}' THEN
            v_typed := ARRAY(SELECT o FROM pg_catalog.unnest(v_typed) AS o WHERE NOT o.d = ANY (v_bad));
        END IF;
        v_ops := v_ops || v_typed;
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

    -- New rows in one statement per table; the rest merge one by one, in delivery order.
    FOR r IN
        WITH ins AS (SELECT * FROM callhook._insert_new(v_tables, v_ops)),
             ops AS (SELECT o.*, pg_catalog.row_number() OVER (PARTITION BY o.tbl, o.source, o.external_id
                                                               ORDER BY o.d, o.n, o.m) AS k
                       FROM pg_catalog.unnest(v_ops) AS o)
        SELECT ops.*, ins.id AS new_id
          FROM ops LEFT JOIN ins ON ops.k = 1 AND ins.tbl = ops.tbl AND ins.source = ops.source
                                AND ins.external_id = ops.external_id
         ORDER BY ops.d, ops.n, ops.m
    LOOP
        v_id := r.new_id;
        IF v_id IS NULL AND r.kind = 'upsert' THEN
            v_id := callhook._upsert_row(r.tbl, r.source, r.vendor, r.received_at, r.external_id, r.event_time,
                                         r.is_test, r.cols, r.data, false, r.forced);
        END IF;
        IF v_id IS NOT NULL THEN
            v_note_d := v_note_d || r.d;
            v_note := v_note || pg_catalog.json_build_object(
                'table', r.tbl, 'id', v_id, 'source', r.source, 'event', r.event)::text;
        END IF;
    END LOOP;

    -- The deliveries that are not plain, whole, in delivery order: _apply_rows() raises the usual errors.
    FOR i IN 1 .. v_n LOOP
        IF p_apply[i] AND (NOT v_plain[i] OR i = ANY (v_bad)) THEN
            v_notes := callhook._apply_rows(p_ids[i], p_source[i], p_vendor[i], p_event[i], p_received[i],
                coalesce(p_rows[i], callhook._typed_rows(i, p_op_delivery, p_op_place, p_op_segment, p_op_table,
                    p_op_kind, p_op_external_id, p_op_event_time, p_op_is_test, p_op_cols, p_op_data)));
            v_note_d := v_note_d || pg_catalog.array_fill(i, ARRAY[pg_catalog.cardinality(v_notes)]);
            v_note := v_note || v_notes;
        END IF;
    END LOOP;
    note_ords := v_note_d;
    note_texts := v_note;
END
$fn$;
COMMENT ON FUNCTION callhook._apply_batch(bigint[], text[], text[], text[], timestamptz[], jsonb[], boolean[], integer[], integer[], integer[], text[], text[], text[], text[], boolean[], jsonb[], jsonb[], jsonb[]) IS
    'Internal: applies the rows (in JSON, or as typed operations) of the deliveries p_apply marks, as applying them one after the other would; the notices with the place of their delivery.';
REVOKE ALL ON FUNCTION callhook._apply_batch(bigint[], text[], text[], text[], timestamptz[], jsonb[], boolean[], integer[], integer[], integer[], text[], text[], text[], text[], boolean[], jsonb[], jsonb[], jsonb[]) FROM PUBLIC;

CREATE FUNCTION callhook.ingest_batch(
    p_source text[], p_vendor text[], p_event text[], p_method text[], p_content_type text[],
    p_query text[], p_headers jsonb[], p_body bytea[], p_dedup_key text[], p_outcome text[], p_error text[],
    p_rows jsonb[], p_received_at timestamptz[], p_op_delivery integer[], p_op_place integer[],
    p_op_segment integer[], p_op_table text[], p_op_kind text[], p_op_external_id text[], p_op_event_time text[],
    p_op_is_test boolean[], p_op_cols jsonb[], p_op_data jsonb[], p_op_columns jsonb[])
RETURNS TABLE (ord integer, delivery_id bigint, outcome text, prior_outcome text, notices text[])
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = callhook, pg_catalog
SET TimeZone = 'UTC'
-- (Generic plans and no JIT, for the reasons ingest_many() gives.)
SET plan_cache_mode = force_generic_plan
SET jit = off
AS $fn$
#variable_conflict use_column
DECLARE
    v_n        integer := coalesce(pg_catalog.cardinality(p_source), 0);
    v_ids      bigint[];
    v_received timestamptz[];
    v_new      boolean[];
    v_outcome  text[];
    v_prior    text[];
    v_note_d   integer[];
    v_note     text[];
    v_old      record;
    i          integer;
BEGIN
    IF v_n = 0 THEN
        RETURN;
    END IF;
    IF pg_catalog.cardinality(p_vendor) IS DISTINCT FROM v_n OR pg_catalog.cardinality(p_event) IS DISTINCT FROM v_n
       OR pg_catalog.cardinality(p_method) IS DISTINCT FROM v_n
       OR pg_catalog.cardinality(p_content_type) IS DISTINCT FROM v_n
       OR pg_catalog.cardinality(p_query) IS DISTINCT FROM v_n OR pg_catalog.cardinality(p_headers) IS DISTINCT FROM v_n
       OR pg_catalog.cardinality(p_body) IS DISTINCT FROM v_n OR pg_catalog.cardinality(p_dedup_key) IS DISTINCT FROM v_n
       OR pg_catalog.cardinality(p_outcome) IS DISTINCT FROM v_n OR pg_catalog.cardinality(p_error) IS DISTINCT FROM v_n
       OR pg_catalog.cardinality(p_rows) IS DISTINCT FROM v_n
       OR pg_catalog.cardinality(p_received_at) IS DISTINCT FROM v_n THEN
        RAISE EXCEPTION 'callhook.ingest_batch: every argument needs one element per delivery (% sources)', v_n
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- The keys of the whole batch in one statement: of two equal keys the first is inserted, and a key
    -- that is not inserted belongs to an earlier delivery (or an earlier one of this batch).
    SELECT pg_catalog.array_agg(nextval('callhook.deliveries_id_seq'::regclass) ORDER BY u.i),
           pg_catalog.array_agg(coalesce(u.r, now()) ORDER BY u.i)
      INTO v_ids, v_received
      FROM unnest(p_received_at) WITH ORDINALITY AS u(r, i);
    WITH k AS (
        INSERT INTO callhook.delivery_keys AS k (source, key_hash, delivery_id, received_at)
        SELECT u.source, callhook.dedup_hash(u.dedup_key), v_ids[u.i], v_received[u.i]
          FROM unnest(p_source, p_dedup_key) WITH ORDINALITY AS u(source, dedup_key, i)
         ORDER BY u.i
        ON CONFLICT (source, key_hash) DO NOTHING
        RETURNING k.delivery_id)
    SELECT pg_catalog.array_agg(v_ids[g.i] IN (SELECT k.delivery_id FROM k) ORDER BY g.i) INTO v_new
      FROM generate_series(1, v_n) AS g(i);

    INSERT INTO callhook.deliveries AS d
           (id, source, vendor, event, received_at, method, content_type, query, headers,
            body, body_sha256, dedup_key, outcome, error)
    SELECT v_ids[u.i], u.source, u.vendor, u.event, v_received[u.i], u.method, u.content_type, u.query,
           coalesce(u.headers, '{}'::jsonb), coalesce(u.body, ''::bytea), sha256(coalesce(u.body, ''::bytea)),
           u.dedup_key, u.outcome::callhook.delivery_outcome, u.error
      FROM unnest(p_source, p_vendor, p_event, p_method, p_content_type, p_query, p_headers, p_body, p_dedup_key,
                  p_outcome, p_error) WITH ORDINALITY
           AS u(source, vendor, event, method, content_type, query, headers, body, dedup_key, outcome, error, i)
     WHERE v_new[u.i]
     ORDER BY u.i;

    -- The new deliveries' rows; a delivery whose key is known already goes through callhook.ingest()
    -- (duplicate, or the re-application of a delivery that ended as error), its rows in JSON.
    SELECT b.note_ords, b.note_texts INTO v_note_d, v_note
      FROM callhook._apply_batch(v_ids, p_source, p_vendor, p_event, v_received, p_rows, v_new, p_op_delivery,
                                 p_op_place, p_op_segment, p_op_table, p_op_kind, p_op_external_id, p_op_event_time,
                                 p_op_is_test, p_op_cols, p_op_data, p_op_columns) AS b;
    v_outcome := p_outcome;
    v_prior := pg_catalog.array_fill(NULL::text, ARRAY[v_n]);
    FOR i IN 1 .. v_n LOOP
        IF NOT v_new[i] THEN
            SELECT * INTO v_old
              FROM callhook.ingest(p_source[i], p_vendor[i], p_event[i], p_method[i], p_content_type[i], p_query[i],
                                   p_headers[i], p_body[i], p_dedup_key[i], p_outcome[i], p_error[i],
                                   coalesce(p_rows[i], callhook._typed_rows(i, p_op_delivery, p_op_place, p_op_segment,
                                       p_op_table, p_op_kind, p_op_external_id, p_op_event_time, p_op_is_test,
                                       p_op_cols, p_op_data)),
                                   v_received[i]);
            v_ids[i] := v_old.delivery_id;
            v_outcome[i] := v_old.outcome;
            v_prior[i] := v_old.prior_outcome;
            v_note_d := v_note_d || pg_catalog.array_fill(i, ARRAY[pg_catalog.cardinality(v_old.notices)]);
            v_note := v_note || v_old.notices;
        END IF;
    END LOOP;

    RETURN QUERY
    SELECT i, v_ids[i], v_outcome[i], v_prior[i],
           ARRAY(SELECT x.t FROM unnest(v_note_d, v_note) WITH ORDINALITY AS x(d, t, k)
                  WHERE x.d = i ORDER BY x.k)
      FROM generate_series(1, v_n) AS i
     ORDER BY i;
END
$fn$;
COMMENT ON FUNCTION callhook.ingest_batch(text[], text[], text[], text[], text[], text[], jsonb[], bytea[], text[], text[], text[], jsonb[], timestamptz[], integer[], integer[], integer[], text[], text[], text[], text[], boolean[], jsonb[], jsonb[], jsonb[]) IS
    'Stores a batch of webhook deliveries as callhook.ingest_many() does, their row operations in JSON (rows) or as typed arrays (op_…, one element per operation, a final transcript one per segment); one result row per delivery (ord: its place).';
REVOKE ALL ON FUNCTION callhook.ingest_batch(text[], text[], text[], text[], text[], text[], jsonb[], bytea[], text[], text[], text[], jsonb[], timestamptz[], integer[], integer[], integer[], text[], text[], text[], text[], boolean[], jsonb[], jsonb[], jsonb[]) FROM PUBLIC;

-- ingest_many() is ingest_batch() with every delivery's rows in JSON.
CREATE OR REPLACE FUNCTION callhook.ingest_many(
    p_source text[], p_vendor text[], p_event text[], p_method text[], p_content_type text[],
    p_query text[], p_headers jsonb[], p_body bytea[], p_dedup_key text[], p_outcome text[], p_error text[],
    p_rows jsonb[], p_received_at timestamptz[])
RETURNS TABLE (ord integer, delivery_id bigint, outcome text, prior_outcome text, notices text[])
LANGUAGE sql VOLATILE SECURITY INVOKER
SET search_path = callhook, pg_catalog
AS $fn$
    SELECT * FROM callhook.ingest_batch(p_source, p_vendor, p_event, p_method, p_content_type, p_query, p_headers,
                                        p_body, p_dedup_key, p_outcome, p_error, p_rows, p_received_at,
                                        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
$fn$;

-- replay_many() as in version 11, on the new _apply_batch().
CREATE OR REPLACE FUNCTION callhook.replay_many(p_delivery_id bigint[], p_outcome text[], p_error text[], p_rows jsonb[])
RETURNS TABLE (ord integer, delivery_id bigint, outcome text, prior_outcome text, notices text[])
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = callhook, pg_catalog
SET TimeZone = 'UTC'
SET plan_cache_mode = force_generic_plan
SET jit = off
AS $fn$
#variable_conflict use_column
DECLARE
    v_n        integer := coalesce(pg_catalog.cardinality(p_delivery_id), 0);
    v_source   text[];
    v_vendor   text[];
    v_event    text[];
    v_received timestamptz[];
    v_prior    text[];
    v_missing  bigint;
    v_note_d   integer[];
    v_note     text[];
BEGIN
    IF v_n = 0 THEN
        RETURN;
    END IF;
    IF pg_catalog.cardinality(p_outcome) IS DISTINCT FROM v_n OR pg_catalog.cardinality(p_error) IS DISTINCT FROM v_n
       OR pg_catalog.cardinality(p_rows) IS DISTINCT FROM v_n THEN
        RAISE EXCEPTION 'callhook.replay_many: every argument needs one element per delivery (% ids)', v_n
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM 1 FROM callhook.deliveries AS d WHERE d.id = ANY (p_delivery_id) ORDER BY d.id FOR UPDATE;
    SELECT pg_catalog.array_agg(d.source ORDER BY u.i), pg_catalog.array_agg(d.vendor ORDER BY u.i),
           pg_catalog.array_agg(d.event ORDER BY u.i), pg_catalog.array_agg(d.received_at ORDER BY u.i),
           pg_catalog.array_agg(d.outcome::text ORDER BY u.i), min(u.id) FILTER (WHERE d.id IS NULL)
      INTO v_source, v_vendor, v_event, v_received, v_prior, v_missing
      FROM unnest(p_delivery_id) WITH ORDINALITY AS u(id, i)
      LEFT JOIN callhook.deliveries AS d ON d.id = u.id;
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'callhook.replay_many: no delivery %', v_missing USING ERRCODE = 'no_data_found';
    END IF;

    SELECT b.note_ords, b.note_texts INTO v_note_d, v_note
      FROM callhook._apply_batch(p_delivery_id, v_source, v_vendor, v_event, v_received, p_rows,
                                 pg_catalog.array_fill(true, ARRAY[v_n]), NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                 NULL, NULL, NULL, NULL) AS b;
    UPDATE callhook.deliveries AS d
       SET outcome = u.outcome::callhook.delivery_outcome, error = u.error, replayed_at = now()
      FROM unnest(p_delivery_id, p_outcome, p_error) AS u(id, outcome, error)
     WHERE d.id = u.id;

    RETURN QUERY
    SELECT i, p_delivery_id[i], p_outcome[i], v_prior[i],
           ARRAY(SELECT x.t FROM unnest(v_note_d, v_note) WITH ORDINALITY AS x(d, t, k)
                  WHERE x.d = i ORDER BY x.k)
      FROM generate_series(1, v_n) AS i
     ORDER BY i;
END
$fn$;

DO $grants$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'callhook_writer') THEN
        GRANT EXECUTE ON FUNCTION
            callhook._typed_rows(integer, integer[], integer[], integer[], text[], text[], text[], text[], boolean[], jsonb[], jsonb[]),
            callhook._apply_batch(bigint[], text[], text[], text[], timestamptz[], jsonb[], boolean[], integer[], integer[], integer[], text[], text[], text[], text[], boolean[], jsonb[], jsonb[], jsonb[]),
            callhook.ingest_batch(text[], text[], text[], text[], text[], text[], jsonb[], bytea[], text[], text[], text[], jsonb[], timestamptz[], integer[], integer[], integer[], text[], text[], text[], text[], boolean[], jsonb[], jsonb[], jsonb[])
            TO callhook_writer;
    ELSE
        RAISE NOTICE 'callhook: role callhook_writer does not exist; its grants were skipped';
    END IF;
END
$grants$;
