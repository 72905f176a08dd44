-- The benchmark's own table (tests/bench/run.sh): what tests/bench/baseline.c and insert.sql write.
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE IF NOT EXISTS bench.baseline (
    id          bigserial PRIMARY KEY,
    dedup_key   text NOT NULL UNIQUE,
    event       text,
    received_at timestamptz NOT NULL DEFAULT now(),
    body        jsonb NOT NULL
);
GRANT USAGE ON SCHEMA bench TO callhook_w;
GRANT SELECT, INSERT ON bench.baseline TO callhook_w;
GRANT USAGE ON SEQUENCE bench.baseline_id_seq TO callhook_w;
