#!/usr/bin/env bash
# shellcheck disable=SC2119  # write_config takes optional arguments
# Tests of the SQL migrations (sql/NNN_*.sql, applied by the built callhook's `migrate`) and callhook.ingest(),
# on the throwaway PostgreSQL cluster of tests/lib.sh. Prints TAP.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

setup_tmp
prepare_callhook
pg_start || bail_out "PostgreSQL did not start"
write_config

export PGHOST=$T/pg PGUSER=postgres PGDATABASE=t PGTZ=UTC
unset PGPASSWORD PGSERVICE PGOPTIONS PGPORT PGHOSTADDR

# report DESCRIPTION GOT WANT: lib.sh's is, description first.
report() { is "$2" "$3" "$1"; }
# q [psql options…] < SQL: unaligned, tuples only; prints errors too.
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 "$@" 2>&1; }
# check "description" "want" [psql options…] < SQL   (output lines joined with |)
check() { local d=$1 w=$2 out; shift 2; out=$(q "$@"); report "$d" "${out//$'\n'/|}" "$w"; }
# check_fails "description" "text the error must contain" [psql options…] < SQL
check_fails() {
	local d=$1 w=$2 out rc; shift 2
	out=$(q "$@"); rc=$?
	if [ $rc -ne 0 ] && [[ $out == *"$w"* ]]; then report "$d" "$w" "$w"
	else report "$d" "exit $rc: $out" "an error containing: $w"; fi
}
# migrate DB [ROLE]: `callhook migrate` of database DB, connected as ROLE (default postgres); prints its output.
migrate() {
	callhook_run -c "$T/callhook.conf" migrate --conninfo "host=$T/pg dbname=$1 user=${2:-postgres}" 2>&1
}

# The cluster is thrown away: writing without fsync makes the checks three times faster.
q -d postgres -c 'ALTER SYSTEM SET fsync = off' -c 'ALTER SYSTEM SET synchronous_commit = off' \
	-c 'ALTER SYSTEM SET full_page_writes = off' -c 'SELECT pg_reload_conf()' >/dev/null

# --- migrations -----------------------------------------------------------------------------

# The checks count the roles named callhook_*: the login role pg_start makes for the integration tests is not
# one of those migrate creates.
q -d postgres -c 'DROP ROLE callhook_w' >/dev/null
q -d postgres -c 'CREATE ROLE t_owner LOGIN' -c 'CREATE DATABASE t_noroles OWNER t_owner' >/dev/null
# callhook migrate does not print the server's notices: the server log has them.
q -d postgres -c 'ALTER DATABASE t_noroles SET log_min_messages = notice' >/dev/null
out=$(migrate t_noroles t_owner); rc=$?
report "migrations apply for an owner without CREATEROLE (notice, no roles)" \
	"$rc|$(grep -c 'lacks CREATEROLE' "$T/pg/postgres.log")|$(q -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'callhook_%'")" \
	"0|2|0"
[ $rc -eq 0 ] || diag "$out"

q -d postgres -c 'CREATE DATABASE t' -c 'CREATE DATABASE t2' >/dev/null
out=$(migrate t); rc=$?
report "migrations apply as superuser and create the roles" \
	"$rc|$(q -d postgres -c "SELECT string_agg(rolname || ':' || rolcanlogin, ',' ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'callhook_%'")" \
	"0|callhook_reader:false,callhook_writer:false"
[ $rc -eq 0 ] || { diag "$out"; done_testing; }
out=$(migrate t2); rc=$?
report "migrations apply in a second database, reusing the roles" "$rc" "0"
[ $rc -eq 0 ] || diag "$out"

check "every table has a comment" "0" <<'SQL'
SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
 WHERE s.nspname = 'callhook' AND c.relkind = 'r' AND c.relname <> 'migrations'
   AND obj_description(c.oid, 'pg_class') IS NULL;
SQL

# Test helpers (in public, owned by the superuser).
q >/dev/null <<'SQL'
CREATE FUNCTION public.op(p_table text, p_ext text, p_time text, p_cols jsonb,
                          p_data jsonb DEFAULT '{}', p_op text DEFAULT 'upsert', p_is_test boolean DEFAULT false)
RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object('table', p_table, 'external_id', p_ext, 'event_time', p_time,
                                                'op', p_op, 'is_test', p_is_test))
           || jsonb_build_object('cols', p_cols, 'data', p_data)
$$;
CREATE FUNCTION public.ing(p_rows jsonb, p_dedup text DEFAULT NULL, p_event text DEFAULT 'test',
                           p_source text DEFAULT 'acme')
RETURNS text LANGUAGE sql AS $$
    SELECT i.delivery_id || ' ' || i.outcome || ' ' || coalesce(i.prior_outcome, '-')
      FROM callhook.ingest(p_source, 'callrail', p_event, 'POST', 'application/json', NULL,
                           '{"user-agent": "test"}', convert_to(coalesce(p_rows::text, ''), 'UTF8'),
                           coalesce(p_dedup, gen_random_uuid()::text), 'stored', NULL, p_rows, NULL) AS i,
           callhook.notify(i.notices) AS n
$$;
CREATE FUNCTION public.call(p_ext text, p_time text, p_status text) RETURNS text LANGUAGE sql AS $$
    SELECT public.ing(jsonb_build_array(public.op('calls', p_ext, p_time, jsonb_build_object('status', p_status))))
$$;
CREATE FUNCTION public.status_of(p_ext text) RETURNS text LANGUAGE sql AS $$
    SELECT status FROM callhook.calls WHERE source = 'acme' AND external_id = p_ext
$$;
SQL

# --- deliveries and duplicates ----------------------------------------------------------------

first=$(q -c "SELECT public.ing('[{\"table\":\"calls\",\"external_id\":\"D1\",\"event_time\":\"2024-05-01T10:00:00Z\",\"cols\":{\"status\":\"ringing\"}}]', 'dedup-1')")
first_id=${first%% *}
report "a new delivery is stored" "${first#* }" "stored -"
check "the delivery row holds the request and the body's sha256" "acme|callrail|test|POST|t|t|stored|test" <<SQL
SELECT source, vendor, event, method, body_sha256 = sha256(body), received_at > now() - interval '1 minute',
       outcome, headers->>'user-agent'
  FROM callhook.deliveries WHERE id = $first_id;
SQL
counts="SELECT (SELECT count(*) FROM callhook.deliveries) || '/' || (SELECT count(*) FROM callhook.calls) || '/' || (SELECT max(last_event_at) FROM callhook.calls WHERE external_id = 'D1')"
before=$(q -c "$counts")
check "the same dedup key again is a duplicate of the same delivery" "$first_id duplicate stored" \
	-c "SELECT public.ing('[{\"table\":\"calls\",\"external_id\":\"D1\",\"event_time\":\"2024-05-01T11:00:00Z\",\"cols\":{\"status\":\"completed\"}}]', 'dedup-1')"
report "a duplicate delivery changes nothing" "$(q -c "$counts")|$(q -c "SELECT status_of('D1')")" "$before|ringing"
check "the same dedup key from another source is a new delivery" "stored" \
	-c "SELECT split_part(public.ing('[]', 'dedup-1', 'test', 'other'), ' ', 2)"
check "null rows: the delivery is stored and nothing else" "stored -|0" <<'SQL'
SELECT substr(x, position(' ' in x) + 1) || '|' || (SELECT count(*) FROM callhook.calls WHERE external_id <> 'D1')
  FROM (SELECT public.ing(NULL, 'dedup-null') AS x) AS s;
SQL

# --- a resend of a delivery kept as error (sql/004) ---------------------------------------------
# err DEDUP ERROR: what callhook does when PostgreSQL refused a delivery's rows: the delivery, outcome error.
q >/dev/null <<'SQL'
CREATE FUNCTION public.err(p_dedup text, p_error text) RETURNS text LANGUAGE sql AS $$
    SELECT i.delivery_id || ' ' || i.outcome || ' ' || coalesce(i.prior_outcome, '-')
      FROM callhook.ingest('acme', 'callrail', 'test', 'POST', 'application/json', NULL, '{}', '\x7b7d'::bytea,
                           p_dedup, 'error', p_error, NULL, NULL) AS i
$$;
SQL
e1=$(q -c "SELECT public.err('dedup-err', 'could not store rows: SQLSTATE 22003')")
e1_id=${e1%% *}
report "an error delivery is kept with its error and no rows" \
	"${e1#* }|$(q -c "SELECT outcome || '/' || error FROM callhook.deliveries WHERE id = $e1_id")" \
	"error -|error/could not store rows: SQLSTATE 22003"
check "an error delivery failing again: same delivery, the new error recorded" \
	"$e1_id error error|could not store rows: SQLSTATE 23502" <<SQL
SELECT public.err('dedup-err', 'could not store rows: SQLSTATE 23502');
SELECT error FROM callhook.deliveries WHERE id = $e1_id;
SQL
check "a resend of an error delivery is applied to it: stored, prior error, same id" "$e1_id stored error" \
	-c "SELECT public.ing('[{\"table\":\"calls\",\"external_id\":\"E1\",\"event_time\":\"2024-05-01T10:00:00Z\",\"cols\":{\"status\":\"ringing\"}}]', 'dedup-err')"
check "after the resend: outcome stored, no error, the rows present, one delivery" "stored|-|ringing|1" <<SQL
SELECT d.outcome, coalesce(d.error, '-'), public.status_of('E1'),
       (SELECT count(*) FROM callhook.deliveries WHERE dedup_key = 'dedup-err')
  FROM callhook.deliveries AS d WHERE d.id = $e1_id;
SQL
check "a copy after that is a plain duplicate and changes nothing" "$e1_id duplicate stored|ringing" <<SQL
SELECT public.ing('[{"table":"calls","external_id":"E1","event_time":"2024-05-01T11:00:00Z","cols":{"status":"completed"}}]', 'dedup-err');
SELECT public.status_of('E1');
SQL

# --- call status --------------------------------------------------------------------------------

check "ringing then completed ends completed" "completed" <<'SQL'
SELECT public.call('S1', '2024-05-01T10:00:00Z', 'ringing') \g /dev/null
SELECT public.call('S1', '2024-05-01T10:05:00Z', 'completed') \g /dev/null
SELECT status_of('S1');
SQL
check "completed then an older ringing ends completed" "completed" <<'SQL'
SELECT public.call('S2', '2024-05-01T10:05:00Z', 'completed') \g /dev/null
SELECT public.call('S2', '2024-05-01T10:00:00Z', 'ringing') \g /dev/null
SELECT status_of('S2');
SQL
check "completed then a newer ringing (or in_progress) ends completed" "completed" <<'SQL'
SELECT public.call('S3', '2024-05-01T10:05:00Z', 'completed') \g /dev/null
SELECT public.call('S3', '2024-05-01T10:09:00Z', 'ringing') \g /dev/null
SELECT public.call('S3', '2024-05-01T10:09:30Z', 'in_progress') \g /dev/null
SELECT status_of('S3');
SQL
check "between terminal states the newer event wins, in either order" "completed|voicemail|2024-05-01T10:07:00.000000Z" <<'SQL'
SELECT public.call('S4', '2024-05-01T10:05:00Z', 'completed') \g /dev/null
SELECT public.call('S4', '2024-05-01T10:01:00Z', 'missed') \g /dev/null
SELECT public.call('S5', '2024-05-01T10:01:00Z', 'missed') \g /dev/null
SELECT public.call('S5', '2024-05-01T10:07:00Z', 'voicemail') \g /dev/null
SELECT status_of('S4') || '|' || status_of('S5') || '|' ||
       (SELECT callhook.field_times_of(to_jsonb(c))->>'status' FROM callhook.calls c WHERE external_id = 'S5');
SQL
check_fails "an unknown status is rejected" "unknown call status" <<'SQL'
SELECT public.call('S6', '2024-05-01T10:00:00Z', 'answered');
SQL

# --- column merges ----------------------------------------------------------------------------

check "a column set by a newer event is kept against an older one" "newest note|completed|2024-05-01 12:00:00+00" <<'SQL'
SELECT public.ing(jsonb_build_array(public.op('calls', 'M1', '2024-05-01T12:00:00Z', '{"note": "newest note"}'))) \g /dev/null
SELECT public.ing(jsonb_build_array(public.op('calls', 'M1', '2024-05-01T10:05:00Z', '{"note": "old note", "status": "completed"}'))) \g /dev/null
SELECT note, status, last_event_at FROM callhook.calls WHERE external_id = 'M1';
SQL
check "null, \"\", [] and {} never erase a value" "Jane|a,b|{\"x\": 1}|150.00|t" <<'SQL'
SELECT public.ing(jsonb_build_array(public.op('calls', 'M2', '2024-05-01T10:00:00Z',
       '{"caller_name": "Jane", "tags": ["a", "b"], "value": "150.00", "answered": "true"}'))) \g /dev/null
SELECT public.ing(jsonb_build_array(public.op('form_submissions', 'F1', '2024-05-01T10:00:00Z', '{"form_data": {"x": 1}}'))) \g /dev/null
SELECT public.ing(jsonb_build_array(public.op('calls', 'M2', '2024-05-01T11:00:00Z',
       '{"caller_name": "", "tags": [], "value": null, "answered": null}'))) \g /dev/null
SELECT public.ing(jsonb_build_array(public.op('form_submissions', 'F1', '2024-05-01T11:00:00Z', '{"form_data": {}}'))) \g /dev/null
SELECT caller_name, array_to_string(tags, ','), (SELECT form_data FROM callhook.form_submissions WHERE external_id = 'F1'),
       value, answered
  FROM callhook.calls WHERE external_id = 'M2';
SQL
check "field_times records each column's event time; data merges newest-first" \
	'{"data": {}, "tags": "2024-05-01T10:00:00.000000Z", "value": "2024-05-01T10:00:00.000000Z", "answered": "2024-05-01T10:00:00.000000Z", "caller_name": "2024-05-01T10:00:00.000000Z"}|{"a": 2, "b": 2, "c": 1}' <<'SQL'
SELECT public.ing(jsonb_build_array(public.op('calls', 'M3', '2024-05-01T11:00:00Z', '{}', '{"a": 2, "b": 2}'))) \g /dev/null
SELECT public.ing(jsonb_build_array(public.op('calls', 'M3', '2024-05-01T10:00:00Z', '{}', '{"a": 1, "c": 1}'))) \g /dev/null
SELECT callhook.field_times_of(to_jsonb(c)) FROM callhook.calls c WHERE external_id = 'M2';
SELECT data FROM callhook.calls WHERE external_id = 'M3';
SQL
check "each key of data keeps the time of the event that set it" \
	'{"a": "2024-05-01T11:00:00.000000Z", "b": "2024-05-01T11:00:00.000000Z", "c": "2024-05-01T10:00:00.000000Z"}' <<'SQL'
SELECT callhook.field_times_of(to_jsonb(c))->'data' FROM callhook.calls c WHERE external_id = 'M3';
SQL
check "field_times keeps the first event's time once, and the times of the values merges changed" \
	'{"*": "2024-05-01T10:00:00.000000Z"}|{"*": "2024-05-01T11:00:00.000000Z", "data": {"c": "2024-05-01T10:00:00.000000Z"}}' <<'SQL'
SELECT field_times FROM callhook.calls WHERE external_id = 'M2';
SELECT field_times FROM callhook.calls WHERE external_id = 'M3';
SQL
# A row written before schema version 10 keeps a time per value and no "*": merges read those times as before.
check "a row with a time per value (before version 10) merges by those times" \
	'older note|newer|{"n": 0, "o": 2}|{"data": {"n": "2024-05-01T12:00:00.000000Z", "o": "2024-05-01T10:00:00.000000Z"}, "note": "2024-05-01T12:00:00.000000Z", "status": "2024-05-01T09:00:00.000000Z", "caller_name": "2024-05-01T10:00:00.000000Z"}' <<'SQL'
INSERT INTO callhook.calls (source, vendor, external_id, data, status, note, caller_name, last_event_at, field_times)
VALUES ('acme', 'callrail', 'V9', '{"n": 0}', 'ringing', 'older note', 'older', '2024-05-01T12:00:00Z',
        '{"status": "2024-05-01T09:00:00.000000Z", "note": "2024-05-01T12:00:00.000000Z",
          "caller_name": "2024-05-01T08:00:00.000000Z", "data": {"n": "2024-05-01T12:00:00.000000Z"}}');
SELECT public.ing(jsonb_build_array(public.op('calls', 'V9', '2024-05-01T10:00:00Z',
       '{"note": "newer note", "caller_name": "newer"}', '{"n": 1, "o": 2}'))) \g /dev/null
SELECT note, caller_name, data, callhook.field_times_of(to_jsonb(c)) FROM callhook.calls c WHERE external_id = 'V9';
SQL
check "an event without event_time is timed at the delivery's received_at" "t" <<'SQL'
SELECT public.ing('[{"table": "trackers", "external_id": "TR1", "cols": {"name": "Main line", "numbers": ["+15550001111"], "active": true}}]') \g /dev/null
SELECT t.last_event_at = d.received_at AND t.first_seen_at = d.received_at
  FROM callhook.trackers t, callhook.deliveries d
 WHERE t.external_id = 'TR1' AND d.id = (SELECT max(id) FROM callhook.deliveries);
SQL
check "is_test stays true only while every event is a test" "true|false|false" <<'SQL'
SELECT public.ing(jsonb_build_array(public.op('calls', 'T1', '2024-05-01T10:00:00Z', '{"status": "ringing"}', '{}', 'upsert', true))) \g /dev/null
SELECT public.ing(jsonb_build_array(public.op('calls', 'T2', '2024-05-01T10:00:00Z', '{"status": "ringing"}', '{}', 'upsert', true))) \g /dev/null
SELECT public.ing(jsonb_build_array(public.op('calls', 'T2', '2024-05-01T10:01:00Z', '{"status": "completed"}', '{}', 'upsert', false))) \g /dev/null
SELECT public.ing(jsonb_build_array(public.op('calls', 'T3', '2024-05-01T10:00:00Z', '{"status": "ringing"}', '{}', 'upsert', false))) \g /dev/null
SELECT public.ing(jsonb_build_array(public.op('calls', 'T3', '2024-05-01T10:01:00Z', '{"status": "completed"}', '{}', 'upsert', true))) \g /dev/null
SELECT string_agg(is_test::text, '|' ORDER BY external_id) FROM callhook.calls WHERE external_id IN ('T1', 'T2', 'T3');
SQL
check "messages and usage columns are typed from JSON" "inbound|+15550001111|2|2024-05-01 10:00:00+00|2024-04-01|123" <<'SQL'
SELECT public.ing('[{"table": "messages", "external_id": "SM1", "event_time": "2024-05-01T10:00:00Z",
   "cols": {"direction": "inbound", "from_number": "+15550001111", "body": "hi", "media_urls": ["u1", "u2"],
            "sent_at": "2024-05-01 10:00:00"}},
  {"table": "usage", "external_id": "2024-04", "cols": {"period_start": "2024-04-01", "local_minutes": "123"}}]') \g /dev/null
SELECT direction, from_number, jsonb_array_length(media_urls), sent_at,
       (SELECT period_start FROM callhook.usage WHERE external_id = '2024-04'),
       (SELECT local_minutes FROM callhook.usage WHERE external_id = '2024-04')
  FROM callhook.messages WHERE external_id = 'SM1';
SQL

# --- order independence: all 24 orders of 4 events of one call -----------------------------------

e1='{"table":"calls","external_id":"EXT","event_time":"2024-05-01T10:00:00Z","cols":{"status":"ringing","direction":"inbound","caller_number":"+15551230001","caller_number_e164":"+15551230001","tracking_number":"+15559870000","started_at":"2024-05-01T10:00:00Z","caller_name":"J DOE","duration_s":0,"tags":[]},"data":{"id":"CAL1","call_type":"ringing","duration":"","customer_name":"J DOE","answered":false}}'
e2='{"table":"calls","external_id":"EXT","event_time":"2024-05-01T10:00:05Z","cols":{"status":"in_progress","answered":true,"note":""},"data":{"id":"CAL1","call_type":"answered","duration":"","customer_name":"J DOE","answered":true}}'
e3='{"table":"calls","external_id":"EXT","event_time":"2024-05-01T10:03:44Z","cols":{"status":"completed","answered":true,"duration_s":219,"recording_url":"https://rec.example/1.mp3","caller_name":"","note":null},"data":{"id":"CAL1","call_type":"answered","duration":219,"customer_name":"","answered":true,"recording":"https://rec.example/1.mp3"}}'
e4='{"table":"calls","external_id":"EXT","event_time":"2024-05-01T10:30:00Z","cols":{"note":"call back tomorrow","tags":["lead","vip"],"value":"150.00","caller_name":"Jane Doe","duration_s":null},"data":{"id":"CAL1","call_type":"answered","duration":219,"customer_name":"Jane Doe","answered":true,"note":"call back tomorrow","changes":["note","tags","value"]}}'
events=("" "$e1" "$e2" "$e3" "$e4")
script=$(
	for a in 1 2 3 4; do for b in 1 2 3 4; do for c in 1 2 3 4; do for d in 1 2 3 4; do
		[ "$(printf '%s\n' $a $b $c $d | sort -u | wc -l)" = 4 ] || continue
		for e in $a $b $c $d; do
			printf "SELECT public.ing('[%s]') \\\\g /dev/null\n" "${events[$e]//EXT/perm-$a$b$c$d}"
		done
	done; done; done; done
)
out=$(q <<<"$script")
report "24 orders of 4 events ingest without error" "$(grep -c . <<<"$out")|$(grep -c '^SELECT public.ing' <<<"$script")" "0|96"
# field_times is compared by the times it gives: which event's time is stored once as "*" depends on the order.
check "all 24 orders end in exactly the same row, with the same time for every value" "24|1" <<'SQL'
SELECT count(*) || '|' || count(DISTINCT to_jsonb(c) - 'id' - 'external_id' - 'first_seen_at' - 'field_times'
                                         || jsonb_build_object('field_times', callhook.field_times_of(to_jsonb(c))))
  FROM callhook.calls c WHERE external_id LIKE 'perm-%';
SQL
check "that row is the merge of the four events" \
	"completed|t|219|https://rec.example/1.mp3|call back tomorrow|lead,vip|150.00|Jane Doe|inbound|2024-05-01 10:00:00+00|2024-05-01 10:30:00+00|Jane Doe|t|2024-05-01T10:03:44.000000Z" <<'SQL'
SELECT status, answered, duration_s, recording_url, note, array_to_string(tags, ','), value, caller_name,
       direction, started_at, last_event_at, data->>'customer_name', data ? 'recording',
       callhook.field_times_of(to_jsonb(c))->>'status'
  FROM callhook.calls c WHERE external_id = 'perm-4321';
SQL

# --- transcript segments ------------------------------------------------------------------------

seg() { # call seq text time
	printf '{"table":"transcript_segments","event_time":"%s","cols":{"call_external_id":"%s","seq":%s,"speaker":"caller","text":"%s"}}' "$4" "$1" "$2" "$3"
}
q -c "SELECT public.ing('[$(seg C1 1 'mer' 2024-05-01T10:00:01Z), $(seg C1 2 'merha' 2024-05-01T10:00:02Z)]')" >/dev/null
q -c "SELECT public.ing('[$(seg C1 2 'merhaba' 2024-05-01T10:00:03Z), $(seg C1 3 'nasılsınız' 2024-05-01T10:00:04Z)]')" >/dev/null
check "live partial segments are upserted by seq" "1:mer:false,2:merhaba:false,3:nasılsınız:false" <<'SQL'
SELECT string_agg(seq || ':' || text || ':' || final, ',' ORDER BY seq) FROM callhook.transcript_segments WHERE call_external_id = 'C1';
SQL
check "replace_segments removes the partials and stores final segments" "1:Merhaba:true:C1:1,2:İyi günler:true:C1:2" <<'SQL'
SELECT public.ing('[{"table": "transcript_segments", "op": "replace_segments", "call_external_id": "C1",
   "event_time": "2024-05-01T10:05:00Z",
   "segments": [{"seq": 1, "speaker": "agent", "text": "Merhaba", "spoken_at": "2024-05-01T10:00:01Z"},
                {"seq": 2, "speaker": "caller", "text": "İyi günler", "data": {"turn": 2}}]}]') \g /dev/null
SELECT string_agg(seq || ':' || text || ':' || final || ':' || external_id, ',' ORDER BY seq)
  FROM callhook.transcript_segments WHERE call_external_id = 'C1';
SQL
q -c "SELECT public.ing('[$(seg C1 1 'late' 2024-05-01T10:09:00Z), $(seg C1 4 'late too' 2024-05-01T10:09:01Z)]')" >/dev/null
check "a late live partial neither adds nor overwrites segments" "1:Merhaba:true,2:İyi günler:true" <<'SQL'
SELECT string_agg(seq || ':' || text || ':' || final, ',' ORDER BY seq) FROM callhook.transcript_segments WHERE call_external_id = 'C1';
SQL
check_fails "an upsert cannot write a final segment" "replace_segments" <<'SQL'
SELECT public.ing('[{"table": "transcript_segments", "cols": {"call_external_id": "C2", "seq": 1, "final": true}}]');
SQL

# --- call events ------------------------------------------------------------------------------

ev=$(q -c "SELECT public.ing('[{\"table\": \"call_events\", \"op\": \"insert\", \"external_id\": \"EV1\", \"cols\": {\"call_external_id\": \"S1\", \"event\": \"modified\", \"detail\": {\"changes\": [\"note\"]}}}]')")
ev_id=${ev%% *}
q -c "SELECT public.ing('[{\"table\": \"call_events\", \"op\": \"insert\", \"external_id\": \"EV1\", \"cols\": {\"call_external_id\": \"S1\", \"event\": \"changed\"}}]')" >/dev/null
check "call_events insert op sets delivery_id; inserting the same id again does nothing" "1|$ev_id|modified|[\"note\"]" <<'SQL'
SELECT count(*), min(delivery_id), min(event), min(detail->>'changes') FROM callhook.call_events WHERE external_id = 'EV1';
SQL
ev=$(q -c "SELECT public.ing('[{\"table\": \"call_events\", \"op\": \"insert\", \"cols\": {\"detail\": {\"error\": \"gateway down\"}}}]', NULL, 'error')")
check "a call event without external_id or event gets them from the delivery" "${ev%% *}:1|error|" <<SQL
SELECT external_id, event, call_external_id FROM callhook.call_events WHERE delivery_id = ${ev%% *};
SQL

# --- errors -----------------------------------------------------------------------------------

check_fails "an unknown column raises an error naming it" '"bogus" is not a column callhook.calls accepts' <<'SQL'
SELECT public.ing('[{"table": "calls", "external_id": "X1", "cols": {"status": "ringing", "bogus": 1}}]', 'dedup-bad');
SQL
check "the failed ingest left nothing behind" "0|0" <<'SQL'
SELECT (SELECT count(*) FROM callhook.deliveries WHERE dedup_key = 'dedup-bad') || '|' ||
       (SELECT count(*) FROM callhook.calls WHERE external_id = 'X1');
SQL
check_fails "an internal column cannot be set" '"field_times" is not a column' <<'SQL'
SELECT public.ing('[{"table": "calls", "external_id": "X1", "cols": {"field_times": {}}}]');
SQL
check_fails "an unknown table raises an error" "unknown table 'deliveries'" <<'SQL'
SELECT public.ing('[{"table": "deliveries", "external_id": "X1", "cols": {}}]');
SQL

# --- notifications ----------------------------------------------------------------------------
# ingest() returns the payloads and sends nothing itself; callhook passes them to callhook.notify()
# after the commit (public.ing() does both, as callhook does).

out=$(q <<'SQL'
LISTEN callhook;
SELECT i.outcome || '|' || cardinality(i.notices) || '|' || (i.notices[1]::jsonb ->> 'table')
  FROM callhook.ingest('acme', 'callrail', 'pre_call', 'POST', 'application/json', NULL, '{}', '',
                       'dedup-n0', 'stored', NULL,
                       '[{"table": "calls", "external_id": "N0", "cols": {"status": "ringing"}}]', NULL) AS i;
SELECT i.outcome || '|' || cardinality(i.notices)
  FROM callhook.ingest('acme', 'callrail', 'pre_call', 'POST', 'application/json', NULL, '{}', '',
                       'dedup-n0', 'stored', NULL, NULL, NULL) AS i;
SQL
)
report "ingest() returns one payload per stored row and sends no NOTIFY of its own" \
	"$(grep -c 'Asynchronous notification' <<<"$out")|$(grep -v 'Asynchronous' <<<"$out" | tr '\n' ' ')" \
	"0|stored|1|calls duplicate|0 "
out=$(q <<'SQL'
LISTEN callhook;
SELECT callhook.notify(ARRAY['{"table": "calls", "id": 1}', '{"table": "messages", "id": 2}']);
SELECT callhook.notify('{}');
SQL
)
report "callhook.notify() sends each payload on channel callhook" \
	"$(grep -c 'Asynchronous notification "callhook" with payload "{"table": "' <<<"$out")|$(grep -v 'Asynchronous' <<<"$out" | tr '\n' ' ')" \
	"2|2 0 "

out=$(q <<'SQL'
LISTEN callhook;
SELECT public.ing('[{"table": "calls", "external_id": "N1", "event_time": "2024-05-01T10:00:00Z", "cols": {"status": "ringing"}}, {"table": "messages", "external_id": "N1", "cols": {"body": "x"}}]', 'dedup-n1', 'pre_call') \g /dev/null
SELECT public.ing('[{"table": "calls", "external_id": "N1", "cols": {"status": "ringing"}}]', 'dedup-n1', 'pre_call') \g /dev/null
SQL
)
want=$(q -c "SELECT 'Asynchronous notification \"callhook\" with payload \"' || json_build_object('table', 'calls', 'id', (SELECT id FROM callhook.calls WHERE external_id = 'N1'), 'source', 'acme', 'event', 'pre_call') || '\" received'")
report "a stored row is announced by NOTIFY callhook with table and id" "$(grep -cF "$want" <<<"$out")" "1"
report "one notification per changed row, none for a duplicate delivery" "$(grep -c 'Asynchronous notification' <<<"$out")" "2"
out=$(q <<'SQL'
LISTEN callhook;
SELECT public.ing('[{"table": "calls", "external_id": "N1", "event_time": "2024-05-01T09:00:00Z", "cols": {"status": "ringing"}}]') \g /dev/null
SELECT public.ing('[{"table": "calls", "external_id": "N1", "event_time": "2024-05-01T10:02:00Z", "cols": {"status": "completed"}}]', NULL, 'post_call') \g /dev/null
SQL
)
want=${want/pre_call/post_call}
report "an updated row is announced; an event that changes nothing is not" \
	"$(grep -c 'Asynchronous notification' <<<"$out")|$(grep -cF "$want" <<<"$out")" "1|1"

# --- concurrency ------------------------------------------------------------------------------

race='[{"table": "calls", "external_id": "R1", "event_time": "2024-05-01T10:00:00Z", "cols": {"status": "ringing"}}]'
race2='[{"table": "calls", "external_id": "R1", "event_time": "2024-05-01T10:04:00Z", "cols": {"status": "completed", "duration_s": 240}}]'
q >"$T/race-a" <<SQL &
BEGIN;
SELECT split_part(public.ing('$race', 'dedup-race'), ' ', 2);
SELECT pg_sleep(0.8) \g /dev/null
COMMIT;
SQL
apid=$!
sleep 0.3
q -c "SELECT split_part(public.ing('$race', 'dedup-race'), ' ', 2)" >"$T/race-b" &
bpid=$!
q -c "SELECT split_part(public.ing('$race2', 'dedup-race-2'), ' ', 2)" >"$T/race-c" &
cpid=$!
wait $apid $bpid $cpid
report "two identical deliveries at once: one stored, one duplicate, one delivery row" \
	"$(sort "$T/race-a" "$T/race-b" | tr '\n' ' ')$(q -c "SELECT count(*) FROM callhook.deliveries WHERE dedup_key = 'dedup-race'")" \
	"duplicate stored 1"
check "two events of one new call at once: one row, merged" "stored|1|completed|240" <<SQL
\! cat "$T/race-c"
SELECT count(*), min(status), min(duration_s) FROM callhook.calls WHERE external_id = 'R1';
SQL
check "zone-less times are UTC whatever the session's TimeZone" "2024-05-01 10:00:00+00|2024-05-01 09:00:00+00" <<'SQL'
SET TimeZone = 'Asia/Tokyo';
SELECT public.ing('[{"table": "messages", "external_id": "TZ1", "event_time": "2024-05-01 09:00:00",
                     "cols": {"sent_at": "2024-05-01 10:00:00"}}]') \g /dev/null
SET TimeZone = 'UTC';
SELECT sent_at, last_event_at FROM callhook.messages WHERE external_id = 'TZ1';
SQL

# --- replay -----------------------------------------------------------------------------------

check "replay_delivery re-applies rows without duplicating and records the replay" "stored|error|t|1|call back" <<'SQL'
UPDATE callhook.deliveries SET outcome = 'error', error = 'bug' WHERE dedup_key = 'dedup-n1';
SELECT r.outcome || '|' || r.prior_outcome FROM callhook.replay_delivery(
    (SELECT id FROM callhook.deliveries WHERE dedup_key = 'dedup-n1'), 'stored', NULL,
    '[{"table": "calls", "external_id": "N1", "event_time": "2024-05-01T10:00:01Z", "cols": {"note": "call back"}}]') AS r;
SELECT replayed_at IS NOT NULL AND error IS NULL FROM callhook.deliveries WHERE dedup_key = 'dedup-n1';
SELECT count(*), min(note) FROM callhook.calls WHERE external_id = 'N1';
SQL

# --- roles and privileges ---------------------------------------------------------------------

q -c 'CREATE ROLE t_writer LOGIN IN ROLE callhook_writer' -c 'CREATE ROLE t_reader LOGIN IN ROLE callhook_reader' \
	-c 'CREATE ROLE t_nobody LOGIN' >/dev/null
check "the writer can ingest (insert, merge, replace segments, duplicate) and route calls" "stored|stored|duplicate|completed|1|{}" -U t_writer <<'SQL'
SELECT outcome FROM callhook.ingest('acme', 'callrail', 'post_call', 'POST', 'application/json', NULL, '{}',
    '\x7b7d'::bytea, 'w-1', 'stored', NULL,
    '[{"table": "calls", "external_id": "W1", "event_time": "2024-05-01T10:00:00Z", "cols": {"status": "ringing"}},
      {"table": "transcript_segments", "cols": {"call_external_id": "W1", "seq": 1, "text": "x"}}]', NULL);
SELECT outcome FROM callhook.ingest('acme', 'callrail', 'post_call', 'POST', 'application/json', NULL, '{}',
    '\x7b7d'::bytea, 'w-2', 'stored', NULL,
    '[{"table": "calls", "external_id": "W1", "event_time": "2024-05-01T10:05:00Z", "cols": {"status": "completed"}},
      {"table": "transcript_segments", "op": "replace_segments", "call_external_id": "W1", "segments": [{"seq": 1, "text": "y"}]},
      {"table": "call_events", "op": "insert", "cols": {"event": "post_call"}}]', NULL);
SELECT outcome FROM callhook.ingest('acme', 'callrail', 'post_call', 'POST', 'application/json', NULL, '{}',
    '\x7b7d'::bytea, 'w-1', 'stored', NULL, NULL, NULL);
SELECT status FROM callhook.calls WHERE external_id = 'W1';
SELECT count(*) FROM callhook.transcript_segments WHERE call_external_id = 'W1';
SELECT callhook.route_call('acme', '+15550001111', '+15559870000', 'CA1');
SQL
check "the writer can apply a resend of an error delivery" "error|stored error|stored" -U t_writer <<'SQL'
SELECT outcome FROM callhook.ingest('acme', 'callrail', 'post_call', 'POST', 'application/json', NULL, '{}',
    '\x7b7d'::bytea, 'w-err', 'error', 'could not store rows: SQLSTATE 22003', NULL, NULL);
SELECT outcome || ' ' || prior_outcome FROM callhook.ingest('acme', 'callrail', 'post_call', 'POST',
    'application/json', NULL, '{}', '\x7b7d'::bytea, 'w-err', 'stored', NULL,
    '[{"table": "calls", "external_id": "W2", "event_time": "2024-05-01T10:00:00Z", "cols": {"status": "ringing"}}]', NULL);
SELECT outcome FROM callhook.deliveries WHERE dedup_key = 'w-err';
SQL
check_fails "the writer cannot DROP TABLE callhook.calls" "must be owner" -U t_writer -c 'DROP TABLE callhook.calls'
check_fails "the writer cannot CREATE TABLE in schema callhook" "permission denied for schema callhook" -U t_writer \
	-c 'CREATE TABLE callhook.t_x (a int)'
check_fails "the writer cannot DELETE from callhook.calls" "permission denied for table calls" -U t_writer \
	-c 'DELETE FROM callhook.calls'
check_fails "the writer cannot write callhook.migrations" "permission denied for table migrations" -U t_writer \
	-c "INSERT INTO callhook.migrations VALUES (99, 'x')"
check "the reader can SELECT every table" "t" -U t_reader <<'SQL'
SELECT (SELECT count(*) FROM callhook.calls) > 0 AND (SELECT count(*) FROM callhook.deliveries) > 0
   AND (SELECT count(*) FROM callhook.migrations) >= 0 AND (SELECT count(*) FROM callhook.transcript_segments) > 0;
SQL
check_fails "the reader cannot INSERT" "permission denied for table calls" -U t_reader \
	-c "INSERT INTO callhook.calls (source, vendor, external_id) VALUES ('a', 'b', 'c')"
check_fails "the reader cannot call ingest" "permission denied for function ingest" -U t_reader \
	-c "SELECT * FROM callhook.ingest('a','b','c','POST',NULL,NULL,NULL,NULL,'k','stored',NULL,NULL,NULL)"
q -c 'CREATE VIEW callhook.t_report AS SELECT status, count(*) FROM callhook.calls GROUP BY status' >/dev/null
check "the reader can SELECT a view created later (default privileges)" "t" -U t_reader \
	-c 'SELECT count(*) > 0 FROM callhook.t_report'
check_fails "a role outside both groups cannot read" "permission denied for schema callhook" -U t_nobody \
	-c 'SELECT count(*) FROM callhook.calls'
check_fails "a role outside both groups cannot call route_call" "permission denied for" -U t_nobody \
	-c "SELECT callhook.route_call('a', 'b', 'c', 'd')"

done_testing
