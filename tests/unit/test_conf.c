/* Config parsing: defaults, sources, and problems named with file and line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "tmpconf.h"
#include "core/conf.h"
#include "vendors/vendor.h"

/* True when some problem contains `needle`. */
static bool
has_problem(const struct config *cfg, const char *needle)
{
	size_t i;

	for (i = 0; i < cfg->nproblems; i++)
		if (strstr(cfg->problems[i], needle))
			return true;
	return false;
}

/* Checks that cfg, read from `path`, has the problem "path:line: text…" (needs a char want[512]). */
#define EXPECT(line, text) \
	do { \
		snprintf(want, sizeof(want), "%s:%d: %s", path, line, text); \
		CHECK(has_problem(cfg, want), "problem reported: %d: %s", line, text); \
	} while (0)

static void
good_config(void)
{
	char *path = write_tmp(
	    "[database]\nconninfo = host=/tmp dbname=x\n"
	    "[server]\nmax_body = 64k\nspool_dir = /tmp/spool\n"
	    "[source acme]\nvendor = calltracker\ntoken = abc\n"
	    "[source acme-2]  ; comment\nvendor = calltracker\nheader = X-Api-Key: s3cret value\n"
	    "[source open]\nvendor = calltracker\nallow_unauthenticated = yes\n");
	struct config *cfg = vendor_bind_sources(config_load(path));
	const struct source *s;

	CHECK(cfg->nproblems == 0, "a good config has no problems");
	CHECK_STR(cfg->conninfo, "host=/tmp dbname=x", "conninfo read");
	CHECK(cfg->max_body == 65536, "max_body 64k is 65536 bytes");
	CHECK_STR(cfg->spool_dir, "/tmp/spool", "spool_dir read");
	CHECK(cfg->nsources == 3, "three sources");
	s = config_find_source(cfg, "acme-2", 6);
	CHECK(s != NULL && s->vendor == &vendor_calltracker, "source acme-2 found with its vendor");
	CHECK_STR(s ? s->header_param : NULL, "HTTP_X_API_KEY", "header name becomes its CGI parameter");
	CHECK_STR(s ? s->header_value : NULL, "s3cret value", "header value kept whole");
	CHECK(config_find_source(cfg, "acme", 3) == NULL, "lookup by length does not match a prefix");
	CHECK(config_find_source(cfg, "open", 4)->allow_unauthenticated, "allow_unauthenticated = yes");
	config_free(cfg);
	unlink(path);
	free(path);
}

static void
defaults(void)
{
	char *path = write_tmp("[source a]\nvendor = calltracker\ntoken = t\n");
	struct config *cfg = vendor_bind_sources(config_load(path));

	CHECK(cfg->nproblems == 0, "a config with only a source is valid");
	CHECK(cfg->max_body == 1048576, "max_body defaults to 1M");
	CHECK_STR(cfg->conninfo, "postgresql:///callhook", "conninfo default");
	CHECK_STR(cfg->spool_dir, "/var/spool/callhook", "spool_dir default");
	CHECK(cfg->connect_timeout_s == 3, "connect_timeout defaults to 3 s");
	CHECK(cfg->lock_timeout_ms == 1000, "lock_timeout defaults to 1000 ms");
	CHECK(cfg->keep_bodies_days == 0 && cfg->keep_deliveries_days == 0,
	    "keep_bodies and keep_deliveries default to 0: keep everything");
	CHECK(cfg->statement_timeout_ms == 5000, "statement_timeout defaults to 5000 ms");
	CHECK(cfg->delivery_budget_ms == 3000, "delivery_budget_ms defaults to 3000");
	CHECK(cfg->requests_in_flight == 32, "requests_in_flight defaults to 32");
	CHECK(cfg->route_timeout_ms == 2000, "route_timeout_ms defaults to 2000");
	CHECK(cfg->migrate_conninfo == NULL && cfg->report_conninfo == NULL && cfg->erasure_key == NULL,
	    "migrate_conninfo, report_conninfo and erasure_key have no default");
	CHECK(!cfg->sources[0].allow_unauthenticated, "allow_unauthenticated defaults to no");
	config_free(cfg);
	unlink(path);
	free(path);
}

static void
mistakes(void)
{
	char *path = write_tmp(
	    "[server]\n"             /* 1 */
	    "max_body = 12Q\n"       /* 2 */
	    "colour = blue\n"        /* 3 */
	    "[source a]\n"           /* 4 */
	    "token = t\n"            /* 5 */
	    "[source b]\n"           /* 6 */
	    "vendor = calltracker\n" /* 7 */
	    "[source b]\n"           /* 8 */
	    "vendor = calltracker\n" /* 9 */
	    "token = x\n"            /* 10 */
	    "[source c]\n"           /* 11 */
	    "vendor = nosuch\n"      /* 12 */
	    "token = x\n"            /* 13 */
	    "[mystery]\n"            /* 14 */
	    "a = b\n");              /* 15 */
	struct config *cfg = vendor_bind_sources(config_load(path));
	char want[512];

	EXPECT(2, "max_body: invalid size");
	EXPECT(3, "unknown key \"colour\" in [server]");
	EXPECT(4, "source a: missing vendor");
	EXPECT(6, "source b: no credentials");
	EXPECT(8, "duplicate [source b]");
	EXPECT(12, "source c: unknown vendor \"nosuch\"");
	EXPECT(14, "unknown section [mystery]");
	CHECK(cfg->nproblems == 7, "exactly seven problems (got %zu)", cfg->nproblems);
	config_free(cfg);
	unlink(path);
	free(path);
}

/* config_load() keeps each vendor's name and line; vendor_bind_sources() looks them up. */
static void
vendor_binding(void)
{
	char *path = write_tmp(
	    "[source a]\n"        /* 1 */
	    "vendor = nosuch\n"   /* 2 */
	    "token = t\n"         /* 3 */
	    "[source b]\n"        /* 4 */
	    "vendor = callrail\n" /* 5 */
	    "signing_key = k\n"); /* 6 */
	struct config *cfg = config_load(path);
	char want[512];

	CHECK(cfg->nproblems == 0, "config_load() alone does not judge vendor names");
	CHECK(cfg->sources[0].vendor == NULL && cfg->sources[1].vendor == NULL,
	    "config_load() alone leaves the vendors unresolved");
	CHECK_STR(cfg->sources[0].vendor_name, "nosuch", "the vendor's name is kept as written");
	CHECK(cfg->sources[0].vendor_line == 2, "with its line");
	CHECK(vendor_bind_sources(cfg) == cfg, "vendor_bind_sources() returns the config");
	EXPECT(2,
	    "source a: unknown vendor \"nosuch\" (expected callrail, calltracker, salpre, callscaler "
	    "or fonedynamics)");
	CHECK(cfg->nproblems == 1, "one problem: the unknown vendor (got %zu)", cfg->nproblems);
	CHECK(cfg->sources[1].vendor == &vendor_callrail, "a known vendor is bound");
	CHECK(vendor_bind_sources(NULL) == NULL,
	    "vendor_bind_sources(NULL) is NULL, as when config_load() is out of memory");
	config_free(cfg);
	unlink(path);
	free(path);
}

static void
sizes(void)
{
	CHECK(config_parse_size("1M") == 1048576, "1M");
	CHECK(config_parse_size("512k") == 524288, "512k");
	CHECK(config_parse_size("100") == 100, "100");
	CHECK(config_parse_size("2MB") == 2097152, "2MB");
	CHECK(config_parse_size("12Q") == -1, "12Q rejected");
	CHECK(config_parse_size("-5") == -1, "negative rejected");
	CHECK(config_parse_size("") == -1, "empty rejected");
	CHECK(config_parse_size("5G") == -1, "5G rejected (no G suffix)");
	CHECK(config_parse_size("430390778619552654m") == -1,
	    "a huge number with a suffix is rejected, not overflowed");
	CHECK(config_parse_size("1073741824") == 1073741824, "1 GiB is the largest size");
	CHECK(config_parse_size("1025M") == -1, "over 1 GiB with a suffix is rejected");
}

/*
 * The numeric options: read when in range, else one problem each naming the
 * file, line and range, trailing garbage and overflow included.
 */
static void
bounds(void)
{
	char *path = write_tmp(
	    "[database]\n"                        /* 1 */
	    "connect_timeout = 7\n"               /* 2 */
	    "lock_timeout = 250\n"                /* 3 */
	    "statement_timeout = 900\n"           /* 4 */
	    "delivery_budget_ms = 1500\n"         /* 5 */
	    "keep_bodies = 30\n"                  /* 6 */
	    "keep_deliveries = 400\n"             /* 7 */
	    "[server]\nrequests_in_flight = 64\n" /* 8, 9 */
	    "[source a]\nvendor = calltracker\ntoken = t\n");
	struct config *cfg = vendor_bind_sources(config_load(path));
	char want[512];

	CHECK(cfg->nproblems == 0, "bounds in range are no problem");
	CHECK(cfg->connect_timeout_s == 7 && cfg->lock_timeout_ms == 250 && cfg->statement_timeout_ms == 900 &&
		cfg->delivery_budget_ms == 1500 && cfg->requests_in_flight == 64,
	    "bounds read");
	CHECK(cfg->keep_bodies_days == 30 && cfg->keep_deliveries_days == 400, "retention horizons read");
	config_free(cfg);
	unlink(path);
	free(path);
	path = write_tmp(
	    "[database]\n"                              /* 1 */
	    "connect_timeout = 1\n"                     /* 2 */
	    "lock_timeout = 5s\n"                       /* 3 */
	    "statement_timeout = 600001\n"              /* 4 */
	    "delivery_budget_ms = \n"                   /* 5 */
	    "keep_bodies = -1\n"                        /* 6 */
	    "keep_deliveries = 30d\n"                   /* 7 */
	    "statement_timeout = 9223372036854775808\n" /* 8 */
	    "[server]\n"                                /* 9 */
	    "requests_in_flight = 0\n"                  /* 10 */
	    "route_timeout_ms = 100abc\n"               /* 11 */
	    "route_timeout_ms = 100 ms\n"               /* 12 */
	    "max_body = 99999999999999999999k\n"        /* 13 */
	    "[source a]\nvendor = calltracker\ntoken = t\n");
	cfg = vendor_bind_sources(config_load(path));
	EXPECT(2, "connect_timeout: expected 2 to 60");
	EXPECT(3, "lock_timeout: expected 10 to 60000");
	EXPECT(4, "statement_timeout: expected 100 to 600000");
	EXPECT(5, "delivery_budget_ms: expected 100 to 60000");
	EXPECT(6, "keep_bodies: expected 0 to 36500");
	EXPECT(7, "keep_deliveries: expected 0 to 36500");
	EXPECT(8, "statement_timeout: expected 100 to 600000");
	EXPECT(10, "requests_in_flight: expected 1 to 64");
	EXPECT(11, "route_timeout_ms: expected 10 to 30000");
	EXPECT(12, "route_timeout_ms: expected 10 to 30000");
	EXPECT(13, "max_body: invalid size \"99999999999999999999k\" (expected e.g. 1M, 512k)");
	CHECK(cfg->nproblems == 11, "exactly eleven problems (got %zu)", cfg->nproblems);
	CHECK(cfg->route_timeout_ms == 2000, "route_timeout_ms = 100abc is not read as 100");
	CHECK(cfg->lock_timeout_ms == 1000, "a refused value leaves the default");
	config_free(cfg);
	unlink(path);
	free(path);
}

static void
missing_file(void)
{
	struct config *cfg = config_load("/nonexistent/callhook.conf");

	CHECK(cfg->nproblems == 1 && has_problem(cfg, "/nonexistent/callhook.conf: cannot open"),
	    "a missing file is one problem naming it");
	config_free(cfg);
}

void test_conf(void);

void
test_conf(void)
{
	good_config();
	defaults();
	mistakes();
	vendor_binding();
	sizes();
	bounds();
	missing_file();
}
