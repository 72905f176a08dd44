/*
 * CallScaler: post-call webhooks (JSON after each call, "Payload Reference", plus the older
 * call.ended shape) and in-call webhooks at /hooks/<source>/in_call (a call-flow step answered
 * with a routing action) (common/vendors/VENDORS.md, "callscaler: transport and events").
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/conf.h"
#include "vendors/vendor.h"

#define CC (vendor_callscaler.default_cc)

/*
 * Post-call fields → calls. call_flow_* name the call flow a tracking number runs, CallScaler's
 * tracker. The older page adds caller_name, caller_city/state and "timestamp". business_id,
 * qualification_reason, cost_cents, robo_score/robo_risk_score, ai_processed and attempt have
 * no column: they stay in data. value_cents and ai_category are handled in post_call_extra().
 */
static const struct field_map call_fields[] = {
	{ "caller_number", "caller_number", conv_text, F_E164 },
	{ "caller_name", "caller_name", conv_text, 0 },
	{ "caller_city", "caller_city", conv_text, 0 },
	{ "caller_state", "caller_state", conv_text, 0 },
	{ "tracking_number", "tracking_number", conv_text, F_E164 },
	{ "destination_number", "destination_number", conv_text, F_E164 },
	{ "created_at", "started_at", conv_time, 0 },
	{ "timestamp", "started_at", conv_time, 0 },
	{ "duration_seconds", "duration_s", conv_int, 0 },
	{ "recording_url", "recording_url", conv_text, 0 },
	{ "recording_duration", "recording_duration_s", conv_int, 0 },
	{ "transcription", "transcript", conv_text, 0 },
	{ "summary", "summary", conv_text, 0 },
	{ "ai_score", "ai_score", conv_numeric, 0 },
	{ "ai_category", "ai_category", conv_text, 0 },
	{ "qualified_ai", "qualified", conv_bool, 0 },
	{ "call_flow_id", "tracker_external_id", conv_text, 0 },
	{ "call_flow_name", "tracker_name", conv_text, 0 },
	{ "source", "traffic_source", conv_text, 0 },
	{ "landing_page_url", "landing_page", conv_text, 0 },
	{ "referrer_url", "referrer", conv_text, 0 },
	{ NULL, NULL, NULL, 0 },
};

/* A call that ended in voicemail with a recording → voicemails, linked by call_external_id. */
static const struct field_map voicemail_fields[] = {
	{ "call_id", "call_external_id", conv_text, 0 },
	{ "caller_number", "caller_number", conv_text, F_E164 },
	{ "tracking_number", "tracking_number", conv_text, 0 },
	{ "recording_url", "recording_url", conv_text, 0 },
	{ "recording_duration", "duration_s", conv_int, 0 },
	{ "transcription", "transcript", conv_text, 0 },
	{ "created_at", "received_at", conv_time, 0 },
	{ "timestamp", "received_at", conv_time, 0 },
	{ NULL, NULL, NULL, 0 },
};

/* Post-call events and the status each implies when `status` says nothing we know. */
static const struct {
	const char *event;
	const char *status;
} cs_events[] = {
	{ "call.completed", "completed" },
	{ "call.missed", "missed" },
	{ "call.voicemail", "voicemail" },
	{ "call.failed", "failed" },
	{ "call.ended", NULL }, /* the older page: status "answered" */
	{ NULL, NULL },
};

/* `status` values → calls.status; "answered" is the older page's completed call. */
static const struct {
	const char *vendor;
	const char *status;
} cs_statuses[] = {
	{ "completed", "completed" },
	{ "answered", "completed" },
	{ "no-answer", "missed" },
	{ "no_answer", "missed" },
	{ "missed", "missed" },
	{ "voicemail", "voicemail" },
	{ "busy", "busy" },
	{ "failed", "failed" },
	{ NULL, NULL },
};

/* In-call body keys: the default form's From/To/CallSid, or a custom JSON body's own keys. */
static const char *const caller_keys[] = { "From", "from", "caller", "caller_number", NULL };
static const char *const tracking_keys[] = { "To", "to", "tracking_number", "called", NULL };
static const char *const call_id_keys[] = { "CallSid", "call_id", "callSid", "call_sid", "id", NULL };

/* The calls.status of a post-call event, or NULL when neither status nor event says. */
static const char *
post_call_status(struct json_object *doc, size_t ev)
{
	const char *st = json_find_text(doc, "status");
	size_t i;

	for (i = 0; st != NULL && cs_statuses[i].vendor != NULL; i++)
		if (!strcasecmp(st, cs_statuses[i].vendor))
			return cs_statuses[i].status;
	return cs_events[ev].status;
}

/* value_cents 5000 → value "50.00" (calls.value is in currency units). */
static enum ch_err
value_from_cents(struct json_object *doc, struct json_object *cols, struct decoded *d)
{
	struct json_object *v;
	const char *why = "expected an integer";
	char buf[32];
	long long cents;

	switch (conv_int(json_find(doc, "value_cents"), &v, &why)) {
	case CONV_ABSENT: return CH_OK;
	case CONV_BAD: return bad_body(d, "field \"value_cents\": %s", why);
	case CONV_OK: break;
	}
	cents = json_object_get_int64(v);
	json_object_put(v);
	snprintf(buf, sizeof(buf), "%s%lld.%02lld", cents < 0 ? "-" : "", llabs(cents) / 100,
	    llabs(cents) % 100);
	cols_set_str(cols, "value", buf);
	return CH_OK;
}

/* Status, answered, direction, value and spam (from ai_category) of a post-call calls row. */
static enum ch_err
post_call_extra(struct json_object *doc, const char *status, struct json_object *cols, struct decoded *d)
{
	const char *dir = json_find_text(doc, "direction");
	struct json_object *cat = json_find(cols, "ai_category");

	if (status != NULL) {
		cols_set_str(cols, "status", status);
		json_object_object_add(cols, "answered", json_object_new_boolean(!strcmp(status, "completed")));
	}
	cols_set_str(cols, "direction", dir != NULL && !strcasecmp(dir, "outbound") ? "outbound" : "inbound");
	if (cat != NULL)
		json_object_object_add(cols, "spam",
		    json_object_new_boolean(!strcmp(json_object_get_string(cat), "spam")));
	return value_from_cents(doc, cols, d);
}

/*
 * The post-call event time: webhook_sent_at, else the older page's timestamp, else created_at
 * (NULL when none: the time of receipt).
 */
static const char *
post_call_time(struct json_object *doc, char buf[32], struct decoded *d, enum ch_err *err)
{
	static const char *const keys[] = { "webhook_sent_at", "timestamp", "created_at", NULL };
	const char *t = NULL;
	size_t i;

	*err = CH_OK;
	for (i = 0; keys[i] != NULL && t == NULL && *err == CH_OK; i++)
		t = event_time(doc, keys[i], "", buf, d, err);
	return t;
}

/* A voicemails row when the call went to voicemail and left a recording. */
static enum ch_err
voicemail_row(struct json_object *doc, const char *id, const char *t, const char *status, struct decoded *d)
{
	struct json_object *row;

	if (status == NULL || strcmp(status, "voicemail") || json_find_text(doc, "recording_url") == NULL)
		return CH_OK;
	row = row_new("voicemails", id, t, false, doc);
	rows_add(d, row);
	return map_fields(doc, voicemail_fields, "", CC, row_cols(row), d);
}

/*
 * Post-call: one calls row keyed by call_id. delivery_id is stable across the three attempts,
 * so it is the dedup key; ids are text (the doc's example has the literal "uuid"). In
 * Immediate mode the AI fields are null, hence absent. A form or query body with the same
 * keys is decoded the same way: the doc says JSON, and the converters take strings anyway.
 */
static enum ch_err
post_call(const struct delivery_in *in, struct decoded *d)
{
	struct json_object *row;
	const char *event, *id, *t, *status, *delivery;
	char tbuf[32];
	size_t ev;
	enum ch_err err;

	/* First, so that a retry of an ignored or rejected delivery is a duplicate too. */
	if ((delivery = json_find_text(in->doc, "delivery_id")) != NULL &&
	    (d->dedup_key = strdup(delivery)) == NULL)
		return CH_ERR_NOMEM;
	if ((event = json_find_text(in->doc, "event")) == NULL)
		return bad_body(d, "field \"event\": missing (in-call webhooks go to /hooks/<source>/in_call)");
	if ((d->event = strdup(event)) == NULL)
		return CH_ERR_NOMEM;
	for (ev = 0; cs_events[ev].event != NULL && strcmp(cs_events[ev].event, event); ev++)
		;
	if (cs_events[ev].event == NULL) {
		d->outcome = OUT_IGNORED;
		return CH_OK;
	}
	if ((id = json_find_text(in->doc, "call_id")) == NULL)
		return bad_body(d, "field \"call_id\": missing");
	t = post_call_time(in->doc, tbuf, d, &err);
	if (err != CH_OK)
		return err;
	status = post_call_status(in->doc, ev);
	row = row_new("calls", id, t, false, in->doc);
	rows_add(d, row);
	if ((err = map_fields(in->doc, call_fields, "", CC, row_cols(row), d)) != CH_OK ||
	    (err = map_fields(in->doc, utm_click_fields, "", CC, row_cols(row), d)) != CH_OK ||
	    (err = post_call_extra(in->doc, status, row_cols(row), d)) != CH_OK ||
	    (err = voicemail_row(in->doc, id, t, status, d)) != CH_OK)
		return err;
	d->outcome = OUT_STORED;
	return CH_OK;
}

/*
 * The first of `keys` present in the in-call body, as text (borrowed), or NULL. *key names it.
 * A repeated form key (an array) is rejected.
 */
static enum ch_err
in_call_field(struct json_object *doc, const char *const *keys, const char **key, const char **val,
    struct decoded *d)
{
	struct json_object *v;
	size_t i;

	*val = NULL;
	for (i = 0; (*key = keys[i]) != NULL; i++) {
		if (conv_is_absent(v = json_find(doc, *key)))
			continue;
		if (!json_object_is_type(v, json_type_string) && !json_object_is_type(v, json_type_int))
			return bad_body(d, "field \"%s\": expected a single string", *key);
		*val = json_object_get_string(v);
		break;
	}
	return CH_OK;
}

/*
 * A phone number from the in-call form, as a new string (free with free()), or NULL. Their
 * example prints an unencoded '+' ("From=+1305…") which form decoding turns into a space
 * (common/vendors/VENDORS.md, "callscaler: what the page's examples get wrong"): a leading space before a digit
 * is given back its '+'.
 */
static char *
in_call_phone(const char *v, int body_kind)
{
	char *s;

	if (v == NULL || (s = strdup(v)) == NULL)
		return NULL;
	if (body_kind != BODY_JSON && s[0] == ' ' && isdigit((unsigned char)s[1]))
		s[0] = '+';
	return s;
}

/* Sets `column` and, when the number converts, <column>_e164. */
static void
set_phone(struct json_object *cols, const char *column, const char *number)
{
	char name[64], e164[17];

	if (number == NULL)
		return;
	cols_set_str(cols, column, number);
	snprintf(name, sizeof(name), "%s_e164", column);
	if (conv_e164(number, CC, e164))
		cols_set_str(cols, name, e164);
}

/*
 * In-call: the call is live (in_progress) at the time of receipt. The reply is what
 * callhook.route_call(source, caller, tracking number, call id) decides; d->route asks for it.
 * A body that names no call (a custom template such as a Slack-style {"text": "…"}, a form
 * without CallSid, JSON that is no object) is ignored, never rejected: the caller is on the
 * line, and the usual ignored answer has no action, so the call flow goes on.
 */
static enum ch_err
in_call(const struct delivery_in *in, struct decoded *d)
{
	struct json_object *row, *cols;
	const char *key, *id = NULL, *from, *to;
	char t[32];
	enum ch_err err;

	if ((d->event = strdup("in_call")) == NULL)
		return CH_ERR_NOMEM;
	if (json_object_is_type(in->doc, json_type_object) &&
	    (err = in_call_field(in->doc, call_id_keys, &key, &id, d)) != CH_OK)
		return err;
	if (id == NULL) {
		d->outcome = OUT_IGNORED;
		return CH_OK;
	}
	if ((err = in_call_field(in->doc, caller_keys, &key, &from, d)) != CH_OK ||
	    (err = in_call_field(in->doc, tracking_keys, &key, &to, d)) != CH_OK)
		return err;
	d->route_args[0] = strdup(in->source != NULL ? in->source->name : "");
	d->route_args[1] = in_call_phone(from, in->body_kind);
	d->route_args[2] = in_call_phone(to, in->body_kind);
	d->route_args[3] = strdup(id);
	if (d->route_args[0] == NULL || d->route_args[3] == NULL || (from && !d->route_args[1]) ||
	    (to && !d->route_args[2]))
		return CH_ERR_NOMEM;
	conv_format_time(in->received_usec, t);
	row = row_new("calls", id, t, false, in->doc);
	rows_add(d, row);
	cols = row_cols(row);
	cols_set_str(cols, "status", "in_progress");
	cols_set_str(cols, "direction", "inbound");
	set_phone(cols, "caller_number", d->route_args[1]);
	set_phone(cols, "tracking_number", d->route_args[2]);
	d->route = true;
	d->outcome = OUT_STORED;
	return CH_OK;
}

static enum ch_err
callscaler_decode(const struct delivery_in *in, struct decoded *d)
{
	if (in->event != NULL && !strcmp(in->event, "in_call"))
		return in_call(in, d);
	if (!json_object_is_type(in->doc, json_type_object))
		return bad_body(d, "body: expected a JSON object");
	return post_call(in, d);
}

static const char *const cs_path_events[] = { "in_call", NULL };

const struct vendor vendor_callscaler = {
	.name = "callscaler",
	.methods = M_POST | M_GET | M_PUT | M_PATCH,
	.bodies = BODY_JSON | BODY_FORM | BODY_QUERY,
	.path_events = cs_path_events,
	.event_required = false,
	.live_event = "in_call", /* "always answered 200": the caller is on the line */
	.default_cc = "1",
	.decode = callscaler_decode,
};
