/*
 * callhook report: runs the report views of sql/003_reports.sql and prints them as aligned text,
 * RFC 4180 CSV, or one self-contained HTML page with inline SVG charts (no scripts, fonts or images
 * from elsewhere).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>

#include "core/conf.h"
#include "core/db.h"
#include "cli/report.h"

enum format { FMT_TEXT, FMT_CSV, FMT_HTML };
enum chart { CHART_NONE, CHART_DAILY_STATUS, CHART_TRAFFIC_SOURCE };

/* Every report query takes the same parameters: $1 since and $2 until (dates, inclusive), $3 source. */
#define NPARAMS 3
#define SINCE_UNTIL(expr) \
	" ($1::date IS NULL OR " expr " >= $1::date) AND ($2::date IS NULL OR " expr " <= $2::date)"
#define SOURCE_IS " ($3::text IS NULL OR source = $3::text)"

struct report {
	const char *name; /* command-line name; the view is callhook.report_<name> */
	const char *title;
	const char *doc; /* one line for the list and the HTML page */
	const char *sql;
	enum chart chart;
};

static const struct report reports[] = {
	{ "daily_calls", "Calls per day",
	    "calls per UTC day, source, vendor and status, with the answered share and average talk time",
	    "SELECT day, source, vendor, status, calls, answered, answer_rate, avg_talk_s"
	    " FROM callhook.report_daily_calls WHERE" SINCE_UNTIL("day") " AND" SOURCE_IS
									 " ORDER BY day, source, vendor, status",
	    CHART_DAILY_STATUS },
	{ "missed_not_called_back", "Missed calls not called back",
	    "missed and voicemail calls with no call back within 24 hours, oldest first",
	    "SELECT started_at, source, caller_number, caller_name, tracking_number, tracker_name, status, age"
	    " FROM callhook.report_missed_not_called_back"
	    " WHERE" SINCE_UNTIL(
		"pg_catalog.timezone('UTC', started_at)::date") " AND" SOURCE_IS
								" ORDER BY started_at, source, caller_number",
	    CHART_NONE },
	{ "attribution", "Calls by attribution",
	    "inbound calls by traffic source, medium, campaign and UTM tags: first-time callers, answered,"
	    " value",
	    "SELECT traffic_source, medium, campaign, utm_source, utm_medium, utm_campaign, calls,"
	    " first_time_callers, answered, value"
	    " FROM callhook.report_attribution($1::date, $2::date, $3::text)"
	    " ORDER BY calls DESC, traffic_source, medium, campaign, utm_source, utm_medium, utm_campaign",
	    CHART_TRAFFIC_SOURCE },
	{ "trackers", "Tracking numbers",
	    "inbound calls per tracker and tracking number: answered share, first calls, duration, latest call",
	    "SELECT source, tracker_external_id, tracker_name, tracking_number, calls, answered, answer_rate,"
	    " first_calls, avg_duration_s, last_call_at"
	    " FROM callhook.report_trackers($1::date, $2::date, $3::text)"
	    " ORDER BY calls DESC, source, tracker_name, tracking_number, tracker_external_id",
	    CHART_NONE },
	{ "messages_daily", "Text messages per day", "text messages per UTC day, source and direction",
	    "SELECT day, source, direction, messages"
	    " FROM callhook.report_messages_daily WHERE" SINCE_UNTIL("day") " AND" SOURCE_IS
									    " ORDER BY day, source, direction",
	    CHART_NONE },
	{ "usage", "Billing usage", "phone numbers, minutes and text messages per billing period and source",
	    "SELECT period_start, period_end, source, numbers, minutes, sms"
	    " FROM callhook.report_usage"
	    " WHERE ($1::date IS NULL OR period_end >= $1::date)"
	    " AND ($2::date IS NULL OR period_start <= $2::date)"
	    " AND" SOURCE_IS " ORDER BY period_start, period_end, source",
	    CHART_NONE },
	{ "voicemails_waiting", "Voicemails",
	    "every voicemail, newest first, with its transcript and whether it still waits for a call back",
	    "SELECT received_at, source, caller_number, caller_name, tracking_number, tracker_name, duration_s,"
	    " transcript, recording_url, call_external_id, called_back_at, waiting"
	    " FROM callhook.report_voicemails_waiting"
	    " WHERE" SINCE_UNTIL(
		"pg_catalog.timezone('UTC', received_at)::date") " AND" SOURCE_IS
								 " ORDER BY received_at DESC, source, call_external_id",
	    CHART_NONE },
};
#define NREPORTS (sizeof(reports) / sizeof(reports[0]))

/* Calls per day and status for the stacked bars: one row per (day, status), empty days included. */
static const char chart_daily_sql[] =
    "WITH r AS (SELECT day, coalesce(status, 'unknown') AS status, sum(calls)::bigint AS calls"
    " FROM callhook.report_daily_calls WHERE" SINCE_UNTIL(
	"day") " AND" SOURCE_IS
	       " GROUP BY 1, 2)"
	       " SELECT g.d::date::text, r.status, r.calls"
	       " FROM pg_catalog.generate_series((SELECT min(day) FROM r)::timestamp,"
	       " (SELECT max(day) FROM r)::timestamp, interval '1 day') AS g(d)"
	       " LEFT JOIN r ON r.day = g.d::date ORDER BY 1, 2";

/* Inbound calls per traffic source: the 15 largest, then the rest as "(other)". */
static const char chart_traffic_sql[] =
    "WITH t AS (SELECT coalesce(traffic_source, '(none)') AS ts, sum(calls)::bigint AS calls"
    " FROM callhook.report_attribution($1::date, $2::date, $3::text) GROUP BY 1),"
    " r AS (SELECT ts, calls, row_number() OVER (ORDER BY calls DESC, ts) AS rn FROM t)"
    " SELECT CASE WHEN rn <= 15 THEN ts ELSE '(other)' END, sum(calls)::bigint, min(rn)"
    " FROM r GROUP BY 1 ORDER BY 3";

struct opts {
	const char *name;
	const char *since;
	const char *until;
	const char *source;
	enum format fmt;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: callhook [-c FILE] report [NAME|all] [--since DATE] [--until DATE] [--source NAME]\n"
	    "                                [--format text|csv|html]\n"
	    "  NAME            a report below, or all (without NAME: list them; with --format html: all)\n"
	    "  --since DATE    from this UTC day on (any PostgreSQL date, e.g. 2024-05-01 or today)\n"
	    "  --until DATE    up to and including this UTC day\n"
	    "  --source NAME   only this [source NAME] of callhook.conf\n"
	    "  --format FMT    text (aligned columns, the default), csv (RFC 4180, one report) or html\n"
	    "                  (one self-contained page with charts)\n");
}

static int
parse_format(const char *s, enum format *fmt)
{
	if (!strcmp(s, "text"))
		*fmt = FMT_TEXT;
	else if (!strcmp(s, "csv"))
		*fmt = FMT_CSV;
	else if (!strcmp(s, "html"))
		*fmt = FMT_HTML;
	else {
		fprintf(stderr, "callhook report: unknown format \"%s\" (expected text, csv or html)\n", s);
		return 2;
	}
	return -1;
}

/* Fills `o` from the arguments; returns -1 to go on, or the exit status. */
static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "source", required_argument, NULL, 'S' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, rc;

	optind = 0; /* GNU getopt: start over, argv[0] being "report" */
	while ((ch = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o->since = optarg; break;
		case 'u': o->until = optarg; break;
		case 'S': o->source = optarg; break;
		case 'f':
			if ((rc = parse_format(optarg, &o->fmt)) != -1)
				return rc;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc)
		o->name = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "callhook report: unexpected argument: %s\n", argv[optind]);
		return 2;
	}
	return -1;
}

/* Borrowing lookup: the report called `name` (with or without the "report_" of its view). */
static const struct report *
find_report(const char *name)
{
	size_t i;

	if (!strncmp(name, "report_", 7))
		name += 7;
	for (i = 0; i < NREPORTS; i++)
		if (!strcmp(reports[i].name, name))
			return &reports[i];
	return NULL;
}

static void
csv_field(FILE *fp, const char *s)
{
	if (s == NULL)
		return;
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, fp);
		return;
	}
	putc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			putc('"', fp);
		putc(*s, fp);
	}
	putc('"', fp);
}

static void
list_reports(enum format fmt)
{
	size_t i;

	if (fmt == FMT_CSV) {
		fputs("name,title,description\r\n", stdout);
		for (i = 0; i < NREPORTS; i++) {
			printf("%s,", reports[i].name);
			csv_field(stdout, reports[i].title);
			putchar(',');
			csv_field(stdout, reports[i].doc);
			fputs("\r\n", stdout);
		}
		return;
	}
	printf("reports (callhook report NAME, or all; views callhook.report_NAME):\n");
	for (i = 0; i < NREPORTS; i++)
		printf("  %-24s %s\n", reports[i].name, reports[i].doc);
}

/* ------------------------------------------------------------------------------------------------ */
/* Database */

static bool
exec_command(PGconn *conn, const char *sql, const char *what)
{
	PGresult *r = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	ExecStatusType s = PQresultStatus(r);
	bool ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "callhook report: %s: %s", what, PQerrorMessage(conn));
	PQclear(r);
	return ok;
}

/* The report session: times in UTC and ISO styles, whatever the server's defaults. */
static const char *const report_settings[] = { "TimeZone", "UTC", "DateStyle", "ISO", "IntervalStyle",
	"postgres", NULL };

struct pg_conn *
report_connect(const char *conninfo, const char *app_name)
{
	/* client_encoding: the output is UTF-8 whatever the conninfo says */
	const struct db_params p = { .conninfo = conninfo,
		.app = app_name,
		.connect_timeout_s = 10,
		.client_encoding = "UTF8",
		.settings = report_settings };
	char why[512];
	PGconn *conn = db_connect(&p, why, sizeof(why));

	if (conn == NULL)
		fprintf(stderr, "callhook: could not connect to the database: %s", why);
	return conn;
}

bool
report_reset(struct pg_conn *conn)
{
	PQreset(conn);
	return PQstatus(conn) == CONNECTION_OK && db_session(conn, report_settings);
}

/* Runs `sql` with the filter parameters; NULL (after saying why on stderr) on failure. */
static PGresult *
run_query(PGconn *conn, const char *sql, const char *const *params, const char *what)
{
	PGresult *r = PQexecParams(conn, sql, NPARAMS, NULL, params, NULL, NULL, 0);
	const char *state;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "callhook report: %s: %s", what, PQerrorMessage(conn));
		state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (state != NULL && !strcmp(state, "42501")) /* insufficient_privilege */
			fprintf(stderr,
			    "callhook report: the role of [database] conninfo may not read the "
			    "reports: use a configuration (-c FILE) whose conninfo logs in as a role granted "
			    "callhook_reader\n");
		PQclear(r);
		return NULL;
	}
	return r;
}

/*
 * Checks --since and --until once, and turns them into ISO dates ("today" is then the same day for
 * every report). params[0] and params[1] point into `buf` afterwards, or stay NULL.
 */
static bool
normalize_dates(PGconn *conn, const char **params, char buf[2][32])
{
	PGresult *r =
	    PQexecParams(conn, "SELECT $1::date::text, $2::date::text", 2, NULL, params, NULL, NULL, 0);
	int i;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "callhook report: invalid --since or --until: %s",
		    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) ?
			PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) :
			PQerrorMessage(conn));
		if (PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY))
			fputc('\n', stderr);
		PQclear(r);
		return false;
	}
	for (i = 0; i < 2; i++) {
		if (params[i] == NULL)
			continue;
		snprintf(buf[i], sizeof(buf[i]), "%s", PQgetvalue(r, 0, i));
		params[i] = buf[i];
	}
	PQclear(r);
	return true;
}

/* ------------------------------------------------------------------------------------------------ */
/* Values */

static bool
is_numeric_type(Oid t)
{
	switch (t) {
	/* clang-format off */
	case 20: case 21: case 23: case 26:   /* int8, int2, int4, oid */
	case 700: case 701: case 1700:        /* float4, float8, numeric */
		/* clang-format on */
		return true;
	}
	return false;
}

/* The value to show, or NULL for SQL NULL; booleans as yes/no (true/false in CSV). Borrowed. */
static const char *
cell_value(const PGresult *r, int row, int col, enum format fmt)
{
	const char *v;

	if (PQgetisnull(r, row, col))
		return NULL;
	v = PQgetvalue(r, row, col);
	if (PQftype(r, col) == 16) /* bool */
		return fmt == FMT_CSV ? (*v == 't' ? "true" : "false") : (*v == 't' ? "yes" : "no");
	return v;
}

/* Bytes in the UTF-8 sequence that starts with `c` (1 for a stray continuation byte). */
static size_t
utf8_len(unsigned char c)
{
	return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

#define CELL_MAX_CHARS 48
#define CELL_BUF (CELL_MAX_CHARS * 4 + 8)

/*
 * Copies `s` into `out` (CELL_BUF bytes) for a terminal or a chart label: control characters (C0, DEL
 * and C1) become spaces, and a value longer than `max` (≤ CELL_MAX_CHARS) characters is cut to
 * max - 1 of them and "…". Returns the width in characters.
 */
static size_t
clip(const char *s, size_t max, char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t keep = utf8_chars(s) > max ? max - 1 : max, n = 0, o = 0, len, i;

	while (*p != '\0' && n < keep) {
		len = utf8_len(*p);
		if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)) {
			out[o++] = ' ';
			p += *p == 0xc2 ? 2 : 1;
		} else {
			for (i = 0; i < len && *p != '\0'; i++)
				out[o++] = (char)*p++;
		}
		n++;
	}
	if (*p != '\0') {
		memcpy(out + o, "\xe2\x80\xa6", 3);
		o += 3;
		n++;
	}
	out[o] = '\0';
	return n;
}

/* ------------------------------------------------------------------------------------------------ */
/* Text */

static void
text_padded(const char *s, size_t width, size_t target, bool right, bool last)
{
	size_t i;

	if (right)
		for (i = width; i < target; i++)
			putchar(' ');
	fputs(s, stdout);
	if (!right && !last)
		for (i = width; i < target; i++)
			putchar(' ');
	if (!last)
		fputs("  ", stdout);
}

static void
text_row(const PGresult *r, int row, const size_t *widths)
{
	char buf[CELL_BUF];
	const char *v;
	int nf = PQnfields(r), c, last = 0;
	size_t w;

	/* Empty trailing cells are not padded: no line ends in spaces. */
	for (c = 0; c < nf; c++) {
		v = row < 0 ? PQfname(r, c) : cell_value(r, row, c, FMT_TEXT);
		if (v != NULL && *v != '\0')
			last = c;
	}
	for (c = 0; c <= last; c++) {
		v = row < 0 ? PQfname(r, c) : cell_value(r, row, c, FMT_TEXT);
		w = clip(v ? v : "", CELL_MAX_CHARS, buf);
		text_padded(buf, w, widths[c], is_numeric_type(PQftype(r, c)), c == last);
	}
	putchar('\n');
}

/* Aligned columns: a header, a rule, the rows (values cut at CELL_MAX_CHARS), and the row count. */
static bool
print_text(const PGresult *r)
{
	char buf[CELL_BUF];
	int nf = PQnfields(r), nt = PQntuples(r), row, c;
	size_t *widths = calloc((size_t)nf + 1, sizeof(*widths)), w, i;
	const char *v;

	if (widths == NULL)
		return false;
	for (c = 0; c < nf; c++) {
		widths[c] = clip(PQfname(r, c), CELL_MAX_CHARS, buf);
		for (row = 0; row < nt; row++) {
			v = cell_value(r, row, c, FMT_TEXT);
			w = clip(v ? v : "", CELL_MAX_CHARS, buf);
			if (w > widths[c])
				widths[c] = w;
		}
	}
	text_row(r, -1, widths);
	for (c = 0; c < nf; c++) {
		for (i = 0; i < widths[c]; i++)
			putchar('-');
		fputs(c == nf - 1 ? "\n" : "  ", stdout);
	}
	for (row = 0; row < nt; row++)
		text_row(r, row, widths);
	printf("(%d row%s)\n", nt, nt == 1 ? "" : "s");
	free(widths);
	return true;
}

/* ------------------------------------------------------------------------------------------------ */
/* CSV (RFC 4180: a header line, CRLF line ends, fields with a comma, quote, CR or LF quoted) */

static void
print_csv(const PGresult *r)
{
	int nf = PQnfields(r), nt = PQntuples(r), row, c;

	for (c = 0; c < nf; c++) {
		if (c > 0)
			putchar(',');
		csv_field(stdout, PQfname(r, c));
	}
	fputs("\r\n", stdout);
	for (row = 0; row < nt; row++) {
		for (c = 0; c < nf; c++) {
			if (c > 0)
				putchar(',');
			csv_field(stdout, cell_value(r, row, c, FMT_CSV));
		}
		fputs("\r\n", stdout);
	}
}

/* ------------------------------------------------------------------------------------------------ */
/* HTML */

/* Writes `s` escaped for HTML text and attributes; control characters but TAB, LF, CR become spaces. */
static void
html_escape(const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '&': fputs("&amp;", stdout); break;
		case '<': fputs("&lt;", stdout); break;
		case '>': fputs("&gt;", stdout); break;
		case '"': fputs("&quot;", stdout); break;
		case '\'': fputs("&#39;", stdout); break;
		default:
			if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r')
				putchar(' ');
			else
				putchar(*s);
		}
	}
}

static const char html_style[] =
    "body{font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,Helvetica,Arial,sans-serif;"
    "margin:24px 32px;color:#1f2328;background:#fff}\n"
    "h1{font-size:22px;margin:0 0 4px}\n"
    "h2{font-size:18px;margin:36px 0 2px;padding-bottom:4px;border-bottom:1px solid #d0d7de}\n"
    "p{margin:4px 0 10px}.meta,.doc,.count{color:#59636e}.count{font-size:12px}\n"
    "nav a{margin-right:14px;color:#0969da;text-decoration:none}\n"
    "table{border-collapse:collapse;font-size:13px;margin:6px 0 2px}\n"
    "th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}\n"
    "th{background:#f6f8fa;font-weight:600}\n"
    "td{white-space:nowrap}td.long{white-space:pre-wrap;overflow-wrap:break-word;min-width:16em;"
    "max-width:32em}\n"
    ".scroll{overflow-x:auto;max-width:100%}\n"
    "tbody tr:nth-child(even) td{background:#f9fafb}\n"
    "th.n,td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    ".empty{color:#59636e;font-style:italic}\n"
    "figure{margin:10px 0 14px}figcaption{color:#59636e;font-size:12px}\n"
    "svg{display:block;max-width:100%;height:auto}\n"
    "svg text{font:11px system-ui,sans-serif;fill:#424a53}\n"
    "svg .grid{stroke:#e5e7eb;stroke-width:1}svg .axis{stroke:#8c959f;stroke-width:1}\n";

static void
html_head(const struct opts *o, const char *const *params, bool many)
{
	char when[64];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime_r(&now, &tm));
	printf(
	    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<title>callhook reports</title>\n<style>\n%s</style>\n</head>\n<body>\n"
	    "<h1>callhook reports</h1>\n<p class=\"meta\">Generated %s",
	    html_style, when);
	if (params[0] != NULL) {
		fputs(" · since ", stdout);
		html_escape(params[0]);
	}
	if (params[1] != NULL) {
		fputs(" · until ", stdout);
		html_escape(params[1]);
	}
	if (o->source != NULL) {
		fputs(" · source ", stdout);
		html_escape(o->source);
	}
	fputs(" · test calls left out · days in UTC</p>\n", stdout);
	if (!many)
		return;
	fputs("<nav>", stdout);
	for (i = 0; i < NREPORTS; i++)
		printf("<a href=\"#%s\">%s</a>", reports[i].name, reports[i].title);
	fputs("</nav>\n", stdout);
}

static void
html_table(const PGresult *r)
{
	int nf = PQnfields(r), nt = PQntuples(r), row, c;
	const char *v;

	if (nt == 0) {
		fputs("<p class=\"empty\">No rows.</p>\n", stdout);
		return;
	}
	fputs("<div class=\"scroll\"><table>\n<thead><tr>", stdout);
	for (c = 0; c < nf; c++) {
		fputs(is_numeric_type(PQftype(r, c)) ? "<th class=\"n\">" : "<th>", stdout);
		html_escape(PQfname(r, c));
		fputs("</th>", stdout);
	}
	fputs("</tr></thead>\n<tbody>\n", stdout);
	for (row = 0; row < nt; row++) {
		fputs("<tr>", stdout);
		for (c = 0; c < nf; c++) {
			v = cell_value(r, row, c, FMT_HTML);
			if (is_numeric_type(PQftype(r, c)))
				fputs("<td class=\"n\">", stdout);
			else if (v != NULL && (strlen(v) > 40 || strchr(v, '\n') != NULL))
				fputs("<td class=\"long\">", stdout); /* wraps; short values never do */
			else
				fputs("<td>", stdout);
			html_escape(v);
			fputs("</td>", stdout);
		}
		fputs("</tr>\n", stdout);
	}
	printf("</tbody>\n</table></div>\n<p class=\"count\">%d row%s</p>\n", nt, nt == 1 ? "" : "s");
}

/* ------------------------------------------------------------------------------------------------ */
/* Charts (inline SVG in a 900-unit-wide viewBox, scaled by CSS) */

#define SVG_W 900.0

/* A step of 1, 2 or 5 × 10^k that divides 0..max into at most 4 intervals. */
static long long
nice_step(long long max)
{
	long long base = 1;

	for (;;) {
		if (base * 4 >= max)
			return base;
		if (base * 8 >= max)
			return base * 2;
		if (base * 20 >= max)
			return base * 5;
		base *= 10;
	}
}

#define NSTATUS 9
/* clang-format off */
static const char *const status_names[NSTATUS] = {
	"completed", "missed", "voicemail", "busy", "failed", "in_progress", "ringing", "initiated", "unknown",
};
static const char *const status_colors[NSTATUS] = {
	"#2e7d32", "#c62828", "#ef6c00", "#6a1b9a", "#546e7a", "#1565c0", "#64b5f6", "#b0bec5", "#9e9e9e",
};
/* clang-format on */

struct day_counts {
	const char *day; /* borrowed from the chart's PGresult */
	long long n[NSTATUS];
	long long total;
};

static int
status_index(const char *s)
{
	int i;

	for (i = 0; i < NSTATUS - 1; i++)
		if (!strcmp(status_names[i], s))
			return i;
	return NSTATUS - 1;
}

/* Folds the (day, status, calls) rows into one entry per day; returns how many days (-1: no memory). */
static int
fold_days(const PGresult *r, struct day_counts **out)
{
	int nt = PQntuples(r), row, n = 0, s;
	struct day_counts *d = calloc((size_t)nt + 1, sizeof(*d));
	long long v;

	if (d == NULL)
		return -1;
	for (row = 0; row < nt; row++) {
		if (n == 0 || strcmp(d[n - 1].day, PQgetvalue(r, row, 0)) != 0)
			d[n++].day = PQgetvalue(r, row, 0);
		if (PQgetisnull(r, row, 1))
			continue;
		s = status_index(PQgetvalue(r, row, 1));
		v = atoll(PQgetvalue(r, row, 2));
		d[n - 1].n[s] += v;
		d[n - 1].total += v;
	}
	*out = d;
	return n;
}

/* The y axis: grid lines and labels every `step` up to `ymax`. */
static void
svg_y_axis(double left, double top, double plot_w, double plot_h, long long ymax, long long step)
{
	long long v;
	double y;

	for (v = 0; v <= ymax; v += step) {
		y = top + plot_h - plot_h * (double)v / (double)ymax;
		printf(
		    "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
		    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%lld</text>\n",
		    v == 0 ? "axis" : "grid", left, y, left + plot_w, y, left - 6, y + 4, v);
	}
}

static void
svg_legend(const bool *present, double x)
{
	int s;

	for (s = 0; s < NSTATUS; s++) {
		if (!present[s])
			continue;
		printf(
		    "<rect x=\"%.1f\" y=\"8\" width=\"11\" height=\"11\" fill=\"%s\"/>"
		    "<text x=\"%.1f\" y=\"18\">%s</text>\n",
		    x, status_colors[s], x + 15, status_names[s]);
		x += 15 + 6.5 * (double)strlen(status_names[s]) + 16;
	}
}

/* One day's stacked bar, bottom up in the order of status_names, each part with a tooltip. */
static void
svg_day_bar(const struct day_counts *d, double x, double bw, double base, double plot_h, long long ymax)
{
	double y = base, h;
	int s;

	for (s = 0; s < NSTATUS; s++) {
		if (d->n[s] == 0)
			continue;
		h = plot_h * (double)d->n[s] / (double)ymax;
		y -= h;
		printf(
		    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
		    "<title>%s %s: %lld</title></rect>\n",
		    x, y, bw, h, status_colors[s], d->day, status_names[s], d->n[s]);
	}
}

/* Calls per day, stacked by status. */
static void
svg_daily(const struct day_counts *d, int ndays)
{
	const double left = 52, top = 32, plot_w = SVG_W - left - 12, plot_h = 220, height = top + plot_h + 30;
	double slot = plot_w / ndays, bw = slot * 0.7 > 48 ? 48 : slot * 0.7;
	long long max = 1, step, ymax;
	bool present[NSTATUS] = { false };
	int i, s, every = 1 + (ndays - 1) / (int)(plot_w / 72);

	for (i = 0; i < ndays; i++) {
		max = d[i].total > max ? d[i].total : max;
		for (s = 0; s < NSTATUS; s++)
			present[s] = present[s] || d[i].n[s] > 0;
	}
	step = nice_step(max);
	ymax = (max + step - 1) / step * step;
	printf(
	    "<svg viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\" "
	    "aria-label=\"Calls per day, stacked by status\">\n",
	    SVG_W, height, SVG_W, height);
	svg_legend(present, left);
	svg_y_axis(left, top, plot_w, plot_h, ymax, step);
	for (i = 0; i < ndays; i++) {
		svg_day_bar(&d[i], left + slot * i + (slot - bw) / 2, bw, top + plot_h, plot_h, ymax);
		if (i % every == 0)
			printf("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
			    left + slot * i + slot / 2, top + plot_h + 18,
			    ndays > 12 ? d[i].day + 5 : d[i].day);
	}
	fputs("</svg>\n", stdout);
}

static bool
chart_daily(PGconn *conn, const char *const *params)
{
	PGresult *r = run_query(conn, chart_daily_sql, params, "chart of calls per day");
	struct day_counts *days = NULL;
	int n;

	if (r == NULL)
		return false;
	n = fold_days(r, &days);
	if (n > 0) {
		fputs("<figure>\n", stdout);
		svg_daily(days, n);
		fputs("<figcaption>Calls per day (UTC), stacked by status</figcaption>\n</figure>\n", stdout);
	}
	free(days);
	PQclear(r);
	return n >= 0;
}

/* Horizontal bars: one per row of (label, value). */
static void
svg_hbars(const PGresult *r)
{
	const double label_w = 210, row_h = 26, top = 6, bar_max = SVG_W - label_w - 70;
	int nt = PQntuples(r), i;
	double height = top * 2 + row_h * nt, y, w;
	long long max = 1, v;
	char label[CELL_BUF];

	for (i = 0; i < nt; i++)
		max = atoll(PQgetvalue(r, i, 1)) > max ? atoll(PQgetvalue(r, i, 1)) : max;
	printf(
	    "<svg viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\" "
	    "aria-label=\"Calls by traffic source\">\n",
	    SVG_W, height, SVG_W, height);
	printf("<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", label_w, top,
	    label_w, height - top);
	for (i = 0; i < nt; i++) {
		v = atoll(PQgetvalue(r, i, 1));
		y = top + row_h * i;
		w = bar_max * (double)v / (double)max;
		clip(PQgetvalue(r, i, 0), 32, label);
		fputs("<text text-anchor=\"end\" ", stdout);
		printf("x=\"%.1f\" y=\"%.1f\">", label_w - 8, y + row_h / 2 + 4);
		html_escape(label);
		printf("</text><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#1565c0\"><title>",
		    label_w, y + 4, w, row_h - 8);
		html_escape(PQgetvalue(r, i, 0));
		printf(": %lld</title></rect><text x=\"%.1f\" y=\"%.1f\">%lld</text>\n", v, label_w + w + 6,
		    y + row_h / 2 + 4, v);
	}
	fputs("</svg>\n", stdout);
}

static bool
chart_traffic(PGconn *conn, const char *const *params)
{
	PGresult *r = run_query(conn, chart_traffic_sql, params, "chart of calls by traffic source");

	if (r == NULL)
		return false;
	if (PQntuples(r) > 0) {
		fputs("<figure>\n", stdout);
		svg_hbars(r);
		fputs("<figcaption>Inbound calls by traffic source</figcaption>\n</figure>\n", stdout);
	}
	PQclear(r);
	return true;
}

/* ------------------------------------------------------------------------------------------------ */

static bool
html_section(PGconn *conn, const struct report *rep, const char *const *params)
{
	PGresult *r = run_query(conn, rep->sql, params, rep->name);
	bool ok = true;

	if (r == NULL)
		return false;
	printf("<section id=\"%s\">\n<h2>%s</h2>\n<p class=\"doc\">", rep->name, rep->title);
	html_escape(rep->doc);
	printf(" (view <code>callhook.report_%s</code>)</p>\n", rep->name);
	if (rep->chart == CHART_DAILY_STATUS)
		ok = chart_daily(conn, params);
	else if (rep->chart == CHART_TRAFFIC_SOURCE)
		ok = chart_traffic(conn, params);
	html_table(r);
	fputs("</section>\n", stdout);
	PQclear(r);
	return ok;
}

/* Prints one report (rep) or all of them (rep NULL) in the chosen format. */
static bool
print_reports(PGconn *conn, const struct opts *o, const struct report *rep, const char *const *params)
{
	size_t i, first = rep ? (size_t)(rep - reports) : 0, last = rep ? first + 1 : NREPORTS;
	PGresult *r;
	bool ok = true;

	if (o->fmt == FMT_HTML)
		html_head(o, params, rep == NULL);
	for (i = first; i < last && ok; i++) {
		if (o->fmt == FMT_HTML) {
			ok = html_section(conn, &reports[i], params);
			continue;
		}
		if ((r = run_query(conn, reports[i].sql, params, reports[i].name)) == NULL)
			return false;
		if (o->fmt == FMT_CSV)
			print_csv(r);
		else {
			if (rep == NULL)
				printf("%s== %s: %s ==\n", i > first ? "\n" : "", reports[i].name,
				    reports[i].title);
			ok = print_text(r);
		}
		PQclear(r);
	}
	if (o->fmt == FMT_HTML && ok)
		fputs("</body>\n</html>\n", stdout);
	return ok;
}

/* Resolves the report to print (NULL: all); returns -1 to go on, or the exit status. */
static int
choose_report(const struct opts *o, const struct report **rep)
{
	*rep = NULL;
	if (o->name == NULL && o->fmt != FMT_HTML) {
		list_reports(o->fmt);
		return 0;
	}
	if (o->name != NULL && strcmp(o->name, "all") != 0 && (*rep = find_report(o->name)) == NULL) {
		fprintf(stderr, "callhook report: unknown report \"%s\"; callhook report lists them\n",
		    o->name);
		return 2;
	}
	if (*rep == NULL && o->fmt == FMT_CSV) {
		fprintf(stderr,
		    "callhook report: CSV holds one report: name it (callhook report lists them)\n");
		return 2;
	}
	return -1;
}

int
report_main(const struct config *cfg, int argc, char **argv)
{
	struct opts o = { .fmt = FMT_TEXT };
	const struct report *rep;
	const char *params[NPARAMS];
	char dates[2][32];
	PGconn *conn;
	int rc;
	bool ok;

	if ((rc = parse_args(argc, argv, &o)) != -1 || (rc = choose_report(&o, &rep)) != -1)
		return fflush(stdout) == 0 ? rc : 1;
	params[0] = o.since;
	params[1] = o.until;
	params[2] = o.source;
	if ((conn = report_connect(cfg->report_conninfo ? cfg->report_conninfo : cfg->conninfo,
		 "callhook-report")) == NULL)
		return 1;
	/* One snapshot for every report of the page, and nothing written by accident. */
	ok = exec_command(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "BEGIN") &&
	    normalize_dates(conn, params, dates) && print_reports(conn, &o, rep, params) &&
	    exec_command(conn, "COMMIT", "COMMIT");
	PQfinish(conn);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("callhook report: writing the report");
		return 1;
	}
	return ok ? 0 : 1;
}
