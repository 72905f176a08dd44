/*
 * callhook replay: decodes stored deliveries again with this build's decoders
 * and re-applies their rows, a page at a time, through callhook.replay_many()
 * (the path a webhook's batch takes). When PostgreSQL refuses a page, each of
 * its deliveries goes through callhook.replay_delivery() on its own, and one it
 * still refuses is recorded as error. Merges are idempotent, so replaying twice
 * changes nothing.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>

#include "core/db.h"
#include "core/pgarray.h"
#include "cli/replay.h"
#include "ingest/deliver.h"

#define BATCH "200"

#define SELECT_SQL \
	"SELECT id, source, event, method, content_type, coalesce(query, ''), headers::text, body, " \
	"(extract(epoch FROM received_at) * 1000000)::bigint, body_pruned_at FROM callhook.deliveries " \
	"WHERE id > $1 AND ($2::text IS NULL OR source = $2) AND ($3::text IS NULL OR vendor = $3) " \
	"AND ($4::text IS NULL OR event = $4) AND ($5::text IS NULL OR outcome = $5) " \
	"AND ($6::timestamptz IS NULL OR received_at >= $6) " \
	"AND ($7::timestamptz IS NULL OR received_at < $7) AND ($8::bigint IS NULL OR id = $8) " \
	"ORDER BY id LIMIT " BATCH

#define REPLAY_SQL \
	"SELECT outcome, prior_outcome, notices FROM callhook.replay_delivery($1, $2, $3, $4::jsonb)"

#define REPLAY_MANY_SQL \
	"SELECT prior_outcome, notices FROM callhook.replay_many($1::bigint[], $2::text[], $3::text[], $4::jsonb[]) " \
	"ORDER BY ord"

struct filters {
	const char *v[8]; /* $2..$8 of SELECT_SQL, NULL when not given */
	bool dry_run;
	bool verbose;
};

struct tally {
	long seen, stored, ignored, rejected, errors, skipped, changed;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: callhook replay [--source NAME] [--vendor V] [--event E] [--outcome O]\n"
	    "                       [--since TIME] [--until TIME] [--delivery ID] [--dry-run] [-v]\n");
}

static int
parse_args(int argc, char **argv, struct filters *f)
{
	static const struct option longopts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "vendor", required_argument, NULL, 'V' },
		{ "event", required_argument, NULL, 'e' },
		{ "outcome", required_argument, NULL, 'o' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "delivery", required_argument, NULL, 'd' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "nv", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': f->v[1] = optarg; break;
		case 'V': f->v[2] = optarg; break;
		case 'e': f->v[3] = optarg; break;
		case 'o': f->v[4] = optarg; break;
		case 'S': f->v[5] = optarg; break;
		case 'U': f->v[6] = optarg; break;
		case 'd': f->v[7] = optarg; break;
		case 'n': f->dry_run = true; break;
		case 'v': f->verbose = true; break;
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static char *
dup_col(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

/* Fills raw from row `i` of a SELECT_SQL result. */
static bool
raw_from_row(const PGresult *r, int i, struct raw_delivery *raw)
{
	size_t len = 0;
	unsigned char *body = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 7), &len);

	if (body == NULL)
		return false;
	raw->source = dup_col(r, i, 1);
	raw->event = dup_col(r, i, 2);
	raw->method = dup_col(r, i, 3);
	raw->content_type = dup_col(r, i, 4);
	raw->query = dup_col(r, i, 5);
	raw->headers = dup_col(r, i, 6);
	raw->body = malloc(len + 1);
	if (raw->body != NULL) {
		memcpy(raw->body, body, len);
		raw->body[len] = '\0';
	}
	raw->body_len = len;
	raw->received_usec = strtoll(PQgetvalue(r, i, 8), NULL, 10);
	PQfreemem(body);
	return raw->source && raw->method && raw->query && raw->body;
}

/* Runs replay_delivery; false with the SQLSTATE in `state` when it raised. */
static bool
apply(PGconn *conn, const char *id, const char *outcome, const char *error, const char *rows, char *prior,
    char state[6])
{
	const char *v[4] = { id, outcome, error, rows };
	PGresult *r = PQexecParams(conn, REPLAY_SQL, 4, NULL, v, NULL, NULL, 0);
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;

	if (ok) {
		snprintf(prior, 16, "%s", PQgetvalue(r, 0, 1));
		store_notify(conn, PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2));
	} else
		snprintf(state, 6, "%s",
		    PQresultErrorField(r, PG_DIAG_SQLSTATE) ? PQresultErrorField(r, PG_DIAG_SQLSTATE) :
							      "08000");
	PQclear(r);
	return ok;
}

static void
count(struct tally *t, const char *outcome, const char *prior)
{
	if (!strcmp(outcome, "stored"))
		t->stored++;
	else if (!strcmp(outcome, "ignored"))
		t->ignored++;
	else if (!strcmp(outcome, "rejected"))
		t->rejected++;
	else
		t->errors++;
	if (strcmp(outcome, prior))
		t->changed++;
}

/* Counts and (with -v) says what became of delivery `id`; prior is NULL on a dry run. */
static void
report(const struct filters *f, struct tally *t, const char *id, const char *outcome, const char *prior)
{
	if (f->verbose && prior != NULL && strcmp(prior, outcome))
		printf("delivery %s: %s (was %s)\n", id, outcome, prior);
	else if (f->verbose)
		printf("delivery %s: %s\n", id, outcome);
	count(t, outcome, prior != NULL ? prior : outcome);
}

/* One delivery of a page, decoded again. */
struct item {
	char id[24];
	const char *outcome; /* stored, ignored or rejected (static) */
	char *error;         /* what the decoder refused, for a rejected one (owned), else NULL */
	char *rows;          /* its row operations as JSON text (owned), or NULL */
};

static void
item_clear(struct item *it)
{
	free(it->error);
	free(it->rows);
	memset(it, 0, sizeof(*it));
}

/*
 * Decodes delivery `id` again into it: 1, 0 when it is skipped (said and
 * counted), -1 out of memory (it is left empty).
 */
static int
decode_item(const struct config *cfg, const char *id, const struct raw_delivery *raw, struct item *it,
    struct tally *t)
{
	struct decoded d = { 0 };
	const struct source *src;
	enum ch_err err;
	int kind, rc = 1;

	err = decode_delivery(cfg, raw, &d, &src, &kind);
	if (err != CH_OK && err != CH_ERR_BAD_BODY) {
		fprintf(stderr, "delivery %s: skipped: %s\n", id, d.error);
		t->skipped++;
		decoded_clear(&d);
		return 0;
	}
	snprintf(it->id, sizeof(it->id), "%s", id);
	it->outcome = err == CH_ERR_BAD_BODY ? "rejected" : outcome_name(d.outcome);
	if (err != CH_OK && (it->error = strdup(d.error)) == NULL)
		rc = -1;
	if (err == CH_OK && d.rows != NULL &&
	    (it->rows = strdup(json_object_to_json_string_ext(d.rows, JSON_OUT))) == NULL)
		rc = -1;
	decoded_clear(&d);
	if (rc < 0)
		item_clear(it);
	return rc;
}

/*
 * Replays `it` on its own through replay_delivery(); rows PostgreSQL still
 * refuses leave it recorded as error. False when the connection is lost.
 */
static bool
replay_alone(PGconn *conn, const struct filters *f, const struct item *it, struct tally *t)
{
	const char *outcome = it->outcome;
	char prior[16] = "", state[6] = "", msg[64];

	if (!apply(conn, it->id, outcome, it->error, it->rows, prior, state)) {
		if (!strncmp(state, "08", 2)) {
			fprintf(stderr, "callhook: lost the database connection\n");
			return false;
		}
		snprintf(msg, sizeof(msg), "could not store rows: SQLSTATE %s", state);
		outcome = "error";
		if (!apply(conn, it->id, outcome, msg, NULL, prior, state))
			return false;
	}
	report(f, t, it->id, outcome, prior);
	return true;
}

/* Counts the result r of replay_many() for items[0..n-1] and sends its notifications. */
static void
replayed_together(PGconn *conn, const struct filters *f, const struct item *items, size_t n, struct tally *t,
    const PGresult *r)
{
	struct pg_array notices = { 0 };
	const char *v;
	size_t i, len;

	for (i = 0; i < n; i++) {
		report(f, t, items[i].id, items[i].outcome, PQgetvalue(r, (int)i, 0));
		v = PQgetvalue(r, (int)i, 1);
		if ((len = strlen(v)) > 2) { /* a text[] literal other than {}: its elements join the others */
			pg_array_put(&notices, notices.len == 0 ? "{" : ",", 1);
			pg_array_put(&notices, v + 1, len - 2);
		}
	}
	if (notices.len > 0 && !notices.failed) {
		pg_array_put(&notices, "}", 1);
		store_notify(conn, notices.p);
	}
	pg_array_free(&notices);
}

/*
 * Replays items[0..n-1] with one replay_many(): 1 when they are stored, 0 when
 * PostgreSQL refused the page (nothing of it is), -1 when the connection is
 * lost or memory ran out.
 */
static int
replay_together(PGconn *conn, const struct filters *f, const struct item *items, size_t n, struct tally *t)
{
	struct pg_array a[4] = { { 0 } };
	const char *v[4];
	int len[4], fmt[4] = { 0, 0, 0, 1 }, rc = -1, k;
	PGresult *r;
	size_t i;

	pg_array_begin(&a[3], PG_OID_JSONB, n);
	for (i = 0; i < n; i++) {
		pg_array_quoted(&a[0], items[i].id);
		pg_array_quoted(&a[1], items[i].outcome);
		pg_array_quoted(&a[2], items[i].error);
		pg_array_bin(&a[3], PG_OID_JSONB, items[i].rows,
		    items[i].rows != NULL ? strlen(items[i].rows) : 0);
	}
	for (k = 0; k < 3; k++)
		pg_array_close(&a[k]);
	if (a[0].failed || a[1].failed || a[2].failed || a[3].failed) {
		fprintf(stderr, "callhook: out of memory\n");
		goto out;
	}
	for (k = 0; k < 4; k++) {
		v[k] = a[k].p;
		len[k] = (int)a[k].len;
	}
	r = PQexecParams(conn, REPLAY_MANY_SQL, 4, NULL, v, len, fmt, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == (int)n) {
		replayed_together(conn, f, items, n, t, r);
		rc = 1;
	} else if (db_classify(conn, r) == DB_DOWN)
		fprintf(stderr, "callhook: lost the database connection\n");
	else
		rc = 0;
	PQclear(r);
out:
	for (k = 0; k < 4; k++)
		pg_array_free(&a[k]);
	return rc;
}

/* Replays the decoded items[0..n-1] of a page; false when replay has to stop. */
static bool
replay_items(PGconn *conn, const struct filters *f, const struct item *items, size_t n, struct tally *t)
{
	size_t i;
	int rc;

	if (f->dry_run) {
		for (i = 0; i < n; i++)
			report(f, t, items[i].id, items[i].outcome, NULL);
		return true;
	}
	if ((rc = replay_together(conn, f, items, n, t)) != 0)
		return rc > 0;
	for (i = 0; i < n; i++)
		if (!replay_alone(conn, f, &items[i], t))
			return false;
	return true;
}

static bool
replay_batch(PGconn *conn, const struct config *cfg, const struct filters *f, char *last, struct tally *t,
    int *n)
{
	const char *v[8] = { last, f->v[1], f->v[2], f->v[3], f->v[4], f->v[5], f->v[6], f->v[7] };
	PGresult *r = PQexecParams(conn, SELECT_SQL, 8, NULL, v, NULL, NULL, 0);
	struct raw_delivery raw;
	struct item *items = NULL;
	size_t m = 0, k;
	bool ok = true;
	int i, rc;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "callhook: reading deliveries failed: %s", PQerrorMessage(conn));
		PQclear(r);
		return false;
	}
	*n = PQntuples(r);
	if (*n > 0 && (items = calloc((size_t)*n, sizeof(*items))) == NULL) {
		fprintf(stderr, "callhook: out of memory\n");
		PQclear(r);
		return false;
	}
	for (i = 0; i < *n && ok; i++) {
		memset(&raw, 0, sizeof(raw));
		t->seen++;
		snprintf(last, 24, "%s", PQgetvalue(r, i, 0));
		if (!PQgetisnull(r, i, 9)) {
			/* callhook prune emptied it: there is nothing to decode, and that is no malformed body. */
			fprintf(stderr, "delivery %s: skipped: its body was pruned at %s (keep_bodies)\n",
			    PQgetvalue(r, i, 0), PQgetvalue(r, i, 9));
			t->skipped++;
			continue;
		}
		rc = raw_from_row(r, i, &raw) ? decode_item(cfg, PQgetvalue(r, i, 0), &raw, &items[m], t) : -1;
		raw_delivery_clear(&raw);
		if (rc < 0) {
			fprintf(stderr, "callhook: out of memory\n");
			ok = false;
		} else
			m += (size_t)rc;
	}
	PQclear(r);
	if (ok && m > 0)
		ok = replay_items(conn, f, items, m, t);
	for (k = 0; k < m; k++)
		item_clear(&items[k]);
	free(items);
	return ok;
}

int
replay_main(const struct config *cfg, int argc, char **argv)
{
	const struct db_params p = { .conninfo = cfg->conninfo, .app = "callhook-replay" };
	struct filters f;
	struct tally t = { 0 };
	struct timespec t0, t1;
	char last[24] = "0", why[512];
	PGconn *conn;
	bool ok = true;
	int n = 1;

	memset(&f, 0, sizeof(f));
	if (parse_args(argc, argv, &f) != 0)
		return 2;
	if ((conn = db_connect(&p, why, sizeof(why))) == NULL) {
		fprintf(stderr, "callhook: could not connect to the database: %s", why);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ok && n > 0)
		ok = replay_batch(conn, cfg, &f, last, &t, &n);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf(
	    "%s %ld deliveries in %.2f s: %ld stored, %ld ignored, %ld rejected, %ld errors, "
	    "%ld skipped, %ld changed outcome\n",
	    f.dry_run ? "would replay" : "replayed", t.seen,
	    (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, t.stored, t.ignored, t.rejected,
	    t.errors, t.skipped, t.changed);
	PQfinish(conn);
	return ok ? 0 : 1;
}
