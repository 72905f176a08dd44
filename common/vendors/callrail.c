/*
 * CallRail: the call object (six call events), text messages and form submissions. The body
 * never names the event: the URL does (common/vendors/VENDORS.md, "callrail: transport and events").
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vendors/vendor.h"

#define FORM_DATA_DEPTH 32 /* nesting limit when re-parsing one form_data value */
#define CC (vendor_callrail.default_cc)

/* Call columns every call event carries; legacy names follow the current ones as fallbacks. */
static const struct field_map call_fields[] = {
	{ "customer_phone_number", "caller_number", conv_text, F_E164 },
	{ "callernum", "caller_number", conv_text, F_E164 },
	{ "customer_name", "caller_name", conv_text, 0 },
	{ "callername", "caller_name", conv_text, 0 },
	{ "customer_city", "caller_city", conv_text, 0 },
	{ "callercity", "caller_city", conv_text, 0 },
	{ "customer_state", "caller_state", conv_text, 0 },
	{ "callerstate", "caller_state", conv_text, 0 },
	{ "customer_country", "caller_country", conv_text, 0 },
	{ "callercountry", "caller_country", conv_text, 0 },
	{ "tracking_phone_number", "tracking_number", conv_text, F_E164 },
	{ "trackingnum", "tracking_number", conv_text, F_E164 },
	{ "business_phone_number", "destination_number", conv_text, F_E164 },
	{ "destinationnum", "destination_number", conv_text, F_E164 },
	{ "start_time", "started_at", conv_time, 0 },
	{ "datetime", "started_at", conv_time, 0 }, /* legacy, UTC "YYYY-MM-DD HH:MM:SS" */
	{ "recording", "recording_url", conv_text, 0 },
	{ "recording_duration", "recording_duration_s", conv_int, 0 },
	{ "call_summary", "summary", conv_text, 0 },
	{ "note", "note", conv_text, 0 },
	{ "value", "value", conv_numeric, 0 },
	{ "lead_status", "lead_status", conv_text, 0 },
	{ "spam", "spam", conv_bool, 0 },
	{ "first_call", "first_time", conv_bool, 0 },
	{ "tracker_resource_id", "tracker_external_id", conv_text, 0 },
	{ "tracker_id", "tracker_external_id", conv_text, 0 },
	{ NULL, NULL, NULL, 0 },
};

/* Outcome columns: placeholders at pre-call and routing complete, so only read afterwards. */
static const struct field_map outcome_fields[] = {
	{ "answered", "answered", conv_bool, 0 },
	{ "duration", "duration_s", conv_int, 0 },
	{ NULL, NULL, NULL, 0 },
};

/* Attribution, shared by calls and form submissions. */
static const struct field_map attribution_fields[] = {
	{ "source", "traffic_source", conv_text, 0 },
	{ "source_name", "traffic_source", conv_text, 0 },
	{ "medium", "medium", conv_text, 0 },
	{ "campaign", "campaign", conv_text, 0 },
	{ "keywords", "keyword", conv_text, 0 },
	{ NULL, NULL, NULL, 0 },
};

/* Where the visitor came from and landed: calls and forms name the referrer differently. */
static const struct field_map page_fields[] = {
	{ "referring_url", "referrer", conv_text, 0 },
	{ "referrer", "referrer", conv_text, 0 },
	{ "landing_page_url", "landing_page", conv_text, 0 },
	{ NULL, NULL, NULL, 0 },
};

static enum conv_res conv_transcript(struct json_object *, struct json_object **, const char **);
static enum conv_res conv_tags(struct json_object *, struct json_object **, const char **);
static enum conv_res conv_media(struct json_object *, struct json_object **, const char **);
static enum conv_res conv_agent(struct json_object *, struct json_object **, const char **);

/* Transcript and tags need their own converters. */
static const struct field_map call_text_fields[] = {
	{ "transcription", "transcript", conv_text, 0 },
	{ "conversational_transcript", "transcript", conv_transcript, 0 },
	{ "tags", "tags", conv_tags, 0 },
	{ NULL, NULL, NULL, 0 },
};

/* text_message_received / text_message_sent → messages */
static const struct field_map message_fields[] = {
	{ "source_number", "from_number", conv_text, F_E164 },
	{ "destination_number", "to_number", conv_text, F_E164 }, /* docs sample: "770-555-5555" */
	{ "content", "body", conv_text, 0 },
	{ "message_type", "message_type", conv_text, 0 },
	{ "media_urls", "media_urls", conv_media, 0 },
	{ "timestamp", "sent_at", conv_time, 0 },
	{ "conversation_id", "conversation_id", conv_text, 0 }, /* thread_resource_id stays in data */
	{ "tracker_resource_id", "tracker_external_id", conv_text, 0 },
	{ "tracker_id", "tracker_external_id", conv_text, 0 },
	{ NULL, NULL, NULL, 0 },
};

static const struct field_map sent_fields[] = {
	{ "agent", "agent", conv_agent, 0 },
	{ NULL, NULL, NULL, 0 },
};

/* form_submission → form_submissions (form_data is read from the raw body, below) */
static const struct field_map form_fields[] = {
	{ "form_url", "form_url", conv_text, 0 },
	{ "submitted_at", "submitted_at", conv_time, 0 },
	{ "first_form", "first_time", conv_bool, 0 },
	{ NULL, NULL, NULL, 0 },
};

enum cr_kind { CR_CALL, CR_MESSAGE, CR_FORM };
enum cr_status { ST_NONE, ST_RINGING, ST_OUTCOME };

struct cr_event {
	const char *name;
	enum cr_kind kind;
	const char *direction; /* when the body does not say */
	enum cr_status status;
	bool modified; /* "changes" also become a call_events row; the outcome is stamped older */
};

static const struct cr_event cr_events[] = {
	{ "pre_call", CR_CALL, "inbound", ST_RINGING, false },
	{ "call_routing_complete", CR_CALL, "inbound", ST_RINGING, false },
	{ "post_call", CR_CALL, "inbound", ST_OUTCOME, false },
	{ "call_modified", CR_CALL, "inbound", ST_OUTCOME, true },
	{ "outbound_post_call", CR_CALL, "outbound", ST_OUTCOME, false },
	{ "outbound_call_modified", CR_CALL, "outbound", ST_OUTCOME, true },
	{ "text_message_received", CR_MESSAGE, "inbound", ST_NONE, false },
	{ "text_message_sent", CR_MESSAGE, "outbound", ST_NONE, false },
	{ "form_submission", CR_FORM, NULL, ST_NONE, false },
	{ NULL, CR_CALL, NULL, ST_NONE, false },
};

/* clang-format off */
static const char *const cr_path_events[] = {
	"pre_call", "call_routing_complete", "post_call", "call_modified", "outbound_post_call",
	"outbound_call_modified", "text_message_received", "text_message_sent", "form_submission",
	NULL,
};
/* clang-format on */

static const struct cr_event *
find_event(const char *name)
{
	const struct cr_event *ev;

	for (ev = cr_events; name != NULL && ev->name != NULL; ev++)
		if (!strcmp(ev->name, name))
			return ev;
	return NULL;
}

/* --- converters for CallRail's own shapes ------------------------------------------------- */

/* One transcript turn as a line: "speaker: phrase", or the phrase alone; false if not a turn. */
static bool
put_turn(FILE *f, struct json_object *turn)
{
	const char *speaker, *phrase;

	if (json_object_is_type(turn, json_type_string)) {
		fprintf(f, "%s\n", json_object_get_string(turn));
		return true;
	}
	if ((phrase = json_find_text(turn, "phrase")) == NULL && (phrase = json_find_text(turn, "text")) == NULL)
		return false;
	if ((speaker = json_find_text(turn, "speaker")) != NULL)
		fprintf(f, "%s: %s\n", speaker, phrase);
	else
		fprintf(f, "%s\n", phrase);
	return true;
}

/* The turns of `turns` as text lines (new string, free()), or NULL when one is not a turn. */
static char *
render_turns(struct json_object *turns)
{
	char *text = NULL;
	size_t len = 0, i;
	bool ok = true;
	FILE *f;

	if ((f = open_memstream(&text, &len)) == NULL)
		return NULL;
	for (i = 0; ok && i < json_object_array_length(turns); i++)
		ok = put_turn(f, json_object_array_get_idx(turns, i));
	if (fclose(f) != 0 || !ok) {
		free(text);
		return NULL;
	}
	if (len > 0 && text[len - 1] == '\n')
		text[len - 1] = '\0';
	return text;
}

/*
 * conversational_transcript (can be hundreds of KB): text as sent; a list of turns
 * [{speaker, phrase}] (or {"sentences": [...]}) becomes "speaker: phrase" lines; any other
 * object or list is kept as its JSON text.
 */
static enum conv_res
conv_transcript(struct json_object *in, struct json_object **out, const char **why)
{
	struct json_object *turns = in, *v;
	char *text;

	if (json_object_is_type(in, json_type_object) &&
	    json_object_is_type(json_find(in, "sentences"), json_type_array))
		turns = json_find(in, "sentences");
	if (json_object_is_type(turns, json_type_array) && json_object_array_length(turns) == 0)
		return CONV_ABSENT;
	if (json_object_is_type(in, json_type_object) && json_object_object_length(in) == 0)
		return CONV_ABSENT;
	if (!json_object_is_type(in, json_type_object) && !json_object_is_type(in, json_type_array))
		return conv_text(in, out, why);
	text = json_object_is_type(turns, json_type_array) ? render_turns(turns) : NULL;
	v = text != NULL ? json_object_new_string(text) :
			   json_object_new_string(json_object_to_json_string_ext(in, JSON_OUT));
	free(text);
	if (v == NULL) {
		*why = "out of memory";
		return CONV_BAD;
	}
	*out = v;
	return CONV_OK;
}

/* tags: a list of strings, or of tag objects {"name": …, "color": …}; null is absent. */
static enum conv_res
conv_tags(struct json_object *in, struct json_object **out, const char **why)
{
	struct json_object *names, *t;
	enum conv_res r;
	size_t i;

	if (!json_object_is_type(in, json_type_array))
		return conv_text_array(in, out, why);
	if ((names = json_object_new_array()) == NULL) {
		*why = "out of memory";
		return CONV_BAD;
	}
	for (i = 0; i < json_object_array_length(in); i++) {
		t = json_object_array_get_idx(in, i);
		if (json_object_is_type(t, json_type_object))
			t = json_find(t, "name");
		json_object_array_add(names, json_object_get(t));
	}
	r = conv_text_array(names, out, why);
	json_object_put(names);
	return r;
}

/* media_urls: a list (or object) as JSON; a lone URL string becomes a list of one. */
static enum conv_res
conv_media(struct json_object *in, struct json_object **out, const char **why)
{
	struct json_object *url, *list;

	if (!json_object_is_type(in, json_type_string) || conv_is_absent(in))
		return conv_json(in, out, why);
	if (conv_text(in, &url, why) != CONV_OK)
		return CONV_BAD;
	if ((list = json_object_new_array()) == NULL) {
		json_object_put(url);
		*why = "out of memory";
		return CONV_BAD;
	}
	json_object_array_add(list, url);
	*out = list;
	return CONV_OK;
}

/* agent: a name, or a user object whose name (or email) is taken. */
static enum conv_res
conv_agent(struct json_object *in, struct json_object **out, const char **why)
{
	if (json_object_is_type(in, json_type_object))
		in = json_find(in, "name") != NULL ? json_find(in, "name") : json_find(in, "email");
	return conv_text(in, out, why);
}

/* --- form_data with duplicate keys --------------------------------------------------------- */

/*
 * common/vendors/VENDORS.md, "callrail: form submissions" (observed): a real form submission has
 * "phone_number" twice inside form_data.
 * json-c keeps only the last value of a repeated key, so form_data is read again from the raw
 * body. The body has already parsed as strict JSON, so this scanner only has to find the spans
 * of keys and values; each span is then parsed with json-c.
 */

/* One "key": value of an object, as spans of the raw text. */
struct member {
	const char *key, *val;
	size_t keylen, vallen;
};

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p points at '"': returns the byte after the closing quote, or NULL. */
static const char *
skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (end - p < 2)
				return NULL;
			p++;
		} else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Returns the byte after the JSON value at p, or NULL; containers by bracket depth. */
static const char *
skip_value(const char *p, const char *end)
{
	const char *start = p;
	size_t depth = 0;

	if (p < end && *p == '"')
		return skip_string(p, end);
	if (p < end && (*p == '{' || *p == '[')) {
		while (p < end) {
			if (*p == '"') {
				if ((p = skip_string(p, end)) == NULL)
					return NULL;
				continue;
			}
			if (*p == '{' || *p == '[')
				depth++;
			else if ((*p == '}' || *p == ']') && --depth == 0)
				return p + 1;
			p++;
		}
		return NULL;
	}
	while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' && *p != '\n' &&
	    *p != '\r')
		p++;
	return p > start ? p : NULL;
}

/*
 * Reads the next member of the object being scanned at *pp (just after '{' or after the
 * previous member) and advances *pp. Returns 1 with m filled, 0 after the closing '}',
 * -1 on malformed text.
 */
static int
next_member(const char **pp, const char *end, struct member *m)
{
	const char *p = skip_ws(*pp, end);

	if (p < end && *p == ',')
		p = skip_ws(p + 1, end);
	if (p < end && *p == '}') {
		*pp = p + 1;
		return 0;
	}
	if (p >= end || *p != '"')
		return -1;
	m->key = p;
	if ((p = skip_string(p, end)) == NULL)
		return -1;
	m->keylen = (size_t)(p - m->key);
	p = skip_ws(p, end);
	if (p >= end || *p != ':')
		return -1;
	m->val = p = skip_ws(p + 1, end);
	if ((p = skip_value(p, end)) == NULL)
		return -1;
	m->vallen = (size_t)(p - m->val);
	*pp = p;
	return 1;
}

/*
 * Parses the JSON text s[0..n) into *out (a new value, or NULL for JSON null).
 * Returns 0, or -1 when the span is not exactly one JSON value.
 */
static int
parse_span(const char *s, size_t n, struct json_object **out)
{
	struct json_tokener *tok = NULL;
	char *buf = NULL;
	int rc = -1;

	*out = NULL;
	if (n >= INT_MAX || (buf = strndup(s, n)) == NULL || strlen(buf) != n ||
	    (tok = json_tokener_new_ex(FORM_DATA_DEPTH)) == NULL)
		goto out;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	*out = json_tokener_parse_ex(tok, buf, (int)n + 1); /* the NUL ends a number */
	if (json_tokener_get_error(tok) == json_tokener_success && json_tokener_get_parse_end(tok) == n)
		rc = 0;
	else {
		json_object_put(*out);
		*out = NULL;
	}
out:
	if (tok != NULL)
		json_tokener_free(tok);
	free(buf);
	return rc;
}

/* Does member m's key (as decoded) equal `key`? */
static bool
key_is(const struct member *m, const char *key)
{
	struct json_object *k;
	bool same;

	if (memchr(m->key, '\\', m->keylen) == NULL)
		return m->keylen == strlen(key) + 2 && !memcmp(m->key + 1, key, m->keylen - 2);
	if (parse_span(m->key, m->keylen, &k) == -1)
		return false;
	same = json_object_is_type(k, json_type_string) && !strcmp(json_object_get_string(k), key);
	json_object_put(k);
	return same;
}

/*
 * Adds value v (its reference moves to obj) under key. A key seen before collects all its
 * values in an array, in order; `multi` remembers which keys hold such collected arrays.
 */
static int
add_member(struct json_object *obj, struct json_object *multi, const char *key, struct json_object *v)
{
	struct json_object *old, *arr;

	if (!json_object_object_get_ex(obj, key, &old))
		return json_object_object_add(obj, key, v);
	if (json_object_object_get_ex(multi, key, NULL))
		return json_object_array_add(old, v);
	if ((arr = json_object_new_array()) == NULL) {
		json_object_put(v);
		return -1;
	}
	json_object_array_add(arr, json_object_get(old));
	json_object_array_add(arr, v);
	json_object_object_add(multi, key, NULL);
	return json_object_object_add(obj, key, arr); /* drops obj's reference to old */
}

/* The object whose text is p..end (p at '{') as a new object keeping repeated keys; or NULL. */
static struct json_object *
collect_members(const char *p, const char *end)
{
	struct json_object *obj = json_object_new_object(), *multi = json_object_new_object();
	struct json_object *k, *v;
	struct member m;
	int r = -1;

	p++;
	while (obj != NULL && multi != NULL && (r = next_member(&p, end, &m)) == 1) {
		if (parse_span(m.key, m.keylen, &k) == -1 || !json_object_is_type(k, json_type_string) ||
		    parse_span(m.val, m.vallen, &v) == -1) {
			json_object_put(k);
			r = -1;
			break;
		}
		r = add_member(obj, multi, json_object_get_string(k), v);
		json_object_put(k);
		if (r != 0)
			break;
	}
	json_object_put(multi);
	if (r != 0) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

/*
 * The top-level "form_data" object of the raw JSON body s[0..len) as a new object in which a
 * repeated key maps to the array of all its values in order. NULL when form_data is absent
 * or not an object, or the text cannot be read (the last form_data wins, as in json-c).
 */
static struct json_object *
scan_form_data(const char *s, size_t len)
{
	const char *p, *end = s + len, *found = NULL;
	struct member m;
	size_t foundlen = 0;
	int r;

	if (s == NULL)
		return NULL;
	p = skip_ws(s, end);
	if (p >= end || *p != '{')
		return NULL;
	p++;
	while ((r = next_member(&p, end, &m)) == 1) {
		if (!key_is(&m, "form_data"))
			continue;
		found = m.val[0] == '{' ? m.val : NULL;
		foundlen = m.vallen;
	}
	if (r < 0 || found == NULL)
		return NULL;
	return collect_members(found, found + foundlen);
}

/* --- rows ---------------------------------------------------------------------------------- */

/* The resource_id, falling back to the legacy numeric id; bad_body when neither is there. */
static enum ch_err
cr_id(struct json_object *doc, const char **id, struct decoded *d)
{
	if ((*id = json_find_text(doc, "resource_id")) == NULL && (*id = json_find_text(doc, "id")) == NULL)
		return bad_body(d, "field \"resource_id\": missing (and no legacy \"id\")");
	return CH_OK;
}

/* A boolean field: 1, 0, or -1 when absent; bad_body names the field when it is no boolean. */
static enum ch_err
bool_field(struct json_object *doc, const char *key, int *val, struct decoded *d)
{
	struct json_object *v = NULL;
	const char *why = "expected a boolean";

	*val = -1;
	switch (conv_bool(json_find(doc, key), &v, &why)) {
	case CONV_ABSENT: return CH_OK;
	case CONV_BAD: return bad_body(d, "field \"%s\": %s", key, why);
	case CONV_OK: break;
	}
	*val = json_object_get_boolean(v);
	json_object_put(v);
	return CH_OK;
}

/*
 * The outcome of a post-call or a modification: completed when answered, voicemail
 * when `voicemail`, else missed. Without `answered`, call_type "answered"/"voicemail" decides; call_type is never
 * read at pre-call, where it is a placeholder (common/vendors/VENDORS.md, "callrail: call fields").
 */
static enum ch_err
call_outcome(struct json_object *doc, struct json_object *cols, struct decoded *d)
{
	struct json_object *a = NULL;
	const char *type = json_find_text(doc, "call_type");
	int answered = -1, voicemail;
	enum ch_err err;

	if (json_object_object_get_ex(cols, "answered", &a))
		answered = json_object_get_boolean(a);
	if ((err = bool_field(doc, "voicemail", &voicemail, d)) != CH_OK)
		return err;
	if (answered == 1 || (answered == -1 && type != NULL && !strcmp(type, "answered")))
		cols_set_str(cols, "status", "completed");
	else if (voicemail == 1 || (answered == -1 && type != NULL && !strcmp(type, "voicemail")))
		cols_set_str(cols, "status", "voicemail");
	else
		cols_set_str(cols, "status", "missed");
	return CH_OK;
}

/* direction as sent when it is inbound or outbound, else the event's. */
static void
set_direction(const struct cr_event *ev, struct json_object *doc, struct json_object *cols)
{
	const char *dir = json_find_text(doc, "direction");

	if (dir == NULL || (strcmp(dir, "inbound") && strcmp(dir, "outbound")))
		dir = ev->direction;
	cols_set_str(cols, "direction", dir);
}

/*
 * call_modified / outbound_call_modified: one call_events row per delivery, detail
 * {"changes": [...]}. Its id is made unique by the arrival time (CallRail has no delivery id).
 */
static enum ch_err
modified_event(const struct cr_event *ev, const struct delivery_in *in, const char *call_id, const char *when,
    struct decoded *d)
{
	struct json_object *row, *cols, *changes = NULL, *detail;
	const char *why = "expected a list of strings";
	char *ext;

	if (conv_text_array(json_find(in->doc, "changes"), &changes, &why) == CONV_BAD)
		return bad_body(d, "field \"changes\": %s", why);
	if (asprintf(&ext, "%s:%s:%lld", call_id, ev->name, (long long)in->received_usec) < 0) {
		json_object_put(changes);
		return CH_ERR_NOMEM;
	}
	row = row_new("call_events", ext, when, false, NULL);
	free(ext);
	row_insert_only(row);
	cols = row_cols(row);
	cols_set_str(cols, "call_external_id", call_id);
	cols_set_str(cols, "event", ev->name);
	cols_set_str(cols, "occurred_at", when);
	if (changes != NULL) {
		detail = json_object_new_object();
		json_object_object_add(detail, "changes", changes);
		json_object_object_add(cols, "detail", detail);
	}
	rows_add(d, row);
	return CH_OK;
}

/* The call's start (start_time, else the legacy UTC datetime) in microseconds; false when neither converts. */
static bool
call_start(struct json_object *doc, int64_t *usec)
{
	struct json_object *v = NULL;
	const char *why;
	bool ok;

	ok = (conv_time(json_find(doc, "start_time"), &v, &why) == CONV_OK ||
		 conv_time(json_find(doc, "datetime"), &v, &why) == CONV_OK) &&
	    conv_parse_time(json_object_get_string(v), usec) == 0;
	json_object_put(v);
	return ok;
}

/*
 * The event time of a call event. The call object has no per-event timestamp, so it is
 * derived from the call itself: pre_call at start_time, routing complete just after,
 * post_call at the call's end (start_time + duration), and a modification at its arrival,
 * which is always later. So whatever order they arrive in (call modified can arrive before a
 * post-call delayed by up to 20 minutes: common/vendors/VENDORS.md, "callrail: observed quirks"), a late
 * post-call never overwrites what a modification set, and every order gives the same row. Without a start time, the
 * arrival time is used.
 */
static void
call_time(const struct cr_event *ev, const struct delivery_in *in, char when[32])
{
	struct json_object *dur = NULL;
	const char *why;
	int64_t start, usec = in->received_usec;

	if (!ev->modified && call_start(in->doc, &start)) {
		usec = start + (ev->status == ST_RINGING && strcmp(ev->name, "pre_call") ? 1 : 0);
		if (ev->status == ST_OUTCOME) {
			if (conv_int(json_find(in->doc, "duration"), &dur, &why) == CONV_OK)
				usec += json_object_get_int64(dur) * 1000000;
			usec += 2;
		}
	}
	json_object_put(dur);
	conv_format_time(usec, when);
}

/*
 * The outcome of a modified call as a calls row of its own, stamped at the call's start (the
 * Unix epoch when the body has no start time): CallRail sends call_modified only once the call
 * has ended, so a call known only from a modification gets its terminal status, while any
 * post-call, stamped at the call's end, overrides it whatever the arrival order. Returns the
 * row's cols, borrowed from d->rows.
 */
static struct json_object *
outcome_row(const struct delivery_in *in, const char *id, struct decoded *d)
{
	struct json_object *row;
	int64_t start;
	char when[32];

	conv_format_time(call_start(in->doc, &start) ? start : 0, when);
	row = row_new("calls", id, when, false, NULL);
	rows_add(d, row);
	return row_cols(row);
}

/* A call event → calls row. */
static enum ch_err
decode_call(const struct cr_event *ev, const struct delivery_in *in, struct decoded *d)
{
	struct json_object *row, *cols;
	const char *id;
	char when[32];
	enum ch_err err;

	if ((err = cr_id(in->doc, &id, d)) != CH_OK)
		return err;
	call_time(ev, in, when);
	row = row_new("calls", id, when, false, in->doc);
	rows_add(d, row);
	cols = row_cols(row);
	if ((err = map_fields(in->doc, call_fields, "", CC, cols, d)) != CH_OK ||
	    (err = map_fields(in->doc, call_text_fields, "", CC, cols, d)) != CH_OK ||
	    (err = map_fields(in->doc, attribution_fields, "", CC, cols, d)) != CH_OK ||
	    (err = map_fields(in->doc, utm_click_fields, "", CC, cols, d)) != CH_OK ||
	    (err = map_fields(in->doc, page_fields, "", CC, cols, d)) != CH_OK)
		return err;
	set_direction(ev, in->doc, cols);
	if (ev->status == ST_RINGING) {
		cols_set_str(cols, "status", "ringing");
		return CH_OK;
	}
	if (ev->modified) {
		if ((err = modified_event(ev, in, id, when, d)) != CH_OK)
			return err;
		cols = outcome_row(in, id, d);
	}
	if ((err = map_fields(in->doc, outcome_fields, "", CC, cols, d)) != CH_OK)
		return err;
	return call_outcome(in->doc, cols, d);
}

/* The event's own time field, else the arrival time, into buf. */
static const char *
own_time(const struct delivery_in *in, const char *key, char buf[32], struct decoded *d, enum ch_err *err)
{
	const char *t = event_time(in->doc, key, "", buf, d, err);

	if (t == NULL && *err == CH_OK) {
		conv_format_time(in->received_usec, buf);
		t = buf;
	}
	return t;
}

/* text_message_received / text_message_sent → messages; event time = the message timestamp. */
static enum ch_err
decode_message(const struct cr_event *ev, const struct delivery_in *in, struct decoded *d)
{
	struct json_object *row, *cols;
	const char *id, *t;
	char tbuf[32];
	enum ch_err err;

	if ((err = cr_id(in->doc, &id, d)) != CH_OK)
		return err;
	if ((t = own_time(in, "timestamp", tbuf, d, &err)) == NULL)
		return err;
	row = row_new("messages", id, t, false, in->doc);
	rows_add(d, row);
	cols = row_cols(row);
	if ((err = map_fields(in->doc, message_fields, "", CC, cols, d)) != CH_OK)
		return err;
	if (!strcmp(ev->name, "text_message_sent") &&
	    (err = map_fields(in->doc, sent_fields, "", CC, cols, d)) != CH_OK)
		return err;
	cols_set_str(cols, "direction", ev->direction);
	return CH_OK;
}

/* form_data with repeated keys kept; an absent form_data is fine. */
static enum ch_err
form_data(const struct delivery_in *in, struct json_object *cols, struct decoded *d)
{
	struct json_object *v = scan_form_data(in->body, in->body_len);
	const char *why = "expected an object";

	if (v != NULL && json_object_object_length(v) > 0) {
		json_object_object_add(cols, "form_data", v);
		return CH_OK;
	}
	json_object_put(v);
	v = NULL;
	switch (conv_json(json_find(in->doc, "form_data"), &v, &why)) {
	case CONV_BAD: return bad_body(d, "field \"form_data\": %s", why);
	case CONV_OK: json_object_object_add(cols, "form_data", v); break;
	case CONV_ABSENT: break;
	}
	return CH_OK;
}

/* form_submission → form_submissions; event time = submitted_at. */
static enum ch_err
decode_form(const struct delivery_in *in, struct decoded *d)
{
	struct json_object *row, *cols;
	const char *id, *t;
	char tbuf[32];
	enum ch_err err;

	if ((err = cr_id(in->doc, &id, d)) != CH_OK)
		return err;
	if ((t = own_time(in, "submitted_at", tbuf, d, &err)) == NULL)
		return err;
	row = row_new("form_submissions", id, t, false, in->doc);
	rows_add(d, row);
	cols = row_cols(row);
	if ((err = map_fields(in->doc, form_fields, "", CC, cols, d)) != CH_OK ||
	    (err = map_fields(in->doc, page_fields, "", CC, cols, d)) != CH_OK ||
	    (err = map_fields(in->doc, attribution_fields, "", CC, cols, d)) != CH_OK ||
	    (err = map_fields(in->doc, utm_click_fields, "", CC, cols, d)) != CH_OK)
		return err;
	return form_data(in, cols, d);
}

static enum ch_err
cr_decode(const struct delivery_in *in, struct decoded *d)
{
	const struct cr_event *ev = find_event(in->event);
	enum ch_err err;

	if (in->event != NULL && (d->event = strdup(in->event)) == NULL)
		return CH_ERR_NOMEM;
	/* An event callhook does not decode (Convert Assist complete, whose payload is undocumented,
	 * or one CallRail adds later): kept raw as ignored, whatever its JSON, for a later replay. */
	if (ev == NULL) {
		d->outcome = OUT_IGNORED;
		return CH_OK;
	}
	if (!json_object_is_type(in->doc, json_type_object))
		return bad_body(d, "body: expected a JSON object");
	switch (ev->kind) {
	case CR_CALL: err = decode_call(ev, in, d); break;
	case CR_MESSAGE: err = decode_message(ev, in, d); break;
	default: err = decode_form(in, d); break;
	}
	if (err == CH_OK)
		d->outcome = OUT_STORED;
	return err;
}

/* common/vendors/VENDORS.md, "callrail: form submissions": form_data repeats a field name; every value is kept. */
static const char *const cr_repeat_ok[] = { "form_data", NULL };

const struct vendor vendor_callrail = {
	.name = "callrail",
	.methods = M_POST,
	.bodies = BODY_JSON,
	.path_events = cr_path_events,
	.event_required = true,
	.other_events_ignored = true, /* CallRail never retries: an unknown event is kept */
	.default_cc = "1",
	.repeat_ok = cr_repeat_ok,
	.decode = cr_decode,
};
