-- callhook schema, version 2: callhook.ingest(), the one way rows are written.
--
--   SELECT * FROM callhook.ingest(source, vendor, event, method, content_type, query, headers,
--                                 body, dedup_key, outcome, error, rows, received_at);
--
-- stores the raw delivery (or recognises a redelivery by (source, dedup_key)) and applies the
-- row operations in `rows`, a JSON array of objects:
--
--   {"table": "calls", "external_id": "CAL…", "event_time": "2019-03-09T09:09:52Z",
--    "is_test": false, "op": "upsert", "cols": {"status": "ringing", …}, "data": {…payload…}}
--   {"table": "call_events", "op": "insert", "external_id": "…", "cols": {"event": "modified", …}}
--   {"table": "transcript_segments", "op": "replace_segments", "call_external_id": "…",
--    "event_time": "…", "segments": [{"seq": 1, "speaker": "agent", "text": "…", "spoken_at": "…"}, …]}
--
-- Merge rules (order-independent): a column takes a value only from an event at least as new as
-- the one that set it; JSON null, "", [] and {} never erase anything; calls.status only moves
-- forward (initiated < ringing < in_progress < terminal) and between terminal states the newest
-- event wins. Every inserted or changed row yields one notification payload
-- '{"table", "id", "source", "event"}' in the result's `notices`; after the commit, callhook passes
-- them to callhook.notify(), which sends NOTIFY callhook. Problems in `rows` raise SQLSTATE 22023
-- (invalid_parameter_value); bad values raise the usual class 22/23 errors. Zone-less timestamps are
-- read as UTC.

-- Rank of a calls.status value (NULL for an unknown one).
CREATE FUNCTION callhook._status_rank(s text)
RETURNS integer
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE s
        WHEN 'initiated' THEN 1
        WHEN 'ringing' THEN 2
        WHEN 'in_progress' THEN 3
        WHEN 'completed' THEN 4
        WHEN 'missed' THEN 4
        WHEN 'voicemail' THEN 4
        WHEN 'busy' THEN 4
        WHEN 'failed' THEN 4
    END
$$;

-- The columns a row operation may set, per normalized table, read from the catalog once rather
-- than on every row.
CREATE TABLE callhook._row_columns (
    tbl  text PRIMARY KEY,
    cols jsonb NOT NULL     -- {"column": true, …}: a key lookup per column, however many there are
);
COMMENT ON TABLE callhook._row_columns IS
    'Internal: the columns callhook.ingest() accepts in a row operation, per normalized table.';

-- Fills _row_columns and (re)writes _insert_row(), _lock_row() and _update_row(), whose statements name every
-- column of every normalized table, so they are static and planned once per session. A later
-- migration that adds a column to a normalized table must CALL it again.
CREATE PROCEDURE callhook._refresh_row_catalog()
LANGUAGE plpgsql
SET search_path = callhook, pg_catalog
AS $proc$
DECLARE
    c_tables CONSTANT text[] := ARRAY['calls', 'messages', 'trackers', 'usage', 'voicemails',
                                      'form_submissions', 'transcript_segments', 'call_events'];
    v_insert text := '';
    v_lock   text := '';
    v_update text := '';
    v_cols   text;
    v_rcols  text;
    v_icols  text;
    v_ivals  text;
    v_head   text;
    v_cases  text;
    t        text;
BEGIN
    DELETE FROM callhook._row_columns;
    INSERT INTO callhook._row_columns (tbl, cols)
    SELECT c.relname::text, pg_catalog.jsonb_object_agg(a.attname::text, true)
      FROM pg_catalog.pg_class AS c
      JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid
     WHERE c.relnamespace = 'callhook'::regnamespace AND c.relname = ANY (c_tables)
       AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname NOT IN ('id', 'source', 'vendor', 'external_id', 'data', 'is_test',
                             'first_seen_at', 'last_event_at', 'field_times')
     GROUP BY c.relname;

    FOREACH t IN ARRAY c_tables LOOP
        SELECT string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum),
               string_agg('r.' || pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
          INTO v_cols, v_rcols
          FROM pg_catalog.pg_attribute AS a
         WHERE a.attrelid = pg_catalog.format('callhook.%I', t)::regclass
           AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'id';
        -- A new row: the common columns from the arguments, the others from p_cols (or their default).
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
        v_insert := v_insert || pg_catalog.format($f$
    WHEN %1$L THEN
        INSERT INTO callhook.%1$I AS t (source, vendor, external_id, data, is_test, first_seen_at,
                                        last_event_at, field_times, %2$s)
        SELECT p_source, p_vendor, p_external_id, p_data, p_is_test, p_received_at, p_event_time,
               p_field_times, %3$s
          FROM pg_catalog.jsonb_populate_record(NULL::callhook.%1$I, p_cols) AS r
        ON CONFLICT (source, external_id) DO NOTHING
        RETURNING t.id INTO v_result;$f$, t, v_icols, v_ivals);
        v_lock := v_lock || pg_catalog.format($f$
    WHEN %1$L THEN
        SELECT pg_catalog.to_jsonb(t) INTO v_result FROM callhook.%1$I AS t
         WHERE t.source = p_source AND t.external_id = p_external_id FOR UPDATE;$f$, t);
        v_update := v_update || pg_catalog.format($f$
    WHEN %1$L THEN
        UPDATE callhook.%1$I AS t
           SET (%2$s) = (SELECT %3$s FROM pg_catalog.jsonb_populate_record(t, p_changes) AS r)
         WHERE t.id = p_id AND t IS DISTINCT FROM pg_catalog.jsonb_populate_record(t, p_changes)
        RETURNING t.id INTO v_result;$f$, t, v_cols, v_rcols);
    END LOOP;

    -- Each function: one static statement per table, chosen by p_table; its result is in v_result.
    FOR v_head, v_cases IN VALUES
        ('_insert_row(p_table text, p_source text, p_vendor text, p_external_id text, p_data jsonb,'
         ' p_is_test boolean, p_received_at timestamptz, p_event_time timestamptz, p_field_times jsonb,'
         ' p_cols jsonb) RETURNS bigint', v_insert),
        ('_lock_row(p_table text, p_source text, p_external_id text) RETURNS jsonb', v_lock),
        ('_update_row(p_table text, p_id bigint, p_changes jsonb) RETURNS bigint', v_update) LOOP
        EXECUTE pg_catalog.format($f$
CREATE OR REPLACE FUNCTION callhook.%s
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $body$
DECLARE
    v_result %s;
BEGIN
    CASE p_table%s
    END CASE;
    RETURN v_result;
END
$body$$f$, v_head, pg_catalog.split_part(v_head, 'RETURNS ', 2), v_cases);
    END LOOP;
    COMMENT ON FUNCTION callhook._insert_row(text, text, text, text, jsonb, boolean, timestamptz, timestamptz, jsonb, jsonb) IS
        'Internal: inserts a normalized row unless (source, external_id) exists; returns its id, or NULL on conflict.';
    COMMENT ON FUNCTION callhook._lock_row(text, text, text) IS
        'Internal: locks a normalized row by (source, external_id) and returns it as JSON (NULL when there is none).';
    COMMENT ON FUNCTION callhook._update_row(text, bigint, jsonb) IS
        'Internal: applies merged column values to a normalized row; returns its id when anything changed.';
    REVOKE ALL ON FUNCTION
        callhook._insert_row(text, text, text, text, jsonb, boolean, timestamptz, timestamptz, jsonb, jsonb),
        callhook._lock_row(text, text, text), callhook._update_row(text, bigint, jsonb)
        FROM PUBLIC;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'callhook_writer') THEN
        GRANT EXECUTE ON FUNCTION
            callhook._insert_row(text, text, text, text, jsonb, boolean, timestamptz, timestamptz, jsonb, jsonb),
            callhook._lock_row(text, text, text), callhook._update_row(text, bigint, jsonb)
            TO callhook_writer;
    END IF;
END
$proc$;
REVOKE ALL ON PROCEDURE callhook._refresh_row_catalog() FROM PUBLIC;
CALL callhook._refresh_row_catalog();

-- Inserts or merges one row of p_table identified by (p_source, p_external_id).
-- p_cols: validated, non-empty column values; p_forced: columns written on insert and update
-- without event-time tracking (transcript_segments.final). Returns the row id when a row was
-- inserted or changed, NULL when nothing changed. Called only from _apply_rows(), under the
-- search_path and TimeZone of ingest() or replay_delivery(); every name here is qualified.
CREATE FUNCTION callhook._upsert_row(
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
    v_keys     text[];
    v_dkeys    text[];
    v_ft       jsonb;
    v_old      jsonb;
    v_set      jsonb;
    v_times    jsonb;
    v_data     jsonb;
    v_dt       jsonb;
    v_id       bigint;
    v_tries    integer := 0;
    v_rank_old integer;
BEGIN
    -- A new row: every given column, and every top-level key of data, stamped with this event's time.
    v_keys := ARRAY(SELECT pg_catalog.jsonb_object_keys(p_cols));
    v_dkeys := ARRAY(SELECT pg_catalog.jsonb_object_keys(p_data));
    v_ft := pg_catalog.jsonb_object(v_keys, pg_catalog.array_fill(v_ev, ARRAY[pg_catalog.cardinality(v_keys)]))
            || pg_catalog.jsonb_build_object('data', pg_catalog.jsonb_object(v_dkeys,
                   pg_catalog.array_fill(v_ev, ARRAY[pg_catalog.cardinality(v_dkeys)])));
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
    v_ft := coalesce(v_old->'field_times', '{}'::jsonb);
    v_rank_old := coalesce(callhook._status_rank(v_old->>'status'), 0);
    SELECT coalesce(pg_catalog.jsonb_object_agg(e.key, e.value), '{}'::jsonb),
           coalesce(pg_catalog.jsonb_object_agg(e.key, v_ev), '{}'::jsonb)
      INTO v_set, v_times
      FROM pg_catalog.jsonb_each(p_cols) AS e
     WHERE CASE WHEN p_table = 'calls' AND e.key = 'status'
                THEN callhook._status_rank(e.value #>> '{}') > v_rank_old
                     OR (callhook._status_rank(e.value #>> '{}') = v_rank_old
                         AND (v_ft->>e.key IS NULL OR p_event_time >= (v_ft->>e.key)::timestamptz))
                ELSE v_ft->>e.key IS NULL OR p_event_time >= (v_ft->>e.key)::timestamptz
           END;
    -- data merges key by key under the same rule, so the arrival order never matters.
    v_dt := coalesce(v_ft->'data', '{}'::jsonb);
    SELECT coalesce(v_old->'data', '{}'::jsonb) || coalesce(pg_catalog.jsonb_object_agg(e.key, e.value), '{}'::jsonb),
           v_dt || coalesce(pg_catalog.jsonb_object_agg(e.key, v_ev), '{}'::jsonb)
      INTO v_data, v_dt
      FROM pg_catalog.jsonb_each(p_data) AS e
     WHERE v_dt->>e.key IS NULL OR p_event_time >= (v_dt->>e.key)::timestamptz;

    RETURN callhook._update_row(p_table, (v_old->>'id')::bigint, v_set || p_forced || pg_catalog.jsonb_build_object(
        'field_times', v_ft || v_times || pg_catalog.jsonb_build_object('data', v_dt),
        'data', v_data,
        'last_event_at', greatest((v_old->>'last_event_at')::timestamptz, p_event_time),
        'first_seen_at', least((v_old->>'first_seen_at')::timestamptz, p_received_at),
        'is_test', (v_old->>'is_test')::boolean AND p_is_test));
END
$fn$;

-- The column values of row operation p_n without the empty ones (null, "", [] and {} never erase
-- anything); raises naming the first column p_table does not accept.
CREATE FUNCTION callhook._checked_cols(p_cols jsonb, p_allowed jsonb, p_n bigint, p_table text)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY INVOKER
AS $fn$
DECLARE
    v_bad   text;
    v_empty boolean;
    v_cols  jsonb;
BEGIN
    SELECT min(e.key) FILTER (WHERE NOT p_allowed ? e.key),
           bool_or(e.value IN ('null', '""', '[]', '{}'))
      INTO v_bad, v_empty
      FROM pg_catalog.jsonb_each(p_cols) AS e;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'callhook.ingest: row %: "%" is not a column callhook.% accepts', p_n, v_bad, p_table
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT v_empty THEN
        RETURN p_cols;
    END IF;
    SELECT coalesce(pg_catalog.jsonb_object_agg(e.key, e.value), '{}')
      INTO v_cols
      FROM pg_catalog.jsonb_each(p_cols) AS e
     WHERE e.value NOT IN ('null', '""', '[]', '{}');
    RETURN v_cols;
END
$fn$;

-- Applies the row operations of one delivery (see the header of this file) and returns the
-- notification payloads of the rows it inserted or changed, for callhook.notify() after commit.
CREATE FUNCTION callhook._apply_rows(
    p_delivery_id bigint, p_source text, p_vendor text, p_event text, p_received_at timestamptz,
    p_rows jsonb)
RETURNS text[]
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $fn$
DECLARE
    c_tables   CONSTANT text[] := ARRAY['calls', 'messages', 'trackers', 'usage', 'voicemails',
                                        'form_submissions', 'transcript_segments', 'call_events'];
    v_notices  text[] := '{}';
    v_op       jsonb;
    v_n        bigint;
    v_table    text;
    v_kind     text;
    v_ev       timestamptz;
    v_is_test  boolean;
    v_data     jsonb;
    v_cols     jsonb;
    v_allowed  jsonb;
    v_ext      text;
    v_call     text;
    v_seg      jsonb;
    v_segs     jsonb;
    v_seq      integer;
    v_id       bigint;
BEGIN
    IF p_rows IS NULL OR pg_catalog.jsonb_typeof(p_rows) = 'null' THEN
        RETURN v_notices;
    END IF;
    IF pg_catalog.jsonb_typeof(p_rows) <> 'array' THEN
        RAISE EXCEPTION 'callhook.ingest: rows must be a JSON array, not %', pg_catalog.jsonb_typeof(p_rows)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    FOR v_op, v_n IN SELECT e.value, e.ord
                       FROM pg_catalog.jsonb_array_elements(p_rows) WITH ORDINALITY AS e(value, ord) LOOP
        IF pg_catalog.jsonb_typeof(v_op) IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION 'callhook.ingest: row %: expected a JSON object', v_n
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        v_table := v_op->>'table';
        IF v_table IS NULL OR NOT v_table = ANY (c_tables) THEN
            RAISE EXCEPTION 'callhook.ingest: row %: unknown table %', v_n,
                coalesce(pg_catalog.quote_literal(v_table), 'NULL')
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        v_kind := coalesce(v_op->>'op', 'upsert');
        IF v_kind NOT IN ('upsert', 'insert', 'replace_segments') THEN
            RAISE EXCEPTION 'callhook.ingest: row %: unknown op %', v_n, pg_catalog.quote_literal(v_kind)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        v_ev := coalesce((v_op->>'event_time')::timestamptz, p_received_at);
        v_is_test := coalesce((v_op->>'is_test')::boolean, false);
        v_data := v_op->'data';
        IF v_data IS NULL OR pg_catalog.jsonb_typeof(v_data) = 'null' THEN
            v_data := '{}'::jsonb;
        ELSIF pg_catalog.jsonb_typeof(v_data) <> 'object' THEN
            RAISE EXCEPTION 'callhook.ingest: row %: data must be a JSON object', v_n
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT r.cols INTO v_allowed FROM callhook._row_columns AS r WHERE r.tbl = v_table;

        IF v_kind = 'replace_segments' THEN
            IF v_table <> 'transcript_segments' THEN
                RAISE EXCEPTION 'callhook.ingest: row %: op replace_segments needs table transcript_segments', v_n
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            v_call := nullif(v_op->>'call_external_id', '');
            IF v_call IS NULL THEN
                RAISE EXCEPTION 'callhook.ingest: row %: replace_segments needs call_external_id', v_n
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            v_segs := coalesce(nullif(v_op->'segments', 'null'::jsonb), '[]'::jsonb);
            IF pg_catalog.jsonb_typeof(v_segs) <> 'array' THEN
                RAISE EXCEPTION 'callhook.ingest: row %: segments must be a JSON array', v_n
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            -- Serialises with live partial upserts of the same call.
            PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(
                'callhook.transcript_segments:' || p_source || ':' || v_call, 0));
            DELETE FROM callhook.transcript_segments AS s
             WHERE s.source = p_source AND s.call_external_id = v_call AND NOT s.final;
            FOR v_seg IN SELECT e.value FROM pg_catalog.jsonb_array_elements(v_segs) AS e LOOP
                IF pg_catalog.jsonb_typeof(v_seg) <> 'object' THEN
                    RAISE EXCEPTION 'callhook.ingest: row %: each segment must be a JSON object', v_n
                        USING ERRCODE = 'invalid_parameter_value';
                END IF;
                v_data := coalesce(nullif(v_seg->'data', 'null'::jsonb), '{}'::jsonb);
                IF pg_catalog.jsonb_typeof(v_data) <> 'object' THEN
                    RAISE EXCEPTION 'callhook.ingest: row %: segment data must be a JSON object', v_n
                        USING ERRCODE = 'invalid_parameter_value';
                END IF;
                v_cols := callhook._checked_cols(v_seg - 'data', v_allowed, v_n, v_table);
                v_seq := (v_cols->>'seq')::integer;
                IF v_seq IS NULL THEN
                    RAISE EXCEPTION 'callhook.ingest: row %: each segment needs seq', v_n
                        USING ERRCODE = 'invalid_parameter_value';
                END IF;
                v_cols := (v_cols - 'final') || pg_catalog.jsonb_build_object('call_external_id', v_call, 'seq', v_seq);
                v_id := callhook._upsert_row('transcript_segments', p_source, p_vendor, p_received_at,
                                             v_call || ':' || v_seq, v_ev, v_is_test, v_cols, v_data,
                                             false, '{"final": true}'::jsonb);
                IF v_id IS NOT NULL THEN
                    v_notices := v_notices || pg_catalog.json_build_object(
                        'table', v_table, 'id', v_id, 'source', p_source, 'event', p_event)::text;
                END IF;
            END LOOP;
            CONTINUE;
        END IF;

        v_cols := v_op->'cols';
        IF v_cols IS NULL OR pg_catalog.jsonb_typeof(v_cols) = 'null' THEN
            v_cols := '{}'::jsonb;
        ELSIF pg_catalog.jsonb_typeof(v_cols) <> 'object' THEN
            RAISE EXCEPTION 'callhook.ingest: row %: cols must be a JSON object', v_n
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        v_cols := callhook._checked_cols(v_cols, v_allowed, v_n, v_table);

        IF v_table = 'calls' AND v_cols ? 'status'
           AND callhook._status_rank(v_cols->>'status') IS NULL THEN
            RAISE EXCEPTION 'callhook.ingest: row %: unknown call status %', v_n, v_cols->'status'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;

        v_ext := nullif(v_op->>'external_id', '');
        IF v_table = 'call_events' THEN
            IF NOT v_cols ? 'delivery_id' THEN
                v_cols := v_cols || pg_catalog.jsonb_build_object('delivery_id', p_delivery_id);
            END IF;
            IF NOT v_cols ? 'event' AND p_event IS NOT NULL THEN
                v_cols := v_cols || pg_catalog.jsonb_build_object('event', p_event);
            END IF;
            -- An event with no id of its own is identified by its delivery and position.
            v_ext := coalesce(v_ext, p_delivery_id || ':' || v_n);
        ELSIF v_table = 'transcript_segments' THEN
            IF coalesce((v_cols->>'final')::boolean, false) THEN
                RAISE EXCEPTION 'callhook.ingest: row %: final segments are written by op replace_segments', v_n
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            v_cols := v_cols - 'final';
            v_call := v_cols->>'call_external_id';
            v_seq := (v_cols->>'seq')::integer;
            IF v_call IS NULL OR v_seq IS NULL THEN
                RAISE EXCEPTION 'callhook.ingest: row %: a transcript segment needs call_external_id and seq', v_n
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            v_cols := v_cols || pg_catalog.jsonb_build_object('seq', v_seq);
            v_ext := v_call || ':' || v_seq;
            PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(
                'callhook.transcript_segments:' || p_source || ':' || v_call, 0));
            -- Once the final transcript is in, late live partials are ignored.
            CONTINUE WHEN EXISTS (SELECT 1 FROM callhook.transcript_segments AS s
                                   WHERE s.source = p_source AND s.call_external_id = v_call AND s.final);
        END IF;
        IF v_ext IS NULL THEN
            RAISE EXCEPTION 'callhook.ingest: row %: external_id is required for table %', v_n, v_table
                USING ERRCODE = 'invalid_parameter_value';
        END IF;

        v_id := callhook._upsert_row(v_table, p_source, p_vendor, p_received_at, v_ext, v_ev,
                                     v_is_test, v_cols, v_data, v_kind = 'insert', '{}'::jsonb);
        IF v_id IS NOT NULL THEN
            v_notices := v_notices || pg_catalog.json_build_object(
                'table', v_table, 'id', v_id, 'source', p_source, 'event', p_event)::text;
        END IF;
    END LOOP;
    RETURN v_notices;
END
$fn$;

CREATE FUNCTION callhook.ingest(
    p_source text, p_vendor text, p_event text, p_method text, p_content_type text,
    p_query text, p_headers jsonb, p_body bytea, p_dedup_key text, p_outcome text, p_error text,
    p_rows jsonb, p_received_at timestamptz)
RETURNS TABLE (delivery_id bigint, outcome text, prior_outcome text, notices text[])
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = callhook, pg_catalog
SET TimeZone = 'UTC'
AS $fn$
#variable_conflict use_column
DECLARE
    v_id       bigint;
    v_received timestamptz;
    v_prior    text;
BEGIN
    INSERT INTO callhook.deliveries AS d
           (source, vendor, event, received_at, method, content_type, query, headers,
            body, body_sha256, dedup_key, outcome, error)
    VALUES (p_source, p_vendor, p_event, coalesce(p_received_at, now()), p_method, p_content_type,
            p_query, coalesce(p_headers, '{}'::jsonb), coalesce(p_body, ''::bytea),
            sha256(coalesce(p_body, ''::bytea)), p_dedup_key, p_outcome, p_error)
    ON CONFLICT (source, dedup_key) DO NOTHING
    RETURNING d.id, d.received_at INTO v_id, v_received;

    IF v_id IS NULL THEN
        -- A redelivery: report the first delivery and change nothing.
        SELECT d.id, d.outcome INTO v_id, v_prior
          FROM callhook.deliveries AS d
         WHERE d.source = p_source AND d.dedup_key = p_dedup_key;
        IF v_id IS NULL THEN
            RAISE EXCEPTION 'callhook.ingest: delivery (%, %) conflicts but cannot be found', p_source, p_dedup_key
                USING ERRCODE = 'serialization_failure';
        END IF;
        delivery_id := v_id;
        outcome := 'duplicate';
        prior_outcome := v_prior;
        notices := '{}';
        RETURN NEXT;
        RETURN;
    END IF;

    notices := callhook._apply_rows(v_id, p_source, p_vendor, p_event, v_received, p_rows);
    delivery_id := v_id;
    outcome := p_outcome;
    prior_outcome := NULL;
    RETURN NEXT;
END
$fn$;
COMMENT ON FUNCTION callhook.ingest(text, text, text, text, text, text, jsonb, bytea, text, text, text, jsonb, timestamptz) IS
    'Stores one webhook delivery and applies its normalized row operations; a delivery already stored under (source, dedup_key) returns outcome duplicate and changes nothing. notices: the payloads to pass to callhook.notify() after commit.';

-- Re-applies normalized rows for a stored delivery (callhook replay): rows merge exactly as on
-- first ingest (nothing is duplicated), and the delivery's outcome, error and replayed_at are set.
CREATE FUNCTION callhook.replay_delivery(p_delivery_id bigint, p_outcome text, p_error text, p_rows jsonb)
RETURNS TABLE (delivery_id bigint, outcome text, prior_outcome text, notices text[])
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = callhook, pg_catalog
SET TimeZone = 'UTC'
AS $fn$
#variable_conflict use_column
DECLARE
    v_d callhook.deliveries%ROWTYPE;
BEGIN
    SELECT d.* INTO v_d FROM callhook.deliveries AS d WHERE d.id = p_delivery_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'callhook.replay_delivery: no delivery %', p_delivery_id
            USING ERRCODE = 'no_data_found';
    END IF;
    notices := callhook._apply_rows(v_d.id, v_d.source, v_d.vendor, v_d.event, v_d.received_at, p_rows);
    UPDATE callhook.deliveries AS d
       SET outcome = p_outcome, error = p_error, replayed_at = now()
     WHERE d.id = v_d.id;
    delivery_id := v_d.id;
    outcome := p_outcome;
    prior_outcome := v_d.outcome;
    RETURN NEXT;
END
$fn$;
COMMENT ON FUNCTION callhook.replay_delivery(bigint, text, text, jsonb) IS
    'Re-applies normalized rows for a stored delivery (callhook replay) and records the new outcome and replayed_at.';

-- Sends the notifications that ingest() or replay_delivery() returned, once their transaction has
-- committed: NOTIFY callhook, one payload each. callhook runs it as a transaction of its own, so the
-- commit of a delivery never waits on the lock that NOTIFY takes at commit. That transaction writes
-- nothing to keep, so it commits without waiting for the disk. Returns the number sent.
CREATE FUNCTION callhook.notify(p_notices text[])
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = callhook, pg_catalog
AS $fn$
BEGIN
    PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
    PERFORM pg_catalog.pg_notify('callhook', n) FROM pg_catalog.unnest(p_notices) AS n;
    RETURN coalesce(pg_catalog.cardinality(p_notices), 0);
END
$fn$;
COMMENT ON FUNCTION callhook.notify(text[]) IS
    'Sends NOTIFY callhook for each payload that ingest() or replay_delivery() returned; run after their commit.';

REVOKE ALL ON FUNCTION callhook._status_rank(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION callhook._upsert_row(text, text, text, timestamptz, text, timestamptz, boolean, jsonb, jsonb, boolean, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION callhook._checked_cols(jsonb, jsonb, bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION callhook._apply_rows(bigint, text, text, text, timestamptz, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION callhook.ingest(text, text, text, text, text, text, jsonb, bytea, text, text, text, jsonb, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION callhook.replay_delivery(bigint, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION callhook.notify(text[]) FROM PUBLIC;

DO $grants$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'callhook_writer') THEN
        GRANT SELECT ON callhook._row_columns TO callhook_writer;
        -- SECURITY INVOKER: the helpers run with the caller's rights, so it needs them too.
        GRANT EXECUTE ON FUNCTION
            callhook._status_rank(text),
            callhook._upsert_row(text, text, text, timestamptz, text, timestamptz, boolean, jsonb, jsonb, boolean, jsonb),
            callhook._checked_cols(jsonb, jsonb, bigint, text),
            callhook._apply_rows(bigint, text, text, text, timestamptz, jsonb),
            callhook.ingest(text, text, text, text, text, text, jsonb, bytea, text, text, text, jsonb, timestamptz),
            callhook.replay_delivery(bigint, text, text, jsonb),
            callhook.notify(text[])
            TO callhook_writer;
    ELSE
        RAISE NOTICE 'callhook: role callhook_writer does not exist; its grants were skipped';
    END IF;
END
$grants$;
