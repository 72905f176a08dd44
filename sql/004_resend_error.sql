-- callhook schema, version 4: a resent delivery whose first copy ended as 'error' is applied again.
--
-- callhook.ingest() keeps a delivery with outcome 'error' and no rows when PostgreSQL refused a value of
-- its rows (SQLSTATE class 22 or 23). Before this version a resend of it was answered 'duplicate' and its
-- rows were never written unless someone ran `callhook replay`. Now a copy that arrives under the same
-- (source, dedup_key) applies its rows to that delivery (same id) and records its own outcome and error;
-- the result's prior_outcome is then 'error'. Every other redelivery still changes nothing. The
-- signature, grants and everything else of version 2 stay as they were (CREATE OR REPLACE keeps them).

CREATE OR REPLACE FUNCTION callhook.ingest(
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
        -- A redelivery: report the first delivery and change nothing, unless the first one ended as
        -- 'error' (PostgreSQL refused its rows): then this copy's rows are applied to it, as
        -- replay_delivery() would, and its outcome and error become this copy's. Only then is the
        -- delivery locked (FOR UPDATE), so that of two such copies at once the second sees the first
        -- one's outcome; a plain redelivery writes nothing.
        SELECT d.id, d.outcome INTO v_id, v_prior
          FROM callhook.deliveries AS d
         WHERE d.source = p_source AND d.dedup_key = p_dedup_key;
        IF v_prior = 'error' THEN
            SELECT d.outcome, d.received_at INTO v_prior, v_received
              FROM callhook.deliveries AS d
             WHERE d.id = v_id
               FOR UPDATE;
        END IF;
        IF v_id IS NULL THEN
            RAISE EXCEPTION 'callhook.ingest: delivery (%, %) conflicts but cannot be found', p_source, p_dedup_key
                USING ERRCODE = 'serialization_failure';
        END IF;
        IF v_prior = 'error' THEN
            notices := callhook._apply_rows(v_id, p_source, p_vendor, p_event, v_received, p_rows);
            UPDATE callhook.deliveries AS d
               SET outcome = p_outcome, error = p_error
             WHERE d.id = v_id;
            delivery_id := v_id;
            outcome := p_outcome;
            prior_outcome := v_prior;
            RETURN NEXT;
            RETURN;
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
    'Stores one webhook delivery and applies its normalized row operations; a delivery already stored under (source, dedup_key) returns outcome duplicate and changes nothing, unless it ended as error: then these rows are applied to it and its outcome is this one (prior_outcome error). notices: the payloads to pass to callhook.notify() after commit.';
