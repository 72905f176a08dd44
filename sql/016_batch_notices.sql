-- callhook schema, version 16: a batch's notices handed out without a query per delivery.
--
-- Same results as version 15, with less work in PostgreSQL. Measured with callgrind on PostgreSQL run
-- single-user, over 1,440 deliveries of the bench's mix captured from callhook serve, in batches of 8:
-- 1,241 M instructions before, 1,214 M after (-2%).
--   - ingest_batch() gave each delivery its notices with a subquery that went through all the batch's
--     notices, once per delivery. _apply_batch() returns them in delivery order (015_new_row_ids.sql), so
--     each delivery's are now a slice of them, found in one pass. A delivery applied through ingest() (a
--     key seen before) that adds notices after a later delivery's is noted, and the notices are then
--     sorted first (_notices_in_order()).
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

