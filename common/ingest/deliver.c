/*
 * One delivery from its raw bytes to its stored rows: the body parsed and
 * checked, the vendor's decoder run, the dedup key made, and the result
 * written through a store or the worker's batcher (sink). Used for live
 * requests (request.c), the spool (spool.c) and replay.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/digest.h"
#include "core/form.h"
#include "core/json_strict.h"
#include "core/log.h"
#include "ingest/batch.h"
#include "ingest/deliver.h"

#define JSON_MAX_DEPTH 32
#define MAX_PATH_LEN 512

void
raw_delivery_clear(struct raw_delivery *raw)
{
	free(raw->source);
	free(raw->event);
	free(raw->method);
	free(raw->content_type);
	free(raw->query);
	free(raw->headers);
	free(raw->body);
	memset(raw, 0, sizeof(*raw));
}

/* Lower-case media type without parameters into out (64 bytes). */
static void
media_type(const char *content_type, char out[64])
{
	size_t n = 0;

	if (content_type != NULL) {
		while (*content_type == ' ')
			content_type++;
		for (; content_type[n] && content_type[n] != ';' && content_type[n] != ' ' && n < 63; n++)
			out[n] = tolower((unsigned char)content_type[n]);
	}
	out[n] = '\0';
}

int
delivery_body_kind(const struct vendor *v, const char *method, const char *content_type)
{
	char mt[64];
	size_t n;

	if (!strcmp(method, "GET"))
		return (v->bodies & BODY_QUERY) ? BODY_QUERY : 0;
	media_type(content_type, mt);
	n = strlen(mt);
	if ((v->bodies & BODY_JSON) &&
	    (!strcmp(mt, "application/json") || (n > 5 && !strcmp(mt + n - 5, "+json"))))
		return BODY_JSON;
	if ((v->bodies & BODY_FORM) && !strcmp(mt, "application/x-www-form-urlencoded"))
		return BODY_FORM;
	return 0;
}

/* Parses the body into d->doc according to its kind; false with an error naming the problem. */
static bool
parse_body(const struct raw_delivery *raw, int kind, struct json_object **doc, char *error, size_t errlen)
{
	struct json_tokener *tok;
	size_t end;

	if (kind == BODY_QUERY || kind == BODY_FORM) {
		*doc = kind == BODY_QUERY ? form_parse(raw->query, strlen(raw->query), error, errlen) :
					    form_parse(raw->body, raw->body_len, error, errlen);
		return *doc != NULL;
	}
	if (raw->body_len == 0) {
		snprintf(error, errlen, "body: empty");
		return false;
	}
	if ((tok = json_tokener_new_ex(JSON_MAX_DEPTH)) == NULL)
		return false;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	*doc = json_tokener_parse_ex(tok, raw->body, (int)raw->body_len);
	end = json_tokener_get_parse_end(tok);
	if (*doc == NULL && json_tokener_get_error(tok) == json_tokener_continue) {
		/* a top-level number or literal waits for a delimiter: end the input */
		*doc = json_tokener_parse_ex(tok, "", 1);
		end = raw->body_len;
	}
	if (json_tokener_get_error(tok) == json_tokener_success && *doc == NULL) {
		snprintf(error, errlen, "body: expected a JSON object");
		json_tokener_free(tok);
		return false;
	}
	if (*doc != NULL && json_tokener_get_error(tok) == json_tokener_success) {
		while (end < raw->body_len && isspace((unsigned char)raw->body[end]))
			end++;
		if (end == raw->body_len) {
			json_tokener_free(tok);
			return true;
		}
		snprintf(error, errlen, "body: invalid JSON: unexpected data at byte %zu", end);
	} else if (json_tokener_get_error(tok) == json_tokener_continue)
		snprintf(error, errlen, "body: invalid JSON: unexpected end");
	else
		snprintf(error, errlen, "body: invalid JSON at byte %zu: %s", end,
		    json_tokener_error_desc(json_tokener_get_error(tok)));
	json_object_put(*doc);
	*doc = NULL;
	json_tokener_free(tok);
	return false;
}

/*
 * Finds values json-c could not represent: integers beyond 64 bits, numbers
 * beyond double range. Writes the field path into error. (NUL escapes and
 * unpaired surrogates are found in the raw text by json_strict_check().)
 */
static bool
check_values(struct json_object *v, char *path, size_t pathlen, size_t used, char *error, size_t errlen)
{
	const char *idx_text;
	size_t i, n;
	char idx[24];

	switch (json_object_get_type(v)) {
	case json_type_int:
		if (json_object_get_int64(v) == INT64_MIN || json_object_get_uint64(v) == UINT64_MAX ||
		    (json_object_get_int64(v) == INT64_MAX && json_object_get_uint64(v) > INT64_MAX)) {
			json_field_error(error, errlen, path, "integer out of range", "");
			return false;
		}
		return true;
	case json_type_double:
		if (!isfinite(json_object_get_double(v))) {
			json_field_error(error, errlen, path, "not a finite number", "");
			return false;
		}
		return true;
	case json_type_object: {
		json_object_object_foreach(v, key, val)
		{
			n = json_path_append(path, pathlen, used, used ? "." : "", key, strlen(key));
			if (!check_values(val, path, pathlen, n, error, errlen))
				return false;
			path[used] = '\0';
		}
		return true;
	}
	case json_type_array:
		for (i = 0; i < json_object_array_length(v); i++) {
			idx_text = json_path_index(i, idx);
			n = json_path_append(path, pathlen, used, "", idx_text, strlen(idx_text));
			if (!check_values(json_object_array_get_idx(v, i), path, pathlen, n, error, errlen))
				return false;
			path[used] = '\0';
		}
		return true;
	default: return true;
	}
}

/* "<event>:<sha256 of the payload>", or "id:<vendor delivery id>". */
static char *
dedup_key(const struct raw_delivery *raw, const struct decoded *d, int kind)
{
	unsigned char md[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1], *key;
	const char *event = d->event ? d->event : raw->event ? raw->event : "-";

	if (d->dedup_key != NULL)
		return asprintf(&key, "id:%s", d->dedup_key) < 0 ? NULL : key;
	if (kind == BODY_QUERY)
		sha256(raw->query, strlen(raw->query), md);
	else
		sha256(raw->body ? raw->body : "", raw->body_len, md);
	digest_hex(md, SHA256_LEN, hex);
	return asprintf(&key, "%s:%s", event, hex) < 0 ? NULL : key;
}

/* Parses and decodes; BAD_BODY with error set when the payload is wrong. */
static enum ch_err
decode_raw(const struct source *src, const struct raw_delivery *raw, int kind, struct decoded *d)
{
	struct delivery_in in = {
		.source = src,
		.event = raw->event,
		.method = raw->method,
		.body_kind = kind,
		.body = raw->body,
		.body_len = raw->body_len,
		.received_usec = raw->received_usec,
	};
	char path[256] = "";
	enum ch_err err;

	if (!parse_body(raw, kind, &in.doc, d->error, sizeof(d->error)))
		return in.doc == NULL && d->error[0] ? CH_ERR_BAD_BODY : CH_ERR_NOMEM;
	/* I-JSON first: an ambiguous body is rejected whatever json-c made of it */
	err = kind == BODY_JSON ?
	    json_strict_check(raw->body, raw->body_len, src->vendor->repeat_ok, d->error, sizeof(d->error)) :
	    CH_OK;
	if (err == CH_OK && kind == BODY_JSON &&
	    !check_values(in.doc, path, sizeof(path), 0, d->error, sizeof(d->error)))
		err = CH_ERR_BAD_BODY;
	else if (err == CH_OK)
		err = src->vendor->decode(&in, d);
	json_object_put(in.doc);
	return err;
}

/* store_ingest() or batch_ingest(), as the sink says. */
static enum ch_err
sink_ingest(struct sink *s, const struct ingest *in, struct ingest_result *res)
{
	enum ch_err err;

	if (s->st == NULL)
		return batch_ingest(s->b, in, res, s->sqlstate);
	err = store_ingest(s->st, in, res);
	snprintf(s->sqlstate, sizeof(s->sqlstate), "%s", store_sqlstate(s->st));
	return err;
}

/*
 * Asks callhook.route_call() with what is left, `left_ms`, of the hit's
 * route_timeout_ms (its ingest spent the rest); {} when it fails, times out or
 * no time is left.
 */
static enum ch_err
route_reply(struct store *st, struct decoded *d, long long left_ms, char **reply)
{
	const char *const args[4] = { d->route_args[0], d->route_args[1], d->route_args[2], d->route_args[3] };

	if (left_ms < 10 || store_route(st, args, (int)left_ms, reply) != CH_OK || *reply == NULL) {
		log_msg(LOG_WARNING, "routing function failed or timed out: answering {}");
		free(*reply);
		*reply = strdup("{}");
	}
	return CH_OK;
}

/*
 * PostgreSQL refused a value of the rows (SQLSTATE class 22 or 23): keep the
 * raw delivery with outcome "error" and that SQLSTATE, for replay or a resend
 * (which applies it again).
 */
static enum ch_err
keep_as_error(struct sink *s, struct ingest *in, struct ingest_result *res, char *error, size_t errlen)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "could not store rows: SQLSTATE %s", s->sqlstate);
	in->outcome = OUT_ERROR;
	in->error = msg;
	in->row_ops = NULL;
	if (sink_ingest(s, in, res) != CH_OK)
		return CH_ERR_DB_DOWN;
	snprintf(error, errlen, "%s", msg);
	return CH_ERR_DB;
}

enum ch_err
decode_delivery(const struct config *cfg, const struct raw_delivery *raw, struct decoded *d,
    const struct source **srcp, int *kindp)
{
	const struct source *src = config_find_source(cfg, raw->source, strlen(raw->source));

	if (src == NULL || src->vendor == NULL) {
		snprintf(d->error, sizeof(d->error), "unknown source: %s", raw->source);
		return CH_ERR_NOT_FOUND;
	}
	*srcp = src;
	*kindp = delivery_body_kind(src->vendor, raw->method, raw->content_type);
	if (*kindp == 0) {
		snprintf(d->error, sizeof(d->error), "unsupported content type");
		return CH_ERR_MEDIA_TYPE;
	}
	return decode_raw(src, raw, *kindp, d);
}

enum ch_err
deliver(const struct config *cfg, struct sink *s, const struct raw_delivery *raw, struct ingest_result *res,
    char *error, size_t errlen, char **reply, char **event)
{
	const struct source *src = NULL;
	struct decoded d = { 0 };
	struct ingest in = { 0 };
	char when[32], *key = NULL;
	enum ch_err derr, err;
	int kind = 0;

	derr = decode_delivery(cfg, raw, &d, &src, &kind);
	if (derr != CH_OK && derr != CH_ERR_BAD_BODY) {
		snprintf(error, errlen, "%s", d.error);
		decoded_clear(&d);
		return derr;
	}
	conv_format_time(raw->received_usec, when);
	in = (struct ingest){
		.source = src->name,
		.vendor = src->vendor->name,
		.event = d.event ? d.event : raw->event,
		.method = raw->method,
		.content_type = raw->content_type,
		.query = raw->query,
		.headers = raw->headers,
		.body = raw->body,
		.body_len = raw->body_len,
		.dedup_key = key = dedup_key(raw, &d, kind),
		.outcome = derr == CH_ERR_BAD_BODY ? OUT_REJECTED : d.outcome,
		.error = derr == CH_ERR_BAD_BODY ? d.error : NULL,
		.row_ops = derr == CH_OK ? d.rows : NULL,
		.received_at = when,
	};
	if (derr == CH_OK && d.route && reply != NULL) /* the caller is on the line */
		in.budget_ms = s->route_ms > 0 ? s->route_ms : cfg->route_timeout_ms;
	if (key == NULL)
		err = CH_ERR_NOMEM;
	else if ((err = sink_ingest(s, &in, res)) == CH_ERR_DB)
		err = keep_as_error(s, &in, res, error, errlen);
	if (err == CH_OK && derr == CH_OK && d.route && reply != NULL && s->st != NULL)
		err = route_reply(s->st, &d, in.budget_ms - res->spent_ms, reply);
	else if (err == CH_ERR_DB_DOWN && derr == CH_OK && d.route && reply != NULL)
		*reply = strdup("{}"); /* spooled: the call flow goes on */
	else if (err == CH_OK && d.reply != NULL && reply != NULL)
		*reply = strdup(json_object_to_json_string_ext(d.reply, JSON_OUT));
	if (derr == CH_ERR_BAD_BODY && err == CH_OK)
		snprintf(error, errlen, "%s", d.error);
	if (event != NULL && in.event != NULL)
		*event = strdup(in.event);
	free(key);
	decoded_clear(&d);
	return err != CH_OK ? err : derr;
}

enum ch_err
ingest_raw(const struct config *cfg, struct store *st, const struct raw_delivery *raw,
    struct ingest_result *res, char *error, size_t errlen, char **reply, char **event)
{
	struct sink s = { .st = st };

	return deliver(cfg, &s, raw, res, error, errlen, reply, event);
}
