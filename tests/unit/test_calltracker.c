/* Call Tracker decoding: each event type into its row, loose types, and bad payloads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "core/conf.h"
#include "vendors/vendor.h"

static enum ch_err
decode(const char *body, struct decoded *d)
{
	struct delivery_in in = { .method = "POST",
		.body_kind = BODY_JSON,
		.body = body,
		.body_len = strlen(body) };
	enum ch_err err;

	memset(d, 0, sizeof(*d));
	in.doc = json_tokener_parse(body);
	err = vendor_calltracker.decode(&in, d);
	json_object_put(in.doc);
	return err;
}

/* The text of column `col` in the first row, or NULL. */
static const char *
col(const struct decoded *d, const char *name)
{
	struct json_object *row, *v;

	if (d->rows == NULL || json_object_array_length(d->rows) < 1)
		return NULL;
	row = json_object_array_get_idx(d->rows, 0);
	v = json_find(row_cols(row), name);
	return v ? json_object_get_string(v) : NULL;
}

static const char *
row_field(const struct decoded *d, const char *name)
{
	if (d->rows == NULL || json_object_array_length(d->rows) < 1)
		return NULL;
	return json_find_text(json_object_array_get_idx(d->rows, 0), name);
}

static void
calls(void)
{
	struct decoded d;

	CHECK(decode("{\"type\":\"call.received\",\"object\":\"call\",\"timestamp\":\"2019-03-09T09:09:52.010\","
		     "\"data\":{\"id\":59179,\"caller_number\":\"+18558871739\",\"tracking_number\":\"+12702822733\","
		     "\"status\":\"ringing\",\"timestamp\":\"2019-03-09T09:09:51.733192Z\",\"call_duration\":0,"
		     "\"tracker_id\":1570,\"tracker_name\":\"Number Pool\",\"is_first_time\":true,\"gclid\":\"\","
		     "\"source_channel\":\"organic\",\"caller_city\":\"\"}}",
		  &d) == CH_OK,
	    "call.received decodes");
	CHECK_STR(row_field(&d, "table"), "calls", "call.received is a calls row");
	CHECK_STR(row_field(&d, "external_id"), "59179", "integer id becomes text");
	CHECK_STR(row_field(&d, "event_time"), "2019-03-09T09:09:52.010000Z",
	    "envelope timestamp without zone is UTC");
	CHECK_STR(col(&d, "status"), "ringing", "received is ringing");
	CHECK_STR(col(&d, "direction"), "inbound", "calls are inbound");
	CHECK_STR(col(&d, "started_at"), "2019-03-09T09:09:51.733192Z", "started_at from data.timestamp");
	CHECK_STR(col(&d, "caller_number_e164"), "+18558871739", "E.164 column");
	CHECK_STR(col(&d, "tracker_external_id"), "1570", "tracker id as text");
	CHECK_STR(col(&d, "first_time"), "true", "is_first_time");
	CHECK_STR(col(&d, "traffic_source"), "organic", "source_channel is the traffic source");
	CHECK(col(&d, "gclid") == NULL && col(&d, "caller_city") == NULL, "empty strings are absent");
	CHECK(col(&d, "answered") == NULL, "a ringing call is neither answered nor not");
	CHECK(d.outcome == OUT_STORED, "outcome stored");
	decoded_clear(&d);

	CHECK(decode("{\"type\":\"call.finished\",\"object\":\"call\",\"timestamp\":\"2019-03-09T09:13:31.745\","
		     "\"data\":{\"id\":\"59179\",\"status\":\"answered\",\"call_duration\":\"219\","
		     "\"timestamp\":\"2019-03-09T04:09:51.733192-05:00\",\"recording_duration\":186}}",
		  &d) == CH_OK,
	    "call.finished with string numbers decodes");
	CHECK_STR(col(&d, "status"), "completed", "finished and answered is completed");
	CHECK_STR(col(&d, "answered"), "true", "answered");
	CHECK_STR(col(&d, "duration_s"), "219", "\"219\" is 219");
	CHECK_STR(col(&d, "started_at"), "2019-03-09T09:09:51.733192Z", "offset -05:00 converted to UTC");
	decoded_clear(&d);

	CHECK(decode("{\"type\":\"call.finished\",\"data\":{\"id\":7,\"status\":\"missed\"},"
		     "\"timestamp\":\"2019-03-09T09:13:31\"}",
		  &d) == CH_OK,
	    "missed call decodes");
	CHECK_STR(col(&d, "status"), "missed", "missed is missed");
	CHECK_STR(col(&d, "answered"), "false", "missed is not answered");
	decoded_clear(&d);
}

static void
others(void)
{
	struct decoded d;

	CHECK(decode("{\"type\":\"message.received\",\"object\":\"message\",\"data\":{\"direction\":\"incoming\","
		     "\"body\":\"Hello\",\"to_number\":\"+18556000724\",\"from_number\":\"+18558871739\",\"id\":139,"
		     "\"timestamp\":\"2019-03-09T07:30:00.942Z\"},\"timestamp\":\"2019-03-09T07:30:01.084\"}",
		  &d) == CH_OK,
	    "message.received decodes");
	CHECK_STR(row_field(&d, "table"), "messages", "messages row");
	CHECK_STR(col(&d, "direction"), "inbound", "incoming is inbound");
	CHECK_STR(col(&d, "sent_at"), "2019-03-09T07:30:00.942000Z", "sent_at");
	decoded_clear(&d);

	CHECK(decode("{\"type\":\"tracker.created\",\"data\":{\"id\":1013,\"name\":\"Startup Lister\","
		     "\"phone_numbers\":[{\"number\":\"+18558871739\",\"status\":true}],\"status\":true,"
		     "\"recording_enabled\":true,\"destination\":\"+12703152766\"},\"timestamp\":\"2019-03-06T09:29:16.093\"}",
		  &d) == CH_OK,
	    "tracker.created decodes");
	CHECK_STR(col(&d, "numbers"), "[ \"+18558871739\" ]", "phone_numbers become numbers");
	CHECK_STR(col(&d, "active"), "true", "status true is active");
	decoded_clear(&d);

	CHECK(decode("{\"type\":\"usage.created\",\"data\":{\"id\":32,\"start_date\":\"2019-02-10\","
		     "\"end_date\":\"2019-03-10\",\"local_minutes\":203},\"timestamp\":\"2019-03-10T05:13:57.594\"}",
		  &d) == CH_OK,
	    "usage.created decodes");
	CHECK_STR(col(&d, "period_start"), "2019-02-10", "period_start");
	CHECK_STR(col(&d, "local_minutes"), "203", "local_minutes");
	decoded_clear(&d);

	CHECK(decode("{\"data\":{\"call_id\":1000,\"recording_duration\":14,\"id\":3,"
		     "\"transcription\":\"Hi\"},\"timestamp\":\"2019-05-18T08:09:59.492\",\"type\":\"voicemail.received\","
		     "\"object\":\"voicemail\"}",
		  &d) == CH_OK,
	    "voicemail.received decodes");
	CHECK_STR(row_field(&d, "table"), "voicemails", "voicemails row");
	CHECK_STR(col(&d, "call_external_id"), "1000", "call id as text");
	CHECK_STR(col(&d, "duration_s"), "14", "recording_duration is duration_s");
	decoded_clear(&d);
}

static void
bad_and_unknown(void)
{
	struct decoded d;

	CHECK(decode("{\"type\":\"call.transferred\",\"data\":{}}", &d) == CH_OK &&
		d.outcome == OUT_IGNORED && d.rows == NULL,
	    "unknown event type is ignored with no rows");
	decoded_clear(&d);
	CHECK(decode("{\"data\":{\"id\":1}}", &d) == CH_ERR_BAD_BODY && strstr(d.error, "\"type\""),
	    "missing type is rejected naming the field: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("{\"type\":\"call.finished\",\"data\":{\"id\":1,\"call_duration\":\"long\"}}", &d) ==
		    CH_ERR_BAD_BODY &&
		strstr(d.error, "data.call_duration"),
	    "a non-numeric duration is rejected naming the field: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("{\"type\":\"call.finished\",\"data\":{\"status\":\"missed\"}}", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "data.id"),
	    "a call without id is rejected: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("{\"type\":\"call.finished\",\"data\":{\"id\":1},\"timestamp\":\"yesterday\"}", &d) ==
		    CH_ERR_BAD_BODY &&
		strstr(d.error, "timestamp"),
	    "a bad timestamp is rejected: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("[1,2]", &d) == CH_ERR_BAD_BODY, "a JSON array is rejected");
	decoded_clear(&d);
}

void test_calltracker(void);

void
test_calltracker(void)
{
	calls();
	others();
	bad_and_unknown();
}
