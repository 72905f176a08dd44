/* callhook report: the report views of sql/003_reports.sql as text, CSV or one HTML page. */
#ifndef CALLHOOK_REPORT_H
#define CALLHOOK_REPORT_H

#include <stdbool.h>

struct config;
struct pg_conn;

/*
 * `callhook report [NAME|all] [--since DATE] [--until DATE] [--source NAME] [--format text|csv|html]`.
 * argv[0] is "report"; the rest are its arguments (parsed here with getopt_long). Connects with
 * cfg->conninfo, which the operator points at a role granted callhook_reader (a separate
 * [database] reader_conninfo may come later). Without NAME it lists the reports (with --format
 * html it prints them all). Writes the report to stdout and problems to stderr; returns the exit
 * status: 0, 1 for a database or output error, 2 for a usage error.
 */
int report_main(const struct config *cfg, int argc, char **argv);

/*
 * Connects to `conninfo` as `app_name` (the fallback application_name), with client_encoding UTF8,
 * search_path callhook, TimeZone UTC and DateStyle ISO pinned. Returns a new connection (free with
 * PQfinish()), or NULL after saying why on stderr. Shared by report and tail.
 */
struct pg_conn *report_connect(const char *conninfo, const char *app_name);

/* Reopens a connection made by report_connect() (PQreset()) and sets its session up again. */
bool report_reset(struct pg_conn *conn);

#endif
