/* Schema migrations: embedded SQL applied once each, in order, under an advisory lock. */
#ifndef CALLHOOK_MIGRATE_H
#define CALLHOOK_MIGRATE_H

#include "core/err.h"

struct migration {
	int version;
	const char *name;
	const char *sql;
};
extern const struct migration migrations[];

/*
 * Creates or upgrades schema callhook on `conninfo` in one transaction, safe
 * to run twice and from several hosts at once. Prints what it applied on
 * stdout; on failure writes the reason to stderr.
 */
enum ch_err migrate_run(const char *conninfo) MUSTCHECK;

/* The newest version applied to the database, 0 when none, -1 when it cannot be read. */
int migrate_current(const char *conninfo);

#endif
