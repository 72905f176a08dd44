/*
 * callhook replay: decodes stored deliveries again with this build's decoders
 * and re-applies their rows through callhook.replay_delivery(). Merges are
 * idempotent, so replaying twice changes nothing.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>

#include "core/db.h"
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

/* Decodes one delivery again and re-applies it. */
static bool
replay_one(PGconn *conn, const struct config *cfg, const struct filters *f, const char *id,
    const struct raw_delivery *raw, struct tally *t)
{
	struct decoded d = { 0 };
	const struct source *src;
	const char *outcome, *rows = NULL;
	char prior[16] = "", state[6] = "", msg[64];
	enum ch_err err;
	int kind;

	err = decode_delivery(cfg, raw, &d, &src, &kind);
	if (err != CH_OK && err != CH_ERR_BAD_BODY) {
		fprintf(stderr, "delivery %s: skipped: %s\n", id, d.error);
		t->skipped++;
		decoded_clear(&d);
		return true;
	}
	outcome = err == CH_ERR_BAD_BODY ? "rejected" : outcome_name(d.outcome);
	if (err == CH_OK && d.rows != NULL)
		rows = json_object_to_json_string_ext(d.rows, JSON_OUT);
	if (!f->dry_run && !apply(conn, id, outcome, err == CH_OK ? NULL : d.error, rows, prior, state)) {
		if (!strncmp(state, "08", 2)) {
			fprintf(stderr, "callhook: lost the database connection\n");
			decoded_clear(&d);
			return false;
		}
		snprintf(msg, sizeof(msg), "could not store rows: SQLSTATE %s", state);
		outcome = "error";
		if (!apply(conn, id, outcome, msg, NULL, prior, state)) {
			decoded_clear(&d);
			return false;
		}
	}
	if (f->verbose && *prior && strcmp(prior, outcome))
		printf("delivery %s: %s (was %s)\n", id, outcome, prior);
	else if (f->verbose)
		printf("delivery %s: %s\n", id, outcome);
	count(t, outcome, f->dry_run ? outcome : prior);
	decoded_clear(&d);
	return true;
}

static bool
replay_batch(PGconn *conn, const struct config *cfg, const struct filters *f, char *last, struct tally *t,
    int *n)
{
	const char *v[8] = { last, f->v[1], f->v[2], f->v[3], f->v[4], f->v[5], f->v[6], f->v[7] };
	PGresult *r = PQexecParams(conn, SELECT_SQL, 8, NULL, v, NULL, NULL, 0);
	struct raw_delivery raw;
	bool ok = true;
	int i;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "callhook: reading deliveries failed: %s", PQerrorMessage(conn));
		PQclear(r);
		return false;
	}
	*n = PQntuples(r);
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
		ok = raw_from_row(r, i, &raw) && replay_one(conn, cfg, f, PQgetvalue(r, i, 0), &raw, t);
		raw_delivery_clear(&raw);
	}
	PQclear(r);
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
