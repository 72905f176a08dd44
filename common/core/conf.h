/* The configuration file: options, sources, and the problems found in them. */
#ifndef CALLHOOK_CONFIG_H
#define CALLHOOK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include "core/err.h"

struct vendor;

struct source {
	char *name;
	char *vendor_name; /* as written; NULL: no vendor line */
	int vendor_line;
	const struct vendor *vendor; /* set by vendor_bind_sources(); NULL until then or if unknown */
	char *signing_key;           /* CallRail HMAC key */
	char *token;                 /* ?token= or Authorization: Bearer */
	char *header_name;           /* required header, e.g. "X-Api-Key" */
	char *header_param;          /* its CGI name, e.g. "HTTP_X_API_KEY" */
	char *header_value;
	char *basic_auth; /* "user:password" */
	bool allow_unauthenticated;
	int line; /* line of the [source …] heading */
};

struct config {
	char *path;
	char *conninfo;
	char *migrate_conninfo; /* NULL: use conninfo */
	char *report_conninfo;  /* NULL: use conninfo */
	int connect_timeout_s;  /* serve's bounds on the database, see config_options[] */
	int lock_timeout_ms;
	int statement_timeout_ms;
	int delivery_budget_ms;
	char *erasure_key;    /* HMAC key of callhook.erasures; NULL: forget refuses */
	int keep_bodies_days; /* retention horizons of prune, in days; 0: keep forever */
	int keep_deliveries_days;
	size_t max_body;
	char *spool_dir;
	int route_timeout_ms;   /* bound on callhook.route_call() */
	int requests_in_flight; /* request threads per serve worker (group commit) */
	struct source *sources;
	size_t nsources;
	char **problems; /* "FILE:LINE: message" */
	size_t nproblems;
};

/* The largest value of a size option: 1 GiB. */
#define CONFIG_SIZE_MAX (1LL << 30)

/* What an option's value is: how it is read, checked and stored. */
enum option_type {
	OPT_TEXT,     /* any text (char *) */
	OPT_SECRET,   /* any text (char *), never shown */
	OPT_INT,      /* a whole number from min to max (int) */
	OPT_SIZE,     /* bytes from min to max, with an optional k or M suffix (size_t) */
	OPT_BOOL,     /* yes or no; also true/false, on/off, 1/0 (bool) */
	OPT_VENDOR,   /* a vendor's name (char *), its line in vendor_line */
	OPT_HEADER,   /* secret "Name: value": the value (char *), header_name, header_param */
	OPT_USERPASS, /* secret "user:password" (char *) */
};

/*
 * One option, declared once: config_load() reads, checks and defaults it
 * from this entry alone, and the docs test holds the sample config and
 * callhook.conf(5) to it.
 */
struct config_option {
	const char *section; /* "database", "server" or "source" */
	const char *name;
	enum option_type type;
	size_t off;         /* of the field in struct config, or in struct source for "source" */
	const char *def;    /* default, as it would be written in the file; NULL: none */
	long long min, max; /* OPT_INT and OPT_SIZE */
	const char *unit;   /* OPT_INT: what it counts, as callhook.conf(5) names the value */
	const char *doc;    /* one line, also in the sample config */
};
extern const struct config_option config_options[];

/*
 * Reads `path` into a new config (free with config_free()). Returns NULL only
 * when out of memory; otherwise problems, if any, are in cfg->nproblems, and
 * the config must not be used for serving while there are any. The sources'
 * vendors are names until vendor_bind_sources() (vendors/vendor.h) looks
 * them up.
 */
struct config *config_load(const char *path) MUSTCHECK;
void config_free(struct config *cfg);

/* Records the problem "FILE:LINE: message" (line 0: "FILE: message") in cfg. */
void config_problem(struct config *cfg, int line, const char *fmt, ...) PRINTF(3, 4);

/* Borrowing lookup: the source called `name`, or NULL. */
const struct source *config_find_source(const struct config *cfg, const char *name, size_t len);

/* Parses "1M", "512k", "65536" into bytes; -1 when invalid. */
long long config_parse_size(const char *s);

#endif
