/*
 * Salpre (AI voice agents behind a "Salpre Box" gateway): envelope {event_type, timestamp_utc,
 * payload, is_test} with six events (common/vendors/VENDORS.md, "salpre: transport and events").
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vendors/vendor.h"

/*
 * The call's own fields: payload on lifecycle events, payload.call on transcript and error.
 * The doc lists from, to, direction, source, call_id; the rest are read when present.
 * "source" (the Salpre Box device URI) names no column: it stays in data
 * (common/vendors/VENDORS.md, "salpre: call fields").
 */
static const struct field_map call_fields[] = {
	{ "from", "caller_number", conv_text, F_E164 },
	{ "to", "tracking_number", conv_text, F_E164 },
	{ "answered", "answered", conv_bool, 0 },
	{ "started_at", "started_at", conv_time, 0 },
	{ "duration", "duration_s", conv_int, 0 },
	{ "recording_url", "recording_url", conv_text, 0 },
	{ "summary", "summary", conv_text, 0 },
	{ NULL, NULL, NULL, 0 },
};

/*
 * One transcript turn: {type, message, utc_timestamp} in call_ended's list, {type, transcript,
 * timestamp_utc} as a live transcript payload. Turn times are strings ("111111") and the first
 * turn may have none (common/vendors/VENDORS.md, "salpre: ids and times").
 */
static const struct field_map turn_fields[] = {
	{ "type", "speaker", conv_text, 0 },
	{ "message", "text", conv_text, 0 },
	{ "transcript", "text", conv_text, 0 },
	{ "utc_timestamp", "spoken_at", conv_time, 0 },
	{ "timestamp_utc", "spoken_at", conv_time, 0 },
	{ NULL, NULL, NULL, 0 },
};

static const struct field_map error_fields[] = {
	{ "error_message", "error_message", conv_text, 0 },
	{ NULL, NULL, NULL, 0 },
};

/* What every row of one delivery shares. */
struct sp_ctx {
	struct json_object *payload;
	char t[32]; /* event time: timestamp_utc, else the time of receipt */
	int64_t t_usec;
	bool is_test;
};

struct sp_event;
typedef enum ch_err (*sp_decode_fn)(const struct sp_event *, const struct sp_ctx *, struct decoded *);

struct sp_event {
	const char *type;
	const char *status; /* calls.status it implies, or NULL */
	const char *id_key; /* where the call id is (it moves: common/vendors/VENDORS.md, "salpre: ids and times") */
	sp_decode_fn decode;
};

#define CC (vendor_salpre.default_cc)

/*
 * Finds the call id at `key` of the payload, falling back to the other spelling. *id is
 * borrowed, or NULL when there is none: absent, null, "" and 0 all mean "no call".
 */
static enum ch_err
find_call_id(struct json_object *payload, const char *key, const char **id, struct decoded *d)
{
	struct json_object *v = json_find(payload, key);

	if (conv_is_absent(v)) {
		key = strcmp(key, "call_id") ? "call_id" : "call.id";
		v = json_find(payload, key);
	}
	*id = NULL;
	if (conv_is_absent(v))
		return CH_OK;
	if (!json_object_is_type(v, json_type_string) && !json_object_is_type(v, json_type_int))
		return bad_body(d, "field \"payload.%s\": expected a string or an integer", key);
	*id = json_object_get_string(v);
	if (!strcmp(*id, "0"))
		*id = NULL;
	return CH_OK;
}

/* "outbound" when the payload says so; Salpre calls are otherwise inbound. */
static const char *
direction(struct json_object *call)
{
	const char *dir = json_find_text(call, "direction");

	return dir != NULL && !strcasecmp(dir, "outbound") ? "outbound" : "inbound";
}

/*
 * Adds a calls upsert for call `id` from object `call` (payload or payload.call, named by
 * `where` in errors) with `status` (may be NULL). *row is borrowed from d->rows.
 */
static enum ch_err
call_row(const struct sp_ctx *c, const char *id, struct json_object *call, const char *where,
    const char *status, struct decoded *d, struct json_object **row)
{
	struct json_object *cols;

	*row = row_new("calls", id, c->t, c->is_test, c->payload);
	rows_add(d, *row);
	cols = row_cols(*row);
	cols_set_str(cols, "status", status);
	if (!json_object_is_type(call, json_type_object))
		return CH_OK;
	cols_set_str(cols, "direction", direction(call));
	return map_fields(call, call_fields, where, CC, cols, d);
}

/* Fills segment `seg` (speaker, text, spoken_at) from one turn; `where` names it in errors. */
static enum ch_err
turn_cols(struct json_object *turn, const char *where, struct json_object *seg, struct decoded *d)
{
	if (!json_object_is_type(turn, json_type_object))
		return bad_body(d, "field \"%.*s\": expected an object", (int)strlen(where) - 1, where);
	return map_fields(turn, turn_fields, where, CC, seg, d);
}

/* Appends "speaker: text" (or just the text) as one line of the call's transcript. */
static void
transcript_line(FILE *f, struct json_object *seg)
{
	const char *who = json_find_text(seg, "speaker"), *text = json_find_text(seg, "text");

	if (text == NULL)
		return;
	if (ftell(f) > 0)
		fputc('\n', f);
	if (who != NULL)
		fprintf(f, "%s: ", who);
	fputs(text, f);
}

/* The final segments of call_ended's transcript list, seq 1..n in the order sent. */
static enum ch_err
final_segments(struct json_object *list, struct json_object *segs, FILE *text, struct decoded *d)
{
	struct json_object *seg;
	char where[48];
	size_t i;
	enum ch_err err;

	for (i = 0; i < json_object_array_length(list); i++) {
		seg = segment_new(segs, (int64_t)i + 1, json_object_array_get_idx(list, i));
		snprintf(where, sizeof(where), "payload.transcript[%zu].", i);
		if ((err = turn_cols(json_object_array_get_idx(list, i), where, seg, d)) != CH_OK)
			return err;
		transcript_line(text, seg);
	}
	return CH_OK;
}

/*
 * call_ended carries the full transcript: one replace_segments row (dropping the live partial
 * segments of the call) and the joined "speaker: text" lines in calls.transcript. An absent or
 * empty list changes nothing, as empty values never erase (README, "The tables": the merge rules).
 */
static enum ch_err
final_transcript(const struct sp_ctx *c, const char *id, struct json_object *cols, struct decoded *d)
{
	struct json_object *list = json_find(c->payload, "transcript"), *segs;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	enum ch_err err;

	if (conv_is_absent(list))
		return CH_OK;
	if (!json_object_is_type(list, json_type_array))
		return bad_body(d, "field \"payload.transcript\": expected a list");
	if (json_object_array_length(list) == 0)
		return CH_OK;
	segs = row_final_transcript(d, id, c->t, c->is_test);
	if ((f = open_memstream(&text, &len)) == NULL)
		return CH_ERR_NOMEM;
	err = final_segments(list, segs, f, d);
	fclose(f);
	if (err == CH_OK && len > 0)
		cols_set_str(cols, "transcript", text);
	free(text);
	return err;
}

/* call_initiated, call_ringing, call_answered, call_ended: the calls row of payload.call_id. */
static enum ch_err
sp_lifecycle(const struct sp_event *ev, const struct sp_ctx *c, struct decoded *d)
{
	struct json_object *row, *cols;
	const char *id;
	enum ch_err err;

	if ((err = find_call_id(c->payload, ev->id_key, &id, d)) != CH_OK)
		return err;
	if (id == NULL)
		return bad_body(d, "field \"payload.%s\": missing", ev->id_key);
	if ((err = call_row(c, id, c->payload, "payload.", ev->status, d, &row)) != CH_OK)
		return err;
	cols = row_cols(row);
	if (!strcmp(ev->type, "call_answered"))
		json_object_object_add(cols, "answered", json_object_new_boolean(1));
	/* The first event of a call is sent when it starts. */
	if (!strcmp(ev->type, "call_initiated") && json_find(cols, "started_at") == NULL)
		cols_set_str(cols, "started_at", c->t);
	if (!strcmp(ev->type, "call_ended"))
		return final_transcript(c, id, cols, d);
	return CH_OK;
}

#define SEQ_TIE_BITS 31 /* seq = (second mod 2^32) << 31 | 31 bits of the turn's hash: a bigint */

/* 64-bit FNV-1a of `s` (NULL as ""), continuing from h, and of a NUL after it. */
static uint64_t
fnv1a(uint64_t h, const char *s)
{
	for (; s != NULL && *s; s++)
		h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
	return h * UINT64_C(1099511628211);
}

/*
 * The seq of a live turn whose columns are in `seg`. Salpre gives a turn no index and times it
 * to the second, so a turn is numbered by its second (its own time, spoken_at; else the event's
 * timestamp_utc or arrival, `event_usec`), modulo 2^32 (until 2106), in the high bits of the
 * bigint, and 31 bits of a hash of its speaker and text below:
 *   - turns sort in spoken order, second by second;
 *   - two different turns in one second, in one delivery or in two, get different seqs (unless
 *     their 31-bit hashes meet, one pair in two billion), so neither overwrites the other;
 *   - a turn sent again (same speaker, text and second, even in an envelope with a new
 *     timestamp_utc) gets the same seq and merges into its row: no duplicate. A turn without a
 *     time of its own is numbered by its event's time, so only a resend with the same
 *     timestamp_utc merges.
 * call_ended's full transcript replaces these partial turns with seq 1..n.
 */
static int64_t
live_seq(struct json_object *seg, int64_t event_usec)
{
	const char *spoken = json_find_text(seg, "spoken_at");
	int64_t usec = event_usec, sec;
	uint64_t h;

	if (spoken != NULL && conv_parse_time(spoken, &usec) != 0)
		usec = event_usec;
	sec = usec / 1000000 - (usec % 1000000 < 0);
	h = fnv1a(fnv1a(UINT64_C(14695981039346656037), json_find_text(seg, "speaker")),
	    json_find_text(seg, "text"));
	return (int64_t)(((uint64_t)sec & UINT32_MAX) << SEQ_TIE_BITS | h >> (64 - SEQ_TIE_BITS));
}

/* Adds one live segment row "<call id>:<seq>" from `turn`, numbered by live_seq(). */
static enum ch_err
live_segment(const struct sp_ctx *c, const char *id, struct json_object *turn, const char *where,
    struct decoded *d)
{
	struct json_object *row, *cols;
	char ext[160];
	int64_t seq;
	enum ch_err err;

	row = row_new("transcript_segments", id, c->t, c->is_test, turn);
	rows_add(d, row);
	cols = row_cols(row);
	cols_set_str(cols, "call_external_id", id);
	if ((err = turn_cols(turn, where, cols, d)) != CH_OK)
		return err;
	seq = live_seq(cols, c->t_usec);
	snprintf(ext, sizeof(ext), "%s:%" PRId64, id, seq);
	row_set_external_id(row, ext);
	json_object_object_add(cols, "seq", json_object_new_int64(seq));
	return CH_OK;
}

/*
 * transcript: a live partial turn of call payload.call.id, {type, transcript, timestamp_utc}
 * (should a payload carry a list of turns instead, each is one). The doc gives a turn no
 * index: see live_seq() for how turns are numbered.
 */
static enum ch_err
sp_transcript(const struct sp_event *ev, const struct sp_ctx *c, struct decoded *d)
{
	struct json_object *list = json_find(c->payload, "transcript"), *row;
	char where[48];
	const char *id;
	size_t i;
	enum ch_err err;

	if ((err = find_call_id(c->payload, ev->id_key, &id, d)) != CH_OK)
		return err;
	if (id == NULL)
		return bad_body(d, "field \"payload.%s\": missing", ev->id_key);
	if ((err = call_row(c, id, json_find(c->payload, "call"), "payload.call.", NULL, d, &row)) != CH_OK)
		return err;
	if (!json_object_is_type(list, json_type_array))
		return live_segment(c, id, c->payload, "payload.", d);
	for (i = 0; i < json_object_array_length(list); i++) {
		snprintf(where, sizeof(where), "payload.transcript[%zu].", i);
		if ((err = live_segment(c, id, json_object_array_get_idx(list, i), where, d)) != CH_OK)
			return err;
	}
	return CH_OK;
}

/* The error's own fields (all of the payload but the call) for call_events.detail, or NULL. */
static struct json_object *
error_detail(struct json_object *payload)
{
	struct json_object *detail = json_object_new_object();

	json_object_object_foreach(payload, key, val)
	{
		if (strcmp(key, "call") && strcmp(key, "call_id"))
			json_object_object_add(detail, key, json_object_get(val));
	}
	if (json_object_object_length(detail) > 0)
		return detail;
	json_object_put(detail);
	return NULL;
}

/*
 * error: a call_events row (event "error", detail = the error fields), and when it names a
 * call, that call becomes failed with error_message. With no call id the event stays
 * unattached: no external_id, so callhook.ingest names it by delivery and position.
 */
static enum ch_err
sp_error(const struct sp_event *ev, const struct sp_ctx *c, struct decoded *d)
{
	struct json_object *row, *cols, *detail;
	char ext[192];
	const char *id;
	enum ch_err err;

	if ((err = find_call_id(c->payload, ev->id_key, &id, d)) != CH_OK)
		return err;
	if (id != NULL) {
		if ((err = call_row(c, id, json_find(c->payload, "call"), "payload.call.", ev->status, d,
			 &row)) != CH_OK)
			return err;
		if ((err = map_fields(c->payload, error_fields, "payload.", CC, row_cols(row), d)) != CH_OK)
			return err;
	}
	snprintf(ext, sizeof(ext), "%s:error:%s", id ? id : "", c->t);
	row = row_new("call_events", ext, c->t, c->is_test, c->payload);
	rows_add(d, row);
	row_insert_only(row);
	if (id == NULL)
		row_set_external_id(row, NULL);
	cols = row_cols(row);
	cols_set_str(cols, "call_external_id", id);
	cols_set_str(cols, "event", "error");
	cols_set_str(cols, "occurred_at", c->t);
	if ((detail = error_detail(c->payload)) != NULL)
		json_object_object_add(cols, "detail", detail);
	return CH_OK;
}

static const struct sp_event sp_events[] = {
	{ "call_initiated", "initiated", "call_id", sp_lifecycle },
	{ "call_ringing", "ringing", "call_id", sp_lifecycle },
	{ "call_answered", "in_progress", "call_id", sp_lifecycle },
	{ "call_ended", "completed", "call_id", sp_lifecycle },
	{ "transcript", NULL, "call.id", sp_transcript },
	{ "error", "failed", "call.id", sp_error },
	{ NULL, NULL, NULL, NULL },
};

static const struct sp_event *
find_event(const char *type)
{
	const struct sp_event *ev;

	for (ev = sp_events; ev->type != NULL; ev++)
		if (!strcmp(ev->type, type))
			return ev;
	return NULL;
}

/* Reads timestamp_utc (unix seconds, number or string) and is_test into c. */
static enum ch_err
envelope(const struct delivery_in *in, struct sp_ctx *c, struct decoded *d)
{
	struct json_object *v = NULL;
	const char *why = "expected a boolean";
	enum ch_err err;

	if (event_time(in->doc, "timestamp_utc", "", c->t, d, &err) == NULL) {
		if (err != CH_OK)
			return err;
		conv_format_time(in->received_usec, c->t);
	}
	if (conv_parse_time(c->t, &c->t_usec) != 0)
		c->t_usec = in->received_usec;
	switch (conv_bool(json_find(in->doc, "is_test"), &v, &why)) {
	case CONV_BAD: return bad_body(d, "field \"is_test\": %s", why);
	case CONV_OK:
		c->is_test = json_object_get_boolean(v);
		json_object_put(v);
		break;
	case CONV_ABSENT: break;
	}
	return CH_OK;
}

static enum ch_err
salpre_decode(const struct delivery_in *in, struct decoded *d)
{
	struct sp_ctx c = { 0 };
	const struct sp_event *ev;
	const char *type;
	enum ch_err err;

	if (!json_object_is_type(in->doc, json_type_object))
		return bad_body(d, "body: expected a JSON object");
	if ((type = json_find_text(in->doc, "event_type")) == NULL)
		return bad_body(d, "field \"event_type\": missing");
	if ((d->event = strdup(type)) == NULL)
		return CH_ERR_NOMEM;
	c.payload = json_find(in->doc, "payload");
	if (c.payload == NULL || !json_object_is_type(c.payload, json_type_object))
		return bad_body(d, "field \"payload\": expected an object");
	if ((ev = find_event(type)) == NULL) {
		d->outcome = OUT_IGNORED;
		return CH_OK;
	}
	if ((err = envelope(in, &c, d)) != CH_OK || (err = ev->decode(ev, &c, d)) != CH_OK)
		return err;
	d->outcome = OUT_STORED;
	return CH_OK;
}

const struct vendor vendor_salpre = {
	.name = "salpre",
	.methods = M_POST,
	.bodies = BODY_JSON,
	.path_events = NULL,
	.event_required = false,
	.default_cc = "1",
	.decode = salpre_decode,
};
