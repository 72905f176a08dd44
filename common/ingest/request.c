/*
 * One webhook request from CGI parameters and body to the answer: the route
 * (source, event, method, size), the credentials, the raw delivery, then
 * deliver() through the worker's batcher, the spool when the database is
 * out of reach, and the HTTP status and body.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/clock.h"
#include "core/digest.h"
#include "ingest/batch.h"
#include "core/form.h"
#include "core/log.h"
#include "ingest/request.h"
#include "ingest/spool.h"

#define MAX_PATH_LEN 512

void
request_init(struct request *req, const struct config *cfg, param_fn param, void *ctx)
{
	memset(req, 0, sizeof(*req));
	req->cfg = cfg;
	req->param = param;
	req->param_ctx = ctx;
	req->outcome = OUT_ERROR;
}

void
request_free(struct request *req)
{
	free(req->event);
	free(req->body);
	free(req->reply);
	free(req->event_name);
	memset(req, 0, sizeof(*req));
}

static const char *
param(const struct request *req, const char *name)
{
	return req->param(req->param_ctx, name);
}

static enum ch_err
fail(struct request *req, enum ch_err err, const char *msg)
{
	req->err = err;
	snprintf(req->error, sizeof(req->error), "%s", msg != NULL ? msg : ch_strerror(err));
	return err;
}

static unsigned
method_bit(const char *m)
{
	if (!strcmp(m, "GET"))
		return M_GET;
	if (!strcmp(m, "POST"))
		return M_POST;
	if (!strcmp(m, "PUT"))
		return M_PUT;
	if (!strcmp(m, "PATCH"))
		return M_PATCH;
	return 0;
}

/* The request path below the /hooks/ prefix. */
static const char *
hook_path(const struct request *req)
{
	const char *uri = param(req, "DOCUMENT_URI"), *p;

	if (uri == NULL || *uri == '\0')
		uri = param(req, "SCRIPT_NAME");
	if (uri == NULL)
		return NULL;
	if ((p = strstr(uri, "/hooks/")) == uri)
		return uri + 7;
	p = param(req, "PATH_INFO");
	return (p != NULL && *p == '/') ? p + 1 : uri + (*uri == '/');
}

static bool
valid_segment(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 128 || s[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* Splits "source[/event][/]" and finds the source. */
static enum ch_err
route_path(struct request *req)
{
	const char *path = hook_path(req), *slash, *ev;
	size_t n, evn;

	if (path == NULL || strlen(path) > MAX_PATH_LEN)
		return fail(req, CH_ERR_NOT_FOUND, "not found");
	slash = strchr(path, '/');
	n = slash ? (size_t)(slash - path) : strlen(path);
	ev = slash ? slash + 1 : "";
	evn = strcspn(ev, "/");
	if (ev[evn] == '/' && ev[evn + 1] != '\0')
		return fail(req, CH_ERR_NOT_FOUND, "not found");
	if (n == 1 && path[0] == '-') {
		if (evn == 6 && !strncmp(ev, "health", 6))
			req->special = SPECIAL_HEALTH;
		else if (evn == 7 && !strncmp(ev, "metrics", 7))
			req->special = SPECIAL_METRICS;
		else
			return fail(req, CH_ERR_NOT_FOUND, "not found");
		return CH_OK;
	}
	if (!valid_segment(path, n) || (evn > 0 && !valid_segment(ev, evn)) ||
	    (req->source = config_find_source(req->cfg, path, n)) == NULL)
		return fail(req, CH_ERR_NOT_FOUND, "not found");
	req->vendor = req->source->vendor;
	if (evn > 0 && (req->event = strndup(ev, evn)) == NULL)
		return fail(req, CH_ERR_NOMEM, NULL);
	return CH_OK;
}

/*
 * Checks the URL's event segment (already a valid segment) against the vendor: required where the
 * body does not name the event, one of path_events, or any name for a vendor that stores the
 * others as ignored. NOT_FOUND naming the problem otherwise.
 */
static enum ch_err
route_event(struct request *req)
{
	char msg[200];

	if (req->event == NULL) {
		if (req->vendor->event_required) {
			snprintf(msg, sizeof(msg), "the URL must name the event: /hooks/%s/<event>",
			    req->source->name);
			return fail(req, CH_ERR_NOT_FOUND, msg);
		}
		return CH_OK;
	}
	/* CallRail never retries: an event it adds later is kept (as ignored) rather than lost. */
	if (!vendor_has_event(req->vendor, req->event) && !req->vendor->other_events_ignored) {
		snprintf(msg, sizeof(msg), "unknown event in URL: %s", req->event);
		return fail(req, CH_ERR_NOT_FOUND, msg);
	}
	return CH_OK;
}

/* Parses CONTENT_LENGTH strictly; -1 when malformed. */
static long long
content_length(const char *s)
{
	long long n = 0;

	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || n > (1LL << 40))
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n;
}

enum ch_err
request_route(struct request *req)
{
	const char *m = param(req, "REQUEST_METHOD");
	long long len;
	enum ch_err err;

	req->method = m != NULL ? m : "GET";
	if ((err = route_path(req)) != CH_OK)
		return err;
	if (req->special)
		return strcmp(req->method, "GET") ? fail(req, CH_ERR_METHOD, NULL) : CH_OK;
	if ((err = route_event(req)) != CH_OK)
		return err;
	if ((req->vendor->methods & method_bit(req->method)) == 0)
		return fail(req, CH_ERR_METHOD, NULL);
	len = content_length(param(req, "CONTENT_LENGTH"));
	if (len < 0)
		return fail(req, CH_ERR_BAD_REQUEST, "invalid Content-Length");
	if ((unsigned long long)len > req->cfg->max_body)
		return fail(req, CH_ERR_TOO_LARGE, NULL);
	req->content_length = len;
	req->body_kind = delivery_body_kind(req->vendor, req->method, param(req, "CONTENT_TYPE"));
	if (req->body_kind == 0)
		return fail(req, CH_ERR_MEDIA_TYPE, NULL);
	return CH_OK;
}

/* Constant-time equality that does not leak the length either. */
static bool
secret_equal(const char *got, size_t gotlen, const char *want)
{
	unsigned char a[SHA256_LEN], b[SHA256_LEN];

	if (got == NULL)
		got = "", gotlen = 0;
	sha256(got, gotlen, a);
	sha256(want, strlen(want), b);
	return CRYPTO_memcmp(a, b, SHA256_LEN) == 0;
}

/* The credential after "Scheme " in the Authorization header, or NULL. */
static const char *
authorization(const struct request *req, const char *scheme)
{
	const char *h = param(req, "HTTP_AUTHORIZATION");
	size_t n = strlen(scheme);

	if (h == NULL || strncasecmp(h, scheme, n) || h[n] != ' ')
		return NULL;
	for (h += n; *h == ' '; h++)
		;
	return h;
}

static bool
check_token(const struct request *req, const char *token)
{
	const char *bearer = authorization(req, "Bearer");
	char *q = NULL;
	bool ok;

	if (bearer != NULL)
		return secret_equal(bearer, strlen(bearer), token);
	if (param(req, "QUERY_STRING") != NULL)
		q = form_get(param(req, "QUERY_STRING"), "token");
	ok = secret_equal(q, q ? strlen(q) : 0, token);
	free(q);
	return ok;
}

static bool
check_basic(const struct request *req, const char *userpass)
{
	const char *b64 = authorization(req, "Basic");
	unsigned char dec[512];
	size_t n;
	int len;

	if (b64 == NULL || (n = strlen(b64)) == 0 || n > 600 || n % 4 != 0)
		return false;
	len = EVP_DecodeBlock(dec, (const unsigned char *)b64, n);
	if (len < 0)
		return false;
	while (len > 0 && n > 0 && b64[--n] == '=')
		len--;
	return secret_equal((const char *)dec, len, userpass);
}

/* CallRail: Signature = base64(HMAC-SHA1(key, raw body)). */
static bool
check_signature(const struct request *req, const char *key)
{
	const char *sig = param(req, "HTTP_SIGNATURE");
	unsigned char mac[SHA1_LEN];
	unsigned char b64[4 * ((SHA1_LEN + 2) / 3) + 1];

	hmac_sha1(key, strlen(key), req->body ? req->body : "", req->body_len, mac);
	EVP_EncodeBlock(b64, mac, SHA1_LEN);
	return secret_equal(sig, sig ? strlen(sig) : 0, (const char *)b64);
}

enum ch_err
request_auth(struct request *req)
{
	const struct source *s = req->source;
	const char *h;
	bool ok = true;

	if (s->token != NULL)
		ok &= check_token(req, s->token);
	if (s->header_param != NULL) {
		h = param(req, s->header_param);
		ok &= secret_equal(h, h ? strlen(h) : 0, s->header_value);
	}
	if (s->basic_auth != NULL)
		ok &= check_basic(req, s->basic_auth);
	if (s->signing_key != NULL)
		ok &= check_signature(req, s->signing_key);
	return ok ? CH_OK : fail(req, CH_ERR_UNAUTHORIZED, "unauthorized");
}

/* The request headers worth keeping with the delivery: never credentials. */
static char *
selected_headers(const struct request *req)
{
	static const char *const keep[][2] = {
		{ "HTTP_USER_AGENT", "user-agent" },
		{ "HTTP_X_FORWARDED_FOR", "x-forwarded-for" },
		{ "HTTP_X_REAL_IP", "x-real-ip" },
		{ "REMOTE_ADDR", "remote-addr" },
		{ "CONTENT_LENGTH", "content-length" },
		{ "HTTP_X_REQUEST_ID", "x-request-id" },
	};
	struct json_object *o = json_object_new_object();
	const char *v;
	char *s;
	size_t i;

	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if ((v = param(req, keep[i][0])) != NULL && conv_utf8_valid(v, strlen(v)) && strlen(v) < 1024)
			json_object_object_add(o, keep[i][1], json_object_new_string(v));
	s = strdup(json_object_to_json_string_ext(o, JSON_OUT));
	json_object_put(o);
	return s;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

/* Fills `raw` from the request; its body moves from req to raw. */
static enum ch_err
request_raw(struct request *req, struct raw_delivery *raw)
{
	static const char *const secrets[] = { "token", NULL };
	const char *q = param(req, "QUERY_STRING");

	raw->source = strdup(req->source->name);
	raw->event = dup_or_null(req->event);
	raw->method = strdup(req->method);
	raw->content_type = dup_or_null(param(req, "CONTENT_TYPE"));
	raw->query = form_without(q != NULL ? q : "", secrets);
	raw->headers = selected_headers(req);
	raw->body = req->body;
	raw->body_len = req->body_len;
	raw->received_usec = req->received_usec;
	req->body = NULL;
	req->body_len = 0;
	if (!raw->source || !raw->method || !raw->query || !raw->headers)
		return CH_ERR_NOMEM;
	return CH_OK;
}

/* Whether the request is a hit the caller waits on (the vendor's live_event: CallScaler in-call). */
static bool
live_hit(const struct request *req)
{
	const char *live = req->vendor != NULL ? req->vendor->live_event : NULL;

	return live != NULL && req->event != NULL && !strcmp(req->event, live);
}

/*
 * A live hit is answered 200 even when its body is rejected (kept as such):
 * `{}` lets the call flow go on.
 */
static void
answer_live_hit(struct request *req)
{
	if (req->err != CH_ERR_BAD_BODY || !live_hit(req))
		return;
	free(req->reply);
	if ((req->reply = strdup("{}")) != NULL)
		req->err = CH_OK;
}

/* A live hit's ingest_raw(), run with the worker's connection to itself (batch_solo_within()). */
struct live {
	struct request *req;
	const struct raw_delivery *raw;
	struct ingest_result *res;
	int64_t arrived_ms; /* monotonic */
	char *event;
	enum ch_err err;
};

static void
ingest_live(struct store *st, void *arg)
{
	struct live *lv = arg;
	long long left = lv->req->cfg->route_timeout_ms - ((int64_t)mono_ms() - lv->arrived_ms);
	struct sink s = { .st = st, .route_ms = left > 1 ? (int)left : 1 };

	lv->err = deliver(lv->req->cfg, &s, lv->raw, lv->res, lv->req->error, sizeof(lv->req->error),
	    &lv->req->reply, &lv->event);
}

/*
 * Decodes and stores `raw` in a batch; a live hit on its own instead, within
 * route_timeout_ms of its arrival, waiting included: when the connection is
 * not free in time, CH_ERR_DB_DOWN (spool it) and the answer {}.
 */
static enum ch_err
ingest_request(struct request *req, struct batch *b, const struct raw_delivery *raw,
    struct ingest_result *res, char **event)
{
	struct live lv = { .req = req, .raw = raw, .res = res, .arrived_ms = (int64_t)mono_ms() };
	struct sink sink = { .b = b };

	if (!live_hit(req))
		return deliver(req->cfg, &sink, raw, res, req->error, sizeof(req->error), &req->reply, event);
	if (!batch_solo_within(b, ingest_live, &lv, req->cfg->route_timeout_ms)) {
		log_msg(LOG_WARNING, "in-call hit waited route_timeout_ms for the database: spooling it");
		req->reply = strdup("{}");
		return CH_ERR_DB_DOWN;
	}
	*event = lv.event;
	return lv.err;
}

void
request_process(struct request *req, struct batch *b)
{
	struct raw_delivery raw = { 0 };
	struct ingest_result res = { 0 };
	char *event = NULL;
	enum ch_err err;

	if ((err = request_raw(req, &raw)) != CH_OK) {
		fail(req, err, NULL);
		goto out;
	}
	err = ingest_request(req, b, &raw, &res, &event);
	req->event_name = event;
	req->err = err;
	req->delivery_id = res.delivery_id;
	req->outcome = res.outcome;
	if (err == CH_ERR_DB_DOWN) {
		if (spool_write(req->cfg->spool_dir, &raw) == CH_OK) {
			req->err = CH_OK;
			req->outcome = OUT_SPOOLED;
		} else
			fail(req, CH_ERR_UNAVAILABLE, "database unavailable");
	} else if (err == CH_OK && res.outcome == OUT_DUPLICATE && res.prior == OUT_REJECTED)
		req->err = CH_ERR_BAD_BODY;
	answer_live_hit(req);
out:
	raw_delivery_clear(&raw);
}

void
request_allow(const struct request *req, char *buf, size_t len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} m[] = {
		{ M_GET, "GET" },
		{ M_POST, "POST" },
		{ M_PUT, "PUT" },
		{ M_PATCH, "PATCH" },
	};
	unsigned methods = req->special ? M_GET : req->vendor ? req->vendor->methods : 0;
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (methods & m[i].bit)
			n += snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? ", " : "", m[i].name);
}

int
request_status(const struct request *req)
{
	return ch_err_http_status(req->err);
}

char *
request_body(const struct request *req)
{
	struct json_object *o;
	char *s;

	if (req->err == CH_OK && req->reply != NULL)
		return strdup(req->reply);
	o = json_object_new_object();
	if (req->err != CH_OK)
		json_object_object_add(o, "error",
		    json_object_new_string(req->error[0] ? req->error : ch_strerror(req->err)));
	else {
		json_object_object_add(o, "status", json_object_new_string(outcome_name(req->outcome)));
		if (req->outcome != OUT_SPOOLED)
			json_object_object_add(o, "delivery", json_object_new_int64(req->delivery_id));
		if (req->outcome == OUT_IGNORED && req->event_name != NULL)
			json_object_object_add(o, "event", json_object_new_string(req->event_name));
	}
	if (req->err == CH_ERR_BAD_BODY && req->delivery_id > 0)
		json_object_object_add(o, "delivery", json_object_new_int64(req->delivery_id));
	s = strdup(json_object_to_json_string_ext(o, JSON_OUT));
	json_object_put(o);
	return s;
}
