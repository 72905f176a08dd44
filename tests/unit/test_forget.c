/* Unit tests for common/cli/forget.c: the argument's normalization, the spellings searched, and the match rule. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/forget.h"
#include "tap.h"
#include "vendors/vendor.h"

void test_forget(void);

/* Whether `want` is one of formats. */
static bool
has(char *const *formats, const char *want)
{
	size_t i;

	for (i = 0; formats[i] != NULL; i++)
		if (!strcmp(formats[i], want))
			return true;
	return false;
}

static size_t
count(char *const *formats)
{
	size_t n = 0;

	while (formats[n] != NULL)
		n++;
	return n;
}

/* A config with one source per vendor name given (NULL-terminated), as config_load() would make it. */
static void
config_with(struct config *cfg, struct source *src, const char *const *names)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->path = (char *)"test.conf";
	cfg->sources = src;
	for (i = 0; names[i] != NULL; i++) {
		memset(&src[i], 0, sizeof(src[i]));
		src[i].name = (char *)names[i];
		src[i].vendor = vendor_find(names[i]);
	}
	cfg->nsources = i;
}

static const char *
normalized(const struct config *cfg, const char *arg)
{
	static char out[17 + 160];
	char why[160];

	if (forget_normalize(cfg, arg, out, why, sizeof(why)) != CH_OK)
		snprintf(out, sizeof(out), "bad: %s", why);
	return out;
}

static void
test_normalize(void)
{
	static const char *const us[] = { "callrail", "calltracker", NULL };
	static const char *const both[] = { "callrail", "fonedynamics", NULL };
	struct source src[4];
	struct config cfg;

	config_with(&cfg, src, us);
	CHECK_STR(normalized(&cfg, "770-555-5555"), "+17705555555",
	    "forget: 770-555-5555 is +17705555555 for US sources");
	CHECK_STR(normalized(&cfg, "(770) 555-5555"), "+17705555555", "forget: (770) 555-5555 is +17705555555");
	CHECK_STR(normalized(&cfg, "17705555555"), "+17705555555", "forget: 17705555555 is +17705555555");
	CHECK_STR(normalized(&cfg, "+61 412 345 678"), "+61412345678",
	    "forget: an E.164 number needs no country code");
	CHECK(!strncmp(normalized(&cfg, "salprebox:SALPRE_AABBCCDD"), "bad: not a phone number", 23),
	    "forget: a salprebox: device URI is not a phone number");
	CHECK(!strncmp(normalized(&cfg, "anonymous"), "bad: not a phone number", 23),
	    "forget: anonymous is not a phone number");
	config_with(&cfg, src, both);
	CHECK_STR(normalized(&cfg, "0412 345 678"), "+61412345678",
	    "forget: 0412 345 678 is Australian when an Australian vendor is configured");
	CHECK_STR(normalized(&cfg, "7705555555"), "+17705555555",
	    "forget: 7705555555 is only a NANP number, whatever else is configured");
	config_with(&cfg, src, us + 2);
	CHECK_STR(normalized(&cfg, "0412345678"), "+61412345678",
	    "forget: without sources every vendor's country code is tried");
}

static void
test_formats(void)
{
	char **f = forget_formats("+17705555555");
	/* clang-format off */
	static const char *const want[] = {
		"+17705555555", "17705555555", "7705555555", "770-555-5555", "(770) 555-5555", "770.555.5555",
		"1-770-555-5555", "+1 770-555-5555", "%2B17705555555", "(770)%20555-5555", "770+555+5555",
		"%2B1+(770)+555-5555", "%2B1+%28770%29+555-5555", "%28770%29%20555-5555", "0017705555555", NULL,
	};
	/* clang-format on */
	size_t i;

	if (f == NULL)
		abort();
	for (i = 0; want[i] != NULL; i++)
		CHECK(has(f, want[i]), "forget: +17705555555 is searched as %s", want[i]);
	CHECK(!has(f, "555-5555"), "forget: the subscriber number alone is not searched");
	for (i = 0; f[i] != NULL && strstr(f[i], "770") != NULL; i++)
		;
	CHECK(f[i] == NULL, "forget: every spelling holds the area code");
	forget_formats_free(f);

	f = forget_formats("+61412345678");
	if (f == NULL)
		abort();
	CHECK(has(f, "0412345678") && has(f, "0412 345 678") && has(f, "%2B61412345678") &&
		has(f, "61412345678"),
	    "forget: an Australian mobile is searched nationally and encoded");
	forget_formats_free(f);

	f = forget_formats("+4915112345678");
	if (f == NULL)
		abort();
	CHECK(count(f) == 4 && has(f, "004915112345678") && has(f, "%2B4915112345678"),
	    "forget: another country's number: E.164, digits, 00, and +'s two encodings (%zu)", count(f));
	forget_formats_free(f);
}

static void
test_match(void)
{
	static char *const f[] = { (char *)"7705555555", (char *)"770-555-5555", NULL };
	static const struct {
		const char *buf;
		bool want;
	} cases[] = {
		{ "{\"n\":\"7705555555\"}", true },
		{ "Call.From=%2B17705555555&x", false }, /* preceded by a digit: that spelling is another one */
		{ "n=770-555-5555", true },
		{ "27705555555", false },
		{ "77055555551", false },
		{ "7705555555", true },
		{ "x 27705555555 and 7705555555.", true }, /* the second occurrence counts */
		{ "", false },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(forget_match(cases[i].buf, strlen(cases[i].buf), f) == cases[i].want,
		    "forget: match \"%s\" is %s", cases[i].buf, cases[i].want ? "true" : "false");
}

void
test_forget(void)
{
	test_normalize();
	test_formats();
	test_match();
}
