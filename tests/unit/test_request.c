/* Routing, limits and credentials of a request, from CGI parameters alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "tmpconf.h"
#include "ingest/request.h"
#include "vendors/vendor.h"

/* A CGI environment as NULL-terminated name/value pairs. */
static const char *
env_param(void *ctx, const char *name)
{
	const char *const *e = ctx;

	for (; e[0] != NULL; e += 2)
		if (!strcmp(e[0], name))
			return e[1];
	return NULL;
}

static struct config *
test_config(void)
{
	char *path = write_tmp(
	    "[server]\nmax_body = 4k\n"
	    "[source ct]\nvendor = calltracker\ntoken = s3cret\n"
	    "[source hdr]\nvendor = calltracker\nheader = X-Api-Key: k3y\n"
	    "[source basic]\nvendor = calltracker\nbasic_auth = user:pa55\n"
	    "[source open]\nvendor = calltracker\nallow_unauthenticated = yes\n"
	    "[source cr]\nvendor = callrail\nsigning_key = 072e77e426f92738a72fe23c4d1953b4\n");
	struct config *cfg = vendor_bind_sources(config_load(path));

	unlink(path);
	free(path);
	return cfg;
}

/* Routes a request made of `env` and returns the error. */
static enum ch_err
route(const struct config *cfg, const char **env, struct request *req)
{
	request_init(req, cfg, env_param, (void *)env);
	return request_route(req);
}

static enum ch_err
route_only(const struct config *cfg, const char **env)
{
	struct request req;
	enum ch_err err = route(cfg, env, &req);

	request_free(&req);
	return err;
}

#define POST_JSON(uri, len) \
	"REQUEST_METHOD", "POST", "DOCUMENT_URI", uri, "CONTENT_TYPE", "application/json", "CONTENT_LENGTH", \
	    len

static void
routing(const struct config *cfg)
{
	const char *ok[] = { POST_JSON("/hooks/ct", "10"), NULL };
	const char *slash[] = { POST_JSON("/hooks/ct/", "10"), NULL };
	const char *unknown[] = { POST_JSON("/hooks/nope", "10"), NULL };
	const char *deep[] = { POST_JSON("/hooks/ct/a/b", "10"), NULL };
	const char *dots[] = { POST_JSON("/hooks/../ct", "10"), NULL };
	const char *event[] = { POST_JSON("/hooks/ct/call_received", "10"), NULL };
	const char *get[] = { "REQUEST_METHOD", "GET", "DOCUMENT_URI", "/hooks/ct", NULL };
	const char *del[] = { "REQUEST_METHOD", "DELETE", "DOCUMENT_URI", "/hooks/ct", NULL };
	const char *big[] = { POST_JSON("/hooks/ct", "4097"), NULL };
	const char *limit[] = { POST_JSON("/hooks/ct", "4096"), NULL };
	const char *badlen[] = { POST_JSON("/hooks/ct", "12x"), NULL };
	const char *hugelen[] = { POST_JSON("/hooks/ct", "99999999999999999999999"), NULL };
	const char *text[] = { "REQUEST_METHOD", "POST", "DOCUMENT_URI", "/hooks/ct", "CONTENT_TYPE",
		"text/plain", "CONTENT_LENGTH", "5", NULL };
	const char *charset[] = { "REQUEST_METHOD", "POST", "DOCUMENT_URI", "/hooks/ct", "CONTENT_TYPE",
		"Application/JSON; charset=utf-8", "CONTENT_LENGTH", "5", NULL };
	const char *health[] = { "REQUEST_METHOD", "GET", "DOCUMENT_URI", "/hooks/-/health", NULL };
	struct request req;

	CHECK(route_only(cfg, ok) == CH_OK, "POST /hooks/ct routes");
	CHECK(route_only(cfg, slash) == CH_OK, "a trailing slash is accepted");
	CHECK(route_only(cfg, unknown) == CH_ERR_NOT_FOUND, "unknown source is 404");
	CHECK(route_only(cfg, deep) == CH_ERR_NOT_FOUND, "extra path segments are 404");
	CHECK(route_only(cfg, dots) == CH_ERR_NOT_FOUND, "dot segments are 404");
	CHECK(route_only(cfg, event) == CH_ERR_NOT_FOUND,
	    "an event in the URL of a vendor that names it in the body is 404");
	CHECK(route_only(cfg, get) == CH_ERR_METHOD, "GET to a POST-only vendor is 405");
	CHECK(route_only(cfg, del) == CH_ERR_METHOD, "DELETE is 405");
	CHECK(route_only(cfg, big) == CH_ERR_TOO_LARGE, "Content-Length over max_body is 413");
	CHECK(route_only(cfg, limit) == CH_OK, "Content-Length equal to max_body is accepted");
	CHECK(route_only(cfg, badlen) == CH_ERR_BAD_REQUEST, "a malformed Content-Length is 400");
	CHECK(route_only(cfg, hugelen) == CH_ERR_BAD_REQUEST, "an absurd Content-Length is 400");
	CHECK(route_only(cfg, text) == CH_ERR_MEDIA_TYPE, "text/plain to a JSON vendor is 415");
	CHECK(route_only(cfg, charset) == CH_OK, "media type match ignores case and parameters");
	CHECK(route(cfg, health, &req) == CH_OK && req.special == SPECIAL_HEALTH,
	    "GET /hooks/-/health is the health check");
	request_free(&req);
	CHECK(ch_err_http_status(CH_ERR_TOO_LARGE) == 413 && ch_err_http_status(CH_ERR_MEDIA_TYPE) == 415 &&
		ch_err_http_status(CH_ERR_UNAVAILABLE) == 503 && ch_err_http_status(CH_ERR_BAD_BODY) == 400,
	    "errors map to the contract's statuses");
}

static enum ch_err
auth(const struct config *cfg, const char **env)
{
	struct request req;
	enum ch_err err = route(cfg, env, &req);

	if (err == CH_OK)
		err = request_auth(&req);
	request_free(&req);
	return err;
}

static void
credentials(const struct config *cfg)
{
	const char *query[] = { POST_JSON("/hooks/ct", "2"), "QUERY_STRING", "a=1&token=s3cret", NULL };
	const char *bearer[] = { POST_JSON("/hooks/ct", "2"), "HTTP_AUTHORIZATION", "Bearer s3cret", NULL };
	const char *wrong[] = { POST_JSON("/hooks/ct", "2"), "QUERY_STRING", "token=s3cre", NULL };
	const char *longer[] = { POST_JSON("/hooks/ct", "2"), "QUERY_STRING", "token=s3cret1", NULL };
	const char *none[] = { POST_JSON("/hooks/ct", "2"), NULL };
	const char *hdr[] = { POST_JSON("/hooks/hdr", "2"), "HTTP_X_API_KEY", "k3y", NULL };
	const char *hdr_bad[] = { POST_JSON("/hooks/hdr", "2"), "HTTP_X_API_KEY", "k3Y", NULL };
	const char *basic[] = { POST_JSON("/hooks/basic", "2"), "HTTP_AUTHORIZATION", "Basic dXNlcjpwYTU1",
		NULL };
	const char *basic_bad[] = { POST_JSON("/hooks/basic", "2"), "HTTP_AUTHORIZATION",
		"Basic dXNlcjpwYTU2", NULL };
	const char *open[] = { POST_JSON("/hooks/open", "2"), NULL };

	CHECK(auth(cfg, query) == CH_OK, "token in the query string");
	CHECK(auth(cfg, bearer) == CH_OK, "token as Authorization: Bearer");
	CHECK(auth(cfg, wrong) == CH_ERR_UNAUTHORIZED, "a wrong token is 401");
	CHECK(auth(cfg, longer) == CH_ERR_UNAUTHORIZED, "a token with extra characters is 401");
	CHECK(auth(cfg, none) == CH_ERR_UNAUTHORIZED, "a missing token is 401");
	CHECK(auth(cfg, hdr) == CH_OK, "the required header");
	CHECK(auth(cfg, hdr_bad) == CH_ERR_UNAUTHORIZED, "header values compare case-sensitively");
	CHECK(auth(cfg, basic) == CH_OK, "basic auth user:pa55");
	CHECK(auth(cfg, basic_bad) == CH_ERR_UNAUTHORIZED, "wrong basic auth is 401");
	CHECK(auth(cfg, open) == CH_OK, "allow_unauthenticated needs nothing");
}

/* CallRail's published vector ("Validating Payloads"): this key and body give this signature. */
static void
callrail_vector(const struct config *cfg)
{
	const char *good[] = { POST_JSON("/hooks/cr/post_call", "2279"), "HTTP_SIGNATURE",
		"UZAHbUdfm3GqL7qzilGozGzWV64=", NULL };
	const char *bad[] = { POST_JSON("/hooks/cr/post_call", "2279"), "HTTP_SIGNATURE",
		"UZAHbUdfm3GqL7qzilGozGzWV65=", NULL };
	const char *none[] = { POST_JSON("/hooks/cr/post_call", "2279"), NULL };
	const char *const *envs[3] = { good, bad, none };
	enum ch_err want[3] = { CH_OK, CH_ERR_UNAUTHORIZED, CH_ERR_UNAUTHORIZED };
	FILE *fp = fopen(SRCDIR "/tests/fixtures/callrail/post_call_docs_vector.body", "rb");
	char body[4096];
	size_t n = fp ? fread(body, 1, sizeof(body), fp) : 0;
	struct request req;
	int i;

	if (fp)
		fclose(fp);
	CHECK(n == 2279, "the published sample body is 2279 bytes (got %zu)", n);
	for (i = 0; i < 3; i++) {
		request_init(&req, cfg, env_param, (void *)envs[i]);
		if (request_route(&req) == CH_OK) {
			req.body = malloc(n + 1);
			memcpy(req.body, body, n);
			req.body_len = n;
			CHECK(request_auth(&req) == want[i], "CallRail signature case %d: %s", i,
			    i == 0     ? "the published signature verifies" :
				i == 1 ? "one changed character fails" :
					 "a missing signature fails");
		} else
			CHECK(0, "CallRail vector request routes");
		request_free(&req);
	}
}

static void
answers(void)
{
	struct request req = { .err = CH_OK, .outcome = OUT_STORED, .delivery_id = 42 };
	char *body = request_body(&req);

	CHECK_STR(body, "{\"status\":\"stored\",\"delivery\":42}", "stored answer");
	free(body);
	req.outcome = OUT_SPOOLED;
	body = request_body(&req);
	CHECK_STR(body, "{\"status\":\"spooled\"}", "spooled answer has no delivery id");
	free(body);
	req.err = CH_ERR_UNAUTHORIZED;
	snprintf(req.error, sizeof(req.error), "unauthorized");
	body = request_body(&req);
	CHECK_STR(body, "{\"error\":\"unauthorized\"}", "401 answer");
	free(body);
}

void test_request(void);

void
test_request(void)
{
	struct config *cfg = test_config();

	CHECK(cfg->nproblems == 0, "request test config loads");
	routing(cfg);
	credentials(cfg);
	callrail_vector(cfg);
	answers();
	config_free(cfg);
}
