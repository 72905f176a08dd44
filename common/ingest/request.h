/* One webhook request: routing, limits, credentials, decoding, storage, and the answer. */
#ifndef CALLHOOK_REQUEST_H
#define CALLHOOK_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/conf.h"
#include "core/err.h"
#include "ingest/deliver.h"
#include "ingest/store.h"
#include "vendors/vendor.h"

/* Reads CGI parameters (CONTENT_LENGTH, HTTP_SIGNATURE, …); returns NULL when absent. */
typedef const char *(*param_fn)(void *ctx, const char *name);

struct request {
	const struct config *cfg; /* borrowed */
	param_fn param;
	void *param_ctx;

	/* set by request_route() */
	const struct source *source;
	const struct vendor *vendor;
	char *event;
	const char *method;
	int body_kind;
	size_t content_length;
	int special; /* 0, or SPECIAL_HEALTH / SPECIAL_METRICS */

	/* set by the front after routing */
	char *body;
	size_t body_len;
	int64_t received_usec;

	/* the result */
	enum ch_err err;
	char error[256]; /* what is wrong, for the JSON answer */
	enum outcome outcome;
	int64_t delivery_id;
	char *reply;      /* a body other than the usual one (routing decision) */
	char *event_name; /* the event as stored (owned: freed by request_free()), for logs */
};

enum { SPECIAL_HEALTH = 1, SPECIAL_METRICS = 2 };

/* Sets up `req` to read parameters through `param`. */
void request_init(struct request *req, const struct config *cfg, param_fn param, void *ctx);
void request_free(struct request *req);

/*
 * Checks path, source, method, content type and length, all before the body
 * is read. On error sets req->err and req->error and returns it.
 */
enum ch_err request_route(struct request *req) MUSTCHECK;

/* Checks the source's credentials against the request (constant time). */
enum ch_err request_auth(struct request *req) MUSTCHECK;

/*
 * Decodes and stores an authenticated request read by the front, spooling it
 * when the database is down or does not answer within the delivery's budget
 * (a CallScaler in-call hit then answers {}). Sets req->outcome,
 * req->delivery_id, req->err. The delivery goes through the worker's batcher
 * `b`, in one transaction with the others ready at the same time; a live hit
 * (CallScaler in-call), whose routing answer the caller waits for, is stored
 * and routed on its own (batch_solo()), as ingest_raw() does it.
 */
struct batch;
void request_process(struct request *req, struct batch *b);

/* The HTTP status and a new JSON body (free()) for a finished request. */
int request_status(const struct request *req);
char *request_body(const struct request *req);

/* The methods the request's source accepts, for a 405's Allow header ("GET, POST"). */
void request_allow(const struct request *req, char *buf, size_t len);

#endif
