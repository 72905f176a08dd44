/* Minimal TAP output for unit tests: one "ok"/"not ok" line per check. */
#ifndef CALLHOOK_TAP_H
#define CALLHOOK_TAP_H
#include <stdio.h>
#include <string.h>

extern int tap_count, tap_failed;

/* Evaluates `cond` once. */
#define CHECK(cond, ...) \
	do { \
		int ok_ = !!(cond); \
		tap_count++; \
		if (ok_) { \
			printf("ok %d - ", tap_count); \
		} else { \
			tap_failed++; \
			printf("not ok %d - ", tap_count); \
		} \
		printf(__VA_ARGS__); \
		if (!ok_) \
			printf("  (%s:%d: %s)", __FILE__, __LINE__, #cond); \
		printf("\n"); \
	} while (0)

#define CHECK_STR(got, want, ...) \
	do { \
		const char *g_ = (got), *w_ = (want); \
		int same_ = (g_ == NULL && w_ == NULL) || (g_ && w_ && strcmp(g_, w_) == 0); \
		CHECK(same_, __VA_ARGS__); \
		if (!same_) \
			printf("#   got:  %s\n#   want: %s\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
	} while (0)

#endif
