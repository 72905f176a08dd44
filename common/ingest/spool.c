/*
 * The spool: one file per request, "callhook-spool 1\n", a JSON line of
 * metadata, then the raw body. Names sort in arrival order. Nothing read back
 * is trusted: a file that fails a check is moved to the quarantine folder.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "ingest/spool.h"

#define MAGIC SPOOL_MAGIC
#define META_DEPTH 4                        /* the metadata object holds strings and integers */
#define MIN_RECEIVED_USEC 946684800000000LL /* 2000-01-01 */
#define MAX_AHEAD_USEC (86400LL * 1000000)  /* a day past the drainer's clock */

static char *
meta_json(const struct raw_delivery *raw)
{
	struct json_object *o = json_object_new_object();
	char *s;

	json_object_object_add(o, "source", json_object_new_string(raw->source));
	if (raw->event)
		json_object_object_add(o, "event", json_object_new_string(raw->event));
	json_object_object_add(o, "method", json_object_new_string(raw->method));
	if (raw->content_type)
		json_object_object_add(o, "content_type", json_object_new_string(raw->content_type));
	json_object_object_add(o, "query", json_object_new_string(raw->query ? raw->query : ""));
	json_object_object_add(o, "headers", json_object_new_string(raw->headers ? raw->headers : "{}"));
	json_object_object_add(o, "received_usec", json_object_new_int64(raw->received_usec));
	json_object_object_add(o, "body_len", json_object_new_int64((int64_t)raw->body_len));
	s = strdup(json_object_to_json_string_ext(o, JSON_OUT));
	json_object_put(o);
	return s;
}

static bool
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += w;
		n -= w;
	}
	return true;
}

static bool
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	bool ok;

	if (fd < 0)
		return false;
	ok = fsync(fd) == 0;
	close(fd);
	return ok;
}

enum ch_err
spool_write(const char *dir, const struct raw_delivery *raw)
{
	static unsigned long next; /* shared by a worker's request threads */
	unsigned long seq = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED);
	char tmp[4096], final[4096], *meta = meta_json(raw);
	int fd = -1;
	bool ok;

	if (meta == NULL || strlen(meta) > SPOOL_META_MAX) {
		log_msg(LOG_ERROR, "could not spool request in %s: %s", dir,
		    meta ? "metadata too long" : "out of memory");
		free(meta);
		return CH_ERR_UNAVAILABLE;
	}
	snprintf(final, sizeof(final), "%s/%020lld-%d-%lu.req", dir, (long long)raw->received_usec,
	    (int)getpid(), seq);
	snprintf(tmp, sizeof(tmp), "%s/.tmp-%d-%lu", dir, (int)getpid(), seq);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ok = fd >= 0 && write_all(fd, MAGIC, strlen(MAGIC)) && write_all(fd, meta, strlen(meta)) &&
	    write_all(fd, "\n", 1) && write_all(fd, raw->body ? raw->body : "", raw->body_len) &&
	    fsync(fd) == 0;
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	ok = ok && rename(tmp, final) == 0 && fsync_dir(dir);
	if (!ok) {
		log_msg(LOG_ERROR, "could not spool request in %s: %s", dir, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
	}
	free(meta);
	return ok ? CH_OK : CH_ERR_UNAVAILABLE;
}

static enum ch_err bad(char *why, size_t whylen, const char *fmt, ...) PRINTF(3, 4);

static enum ch_err
bad(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return CH_ERR_BAD_REQUEST;
}

/* The metadata fields; off is where a string goes in struct raw_delivery, -1 for an integer. */
static const struct meta_field {
	const char *name;
	bool required;
	ptrdiff_t off;
} meta_fields[] = {
	{ "source", true, offsetof(struct raw_delivery, source) },
	{ "event", false, offsetof(struct raw_delivery, event) },
	{ "method", true, offsetof(struct raw_delivery, method) },
	{ "content_type", false, offsetof(struct raw_delivery, content_type) },
	{ "query", true, offsetof(struct raw_delivery, query) },
	{ "headers", true, offsetof(struct raw_delivery, headers) },
	{ "received_usec", true, -1 },
	{ "body_len", true, -1 },
};

static const struct meta_field *
find_meta_field(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(meta_fields) / sizeof(meta_fields[0]); i++)
		if (!strcmp(meta_fields[i].name, name))
			return &meta_fields[i];
	return NULL;
}

/*
 * Parses exactly `len` bytes of strict JSON (UTF-8 checked) into a new
 * object (*out; json_object_put()). CH_ERR_BAD_REQUEST with `why` naming
 * `what` when it is not one JSON object.
 */
static enum ch_err
parse_object(const char *s, size_t len, const char *what, struct json_object **out, char *why, size_t whylen)
{
	struct json_tokener *tok = json_tokener_new_ex(META_DEPTH);
	enum json_tokener_error jerr;
	size_t end;

	*out = NULL;
	if (tok == NULL)
		return CH_ERR_NOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	*out = json_tokener_parse_ex(tok, s, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (*out != NULL && jerr == json_tokener_success && end == len &&
	    json_object_is_type(*out, json_type_object))
		return CH_OK;
	json_object_put(*out);
	*out = NULL;
	if (jerr == json_tokener_success && end == len)
		return bad(why, whylen, "%s: not a JSON object", what);
	if (jerr == json_tokener_success || jerr == json_tokener_continue)
		return bad(why, whylen, "%s: invalid JSON: %s", what,
		    jerr == json_tokener_success ? "data after the value" : "unexpected end");
	return bad(why, whylen, "%s: invalid JSON: %s", what, json_tokener_error_desc(jerr));
}

/* Copies the string member v of field f into raw; a non-string or one with a NUL byte is refused. */
static enum ch_err
take_string(const struct meta_field *f, struct json_object *v, struct raw_delivery *raw, char *why,
    size_t whylen)
{
	char **to = (char **)((char *)raw + f->off);

	if (!json_object_is_type(v, json_type_string))
		return bad(why, whylen, "metadata: field \"%s\": expected a string", f->name);
	if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return bad(why, whylen, "metadata: field \"%s\": contains a NUL byte", f->name);
	free(*to);
	return (*to = strdup(json_object_get_string(v))) != NULL ? CH_OK : CH_ERR_NOMEM;
}

/* Takes every member of the metadata object m into raw: known names of the right types only. */
static enum ch_err
take_fields(struct json_object *m, struct raw_delivery *raw, char *why, size_t whylen)
{
	const struct meta_field *f;
	char name[48];
	enum ch_err err;
	size_t i;

	json_object_object_foreach(m, key, v)
	{
		if ((f = find_meta_field(key)) == NULL) {
			log_escape(key, name, sizeof(name));
			return bad(why, whylen, "metadata: unknown field \"%s\"", name);
		}
		if (f->off >= 0 && (err = take_string(f, v, raw, why, whylen)) != CH_OK)
			return err;
		if (f->off < 0 && !json_object_is_type(v, json_type_int))
			return bad(why, whylen, "metadata: field \"%s\": expected an integer", f->name);
	}
	for (i = 0; i < sizeof(meta_fields) / sizeof(meta_fields[0]); i++)
		if (meta_fields[i].required && !json_object_object_get_ex(m, meta_fields[i].name, NULL))
			return bad(why, whylen, "metadata: field \"%s\" missing", meta_fields[i].name);
	return CH_OK;
}

/* The string fields' values: a source, a method callhook takes, headers that are a JSON object. */
static enum ch_err
check_strings(const struct raw_delivery *raw, char *why, size_t whylen)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "PATCH" };
	struct json_object *h;
	enum ch_err err;
	size_t i;

	if (raw->source[0] == '\0')
		return bad(why, whylen, "metadata: field \"source\": empty");
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (!strcmp(raw->method, methods[i]))
			break;
	if (i == sizeof(methods) / sizeof(methods[0]))
		return bad(why, whylen, "metadata: field \"method\": not GET, POST, PUT or PATCH");
	err = parse_object(raw->headers, strlen(raw->headers), "metadata: field \"headers\"", &h, why, whylen);
	json_object_put(h);
	return err;
}

/* received_usec within [2000-01-01, now + 1 day]; body_len exactly the bytes after the metadata. */
static enum ch_err
check_numbers(struct json_object *m, struct raw_delivery *raw, uint64_t size, size_t body_off,
    int64_t now_usec, char *why, size_t whylen)
{
	struct json_object *v;
	int64_t received, body_len;

	json_object_object_get_ex(m, "received_usec", &v);
	received = json_object_get_int64(v);
	if (received < MIN_RECEIVED_USEC || received > now_usec + MAX_AHEAD_USEC)
		return bad(why, whylen,
		    "metadata: field \"received_usec\": %lld is before 2000 or more "
		    "than a day ahead of the clock",
		    (long long)received);
	json_object_object_get_ex(m, "body_len", &v);
	body_len = json_object_get_int64(v);
	if (body_len < 0)
		return bad(why, whylen, "metadata: field \"body_len\": negative (%lld)", (long long)body_len);
	if (body_len > SPOOL_BODY_MAX)
		return bad(why, whylen, "metadata: field \"body_len\": %lld is over the largest body (%lld)",
		    (long long)body_len, SPOOL_BODY_MAX);
	if ((uint64_t)body_len != size - body_off)
		return bad(why, whylen, "metadata: field \"body_len\": %lld but %llu bytes follow the metadata",
		    (long long)body_len, (unsigned long long)(size - body_off));
	raw->received_usec = received;
	raw->body_len = (size_t)body_len;
	return CH_OK;
}

/* Where the metadata line ends (its newline) within head, or NULL with `why` set. */
static const char *
meta_end(const char *head, size_t len, char *why, size_t whylen)
{
	size_t ml = strlen(MAGIC), scan;
	const char *nl;

	if (len < ml || memcmp(head, MAGIC, ml) != 0) {
		(void)bad(why, whylen, "not a spool file: it does not start with \"callhook-spool 1\"");
		return NULL;
	}
	scan = len - ml < (size_t)SPOOL_META_MAX + 1 ? len - ml : (size_t)SPOOL_META_MAX + 1;
	if ((nl = memchr(head + ml, '\n', scan)) != NULL)
		return nl;
	if (scan == (size_t)SPOOL_META_MAX + 1)
		(void)bad(why, whylen, "metadata: line longer than %d bytes", SPOOL_META_MAX);
	else
		(void)bad(why, whylen, "metadata: the file ends inside the metadata line");
	return NULL;
}

enum ch_err
spool_parse_head(const char *head, size_t len, uint64_t size, int64_t now_usec, struct raw_delivery *raw,
    size_t *body_off, char *why, size_t whylen)
{
	size_t ml = strlen(MAGIC);
	struct json_object *m = NULL;
	const char *nl;
	enum ch_err err;

	if (len > size)
		len = (size_t)size;
	if ((nl = meta_end(head, len, why, whylen)) == NULL)
		return CH_ERR_BAD_REQUEST;
	*body_off = (size_t)(nl + 1 - head);
	err = parse_object(head + ml, (size_t)(nl - head) - ml, "metadata", &m, why, whylen);
	if (err == CH_OK)
		err = take_fields(m, raw, why, whylen);
	if (err == CH_OK)
		err = check_strings(raw, why, whylen);
	if (err == CH_OK)
		err = check_numbers(m, raw, size, *body_off, now_usec, why, whylen);
	json_object_put(m);
	if (err != CH_OK)
		raw_delivery_clear(raw);
	return err;
}

/* Writes "call: <errno text>" into why; CH_ERR_SYSTEM. */
static enum ch_err
sys_failed(const char *call, char *why, size_t whylen)
{
	snprintf(why, whylen, "%s: %s", call, strerror(errno));
	return CH_ERR_SYSTEM;
}

/* Reads exactly n bytes at off; CH_ERR_BAD_REQUEST when the file is shorter, CH_ERR_SYSTEM on an I/O error. */
static enum ch_err
read_at(int fd, char *buf, size_t n, size_t off, char *why, size_t whylen)
{
	ssize_t r;

	while (n > 0) {
		if ((r = pread(fd, buf, n, (off_t)off)) < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return sys_failed("read", why, whylen);
		if (r == 0)
			return bad(why, whylen, "the file shrank while it was read");
		buf += r;
		n -= (size_t)r;
		off += (size_t)r;
	}
	return CH_OK;
}

/* Reads the head of the open file of `size` bytes, checks it, then reads the body into raw. */
static enum ch_err
read_checked(int fd, uint64_t size, int64_t now_usec, struct raw_delivery *raw, char *why, size_t whylen)
{
	size_t hlen = size < SPOOL_HEAD_MAX ? (size_t)size : SPOOL_HEAD_MAX, off = 0;
	char *head = malloc(hlen + 1);
	enum ch_err err;

	if (head == NULL)
		return CH_ERR_NOMEM;
	err = read_at(fd, head, hlen, 0, why, whylen);
	if (err == CH_OK)
		err = spool_parse_head(head, hlen, size, now_usec, raw, &off, why, whylen);
	free(head);
	if (err != CH_OK)
		return err;
	if ((raw->body = malloc(raw->body_len + 1)) == NULL)
		err = CH_ERR_NOMEM;
	else if ((err = read_at(fd, raw->body, raw->body_len, off, why, whylen)) == CH_OK)
		raw->body[raw->body_len] = '\0';
	if (err != CH_OK)
		raw_delivery_clear(raw);
	return err;
}

/*
 * Opens the spool file at `path` (not through a symbolic link), checks its
 * metadata and only then reads its body into raw (empty on entry; free with
 * raw_delivery_clear()). CH_OK; CH_ERR_BAD_REQUEST with `why` (quarantine
 * it); CH_ERR_NOT_FOUND (gone); CH_ERR_NOMEM, or CH_ERR_SYSTEM with `why`
 * (leave it for later).
 */
static enum ch_err
read_spooled(const char *path, int64_t now_usec, struct raw_delivery *raw, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat sb;
	enum ch_err err;

	if (fd < 0 && errno == ENOENT)
		return CH_ERR_NOT_FOUND;
	if (fd < 0 && (errno == ENOMEM || errno == EMFILE || errno == ENFILE))
		return sys_failed("open", why, whylen);
	if (fd < 0)
		return bad(why, whylen, "open: %s", strerror(errno));
	if (fstat(fd, &sb) != 0)
		err = sys_failed("fstat", why, whylen);
	else if (!S_ISREG(sb.st_mode))
		err = bad(why, whylen, "not a regular file");
	else
		err = read_checked(fd, (uint64_t)sb.st_size, now_usec, raw, why, whylen);
	close(fd);
	return err;
}

/*
 * Decodes and stores raw. CH_OK when its transaction committed, whatever the
 * outcome (stored, duplicate, ignored, rejected, kept as error);
 * CH_ERR_BAD_REQUEST with `why` when it can never be stored as it is (unknown
 * source or content type); anything else (database down, out of memory)
 * stored nothing and leaves the file for later.
 */
static enum ch_err
replay_raw(const struct config *cfg, struct store *st, const struct raw_delivery *raw, char *why, size_t whylen)
{
	struct ingest_result res;
	enum ch_err err;

	/* no reply: nobody waits for a CallScaler in-call hit's routing answer now */
	err = ingest_raw(cfg, st, raw, &res, why, whylen, NULL, NULL);
	if (err == CH_ERR_BAD_BODY || err == CH_ERR_DB)
		return CH_OK;
	if (err == CH_ERR_NOT_FOUND || err == CH_ERR_MEDIA_TYPE)
		return CH_ERR_BAD_REQUEST;
	return err;
}

/* rename() that fails with EEXIST rather than replace `to`. */
static int
move_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (link(from, to) != 0) /* a file system without RENAME_NOREPLACE */
		return -1;
	return unlink(from);
}

/*
 * Moves `name` from the spool `dir` into <dir>/quarantine/ (made 0700 when
 * missing), never over a file already there (the name then gets a ".N"
 * suffix), and logs where it went and `why`. False when it could not.
 */
static bool
quarantine(const char *dir, const char *name, const char *why)
{
	char qdir[4200], from[4200], to[4400], eto[1024], ewhy[512];
	int i;

	snprintf(qdir, sizeof(qdir), "%s/%s", dir, SPOOL_QUARANTINE);
	snprintf(from, sizeof(from), "%s/%s", dir, name);
	if (mkdir(qdir, 0700) != 0 && errno != EEXIST) {
		log_msg(LOG_ERROR, "could not create %s: %s", qdir, strerror(errno));
		return false;
	}
	for (i = 0; i < 100; i++) {
		if (i == 0)
			snprintf(to, sizeof(to), "%s/%s", qdir, name);
		else
			snprintf(to, sizeof(to), "%s/%s.%d", qdir, name, i);
		if (move_noreplace(from, to) == 0) {
			fsync_dir(qdir);
			log_escape(to, eto, sizeof(eto));
			log_escape(why, ewhy, sizeof(ewhy));
			log_msg(LOG_WARNING, "spool file quarantined: %s: %s", eto, ewhy);
			return true;
		}
		if (errno != EEXIST)
			break;
	}
	log_escape(from, eto, sizeof(eto));
	log_msg(LOG_ERROR, "could not quarantine spool file %s: %s", eto, strerror(errno));
	return false;
}

/* Replays, quarantines or leaves one spooled file; counts it in out. */
static void
drain_one(const struct config *cfg, struct store *st, const char *name, int64_t now_usec,
    struct spool_drained *out)
{
	struct raw_delivery raw = { 0 };
	char path[4200], epath[1024], why[256] = "";
	enum ch_err err;

	snprintf(path, sizeof(path), "%s/%s", cfg->spool_dir, name);
	log_escape(path, epath, sizeof(epath));
	err = read_spooled(path, now_usec, &raw, why, sizeof(why));
	if (err == CH_OK)
		err = replay_raw(cfg, st, &raw, why, sizeof(why));
	raw_delivery_clear(&raw);
	if (err == CH_OK) {
		if (unlink(path) != 0)
			log_msg(LOG_ERROR, "could not remove replayed spool file %s: %s", epath,
			    strerror(errno));
		out->replayed++;
	} else if (err == CH_ERR_BAD_REQUEST)
		out->quarantined += quarantine(cfg->spool_dir, name, why);
	else if (err == CH_ERR_SYSTEM)
		log_msg(LOG_WARNING, "spool file left for the next drain: %s: %s", epath, why);
	else if (err != CH_ERR_NOT_FOUND) {
		out->blocked = true;
		if (err != CH_ERR_DB_DOWN)
			log_msg(LOG_WARNING, "spool drain paused at %s: %s", epath, ch_strerror(err));
	}
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the spooled requests in arrival order (new array; free each and it). */
static char **
list_spool(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL, **tmp;
	size_t len;

	*n = 0;
	if (d == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".req") || e->d_name[0] == '.')
			continue;
		if ((tmp = realloc(names, (*n + 1) * sizeof(*names))) == NULL)
			break;
		names = tmp;
		if ((names[*n] = strdup(e->d_name)) != NULL)
			(*n)++;
	}
	closedir(d);
	if (*n > 1)
		qsort(names, *n, sizeof(*names), by_name);
	return names;
}

long
spool_depth(const char *dir)
{
	size_t n, i;
	char **names = list_spool(dir, &n);

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return names == NULL && n == 0 && access(dir, R_OK) != 0 ? -1 : (long)n;
}

/* Takes the spool's lock without waiting: an fd to close, or -1 when another process drains. */
static int
lock_spool(const char *dir)
{
	char lockpath[4096];
	int lock;

	snprintf(lockpath, sizeof(lockpath), "%s/.lock", dir);
	if ((lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) != 0) {
		close(lock);
		lock = -1;
	}
	return lock;
}

void
spool_drain(const struct config *cfg, struct store *st, int budget_ms, struct spool_drained *out)
{
	double t0 = mono_ms();
	struct timespec now;
	char **names;
	size_t n, i;
	int lock;

	memset(out, 0, sizeof(*out));
	if ((lock = lock_spool(cfg->spool_dir)) < 0) {
		out->blocked = true;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	names = list_spool(cfg->spool_dir, &n);
	for (i = 0; i < n && !out->blocked; i++) {
		if (mono_ms() - t0 >= budget_ms) {
			out->more = true;
			break;
		}
		drain_one(cfg, st, names[i], (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000, out);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (out->replayed + out->quarantined > 0)
		fsync_dir(cfg->spool_dir);
	close(lock);
}
