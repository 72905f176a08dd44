-- An example routing function for CallScaler in-call hits (/hooks/<source>/in_call).
-- callhook answers the hit with what callhook.route_call() returns; {} lets the call flow go on.
-- This one hangs up on numbers in a blocklist table, and forwards a repeat caller to the number
-- that last answered them. Install it as the schema owner:  psql -d callhook -f route_call.sql
-- Keep the parameter names: callhook calls route_call(source, caller, tracking, call_id).

CREATE TABLE IF NOT EXISTS callhook.blocklist (
    number text PRIMARY KEY,            -- as CallScaler sends it, e.g. +13055551212
    reason text
);

CREATE OR REPLACE FUNCTION callhook.route_call(source text, caller text, tracking text, call_id text)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        (SELECT jsonb_build_object('action', 'hangup', 'message', 'This number cannot be connected.')
           FROM callhook.blocklist b
          WHERE b.number = route_call.caller),
        (SELECT jsonb_build_object('action', 'forward', 'destination', c.destination_number)
           FROM callhook.calls c
          WHERE c.source = route_call.source
            AND route_call.caller IN (c.caller_number, c.caller_number_e164)
            AND c.answered AND c.destination_number IS NOT NULL
            AND c.external_id <> route_call.call_id
          ORDER BY c.started_at DESC NULLS LAST
          LIMIT 1),
        '{}'::jsonb)
$$;

GRANT SELECT ON callhook.blocklist TO callhook_writer;
