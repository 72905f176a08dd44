/*
 * callhook prune: empties raw bodies older than keep_bodies and drops the monthly
 * partitions of deliveries older than keep_deliveries, through callhook.prune()
 * (sql/008_partitions.sql); and the hourly creation of the partitions ahead.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>

#include "core/db.h"
#include "core/log.h"
#include "cli/args.h"
#include "cli/prune.h"

#define PRUNE_SQL "SELECT item, n FROM callhook.prune($1::integer, $2::integer, $3::boolean)"
#define ENSURE_SQL "SELECT callhook.ensure_partitions($1::integer)"
#define TICK_OK_S 3600
#define TICK_RETRY_S 60

static void
describe_days(FILE *fp, const char *what, int days)
{
	if (days == 0)
		fprintf(fp, "%s kept forever", what);
	else
		fprintf(fp, "%s kept %d day%s", what, days, days == 1 ? "" : "s");
}

void
prune_describe(const struct config *cfg, FILE *fp)
{
	fprintf(fp, "retention: ");
	describe_days(fp, "raw bodies", cfg->keep_bodies_days);
	fprintf(fp, ", ");
	describe_days(fp, "deliveries", cfg->keep_deliveries_days);
	fprintf(fp, " (keep_bodies, keep_deliveries)\n");
}

/* "1234567 (1.2 MB)": a byte count as printed by prune, in kB at least. */
static void
print_bytes(const char *label, const char *n)
{
	double v = strtod(n, NULL) / 1000;
	const char *unit[] = { "kB", "MB", "GB", "TB", "PB" };
	int u = 0;

	while (v >= 1000 && u < 4) {
		v /= 1000;
		u++;
	}
	printf("  %-20s %s (%.1f %s)\n", label, n, v, unit[u]);
}

/* Runs callhook.prune() in the open transaction and prints its rows. */
static bool
prune_rows(PGconn *conn, const struct config *cfg, bool dry_run)
{
	char b[16], d[16];
	const char *v[3] = { b, d, dry_run ? "t" : "f" };
	PGresult *r;
	bool ok;
	int i;

	snprintf(b, sizeof(b), "%d", cfg->keep_bodies_days);
	snprintf(d, sizeof(d), "%d", cfg->keep_deliveries_days);
	r = PQexecParams(conn, PRUNE_SQL, 3, NULL, v, NULL, NULL, 0);
	ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "callhook: prune failed: %s", PQerrorMessage(conn));
	for (i = 0; ok && i < PQntuples(r); i++) {
		if (strstr(PQgetvalue(r, i, 0), "bytes") != NULL)
			print_bytes(PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
		else
			printf("  %-20s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	}
	PQclear(r);
	return ok;
}

int
prune_main(const struct config *cfg, int argc, char **argv)
{
	const struct db_params p = { .conninfo = cfg->migrate_conninfo ? cfg->migrate_conninfo : cfg->conninfo,
		.app = "callhook-prune" };
	bool dry_run = false, ok;
	char why[512];
	PGconn *conn;

	if (args_dry_run(argc, argv, 0, &dry_run, "callhook prune [--dry-run]") < 0)
		return 2;
	if ((conn = db_connect(&p, why, sizeof(why))) == NULL) {
		fprintf(stderr, "callhook: could not connect to the database: %s", why);
		return 1;
	}
	prune_describe(cfg, stdout);
	printf("%s:\n", dry_run ? "would remove" : "removing");
	ok = db_command(conn, "BEGIN") && prune_rows(conn, cfg, dry_run);
	if (ok && !dry_run)
		ok = db_command(conn, "COMMIT");
	else
		db_command(conn, "ROLLBACK");
	if (ok)
		printf("%s\n",
		    dry_run ?
			"dry run: nothing was removed" :
			"done (the space of emptied bodies is reused after VACUUM; dropped partitions' at once)");
	PQfinish(conn);
	return ok ? 0 : 1;
}

/* One callhook.ensure_partitions() on a connection of its own; false when it failed. */
static bool
ensure_partitions(const struct config *cfg)
{
	char lock[16], stmt[16], ahead[16], why[512];
	const char *const settings[] = { "lock_timeout", lock, "statement_timeout", stmt, NULL };
	const struct db_params p = { .conninfo = cfg->conninfo,
		.app = "callhook-partitions",
		.connect_timeout_s = cfg->connect_timeout_s,
		.settings = settings };
	const char *v[1] = { ahead };
	PGconn *conn;
	PGresult *r;
	bool ok;

	snprintf(lock, sizeof(lock), "%d", cfg->lock_timeout_ms);
	snprintf(stmt, sizeof(stmt), "%d", cfg->statement_timeout_ms);
	snprintf(ahead, sizeof(ahead), "%d", PARTITIONS_AHEAD);
	if ((conn = db_connect(&p, why, sizeof(why))) == NULL) {
		why[strcspn(why, "\n")] = '\0';
		log_msg(LOG_WARNING, "could not create delivery partitions: %s", why);
		return false;
	}
	r = PQexecParams(conn, ENSURE_SQL, 1, NULL, v, NULL, NULL, 0);
	ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		log_msg(LOG_WARNING, "could not create delivery partitions: SQLSTATE %s: %s",
		    PQresultErrorField(r, PG_DIAG_SQLSTATE) ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : "08000",
		    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) ?
			PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) :
			"no answer");
	else if (atoi(PQgetvalue(r, 0, 0)) > 0)
		log_msg(LOG_INFO, "created %s delivery partition(s)", PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(conn);
	return ok;
}

void
prune_partitions_tick(const struct config *cfg)
{
	static time_t next;
	time_t now = time(NULL);

	if (now < next)
		return;
	next = now + (ensure_partitions(cfg) ? TICK_OK_S : TICK_RETRY_S);
}
