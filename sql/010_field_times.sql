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
-- nothing. callhook.ingest_many() stamps its new rows the same way from version 11 on.

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
