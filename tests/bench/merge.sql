-- pgbench script (tests/bench/run.sh): callhook's per-request SQL (see ingest.sql) for later events of calls
-- already stored, the usual case in real traffic (a call is announced, answered, ended, then tagged). Each
-- transaction is a new delivery for one of 1,000 calls, with an event time somewhere within a minute, so most
-- merge into an existing row: some change it, and some are older than what the row holds.
\set n random(1, 1000)
\set k random(1, 9000000000000000)
\set s random(10, 59)
SELECT notices FROM callhook.ingest(:source, :vendor, :event, :method, :ctype, '', :headers::jsonb,
    convert_to(replace(:body, :id, :n::text), 'UTF8'), :event || ':' || :k, :outcome, NULL,
    replace(replace(:rows, :id, :n::text), '09:13:31.745000Z', '09:13:' || :s || '.745000Z')::jsonb, now()) \gset
SELECT callhook.notify(:notices::text[]);
