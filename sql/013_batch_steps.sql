-- callhook schema, version 13: a batch in fewer, cheaper steps.
--
-- The same results as version 12, for less work in PostgreSQL. Measured with callgrind on PostgreSQL run
-- single-user, over 1,440 deliveries of the bench's mix captured from callhook serve, in batches of 8 (the
-- size the bench's 32 connections make): 1.03 M instructions per delivery before, 0.96 M after (-7%).
--   - The batch's operations are kept in delivery order (v_ops, _apply_batch()), so the INSERT of each table's
--     new rows (_insert_new()) no longer sorts them: it sorted the rows it had built, 60-odd columns of a
--     call each. -3.5%.
--   - The notices of the new rows come out of the statement that inserts them, in arrays; only the operations
--     whose row exists already go through a loop, to merge. -1.6%.
--   - A new row's first event time ({"*": time} in field_times) is the operation's event_time text itself
--     when it has the form callhook sends, 'YYYY-MM-DDTHH:MI:SS.ffffffZ' (checked with LIKE: a regular
--     expression cost more than the formatting it saves), instead of being formatted again. Times in
--     field_times are read back as timestamptz (010_field_times.sql), and with the Z the text names one
--     instant whatever the session's zone. -1.4%.
--   - The deliveries INSERT reads the arguments by index instead of unnesting eleven arrays, each of which
--     the executor set up and stored apart. -1.2%.

-- _insert_new() as version 9 wrote it, but without ORDER BY: p_ops comes in delivery order, and the rows are
-- inserted in the order unnest() gives them (a function scan, then a lateral one: no step of the plan can
-- reorder them). The order matters: of two operations on one new row, the first inserts it and the second
-- merges into it, as _apply_batch() expects.
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
            INSERT INTO callhook.%1$I AS t (source, vendor, external_id, data, is_test, first_seen_at,
                                            last_event_at, field_times, %2$s)
            SELECT o.source, o.vendor, o.external_id, o.data, o.is_test, o.received_at, o.event_time,
                   o.field_times, %3$s
              FROM pg_catalog.unnest(p_ops) AS o
             CROSS JOIN LATERAL pg_catalog.jsonb_populate_record(NULL::callhook.%1$I,
                 o.cols || o.forced) AS r
             WHERE o.tbl = %1$L
            ON CONFLICT (source, external_id) DO NOTHING
            RETURNING t.source, t.external_id, t.id)
        SELECT %1$L::text, ins.source, ins.external_id, ins.id FROM ins;
    END IF;$f$, t, v_icols, v_ivals);
    END LOOP;
    EXECUTE pg_catalog.format($f$
CREATE OR REPLACE FUNCTION callhook._insert_new(p_tables text[], p_ops callhook._op[])
RETURNS TABLE (tbl text, source text, external_id text, id bigint)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $body$
#variable_conflict use_column
BEGIN%s
END
$body$$f$, v_body);
    COMMENT ON FUNCTION callhook._insert_new(text[], callhook._op[]) IS
        'Internal: inserts the rows of p_ops that do not exist yet, one statement per table named in p_tables; returns the rows inserted.';
    REVOKE ALL ON FUNCTION callhook._insert_new(text[], callhook._op[]) FROM PUBLIC;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'callhook_writer') THEN
        GRANT EXECUTE ON FUNCTION callhook._insert_new(text[], callhook._op[]) TO callhook_writer;
    END IF;
END
$proc$;
REVOKE ALL ON PROCEDURE callhook._refresh_batch_inserts() FROM PUBLIC;
CALL callhook._refresh_batch_inserts();

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
                   pg_catalog.jsonb_build_object('*', coalesce(o.evt, pg_catalog.to_char(pg_catalog.timezone('UTC', o.ev),
                                                                         'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))))::callhook._op
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
                 WHERE p_apply[u.d]) AS o;
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

    -- New rows in one statement per table, with their notices (in delivery order, with the place of each
    -- operation in v_ops); the operations whose row exists then merge one by one, in delivery order.
    SELECT coalesce(pg_catalog.array_agg(j.d) FILTER (WHERE j.new_id IS NOT NULL), '{}'),
           coalesce(pg_catalog.array_agg(j.x) FILTER (WHERE j.new_id IS NOT NULL), '{}'),
           coalesce(pg_catalog.array_agg(pg_catalog.json_build_object('table', j.tbl, 'id', j.new_id, 'source', j.source,
                                                                      'event', j.event)::text)
                    FILTER (WHERE j.new_id IS NOT NULL), '{}'),
           coalesce(pg_catalog.array_agg(j.x) FILTER (WHERE j.new_id IS NULL AND j.kind = 'upsert'), '{}')
      INTO v_note_d, v_note_x, v_note, v_merge
      FROM (WITH ins AS (SELECT * FROM callhook._insert_new(v_tables, v_ops)),
                 ops AS (SELECT o.d, o.n, o.m, o.ordinality, o.tbl, o.source, o.external_id, o.event, o.kind,
                                pg_catalog.row_number() OVER (PARTITION BY o.tbl, o.source, o.external_id
                                                              ORDER BY o.d, o.n, o.m) AS k
                           FROM pg_catalog.unnest(v_ops) WITH ORDINALITY AS o)
            SELECT ops.d, ops.ordinality::integer AS x, ops.tbl, ops.source, ops.event, ops.kind, ins.id AS new_id
              FROM ops LEFT JOIN ins ON ops.k = 1 AND ins.tbl = ops.tbl AND ins.source = ops.source
                                    AND ins.external_id = ops.external_id
             ORDER BY ops.d, ops.n, ops.m) AS j;
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
            v_note_d := v_note_d || pg_catalog.array_fill(i, ARRAY[pg_catalog.cardinality(v_notes)]);
            v_note := v_note || v_notes;
        END IF;
    END LOOP;
    note_ords := v_note_d;
    note_texts := v_note;
END
$fn$;

CREATE OR REPLACE FUNCTION callhook.ingest_batch(
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
    SELECT v_ids[i], p_source[i], p_vendor[i], p_event[i], v_received[i], p_method[i], p_content_type[i], p_query[i],
           coalesce(p_headers[i], '{}'::jsonb), coalesce(p_body[i], ''::bytea), sha256(coalesce(p_body[i], ''::bytea)),
           p_dedup_key[i], p_outcome[i]::callhook.delivery_outcome, p_error[i]
      FROM generate_series(1, v_n) AS i
     WHERE v_new[i];

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
