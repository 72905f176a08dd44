-- callhook schema, version 14: the write path never plans a sequential scan.
--
-- The functions that write deliveries keep their statements' plans for the session (generic plans, built
-- once). PostgreSQL plans with the table's statistics of the moment, and a table that VACUUM or ANALYZE last
-- saw empty (a fresh install, a month after prune, a test that emptied it) has no rows as far as the planner
-- knows: a sequential scan of it then costs nothing, and it wins over the index. That plan stays in every
-- serve connection until the table's statistics change again, while the table grows. Measured: the DELETE
-- of a call's live transcript turns, planned on an empty transcript_segments, scanned the whole table for
-- every final transcript (about 180 blocks per call after one 10-second load of the bench's mix, about 380
-- after the next), and PostgreSQL's CPU per request rose from about 350 to 550 and 740 µs.
--
-- Every statement on this path finds its rows by a key that an index holds, so a sequential scan is never
-- the plan it wants: with enable_seqscan off for the duration of these calls, the planner takes the index
-- whatever the statistics say (a table without a usable index is still scanned; only the choice changes).
-- The functions each entry point calls (_apply_batch(), _apply_rows(), _upsert_row(), …) run with the
-- setting of the call that reached them.
ALTER FUNCTION callhook.ingest(text, text, text, text, text, text, jsonb, bytea, text, text, text, jsonb,
                               timestamptz)
    SET enable_seqscan = off;
ALTER FUNCTION callhook.ingest_batch(text[], text[], text[], text[], text[], text[], jsonb[], bytea[], text[],
                                     text[], text[], jsonb[], timestamptz[], integer[], integer[], integer[],
                                     text[], text[], text[], text[], boolean[], jsonb[], jsonb[], jsonb[])
    SET enable_seqscan = off;
ALTER FUNCTION callhook.ingest_many(text[], text[], text[], text[], text[], text[], jsonb[], bytea[], text[],
                                    text[], text[], jsonb[], timestamptz[])
    SET enable_seqscan = off;
ALTER FUNCTION callhook.replay_many(bigint[], text[], text[], jsonb[])
    SET enable_seqscan = off;
ALTER FUNCTION callhook.replay_delivery(bigint, text, text, jsonb)
    SET enable_seqscan = off;
