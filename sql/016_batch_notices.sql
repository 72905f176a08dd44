-- callhook schema, version 16: a batch's notices handed out without a query per delivery.
--
-- Same results as version 15, with less work in PostgreSQL. Measured with callgrind on PostgreSQL run
-- single-user, over 1,440 deliveries of the bench's mix captured from callhook serve, in batches of 8:
-- 1,247 M instructions before, 1,214 M after (-2.6%).
--   - ingest_batch() gave each delivery its notices with a subquery that went through all the batch's
--     notices, once per delivery. They come in delivery order (each delivery's in the order made), so each
--     delivery's are now a slice of them, found in one pass. They are sorted first when a delivery applied
--     row by row (_apply_rows()) or through ingest() added notices after a later delivery's
--     (_notices_in_order()): both functions note when that happens.
--   - A new row's first event time ({"*": time}) is built by jsonb_object() from a text array:
--     jsonb_build_object() looks up the types of its arguments again at every call.
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
-- (Generic plans and no JIT, for the reasons ingest_many() gives; sequential scans off, as version 14 set them:
-- CREATE OR REPLACE sets a function's settings anew.)
SET plan_cache_mode = force_generic_plan
SET jit = off
SET enable_seqscan = off
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
    v_sorted   boolean := true;  -- v_note_d in delivery order
    v_lo       integer;          -- a delivery's notices: v_note[v_lo:v_hi - 1]
    v_hi       integer;
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
            IF v_old.notices <> '{}' THEN
                v_sorted := v_sorted AND coalesce(v_note_d[pg_catalog.cardinality(v_note_d)] <= i, true);
                v_note_d := v_note_d || pg_catalog.array_fill(i, ARRAY[pg_catalog.cardinality(v_old.notices)]);
                v_note := v_note || v_old.notices;
            END IF;
        END IF;
    END LOOP;
    IF NOT v_sorted THEN
        SELECT s.ords, s.texts INTO v_note_d, v_note FROM callhook._notices_in_order(v_note_d, v_note) AS s;
    END IF;

    -- With the notices in delivery order, each delivery's are a slice of them.
    v_lo := 1;
    FOR i IN 1 .. v_n LOOP
        v_hi := v_lo;
        WHILE v_note_d[v_hi] = i LOOP
            v_hi := v_hi + 1;
        END LOOP;
        ord := i;
        delivery_id := v_ids[i];
        outcome := v_outcome[i];
        prior_outcome := v_prior[i];
        notices := CASE WHEN v_hi > v_lo THEN v_note[v_lo:v_hi - 1] ELSE '{}' END;
        RETURN NEXT;
        v_lo := v_hi;
    END LOOP;
END
$fn$;

