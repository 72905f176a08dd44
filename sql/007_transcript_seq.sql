-- callhook schema, version 7: transcript_segments.seq is a bigint.
--
-- A live turn of a Salpre call has no index of its own: callhook numbers it by its second and a hash
-- of its speaker and text (see the Salpre decoder), which needs more than 32 bits for two different
-- turns of one second never to meet.
ALTER TABLE callhook.transcript_segments ALTER COLUMN seq TYPE bigint;
COMMENT ON COLUMN callhook.transcript_segments.seq IS
    'The turn''s place in the transcript: 1..n in a final transcript; for a live partial turn, its unix second << 31 plus 31 bits of a hash of its speaker and text.';

-- _apply_rows() (002_ingest.sql) reads seq as an integer in two places; it now reads a bigint. Its body
-- is otherwise unchanged, so it is rewritten from its own definition rather than written out again.
DO $seq$
DECLARE
    v_old text := pg_catalog.pg_get_functiondef(
        'callhook._apply_rows(bigint, text, text, text, timestamptz, jsonb)'::pg_catalog.regprocedure);
    v_new text;
BEGIN
    v_new := pg_catalog.replace(pg_catalog.replace(v_old,
        'v_seq      integer;', 'v_seq      bigint;'),
        '(v_cols->>''seq'')::integer', '(v_cols->>''seq'')::bigint');
    IF v_new !~ 'v_seq      bigint;' OR v_new ~ '::integer' THEN
        RAISE EXCEPTION 'callhook migration 7: callhook._apply_rows() is not the one 002_ingest.sql wrote';
    END IF;
    EXECUTE v_new;
END
$seq$;
CALL callhook._refresh_row_catalog();
