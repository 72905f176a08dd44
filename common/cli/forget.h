/* callhook forget: erase every trace of one caller's phone number. */
#ifndef CALLHOOK_FORGET_H
#define CALLHOOK_FORGET_H

#include <stdbool.h>
#include <stddef.h>
#include "core/conf.h"
#include "core/err.h"

/*
 * Normalizes the NUMBER argument to E.164 (out, 17 bytes) with the project's
 * normalizer and the default country code of each configured source's vendor
 * (of every vendor when there is no source). A national number must give the
 * same E.164 form under every one of them. CH_OK, or CH_ERR_BAD_REQUEST with
 * `why` saying what is wrong.
 */
enum ch_err forget_normalize(const struct config *cfg, const char *arg, char out[17], char *why,
    size_t whylen) MUSTCHECK;

/*
 * The spellings `e164` may have arrived in: itself, its digits, with 00, the
 * national formats of NANP (+1) and Australian (+61) numbers (7705555555,
 * 770-555-5555, (770) 555-5555, 0412 345 678, ...), and each of those
 * percent- and form-encoded, with and without its parentheses encoded. A new NULL-terminated array of new strings
 * without repeats (free with forget_formats_free()); NULL when out of memory.
 */
char **forget_formats(const char *e164) MUSTCHECK;
void forget_formats_free(char **formats);

/*
 * True when buf[0..len) holds one of `formats` neither preceded nor followed
 * by a digit (so 7705555555 is not found inside 27705555555). Borrows all.
 */
bool forget_match(const char *buf, size_t len, char *const *formats);

/* Runs "callhook forget NUMBER [--dry-run]"; argv[0] is "forget". Returns the exit status. */
int forget_main(const struct config *cfg, int argc, char **argv);

#endif
