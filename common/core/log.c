/*
 * Log lines on stderr: "callhook[pid]: LEVEL: message". Safe from a worker's
 * request threads: each line is formatted on the caller's stack and written
 * with one fprintf(), which stdio locks, so lines never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "core/log.h"

static const char *const level_names[] = { "ERROR", "WARNING", "LOG" };

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "callhook[%d]: %s: %s\n", (int)getpid(), level_names[level], line);
}

void
log_escape(const char *s, char *out, size_t outlen)
{
	size_t o = 0;
	unsigned char c;

	if (outlen == 0)
		return;
	for (; s != NULL && (c = *s) != '\0' && o + 5 < outlen; s++) {
		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			o += snprintf(out + o, outlen - o, "\\x%02x", c);
		else
			out[o++] = c;
	}
	out[o] = '\0';
}
