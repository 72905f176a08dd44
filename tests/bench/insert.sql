-- pgbench script (tests/bench/run.sh): the single INSERT of tests/bench/baseline.c, for reference, with the
-- same Call Tracker body made unique per transaction (see ingest.sql).
\set n random(1, 9000000000000000)
INSERT INTO bench.baseline (dedup_key, event, body)
    VALUES (md5(replace(:body, :id, :n::text)), :event, replace(:body, :id, :n::text)::jsonb)
    ON CONFLICT (dedup_key) DO NOTHING RETURNING id;
