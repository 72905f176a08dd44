-- callhook schema, version 1: raw deliveries, normalized tables, roles and grants.
--
-- Applied once, inside one transaction, by `callhook migrate`, after the runner has created
-- the schema `callhook` and the table `callhook.migrations`. Every name is schema-qualified:
-- nothing here depends on search_path.
--
-- Conventions shared by every normalized table (calls, messages, trackers, usage, voicemails,
-- form_submissions, transcript_segments, call_events):
--   id            bigserial primary key
--   source        the [source …] name from callhook.conf (first path segment after /hooks/)
--   vendor        callrail | calltracker | salpre | callscaler | fonedynamics (of the first event)
--   external_id   the vendor's id for the thing, as text; UNIQUE (source, external_id)
--   data          the latest merged vendor payload (top-level keys of the newest event win)
--   is_test       true only while every event seen for the row was a vendor test event
--   first_seen_at when callhook first received an event for the row
--   last_event_at the newest event time seen for the row
--   field_times   internal: {column: event time of the value it holds}; drives order-independent merges
-- Rows are written only through callhook.ingest() (sql/002_ingest.sql).

-- Group roles. Roles are cluster-wide: a second database in the same cluster reuses them, and a
-- migrating user without CREATEROLE only gets a notice (the grants below are then skipped).
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['callhook_writer', 'callhook_reader'] LOOP
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
                EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
            END IF;
        EXCEPTION
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'callhook: role % not created: % lacks CREATEROLE; a superuser can run "CREATE ROLE % NOLOGIN" and then apply the GRANTs of sql/001_schema.sql and sql/002_ingest.sql',
                    r, current_user, r;
            WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created concurrently by a migration of another database: fine
        END;
    END LOOP;
END
$roles$;

-- ---------------------------------------------------------------------------------------------
-- Vocabularies. Text with a fixed set of values; domains rather than table CHECK constraints because
-- PostgreSQL checks a domain with an expression it prepared once, while a table's CHECK constraint is
-- read and prepared again by every INSERT statement.

CREATE DOMAIN callhook.delivery_outcome AS text
    CHECK (VALUE IN ('stored', 'duplicate', 'ignored', 'rejected', 'error'));
CREATE DOMAIN callhook.direction AS text
    CHECK (VALUE IN ('inbound', 'outbound'));
CREATE DOMAIN callhook.call_status AS text
    CHECK (VALUE IN ('initiated', 'ringing', 'in_progress', 'completed', 'missed', 'voicemail', 'busy', 'failed'));

-- ---------------------------------------------------------------------------------------------
-- Raw deliveries: the source of truth.

CREATE TABLE callhook.deliveries (
    id            bigserial PRIMARY KEY,
    source        text NOT NULL,
    vendor        text NOT NULL,
    event         text,
    received_at   timestamptz NOT NULL DEFAULT now(),
    method        text NOT NULL,
    content_type  text,
    query         text,
    headers       jsonb NOT NULL DEFAULT '{}',
    body          bytea NOT NULL,
    body_sha256   bytea NOT NULL,
    dedup_key     text NOT NULL,
    outcome       callhook.delivery_outcome NOT NULL,
    error         text,
    replayed_at   timestamptz,
    UNIQUE (source, dedup_key)
);
CREATE INDEX deliveries_received_at_idx ON callhook.deliveries (received_at);
CREATE INDEX deliveries_problems_idx ON callhook.deliveries (outcome, received_at)
    WHERE outcome IN ('rejected', 'error');
COMMENT ON TABLE callhook.deliveries IS
    'Every authenticated webhook request as received (raw body, selected headers, secret-free query) and what became of it; the source every other table can be rebuilt from with callhook replay.';

-- ---------------------------------------------------------------------------------------------
-- Calls.

CREATE TABLE callhook.calls (
    id                       bigserial PRIMARY KEY,
    source                   text NOT NULL,
    vendor                   text NOT NULL,
    external_id              text NOT NULL,
    data                     jsonb NOT NULL DEFAULT '{}',
    is_test                  boolean NOT NULL DEFAULT false,
    first_seen_at            timestamptz NOT NULL DEFAULT now(),
    last_event_at            timestamptz,
    field_times              jsonb NOT NULL DEFAULT '{}',
    direction                callhook.direction,
    status                   callhook.call_status,
    answered                 boolean,
    caller_number            text,
    caller_number_e164       text,
    caller_name              text,
    caller_city              text,
    caller_state             text,
    caller_country           text,
    tracking_number          text,
    tracking_number_e164     text,
    destination_number       text,
    destination_number_e164  text,
    started_at               timestamptz,
    duration_s               integer,
    recording_url            text,
    recording_duration_s     integer,
    transcript               text,
    summary                  text,
    tags                     text[],
    note                     text,
    value                    numeric,
    lead_status              text,
    spam                     boolean,
    first_time               boolean,
    tracker_external_id      text,
    tracker_name             text,
    traffic_source           text,
    medium                   text,
    campaign                 text,
    keyword                  text,
    landing_page             text,
    referrer                 text,
    gclid                    text,
    fbclid                   text,
    msclkid                  text,
    utm_source               text,
    utm_medium               text,
    utm_campaign             text,
    utm_term                 text,
    utm_content              text,
    ai_score                 numeric,
    ai_category              text,
    qualified                boolean,
    error_message            text,
    UNIQUE (source, external_id)
);
CREATE INDEX calls_started_at_idx ON callhook.calls (started_at);
CREATE INDEX calls_source_started_at_idx ON callhook.calls (source, started_at);
CREATE INDEX calls_caller_e164_started_at_idx ON callhook.calls (caller_number_e164, started_at);
CREATE INDEX calls_status_idx ON callhook.calls (status);
COMMENT ON TABLE callhook.calls IS
    'One row per phone call from any vendor, merged from all of its events: status, numbers, timing, recording, transcript, tags and attribution.';
COMMENT ON COLUMN callhook.calls.status IS
    'initiated < ringing < in_progress < one terminal state (completed | missed | voicemail | busy | failed); only moves forward, and between terminal states the newest event wins.';
COMMENT ON COLUMN callhook.calls.field_times IS
    'Internal: for each column, the event time of the value it holds (used to merge out-of-order events).';

-- ---------------------------------------------------------------------------------------------
-- Text messages.

CREATE TABLE callhook.messages (
    id                   bigserial PRIMARY KEY,
    source               text NOT NULL,
    vendor               text NOT NULL,
    external_id          text NOT NULL,
    data                 jsonb NOT NULL DEFAULT '{}',
    is_test              boolean NOT NULL DEFAULT false,
    first_seen_at        timestamptz NOT NULL DEFAULT now(),
    last_event_at        timestamptz,
    field_times          jsonb NOT NULL DEFAULT '{}',
    direction            callhook.direction,
    from_number          text,
    from_number_e164     text,
    to_number            text,
    to_number_e164       text,
    body                 text,
    message_type         text,
    media_urls           jsonb,
    sent_at              timestamptz,
    tracker_external_id  text,
    tracker_name         text,
    conversation_id      text,
    agent                text,
    UNIQUE (source, external_id)
);
CREATE INDEX messages_sent_at_idx ON callhook.messages (sent_at);
COMMENT ON TABLE callhook.messages IS
    'One row per SMS/MMS text message sent or received through a tracking number.';

-- ---------------------------------------------------------------------------------------------
-- Trackers (tracking numbers and their configuration).

CREATE TABLE callhook.trackers (
    id                  bigserial PRIMARY KEY,
    source              text NOT NULL,
    vendor              text NOT NULL,
    external_id         text NOT NULL,
    data                jsonb NOT NULL DEFAULT '{}',
    is_test             boolean NOT NULL DEFAULT false,
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    last_event_at       timestamptz,
    field_times         jsonb NOT NULL DEFAULT '{}',
    name                text,
    tracker_type        text,
    number_type         text,
    numbers             text[],
    destination_number  text,
    active              boolean,
    recording_enabled   boolean,
    UNIQUE (source, external_id)
);
COMMENT ON TABLE callhook.trackers IS
    'One row per tracker (a tracking number or number pool) as last described by the vendor.';

-- ---------------------------------------------------------------------------------------------
-- Billing usage.

CREATE TABLE callhook.usage (
    id                bigserial PRIMARY KEY,
    source            text NOT NULL,
    vendor            text NOT NULL,
    external_id       text NOT NULL,
    data              jsonb NOT NULL DEFAULT '{}',
    is_test           boolean NOT NULL DEFAULT false,
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    last_event_at     timestamptz,
    field_times       jsonb NOT NULL DEFAULT '{}',
    period_start      date,
    period_end        date,
    local_numbers     integer,
    tollfree_numbers  integer,
    local_minutes     integer,
    tollfree_minutes  integer,
    sms_messages      integer,
    UNIQUE (source, external_id)
);
COMMENT ON TABLE callhook.usage IS
    'One row per account billing period: numbers held, minutes used and messages sent, as reported by the vendor.';

-- ---------------------------------------------------------------------------------------------
-- Voicemails.

CREATE TABLE callhook.voicemails (
    id                  bigserial PRIMARY KEY,
    source              text NOT NULL,
    vendor              text NOT NULL,
    external_id         text NOT NULL,
    data                jsonb NOT NULL DEFAULT '{}',
    is_test             boolean NOT NULL DEFAULT false,
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    last_event_at       timestamptz,
    field_times         jsonb NOT NULL DEFAULT '{}',
    call_external_id    text,
    caller_number       text,
    caller_number_e164  text,
    tracking_number     text,
    recording_url       text,
    duration_s          integer,
    transcript          text,
    received_at         timestamptz,
    UNIQUE (source, external_id)
);
CREATE INDEX voicemails_received_at_idx ON callhook.voicemails (received_at);
COMMENT ON TABLE callhook.voicemails IS
    'One row per voicemail left by a caller, with its recording and transcript; call_external_id links it to calls.external_id.';

-- ---------------------------------------------------------------------------------------------
-- Web form submissions.

CREATE TABLE callhook.form_submissions (
    id              bigserial PRIMARY KEY,
    source          text NOT NULL,
    vendor          text NOT NULL,
    external_id     text NOT NULL,
    data            jsonb NOT NULL DEFAULT '{}',
    is_test         boolean NOT NULL DEFAULT false,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_event_at   timestamptz,
    field_times     jsonb NOT NULL DEFAULT '{}',
    form_url        text,
    landing_page    text,
    referrer        text,
    form_data       jsonb,
    submitted_at    timestamptz,
    traffic_source  text,
    medium          text,
    campaign        text,
    keyword         text,
    gclid           text,
    fbclid          text,
    msclkid         text,
    utm_source      text,
    utm_medium      text,
    utm_campaign    text,
    utm_term        text,
    utm_content     text,
    first_time      boolean,
    UNIQUE (source, external_id)
);
CREATE INDEX form_submissions_submitted_at_idx ON callhook.form_submissions (submitted_at);
COMMENT ON TABLE callhook.form_submissions IS
    'One row per web form submission tracked by the vendor, with the submitted fields and its attribution.';

-- ---------------------------------------------------------------------------------------------
-- Transcript segments (live partials, replaced by the final transcript).

CREATE TABLE callhook.transcript_segments (
    id                bigserial PRIMARY KEY,
    source            text NOT NULL,
    vendor            text NOT NULL,
    external_id       text NOT NULL,
    data              jsonb NOT NULL DEFAULT '{}',
    is_test           boolean NOT NULL DEFAULT false,
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    last_event_at     timestamptz,
    field_times       jsonb NOT NULL DEFAULT '{}',
    call_external_id  text NOT NULL,
    seq               integer NOT NULL,
    speaker           text,
    text              text,
    spoken_at         timestamptz,
    final             boolean NOT NULL DEFAULT false,
    UNIQUE (source, external_id),
    UNIQUE (source, call_external_id, seq)
);
COMMENT ON TABLE callhook.transcript_segments IS
    'One row per turn of a call transcript (external_id = call_external_id:seq); live partial turns (final = false) are replaced by the final transcript.';

-- ---------------------------------------------------------------------------------------------
-- Call events (changes, errors).

CREATE TABLE callhook.call_events (
    id                bigserial PRIMARY KEY,
    source            text NOT NULL,
    vendor            text NOT NULL,
    external_id       text NOT NULL,
    data              jsonb NOT NULL DEFAULT '{}',
    is_test           boolean NOT NULL DEFAULT false,
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    last_event_at     timestamptz,
    field_times       jsonb NOT NULL DEFAULT '{}',
    call_external_id  text,
    event             text NOT NULL,
    occurred_at       timestamptz,
    detail            jsonb,
    delivery_id       bigint REFERENCES callhook.deliveries (id) ON DELETE SET NULL,
    UNIQUE (source, external_id)
);
CREATE INDEX call_events_call_idx ON callhook.call_events (source, call_external_id);
CREATE INDEX call_events_delivery_idx ON callhook.call_events (delivery_id);
COMMENT ON TABLE callhook.call_events IS
    'One row per notable event in a call''s life (field changes, vendor errors; call_external_id is null for an error with no call), linked to the delivery that reported it.';

-- ---------------------------------------------------------------------------------------------
-- Routing for CallScaler in-call webhooks. The default routes nowhere ({}); replace it with
-- CREATE OR REPLACE FUNCTION (same name and parameter names, as the owner) to return e.g.
-- {"action":"forward","destination":"+1…"}. Privileges survive CREATE OR REPLACE.

CREATE FUNCTION callhook.route_call(source text, caller text, tracking text, call_id text)
RETURNS jsonb
LANGUAGE sql
SECURITY INVOKER
AS $$ SELECT '{}'::jsonb $$;
COMMENT ON FUNCTION callhook.route_call(text, text, text, text) IS
    'Decides a CallScaler in-call webhook: returns the routing action as JSON, or {} to let the call flow continue. Replace with CREATE OR REPLACE.';
REVOKE ALL ON FUNCTION callhook.route_call(text, text, text, text) FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Compression: a row over about 2 KB has its largest values compressed, and PostgreSQL's default
-- (pglz) costs several times the CPU of lz4 for about the same size. lz4 is used where the server
-- was built with it (Debian's is); elsewhere the default stays.

DO $compression$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT a.attrelid::regclass AS tbl, a.attname
               FROM pg_catalog.pg_attribute AS a
               JOIN pg_catalog.pg_class AS r ON r.oid = a.attrelid
              WHERE r.relnamespace = 'callhook'::regnamespace AND r.relkind = 'r'
                AND a.attnum > 0 AND NOT a.attisdropped AND a.attstorage IN ('x', 'm')
              ORDER BY 1, 2 LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET COMPRESSION lz4', c.tbl, c.attname);
    END LOOP;
EXCEPTION
    WHEN feature_not_supported THEN
        RAISE NOTICE 'callhook: this server has no lz4 compression; the default (pglz) is used';
END
$compression$;

-- ---------------------------------------------------------------------------------------------
-- Grants (skipped for a role that does not exist).

DO $grants$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'callhook_writer') THEN
        GRANT USAGE ON SCHEMA callhook TO callhook_writer;
        GRANT SELECT, INSERT, UPDATE ON
            callhook.deliveries, callhook.calls, callhook.messages, callhook.trackers,
            callhook.usage, callhook.voicemails, callhook.form_submissions,
            callhook.transcript_segments, callhook.call_events
            TO callhook_writer;
        GRANT DELETE ON callhook.transcript_segments TO callhook_writer;
        GRANT SELECT ON callhook.migrations TO callhook_writer;  -- lets `callhook check` read the version
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA callhook TO callhook_writer;
        GRANT EXECUTE ON FUNCTION callhook.route_call(text, text, text, text) TO callhook_writer;
    ELSE
        RAISE NOTICE 'callhook: role callhook_writer does not exist; its grants were skipped';
    END IF;

    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'callhook_reader') THEN
        GRANT USAGE ON SCHEMA callhook TO callhook_reader;
        GRANT SELECT ON ALL TABLES IN SCHEMA callhook TO callhook_reader;
        -- Tables and views created later in this schema by the migrating role (report views).
        ALTER DEFAULT PRIVILEGES IN SCHEMA callhook GRANT SELECT ON TABLES TO callhook_reader;
    ELSE
        RAISE NOTICE 'callhook: role callhook_reader does not exist; its grants were skipped';
    END IF;
END
$grants$;
