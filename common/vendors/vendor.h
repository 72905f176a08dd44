/* The interface every vendor decoder implements, and the helpers they share. */
#ifndef CALLHOOK_VENDOR_H
#define CALLHOOK_VENDOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "core/convert.h"
#include "core/err.h"

struct config;
struct source;

/* How callhook writes JSON: compact, "/" not escaped. */
#define JSON_OUT (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* HTTP methods, as a bit set. */
enum {
	M_GET = 1 << 0,
	M_POST = 1 << 1,
	M_PUT = 1 << 2,
	M_PATCH = 1 << 3,
};

/* Body encodings a vendor accepts. */
enum {
	BODY_JSON = 1 << 0,  /* application/json (and any +json type) */
	BODY_FORM = 1 << 1,  /* application/x-www-form-urlencoded */
	BODY_QUERY = 1 << 2, /* GET: parameters in the query string */
};

enum outcome {
	OUT_STORED,
	OUT_DUPLICATE,
	OUT_IGNORED,
	OUT_REJECTED,
	OUT_SPOOLED,
	OUT_ERROR,
};
const char *outcome_name(enum outcome o);

/* What a decoder reads: the request after routing, auth and size checks. All borrowed. */
struct delivery_in {
	const struct source *source;
	const char *event; /* the path's event segment, or NULL */
	const char *method;
	int body_kind; /* BODY_JSON, BODY_FORM or BODY_QUERY */
	const char *body;
	size_t body_len;
	struct json_object *doc; /* parsed JSON body, or the form/query fields as an object of strings */
	int64_t received_usec;
};

/* What a decoder produces; owned by the request, released by decoded_clear(). */
struct decoded {
	char *event;               /* event name to store (new string), or NULL */
	char *dedup_key;           /* the vendor's delivery id, or NULL for event + body hash */
	enum outcome outcome;      /* OUT_STORED or OUT_IGNORED */
	struct json_object *rows;  /* array of row operations (see sql/), or NULL */
	struct json_object *reply; /* a response body other than the usual one, or NULL */
	bool route;                /* ask callhook.route_call() for the reply (CallScaler in-call) */
	char *route_args[4];       /* source, caller, tracking number, call id */
	char error[256];           /* on CH_ERR_BAD_BODY: what is wrong, naming the field */
};
void decoded_clear(struct decoded *d);

struct vendor {
	const char *name;
	unsigned methods;               /* M_* accepted */
	unsigned bodies;                /* BODY_* accepted */
	const char *const *path_events; /* events named in the URL, NULL-terminated; NULL if the body names them */
	bool event_required;            /* the URL must name one of path_events */
	bool other_events_ignored;      /* any other well-formed URL event is taken and stored as ignored */
	const char *live_event;         /* URL event the caller waits on: always 200 (`{}` when rejected) */
	const char *default_cc;         /* country code for numbers without one: "1", "61" */
	/*
	 * Paths of JSON objects whose member names may repeat (json_strict.h), NULL-terminated;
	 * NULL: none. Everywhere else a repeated name makes the body ambiguous and it is rejected.
	 */
	const char *const *repeat_ok;
	/* Fills `out` from `in`. CH_ERR_BAD_BODY with out->error set when the payload is wrong. */
	enum ch_err (*decode)(const struct delivery_in *in, struct decoded *out);
};

extern const struct vendor *const vendors[];
const struct vendor *vendor_find(const char *name);
/*
 * Points each source of a loaded config at the vendor it names; an unknown
 * name is a problem of cfg at its line. Returns cfg (may be NULL), so that
 * every load reads vendor_bind_sources(config_load(path)).
 */
struct config *vendor_bind_sources(struct config *cfg);
bool vendor_has_event(const struct vendor *v, const char *event);

/* One vendor field onto one column. */
enum {
	F_E164 = 1 << 0, /* also store <column>_e164 */
};
struct field_map {
	const char *key; /* key in the object; a dotted key is tried whole, then as a path */
	const char *column;
	conv_fn conv;
	unsigned flags;
};

/* utm_source … utm_content, gclid, fbclid, msclkid: same name in payload and column. */
extern const struct field_map utm_click_fields[];

/*
 * Applies `map` to `obj`, adding converted values to `cols` (first mapped
 * value per column wins). `where` prefixes field names in errors ("data.").
 * On a bad value returns CH_ERR_BAD_BODY with out->error naming the field.
 */
enum ch_err map_fields(struct json_object *obj, const struct field_map *map, const char *where,
    const char *default_cc, struct json_object *cols, struct decoded *out) MUSTCHECK;

/* Borrowing lookup of `key` in `obj`: whole key first, then as a dotted path. */
struct json_object *json_find(struct json_object *obj, const char *key);
/* The text of a string or integer field (borrowed), or NULL when absent or empty. */
const char *json_find_text(struct json_object *obj, const char *key);

/*
 * Returns a new row operation for `table` (see sql/001_schema.sql): the
 * caller owns it. `data` is borrowed (a reference is taken). Add columns to
 * row_cols(row) and append the row to d->rows with rows_add().
 */
struct json_object *row_new(const char *table, const char *external_id, const char *event_time, bool is_test,
    struct json_object *data);
/*
 * The row operation's other settings; only these functions (and row_new())
 * write its keys, which sql/002_ingest.sql reads. row_insert_only(): an
 * existing row with the same external_id is left as it is. row_set_event_time():
 * text as event_time() gives it. row_set_external_id(): NULL removes it (a call
 * event is then named by its delivery and place).
 */
void row_insert_only(struct json_object *row);
void row_set_event_time(struct json_object *row, const char *event_time_text);
void row_set_external_id(struct json_object *row, const char *external_id);

/*
 * Appends to d->rows a final transcript of call `call_id`: it replaces the
 * call's live turns (op replace_segments). Returns its list of segments, to
 * which segment_new() adds turn `seq` (1, 2, …), its columns set as on
 * row_cols() and `data` (borrowed, may be NULL) kept as the turn's data.
 */
struct json_object *row_final_transcript(struct decoded *d, const char *call_id, const char *event_time_text,
    bool is_test);
struct json_object *segment_new(struct json_object *segments, int64_t seq, struct json_object *data);
struct json_object *row_cols(struct json_object *row);
void rows_add(struct decoded *d, struct json_object *row);
void cols_set_str(struct json_object *cols, const char *column, const char *value);

/* Sets d->error from a printf format and returns CH_ERR_BAD_BODY. */
enum ch_err bad_body(struct decoded *d, const char *fmt, ...) PRINTF(2, 3);

/*
 * Converts event time field `key` of `obj` with conv_time into buf (32 bytes);
 * returns buf, or NULL when absent. CH_ERR_BAD_BODY via *err when malformed.
 */
const char *event_time(struct json_object *obj, const char *key, const char *where, char buf[32],
    struct decoded *d, enum ch_err *err);

extern const struct vendor vendor_callrail;
extern const struct vendor vendor_calltracker;
extern const struct vendor vendor_salpre;
extern const struct vendor vendor_callscaler;
extern const struct vendor vendor_fonedynamics;

#endif
