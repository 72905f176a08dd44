/*
 * callhook tail: prints the latest webhook deliveries, then one line for each new one as it is stored,
 * until SIGINT or SIGTERM.
 *
 * How each delivery gets exactly one line: the lines come from callhook.deliveries itself, read by id
 * (a delivery that was ignored or rejected changes no row and so sends no NOTIFY). LISTEN callhook
 * only wakes the reader early; without notifications it reads every second. Ids are taken from a
 * sequence before commit, so a lower id can become visible after a higher one: every id above the
 * watermark that has been printed is remembered, and the watermark moves past a missing id once a
 * higher id has been visible for GAP_WAIT_S seconds (a transaction that rolled back never fills it).
 * A redelivery (outcome duplicate) stores no new row and prints nothing.
 *
 * A line has the delivery's own fields (and its error); it does not name the rows the delivery
 * changed: the row notifications do not say which delivery sent them, and looking through every
 * table for each delivery is not cheap. Apps that want the rows LISTEN on callhook themselves.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <libpq-fe.h>

#include "core/clock.h"
#include "core/conf.h"
#include "cli/report.h"
#include "cli/tail.h"

#define POLL_MS 1000      /* read new deliveries at least this often */
#define WAKE_MIN_MS 100   /* and, woken by NOTIFY, at most this often */
#define GAP_WAIT_S 10     /* how long a missing id may hold the watermark */
#define PRIME_WINDOW 1000 /* ids below the newest at start that may still commit */
#define POLL_LIMIT 1000   /* rows per query; a full batch is followed by another at once */
#define POLL_ROUNDS 50    /* batches per poll, so a flood cannot hold off the signals */
#define XSTR(x) STR(x)
#define STR(x) #x
#define MAX_GAPS 64 /* ranges of missing ids looked for again per poll */

/* Columns of a delivery line: id, time, source, vendor, event, outcome, error. */
#define DELIVERY_COLS \
	"d.id, pg_catalog.to_char(d.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')," \
	" d.source, d.vendor, d.event, d.outcome, d.error"
/* The filters: $1 source, $2 vendor, $3 outcome (NULL: any). */
#define MATCHES \
	"($1::text IS NULL OR d.source = $1::text) AND ($2::text IS NULL OR d.vendor = $2::text)" \
	" AND ($3::text IS NULL OR d.outcome = $3::text)"

static const char backlog_sql[] =
    "SELECT * FROM (SELECT " DELIVERY_COLS " FROM callhook.deliveries AS d WHERE " MATCHES
    " ORDER BY d.id DESC LIMIT $4::bigint) AS b ORDER BY 1";
static const char newest_sql[] = "SELECT coalesce(max(d.id), 0) FROM callhook.deliveries AS d";
static const char known_sql[] = "SELECT d.id FROM callhook.deliveries AS d WHERE d.id > $1::bigint";
/* Deliveries after $4, the highest id read so far. */
static const char poll_sql[] = "SELECT " DELIVERY_COLS ", " MATCHES
			       " FROM callhook.deliveries AS d WHERE d.id > $4::bigint"
			       " ORDER BY d.id LIMIT " XSTR(POLL_LIMIT);
/* Deliveries in the ranges $4[i]..$5[i] of ids that were missing below it. */
static const char gaps_sql[] =
    "SELECT " DELIVERY_COLS ", " MATCHES
    " FROM ROWS FROM (pg_catalog.unnest($4::bigint[]), pg_catalog.unnest($5::bigint[])) AS g(lo, hi)"
    " JOIN callhook.deliveries AS d ON d.id BETWEEN g.lo AND g.hi ORDER BY d.id";

struct seen {
	long long id;
	time_t at; /* when it was first read */
};

struct tail {
	PGconn *conn;
	const char *params[4]; /* $1 source, $2 vendor, $3 outcome, $4 a limit or the watermark */
	char num[32];
	long long low;     /* every delivery id ≤ low has been dealt with */
	struct seen *seen; /* ids > low already read, ascending */
	size_t nseen, cap;
};

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: callhook [-c FILE] tail [--source NAME] [--vendor VENDOR] [--outcome OUTCOME] [-n N]\n"
	    "  prints the last N deliveries (default 10), then each new one as it arrives, until\n"
	    "  interrupted: time (UTC), source, vendor, event, outcome, #delivery id, and the error of a\n"
	    "  rejected one. OUTCOME is stored, ignored, rejected or error.\n");
}

/* Returns -1 to go on, or the exit status. */
static int
parse_args(int argc, char **argv, struct tail *t, long *n)
{
	static const struct option longopts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "vendor", required_argument, NULL, 'v' },
		{ "outcome", required_argument, NULL, 'o' },
		{ "lines", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int ch;

	optind = 0; /* GNU getopt: start over, argv[0] being "tail" */
	while ((ch = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': t->params[0] = optarg; break;
		case 'v': t->params[1] = optarg; break;
		case 'o': t->params[2] = optarg; break;
		case 'n':
			errno = 0;
			*n = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || *n < 0 || *n > 100000) {
				fprintf(stderr, "callhook tail: -n takes 0 to 100000\n");
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "callhook tail: unexpected argument: %s\n", argv[optind]);
		return 2;
	}
	return -1;
}

/* ------------------------------------------------------------------------------------------------ */

/* Writes `s` with control characters and backslashes escaped, so one delivery stays one line. */
static void
put_escaped(const char *s)
{
	unsigned char c;

	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\r')
			fputs("\\r", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c == '\\')
			fputs("\\\\", stdout);
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static void
put_field(const PGresult *r, int row, int col, int width)
{
	const char *v = PQgetisnull(r, row, col) ? "-" : PQgetvalue(r, row, col);
	int n = (int)strlen(v);

	put_escaped(v);
	for (putchar(' '); n < width; n++)
		putchar(' ');
}

/* One line: time source vendor event outcome #id [error: …]; false when stdout fails. */
static bool
print_delivery(const PGresult *r, int row)
{
	put_field(r, row, 1, 0);
	put_field(r, row, 2, 12);
	put_field(r, row, 3, 12);
	put_field(r, row, 4, 22);
	put_field(r, row, 5, 8);
	printf("#%s", PQgetvalue(r, row, 0));
	if (!PQgetisnull(r, row, 6)) {
		fputs("  error: ", stdout);
		put_escaped(PQgetvalue(r, row, 6));
	}
	putchar('\n');
	return fflush(stdout) == 0;
}

/* ------------------------------------------------------------------------------------------------ */

/* Runs `sql` with `nparams` parameters; NULL (after saying why) unless it returns `want`. */
static PGresult *
run(struct tail *t, const char *sql, int nparams, const char *const *params, ExecStatusType want,
    const char *what)
{
	PGresult *r = PQexecParams(t->conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != want) {
		fprintf(stderr, "callhook tail: %s: %s", what, PQerrorMessage(t->conn));
		PQclear(r);
		return NULL;
	}
	return r;
}

static bool
command(struct tail *t, const char *sql)
{
	PGresult *r = run(t, sql, 0, NULL, PGRES_COMMAND_OK, sql);

	PQclear(r);
	return r != NULL;
}

/* Index of the first remembered id ≥ id. */
static size_t
seen_find(const struct tail *t, long long id)
{
	size_t lo = 0, hi = t->nseen, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (t->seen[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Remembers `id` (> low); returns false when it was already known. */
static bool
seen_add(struct tail *t, long long id, time_t now)
{
	size_t i = seen_find(t, id);
	struct seen *p;

	if (i < t->nseen && t->seen[i].id == id)
		return false;
	if (t->nseen == t->cap) {
		p = realloc(t->seen, (t->cap ? t->cap * 2 : 256) * sizeof(*p));
		if (p == NULL) {
			fprintf(stderr, "callhook tail: out of memory\n");
			exit(1);
		}
		t->seen = p;
		t->cap = t->cap ? t->cap * 2 : 256;
	}
	memmove(t->seen + i + 1, t->seen + i, (t->nseen - i) * sizeof(*t->seen));
	t->seen[i].id = id;
	t->seen[i].at = now;
	t->nseen++;
	return true;
}

/* Moves the watermark over ids read in a row, and over gaps older than GAP_WAIT_S. */
static void
advance(struct tail *t, time_t now)
{
	size_t i = 0;

	while (i < t->nseen) {
		if (t->seen[i].id != t->low + 1 && now - t->seen[i].at < GAP_WAIT_S)
			break;
		t->low = t->seen[i++].id;
	}
	memmove(t->seen, t->seen + i, (t->nseen - i) * sizeof(*t->seen));
	t->nseen -= i;
}

/* Remembers and prints (when they match the filters) the deliveries of a poll result. */
static bool
print_new(struct tail *t, const PGresult *r, time_t now)
{
	int row;

	for (row = 0; row < PQntuples(r); row++)
		if (seen_add(t, atoll(PQgetvalue(r, row, 0)), now) && *PQgetvalue(r, row, 7) == 't' &&
		    !print_delivery(r, row))
			return false;
	return true;
}

/* Looks again for the ids missing between the watermark and the highest id read (MAX_GAPS ranges). */
static bool
poll_gaps(struct tail *t, time_t now)
{
	char lo[MAX_GAPS * 21 + 3] = "{", hi[MAX_GAPS * 21 + 3] = "{";
	size_t i, nlo = 1, nhi = 1, ngaps = 0;
	long long prev = t->low;
	const char *params[5];
	PGresult *r;
	bool ok;

	for (i = 0; i < t->nseen && ngaps < MAX_GAPS; prev = t->seen[i++].id) {
		if (t->seen[i].id == prev + 1)
			continue;
		nlo += (size_t)snprintf(lo + nlo, sizeof(lo) - nlo, "%s%lld", ngaps ? "," : "", prev + 1);
		nhi += (size_t)snprintf(hi + nhi, sizeof(hi) - nhi, "%s%lld", ngaps ? "," : "",
		    t->seen[i].id - 1);
		ngaps++;
	}
	if (ngaps == 0)
		return true;
	memcpy(lo + nlo, "}", 2);
	memcpy(hi + nhi, "}", 2);
	memcpy(params, t->params, 3 * sizeof(*params));
	params[3] = lo;
	params[4] = hi;
	if ((r = run(t, gaps_sql, 5, params, PGRES_TUPLES_OK, "reading late deliveries")) == NULL)
		return false;
	ok = print_new(t, r, now);
	PQclear(r);
	return ok;
}

/* Prints the deliveries that appeared since the last call; false on a database or output error. */
static bool
poll_new(struct tail *t)
{
	PGresult *r;
	time_t now = time(NULL);
	int rounds = 0, n;
	bool ok = poll_gaps(t, now);

	do {
		snprintf(t->num, sizeof(t->num), "%lld", t->nseen ? t->seen[t->nseen - 1].id : t->low);
		t->params[3] = t->num;
		if (!ok)
			return false;
		if ((r = run(t, poll_sql, 4, t->params, PGRES_TUPLES_OK, "reading new deliveries")) == NULL)
			return false;
		n = PQntuples(r);
		ok = print_new(t, r, now);
		PQclear(r);
	} while (ok && n == POLL_LIMIT && ++rounds < POLL_ROUNDS);
	advance(t, now);
	return ok;
}

/*
 * The last `n` matching deliveries, and the watermark: ids up to PRIME_WINDOW below the newest that
 * are not there yet may still commit, so they are waited for like any gap. One snapshot for both.
 */
static bool
backlog(struct tail *t, long n)
{
	PGresult *r;
	long long newest;
	time_t now = time(NULL);
	int row;
	bool ok = true;

	snprintf(t->num, sizeof(t->num), "%ld", n);
	t->params[3] = t->num;
	if (!command(t, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") ||
	    (r = run(t, backlog_sql, 4, t->params, PGRES_TUPLES_OK, "reading the latest deliveries")) == NULL)
		return false;
	for (row = 0; row < PQntuples(r) && ok; row++)
		ok = print_delivery(r, row);
	PQclear(r);
	if (!ok || (r = run(t, newest_sql, 0, NULL, PGRES_TUPLES_OK, "reading the newest delivery")) == NULL)
		return false;
	newest = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	t->low = newest > PRIME_WINDOW ? newest - PRIME_WINDOW : 0;
	snprintf(t->num, sizeof(t->num), "%lld", t->low);
	if ((r = run(t, known_sql, 1, &t->params[3], PGRES_TUPLES_OK, "reading the newest deliveries")) == NULL)
		return false;
	for (row = 0; row < PQntuples(r); row++)
		seen_add(t, atoll(PQgetvalue(r, row, 0)), now);
	PQclear(r);
	advance(t, now);
	return command(t, "COMMIT");
}

/* ------------------------------------------------------------------------------------------------ */

/*
 * Waits up to `ms` for a notification (or anything else) on the connection, with SIGINT and SIGTERM
 * let through only while waiting. Returns 1 when a notification arrived, 0 when not, -1 when the
 * connection failed.
 */
static int
wait_notify(struct tail *t, long long ms, const sigset_t *waitmask)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
	int sock = PQsocket(t->conn), got = 0;
	PGnotify *n;
	fd_set rfds;

	FD_ZERO(&rfds);
	if (sock >= 0)
		FD_SET(sock, &rfds);
	if (pselect(sock >= 0 ? sock + 1 : 0, &rfds, NULL, NULL, &ts, waitmask) <= 0)
		return 0;
	if (!PQconsumeInput(t->conn))
		return -1;
	while ((n = PQnotifies(t->conn)) != NULL) {
		got = 1;
		PQfreemem(n);
	}
	return got;
}

/* After a lost connection: reconnect once a second until it works or a signal comes. */
static bool
reconnect(struct tail *t, const sigset_t *waitmask)
{
	struct timespec second = { .tv_sec = 1 };

	fprintf(stderr, "callhook tail: lost the database connection: reconnecting\n");
	while (!stop_signal) {
		if (report_reset(t->conn) && command(t, "LISTEN callhook")) {
			fprintf(stderr, "callhook tail: reconnected\n");
			return true;
		}
		pselect(0, NULL, NULL, NULL, &second, waitmask);
	}
	return false;
}

/* Prints new deliveries until a signal; false on an output error or an unusable connection. */
static bool
follow(struct tail *t, const sigset_t *waitmask)
{
	long long last = (long long)mono_ms(), next = last + POLL_MS, now;
	int got;

	while (!stop_signal) {
		now = (long long)mono_ms();
		if (now < next) {
			got = wait_notify(t, next - now, waitmask);
			if (got < 0 && !reconnect(t, waitmask))
				break;
			if (got > 0 && next > last + WAKE_MIN_MS)
				next = last + WAKE_MIN_MS; /* woken by NOTIFY: read soon */
			continue;
		}
		if (!poll_new(t)) {
			if (PQstatus(t->conn) == CONNECTION_OK)
				return false; /* a query or output error, not the connection */
			if (!reconnect(t, waitmask))
				break;
		}
		last = (long long)mono_ms();
		next = last + POLL_MS;
	}
	return true;
}

int
tail_main(const struct config *cfg, int argc, char **argv)
{
	struct tail t = { .conn = NULL };
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	sigset_t block, orig, waitmask;
	long n = 10;
	int rc;
	bool ok;

	if ((rc = parse_args(argc, argv, &t, &n)) != -1)
		return rc;
	if ((t.conn = report_connect(cfg->report_conninfo ? cfg->report_conninfo : cfg->conninfo,
		 "callhook-tail")) == NULL)
		return 1;
	/* SIGINT and SIGTERM stay blocked but while waiting, so they end a wait, never a query. */
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	waitmask = orig;
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	ok = command(&t, "LISTEN callhook") && backlog(&t, n) && follow(&t, &waitmask);
	PQfinish(t.conn);
	free(t.seen);
	sigprocmask(SIG_SETMASK, &orig, NULL); /* a pending signal reaches on_signal, harmlessly */
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return ok && !ferror(stdout) ? 0 : 1;
}
