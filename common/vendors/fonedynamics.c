/*
 * Fone Dynamics (Australia): one event, Call.Complete, as GET query parameters or a POST
 * form with dotted names such as "Call.From.Country" (common/vendors/VENDORS.md, "fonedynamics: transport and
 * events"). JSON, undocumented, is read with flat dotted keys or nested.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vendors/vendor.h"

#define FD_EVENT "Call.Complete"
#define CC (vendor_fonedynamics.default_cc)

/* Call Parameters, Attribution, Session and Integration Parameters → calls */
static const struct field_map call_fields[] = {
	{ "Call.From", "caller_number", conv_text, F_E164 }, /* may be "anonymous": no E.164 */
	{ "Call.From.Country", "caller_country", conv_text, 0 },
	{ "Call.From.Region", "caller_state", conv_text, 0 },
	{ "Call.From.City", "caller_city", conv_text, 0 },
	{ "Call.To", "tracking_number", conv_text, F_E164 },
	{ "Call.To.Name", "tracker_name", conv_text, 0 },
	{ "Call.Endpoint", "destination_number", conv_text, F_E164 },
	{ "Call.StartDate", "started_at", conv_time, 0 }, /* UTC "yyyy-MM-dd HH:mm:ss" */
	{ "Call.Duration", "duration_s", conv_int, 0 },
	{ "Call.Recording.Uri", "recording_url", conv_text, 0 },
	{ "Attribution.Source", "traffic_source", conv_text, 0 },
	{ "Attribution.Medium", "medium", conv_text, 0 },
	{ "Attribution.Campaign", "campaign", conv_text, 0 },
	{ "Attribution.Content", "utm_content", conv_text, 0 },
	{ "Session.Keywords", "keyword", conv_text, 0 },
	{ "Session.LandingUri", "landing_page", conv_text, 0 },
	{ "Google.AdWords.ClickId", "gclid", conv_text, 0 },
	{ NULL, NULL, NULL, 0 },
};

/* Call.Disposition → calls.status (common/vendors/VENDORS.md, "fonedynamics: dispositions"); any case. */
static const struct {
	const char *disposition;
	const char *status;
	bool answered;
} dispositions[] = {
	{ "ANSWERED", "completed", true },
	{ "NO ANSWER", "missed", false }, /* with a space; the query/form parser decodes + and %20 */
	{ "IVR", "missed", false },
	{ "BUSY", "busy", false },
	{ "FAILED", "failed", false },
};

/*
 * Status and answered from Call.Disposition. A value the docs do not list sets neither
 * (it stays in data) rather than rejecting the call.
 */
static void
disposition(struct json_object *doc, struct json_object *cols)
{
	const char *disp = json_find_text(doc, "Call.Disposition");
	size_t i;

	for (i = 0; disp != NULL && i < sizeof(dispositions) / sizeof(dispositions[0]); i++) {
		if (strcasecmp(disp, dispositions[i].disposition))
			continue;
		cols_set_str(cols, "status", dispositions[i].status);
		json_object_object_add(cols, "answered", json_object_new_boolean(dispositions[i].answered));
		return;
	}
}

/*
 * A form or query value "+61…" sent without percent-encoding arrives as " 61…" ('+' decodes
 * to a space): give the number its '+' back. The E.164 column is right either way.
 */
static void
restore_plus(struct json_object *cols, const char *column)
{
	struct json_object *v;
	const char *s;
	char *fixed;

	if (!json_object_object_get_ex(cols, column, &v) || !json_object_is_type(v, json_type_string))
		return;
	s = json_object_get_string(v);
	if (s[0] != ' ' || s[1] < '0' || s[1] > '9' || (fixed = strdup(s)) == NULL)
		return;
	fixed[0] = '+';
	json_object_object_add(cols, column, json_object_new_string(fixed));
	free(fixed);
}

/*
 * The event time: when Call.Complete fired, that is Call.StartDate plus Call.Duration (or
 * the start alone without a duration). Adds "event_time" to row; none without a start date.
 */
static void
set_event_time(struct json_object *row)
{
	struct json_object *cols = row_cols(row), *start, *dur;
	int64_t usec, secs = 0;
	char buf[32];

	if (!json_object_object_get_ex(cols, "started_at", &start) ||
	    conv_parse_time(json_object_get_string(start), &usec) != 0)
		return;
	if (json_object_object_get_ex(cols, "duration_s", &dur) && json_object_get_int64(dur) > 0)
		secs = json_object_get_int64(dur);
	conv_format_time(usec + secs * INT64_C(1000000), buf);
	row_set_event_time(row, buf);
}

static enum ch_err
fd_decode(const struct delivery_in *in, struct decoded *d)
{
	struct json_object *row, *cols;
	const char *event, *sid;
	enum ch_err err;

	if (!json_object_is_type(in->doc, json_type_object))
		return bad_body(d, "body: expected a JSON object");
	if ((event = json_find_text(in->doc, "Event")) == NULL)
		event = FD_EVENT;
	if ((d->event = strdup(event)) == NULL)
		return CH_ERR_NOMEM;
	if (strcmp(event, FD_EVENT)) {
		d->outcome = OUT_IGNORED;
		return CH_OK;
	}
	if ((sid = json_find_text(in->doc, "Call.Sid")) == NULL)
		return bad_body(d, "field \"Call.Sid\": missing");
	/* data: every parameter, survey and prompt answers included (they have no column). */
	row = row_new("calls", sid, NULL, false, in->doc);
	rows_add(d, row);
	cols = row_cols(row);
	if ((err = map_fields(in->doc, call_fields, "", CC, cols, d)) != CH_OK)
		return err;
	if (in->body_kind != BODY_JSON) {
		restore_plus(cols, "caller_number");
		restore_plus(cols, "tracking_number");
		restore_plus(cols, "destination_number");
	}
	cols_set_str(cols, "direction", "inbound");
	disposition(in->doc, cols);
	set_event_time(row);
	d->outcome = OUT_STORED;
	return CH_OK;
}

const struct vendor vendor_fonedynamics = {
	.name = "fonedynamics",
	.methods = M_GET | M_POST,
	.bodies = BODY_QUERY | BODY_FORM | BODY_JSON,
	.path_events = NULL,
	.event_required = false,
	.default_cc = "61",
	.decode = fd_decode,
};
