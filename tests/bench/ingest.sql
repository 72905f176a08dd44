-- pgbench script (tests/bench/run.sh): callhook's own transaction for a lone delivery, one call of callhook.ingest()
-- with the arguments callhook sent for a Call Tracker call.finished (captured from the server log by run.sh
-- and passed with -D), made unique per transaction: the call id :id is replaced by a random :n in the body
-- and in the rows, and the dedup key is the event and :n. The query argument is '' as captured (with ?token= only, callhook
-- stores the query without its secret: ''). Then, as callhook does after the commit, the notifications go
-- out through callhook.notify() in a transaction of their own. Run with -M prepared, as callhook prepares both.
\set n random(1, 9000000000000000)
SELECT notices FROM callhook.ingest(:source, :vendor, :event, :method, :ctype, '', :headers::jsonb,
    convert_to(replace(:body, :id, :n::text), 'UTF8'), :event || ':' || :n, :outcome, NULL,
    replace(:rows, :id, :n::text)::jsonb, now()) \gset
SELECT callhook.notify(:notices::text[]);
