/* Salpre decoding: each event into its rows, ids that move, transcripts, errors, bad payloads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vendors/vendor.h"

/* 2025-10-10T08:30:00Z, the time of receipt used when timestamp_utc is absent. */
#define RECEIVED_USEC INT64_C(1760085000000000)

static enum ch_err
decode(const char *body, struct decoded *d)
{
	struct delivery_in in = { .method = "POST",
		.body_kind = BODY_JSON,
		.body = body,
		.body_len = strlen(body),
		.received_usec = RECEIVED_USEC };
	enum ch_err err;

	memset(d, 0, sizeof(*d));
	in.doc = json_tokener_parse(body);
	err = vendor_salpre.decode(&in, d);
	json_object_put(in.doc);
	return err;
}

static size_t
nrows(const struct decoded *d)
{
	return d->rows ? json_object_array_length(d->rows) : 0;
}

static struct json_object *
row(const struct decoded *d, size_t i)
{
	return i < nrows(d) ? json_object_array_get_idx(d->rows, i) : NULL;
}

/* Field `name` of row i (a dotted path works), as text, or NULL. */
static const char *
field(const struct decoded *d, size_t i, const char *name)
{
	struct json_object *v = json_find(row(d, i), name);

	return v ? json_object_get_string(v) : NULL;
}

/* Column `name` of row i as text, or NULL. */
static const char *
col(const struct decoded *d, size_t i, const char *name)
{
	struct json_object *v = json_find(row_cols(row(d, i)), name);

	return v ? json_object_get_string(v) : NULL;
}

/* Field `name` of segment j of the replace_segments row i, as text, or NULL. */
static const char *
seg(const struct decoded *d, size_t i, size_t j, const char *name)
{
	struct json_object *segs = json_find(row(d, i), "segments"), *v;

	if (segs == NULL || j >= json_object_array_length(segs))
		return NULL;
	v = json_find(json_object_array_get_idx(segs, j), name);
	return v ? json_object_get_string(v) : NULL;
}

#define ENV(type, ts, payload, test) \
	"{\"event_type\":\"" type "\",\"timestamp_utc\":" ts ",\"payload\":" payload ",\"is_test\":" test "}"
#define LIFE \
	"\"from\":\"+905555555555\",\"to\":\"+905555555554\",\"source\":\"salprebox:SALPRE_AABBCCDD\"," \
	"\"direction\":\"outbound\",\"call_id\":1"
#define CALL \
	"\"call\":{\"id\":1,\"from\":\"+905555555555\",\"to\":\"+905555555554\"," \
	"\"source\":\"salprebox:SALPRE_AABBCCDD\",\"direction\":\"outbound\"}"

static void
lifecycle(void)
{
	struct decoded d;

	CHECK(decode(ENV("call_initiated", "1760084505", "{" LIFE "}", "true"), &d) == CH_OK,
	    "call_initiated (the vendor page's example) decodes");
	CHECK_STR(d.event, "call_initiated", "event is event_type");
	CHECK(d.outcome == OUT_STORED && nrows(&d) == 1, "one row, stored");
	CHECK_STR(field(&d, 0, "table"), "calls", "a calls row");
	CHECK_STR(field(&d, 0, "external_id"), "1", "integer call_id becomes text");
	CHECK_STR(field(&d, 0, "event_time"), "2025-10-10T08:21:45.000000Z", "event time from unix seconds");
	CHECK_STR(field(&d, 0, "is_test"), "true", "is_test true flags the row");
	CHECK_STR(col(&d, 0, "status"), "initiated", "initiated");
	CHECK_STR(col(&d, 0, "direction"), "outbound", "direction as the payload says");
	CHECK_STR(col(&d, 0, "caller_number"), "+905555555555", "from is the caller number");
	CHECK_STR(col(&d, 0, "caller_number_e164"), "+905555555555", "a Turkish number keeps its +90");
	CHECK_STR(col(&d, 0, "tracking_number"), "+905555555554", "to is the tracking number");
	CHECK_STR(col(&d, 0, "started_at"), "2025-10-10T08:21:45.000000Z", "the call starts at call_initiated");
	CHECK(col(&d, 0, "answered") == NULL, "not yet answered nor unanswered");
	CHECK_STR(field(&d, 0, "data.source"), "salprebox:SALPRE_AABBCCDD", "the payload is the row's data");
	decoded_clear(&d);

	CHECK(decode(ENV("call_ringing", "\"1760084555\"", "{" LIFE "}", "false"), &d) == CH_OK,
	    "call_ringing with timestamp_utc as a string decodes");
	CHECK_STR(field(&d, 0, "event_time"), "2025-10-10T08:22:35.000000Z", "string unix seconds");
	CHECK_STR(field(&d, 0, "is_test"), "false", "is_test false");
	CHECK_STR(col(&d, 0, "status"), "ringing", "ringing");
	CHECK(col(&d, 0, "started_at") == NULL, "only call_initiated sets started_at");
	decoded_clear(&d);

	CHECK(decode(ENV("call_answered", "1760084576", "{" LIFE "}", "false"), &d) == CH_OK,
	    "call_answered decodes");
	CHECK_STR(col(&d, 0, "status"), "in_progress", "answered is in progress");
	CHECK_STR(col(&d, 0, "answered"), "true", "and answered");
	decoded_clear(&d);

	CHECK(decode(ENV("call_initiated", "1760090000",
			 "{\"call_id\":\"2\",\"from\":\"+905321234567\","
			 "\"to\":\"salprebox:SALPRE_AABBCCDD\"}",
			 "\"false\""),
		  &d) == CH_OK,
	    "call_initiated to a device URI, no direction, is_test as a string, decodes");
	CHECK_STR(col(&d, 0, "direction"), "inbound", "inbound unless the payload says outbound");
	CHECK_STR(col(&d, 0, "tracking_number"), "salprebox:SALPRE_AABBCCDD", "device URI kept as sent");
	CHECK(col(&d, 0, "tracking_number_e164") == NULL, "a device URI has no E.164 form");
	CHECK_STR(field(&d, 0, "is_test"), "false", "\"false\" is false");
	decoded_clear(&d);

	CHECK(decode(ENV("call_ended", "1760084597",
			 "{" LIFE ",\"answered\":false,\"duration\":\"21\","
			 "\"summary\":\"Yanl\xc4\xb1\xc5\x9f numara\"}",
			 "false"),
		  &d) == CH_OK,
	    "call_ended without a transcript decodes");
	CHECK_STR(col(&d, 0, "status"), "completed", "ended is completed");
	CHECK_STR(col(&d, 0, "answered"), "false", "answered as the payload says");
	CHECK_STR(col(&d, 0, "duration_s"), "21", "duration \"21\" is 21");
	CHECK_STR(col(&d, 0, "summary"), "Yanl\xc4\xb1\xc5\x9f numara", "summary byte for byte");
	CHECK(nrows(&d) == 1 && col(&d, 0, "transcript") == NULL, "no transcript, no segments");
	decoded_clear(&d);
}

static void
final_transcript(void)
{
	struct decoded d;

	CHECK(decode(ENV("call_ended", "1760084597",
			 "{" LIFE ",\"transcript\":["
			 "{\"type\":\"ai\",\"message\":\"Greeting message\"},"
			 "{\"type\":\"customer\",\"message\":\"\xc4\xb0yi g\xc3\xbcnler, I\xc4\x9f\x64\xc4\xb1r\","
			 "\"utc_timestamp\":\"111111\"},"
			 "{\"type\":\"ai\",\"message\":\"Ai response 1\",\"timestamp_utc\":1760084590}]}",
			 "false"),
		  &d) == CH_OK,
	    "call_ended with the full transcript decodes");
	CHECK(nrows(&d) == 2, "a calls row and a replace_segments row");
	CHECK_STR(col(&d, 0, "status"), "completed", "completed");
	CHECK_STR(col(&d, 0, "transcript"),
	    "ai: Greeting message\ncustomer: \xc4\xb0yi g\xc3\xbcnler, I\xc4\x9f\x64\xc4\xb1r\nai: Ai response 1",
	    "calls.transcript is the \"speaker: text\" lines");
	CHECK_STR(field(&d, 1, "table"), "transcript_segments", "segments table");
	CHECK_STR(field(&d, 1, "op"), "replace_segments", "op replace_segments");
	CHECK_STR(field(&d, 1, "call_external_id"), "1", "for call 1");
	CHECK_STR(field(&d, 1, "event_time"), "2025-10-10T08:23:17.000000Z", "at the event's time");
	CHECK(json_object_array_length(json_find(row(&d, 1), "segments")) == 3, "three segments");
	CHECK_STR(seg(&d, 1, 0, "seq"), "1", "first seq is 1");
	CHECK_STR(seg(&d, 1, 0, "speaker"), "ai", "speaker is the turn type");
	CHECK_STR(seg(&d, 1, 0, "text"), "Greeting message", "text is the message");
	CHECK(seg(&d, 1, 0, "spoken_at") == NULL, "the first turn has no time");
	CHECK_STR(seg(&d, 1, 1, "seq"), "2", "second seq is 2");
	CHECK_STR(seg(&d, 1, 1, "text"), "\xc4\xb0yi g\xc3\xbcnler, I\xc4\x9f\x64\xc4\xb1r",
	    "Turkish dotted and dotless i byte for byte");
	CHECK_STR(seg(&d, 1, 1, "spoken_at"), "1970-01-02T06:51:51.000000Z", "utc_timestamp \"111111\"");
	CHECK_STR(seg(&d, 1, 2, "spoken_at"), "2025-10-10T08:23:10.000000Z", "timestamp_utc spelling too");
	CHECK_STR(seg(&d, 1, 2, "data.message"), "Ai response 1", "each segment keeps its turn as data");
	decoded_clear(&d);

	CHECK(decode(ENV("call_ended", "1760084597", "{" LIFE ",\"transcript\":[]}", "false"), &d) == CH_OK &&
		nrows(&d) == 1,
	    "an empty transcript list replaces nothing");
	decoded_clear(&d);
}

/* A live turn of call 9: its type and the rest of the payload after "transcript": */
#define TURN9(type, rest) "{\"call\":{\"id\":9},\"type\":\"" type "\",\"transcript\":" rest "}"

/* Decodes a one-turn transcript event and checks the seq of its segment. */
static void
turn_seq(const char *body, const char *want, const char *what)
{
	struct decoded d;

	CHECK(decode(body, &d) == CH_OK, "%s: decodes", what);
	CHECK_STR(col(&d, 1, "seq"), want, "%s", what);
	decoded_clear(&d);
}

static void
live_transcript(void)
{
	struct decoded d;

	CHECK(decode(ENV("transcript", "1760084622",
			 "{" CALL ",\"type\":\"customer\","
			 "\"transcript\":\"Merhaba, \xc4\xb0stanbul'dan ar\xc4\xb1yorum\",\"timestamp_utc\":\"111111\"}",
			 "true"),
		  &d) == CH_OK,
	    "transcript (the vendor page's example) decodes");
	CHECK(nrows(&d) == 2, "a calls row and one segment");
	CHECK_STR(field(&d, 0, "table"), "calls", "the call from payload.call");
	CHECK_STR(field(&d, 0, "external_id"), "1", "its id is payload.call.id");
	CHECK(col(&d, 0, "status") == NULL, "a transcript sets no status");
	CHECK_STR(col(&d, 0, "caller_number"), "+905555555555", "numbers from payload.call");
	CHECK_STR(field(&d, 1, "table"), "transcript_segments", "a segment row");
	CHECK(field(&d, 1, "op") == NULL, "a plain upsert");
	CHECK_STR(field(&d, 1, "external_id"), "1:238609881183429", "<call id>:<seq>");
	CHECK_STR(col(&d, 1, "call_external_id"), "1", "call_external_id");
	CHECK_STR(col(&d, 1, "seq"), "238609881183429",
	    "seq: the turn's own second (111111) << 31 | 31 bits of the hash of speaker and text");
	CHECK_STR(col(&d, 1, "speaker"), "customer", "speaker");
	CHECK_STR(col(&d, 1, "text"), "Merhaba, \xc4\xb0stanbul'dan ar\xc4\xb1yorum", "text byte for byte");
	CHECK_STR(col(&d, 1, "spoken_at"), "1970-01-02T06:51:51.000000Z", "the turn's own time");
	CHECK_STR(field(&d, 1, "is_test"), "true", "is_test on every row");
	decoded_clear(&d);

	CHECK(decode(ENV("transcript", "1760084630",
			 "{\"call\":{\"id\":\"9\"},\"type\":\"ai\","
			 "\"transcript\":\"Tamam\"}",
			 "false"),
		  &d) == CH_OK,
	    "a first turn without a time decodes");
	CHECK_STR(col(&d, 1, "seq"), "3779752963219345943", "seq from the event's timestamp_utc and the hash");
	CHECK(col(&d, 1, "spoken_at") == NULL, "no spoken_at");
	decoded_clear(&d);

	CHECK(decode(ENV("transcript", "1760084630", "{\"call_id\":3,\"type\":\"ai\",\"transcript\":\"x\"}",
			 "false"),
		  &d) == CH_OK,
	    "a transcript with the lifecycle spelling payload.call_id decodes");
	CHECK_STR(field(&d, 1, "external_id"), "3:3779752962126760050",
	    "the id is found under either spelling");
	decoded_clear(&d);

	CHECK(decode(ENV("transcript", "1760084630",
			 "{\"call\":{\"id\":9},\"transcript\":["
			 "{\"type\":\"ai\",\"message\":\"A\"},{\"type\":\"customer\",\"transcript\":\"B\"}]}",
			 "false"),
		  &d) == CH_OK &&
		nrows(&d) == 3,
	    "a list of live turns gives one segment each");
	CHECK_STR(field(&d, 1, "external_id"), "9:3779752962129321330",
	    "listed turns are numbered like single ones");
	CHECK_STR(field(&d, 2, "external_id"), "9:3779752962813155000", "two turns of one second get two seqs");
	CHECK_STR(col(&d, 2, "text"), "B", "their text");
	decoded_clear(&d);

	turn_seq(ENV("transcript", "1760084630", TURN9("ai", "\"Bir saniye\""), "false"),
	    "3779752962375563860", "a turn");
	turn_seq(ENV("transcript", "1760084630", TURN9("ai", "\"Hemen bak\xc4\xb1yorum\""), "false"),
	    "3779752964079793796", "another turn in the same second, in another delivery: another seq");
	turn_seq(ENV("transcript", "1760084631", TURN9("ai", "\"A\""), "false"), "3779752964276804978",
	    "a turn one second later sorts after every turn of the second before");
	turn_seq(ENV("transcript", "1760084699",
		     TURN9("customer",
			 "\"Merhaba, \xc4\xb0stanbul'dan ar\xc4\xb1yorum\",\"timestamp_utc\":\"111111\""),
		     "false"),
	    "238609881183429",
	    "the first example's turn again with a new envelope timestamp_utc: the same seq, no duplicate");
}

static void
errors(void)
{
	struct decoded d;

	CHECK(decode(ENV("error", "1760084656", "{" CALL ",\"error_message\":\"Error message\"}", "false"),
		  &d) == CH_OK,
	    "error (the vendor page's example) decodes");
	CHECK(nrows(&d) == 2, "a calls row and a call_events row");
	CHECK_STR(field(&d, 0, "external_id"), "1", "the call of payload.call.id");
	CHECK_STR(col(&d, 0, "status"), "failed", "the call failed");
	CHECK_STR(col(&d, 0, "error_message"), "Error message", "with its message");
	CHECK_STR(field(&d, 1, "table"), "call_events", "call_events");
	CHECK_STR(field(&d, 1, "op"), "insert", "inserted, never updated");
	CHECK_STR(field(&d, 1, "external_id"), "1:error:2025-10-10T08:24:16.000000Z", "id: call, event, time");
	CHECK_STR(col(&d, 1, "call_external_id"), "1", "attached to the call");
	CHECK_STR(col(&d, 1, "event"), "error", "event error");
	CHECK_STR(col(&d, 1, "occurred_at"), "2025-10-10T08:24:16.000000Z", "occurred_at");
	CHECK_STR(col(&d, 1, "detail"), "{ \"error_message\": \"Error message\" }", "detail: the error fields");
	decoded_clear(&d);

	CHECK(decode(ENV("error", "1760084700", "{\"error_message\":\"Box offline\"}", "false"), &d) == CH_OK,
	    "an error without a call decodes");
	CHECK(nrows(&d) == 1, "only a call_events row");
	CHECK_STR(field(&d, 0, "table"), "call_events", "call_events");
	CHECK(field(&d, 0, "external_id") == NULL, "no external_id: ingest names it by delivery");
	CHECK(col(&d, 0, "call_external_id") == NULL, "unattached");
	CHECK_STR(col(&d, 0, "event"), "error", "event error");
	decoded_clear(&d);

	CHECK(decode(ENV("error", "1760084700", "{\"call\":{\"id\":0},\"error_message\":\"x\"}", "false"),
		  &d) == CH_OK &&
		nrows(&d) == 1 && col(&d, 0, "call_external_id") == NULL,
	    "call id 0 is no call: no calls row");
	decoded_clear(&d);
	CHECK(decode(ENV("error", "1760084700", "{\"call\":{\"id\":\"\"},\"error_message\":\"x\"}", "false"),
		  &d) == CH_OK &&
		nrows(&d) == 1 && strcmp(field(&d, 0, "table"), "call_events") == 0,
	    "call id \"\" is no call: no calls row");
	decoded_clear(&d);
}

static void
bad_and_unknown(void)
{
	struct decoded d;

	CHECK(decode(ENV("call_transferred", "1760084600", "{\"call_id\":1}", "false"), &d) == CH_OK &&
		d.outcome == OUT_IGNORED && d.rows == NULL,
	    "an unknown event_type is ignored with no rows");
	CHECK_STR(d.event, "call_transferred", "its name is kept");
	decoded_clear(&d);
	CHECK(decode("{\"timestamp_utc\":1,\"payload\":{\"call_id\":1}}", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"event_type\""),
	    "missing event_type names the field: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("{\"event_type\":\"call_ringing\",\"timestamp_utc\":1}", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"payload\""),
	    "missing payload names the field: %s", d.error);
	decoded_clear(&d);
	CHECK(decode(ENV("call_ringing", "1", "[1]", "false"), &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"payload\""),
	    "a payload that is not an object is rejected: %s", d.error);
	decoded_clear(&d);
	CHECK(decode(ENV("call_answered", "1760084576", "{\"from\":\"+905555555555\"}", "false"), &d) ==
		    CH_ERR_BAD_BODY &&
		strstr(d.error, "payload.call_id"),
	    "a lifecycle event without call_id: %s", d.error);
	decoded_clear(&d);
	CHECK(decode(ENV("transcript", "1760084576", "{\"type\":\"ai\",\"transcript\":\"x\"}", "false"), &d) ==
		    CH_ERR_BAD_BODY &&
		strstr(d.error, "payload.call.id"),
	    "a transcript without payload.call.id: %s", d.error);
	decoded_clear(&d);
	CHECK(decode(ENV("call_ringing", "1760084576", "{\"call_id\":{\"id\":1}}", "false"), &d) ==
		    CH_ERR_BAD_BODY &&
		strstr(d.error, "payload.call_id"),
	    "an object as call id: %s", d.error);
	decoded_clear(&d);
	CHECK(decode(ENV("call_ringing", "\"yesterday\"", "{\"call_id\":1}", "false"), &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "timestamp_utc"),
	    "a bad timestamp_utc names the field: %s", d.error);
	decoded_clear(&d);
	CHECK(decode(ENV("call_ringing", "1", "{\"call_id\":1}", "\"maybe\""), &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "is_test"),
	    "a bad is_test names the field: %s", d.error);
	decoded_clear(&d);
	CHECK(decode(ENV("call_ended", "1", "{\"call_id\":1,\"transcript\":\"hi\"}", "false"), &d) ==
		    CH_ERR_BAD_BODY &&
		strstr(d.error, "payload.transcript"),
	    "a final transcript that is no list: %s", d.error);
	decoded_clear(&d);
	CHECK(decode(ENV("call_ended", "1",
			 "{\"call_id\":1,\"transcript\":[{\"type\":\"ai\",\"message\":\"a\"},"
			 "{\"type\":\"ai\",\"message\":\"b\",\"utc_timestamp\":\"soon\"}]}",
			 "false"),
		  &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "payload.transcript[1].utc_timestamp"),
	    "a bad turn time names the turn: %s", d.error);
	decoded_clear(&d);
	CHECK(decode(ENV("call_ended", "1", "{\"call_id\":1,\"transcript\":[\"a\"]}", "false"), &d) ==
		    CH_ERR_BAD_BODY &&
		strstr(d.error, "\"payload.transcript[0]\""),
	    "a turn that is no object: %s", d.error);
	decoded_clear(&d);
	CHECK(decode("[1]", &d) == CH_ERR_BAD_BODY, "a JSON array is rejected");
	decoded_clear(&d);
}

static void
no_timestamp(void)
{
	struct decoded d;

	CHECK(decode("{\"event_type\":\"call_ringing\",\"payload\":{\"call_id\":5}}", &d) == CH_OK,
	    "an event without timestamp_utc decodes");
	CHECK_STR(field(&d, 0, "event_time"), "2025-10-10T08:30:00.000000Z", "the time of receipt stands in");
	CHECK_STR(field(&d, 0, "is_test"), "false", "no is_test is false");
	decoded_clear(&d);
}

void test_salpre(void);

void
test_salpre(void)
{
	lifecycle();
	final_transcript();
	live_transcript();
	errors();
	bad_and_unknown();
	no_timestamp();
}
