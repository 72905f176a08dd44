/* PostgreSQL access for serve: one connection, prepared statements, SQLSTATE-based failure handling. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>

#include "core/clock.h"
#include "core/conf.h"
#include "core/db.h"
#include "core/log.h"
#include "core/pgarray.h"
#include "ingest/rowops.h"
#include "ingest/store.h"

#define MAX_ATTEMPTS 5 /* of one delivery, within its budget */
#define BACKOFF_MS 25  /* before the second attempt; doubled before each next one */
#define SLACK_MS 50    /* statement_timeout is set again only when off by more than this */

/*
 * A batch of deliveries, one array element each, and their row operations as
 * typed arrays (sql/012_ingest_batch.sql, rowops.h); one row each back, in order.
 */
#define INGEST_SQL \
	"SELECT delivery_id, outcome, prior_outcome, notices FROM callhook.ingest_batch($1::text[], $2::text[], " \
	"$3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::bytea[], $9::text[], $10::text[], " \
	"$11::text[], $12::jsonb[], $13::timestamptz[], $14::integer[], $15::integer[], $16::integer[], " \
	"$17::text[], $18::text[], $19::text[], $20::text[], $21::boolean[], $22::jsonb[], $23::jsonb[], " \
	"$24::jsonb[]) ORDER BY ord"
#define INGEST_PARAMS 13 /* per delivery; then OPS_ARRAYS of row operations */
#define BATCH_PARAMS (INGEST_PARAMS + OPS_ARRAYS)
/* The places (0-based) of the body and of the rows among the INGEST_PARAMS. */
enum { PARAM_BODY = 7, PARAM_ROWS = 11 };
/* A lone delivery: callhook.ingest(), which gives the same result as ingest_many() of one, in fewer steps. */
#define INGEST_ONE_SQL \
	"SELECT delivery_id, outcome, prior_outcome, notices FROM callhook.ingest($1, $2, $3, $4, $5, $6, " \
	"$7::jsonb, $8::bytea, $9, $10, $11, $12::jsonb, $13::timestamptz)"
#define NOTIFY_SQL "SELECT callhook.notify($1::text[])"

struct store {
	char *conninfo;
	int connect_timeout_s, lock_timeout_ms, statement_timeout_ms, budget_ms;
	PGconn *conn;
	int timeout_ms; /* the session's statement_timeout now */
	bool prepared;
	bool notifying; /* a callhook.notify() sent, its result not read yet */
	unsigned long reconnects;
	bool was_connected;
	char sqlstate[6]; /* of the last failure */
};

struct store *
store_new(const struct config *cfg)
{
	struct store *st = calloc(1, sizeof(*st));

	if (st != NULL && (st->conninfo = strdup(cfg->conninfo)) == NULL) {
		free(st);
		return NULL;
	}
	if (st != NULL) {
		st->connect_timeout_s = cfg->connect_timeout_s;
		st->lock_timeout_ms = cfg->lock_timeout_ms;
		st->statement_timeout_ms = cfg->statement_timeout_ms;
		st->budget_ms = cfg->delivery_budget_ms;
	}
	return st;
}

void
store_free(struct store *st)
{
	if (st == NULL)
		return;
	PQfinish(st->conn);
	free(st->conninfo);
	free(st);
}

const char *
store_sqlstate(const struct store *st)
{
	return st->sqlstate;
}

unsigned long
store_reconnects(const struct store *st)
{
	return st->reconnects;
}

/*
 * Opens serve's connection, its lock and statement waits bounded for the whole
 * session: statement_timeout, or the delivery budget when that is shorter.
 */
static PGconn *
open_conn(struct store *st)
{
	char lock[16], statement[16];
	const char *const settings[] = { "lock_timeout", lock, "statement_timeout", statement, NULL };
	const struct db_params p = { .conninfo = st->conninfo,
		.app = "callhook",
		.connect_timeout_s = st->connect_timeout_s,
		.settings = settings };

	st->timeout_ms = st->statement_timeout_ms < st->budget_ms ? st->statement_timeout_ms : st->budget_ms;
	snprintf(lock, sizeof(lock), "%d", st->lock_timeout_ms);
	snprintf(statement, sizeof(statement), "%d", st->timeout_ms);
	return db_connect(&p, NULL, 0);
}

/* Warns once when serve connects with more rights than it needs (README, "Install": a member of callhook_writer). */
static void
check_privileges(PGconn *conn)
{
	PGresult *r = PQexec(conn,
	    "SELECT r.rolsuper, EXISTS (SELECT 1 FROM pg_catalog.pg_tables t "
	    "WHERE t.schemaname = 'callhook' AND t.tableowner = current_user) FROM pg_catalog.pg_roles r "
	    "WHERE r.rolname = current_user");

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		if (!strcmp(PQgetvalue(r, 0, 0), "t"))
			log_msg(LOG_WARNING,
			    "the database role is a superuser: connect as a member of "
			    "callhook_writer instead");
		else if (!strcmp(PQgetvalue(r, 0, 1), "t"))
			log_msg(LOG_WARNING,
			    "the database role owns callhook's tables: connect as a member "
			    "of callhook_writer instead");
	}
	PQclear(r);
}

static bool
prepare(struct store *st)
{
	static const char *const names[] = { "ingest", "ingest_one", "notify" };
	static const char *const sql[] = { INGEST_SQL, INGEST_ONE_SQL, NOTIFY_SQL };
	PGresult *r = NULL;
	bool ok = true;
	size_t i;

	for (i = 0; ok && i < sizeof(names) / sizeof(names[0]); i++) {
		PQclear(r);
		r = PQprepare(st->conn, names[i], sql[i], 0, NULL);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	}
	if (!ok)
		log_msg(LOG_ERROR, "could not prepare statements: %s; has \"callhook migrate\" run?",
		    PQresultErrorField(r, PG_DIAG_SQLSTATE) ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : "");
	PQclear(r);
	return ok;
}

/* Whether a notices array (text, as ingest() returns it) holds nothing to send. */
static bool
no_notices(const char *notices)
{
	return notices == NULL || !strcmp(notices, "{}");
}

/* Logs a failed callhook.notify(); the rows it announces are stored all the same. */
static void
notify_failed(const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	log_msg(LOG_WARNING, "could not send notifications: SQLSTATE %s", state ? state : "08000");
}

/* Reads the result of the notifications sent after the last delivery, if any. */
static void
settle(struct store *st)
{
	PGresult *r;

	if (!st->notifying)
		return;
	st->notifying = false;
	while ((r = PQgetResult(st->conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			notify_failed(r);
		PQclear(r);
	}
}

/*
 * Sends `notices` (a text[] literal) of a committed transaction as a
 * transaction of its own (after each commit), without waiting for the answer:
 * the requests are answered meanwhile, and settle() reads the result before
 * the connection's next command.
 */
static void
notify_later(struct store *st, const char *notices)
{
	const char *v[1] = { notices };

	if (no_notices(v[0]))
		return;
	if (PQsendQueryPrepared(st->conn, "notify", 1, v, NULL, NULL, 0))
		st->notifying = true;
	else
		log_msg(LOG_WARNING, "could not send notifications: %s", PQerrorMessage(st->conn));
}

bool
store_notify(PGconn *conn, const char *notices)
{
	const char *v[1] = { notices };
	PGresult *r;
	bool ok;

	if (no_notices(notices))
		return true;
	r = PQexecParams(conn, NOTIFY_SQL, 1, NULL, v, NULL, NULL, 0);
	if (!(ok = PQresultStatus(r) == PGRES_TUPLES_OK))
		notify_failed(r);
	PQclear(r);
	return ok;
}

enum ch_err
store_connect(struct store *st)
{
	if (st->conn != NULL)
		settle(st);
	if (st->conn != NULL && PQstatus(st->conn) == CONNECTION_OK && st->prepared)
		return CH_OK;
	PQfinish(st->conn);
	st->prepared = false;
	if ((st->conn = open_conn(st)) == NULL)
		return CH_ERR_DB_DOWN;
	if (st->was_connected)
		st->reconnects++;
	else
		check_privileges(st->conn);
	st->was_connected = true;
	if (!prepare(st)) {
		PQfinish(st->conn);
		st->conn = NULL;
		return CH_ERR_DB;
	}
	st->prepared = true;
	return CH_OK;
}

enum ch_err
store_ping(struct store *st)
{
	PGresult *r;
	bool ok;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if (store_connect(st) != CH_OK)
			return CH_ERR_DB_DOWN;
		r = PQexec(st->conn, "SELECT 1");
		ok = PQresultStatus(r) == PGRES_TUPLES_OK;
		PQclear(r);
		if (ok)
			return CH_OK;
		st->prepared = false; /* a stale connection: reconnect once */
	}
	return CH_ERR_DB_DOWN;
}

static enum outcome
outcome_from(const char *s)
{
	static const enum outcome all[] = { OUT_STORED, OUT_DUPLICATE, OUT_IGNORED, OUT_REJECTED, OUT_SPOOLED,
		OUT_ERROR };
	size_t i;

	for (i = 0; s != NULL && i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(s, outcome_name(all[i])))
			return all[i];
	return OUT_ERROR;
}

/* Reads result row `row` of callhook.ingest_many() into *res. */
static void
read_result(const PGresult *r, int row, struct ingest_result *res)
{
	res->delivery_id = strtoll(PQgetvalue(r, row, 0), NULL, 10);
	res->outcome = outcome_from(PQgetvalue(r, row, 1));
	res->prior = PQgetisnull(r, row, 2) ? OUT_STORED : outcome_from(PQgetvalue(r, row, 2));
}

/*
 * The arguments of callhook.ingest_batch(): 13 arrays with one element per
 * delivery, then the row operations (rowops.h); or those of callhook.ingest()
 * for one delivery. Their formats: the timestamps as a text literal, the
 * others binary.
 */
struct ingest_params {
	struct pg_array a[INGEST_PARAMS];
	struct row_ops ops;
	const char *v[BATCH_PARAMS];
	int len[BATCH_PARAMS], fmt[BATCH_PARAMS];
};

static void
params_free(struct ingest_params *p)
{
	int k;

	for (k = 0; k < INGEST_PARAMS; k++)
		pg_array_free(&p->a[k]);
	row_ops_free(&p->ops);
}

/* Fills p from in[0..n-1]: each delivery's rows typed when they can be, else in JSON; false when out of memory. */
static bool
params_fill(struct ingest_params *p, const struct ingest *const *in, size_t n)
{
	static const uint32_t oid[INGEST_PARAMS] = { PG_OID_TEXT, PG_OID_TEXT, PG_OID_TEXT, PG_OID_TEXT,
		PG_OID_TEXT, PG_OID_TEXT, PG_OID_JSONB, PG_OID_BYTEA, PG_OID_TEXT, PG_OID_TEXT, PG_OID_TEXT,
		PG_OID_JSONB, 0 };
	size_t i;
	int k;

	memset(p, 0, sizeof(*p));
	for (k = 0; k < INGEST_PARAMS - 1; k++)
		pg_array_begin(&p->a[k], oid[k], n);
	row_ops_begin(&p->ops);
	for (i = 0; i < n; i++) {
		bool typed = in[i]->row_ops != NULL && row_ops_typed(in[i]->row_ops);
		const char *v[INGEST_PARAMS] = { in[i]->source, in[i]->vendor, in[i]->event, in[i]->method,
			in[i]->content_type, in[i]->query, in[i]->headers,
			in[i]->body != NULL ? in[i]->body : "", in[i]->dedup_key,
			outcome_name(in[i]->outcome), in[i]->error, NULL, in[i]->received_at };

		for (k = 0; k < INGEST_PARAMS - 1; k++)
			if (k == PARAM_ROWS)
				row_ops_json_element(&p->a[k], typed ? NULL : in[i]->row_ops);
			else
				pg_array_bin(&p->a[k], oid[k], v[k],
				    k == PARAM_BODY  ? in[i]->body_len :
					v[k] != NULL ? strlen(v[k]) :
						       0);
		pg_array_quoted(&p->a[INGEST_PARAMS - 1], in[i]->received_at);
		if (typed)
			row_ops_add(&p->ops, (int)i + 1, in[i]->row_ops);
	}
	pg_array_close(&p->a[INGEST_PARAMS - 1]);
	if (!row_ops_end(&p->ops)) {
		params_free(p);
		return false;
	}
	for (k = 0; k < BATCH_PARAMS; k++) {
		struct pg_array *a = k < INGEST_PARAMS ? &p->a[k] : &p->ops.a[k - INGEST_PARAMS];

		if (a->failed) {
			params_free(p);
			return false;
		}
		p->v[k] = a->p;
		p->len[k] = (int)a->len;
		p->fmt[k] = k != INGEST_PARAMS - 1;
	}
	return true;
}

/*
 * The arguments of callhook.ingest() for `in` (borrowed from it but the rows'
 * JSON text), the body binary; false when out of memory.
 */
static bool
params_one(const struct ingest *in, struct ingest_params *p)
{
	const char *v[INGEST_PARAMS] = { in->source, in->vendor, in->event, in->method, in->content_type,
		in->query, in->headers, in->body ? in->body : "", in->dedup_key, outcome_name(in->outcome),
		in->error, NULL, in->received_at };

	memset(p, 0, sizeof(*p));
	if (in->row_ops != NULL) {
		row_ops_json_text(&p->a[PARAM_ROWS], in->row_ops);
		if (p->a[PARAM_ROWS].failed) {
			params_free(p);
			return false;
		}
		v[PARAM_ROWS] = p->a[PARAM_ROWS].p;
	}
	memcpy(p->v, v, sizeof(v));
	p->len[PARAM_BODY] = (int)in->body_len;
	p->fmt[PARAM_BODY] = 1;
	return true;
}

/*
 * Sets the session's statement_timeout to ms unless it is within SLACK_MS of
 * that already (so a delivery with its whole budget ahead costs no extra round
 * trip); false when that failed.
 */
static bool
set_timeout(struct store *st, int ms)
{
	char v[16];
	const char *const settings[] = { "statement_timeout", v, NULL };

	if (ms >= st->timeout_ms - SLACK_MS && ms <= st->timeout_ms + SLACK_MS)
		return true;
	snprintf(v, sizeof(v), "%d", ms);
	if (!db_session(st->conn, settings))
		return false;
	st->timeout_ms = ms;
	return true;
}

/*
 * Waits before attempt number `attempt` (1, 2, …): BACKOFF_MS doubled each
 * time, half of it random so that colliding workers part. False, without
 * waiting, when the wait would reach the deadline.
 */
static bool
back_off(int attempt, long long deadline)
{
	long ms = (long)BACKOFF_MS << (attempt - 1);
	struct timespec ts;

	ms = ms / 2 + random() % (ms / 2 + 1);
	if ((long long)mono_ms() + ms >= deadline)
		return false;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
	return true;
}

/* Records a failed result r (NULL: the connection gave none): *f, st->sqlstate, reconnect when down. */
static void
note_failure(struct store *st, const PGresult *r, enum db_failure *f)
{
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	*f = r != NULL ? db_classify(st->conn, r) : DB_DOWN;
	snprintf(st->sqlstate, sizeof(st->sqlstate), "%s", state != NULL ? state : "08000");
	if (*f == DB_DOWN)
		st->prepared = false; /* reconnect before the next attempt */
}

/* Cuts the next statements off after `left` ms at the latest; false (the connection lost) when it cannot. */
static bool
bound_statements(struct store *st, long long left, enum db_failure *f)
{
	if (set_timeout(st, left < st->statement_timeout_ms ? (int)left : st->statement_timeout_ms))
		return true;
	note_failure(st, NULL, f);
	return false;
}

/*
 * Appends the elements of the text[] literal `notices` to the literal *all
 * (*len its length): "{a,b}" and "{c}" make "{a,b,c}". False when out of memory.
 */
static bool
add_notices(char **all, size_t *len, const char *notices)
{
	size_t n;
	char *p;

	if (no_notices(notices))
		return true;
	n = strlen(notices) - 2; /* without the braces */
	if ((p = realloc(*all, *len + n + 3)) == NULL)
		return false;
	*all = p;
	if (*len == 0)
		p[(*len)++] = '{';
	else
		p[*len - 1] = ',';
	memcpy(p + *len, notices + 1, n);
	*len += n;
	p[(*len)++] = '}';
	p[*len] = '\0';
	return true;
}

/*
 * One run of callhook.ingest_many() for in[0..n-1] (callhook.ingest() for a
 * lone one): one statement, so one transaction and one round trip, cut off after `left` ms. True when all were
 * committed (res[i] set); then their notifications go out in one
 * callhook.notify(). Otherwise *f says what the failure calls for and
 * st->sqlstate holds its SQLSTATE.
 */
static bool
attempt_many(struct store *st, const struct ingest *const *in, size_t n, struct ingest_result *res,
    long long left, enum db_failure *f)
{
	struct ingest_params p;
	char *notices = NULL;
	size_t len = 0;
	PGresult *r;
	bool ok;
	int i;

	if (!bound_statements(st, left, f))
		return false;
	if (n == 1 ? params_one(in[0], &p) : params_fill(&p, in, n)) {
		r = n == 1 ? PQexecPrepared(st->conn, "ingest_one", INGEST_PARAMS, p.v, p.len, p.fmt, 0) :
			     PQexecPrepared(st->conn, "ingest", BATCH_PARAMS, p.v, p.len, p.fmt, 0);
		params_free(&p);
	} else {
		*f = DB_DOWN; /* out of memory: spooled, as a lost connection is */
		snprintf(st->sqlstate, sizeof(st->sqlstate), "53200");
		return false;
	}
	ok = PQresultStatus(r) == PGRES_TUPLES_OK && (size_t)PQntuples(r) == n;
	if (!ok) {
		note_failure(st, r, f);
		PQclear(r);
		return false;
	}
	for (i = 0; i < (int)n; i++) {
		read_result(r, i, &res[i]);
		if (!add_notices(&notices, &len, PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3)))
			log_msg(LOG_WARNING, "could not send notifications: out of memory");
	}
	PQclear(r);
	notify_later(st, notices);
	free(notices);
	return true;
}

/*
 * Runs the n deliveries until stored, a failure that is not transient, the
 * deadline or MAX_ATTEMPTS: CH_OK, or the last failure in *f and st->sqlstate
 * and the attempts made in *tries.
 */
static enum ch_err
run_bounded(struct store *st, const struct ingest *const *in, size_t n, struct ingest_result *res,
    long long deadline, enum db_failure *f, int *tries)
{
	long long start = (long long)mono_ms(), left;
	size_t i;

	st->sqlstate[0] = '\0';
	for (*tries = 0; *tries < MAX_ATTEMPTS;) {
		if (*tries > 0 && !back_off(*tries, deadline))
			break;
		if ((left = deadline - (long long)mono_ms()) <= 0 || store_connect(st) != CH_OK)
			break;
		++*tries;
		if (attempt_many(st, in, n, res, left, f)) {
			for (i = 0; i < n; i++)
				res[i].spent_ms = (long long)mono_ms() - start;
			return CH_OK;
		}
		if (*f == DB_ERROR)
			break;
	}
	return CH_ERR_DB_DOWN;
}

/* Logs why n deliveries are spooled after `tries` attempts since `start`. */
static void
log_spooling(const struct store *st, size_t n, int tries, long long start)
{
	if (st->sqlstate[0] != '\0')
		log_msg(LOG_WARNING,
		    "could not store %s: SQLSTATE %s after %d attempts in %lld ms: "
		    "spooling %s",
		    n == 1 ? "delivery" : "batch", st->sqlstate, tries, (long long)mono_ms() - start,
		    n == 1 ? "it" : "each");
}

enum ch_err
store_ingest(struct store *st, const struct ingest *in, struct ingest_result *res)
{
	long long start = (long long)mono_ms();
	enum db_failure f = DB_DOWN;
	int tries;

	if (run_bounded(st, &in, 1, res, start + (in->budget_ms > 0 ? in->budget_ms : st->budget_ms), &f,
		&tries) == CH_OK)
		return CH_OK;
	if (f == DB_ERROR && db_data_error(st->sqlstate)) {
		log_msg(LOG_ERROR, "could not store delivery: SQLSTATE %s", st->sqlstate);
		return CH_ERR_DB;
	}
	log_spooling(st, 1, tries, start);
	return CH_ERR_DB_DOWN;
}

enum ch_err
store_ingest_batch(struct store *st, const struct ingest *const *in, size_t n, struct ingest_result *res,
    int budget_ms)
{
	long long start = (long long)mono_ms();
	enum db_failure f = DB_DOWN;
	int tries;

	if (run_bounded(st, in, n, res, start + budget_ms, &f, &tries) == CH_OK)
		return CH_OK;
	if (f == DB_ERROR)
		return CH_ERR_DB; /* one of them: the caller stores each on its own */
	log_spooling(st, n, tries, start);
	return CH_ERR_DB_DOWN;
}

enum ch_err
store_route(struct store *st, const char *const args[4], int timeout_ms, char **reply)
{
	char timeout[32];
	const char *set[1] = { timeout };
	PGresult *r;
	enum ch_err err;

	*reply = NULL;
	if ((err = store_connect(st)) != CH_OK)
		return err;
	snprintf(timeout, sizeof(timeout), "%dms", timeout_ms);
	PQclear(PQexec(st->conn, "BEGIN"));
	PQclear(PQexecParams(st->conn, "SELECT set_config('statement_timeout', $1, true)", 1, NULL, set, NULL,
	    NULL, 0));
	r = PQexecParams(st->conn, "SELECT callhook.route_call($1, $2, $3, $4)::text", 4, NULL, args, NULL,
	    NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		*reply = strdup(PQgetvalue(r, 0, 0));
	else
		err = CH_ERR_DB;
	PQclear(r);
	PQclear(PQexec(st->conn, *reply ? "COMMIT" : "ROLLBACK"));
	return err;
}
