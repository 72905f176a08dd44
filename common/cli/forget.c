/*
 * callhook forget: computes the spellings of one phone number and its keyed
 * hash, runs callhook.forget_number() in one transaction as the schema owner,
 * and removes the spool files that carry the number once that committed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <libpq-fe.h>

#include "core/convert.h"
#include "core/db.h"
#include "core/digest.h"
#include "cli/args.h"
#include "cli/forget.h"
#include "ingest/spool.h"
#include "vendors/vendor.h"

#define FORGET_SQL "SELECT item, n FROM callhook.forget_number($1::text[], $2, $3, $4::boolean)"
#define LOCK_WAIT_S 10 /* how long forget waits for a running spool drain */
#define MAX_FORMATS 160

/* A spool file that carries the number. */
struct hit {
	char *path;
	long long size;
};

struct hits {
	struct hit *v;
	size_t n;
};

/*
 * Adds the candidate for `cc` to cands (distinct, at most 8); false when arg
 * gives none. A NANP area code never starts with 0 or 1, so 0412345678 is not
 * taken for +1 041 234 5678.
 */
static bool
add_candidate(const char *arg, const char *cc, char cands[8][17], size_t *n)
{
	char e[17];
	size_t i;

	if (!conv_e164(arg, cc, e) || (e[1] == '1' && strlen(e) == 12 && (e[2] == '0' || e[2] == '1')))
		return false;
	for (i = 0; i < *n; i++)
		if (!strcmp(cands[i], e))
			return true;
	if (*n < 8)
		snprintf(cands[(*n)++], 17, "%s", e);
	return true;
}

enum ch_err
forget_normalize(const struct config *cfg, const char *arg, char out[17], char *why, size_t whylen)
{
	char cands[8][17];
	size_t n = 0, i;

	for (i = 0; i < cfg->nsources; i++)
		if (cfg->sources[i].vendor != NULL)
			add_candidate(arg, cfg->sources[i].vendor->default_cc, cands, &n);
	for (i = 0; cfg->nsources == 0 && vendors[i] != NULL; i++)
		add_candidate(arg, vendors[i]->default_cc, cands, &n);
	if (n == 0) {
		snprintf(why, whylen, "not a phone number (give it in E.164, e.g. +17705555555)");
		return CH_ERR_BAD_REQUEST;
	}
	if (n > 1) {
		snprintf(why, whylen, "ambiguous: %s or %s by the sources' country codes (give it in E.164)",
		    cands[0], cands[1]);
		return CH_ERR_BAD_REQUEST;
	}
	memcpy(out, cands[0], 17);
	return CH_OK;
}

/* Appends a copy of s unless it is there already; false when out of memory. */
static bool
push(char **v, size_t *n, const char *s)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (!strcmp(v[i], s))
			return true;
	if (*n >= MAX_FORMATS)
		return true;
	return (v[(*n)++] = strdup(s)) != NULL;
}

/* s with '+' and ' ' encoded (a space as "%20" or, with form, as "+"), and '(' ')' too with parens. */
static bool
push_encoded(char **v, size_t *n, const char *s, bool form, bool parens)
{
	char buf[128];
	const char *e;
	size_t o = 0;

	for (; *s && o + 4 < sizeof(buf); s++) {
		e = *s == '+' ? "%2B" : *s == ' ' ? (form ? "+" : "%20") : NULL;
		if (parens && (*s == '(' || *s == ')'))
			e = *s == '(' ? "%28" : "%29";
		if (e != NULL) {
			memcpy(buf + o, e, strlen(e));
			o += strlen(e);
		} else
			buf[o++] = *s;
	}
	buf[o] = '\0';
	return push(v, n, buf);
}

/*
 * Spells `nat` (the national significant digits) with each template of `tpl`
 * whose '#'s are as many as its digits: each '#' takes the next digit.
 */
static bool
push_templates(char **v, size_t *n, const char *const *tpl, const char *nat)
{
	char buf[64];
	size_t i, o, d, len = strlen(nat);
	const char *t;

	for (i = 0; tpl[i] != NULL; i++) {
		for (t = tpl[i], o = d = 0; *t && o + 1 < sizeof(buf); t++)
			buf[o++] = *t == '#' && d < len ? nat[d++] : *t;
		buf[o] = '\0';
		if (d == len && strchr(t, '#') == NULL && !push(v, n, buf))
			return false;
	}
	return true;
}

/* clang-format off */
/* National spellings of NANP numbers (3-3-4). */
static const char *const nanp[] = {
	"##########", "###-###-####", "(###) ###-####", "(###)###-####", "###.###.####", "### ### ####",
	"### ###-####", "1##########", "1-###-###-####", "1 ### ### ####", "1 (###) ###-####",
	"1.###.###.####", "+1 ### ### ####", "+1-###-###-####", "+1 (###) ###-####", "+1 ###-###-####",
	"+1.###.###.####", "+1###-###-####", NULL,
};

/* National spellings of Australian numbers: mobiles 4-3-3 (0412 345 678), others 2-4-4. */
static const char *const au[] = {
	"0#########", "0### ### ###", "+61 ### ### ###", "61 ### ### ###",
	"0# #### ####", "(0#) #### ####", "0#-####-####", "+61 # #### ####", "61 # #### ####", NULL,
};
/* clang-format on */

char **
forget_formats(const char *e164)
{
	char **v = calloc(MAX_FORMATS + 1, sizeof(*v)), buf[24];
	const char *d = e164 + (e164[0] == '+');
	size_t n = 0, base, i;
	bool ok;

	if (v == NULL)
		return NULL;
	snprintf(buf, sizeof(buf), "00%s", d);
	ok = push(v, &n, e164) && push(v, &n, d) && push(v, &n, buf);
	if (ok && strlen(d) == 11 && d[0] == '1')
		ok = push_templates(v, &n, nanp, d + 1);
	else if (ok && strlen(d) == 11 && !strncmp(d, "61", 2))
		ok = push_templates(v, &n, au, d + 2);
	base = n;
	for (i = 0; ok && i < base; i++)
		ok = push_encoded(v, &n, v[i], false, false) && push_encoded(v, &n, v[i], true, false) &&
		    push_encoded(v, &n, v[i], false, true) && push_encoded(v, &n, v[i], true, true);
	if (!ok) {
		forget_formats_free(v);
		return NULL;
	}
	return v;
}

void
forget_formats_free(char **formats)
{
	size_t i;

	for (i = 0; formats != NULL && formats[i] != NULL; i++)
		free(formats[i]);
	free(formats);
}

static bool
is_digit_at(const char *buf, size_t len, size_t i)
{
	return i < len && buf[i] >= '0' && buf[i] <= '9';
}

bool
forget_match(const char *buf, size_t len, char *const *formats)
{
	const char *p, *end = buf + len;
	size_t i, fl, at;

	for (i = 0; formats[i] != NULL; i++) {
		fl = strlen(formats[i]);
		for (p = buf; fl > 0 && (p = memmem(p, end - p, formats[i], fl)) != NULL; p++) {
			at = p - buf;
			if ((at == 0 || !is_digit_at(buf, len, at - 1)) && !is_digit_at(buf, len, at + fl))
				return true;
		}
	}
	return false;
}

/* The hex HMAC-SHA256 of e164 under key into out (65 bytes). */
static void
number_hmac(const char *key, const char *e164, char out[65])
{
	unsigned char md[SHA256_LEN];

	hmac_sha256(key, strlen(key), e164, strlen(e164), md);
	digest_hex(md, SHA256_LEN, out);
}

/* Whether the file at path carries one of formats; -1 when it cannot be read. *size gets its size. */
static int
file_matches(const char *path, char *const *formats, long long *size)
{
	struct stat st;
	void *m;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc;

	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*size = st.st_size;
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return 0;
	}
	m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	rc = forget_match(m, st.st_size, formats);
	munmap(m, st.st_size);
	return rc;
}

static void
hits_free(struct hits *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		free(h->v[i].path);
	free(h->v);
}

/*
 * Adds to h every file of dir (not its dot files) that carries one of formats.
 * A missing dir holds nothing; false (with a message) when dir or a file in it
 * cannot be read, or out of memory.
 */
static bool
scan_dir(const char *dir, char *const *formats, struct hits *h)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct hit *tmp;
	char *path;
	long long size = 0;
	int rc;

	if (d == NULL && errno == ENOENT)
		return true;
	if (d == NULL) {
		fprintf(stderr, "callhook: cannot read %s: %s\n", dir, strerror(errno));
		return false;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, SPOOL_QUARANTINE))
			continue;
		if (asprintf(&path, "%s/%s", dir, e->d_name) < 0)
			break;
		if ((rc = file_matches(path, formats, &size)) < 0) {
			fprintf(stderr, "callhook: cannot read %s: %s\n", path, strerror(errno));
			free(path);
			closedir(d);
			return false;
		}
		if (rc == 0 || (tmp = realloc(h->v, (h->n + 1) * sizeof(*tmp))) == NULL) {
			free(path);
			if (rc == 0)
				continue;
			break;
		}
		h->v = tmp;
		h->v[h->n++] = (struct hit){ path, size };
	}
	rc = e == NULL;
	closedir(d);
	if (!rc)
		fprintf(stderr, "callhook: out of memory\n");
	return rc;
}

/* Takes the spool's drain lock, waiting up to LOCK_WAIT_S: an fd to close, -2 without a spool, -1 on failure. */
static int
lock_spool(const char *dir)
{
	char path[4096];
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	int fd, i;

	snprintf(path, sizeof(path), "%s/.lock", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 && errno == ENOENT &&
	    access(dir, F_OK) != 0)
		return -2;
	if (fd < 0) {
		fprintf(stderr, "callhook: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < LOCK_WAIT_S * 10; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "callhook: the spool %s is being replayed: try again later\n", dir);
	close(fd);
	return -1;
}

/* The spool files (spool_dir and its quarantine folder) that carry one of formats. */
static bool
scan_spool(const char *dir, char *const *formats, struct hits *h)
{
	char q[4096];

	snprintf(q, sizeof(q), "%s/%s", dir, SPOOL_QUARANTINE);
	return scan_dir(dir, formats, h) && scan_dir(q, formats, h);
}

/* Removes the files of h; false (with a message for each) when one could not be removed. */
static bool
remove_hits(const struct hits *h)
{
	bool ok = true;
	size_t i;

	for (i = 0; i < h->n; i++)
		if (unlink(h->v[i].path) != 0 && errno != ENOENT) {
			fprintf(stderr, "callhook: could not remove %s: %s\n", h->v[i].path, strerror(errno));
			ok = false;
		}
	return ok;
}

/* formats as a PostgreSQL array literal; new string (free()), NULL when out of memory. */
static char *
array_literal(char *const *formats)
{
	size_t i, len = 3, o = 0;
	const char *s;
	char *out;

	for (i = 0; formats[i] != NULL; i++)
		len += 2 * strlen(formats[i]) + 3;
	if ((out = malloc(len)) == NULL)
		return NULL;
	out[o++] = '{';
	for (i = 0; formats[i] != NULL; i++) {
		if (i > 0)
			out[o++] = ',';
		out[o++] = '"';
		for (s = formats[i]; *s; s++) {
			if (*s == '"' || *s == '\\')
				out[o++] = '\\';
			out[o++] = *s;
		}
		out[o++] = '"';
	}
	out[o++] = '}';
	out[o] = '\0';
	return out;
}

static void
print_error(const PGresult *r, PGconn *conn)
{
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *hint = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT);

	if (msg == NULL)
		fprintf(stderr, "callhook: forget failed: %s", PQerrorMessage(conn));
	else if (!strncmp(msg, "forget: ", 8))
		fprintf(stderr, "callhook: %s%s%s\n", msg + 8, hint ? ": " : "", hint ? hint : "");
	else
		fprintf(stderr, "callhook: forget failed: %s\n", msg);
}

/* What one forget found and did. */
struct run {
	const char *e164;
	char hmac[65];
	bool dry_run;
	char **formats;
	struct hits spool;
};

/* Runs forget_number(); on success prints its counts and leaves the transaction open. */
static bool
forget_rows(PGconn *conn, const struct run *run)
{
	char *arr = array_literal(run->formats);
	const char *v[4] = { arr, run->e164, run->dry_run ? NULL : run->hmac, run->dry_run ? "t" : "f" };
	PGresult *r;
	bool ok;
	int i;

	if (arr == NULL)
		return false;
	r = PQexecParams(conn, FORGET_SQL, 4, NULL, v, NULL, NULL, 0);
	free(arr);
	ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		print_error(r, conn);
	for (i = 0; ok && i < PQntuples(r); i++)
		printf("  %-20s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	PQclear(r);
	return ok;
}

static void
print_spool(const struct run *run)
{
	long long bytes = 0;
	size_t i;

	for (i = 0; i < run->spool.n; i++)
		bytes += run->spool.v[i].size;
	printf("  %-20s %zu\n  %-20s %lld\n", "spool_files", run->spool.n, "spool_bytes", bytes);
}

/* The database part in one transaction, then (after its commit) the spool files. */
static bool
forget_all(PGconn *conn, struct run *run)
{
	printf("%s %s:\n", run->dry_run ? "would forget" : "forgetting", run->e164);
	if (!db_command(conn, "BEGIN"))
		return false;
	if (!forget_rows(conn, run)) {
		db_command(conn, "ROLLBACK");
		return false;
	}
	print_spool(run);
	if (run->dry_run)
		return db_command(conn, "ROLLBACK");
	if (!db_command(conn, "COMMIT"))
		return false;
	if (!remove_hits(&run->spool)) {
		fprintf(stderr,
		    "callhook: the database part is done; remove the files above, or run forget "
		    "again\n");
		return false;
	}
	printf("done: the rows, deliveries and spool files above are gone\n");
	return true;
}

static PGconn *
connect_owner(const struct config *cfg)
{
	const struct db_params p = { .conninfo = cfg->migrate_conninfo ? cfg->migrate_conninfo : cfg->conninfo,
		.app = "callhook-forget" };
	char why[512];
	PGconn *conn = db_connect(&p, why, sizeof(why));

	if (conn == NULL)
		fprintf(stderr, "callhook: could not connect to the database: %s", why);
	return conn;
}

/* Checks the argument and the key, and computes the spellings and the hash into run. */
static bool
prepare(const struct config *cfg, const char *number, char e164[17], struct run *run)
{
	char why[160];

	if (forget_normalize(cfg, number, e164, why, sizeof(why)) != CH_OK) {
		fprintf(stderr, "callhook: forget: %s\n", why);
		return false;
	}
	run->e164 = e164;
	if (!run->dry_run && (cfg->erasure_key == NULL || *cfg->erasure_key == '\0')) {
		fprintf(stderr,
		    "callhook: forget: set erasure_key in [database] of %s (a secret that keys "
		    "the number's hash in callhook.erasures)\n",
		    cfg->path);
		return false;
	}
	if (!run->dry_run)
		number_hmac(cfg->erasure_key, e164, run->hmac);
	if ((run->formats = forget_formats(e164)) == NULL) {
		fprintf(stderr, "callhook: out of memory\n");
		return false;
	}
	return true;
}

int
forget_main(const struct config *cfg, int argc, char **argv)
{
	struct run run = { .dry_run = false };
	char e164[17];
	PGconn *conn = NULL;
	int lock = -2, rc = 1, arg;

	if ((arg = args_dry_run(argc, argv, 1, &run.dry_run, "callhook forget NUMBER [--dry-run]")) < 0)
		return 2;
	if (!prepare(cfg, argv[arg], e164, &run))
		goto err;
	if ((lock = lock_spool(cfg->spool_dir)) == -1)
		goto err;
	if (!scan_spool(cfg->spool_dir, run.formats, &run.spool))
		goto err;
	if ((conn = connect_owner(cfg)) == NULL)
		goto err;
	rc = forget_all(conn, &run) ? 0 : 1;
err:
	PQfinish(conn);
	if (lock >= 0)
		close(lock);
	hits_free(&run.spool);
	forget_formats_free(run.formats);
	return rc;
}
