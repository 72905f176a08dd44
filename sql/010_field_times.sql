-- callhook schema, version 10: field_times stores the first event's time once.
--
-- field_times holds the event time of each value a row holds, so that events merge the same in any
-- order (002_ingest.sql). Until this version a new row stamped every column it was given, and every
-- top-level key of its data, with the event's time: about 650 bytes a call, built, written and
-- logged for every new row, and most of them never read again. Now a new row keeps one key,
-- {"*": time}: a value without a time of its own (a column that is set, a key that data has) was
-- set by that first event. A merge writes the time of each value it changes under the value's own
-- key, as before. Rows written before this version keep their keys, which take precedence, so the
-- merge rules and their results do not change; only the storage does.
--
-- A value is never unset by a merge (null, "", [] and {} never erase), so "set" tells a value the
-- first event wrote from one no event has written yet. callhook.field_times_of() gives a row's
-- times in full, one key per value, as field_times used to hold them. The same events in another order
-- give the same times, though they may store them differently ("*" is whichever event came first).
-- A merge writes a value's time only when it changes, so applying an event again (replay) changes
-- nothing.

CREATE OR REPLACE FUNCTION callhook._upsert_row(
    p_table text, p_source text, p_vendor text, p_received_at timestamptz,
    p_external_id text, p_event_time timestamptz, p_is_test boolean, p_cols jsonb, p_data jsonb,
    p_insert_only boolean, p_forced jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $fn$
DECLARE
    -- The event time as kept in field_times.
    v_ev       text := pg_catalog.to_char(pg_catalog.timezone('UTC', p_event_time),
                                          'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    v_ft       jsonb;
    v_star     text;
    v_old      jsonb;
    v_set      jsonb;
    v_times    jsonb;
    v_data     jsonb;
    v_dt       jsonb;
    v_id       bigint;
    v_tries    integer := 0;
    v_rank_old integer;
BEGIN
    -- A new row: every value it holds, columns and top-level keys of data, is this event's.
    v_ft := pg_catalog.jsonb_build_object('*', v_ev);
    LOOP
        v_id := callhook._insert_row(p_table, p_source, p_vendor, p_external_id, p_data, p_is_test,
                                     p_received_at, p_event_time, v_ft, p_cols || p_forced);
        IF v_id IS NOT NULL OR p_insert_only THEN
            RETURN v_id;
        END IF;
        v_old := callhook._lock_row(p_table, p_source, p_external_id);
        EXIT WHEN v_old IS NOT NULL;
        -- The conflicting row vanished (deleted by a concurrent transaction): insert again.
        v_tries := v_tries + 1;
        IF v_tries > 3 THEN
            RAISE EXCEPTION 'callhook: could not insert or lock %.% (%, %)',
                'callhook', p_table, p_source, p_external_id
                USING ERRCODE = 'serialization_failure';
        END IF;
    END LOOP;

    -- Merge into the existing, locked row. A column takes the new value when this event is at least
    -- as new as the one that set it; calls.status moves forward only, and between equal ranks the
    -- newer event wins.
    -- A value without a time of its own (a column that is set, a key that data has) is the first event's: "*".
    v_ft := coalesce(v_old->'field_times', '{}'::jsonb);
    v_star := v_ft->>'*';
    v_rank_old := coalesce(callhook._status_rank(v_old->>'status'), 0);
    -- (A value's time is written only when it changes: applying the same event again changes nothing.)
    SELECT coalesce(pg_catalog.jsonb_object_agg(e.key, e.value), '{}'::jsonb),
           coalesce(pg_catalog.jsonb_object_agg(e.key, v_ev) FILTER (WHERE e.t IS DISTINCT FROM p_event_time), '{}'::jsonb)
      INTO v_set, v_times
      FROM (SELECT e.key, e.value,
                   coalesce(v_ft->>e.key, CASE WHEN v_old->>e.key IS NOT NULL THEN v_star END)::timestamptz AS t
              FROM pg_catalog.jsonb_each(p_cols) AS e) AS e
     WHERE CASE WHEN p_table = 'calls' AND e.key = 'status'
                THEN callhook._status_rank(e.value #>> '{}') > v_rank_old
                     OR (callhook._status_rank(e.value #>> '{}') = v_rank_old
                         AND (e.t IS NULL OR p_event_time >= e.t))
                ELSE e.t IS NULL OR p_event_time >= e.t
           END;
    -- data merges key by key under the same rule, so the arrival order never matters.
    v_dt := coalesce(v_ft->'data', '{}'::jsonb);
    SELECT coalesce(v_old->'data', '{}'::jsonb) || coalesce(pg_catalog.jsonb_object_agg(e.key, e.value), '{}'::jsonb),
           v_dt || coalesce(pg_catalog.jsonb_object_agg(e.key, v_ev) FILTER (WHERE e.t IS DISTINCT FROM p_event_time),
                            '{}'::jsonb)
      INTO v_data, v_dt
      FROM (SELECT e.key, e.value,
                   coalesce(v_dt->>e.key, CASE WHEN v_old->'data' ? e.key THEN v_star END)::timestamptz AS t
              FROM pg_catalog.jsonb_each(p_data) AS e) AS e
     WHERE e.t IS NULL OR p_event_time >= e.t;

    RETURN callhook._update_row(p_table, (v_old->>'id')::bigint, v_set || p_forced || pg_catalog.jsonb_build_object(
        'field_times', v_ft || v_times || CASE WHEN v_dt = '{}'::jsonb THEN '{}'::jsonb
                                               ELSE pg_catalog.jsonb_build_object('data', v_dt) END,
        'data', v_data,
        'last_event_at', greatest((v_old->>'last_event_at')::timestamptz, p_event_time),
        'first_seen_at', least((v_old->>'first_seen_at')::timestamptz, p_received_at),
        'is_test', (v_old->>'is_test')::boolean AND p_is_test));
END
$fn$;

CREATE OR REPLACE FUNCTION callhook.ingest_many(
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
               pg_catalog.jsonb_build_object('*', pg_catalog.to_char(pg_catalog.timezone('UTC', x.ev),
                                                                     'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))::callhook._op
               ORDER BY x.d, x.n, x.m), '{}')
      INTO v_ops
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
             WHERE v_plain[u.i]) AS x;

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
CREATE FUNCTION callhook.field_times_of(p_row jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT jsonb_object_agg(c.key, coalesce(p_row->'field_times'->c.key, p_row->'field_times'->'*'))
                       FROM jsonb_each(p_row) AS c
                      WHERE c.value <> 'null'
                        AND c.key NOT IN ('id', 'source', 'vendor', 'external_id', 'data', 'is_test', 'first_seen_at',
                                          'last_event_at', 'field_times')), '{}')
           || jsonb_build_object('data', coalesce((
                  SELECT jsonb_object_agg(k.key, coalesce(p_row->'field_times'->'data'->k.key, p_row->'field_times'->'*'))
                    FROM jsonb_each(coalesce(p_row->'data', '{}')) AS k), '{}'))
$$;
COMMENT ON FUNCTION callhook.field_times_of(jsonb) IS
    'The event time of each value a normalized row holds (pass to_jsonb(row)): {column: time, …, "data": {key: time, …}}, as the merge rules read them. A value written without one (transcript_segments.final) shows the first event''s.';

COMMENT ON COLUMN callhook.calls.field_times IS
    'Internal: the event time of the values the row holds, for merging out-of-order events. "*" is the first event''s, for every value without a key of its own; callhook.field_times_of() lists them all.';
