/*
 * Fuzzes the request front: "NAME=value" lines of CGI parameters, an empty
 * line, then the body. Routing, limits, credentials and decoding run as for a
 * real request; storage is left out.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ingest/request.h"

#define MAX_PARAMS 32

struct env {
	char *name[MAX_PARAMS];
	char *value[MAX_PARAMS];
	int n;
};

static const char *
env_param(void *ctx, const char *name)
{
	struct env *e = ctx;
	int i;

	for (i = 0; i < e->n; i++)
		if (!strcmp(e->name[i], name))
			return e->value[i];
	return NULL;
}

/* Splits the input in place; returns the body. */
static char *
parse_env(char *s, char *end, struct env *e)
{
	char *nl, *eq;

	while (s < end && e->n < MAX_PARAMS) {
		if ((nl = memchr(s, '\n', end - s)) == NULL)
			return end;
		*nl = '\0';
		if (nl == s)
			return nl + 1;
		if ((eq = strchr(s, '=')) != NULL) {
			*eq = '\0';
			e->name[e->n] = s;
			e->value[e->n++] = eq + 1;
		}
		s = nl + 1;
	}
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = fuzz_config();
	char *buf = malloc(size + 1), *body;
	struct env e = { .n = 0 };
	struct request req;
	struct raw_delivery raw = { 0 };
	struct decoded d = { 0 };
	const struct source *src;
	size_t blen;
	int kind;

	memcpy(buf, data, size);
	buf[size] = '\0';
	body = parse_env(buf, buf + size, &e);
	blen = buf + size - body;
	request_init(&req, cfg, env_param, &e);
	if (request_route(&req) == CH_OK && !req.special) {
		req.body_len = blen < req.content_length ? blen : req.content_length;
		req.body = malloc(req.body_len + 1);
		memcpy(req.body, body, req.body_len);
		req.body[req.body_len] = '\0';
		if (request_auth(&req) == CH_OK) {
			raw.source = (char *)req.source->name;
			raw.event = req.event;
			raw.method = (char *)req.method;
			raw.content_type = (char *)env_param(&e, "CONTENT_TYPE");
			raw.query = env_param(&e, "QUERY_STRING") ? (char *)env_param(&e, "QUERY_STRING") : "";
			raw.body = req.body;
			raw.body_len = req.body_len;
			(void)decode_delivery(cfg, &raw, &d, &src, &kind);
			decoded_clear(&d);
		}
	}
	free(request_body(&req));
	request_free(&req);
	free(buf);
	return 0;
}
