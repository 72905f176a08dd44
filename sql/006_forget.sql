-- callhook schema, version 6: erasure of one caller (`callhook forget`), and its audit table.
--
-- callhook.forget_number() removes every row that belongs to one phone number and every raw delivery
-- that carries it, in the caller's transaction, and records what went in callhook.erasures with a
-- keyed hash of the number, never the number. It deletes, so it runs as the schema owner (the writer
-- role has no DELETE on these tables); nobody else may execute it.

CREATE TABLE callhook.erasures (
    id            bigserial PRIMARY KEY,
    forgotten_at  timestamptz NOT NULL DEFAULT now(),
    number_hmac   text NOT NULL,
    counts        jsonb NOT NULL
);
COMMENT ON TABLE callhook.erasures IS
    'One row per `callhook forget`: when, how many rows of each table and how many raw deliveries went, and the hex HMAC-SHA256 of the E.164 number under [database] erasure_key (never the number).';

-- A regular expression that matches any of p_tokens as a whole token: not preceded or followed by a
-- character of p_class (e.g. '0-9' for phone numbers, so 7705555555 does not match inside 27705555555).
-- Every character of a token other than a letter or digit is escaped. NULL for no tokens.
CREATE FUNCTION callhook.forget_pattern(p_tokens text[], p_class text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT '(^|[^' || p_class || '])('
           || string_agg(DISTINCT regexp_replace(t, '([^0-9A-Za-z])', '\\\1', 'g'), '|')
           || ')($|[^' || p_class || '])'
      FROM unnest(p_tokens) AS t
     WHERE t <> ''
$$;

-- Erases the caller p_e164 ("+" and 8..15 digits). p_formats lists the spellings the number may have
-- arrived in (computed by callhook from the E.164 form: national, digits only, percent-encoded, ...);
-- the spellings found in the matched rows are added to it. A row belongs to the caller when its
-- caller-side number equals the number: calls.caller_number(_e164), voicemails.caller_number(_e164),
-- messages.from_number(_e164) of inbound and to_number(_e164) of outbound messages; form submissions
-- whose form_data holds one of the spellings; transcript segments, call events and voicemails of the
-- matched calls. A delivery goes when its body, query or headers hold one of the spellings, when it
-- names a matched row's external id (same source; ids of at least 8 characters, or with a non-digit),
-- or when a matched call event points to it.
-- Refuses (SQLSTATE CHF01) a number that is the business's own: a tracking number of a call not
-- marked outbound, a destination number, or a tracker's number.
-- Returns (item, n) per table, 'deliveries', and 'delivery_bytes' (the raw bodies' size). With
-- p_dry_run it only counts. Otherwise it deletes and adds a row to callhook.erasures with p_hmac.
CREATE FUNCTION callhook.forget_number(p_formats text[], p_e164 text, p_hmac text, p_dry_run boolean)
RETURNS TABLE (item text, n bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_formats   text[];
    v_num       text;
    v_calls     bigint[];
    v_msgs      bigint[];
    v_vms       bigint[];
    v_forms     bigint[];
    v_segs      bigint[];
    v_events    bigint[];
    v_dels      bigint[];
    v_bytes     bigint;
    v_counts    jsonb;
BEGIN
    IF p_e164 IS NULL OR p_e164 !~ '^\+[1-9][0-9]{7,14}$' THEN
        RAISE EXCEPTION 'forget: "%" is not an E.164 number', p_e164 USING ERRCODE = '22023';
    END IF;
    v_formats := array_append(coalesce(p_formats, '{}'), p_e164);
    IF EXISTS (SELECT 1 FROM callhook.calls c
                WHERE (c.tracking_number_e164 = p_e164 AND c.direction IS DISTINCT FROM 'outbound')
                   OR c.destination_number_e164 = p_e164)
       OR EXISTS (SELECT 1 FROM callhook.trackers t
                   WHERE t.numbers && v_formats OR t.destination_number = ANY (v_formats)) THEN
        RAISE EXCEPTION 'forget: the number is one of the business''s tracking or destination numbers'
            USING ERRCODE = 'CHF01',
                  HINT = 'forgetting it would erase the business''s own calls, not one caller''s';
    END IF;

    SELECT array_agg(c.id), v_formats || array_agg(c.caller_number) FILTER (WHERE c.caller_number IS NOT NULL)
      INTO v_calls, v_formats
      FROM callhook.calls c
     WHERE c.caller_number_e164 = p_e164 OR c.caller_number = ANY (v_formats);
    SELECT array_agg(m.id),
           v_formats || array_agg(CASE WHEN m.from_number_e164 = p_e164 OR m.from_number = ANY (v_formats)
                                       THEN m.from_number ELSE m.to_number END)
      INTO v_msgs, v_formats
      FROM callhook.messages m
     WHERE (m.direction IS DISTINCT FROM 'outbound' AND (m.from_number_e164 = p_e164 OR m.from_number = ANY (v_formats)))
        OR (m.direction IS DISTINCT FROM 'inbound' AND (m.to_number_e164 = p_e164 OR m.to_number = ANY (v_formats)));
    SELECT array_agg(v.id), v_formats || array_agg(v.caller_number) FILTER (WHERE v.caller_number IS NOT NULL)
      INTO v_vms, v_formats
      FROM callhook.voicemails v
     WHERE v.caller_number_e164 = p_e164 OR v.caller_number = ANY (v_formats)
        OR EXISTS (SELECT 1 FROM callhook.calls c WHERE c.id = ANY (v_calls)
                      AND c.source = v.source AND c.external_id = v.call_external_id);
    v_formats := ARRAY(SELECT DISTINCT f FROM unnest(v_formats) AS f WHERE f IS NOT NULL AND f <> '');
    v_num := callhook.forget_pattern(v_formats, '0-9');

    SELECT array_agg(f.id) INTO v_forms FROM callhook.form_submissions f WHERE f.form_data::text ~ v_num;
    SELECT array_agg(s.id) INTO v_segs FROM callhook.transcript_segments s
     WHERE EXISTS (SELECT 1 FROM callhook.calls c WHERE c.id = ANY (v_calls)
                      AND c.source = s.source AND c.external_id = s.call_external_id);
    SELECT array_agg(e.id) INTO v_events FROM callhook.call_events e
     WHERE EXISTS (SELECT 1 FROM callhook.calls c WHERE c.id = ANY (v_calls)
                      AND c.source = e.source AND c.external_id = e.call_external_id);

    WITH owned (source, external_id) AS (
            SELECT source, external_id FROM callhook.calls WHERE id = ANY (v_calls)
            UNION SELECT source, external_id FROM callhook.messages WHERE id = ANY (v_msgs)
            UNION SELECT source, external_id FROM callhook.voicemails WHERE id = ANY (v_vms)
            UNION SELECT source, external_id FROM callhook.form_submissions WHERE id = ANY (v_forms)),
         ids (source, pat) AS (
            SELECT o.source, callhook.forget_pattern(array_agg(o.external_id), '0-9A-Za-z_')
              FROM owned o
             WHERE length(o.external_id) >= 8 OR o.external_id ~ '[^0-9]'
             GROUP BY o.source),
         hit AS (
            SELECT d.id, octet_length(d.body) AS bytes
              FROM callhook.deliveries d
             WHERE encode(d.body, 'escape') ~ v_num OR coalesce(d.query, '') ~ v_num
                OR d.headers::text ~ v_num
                OR d.id IN (SELECT e.delivery_id FROM callhook.call_events e WHERE e.id = ANY (v_events))
                OR EXISTS (SELECT 1 FROM ids WHERE ids.source = d.source
                              AND (encode(d.body, 'escape') ~ ids.pat OR coalesce(d.query, '') ~ ids.pat)))
    SELECT array_agg(hit.id), coalesce(sum(hit.bytes), 0) INTO v_dels, v_bytes FROM hit;

    v_counts := jsonb_build_object(
        'calls', coalesce(cardinality(v_calls), 0),
        'messages', coalesce(cardinality(v_msgs), 0),
        'voicemails', coalesce(cardinality(v_vms), 0),
        'form_submissions', coalesce(cardinality(v_forms), 0),
        'transcript_segments', coalesce(cardinality(v_segs), 0),
        'call_events', coalesce(cardinality(v_events), 0),
        'deliveries', coalesce(cardinality(v_dels), 0),
        'delivery_bytes', v_bytes);

    IF NOT p_dry_run THEN
        IF p_hmac IS NULL OR p_hmac !~ '^[0-9a-f]{64}$' THEN
            RAISE EXCEPTION 'forget: the number''s HMAC must be 64 hex digits' USING ERRCODE = '22023';
        END IF;
        DELETE FROM callhook.call_events WHERE id = ANY (v_events);
        DELETE FROM callhook.transcript_segments WHERE id = ANY (v_segs);
        DELETE FROM callhook.voicemails WHERE id = ANY (v_vms);
        DELETE FROM callhook.form_submissions WHERE id = ANY (v_forms);
        DELETE FROM callhook.messages WHERE id = ANY (v_msgs);
        DELETE FROM callhook.calls WHERE id = ANY (v_calls);
        DELETE FROM callhook.deliveries WHERE id = ANY (v_dels);
        INSERT INTO callhook.erasures (number_hmac, counts) VALUES (p_hmac, v_counts);
    END IF;

    RETURN QUERY
        SELECT k, (v_counts ->> k)::bigint
          FROM unnest(ARRAY['calls', 'messages', 'voicemails', 'form_submissions', 'transcript_segments',
                            'call_events', 'deliveries', 'delivery_bytes']) WITH ORDINALITY AS u (k, i)
         ORDER BY i;
END
$$;
COMMENT ON FUNCTION callhook.forget_number(text[], text, text, boolean) IS
    'Erases one caller: the rows that belong to the number and the raw deliveries that carry it; records the counts and the number''s HMAC in callhook.erasures. Run by `callhook forget` as the schema owner.';
REVOKE ALL ON FUNCTION callhook.forget_number(text[], text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION callhook.forget_pattern(text[], text) FROM PUBLIC;
