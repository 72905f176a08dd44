/*
 * The spool: one file per request, "callhook-spool 1\n", a JSON line of
 * metadata, then the raw body. Names sort in arrival order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

#define MAGIC "callhook-spool 1\n"

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
	static unsigned long seq;
	char tmp[4096], final[4096], *meta = meta_json(raw);
	int fd = -1;
	bool ok;

	if (meta == NULL)
		return CH_ERR_UNAVAILABLE;
	snprintf(final, sizeof(final), "%s/%020lld-%d-%lu.req", dir, (long long)raw->received_usec,
	    (int)getpid(), seq++);
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

static char *
meta_str(struct json_object *m, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(m, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return strdup(json_object_get_string(v));
}

/* Reads a spool file into `raw`; false when it is not one. */
static bool
read_spooled(const char *path, struct raw_delivery *raw)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	struct json_object *m = NULL, *v;
	bool ok = false;

	if (fp == NULL)
		return false;
	if (getline(&line, &cap, fp) < 0 || strcmp(line, MAGIC) || getline(&line, &cap, fp) < 0 ||
	    (m = json_tokener_parse(line)) == NULL)
		goto out;
	raw->source = meta_str(m, "source");
	raw->event = meta_str(m, "event");
	raw->method = meta_str(m, "method");
	raw->content_type = meta_str(m, "content_type");
	raw->query = meta_str(m, "query");
	raw->headers = meta_str(m, "headers");
	if (json_object_object_get_ex(m, "received_usec", &v))
		raw->received_usec = json_object_get_int64(v);
	if (!json_object_object_get_ex(m, "body_len", &v) || raw->source == NULL ||
	    raw->method == NULL || raw->query == NULL)
		goto out;
	raw->body_len = json_object_get_int64(v);
	if ((raw->body = malloc(raw->body_len + 1)) == NULL ||
	    fread(raw->body, 1, raw->body_len, fp) != raw->body_len)
		goto out;
	raw->body[raw->body_len] = '\0';
	ok = true;
out:
	json_object_put(m);
	free(line);
	fclose(fp);
	return ok;
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

/* Replays one file: CH_OK or CH_ERR_BAD_BODY when stored, CH_ERR_DB_DOWN to try again later. */
static enum ch_err
replay_file(const struct config *cfg, struct store *st, const char *path)
{
	struct raw_delivery raw = { 0 };
	struct ingest_result res;
	char error[256];
	enum ch_err err;

	if (!read_spooled(path, &raw)) {
		log_msg(LOG_WARNING, "unreadable spool file kept aside: %s", path);
		raw_delivery_clear(&raw);
		return CH_ERR_SYSTEM;
	}
	err = ingest_raw(cfg, st, &raw, &res, error, sizeof(error), NULL, NULL);
	raw_delivery_clear(&raw);
	return err;
}

static void
set_aside(const char *path)
{
	char bad[4300];

	snprintf(bad, sizeof(bad), "%s.bad", path);
	if (rename(path, bad) != 0)
		log_msg(LOG_ERROR, "could not set aside %s: %s", path, strerror(errno));
}

int
spool_drain(const struct config *cfg, struct store *st)
{
	char lockpath[4096], path[4200], **names;
	size_t n, i;
	int lock, done = 0;
	enum ch_err err;

	snprintf(lockpath, sizeof(lockpath), "%s/.lock", cfg->spool_dir);
	if ((lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		lock = open(cfg->spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0) {
		if (lock >= 0)
			close(lock);
		return 0;
	}
	names = list_spool(cfg->spool_dir, &n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", cfg->spool_dir, names[i]);
		err = done >= 0 ? replay_file(cfg, st, path) : CH_ERR_DB_DOWN;
		if (err == CH_ERR_DB_DOWN)
			done = -1;
		else if (err == CH_ERR_SYSTEM || err == CH_ERR_NOT_FOUND || err == CH_ERR_MEDIA_TYPE)
			set_aside(path);
		else if (unlink(path) == 0 && done >= 0)
			done++;
		free(names[i]);
	}
	if (n > 0)
		fsync_dir(cfg->spool_dir);
	free(names);
	close(lock);
	return done;
}
