-- callhook schema, version 8: deliveries partitioned by month, dedup keys in their own table, retention.
--
-- callhook.deliveries becomes a table partitioned by range of received_at, one partition per calendar
-- month in UTC (callhook.deliveries_yYYYYmMM) plus a DEFAULT partition (callhook.deliveries_default)
-- that catches a row whose month has no partition yet, so an insert never fails for want of one.
-- `callhook prune` drops whole months once they are older than the delivery horizon, and empties
-- the raw bodies older than the body horizon.
--
-- Redeliveries. A partitioned table's unique constraints must include the partition key, so
-- (source, dedup_key) cannot be unique on deliveries any more: a retry that arrives a second after
-- midnight at the month's end would land in another partition and not be seen. The keys live in
-- callhook.delivery_keys instead, unpartitioned, one row per delivery: the source, the first 16 bytes
-- of SHA-256 of the dedup key (a fixed-size key: the index stays small and its comparisons cheap
-- however long the vendor's key; a collision needs about 2^64 keys of one source), and the delivery's
-- id and received_at, with which the duplicate's lookup of its first copy reaches one partition.
-- ingest() writes the key and the delivery in one transaction; the key's INSERT … ON CONFLICT decides
-- new or duplicate. prune removes a month's keys with its partition and never before, so redelivery
-- detection holds for as long as the deliveries are kept.
--
-- call_events.delivery_id no longer references deliveries: a foreign key to a partitioned table
-- must name its whole primary key, (id, received_at), and prune drops partitions without touching
-- normalized rows. A call event's delivery_id may so name a delivery that was pruned. forget, which
-- used the old ON DELETE SET NULL, now clears it itself.
--
-- The conversion keeps every row, its id, and the id sequence; it runs inside migrate's transaction
-- under migrate's advisory lock, so it is all or nothing and one host does it.

-- The fixed-size dedup key: 16 bytes of SHA-256 of the vendor-derived dedup key.
CREATE FUNCTION callhook.dedup_hash(p_dedup_key text)
RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.substr(pg_catalog.sha256(pg_catalog.convert_to(p_dedup_key, 'UTF8')), 1, 16) $$;
COMMENT ON FUNCTION callhook.dedup_hash(text) IS
    'The key of callhook.delivery_keys: the first 16 bytes of SHA-256 of a delivery''s dedup_key.';

DO $convert$
BEGIN
    IF (SELECT c.relkind FROM pg_catalog.pg_class c
         WHERE c.oid = 'callhook.deliveries'::pg_catalog.regclass) = 'p' THEN
        RETURN;  -- already partitioned
    END IF;
    ALTER TABLE callhook.call_events DROP CONSTRAINT IF EXISTS call_events_delivery_id_fkey;
    ALTER TABLE callhook.deliveries RENAME TO deliveries_old;
    ALTER TABLE callhook.deliveries_old DROP CONSTRAINT deliveries_source_dedup_key_key;
    ALTER TABLE callhook.deliveries_old RENAME CONSTRAINT deliveries_pkey TO deliveries_old_pkey;
    DROP INDEX callhook.deliveries_received_at_idx;
    DROP INDEX callhook.deliveries_problems_idx;
    -- The sequence outlives the old table and goes on numbering the new one.
    ALTER SEQUENCE callhook.deliveries_id_seq OWNED BY NONE;
END
$convert$;

CREATE TABLE callhook.deliveries (
    id              bigint NOT NULL DEFAULT pg_catalog.nextval('callhook.deliveries_id_seq'::pg_catalog.regclass),
    source          text NOT NULL,
    vendor          text NOT NULL,
    event           text,
    received_at     timestamptz NOT NULL DEFAULT now(),
    method          text NOT NULL,
    content_type    text,
    query           text,
    headers         jsonb NOT NULL DEFAULT '{}',
    body            bytea NOT NULL,
    body_sha256     bytea NOT NULL,
    dedup_key       text NOT NULL,
    outcome         callhook.delivery_outcome NOT NULL,
    error           text,
    replayed_at     timestamptz,
    body_pruned_at  timestamptz,
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);
ALTER SEQUENCE callhook.deliveries_id_seq OWNED BY callhook.deliveries.id;
CREATE INDEX deliveries_received_at_idx ON callhook.deliveries (received_at);
CREATE INDEX deliveries_problems_idx ON callhook.deliveries (outcome, received_at)
    WHERE outcome IN ('rejected', 'error');
-- lz4 where the server has it, as 001_schema.sql chose for every table; partitions made later copy it.
DO $compression$
DECLARE
    c name;
BEGIN
    FOR c IN SELECT a.attname FROM pg_catalog.pg_attribute AS a
              WHERE a.attrelid = 'callhook.deliveries'::pg_catalog.regclass AND a.attnum > 0
                AND NOT a.attisdropped AND a.attstorage IN ('x', 'm')
              ORDER BY a.attnum LOOP
        EXECUTE pg_catalog.format('ALTER TABLE callhook.deliveries ALTER COLUMN %I SET COMPRESSION lz4', c);
    END LOOP;
EXCEPTION
    WHEN feature_not_supported THEN
        RAISE NOTICE 'callhook: this server has no lz4 compression; the default (pglz) is used';
END
$compression$;
CREATE TABLE callhook.deliveries_default PARTITION OF callhook.deliveries DEFAULT;
COMMENT ON TABLE callhook.deliveries IS
    'Every authenticated webhook request as received (raw body, selected headers, secret-free query) and what became of it; the source every other table can be rebuilt from with callhook replay. Partitioned by month of received_at (UTC); callhook prune drops months past [database] keep_deliveries.';
COMMENT ON COLUMN callhook.deliveries.body_pruned_at IS
    'When callhook prune emptied the raw body (older than [database] keep_bodies); body_sha256 still names what it was. NULL: the body is here.';
COMMENT ON TABLE callhook.deliveries_default IS
    'Deliveries whose month has no partition yet; callhook.ensure_partitions() moves them into one.';

CREATE TABLE callhook.delivery_keys (
    source       text NOT NULL,
    key_hash     bytea NOT NULL,
    delivery_id  bigint NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (source, key_hash)
);
-- prune deletes the keys of the months it drops by received_at; keys arrive in about that order, so a
-- BRIN index finds them for almost nothing per insert.
CREATE INDEX delivery_keys_received_at_idx ON callhook.delivery_keys USING brin (received_at);
COMMENT ON TABLE callhook.delivery_keys IS
    'One row per delivery: (source, callhook.dedup_hash(dedup_key)) is unique, so a redelivery is recognised in whichever month it arrives; delivery_id and received_at name the first copy. Kept exactly as long as the delivery.';

-- Creates the partition of the month that starts at p_month (a first of a month) unless it exists;
-- rows of that month waiting in the DEFAULT partition are moved into it. The partition is made as a
-- plain table and then attached, which locks the parent only against other schema changes (SHARE
-- UPDATE EXCLUSIVE) rather than against inserts. True when it created one.
CREATE FUNCTION callhook._create_partition(p_month date)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $fn$
DECLARE
    v_name text := pg_catalog.format('deliveries_y%sm%s', pg_catalog.to_char(p_month, 'YYYY'),
                                     pg_catalog.to_char(p_month, 'MM'));
    v_lo   timestamptz := p_month::timestamp AT TIME ZONE 'UTC';
    v_hi   timestamptz := (p_month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF pg_catalog.to_regclass(pg_catalog.format('callhook.%I', v_name)) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE pg_catalog.format('CREATE TABLE callhook.%I (LIKE callhook.deliveries INCLUDING DEFAULTS '
                              'INCLUDING STORAGE INCLUDING COMPRESSION)', v_name);
    EXECUTE pg_catalog.format('WITH m AS (DELETE FROM callhook.deliveries_default '
                              'WHERE received_at >= $1 AND received_at < $2 RETURNING *) '
                              'INSERT INTO callhook.%I SELECT * FROM m', v_name) USING v_lo, v_hi;
    EXECUTE pg_catalog.format('ALTER TABLE callhook.deliveries ATTACH PARTITION callhook.%I '
                              'FOR VALUES FROM (%L) TO (%L)', v_name, v_lo, v_hi);
    EXECUTE pg_catalog.format('COMMENT ON TABLE callhook.%I IS %L', v_name,
                              pg_catalog.format('Deliveries received in %s (UTC).', pg_catalog.to_char(p_month, 'YYYY-MM')));
    RETURN true;
END
$fn$;

-- Creates the missing monthly partitions from p_months_back months ago to p_months_ahead months from
-- now (UTC), and one for every month that has rows in the DEFAULT partition, moving them there.
-- Idempotent; concurrent calls take turns on an advisory lock. Returns how many it created.
-- SECURITY DEFINER, owned by the schema owner: the serve parent runs it every hour with the writer
-- role, which may not create tables. All it can do is create partitions named after months within
-- the bounds checked below; search_path is pinned and every name is qualified.
CREATE FUNCTION callhook.ensure_partitions(p_months_ahead integer, p_months_back integer DEFAULT 0)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $fn$
DECLARE
    v_now   date := pg_catalog.date_trunc('month', pg_catalog.now())::date;
    v_month date;
    v_made  integer := 0;
BEGIN
    IF p_months_ahead IS NULL OR p_months_ahead NOT BETWEEN 0 AND 24
       OR p_months_back IS NULL OR p_months_back NOT BETWEEN 0 AND 1200 THEN
        RAISE EXCEPTION 'ensure_partitions: months ahead must be 0 to 24 and months back 0 to 1200'
            USING ERRCODE = '22023';
    END IF;
    -- 0x63616c6d = "calm": one ensure_partitions at a time.
    PERFORM pg_catalog.pg_advisory_xact_lock(1667329133);
    FOR v_month IN
        SELECT (v_now + pg_catalog.make_interval(months => m))::date
          FROM pg_catalog.generate_series(-p_months_back, p_months_ahead) AS m
        UNION
        SELECT DISTINCT pg_catalog.date_trunc('month', d.received_at)::date
          FROM callhook.deliveries_default AS d
        ORDER BY 1
    LOOP
        IF callhook._create_partition(v_month) THEN
            v_made := v_made + 1;
        END IF;
    END LOOP;
    RETURN v_made;
END
$fn$;
COMMENT ON FUNCTION callhook.ensure_partitions(integer, integer) IS
    'Creates the monthly partitions of callhook.deliveries from p_months_back months ago to p_months_ahead months ahead, and for any month waiting in the DEFAULT partition; returns how many it created. Run by migrate, prune and every hour by serve.';

-- Move the rows: every month they cover gets its partition, and three months ahead.
DO $move$
DECLARE
    v_back integer;
BEGIN
    IF pg_catalog.to_regclass('callhook.deliveries_old') IS NULL THEN
        PERFORM callhook.ensure_partitions(3);
        RETURN;
    END IF;
    SELECT coalesce((extract(year FROM age) * 12 + extract(month FROM age))::integer, 0)
      INTO v_back
      FROM (SELECT pg_catalog.age(pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'),
                                  pg_catalog.date_trunc('month', pg_catalog.min(o.received_at) AT TIME ZONE 'UTC')) AS age
              FROM callhook.deliveries_old AS o) AS a;
    PERFORM callhook.ensure_partitions(3, greatest(v_back, 0));
    INSERT INTO callhook.deliveries (id, source, vendor, event, received_at, method, content_type, query,
                                     headers, body, body_sha256, dedup_key, outcome, error, replayed_at)
    SELECT id, source, vendor, event, received_at, method, content_type, query,
           headers, body, body_sha256, dedup_key, outcome, error, replayed_at
      FROM callhook.deliveries_old;
    INSERT INTO callhook.delivery_keys (source, key_hash, delivery_id, received_at)
    SELECT source, callhook.dedup_hash(dedup_key), id, received_at
      FROM callhook.deliveries_old;
    DROP TABLE callhook.deliveries_old;
END
$move$;

-- ingest(): the version of 004_resend_error.sql with the key in delivery_keys. The key's row is
-- inserted first with the id the delivery will have; when it already exists, this is a redelivery of
-- the delivery it names (found in its own month's partition by received_at).
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
    v_received timestamptz := coalesce(p_received_at, now());
    v_hash     bytea := callhook.dedup_hash(p_dedup_key);
    v_prior    text;
BEGIN
    INSERT INTO callhook.delivery_keys AS k (source, key_hash, delivery_id, received_at)
    VALUES (p_source, v_hash, nextval('callhook.deliveries_id_seq'::regclass), v_received)
    ON CONFLICT (source, key_hash) DO NOTHING
    RETURNING k.delivery_id INTO v_id;

    IF v_id IS NULL THEN
        -- A redelivery: report the first delivery and change nothing, unless the first one ended as
        -- 'error': then this copy's rows are applied to it and its outcome and error become this
        -- copy's, under a row lock so that of two such copies at once the second sees the first's.
        SELECT k.delivery_id, k.received_at INTO v_id, v_received
          FROM callhook.delivery_keys AS k
         WHERE k.source = p_source AND k.key_hash = v_hash;
        IF v_id IS NULL THEN
            RAISE EXCEPTION 'callhook.ingest: delivery (%, %) conflicts but cannot be found', p_source, p_dedup_key
                USING ERRCODE = 'serialization_failure';
        END IF;
        SELECT d.outcome INTO v_prior
          FROM callhook.deliveries AS d
         WHERE d.id = v_id AND d.received_at = v_received;
        IF v_prior = 'error' THEN
            SELECT d.outcome INTO v_prior
              FROM callhook.deliveries AS d
             WHERE d.id = v_id AND d.received_at = v_received
               FOR UPDATE;
        END IF;
        IF v_prior = 'error' THEN
            notices := callhook._apply_rows(v_id, p_source, p_vendor, p_event, v_received, p_rows);
            UPDATE callhook.deliveries AS d
               SET outcome = p_outcome, error = p_error
             WHERE d.id = v_id AND d.received_at = v_received;
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

    INSERT INTO callhook.deliveries AS d
           (id, source, vendor, event, received_at, method, content_type, query, headers,
            body, body_sha256, dedup_key, outcome, error)
    VALUES (v_id, p_source, p_vendor, p_event, v_received, p_method, p_content_type,
            p_query, coalesce(p_headers, '{}'::jsonb), coalesce(p_body, ''::bytea),
            sha256(coalesce(p_body, ''::bytea)), p_dedup_key, p_outcome, p_error);

    notices := callhook._apply_rows(v_id, p_source, p_vendor, p_event, v_received, p_rows);
    delivery_id := v_id;
    outcome := p_outcome;
    prior_outcome := NULL;
    RETURN NEXT;
END
$fn$;
COMMENT ON FUNCTION callhook.ingest(text, text, text, text, text, text, jsonb, bytea, text, text, text, jsonb, timestamptz) IS
    'Stores one webhook delivery and applies its normalized row operations; a delivery already stored under (source, dedup_key) (callhook.delivery_keys, whatever its month) returns outcome duplicate and changes nothing, unless it ended as error: then these rows are applied to it and its outcome is this one (prior_outcome error). notices: the payloads to pass to callhook.notify() after commit.';

-- forget_number() (006_forget.sql) deletes deliveries; their keys go with them, and the call events
-- that named them lose the link, as the dropped foreign key's ON DELETE SET NULL did. Its body is
-- otherwise unchanged, so it is rewritten from its own definition.
DO $forget$
DECLARE
    c_old CONSTANT text := 'DELETE FROM callhook.deliveries WHERE id = ANY (v_dels);';
    v_old text := pg_catalog.pg_get_functiondef(
        'callhook.forget_number(text[], text, text, boolean)'::pg_catalog.regprocedure);
BEGIN
    IF pg_catalog.strpos(v_old, c_old) = 0 THEN
        IF pg_catalog.strpos(v_old, 'callhook.delivery_keys') > 0 THEN
            RETURN;
        END IF;
        RAISE EXCEPTION 'callhook migration 8: callhook.forget_number() is not the one 006_forget.sql wrote';
    END IF;
    EXECUTE pg_catalog.replace(v_old, c_old,
        'UPDATE callhook.call_events SET delivery_id = NULL WHERE delivery_id = ANY (v_dels);
        DELETE FROM callhook.delivery_keys k USING callhook.deliveries d
         WHERE d.id = ANY (v_dels) AND k.source = d.source AND k.key_hash = callhook.dedup_hash(d.dedup_key);
        ' || c_old);
END
$forget$;

-- Applies the retention horizons (`callhook prune`), as the schema owner, in the caller's transaction.
-- p_body_days > 0: the raw body of every delivery received more than that many days ago is emptied
-- (body = '', body_pruned_at set; body_sha256, query, headers and the rest stay), so replay can no
-- longer decode it. p_delivery_days > 0: every monthly partition that ends more than that many days
-- ago is detached and dropped with its deliveries' keys; a month is dropped whole, never in part, so
-- rows up to a month older than the horizon may stay until the next month's prune. 0 keeps everything.
-- Normalized tables are never touched. With p_dry_run nothing changes and the same counts are returned.
-- Returns (item, n): one 'partition <name>' row per partition dropped (n: its deliveries), then
-- 'bodies', 'body_bytes' (the bodies' length), 'partitions', 'deliveries', 'delivery_keys' and
-- 'partition_bytes' (their size on disk, indexes and TOAST included).
CREATE FUNCTION callhook.prune(p_body_days integer, p_delivery_days integer, p_dry_run boolean)
RETURNS TABLE (item text, n bigint)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $fn$
DECLARE
    v_parts  text[] := '{}';
    v_cutoff timestamptz;
    v_bodies bigint := 0;
    v_bbytes bigint := 0;
    v_dels   bigint := 0;
    v_keys   bigint := 0;
    v_pbytes bigint := 0;
    v_rows   bigint;
    r        record;
BEGIN
    IF p_body_days IS NULL OR p_body_days < 0 OR p_delivery_days IS NULL OR p_delivery_days < 0 THEN
        RAISE EXCEPTION 'prune: the horizons must be 0 or more days' USING ERRCODE = '22023';
    END IF;
    PERFORM callhook.ensure_partitions(3);
    IF p_delivery_days > 0 THEN
        FOR r IN
            SELECT c.oid::regclass AS part, c.relname::text AS name,
                   (pg_catalog.regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                                            'TO \(''([^'']*)''\)'))[1]::timestamptz AS hi
              FROM pg_catalog.pg_inherits AS i
              JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'callhook.deliveries'::regclass
               AND pg_catalog.pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
             ORDER BY 3
        LOOP
            EXIT WHEN r.hi > now() - pg_catalog.make_interval(days => p_delivery_days);
            EXECUTE pg_catalog.format('SELECT count(*) FROM %s', r.part) INTO v_rows;
            item := 'partition ' || r.name;
            n := v_rows;
            RETURN NEXT;
            v_parts := v_parts || r.part::text;
            v_dels := v_dels + v_rows;
            v_pbytes := v_pbytes + pg_catalog.pg_total_relation_size(r.part);
            v_cutoff := r.hi;
        END LOOP;
    END IF;
    IF v_cutoff IS NOT NULL THEN
        SELECT count(*) INTO v_keys FROM callhook.delivery_keys AS k WHERE k.received_at < v_cutoff;
    END IF;
    IF p_body_days > 0 THEN
        SELECT count(*), coalesce(sum(pg_catalog.octet_length(d.body)), 0) INTO v_bodies, v_bbytes
          FROM callhook.deliveries AS d
         WHERE d.received_at < now() - pg_catalog.make_interval(days => p_body_days)
           AND (v_cutoff IS NULL OR d.received_at >= v_cutoff)
           AND d.body_pruned_at IS NULL AND pg_catalog.octet_length(d.body) > 0;
    END IF;

    IF NOT p_dry_run THEN
        FOR r IN SELECT pg_catalog.unnest(v_parts) AS part LOOP
            EXECUTE pg_catalog.format('ALTER TABLE callhook.deliveries DETACH PARTITION %s', r.part);
            EXECUTE pg_catalog.format('DROP TABLE %s', r.part);
        END LOOP;
        IF v_cutoff IS NOT NULL THEN
            DELETE FROM callhook.delivery_keys AS k WHERE k.received_at < v_cutoff;
        END IF;
        IF p_body_days > 0 THEN
            UPDATE callhook.deliveries AS d SET body = ''::bytea, body_pruned_at = now()
             WHERE d.received_at < now() - pg_catalog.make_interval(days => p_body_days)
               AND d.body_pruned_at IS NULL AND pg_catalog.octet_length(d.body) > 0;
        END IF;
    END IF;

    RETURN QUERY VALUES ('bodies', v_bodies), ('body_bytes', v_bbytes),
                        ('partitions', pg_catalog.cardinality(v_parts)::bigint), ('deliveries', v_dels),
                        ('delivery_keys', v_keys), ('partition_bytes', v_pbytes);
END
$fn$;
COMMENT ON FUNCTION callhook.prune(integer, integer, boolean) IS
    'Applies the retention horizons of callhook prune: empties raw bodies older than p_body_days and drops the monthly partitions of deliveries (with their keys) that end more than p_delivery_days ago; 0 keeps everything. Never touches normalized tables.';

REVOKE ALL ON FUNCTION callhook._create_partition(date) FROM PUBLIC;
REVOKE ALL ON FUNCTION callhook.ensure_partitions(integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION callhook.prune(integer, integer, boolean) FROM PUBLIC;

DO $grants$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'callhook_writer') THEN
        GRANT SELECT, INSERT, UPDATE ON callhook.deliveries, callhook.delivery_keys TO callhook_writer;
        GRANT EXECUTE ON FUNCTION callhook.dedup_hash(text), callhook.ensure_partitions(integer, integer)
            TO callhook_writer;
    ELSE
        RAISE NOTICE 'callhook: role callhook_writer does not exist; its grants were skipped';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'callhook_reader') THEN
        GRANT SELECT ON callhook.deliveries, callhook.delivery_keys TO callhook_reader;
    END IF;
END
$grants$;
