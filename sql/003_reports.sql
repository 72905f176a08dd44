-- callhook schema, version 3: report views — the questions businesses ask, answered in plain SQL.
--
-- Every view leaves out vendor test rows (is_test) and is readable by callhook_reader. Days are UTC
-- dates. A call's time is started_at, or first_seen_at when the vendor sent no start time; a
-- message's is sent_at, or first_seen_at. `callhook report` prints these views (see common/cli/report.c);
-- analysts can select from them directly:
--
--   SELECT * FROM callhook.report_daily_calls WHERE day >= current_date - 7;
--   SELECT * FROM callhook.missed_not_called_back('2 hours');          -- a stricter call-back window
--   SELECT * FROM callhook.report_attribution('2024-05-01', '2024-05-31');  -- one month's attribution
--
-- The aggregate reports over a period (attribution, trackers) are functions of (since, until,
-- source_name), each NULL meaning "no limit", with a view of the same name for all time. The
-- set-returning report functions carry no SET clause so that the planner can inline them (filters
-- on the views then reach the indexes); every name in them is schema-qualified.

-- "Called back": a later outbound call to the number, or a later answered inbound call from it, in
-- the same source. A number is caller_number_e164, or caller_number when the vendor sent no E.164
-- form; an outbound call's customer may be in its caller or its destination column (vendors differ).
CREATE INDEX calls_caller_key_idx ON callhook.calls
    (source, (coalesce(caller_number_e164, caller_number)), started_at);
CREATE INDEX calls_destination_key_idx ON callhook.calls
    (source, (coalesce(destination_number_e164, destination_number)), started_at)
    WHERE direction = 'outbound';

-- The time of the first call-back of `number` in `source` after `after`, no later than
-- after + within (no limit when within is NULL); NULL when there was none.
CREATE FUNCTION callhook.first_call_back(source_name text, number text, after timestamptz,
                                         within interval DEFAULT NULL)
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = callhook, pg_catalog
AS $$
    SELECT min(b.started_at)
      FROM callhook.calls AS b
     WHERE b.source = source_name
       AND NOT b.is_test
       AND b.started_at > after
       AND (within IS NULL OR b.started_at <= after + within)
       AND (   (b.direction = 'outbound'
                AND (   coalesce(b.caller_number_e164, b.caller_number) = number
                     OR coalesce(b.destination_number_e164, b.destination_number) = number))
            OR (b.direction IS DISTINCT FROM 'outbound' AND b.answered
                AND coalesce(b.caller_number_e164, b.caller_number) = number))
$$;
COMMENT ON FUNCTION callhook.first_call_back(text, text, timestamptz, interval) IS
    'When the number was first called back in the source after the given time (a later outbound call to it, or a later answered inbound call from it), within the given interval (NULL: any time later); NULL when it was not.';

-- ---------------------------------------------------------------------------------------------

CREATE VIEW callhook.report_daily_calls AS
SELECT pg_catalog.timezone('UTC', coalesce(c.started_at, c.first_seen_at))::date AS day,
       c.source,
       c.vendor,
       c.status,
       count(*) AS calls,
       count(*) FILTER (WHERE c.answered) AS answered,
       round(count(*) FILTER (WHERE c.answered)::numeric / count(*), 3) AS answer_rate,
       round(avg(c.duration_s) FILTER (WHERE c.answered), 1) AS avg_talk_s
  FROM callhook.calls AS c
 WHERE NOT c.is_test
 GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW callhook.report_daily_calls IS
    'How many calls did we get each day, and how many were answered? Calls (inbound and outbound) per UTC day, source, vendor and status, with the answered share (0 to 1) and the average talk time in seconds of the answered ones.';

-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION callhook.missed_not_called_back(within interval DEFAULT '24 hours')
RETURNS TABLE (started_at timestamptz, source text, caller_number text, caller_name text,
               tracking_number text, tracker_name text, status text, age interval)
LANGUAGE sql STABLE
AS $$
    SELECT m.started_at, m.source, m.caller_number, m.caller_name, m.tracking_number,
           m.tracker_name, m.status,
           pg_catalog.justify_hours(pg_catalog.date_trunc('second', pg_catalog.now() - m.started_at))
      FROM callhook.calls AS m
     WHERE NOT m.is_test
       AND m.direction IS DISTINCT FROM 'outbound'
       AND (m.status IN ('missed', 'voicemail') OR m.answered = false)
       AND m.started_at IS NOT NULL
       AND callhook.first_call_back(m.source, coalesce(m.caller_number_e164, m.caller_number),
                                    m.started_at, within) IS NULL
     ORDER BY m.started_at, m.id
$$;
COMMENT ON FUNCTION callhook.missed_not_called_back(interval) IS
    'Which missed calls did nobody return? Inbound calls that were missed, went to voicemail or were not answered, with no outbound call to the caller and no answered call from the caller in the same source within the given interval after them; oldest first.';

CREATE VIEW callhook.report_missed_not_called_back AS
SELECT * FROM callhook.missed_not_called_back();
COMMENT ON VIEW callhook.report_missed_not_called_back IS
    'Which missed calls did nobody return within 24 hours? Missed, voicemail and unanswered inbound calls with no outbound call to the caller and no answered call from them in the same source within 24 hours; oldest first. For another window: SELECT * FROM callhook.missed_not_called_back(''2 hours'').';

-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION callhook.report_attribution(since date DEFAULT NULL, until date DEFAULT NULL,
                                            source_name text DEFAULT NULL)
RETURNS TABLE (traffic_source text, medium text, campaign text, utm_source text, utm_medium text,
               utm_campaign text, calls bigint, first_time_callers bigint, answered bigint,
               value numeric)
LANGUAGE sql STABLE
AS $$
    SELECT c.traffic_source, c.medium, c.campaign, c.utm_source, c.utm_medium, c.utm_campaign,
           count(*), count(*) FILTER (WHERE c.first_time), count(*) FILTER (WHERE c.answered),
           coalesce(sum(c.value), 0)
      FROM callhook.calls AS c
     WHERE NOT c.is_test
       AND c.direction IS DISTINCT FROM 'outbound'
       AND (since IS NULL OR pg_catalog.timezone('UTC', coalesce(c.started_at, c.first_seen_at))::date >= since)
       AND (until IS NULL OR pg_catalog.timezone('UTC', coalesce(c.started_at, c.first_seen_at))::date <= until)
       AND (source_name IS NULL OR c.source = source_name)
     GROUP BY 1, 2, 3, 4, 5, 6
$$;
COMMENT ON FUNCTION callhook.report_attribution(date, date, text) IS
    'report_attribution for the inbound calls of UTC days since..until (inclusive) of one source; a NULL argument means no limit.';

CREATE VIEW callhook.report_attribution AS
SELECT * FROM callhook.report_attribution();
COMMENT ON VIEW callhook.report_attribution IS
    'Which marketing brings the calls? Inbound calls by traffic source, medium, campaign and UTM source/medium/campaign: calls, first-time callers, answered calls and the sum of their value. For a period: SELECT * FROM callhook.report_attribution(since, until, source_name).';

-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION callhook.report_trackers(since date DEFAULT NULL, until date DEFAULT NULL,
                                         source_name text DEFAULT NULL)
RETURNS TABLE (source text, tracker_external_id text, tracker_name text, tracking_number text,
               calls bigint, answered bigint, answer_rate numeric, first_calls bigint,
               avg_duration_s numeric, last_call_at timestamptz)
LANGUAGE sql STABLE
AS $$
    SELECT c.source, c.tracker_external_id, c.tracker_name, c.tracking_number,
           count(*), count(*) FILTER (WHERE c.answered),
           round(count(*) FILTER (WHERE c.answered)::numeric / count(*), 3),
           count(*) FILTER (WHERE c.first_time),
           round(avg(c.duration_s), 1),
           max(coalesce(c.started_at, c.first_seen_at))
      FROM callhook.calls AS c
     WHERE NOT c.is_test
       AND c.direction IS DISTINCT FROM 'outbound'
       AND (since IS NULL OR pg_catalog.timezone('UTC', coalesce(c.started_at, c.first_seen_at))::date >= since)
       AND (until IS NULL OR pg_catalog.timezone('UTC', coalesce(c.started_at, c.first_seen_at))::date <= until)
       AND (source_name IS NULL OR c.source = source_name)
     GROUP BY 1, 2, 3, 4
$$;
COMMENT ON FUNCTION callhook.report_trackers(date, date, text) IS
    'report_trackers for the inbound calls of UTC days since..until (inclusive) of one source; a NULL argument means no limit.';

CREATE VIEW callhook.report_trackers AS
SELECT * FROM callhook.report_trackers();
COMMENT ON VIEW callhook.report_trackers IS
    'How does each tracking number perform? Inbound calls per source, tracker and tracking number: calls, answered calls, answered share (0 to 1), first-time callers, average duration in seconds of the calls with one, and the time of the latest call. For a period: SELECT * FROM callhook.report_trackers(since, until, source_name).';

-- ---------------------------------------------------------------------------------------------

CREATE VIEW callhook.report_messages_daily AS
SELECT pg_catalog.timezone('UTC', coalesce(m.sent_at, m.first_seen_at))::date AS day,
       m.source,
       m.direction,
       count(*) AS messages
  FROM callhook.messages AS m
 WHERE NOT m.is_test
 GROUP BY 1, 2, 3;
COMMENT ON VIEW callhook.report_messages_daily IS
    'How many text messages came in and went out each day? Messages per UTC day, source and direction (inbound | outbound).';

-- ---------------------------------------------------------------------------------------------

CREATE VIEW callhook.report_usage AS
SELECT u.period_start,
       u.period_end,
       u.source,
       sum(coalesce(u.local_numbers, 0) + coalesce(u.tollfree_numbers, 0)) AS numbers,
       sum(coalesce(u.local_minutes, 0) + coalesce(u.tollfree_minutes, 0)) AS minutes,
       sum(coalesce(u.sms_messages, 0)) AS sms
  FROM callhook.usage AS u
 WHERE NOT u.is_test
 GROUP BY 1, 2, 3;
COMMENT ON VIEW callhook.report_usage IS
    'What did each billing period use? Per period and source as reported by the vendor: phone numbers held (local + toll-free), minutes (local + toll-free) and text messages.';

-- ---------------------------------------------------------------------------------------------

CREATE VIEW callhook.report_voicemails_waiting AS
SELECT x.received_at, x.source, x.caller_number, x.caller_name, x.tracking_number,
       x.tracker_name, x.duration_s, x.transcript, x.recording_url, x.call_external_id,
       x.called_back_at, x.called_back_at IS NULL AS waiting
  FROM (SELECT coalesce(v.received_at, c.started_at, v.first_seen_at) AS received_at,
               v.source,
               coalesce(v.caller_number, c.caller_number) AS caller_number,
               c.caller_name,
               coalesce(v.tracking_number, c.tracking_number) AS tracking_number,
               c.tracker_name,
               coalesce(v.duration_s, c.duration_s) AS duration_s,
               v.transcript,
               coalesce(v.recording_url, c.recording_url) AS recording_url,
               v.call_external_id,
               callhook.first_call_back(
                   v.source,
                   coalesce(v.caller_number_e164, v.caller_number, c.caller_number_e164, c.caller_number),
                   coalesce(v.received_at, c.started_at, v.first_seen_at)) AS called_back_at,
               v.id
          FROM callhook.voicemails AS v
          LEFT JOIN callhook.calls AS c
            ON c.source = v.source AND c.external_id = v.call_external_id
         WHERE NOT v.is_test) AS x
 ORDER BY x.received_at DESC, x.id DESC;
COMMENT ON VIEW callhook.report_voicemails_waiting IS
    'Which voicemails still wait for a call back? Every voicemail, newest first, with its transcript and the caller and tracker of its call when known; called_back_at is the first later outbound call to the number or answered call from it in the same source (the rule of missed_not_called_back, with no time limit), and waiting is true while there is none.';

-- ---------------------------------------------------------------------------------------------
-- Privileges: the report functions run with the caller's rights (SECURITY INVOKER), so the reader
-- needs EXECUTE on them and SELECT on the tables (granted by sql/001_schema.sql).

REVOKE ALL ON FUNCTION callhook.first_call_back(text, text, timestamptz, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION callhook.missed_not_called_back(interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION callhook.report_attribution(date, date, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION callhook.report_trackers(date, date, text) FROM PUBLIC;

DO $grants$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'callhook_reader') THEN
        GRANT SELECT ON
            callhook.report_daily_calls, callhook.report_missed_not_called_back,
            callhook.report_attribution, callhook.report_trackers, callhook.report_messages_daily,
            callhook.report_usage, callhook.report_voicemails_waiting
            TO callhook_reader;
        GRANT EXECUTE ON FUNCTION
            callhook.first_call_back(text, text, timestamptz, interval),
            callhook.missed_not_called_back(interval),
            callhook.report_attribution(date, date, text),
            callhook.report_trackers(date, date, text)
            TO callhook_reader;
    ELSE
        RAISE NOTICE 'callhook: role callhook_reader does not exist; its grants were skipped';
    END IF;
END
$grants$;
