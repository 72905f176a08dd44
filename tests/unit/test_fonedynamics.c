/* Fone Dynamics decoding: Call.Complete from a query string, a form and JSON; dispositions; bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "core/form.h"
#include "vendors/vendor.h"

/* Decodes `text` as the request parser would: a query or form into strings, or JSON. */
static enum ch_err
decode_as(int kind, const char *text, struct decoded *d)
{
	struct delivery_in in = { .method = kind == BODY_QUERY ? "GET" : "POST",
		.body_kind = kind,
		.body = kind == BODY_QUERY ? "" : text,
		.body_len = kind == BODY_QUERY ? 0 : strlen(text),
		.received_usec = INT64_C(1714557600000000) };
	char why[256];
	enum ch_err err;

	memset(d, 0, sizeof(*d));
	in.doc =
	    kind == BODY_JSON ? json_tokener_parse(text) : form_parse(text, strlen(text), why, sizeof(why));
	err = vendor_fonedynamics.decode(&in, d);
	json_object_put(in.doc);
	return err;
}

static const char *
col(const struct decoded *d, const char *name)
{
	struct json_object *v;

	if (d->rows == NULL || json_object_array_length(d->rows) < 1)
		return NULL;
	v = json_find(row_cols(json_object_array_get_idx(d->rows, 0)), name);
	return v ? json_object_get_string(v) : NULL;
}

static const char *
row_field(const struct decoded *d, const char *name)
{
	if (d->rows == NULL || json_object_array_length(d->rows) < 1)
		return NULL;
	return json_find_text(json_object_array_get_idx(d->rows, 0), name);
}

/* A value of the row's data (the whole parameter object). */
static const char *
data(const struct decoded *d, const char *key)
{
	if (d->rows == NULL || json_object_array_length(d->rows) < 1)
		return NULL;
	return json_find_text(json_find(json_object_array_get_idx(d->rows, 0), "data"), key);
}

/* Every documented parameter, as a GET query string would carry it. */
static const char full_query[] =
    "Action=Webhook&Event=Call.Complete&Account.Sid=AC5f2a0c&Property.Sid=PR77e1&"
    "Property.Name=acmeplumbing.com.au&Property.Type=Site&Call.Sid=CA9f8e7d6c5b4a&"
    "Call.StartDate=2024-05-01+09%3A58%3A00&Call.From=%2B61412345678&Call.From.Country=Australia&"
    "Call.From.Region=NSW&Call.From.City=Sydney&Call.To=%2B61291234567&Call.To.Type=Dynamic&"
    "Call.To.Name=Google+Ads+Pool&Call.Duration=125&Call.Disposition=ANSWERED&"
    "Call.Recording.Uri=https%3A%2F%2Frec.fonedynamics.com%2FCA9f8e7d6c5b4a.mp3&Call.Endpoint=0298765432&"
    "Call.Survey.Type=Sales&Call.Survey.Value=450&Call.Survey.Custom1=New&Call.Survey.Custom2=&"
    "Call.Survey.Custom3=&Call.Survey.UniqueCode=8841&Call.Prompts.Postcode=2000&Call.Prompts.Keys=1%2C2000&"
    "Attribution.Source=google&Attribution.Medium=cpc&Attribution.Campaign=2024+promo&"
    "Attribution.Content=variation+1&Session.Traffic.Type=Campaign&Session.Keywords=blocked+drain&"
    "Session.ConversionUri=https%3A%2F%2Facmeplumbing.com.au%2Fcontact&"
    "Session.LandingUri=https%3A%2F%2Facmeplumbing.com.au%2F%3Fgclid%3DCj0K&"
    "Google.Analytics.ClientId=1234.5678&Google.AdWords.ClickId=Cj0K";

static void
query_and_form(void)
{
	struct decoded d;

	CHECK(decode_as(BODY_QUERY, full_query, &d) == CH_OK, "GET Call.Complete with every parameter decodes");
	CHECK_STR(d.event, "Call.Complete", "event name");
	CHECK(d.outcome == OUT_STORED && d.dedup_key == NULL, "stored, no vendor delivery id");
	CHECK_STR(row_field(&d, "table"), "calls", "a calls row");
	CHECK_STR(row_field(&d, "external_id"), "CA9f8e7d6c5b4a", "Call.Sid is the external id");
	CHECK_STR(row_field(&d, "event_time"), "2024-05-01T10:00:05.000000Z", "event time: start + duration");
	CHECK_STR(col(&d, "status"), "completed", "ANSWERED is completed");
	CHECK_STR(col(&d, "answered"), "true", "ANSWERED is answered");
	CHECK_STR(col(&d, "direction"), "inbound", "inbound");
	CHECK_STR(col(&d, "caller_number"), "+61412345678", "Call.From");
	CHECK_STR(col(&d, "caller_number_e164"), "+61412345678", "Call.From E.164");
	CHECK_STR(col(&d, "caller_country"), "Australia", "Call.From.Country");
	CHECK_STR(col(&d, "caller_state"), "NSW", "Call.From.Region");
	CHECK_STR(col(&d, "caller_city"), "Sydney", "Call.From.City");
	CHECK_STR(col(&d, "tracking_number_e164"), "+61291234567", "Call.To");
	CHECK_STR(col(&d, "tracker_name"), "Google Ads Pool", "Call.To.Name");
	CHECK_STR(col(&d, "destination_number"), "0298765432", "Call.Endpoint as sent");
	CHECK_STR(col(&d, "destination_number_e164"), "+61298765432", "Call.Endpoint national to E.164 (+61)");
	CHECK_STR(col(&d, "started_at"), "2024-05-01T09:58:00.000000Z", "Call.StartDate is UTC");
	CHECK_STR(col(&d, "duration_s"), "125", "Call.Duration");
	CHECK_STR(col(&d, "recording_url"), "https://rec.fonedynamics.com/CA9f8e7d6c5b4a.mp3",
	    "Call.Recording.Uri");
	CHECK_STR(col(&d, "traffic_source"), "google", "Attribution.Source");
	CHECK_STR(col(&d, "medium"), "cpc", "Attribution.Medium");
	CHECK_STR(col(&d, "campaign"), "2024 promo", "Attribution.Campaign");
	CHECK_STR(col(&d, "utm_content"), "variation 1", "Attribution.Content");
	CHECK_STR(col(&d, "keyword"), "blocked drain", "Session.Keywords");
	CHECK_STR(col(&d, "landing_page"), "https://acmeplumbing.com.au/?gclid=Cj0K", "Session.LandingUri");
	CHECK_STR(col(&d, "gclid"), "Cj0K", "Google.AdWords.ClickId");
	CHECK_STR(data(&d, "Call.Survey.Value"), "450", "survey answers stay in data");
	CHECK_STR(data(&d, "Call.Prompts.Keys"), "1,2000", "prompt keys stay in data");
	CHECK(col(&d, "Call.Survey.Value") == NULL && col(&d, "tracker_external_id") == NULL,
	    "survey fields have no column");
	decoded_clear(&d);

	CHECK(decode_as(BODY_FORM,
		  "Action=Webhook&Event=Call.Complete&Call.Sid=CA2&Call.From=anonymous&"
		  "Call.To=%2B61291234567&Call.StartDate=2024-05-01+10%3A00%3A00&Call.Duration=0&"
		  "Call.Disposition=NO+ANSWER",
		  &d) == CH_OK,
	    "POST form with NO+ANSWER decodes");
	CHECK_STR(col(&d, "status"), "missed", "NO ANSWER is missed");
	CHECK_STR(col(&d, "answered"), "false", "NO ANSWER is not answered");
	CHECK_STR(col(&d, "caller_number"), "anonymous", "anonymous caller kept as sent");
	CHECK(col(&d, "caller_number_e164") == NULL, "anonymous has no E.164");
	CHECK_STR(row_field(&d, "event_time"), "2024-05-01T10:00:00.000000Z", "zero duration: the start time");
	decoded_clear(&d);

	CHECK(decode_as(BODY_QUERY,
		  "Call.Sid=CA3&Call.Disposition=NO%20ANSWER&Call.From=+61412345678&"
		  "Call.To=+61291234567",
		  &d) == CH_OK,
	    "GET with NO%%20ANSWER and unencoded + decodes");
	CHECK_STR(d.event, "Call.Complete", "no Event parameter: Call.Complete");
	CHECK_STR(col(&d, "status"), "missed", "NO%%20ANSWER is missed");
	CHECK_STR(col(&d, "caller_number"), "+61412345678", "an unencoded + is restored");
	CHECK_STR(col(&d, "tracking_number"), "+61291234567", "an unencoded + is restored (Call.To)");
	CHECK_STR(col(&d, "caller_number_e164"), "+61412345678", "E.164 after restoring");
	CHECK(row_field(&d, "event_time") == NULL, "no start date: no event time (the arrival time is used)");
	decoded_clear(&d);
}

static void
dispositions(void)
{
	static const struct {
		const char *disp, *status, *answered;
	} cases[] = {
		{ "IVR", "missed", "false" },
		{ "BUSY", "busy", "false" },
		{ "FAILED", "failed", "false" },
		{ "answered", "completed", "true" },
	};
	struct decoded d;
	char q[128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(q, sizeof(q), "Call.Sid=CA4&Call.Disposition=%s", cases[i].disp);
		CHECK(decode_as(BODY_FORM, q, &d) == CH_OK, "disposition %s decodes", cases[i].disp);
		CHECK_STR(col(&d, "status"), cases[i].status, "disposition %s is %s", cases[i].disp,
		    cases[i].status);
		CHECK_STR(col(&d, "answered"), cases[i].answered, "disposition %s: answered %s",
		    cases[i].disp, cases[i].answered);
		decoded_clear(&d);
	}
	CHECK(decode_as(BODY_FORM, "Call.Sid=CA4&Call.Disposition=TRANSFERRED", &d) == CH_OK &&
		d.outcome == OUT_STORED && col(&d, "status") == NULL && col(&d, "answered") == NULL &&
		!strcmp(data(&d, "Call.Disposition"), "TRANSFERRED"),
	    "an undocumented disposition sets no status and stays in data");
	decoded_clear(&d);
}

static void
json_bodies(void)
{
	struct decoded d;

	CHECK(decode_as(BODY_JSON,
		  "{\"Action\":\"Webhook\",\"Event\":\"Call.Complete\",\"Call.Sid\":\"CA5\","
		  "\"Call.From\":\"+61412345678\",\"Call.From.Country\":\"Australia\",\"Call.To\":\"0291234567\","
		  "\"Call.StartDate\":\"2024-05-01 09:58:00\",\"Call.Duration\":\"125\",\"Call.Disposition\":\"BUSY\","
		  "\"Call.Survey.Value\":450}",
		  &d) == CH_OK,
	    "JSON with flat dotted keys decodes");
	CHECK_STR(row_field(&d, "external_id"), "CA5", "Call.Sid");
	CHECK_STR(col(&d, "status"), "busy", "BUSY is busy");
	CHECK_STR(col(&d, "caller_country"), "Australia", "Call.From.Country, whole dotted key");
	CHECK_STR(col(&d, "tracking_number_e164"), "+61291234567", "national number with +61");
	CHECK_STR(col(&d, "duration_s"), "125", "string duration");
	CHECK_STR(row_field(&d, "event_time"), "2024-05-01T10:00:05.000000Z", "start + duration");
	decoded_clear(&d);

	CHECK(decode_as(BODY_JSON,
		  "{\"Event\":\"Call.Complete\",\"Call\":{\"Sid\":\"CA6\",\"From\":\"+61412345678\","
		  "\"To\":\"+61291234567\",\"StartDate\":\"2024-05-01 09:58:00\",\"Duration\":30,\"Disposition\":\"FAILED\","
		  "\"Recording\":{\"Uri\":\"https://rec.example/6.mp3\"}},\"Attribution\":{\"Source\":\"bing\"}}",
		  &d) == CH_OK,
	    "JSON with nested objects decodes");
	CHECK_STR(row_field(&d, "external_id"), "CA6", "Call.Sid as a path");
	CHECK_STR(col(&d, "status"), "failed", "FAILED is failed");
	CHECK_STR(col(&d, "recording_url"), "https://rec.example/6.mp3", "Call.Recording.Uri as a path");
	CHECK_STR(col(&d, "traffic_source"), "bing", "Attribution.Source as a path");
	CHECK_STR(col(&d, "caller_number"), "+61412345678", "Call.From as a path");
	decoded_clear(&d);
}

static void
bad_and_unknown(void)
{
	struct decoded d;

	CHECK(decode_as(BODY_QUERY, "Action=Webhook&Event=Call.Start&Call.Sid=CA7", &d) == CH_OK &&
		d.outcome == OUT_IGNORED && d.rows == NULL && d.event && !strcmp(d.event, "Call.Start"),
	    "another event is ignored under its own name");
	decoded_clear(&d);
	CHECK(decode_as(BODY_QUERY, "Event=Call.Complete&Call.From=%2B61412345678", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"Call.Sid\""),
	    "no Call.Sid is rejected naming it: %s", d.error);
	decoded_clear(&d);
	CHECK(decode_as(BODY_FORM, "Call.Sid=CA8&Call.Duration=2+minutes", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"Call.Duration\""),
	    "a non-numeric duration is rejected naming it: %s", d.error);
	decoded_clear(&d);
	CHECK(decode_as(BODY_FORM, "Call.Sid=CA8&Call.StartDate=01%2F05%2F2024", &d) == CH_ERR_BAD_BODY &&
		strstr(d.error, "\"Call.StartDate\""),
	    "a bad start date is rejected naming it: %s", d.error);
	decoded_clear(&d);
	CHECK(decode_as(BODY_QUERY, "Call.Sid=CA8&Call.From=%2B61412345678&Call.From=%2B61400000000", &d) ==
		    CH_ERR_BAD_BODY &&
		strstr(d.error, "\"Call.From\""),
	    "a repeated Call.From is rejected: %s", d.error);
	decoded_clear(&d);
	CHECK(decode_as(BODY_JSON, "[\"Call.Complete\"]", &d) == CH_ERR_BAD_BODY, "a JSON array is rejected");
	decoded_clear(&d);
}

void test_fonedynamics(void);

void
test_fonedynamics(void)
{
	query_and_form();
	dispositions();
	json_bodies();
	bad_and_unknown();
}
