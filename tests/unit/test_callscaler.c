/* CallScaler decoding: post-call events (both shapes), delivery ids, and in-call hits with routing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "core/conf.h"
#include "core/form.h"
#include "vendors/vendor.h"

/* 2026-03-30T14:29:10Z, the time of receipt. */
#define RECEIVED_USEC INT64_C(1774880950000000)

static char acme_name[] = "acme-cs";
static struct source acme = { .name = acme_name };

/* Decodes `body` as a delivery of kind `kind` (form bodies and queries parsed as request.c does). */
static enum ch_err
decode_as(const char *event, const char *method, int kind, const char *body, struct decoded *d)
{
	struct delivery_in in = { .source = &acme,
		.event = event,
		.method = method,
		.body_kind = kind,
		.body = body,
		.body_len = strlen(body),
		.received_usec = RECEIVED_USEC };
	char why[256];
	enum ch_err err;

	memset(d, 0, sizeof(*d));
	in.doc =
	    kind == BODY_JSON ? json_tokener_parse(body) : form_parse(body, strlen(body), why, sizeof(why));
	err = vendor_callscaler.decode(&in, d);
	json_object_put(in.doc);
	return err;
}

static enum ch_err
decode(const char *body, struct decoded *d)
{
	return decode_as(NULL, "POST", BODY_JSON, body, d);
}

static size_t
nrows(const struct decoded *d)
{
	return d->rows ? json_object_array_length(d->rows) : 0;
}

static const char *
field(const struct decoded *d, size_t i, const char *name)
{
	struct json_object *v;

	if (i >= nrows(d))
		return NULL;
	v = json_find(json_object_array_get_idx(d->rows, i), name);
	return v ? json_object_get_string(v) : NULL;
}

static const char *
col(const struct decoded *d, size_t i, const char *name)
{
	struct json_object *v;

	if (i >= nrows(d))
		return NULL;
	v = json_find(row_cols(json_object_array_get_idx(d->rows, i)), name);
	return v ? json_object_get_string(v) : NULL;
}

/* The doc's "Payload Example" with the event, status and AI fields left open. */
#define POST_CALL(event, status, ai) \
	"{\"event\":\"" event \
	"\"," \
	"\"call_id\":\"a1b2c3d4-e5f6-7890-abcd-ef1234567890\",\"business_id\":\"uuid\",\"call_flow_id\":\"uuid\"," \
	"\"call_flow_name\":\"Google Ads\",\"tracking_number\":\"+15735551234\",\"caller_number\":\"+13055559876\"," \
	"\"destination_number\":\"+13055554567\",\"direction\":\"inbound\",\"status\":\"" status \
	"\"," \
	"\"duration_seconds\":145,\"recording_url\":\"https://callscaler.com/api/v1/audio/abc123.mp3\"," \
	"\"recording_duration\":138," ai \
	",\"source\":\"google\",\"landing_page_url\":\"https://yoursite.com/hvac\"," \
	"\"referrer_url\":\"https://google.com\",\"utm_source\":\"google\",\"utm_medium\":\"cpc\"," \
	"\"utm_campaign\":\"hvac-tampa\",\"utm_term\":\"ac repair near me\",\"utm_content\":null," \
	"\"gclid\":\"abc123def456\",\"fbclid\":null,\"msclkid\":null,\"value_cents\":5000,\"cost_cents\":15," \
	"\"robo_score\":0,\"created_at\":\"2026-03-30T14:30:00Z\",\"webhook_sent_at\":\"2026-03-30T14:31:15Z\"," \
	"\"delivery_id\":\"uuid\",\"attempt\":1}"
#define AI_FILLED \
	"\"transcription\":\"Hi, I need a quote for a new AC unit...\"," \
	"\"summary\":\"Homeowner requesting HVAC quote for new installation.\",\"ai_score\":85," \
	"\"ai_category\":\"lead\",\"qualified_ai\":true,\"qualification_reason\":\"Strong buying intent\"," \
	"\"ai_processed\":true"
#define AI_NULL \
	"\"transcription\":null,\"summary\":null,\"ai_score\":null,\"ai_category\":null," \
	"\"qualified_ai\":null,\"qualification_reason\":null,\"ai_processed\":false"

static void
post_call(void)
{
	struct decoded d;

	CHECK(decode(POST_CALL("call.completed", "completed", AI_FILLED), &d) == CH_OK,
	    "the doc's post-call example decodes");
	CHECK_STR(d.event, "call.completed", "event");
	CHECK_STR(d.dedup_key, "uuid", "delivery_id is the dedup key, as text");
	CHECK(d.outcome == OUT_STORED && nrows(&d) == 1, "one row, stored");
	CHECK_STR(field(&d, 0, "table"), "calls", "calls");
	CHECK_STR(field(&d, 0, "external_id"), "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "call_id");
	CHECK_STR(field(&d, 0, "event_time"), "2026-03-30T14:31:15.000000Z", "event time is webhook_sent_at");
	CHECK_STR(col(&d, 0, "status"), "completed", "completed");
	CHECK_STR(col(&d, 0, "answered"), "true", "completed is answered");
	CHECK_STR(col(&d, 0, "direction"), "inbound", "direction");
	CHECK_STR(col(&d, 0, "caller_number_e164"), "+13055559876", "caller E.164");
	CHECK_STR(col(&d, 0, "tracking_number_e164"), "+15735551234", "tracking E.164");
	CHECK_STR(col(&d, 0, "destination_number"), "+13055554567", "destination");
	CHECK_STR(col(&d, 0, "started_at"), "2026-03-30T14:30:00.000000Z",
	    "created_at is when the call occurred");
	CHECK_STR(col(&d, 0, "duration_s"), "145", "duration_seconds");
	CHECK_STR(col(&d, 0, "recording_duration_s"), "138", "recording_duration");
	CHECK_STR(col(&d, 0, "transcript"), "Hi, I need a quote for a new AC unit...", "transcription");
	CHECK_STR(col(&d, 0, "ai_score"), "85", "ai_score as numeric text");
	CHECK_STR(col(&d, 0, "ai_category"), "lead", "ai_category");
	CHECK_STR(col(&d, 0, "qualified"), "true", "qualified_ai");
	CHECK_STR(col(&d, 0, "spam"), "false", "a lead is not spam");
	CHECK_STR(col(&d, 0, "value"), "50.00", "value_cents 5000 is 50.00");
	CHECK_STR(col(&d, 0, "tracker_external_id"), "uuid", "call_flow_id is the tracker id");
	CHECK_STR(col(&d, 0, "tracker_name"), "Google Ads", "call_flow_name");
	CHECK_STR(col(&d, 0, "traffic_source"), "google", "source");
	CHECK_STR(col(&d, 0, "landing_page"), "https://yoursite.com/hvac", "landing_page_url");
	CHECK_STR(col(&d, 0, "referrer"), "https://google.com", "referrer_url");
	CHECK_STR(col(&d, 0, "utm_term"), "ac repair near me", "utm_term");
	CHECK(col(&d, 0, "utm_content") == NULL && col(&d, 0, "fbclid") == NULL, "nulls are absent");
	CHECK_STR(field(&d, 0, "data.cost_cents"), "15", "the payload is the data");
	decoded_clear(&d);

	CHECK(decode(POST_CALL("call.completed", "completed", AI_NULL), &d) == CH_OK,
	    "Immediate mode (AI fields null) decodes");
	CHECK(col(&d, 0, "ai_score") == NULL && col(&d, 0, "ai_category") == NULL &&
		col(&d, 0, "qualified") == NULL && col(&d, 0, "transcript") == NULL &&
		col(&d, 0, "summary") == NULL && col(&d, 0, "spam") == NULL,
	    "null AI fields are absent");
	decoded_clear(&d);
}

static void
statuses(void)
{
	static const struct {
		const char *body, *status, *answered;
	} cases[] = {
		{ POST_CALL("call.missed", "no-answer", AI_NULL), "missed", "false" },
		{ POST_CALL("call.voicemail", "voicemail", AI_NULL), "voicemail", "false" },
		{ POST_CALL("call.missed", "busy", AI_NULL), "busy", "false" },
		{ POST_CALL("call.failed", "failed", AI_NULL), "failed", "false" },
		{ POST_CALL("call.failed", "", AI_NULL), "failed", "false" },
		{ POST_CALL("call.missed", "ringing-forever", AI_NULL), "missed", "false" },
	};
	struct decoded d;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(decode(cases[i].body, &d) == CH_OK, "case %zu decodes", i);
		CHECK_STR(col(&d, 0, "status"), cases[i].status, "case %zu: status %s", i, cases[i].status);
		CHECK_STR(col(&d, 0, "answered"), cases[i].answered, "case %zu: answered %s", i,
		    cases[i].answered);
		decoded_clear(&d);
	}

	CHECK(decode(POST_CALL("call.voicemail", "voicemail", AI_NULL), &d) == CH_OK && nrows(&d) == 2,
	    "a voicemail with a recording adds a voicemails row");
	CHECK_STR(field(&d, 1, "table"), "voicemails", "voicemails");
	CHECK_STR(col(&d, 1, "call_external_id"), "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "linked to the call");
	CHECK_STR(col(&d, 1, "duration_s"), "138", "the recording's length");
	CHECK_STR(col(&d, 1, "received_at"), "2026-03-30T14:30:00.000000Z", "received when the call occurred");
	decoded_clear(&d);
	CHECK(decode(POST_CALL("call.missed", "no-answer", AI_NULL), &d) == CH_OK && nrows(&d) == 1,
	    "a missed call has no voicemails row");
	decoded_clear(&d);
}

static void
old_shape(void)
{
	struct decoded d;

	CHECK(decode("{\"event\":\"call.ended\",\"call_id\":\"abc-123-def\",\"business_id\":\"bus-456\","
		     "\"tracking_number\":\"+13055559876\",\"caller_number\":\"+13055551234\",\"caller_name\":\"John Doe\","
		     "\"destination_number\":\"+13055554567\",\"duration_seconds\":145,\"status\":\"answered\","
		     "\"call_flow_name\":\"Google Ads\",\"recording_url\":\"https://...\",\"utm_source\":\"google\","
		     "\"utm_medium\":\"cpc\",\"utm_campaign\":\"plumbing\",\"gclid\":\"abc123\","
		     "\"landing_page_url\":\"https://yoursite.com/plumbing\",\"caller_city\":\"Miami\",\"caller_state\":\"FL\","
		     "\"robo_risk_score\":5,\"timestamp\":\"2024-01-15T14:30:00Z\"}",
		  &d) == CH_OK,
	    "the older page's call.ended decodes");
	CHECK_STR(d.event, "call.ended", "event");
	CHECK(d.dedup_key == NULL, "no delivery_id: the body hash dedups");
	CHECK_STR(col(&d, 0, "status"), "completed", "answered is completed");
	CHECK_STR(col(&d, 0, "answered"), "true", "and answered");
	CHECK_STR(field(&d, 0, "event_time"), "2024-01-15T14:30:00.000000Z", "event time is timestamp");
	CHECK_STR(col(&d, 0, "started_at"), "2024-01-15T14:30:00.000000Z", "so is started_at");
	CHECK_STR(col(&d, 0, "caller_name"), "John Doe", "caller_name");
	CHECK_STR(col(&d, 0, "caller_city"), "Miami", "caller_city");
	CHECK_STR(col(&d, 0, "caller_state"), "FL", "caller_state");
	CHECK(col(&d, 0, "spam") == NULL, "robo_risk_score sets no column");
	decoded_clear(&d);

	CHECK(decode("{\"event\":\"call.ended\",\"call_id\":7,\"status\":\"transferred\"}", &d) == CH_OK,
	    "call.ended with a status we do not know decodes");
	CHECK(col(&d, 0, "status") == NULL && col(&d, 0, "answered") == NULL, "and sets no status");
	CHECK_STR(field(&d, 0, "external_id"), "7", "integer call_id as text");
	decoded_clear(&d);
}

static void
loose_and_bad(void)
{
	struct decoded d;

	CHECK(decode("{\"event\":\"call.completed\",\"call_id\":\"c1\",\"delivery_id\":42,\"status\":\"completed\","
		     "\"duration_seconds\":\"61\",\"ai_score\":\"72.5\",\"qualified_ai\":\"false\",\"value_cents\":\"-150\","
		     "\"direction\":\"outbound\"}",
		  &d) == CH_OK,
	    "strings for numbers and booleans decode");
	CHECK_STR(d.dedup_key, "42", "an integer delivery_id as text");
	CHECK_STR(col(&d, 0, "duration_s"), "61", "\"61\" is 61");
	CHECK_STR(col(&d, 0, "ai_score"), "72.5", "\"72.5\" is numeric");
	CHECK_STR(col(&d, 0, "qualified"), "false", "\"false\" is false");
	CHECK_STR(col(&d, 0, "value"), "-1.50", "-150 cents");
	CHECK_STR(col(&d, 0, "direction"), "outbound", "outbound");
	CHECK(field(&d, 0, "event_time") == NULL, "no time given: the time of receipt (by ingest)");
	decoded_clear(&d);

	CHECK(decode_as(NULL, "POST", BODY_FORM,
		  "event=call.missed&call_id=f1&status=no-answer&delivery_id=d9", &d) == CH_OK,
	    "a form-encoded post-call decodes the same way");
	CHECK_STR(col(&d, 0, "status"), "missed", "missed");
	CHECK_STR(d.dedup_key, "d9", "delivery_id");
	decoded_clear(&d);

	CHECK(decode("{\"event\":\"call.transferred\",\"call_id\":\"c1\",\"delivery_id\":\"d-x\"}", &d) ==
		    CH_OK &&
		d.outcome == OUT_IGNORED && d.rows == NULL,
	    "an unknown event is ignored");
	CHECK_STR(d.event, "call.transferred", "its name is kept");
	CHECK_STR(d.dedup_key, "d-x", "an ignored delivery keeps its delivery_id: retries are duplicates");
	decoded_clear(&d);
	CHECK(decode("{\"event\":\"call.completed\",\"delivery_id\":\"d-r\"}", &d) == CH_ERR_BAD_BODY,
	    "a post-call without call_id is rejected");
	CHECK_STR(d.dedup_key, "d-r", "a rejected delivery keeps its delivery_id too");
	decoded_clear(&d);
	CHECK(decode("{\"call_id\":\"c1\",\"status\":\"completed\"}", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"event\"") && strstr(d.error, "in_call"),
	    "missing event names it: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("{\"event\":\"call.completed\",\"call_id\":null}", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"call_id\""),
	    "a null call_id is rejected: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("{\"event\":\"call.completed\",\"call_id\":\"c\",\"duration_seconds\":\"2m25s\"}", &d) ==
		    CH_ERR_BAD_BODY &&
		strstr(d.error, "duration_seconds"),
	    "a bad duration names it: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("{\"event\":\"call.completed\",\"call_id\":\"c\",\"value_cents\":12.5}", &d) ==
		    CH_ERR_BAD_BODY &&
		strstr(d.error, "value_cents"),
	    "fractional cents are rejected: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("{\"event\":\"call.completed\",\"call_id\":\"c\",\"webhook_sent_at\":\"later\"}", &d) ==
		    CH_ERR_BAD_BODY &&
		strstr(d.error, "webhook_sent_at"),
	    "a bad time names it: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("[\"call.completed\"]", &d) == CH_ERR_BAD_BODY, "a JSON array is rejected");
	decoded_clear(&d);
}

static void
in_call(void)
{
	struct decoded d;

	CHECK(decode_as("in_call", "POST", BODY_FORM, "From=+13055551212&To=%2B18005551234&CallSid=CA123",
		  &d) == CH_OK,
	    "the default in-call form, raw '+' in From, decodes");
	CHECK_STR(d.event, "in_call", "event in_call");
	CHECK(d.outcome == OUT_STORED && d.route, "stored, and routing asked for");
	CHECK_STR(field(&d, 0, "table"), "calls", "a calls row");
	CHECK_STR(field(&d, 0, "external_id"), "CA123", "CallSid");
	CHECK_STR(field(&d, 0, "event_time"), "2026-03-30T14:29:10.000000Z", "at the time of receipt");
	CHECK_STR(col(&d, 0, "status"), "in_progress", "in progress");
	CHECK_STR(col(&d, 0, "direction"), "inbound", "inbound");
	CHECK_STR(col(&d, 0, "caller_number"), "+13055551212", "the decoded space is a '+' again");
	CHECK_STR(col(&d, 0, "caller_number_e164"), "+13055551212", "caller E.164");
	CHECK_STR(col(&d, 0, "tracking_number"), "+18005551234", "%%2B decodes to '+'");
	CHECK_STR(col(&d, 0, "tracking_number_e164"), "+18005551234", "tracking E.164");
	CHECK_STR(d.route_args[0], "acme-cs", "route: the source");
	CHECK_STR(d.route_args[1], "+13055551212", "route: the restored caller");
	CHECK_STR(d.route_args[2], "+18005551234", "route: the tracking number");
	CHECK_STR(d.route_args[3], "CA123", "route: the call id");
	CHECK(d.dedup_key == NULL, "no delivery id");
	decoded_clear(&d);

	CHECK(decode_as("in_call", "GET", BODY_QUERY, "From=+13055551234&To=+13055559876&CallSid=abc-123-def",
		  &d) == CH_OK,
	    "an in-call GET query decodes");
	CHECK_STR(col(&d, 0, "tracking_number"), "+13055559876", "both '+' restored");
	CHECK_STR(d.route_args[1], "+13055551234", "route caller");
	decoded_clear(&d);

	CHECK(decode_as("in_call", "PUT", BODY_JSON,
		  "{\"caller\":\"+13055551234\",\"tracking_number\":"
		  "\"+13055559876\",\"call_id\":\"abc-123-def\"}",
		  &d) == CH_OK,
	    "the doc's custom JSON body decodes");
	CHECK_STR(field(&d, 0, "external_id"), "abc-123-def", "call_id");
	CHECK_STR(col(&d, 0, "caller_number"), "+13055551234", "caller");
	CHECK_STR(col(&d, 0, "tracking_number"), "+13055559876", "tracking_number");
	decoded_clear(&d);

	CHECK(decode_as("in_call", "PATCH", BODY_JSON,
		  "{\"from\":\" 13055551234\",\"called\":\"3055559876\","
		  "\"callSid\":\"x1\"}",
		  &d) == CH_OK,
	    "other spellings decode");
	CHECK_STR(col(&d, 0, "caller_number"), " 13055551234",
	    "JSON values are not form-decoded: kept as sent");
	CHECK_STR(col(&d, 0, "tracking_number_e164"), "+13055559876", "national number gets +1");
	CHECK_STR(field(&d, 0, "external_id"), "x1", "callSid");
	decoded_clear(&d);

	CHECK(decode_as("in_call", "POST", BODY_FORM, "CallSid=CA9&From=anonymous", &d) == CH_OK,
	    "an anonymous caller without To decodes");
	CHECK_STR(col(&d, 0, "caller_number"), "anonymous", "kept as sent");
	CHECK(col(&d, 0, "caller_number_e164") == NULL && col(&d, 0, "tracking_number") == NULL,
	    "no E.164 form, no tracking number");
	CHECK(d.route_args[2] == NULL, "route: a NULL tracking number");
	decoded_clear(&d);

	CHECK(decode_as("in_call", "POST", BODY_FORM, "From=+13055551212&To=%2B18005551234", &d) == CH_OK &&
		d.outcome == OUT_IGNORED && d.rows == NULL && !d.route && d.event &&
		!strcmp(d.event, "in_call"),
	    "a form without CallSid names no call: ignored, no row, no routing");
	decoded_clear(&d);
	CHECK(decode_as("in_call", "POST", BODY_JSON, "{\"text\":\"New call from +13055551212\"}", &d) == CH_OK &&
		d.outcome == OUT_IGNORED && d.rows == NULL && !d.route,
	    "a Slack-style custom body names no call: ignored");
	decoded_clear(&d);
	CHECK(decode_as("in_call", "POST", BODY_JSON, "[1]", &d) == CH_OK && d.outcome == OUT_IGNORED &&
		d.rows == NULL,
	    "a JSON list names no call: ignored");
	decoded_clear(&d);
	CHECK(decode_as("in_call", "POST", BODY_FORM, "CallSid=a&CallSid=b", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "CallSid"),
	    "a repeated CallSid is rejected: %s", d.error);
	decoded_clear(&d);
	CHECK(decode_as(NULL, "POST", BODY_JSON, "[1]", &d) == CH_ERR_BAD_BODY,
	    "a post-call JSON list is rejected");
	decoded_clear(&d);
	CHECK(vendor_callscaler.live_event != NULL && !strcmp(vendor_callscaler.live_event, "in_call") &&
		vendor_callrail.live_event == NULL && vendor_calltracker.live_event == NULL &&
		vendor_salpre.live_event == NULL && vendor_fonedynamics.live_event == NULL,
	    "only CallScaler's in_call is answered 200 whatever its body");
}

void test_callscaler(void);

void
test_callscaler(void)
{
	post_call();
	statuses();
	old_shape();
	loose_and_bad();
	in_call();
}
