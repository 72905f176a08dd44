/* One delivery from its raw bytes to its stored rows: parse, check, decode, dedup key, store. */
#ifndef CALLHOOK_DELIVER_H
#define CALLHOOK_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/conf.h"
#include "core/err.h"
#include "ingest/store.h"
#include "vendors/vendor.h"

struct batch;

/* A delivery as received: what the spool keeps and what replay re-decodes. */
struct raw_delivery {
	char *source;
	char *event; /* the URL's event segment, or NULL */
	char *method;
	char *content_type;
	char *query;   /* secrets removed */
	char *headers; /* JSON text of the selected headers */
	char *body;
	size_t body_len;
	int64_t received_usec;
};
void raw_delivery_clear(struct raw_delivery *raw);

/* Where a delivery is stored: through this thread's own store, or the worker's batcher. */
struct sink {
	struct store *st; /* or NULL */
	struct batch *b;  /* when st is NULL */
	int route_ms;     /* what is left of an in-call hit's route_timeout_ms; 0: all of it */
	char sqlstate[6]; /* of the last failure */
};

/* BODY_* for a method and content type, or 0 when the vendor takes neither. */
int delivery_body_kind(const struct vendor *v, const char *method, const char *content_type);

/*
 * Decodes and stores `raw` (live, spooled or replayed); the core of
 * request_process(). CH_ERR_DB_DOWN means nothing was stored: spool it. With
 * reply NULL (the spool) an in-call hit asks for no routing decision; else an
 * in-call hit's storing and routing share route_timeout_ms.
 */
enum ch_err ingest_raw(const struct config *cfg, struct store *st, const struct raw_delivery *raw,
    struct ingest_result *res, char *error, size_t errlen, char **reply, char **event) MUSTCHECK;

/*
 * Parses and decodes `raw` into `d` without storing anything: CH_OK,
 * CH_ERR_BAD_BODY with d->error set, or another error (unknown source,
 * content type). *src and *kind tell the source and body kind found.
 */
enum ch_err decode_delivery(const struct config *cfg, const struct raw_delivery *raw, struct decoded *d,
    const struct source **src, int *kind) MUSTCHECK;

/*
 * ingest_raw() through a sink: a routing decision (*reply) only with a store
 * of the thread's own (s->st).
 */
enum ch_err deliver(const struct config *cfg, struct sink *s, const struct raw_delivery *raw,
    struct ingest_result *res, char *error, size_t errlen, char **reply, char **event) MUSTCHECK;

#endif
