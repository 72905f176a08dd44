#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2317  # ok takes code in single quotes; wait_until calls functions
# Report views (sql/003_reports.sql) and `callhook report`: loads tests/fixtures/reports/data.sql through
# callhook.ingest() as the writer role, compares every view with rows written down here, runs the report
# command as a login role granted only callhook_reader in text, CSV and HTML, and renders the HTML page in
# headless Chromium (its screenshot is kept as tests/out/reports.png). Prints TAP.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

setup_tmp
prepare_callhook
pg_start || bail_out "PostgreSQL starts"

# The reports run as callhook_r (a login role with callhook_reader only); migrate as the superuser.
cat >"$T/callhook.conf" <<EOF
[database]
conninfo = host=$T/pg dbname=callhook user=callhook_r
migrate_conninfo = host=$T/pg dbname=callhook user=postgres
EOF
callhook_migrate || bail_out "callhook migrate succeeds"
like "$(cat "$T/migrate.log")" 'applied 003_reports' "migrate applies 003_reports"
_psql callhook -c "create role callhook_r login; grant callhook_reader to callhook_r" >/dev/null

# as_reader QUERY / as_writer FILE: psql -At as the reader role (UTC) / run a file as the writer role.
as_reader() {
	PGOPTIONS='-c timezone=UTC -c client_min_messages=warning' \
		psql -X -q -At -v ON_ERROR_STOP=1 -h "$T/pg" -U callhook_r -d callhook -c "$1" 2>&1 || true
}
as_writer() {
	PGOPTIONS='-c client_min_messages=warning' \
		psql -X -q -At -v ON_ERROR_STOP=1 -h "$T/pg" -U callhook_w -d callhook -f "$1" >/dev/null
}

# --- the views ----------------------------------------------------------------------------------------
is "$(sql "select count(*), count(obj_description(format('callhook.%I', viewname)::regclass, 'pg_class'))
	from pg_views where schemaname = 'callhook' and viewname like 'report\_%'")" "7|7" \
	"seven report views, each with a COMMENT"
is "$(sql "select string_agg(viewname, ',' order by viewname) from pg_views where schemaname = 'callhook'
	and viewname like 'report\_%' and has_table_privilege('callhook_reader', format('callhook.%I', viewname), 'select')")" \
	"report_attribution,report_daily_calls,report_messages_daily,report_missed_not_called_back,report_trackers,report_usage,report_voicemails_waiting" \
	"callhook_reader may select every report view"
is "$(as_reader "select count(*) from callhook.report_daily_calls")" "0" "the views work on an empty schema"

as_writer "$REPO/tests/fixtures/reports/data.sql" || bail_out "the data set loads through callhook.ingest as the writer"
is "$(sql "select count(*) from calls")|$(sql "select count(*) from deliveries")" "10|15" "the data set is stored"

is "$(as_reader "select * from callhook.report_daily_calls order by day, source, vendor, status")" \
"2024-05-01|acme-cr|callrail|completed|3|3|1.000|90.0
2024-05-01|acme-cr|callrail|missed|1|0|0.000|
2024-05-01|acme-ct|calltracker|missed|1|0|0.000|
2024-05-02|acme-cr|callrail|completed|1|1|1.000|300.0
2024-05-02|acme-ct|calltracker|completed|1|1|1.000|45.0
2024-05-02|acme-ct|calltracker|ringing|1|0|0.000|
2024-05-02|acme-ct|calltracker|voicemail|1|0|0.000|" \
	"report_daily_calls: calls per day, source, vendor and status, test call left out"

is "$(as_reader "select started_at, source, caller_number, caller_name, tracking_number, tracker_name, status
	from callhook.report_missed_not_called_back")" \
'2024-05-01 08:00:00+00|acme-ct|555-000-1003|Carol "CJ" Smith, Jr.|+15559990002|Web & "Main" <site>|missed
2024-05-02 09:30:00+00|acme-ct|+15550001005|Dave Voicemail|+15559990002|Web & "Main" <site>|voicemail' \
	"report_missed_not_called_back: called-back, ringing, outbound and test calls left out, oldest first"
is "$(as_reader "select bool_and(age > interval '900 days' and age = justify_hours(date_trunc('second', now() - started_at)))
	from callhook.report_missed_not_called_back")" "t" "report_missed_not_called_back: age is now - started_at"
is "$(as_reader "select string_agg(caller_name, ';') from callhook.missed_not_called_back('48 hours')")" \
	"Dave Voicemail" "missed_not_called_back('48 hours'): the caller who called again 28 hours later is no longer listed"
is "$(as_reader "select string_agg(caller_name, ';') from callhook.missed_not_called_back('30 minutes')")" \
	'Carol "CJ" Smith, Jr.;Bob Missed;Dave Voicemail' \
	"missed_not_called_back('30 minutes'): the call returned after an hour is listed again"

is "$(as_reader "select * from callhook.report_attribution order by calls desc, traffic_source, utm_campaign")" \
'Google Ads|cpc|spring|google|cpc|spring|3|2|2|200.00
Organic|organic|||||3|1|1|0
|||||<script>alert(1)</script>|1|0|0|0' \
	"report_attribution: inbound calls by attribution, test call (value 999) left out"
is "$(as_reader "select * from callhook.report_attribution('2024-05-02', '2024-05-02', 'acme-cr')")" \
	"Google Ads|cpc|spring|google|cpc|spring|1|0|1|50" "report_attribution(since, until, source) limits days and source"

is "$(as_reader "select * from callhook.report_trackers order by calls desc")" \
'acme-ct|TRK2|Web & "Main" <site>|+15559990002|4|1|0.250|1|37.5|2024-05-02 16:00:00+00
acme-cr|TRK1|Google Ads line|+15559990001|3|2|0.667|2|210.0|2024-05-02 14:00:00+00' \
	"report_trackers: calls, answered, share, first calls, average duration, latest call per tracker"

is "$(as_reader "select * from callhook.report_messages_daily order by day, source, direction")" \
"2024-05-01|acme-cr|inbound|1
2024-05-01|acme-cr|outbound|1
2024-05-02|acme-cr|inbound|2
2024-05-02|acme-ct|inbound|1" "report_messages_daily: UTC days (09:00+02:00 is 05-02), test message left out"

is "$(as_reader "select * from callhook.report_usage order by period_start")" \
"2024-04-01|2024-04-30|acme-ct|4|120|50
2024-05-01|2024-05-31|acme-ct|3|40|7" "report_usage: numbers, minutes and messages per period, test usage left out"

is "$(as_reader "select received_at, source, caller_number, caller_name, tracking_number, tracker_name, duration_s,
	replace(transcript, E'\n', '\\n'), recording_url, call_external_id, called_back_at, waiting
	from callhook.report_voicemails_waiting")" \
'2024-05-02 09:31:00+00|acme-ct|+15550001005|Dave Voicemail|+15559990002|Web & "Main" <site>|28|Please call me back,\nre: order #42|https://rec.example/v1.mp3|C5||t
2024-05-01 18:00:00+00|acme-cr|+15550001008||+15559990001|||Hi, it'"'"'s Eve|||2024-05-01 19:00:00+00|f' \
	"report_voicemails_waiting: newest first, joined to the call, returned one not waiting, test voicemail left out"

# --- callhook report: list, text, CSV, errors ---------------------------------------------------------
# report ARGS...: run `callhook report ARGS` as the reader; sets OUT (stdout), ERR (stderr) and RC.
report() {
	callhook_run -c "$T/callhook.conf" report "$@" >"$T/report.out" 2>"$T/report.err" && RC=0 || RC=$?
	OUT=$(cat "$T/report.out")
	ERR=$(cat "$T/report.err")
}

report
is "$RC" 0 "report without NAME exits 0"
is "$(grep -oE '^  [a-z_]+' <<<"$OUT" | tr -d ' ' | tr '\n' ' ')" \
	"daily_calls missed_not_called_back attribution trackers messages_daily usage voicemails_waiting " \
	"report without NAME lists the seven reports"
is "$(grep -c '^  [a-z_]\+  *[a-z].\{20,\}' <<<"$OUT")" 7 "each listed report has a one-line description"

report usage
is "$RC|$OUT" "0|period_start  period_end  source   numbers  minutes  sms
------------  ----------  -------  -------  -------  ---
2024-04-01    2024-04-30  acme-ct        4      120   50
2024-05-01    2024-05-31  acme-ct        3       40    7
(2 rows)" "report usage: aligned text columns, numbers right-aligned"

report daily_calls --since 2024-05-02 --source acme-ct
is "$RC|$OUT" "0|day         source   vendor       status     calls  answered  answer_rate  avg_talk_s
----------  -------  -----------  ---------  -----  --------  -----------  ----------
2024-05-02  acme-ct  calltracker  completed      1         1        1.000        45.0
2024-05-02  acme-ct  calltracker  ringing        1         0        0.000
2024-05-02  acme-ct  calltracker  voicemail      1         0        0.000
(3 rows)" "report daily_calls --since --source: filtered, no trailing spaces for empty cells"

report --source acme-cr --until 2024-05-01 report_daily_calls
is "$RC|$(tail -n 1 <<<"$OUT")|$(grep -c acme-ct <<<"$OUT" || true)" "0|(2 rows)|0" \
	"report --until --source before NAME, and the view's full name"

report voicemails_waiting --format text
like "$OUT" 'Please call me back, re: order #42' "text output shows a line break in a value as a space"

report missed_not_called_back --format csv
is "$RC|$(head -n 2 <<<"$OUT" | sed 's/,[^,]*days[^,]*\r$/,AGE\r/')" \
	"0|started_at,source,caller_number,caller_name,tracking_number,tracker_name,status,age"$'\r'"
2024-05-01 08:00:00+00,acme-ct,555-000-1003,\"Carol \"\"CJ\"\" Smith, Jr.\",+15559990002,\"Web & \"\"Main\"\" <site>\",missed,AGE"$'\r' \
	"CSV quotes a value with a comma and quotes, doubling the quotes"

report voicemails_waiting --format csv
want=$(printf '%s\r\n' \
	"received_at,source,caller_number,caller_name,tracking_number,tracker_name,duration_s,transcript,recording_url,call_external_id,called_back_at,waiting" \
	"2024-05-02 09:31:00+00,acme-ct,+15550001005,Dave Voicemail,+15559990002,\"Web & \"\"Main\"\" <site>\",28,\"Please call me back,
re: order #42\",https://rec.example/v1.mp3,C5,,true" \
	"2024-05-01 18:00:00+00,acme-cr,+15550001008,,+15559990001,,,\"Hi, it's Eve\",,,2024-05-01 19:00:00+00,false" | od -An -c)
is "$(od -An -c <"$T/report.out")" "$want" "CSV: CRLF line ends, a value with LF quoted, NULL empty, booleans true/false"

report all --format csv
is "$RC" 2 "report all --format csv is refused (CSV holds one table)"
report no_such_report
is "$RC" 2 "an unknown report name exits 2"
like "$ERR" 'unknown report "no_such_report"' "an unknown report name is named in the error"
report usage --since 'not a date'
is "$RC" 1 "an invalid --since exits 1"
like "$ERR" 'invalid --since or --until: invalid input syntax for type date' "an invalid --since says why"
report usage --format pdf
is "$RC" 2 "an unknown --format exits 2"
sed 's/user=callhook_r$/user=callhook_w/' "$T/callhook.conf" >"$T/writer.conf"
callhook_run -c "$T/writer.conf" report usage >/dev/null 2>"$T/report.err" && RC=0 || RC=$?
is "$RC|$(grep -c 'may not read the reports.*granted callhook_reader' "$T/report.err" || true)" "1|1" \
	"as the writer role, report exits 1 and says to use a role granted callhook_reader"

# --- HTML -----------------------------------------------------------------------------------------------
report --format html
html=$OUT
is "$RC" 0 "report --format html exits 0"
cp "$T/report.out" "$T/reports.html"
is "$(grep -o '<section id="[a-z_]*"' <<<"$html" | tr '\n' ' ')" \
	'<section id="daily_calls" <section id="missed_not_called_back" <section id="attribution" <section id="trackers" <section id="messages_daily" <section id="usage" <section id="voicemails_waiting" ' \
	"the HTML page has every report"
is "$(grep -o '<svg' <<<"$html" | wc -l)" 2 "the HTML page has two inline SVG charts"
is "$(grep -oE '<title>2024-05-0[12] [a-z_]+: [0-9]+</title>' <<<"$html" | tr '\n' ' ')" \
	"<title>2024-05-01 completed: 3</title> <title>2024-05-01 missed: 2</title> <title>2024-05-02 completed: 2</title> <title>2024-05-02 voicemail: 1</title> <title>2024-05-02 ringing: 1</title> " \
	"calls per day are stacked by status"
is "$(grep -oE '<title>[^<]*: [0-9]+</title></rect><text x="[0-9.]+" y="[0-9.]+">[0-9]+' <<<"$html" |
	sed -E 's/<\/title>.*>/=/; s/<title>//' | tr '\n' ' ')" \
	"Google Ads: 3=3 Organic: 3=3 (none): 1=1 " "calls by traffic source are horizontal bars"
like "$html" 'Web &amp; &quot;Main&quot; &lt;site&gt;' "HTML escapes &, quotes and angle brackets in values"
like "$html" '&lt;script&gt;alert\(1\)&lt;/script&gt;' "a hostile value is shown escaped"
unlike "$html" '(<script|<site>)' "no script element and no unescaped value markup"
unlike "$html" '(src|href|xlink:href|action)[[:space:]]*=[[:space:]]*["'"'"']?[[:space:]]*(https?:)?//' \
	"no reference to another host: no http(s) src/href"
unlike "$html" '(@import|url\(|<link|<img|<iframe|<object|<embed)' "no external stylesheet, font, image or frame"
like "$html" '>https://rec\.example/v1\.mp3<' "a URL in the data stays plain text"
if command -v python3 >/dev/null 2>&1; then
	balance=$(python3 - "$T/reports.html" <<-'EOF'
		import sys
		from html.parser import HTMLParser
		VOID = {"meta", "br", "hr", "img", "input", "link", "line", "rect", "path", "circle"}
		class P(HTMLParser):
		    def __init__(self):
		        super().__init__()
		        self.stack, self.errors = [], []
		    def handle_starttag(self, tag, attrs):
		        if tag not in VOID:
		            self.stack.append(tag)
		    def handle_startendtag(self, tag, attrs):
		        pass
		    def handle_endtag(self, tag):
		        if tag in VOID:
		            return
		        if not self.stack or self.stack[-1] != tag:
		            self.errors.append("unexpected </%s> at %s (open: %s)" % (tag, self.getpos(), self.stack[-3:]))
		        else:
		            self.stack.pop()
		p = P()
		p.feed(open(sys.argv[1], encoding="utf-8").read())
		p.close()
		print("; ".join(p.errors) or ("unclosed: %s" % p.stack if p.stack else "balanced"))
	EOF
	)
	is "$balance" "balanced" "the HTML page's elements are properly nested and closed"
fi

report trackers --format html
is "$RC|$(grep -c '<section' <<<"$OUT")|$(grep -c '<svg' <<<"$OUT" || true)|$(tail -n 1 <<<"$OUT")" "0|1|0|</html>" \
	"report trackers --format html: one complete page with that table alone"
report daily_calls --format html --source acme-ct
is "$RC|$(grep -c '<section' <<<"$OUT")|$(grep -oE '<title>2024-05-0[12] [a-z_]+: [0-9]+</title>' <<<"$OUT" | tr '\n' ' ')" \
	"0|1|<title>2024-05-01 missed: 1</title> <title>2024-05-02 completed: 1</title> <title>2024-05-02 voicemail: 1</title> <title>2024-05-02 ringing: 1</title> " \
	"report daily_calls --format html --source: its table and its chart, filtered"

# --- the page in a browser --------------------------------------------------------------------------------
chromium_bin=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium_bin" ]; then
	_tap ok "the HTML page renders in headless Chromium # SKIP chromium is not installed (apt-get install chromium)"
else
	out_dir=$REPO/tests/out
	mkdir -p "$out_dir"
	shot=$out_dir/reports.png
	rm -f "$shot"
	chmod 0644 "$T/reports.html"
	# Its own session, so whatever Chromium leaves behind is stopped by its process group.
	setsid "$chromium_bin" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$T/chromium" --screenshot="$shot" --window-size=1200,1600 \
		"file://$T/reports.html" >"$T/chromium.log" 2>&1 </dev/null &
	cpid=$!
	wait_until 45 _not_alive "$cpid" || diag "chromium did not finish within 45s"
	kill -KILL -- "-$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
	size=$(stat -c %s "$shot" 2>/dev/null || echo 0)
	ok '[ "$size" -gt 30000 ]' "Chromium renders the page to a non-trivial screenshot ($size bytes)"
	is "$(od -An -tx1 -j 16 -N 8 "$shot" 2>/dev/null | tr -d ' \n')" "000004b000000640" \
		"the screenshot is a 1200x1600 PNG"
	diag "screenshot: $shot"
	[ "$size" -gt 30000 ] || diag "$(tail -n 20 "$T/chromium.log")"
fi

done_testing
