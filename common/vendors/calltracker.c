/*
 * Call Tracker (calltracker.io): envelope {type, object, data, timestamp, webhook}
 * with nine event types (common/vendors/VENDORS.md, "calltracker: envelope").
 */
#include <string.h>

#include "vendors/vendor.h"

#define CC (vendor_calltracker.default_cc)

/* call.* data → calls */
static const struct field_map call_fields[] = {
	{ "caller_number", "caller_number", conv_text, F_E164 },
	{ "caller_name", "caller_name", conv_text, 0 },
	{ "caller_city", "caller_city", conv_text, 0 },
	{ "caller_state", "caller_state", conv_text, 0 },
	{ "caller_country", "caller_country", conv_text, 0 },
	{ "tracking_number", "tracking_number", conv_text, F_E164 },
	{ "timestamp", "started_at", conv_time, 0 },
	{ "call_duration", "duration_s", conv_int, 0 },
	{ "recording", "recording_url", conv_text, 0 },
	{ "recording_duration", "recording_duration_s", conv_int, 0 },
	{ "tracker_id", "tracker_external_id", conv_text, 0 },
	{ "tracker_name", "tracker_name", conv_text, 0 },
	{ "source_channel", "traffic_source", conv_text, 0 },
	{ "source_keyword", "keyword", conv_text, 0 },
	{ "source_referrer", "referrer", conv_text, 0 },
	{ "landing_page", "landing_page", conv_text, 0 },
	{ "gclid", "gclid", conv_text, 0 },
	{ "is_first_time", "first_time", conv_bool, 0 },
	{ NULL, NULL, NULL, 0 },
};

/* message.* data → messages */
static const struct field_map message_fields[] = {
	{ "from_number", "from_number", conv_text, F_E164 },
	{ "to_number", "to_number", conv_text, F_E164 },
	{ "body", "body", conv_text, 0 },
	{ "timestamp", "sent_at", conv_time, 0 },
	{ "tracker_id", "tracker_external_id", conv_text, 0 },
	{ "tracker_name", "tracker_name", conv_text, 0 },
	{ NULL, NULL, NULL, 0 },
};

/* tracker.* data → trackers */
static const struct field_map tracker_fields[] = {
	{ "name", "name", conv_text, 0 },
	{ "tracker_type", "tracker_type", conv_text, 0 },
	{ "number_type", "number_type", conv_text, 0 },
	{ "destination", "destination_number", conv_text, 0 },
	{ "status", "active", conv_bool, 0 },
	{ "recording_enabled", "recording_enabled", conv_bool, 0 },
	{ NULL, NULL, NULL, 0 },
};

/* usage.created data → usage */
static const struct field_map usage_fields[] = {
	{ "start_date", "period_start", conv_date, 0 },
	{ "end_date", "period_end", conv_date, 0 },
	{ "local_numbers", "local_numbers", conv_int, 0 },
	{ "tollfree_numbers", "tollfree_numbers", conv_int, 0 },
	{ "local_minutes", "local_minutes", conv_int, 0 },
	{ "tollfree_minutes", "tollfree_minutes", conv_int, 0 },
	{ "sms_messages", "sms_messages", conv_int, 0 },
	{ NULL, NULL, NULL, 0 },
};

/* voicemail.received data → voicemails */
static const struct field_map voicemail_fields[] = {
	{ "call_id", "call_external_id", conv_text, 0 },
	{ "caller_number", "caller_number", conv_text, F_E164 },
	{ "tracking_number", "tracking_number", conv_text, 0 },
	{ "recording", "recording_url", conv_text, 0 },
	{ "recording_duration", "duration_s", conv_int, 0 },
	{ "transcription", "transcript", conv_text, 0 },
	{ "timestamp", "received_at", conv_time, 0 },
	{ NULL, NULL, NULL, 0 },
};

struct ct_event {
	const char *type;
	const char *table;
	const struct field_map *fields;
	enum ch_err (*extra)(const struct ct_event *, struct json_object *data, struct json_object *cols,
	    struct decoded *);
};

/* Call status: received → ringing; finished or recording → completed when answered, else missed. */
static enum ch_err
call_status(const struct ct_event *ev, struct json_object *data, struct json_object *cols, struct decoded *d)
{
	const char *st = json_find_text(data, "status");
	bool received = !strcmp(ev->type, "call.received");

	(void)d;
	json_object_object_add(cols, "direction", json_object_new_string("inbound"));
	if (st != NULL && !strcmp(st, "missed")) {
		cols_set_str(cols, "status", "missed");
		json_object_object_add(cols, "answered", json_object_new_boolean(0));
	} else if (st != NULL && !strcmp(st, "answered")) {
		cols_set_str(cols, "status", received ? "in_progress" : "completed");
		json_object_object_add(cols, "answered", json_object_new_boolean(1));
	} else
		cols_set_str(cols, "status", received ? "ringing" : "completed");
	return CH_OK;
}

static enum ch_err
message_direction(const struct ct_event *ev, struct json_object *data, struct json_object *cols,
    struct decoded *d)
{
	const char *dir = json_find_text(data, "direction");

	(void)d;
	if (dir != NULL && !strcmp(dir, "incoming"))
		cols_set_str(cols, "direction", "inbound");
	else if (dir != NULL && !strcmp(dir, "outgoing"))
		cols_set_str(cols, "direction", "outbound");
	else
		cols_set_str(cols, "direction", strcmp(ev->type, "message.sent") ? "inbound" : "outbound");
	cols_set_str(cols, "message_type", "sms");
	return CH_OK;
}

/* phone_numbers: [{number, status}] → numbers text[] */
static enum ch_err
tracker_numbers(const struct ct_event *ev, struct json_object *data, struct json_object *cols,
    struct decoded *d)
{
	struct json_object *list = json_find(data, "phone_numbers"), *nums;
	const char *n;
	size_t i;

	(void)ev;
	if (list == NULL || json_object_is_type(list, json_type_null))
		return CH_OK;
	if (!json_object_is_type(list, json_type_array))
		return bad_body(d, "field \"data.phone_numbers\": expected a list");
	nums = json_object_new_array();
	for (i = 0; i < json_object_array_length(list); i++) {
		n = json_find_text(json_object_array_get_idx(list, i), "number");
		if (n != NULL)
			json_object_array_add(nums, json_object_new_string(n));
	}
	if (json_object_array_length(nums) > 0)
		json_object_object_add(cols, "numbers", nums);
	else
		json_object_put(nums);
	return CH_OK;
}

static const struct ct_event ct_events[] = {
	{ "call.received", "calls", call_fields, call_status },
	{ "call.finished", "calls", call_fields, call_status },
	{ "call.recording.available", "calls", call_fields, call_status },
	{ "message.received", "messages", message_fields, message_direction },
	{ "message.sent", "messages", message_fields, message_direction },
	{ "tracker.created", "trackers", tracker_fields, tracker_numbers },
	{ "tracker.updated", "trackers", tracker_fields, tracker_numbers },
	{ "usage.created", "usage", usage_fields, NULL },
	{ "voicemail.received", "voicemails", voicemail_fields, NULL },
	{ NULL, NULL, NULL, NULL },
};

static const struct ct_event *
find_event(const char *type)
{
	const struct ct_event *ev;

	for (ev = ct_events; ev->type != NULL; ev++)
		if (!strcmp(ev->type, type))
			return ev;
	return NULL;
}

/* The event time: the envelope's timestamp (UTC when it has no zone), else data.timestamp. */
static const char *
ct_event_time(struct json_object *doc, struct json_object *data, char buf[32], struct decoded *d,
    enum ch_err *err)
{
	const char *t = event_time(doc, "timestamp", "", buf, d, err);

	if (t == NULL && *err == CH_OK)
		t = event_time(data, "timestamp", "data.", buf, d, err);
	return t;
}

static enum ch_err
ct_decode(const struct delivery_in *in, struct decoded *d)
{
	struct json_object *data, *row;
	const struct ct_event *ev;
	const char *type, *id, *t;
	char tbuf[32];
	enum ch_err err;

	if (!json_object_is_type(in->doc, json_type_object))
		return bad_body(d, "body: expected a JSON object");
	if ((type = json_find_text(in->doc, "type")) == NULL)
		return bad_body(d, "field \"type\": missing");
	if ((d->event = strdup(type)) == NULL)
		return CH_ERR_NOMEM;
	data = json_find(in->doc, "data");
	if (data == NULL || !json_object_is_type(data, json_type_object))
		return bad_body(d, "field \"data\": expected an object");
	if ((ev = find_event(type)) == NULL) {
		d->outcome = OUT_IGNORED;
		return CH_OK;
	}
	if ((id = json_find_text(data, "id")) == NULL)
		return bad_body(d, "field \"data.id\": missing");
	t = ct_event_time(in->doc, data, tbuf, d, &err);
	if (err != CH_OK)
		return err;
	row = row_new(ev->table, id, t, false, data);
	rows_add(d, row);
	if ((err = map_fields(data, ev->fields, "data.", CC, row_cols(row), d)) != CH_OK)
		return err;
	if (ev->extra != NULL && (err = ev->extra(ev, data, row_cols(row), d)) != CH_OK)
		return err;
	/* voicemail.received data carries no time of its own: the envelope's is when it arrived */
	if (!strcmp(ev->table, "voicemails") && t != NULL && json_find(row_cols(row), "received_at") == NULL)
		cols_set_str(row_cols(row), "received_at", t);
	d->outcome = OUT_STORED;
	return CH_OK;
}

const struct vendor vendor_calltracker = {
	.name = "calltracker",
	.methods = M_POST,
	.bodies = BODY_JSON,
	.path_events = NULL,
	.event_required = false,
	.default_cc = "1",
	.decode = ct_decode,
};
