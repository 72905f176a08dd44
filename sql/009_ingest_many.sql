-- callhook schema, version 9: callhook.ingest_many(), a batch of deliveries in set-based statements.
--
--   SELECT * FROM callhook.ingest_many(sources, vendors, events, methods, content_types, queries, headers,
--                                      bodies, dedup_keys, outcomes, errors, rows, received_ats);
--
-- Each argument is an array with one element per delivery, in the order of callhook.ingest()'s
-- arguments; the result has one row per delivery, `ord` its place (1-based). The result of each is
-- the one callhook.ingest() gives for it when the deliveries are sent one after the other in that
-- order: the same rows, merge rules, outcomes and notices, with one exception: a live transcript turn
-- followed in the same batch by its call's final transcript is not written (the transcript would
-- delete it), so it is not announced either. callhook serve writes every batch of two or more
-- deliveries (group commit) through it, and a lone delivery through callhook.ingest(), which takes
-- fewer steps for one.
--
-- How it stays cheap: the whole batch's dedup keys go in with one INSERT, its deliveries with one,
-- and the new rows of each normalized table with one INSERT … ON CONFLICT DO NOTHING. Only what
-- cannot be done that way takes the row-at-a-time functions of 002_ingest.sql:
--   * a row that already exists (or that an earlier delivery of the same batch inserted) is merged
--     by _upsert_row(), in delivery order;
--   * a final transcript (replace_segments) deletes the call's live turns first, then its segments go
--     in with the other new rows;
--   * a delivery whose row operations are not plain upserts, inserts or final transcripts of
--     well-formed columns (live transcript turns, an unknown column, an empty value, a bad status, …)
--     goes through _apply_rows() whole, after the others, which raises the usual errors;
--   * a delivery whose key is known already goes through callhook.ingest() (duplicate, or the
--     re-application of a delivery that ended as error).
-- The merge rules do not depend on the order rows are applied in (see 002_ingest.sql), so applying
-- those later gives the rows sending them in order gives.

-- dedup_hash() (008_partitions.sql) calls convert_to(), which is only STABLE: declared IMMUTABLE, it was
-- never inlined and ran as a function call of its own for every delivery. As STABLE (what it is) it is
-- inlined into the statements that use it.
ALTER FUNCTION callhook.dedup_hash(text) STABLE;

-- One row operation of a batch, as ingest_many() reads it out of the deliveries' rows.
CREATE TYPE callhook._op AS (
    d           integer,        -- the delivery's place in the batch
    n           integer,        -- the operation's place in the delivery's rows
    m           integer,        -- the segment's place in a replace_segments operation, else 0
    tbl         text,
    kind        text,           -- upsert or insert
    source      text,
    vendor      text,
    event       text,
    received_at timestamptz,
    external_id text,
    event_time  timestamptz,
    is_test     boolean,
    cols        jsonb,
    data        jsonb,
    forced      jsonb,          -- columns written without an event time (a final segment's final)
    field_times jsonb           -- as a new row keeps them
);
COMMENT ON TYPE callhook._op IS 'Internal: one row operation of a batch in callhook.ingest_many().';

-- (Re)writes _insert_new(): for each normalized table, one static INSERT of the batch's new rows, run when the batch has operations on that table. Like _refresh_row_catalog()
-- (002_ingest.sql), a later migration that adds a column to a normalized table must CALL it again.
CREATE PROCEDURE callhook._refresh_batch_inserts()
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
             CROSS JOIN LATERAL pg_catalog.jsonb_populate_record(NULL::callhook.%1$I, o.cols || o.forced) AS r
             WHERE o.tbl = %1$L
             ORDER BY o.d, o.n, o.m
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

CREATE FUNCTION callhook.ingest_many(
    p_source text[], p_vendor text[], p_event text[], p_method text[], p_content_type text[],
    p_query text[], p_headers jsonb[], p_body bytea[], p_dedup_key text[], p_outcome text[], p_error text[],
    p_rows jsonb[], p_received_at timestamptz[])
RETURNS TABLE (ord integer, delivery_id bigint, outcome text, prior_outcome text, notices text[])
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = callhook, pg_catalog
SET TimeZone = 'UTC'
-- Generic plans: custom ones were planned again on every call (the arrays are parameters). No JIT: the
-- planner's row estimates for set-returning functions over the arrays put a batch of a few rows above
-- jit_above_cost, and compiling took 20 ms.
SET plan_cache_mode = force_generic_plan
SET jit = off
AS $fn$
#variable_conflict use_column
DECLARE
    v_n        integer := coalesce(pg_catalog.cardinality(p_source), 0);
    v_ids      bigint[];
    v_received timestamptz[];
    v_new      boolean[];
    v_plain    boolean[];
    v_outcome  text[];
    v_prior    text[];
    v_ops      callhook._op[];
    v_tables   text[];
    v_note_d   integer[] := '{}';
    v_note     text[] := '{}';
    v_notes    text[];
    v_id       bigint;
    v_old      record;
    r          record;
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
        RAISE EXCEPTION 'callhook.ingest_many: every argument needs one element per delivery (% sources)', v_n
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

    -- Which new deliveries have plain rows: a JSON array (or nothing) of upserts and inserts on the
    -- tables _insert_new() writes but transcript_segments, each with an external_id (call events make
    -- their own), and of final transcripts (replace_segments with at least one segment, each with a
    -- seq); only columns the table accepts, no empty value, a known call status. The others go through
    -- _apply_rows(), which raises the usual errors; so do live transcript turns, which depend on
    -- whether the final transcript is in.
    SELECT pg_catalog.array_agg(v_new[u.i] AND (u.rows IS NULL OR pg_catalog.jsonb_typeof(u.rows) = 'null'
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
                                             v_received[x.d], x.ext, x.ev, x.is_test, x.cols, x.data, x.forced,
               pg_catalog.jsonb_object(x.keys, pg_catalog.array_fill(x.evt, ARRAY[pg_catalog.cardinality(x.keys)]))
               || pg_catalog.jsonb_build_object('data', pg_catalog.jsonb_object(
                      x.dkeys, pg_catalog.array_fill(x.evt, ARRAY[pg_catalog.cardinality(x.dkeys)]))))::callhook._op
               ORDER BY x.d, x.n, x.m), '{}')
      INTO v_ops
      -- (field_times from key arrays with jsonb_object(), as _upsert_row() builds them: jsonb_object_agg()
      -- over the keys cost about a third of this statement.)
      FROM (SELECT y.*, pg_catalog.to_char(pg_catalog.timezone('UTC', y.ev), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS evt,
                   ARRAY(SELECT pg_catalog.jsonb_object_keys(y.cols)) AS keys,
                   ARRAY(SELECT pg_catalog.jsonb_object_keys(y.data)) AS dkeys
              FROM (SELECT u.i::integer AS d, e.n::integer AS n, z.m, u.source, u.vendor, u.event,
                           e.op->>'table' AS tbl, z.kind, z.ext,
                           coalesce((e.op->>'event_time')::timestamptz, v_received[u.i]) AS ev,
                           coalesce((e.op->>'is_test')::boolean, false) AS is_test,
                           z.cols, z.data, z.forced
                      FROM unnest(p_source, p_vendor, p_event, p_rows) WITH ORDINALITY AS u(source, vendor, event, rows, i)
                     CROSS JOIN LATERAL pg_catalog.jsonb_array_elements(
                           CASE WHEN pg_catalog.jsonb_typeof(u.rows) = 'array' THEN u.rows ELSE '[]'::jsonb END)
                           WITH ORDINALITY AS e(op, n)
                     CROSS JOIN LATERAL (
                           SELECT 0 AS m, coalesce(e.op->>'op', 'upsert') AS kind,
                                  CASE WHEN e.op->>'table' = 'call_events'
                                       THEN coalesce(nullif(e.op->>'external_id', ''), v_ids[u.i] || ':' || e.n)
                                       ELSE e.op->>'external_id' END AS ext,
                                  CASE WHEN e.op->>'table' = 'call_events'
                                       THEN pg_catalog.jsonb_build_object('delivery_id', v_ids[u.i])
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
                     WHERE v_plain[u.i]) AS y) AS x;

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

    v_outcome := p_outcome;
    v_prior := pg_catalog.array_fill(NULL::text, ARRAY[v_n]);
    FOR i IN 1 .. v_n LOOP
        IF v_new[i] AND NOT v_plain[i] THEN
            v_notes := callhook._apply_rows(v_ids[i], p_source[i], p_vendor[i], p_event[i], v_received[i], p_rows[i]);
            v_note_d := v_note_d || pg_catalog.array_fill(i, ARRAY[pg_catalog.cardinality(v_notes)]);
            v_note := v_note || v_notes;
        ELSIF NOT v_new[i] THEN
            SELECT * INTO v_old
              FROM callhook.ingest(p_source[i], p_vendor[i], p_event[i], p_method[i], p_content_type[i], p_query[i],
                                   p_headers[i], p_body[i], p_dedup_key[i], p_outcome[i], p_error[i], p_rows[i],
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
COMMENT ON FUNCTION callhook.ingest_many(text[], text[], text[], text[], text[], text[], jsonb[], bytea[], text[], text[], text[], jsonb[], timestamptz[]) IS
    'Stores a batch of webhook deliveries (one array element each, in callhook.ingest()''s argument order) in set-based statements; one result row per delivery (ord: its place), the one callhook.ingest() gives it when the deliveries are sent one after the other.';

REVOKE ALL ON FUNCTION callhook.ingest_many(text[], text[], text[], text[], text[], text[], jsonb[], bytea[], text[], text[], text[], jsonb[], timestamptz[]) FROM PUBLIC;

DO $grants$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'callhook_writer') THEN
        GRANT EXECUTE ON FUNCTION
            callhook.ingest_many(text[], text[], text[], text[], text[], text[], jsonb[], bytea[], text[], text[], text[], jsonb[], timestamptz[])
            TO callhook_writer;
    ELSE
        RAISE NOTICE 'callhook: role callhook_writer does not exist; its grants were skipped';
    END IF;
END
$grants$;
