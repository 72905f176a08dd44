/* callhook: the command line — serve (the default), migrate, check, replay, report, tail, forget, prune. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libpq-fe.h>

#include "core/conf.h"
#include "cli/forget.h"
#include "core/log.h"
#include "cli/migrate.h"
#include "cli/prune.h"
#include "cli/replay.h"
#include "cli/report.h"
#include "cli/tail.h"
#include "vendors/vendor.h"
#include "serve.h"

/* The contract fixes the default path, whatever --sysconfdir says. */
#define DEFAULT_CONF "/etc/callhook/callhook.conf"

struct opts {
	const char *conf;
	const char *listen;
	const char *conninfo;
	int workers;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: callhook [-c FILE] [serve] [-s unix:PATH|HOST:PORT] [-w N]\n"
	    "       callhook [-c FILE] migrate [--conninfo CONNINFO]\n"
	    "       callhook [-c FILE] check\n"
	    "       callhook [-c FILE] replay [--source S] [--vendor V] [--event E] [--outcome O]\n"
	    "                [--since T] [--until T] [--delivery ID] [--dry-run] [-v]\n"
	    "       callhook [-c FILE] report [NAME|all] [--since DATE] [--until DATE] [--source NAME]\n"
	    "                [--format text|csv|html]\n"
	    "       callhook [-c FILE] tail [--source NAME] [--vendor V] [--outcome O] [-n N]\n"
	    "       callhook [-c FILE] forget NUMBER [--dry-run]\n"
	    "       callhook [-c FILE] prune [--dry-run]\n"
	    "       callhook --help | --version\n"
	    "\n"
	    "  serve     answer FastCGI requests (the default)\n"
	    "  migrate   create or upgrade the database schema\n"
	    "  check     validate the configuration and the database, list the sources\n"
	    "  replay    decode stored deliveries again and re-apply their rows\n"
	    "  report    print a report as text, CSV or HTML (without NAME: list the reports)\n"
	    "  tail      print the latest deliveries, then each new one as it arrives\n"
	    "  forget    erase every trace of one caller's phone number (as the schema owner)\n"
	    "  prune     apply keep_bodies and keep_deliveries to the raw deliveries (as the schema owner)\n"
	    "\n"
	    "  -c FILE   configuration file (default %s, or $CALLHOOK_CONF)\n"
	    "  -s SOCK   listen on unix:PATH or HOST:PORT instead of fd 0 or systemd's socket\n"
	    "  -w N      worker processes (default: half the CPUs, at least 1); 0: no workers, this process\n"
	    "            answers itself (for Apache's mod_fcgid, which counts processes)\n"
	    "  --conninfo CONNINFO  migrate: connect with this instead of the configured one\n",
	    DEFAULT_CONF);
}

static struct config *
load(const char *path, bool quiet)
{
	struct config *cfg = vendor_bind_sources(config_load(path));
	size_t i;

	if (cfg == NULL) {
		fprintf(stderr, "callhook: out of memory\n");
		return NULL;
	}
	for (i = 0; i < cfg->nproblems && !quiet; i++)
		fprintf(stderr, "%s\n", cfg->problems[i]);
	return cfg;
}

static int
cmd_migrate(const struct opts *o)
{
	struct config *cfg = load(o->conf, false);
	const char *conninfo;
	int rc;

	if (cfg == NULL || cfg->nproblems > 0) {
		config_free(cfg);
		return 1;
	}
	conninfo = o->conninfo ? o->conninfo : cfg->migrate_conninfo ? cfg->migrate_conninfo : cfg->conninfo;
	rc = migrate_run(conninfo) == CH_OK ? 0 : 1;
	config_free(cfg);
	return rc;
}

static void
print_sources(const struct config *cfg)
{
	const struct source *s;
	size_t i, j;

	for (i = 0; i < cfg->nsources; i++) {
		s = &cfg->sources[i];
		if (s->vendor == NULL)
			continue;
		printf("source %s (%s):", s->name, s->vendor->name);
		if (s->vendor->path_events == NULL || !s->vendor->event_required)
			printf(" /hooks/%s/", s->name);
		for (j = 0; s->vendor->path_events && s->vendor->path_events[j]; j++)
			printf(" /hooks/%s/%s", s->name, s->vendor->path_events[j]);
		if (s->vendor->other_events_ignored)
			printf(" (any other /hooks/%s/<event> is answered 200 and stored as ignored)", s->name);
		printf("\n");
	}
}

static int
latest_migration(void)
{
	int v = 0;
	const struct migration *m;

	for (m = migrations; m->name != NULL; m++)
		if (m->version > v)
			v = m->version;
	return v;
}

static int
cmd_check(const struct opts *o)
{
	struct config *cfg = load(o->conf, false);
	int problems, v;

	if (cfg == NULL)
		return 1;
	problems = (int)cfg->nproblems;
	print_sources(cfg);
	v = migrate_current(cfg->conninfo);
	if (v < 0) {
		fprintf(stderr,
		    "%s: database: cannot read the schema (is it reachable, and has "
		    "\"callhook migrate\" run?)\n",
		    cfg->path);
		problems++;
	} else if (v < latest_migration()) {
		fprintf(stderr,
		    "%s: database: schema version %d, this callhook needs %d: run "
		    "\"callhook migrate\"\n",
		    cfg->path, v, latest_migration());
		problems++;
	} else
		printf("database: schema version %d, up to date\n", v);
	prune_describe(cfg, stdout);
	if (problems == 0)
		printf("configuration %s: ok\n", cfg->path);
	else
		fprintf(stderr, "%d problem%s found\n", problems, problems == 1 ? "" : "s");
	config_free(cfg);
	return problems ? 1 : 0;
}

static int
cmd_serve(const struct opts *o)
{
	struct config *cfg = load(o->conf, false);
	int workers = o->workers;

	if (cfg == NULL)
		return 1;
	if (cfg->nproblems > 0) {
		fprintf(stderr, "callhook: not serving with an invalid configuration\n");
		config_free(cfg);
		return 1;
	}
	/*
	 * Half the CPUs, rounded up: a worker writes its batches one after the other on its one
	 * connection, so its PostgreSQL backend uses at most one CPU, and fewer workers make bigger
	 * batches, which cost PostgreSQL less per delivery (README, "Group commit").
	 */
	if (workers < 0)
		workers = ((int)sysconf(_SC_NPROCESSORS_ONLN) + 1) / 2;
	if (workers <= 0 && o->workers < 0)
		workers = 1;
	return serve(cfg, o->listen, workers);
}

/* Parses the shared options; returns -1 to exit with *status. */
static int
parse_opts(int argc, char **argv, const char *optstring, struct opts *o, int *status)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "conninfo", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->conf = optarg; break;
		case 's': o->listen = optarg; break;
		case 'w':
			o->workers = atoi(optarg);
			if (o->workers < 0 || o->workers > 256 || (o->workers == 0 && strcmp(optarg, "0"))) {
				fprintf(stderr, "callhook: -w takes 0 to 256\n");
				return *status = 2, -1;
			}
			break;
		case 'C': o->conninfo = optarg; break;
		case 'h': usage(stdout); return *status = 0, -1;
		case 'V': printf("callhook %s\n", PACKAGE_VERSION); return *status = 0, -1;
		default: usage(stderr); return *status = 2, -1;
		}
	}
	return 0;
}

/* Subcommands with their own options get the rest of the command line. */
static int
run_sub(const struct opts *o, int (*fn)(const struct config *, int, char **), int argc, char **argv)
{
	struct config *cfg = load(o->conf, false);
	int rc;

	if (cfg == NULL)
		return 1;
	if (cfg->nproblems > 0) {
		config_free(cfg);
		return 1;
	}
	rc = fn(cfg, argc, argv);
	config_free(cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o = { .conf = getenv("CALLHOOK_CONF"), .workers = -1 };
	const char *cmd = "serve";
	int status = 0, subc;
	char **subv;

	if (o.conf == NULL || *o.conf == '\0')
		o.conf = DEFAULT_CONF;
	if (parse_opts(argc, argv, "+c:s:w:hV", &o, &status) < 0)
		return status;
	subc = argc - optind;
	subv = argv + optind;
	if (subc > 0)
		cmd = subv[0];
	if (!strcmp(cmd, "replay"))
		return run_sub(&o, replay_main, subc, subv);
	if (!strcmp(cmd, "report"))
		return run_sub(&o, report_main, subc, subv);
	if (!strcmp(cmd, "tail"))
		return run_sub(&o, tail_main, subc, subv);
	if (!strcmp(cmd, "forget"))
		return run_sub(&o, forget_main, subc, subv);
	if (!strcmp(cmd, "prune"))
		return run_sub(&o, prune_main, subc, subv);
	if (subc > 0) {
		optind = 1;
		if (parse_opts(subc, subv, "c:s:w:hV", &o, &status) < 0)
			return status;
		if (optind < subc) {
			fprintf(stderr, "callhook: unexpected argument: %s\n", subv[optind]);
			return 2;
		}
	}
	if (!strcmp(cmd, "serve"))
		return cmd_serve(&o);
	if (!strcmp(cmd, "migrate"))
		return cmd_migrate(&o);
	if (!strcmp(cmd, "check"))
		return cmd_check(&o);
	fprintf(stderr, "callhook: unknown command: %s\n", cmd);
	usage(stderr);
	return 2;
}
