-- tests/bench/run.sh: :rows existing calls (part :part of :parts), or their raw deliveries, written directly in
-- SQL (not through HTTP): five sources, spread over a year, each with the Call Tracker call.finished payload
-- (psql variable ctbody) as its data and body. Run with -v table=calls or -v table=deliveries.
-- -v table=lean_deliveries -v first=N: the deliveries N..:rows with a body of about 60 bytes, for the growth
-- point of 10 M deliveries: what grows there is the number of rows and keys, and full bodies would take
-- about 10 GB and most of an hour to write.
\if :{?table}
\else
\echo 'growth.sql: set -v table=calls, table=deliveries or table=lean_deliveries'
\quit
\endif
SELECT :'table' = 'calls' AS is_calls, :'table' = 'lean_deliveries' AS is_lean \gset

\if :is_calls
INSERT INTO callhook.calls (source, vendor, external_id, data, is_test, first_seen_at, last_event_at, field_times,
        direction, status, answered, caller_number, caller_number_e164, caller_country, tracking_number,
        tracking_number_e164, started_at, duration_s, recording_duration_s, tracker_external_id, tracker_name,
        landing_page, referrer, traffic_source, first_time)
SELECT (ARRAY['ct', 'acme-cs', 'acme-callrail', 'acme-salpre', 'acme-fd'])[i % 5 + 1],
       (ARRAY['calltracker', 'callscaler', 'callrail', 'salpre', 'fonedynamics'])[i % 5 + 1],
       'g' || i, d.data || jsonb_build_object('id', i), false, t, t + interval '219 seconds', d.ft, 'inbound',
       (ARRAY['completed', 'missed', 'voicemail', 'completed', 'busy'])[i % 5 + 1], i % 5 IN (0, 3),
       '+1855' || lpad((i % 9999991)::text, 7, '0'), '+1855' || lpad((i % 9999991)::text, 7, '0'), 'US',
       '+12702822733', '+12702822733', t, 30 + i % 600, i % 400, (1000 + i % 50)::text, 'Number Pool',
       'https://calltracker.io/', 'https://www.google.com/', 'organic', i % 3 = 0
  FROM generate_series(:part::bigint, :rows::bigint, :parts::bigint) AS i
 CROSS JOIN LATERAL (SELECT now() - (i % 31536000) * interval '1 second' AS t) AS tt
 CROSS JOIN (SELECT (:'ctbody'::jsonb)->'data' AS data,
                    (SELECT jsonb_object_agg(k, '2019-03-09T09:09:51.733192Z')
                       FROM unnest(ARRAY['status', 'answered', 'caller_number', 'caller_number_e164',
                                         'tracking_number', 'started_at', 'duration_s', 'tracker_name'])
                            AS k) || jsonb_build_object('data', (SELECT jsonb_object_agg(k, '2019-03-09T09:09:51.733192Z')
                                  FROM jsonb_object_keys((:'ctbody'::jsonb)->'data') AS k)) AS ft) AS d;
\elif :is_lean
WITH d AS (
INSERT INTO callhook.deliveries (source, vendor, event, received_at, method, content_type, query, headers, body,
        body_sha256, dedup_key, outcome)
SELECT (ARRAY['ct', 'acme-cs', 'acme-callrail', 'acme-salpre', 'acme-fd'])[i % 5 + 1],
       (ARRAY['calltracker', 'callscaler', 'callrail', 'salpre', 'fonedynamics'])[i % 5 + 1],
       'call.finished', now() - (i % 31536000) * interval '1 second', 'POST', 'application/json', '', '{}',
       b.body, sha256(b.body), 'call.finished:g' || i, 'stored'
  FROM generate_series(:first::bigint + :part::bigint - 1, :rows::bigint, :parts::bigint) AS i
 CROSS JOIN LATERAL (SELECT convert_to('{"type": "call.finished", "data": {"id": ' || i || '}}', 'UTF8') AS body) AS b
RETURNING id, source, dedup_key, received_at)
INSERT INTO callhook.delivery_keys (source, key_hash, delivery_id, received_at)
SELECT source, callhook.dedup_hash(dedup_key), id, received_at FROM d;
\else
-- The monthly partitions of the year back (migration 8), and each delivery's dedup key, as ingest() writes it.
SELECT callhook.ensure_partitions(3, 13);
WITH d AS (
INSERT INTO callhook.deliveries (source, vendor, event, received_at, method, content_type, query, headers, body,
        body_sha256, dedup_key, outcome)
SELECT (ARRAY['ct', 'acme-cs', 'acme-callrail', 'acme-salpre', 'acme-fd'])[i % 5 + 1],
       (ARRAY['calltracker', 'callscaler', 'callrail', 'salpre', 'fonedynamics'])[i % 5 + 1],
       'call.finished', now() - (i % 31536000) * interval '1 second', 'POST', 'application/json', '',
       jsonb_build_object('user-agent', 'Vendor-Webhooks/1.0', 'remote-addr', '127.0.0.1',
                          'content-length', length(b.body)::text),
       b.body, sha256(b.body), 'call.finished:g' || i, 'stored'
  FROM generate_series(:part::bigint, :rows::bigint, :parts::bigint) AS i
 CROSS JOIN LATERAL (SELECT convert_to(replace(:'ctbody', '"id": 59179', '"id": ' || i), 'UTF8') AS body) AS b
RETURNING id, source, dedup_key, received_at)
INSERT INTO callhook.delivery_keys (source, key_hash, delivery_id, received_at)
SELECT source, callhook.dedup_hash(dedup_key), id, received_at FROM d;
\endif
