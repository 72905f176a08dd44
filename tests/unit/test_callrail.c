/* CallRail decoding: each URL event into its rows, loose types, form_data duplicates, bad payloads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vendors/vendor.h"

#define USEC_1000 INT64_C(1714557600123456) /* 2024-05-01T10:00:00.123456Z */
#define TIME_1000 "2024-05-01T10:00:00.123456Z"

static enum ch_err
decode_at(const char *event, const char *body, int64_t usec, struct decoded *d)
{
	struct delivery_in in = { .event = event,
		.method = "POST",
		.body_kind = BODY_JSON,
		.body = body,
		.body_len = strlen(body),
		.received_usec = usec };
	enum ch_err err;

	memset(d, 0, sizeof(*d));
	in.doc = json_tokener_parse(body);
	err = vendor_callrail.decode(&in, d);
	json_object_put(in.doc);
	return err;
}

static enum ch_err
decode(const char *event, const char *body, struct decoded *d)
{
	return decode_at(event, body, USEC_1000, d);
}

static struct json_object *
row(const struct decoded *d, size_t i)
{
	if (d->rows == NULL || json_object_array_length(d->rows) <= i)
		return NULL;
	return json_object_array_get_idx(d->rows, i);
}

/* Column `name` of row i as text (JSON text for objects and arrays), or NULL. */
static const char *
coln(const struct decoded *d, size_t i, const char *name)
{
	struct json_object *v = json_find(row_cols(row(d, i)), name);

	if (v == NULL)
		return NULL;
	if (json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array))
		return json_object_to_json_string_ext(v, JSON_OUT);
	return json_object_get_string(v);
}

static const char *
col(const struct decoded *d, const char *name)
{
	return coln(d, 0, name);
}

static const char *
field(const struct decoded *d, size_t i, const char *name)
{
	return json_find_text(row(d, i), name);
}

static size_t
nrows(const struct decoded *d)
{
	return d->rows ? json_object_array_length(d->rows) : 0;
}

/* CallRail's published signature test vector body, byte for byte (a post-call with only the legacy id). */
static const char docs_vector[] =
    "{\"answered\":false,\"business_phone_number\":\"\",\"call_type\":\"voicemail\","
    "\"company_id\":155920786,\"company_name\":\"Boost Marketing\","
    "\"company_time_zone\":\"America/Los_Angeles\",\"created_at\":\"2018-02-19T13:41:00.252-05:00\","
    "\"customer_city\":\"Rochester\",\"customer_country\":\"US\",\"customer_name\":\"Kaylah Mills\","
    "\"customer_phone_number\":\"+12148654559\",\"customer_state\":\"PA\",\"device_type\":\"\","
    "\"direction\":\"inbound\",\"duration\":\"13\",\"first_call\":false,"
    "\"formatted_call_type\":\"Voicemail\",\"formatted_customer_location\":\"Rochester, PA\","
    "\"formatted_business_phone_number\":\"\",\"formatted_customer_name\":\"Kaylah Mills\","
    "\"prior_calls\":16,\"formatted_customer_name_or_phone_number\":\"Kaylah Mills\","
    "\"formatted_customer_phone_number\":\"214-865-4559\",\"formatted_duration\":\"13s\","
    "\"formatted_tracking_phone_number\":\"404-555-8514\",\"formatted_tracking_source\":\"Google Paid\","
    "\"formatted_value\":\"--\",\"good_lead_call_id\":715587840,"
    "\"good_lead_call_time\":\"2016-06-17T10:23:33.363-04:00\",\"id\":766970532,"
    "\"lead_status\":\"previously_marked_good_lead\",\"note\":\"\","
    "\"recording\":\"https://app.callrail.com/calls/766970532/recording/redirect?access_key=aaaaccccddddeeee\","
    "\"recording_duration\":8,\"source_name\":\"Google AdWords\","
    "\"start_time\":\"2018-02-19T13:41:00.236-05:00\",\"tags\":[],\"total_calls\":17,"
    "\"tracking_phone_number\":\"+14045558514\",\"transcription\":\"\",\"value\":\"\",\"voicemail\":true,"
    "\"tracker_id\":354024023,\"keywords\":\"\",\"medium\":\"\",\"referring_url\":\"\","
    "\"landing_page_url\":\"\",\"last_requested_url\":\"\",\"referrer_domain\":\"\","
    "\"conversational_transcript\":\"\",\"utm_source\":\"google\",\"utm_medium\":\"cpc\","
    "\"utm_term\":\"\",\"utm_content\":\"\",\"utm_campaign\":\"Google AdWords\",\"utma\":\"\","
    "\"utmb\":\"\",\"utmc\":\"\",\"utmv\":\"\",\"utmz\":\"\",\"ga\":\"\",\"gclid\":\"\","
    "\"integration_data\":[{\"integration\":\"Webhooks\",\"data\":null}],\"keywords_spotted\":\"\","
    "\"recording_player\":\"https://app.callrail.com/calls/766970532/recording?access_key=aaaabbbbccccdddd\","
    "\"speaker_percent\":\"\",\"call_highlights\":[],\"callercity\":\"Rochester\","
    "\"callercountry\":\"US\",\"callername\":\"Kaylah Mills\",\"callernum\":\"+12148654559\","
    "\"callerstate\":\"PA\",\"callsource\":\"google_paid\",\"campaign\":\"\",\"custom\":\"\","
    "\"datetime\":\"2018-02-19 18:41:00\",\"destinationnum\":\"\",\"ip\":\"\",\"kissmetrics_id\":\"\","
    "\"landingpage\":\"\",\"referrer\":\"\",\"referrermedium\":\"\",\"score\":1,\"tag\":\"\","
    "\"trackingnum\":\"+14045558514\",\"timestamp\":\"2018-02-19T13:41:00.236-05:00\"}";

#define CALL_ID "CAL8154748ae6bd4e278a7cddd38a662f4f"

static void
ringing_events(void)
{
	struct decoded d;

	CHECK(decode("pre_call",
		  "{\"resource_id\":\"" CALL_ID "\",\"id\":1018350876,\"answered\":false,"
		  "\"call_type\":\"missed\",\"duration\":0,\"voicemail\":false,\"direction\":\"inbound\","
		  "\"customer_phone_number\":\"+14045551234\",\"tracking_phone_number\":\"+14045550199\","
		  "\"business_phone_number\":\"(404) 555-0100\",\"start_time\":\"2024-05-01T05:59:58.000-04:00\","
		  "\"tracker_resource_id\":\"TRK0a1b2c3d4e5f60718293a4b5c6d7e8f9\",\"source\":\"Google Ads\","
		  "\"tags\":null,\"value\":\"\",\"first_call\":true}",
		  &d) == CH_OK,
	    "pre_call decodes");
	CHECK_STR(d.event, "pre_call", "the event is the URL's");
	CHECK(nrows(&d) == 1, "pre_call is one row");
	CHECK_STR(field(&d, 0, "table"), "calls", "pre_call is a calls row");
	CHECK_STR(field(&d, 0, "external_id"), CALL_ID, "resource_id is the external id");
	CHECK_STR(field(&d, 0, "event_time"), "2024-05-01T09:59:58.000000Z",
	    "pre_call is timed at the call's start");
	CHECK_STR(col(&d, "status"), "ringing", "pre_call is ringing, whatever call_type says");
	CHECK(col(&d, "answered") == NULL && col(&d, "duration_s") == NULL,
	    "answered and duration are placeholders at pre-call");
	CHECK_STR(col(&d, "direction"), "inbound", "direction");
	CHECK_STR(col(&d, "started_at"), "2024-05-01T09:59:58.000000Z", "start_time with offset to UTC");
	CHECK_STR(col(&d, "destination_number"), "(404) 555-0100", "business number as sent");
	CHECK_STR(col(&d, "destination_number_e164"), "+14045550100", "business number E.164");
	CHECK_STR(col(&d, "tracker_external_id"), "TRK0a1b2c3d4e5f60718293a4b5c6d7e8f9", "tracker_resource_id");
	CHECK_STR(col(&d, "traffic_source"), "Google Ads", "source is the traffic source");
	CHECK(col(&d, "tags") == NULL && col(&d, "value") == NULL, "null tags and \"\" value are absent");
	CHECK(d.outcome == OUT_STORED && d.dedup_key == NULL, "stored, no vendor delivery id");
	decoded_clear(&d);

	CHECK(decode("call_routing_complete",
		  "{\"resource_id\":\"" CALL_ID "\",\"answered\":true,"
		  "\"customer_phone_number\":\"+14045551234\"}",
		  &d) == CH_OK,
	    "call_routing_complete decodes");
	CHECK_STR(col(&d, "status"), "ringing", "routing complete is ringing");
	CHECK(col(&d, "answered") == NULL, "answered is not read at routing complete");
	decoded_clear(&d);
}

static void
post_call(void)
{
	struct decoded d;

	CHECK(decode("post_call",
		  "{\"resource_id\":\"" CALL_ID "\",\"answered\":true,\"voicemail\":false,"
		  "\"duration\":184,\"recording_duration\":\"180\",\"direction\":\"inbound\","
		  "\"recording\":\"https://api.callrail.com/v3/a/1/calls/1/recording.json\","
		  "\"customer_name\":\"Jane Doe\",\"customer_city\":\"Atlanta\",\"customer_state\":\"GA\","
		  "\"customer_country\":\"US\",\"customer_phone_number\":\"+14045551234\","
		  "\"tracking_phone_number\":\"404-555-0199\",\"tags\":[{\"name\":\"New Customer\",\"color\":\"red\"},"
		  "{\"name\":\"Booked\"}],\"value\":\"150.00\",\"lead_status\":\"good_lead\",\"spam\":false,"
		  "\"first_call\":\"true\",\"note\":\"\",\"transcription\":\"Agent: Acme. Caller: My sink leaks.\","
		  "\"conversational_transcript\":[{\"speaker\":\"Agent\",\"phrase\":\"ignored\"}],"
		  "\"call_summary\":\"Leaking sink; booked.\",\"source_name\":\"Google Paid\",\"medium\":\"cpc\","
		  "\"campaign\":\"spring\",\"keywords\":\"plumber\",\"referring_url\":\"https://www.google.com/\","
		  "\"landing_page_url\":\"https://acme.example/\",\"utm_source\":\"google\",\"utm_medium\":\"cpc\","
		  "\"utm_campaign\":\"spring\",\"utm_term\":\"plumber\",\"utm_content\":\"ad1\",\"gclid\":\"EAIa\","
		  "\"fbclid\":\"\",\"msclkid\":\"MS1\",\"start_time\":\"2024-05-01T10:00:00Z\"}",
		  &d) == CH_OK,
	    "post_call decodes");
	CHECK_STR(col(&d, "status"), "completed", "answered post-call is completed");
	CHECK_STR(col(&d, "answered"), "true", "answered");
	CHECK_STR(col(&d, "duration_s"), "184", "duration");
	CHECK_STR(col(&d, "recording_duration_s"), "180", "\"180\" is 180");
	CHECK_STR(col(&d, "recording_url"), "https://api.callrail.com/v3/a/1/calls/1/recording.json",
	    "recording");
	CHECK_STR(col(&d, "tracking_number_e164"), "+14045550199", "tracking number E.164 from dashes");
	CHECK_STR(col(&d, "caller_name"), "Jane Doe", "customer_name");
	CHECK_STR(col(&d, "caller_state"), "GA", "customer_state");
	CHECK_STR(col(&d, "tags"), "[\"New Customer\",\"Booked\"]", "tag objects give their names");
	CHECK_STR(col(&d, "value"), "150.00", "value as decimal text");
	CHECK_STR(col(&d, "lead_status"), "good_lead", "lead_status");
	CHECK_STR(col(&d, "spam"), "false", "spam");
	CHECK_STR(col(&d, "first_time"), "true", "first_call \"true\"");
	CHECK(col(&d, "note") == NULL, "an empty note is absent");
	CHECK_STR(col(&d, "transcript"), "Agent: Acme. Caller: My sink leaks.", "transcription wins");
	CHECK_STR(col(&d, "summary"), "Leaking sink; booked.", "call_summary");
	CHECK_STR(col(&d, "traffic_source"), "Google Paid", "source_name when source is absent");
	CHECK_STR(col(&d, "keyword"), "plumber", "keywords");
	CHECK_STR(col(&d, "referrer"), "https://www.google.com/", "referring_url");
	CHECK_STR(col(&d, "landing_page"), "https://acme.example/", "landing_page_url");
	CHECK_STR(col(&d, "utm_content"), "ad1", "utm_content");
	CHECK_STR(col(&d, "msclkid"), "MS1", "msclkid");
	CHECK(col(&d, "fbclid") == NULL, "empty fbclid is absent");
	decoded_clear(&d);

	CHECK(strlen(docs_vector) == 2279, "the vector body is the 2279 bytes CallRail signed");
	CHECK(decode("post_call", docs_vector, &d) == CH_OK, "the docs' signature vector body decodes");
	CHECK_STR(field(&d, 0, "external_id"), "766970532", "legacy numeric id as text");
	CHECK_STR(col(&d, "status"), "voicemail", "voicemail true, not answered: voicemail");
	CHECK_STR(col(&d, "answered"), "false", "answered false");
	CHECK_STR(col(&d, "duration_s"), "13", "duration \"13\"");
	CHECK_STR(col(&d, "started_at"), "2018-02-19T18:41:00.236000Z", "start_time wins over datetime");
	CHECK_STR(col(&d, "caller_number_e164"), "+12148654559", "caller E.164");
	CHECK_STR(col(&d, "tracker_external_id"), "354024023", "legacy tracker_id");
	CHECK_STR(col(&d, "traffic_source"), "Google AdWords", "source_name");
	CHECK_STR(col(&d, "utm_campaign"), "Google AdWords", "utm_campaign");
	CHECK(col(&d, "destination_number") == NULL && col(&d, "tags") == NULL && col(&d, "value") == NULL &&
		col(&d, "transcript") == NULL && col(&d, "referrer") == NULL,
	    "empty values are absent");
	decoded_clear(&d);

	CHECK(decode("post_call",
		  "{\"resource_id\":\"CAL1\",\"answered\":\"false\",\"voicemail\":\"false\","
		  "\"duration\":\"0\"}",
		  &d) == CH_OK,
	    "missed post-call with string booleans decodes");
	CHECK_STR(col(&d, "status"), "missed", "not answered, no voicemail: missed");
	CHECK_STR(col(&d, "answered"), "false", "\"false\" is false");
	CHECK_STR(col(&d, "duration_s"), "0", "\"0\" is 0");
	decoded_clear(&d);

	CHECK(decode("post_call", "{\"id\":\"77\",\"call_type\":\"answered\"}", &d) == CH_OK &&
		!strcmp(col(&d, "status"), "completed"),
	    "without answered, call_type answered is completed");
	decoded_clear(&d);
	CHECK(decode("post_call", "{\"id\":77,\"call_type\":\"voicemail\"}", &d) == CH_OK &&
		!strcmp(col(&d, "status"), "voicemail"),
	    "without answered, call_type voicemail is voicemail");
	decoded_clear(&d);
	CHECK(decode("post_call", "{\"id\":77,\"answered\":true,\"voicemail\":true}", &d) == CH_OK &&
		!strcmp(col(&d, "status"), "completed"),
	    "answered wins over voicemail (DESIGN.md order)");
	decoded_clear(&d);

	CHECK(decode("post_call",
		  "{\"id\":8,\"callernum\":\"+12148654559\",\"trackingnum\":\"4045558514\","
		  "\"datetime\":\"2018-02-19 18:41:00\",\"tracker_id\":\"354\",\"callername\":\"K M\"}",
		  &d) == CH_OK,
	    "a legacy-only body decodes");
	CHECK_STR(col(&d, "caller_number"), "+12148654559", "callernum");
	CHECK_STR(col(&d, "tracking_number_e164"), "+14045558514", "trackingnum, 10 digits to E.164");
	CHECK_STR(col(&d, "started_at"), "2018-02-19T18:41:00.000000Z", "legacy datetime is UTC");
	CHECK_STR(col(&d, "tracker_external_id"), "354", "tracker_id");
	CHECK_STR(col(&d, "caller_name"), "K M", "callername");
	decoded_clear(&d);

	CHECK(decode("outbound_post_call",
		  "{\"resource_id\":\"CAL2\",\"answered\":true,\"call_type\":\"outbound\"}", &d) == CH_OK,
	    "outbound_post_call decodes");
	CHECK_STR(col(&d, "direction"), "outbound", "outbound without a direction field");
	CHECK_STR(col(&d, "status"), "completed", "answered outbound call is completed");
	decoded_clear(&d);
	CHECK(decode("outbound_post_call",
		  "{\"resource_id\":\"CAL2\",\"answered\":false,\"direction\":\"outbound\"}", &d) == CH_OK &&
		!strcmp(col(&d, "status"), "missed"),
	    "unanswered outbound call is missed");
	decoded_clear(&d);
}

static void
transcripts(void)
{
	struct decoded d;

	CHECK(decode("post_call",
		  "{\"id\":1,\"transcription\":\"\",\"conversational_transcript\":["
		  "{\"speaker\":\"Agent\",\"phrase\":\"Acme, hello.\",\"start\":0.5},"
		  "{\"speaker\":\"Customer\",\"phrase\":\"My \\\"sink\\\" leaks.\"}]}",
		  &d) == CH_OK,
	    "conversational_transcript as turns decodes");
	CHECK_STR(col(&d, "transcript"), "Agent: Acme, hello.\nCustomer: My \"sink\" leaks.",
	    "turns become speaker: phrase lines");
	decoded_clear(&d);
	CHECK(decode("post_call",
		  "{\"id\":1,\"conversational_transcript\":{\"sentences\":["
		  "{\"speaker\":\"Agent\",\"phrase\":\"Hi\"},{\"phrase\":\"Hello\"}]}}",
		  &d) == CH_OK &&
		!strcmp(col(&d, "transcript"), "Agent: Hi\nHello"),
	    "{\"sentences\": [...]} is rendered too");
	decoded_clear(&d);
	CHECK(decode("post_call", "{\"id\":1,\"conversational_transcript\":{\"x\":[1]}}", &d) == CH_OK,
	    "an unknown transcript object decodes");
	CHECK_STR(col(&d, "transcript"), "{\"x\":[1]}", "an unknown transcript shape is kept as JSON text");
	decoded_clear(&d);
	CHECK(decode("post_call", "{\"id\":1,\"conversational_transcript\":\"Agent: Hi\"}", &d) == CH_OK &&
		!strcmp(col(&d, "transcript"), "Agent: Hi"),
	    "a transcript string is kept as sent");
	decoded_clear(&d);
	CHECK(decode("post_call", "{\"id\":1,\"conversational_transcript\":[]}", &d) == CH_OK &&
		col(&d, "transcript") == NULL,
	    "an empty transcript list is absent");
	decoded_clear(&d);
}

static void
modified(void)
{
	struct decoded d;

	CHECK(decode("call_modified",
		  "{\"resource_id\":\"" CALL_ID "\",\"answered\":true,\"voicemail\":false,"
		  "\"note\":\"Call back Tuesday\",\"tags\":[\"Booked\",\"VIP\"],\"value\":99.5,"
		  "\"changes\":[\"note\",\"tags\",\"value\"]}",
		  &d) == CH_OK,
	    "call_modified decodes");
	CHECK(nrows(&d) == 3, "call_modified gives a calls row, a call_events row and an outcome row");
	CHECK_STR(field(&d, 0, "table"), "calls", "first the call");
	CHECK_STR(field(&d, 0, "event_time"), TIME_1000, "the call's columns at the arrival time");
	CHECK(col(&d, "status") == NULL && col(&d, "answered") == NULL,
	    "the outcome is not among the columns stamped at the arrival time");
	CHECK_STR(col(&d, "note"), "Call back Tuesday", "note");
	CHECK_STR(col(&d, "tags"), "[\"Booked\",\"VIP\"]", "tags as a list of strings");
	CHECK_STR(col(&d, "value"), "99.5", "numeric value");
	CHECK_STR(field(&d, 2, "table"), "calls", "the outcome row is a calls row");
	CHECK_STR(field(&d, 2, "external_id"), CALL_ID, "of the same call");
	CHECK_STR(field(&d, 2, "event_time"), "1970-01-01T00:00:00.000000Z",
	    "without a start time the outcome is stamped at the epoch, older than any post-call");
	CHECK_STR(coln(&d, 2, "status"), "completed", "answered: completed, as at post-call");
	CHECK_STR(coln(&d, 2, "answered"), "true", "answered is read after the call");
	CHECK(coln(&d, 2, "note") == NULL && coln(&d, 2, "direction") == NULL,
	    "the outcome row holds the outcome only");
	CHECK_STR(field(&d, 1, "table"), "call_events", "then the event");
	CHECK_STR(field(&d, 1, "op"), "insert", "call_events rows are inserts");
	CHECK_STR(field(&d, 1, "external_id"), CALL_ID ":call_modified:1714557600123456",
	    "event id: call, event and arrival time");
	CHECK_STR(field(&d, 1, "event_time"), TIME_1000, "event row time");
	CHECK_STR(coln(&d, 1, "call_external_id"), CALL_ID, "call_external_id");
	CHECK_STR(coln(&d, 1, "event"), "call_modified", "event name");
	CHECK_STR(coln(&d, 1, "occurred_at"), TIME_1000, "occurred_at is the arrival time");
	CHECK_STR(coln(&d, 1, "detail"), "{\"changes\":[\"note\",\"tags\",\"value\"]}",
	    "detail lists the changes");
	decoded_clear(&d);

	CHECK(decode_at("outbound_call_modified", "{\"id\":5,\"spam\":\"true\"}", 1000000, &d) == CH_OK,
	    "outbound_call_modified without changes decodes");
	CHECK_STR(col(&d, "direction"), "outbound", "outbound");
	CHECK_STR(col(&d, "spam"), "true", "spam \"true\"");
	CHECK_STR(field(&d, 1, "external_id"), "5:outbound_call_modified:1000000", "event id");
	CHECK_STR(coln(&d, 1, "event"), "outbound_call_modified", "event name");
	CHECK(coln(&d, 1, "detail") == NULL, "no changes, no detail");
	CHECK_STR(coln(&d, 2, "status"), "missed", "not answered, no voicemail: missed");
	decoded_clear(&d);

	CHECK(decode("call_modified",
		  "{\"id\":6,\"answered\":\"false\",\"voicemail\":true,\"duration\":\"31\","
		  "\"start_time\":\"2024-05-01T09:59:58.000-04:00\",\"note\":\"left a message\"}",
		  &d) == CH_OK,
	    "a modification of a call that went to voicemail decodes");
	CHECK_STR(coln(&d, 2, "status"), "voicemail", "voicemail, as at post-call");
	CHECK_STR(coln(&d, 2, "duration_s"), "31", "the duration goes with the outcome");
	CHECK_STR(field(&d, 2, "event_time"), "2024-05-01T13:59:58.000000Z",
	    "the outcome is stamped at the call's start, before any post-call (start + duration)");
	CHECK_STR(field(&d, 0, "event_time"), TIME_1000, "the other columns at the arrival time");
	decoded_clear(&d);
}

static void
messages(void)
{
	struct decoded d;

	CHECK(decode("text_message_received",
		  "{\"id\":4410,\"resource_id\":\"SMT0123456789abcdef0123456789abcdef\","
		  "\"source_number\":\"+14045551234\",\"destination_number\":\"770-555-5555\",\"content\":\"Are you open?\","
		  "\"message_type\":\"mms\",\"media_urls\":[\"https://m.example/1.jpg\"],\"timestamp\":\"2024-05-01T10:05:00Z\","
		  "\"thread_resource_id\":\"SMTthread\",\"conversation_id\":\"conv-9\",\"agent\":\"Nobody\","
		  "\"tracker_resource_id\":\"TRK1\"}",
		  &d) == CH_OK,
	    "text_message_received decodes");
	CHECK_STR(field(&d, 0, "table"), "messages", "messages row");
	CHECK_STR(field(&d, 0, "external_id"), "SMT0123456789abcdef0123456789abcdef", "resource_id");
	CHECK_STR(field(&d, 0, "event_time"), "2024-05-01T10:05:00.000000Z",
	    "event time is the message timestamp");
	CHECK_STR(col(&d, "direction"), "inbound", "received is inbound");
	CHECK_STR(col(&d, "from_number_e164"), "+14045551234", "from");
	CHECK_STR(col(&d, "to_number"), "770-555-5555", "to as sent");
	CHECK_STR(col(&d, "to_number_e164"), "+17705555555", "to in E.164");
	CHECK_STR(col(&d, "body"), "Are you open?", "content is the body");
	CHECK_STR(col(&d, "message_type"), "mms", "message_type");
	CHECK_STR(col(&d, "media_urls"), "[\"https://m.example/1.jpg\"]", "media_urls");
	CHECK_STR(col(&d, "sent_at"), "2024-05-01T10:05:00.000000Z", "sent_at");
	CHECK_STR(col(&d, "conversation_id"), "conv-9", "conversation_id is CallRail's conversation_id");
	CHECK_STR(col(&d, "tracker_external_id"), "TRK1", "tracker");
	CHECK(col(&d, "agent") == NULL, "no agent on received messages");
	decoded_clear(&d);

	CHECK(decode("text_message_sent",
		  "{\"id\":4411,\"source_number\":\"+17705555555\","
		  "\"destination_number\":\"+14045551234\",\"content\":\"Yes\",\"agent\":{\"name\":\"Sam Lee\"},"
		  "\"media_urls\":\"https://m.example/2.png\",\"conversation_id\":\"conv-9\"}",
		  &d) == CH_OK,
	    "text_message_sent decodes");
	CHECK_STR(field(&d, 0, "external_id"), "4411", "legacy id");
	CHECK_STR(field(&d, 0, "event_time"), TIME_1000, "no timestamp: arrival time");
	CHECK_STR(col(&d, "direction"), "outbound", "sent is outbound");
	CHECK_STR(col(&d, "agent"), "Sam Lee", "agent object gives its name");
	CHECK_STR(col(&d, "media_urls"), "[\"https://m.example/2.png\"]", "a lone media URL becomes a list");
	CHECK_STR(col(&d, "conversation_id"), "conv-9", "conversation_id");
	decoded_clear(&d);

	CHECK(decode("text_message_sent",
		  "{\"id\":4412,\"content\":\"Ok\",\"thread_resource_id\":\"SMTthread\"}", &d) == CH_OK,
	    "a message with a thread but no conversation_id decodes");
	CHECK(col(&d, "conversation_id") == NULL, "no conversation_id column from thread_resource_id");
	CHECK_STR(json_find_text(json_find(row(&d, 0), "data"), "thread_resource_id"), "SMTthread",
	    "thread_resource_id stays in data");
	decoded_clear(&d);
}

static void
forms(void)
{
	struct decoded d;

	CHECK(decode("form_submission",
		  "{\"resource_id\":\"FRM0123456789abcdef0123456789abcdef\","
		  "\"note\":\"not \\\"form_data\\\":{\\\"x\\\":1}\",\"form_data\":{\"name\":\"Jane \\\"JJ\\\" Doe\","
		  "\"phone_number\":\"404-555-1234\",\"message\":\"a } b ] c {\",\"phone_number\":\"+14045559999\","
		  "\"prefs\":{\"contact\":[\"sms\",{\"time\":\"am\"}],\"phone_number\":\"nested\"},\"count\":3,"
		  "\"ok\":true,\"none\":null,\"phone_number\" : 4045550000 },\"form_url\":\"https://acme.example/contact\","
		  "\"landing_page_url\":\"https://acme.example/?utm_source=fb\",\"referrer\":\"https://facebook.com/\","
		  "\"utm_source\":\"fb\",\"fbclid\":\"FB1\",\"submitted_at\":\"2024-05-01T10:07:00-04:00\","
		  "\"first_form\":\"true\"}",
		  &d) == CH_OK,
	    "form_submission decodes");
	CHECK_STR(field(&d, 0, "table"), "form_submissions", "form_submissions row");
	CHECK_STR(field(&d, 0, "external_id"), "FRM0123456789abcdef0123456789abcdef", "FRM id");
	CHECK_STR(field(&d, 0, "event_time"), "2024-05-01T14:07:00.000000Z", "event time is submitted_at");
	CHECK_STR(col(&d, "form_data"),
	    "{\"name\":\"Jane \\\"JJ\\\" Doe\",\"phone_number\":[\"404-555-1234\",\"+14045559999\",4045550000],"
	    "\"message\":\"a } b ] c {\",\"prefs\":{\"contact\":[\"sms\",{\"time\":\"am\"}],\"phone_number\":\"nested\"},"
	    "\"count\":3,\"ok\":true,\"none\":null}",
	    "form_data keeps every phone_number in order; escapes, brackets in strings, nesting intact");
	CHECK_STR(col(&d, "form_url"), "https://acme.example/contact", "form_url");
	CHECK_STR(col(&d, "landing_page"), "https://acme.example/?utm_source=fb", "landing_page_url");
	CHECK_STR(col(&d, "referrer"), "https://facebook.com/", "referrer");
	CHECK_STR(col(&d, "submitted_at"), "2024-05-01T14:07:00.000000Z", "submitted_at in UTC");
	CHECK_STR(col(&d, "first_time"), "true", "first_form");
	CHECK_STR(col(&d, "utm_source"), "fb", "utm_source");
	CHECK_STR(col(&d, "fbclid"), "FB1", "fbclid");
	decoded_clear(&d);

	CHECK(decode("form_submission",
		  "{\"form_data\":{\"a\":1},\"resource_id\":\"FRM2\",\"form\\u005fdata\":"
		  "{\"n\\u0061me\":\"x\",\"name\":\"y\",\"e\":[]}}",
		  &d) == CH_OK &&
		!strcmp(col(&d, "form_data"), "{\"name\":[\"x\",\"y\"],\"e\":[]}"),
	    "escaped keys are decoded; the last top-level form_data wins, as in json-c");
	decoded_clear(&d);
	CHECK(decode("form_submission", "{\"resource_id\":\"FRM3\",\"form_url\":\"https://a.example/\"}",
		  &d) == CH_OK &&
		col(&d, "form_data") == NULL && d.outcome == OUT_STORED,
	    "no form_data is fine");
	decoded_clear(&d);
	CHECK(decode("form_submission", "{\"resource_id\":\"FRM4\",\"form_data\":{}}", &d) == CH_OK &&
		col(&d, "form_data") == NULL,
	    "an empty form_data is absent");
	decoded_clear(&d);
	CHECK(decode("form_submission", "{\"resource_id\":\"FRM5\",\"form_data\":[{\"name\":\"a\"}]}", &d) ==
		    CH_OK &&
		!strcmp(col(&d, "form_data"), "[{\"name\":\"a\"}]"),
	    "a form_data list is kept as sent");
	decoded_clear(&d);
	CHECK(decode("form_submission", "{\"resource_id\":\"FRM6\",\"form_data\":\"name=a\"}", &d) ==
		    CH_ERR_BAD_BODY &&
		strstr(d.error, "\"form_data\""),
	    "a form_data string is rejected: %s", d.error);
	decoded_clear(&d);
}

static void
bad_and_unknown(void)
{
	struct decoded d;

	CHECK(decode("convert_assist_complete", "{\"resource_id\":\"CAL1\"}", &d) == CH_OK &&
		d.outcome == OUT_IGNORED && d.rows == NULL && d.event &&
		!strcmp(d.event, "convert_assist_complete"),
	    "an event this decoder does not map is ignored with no rows");
	decoded_clear(&d);
	CHECK(decode("x9.Future-Event_v2", "[\"x\",1]", &d) == CH_OK && d.outcome == OUT_IGNORED &&
		d.rows == NULL && d.event && !strcmp(d.event, "x9.Future-Event_v2"),
	    "an unknown event is ignored whatever its JSON, here a list");
	decoded_clear(&d);
	CHECK(vendor_callrail.other_events_ignored && !vendor_callscaler.other_events_ignored &&
		!vendor_calltracker.other_events_ignored && !vendor_salpre.other_events_ignored &&
		!vendor_fonedynamics.other_events_ignored,
	    "only CallRail takes any event name in the URL");
	CHECK(decode(NULL, "{\"resource_id\":\"CAL1\"}", &d) == CH_OK && d.outcome == OUT_IGNORED &&
		d.rows == NULL && d.event == NULL,
	    "no event in the URL: ignored");
	decoded_clear(&d);
	CHECK(decode("post_call", "{\"answered\":true,\"resource_id\":\"\"}", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"resource_id\""),
	    "a call without ids is rejected naming resource_id: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("text_message_received", "{\"content\":\"hi\"}", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"resource_id\""),
	    "a message without ids is rejected: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("form_submission", "{\"form_data\":{}}", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"resource_id\""),
	    "a form without ids is rejected: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("post_call", "{\"id\":1,\"answered\":\"maybe\"}", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"answered\""),
	    "answered \"maybe\" is rejected naming the field: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("post_call", "{\"id\":1,\"answered\":false,\"voicemail\":\"perhaps\"}", &d) ==
		    CH_ERR_BAD_BODY &&
		strstr(d.error, "\"voicemail\""),
	    "a bad voicemail flag is rejected: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("post_call", "{\"id\":1,\"duration\":\"long\"}", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"duration\""),
	    "a non-numeric duration is rejected: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("call_modified", "{\"id\":1,\"value\":\"a lot\"}", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"value\""),
	    "a non-numeric value is rejected: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("call_modified", "{\"id\":1,\"changes\":{\"note\":true}}", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"changes\""),
	    "changes that are not a list are rejected: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("post_call", "{\"id\":1,\"tags\":{\"name\":\"x\"}}", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"tags\""),
	    "tags as an object are rejected: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("pre_call", "{\"id\":1,\"start_time\":\"yesterday\"}", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"start_time\""),
	    "a bad start_time is rejected: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("text_message_sent", "{\"id\":1,\"timestamp\":\"soon\"}", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"timestamp\""),
	    "a bad message timestamp is rejected: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("post_call", "[1,2]", &d) == CH_ERR_BAD_BODY, "a JSON array is rejected");
	decoded_clear(&d);
}

void test_callrail(void);

void
test_callrail(void)
{
	ringing_events();
	post_call();
	transcripts();
	modified();
	messages();
	forms();
	bad_and_unknown();
}
